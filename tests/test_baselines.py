"""The classic detectors: thin classes over scikit-learn's own estimators, on data where the answer is
known, saved without pickle, and as baseline runs compared with the other models of their group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from autoencoders import comparison
from autoencoders.anomaly.detector import reconstructs
from autoencoders.baselines.ecod import ECODDetector
from autoencoders.baselines.iforest import IsolationForestDetector
from autoencoders.baselines.knn import KNNDetector
from autoencoders.baselines.lof import LOFDetector
from autoencoders.baselines.pca import PCADetector
from autoencoders.errors import ConfigError, InputError
from autoencoders.evaluation.records import OUTPUTS_PATH
from autoencoders.tracking import runs
from autoencoders.util.params import InvalidParameter
from helpers.built import spiral_data
from helpers.entry import run_main, store_overrides
from helpers.runs import load_detector
from pipelines.baseline import baseline

GRID = np.array([[x, y] for x in range(5) for y in range(5)], dtype=float)  # 25 normal points, 1 apart

#: The spiral's test scores (samples 0, 1, 500, 999, and the sum over all 1000) as the detectors of
#: the previous version computed them (hand-written arrays, before skops): the classes over
#: scikit-learn's estimators score the same.
BEFORE = {
    (PCADetector, (1,)): (
        [0.2533103426540604, 0.07159124231193309, 5.099259742531461, 4.304987282780516],
        2243.247550531819,
    ),
    (KNNDetector, (5, None)): (
        [0.23988517188380043, 0.1863566695101708, 2.4043613966718675, 0.9585732773847688],
        880.5464899322199,
    ),
    (KNNDetector, (3, 1)): (
        [0.013365139837138162, 0.0004538348661689007, 1.4676396380956145, 0.062013024481008594],
        425.65436957634597,
    ),
    (IsolationForestDetector, (200, 0)): (
        [0.5644610581096162, 0.5144243193735439, 0.5779045852209002, 0.5805402470103833],
        549.6448841318581,
    ),
    (IsolationForestDetector, (200, 1)): (
        [0.5645108155032957, 0.5124697434011672, 0.5844538476507981, 0.5872335549103708],
        552.7015901807515,
    ),
}


@pytest.mark.parametrize(("cls", "args"), list(BEFORE))
def test_the_detectors_score_the_spiral_as_the_previous_version_did(cls, args, tmp_path: Path) -> None:
    splits = spiral_data().splits
    detector = cls(*args).fit(splits.train)
    scores = detector.decision_function(splits.test)
    shown, total = BEFORE[(cls, args)]
    np.testing.assert_allclose(scores[[0, 1, 500, 999]], shown, rtol=1e-9)
    assert scores.sum() == pytest.approx(total, rel=1e-12)
    state, files = detector.save(tmp_path)  # skops: the deployed detector scores the same
    np.testing.assert_array_equal(cls.load(state, files).decision_function(splits.test), scores)


def test_every_score_is_scikit_learns_own() -> None:
    rng = np.random.default_rng(0)
    train, queries = rng.normal(size=(200, 3)), 2 * rng.normal(size=(50, 3))
    pca = PCA(2, svd_solver="full").fit(train)
    expected = ((queries - pca.inverse_transform(pca.transform(queries))) ** 2).sum(1)
    np.testing.assert_allclose(PCADetector(2).fit(train).decision_function(queries), expected, rtol=1e-12)
    distances, _ = NearestNeighbors(n_neighbors=4).fit(train).kneighbors(queries)
    np.testing.assert_array_equal(
        KNNDetector(4, None).fit(train).decision_function(queries), distances[:, -1]
    )
    forest = IsolationForest(n_estimators=30, random_state=3).fit(train)
    np.testing.assert_array_equal(
        IsolationForestDetector(30, 3).fit(train).decision_function(queries), -forest.score_samples(queries)
    )
    lof = LocalOutlierFactor(n_neighbors=10, novelty=True).fit(train)
    np.testing.assert_array_equal(
        LOFDetector(10).fit(train).decision_function(queries), -lof.score_samples(queries)
    )


def test_ecod_sums_each_features_tail_along_its_skew(tmp_path: Path) -> None:
    """Two features of four training values: feature 0 skews right (its tail: values above),
    feature 1 left. A query's tail counts (plus one) over five give its -log probabilities."""
    train = np.array([[0.0, 10.0], [1.0, 9.0], [2.0, 8.9], [10.0, 0.0]])
    detector = ECODDetector().fit(train)
    assert detector.left_skewed_.tolist() == [False, True]
    query = np.array([[1.5, 0.0]])
    below, above = np.array([2, 1]), np.array([2, 4])  # training values <= and >= the query's
    left, right = -np.log((below + 1) / 5), -np.log((above + 1) / 5)
    expected = max(left.sum(), right.sum(), right[0] + left[1])
    assert detector.decision_function(query)[0] == pytest.approx(expected)
    far = detector.decision_function(np.array([[50.0, -50.0], [1.0, 9.0]]))
    assert far[0] > far[1]
    state, files = detector.save(tmp_path)  # skops: plain arrays, no type to trust
    np.testing.assert_array_equal(ECODDetector.load(state, files).decision_function(query), [expected])


