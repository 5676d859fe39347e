"""Checks for chapter 2: the origin of ReLU (ReLU, its derivative, softplus, Nair & Hinton's sum, regions)."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from . import exercise
from .core import Checker, describe

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


def reference_derivative_at_zero(f) -> float:
    """What autograd says f'(0) is, for a function f of a float32 tensor."""
    x = torch.zeros((), requires_grad=True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return float(grad)


def reference_kinks(net: nn.Module, lo: float = 0.0, hi: float = 1.0, samples: int = 2**16 + 1) -> list[float]:
    """Where the slope of a 1-d -> 1-d net changes on [lo, hi], each kink placed at the middle of its run.

    Evaluated in float64 on a dyadic grid; a kink strictly inside a grid interval changes the
    slope twice in a row, so runs of adjacent changes count once.
    """
    import copy

    net64 = copy.deepcopy(net).double()
    x = torch.linspace(lo, hi, samples, dtype=torch.float64)[:, None]
    with torch.no_grad():
        y = net64(x)[:, 0]
    slope = torch.diff(y) / torch.diff(x[:, 0])
    scale = slope.abs().max().item() if slope.numel() else 0.0
    change = (torch.diff(slope).abs() > 1e-7 * scale + 1e-9).tolist()
    grid = x[:, 0].tolist()
    kinks, start = [], None
    for i, c in enumerate(change + [False]):
        if c and start is None:
            start = i
        elif not c and start is not None:
            kinks.append((grid[start + 1] + grid[i]) / 2)  # change i sits at grid point i + 1
            start = None
    return kinks


def reference_count_pieces(net: nn.Module, lo: float = 0.0, hi: float = 1.0, samples: int = 2**16 + 1) -> int:
    """Linear pieces of a 1-d -> 1-d net on [lo, hi]: 1 + the number of places where its slope changes.
    Pieces must be longer than a few grid steps (the exercise promises 1/1000 of the interval)."""
    return len(reference_kinks(net, lo, hi, samples)) + 1


def piece_lengths(net: nn.Module, lo: float = 0.0, hi: float = 1.0) -> list[float]:
    edges = [lo, *reference_kinks(net, lo, hi), hi]
    return [b - a for a, b in zip(edges[:-1], edges[1:])]


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------

DEVICE_HINT = ("use tensor operations on x only (torch.where, clamp, maximum, comparisons, *_like "
               "factories...): no .numpy(), .tolist(), .cpu(), and no new tensors without device=x.device.")

#: Factories that put a new tensor on the default device unless they are given device=...
_FACTORIES = {"tensor", "as_tensor", "zeros", "ones", "full", "empty", "arange", "linspace", "rand", "randn"}
#: Methods that take data off the input's device.
_OFF_DEVICE = {"numpy", "tolist", "cpu", "item"}


def _check_device(c: Checker, fn, name: str, **watch) -> None:
    """The function must keep x's device: checked by watching what it calls on a CPU tensor."""
    x = torch.tensor([[-1.5, 0.0, 2.0], [3.0, -0.5, 1.0]])
    desc = (f"{name}(torch.tensor([[-1.5, 0.0, 2.0], [3.0, -0.5, 1.0]])), watching for operations that "
            "would move data off a GPU")
    spy = _Spy(set(watch.get("forbid", ())), watch_device=True)
    c.call(_watched(fn, spy), x, allow_warnings=True, desc=desc, hint=DEVICE_HINT)
    c.expect(not spy.device_problems, "your code would not keep a GPU tensor on the GPU.", tried=desc,
             got=f"it calls {spy.device_problems[0] if spy.device_problems else ''}", hint=DEVICE_HINT)


class _Spy(TorchFunctionMode):
    """Records calls to the named torch functions (torch.relu, F.relu, x.relu(), nn.ReLU, ...)."""

    def __init__(self, names: set[str], watch_device: bool = False):
        super().__init__()
        self.names, self.used = names, []
        self.watch_device, self.device_problems = watch_device, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "").split(".")[0]  # torch.ops.aten.relu.default: "relu.default"
        if name in self.names and name not in self.used:
            self.used.append(name)
        result = func(*args, **kwargs)
        if self.watch_device:
            if name in _OFF_DEVICE:
                self.device_problems.append(f".{name}()")
            elif (name in _FACTORIES and kwargs.get("device") is None and isinstance(result, torch.Tensor)
                  and result.dim() > 0):
                self.device_problems.append(f"torch.{name}(...) without device=x.device")
        return result


