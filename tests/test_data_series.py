"""dataset=series: a sensor log split in time order, cut into windows, scaled on its training part;
the one-line errors a user's log can meet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoencoders.data.windows import anomalous_windows, window_starts, windows_of
from autoencoders.errors import ConfigError, InputError
from helpers.built import series_data
from helpers.series import FAULTS, sensor_log


def written(tmp_path, frame: pd.DataFrame, name: str = "machine.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_windows_cover_every_point_and_know_their_anomalies() -> None:
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(11, 4, 3).tolist() == [0, 3, 6, 7]  # a last window ends on the last point
    values = np.arange(22, dtype=float).reshape(11, 2)
    windows = windows_of(values, window_starts(11, 4, 3), 4)
    assert windows.shape == (4, 2, 4) and windows[1, 1].tolist() == [7, 9, 11, 13]  # channels first
    labels = np.zeros(11, bool)
    labels[6] = True  # in the windows 3-6 and 6-9, not 7-10
    assert anomalous_windows(labels, window_starts(11, 4, 3), 4).tolist() == [False, True, True, False]


def test_splits_follow_time_scaling_uses_the_training_part_and_anomalies_never_train(tmp_path) -> None:
    frame = sensor_log()
    data = series_data(path=written(tmp_path, frame), label="is_anomaly", window=20)
    splits, layout = data.splits, data.splits.series
    dip_windows = FAULTS["dip"][1] + 20 - 1
    assert len(splits.train) == 900 - 20 + 1 - dip_windows  # the first 900 points, less the dip's
    assert splits.train.shape[1:] == (2, 20) and data.settings()["input_shape"] == [2, 20]
    train_points = frame.iloc[:900][["load", "current"]].to_numpy()
    normal = train_points[~frame.iloc[:900]["is_anomaly"].astype(bool).to_numpy()]
    assert splits.train.min() >= 0 and splits.train.max() <= 1  # minmax over the training part
    assert splits.train.max() == pytest.approx(1) and normal.max() < train_points.max() + 1e-9
    np.testing.assert_array_equal(layout.test.values, frame.iloc[1170:][["load", "current"]].to_numpy())
    assert layout.test.labels.sum() == FAULTS["level shift"][1] + FAULTS["stuck"][1]
    assert layout.val.labels.sum() == FAULTS["spike"][1] and splits.val_anomalies is not None
    assert layout.test.starts[-1] == 630 - 20 and len(splits.test) == 630 - 20 + 1
    assert layout.test.time[0] == np.datetime64("2026-03-01T00:19:30")  # point 1170
    roles = {row["column"]: row["role"] for row in data.records()["data/columns.json"]}
    assert roles == {"time": "time", "load": "feature", "current": "feature", "is_anomaly": "label"}


def test_a_training_file_and_a_test_file_as_benchmark_archives_ship_them(tmp_path) -> None:
    frame = sensor_log(time="seconds")
    train = written(tmp_path, frame.iloc[:900].assign(is_anomaly=0), "log_TRAIN.csv")
    test = written(tmp_path, frame.iloc[900:], "log_TEST.csv")
    data = series_data(path=None, train_path=train, test_path=test, label="is_anomaly", window=20)
    layout = data.splits.series
    assert len(layout.val.labels) == 135 and not layout.val.labels.any()  # the training file's last 15 %
    assert len(layout.test.labels) == 900 and layout.test.time[0] == 900
    assert data.splits.val_anomalies is None


def swapped(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[[10, 11], "time"] = frame.loc[[11, 10], "time"].to_numpy()
    return frame


@pytest.mark.parametrize(
    ("change", "settings", "message"),
    [
        (None, {"window": 400}, r"^dataset.window=400 is longer than the validation part of the series \("),
        (swapped, {}, r"^dataset.time: column 'time' of dataset.path=.* goes back in time on line 13 "),
        (
            lambda f: f.assign(state="on"),
            {"channels": ["load", "state"]},
            r"^dataset.path: column 'state' of machine.csv is not numeric \(first bad value 'on' on line 2\)",
        ),
        (lambda f: f.assign(is_anomaly=0), {}, r"^dataset.label=is_anomaly: no point of the series has"),
        (None, {"train_path": "a.csv"}, r"^dataset=series needs dataset.path \(one file\) or both"),
        (
            lambda f: f.assign(load=f["load"].where(f.index != 5)),
            {"missing": "error"},
            r"^dataset.path=.*: line 7 has no value in channel 'load'; fill it, or set dataset.missing=",
        ),
    ],
)
def test_bad_series_are_one_line_naming_the_setting_or_line(tmp_path, change, settings, message) -> None:
    frame = sensor_log()
    path = written(tmp_path, change(frame) if change else frame)
    with pytest.raises((ConfigError, InputError), match=message) as raised:
        series_data(**{"path": path, "label": "is_anomaly", "window": 20, **settings}).splits  # noqa: B018
    assert "\n" not in str(raised.value)


def test_gaps_are_interpolated_in_time_by_default(tmp_path) -> None:
    frame = sensor_log()
    frame.loc[100, "load"] = np.nan
    data = series_data(path=written(tmp_path, frame), label="is_anomaly", window=20)
    expected = (frame.loc[99, "load"] + frame.loc[101, "load"]) / 2
    train = data.splits.train
    lo, scale = data.encoding.shift[0], data.encoding.scale[0]
    assert train[100 - 20 + 1, 0, -1] == pytest.approx((expected - lo) / scale, rel=1e-5)
