"""1-D convolutional autoencoder for windows of a series: channels x points, convolved over time
with the series' channels as the input channels (the layout of Orion's and darts' models)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from autoencoders.errors import ConfigError
from autoencoders.models.base import ACTIVATION, Autoencoder
from autoencoders.models.base import activation as make_activation
from autoencoders.models.conv import _conv_out, code_to_maps, strided_encoder
from autoencoders.util.params import POSITIVE_INT, POSITIVE_INTS, InvalidParameter, check_params


class Conv1dAutoencoder(Autoencoder):
    """Encoder: stride-2 convolutions over time through ``channels``, then a dense layer to the
    code. Decoder: the mirror image, each transposed convolution landing on the length its encoder
    step started from, so that any window length comes back whole; ``output_activation`` last
    (a sigmoid for min-max scaled channels, none for standard scaling)."""

    _parameter_constraints = {
        "input_shape": POSITIVE_INTS,
        "code_dim": POSITIVE_INT,
        "channels": POSITIVE_INTS,
        "kernel_size": POSITIVE_INT,
        "activation": ACTIVATION,
        "output_activation": [ACTIVATION, None],
    }

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        code_dim: int,
        channels: Sequence[int],
        kernel_size: int,
        activation: str,
        output_activation: str | None,
    ) -> None:
        check_params(self._parameter_constraints, locals())
        if kernel_size % 2 == 0:
            raise InvalidParameter("kernel_size", "an odd positive integer", kernel_size)
        input_shape = tuple(int(size) for size in input_shape)
        if len(input_shape) != 2:
            raise ConfigError(
                f"model=conv1d needs windows of a series (channels x window), but the dataset gives "
                f"input_shape {list(input_shape)}: use dataset=series, or model=dense for this dataset"
            )
        in_channels, window = input_shape
        if window < 2 ** len(channels):
            raise ConfigError(
                f"dataset.window={window} is too short for model=conv1d's {len(channels)} stride-2 layers: "
                f"use a window of at least {2 ** len(channels)} points, or fewer model.net.channels"
            )
        padding = kernel_size // 2
        lengths = [window]  # the length before each encoder layer, and after the last
        for _ in channels:
            lengths.append(_conv_out(lengths[-1], kernel_size, 2, padding))
        widths = [in_channels, *channels]
        flat = channels[-1] * lengths[-1]

        encoder = strided_encoder(nn.Conv1d, widths, kernel_size, activation, flat, code_dim)
        decoder = code_to_maps(code_dim, flat, activation, (channels[-1], lengths[-1]))
        for layer in range(len(channels), 0, -1):
            natural = (lengths[layer] - 1) * 2 - 2 * padding + kernel_size
            extra = lengths[layer - 1] - natural  # output padding: lands on the encoder's length
            c_out = in_channels if layer == 1 else widths[layer - 1]
            decoder.append(
                nn.ConvTranspose1d(widths[layer], c_out, kernel_size, 2, padding, output_padding=extra)
            )
            if layer > 1:
                decoder.append(make_activation(activation))
        if output_activation is not None:
            decoder.append(make_activation(output_activation))
        super().__init__(nn.Sequential(*encoder), nn.Sequential(*decoder), input_shape, code_dim)
        self.settings = {
            "input_shape": list(input_shape),
            "code_dim": code_dim,
            "channels": list(channels),
            "kernel_size": kernel_size,
            "activation": activation,
            "output_activation": output_activation,
        }
