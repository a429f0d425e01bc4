"""End to end: short ``pipelines.train`` runs (spiral, MNIST) against temporary tracking stores, and
the command line's answers to bad input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import mlflow.artifacts
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from autoencoders.errors import ConfigError
from autoencoders.evaluation.records import OUTPUTS_PATH
from autoencoders.tracking import models, runs
from helpers.built import spiral_data
from helpers.runs import QUICK_SPIRAL, artifact_paths, load_detector
from pipelines.train import train

METRICS = ["train/loss", "val/loss", "train/rmse", "test/rmse", "test/mse", "test/auroc", "test/aupr"]
FIGURES = ["reconstructions", "codes", "samples", "roc", "error_map", "scores"]


def test_run_finishes_with_the_design_names(spiral_run) -> None:
    run = spiral_run["run"]
    assert run.info.status == "FINISHED"
    assert set(METRICS) <= set(run.data.metrics)
    assert run.data.tags["stage"] == "train"
    assert run.data.tags["dataset"] == "spiral"
    assert run.data.tags["model"] == "dense"
    assert run.data.params["model.code_dim"] == "1"
    assert run.data.params["dataset.n_train"] == "100"
    assert run.data.params["seed"] == "0"
    assert run.info.run_name == "dense code=1 seed=0"


def test_machine_paths_are_tags_not_params(spiral_run) -> None:
    """Under ``system.``: the UI lists them after the tags that say what ran."""
    run = spiral_run["run"]
    for key in ["paths.root", "paths.data", "tracking.uri", "tracking.artifact_root"]:
        assert key not in run.data.params and key not in run.data.tags, key
        assert run.data.tags[f"system.{key}"].startswith(("/", "sqlite:")), key
    assert not [value for value in run.data.params.values() if value.startswith("/")]


def test_losses_and_learning_rate_are_logged_per_epoch_with_the_epoch_as_step(spiral_run) -> None:
    client, run_id = spiral_run["client"], spiral_run["run"].info.run_id
    for name in ["train/loss", "val/loss", "train/lr"]:
        history = sorted(client.get_metric_history(run_id, name), key=lambda point: point.step)
        assert [point.step for point in history] == list(range(1, 21)), name  # step 0: final metrics
        values = [point.value for point in history]
        assert values[-1] < 0.8 * values[0], name  # losses fall; the cosine schedule decays
    assert "epoch" not in spiral_run["run"].data.metrics  # no chart of its own


def test_final_metrics_are_logged_once_at_step_0_and_linked_to_the_model(spiral_run) -> None:
    client, run = spiral_run["client"], spiral_run["run"]
    final = ["train/rmse", "test/rmse", "test/mse", "test/auroc", "test/aupr", "val/loss/best", "threshold"]
    final += [f"test/{name}" for name in ("precision", "recall", "f1", "true_positives", "false_negatives")]
    for name in final:
        (point,) = client.get_metric_history(run.info.run_id, name)
        assert point.step == 0 and point.value == pytest.approx(run.data.metrics[name]), name
    (output,) = run.outputs.model_outputs
    linked = {metric.key for metric in client.get_logged_model(output.model_id).metrics}
    assert set(final) <= linked  # the Models tab compares these
    assert not [name for name in linked if name.endswith(("loss", "/lr")) and not name.endswith("/best")]


def test_every_artifact_is_logged(spiral_run) -> None:
    paths = artifact_paths(spiral_run["client"], spiral_run["run"].info.run_id)
    assert {f"{name}.png" for name in FIGURES} <= paths
    assert "evaluation/test_outputs.npz" in paths
    assert {"config/config.yaml", "config/overrides.yaml", "checkpoints/best.ckpt"} <= paths


def test_the_logged_detector_scores_as_the_evaluation_did_and_loads_without_pickle(
    spiral_run, monkeypatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")  # how a careful deployment runs
    client, run = spiral_run["client"], spiral_run["run"]
    # MLflow 3 keeps models as LoggedModels, linked to the run as outputs, not as run artifacts.
    (output,) = run.outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.source_run_id == run.info.run_id and logged.name == "anomaly_detector"
    assert logged.experiment_id == run.info.experiment_id and str(logged.status) == "READY"
    assert logged.params["model.code_dim"] == "1"  # the run's params, as MLflow copies them
    detector = load_detector(spiral_run["uri"], f"runs:/{run.info.run_id}/anomaly_detector")
    assert detector.metadata.signature.inputs.input_names() == ["x0", "x1"]
    splits = spiral_data().splits
    scored = detector.predict(pd.DataFrame(splits.test, columns=["x0", "x1"]))
    assert list(scored.columns) == ["score", "is_anomaly", "code_0"]
    outputs = runs.load_arrays(client, run.info.run_id, OUTPUTS_PATH)
    np.testing.assert_allclose(scored["score"], outputs["scores"], rtol=1e-4)  # the evaluation's scores
    # The threshold: the 0.99 quantile of the normal validation samples' scores, and what flags.
    normal = detector.predict(pd.DataFrame(splits.val, columns=["x0", "x1"]))["score"]
    assert run.data.metrics["threshold"] == pytest.approx(np.quantile(normal, 0.99), rel=1e-4)
    assert (scored["is_anomaly"] == (scored["score"] > run.data.metrics["threshold"])).all()
    hits = scored["is_anomaly"].to_numpy() & splits.test_is_anomaly
    assert run.data.metrics["test/true_positives"] == hits.sum()
    assert run.data.metrics["test/recall"] == pytest.approx(hits.sum() / splits.test_is_anomaly.sum())
    with models.fluent_store(spiral_run["uri"]):
        files = Path(mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/anomaly_detector"))
    assert (files / "code" / "autoencoders" / "stages.py").exists()  # the package's source travels
    assert not list(files.rglob("__pycache__"))  # without its bytecode caches
    assert not list(files.rglob("*.pkl"))  # weights, spec and threshold are plain files


def test_another_seed_gives_other_metrics(spiral_run, make_cfg) -> None:
    """The seed is used. That the same seed gives the same metrics, across processes even, is what
    ``test_reliability``'s killed-and-resumed run asserts against ``spiral_run``."""
    first = spiral_run["metrics"]
    other_seed = train(make_cfg(*QUICK_SPIRAL, "seed=1"))
    assert other_seed.keys() == first.keys()
    assert other_seed["train/rmse"] != pytest.approx(first["train/rmse"], abs=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("dataset.batch_size=0", "dataset.batch_size must be a positive integer"),
        ("+model.optimizer.betas=[2,0.9]", "model.optimizer / model.scheduler: Invalid beta parameter"),
        ("dataset.anomaly_margin=5", "dataset.anomaly_margin=5: too little of the box"),
    ],
)
def test_bad_value_stops_before_any_run(make_cfg, client, override, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        train(make_cfg(override))
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_the_chosen_checkpoint_is_what_is_evaluated_returned_and_recorded(spiral_run) -> None:
    client, run = spiral_run["client"], spiral_run["run"]
    history = {point.step: point.value for point in client.get_metric_history(run.info.run_id, "val/loss")}
    chosen = spiral_run["metrics"]["val/loss"]  # what a sweeper is given
    assert run.data.metrics["val/loss/best"] == pytest.approx(chosen)
    # The checkpoint is the lowest val/loss among the epochs it looked at (every epoch here).
    assert chosen == pytest.approx(min(history.values()), rel=1e-5)
    best_epoch = int(run.data.tags["best_epoch"])
    assert history[best_epoch] == pytest.approx(min(history.values()))  # the curve's step


QUICK_CONV = [
    "model=conv",
    "model.net.channels=[4,8]",
    "model.code_dim=4",
    "trainer.max_epochs=2",
    "dataset.source=bundled",
]


def test_short_conv_run_records_everything(make_cfg, client, bundled_root) -> None:
    """Selected by validation AUROC, as the MNIST search does."""
    selection = ["optimized_metric=val/auroc", "optimized_mode=max"]
    before = os.environ.get("MLFLOW_TRACKING_URI")
    metrics = train(make_cfg(*QUICK_CONV, *selection, f"dataset.root={bundled_root}"))
    # Lightning's MLflow logger would leave its store as the process's MLFLOW_TRACKING_URI:
    assert os.environ.get("MLFLOW_TRACKING_URI") == before
    experiment = client.get_experiment_by_name("mnist")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["dataset.source"] == "bundled"
    assert run.data.tags["model"] == "conv"
    assert {"train/loss", "val/loss"} <= set(run.data.metrics)
    for name in ["train/rmse", "test/rmse", "test/mse", "test/auroc", "test/aupr", "val/auroc"]:
        assert run.data.metrics[name] == pytest.approx(metrics[name]), name
    assert 0 <= metrics["val/auroc"] <= 1
    assert run.data.metrics["val/auroc/best"] == pytest.approx(metrics["val/auroc"])  # the evaluated model's
    paths = artifact_paths(client, run.info.run_id)
    for name in ["reconstructions", "codes", "samples", "roc", "scores"]:
        assert f"{name}.png" in paths
    snapshots = [p for p in paths if p.startswith("images/reconstructions") and p.endswith(".png")]
    assert len(snapshots) >= 2  # one per epoch (each also has a compressed copy)
    full = next(p for p in snapshots if "compressed" not in p and "+step+2+" in p)  # epoch 2
    with Image.open(client.download_artifacts(run.info.run_id, full)) as image:
        # Four rows of eight 28-pixel digits (originals over reconstructions), three times enlarged.
        assert image.size == (3 * (8 * 30 + 2), 3 * (4 * 30 + 2))


def test_all_digits_normal_means_no_auroc(make_cfg, client, bundled_root) -> None:
    digits = "dataset.normal_digits=[0,1,2,3,4,5,6,7,8,9]"
    metrics = train(make_cfg(*QUICK_CONV, "trainer.max_epochs=1", digits, f"dataset.root={bundled_root}"))
    assert "test/auroc" not in metrics and "test/mse" in metrics
    (run,) = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    assert "test/auroc" not in run.data.metrics
    assert run.data.tags["anomaly_detection"].startswith("skipped: the test set has no anomalies")


def test_a_run_leaves_no_store_in_the_folder_it_ran_from(make_cfg, client, tmp_path, monkeypatch) -> None:
    """MLflow's fluent API defaults to ./mlflow.db: nothing may reach for it (a plain ``mlflow ui``
    there then opens an empty store)."""
    monkeypatch.chdir(tmp_path)
    train(make_cfg("trainer.max_epochs=1", "dataset.epoch_size=100"))
    assert not (tmp_path / "mlflow.db").exists()
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FINISHED"
