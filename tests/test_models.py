"""The plain torch networks: shapes, decoder options, and the errors for data they cannot take."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoencoders.anomaly.autoencoder import AutoencoderDetector
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


@pytest.mark.parametrize("score", ["rapp", "rapp_hidden"])
def test_conv1d_scores_windows_with_rapp_one_term_per_layer_and_saves_them(score: str, tmp_path) -> None:
    """RaPP measures a 1-D convolution after its activation, as a 2-D one (else twice per layer)."""
    torch.manual_seed(0)
    t = np.arange(24.0)
    windows = np.stack([np.stack([np.sin((t + s) / 3), np.cos((t + s) / 3)]) for s in range(64)]).astype(
        np.float32
    )
    net = conv1d_net([2, 24], code_dim=4, channels=[8, 16])
    detector = AutoencoderDetector(net, score, "rapp").fit(windows[:48], windows[48:])
    if score == "rapp_hidden":  # a term after each convolution's activation, one at the code
        assert len(detector.score_.layer_means) == 2 + 1
    noisy = windows[48:] + np.random.default_rng(1).normal(0, 1, windows[48:].shape).astype(np.float32)
    scores = detector.decision_function(np.concatenate([windows[48:], noisy]))
    assert scores[16:].mean() > 2 * scores[:16].mean()  # noise lies off what the (untrained) net maps
    state, files = detector.save(tmp_path)
    np.testing.assert_allclose(
        AutoencoderDetector.load(state, files).decision_function(noisy), scores[16:], rtol=1e-6
    )
