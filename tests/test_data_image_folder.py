"""A folder of the user's images (``normal/``, ``abnormal/``) as a dataset, and a conv run on it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from autoencoders.data import image_folder
from autoencoders.errors import ConfigError
from helpers.built import image_folder_data
from helpers.images import make_photos
from helpers.runs import artifact_paths
from pipelines.train import train


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return make_photos(tmp_path / "photos")


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
    assert run.data.params["dataset.channels"] == "3"  # most of the normal parts are in colour
    files = artifact_paths(client, run.info.run_id)
    figures = {"reconstructions.png", "anomaly_maps.png", "codes.png", "samples.png", "roc.png", "scores.png"}
    assert figures <= files
    assert any(path.startswith("images/reconstructions") for path in files)  # per-epoch snapshots


def test_channels_follow_the_majority_of_the_normal_images_unless_forced(tmp_path, caplog) -> None:
    mostly_grey = make_photos(tmp_path / "grey", grey=lambda i: i % 3 != 0)
    datamodule = image_folder_data(root=str(mostly_grey), image_size=[16, 16])  # channels: null
    with caplog.at_level(logging.INFO, logger=image_folder.__name__):
        datamodule.prepare_data()
    assert datamodule.splits.train.shape[1:] == (1, 16, 16)
    assert datamodule.settings() == {"channels": 1, "input_shape": [1, 16, 16]}  # what the glue fills
    decided = [record.getMessage() for record in caplog.records if "dataset.channels=" in record.getMessage()]
    assert decided == [  # once, in one line
        f"images {mostly_grey / 'normal'}: 26 grey, 14 colour: dataset.channels=1 (the majority; 1 or 3 "
        "forces it)"
    ]
    forced = image_folder_data(root=str(mostly_grey), image_size=[16, 16], channels=3)
    assert forced.splits.train.shape[1] == 3 and forced.settings()["input_shape"] == [3, 16, 16]
    with pytest.raises(ConfigError, match=r"input_shape must be \[1, 16, 16\]"):
        image_folder_data(root=str(mostly_grey), image_size=[16, 16], input_shape=[3, 16, 16]).prepare_data()


def test_defect_masks_travel_with_their_test_images(photos) -> None:
    splits = image_folder_data(root=str(photos), image_size=[16, 16], mask_dir="ground_truth").splits
    masks, anomalous = splits.test_masks, splits.test_is_anomaly
    assert masks.shape == (len(splits.test), 16, 16) and masks.dtype == bool
    assert not masks[~anomalous].any() and masks[anomalous].any(axis=(1, 2)).all()
    brightness = splits.test.mean(axis=1)  # the scratch is white: each mask lies on its own image's
    for image, mask in zip(brightness[anomalous], masks[anomalous], strict=True):
        assert image[mask].mean() > image[~mask].mean() + 0.3


def test_a_missing_mask_or_mask_folder_is_one_line(photos) -> None:
    (photos / "ground_truth" / "003_mask.png").unlink()
    with pytest.raises(
        ConfigError, match=r"^dataset.mask_dir=.*ground_truth: no mask for .*abnormal/003.png \(one per"
    ):
        image_folder_data(root=str(photos), mask_dir="ground_truth").prepare_data()
    with pytest.raises(ConfigError, match=r"^dataset.mask_dir=masks: no such folder .*photos/masks"):
        image_folder_data(root=str(photos), mask_dir="masks").prepare_data()
