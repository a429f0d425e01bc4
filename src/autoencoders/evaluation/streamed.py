"""The test metrics of a table too large for memory (:mod:`autoencoders.data.streaming`): every
training and test row scored a chunk at a time, only one score and one label per test row kept.
The same metrics, by the same formulas, as :func:`autoencoders.evaluation.metrics.evaluate`
computes on arrays; the threshold, ``val/auroc`` and the figures stay the samples'."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from autoencoders.anomaly.detector import AnomalyDetector, reconstructs, scored_passes, squared_errors
from autoencoders.data.streaming import TEST_ANOMALY, TESTED, TRAIN
from autoencoders.evaluation.metrics import detection_counts


def streamed_metrics(
    detector: AnomalyDetector, rows: Iterable[tuple[np.ndarray, np.ndarray]], threshold: float
) -> tuple[dict[str, float], int]:
    """``test/auroc``, ``test/aupr`` and the counts at ``threshold`` over every test row, and for a
    reconstructing detector ``train/rmse`` over every training row and ``test/rmse``,
    ``test/mse`` over the normal test rows; with the number of test rows scored. ``rows``:
    (features, split codes) chunk by chunk."""
    scores, labels = [], []
    squared = {"train": 0.0, "test": 0.0}
    counted = {"train": 0, "test": 0}
    n_features = 1
    for features, codes in rows:
        tested = np.isin(codes, TESTED)
        is_anomaly = codes[tested] == TEST_ANOMALY
        if reconstructs(detector):
            n_features = int(np.prod(features.shape[1:]))
            trained = features[codes == TRAIN]
            if len(trained):
                squared["train"] += float(
                    squared_errors(trained, detector.decode(detector.encode(trained))).sum()
                )
                counted["train"] += len(trained)
            _, reconstruction, chunk_scores = scored_passes(detector, features[tested])
            squared["test"] += float(squared_errors(features[tested], reconstruction)[~is_anomaly].sum())
            counted["test"] += int((~is_anomaly).sum())
        else:
            chunk_scores = detector.decision_function(features[tested])
        scores.append(chunk_scores)
        labels.append(is_anomaly)
    test_scores, test_labels = np.concatenate(scores), np.concatenate(labels)
    metrics: dict[str, float] = {}
    if reconstructs(detector):
        metrics["train/rmse"] = float(np.sqrt(squared["train"] / max(1, counted["train"])))
        metrics["test/rmse"] = float(np.sqrt(squared["test"] / max(1, counted["test"])))
        metrics["test/mse"] = squared["test"] / max(1, counted["test"]) / n_features
    if test_labels.any() and not test_labels.all():
        metrics["test/auroc"] = float(roc_auc_score(test_labels, test_scores))
        metrics["test/aupr"] = float(average_precision_score(test_labels, test_scores))
        metrics |= detection_counts(test_labels, test_scores > threshold)
    return metrics, len(test_scores)
