"""Lightning training: the callbacks a run uses, and a fit that ends on the checkpoint it chose."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint

from autoencoders.data.base import InMemoryDataModule
from autoencoders.errors import ConfigError
from autoencoders.training.callbacks import (
    DivergenceGuard,
    EpochSummary,
    ReconstructionSnapshots,
    TrainingBar,
)
from autoencoders.training.devices import SMALL_NETWORK, skip_failing_nvml_checks
from autoencoders.training.module import AutoencoderModule
from autoencoders.training.selection import Selection, epoch_stride

#: Metrics logged at every validation, which a checkpoint can monitor.
EPOCH_METRICS = ("val/loss", "val/auroc")


def check_selection(selection: Selection, datamodule: InMemoryDataModule) -> None:
    """The checkpoint monitors the selection metric every epoch: it must be one measured then."""
    if selection.metric not in EPOCH_METRICS:
        raise ConfigError(
            f"optimized_metric must be one of {list(EPOCH_METRICS)} for training (the checkpoint "
            f"monitors it every epoch), got {selection.metric!r}"
        )
    if selection.metric == "val/auroc" and datamodule.splits.val_anomalies is None:
        raise ConfigError(
            f"optimized_metric=val/auroc needs validation anomalies, which dataset={datamodule.name} "
            "does not have: use optimized_metric=val/loss"
        )


def training_callbacks(
    datamodule: InMemoryDataModule,
    workdir: Path,
    max_epochs: int,
    selection: Selection,
    progress_bar: bool = False,
) -> tuple[ModelCheckpoint, list[Callback]]:
    """The checkpoint of the best epoch by ``selection`` and every callback a training uses,
    checkpoint first.

    First, because under ``ddp_fork``/``ddp_spawn`` Lightning copies ``best_model_path`` back to the
    main process for the first checkpoint callback only. At most ~20 checkpoint writes per run: a
    200-epoch spiral run would otherwise spend more time saving checkpoints than training. Each
    write also saves ``last.ckpt``, the state an interrupted run resumes from. ``progress_bar``:
    Lightning's bar with the running loss (the trainer must have ``enable_progress_bar=True``).
    """
    checkpoint = ModelCheckpoint(
        dirpath=workdir / "checkpoints",
        filename="best",
        monitor=selection.metric,
        mode=selection.mode,
        every_n_epochs=epoch_stride(max_epochs),  # the validations: trainer.check_val_every_n_epoch
        save_last=True,
    )
    callbacks: list[Callback] = [
        checkpoint,
        DivergenceGuard(),
        EpochSummary(),
        LearningRateMonitor(logging_interval="epoch"),
    ]
    if progress_bar:  # redrawn ~10 times an epoch: costs nothing measurable on the spiral's tiny steps
        callbacks.append(TrainingBar())
    if datamodule.kind == "images":
        splits = datamodule.splits
        callbacks.append(ReconstructionSnapshots(splits.test[splits.showcase(8, 8)]))
    return checkpoint, callbacks


#: Optimizer steps per training call for a network under ``SMALL_NETWORK`` parameters when
#: ``steps_per_call`` is null: enough that Lightning's per-batch work stops mattering (the spiral's
#: 20 steps an epoch become one call), few enough that a progress bar still moves.
SMALL_NETWORK_STEPS_PER_CALL = 32


def group_steps(
    module: AutoencoderModule, datamodule: InMemoryDataModule, trainer: pl.Trainer, requested: int | None
) -> int:
    """Set how many optimizer steps one training call takes (``steps_per_call``; Keras's
    ``steps_per_execution``) on the module and its datamodule, and return it.

    ``requested`` wins where set; null means :data:`SMALL_NETWORK_STEPS_PER_CALL` (at most an epoch)
    for a network under :data:`~autoencoders.training.devices.SMALL_NETWORK` parameters, else 1. Why: on the
    spiral's 303-parameter network Lightning's per-batch hooks, closure and progress tracking cost
    more than the optimizer step itself. A group's steps are plain PyTorch steps, so groups need a
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
        small = sum(p.numel() for p in module.parameters()) < SMALL_NETWORK
        steps = min(SMALL_NETWORK_STEPS_PER_CALL, datamodule.steps_per_epoch) if small else 1
        steps = 1 if unsupported else steps
    module.group_steps(steps)
    datamodule.steps_per_call = steps
    return steps


def relocate_checkpoint(path: Path, dirpath: Path) -> None:
    """Point the checkpoint callbacks' state saved in ``path`` at ``dirpath``, where a resumed
    training keeps its checkpoints: Lightning restores the best score so far only when the folder
    is the one it was saved from, and a resumed run trains in a new folder (or on another machine)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key, saved in state.get("callbacks", {}).items():
        if not key.startswith("ModelCheckpoint"):
            continue
        saved["dirpath"] = str(dirpath)
        for name in ("best_model_path", "last_model_path", "kth_best_model_path"):
            if saved.get(name):
                saved[name] = str(dirpath / Path(saved[name]).name)
        saved["best_k_models"] = {
            str(dirpath / Path(p).name): v for p, v in saved.get("best_k_models", {}).items()
        }
    torch.save(state, path)


@dataclass(frozen=True)
class ChosenCheckpoint:
    """The checkpoint a fit ended on: its file and its (0-based) epoch; no path if none was saved."""

    path: str = ""
    epoch: int | None = None


def fit_best(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    trainer: pl.Trainer,
    checkpoint: ModelCheckpoint,
    resume_from: Path | None = None,
) -> ChosenCheckpoint:
    """Fit (from ``resume_from``, a last checkpoint, when given), then load the weights of the
    checkpoint chosen by its monitor into ``module``. Checkpoints load as weights only: no pickled
    objects run."""
    skip_failing_nvml_checks()
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    if not checkpoint.best_model_path:
        return ChosenCheckpoint()
    state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    return ChosenCheckpoint(checkpoint.best_model_path, int(state["epoch"]))
