"""Image folders as anomalib users expect: a run with defect masks logs pixel metrics, and a folder
of new images scores into one row per file, with anomaly maps for the flagged ones."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from autoencoders.data.image_folder import read_image
from autoencoders.deploy import images
from helpers.entry import run_main, store_overrides
from helpers.images import make_photos
from helpers.runs import artifact_paths, load_detector
from helpers.session import once_per_session
from pipelines.baseline import baseline
from pipelines.hydra_glue import compose_config
from pipelines.score import score


def baseline_run(method: str, folder: Path, template_db: Path) -> dict:
    """A ``method`` baseline on 16 x 16 parts with defect masks (no training: seconds), in a store
    of its own under ``folder``: its store, photos, run, model and metrics."""
    shutil.copy(template_db, folder / "mlflow.db")
    store = {"uri": f"sqlite:///{folder / 'mlflow.db'}", "artifact_root": str(folder / "artifacts")}
    photos = make_photos(folder / "photos")
    data = ["dataset=image_folder", f"dataset.root={photos}", "dataset.image_size=[16,16]"]
    metrics = baseline(
        compose_config(
            "baseline", [*store_overrides(store), *data, "dataset.mask_dir=ground_truth", f"method={method}"]
        )
    )
    client = MlflowClient(store["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("photos").experiment_id])
    model = f"runs:/{run.info.run_id}/anomaly_detector"
    return {
        "uri": store["uri"],
        "photos": str(photos),
        "run": run.info.run_id,
        "model": model,
        "metrics": metrics,
    }


@pytest.fixture(scope="session")
def pca_run(tmp_path_factory: pytest.TempPathFactory, template_db: Path, worker_id: str) -> dict:
    return once_per_session(
        tmp_path_factory, worker_id, "pca-on-parts", lambda folder: baseline_run("pca", folder, template_db)
    )


@pytest.fixture(scope="session")
def knn_run(tmp_path_factory: pytest.TempPathFactory, template_db: Path, worker_id: str) -> dict:
    return once_per_session(
        tmp_path_factory, worker_id, "knn-on-parts", lambda folder: baseline_run("knn", folder, template_db)
    )


@pytest.fixture
def new_photos(pca_run: dict, tmp_path: Path) -> Path:
    """New images to score: six normal and four abnormal parts (part_01, 03, 05, 07), and a hidden
    file to leave out."""
    folder, photos = tmp_path / "new", Path(pca_run["photos"])
    folder.mkdir()
    for i in range(6):
        shutil.copy(photos / "normal" / f"{i:03d}.png", folder / f"part_{2 * i:02d}.png")
    for i in range(4):
        shutil.copy(photos / "abnormal" / f"{i:03d}.png", folder / f"part_{2 * i + 1:02d}.png")
    (folder / ".hidden.png").write_bytes(b"")
    return folder


def score_args(run: dict, source: Path, output: Path, *extra: str) -> list[str]:
    return [
        f"tracking.uri={run['uri']}",
        f"model_uri={run['model']}",
        f"input={source}",
        f"output={output}",
        *extra,
    ]


def test_a_run_with_defect_masks_logs_where_the_defects_are(pca_run) -> None:
    """PCA's error lies on the planted scratches: the pixel metrics, read back, are near 1."""
    client = MlflowClient(pca_run["uri"])
    logged = client.get_run(pca_run["run"]).data.metrics
    assert logged["test/pixel_auroc"] > 0.9 and logged["test/pixel_aupro"] > 0.8
    assert logged["test/pixel_auroc"] == pytest.approx(pca_run["metrics"]["test/pixel_auroc"])
    assert "anomaly_maps.png" in artifact_paths(client, pca_run["run"])


