"""A table's raw columns made into the network's numbers, fitted on the training rows and kept as
JSON in the detector, so that training and scoring run the same steps and nothing is pickled.

- Numbers: a gap takes the training rows' median; a column whose training rows had gaps also gets
  a ``<column>_missing`` indicator (a gap can itself be the anomaly).
- Categories: one-hot of the most frequent training values (a gap is the value ``(missing)``);
  rarer values, and values never seen in training, are ``(other)``.
- Dates and times (``dataset.datetime_features``): hour, weekday and month, as numbers.
- Then the scaler (minmax, standard or none), fitted on the encoded training rows, for the
  numbers; a one-hot feature is 0 or 1/sqrt(2), so that a row whose category differs lies as far
  away as one whose number differs by the training range (Gower's weighting): kNN distances and
  reconstruction errors are not ruled by the categories.

The errors a detector explains rows with (``error_<column>``) are per input column: the squared
errors of a column's encoded features, summed (:func:`column_errors`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.errors import InputError

NUMBER, CATEGORY, DATE = "number", "category", "datetime"
OTHER, MISSING = "(other)", "(missing)"
DATE_PARTS = ("hour", "weekday", "month")
SCALERS = ("standard", "minmax", "none")


def category_name(value: Any) -> str:
    """One category's text: whole numbers without a ``.0`` (a code column read as floats because
    of a gap names the same categories); a gap is the category ``(missing)``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def category_counts(column: pd.Series) -> pd.Series:
    """Each category's rows (:func:`category_name`), the most first (ties in the order first
    seen), counted over the distinct values (``pd.factorize``, gaps one of them) so that a
    million rows of six categories name six values, not a million."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    names = [MISSING if pd.isna(value) else category_name(value) for value in uniques]
    counts = pd.Series(np.bincount(codes, minlength=len(uniques)), index=pd.Index(names, dtype=object))
    return counts.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")


def category_positions(column: pd.Series, categories: list[str]) -> np.ndarray:
    """Each row's position in ``categories`` (-1: none of them), by :func:`category_name`: the
    distinct values are found first (``pd.factorize``), and only those are named and looked up,
    so a million rows of six categories hash six names, not a million."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    names = [category_name(value) for value in uniques] + [MISSING]  # code -1, a gap: the last
    return pd.Index(categories).get_indexer(names)[codes]


def date_parts(column: pd.Series) -> np.ndarray:
    """N x 3 (hour, weekday, month) of text or datetimes; NaN where a value reads as no date."""
    with warnings.catch_warnings():  # pandas warns when it guesses a format per value
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    return np.column_stack([stamps.dt.hour, stamps.dt.weekday, stamps.dt.month]).astype(np.float64)


@dataclass
class ColumnCode:
    """How one input column becomes features: its kind, its fill values, its categories."""

    name: str
    kind: str  # NUMBER, CATEGORY or DATE
    fill: list[float] = field(default_factory=list)  # numbers, dates: the training medians
    indicator: bool = False  # a <name>_missing feature: the training rows had gaps
    categories: list[str] = field(default_factory=list)  # the kept values, most frequent first

    @classmethod
    def fit(cls, name: str, kind: str, column: pd.Series, max_categories: int) -> ColumnCode:
        if kind == CATEGORY:
            counts = category_counts(column)
            return cls(name, kind, categories=[str(value) for value in counts.index[:max_categories]])
        values = raw_numbers(kind, column)
        medians = np.nanmedian(values, axis=0) if np.isfinite(values).any() else np.zeros(values.shape[1])
        return cls(name, kind, np.nan_to_num(medians).tolist(), bool(np.isnan(values).any()))

    @property
    def features(self) -> list[str]:
        if self.kind == CATEGORY:
            return [f"{self.name}={value}" for value in [*self.categories, OTHER]]
        names = [self.name] if self.kind == NUMBER else [f"{self.name}_{part}" for part in DATE_PARTS]
        return names + ([f"{self.name}_missing"] if self.indicator else [])

    def encode(self, column: pd.Series) -> np.ndarray:
        """N x len(features), float64, a new array (scaled in place by :meth:`TableEncoding.transform`)."""
        if self.kind == CATEGORY:  # each row's category found by hash, not compared with each
            position = category_positions(column, self.categories)
            one_hot = np.zeros((len(position), len(self.categories) + 1))
            one_hot[np.arange(len(position)), np.where(position < 0, len(self.categories), position)] = 1.0
            return one_hot
        values = raw_numbers(self.kind, column)
        gaps = np.isnan(values)
        filled = np.where(gaps, np.asarray(self.fill)[None, :], values)
        return np.column_stack([filled, gaps.any(axis=1)]) if self.indicator else filled


def raw_numbers(kind: str, column: pd.Series) -> np.ndarray:
    """N x 1 numbers, or N x 3 date parts, NaN at the gaps."""
    if kind == DATE:
        return date_parts(column)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)[:, None]


