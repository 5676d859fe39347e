"""Checks for chapter 6: impact on architectures."""

from __future__ import annotations

import contextlib
import functools
import math
import warnings

import numpy as np
import torch
from torch import nn

from . import exercise
from .core import Checker, _TimeLimit, as_real, describe, timed_call, type_name
from relucourse.arch import digit_versions, train_autoencoder
from relucourse.reportcard import as_module_factory, gradient_gain, train_small
from relucourse.sequences import BASELINE_MSE


def _is_number(value) -> bool:
    return as_real(value) is not None


@contextlib.contextmanager
def _one_thread():
    """Tiny networks run fastest, and reproducibly, on one thread (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _module(c: Checker, value, desc: str, what: str) -> nn.Module:
    if not isinstance(value, nn.Module):
        c.fail(f"expected an nn.Module ({what}), but your code returned {type_name(value)}.", tried=desc,
               got=describe(value), hint="build the module from nn.Linear and friends and return it "
                                         "(an nn.Module subclass instance or an nn.Sequential).")
    c.ok()
    return value


# --------------------------------------------------------------------------------------------
# 6.1 Predict, then measure: the factor of a residual block
# --------------------------------------------------------------------------------------------

def reference_block_factor(s: float, a: float) -> float:
    """E[(x + s W2 leaky(W1 x))^2] / E[x^2] with both layers He-initialised (Var(w) = 2 / fan_in):
    E[(W1 x)^2] = 2q, E[leaky_a(z)^2] = (1 + a^2) / 2 * 2q, E[F^2] = s^2 * 2 * (1 + a^2) q."""
    return 1.0 + 2.0 * s * s * (1.0 + a * a)


def measured_block_factor(s: float, a: float, width: int = 256, n: int = 1000, seed: int = 0) -> float:
    """The factor measured on fresh blocks (Gaussian input), averaged over 4 blocks."""
    gen = torch.Generator().manual_seed(seed)
    ratios = []
    for _ in range(4):
        x = torch.randn(n, width, generator=gen)
        w1 = torch.randn(width, width, generator=gen) * math.sqrt(2 / width)
        w2 = torch.randn(width, width, generator=gen) * math.sqrt(2 / width)
        out = x + s * torch.nn.functional.leaky_relu(x @ w1.T, a) @ w2.T
        ratios.append(float(out.double().pow(2).mean() / x.double().pow(2).mean()))
    return sum(ratios) / len(ratios)


#: (s, a) cases: scale of the branch's last layer, negative slope of the leaky ReLU.
FACTOR_CASES = [(0.5, 0.0), (1.0, 0.2), (0.3, 0.5), (0.0, 0.1), (2.0, 0.0), (1.0, 1.0)]


def _factor_hint(value: float, s: float, a: float) -> str | None:
    wrong = [
        (1 + s * s * (1 + a * a), "He's factor 2 was made for a layer whose output a ReLU halves; the "
                                  "branch's LAST layer has no activation after it, so it doubles the second moment."),
        (2 * s * s * (1 + a * a), "the identity path adds the input's own second moment: the block returns x + F(x)."),
        (1 + 2 * s * (1 + a * a), "the scale s multiplies the branch's output, so it multiplies its second moment by s^2."),
        (1 + 2 * s * s * (1 + a), "the negative side of the leaky ReLU keeps a * z, whose square is a^2 z^2."),
        (1 + 2 * s * s, "the leaky ReLU keeps part of the negative side: E[leaky(z)^2] = (1 + a^2) / 2 E[z^2]."),
        (math.sqrt(1 + 2 * s * s * (1 + a * a)), "that is the factor on the root-mean-square size; the question asks "
                                                 "for the factor on the second moment E[x^2]."),
        ((1 + s * math.sqrt(2 * (1 + a * a))) ** 2, "x and F(x) are uncorrelated at initialisation (independent "
                                                    "zero-mean weights): add their second moments, not their sizes."),
        ((1 + 2 * s * s) * (1 + a * a), "only the branch goes through the leaky ReLU; the identity path does not."),
    ]
    for wrong_value, hint in wrong:
        if math.isclose(value, wrong_value, rel_tol=1e-3) and not math.isclose(
                wrong_value, reference_block_factor(s, a), rel_tol=1e-3):
            return hint
    return None


@exercise("6.1", "Predict, then measure: the factor of a residual block")
def check_block_factor(c: Checker, predicted_factor) -> None:
    c.require_callable(predicted_factor, "predicted_factor")
    for s, a in FACTOR_CASES:
        desc = f"predicted_factor(s={s}, a={a})"
        got = c.call(predicted_factor, s, a, desc=desc)
        value = as_real(got)
        if value is None or (isinstance(got, torch.Tensor) and got.requires_grad):
            c.fail(f"expected a number, but your code returned {type_name(got)}.", tried=desc, got=describe(got),
                   hint="return the factor as a number (a float, or a fractions.Fraction).")
        c.ok()
        expected = reference_block_factor(s, a)
        if not (math.isfinite(value) and math.isclose(value, expected, rel_tol=0.02)):
            with _one_thread():   # shown only when the prediction is wrong
                measured = measured_block_factor(s, a)
            c.fail("the predicted factor does not match the block.", tried=desc,
                   expected=f"{expected:.4g} (measured on this machine: {measured:.3f}; within 2 % passes)",
                   got=f"{value:.4g}",
                   hint=_factor_hint(value, s, a) or (
                       "follow E[x^2] through the block: W1 (He), the leaky ReLU, s W2 (He, no activation "
                       "after it), then the sum with x."))
        c.ok()


# --------------------------------------------------------------------------------------------
# 6.2 Gradient clipping by global norm
# --------------------------------------------------------------------------------------------

def reference_clip_grad_norm(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach().double()) for g in grads]))
    if total > max_norm:   # the statement's rule (clip_grad_norm_ also shrinks tiny norms under max_norm)
        for g in grads:
            g.detach().mul_(max_norm / (float(total) + 1e-6))
    return total


def _grad_cases():
    """(description, make_params(), max_norm)."""
    def params(shapes, scale, dtype=torch.float32, none_at=(), seed=0):
        def make():
            gen = torch.Generator().manual_seed(seed)
            ps = []
            for i, s in enumerate(shapes):
                p = nn.Parameter(torch.randn(s, generator=gen, dtype=dtype))
                if i not in none_at:
                    p.grad = scale * torch.randn(s, generator=gen, dtype=dtype)
                ps.append(p)
            return ps
        return make
    return [
        ("three tensors whose joint gradient norm is about 50, max_norm=1.0",
         params([(10, 5), (5,), (3, 4)], 6.0), 1.0),
        ("gradients already small (norm about 0.3), max_norm=5.0: nothing may change",
         params([(4, 4), (4,)], 0.07, seed=1), 5.0),
        ("one large tensor and one small one, max_norm=2.0: one common factor for both",
         params([(50, 50), (2,)], 1.0, seed=2), 2.0),
        ("a parameter whose .grad is None (frozen) among others, max_norm=0.5",
         params([(6, 3), (3,), (2, 2)], 3.0, none_at=(1,), seed=3), 0.5),
        ("float64 parameters, max_norm=0.25", params([(7,), (2, 3)], 2.0, dtype=torch.float64, seed=4), 0.25),
        ("all gradients exactly zero, max_norm=1.0", params([(3, 3)], 0.0, seed=5), 1.0),
        ("max_norm=math.inf: nothing may change", params([(5, 5)], 10.0, seed=6), math.inf),
        ("tiny gradients (norm about 1e-5) over max_norm=5e-6: the 1e-6 in the factor matters",
         params([(4,), (2, 2)], 4e-6, seed=7), 5e-6),
        ("tiny gradients (norm about 6e-7) under max_norm=1e-6: nothing may change",
         exact([3 * 2.0 ** -23, 4 * 2.0 ** -23]), 1e-6),
        ("a norm exactly equal to max_norm (5 * 2**-20): it does not exceed it, nothing may change",
         exact([3 * 2.0 ** -20, 4 * 2.0 ** -20]), 5 * 2.0 ** -20),
        ("every parameter frozen (all .grad None): nothing to clip, the norm is 0",
         params([(3,), (2, 2)], 1.0, none_at=(0, 1), seed=8), 1.0),
    ]


def exact(values):
    """One parameter whose gradient holds ``values`` (chosen so that its norm is exact in float32)."""
    def make():
        p = nn.Parameter(torch.zeros(len(values)))
        p.grad = torch.tensor(values, dtype=torch.float32)
        return [p]
    return make


def statement_clip(params, max_norm: float) -> float:
    """The statement's clipping: scale every gradient by max_norm / (norm + 1e-6) iff norm > max_norm
    (unlike clip_grad_norm_, which also scales tiny gradients just below max_norm)."""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return total


@contextlib.contextmanager
def _library_calls():
    """Records calls of torch's clip_grad_norm_ (under any name: its helpers are patched too)."""
    import torch.nn.utils as utils
    import torch.nn.utils.clip_grad as cg

    seen: list[str] = []
    patched = []
    for module in (utils, cg):
        for name in ("clip_grad_norm_", "clip_grad_norm", "clip_grads_with_norm_", "_clip_grads_with_norm_",
                     "get_total_norm", "_get_total_norm"):
            original = getattr(module, name, None)
            if original is None:
                continue

            def spy(*args, _original=original, _name=name, **kwargs):
                seen.append(_name.lstrip("_"))
                return _original(*args, **kwargs)
            patched.append((module, name, original))
            setattr(module, name, spy)
    try:
        yield seen
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