def test_a_folder_scores_one_row_per_image_in_name_order(pca_run, new_photos, tmp_path, capsys) -> None:
    output = tmp_path / "scored.csv"
    assert score(compose_config("score", score_args(pca_run, new_photos, output))) == 10
    assert "scored 10 images in" in capsys.readouterr().out
    scored = pd.read_csv(output)
    assert list(scored.columns)[:3] == ["path", "score", "is_anomaly"] and "code_0" in scored.columns
    files = sorted(new_photos.glob("part_*.png"))
    assert scored["path"].tolist() == [str(path) for path in files]  # sorted, the hidden file left out
    read = np.stack([read_image(path, 3, (16, 16)) for path in files])  # the run's channels and size
    deployed = load_detector(pca_run["uri"], pca_run["model"]).unwrap_python_model().detector
    np.testing.assert_allclose(scored["score"], deployed.predict(read)["score"], rtol=1e-6)
    threshold = pca_run["metrics"]["threshold"]
    assert scored["is_anomaly"].tolist() == (scored["score"] > threshold).tolist()
    assert scored["is_anomaly"].iloc[1:8:2].all()  # the four abnormal parts


def test_an_unreadable_file_stops_with_its_name_and_writes_nothing(
    pca_run, new_photos, tmp_path, capsys, monkeypatch
) -> None:
    (new_photos / "notes.txt").write_text("not an image")
    output = tmp_path / "scored.csv"
    args = score_args(pca_run, new_photos, output, "maps=true")
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: input={new_photos}: notes.txt is not a readable image (UnidentifiedImageError); remove it "
        "or set skip_unreadable=true"
    )
    assert not output.exists() and not (tmp_path / "scored_maps").exists()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".scored")]


def test_skip_unreadable_names_each_skipped_file(pca_run, new_photos, tmp_path, caplog) -> None:
    (new_photos / "notes.txt").write_text("not an image")
    output = tmp_path / "scored.parquet"
    cfg = compose_config("score", score_args(pca_run, new_photos, output, "skip_unreadable=true"))
    with caplog.at_level(logging.WARNING, logger=images.__name__):
        assert score(cfg) == 10
    assert (
        f"input {new_photos}: skipped notes.txt, not a readable image (UnidentifiedImageError)" in caplog.text
    )
    assert "notes.txt" not in " ".join(pd.read_parquet(output)["path"])


def test_maps_are_drawn_for_the_flagged_images_only(pca_run, new_photos, tmp_path) -> None:
    output = tmp_path / "scored.csv"
    score(compose_config("score", score_args(pca_run, new_photos, output, "maps=true")))
    scored = pd.read_csv(output)
    flagged = scored[scored["is_anomaly"]]
    assert 4 <= len(flagged) < len(scored) and scored.loc[~scored["is_anomaly"], "map"].isna().all()
    maps = tmp_path / "scored_maps"
    assert flagged["map"].tolist() == [str(maps / f"{Path(path).stem}.png") for path in flagged["path"]]
    assert sorted(path.name for path in maps.iterdir()) == sorted(Path(p).name for p in flagged["map"])
    with Image.open(flagged["map"].iloc[0]) as image:
        assert image.format == "PNG" and image.width > 1.8 * image.height  # image | error, side by side


def test_maps_need_a_reconstructing_detector_and_a_folder(
    pca_run, knn_run, new_photos, tmp_path, capsys, monkeypatch
) -> None:
    """kNN scores without reconstructing: no pixel metrics in its run, no maps from its model."""
    logged = MlflowClient(knn_run["uri"]).get_run(knn_run["run"]).data.metrics
    assert "test/auroc" in logged and "test/pixel_auroc" not in logged

    def last_error(run: dict, source: Path, *extra: str) -> str:
        output = tmp_path / "scored.csv"
        assert (
            run_main("score", tmp_path, *score_args(run, source, output, *extra), monkeypatch=monkeypatch)
            == 2
        )
        assert not output.exists()
        return capsys.readouterr().err.strip().splitlines()[-1]

    assert last_error(knn_run, new_photos, "maps=true") == (
        "error: maps=true needs a detector that reconstructs (an autoencoder or PCA); knn does not: "
        "set maps=false"
    )
    table = tmp_path / "rows.csv"
    table.write_text("p0\n1\n")
    assert last_error(pca_run, table, "maps=true") == (
        f"error: maps=true draws anomaly maps of a folder of images; input={table} is not one"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"")
    assert last_error(pca_run, empty) == (
        f"error: input={empty}: no images in the folder (its files, hidden ones left out)"
    )
