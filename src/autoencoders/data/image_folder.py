"""A folder of images as a one-class dataset, in anomalib's layout: ``root/normal/`` and optionally
``root/abnormal/`` (the faulty parts). Any format Pillow reads, converted to one size and channel count."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autoencoders.data.base import (
    DataKind,
    InMemoryDataModule,
    Splits,
    check_input_shape,
    check_split_fractions,
)
from autoencoders.data.one_class import one_class_split, one_class_splits
from autoencoders.errors import ConfigError
from autoencoders.util.params import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    InvalidParameter,
    ListOf,
    Options,
    check_params,
)

log = logging.getLogger(__name__)


def read_image(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """One image as float32 C x H x W in [0, 1], converted and resized (bilinear)."""
    from PIL import Image

    with Image.open(path) as image:
        converted = image.convert("L" if channels == 1 else "RGB").resize((size[1], size[0]), Image.BILINEAR)
        pixels = np.asarray(converted, dtype=np.float32) / 255.0
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


class ImageFolderDataModule(InMemoryDataModule):
    """Normal images for training and validation; abnormal ones for validation and test only."""

    kind = DataKind.IMAGES

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        **InMemoryDataModule._own_data_constraints,
        "channels": Options((1, 3)),
        "image_size": ListOf(POSITIVE_INT, "positive integers", length=2),
        "skip_unreadable": Options((True, False)),
        "augment_shift": NON_NEGATIVE_INT,
    }

    def __init__(
        self,
        *,
        root: str,
        name: str,
        normal_dir: str,
        abnormal_dir: str,
        channels: int,
        image_size: Sequence[int],
        input_shape: Sequence[int] | None,
        skip_unreadable: bool,
        val_fraction: float,
        test_fraction: float,
        anomaly_val_fraction: float,
        split_seed: int,
        batch_size: int,
        epochs: int,
        epoch_size: int,
        augment_shift: int,
    ) -> None:
        check_params(self._parameter_constraints, locals())
        check_split_fractions(val_fraction, test_fraction)
        limit = (min(image_size) - 1) // 2  # a shift of under half the smaller side
        if augment_shift > limit:
            raise InvalidParameter("augment_shift", f"0 (off) to {limit} pixels", augment_shift)
        shape = (channels, *image_size)
        if input_shape is not None:
            check_input_shape(input_shape, shape, "(channels, *image_size)")
        super().__init__(name, shape, batch_size, split_seed, epochs, epoch_size)
        self.augment_shift = augment_shift
        self.root = self.source_path = Path(root)
        self.folders = (normal_dir, abnormal_dir)
        self.channels = channels
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.skip_unreadable = skip_unreadable
        self.fractions = (val_fraction, test_fraction, anomaly_val_fraction)

    def build_splits(self) -> Splits:
        if not self.root.is_dir():
            raise ConfigError(f"dataset.root={self.root}: no such folder")
        normal_dir, abnormal_dir = (self.root / name for name in self.folders)
        normal = self.read_folder(normal_dir)
        if not len(normal):
            raise ConfigError(
                f"dataset.root={self.root}: no images in {normal_dir}/ (the normal images go there; "
                "dataset.normal_dir names another folder)"
            )
        abnormal = (
            self.read_folder(abnormal_dir) if abnormal_dir.is_dir() else np.empty((0, *self.input_shape))
        )
        samples = np.concatenate([normal, abnormal]).astype(np.float32)
        is_anomaly = np.r_[np.zeros(len(normal), bool), np.ones(len(abnormal), bool)]
        indices = one_class_split(is_anomaly, *self.fractions, self.seed, f"dataset.root={self.root}")
        log.info(
            "images %s: %d normal, %d abnormal, %s x %d x %d; %d train, %d val, %d test",
            self.root,
            len(normal),
            len(abnormal),
            self.channels,
            *self.image_size,
            len(indices.train),
            len(indices.val),
            len(indices.test_normal) + len(indices.test_anomalies),
        )
        return one_class_splits(samples, is_anomaly, indices)

    def read_folder(self, folder: Path) -> np.ndarray:
        """Every image directly in ``folder`` (sorted by name), skipping hidden files; an unreadable
        one is an error naming it, or is skipped and counted with ``dataset.skip_unreadable``."""
        from PIL import UnidentifiedImageError

        images, skipped = [], 0
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            try:
                images.append(read_image(path, self.channels, self.image_size))
            except (UnidentifiedImageError, OSError, ValueError) as error:
                if not self.skip_unreadable:
                    raise ConfigError(
                        f"dataset.root: {path} is not a readable image ({type(error).__name__}); remove it "
                        "or set dataset.skip_unreadable=true"
                    ) from None
                skipped += 1
                log.warning("images %s: skipped %s (%s)", folder, path.name, type(error).__name__)
        self.left_out["skipped_files"] = self.left_out.get("skipped_files", 0) + skipped
        if skipped:
            log.warning("images %s: skipped %d unreadable files", folder, skipped)
        return np.stack(images) if images else np.empty((0, *self.input_shape), np.float32)
