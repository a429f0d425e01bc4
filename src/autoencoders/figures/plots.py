"""One figure per function: arrays in, a matplotlib ``Figure`` out; nothing is logged or shown."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score, roc_curve
from torchvision.utils import make_grid


def _axes(figsize: tuple[float, float] = (6, 4.5)) -> tuple[Figure, Axes]:
    """A figure with one axes, through matplotlib's object API: no pyplot state, nothing to close."""
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots()


def _two_scatters(
    first: np.ndarray, second: np.ndarray, labels: tuple[str, str], style: tuple[str, int], title: str
) -> Figure:
    """``first`` as small blue points, ``second`` over it in ``style`` (colour, size), equal axes."""
    figure, ax = _axes()
    ax.scatter(first[:, 0], first[:, 1], c="b", s=3, label=labels[0])
    ax.scatter(second[:, 0], second[:, 1], c=style[0], s=style[1], label=labels[1])
    ax.axis("equal")
    ax.set_title(title)
    ax.legend()
    return figure


def points_reconstructions(x: np.ndarray, x_hat: np.ndarray, title: str) -> Figure:
    """The notebook's plot: originals in blue, reconstructions in red."""
    return _two_scatters(x, x_hat, ("original", "reconstructed"), ("r", 3), title)


def _code_plane(codes: np.ndarray) -> np.ndarray:
    """Codes placed in a plane: 1-D codes on the x axis, 2-D as they are, more by PCA."""
    codes = codes.reshape(len(codes), -1)
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))])
    if codes.shape[1] == 2:
        return codes
    return PCA(2).fit_transform(codes)


def points_codes(x: np.ndarray, codes: np.ndarray, title: str) -> Figure:
    """The notebook's code embedding: each sample joined by a line to its code in the plane."""
    plane = _code_plane(codes)
    figure, ax = _axes()
    ax.scatter(x[:, 0], x[:, 1], c="b", s=3, label="original")
    ax.scatter(plane[:, 0], plane[:, 1], c="r", s=3, label="codes")
    segments = np.stack([x[:, :2], plane], axis=1)
    ax.add_collection(LineCollection(segments, colors="k", linewidths=0.1))
    ax.axis("equal")
    ax.set_title(title)
    ax.legend()
    return figure


def image_codes(codes: np.ndarray, labels: np.ndarray | None, title: str) -> Figure:
    """Test codes in a plane (PCA beyond 2-D), coloured by class."""
    plane = _code_plane(codes)
    figure, ax = _axes((6, 5))
    scatter = ax.scatter(plane[:, 0], plane[:, 1], c=labels, cmap="tab10", s=4)
    if labels is not None:
        figure.colorbar(scatter, ax=ax, label="digit")
    projected = codes.reshape(len(codes), -1).shape[1] > 2
    ax.set_xlabel("code PC 1" if projected else "code 1")
    ax.set_ylabel("code PC 2" if projected else "code 2")
    ax.set_title(title)
    return figure


def points_samples(x_train: np.ndarray, generated: np.ndarray, title: str) -> Figure:
    """Decoder outputs (yellow) over the training points (blue), as in the notebook."""
    return _two_scatters(x_train, generated, ("training data", "decoded codes"), ("y", 12), title)


def image_grid(rows: list[np.ndarray], row_titles: list[str], title: str) -> Figure:
    """Rows of single-channel images (N x 1 x H x W each) as one grid, a title left of each row."""
    n_cols = max(len(row) for row in rows)
    blank = np.ones_like(rows[0][:1])
    padded = [np.concatenate([row, *[blank] * (n_cols - len(row))]) for row in rows]
    images = torch.as_tensor(np.clip(np.concatenate(padded), 0, 1), dtype=torch.float32)
    grid = make_grid(images, nrow=n_cols, padding=2, pad_value=1.0)
    figure, ax = _axes((n_cols * 0.9, len(rows) * 0.9 + 0.6))
    ax.imshow(grid.permute(1, 2, 0).numpy())
    cell = images.shape[-2] + 2
    ax.set_yticks([2 + cell * (r + 0.5) for r in range(len(rows))], row_titles, fontsize=8)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    return figure


def roc(is_anomaly: np.ndarray, scores: np.ndarray, title: str) -> Figure:
    """ROC curve of the anomaly score, anomalies positive, AUROC in the legend."""
    fpr, tpr, _ = roc_curve(is_anomaly, scores)
    auroc = roc_auc_score(is_anomaly, scores)
    figure, ax = _axes((5, 5))
    ax.plot(fpr, tpr, "b-", label=f"AUROC = {auroc:.3f}")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return figure


def score_histograms(is_anomaly: np.ndarray, scores: np.ndarray, title: str) -> Figure:
    """Histograms of the anomaly score for normal and anomalous test samples."""
    figure, ax = _axes()
    bins = np.histogram_bin_edges(scores, bins=50)
    ax.hist(scores[~is_anomaly], bins=bins, alpha=0.6, density=True, label="normal")
    if is_anomaly.any():
        ax.hist(scores[is_anomaly], bins=bins, alpha=0.6, density=True, label="anomalous")
    ax.set_xlabel("anomaly score (squared reconstruction error)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    return figure


def error_map(u: np.ndarray, v: np.ndarray, errors: np.ndarray, x_train: np.ndarray, title: str) -> Figure:
    """The notebook's error map: reconstruction error over the grid, training points in white."""
    figure, ax = _axes()
    filled = ax.contourf(u, v, errors.reshape(u.shape), cmap="jet", levels=200)
    figure.colorbar(filled, ax=ax, label="reconstruction error")
    ax.scatter(x_train[:, 0], x_train[:, 1], c="w", s=1)
    ax.axis("equal")
    ax.set_title(title)
    return figure
