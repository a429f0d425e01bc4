"""The comparison of autoencoders with PCA, on runs written straight into a temporary store."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from autoencoders import comparison
from autoencoders.errors import ConfigError
from autoencoders.evaluation.records import OUTPUTS_PATH, RunOutputs
from autoencoders.figures.group_figures import draw_group
from autoencoders.tracking.runs import log_arrays
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
    tags = {"stage": "baseline", "dataset": "spiral", "model": "pca", "code_dim": str(code_dim)}
    params = {
        **data,
        "method.n_components": code_dim,
        "model.code_dim": code_dim,
    }  # as pipelines.baseline logs
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
    assert dense.std("train/rmse") == pytest.approx(np.std([0.02, 0.04], ddof=1))  # sample spread
    assert dense.seeds == ["1", "0"]  # newest first
    assert comparison.ratio(table, key, dense.model, "train/rmse") == pytest.approx(0.03 / 0.9)
    assert comparison.ratio(table, key, "pca", "train/rmse") is None


def test_the_table_shows_mean_spread_and_ratio_to_pca(client) -> None:
    for seed, rmse in enumerate([0.02, 0.04]):
        autoencoder(client, rmse, seed)
    pca(client, 0.9)
    text = comparison.markdown(comparison.collect(client, None, METRICS), METRICS)
    assert text.startswith("| experiment | group | model | runs (seeds) | train/rmse ↓ | test/auroc ↑ |")
    dense_row = next(line for line in text.splitlines() if "| dense |" in line)
    # The best of the group in bold: lower RMSE, higher AUROC.
    assert dense_row == (
        "| spiral | spiral, code 1 | dense | 2 (1, 0) | **0.03 ± 0.014 (x0.03333)** | **0.99 ± 0 (x1.32)** |"
    )
    pca_row = next(line for line in text.splitlines() if "| pca |" in line)
    assert pca_row == "| spiral | spiral, code 1 | pca | 1 (-) | 0.9 | 0.75 |"  # one run: no spread


def test_other_hyperparameters_are_another_row_not_another_seed(client) -> None:
    autoencoder(client, 0.02, seed=0)
    autoencoder(client, 0.04, seed=1)
    autoencoder(client, 0.5, seed=0, **{"model.optimizer.lr": 0.01})
    (group,) = comparison.collect(client, ["spiral"], METRICS).values()
    assert sorted(len(summary.run_ids) for summary in group.values()) == [1, 2]
    assert all(name.startswith("dense#") for name in comparison.display_names(group).values())


def test_a_store_of_several_configurations_compares_with_valid_metric_names(make_cfg, client) -> None:
    """Two dense variants in one group are named ``dense#<hash>``: MLflow refuses ``#`` in a metric
    name, so the compare run's names turn it into ``-`` (it crashed with a traceback)."""
    autoencoder(client, 0.02, seed=0)
    autoencoder(client, 0.5, seed=0, **{"model.optimizer.lr": 0.01})
    compare(make_cfg(config_name="compare"))
    (run,) = client.search_runs(
        [client.get_experiment_by_name("spiral").experiment_id], "tags.stage = 'compare'"
    )
    assert run.info.status == "FINISHED"
    names = [name for name in run.data.metrics if name.endswith("/train/rmse")]
    assert len(names) == 2 and all(re.fullmatch(r"code 1 data \w+/dense-\w{6}/train/rmse", n) for n in names)
    assert sorted(run.data.metrics[name] for name in names) == [0.02, 0.5]


@pytest.mark.parametrize(
    ("text", "name"),
    [("a b/dense#0f/train/rmse", "a b/dense-0f/train/rmse"), ("x//y/", "x/y"), ("../€", "-")],
)
def test_metric_names_are_made_valid_the_same_way_every_time(text: str, name: str) -> None:
    from autoencoders.comparison.report import metric_name

    assert metric_name(text) == name


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
    assert "| spiral | spiral, code 1 | dense | 2 (1, 0) |" in printed
    (run,) = client.search_runs(
        [client.get_experiment_by_name("spiral").experiment_id], "tags.stage = 'compare'"
    )
    assert run.info.status == "FINISHED" and run.info.run_name == "compare spiral"
    link = f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}?workflowType=machine_learning"
    assert link in printed
    assert run.data.tags["compared_runs"] == "4"
    logged_files = artifact_paths(client, run.info.run_id)
    assert {"table.md", "bars.png", "runs.md"} <= logged_files
    assert not any(path.endswith("roc.png") for path in logged_files)  # these runs logged no outputs
    # Each model's mean per metric, as the compare run's own metrics.
    (key,) = [k for k in comparison.collect(client, ["spiral"], METRICS) if k.code_dim == 1]
    assert run.data.metrics[f"{key.slug}/dense/train/rmse"] == pytest.approx(0.03)
    assert run.data.metrics[f"{key.slug}/pca/train/rmse"] == pytest.approx(0.9)
    used = Path(client.download_artifacts(run.info.run_id, "runs.md")).read_text()
    assert used.count("?workflowType=machine_learning") == 4 and used.count("| yes |") == 4
    logged = Path(client.download_artifacts(run.info.run_id, "table.md")).read_text()
    assert logged == text


