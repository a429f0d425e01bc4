"""Grouped optimizer steps (``steps_per_call``, Keras's ``steps_per_execution``): the one place that
reaches into Lightning's private state. ``pyproject.toml`` pins pytorch-lightning to the minor
versions this was tested with; the training-step side is :meth:`AutoencoderModule.training_step`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl

from autoencoders.data.base import InMemoryDataModule
from autoencoders.errors import ConfigError

if TYPE_CHECKING:
    from pytorch_lightning.callbacks import TQDMProgressBar


def count_manual_step(trainer: pl.Trainer) -> None:
    """Count one optimizer step the module took itself, as ``LightningOptimizer.step`` would:
    ``trainer.global_step`` (checkpoints, schedulers, the progress bar) reads this counter."""
    steps = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
    steps.increment_ready()
    steps.increment_completed()


def set_refresh_rate(bar: TQDMProgressBar, rate: int) -> None:
    """Redraw Lightning's bar every ``rate`` calls; known only once training starts."""
    bar._refresh_rate = rate


def running_loss(module: Any) -> float | None:
    """The epoch's running training loss the module keeps (None before its first step)."""
    samples = getattr(module, "_epoch_samples", 0)
    return float(module._epoch_loss_sum) / samples if samples else None


#: Optimizer steps per training call for a network under ``GROUPED_NETWORK`` parameters when
#: ``steps_per_call`` is null: enough that Lightning's per-batch work stops mattering (the spiral's
#: 20 steps an epoch become one call), few enough that a progress bar still moves.
STEPS_PER_GROUP = 32

#: Networks under this many parameters take their steps in groups when ``steps_per_call`` is null:
#: the dense networks built for tables and MNIST (17,000 for a 31-column table) and a series' 1-D
#: convolutional one, whose steps are short beside Lightning's per-step work (a million-row table's
#: epoch: 7.1-9.9 s one step a call, 4.5-5.0 s grouped, the same metrics); not the image
#: convolutional network (141,073).
GROUPED_NETWORK = 100_000


def group_steps(
    module: pl.LightningModule, datamodule: InMemoryDataModule, trainer: pl.Trainer, requested: int | None
) -> int:
    """Set how many optimizer steps one training call takes (``steps_per_call``; Keras's
    ``steps_per_execution``) on the module and its datamodule, and return it.

    ``requested`` wins where set; null means :data:`STEPS_PER_GROUP` (at most an epoch)
    for a network under :data:`GROUPED_NETWORK` parameters, else 1. Why: on the spiral's
    303-parameter network Lightning's per-batch hooks, closure and progress tracking cost more than
    the optimizer step itself. A group's steps are plain PyTorch steps, so groups need a
    training whose steps no Lightning wrapper changes: one device, no gradient scaler (``16-mixed``),
    clipping or accumulation, and no limit counted in batches (``max_steps``,
    ``limit_train_batches``, ``val_check_interval``); null then means 1.
    """
    unsupported = [
        setting
        for setting, present in (
            (f"{trainer.world_size} processes (DDP)", trainer.world_size > 1),
            (f"trainer.precision={trainer.precision}", trainer.precision in ("16-mixed", "16")),
            ("trainer.gradient_clip_val", trainer.gradient_clip_val is not None),
            ("trainer.accumulate_grad_batches", trainer.accumulate_grad_batches > 1),
            # Lightning counts these in calls, not steps: a group would change what they mean.
            ("trainer.max_steps", trainer.max_steps not in (-1, None)),
            ("trainer.limit_train_batches", trainer.limit_train_batches != 1.0),
            ("trainer.val_check_interval", trainer.val_check_interval != 1.0),
        )
        if present
    ]
    if requested is not None and requested > 1 and unsupported:
        raise ConfigError(
            f"steps_per_call={requested} needs one device without a gradient scaler (16-mixed), "
            f"clipping, accumulation or batch limits, but this training has {unsupported[0]}: "
            "use steps_per_call=1"
        )
    steps = requested
    if steps is None:
        small = sum(p.numel() for p in module.parameters()) < GROUPED_NETWORK
        steps = min(STEPS_PER_GROUP, datamodule.steps_per_epoch) if small else 1
        steps = 1 if unsupported else steps
    module.group_steps(steps)
    datamodule.steps_per_call = steps
    return steps
