"""Every config in conf/ composes, and its dataset, model and trainer instantiate."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
from omegaconf import OmegaConf

from autoencoders.data.base import InMemoryDataModule
from autoencoders.errors import ConfigError
from autoencoders.lightning import AutoencoderModule
from conftest import compose_config
from pipelines.common import CONFIG_DIR, build


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (Path(CONFIG_DIR) / group).glob("*.yaml"))


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


@pytest.mark.parametrize("group", ["dataset", "model", "trainer", "tracking", "hparams_search"])
def test_every_option_of_every_group_composes(group: str) -> None:
    assert options(group)
    for option in options(group):
        cfg = compose_config("train", [f"{group}={option}"])
        OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
        if group != "hparams_search":
            assert cfg[group] == compose_config("train", [f"{group}={option}"])[group]
            assert cfg[group].get("name", option) in {option, cfg[group].get("name")}


@pytest.mark.parametrize(
    ("entry", "overrides"), [("pca_baseline", []), ("pca_baseline", ["model=conv"]), ("compare", [])]
)
def test_the_other_entry_configs_compose(entry: str, overrides: list[str]) -> None:
    cfg = compose_config(entry, overrides)
    assert cfg.tracking.uri.startswith("sqlite:////")
    if entry == "pca_baseline":
        assert cfg.n_components == cfg.model.code_dim
        assert cfg.dataset.name == ("mnist" if overrides else "spiral")


@pytest.mark.parametrize("dataset", options("dataset"))
def test_datasets_instantiate(dataset: str) -> None:
    cfg = compose_config("train", [f"dataset={dataset}"])
    assert isinstance(build(cfg.dataset), InMemoryDataModule)


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


def test_bad_values_raise_config_errors_that_name_the_setting() -> None:
    cfg = compose_config("train", ["model.net.activation=swish"])
    with pytest.raises(ConfigError, match=r"model\.net\.activation must be one of"):
        build(cfg.model)
    cfg = compose_config("train", ["dataset.n_train=0"])
    with pytest.raises(ConfigError, match=r"dataset\.n_train must be a positive integer"):
        build(cfg.dataset)
