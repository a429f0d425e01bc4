"""A series' figures: its channels and every model's score on one time axis, the true anomalies
shaded, the flagged intervals marked; a few windows with their reconstructions. Arrays in, a
matplotlib ``Figure`` out (the object API: no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from autoencoders.evaluation.series import Interval, intervals
from autoencoders.figures.colours import model_colour

MAX_CHANNELS = 8  # rows of channels drawn; more are said in the title
MAX_SPANS = 200  # flagged intervals drawn one by one; more are merged across small gaps
ANOMALY = "#f4a3a3"


def _spans(found: list[Interval], limit: int = MAX_SPANS) -> list[tuple[int, int]]:
    """Intervals as (start, end) spans to draw; past ``limit`` neighbours are merged (the gaps
    between them closed, smallest first) so that a fragmented flagging still draws quickly."""
    spans = [(item.start, item.end) for item in found]
    if len(spans) <= limit:
        return spans
    gaps = np.array([spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1)])
    closed = set(np.argsort(gaps, kind="stable")[: len(spans) - limit].tolist())
    merged = [list(spans[0])]
    for i, span in enumerate(spans[1:]):
        if i in closed:
            merged[-1][1] = span[1]
        else:
            merged.append(list(span))
    return [tuple(span) for span in merged]


def _axis(time: np.ndarray | None, n_points: int) -> np.ndarray:
    """The x values: the file's time (numbers or datetimes; text read as datetimes) or point numbers."""
    if time is None:
        return np.arange(n_points)
    if time.dtype.kind in "iufM":
        return time
    return np.asarray(time, dtype="datetime64[ns]")


def _shade(ax: Axes, x: np.ndarray, spans: Sequence[tuple[int, int]], **style: object) -> None:
    """Each span drawn at least 1/300 of the axis wide, so that a five-point spike in 9,000
    points still shows."""
    least = max(1, len(x) // 300)
    for start, end in spans:
        pad = max(0, least - (end - start + 1)) // 2
        ax.axvspan(x[max(start - pad, 0)], x[min(end + 1 + pad, len(x) - 1)], lw=0, **style)


def series_scores(
    values: np.ndarray,
    channels: list[str],
    labels: np.ndarray,
    scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    title: str,
    time: np.ndarray | None = None,
    flagged: Mapping[str, list[Interval]] | None = None,
) -> Figure:
    """A row per channel (``values``: T x C), then a row per model's point score, all on one
    time axis: true anomalies shaded red on every row, each model's threshold dashed, its flagged
    intervals as a bar along the foot of its row."""
    shown = channels[:MAX_CHANNELS]
    if len(channels) > MAX_CHANNELS:
        title += f" (the first {MAX_CHANNELS} of {len(channels)} channels)"
    rows = len(shown) + len(scores)
    figure = Figure(figsize=(12, 0.9 + 1.25 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    x = _axis(time, len(labels))
    anomalies = _spans(intervals(labels))
    for ax, (index, name) in zip(axes, enumerate(shown), strict=False):
        ax.plot(x, values[:, index], lw=0.6, color="0.25")
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    for ax, (model, score) in zip(axes[len(shown) :], scores.items(), strict=True):
        colour = model_colour(model)
        ax.plot(x, score, lw=0.7, color=colour)
        if model in thresholds:
            ax.axhline(thresholds[model], color=colour, ls="--", lw=0.8)
        ax.set_ylabel(f"{model}\nscore", rotation=0, ha="right", va="center")
        if score.min() > 0 and score.max() / score.min() > 1e3:
            ax.set_yscale("log")
        _shade(ax, x, _spans((flagged or {}).get(model, [])), ymin=0, ymax=0.08, color=colour)
    for ax in axes:
        _shade(ax, x, anomalies, color=ANOMALY, alpha=0.45, zorder=0)
        ax.margins(x=0)
    axes[-1].set_xlabel("time" if time is not None else "time point")
    legend = [Patch(color=ANOMALY, alpha=0.45, label="true anomaly")]
    legend += [Patch(color=model_colour(model), label=f"{model}: flagged") for model in scores]
    figure.legend(
        handles=legend, loc="outside upper right", ncols=len(legend), fontsize="small", frameon=False
    )
    figure.suptitle(title, x=0.01, ha="left")
    return figure


def window_reconstructions(
    windows: np.ndarray,
    reconstructions: np.ndarray,
    is_anomaly: np.ndarray,
    channels: list[str],
    title: str,
    starts: np.ndarray | None = None,
) -> Figure:
    """A column per window (N x C x window, at most 8), a row per channel (at most 4): the window
    as a solid line, its reconstruction dashed."""
    windows, reconstructions = windows[:8], reconstructions[:8]
    n_channels = min(len(channels), 4)
    figure = Figure(figsize=(2.2 * len(windows), 0.8 + 1.3 * n_channels), layout="constrained")
    axes = figure.subplots(n_channels, len(windows), sharex=True, squeeze=False)
    for column, window in enumerate(windows):
        kind = "anomalous" if is_anomaly[column] else "normal"
        where = f" at {starts[column]}" if starts is not None else ""
        axes[0, column].set_title(
            f"{kind}{where}", fontsize="small", color="C3" if is_anomaly[column] else "0.2"
        )
        for row in range(n_channels):
            ax = axes[row, column]
            ax.plot(window[row], lw=0.9, color="0.2", label="window")
            ax.plot(reconstructions[column, row], lw=0.9, ls="--", color="C1", label="reconstruction")
            ax.tick_params(labelsize="x-small")
            if column == 0:
                ax.set_ylabel(channels[row], fontsize="small")
    handles, names = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside upper right", ncols=2, fontsize="small", frameon=False)
    figure.suptitle(title, x=0.01, ha="left")
    return figure
