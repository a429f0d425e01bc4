"""What every autoencoder network offers: ``encode``, ``decode`` and their composition."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from autoencoders.util.params import Options

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}


#: A network setting that names an activation.
ACTIVATION = Options(tuple(sorted(ACTIVATIONS)))


def activation(name: str) -> nn.Module:
    """A fresh activation layer by name (checked by the network's constructor)."""
    return ACTIVATIONS[name]()


class Autoencoder(nn.Module):
    """An encoder and a decoder; ``forward`` reconstructs its input. Subclasses keep their
    constructor's arguments in ``settings`` (plain values): with the weights, what rebuilds the
    network without unpickling it."""

    settings: dict

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, input_shape: Sequence[int], code_dim: int
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = tuple(input_shape)
        self.code_dim = code_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