@exercise("6.2", "Gradient clipping by global norm")
def check_clip(c: Checker, clip_grad_norm) -> None:
    c.require_callable(clip_grad_norm, "clip_grad_norm")
    for story, make, max_norm in _grad_cases() + [("model.parameters() (a generator), max_norm=1.0", None, 1.0)]:
        if make is None:  # a generator, as model.parameters() gives
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            mine, ref = model, nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            ref.load_state_dict(model.state_dict())
            for m in (mine, ref):
                torch.manual_seed(1)
                ((m(torch.randn(16, 4)) * 10) ** 2).sum().backward()
            mine_params, ref_params = list(mine.parameters()), list(ref.parameters())
            arg = mine.parameters()
        else:
            mine_params, ref_params = make(), make()
            arg = mine_params
        desc = f"clip_grad_norm(params, {max_norm:.6g}) with {story}"
        before = [None if p.grad is None else p.grad.clone() for p in mine_params]
        expected_total = statement_clip(ref_params, max_norm)
        with _library_calls() as seen:
            got = c.call(clip_grad_norm, arg, max_norm, desc=desc)
        if seen:
            c.fail(f"your code called torch's {seen[0]}.", tried=desc,
                   hint="the exercise is to write the clipping yourself: compute the norm from the "
                        "gradients and scale them with p.grad.mul_(...), without torch.nn.utils' clipping.")
        c.ok()
        total = as_real(got)
        if total is None or (isinstance(got, torch.Tensor) and got.requires_grad):
            c.fail(f"expected the total norm (a number or 0-d tensor), but your code returned {type_name(got)}.",
                   tried=desc, expected=f"{expected_total:.6g}", got=describe(got),
                   hint="return the global norm measured BEFORE clipping.")
        if not math.isclose(total, expected_total, rel_tol=1e-5, abs_tol=1e-12):
            hint = "the global norm is sqrt(sum over all gradients of the sum of their squares)."
            after = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in mine_params if p.grad is not None))
            if math.isclose(total, after, rel_tol=1e-5) and not math.isclose(after, expected_total, rel_tol=1e-5):
                hint = "return the norm measured BEFORE clipping, not after."
            elif expected_total > 0 and math.isclose(total, expected_total ** 2, rel_tol=1e-4):
                hint = "take the square root of the sum of squares."
            c.fail("wrong total norm returned.", tried=desc, expected=f"{expected_total:.6g}",
                   got=f"{total:.6g}", hint=hint)
        c.ok()
        for i, (p, r, b) in enumerate(zip(mine_params, ref_params, before)):
            if r.grad is None:
                c.expect(p.grad is None, "a gradient that was None is no longer None.", tried=desc,
                         got=describe(p.grad), hint="skip parameters whose .grad is None.")
                continue
            if p.grad is None or p.grad.shape != r.grad.shape or p.grad.dtype != r.grad.dtype:
                c.fail(f"parameter {i}'s gradient changed its shape, dtype or disappeared.", tried=desc,
                       expected=f"shape {tuple(r.grad.shape)}, dtype {r.grad.dtype}", got=describe(p.grad),
                       hint="scale each p.grad in place, e.g. p.grad.mul_(factor).")
            if not torch.allclose(p.grad.double(), r.grad.double(), rtol=1e-5, atol=0.0):
                ratio = float(p.grad.double().norm() / b.double().norm()) if float(b.norm()) > 0 else 1.0
                wanted = float(r.grad.double().norm() / b.double().norm()) if float(b.norm()) > 0 else 1.0
                if torch.equal(p.grad, b):
                    hint = ("the gradients must be scaled IN PLACE (p.grad.mul_(factor)); computing scaled "
                            "copies, or rebinding p.grad, leaves the optimizer's gradients as they were.")
                elif expected_total <= max_norm:
                    hint = ("the total norm does not exceed max_norm here: leave the gradients unchanged "
                            "(factor 1).")
                else:
                    hint = ("scale EVERY gradient by the same factor max_norm / (total_norm + 1e-6), where "
                            "total_norm is the norm of all gradients together, not of each tensor on its own.")
                c.fail(f"parameter {i}'s gradient is wrong after clipping.", tried=desc,
                       expected=f"scaled by {wanted:.6g} (norm {float(r.grad.norm()):.6g})",
                       got=f"scaled by {ratio:.6g} (norm {float(p.grad.norm()):.6g})", hint=hint)
            c.ok()


