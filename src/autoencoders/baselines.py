"""Classic detectors that score without reconstructing: the distance to the k-th nearest normal
training sample (optionally in PCA space), and scikit-learn's IsolationForest.

Each has ``fit(train)`` and ``score(x)`` (higher = more anomalous), so the evaluation ranks their
scores exactly as it ranks an autoencoder's reconstruction error.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors

from autoencoders.errors import ConfigError


def flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float64)


class KNNScorer:
    """Distance to the ``k``-th nearest normal training sample: far from every normal sample is
    anomalous. With ``pca_components`` the distances are measured in that many PCA dimensions."""

    name = "knn"

    def __init__(self, k: int = 5, pca_components: int | None = None) -> None:
        self.k = k
        self.pca_components = pca_components
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.reference = np.empty((0, 0))
        self.index: NearestNeighbors | None = None

    def fit(self, x: np.ndarray) -> KNNScorer:
        data = flat(x)
        if self.k > len(data):
            raise ConfigError(f"knn.k={self.k} is more than the {len(data)} training samples")
        if self.pca_components:
            pca = PCA(self.pca_components, svd_solver="full").fit(data)
            self.mean, self.components = pca.mean_, pca.components_
        return self.with_reference(self.project(data))

    def with_reference(self, reference: np.ndarray) -> KNNScorer:
        self.reference = reference
        self.index = NearestNeighbors(n_neighbors=self.k).fit(reference)
        return self

    def project(self, data: np.ndarray) -> np.ndarray:
        return data if self.components is None else (data - self.mean) @ self.components.T

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.index is None:
            raise RuntimeError("KNNScorer.score before fit")
        distances, _ = self.index.kneighbors(self.project(flat(x)))
        return distances[:, -1]

    def arrays(self) -> dict[str, np.ndarray]:
        """What the deployed detector holds: the reference points and the projection, if any."""
        found = {"reference": self.reference}
        if self.components is not None:
            found |= {"mean": self.mean, "components": self.components}
        return found

    @classmethod
    def from_arrays(cls, k: int, arrays: dict[str, np.ndarray]) -> KNNScorer:
        scorer = cls(k, len(arrays["components"]) if "components" in arrays else None)
        scorer.mean, scorer.components = arrays.get("mean"), arrays.get("components")
        return scorer.with_reference(arrays["reference"])


class IsolationForestScorer:
    """scikit-learn's IsolationForest; the score is the negated ``score_samples``, so that higher
    means more anomalous (shorter isolation paths), as for every other detector here."""

    name = "iforest"

    def __init__(self, n_estimators: int = 200, seed: int = 0) -> None:
        self.forest = IsolationForest(n_estimators=n_estimators, random_state=seed)

    def fit(self, x: np.ndarray) -> IsolationForestScorer:
        self.forest.fit(flat(x))
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        return -self.forest.score_samples(flat(x))
