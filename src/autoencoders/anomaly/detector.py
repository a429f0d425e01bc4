"""The one detector contract (scikit-learn's estimators, PyOD's ``BaseDetector``).

Every detector, the autoencoder and the classic baselines alike:

- ``fit(x) -> self`` on normal training samples;
- ``decision_function(x)``: one anomaly score per sample, higher = more anomalous (PyOD's verb; not
  scikit-learn's ``score_samples``, whose sign is the opposite);
- ``threshold_``: the score above which a sample is an anomaly, set by :meth:`set_threshold` from the
  normal validation samples' scores (the test set is never looked at);
- ``predict(x)``: 1 for an anomaly, 0 for a normal sample, as PyOD;
- ``save(folder)`` / ``load(state, files)``: itself as plain JSON and files nothing unpickles;
- ``name`` (its registry entry and the runs' ``model`` tag), ``run_name`` and ``label`` (figures).

A reconstructing detector (:func:`reconstructs`) adds ``encode``/``decode`` and ``code_dim``, and its
``decision_function(x, reconstruction)`` takes reconstructions the caller has made already.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


class AnomalyDetector:
    """The base of every detector: the threshold and ``predict``; subclasses fit and score."""

    name: ClassVar[str]
    threshold_: float | None = None

    def fit(self, x: np.ndarray) -> AnomalyDetector:
        raise NotImplementedError

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def run_name(self) -> str:
        """The MLflow run's name."""
        return self.name

    @property
    def label(self) -> str:
        """How figures name the detector."""
        return self.name

    def set_threshold(self, normal_scores: np.ndarray, quantile: float) -> float:
        """``threshold_``: the ``quantile`` of the normal (validation) samples' scores."""
        self.threshold_ = float(np.quantile(normal_scores, quantile))
        return self.threshold_

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 where a sample's score is above ``threshold_`` (an anomaly), else 0."""
        if self.threshold_ is None:
            raise RuntimeError(f"{type(self).__name__}.predict before set_threshold")
        return (self.decision_function(x) > self.threshold_).astype(int)

    def get_params(self) -> dict[str, Any]:
        """The constructor's settings, as scikit-learn's estimators keep them (same-named attributes)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def save(self, folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
        """Write the fitted detector into ``folder``: (its JSON state, its files by artifact name)."""
        raise NotImplementedError

    @classmethod
    def load(cls, state: Mapping[str, Any], files: Mapping[str, str]) -> AnomalyDetector:
        """The detector :meth:`save` wrote."""
        raise NotImplementedError


def reconstructs(detector: Any) -> bool:
    """Whether ``detector`` reconstructs its input (``encode``/``decode``): reconstruction metrics,
    codes and the reconstruction figures come with it."""
    return callable(getattr(detector, "encode", None)) and callable(getattr(detector, "decode", None))


def scored_passes(detector: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reconstructing detector's codes, reconstructions and scores of ``x``, each made once (an
    autoencoder's ``passes`` also keeps what its score needs from the encoder's pass)."""
    if callable(getattr(detector, "passes", None)):
        made = detector.passes(x)
        return made.codes, made.reconstruction, detector.decision_function(x, made)
    codes = np.asarray(detector.encode(x))
    reconstruction = detector.decode(codes)
    return codes, reconstruction, detector.decision_function(x, reconstruction)


def kth_neighbour_distances(index: Any, x: np.ndarray) -> np.ndarray:
    """Each sample's distance to the k-th nearest of the samples a fitted scikit-learn
    ``NearestNeighbors`` ``index`` holds: the kNN detector's score, and the ``knn`` score part's."""
    distances, _ = index.kneighbors(x)
    return distances[:, -1].astype(np.float64)


def flat(x: np.ndarray) -> np.ndarray:
    """Samples of any shape as float64 rows, as scikit-learn's estimators take them."""
    return x.reshape(len(x), -1).astype(np.float64)


def squared_errors(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Per-sample squared reconstruction error, summed over features: a reconstructing detector's
    plainest anomaly score. Taken :data:`ERROR_BLOCK_VALUES` values at a time, each row's sum as
    over the whole: a million-row table's errors no longer make three float64 copies of it."""
    per_row = int(np.prod(x.shape[1:]))
    rows = max(1, ERROR_BLOCK_VALUES // max(1, per_row))
    errors = np.empty(len(x))
    for start in range(0, len(x), rows):
        block = x[start : start + rows] - x_hat[start : start + rows]
        errors[start : start + rows] = (block.reshape(len(block), per_row).astype(np.float64) ** 2).sum(
            axis=1
        )
    return errors


#: Values per block of :func:`squared_errors` (8 MB of float64): small enough for the CPU's caches.
ERROR_BLOCK_VALUES = 2**20
