"""The figures every run logs, drawn from one :class:`Evaluation` of any detector."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from autoencoders.anomaly.detector import AnomalyDetector
from autoencoders.data.encoding import column_errors
from autoencoders.data.splits import DataKind, Splits
from autoencoders.evaluation.metrics import Evaluation
from autoencoders.evaluation.pixels import pixel_errors
from autoencoders.evaluation.records import RunOutputs
from autoencoders.evaluation.series import intervals
from autoencoders.figures import plots, series


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


def draw(
    detector: AnomalyDetector, splits: Splits, evaluation: Evaluation, outputs: RunOutputs, label: str
) -> dict[str, Figure]:
    """Artifact path -> figure, for ``points`` (2-D vectors) or ``images`` (1 x H x W) data. The
    paths sit at the top of the artifact tree, where MLflow's compare-runs page offers them."""
    if outputs.kind == DataKind.SERIES:
        figures = series_figures(outputs, label)
    elif evaluation.test_reconstructions is None:  # a scorer (kNN, IsolationForest): scores only
        figures = {}
    elif outputs.kind == DataKind.POINTS:
        figures = point_figures(detector, splits, evaluation, outputs, label)
    elif outputs.kind == DataKind.TABLE:
        figures = table_figures(splits, evaluation, outputs, label)
    else:
        figures = image_figures(detector, splits, evaluation, outputs, label)
    scores = {label: outputs.scores}
    if splits.has_anomalies:
        figures["roc.png"] = plots.roc(outputs.is_anomaly, scores, f"{label}: anomaly detection")
    figures["scores.png"] = plots.score_histograms(
        outputs.is_anomaly, scores, f"{label}: anomaly scores on the test set", {label: evaluation.threshold}
    )
    return figures


def series_figures(outputs: RunOutputs, label: str) -> dict[str, Figure]:
    """The test part's channels with the score below on the same time axis, the true anomalies
    shaded and the flagged intervals marked; a few windows with their reconstructions."""
    threshold = float(outputs.threshold)
    channels = [str(name) for name in outputs.series_channels]
    figures = {
        "series.png": series.series_scores(
            outputs.series_values,
            channels,
            outputs.is_anomaly,
            {label: outputs.scores},
            {label: threshold},
            f"{label}: the test part, each point's score and the intervals flagged",
            outputs.series_time,
            {label: intervals(outputs.scores > threshold, outputs.scores)},
        )
    }
    if outputs.reconstructions is not None:
        figures["windows.png"] = series.window_reconstructions(
            outputs.samples,
            outputs.reconstructions,
            outputs.shown_is_anomaly,
            channels,
            f"{label}: test windows and their reconstructions",
            outputs.shown_starts,
        )
    return figures


def point_figures(
    detector: AnomalyDetector, splits: Splits, evaluation: Evaluation, outputs: RunOutputs, label: str
) -> dict[str, Figure]:
    """The notebook's scatter plots, and its error map when the data has a box to map."""
    generated, how = generation_codes(evaluation.train_codes, 200)
    rmse = evaluation.metrics["train/rmse"]
    figures = {
        "reconstructions.png": plots.points_reconstructions(
            splits.train, {label: evaluation.train_reconstructions}, f"training set, RMSE {rmse:.4f}"
        ),
        "codes.png": plots.points_codes(splits.train, evaluation.train_codes, f"{label}: codes"),
        "samples.png": plots.points_samples(
            splits.train, detector.decode(generated), f"{label}: decoded {how}"
        ),
    }
    if outputs.has_grid:
        figures["error_map.png"] = plots.error_maps(
            outputs.grid_u,
            outputs.grid_v,
            {label: outputs.grid_scores},
            splits.train,
            "anomaly score over the plane",
        )
    return figures


def class_name(splits: Splits) -> str:
    """What the codes' colours are: MNIST's digits, or anomalous against normal."""
    labels = splits.test_labels
    return "digit" if labels is not None and labels.max() > 1 else "anomalous (1) or normal (0)"


