"""A real ``mlflow server`` for the tests: started in the background as soon as the tests that need
it are collected, so its ~10 s boot overlaps the tests before them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipelines.hydra_glue import PROJECT_ROOT

#: The served detector's row limit (``max_rows``): small, so the tests can pass it cheaply.
SERVED_MAX_ROWS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    """Until ``url`` answers 200; the server's log as the error if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-3000:]) from None
            time.sleep(0.5)


@dataclass
class TrackingServer:
    """An ``mlflow server`` on 127.0.0.1: a free port, its own SQLite store, artifact serving on."""

    process: subprocess.Popen
    url: str
    folder: Path

    @property
    def artifacts(self) -> Path:
        return self.folder / "served-artifacts"

    @classmethod
    def start(cls) -> TrackingServer:
        folder = Path(tempfile.mkdtemp(prefix="mlflow-server-"))
        port = free_port()
        command = [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "served-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        with (folder / "server.log").open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return cls(process, f"http://127.0.0.1:{port}", folder)

    def wait_until_up(self, seconds: float = 120) -> None:
        wait_for(f"{self.url}/health", self.process, self.folder / "server.log", seconds)

    def stop(self) -> None:
        """The server and its workers: a throwaway store, nothing to shut down gracefully."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class ModelServer:
    """``python -m pipelines.serve`` (what ``make serve`` runs) of one model URI on 127.0.0.1, in
    its own process group."""

    process: subprocess.Popen
    url: str
    log: Path

    @classmethod
    def start(cls, model_uri: str, tracking_uri: str, folder: Path, max_rows: int) -> ModelServer:
        port = free_port()
        settings = [
            f"model_uri={model_uri}",
            f"port={port}",
            f"max_rows={max_rows}",
            f"tracking.uri={tracking_uri}",
        ]
        command = [sys.executable, "-m", "pipelines.serve", *settings, f"hydra.run.dir={folder / 'serve'}"]
        log = folder / "model-server.log"
        env = {**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
        with log.open("w") as stream:
            process = subprocess.Popen(
                command,
                stdout=stream,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                cwd=PROJECT_ROOT,
            )
        return cls(process, f"http://127.0.0.1:{port}", log)

    def wait_until_up(self, seconds: float = 120) -> None:
        wait_for(f"{self.url}/ping", self.process, self.log, seconds)

    def stop(self) -> None:
        """The server's process group, and its folder (the log, and the store it was given)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        shutil.rmtree(self.log.parent, ignore_errors=True)
