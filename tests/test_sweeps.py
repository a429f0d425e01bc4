"""Hydra multirun grouped in MLflow: a parent run per sweep, failed jobs recorded, the sweep goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

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


QUICK = ["trainer.max_epochs=4", "dataset.epoch_size=200"]


def test_joblib_runs_jobs_two_at_a_time_against_one_sqlite_store(store, client, tmp_path) -> None:
    result = multirun(
        "train",
        store,
        tmp_path / "sweep",
        *QUICK,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "seed=0,1,2,3",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database is locked" not in result.stderr
    parent, children = sweep_runs(client, "spiral")
    assert parent.info.status == "FINISHED"
    assert [run.info.status for run in children] == ["FINISHED"] * 4
    assert sorted(run.data.params["seed"] for run in children) == ["0", "1", "2", "3"]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout
    spans = sorted((run.info.start_time, run.info.end_time) for run in children)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))  # overlap


def test_optuna_search_runs_trials_as_children_and_records_the_best(store, client, tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = multirun(
        "train", store, sweep_dir, *QUICK, "hparams_search=spiral_optuna", "hydra.sweeper.n_trials=3"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parent, children = sweep_runs(client, "spiral")
    assert len(children) == 3 and parent.info.status == "FINISHED"
    best = min(children, key=lambda run: run.data.metrics["val/loss"])
    results = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    # The entry point returned each trial's val/loss to Optuna: its best value is the best child's.
    assert results.best_value == pytest.approx(best.data.metrics["val/loss"])
    assert parent.data.params["best.model.optimizer.lr"] == best.data.params["model.optimizer.lr"]
    assert parent.data.params["best.model.code_dim"] == best.data.params["model.code_dim"]
    assert parent.data.tags["best_run_id"] == best.info.run_id
    lrs = {run.data.params["model.optimizer.lr"] for run in children}
    assert len(lrs) == 3  # the sampler chose the learning rates


def test_search_and_launcher_configs_compose() -> None:
    from hydra import compose, initialize_config_dir

    from pipelines.common import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        mnist = compose("train", ["hparams_search=mnist_optuna"], return_hydra_config=True)
        slurm = compose("train", ["hydra/launcher=slurm"], return_hydra_config=True)
    assert mnist.dataset.name == "mnist" and mnist.model.name == "conv"
    assert mnist.optimized_metric == "val/auroc" and mnist.hydra.sweeper.direction == "maximize"
    assert mnist.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert (
        slurm.hydra.launcher._target_
        == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert slurm.hydra.launcher.gpus_per_node == 1
