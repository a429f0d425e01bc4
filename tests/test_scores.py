"""The autoencoders' anomaly scores on data where the answer is known, and the detector that keeps them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from autoencoders.anomaly import scores
from autoencoders.anomaly.autoencoder import AutoencoderDetector
from autoencoders.anomaly.detector import squared_errors
from autoencoders.anomaly.rapp import rapp_layer_terms, rapp_passes, rapp_scores
from autoencoders.anomaly.scores import (
    ScoreSpec,
    anomaly_scores,
    fit_score,
    knn_reference,
    score_part,
    separation_auroc,
    separation_margin,
)
from autoencoders.baselines.ecod import ECODDetector
from autoencoders.data.base import DataKind, Splits
from autoencoders.deploy.detector import DeployedDetector, DetectorSpec, load_detector, save_detector
from autoencoders.evaluation.metrics import evaluate
from autoencoders.models.codec import TorchCodec
from helpers.built import conv_net, dense_net, spiral_data


class IdentityNet(torch.nn.Module):
    """Codes are the samples themselves, reconstructions perfect: only the code density tells."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Identity()
        self.scale = torch.nn.Parameter(torch.ones(()))  # a parameter, so that TorchCodec finds a device

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return code


def stretched_splits(anomalies: np.ndarray | None = None) -> Splits:
    """2-D normal samples with standard deviations 1 and 3; ``anomalies`` for validation and test."""
    rng = np.random.default_rng(0)
    normal = (rng.normal(size=(600, 2)) * [1.0, 3.0]).astype(np.float32)
    test_anomalies = anomalies if anomalies is not None else np.zeros((0, 2), np.float32)
    return Splits(
        train=normal[:400],
        val=normal[400:500],
        test=np.concatenate([normal[500:], test_anomalies]),
        test_is_anomaly=np.r_[np.zeros(100, bool), np.ones(len(test_anomalies), bool)],
        val_anomalies=anomalies,
    )


def test_code_score_is_the_mahalanobis_distance_to_the_training_codes() -> None:
    splits = stretched_splits()
    codec = TorchCodec(IdentityNet())
    fitted = fit_score("code", codec, splits)
    across, along = anomaly_scores(fitted, codec, np.array([[3.0, 0.0], [0.0, 3.0]], np.float32))
    assert across == pytest.approx(9.0, rel=0.15)  # three standard deviations of the narrow axis
    assert along == pytest.approx(1.0, rel=0.15)  # one of the wide axis: the same distance from 0
    np.testing.assert_allclose(fitted.code_mean, splits.train.mean(0), atol=1e-6)


def test_reconstruction_score_is_the_squared_error() -> None:
    torch.manual_seed(0)
    net = dense_net((2,), code_dim=1, hidden_dims=[4])
    codec = TorchCodec(net)
    x = stretched_splits().test
    scores = anomaly_scores(ScoreSpec("reconstruction"), codec, x)
    np.testing.assert_allclose(scores, squared_errors(x, codec.decode(codec.encode(x))), rtol=1e-6)


def test_rapp_hidden_weighs_each_hidden_term_by_its_mean_on_the_training_samples() -> None:
    torch.manual_seed(0)
    splits = stretched_splits()
    net = dense_net((2,), code_dim=1, hidden_dims=[4])
    codec = TorchCodec(net)
    fitted = fit_score("rapp_hidden", codec, splits)
    terms = rapp_layer_terms(net, splits.train)
    assert terms.shape == (400, 3)  # the input, the hidden activation, the code
    np.testing.assert_allclose(terms.sum(1), rapp_scores(net, splits.train), rtol=1e-6)
    np.testing.assert_allclose(
        terms[:, 0], squared_errors(splits.train, codec.decode(codec.encode(splits.train))), rtol=1e-5
    )
    np.testing.assert_allclose(fitted.layer_means, terms[:, 1:].mean(0), rtol=1e-6)
    scores = anomaly_scores(fitted, codec, splits.train)
    assert scores.mean() == pytest.approx(2.0)  # each term averages 1 on the samples it was fitted on
    np.testing.assert_allclose(scores, (terms[:, 1:] / terms[:, 1:].mean(0)).sum(1), rtol=1e-6)


