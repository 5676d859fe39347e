"""Chapter 6 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from conftest import not_attempted, passes, rejects, stub
from relucourse.reportcard import layer_gain as fitted_gain
from relucourse.sequences import adding_problem
from relucourse.tooling.checks.ch06 import reference_clip_grad_norm


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


# -- 6.2 clipping -----------------------------------------------------------------------------

def clip_loop(parameters, max_norm):
    params = [p for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
    if total > max_norm:
        for p in params:
            p.grad.mul_(max_norm / total)
    return total


def clip_torch(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(list(parameters), max_norm)


def test_6_2_accepts_correct_clipping():
    passes("6.2", reference_clip_grad_norm)
    passes("6.2", clip_loop)
    passes("6.2", clip_torch)

    def clip_stack(parameters, max_norm):
        grads = [p.grad for p in parameters if p.grad is not None]
        total = torch.cat([g.flatten().double() for g in grads]).norm()
        factor = min(1.0, max_norm / (float(total) + 1e-12))
        for g in grads:
            g *= factor
        return total
    passes("6.2", clip_stack)


def test_6_2_generic_failures():
    not_attempted("6.2", stub("6.2"))
    rejects("6.2", raises, says=("raised an error",))
    rejects("6.2", forever, says=("did not finish",))
    rejects("6.2", lambda ps, m: None, says=("expected the total norm",))


def test_6_2_rejects_wrong_clipping():
    def per_tensor(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params))
        for p in params:
            torch.nn.utils.clip_grad_norm_([p], max_norm)
        return total
    rejects("6.2", per_tensor, says=("same factor",))

    def always_scales(parameters, max_norm):
        params = [p for p in parameters if p.grad is not None]
        total = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        for p in params:
            p.grad.mul_(max_norm / (total + 1e-6))
        return total
    rejects("6.2", always_scales, says=("leave the gradients unchanged",))

    def returns_after(parameters, max_norm):
        params = list(parameters)
        torch.nn.utils.clip_grad_norm_(params, max_norm)
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

    def unseeded(n, T, seed):
        return adding_problem(n, T, seed=int(torch.randint(0, 10**6, ())))
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
        if math.isinf(self.low) or math.isinf(self.high):
            return z
        return self.low + (self.high - self.low) * torch.sigmoid(z)


class TanhSquash(Squash):
    def forward(self, h):
        z = self.fc(h)
        if math.isinf(self.low) or math.isinf(self.high):
            return z
        return self.low + (self.high - self.low) * (torch.tanh(z) + 1) / 2


def test_6_4_accepts_correct_layers():
    passes("6.4", Squash)
    passes("6.4", TanhSquash)
    passes("6.4", lambda hidden, n_out, low, high: Squash(hidden, n_out, low, high) if math.isfinite(high)
           else nn.Sequential(nn.Linear(hidden, n_out), nn.Identity()))


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
            says=("reconstruction error",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.Linear(hidden, n_out), nn.Tanh()),
            says=("outside [low, high]",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.Linear(hidden, n_out), nn.Hardtanh(0, 1)),
            says=("reconstruction error",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Linear(n_out, hidden), says=("raised an error",))
    rejects("6.4", lambda hidden, n_out, low, high: nn.Sequential(nn.ReLU(), nn.Identity()),
            says=("no trainable parameters",))

    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(32, 64)
            self.fc.weight.requires_grad_(False)
            self.fc.bias.requires_grad_(False)

        def forward(self, h):
            return self.fc(h)
    rejects("6.4", lambda *a: Frozen(), says=("no trainable parameters",))


# -- 6.5 fitted gain --------------------------------------------------------------------------

def gain_torch(norms):
    v = torch.as_tensor(np.asarray(norms, dtype=float))
    if (v <= 0).any() or not torch.isfinite(v).all():
        return float("nan")
    x = torch.arange(len(v), dtype=torch.float64)
    lv = 2 * v.log()
    slope = ((x - x.mean()) * (lv - lv.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return torch.exp(-slope)


def gain_log10(norms):
    v = np.asarray([float(n) for n in norms])
    if np.any(v <= 0) or not np.all(np.isfinite(v)):
        return math.nan
    return float(10 ** (-np.polyfit(np.arange(len(v)), np.log10(v ** 2), 1)[0]))


def test_6_5_accepts_correct_fits():
    passes("6.5", fitted_gain)
    passes("6.5", gain_torch)
    passes("6.5", gain_log10)


def test_6_5_generic_failures():
    not_attempted("6.5", stub("6.5"))
    rejects("6.5", raises, says=("raised an error",))
    rejects("6.5", forever, says=("did not finish",))
    rejects("6.5", lambda n: "2.0", says=("expected a number",))


def _fit(norms, log=np.log, square=True):
    v = np.asarray([float(n) for n in norms])
    return np.polyfit(np.arange(len(v)), log(v ** 2 if square else v), 1)[0], v


def test_6_5_rejects_wrong_fits_one_per_rule():
    def on_the_norm(norms):        # the old, second meaning of gain
        slope, v = _fit(norms, square=False)
        return float(np.exp(-slope)) if np.all(v > 0) and np.all(np.isfinite(v)) else math.nan
    rejects("6.5", on_the_norm, says=("SQUARED norm",))

    def slope_sign(norms):
        slope, v = _fit(norms)
        return float(np.exp(slope)) if np.all(v > 0) and np.all(np.isfinite(v)) else math.nan
    rejects("6.5", slope_sign, says=("towards the INPUT",))

    def endpoints(norms):
        v = np.asarray([float(n) for n in norms])
        ok = np.all(v > 0) and np.all(np.isfinite(v))
        return float((v[0] / v[-1]) ** (2 / (len(v) - 1))) if ok else math.nan
    rejects("6.5", endpoints, says=("first and last",))

    def slope_only(norms):
        slope, v = _fit(norms)
        return float(-slope) if np.all(v > 0) and np.all(np.isfinite(v)) else math.nan
    rejects("6.5", slope_only, says=("slope of log",))

    def no_nan(norms):
        v = np.asarray([float(n) for n in norms])
        v = np.where((v > 0) & np.isfinite(v), v, 1e-30)
        return float(np.exp(-np.polyfit(np.arange(len(v)), np.log(v ** 2), 1)[0]))
    rejects("6.5", no_nan, says=("nan",))

    def skips_bad_norms(norms):   # drops the infinite norm instead of answering nan
        v = np.asarray([float(n) for n in norms])
        if np.any(v <= 0):
            return math.nan
        keep = np.isfinite(v)
        return float(np.exp(-np.polyfit(np.arange(len(v))[keep], np.log(v[keep] ** 2), 1)[0]))
    rejects("6.5", skips_bad_norms, says=("nan",))

    def mixed(norms):
        slope, v = _fit(norms, log=np.log10)
        return float(np.exp(-slope)) if np.all(v > 0) and np.all(np.isfinite(v)) else math.nan
    rejects("6.5", mixed, says=("log10",))

    def as_text(norms):
        return str(fitted_gain(norms))
    rejects("6.5", as_text, says=("expected a number",))


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
