"""Checks for chapter 5: ReLU's variants."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from . import exercise
from .core import Checker, as_real, describe, type_name
from relucourse import variants

# --------------------------------------------------------------------------------------------
# 5.1 Predict, then measure: whose mean output is closest to zero?
# --------------------------------------------------------------------------------------------

MEAN_TOL = 5e-3
MEAN_HINT = ("estimate E[f(z)] for z ~ N(0, 1): average f over a large standard-normal sample "
             "(a million values or more from a generator of your own, e.g. torch.randn(10**6, "
             "generator=torch.Generator().manual_seed(0))), or integrate "
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


OWN_GENERATOR_HINT = ("make a generator of your own inside the function, e.g. gen = "
                      "torch.Generator().manual_seed(0) and torch.randn(10**6, generator=gen) (or "
                      "np.random.default_rng(0)); torch.manual_seed, np.random.seed and torch.randn "
                      "without generator= use the caller's global random state.")


def _global_rng_state():
    import random
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _same_rng_state(before, after) -> bool:
    (t0, n0, r0), (t1, n1, r1) = before, after
    return (torch.equal(t0, t1) and r0 == r1 and n0[0] == n1[0] and np.array_equal(n0[1], n1[1])
            and n0[2:] == n1[2:])


def _call_mean(c: Checker, mean_on_normal, fn, desc: str):
    """Call mean_on_normal(fn); the caller's global random state must be untouched."""
    before = _global_rng_state()
    got = c.call(mean_on_normal, fn, desc=desc, hint=MEAN_HINT)
    after = _global_rng_state()
    c.expect(_same_rng_state(before, after), "your code drew from (or reseeded) the global random state.",
             tried=desc, expected="the caller's torch, NumPy and Python random states as they were",
             got="the global random state changed during the call", hint=OWN_GENERATOR_HINT)
    return got


@exercise("5.1", "Predict, then measure: which mean output is closest to zero?", time_limit_s=20.0)
def check_closest_to_zero(c: Checker, mean_on_normal, closest_to_zero) -> None:
    c.require_callable(mean_on_normal, "mean_on_normal")
    c.require_callable(closest_to_zero, "closest_to_zero")
    for what, fn in _mean_cases():
        desc = f"mean_on_normal(f) with f = {what}"
        expected = reference_mean_on_normal(fn)
        got = _call_mean(c, mean_on_normal, fn, desc)
        hint = MEAN_HINT
        if isinstance(got, (float, int)) and not isinstance(got, bool) and what == "relu":
            if math.isclose(got, 0.5, abs_tol=MEAN_TOL):
                hint = "0.5 is E[z] for a uniform z in [0, 1]: sample with torch.randn, not torch.rand."
        c.expect_number(got, expected, desc=desc, rtol=0, atol=MEAN_TOL,
                        hint=f"within {MEAN_TOL} of E[f(z)]; " + hint)
        if what == "tanh":   # the same f twice: a generator made from a fixed seed gives the same value
            again = _call_mean(c, mean_on_normal, fn, desc + ", called a second time")
            first, second = as_real(got), as_real(again)
            if first is not None and second is not None:
                c.expect(first == second or (math.isnan(first) and math.isnan(second)),
                         "two calls with the same f gave different values.", tried=desc + ", twice",
                         expected="the same value both times (a sample from a generator seeded inside "
                                  "the function)", got=f"{first!r}, then {second!r}", hint=OWN_GENERATOR_HINT)
    for functions, what in _closest_cases():
        desc = f"closest_to_zero(functions) with {what}: {sorted(functions)}"
        expected = reference_closest_to_zero(functions)
        given = dict(functions)
        got = c.call(closest_to_zero, given, desc=desc)
        c.expect(list(given) == list(functions) and all(given[k] is functions[k] for k in functions),
                 "your code modified the dict it was given.", tried=desc,
                 expected=f"the dict unchanged: keys {list(functions)}, each with its own function",
                 got=f"keys {list(given)}" if list(given) != list(functions) else "a key now holds another value",
                 hint="read the dict without changing it: collect the means in a new dict "
                      "(means = {name: ... for name, f in functions.items()}).")
        hint = "return the NAME (a key of the dict) whose mean output is closest to 0 in absolute value."
        if isinstance(got, str) and got in functions:
            means = {n: reference_mean_on_normal(f) for n, f in functions.items()}
            if got == min(means, key=means.get) and got != expected:
                hint = "closest to zero means the smallest |mean|, not the smallest (most negative) mean."
        c.expect(isinstance(got, str) and got == expected, "wrong answer.", tried=desc,
                 expected=repr(expected), got=describe(got), hint=hint)


