"""The autoencoders' anomaly scores (``anomaly.score``), fitted once on a run's own splits.

- ``reconstruction``: the squared reconstruction error.
- ``rapp``: RaPP's differences between a sample and its reconstruction along the encoder
  (:func:`autoencoders.evaluation.metrics.rapp_scores`).
- ``rapp_hidden``: RaPP inside the network only: its terms after each encoder activation and at the
  code, each divided by that term's mean over the training samples, summed; the input's term (the
  reconstruction error) is left out. Scaled, every layer weighs alike: summed as they are, the
  widest layers outweigh the code's few numbers.
- ``code``: the Mahalanobis distance of the sample's code to the training codes (a Gaussian density
  in code space, as in Abati et al., CVPR 2019): an anomaly the network reconstructs well can still
  land where no normal code lies.
- ``rapp+code``: both, each divided by its standard deviation on the normal validation samples,
  summed: the two weigh alike, and the sum ranks as the sum of standardised scores does while
  staying positive (log-scaled figures, thresholds).
- ``auto``: each of the above is ranked on the validation split (normal samples against the
  validation anomalies) and the best one is used; ``rapp`` where there are no validation anomalies.
  Model selection on validation data only: the test set is never looked at.

What a score learned (the code statistics, the standardisation) is plain JSON numbers, so that the
deployed detector scores exactly as the run was evaluated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.covariance import EmpiricalCovariance

from autoencoders.data.base import Splits
from autoencoders.evaluation.metrics import (
    TorchCodec,
    rapp_layer_terms,
    rapp_scores,
    separation_auroc,
    squared_errors,
)

#: The settings of ``anomaly.score``.
SCORES = ("auto", "reconstruction", "rapp", "rapp_hidden", "code", "rapp+code")
#: What ``auto`` chooses among, in order of preference where validation ranks them equal.
CANDIDATES = ("rapp", "rapp_hidden", "reconstruction", "rapp+code", "code")
#: What ``auto`` falls back to without validation anomalies.
FALLBACK = "rapp"


@dataclass
class FittedScore:
    """One concrete score and what it learned from the training and validation samples."""

    name: str  # reconstruction, rapp, rapp_hidden, code or rapp+code
    code_mean: list[float] | None = None
    code_precision: list[list[float]] | None = None
    #: ``rapp_hidden``: the mean over the training samples of each RaPP term inside the network.
    layer_means: list[float] | None = None
    #: Per part of a sum: the standard deviation of its normal validation scores.
    scales: dict[str, float] | None = None

    @property
    def parts(self) -> list[str]:
        return self.name.split("+")

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, stored: dict[str, Any] | str | None) -> FittedScore:
        """A detector's stored score; older detectors kept the name alone."""
        if stored is None:
            return cls("reconstruction")
        return cls(stored) if isinstance(stored, str) else cls(**stored)


class AutoencoderScorer:
    """Scores samples with a torch autoencoder (wrapped in a :class:`TorchCodec`) and a fitted score."""

    def __init__(self, codec: TorchCodec, fitted: FittedScore) -> None:
        self.codec = codec
        self.fitted = fitted

    def score(self, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray:
        """The fitted score of ``x``; ``reconstruction``: its reconstructions where the caller has
        them already (a detector returns them too), so the network does not rebuild them."""
        if len(self.fitted.parts) == 1:
            return self.part(self.fitted.name, x, reconstruction)
        scales = self.fitted.scales or {}
        return sum(self.part(name, x, reconstruction) / scales[name] for name in self.fitted.parts)

    def part(self, name: str, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray:
        module = self.codec.module
        if name == "reconstruction":
            rebuilt = self.codec.decode(self.codec.encode(x)) if reconstruction is None else reconstruction
            return squared_errors(x, rebuilt)
        if name == "rapp":
            return rapp_scores(module, x, reconstruction=reconstruction)
        if name == "rapp_hidden":
            hidden = rapp_layer_terms(module, x, reconstruction=reconstruction)[:, 1:]
            return (hidden / np.asarray(self.fitted.layer_means)).sum(1)
        offsets = self.codec.encode(x).reshape(len(x), -1).astype(np.float64) - np.asarray(
            self.fitted.code_mean
        )
        return np.einsum("ij,jk,ik->i", offsets, np.asarray(self.fitted.code_precision), offsets)


def fit_score(name: str, codec: TorchCodec, splits: Splits) -> FittedScore:
    """The score ``name`` fitted on ``splits`` (``auto``: the best candidate on validation)."""
    if name == "auto":
        return choose_score(codec, splits)
    fitted = FittedScore(name)
    if name == "rapp_hidden":
        means = rapp_layer_terms(codec.module, splits.train)[:, 1:].mean(0)
        # A unit dead on every training sample has mean 0: its term is then left unscaled.
        fitted.layer_means = [float(mean) or 1.0 for mean in means]
    if "code" in fitted.parts:
        codes = codec.encode(splits.train).reshape(len(splits.train), -1).astype(np.float64)
        covariance = EmpiricalCovariance().fit(
            codes
        )  # its precision is a pseudo-inverse: no singular failure
        fitted.code_mean = covariance.location_.tolist()
        fitted.code_precision = covariance.precision_.tolist()
    if len(fitted.parts) > 1:
        scorer = AutoencoderScorer(codec, fitted)
        fitted.scales = {}
        for part in fitted.parts:
            fitted.scales[part] = float(scorer.part(part, splits.val).std()) or 1.0
    return fitted


def choose_score(codec: TorchCodec, splits: Splits) -> FittedScore:
    """``auto``: the candidate whose validation AUROC is highest (the first of equals)."""
    if splits.val_anomalies is None or not len(splits.val_anomalies) or not len(splits.val):
        return fit_score(FALLBACK, codec, splits)
    best, best_auroc = None, -1.0
    for name in CANDIDATES:
        fitted = fit_score(name, codec, splits)
        scorer = AutoencoderScorer(codec, fitted)
        auroc = separation_auroc(scorer.score(splits.val), scorer.score(splits.val_anomalies))
        if auroc > best_auroc:
            best, best_auroc = fitted, auroc
    return best
