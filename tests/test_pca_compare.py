"""The PCA baseline stage and the autoencoder-versus-PCA comparison."""

from __future__ import annotations

import numpy as np
import pytest

from autoencoders import comparison
from autoencoders.data.spiral import spiral_points
from autoencoders.errors import ConfigError
from autoencoders.evaluation import evaluate, notebook_rmse
from autoencoders.pca import PCABaseline
from conftest import QUICK_SPIRAL, artifact_paths
from pipelines.compare import compare
from pipelines.pca_baseline import pca_baseline
from pipelines.train import train

NOTEBOOK_PCA_RMSE = 0.9049436506773132


def test_pca_baseline_reproduces_the_notebooks_figure() -> None:
    x = spiral_points(100, 0)
    baseline = PCABaseline(1).fit(x)
    assert notebook_rmse(x, baseline.decode(baseline.encode(x))) == pytest.approx(
        NOTEBOOK_PCA_RMSE, abs=1e-12
    )


def test_pca_stage_on_the_default_spiral(make_cfg, client) -> None:
    metrics = pca_baseline(make_cfg(config_name="pca_baseline"))
    assert metrics["train/rmse"] == pytest.approx(NOTEBOOK_PCA_RMSE, abs=1e-9)
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["stage"] == "pca_baseline"
    assert run.data.tags["model"] == "pca"
    assert run.data.params["n_components"] == "1"
    assert run.data.metrics["train/rmse"] == pytest.approx(NOTEBOOK_PCA_RMSE, abs=1e-9)


def test_pca_and_autoencoder_share_metric_names_and_artifacts(spiral_run) -> None:
    from mlflow.tracking import MlflowClient

    from pipelines.common import compose_config

    pca_metrics = pca_baseline(compose_config("pca_baseline", spiral_run["overrides"]))
    client: MlflowClient = spiral_run["client"]
    ae_run = spiral_run["run"]
    runs = client.search_runs([ae_run.info.experiment_id], "tags.stage = 'pca_baseline'")
    pca_run = runs[0]
    final = {"train/rmse", "test/rmse", "test/mse", "test/auroc", "test/aupr"}
    assert set(pca_metrics) == final
    assert final <= set(ae_run.data.metrics)
    pca_figures = {p for p in artifact_paths(client, pca_run.info.run_id) if p.startswith("figures/")}
    ae_figures = {p for p in artifact_paths(client, ae_run.info.run_id) if p.startswith("figures/")}
    assert pca_figures == ae_figures
    assert len(ae_figures) == 6


def test_the_same_evaluation_scores_any_encode_decode_model() -> None:
    from autoencoders.data.spiral import SpiralDataModule

    splits = SpiralDataModule().splits

    class Identity:
        def encode(self, x: np.ndarray) -> np.ndarray:
            return x

        def decode(self, code: np.ndarray) -> np.ndarray:
            return code

    metrics = evaluate(Identity(), splits).metrics
    assert metrics["train/rmse"] == 0 and metrics["test/mse"] == 0
    assert metrics["test/auroc"] == pytest.approx(0.5)  # every score ties


def test_baseline_for_follows_the_runs_data_and_code_size(make_cfg, client) -> None:
    train(make_cfg(*QUICK_SPIRAL, "model.code_dim=2", "dataset.n_train=80", "dataset.train_seed=5"))
    experiment_id = client.get_experiment_by_name("spiral").experiment_id
    (ae_run,) = client.search_runs([experiment_id])
    # The PCA side is composed with other (default) dataset settings: baseline_for must override them.
    metrics = pca_baseline(make_cfg(f"baseline_for={ae_run.info.run_id}", config_name="pca_baseline"))
    (pca_run,) = client.search_runs([experiment_id], "tags.stage = 'pca_baseline'")
    assert pca_run.data.tags["baseline_for"] == ae_run.info.run_id
    assert pca_run.data.tags["code_dim"] == "2"
    assert pca_run.data.params["n_components"] == "2"
    for key in ["dataset.n_train", "dataset.train_seed", "dataset.n_test", "dataset.anomaly_margin"]:
        assert pca_run.data.params[key] == ae_run.data.params[key], key
    assert metrics["train/rmse"] == pytest.approx(0.0, abs=1e-6)  # 2 components reproduce 2-D data


def test_baseline_for_an_unknown_run_is_a_config_error(make_cfg) -> None:
    with pytest.raises(ConfigError, match="baseline_for=0123: no such run"):
        pca_baseline(make_cfg("baseline_for=0123", config_name="pca_baseline"))


def test_compare_groups_runs_and_matches_their_metrics(make_cfg, client, capsys) -> None:
    ae = [train(make_cfg(*QUICK_SPIRAL, f"seed={seed}")) for seed in (0, 1)]
    pca = pca_baseline(make_cfg(config_name="pca_baseline"))
    pca_baseline(make_cfg("n_components=2", config_name="pca_baseline"))  # a second group
    text = compare(make_cfg(config_name="compare"))

    table = comparison.collect(client, ["spiral"], ["train/rmse", "test/auroc"])
    assert [key.label for key in table] == ["spiral, code 1", "spiral, code 2"]
    key = next(iter(table))
    group = table[key]
    assert sorted(comparison.display_names(group).values()) == ["dense", "pca"]
    (dense,) = [summary for name, summary in group.items() if name.startswith("dense")]
    ae_mean = np.mean([m["train/rmse"] for m in ae])
    assert dense.mean("train/rmse") == pytest.approx(ae_mean)
    assert dense.std("train/rmse") == pytest.approx(np.std([m["train/rmse"] for m in ae]))
    assert comparison.ratio(table, key, dense.model, "train/rmse") == pytest.approx(
        ae_mean / pca["train/rmse"]
    )
    dense_row = next(line for line in text.splitlines() if "| dense |" in line)
    assert f"{ae_mean:.4g} ±" in dense_row
    assert f"(x{ae_mean / pca['train/rmse']:.4g})" in dense_row
    assert "| spiral | spiral, code 1 | dense | 2 |" in capsys.readouterr().out

    (compare_run,) = client.search_runs(
        [client.get_experiment_by_name("spiral").experiment_id], "tags.stage = 'compare'"
    )
    assert compare_run.info.status == "FINISHED"
    assert compare_run.data.tags["compared_runs"] == "4"
    assert {"compare/table.md", "compare/bars.png"} <= artifact_paths(client, compare_run.info.run_id)

    # Another learning rate is another variant: its own row, not averaged in as a third seed.
    train(make_cfg(*QUICK_SPIRAL, "model.optimizer.lr=0.01"))
    group = comparison.collect(client, ["spiral"], ["train/rmse"])[key]
    assert sorted(len(s.run_ids) for name, s in group.items() if name.startswith("dense#")) == [1, 2]


def test_compare_on_an_empty_store_says_what_to_do(make_cfg) -> None:
    with pytest.raises(ConfigError, match="run pipelines.train and pipelines.pca_baseline first"):
        compare(make_cfg(config_name="compare"))
