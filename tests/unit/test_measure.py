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


def test_preactivation_fractions_counts_the_inputs_of_the_activations():
    from relucourse.measure import LINEAR_Z, SATURATED_Z, preactivation_fractions
    model = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1], [1.0], [10.0], [-10.0]]))
        model[0].bias.zero_()
    fr = preactivation_fractions(model, torch.ones(5, 1))
    # z = 0.1 (linear), 1.0 (neither), 10 and -10 (saturated; -10 negative)
    assert fr == {"linear": 0.25, "saturated": 0.5, "negative": 0.25}
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    assert LINEAR_Z == 0.5 and abs(torch.tanh(torch.tensor(SATURATED_Z)).item() - 0.99) < 1e-6


def test_default_init_tanh_net_is_nearly_linear_on_the_spirals():
    from relucourse.measure import preactivation_fractions
    X, _ = spirals(n=400)
    torch.manual_seed(0)
    small = preactivation_fractions(mlp([2, 64, 64, 64, 64, 2], "tanh"), X)
    torch.manual_seed(0)
    large = preactivation_fractions(mlp([2, 64, 64, 64, 64, 2], "tanh", init="he"), X)
    assert small["linear"] > 0.8 and small["saturated"] == 0.0
    assert large["linear"] < small["linear"]


def test_spiral_val_epochs_scores_on_the_validation_part_and_caps_failures():
    from relucourse import method
    from relucourse.measure import spiral_val_epochs
    X, y = spirals(n=400)
    data = method.validation_split(X, y)
    ok = spiral_val_epochs("relu", "default", 0.2, 0, *data, target=0.6, max_epochs=20)
    assert 1 <= ok <= 20
    assert spiral_val_epochs("relu", "default", 0.2, 0, *data, target=1.01, max_epochs=3) == 4


def test_deep_run_returns_one_accuracy_per_epoch_and_zeros_when_it_diverges():
    from relucourse.measure import DEEP_SETTINGS, deep_run
    X, y, Xt, yt = digits()
    acc = deep_run("relu", "he", 0.02, 0, X[:300], y[:300], Xt[:100], yt[:100])
    assert len(acc) == DEEP_SETTINGS["epochs"] and all(0 <= a <= 1 for a in acc)
    assert deep_run("relu", "he", 1e4, 0, X[:300], y[:300], Xt[:100], yt[:100]) == [0.0] * DEEP_SETTINGS["epochs"]


def test_stored_studies_have_their_command_and_the_settings_of_the_code():
    from relucourse import method
    from relucourse.measure import DEEP_SETTINGS, SPIRAL_SETTINGS
    spir, deep = method.load_study("ch3_spirals"), method.load_study("ch3_deep")
    assert spir["command"].startswith("python -m relucourse.measure")
    assert spir["results"]["settings"] == SPIRAL_SETTINGS
    assert deep["results"]["settings"] == DEEP_SETTINGS
    assert {r["seed"] for r in deep["results"]["runs"]} == set(range(10))
    for arm, tuned in spir["results"]["tuning"].items():
        assert all(r["lr"] == tuned["best"] for r in spir["results"]["runs"] if r["arm"] == arm)


def test_study_command_refuses_an_unknown_study_at_once(capsys):
    from relucourse.measure import main
    with pytest.raises(SystemExit) as info:
        main(["ch3_nope"])
    assert info.value.code == 2 and "unknown study 'ch3_nope'" in capsys.readouterr().err
