"""One evaluation for every model: anything with ``encode`` and ``decode`` gets the same metrics.

The autoencoder and the PCA baseline both go through :func:`evaluate`, so their numbers are
comparable by construction. Arrays are numpy in, numpy out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from autoencoders.data.base import Splits


class Codec(Protocol):
    """What the evaluation needs of a model: samples to codes and codes back to samples."""

    def encode(self, x: np.ndarray) -> np.ndarray: ...

    def decode(self, code: np.ndarray) -> np.ndarray: ...


class TorchCodec:
    """numpy adapter over a torch module with ``encode``/``decode``: eval mode, no grad, batched."""

    def __init__(self, module: torch.nn.Module, batch_size: int = 4096) -> None:
        self.module = module
        self.batch_size = batch_size

    def _apply(self, method_name: str, array: np.ndarray) -> np.ndarray:
        was_training = self.module.training
        self.module.eval()
        device = next(self.module.parameters()).device
        method = getattr(self.module, method_name)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(array), self.batch_size):
                chunk = torch.as_tensor(array[start : start + self.batch_size], dtype=torch.float32)
                outputs.append(method(chunk.to(device)).float().cpu().numpy())
        self.module.train(was_training)
        return np.concatenate(outputs) if outputs else np.empty((0,))

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self._apply("encode", x)

    def decode(self, code: np.ndarray) -> np.ndarray:
        return self._apply("decode", code)


def squared_errors(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Per-sample squared reconstruction error, summed over features: the anomaly score."""
    diff = (x - x_hat).reshape(len(x), -1).astype(np.float64)
    return (diff**2).sum(axis=1)


def notebook_rmse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """The notebook's RMSE: ``sqrt(sum((x - x_hat)**2) / n)``, summed over features, over samples."""
    return float(np.sqrt(squared_errors(x, x_hat).sum() / len(x)))


@dataclass
class Evaluation:
    """Metrics and the arrays the figures are drawn from."""

    metrics: dict[str, float]
    threshold: float  # the detector's: a quantile of the normal validation samples' scores
    test_scores: np.ndarray
    notes: dict[str, str] = field(default_factory=dict)
    # Models that reconstruct (autoencoders, PCA); None for scorers such as kNN:
    train_codes: np.ndarray | None = None
    train_reconstructions: np.ndarray | None = None
    test_codes: np.ndarray | None = None
    test_reconstructions: np.ndarray | None = None


def evaluate(
    codec: Codec, splits: Splits, threshold_quantile: float = 0.99, scorer: CodecScorer | None = None
) -> Evaluation:
    """Reconstruction metrics on the training and normal test samples, anomaly metrics on the test set.

    ``test/rmse`` and ``test/mse`` use the normal test samples only: anomalies are meant to
    reconstruct badly. The anomaly score (:func:`detection`) is ``scorer``'s (an autoencoder's
    fitted ``anomaly.score``, :mod:`autoencoders.anomaly.scores`), by default the squared
    reconstruction error; either way it is given the test reconstructions made here rather than
    making them again.
    """
    train_codes = codec.encode(splits.train)
    train_reconstructions = codec.decode(train_codes)
    test_codes = codec.encode(splits.test)
    test_reconstructions = codec.decode(test_codes)
    scores = squared_errors(splits.test, test_reconstructions)
    normal = ~splits.test_is_anomaly
    n_features = int(np.prod(splits.test.shape[1:]))
    metrics = {
        "train/rmse": notebook_rmse(splits.train, train_reconstructions),
        "test/rmse": notebook_rmse(splits.test[normal], test_reconstructions[normal]),
        "test/mse": float(scores[normal].mean() / n_features),
    }
    if scorer is None:
        evaluation = detection(ReconstructionScorer(codec), splits, threshold_quantile, scores)
    else:
        test_scores = scorer.score(splits.test, test_reconstructions)
        evaluation = detection(scorer, splits, threshold_quantile, test_scores)
    evaluation.metrics = metrics | evaluation.metrics
    evaluation.train_codes, evaluation.train_reconstructions = train_codes, train_reconstructions
    evaluation.test_codes, evaluation.test_reconstructions = test_codes, test_reconstructions
    return evaluation


class Scorer(Protocol):
    """A detector that scores samples, higher for more anomalous ones."""

    def score(self, x: np.ndarray) -> np.ndarray: ...


