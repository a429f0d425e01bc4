"""The figures every run logs, drawn from one :class:`Evaluation` of any encode/decode model."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from autoencoders.data.base import Splits
from autoencoders.evaluation import Codec, Evaluation, squared_errors
from autoencoders.figures import plots

GRID_SIZE = 200
Box = tuple[tuple[float, float], tuple[float, float]]


def generation_codes(train_codes: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """Codes to decode for generation, and how they were chosen (for the caption): a line across
    the training range for 1-D codes, otherwise draws from a Gaussian fitted to the training codes."""
    codes = train_codes.reshape(len(train_codes), -1).astype(np.float64)
    if codes.shape[1] == 1:
        line = np.linspace(codes.min(), codes.max(), n, dtype=np.float32)[:, None]
        return line, "codes along the training codes' range"
    rng = np.random.default_rng(seed)
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    draws = rng.multivariate_normal(codes.mean(axis=0), covariance, n).astype(np.float32)
    return draws, "draws from a Gaussian fitted to the training codes"


def error_grid(codec: Codec, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's 200 x 200 grid over ``box`` and each grid point's anomaly score (the squared
    reconstruction error the evaluation ranks by)."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    u, v = np.meshgrid(np.linspace(x_lo, x_hi, GRID_SIZE), np.linspace(y_lo, y_hi, GRID_SIZE))
    grid = np.column_stack([u.ravel(), v.ravel()]).astype(np.float32)
    return u, v, squared_errors(grid, codec.decode(codec.encode(grid)))


def draw(
    codec: Codec, splits: Splits, evaluation: Evaluation, kind: str, label: str, box: Box | None = None
) -> dict[str, Figure]:
    """Artifact path -> figure, for ``points`` (2-D vectors) or ``images`` (1 x H x W) data."""
    if kind == "points":
        figures = point_figures(codec, splits, evaluation, label, box)
    else:
        figures = image_figures(codec, splits, evaluation, label)
    if splits.has_anomalies:
        figures["figures/roc.png"] = plots.roc(
            splits.test_is_anomaly, evaluation.test_scores, f"{label}: anomaly detection"
        )
    figures["figures/scores.png"] = plots.score_histograms(
        splits.test_is_anomaly, evaluation.test_scores, f"{label}: anomaly scores on the test set"
    )
    return figures


def point_figures(
    codec: Codec, splits: Splits, evaluation: Evaluation, label: str, box: Box | None
) -> dict[str, Figure]:
    """The notebook's scatter plots, and its error map when the data has a box to map."""
    generated, how = generation_codes(evaluation.train_codes, 200)
    rmse = evaluation.metrics["train/rmse"]
    figures = {
        "figures/reconstructions.png": plots.points_reconstructions(
            splits.train, evaluation.train_reconstructions, f"{label}: training set, RMSE {rmse:.4f}"
        ),
        "figures/codes.png": plots.points_codes(splits.train, evaluation.train_codes, f"{label}: codes"),
        "figures/samples.png": plots.points_samples(
            splits.train, codec.decode(generated), f"{label}: decoded {how}"
        ),
    }
    if box is not None:
        u, v, errors = error_grid(codec, box)
        figures["figures/error_map.png"] = plots.error_map(
            u, v, errors, splits.train, f"{label}: anomaly score over the plane"
        )
    return figures


def image_figures(codec: Codec, splits: Splits, evaluation: Evaluation, label: str) -> dict[str, Figure]:
    """Test images over their reconstructions, the codes, and decoded samples."""
    shown = splits.showcase(8 if splits.has_anomalies else 16, 8)
    generated, how = generation_codes(evaluation.train_codes, 32)
    samples = codec.decode(generated)
    return {
        "figures/reconstructions.png": plots.image_grid(
            [splits.test[shown], evaluation.test_reconstructions[shown]],
            ["original", "reconstructed"],
            f"{label}: test digits (normal first, then anomalous)",
            [f"{score:.3g}" for score in evaluation.test_scores[shown]],
            "anomaly score of each digit (squared reconstruction error)",
        ),
        "figures/codes.png": plots.image_codes(
            evaluation.test_codes, splits.test_labels, f"{label}: test codes"
        ),
        "figures/samples.png": plots.image_grid(
            [samples[i : i + 8] for i in range(0, len(samples), 8)],
            [""] * (len(samples) // 8),
            f"{label}: decoded {how}",
        ),
    }
