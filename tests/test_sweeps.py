"""Hydra multirun grouped in MLflow: a parent run per sweep, failed jobs recorded, the sweep goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from pipelines.common import PROJECT_ROOT

pytestmark = pytest.mark.slow


def multirun(
    entry: str, store: dict[str, str], sweep_dir: Path, *overrides: str
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        f"pipelines.{entry}",
        "-m",
        f"tracking.uri={store['uri']}",
        f"tracking.artifact_root={store['artifact_root']}",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    ]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def sweep_runs(client: MlflowClient, experiment: str) -> tuple:
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    (parent,) = client.search_runs([experiment_id], "tags.stage = 'sweep'")
    children = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return parent, sorted(children, key=lambda run: int(run.data.tags["sweep.job_number"]))


def test_a_sweep_nests_its_jobs_records_a_failure_and_goes_on(store, client, tmp_path) -> None:
    quick = ["trainer.max_epochs=4", "dataset.epoch_size=200"]
    result = multirun("train", store, tmp_path / "sweep", *quick, "model.code_dim=1,0,2")
    assert result.returncode != 0  # one job failed
    assert "model.code_dim must be a positive integer, got 0" in result.stderr

    parent, children = sweep_runs(client, "spiral")
    assert parent.info.status == "FAILED"
    assert [run.info.status for run in children] == ["FINISHED", "FAILED", "FINISHED"]  # job 2 still ran
    assert children[1].data.tags["error"] == "ConfigError: model.code_dim must be a positive integer, got 0"
    assert "model.code_dim=2" in children[2].data.tags["sweep.overrides"]
    assert [run.info.run_name for run in children] == ["job 0", "job 1", "job 2"]
    assert parent.data.tags["jobs_failed"] == "1"

    best = min((children[0], children[2]), key=lambda run: run.data.metrics["val/loss"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best/val/loss"] == pytest.approx(best.data.metrics["val/loss"])
    summary = mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/sweep/summary.csv").splitlines()
    assert summary[0].startswith("job,overrides,status,run_id,val/loss")
    assert [line.split(",")[0] for line in summary[1:]] == ["0", "1", "2"]
    assert ",FAILED," in summary[2]
    assert (tmp_path / "sweep" / "mlflow_parent_run_id").read_text() == parent.info.run_id


def test_a_pca_sweep_is_grouped_too(store, client, tmp_path) -> None:
    result = multirun("pca_baseline", store, tmp_path / "sweep", "n_components=1,2")
    assert result.returncode == 0, result.stderr[-2000:]
    parent, children = sweep_runs(client, "spiral")
    assert parent.info.status == "FINISHED"
    assert [run.data.params["n_components"] for run in children] == ["1", "2"]
    assert all(run.data.tags["stage"] == "pca_baseline" for run in children)
    assert parent.data.tags["best_job"] == "1"  # two components reconstruct 2-D points exactly
