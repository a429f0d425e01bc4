"""The autoencoders' anomaly scores (``anomaly.score``), fitted once on a run's own splits.

- ``reconstruction``: the squared reconstruction error.
- ``scaled``: the squared reconstruction error of each input column (a table's column: its one-hot
  features together; a pixel, a coordinate) divided by its mean over the training samples, summed.
  Summed unscaled, the columns the network reconstructs worst on normal data (a rare category, a
  wide amount) outweigh the ones that tell anomalies apart.
- ``peak``: the largest squared error of any one input value (a pixel's channel, a feature): a small
  defect on a large image is a few pixels, which a sum over the whole image drowns (anomalib's image
  score is its anomaly map's maximum).
- ``rapp``: RaPP's differences between a sample and its reconstruction along the encoder
  (:func:`autoencoders.anomaly.rapp.rapp_scores`).
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
- ``knn``: the distance to the ``NEIGHBOURS``-th nearest training sample, in the network's input
  space (what the kNN baseline measures). Alone it is no autoencoder's score; summed with one
  (``scaled+knn``, ``rapp+knn``, ...), standardised as ``rapp+code`` is, it ensembles the two:
  the network sees what lies off the normal data's shape, the distance what lies far from any
  normal sample (ADBench's one-class tables: kNN is the detector to beat). The training samples
  it measures against (at most ``REFERENCE_ROWS`` of them, drawn once) are saved with the
  detector (``reference.npy``).
- ``ecod``: ECOD's tail probabilities (:mod:`autoencoders.anomaly.tails`) of each input among the
  same reference samples, summed over the inputs; like ``knn`` a partner in a sum (``scaled+ecod``,
  ...): on a small table whose anomalies lie out along single columns, a distance over every
  column and a network fitted on some fifty rows miss what a per-column tail sees (wine with class
  1 normal: docs/anomaly-scores.md, "Ensembles with ECOD").
- ``auto``: each of the above is ranked on the validation split (normal samples against the
  validation anomalies) and the best one is used; where validation ranks several alike (a small
  validation split often separates perfectly under many), the one whose anomalies lie furthest
  above the normal samples (:func:`separation_margin`); where there are no validation anomalies,
  the ``anomaly.fallback`` score (``rapp``; tables: ``scaled``).
  Model selection on validation data only: the test set is never looked at.

What a score learned (the code statistics, the standardisation) is plain JSON numbers, so that the
deployed detector scores exactly as the run was evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from autoencoders.anomaly.detector import kth_neighbour_distances, squared_errors
from autoencoders.anomaly.rapp import rapp_layer_terms, rapp_passes, rapp_scores
from autoencoders.anomaly.tails import Tails
from autoencoders.data.splits import Splits
from autoencoders.models.codec import TorchCodec

if TYPE_CHECKING:  # scikit-learn is imported where a score needs it: scoring with rapp never does
    from sklearn.neighbors import NearestNeighbors

#: The settings of ``anomaly.score``.
SCORES = (
    "auto",
    "reconstruction",
    "scaled",
    "peak",
    "rapp",
    "rapp_hidden",
    "code",
    "rapp+code",
    *(
        f"{score}+{partner}"
        for partner in ("knn", "ecod")
        for score in ("reconstruction", "scaled", "peak", "rapp", "rapp_hidden")
    ),
)
#: ``knn``: the neighbour whose distance counts (the kNN baseline's default k).
NEIGHBOURS = 5
#: ``knn``: at most this many training samples to measure against (a seeded draw beyond it): every
#: score then costs the same per sample whatever the training set's size, and the saved reference
#: stays small.
REFERENCE_ROWS = 10_000
#: What ``auto`` chooses among, in order of preference where validation ranks them equal.
CANDIDATES = (
    "rapp",
    "rapp_hidden",
    "reconstruction",
    "scaled",
    "peak",
    "rapp+code",
    "code",
    *(name for name in SCORES if name.endswith(("+knn", "+ecod"))),
)


@dataclass
class ScoreSpec:
    """One concrete anomaly score and what it learned from the training and validation samples."""

    name: str  # reconstruction, rapp, rapp_hidden, code or rapp+code
    code_mean: list[float] | None = None
    code_precision: list[list[float]] | None = None
    #: ``rapp_hidden``: the mean over the training samples of each RaPP term inside the network.
    layer_means: list[float] | None = None
    #: ``scaled``: per input feature, 1 / the mean over the training samples of its column's error.
    feature_weights: list[float] | None = None
    #: Per part of a sum: the standard deviation of its normal validation scores.
    scales: dict[str, float] | None = None
    #: ``knn``, ``ecod``: the training samples, flat (saved as a file beside the JSON, not in it).
    reference: np.ndarray | None = field(default=None, repr=False)

    @property
    def parts(self) -> list[str]:
        return self.name.split("+")

    @cached_property
    def neighbour_index(self) -> NearestNeighbors:
        """``knn``: the index over ``reference``, built once per spec, not once per call."""
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=min(NEIGHBOURS, len(self.reference))).fit(self.reference)

    @cached_property
    def tails(self) -> Tails:
        """``ecod``: the tails of ``reference``, sorted once per spec."""
        return Tails.of(self.reference)

    def to_json(self) -> dict[str, Any]:
        stored = {key: getattr(self, key) for key in self.__dataclass_fields__ if key != "reference"}
        return {key: value for key, value in stored.items() if value is not None}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ScoreSpec:
        return cls(**stored)


@dataclass(frozen=True)
class Passes:
    """What the network made of some samples already, so that a score does not make it again:
    their reconstructions, and where the caller has them, their codes and RaPP's terms."""

    reconstruction: np.ndarray
    codes: np.ndarray | None = None
    rapp_terms: np.ndarray | None = None