def test_peak_is_the_largest_squared_error_of_one_value() -> None:
    torch.manual_seed(0)
    codec = TorchCodec(dense_net((2,), code_dim=1, hidden_dims=[4]))
    x = stretched_splits().test
    errors = (x - codec.decode(codec.encode(x))).astype(np.float64) ** 2
    np.testing.assert_allclose(anomaly_scores(ScoreSpec("peak"), codec, x), errors.max(axis=1), rtol=1e-9)


def test_scaled_weighs_each_input_column_by_its_mean_error_on_the_training_samples() -> None:
    """Three features, the last two one table column (a category's one-hot pair): each column's
    squared error divided by its training mean, so each column averages 1 on the training samples."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(size=(300, 1)) * 5, rng.integers(0, 2, (300, 1)) * [1, -1] + [0, 1]]
    splits = Splits(x[:200].astype(np.float32), x[200:].astype(np.float32), x[:0], np.zeros(0, bool))
    codec = TorchCodec(dense_net((3,), code_dim=1, hidden_dims=[4]))
    fitted = fit_score("scaled", codec, splits, ["amount", "shop", "shop"])
    errors = (splits.train - codec.decode(codec.encode(splits.train))).astype(np.float64) ** 2
    amount, shop = errors[:, 0].mean(), errors[:, 1:].sum(1).mean()
    floor = 1e-3 * (amount + shop) / 2  # a column reconstructed exactly still counts
    assert fitted.feature_weights == pytest.approx(
        [1 / (amount + floor), 1 / (shop + floor), 1 / (shop + floor)]
    )
    scores = anomaly_scores(fitted, codec, splits.train)
    assert scores.mean() == pytest.approx(2.0, rel=1e-2)  # two columns, each averaging about 1
    own = fit_score("scaled", codec, splits)  # without columns, every feature its own
    assert anomaly_scores(own, codec, splits.train).mean() == pytest.approx(3.0, rel=1e-2)


def test_a_sum_of_scores_weighs_each_by_its_spread_on_the_normal_validation_samples() -> None:
    torch.manual_seed(0)
    splits = stretched_splits()
    codec = TorchCodec(dense_net((2,), code_dim=1, hidden_dims=[4]))
    fitted = fit_score("rapp+code", codec, splits)
    rapp, code = (score_part(fitted, part, codec, splits.val) for part in ("rapp", "code"))
    assert fitted.scales == pytest.approx({"rapp": rapp.std(), "code": code.std()})
    assert (rapp / fitted.scales["rapp"]).std() == pytest.approx(1)
    np.testing.assert_allclose(
        anomaly_scores(fitted, codec, splits.val), rapp / rapp.std() + code / code.std(), rtol=1e-9
    )
    assert (anomaly_scores(fitted, codec, splits.test) > 0).all()  # positive, as log-scaled figures need


def test_knn_is_the_distance_to_the_fifth_nearest_training_sample() -> None:
    """On a line of training points 0, 1, .., 9, the fifth nearest to 20.5 is 5, and to 4.2 it is 2
    (or 6: both 2.2 away); perfect reconstructions leave the ensemble the distance alone."""
    train = np.c_[np.arange(10.0), np.zeros(10)].astype(np.float32)
    splits = Splits(train, train[::3], train[:0], np.zeros(0, bool))
    codec = TorchCodec(IdentityNet())
    fitted = fit_score("knn", codec, splits)
    np.testing.assert_array_equal(fitted.reference, train)
    far, inside = anomaly_scores(fitted, codec, np.array([[20.5, 0.0], [4.2, 0.0]], np.float32))
    assert far == pytest.approx(15.5) and inside == pytest.approx(2.2, abs=1e-5)
    assert "reference" not in fitted.to_json()  # saved beside the JSON, as a file


def test_ecod_is_the_ecod_baselines_score_against_the_reference_samples() -> None:
    """The ``ecod`` part and the ECOD detector fitted on the same samples score alike; a sample far
    out along one column only scores above one inside every column's range."""
    splits = stretched_splits()
    codec = TorchCodec(IdentityNet())
    fitted = fit_score("reconstruction+ecod", codec, splits)
    np.testing.assert_array_equal(fitted.reference, splits.train)
    queries = np.array([[0.0, 12.0], [0.5, 1.0]], np.float32)
    ecod = score_part(fitted, "ecod", codec, queries)
    np.testing.assert_allclose(ecod, ECODDetector().fit(splits.train).decision_function(queries))
    assert ecod[0] > ecod[1]
    # the sum: the (zero) reconstruction error plus the tails over their normal validation spread
    spread = ECODDetector().fit(splits.train).decision_function(splits.val).std()
    np.testing.assert_allclose(anomaly_scores(fitted, codec, queries), ecod / spread, rtol=1e-6)


