"""Training-time shifts of image batches: what moves, by how much, and only while training."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from autoencoders.data.augment import random_shifts
from helpers.built import mnist_data


def dots(n: int) -> torch.Tensor:
    """``n`` 1 x 7 x 7 images, each one bright pixel in the middle."""
    images = torch.zeros(n, 1, 7, 7)
    images[:, 0, 3, 3] = 1.0
    return images


def test_each_image_moves_by_at_most_the_shift_and_keeps_its_content() -> None:
    shifted = random_shifts(dots(200), 2, torch.Generator().manual_seed(0))
    assert shifted.shape == (200, 1, 7, 7)
    assert torch.equal(shifted.flatten(1).sum(1), torch.ones(200))  # the dot is still there, once
    rows, cols = (shifted[:, 0].flatten(1).argmax(1) // 7), (shifted[:, 0].flatten(1).argmax(1) % 7)
    assert (rows - 3).abs().max() == 2 and (cols - 3).abs().max() == 2
    offsets = set(zip((rows - 3).tolist(), (cols - 3).tolist(), strict=True))
    assert len(offsets) == 25  # every offset up to 2 pixels occurs: each image draws its own


def test_the_same_generator_seed_gives_the_same_shifts_and_zero_is_off() -> None:
    images = torch.rand(16, 1, 7, 7)
    first = random_shifts(images, 1, torch.Generator().manual_seed(3))
    assert torch.equal(first, random_shifts(images, 1, torch.Generator().manual_seed(3)))
    assert torch.equal(random_shifts(images, 0, torch.Generator()), images)


def test_the_datamodule_shifts_training_batches_only() -> None:
    datamodule = mnist_data(augment_shift=1)
    batch = dots(64)
    datamodule.trainer = SimpleNamespace(training=False, global_step=0)
    assert torch.equal(datamodule.on_after_batch_transfer(batch, 0), batch)  # validation: untouched
    datamodule.trainer = SimpleNamespace(training=True, global_step=5)
    moved = datamodule.on_after_batch_transfer(batch, 0)
    assert not torch.equal(moved, batch)
    assert torch.equal(moved, datamodule.on_after_batch_transfer(batch, 0))  # (seed, step) decide


def test_a_group_of_batches_gets_the_shifts_its_steps_would_get_one_by_one() -> None:
    datamodule = mnist_data(augment_shift=1)
    batches = [torch.rand(8, 1, 7, 7) for _ in range(3)]
    datamodule.trainer = SimpleNamespace(training=True, global_step=5)
    grouped = datamodule.on_after_batch_transfer(batches, 0)
    for step, (batch, moved) in enumerate(zip(batches, grouped, strict=True), start=5):
        datamodule.trainer = SimpleNamespace(training=True, global_step=step)
        assert torch.equal(moved, datamodule.on_after_batch_transfer(batch, 0))
