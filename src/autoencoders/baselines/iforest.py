"""scikit-learn's IsolationForest as a detector."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.ensemble import IsolationForest

from autoencoders.anomaly.detector import flat
from autoencoders.baselines.skops_io import SklearnDetector
from autoencoders.util.params import NON_NEGATIVE_INT, POSITIVE_INT, check_params


class IsolationForestDetector(SklearnDetector):
    """``n_estimators`` random trees seeded by ``random_state``; the score is the negated
    ``score_samples`` (shorter isolation paths: higher), as for every other detector here."""

    name: ClassVar[str] = "iforest"
    _parameter_constraints: ClassVar[dict] = {"n_estimators": POSITIVE_INT, "random_state": NON_NEGATIVE_INT}
    trusted_types: ClassVar[tuple[str, ...]] = ("sklearn.tree._tree.Tree",)

    def __init__(self, n_estimators: int, random_state: int) -> None:
        check_params(self._parameter_constraints, locals())
        self.n_estimators = n_estimators
        self.random_state = random_state

    @property
    def label(self) -> str:
        return "IsolationForest"

    def fit(self, x: np.ndarray) -> IsolationForestDetector:
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)
        self.forest_.fit(flat(x))
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(flat(x))
