"""One evaluation for every detector: its metrics, and what it says when it cannot measure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoencoders.anomaly import detector as detector_module
from autoencoders.anomaly.detector import AnomalyDetector, reconstructs, squared_errors
from autoencoders.anomaly.rapp import rapp_scores
from autoencoders.evaluation.metrics import evaluate, notebook_rmse
from helpers.built import dense_net, spiral_data


class Shrink(AnomalyDetector):
    """Reconstructs every sample at ``factor`` times its size: the error grows with the distance
    from 0. Its score is the distance to the reconstruction; it notes the reconstructions given."""

    name = "shrink"

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.given: list[np.ndarray | None] = []

    def fit(self, x: np.ndarray) -> Shrink:
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return x

    def decode(self, code: np.ndarray) -> np.ndarray:
        return code * self.factor

    def decision_function(self, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray:
        self.given.append(reconstruction)
        rebuilt = self.decode(self.encode(x)) if reconstruction is None else reconstruction
        return np.linalg.norm(x - rebuilt, axis=1)


class Norm(AnomalyDetector):
    """Scores by the distance from 0 and reconstructs nothing (as kNN)."""

    name = "norm"

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x, axis=1)


def test_squared_errors_taken_in_blocks_are_each_rows_sum_over_the_whole(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    x, x_hat = rng.random((1001, 3, 5), dtype=np.float32), rng.random((1001, 3, 5), dtype=np.float32)
    whole = ((x - x_hat).reshape(1001, -1).astype(np.float64) ** 2).sum(axis=1)
    monkeypatch.setattr(detector_module, "ERROR_BLOCK_VALUES", 150)  # blocks of 10 rows, the last of 1
    np.testing.assert_array_equal(squared_errors(x, x_hat), whole)
    assert squared_errors(x[:0], x_hat[:0]).shape == (0,)


def test_the_same_evaluation_scores_any_reconstructing_detector() -> None:
    metrics = evaluate(Shrink(1.0), spiral_data().splits, 0.99, 0.0).metrics
    assert metrics["train/rmse"] == 0 and metrics["test/mse"] == 0
    assert metrics["test/auroc"] == pytest.approx(0.5)  # every score ties


def test_metrics_match_their_definitions_and_the_threshold_is_the_detectors() -> None:
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    detector = Shrink(0.5)
    evaluation = evaluate(detector, splits, 0.9, 0.0, "quantile")
    normal = splits.test[~splits.test_is_anomaly]
    assert evaluation.metrics["train/rmse"] == pytest.approx(notebook_rmse(splits.train, splits.train / 2))
    assert evaluation.metrics["test/mse"] == pytest.approx(float(((normal / 2) ** 2).mean()))
    np.testing.assert_allclose(evaluation.test_scores, np.linalg.norm(splits.test / 2, axis=1))
    assert 0.5 < evaluation.metrics["test/auroc"] < 1  # far-out anomalies score higher
    threshold = np.quantile(np.linalg.norm(splits.val / 2, axis=1), 0.9)
    assert detector.threshold_ == evaluation.threshold == evaluation.metrics["threshold"]
    assert evaluation.threshold == pytest.approx(threshold)
    flagged = detector.predict(splits.test)
    assert (
        flagged.sum()
        == evaluation.metrics["test/true_positives"] + evaluation.metrics["test/false_positives"]
    )


def test_a_detector_gets_the_test_reconstructions_the_evaluation_made() -> None:
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    detector = Shrink(0.5)
    evaluate(detector, splits, 0.99, 0.0)
    np.testing.assert_array_equal(detector.given[0], splits.test / 2)  # the test set: not rebuilt
    assert all(given is None for given in detector.given[1:])  # validation samples: the detector's own


def test_a_detector_that_does_not_reconstruct_gets_anomaly_metrics_only() -> None:
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    assert not reconstructs(Norm()) and reconstructs(Shrink(1.0))
    evaluation = evaluate(Norm(), splits, 0.99, 0.0)
    assert "train/rmse" not in evaluation.metrics and "test/auroc" in evaluation.metrics
    assert evaluation.test_reconstructions is None
    np.testing.assert_allclose(evaluation.test_scores, np.linalg.norm(splits.test, axis=1))


def test_no_anomalies_means_no_detection_metrics_and_a_note() -> None:
    evaluation = evaluate(Shrink(0.5), spiral_data(n_anomalies=0, n_test=50).splits, 0.99, 0.0)
    assert "test/auroc" not in evaluation.metrics and "test/mse" in evaluation.metrics
    assert evaluation.notes["anomaly_detection"].startswith("skipped: the test set has no anomalies")


def test_rapp_adds_the_encoders_disagreement_to_the_reconstruction_error() -> None:
    """A one-layer encoder: RaPP is the squared error plus the squared distance of the two codes."""
    torch.manual_seed(0)
    net = dense_net((2,), code_dim=1, hidden_dims=[])
    x = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    with torch.no_grad():
        x_hat = net(torch.as_tensor(x))
        codes = net.encode(torch.as_tensor(x)) - net.encode(x_hat)
    expected = squared_errors(x, x_hat.numpy()) + (codes.numpy() ** 2).sum(1)
    np.testing.assert_allclose(rapp_scores(net, x), expected, rtol=1e-5)


def test_with_contamination_the_threshold_is_the_training_scores_quantile() -> None:
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    detector = Shrink(0.5)
    evaluation = evaluate(detector, splits, 0.99, 0.1)
    train_scores = detector.decision_function(splits.train)
    assert evaluation.threshold == pytest.approx(np.quantile(train_scores, 0.9))
    assert detector.threshold_ == evaluation.threshold


def test_the_f1_threshold_flags_exactly_the_best_cut_of_the_validation_scores() -> None:
    from autoencoders.evaluation.thresholds import f1_threshold

    normal, anomalous = np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.5, 4.0, 5.0])
    # cuts: >= 4: F1 0.8; >= 2.5: precision 3/4, recall 1, F1 0.857 (the best); >= 2: F1 0.75
    assert f1_threshold(normal, anomalous) == 2.25


def test_auto_takes_the_f1_threshold_on_validation_anomalies_else_a_quantile_and_says_so() -> None:
    from dataclasses import replace

    from autoencoders.errors import ConfigError
    from autoencoders.evaluation.thresholds import choose_threshold, f1_threshold

    spiral = spiral_data(n_test=50, n_anomalies=50).splits
    splits = replace(spiral, val_anomalies=spiral.test[spiral.test_is_anomaly][:20])
    detector = Shrink(0.5)
    evaluation = evaluate(detector, splits, 0.99, 0.0)
    val, val_anomalies = (np.linalg.norm(x / 2, axis=1) for x in (splits.val, splits.val_anomalies))
    assert evaluation.threshold == f1_threshold(val, val_anomalies) == detector.threshold_
    said = f"F1-optimal on validation ({len(val)} normal, {len(val_anomalies)} anomalous scores)"
    assert evaluation.threshold_rule == said
    few = choose_threshold("auto", val[:40], None, 0.99)
    assert few.value == pytest.approx(np.quantile(val[:40], 0.99))
    assert (
        few.rule
        == "0.99 quantile of 40 normal validation scores (few for this quantile: about their largest)"
    )
    with pytest.raises(ConfigError, match="anomaly.threshold=f1 needs anomalies in the validation split"):
        choose_threshold("f1", val, None, 0.99)