def anomaly_scores(
    spec: ScoreSpec, codec: TorchCodec, x: np.ndarray, reconstruction: np.ndarray | Passes | None = None
) -> np.ndarray:
    """The anomaly score ``spec`` of ``x`` under the autoencoder ``codec``; ``reconstruction``: its
    reconstructions (or :class:`Passes`) where the caller has them already, so that the network
    does not make them again."""
    passes = (
        reconstruction
        if isinstance(reconstruction, Passes) or reconstruction is None
        else Passes(reconstruction)
    )
    if len(spec.parts) == 1:
        return score_part(spec, spec.name, codec, x, passes)
    scales = spec.scales or {}
    return sum(score_part(spec, name, codec, x, passes) / scales[name] for name in spec.parts)


def needs_rapp_terms(spec: ScoreSpec) -> bool:
    return any(part in ("rapp", "rapp_hidden") for part in spec.parts)


def score_part(
    spec: ScoreSpec, name: str, codec: TorchCodec, x: np.ndarray, passes: Passes | None = None
) -> np.ndarray:
    """One part of a (summed) score, unscaled."""
    module = codec.module
    reconstruction = passes.reconstruction if passes is not None else None
    terms = passes.rapp_terms if passes is not None else None
    if name in ("reconstruction", "scaled", "peak"):
        rebuilt = codec.decode(codec.encode(x)) if reconstruction is None else reconstruction
        if name == "reconstruction":
            return squared_errors(x, rebuilt)
        errors = (x - rebuilt).reshape(len(x), -1).astype(np.float64) ** 2
        return errors.max(axis=1) if name == "peak" else errors @ np.asarray(spec.feature_weights)
    if name == "rapp":
        return terms.sum(1) if terms is not None else rapp_scores(module, x, reconstruction=reconstruction)
    if name == "knn":
        return kth_neighbour_distances(spec.neighbour_index, x.reshape(len(x), -1).astype(np.float32))
    if name == "ecod":
        return spec.tails.scores(x)
    if name == "rapp_hidden":
        if terms is None:
            terms = rapp_layer_terms(module, x, reconstruction=reconstruction)
        return (terms[:, 1:] / np.asarray(spec.layer_means)).sum(1)
    codes = passes.codes if passes is not None and passes.codes is not None else codec.encode(x)
    offsets = codes.reshape(len(x), -1).astype(np.float64) - np.asarray(spec.code_mean)
    return np.einsum("ij,jk,ik->i", offsets, np.asarray(spec.code_precision), offsets)


