"""Checks for chapter 2: the origin of ReLU (ReLU, its derivative, softplus, Nair & Hinton's sum, regions)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import exercise
from .core import Checker, describe
from relucourse.regions import count_regions_on_segment

INF, NAN = float("inf"), float("nan")


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------

def reference_relu(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)


def reference_relu_derivative(x: torch.Tensor) -> torch.Tensor:
    """1 where x > 0, else 0: what PyTorch's autograd returns for torch.relu (0 at x = 0)."""
    return (x > 0).to(x.dtype)


def reference_softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), computed in float64 and cast back."""
    x64 = x.to(torch.float64)
    out = torch.relu(x64) + torch.log1p(torch.exp(-x64.abs()))
    return out.to(x.dtype)


def stepped_sigmoid_sum(x: torch.Tensor, n: int) -> torch.Tensor:
    """Nair & Hinton's sum of n sigmoid copies with biases shifted by -0.5, -1.5, ..., -(n - 0.5)."""
    shifts = torch.arange(1, n + 1, dtype=x.dtype) - 0.5
    return torch.sigmoid(x[..., None] - shifts).sum(-1)


def reference_stepped_sigmoid_error(n: int, lo: float, hi: float) -> float:
    x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
    return (stepped_sigmoid_sum(x, n) - reference_softplus(x)).abs().max().item()


def reference_count_regions(net: nn.Sequential, a: torch.Tensor, b: torch.Tensor) -> int:
    return count_regions_on_segment(net, a, b, samples=200_001)


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------

META_NOTE = "  # a 'meta' tensor has a shape, dtype and device but no data: it stands in for a GPU tensor"
DEVICE_HINT = ("use tensor operations only (torch.where, clamp, maximum, comparisons...): no .numpy(), "
               ".item(), Python loops or new tensors created without device=x.device.")


def _check_meta(c: Checker, fn, name: str, hint: str) -> None:
    """The result of an elementwise function on a meta tensor keeps shape, dtype and device."""
    _ = torch.empty(1, device="meta") > 0  # the first meta operation loads PyTorch's meta kernels (~1 s)
    x = torch.empty(2, 3, device="meta")
    desc = f"{name}(torch.empty(2, 3, device='meta')){META_NOTE}"
    out = c.call(fn, x, desc=desc, hint=DEVICE_HINT)
    c.expect(isinstance(out, torch.Tensor), f"expected a torch.Tensor, but your code returned {type(out).__name__}.",
             tried=desc, hint=hint)
    c.expect(out.device.type == "meta", "the result is not on the input's device.", tried=desc,
             expected="a tensor on device 'meta'", got=f"a tensor on device '{out.device}'", hint=DEVICE_HINT)
    c.expect(tuple(out.shape) == (2, 3) and out.dtype == torch.float32,
             "the result's shape or dtype differs from the input's.", tried=desc,
             expected="shape (2, 3), dtype torch.float32",
             got=f"shape {tuple(out.shape)}, dtype {out.dtype}", hint=hint)


