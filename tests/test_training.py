"""Lightning training: the selection metric measured every epoch, and the checkpoint it chooses."""

from __future__ import annotations

import copy
import functools
import sys
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from autoencoders.anomaly.autoencoder import AutoencoderDetector
from autoencoders.data.base import Splits
from autoencoders.data.spiral import SpiralDataModule
from autoencoders.errors import ConfigError
from autoencoders.evaluation.metrics import evaluate
from autoencoders.training.callbacks import TrainingBar
from autoencoders.training.fit import check_selection, fit_best, training_callbacks
from autoencoders.training.grouped_steps import group_steps
from autoencoders.training.selection import Selection
from helpers.built import spiral_data
from pipelines.hydra_glue import build, compose_config


def spiral_with_validation_anomalies() -> SpiralDataModule:
    datamodule = spiral_data(epoch_size=200)
    splits = datamodule.splits
    anomalies = splits.test[splits.test_is_anomaly][:100]
    datamodule._splits = Splits(**{**splits.__dict__, "val_anomalies": anomalies})
    return datamodule


def fit_selected(selection: Selection, tmp_path, epochs: int = 6, score: str = "reconstruction"):
    datamodule = spiral_with_validation_anomalies()
    pl.seed_everything(0, verbose=False)
    module = build(compose_config("train", ["trainer.max_epochs=6", f"anomaly.score={score}"]).model)
    checkpoint, callbacks = training_callbacks(datamodule, tmp_path, 1, selection, False)
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
    detector = AutoencoderDetector(module.net, score, "rapp").fit(splits.train, splits.val)
    restored = evaluate(detector, splits, 0.99, 0.0).metrics["val/auroc"]
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
        check_selection(Selection(metric, "max"), spiral_data())
    assert str(raised.value).startswith(message)


def test_a_bad_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"optimized_mode must be one of \['min', 'max'\], got 'up'"):
        Selection("val/loss", "up")


def test_the_progress_bar_shows_on_a_terminal_only_unless_set(monkeypatch) -> None:
    from autoencoders.training.fit import progress_bar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_bar(None) is True and progress_bar(False) is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_bar(None) is False and progress_bar(True) is True


def short_spiral_fit(tmp_path, steps_per_call: int | None, epochs: int = 3, **trainer_settings):
    """The default spiral module fitted for ``epochs`` with the pipeline's callbacks; returns the
    module, the trainer and the steps per call it used."""
    datamodule = spiral_data()
    pl.seed_everything(0, verbose=False)
    module = build(compose_config("train").model)
    _, callbacks = training_callbacks(
        datamodule, tmp_path, 1, Selection("val/loss", "min"), progress_bar=True
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=callbacks,
        logger=CSVLogger(tmp_path),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **trainer_settings,
    )
    steps = group_steps(module, datamodule, trainer, steps_per_call)
    trainer.fit(module, datamodule=datamodule)
    return module, trainer, steps


def test_grouped_steps_train_the_very_weights_of_one_step_per_call(tmp_path) -> None:
    single, single_trainer, _ = short_spiral_fit(tmp_path / "one", 1)
    grouped, grouped_trainer, steps = short_spiral_fit(tmp_path / "seven", 7)  # 20 steps: 7, 7, 6
    assert steps == 7 and not grouped.automatic_optimization
    assert single_trainer.global_step == grouped_trainer.global_step == 60
    for name, value in single.state_dict().items():
        assert torch.equal(value, grouped.state_dict()[name]), name
    lr = [t.optimizers[0].param_groups[0]["lr"] for t in (single_trainer, grouped_trainer)]
    assert lr[0] == lr[1] < 0.003  # the cosine schedule stepped each epoch in both


@pytest.mark.parametrize("model", ["dense", "conv", "conv1d"])
def test_the_configured_batched_adam_trains_the_weights_of_torchs_default_adam(model: str) -> None:
    """The model configs set ``foreach: true`` for speed: the very weights of the per-parameter
    update torch picks by default on a CPU."""
    shapes = {"conv": ["dataset=mnist"], "conv1d": ["dataset.input_shape=[2,64]", "model.code_dim=8"]}
    overrides = shapes.get(model, [])
    config = compose_config("train", [f"model={model}", *overrides]).model
    assert config.optimizer.foreach is True
    torch.manual_seed(0)
    initial = build(config.net)
    batch = torch.rand(8, *initial.input_shape)
    trained = []
    for optimizer in (build(config.optimizer), functools.partial(torch.optim.Adam, lr=config.optimizer.lr)):
        net = copy.deepcopy(initial)
        steps = optimizer(net.parameters())
        for _ in range(5):
            steps.zero_grad()
            torch.nn.functional.mse_loss(net(batch), batch).backward()
            steps.step()
        trained.append(net.state_dict())
    for name, value in trained[0].items():
        assert torch.equal(value, trained[1][name]), name
    assert not torch.equal(trained[0][name], initial.state_dict()[name])  # it did train


