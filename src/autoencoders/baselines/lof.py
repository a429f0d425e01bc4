"""scikit-learn's LocalOutlierFactor as a detector (novelty mode: it scores samples it has not seen)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.neighbors import LocalOutlierFactor

from autoencoders.anomaly.detector import flat
from autoencoders.baselines.skops_io import SklearnDetector
from autoencoders.errors import ConfigError
from autoencoders.util.params import POSITIVE_INT, check_params


class LOFDetector(SklearnDetector):
    """How much sparser a sample's neighbourhood is than its ``n_neighbors`` nearest training
    samples' own (the local outlier factor); the score is the negated ``score_samples``."""

    name: ClassVar[str] = "lof"
    _parameter_constraints: ClassVar[dict] = {"n_neighbors": POSITIVE_INT}
    trusted_types: ClassVar[tuple[str, ...]] = (
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
    )

    def __init__(self, n_neighbors: int) -> None:
        check_params(self._parameter_constraints, locals())
        self.n_neighbors = n_neighbors

    @property
    def run_name(self) -> str:
        return f"lof k={self.n_neighbors}"

    @property
    def label(self) -> str:
        return f"LOF (k={self.n_neighbors})"

    def fit(self, x: np.ndarray) -> LOFDetector:
        data = flat(x)
        if self.n_neighbors >= len(data):
            raise ConfigError(f"n_neighbors={self.n_neighbors} is not below the {len(data)} training samples")
        self.lof_ = LocalOutlierFactor(n_neighbors=self.n_neighbors, novelty=True).fit(data)
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return -self.lof_.score_samples(flat(x))
