"""The tracking server's launcher: which settings start a login, what it hands ``mlflow server``, and
what stops it before it starts. The server itself runs in tests/test_scale_out.py."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

from helpers.entry import run_main
from pipelines import tracking_server
from pipelines.hydra_glue import compose_config
from pipelines.tracking_server import ADMIN_PASSWORD, prepare

PASSWORD = "a-password-of-the-admin"


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands the launcher would become: recorded, never run (nor this test process replaced)."""
    commands: list[list[str]] = []
    monkeypatch.setattr(os, "execve", lambda path, command, env: commands.append([path, *command]))
    monkeypatch.delenv(ADMIN_PASSWORD, raising=False)
    return commands


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["host=0.0.0.0"], f"{ADMIN_PASSWORD} is not set: the login on host=0.0.0.0 needs an admin user"),
        (["host=mlflow-host", "auth=false"], "auth=false: host=mlflow-host is reachable from other machines"),
        (["auth=yes"], "auth must be one of ['auto', True, False], got 'yes'"),
    ],
)
def test_a_server_open_to_the_network_does_not_start(
    settings: list[str], message: str, execs: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    store = tmp_path / "store"
    assert run_main("tracking_server", tmp_path, *settings, f"store={store}", monkeypatch=monkeypatch) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert execs == [] and not store.exists()


def test_a_short_admin_password_stops_before_mlflow_does(
    execs: list, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv(ADMIN_PASSWORD, "short")
    assert (
        run_main("tracking_server", tmp_path, "host=0.0.0.0", f"store={tmp_path}", monkeypatch=monkeypatch)
        == 2
    )
    assert f"error: {ADMIN_PASSWORD} must be at least 12 characters" in capsys.readouterr().err
    assert execs == []


def test_a_network_host_gets_mlflows_login(tmp_path: Path) -> None:
    settings = ["host=0.0.0.0", "port=5077", f"store={tmp_path}", "allowed_hosts=[mlflow-host,10.1.2.3]"]
    command, env = prepare(compose_config("tracking_server", settings), {ADMIN_PASSWORD: PASSWORD})
    assert (option(command, "--host"), option(command, "--port")) == ("0.0.0.0", "5077")
    assert option(command, "--backend-store-uri") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert option(command, "--artifacts-destination") == str(tmp_path / "artifacts")
    assert option(command, "--app-name") == "basic-auth"
    hosts = option(command, "--allowed-hosts").split(",")
    assert {"mlflow-host", "mlflow-host:5077", "10.1.2.3:5077", "localhost:*", "10.*"} <= set(
        hosts
    )  # defaults kept
    assert "*" not in hosts
    assert option(command, "--cors-allowed-origins") == "http://mlflow-host:5077,http://10.1.2.3:5077"

    ini = Path(env["MLFLOW_AUTH_CONFIG_PATH"])
    assert ini == tmp_path / "basic_auth.ini"
    assert PASSWORD not in ini.read_text()  # MLflow reads it from the environment
    parser = configparser.ConfigParser()
    parser.read(ini)
    written = dict(parser["mlflow"])
    assert written["database_uri"] == f"sqlite:///{tmp_path / 'basic_auth.db'}"
    assert (written["default_permission"], written["admin_username"]) == ("READ", "admin")
    assert "admin_password" not in written
    assert env[ADMIN_PASSWORD] == PASSWORD and env["MLFLOW_FLASK_SERVER_SECRET_KEY"]


def test_loopback_serves_without_a_login_unless_asked(tmp_path: Path) -> None:
    plain, env = prepare(compose_config("tracking_server", [f"store={tmp_path}"]), {})
    assert "--app-name" not in plain and "--allowed-hosts" not in plain
    assert "MLFLOW_AUTH_CONFIG_PATH" not in env and not (tmp_path / "basic_auth.ini").exists()
    asked, _ = prepare(
        compose_config("tracking_server", [f"store={tmp_path}", "auth=true"]), {ADMIN_PASSWORD: PASSWORD}
    )
    assert option(asked, "--app-name") == "basic-auth"


def test_the_launcher_becomes_mlflow_server_and_leaves_no_output_folder(
    execs: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_PASSWORD, PASSWORD)
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    assert (
        run_main("tracking_server", tmp_path, "host=0.0.0.0", f"store={store}", monkeypatch=monkeypatch) == 0
    )
    ((path, *command),) = execs
    assert command[:4] == [path, "-m", "mlflow", "server"] and option(command, "--app-name") == "basic-auth"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["store"]  # Hydra's run folder removed
    assert sorted(path.name for path in store.iterdir()) == ["basic_auth.ini", "ui-address"]
    assert not tracking_server.has_admin(store / "basic_auth.db", "admin")  # MLflow creates it


def test_runs_link_to_the_ui_address_their_stores_server_recorded(tmp_path: Path, monkeypatch) -> None:
    """``make ui PORT=5055``: the runs of that store print links to port 5055, not 5000."""
    monkeypatch.delenv("MLFLOW_UI_URL", raising=False)
    before = compose_config("train", [f"paths.mlruns={tmp_path}"])
    assert before.tracking.ui_url == "http://127.0.0.1:5000"  # no server has served it yet
    prepare(compose_config("tracking_server", [f"store={tmp_path}", "port=5055"]), {})
    after = compose_config("train", [f"paths.mlruns={tmp_path}"])
    assert after.tracking.ui_url == "http://127.0.0.1:5055"
