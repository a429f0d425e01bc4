"""One MLflow run: opened with its params and config, always ended, and what is logged into it."""

from __future__ import annotations

import contextlib
import logging
import posixpath
import re
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from autoencoders.errors import ConfigError
from autoencoders.tracking.store import (
    Target,
    open_experiment,
    redact,
    retry_locked,
    server_refusals,
    unanswered,
)

if TYPE_CHECKING:  # annotations only: Lightning and matplotlib load when a run trains or draws
    from matplotlib.figure import Figure

    from autoencoders.data.splits import Splits

log = logging.getLogger(__name__)

RUNNING, FINISHED, FAILED, KILLED = (
    RunStatus.to_string(s)
    for s in (RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)
)
CONFIG_FILE = "config/config.yaml"
OVERRIDES_FILE = "config/overrides.yaml"
#: Where a run's machine paths and store URIs go among its tags (after the meaningful ones).
SYSTEM_PREFIX = "system."
#: MLflow keeps param values up to this many characters.
MAX_PARAM_LENGTH = 6000


def end_run(client: MlflowClient, run_id: str, status: str) -> None:
    """End any run of this project: pending asynchronous writes first (``MLFLOW_ENABLE_ASYNC_LOGGING``),
    then the status, retried while SQLite is locked (parallel jobs). Every run ends through here.
    The writes are flushed in the client's own store: ``mlflow.flush_async_logging`` flushes the
    default one, creating ``./mlflow.db`` wherever the command ran."""
    with contextlib.suppress(Exception):
        client._tracking_client.store.flush_async_logging()
    retry_locked(client.set_terminated, run_id, status)


def error_text(error: BaseException) -> str:
    """How a run's ``error`` tag states its error."""
    return redact(f"{type(error).__name__}: {error}")[:5000]


@contextlib.contextmanager
def tracked_run(
    client: MlflowClient,
    experiment_id: str,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Create a run, yield its id, and always end it: FINISHED, FAILED (with the error as the tag
    ``error``), or KILLED on Ctrl-C or SIGTERM (which the entry points turn into ``SystemExit``)."""
    if run_name is None:  # MLflow's own random names come from `random`, seeded by the pipeline
        run_name = f"{(tags or {}).get('model', 'run')}-{uuid.uuid4().hex[:8]}"
    run = retry_locked(client.create_run, experiment_id, run_name=run_name, tags=dict(tags or {}))
    with ended(client, run.info.run_id):
        yield run.info.run_id


@contextlib.contextmanager
def reopened_run(client: MlflowClient, run_id: str) -> Iterator[str]:
    """An ended (KILLED or FAILED) run made RUNNING again, to continue it (or one left RUNNING by a
    tracking server that stopped answering); it ends as :func:`tracked_run`'s runs do. The tags of its
    earlier end go."""
    for tag in ("error", "killed_by"):
        with contextlib.suppress(MlflowException):
            client.delete_tag(run_id, tag)
    retry_locked(client.update_run, run_id, status=RUNNING)
    with ended(client, run_id):
        yield run_id


@contextlib.contextmanager
def ended(client: MlflowClient, run_id: str) -> Iterator[None]:
    """Always end ``run_id`` when the block exits: FINISHED, FAILED (with the error as the tag
    ``error``), or KILLED on Ctrl-C or SIGTERM; but for a tracking server that stopped answering,
    where the run cannot be ended: it stays RUNNING (each try would wait through MLflow's retries)."""
    status: str | None = FAILED
    try:
        yield
        status = FINISHED
    except (KeyboardInterrupt, SystemExit) as stop:
        status = KILLED
        with contextlib.suppress(Exception):
            client.set_tag(run_id, "killed_by", type(stop).__name__)
        raise
    except BaseException as error:
        if unanswered(error):
            status = None
            raise
        with contextlib.suppress(Exception):
            client.set_tag(run_id, "error", error_text(error))
        raise
    finally:
        if status:
            end_run(client, run_id, status)


@contextlib.contextmanager
def stage_run(
    target: Target,
    run_name: str | None,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    config_yaml: str,
    overrides: Sequence[str],
) -> Iterator[tuple[MlflowClient, str, str]]:
    """The run a stage records into, with its params and config files logged. Yields
    ``(client, experiment_id, run_id)``; the run ends FINISHED, FAILED or KILLED."""
    client, experiment_id = open_experiment(target)
    with contextlib.ExitStack() as opened:
        with server_refusals(target):  # its creation; a refusal once it exists ends it FAILED
            run_id = opened.enter_context(tracked_run(client, experiment_id, run_name, tags))
        log_params(client, run_id, params)
        log_config(client, run_id, config_yaml, overrides)
        yield client, experiment_id, run_id


def record_failed_run(
    uri: str, experiment_id: str, run_name: str | None, tags: Mapping[str, str], error: BaseException
) -> str:
    """A FAILED run for work that failed before it could open its own (a sweep's job)."""
    client = MlflowClient(uri)
    tags = {**tags, "error": error_text(error)}
    run = retry_locked(client.create_run, experiment_id, run_name=run_name, tags=tags)
    end_run(client, run.info.run_id, FAILED)
    return run.info.run_id


def flatten(nested: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, Any]:
    """A nested config as ``a.b.c -> value``, less keys starting with ``_`` (``_target_``) and the
    top-level keys in ``skip``."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not str(key).startswith("_"):
                    walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk({key: value for key, value in nested.items() if key not in skip}, "")
    return flat


def split_paths(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(params, tags)``: settings whose values are this machine's paths or store URIs become tags
    under ``system.`` (``system.tracking.uri``), so that the params of two runs compare what they
    ran, not where, and the UI lists these tags after the meaningful ones."""
    is_path = re.compile(r"^(/|[a-z][a-z0-9+.-]*:/)")
    paths = {key for key, value in params.items() if isinstance(value, str) and is_path.match(value)}
    tags = {f"{SYSTEM_PREFIX}{key}": redact(str(params[key])) for key in paths}
    return {key: value for key, value in params.items() if key not in paths}, tags


def ui_link(ui_url: str, experiment_id: str, run_id: str) -> str:
    """A run's page in the MLflow UI, in its training (machine learning) view."""
    page = f"/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"
    return redact(ui_url.rstrip("/")) + page


def log_splits(client: MlflowClient, run_id: str, name: str, splits: Splits, source: str | None) -> None:
    """The data a run trained, validated and was tested on, as MLflow dataset inputs (the UI's
    Datasets column): a name, where it came from, and a digest of its values, so that two runs
    on the same data show the same digest. The test set's targets are its anomaly labels."""
    from mlflow.data import from_numpy

    parts = {
        "train": (splits.train, None),
        "validation": (splits.val, None),
        "test": (splits.test, splits.test_is_anomaly.astype(np.int8)),
    }
    inputs = []
    for context, (features, targets) in parts.items():
        with warnings.catch_warnings():  # MLflow registers its local-file source twice, then warns
            warnings.filterwarnings("ignore", message=".*can be interpreted in multiple ways")
            dataset = from_numpy(features, source=source, targets=targets, name=f"{name} {context}")
        # The entity is what mlflow.log_input builds; through the client, no fluent run is started.
        inputs.append(DatasetInput(dataset._to_mlflow_entity(), [InputTag(MLFLOW_DATASET_CONTEXT, context)]))
    retry_locked(client.log_inputs, run_id, datasets=inputs)


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, Any]) -> None:
    """Log params in one call (MLflow splits it into batches), values cut to MLflow's limit."""
    items = [Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in params.items()]
    retry_locked(client.log_batch, run_id, params=items)


