"""Every config in conf/ composes, its objects instantiate, and overrides reach them."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from autoencoders.data.base import InMemoryDataModule
from autoencoders.data.image_folder import ImageFolderDataModule
from autoencoders.data.mnist import MNISTDataModule
from autoencoders.data.spiral import SpiralDataModule
from autoencoders.data.table import TableDataModule
from autoencoders.errors import ConfigError
from autoencoders.models.conv import ConvAutoencoder
from autoencoders.models.dense import DenseAutoencoder
from autoencoders.training.module import AutoencoderModule
from pipelines.hydra_glue import (
    CONFIG_DIR,
    build,
    checked,
    compose_config,
    group_choice_errors,
    with_dataset_model,
)


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (Path(CONFIG_DIR) / group).glob("*.yaml"))


def compose_with_hydra(config_name: str, overrides: list[str]) -> OmegaConf:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name, overrides, return_hydra_config=True)


def test_default_config_is_the_notebooks_spiral_setup() -> None:
    cfg = compose_config("train")
    assert cfg.dataset.name == "spiral"
    assert cfg.model.name == "dense"
    assert list(cfg.model.net.input_shape) == [2]  # interpolated from the dataset
    assert list(cfg.model.net.hidden_dims) == [10, 10]
    assert cfg.model.net.code_dim == 1
    assert cfg.trainer.accelerator == "cpu"
    assert cfg.tracking.uri.startswith("sqlite:////")  # absolute path
    assert cfg.tracking.uri.endswith("/mlruns/mlflow.db")


@pytest.mark.parametrize(
    ("overrides", "score"),
    [
        ([], "auto"),
        (["model=conv"], "rapp_hidden"),
        (["dataset=mnist"], "rapp_hidden"),
        (["dataset=table", "dataset.path=t.csv"], "auto"),
        (["model=conv", "anomaly.score=rapp"], "rapp"),  # the command line wins
        (["model=conv", "anomaly=default"], "auto"),
    ],
)
def test_each_dataset_brings_the_anomaly_score_that_suits_it(overrides: list[str], score: str) -> None:
    assert compose_config("train", overrides).anomaly.score == score
    if "anomaly.score=rapp" not in overrides:
        assert compose_config("baseline", overrides).anomaly.score == score


#: What the user's own datasets need (``???`` in their configs), and the names those give them.
REQUIRED = {
    "table": ["dataset.path=data/transactions.csv"],
    "image_folder": ["dataset.root=data/photos/"],
    "series": ["dataset.path=data/machine.csv"],
}
NAMES = {"table": "transactions", "image_folder": "photos", "series": "machine"}


@pytest.mark.parametrize(
    ("group", "option"),
    [(group, option) for group in ["dataset", "model", "trainer", "tracking"] for option in options(group)],
)
def test_every_option_of_every_group_composes_and_is_chosen(group: str, option: str) -> None:
    cfg = compose_config("train", [f"{group}={option}", *REQUIRED.get(option, [])])
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    chosen = OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / group / f"{option}.yaml"))
    for key, value in chosen.items():
        if isinstance(value, int | float | str | bool) and not str(value).startswith(("${", "???")):
            assert cfg[group][key] == value, f"{group}={option}: {key}"


@pytest.mark.parametrize(
    ("entry", "overrides"), [("pca_baseline", []), ("pca_baseline", ["model=conv"]), ("compare", [])]
)
def test_the_other_entry_configs_compose(entry: str, overrides: list[str]) -> None:
    cfg = compose_config(entry, overrides)
    assert cfg.tracking.uri.startswith("sqlite:////")
    if entry == "pca_baseline":
        assert cfg.method.n_components == cfg.model.code_dim
        assert cfg.dataset.name == ("mnist" if overrides else "spiral")


@pytest.mark.parametrize("entry", ["train", "pca_baseline"])
def test_every_entry_groups_its_sweeps_by_its_own_selection_metric(entry: str) -> None:
    cfg = compose_with_hydra(entry, [])
    callback = cfg.hydra.callbacks.mlflow_sweep
    assert callback._target_ == "pipelines.sweep.MLflowSweepCallback"
    assert (callback.best_metric, callback.best_mode) == (cfg.optimized_metric, cfg.optimized_mode)
    assert callback.summary_metrics[0] == cfg.optimized_metric


@pytest.mark.parametrize(
    ("search", "metric", "direction"),
    [("spiral_optuna", "val/loss", "minimize"), ("mnist_optuna", "val/auroc", "maximize")],
)
def test_a_search_optimises_the_selection_metric_in_its_direction(search, metric, direction) -> None:
    cfg = compose_with_hydra("train", [f"hparams_search={search}"])
    assert cfg.optimized_metric == metric
    assert cfg.hydra.sweeper.direction == direction  # follows optimized_mode
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.callbacks.mlflow_sweep.best_metric == metric
    if search == "mnist_optuna":
        assert cfg.dataset.name == "mnist" and cfg.model.name == "conv"


def test_slurm_launcher_config_composes() -> None:
    slurm = compose_with_hydra("train", ["hydra/launcher=slurm"])
    assert slurm.hydra.launcher._target_ == (
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert slurm.hydra.launcher.gpus_per_node == 1


def test_model_conv_picks_mnist_by_itself() -> None:
    assert compose_config("train", ["model=conv"]).dataset.name == "mnist"
    assert compose_config("train", ["model=dense", "dataset=mnist"]).model.net.input_shape == [1, 28, 28]


@pytest.mark.parametrize(
    ("overrides", "added", "model"),
    [
        (["dataset=mnist"], ["model=conv"], "conv"),
        (["dataset=image_folder", "dataset.root=photos"], ["model=conv"], "conv"),
        (["dataset=mnist", "model=dense"], [], "dense"),
        (["dataset=table", "dataset.path=t.csv"], [], "dense"),
        (["dataset=mnist,spiral"], [], None),  # a sweep: each job keeps its own default
    ],
)
def test_an_image_dataset_trains_the_conv_network_unless_a_model_is_chosen(
    overrides: list[str], added: list[str], model: str | None
) -> None:
    assert with_dataset_model(overrides) == [*added, *overrides]
    if model:
        assert compose_config("train", overrides).model.name == model


@pytest.mark.parametrize("dataset", options("dataset"))
def test_datasets_instantiate(dataset: str) -> None:
    cfg = compose_config("train", [f"dataset={dataset}", *REQUIRED.get(dataset, [])])
    datamodule = build(cfg.dataset)
    assert isinstance(datamodule, InMemoryDataModule)
    assert datamodule.name == NAMES.get(dataset, dataset)  # your own data: named after its file or folder


def test_model_and_cpu_trainer_instantiate() -> None:
    cfg = compose_config("train", ["model.code_dim=2", "trainer.max_epochs=3"])
    module = build(cfg.model)
    assert isinstance(module, AutoencoderModule)
    assert module.code_dim == 2
    trainer = build(cfg.trainer, logger=False)
    assert isinstance(trainer, pl.Trainer)
    assert trainer.max_epochs == 3


def test_overrides_reach_the_objects() -> None:
    cfg = compose_config("train", ["model.net.hidden_dims=[20,20]", "model.net.activation=tanh", "seed=3"])
    module = build(cfg.model)
    widths = [layer.out_features for layer in module.net.encoder if hasattr(layer, "out_features")]
    assert widths == [20, 20, 1]
    assert cfg.seed == 3


def first_config_error(stage: str, overrides: list[str]) -> str:
    """What the stage reports first for ``overrides``: its own keys, then each object it builds
    (each checks its settings in its constructor), before any data is read or run created."""
    cfg = compose_config(stage, overrides)
    with pytest.raises(ConfigError) as raised:
        cfg = checked(cfg, stage)
        groups = {"train": ("dataset", "model", "trainer"), "baseline": ("dataset", "method")}
        for group in groups.get(stage, ()):
            build(cfg[group])
    return str(raised.value)


@pytest.mark.parametrize(
    ("stage", "overrides", "message"),
    [
        ("train", ["model.code_dim=0"], "model.code_dim must be a positive integer, got 0"),
        ("train", ["model.code_dim=1.5"], "model.code_dim must be a positive integer, got 1.5"),
        ("train", ["model.net.hidden_dims=[0]"], "model.net.hidden_dims must be a list of positive integers"),
        (
            "train",
            ["model.net.hidden_dims=[4,1.5]"],
            "model.net.hidden_dims must be a list of positive integers",
        ),
        ("train", ["model.net.activation=swish"], "model.net.activation must be one of ['elu', 'gelu'"),
        ("train", ["model=conv", "model.net.channels=[]"], "model.net.channels must be a non-empty list"),
        ("train", ["model=conv", "model.net.upsampling=bilinear"], "model.net.upsampling must be one of"),
        ("train", ["model=conv", "model.net.kernel_size=2"], "model.net.kernel_size must be an odd positive"),
        ("train", ["model.optimizer.lr=-1"], "model.optimizer / model.scheduler: Invalid learning rate: -1"),
        (
            "train",
            ["model.optimizer._target_=torch.optim.Adamm"],
            "model.optimizer: Error loading 'torch.optim.Adamm'",
        ),
        ("train", ["model.code_l1=-1"], "model.code_l1 must be 0 or more, got -1"),
        ("train", ["trainer.max_epochs=-1"], "trainer.max_epochs must be a positive integer, got -1"),
        ("train", ["trainer.devices=0"], "trainer: `Trainer(devices=0)` value is not a valid input"),
        ("train", ["trainer.precision=12"], "trainer: Precision 12 is invalid"),
        ("train", ["dataset.n_train=0"], "dataset.n_train must be a positive integer, got 0"),
        ("train", ["dataset.batch_size=0"], "dataset.batch_size must be a positive integer, got 0"),
        ("train", ["dataset.anomaly_margin=-0.1"], "dataset.anomaly_margin must be 0 or more, got -0.1"),
        ("train", ["dataset=mnist", "dataset.normal_digits=[]"], "dataset.normal_digits must be a non-empty"),
        (
            "train",
            ["dataset=mnist", "dataset.normal_digits=[10]"],
            "dataset.normal_digits must be a non-empty list of distinct digits 0..9, got [10]",
        ),
        (
            "train",
            ["dataset=mnist", "dataset.normal_digits=[1,1]"],
            "dataset.normal_digits must be a non-empty list of distinct digits 0..9, got [1, 1]",
        ),
        (
            "train",
            ["dataset=mnist", "dataset.val_fraction=1.5"],
            "dataset.val_fraction must be between 0 and 1",
        ),
        ("train", ["dataset=mnist", "dataset.source=web"], "dataset.source must be one of ['auto', 'full'"),
        (
            "train",
            ["dataset=mnist", "dataset.augment_shift=14"],
            "dataset.augment_shift must be between 0 and 13",
        ),
        ("train", ["seed=-1"], "seed must be 0 or more, got -1"),
        ("train", ["seed=abc"], "seed must be 0 or more, got 'abc'"),
        ("train", ["num_threads=0"], "num_threads must be a positive integer or null, got 0"),
        ("train", ["steps_per_call=0"], "steps_per_call must be a positive integer or null, got 0"),
        (
            "train",
            ["anomaly.score=magic"],
            "anomaly.score must be one of ['auto', 'reconstruction', 'scaled', 'peak', 'rapp', "
            "'rapp_hidden', 'code', 'rapp+code', 'reconstruction+knn', 'scaled+knn', 'peak+knn', "
            "'rapp+knn', 'rapp_hidden+knn', 'reconstruction+ecod', 'scaled+ecod', 'peak+ecod', "
            "'rapp+ecod', 'rapp_hidden+ecod'], got 'magic'",
        ),
        ("train", ["anomaly.threshold_quantile=1"], "anomaly.threshold_quantile must be between 0 and 1"),
        ("train", ["optimized_mode=up"], "optimized_mode must be one of ['min', 'max'], got 'up'"),
        ("compare", ["metrics=[]"], "metrics must be a non-empty list of names, got []"),
        (
            "score",
            ["model_uri=runs:/x/m", "input=a.csv", "output=b.csv", "batch_size=0"],
            "batch_size must be",
        ),
        ("baseline", ["seed=-1"], "seed must be 0 or more, got -1"),
        ("baseline", ["method=knn", "method.n_neighbors=0"], "method.n_neighbors must be a positive integer"),
    ],
)
def test_every_bad_value_is_named_in_one_line(stage: str, overrides: list[str], message: str) -> None:
    error = first_config_error(stage, overrides)
    assert error.startswith(message), error
    assert "\n" not in error


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model=conv"],
        ["trainer=ddp"],
        ["+model.optimizer.amsgrad=true"],
        ["+trainer.gradient_clip_val=1"],
    ],
)
def test_the_defaults_and_library_passthroughs_build(overrides: list[str]) -> None:
    cfg = checked(compose_config("train", overrides), "train")
    build(cfg.dataset), build(cfg.model), build(cfg.trainer)


def test_no_setting_has_a_default_in_code() -> None:
    """The yaml is the one home of a default: the objects it builds take every setting from it."""
    import inspect

    for cls in (SpiralDataModule, MNISTDataModule, TableDataModule, ImageFolderDataModule):
        defaults = [p.name for p in inspect.signature(cls).parameters.values() if p.default is not p.empty]
        assert defaults == [], cls
    for cls in (DenseAutoencoder, ConvAutoencoder, AutoencoderModule):
        params = inspect.signature(cls).parameters.values()
        defaults = [p.name for p in params if p.default is not p.empty]
        assert defaults == [], cls


def test_tiny_networks_train_on_one_thread_unless_told_otherwise() -> None:
    from autoencoders.training.devices import TORCH_THREADS, cpu_threads

    spiral = build(compose_config("train").model)
    conv = build(compose_config("train", ["model=conv"]).model)
    assert cpu_threads(sum(p.numel() for p in spiral.parameters()), None) == 1
    # torch's count, less the CPUs other processes keep busy (the other test worker, say)
    assert 1 <= cpu_threads(sum(p.numel() for p in conv.parameters()), None) <= TORCH_THREADS
    assert cpu_threads(303, 2) == 2  # num_threads=2 wins


@pytest.mark.parametrize(
    ("stage", "required"),
    [
        ("train", []),
        ("baseline", ["method=iforest"]),
        ("compare", []),
        ("score", ["model_uri=m", "input=a", "output=b"]),
    ],
)
def test_seed_is_a_setting_of_every_stage(stage: str, required: list[str]) -> None:
    cfg = checked(compose_config(stage, [*required, "seed=1"]), stage)
    assert cfg.seed == 1
    if stage == "baseline":  # and it reaches the seeded object
        assert build(cfg.method).random_state == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["dataset=tabel"],
            "dataset must be one of [image_folder, kdd_tsad_135, mnist, series, spiral, table], got 'tabel'",
        ),
        (
            ["model=conv,dens"],
            "model must be one of [conv, conv1d, dense], got 'dens'",
        ),  # a sweep, option by option
        (["+tracking=sevrer"], "tracking must be one of [local, server], got 'sevrer'"),
    ],
)
def test_a_misspelt_config_group_option_is_one_line(arguments, message) -> None:
    with pytest.raises(ConfigError) as raised:
        group_choice_errors(arguments)
    assert str(raised.value) == message


def test_group_choices_leave_values_sweeps_and_hydras_own_groups_to_hydra() -> None:
    group_choice_errors(["seed=1,2", "model.code_dim=3", "hydra/launcher=joblib", "dataset=choice(spiral)"])
    group_choice_errors(["~dataset", "anomaly@_global_.anomaly=images", "model=conv,dense"])


def test_a_misspelt_group_on_the_command_line_exits_2_with_the_line(tmp_path, monkeypatch, capsys) -> None:
    from helpers.entry import run_main

    assert run_main("train", tmp_path, "dataset=tabel", monkeypatch=monkeypatch) == 2
    assert capsys.readouterr().err.strip() == (
        "error: dataset must be one of [image_folder, kdd_tsad_135, mnist, series, spiral, table], "
        "got 'tabel'"
    )
