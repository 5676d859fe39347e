"""Chapter 2 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse.tooling.checks.ch02 import (hidden_nets, reference_count_regions, reference_relu,
                                    reference_relu_derivative, reference_softplus,
                                    reference_stepped_sigmoid_error, stepped_sigmoid_sum)
from relucourse.regions import activation_patterns


def forever(*args):
    while True:
        pass


def raises(*args):
    raise ValueError("shapes do not match")


# -- 2.1 ReLU ------------------------------------------------------------------------------------

def test_2_1_accepts_the_reference_and_other_correct_forms():
    passes("2.1", reference_relu)
    passes("2.1", F.relu)
    passes("2.1", lambda x: torch.where(x > 0, x, 0))          # NaN -> 0: accepted, like max(0, nan)
    passes("2.1", lambda x: torch.where(x > 0, x, torch.zeros_like(x)))
    passes("2.1", lambda x: x.clamp(min=0))
    passes("2.1", lambda x: torch.clamp_min(x, 0))
    passes("2.1", lambda x: torch.maximum(x, torch.zeros_like(x)))
    passes("2.1", lambda x: torch.maximum(x, torch.tensor(0.0, dtype=x.dtype)))
    passes("2.1", lambda x: torch.where(x < 0, 0, x))
    passes("2.1", nn.ReLU())


def test_2_1_stub_is_not_attempted():
    not_attempted("2.1", stub("2.1"))


def test_2_1_rejects_mask_multiplication_which_gives_nan_at_minus_inf():
    rejects("2.1", lambda x: x * (x > 0), says=("wrong value", "-inf", "nan", "x * (x > 0)"))


def test_2_1_rejects_exceptions_types_nan_in_place_and_endless_loops():
    rejects("2.1", raises, says=("raised an error", "ValueError: shapes do not match"))
    rejects("2.1", lambda x: torch.relu(x).tolist(), says=("expected a torch.Tensor", "returned list"))
    rejects("2.1", lambda x: np.maximum(x.numpy(), 0), says=("returned numpy.ndarray",))
    rejects("2.1", lambda x: torch.full_like(x, float("nan")), says=("wrong value", "nan"))

    def in_place(x):
        return x.clamp_(min=0)
    rejects("2.1", in_place, says=("modified its input in place",))
    rejects("2.1", forever, says=("did not finish within 2 s",))
    rejects("2.1", "relu", says=("expected a function `relu`", "str"))


def test_2_1_rejects_wrong_values_dtypes_devices_and_broken_autograd():
    rejects("2.1", lambda x: torch.where(x >= 0, x, 0.1 * x), says=("wrong value",))     # leaky
    rejects("2.1", lambda x: x.abs(), says=("wrong value",))
    rejects("2.1", lambda x: (x + x.abs()) / 2, says=("wrong value", "-inf"))  # -inf + inf = nan
    rejects("2.1", lambda x: torch.where(x > 0, 1.0, 0.0).to(x.dtype), says=("wrong value",))   # the step
    rejects("2.1", lambda x: torch.relu(x).float(), says=("wrong dtype", "float64"))
    rejects("2.1", lambda x: torch.relu(x).flatten()[:1] if x.numel() else x, says=("wrong shape",))
    rejects("2.1", lambda x: torch.nan_to_num(torch.relu(x), posinf=1e30), says=("wrong value",))
    rejects("2.1", lambda x: torch.from_numpy(np.maximum(x.numpy(), 0)),
            says=("raised an error",))  # meta or bfloat16 inputs cannot go through NumPy
    rejects("2.1", lambda x: torch.where(x > 0, x, torch.zeros(x.shape, dtype=x.dtype)),
            says=("meta", "device"))
    rejects("2.1", lambda x: torch.relu(x.detach()), says=("autograd cannot differentiate",))


# -- 2.2 ReLU' -----------------------------------------------------------------------------------

def test_2_2_accepts_the_reference_and_other_correct_forms():
    passes("2.2", reference_relu_derivative)
    passes("2.2", lambda x: (x > 0).to(x.dtype))
    passes("2.2", lambda x: torch.where(x > 0, 1.0, 0.0).to(x.dtype))
    passes("2.2", lambda x: torch.heaviside(x, torch.tensor(0.0, dtype=x.dtype)))
    passes("2.2", lambda x: torch.sign(torch.relu(x)))        # NaN -> NaN: accepted
    passes("2.2", lambda x: (x > 0).type_as(x))


def test_2_2_stub_is_not_attempted():
    not_attempted("2.2", stub("2.2"))


def test_2_2_rejects_the_other_convention_at_zero():
    rejects("2.2", lambda x: (x >= 0).to(x.dtype), says=("wrong value", "x > 0, not x >= 0"))
    rejects("2.2", lambda x: torch.where(x == 0, 0.5, (x > 0).to(x.dtype)).to(x.dtype),
            says=("wrong value", "autograd"))


def test_2_2_rejects_typical_mistakes():
    rejects("2.2", lambda x: x > 0, says=("wrong dtype", "bool"))
    rejects("2.2", torch.relu, says=("wrong value",))                           # the function, not its slope
    rejects("2.2", lambda x: torch.sigmoid(x), says=("wrong value",))
    rejects("2.2", lambda x: (x > 0).float(), says=("wrong dtype", "float64"))
    rejects("2.2", lambda x: torch.ones_like(x), says=("wrong value",))


def test_2_2_rejects_exceptions_types_nan_in_place_and_endless_loops():
    rejects("2.2", raises, says=("ValueError: shapes do not match",))
    rejects("2.2", lambda x: (x > 0).to(x.dtype).numpy(), says=("returned numpy.ndarray",))
    rejects("2.2", lambda x: torch.full_like(x, float("nan")), says=("wrong value",))

    def in_place(x):
        d = (x > 0).to(x.dtype)
        x.zero_()
        return d
    rejects("2.2", in_place, says=("in place",))
    rejects("2.2", forever, says=("did not finish",))


# -- 2.3 softplus --------------------------------------------------------------------------------

def stable_softplus(x):
    return torch.relu(x) + torch.log1p(torch.exp(-x.abs()))


def test_2_3_accepts_the_reference_and_other_correct_forms():
    passes("2.3", reference_softplus)
    passes("2.3", stable_softplus)
    passes("2.3", F.softplus)
    passes("2.3", lambda x: torch.logaddexp(x, torch.zeros_like(x)))
    passes("2.3", lambda x: torch.where(x > 0, x + torch.log1p(torch.exp(-x)), torch.log1p(torch.exp(x))))
    passes("2.3", lambda x: x.clamp(min=0) + torch.log1p(torch.exp(-torch.abs(x))))
    passes("2.3", lambda x: torch.where(x > 30, x, torch.log1p(torch.exp(x.clamp(max=30)))))


def test_2_3_stub_is_not_attempted():
    not_attempted("2.3", stub("2.3"))


def test_2_3_rejects_forms_that_overflow_or_lose_tiny_values():
    rejects("2.3", lambda x: torch.log(1 + torch.exp(x)), says=("wrong value", "log1p"))
    rejects("2.3", lambda x: torch.log1p(torch.exp(x)), says=("wrong value", "1000.", "inf"))
    rejects("2.3", lambda x: torch.relu(x) + torch.log(1 + torch.exp(-x.abs())),
            says=("wrong value", "-40.", "log1p"))
    rejects("2.3", lambda x: x + torch.log1p(torch.exp(-x)), says=("wrong value",))


def test_2_3_rejects_typical_mistakes():
    rejects("2.3", torch.relu, says=("wrong value", "0.693147", "Expected: torch.tensor([0.693147, 0.693147]"))
    rejects("2.3", lambda x: torch.relu(x) + torch.log1p(torch.exp(-x.abs())) / 2, says=("wrong value",))
    rejects("2.3", lambda x: stable_softplus(x.double()), says=("wrong dtype",))
    rejects("2.3", lambda x: torch.nan_to_num(stable_softplus(x)), says=("wrong value", "nan"))


def test_2_3_rejects_exceptions_types_nan_in_place_and_endless_loops():
    rejects("2.3", raises, says=("ValueError",))
    rejects("2.3", lambda x: float(stable_softplus(x).sum()), says=("expected a torch.Tensor", "float"))
    rejects("2.3", lambda x: torch.full_like(x, float("nan")), says=("wrong value", "nan"))

    def in_place(x):
        return x.copy_(stable_softplus(x))
    rejects("2.3", in_place, says=("modified its input in place",))
    rejects("2.3", forever, says=("did not finish",))


# -- 2.4 stepped sigmoids against softplus -------------------------------------------------------

def loop_error(n, lo, hi):
    x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
    s = sum(torch.sigmoid(x - i + 0.5) for i in range(1, n + 1))
    return float((s - F.softplus(x)).abs().max())


def test_2_4_accepts_the_reference_and_other_correct_forms():
    passes("2.4", reference_stepped_sigmoid_error)
    passes("2.4", loop_error)
    passes("2.4", lambda n, lo, hi: torch.tensor(loop_error(n, lo, hi)))   # a 0-d tensor is a number too
    passes("2.4", lambda n, lo, hi: np.float64(loop_error(n, lo, hi)))


def test_2_4_stub_is_not_attempted():
    not_attempted("2.4", stub("2.4"))


def test_2_4_rejects_typical_mistakes():
    def shifted_the_wrong_way(n, lo, hi):
        x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
        s = sum(torch.sigmoid(x - i - 0.5) for i in range(1, n + 1))
        return float((s - F.softplus(x)).abs().max())

    def from_zero(n, lo, hi):
        x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
        s = sum(torch.sigmoid(x - i + 0.5) for i in range(n))
        return float((s - F.softplus(x)).abs().max())

    def against_relu(n, lo, hi):
        x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
        return float((stepped_sigmoid_sum(x, n) - torch.relu(x)).abs().max())

    def signed(n, lo, hi):
        x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
        return float((stepped_sigmoid_sum(x, n) - F.softplus(x)).max())

    def mean_error(n, lo, hi):
        x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
        return float((stepped_sigmoid_sum(x, n) - F.softplus(x)).abs().mean())

    for wrong in (shifted_the_wrong_way, from_zero, against_relu, signed, mean_error):
        rejects("2.4", wrong, says=("wrong value", "stepped_sigmoid_error(", "Expected:", "Got:"))


def test_2_4_rejects_exceptions_types_nan_and_endless_loops():
    rejects("2.4", raises, says=("raised an error",))
    rejects("2.4", lambda n, lo, hi: [loop_error(n, lo, hi)], says=("expected a number", "list"))
    rejects("2.4", lambda n, lo, hi: torch.full((3,), loop_error(n, lo, hi)), says=("expected a number",))
    rejects("2.4", lambda n, lo, hi: float("nan"), says=("wrong value", "nan"))
    rejects("2.4", lambda n, lo, hi: loop_error(n, lo, hi) > 0.1, says=("expected a number", "bool"))
    rejects("2.4", forever, says=("did not finish",))


# -- 2.5 counting pieces along a segment ---------------------------------------------------------

def count_by_patterns(net, a, b, samples=100_001):
    t = torch.linspace(0, 1, samples)[:, None]
    p = activation_patterns(net, (1 - t) * a + t * b)
    return 1 + int((p[1:] != p[:-1]).any(1).sum())


def count_by_hand(net, a, b):
    t = torch.linspace(0, 1, 20_001)[:, None]
    h = (1 - t) * a + t * b
    changes = torch.zeros(len(t) - 1, dtype=torch.bool)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.ReLU):
                on = h > 0
                changes |= (on[1:] != on[:-1]).any(1)
            h = layer(h)
    return int(changes.sum()) + 1


def test_2_5_the_hidden_pieces_are_at_least_a_thousandth_of_the_segment():
    for net, a, b, _ in hidden_nets():
        n = 400_001
        t = torch.linspace(0, 1, n)[:, None]
        p = activation_patterns(net, (1 - t) * a + t * b)
        change = torch.nonzero((p[1:] != p[:-1]).any(1)).ravel()
        runs = torch.diff(torch.cat([torch.tensor([0]), change + 1, torch.tensor([n])]))
        assert runs.min().item() / n > 1e-3
        assert len(change) + 1 == reference_count_regions(net, a, b)


def test_2_5_hidden_nets_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    hidden_nets()
    assert torch.equal(torch.rand(3), expected)


def test_2_5_accepts_the_reference_and_other_correct_forms():
    passes("2.5", reference_count_regions)
    passes("2.5", count_by_patterns)
    passes("2.5", count_by_hand)
    passes("2.5", lambda net, a, b: torch.tensor(count_by_hand(net, a, b)))
    passes("2.5", lambda net, a, b: float(count_by_hand(net, a, b)))


def test_2_5_stub_is_not_attempted():
    not_attempted("2.5", stub("2.5"))


def test_2_5_rejects_typical_mistakes():
    def first_layer_only(net, a, b):
        t = torch.linspace(0, 1, 100_001)[:, None]
        with torch.no_grad():
            on = net[0]((1 - t) * a + t * b) > 0
        return 1 + int((on[1:] != on[:-1]).any(1).sum())

    def hidden_units_plus_one(net, a, b):
        return 1 + sum(m.out_features for m in net if isinstance(m, nn.Linear)) - 1

    rejects("2.5", first_layer_only, says=("wrong value", "two hidden layers", "all hidden layers"))
    rejects("2.5", hidden_units_plus_one, says=("wrong value",))
    rejects("2.5", lambda net, a, b: count_by_patterns(net, a, b) - 1, says=("wrong value", "1 +"))
    rejects("2.5", lambda net, a, b: count_by_patterns(net, a, b, samples=100), says=("wrong value", "finely"))


def test_2_5_rejects_exceptions_types_nan_in_place_and_endless_loops():
    rejects("2.5", raises, says=("raised an error",))
    rejects("2.5", lambda net, a, b: str(count_by_patterns(net, a, b)), says=("expected a number", "str"))
    rejects("2.5", lambda net, a, b: float("nan"), says=("whole number", "nan"))

    def in_place(net, a, b):
        n = count_by_patterns(net, a, b)
        a.zero_()
        return n
    rejects("2.5", in_place, says=("modified its input in place",))
    rejects("2.5", forever, says=("did not finish",))
