"""Fit a classic detector and log it beside the autoencoders: ``python -m pipelines.baseline method=knn``.

``method``: a config of ``conf/method/`` whose ``_target_`` is a detector class
(:mod:`autoencoders.anomaly.detector`): ``pca`` (reconstruction error from ``n_components``
components), ``knn`` (distance to the ``n_neighbors``-th nearest normal training sample) or
``iforest`` (scikit-learn's IsolationForest, seeded by ``seed``). Same dataset group, splits and
evaluation as ``pipelines.train``; tags ``stage=baseline``, ``model=<the detector's name>``, and the
code size whose comparison group the run joins. ``baseline_for=<run id>`` copies that autoencoder
run's dataset settings and code size from its logged config.
"""

from __future__ import annotations

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig, OmegaConf, open_dict

    from autoencoders.errors import ConfigError
    from autoencoders.tracking.runs import logged_config
    from pipelines.common import CONFIG_DIR, build, one_line_errors, settle_data_settings
    from pipelines.job import print_summary, stage_run
    from pipelines.schema import check


def follow_run(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the dataset, code size and experiment of the run named by ``baseline_for``."""
    text, experiment = logged_config(cfg.tracking.uri, cfg.baseline_for, "baseline_for")
    run_cfg = OmegaConf.create(text)
    if "dataset" not in run_cfg or "model" not in run_cfg:
        raise ConfigError(f"baseline_for={cfg.baseline_for}: that run's config has no dataset or model")
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.dataset = run_cfg.dataset
        cfg.model.code_dim = run_cfg.model.code_dim  # PCA's n_components follows it
        cfg.tracking.experiment = experiment
    return cfg


def baseline(cfg: DictConfig) -> dict[str, float]:
    """Fit the method on the training split, evaluate it like an autoencoder, record one MLflow run."""
    with libraries_loading():  # here, not at the top: a sweep's launcher process never fits
        from autoencoders.anomaly.detector import reconstructs
        from autoencoders.stages import DetectorSettings, record_detector, record_evaluation, run_tags

    checked = check(cfg, "baseline")
    if cfg.baseline_for:
        cfg = follow_run(cfg)
        checked = check(cfg, "baseline")  # the followed run's dataset
    datamodule = build(cfg.dataset)
    datamodule.prepare_data()
    cfg = settle_data_settings(cfg, datamodule)  # the code size follows a table's width
    if not checked:
        check(cfg, "baseline")
    detector = build(cfg.method).fit(datamodule.splits.train)
    # The group the run joins: a reconstructing detector's own code size, else the model's.
    code_dim = detector.code_dim if reconstructs(detector) else int(cfg.model.code_dim)
    tags = run_tags("baseline", datamodule, detector.name, code_dim)
    if cfg.baseline_for:
        tags["baseline_for"] = cfg.baseline_for
    # The model group is there for its code_dim only; the code size is logged under the name every
    # model's runs use, model.code_dim.
    opened = stage_run(
        cfg, tags, detector.run_name, skip_params=("model",), extra_params={"model.code_dim": code_dim}
    )
    settings = DetectorSettings(cfg.anomaly.threshold_quantile, cfg.get("register_as"), cfg.anomaly.score)
    with opened as (client, experiment_id, run_id):
        evaluation = record_evaluation(client, run_id, detector, datamodule, settings)
        record_detector(cfg.tracking.uri, run_id, detector, datamodule, settings)
    print_summary(cfg, experiment_id, run_id, evaluation.metrics)
    return evaluation.metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="baseline")
def main(cfg: DictConfig) -> float | None:
    with one_line_errors():
        return baseline(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
