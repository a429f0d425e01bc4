"""Fit a LightningModule on a datamodule, then evaluate it and record everything in an MLflow run."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from mlflow.tracking import MlflowClient
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from autoencoders import tracking
from autoencoders.callbacks import EpochSummary, ReconstructionSnapshots
from autoencoders.data.base import InMemoryDataModule, Splits
from autoencoders.evaluation import TorchCodec
from autoencoders.lightning import AutoencoderModule
from autoencoders.loggers import BufferedMLFlowLogger
from autoencoders.recording import evaluate_and_record
from autoencoders.report import spread

log = logging.getLogger(__name__)


def snapshot_images(splits: Splits, n: int = 8) -> np.ndarray:
    """A fixed handful of test images, normal ones first, anomalous ones after."""
    masks = (~splits.test_is_anomaly, splits.test_is_anomaly)
    return splits.test[np.concatenate([spread(np.flatnonzero(mask), n) for mask in masks])]


def training_callbacks(
    datamodule: InMemoryDataModule, workdir: Path, max_epochs: int
) -> tuple[ModelCheckpoint, list[Callback]]:
    """The best-``val/loss`` checkpoint and every callback a training uses, checkpoint first.

    First, because under ``ddp_fork``/``ddp_spawn`` Lightning copies ``best_model_path`` back to the
    main process for the first checkpoint callback only. At most ~20 checkpoint writes per run: a
    200-epoch spiral run would otherwise spend more time saving checkpoints than training.
    """
    checkpoint = ModelCheckpoint(
        dirpath=workdir / "checkpoints",
        filename="best",
        monitor="val/loss",
        mode="min",
        every_n_epochs=max(1, max_epochs // 20),
    )
    callbacks: list[Callback] = [checkpoint, EpochSummary()]
    if datamodule.kind == "images":
        callbacks.append(ReconstructionSnapshots(snapshot_images(datamodule.splits)))
    return checkpoint, callbacks


def fit_and_record(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    trainer: pl.Trainer,
    checkpoint: ModelCheckpoint,
    client: MlflowClient,
    run_id: str,
    tracking_uri: str,
) -> dict[str, float]:
    """Train with ``trainer`` (built beforehand, so its settings are checked before the run exists)
    logging into ``run_id``, restore the best checkpoint, evaluate, and log the metrics, figures,
    checkpoint and model. Returns the final metrics."""
    trainer.logger = BufferedMLFlowLogger(tracking_uri=tracking_uri, run_id=run_id)
    trainer.fit(module, datamodule=datamodule)
    if not trainer.is_global_zero:
        return {}
    client.set_tag(run_id, "world_size", str(trainer.world_size))  # processes that trained
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
        client.log_artifact(run_id, checkpoint.best_model_path, "checkpoints")
    net = module.net.cpu().eval()
    label = f"{module.name} autoencoder"
    evaluation = evaluate_and_record(
        client, run_id, TorchCodec(net), datamodule, label, trainer.current_epoch
    )
    tracking.log_model(tracking_uri, run_id, net, datamodule.splits.train[:5].astype("float32"))
    # The last epoch's validation loss, for sweeps that minimise it (already logged per epoch).
    return {**evaluation.metrics, "val/loss": float(trainer.callback_metrics["val/loss"])}
