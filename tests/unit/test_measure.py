"""relucourse.measure: zero fractions, epochs to target, training helpers of chapter 3."""

import pytest
import torch
from torch import nn

from relucourse.data import digits, spirals
from relucourse.measure import (epochs_to_accuracy, epochs_to_target, train_sparse, weight_variance_ratio,
                                zero_fractions)
from relucourse.train import mlp


def test_zero_fractions_counts_exact_zeros_and_removes_its_hooks():
    torch.manual_seed(0)
    model = mlp([4, 64, 64, 2], "relu", init="he")
    with torch.no_grad():
        model[2].bias.fill_(-1e6)      # second hidden layer entirely dead
    fr = zero_fractions(model, torch.randn(500, 4))
    assert len(fr) == 2 and 0.3 < fr[0] < 0.7 and fr[1] == 1.0
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_zero_fractions_removes_hooks_even_when_forward_fails():
    model = mlp([4, 8, 2], "relu")
    with pytest.raises(RuntimeError):
        zero_fractions(model, torch.randn(3, 5))
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_epochs_to_target_counts_from_one():
    assert epochs_to_target([0.1, 0.5, 0.9], 0.5) == 2
    assert epochs_to_target([0.1], 0.5) is None


def test_weight_variance_ratio_default_vs_he():
    torch.manual_seed(0)
    assert weight_variance_ratio(nn.Linear(256, 1024)) == pytest.approx(1 / 3, rel=0.05)
    assert weight_variance_ratio(mlp([256, 1024], init="he")[0]) == pytest.approx(2, rel=0.05)


def test_epochs_to_accuracy_reaches_an_easy_target_and_gives_up_on_an_impossible_one():
    X, y = spirals(n=100)
    epochs = epochs_to_accuracy("relu", 0.1, X, y, target=0.5, max_epochs=5)
    assert epochs is not None and 1 <= epochs <= 5
    assert epochs_to_accuracy("relu", 0.1, X, y, target=1.01, max_epochs=2) is None
    assert epochs_to_accuracy("relu", 1e6, X, y, target=1.01, max_epochs=3) is None  # diverges: None


def test_train_sparse_l1_increases_sparsity():
    X, y, Xt, yt = digits()
    plain = train_sparse(X[:300], y[:300], Xt[:100], yt[:100], l1=0.0, hidden=(32,), epochs=3)
    sparse = train_sparse(X[:300], y[:300], Xt[:100], yt[:100], l1=3.0, hidden=(32,), epochs=3)
    assert sparse["sparsity"] > plain["sparsity"]
    assert set(plain) == {"l1", "seed", "train_acc", "test_acc", "gap", "sparsity"}


def test_saturated_fraction_counts_large_tanh_outputs():
    from relucourse.measure import saturated_fraction
    net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Tanh())
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.zero_()
    X = torch.tensor([[-5.0], [0.0], [0.5], [3.0]])
    assert saturated_fraction(net, X) == pytest.approx(0.5)      # tanh(5), tanh(3) > 0.99
    assert saturated_fraction(net, X, threshold=0.999) == pytest.approx(0.25)
    assert not net[1]._forward_hooks
    assert saturated_fraction(torch.nn.Linear(1, 1), X) != saturated_fraction(torch.nn.Linear(1, 1), X)  # NaN


def test_epochs_to_accuracy_passes_the_callback():
    from relucourse.data import spirals
    from relucourse.measure import epochs_to_accuracy
    X, y = spirals(n=100)
    seen = []
    epochs_to_accuracy("relu", 0.1, X, y, max_epochs=3, target=1.1,
                       callback=lambda epoch, model: seen.append(epoch))
    assert seen == [1, 2, 3]


def test_forward_pass_with_hooks_removes_its_hooks_even_when_the_pass_fails():
    from torch import nn
    from relucourse.measure import forward_pass_with_hooks
    seen = []
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    forward_pass_with_hooks(net, torch.ones(4, 2), [net[1]],
                            lambda i, m: lambda mod, inp, out: seen.append((i, tuple(out.shape))))
    assert seen == [(0, (4, 3))] and not net[1]._forward_hooks
    with pytest.raises(RuntimeError):
        forward_pass_with_hooks(net, torch.ones(4, 5), [net[1]], lambda i, m: lambda *a: None)
    assert not net[1]._forward_hooks
