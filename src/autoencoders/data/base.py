"""In-memory datamodules: the whole dataset lives in tensors, batches are index slices.

Small datasets do not need a DataLoader's per-sample fetching, collation or worker processes: slicing a
tensor that is already in memory is what a plain PyTorch loop does, and is what keeps Lightning's
overhead on a 100-point dataset small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from autoencoders.data.augment import random_shifts
from autoencoders.data.batches import TensorBatches
from autoencoders.data.splits import DataKind, Splits
from autoencoders.util.params import (
    FRACTION,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    PROBABILITY,
    InvalidParameter,
    Text,
)

#: The most values a validation batch holds (1 MB of float32), where ``batch_size`` holds fewer.
VALIDATION_BATCH_VALUES = 2**18


def check_input_shape(input_shape: Sequence[int], expected: tuple[int, ...], dataset: str) -> None:
    """The configured ``dataset.input_shape`` (which the model reads) must be the data's own."""
    if tuple(input_shape) != expected:
        raise InvalidParameter("input_shape", f"{list(expected)} for {dataset}", list(input_shape))


def check_split_fractions(val_fraction: float, test_fraction: float) -> None:
    """The normal samples left for training: validation and test may not take them all."""
    if val_fraction + test_fraction >= 1:
        raise InvalidParameter(
            "val_fraction + test_fraction", "below 1 (the rest trains)", val_fraction + test_fraction
        )


