"""The figures every run logs, drawn from one :class:`Evaluation` of any encode/decode model."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from autoencoders import figures
from autoencoders.data.base import Splits
from autoencoders.evaluation import Codec, Evaluation, generation_codes, squared_errors

GRID_SIZE = 200


def error_grid(
    codec: Codec, box: tuple[tuple[float, float], tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's 200 x 200 grid over ``box`` and each grid point's reconstruction error."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    u, v = np.meshgrid(np.linspace(x_lo, x_hi, GRID_SIZE), np.linspace(y_lo, y_hi, GRID_SIZE))
    grid = np.column_stack([u.ravel(), v.ravel()]).astype(np.float32)
    errors = np.sqrt(squared_errors(grid, codec.decode(codec.encode(grid))))
    return u, v, errors


def spread(indices: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` of ``indices``, evenly spread (so every class shows in a sorted test set)."""
    return indices[np.linspace(0, len(indices) - 1, min(n, len(indices))).astype(int)]


def build_figures(
    codec: Codec,
    splits: Splits,
    evaluation: Evaluation,
    kind: str,
    label: str,
    box: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> dict[str, Figure]:
    """Artifact path -> figure, for ``points`` (2-D vectors) or ``images`` (1 x H x W) data."""
    generated = codec.decode(generation_codes(evaluation.train_codes, 200 if kind == "points" else 32))
    has_anomalies = "test/auroc" in evaluation.metrics
    out: dict[str, Figure] = {}
    one_dimensional = evaluation.train_codes.reshape(len(evaluation.train_codes), -1).shape[1] == 1
    sampling = "across the training range" if one_dimensional else "drawn from a Gaussian fitted to the codes"
    if kind == "points":
        rmse = evaluation.metrics["train/rmse"]
        out["figures/reconstructions.png"] = figures.points_reconstructions(
            splits.train, evaluation.train_reconstructions, f"{label}: training set, RMSE {rmse:.4f}"
        )
        out["figures/codes.png"] = figures.points_codes(
            splits.train, evaluation.train_codes, f"{label}: codes"
        )
        out["figures/samples.png"] = figures.points_samples(
            splits.train,
            generated,
            f"{label}: decoded codes {sampling}",
        )
        if box is not None:
            u, v, errors = error_grid(codec, box)
            out["figures/error_map.png"] = figures.error_map(
                u, v, errors, splits.train, f"{label}: reconstruction error"
            )
    else:
        anomalous = np.flatnonzero(splits.test_is_anomaly)
        normal = np.flatnonzero(~splits.test_is_anomaly)
        shown = np.concatenate([spread(normal, 8 if has_anomalies else 16), spread(anomalous, 8)])
        out["figures/reconstructions.png"] = figures.image_grid(
            [splits.test[shown], evaluation.test_reconstructions[shown]],
            ["original", "reconstructed"],
            f"{label}: test digits (normal first, then anomalous)",
        )
        out["figures/codes.png"] = figures.image_codes(
            evaluation.test_codes, splits.test_labels, f"{label}: test codes"
        )
        out["figures/samples.png"] = figures.image_grid(
            [generated[i : i + 8] for i in range(0, len(generated), 8)],
            [""] * (len(generated) // 8),
            f"{label}: decoded draws from a Gaussian fitted to the training codes",
        )
    if has_anomalies:
        out["figures/roc.png"] = figures.roc(
            splits.test_is_anomaly, evaluation.test_scores, f"{label}: anomaly detection"
        )
    out["figures/scores.png"] = figures.score_histograms(
        splits.test_is_anomaly, evaluation.test_scores, f"{label}: anomaly scores on the test set"
    )
    return out
