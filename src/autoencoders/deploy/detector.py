"""The deployable anomaly detector: what a run fitted, as plain files, and the scoring they define.

A deployed detector is a JSON spec (the input's columns, the preprocessing fitted on the training
rows, the threshold, the detector's registry entry and its own JSON state) and the detector's files
(a torch ``state_dict`` loaded with ``weights_only=True``, scikit-learn estimators saved with skops
and loaded trusting only the types their class allows): nothing is unpickled. MLflow serves it
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

from autoencoders.anomaly.detector import AnomalyDetector, reconstructs, scored_passes
from autoencoders.data.encoding import TableEncoding, column_errors
from autoencoders.data.splits import DataKind
from autoencoders.errors import InputError
from autoencoders.registry import DETECTORS

SPEC_FILE = "detector.json"


@dataclass
class DetectorSpec:
    """Everything but the detector's files, as JSON."""

    kind: DataKind
    columns: list[str]  # the input's columns, in order: the table's features, x0 x1, or p0 .. pN
    input_shape: list[int]  # what the detector takes, per sample
    threshold: float  # scores above it are anomalies
    detector: str  # its entry in autoencoders.registry.DETECTORS
    state: dict[str, Any]  # what the detector saved of itself as JSON (its settings, a fitted score)
    preprocessing: dict[str, Any]  # {"scaler": "none"}, or a table's fitted TableEncoding
    features: list[str] | None = None  # tables: per network feature, the input column it comes from

    def __post_init__(self) -> None:
        self.kind = DataKind(self.kind)


def input_columns(
    kind: DataKind, input_shape: Sequence[int], table_columns: Sequence[str] | None = None
) -> list[str]:
    """The input's column names: a table's own, ``x0, x1`` for points, ``p0 ..`` for image pixels."""
    if kind in (DataKind.TABLE, DataKind.SERIES) and table_columns:
        return list(table_columns)
    prefix = "x" if kind == DataKind.POINTS else "p"
    return [f"{prefix}{i}" for i in range(math.prod(input_shape))]


class DeployedDetector:
    """Scores raw samples: applies the run's preprocessing, then the fitted detector and its
    threshold. Output per input row: ``score``, ``is_anomaly``, and for a reconstructing detector
    ``code_0 ..`` and, for tables, ``error_<column>`` per input column."""

    def __init__(self, spec: DetectorSpec, detector: AnomalyDetector) -> None:
        self.spec = spec
        self.detector = detector
        detector.threshold_ = spec.threshold
        self.encoding = TableEncoding.from_json(spec.preprocessing) if spec.kind == DataKind.TABLE else None
        self.series = None
        if spec.kind == DataKind.SERIES:
            from autoencoders.deploy.series import SeriesScoring

            self.series = SeriesScoring(spec.preprocessing, detector, spec.threshold)

    def predict(self, data: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        if self.series is not None:  # consecutive points, scored through their windows
            return self.series.predict(self.checked(data))
        samples = self.to_model_space(self.checked(data))
        index = data.index if isinstance(data, pd.DataFrame) else None
        if not reconstructs(self.detector):  # kNN, IsolationForest: no codes, no reconstruction
            scores = np.asarray(self.detector.decision_function(samples), dtype=np.float64)
            return pd.DataFrame({"score": scores, "is_anomaly": scores > self.spec.threshold}, index=index)
        codes, reconstruction, scores = scored_passes(self.detector, samples)
        codes = np.asarray(codes).reshape(len(samples), -1)
        scores = np.asarray(scores, dtype=np.float64)
        out = {"score": scores, "is_anomaly": scores > self.spec.threshold}
        out |= {f"code_{i}": codes[:, i] for i in range(codes.shape[1])}
        if self.encoding is not None and self.spec.features:
            # per feature, as the evaluation's squared_errors sums them
            errors = (samples - reconstruction).reshape(len(samples), -1).astype(np.float64) ** 2
            names, per_column = column_errors(errors, self.spec.features)
            out |= {f"error_{name}": per_column[:, i] for i, name in enumerate(names)}
        return pd.DataFrame(out, index=index)

    def checked(self, data: pd.DataFrame | np.ndarray, row_word: str = "row") -> pd.DataFrame:
        """Raw samples checked and typed as the logged signature takes them: the columns the
        detector takes, numbers as float64 (whole numbers too); gaps only in a table, whose
        encoding fills them. Images may also come as an N x C x H x W array. ``row_word``: what
        the errors call a row's label (a file's scorer labels rows by their ``line``)."""
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
        if len(data) == 0:
            raise InputError("input has no rows to score")
        check_columns(list(data.columns), self.spec.columns)
        frame = data[self.spec.columns]
        if self.series is not None:
            return self.series.checked(frame, row_word)
        if self.encoding is not None:
            return self.encoding.conform(frame, row_word)
        numeric = frame.apply(pd.to_numeric, errors="coerce")
        bad = numeric.isna() & frame.notna()
        if bad.to_numpy().any():
            row, column = first_cell(bad)
            raise InputError(
                f"input column {column!r} is not numeric: {frame.at[row, column]!r} in {row_word} {row}"
            )
        if numeric.isna().to_numpy().any():
            row, column = first_cell(numeric.isna())
            raise InputError(f"input {row_word} {row} has no value in column {column!r}")
        return numeric.astype(np.float64)

    def to_model_space(self, frame: pd.DataFrame) -> np.ndarray:
        """Checked samples preprocessed as in training, in the network's input shape, float32."""
        if self.encoding is not None:
            return self.encoding.transform(frame)
        return frame.to_numpy(dtype=np.float32, copy=True).reshape(len(frame), *self.spec.input_shape)


def check_columns(given: Sequence[Any], taken: Sequence[str]) -> None:
    """An input's columns must be the ones the detector takes: any missing or extra, named."""
    given_names, taken_names = set(given), set(taken)
    missing = [name for name in taken if name not in given_names]
    extra = [str(name) for name in given if name not in taken_names]
    if missing or extra:
        said = [
            f"missing columns {shorten(missing)}" if missing else "",
            f"extra columns {shorten(extra)}" if extra else "",
        ]
        problems = " and ".join(part for part in said if part)
        raise InputError(f"input has {problems}; the detector takes {shorten(taken)}")


def shorten(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def first_cell(mask: pd.DataFrame) -> tuple[Any, str]:
    """(row label, column) of the first True cell, row by row."""
    row = mask.any(axis=1).idxmax()
    return row, str(mask.columns[mask.loc[row].to_numpy().argmax()])


def save_detector(folder: Path, spec: DetectorSpec, detector: AnomalyDetector) -> dict[str, str]:
    """Write the detector's files and the spec (with the detector's JSON state) into ``folder``;
    returns MLflow's ``artifacts`` mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    state, files = detector.save(folder)
    spec.state = state
    (folder / SPEC_FILE).write_text(json.dumps(asdict(spec), indent=1))
    return {"spec": str(folder / SPEC_FILE), **files}


def load_detector(artifacts: Mapping[str, str]) -> DeployedDetector:
    """A deployed detector from its files, its class found in the registry, nothing unpickled."""
    spec = DetectorSpec(**json.loads(Path(artifacts["spec"]).read_text()))
    files = {name: path for name, path in artifacts.items() if name != "spec"}
    return DeployedDetector(spec, DETECTORS[spec.detector].load(spec.state, files))