class InMemoryDataModule(pl.LightningDataModule):
    """Base for datamodules whose splits fit in memory; subclasses implement ``build_splits`` and
    check their settings against ``_parameter_constraints`` (:mod:`autoencoders.util.params`)."""

    _parameter_constraints: dict = {
        "name": Text(),
        "batch_size": POSITIVE_INT,
        "epochs": POSITIVE_INT,
        "epoch_size": POSITIVE_INT,
    }
    #: A user's own data: one-class split fractions and their seed.
    _own_data_constraints: dict = {
        "val_fraction": FRACTION,
        "test_fraction": FRACTION,
        "anomaly_val_fraction": PROBABILITY,
        "split_seed": NON_NEGATIVE_INT,
    }

    #: What the samples are (:class:`DataKind`).
    kind = DataKind.POINTS
    #: Training batches of images are shifted by up to this many pixels (``dataset.augment_shift``).
    augment_shift = 0

    def __init__(
        self,
        name: str,
        input_shape: tuple[int, ...],
        batch_size: int,
        seed: int,
        epochs: int = 1,
        epoch_size: int = 1,
    ) -> None:
        """``epochs`` is the number of epochs that suits this data (``trainer.max_epochs`` defaults
        to it). ``epoch_size`` is the least number of samples one epoch trains on: a training set
        smaller than that is passed over several times per epoch (``repeat``), so a tiny dataset
        pays Lightning's per-epoch costs (validation, logging, checkpoints) per thousands of
        samples rather than per handful of steps, whatever the source's size."""
        super().__init__()
        self.name = name
        self.input_shape = tuple(input_shape)
        self.batch_size = batch_size
        self.seed = seed
        self.epochs = epochs
        self.epoch_size = epoch_size
        self._splits: Splits | None = None
        #: What reading the data left out, by kind (a table's rows with gaps, unreadable images).
        self.left_out: dict[str, int] = {}
        self._tensors: dict[str, torch.Tensor] = {}
        #: Training batches per training-step call (:func:`autoencoders.training.grouped_steps.group_steps`).
        self.steps_per_call = 1

    def build_splits(self) -> Splits:
        raise NotImplementedError

    #: The file or folder the data is read from (None: generated in code, or found when loaded).
    source_path: Path | None = None
    #: A table's own: its input columns (what a deployed detector takes), per network feature the
    #: input column it comes from (per-column errors and weights), its fitted encoding as JSON.
    #: None for points and images, whose inputs are their coordinates or pixels, unpreprocessed.
    input_columns: list[str] | None = None
    feature_columns: list[str] | None = None
    preprocessing: dict[str, Any] | None = None

    @property
    def data_source(self) -> str | None:
        """Where the data came from, as a path or URI for MLflow's dataset records; None for data
        generated in code (MLflow then records the running code as the source)."""
        return str(self.source_path.resolve()) if self.source_path else None

    @property
    def tags(self) -> dict[str, str]:
        """MLflow tags that describe the data actually used (known once the splits are built): the
        rows or files left out (``dataset.dropped_rows``, ``dataset.skipped_files``) where any were."""
        return {f"dataset.{name}": str(count) for name, count in self.left_out.items() if count}

    def settings(self) -> dict[str, Any]:
        """Settings that follow from the data once it is read (a table's width), by their
        ``dataset.*`` names; the pipeline fills in those the config left null."""
        return {}

    def records(self) -> dict[str, Any]:
        """Artifact path -> JSON content a run logs about its data (a table's fitted encoding)."""
        return {}

    def streamed_rows(self) -> Iterator[tuple[np.ndarray, np.ndarray]] | None:
        """Where the splits hold samples only (a streamed table): every training and test row,
        chunk by chunk, as (features, split codes of :mod:`autoencoders.data.streaming`), for the
        metrics over every row. None where the splits hold every sample."""
        return None

    def input_example(self) -> Any:
        """A few training samples as a deployed detector takes them (a table: its raw rows)."""
        return self.splits.train[:5]

    @property
    def splits(self) -> Splits:
        """The dataset's splits, built on first use and then kept."""
        if self._splits is None:
            self._splits = self.build_splits()
        return self._splits

    def check_trimmable(self) -> None:
        """Raise where ``anomaly.trim`` cannot leave training samples out (a streamed table)."""

    def keep_training(self, keep: np.ndarray, why: str) -> None:
        """Train on the training samples where ``keep`` holds only (``anomaly.trim``); the others
        are counted under ``why`` in the run's tags."""
        splits = self.splits
        self._splits = replace(splits, train=splits.train[keep], untrimmed_train=splits.threshold_train)
        self._tensors.clear()
        self.left_out[why] = int((~keep).sum())

    def prepare_data(self) -> None:
        self.splits  # noqa: B018 - builds (downloads, caches) once, before the loaders ask

    def _tensor(self, split: str, device: torch.device | None = None) -> torch.Tensor:
        """A split as one float32 tensor, on ``device`` where given: a GPU training keeps the whole
        (in-memory) split in GPU memory, so that no batch is copied to the device step by step."""
        if split not in self._tensors:
            array = getattr(self.splits, split)
            self._tensors[split] = torch.as_tensor(np.asarray(array, dtype=np.float32))
        if device is not None and self._tensors[split].device != device:
            self._tensors[split] = self._tensors[split].to(device)
        return self._tensors[split]

    def _place(self) -> tuple[int, int, Callable[[], int] | None]:
        """This process's rank, the world size and the trainer's epoch (read when an epoch starts)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1, None
        return trainer.global_rank, trainer.world_size, lambda: trainer.current_epoch

    def _loader(
        self,
        split: str,
        shuffle: bool,
        passes: int = 1,
        steps_per_call: int = 1,
        batch_size: int | None = None,
    ) -> TensorBatches:
        trainer = getattr(self, "trainer", None)
        data = self._tensor(split, trainer.strategy.root_device if trainer else None)
        rank, world, epoch = self._place()
        size = batch_size or self.batch_size
        return TensorBatches(data, size, shuffle, self.seed, rank, world, passes, epoch, steps_per_call)

    @property
    def validation_batch_size(self) -> int:
        """Validation's batch: ``batch_size``, or more, up to :data:`VALIDATION_BATCH_VALUES` values.
        Validation takes no optimizer step, so its batches need not be the training's: a million-row
        table's 150,000 validation rows were 615 batches of 256, each costing Lightning's per-batch
        work; the loss is each sample's, averaged over all of them either way."""
        self.splits  # noqa: B018 - a table's or a series' input shape is known once its splits are
        values = max(1, int(np.prod(self.input_shape)))
        return max(self.batch_size, VALIDATION_BATCH_VALUES // values)

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", shuffle=True, passes=self.repeat, steps_per_call=self.steps_per_call)

    @property
    def n_train(self) -> int:
        """The training samples an epoch passes over."""
        return len(self.splits.train)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per training epoch on one device."""
        return self.repeat * -(-self.n_train // self.batch_size)

    @property
    def repeat(self) -> int:
        """Passes over the training set per epoch: enough to reach ``epoch_size`` samples."""
        return max(1, -(-self.epoch_size // self.n_train))

    def on_after_batch_transfer(
        self, batch: torch.Tensor | list[torch.Tensor], dataloader_idx: int
    ) -> torch.Tensor | list[torch.Tensor]:
        """Lightning's hook: training batches get their augmentation here, on the device; the
        shifts depend on (seed, step) only, so a resumed training draws the same ones, and a group
        of batches (``steps_per_call``) the ones its steps would draw one by one."""
        trainer = getattr(self, "trainer", None)
        if not self.augment_shift or trainer is None or not trainer.training:
            return batch
        if isinstance(batch, list):
            return [self._shifted(b, trainer.global_step + i) for i, b in enumerate(batch)]
        return self._shifted(batch, trainer.global_step)

    def _shifted(self, batch: torch.Tensor, step: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + step)
        return random_shifts(batch, self.augment_shift, generator)

    def val_dataloader(self) -> TensorBatches | list[TensorBatches]:
        """The normal validation samples, and the validation anomalies as a second loader where
        the data has them (for ``val/auroc``)."""
        size = self.validation_batch_size
        normal = self._loader("val", shuffle=False, batch_size=size)
        if self.splits.val_anomalies is None:
            return normal
        return [normal, self._loader("val_anomalies", shuffle=False, batch_size=size)]
