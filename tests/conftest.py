"""Fixtures: throwaway MLflow stores, composed configs, one shared spiral run, the bundled digits.
Helpers the tests import live in ``tests/helpers``."""

from __future__ import annotations

import os

# One torch thread per process: the suite runs several processes at once on two cores (servers
# booting, sweep workers, DDP ranks), and these networks are too small to gain from a second thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil  # noqa: E402 - after the thread setting, which torch reads when first imported
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from autoencoders.data.mnist import load_bundled
from helpers.entry import store_overrides
from helpers.runs import QUICK_SPIRAL
from helpers.server import SERVED_MAX_ROWS, ModelServer, TrackingServer
from helpers.tables import transactions
from pipelines.hydra_glue import compose_config


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
        return compose_config(config_name, [*store_overrides(store), *overrides])

    return make


@pytest.fixture(scope="session")
def spiral_run(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> dict:
    """One short default spiral run in its own store, shared by the tests that only read it."""
    from pipelines.train import train

    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    shutil.copy(template_db, db)
    uri = f"sqlite:///{db}"
    overrides = store_overrides({"uri": uri, "artifact_root": str(db.parent / "artifacts")})
    cfg = compose_config("train", [*overrides, *QUICK_SPIRAL])
    metrics = train(cfg)
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    return {"cfg": cfg, "metrics": metrics, "client": client, "run": run, "uri": uri, "overrides": overrides}


@pytest.fixture(scope="session")
def bundled_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the bundled digits' .npz cache (parsed once per test session)."""
    root = tmp_path_factory.mktemp("data")
    load_bundled(root)
    return root


_servers: list[TrackingServer] = []


_model_servers: list[tuple[ModelServer, dict[str, str]]] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the servers now that collected tests need: they boot in the background. Under xdist
    every worker collects every test, so there the fixtures start them when first asked."""
    if hasattr(session.config, "workerinput"):
        return
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "mlflow_server" in wanted:
        _servers.append(TrackingServer.start())
    if "served_detector" in wanted:
        _model_servers.append(serve_a_detector())


def serve_a_detector() -> tuple[ModelServer, dict[str, str]]:
    """A PCA baseline run on a table as users' files come (an id, a timestamp, a category, gaps) in
    a store of its own (seconds: nothing trains), and ``mlflow models serve`` of its
    ``anomaly_detector``."""
    from pipelines.pca_baseline import pca_baseline

    folder = Path(tempfile.mkdtemp(prefix="served-detector-"))
    store = {"uri": f"sqlite:///{folder / 'mlflow.db'}", "artifact_root": str(folder / "artifacts")}
    data = folder / "transactions.csv"
    transactions(rows=300, gaps=6).to_csv(data, index=False)
    table = ["dataset=table", f"dataset.path={data}", "dataset.label=is_fraud"]
    pca_baseline(compose_config("pca_baseline", [*store_overrides(store), *table]))
    client = MlflowClient(store["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("transactions").experiment_id])
    model_uri = f"runs:/{run.info.run_id}/anomaly_detector"
    served = {**store, "model_uri": model_uri, "data": str(data)}
    return ModelServer.start(model_uri, store["uri"], folder, max_rows=SERVED_MAX_ROWS), served


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the servers whether or not a test got to use them (``-x``, Ctrl-C)."""
    while _servers:
        _servers.pop().stop()
    while _model_servers:
        _model_servers.pop()[0].stop()


@pytest.fixture(scope="session")
def served_detector() -> tuple[ModelServer, dict[str, str]]:
    """A detector served over REST since collection: the server, and its store and model URI."""
    if not _model_servers:
        _model_servers.append(serve_a_detector())
    server, logged = _model_servers[0]
    server.wait_until_up()
    return server, logged


@pytest.fixture(scope="session")
def mlflow_server() -> TrackingServer:
    """The real ``mlflow server`` started when the tests were collected."""
    if not _servers:  # asked for in a way collection did not see
        _servers.append(TrackingServer.start())
    _servers[0].wait_until_up()
    return _servers[0]
