"""A user's table (CSV or Parquet) as a one-class dataset: card transactions, sensor logs, machine
readings. Rows whose label is an anomaly value are the anomalies; without a label every row is normal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.data.base import DataKind, InMemoryDataModule, Splits, check_split_fractions
from autoencoders.data.columns import FEATURE, LABEL, column_roles, roles_table
from autoencoders.data.one_class import one_class_split, one_class_splits
from autoencoders.errors import ConfigError
from autoencoders.util.files import read_table
from autoencoders.util.params import (
    NAMES,
    POSITIVE_INT,
    POSITIVE_INTS,
    Anything,
    ListOf,
    Options,
    Text,
    check_params,
)

log = logging.getLogger(__name__)

SCALERS = ("standard", "minmax", "none")
MISSING_POLICIES = ("error", "drop")


def anomaly_mask(column: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """Rows whose label is one of ``values``, compared as text (``yes``, ``True``) or as numbers
    (``1`` matches ``1.0``)."""
    texts = {str(value).strip().lower() for value in values}
    numbers = set()
    for value in values:
        try:
            numbers.add(float(value))
        except (TypeError, ValueError):
            continue
    as_text = column.astype(str).str.strip().str.lower().isin(texts)
    as_number = pd.to_numeric(column, errors="coerce").isin(numbers)
    return (as_text | as_number).to_numpy()


def feature_columns(frame: pd.DataFrame, roles: dict[str, str], path: Path) -> list[str]:
    """The feature columns ``roles`` chose, checked to be numbers."""
    chosen = [name for name, role in roles.items() if role == FEATURE]
    if not chosen:
        raise ConfigError(f"dataset.path={path}: no numeric column to use as a feature ({columns_of(frame)})")
    for name in chosen:
        numeric = pd.to_numeric(frame[name], errors="coerce")
        bad = frame[name][numeric.isna() & frame[name].notna()]
        if len(bad):
            raise ConfigError(
                f"dataset.features: column {name!r} of {path.name} is not numeric "
                f"(first bad value {bad.iloc[0]!r} on line {line_of(bad.index[0])})"
            )
    return chosen


def line_of(row: Any) -> Any:
    """A row's line in the file as an editor numbers it (the header is line 1)."""
    return row + 2 if isinstance(row, int | np.integer) else row


def columns_of(frame: pd.DataFrame) -> str:
    return "columns: " + ", ".join(map(str, frame.columns))


def suggested_sizes(n_features: int) -> tuple[int, list[int]]:
    """A dense autoencoder's code size and hidden widths for ``n_features`` inputs: a code of about
    the square root of the width (small, so anomalies do not reconstruct well too), hidden layers
    of twice and once the width."""
    code = max(1, min(n_features - 1, round(math.sqrt(n_features))))
    return code, [min(256, max(8, 2 * n_features)), min(128, max(4, n_features))]


