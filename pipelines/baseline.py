"""Fit a classic detector (``conf/method/``: pca, knn, iforest) on the splits an autoencoder uses,
evaluate and log it the same way: ``python -m pipelines.baseline method=knn [baseline_for=<run id>]``."""

from __future__ import annotations

from autoencoders.util.startup import libraries_loading, run_and_exit

with libraries_loading():
    from omegaconf import DictConfig

    from pipelines import hydra_glue as glue
    from pipelines.stage_keys import followed_config, settle_data_settings


def baseline(cfg: DictConfig) -> dict[str, float]:
    """Fit the method on the training split, evaluate it like an autoencoder, record one MLflow run."""
    with libraries_loading():  # here, not at the top: a sweep's launcher process never fits
        from autoencoders.anomaly.detector import reconstructs
        from autoencoders.stages import (
            DetectorSettings,
            record_detector,
            record_evaluation,
            run_tags,
            trim_training,
        )

    cfg = glue.checked(cfg, "baseline")
    if cfg.baseline_for:
        cfg = followed_config(cfg)
    datamodule = glue.build(cfg.dataset)
    datamodule.prepare_data()
    cfg = settle_data_settings(cfg, datamodule)  # the code size follows a table's width
    settings = DetectorSettings(**cfg.anomaly, register_as=cfg.register_as)
    detector = glue.build(cfg.method).fit(datamodule.splits.train)
    if settings.trim:
        trim_training(datamodule, detector, settings.contamination)
        detector = glue.build(cfg.method).fit(datamodule.splits.train)
    # The group the run joins: a reconstructing detector's own code size, else the model's.
    code_dim = detector.code_dim if reconstructs(detector) else int(cfg.model.code_dim)
    tags = run_tags("baseline", datamodule, detector.name, code_dim)
    if cfg.baseline_for:
        tags["baseline_for"] = cfg.baseline_for
    # The model group is read for its code_dim only, logged under the name every model's runs use.
    opened = glue.stage_run(
        cfg, tags, detector.run_name, skip_params=("model",), extra_params={"model.code_dim": code_dim}
    )
    with opened as (client, experiment_id, run_id):
        evaluation = record_evaluation(client, run_id, detector, datamodule, settings)
        record_detector(cfg.tracking.uri, run_id, detector, datamodule, settings, evaluation)
    glue.print_summary(cfg, experiment_id, run_id, evaluation.metrics)
    return evaluation.metrics


@glue.stage_main("baseline")
def main(cfg: DictConfig) -> float | None:
    with glue.one_line_errors():
        return baseline(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    run_and_exit(main)
