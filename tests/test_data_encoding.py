"""A table's columns as the network's numbers: categories one-hot, gaps filled with indicators, dates
as parts, all fitted on the training rows and applied alike from the detector's JSON."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest

from autoencoders.data import table
from autoencoders.data.encoding import TableEncoding, category_counts, column_errors
from autoencoders.errors import InputError
from helpers.built import table_data
from helpers.tables import transactions

KINDS = {"amount": "number", "shop": "category", "when": "datetime"}


def training_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": [10.0, 20.0, np.nan, 40.0, 30.0, 50.0],
            "shop": ["web", "web", None, None, "kiosk", "web"],
            "when": [*(f"2026-03-0{day}T0{day}:00" for day in range(2, 7)), None],
        }
    )


def test_categories_gaps_and_dates_are_encoded_as_the_training_rows_fitted_them() -> None:
    encoding = TableEncoding.fit(training_rows(), KINDS, max_categories=2, scaler="none")
    assert encoding.inputs == ["amount", "shop", "when"]
    assert encoding.features == [
        "amount",
        "amount_missing",  # the training rows had a gap
        "shop=web",  # the two most frequent values (a gap is one), then the rest
        "shop=(missing)",
        "shop=(other)",
        "when_hour",
        "when_weekday",
        "when_month",
        "when_missing",
    ]
    new = pd.DataFrame(
        {"amount": [np.nan, 5.0], "shop": ["web", "market"], "when": ["2026-12-31T23:30", None]}
    )
    encoded = pd.DataFrame(encoding.transform(new), columns=encoding.features)
    assert encoded["amount"].tolist() == [30.0, 5.0]  # a gap: the training rows' median
    assert encoded["amount_missing"].tolist() == [1, 0]
    weight = np.float32(1 / np.sqrt(2))  # one-hot: 0 or 1/sqrt(2) under every scaler
    assert encoded["shop=web"].tolist() == [weight, 0] and encoded["shop=(other)"].tolist() == [0, weight]
    assert encoded[["when_hour", "when_weekday", "when_month"]].iloc[0].tolist() == [23, 3, 12]  # a Thursday
    assert encoded[["when_hour", "when_weekday", "when_month"]].iloc[1].tolist() == [4, 2, 3]  # the medians
    assert encoded["when_missing"].tolist() == [0, 1]
    stored = TableEncoding.from_json(json.loads(json.dumps(encoding.to_json())))  # what the detector keeps
    np.testing.assert_array_equal(stored.transform(new), encoding.transform(new))
    assert stored.to_json()["features"] == encoding.features


def mixed_table(n: int = 3000) -> tuple[pd.DataFrame, dict[str, str], np.ndarray]:
    """Numbers with gaps, categories with gaps and rare values, codes read as floats, 1.0 beside
    "1", dates; and half its rows to fit on."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "amount": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(3, 1, n)),
            "shop": rng.choice(["web", "kiosk", "market", "phone", None], n),  # gaps, a rare value
            "code": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 6, n).astype(float)),
            "mixed": pd.Series(
                [[1.0, 2.0, "1", "two"][i] for i in rng.integers(0, 4, n)], dtype=object
            ),  # 1.0 and "1" alike
            "when": [f"2026-03-{1 + day % 28:02d}T{day % 24:02d}:00" for day in range(n)],
        }
    )
    kinds = {
        "amount": "number",
        "shop": "category",
        "code": "category",
        "mixed": "category",
        "when": "datetime",
    }
    return frame, kinds, rng.permutation(n)[: n // 2]


@pytest.mark.parametrize("scaler", ["minmax", "standard"])
def test_the_column_at_a_time_scaler_gives_scikit_learns_scaling_of_the_whole_training_table(scaler) -> None:
    """The scaler is fitted and applied one input column's features at a time (no float64 copy of
    the whole table is made); the numbers are those of scikit-learn's scaler fitted on every
    encoded training row at once, and fitting apart from transforming changes nothing."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    frame, kinds, train = mixed_table()
    at_once, transformed = TableEncoding.fit_transform(frame, train, kinds, max_categories=3, scaler=scaler)
    fitted = TableEncoding.fit(frame.iloc[train], kinds, max_categories=3, scaler=scaler)
    assert at_once.to_json() == fitted.to_json()
    np.testing.assert_array_equal(transformed, fitted.transform(frame))
    assert transformed.dtype == np.float32 and transformed.flags.c_contiguous

    encoded = np.column_stack([block for _, block in at_once.blocks(frame)])  # float64, unscaled
    one_hot = np.array(["=" in name for name in at_once.features])
    whole = (StandardScaler() if scaler == "standard" else MinMaxScaler()).fit(encoded[train][:, ~one_hot])
    np.testing.assert_allclose(transformed[:, ~one_hot], whole.transform(encoded[:, ~one_hot]), atol=1e-6)
    assert set(np.unique(transformed[:, one_hot])) == {0, np.float32(1 / np.sqrt(2))}
    assert at_once.features[at_once.feature_columns.index("mixed")] == "mixed=1"  # 1.0 and "1": half


def test_categories_are_kept_by_their_count_and_ties_by_the_row_they_first_appear_in() -> None:
    """The kept categories are the most frequent training values as text (1.0 and "1" one value,
    a gap the value "(missing)"), counted over the distinct values; ties keep the first seen."""
    frame, kinds, train = mixed_table()
    counted = category_counts(frame["mixed"])
    assert (
        counted.to_dict()
        == frame["mixed"].map(lambda value: str(value).removesuffix(".0")).value_counts().to_dict()
    )
    assert list(counted.index[:1]) == ["1"]
    tied = pd.Series(["b", None, "a", "c", "a", "b", np.nan, "c", "d"])  # b, (missing), a, c: two each
    assert list(category_counts(tied).index) == ["b", "(missing)", "a", "c", "d"]
    assert category_counts(pd.Series([], dtype=object)).empty


def test_minmax_scales_the_numbers_and_leaves_one_hot_at_gowers_weight() -> None:
    encoding = TableEncoding.fit(training_rows(), KINDS, max_categories=5, scaler="minmax")
    encoded = pd.DataFrame(encoding.transform(training_rows()), columns=encoding.features)
    assert encoded["amount"].min() == 0 and encoded["amount"].max() == 1
    one_hot = [name for name in encoding.features if name.startswith("shop=")]
    assert set(np.unique(encoded[one_hot])) == {0, np.float32(1 / np.sqrt(2))}  # differ: as far as a range


def test_conform_reads_whole_numbers_as_numbers_and_names_stray_text() -> None:
    encoding = TableEncoding.fit(training_rows(), KINDS, max_categories=5, scaler="none")
    typed = encoding.conform(pd.DataFrame({"amount": [3, 4], "shop": ["web", None], "when": [None, "x"]}))
    assert typed["amount"].dtype == np.float64 and typed["shop"].tolist() == ["web", None]
    bad = pd.DataFrame({"amount": ["3", "lots"], "shop": ["web", "web"], "when": [None, None]}, index=[2, 3])
    with pytest.raises(InputError, match=r"^input column 'amount' is not numeric: 'lots' in line 3$"):
        encoding.conform(bad, "line")


def test_column_errors_sum_each_columns_features() -> None:
    names, summed = column_errors(np.array([[1.0, 2.0, 4.0]]), ["a", "b", "a"])
    assert names == ["a", "b"] and summed.tolist() == [[5.0, 2.0]]


def test_dates_become_features_on_request_and_listed_codes_become_categories(tmp_path) -> None:
    path = tmp_path / "transactions.csv"
    transactions().to_csv(path, index=False)
    datamodule = table_data(path=str(path), label="is_fraud", datetime_features=True, categorical=["items"])
    datamodule.prepare_data()
    assert datamodule.input_columns == ["timestamp", "merchant_category", "amount", "items", "V1", "V2", "V3"]
    features = datamodule.feature_names
    assert features[:3] == ["timestamp_hour", "timestamp_weekday", "timestamp_month"]
    assert sorted(name for name in features if name.startswith("items=")) == [
        "items=(other)",
        *(f"items={count}" for count in range(1, 5)),
    ]
    logged = {row["column"]: row["use"] for row in datamodule.records()["data/columns.json"]}
    assert logged["timestamp"] == "model input: its hour, weekday and month"


def test_gaps_are_filled_by_default_and_unlabelled_rows_left_out(tmp_path, caplog) -> None:
    frame = transactions(gaps=12)
    frame["is_fraud"] = frame["is_fraud"].astype(float)
    frame.loc[[5, 9], "is_fraud"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level(logging.INFO, logger=table.__name__):
        datamodule = table_data(path=str(path), label="is_fraud")
        datamodule.prepare_data()
    assert "left out 2 rows without a label" in caplog.text
    assert re.search(r"gaps filled from the training rows \(merchant_category \d+, amount \d+\)", caplog.text)
    assert datamodule.tags == {"dataset.unlabelled_rows": "2"}
    splits = datamodule.splits
    assert len(splits.train) + len(splits.val) + len(splits.test) + len(splits.val_anomalies) == 398
    assert not np.isnan(splits.train).any()
    assert "amount_missing" in datamodule.feature_names
    assert "merchant_category=(missing)" in datamodule.feature_names
