"""Every dataset, network, trainable model and detector, found by name in one place.

Entries are dotted paths, imported when looked up: importing the registry imports none of them (no
torch). A new baseline is its module plus ``conf/method/<name>.yaml`` plus one line here; the
deployed detector's JSON names its entry in :data:`DETECTORS`, and loading goes through it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from autoencoders.errors import InputError


class Registry(Mapping[str, type]):
    """Name -> class, each class imported on first access from its dotted path."""

    def __init__(self, kind: str, paths: Mapping[str, str]) -> None:
        self.kind = kind
        self.paths = dict(paths)

    def __getitem__(self, name: str) -> type:
        if name not in self.paths:
            raise InputError(f"unknown {self.kind} {name!r}: known are {sorted(self.paths)}")
        module, _, attribute = self.paths[name].rpartition(".")
        return getattr(importlib.import_module(module), attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def name_of(self, cls: type) -> str:
        """The entry of ``cls`` (matched by dotted path: nothing is imported)."""
        path = f"{cls.__module__}.{cls.__qualname__}"
        for name, known in self.paths.items():
            if known == path:
                return name
        raise KeyError(f"{path} is not a registered {self.kind}")


DATASETS = Registry(
    "dataset",
    {
        "spiral": "autoencoders.data.spiral.SpiralDataModule",
        "mnist": "autoencoders.data.mnist.MNISTDataModule",
        "table": "autoencoders.data.table.TableDataModule",
        "image_folder": "autoencoders.data.image_folder.ImageFolderDataModule",
        "series": "autoencoders.data.series.SeriesDataModule",
    },
)
NETWORKS = Registry(
    "network",
    {
        "dense": "autoencoders.models.dense.DenseAutoencoder",
        "conv": "autoencoders.models.conv.ConvAutoencoder",
        "conv1d": "autoencoders.models.conv1d.Conv1dAutoencoder",
    },
)
#: What ``pipelines.train`` fits (``conf/model``): a network inside its Lightning module.
MODELS = Registry("model", {"autoencoder": "autoencoders.training.module.AutoencoderModule"})
DETECTORS = Registry(
    "detector",
    {
        "autoencoder": "autoencoders.anomaly.autoencoder.AutoencoderDetector",
        "pca": "autoencoders.baselines.pca.PCADetector",
        "knn": "autoencoders.baselines.knn.KNNDetector",
        "iforest": "autoencoders.baselines.iforest.IsolationForestDetector",
        "lof": "autoencoders.baselines.lof.LOFDetector",
        "ecod": "autoencoders.baselines.ecod.ECODDetector",
    },
)
