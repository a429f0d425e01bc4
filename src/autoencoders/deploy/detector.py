"""The deployable anomaly detector: what a run trained, as plain files, and the scoring they define.

A detector is a JSON spec (the input's columns, the preprocessing fitted on the training rows, the
threshold, how to rebuild the network) and its weights (a torch ``state_dict`` or a PCA's arrays),
loaded with ``weights_only=True`` / ``allow_pickle=False``: nothing is unpickled. MLflow serves it
through ``autoencoders/deploy/pyfunc.py`` (models-from-code); this module has no MLflow in it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.anomaly.scores import AutoencoderScorer, FittedScore
from autoencoders.errors import InputError
from autoencoders.evaluation.metrics import Codec

SPEC_FILE = "detector.json"
WEIGHTS_FILE = "weights.pt"
PCA_FILE = "arrays.npz"
#: Detectors held as plain arrays (not a torch network).
ARRAY_MODELS = ("PCA", "kNN", "IsolationForest")


@dataclass
class DetectorSpec:
    """Everything but the weights, as JSON."""

    kind: str  # points, images or table
    columns: list[str]  # the input's columns, in order: the table's features, x0 x1, or p0 .. pN
    input_shape: list[int]  # what the network takes, per sample
    threshold: float  # scores above it are anomalies
    network: dict[str, Any]  # {"class": "DenseAutoencoder", "settings": {...}} or {"class": "PCA", ...}
    preprocessing: dict[str, Any]  # {"scaler": "none"} or a table's fitted scaler
    features: list[str] | None = None  # tables: the per-feature errors' names


def input_columns(kind: str, input_shape: Sequence[int], features: Sequence[str] | None = None) -> list[str]:
    """The input's column names: a table's own, ``x0, x1`` for points, ``p0 ..`` for image pixels."""
    if kind == "table" and features:
        return list(features)
    prefix = "x" if kind == "points" else "p"
    return [f"{prefix}{i}" for i in range(math.prod(input_shape))]


class Detector:
    """Scores raw samples: applies the run's preprocessing, reconstructs, compares with the
    threshold. Output per input row: ``score``, ``is_anomaly``, ``code_0 ..``, and for tables
    ``error_<feature>``."""

    def __init__(self, spec: DetectorSpec, codec: Codec) -> None:
        self.spec = spec
        self.codec = codec

    def score(self, data: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        samples = self.to_model_space(self.matrix(data))
        index = data.index if isinstance(data, pd.DataFrame) else None
        if not hasattr(self.codec, "encode"):  # a scorer (kNN): no codes, no reconstruction
            scores = np.asarray(self.codec.score(samples), dtype=np.float64)
            return pd.DataFrame({"score": scores, "is_anomaly": scores > self.spec.threshold}, index=index)
        codes = np.asarray(self.codec.encode(samples))
        reconstruction = self.codec.decode(codes)
        codes = codes.reshape(len(samples), -1)
        errors = ((samples - reconstruction) ** 2).reshape(len(samples), -1).astype(np.float64)
        fitted = FittedScore.from_json(self.spec.network.get("score"))
        if fitted.name == "reconstruction":
            scores = errors.sum(axis=1)
        else:  # the run's own score (autoencoders.anomaly.scores), from the reconstructions made above
            scores = AutoencoderScorer(self.codec, fitted).score(samples, reconstruction)
        out = {"score": scores, "is_anomaly": scores > self.spec.threshold}
        out |= {f"code_{i}": codes[:, i] for i in range(codes.shape[1])}
        if self.spec.kind == "table" and self.spec.features:
            out |= {f"error_{name}": errors[:, i] for i, name in enumerate(self.spec.features)}
        return pd.DataFrame(out, index=index)

    def matrix(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Raw samples as float64 N x columns, checked: the columns the detector takes, numbers,
        no missing values. Images may also come as an N x C x H x W array."""
        if isinstance(data, np.ndarray):
            if data.ndim > 2 and tuple(data.shape[1:]) != tuple(self.spec.input_shape):
                shape = " x ".join(map(str, self.spec.input_shape))
                raise InputError(f"input arrays must be N x {shape}, got {data.shape}")
            flat = data.reshape(len(data), -1)
            if flat.shape[1] != len(self.spec.columns):
                raise InputError(
                    f"input has {flat.shape[1]} values per row, the detector takes {len(self.spec.columns)}"
                )
            data = pd.DataFrame(flat, columns=self.spec.columns)
        missing = [c for c in self.spec.columns if c not in data.columns]
        extra = [str(c) for c in data.columns if c not in set(self.spec.columns)]
        if missing or extra:
            said = [
                f"missing columns {shorten(missing)}" if missing else "",
                f"extra columns {shorten(extra)}" if extra else "",
            ]
            problems = " and ".join(s for s in said if s)
            raise InputError(f"input has {problems}; the detector takes {shorten(self.spec.columns)}")
        frame = data[self.spec.columns]
        numeric = frame.apply(pd.to_numeric, errors="coerce")
        bad = numeric.isna() & frame.notna()
        if bad.to_numpy().any():
            row, column = first_cell(bad)
            raise InputError(
                f"input column {column!r} is not numeric: {frame.at[row, column]!r} in row {row}"
            )
        if numeric.isna().to_numpy().any():
            row, column = first_cell(numeric.isna())
            raise InputError(f"input row {row} has no value in column {column!r}")
        return numeric.to_numpy(dtype=np.float64)

    def to_model_space(self, raw: np.ndarray) -> np.ndarray:
        """Preprocessed as in training, in the network's input shape, float32."""
        prep = self.spec.preprocessing
        if prep.get("scaler") == "standard":
            raw = (raw - np.asarray(prep["mean"])) / np.asarray(prep["scale"])
        elif prep.get("scaler") == "minmax":
            raw = raw * np.asarray(prep["scale"]) + np.asarray(prep["min"])
        return raw.reshape(len(raw), *self.spec.input_shape).astype(np.float32)

    def to_raw(self, samples: np.ndarray) -> pd.DataFrame:
        """Samples in the network's space back to raw input rows (for input examples)."""
        flat = samples.reshape(len(samples), -1).astype(np.float64)
        prep = self.spec.preprocessing
        if prep.get("scaler") == "standard":
            flat = flat * np.asarray(prep["scale"]) + np.asarray(prep["mean"])
        elif prep.get("scaler") == "minmax":
            flat = (flat - np.asarray(prep["min"])) / np.asarray(prep["scale"])
        return pd.DataFrame(flat, columns=self.spec.columns)


