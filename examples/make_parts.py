"""Write a folder of images to try ``dataset=image_folder`` on: ``python examples/make_parts.py [folder]``.

anomalib's layout, from a real photo that ships with scikit-learn (``flower.jpg``, so nothing is
downloaded): 64 x 64 crops of its petals as the "parts", 60 normal ones in ``normal/``, 10 with a
painted defect (a scratch or a stain) in ``abnormal/`` and each defect's mask (white = defect) in
``ground_truth/``, as MVTec AD names them (``000_mask.png``). ``new/`` holds 15 more parts, 5 of
them defective, to score with ``pipelines.score``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_images

SIZE = 64


def crops(photo: Image.Image, n: int, rng: np.random.Generator) -> list[Image.Image]:
    """``n`` crops of one region of the photo, each at its own small offset: parts of one kind."""
    return [
        photo.crop((x, y, x + SIZE, y + SIZE))
        for x, y in zip(rng.integers(300, 360, n), rng.integers(150, 210, n), strict=True)
    ]


def defect(part: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """The part with a scratch (a bright line) or a stain (a dark blot) painted on, and its mask."""
    part, mask = part.copy(), Image.new("L", part.size, 0)
    if rng.random() < 0.5:
        ends = [tuple(int(v) for v in rng.integers(4, SIZE - 4, 2)) for _ in range(2)]
        for canvas, colour in ((ImageDraw.Draw(part), (245, 245, 235)), (ImageDraw.Draw(mask), 255)):
            canvas.line(ends, fill=colour, width=4)
    else:
        x, y = (int(v) for v in rng.integers(8, SIZE - 24, 2))
        w, h = (int(v) for v in rng.integers(10, 16, 2))
        for canvas, colour in ((ImageDraw.Draw(part), (40, 25, 20)), (ImageDraw.Draw(mask), 255)):
            canvas.ellipse((x, y, x + w, y + h), fill=colour)
    return part, mask


def write_parts(root: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    photo = Image.fromarray(load_sample_images().images[1])  # flower.jpg
    for name in ("normal", "abnormal", "ground_truth", "new"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(crops(photo, 60, rng)):
        part.save(root / "normal" / f"{i:03d}.png")
    for i, part in enumerate(crops(photo, 10, rng)):
        damaged, mask = defect(part, rng)
        damaged.save(root / "abnormal" / f"{i:03d}.png")
        mask.save(root / "ground_truth" / f"{i:03d}_mask.png")
    for i, part in enumerate(crops(photo, 15, rng)):
        (defect(part, rng)[0] if i % 3 == 2 else part).save(root / "new" / f"part_{i:02d}.png")


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "parts")
    write_parts(folder)
    print(f"wrote {folder}/normal (60), abnormal (10), ground_truth (10 masks), new (15 to score)")
