"""A table larger than memory (``dataset.streaming``, ``dataset.max_memory_gb``): a Parquet file,
or a folder of them, read a batch of rows at a time.

What stays in memory: one byte per row (its split), bounded samples of each split (the roles, the
encoding and the anomaly score are fitted on the training sample, the threshold and the model
selection use the validation sample, the figures the test sample) and the batch being read. Every
training row trains each epoch; every test row is scored for the test metrics.

Each row's split follows from a hash of its row number and ``dataset.split_seed``, not from a
permutation of all rows: the same row lands in the same split whatever the batch it is read in,
and a DDP rank takes the training rows whose number leaves its rank modulo the world size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from autoencoders.data.batches import grouped
from autoencoders.errors import ConfigError
from autoencoders.util.files import is_parquet

#: Rows read at a time: a batch of a row group (Parquet's unit of reading).
CHUNK_ROWS = 32_768

#: Each row's split, one byte per row.
TRAIN, VAL, TEST, VAL_ANOMALY, TEST_ANOMALY, LEFT_OUT = range(6)
TESTED = (TEST, TEST_ANOMALY)

#: The most rows of each split held in memory: the training sample fits the encoding and the
#: anomaly score (the kNN part keeps at most 10,000 of them anyway), the validation samples choose
#: the model and the threshold, the test samples are drawn. About 20 MB at 40 features.
SAMPLE_ROWS = {TRAIN: 50_000, VAL: 50_000, VAL_ANOMALY: 10_000, TEST: 10_000, TEST_ANOMALY: 5_000}

#: Of ``dataset.max_memory_gb``: what the samples may take, and one chunk (as pandas holds it).
SAMPLES_SHARE, CHUNK_SHARE = 1 / 4, 1 / 16


def fitted_sizes(source: ParquetSource, budget_gb: float | None) -> tuple[int, dict[int, int]]:
    """The rows of a chunk and the sample caps, shrunk where the defaults would not fit their
    share of ``budget_gb``: a row as pandas holds it taken as twice its uncompressed Parquet size."""
    if budget_gb is None:
        return CHUNK_ROWS, dict(SAMPLE_ROWS)
    row_bytes = 2 * source.uncompressed_bytes() / max(1, source.n_rows)
    budget = budget_gb * 1e9
    chunk = int(min(CHUNK_ROWS, max(1024, CHUNK_SHARE * budget / row_bytes)))
    scale = min(1.0, SAMPLES_SHARE * budget / (sum(SAMPLE_ROWS.values()) * row_bytes))
    return chunk, {code: max(100, int(cap * scale)) for code, cap in SAMPLE_ROWS.items()}


_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


def row_uniforms(rows: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """A number in [0, 1) per row number, a fixed function of (row, seed, stream): SplitMix64."""
    offset = np.uint64(((seed * 4 + stream + 1) * _GOLDEN) & _MASK)
    x = rows.astype(np.uint64) + offset
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def row_splits(
    rows: np.ndarray, is_anomaly: np.ndarray, seed: int, fractions: tuple[float, float, float]
) -> np.ndarray:
    """Each row's split: a normal row goes to validation with probability ``val_fraction``, to the
    test set with ``test_fraction``, else to training; an anomaly to validation with
    ``anomaly_val_fraction``, else to the test set."""
    val_fraction, test_fraction, anomaly_val_fraction = fractions
    u = row_uniforms(rows, seed, 0)
    normal = np.where(u < val_fraction, VAL, np.where(u < val_fraction + test_fraction, TEST, TRAIN))
    anomalous = np.where(row_uniforms(rows, seed, 1) < anomaly_val_fraction, VAL_ANOMALY, TEST_ANOMALY)
    return np.where(is_anomaly, anomalous, normal).astype(np.uint8)


@dataclass(frozen=True)
class RowGroup:
    """One row group of one file: Parquet's unit of reading, with the number of its first row."""

    path: Path
    index: int
    first_row: int
    n_rows: int


class ParquetSource:
    """The row groups of a Parquet file or of every ``*.parquet`` file under a folder (in path
    order), each readable on its own in batches whose index is the rows' numbers."""

    def __init__(self, path: Path, setting: str = "dataset.path") -> None:
        import pyarrow.parquet as pq

        files = [path] if path.is_file() else sorted(path.rglob("*.parquet")) if path.is_dir() else []
        if not files:
            raise ConfigError(f"{setting}={path}: no Parquet file there")
        if not all(is_parquet(file) for file in files):
            raise ConfigError(
                f"dataset.streaming: reads Parquet (a .parquet file or a folder of them), not "
                f"{path.suffix or 'this'}; convert it, e.g. pandas.read_csv(...).to_parquet(...)"
            )
        self.files = {}
        self.row_groups: list[RowGroup] = []
        first_row = 0
        for file in files:
            try:
                opened = pq.ParquetFile(file)
            except Exception as error:  # pyarrow raises several kinds
                raise ConfigError(f"{setting}={file}: could not be read ({type(error).__name__})") from None
            self.files[file] = opened
            for index in range(opened.metadata.num_row_groups):
                n_rows = opened.metadata.row_group(index).num_rows
                self.row_groups.append(RowGroup(file, index, first_row, n_rows))
                first_row += n_rows
        self.n_rows = first_row
        self.chunk_rows = CHUNK_ROWS
        self.columns = list(self.files[files[0]].schema_arrow.names)

    def uncompressed_bytes(self) -> int:
        """The Parquet metadata's size of every row group uncompressed: what holding the columns as
        Arrow arrays would take (pandas holds text at several times that)."""
        return sum(
            opened.metadata.row_group(i).total_byte_size
            for opened in self.files.values()
            for i in range(opened.metadata.num_row_groups)
        )

    def head(self, n: int) -> pd.DataFrame:
        """The first ``n`` rows (or fewer), for the columns' roles."""
        chunks, taken = [], 0
        for chunk in self.chunks(None):
            chunks.append(chunk)
            taken += len(chunk)
            if taken >= n:
                break
        return pd.concat(chunks).head(n)

    def read(self, group: RowGroup, columns: list[str] | None) -> Iterator[pd.DataFrame]:
        """One row group, ``chunk_rows`` rows at a time."""
        first = group.first_row
        for batch in self.files[group.path].iter_batches(self.chunk_rows, [group.index], columns):
            frame = batch.to_pandas(use_threads=False)
            frame.index = pd.RangeIndex(first, first + len(frame))
            first += len(frame)
            yield frame

    def chunks(self, columns: list[str] | None, order: list[int] | None = None) -> Iterator[pd.DataFrame]:
        """Every row group (in ``order``, row-group positions, where given), a chunk at a time."""
        for position in order if order is not None else range(len(self.row_groups)):
            yield from self.read(self.row_groups[position], columns)