def column_weights(errors: np.ndarray, feature_columns: Sequence[str] | None) -> list[float]:
    """Per feature, 1 / the mean training error of its column (``feature_columns``: per feature,
    its input column; None: every feature its own). A column the training samples reconstruct
    (almost) exactly counts as one with a thousandth of the average column's error."""
    columns = np.asarray(feature_columns if feature_columns is not None else range(errors.shape[1]))
    _, column_of = np.unique(columns, return_inverse=True)
    means = np.bincount(column_of, weights=errors.mean(0))  # a column's error: its features' sum
    means = means + 1e-3 * means.mean() + 1e-12
    return (1.0 / means[column_of]).tolist()


def fit_score(
    name: str,
    codec: TorchCodec,
    splits: Splits,
    feature_columns: Sequence[str] | None = None,
    fallback: str = "rapp",
) -> ScoreSpec:
    """The score ``name`` fitted on ``splits`` (``auto``: the best candidate on validation, or
    ``fallback`` without validation anomalies); ``feature_columns``: a table's input column per
    feature, which ``scaled`` weighs by."""
    if name == "auto":
        return choose_score(codec, splits, feature_columns, fallback)
    spec = fit_parts(ScoreSpec(name), codec, splits, feature_columns)
    if len(spec.parts) > 1:
        spec.scales = part_spreads({part: score_part(spec, part, codec, splits.val) for part in spec.parts})
    return spec


def fit_parts(
    spec: ScoreSpec, codec: TorchCodec, splits: Splits, feature_columns: Sequence[str] | None
) -> ScoreSpec:
    """What each part of ``spec`` learns from the training samples, filled in."""
    if "scaled" in spec.parts:
        rebuilt = codec.decode(codec.encode(splits.train))
        errors = (splits.train - rebuilt).reshape(len(splits.train), -1).astype(np.float64) ** 2
        spec.feature_weights = column_weights(errors, feature_columns)
    if "rapp_hidden" in spec.parts:
        means = rapp_layer_terms(codec.module, splits.train)[:, 1:].mean(0)
        # A unit dead on every training sample has mean 0: its term is then left unscaled.
        spec.layer_means = [float(mean) or 1.0 for mean in means]
    if "knn" in spec.parts or "ecod" in spec.parts:
        spec.reference = knn_reference(splits.train)
    if "code" in spec.parts:
        from sklearn.covariance import EmpiricalCovariance

        codes = codec.encode(splits.train).reshape(len(splits.train), -1).astype(np.float64)
        covariance = EmpiricalCovariance().fit(codes)  # its precision is a pseudo-inverse: never singular
        spec.code_mean = covariance.location_.tolist()
        spec.code_precision = covariance.precision_.tolist()
    return spec


#: What each part of a score learned, by the part that needs it.
PART_STATE = {
    "scaled": ("feature_weights",),
    "rapp_hidden": ("layer_means",),
    "knn": ("reference",),
    "ecod": ("reference",),
    "code": ("code_mean", "code_precision"),
}


def knn_reference(train: np.ndarray) -> np.ndarray:
    """The training samples ``knn`` measures against, flat: all of them up to
    :data:`REFERENCE_ROWS`, else that many drawn with a fixed seed (the same run, the same draw)."""
    flat = train.reshape(len(train), -1)
    if len(flat) > REFERENCE_ROWS:
        kept = np.random.default_rng(0).choice(len(flat), REFERENCE_ROWS, replace=False)
        flat = flat[np.sort(kept)]
    return flat.astype(np.float32)


