"""Continuing a run that stopped (KILLED or FAILED) from the last checkpoint it kept, and the
messages that point a user at a run: its UI link, what it measured, how to resume it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping

from mlflow.tracking import MlflowClient

from autoencoders.errors import ConfigError
from autoencoders.tracking import runs
from autoencoders.tracking.store import is_local_store, prepare_store

LAST_CHECKPOINT = "checkpoints/last.ckpt"


def has_last_checkpoint(client: MlflowClient, run_id: str) -> bool:
    return LAST_CHECKPOINT in {item.path for item in client.list_artifacts(run_id, "checkpoints")}


def resumable_config(uri: str, run_id: str) -> tuple[str, str]:
    """The logged config and experiment of the run ``resume`` names; a run that is not KILLED or
    FAILED, or one without a last checkpoint, stops here, before anything is built."""
    text, experiment = runs.logged_config(uri, run_id, "resume")
    client = MlflowClient(uri)
    status = client.get_run(run_id).info.status
    if status not in (runs.KILLED, runs.FAILED):
        raise ConfigError(f"resume={run_id}: the run is {status}; only KILLED or FAILED runs can be resumed")
    if not has_last_checkpoint(client, run_id):
        raise ConfigError(
            f"resume={run_id}: the run kept no {LAST_CHECKPOINT} (it stopped before its first "
            "checkpoint); start a new run instead"
        )
    return text, experiment


@contextlib.contextmanager
def resumed_run(uri: str, run_id: str) -> Iterator[tuple[MlflowClient, str, str]]:
    """The KILLED or FAILED run, RUNNING again: its params and config stay as they were logged.
    Yields ``(client, experiment_id, run_id)``."""
    client = prepare_store(uri)
    experiment_id = client.get_run(run_id).info.experiment_id
    with runs.reopened_run(client, run_id):
        yield client, experiment_id, run_id


def print_resume_hint(client: MlflowClient, run_id: str) -> None:
    """How to continue a run that stopped, when it kept a checkpoint to continue from."""
    with contextlib.suppress(Exception):  # the run is ending anyway: a hint, not a second error
        if not has_last_checkpoint(client, run_id):
            return
        print(f"run {run_id} stopped; its last checkpoint is kept. Resume it with:", file=sys.stderr)
        print(f"  python -m pipelines.train resume={run_id}", file=sys.stderr)


def print_link(uri: str, ui_url: str, experiment_id: str, run_id: str, what: str = "the run") -> None:
    """The UI link of a run: its training view, on the host and port ``tracking.ui_url`` names."""
    hint = " (make ui first)" if is_local_store(uri) else ""
    print(f"{what} in the MLflow UI{hint}: {runs.ui_link(ui_url, experiment_id, run_id)}")


def print_summary(
    uri: str, ui_url: str, experiment: str, ids: tuple[str, str], metrics: Mapping[str, float]
) -> None:
    """What the run measured and where to look at it; ``ids``: (experiment id, run id)."""
    width = max(map(len, metrics), default=0)
    lines = [f"{name:>{width}}  {value:.6g}" for name, value in metrics.items()]
    print("\n".join(["", f"run {ids[1]} FINISHED ({experiment})", *lines]))
    print_link(uri, ui_url, *ids)
