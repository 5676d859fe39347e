"""relucourse.deadunits: the dead-unit monitor over a whole data set."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from relucourse.deadunits import active_rates, dead_fractions, dead_masks, dead_summary


def _linear(weight, bias):
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


def _hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_dead_means_zero_on_every_input_not_on_one_batch():
    # unit 0: x; unit 1: -x (fires only on negative x); unit 2: always <= 0; unit 3: exactly 0 (a tie)
    net = nn.Sequential(_linear([[1.0], [-1.0], [0.0], [0.0]], [0.0, 0.0, -1.0, 0.0]), nn.ReLU())
    X = torch.tensor([[1.0], [2.0], [3.0], [-0.5]])
    masks = dead_masks(net, X, batch_size=3)   # unit 1 is inactive on the first batch only
    assert list(masks) == ["1"]
    assert masks["1"].tolist() == [False, False, True, True]
    assert masks["1"].dtype == torch.bool
    assert dead_fractions(net, X) == {"1": 0.5}
    assert dead_masks(net, X[:3])["1"].tolist() == [False, True, True, True]
    rates = active_rates(net, X, batch_size=2)["1"]
    assert torch.allclose(rates, torch.tensor([0.75, 0.25, 0.0, 0.0], dtype=torch.float64))


def test_functional_relus_are_found_and_named_by_call_order():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(3, 5), nn.Linear(5, 6), nn.Linear(6, 7)
            self.act = nn.ReLU()
            self.d = nn.Linear(7, 8)

        def forward(self, x):
            x = F.relu(self.a(x))
            x = torch.relu(self.b(x))
            x = self.act(self.c(x))
            x = self.d(x).clamp(min=0)
            x = torch.tanh(x)          # not a ReLU
            return torch.clamp(x, -1.0, 1.0)  # lower bound not 0: not a ReLU

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net.b.bias.fill_(-100.0)      # every unit of the second site is dead
    masks = dead_masks(net, torch.randn(50, 3))
    assert list(masks) == ["relu#0", "relu#1", "act", "relu#2"]
    assert [m.numel() for m in masks.values()] == [5, 6, 7, 8]
    assert masks["relu#1"].all()
    assert dead_fractions(net, torch.randn(50, 3))["relu#1"] == 1.0


def test_more_functional_forms():
    class Net(nn.Module):
        def forward(self, x):
            a = x.relu()
            b = torch.clamp_min(x, 0)
            c = F.threshold(x, 0.0, 0.0)
            d = x.clone().relu_()
            e = F.relu(x.clone(), inplace=True)
            f = torch.clamp(x, min=0.0, max=6.0)   # ReLU6: zero exactly where ReLU is
            g = x.clamp(0.5)                     # not a ReLU
            return a + b + c + d + e + f + g

    X = torch.tensor([[1.0, -1.0], [2.0, -3.0]])
    masks = dead_masks(Net(), X)
    assert list(masks) == [f"relu#{i}" for i in range(6)]
    assert all(m.tolist() == [False, True] for m in masks.values())


def test_a_module_reused_in_one_forward_gives_one_site_per_call():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = nn.Linear(2, 4), nn.Linear(4, 3)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.l2(self.relu(self.l1(x))))

    torch.manual_seed(1)
    masks = dead_masks(Net(), torch.randn(20, 2))
    assert list(masks) == ["relu", "relu@1"]
    assert [m.numel() for m in masks.values()] == [4, 3]


def test_conv_channels_are_the_units():
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, 3, padding=1)
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([-1e3, 0.0, 1e3]))
    net = nn.Sequential(conv, nn.ReLU(inplace=True))
    assert dead_masks(net, torch.randn(4, 1, 5, 5))["1"].tolist() == [True, False, False]


def test_tied_zero_pre_activation_is_dead_and_tiny_positive_is_not():
    net = nn.Sequential(_linear([[0.0], [1e-30]], [0.0, 0.0]), nn.ReLU())
    masks = dead_masks(net, torch.ones(3, 1))
    assert masks["1"].tolist() == [True, False]


def test_state_is_restored_and_callers_hooks_kept():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))
    net.train()
    net[3].eval()                            # a mixed state must come back exactly
    seen = []
    net[2].register_forward_hook(lambda m, i, o: seen.append(1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    hooks = _hooks(net)
    dead_masks(net, torch.randn(30, 3), batch_size=7)
    assert [m.training for m in net.modules()] == [True, True, True, True, False, True]
    assert _hooks(net) == hooks and len(seen) == 5
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # BN stats untouched
    assert torch.is_grad_enabled()


def test_hooks_are_removed_when_forward_fails():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with pytest.raises(RuntimeError):
        dead_masks(net, torch.randn(5, 7))
    assert _hooks(net) == 0
    masks = dead_masks(net, torch.randn(5, 3))   # and the monitor still works afterwards
    assert list(masks) == ["1"]


def test_bad_arguments():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with pytest.raises(ValueError):
        dead_masks(net, torch.empty(0, 3))
    with pytest.raises(ValueError):
        dead_masks(net, torch.randn(4, 3), batch_size=0)
    with pytest.raises(TypeError):
        dead_masks(net, [[1.0, 2.0, 3.0]])


def test_batch_size_does_not_change_the_answer_and_summary_reads():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
    with torch.no_grad():
        net[2].bias.fill_(-0.8)
    X = torch.randn(101, 4)
    a, b = dead_masks(net, X, batch_size=1), dead_masks(net, X, batch_size=1000)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert set(dead_fractions(net, X)) == {"1", "3"}
    text = dead_summary(net, X)
    assert text.splitlines()[0].startswith("1 ") and "dead" in text


def test_no_relu_means_no_sites():
    assert dead_masks(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), torch.randn(3, 2)) == {}
