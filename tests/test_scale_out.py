"""Past one process: a real MLflow tracking server over HTTP, and Lightning DDP on CPU (gloo)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from autoencoders.errors import ConfigError
from autoencoders.tracking.runs import stage_run
from autoencoders.tracking.store import Target, open_experiment
from helpers.entry import store_overrides
from helpers.runs import QUICK_SPIRAL, artifact_paths, load_detector
from helpers.server import ADMIN, HOST_NAME
from pipelines import tracking_server
from pipelines.hydra_glue import PROJECT_ROOT, compose_config
from pipelines.train import train

pytestmark = pytest.mark.slow


def test_training_against_a_tracking_server(mlflow_server, monkeypatch, capsys) -> None:
    url, port = mlflow_server.url, mlflow_server.port
    search = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert mlflow_server.status(search) == 401  # the login is on
    named = {"Host": f"{HOST_NAME}:{port}"}  # as a browser at http://mlflow-host:<port> sends it
    assert mlflow_server.status(search, ADMIN, named) == 200
    assert mlflow_server.status(search, ADMIN, {"Host": f"elsewhere.example:{port}"}) == 403  # rebinding
    # A user, created as docs/scale-out.md says, from the UI's own origin (MLflow blocks other origins)
    alice = ("alice", "alice-password-0123")
    origin = {**named, "Origin": f"http://{HOST_NAME}:{port}"}
    create = {"username": alice[0], "password": alice[1]}
    users = "/api/2.0/mlflow/users/create"
    assert mlflow_server.status(users, ADMIN, origin, create) == 200
    # The admin is in MLflow's auth database: a restart needs no password
    assert tracking_server.has_admin(mlflow_server.folder / "basic_auth.db", ADMIN[0])

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", alice[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", alice[1])
    # A URI's credentials win over the environment's (requests sends them): both are alice's here,
    # and neither may show anywhere; everything read back below goes with the environment's alone.
    with_credentials = url.replace("://", f"://{alice[0]}:{alice[1]}@")
    cfg = compose_config("train", ["tracking=server", f"tracking.uri={with_credentials}", *QUICK_SPIRAL])
    metrics = train(cfg)
    client = MlflowClient(url)  # everything below is read back over HTTP
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["train/rmse"] == pytest.approx(metrics["train/rmse"])
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 20
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
    paths = artifact_paths(client, run.info.run_id)
    assert {"roc.png", "config/config.yaml", "checkpoints/best.ckpt"} <= paths
    assert any(mlflow_server.artifacts.rglob("roc.png"))  # stored where the server keeps them
    printed = capsys.readouterr()
    logged = [*run.data.params.values(), *run.data.tags.values(), printed.out, printed.err]
    logged.append(Path(client.download_artifacts(run.info.run_id, "config/config.yaml")).read_text())
    assert not [text for text in logged if alice[1] in text]
    assert run.data.tags["system.tracking.uri"] == url.replace("://", "://***@")
    detector = load_detector(url, f"runs:/{run.info.run_id}/anomaly_detector")  # over HTTP too
    assert detector.unwrap_python_model().detector.spec.state["settings"]["code_dim"] == 1

    # A teammate's first mistakes, in one line: a wrong password; another user's experiment, which
    # MLflow's default_permission=READ lets bob read but not log into. No run is left behind.
    bob = ("bob", "bob-password-01234")
    assert mlflow_server.status(users, ADMIN, body={"username": bob[0], "password": bob[1]}) == 200
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-alices-password")
    with pytest.raises(ConfigError, match="the server wants a login and did not take this one"):
        open_experiment(Target(url, "spiral"))
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", bob[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", bob[1])
    refused = "tracking.experiment=spiral: .* does not let your account log runs"
    with pytest.raises(ConfigError, match=refused), stage_run(Target(url, "spiral"), "bob's", {}, {}, "", []):
        pass
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_ddp_on_two_cpu_processes_makes_one_run(store, client, tmp_path, spiral_run) -> None:
    tracking = store_overrides(store)
    command = [
        sys.executable,
        "-m",
        "pipelines.train",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        f"hydra.run.dir={tmp_path / 'run'}",
        *tracking,
        *QUICK_SPIRAL,
    ]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    output = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, output
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FINISHED", output
    assert run.data.tags["world_size"] == "2", output  # two processes really trained
    assert run.data.params["trainer.strategy"] == "ddp_fork"
    assert "checkpoints/best.ckpt" in artifact_paths(client, run.info.run_id), output  # from rank 0
    assert not list((tmp_path / "run").rglob("epoch=*.ckpt"))  # no default checkpoint callback

    single = spiral_run["metrics"]  # the same config and seed, one process
    # Full-batch steps: the gradient averaged over two 50-point shards equals the 100-point one.
    assert run.data.metrics["train/rmse"] == pytest.approx(single["train/rmse"], rel=1e-3), output
    assert run.data.metrics["test/auroc"] == pytest.approx(single["test/auroc"], abs=1e-3), output
