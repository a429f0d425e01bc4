"""The plain torch networks: shapes, decoder options, and the errors for data they cannot take."""

from __future__ import annotations

import pytest
import torch

from autoencoders.errors import ConfigError
from autoencoders.registry import NETWORKS
from helpers.built import conv1d_net, conv_net


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


@pytest.mark.parametrize("window", [16, 50, 63, 64, 127])
@pytest.mark.parametrize("channels", [1, 5])
def test_conv1d_gives_back_windows_of_any_length_whole(window: int, channels: int) -> None:
    net = conv1d_net([channels, window])
    x = torch.randn(3, channels, window)
    assert net(x).shape == x.shape and net.encode(x).shape == (3, net.code_dim)


def test_conv1d_rebuilds_from_its_settings_and_learns_a_cycle() -> None:
    torch.manual_seed(0)
    net = conv1d_net([2, 32])
    rebuilt = NETWORKS["conv1d"](**net.settings)
    shapes = {name: tuple(value.shape) for name, value in net.state_dict().items()}
    assert shapes == {name: tuple(value.shape) for name, value in rebuilt.state_dict().items()}
    t = torch.arange(32.0)
    windows = torch.stack([torch.stack([torch.sin((t + s) / 3), torch.cos((t + s) / 3)]) for s in range(64)])
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = torch.mean((net(windows) - windows) ** 2).item()
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.mean((net(windows) - windows) ** 2)
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 10


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (
            [1, 28, 28],
            r"^model=conv1d needs windows of a series \(channels x window\), but the dataset gives",
        ),
        ([3, 3], r"^dataset.window=3 is too short for model=conv1d's 2 stride-2 layers: use a window of at"),
    ],
)
def test_conv1d_on_other_data_or_too_short_windows_is_one_line(shape: list[int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        conv1d_net(shape)
