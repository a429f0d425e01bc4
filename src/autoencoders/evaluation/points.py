"""A series' score per time point, from a detector of windows (``anomaly.point_score``).

- ``error``: the point's own reconstruction error, each channel's squared error at that point
  averaged over the windows that cover it and divided by that channel's mean error on the training
  windows (so that a noisy channel does not rule), summed over the channels, then a moving average
  over an eighth of the window (Orion smooths its errors too: one noisy point flags no interval).
  Where in the window the error lies is kept: a five-point spike scores on its points, not on every
  point of the windows that hold it. For detectors that reconstruct (autoencoders, PCA).
- ``window``: the mean of the scores of the windows that cover the point: any detector (kNN,
  IsolationForest), whatever its window score (RaPP, a code distance).
- ``auto``: ``error`` where the detector reconstructs, else ``window``.

Measured (docs/results/series.md): the dense autoencoder's VUS-PR on the synthetic machine 0.966 with
``error``, 0.850 with ``window``; on KDD-TSAD #135 0.272 and 0.759. The fitted weights travel in the
deployed detector's JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from autoencoders.anomaly.detector import AnomalyDetector, reconstructs
from autoencoders.evaluation.series import point_scores

POINT_SCORES = ("auto", "error", "window")


def covering_mean(values: np.ndarray, starts: np.ndarray, n_points: int) -> np.ndarray:
    """Per window and offset (N x window) values brought to the points: each point's mean over
    the windows that cover it."""
    index = (starts[:, None] + np.arange(values.shape[1])[None, :]).ravel()
    total = np.bincount(index, weights=values.ravel(), minlength=n_points)
    return total / np.maximum(np.bincount(index, minlength=n_points), 1)


@dataclass
class PointScorer:
    """How window scores or errors become point scores; ``weights``: per channel, the inverse of
    its mean squared error on the training windows (``error`` only)."""

    rule: str
    weights: list[float] = field(default_factory=list)
    smooth: int = 1  # error: the points a moving average of the point errors spans

    @classmethod
    def fit(cls, rule: str, detector: AnomalyDetector, train_windows: np.ndarray) -> PointScorer:
        """``rule`` (``anomaly.point_score``) resolved for ``detector``, its weights fitted on the
        training windows (N x C x window)."""
        if rule == "auto":
            rule = "error" if reconstructs(detector) else "window"
        if rule == "error" and not reconstructs(detector):
            from autoencoders.errors import ConfigError

            raise ConfigError(
                f"anomaly.point_score=error needs a detector that reconstructs; {detector.label} does not: "
                "use auto or window"
            )
        if rule == "window":
            return cls(rule)
        errors = channel_errors(detector, train_windows)
        weights = 1.0 / np.maximum(errors.mean(axis=(0, 2)), 1e-12)
        return cls(rule, weights.tolist(), max(1, train_windows.shape[-1] // 8))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def score(
        self,
        detector: AnomalyDetector,
        windows: np.ndarray,
        starts: np.ndarray,
        n_points: int,
        reconstructions: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each of ``n_points`` points' score from the windows over them (starting at ``starts``)."""
        values = self.window_values(detector, windows, reconstructions)
        return self.to_points(values, starts, windows.shape[-1], n_points)

    def window_values(
        self, detector: AnomalyDetector, windows: np.ndarray, reconstructions: np.ndarray | None = None
    ) -> np.ndarray:
        """What each window gives its points: its score (N), or its weighted error per offset
        (N x window). Computed window by window, so a long series can be scored in chunks."""
        if self.rule == "window":
            if reconstructions is not None:
                return detector.decision_function(windows, reconstructions)
            return detector.decision_function(windows)
        errors = channel_errors(detector, windows, reconstructions)
        return np.einsum("ncw,c->nw", errors, np.asarray(self.weights))

    def to_points(self, values: np.ndarray, starts: np.ndarray, window: int, n_points: int) -> np.ndarray:
        """:meth:`window_values` of every window brought to the points."""
        if values.ndim == 1:
            return point_scores(values, starts, window, n_points)
        points = covering_mean(values, starts, n_points)
        return (
            np.convolve(points, np.ones(self.smooth) / self.smooth, mode="same")
            if self.smooth > 1
            else points
        )


def channel_errors(
    detector: AnomalyDetector, windows: np.ndarray, reconstructions: np.ndarray | None = None
) -> np.ndarray:
    """N x C x window squared reconstruction errors, float64."""
    if reconstructions is None:
        reconstructions = detector.decode(detector.encode(windows))
    return (np.asarray(windows, np.float64) - np.asarray(reconstructions, np.float64)) ** 2
