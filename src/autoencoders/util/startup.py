"""Start-up of the command-line entry points: the libraries' objects kept out of the garbage collector.

torch, Lightning, MLflow, scikit-learn and matplotlib leave about a million objects that the
collector tracks and that live as long as the process: every full collection, and the interpreter's
exit, walks all of them (measured: docs/performance.md, "Start-up and exit"). Python's own remedy
for objects that outlive everything is :func:`gc.freeze`; this module applies it.
Only stdlib imports here: it must be importable before the libraries are.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import NoReturn

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


def run_and_exit(main: Callable[[], object]) -> NoReturn:
    """Run a command's ``main`` and end the process as the interpreter would, minus its teardown.

    After a run, tearing down the interpreter (freeing every module and object, with collections in
    between) took 0.8-1.5 s of a 12 s spiral run here, against 0.25 s for a plain torch script:
    work nobody waits for. This does what a normal exit does that matters (stops and joins the
    threads left running, calls the ``atexit`` handlers: MLflow's pending writes, logging's flush;
    flushes stdout and stderr) and then leaves with ``os._exit``, keeping ``sys.exit``'s code. Any
    other exception propagates as usual: its traceback printed by the normal exit.
    """
    try:
        main()
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    # The interpreter's own first exit step: the callbacks libraries register to stop their
    # workers (joblib's loky executor, torch.distributed), then a join of the non-daemon threads.
    # Joining without those callbacks first would wait on workers that never stop.
    threading._shutdown()
    if code is not None and not isinstance(code, int):  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing left to flush into
            stream.flush()
    os._exit(code or 0)
