"""A series' scores per time point, its intervals, and the metrics that do not flatter.

Point-adjusted F1 (a whole true interval counts as found when any one of its points is flagged),
common in papers, makes a random scorer look good; published evaluations (TSB-AD, NeurIPS 2024)
rank by VUS-PR, the volume under the precision-recall surface over buffers around each anomaly,
and by range-based F1 (Tatbul et al., NeurIPS 2018). Both come from aeon, a maintained library
(imported when measured: a deployed detector does not pay for it). The interval counts say what a
user reads in the intervals file: of the flagged intervals, how many lie on an anomaly; of the
anomalies, how many a flagged interval overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """Consecutive flagged (or anomalous) points: first and last index, the peak score and where."""

    start: int
    end: int
    peak: float = float("nan")
    peak_at: int = -1

    def overlaps(self, other: Interval) -> bool:
        return self.start <= other.end and other.start <= self.end


def point_scores(window_scores: np.ndarray, starts: np.ndarray, window: int, n_points: int) -> np.ndarray:
    """Each point's score: the mean of the scores of the windows covering it (window ``i`` covers
    ``starts[i] .. starts[i] + window - 1``). A difference array, so O(windows + points)."""
    total, count = np.zeros(n_points + 1), np.zeros(n_points + 1)
    np.add.at(total, starts, window_scores)
    np.add.at(total, starts + window, -np.asarray(window_scores, np.float64))
    np.add.at(count, starts, 1)
    np.add.at(count, starts + window, -1)
    total, count = np.cumsum(total)[:n_points], np.cumsum(count)[:n_points]
    return total / np.maximum(count, 1)


def intervals(flags: np.ndarray, scores: np.ndarray | None = None) -> list[Interval]:
    """The runs of consecutive True points of ``flags``, each with its peak score where given."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, np.int8), [0]]))
    found = []
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if scores is None:
            found.append(Interval(int(start), int(stop - 1)))
            continue
        at = int(start + np.argmax(scores[start:stop]))
        found.append(Interval(int(start), int(stop - 1), float(scores[at]), at))
    return found


def interval_detection(labels: np.ndarray, flags: np.ndarray) -> dict[str, float]:
    """At the threshold: the share of flagged intervals that overlap a true anomaly, the share of
    true anomalies a flagged interval overlaps, and how many intervals were flagged."""
    true, flagged = intervals(labels), intervals(flags)
    on_anomaly = sum(any(one.overlaps(other) for other in true) for one in flagged)
    found = sum(any(one.overlaps(other) for other in flagged) for one in true)
    return {
        "test/interval_precision": on_anomaly / len(flagged) if flagged else 0.0,
        "test/interval_recall": found / len(true) if true else 0.0,
        "test/flagged_intervals": float(len(flagged)),
    }


def series_metrics(
    labels: np.ndarray, scores: np.ndarray, flags: np.ndarray, vus_buffer: int
) -> dict[str, float]:
    """``test/vus_pr`` (buffers of up to ``vus_buffer`` points: the window; its cost grows with
    points x buffer, ~0.5 s for 5,000 points and 100), ``test/range_f1`` at the threshold's flags,
    and :func:`interval_detection`. ``labels`` must hold anomalies."""
    from aeon.benchmarking.metrics.anomaly_detection import range_f_score, range_pr_vus_score

    truth = np.asarray(labels, bool)
    return {
        "test/vus_pr": float(
            range_pr_vus_score(truth, np.asarray(scores, np.float64), max_buffer_size=vus_buffer)
        ),
        "test/range_f1": float(range_f_score(truth, np.asarray(flags, bool))),
        **interval_detection(truth, flags),
    }
