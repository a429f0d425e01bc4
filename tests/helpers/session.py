"""Something costly made once per test session, even under xdist, whose workers each run every
session fixture: the first worker makes it under a file lock, the others read what it left."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock  # torch's dependency


def once_per_session(
    factory: pytest.TempPathFactory, worker_id: str, name: str, make: Callable[[Path], dict]
) -> dict:
    """``make(folder)``'s JSON-able result, ``make`` run once per session (``worker_id``: xdist's
    fixture; ``master`` without xdist, whose temporary root is not one session's alone)."""
    if worker_id == "master":
        return make(factory.mktemp(name))
    folder = factory.getbasetemp().parent / name  # the session's, shared by its workers
    with FileLock(f"{folder}.lock"):
        made = folder / "made.json"
        if not made.exists():
            folder.mkdir()
            made.write_text(json.dumps(make(folder)))
        return json.loads(made.read_text())