def test_the_tails_of_wide_float32_samples_are_those_of_their_float64_copy(monkeypatch) -> None:
    """Kept in float32 and their skew measured a block of columns at a time (an image folder's
    reference is wide), the tails score as the float64 copy's measured whole."""
    from autoencoders.anomaly import tails

    rng = np.random.default_rng(0)
    wide = (rng.exponential(size=(60, 70)) * rng.choice([-1, 1], size=70)).astype(np.float32)
    queries = rng.normal(size=(5, 70)).astype(np.float32)
    whole = tails.Tails.of(wide.astype(np.float64))
    monkeypatch.setattr(tails, "SKEW_BLOCK", 16)
    blocked = tails.Tails.of(wide)
    assert blocked.sorted_values.dtype == np.float32
    np.testing.assert_array_equal(blocked.left_skewed, whole.left_skewed)
    assert 0 < blocked.left_skewed.sum() < 70  # both skews present
    np.testing.assert_allclose(blocked.scores(queries), whole.scores(queries))


def test_knn_scores_the_distance_to_the_kth_nearest_normal_sample(tmp_path: Path) -> None:
    detector = KNNDetector(n_neighbors=2, pca_components=None).fit(GRID)
    # (2, 2.5) lies 0.5 from two grid points; (10, 10) lies far from all of them.
    scores = detector.decision_function(np.array([[2.0, 2.5], [10.0, 10.0]]))
    assert scores[0] == pytest.approx(0.5)
    assert scores[1] == pytest.approx(np.hypot(6, 7))  # the 2nd nearest of (4, 4), (4, 3), (3, 4)
    assert not reconstructs(detector)


def test_knn_in_pca_space_ignores_the_directions_pca_drops() -> None:
    line = np.column_stack([np.arange(20.0), np.zeros(20)])  # the normal samples vary along x only
    detector = KNNDetector(n_neighbors=1, pca_components=1)
    detector.fit(line + np.random.default_rng(0).normal(0, 1e-3, (20, 2)))
    off_line, beyond = detector.decision_function(np.array([[5.0, 9.0], [40.0, 0.0]]))
    assert off_line < 0.1 < beyond  # y is not a direction the normal data has


