"""The comparison of autoencoders with PCA, on runs written straight into a temporary store."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoencoders import comparison
from autoencoders.errors import ConfigError
from autoencoders.evaluation.records import OUTPUTS_PATH, RunOutputs
from autoencoders.figures.group_figures import draw_group
from autoencoders.tracking.runs import log_arrays
from helpers.entry import run_main, store_overrides
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


def test_the_table_shows_mean_and_spread_and_bolds_only_a_clear_lead(client) -> None:
    for seed, rmse in enumerate([0.02, 0.04]):
        autoencoder(client, rmse, seed)
    pca(client, 0.9)
    text = comparison.markdown(comparison.collect(client, None, METRICS), METRICS)
    assert text.startswith("| experiment | group | model | runs (seeds) | train/rmse ↓ | test/auroc ↑ |")
    dense_row = next(line for line in text.splitlines() if "| dense |" in line)
    # Bold: ahead by more than the spread over seeds (0.014 against a gap of 0.87; 0 against 0.24).
    assert dense_row == "| spiral | spiral, code 1 | dense | 2 (1, 0) | **0.03 ± 0.014** | **0.99 ± 0** |"
    pca_row = next(line for line in text.splitlines() if "| pca |" in line)
    assert pca_row == "| spiral | spiral, code 1 | pca | 1 (-) | 0.9 | 0.75 |"  # one run: no spread
    assert "(x" not in text  # no ratios of AUROCs


def runs_of(client, model: str, metrics_per_seed: list[dict[str, float]]) -> list[str]:
    tags = {"stage": "train", "dataset": "spiral", "model": model, "code_dim": "1"}
    return [
        write_run(client, "spiral", tags, {**SPIRAL, "model.code_dim": 1, "seed": seed}, metrics).info.run_id
        for seed, metrics in enumerate(metrics_per_seed)
    ]


def test_a_gap_within_the_seeds_spread_is_a_tie_and_a_ceiling_says_so(client) -> None:
    runs_of(
        client,
        "dense",
        [{"test/auroc": 0.99999333, "test/aupr": 1.0}, {"test/auroc": 0.99995, "test/aupr": 1.0}],
    )
    runs_of(
        client, "knn", [{"test/auroc": 0.999992, "test/aupr": 1.0}, {"test/auroc": 0.99993, "test/aupr": 1.0}]
    )
    (group,) = comparison.collect(client, ["spiral"], ["test/auroc", "test/aupr"]).values()
    tie = comparison.verdict(group, "test/auroc")
    assert (tie.leader, tie.level, tie.best) == ("dense", ("knn",), None)
    assert comparison.verdict(group, "test/aupr").ceiling
    text = comparison.markdown(
        {k: v for k, v in comparison.collect(client, None, ["test/auroc"]).items()},
        ["test/auroc"],
        "test/auroc",
    )
    assert "**" not in text
    assert "- spiral, code 1: dense leads, level with knn within the seeds' spread" in text
    ceiling = comparison.markdown(comparison.collect(client, None, ["test/aupr"]), ["test/aupr"], "test/aupr")
    assert "every model scores 1.0 on test/aupr: this test set does not separate them" in ceiling


def test_the_recommendation_follows_the_metric_it_ranks_by_and_says_which(client) -> None:
    """A model that ranks best (AUROC) can be worse at its own threshold (F1): the verdict names the
    metric, and changes with it."""
    runs_of(client, "conv", [{"test/auroc": 0.98, "test/f1": 0.55}, {"test/auroc": 0.97, "test/f1": 0.59}])
    runs_of(client, "pca", [{"test/auroc": 0.91, "test/f1": 0.70}, {"test/auroc": 0.92, "test/f1": 0.68}])
    table = comparison.collect(client, None, ["test/auroc", "test/f1"])
    by_auroc = comparison.markdown(table, ["test/auroc", "test/f1"], "test/auroc")
    by_f1 = comparison.markdown(table, ["test/auroc", "test/f1"], "test/f1")
    assert "Ranked by test/auroc (`rank_by`):\n- spiral, code 1: conv, ahead of every other model" in by_auroc
    assert "Ranked by test/f1 (`rank_by`):\n- spiral, code 1: pca, ahead of every other model" in by_f1


def test_the_model_to_deploy_is_ranked_on_validation_and_may_be_a_classic_detector(client) -> None:
    """The test set leads with the autoencoder, validation with PCA: the recommendation follows
    validation (choosing by the test set would measure the choice on the data it was chosen on)."""
    runs_of(
        client, "conv", [{"test/auroc": 0.98, "val/auroc": 0.90}, {"test/auroc": 0.97, "val/auroc": 0.91}]
    )
    pca_ids = runs_of(
        client, "pca", [{"test/auroc": 0.91, "val/auroc": 0.95}, {"test/auroc": 0.92, "val/auroc": 0.96}]
    )
    said = comparison.markdown(comparison.collect(client, None, ["test/auroc", "val/auroc"]), ["test/auroc"])
    line = said.split("To deploy, ranked on validation (val/auroc; the test set is never used):\n")[1]
    assert line.startswith("- spiral, code 1: pca (val/auroc 0.9550, +0.0500 over conv): runs:/")
    assert line.splitlines()[0].split("runs:/")[1].split("/")[0] in pca_ids  # a run of the model


def test_without_validation_anomalies_nothing_is_recommended(client) -> None:
    autoencoder(client, 0.02, seed=0)
    pca(client, 0.03)
    said = comparison.markdown(comparison.collect(client, None, METRICS), METRICS)
    assert "- spiral, code 1: no val/auroc to rank by (the validation split holds no anomalies)" in said


def test_other_hyperparameters_are_another_row_not_another_seed(client) -> None:
    autoencoder(client, 0.02, seed=0)
    autoencoder(client, 0.04, seed=1)
    autoencoder(client, 0.5, seed=0, **{"model.optimizer.lr": 0.01})
    (group,) = comparison.collect(client, ["spiral"], METRICS).values()
    assert sorted(len(summary.run_ids) for summary in group.values()) == [1, 2]
    assert all(name.startswith("dense#") for name in comparison.display_names(group).values())


def test_a_store_of_several_configurations_compares_and_logs_no_metrics(make_cfg, client) -> None:
    """Two dense variants in one group are rows ``dense#<hash>`` of the compare run's table; the
    run logs no metrics, so the experiment's chart view and columns stay the runs' own."""
    autoencoder(client, 0.02, seed=0)
    autoencoder(client, 0.5, seed=0, **{"model.optimizer.lr": 0.01})
    compare(make_cfg(config_name="compare"))
    (run,) = client.search_runs(
        [client.get_experiment_by_name("spiral").experiment_id], "tags.stage = 'compare'"
    )
    assert run.info.status == "FINISHED" and run.data.metrics == {}
    logged = pd.read_json(Path(client.download_artifacts(run.info.run_id, "table.json")), orient="split")
    assert sorted(logged["train/rmse mean"]) == [0.02, 0.5]
    assert all(re.fullmatch(r"dense#\w{6}", name) for name in logged["model"])


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
    assert {"table.md", "table.json"} <= logged_files and run.data.metrics == {}
    # The UI opens the experiment in its model-training view (a store made before: the tag is added).
    kind = client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"]
    assert kind == "custom_model_development"
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


def test_the_bar_chart_labels_values_and_draws_every_bar_from_zero(client) -> None:
    autoencoder(client, 0.002, seed=0)
    pca(client, 0.9)
    metrics = ["train/rmse", "test/auroc"]
    figure = comparison.bar_chart(comparison.collect(client, ["spiral"], metrics), metrics)
    rmse_ax, auroc_ax = figure.axes
    assert rmse_ax.get_yscale() == "linear" and rmse_ax.get_ylim()[0] == 0.0  # a bar's height is its value
    assert rmse_ax.get_title() == "train/rmse (lower is better)"
    assert auroc_ax.get_ylim() == (0.0, 1.15)
    labels = [text.get_text() for text in auroc_ax.texts]
    assert labels == ["0.99", "0.75"]  # the labels tell close values apart
    # One colour per model, the same in every figure: the bars' and the ROC curves'
    from matplotlib.colors import to_hex

    from autoencoders.figures.plots import roc

    bars = [to_hex(patch.get_facecolor()) for patch in auroc_ax.patches]
    is_anomaly = np.array([False, True, False, True])
    curves = roc(is_anomaly, {"pca (seed 0)": np.arange(4.0), "dense#0f12ab": np.arange(4.0)}, "x").axes[0]
    assert bars == [to_hex(line.get_color()) for line in curves.get_lines()[1::-1]]  # dense, pca


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


def test_every_run_carries_the_config_key_its_comparison_row_is(store, client, tmp_path, monkeypatch) -> None:
    """The UI's Group by ``config`` reproduces the table: one key per row, its runs the row's;
    a baseline's own settings make another row (kNN with k=5 and k=3)."""
    for extra in (["seed=0"], ["seed=1"], ["seed=0", "method.n_neighbors=3"]):
        args = [*store_overrides(store), "method=knn", *extra]
        assert run_main("baseline", tmp_path, *args, monkeypatch=monkeypatch) == 0
    runs = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    keys = sorted({run.data.tags["config"] for run in runs})
    assert len(keys) == 2 and re.fullmatch(r"knn code=1 #\w{6}", keys[0])
    assert re.fullmatch(r"knn code=1 method.n_neighbors=3 #\w{6}", keys[1])
    (group,) = comparison.collect(client, ["spiral"], ["test/auroc"]).values()
    assert sorted(comparison.display_names(group).values()) == keys  # two kNN variants: their keys
    for summary in group.values():
        tagged = [run.data.metrics["test/auroc"] for run in runs if run.data.tags["config"] == summary.config]
        assert len(tagged) == len(summary.run_ids) and np.mean(tagged) == pytest.approx(
            summary.mean("test/auroc")
        )


def test_a_trained_run_says_which_score_auto_chose_and_keeps_machine_paths_apart(spiral_run) -> None:
    run = spiral_run["run"]
    assert run.data.params["anomaly.score_used"] == run.data.tags["anomaly.score"] != "auto"
    assert re.fullmatch(r"dense code=1 #\w{6}", run.data.tags["config"])
    assert run.data.tags["system.tracking.uri"] == spiral_run["uri"]
    assert not [name for name in run.data.tags if name.startswith(("paths.", "tracking."))]
