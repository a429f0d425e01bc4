"""Scoring a folder of new images, as anomalib users do: each image read as the detector's training
run read its images (its channels and size follow from the spec's ``input_shape``), scored in
batches through the MLflow pyfunc, one row per file; with ``maps``, each flagged image's anomaly
map as a PNG beside the output.

A file that is not an image stops with one line naming it before anything is written
(``skip_unreadable`` skips it instead, naming it in the log); the maps folder and the output are
written whole or not at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autoencoders.anomaly.detector import reconstructs
from autoencoders.data.image_folder import image_files, read_images
from autoencoders.data.splits import DataKind
from autoencoders.deploy.batch import check_output, load_model, score_batches
from autoencoders.deploy.detector import DeployedDetector
from autoencoders.errors import ConfigError, InputError
from autoencoders.evaluation.pixels import pixel_errors
from autoencoders.figures import plots
from autoencoders.util.files import atomic_folder, write_frame

log = logging.getLogger(__name__)


def check_maps(deployed: DeployedDetector) -> None:
    """Maps are reconstruction errors: kNN and IsolationForest have none."""
    if not reconstructs(deployed.detector):
        raise ConfigError(
            f"maps=true needs a detector that reconstructs (an autoencoder or PCA); "
            f"{deployed.spec.detector} does not: set maps=false"
        )


def error_maps(deployed: DeployedDetector, images: np.ndarray) -> np.ndarray:
    """Per-pixel squared reconstruction error summed over channels (N x H x W) of raw images, in
    the detector's model space: where in each image a reconstructing detector sees the anomaly."""
    check_maps(deployed)
    samples = deployed.to_model_space(deployed.checked(images))
    return pixel_errors(samples, deployed.detector.decode(deployed.detector.encode(samples)))


def read_folder(
    folder: Path, input_shape: Sequence[int], skip_unreadable: bool
) -> tuple[list[Path], np.ndarray]:
    """The images directly in ``folder`` (sorted by name, hidden files left out) in the detector's
    ``input_shape`` (C x H x W), and the files they came from."""
    if not folder.is_dir():
        raise ConfigError(f"input={folder}: no such folder")

    def unreadable(path: Path, error: Exception) -> None:
        if not skip_unreadable:
            raise InputError(
                f"input={folder}: {path.name} is not a readable image ({type(error).__name__}); remove "
                "it or set skip_unreadable=true"
            )
        log.warning(
            "input %s: skipped %s, not a readable image (%s)", folder, path.name, type(error).__name__
        )

    channels, height, width = (int(size) for size in input_shape)
    read, images = read_images(image_files(folder), channels, (height, width), unreadable)
    if not read:
        raise InputError(f"input={folder}: no images in the folder (its files, hidden ones left out)")
    return read, images


def map_names(paths: Sequence[Path]) -> list[str]:
    """A PNG name per image: its stem, or its whole name where two images share a stem."""
    stems = [path.stem for path in paths]
    return [
        f"{stem if stems.count(stem) == 1 else path.name}.png"
        for stem, path in zip(stems, paths, strict=True)
    ]


def maps_folder(output: Path) -> Path:
    """Where the maps go: ``<output stem>_maps/`` beside the output."""
    return output.with_name(f"{output.stem}_maps")


def write_maps(
    deployed: DeployedDetector, images: np.ndarray, scored: pd.DataFrame, paths: Sequence[Path], folder: Path
) -> list[Path]:
    """An anomaly map PNG (:func:`autoencoders.figures.plots.anomaly_map`) into ``folder`` for each
    flagged image; returns the names written, by image."""
    flagged = np.flatnonzero(scored["is_anomaly"].to_numpy())
    names = map_names(paths)
    threshold = deployed.spec.threshold
    written = []
    for i, errors in zip(flagged, error_maps(deployed, images[flagged]), strict=True):
        title = f"{paths[i].name}: anomaly score {scored['score'].iat[i]:.4g} (threshold {threshold:.4g})"
        plots.anomaly_map(images[i], errors, title).savefig(folder / names[i], dpi=100)
        written.append(names[i])
    return written


def score_folder(
    model_uri: str,
    tracking_uri: str,
    paths: tuple[Path, Path],
    batch_size: int,
    skip_unreadable: bool = False,
    maps: bool = False,
) -> int:
    """Score every image in the folder ``paths[0]`` with an image detector, into ``paths[1]``:
    ``path``, ``score``, ``is_anomaly`` (and the detector's codes) per image, in file-name order;
    with ``maps``, a ``map`` column naming each flagged image's map PNG. Prints what it did;
    returns the number of images scored."""
    folder, output = paths
    check_output(output)
    model = load_model(model_uri, tracking_uri)
    deployed: DeployedDetector = model.unwrap_python_model().detector
    if deployed.spec.kind != DataKind.IMAGES:
        raise ConfigError(
            f"input={folder} is a folder of images, but the detector scores {deployed.spec.kind} rows: "
            "give it a .csv or .parquet file"
        )
    if maps:
        check_maps(deployed)
    started = time.perf_counter()
    read, images = read_folder(folder, deployed.spec.input_shape, skip_unreadable)
    scored = score_batches(model, images, batch_size, [])
    scored.insert(0, "path", [str(path) for path in read])
    if maps:
        with atomic_folder(maps_folder(output)) as written_into:
            names = write_maps(deployed, images, scored, read, written_into)
            flagged = scored["is_anomaly"].to_numpy()
            scored["map"] = None
            scored.loc[flagged, "map"] = [str(maps_folder(output) / name) for name in names]
            write_frame(scored, output)
    else:
        write_frame(scored, output)
    report(scored, output, time.perf_counter() - started, maps)
    return len(scored)


def report(scored: pd.DataFrame, output: Path, seconds: float, maps: bool) -> None:
    flagged = int(scored["is_anomaly"].sum())
    where = f" and {flagged} anomaly maps into {maps_folder(output)}/" if maps else ""
    print(f"scored {len(scored)} images in {seconds:.2f} s: {flagged} anomalous; wrote {output}{where}")