# --------------------------------------------------------------------------------------------
# 6.3 The adding problem and its baseline
# --------------------------------------------------------------------------------------------

@exercise("6.3", "The adding problem and its baseline MSE", time_limit_s=5.0)
def check_adding(c: Checker, adding_problem, baseline) -> None:
    c.require_callable(adding_problem, "adding_problem")
    for n, T, seed in [(200, 10, 0), (5, 2, 1), (64, 31, 2), (3000, 50, 3)]:
        desc = f"X, y = adding_problem({n}, {T}, seed={seed})"
        torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
        got = c.call(adding_problem, n, T, seed, desc=desc)
        c.expect(torch.equal(torch.get_rng_state(), torch_state)
                 and np.array_equal(np.random.get_state()[1], numpy_state),
                 "your code changed the global random state.", tried=desc,
                 hint="draw every random number from a torch.Generator().manual_seed(seed) (passed as "
                      "generator=...), not from torch.manual_seed or the global torch.rand / np.random.")
        if not (isinstance(got, (tuple, list)) and len(got) == 2
                and all(isinstance(t, torch.Tensor) for t in got)):
            c.fail("expected a pair of tensors (X, y).", tried=desc, got=describe(got),
                   hint="return X, y with torch tensors.")
        X, y = got
        c.expect(tuple(X.shape) == (n, T, 2) and tuple(y.shape) == (n,), "X or y has the wrong shape.",
                 tried=desc, expected=f"X {(n, T, 2)}, y {(n,)}", got=f"X {tuple(X.shape)}, y {tuple(y.shape)}",
                 hint="X[:, :, 0] holds the numbers, X[:, :, 1] the markers; y holds one sum per sequence.")
        c.expect(X.dtype == torch.float32 and y.dtype == torch.float32, "X and y must be float32.", tried=desc,
                 got=f"X {X.dtype}, y {y.dtype}", hint="use torch.rand(...) and float markers (0.0 and 1.0).")
        values, marks = X[:, :, 0], X[:, :, 1]
        c.expect(bool(((values >= 0) & (values < 1)).all()), "the numbers are not all in [0, 1).", tried=desc,
                 got=f"min {values.min().item():.3g}, max {values.max().item():.3g}",
                 hint="draw the numbers with torch.rand (uniform on [0, 1)).")
        binary = (marks == 0) | (marks == 1)
        counts = marks.sum(1)
        # the evidence follows the symptom: a marker value that is neither 0 nor 1, or else the
        # sequences whose markers do not number two (their sums show it)
        if not bool(binary.all()):
            i, t = (int(v) for v in (~binary).nonzero()[0])
            evidence = f"X[{i}, {t}, 1] = {marks[i, t].item():.4g} (markers must be 0 or 1)"
        else:
            wrong = (counts != 2).nonzero().flatten()[:4].tolist()
            evidence = ", ".join(f"sequence {i}: {int(counts[i])} markers" for i in wrong)
        c.expect(bool(binary.all()) and bool((counts == 2).all()),
                 "every sequence needs exactly two markers equal to 1 (and 0 elsewhere).",
                 tried=desc, got=evidence,
                 hint="choose two different positions per sequence and set X[i, pos, 1] = 1.")
        half = T // 2
        first_half = marks[:, :half].sum(1)
        c.expect(bool((first_half == 1).all()),
                 "each sequence needs one marker in the first half and one in the second half.", tried=desc,
                 expected=f"exactly one marker among the first T // 2 = {half} steps",
                 got=f"{int((first_half != 1).sum())} sequences without exactly one there",
                 hint="draw the first position from range(T // 2) and the second from range(T // 2, T).")
        c.expect(torch.allclose(y, (values * marks).sum(1), atol=1e-6), "y is not the sum of the marked numbers.",
                 tried=desc, hint="y[i] = sum over t of X[i, t, 0] * X[i, t, 1].")
        again = c.call(adding_problem, n, T, seed, desc=desc + " a second time")
        c.expect(torch.equal(again[0], X), "the same seed gave different data.", tried=desc + " twice",
                 hint="use torch.Generator().manual_seed(seed) for every random draw.")
        if n >= 64:
            other = c.call(adding_problem, n, T, seed + 100, desc=f"adding_problem({n}, {T}, seed={seed + 100})")
            c.expect(not torch.equal(other[0], X), "different seeds gave the same data.", tried=desc,
                     hint="seed the generator with the `seed` argument.")
        if n >= 1000:
            pos = marks[:, :half].argmax(1).float()
            pos2 = marks[:, half:].argmax(1).float()
            mean1, mean2 = pos.mean().item(), pos2.mean().item()
            c.expect(abs(mean1 - (half - 1) / 2) < 1.0 and abs(mean2 - (T - half - 1) / 2) < 1.0,
                     "the marker positions are not spread uniformly over each half.", tried=desc,
                     expected=f"mean positions near {(half - 1) / 2:.1f} and {half + (T - half - 1) / 2:.1f}",
                     got=f"{mean1:.1f} and {half + mean2:.1f}",
                     hint="draw each position uniformly: torch.randint(0, T // 2, ...) and "
                          "torch.randint(T // 2, T, ...).")
    c.require_callable(baseline, "predicted_baseline")
    for k, low, high in BASELINE_CASES:
        desc = f"predicted_baseline(k={k}, low={low}, high={high})"
        got = c.call(baseline, k, low, high, desc=desc)
        if not _is_number(got):
            c.fail(f"expected a number, got {type_name(got)}.", tried=desc, got=describe(got),
                   hint="return the MSE as a float.")
        value = float(got.item() if isinstance(got, torch.Tensor) else got)
        expected = reference_baseline(k, low, high)
        c.expect(math.isfinite(value) and math.isclose(value, expected, rel_tol=0.01), "wrong baseline MSE.",
                 tried=desc, expected=f"{expected:.4g} (within 1 %)", got=f"{value:.4g}",
                 hint=_baseline_hint(value, k, low, high))


