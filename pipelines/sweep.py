"""Hydra multirun, grouped in MLflow: one parent run per sweep, one child run per job.

``MLflowSweepCallback`` (under ``hydra.callbacks`` in ``conf/train.yaml`` and ``conf/pca_baseline.yaml``)
creates the parent run when the multirun starts and writes its id into the sweep folder; every job's
run reads it from there (so any launcher that shares the folder works: in-process, joblib,
submitit) and carries the tag ``mlflow.parentRunId``, its overrides and its job number. When the
sweep ends the parent gets a summary (one row per job: overrides, status, key metrics), the best job
as tags, and FINISHED when every job finished, FAILED otherwise.
"""

from __future__ import annotations

import atexit
import csv
import io
import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from autoencoders import tracking

log = logging.getLogger(__name__)

PARENT_FILE = "mlflow_parent_run_id"
PARENT_TAG = "mlflow.parentRunId"


def sweep_tags() -> dict[str, str]:
    """Tags that put the current job's run under its sweep's parent run ({} outside a multirun)."""
    if not HydraConfig.initialized():
        return {}
    hydra_cfg = HydraConfig.get()
    parent_file = Path(hydra_cfg.sweep.dir) / PARENT_FILE
    if hydra_cfg.mode != RunMode.MULTIRUN or not parent_file.exists():
        return {}
    return {
        PARENT_TAG: parent_file.read_text().strip(),
        "sweep.job_number": str(hydra_cfg.job.num),
        "sweep.overrides": " ".join(hydra_cfg.overrides.task),
    }


def job_run_name(default: str | None = None) -> str | None:
    """``job N`` for a job of a multirun (so its runs are told apart), ``default`` otherwise."""
    if default is None and is_multirun():
        return f"job {HydraConfig.get().job.num}"
    return default


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


class MLflowSweepCallback(Callback):
    """The parent run of a multirun, its summary and its final status."""

    def __init__(
        self, best_metric: str = "val/loss", best_mode: str = "min", summary_metrics: Any = ()
    ) -> None:
        self.best_metric = best_metric
        self.best_mode = best_mode
        self.summary_metrics = list(summary_metrics)
        self.client: MlflowClient | None = None
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = self.sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self.client, self.experiment_id = tracking.open_experiment(
            config.tracking.uri, config.tracking.experiment, config.tracking.get("artifact_root")
        )
        tags = {
            "stage": "sweep",
            "sweep.dir": str(sweep_dir),
            "sweep.overrides": " ".join(config.hydra.overrides.task),
        }
        run = self.client.create_run(self.experiment_id, run_name=f"sweep {sweep_dir.name}", tags=tags)
        self.run_id = run.info.run_id
        temporary = sweep_dir / f".{PARENT_FILE}.tmp"
        temporary.write_text(self.run_id)
        temporary.replace(sweep_dir / PARENT_FILE)
        # A failed job makes Hydra raise after the last job, before on_multirun_end: close the
        # parent run at exit then, so it is never left RUNNING.
        atexit.register(self.finish)
        log.info("sweep parent run %s (%s)", self.run_id, config.tracking.experiment)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """A job that failed before it created its run still gets a FAILED child run."""
        if job_return.status != JobStatus.FAILED:
            return
        tags = sweep_tags()
        if not tags:
            return
        client = MlflowClient(config.tracking.uri)
        parent = client.get_run(tags[PARENT_TAG])
        number = tags["sweep.job_number"]
        if children_of(client, parent.info.run_id, number):
            return
        error = job_return._return_value  # the public property re-raises a failed job's error
        tags["error"] = f"{type(error).__name__}: {error}"[:5000]
        run = client.create_run(parent.info.experiment_id, run_name=job_run_name(), tags=tags)
        client.set_terminated(run.info.run_id, "FAILED")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.finish()

    def finish(self) -> None:
        """Summarise the children into the parent and end it (once)."""
        if self.client is None or self.run_id is None:
            return
        client, run_id = self.client, self.run_id
        self.run_id = None
        status = "FAILED"
        try:
            children = children_of(client, run_id)
            self.summarise(client, run_id, children)
            failed = [run for run in children if run.info.status != "FINISHED"]
            client.set_tag(run_id, "jobs", str(len(children)))
            client.set_tag(run_id, "jobs_failed", str(len(failed)))
            status = "FAILED" if failed or not children else "FINISHED"
            log.info("sweep parent run %s: %d jobs, %d failed", run_id, len(children), len(failed))
        finally:  # whatever failed above, the parent is not left RUNNING
            tracking.retry_locked(client.set_terminated, run_id, status)

    def summarise(self, client: MlflowClient, run_id: str, children: list[Run]) -> None:
        """The summary tables, the best job and an optimiser's results, onto the parent run."""
        client.log_text(run_id, summary_csv(children, self.summary_metrics), "sweep/summary.csv")
        client.log_text(run_id, summary_markdown(children, self.summary_metrics), "sweep/summary.md")
        best = best_run(children, self.best_metric, self.best_mode)
        if best is not None:
            client.set_tag(run_id, "best_job", best.data.tags.get("sweep.job_number", ""))
            client.set_tag(run_id, "best_run_id", best.info.run_id)
            client.set_tag(run_id, "best_overrides", best.data.tags.get("sweep.overrides", ""))
            client.log_metric(run_id, f"best/{self.best_metric}", best.data.metrics[self.best_metric])
        record_optimization(client, run_id, self.sweep_dir)


def children_of(client: MlflowClient, parent_run_id: str, job_number: str | None = None) -> list[Run]:
    """The sweep's job runs, in every experiment (jobs that switch dataset log elsewhere), by job."""
    query = f"tags.`{PARENT_TAG}` = '{parent_run_id}'"
    if job_number is not None:
        query += f" and tags.`sweep.job_number` = '{job_number}'"
    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]
    runs = client.search_runs(experiment_ids, query, max_results=50_000)
    return sorted(runs, key=lambda run: int(run.data.tags.get("sweep.job_number", "0")))


OPTIMIZATION_RESULTS = "optimization_results.yaml"


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


def best_run(runs: list[Run], metric: str, mode: str) -> Run | None:
    """The FINISHED run with the lowest (``min``) or highest (``max``) ``metric``."""
    scored = [
        run
        for run in runs
        if run.info.status == "FINISHED" and math.isfinite(run.data.metrics.get(metric, math.nan))
    ]
    if not scored:
        return None
    pick = min if mode == "min" else max
    return pick(scored, key=lambda run: run.data.metrics[metric])


def summary_rows(runs: list[Run], metrics: list[str]) -> list[list[str]]:
    rows = [["job", "overrides", "status", "run_id", *metrics, "error"]]
    for run in runs:
        values = [f"{run.data.metrics[m]:.6g}" if m in run.data.metrics else "" for m in metrics]
        tags = run.data.tags
        rows.append(
            [
                tags.get("sweep.job_number", ""),
                tags.get("sweep.overrides", ""),
                run.info.status,
                run.info.run_id,
                *values,
                tags.get("error", "").splitlines()[0] if tags.get("error") else "",
            ]
        )
    return rows


def summary_csv(runs: list[Run], metrics: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(summary_rows(runs, metrics))
    return buffer.getvalue()


def summary_markdown(runs: list[Run], metrics: list[str]) -> str:
    header, *rows = summary_rows(runs, metrics)
    lines = ["| " + " | ".join(header) + " |", "| --- " * len(header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
