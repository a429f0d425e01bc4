"""Folders of synthetic parts in anomalib's layout (``normal/``, ``abnormal/``, defect masks): a
bright disc on a dark background, a defective one with a white scratch across it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def part(rng: np.random.Generator, size: tuple[int, int], defect: bool) -> tuple[np.ndarray, np.ndarray]:
    """A bright disc on a dark background; a defective part has a white scratch across it. The
    pixels (uint8, H x W x 3) and the defect's mask (uint8: 255 on the scratch)."""
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    disc = ((xx - 0.5 - 0.05 * rng.normal()) ** 2 + (yy - 0.5) ** 2 < 0.09).astype(float)
    pixels = np.stack([0.8 * disc, 0.5 * disc, 0.2 + 0 * disc], -1) + 0.03 * rng.normal(
        size=(height, width, 3)
    )
    mask = np.zeros((height, width), np.uint8)
    if defect:
        column = rng.integers(2, width - 2)
        pixels[:, column - 1 : column + 2] = 1.0
        mask[:, column - 1 : column + 2] = 255
    return (np.clip(pixels, 0, 1) * 255).astype(np.uint8), mask


def make_photos(root: Path, grey: Callable[[int], bool] = lambda i: i % 3 == 0) -> Path:
    """40 normal and 10 abnormal parts, of two sizes (20 x 20, 24 x 32), part ``i`` of each folder
    in grey where ``grey(i)`` (default: every third), else in colour; the abnormal parts' masks in
    ``ground_truth/`` (MVTec's names: ``003_mask.png``)."""
    rng = np.random.default_rng(0)
    (root / "ground_truth").mkdir(parents=True)
    for folder, count, defect in (("normal", 40, False), ("abnormal", 10, True)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            pixels, mask = part(rng, (20, 20) if i % 2 else (24, 32), defect)
            image = Image.fromarray(pixels)
            (image.convert("L") if grey(i) else image).save(root / folder / f"{i:03d}.png")
            if defect:
                Image.fromarray(mask).save(root / "ground_truth" / f"{i:03d}_mask.png")
    return root
