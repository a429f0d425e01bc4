"""One run's lifecycle and what is logged into it: every run ends FINISHED, FAILED or KILLED."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from mlflow.exceptions import MlflowException

from autoencoders.data.spiral import SpiralDataModule
from autoencoders.tracking import runs
from autoencoders.tracking.store import Target, open_experiment, retry_locked, unanswered
from helpers.built import spiral_data
from helpers.runs import artifact_paths


@pytest.fixture
def experiment(client, tmp_path) -> str:
    return client.create_experiment("lifecycle", (tmp_path / "artifacts").as_uri())


def test_a_run_that_returns_ends_finished(client, experiment) -> None:
    with runs.tracked_run(client, experiment, "ok", {"model": "dense"}) as run_id:
        assert client.get_run(run_id).info.status == "RUNNING"
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "ok"
    assert run.data.tags["model"] == "dense"


def test_a_run_that_raises_ends_failed_with_its_error(client, experiment) -> None:
    with pytest.raises(ValueError, match="bad"), runs.tracked_run(client, experiment) as run_id:
        raise ValueError("bad")
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "ValueError: bad"
    assert run.info.run_name.startswith("run-")  # a name of its own, not MLflow's random one


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), SystemExit(143)])
def test_ctrl_c_or_sigterm_ends_the_run_killed(client, experiment, stop) -> None:
    with pytest.raises(type(stop)), runs.tracked_run(client, experiment) as run_id:
        raise stop
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["killed_by"] == type(stop).__name__


def raised_while_retrying(error: BaseException) -> BaseException:
    """``error`` raised in the handler of a refused connection: what MLflow raises once its retries gave
    up (the cause in ``__context__`` only), or a SIGTERM landing in urllib3's backoff sleep."""
    try:
        try:
            raise requests.exceptions.ConnectionError("... [Errno 111] Connection refused')")
        except requests.exceptions.ConnectionError:
            raise error  # noqa: B904 - as MLflow raises it
    except BaseException as raised:
        return raised


@pytest.mark.parametrize(
    ("raised", "reason", "status"),
    [
        (
            MlflowException("API request to /api/2.0/mlflow/runs/log-batch failed"),
            "[Errno 111] Connection refused",
            "RUNNING",
        ),
        (SystemExit(143), None, "KILLED"),
    ],
    ids=["gone", "SIGTERM while waiting"],
)
def test_a_run_on_a_lost_tracking_server_is_left_running_but_a_sigterm_still_kills_it(
    client, experiment, raised, reason, status
) -> None:
    """Nothing can end a run on a server that stopped answering (each try would wait through MLflow's
    retries again); a SIGTERM that lands while the client waits to retry is still a SIGTERM."""
    error = raised_while_retrying(raised)
    assert unanswered(error) == reason
    with pytest.raises(type(raised)), runs.tracked_run(client, experiment) as run_id:
        raise error
    run = client.get_run(run_id)
    assert run.info.status == status and "error" not in run.data.tags


