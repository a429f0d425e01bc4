"""One colour per model, the same in every figure and experiment: a model is found by its colour."""

from __future__ import annotations

import re
import zlib

#: matplotlib's default cycle, by model: the project's models first, then the classic detectors.
MODEL_COLOURS = {
    "dense": "#1f77b4",
    "conv": "#ff7f0e",
    "pca": "#2ca02c",
    "knn": "#d62728",
    "iforest": "#9467bd",
    "lof": "#8c564b",
    "ecod": "#e377c2",
}
#: The colours other models share, each always the same for the same name.
OTHER_COLOURS = ("#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a")


def model_colour(label: str) -> str:
    """The colour of the model a label names (``dense``, ``dense#0f12ab``, ``knn (seed 0)``)."""
    model = re.split(r"[#\s(]", label.strip(), maxsplit=1)[0]
    return MODEL_COLOURS.get(model) or OTHER_COLOURS[zlib.crc32(model.encode()) % len(OTHER_COLOURS)]
