"""A sweep's records: its best job by the selection metric, its summary, its status, failed jobs."""

from __future__ import annotations

import pytest

from autoencoders.tracking import sweeps
from autoencoders.tracking.store import Target
from autoencoders.training.selection import Selection, selected_value
from helpers.runs import write_run


def child(client, parent_id: str, job: int, metrics: dict, status: str = "FINISHED", error: str = ""):
    tags = {sweeps.PARENT_TAG: parent_id, sweeps.JOB_TAG: str(job), sweeps.OVERRIDES_TAG: f"seed={job}"}
    return write_run(client, "spiral", {**tags, **({"error": error} if error else {})}, {}, metrics, status)


@pytest.mark.parametrize(("mode", "best_job"), [("min", 2), ("max", 0)])
def test_the_best_job_is_the_finished_one_best_by_the_chosen_models_value(client, mode, best_job) -> None:
    runs = [
        # The last epoch's value (val/loss) would rank jobs 0 and 2 the other way round.
        child(client, "p", 0, {"val/loss": 0.2, "val/loss/best": 0.5}),
        child(client, "p", 1, {"val/loss": 0.0}, status="FAILED"),  # never chosen
        child(client, "p", 2, {"val/loss": 0.3, "val/loss/best": 0.4}),
        child(client, "p", 3, {"test/rmse": 0.1}),  # no value: never chosen
    ]
    best = sweeps.best_run(runs, Selection("val/loss", mode))
    assert best.data.tags[sweeps.JOB_TAG] == str(best_job)


def test_the_selected_value_prefers_the_chosen_checkpoints() -> None:
    assert selected_value({"val/loss": 0.9, "val/loss/best": 0.5}, "val/loss") == 0.5
    assert selected_value({"val/loss": 0.9, "best/val/loss": 0.4}, "val/loss") == 0.4  # older runs
    assert selected_value({"test/rmse": 0.2}, "test/rmse") == 0.2
    assert selected_value({"test/rmse": float("nan")}, "test/rmse") is None
    assert Selection("m", "max").best([], lambda run: 1.0) is None


def test_the_summary_has_a_row_per_job_and_the_columns_some_job_has(client) -> None:
    runs = [
        child(client, "p", 0, {"val/loss/best": 0.5, "train/rmse": 0.02}),
        child(client, "p", 1, {}, status="FAILED", error="ConfigError: bad\ntraceback"),
    ]
    header, *rows = sweeps.summary_rows(runs, ["val/loss", "test/auroc", "train/rmse"])
    assert header == ["job", "overrides", "status", "run_id", "val/loss", "train/rmse", "error"]
    assert rows[0][:3] == ["0", "seed=0", "FINISHED"] and rows[0][4:] == ["0.5", "0.02", ""]
    assert rows[1][2] == "FAILED" and rows[1][-1] == "ConfigError: bad"
    assert sweeps.summary_markdown(runs, ["val/loss"]).splitlines()[1] == "| --- " * 6 + "|"


def test_a_sweep_starts_a_parent_then_ends_it_with_its_summary(store, client, tmp_path) -> None:
    target = Target(store["uri"], "spiral", store["artifact_root"])
    _, parent_id = sweeps.start_sweep(target, tmp_path / "sweep", ["seed=0,1"])
    assert (tmp_path / "sweep" / sweeps.PARENT_FILE).read_text() == parent_id
    tags = sweeps.job_tags(tmp_path / "sweep", 1, ["seed=1"])
    assert tags == {sweeps.PARENT_TAG: parent_id, sweeps.JOB_TAG: "1", sweeps.OVERRIDES_TAG: "seed=1"}
    child(client, parent_id, 0, {"val/loss/best": 0.5, "test/auroc": 0.9})
    child(client, parent_id, 1, {"val/loss/best": 0.2, "test/auroc": 0.8})
    summary = ["val/loss", "test/auroc", "test/aupr"]
    status = sweeps.finish_sweep(client, parent_id, Selection("val/loss", "min"), summary, None)
    parent = client.get_run(parent_id)
    assert status == parent.info.status == "FINISHED"
    assert parent.data.tags["best_job"] == "1" and parent.data.tags["jobs"] == "2"
    # The best job's metrics, so that a collapsed sweep shows what it found.
    assert parent.data.metrics == {"val/loss/best": 0.2, "test/auroc/best": 0.8}
    assert parent.data.tags["stage"] == "sweep"


def test_a_job_that_failed_before_its_run_gets_one_failed_run_and_fails_the_sweep(store, client, tmp_path):
    target = Target(store["uri"], "spiral", store["artifact_root"])
    _, parent_id = sweeps.start_sweep(target, tmp_path / "sweep", [])
    child(client, parent_id, 0, {"val/loss/best": 0.5})
    tags = sweeps.job_tags(tmp_path / "sweep", 1, ["model.code_dim=0"])
    for _ in range(2):  # recorded once, however often it is reported
        sweeps.record_failed_job(store["uri"], tags, "job 1", ValueError("model.code_dim must be positive"))
    (failed,) = sweeps.children_of(client, parent_id, "1")
    assert failed.info.status == "FAILED" and failed.info.run_name == "job 1"
    assert failed.data.tags["error"] == "ValueError: model.code_dim must be positive"
    assert sweeps.finish_sweep(client, parent_id, Selection("val/loss"), [], None) == "FAILED"
    assert client.get_run(parent_id).data.tags["jobs_failed"] == "1"