def choose_score(
    codec: TorchCodec, splits: Splits, feature_columns: Sequence[str] | None, fallback: str
) -> ScoreSpec:
    """``auto``: the candidate whose validation AUROC is highest; of equals, the one with the widest
    :func:`separation_margin`; of equals on both, the first.

    Each part (``rapp``, ``knn``, ...) is fitted and measured on the validation samples once, however
    many candidates sum it, and the network makes its codes, reconstructions and RaPP terms of the
    validation samples once: the chosen score is the one :func:`fit_score` of its name fits."""
    if splits.val_anomalies is None or not len(splits.val_anomalies) or not len(splits.val):
        return fit_score(fallback, codec, splits, feature_columns)
    every_part = fit_parts(ScoreSpec(EVERY_PART), codec, splits, feature_columns)
    normal, anomalous = (part_scores(every_part, codec, x) for x in (splits.val, splits.val_anomalies))
    spread = part_spreads(normal)

    best, best_rank = CANDIDATES[0], (-1.0, -np.inf)
    for name in CANDIDATES:
        parts = name.split("+")
        rank_normal, rank_anomalous = (summed_scores(scores, parts, spread) for scores in (normal, anomalous))
        rank = (separation_auroc(rank_normal, rank_anomalous), separation_margin(rank_normal, rank_anomalous))
        if rank > best_rank:
            best, best_rank = name, rank
    chosen = ScoreSpec(best)
    for part in chosen.parts:
        for key in PART_STATE.get(part, ()):
            setattr(chosen, key, getattr(every_part, key))
    if len(chosen.parts) > 1:
        chosen.scales = {part: spread[part] for part in chosen.parts}
    return chosen


#: Every part any candidate sums, as one spec's name: fitted and scored once for all of them.
EVERY_PART = "+".join(dict.fromkeys(part for name in CANDIDATES for part in name.split("+")))


def part_spreads(normal: dict[str, np.ndarray]) -> dict[str, float]:
    """Per part, the standard deviation of its scores of the normal validation samples: what a
    sum divides each part by."""
    return {part: float(scores.std()) or 1.0 for part, scores in normal.items()}


def summed_scores(scores: dict[str, np.ndarray], parts: list[str], spread: dict[str, float]) -> np.ndarray:
    """A candidate's scores from its parts' (:func:`part_scores`): one part as it is, a sum of
    several each over its ``spread``."""
    return scores[parts[0]] if len(parts) == 1 else sum(scores[part] / spread[part] for part in parts)


def part_scores(spec: ScoreSpec, codec: TorchCodec, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each part of ``spec`` on ``x``, unscaled, from one pass of the network."""
    passes = network_passes(codec, x, with_rapp_terms=True)
    return {part: score_part(spec, part, codec, x, passes) for part in spec.parts}


def network_passes(codec: TorchCodec, x: np.ndarray, with_rapp_terms: bool) -> Passes:
    """The codes and reconstructions of ``x``, and RaPP's terms where asked, the encoder run once."""
    if with_rapp_terms:
        codes, reconstruction, terms = rapp_passes(codec.module, x, codec.batch_size)
        return Passes(reconstruction, codes, terms)
    codes = codec.encode(x)
    return Passes(codec.decode(codes), codes)


def separation_margin(normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> float:
    """How far the lowest-scoring anomaly lies above the highest-scoring normal sample, in standard
    deviations of the normal scores (negative where they overlap): what tells apart scores that
    rank a small validation split equally well (measured: docs/anomaly-scores.md, "How auto chooses")."""
    spread = float(np.std(normal_scores)) or 1.0
    return (float(np.min(anomalous_scores)) - float(np.max(normal_scores))) / spread


def separation_auroc(normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> float:
    """How well the scores rank anomalous samples above normal ones (anomalies positive); shared by
    the per-epoch ``val/auroc`` the checkpoint monitors and the final one, so that they agree."""
    from sklearn.metrics import roc_auc_score

    is_anomaly = np.r_[np.zeros(len(normal_scores), bool), np.ones(len(anomalous_scores), bool)]
    return float(roc_auc_score(is_anomaly, np.concatenate([normal_scores, anomalous_scores])))
