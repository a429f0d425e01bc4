"""PCA as a detector: scikit-learn's PCA behind the ``encode``/``decode`` the autoencoders offer,
scored by the squared reconstruction error."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.decomposition import PCA

from autoencoders.anomaly.detector import flat, squared_errors
from autoencoders.baselines.skops_io import SklearnDetector
from autoencoders.errors import ConfigError
from autoencoders.util.params import POSITIVE_INT, check_params


class PCADetector(SklearnDetector):
    """Linear encoder (projection onto the ``n_components`` leading components) and decoder
    (back-projection). Any sample shape: samples are flattened for PCA and reshaped on the way back."""

    name: ClassVar[str] = "pca"
    _parameter_constraints: ClassVar[dict] = {"n_components": POSITIVE_INT}

    def __init__(self, n_components: int) -> None:
        check_params(self._parameter_constraints, locals())
        self.n_components = n_components

    @property
    def code_dim(self) -> int:
        return self.n_components

    @property
    def run_name(self) -> str:
        return f"pca k={self.n_components}"

    @property
    def label(self) -> str:
        return f"PCA ({self.n_components})"

    def fit(self, x: np.ndarray) -> PCADetector:
        data = flat(x)
        if self.n_components > min(data.shape):
            raise ConfigError(
                f"n_components={self.n_components} is more than PCA can fit on {data.shape[0]} samples "
                f"of {data.shape[1]} features"
            )
        self.sample_shape_ = tuple(int(size) for size in x.shape[1:])
        self.pca_ = PCA(self.n_components, svd_solver="full").fit(data)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.pca_.transform(flat(x))

    def decode(self, code: np.ndarray) -> np.ndarray:
        return self.pca_.inverse_transform(code).reshape(len(code), *self.sample_shape_)

    def decision_function(self, x: np.ndarray, reconstruction: np.ndarray | None = None) -> np.ndarray:
        """The squared reconstruction error; ``reconstruction``: where the caller has made it already."""
        return squared_errors(x, self.decode(self.encode(x)) if reconstruction is None else reconstruction)
