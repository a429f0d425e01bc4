"""ECOD's tail probabilities (Li et al., TKDE 2022; PyOD's ``ECOD``): how far into the tails of each
feature's empirical distribution among some reference samples a sample lies, summed over features.

Shared by the ECOD baseline (its reference: every training sample) and the autoencoder's ``ecod``
score part (the ``knn`` part's reference rows): one rule, so that the two score alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoencoders.anomaly.detector import flat

#: Columns whose skew is measured at once (in float64): the copy stays small however wide the samples.
SKEW_BLOCK = 256


@dataclass(frozen=True)
class Tails:
    """Per feature, the reference samples' values sorted, and whether they skew left (the tail a
    skewed feature's anomalies lie in)."""

    sorted_values: np.ndarray  # N x F
    left_skewed: np.ndarray  # F bool

    @classmethod
    def of(cls, reference: np.ndarray) -> Tails:
        """Sorted in the reference's own type (float32 samples: half the memory of float64; an image
        folder's reference is 10,000 x its pixels), the skew in float64 a block of columns at a time."""
        data = reference.reshape(len(reference), -1)
        left_skewed = np.empty(data.shape[1], bool)
        for start in range(0, data.shape[1], SKEW_BLOCK):
            block = data[:, start : start + SKEW_BLOCK].astype(np.float64)
            centred = block - block.mean(axis=0)
            spread = np.maximum(block.std(axis=0), 1e-12)
            left_skewed[start : start + SKEW_BLOCK] = (centred**3).mean(axis=0) / spread**3 < 0
        return cls(np.sort(data, axis=0), left_skewed)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Per sample, the largest of its left tails' sum, its right tails' sum and the sum along
        each feature's skew (PyOD's rule); a tail is ``-log`` of the share of reference values at
        least as far out, smoothed by one sample."""
        data = flat(x)
        n, columns = len(self.sorted_values), range(data.shape[1])
        below = np.column_stack(
            [np.searchsorted(self.sorted_values[:, j], data[:, j], "right") for j in columns]
        )
        above = n - np.column_stack(
            [np.searchsorted(self.sorted_values[:, j], data[:, j], "left") for j in columns]
        )
        left, right = -np.log((below + 1) / (n + 1)), -np.log((above + 1) / (n + 1))
        skewed = np.where(self.left_skewed[None, :], left, right)
        return np.max([left.sum(axis=1), right.sum(axis=1), skewed.sum(axis=1)], axis=0)
