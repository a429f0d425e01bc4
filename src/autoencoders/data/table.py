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
from autoencoders.data.columns import (
    CATEGORICAL,
    DATETIME,
    FEATURE,
    column_roles,
    roles_table,
    used_roles,
)
from autoencoders.data.encoding import CATEGORY, DATE, NUMBER, SCALERS, TableEncoding
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

MISSING_POLICIES = ("impute", "error", "drop")


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


def shown_roles(record: list[dict[str, str]]) -> str:
    """The roles table in aligned columns, a line per column of the file: what a run prints first."""
    keys = ("column", "role", "dtype")
    widths = {key: max(len(row[key]) for row in record) for key in keys}
    lines = ["  ".join(row[key].ljust(widths[key]) for key in keys) + "  " + row["use"] for row in record]
    return "\n".join("  " + line for line in lines)


def check_numbers(frame: pd.DataFrame, names: list[str], path: Path) -> None:
    """The number columns hold numbers (or gaps): stray text is named with its line."""
    for name in names:
        numeric = pd.to_numeric(frame[name], errors="coerce")
        bad = frame[name][numeric.isna() & frame[name].notna()]
        if len(bad):
            raise ConfigError(
                f"dataset.path: column {name!r} of {path.name} is not numeric "
                f"(first bad value {bad.iloc[0]!r} on line {line_of(bad.index[0])}); fix the file, or "
                "list the column in dataset.categorical or dataset.exclude"
            )


def line_of(row: Any) -> Any:
    """A row's line in the file as an editor numbers it (the header is line 1)."""
    return row + 2 if isinstance(row, int | np.integer) else row


def columns_of(frame: pd.DataFrame) -> str:
    return "columns: " + ", ".join(map(str, frame.columns))


def suggested_sizes(n_features: int, n_samples: int) -> tuple[int, list[int]]:
    """A dense autoencoder's code size and hidden widths for ``n_features`` inputs and
    ``n_samples`` training samples: a code of about the square root of the width (small, so
    anomalies do not reconstruct well too); hidden layers of twice and once the width, or, where
    that network would have more weights than the training set has values, one layer of the
    width.

    Why: a network with more weights than numbers to fit learns the training rows themselves. On
    the quality panel's small tables (wine's ~50 rows, digits' ~115) one layer scored higher
    (measured: docs/anomaly-scores.md, "How auto chooses, and the network's size for small tables")."""
    code = max(1, min(n_features - 1, round(math.sqrt(n_features))))
    hidden = [min(256, max(8, 2 * n_features)), min(128, max(4, n_features))]
    widths = [n_features, *hidden, code]
    weights = 2 * sum(a * b for a, b in zip(widths, widths[1:], strict=False))  # encoder and decoder
    if weights > n_samples * n_features:
        hidden = [min(256, max(8, n_features))]
    return code, hidden


#: The encoding of each role the model reads (:mod:`autoencoders.data.encoding`).
ENCODED_AS = {FEATURE: NUMBER, CATEGORICAL: CATEGORY, DATETIME: DATE}


