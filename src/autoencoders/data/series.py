"""A machine's sensor log (CSV or Parquet) as one-class data: one series of one or more channels,
split in time order (train, then validation, then test: never shuffled across time), cut into
windows of ``dataset.window`` points every ``dataset.stride`` points, each channel scaled on the
training part. Points whose label is an anomaly value never train; a window that holds one is an
anomalous window. The evaluation turns window scores back into scores per time point
(:mod:`autoencoders.evaluation.series`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.data.base import InMemoryDataModule, check_split_fractions
from autoencoders.data.columns import CATEGORICAL, DATETIME, FEATURE, ID_LIKE, column_roles, roles_table
from autoencoders.data.encoding import NUMBER, SCALERS, TableEncoding
from autoencoders.data.splits import DataKind, SeriesLayout, SeriesPart, Splits
from autoencoders.data.table import (
    anomaly_mask,
    check_numbers,
    columns_of,
    line_of,
    shown_roles,
    suggested_sizes,
)
from autoencoders.data.windows import anomalous_windows, filled, window_starts, windows_of
from autoencoders.errors import ConfigError
from autoencoders.util.files import read_table
from autoencoders.util.params import (
    FRACTION,
    NAMES,
    POSITIVE_INT,
    POSITIVE_INTS,
    Anything,
    Interval,
    ListOf,
    Options,
    Text,
    check_params,
)

log = logging.getLogger(__name__)

MISSING_POLICIES = ("interpolate", "error")
TIME = "time"
#: What a series does with a column, where that differs from a table.
SERIES_USE = {
    TIME: "the time axis: orders the points, labels the figures",
    CATEGORICAL: "left out: a channel holds numbers (dataset.channels=[...] chooses them)",
    FEATURE: "channel: model input",
}


def time_column(frame: pd.DataFrame, roles: dict[str, str], chosen: str | None) -> str | None:
    """``dataset.time``, else the first column that reads as dates or ever-increasing numbers."""
    if chosen is not None:
        if chosen not in frame.columns:
            raise ConfigError(f"dataset.time: no column {chosen!r} ({columns_of(frame)})")
        return chosen
    for name, role in roles.items():
        if role == DATETIME or (role == ID_LIKE and frame[name].is_monotonic_increasing):
            return name
    return None


def time_values(column: pd.Series, where: str) -> np.ndarray:
    """The time column as numbers or datetimes; it must never go back (one line naming where)."""
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any():
        values = pd.to_datetime(column, errors="coerce", format="mixed")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ConfigError(f"dataset.time: {column.iloc[row]!r} on line {line_of(row)} of {where} is no time")
    steps = np.diff(values.to_numpy())
    back = np.flatnonzero(steps < steps[:1] * 0)  # below zero, for numbers and time deltas alike
    if len(back):
        row = int(back[0]) + 1
        raise ConfigError(
            f"dataset.time: column {column.name!r} of {where} goes back in time on line {line_of(row)} "
            f"({column.iloc[row - 1]!r} then {column.iloc[row]!r}): sort the file by time"
        )
    return values.to_numpy()


class SeriesDataModule(InMemoryDataModule):
    """Windows of a multichannel series, and where each lies in time (:class:`SeriesLayout`)."""

    kind = DataKind.SERIES

    _parameter_constraints = {
        **InMemoryDataModule._parameter_constraints,
        "path": [Text(), None],
        "train_path": [Text(), None],
        "test_path": [Text(), None],
        "time": [Text(), None],
        "channels": [NAMES, None],
        "exclude": ListOf(Text(), "column names", empty=True),
        "label": [Text(), None],
        "anomaly_values": ListOf(Anything(), "values"),
        "window": Interval(int, 2),
        "stride": POSITIVE_INT,
        "scaler": Options(SCALERS),
        "missing": Options(MISSING_POLICIES),
        "val_fraction": FRACTION,
        "test_fraction": FRACTION,
        "epoch_size": [POSITIVE_INT, None],
        "input_shape": [POSITIVE_INTS, None],
        "model_code_dim": [POSITIVE_INT, None],
        "model_hidden_dims": [POSITIVE_INTS, None],
    }

    def __init__(
        self,
        *,
        name: str,
        path: str | None,
        train_path: str | None,
        test_path: str | None,
        time: str | None,
        channels: Sequence[str] | None,
        exclude: Sequence[str],
        label: str | None,
        anomaly_values: Sequence[Any],
        window: int,
        stride: int,
        scaler: str,
        missing: str,
        val_fraction: float,
        test_fraction: float,
        batch_size: int,
        epochs: int,
        epoch_size: int | None,
        input_shape: Sequence[int] | None,
        model_code_dim: int | None,
        model_hidden_dims: Sequence[int] | None,
        model_output_activation: str | None,
    ) -> None:
        """Either ``path`` (one file: its first points train, then ``val_fraction`` of them
        validate and the last ``test_fraction`` test) or ``train_path`` and ``test_path`` (as
        benchmark archives ship them: the training file's last ``val_fraction`` validates). The
        ``model_*`` settings, ``input_shape`` and ``epoch_size`` follow from the data when None."""
        check_params(self._parameter_constraints, locals())
        if not ((path is None) ^ (train_path is None and test_path is None)) or (
            path is None and None in (train_path, test_path)
        ):
            raise ConfigError(
                "dataset=series needs dataset.path (one file) or both dataset.train_path and "
                "dataset.test_path (not both kinds)"
            )
        if path is not None:
            check_split_fractions(val_fraction, test_fraction)
        super().__init__(name, tuple(input_shape or (0, 0)), batch_size, 0, epochs, epoch_size or 1)
        if path is not None:
            self.sources = {"dataset.path": Path(path)}
        else:
            self.sources = {"dataset.train_path": Path(train_path), "dataset.test_path": Path(test_path)}
        self.source_path = next(iter(self.sources.values()))
        self.time = time
        self.channels = list(channels) if channels is not None else None
        self.exclude = list(exclude)
        self.label = label
        self.anomaly_values = list(anomaly_values)
        self.window, self.stride = window, stride
        self.scaler_name = scaler
        self.missing = missing
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.chosen_epoch_size = epoch_size
        self.encoding = TableEncoding([])
        self.time_name: str | None = None
        self.columns_record: list[dict[str, str]] = []
        self.examples = pd.DataFrame()

    @property
    def channel_names(self) -> list[str]:
        return self.encoding.inputs

    @property
    def input_columns(self) -> list[str]:
        """A deployed detector takes consecutive points, one column per channel."""
        return self.channel_names

    @property
    def feature_columns(self) -> list[str]:
        """Per network input value (channel-major, as a C x window window flattens), its channel."""
        return [name for name in self.channel_names for _ in range(self.window)]

    @property
    def preprocessing(self) -> dict[str, Any]:
        """What the detector applies to new points: the channels' scaling, the windows, the gaps."""
        return {
            **self.encoding.to_json(),
            "window": self.window,
            "stride": self.stride,
            "missing": self.missing,
            "time": self.time_name,
        }

    def input_example(self) -> pd.DataFrame:
        """The first training points, one window and a few more: what the detector takes."""
        return self.examples

    def settings(self) -> dict[str, Any]:
        """The network's input (channels x window), an epoch of at least 4,096 windows, the dense
        model's sizes for a flattened window, and the output activation for the scaler."""
        code, hidden = suggested_sizes(len(self.channel_names) * self.window, len(self.splits.train))
        return {
            "input_shape": [len(self.channel_names), self.window],
            "epoch_size": self.epoch_size,
            "model_code_dim": code,
            "model_hidden_dims": hidden,
            "model_output_activation": "sigmoid" if self.scaler_name == "minmax" else None,
        }

    def records(self) -> dict[str, Any]:
        return {"preprocessing/series.json": self.preprocessing, "data/columns.json": self.columns_record}

    def chosen_channels(self, frame: pd.DataFrame, where: Path) -> list[str]:
        """Each column's role, shown and recorded: the channels, the label, the time axis."""
        if self.label is not None and self.label not in frame.columns:
            raise ConfigError(
                f"dataset.label: no column {self.label!r} in {where.name} ({columns_of(frame)})"
            )
        roles = column_roles(frame, self.label, self.channels, self.exclude)
        for name in self.channels or []:  # listed: a channel, checked to hold numbers below
            roles[name] = FEATURE
        self.time_name = time_column(frame, roles, self.time)
        if self.time_name is not None:
            roles[self.time_name] = TIME
        record = roles_table({name: ID_LIKE if role == TIME else role for name, role in roles.items()}, frame)
        for row in record:
            row["role"] = roles[row["column"]]
            row["use"] = SERIES_USE.get(row["role"], row["use"])
        self.columns_record = record
        log.info("series %s, every column's role:\n%s", where.name, shown_roles(record))
        channels = [name for name, role in roles.items() if role == FEATURE]
        if not channels:
            raise ConfigError(f"{where.name}: no numeric column to use as a channel ({columns_of(frame)})")
        return channels

    def checked(self, frame: pd.DataFrame, channels: list[str], setting: str) -> pd.DataFrame:
        """One file's channels, label and time, checked: numbers, time order, gaps filled."""
        where = f"{setting}={self.sources[setting]}"
        wanted = [*channels, *(name for name in (self.label, self.time_name) if name is not None)]
        absent = [name for name in wanted if name not in frame.columns]
        if absent:
            raise ConfigError(f"{where}: no column {absent[0]!r} ({columns_of(frame)})")
        check_numbers(frame, channels, self.sources[setting])
        if self.time_name is not None:
            time_values(frame[self.time_name], where)
        values = filled(frame[channels].apply(pd.to_numeric, errors="coerce"), self.missing, where)
        return frame.assign(**{name: values[name] for name in channels})

    def parts(self, frames: list[pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """Train, validation and test, in time order."""
        if len(frames) == 1:
            (frame,) = frames
            n_test = round(self.test_fraction * len(frame))
            n_val = round(self.val_fraction * len(frame))
        else:
            frame = frames[0]
            n_test, n_val = 0, round(self.val_fraction * len(frame))
        n_train = len(frame) - n_val - n_test
        parts = {
            "train": frame.iloc[:n_train],
            "validation": frame.iloc[n_train : n_train + n_val],
            "test": frame.iloc[n_train + n_val :] if len(frames) == 1 else frames[1],
        }
        for name, part in parts.items():
            if len(part) < self.window:
                sizes = ", ".join(f"{key} {len(found)}" for key, found in parts.items())
                raise ConfigError(
                    f"dataset.window={self.window} is longer than the {name} part of the series "
                    f"({sizes} points): use a shorter window, or change dataset.val_fraction / "
                    "dataset.test_fraction"
                )
        return parts

    def labels_of(self, part: pd.DataFrame) -> np.ndarray:
        if self.label is None:
            return np.zeros(len(part), bool)
        return anomaly_mask(part[self.label], self.anomaly_values)

    def build_splits(self) -> Splits:
        frames = [read_table(path, setting) for setting, path in self.sources.items()]
        channels = self.chosen_channels(frames[0], self.source_path)
        frames = [
            self.checked(frame, channels, setting)
            for frame, setting in zip(frames, self.sources, strict=True)
        ]
        parts = self.parts(frames)
        labels = {name: self.labels_of(part) for name, part in parts.items()}
        if self.label is None:
            log.warning(
                "series %s has no dataset.label: every point is taken as normal, so anomalies in the "
                "training part train the model too; the threshold flags the top validation scores "
                "(anomaly.threshold_quantile) unless anomaly.contamination says what share to expect, "
                "and there is no AUROC",
                self.source_path.name,
            )
        elif not any(found.any() for found in labels.values()):
            raise ConfigError(
                f"dataset.label={self.label}: no point of the series has an anomaly value "
                f"{self.anomaly_values}; set dataset.anomaly_values"
            )
        self.encoding = TableEncoding.fit(
            parts["train"], dict.fromkeys(channels, NUMBER), 1, self.scaler_name
        )
        self.examples = parts["train"][channels].head(self.window + 4)
        windowed = {name: self.windowed(part, labels[name]) for name, part in parts.items()}
        train, train_anomalous = windowed["train"][1:]
        if train_anomalous.all():
            raise ConfigError(
                f"dataset.window={self.window}: every training window holds a labelled anomaly; "
                "use a shorter window or a longer training part"
            )
        val_part, val_anomalous = windowed["validation"][0], windowed["validation"][2]
        test_part, test_anomalous = windowed["test"][0], windowed["test"][2]
        self.input_shape = (len(channels), self.window)
        self.epoch_size = self.chosen_epoch_size or max(int((~train_anomalous).sum()), 4096)
        log.info(
            "series %s: %d channels; %s points; windows of %d every %d; %d training windows (%d with "
            "anomalies left out), %d validation, %d test",
            self.source_path.name,
            len(channels),
            " / ".join(f"{name} {len(part)}" for name, part in parts.items()),
            self.window,
            self.stride,
            int((~train_anomalous).sum()),
            int(train_anomalous.sum()),
            len(val_part.windows),
            len(test_part.windows),
        )
        return Splits(
            train=train[~train_anomalous],
            val=val_part.windows[~val_anomalous],
            test=test_part.windows,
            test_is_anomaly=test_anomalous,
            test_labels=test_anomalous.astype(np.int64),
            val_anomalies=val_part.windows[val_anomalous] if val_anomalous.any() else None,
            test_ids=test_part.starts,
            series=SeriesLayout(self.window, self.stride, channels, val_part, test_part),
        )

    def windowed(self, part: pd.DataFrame, labels: np.ndarray) -> tuple[SeriesPart, np.ndarray, np.ndarray]:
        """A part's points and windows, the windows alone, and which of them hold an anomaly."""
        channels = self.channel_names
        starts = window_starts(len(part), self.window, self.stride)
        windows = windows_of(self.encoding.transform(part), starts, self.window)
        time = time_values(part[self.time_name], "the series") if self.time_name else None
        values = part[channels].to_numpy(np.float64)
        found = SeriesPart(values, labels, starts, windows, time)
        return found, windows, anomalous_windows(labels, starts, self.window)
