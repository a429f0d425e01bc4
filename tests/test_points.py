"""A series' score per time point (anomaly.point_score): from its windows' scores, or from where
in the windows the reconstruction error lies; and the evaluation on points."""

from __future__ import annotations

import numpy as np
import pytest

from autoencoders.anomaly.detector import AnomalyDetector
from autoencoders.errors import ConfigError
from autoencoders.evaluation.metrics import evaluate
from autoencoders.evaluation.points import PointScorer, covering_mean
from helpers.built import series_data
from helpers.series import FAULTS, sensor_log


class Halve(AnomalyDetector):
    """Reconstructs a window at half its size; scores a window by its largest value."""

    name = "halve"

    def fit(self, x: np.ndarray) -> Halve:
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return x

    def decode(self, code: np.ndarray) -> np.ndarray:
        return code / 2

    def decision_function(self, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray:
        return x.reshape(len(x), -1).max(axis=1)


class Peak(Halve):
    """The same window score, reconstructing nothing (as kNN)."""

    encode = decode = None  # type: ignore[assignment]


def test_covering_mean_averages_each_points_windows() -> None:
    values = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])  # windows of 3 at 0 and 2, over 5 points
    assert covering_mean(values, np.array([0, 2]), 5).tolist() == [1, 2, 6.5, 20, 30]


def test_error_locates_the_error_and_weighs_each_channel_by_its_training_error() -> None:
    train = np.ones((4, 2, 3))  # channel 1 errs 4 times as much as channel 0 on training windows
    train[:, 1] = 2.0
    scorer = PointScorer.fit("auto", Halve(), train)
    assert scorer.rule == "error" and scorer.weights == pytest.approx([4.0, 1.0])  # 1 / 0.25, 1 / 1
    windows = np.zeros((3, 2, 3))
    windows[1, 0, 2] = 2.0  # one value off, in the window starting at point 1: point 3
    points = scorer.score(Halve(), windows, np.array([0, 1, 2]), 5)
    assert points.tolist() == pytest.approx([0, 0, 0, 4 * 1.0 / 2, 0])  # error 1, weight 4, 2 windows
    window = PointScorer.fit("window", Halve(), train).score(Halve(), windows, np.array([0, 1, 2]), 5)
    assert window.tolist() == pytest.approx([0, 1, 2 / 3, 1, 0])  # the windows' max, averaged


def test_a_detector_that_does_not_reconstruct_scores_points_by_its_windows() -> None:
    assert PointScorer.fit("auto", Peak(), np.ones((2, 1, 3))).rule == "window"
    with pytest.raises(ConfigError, match=r"^anomaly.point_score=error needs a detector that reconstructs"):
        PointScorer.fit("error", Peak(), np.ones((2, 1, 3)))


def test_a_series_is_evaluated_per_point_with_its_threshold_chosen_on_validation_points(tmp_path) -> None:
    path = tmp_path / "machine.csv"
    sensor_log().to_csv(path, index=False)
    splits = series_data(path=str(path), label="is_anomaly", window=20).splits
    evaluation = evaluate(Halve(), splits, 0.99, 0.0, "auto", "window")
    layout = splits.series
    assert len(evaluation.test_scores) == len(layout.test.labels) == 630
    assert len(evaluation.test_window_scores) == len(splits.test)
    metrics = evaluation.metrics
    added = {"test/vus_pr", "test/range_f1", "test/interval_recall", "test/flagged_intervals"}
    assert added <= metrics.keys()
    flagged = evaluation.test_scores > evaluation.threshold
    assert metrics["test/true_positives"] == (flagged & layout.test.labels).sum()  # counted on points
    assert metrics["test/false_negatives"] == (~flagged & layout.test.labels).sum()
    assert evaluation.threshold_rule.startswith("F1-optimal on validation (")  # the spike's points
    normal_points = (~layout.val.labels).sum()
    assert f"({normal_points} normal, {FAULTS['spike'][1]} anomalous scores)" in evaluation.threshold_rule