def shorten(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def first_cell(mask: pd.DataFrame) -> tuple[Any, str]:
    """(row label, column) of the first True cell, row by row."""
    row = mask.any(axis=1).idxmax()
    return row, str(mask.columns[mask.loc[row].to_numpy().argmax()])


def save_detector(folder: Path, spec: DetectorSpec, codec: Any) -> dict[str, str]:
    """Write the spec and weights into ``folder``; returns MLflow's ``artifacts`` mapping."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    (folder / SPEC_FILE).write_text(json.dumps(asdict(spec), indent=1))
    if spec.network["class"] in ARRAY_MODELS:
        np.savez(folder / PCA_FILE, **codec.arrays())
        return {"spec": str(folder / SPEC_FILE), "weights": str(folder / PCA_FILE)}
    torch.save(codec.module.state_dict(), folder / WEIGHTS_FILE)
    return {"spec": str(folder / SPEC_FILE), "weights": str(folder / WEIGHTS_FILE)}


def load_detector(artifacts: Mapping[str, str]) -> Detector:
    """A detector from its files, nothing unpickled: the network class comes from an allow-list."""
    spec = DetectorSpec(**json.loads(Path(artifacts["spec"]).read_text()))
    if spec.network["class"] in ARRAY_MODELS:
        from autoencoders.baselines.classic import IsolationForestScorer, KNNScorer
        from autoencoders.baselines.pca import LinearCodec

        with np.load(artifacts["weights"], allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        if spec.network["class"] == "kNN":
            return Detector(spec, KNNScorer.from_arrays(int(spec.network["k"]), arrays))
        if spec.network["class"] == "IsolationForest":
            return Detector(spec, IsolationForestScorer.from_arrays(arrays))
        return Detector(spec, LinearCodec(arrays["mean"], arrays["components"], tuple(spec.input_shape)))
    import torch

    from autoencoders.evaluation.metrics import TorchCodec
    from autoencoders.models.conv import ConvAutoencoder
    from autoencoders.models.dense import DenseAutoencoder

    networks = {"DenseAutoencoder": DenseAutoencoder, "ConvAutoencoder": ConvAutoencoder}
    if spec.network["class"] not in networks:
        raise InputError(f"unknown network {spec.network['class']!r}: the detector knows {sorted(networks)}")
    net = networks[spec.network["class"]](**spec.network["settings"])
    net.load_state_dict(torch.load(artifacts["weights"], map_location="cpu", weights_only=True))
    return Detector(spec, TorchCodec(net.eval()))