class CodecScorer(Protocol):
    """An encode/decode model's score, which can take the samples' reconstructions where the caller
    has made them already (:class:`autoencoders.anomaly.scores.AutoencoderScorer`)."""

    def score(self, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray: ...


def rapp_scores(
    module: torch.nn.Module, x: np.ndarray, batch_size: int = 4096, reconstruction: np.ndarray | None = None
) -> np.ndarray:
    """RaPP's simple aggregation (Kim et al., ICLR 2020): the squared differences between a sample
    and its reconstruction, both passed through the encoder, summed over the input, every hidden
    activation and the code. No retraining: a normal sample and its reconstruction agree deep in
    the network too, an anomaly's reconstruction drifts apart on the way."""
    return rapp_layer_terms(module, x, batch_size, reconstruction).sum(1)


def rapp_layer_terms(
    module: torch.nn.Module, x: np.ndarray, batch_size: int = 4096, reconstruction: np.ndarray | None = None
) -> np.ndarray:
    """RaPP's terms apart: one column per place (the input, after each encoder activation, the
    code), each the squared difference between the sample's and its reconstruction's values there.
    ``reconstruction``: the samples' reconstructions where the caller has them already."""
    module.eval()
    device = next(module.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, max(len(x), 1), batch_size):  # no samples: one empty batch, no rows
            batch = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32, device=device)
            if reconstruction is None:
                rebuilt = module.decode(module.encode(batch))
            else:
                rebuilt = torch.as_tensor(
                    reconstruction[start : start + batch_size], dtype=torch.float32, device=device
                )
            out.append(rapp_batch_terms(module, batch, rebuilt).double().cpu().numpy())
    return np.concatenate(out)


def rapp_batch(module: torch.nn.Module, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """:func:`rapp_scores` of one batch of tensors, given its reconstruction (the training loop's
    per-epoch ``val/auroc`` scores with it too)."""
    return rapp_batch_terms(module, x, reconstruction).sum(1)


def rapp_batch_terms(module: torch.nn.Module, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """:func:`rapp_layer_terms` of one batch of tensors, given its reconstruction."""
    layers = [m for m in module.encoder.modules() if not list(m.children())]  # the leaves, in order
    plain = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Flatten)  # measured after their activation
    h, r = x, reconstruction
    terms = [((h - r) ** 2).flatten(1).sum(1)]
    for i, layer in enumerate(layers):
        h, r = layer(h), layer(r)
        if i == len(layers) - 1 or not isinstance(layer, plain):
            terms.append(((h - r) ** 2).flatten(1).sum(1))  # after each activation, and the code
    return torch.stack(terms, 1)


class ReconstructionScorer:
    """The autoencoders' and PCA's anomaly score: the squared reconstruction error."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def score(self, x: np.ndarray) -> np.ndarray:
        return squared_errors(x, self.codec.decode(self.codec.encode(x)))


def detection(
    scorer: Scorer, splits: Splits, threshold_quantile: float = 0.99, test_scores: np.ndarray | None = None
) -> Evaluation:
    """The anomaly metrics of any scorer: ``test/auroc`` and ``test/aupr`` rank normal against
    anomalous test samples (anomalies positive); ``val/auroc`` does so on validation data, for
    model selection; the ``threshold`` is the ``threshold_quantile`` of the normal validation
    samples' scores (the test set is never looked at), and ``test/precision``, ``test/recall``,
    ``test/f1`` and the confusion counts are measured at it."""
    scores = scorer.score(splits.test) if test_scores is None else test_scores
    metrics, notes = {}, {}
    if splits.has_anomalies:
        metrics["test/auroc"] = float(roc_auc_score(splits.test_is_anomaly, scores))
        metrics["test/aupr"] = float(average_precision_score(splits.test_is_anomaly, scores))
    else:
        notes["anomaly_detection"] = (
            "skipped: the test set has no normal samples"
            if splits.test_is_anomaly.all()
            else "skipped: the test set has no anomalies (every class is normal)"
        )
    val_scores = scorer.score(splits.val)
    if splits.val_anomalies is not None and len(splits.val):
        metrics["val/auroc"] = separation_auroc(val_scores, scorer.score(splits.val_anomalies))
    threshold = float(np.quantile(val_scores, threshold_quantile))
    metrics["threshold"] = threshold
    if splits.has_anomalies:
        metrics |= detection_counts(splits.test_is_anomaly, scores > threshold)
    return Evaluation(metrics=metrics, threshold=threshold, test_scores=scores, notes=notes)


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


def separation_auroc(normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> float:
    """How well the scores rank anomalous samples above normal ones (anomalies positive); shared by
    the per-epoch ``val/auroc`` the checkpoint monitors and the final one, so that they agree."""
    is_anomaly = np.r_[np.zeros(len(normal_scores), bool), np.ones(len(anomalous_scores), bool)]
    return float(roc_auc_score(is_anomaly, np.concatenate([normal_scores, anomalous_scores])))
