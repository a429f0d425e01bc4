"""Runs in a tracking store: read their artifacts, or write them directly (milliseconds, no training)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from mlflow.entities import Metric, Param, Run
from mlflow.tracking import MlflowClient

#: Short training that still learns something: 20 epochs x 5 passes over the spiral.
QUICK_SPIRAL = ["trainer.max_epochs=20", "dataset.epoch_size=500"]


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Every file under a run's artifacts, recursively."""
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def write_run(
    client: MlflowClient,
    experiment: str,
    tags: Mapping[str, str],
    params: Mapping[str, object] | None = None,
    metrics: Mapping[str, float] | None = None,
    status: str = "FINISHED",
) -> Run:
    """A run as a stage would leave it, written directly: tags, params, final metrics, status."""
    found = client.get_experiment_by_name(experiment)
    # Artifacts beside the store's database, as the stages put them (MLflow's default is ./mlruns
    # under the working directory: the repository's own store)
    store = Path(client.tracking_uri.removeprefix("sqlite:///")).parent
    location = (store / "artifacts" / experiment).as_uri()
    experiment_id = found.experiment_id if found else client.create_experiment(experiment, location)
    run_id = client.create_run(experiment_id, tags=dict(tags)).info.run_id
    stamp = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, stamp, 0) for key, value in (metrics or {}).items()],
        params=[Param(key, str(value)) for key, value in (params or {}).items()],
    )
    client.set_terminated(run_id, status)
    return client.get_run(run_id)


def load_detector(tracking_uri: str, model_uri: str):  # noqa: ANN201 - an MLflow PyFuncModel
    """``mlflow.pyfunc.load_model`` against one store, leaving the process's tracking URI as it was."""
    import mlflow.pyfunc

    from autoencoders.tracking.models import fluent_store

    with fluent_store(tracking_uri):
        return mlflow.pyfunc.load_model(model_uri)
