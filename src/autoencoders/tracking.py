"""MLflow: the store, the run's lifecycle, and logging of figures, config files and the model."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
T = TypeVar("T")


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
        db_path = Path(uri.removeprefix("sqlite:///"))
        db_path.parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(uri)


def open_experiment(uri: str, name: str, artifact_root: str | None) -> tuple[MlflowClient, str]:
    """A client for the store at ``uri`` and the id of its experiment ``name`` (created if needed).

    ``artifact_root`` places a new experiment's artifacts for a local store only: a tracking server
    decides where its artifacts go (behind its proxy), so there it is ignored.
    """
    client = prepare_store(uri)
    return client, prepare_experiment(client, name, artifact_root if is_local_store(uri) else None)


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
        location = None
        if artifact_root is not None:
            location = (Path(artifact_root) / name).resolve().as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise RuntimeError("unreachable")


@contextlib.contextmanager
def tracked_run(
    client: MlflowClient,
    experiment_id: str,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Create a run, yield its id, and always end it: FINISHED, FAILED (with the error as the tag
    ``error``), or KILLED on Ctrl-C or SIGTERM (see ``pipelines.common.one_line_errors``). No run is
    ever left RUNNING by this project's pipelines."""
    if run_name is None:  # MLflow's own random names come from `random`, seeded by the pipeline
        run_name = f"{(tags or {}).get('model', 'run')}-{uuid.uuid4().hex[:8]}"
    run = retry_locked(client.create_run, experiment_id, run_name=run_name, tags=dict(tags or {}))
    run_id = run.info.run_id
    status = RunStatus.to_string(RunStatus.FAILED)
    try:
        yield run_id
        status = RunStatus.to_string(RunStatus.FINISHED)
    except (KeyboardInterrupt, SystemExit) as stop:  # Ctrl-C; SIGTERM (Lightning's or ours)
        status = RunStatus.to_string(RunStatus.KILLED)
        with contextlib.suppress(Exception):
            client.set_tag(run_id, "killed_by", type(stop).__name__)
        raise
    except BaseException as error:
        with contextlib.suppress(Exception):
            client.set_tag(run_id, "error", f"{type(error).__name__}: {error}"[:5000])
        raise
    finally:
        with contextlib.suppress(Exception):
            mlflow.flush_async_logging()
        retry_locked(client.set_terminated, run_id, status)


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, Any]) -> None:
    """Log flat params in batches (MLflow takes at most 100 per call, values up to 6000 chars)."""
    from mlflow.entities import Param

    items = [Param(key, str(value)[:6000]) for key, value in params.items()]
    for start in range(0, len(items), 100):
        retry_locked(client.log_batch, run_id, params=items[start : start + 100])


def log_metrics(client: MlflowClient, run_id: str, metrics: Mapping[str, float], step: int) -> None:
    """Log final metrics in one call."""
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    retry_locked(
        client.log_batch, run_id, metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()]
    )


def log_figures(client: MlflowClient, run_id: str, figures: Mapping[str, Any]) -> None:
    """Log matplotlib figures under their artifact paths and close them."""
    import matplotlib.pyplot as plt

    try:
        for path, figure in figures.items():
            client.log_figure(run_id, figure, path)
    finally:
        for figure in figures.values():
            plt.close(figure)


def log_model(tracking_uri: str, run_id: str, model: Any, input_example: Any, name: str = "model") -> str:
    """Log a torch model with an input example and this package's code beside it, so that
    ``mlflow.pytorch.load_model`` and pyfunc serving work without the project installed.

    Pickle, not MLflow 3's default ``pt2`` export: it loads back as the ``nn.Module`` with its
    ``encode``/``decode`` methods. The requirements are given, not inferred: inference imports
    the model in a subprocess and costs several seconds per run.
    """
    import mlflow.pytorch
    import torch

    requirements = [f"torch=={torch.__version__.split('+')[0]}", "numpy", "pytorch-lightning"]
    flavor_log = logging.getLogger("mlflow.pytorch")
    level, flavor_log.level = flavor_log.level, logging.ERROR  # the pickle warning, every run
    mlflow.set_tracking_uri(tracking_uri)  # the fluent API's store: this process may not have set it
    try:
        with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None):
            info = mlflow.pytorch.log_model(
                model,
                name=name,
                input_example=input_example,
                pip_requirements=requirements,
                code_paths=[str(PACKAGE_DIR)],
                serialization_format="pickle",
            )
    finally:
        flavor_log.setLevel(level)
    return info.model_uri