@contextlib.contextmanager
def _no_backward():
    """Record (and still run) every autograd backward pass: torch.autograd.grad and .backward()."""
    import torch.autograd as ag

    calls: list[str] = []
    original = getattr(ag, "_engine_run_backward", None)
    if original is None:  # another PyTorch version: nothing to watch
        yield calls
        return

    def spy(*args, **kwargs):
        calls.append("backward")
        return original(*args, **kwargs)

    ag._engine_run_backward = spy
    try:
        yield calls
    finally:
        ag._engine_run_backward = original


def _watched(fn, spy: "_Spy", backward_calls: list | None = None):
    """fn, run under the spy (and recording autograd backward passes into backward_calls)."""
    def run(x):
        with _no_backward() as calls, spy:
            try:
                return fn(x)
            finally:
                if backward_calls is not None:
                    backward_calls.extend(calls)
    return run


def _call_without(c: Checker, fn, x, *, desc: str, hint: str, forbid: set[str] = frozenset(),
                  autograd: bool = True):
    """Call fn(x) while watching for forbidden functions and (if not allowed) autograd."""
    spy = _Spy(set(forbid))
    backward_calls: list[str] = []
    out = c.call(_watched(fn, spy, backward_calls), x, allow_warnings=True, desc=desc, hint=hint)
    if spy.used:
        c.fail(f"your code called a built-in ReLU ({spy.used[0]}; torch.relu, F.relu, x.relu(), "
               "nn.ReLU and torch.ops.aten.relu all run it), which this exercise rules out.", tried=desc,
               hint="build it from comparisons and selections (torch.where, clamp, maximum, ...).")
    if backward_calls and not autograd:
        c.fail("your code used autograd (torch.autograd.grad or .backward()), which this exercise "
               "rules out.", tried=desc,
               hint="compute the derivative from x directly, e.g. with a comparison.")
    return out


def _nan_may_be(got, x: torch.Tensor, expected: torch.Tensor, allowed: tuple[float, ...]) -> torch.Tensor:
    """Where x is NaN, accept NaN or any of ``allowed`` in place of the expected value."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.device != expected.device:
        return expected
    if not (expected.is_floating_point() and got.dtype == expected.dtype):
        return expected
    g = got.detach()
    ok = torch.isnan(g)
    for v in allowed:
        ok |= g == v
    return torch.where(torch.isnan(x) & ok, g, expected)


# --------------------------------------------------------------------------------------------
# 2.1 ReLU from scratch
# --------------------------------------------------------------------------------------------

RELU_HINT = "ReLU(x) = max(0, x) elementwise: e.g. torch.where(x > 0, x, 0) or x.clamp(min=0)."
RELU_NAMES = {"relu", "relu_"}  # torch.relu, F.relu, x.relu(), nn.ReLU, torch.ops.aten.relu, ...


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
        (torch.tensor([-3, 0, 2, -128, 127], dtype=torch.int16),
         "relu(torch.tensor([-3, 0, 2, -128, 127], dtype=torch.int16))"),
        (torch.tensor([-(2**40), -1, 0, 1, 2**40]), "relu(torch.tensor([-2**40, -1, 0, 1, 2**40]))  # int64"),
    ] + _drawn("relu", 21)


def _drawn(fn_name: str, seed: int, dtypes=(torch.float32, torch.float64, torch.bfloat16), count: int = 4):
    """Inputs drawn from a seeded generator: 1 to 3 dimensions of sizes 1 to 6, several dtypes and
    scales, each with an exact 0 and a negative value placed at a drawn position."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        ndim = int(torch.randint(1, 4, (1,), generator=g))
        shape = tuple(int(v) for v in torch.randint(1, 7, (ndim,), generator=g))
        dtype = dtypes[int(torch.randint(len(dtypes), (1,), generator=g))]
        scale = float(10 ** (torch.rand(1, generator=g).item() * 3 - 1))
        x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
        flat = x.view(-1)
        if flat.numel() >= 2:
            i, j = torch.randperm(flat.numel(), generator=g)[:2].tolist()
            flat[i], flat[j] = 0.0, -abs(flat[j].item()) - 0.5
        x = x.to(dtype)
        out.append((x, f"{fn_name}(x) for x of shape {shape}, dtype {str(dtype)[6:]}, values drawn from "
                       f"N(0, {scale:.3g}^2) with an exact 0 at a drawn position (seed {seed})"))
    return out


