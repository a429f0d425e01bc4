"""Lightning training: the selection metric measured every epoch, and the checkpoint it chooses."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from autoencoders.callbacks import TrainingBar
from autoencoders.data.base import Splits
from autoencoders.data.spiral import SpiralDataModule
from autoencoders.errors import ConfigError
from autoencoders.evaluation import TorchCodec, evaluate
from autoencoders.scores import AutoencoderScorer, FittedScore
from autoencoders.selection import Selection
from autoencoders.training import check_selection, fit_best, training_callbacks
from pipelines.common import build, compose_config


def spiral_with_validation_anomalies() -> SpiralDataModule:
    datamodule = SpiralDataModule(epoch_size=200)
    splits = datamodule.splits
    anomalies = splits.test[splits.test_is_anomaly][:100]
    datamodule._splits = Splits(**{**splits.__dict__, "val_anomalies": anomalies})
    return datamodule


def fit_selected(selection: Selection, tmp_path, epochs: int = 6, score: str = "reconstruction"):
    datamodule = spiral_with_validation_anomalies()
    pl.seed_everything(0, verbose=False)
    module = build(compose_config("train", ["trainer.max_epochs=6"]).model)
    module.anomaly_score = score
    checkpoint, callbacks = training_callbacks(datamodule, tmp_path, epochs, selection)
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=callbacks,
        logger=CSVLogger(tmp_path),  # the learning-rate monitor needs a logger
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return datamodule, module, checkpoint, fit_best(module, datamodule, trainer, checkpoint)


@pytest.mark.parametrize("score", ["reconstruction", "rapp"])
def test_val_auroc_each_epoch_is_the_evaluations_and_the_checkpoint_keeps_the_best(tmp_path, score) -> None:
    datamodule, module, checkpoint, chosen = fit_selected(
        Selection("val/auroc", "max"), tmp_path, score=score
    )
    splits = datamodule.splits
    codec = TorchCodec(module.net)
    restored = evaluate(codec, splits, scorer=AutoencoderScorer(codec, FittedScore(score))).metrics[
        "val/auroc"
    ]
    assert restored == pytest.approx(float(checkpoint.best_model_score), abs=1e-6)  # stored as float32
    assert chosen.path and chosen.epoch is not None


def test_val_loss_checkpoint_is_the_restored_models_loss(tmp_path) -> None:
    datamodule, module, checkpoint, _ = fit_selected(Selection("val/loss", "min"), tmp_path)
    loss = module.validation_loss(datamodule.splits.val)
    assert loss == pytest.approx(float(checkpoint.best_model_score), rel=1e-5)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("test/auroc", "optimized_metric must be one of ['val/loss', 'val/auroc'] for training"),
        ("val/auroc", "optimized_metric=val/auroc needs validation anomalies"),
    ],
)
def test_selection_must_be_measured_every_epoch(metric: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_selection(Selection(metric, "max"), SpiralDataModule())
    assert str(raised.value).startswith(message)


def test_a_bad_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"optimized_mode must be one of \['min', 'max'\], got 'up'"):
        Selection("val/loss", "up")


def test_the_progress_bar_shows_on_a_terminal_only_unless_set(monkeypatch) -> None:
    from pipelines.train import progress_bar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_bar(None) is True and progress_bar(False) is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_bar(None) is False and progress_bar(True) is True


def test_the_progress_bar_shows_the_running_loss_redrawn_about_ten_times_an_epoch(tmp_path) -> None:
    datamodule = SpiralDataModule()
    _, callbacks = training_callbacks(
        datamodule, tmp_path, 10, Selection("val/loss", "min"), progress_bar=True
    )
    bar = next(callback for callback in callbacks if isinstance(callback, TrainingBar))
    assert bar.refresh_rate == 2  # the spiral's 20 full-batch steps an epoch
    module = build(compose_config("train").model)
    module._epoch_loss_sum, module._epoch_samples = torch.tensor(0.5), 100
    trainer = SimpleNamespace(loggers=[], progress_bar_metrics={"val/loss": 0.1})
    assert bar.get_metrics(trainer, module) == {"val/loss": 0.1, "loss": "0.005"}
