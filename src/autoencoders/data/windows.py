"""Windows over a series, kept apart from the datamodules (Lightning) so that a deployed series
detector cuts new points into windows with the same code, without loading Lightning."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from autoencoders.errors import InputError

log = logging.getLogger(__name__)


def window_starts(n_points: int, window: int, stride: int) -> np.ndarray:
    """The first point of each window, every ``stride`` points, and a last window ending on the
    last point, so that every point is covered."""
    starts = np.arange(0, n_points - window + 1, stride)
    if starts[-1] != n_points - window:
        starts = np.append(starts, n_points - window)
    return starts


def windows_of(values: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """T x C values as N x C x window windows (channels first, as a 1-D convolution takes them)."""
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)
    return np.ascontiguousarray(view[starts], dtype=np.float32)


def anomalous_windows(labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Per window, whether it holds an anomalous point."""
    counts = np.concatenate([[0], np.cumsum(labels)])
    return counts[starts + window] - counts[starts] > 0


def filled(values: pd.DataFrame, policy: str, where: str, row_word: str = "line") -> pd.DataFrame:
    """Channels with their gaps filled along time (``interpolate``: linear between the neighbours,
    the nearest value at either end), or a one-line error naming the first gap (``error``)."""
    gaps = values.isna()
    if not gaps.to_numpy().any():
        return values
    if policy == "error":
        row = int(np.flatnonzero(gaps.any(axis=1).to_numpy())[0])
        column = values.columns[gaps.iloc[row].to_numpy().argmax()]
        shown = row + 2 if row_word == "line" else row
        raise InputError(
            f"{where}: {row_word} {shown} has no value in channel {column!r}; fill it, or set "
            "dataset.missing=interpolate"
        )
    if gaps.all().any():
        raise InputError(f"{where}: channel {gaps.columns[gaps.all().argmax()]!r} has no value at all")
    log.info("%s: %d gaps filled by interpolation", where, int(gaps.to_numpy().sum()))
    return values.interpolate(limit_direction="both")
