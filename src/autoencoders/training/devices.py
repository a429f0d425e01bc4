"""Checks on the requested accelerator, made before any run is created."""

from __future__ import annotations

import ctypes
import functools
import os

import torch
from lightning_fabric.accelerators.cuda import num_cuda_devices

from autoencoders.errors import ConfigError
from autoencoders.util import cpus


def check_accelerator(accelerator: str) -> None:
    """Fail early, in one line, when the trainer asks for a GPU that this machine does not have."""
    # Lightning's count does not initialise CUDA in this process, which ddp_fork needs.
    if accelerator in {"gpu", "cuda"} and num_cuda_devices() == 0:
        raise ConfigError(
            f"trainer.accelerator={accelerator} needs a CUDA GPU and none is available on this "
            "machine: use trainer=cpu"
        )


#: Below this many parameters a network trains on one CPU thread when ``num_threads`` is not set.
SMALL_NETWORK = 10_000


#: torch's own intra-op thread count (one per core), read before any run sets it.
TORCH_THREADS = torch.get_num_threads()


def cpu_threads(n_parameters: int, requested: int | None) -> int:
    """The torch intra-op thread count for a network: ``requested`` when set; one thread for a
    network under :data:`SMALL_NETWORK` parameters; else torch's own count, capped by the CPUs
    this process may use that other processes left free (:mod:`autoencoders.util.cpus`).

    Why: a step of a tiny network is too short to split, and a thread that waits on a core another
    process keeps busy stalls every step (measured: docs/performance.md, "Busy machines").
    """
    if requested:
        return int(requested)
    if n_parameters < SMALL_NETWORK:
        return 1
    return max(1, min(TORCH_THREADS, cpus.WATCH.free()))


#: Set to 1 by ``import lightning_fabric``: CUDA checks then ask NVML first, which keeps them from
#: initialising CUDA before a fork (``ddp_fork``).
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


@functools.cache
def nvml_loads() -> bool:
    """Whether NVML (the GPU driver's management library) can be loaded on this machine."""
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


def skip_failing_nvml_checks() -> None:
    """Drop Lightning's NVML-first CUDA check where NVML cannot be loaded (no GPU driver).

    Why: torch's Adam asks ``torch.cuda.is_available()`` at every step; with the check set and no
    driver, each answer tries to load NVML, fails (~0.1 ms here), then asks the CUDA runtime anyway,
    which is all that is asked without it: the same answer, the same fork safety, 8 % of a spiral
    step. With a driver, nothing changes."""
    if os.environ.get(NVML_CHECK) == "1" and not nvml_loads():
        del os.environ[NVML_CHECK]
