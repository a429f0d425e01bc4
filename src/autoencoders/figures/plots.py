"""One figure per function: arrays in, a matplotlib ``Figure`` out; nothing is logged or shown."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
from torchvision.utils import make_grid

from autoencoders.figures.colours import model_colour


def _axes(figsize: tuple[float, float] = (6, 4.5)) -> tuple[Figure, Axes]:
    """A figure with one axes, through matplotlib's object API: no pyplot state, nothing to close."""
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots()


def points_reconstructions(
    x: np.ndarray,
    reconstructions: Mapping[str, np.ndarray],
    title: str,
    is_anomaly: np.ndarray | None = None,
) -> Figure:
    """A panel per model on shared axes: originals as open circles (blue normal, orange anomalous),
    their reconstructions as red dots on top, each joined to its original by a grey line, so that a
    reconstruction on top of its original no longer hides it."""
    figure, axes = _panels(len(reconstructions))
    anomalous = np.zeros(len(x), bool) if is_anomaly is None else is_anomaly
    for ax, (name, x_hat) in zip(axes, reconstructions.items(), strict=True):
        segments = np.stack([x[:, :2], x_hat[:, :2]], axis=1)
        ax.add_collection(LineCollection(segments, colors="0.6", linewidths=0.6, label="error"))
        for mask, colour, kind in ((~anomalous, "b", "original"), (anomalous, "tab:orange", "anomalous")):
            if mask.any():
                ax.scatter(
                    *x[mask, :2].T, s=18, facecolors="none", edgecolors=colour, linewidths=0.8, label=kind
                )
        ax.scatter(x_hat[:, 0], x_hat[:, 1], c="r", s=5, label="reconstructed", zorder=3)
        ax.set_aspect("equal")
        ax.set(xlabel="x1", ylabel="x2", title=name)
    axes[0].legend(fontsize=8)
    figure.suptitle(title)
    return figure


def _panels(n: int, size: tuple[float, float] = (5.2, 4.6)) -> tuple[Figure, list[Axes]]:
    """``n`` panels side by side on shared axes: one per model, so that models compare at a glance."""
    figure = Figure(figsize=(size[0] * n, size[1]), layout="constrained")
    axes = figure.subplots(1, n, sharex=True, sharey=True, squeeze=False)[0]
    return figure, list(axes)


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
    ax.set(xlabel="x0 (a code: its value on this axis, or its first two components)", ylabel="x1")
    ax.set_title(title)
    ax.legend()
    return figure


#: A scatter of more codes shows a seeded draw of this many (every anomaly, up to half of them):
#: beyond it points only overplot, and a million-row table's 200,000 test codes took 0.6 s to draw.
SCATTER_POINTS = 20_000


