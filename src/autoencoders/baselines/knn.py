"""kNN distance as a detector: far from every normal training sample is anomalous."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from autoencoders.anomaly.detector import flat, kth_neighbour_distances
from autoencoders.baselines.skops_io import SklearnDetector
from autoencoders.errors import ConfigError
from autoencoders.util.params import POSITIVE_INT, check_params


class KNNDetector(SklearnDetector):
    """The distance to the ``n_neighbors``-th nearest normal training sample (scikit-learn's
    NearestNeighbors); with ``pca_components`` measured in that many PCA dimensions (None: in the
    raw features)."""

    name: ClassVar[str] = "knn"
    _parameter_constraints: ClassVar[dict] = {
        "n_neighbors": POSITIVE_INT,
        "pca_components": [POSITIVE_INT, None],
    }
    trusted_types: ClassVar[tuple[str, ...]] = (
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
    )

    def __init__(self, n_neighbors: int, pca_components: int | None) -> None:
        check_params(self._parameter_constraints, locals())
        self.n_neighbors = n_neighbors
        self.pca_components = pca_components

    @property
    def run_name(self) -> str:
        return f"knn k={self.n_neighbors}"

    @property
    def label(self) -> str:
        return f"kNN (k={self.n_neighbors})"

    def fit(self, x: np.ndarray) -> KNNDetector:
        data = flat(x)
        if self.n_neighbors > len(data):
            raise ConfigError(f"n_neighbors={self.n_neighbors} is more than the {len(data)} training samples")
        self.pca_ = PCA(self.pca_components, svd_solver="full").fit(data) if self.pca_components else None
        self.index_ = NearestNeighbors(n_neighbors=self.n_neighbors).fit(self.project(data))
        return self

    def project(self, data: np.ndarray) -> np.ndarray:
        return data if self.pca_ is None else self.pca_.transform(data)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return kth_neighbour_distances(self.index_, self.project(flat(x)))
