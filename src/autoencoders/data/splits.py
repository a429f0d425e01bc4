"""What a dataset provides, without the machinery that loads it: the kind of its samples and its
splits as arrays. Kept apart from the datamodules (Lightning) so that a deployed detector, the
evaluation and the figures load without Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class DataKind(str, Enum):
    """What a dataset's samples are: how they are drawn, shown and named as input columns."""

    POINTS = "points"  # 2-D vectors, plotted as scatter; input columns x0, x1
    IMAGES = "images"  # C x H x W, plotted as grids; input columns p0 .. pN
    TABLE = "table"  # rows of named features; input columns the table's own
    SERIES = "series"  # windows (channels x points) of one series; input columns its channels

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SeriesPart:
    """One time-ordered part of a series (validation or test): its points and the windows over them."""

    values: np.ndarray  # T x C, the channels as the file has them (unscaled), for the figures
    labels: np.ndarray  # T, True on an anomalous point
    starts: np.ndarray  # the first point of each window, in time order
    windows: np.ndarray  # every window over the part, N x C x window, scaled as the model takes them
    time: np.ndarray | None = None  # T time values (the file's time column), None: point numbers


@dataclass(frozen=True)
class SeriesLayout:
    """Where a series' windows lie in time, so that window scores become scores per time point."""

    window: int
    stride: int
    channels: list[str]
    val: SeriesPart
    test: SeriesPart


@dataclass(frozen=True)
class Splits:
    """The arrays one dataset provides, float32 in the model's input shape."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_is_anomaly: np.ndarray
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    #: Held-out anomalies for model selection (``val/auroc``), kept apart from the test set.
    val_anomalies: np.ndarray | None = None
    #: Where each test sample came from in the user's data (a table's row numbers), if known.
    test_ids: np.ndarray | None = None
    #: Images with defect masks: per test image, N x H x W bool, True on a defect (normal: none).
    test_masks: np.ndarray | None = None
    #: ``anomaly.trim``: every training sample, the trimmed ones too (``train`` holds the kept ones):
    #: the contamination threshold is their quantile, so that the kept share is not flagged again.
    untrimmed_train: np.ndarray | None = None
    #: Series: the time points of validation and test and their windows (``test`` holds the test
    #: part's windows; ``test_is_anomaly`` says which of them hold an anomalous point).
    series: SeriesLayout | None = None

    @property
    def threshold_train(self) -> np.ndarray:
        """The training samples a contamination threshold is the quantile of."""
        return self.train if self.untrimmed_train is None else self.untrimmed_train

    @property
    def has_anomalies(self) -> bool:
        """Whether the test set can measure detection: it holds normal and anomalous samples."""
        return bool(self.test_is_anomaly.any() and not self.test_is_anomaly.all())

    def showcase(self, n_normal: int, n_anomalous: int) -> np.ndarray:
        """Indices of a fixed handful of test samples to show, normal ones first, each kind evenly
        spread over the test set (so every class of a class-sorted test set shows)."""
        picked = []
        for mask, n in ((~self.test_is_anomaly, n_normal), (self.test_is_anomaly, n_anomalous)):
            indices = np.flatnonzero(mask)
            picked.append(indices[np.linspace(0, len(indices) - 1, min(n, len(indices))).astype(int)])
        return np.concatenate(picked)
