"""The PCA baseline: the notebook's figure, its stage, and the autoencoder run it can follow."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from autoencoders.baselines.pca import PCADetector
from autoencoders.data.spiral import spiral_points
from autoencoders.errors import ConfigError
from autoencoders.evaluation.metrics import notebook_rmse
from autoencoders.tracking import runs
from helpers.runs import artifact_paths, write_run
from pipelines.compare import compare
from pipelines.hydra_glue import compose_config
from pipelines.pca_baseline import pca_baseline
from pipelines.stage_keys import resolved

NOTEBOOK_PCA_RMSE = 0.9049436506773132


def test_pca_baseline_reproduces_the_notebooks_figure() -> None:
    x = spiral_points(100, 0)
    baseline = PCADetector(1).fit(x)
    assert notebook_rmse(x, baseline.decode(baseline.encode(x))) == pytest.approx(
        NOTEBOOK_PCA_RMSE, abs=1e-12
    )


def test_the_pca_stage_on_the_default_spiral_logs_what_the_autoencoder_logs(spiral_run) -> None:
    pca_metrics = pca_baseline(compose_config("pca_baseline", spiral_run["overrides"]))
    assert pca_metrics["train/rmse"] == pytest.approx(NOTEBOOK_PCA_RMSE, abs=1e-9)
    client: MlflowClient = spiral_run["client"]
    ae_run = spiral_run["run"]
    (pca_run,) = client.search_runs([ae_run.info.experiment_id], "tags.stage = 'baseline'")
    assert pca_run.info.status == "FINISHED" and pca_run.info.run_name == "pca k=1"
    assert pca_run.data.tags["model"] == "pca"
    assert pca_run.data.params["method.n_components"] == "1"
    assert pca_run.data.params["model.code_dim"] == "1"  # the code size under every model's name
    assert not any(key.startswith("model.optimizer") for key in pca_run.data.params)
    assert pca_run.data.metrics["train/rmse"] == pytest.approx(NOTEBOOK_PCA_RMSE, abs=1e-9)
    final = {"train/rmse", "test/rmse", "test/mse", "test/auroc", "test/aupr", "threshold"}
    final |= {f"test/{name}" for name in ("precision", "recall", "f1")}
    final |= {f"test/{kind}_{sign}" for kind in ("true", "false") for sign in ("positives", "negatives")}
    assert set(pca_metrics) == final
    assert final <= set(ae_run.data.metrics)
    pca_files, ae_files = (artifact_paths(client, run.info.run_id) for run in (pca_run, ae_run))
    pca_figures, ae_figures = ({p for p in files if p.endswith(".png")} for files in (pca_files, ae_files))
    assert pca_figures == ae_figures
    assert "evaluation/test_outputs.npz" in pca_files & ae_files

    # The same data, recorded as dataset inputs with the same digests: the UI's Datasets column.
    def datasets(run_id: str) -> dict[str, tuple[str, str]]:
        inputs = client.get_run(run_id).inputs.dataset_inputs
        return {i.tags[0].value: (i.dataset.name, i.dataset.digest) for i in inputs}

    assert datasets(pca_run.info.run_id) == datasets(ae_run.info.run_id)
    assert set(datasets(ae_run.info.run_id)) == {"train", "validation", "test"}
    assert datasets(ae_run.info.run_id)["test"][0] == "spiral test"
    assert len(ae_figures) == 6

    # The comparison draws both models on shared axes from the outputs they logged.
    compare(compose_config("compare", spiral_run["overrides"]))
    (compare_run,) = client.search_runs([ae_run.info.experiment_id], "tags.stage = 'compare'")
    group = {"roc.png", "scores.png", "reconstructions.png", "error_maps.png"}
    assert {f"spiral-code-1/{name}" for name in group} <= artifact_paths(client, compare_run.info.run_id)


def autoencoder_run(client, cfg) -> str:
    """An autoencoder run as ``pipelines.train`` leaves it (tags, params, logged config), untrained."""
    tags = {"stage": "train", "dataset": "spiral", "model": "dense", "code_dim": str(cfg.model.code_dim)}
    params = runs.flatten({key: resolved(cfg, key) for key in cfg})
    run_id = write_run(client, "spiral", tags, params, {"train/rmse": 0.02}).info.run_id
    client.log_text(run_id, OmegaConf.to_yaml(cfg), runs.CONFIG_FILE)
    return run_id


def test_baseline_for_follows_the_runs_data_and_code_size(make_cfg, client) -> None:
    ae_run_id = autoencoder_run(
        client, make_cfg("model.code_dim=2", "dataset.n_train=80", "dataset.train_seed=5")
    )
    # The PCA side is composed with other (default) dataset settings: baseline_for must override them.
    metrics = pca_baseline(make_cfg(f"baseline_for={ae_run_id}", config_name="pca_baseline"))
    experiment_id = client.get_experiment_by_name("spiral").experiment_id
    (pca_run,) = client.search_runs([experiment_id], "tags.stage = 'baseline'")
    ae_run = client.get_run(ae_run_id)
    assert pca_run.data.tags["baseline_for"] == ae_run_id
    assert pca_run.data.tags["code_dim"] == "2"
    assert pca_run.data.params["method.n_components"] == "2"
    for key in ["dataset.n_train", "dataset.train_seed", "dataset.n_test", "dataset.anomaly_margin"]:
        assert pca_run.data.params[key] == ae_run.data.params[key], key
    assert pca_run.data.params["dataset.n_train"] == "80"
    assert metrics["train/rmse"] == pytest.approx(0.0, abs=1e-6)  # 2 components reproduce 2-D data


def test_baseline_for_an_unknown_run_is_a_config_error(make_cfg) -> None:
    with pytest.raises(ConfigError, match="baseline_for=0123: no such run"):
        pca_baseline(make_cfg("baseline_for=0123", config_name="pca_baseline"))
