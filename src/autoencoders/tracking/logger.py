"""An MLflow logger for Lightning that writes metrics in batches rather than one call per epoch."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from mlflow.entities import Metric
from pytorch_lightning.loggers import MLFlowLogger
from pytorch_lightning.utilities import rank_zero_only

from autoencoders.tracking.store import retry_locked, unanswered


class BufferedMLFlowLogger(MLFlowLogger):
    """Lightning's MLflow logger, with metrics held back and written in one ``log_batch`` every
    ``flush_seconds`` (or 1000 values), and on ``finalize``; every value's step is the epoch.

    A small model runs hundreds of epochs a second-or-so each; one database write per epoch would
    cost more than the training. The UI still sees live curves, ``flush_seconds`` behind. The epoch
    (counted from 1) as the step puts losses, the learning rate and the per-epoch images on one x
    axis (Lightning would log its global step, and ``epoch`` as a metric of its own), and leaves
    step 0 to the final metrics, which MLflow links to the logged model.
    """

    def __init__(
        self,
        *args: Any,
        epoch: Callable[[], int],
        flush_seconds: float = 10.0,
        logged_steps: Mapping[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        """``logged_steps``: per metric, the last step a resumed run already holds; the epochs up
        to it, trained again from the last checkpoint, are not logged a second time."""
        super().__init__(*args, **kwargs)
        self.epoch = epoch
        self.logged_steps = dict(logged_steps or {})
        self.flush_seconds = flush_seconds
        self._buffer: list[Metric] = []
        self._last_flush = time.monotonic()
        self.server_gone = False

    @property
    def experiment(self) -> Any:
        """Lightning's client, without the ``MLFLOW_TRACKING_URI`` that Lightning's first access sets
        for the whole process (a later config in the same process, or a command it starts, would
        otherwise write into this run's store)."""
        before = os.environ.get("MLFLOW_TRACKING_URI")
        try:
            return super().experiment
        finally:
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = before

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        stamp, epoch = int(time.time() * 1000), self.epoch()
        for key, value in metrics.items():
            if isinstance(value, str) or key == "epoch":
                continue
            name = re.sub("[^a-zA-Z0-9_/. -]+", "", self._prefix + key)
            if epoch <= self.logged_steps.get(name, 0):
                continue
            self._buffer.append(Metric(key=name, value=float(value), timestamp=stamp, step=epoch))
        if len(self._buffer) >= 1000 or time.monotonic() - self._last_flush > self.flush_seconds:
            self.flush()

    @property
    def pending(self) -> list[Metric]:
        """The metrics held back and not written yet (all of them once the server is gone)."""
        return list(self._buffer)

    @rank_zero_only
    def flush(self) -> None:
        """Write every held-back metric now. Once the tracking server has stopped answering, they stay
        held (:attr:`pending`) and no later flush tries again: each try would wait through MLflow's
        retries once more (Lightning calls ``finalize`` again on the way out of ``fit``)."""
        if self._buffer and not self.server_gone:  # MLflow's log_batch splits it into batches
            try:
                retry_locked(self.experiment.log_batch, run_id=self.run_id, metrics=self._buffer)
            except Exception as error:
                self.server_gone = unanswered(error) is not None
                raise
            self._buffer = []
        self._last_flush = time.monotonic()

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        """Flush only: the run is ended by whoever opened it (``tracking.runs.tracked_run``), after the
        evaluation and the model are logged, not by Lightning at the end of ``fit``."""
        self.flush()
