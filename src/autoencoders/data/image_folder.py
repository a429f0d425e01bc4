"""A folder of images as a one-class dataset, in anomalib's layout: ``root/normal/`` and optionally
``root/abnormal/`` (the faulty parts). Any format Pillow reads, converted to one size and channel count."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
    Text,
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


#: What a file Pillow cannot read raises on opening or decoding.
UNREADABLE = (OSError, ValueError)  # PIL.UnidentifiedImageError is an OSError


def image_files(folder: Path) -> list[Path]:
    """The files directly in ``folder``, sorted by name, hidden ones (``.DS_Store``) left out."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def read_images(
    paths: Sequence[Path],
    channels: int,
    size: tuple[int, int],
    unreadable: Callable[[Path, Exception], None],
) -> tuple[list[Path], np.ndarray]:
    """The readable ``paths`` and their images (N x C x H x W, :func:`read_image`); for a file Pillow
    cannot read, ``unreadable(path, error)`` raises the caller's error or returns to skip it."""
    read, images = [], []
    for path in paths:
        try:
            images.append(read_image(path, channels, size))
        except UNREADABLE as error:
            unreadable(path, error)
            continue
        read.append(path)
    return read, np.stack(images) if images else np.empty((0, channels, *size), np.float32)


#: Pillow modes without colour: converted to one channel they lose nothing.
GREY_MODES = ("1", "L", "LA", "I", "F")


def is_grey(mode: str) -> bool:
    return mode in GREY_MODES or mode.startswith("I;16")


