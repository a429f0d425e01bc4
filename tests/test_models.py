"""The plain torch networks: shapes, decoder options, and the errors for data they cannot take."""

from __future__ import annotations

import pytest
import torch

from autoencoders.errors import ConfigError
from helpers.built import conv_net


@pytest.mark.parametrize("upsampling", ["transposed", "upsample"])
@pytest.mark.parametrize(
    ("shape", "code_dim"),
    [((1, 28, 28), 1), ((1, 28, 28), 16), ((3, 32, 32), 8), ((1, 64, 64), 2), ((3, 20, 28), 4)],
)
def test_conv_outputs_images_of_the_input_shape(upsampling: str, shape: tuple, code_dim: int) -> None:
    net = conv_net(shape, code_dim=code_dim, channels=[8, 16], upsampling=upsampling)
    x = torch.rand(3, *shape)
    assert net.encode(x).shape == (3, code_dim)
    out = net(x)
    assert out.shape == (3, *shape)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output


def test_upsampling_options_build_different_decoders() -> None:
    transposed = conv_net((1, 28, 28), channels=[8], upsampling="transposed")
    upsample = conv_net((1, 28, 28), channels=[8], upsampling="upsample")
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in transposed.decoder.modules())
    assert any(isinstance(m, torch.nn.Upsample) for m in upsample.decoder.modules())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in upsample.decoder.modules())


def test_conv_rejects_vector_data_with_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="model=conv needs image data"):
        conv_net((2,))
