"""A table larger than memory: Parquet read a chunk at a time, each row's split from its number,
training rows streamed each epoch (each DDP rank its share), test metrics over every row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_data_table import planted_table

from autoencoders.data import streaming
from autoencoders.data.encoding import TableEncoding
from autoencoders.data.streaming import LEFT_OUT, TEST, TEST_ANOMALY, TRAIN, VAL, row_splits
from autoencoders.errors import ConfigError
from helpers.built import table_data
from pipelines.train import train


@pytest.fixture
def small_chunks(monkeypatch) -> None:
    """Chunks of 100 rows and samples of at most 400 training rows: a small file behaves as a
    large one does (many chunks, samples smaller than the splits)."""
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 100)
    monkeypatch.setitem(streaming.SAMPLE_ROWS, TRAIN, 400)


@pytest.fixture
def parquet_folder(tmp_path: Path) -> Path:
    """The planted table as two Parquet files of row groups of 128 rows (and 1,300 rows in all)."""
    frame = planted_table(n_normal=1240, n_anomalies=60)
    folder = tmp_path / "payments"
    folder.mkdir()
    frame.iloc[:700].to_parquet(folder / "part-0.parquet", row_group_size=128)
    frame.iloc[700:].reset_index(drop=True).to_parquet(folder / "part-1.parquet", row_group_size=128)
    return folder


def streamed(path: Path, **settings):
    datamodule = table_data(path=str(path), label="is_fraud", streaming=True, **settings)
    datamodule.prepare_data()
    return datamodule


def test_a_rows_split_follows_from_its_number_and_the_seed_in_the_configured_shares() -> None:
    rows = np.arange(200_000)
    is_anomaly = rows % 50 == 0
    codes = row_splits(rows, is_anomaly, 0, (0.15, 0.2, 0.5))
    in_pieces = np.concatenate(
        [row_splits(rows[i::7], is_anomaly[i::7], 0, (0.15, 0.2, 0.5)) for i in range(7)]
    )
    order = np.concatenate([rows[i::7] for i in range(7)])
    np.testing.assert_array_equal(codes[order], in_pieces)  # however the rows are read
    normal = codes[~is_anomaly]
    assert abs((normal == VAL).mean() - 0.15) < 0.005 and abs((normal == TEST).mean() - 0.2) < 0.005
    assert abs((codes[is_anomaly] == TEST_ANOMALY).mean() - 0.5) < 0.03
    assert set(np.unique(codes[is_anomaly])) == {3, 4}  # anomalies never train
    other_seed = row_splits(rows, is_anomaly, 1, (0.15, 0.2, 0.5))
    assert (other_seed != codes).mean() > 0.3


def test_a_folder_streams_every_training_row_once_per_epoch_and_each_rank_its_own_share(
    small_chunks, parquet_folder
) -> None:
    datamodule = streamed(parquet_folder, batch_size=64)
    stream = datamodule.stream
    assert stream.source.n_rows == 1300 and len(stream.source.row_groups) == 6 + 5
    n_train = stream.count(TRAIN)
    assert len(datamodule.splits.train) <= 400 < n_train  # the sample, not the split
    assert datamodule.repeat == -(-4096 // n_train)  # dataset.epoch_size: passes per epoch
    assert datamodule.steps_per_epoch == datamodule.repeat * -(-n_train // 64)
    frame = pd.concat([pd.read_parquet(parquet_folder / f"part-{i}.parquet") for i in range(2)])
    expected = datamodule.encoding.transform(frame.reset_index(drop=True)[stream.codes == TRAIN])

    def epoch_rows(rank: int, world: int, epoch: int) -> np.ndarray:
        batches = stream.train_batches(64, 0, rank, world, lambda: epoch)
        rows = [batch.numpy() for batch in batches]
        assert len(rows) == len(batches)
        return np.concatenate(rows)

    seen = epoch_rows(0, 1, 0)
    assert len(seen) == n_train
    np.testing.assert_allclose(np.sort(seen, axis=0), np.sort(expected, axis=0), rtol=1e-6)
    assert not np.array_equal(seen, epoch_rows(0, 1, 1))  # a fresh order each epoch ...
    np.testing.assert_array_equal(seen, epoch_rows(0, 1, 0))  # ... the same one for the same epoch
    first, second = epoch_rows(0, 2, 0), epoch_rows(1, 2, 0)
    assert len(stream.train_batches(64, 0, 0, 2)) == len(stream.train_batches(64, 0, 1, 2))
    assert len({tuple(row) for row in first} & {tuple(row) for row in second}) == 0


def test_gaps_are_checked_a_chunk_at_a_time_with_their_line_in_the_file(small_chunks, tmp_path) -> None:
    frame = planted_table(n_normal=600, n_anomalies=30)
    frame.loc[[5, 450], "f3"] = np.nan
    path = tmp_path / "gaps.parquet"
    frame.to_parquet(path, row_group_size=128)
    with pytest.raises(ConfigError, match=r"line 7 has no value in column 'f3'"):
        streamed(path, missing="error")
    dropped = streamed(path, missing="drop")
    assert dropped.tags["dataset.dropped_rows"] == "2"
    assert (dropped.stream.codes[[5, 450]] == LEFT_OUT).all()


@pytest.mark.parametrize(
    ("settings", "suffix", "message"),
    [
        (
            {"streaming": True},
            ".csv",
            "dataset.streaming: reads Parquet (a .parquet file or a folder of them)",
        ),
        ({"max_memory_gb": 1e-6}, ".csv", "dataset.max_memory_gb=1e-06: t.csv is 0.00 GB, over it"),
    ],
)
def test_only_parquet_streams(tmp_path, settings, suffix, message) -> None:
    path = tmp_path / f"t{suffix}"
    planted_table().to_csv(path, index=False)
    with pytest.raises(ConfigError) as raised:
        table_data(path=str(path), label="is_fraud", **settings).prepare_data()
    assert str(raised.value).startswith(message)


def test_a_parquet_table_over_the_memory_budget_streams(tmp_path) -> None:
    path = tmp_path / "t.parquet"
    planted_table().to_parquet(path)
    assert table_data(path=str(path), label="is_fraud", max_memory_gb=1.0).streamed_source() is None
    datamodule = table_data(path=str(path), label="is_fraud", max_memory_gb=1e-5)
    datamodule.prepare_data()
    assert datamodule.stream is not None
    # A budget this small shrinks the chunk and the samples to their floors (1,024 and 100 rows).
    assert datamodule.stream.source.chunk_rows == 1024
    assert len(datamodule.splits.train) <= 100 < datamodule.stream.count(TRAIN)


def test_a_streamed_run_scores_every_test_row_and_matches_the_in_memory_run(
    make_cfg, client, small_chunks, parquet_folder
) -> None:
    data = [
        "dataset=table",
        f"dataset.path={parquet_folder}",
        "dataset.label=is_fraud",
        "trainer.max_epochs=4",
    ]
    in_memory = train(make_cfg(*data))
    metrics = train(make_cfg(*data, "dataset.streaming=true"))
    runs = client.search_runs(
        [client.get_experiment_by_name("payments").experiment_id], order_by=["attributes.start_time DESC"]
    )
    run = runs[0]
    assert run.info.status == "FINISHED"
    stream = streamed(parquet_folder).stream
    n_test, n_anomalies = stream.count(TEST, TEST_ANOMALY), stream.count(TEST_ANOMALY)
    assert run.data.tags["evaluation.rows"].startswith(f"test metrics on all {n_test} test rows")
    counted = [metrics[f"test/{kind}"] for kind in ("true_positives", "false_negatives")]
    assert sum(counted) == n_anomalies  # every test anomaly, not the sample's
    assert metrics["test/auroc"] > 0.95 and abs(metrics["test/auroc"] - in_memory["test/auroc"]) < 0.03


def test_trim_is_refused_on_a_streamed_table(make_cfg, small_chunks, parquet_folder) -> None:
    cfg = make_cfg(
        "dataset=table",
        f"dataset.path={parquet_folder}",
        "dataset.label=is_fraud",
        "dataset.streaming=true",
        "anomaly.trim=true",
        "anomaly.contamination=0.05",
    )
    with pytest.raises(ConfigError, match=r"anomaly.trim: not with a streamed table"):
        train(cfg)


def test_the_scaler_of_a_streamed_table_is_fitted_on_every_training_row(small_chunks, parquet_folder) -> None:
    """The samples fit the categories and fill values; the min-max range comes from every training
    row, read a chunk at a time, as the in-memory fit over those rows gives it."""
    datamodule = streamed(parquet_folder)
    frame = pd.concat([pd.read_parquet(parquet_folder / f"part-{i}.parquet") for i in range(2)])
    train_rows = frame.reset_index(drop=True)[datamodule.stream.codes == TRAIN]
    assert len(datamodule.splits.train) < len(train_rows)  # the encoding's sample is smaller
    whole = TableEncoding.fit(train_rows, {f"f{i}": "number" for i in range(8)}, 20, "minmax")
    np.testing.assert_allclose(datamodule.encoding.shift[:8], whole.shift, rtol=1e-12)
    np.testing.assert_allclose(datamodule.encoding.scale[:8], whole.scale, rtol=1e-12)
