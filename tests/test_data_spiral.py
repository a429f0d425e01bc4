"""The spiral data: the notebook's generator, held-out normals, anomalies off the curve."""

from __future__ import annotations

import numpy as np
import pytest

from autoencoders.data.spiral import (
    BOX,
    distance_to_spiral,
    spiral_anomalies,
    spiral_points,
)
from autoencoders.errors import ConfigError
from helpers.built import spiral_data


def notebook_spiral(n: int = 100) -> np.ndarray:
    """The reference notebook's cell, verbatim."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, n)
    X = np.empty((n, 2))
    X[:, 0] = (t + 1) * np.cos(5 * t + 1.5)
    X[:, 1] = (t + 1) * np.sin(5 * t + 1.5)
    return X


def test_training_set_is_the_notebooks() -> None:
    np.testing.assert_array_equal(spiral_points(100, 0), notebook_spiral())
    datamodule = spiral_data()
    np.testing.assert_array_equal(datamodule.splits.train, notebook_spiral())


def test_held_out_normals_lie_on_the_curve_but_are_new_points() -> None:
    splits = spiral_data(n_test=300, n_anomalies=200).splits
    normal = splits.test[~splits.test_is_anomaly]
    assert normal.shape == (300, 2)
    assert distance_to_spiral(normal).max() < 2e-3  # the curve is sampled every ~2e-3
    assert not np.isin(normal[:, 0], splits.train[:, 0]).any()
    assert not np.isin(splits.val[:, 0], splits.train[:, 0]).any()


def test_anomalies_are_in_the_box_and_beyond_the_margin() -> None:
    splits = spiral_data(n_anomalies=400, anomaly_margin=0.5).splits
    anomalies = splits.test[splits.test_is_anomaly]
    assert anomalies.shape == (400, 2)
    (x_lo, x_hi), (y_lo, y_hi) = BOX
    assert (anomalies[:, 0] >= x_lo).all() and (anomalies[:, 0] <= x_hi).all()
    assert (anomalies[:, 1] >= y_lo).all() and (anomalies[:, 1] <= y_hi).all()
    assert distance_to_spiral(anomalies).min() > 0.5


def test_splits_are_reproducible_and_seeded() -> None:
    first = spiral_data().splits
    again = spiral_data().splits
    other = spiral_data(anomaly_seed=9).splits
    np.testing.assert_array_equal(first.test, again.test)
    assert not np.array_equal(first.test, other.test)


def test_no_anomalies_is_allowed() -> None:
    splits = spiral_data(n_anomalies=0, n_test=50).splits
    assert len(splits.test) == 50 and not splits.test_is_anomaly.any()


def test_an_impossible_margin_fails_at_once() -> None:
    with pytest.raises(ConfigError, match=r"dataset.anomaly_margin=5: too little of the box"):
        spiral_anomalies(500, seed=3, margin=5)
