"""Fit a LightningModule on a datamodule, then evaluate it and record everything in an MLflow run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from mlflow.tracking import MlflowClient
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from autoencoders import tracking
from autoencoders.callbacks import EpochSummary
from autoencoders.data.base import InMemoryDataModule
from autoencoders.evaluation import TorchCodec, evaluate
from autoencoders.lightning import AutoencoderModule
from autoencoders.loggers import BufferedMLFlowLogger
from autoencoders.report import build_figures

log = logging.getLogger(__name__)

TrainerFactory = Callable[..., pl.Trainer]


def fit_and_record(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    make_trainer: TrainerFactory,
    client: MlflowClient,
    run_id: str,
    tracking_uri: str,
    workdir: Path,
    callbacks: Sequence[Callback] = (),
) -> dict[str, float]:
    """Train, restore the best checkpoint (lowest ``val/loss``), evaluate, and log the metrics,
    figures, checkpoint and model into ``run_id``. Returns the final metrics."""
    logger = BufferedMLFlowLogger(tracking_uri=tracking_uri, run_id=run_id)
    trainer = make_trainer(logger=logger, callbacks=[EpochSummary(), *callbacks])
    # At most ~20 checkpoint writes per run: a 200-epoch spiral run would otherwise spend more
    # time saving checkpoints than training between them.
    checkpoint = ModelCheckpoint(
        dirpath=workdir / "checkpoints",
        filename="best",
        monitor="val/loss",
        mode="min",
        every_n_epochs=max(1, (trainer.max_epochs or 1) // 20),
    )
    trainer.callbacks.append(checkpoint)
    trainer.fit(module, datamodule=datamodule)
    if not trainer.is_global_zero:
        return {}
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
        client.log_artifact(run_id, checkpoint.best_model_path, "checkpoints")
    net = module.net.cpu().eval()
    splits = datamodule.splits
    evaluation = evaluate(TorchCodec(net), splits)
    tracking.log_metrics(client, run_id, evaluation.metrics, step=trainer.current_epoch)
    for key, note in evaluation.notes.items():
        client.set_tag(run_id, key, note)
        log.warning("%s %s", key, note)
    figures = build_figures(
        TorchCodec(net),
        splits,
        evaluation,
        datamodule.kind,
        f"{module.name} autoencoder",
        getattr(datamodule, "error_map_box", None),
    )
    tracking.log_figures(client, run_id, figures)
    tracking.log_model(run_id, net, splits.train[:5].astype("float32"))
    return evaluation.metrics
