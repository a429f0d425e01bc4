"""Drawing: which figures a run gets, and what their captions claim."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, roc_auc_score

from autoencoders.baselines.pca import PCADetector
from autoencoders.evaluation.metrics import evaluate
from autoencoders.evaluation.pixels import pixel_errors
from autoencoders.evaluation.records import run_outputs
from autoencoders.figures import plots
from autoencoders.figures.run_figures import draw, generation_codes
from helpers.built import spiral_data


def test_one_dimensional_codes_are_decoded_along_a_line_not_drawn_from_a_gaussian() -> None:
    codes, how = generation_codes(np.array([[0.0], [1.0], [3.0]]), 5)
    np.testing.assert_allclose(codes[:, 0], [0, 0.75, 1.5, 2.25, 3])
    assert "Gaussian" not in how
    draws, how = generation_codes(np.random.default_rng(0).normal(size=(100, 2)), 5)
    assert draws.shape == (5, 2) and "Gaussian" in how


@pytest.mark.parametrize(("n_anomalies", "roc"), [(100, True), (0, False)])
def test_a_run_gets_the_roc_curve_only_where_there_are_anomalies(n_anomalies: int, roc: bool) -> None:
    datamodule = spiral_data(n_test=100, n_anomalies=n_anomalies)
    baseline = PCADetector(1).fit(datamodule.splits.train)
    evaluation = evaluate(baseline, datamodule.splits, 0.99, 0.0)
    outputs = run_outputs(baseline, datamodule.splits, evaluation, datamodule.kind, datamodule.error_map_box)
    figures = draw(baseline, datamodule.splits, evaluation, outputs, "PCA")
    expected = {"reconstructions", "codes", "samples", "error_map", "scores"} | ({"roc"} if roc else set())
    assert set(figures) == {f"{name}.png" for name in expected}  # top level: the compare-runs page
    assert all(isinstance(figure, Figure) for figure in figures.values())
    assert "along the training codes' range" in figures["samples.png"].axes[0].get_title()


def test_image_grid_holds_every_image_in_its_row() -> None:
    rows = [np.zeros((8, 1, 28, 28)), np.ones((3, 1, 28, 28))]
    figure = plots.image_grid(rows, ["zeros", "ones"], "grid")
    (ax,) = figure.axes
    grid = ax.get_images()[0].get_array()
    assert grid.shape[:2] == (2 + 2 * 30, 2 + 8 * 30)  # make_grid: 2-pixel padding around 28 x 28
    assert [label.get_text() for label in ax.get_yticklabels()] == ["zeros", "ones"]
    scored = plots.image_grid(rows, ["a", "b"], "grid", [f"{i}" for i in range(8)], "score").axes[0]
    assert [label.get_text() for label in scored.get_xticklabels()] == [f"{i}" for i in range(8)]
    assert scored.get_xlabel() == "score"


def test_the_detection_figure_shows_roc_and_precision_recall_with_their_areas() -> None:
    rng = np.random.default_rng(0)
    is_anomaly = np.r_[np.zeros(90, bool), np.ones(10, bool)]
    scores = rng.normal(size=100) + 2 * is_anomaly
    figure = plots.roc(is_anomaly, {"A": scores, "B": -scores}, "detector")
    roc_ax, pr_ax = figure.axes
    assert (roc_ax.get_title(), pr_ax.get_title()) == ("ROC", "precision-recall")
    auroc, aupr = roc_auc_score(is_anomaly, scores), average_precision_score(is_anomaly, scores)
    roc_legend = [text.get_text() for text in roc_ax.get_legend().get_texts()]
    pr_legend = [text.get_text() for text in pr_ax.get_legend().get_texts()]
    assert roc_legend[:2] == [f"A: AUROC = {auroc:.4g}", f"B: AUROC = {1 - auroc:.4g}"]  # overlaid
    assert pr_legend[0] == f"A: AUPR = {aupr:.4g}"
    assert pr_legend[2] == "random score (0.10)"  # the anomalies' share
    assert len(roc_ax.get_lines()) == 3 and len(pr_ax.get_lines()) == 3


def test_each_models_scores_are_drawn_over_its_threshold_with_what_it_flags() -> None:
    """Scores in different units (an error spanning decades, IsolationForest's narrow band) on
    comparable axes: each over its own threshold, 1 where it starts flagging."""
    scores = np.r_[np.geomspace(1e-4, 1e-2, 50), np.geomspace(1.0, 100.0, 50)]
    narrow = np.r_[np.linspace(0.40, 0.50, 50), np.linspace(0.52, 0.60, 50)]
    is_anomaly = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    figure = plots.score_histograms(is_anomaly, {"A": scores, "B": narrow}, "scores", {"A": 0.5, "B": 0.55})
    top, bottom = figure.axes  # a panel per model, each with its own axis
    assert top.get_xscale() == "log" and bottom.get_xscale() == "linear"
    assert top.get_xlabel() == "score / threshold (log scale)"
    assert [line.get_xdata()[0] for line in (*top.get_lines(), *bottom.get_lines())] == [1.0, 1.0]
    assert top.get_title() == "A: flagged 50 of 50 anomalous, 0 of 50 normal"
    assert bottom.get_title() == "B: flagged 31 of 50 anomalous, 0 of 50 normal"
    normal, _ = top.patches  # the normal samples' filled outline, then the anomalous ones'
    heights = normal.get_xy()[:, 1]  # a step's two corners per bin
    assert (heights > 0).sum() > 2 * 5  # spread over bins, not all in the first


def test_anomaly_maps_show_each_image_its_reconstruction_and_its_error_on_one_scale() -> None:
    samples = np.random.default_rng(0).random((4, 3, 8, 8))
    reconstructions = samples.copy()
    reconstructions[2, :, 3, 3] += 0.5  # one badly reconstructed pixel: error 3 x 0.25
    masks = np.zeros((4, 8, 8), bool)
    masks[2, 2:5, 2:5] = True
    errors = pixel_errors(samples, reconstructions)
    labels = ["normal", "normal", "anomalous", "anomalous"]
    figure = plots.anomaly_maps(samples, reconstructions, errors, "maps", labels, masks)
    top, middle, bottom = figure.axes[:3]  # then the colour bar
    assert [ax.get_ylabel() for ax in (top, middle, bottom)] == ["original", "reconstructed", "squared error"]
    assert [label.get_text() for label in top.get_xticklabels()] == labels
    heat = bottom.get_images()[0]
    np.testing.assert_allclose(heat.get_array()[2:10, 2 + 2 * 10 : 10 + 2 * 10], errors[2])  # the third cell
    assert errors[2, 3, 3] == pytest.approx(0.75) == heat.get_clim()[1]
    assert len(bottom.collections) == 1  # the defect's outline
    single = plots.anomaly_map(samples[2], errors[2], "one")
    assert single.axes[1].get_images()[-1].get_array().max() == pytest.approx(0.75)


def test_shown_images_say_what_the_threshold_made_of_them() -> None:
    from autoencoders.evaluation.records import RunOutputs
    from autoencoders.figures.run_figures import verdicts

    outputs = RunOutputs(
        kind="images",
        is_anomaly=np.array([False, False, True, True]),
        scores=np.array([1.0, 5.0, 6.0, 2.0]),
        shown=np.arange(4),
        samples=np.zeros((4, 1, 2, 2)),
    )
    labels, axis, colours = verdicts(outputs, 3.0)
    assert labels == ["1\nok", "5\nFALSE ALARM", "6\ncaught", "2\nMISSED"]
    assert colours == ["black", "tab:red", "tab:green", "tab:red"] and axis.endswith("at the threshold 3")


def test_a_scatter_of_many_codes_draws_a_share_keeping_every_anomaly(monkeypatch) -> None:
    monkeypatch.setattr(plots, "SCATTER_POINTS", 100)
    labels = np.zeros(1000, int)
    labels[::50] = 1  # 20 anomalies
    shown = plots.drawn_points(labels, 1000)
    assert len(shown) == 100 and len(np.unique(shown)) == 100
    assert labels[shown].sum() == 20  # every anomaly, the rest normal rows
    np.testing.assert_array_equal(plots.drawn_points(labels, 1000), shown)  # seeded
    np.testing.assert_array_equal(plots.drawn_points(labels[:80], 80), np.arange(80))  # all, up to the cap
    codes = np.random.default_rng(0).normal(size=(1000, 3))
    figure = plots.image_codes(codes, labels, "test codes", "anomalous (1) or normal (0)")
    (ax,) = figure.axes[:1]
    assert ax.get_title() == "test codes (100 of 1,000 drawn; every anomaly kept)"
    assert sum(len(collection.get_offsets()) for collection in ax.collections) == 100