def _nan_may_be(got, x: torch.Tensor, expected: torch.Tensor, allowed: tuple[float, ...]) -> torch.Tensor:
    """Where x is NaN, accept any of ``allowed`` (or NaN) in place of the expected value."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.device != expected.device:
        return expected
    ok = torch.zeros_like(x, dtype=torch.bool)
    g = got.detach().to(expected.dtype)
    for v in allowed:
        ok |= g == v
    return torch.where(torch.isnan(x) & ok, g, expected)


# --------------------------------------------------------------------------------------------
# 2.1 ReLU from scratch
# --------------------------------------------------------------------------------------------

RELU_HINT = "ReLU(x) = max(0, x) elementwise: e.g. torch.where(x > 0, x, 0) or x.clamp(min=0)."


def _relu_cases():
    g = torch.Generator().manual_seed(2)
    return [
        (torch.linspace(-3, 3, 13), "relu(torch.linspace(-3, 3, 13))"),
        (torch.tensor([0.0, -0.0]), "relu(torch.tensor([0.0, -0.0]))"),
        (torch.tensor([INF, -INF, 5.0, -5.0]), "relu(torch.tensor([inf, -inf, 5.0, -5.0]))"),
        (torch.tensor([NAN, 1.0, -1.0]), "relu(torch.tensor([nan, 1.0, -1.0]))"),
        (torch.zeros(0), "relu(torch.zeros(0))  # an empty tensor"),
        (torch.tensor(-2.5), "relu(torch.tensor(-2.5))  # a 0-d tensor"),
        (torch.randn(4, 5, dtype=torch.float64, generator=g),
         "relu(torch.randn(4, 5, dtype=torch.float64))"),
        (torch.tensor([-1.5, -0.0, 0.0, 0.25, 3.0], dtype=torch.bfloat16),
         "relu(torch.tensor([-1.5, -0.0, 0.0, 0.25, 3.0], dtype=torch.bfloat16))"),
        (torch.randn(3, 100_000, generator=g), "relu(torch.randn(3, 100_000))"),
    ]


@exercise("2.1", "ReLU from scratch")
def check_relu(c: Checker, relu) -> None:
    c.require_callable(relu, "relu")
    for x, desc in _relu_cases():
        out = c.call(relu, x, desc=desc, hint=RELU_HINT)
        expected = _nan_may_be(out, x, reference_relu(x), allowed=(0.0,))
        hint = RELU_HINT
        if x.isinf().any():
            hint = ("ReLU(-inf) is 0 and ReLU(inf) is inf. Note that x * (x > 0) gives -inf * 0 = nan: "
                    "select values (torch.where, clamp) instead of multiplying by a mask.")
        c.expect_array(out, expected, desc=desc, rtol=0, atol=0, hint=hint)
    _check_meta(c, relu, "relu", RELU_HINT)

    # autograd must be able to differentiate through the result
    x = torch.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    desc = "y = relu(torch.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)); y.sum().backward()"
    out = c.call(relu, x, desc=desc, hint=RELU_HINT)
    grad_hint = ("build the result from torch operations on x itself (no .detach(), .numpy(), torch.tensor(...) "
                 "or in-place writes), so that autograd can follow it.")
    c.expect(isinstance(out, torch.Tensor) and out.requires_grad,
             "autograd cannot differentiate through your result (it does not require grad).",
             tried=desc, hint=grad_hint)
    (grad,) = torch.autograd.grad(out.sum(), x)
    c.expect(torch.equal(grad, torch.tensor([0.0, 0.0, 1.0, 1.0])), "autograd gives the wrong gradient.",
             tried=desc, expected="x.grad = tensor([0., 0., 1., 1.])", got=f"x.grad = {describe(grad)}",
             hint=grad_hint)


# --------------------------------------------------------------------------------------------
# 2.2 The derivative, with PyTorch's convention at 0
# --------------------------------------------------------------------------------------------

DERIV_HINT = ("ReLU'(x) is 1 where x > 0 and 0 where x < 0; at exactly 0 PyTorch's autograd returns 0. "
              "Return it in x's dtype, e.g. (x > 0).to(x.dtype).")

ZERO_HINT = "at x = 0 (and -0.0) PyTorch's convention is 0: use x > 0, not x >= 0. " + DERIV_HINT


@exercise("2.2", "ReLU's derivative, with PyTorch's convention at 0")
def check_relu_derivative(c: Checker, relu_derivative) -> None:
    c.require_callable(relu_derivative, "relu_derivative")

    # 1. against autograd on a grid that contains 0
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    t = x.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(torch.relu(t).sum(), t)
    desc = "relu_derivative(torch.linspace(-2, 2, 9, dtype=torch.float64)), compared with PyTorch autograd"
    out = c.call(relu_derivative, x, desc=desc, hint=DERIV_HINT)
    c.expect_array(out, autograd, desc=desc, rtol=0, atol=0, hint=ZERO_HINT)

    # 2. edge cases
    cases = [
        (torch.tensor([0.0, -0.0]), "relu_derivative(torch.tensor([0.0, -0.0]))"),
        (torch.tensor([INF, -INF, 1e-30, -1e-30]), "relu_derivative(torch.tensor([inf, -inf, 1e-30, -1e-30]))"),
        (torch.tensor([NAN, 2.0]), "relu_derivative(torch.tensor([nan, 2.0]))"),
        (torch.zeros(0), "relu_derivative(torch.zeros(0))  # an empty tensor"),
        (torch.tensor(0.0), "relu_derivative(torch.tensor(0.0))  # a 0-d tensor"),
        (torch.tensor([-1.0, 0.0, 1.0], dtype=torch.bfloat16),
         "relu_derivative(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.bfloat16))"),
        (torch.randn(50, 200, generator=torch.Generator().manual_seed(3)),
         "relu_derivative(torch.randn(50, 200))"),
    ]
    for x, desc in cases:
        out = c.call(relu_derivative, x, desc=desc, hint=DERIV_HINT)
        expected = _nan_may_be(out, x, reference_relu_derivative(x), allowed=(0.0, 1.0))
        hint = DERIV_HINT
        if (x == 0).any():
            hint = ZERO_HINT
        c.expect_array(out, expected, desc=desc, rtol=0, atol=0, hint=hint)
    _check_meta(c, relu_derivative, "relu_derivative", DERIV_HINT)


# --------------------------------------------------------------------------------------------
# 2.3 A numerically stable softplus
# --------------------------------------------------------------------------------------------

SOFTPLUS_HINT = ("exp(x) overflows for large x (to inf). Use log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): "
                 "e^{-|x|} lies in (0, 1], and torch.log1p keeps the tiny values accurate.")


@exercise("2.3", "A numerically stable softplus")
def check_softplus(c: Checker, softplus) -> None:
    c.require_callable(softplus, "softplus")
    cases = [  # (input, description, rtol, atol, hint)
        (torch.tensor([0.0, -0.0]), "softplus(torch.tensor([0.0, -0.0]))  # log(2) = 0.693147...", 1e-6, 0.0, None),
        (torch.linspace(-10, 10, 41, dtype=torch.float64),
         "softplus(torch.linspace(-10, 10, 41, dtype=torch.float64))", 1e-12, 0.0, None),
        (torch.tensor([30.0, 100.0, 700.0, 1000.0], dtype=torch.float64),
         "softplus(torch.tensor([30.0, 100.0, 700.0, 1000.0], dtype=torch.float64))", 1e-12, 0.0, SOFTPLUS_HINT),
        (torch.tensor([-40.0, -60.0, -80.0], dtype=torch.float64),
         "softplus(torch.tensor([-40.0, -60.0, -80.0], dtype=torch.float64))  # tiny, but not 0", 1e-10, 0.0,
         "for very negative x, softplus(x) is about e^x, far below float64's resolution near 1: "
         "log(1 + e^x) rounds 1 + e^x to 1 and returns 0. torch.log1p(e^x) keeps it accurate."),
        (torch.tensor([-1000.0, -100.0, -20.0, 20.0, 100.0, 1000.0]),
         "softplus(torch.tensor([-1000.0, -100.0, -20.0, 20.0, 100.0, 1000.0]))  # float32", 1e-5, 1e-40,
         SOFTPLUS_HINT),
        (torch.tensor([INF, -INF, NAN]), "softplus(torch.tensor([inf, -inf, nan]))", 0.0, 0.0,
         "softplus(inf) = inf, softplus(-inf) = 0 and softplus(nan) = nan; avoid inf - inf and 0 * inf."),
        (torch.zeros(0), "softplus(torch.zeros(0))  # an empty tensor", 0.0, 0.0, None),
        (torch.tensor(1.0), "softplus(torch.tensor(1.0))  # a 0-d tensor", 1e-6, 0.0, None),
        (torch.tensor([-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 1000.0], dtype=torch.bfloat16),
         "softplus(torch.tensor([-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 1000.0], dtype=torch.bfloat16))",
         2e-2, 1e-25, SOFTPLUS_HINT),
        (torch.randn(200, 500, generator=torch.Generator().manual_seed(4)) * 30,
         "softplus(30 * torch.randn(200, 500))", 1e-5, 1e-30, SOFTPLUS_HINT),
    ]
    for x, desc, rtol, atol, hint in cases:
        out = c.call(softplus, x, desc=desc, hint=hint or SOFTPLUS_HINT)
        c.expect_array(out, reference_softplus(x), desc=desc, rtol=rtol, atol=atol,
                       hint=hint or "softplus(x) = log(1 + e^x), elementwise, in x's dtype.")
    _check_meta(c, softplus, "softplus", SOFTPLUS_HINT)


# --------------------------------------------------------------------------------------------
# 2.4 Nair & Hinton's sum of shifted sigmoids against softplus
# --------------------------------------------------------------------------------------------

SUM_HINT = ("on x = torch.linspace(lo, hi, 2001, dtype=torch.float64), compute "
            "S(x) = sigmoid(x - 0.5) + sigmoid(x - 1.5) + ... + sigmoid(x - N + 0.5) and return "
            "the largest |S(x) - softplus(x)| as a Python float.")


@exercise("2.4", "How close is the sum of shifted sigmoids to softplus?")
def check_stepped_sigmoid_error(c: Checker, stepped_sigmoid_error) -> None:
    c.require_callable(stepped_sigmoid_error, "stepped_sigmoid_error")
    for n, lo, hi in [(1, -5.0, 5.0), (5, -5.0, 5.0), (10, -5.0, 5.0), (3, -2.0, 2.0), (40, 0.0, 30.0),
                      (1000, -20.0, 50.0), (2, -1.0, -0.5)]:
        desc = f"stepped_sigmoid_error({n}, {lo}, {hi})"
        got = c.call(stepped_sigmoid_error, n, lo, hi, desc=desc, hint=SUM_HINT)
        c.expect_number(got, reference_stepped_sigmoid_error(n, lo, hi), desc=desc, rtol=1e-6, atol=1e-12,
                        hint=SUM_HINT)


# --------------------------------------------------------------------------------------------
# 2.5 Counting linear pieces along a segment
# --------------------------------------------------------------------------------------------

REGIONS_HINT = ("sample the segment finely (e.g. 100,001 points a + t (b - a), t from 0 to 1), compute every "
                "ReLU's activation pattern (pre-activation > 0) at each point, in all hidden layers, and count "
                "1 + the number of times the pattern changes.")


def hidden_nets() -> list[tuple[nn.Sequential, torch.Tensor, torch.Tensor, str]]:
    """The check's nets and segments: (net, a, b, description). Pieces are at least 1/1000 of the segment."""
    cases = []
    with torch.random.fork_rng():  # leave the learner's random state alone
        _build_nets(cases)
    return cases


