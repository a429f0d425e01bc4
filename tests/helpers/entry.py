"""Entry points run as a user runs them: ``python -m pipelines.<entry>``, in a subprocess or, where
the process boundary is not the subject, in this process (no second start-up of torch and MLflow)."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.hydra_glue import PROJECT_ROOT


def store_overrides(store: dict[str, str]) -> list[str]:
    return [f"tracking.uri={store['uri']}", f"tracking.artifact_root={store['artifact_root']}"]


def run_command(entry: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m pipelines.<entry> args...`` from the project's root."""
    command = [sys.executable, "-m", f"pipelines.{entry}", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


def run_main(entry: str, workdir: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """``pipelines.<entry>.main()`` with ``args`` as its command line, in this process; its output
    folders under ``workdir``. Returns the exit status (0 when it returned)."""
    dirs = [f"hydra.run.dir={workdir / 'run'}", f"hydra.sweep.dir={workdir / 'sweep'}"]
    monkeypatch.setattr(sys, "argv", [f"pipelines/{entry}.py", *args, *dirs])
    sigterm = signal.getsignal(signal.SIGTERM)  # the entry point installs its own
    try:
        importlib.import_module(f"pipelines.{entry}").main()
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    return 0