#: (k marked numbers, low, high): cases of the generalised baseline.
BASELINE_CASES = [(2, 0.0, 1.0), (3, 0.0, 1.0), (2, -1.0, 1.0), (4, 0.5, 2.0), (1, 0.0, 10.0)]


def reference_baseline(k: int, low: float, high: float) -> float:
    """The MSE of always predicting the mean of a sum of k independent U(low, high) numbers."""
    return k * (high - low) ** 2 / 12


def _baseline_hint(value: float, k: int, low: float, high: float) -> str:
    w = high - low
    wrong = [
        (k / 12, "a number uniform on [low, high) has variance (high - low)^2 / 12, not 1/12."),
        (k * w / 12, "the variance grows with the SQUARE of the interval's width: (high - low)^2 / 12."),
        (k * k * w * w / 12, "variances of independent numbers add: k of them give k times the variance, not k^2."),
        (w * w / 12, "the target is the sum of k numbers; each adds its own variance."),
        (1 / 6, "1/6 is the chapter's case (k = 2 on [0, 1)); use k, low and high."),
        (k * w * w / 4, "the variance of a uniform number on an interval of width w is w^2 / 12."),
        (math.sqrt(k * w * w / 12), "the MSE of predicting the mean is the variance, not the standard deviation."),
        (k * (low + high) / 2, "the MSE of predicting the mean is the target's variance, not its mean."),
    ]
    for wrong_value, hint in wrong:
        if math.isclose(value, wrong_value, rel_tol=0.01) and not math.isclose(
                wrong_value, reference_baseline(k, low, high), rel_tol=0.01):
            return hint
    return "Var(sum) = k Var(U(low, high)) for independent numbers, and Var(U(low, high)) = (high - low)^2 / 12."


