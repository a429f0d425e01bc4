"""Fully connected autoencoder; the default is the notebook's 2-10-10-1 network."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from autoencoders.models.base import ACTIVATION, Autoencoder
from autoencoders.models.base import activation as make_activation
from autoencoders.util.params import POSITIVE_INT, POSITIVE_INTS, ListOf, check_params


def mlp(sizes: Sequence[int], activation_name: str, final: nn.Module | None = None) -> nn.Sequential:
    """Linear layers through ``sizes``, the activation between them, ``final`` after the last."""
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if index < len(sizes) - 2:
            layers.append(make_activation(activation_name))
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


class DenseAutoencoder(Autoencoder):
    """Encoder ``input -> hidden_dims -> code`` (linear code), decoder mirrored.

    Image inputs (C x H x W) are flattened on the way in and reshaped on the way out, so the same
    network compares with the convolutional one on MNIST.
    """

    _parameter_constraints = {
        "input_shape": POSITIVE_INTS,
        "code_dim": POSITIVE_INT,
        "hidden_dims": ListOf(POSITIVE_INT, "positive integers", empty=True),  # []: a linear autoencoder
        "activation": ACTIVATION,
        "output_activation": [ACTIVATION, None],
    }

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        code_dim: int,
        hidden_dims: Sequence[int],
        activation: str,
        output_activation: str | None,
    ) -> None:
        check_params(self._parameter_constraints, locals())
        input_shape = tuple(int(size) for size in input_shape)
        n_features = math.prod(input_shape)
        widths = [n_features, *hidden_dims, code_dim]
        final = None
        if output_activation is not None:
            final = make_activation(output_activation)
        encoder = mlp(widths, activation)
        decoder = mlp(widths[::-1], activation, final)
        if len(input_shape) > 1:
            encoder = nn.Sequential(nn.Flatten(), encoder)
            decoder = nn.Sequential(decoder, nn.Unflatten(1, input_shape))
        super().__init__(encoder, decoder, input_shape, code_dim)
        self.settings = {
            "input_shape": list(input_shape),
            "code_dim": code_dim,
            "hidden_dims": list(hidden_dims),
            "activation": activation,
            "output_activation": output_activation,
        }
