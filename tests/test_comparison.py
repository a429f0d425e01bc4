"""The comparison of autoencoders with PCA, on runs written straight into a temporary store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoencoders import comparison
from autoencoders.errors import ConfigError
from helpers.runs import artifact_paths, write_run
from pipelines.compare import compare

SPIRAL = {"dataset.n_train": 100, "dataset.train_seed": 0, "dataset.epochs": 200}
AE_SETTINGS = {"model.optimizer.lr": 0.003, "trainer.max_epochs": 200}
METRICS = ["train/rmse", "test/auroc"]


def autoencoder(client, rmse: float, seed: int, code_dim: int = 1, **settings) -> str:
    tags = {"stage": "train", "dataset": "spiral", "model": "dense", "code_dim": str(code_dim)}
    params = {**SPIRAL, **AE_SETTINGS, **settings, "model.code_dim": code_dim, "seed": seed}
    metrics = {"train/rmse": rmse, "test/auroc": 0.99}
    return write_run(client, "spiral", tags, params, metrics).info.run_id


def pca(client, rmse: float, code_dim: int = 1, status: str = "FINISHED", data=SPIRAL) -> str:
    tags = {"stage": "pca_baseline", "dataset": "spiral", "model": "pca", "code_dim": str(code_dim)}
    params = {**data, "n_components": code_dim}
    return write_run(
        client, "spiral", tags, params, {"train/rmse": rmse, "test/auroc": 0.75}, status
    ).info.run_id


def test_runs_are_grouped_by_data_and_code_size_and_summarised_over_seeds(client) -> None:
    ae = [autoencoder(client, rmse, seed) for seed, rmse in enumerate([0.02, 0.04])]
    pca(client, 0.9)
    pca(client, 0.5, code_dim=2)  # another group
    pca(client, 0.1, status="FAILED")  # not compared
    pca(client, 0.3, data={**SPIRAL, "dataset.train_seed": 7})  # other data: its own group
    write_run(client, "spiral", {"stage": "compare", "dataset": "spiral", "code_dim": "1"}, {}, {})

    table = comparison.collect(client, ["spiral"], METRICS)
    labels = comparison.group_labels(table)
    assert len(table) == 3
    key = next(key for key in table if key.code_dim == 1 and len(table[key]) == 2)
    assert labels[key].startswith("spiral, code 1 (data ")  # two code-1 groups: told apart by data
    group = table[key]
    assert sorted(comparison.display_names(group).values()) == ["dense", "pca"]
    (dense,) = [summary for name, summary in group.items() if name.startswith("dense")]
    assert sorted(dense.run_ids) == sorted(ae)
    assert dense.mean("train/rmse") == pytest.approx(0.03)
    assert dense.std("train/rmse") == pytest.approx(np.std([0.02, 0.04]))
    assert comparison.ratio(table, key, dense.model, "train/rmse") == pytest.approx(0.03 / 0.9)
    assert comparison.ratio(table, key, "pca", "train/rmse") is None


def test_the_table_shows_mean_spread_and_ratio_to_pca(client) -> None:
    for seed, rmse in enumerate([0.02, 0.04]):
        autoencoder(client, rmse, seed)
    pca(client, 0.9)
    text = comparison.markdown(comparison.collect(client, None, METRICS), METRICS)
    dense_row = next(line for line in text.splitlines() if "| dense |" in line)
    assert dense_row.startswith("| spiral | spiral, code 1 | dense | 2 | 0.03 ± 0.01 (x0.03333) |")
    pca_row = next(line for line in text.splitlines() if "| pca |" in line)
    assert "| pca | 1 | 0.9 ± 0 |" in pca_row and "(x" not in pca_row


def test_other_hyperparameters_are_another_row_not_another_seed(client) -> None:
    autoencoder(client, 0.02, seed=0)
    autoencoder(client, 0.04, seed=1)
    autoencoder(client, 0.5, seed=0, **{"model.optimizer.lr": 0.01})
    (group,) = comparison.collect(client, ["spiral"], METRICS).values()
    assert sorted(len(summary.run_ids) for summary in group.values()) == [1, 2]
    assert all(name.startswith("dense#") for name in comparison.display_names(group).values())


def test_mnist_digits_group_whatever_their_order(client) -> None:
    for digits in ("[3, 5]", "[5,3]"):
        tags = {"stage": "train", "dataset": "mnist", "model": "conv", "code_dim": "16"}
        write_run(client, "mnist", tags, {"dataset.normal_digits": digits}, {"train/rmse": 1.0})
    (key,) = comparison.collect(client, ["mnist"], METRICS)
    assert key.label == "mnist, code 16, digits [3,5]"


def test_the_compare_stage_prints_the_table_and_logs_it_beside_the_runs(make_cfg, client, capsys) -> None:
    for seed, rmse in enumerate([0.02, 0.04]):
        autoencoder(client, rmse, seed)
    pca(client, 0.9)
    pca(client, 0.5, code_dim=2)
    text = compare(make_cfg(config_name="compare"))
    printed = capsys.readouterr().out
    assert "| spiral | spiral, code 1 | dense | 2 |" in printed
    (run,) = client.search_runs(
        [client.get_experiment_by_name("spiral").experiment_id], "tags.stage = 'compare'"
    )
    assert run.info.status == "FINISHED" and run.info.run_name == "compare spiral"
    link = f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}?workflowType=machine_learning"
    assert link in printed
    assert run.data.tags["compared_runs"] == "4"
    assert {"compare/table.md", "compare/bars.png"} <= artifact_paths(client, run.info.run_id)
    logged = Path(client.download_artifacts(run.info.run_id, "compare/table.md")).read_text()
    assert logged == text


def test_compare_on_an_empty_store_says_what_to_do(make_cfg) -> None:
    with pytest.raises(ConfigError, match="run pipelines.train and pipelines.pca_baseline first"):
        compare(make_cfg(config_name="compare"))
