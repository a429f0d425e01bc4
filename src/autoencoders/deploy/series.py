"""A deployed series detector: consecutive points in, a score and a flag per point out.

The detector carries its window, stride, the channels' scaling and its threshold (the spec's
``preprocessing``); new points are scaled as the training part was, cut into the same windows,
scored per window and the scores brought back to the points as the evaluation does (each point:
the mean over the windows covering it), so that a file scores as the run's test part did.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autoencoders.anomaly.detector import AnomalyDetector, reconstructs
from autoencoders.data.encoding import TableEncoding
from autoencoders.data.windows import filled, window_starts, windows_of
from autoencoders.errors import InputError
from autoencoders.evaluation.points import PointScorer, channel_errors, covering_mean
from autoencoders.evaluation.series import intervals

#: Windows scored at once: bounds the memory a long file takes (windows overlap: C x window each).
WINDOWS_PER_CHUNK = 8192


class SeriesScoring:
    """What a series detector does to a frame of consecutive points, given its spec's preprocessing."""

    def __init__(self, preprocessing: dict[str, Any], detector: AnomalyDetector, threshold: float) -> None:
        windowing = ("window", "stride", "missing", "time", "point_score")
        self.encoding = TableEncoding.from_json(
            {key: value for key, value in preprocessing.items() if key not in windowing}
        )
        self.window, self.stride = int(preprocessing["window"]), int(preprocessing["stride"])
        self.missing = preprocessing["missing"]
        self.time: str | None = preprocessing.get("time")  # the training file's time column, if any
        self.detector = detector
        self.threshold = threshold
        self.scorer = PointScorer(**preprocessing["point_score"])

    def checked(self, frame: pd.DataFrame, row_word: str) -> pd.DataFrame:
        """Channels as numbers, gaps filled by the run's rule, at least one window of points."""
        if len(frame) < self.window:
            raise InputError(
                f"input has {len(frame)} points; the detector's windows take {self.window} consecutive points"
            )
        numbers = self.encoding.conform(frame, row_word)
        return filled(numbers, self.missing, "input", row_word)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per point: ``score``, ``is_anomaly`` and, for a reconstructing detector, ``error_<channel>``
        (the channel's squared error there, over the covering windows): which channel is off."""
        values = self.encoding.transform(frame)
        starts = window_starts(len(values), self.window, self.stride)
        given, errors = [], []
        for first in range(0, len(starts), WINDOWS_PER_CHUNK):
            chunk = windows_of(values, starts[first : first + WINDOWS_PER_CHUNK], self.window)
            reconstruction = None
            if reconstructs(self.detector):
                reconstruction = self.detector.decode(self.detector.encode(chunk))
                errors.append(channel_errors(self.detector, chunk, reconstruction))
            given.append(self.scorer.window_values(self.detector, chunk, reconstruction))
        scores = self.scorer.to_points(np.concatenate(given), starts, self.window, len(values))
        out = {"score": scores, "is_anomaly": scores > self.threshold}
        if errors:
            per_window = np.concatenate(errors)
            for index, name in enumerate(self.encoding.inputs):
                out[f"error_{name}"] = covering_mean(per_window[:, index, :], starts, len(values))
        return pd.DataFrame(out, index=frame.index)


def flagged_intervals(scored: pd.DataFrame, time: pd.Series | None = None) -> pd.DataFrame:
    """The flagged points of a scored series as intervals: start, end (the time column's values
    where given, else the rows' positions), points, peak score and where it lies."""
    found = intervals(scored["is_anomaly"].to_numpy(), scored["score"].to_numpy())
    at = (lambda i: time.iloc[i]) if time is not None else (lambda i: i)
    return pd.DataFrame(
        {
            "start": [at(item.start) for item in found],
            "end": [at(item.end) for item in found],
            "points": [item.end - item.start + 1 for item in found],
            "peak_score": [item.peak for item in found],
            "peak_at": [at(item.peak_at) for item in found],
        }
    )