# --------------------------------------------------------------------------------------------
# 6.4 An autoencoder's output layer for a given data range
# --------------------------------------------------------------------------------------------

def _digit_versions():
    versions = digit_versions(400)  # the lesson's data; x 16 is exact: the raw pixels
    unit, std = versions["[0, 1]"], versions["standardised"]
    return [("pixels scaled to [0, 1]", unit, 0.0, 1.0),
            ("standardised pixels (mean 0, std 1: unbounded, negative values)", std, -math.inf, math.inf),
            ("raw pixels in [0, 16]", unit * 16, 0.0, 16.0)]


class _Range(nn.Module):
    """The reference output layer: a linear map squashed into [low, high] where a bound is finite."""

    def __init__(self, hidden: int, n_out: int, low: float, high: float):
        super().__init__()
        self.fc, self.low, self.high = nn.Linear(hidden, n_out), low, high

    def forward(self, h):
        z = self.fc(h)
        lo, hi = self.low, self.high
        if math.isfinite(lo) and math.isfinite(hi):
            return lo + (hi - lo) * torch.sigmoid(z)
        if math.isfinite(lo):
            return lo + nn.functional.softplus(z)
        if math.isfinite(hi):
            return hi - nn.functional.softplus(z)
        return z


@functools.lru_cache(maxsize=None)
def _reference_mse(story: str) -> float:
    """The reconstruction MSE of the same autoencoder with the reference output layer."""
    X, low, high = {s: (X, lo, hi) for s, X, lo, hi in _digit_versions()}[story]
    torch.manual_seed(0)
    return train_autoencoder(_Range(32, 64, low, high), X)[0]


#: Ranges checked for rule 1 (outputs inside [low, high]) without training: one infinite bound,
#: a lower bound that is not 0.
RANGE_ONLY = [(0.0, math.inf), (-math.inf, 0.0), (-5.0, math.inf), (-math.inf, 3.0), (1.0, 4.0), (-2.0, -0.5)]


