"""Chapter 6 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from conftest import not_attempted, passes, rejects, stub
from relucourse.sequences import adding_problem
from relucourse.tooling.checks.ch06 import reference_clip_grad_norm
from rulebook import breaks_rule, rejects_in_time, slow

torch.set_num_threads(1)  # small models: one thread is fastest, and a loaded machine does not stall


def forever(*args, **kwargs):
    while True:
        pass


def raises(*args, **kwargs):
    raise ValueError("something went wrong")


# -- 6.1 predict, then measure the factor of a residual block ---------------------------------

def test_6_1_accepts_correct_predictions():
    passes("6.1", lambda s, a: 1 + 2 * s ** 2 * (1 + a ** 2))
    passes("6.1", lambda s, a: torch.tensor(1.0 + 2 * s * s + 2 * s * s * a * a))
    passes("6.1", lambda s, a: np.float64(1 + s * s * (2 + 2 * a * a)) * 1.01)   # within 2 %


def test_6_1_stub_and_generic_failures():
    not_attempted("6.1", stub("6.1"))
    rejects("6.1", raises, says=("raised an error",))
    rejects("6.1", forever, says=("did not finish",))
    rejects("6.1", 3, says=("expected a function",))
    rejects("6.1", lambda s, a: "3", says=("expected a number",))


def test_6_1_rejects_wrong_predictions_one_per_rule():
    rejects("6.1", lambda s, a: 1 + s * s * (1 + a * a), says=("no activation after it",))
    rejects("6.1", lambda s, a: 2 * s * s * (1 + a * a), says=("identity path",))
    rejects("6.1", lambda s, a: 1 + 2 * s * (1 + a * a), says=("s^2",))
    rejects("6.1", lambda s, a: 1 + 2 * s * s * (1 + a), says=("a^2 z^2",))
    rejects("6.1", lambda s, a: 1 + 2 * s * s, says=("(1 + a^2) / 2",))
    rejects("6.1", lambda s, a: math.sqrt(1 + 2 * s * s * (1 + a * a)), says=("second moment",))
    rejects("6.1", lambda s, a: (1 + s * math.sqrt(2 * (1 + a * a))) ** 2, says=("uncorrelated",))
    rejects("6.1", lambda s, a: (1 + 2 * s * s) * (1 + a * a), says=("identity path does not",))
    rejects("6.1", lambda s, a: 3.0, says=("does not match", "measured on this machine"))
    rejects("6.1", lambda s, a: math.nan, says=("does not match",))


def test_6_1_measurement_agrees_with_the_reference():
    from relucourse.tooling.checks.ch06 import FACTOR_CASES, measured_block_factor, reference_block_factor
    for s, a in FACTOR_CASES:
        assert measured_block_factor(s, a) == pytest.approx(reference_block_factor(s, a), rel=0.05)


def per_tensor(parameters, max_norm):
    params = [p for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
    for p in params:
        own = float(p.grad.double().norm())
        if own > max_norm:
            p.grad.mul_(max_norm / (own + 1e-6))
    return total


# -- 6.2 clipping -----------------------------------------------------------------------------

def clip_loop(parameters, max_norm):
    params = [p for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
    if total > max_norm:
        for p in params:
            p.grad.mul_(max_norm / (total + 1e-6))
    return total


def clip_float32(parameters, max_norm):      # float32 sums, a 0-d tensor returned
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    if total > max_norm:
        torch._foreach_mul_(grads, max_norm / (total.item() + 1e-6))
    return total


def test_6_2_accepts_correct_clipping():
    passes("6.2", reference_clip_grad_norm)
    passes("6.2", clip_loop)
    passes("6.2", clip_float32)

    def clip_stack(parameters, max_norm):
        grads = [p.grad for p in parameters if p.grad is not None]
        total = torch.cat([g.flatten().double() for g in grads] + [torch.zeros(1, dtype=torch.float64)]).norm()
        factor = max_norm / (float(total) + 1e-6) if total > max_norm else 1.0
        for g in grads:
            g *= factor
        return Fraction(float(total))
    passes("6.2", clip_stack)


def test_6_2_generic_failures():
    not_attempted("6.2", stub("6.2"))
    rejects("6.2", raises, says=("raised an error",))
    rejects("6.2", forever, says=("did not finish",))
    rejects("6.2", lambda ps, m: None, says=("expected the total norm",))


def test_6_2_rejects_wrong_clipping():
    rejects("6.2", per_tensor, says=("same factor",))
    rejects("6.2", lambda ps, m: torch.nn.utils.clip_grad_norm_(list(ps), m), says=("called torch's clip_grad_norm_",))

    def always_scales(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        for p in params:
            p.grad.mul_(max_norm / (total + 1e-6))
        return total
    rejects("6.2", always_scales, says=("leave the gradients unchanged",))

    def returns_after(parameters, max_norm):
        params = list(parameters)
        clip_loop(params, max_norm)
        return math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params if p.grad is not None))
    rejects("6.2", returns_after, says=("BEFORE clipping",))

    def not_in_place(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        _ = [p.grad * min(1.0, max_norm / total) for p in params]
        return total
    rejects("6.2", not_in_place, says=("IN PLACE",))

    def no_sqrt(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = sum(float((p.grad.double() ** 2).sum()) for p in params)
        return total
    rejects("6.2", no_sqrt, says=("square root",))

    def by_value(parameters, max_norm):
        params = list(parameters)
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params if p.grad is not None))
        torch.nn.utils.clip_grad_value_(params, max_norm)
        return total
    rejects("6.2", by_value, says=("gradient is wrong",))

    def crashes_on_none(parameters, max_norm):
        params = list(parameters)
        total = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params))
        for p in params:
            p.grad.mul_(min(1.0, max_norm / (total + 1e-6)))
        return total
    rejects("6.2", crashes_on_none, says=("raised an error",))

    def l1(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = sum(float(p.grad.abs().sum()) for p in params)
        if total > max_norm:
            for p in params:
                p.grad.mul_(max_norm / total)
        return total
    rejects("6.2", l1, says=("wrong total norm",))


def unseeded(n, T, seed, _calls=[0]):     # a fresh seed at every call, the global RNG untouched
    _calls[0] += 1
    return adding_problem(n, T, seed=seed * 1000 + _calls[0])


# -- 6.3 adding problem -----------------------------------------------------------------------

def adding_loop(n, T, seed):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, T, 2), dtype=np.float32)
    X[:, :, 0] = rng.random((n, T))
    y = np.zeros(n, dtype=np.float32)
    for i in range(n):
        a, b = rng.integers(0, T // 2), rng.integers(T // 2, T)
        X[i, [a, b], 1] = 1
        y[i] = X[i, a, 0] + X[i, b, 0]
    return torch.from_numpy(X), torch.from_numpy(y)


def adding_scatter(n, T, seed):
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(n, T, generator=g)
    first = torch.randint(0, T // 2, (n, 1), generator=g)
    second = torch.randint(T // 2, T, (n, 1), generator=g)
    m = torch.zeros(n, T).scatter_(1, first, 1.0).scatter_(1, second, 1.0)
    return torch.stack([v, m], -1), (v * m).sum(1)


def good_baseline(k, low, high):
    return k * (high - low) ** 2 / 12


def test_6_3_accepts_correct_generators():
    passes("6.3", adding_problem, good_baseline)
    passes("6.3", adding_loop, lambda k, lo, hi: k * (hi - lo) * (hi - lo) / 12.05)
    passes("6.3", adding_scatter, lambda k, lo, hi: torch.tensor(k * (hi - lo) ** 2 / 12))
    

def test_6_3_generic_failures():
    not_attempted("6.3", stub("6.3"), 0.0)
    not_attempted("6.3", adding_problem, stub("6.3"))
    rejects("6.3", raises, good_baseline, says=("raised an error",))
    rejects("6.3", forever, good_baseline, says=("did not finish",))


def test_6_3_rejects_wrong_generators_and_baselines():
    rejects("6.3", adding_problem, lambda k, lo, hi: k / 12, says=("not 1/12",))
    rejects("6.3", adding_problem, lambda k, lo, hi: k * (hi - lo) / 12, says=("SQUARE",))
    rejects("6.3", adding_problem, lambda k, lo, hi: k * k * (hi - lo) ** 2 / 12, says=("not k^2",))
    rejects("6.3", adding_problem, lambda k, lo, hi: (hi - lo) ** 2 / 12, says=("sum of k",))
    rejects("6.3", adding_problem, lambda k, lo, hi: 1 / 6, says=("chapter's case",))
    rejects("6.3", adding_problem, lambda k, lo, hi: k * (hi - lo) ** 2 / 4, says=("w^2 / 12",))
    rejects("6.3", adding_problem, lambda k, lo, hi: math.sqrt(k * (hi - lo) ** 2 / 12), says=("standard deviation",))
    rejects("6.3", adding_problem, lambda k, lo, hi: k * (lo + hi) / 2, says=("not its mean",))
    rejects("6.3", adding_problem, lambda k, lo, hi: "1/6", says=("expected a number",))
    rejects("6.3", adding_problem, 1 / 6, says=("expected a function",))
    rejects("6.3", lambda n, T, s: adding_problem(n, T, s)[0], good_baseline, says=("pair of tensors",))
    rejects("6.3", lambda n, T, s: (adding_problem(n, T, s)[0].double(), adding_problem(n, T, s)[1]), good_baseline,
            says=("float32",))

    def anywhere(n, T, seed):
        g = torch.Generator().manual_seed(seed)
        v = torch.rand(n, T, generator=g)
        idx = torch.stack([torch.randperm(T, generator=g)[:2] for _ in range(n)])
        m = torch.zeros(n, T).scatter_(1, idx, 1.0)
        return torch.stack([v, m], -1), (v * m).sum(1)
    rejects("6.3", anywhere, good_baseline, says=("first half",))

    rejects("6.3", unseeded, good_baseline, says=("same seed",))

    def mean_target(n, T, seed):
        X, y = adding_problem(n, T, seed)
        return X, y / 2
    rejects("6.3", mean_target, good_baseline, says=("sum of the marked",))

    def same_pos(n, T, seed):
        g = torch.Generator().manual_seed(seed)
        v = torch.rand(n, T, generator=g)
        m = torch.zeros(n, T)
        m[:, 0] = 1
        m[:, T - 1] = 1
        return torch.stack([v, m], -1), (v * m).sum(1)
    rejects("6.3", same_pos, good_baseline, says=("uniformly",))

    def normal_values(n, T, seed):
        X, y = adding_problem(n, T, seed)
        X = X.clone()
        X[:, :, 0] = torch.randn(n, T, generator=torch.Generator().manual_seed(seed))
        return X, (X[:, :, 0] * X[:, :, 1]).sum(1)
    rejects("6.3", normal_values, good_baseline, says=("[0, 1)",))


# -- 6.4 autoencoder output -----------------------------------------------------------------

class Squash(nn.Module):
    def __init__(self, hidden, n_out, low, high):
        super().__init__()
        self.fc, self.low, self.high = nn.Linear(hidden, n_out), low, high

    def forward(self, h):
        z = self.fc(h)
        if math.isinf(self.low) and math.isinf(self.high):
            return z
        if math.isinf(self.high):
            return self.low + 1 + F.elu(z)
        if math.isinf(self.low):
            return self.high - F.relu(z)
        return self.low + (self.high - self.low) * torch.sigmoid(z)


class TanhSquash(Squash):
    def forward(self, h):
        z = self.fc(h)
        if math.isinf(self.low) or math.isinf(self.high):
            return super().forward(h)
        return self.low + (self.high - self.low) * (torch.tanh(z) + 1) / 2


class Affine(nn.Module):
    def __init__(self, shift, scale):
        super().__init__()
        self.shift, self.scale = shift, scale

    def forward(self, z):
        return self.shift + self.scale * z


def sequential_layer(hidden, n_out, low, high):     # built from nn.Sequential and modules
    if math.isfinite(low) and math.isfinite(high):
        return nn.Sequential(nn.Linear(hidden, n_out), nn.Sigmoid(), Affine(low, high - low))
    if math.isfinite(low):
        return nn.Sequential(nn.Linear(hidden, n_out), nn.Softplus(), Affine(low, 1.0))
    if math.isfinite(high):
        return nn.Sequential(nn.Linear(hidden, n_out), nn.Softplus(), Affine(high, -1.0))
    return nn.Sequential(nn.Linear(hidden, n_out))


class ReluOnReals(Squash):              # in range everywhere, but no negative reconstruction on the real line
    def forward(self, h):
        if math.isinf(self.low) and math.isinf(self.high):
            return F.relu(self.fc(h))
        return super().forward(h)


def test_6_4_accepts_correct_layers():
    passes("6.4", Squash)
    passes("6.4", TanhSquash)
    passes("6.4", sequential_layer)


def test_6_4_generic_failures():
    not_attempted("6.4", stub("6.4"))
    rejects("6.4", raises, says=("raised an error",))
    rejects("6.4", forever, says=("did not finish",))
    rejects("6.4", lambda *a: torch.relu, says=("expected an nn.Module",))


def test_6_4_rejects_outputs_that_do_not_cover_the_range():
    rejects("6.4", lambda hidden, n_out, low, high: nn.Linear(hidden, n_out), says=("outside [low, high]",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.Linear(hidden, n_out), nn.ReLU()),
            says=("outside [low, high]",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.Linear(hidden, n_out), nn.Sigmoid()),
            says=("outside [low, high]", "low=-inf, high=0.0", "values above high = 0.0"))
    rejects("6.4", ReluOnReals, says=("reconstruction error", "standardised"))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.Linear(hidden, n_out), nn.Tanh()),
            says=("outside [low, high]",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.Linear(hidden, n_out), nn.Hardtanh(0, 1)),
            says=("outside [low, high]",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Linear(n_out, hidden), says=("raised an error",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.ReLU(), nn.Identity()),
            says=("must map (batch, 32) to (batch, 64)", "shape (200, 32)"))

    def frozen(*args):
        layer = Squash(*args)
        layer.requires_grad_(False)
        return layer
    rejects("6.4", frozen, says=("no trainable parameters",))


# -- 6.5 predict, then measure: how far the backward signal fades ----------------------------

def ratio(c, a, depth):
    return (c * (1 + a ** 2) / 2) ** ((depth - 1) / 2)


def ratio_loop(c, a, depth):           # one layer at a time, on the squared norm, then a root
    squared = 1.0
    for _ in range(depth - 1):
        squared *= c * (0.5 * 1 ** 2 + 0.5 * a ** 2)
    return math.sqrt(squared)


def ratio_exact(c, a, depth):          # exact numbers: a Fraction when the power is whole
    g = Fraction(c).limit_denominator(10 ** 6) * (1 + Fraction(a).limit_denominator(10 ** 6) ** 2) / 2
    return g ** ((depth - 1) // 2) if (depth - 1) % 2 == 0 else math.sqrt(g ** (depth - 1))


def test_6_5_accepts_correct_predictions():
    passes("6.5", ratio)
    passes("6.5", ratio_loop)
    passes("6.5", ratio_exact)
    passes("6.5", lambda c, a, depth: torch.tensor(c * (1 + a * a) / 2, dtype=torch.float64).sqrt() ** (depth - 1))
    passes("6.5", lambda c, a, depth: np.exp((depth - 1) / 2 * np.log(c * (1 + a * a) / 2)))


def test_6_5_stub_and_generic_failures():
    not_attempted("6.5", stub("6.5"))
    rejects("6.5", raises, says=("raised an error",))
    rejects("6.5", forever, says=("did not finish",))
    rejects("6.5", 0.5, says=("expected a function",))


def test_6_5_measurement_agrees_with_the_reference():
    from relucourse.tooling.checks.ch06 import RATIO_CASES, measured_norm_ratio, reference_norm_ratio
    for c, a, depth in RATIO_CASES[:3] + RATIO_CASES[-2:]:
        assert measured_norm_ratio(c, a, depth) == pytest.approx(reference_norm_ratio(c, a, depth), rel=0.15)


def test_6_5_rejects_typical_wrong_predictions_by_their_symptom():
    g = lambda c, a: c * (1 + a * a) / 2                      # noqa: E731
    msg = rejects("6.5", lambda c, a, d: g(c, a) ** (d - 1), says=("SQUARED norms", "measured on this machine"))
    assert "depth - 1" not in msg
    rejects("6.5", lambda c, a, d: g(c, a) ** (d / 2), says=("depth - 1 layers apart, not depth",))
    rejects("6.5", lambda c, a, d: g(c, a) ** ((d + 1) / 2), says=("depth - 1 layers apart",))
    rejects("6.5", lambda c, a, d: g(c, a) ** (-(d - 1) / 2), says=("INPUT side",))
    rejects("6.5", lambda c, a, d: (c * (1 + a) / 2) ** ((d - 1) / 2), says=("not of phi'(z)",))
    rejects("6.5", lambda c, a, d: (c / 2) ** ((d - 1) / 2), says=("does not change with a",))
    rejects("6.5", lambda c, a, d: (c * (1 + a * a)) ** ((d - 1) / 2), says=("half of the pre-activations",))
    rejects("6.5", lambda c, a, d: ((1 + a * a) / 2) ** ((d - 1) / 2), says=("does not change with c",))
    rejects("6.5", lambda c, a, d: (1 + a * a) ** ((d - 1) / 2), says=("does not change with c",))
    rejects("6.5", lambda c, a, d: 1.0, says=("does not match", "Expected: 0.000315", "does not change with c"))
    msg = rejects("6.5", lambda c, a, d: 2 * ratio(c, a, d), says=("does not match",))
    assert "Hint: follow the squared norm" in msg
    rejects("6.5", lambda c, a, d: math.nan, says=("does not match",))


# -- 6.6 design -------------------------------------------------------------------------------

def test_6_6_accepts_designs_that_keep_the_signal_and_train():
    passes("6.6", lambda x: math.sqrt(6) * torch.relu(x), 0.05 / 6)
    passes("6.6", lambda x: 2.3 * F.leaky_relu(x, 0.1), 0.01)
    passes("6.6", lambda x: 1.6 * torch.tanh(x), 0.02)


def test_6_6_rejects_designs_that_do_not_one_per_rule():
    good = lambda x: math.sqrt(6) * torch.relu(x)          # noqa: E731
    not_attempted("6.6", stub("6.6"), 0.01)
    rejects("6.6", raises, 0.01, says=("raised an error",))
    rejects("6.6", forever, 0.01, says=("did not finish",))
    rejects("6.6", torch.relu, 0.05, says=("does not survive", "0.17"))
    rejects("6.6", F.gelu, 0.05, says=("does not survive",))
    rejects("6.6", lambda x: 10 * torch.relu(x), 0.001, says=("does not survive",))
    rejects("6.6", good, 0.05, says=("does not train", "c^2"))        # the model answer of old, 0.089
    rejects("6.6", good, -0.01, says=("positive number",))
    rejects("6.6", good, "0.01", says=("positive number",))
    rejects("6.6", lambda x: 2.45 * x, 0.01, says=("linear",))
    rejects("6.6", lambda x: x / x.norm() * 10, 0.01, says=("elementwise",))
    rejects("6.6", lambda x: torch.relu(x) / 0 * x, 0.01, says=("NaN",))
    rejects("6.6", lambda x: x.numpy(), 0.01, says=("float tensor",))
    rejects("6.6", lambda x: torch.relu_(x) * 2.45, 0.01, says=("in place",))


# -- one test per rule the statements state (tests/unit/test_rules.py counts them) -------------

def _factor(s, a):
    return 1 + 2 * s ** 2 * (1 + a ** 2)


@breaks_rule("6.1", "value")
def test_rule_6_1_value():
    rejects("6.1", lambda s, a: 1 + 2 * s ** 2 * (1 + a), says=("does not match", "a^2 z^2"))


@breaks_rule("6.1", "number")
def test_rule_6_1_number():
    rejects("6.1", lambda s, a: [_factor(s, a)], says=("expected a number", "list"))
    rejects("6.1", lambda s, a: torch.tensor(float(_factor(s, a)), requires_grad=True), says=("expected a number",))


@breaks_rule("6.1", "time-limit")
def test_rule_6_1_time_limit():
    rejects_in_time("6.1", slow(_factor))


@breaks_rule("6.2", "generator")
def test_rule_6_2_generator():
    def reads_twice(parameters, max_norm):
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in parameters if p.grad is not None))
        if total > max_norm:
            for p in parameters:          # a generator is empty now: nothing is scaled
                if p.grad is not None:
                    p.grad.mul_(max_norm / (total + 1e-6))
        return total
    rejects("6.2", reads_twice, says=("a generator", "gradient is wrong", "IN PLACE"))


@breaks_rule("6.2", "global-norm")
def test_rule_6_2_global_norm():
    def largest_tensor_norm(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = max((float(p.grad.double().norm()) for p in params), default=0.0)
        if total > max_norm:
            for p in params:
                p.grad.mul_(max_norm / (total + 1e-6))
        return total
    rejects("6.2", largest_tensor_norm, says=("wrong total norm", "sqrt(sum over all gradients"))


@breaks_rule("6.2", "skip-none")
def test_rule_6_2_skip_none():
    def fills_none(parameters, max_norm):
        params = list(parameters)
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        return clip_loop(params, max_norm)
    rejects("6.2", fills_none, says=("was None is no longer None",))


@breaks_rule("6.2", "same-factor")
def test_rule_6_2_same_factor():
    rejects("6.2", per_tensor, says=("same factor",))


@breaks_rule("6.2", "factor")
def test_rule_6_2_factor():
    def no_epsilon(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        if total > max_norm:
            for p in params:
                p.grad.mul_(max_norm / total)
        return total
    rejects("6.2", no_epsilon, says=("tiny gradients", "max_norm / (total_norm + 1e-6)"))


@breaks_rule("6.2", "in-place")
def test_rule_6_2_in_place():
    def rebinds(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        if total > max_norm:
            for p in params:
                p.grad = p.grad * (max_norm / (total + 1e-6))   # a new tensor, not the optimizer's
        return total
    # rebinding p.grad on the caller's parameters is caught through the tensors the caller holds
    rejects("6.2", rebinds_copy(rebinds), says=("IN PLACE",))


def rebinds_copy(fn):
    """Rebinding p.grad where the optimizer keeps the old tensor: the check sees the old one unchanged."""
    def run(parameters, max_norm):
        params = list(parameters)
        held = [p.grad for p in params]
        total = fn(params, max_norm)
        for p, g in zip(params, held):
            p.grad = g                     # what the optimizer still holds
        return total
    return run


@breaks_rule("6.2", "unchanged")
def test_rule_6_2_unchanged():
    def always_scales(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        for p in params:
            p.grad.mul_(min(max_norm, 1e300) / (total + 1e-6))
        return total
    rejects("6.2", always_scales, says=("does not exceed max_norm", "leave the gradients unchanged"))

    def scales_at_equality(parameters, max_norm):      # >= instead of >
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        if total >= max_norm:
            for p in params:
                p.grad.mul_(max_norm / (total + 1e-6))
        return total
    rejects("6.2", scales_at_equality, says=("exactly equal to max_norm", "leave the gradients unchanged"))


@breaks_rule("6.2", "return-before")
def test_rule_6_2_return_before():
    def returns_after(parameters, max_norm):
        params = list(parameters)
        clip_loop(params, max_norm)
        return math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params if p.grad is not None))
    rejects("6.2", returns_after, says=("BEFORE clipping",))


@breaks_rule("6.2", "no-library")
def test_rule_6_2_no_library():
    from torch.nn.utils import clip_grad_norm_ as imported_early     # a name bound before the check runs
    rejects("6.2", lambda ps, m: imported_early(list(ps), m), says=("called torch's",))
    rejects("6.2", lambda ps, m: torch.nn.utils.clip_grad_norm(list(ps), m), says=("called torch's",))


@breaks_rule("6.2", "time-limit")
def test_rule_6_2_time_limit():
    rejects_in_time("6.2", slow(clip_loop))


@breaks_rule("6.3", "shape")
def test_rule_6_3_shape():
    rejects("6.3", lambda n, T, s: (adding_problem(n, T, s)[0], adding_problem(n, T, s)[1][:, None]), good_baseline,
            says=("wrong shape",))


@breaks_rule("6.3", "dtype")
def test_rule_6_3_dtype():
    rejects("6.3", lambda n, T, s: (adding_problem(n, T, s)[0], adding_problem(n, T, s)[1].double()), good_baseline,
            says=("float32",))


@breaks_rule("6.3", "values")
def test_rule_6_3_values():
    def shifted(n, T, seed):
        X, y = adding_problem(n, T, seed)
        X = X.clone()
        X[:, :, 0] += 1.0
        return X, (X[:, :, 0] * X[:, :, 1]).sum(1)
    rejects("6.3", shifted, good_baseline, says=("[0, 1)",))


@breaks_rule("6.3", "markers")
def test_rule_6_3_markers():
    def twos(n, T, seed):
        X, y = adding_problem(n, T, seed)
        X = X.clone()
        X[:, :, 1] *= 2
        return X, y
    rejects("6.3", twos, good_baseline, says=("exactly two markers equal to 1",))


@breaks_rule("6.3", "halves")
def test_rule_6_3_halves():
    def anywhere(n, T, seed):
        g = torch.Generator().manual_seed(seed)
        v = torch.rand(n, T, generator=g)
        idx = torch.stack([torch.randperm(T, generator=g)[:2] for _ in range(n)])
        m = torch.zeros(n, T).scatter_(1, idx, 1.0)
        return torch.stack([v, m], -1), (v * m).sum(1)
    rejects("6.3", anywhere, good_baseline, says=("first half",))


@breaks_rule("6.3", "uniform-positions")
def test_rule_6_3_uniform_positions():
    def early(n, T, seed):          # each marker at the start of its half
        g = torch.Generator().manual_seed(seed)
        v = torch.rand(n, T, generator=g)
        m = torch.zeros(n, T)
        m[:, 0] = 1
        m[:, T // 2] = 1
        return torch.stack([v, m], -1), (v * m).sum(1)
    rejects("6.3", early, good_baseline, says=("spread uniformly",))


@breaks_rule("6.3", "sum")
def test_rule_6_3_sum():
    rejects("6.3", lambda n, T, s: (adding_problem(n, T, s)[0], adding_problem(n, T, s)[0][:, :, 0].sum(1)),
            good_baseline, says=("sum of the marked numbers",))


@breaks_rule("6.3", "same-seed")
def test_rule_6_3_same_seed():
    rejects("6.3", unseeded, good_baseline, says=("same seed gave different data",))


@breaks_rule("6.3", "different-seeds")
def test_rule_6_3_different_seeds():
    rejects("6.3", lambda n, T, s: adding_problem(n, T, 0), good_baseline, says=("different seeds gave the same",))


@breaks_rule("6.3", "generator")
def test_rule_6_3_generator():
    def global_rng(n, T, seed):
        torch.manual_seed(seed)
        v = torch.rand(n, T)
        first = torch.randint(0, T // 2, (n,))
        second = torch.randint(T // 2, T, (n,))
        m = torch.zeros(n, T)
        m[torch.arange(n), first] = 1.0
        m[torch.arange(n), second] = 1.0
        return torch.stack([v, m], -1), (v * m).sum(1)
    rejects("6.3", global_rng, good_baseline, says=("changed the global random state",))

    def numpy_global(n, T, seed):
        np.random.seed(seed)
        return adding_problem(n, T, seed)
    rejects("6.3", numpy_global, good_baseline, says=("changed the global random state",))


@breaks_rule("6.3", "baseline")
def test_rule_6_3_baseline():
    rejects("6.3", adding_problem, lambda k, lo, hi: k * (hi - lo) ** 2 / 12 * 1.05, says=("wrong baseline MSE",))


@breaks_rule("6.3", "baseline-number")
def test_rule_6_3_baseline_number():
    rejects("6.3", adding_problem, lambda k, lo, hi: [good_baseline(k, lo, hi)], says=("expected a number",))


@breaks_rule("6.3", "time-limit")
def test_rule_6_3_time_limit():
    rejects_in_time("6.3", slow(adding_problem), good_baseline)


@breaks_rule("6.4", "module")
def test_rule_6_4_module():
    rejects("6.4", lambda hidden, n_out, low, high: (lambda h: torch.zeros(len(h), n_out)),
            says=("expected an nn.Module",))


@breaks_rule("6.4", "dtype")
def test_rule_6_4_dtype():
    class Double(Squash):
        def forward(self, h):
            return super().forward(h).double()
    rejects("6.4", Double, says=("changed the dtype", "torch.float64"))


@breaks_rule("6.4", "in-range")
def test_rule_6_4_in_range():
    class OneSidedOpen(Squash):       # a lower bound only, handled as no bound at all
        def forward(self, h):
            if math.isinf(self.high) and math.isfinite(self.low):
                return self.fc(h)
            return super().forward(h)
    rejects("6.4", OneSidedOpen, says=("outside [low, high]", "low=0.0, high=inf", "values below low"))


@breaks_rule("6.4", "reconstruct")
def test_rule_6_4_reconstruct():
    rejects("6.4", ReluOnReals, says=("reconstruction error", "outputs stay between 0 and", "reach from -2.85"))

    class Clamped(Squash):            # in range, able to reach every value, but no gradient outside it
        def forward(self, h):
            return torch.clamp(self.fc(h), self.low, self.high)
    rejects("6.4", Clamped, says=("reconstruction error", "can produce the data's values", "pass no gradient"))


@breaks_rule("6.4", "time-limit")
def test_rule_6_4_time_limit():
    rejects_in_time("6.4", slow(Squash))


@breaks_rule("6.5", "value")
def test_rule_6_5_value():
    rejects("6.5", lambda c, a, d: (c * (1 + a * a) / 2) ** (d - 1), says=("SQUARED norms",))


@breaks_rule("6.5", "number")
def test_rule_6_5_number():
    rejects("6.5", lambda c, a, d: str(ratio(c, a, d)), says=("expected a number", "str"))
    rejects("6.5", lambda c, a, d: np.array([ratio(c, a, d), 0.0]), says=("expected a number",))


@breaks_rule("6.5", "time-limit")
def test_rule_6_5_time_limit():
    rejects_in_time("6.5", slow(ratio))


_good = lambda x: math.sqrt(6) * torch.relu(x)   # noqa: E731


@breaks_rule("6.6", "gain")
def test_rule_6_6_gain():
    rejects("6.6", torch.relu, 0.05, says=("does not survive", "0.17"))


@breaks_rule("6.6", "trains")
def test_rule_6_6_trains():
    rejects("6.6", _good, 0.05, says=("does not train", "c^2"))


@breaks_rule("6.6", "shape-dtype")
def test_rule_6_6_shape_dtype():
    rejects("6.6", lambda x: _good(x).unsqueeze(0), 0.01, says=("float tensor of its input's shape",))
    rejects("6.6", lambda x: _good(x).long(), 0.01, says=("float tensor of its input's shape",))


@breaks_rule("6.6", "elementwise")
def test_rule_6_6_elementwise():
    rejects("6.6", lambda x: _good(x) * (1 + 1e-3 * x.mean()), 0.01, says=("not elementwise",))


@breaks_rule("6.6", "finite")
def test_rule_6_6_finite():
    rejects("6.6", lambda x: torch.where(x > 2.9, torch.full_like(x, math.inf), _good(x)), 0.01, says=("NaN or infinite",))


@breaks_rule("6.6", "not-linear")
def test_rule_6_6_not_linear():
    rejects("6.6", lambda x: 2.45 * x + 0.1, 0.01, says=("linear",))


@breaks_rule("6.6", "no-inplace")
def test_rule_6_6_no_inplace():
    rejects("6.6", lambda x: x.relu_().mul_(math.sqrt(6)), 0.01, says=("in place",))


@breaks_rule("6.6", "lr-positive")
def test_rule_6_6_lr_positive():
    rejects("6.6", _good, 0.0, says=("positive number",))


@breaks_rule("6.6", "time-limit")
def test_rule_6_6_time_limit():
    rejects_in_time("6.6", slow(_good), 0.01)


def test_6_1_gives_one_hint_by_the_symptom_not_two_run_together():
    """Issue 20, class 5: the old 6.1 joined two hints mid-sentence. Each message now carries one hint,
    the one whose wrong formula the answer matches, or the general one."""
    from relucourse.tooling.checks.ch06 import _factor_hint
    known = {_factor_hint(w(0.5, 0.0), 0.5, 0.0) for w in (
        lambda s, a: 1 + s * s * (1 + a * a), lambda s, a: 2 * s * s * (1 + a * a))}
    assert len(known) == 2 and None not in known
    for wrong in (lambda s, a: 1 + s * s * (1 + a * a), lambda s, a: 2 * s * s * (1 + a * a), lambda s, a: 3.0):
        msg = rejects("6.1", wrong, says=("Hint:",))
        assert msg.count("Hint:") == 1
        hint = msg.split("Hint: ")[1]
        assert hint in known or hint.startswith("follow E[x^2] through the block"), hint


def test_6_3_the_evidence_for_bad_markers_follows_the_symptom():
    """Issue 20, class 5: markers of 0.5 at four places sum to 2 like correct ones; the message shows
    a bad marker value, not sums that look right. A third marker of 1 shows the count."""
    def halves(n, T, seed):
        X, y = adding_problem(n, T, seed)
        X = X.clone()
        X[:, :, 1] *= 0.5
        X[:, 1, 1] += 0.5
        X[:, T - 2, 1] += 0.5
        return X, (X[:, :, 0] * X[:, :, 1]).sum(1)
    message = rejects("6.3", halves, good_baseline, says=("(markers must be 0 or 1)",))
    assert "marker sums" not in message

    def three(n, T, seed):
        X, y = adding_problem(n, T, seed)
        X = X.clone()
        X[0, :, 1] = 0.0
        X[0, :3, 1] = 1.0
        return X, (X[:, :, 0] * X[:, :, 1]).sum(1)
    rejects("6.3", three, good_baseline, says=("sequence 0: 3 markers",))