@dataclass
class TableEncoding:
    """Every input column's code and the scaler's fitted statistics: the detector's JSON."""

    columns: list[ColumnCode]
    scaler: str = "none"  # the numbers' scaler, as dataset.scaler names it
    shift: list[float] = field(default_factory=list)  # scaled = (encoded - shift) / scale
    scale: list[float] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        train_rows: pd.DataFrame,
        kinds: dict[str, str],
        max_categories: int,
        scaler: str,
    ) -> TableEncoding:
        """Codes fitted on ``train_rows`` for the columns ``kinds`` names (in its order), then the
        scaler on their encoded features."""
        codes = [ColumnCode.fit(name, kind, train_rows[name], max_categories) for name, kind in kinds.items()]
        return cls(codes, scaler).fit_scaler([train_rows])

    @classmethod
    def fit_transform(
        cls,
        frame: pd.DataFrame,
        train: np.ndarray,
        kinds: dict[str, str],
        max_categories: int,
        scaler: str,
    ) -> tuple[TableEncoding, np.ndarray]:
        """:meth:`fit` on the rows ``train`` of ``frame`` and :meth:`transform` of every row."""
        encoding = cls.fit(frame.iloc[train], kinds, max_categories, scaler)
        return encoding, encoding.transform(frame)

    def fit_scaler(self, train_rows: Iterable[pd.DataFrame]) -> TableEncoding:
        """The scaler's statistics over the training rows' encoded, unscaled features, the rows
        given whole or a chunk at a time (``partial_fit``: a table streamed in chunks scales as it
        would read whole). scikit-learn's scaler, one per input column's features: the features
        are encoded a column at a time, never as one float64 copy of the training rows (a
        million-row table's fit took 0.33 s to write that copy). Not read for ``scaler=none``."""
        shift, scale = np.zeros(len(self.features)), np.ones(len(self.features))
        if self.scaler != "none":
            from sklearn.preprocessing import MinMaxScaler, StandardScaler

            new = StandardScaler if self.scaler == "standard" else MinMaxScaler
            fitted = [new() for _ in self.columns]
            for rows in train_rows:
                for column, (_, block) in zip(fitted, self.blocks(rows), strict=True):
                    if len(block):
                        column.partial_fit(block)
            for column, place in zip(fitted, self.places, strict=True):
                if not hasattr(column, "n_samples_seen_"):  # no training rows: left as they are
                    continue
                if self.scaler == "standard":
                    shift[place], scale[place] = column.mean_, column.scale_
                else:
                    shift[place], scale[place] = column.data_min_, 1 / column.scale_
        one_hot = np.array([code.kind == CATEGORY for code in self.columns for _ in code.features])
        shift[one_hot], scale[one_hot] = 0.0, np.sqrt(2.0)
        self.shift, self.scale = shift.tolist(), scale.tolist()
        return self

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TableEncoding:
        """From :meth:`to_json`'s record (its ``features`` list is derived, for readers only)."""
        kept = {key: value for key, value in state.items() if key != "features"}
        return cls(**{**kept, "columns": [ColumnCode(**code) for code in state["columns"]]})

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "features": self.features}

    @property
    def inputs(self) -> list[str]:
        """The input columns, in order."""
        return [code.name for code in self.columns]

    @property
    def features(self) -> list[str]:
        """The network's features, in order."""
        return [name for code in self.columns for name in code.features]

    @property
    def feature_columns(self) -> list[str]:
        """Per feature, the input column it comes from."""
        return [code.name for code in self.columns for _ in code.features]

    @property
    def places(self) -> list[slice]:
        """Where each input column's features lie among the network's."""
        widths = [len(code.features) for code in self.columns]
        ends = np.cumsum(widths, dtype=int).tolist()
        return [slice(end - width, end) for end, width in zip(ends, widths, strict=True)]

    def blocks(self, frame: pd.DataFrame) -> Iterator[tuple[slice, np.ndarray]]:
        """Each input column's features (N x its width, float64, a new array) and where they go."""
        for code, place in zip(self.columns, self.places, strict=True):
            yield place, code.encode(frame[code.name])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw rows to the network's features, float32: each input column's features encoded,
        scaled in float64 (``(x - shift) / scale``) and rounded into the result in turn, never a
        float64 copy of the whole table (a million rows of 41 features: 0.33 GB not written, and
        with the scaler fitted the same way, ``fit_transform`` 1.25-1.6 s -> 0.87 s)."""
        transformed = np.empty((len(frame), len(self.features)), np.float32)
        shift, scale = np.asarray(self.shift), np.asarray(self.scale)
        for place, block in self.blocks(frame):
            block -= shift[place]
            block /= scale[place]
            transformed[:, place] = block  # rounded to float32 as astype rounds
        return transformed

    def conform(self, frame: pd.DataFrame, row_word: str = "row") -> pd.DataFrame:
        """The input columns as the logged signature types them: numbers as float64 (a whole
        number is a number; text in a number column is a one-line error naming its row), the other
        columns as text objects with their gaps kept. Gaps are filled later, by :meth:`transform`."""
        taken = {}
        for code in self.columns:
            column = frame[code.name]
            if code.kind != NUMBER:
                taken[code.name] = column.astype(object).where(column.notna(), None)
                continue
            numbers = pd.to_numeric(column, errors="coerce")
            bad = numbers.isna() & column.notna()
            if bad.any():
                row = bad.idxmax()
                raise InputError(
                    f"input column {code.name!r} is not numeric: {column[row]!r} in {row_word} {row}"
                )
            taken[code.name] = numbers.astype(np.float64)
        return pd.DataFrame(taken, index=frame.index)


def column_errors(errors: np.ndarray, feature_columns: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Per-feature squared errors (N x features) summed per input column: the columns in order of
    first appearance, and N x columns."""
    names = list(dict.fromkeys(feature_columns))
    where = np.asarray(feature_columns)
    summed = np.column_stack([errors[:, where == name].sum(axis=1) for name in names])
    return names, summed
