"""Checks on the requested accelerator, made before any run is created."""

from __future__ import annotations

import os

from lightning_fabric.accelerators.cuda import num_cuda_devices

from autoencoders.errors import ConfigError


def check_accelerator(accelerator: str) -> None:
    """Fail early, in one line, when the trainer asks for a GPU that this machine does not have."""
    # Lightning's count does not initialise CUDA in this process, which ddp_fork needs.
    if accelerator in {"gpu", "cuda"} and num_cuda_devices() == 0:
        raise ConfigError(
            f"trainer.accelerator={accelerator} needs a CUDA GPU and none is available on this "
            "machine: use trainer=cpu"
        )


def node_rank() -> int:
    """This machine's node rank in a multi-node job, from the variables the launchers set
    (``NODE_RANK``: Lightning and torchrun's ``--node-rank``, ``GROUP_RANK``: torchrun,
    ``SLURM_NODEID``: SLURM); 0 on a single machine."""
    for name in ("NODE_RANK", "GROUP_RANK", "SLURM_NODEID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0