@exercise("2.1", "ReLU from scratch")
def check_relu(c: Checker, relu) -> None:
    c.require_callable(relu, "relu")
    for x, desc in _relu_cases():
        out = _call_without(c, relu, x, desc=desc, hint=RELU_HINT, forbid=RELU_NAMES)
        expected = _nan_may_be(out, x, reference_relu(x), allowed=(0.0,))
        hint = RELU_HINT
        if x.isinf().any():
            hint = ("ReLU(-inf) is 0 and ReLU(inf) is inf. Note that x * (x > 0) gives -inf * 0 = nan: "
                    "select values (torch.where, clamp) instead of multiplying by a mask.")
        c.expect_array(out, expected, desc=desc, rtol=0, atol=0, hint=hint)
    _check_device(c, relu, "relu", forbid=RELU_NAMES)

    # autograd must be able to differentiate through the result
    x = torch.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)
    desc = "y = relu(torch.tensor([-2.0, -0.5, 0.5, 3.0], requires_grad=True)); y.sum().backward()"
    out = _call_without(c, relu, x, desc=desc, hint=RELU_HINT, forbid=RELU_NAMES)
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


def _deriv_hint(x: torch.Tensor, out) -> str:
    """Say 'the value at 0' only when the result is wrong exactly there."""
    if isinstance(out, torch.Tensor) and out.shape == x.shape and not out.is_meta:
        want = reference_relu_derivative(x)
        try:
            wrong = (out.detach().to(torch.float64) != want.to(torch.float64)) & ~torch.isnan(x)
        except (RuntimeError, TypeError):
            return DERIV_HINT
        if wrong.any() and bool((x[wrong] == 0).all()):
            return ZERO_HINT
    return DERIV_HINT


@exercise("2.2", "ReLU's derivative, with PyTorch's convention at 0")
def check_relu_derivative(c: Checker, relu_derivative) -> None:
    c.require_callable(relu_derivative, "relu_derivative")

    # 1. against autograd on a grid that contains 0
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    t = x.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(torch.relu(t).sum(), t)
    desc = "relu_derivative(torch.linspace(-2, 2, 9, dtype=torch.float64)), compared with PyTorch autograd"
    out = _call_without(c, relu_derivative, x, desc=desc, hint=DERIV_HINT, autograd=False)
    c.expect_array(out, autograd, desc=desc, rtol=0, atol=0, hint=_deriv_hint(x, out))

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
    ] + _drawn("relu_derivative", 22)
    for x, desc in cases:
        out = _call_without(c, relu_derivative, x, desc=desc, hint=DERIV_HINT, autograd=False)
        expected = _nan_may_be(out, x, reference_relu_derivative(x), allowed=(0.0, 1.0))
        c.expect_array(out, expected, desc=desc, rtol=0, atol=0, hint=_deriv_hint(x, out))
    _check_device(c, relu_derivative, "relu_derivative")


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
    for x, desc in _drawn("softplus", 23):
        low = x.dtype == torch.bfloat16
        cases.append((x, desc, 2e-2 if low else 1e-5 if x.dtype == torch.float32 else 1e-10, 1e-30, None))
    for x, desc, rtol, atol, hint in cases:
        out = c.call(softplus, x, allow_warnings=True, desc=desc, hint=hint or SOFTPLUS_HINT)
        c.expect_array(out, reference_softplus(x), desc=desc, rtol=rtol, atol=atol,
                       hint=hint or "softplus(x) = log(1 + e^x), elementwise, in x's dtype.")
    _check_device(c, softplus, "softplus")




# --------------------------------------------------------------------------------------------
# 2.4 Predict, then measure: ReLU'(0) depends on how ReLU is written
# --------------------------------------------------------------------------------------------

#: Six ways to write ReLU; the exercise asks for autograd's derivative of each at x = 0.
RELU_FORMS = {
    "relu": lambda x: torch.relu(x),
    "clamp": lambda x: x.clamp(min=0),
    "maximum": lambda x: torch.maximum(x, torch.zeros_like(x)),
    "where": lambda x: torch.where(x >= 0, x, 0.0),
    "average": lambda x: (x + x.abs()) / 2,
    "mask": lambda x: x * (x > 0),
}