def drawn_points(labels: np.ndarray | None, n: int) -> np.ndarray:
    """Which of ``n`` points a scatter shows: all of them up to :data:`SCATTER_POINTS`, else a
    seeded draw that keeps the anomalies (label 1 of 0/1 labels) up to half of it."""
    if n <= SCATTER_POINTS:
        return np.arange(n)
    rng = np.random.default_rng(0)
    binary = labels is not None and set(np.unique(labels)) <= {0, 1}
    anomalous = np.flatnonzero(labels == 1) if binary else np.zeros(0, int)
    anomalous = rng.permutation(anomalous)[: SCATTER_POINTS // 2]
    others = np.setdiff1d(np.arange(n), anomalous)
    return np.sort(np.r_[anomalous, rng.choice(others, SCATTER_POINTS - len(anomalous), replace=False)])


def image_codes(
    codes: np.ndarray, labels: np.ndarray | None, title: str, label_name: str = "digit"
) -> Figure:
    """Test codes in a plane (PCA beyond 2-D, fitted on every code), coloured by class
    (``label_name`` says what the colours are: a digit, or anomalous against normal)."""
    plane = _code_plane(codes)
    shown = drawn_points(labels, len(plane))
    if len(shown) < len(plane):
        kept = (
            "; every anomaly kept"
            if labels is not None and 0 < (labels[shown] == 1).sum() < len(shown)
            else ""
        )
        title = f"{title} ({len(shown):,} of {len(plane):,} drawn{kept})"
        plane, labels = plane[shown], labels[shown] if labels is not None else None
    figure, ax = _axes((6, 5))
    if labels is not None and set(np.unique(labels)) <= {0, 1}:  # anomalous against normal: a legend
        ax.scatter(*plane[labels == 0].T, s=4, c="tab:blue", label="normal")
        ax.scatter(*plane[labels == 1].T, s=12, c="tab:red", label="anomalous", zorder=3)
        ax.legend()
    else:
        scatter = ax.scatter(plane[:, 0], plane[:, 1], c=labels, cmap="tab10", s=4)
        if labels is not None:
            figure.colorbar(scatter, ax=ax, label=label_name)
    projected = codes.reshape(len(codes), -1).shape[1] > 2
    ax.set_xlabel("code PC 1" if projected else "code 1")
    ax.set_ylabel("code PC 2" if projected else "code 2")
    ax.set_title(title)
    return figure


def points_samples(x_train: np.ndarray, generated: np.ndarray, title: str) -> Figure:
    """Decoder outputs (yellow) over the training points (blue), as in the notebook."""
    figure, ax = _axes()
    ax.scatter(x_train[:, 0], x_train[:, 1], c="b", s=3, label="training data")
    ax.scatter(generated[:, 0], generated[:, 1], c="y", s=12, label="decoded codes")
    ax.axis("equal")
    ax.set(xlabel="x0 (a code: its value on this axis, or its first two components)", ylabel="x1")
    ax.set_title(title)
    ax.legend()
    return figure


def image_grid(
    rows: list[np.ndarray],
    row_titles: list[str],
    title: str,
    column_labels: list[str] | None = None,
    column_axis: str = "",
    column_colours: list[str] | None = None,
) -> Figure:
    """Rows of single-channel images (N x 1 x H x W each) as one grid, a title left of each row and,
    where given, a label under each column (``column_axis`` says what the labels are), in its colour."""
    n_cols = max(len(row) for row in rows)
    blank = np.ones_like(rows[0][:1])
    padded = [np.concatenate([row, *[blank] * (n_cols - len(row))]) for row in rows]
    images = torch.as_tensor(np.clip(np.concatenate(padded), 0, 1), dtype=torch.float32)
    grid = make_grid(images, nrow=n_cols, padding=2, pad_value=1.0)
    figure, ax = _axes((n_cols * 0.9, len(rows) * 0.9 + 0.6))
    ax.imshow(grid.permute(1, 2, 0).numpy())
    cell_height, cell_width = images.shape[-2] + 2, images.shape[-1] + 2
    ax.set_yticks([2 + cell_height * (r + 0.5) for r in range(len(rows))], row_titles, fontsize=8)
    columns = [2 + cell_width * (c + 0.5) for c in range(n_cols)] if column_labels else []
    ax.set_xticks(columns, column_labels or [], fontsize=7)
    for tick, colour in zip(ax.get_xticklabels(), column_colours or [], strict=False):
        tick.set_color(colour)
    ax.set_xlabel(column_axis, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    return figure


def feature_errors(
    errors: Mapping[str, np.ndarray], row_labels: list[str], feature_names: list[str], title: str
) -> Figure:
    """Per-feature squared reconstruction error of some rows (rows x features), a panel per model
    on one log colour scale: which features made a row anomalous."""
    every = np.concatenate([np.ravel(found) for found in errors.values()])
    positive = every[every > 0]
    norm = LogNorm(*(np.percentile(positive, [1, 100]) if len(positive) else (1e-8, 1.0)))
    n_rows, n_features = next(iter(errors.values())).shape
    size = (max(4.0, 0.35 * n_features + 2.5), max(3.0, 0.28 * n_rows + 1.8))
    figure, axes = _panels(len(errors), size)
    for ax, (name, found) in zip(axes, errors.items(), strict=True):
        image = ax.imshow(np.clip(found, norm.vmin, None), cmap="viridis", norm=norm, aspect="auto")
        ax.set_xticks(range(n_features), feature_names, rotation=90, fontsize=7)
        ax.set_yticks(range(n_rows), row_labels, fontsize=7)
        ax.set_title(name)
    figure.colorbar(image, ax=axes, label="squared reconstruction error of the feature")
    figure.suptitle(title)
    return figure


def roc(is_anomaly: np.ndarray, scores: Mapping[str, np.ndarray], title: str) -> Figure:
    """The ROC curves (AUROC) and the precision-recall curves (AUPR) of each model's anomaly score on
    the same test samples, anomalies positive, against what a random score would give."""
    figure = Figure(figsize=(10, 4.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    for name, model_scores in scores.items():
        fpr, tpr, _ = roc_curve(is_anomaly, model_scores)
        colour = model_colour(name)
        left.plot(
            fpr, tpr, color=colour, label=f"{name}: AUROC = {roc_auc_score(is_anomaly, model_scores):.4g}"
        )
        precision, recall, _ = precision_recall_curve(is_anomaly, model_scores)
        aupr = average_precision_score(is_anomaly, model_scores)
        right.plot(recall, precision, color=colour, label=f"{name}: AUPR = {aupr:.4g}")
    left.plot([0, 1], [0, 1], "k:", linewidth=0.8, label="random score")
    left.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC")
    left.legend(loc="lower right", fontsize=8)
    share = float(np.mean(is_anomaly))
    right.axhline(share, color="k", linestyle=":", linewidth=0.8, label=f"random score ({share:.2f})")
    right.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    right.legend(loc="lower left", fontsize=8)
    figure.suptitle(title)
    return figure


def score_histograms(
    is_anomaly: np.ndarray,
    scores: Mapping[str, np.ndarray],
    title: str,
    thresholds: Mapping[str, float | None] | None = None,
) -> Figure:
    """Histograms of each model's anomaly score on the test set, normal against anomalous, a panel
    per model. With its threshold known (and above zero) a model's scores are drawn over it, so
    that 1 is where every model starts flagging, with the threshold marked and what it flags in
    the panel's title; a panel whose scores span decades gets a log axis of its own."""
    thresholds = thresholds or {}
    figure = Figure(figsize=(6.4, 1.0 + 2.4 * len(scores)), layout="constrained")
    axes = figure.subplots(len(scores), 1, squeeze=False)[:, 0]
    for ax, (name, model_scores) in zip(axes, scores.items(), strict=True):
        threshold = thresholds.get(name)
        over = threshold is not None and threshold > 0
        shown = np.asarray(model_scores, dtype=np.float64) / (threshold if over else 1.0)
        line = 1.0 if over else threshold
        logarithmic = shown.min() > 0 and shown.max() / shown.min() > 100
        ends = [shown.min(), shown.max(), *([line] if line is not None else [])]
        bins = (
            np.geomspace(min(ends), max(ends) * 1.001, 50)
            if logarithmic
            else np.linspace(min(ends), max(ends), 50)
        )
        # One filled outline per histogram, not a rectangle per bin: the same picture, drawn and
        # saved in half the time (0.32 s -> 0.17 s for 350,000 test rows).
        ax.hist(shown[~is_anomaly], bins=bins, alpha=0.6, label="normal", histtype="stepfilled")
        if is_anomaly.any():
            ax.hist(shown[is_anomaly], bins=bins, alpha=0.6, label="anomalous", histtype="stepfilled")
        said = name
        if line is not None:
            ax.axvline(line, color="k", linestyle="--", linewidth=1, label=f"threshold ({threshold:.4g})")
            flagged = shown > line
            said += f": flagged {int(flagged[is_anomaly].sum())} of {int(is_anomaly.sum())} anomalous"
            said += f", {int(flagged[~is_anomaly].sum())} of {int((~is_anomaly).sum())} normal"
        if logarithmic:
            ax.set_xscale("log")
        unit = "score / threshold" if over else "anomaly score"
        ax.set(xlabel=unit + (" (log scale)" if logarithmic else ""), ylabel="test samples")
        ax.set_title(said, fontsize=9)
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return figure


def error_maps(
    u: np.ndarray, v: np.ndarray, scores: Mapping[str, np.ndarray], x_train: np.ndarray, title: str
) -> Figure:
    """The notebook's error map, a panel per model on one log colour scale: the anomaly score itself
    (the run's anomaly.score) in a perceptually uniform colour map, training points in white."""
    grids = {name: np.clip(grid.reshape(u.shape), 1e-8, None) for name, grid in scores.items()}
    every = np.concatenate([grid.ravel() for grid in grids.values()])
    # From the 1st percentile: an exact fit along a line (PCA's) would spend most of the scale.
    norm = LogNorm(np.percentile(every, 1), every.max())
    figure, axes = _panels(len(grids), (5.0, 4.4))
    extent = (u.min(), u.max(), v.min(), v.max())
    for ax, (name, grid) in zip(axes, grids.items(), strict=True):
        # A regular grid: imshow draws it as one image, several times faster than a 40,000-cell mesh.
        mesh = ax.imshow(grid, cmap="viridis", norm=norm, origin="lower", extent=extent, aspect="equal")
        ax.scatter(x_train[:, 0], x_train[:, 1], c="w", s=2)
        ax.set_aspect("equal")
        ax.set(xlabel="x1", ylabel="x2", title=name)
    figure.colorbar(mesh, ax=axes, label="anomaly score (log scale)")
    figure.suptitle(title)
    return figure


def _pixels(image: np.ndarray) -> np.ndarray:
    """One C x H x W image in [0, 1] as imshow takes it: H x W x 3, a grey image in three equal channels."""
    image = np.clip(np.asarray(image, np.float32), 0, 1)
    return np.repeat(image, 3, axis=0).transpose(1, 2, 0) if image.shape[0] == 1 else image.transpose(1, 2, 0)


def _bare(ax: Axes) -> None:
    ax.tick_params(length=0)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _side_by_side(images: np.ndarray, fill: float, pad: int = 2) -> np.ndarray:
    """N images (N x H x W, or N x H x W x 3) in one row, ``pad`` pixels of ``fill`` around each:
    one imshow per row, not one axes per image (a figure of 48 axes takes seconds to lay out)."""
    n, height, width = images.shape[:3]
    row = np.full((height + 2 * pad, n * (width + pad) + pad, *images.shape[3:]), fill, np.float64)
    for i, image in enumerate(images):
        left = pad + i * (width + pad)
        row[pad : pad + height, left : left + width] = image
    return row


def anomaly_maps(
    samples: np.ndarray,
    reconstructions: np.ndarray,
    errors: np.ndarray,
    title: str,
    column_labels: list[str],
    masks: np.ndarray | None = None,
) -> Figure:
    """Where each image's anomaly lies: the originals, their reconstructions and the per-pixel
    squared error (N x H x W) as heat maps on one colour scale, so that a defect reads as a bright
    spot against its image's normal error; the ground-truth defects outlined in cyan where known."""
    n, height, width = errors.shape
    figure = Figure(figsize=(max(4.0, 0.8 * n + 1.6), 3.4), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1)
    top.imshow(_side_by_side(np.stack([_pixels(x) for x in samples]), 1.0), interpolation="nearest")
    middle.imshow(
        _side_by_side(np.stack([_pixels(x) for x in reconstructions]), 1.0), interpolation="nearest"
    )
    scale = float(np.percentile(errors, 99.5)) or float(errors.max()) or 1.0  # one hot pixel dims none
    cmap = matplotlib.colormaps["inferno"].with_extremes(bad="white")  # the padding
    heat = bottom.imshow(
        _side_by_side(errors, np.nan), cmap=cmap, vmin=0, vmax=scale, interpolation="nearest"
    )
    if masks is not None and np.any(masks):
        bottom.contour(_side_by_side(masks.astype(float), 0.0), levels=[0.5], colors="cyan", linewidths=0.8)
    centres = [2 + (width + 2) * (i + 0.5) - 1 for i in range(n)]
    for ax, name in zip((top, middle, bottom), ("original", "reconstructed", "squared error"), strict=True):
        _bare(ax)
        ax.set_xticks([])
        ax.set_ylabel(name, fontsize=8)
    top.xaxis.tick_top()
    top.set_xticks(centres, column_labels, fontsize=7)
    # Beside all three rows, so that they keep one width; as tall as the heat maps' row.
    figure.colorbar(
        heat, ax=[top, middle, bottom], label="per pixel", shrink=0.3, aspect=7, anchor=(0, 0), pad=0.01
    )
    figure.suptitle(title)
    return figure


def anomaly_map(image: np.ndarray, errors: np.ndarray, title: str) -> Figure:
    """One scored image beside its per-pixel squared error laid over it (the error's own colour
    scale, transparent where it is low): where the detector sees the anomaly."""
    figure = Figure(figsize=(7.0, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    pixels = _pixels(image)
    left.imshow(pixels, interpolation="nearest")
    left.set_title("image", fontsize=9)
    right.imshow(pixels.mean(axis=2), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    scale = float(errors.max()) or 1.0
    alpha = np.clip(errors / scale, 0, 1) * 0.85 + 0.15
    heat = right.imshow(errors, cmap="inferno", vmin=0, vmax=scale, alpha=alpha, interpolation="nearest")
    right.set_title("squared reconstruction error", fontsize=9)
    for ax in (left, right):
        _bare(ax)
        ax.set_xticks([])
    figure.colorbar(heat, ax=right, label="per pixel, summed over channels", shrink=0.85)
    figure.suptitle(title, fontsize=10)
    return figure
