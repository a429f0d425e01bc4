"""A real ``mlflow server`` for the tests: started in the background as soon as the tests that need
it are collected, so its ~10 s boot overlaps the tests before them; a proxy that makes it go away
and come back; a served detector (``pipelines.serve``)."""

from __future__ import annotations

import base64
import contextlib
import json
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
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import tracking_server
from pipelines.hydra_glue import PROJECT_ROOT, checked, compose_config

#: The served detector's row limit (``max_rows``): small, so the tests can pass it cheaply.
SERVED_MAX_ROWS = 50
#: The test tracking server's admin, and the name it is reached by besides 127.0.0.1.
ADMIN = (tracking_server.ADMIN, "admin-password-for-tests")
HOST_NAME = "mlflow-host"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen | None, log: Path, seconds: float) -> None:
    """Until ``url`` answers 200; the server's log as the error if it dies or takes too long
    (``process`` None: another pytest process started it and watches it)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-3000:]) from None
            time.sleep(0.5)


@dataclass
class TrackingServer:
    """The project's own server (``pipelines.tracking_server``) on 127.0.0.1 with its login on
    (``auth=true``): a free port, its own store, artifact serving on, :data:`HOST_NAME` among the
    allowed Host names, the admin :data:`ADMIN`."""

    process: subprocess.Popen | None  # None in an xdist worker: the controller owns the server
    url: str
    folder: Path

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    @property
    def port(self) -> int:
        return int(self.url.rpartition(":")[2])

    @classmethod
    def start(cls) -> TrackingServer:
        """The command and environment the launcher would ``exec``, run in the background (one
        worker: the suite's processes share two cores)."""
        folder, port = Path(tempfile.mkdtemp(prefix="mlflow-server-")), free_port()
        settings = [f"port={port}", f"store={folder}", "auth=true", f"allowed_hosts=[{HOST_NAME}]"]
        cfg = checked(compose_config("tracking_server", [*settings, "workers=1"]), "tracking_server")
        environ = {**os.environ, tracking_server.ADMIN_PASSWORD: ADMIN[1]}
        command, env = tracking_server.prepare(cfg, environ)
        with (folder / "server.log").open("w") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        return cls(process, f"http://127.0.0.1:{port}", folder)

    def status(
        self,
        path: str,
        credentials: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: dict | None = None,
    ) -> int:
        """The HTTP status the server answers ``path`` with: basic auth with ``credentials``, a JSON
        POST of ``body``; ``headers`` may forge ``Host`` or ``Origin``."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def wait_until_up(self, seconds: float = 120) -> None:
        wait_for(f"{self.url}/health", self.process, self.folder / "server.log", seconds)

    def stop(self) -> None:
        """The server and its workers: a throwaway store, nothing to shut down gracefully."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class ModelServer:
    """A detector served by ``pipelines.serve`` (what ``make serve`` runs) on 127.0.0.1, in its own
    process group: ``helpers/served.py`` logs it first, in the same process."""

    process: subprocess.Popen | None  # None in an xdist worker: the controller owns the server
    url: str
    log: Path

    @classmethod
    def start(cls, max_rows: int) -> ModelServer:
        """``helpers.served`` in the background: it logs the detector, then serves it."""
        folder, port = Path(tempfile.mkdtemp(prefix="served-detector-")), free_port()
        log = folder / "model-server.log"
        paths = [str(PROJECT_ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
        command = [sys.executable, "-m", "helpers.served", str(folder), str(port), str(max_rows)]
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

    def wait_until_up(self, seconds: float = 240) -> dict[str, str]:
        """What the server's process logged (its store, model URI and table), once it answers."""
        wait_for(f"{self.url}/ping", self.process, self.log, seconds)
        return json.loads((self.log.parent / "served.json").read_text())

    def stop(self) -> None:
        """The server's process group, and its folder (the log, and the store it was given)."""
        if self.process is None:
            return
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


def asgi_post(app: Any, path: str, body: bytes) -> tuple[int, dict]:
    """POST ``body`` (JSON) to an ASGI ``app`` in this process, as a server would hand it over:
    the answer's status and JSON, without a port or a server process."""
    import asyncio

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict:
        return sent.pop() if sent else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answer["status"], json.loads(answer["body"])
