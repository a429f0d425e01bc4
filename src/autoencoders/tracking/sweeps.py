"""A multirun in MLflow: one parent run per sweep, one child run per job, a summary at the end.

The parent's id is written into the sweep folder, from which every job reads it (so any launcher
that shares the folder works: in-process, joblib, submitit).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from autoencoders.tracking.runs import FAILED, FINISHED, end_run, log_metrics, record_failed_run
from autoencoders.tracking.store import Target, open_experiment, redact, retry_locked
from autoencoders.training.selection import Selection, best_name, selected_value
from autoencoders.util.files import markdown_table

log = logging.getLogger(__name__)

PARENT_FILE = "mlflow_parent_run_id"
PARENT_TAG = "mlflow.parentRunId"
JOB_TAG = "sweep.job_number"
OVERRIDES_TAG = "sweep.overrides"
OPTIMIZATION_RESULTS = "optimization_results.yaml"


def start_sweep(target: Target, sweep_dir: Path, overrides: Sequence[str]) -> tuple[MlflowClient, str]:
    """Create the sweep's parent run (and the store and experiment, before any job races for them)
    and write its id into the sweep folder, atomically."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    client, experiment_id = open_experiment(target)
    tags = {"stage": "sweep", "sweep.dir": str(sweep_dir), OVERRIDES_TAG: redact(" ".join(overrides))}
    run = retry_locked(client.create_run, experiment_id, run_name=f"sweep {sweep_dir.name}", tags=tags)
    temporary = sweep_dir / f".{PARENT_FILE}.tmp"
    temporary.write_text(run.info.run_id)
    temporary.replace(sweep_dir / PARENT_FILE)
    log.info("sweep parent run %s (%s)", run.info.run_id, target.experiment)
    return client, run.info.run_id


def job_tags(sweep_dir: Path, job_number: int, overrides: Sequence[str]) -> dict[str, str]:
    """Tags that put a job's run under its sweep's parent ({} when the sweep has no parent run)."""
    parent_file = sweep_dir / PARENT_FILE
    if not parent_file.exists():
        return {}
    return {
        PARENT_TAG: parent_file.read_text().strip(),
        JOB_TAG: str(job_number),
        OVERRIDES_TAG: redact(" ".join(overrides)),
    }


def record_failed_job(uri: str, tags: dict[str, str], run_name: str | None, error: BaseException) -> None:
    """A FAILED child run for a job that failed before it opened its own (a bad override)."""
    client = MlflowClient(uri)
    if children_of(client, tags[PARENT_TAG], tags[JOB_TAG]):
        return
    parent = retry_locked(client.get_run, tags[PARENT_TAG])
    record_failed_run(uri, parent.info.experiment_id, run_name, tags, error)


def finish_sweep(
    client: MlflowClient,
    run_id: str,
    selection: Selection | None,
    summary_metrics: Sequence[str],
    sweep_dir: Path | None,
) -> str:
    """Summarise the children into the parent (the best job where there is a ``selection``) and end
    it: FINISHED when every job finished, FAILED otherwise or when summarising failed."""
    status = FAILED
    try:
        children = children_of(client, run_id)
        record_summary(client, run_id, children, selection, summary_metrics)
        record_optimization(client, run_id, sweep_dir)
        failed = [run for run in children if run.info.status != FINISHED]
        client.set_tag(run_id, "jobs", str(len(children)))
        client.set_tag(run_id, "jobs_failed", str(len(failed)))
        status = FAILED if failed or not children else FINISHED
        log.info("sweep parent run %s: %d jobs, %d failed", run_id, len(children), len(failed))
    finally:  # whatever failed above, the parent is not left RUNNING
        end_run(client, run_id, status)
    return status


def children_of(client: MlflowClient, parent_run_id: str, job_number: str | None = None) -> list[Run]:
    """The sweep's job runs, in every experiment (jobs that switch dataset log elsewhere), by job."""
    query = f"tags.`{PARENT_TAG}` = '{parent_run_id}'"
    if job_number is not None:
        query += f" and tags.`{JOB_TAG}` = '{job_number}'"
    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]
    runs = client.search_runs(experiment_ids, query, max_results=50_000)
    return sorted(runs, key=lambda run: int(run.data.tags.get(JOB_TAG, "0")))


def best_run(runs: Sequence[Run], selection: Selection) -> Run | None:
    """The FINISHED run whose evaluated model is best by ``selection``."""
    finished = [run for run in runs if run.info.status == FINISHED]
    return selection.best(finished, lambda run: selected_value(run.data.metrics, selection.metric))


def record_summary(
    client: MlflowClient,
    run_id: str,
    children: list[Run],
    selection: Selection | None,
    metrics: Sequence[str],
) -> None:
    """The summary tables and the best job, onto the parent run."""
    client.log_text(run_id, summary_csv(children, metrics), "sweep/summary.csv")
    client.log_text(run_id, summary_markdown(children, metrics), "sweep/summary.md")
    best = best_run(children, selection) if selection else None
    if best is not None:
        client.set_tag(run_id, "best_job", best.data.tags.get(JOB_TAG, ""))
        client.set_tag(run_id, "best_run_id", best.info.run_id)
        client.set_tag(run_id, "best_overrides", best.data.tags.get(OVERRIDES_TAG, ""))
        # The best job's metrics on the parent too: a collapsed sweep shows what it found.
        names = dict.fromkeys([selection.metric, *metrics])
        found = {name: selected_value(best.data.metrics, name) for name in names}
        log_metrics(
            client, run_id, {best_name(name): value for name, value in found.items() if value is not None}
        )


def record_optimization(client: MlflowClient, run_id: str, sweep_dir: Path | None) -> None:
    """An optimising sweeper's result file (Optuna: best parameters and value) onto the parent run."""
    results = sweep_dir / OPTIMIZATION_RESULTS if sweep_dir else None
    if results is None or not results.exists():
        return
    client.log_artifact(run_id, str(results), "sweep")
    found = OmegaConf.load(results)
    for name, value in (found.get("best_params") or {}).items():
        client.log_param(run_id, f"best.{name}", value)
    if "best_value" in found:
        client.set_tag(run_id, "best_value", str(found.best_value))


def summary_rows(runs: Sequence[Run], metrics: Sequence[str]) -> list[list[str]]:
    """A header and a row per job; a metric column only where some job has that metric."""
    values = {
        metric: [selected_value(run.data.metrics, metric) for run in runs]
        for metric in dict.fromkeys(metrics)
    }
    shown = [metric for metric, found in values.items() if any(v is not None for v in found)]
    rows = [["job", "overrides", "status", "run_id", *shown, "error"]]
    for index, run in enumerate(runs):
        tags = run.data.tags
        cells = [f"{values[m][index]:.6g}" if values[m][index] is not None else "" for m in shown]
        error = tags.get("error", "")
        row = [tags.get(JOB_TAG, ""), tags.get(OVERRIDES_TAG, ""), run.info.status, run.info.run_id]
        rows.append([*row, *cells, error.splitlines()[0] if error else ""])
    return rows


def summary_csv(runs: Sequence[Run], metrics: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(summary_rows(runs, metrics))
    return buffer.getvalue()


def summary_markdown(runs: Sequence[Run], metrics: Sequence[str]) -> str:
    header, *rows = summary_rows(runs, metrics)
    return markdown_table(header, rows) + "\n"