def test_a_locked_database_is_retried_and_other_errors_are_not(monkeypatch) -> None:
    monkeypatch.setattr("autoencoders.tracking.store.time.sleep", lambda seconds: None)
    calls = []

    def locked_twice(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return value * 2

    assert retry_locked(locked_twice, 21) == 42 and len(calls) == 3

    def broken() -> None:
        calls.append(0)
        raise MlflowException("no such table")

    calls.clear()
    with pytest.raises(MlflowException, match="no such table"):
        retry_locked(broken)
    assert len(calls) == 1


def test_end_run_retries_while_locked(client, experiment, monkeypatch) -> None:
    monkeypatch.setattr("autoencoders.tracking.store.time.sleep", lambda seconds: None)
    run_id = client.create_run(experiment).info.run_id
    real, attempts = client.set_terminated, []

    def set_terminated(*args, **kwargs):
        attempts.append(args)
        if len(attempts) == 1:
            raise MlflowException("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "set_terminated", set_terminated)
    runs.end_run(client, run_id, runs.KILLED)
    assert len(attempts) == 2 and client.get_run(run_id).info.status == "KILLED"


def test_flatten_names_nested_settings_by_their_path() -> None:
    nested = {"model": {"_target_": "x", "net": {"hidden_dims": [10, 10]}, "code_dim": 1}, "seed": 0}
    assert runs.flatten(nested) == {"model.net.hidden_dims": [10, 10], "model.code_dim": 1, "seed": 0}
    assert runs.flatten(nested, skip=("model",)) == {"seed": 0}


def test_a_stage_run_logs_params_and_config_files(store, client) -> None:
    target = Target(store["uri"], "stage", store["artifact_root"])
    params = {f"p{i}": i for i in range(250)} | {"long": "x" * 7000}  # more than one batch
    with runs.stage_run(target, "named", {"stage": "train"}, params, "seed: 0\n", ["seed=0"]) as opened:
        _, experiment_id, run_id = opened
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.experiment_id == experiment_id
    assert len(run.data.params) == 251 and run.data.params["p249"] == "249"
    assert len(run.data.params["long"]) == runs.MAX_PARAM_LENGTH
    assert {runs.CONFIG_FILE, runs.OVERRIDES_FILE} <= artifact_paths(client, run_id)
    text, experiment = runs.logged_config(store["uri"], run_id, "baseline_for")
    assert (text, experiment) == ("seed: 0\n", "stage")


def test_experiments_are_created_once_and_restored_if_deleted(store, client) -> None:
    target = Target(store["uri"], "again", store["artifact_root"])
    _, first = open_experiment(target)
    client.delete_experiment(first)
    _, second = open_experiment(target)
    assert first == second and client.get_experiment(first).lifecycle_stage == "active"
    assert client.get_experiment(first).artifact_location.endswith("/artifacts/again")


def test_splits_are_recorded_as_datasets_whose_digest_follows_the_data(client, experiment) -> None:
    def digests(datamodule: SpiralDataModule) -> dict[str, str]:
        run_id = client.create_run(experiment).info.run_id
        runs.log_splits(client, run_id, "spiral", datamodule.splits, datamodule.data_source)
        inputs = client.get_run(run_id).inputs.dataset_inputs
        return {i.tags[0].value: i.dataset.digest for i in inputs}

    first, again, other = (
        digests(spiral_data()),
        digests(spiral_data()),
        digests(spiral_data(train_seed=5)),
    )
    assert set(first) == {"train", "validation", "test"}
    assert first == again
    assert other["train"] != first["train"] and other["test"] == first["test"]


def test_arrays_round_trip_and_a_missing_file_reads_as_none(client, experiment) -> None:
    run_id = client.create_run(experiment).info.run_id
    assert runs.load_arrays(client, run_id, "evaluation/outputs.npz") is None  # nothing logged yet
    arrays = {"scores": np.array([0.5, 2.0]), "is_anomaly": np.array([False, True])}
    runs.log_arrays(client, run_id, arrays, "evaluation/outputs.npz")
    loaded = runs.load_arrays(client, run_id, "evaluation/outputs.npz")
    assert set(loaded) == set(arrays)
    np.testing.assert_array_equal(loaded["scores"], arrays["scores"])
    assert loaded["is_anomaly"].dtype == bool


def test_saving_a_model_skips_the_installed_package_scan_that_loading_keeps(monkeypatch) -> None:
    """The detector's requirements are read from this environment: MLflow's check that it satisfies
    them (a scan of every installed distribution) is skipped while saving, and only then."""
    import mlflow.pyfunc
    from mlflow.utils import environment, requirements_utils

    from autoencoders.tracking.models import requirements_as_installed

    scans = []
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    monkeypatch.setattr(
        requirements_utils.importlib_metadata, "packages_distributions", lambda: scans.append(1) or {}
    )
    with requirements_as_installed():
        _, saved, _ = environment._process_pip_requirements([], pip_requirements=["numpy"])
    assert "numpy" in saved and scans == []
    environment._process_pip_requirements([], pip_requirements=["numpy"])
    assert scans == [1]  # outside the block MLflow checks as before
    # Saving loads the saved model once, to check its input example: pyfunc's own check is skipped too
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    with requirements_as_installed():
        mlflow.pyfunc.warn_dependency_requirement_mismatches(["numpy"])
    assert scans == [1]
    mlflow.pyfunc.warn_dependency_requirement_mismatches(["numpy"])
    assert scans == [1, 1]
