"""Training-time augmentation of image batches, on whatever device the batch is on."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shifts(images: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of an N x C x H x W batch moved by its own random whole-pixel offset, up to
    ``pixels`` in each direction, the uncovered edge filled with zeros.

    Why: a one-class autoencoder that has seen a few hundred digits learns their exact positions;
    shifted copies teach it the shapes, so a normal digit a pixel off still reconstructs well while
    other digits do not (bundled MNIST one-class mean AUROC 0.9659 -> 0.9714 with one pixel).
    """
    if pixels <= 0:
        return images
    height, width = images.shape[-2:]
    padded = F.pad(images, (pixels, pixels, pixels, pixels))
    offsets = torch.randint(0, 2 * pixels + 1, (len(images), 2), generator=generator).to(images.device)
    shifted = torch.empty_like(images)
    for dy in range(2 * pixels + 1):  # one slice per offset: (2 pixels + 1)^2 copies, no per-image loop
        for dx in range(2 * pixels + 1):
            chosen = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
            shifted[chosen] = padded[chosen, :, dy : dy + height, dx : dx + width]
    return shifted
