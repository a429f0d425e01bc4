"""One evaluation for every detector (:mod:`autoencoders.anomaly.detector`): the same anomaly
metrics for all, and reconstruction metrics for those that reconstruct (autoencoders, PCA), so
that their numbers are comparable by construction. Arrays are numpy in, numpy out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from autoencoders.anomaly.detector import AnomalyDetector, reconstructs, squared_errors
from autoencoders.anomaly.scores import separation_auroc
from autoencoders.data.splits import SeriesLayout, Splits
from autoencoders.evaluation.pixels import pixel_errors, pixel_metrics
from autoencoders.evaluation.points import PointScorer
from autoencoders.evaluation.series import series_metrics
from autoencoders.evaluation.thresholds import choose_threshold, contamination_threshold


def notebook_rmse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """The notebook's RMSE: ``sqrt(sum((x - x_hat)**2) / n)``, summed over features, over samples."""
    return float(np.sqrt(squared_errors(x, x_hat).sum() / len(x)))


@dataclass
class Evaluation:
    """Metrics and the arrays the figures are drawn from."""

    metrics: dict[str, float]
    threshold: float  # the detector's, chosen on validation (or training) scores
    test_scores: np.ndarray
    notes: dict[str, str] = field(default_factory=dict)
    threshold_rule: str = ""  # how the threshold was chosen, on how many scores
    # Detectors that reconstruct (autoencoders, PCA); None for the others (kNN, IsolationForest):
    train_codes: np.ndarray | None = None
    train_reconstructions: np.ndarray | None = None
    test_codes: np.ndarray | None = None
    test_reconstructions: np.ndarray | None = None
    # Series: the test windows' own scores (test_scores are then the time points')
    test_window_scores: np.ndarray | None = None
    point_scorer: PointScorer | None = None  # series: how the points' scores came (anomaly.point_score)


