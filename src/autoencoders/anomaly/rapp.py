"""RaPP (Kim et al., ICLR 2020): the differences between a sample and its reconstruction, both
passed through the encoder, layer by layer. No retraining: a normal sample and its reconstruction
agree deep in the network too, an anomaly's reconstruction drifts apart on the way."""

from __future__ import annotations

import numpy as np
import torch

from autoencoders.models.codec import batch_rows


def rapp_scores(
    module: torch.nn.Module,
    x: np.ndarray,
    batch_size: int | None = None,
    reconstruction: np.ndarray | None = None,
) -> np.ndarray:
    """RaPP's simple aggregation: the squared differences between a sample and its reconstruction,
    both passed through the encoder, summed over the input, every hidden activation and the code."""
    return rapp_layer_terms(module, x, batch_size, reconstruction).sum(1)


def rapp_layer_terms(
    module: torch.nn.Module,
    x: np.ndarray,
    batch_size: int | None = None,
    reconstruction: np.ndarray | None = None,
) -> np.ndarray:
    """RaPP's terms apart: one column per place (the input, after each encoder activation, the
    code), each the squared difference between the sample's and its reconstruction's values there.
    ``reconstruction``: the samples' reconstructions where the caller has them already."""
    module.eval()
    device = next(module.parameters()).device
    batch_size = batch_rows(x, batch_size)
    out = []
    with torch.no_grad():
        for start in range(0, max(len(x), 1), batch_size):  # no samples: one empty batch, no rows
            batch = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32, device=device)
            if reconstruction is None:
                rebuilt = module.decode(module.encode(batch))
            else:
                rebuilt = torch.as_tensor(
                    reconstruction[start : start + batch_size], dtype=torch.float32, device=device
                )
            out.append(rapp_batch_terms(module, batch, rebuilt).double().cpu().numpy())
    return np.concatenate(out)


def rapp_batch(module: torch.nn.Module, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """:func:`rapp_scores` of one batch of tensors, given its reconstruction (the training loop's
    per-epoch ``val/auroc`` scores with it too)."""
    return rapp_batch_terms(module, x, reconstruction).sum(1)


def rapp_batch_terms(module: torch.nn.Module, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """:func:`rapp_layer_terms` of one batch of tensors, given its reconstruction."""
    return place_differences(encoder_places(module, x), encoder_places(module, reconstruction))


def encoder_places(module: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Where RaPP compares a sample with its reconstruction: the input, the output of each encoder
    activation, and the code (the last, ``module.encode(x)``)."""
    layers = [m for m in module.encoder.modules() if not list(m.children())]  # the leaves, in order
    plain = (
        torch.nn.Linear,
        torch.nn.Conv1d,
        torch.nn.Conv2d,
        torch.nn.Flatten,
    )  # measured after their activation
    h, places = x, [x]
    for i, layer in enumerate(layers):
        h = layer(h)
        if i == len(layers) - 1 or not isinstance(layer, plain):
            places.append(h)  # after each activation, and the code
    return places


def place_differences(sample: list[torch.Tensor], rebuilt: list[torch.Tensor]) -> torch.Tensor:
    """Per sample and place, the squared difference summed: one column per place."""
    return torch.stack([((h - r) ** 2).flatten(1).sum(1) for h, r in zip(sample, rebuilt, strict=True)], 1)


def rapp_passes(
    module: torch.nn.Module, x: np.ndarray, batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codes, the reconstructions and RaPP's terms of ``x``, the encoder run once on the
    samples: what a deployed detector returns, in one and a half passes through the network
    instead of two (the codes, then RaPP again from the sample)."""
    module.eval()
    device = next(module.parameters()).device
    batch_size = batch_rows(x, batch_size)
    codes, rebuilt, terms = [], [], []
    with torch.no_grad():
        for start in range(0, max(len(x), 1), batch_size):  # no samples: one empty batch, no rows
            batch = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32, device=device)
            places = encoder_places(module, batch)
            reconstruction = module.decode(places[-1])
            terms.append(
                place_differences(places, encoder_places(module, reconstruction)).double().cpu().numpy()
            )
            codes.append(places[-1].float().cpu().numpy())
            rebuilt.append(reconstruction.float().cpu().numpy())
    return np.concatenate(codes), np.concatenate(rebuilt), np.concatenate(terms)
