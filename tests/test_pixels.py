"""Pixel metrics against defect masks (anomalib's): the error map, pixel AUROC and AUPRO, on maps
whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from autoencoders.evaluation.pixels import aupro, pixel_auroc, pixel_errors, pixel_metrics, regions


@pytest.fixture
def masks() -> np.ndarray:
    """Three 8 x 8 images: one defect-free, one with a 2 x 3 defect, one with two defects (a 2 x 2
    block and a single pixel, not touching)."""
    found = np.zeros((3, 8, 8), bool)
    found[1, 2:4, 2:5] = True
    found[2, 5:7, 0:2] = True
    found[2, 0, 7] = True
    return found


def test_the_error_map_sums_the_squared_error_over_channels() -> None:
    x = np.zeros((1, 3, 2, 2))
    x_hat = x.copy()
    x_hat[0, :, 0, 1] = [1, 2, 3]
    np.testing.assert_allclose(pixel_errors(x, x_hat), [[[0, 14], [0, 0]]])


def test_regions_are_each_images_connected_defects(masks) -> None:
    stacked = np.ones((2, 2, 2), bool)  # the same pixel in two images: two regions, not one
    assert regions(stacked).max() == 2 and regions(masks).max() == 3


def test_a_perfect_map_scores_one_and_an_inverted_one_zero(masks) -> None:
    perfect = masks.astype(float)
    assert aupro(masks, perfect) == pytest.approx(1.0)
    assert pixel_auroc(masks, perfect) == pytest.approx(1.0)
    assert aupro(masks, 1 - perfect) == pytest.approx(0.0)


def test_aupro_weighs_every_region_the_same_whatever_its_size(masks) -> None:
    """Only the 2 x 3 defect found: PRO 1/3 at no false positives, then every other pixel ties at
    0 (FPR 1, PRO 1). Up to FPR 0.3 the curve runs from 1/3 to 1/3 + 0.3 x 2/3 = 0.5333: area
    0.3 x (1/3 + 0.5333) / 2 = 0.13, over 0.3 = 0.4333. The pixel AUROC, which weighs pixels, is higher."""
    found_one = masks.astype(float)
    found_one[2] = 0
    assert aupro(masks, found_one) == pytest.approx(0.4333333)
    assert pixel_auroc(masks, found_one) > 0.5


def test_a_random_map_scores_what_chance_gives(masks) -> None:
    """PRO = FPR on average: the area under the diagonal up to 0.3 is 0.045, over 0.3 = 0.15."""
    rng = np.random.default_rng(0)
    values = [aupro(masks, rng.random(masks.shape)) for _ in range(200)]
    assert np.mean(values) == pytest.approx(0.15, abs=0.02)


def test_pixel_metrics_need_defects_and_defect_free_pixels(masks) -> None:
    errors = masks.astype(float)
    assert pixel_metrics(masks, errors) == {"test/pixel_auroc": 1.0, "test/pixel_aupro": pytest.approx(1.0)}
    assert pixel_metrics(np.zeros_like(masks), errors) == {}  # no defective test image