def _build_nets(cases: list) -> None:
    from relucourse.train import mlp

    torch.manual_seed(20)
    cases.append((mlp([2, 6, 1]), torch.tensor([-3.0, -2.0]), torch.tensor([3.0, 2.5]),
                  "a net 2 -> 6 -> ReLU -> 1 (one hidden layer)"))
    torch.manual_seed(23)
    cases.append((mlp([2, 8, 8, 1]), torch.tensor([-3.0, 3.0]), torch.tensor([3.0, -3.0]),
                  "a net 2 -> 8 -> ReLU -> 8 -> ReLU -> 1 (two hidden layers)"))
    torch.manual_seed(44)
    cases.append((mlp([2, 10, 10, 10, 1]), torch.tensor([-4.0, -1.0]), torch.tensor([4.0, 1.5]),
                  "a net 2 -> 10 -> ReLU -> 10 -> ReLU -> 10 -> ReLU -> 1 (three hidden layers)"))
    torch.manual_seed(25)
    cases.append((mlp([1, 7, 5, 1]), torch.tensor([-3.0]), torch.tensor([3.0]),
                  "a net with a 1-d input, 1 -> 7 -> ReLU -> 5 -> ReLU -> 1"))
    torch.manual_seed(24)
    net = mlp([2, 4, 1])
    with torch.no_grad():  # every unit active on the whole segment: one affine piece
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]]))
        net[0].bias.copy_(torch.tensor([10.0, 10.0, 10.0, 10.0]))
    cases.append((net, torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0]),
                  "a net 2 -> 4 -> ReLU -> 1 whose units are all active on the segment"))


@exercise("2.5", "Counting linear pieces along a segment")
def check_count_regions(c: Checker, count_regions) -> None:
    c.require_callable(count_regions, "count_regions")
    for net, a, b, what in hidden_nets():
        desc = f"count_regions(net, a={describe(a)}, b={describe(b)}) for {what}"
        got = c.call(count_regions, net, a, b, desc=desc, hint=REGIONS_HINT)
        expected = reference_count_regions(net, a, b)
        if isinstance(got, float) and not math.isfinite(got):
            c.fail("expected a whole number of pieces.", tried=desc, expected=str(expected), got=repr(got),
                   hint=REGIONS_HINT)
        c.expect_number(got, expected, desc=desc, rtol=0, atol=0, hint=REGIONS_HINT)
