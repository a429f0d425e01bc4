"""Checks on the requested accelerator, made before any run is created."""

from __future__ import annotations

import torch

from autoencoders.errors import ConfigError


def check_accelerator(accelerator: str) -> None:
    """Fail early, in one line, when the trainer asks for a GPU that this machine does not have."""
    if accelerator in {"gpu", "cuda"} and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} needs a CUDA GPU and none is available on this "
            "machine: use trainer=cpu"
        )