def test_steps_per_call_null_groups_small_networks_and_only_where_lightning_can(tmp_path) -> None:
    datamodule, module = spiral_data(), build(compose_config("train").model)
    plain = pl.Trainer(logger=False, enable_checkpointing=False)
    assert group_steps(module, datamodule, plain, None) == 20  # the spiral's epoch: one call
    assert datamodule.steps_per_call == 20 and not module.automatic_optimization
    assert group_steps(module, datamodule, plain, 1) == 1 and module.automatic_optimization
    # A 41-feature table's dense network, 17,000 parameters: grouped too (32 steps, an epoch is more)
    table_net = ["dataset.input_shape=[41]", "model.code_dim=6", "model.net.hidden_dims=[82,41]"]
    table = build(compose_config("train", ["dataset.epoch_size=100000", *table_net]).model)
    assert 10_000 < sum(p.numel() for p in table.parameters()) < 100_000
    assert group_steps(table, spiral_data(epoch_size=100_000), plain, None) == 32
    conv = build(compose_config("train", ["model=conv"]).model)
    assert group_steps(conv, datamodule, plain, None) == 1  # 141,073 parameters: one step a call
    clipped = pl.Trainer(logger=False, enable_checkpointing=False, gradient_clip_val=1.0)
    assert group_steps(module, datamodule, clipped, None) == 1
    for limit in ({"max_steps": 50}, {"limit_train_batches": 0.5}, {"val_check_interval": 10}):
        limited = pl.Trainer(logger=False, enable_checkpointing=False, **limit)  # counted in batches
        assert group_steps(module, datamodule, limited, None) == 1, limit
    with pytest.raises(ConfigError) as raised:
        group_steps(module, datamodule, clipped, 4)
    assert str(raised.value) == (
        "steps_per_call=4 needs one device without a gradient scaler (16-mixed), clipping, "
        "accumulation or batch limits, but this training has trainer.gradient_clip_val: use steps_per_call=1"
    )


@pytest.mark.parametrize(("steps_per_call", "refresh_rate"), [(1, 2), (None, 1)])
def test_the_progress_bar_is_redrawn_about_ten_times_an_epoch(tmp_path, steps_per_call, refresh_rate) -> None:
    _, trainer, _ = short_spiral_fit(tmp_path, steps_per_call, epochs=1)
    bar = next(callback for callback in trainer.callbacks if isinstance(callback, TrainingBar))
    assert bar.refresh_rate == refresh_rate  # 20 steps an epoch: one by one, or one group


def test_the_progress_bar_shows_the_running_loss() -> None:
    bar = TrainingBar()
    module = build(compose_config("train").model)
    module._epoch_loss_sum, module._epoch_samples = torch.tensor(0.5), 100
    trainer = SimpleNamespace(loggers=[], progress_bar_metrics={"val/loss": 0.1}, global_step=400)
    assert bar.get_metrics(trainer, module) == {"val/loss": 0.1, "loss": "0.005", "step": 400}


def test_divergence_in_a_group_of_steps_names_its_first_bad_step() -> None:
    from autoencoders.errors import TrainingDiverged
    from autoencoders.training.callbacks import DivergenceGuard

    optimizer = SimpleNamespace(param_groups=[{"lr": 0.5}])
    trainer = SimpleNamespace(global_step=10, current_epoch=0, optimizers=[optimizer], datamodule=None)
    guard = DivergenceGuard()
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor([0.1, 0.2, 0.3])}, None, 0)  # finite
    with pytest.raises(TrainingDiverged) as raised:  # steps 8, 9, 10 of a group: the 9th went wrong
        guard.on_train_batch_end(
            trainer, None, {"loss": torch.tensor([0.1, float("inf"), float("nan")])}, None, 0
        )
    assert str(raised.value) == (
        "training diverged: the training loss became inf at epoch 1, step 9; "
        "lower model.optimizer.lr (now 0.5)"
    )


def test_the_checkpoint_may_keep_every_validated_epoch(tmp_path) -> None:
    """The checkpoint's cadence is the trainer's check_val_every_n_epoch (it was recomputed from
    max_epochs: with 7, the spiral kept checkpoints at epochs 70 and 140 only)."""
    from functools import partial

    from autoencoders.training.fit import prepare_trainer

    cfg = compose_config("train", ["trainer.check_val_every_n_epoch=7"])
    datamodule, module = build(cfg.dataset), build(cfg.model)
    selection = Selection("val/loss", "min")
    trainer, checkpoint = prepare_trainer(
        module, datamodule, selection, tmp_path, partial(build, cfg.trainer), cfg.trainer, None
    )
    assert trainer.check_val_every_n_epoch == 7
    assert checkpoint._every_n_epochs == 7  # Lightning keeps the setting under this name


def test_a_code_as_wide_as_the_input_is_warned_about(caplog) -> None:
    with caplog.at_level("WARNING"):
        build(compose_config("train", ["model.code_dim=2"]).model)  # the spiral's points have 2 values
    assert "model.code_dim=2 is as wide as the input (2 values)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        build(compose_config("train").model)
    assert "as wide as the input" not in caplog.text
