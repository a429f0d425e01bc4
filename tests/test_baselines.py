"""The classic detectors beyond PCA: kNN distance and IsolationForest, on data where the answer is
known, and as baseline runs compared with the other models of their group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoencoders import comparison
from autoencoders.baselines.classic import IsolationForestScorer, KNNScorer
from autoencoders.errors import ConfigError
from autoencoders.evaluation.records import OUTPUTS_PATH
from autoencoders.tracking import runs
from helpers.runs import load_detector
from pipelines.baseline import baseline

GRID = np.array([[x, y] for x in range(5) for y in range(5)], dtype=float)  # 25 normal points, 1 apart


def test_knn_scores_the_distance_to_the_kth_nearest_normal_sample() -> None:
    scorer = KNNScorer(k=2).fit(GRID)
    # (2, 2.5) lies 0.5 from two grid points; (10, 10) lies far from all of them.
    scores = scorer.score(np.array([[2.0, 2.5], [10.0, 10.0]]))
    assert scores[0] == pytest.approx(0.5)
    assert scores[1] == pytest.approx(np.hypot(6, 7))  # the 2nd nearest of (4, 4), (4, 3), (3, 4)
    again = KNNScorer.from_arrays(2, scorer.arrays())  # what the deployed detector holds
    np.testing.assert_allclose(again.score(GRID + 0.3), scorer.score(GRID + 0.3))


def test_knn_in_pca_space_ignores_the_directions_pca_drops() -> None:
    line = np.column_stack([np.arange(20.0), np.zeros(20)])  # the normal samples vary along x only
    scorer = KNNScorer(k=1, pca_components=1).fit(line + np.random.default_rng(0).normal(0, 1e-3, (20, 2)))
    off_line, beyond = scorer.score(np.array([[5.0, 9.0], [40.0, 0.0]]))
    assert off_line < 0.1 < beyond  # y is not a direction the normal data has


def test_isolation_forest_scores_higher_for_what_is_easy_to_isolate() -> None:
    rng = np.random.default_rng(0)
    scorer = IsolationForestScorer(n_estimators=100, seed=0).fit(rng.normal(size=(300, 2)))
    inlier, outlier = scorer.score(np.array([[0.0, 0.0], [6.0, 6.0]]))
    assert outlier > inlier


def test_the_forest_as_plain_arrays_scores_exactly_as_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    scorer = IsolationForestScorer(n_estimators=50, seed=0).fit(rng.normal(size=(300, 3)))
    exported = IsolationForestScorer.from_arrays(scorer.arrays())  # what the deployed detector holds
    queries = 2 * rng.normal(size=(100, 3))
    np.testing.assert_allclose(exported.score(queries), scorer.score(queries), rtol=1e-12)


def test_k_beyond_the_training_set_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match="knn.k=30 is more than the 25 training samples"):
        KNNScorer(k=30).fit(GRID)


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
    table = comparison.collect(client, ["spiral"], ["test/auroc"])
    (group,) = table.values()
    assert set(group) == {"knn", "iforest"}  # one group: the same data, the same code size
    assert comparison.best_model(group, "test/auroc") == "knn"  # the spiral is thin: distance wins
    rows = [
        line
        for line in comparison.markdown(table, ["test/auroc"]).splitlines()
        if line.startswith("| spiral")
    ]
    assert [row.split(" | ")[2] for row in rows] == ["iforest", "knn"] and "**" in rows[1]  # side by side
    # kNN's detector holds its reference points as plain arrays and scores as the evaluation did.
    knn_run = by_model["knn"].info.run_id
    outputs = runs.load_arrays(client, knn_run, OUTPUTS_PATH)
    detector = load_detector(client.tracking_uri, f"runs:/{knn_run}/anomaly_detector")
    scored = detector.predict(pd.DataFrame(outputs["samples"], columns=["x0", "x1"]))
    np.testing.assert_allclose(scored["score"], outputs["scores"][outputs["shown"]], rtol=1e-6)