# --------------------------------------------------------------------------------------------
# 5.2 Design a paired comparison: how many seeds?
# --------------------------------------------------------------------------------------------

PLAN_POWER_LOW, PLAN_POWER_HIGH = 0.75, 0.95
PLAN_HINT = ("a paired comparison looks at the per-seed differences a[i] - b[i]; with their "
             "standard deviation s, a two-sided 95 % interval excludes 0 with probability 80 % "
             "when n is about ((1.96 + 0.84) * s / effect)^2 (the t-distribution asks for a little "
             "more). Round up to a whole number of seeds.")


def plan_power(n: int, sd: float, effect: float, confidence: float = 0.95) -> float:
    """Probability that a paired two-sided t-interval over n seeds excludes 0 when the true mean
    difference is ``effect`` and the per-seed differences have standard deviation ``sd``
    (the non-central t-distribution; exact, no sampling)."""
    from scipy.stats import nct, t

    df = n - 1
    crit = t.ppf(0.5 + confidence / 2, df)
    shift = effect * math.sqrt(n) / sd
    if shift > crit + 40:      # certain detection (and beyond nct's numerical range)
        return 1.0
    return float(nct.sf(crit, df, shift) + nct.cdf(-crit, df, shift))


def reference_plan_seeds(pilot_a, pilot_b, effect: float) -> int:
    """The smallest n whose paired t-test power, with the pilot's standard deviation of the
    per-seed differences taken as the true one, reaches 80 %."""
    d = np.asarray(pilot_a, dtype=np.float64) - np.asarray(pilot_b, dtype=np.float64)
    sd = float(d.std(ddof=1))
    n = 2
    while plan_power(n, sd, abs(effect)) < 0.8:
        n += 1
    return n


def _smallest_n(sd: float, effect: float) -> int:
    n = 2
    while plan_power(n, sd, abs(effect)) < 0.8:
        n += 1
    return n


def _normal_n(sd: float, effect: float) -> int:
    """The normal approximation's count (no t correction)."""
    return math.ceil(((1.959963984540054 + 0.8416212335729143) * sd / abs(effect)) ** 2)


def _pilots():
    """(pilot_a, pilot_b, effect, story): two activations' losses for the same pilot seeds. The
    seed's own effect (initialisation, data order) is large and shared by both; the per-seed
    differences are small. Built so that the differences' sample sd is exactly ``sd``."""
    cases = []
    rng = np.random.default_rng(52)
    for n_pilot, seed_sd, sd, shift, effect in [(10, 0.05, 0.03, -0.03, 0.02),
                                               (8, 0.10, 0.02, 0.00, 0.01),
                                               (12, 0.04, 0.03, 0.05, 0.015),
                                               (6, 0.08, 0.01, -0.01, 0.004),
                                               # a handful of seeds: the t-interval's degrees of
                                               # freedom decide (the normal approximation falls short)
                                               (7, 0.06, 0.01, 0.00, 0.0194),
                                               (6, 0.05, 0.01, 0.00, 0.025),
                                               # an effect far above the noise: 2 seeds suffice
                                               (8, 0.05, 0.002, 0.00, 0.03)]:
        base = 0.25 + seed_sd * rng.standard_normal(n_pilot)
        noise = rng.standard_normal(n_pilot)
        noise = (noise - noise.mean()) / noise.std(ddof=1) * sd
        a = base + noise / 2 + shift / 2
        b = base - noise / 2 - shift / 2
        story = (f"{n_pilot} pilot seeds (losses near 0.25, seed-to-seed spread about {seed_sd}), "
                 f"effect = {effect}")
        cases.append(([float(v) for v in a], [float(v) for v in b], effect, story))
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


def _int_or_none(value):
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return None


