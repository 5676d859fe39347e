"""relucourse.gradflow: backward signal per layer, and the per-layer gain that predicts it."""

import math

import pytest
import torch

from relucourse.gradflow import (RELU_GAINS, backward_signal, fitted_gain, predicted_gain,
                                 zero_biases_)
from relucourse.train import grad_norms, linear_layers, mlp


def _data(n=256, d=32, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64),
            torch.randint(0, classes, (n,), generator=g))


def test_backward_signal_matches_autograd_and_grad_norms():
    X, y = _data()
    torch.manual_seed(0)
    net = mlp([32, 16, 16, 4], "tanh").double()
    flow = backward_signal(net, X, y)
    assert len(flow["dz"]) == len(flow["dW"]) == len(flow["h"]) == len(flow["phi2"]) == 3
    assert flow["dW"] == pytest.approx(grad_norms(net, X, y))
    # dL/dz of the last layer is (softmax - onehot) / n
    logits = net(X).detach()
    delta = (torch.softmax(logits, 1) - torch.nn.functional.one_hot(y, 4)) / len(X)
    assert flow["dz"][-1] == pytest.approx(delta.norm().item())
    assert flow["h"][0] == pytest.approx(X.norm().item())
    assert math.isnan(flow["phi2"][-1])
    # no hooks or gradients left behind
    assert all(not m._forward_hooks for m in linear_layers(net))
    assert all(p.grad is None for p in net.parameters())


def test_phi2_is_the_mean_squared_derivative():
    X, y = _data()
    torch.manual_seed(0)
    net = mlp([32, 64, 4], "relu", init="he").double()
    flow = backward_signal(net, X, y)
    z = net[0](X)
    assert flow["phi2"][0] == pytest.approx((z > 0).double().mean().item())


@pytest.mark.parametrize("init", ["he", "xavier", "default"])
def test_measured_relu_gain_matches_the_derivation(init):
    X, y = _data(d=64)
    torch.manual_seed(0)
    net = mlp([64] + [64] * 20 + [4], "relu", init=init).double()
    zero_biases_(net)
    gain = fitted_gain(backward_signal(net, X, y)["dz"], slice(0, -1))
    assert gain == pytest.approx(RELU_GAINS[init], rel=0.15)


def test_zero_biases_makes_default_init_weight_gradients_flat():
    X, y = _data(d=64)
    torch.manual_seed(0)
    net = mlp([64] + [64] * 20 + [4], "relu").double()
    with_bias = backward_signal(net, X, y)["dW"]
    flat = backward_signal(zero_biases_(net), X, y)["dW"]
    assert with_bias[-1] / with_bias[0] > 1e4          # slopes with the default biases
    assert 0.1 < flat[-1] / flat[0] < 10               # flat without them
    assert all(float(m.bias.detach().abs().max()) == 0 for m in linear_layers(net))


def test_predicted_gain_and_fitted_gain():
    assert predicted_gain(64, 2 / 64, 0.5) == pytest.approx(1.0)
    assert predicted_gain(64, 1 / (3 * 64), 0.5) == pytest.approx(1 / 6)
    norms = [0.5 ** ((10 - l) / 2) for l in range(11)]   # squared norm halves per layer down
    assert fitted_gain(norms) == pytest.approx(0.5)
    assert fitted_gain(norms, slice(0, 5)) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        fitted_gain([1.0])


def test_mean_cosine_of_known_rows():
    from relucourse.gradflow import mean_cosine
    assert mean_cosine(torch.tensor([[1.0, 0.0], [0.0, 2.0]])) == 0.0
    assert abs(mean_cosine(torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])) - 1.0) < 1e-12
    assert abs(mean_cosine(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) + 1.0) < 1e-12
    with pytest.raises(ValueError):
        mean_cosine(torch.ones(1, 3))


def test_deep_relu_he_nets_collapse_and_tanh_xavier_nets_do_not():
    from relucourse.gradflow import cosine_by_depth, last_hidden_cosine
    from relucourse.data import digits
    X = digits()[0][:128]
    relu = cosine_by_depth("relu", "he", X, [1, 12], seeds=(0, 1))
    tanh = cosine_by_depth("tanh", "xavier", X, [1, 12], seeds=(0, 1))
    # one ReLU layer on nearly orthogonal inputs: 1/pi (the arc-cosine kernel at 90 degrees)
    assert all(abs(c - 1 / math.pi) < 0.05 for c in relu[0])
    assert min(relu[1]) > 0.7 and max(abs(c) for row in tanh for c in row) < 0.1
    torch.manual_seed(0)
    model = mlp([64, 32, 10], "relu")
    last_hidden_cosine(model, X)
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