def test_auto_chooses_on_validation_what_separates_the_anomalies() -> None:
    """Perfect reconstructions tie every sample (AUROC 0.5); the code density finds the far ones."""
    far = np.array([[6.0, 0.0], [-6.0, 1.0], [5.0, -2.0], [0.0, 25.0]], np.float32)
    fitted = fit_score("auto", TorchCodec(IdentityNet()), stretched_splits(far))
    assert "code" in fitted.parts and fitted.code_mean is not None


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_one_pass_gives_the_codes_reconstructions_and_rapp_terms_of_separate_passes(shape) -> None:
    """The deployed detector's pass (the encoder run once on the samples, batched) against each
    made on its own; 600 samples in batches of 256 cross batch edges."""
    torch.manual_seed(0)
    net = (dense_net(shape, code_dim=1, hidden_dims=[4]) if len(shape) == 1 else conv_net(shape)).eval()
    x = np.random.default_rng(0).random((600, *shape), dtype=np.float32)
    codes, rebuilt, terms = rapp_passes(net, x, batch_size=256)
    codec = TorchCodec(net)
    np.testing.assert_allclose(codes, codec.encode(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rebuilt, codec.decode(codec.encode(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(terms, rapp_layer_terms(net, x), rtol=1e-4, atol=1e-7)
    assert terms.shape[1] > 2  # the input, the activations, the code
    empty_codes, empty_rebuilt, empty_terms = rapp_passes(net, x[:0])  # no samples: no rows, no error
    assert len(empty_codes) == len(empty_rebuilt) == len(empty_terms) == 0


def test_the_separation_margin_is_the_gap_in_normal_standard_deviations() -> None:
    normal = np.array([0.0, 1.0, 2.0])
    assert separation_margin(normal, np.array([5.0, 3.0])) == pytest.approx(1 / normal.std())
    assert separation_margin(normal, np.array([1.5, 9.0])) == pytest.approx(-0.5 / normal.std())


def test_auto_breaks_a_tie_on_validation_by_the_wider_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Far anomalies along the narrow axis: the distance to the training samples and the code
    density both separate them perfectly; the density, which knows that axis is narrow, by more.
    Listed second, it is still the one chosen."""
    far = np.array([[8.0, 0.0], [-8.0, 1.0], [9.0, -2.0]], np.float32)
    splits, codec = stretched_splits(far), TorchCodec(IdentityNet())
    ranks = {}
    for name in ("knn", "code"):
        fitted = fit_score(name, codec, splits)
        normal, anomalous = (anomaly_scores(fitted, codec, x) for x in (splits.val, far))
        ranks[name] = (separation_auroc(normal, anomalous), separation_margin(normal, anomalous))
    assert ranks["knn"][0] == ranks["code"][0] == 1.0 and ranks["code"][1] > ranks["knn"][1]
    monkeypatch.setattr(scores, "CANDIDATES", ("knn", "code"))
    assert fit_score("auto", codec, splits).name == "code"


def test_auto_returns_the_score_fit_score_of_its_name_fits() -> None:
    """auto measures each part once for all its candidates; what it returns is what fitting the
    chosen name alone gives, down to the standardisation of a sum."""
    torch.manual_seed(0)
    far = np.array([[4.0, 0.0], [-4.0, 1.0], [0.5, 9.0], [3.0, -6.0]], np.float32)
    splits, codec = stretched_splits(far), TorchCodec(dense_net((2,), code_dim=1, hidden_dims=[4]))
    chosen = fit_score("auto", codec, splits)
    alone = fit_score(chosen.name, codec, splits)
    stored, expected = chosen.to_json(), alone.to_json()
    assert set(stored) == set(expected) and len(chosen.parts) > 1  # here a sum: its scales too
    for key, value in expected.items():
        assert stored[key] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-6)), key
    np.testing.assert_array_equal(chosen.reference, alone.reference)
    np.testing.assert_allclose(
        anomaly_scores(chosen, codec, splits.test), anomaly_scores(alone, codec, splits.test), rtol=1e-6
    )


def test_knn_measures_against_at_most_reference_rows_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scores, "REFERENCE_ROWS", 10)
    train = np.arange(100, dtype=np.float32).reshape(50, 2)
    reference = knn_reference(train)
    assert reference.shape == (10, 2) and set(map(tuple, reference)) <= set(map(tuple, train))
    np.testing.assert_array_equal(knn_reference(train), reference)  # the same draw every time
    np.testing.assert_array_equal(knn_reference(train[:10]), train[:10])  # all, up to the cap


def test_auto_without_validation_anomalies_uses_rapp() -> None:
    assert fit_score("auto", TorchCodec(IdentityNet()), stretched_splits()).name == "rapp"


@pytest.mark.parametrize("score", ["rapp+code", "rapp_hidden", "scaled+knn", "peak+ecod"])
def test_the_deployed_detector_scores_with_the_runs_fitted_score_from_plain_json(
    score: str, tmp_path
) -> None:
    """A run evaluated with a fitted score deploys a detector whose JSON spec holds what the score
    learned; scoring the test set through the saved and loaded detector gives the evaluation's scores."""
    torch.manual_seed(0)
    splits = spiral_data(n_test=50, n_anomalies=50).splits
    net = dense_net((2,), code_dim=1, hidden_dims=[6, 6])
    detector = AutoencoderDetector(net, score, "rapp").fit(splits.train, splits.val, splits.val_anomalies)
    evaluation = evaluate(detector, splits, 0.99, 0.0)
    spec = DetectorSpec(
        DataKind.POINTS, ["x0", "x1"], [2], detector.threshold_, "autoencoder", {}, {"scaler": "none"}
    )
    artifacts = save_detector(tmp_path, spec, detector)
    stored = json.loads((tmp_path / "detector.json").read_text())
    assert stored["detector"] == "autoencoder" and stored["kind"] == "points"
    assert stored["state"]["network"] == "dense" and stored["state"]["score"]["name"] == score
    # the training samples kNN and ECOD measure against
    assert ("reference" in artifacts) == any(part in score for part in ("knn", "ecod"))
    loaded = load_detector(artifacts)
    assert isinstance(loaded, DeployedDetector) and isinstance(loaded.detector, AutoencoderDetector)
    scored = loaded.predict(pd.DataFrame(splits.test, columns=["x0", "x1"]))
    np.testing.assert_allclose(scored["score"], evaluation.test_scores, rtol=1e-6)
    assert (scored["is_anomaly"] == (evaluation.test_scores > evaluation.threshold)).all()
    assert (loaded.detector.predict(splits.test) == scored["is_anomaly"]).all()
