"""What a run keeps of its evaluation, so that runs can later be drawn on shared axes (the
comparison) without reloading their models or their data.

Every train and baseline run logs its :class:`RunOutputs` as ``evaluation/test_outputs.npz``: the
test labels and anomaly scores, a fixed handful of test samples with their reconstructions, and for
2-D data the anomaly score over the plane. Runs of one comparison group share their data, so their
samples and labels are the same arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from autoencoders.anomaly.detector import AnomalyDetector, reconstructs
from autoencoders.data.splits import DataKind, Splits
from autoencoders.evaluation.metrics import Evaluation

OUTPUTS_PATH = "evaluation/test_outputs.npz"
GRID_SIZE = 200
Box = tuple[tuple[float, float], tuple[float, float]]


@dataclass
class RunOutputs:
    """Arrays only (numpy in, numpy out), so that the file holds no pickled objects."""

    kind: DataKind
    is_anomaly: np.ndarray  # per test sample
    scores: np.ndarray  # per test sample: the anomaly score the metrics rank by
    shown: np.ndarray  # indices of the test samples shown, normal ones first
    samples: np.ndarray  # those test samples
    reconstructions: np.ndarray | None = None  # and their reconstructions (None: a scorer, e.g. kNN)
    train: np.ndarray | None = None  # 2-D data: the training points, drawn over the error map
    grid_u: np.ndarray | None = None  # 2-D data with a box: the grid's coordinates ...
    grid_v: np.ndarray | None = None
    grid_scores: np.ndarray | None = None  # ... and the anomaly score at each grid point
    features: np.ndarray | None = None  # tables: the feature names (a string array)
    threshold: np.ndarray | None = None  # the detector's threshold, a 0-d array (None: logged before)
    # Series: is_anomaly and scores are per time point of the test part; the shown samples are windows.
    series_values: np.ndarray | None = None  # T x C, the test part's channels as the file has them
    series_channels: np.ndarray | None = None  # the channels' names (a string array)
    series_time: np.ndarray | None = None  # T time values (numbers, datetimes or text), if the file has them
    shown_starts: np.ndarray | None = None  # the first point of each shown window
    shown_is_anomaly: np.ndarray | None = None  # whether each shown window holds an anomalous point

    def __post_init__(self) -> None:
        self.kind = DataKind(self.kind)

    @property
    def has_grid(self) -> bool:
        return self.grid_scores is not None

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields that hold an array, for ``np.savez`` (the kind as a 0-d string array)."""
        found = {name: value for name, value in asdict(self).items() if value is not None}
        return {**found, "kind": np.asarray(self.kind.value)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RunOutputs:
        known = {field.name for field in fields(cls)}
        found = {name: value for name, value in arrays.items() if name in known}
        return cls(kind=DataKind(str(found.pop("kind"))), **found)


def score_grid(detector: AnomalyDetector, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's 200 x 200 grid over ``box`` and each grid point's anomaly score (the one the
    evaluation ranks by)."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    u, v = np.meshgrid(np.linspace(x_lo, x_hi, GRID_SIZE), np.linspace(y_lo, y_hi, GRID_SIZE))
    grid = np.column_stack([u.ravel(), v.ravel()]).astype(np.float32)
    return u, v, detector.decision_function(grid).reshape(u.shape)


def run_outputs(
    detector: AnomalyDetector,
    splits: Splits,
    evaluation: Evaluation,
    kind: DataKind,
    box: Box | None = None,
    features: list[str] | None = None,
) -> RunOutputs:
    """The outputs of one evaluated model: for images eight normal and eight anomalous test digits
    (sixteen normal where there are no anomalies), for points a hundred normal and fifty anomalous;
    for points in a box, a reconstructing detector's score over that plane."""
    if kind == DataKind.POINTS:
        shown = splits.showcase(100, 50)
    elif kind == DataKind.SERIES:
        shown = splits.showcase(4, 4)
    else:
        shown = splits.showcase(8 if splits.has_anomalies else 16, 8)
    outputs = RunOutputs(
        kind=kind,
        is_anomaly=splits.test_is_anomaly if splits.series is None else splits.series.test.labels,
        scores=evaluation.test_scores,
        shown=shown,
        samples=splits.test[shown],
        threshold=np.asarray(evaluation.threshold),
    )
    if evaluation.test_reconstructions is not None:
        outputs.reconstructions = evaluation.test_reconstructions[shown]
    if features:
        outputs.features = np.asarray(features)
    if splits.series is not None:
        test = splits.series.test
        outputs.series_values, outputs.series_channels = test.values, np.asarray(splits.series.channels)
        if test.time is not None:  # plain arrays only: a time zone's objects would need a pickle
            outputs.series_time = test.time if test.time.dtype.kind in "iufM" else test.time.astype(str)
        outputs.shown_starts, outputs.shown_is_anomaly = test.starts[shown], splits.test_is_anomaly[shown]
    if kind == DataKind.POINTS:
        outputs.train = splits.train
        if box is not None and reconstructs(detector):
            outputs.grid_u, outputs.grid_v, outputs.grid_scores = score_grid(detector, box)
    return outputs