class TableDataModule(InMemoryDataModule):
    """Rows of numeric features, scaled with statistics of the training rows only."""

    kind = DataKind.TABLE

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        **InMemoryDataModule._own_data_constraints,
        "epoch_size": [POSITIVE_INT, None],
        "input_shape": [POSITIVE_INTS, None],
        "features": [NAMES, None],
        "exclude": ListOf(Text(), "column names", empty=True),
        "anomaly_values": ListOf(Anything(), "values"),
        "scaler": Options(SCALERS),
        "missing": Options(MISSING_POLICIES),
        "model_code_dim": [POSITIVE_INT, None],
        "model_hidden_dims": [POSITIVE_INTS, None],
    }

    def __init__(
        self,
        *,
        path: str,
        name: str,
        features: Sequence[str] | None,
        exclude: Sequence[str],
        label: str | None,
        anomaly_values: Sequence[Any],
        scaler: str,
        missing: str,
        batch_size: int,
        epochs: int,
        val_fraction: float,
        test_fraction: float,
        anomaly_val_fraction: float,
        split_seed: int,
        epoch_size: int | None,
        input_shape: Sequence[int] | None,
        model_code_dim: int | None,
        model_hidden_dims: Sequence[int] | None,
        model_output_activation: str | None,
    ) -> None:
        """``input_shape``, ``epoch_size`` and the ``model_*`` settings follow from the table when
        None (:meth:`settings`); the pipeline fills them in once the table is read."""
        check_params(self._parameter_constraints, locals())
        check_split_fractions(val_fraction, test_fraction)
        super().__init__(name, tuple(input_shape or (0,)), batch_size, split_seed, epochs, epoch_size or 1)
        self.path = self.source_path = Path(path)
        self.features = list(features) if features is not None else None
        self.exclude = list(exclude)
        self.roles: dict[str, str] = {}
        self.columns_record: list[dict[str, str]] = []
        self.label = label
        self.anomaly_values = list(anomaly_values)
        self.scaler_name = scaler
        self.missing = missing
        self.fractions = (val_fraction, test_fraction, anomaly_val_fraction)
        self.chosen_epoch_size = epoch_size
        self.feature_names: list[str] = []
        self.preprocessing: dict[str, Any] = {}

    def settings(self) -> dict[str, Any]:
        """The settings that follow from the table: its width, an epoch of at least 4,096 rows,
        the dense model's sizes for that width, and its output activation for the scaler: a
        sigmoid for ``minmax``'s [0, 1], which a value beyond the training rows' range cannot
        reach (so it scores high), none otherwise."""
        code, hidden = suggested_sizes(len(self.feature_names))
        return {
            "input_shape": [len(self.feature_names)],
            "epoch_size": self.epoch_size,
            "model_code_dim": code,
            "model_hidden_dims": hidden,
            "model_output_activation": "sigmoid" if self.scaler_name == "minmax" else None,
        }

    def records(self) -> dict[str, Any]:
        """What a run logs beside its metrics: the features and the fitted preprocessing, which
        a deployed detector must apply to raw rows."""
        return {"preprocessing/scaler.json": self.preprocessing, "data/columns.json": self.columns_record}

    def build_splits(self) -> Splits:
        frame = read_table(self.path, "dataset.path")
        if self.label is not None and self.label not in frame.columns:
            raise ConfigError(
                f"dataset.label: no column {self.label!r} in {self.path.name} ({columns_of(frame)})"
            )
        self.roles = column_roles(frame, self.label, self.features, self.exclude)
        self.columns_record = roles_table(self.roles, frame)
        for row in self.columns_record:
            if row["role"] not in (FEATURE, LABEL):
                log.info(
                    "table %s: column %r is %s, %s", self.path.name, row["column"], row["role"], row["use"]
                )
        self.feature_names = feature_columns(frame, self.roles, self.path)
        frame = self.without_missing(frame)
        values = frame[self.feature_names].apply(pd.to_numeric).to_numpy(dtype=np.float64)
        is_anomaly = np.zeros(len(frame), bool)
        if self.label is None:
            log.warning(
                "table %s has no dataset.label: every row is taken as normal, so anomalies among them "
                "train the model too; the threshold flags the top validation scores "
                "(anomaly.threshold_quantile) and there is no AUROC",
                self.path.name,
            )
        if self.label is not None:
            is_anomaly = anomaly_mask(frame[self.label], self.anomaly_values)
            if not is_anomaly.any():
                seen = ", ".join(map(repr, frame[self.label].drop_duplicates().head(5).tolist()))
                raise ConfigError(
                    f"dataset.label={self.label}: no row of {self.path.name} has an anomaly value "
                    f"{self.anomaly_values} (values seen: {seen}); set dataset.anomaly_values"
                )
        indices = one_class_split(is_anomaly, *self.fractions, self.seed, f"dataset.path={self.path}")
        scaled = self.fit_scaler(values, indices.train)
        self.input_shape = (len(self.feature_names),)
        self.epoch_size = self.chosen_epoch_size or max(len(indices.train), 4096)
        log.info(
            "table %s: %d rows, %d features; %d train, %d val (+%d anomalous), %d test (%d anomalous)",
            self.path.name,
            len(frame),
            len(self.feature_names),
            len(indices.train),
            len(indices.val),
            len(indices.val_anomalies),
            len(indices.test_normal) + len(indices.test_anomalies),
            len(indices.test_anomalies),
        )
        return one_class_splits(scaled, is_anomaly, indices, frame.index.to_numpy())

    def without_missing(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows with every feature (and the label) present; a missing value is an error
        naming its row unless ``dataset.missing=drop``."""
        columns = [*self.feature_names, *([self.label] if self.label else [])]
        incomplete = frame[columns].isna().any(axis=1)
        if not incomplete.any():
            return frame
        if self.missing == "drop":
            self.left_out["dropped_rows"] = int(incomplete.sum())
            log.warning("table %s: dropped %d rows with missing values", self.path.name, incomplete.sum())
            return frame[~incomplete]
        row = incomplete.idxmax()
        column = next(c for c in columns if pd.isna(frame.at[row, c]))
        raise ConfigError(
            f"dataset.path={self.path}: line {line_of(row)} has no value in column {column!r}; fill it, "
            "or set dataset.missing=drop to leave such rows out"
        )

    def fit_scaler(self, values: np.ndarray, train: np.ndarray) -> np.ndarray:
        """``values`` scaled with statistics of the training rows (scikit-learn's scalers), the
        fitted statistics kept in :attr:`preprocessing`."""
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        record: dict[str, Any] = {"scaler": self.scaler_name, "features": self.feature_names}
        if self.scaler_name == "none":
            self.preprocessing = record
            return values
        scaler = StandardScaler() if self.scaler_name == "standard" else MinMaxScaler()
        scaler.fit(values[train])
        fitted = (
            ("mean_", "scale_")
            if self.scaler_name == "standard"
            else ("min_", "scale_", "data_min_", "data_max_")
        )
        self.preprocessing = {
            **record,
            **{name.rstrip("_"): getattr(scaler, name).tolist() for name in fitted},
        }
        return scaler.transform(values)
