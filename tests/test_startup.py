"""The entry points keep the libraries' objects out of the garbage collector's walks."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from autoencoders.util.startup import libraries_loading


class Node:
    """A tracked object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.me = self


def test_a_block_that_loads_a_library_pauses_collection_then_freezes_what_exists(
    tmp_path, monkeypatch
) -> None:
    (tmp_path / "fresh_library.py").write_text("TABLE = [{'row': i} for i in range(100)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert gc.isenabled()
    gc.unfreeze()
    with libraries_loading():
        assert not gc.isenabled()
        import fresh_library
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(fresh_library.TABLE)
    assert not any(o is fresh_library.TABLE[0] for o in gc.get_objects())  # walked no more


def test_a_block_that_loads_nothing_new_freezes_nothing() -> None:
    """A sequential sweep's later jobs: the earlier job's garbage must stay collectable."""
    gc.unfreeze()
    with libraries_loading():
        import json  # noqa: F401  (loaded already)

        garbage = Node()
    assert gc.get_freeze_count() == 0
    assert any(o is garbage for o in gc.get_objects())


def test_only_the_outer_block_resumes_collection_and_an_error_resumes_it_too() -> None:
    with pytest.raises(ImportError), libraries_loading():
        with libraries_loading():
            pass
        assert not gc.isenabled()  # the inner block left the outer's pause in place
        raise ImportError("no such library")
    assert gc.isenabled()


def test_the_entry_points_freeze_their_libraries_and_load_no_torch_lightning_or_matplotlib() -> None:
    """What --help, --cfg and a multirun's launcher process pay: no training libraries; what they
    load is frozen, and collection is on again."""
    probe = "import gc, sys, pipelines.train, pipelines.baseline, pipelines.score; "
    probe += "print(sorted({'torch', 'pytorch_lightning', 'matplotlib'} & set(sys.modules)), "
    probe += "gc.isenabled(), gc.get_freeze_count() > 10_000)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[] True True"


def exit_code_and_output(body: str) -> subprocess.CompletedProcess:
    """``body`` as the ``main`` of :func:`run_and_exit`, in a fresh interpreter."""
    script = (
        textwrap.dedent(
            """
        import atexit, sys, threading, time
        from autoencoders.util.startup import run_and_exit
        atexit.register(lambda: print("atexit ran", flush=True))
        def main():
        """
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\nrun_and_exit(main)\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_a_command_left_without_teardown_runs_its_exit_handlers_and_keeps_its_exit_status():
    finished = exit_code_and_output(
        """
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done"))).start()
        print("buffered, not flushed")
        sys.exit(3)
        """
    )
    assert finished.returncode == 3
    assert finished.stdout.splitlines() == ["buffered, not flushed", "thread done", "atexit ran"]


def test_a_command_that_returns_exits_zero_and_a_message_exits_one_with_the_message():
    assert exit_code_and_output("return 5").returncode == 0
    message = exit_code_and_output('sys.exit("dataset.path: no such file")')
    assert (message.returncode, message.stderr.strip()) == (1, "dataset.path: no such file")
    assert message.stdout.strip() == "atexit ran"
