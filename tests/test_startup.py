"""The entry points keep the libraries' objects out of the garbage collector's walks."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys

import pytest

from autoencoders.startup import libraries_loading


class Node:
    """A tracked object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.me = self


def test_the_block_pauses_collection_then_freezes_what_it_made() -> None:
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    with libraries_loading():
        assert not gc.isenabled()
        made = [Node() for _ in range(100)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(made)
    assert gc.is_tracked(made[0]) and not any(made[0] is o for o in gc.get_objects())  # walked no more


def test_only_the_outer_block_resumes_collection_and_an_error_resumes_it_too() -> None:
    with pytest.raises(ImportError), libraries_loading():
        with libraries_loading():
            pass
        assert not gc.isenabled()  # the inner block left the outer's pause in place
        raise ImportError("no such library")
    assert gc.isenabled()


def test_the_training_entry_point_freezes_its_libraries_and_leaves_collection_on() -> None:
    import pipelines.train

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    importlib.reload(pipelines.train)  # its module body again: the imports' block
    assert gc.isenabled() and gc.get_freeze_count() > 10_000


def test_the_entry_points_load_without_torch_lightning_or_matplotlib() -> None:
    """What --help, --cfg and a multirun's launcher process pay: no training libraries."""
    probe = "import sys, pipelines.train, pipelines.baseline, pipelines.score; "
    probe += "print(sorted({'torch', 'pytorch_lightning', 'matplotlib'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
