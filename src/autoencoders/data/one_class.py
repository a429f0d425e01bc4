"""One-class splits of a user's own data: training and validation see normal samples only, the
anomalies are shared between validation (model selection, thresholds) and the test set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoencoders.data.base import Splits
from autoencoders.errors import ConfigError


@dataclass(frozen=True)
class OneClassIndices:
    """Row indices of each split, each sorted."""

    train: np.ndarray
    val: np.ndarray
    test_normal: np.ndarray
    val_anomalies: np.ndarray
    test_anomalies: np.ndarray


def one_class_split(
    is_anomaly: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    anomaly_val_fraction: float,
    seed: int,
    what: str,
) -> OneClassIndices:
    """Split normal samples into train / validation / test by ``val_fraction`` and
    ``test_fraction``, and anomalies into validation / test by ``anomaly_val_fraction``: each class
    apart (stratified), reproducible from ``seed``. ``what`` names the data in the error raised when
    a split would be empty."""
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(~is_anomaly))
    anomalous = rng.permutation(np.flatnonzero(is_anomaly))
    n_test, n_val = round(test_fraction * len(normal)), round(val_fraction * len(normal))
    parts = {
        "train": normal[n_test + n_val :],
        "validation": normal[n_test : n_test + n_val],
        "test": normal[:n_test],
    }
    if any(len(part) == 0 for part in parts.values()):
        counts = ", ".join(f"{name} {len(part)}" for name, part in parts.items())
        raise ConfigError(
            f"{what}: {len(normal)} normal samples are too few for the splits ({counts}; each needs at "
            "least one): add normal samples or change dataset.val_fraction / dataset.test_fraction"
        )
    n_val_anomalies = round(anomaly_val_fraction * len(anomalous))
    if len(anomalous) >= 2:  # both validation and test get some
        n_val_anomalies = min(max(n_val_anomalies, 1), len(anomalous) - 1)
    return OneClassIndices(
        train=np.sort(parts["train"]),
        val=np.sort(parts["validation"]),
        test_normal=np.sort(parts["test"]),
        val_anomalies=np.sort(anomalous[:n_val_anomalies]),
        test_anomalies=np.sort(anomalous[n_val_anomalies:]),
    )


def one_class_splits(
    samples: np.ndarray,
    is_anomaly: np.ndarray,
    indices: OneClassIndices,
    ids: np.ndarray | None = None,
    masks: np.ndarray | None = None,
) -> Splits:
    """The :class:`Splits` of ``samples`` (float32) for ``indices``: the test set holds its normal
    samples first, then its anomalies; labels are 1 for anomalous, 0 for normal; ``ids`` (a
    table's row numbers) and ``masks`` (images' defect masks, one per sample) follow the test
    samples in the same order."""
    test = np.concatenate([indices.test_normal, indices.test_anomalies])
    samples = samples.astype(np.float32, copy=False)
    return Splits(
        train=samples[indices.train],
        val=samples[indices.val],
        test=samples[test],
        test_is_anomaly=is_anomaly[test],
        test_labels=is_anomaly[test].astype(np.int64),
        val_anomalies=samples[indices.val_anomalies] if len(indices.val_anomalies) else None,
        test_ids=None if ids is None else ids[test],
        test_masks=None if masks is None else masks[test],
    )
