"""Hydra multiruns grouped in MLflow: a parent run per sweep, failed jobs recorded, the sweep goes on,
jobs in parallel against one SQLite store, and an Optuna search."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from helpers.entry import run_command, run_main, store_overrides
from helpers.runs import artifact_paths

pytestmark = pytest.mark.slow

QUICK = ["trainer.max_epochs=4", "dataset.epoch_size=200"]


def sweep_runs(client: MlflowClient, experiment: str) -> tuple:
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    (parent,) = client.search_runs([experiment_id], "tags.stage = 'sweep'")
    children = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return parent, sorted(children, key=lambda run: int(run.data.tags["sweep.job_number"]))


def test_parallel_jobs_nest_record_a_failure_and_go_on(store, client, tmp_path) -> None:
    """Under joblib, two jobs at a time write to one SQLite store, the failed job 1 is recorded
    by the worker that ran it, and job 2 still runs."""
    sweep = [
        "-m",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *store_overrides(store),
        *QUICK,
        "model.code_dim=1,0,3",
        "seed=0",
    ]
    result = run_command("train", *sweep)
    assert result.returncode != 0  # one job failed
    assert "model.code_dim must be a positive integer, got 0" in result.stderr
    assert "database is locked" not in result.stderr
    assert "Joblib.Parallel(n_jobs=2" in result.stdout
    terminal = result.stdout + result.stderr
    assert "epoch 4/4" in terminal  # what the project says...
    for noise in ["GPU available", "TPU available", "Tip:", "LeafSpec", "Trainer.fit` stopped", "Warning"]:
        assert noise not in terminal, noise  # ...and not the libraries' banners and notices

    parent, children = sweep_runs(client, "spiral")
    assert parent.info.status == "FAILED"
    assert [run.info.status for run in children] == ["FINISHED", "FAILED", "FINISHED"]
    assert (
        children[1].data.tags["error"] == "InvalidParameter: model.code_dim must be a positive integer, got 0"
    )
    assert "model.code_dim=3" in children[2].data.tags["sweep.overrides"]
    names = [run.info.run_name for run in children]
    assert [name.split(": ")[0] for name in names] == ["job 0", "job 1", "job 2"]
    assert names[2].endswith("model.code_dim=3 seed=0")  # named by its overrides, not its paths
    assert "tracking.uri" not in names[2]
    assert parent.data.tags["jobs_failed"] == "1"
    finished = [children[0], children[2]]
    # Two finished runs overlap in time: the workers trained at once (which two depends on how
    # fast each worker imported torch: on a cold start one may begin a job later than the other).
    spans = sorted((run.info.start_time, run.info.end_time) for run in finished)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
    for run in finished:  # ... and each wrote all of its run into the shared SQLite store
        assert run.data.params["model.code_dim"] in {"1", "3"}
        assert len(client.get_metric_history(run.info.run_id, "val/loss")) == 4
        assert {"roc.png", "config/config.yaml", "checkpoints/best.ckpt"} <= artifact_paths(
            client, run.info.run_id
        )

    # The best job is chosen by the value of the model each job evaluated (its best checkpoint's).
    best = min(finished, key=lambda run: run.data.metrics["val/loss/best"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["val/loss/best"] == pytest.approx(best.data.metrics["val/loss/best"])
    summary = mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/sweep/summary.csv").splitlines()
    assert summary[0].startswith("job,overrides,status,run_id,val/loss")
    assert [line.split(",")[0] for line in summary[1:]] == ["0", "1", "2"]
    assert ",FAILED," in summary[2]
    assert (tmp_path / "sweep" / "mlflow_parent_run_id").read_text() == parent.info.run_id


def test_a_pca_sweep_is_grouped_too(store, client, tmp_path, monkeypatch) -> None:
    status = run_main(
        "pca_baseline",
        tmp_path,
        "-m",
        *store_overrides(store),
        "method.n_components=1,2",
        monkeypatch=monkeypatch,
    )
    assert status == 0
    parent, children = sweep_runs(client, "spiral")
    assert parent.info.status == "FINISHED"
    assert [run.data.params["method.n_components"] for run in children] == ["1", "2"]
    assert all(run.data.tags["stage"] == "baseline" for run in children)
    assert parent.data.tags["best_job"] == "1"  # two components reconstruct 2-D points exactly


def test_optuna_search_runs_trials_as_children_and_records_the_best(
    store, client, tmp_path, monkeypatch, capsys
):
    overrides = [*store_overrides(store), *QUICK, "hparams_search=spiral_optuna", "hydra.sweeper.n_trials=2"]
    assert run_main("train", tmp_path, *overrides, monkeypatch=monkeypatch) == 0
    output = capsys.readouterr()
    parent, children = sweep_runs(client, "spiral")
    # A link per run and one for the sweep, opening the training view.
    experiment_id = parent.info.experiment_id
    for run in [*children, parent]:
        link = f"/#/experiments/{experiment_id}/runs/{run.info.run_id}?workflowType=machine_learning"
        assert f"http://127.0.0.1:5000{link}" in output.out

    assert len(children) == 2 and parent.info.status == "FINISHED"
    best = min(children, key=lambda run: run.data.metrics["val/loss/best"])
    results = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    # The entry point returned each trial's evaluated model's val/loss: Optuna's best is the best child's.
    assert results.best_value == pytest.approx(best.data.metrics["val/loss/best"])
    assert parent.data.params["best.model.optimizer.lr"] == best.data.params["model.optimizer.lr"]
    assert parent.data.params["best.model.code_dim"] == best.data.params["model.code_dim"]
    assert parent.data.tags["best_run_id"] == best.info.run_id
    lrs = {run.data.params["model.optimizer.lr"] for run in children}
    assert len(lrs) == 2  # the sampler chose the learning rates