def evaluate(
    detector: AnomalyDetector,
    splits: Splits,
    threshold_quantile: float,
    contamination: float,
    threshold_rule: str = "auto",
    point_score: str = "auto",
) -> Evaluation:
    """The metrics of a fitted ``detector``, whose ``threshold_`` it sets.

    Anomaly metrics for every detector: ``test/auroc`` and ``test/aupr`` rank normal against
    anomalous test samples (anomalies positive); ``val/auroc`` does so on validation data, for model
    selection; the ``threshold`` is chosen on validation scores by ``threshold_rule``
    (:mod:`autoencoders.evaluation.thresholds`: F1-optimal where validation has anomalies, else the
    ``threshold_quantile`` of its normal scores; the test set is never looked at), and
    ``test/precision``, ``test/recall``, ``test/f1`` and the confusion counts are measured at it.
    With ``contamination`` above 0 (the expected share of anomalies in unlabelled training data)
    the threshold is instead the ``1 - contamination`` quantile of the training samples' scores,
    PyOD's rule: the validation rows are as unclean (after ``anomaly.trim``, of every training
    sample, the trimmed ones too). ``threshold_rule`` on the evaluation says which, on how many.

    A reconstructing detector (:func:`reconstructs`) adds ``train/rmse``, and ``test/rmse`` and
    ``test/mse`` on the normal test samples only (anomalies are meant to reconstruct badly); its
    score is given the test reconstructions made here rather than making them again. Where the
    test images have defect masks it adds ``test/pixel_auroc`` and ``test/pixel_aupro``
    (:mod:`autoencoders.evaluation.pixels`).

    A series (``splits.series``) is scored per time point (``test_scores``; the windows' own
    scores in ``test_window_scores``), as ``point_score`` says (:mod:`autoencoders.evaluation.points`):
    the anomaly metrics and the threshold's counts are the points', the threshold is chosen on the
    validation part's points, and ``test/vus_pr``, ``test/range_f1`` and the interval counts are added
    (:mod:`autoencoders.evaluation.series`); the reconstruction metrics stay the windows'.
    """
    metrics: dict[str, float] = {}
    evaluation = Evaluation(metrics, threshold=0.0, test_scores=np.empty(0))
    if reconstructs(detector):
        evaluation.train_codes = detector.encode(splits.train)
        evaluation.train_reconstructions = detector.decode(evaluation.train_codes)
        evaluation.test_codes = detector.encode(splits.test)
        evaluation.test_reconstructions = detector.decode(evaluation.test_codes)
        errors = squared_errors(splits.test, evaluation.test_reconstructions)
        normal = ~splits.test_is_anomaly
        n_features = int(np.prod(splits.test.shape[1:]))
        metrics["train/rmse"] = notebook_rmse(splits.train, evaluation.train_reconstructions)
        metrics["test/rmse"] = notebook_rmse(splits.test[normal], evaluation.test_reconstructions[normal])
        metrics["test/mse"] = float(errors[normal].mean() / n_features)
        scores = detector.decision_function(splits.test, evaluation.test_reconstructions)
        if splits.test_masks is not None:  # images with defect masks: where the error lies
            metrics |= pixel_metrics(
                splits.test_masks, pixel_errors(splits.test, evaluation.test_reconstructions)
            )
    else:
        scores = detector.decision_function(splits.test)
    evaluation.test_scores = scores
    labels = splits.test_is_anomaly
    if splits.series is not None:  # a series: each time point's score, from its windows
        layout, evaluation.test_window_scores = splits.series, scores
        evaluation.point_scorer = PointScorer.fit(point_score, detector, splits.train)
        labels = layout.test.labels
        evaluation.test_scores = evaluation.point_scorer.score(
            detector, splits.test, layout.test.starts, len(labels), evaluation.test_reconstructions
        )
    has_anomalies = bool(labels.any() and not labels.all())
    if has_anomalies:
        metrics["test/auroc"] = float(roc_auc_score(labels, evaluation.test_scores))
        metrics["test/aupr"] = float(average_precision_score(labels, evaluation.test_scores))
    else:
        evaluation.notes["anomaly_detection"] = (
            "skipped: the test set has no normal samples"
            if labels.all()
            else "skipped: the test set has no anomalies (every class is normal)"
        )
    val_scores = detector.decision_function(splits.val)
    val_anomaly_scores = None
    if splits.val_anomalies is not None and len(splits.val_anomalies) and len(splits.val):
        val_anomaly_scores = detector.decision_function(splits.val_anomalies)
        metrics["val/auroc"] = separation_auroc(val_scores, val_anomaly_scores)
    if splits.series is not None:  # the threshold applies to points: chosen on the validation points
        val_scores, val_anomaly_scores = validation_points(detector, splits.series, evaluation.point_scorer)
    if contamination > 0:
        chosen = contamination_threshold(detector.decision_function(splits.threshold_train), contamination)
    else:
        chosen = choose_threshold(threshold_rule, val_scores, val_anomaly_scores, threshold_quantile)
    detector.threshold_ = evaluation.threshold = chosen.value
    evaluation.threshold_rule = chosen.rule
    metrics["threshold"] = evaluation.threshold
    if has_anomalies:
        flagged = evaluation.test_scores > evaluation.threshold
        metrics |= detection_counts(labels, flagged)
        if splits.series is not None:
            metrics |= series_metrics(labels, evaluation.test_scores, flagged, splits.series.window)
    return evaluation


def validation_points(
    detector: AnomalyDetector, layout: SeriesLayout, scorer: PointScorer
) -> tuple[np.ndarray, np.ndarray | None]:
    """The validation part's point scores, normal points and anomalous points apart."""
    part = layout.val
    points = scorer.score(detector, part.windows, part.starts, len(part.labels))
    return points[~part.labels], points[part.labels] if part.labels.any() else None


def detection_counts(is_anomaly: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and the confusion counts of flagging at the threshold, anomalies positive."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        is_anomaly, flagged, average="binary", zero_division=0
    )
    tn, fp, fn, tp = confusion_matrix(is_anomaly, flagged, labels=[False, True]).ravel()
    return {
        "test/precision": float(precision),
        "test/recall": float(recall),
        "test/f1": float(f1),
        "test/true_positives": float(tp),
        "test/false_positives": float(fp),
        "test/true_negatives": float(tn),
        "test/false_negatives": float(fn),
    }
