"""The autoencoder as a detector: a trained network (numpy ``encode``/``decode``) and its fitted
anomaly score (``anomaly.score``, :mod:`autoencoders.anomaly.scores`).

The network is trained by Lightning (``autoencoders.training``); :meth:`AutoencoderDetector.fit`
fits the score's statistics on the training (and validation) samples. Saved as a torch
``state_dict`` loaded with ``weights_only=True`` and the score as plain JSON: nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from autoencoders.anomaly.detector import AnomalyDetector
from autoencoders.anomaly.scores import (
    SCORES,
    Passes,
    ScoreSpec,
    anomaly_scores,
    fit_score,
    needs_rapp_terms,
    network_passes,
)
from autoencoders.data.splits import Splits
from autoencoders.models.codec import TorchCodec
from autoencoders.registry import NETWORKS
from autoencoders.util.params import Options, check_params

WEIGHTS_FILE = "weights.pt"
#: A ``knn`` or ``ecod`` score's training samples, read back with ``allow_pickle=False``.
REFERENCE_FILE = "reference.npy"


class AutoencoderDetector(AnomalyDetector):
    """A torch autoencoder ``net`` scored by ``score`` (a setting of ``anomaly.score``; ``auto``
    chooses on validation data when fitted, ``fallback`` where there are no validation anomalies).
    ``score_``: the fitted score."""

    name: ClassVar[str] = "autoencoder"
    _parameter_constraints: ClassVar[dict] = {
        "score": Options(SCORES),
        "fallback": Options(tuple(name for name in SCORES if name != "auto")),
    }

    def __init__(self, net: torch.nn.Module, score: str, fallback: str) -> None:
        check_params(self._parameter_constraints, {"score": score, "fallback": fallback})
        self.net = net
        self.score = score
        self.fallback = fallback
        self.codec = TorchCodec(net)
        self.score_: ScoreSpec | None = None

    @property
    def code_dim(self) -> int:
        return int(self.net.code_dim)

    @property
    def label(self) -> str:
        return f"{NETWORKS.name_of(type(self.net))} autoencoder"

    @property
    def run_name(self) -> str:
        return NETWORKS.name_of(type(self.net))

    def fit(
        self,
        x: np.ndarray,
        val: np.ndarray | None = None,
        val_anomalies: np.ndarray | None = None,
        feature_columns: Sequence[str] | None = None,
    ) -> AutoencoderDetector:
        """Fit the score on the training samples ``x`` (the network is trained already), with the
        normal validation samples ``val`` (default: ``x``) and any validation anomalies, which
        ``auto`` chooses by; ``feature_columns``: a table's input column per feature."""
        val = x if val is None else val
        splits = Splits(x, val, x[:0], np.zeros(0, bool), val_anomalies=val_anomalies)
        self.score_ = fit_score(self.score, self.codec, splits, feature_columns, self.fallback)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.codec.encode(x)

    def decode(self, code: np.ndarray) -> np.ndarray:
        return self.codec.decode(code)

    def passes(self, x: np.ndarray) -> Passes:
        """The codes and reconstructions of ``x``, and RaPP's terms where the fitted score sums
        them: what a deployed detector returns and scores with, the encoder run once."""
        return network_passes(self.codec, x, self.score_ is not None and needs_rapp_terms(self.score_))

    def decision_function(
        self, x: np.ndarray, reconstruction: np.ndarray | Passes | None = None
    ) -> np.ndarray:
        """The fitted score of ``x``; ``reconstruction``: its reconstructions (or :meth:`passes`)
        where the caller has made them already (the evaluation, the deployed detector), so the
        network does not make them again."""
        if self.score_ is None:
            raise RuntimeError("AutoencoderDetector.decision_function before fit")
        return anomaly_scores(self.score_, self.codec, x, reconstruction)

    def save(self, folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
        if self.score_ is None:
            raise RuntimeError("AutoencoderDetector.save before fit")
        path = folder / WEIGHTS_FILE
        torch.save(self.net.state_dict(), path)
        files = {"weights": str(path)}
        if self.score_.reference is not None:
            files["reference"] = str(folder / REFERENCE_FILE)
            np.save(files["reference"], self.score_.reference)
        state = {
            "network": NETWORKS.name_of(type(self.net)),
            "settings": self.net.settings,
            "score": self.score_.to_json(),
        }
        return state, files

    @classmethod
    def load(cls, state: Mapping[str, Any], files: Mapping[str, str]) -> AutoencoderDetector:
        net = NETWORKS[state["network"]](**state["settings"])
        net.load_state_dict(torch.load(files["weights"], map_location="cpu", weights_only=True))
        score = ScoreSpec.from_json(state["score"])
        if "reference" in files:
            score.reference = np.load(files["reference"], allow_pickle=False)
        detector = cls(net.eval(), score.name, score.name)
        detector.score_ = score
        return detector
