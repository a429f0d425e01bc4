"""Fit the PCA baseline and log it beside the autoencoders: ``python -m pipelines.pca_baseline``.

Same dataset group, same splits, same evaluation and figures as ``pipelines.train``; tags
``stage=pca_baseline``, ``model=pca``. ``baseline_for=<run id>`` copies that autoencoder run's
dataset settings and code size from its logged config.
"""

from __future__ import annotations

import tempfile

import hydra
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict

from autoencoders.errors import ConfigError
from autoencoders.pca import PCABaseline
from autoencoders.recording import evaluate_and_record
from pipelines.common import CONFIG_DIR, build, one_line_errors, pipeline_run, print_summary


def config_of_run(uri: str, run_id: str) -> tuple[DictConfig, str]:
    """The Hydra config an autoencoder run logged (``config/config.yaml``) and its experiment's name."""
    client = MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise ConfigError(f"baseline_for={run_id}: no such run in {uri}") from error
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, "config/config.yaml", folder)
        except (MlflowException, OSError) as error:
            raise ConfigError(f"baseline_for={run_id}: the run has no config/config.yaml artifact") from error
        run_cfg = OmegaConf.load(path)
    return run_cfg, client.get_experiment(run.info.experiment_id).name


def follow_run(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the dataset, code size and experiment of the run named by ``baseline_for``."""
    run_cfg, experiment = config_of_run(cfg.tracking.uri, cfg.baseline_for)
    if "dataset" not in run_cfg or "model" not in run_cfg:
        raise ConfigError(f"baseline_for={cfg.baseline_for}: that run's config has no dataset or model")
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.dataset = run_cfg.dataset
        cfg.n_components = run_cfg.model.code_dim
        cfg.tracking.experiment = experiment
    return cfg


def pca_baseline(cfg: DictConfig) -> dict[str, float]:
    """Fit PCA on the training split, evaluate it like an autoencoder, record one MLflow run."""
    if cfg.baseline_for:
        cfg = follow_run(cfg)
    datamodule = build(cfg.dataset)
    datamodule.prepare_data()
    baseline = PCABaseline(int(cfg.n_components)).fit(datamodule.splits.train)
    tags = {"stage": "pca_baseline", "dataset": datamodule.name, "model": "pca", **datamodule.tags}
    tags["code_dim"] = str(baseline.code_dim)
    if cfg.baseline_for:
        tags["baseline_for"] = cfg.baseline_for
    # The model group is there for its code_dim only; its optimizer settings are not this run's.
    with pipeline_run(cfg, tags, skip_params=("model",)) as (client, experiment_id, run_id):
        evaluation = evaluate_and_record(client, run_id, baseline, datamodule, f"PCA ({baseline.code_dim})")
    print_summary(cfg, experiment_id, run_id, evaluation.metrics)
    return evaluation.metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="pca_baseline")
def main(cfg: DictConfig) -> float | None:
    with one_line_errors():
        return pca_baseline(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
