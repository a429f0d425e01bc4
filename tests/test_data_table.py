"""A user's table (CSV, Parquet) as a dataset: splits, preprocessing, bad input, and a whole run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoencoders.data import table
from autoencoders.data.table import TableDataModule
from autoencoders.errors import ConfigError
from autoencoders.evaluation.records import OUTPUTS_PATH
from autoencoders.tracking import runs
from helpers.built import table_data
from helpers.runs import artifact_paths, load_detector
from pipelines.compare import compare
from pipelines.pca_baseline import pca_baseline
from pipelines.train import train


def planted_table(n_normal: int = 600, n_anomalies: int = 30, seed: int = 0) -> pd.DataFrame:
    """Eight features driven by two hidden factors (structure an autoencoder can learn), and rows
    that break that structure with the same scale per feature: the planted anomalies."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(2, 8))
    normal = np.tanh(rng.normal(size=(n_normal, 2)) @ mixing) + 0.05 * rng.normal(size=(n_normal, 8))
    anomalies = rng.normal(size=(n_anomalies, 8)) * normal.std(0) + normal.mean(0)
    frame = pd.DataFrame(np.vstack([normal, anomalies]), columns=[f"f{i}" for i in range(8)])
    frame["merchant"] = rng.choice(["shop", "web"], len(frame))  # text: a category, one-hot
    frame["is_fraud"] = np.r_[np.zeros(n_normal, int), np.ones(n_anomalies, int)]
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture
def transactions(tmp_path: Path) -> Path:
    path = tmp_path / "transactions.csv"
    planted_table().to_csv(path, index=False)
    return path


def module(path: Path, **settings) -> TableDataModule:
    datamodule = table_data(path=str(path), label=settings.pop("label", "is_fraud"), **settings)
    datamodule.prepare_data()
    return datamodule


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_anomalies_go_to_validation_and_test_only_and_scaling_uses_training_rows(tmp_path, suffix) -> None:
    frame = planted_table()
    path = tmp_path / f"transactions{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    datamodule = module(path, scaler="standard")
    splits = datamodule.splits
    numbers = [f"f{i}" for i in range(8)]
    one_hot = ["merchant=shop", "merchant=web", "merchant=(other)"]  # by frequency, then the rest
    assert datamodule.feature_names in (numbers + one_hot, numbers + [one_hot[1], one_hot[0], one_hot[2]])
    assert datamodule.input_columns == [*numbers, "merchant"]  # not the label
    assert len(splits.train) + len(splits.val) + int((~splits.test_is_anomaly).sum()) == 600
    assert int(splits.test_is_anomaly.sum()) == 15 and len(splits.val_anomalies) == 15  # half each
    assert len(splits.test) == 120 + 15 and len(splits.val) == 90  # 20 % and 15 % of the normal rows
    np.testing.assert_allclose(splits.train[:, :8].mean(axis=0), 0, atol=1e-5)  # standardised on train
    assert set(np.unique(splits.train[:, 8:])) == {0, np.float32(1 / np.sqrt(2))}  # one-hot, Gower-weighed
    record = datamodule.records()["preprocessing/table.json"]
    normal = frame[frame.is_fraud == 0]
    assert record["scaler"] == "standard" and record["features"] == datamodule.feature_names
    assert [code["kind"] for code in record["columns"]] == ["number"] * 8 + ["category"]
    rows = frame.loc[splits.test_ids[~splits.test_is_anomaly]]
    assert (rows.is_fraud == 0).all() and set(rows.index) <= set(normal.index)  # ids are file rows
    assert datamodule.settings() == {
        "input_shape": [11],
        "epoch_size": 4096,
        "model_code_dim": 3,
        "model_hidden_dims": [22, 11],
        "model_output_activation": None,  # standardised values are unbounded
    }
    again = module(path, scaler="standard").splits
    np.testing.assert_array_equal(again.test, splits.test)  # reproducible from split_seed


def test_without_a_label_every_row_is_normal(transactions) -> None:
    splits = module(transactions, label=None, features=[f"f{i}" for i in range(8)]).splits
    assert not splits.test_is_anomaly.any() and splits.val_anomalies is None
    assert not splits.has_anomalies


