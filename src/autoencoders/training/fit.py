"""Lightning training: the callbacks a run uses, and a fit that ends on the checkpoint it chose."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint

from autoencoders.data.base import DataKind, InMemoryDataModule
from autoencoders.errors import ConfigError
from autoencoders.training.callbacks import (
    DivergenceGuard,
    EpochSummary,
    ReconstructionSnapshots,
    TrainingBar,
)
from autoencoders.training.devices import check_accelerator, cpu_threads, skip_failing_nvml_checks
from autoencoders.training.grouped_steps import group_steps
from autoencoders.training.module import AutoencoderModule
from autoencoders.training.selection import Selection

#: Metrics logged at every validation, which a checkpoint can monitor.
EPOCH_METRICS = ("val/loss", "val/auroc")


def prepare_training(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    selection: Selection,
    accelerator: str,
    num_threads: int | None,
) -> None:
    """Checks that need the built objects (before the trainer exists), and torch's thread count."""
    torch.set_num_threads(cpu_threads(sum(p.numel() for p in module.parameters()), num_threads))
    check_accelerator(accelerator)
    check_selection(selection, datamodule)


def prepare_trainer(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    selection: Selection,
    workdir: Path,
    make_trainer: Callable[..., pl.Trainer],
    settings: Mapping[str, Any],
    steps_per_call: int | None,
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """The trainer ``make_trainer`` builds with this run's callbacks, and its checkpoint callback.
    ``settings``: the trainer's config (``check_val_every_n_epoch``, ``enable_progress_bar``: null
    shows Lightning's bar on a terminal only, so CI and log files get the EpochSummary lines)."""
    bar = progress_bar(settings.get("enable_progress_bar"))
    every = settings.get("check_val_every_n_epoch") or 1
    checkpoint, callbacks = training_callbacks(datamodule, workdir, every, selection, bar)
    trainer = make_trainer(
        default_root_dir=str(workdir), callbacks=callbacks, enable_progress_bar=bar, logger=False
    )
    group_steps(module, datamodule, trainer, steps_per_call)
    return trainer, checkpoint


def progress_bar(setting: bool | None) -> bool:
    """``trainer.enable_progress_bar``: as set; null shows Lightning's bar on a terminal only."""
    return sys.stderr.isatty() if setting is None else bool(setting)


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
    every_n_epochs: int,
    selection: Selection,
    progress_bar: bool,
) -> tuple[ModelCheckpoint, list[Callback]]:
    """The checkpoint of the best epoch by ``selection`` and every callback a training uses,
    checkpoint first.

    First, because under ``ddp_fork``/``ddp_spawn`` Lightning copies ``best_model_path`` back to the
    main process for the first checkpoint callback only. ``every_n_epochs``: the trainer's
    ``check_val_every_n_epoch``, so that each validation may become the checkpoint. Each
    write also saves ``last.ckpt``, the state an interrupted run resumes from. ``progress_bar``:
    Lightning's bar with the running loss (the trainer must have ``enable_progress_bar=True``).
    """
    checkpoint = ModelCheckpoint(
        dirpath=workdir / "checkpoints",
        filename="best",
        monitor=selection.metric,
        mode=selection.mode,
        every_n_epochs=every_n_epochs,
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
    if datamodule.kind == DataKind.IMAGES:
        splits = datamodule.splits
        callbacks.append(ReconstructionSnapshots(splits.test[splits.showcase(8, 8)]))
    return checkpoint, callbacks


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
