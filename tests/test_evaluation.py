"""One evaluation for any encode/decode model: its metrics, and what it says when it cannot measure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoencoders.evaluation.metrics import evaluate, notebook_rmse, rapp_scores, squared_errors
from helpers.built import dense_net, spiral_data


class Identity:
    def encode(self, x: np.ndarray) -> np.ndarray:
        return x

    def decode(self, code: np.ndarray) -> np.ndarray:
        return code


class Shrink:
    """Reconstructs every sample at half its size: the error grows with the distance from 0."""

    def encode(self, x: np.ndarray) -> np.ndarray:
        return x

    def decode(self, code: np.ndarray) -> np.ndarray:
        return code / 2


def test_the_same_evaluation_scores_any_encode_decode_model() -> None:
    metrics = evaluate(Identity(), spiral_data().splits).metrics
    assert metrics["train/rmse"] == 0 and metrics["test/mse"] == 0
    assert metrics["test/auroc"] == pytest.approx(0.5)  # every score ties


def test_metrics_match_their_definitions() -> None:
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    evaluation = evaluate(Shrink(), splits)
    normal = splits.test[~splits.test_is_anomaly]
    assert evaluation.metrics["train/rmse"] == pytest.approx(notebook_rmse(splits.train, splits.train / 2))
    assert evaluation.metrics["test/mse"] == pytest.approx(float(((normal / 2) ** 2).mean()))
    np.testing.assert_allclose(evaluation.test_scores, squared_errors(splits.test, splits.test / 2))
    assert 0.5 < evaluation.metrics["test/auroc"] < 1  # far-out anomalies score higher


class DistanceScorer:
    """Scores by the distance between a sample and its reconstruction, noting what it was given."""

    def __init__(self, codec: Shrink) -> None:
        self.codec = codec
        self.given: list[np.ndarray | None] = []

    def score(self, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray:
        self.given.append(reconstruction)
        rebuilt = self.codec.decode(self.codec.encode(x)) if reconstruction is None else reconstruction
        return np.linalg.norm(x - rebuilt, axis=1)


def test_a_scorer_gets_the_test_reconstructions_the_evaluation_made() -> None:
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    scorer = DistanceScorer(Shrink())
    evaluation = evaluate(Shrink(), splits, scorer=scorer)
    np.testing.assert_allclose(evaluation.test_scores, np.linalg.norm(splits.test / 2, axis=1))
    np.testing.assert_array_equal(scorer.given[0], splits.test / 2)  # the test set: not rebuilt
    assert all(given is None for given in scorer.given[1:])  # validation samples: the scorer's own


def test_no_anomalies_means_no_detection_metrics_and_a_note() -> None:
    evaluation = evaluate(Shrink(), spiral_data(n_anomalies=0, n_test=50).splits)
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
    expected = ((x - x_hat.numpy()) ** 2).sum(1) + (codes.numpy() ** 2).sum(1)
    np.testing.assert_allclose(rapp_scores(net, x), expected, rtol=1e-5)