#: Functions the measurement is tried on: (function, how it is shown).
_UNSEEN_FORMS = [
    (lambda x: 3 * x.clamp(min=0), "lambda x: 3 * x.clamp(min=0)"),
    (lambda x: F.leaky_relu(x, 0.1), "lambda x: F.leaky_relu(x, 0.1)"),
    (F.softplus, "F.softplus"),
    (lambda x: torch.where(x > 0, x, -2 * x), "lambda x: torch.where(x > 0, x, -2 * x)"),
    (lambda x: x * x + x - 1, "lambda x: x * x + x - 1  # smooth: f'(0) = 1"),
    (lambda x: torch.sin(3 * x), "lambda x: torch.sin(3 * x)  # f'(0) = 3"),
    (lambda x: F.hardtanh(x, 0.0, 6.0), "lambda x: F.hardtanh(x, 0.0, 6.0)  # ReLU6"),
]

FORM_EXPLANATIONS = {
    "relu": "torch.relu's backward passes the gradient only where the output is > 0: 0 at x = 0.",
    "clamp": "clamp(min=0) passes the gradient where x >= min, so at x = 0 it is 1 (Bertoin et al. 2021).",
    "maximum": "torch.maximum splits the gradient equally between tied inputs: 0.5 at x = 0.",
    "where": "torch.where(x >= 0, x, 0.0) selects x itself at x = 0, so the gradient is 1.",
    "average": "d|x|/dx is 0 at x = 0 in PyTorch, so (x + |x|)/2 has derivative (1 + 0)/2 = 0.5.",
    "mask": "d/dx [x * (x > 0)] = (x > 0) + x * 0 (a comparison has no gradient): 0 at x = 0.",
}

MEASURE_HINT = ("make x = torch.tensor(0.0, requires_grad=True), compute y = f(x), take "
                "torch.autograd.grad(y, x) (or y.backward() and x.grad) and return it as a float.")


@exercise("2.4", "Predict, then measure: ReLU'(0) depends on how ReLU is written")
def check_derivative_at_zero(c: Checker, derivative_at_zero, predictions) -> None:
    c.require_callable(derivative_at_zero, "derivative_at_zero")
    # 1. the measurement, on functions the learner has not seen
    for f, shown in _UNSEEN_FORMS:
        desc = f"derivative_at_zero({shown})"
        want = reference_derivative_at_zero(f)
        got = c.call(derivative_at_zero, f, allow_warnings=True, desc=desc, hint=MEASURE_HINT)
        if isinstance(got, (torch.Tensor, np.ndarray)):
            c.fail("expected a Python float, but your code returned a " + type(got).__name__ + ".", tried=desc,
                   expected=f"a float: {want!r}", got=describe(got),
                   hint="the statement asks for a float: convert with float(...) or .item()"
                        + (" (your tensor still carries an autograd graph)."
                           if isinstance(got, torch.Tensor) and got.requires_grad else "."))
        hint = MEASURE_HINT
        if isinstance(got, (float, int)) and not isinstance(got, bool) and "smooth" not in shown \
                and "sin" not in shown:
            h = 1e-3
            central = (float(f(torch.tensor(h))) - float(f(torch.tensor(-h)))) / (2 * h)
            if math.isclose(got, central, rel_tol=1e-3, abs_tol=1e-6) and not math.isclose(got, want):
                hint = ("that looks like a finite difference, which averages the slopes on both sides of "
                        "the kink; the exercise asks what autograd returns.")
        c.expect_number(got, want, desc=desc, rtol=1e-6, atol=1e-9, hint=hint)
    # 2. the predictions, against the measurements
    c.require_callable(predictions, "predictions")
    predictions = c.call(predictions, allow_warnings=True, desc="predictions()")
    c.expect(isinstance(predictions, dict), f"predictions must be a dict, but it is {type(predictions).__name__}.",
             tried="predictions()", got=describe(predictions),
             hint="return {'relu': ..., 'clamp': ..., ...}, one number per form in RELU_FORMS.")
    missing = [k for k in RELU_FORMS if k not in predictions]
    extra = [k for k in predictions if k not in RELU_FORMS]
    c.expect(not missing and not extra, "predictions must have exactly the keys of RELU_FORMS.",
             tried="predictions()",
             expected=repr(list(RELU_FORMS)), got=repr(list(predictions)),
             hint=f"missing: {missing}; not a form: {extra}.")
    for name, f in RELU_FORMS.items():
        measured = reference_derivative_at_zero(f)
        c.expect_number(predictions[name], measured,
                        desc=f"predictions[{name!r}], against autograd's derivative of RELU_FORMS[{name!r}] "
                             "at x = 0", rtol=1e-9, atol=1e-12, hint=FORM_EXPLANATIONS[name])