def table_figures(
    splits: Splits, evaluation: Evaluation, outputs: RunOutputs, label: str
) -> dict[str, Figure]:
    """Which input columns made the most anomalous test rows anomalous, and the codes by label."""
    top = np.argsort(evaluation.test_scores)[::-1][:20]
    columns, errors = per_column((splits.test[top] - evaluation.test_reconstructions[top]) ** 2, outputs)
    ids = splits.test_ids if splits.test_ids is not None else np.arange(len(splits.test))
    rows = [
        f"row {ids[i]}{' (anomalous)' if splits.test_is_anomaly[i] else ''}: {evaluation.test_scores[i]:.3g}"
        for i in top
    ]
    return {
        "feature_errors.png": plots.feature_errors(
            {label: errors}, rows, columns, f"{label}: the 20 most anomalous test rows (row: score)"
        ),
        "codes.png": plots.image_codes(
            evaluation.test_codes, splits.test_labels, f"{label}: test codes", class_name(splits)
        ),
    }


def per_column(errors: np.ndarray, outputs: RunOutputs) -> tuple[list[str], np.ndarray]:
    """A table's per-feature squared errors summed per input column (a category's one-hot
    features, a number and its gap indicator are one column)."""
    if outputs.features is None:
        return [str(i) for i in range(errors.shape[1])], errors
    return column_errors(errors, [str(name) for name in outputs.features])


def image_figures(
    detector: AnomalyDetector, splits: Splits, evaluation: Evaluation, outputs: RunOutputs, label: str
) -> dict[str, Figure]:
    """Test images over their reconstructions, where their error lies, the codes, and decoded samples."""
    generated, how = generation_codes(evaluation.train_codes, 32)
    samples = detector.decode(generated)
    what = "digits" if class_name(splits) == "digit" else "images"
    return {
        "reconstructions.png": plots.image_grid(
            [outputs.samples, outputs.reconstructions],
            ["original", "reconstructed"],
            f"{label}: test {what} (normal first, then anomalous)",
            *verdicts(outputs, evaluation.threshold),
        ),
        "anomaly_maps.png": shown_anomaly_maps(splits, outputs, f"{label}: where the test {what} differ"),
        "codes.png": plots.image_codes(
            evaluation.test_codes, splits.test_labels, f"{label}: test codes", class_name(splits)
        ),
        "samples.png": plots.image_grid(
            [samples[i : i + 8] for i in range(0, len(samples), 8)],
            [""] * (len(samples) // 8),
            f"{label}: decoded {how}",
        ),
    }


#: What the threshold made of a shown sample, and its colour: (anomalous, flagged) -> word.
VERDICTS = {
    (True, True): ("caught", "tab:green"),
    (True, False): ("MISSED", "tab:red"),
    (False, True): ("FALSE ALARM", "tab:red"),
    (False, False): ("ok", "black"),
}


def verdicts(outputs: RunOutputs, threshold: float) -> tuple[list[str], str, list[str]]:
    """Labels under shown samples: each one's score and what the threshold made of it (caught,
    missed, a false alarm), coloured; and what the labels say."""
    shown = outputs.shown
    said = [
        VERDICTS[bool(a), bool(s > threshold)]
        for a, s in zip(outputs.is_anomaly[shown], outputs.scores[shown], strict=True)
    ]
    labels = [f"{score:.3g}\n{word}" for score, (word, _) in zip(outputs.scores[shown], said, strict=True)]
    return (
        labels,
        f"anomaly score of each, and at the threshold {threshold:.3g}",
        [colour for _, colour in said],
    )


def shown_anomaly_maps(splits: Splits, outputs: RunOutputs, title: str) -> Figure:
    """The shown test images, their reconstructions and per-pixel errors (with the defect masks,
    where the data has them), each column named normal or anomalous with its anomaly score."""
    shown = outputs.shown
    kinds = np.where(outputs.is_anomaly[shown], "anomalous", "normal")
    labels = [f"{kind}\n{score:.3g}" for kind, score in zip(kinds, outputs.scores[shown], strict=True)]
    masks = None if splits.test_masks is None else splits.test_masks[shown]
    errors = pixel_errors(outputs.samples, outputs.reconstructions)
    return plots.anomaly_maps(outputs.samples, outputs.reconstructions, errors, title, labels, masks)
