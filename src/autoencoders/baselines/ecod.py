"""ECOD (Li et al., TKDE 2022; PyOD's ``ECOD``) as a detector: how far into the tails of each
feature's empirical distribution a sample lies, summed over the features. No settings, no training
beyond sorting: a strong parameter-free baseline on tables.

PyOD's version ranks a batch together with the training samples (transductive: a sample's score
depends on the others scored with it); here the tails are the training samples' alone, so that a
deployed detector scores each row the same whatever else it is sent with.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from autoencoders.anomaly.detector import flat
from autoencoders.baselines.skops_io import SklearnDetector
from autoencoders.util.params import check_params


class ECODDetector(SklearnDetector):
    """Per feature, the left and right tail probabilities of a value among the training samples
    (``-log``, smoothed by one sample), summed over features; the score is the largest of the left
    sum, the right sum and the sum along each feature's skew (PyOD's rule)."""

    name: ClassVar[str] = "ecod"
    _parameter_constraints: ClassVar[dict] = {}

    def __init__(self) -> None:
        check_params(self._parameter_constraints, locals())

    @property
    def label(self) -> str:
        return "ECOD"

    def fit(self, x: np.ndarray) -> ECODDetector:
        data = flat(x).astype(np.float64)
        self.sorted_ = np.sort(data, axis=0)
        centred = data - data.mean(axis=0)
        spread = np.maximum(data.std(axis=0), 1e-12)
        self.left_skewed_ = (centred**3).mean(axis=0) / spread**3 < 0
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        data = flat(x).astype(np.float64)
        n = len(self.sorted_)
        below = np.column_stack(
            [np.searchsorted(self.sorted_[:, j], data[:, j], side="right") for j in range(data.shape[1])]
        )
        above = n - np.column_stack(
            [np.searchsorted(self.sorted_[:, j], data[:, j], side="left") for j in range(data.shape[1])]
        )
        left, right = -np.log((below + 1) / (n + 1)), -np.log((above + 1) / (n + 1))
        skewed = np.where(self.left_skewed_[None, :], left, right)
        return np.max([left.sum(axis=1), right.sum(axis=1), skewed.sum(axis=1)], axis=0)
