"""The tracking store: a client for its URI, its experiments, and retries while SQLite is locked."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where a run goes: the store's URI, the experiment's name and, for a local store, the folder
    that holds new experiments' artifacts (a tracking server decides that itself)."""

    uri: str
    experiment: str
    artifact_root: str | None = None


def retry_locked(call: Callable[..., T], *args: Any, attempts: int = 8, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, retried with backoff while SQLite answers "database is locked"
    (parallel sweep jobs writing to one local store)."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except MlflowException as error:
            if "database is locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.1 * 2**attempt)
    raise RuntimeError("unreachable")


def is_local_store(uri: str) -> bool:
    """True for a store on this machine (SQLite), whose artifacts we place ourselves."""
    return uri.startswith("sqlite:")


def prepare_store(uri: str) -> MlflowClient:
    """A client for ``uri``; a local SQLite store gets its folder created first."""
    if is_local_store(uri):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(uri)


def open_experiment(target: Target) -> tuple[MlflowClient, str]:
    """A client for the target's store and the id of its experiment (created if needed)."""
    client = prepare_store(target.uri)
    root = target.artifact_root if is_local_store(target.uri) else None
    return client, prepare_experiment(client, target.experiment, root)


def prepare_experiment(client: MlflowClient, name: str, artifact_root: str | None) -> str:
    """The experiment's id, creating it (artifacts under ``artifact_root/<name>``) if needed.

    Creation can race with another process doing the same (parallel sweep jobs): the loser of the
    race reads the winner's experiment instead of failing.
    """
    for attempt in range(5):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        location = (Path(artifact_root) / name).resolve().as_uri() if artifact_root else None
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise RuntimeError("unreachable")
