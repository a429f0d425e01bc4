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

from autoencoders.anomaly.tails import Tails
from autoencoders.baselines.skops_io import SklearnDetector
from autoencoders.util.params import check_params


class ECODDetector(SklearnDetector):
    """Per feature, the left and right tail probabilities of a value among the training samples
    (:class:`~autoencoders.anomaly.tails.Tails`), summed over features; the score is the largest of
    the left sum, the right sum and the sum along each feature's skew (PyOD's rule)."""

    name: ClassVar[str] = "ecod"
    _parameter_constraints: ClassVar[dict] = {}

    def __init__(self) -> None:
        check_params(self._parameter_constraints, locals())

    @property
    def label(self) -> str:
        return "ECOD"

    def fit(self, x: np.ndarray) -> ECODDetector:
        tails = Tails.of(x)
        self.sorted_, self.left_skewed_ = tails.sorted_values, tails.left_skewed
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return Tails(self.sorted_, self.left_skewed_).scores(x)
