"""Objects with the settings their yaml gives them (the one home of every default), changed where a
test says so: the datamodules and networks as ``python -m pipelines.train`` would build them."""

from __future__ import annotations

import functools
from typing import Any

from omegaconf import OmegaConf

from autoencoders.data.image_folder import ImageFolderDataModule
from autoencoders.data.mnist import MNISTDataModule
from autoencoders.data.series import SeriesDataModule
from autoencoders.data.spiral import SpiralDataModule
from autoencoders.data.table import TableDataModule
from autoencoders.models.conv import ConvAutoencoder
from autoencoders.models.conv1d import Conv1dAutoencoder
from autoencoders.models.dense import DenseAutoencoder
from pipelines.hydra_glue import compose_config

#: What a group option needs set before it composes (its ``???`` settings).
REQUIRED = {
    "table": ["dataset.path=unset.csv"],
    "image_folder": ["dataset.root=unset"],
    "series": ["dataset.path=unset.csv"],
}


@functools.cache
def _yaml(group: str, option: str, node: str) -> dict[str, Any]:
    cfg = compose_config("train", [f"{group}={option}", *REQUIRED.get(option, [])])
    values = OmegaConf.to_container(OmegaConf.select(cfg, node), resolve=True)
    return {key: value for key, value in values.items() if not key.startswith("_") and key != "net"}


def yaml_settings(group: str, option: str, node: str | None = None) -> dict[str, Any]:
    """The settings ``conf/<group>/<option>.yaml`` gives the object at ``node`` (default: the group)."""
    return dict(_yaml(group, option, node or group))


def spiral_data(**changes: Any) -> SpiralDataModule:
    return SpiralDataModule(**{**yaml_settings("dataset", "spiral"), **changes})


def mnist_data(**changes: Any) -> MNISTDataModule:
    return MNISTDataModule(**{**yaml_settings("dataset", "mnist"), **changes})


def table_data(**changes: Any) -> TableDataModule:
    return TableDataModule(**{**yaml_settings("dataset", "table"), **changes})


def series_data(**changes: Any) -> SeriesDataModule:
    return SeriesDataModule(**{**yaml_settings("dataset", "series"), **changes})


def image_folder_data(**changes: Any) -> ImageFolderDataModule:
    """The input shape follows ``channels`` and ``image_size`` (the yaml interpolates it)."""
    return ImageFolderDataModule(
        **{**yaml_settings("dataset", "image_folder"), "input_shape": None, **changes}
    )


def dense_net(input_shape: Any, **changes: Any) -> DenseAutoencoder:
    settings = yaml_settings("model", "dense", "model.net")
    settings.pop("input_shape")
    return DenseAutoencoder(input_shape, **{**settings, **changes})


def conv_net(input_shape: Any, **changes: Any) -> ConvAutoencoder:
    settings = yaml_settings("model", "conv", "model.net")
    settings.pop("input_shape")
    return ConvAutoencoder(input_shape, **{**settings, **changes})


def conv1d_net(input_shape: Any, **changes: Any) -> Conv1dAutoencoder:
    settings = yaml_settings("model", "conv1d", "model.net")
    settings.pop("input_shape", None)
    # the code and output activation follow from the series once read: set here as a series would
    return Conv1dAutoencoder(input_shape, **{**settings, "code_dim": 8, "output_activation": None, **changes})
