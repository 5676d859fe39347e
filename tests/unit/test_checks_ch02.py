"""Chapter 2 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse.tooling.checks.ch02 import (RELU_FORMS, reference_count_pieces, reference_derivative_at_zero,
                                            reference_relu, reference_relu_derivative, reference_softplus)


def forever(*args):
    while True:
        pass


def raises(*args):
    raise ValueError("shapes do not match")


# -- 2.1 ReLU ------------------------------------------------------------------------------------

def test_2_1_accepts_the_reference_and_other_correct_forms():
    passes("2.1", lambda x: torch.where(x > 0, x, 0))          # NaN -> 0: accepted, like max(0, nan)
    passes("2.1", lambda x: torch.where(x > 0, x, torch.zeros_like(x)))
    passes("2.1", lambda x: x.clamp(min=0))
    passes("2.1", lambda x: torch.clamp_min(x, 0))
    passes("2.1", lambda x: torch.maximum(x, torch.zeros_like(x)))
    passes("2.1", lambda x: torch.maximum(x, torch.tensor(0.0, dtype=x.dtype)))
    passes("2.1", lambda x: torch.where(x < 0, 0, x))
    passes("2.1", lambda x: F.threshold(x, 0, 0))
    passes("2.1", lambda x: torch.where(x > 0, x, torch.zeros((), dtype=x.dtype)))


def test_2_1_rejects_built_in_relus_however_they_are_reached():
    from torch.nn.functional import relu as imported_relu
    for answer in (reference_relu, F.relu, nn.ReLU(), lambda x: x.relu(), imported_relu,
                   lambda x: torch.ops.aten.relu(x), lambda x: torch.ops.aten.relu.default(x)):
        rejects("2.1", answer, says=("built-in ReLU", "rules out"))


def test_2_1_rejects_integer_dtype_changes():
    # float zeros promote int16/int64 to float
    rejects("2.1", lambda x: torch.maximum(x, torch.tensor(0.0)), says=("wrong dtype", "int16"))
    rejects("2.1", lambda x: x.clamp(min=0.0), says=("wrong dtype", "int16"))


def test_2_1_stub_is_not_attempted():
    not_attempted("2.1", stub("2.1"))


def test_2_1_rejects_mask_multiplication_which_gives_nan_at_minus_inf():
    rejects("2.1", lambda x: x * (x > 0), says=("wrong value", "-inf", "nan", "x * (x > 0)"))


def test_2_1_rejects_exceptions_types_nan_in_place_and_endless_loops():
    rejects("2.1", raises, says=("raised an error", "ValueError: shapes do not match"))
    rejects("2.1", lambda x: x.clamp(min=0).tolist(), says=("expected a torch.Tensor", "returned list"))
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
    rejects("2.1", lambda x: x.clamp(min=0).float(), says=("wrong dtype", "float64"))
    rejects("2.1", lambda x: x.clamp(min=0).flatten()[:1] if x.numel() else x, says=("wrong shape",))
    rejects("2.1", lambda x: torch.nan_to_num(x.clamp(min=0), posinf=1e30), says=("wrong value",))
    rejects("2.1", lambda x: torch.from_numpy(np.maximum(x.numpy(), 0)),
            says=("raised an error",))  # bfloat16 inputs cannot go through NumPy
    rejects("2.1", lambda x: torch.where(x > 0, x, torch.zeros(x.shape, dtype=x.dtype)),
            says=("GPU", "torch.zeros(...) without device=x.device"))
    rejects("2.1", lambda x: torch.tensor(np.maximum(x.detach().double().numpy(), 0)).to(x.dtype),
            says=("GPU", ".numpy()"))
    rejects("2.1", lambda x: x.clamp(min=0).detach(), says=("autograd cannot differentiate",))


# -- 2.2 ReLU' -----------------------------------------------------------------------------------

def test_2_2_accepts_the_reference_and_other_correct_forms():
    passes("2.2", reference_relu_derivative)
    passes("2.2", lambda x: (x > 0).to(x.dtype))
    passes("2.2", lambda x: torch.where(x > 0, 1.0, 0.0).to(x.dtype))
    passes("2.2", lambda x: torch.heaviside(x, torch.tensor(0.0, dtype=x.dtype)))
    passes("2.2", lambda x: torch.sign(torch.relu(x)))        # NaN -> NaN: accepted
    passes("2.2", lambda x: (x > 0).type_as(x))
    passes("2.2", lambda x: torch.where(torch.isnan(x), x, (x > 0).to(x.dtype)))   # NaN stays NaN
    passes("2.2", lambda x: torch.where(torch.isnan(x), 1.0, (x > 0).double()).to(x.dtype))


def autograd_derivative(x):
    t = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.relu(t).sum(), t)
    return g


def backward_derivative(x):
    t = x.detach().clone().requires_grad_(True)
    torch.relu(t).sum().backward()
    return t.grad


def test_2_2_rejects_autograd_as_the_text_says():
    rejects("2.2", autograd_derivative, says=("used autograd", "rules out"))
    rejects("2.2", backward_derivative, says=("used autograd",))


def test_2_2_stub_is_not_attempted():
    not_attempted("2.2", stub("2.2"))


def test_2_2_rejects_the_other_convention_at_zero():
    rejects("2.2", lambda x: (x >= 0).to(x.dtype), says=("wrong value", "x > 0, not x >= 0"))
    msg = rejects("2.2", lambda x: (x > 1e-20).to(x.dtype), says=("wrong value",))
    assert "x >= 0" not in msg   # wrong at 1e-30, not at 0: the hint must not blame the value at 0
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




# -- 2.4 ReLU'(0) by form -------------------------------------------------------------------------

def measure_grad(f):
    x = torch.tensor(0.0, requires_grad=True)
    (g,) = torch.autograd.grad(f(x), x)
    return g.item()


def measure_backward(f):
    x = torch.zeros(1, requires_grad=True)
    f(x).sum().backward()
    return x.grad            # a one-element tensor


def measure_float64(f):
    x = torch.zeros((), dtype=torch.float64, requires_grad=True)
    return float(torch.autograd.grad(f(x), x)[0])


RIGHT = {"relu": 0.0, "clamp": 1.0, "maximum": 0.5, "where": 1.0, "average": 0.5, "mask": 0.0}


def test_2_4_accepts_the_reference_and_other_correct_forms():
    predictions = lambda: dict(RIGHT)
    passes("2.4", reference_derivative_at_zero, predictions)
    passes("2.4", measure_grad, predictions)
    passes("2.4", lambda f: measure_backward(f).item(), predictions)
    passes("2.4", measure_float64, lambda: {k: int(v) if v in (0.0, 1.0) else v for k, v in RIGHT.items()})
    passes("2.4", measure_grad, lambda: {k: measure_grad(f) for k, f in RELU_FORMS.items()})


def test_2_4_stub_is_not_attempted():
    not_attempted("2.4", stub("2.4"), lambda: dict(RIGHT))
    not_attempted("2.4", measure_grad, stub("2.4"))


def test_2_4_rejects_wrong_measurements():
    def central(f):
        h = 1e-3
        return (float(f(torch.tensor(h))) - float(f(torch.tensor(-h)))) / (2 * h)
    rejects("2.4", central, lambda: dict(RIGHT), says=("wrong value", "finite difference"))

    def one_sided(f):
        h = 1e-4
        return (float(f(torch.tensor(h))) - float(f(torch.tensor(0.0)))) / h
    rejects("2.4", one_sided, lambda: dict(RIGHT), says=("wrong value",))

    def at_one(f):
        x = torch.tensor(1.0, requires_grad=True)
        return torch.autograd.grad(f(x), x)[0].item()
    rejects("2.4", at_one, lambda: dict(RIGHT), says=("wrong value",))
    rejects("2.4", lambda f: "0.5", lambda: dict(RIGHT), says=("expected a number", "str"))
    rejects("2.4", lambda f: measure_grad(f) > 0, lambda: dict(RIGHT), says=("expected a number", "bool"))
    rejects("2.4", raises, lambda: dict(RIGHT), says=("raised an error",))
    rejects("2.4", forever, lambda: dict(RIGHT), says=("did not finish within 2 s",))


def test_2_4_rejects_wrong_predictions():
    all_zero = {k: 0.0 for k in RIGHT}
    rejects("2.4", measure_grad, lambda: all_zero, says=("predictions['clamp']", "at x = 0", "Bertoin"))
    rejects("2.4", measure_grad, lambda: {**RIGHT, "maximum": 0.0}, says=("splits the gradient",))
    rejects("2.4", measure_grad, lambda: {**RIGHT, "average": 1.0}, says=("|x|", "0.5"))
    rejects("2.4", measure_grad, lambda: {**RIGHT, "mask": float("nan")}, says=("wrong value",))
    rejects("2.4", measure_grad, lambda: {k: v for k, v in RIGHT.items() if k != "where"},
            says=("exactly the keys", "missing: ['where']"))
    rejects("2.4", measure_grad, lambda: [0.0, 1.0, 0.5, 1.0, 0.5, 0.0], says=("must be a dict", "list"))
    rejects("2.4", measure_grad, lambda: {**RIGHT, "relu": "zero"}, says=("expected a number", "str"))
    rejects("2.4", measure_grad, dict(RIGHT), says=("expected a function `predictions`", "dict"))


# -- 2.5 the sawtooth -------------------------------------------------------------------------------

def tent_net(depth=4, width_pad=0):
    widths = [2] * depth
    layers = []
    fan_in = 1
    for w in widths:
        layers += [nn.Linear(fan_in, w), nn.ReLU()]
        fan_in = w
    layers.append(nn.Linear(fan_in, 1))
    net = nn.Sequential(*layers)
    tent = torch.tensor([[2.0, -4.0]])
    with torch.no_grad():
        for i, lin in enumerate(net[::2]):
            if lin.out_features == 1:
                lin.weight.copy_(tent)
                lin.bias.zero_()
            else:
                lin.weight.copy_(torch.ones(2, 1) if i == 0 else tent.repeat(2, 1))
                lin.bias.copy_(torch.tensor([0.0, -0.5]))
    return net


def flipped_tents():
    """Tents written as 4 relu(u - 0.5) - 2 relu(u) + 1 (the mirror image): also 16 pieces."""
    net = tent_net()
    with torch.no_grad():
        net[-1].weight.mul_(-1)
        net[-1].bias.fill_(1.0)
    return net


def float64_tents():
    return tent_net().double()


def test_2_5_counts_pieces_exactly():
    assert reference_count_pieces(tent_net(4)) == 16
    assert reference_count_pieces(tent_net(2)) == 4
    assert reference_count_pieces(nn.Sequential(nn.Linear(1, 1))) == 1


def test_2_5_accepts_the_reference_and_other_correct_forms():
    passes("2.5", tent_net)
    passes("2.5", flipped_tents)
    passes("2.5", float64_tents)


def test_2_5_stub_is_not_attempted():
    not_attempted("2.5", stub("2.5"))


def test_2_5_rejects_designs_that_break_the_rules_or_fall_short():
    from relucourse.train import mlp
    rejects("2.5", lambda: tent_net(3), says=("too few linear pieces", "Got:      8 pieces"))
    rejects("2.5", lambda: tent_net(5), says=("breaks the design rules", "5 hidden layers"))
    rejects("2.5", lambda: mlp([1, 8, 1]), says=("breaks the design rules", "[8]"))
    rejects("2.5", lambda: mlp([1, 2, 2, 2, 2, 1]), says=("too few linear pieces", "fold"))
    rejects("2.5", lambda: nn.Sequential(nn.Linear(1, 2), nn.Tanh(), nn.Linear(2, 1)),
            says=("should be nn.ReLU()",))
    rejects("2.5", lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)),
            says=("1 input to 1 output",))
    rejects("2.5", lambda: tent_net()[:-1], says=("alternate nn.Linear and nn.ReLU",))
    rejects("2.5", lambda: [tent_net()], says=("not an nn.Sequential",))

    def nan_net():
        net = tent_net()
        with torch.no_grad():
            net[0].bias.fill_(float("nan"))
        return net
    rejects("2.5", nan_net, says=("NaN or infinite",))
    rejects("2.5", raises, says=("raised an error",))
    rejects("2.5", forever, says=("did not finish within 2 s",))


# -- every stated rule, broken alone (tests/unit/test_rules.py counts these) ----------------------

from rulebook import breaks_rule, rejects_in_time, slow  # noqa: E402


def good_relu(x):
    return torch.where(x > 0, x, 0)


def good_derivative(x):
    return (x > 0).to(x.dtype)


def good_softplus(x):
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))


def _then_zero_x(fn):
    def answer(x):
        out = fn(x)
        with torch.no_grad():
            x.zero_()
        return out
    return answer


@breaks_rule("2.1", "value")
def test_rule_2_1_value():
    rejects("2.1", lambda x: torch.where(x > 1, x, 0), says=("wrong value",))


@breaks_rule("2.1", "no-builtin")
def test_rule_2_1_no_builtin():
    rejects("2.1", lambda x: torch.ops.aten.relu.default(x), says=("built-in ReLU", "torch.ops.aten.relu"))


@breaks_rule("2.1", "shape-dtype")
def test_rule_2_1_shape_dtype():
    rejects("2.1", lambda x: good_relu(x).to(torch.float32), says=("wrong dtype", "float64"))


@breaks_rule("2.1", "device")
def test_rule_2_1_device():
    rejects("2.1", lambda x: torch.maximum(x, torch.zeros(x.shape, dtype=x.dtype)),
            says=("keep a GPU tensor on the GPU", "torch.zeros(...) without device=x.device"))


@breaks_rule("2.1", "inf-nan")
def test_rule_2_1_inf_nan():
    rejects("2.1", lambda x: x * (x > 0), says=("wrong value", "-inf * 0 = nan"))


@breaks_rule("2.1", "no-inplace")
def test_rule_2_1_no_inplace():
    rejects("2.1", _then_zero_x(good_relu), says=("modified its input in place",))


@breaks_rule("2.1", "autograd")
def test_rule_2_1_autograd():
    rejects("2.1", lambda x: good_relu(x).detach(), says=("autograd cannot differentiate",))


@breaks_rule("2.1", "time-limit")
def test_rule_2_1_time_limit():
    rejects_in_time("2.1", slow(good_relu))


@breaks_rule("2.2", "value")
def test_rule_2_2_value():
    rejects("2.2", lambda x: (x >= 0).to(x.dtype), says=("wrong value", "use x > 0, not x >= 0"))


@breaks_rule("2.2", "no-autograd")
def test_rule_2_2_no_autograd():
    def by_autograd(x):
        t = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(good_relu(t).sum(), t)
        return g
    rejects("2.2", by_autograd, says=("used autograd",))


@breaks_rule("2.2", "shape-dtype")
def test_rule_2_2_shape_dtype():
    rejects("2.2", lambda x: x > 0, says=("wrong dtype", "torch.bool"))


@breaks_rule("2.2", "device")
def test_rule_2_2_device():
    rejects("2.2", lambda x: torch.tensor((x > 0).tolist(), dtype=x.dtype),
            says=("keep a GPU tensor on the GPU", ".tolist()"))


@breaks_rule("2.2", "nan")
def test_rule_2_2_nan():
    rejects("2.2", lambda x: torch.where(torch.isnan(x), 0.5, good_derivative(x)), says=("wrong value",))


@breaks_rule("2.2", "no-inplace")
def test_rule_2_2_no_inplace():
    rejects("2.2", _then_zero_x(good_derivative), says=("modified its input in place",))


@breaks_rule("2.2", "time-limit")
def test_rule_2_2_time_limit():
    rejects_in_time("2.2", slow(good_derivative))


@breaks_rule("2.3", "value")
def test_rule_2_3_value():
    rejects("2.3", lambda x: good_softplus(x) * 1.01, says=("wrong value",))


@breaks_rule("2.3", "no-overflow")
def test_rule_2_3_no_overflow():
    rejects("2.3", lambda x: torch.log1p(torch.exp(x)), says=("wrong value", "overflows"))


@breaks_rule("2.3", "tiny")
def test_rule_2_3_tiny():
    rejects("2.3", lambda x: torch.clamp(x, min=0) + torch.log(1 + torch.exp(-x.abs())),
            says=("wrong value", "tiny, but not 0", "log1p"))


@breaks_rule("2.3", "inf-nan")
def test_rule_2_3_inf_nan():
    rejects("2.3", lambda x: torch.where(torch.isnan(x), 0.0, good_softplus(x)), says=("wrong value", "nan"))


@breaks_rule("2.3", "shape-dtype")
def test_rule_2_3_shape_dtype():
    rejects("2.3", lambda x: good_softplus(x.double()), says=("wrong dtype",))


@breaks_rule("2.3", "device")
def test_rule_2_3_device():
    rejects("2.3", lambda x: torch.maximum(x, torch.zeros(x.shape, dtype=x.dtype)) + torch.log1p(torch.exp(-x.abs())),
            says=("keep a GPU tensor on the GPU",))


@breaks_rule("2.3", "no-inplace")
def test_rule_2_3_no_inplace():
    rejects("2.3", _then_zero_x(good_softplus), says=("modified its input in place",))


@breaks_rule("2.3", "time-limit")
def test_rule_2_3_time_limit():
    rejects_in_time("2.3", slow(good_softplus))


@breaks_rule("2.4", "float")
def test_rule_2_4_float():
    rejects("2.4", measure_backward, lambda: dict(RIGHT), says=("expected a Python float", ".item()"))


@breaks_rule("2.4", "measure")
def test_rule_2_4_measure():
    def central(f):
        return (float(f(torch.tensor(1e-3))) - float(f(torch.tensor(-1e-3)))) / 2e-3
    rejects("2.4", central, lambda: dict(RIGHT), says=("wrong value", "finite difference"))


@breaks_rule("2.4", "predictions-keys")
def test_rule_2_4_predictions_keys():
    rejects("2.4", measure_grad, lambda: {k: v for k, v in RIGHT.items() if k != "mask"},
            says=("exactly the keys of RELU_FORMS", "missing: ['mask']"))


@breaks_rule("2.4", "predictions-value")
def test_rule_2_4_predictions_value():
    rejects("2.4", measure_grad, lambda: {**RIGHT, "clamp": 0.0}, says=("predictions['clamp']", "x >= min"))


@breaks_rule("2.4", "time-limit")
def test_rule_2_4_time_limit():
    rejects_in_time("2.4", slow(measure_grad), lambda: dict(RIGHT))


def test_2_4_accepts_exact_numbers():
    from fractions import Fraction
    passes("2.4", measure_grad, lambda: {k: Fraction(v).limit_denominator() for k, v in RIGHT.items()})


@breaks_rule("2.5", "architecture")
def test_rule_2_5_architecture():
    rejects("2.5", lambda: nn.Sequential(*[nn.LeakyReLU(0.0) if isinstance(m, nn.ReLU) else m for m in tent_net()]),
            says=("should be nn.ReLU()",))


@breaks_rule("2.5", "in-out")
def test_rule_2_5_in_out():
    def two_inputs():
        net = tent_net()
        net[0] = nn.Linear(2, 2)
        return net
    rejects("2.5", two_inputs, says=("1 input to 1 output",))


@breaks_rule("2.5", "size")
def test_rule_2_5_size():
    rejects("2.5", lambda: tent_net(5), says=("5 hidden layers",))


@breaks_rule("2.5", "pieces")
def test_rule_2_5_pieces():
    rejects("2.5", lambda: tent_net(3), says=("too few linear pieces",))


@breaks_rule("2.5", "piece-length")
def test_rule_2_5_piece_length():
    def stretched():  # the 16 tents end at x = 1 / 1.0005: the last piece is 0.0005 long
        net = tent_net()
        with torch.no_grad():
            net[0].weight.mul_(1.0005)
        return net
    rejects("2.5", stretched, says=("shorter than 1/1000", "0.0005"))


@breaks_rule("2.5", "time-limit")
def test_rule_2_5_time_limit():
    rejects_in_time("2.5", slow(tent_net))


def test_2_x_accepts_correct_answers_that_warn_where_the_statement_allows_warnings():
    """Chapter 2's statements do not forbid warnings: a RuntimeWarning from a correct call is no failure."""
    import warnings

    def warns(fn):
        def answer(*args):
            warnings.warn("a library said something", RuntimeWarning)
            return fn(*args)
        return answer
    passes("2.1", warns(good_relu))
    passes("2.3", warns(good_softplus))
    passes("2.4", warns(measure_grad), warns(lambda: dict(RIGHT)))
