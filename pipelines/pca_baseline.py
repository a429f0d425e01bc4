"""The PCA baseline under its own entry point: ``python -m pipelines.pca_baseline``, which is
``pipelines.baseline method=pca`` (config ``conf/pca_baseline.yaml``)."""

from __future__ import annotations

from autoencoders.util.startup import libraries_loading, run_and_exit

with libraries_loading():
    from omegaconf import DictConfig

    from pipelines import hydra_glue as glue
    from pipelines.baseline import baseline

pca_baseline = baseline  # the stage; the config chooses the method


@glue.stage_main("pca_baseline")
def main(cfg: DictConfig) -> float | None:
    with glue.one_line_errors():
        return baseline(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    run_and_exit(main)
