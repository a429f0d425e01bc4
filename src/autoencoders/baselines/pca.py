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


class LinearCodec:
    """A fitted PCA as plain arrays: ``encode`` projects onto the components, ``decode`` maps back.
    What the deployed detector of a PCA run holds (no scikit-learn object to unpickle)."""

    def __init__(self, mean: np.ndarray, components: np.ndarray, sample_shape: tuple[int, ...]) -> None:
        self.mean, self.components, self.sample_shape = mean, components, tuple(sample_shape)

    @classmethod
    def of(cls, baseline: PCABaseline) -> LinearCodec:
        if baseline.pca is None:
            raise RuntimeError("LinearCodec.of an unfitted PCABaseline")
        return cls(baseline.pca.mean_, baseline.pca.components_, baseline.sample_shape)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "components": self.components}

    def encode(self, x: np.ndarray) -> np.ndarray:
        return (x.reshape(len(x), -1).astype(np.float64) - self.mean) @ self.components.T

    def decode(self, code: np.ndarray) -> np.ndarray:
        return (code @ self.components + self.mean).reshape(len(code), *self.sample_shape)