def test_isolation_forest_scores_higher_for_what_is_easy_to_isolate() -> None:
    rng = np.random.default_rng(0)
    detector = IsolationForestDetector(n_estimators=100, random_state=0).fit(rng.normal(size=(300, 2)))
    inlier, outlier = detector.decision_function(np.array([[0.0, 0.0], [6.0, 6.0]]))
    assert outlier > inlier
    detector.set_threshold(detector.decision_function(rng.normal(size=(100, 2))), 0.99)
    assert detector.predict(np.array([[0.0, 0.0], [6.0, 6.0]])).tolist() == [0, 1]  # 1 = anomaly, as PyOD


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: KNNDetector(0, None), "n_neighbors must be a positive integer, got 0"),
        (lambda: KNNDetector(5, 0), "pca_components must be a positive integer or null, got 0"),
        (lambda: PCADetector(1.5), "n_components must be a positive integer, got 1.5"),
        (lambda: IsolationForestDetector(200, -1), "random_state must be 0 or more, got -1"),
    ],
)
def test_the_constructors_check_their_settings(make, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(")):
        make()


def test_k_beyond_the_training_set_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="n_neighbors=30 is more than the 25 training samples"):
        KNNDetector(30, None).fit(GRID)


def test_skops_loads_only_the_types_the_detector_class_allows(tmp_path: Path) -> None:
    """A PCA detector needs no type beyond skops' defaults: a file holding a forest's trees is
    refused before anything in it is built."""
    rng = np.random.default_rng(0)
    forest = IsolationForestDetector(10, 0).fit(rng.normal(size=(50, 2)))
    state, files = forest.save(tmp_path)
    with pytest.raises(
        InputError, match=r"holds types a pca detector does not use: sklearn\.tree\._tree\.Tree"
    ):
        PCADetector.load({"params": {"n_components": 1}}, files)
    assert IsolationForestDetector.load(state, files).forest_.n_estimators == 10  # its own class: loaded


def test_every_baseline_logs_the_same_metrics_and_the_comparison_shows_them_all(make_cfg, client) -> None:
    """kNN and IsolationForest here; PCA, the same stage with method=pca, in ``test_pca``."""
    found = {
        method: baseline(make_cfg(f"method={method}", config_name="baseline"))
        for method in ("knn", "iforest")
    }
    anomaly = {"test/auroc", "test/aupr", "threshold", "test/precision", "test/recall", "test/f1"}
    assert all(anomaly <= set(metrics) for metrics in found.values())
    assert "train/rmse" not in found["knn"]  # kNN reconstructs nothing
    experiment = client.get_experiment_by_name("spiral")
    by_model = {run.data.tags["model"]: run for run in client.search_runs([experiment.experiment_id])}
    assert {run.data.tags["stage"] for run in by_model.values()} == {"baseline"}
    assert by_model["knn"].info.run_name == "knn k=5" and by_model["knn"].data.tags["code_dim"] == "1"
    assert by_model["iforest"].info.run_name == "iforest"
    assert by_model["knn"].data.params["method.n_neighbors"] == "5"
    table = comparison.collect(client, ["spiral"], ["test/auroc"])
    (group,) = table.values()
    assert set(comparison.display_names(group).values()) == {
        "knn",
        "iforest",
    }  # one group: same data, code size
    leader = comparison.verdict(group, "test/auroc").leader
    assert comparison.display_names(group)[leader] == "knn"  # the spiral is thin: distance wins
    rows = [
        line
        for line in comparison.markdown(table, ["test/auroc"]).splitlines()
        if line.startswith("| spiral")
    ]
    assert [row.split(" | ")[2] for row in rows] == ["iforest", "knn"]  # side by side; one run each: no bold
    # The deployed detectors (skops files) score as the evaluation did.
    for model in ("knn", "iforest"):
        run_id = by_model[model].info.run_id
        outputs = runs.load_arrays(client, run_id, OUTPUTS_PATH)
        detector = load_detector(client.tracking_uri, f"runs:/{run_id}/anomaly_detector")
        scored = detector.predict(pd.DataFrame(outputs["samples"], columns=["x0", "x1"]))
        np.testing.assert_allclose(scored["score"], outputs["scores"][outputs["shown"]], rtol=1e-6)
        assert list(scored.columns) == ["score", "is_anomaly"]


def test_the_seed_reaches_the_forest_through_the_entry_point(store, client, tmp_path, monkeypatch) -> None:
    status = run_main(
        "baseline", tmp_path, *store_overrides(store), "method=iforest", "seed=1", monkeypatch=monkeypatch
    )
    assert status == 0
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.data.params["seed"] == "1" and run.data.params["method.random_state"] == "1"
    logged = runs.load_arrays(client, run.info.run_id, OUTPUTS_PATH)["scores"]
    splits = spiral_data().splits
    for seed in (0, 1):
        in_process = IsolationForestDetector(200, seed).fit(splits.train).decision_function(splits.test)
        assert np.array_equal(logged, in_process) == (seed == 1)


def test_a_bad_method_setting_is_one_line_naming_it(store, tmp_path, capsys, monkeypatch) -> None:
    args = [*store_overrides(store), "method=knn", "method.n_neighbors=0"]
    assert run_main("baseline", tmp_path, *args, monkeypatch=monkeypatch) == 2
    stderr = capsys.readouterr().err
    assert stderr.strip().splitlines()[-1] == "error: method.n_neighbors must be a positive integer, got 0"
    assert "Traceback" not in stderr