# --------------------------------------------------------------------------------------------
# 2.5 Design: depth buys linear pieces
# --------------------------------------------------------------------------------------------

SAW_MAX_WIDTH, SAW_MAX_HIDDEN, SAW_PIECES, SAW_MIN_PIECE = 2, 4, 16, 1e-3

SAW_HINT = ("a layer of two ReLUs can compute the tent map t(u) = 2 relu(u) - 4 relu(u - 0.5), which "
            "maps [0, 1] onto [0, 1] twice; composing k tents gives 2^k pieces.")


def _saw_structure_problem(net) -> str | None:
    if not isinstance(net, nn.Sequential):
        return f"make_sawtooth() returned {type(net).__name__}, not an nn.Sequential."
    mods = list(net)
    if not mods or len(mods) % 2 == 0:
        return "the net must alternate nn.Linear and nn.ReLU, starting and ending with nn.Linear."
    for i, m in enumerate(mods):
        if i % 2 == 0 and type(m) is not nn.Linear:
            return f"module {i} should be an nn.Linear, got {type(m).__name__}."
        if i % 2 == 1 and type(m) is not nn.ReLU:
            return f"module {i} should be nn.ReLU(), got {type(m).__name__}."
    linears = mods[::2]
    if linears[0].in_features != 1 or linears[-1].out_features != 1:
        return "the net must map 1 input to 1 output."
    for a, b in zip(linears[:-1], linears[1:]):
        if a.out_features != b.in_features:
            return "consecutive nn.Linear layers do not fit together."
    widths = [m.out_features for m in linears[:-1]]
    if len(widths) > SAW_MAX_HIDDEN:
        return f"{len(widths)} hidden layers; at most {SAW_MAX_HIDDEN} are allowed."
    if any(w > SAW_MAX_WIDTH for w in widths):
        return f"hidden widths {widths}; at most {SAW_MAX_WIDTH} units per hidden layer are allowed."
    if any(not torch.isfinite(p).all() for p in net.parameters()):
        return "some weights are NaN or infinite."
    return None


@exercise("2.5", "Design: depth buys linear pieces")
def check_sawtooth(c: Checker, make_sawtooth) -> None:
    c.require_callable(make_sawtooth, "make_sawtooth")
    with torch.random.fork_rng():
        net = c.call(make_sawtooth, allow_warnings=True, desc="make_sawtooth()", hint=SAW_HINT)
    problem = _saw_structure_problem(net)
    c.expect(problem is None, "the network breaks the design rules.", tried="make_sawtooth()", got=problem,
             hint=f"nn.Sequential(nn.Linear(1, w1), nn.ReLU(), ..., nn.Linear(wk, 1)) with at most "
                  f"{SAW_MAX_HIDDEN} hidden layers of at most {SAW_MAX_WIDTH} units.")
    pieces = reference_count_pieces(net)
    hint = SAW_HINT
    if pieces <= 1 + sum(m.out_features for m in list(net)[:-1:2]):
        hint = (f"{pieces} pieces is no more than 1 + the number of ReLUs, which one hidden layer could "
                "also give: make each layer fold the output of the previous one. " + SAW_HINT)
    c.expect(pieces >= SAW_PIECES, "the function has too few linear pieces on [0, 1].",
             tried="count the slope changes of make_sawtooth() on [0, 1] (65,537 points, float64)",
             expected=f"at least {SAW_PIECES} pieces", got=f"{pieces} pieces", hint=hint)
    lengths = piece_lengths(net)
    shortest = min(range(len(lengths)), key=lengths.__getitem__)
    step = 1 / 2**16  # the kinks are located to within a grid step
    c.expect(lengths[shortest] >= SAW_MIN_PIECE - 2 * step, "a linear piece is shorter than 1/1000.",
             tried="measure the pieces of make_sawtooth() on [0, 1] between the slope changes",
             expected=f"every piece at least {SAW_MIN_PIECE:g} long",
             got=f"piece {shortest + 1} of {len(lengths)} is about {lengths[shortest]:.2g} long",
             hint="a kink that sits almost on top of another (or on an end of [0, 1]) makes a piece too short "
                  "to count reliably: place the kinks of each layer well apart.")