@exercise("5.2", "Design a paired comparison: how many seeds?", time_limit_s=10.0)
def check_plan_seeds(c: Checker, plan_seeds) -> None:
    c.require_callable(plan_seeds, "plan_seeds")
    for a, b, effect, story in _pilots():
        desc = f"plan_seeds(pilot_a, pilot_b, effect) with {story}"
        d = np.asarray(a) - np.asarray(b)
        sd = float(d.std(ddof=1))
        best = reference_plan_seeds(a, b, effect)
        given_a, given_b = list(a), list(b)
        got = c.call(plan_seeds, given_a, given_b, effect, desc=desc, hint=PLAN_HINT)
        c.expect(given_a == a and given_b == b, "your code modified its input in place.", tried=desc,
                 hint="read the pilot lists without sorting or changing them (use sorted(...) or "
                      "np.asarray(...) for a copy).")
        n = _int_or_none(got)
        if n is None:
            c.fail(f"expected a whole number of seeds (an int), but your code returned {type_name(got)}.",
                   tried=desc, expected=f"an int near {best}", got=describe(got),
                   hint="round up with math.ceil and return int(...).")
        c.expect(2 <= n <= 100_000, "the number of seeds is out of range.", tried=desc,
                 expected="an int between 2 and 100,000", got=repr(n), hint=PLAN_HINT)
        power = plan_power(n, sd, effect)
        hint = PLAN_HINT
        unpaired_sd = math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1))
        if n > 2 * best and plan_power(n, unpaired_sd, effect) < 0.97:
            hint = ("your count is what an unpaired comparison would need: the seed's own effect "
                    "is shared by both activations, so work with the per-seed differences a[i] - b[i].")
        elif power < PLAN_POWER_LOW and n == _smallest_n(float(d.std(ddof=0)), effect):
            hint = ("your count is what the pilot's standard deviation with ddof=0 gives: that "
                    "underestimates the spread of a small pilot; take the sample standard deviation "
                    "(ddof=1), as the statement asks.")
        elif power < PLAN_POWER_LOW and n <= _normal_n(sd, effect) + 1:
            hint = ("with few seeds the t-interval is much wider than the normal approximation "
                    "(1.96 + 0.84)^2 * s^2 / effect^2 assumes: at this n the t-distribution has only "
                    "n - 1 degrees of freedom. Search for the smallest n whose power, from the "
                    "non-central t-distribution (scipy.stats.nct), reaches 80 %.")
        got_text = f"{n} seeds, which detect the effect with probability {power:.2f}"
        c.expect(power >= PLAN_POWER_LOW, "too few seeds: the comparison would often miss the effect.",
                 tried=desc, expected=f"a count whose paired 95 % interval excludes 0 with probability "
                 f"at least {PLAN_POWER_LOW} (the smallest for 80 % is {best})", got=got_text, hint=hint)
        c.expect(power <= PLAN_POWER_HIGH, "more seeds than the comparison needs.", tried=desc,
                 expected=f"a count with probability at most {PLAN_POWER_HIGH} (the smallest for 80 % "
                 f"is {best}); every extra seed costs a training run", got=got_text, hint=hint)


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
        with _ForbidAten():
            yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


class _ForbidAten(TorchDispatchMode):
    """The same kernels reached through any other name (torch.ops.aten.elu, F.elu_, torch.celu_, ...)
    raise too: the mode sees every ATen operator the learner's code runs."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        base = func.name().split("::")[-1].split(".")[0].rstrip("_")
        if base in FORBIDDEN:
            raise RuntimeError(f"aten.{base} (what F.{base} runs) is not allowed in this exercise: build "
                               "it from tensor operations")
        return func(*args, **(kwargs or {}))


EXTREME = [-1e4, -100.0, -20.0, -3.0, -1.0, -1e-3, -0.0, 0.0, 1e-8, 0.5, 2.0, 20.0, 100.0, 1e4]
#: Each function's formula: the hint for wrong values that are finite; the full hints add the overflow story.
FORMULA = {"elu": "elu(x) = x for x > 0 and alpha * (exp(x) - 1) otherwise.",
           "mish": "mish(x) = x * tanh(softplus(x)) with softplus(x) = log(1 + exp(x))."}
ELU_HINT = (FORMULA["elu"] + " torch.where computes BOTH branches: exp(100) overflows to inf, and in the "
            "backward pass 0 * inf = NaN. Keep the unused branch finite, e.g. torch.expm1(x.clamp(max=0)).")
MISH_HINT = (FORMULA["mish"] + " Written naively, exp(x) overflows for large x and the gradient becomes "
             "inf / inf = NaN; use a stable softplus (F.softplus, torch.logaddexp(x, 0), or "
             "x.clamp(min=0) + log1p(exp(-|x|))).")


def _builtin_hint(err: Exception) -> str | None:
    """The hint when the learner's code reached a switched-off kernel (by any name)."""
    if "is not allowed in this exercise" in str(err):
        return ("PyTorch's ELU, CELU, SELU and Mish kernels are switched off here, under every name "
                "(F.elu, nn.ELU, torch.ops.aten.elu, ...): write elu from torch.where and torch.expm1, "
                "and mish from torch.tanh and F.softplus.")
    return None


