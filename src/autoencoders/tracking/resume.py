"""Continuing a run that stopped (KILLED or FAILED, or RUNNING on a tracking server that stopped
answering) from the last checkpoint it kept, and the messages that point a user at a run: its UI
link, what it measured, how to resume it."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from mlflow.entities import Metric, Run
from mlflow.tracking import MlflowClient

from autoencoders.errors import ConfigError, TrackingServerGone
from autoencoders.tracking import runs
from autoencoders.tracking.store import is_local_store, prepare_store, redact, retry_locked, unanswered
from autoencoders.util.files import atomic_file

LAST_CHECKPOINT = "checkpoints/last.ckpt"
#: The tag naming a training's checkpoint folder on the machine that trains it.
CHECKPOINT_DIR_TAG = "system.checkpoint_dir"  # a machine path: among the system.* tags
#: Written beside the last checkpoint when the run's tracking server stopped answering: the run's id
#: and the metrics the server never took. It is what makes that RUNNING run resumable from here.
SERVER_GONE_MARK = "server-gone.json"


def mark_server_gone(folder: Path, run_id: str, pending: Sequence[Metric]) -> Path | None:
    """Mark the last checkpoint in ``folder`` as the one ``resume`` continues ``run_id`` from, with the
    ``pending`` metrics the server did not take. Returns the folder; None where no last checkpoint
    was saved yet (nothing to resume from)."""
    if not (folder / "last.ckpt").is_file():
        return None
    record = {"run_id": run_id, "metrics": [[m.key, m.value, m.timestamp, m.step] for m in pending]}
    with atomic_file(folder / SERVER_GONE_MARK) as stream:
        stream.write(json.dumps(record).encode())
    return folder


def marked_checkpoints(run: Run) -> Path | None:
    """The folder on this machine that holds ``run``'s last checkpoint, marked by its own process when
    its tracking server stopped answering; None for anything else (a run still training, one that
    trained on another machine)."""
    folder = run.data.tags.get(CHECKPOINT_DIR_TAG)
    if not folder:
        return None
    try:
        record = json.loads((Path(folder) / SERVER_GONE_MARK).read_text())
    except (OSError, ValueError):
        return None
    if record.get("run_id") != run.info.run_id or not (Path(folder) / "last.ckpt").is_file():
        return None
    return Path(folder)


def log_unlogged(client: MlflowClient, run_id: str, folder: Path) -> None:
    """Log the metrics the lost server did not take (``folder``'s mark), then remove the mark: they are
    logged once, whatever becomes of the resumed run."""
    record = json.loads((folder / SERVER_GONE_MARK).read_text())
    metrics = [Metric(key, value, timestamp, step) for key, value, timestamp, step in record["metrics"]]
    if metrics:
        retry_locked(client.log_batch, run_id, metrics=metrics)
    (folder / SERVER_GONE_MARK).unlink()


def server_gone(uri: str, run_id: str, error: BaseException, kept: Path | None = None) -> TrackingServerGone:
    """The one line for a run whose tracking server stopped answering: which server, why, and where
    the training's last checkpoint stays (``kept``: marked for resume) or that the run stays RUNNING."""
    said = f"the tracking server {redact(uri)} stopped answering ({unanswered(error)})"
    if kept is None:
        return TrackingServerGone(f"{said}; run {run_id} could not be ended there and stays RUNNING")
    return TrackingServerGone(
        f"{said}; the run's last checkpoint is kept in {kept}; when the server is back: "
        f"python -m pipelines.train resume={run_id}"
    )


def has_last_checkpoint(client: MlflowClient, run_id: str) -> bool:
    return LAST_CHECKPOINT in {item.path for item in client.list_artifacts(run_id, "checkpoints")}


def resumable_config(uri: str, run_id: str) -> tuple[str, str]:
    """The logged config and experiment of the run ``resume`` names; a run that is not KILLED or
    FAILED (nor RUNNING with a checkpoint marked here when its server stopped answering), or one
    without a last checkpoint, stops here, before anything is built."""
    text, experiment = runs.logged_config(uri, run_id, "resume")
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    status = run.info.status
    if status == runs.RUNNING and marked_checkpoints(run):
        return text, experiment
    if status not in (runs.KILLED, runs.FAILED):
        lost = ", or RUNNING ones whose tracking server stopped answering, on the machine that trained them"
        raise ConfigError(
            f"resume={run_id}: the run is {status}; only KILLED or FAILED runs can be resumed"
            + (lost if status == runs.RUNNING else "")
        )
    if not has_last_checkpoint(client, run_id):
        raise ConfigError(
            f"resume={run_id}: the run kept no {LAST_CHECKPOINT} (it stopped before its first "
            "checkpoint); start a new run instead"
        )
    return text, experiment


@contextlib.contextmanager
def resumed_run(uri: str, run_id: str) -> Iterator[tuple[MlflowClient, str, str]]:
    """The run to resume, RUNNING (again): its params and config stay as they were logged.
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
