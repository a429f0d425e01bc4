"""Shared fixtures: composed configs and throwaway MLflow stores."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from pipelines.common import CONFIG_DIR

#: Short training that still learns something: 20 epochs x 5 passes over the spiral.
QUICK_SPIRAL = ["trainer.max_epochs=20", "dataset.repeat=5"]


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


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name, overrides=overrides or [])


@pytest.fixture
def make_cfg(store: dict[str, str]) -> Callable[..., DictConfig]:
    """Compose a config pointed at the test's store."""

    def make(*overrides: str, config_name: str = "train") -> DictConfig:
        tracking = [f"tracking.uri={store['uri']}", f"tracking.artifact_root={store['artifact_root']}"]
        return compose_config(config_name, [*tracking, *overrides])

    return make
