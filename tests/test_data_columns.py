"""Column roles of a user's table: ids, constants, dates and text left out of the features, each
said once and logged with the run; what the user lists or excludes wins."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from autoencoders.data.columns import column_roles, roles_table
from autoencoders.errors import ConfigError
from helpers.built import table_data
from helpers.tables import transactions


def test_each_column_gets_the_role_its_values_show() -> None:
    roles = column_roles(transactions(), "is_fraud", None, [])
    assert roles == {
        "id": "id-like",
        "timestamp": "datetime",
        "merchant_category": "categorical",
        "currency": "constant",
        "amount": "feature",
        "items": "feature",  # whole numbers that repeat: a count, not an id
        "V1": "feature",
        "V2": "feature",
        "V3": "feature",
        "is_fraud": "label",
    }


def test_listed_and_excluded_columns_win_and_unknown_names_are_one_line() -> None:
    frame = transactions()
    assert column_roles(frame, "is_fraud", ["id", "V1"], [])["id"] == "feature"  # the user forces it
    assert column_roles(frame, "is_fraud", None, ["V2"])["V2"] == "excluded"
    with pytest.raises(ConfigError, match=r"^dataset.exclude: no column 'V9' \(columns: id, timestamp"):
        column_roles(frame, "is_fraud", None, ["V9"])


def test_the_table_module_trains_on_the_features_and_logs_every_columns_role(tmp_path, caplog) -> None:
    path = tmp_path / "transactions.csv"
    transactions().to_csv(path, index=False)
    datamodule = table_data(path=str(path), label="is_fraud")
    with caplog.at_level("INFO"):
        datamodule.prepare_data()
    shown = caplog.text.split("every column's role:\n")[1].splitlines()[:10]  # one line per column
    assert re.match(r"^  id +id-like +int64 +left out: unique or ever-increasing values", shown[0])
    assert re.match(r"^  is_fraud +label +int64 +says which rows are anomalies", shown[-1])
    assert datamodule.input_columns == ["merchant_category", "amount", "items", "V1", "V2", "V3"]
    values = sorted(datamodule.feature_names[:3])
    assert values == [f"merchant_category={value}" for value in ("food", "fuel", "travel")]
    assert datamodule.feature_names[3] == "merchant_category=(other)"  # rarer and unseen values
    assert datamodule.feature_names[4:] == ["amount", "items", "V1", "V2", "V3"]
    assert datamodule.splits.train.shape[1] == 9
    logged = {row["column"]: row for row in datamodule.records()["data/columns.json"]}
    assert logged["id"]["role"] == "id-like" and logged["id"]["use"].startswith("left out")
    assert logged["timestamp"]["use"].startswith("left out: dates")
    assert logged["merchant_category"]["use"].startswith("model input: one-hot")
    assert logged["amount"]["use"] == "model input" and logged["amount"]["dtype"] == "float64"
    assert roles_table({"x": "excluded"}, pd.DataFrame({"x": [1]}))[0]["use"] == "left out: dataset.exclude"


def test_a_table_without_a_label_says_what_that_means(tmp_path, caplog) -> None:
    path = tmp_path / "unlabelled.csv"
    transactions().drop(columns=["is_fraud"]).to_csv(path, index=False)
    with caplog.at_level("WARNING"):
        table_data(path=str(path), label=None).prepare_data()
    assert "unlabelled.csv has no dataset.label: every row is taken as normal" in caplog.text
