"""A folder of the user's images (``normal/``, ``abnormal/``) as a dataset, and a conv run on it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autoencoders.data import image_folder
from autoencoders.errors import ConfigError
from helpers.built import image_folder_data
from helpers.runs import artifact_paths
from pipelines.train import train


def part(rng: np.random.Generator, size: tuple[int, int], defect: bool) -> np.ndarray:
    """A bright disc on a dark background; a defective part has a white scratch across it."""
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    disc = ((xx - 0.5 - 0.05 * rng.normal()) ** 2 + (yy - 0.5) ** 2 < 0.09).astype(float)
    pixels = np.stack([0.8 * disc, 0.5 * disc, 0.2 + 0 * disc], -1) + 0.03 * rng.normal(
        size=(height, width, 3)
    )
    if defect:
        column = rng.integers(2, width - 2)
        pixels[:, column - 1 : column + 2] = 1.0
    return (np.clip(pixels, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """40 normal and 10 abnormal parts, of two sizes (20 x 20, 24 x 32), in colour and in grey."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for folder, count, defect in (("normal", 40, False), ("abnormal", 10, True)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            image = Image.fromarray(part(rng, (20, 20) if i % 2 else (24, 32), defect))
            (image.convert("L") if i % 3 == 0 else image).save(root / folder / f"{i:03d}.png")
    return root


@pytest.mark.parametrize("channels", [1, 3])
def test_images_of_any_size_and_mode_become_one_shape_and_anomalies_stay_out_of_training(
    photos, channels
) -> None:
    datamodule = image_folder_data(root=str(photos), channels=channels, image_size=[16, 16])
    splits = datamodule.splits
    assert splits.train.shape[1:] == (channels, 16, 16) and datamodule.input_shape == (channels, 16, 16)
    assert splits.train.min() >= 0 and splits.train.max() <= 1
    assert len(splits.train) + len(splits.val) + int((~splits.test_is_anomaly).sum()) == 40
    assert int(splits.test_is_anomaly.sum()) + len(splits.val_anomalies) == 10


def test_an_unreadable_file_is_named_or_skipped_and_counted(photos, caplog) -> None:
    (photos / "normal" / "notes.txt").write_text("not an image")
    with pytest.raises(
        ConfigError, match=r"dataset.root: .*notes.txt is not a readable image \(Unidentified"
    ):
        image_folder_data(root=str(photos)).prepare_data()
    datamodule = image_folder_data(root=str(photos), skip_unreadable=True)
    with caplog.at_level(logging.WARNING, logger=image_folder.__name__):
        datamodule.prepare_data()
    assert datamodule.tags == {"dataset.skipped_files": "1"} and "skipped 1 unreadable files" in caplog.text
    assert f"images {photos / 'normal'}: skipped notes.txt (UnidentifiedImageError)" in caplog.text
    assert f"images {photos / 'abnormal'}: skipped" not in caplog.text  # counted where it was found


def test_a_missing_folder_or_no_normal_images_is_one_line(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"dataset.root=.*nowhere: no such folder"):
        image_folder_data(root=str(tmp_path / "nowhere")).prepare_data()
    (tmp_path / "empty" / "normal").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"dataset.root=.*empty: no images in .*normal/"):
        image_folder_data(root=str(tmp_path / "empty")).prepare_data()


def test_a_conv_run_on_colour_images_logs_the_image_figures(make_cfg, client, photos) -> None:
    data = ["model=conv", "dataset=image_folder", f"dataset.root={photos}", "dataset.image_size=[16,16]"]
    metrics = train(make_cfg(*data, "trainer.max_epochs=2", "dataset.epoch_size=64"))
    assert 0 <= metrics["test/auroc"] <= 1
    (run,) = client.search_runs([client.get_experiment_by_name("photos").experiment_id])  # the folder
    assert run.info.status == "FINISHED" and run.data.params["model.net.input_shape"] == "[3, 16, 16]"
    files = artifact_paths(client, run.info.run_id)
    assert {"reconstructions.png", "codes.png", "samples.png", "roc.png", "scores.png"} <= files
    assert any(path.startswith("images/reconstructions") for path in files)  # per-epoch snapshots
