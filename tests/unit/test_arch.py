"""Residual networks, the depth sweep's builder and the autoencoder helper."""

import torch
from torch import nn

import pytest

from relucourse import arch
from relucourse.arch import ResidualBlock, autoencoder, build, output_scale, train_autoencoder


def test_zero_initialised_block_is_the_identity_and_he_block_is_not():
    torch.manual_seed(0)
    x = torch.randn(8, 16)
    assert torch.equal(ResidualBlock(16, last_scale=0.0)(x), x)
    assert not torch.allclose(ResidualBlock(16, last_scale=1.0)(x), x)


def test_plain_and_residual_nets_hold_the_same_number_of_weight_layers():
    for arm in arch.ARMS:
        model = build(arm, 9)
        assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 10, arm
    with pytest.raises(ValueError):
        build("residual", 8)          # an even depth cannot be an input layer plus blocks of two
    with pytest.raises(ValueError):
        build("no-such-arm", 3)


def test_tanh_uses_its_own_gain_five_thirds():
    torch.manual_seed(0)
    w = build("tanh", 3, width=512, n_in=512)[2].weight
    assert w.std().item() == pytest.approx(5 / 3 * (2 / 1024) ** 0.5, rel=0.02)


def test_block_placements_differ_only_where_they_should():
    torch.manual_seed(0)
    x = torch.randn(50, 16)
    for placement in ["clean", "pre"]:
        assert torch.equal(ResidualBlock(16, placement=placement)(x), x)     # zero-init: identity
    assert torch.equal(ResidualBlock(16, placement="post")(x), torch.relu(x))
    with pytest.raises(ValueError):
        ResidualBlock(16, placement="middle")


def test_a_he_initialised_block_triples_the_second_moment():
    """E[F^2] = 2 E[x^2]: the branch's last layer has no ReLU after it, so x + F(x) carries 3 E[x^2]."""
    factors = [f for seed in range(3) for f in arch.block_factors(512, 4, n=2000, seed=seed)]
    assert sum(factors) / len(factors) == pytest.approx(3.0, rel=0.1)
    assert arch.block_factors(64, 3, last_scale=0.0) == pytest.approx([1.0, 1.0, 1.0])


def test_mean_cosine_and_the_collapse_of_deep_relu_nets():
    assert arch.mean_cosine(torch.eye(4)) == pytest.approx(0.0)
    assert arch.mean_cosine(torch.ones(5, 3)) == pytest.approx(1.0)
    X = torch.randn(100, 64, generator=torch.Generator().manual_seed(0))
    assert arch.collapse("relu", 25, X) > 0.9 > arch.collapse("relu", 3, X)
    assert abs(arch.collapse("tanh", 25, X)) < 0.2
    assert arch.collapse("residual", 25, X) == pytest.approx(arch.collapse("residual", 3, X))


def test_output_scale_grows_without_zero_init_and_not_with_it():
    X = torch.randn(64, 64)
    torch.manual_seed(0)
    deep_he = output_scale(build("residual-he", 33), X)
    torch.manual_seed(0)
    shallow_he = output_scale(build("residual-he", 5), X)
    torch.manual_seed(0)
    deep_zero = output_scale(build("residual", 33), X)
    torch.manual_seed(0)
    shallow_zero = output_scale(build("residual", 5), X)
    assert deep_he > 100 * shallow_he
    assert abs(deep_zero - shallow_zero) < 1e-5


def test_autoencoder_trains_and_is_reproducible():
    torch.manual_seed(0)
    X = torch.rand(100, 64)
    assert isinstance(autoencoder()[3], nn.ReLU)
    mse1, _ = train_autoencoder(None, X, epochs=20, seed=1)
    mse2, _ = train_autoencoder(None, X, epochs=20, seed=1)
    assert mse1 == mse2 and mse1 < 0.5 * float((X ** 2).mean())


def test_depth_run_reports_train_and_test_accuracy_and_tuning_never_sees_the_test_set():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(120, 64, generator=g), torch.randint(0, 3, (120,), generator=g)
    r = arch.depth_run("residual", 3, X, y, X[:10], y[:10], lr=0.03, epochs=2)
    assert set(r) == {"train_acc", "test_acc"} and 0 <= r["test_acc"] <= 1
    seen = []
    original = arch.depth_run

    def spy(arm, depth, X_fit, y_fit, X_val, y_val, **kw):
        seen.append(len(X_val))
        return original(arm, depth, X_fit, y_fit, X_val, y_val, **kw)

    arch.depth_run = spy
    try:
        tuned = arch.tune_lr("relu", 3, X, y, grid=[0.01, 0.1], epochs=1, max_extensions=0)
    finally:
        arch.depth_run = original
    assert tuned.best in (0.01, 0.1) and set(seen) == {30}      # a quarter of the TRAINING rows


def test_autoencoder_run_counts_dead_bottleneck_and_output_units():
    versions = arch.digit_versions(60)
    assert set(versions) == {"[0, 1]", "[0, 1] centred", "standardised", "standardised + 3"}
    assert versions["[0, 1] centred"].mean(0).abs().max() < 1e-5
    r = arch.autoencoder_run("[0, 1]", "relu", seed=0, epochs=2, X=versions["[0, 1]"])
    assert 0 <= r["dead_bottleneck"] <= 8
    assert 0 <= r["dead_outputs_harmless"] <= r["dead_outputs"] <= 64
    always_zero = int((versions["[0, 1]"] == 0).all(0).sum())
    assert r["dead_outputs_harmless"] <= always_zero
    assert "dead_outputs" not in arch.autoencoder_run("[0, 1]", "linear", seed=0, epochs=1, X=versions["[0, 1]"])


def test_tiny_cnn_shapes_and_a_short_run():
    from relucourse.arch import cnn_run, tiny_cnn
    model = tiny_cnn("tanh")
    assert model(torch.randn(5, 64)).shape == (5, 10)
    assert sum(isinstance(m, torch.nn.Tanh) for m in model) == 2
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(60, 64, generator=g), torch.arange(60) % 10
    r = cnn_run("relu", X, y, X[:20], y[:20], lr=0.05, epochs=2, seed=1)
    assert set(r) == {"train_acc", "test_acc", "loss"} and 0 <= r["test_acc"] <= 1
    assert r == cnn_run("relu", X, y, X[:20], y[:20], lr=0.05, epochs=2, seed=1)
    assert cnn_run("relu", X, y, X[:20], y[:20], lr=1e6, epochs=2, seed=1)["test_acc"] == 0.0
