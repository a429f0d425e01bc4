"""Mini-batches as slices of one in-memory tensor: what a plain PyTorch loop does, without a
DataLoader's per-sample fetching, collation or worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch


def grouped(
    batches: Iterator[torch.Tensor], steps_per_call: int
) -> Iterator[torch.Tensor | list[torch.Tensor]]:
    """The batches one by one, or with ``steps_per_call > 1`` in lists of up to that many
    consecutive ones, which the module trains on in one call."""
    if steps_per_call == 1:
        yield from batches
        return
    group: list[torch.Tensor] = []
    for batch in batches:
        group.append(batch)
        if len(group) == steps_per_call:
            yield group
            group = []
    if group:
        yield group


class TensorBatches:
    """Mini-batches of one in-memory tensor, reshuffled each epoch from ``(seed, epoch)``.

    With ``world_size > 1`` each rank takes every ``world_size``-th sample of the same permutation,
    padded to equal shard sizes, as ``DistributedSampler`` does. With ``steps_per_call > 1`` it
    yields lists of up to that many consecutive batches, the same batches in the same order, which
    the module trains on in one call (:meth:`AutoencoderModule.training_step`).
    """

    def __init__(
        self,
        data: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        passes: int = 1,
        current_epoch: Callable[[], int] | None = None,
        steps_per_call: int = 1,
    ) -> None:
        """``current_epoch``: the trainer's epoch (0-based), read when an iteration starts."""
        self.data = data
        self.steps_per_call = steps_per_call
        self.current_epoch = current_epoch
        self.passes = passes
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def _indices(self) -> torch.Tensor | None:
        n = len(self.data)
        if (self.shuffle and self.batch_size < n) or self.world_size > 1:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
            # Pad with the first samples to a multiple of world_size, as DistributedSampler does:
            # every rank must run the same number of steps or the gradient all-reduce hangs.
            padded = n + (-n % self.world_size)
            order = order.repeat(-(-padded // n))[:padded]
            return order[self.rank :: self.world_size]
        return None

    def __len__(self) -> int:
        n = -(-len(self.data) // self.world_size)
        return -(-self.passes * -(-n // self.batch_size) // self.steps_per_call)

    def __iter__(self) -> Iterator[torch.Tensor | list[torch.Tensor]]:
        return grouped(self._batches(), self.steps_per_call)

    def _batches(self) -> Iterator[torch.Tensor]:
        if self.current_epoch is not None:
            # The order depends on the seed and the trainer's epoch only, not on how many epochs
            # this process ran: a resumed training draws what an uninterrupted one would have.
            self.epoch = self.current_epoch() * self.passes
        for _ in range(self.passes):
            indices = self._indices()
            self.epoch += 1
            source = self.data if indices is None else self.data[indices]
            for start in range(0, len(source), self.batch_size):
                yield source[start : start + self.batch_size]
