"""Score a file, or a folder of images, with a trained detector:
``python -m pipelines.score model_uri=<uri> input=<in> output=<out> [keep=[id,label]] [maps=true]``."""

from __future__ import annotations

from pathlib import Path

from autoencoders.util.startup import libraries_loading, run_and_exit

with libraries_loading():
    from omegaconf import DictConfig

    from autoencoders.errors import ConfigError
    from autoencoders.util.files import is_parquet
    from pipelines import hydra_glue as glue


def score(cfg: DictConfig) -> int:
    """Returns the number of rows (images) scored."""
    cfg = glue.checked(cfg, "score")
    paths = (Path(cfg.input), Path(cfg.output))
    if paths[0].is_dir() and not is_parquet(paths[0]):
        check_folder_settings(cfg)
        with libraries_loading():  # the image readers (and Lightning, which they import): folders only
            from autoencoders.deploy.images import score_folder
        folder = (cfg.skip_unreadable, cfg.maps)
        return score_folder(cfg.model_uri, cfg.tracking.uri, paths, int(cfg.batch_size), *folder)
    if cfg.maps:
        raise ConfigError(f"maps=true draws anomaly maps of a folder of images; input={cfg.input} is not one")
    with libraries_loading():
        from autoencoders.deploy.batch import score_file
    return score_file(cfg.model_uri, cfg.tracking.uri, paths, int(cfg.batch_size), list(cfg.keep))


def check_folder_settings(cfg: DictConfig) -> None:
    """A folder's images have no columns to carry along."""
    if cfg.keep:
        raise ConfigError(f"keep: input={cfg.input} is a folder of images; its rows have no columns to keep")


@glue.stage_main("score")
def main(cfg: DictConfig) -> None:
    with glue.one_line_errors():
        score(cfg)


if __name__ == "__main__":
    run_and_exit(main)