@dataclass
class TableStream:
    """The rows of a Parquet table as the network takes them, a chunk at a time: the source, each
    row's split, and ``encode`` (raw rows to float32 features, the fitted encoding)."""

    source: ParquetSource
    codes: np.ndarray  # uint8 per row: TRAIN, VAL, ... LEFT_OUT
    columns: list[str]  # the input columns read
    encode: Callable[[pd.DataFrame], np.ndarray]

    def count(self, *codes: int) -> int:
        return int(np.isin(self.codes, codes).sum())

    def train_shares(self, world_size: int) -> list[int]:
        """Per rank, its training rows: those whose number leaves the rank modulo ``world_size``."""
        shares = np.zeros(world_size, np.int64)
        for start in range(0, len(self.codes), CHUNK_ROWS):
            rows = np.flatnonzero(self.codes[start : start + CHUNK_ROWS] == TRAIN) + start
            shares += np.bincount(rows % world_size, minlength=world_size)
        return shares.tolist()

    def encoded(
        self, splits: tuple[int, ...], order: list[int] | None = None, rank: int = 0, world_size: int = 1
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(features, split codes) chunk by chunk, of the rows in ``splits`` only (the others are
        not encoded), and of those the rows whose number leaves ``rank`` modulo ``world_size``."""
        for chunk in self.source.chunks(self.columns, order):
            numbers = chunk.index.to_numpy()
            keep = np.isin(self.codes[numbers], splits)
            if world_size > 1:
                keep &= numbers % world_size == rank
            if keep.any():
                yield self.encode(chunk[keep]), self.codes[numbers[keep]]

    def train_batches(
        self,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        current_epoch: Callable[[], int] | None = None,
        steps_per_call: int = 1,
        passes: int = 1,
    ) -> StreamedBatches:
        return StreamedBatches(
            self, batch_size, seed, rank, world_size, current_epoch, steps_per_call, passes
        )


class StreamedBatches:
    """Training batches read from the file each epoch: the row groups in a fresh order per
    (seed, epoch), each chunk's training rows shuffled, a rank's share the rows whose number
    leaves ``rank`` modulo ``world_size``. Every rank yields the same number of batches (that of
    the smallest share: DDP's all-reduce needs it); on one device every training row trains."""

    def __init__(
        self,
        stream: TableStream,
        batch_size: int,
        seed: int,
        rank: int,
        world_size: int,
        current_epoch: Callable[[], int] | None,
        steps_per_call: int,
        passes: int,
    ) -> None:
        """``passes``: over the training rows per epoch (``dataset.epoch_size``), each in its own order."""
        self.stream, self.batch_size, self.seed = stream, batch_size, seed
        self.rank, self.world_size, self.current_epoch = rank, world_size, current_epoch
        self.steps_per_call, self.passes = steps_per_call, passes
        self.steps = -(-min(stream.train_shares(world_size)) // batch_size)  # per pass

    def __len__(self) -> int:
        return -(-self.passes * self.steps // self.steps_per_call)

    def __iter__(self) -> Iterator[torch.Tensor | list[torch.Tensor]]:
        epoch = self.current_epoch() if self.current_epoch is not None else 0
        passes = (self._batches(epoch * self.passes + i) for i in range(self.passes))
        return grouped((batch for one in passes for batch in one), self.steps_per_call)

    def _batches(self, order_seed: int) -> Iterator[torch.Tensor]:
        """One pass: the row groups in the order of (seed, ``order_seed``)."""
        generator = np.random.default_rng([self.seed, order_seed])
        order = generator.permutation(len(self.stream.source.row_groups)).tolist()

        left = np.empty((0, 0), np.float32)
        given = 0
        for features, _ in self.stream.encoded((TRAIN,), order, self.rank, self.world_size):
            if len(left):
                features = np.concatenate([left, features])
            features = features[generator.permutation(len(features))]
            whole = len(features) - len(features) % self.batch_size
            for start in range(0, whole, self.batch_size):
                if given == self.steps:
                    return
                yield torch.from_numpy(features[start : start + self.batch_size])
                given += 1
            left = features[whole:]
        if len(left) and given < self.steps:
            yield torch.from_numpy(left)
