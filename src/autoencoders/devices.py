"""Checks on the requested accelerator, made before any run is created."""

from __future__ import annotations

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
