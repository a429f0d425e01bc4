"""Where in an image a reconstructing detector sees the anomaly, and how well that matches the
ground-truth defect masks (anomalib's pixel metrics): the per-pixel error map, pixel AUROC and AUPRO.

The pixel score is the squared reconstruction error summed over channels, whatever the run's
``anomaly.score``: it is the one score every reconstructing detector has per pixel.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

#: AUPRO integrates the PRO curve up to this false-positive rate (anomalib's default).
FPR_LIMIT = 0.3


def pixel_errors(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Per-pixel squared reconstruction error summed over channels: N x C x H x W in, N x H x W out."""
    diff = np.asarray(x, np.float64) - np.asarray(x_hat, np.float64).reshape(np.shape(x))
    return (diff**2).sum(axis=1)


def pixel_auroc(masks: np.ndarray, errors: np.ndarray) -> float:
    """ROC AUC over every pixel of every image: defect pixels (``masks`` True) positive."""
    return float(roc_auc_score(np.ravel(masks), np.ravel(errors)))


def regions(masks: np.ndarray) -> np.ndarray:
    """Each image's defects as connected components (8-connected, as anomalib's), labelled 1.. over
    the whole N x H x W stack; images are never joined to each other."""
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = True  # neighbours within the image only
    labels, _ = ndimage.label(np.asarray(masks, bool), structure=structure)
    return labels


def aupro(masks: np.ndarray, errors: np.ndarray, fpr_limit: float = FPR_LIMIT) -> float:
    """anomalib's AUPRO: the mean per-region overlap (the share of each defect region's pixels
    above a threshold) against the false-positive rate over the defect-free pixels, integrated from
    0 to ``fpr_limit`` and divided by it, so a perfect map scores 1. Every region counts the same,
    however small: a missed small scratch costs as much as a missed large stain.

    Computed as one sorted sweep over the pixels (a weighted ROC curve): a region's pixel weighs
    1 / (its region's size x the number of regions), a defect-free pixel 1 / their number."""
    labels = regions(masks).ravel()
    scores = np.ravel(errors).astype(np.float64)
    n_regions = int(labels.max())
    normal = labels == 0
    if n_regions == 0 or not normal.any():
        raise ValueError("AUPRO needs defect pixels and defect-free pixels")
    sizes = np.bincount(labels)
    overlap_weight = np.where(normal, 0.0, 1.0 / (sizes[labels] * n_regions))
    order = np.argsort(-scores, kind="stable")
    scores, overlap_weight, normal = scores[order], overlap_weight[order], normal[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # ties share a threshold
    pro = np.r_[0.0, np.cumsum(overlap_weight)[last_of_each]]
    fpr = np.r_[0.0, np.cumsum(normal)[last_of_each] / normal.sum()]
    end = np.searchsorted(fpr, fpr_limit, side="right")  # points with fpr <= limit
    if end < len(fpr):  # the curve between the last point within the limit and the next one
        step = (fpr_limit - fpr[end - 1]) / (fpr[end] - fpr[end - 1])
        fpr = np.r_[fpr[:end], fpr_limit]
        pro = np.r_[pro[:end], pro[end - 1] + step * (pro[end] - pro[end - 1])]
    return float(np.trapezoid(pro, fpr) / fpr_limit)


def pixel_metrics(masks: np.ndarray, errors: np.ndarray) -> dict[str, float]:
    """``test/pixel_auroc`` and ``test/pixel_aupro`` of the test images' error maps against their
    masks; none where the test set has no defect pixels (or nothing but)."""
    masks = np.asarray(masks, bool)
    if not masks.any() or masks.all():
        return {}
    return {"test/pixel_auroc": pixel_auroc(masks, errors), "test/pixel_aupro": aupro(masks, errors)}
