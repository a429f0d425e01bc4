"""The PCA baseline under its own entry point: ``python -m pipelines.pca_baseline``, which is
``pipelines.baseline method=pca`` (config ``conf/pca_baseline.yaml``)."""

from __future__ import annotations

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig

    from pipelines.baseline import baseline
    from pipelines.hydra_glue import CONFIG_DIR, one_line_errors

pca_baseline = baseline  # the stage; the config chooses the method


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="pca_baseline")
def main(cfg: DictConfig) -> float | None:
    with one_line_errors():
        return baseline(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