def test_compare_on_an_empty_store_says_what_to_do(make_cfg) -> None:
    with pytest.raises(ConfigError, match="no FINISHED train or baseline runs"):
        compare(make_cfg(config_name="compare"))


def test_a_repeated_configuration_and_seed_counts_once_the_latest(client) -> None:
    autoencoder(client, 0.5, seed=0)  # older
    autoencoder(client, 0.02, seed=0)  # the same configuration and seed, later
    autoencoder(client, 0.04, seed=1)
    (group,) = comparison.collect(client, ["spiral"], METRICS).values()
    (dense,) = group.values()
    assert dense.mean("train/rmse") == pytest.approx(0.03) and len(dense.replaced) == 1
    text = comparison.markdown({next(iter(comparison.collect(client, ["spiral"], METRICS))): group}, METRICS)
    assert "| 2 (1, 0), 1 older repeats left out |" in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.99998, "0.99998"), (0.9957, "0.9957"), (0.01363, "0.01363"), (1.0, "1"), (0.905, "0.905")],
)
def test_numbers_keep_the_digits_that_tell_them_apart(value: float, shown: str) -> None:
    assert comparison.readable(value) == shown


def test_the_bar_chart_labels_values_and_scales_each_metric_to_its_range(client) -> None:
    autoencoder(client, 0.002, seed=0)
    pca(client, 0.9)
    metrics = ["train/rmse", "test/auroc"]
    figure = comparison.bar_chart(comparison.collect(client, ["spiral"], metrics), metrics)
    rmse_ax, auroc_ax = figure.axes
    assert rmse_ax.get_yscale() == "log"  # 0.002 against 0.9: a linear axis would hide the first
    assert rmse_ax.get_title() == "train/rmse (lower is better)"
    assert auroc_ax.get_ylim()[0] > 0.5  # 0.99 and 0.75 are told apart, not drawn from 0
    labels = [text.get_text() for text in auroc_ax.texts]
    assert labels == ["0.99", "0.75"]


def outputs(scores: np.ndarray, grid_scale: float = 1.0) -> RunOutputs:
    """What a spiral run logs of its evaluation: 4 test points, half anomalous, and a 3 x 3 map."""
    u, v = np.meshgrid(np.arange(3.0), np.arange(3.0))
    samples = np.arange(8.0).reshape(4, 2)
    return RunOutputs(
        kind="points",
        is_anomaly=np.array([False, False, True, True]),
        scores=scores,
        shown=np.arange(4),
        samples=samples,
        reconstructions=samples * 0.9,
        train=samples[:2],
        grid_u=u,
        grid_v=v,
        grid_scores=grid_scale * (u + v + 1),
    )


def test_each_model_is_shown_at_its_lowest_seed_from_the_outputs_it_logged(client) -> None:
    runs_by_seed = {seed: autoencoder(client, 0.02, seed) for seed in (2, 10, 1)}
    for seed, run_id in runs_by_seed.items():
        log_arrays(client, run_id, outputs(np.array([0.1, 0.2, 1.0, float(seed)])).arrays(), OUTPUTS_PATH)
    pca(client, 0.9)  # logged before runs kept their outputs: left out of the figures, not an error
    (group,) = comparison.collect(client, ["spiral"], METRICS).values()
    found = comparison.group_outputs(client, group)
    assert list(found) == ["dense (seed 1)"]
    assert found["dense (seed 1)"].scores[-1] == 1.0


def test_group_figures_put_the_models_on_shared_axes() -> None:
    models = {
        "dense": outputs(np.array([0.1, 0.2, 1.0, 2.0])),
        "pca": outputs(np.array([0.5, 0.6, 0.55, 3.0]), grid_scale=100.0),
    }
    figures = draw_group(models, "spiral, code 1")
    assert set(figures) == {"roc.png", "scores.png", "reconstructions.png", "error_maps.png"}
    roc_ax = figures["roc.png"].axes[0]
    legend = [text.get_text() for text in roc_ax.get_legend().get_texts()]
    assert legend[:2] == ["dense: AUROC = 1", "pca: AUROC = 0.75"]
    dense_map, pca_map = (ax.get_images()[0] for ax in figures["error_maps.png"].axes[:2])
    assert dense_map.norm is pca_map.norm  # one colour scale
    assert pca_map.norm.vmax == pytest.approx(500.0)
    assert [ax.get_title() for ax in figures["reconstructions.png"].axes] == ["dense", "pca"]
    other_data = outputs(np.zeros(4))
    other_data.samples = other_data.samples + 1  # another test set: not drawn against the first
    assert len(draw_group({**models, "other": other_data}, "g")["roc.png"].axes[0].get_lines()) == 3
