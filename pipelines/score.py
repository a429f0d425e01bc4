"""Score a file with a trained detector:
``python -m pipelines.score model_uri=<uri> input=<in> output=<out> [keep=[id,label]]``."""

from __future__ import annotations

from pathlib import Path

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig

    from pipelines import hydra_glue as glue


def score(cfg: DictConfig) -> int:
    """Returns the number of rows scored."""
    with libraries_loading():
        from autoencoders.deploy.batch import score_file

    cfg = glue.checked(cfg, "score")
    paths = (Path(cfg.input), Path(cfg.output))
    return score_file(cfg.model_uri, cfg.tracking.uri, paths, int(cfg.batch_size), list(cfg.keep))


@hydra.main(version_base="1.3", config_path=glue.CONFIG_DIR, config_name="score")
def main(cfg: DictConfig) -> None:
    with glue.one_line_errors():
        score(cfg)


if __name__ == "__main__":
    main()
