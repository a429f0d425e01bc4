"""Convolutional autoencoder for C x H x W images, with either of the notebook's two decoders."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from autoencoders.errors import ConfigError
from autoencoders.models.base import ACTIVATION, Autoencoder
from autoencoders.models.base import activation as make_activation
from autoencoders.util.params import (
    POSITIVE_INT,
    POSITIVE_INTS,
    InvalidParameter,
    Options,
    check_params,
)

UPSAMPLING = ("transposed", "upsample")


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def strided_encoder(
    conv: type[nn.Module], widths: Sequence[int], kernel_size: int, activation: str, flat: int, code_dim: int
) -> list[nn.Module]:
    """Stride-2 convolutions (``conv``: ``nn.Conv2d``, ``nn.Conv1d``) through ``widths``, each
    followed by the activation, then flattened (``flat`` values) to a dense code."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [
            conv(c_in, c_out, kernel_size, stride=2, padding=kernel_size // 2),
            make_activation(activation),
        ]
    return [*layers, nn.Flatten(), nn.Linear(flat, code_dim)]


def code_to_maps(code_dim: int, flat: int, activation: str, shape: tuple[int, ...]) -> list[nn.Module]:
    """The decoder's start: the code back to ``flat`` values, as feature maps of ``shape``."""
    return [nn.Linear(code_dim, flat), make_activation(activation), nn.Unflatten(1, shape)]


def up_block(
    c_in: int, c_out: int, kernel: int, size_in: tuple[int, int], size_out: tuple[int, int], mode: str
) -> nn.Module:
    """One decoder step from ``size_in`` to ``size_out`` (about twice as large).

    ``transposed``: a stride-2 ConvTranspose2d, its output padding chosen to land on ``size_out``.
    ``upsample``: nearest-neighbour upsampling to ``size_out`` followed by a convolution.
    """
    padding = kernel // 2
    if mode == "transposed":
        natural = [(n - 1) * 2 - 2 * padding + kernel for n in size_in]
        extra = tuple(target - n for target, n in zip(size_out, natural, strict=True))
        return nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=padding, output_padding=extra)
    return nn.Sequential(
        nn.Upsample(size=size_out, mode="nearest"), nn.Conv2d(c_in, c_out, kernel, padding=padding)
    )


class ConvAutoencoder(Autoencoder):
    """Encoder: stride-2 convolutions through ``channels``, then a dense layer to the code.
    Decoder: the mirror image, upsampling by ``upsampling``, sigmoid output for [0, 1] pixels."""

    _parameter_constraints = {
        "input_shape": POSITIVE_INTS,
        "code_dim": POSITIVE_INT,
        "channels": POSITIVE_INTS,
        "kernel_size": POSITIVE_INT,
        "upsampling": Options(UPSAMPLING),
        "activation": ACTIVATION,
    }

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        code_dim: int,
        channels: Sequence[int],
        kernel_size: int,
        upsampling: str,
        activation: str,
    ) -> None:
        check_params(self._parameter_constraints, locals())
        if kernel_size % 2 == 0:
            raise InvalidParameter("kernel_size", "an odd positive integer", kernel_size)
        input_shape = tuple(int(size) for size in input_shape)
        if len(input_shape) != 3:
            raise ConfigError(
                f"model=conv needs image data (C x H x W), but the dataset gives input_shape "
                f"{list(input_shape)}: use dataset=mnist, or model=dense for this dataset"
            )

        in_channels, height, width = input_shape
        padding = kernel_size // 2
        sizes = [(height, width)]  # spatial size before each encoder layer, and after the last
        for _ in channels:
            sizes.append(tuple(_conv_out(n, kernel_size, 2, padding) for n in sizes[-1]))
        flat = channels[-1] * math.prod(sizes[-1])
        widths = [in_channels, *channels]

        encoder = strided_encoder(nn.Conv2d, widths, kernel_size, activation, flat, code_dim)
        decoder = code_to_maps(code_dim, flat, activation, (channels[-1], *sizes[-1]))
        for layer in range(len(channels), 0, -1):
            last = layer == 1
            c_out = in_channels if last else widths[layer - 1]
            decoder.append(
                up_block(widths[layer], c_out, kernel_size, sizes[layer], sizes[layer - 1], upsampling)
            )
            decoder.append(nn.Sigmoid() if last else make_activation(activation))
        super().__init__(nn.Sequential(*encoder), nn.Sequential(*decoder), input_shape, code_dim)
        self.settings = {
            "input_shape": list(input_shape),
            "code_dim": code_dim,
            "channels": list(channels),
            "kernel_size": kernel_size,
            "upsampling": upsampling,
            "activation": activation,
        }
