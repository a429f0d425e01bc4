"""Where a detector's threshold lies, chosen without the test set, and what it was chosen on.

``anomaly.threshold``: ``f1`` takes the threshold that maximises F1 on the validation split, its
normal samples against its anomalies (anomalib's adaptive threshold); ``quantile`` takes the
``anomaly.threshold_quantile`` of the normal validation samples' scores; ``auto`` (the default) is
``f1`` where the validation split has anomalies, else ``quantile``. With ``anomaly.contamination``
above 0 the threshold is the ``1 - contamination`` quantile of the training scores (PyOD's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoencoders.errors import ConfigError

THRESHOLD_RULES = ("auto", "f1", "quantile")


@dataclass(frozen=True)
class Threshold:
    """A threshold (scores above it are anomalies) and how it was chosen, in words."""

    value: float
    rule: str


def f1_threshold(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """The threshold with the best F1 on these scores (anomalies positive), set halfway below the
    best cut so that ``score > threshold`` flags exactly the scores at or above it."""
    from sklearn.metrics import precision_recall_curve  # here: the config check imports this module

    scores = np.concatenate([normal, anomalous]).astype(np.float64)
    labels = np.concatenate([np.zeros(len(normal)), np.ones(len(anomalous))])
    precision, recall, cuts = precision_recall_curve(labels, scores)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0
    )
    best = cuts[int(np.argmax(f1[:-1]))]
    below = scores[scores < best]
    return float((best + below.max()) / 2) if len(below) else float(np.nextafter(best, -np.inf))


def choose_threshold(
    rule: str,
    val_scores: np.ndarray,
    val_anomaly_scores: np.ndarray | None,
    quantile: float,
) -> Threshold:
    """The threshold ``rule`` (``auto``, ``f1``, ``quantile``) picks from validation scores only."""
    has_anomalies = val_anomaly_scores is not None and len(val_anomaly_scores) > 0
    if rule == "f1" and not has_anomalies:
        raise ConfigError(
            "anomaly.threshold=f1 needs anomalies in the validation split; use auto or quantile"
        )
    if rule in ("f1", "auto") and has_anomalies:
        value = f1_threshold(val_scores, val_anomaly_scores)
        said = (
            f"F1-optimal on validation ({len(val_scores)} normal, {len(val_anomaly_scores)} anomalous scores)"
        )
        return Threshold(value, said)
    value = float(np.quantile(val_scores, quantile))
    said = f"{quantile:g} quantile of {len(val_scores)} normal validation scores"
    if len(val_scores) * (1 - quantile) < 5:  # fewer than five scores above it: about their maximum
        said += " (few for this quantile: about their largest)"
    return Threshold(value, said)


def contamination_threshold(train_scores: np.ndarray, contamination: float) -> Threshold:
    """PyOD's rule for unlabelled training data: the ``1 - contamination`` quantile of its scores."""
    value = float(np.quantile(train_scores, 1 - contamination))
    return Threshold(
        value, f"{1 - contamination:g} quantile of {len(train_scores)} training scores (contamination)"
    )
