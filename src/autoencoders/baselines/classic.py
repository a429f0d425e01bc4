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
        self.exported: dict[str, np.ndarray] | None = None  # a forest loaded from arrays

    def fit(self, x: np.ndarray) -> IsolationForestScorer:
        self.forest.fit(flat(x))
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.exported is not None:
            return forest_scores(self.exported, flat(x))
        return -self.forest.score_samples(flat(x))

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted forest as plain arrays, one row per tree (padded with -1): what the deployed
        detector holds instead of a pickled scikit-learn object. Each node's ``depth`` is the
        path length scikit-learn adds for a sample ending in it."""
        forest = self.forest
        trees = [estimator.tree_ for estimator in forest.estimators_]
        width = max(tree.node_count for tree in trees)

        def padded(rows: list[np.ndarray], fill: float) -> np.ndarray:
            return np.stack([np.pad(row, (0, width - len(row)), constant_values=fill) for row in rows])

        depths = [
            lengths + average - 1.0
            for lengths, average in zip(
                forest._decision_path_lengths, forest._average_path_length_per_tree, strict=True
            )
        ]
        return {
            "left": padded([t.children_left for t in trees], -1).astype(np.int64),
            "right": padded([t.children_right for t in trees], -1).astype(np.int64),
            "feature": padded([t.feature for t in trees], -1).astype(np.int64),
            "threshold": padded([t.threshold for t in trees], 0.0),
            "depth": padded(depths, 0.0),
            "features": np.stack([np.asarray(f, dtype=np.int64) for f in forest.estimators_features_]),
            "normaliser": np.asarray(len(trees) * average_path_length(forest._max_samples)),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> IsolationForestScorer:
        scorer = cls()
        scorer.exported = arrays
        return scorer


def average_path_length(n: int) -> float:
    """The average path length of an unsuccessful search in a binary search tree of ``n`` samples,
    as scikit-learn's IsolationForest normalises by."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (np.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n


def forest_scores(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """IsolationForest's score (negated ``score_samples``: higher = more anomalous) from the arrays
    of :meth:`IsolationForestScorer.arrays`, every tree walked for all samples at once."""
    total = np.zeros(len(x))
    rows = np.arange(len(x))
    for t in range(len(arrays["left"])):
        sub = x[:, arrays["features"][t]]
        node = np.zeros(len(x), dtype=np.int64)
        while True:
            inner = arrays["left"][t][node] != -1
            if not inner.any():
                break
            go_left = sub[rows, np.maximum(arrays["feature"][t][node], 0)] <= arrays["threshold"][t][node]
            node = np.where(inner, np.where(go_left, arrays["left"][t][node], arrays["right"][t][node]), node)
        total += arrays["depth"][t][node]
    normaliser = float(arrays["normaliser"])
    return 2.0 ** (-total / normaliser) if normaliser else np.ones(len(x))
