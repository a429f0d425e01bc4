"""What every in-memory datamodule shares: batches, sharding, the splits' helpers, loaders."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from autoencoders.data.base import Splits
from autoencoders.data.batches import TensorBatches
from helpers.built import spiral_data, table_data
from helpers.tables import transactions


def test_batches_cover_every_sample_once_per_pass() -> None:
    data = torch.arange(10.0).unsqueeze(1)
    batches = TensorBatches(data, batch_size=4, shuffle=True, seed=1, passes=2)
    epoch = list(batches)
    assert len(epoch) == len(batches) == 6
    first_pass = torch.cat(epoch[:3]).squeeze(1)
    assert sorted(first_pass.tolist()) == list(range(10))
    assert first_pass.tolist() != list(range(10))  # shuffled


def test_grouped_batches_are_the_same_batches_in_the_same_order() -> None:
    data = torch.arange(10.0).unsqueeze(1)
    one_by_one = list(TensorBatches(data, batch_size=4, shuffle=True, seed=1, passes=2))
    grouped = TensorBatches(data, batch_size=4, shuffle=True, seed=1, passes=2, steps_per_call=4)
    groups = list(grouped)
    assert [len(group) for group in groups] == [4, 2] and len(grouped) == 2  # the last group is short
    assert all(torch.equal(a, b) for a, b in zip(one_by_one, sum(groups, []), strict=True))


def test_batches_shard_by_rank_without_overlap() -> None:
    data = torch.arange(10.0).unsqueeze(1)
    shards = [torch.cat(list(TensorBatches(data, 3, True, seed=0, rank=r, world_size=2))) for r in (0, 1)]
    values = sorted(torch.cat(shards).squeeze(1).tolist())
    assert values == list(range(10))


def test_uneven_shards_are_padded_to_the_same_number_of_steps() -> None:
    data = torch.arange(129.0).unsqueeze(1)  # unpadded, ranks would get 65 and 64: 2 and 1 batches of 64
    loaders = [TensorBatches(data, 64, True, seed=0, rank=r, world_size=2) for r in (0, 1)]
    epochs = [list(loader) for loader in loaders]
    assert [len(batches) for batches in epochs] == [len(loaders[0])] * 2 == [2, 2]
    seen = torch.cat([torch.cat(batches) for batches in epochs]).squeeze(1)
    assert set(seen.tolist()) == set(range(129)) and len(seen) == 130  # one sample repeated


def splits_with(is_anomaly: list[bool]) -> Splits:
    flags = np.array(is_anomaly)
    samples = np.arange(len(flags), dtype=np.float32)[:, None]
    return Splits(train=samples, val=samples, test=samples, test_is_anomaly=flags)


def test_has_anomalies_needs_both_kinds_in_the_test_set() -> None:
    assert splits_with([False, True]).has_anomalies
    assert not splits_with([False, False]).has_anomalies
    assert not splits_with([True, True]).has_anomalies


def test_showcase_spreads_each_kind_and_puts_normal_first() -> None:
    splits = splits_with([False] * 10 + [True] * 5)
    np.testing.assert_array_equal(splits.showcase(3, 2), [0, 4, 9, 10, 14])
    np.testing.assert_array_equal(splits.showcase(20, 0), np.arange(10))  # at most what there is


def test_validation_anomalies_come_as_a_second_loader() -> None:
    datamodule = spiral_data()
    assert isinstance(datamodule.val_dataloader(), TensorBatches)  # the spiral has none
    anomalies = datamodule.splits.test[datamodule.splits.test_is_anomaly][:7]
    datamodule._splits = Splits(**{**datamodule.splits.__dict__, "val_anomalies": anomalies})
    normal, anomalous = datamodule.val_dataloader()
    assert torch.equal(torch.cat(list(anomalous)), torch.as_tensor(anomalies, dtype=torch.float32))
    assert len(torch.cat(list(normal))) == len(datamodule.splits.val)


def test_validation_takes_batches_of_up_to_a_megabyte_and_at_least_the_trainings() -> None:
    """Validation steps no optimizer: its batches hold up to 2**18 values, so that a large table's
    validation is a few dozen Lightning steps rather than hundreds; never fewer than a training batch."""
    datamodule = spiral_data(batch_size=10)
    assert datamodule.validation_batch_size == 2**17  # 2 values a sample
    assert [len(batch) for batch in datamodule.val_dataloader()] == [len(datamodule.splits.val)] == [100]
    assert {len(batch) for batch in datamodule.train_dataloader()} == {10}
    datamodule.input_shape = (1, 28, 28)
    assert datamodule.validation_batch_size == 2**18 // 784 == 334
    datamodule.input_shape = (3, 256, 256)  # 196,608 values: a training batch's 10 samples
    assert datamodule.validation_batch_size == 10


def test_a_tables_validation_batches_are_sized_by_its_features_before_anything_else_asked(tmp_path) -> None:
    """A table knows its width once read: a fresh datamodule's first ask (Lightning's sanity check
    asks for validation first) reads it, rather than sizing batches for a width of 0."""
    path = tmp_path / "transactions.csv"
    transactions(rows=400).to_csv(path, index=False)
    datamodule = table_data(path=str(path), label="is_fraud", batch_size=4)
    size = datamodule.validation_batch_size
    assert size == 2**18 // datamodule.input_shape[0] and datamodule.input_shape[0] > 1


def test_loaders_hold_the_split_on_the_trainers_device() -> None:
    """A GPU training keeps the in-memory split on the GPU: batches are slices there, not copies
    made step by step (the ``meta`` device stands in for a GPU here)."""
    datamodule = spiral_data()
    device = torch.device("meta")
    datamodule.trainer = SimpleNamespace(
        global_rank=0, world_size=1, current_epoch=0, strategy=SimpleNamespace(root_device=device)
    )
    (batch, *_) = datamodule.train_dataloader()
    assert batch.device == device and datamodule._tensors["train"].device == device
