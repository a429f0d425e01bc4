"""A run's deployable detector as an MLflow model: logged from code with this package's source,
registered in the Model Registry, and the fluent API pointed at one store while it does."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

PACKAGE_DIR = Path(__file__).resolve().parents[1]

DETECTOR = "anomaly_detector"


@contextlib.contextmanager
def fluent_store(uri: str) -> Iterator[None]:
    """MLflow's fluent API (models, the registry) pointed at ``uri`` for the block only: setting it
    also sets ``MLFLOW_TRACKING_URI`` for the whole process, which later configs would pick up."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # None unsets both


def log_detector(
    tracking_uri: str,
    run_id: str,
    artifacts: Mapping[str, str],
    input_example: Any,
    output_example: Any,
    name: str = DETECTOR,
) -> str:
    """Log a detector's files as an MLflow pyfunc model built from code
    (``autoencoders/deploy/pyfunc.py``), with this package's source beside it, a signature with
    named columns and an input example: ``mlflow.pyfunc.load_model`` and ``mlflow models serve``
    work without the project installed, and loading unpickles nothing.

    The requirements are given, not inferred: inference imports the model in a subprocess and costs
    several seconds per run. They are this environment's own versions, so MLflow's check that the
    environment satisfies them is skipped (:func:`requirements_as_installed`).
    """
    from importlib.metadata import version

    import mlflow.pyfunc
    import torch
    from mlflow.models import Model, infer_signature

    requirements = [
        f"torch=={torch.__version__.split('+')[0]}",
        "numpy",
        "pandas",
        f"scikit-learn=={version('scikit-learn')}",  # the skops files of its estimators
        f"skops=={version('skops')}",
        "pytorch-lightning",
    ]
    # Into run_id directly, not through mlflow.start_run, whose exit would end the run before
    # ``end_run`` does; the LoggedModel is created in the run's experiment, with its params.
    run = MlflowClient(tracking_uri).get_run(run_id)
    with fluent_store(tracking_uri), tempfile.TemporaryDirectory() as folder, requirements_as_installed():
        logged = mlflow.initialize_logged_model(
            name, source_run_id=run_id, experiment_id=run.info.experiment_id, params=run.data.params
        )
        try:
            info = Model.log(
                artifact_path=None,
                name=name,
                flavor=mlflow.pyfunc,
                run_id=run_id,
                model_id=logged.model_id,
                python_model=str(PACKAGE_DIR / "deploy" / "pyfunc.py"),
                artifacts=dict(artifacts),
                code_paths=[package_source(Path(folder))],
                signature=infer_signature(input_example, output_example),
                input_example=input_example,
                pip_requirements=requirements,
            )
        except BaseException:  # an upload that failed: the model is marked so, not left pending
            with contextlib.suppress(Exception):
                mlflow.finalize_logged_model(logged.model_id, "FAILED")
            raise
    return info.model_uri


@contextlib.contextmanager
def requirements_as_installed() -> Iterator[None]:
    """Skip MLflow's warning about requirements the environment does not satisfy while a model is
    saved with requirements read from this environment (which satisfies them by construction).

    Why: the check maps every installed distribution to its modules first
    (``importlib.metadata.packages_distributions``), once per process: 0.3 s of a spiral run's 9
    here, and as much again when MLflow loads the saved model to check its input example (``pyfunc``
    holds its own reference to the check). Loading a model (``pipelines.score``, ``mlflow models
    serve``) still checks, in the environment that scores."""
    import mlflow.pyfunc
    from mlflow.utils import environment

    holders = (environment, mlflow.pyfunc)
    checks = [holder.warn_dependency_requirement_mismatches for holder in holders]
    for holder in holders:
        holder.warn_dependency_requirement_mismatches = lambda requirements: None
    try:
        yield
    finally:
        for holder, check in zip(holders, checks, strict=True):
            holder.warn_dependency_requirement_mismatches = check


def register(tracking_uri: str, run_id: str, model_uri: str, name: str) -> str:
    """Register ``model_uri`` in the Model Registry under ``name``; tag the run with the version."""
    with fluent_store(tracking_uri):
        version = mlflow.register_model(model_uri, name).version
    MlflowClient(tracking_uri).set_tag(run_id, "registered_model", f"{name}/{version}")
    return str(version)


def package_source(folder: Path) -> str:
    """A copy of this package's source under ``folder``, without bytecode caches: what a logged
    model carries (half the files to upload to a tracking server, no stale ``.pyc``)."""
    copy = folder / PACKAGE_DIR.name
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return str(copy)
