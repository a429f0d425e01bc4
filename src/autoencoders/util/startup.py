"""Start-up of the command-line entry points: the libraries' objects kept out of the garbage collector.

torch, Lightning, MLflow, scikit-learn and matplotlib leave about a million objects that the
collector tracks and that live as long as the process: every full collection, and the interpreter's
exit, walks all of them (measured: docs/performance.md, "Start-up and exit"). Python's own remedy
for objects that outlive everything is :func:`gc.freeze`; this module applies it.
Only stdlib imports here: it must be importable before the libraries are.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from autoencoders.util import cpus  # noqa: F401 - its first look at the CPUs, before the libraries load


@contextmanager
def libraries_loading() -> Iterator[None]:
    """Pause the cyclic collector while the block imports libraries, then, if it loaded any, freeze
    what exists.

    Frozen objects are never walked again (nor at exit); everything created later, the run's own
    objects, is collected as usual. Reference counting still frees whatever is dropped, so a
    frozen object is only kept if it ends up in a reference cycle. A block that loads nothing new
    freezes nothing: the second job of a sequential sweep (Hydra's basic launcher) finds the
    libraries loaded, and freezing then would keep the first job's garbage (its trainer, module and
    data, which reference each other) for good. Nests: only the outermost block re-enables the
    collector, which it leaves as it found it, on an error too.
    """
    was_enabled = gc.isenabled()
    modules_before = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > modules_before:
            gc.freeze()
        if was_enabled:
            gc.enable()
