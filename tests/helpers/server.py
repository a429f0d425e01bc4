"""A real ``mlflow server`` for the tests: started in the background as soon as the tests that need
it are collected, so its ~10 s boot overlaps the tests before them; a proxy that makes it go away
and come back; ``mlflow models serve``."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path


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
    """``mlflow models serve`` of one model URI on 127.0.0.1, in its own process group."""

    process: subprocess.Popen
    url: str
    log: Path

    @classmethod
    def start(cls, model_uri: str, tracking_uri: str, folder: Path) -> ModelServer:
        port = free_port()
        command = [
            str(Path(sys.executable).with_name("mlflow")),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        log = folder / "model-server.log"
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # uvicorn
        }
        with log.open("w") as stream:
            process = subprocess.Popen(
                command, stdout=stream, stderr=subprocess.STDOUT, env=env, start_new_session=True
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


class _Relay(socketserver.BaseRequestHandler):
    """One client connection, relayed to the server and back until either side closes."""

    server: _Forwarding

    def handle(self) -> None:
        try:
            upstream = socket.create_connection(self.server.target)
        except OSError:
            return
        ends = [self.request, upstream]
        for end in ends:  # relay each piece at once: Nagle's wait for an ACK costs ~40 ms a request
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.open.update(ends)
        try:
            while not self.server.closed:  # a connection that raced stop() ends here
                for end in select.select(ends, [], [])[0]:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.request else self.request).sendall(data)
        except OSError:
            return
        finally:
            self.server.open.difference_update(ends)
            upstream.close()


class _Forwarding(socketserver.ThreadingTCPServer):
    """The listening side: the port again at once after a stop, a thread per connection."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", port), _Relay)
        self.target = target
        self.open: set[socket.socket] = set()
        self.closed = False


class Forwarder:
    """A TCP proxy on 127.0.0.1 in front of a server, in threads of this process: :meth:`stop` makes
    the server go away as a crash or a network cut would (new connections refused, open ones cut),
    :meth:`start` brings it back on the same port."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.port = free_port()
        self.url = f"{parts.scheme}://127.0.0.1:{self.port}"
        self._server: _Forwarding | None = None

    def start(self) -> Forwarder:
        self._server = _Forwarding(self.port, self.target)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.closed = True
        self._server.shutdown()
        self._server.server_close()
        for end in list(self._server.open):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self._server = None
