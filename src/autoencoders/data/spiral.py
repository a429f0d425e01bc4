"""The reference notebook's 2-D spiral, a held-out normal test set and off-curve anomalies."""

from __future__ import annotations

import numpy as np

from autoencoders.data.base import DataKind, InMemoryDataModule, Splits, check_input_shape
from autoencoders.errors import ConfigError
from autoencoders.util.params import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE_INT, check_params

#: The notebook's box for anomalies and the error map: x in [-4, 4], y in [-3, 3].
BOX = ((-4.0, 4.0), (-3.0, 3.0))


def spiral_curve(t: np.ndarray) -> np.ndarray:
    """Points on the spiral for curve parameters ``t`` in [0, 1] (the notebook's formula)."""
    x = np.empty((len(t), 2))
    x[:, 0] = (t + 1) * np.cos(5 * t + 1.5)
    x[:, 1] = (t + 1) * np.sin(5 * t + 1.5)
    return x


def spiral_points(n: int, seed: int) -> np.ndarray:
    """``n`` points drawn exactly as the notebook does: ``default_rng(seed).uniform(0, 1, n)``."""
    t = np.random.default_rng(seed).uniform(0, 1, n)
    return spiral_curve(t)


def distance_to_spiral(points: np.ndarray, resolution: int = 4_001) -> np.ndarray:
    """Euclidean distance of each point to the spiral, against 4001 points along the curve
    (about 2 mm apart on a curve 8 units long: far finer than any margin used)."""
    from scipy.spatial import cKDTree  # scikit-learn's own dependency

    curve = spiral_curve(np.linspace(0.0, 1.0, resolution))
    # The nearest curve point by a k-d tree, not against all 4001 (0.12 s for a spiral's candidates)
    distances, _ = cKDTree(curve).query(points)
    return distances


def spiral_anomalies(n: int, seed: int, margin: float) -> np.ndarray:
    """``n`` points uniform in the notebook's box that lie farther than ``margin`` from the curve."""
    rng = np.random.default_rng(seed)
    (x_lo, x_hi), (y_lo, y_hi) = BOX
    kept: list[np.ndarray] = [np.empty((0, 2))]
    count = 0
    for round_ in range(100):
        if count >= n:
            return np.concatenate(kept)[:n]
        candidates = np.column_stack([rng.uniform(x_lo, x_hi, 2 * n), rng.uniform(y_lo, y_hi, 2 * n)])
        far = candidates[distance_to_spiral(candidates) > margin]
        kept.append(far)
        count += len(far)
        if round_ == 0 and len(far) * 100 < n:  # 100 rounds at this rate would not be enough
            break
    raise ConfigError(
        f"dataset.anomaly_margin={margin}: too little of the box [-4, 4] x [-3, 3] lies that far from "
        f"the spiral to draw {n} anomalies; use a smaller margin (the default is 0.3)"
    )


class SpiralDataModule(InMemoryDataModule):
    """Training points exactly as the notebook draws them; validation and test from other seeds."""

    kind = DataKind.POINTS
    error_map_box = BOX

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        **dict.fromkeys(("n_train", "n_val", "n_test"), POSITIVE_INT),
        **dict.fromkeys(
            ("n_anomalies", "train_seed", "val_seed", "test_seed", "anomaly_seed"), NON_NEGATIVE_INT
        ),
        "anomaly_margin": NON_NEGATIVE,
    }

    def __init__(
        self,
        *,
        name: str,
        input_shape: list[int] | tuple[int, ...],
        n_train: int,
        n_val: int,
        n_test: int,
        n_anomalies: int,
        train_seed: int,
        val_seed: int,
        test_seed: int,
        anomaly_seed: int,
        anomaly_margin: float,
        batch_size: int,
        epochs: int,
        epoch_size: int,
    ) -> None:
        check_params(self._parameter_constraints, locals())
        check_input_shape(input_shape, (2,), "the spiral")
        super().__init__(name, (2,), batch_size, train_seed, epochs, epoch_size)
        self.save_hyperparameters(logger=False)

    def build_splits(self) -> Splits:
        hp = self.hparams
        normal = spiral_points(hp.n_test, hp.test_seed)
        anomalies = spiral_anomalies(hp.n_anomalies, hp.anomaly_seed, hp.anomaly_margin)
        return Splits(
            train=spiral_points(hp.n_train, hp.train_seed),
            val=spiral_points(hp.n_val, hp.val_seed),
            test=np.concatenate([normal, anomalies]),
            test_is_anomaly=np.concatenate([np.zeros(len(normal), bool), np.ones(len(anomalies), bool)]),
        )
