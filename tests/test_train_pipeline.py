"""End to end: a short ``pipelines.train`` run against a temporary tracking store."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import mlflow.pyfunc
import mlflow.pytorch
import numpy as np
import pytest
import torch

from autoencoders.data.spiral import spiral_points
from autoencoders.errors import ConfigError
from conftest import QUICK_SPIRAL, artifact_paths
from pipelines.common import PROJECT_ROOT
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


def test_losses_are_logged_per_epoch_and_fall(spiral_run) -> None:
    client, run_id = spiral_run["client"], spiral_run["run"].info.run_id
    for name in ["train/loss", "val/loss"]:
        history = client.get_metric_history(run_id, name)
        assert len(history) == 20
        values = [point.value for point in sorted(history, key=lambda point: point.step)]
        assert values[-1] < 0.8 * values[0]


def test_every_artifact_is_logged(spiral_run) -> None:
    paths = artifact_paths(spiral_run["client"], spiral_run["run"].info.run_id)
    assert {f"figures/{name}.png" for name in FIGURES} <= paths
    assert {"config/config.yaml", "config/overrides.yaml", "checkpoints/best.ckpt"} <= paths


def test_logged_model_reconstructs_to_the_logged_rmse(spiral_run) -> None:
    mlflow.set_tracking_uri(spiral_run["uri"])
    run = spiral_run["run"]
    # MLflow 3 keeps models as LoggedModels, linked to the run as outputs, not as run artifacts.
    (output,) = run.outputs.model_outputs
    logged = spiral_run["client"].get_logged_model(output.model_id)
    assert logged.source_run_id == run.info.run_id
    assert logged.name == "model"
    model = mlflow.pytorch.load_model(f"runs:/{run.info.run_id}/model")
    x = spiral_points(100, 0)
    with torch.no_grad():
        x_hat = model(torch.as_tensor(x, dtype=torch.float32)).numpy()
        codes = model.encode(torch.as_tensor(x, dtype=torch.float32))
    assert codes.shape == (100, 1)
    rmse = np.sqrt(((x - x_hat) ** 2).sum() / len(x))
    assert rmse == pytest.approx(run.data.metrics["train/rmse"], rel=1e-5)
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")  # what REST serving loads
    np.testing.assert_allclose(served.predict(x.astype(np.float32)), x_hat, rtol=1e-6)


def test_same_seed_gives_the_same_metrics(spiral_run, make_cfg) -> None:
    again = train(make_cfg(*QUICK_SPIRAL))
    first = spiral_run["metrics"]
    assert again.keys() == first.keys()
    for name, value in first.items():
        assert again[name] == pytest.approx(value, abs=1e-6), name
    other_seed = train(make_cfg(*QUICK_SPIRAL, "seed=1"))
    assert other_seed["train/rmse"] != pytest.approx(first["train/rmse"], abs=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("dataset.batch_size=0", "dataset.batch_size must be a positive integer"),
        ("model.optimizer.lr=-1", "model.optimizer / model.scheduler: Invalid learning rate"),
        ("trainer.devices=0", "trainer: "),
        ("trainer.precision=12", "trainer: "),
        ("dataset.anomaly_margin=5", "dataset.anomaly_margin=5: too little of the box"),
    ],
)
def test_bad_value_stops_before_any_run(make_cfg, client, override, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        train(make_cfg(override))
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_command_line_reports_bad_input_in_one_line(store) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.train", f"tracking.uri={store['uri']}", "model.code_dim=0"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: model.code_dim must be a positive integer, got 0"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sigterm_ends_the_run_killed_not_running(store, client) -> None:
    command = [
        sys.executable,
        "-m",
        "pipelines.train",
        f"tracking.uri={store['uri']}",
        f"tracking.artifact_root={store['artifact_root']}",
        "trainer.max_epochs=100000",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not client.search_runs([e.experiment_id for e in client.search_experiments()]):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(2)  # well inside fit()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "KILLED"