def majority_channels(paths: Sequence[Path]) -> tuple[int, int, int]:
    """(channels, grey files, colour files): 1 where most of the readable ``paths`` are grey, else 3
    (a tie keeps the colour). Only the files' headers are read."""
    from PIL import Image

    grey = colour = 0
    for path in paths:
        try:
            with Image.open(path) as image:
                grey, colour = (grey + 1, colour) if is_grey(image.mode) else (grey, colour + 1)
        except UNREADABLE:
            continue  # reading it names or skips it
    return (1 if grey > colour else 3), grey, colour


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A defect mask as H x W bool: resized by nearest neighbour, white (above half) = defect."""
    from PIL import Image

    with Image.open(path) as image:
        grey = image.convert("L").resize((size[1], size[0]), Image.NEAREST)
        return np.asarray(grey, dtype=np.float32) / 255.0 > 0.5


def mask_for(masks: dict[str, Path], image: Path) -> Path | None:
    """The mask of ``image`` among ``masks`` (file stem -> path): the same stem, or the stem and
    ``_mask`` as MVTec AD names them (``000.png`` -> ``000_mask.png``)."""
    return masks.get(image.stem) or masks.get(f"{image.stem}_mask")


class ImageFolderDataModule(InMemoryDataModule):
    """Normal images for training and validation; abnormal ones for validation and test only; with
    ``mask_dir``, each abnormal image's defect mask travels with the test set (``Splits.test_masks``)."""

    kind = DataKind.IMAGES

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        **InMemoryDataModule._own_data_constraints,
        "channels": [Options((1, 3)), None],
        "image_size": ListOf(POSITIVE_INT, "positive integers", length=2),
        "mask_dir": [Text(), None],
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
        channels: int | None,
        image_size: Sequence[int],
        mask_dir: str | None,
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
        """``channels`` None: the majority of the normal images decides (:meth:`settings` then
        gives it, and ``input_shape``, to the pipeline)."""
        check_params(self._parameter_constraints, locals())
        check_split_fractions(val_fraction, test_fraction)
        limit = (min(image_size) - 1) // 2  # a shift of under half the smaller side
        if augment_shift > limit:
            raise InvalidParameter("augment_shift", f"0 (off) to {limit} pixels", augment_shift)
        self.configured_shape = None if input_shape is None else tuple(input_shape)
        super().__init__(name, (channels or 0, *image_size), batch_size, split_seed, epochs, epoch_size)
        if channels is not None:
            self.check_shape(channels)
        self.augment_shift = augment_shift
        self.root = self.source_path = Path(root)
        self.folders = (normal_dir, abnormal_dir)
        self.channels = channels
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.masks_setting = mask_dir
        self.mask_dir = None if mask_dir is None else self.root / mask_dir  # an absolute one stays
        self.skip_unreadable = skip_unreadable
        self.fractions = (val_fraction, test_fraction, anomaly_val_fraction)

    def check_shape(self, channels: int) -> None:
        """The input shape once the channels are known; a configured one must be the same."""
        self.input_shape = (channels, *self.input_shape[1:])
        if self.configured_shape is not None:
            check_input_shape(self.configured_shape, self.input_shape, "(channels, *image_size)")

    def settings(self) -> dict[str, Any]:
        """The channels the images decided (``channels: null``) and the input shape they give."""
        return {"channels": self.input_shape[0], "input_shape": list(self.input_shape)}

    def build_splits(self) -> Splits:
        if not self.root.is_dir():
            raise ConfigError(f"dataset.root={self.root}: no such folder")
        normal_dir, abnormal_dir = (self.root / name for name in self.folders)
        normal_files = image_files(normal_dir) if normal_dir.is_dir() else []
        if self.channels is None:  # with no files, the error below says so
            self.channels = self.decide_channels(normal_dir, normal_files) if normal_files else 3
        self.check_shape(self.channels)
        _, normal = self.read_folder(normal_dir, normal_files)
        if not len(normal):
            raise ConfigError(
                f"dataset.root={self.root}: no images in {normal_dir}/ (the normal images go there; "
                "dataset.normal_dir names another folder)"
            )
        abnormal_files, abnormal = (
            self.read_folder(abnormal_dir, image_files(abnormal_dir))
            if abnormal_dir.is_dir()
            else ([], np.empty((0, *self.input_shape), np.float32))
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
        masks = None
        if self.mask_dir is not None:
            normal_masks = np.zeros((len(normal), *self.image_size), bool)
            masks = np.concatenate([normal_masks, self.read_masks(abnormal_files)])
        return one_class_splits(samples, is_anomaly, indices, masks=masks)

    def decide_channels(self, folder: Path, paths: Sequence[Path]) -> int:
        """``dataset.channels: null``: grey (1) where most normal images are, else colour (3)."""
        channels, grey, colour = majority_channels(paths)
        log.info(
            "images %s: %d grey, %d colour: dataset.channels=%d (the majority; 1 or 3 forces it)",
            folder,
            grey,
            colour,
            channels,
        )
        return channels

    def read_folder(self, folder: Path, paths: Sequence[Path]) -> tuple[list[Path], np.ndarray]:
        """The images of ``paths`` (in ``folder``) that were read, and their pixels; an unreadable
        one is an error naming it, or is skipped and counted with ``dataset.skip_unreadable``."""
        skipped = []

        def unreadable(path: Path, error: Exception) -> None:
            if not self.skip_unreadable:
                raise ConfigError(
                    f"dataset.root: {path} is not a readable image ({type(error).__name__}); remove it "
                    "or set dataset.skip_unreadable=true"
                ) from None
            skipped.append(path)
            log.warning("images %s: skipped %s (%s)", folder, path.name, type(error).__name__)

        read, images = read_images(paths, self.channels, self.image_size, unreadable)
        self.left_out["skipped_files"] = self.left_out.get("skipped_files", 0) + len(skipped)
        if skipped:
            log.warning("images %s: skipped %d unreadable files", folder, len(skipped))
        return read, images

    def read_masks(self, images: Sequence[Path]) -> np.ndarray:
        """The defect mask of each abnormal image (``dataset.mask_dir``), N x H x W bool."""
        if not self.mask_dir.is_dir():
            raise ConfigError(
                f"dataset.mask_dir={self.masks_setting}: no such folder {self.mask_dir} (a relative "
                "mask_dir lies under dataset.root)"
            )
        masks = {path.stem: path for path in image_files(self.mask_dir)}
        found = []
        for image in images:
            path = mask_for(masks, image)
            if path is None:
                raise ConfigError(
                    f"dataset.mask_dir={self.mask_dir}: no mask for {image} (one per abnormal image, "
                    f"named by its stem: {image.stem}.png or {image.stem}_mask.png)"
                )
            try:
                found.append(read_mask(path, self.image_size))
            except UNREADABLE as error:
                raise ConfigError(
                    f"dataset.mask_dir: {path} is not a readable image ({type(error).__name__})"
                ) from None
        return np.stack(found) if found else np.zeros((0, *self.image_size), bool)
