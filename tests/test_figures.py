"""Drawing: which figures a run gets, and what their captions claim."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from autoencoders.data.spiral import SpiralDataModule
from autoencoders.evaluation import evaluate
from autoencoders.figures import plots
from autoencoders.figures.run_figures import draw, generation_codes
from autoencoders.pca import PCABaseline


def test_one_dimensional_codes_are_decoded_along_a_line_not_drawn_from_a_gaussian() -> None:
    codes, how = generation_codes(np.array([[0.0], [1.0], [3.0]]), 5)
    np.testing.assert_allclose(codes[:, 0], [0, 0.75, 1.5, 2.25, 3])
    assert "Gaussian" not in how
    draws, how = generation_codes(np.random.default_rng(0).normal(size=(100, 2)), 5)
    assert draws.shape == (5, 2) and "Gaussian" in how


@pytest.mark.parametrize(("n_anomalies", "roc"), [(100, True), (0, False)])
def test_a_run_gets_the_roc_curve_only_where_there_are_anomalies(n_anomalies: int, roc: bool) -> None:
    datamodule = SpiralDataModule(n_test=100, n_anomalies=n_anomalies)
    baseline = PCABaseline(1).fit(datamodule.splits.train)
    evaluation = evaluate(baseline, datamodule.splits)
    figures = draw(baseline, datamodule.splits, evaluation, "points", "PCA", datamodule.error_map_box)
    expected = {"reconstructions", "codes", "samples", "error_map", "scores"} | ({"roc"} if roc else set())
    assert set(figures) == {f"figures/{name}.png" for name in expected}
    assert all(isinstance(figure, Figure) for figure in figures.values())
    assert "along the training codes' range" in figures["figures/samples.png"].axes[0].get_title()


def test_image_grid_holds_every_image_in_its_row() -> None:
    rows = [np.zeros((8, 1, 28, 28)), np.ones((3, 1, 28, 28))]
    figure = plots.image_grid(rows, ["zeros", "ones"], "grid")
    (ax,) = figure.axes
    grid = ax.get_images()[0].get_array()
    assert grid.shape[:2] == (2 + 2 * 30, 2 + 8 * 30)  # make_grid: 2-pixel padding around 28 x 28
    assert [label.get_text() for label in ax.get_yticklabels()] == ["zeros", "ones"]