def _value_hint(name: str, got, x: torch.Tensor, expected: torch.Tensor, kw: dict, hint: str) -> str:
    """The hint for wrong values, by the symptom: alpha ignored, an overflow (inf or NaN where the
    function is finite), or else only the formula."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    alpha = kw.get("alpha", 1.0)
    if name == "elu" and alpha != 1.0 and torch.allclose(
            got.double(), F.elu(x.double()), rtol=1e-3, atol=1e-6, equal_nan=True):
        return (f"your values are ELU's for alpha = 1, but alpha = {alpha:g} was passed: the negative "
                "branch is alpha * (exp(x) - 1); use the alpha argument.")
    if bool((~torch.isfinite(got) & torch.isfinite(expected)).any()):
        return hint  # the overflow story
    return FORMULA[name]


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
                    got = c.call(learner, x, desc=desc, hint=hint, expected=expected,
                                 raise_hint=_builtin_hint, **kw)
                c.expect_array(got, expected.detach(), desc=desc, rtol=rtol, atol=atol,
                               hint=_value_hint(name, got, x, expected.detach(), kw, hint))
                if "NaN" in what or x.numel() == 0:
                    continue
                gdesc = f"the gradient of {name}(x{call_kw}).sum() with x = {what}, dtype " \
                        f"{str(dtype).replace('torch.', '')}"
                with _forbid_builtins():
                    got_y, got_g = c.call(lambda t: _grad_of(learner, t, **kw), x, desc=gdesc, hint=hint,
                                          raise_hint=_builtin_hint)
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
    with _ForbidAten():   # the mode's one-time set-up (about a second) is not the learner's time
        torch.zeros(1, requires_grad=True).exp().sum().backward()
    _compare_fn(c, "elu", elu, F.elu, ELU_HINT, alphas=(None, 0.5, 2.0))
    _compare_fn(c, "mish", mish, F.mish, MISH_HINT)


# --------------------------------------------------------------------------------------------
# 5.4 SELU's constants
# --------------------------------------------------------------------------------------------

SELU_HINT = ("for z ~ N(0, q) write the two conditions E[selu(z)] = 0 and E[selu(z)^2] = q as "
             "integrals against the normal density. The first does not involve lambda: solve it for "
             "alpha (a root finder such as bisection, or the closed form), then the second gives "
             "lambda. Sampling is not precise enough for 7 digits: integrate.")


def reference_selu_constants(q: float) -> tuple[float, float]:
    """(alpha, lambda) with E[selu(z)] = 0 and E[selu(z)^2] = q for z ~ N(0, q), by closed forms.

    With s = sqrt(q): E[z; z > 0] = s / sqrt(2 pi), E[e^z; z <= 0] = e^{q/2} Phi(-s),
    E[e^{2z}; z <= 0] = e^{2q} Phi(-2s), E[z^2; z > 0] = q / 2. (The package's
    variants.selu_constants covers only q = 1; the general case is the exercise's.)
    """
    s = math.sqrt(q)
    phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))
    pos_mean = s / math.sqrt(2 * math.pi)
    e1 = math.exp(q / 2) * phi(-s)
    e2 = math.exp(2 * q) * phi(-2 * s)
    alpha = pos_mean / (0.5 - e1)
    lam = math.sqrt(q / (q / 2 + alpha ** 2 * (e2 - 2 * e1 + 0.5)))
    return alpha, lam


@exercise("5.4", "SELU's alpha and lambda from the fixed-point conditions", time_limit_s=10.0)
def check_selu_constants(c: Checker, selu_constants) -> None:
    c.require_callable(selu_constants, "selu_constants")
    for q in (1.0, 0.5, 2.0, 3.0, 0.25, 1.5):
        desc = f"selu_constants({q})"
        got = c.call(selu_constants, q, desc=desc, hint=SELU_HINT)
        alpha, lam = reference_selu_constants(q)
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
                              for g, e in zip(values, reference_selu_constants(1.0))):
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
# 5.5 Design: a deep SELU network with dropout that keeps its statistics
# --------------------------------------------------------------------------------------------

DESIGN_HINT = ("Section 5.4 measured which initialisations and which dropout keep SELU's fixed point "
               "(mean 0, variance 1) and which break it; the line 'the worst layer' above says where "
               "your network leaves it.")
DROPOUTS = (nn.Dropout, nn.AlphaDropout)


def _weight_gain(model: nn.Module) -> float:
    """Mean over the Linear layers of Var(w) * fan_in (1 for LeCun, 2 for He)."""
    gains = [float(m.weight.detach().double().var() * m.in_features)
             for m in model.modules() if isinstance(m, nn.Linear)]
    return sum(gains) / max(len(gains), 1)


def _design_structure(c: Checker, model, depth: int, width: int, desc: str) -> None:
    c.expect(isinstance(model, nn.Sequential), f"expected an nn.Sequential, but your code returned "
             f"{type_name(model)}.", tried=desc, hint="return nn.Sequential(*layers).")
    blocks, layers = [], list(model)
    i = 0
    while i < len(layers):
        chunk = layers[i:i + 3]
        ok = (len(chunk) == 3 and isinstance(chunk[0], nn.Linear) and isinstance(chunk[1], nn.SELU)
              and isinstance(chunk[2], DROPOUTS))
        if not ok:
            c.fail("the network is not a stack of (Linear, SELU, dropout) blocks.", tried=desc,
                   expected=f"{depth} blocks of nn.Linear({width}, {width}), nn.SELU(), then "
                            "nn.Dropout(p) or nn.AlphaDropout(p)",
                   got=f"layers {i}-{i + 2}: " + ", ".join(type(m).__name__ for m in chunk),
                   hint="each block is exactly three modules, in this order.")
        blocks.append(chunk)
        i += 3
    c.expect(len(blocks) == depth, "wrong number of blocks.", tried=desc, expected=f"{depth} blocks",
             got=f"{len(blocks)} blocks", hint="build one block per layer of depth.")
    shapes = {(b[0].in_features, b[0].out_features) for b in blocks}
    c.expect(shapes == {(width, width)}, "the linear layers have the wrong shape.", tried=desc,
             expected=f"every nn.Linear({width}, {width})", got=f"shapes {sorted(shapes)}")
    rates = sorted({float(b[2].p) for b in blocks})
    c.expect(0.05 <= rates[0] and rates[-1] <= 0.5, "the dropout rate is outside the range asked for.",
             tried=desc, expected="every rate p between 0.05 and 0.5", got=f"rates {rates}",
             hint="the task asks for real regularisation (p >= 0.05) but not more than half the units.")


@exercise("5.5", "Design: a deep SELU network with dropout that keeps its statistics", time_limit_s=10.0)
def check_selu_design(c: Checker, make_selu_net) -> None:
    c.require_callable(make_selu_net, "make_selu_net")
    cases = [(50, 128, 0.0, 1.0, "input N(0, 1)"), (40, 64, 1.0, 2.0, "input N(1, 4)"),
             (45, 96, 0.0, 1.0, "input N(0, 1)")]
    for k, (depth, width, shift, scale, inputs) in enumerate(cases):
        desc = f"make_selu_net({depth}, {width}), then 256 inputs ({inputs}) in training mode"
        with torch.random.fork_rng():
            torch.manual_seed(500 + k)
            model = c.call(make_selu_net, depth, width, desc=desc, hint=DESIGN_HINT)
            _design_structure(c, model, depth, width, desc)
            means, variances = variants.propagate(model, n=256, seed=k, shift=shift, scale=scale,
                                                  train=True)
        finite = all(math.isfinite(v) for v in means + variances)
        last_m, last_v = means[-1], variances[-1]
        worst = max(range(len(variances)), key=lambda i: abs(math.log(max(variances[i], 1e-30))))
        got = (f"after the last block mean {last_m:.3g}, variance {last_v:.3g}; the worst layer "
               f"({worst + 1}) has variance {variances[worst]:.3g}")
        hint = DESIGN_HINT
        gain = _weight_gain(model)
        if not 0.8 < gain < 1.25:
            hint = (f"your weights have variance {gain:.2f} / fan_in; Section 5.4's fixed point assumes "
                    "the variance that keeps a standard-normal pre-activation standard normal.")
        elif any(type(m) is nn.Dropout for m in model):
            hint = ("your blocks use nn.Dropout: Section 5.4 measured what inverted dropout does to the "
                    "variance SELU's fixed point relies on.")
        c.expect(finite and abs(last_m) < 0.15 and 0.75 < last_v < 1.33
                 and all(0.3 < v < 5.0 for v in variances[len(variances) // 2:]),
                 "the activations did not keep mean 0 and variance 1.", tried=desc,
                 expected="mean within ±0.15 of 0 and variance between 0.75 and 1.33 after the last "
                          "block, variance between 0.3 and 5 in the second half",
                 got=got, hint=hint)


# --------------------------------------------------------------------------------------------
# 5.6 Predict, then measure: the weight variance that keeps a deep GELU network's signal
# --------------------------------------------------------------------------------------------

GAIN_TOL = 0.005
GAIN_HINT = ("He et al.'s argument for ReLU: a layer with weights of variance c / fan_in maps the "
             "second moment q of its input to q' = c * E[f(z)^2] with z ~ N(0, q). Ask for q' = q "
             "at q = 1 and compute E[gelu(z)^2] for z ~ N(0, 1) precisely (integrate, or a very "
             "large sample).")


def reference_gelu_gain() -> float:
    """c with c * E[gelu(z)^2] = 1 for z ~ N(0, 1): the second moment 1 is then a fixed point."""
    return 1.0 / variants.normal_expectation(lambda z: F.gelu(z) ** 2)


@torch.no_grad()
def gelu_second_moments(gain: float, depth: int = 10, width: int = 512, n: int = 256,
                        seed: int = 1) -> list[float]:
    """Second moment of the pre-activations z of each layer of a bias-free GELU network,
    z_{l+1} = W_l gelu(z_l) with W_l ~ N(0, gain / fan_in), starting from standard-normal z_0
    (float64, seeded)."""
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, width, generator=gen, dtype=torch.float64)
    out = []
    for _ in range(depth):
        w = torch.randn(width, width, generator=gen, dtype=torch.float64) * math.sqrt(gain / width)
        z = F.gelu(h) @ w.T
        out.append(float(z.square().mean()))
        h = z
    return out


@exercise("5.6", "Predict, then measure: the weight variance for a deep GELU network", time_limit_s=10.0)
def check_gelu_gain(c: Checker, gelu_gain) -> None:
    c.require_callable(gelu_gain, "gelu_gain")
    desc = "gelu_gain()"
    expected = reference_gelu_gain()
    got = c.call(gelu_gain, desc=desc, hint=GAIN_HINT)
    hint = GAIN_HINT
    if isinstance(got, (torch.Tensor, np.ndarray)):
        c.fail(f"expected a plain number (a Python float), but your code returned {type_name(got)}.", tried=desc,
               expected=f"a float near {expected:.4f}", got=describe(got),
               hint="turn a one-element tensor into a float with .item() (or float(...)).")
    value = as_real(got)
    moments = None
    if value is not None and math.isfinite(value) and 0 < value < 100:
        moments = gelu_second_moments(value)
        m2 = variants.normal_expectation(lambda z: F.gelu(z) ** 2, points=20_001)
        m1 = variants.normal_expectation(F.gelu, points=20_001)
        near = {2.0: "2 is He's gain, derived for ReLU, whose E[relu(z)^2] is exactly 1/2; GELU's "
                     "second moment is not 1/2.",
                1.0: "1 is LeCun's gain, for activations that keep the second moment (like tanh near "
                     "0); GELU does not.",
                m2: "that is E[gelu(z)^2] itself; the gain is the factor that undoes it.",
                1 / (m2 - m1 ** 2): "that undoes the variance of gelu(z); the next layer's "
                                    "pre-activation depends on the second moment, E[gelu(z)^2].",
                1 / m1 ** 2: "that uses the mean of gelu(z); the second moment E[gelu(z)^2] is what "
                             "carries over."}
        for v, text in near.items():
            if math.isclose(value, v, rel_tol=1e-3):
                hint = text
        hint += (f" Measured with your value, the pre-activations' second moment over layers 1-10 "
                 f"went {moments[0]:.3g} -> {moments[4]:.3g} -> {moments[-1]:.3g} (it should stay 1).")
    c.expect_number(got, expected, desc=desc + " (the gain c in Var(w) = c / fan_in)", rtol=GAIN_TOL,
                    hint=hint)
    c.expect(moments is not None and 0.6 < moments[-1] < 1.6, "the signal did not keep its size.",
             tried="a 10-layer GELU network of width 512 with your gain",
             expected="second moment of the last pre-activations between 0.6 and 1.6",
             got=f"{moments[-1]:.3g}")
