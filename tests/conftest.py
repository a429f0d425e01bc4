"""Shared fixtures: composed configs and throwaway MLflow stores."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from pipelines.common import compose_config

#: Short training that still learns something: 20 epochs x 5 passes over the spiral.
QUICK_SPIRAL = ["trainer.max_epochs=20", "dataset.epoch_size=500"]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store: creating one takes seconds, copying it takes nothing."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh tracking store for one test: its URI and artifact root."""
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(template_db, db)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return {"uri": f"sqlite:///{db}", "artifact_root": str(tmp_path / "mlruns" / "artifacts")}


@pytest.fixture
def client(store: dict[str, str]) -> MlflowClient:
    return MlflowClient(store["uri"])


@pytest.fixture
def make_cfg(store: dict[str, str]) -> Callable[..., DictConfig]:
    """Compose a config pointed at the test's store."""

    def make(*overrides: str, config_name: str = "train") -> DictConfig:
        tracking = [f"tracking.uri={store['uri']}", f"tracking.artifact_root={store['artifact_root']}"]
        return compose_config(config_name, [*tracking, *overrides])

    return make


@pytest.fixture(scope="session")
def spiral_run(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> dict:
    """One short default spiral run in its own store, shared by the tests that only read it."""
    from pipelines.train import train

    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    shutil.copy(template_db, db)
    uri = f"sqlite:///{db}"
    overrides = [f"tracking.uri={uri}", f"tracking.artifact_root={db.parent / 'artifacts'}"]
    cfg = compose_config("train", [*overrides, *QUICK_SPIRAL])
    metrics = train(cfg)
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    return {"cfg": cfg, "metrics": metrics, "client": client, "run": run, "uri": uri, "overrides": overrides}


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Every file under a run's artifacts, recursively."""
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found
