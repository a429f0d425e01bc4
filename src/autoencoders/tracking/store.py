"""The tracking store: a client for its URI, its experiments, and retries while SQLite is locked."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from autoencoders.errors import ConfigError

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


#: What ``requests`` raises, under MLflow's ``MlflowException``, once its retries found no server: a
#: refused or cut connection, a timeout, a gateway's 5xx answers.
UNANSWERED = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.RetryError,
)


def unanswered(error: BaseException) -> str | None:
    """Why a tracking server did not answer (``[Errno 111] Connection refused``), where ``error`` or
    an error it arose from says so; None for any other error. MLflow's client has already retried
    by then (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, about 4 minutes by its defaults). A Ctrl-C or
    SIGTERM is not one, even one that lands while the client waits to retry."""
    if not isinstance(error, Exception):
        return None
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        if isinstance(found, UNANSWERED):
            reason = re.search(r"\[Errno -?\d+\] [^'\")]+|too many \d+ error responses|timed out", str(found))
            return reason.group(0) if reason else type(found).__name__
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return None


def is_local_store(uri: str) -> bool:
    """True for a store on this machine (SQLite), whose artifacts we place ourselves."""
    return uri.startswith("sqlite:")


def prepare_store(uri: str) -> MlflowClient:
    """A client for ``uri``; a local SQLite store gets its folder created first, a tracking server
    must answer first."""
    if is_local_store(uri):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    check_reachable(uri)
    return MlflowClient(uri)


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """A ConfigError within ``timeout`` seconds when an ``http(s)`` tracking URI has no MLflow server
    answering: MLflow's client would retry a dead one for minutes without a word."""
    if not uri.startswith(("http://", "https://")):
        return
    # MLflow prints its own link to every run it ends on a server: to the GenAI view, with the URI's
    # credentials in it. The commands print their own (``tracking.ui_url``, credentials hidden).
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    parts = urllib.parse.urlsplit(uri)
    plain = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
    request = urllib.request.Request(f"{plain.rstrip('/')}/health")
    if parts.username:
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # something answers: MLflow itself reports what it thinks of the request
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ConfigError(
            f"tracking.uri={redact(uri)}: no MLflow server answers there ({reason}); start one "
            "(make server) or use tracking=local"
        ) from None


def redact(text: str) -> str:
    """``text`` with the credentials of any URI in it (``http://user:secret@host``) replaced by
    ``***``: a tracking URI may carry them, and runs, files and terminals must not."""
    return CREDENTIALS.sub(r"\1***@", text)


CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


#: The experiment tag by which MLflow's UI tells a model-training experiment from a GenAI one. (MLflow
#: 3.17's UI follows its own GenAI / Model training switch while it shows one: docs/run-record.md.)
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def open_experiment(target: Target) -> tuple[MlflowClient, str]:
    """A client for the target's store and the id of its experiment (created if needed)."""
    client = prepare_store(target.uri)
    root = target.artifact_root if is_local_store(target.uri) else None
    with server_refusals(target):
        return client, prepare_experiment(client, target.experiment, root)


@contextlib.contextmanager
def server_refusals(target: Target) -> Iterator[None]:
    """A tracking server's refusal in one line saying what to set, where MLflow raises it with the
    request's traceback: of the login (401), or of runs in the experiment (403: MLflow's login lets
    an account read other users' experiments, not log into them, unless granted)."""
    try:
        yield
    except MlflowException as error:
        status, where = error.get_http_status_code(), f"tracking.uri={redact(target.uri)}"
        if status == 401:
            raise ConfigError(
                f"{where}: the server wants a login and did not take this one: set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to your account there"
            ) from None
        if status == 403:
            raise ConfigError(
                f"tracking.experiment={target.experiment}: the server ({where}) does not let your "
                "account log runs into this experiment (another user's): ask its admin for EDIT on it, "
                "or name another"
            ) from None
        raise


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
            if EXPERIMENT_KIND[0] not in experiment.tags:  # made before this project set it
                client.set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)
            return experiment.experiment_id
        location = (Path(artifact_root) / name).resolve().as_uri() if artifact_root else None
        try:
            return client.create_experiment(name, artifact_location=location, tags=dict([EXPERIMENT_KIND]))
        except MlflowException:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise RuntimeError("unreachable")
