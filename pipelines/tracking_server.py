"""The project's MLflow tracking server and UI over its store (``make server``, ``make ui``):
``python -m pipelines.tracking_server [host=0.0.0.0] [port=5000] [allowed_hosts=[mlflow-host]]``.

A host other machines reach gets MLflow's basic-auth app: the server holds every run, model and
artifact, so the network never gets it without a login. This process only checks the settings and
writes MLflow's auth config, then becomes ``mlflow server`` (``exec``): signals and exit status are
the server's own."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    from omegaconf import DictConfig

    from autoencoders.errors import ConfigError
    from pipelines import hydra_glue as glue
    from pipelines.hydra_glue import UI_ADDRESS_FILE

#: MLflow's own variables: the admin's password stays in the environment, never in a file.
ADMIN_PASSWORD = "MLFLOW_AUTH_ADMIN_PASSWORD"
ADMIN_USERNAME = "MLFLOW_AUTH_ADMIN_USERNAME"
SECRET_KEY = "MLFLOW_FLASK_SERVER_SECRET_KEY"
ADMIN = "admin"
MIN_PASSWORD = 12  # MLflow's rule for every password (mlflow.utils.validation._validate_password)


def is_loopback(host: str) -> bool:
    """Only this machine reaches ``host``; a name other than localhost may resolve anywhere."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wants_auth(host: str, auth: str | bool) -> bool:
    """A login whenever other machines reach the server; ``auth=true`` asks for one on loopback too."""
    if is_loopback(host):
        return auth is True
    if auth is False:
        raise ConfigError(
            f"auth=false: host={host} is reachable from other machines, and they always get a login "
            "(auth=auto); serve without one on 127.0.0.1 only"
        )
    return True


def auth_config(cfg: DictConfig) -> str:
    """MLflow's basic-auth settings, the keys of its own ``basic_auth.ini``: the users' database
    beside the runs. No password: MLflow reads the admin's from ``MLFLOW_AUTH_ADMIN_PASSWORD`` when
    it creates the admin user."""
    return (
        "[mlflow]\n"
        f"default_permission = {cfg.default_permission}\n"
        f"database_uri = sqlite:///{Path(cfg.store) / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {cfg.auth_cache_seconds}\n"
    )


def has_admin(database: Path, username: str) -> bool:
    """The auth database holds the admin already: MLflow uses the password only to create it."""
    if not database.is_file():
        return False
    with contextlib.closing(sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True)) as db:
        try:
            return db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is not None
        except sqlite3.Error:  # not created yet
            return False


def check_admin_password(host: str, store: Path, environ: Mapping[str, str]) -> None:
    """MLflow refuses, with a traceback, to start a login that has no admin user yet and no password
    (or one it would not take) to create it with: say so in one line."""
    if has_admin(store / "basic_auth.db", environ.get(ADMIN_USERNAME) or ADMIN):
        return
    password = environ.get(ADMIN_PASSWORD)
    if not password:
        raise ConfigError(
            f"{ADMIN_PASSWORD} is not set: the login on host={host} needs an admin user, which this first "
            f"start creates with that password ({MIN_PASSWORD} characters or more); set it and start again"
        )
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"{ADMIN_PASSWORD} must be at least {MIN_PASSWORD} characters (MLflow's rule)")


def ui_address(host: str, port: int) -> str:
    """Where a browser reaches this server: the printed links of runs in its store point there."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}"


def allowed_hosts(names: list[str], port: int) -> list[str]:
    """MLflow's default Host headers (loopback and private addresses, any port) and each name, bare
    and with the port: a browser at ``http://mlflow-host:5000`` sends ``Host: mlflow-host:5000``."""
    from mlflow.server.security_utils import get_default_allowed_hosts

    return [*get_default_allowed_hosts(), *(host for name in names for host in (name, f"{name}:{port}"))]


def server_command(cfg: DictConfig, auth: bool) -> list[str]:
    """``mlflow server`` over the store's SQLite database, serving its artifacts. The UI at a named
    host is its own origin: MLflow blocks the UI's changes (POST) from any origin not listed."""
    store, port = Path(cfg.store), int(cfg.port)
    command = [sys.executable, "-m", "mlflow", "server", "--host", cfg.host, "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(store / "artifacts")]
    if cfg.workers:
        command += ["--workers", str(cfg.workers)]
    if cfg.allowed_hosts:
        names = list(cfg.allowed_hosts)
        command += ["--allowed-hosts", ",".join(allowed_hosts(names, port))]
        command += ["--cors-allowed-origins", ",".join(f"http://{name}:{port}" for name in names)]
    return [*command, "--app-name", "basic-auth"] if auth else command


def prepare(cfg: DictConfig, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The server's command and environment, with the store's folder made and, for a login,
    ``basic_auth.ini`` written into it. MLflow's auth app also wants a secret key for its sign-up
    form's CSRF token: a new one each start unless ``MLFLOW_FLASK_SERVER_SECRET_KEY`` is set."""
    store, auth = Path(cfg.store), wants_auth(cfg.host, cfg.auth)
    if auth:
        check_admin_password(cfg.host, store, environ)
    store.mkdir(parents=True, exist_ok=True)
    (store / UI_ADDRESS_FILE).write_text(ui_address(cfg.host, int(cfg.port)) + "\n")
    env = dict(environ)
    if auth:
        (store / "basic_auth.ini").write_text(auth_config(cfg))
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(store / "basic_auth.ini")
        env[SECRET_KEY] = env.get(SECRET_KEY) or secrets.token_hex(32)
    return server_command(cfg, auth), env


@glue.stage_main("tracking_server")
def main(cfg: DictConfig) -> None:
    with glue.one_line_errors():
        command, env = prepare(glue.checked(cfg, "tracking_server"), os.environ)
    glue.discard_job_dir()  # the server keeps its own record: no output folder per start
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
