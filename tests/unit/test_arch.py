"""Residual networks, the depth sweep's builder and the autoencoder helper."""

import torch
from torch import nn

from relucourse.arch import ResidualBlock, autoencoder, build, output_scale, train_autoencoder


def test_zero_initialised_block_is_the_identity_and_he_block_is_not():
    torch.manual_seed(0)
    x = torch.randn(8, 16)
    assert torch.equal(ResidualBlock(16, last_scale=0.0)(x), x)
    assert not torch.allclose(ResidualBlock(16, last_scale=1.0)(x), x)


def test_build_holds_the_requested_number_of_hidden_layers():
    for arm in ["sigmoid", "tanh", "relu", "residual", "residual-he"]:
        model = build(arm, 8)
        assert sum(isinstance(m, nn.Linear) for m in model.modules()) in (9, 10), arm


def test_output_scale_grows_without_zero_init_and_not_with_it():
    X = torch.randn(64, 64)
    torch.manual_seed(0)
    deep_he = output_scale(build("residual-he", 32), X)
    torch.manual_seed(0)
    shallow_he = output_scale(build("residual-he", 4), X)
    torch.manual_seed(0)
    deep_zero = output_scale(build("residual", 32), X)
    torch.manual_seed(0)
    shallow_zero = output_scale(build("residual", 4), X)
    assert deep_he > 100 * shallow_he
    assert abs(deep_zero - shallow_zero) < 1e-5


def test_autoencoder_trains_and_is_reproducible():
    torch.manual_seed(0)
    X = torch.rand(100, 64)
    assert isinstance(autoencoder()[3], nn.ReLU)
    mse1, _ = train_autoencoder(None, X, epochs=20, seed=1)
    mse2, _ = train_autoencoder(None, X, epochs=20, seed=1)
    assert mse1 == mse2 and mse1 < 0.5 * float((X ** 2).mean())