def test_minmax_scaling_and_dropped_missing_rows(tmp_path, caplog) -> None:
    frame = planted_table()
    frame.loc[[3, 7], "f2"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    with caplog.at_level(logging.WARNING, logger=table.__name__):
        datamodule = module(path, scaler="minmax", missing="drop")
    assert "dropped 2 rows with missing values" in caplog.text
    assert datamodule.tags == {"dataset.dropped_rows": "2"}
    assert datamodule.splits.train.min() == pytest.approx(
        0
    ) and datamodule.splits.train.max() == pytest.approx(1)
    assert datamodule.settings()["model_output_activation"] == "sigmoid"  # what [0, 1] rows want


@pytest.mark.parametrize(
    ("name", "change", "settings", "message"),
    [
        ("absent.csv", None, {}, "dataset.path={path}: no such file"),
        (
            "sheet.xlsx",
            "text",
            {},
            "dataset.path={path}: unreadable format '.xlsx'; use a .csv or .parquet file",
        ),
        ("broken.parquet", "text", {}, "dataset.path={path}: could not be read ("),
        ("t.csv", None, {"label": "is_frud"}, "dataset.label: no column 'is_frud' in t.csv (columns: f0, f1"),
        ("t.csv", None, {"features": ["f0", "amount"]}, "dataset.features: no column 'amount' (columns: f0"),
        (
            "t.csv",
            "stray text",
            {},
            "dataset.path: column 'f3' of t.csv is not numeric (first bad value '?' on line 12); fix the",
        ),
        (
            "t.csv",
            "gap",
            {"missing": "error"},
            "dataset.path={path}: line 7 has no value in column 'f1'; fill it, or set dataset.missing=impute",
        ),
        (
            "t.csv",
            "no label",
            {"missing": "error"},
            "dataset.path={path}: line 4 has no value in the label column 'is_fraud'; fill it, or set",
        ),
        (
            "t.csv",
            "no fraud",
            {},
            "dataset.label=is_fraud: no row of t.csv has an anomaly value [1, True, 'yes']",
        ),
        ("t.csv", "tiny", {}, "dataset.path={path}: 2 normal samples are too few for the splits"),
    ],
)
def test_bad_tables_are_one_line_naming_file_column_or_row(tmp_path, name, change, settings, message) -> None:
    frame = planted_table()
    if change == "gap":
        frame.loc[5, "f1"] = np.nan
    if change == "stray text":
        frame["f3"] = frame["f3"].astype(object)
        frame.loc[10, "f3"] = "?"
    if change == "no label":
        frame["is_fraud"] = frame["is_fraud"].astype(float)
        frame.loc[2, "is_fraud"] = np.nan
    if change == "no fraud":
        frame["is_fraud"] = 0
    if change == "tiny":
        frame = frame[frame.is_fraud == 1].head(3).assign(is_fraud=[0, 0, 1])
    path = tmp_path / name
    if change == "text":
        path.write_text("this is not a table\x00\x01")
    elif name != "absent.csv":
        frame.to_csv(path, index=False)
    with pytest.raises(ConfigError) as raised:
        module(path, **settings)
    assert str(raised.value).startswith(message.format(path=path))
    assert "\n" not in str(raised.value)


def test_a_table_trains_finds_the_planted_anomalies_and_compares_with_pca(
    make_cfg, client, transactions
) -> None:
    data = ["dataset=table", f"dataset.path={transactions}", "dataset.label=is_fraud"]
    metrics = train(make_cfg(*data, "trainer.max_epochs=20"))
    assert metrics["test/auroc"] > 0.95  # chance is 0.5
    experiment = client.get_experiment_by_name("transactions")  # named after the file
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["model.code_dim"] == "3" and run.data.params["model.net.hidden_dims"] == "[22, 11]"
    assert run.data.params["model.net.input_shape"] == "[11]"  # 8 numbers, merchant's 2 values + other
    files = artifact_paths(client, run.info.run_id)
    assert {"feature_errors.png", "codes.png", "roc.png", "scores.png", "preprocessing/table.json"} <= files
    assert "reconstructions.png" not in files and "samples.png" not in files  # no spiral-only figure
    encoding = json.loads(
        Path(client.download_artifacts(run.info.run_id, "preprocessing/table.json")).read_text()
    )
    assert encoding["scaler"] == "minmax" and len(encoding["shift"]) == len(encoding["scale"]) == 11
    assert run.data.params["model.net.output_activation"] == "sigmoid"  # [0, 1], as minmax scales

    # The detector takes the file's raw rows and applies the run's encoding and scaler itself.
    detector = load_detector(client.tracking_uri, f"runs:/{run.info.run_id}/anomaly_detector")
    outputs = runs.load_arrays(client, run.info.run_id, OUTPUTS_PATH)
    test_rows = table_data(path=str(transactions), label="is_fraud").splits.test_ids[outputs["shown"]]
    inputs = [*(f"f{i}" for i in range(8)), "merchant"]
    scored = detector.predict(pd.read_csv(transactions).loc[test_rows, inputs])
    np.testing.assert_allclose(scored["score"], outputs["scores"][outputs["shown"]], rtol=1e-4)
    errors = scored[[f"error_{name}" for name in inputs]]  # per input column: merchant's one-hot summed
    rebuilt = detector.unwrap_python_model().detector
    samples = rebuilt.to_model_space(rebuilt.checked(pd.read_csv(transactions).loc[test_rows, inputs]))
    squared = (samples - rebuilt.detector.decode(rebuilt.detector.encode(samples))) ** 2
    np.testing.assert_allclose(errors["error_merchant"], squared[:, 8:].sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(errors.sum(axis=1), squared.sum(axis=1), rtol=1e-5)

    pca_metrics = pca_baseline(make_cfg(*data, config_name="pca_baseline"))
    assert pca_metrics.keys() == metrics.keys() - {"val/loss"}
    compare(make_cfg("experiments=[transactions]", config_name="compare"))
    (compared,) = client.search_runs([experiment.experiment_id], "tags.stage = 'compare'")
    assert compared.data.tags["compared_runs"] == "2"  # one group: the same table, the same code size
    assert "transactions-code-3/feature_errors.png" in artifact_paths(client, compared.info.run_id)


def test_conv_on_a_table_is_the_one_line_error(make_cfg, transactions) -> None:
    with pytest.raises(ConfigError, match=r"model=conv needs image data \(C x H x W\)"):
        train(make_cfg("model=conv", "dataset=table", f"dataset.path={transactions}"))


@pytest.mark.parametrize(
    ("features", "rows", "hidden"),
    [
        (13, 50, [13]),  # wine's one class: 1,456 weights for 650 values, one layer
        (64, 115, [64]),  # digits' one class
        (64, 600, [128, 64]),  # 33,792 weights for 38,400 values
        (11, 390, [22, 11]),
    ],
)
def test_a_small_training_set_gets_one_hidden_layer(features: int, rows: int, hidden: list[int]) -> None:
    code, widths = table.suggested_sizes(features, rows)
    assert widths == hidden and code == round(features**0.5)
