"""The PCA baseline: scikit-learn's PCA behind the same ``encode``/``decode`` the autoencoders offer."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from autoencoders.errors import ConfigError


class PCABaseline:
    """Linear encoder (projection onto the leading components) and decoder (back-projection).

    Works on any sample shape: samples are flattened for PCA and reshaped on the way back.
    """

    name = "pca"

    def __init__(self, n_components: int) -> None:
        self.n_components = n_components
        self.pca: PCA | None = None
        self.sample_shape: tuple[int, ...] = ()

    @property
    def code_dim(self) -> int:
        return self.n_components

    def fit(self, x: np.ndarray) -> PCABaseline:
        flat = x.reshape(len(x), -1)
        if self.n_components > min(flat.shape):
            raise ConfigError(
                f"n_components={self.n_components} is more than PCA can fit on {flat.shape[0]} samples "
                f"of {flat.shape[1]} features"
            )
        self.sample_shape = x.shape[1:]
        self.pca = PCA(self.n_components, svd_solver="full").fit(flat.astype(np.float64))
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        if self.pca is None:
            raise RuntimeError("PCABaseline.encode before fit")
        return self.pca.transform(x.reshape(len(x), -1).astype(np.float64))

    def decode(self, code: np.ndarray) -> np.ndarray:
        if self.pca is None:
            raise RuntimeError("PCABaseline.decode before fit")
        return self.pca.inverse_transform(code).reshape(len(code), *self.sample_shape)