def log_metrics(client: MlflowClient, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    """Log metrics at one step in one call."""
    stamp = int(time.time() * 1000)
    items = [Metric(key, float(value), stamp, step) for key, value in metrics.items()]
    retry_locked(client.log_batch, run_id, metrics=items)


def log_config(client: MlflowClient, run_id: str, config_yaml: str, overrides: Sequence[str]) -> None:
    """The composed config and the command line's overrides, as ``config/*.yaml``, without the
    credentials a tracking URI may carry."""
    client.log_text(run_id, redact(config_yaml), CONFIG_FILE)
    client.log_dict(run_id, [redact(item) for item in overrides], OVERRIDES_FILE)


def log_figures(client: MlflowClient, run_id: str, figures: Mapping[str, Figure]) -> None:
    """Log figures under their artifact paths."""
    for path, figure in figures.items():
        client.log_figure(run_id, figure, path)


def log_arrays(client: MlflowClient, run_id: str, arrays: Mapping[str, np.ndarray], path: str) -> None:
    """Arrays as one compressed ``.npz`` artifact at ``path`` (no pickled objects: plain arrays)."""
    folder, name = posixpath.split(path)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez_compressed(Path(tmp) / name, **arrays)
        client.log_artifact(run_id, str(Path(tmp) / name), folder or None)


def load_arrays(client: MlflowClient, run_id: str, path: str) -> dict[str, np.ndarray] | None:
    """The arrays :func:`log_arrays` logged at ``path``, or None where the run has no such file
    (a run logged before the file was)."""
    folder, name = posixpath.split(path)
    if name not in {Path(item.path).name for item in client.list_artifacts(run_id, folder or None)}:
        return None
    with tempfile.TemporaryDirectory() as tmp, np.load(client.download_artifacts(run_id, path, tmp)) as found:
        return {key: found[key] for key in found.files}


def logged_config(uri: str, run_id: str, setting: str) -> tuple[str, str]:
    """The config a run logged (``config/config.yaml``) and its experiment's name; ``setting`` names
    the setting that asked, for the error."""
    client = MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise ConfigError(f"{setting}={run_id}: no such run in {uri}") from error
    with tempfile.TemporaryDirectory() as folder:
        try:
            text = Path(client.download_artifacts(run_id, CONFIG_FILE, folder)).read_text()
        except (MlflowException, OSError) as error:
            raise ConfigError(f"{setting}={run_id}: the run has no {CONFIG_FILE} artifact") from error
    return text, client.get_experiment(run.info.experiment_id).name