class TableDataModule(InMemoryDataModule):
    """Rows of a table encoded as numbers (:class:`TableEncoding`: gaps filled, categories one-hot,
    dates as parts) and scaled, everything fitted on the training rows only."""

    kind = DataKind.TABLE

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        **InMemoryDataModule._own_data_constraints,
        "epoch_size": [POSITIVE_INT, None],
        "input_shape": [POSITIVE_INTS, None],
        "features": [NAMES, None],
        "exclude": ListOf(Text(), "column names", empty=True),
        "categorical": ListOf(Text(), "column names", empty=True),
        "datetime_features": Options((True, False)),
        "max_categories": POSITIVE_INT,
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
        categorical: Sequence[str],
        datetime_features: bool,
        max_categories: int,
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
        self.categorical = list(categorical)
        self.datetime_features = datetime_features
        self.max_categories = max_categories
        self.roles: dict[str, str] = {}
        self.columns_record: list[dict[str, str]] = []
        self.label = label
        self.anomaly_values = list(anomaly_values)
        self.scaler_name = scaler
        self.missing = missing
        self.fractions = (val_fraction, test_fraction, anomaly_val_fraction)
        self.chosen_epoch_size = epoch_size
        self.encoding = TableEncoding([])
        self.examples = pd.DataFrame()

    @property
    def feature_names(self) -> list[str]:
        """The network's features: numbers, one-hot categories, date parts, gap indicators."""
        return self.encoding.features

    @property
    def feature_columns(self) -> list[str]:
        """Per feature, the input column it comes from (the per-column errors sum over these)."""
        return self.encoding.feature_columns

    @property
    def preprocessing(self) -> dict[str, Any]:
        """The fitted encoding, as the detector keeps it (JSON)."""
        return self.encoding.to_json()

    @property
    def input_columns(self) -> list[str]:
        """The columns a deployed detector takes: the table's own, raw."""
        return self.encoding.inputs

    def input_example(self) -> pd.DataFrame:
        """A few raw training rows, as the file has them (the deployed detector types them)."""
        return self.examples

    def settings(self) -> dict[str, Any]:
        """The settings that follow from the table: its width, an epoch of at least 4,096 rows,
        the dense model's sizes for that width and number of rows, and its output activation for the scaler: a
        sigmoid for ``minmax``'s [0, 1], which a value beyond the training rows' range cannot
        reach (so it scores high), none otherwise."""
        code, hidden = suggested_sizes(len(self.feature_names), len(self.splits.train))
        return {
            "input_shape": [len(self.feature_names)],
            "epoch_size": self.epoch_size,
            "model_code_dim": code,
            "model_hidden_dims": hidden,
            "model_output_activation": "sigmoid" if self.scaler_name == "minmax" else None,
        }

    def records(self) -> dict[str, Any]:
        """What a run logs beside its metrics: every column's role and the fitted encoding, which
        a deployed detector applies to raw rows."""
        return {"preprocessing/table.json": self.preprocessing, "data/columns.json": self.columns_record}

    def build_splits(self) -> Splits:
        frame = read_table(self.path, "dataset.path")
        if self.label is not None and self.label not in frame.columns:
            raise ConfigError(
                f"dataset.label: no column {self.label!r} in {self.path.name} ({columns_of(frame)})"
            )
        self.roles = column_roles(frame, self.label, self.features, self.exclude, self.categorical)
        self.columns_record = roles_table(self.roles, frame, self.datetime_features)
        log.info("table %s, every column's role:\n%s", self.path.name, shown_roles(self.columns_record))
        used = used_roles(self.datetime_features)
        kinds = {name: ENCODED_AS[role] for name, role in self.roles.items() if role in used}
        if not kinds:
            raise ConfigError(
                f"dataset.path={self.path}: no column to use as a feature ({columns_of(frame)})"
            )
        check_numbers(frame, [name for name, kind in kinds.items() if kind == NUMBER], self.path)
        frame = self.without_missing(frame, list(kinds))
        is_anomaly = np.zeros(len(frame), bool)
        if self.label is None:
            log.warning(
                "table %s has no dataset.label: every row is taken as normal, so anomalies among them "
                "train the model too; the threshold flags the top validation scores "
                "(anomaly.threshold_quantile) unless anomaly.contamination says what share to expect, "
                "and there is no AUROC",
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
        train_rows = frame.iloc[indices.train]
        self.encoding = TableEncoding.fit(train_rows, kinds, self.max_categories, self.scaler_name)
        self.examples = train_rows[list(kinds)].head(5)
        encoded = self.encoding.transform(frame)
        self.input_shape = (len(self.feature_names),)
        self.epoch_size = self.chosen_epoch_size or max(len(indices.train), 4096)
        log.info(
            "table %s: %d rows, %d columns as %d features; %d train, %d val (+%d anomalous), "
            "%d test (%d anomalous)",
            self.path.name,
            len(frame),
            len(kinds),
            len(self.feature_names),
            len(indices.train),
            len(indices.val),
            len(indices.val_anomalies),
            len(indices.test_normal) + len(indices.test_anomalies),
            len(indices.test_anomalies),
        )
        return one_class_splits(encoded, is_anomaly, indices, frame.index.to_numpy())

    def without_missing(self, frame: pd.DataFrame, inputs: list[str]) -> pd.DataFrame:
        """The rows to use. A row without a label is left out (nothing says what it is); a gap in
        an input is filled by the encoding under ``dataset.missing=impute``, drops its row under
        ``drop``, and is an error naming its line under ``error``."""
        if self.label is not None and frame[self.label].isna().any():
            unlabelled = frame[self.label].isna()
            if self.missing == "error":
                raise ConfigError(
                    f"dataset.path={self.path}: line {line_of(unlabelled.idxmax())} has no value in the "
                    f"label column {self.label!r}; fill it, or set dataset.missing=drop"
                )
            log.warning("table %s: left out %d rows without a label", self.path.name, unlabelled.sum())
            self.left_out["unlabelled_rows"] = int(unlabelled.sum())
            frame = frame[~unlabelled]
        incomplete = frame[inputs].isna().any(axis=1)
        if self.missing == "impute" or not incomplete.any():
            if incomplete.any():
                gaps = frame[inputs].isna().sum()
                said = ", ".join(f"{name} {count}" for name, count in gaps[gaps > 0].items())
                log.info("table %s: gaps filled from the training rows (%s)", self.path.name, said)
            return frame
        if self.missing == "drop":
            self.left_out["dropped_rows"] = int(incomplete.sum())
            log.warning("table %s: dropped %d rows with missing values", self.path.name, incomplete.sum())
            return frame[~incomplete]
        row = incomplete.idxmax()
        column = next(c for c in inputs if pd.isna(frame.at[row, c]))
        raise ConfigError(
            f"dataset.path={self.path}: line {line_of(row)} has no value in column {column!r}; fill it, "
            "or set dataset.missing=impute (the training median and a missing indicator) or drop"
        )
