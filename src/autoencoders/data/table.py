"""A user's table (CSV or Parquet) as a one-class dataset: card transactions, sensor logs, machine
readings. Rows whose label is an anomaly value are the anomalies; without a label every row is normal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.data.base import DataKind, InMemoryDataModule, Splits, check_split_fractions
from autoencoders.data.batches import TensorBatches
from autoencoders.data.columns import (
    CATEGORICAL,
    DATETIME,
    FEATURE,
    column_roles,
    roles_table,
    used_roles,
)
from autoencoders.data.encoding import CATEGORY, DATE, NUMBER, SCALERS, TableEncoding
from autoencoders.data.one_class import OneClassIndices, one_class_split, one_class_splits
from autoencoders.data.streaming import (
    LEFT_OUT,
    TEST,
    TEST_ANOMALY,
    TRAIN,
    VAL,
    VAL_ANOMALY,
    ParquetSource,
    StreamedBatches,
    TableStream,
    fitted_sizes,
    row_splits,
    row_uniforms,
)
from autoencoders.errors import ConfigError
from autoencoders.util.files import is_parquet, read_table
from autoencoders.util.params import (
    NAMES,
    POSITIVE,
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
    (``1`` matches ``1.0``), once per distinct label (``pd.factorize``: a million rows of two
    labels took 0.19 s as a million texts)."""
    texts = {str(value).strip().lower() for value in values}
    numbers = set()
    for value in values:
        try:
            numbers.add(float(value))
        except (TypeError, ValueError):
            continue
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    labels = pd.Series(uniques)
    as_text = labels.astype(str).str.strip().str.lower().isin(texts)
    as_number = pd.to_numeric(labels, errors="coerce").isin(numbers)
    return (as_text | as_number).to_numpy()[codes]


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
        "streaming": Options((True, False)),
        "max_memory_gb": [POSITIVE, None],
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
        streaming: bool,
        max_memory_gb: float | None,
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
        self.streaming, self.max_memory_gb = streaming, max_memory_gb
        #: Where the table streams (:mod:`autoencoders.data.streaming`): its rows, read per chunk.
        self.stream: TableStream | None = None
        self.gaps: dict[str, int] = {}  # per input column, its gaps the encoding fills

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
        code, hidden = suggested_sizes(len(self.feature_names), self.n_train)
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

    def input_kinds(self, frame: pd.DataFrame) -> dict[str, str]:
        """Every column's role (logged), and the input columns' encodings, from ``frame``."""
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
        if self.label is None:
            log.warning(
                "table %s has no dataset.label: every row is taken as normal, so anomalies among them "
                "train the model too; the threshold flags the top validation scores "
                "(anomaly.threshold_quantile) unless anomaly.contamination says what share to expect, "
                "and there is no AUROC",
                self.path.name,
            )
        return kinds

    def anomalies(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` are anomalies by their label (none without one)."""
        if self.label is None:
            return np.zeros(len(frame), bool)
        return anomaly_mask(frame[self.label], self.anomaly_values)

    def no_anomaly_value(self, labels: pd.Series) -> ConfigError:
        seen = ", ".join(map(repr, labels.drop_duplicates().head(5).tolist()))
        return ConfigError(
            f"dataset.label={self.label}: no row of {self.path.name} has an anomaly value "
            f"{self.anomaly_values} (values seen: {seen}); set dataset.anomaly_values"
        )

    def fit_encoding(self, train_rows: pd.DataFrame, kinds: dict[str, str], n_train: int) -> None:
        self.encoding = TableEncoding.fit(train_rows, kinds, self.max_categories, self.scaler_name)
        self.took_encoding(train_rows, kinds, n_train)

    def took_encoding(self, train_rows: pd.DataFrame, kinds: dict[str, str], n_train: int) -> None:
        """What follows from the fitted encoding: the input example (the first training rows), the
        input shape, the epoch's size."""
        self.examples = train_rows[list(kinds)].head(5).copy()  # a copy: a view would keep every row
        self.input_shape = (len(self.feature_names),)
        self.epoch_size = self.chosen_epoch_size or max(n_train, 4096)

    def said_splits(self, n_rows: int, n_columns: int, counts: dict[int, int], how: str = "") -> None:
        log.info(
            "table %s: %d rows, %d columns as %d features; %d train, %d val (+%d anomalous), "
            "%d test (%d anomalous)%s",
            self.path.name,
            n_rows,
            n_columns,
            len(self.feature_names),
            counts[TRAIN],
            counts[VAL],
            counts[VAL_ANOMALY],
            counts[TEST] + counts[TEST_ANOMALY],
            counts[TEST_ANOMALY],
            how,
        )

    def streamed_source(self) -> ParquetSource | None:
        """The Parquet table opened to be read a chunk at a time, where it streams
        (``dataset.streaming``, or its columns uncompressed outgrow ``dataset.max_memory_gb``; a
        CSV file over it is an error: only Parquet streams); else None: it is read whole."""
        if self.streaming:
            return ParquetSource(self.path)
        if self.max_memory_gb is None:
            return None
        budget = self.max_memory_gb * 1e9
        if self.path.is_file() and not is_parquet(self.path):
            if self.path.stat().st_size > budget:
                raise ConfigError(
                    f"dataset.max_memory_gb={self.max_memory_gb}: {self.path.name} is "
                    f"{self.path.stat().st_size / 1e9:.2f} GB, over it, and only Parquet streams; "
                    "convert it, e.g. pandas.read_csv(...).to_parquet(...), or raise the budget"
                )
            return None
        source = ParquetSource(self.path)
        return source if source.uncompressed_bytes() > budget else None

    def build_splits(self) -> Splits:
        source = self.streamed_source()
        if source is not None:
            return self.build_streamed_splits(source)
        frame = read_table(self.path, "dataset.path")
        kinds = self.input_kinds(frame)
        check_numbers(frame, [name for name, kind in kinds.items() if kind == NUMBER], self.path)
        frame = self.without_missing(frame, list(kinds))
        is_anomaly = self.anomalies(frame)
        if self.label is not None and not is_anomaly.any():
            raise self.no_anomaly_value(frame[self.label])
        indices = one_class_split(is_anomaly, *self.fractions, self.seed, f"dataset.path={self.path}")
        self.encoding, encoded = TableEncoding.fit_transform(
            frame, indices.train, kinds, self.max_categories, self.scaler_name
        )
        self.took_encoding(frame.iloc[indices.train[:5]], kinds, len(indices.train))
        counts = {
            TRAIN: len(indices.train),
            VAL: len(indices.val),
            VAL_ANOMALY: len(indices.val_anomalies),
            TEST: len(indices.test_normal),
            TEST_ANOMALY: len(indices.test_anomalies),
        }
        self.said_splits(len(frame), len(kinds), counts)
        return one_class_splits(encoded, is_anomaly, indices, frame.index.to_numpy())

    def labelled_rows(self, source: ParquetSource) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(row numbers, which are anomalies), a chunk at a time: the label column only is read."""
        if self.label is None:
            for start in range(0, source.n_rows, source.chunk_rows):
                rows = np.arange(start, min(start + source.chunk_rows, source.n_rows))
                yield rows, np.zeros(len(rows), bool)
            return
        for chunk in source.chunks([self.label]):
            yield chunk.index.to_numpy(), self.anomalies(chunk)

    def build_streamed_splits(self, source: ParquetSource) -> Splits:
        """The splits as samples of at most ``SAMPLE_ROWS`` rows each (fewer where
        ``dataset.max_memory_gb`` is small: :func:`fitted_sizes`), in three passes over the
        file: its label column (each row's split), every column (the samples, the numbers' and
        gaps' checks), the training rows again (the scaler, over all of them); the roles come from
        its first rows, the rest of the encoding from the training sample. Training then reads
        the file each epoch (:attr:`stream`)."""
        source.chunk_rows, caps = fitted_sizes(source, self.max_memory_gb)
        kinds = self.input_kinds(source.head(source.chunk_rows))
        numbers = [name for name, kind in kinds.items() if kind == NUMBER]
        codes = np.empty(source.n_rows, np.uint8)
        for rows, is_anomaly in self.labelled_rows(source):
            codes[rows] = row_splits(rows, is_anomaly, self.seed, self.fractions)
        if self.label is not None and not np.isin(codes, (VAL_ANOMALY, TEST_ANOMALY)).any():
            raise self.no_anomaly_value(source.head(source.chunk_rows)[self.label])
        share = np.zeros(LEFT_OUT + 1)  # per split code, the share of its rows sampled
        for code, cap in caps.items():
            share[code] = min(1.0, cap / max(1, int((codes == code).sum())))
        read = list(kinds) + ([self.label] if self.label is not None else [])
        sampled = []
        for chunk in source.chunks(read):
            check_numbers(chunk, numbers, self.path)
            kept = self.without_missing(chunk, list(kinds), say=False)
            codes[np.setdiff1d(chunk.index.to_numpy(), kept.index.to_numpy())] = LEFT_OUT
            rows = kept.index.to_numpy()
            chosen = row_uniforms(rows, self.seed, 2) < share[codes[rows]]
            sampled.append(kept[chosen])
        self.said_left_out()
        sample = pd.concat(sampled)
        del sampled  # the chunks' rows, copied into sample
        sample_codes = codes[sample.index.to_numpy()]
        counts = {code: int((codes == code).sum()) for code in caps}
        if min(counts[TRAIN], counts[VAL], counts[TEST]) == 0:
            raise ConfigError(
                f"dataset.path={self.path}: {source.n_rows} rows are too few to stream (train "
                f"{counts[TRAIN]}, validation {counts[VAL]}, test {counts[TEST]}); read it whole "
                "(dataset.streaming=false)"
            )
        self.fit_encoding(sample[sample_codes == TRAIN], kinds, counts[TRAIN])
        if self.scaler_name != "none":  # the scaler over every training row, a third pass
            chunks = source.chunks(list(kinds))
            self.encoding.fit_scaler(chunk[codes[chunk.index] == TRAIN] for chunk in chunks)
        self.stream = TableStream(source, codes, list(kinds), self.encoding.transform)
        where = {code: np.flatnonzero(sample_codes == code) for code in caps}
        indices = OneClassIndices(
            where[TRAIN], where[VAL], where[TEST], where[VAL_ANOMALY], where[TEST_ANOMALY]
        )
        n_train, n_val = len(where[TRAIN]), len(where[VAL]) + len(where[VAL_ANOMALY])
        n_test = len(where[TEST]) + len(where[TEST_ANOMALY])
        held = (
            f"; streamed, held in memory: samples of {n_train} train, {n_val} validation, {n_test} test rows"
        )
        self.said_splits(source.n_rows, len(kinds), counts, held)
        is_anomaly, rows = self.anomalies(sample), sample.index.to_numpy()
        encoded = self.encoding.transform(sample)
        del sample  # the raw rows: only their features stay
        return one_class_splits(encoded, is_anomaly, indices, rows)

    def train_dataloader(self) -> TensorBatches | StreamedBatches:
        """A streamed table's training rows read from the file each epoch (else in memory)."""
        self.prepare_data()  # the splits decide whether the table streams
        if self.stream is None:
            return super().train_dataloader()
        rank, world, epoch = self._place()
        return self.stream.train_batches(
            self.batch_size, self.seed, rank, world, epoch, self.steps_per_call, self.repeat
        )

    @property
    def n_train(self) -> int:
        """The training rows: all of them where the splits hold a sample (a streamed table)."""
        self.prepare_data()
        return self.stream.count(TRAIN) if self.stream else len(self.splits.train)

    def check_trimmable(self) -> None:
        if self.stream is not None:
            raise ConfigError(
                "anomaly.trim: not with a streamed table (dataset.streaming, dataset.max_memory_gb): "
                "it would keep the training rows in memory; set anomaly.trim=false"
            )

    def streamed_rows(self) -> Iterator[tuple[np.ndarray, np.ndarray]] | None:
        return None if self.stream is None else self.stream.encoded((TRAIN, TEST, TEST_ANOMALY))

    def without_missing(self, frame: pd.DataFrame, inputs: list[str], say: bool = True) -> pd.DataFrame:
        """The rows to use. A row without a label is left out (nothing says what it is); a gap in
        an input is filled by the encoding under ``dataset.missing=impute``, drops its row under
        ``drop``, and is an error naming its line under ``error``. The rows left out add up in
        :attr:`left_out`; ``say``: logged here (else by :meth:`said_left_out`, once for all chunks)."""
        if self.label is not None and frame[self.label].isna().any():
            unlabelled = frame[self.label].isna()
            if self.missing == "error":
                raise ConfigError(
                    f"dataset.path={self.path}: line {line_of(unlabelled.idxmax())} has no value in the "
                    f"label column {self.label!r}; fill it, or set dataset.missing=drop"
                )
            self.left_out["unlabelled_rows"] = self.left_out.get("unlabelled_rows", 0) + int(unlabelled.sum())
            frame = frame[~unlabelled]
        incomplete = frame[inputs].isna().any(axis=1)
        if self.missing == "impute" or not incomplete.any():
            if incomplete.any():
                for name, count in frame[inputs].isna().sum().items():
                    if count:
                        self.gaps[name] = self.gaps.get(name, 0) + int(count)
        elif self.missing == "drop":
            self.left_out["dropped_rows"] = self.left_out.get("dropped_rows", 0) + int(incomplete.sum())
            frame = frame[~incomplete]
        else:
            row = incomplete.idxmax()
            column = next(c for c in inputs if pd.isna(frame.at[row, c]))
            raise ConfigError(
                f"dataset.path={self.path}: line {line_of(row)} has no value in column {column!r}; fill "
                "it, or set dataset.missing=impute (the training median and a missing indicator) or drop"
            )
        if say:
            self.said_left_out()
        return frame

    def said_left_out(self) -> None:
        """The log lines of what :meth:`without_missing` left out or filled."""
        if self.left_out.get("unlabelled_rows"):
            log.warning(
                "table %s: left out %d rows without a label", self.path.name, self.left_out["unlabelled_rows"]
            )
        if self.left_out.get("dropped_rows"):
            log.warning(
                "table %s: dropped %d rows with missing values", self.path.name, self.left_out["dropped_rows"]
            )
        if self.gaps:
            said = ", ".join(f"{name} {count}" for name, count in self.gaps.items())
            log.info("table %s: gaps filled from the training rows (%s)", self.path.name, said)
