"""Checks for chapter 5: ReLU's variants."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import exercise
from .core import Checker, describe, type_name
from relucourse import variants

# --------------------------------------------------------------------------------------------
# 5.1 Predict, then measure: whose mean output is closest to zero?
# --------------------------------------------------------------------------------------------

MEAN_TOL = 5e-3
MEAN_HINT = ("estimate E[f(z)] for z ~ N(0, 1): average f over a large standard-normal sample "
             "(a million values or more, e.g. torch.randn(10**6)), or integrate "
             "f(z) * exp(-z**2 / 2) / sqrt(2 pi) numerically over [-10, 10].")


def reference_mean_on_normal(fn) -> float:
    return variants.normal_expectation(fn, points=20_001)


def reference_closest_to_zero(functions: dict) -> str:
    means = {name: abs(reference_mean_on_normal(fn)) for name, fn in functions.items()}
    return min(means, key=means.get)


def _mean_cases():
    return [
        ("relu", F.relu), ("tanh", torch.tanh), ("elu", F.elu), ("softplus", F.softplus),
        ("a shifted ReLU, max(0, z) - 0.4", lambda z: F.relu(z) - 0.4),
        ("a constant 2.5 (returned as a tensor of z's shape)", lambda z: torch.full_like(z, 2.5)),
        ("sigmoid(z) - 0.5", lambda z: torch.sigmoid(z) - 0.5),
    ]


def _closest_cases():
    shifted = {"relu": F.relu, "relu minus 0.3": lambda z: F.relu(z) - 0.3,
               "relu minus 0.45": lambda z: F.relu(z) - 0.45, "elu": F.elu,
               "relu minus 0.7": lambda z: F.relu(z) - 0.7}
    return [
        ({"relu": F.relu, "leaky_relu": F.leaky_relu, "elu": F.elu, "selu": F.selu, "gelu": F.gelu,
          "silu": F.silu, "softplus": F.softplus}, "seven of the chapter's variants"),
        (shifted, "shifted ReLUs, where the closest mean is negative"),
        ({"softplus": F.softplus, "gelu": F.gelu}, "two functions"),
        ({"only": torch.tanh}, "a single function"),
    ]


@exercise("5.1", "Predict, then measure: which mean output is closest to zero?", time_limit_s=20.0)
def check_closest_to_zero(c: Checker, mean_on_normal, closest_to_zero) -> None:
    c.require_callable(mean_on_normal, "mean_on_normal")
    c.require_callable(closest_to_zero, "closest_to_zero")
    for what, fn in _mean_cases():
        desc = f"mean_on_normal(f) with f = {what}"
        expected = reference_mean_on_normal(fn)
        got = c.call(mean_on_normal, fn, desc=desc, hint=MEAN_HINT)
        hint = MEAN_HINT
        if isinstance(got, (float, int)) and not isinstance(got, bool) and what == "relu":
            if math.isclose(got, 0.5, abs_tol=MEAN_TOL):
                hint = "0.5 is E[z] for a uniform z in [0, 1]: sample with torch.randn, not torch.rand."
        c.expect_number(got, expected, desc=desc, rtol=0, atol=MEAN_TOL,
                        hint=f"within {MEAN_TOL} of E[f(z)]; " + hint)
    for functions, what in _closest_cases():
        desc = f"closest_to_zero(functions) with {what}: {sorted(functions)}"
        expected = reference_closest_to_zero(functions)
        got = c.call(closest_to_zero, dict(functions), desc=desc)
        hint = "return the NAME (a key of the dict) whose mean output is closest to 0 in absolute value."
        if isinstance(got, str) and got in functions:
            means = {n: reference_mean_on_normal(f) for n, f in functions.items()}
            if got == min(means, key=means.get) and got != expected:
                hint = "closest to zero means the smallest |mean|, not the smallest (most negative) mean."
        c.expect(isinstance(got, str) and got == expected, "wrong answer.", tried=desc,
                 expected=repr(expected), got=describe(got), hint=hint)


# --------------------------------------------------------------------------------------------
# 5.2 PReLU slopes from a trained model
# --------------------------------------------------------------------------------------------

SLOPES_HINT = ("visit model.modules(), keep the nn.PReLU ones, and return for each the mean of its "
               "`weight` (its slopes) as a float, e.g. m.weight.detach().mean().item().")


class _Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.left = nn.Sequential(nn.Linear(4, 6), nn.PReLU(6, init=0.1))
        self.right = nn.Linear(4, 6)
        self.act = nn.PReLU(init=-0.2)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.left(x) + self.act(self.right(x)))


def _slope_models():
    cases = []
    with torch.random.fork_rng():
        torch.manual_seed(5)
        m = nn.Sequential(nn.Linear(3, 5), nn.PReLU(), nn.Linear(5, 5), nn.PReLU(5), nn.Linear(5, 1))
        with torch.no_grad():
            m[3].weight.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.75]))
        cases.append((m, "Linear, PReLU() (one shared slope, 0.25), Linear, PReLU(5) with slopes "
                         "0.1 0.2 0.3 0.4 0.75, Linear"))
        cases.append((_Branches(), "a custom module with a PReLU inside a nested Sequential "
                                   "(slopes 0.1) and one as an attribute (slope -0.2)"))
        shared = nn.PReLU(init=0.6)
        cases.append((nn.Sequential(nn.Linear(2, 2), shared, nn.Linear(2, 2), shared),
                      "the same nn.PReLU module (slope 0.6) used twice: one module, one entry"))
        cases.append((nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.LeakyReLU(0.2), nn.Linear(3, 1)),
                      "ReLU and LeakyReLU, but no PReLU"))
        conv = variants.DigitsCNN(lambda ch: nn.PReLU(ch, init=0.25))
        with torch.no_grad():
            for i, p in enumerate(m for m in conv.modules() if isinstance(m, nn.PReLU)):
                p.weight.copy_(torch.linspace(0.05 * (i + 1), 0.5 + i, p.weight.numel()))
        cases.append((conv, "the chapter's DigitsCNN with channel-wise slopes spread over ranges"))
    return cases


def _numbers(value):
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                v = v.item()
            if isinstance(v, np.ndarray) and v.size == 1:
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                return None
            out.append(float(v))
        return out
    return None


@exercise("5.2", "PReLU slopes from a model")
def check_prelu_slopes(c: Checker, prelu_slopes) -> None:
    c.require_callable(prelu_slopes, "prelu_slopes")
    for model, story in _slope_models():
        desc = f"prelu_slopes(model) for {story}"
        expected = variants.prelu_slopes(model)
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        got = c.call(prelu_slopes, model, desc=desc, hint=SLOPES_HINT)
        c.expect(all(torch.equal(before[k], v) for k, v in model.state_dict().items()),
                 "your code changed the model's parameters.", tried=desc,
                 hint="only read the slopes; do not train, clamp or modify them.")
        values = _numbers(got)
        if values is None:
            c.fail(f"expected a list of numbers, one per nn.PReLU, but your code returned {type_name(got)}.",
                   tried=desc, expected=repr([round(v, 4) for v in expected]), got=describe(got),
                   hint=SLOPES_HINT)
        hint = SLOPES_HINT
        if len(values) != len(expected):
            if "twice" in story and len(values) == 2:
                hint = ("model.modules() yields a shared module once; walking the children of an "
                        "nn.Sequential by index counts it twice.")
            elif "custom" in story:
                hint = "use model.modules(), which also finds modules nested inside other modules."
            c.fail("the list has the wrong length.", tried=desc,
                   expected=f"{len(expected)} values, one per nn.PReLU module",
                   got=f"{len(values)} values: {describe(got)}", hint=hint)
        if not all(math.isclose(g, e, rel_tol=1e-6, abs_tol=1e-7) for g, e in zip(values, expected)):
            if "channel-wise" in story or "0.75" in story:
                hint = "a channel-wise PReLU holds one slope per channel: return their mean."
            c.fail("wrong slopes.", tried=desc, expected=repr([round(v, 6) for v in expected]),
                   got=repr([round(v, 6) for v in values]), hint=hint)
        c.ok()


# --------------------------------------------------------------------------------------------
# 5.3 ELU and Mish with correct autograd
# --------------------------------------------------------------------------------------------

FORBIDDEN = ["elu", "celu", "selu", "mish"]


@contextlib.contextmanager
def _forbid_builtins():
    """Make PyTorch's own ELU/Mish raise while the learner's code runs."""
    saved = []

    def blocker(name):
        def fn(*args, **kwargs):
            raise RuntimeError(f"{name} is not allowed in this exercise: build it from tensor operations")
        return fn

    targets = [(F, n) for n in FORBIDDEN] + [(torch, n) for n in ("selu", "celu")] + \
              [(torch._C._nn, n) for n in ("elu", "mish")]
    for mod, name in targets:
        if hasattr(mod, name):
            saved.append((mod, name, getattr(mod, name)))
            setattr(mod, name, blocker(f"{'F' if mod is F else mod.__name__}.{name}"))
    try:
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


EXTREME = [-1e4, -100.0, -20.0, -3.0, -1.0, -1e-3, -0.0, 0.0, 1e-8, 0.5, 2.0, 20.0, 100.0, 1e4]
ELU_HINT = ("elu(x) = x for x > 0 and alpha * (exp(x) - 1) otherwise. torch.where computes BOTH "
            "branches: exp(100) overflows to inf, and in the backward pass 0 * inf = NaN. Keep the "
            "unused branch finite, e.g. torch.expm1(x.clamp(max=0)).")
MISH_HINT = ("mish(x) = x * tanh(softplus(x)) with softplus(x) = log(1 + exp(x)). Written naively, "
             "exp(x) overflows for large x and the gradient becomes inf / inf = NaN; use a stable "
             "softplus (F.softplus, torch.logaddexp(x, 0), or x.clamp(min=0) + log1p(exp(-|x|))).")


def _grad_of(fn, x, **kw):
    x = x.detach().clone().requires_grad_(True)
    y = fn(x, **kw)
    if not isinstance(y, torch.Tensor) or not y.requires_grad:
        return y, None
    (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    return y, g


def _compare_fn(c: Checker, name: str, learner, reference, hint: str, alphas=(None,)) -> None:
    tol = {torch.float32: (1e-5, 1e-7), torch.float64: (1e-10, 1e-14), torch.bfloat16: (5e-2, 2e-2)}
    gen = torch.Generator().manual_seed(51)
    inputs = [("extreme values", torch.tensor(EXTREME))]
    if name == "elu":
        inputs.append(("infinities and NaN", torch.tensor([-math.inf, math.inf, math.nan, 1.0])))
    else:
        inputs.append(("+infinity and NaN", torch.tensor([math.inf, math.nan, -1.0])))
    inputs.append(("a 3x5 random matrix", 3 * torch.randn(3, 5, generator=gen)))
    inputs.append(("an empty tensor", torch.empty(0)))
    for alpha in alphas:
        kw = {} if alpha is None else {"alpha": alpha}
        call_kw = "" if alpha is None else f", alpha={alpha}"
        for what, base in inputs:
            for dtype in (torch.float32, torch.float64, torch.bfloat16):
                x = base.to(dtype)
                if dtype != torch.float32 and what != "extreme values":
                    continue
                rtol, atol = tol[dtype]
                desc = f"{name}(x{call_kw}) with x = {what}, dtype {str(dtype).replace('torch.', '')}"
                if x.numel() <= 14:
                    desc += f": {x.tolist()}"
                expected, want_g = _grad_of(reference, x, **kw)
                with _forbid_builtins():
                    got = c.call(learner, x, desc=desc, hint=hint, expected=expected, **kw)
                c.expect_array(got, expected.detach(), desc=desc, rtol=rtol, atol=atol, hint=hint)
                if "NaN" in what or x.numel() == 0:
                    continue
                gdesc = f"the gradient of {name}(x{call_kw}).sum() with x = {what}, dtype " \
                        f"{str(dtype).replace('torch.', '')}"
                with _forbid_builtins():
                    got_y, got_g = c.call(lambda t: _grad_of(learner, t, **kw), x, desc=gdesc, hint=hint)
                if got_g is None:
                    c.fail("no gradient flows back to x.", tried=gdesc,
                           hint="build the result from differentiable tensor operations; do not detach, "
                                "call .item(), .numpy() or torch.tensor(...) on intermediate results.")
                ghint = hint
                if isinstance(got_g, torch.Tensor) and got_g.shape == want_g.shape:
                    bad = ~torch.isclose(got_g.double(), want_g.double(), rtol=rtol, atol=atol,
                                         equal_nan=True)
                    if bad.any() and bool((x[bad] == 0).all()):
                        ghint = ("only the gradient at x = 0 is off: PyTorch uses the negative branch "
                                 "there, alpha * e^0 = alpha, which for alpha = 1 is the true "
                                 "derivative. torch.minimum/maximum and relu(-x) split or drop the "
                                 "gradient at ties.")
                c.expect_array(got_g, want_g, desc=gdesc, rtol=rtol, atol=atol, hint=ghint)


@exercise("5.3", "ELU and Mish with correct autograd", time_limit_s=5.0)
def check_elu_mish(c: Checker, elu, mish) -> None:
    c.require_callable(elu, "elu")
    c.require_callable(mish, "mish")
    _compare_fn(c, "elu", elu, F.elu, ELU_HINT, alphas=(None, 0.5, 2.0))
    _compare_fn(c, "mish", mish, F.mish, MISH_HINT)


# --------------------------------------------------------------------------------------------
# 5.4 SELU's constants
# --------------------------------------------------------------------------------------------

SELU_HINT = ("for z ~ N(0, q) write the two conditions E[selu(z)] = 0 and E[selu(z)^2] = q as "
             "integrals against the normal density. The first does not involve lambda: solve it for "
             "alpha (a root finder such as bisection, or the closed form), then the second gives "
             "lambda. Sampling is not precise enough for 7 digits: integrate.")


@exercise("5.4", "SELU's alpha and lambda from the fixed-point conditions", time_limit_s=10.0)
def check_selu_constants(c: Checker, selu_constants) -> None:
    c.require_callable(selu_constants, "selu_constants")
    for q in (1.0, 0.5, 2.0, 3.0, 0.25, 1.5):
        desc = f"selu_constants({q})"
        got = c.call(selu_constants, q, desc=desc, hint=SELU_HINT)
        alpha, lam = variants.selu_constants(q)
        ok = isinstance(got, (tuple, list)) and len(got) == 2
        c.expect(ok, f"expected a pair (alpha, lambda), but your code returned {type_name(got)}.",
                 tried=desc, expected=f"({alpha:.10f}, {lam:.10f})", got=describe(got),
                 hint="return a tuple of two floats: (alpha, lam).")
        values = _numbers(list(got))
        if values is None:
            c.fail("expected two numbers.", tried=desc, expected=f"({alpha:.10f}, {lam:.10f})",
                   got=describe(got), hint="return a tuple of two floats: (alpha, lam).")
        ga, gl = values
        hint = SELU_HINT
        if math.isclose(ga, lam, rel_tol=1e-6) and math.isclose(gl, alpha, rel_tol=1e-6):
            hint = "the order is (alpha, lambda): you returned them swapped."
        elif math.isclose(ga, alpha, rel_tol=1e-6) and math.isclose(gl, lam ** 2, rel_tol=1e-6):
            hint = "your second value is lambda squared: take the square root."
        elif q != 1.0 and all(math.isclose(g, e, rel_tol=1e-6)
                              for g, e in zip(values, variants.selu_constants(1.0))):
            hint = ("these are the constants for q = 1: the input variance q changes both the "
                    "expectations and the target second moment.")
        elif math.isclose(ga, alpha, rel_tol=1e-6) and not math.isclose(gl, lam, rel_tol=1e-7):
            hint = ("alpha is right; lambda comes from E[selu(z)^2] = q, the second moment "
                    "(not the variance of the negative part alone, and with lambda squared outside).")
        c.expect(math.isfinite(ga) and math.isclose(ga, alpha, rel_tol=1e-7), "wrong alpha.", tried=desc,
                 expected=f"{alpha:.10f}", got=repr(ga), hint=hint)
        c.expect(math.isfinite(gl) and math.isclose(gl, lam, rel_tol=1e-7), "wrong lambda.", tried=desc,
                 expected=f"{lam:.10f}", got=repr(gl), hint=hint)


# --------------------------------------------------------------------------------------------
# 5.5 Design: a self-normalising deep SELU network
# --------------------------------------------------------------------------------------------

DESIGN_HINT = ("self-normalisation needs weights with mean 0 and variance 1 / fan_in (LeCun normal: "
               "std = 1 / sqrt(layer.in_features)) and zero biases, in every nn.Linear.")


def _selu_nets():
    def net(widths, dropout=False):
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.SELU()]
            if dropout:
                layers.append(nn.AlphaDropout(0.05))
        return nn.Sequential(*layers)

    return [
        (lambda: net([128] * 51), "50 layers of width 128", 0.0, 1.0),
        (lambda: net([64] * 51), "50 layers of width 64, input N(1, 4)", 1.0, 2.0),
        (lambda: net([32] + [128, 64] * 25), "50 layers whose widths alternate 128 and 64", 0.0, 1.0),
        (lambda: net([128] * 41, dropout=True), "40 layers of width 128 with AlphaDropout(0.05), "
                                                 "in training mode", 0.0, 1.0),
    ]


@exercise("5.5", "Design: a deep SELU network that keeps its statistics", time_limit_s=10.0)
def check_selu_design(c: Checker, init_selu_) -> None:
    c.require_callable(init_selu_, "init_selu_")
    for k, (build, story, shift, scale) in enumerate(_selu_nets()):
        with torch.random.fork_rng():
            torch.manual_seed(300 + k)
            model = build()
            before = [type(m) for m in model.modules()]
            desc = f"init_selu_(model) for {story}, then 256 inputs through it"
            torch.manual_seed(k)
            c.call(init_selu_, model, desc=desc, hint=DESIGN_HINT)
            c.expect([type(m) for m in model.modules()] == before, "the model's layers changed.",
                     tried=desc, hint="only initialise the existing nn.Linear layers in place; do not "
                                      "add, remove or replace modules.")
            train = "training" in story
            means, variances = variants.propagate(model, n=256, seed=k, shift=shift, scale=scale,
                                                  train=train)
        finite = all(math.isfinite(v) for v in means + variances)
        last_m, last_v = means[-1], variances[-1]
        worst = max(range(len(variances)), key=lambda i: abs(math.log(max(variances[i], 1e-30))))
        got = (f"after the last layer mean {last_m:.3g}, variance {last_v:.3g}; the worst layer "
               f"({worst + 1}) has variance {variances[worst]:.3g}")
        c.expect(finite and abs(last_m) < 0.15 and 0.75 < last_v < 1.33
                 and all(0.3 < v < 5.0 for v in variances[len(variances) // 2:]),
                 "the activations did not keep mean 0 and variance 1.", tried=desc,
                 expected="mean within ±0.15 of 0 and variance between 0.75 and 1.33 after the last "
                          "layer, variance between 0.3 and 5 in the second half",
                 got=got, hint=DESIGN_HINT)


# --------------------------------------------------------------------------------------------
# 5.6 A parameter-matched SwiGLU feed-forward block
# --------------------------------------------------------------------------------------------

FFN_HINT = ("three bias-free layers: w1 and w3 map d_model -> hidden, w2 maps hidden -> d_model; "
            "forward(x) = w2(silu(w1(x)) * w3(x)); hidden is about 2 * d_ff / 3 so that 3 * d_model * "
            "hidden is close to the 2 * d_model * d_ff weights of the plain block.")


def reference_swiglu_forward(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return block.w2(F.silu(block.w1(x)) * block.w3(x))


@exercise("5.6", "A parameter-matched SwiGLU feed-forward block", time_limit_s=10.0)
def check_swiglu(c: Checker, SwiGLUFFN) -> None:
    if not (isinstance(SwiGLUFFN, type) and issubclass(SwiGLUFFN, nn.Module)):
        c.fail(f"expected a class derived from nn.Module, but got {type_name(SwiGLUFFN)}.",
               hint="pass the class itself: check('5.6', SwiGLUFFN).")
    c.ok()
    gen = torch.Generator().manual_seed(56)
    for d_model, d_ff in [(64, 256), (48, 96), (32, 1000), (16, 3072), (40, 344)]:
        desc = f"SwiGLUFFN({d_model}, {d_ff})"
        with torch.random.fork_rng():
            torch.manual_seed(d_ff)
            block = c.call(SwiGLUFFN, d_model, d_ff, desc=desc, hint=FFN_HINT)
        layers = {n: getattr(block, n, None) for n in ("w1", "w2", "w3")}
        c.expect(all(isinstance(v, nn.Linear) for v in layers.values()),
                 "the block needs three nn.Linear attributes named w1, w2 and w3.", tried=desc,
                 got=", ".join(f"{n}: {type_name(v)}" for n, v in layers.items()), hint=FFN_HINT)
        c.expect(all(v.bias is None for v in layers.values()), "the layers have biases.", tried=desc,
                 hint="use nn.Linear(..., bias=False), as in Shazeer's and LLaMA's feed-forward blocks.")
        h = block.w1.out_features
        shapes_ok = ((block.w1.in_features, block.w3.in_features, block.w3.out_features,
                      block.w2.in_features, block.w2.out_features) == (d_model, d_model, h, h, d_model))
        c.expect(shapes_ok, "the layer shapes do not fit together.", tried=desc,
                 expected=f"w1, w3: {d_model} -> hidden; w2: hidden -> {d_model}",
                 got=f"w1: {block.w1.in_features} -> {block.w1.out_features}, "
                     f"w3: {block.w3.in_features} -> {block.w3.out_features}, "
                     f"w2: {block.w2.in_features} -> {block.w2.out_features}", hint=FFN_HINT)
        n = sum(p.numel() for p in block.parameters())
        plain = 2 * d_model * d_ff
        hint = FFN_HINT
        if h == d_ff:
            hint = ("hidden = d_ff gives the gated block 3/2 times the weights of the plain one: "
                    "scale it by 2/3.")
        c.expect(abs(n - plain) <= 0.005 * plain, "the block is not parameter-matched.", tried=desc,
                 expected=f"about {plain:,} weights (2 * d_model * d_ff, within 0.5 %)",
                 got=f"{n:,} weights (hidden = {h})", hint=hint)
        for shape in [(7, d_model), (2, 5, d_model), (0, d_model)]:
            x = torch.randn(*shape, generator=gen)
            sdesc = f"{desc}(x) with x of shape {shape}"
            expected = reference_swiglu_forward(block, x).detach()
            got = c.call(block, x, desc=sdesc, hint=FFN_HINT)
            fhint = FFN_HINT
            if isinstance(got, torch.Tensor) and got.shape == expected.shape and x.numel():
                near = {
                    "silu is applied to w1(x), the gate; w3(x) is the linear branch (you swapped them).":
                        block.w2(block.w1(x) * F.silu(block.w3(x))),
                    "that is GLU (sigmoid gate); SwiGLU uses silu(w1 x) = w1 x * sigmoid(w1 x).":
                        block.w2(torch.sigmoid(block.w1(x)) * block.w3(x)),
                    "that is GEGLU (GELU gate); SwiGLU uses silu.": block.w2(F.gelu(block.w1(x)) * block.w3(x)),
                    "that is ReGLU (ReLU gate); SwiGLU uses silu.": block.w2(F.relu(block.w1(x)) * block.w3(x)),
                    "apply silu to w1(x) alone, then multiply by w3(x).":
                        block.w2(F.silu(block.w1(x) * block.w3(x))),
                }
                for text, value in near.items():
                    if torch.allclose(got.detach().float(), value.detach().float(), rtol=1e-4, atol=1e-6):
                        fhint = text
                        break
            c.expect_array(got, expected, desc=sdesc, rtol=1e-5, atol=1e-6, hint=fhint)
        x = torch.randn(3, d_model, generator=gen)
        block.zero_grad(set_to_none=True)
        bdesc = f"{desc}(x).sum().backward()"
        out = c.call(block, x, desc=bdesc)
        c.expect(isinstance(out, torch.Tensor) and out.requires_grad, "no gradient flows back "
                 "through your block.", tried=bdesc, hint="use all three layers in forward, without "
                 "detaching, torch.no_grad() or .data.")
        c.call(lambda: out.sum().backward(), desc=bdesc)
        c.expect(all(getattr(block, n).weight.grad is not None for n in ("w1", "w2", "w3")),
                 "not every layer receives a gradient.", tried=bdesc,
                 hint="use all three layers in forward, without detaching.")
    block = c.call(SwiGLUFFN, 8, 24, desc="SwiGLUFFN(8, 24).double()")
    block = block.double()
    x = torch.randn(4, 8, dtype=torch.float64, generator=gen)
    got = c.call(block, x, desc="SwiGLUFFN(8, 24).double()(x) with float64 x")
    c.expect_array(got, reference_swiglu_forward(block, x).detach(),
                   desc="SwiGLUFFN(8, 24).double()(x) with float64 x", rtol=1e-10, atol=1e-12, hint=FFN_HINT)