def _expect_in_range(c: Checker, layer, low: float, high: float, desc: str) -> tuple[float, float]:
    """Rule 1 on large hidden vectors; returns the smallest and largest output seen."""
    big = 100 * torch.randn(200, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        wide = c.call(layer, big, desc=f"layer(h) for 200 hidden vectors with entries up to about 300, {desc}")
    if not isinstance(wide, torch.Tensor) or tuple(wide.shape) != (200, 64):
        c.fail("the output layer must map (batch, 32) to (batch, 64).", tried=desc, got=describe(wide),
               hint="start with nn.Linear(hidden, n_out).")
    c.expect(wide.dtype == big.dtype, "the output layer changed the dtype of its input.", tried=desc,
             expected=f"dtype {big.dtype}", got=f"dtype {wide.dtype}",
             hint="keep the computation in the input's dtype (no .double() or torch.float64 constants).")
    finite = bool(torch.isfinite(wide).all())
    lo_ok = not math.isfinite(low) or float(wide.min()) >= low - 1e-6
    hi_ok = not math.isfinite(high) or float(wide.max()) <= high + 1e-6
    side = [] if finite else ["NaN or infinite values"]
    if finite and not lo_ok:
        side.append(f"values below low = {low}")
    if finite and not hi_ok:
        side.append(f"values above high = {high}")
    c.expect(finite and lo_ok and hi_ok, "the output layer produces values outside [low, high].",
             tried=f"layer(h) for large hidden vectors, with {desc}",
             expected=f"every output in [{low}, {high}]",
             got=(f"outputs from {float(wide.min()):.4g} to {float(wide.max()):.4g}" if finite
                  else describe(wide[~torch.isfinite(wide)][:4])) + f" ({', '.join(side)})",
             hint=("the data never leave [low, high], so neither may the reconstruction: squash a linear map "
                   "into the range where both bounds are finite, keep the side of an infinite bound open, "
                   "and make a finite bound one that no input can cross."))
    return float(wide.min()), float(wide.max())


@exercise("6.4", "An autoencoder output layer for the data's range", time_limit_s=5.0)
def check_output_layer(c: Checker, output_layer) -> None:
    with _one_thread():
        _check_output_layer(c, output_layer)


def _check_output_layer(c: Checker, output_layer) -> None:
    if isinstance(output_layer, type) and issubclass(output_layer, nn.Module):
        c.ok()   # an nn.Module class works too
    else:
        c.require_callable(output_layer, "output_layer")
    for low, high in RANGE_ONLY:
        desc = f"output_layer(32, 64, low={low}, high={high})"
        torch.manual_seed(0)
        layer = _module(c, c.call(output_layer, 32, 64, low, high, desc=desc), desc, "the output layer")
        _expect_in_range(c, layer, low, high, desc)
    for story, X, low, high in _digit_versions():
        scale = float(X.var())
        desc = f"output_layer(32, 64, low={low}, high={high}) for {story}"
        torch.manual_seed(0)
        layer = _module(c, c.call(output_layer, 32, 64, low, high, desc=desc), desc, "the output layer")
        c.expect(any(p.requires_grad for p in layer.parameters()), "the output layer has no trainable parameters.",
                 tried=desc, hint="it must contain an nn.Linear(32, 64) (and perhaps a function after it).")
        probe = torch.randn(5, 32).abs()
        out = c.call(layer, probe, desc=f"layer(h) for h of shape (5, 32), with {desc}")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (5, 64):
            c.fail("the output layer must map (batch, 32) to (batch, 64).", tried=desc, got=describe(out),
                   hint="start with nn.Linear(hidden, n_out).")
        reach = _expect_in_range(c, layer, low, high, desc)
        reference = _reference_mse(story)
        try:
            mse = train_autoencoder(layer, X)[0]
        except Exception as err:
            c.fail("training the autoencoder with your output layer raised an error.", tried=desc,
                   got=f"{type(err).__name__}: {err}")
        limit = 1.25 * reference + 0.01 * scale
        data_lo, data_hi = float(X.min()), float(X.max())
        margin = 0.05 * (data_hi - data_lo)
        if reach[0] > data_lo + margin or reach[1] < data_hi - margin:
            hint = (f"even for large hidden vectors your layer's outputs stay between {reach[0]:.3g} and "
                    f"{reach[1]:.3g}, but these data reach from {data_lo:.3g} to {data_hi:.3g}: the layer must be "
                    "able to produce every value the data take.")
        else:
            hint = ("your layer can produce the data's values, but the autoencoder does not learn to: look for "
                    "parts of the output that pass no gradient (a clamp, a ReLU or a saturated squashing "
                    "function over much of the data's range).")
        c.expect(math.isfinite(mse) and mse <= limit, "the reconstruction error is too large.", tried=desc,
                 expected=f"MSE at most {limit:.4g} (a reference layer reaches {reference:.4g})",
                 got=f"MSE {mse:.4g}", hint=hint)


# --------------------------------------------------------------------------------------------
# 6.5 Predict, then measure: how far the backward signal fades (the gain: factor on the SQUARED norm)
# --------------------------------------------------------------------------------------------

def reference_gain(c: float, a: float) -> float:
    """The course's gain per layer (glossary): the factor on the SQUARED norm of the backward signal,
    fan_in * Var(w) * E[phi'(z)^2] = c * (1 + a^2) / 2 for a leaky ReLU of slope a (z symmetric)."""
    return c * (1.0 + a * a) / 2.0


def reference_norm_ratio(c: float, a: float, depth: int) -> float:
    """||delta_1|| / ||delta_depth||: depth - 1 layers, each multiplying the squared norm by the gain."""
    return reference_gain(c, a) ** ((depth - 1) / 2)


def measured_norm_ratio(c: float, a: float, depth: int, width: int = 256, n: int = 64,
                        seeds: tuple[int, ...] = (0, 1, 2)) -> float:
    """The ratio measured on fresh bias-free leaky-ReLU MLPs (Var(w) = c / fan_in), one backward pass
    of a random linear loss per seed, averaged in log space over ``seeds``."""
    logs = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        h = torch.randn(n, width, generator=gen, dtype=torch.float32)
        zs = []
        for _ in range(depth):
            w = torch.randn(width, width, generator=gen, dtype=torch.float32) * math.sqrt(c / width)
            z = (h @ w.T).requires_grad_(True)
            zs.append(z)
            h = nn.functional.leaky_relu(z, a)
        loss = (h * torch.randn(n, width, generator=gen, dtype=torch.float32)).sum()
        grads = torch.autograd.grad(loss, [zs[0], zs[-1]])
        logs.append(math.log(float(grads[0].norm())) - math.log(float(grads[1].norm())))
    return math.exp(sum(logs) / len(logs))


#: (c, a, depth): weight variance c / fan_in, the leaky ReLU's negative slope, the hidden layers.
RATIO_CASES = [(1 / 3, 0.0, 10), (2.0, 0.0, 20), (1.0, 0.5, 7), (2.0, 0.3, 12), (0.5, 1.0, 4),
               (3.0, 0.0, 1), (1.0, 0.1, 30), (0.8, 2.0, 5), (1.5, 0.2, 2)]


def _ratio_hint(value: float, c: float, a: float, depth: int, probe) -> str | None:
    """The mistake a wrong prediction shows, when it matches one (and the right answer does not).
    ``probe(c, a, depth)`` is the learner's prediction for other arguments (None if it fails): a
    hint that says the prediction ignores c or a is given only when it does."""
    g, steps = reference_gain(c, a), depth - 1
    right = reference_norm_ratio(c, a, depth)

    def same(x, y):
        return x is not None and math.isclose(x, y, rel_tol=1e-6)
    if steps > 0 and same(probe(1.7 * c, a, depth), value) and not same(reference_norm_ratio(1.7 * c, a, depth), right):
        return ("your prediction does not change with c: each layer's weights have variance c / fan_in, "
                "and that scales every step.")
    if steps > 0 and same(probe(c, a + 0.5, depth), value):
        return ("your prediction does not change with a: the leaky ReLU's negative side passes the "
                "backward signal too, multiplied by a.")
    wrong = [
        (g ** steps, "that is the ratio of the SQUARED norms (the gain is a factor on the squared norm); "
                     "the question asks for the ratio of the norms."),
        (g ** (depth / 2), "hidden layer 1 and hidden layer `depth` are depth - 1 layers apart, not depth."),
        (g ** ((depth + 1) / 2), "hidden layer 1 and hidden layer `depth` are depth - 1 layers apart."),
        (g ** (-steps / 2), "delta_1 is on the INPUT side: with a gain below 1 it is the smaller of the two, "
                            "so the ratio is below 1 (and above 1 when the gain is above 1)."),
        ((c * (1 + a) / 2) ** (steps / 2), "the factor is the mean of phi'(z)^2, not of phi'(z): "
                                           "on the negative side phi'(z)^2 = a^2."),
        ((c * (1 + a * a)) ** (steps / 2), "about half of the pre-activations are negative (z is symmetric "
                                           "around 0): average phi'(z)^2 over both sides."),
    ]
    for wrong_value, hint in wrong:
        if math.isclose(value, wrong_value, rel_tol=1e-3) and not math.isclose(wrong_value, right, rel_tol=1e-3):
            return hint
    return None


def _probe(fn, *args):
    """The learner's number for other arguments, or None when that call fails (used to choose a hint)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return as_real(timed_call(fn, args, {}, 2.0))
    except (Exception, _TimeLimit):   # the learner's code may raise anything; the hint then says nothing about it
        return None


@exercise("6.5", "Predict, then measure: how far the backward signal fades")
def check_norm_ratio(c: Checker, predicted_ratio) -> None:
    c.require_callable(predicted_ratio, "predicted_ratio")
    for cv, a, depth in RATIO_CASES:
        desc = f"predicted_ratio(c={cv:.6g}, a={a}, depth={depth})"
        got = c.call(predicted_ratio, cv, a, depth, desc=desc)
        value = as_real(got)
        if value is None or (isinstance(got, torch.Tensor) and got.requires_grad):
            c.fail(f"expected a number, but your code returned {type_name(got)}.", tried=desc, got=describe(got),
                   hint="return the ratio as a number (a float, or a fractions.Fraction).")
        c.ok()
        expected = reference_norm_ratio(cv, a, depth)
        if not (math.isfinite(value) and math.isclose(value, expected, rel_tol=0.01)):
            with _one_thread():
                measured = measured_norm_ratio(cv, a, depth)
            c.fail("the predicted ratio does not match the network.", tried=desc,
                   expected=f"{expected:.4g} (measured on this machine: {measured:.4g}; within 1 % passes)",
                   got=f"{value:.4g}",
                   hint=_ratio_hint(value, cv, a, depth, functools.partial(_probe, predicted_ratio)) or (
                       "follow the squared norm of the backward signal back through one layer (the weights' "
                       "variance, then the leaky ReLU's slope on each side), then over the layers between "
                       "hidden layer 1 and hidden layer `depth`; compare norms, not squared norms."))
        c.ok()


# --------------------------------------------------------------------------------------------
# 6.6 Design: an activation that keeps the signal alive under PyTorch's default init
# --------------------------------------------------------------------------------------------

#: The squared-norm gain per layer the design must reach (ReLU under the default init: about 1/6).
GAIN_RANGE = (0.7, 1.45)
#: The test accuracy the card's MLP must reach with the design and the learner's learning rate.
TRAIN_TARGET = 0.9


@exercise("6.6", "Design an activation for PyTorch's default initialisation", time_limit_s=5.0)
def check_design(c: Checker, activation, learning_rate) -> None:
    with _one_thread():
        _check_design(c, activation, learning_rate)


def _check_design(c: Checker, activation, learning_rate) -> None:
    c.require_callable(activation, "my_activation")
    if callable(learning_rate):
        learning_rate = c.call(learning_rate, desc="my_learning_rate()")
    if not _is_number(learning_rate) or not (0 < float(learning_rate) < math.inf):
        c.fail("my_learning_rate must be a positive number.", tried="my_learning_rate",
               got=describe(learning_rate), hint="a float such as 0.01.")
    c.ok()
    lr = float(learning_rate.item() if isinstance(learning_rate, torch.Tensor) else learning_rate)
    x = torch.linspace(-3, 3, 61)
    desc = "my_activation(torch.linspace(-3, 3, 61))"
    y = c.call(activation, x, desc=desc)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or not y.dtype.is_floating_point:
        c.fail("the activation must return a float tensor of its input's shape.", tried=desc, got=describe(y),
               hint="use elementwise torch operations, e.g. 2.0 * torch.relu(x).")
    c.ok()
    c.expect(bool(torch.isfinite(y).all()), "the activation returned NaN or infinite values.", tried=desc,
             got=describe(y[~torch.isfinite(y)][:4]))
    single = torch.stack([activation(x[i:i + 1])[0] for i in range(0, 61, 10)])
    c.expect(torch.allclose(single, y[::10], atol=1e-6), "the activation is not elementwise.", tried=desc,
             hint="each output may depend only on the input at the same position (no sums, means or norms).")
    A = torch.stack([torch.ones_like(x), x], 1)
    fit = torch.linalg.lstsq(A.double(), y.double().unsqueeze(1)).solution
    residual = (A.double() @ fit - y.double().unsqueeze(1)).abs().max().item()
    c.expect(residual > 1e-3 * (1 + y.abs().max().item()), "the activation is linear (affine).", tried=desc,
             hint="a network of linear layers with a linear activation is one linear map; keep a kink or a curve.")
    from relucourse.data import digits
    X, labels, X_test, y_test = digits()
    factory, _ = as_module_factory(activation)
    gain_desc = ("gradient_gain(my_activation): 20 hidden layers of width 64, PyTorch's default init, "
                 "one backward pass on 256 digits, seeds 0, 1, 2")
    gain = c.call(gradient_gain, factory, X[:256], labels[:256], desc=gain_desc, init="default",
                  seeds=(0, 1, 2), allow_warnings=True)[0]
    lo, hi = GAIN_RANGE
    hint = ("under the default init each layer multiplies the squared backward signal by about "
            "fan_in * Var(w) * E[f'(z)^2] with fan_in * Var(w) = 1/3; scale your function so that "
            "this is about 1 (ReLU reaches about 1/6).")
    c.expect(math.isfinite(gain) and lo <= gain <= hi, "the backward signal does not survive the depth.",
             tried=gain_desc, expected=f"a gain per layer between {lo} and {hi} (ReLU: about 0.17)",
             got=f"{gain:.3f}", hint=hint)
    train_desc = (f"the card's MLP (3 hidden layers of 64, PyTorch's default init) with my_activation, "
                  f"SGD with momentum 0.9 at learning rate {lr:g}, batch 64, up to 20 epochs, seed 0")
    _, history = train_small(factory, X, labels, X_test, y_test, lr=lr, epochs=20, seed=0, init="default")
    acc = history["val_acc"][-1] if math.isfinite(history["loss"][-1]) else 0.0
    c.expect(acc >= TRAIN_TARGET, "the network with your activation does not train.", tried=train_desc,
             expected=f"a test accuracy of at least {TRAIN_TARGET}", got=f"{acc:.3f}",
             hint=("a layer after an activation scaled by c gets inputs c times larger, so its weight "
                   "gradient is about c times larger, and a step changes its output by about c * c = c^2 "
                   "times as much: with c^2 = 6, divide the card's learning rate 0.05 by about 6."))
