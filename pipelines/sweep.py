"""The Hydra callback that groups a multirun in MLflow (``hydra.callbacks``, ``conf/hydra/default.yaml``);
every step is ``autoencoders.tracking.sweeps``'s: parent run, failed jobs, summary, best job, status."""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from autoencoders.tracking import sweeps
from autoencoders.tracking.resume import print_link
from autoencoders.training.selection import MODES, Selection
from pipelines.hydra_glue import job_run_name, job_tags, tracking_target


class MLflowSweepCallback(Callback):
    """The parent run of a multirun, its failed jobs, its summary and its final status."""

    def __init__(self, best_metric: str, best_mode: str, summary_metrics: Sequence[str] = ()) -> None:
        # Checked when the sweep ends: Hydra builds callbacks outside the jobs' one-line errors.
        self.best_metric, self.best_mode = best_metric, best_mode
        self.summary_metrics = list(summary_metrics)
        self.client: MlflowClient | None = None
        self.run_id: str | None = None
        self.sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.sweep_dir = Path(config.hydra.sweep.dir)
        target = tracking_target(config.tracking)
        self.client, self.run_id = sweeps.start_sweep(target, self.sweep_dir, config.hydra.overrides.task)
        self.tracking = config.tracking
        self.experiment_id = self.client.get_run(self.run_id).info.experiment_id
        atexit.register(self.finish)  # a failed job makes Hydra raise before on_multirun_end

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """A job that failed before it created its run still gets a FAILED child run."""
        tags = job_tags()
        if job_return.status == JobStatus.FAILED and tags:
            error = job_return._return_value  # the public property re-raises a failed job's error
            name = job_run_name(config.get("run_name"), "failed before its run")
            sweeps.record_failed_job(config.tracking.uri, tags, name, error)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.finish()

    def finish(self) -> None:
        """Summarise the children into the parent and end it (once)."""
        if self.client is None or self.run_id is None:
            return
        run_id, self.run_id = self.run_id, None
        selection = Selection(self.best_metric, self.best_mode) if self.best_mode in MODES else None
        sweeps.finish_sweep(self.client, run_id, selection, self.summary_metrics, self.sweep_dir)
        print_link(self.tracking.uri, self.tracking.ui_url, self.experiment_id, run_id, "the sweep")
