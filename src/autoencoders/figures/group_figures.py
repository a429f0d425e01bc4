"""The comparison's figures: the models of one group on shared axes, drawn from the outputs each run
logged (:mod:`autoencoders.evaluation.records`), so nothing is retrained, reloaded or refitted."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from autoencoders.data.splits import DataKind
from autoencoders.evaluation.records import RunOutputs
from autoencoders.evaluation.series import intervals
from autoencoders.figures import plots, series
from autoencoders.figures.run_figures import per_column


def same_samples(outputs: Mapping[str, RunOutputs]) -> dict[str, RunOutputs]:
    """The models whose test set is the first model's: a group's runs share their data by
    construction, but a run logged by another version of a dataset would not compare."""
    first = next(iter(outputs.values()))
    return {
        name: found
        for name, found in outputs.items()
        if np.array_equal(found.is_anomaly, first.is_anomaly) and np.array_equal(found.samples, first.samples)
    }


def draw_group(outputs: Mapping[str, RunOutputs], label: str) -> dict[str, Figure]:
    """File name -> figure: ROC and precision-recall curves overlaid, score histograms on one log
    axis, the same test samples reconstructed by each model, and for 2-D data the error maps on one
    colour scale. Empty when no model of the group logged its outputs."""
    if not outputs:
        return {}
    outputs = same_samples(outputs)
    first = next(iter(outputs.values()))
    is_anomaly = first.is_anomaly
    scores = {name: found.scores for name, found in outputs.items()}
    figures = {}
    if is_anomaly.any() and not is_anomaly.all():
        figures["roc.png"] = plots.roc(is_anomaly, scores, f"{label}: anomaly detection")
    thresholds = {
        name: None if found.threshold is None else float(found.threshold) for name, found in outputs.items()
    }
    figures["scores.png"] = plots.score_histograms(
        is_anomaly, scores, f"{label}: anomaly scores on the test set, each over its threshold", thresholds
    )
    reconstructions = {
        name: found.reconstructions for name, found in outputs.items() if found.reconstructions is not None
    }
    if first.kind == DataKind.SERIES:  # the shown samples are windows: the series figure instead
        return figures | {"series.png": group_series(outputs, label)}
    shown_anomalous = is_anomaly[first.shown]
    if not reconstructions:  # only scorers in the group
        pass
    elif first.kind == DataKind.POINTS:
        figures["reconstructions.png"] = plots.points_reconstructions(
            first.samples, reconstructions, f"{label}: the same test points", shown_anomalous
        )
    elif first.kind == DataKind.TABLE:
        errors = {}
        for name, found in reconstructions.items():
            columns, errors[name] = per_column((first.samples - found) ** 2, first)
        rows = [
            f"test row {i}{' (anomalous)' if flag else ''}"
            for i, flag in zip(first.shown, shown_anomalous, strict=True)
        ]
        figures["feature_errors.png"] = plots.feature_errors(
            errors,
            rows,
            columns,
            f"{label}: per-column error of the same test rows",
        )
    else:
        figures["reconstructions.png"] = plots.image_grid(
            [first.samples, *reconstructions.values()],
            ["original", *reconstructions],
            f"{label}: the same test samples reconstructed by each model",
            ["anomalous" if flag else "normal" for flag in shown_anomalous],
            "test sample",
        )
    gridded = {name: found for name, found in outputs.items() if found.has_grid}
    if gridded:
        some = next(iter(gridded.values()))
        figures["error_maps.png"] = plots.error_maps(
            some.grid_u,
            some.grid_v,
            {name: found.grid_scores for name, found in gridded.items()},
            some.train,
            f"{label}: anomaly score over the plane, one colour scale",
        )
    return figures


def group_series(outputs: Mapping[str, RunOutputs], label: str) -> Figure:
    """Every model's point scores below the same test part, on one time axis."""
    first = next(iter(outputs.values()))
    thresholds = {
        name: float(found.threshold) for name, found in outputs.items() if found.threshold is not None
    }
    return series.series_scores(
        first.series_values,
        [str(name) for name in first.series_channels],
        first.is_anomaly,
        {name: found.scores for name, found in outputs.items()},
        thresholds,
        f"{label}: each model's score on the same test part, and what each flagged",
        first.series_time,
        {
            name: intervals(outputs[name].scores > value, outputs[name].scores)
            for name, value in thresholds.items()
        },
    )
