"""RaPP (Kim et al., ICLR 2020): the differences between a sample and its reconstruction, both
passed through the encoder, layer by layer. No retraining: a normal sample and its reconstruction
agree deep in the network too, an anomaly's reconstruction drifts apart on the way."""

from __future__ import annotations

import numpy as np
import torch


def rapp_scores(
    module: torch.nn.Module, x: np.ndarray, batch_size: int = 4096, reconstruction: np.ndarray | None = None
) -> np.ndarray:
    """RaPP's simple aggregation: the squared differences between a sample and its reconstruction,
    both passed through the encoder, summed over the input, every hidden activation and the code."""
    return rapp_layer_terms(module, x, batch_size, reconstruction).sum(1)


def rapp_layer_terms(
    module: torch.nn.Module, x: np.ndarray, batch_size: int = 4096, reconstruction: np.ndarray | None = None
) -> np.ndarray:
    """RaPP's terms apart: one column per place (the input, after each encoder activation, the
    code), each the squared difference between the sample's and its reconstruction's values there.
    ``reconstruction``: the samples' reconstructions where the caller has them already."""
    module.eval()
    device = next(module.parameters()).device
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
    layers = [m for m in module.encoder.modules() if not list(m.children())]  # the leaves, in order
    plain = (
        torch.nn.Linear,
        torch.nn.Conv1d,
        torch.nn.Conv2d,
        torch.nn.Flatten,
    )  # measured after their activation
    h, r = x, reconstruction
    terms = [((h - r) ** 2).flatten(1).sum(1)]
    for i, layer in enumerate(layers):
        h, r = layer(h), layer(r)
        if i == len(layers) - 1 or not isinstance(layer, plain):
            terms.append(((h - r) ** 2).flatten(1).sum(1))  # after each activation, and the code
    return torch.stack(terms, 1)
