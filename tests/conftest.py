"""Fixtures: throwaway MLflow stores, composed configs, one shared spiral run, the bundled digits.
Helpers the tests import live in ``tests/helpers``."""

from __future__ import annotations

import json
import os

# One torch thread per process: the suite runs several processes at once on two cores (servers
# booting, sweep workers, DDP ranks), and these networks are too small to gain from a second thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil  # noqa: E402 - after the thread setting, which torch reads when first imported
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from autoencoders.data.mnist import load_bundled
from helpers.entry import store_overrides
from helpers.runs import QUICK_SPIRAL
from helpers.server import SERVED_MAX_ROWS, ModelServer, TrackingServer
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


_model_servers: list[ModelServer] = []


#: The test files that use each server: under xdist the controller starts the servers they need
#: before the workers collect, and every worker shares them (one boot, not one per worker).
SERVER_USERS = {
    "mlflow_server": ("test_scale_out.py", "test_reliability.py"),
    "served_detector": ("test_detector.py",),
}


def wanted_by(config: pytest.Config, fixture: str) -> bool:
    """Whether the command line's paths reach a file that uses ``fixture`` (a folder: yes)."""
    paths = [arg.split("::")[0] for arg in config.args] or ["tests"]
    return any(Path(path).is_dir() or Path(path).name in SERVER_USERS[fixture] for path in paths)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The xdist controller: start the servers the run will need now, in the background."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    if wanted_by(config, "mlflow_server"):
        _servers.append(TrackingServer.start())
    if wanted_by(config, "served_detector"):
        _model_servers.append(serve_a_detector())


def pytest_configure_node(node) -> None:  # noqa: ANN001 - xdist's WorkerController
    """Tell each xdist worker where the controller's servers are."""
    if _servers:
        server = _servers[0]
        node.workerinput["mlflow_server"] = json.dumps([server.url, str(server.folder)])
    if _model_servers:
        model_server = _model_servers[0]
        node.workerinput["served_detector"] = json.dumps([model_server.url, str(model_server.log)])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Without xdist: start the servers that collected tests need; they boot in the background."""
    if hasattr(session.config, "workerinput") or _servers or _model_servers:
        return
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if "mlflow_server" in wanted:
        _servers.append(TrackingServer.start())
    if "served_detector" in wanted:
        _model_servers.append(serve_a_detector())


def shared(request: pytest.FixtureRequest, fixture: str) -> list | None:
    """What the xdist controller said of its server, in a worker; None elsewhere."""
    found = getattr(request.config, "workerinput", {}).get(fixture)
    return json.loads(found) if found else None


def serve_a_detector() -> ModelServer:
    """A detector logged and served by a background process (``helpers/served.py``): the session
    goes on while it is made (a PCA baseline run on a table, then ``pipelines.serve``)."""
    return ModelServer.start(max_rows=SERVED_MAX_ROWS)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the servers whether or not a test got to use them (``-x``, Ctrl-C)."""
    while _servers:
        _servers.pop().stop()
    while _model_servers:
        _model_servers.pop().stop()


@pytest.fixture(scope="session")
def served_detector(request: pytest.FixtureRequest) -> tuple[ModelServer, dict[str, str]]:
    """A detector served over REST since the session began: the server, and its store and model URI."""
    if not _model_servers and (found := shared(request, "served_detector")):
        url, log = found
        _model_servers.append(ModelServer(None, url, Path(log)))
    if not _model_servers:
        _model_servers.append(serve_a_detector())
    server = _model_servers[0]
    return server, server.wait_until_up()


@pytest.fixture(scope="session")
def mlflow_server(request: pytest.FixtureRequest) -> TrackingServer:
    """The real ``mlflow server`` started when the session began."""
    if not _servers and (found := shared(request, "mlflow_server")):
        _servers.append(TrackingServer(None, found[0], Path(found[1])))
    if not _servers:  # asked for in a way collection did not see
        _servers.append(TrackingServer.start())
    _servers[0].wait_until_up()
    return _servers[0]
