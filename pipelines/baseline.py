"""Fit a classic detector and log it beside the autoencoders: ``python -m pipelines.baseline method=knn``.

``method``: ``pca`` (reconstruction error from ``n_components`` components), ``knn`` (distance to the
k-th nearest normal training sample) or ``iforest`` (scikit-learn's IsolationForest). Same dataset
group, splits and evaluation as ``pipelines.train``; tags ``stage=baseline``, ``model=<method>``, and
the code size whose comparison group the run joins. ``baseline_for=<run id>`` copies that autoencoder
run's dataset settings and code size from its logged config.
"""

from __future__ import annotations

from typing import Any

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig, OmegaConf, open_dict

    from autoencoders.errors import ConfigError
    from autoencoders.tracking.runs import logged_config
    from pipelines.hydra_glue import CONFIG_DIR, build, one_line_errors, print_summary, stage_run
    from pipelines.stage_keys import checked, settle_data_settings

METHODS = ("pca", "knn", "iforest")


def follow_run(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the dataset, code size and experiment of the run named by ``baseline_for``."""
    text, experiment = logged_config(cfg.tracking.uri, cfg.baseline_for, "baseline_for")
    run_cfg = OmegaConf.create(text)
    if "dataset" not in run_cfg or "model" not in run_cfg:
        raise ConfigError(f"baseline_for={cfg.baseline_for}: that run's config has no dataset or model")
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.dataset = run_cfg.dataset
        cfg.n_components = run_cfg.model.code_dim
        cfg.tracking.experiment = experiment
    return cfg


def make_detector(cfg: DictConfig) -> Any:
    """The method's detector, unfitted."""
    from autoencoders.baselines.classic import IsolationForestScorer, KNNScorer
    from autoencoders.baselines.pca import PCABaseline

    if cfg.method == "pca":
        return PCABaseline(int(cfg.n_components))
    if cfg.method == "knn":
        return KNNScorer(int(cfg.knn.k), cfg.knn.pca_components)
    return IsolationForestScorer(int(cfg.iforest.n_estimators), int(cfg.iforest.seed))


def baseline(cfg: DictConfig) -> dict[str, float]:
    """Fit the method on the training split, evaluate it like an autoencoder, record one MLflow run."""
    with libraries_loading():  # here, not at the top: a sweep's launcher process never fits
        from autoencoders.stages import DetectorSettings, record_detector, record_evaluation, run_tags

    cfg = checked(cfg, "baseline")
    if cfg.baseline_for:
        cfg = follow_run(cfg)
    datamodule = build(cfg.dataset)
    datamodule.prepare_data()
    cfg = settle_data_settings(cfg, datamodule)  # n_components follows a table's width
    detector = make_detector(cfg).fit(datamodule.splits.train)
    k = int(cfg.n_components)
    tags = run_tags("baseline", datamodule, cfg.method, k)
    if cfg.baseline_for:
        tags["baseline_for"] = cfg.baseline_for
    names = {"pca": f"pca k={k}", "knn": f"knn k={cfg.knn.k}", "iforest": "iforest"}
    label = {"pca": f"PCA ({k})", "knn": f"kNN (k={cfg.knn.k})", "iforest": "IsolationForest"}[cfg.method]
    # The model group is there for its code_dim only; the code size is logged under the name every
    # model's runs use, model.code_dim.
    opened = stage_run(
        cfg, tags, names[cfg.method], skip_params=("model",), extra_params={"model.code_dim": k}
    )
    settings = DetectorSettings(cfg.anomaly.threshold_quantile, cfg.get("register_as"), cfg.anomaly.score)
    with opened as (client, experiment_id, run_id):
        evaluation = record_evaluation(client, run_id, detector, datamodule, label, settings)
        record_detector(cfg.tracking.uri, run_id, detector, datamodule, evaluation.threshold, settings)
    print_summary(cfg, experiment_id, run_id, evaluation.metrics)
    return evaluation.metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="baseline")
def main(cfg: DictConfig) -> float | None:
    with one_line_errors():
        return baseline(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
