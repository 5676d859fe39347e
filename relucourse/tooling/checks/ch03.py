"""Checks for chapter 3: ReLU's advantages, measured."""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
from torch import nn

from . import exercise
from .core import Checker, describe, type_name
from relucourse.measure import epochs_to_target, zero_fractions

# --------------------------------------------------------------------------------------------
# 3.1 He initialisation from scratch
# --------------------------------------------------------------------------------------------

HE_HINT = ("He initialisation draws each weight from a normal distribution with mean 0 and "
           "variance 2 / fan_in, where fan_in = layer.in_features (the number of inputs), and sets "
           "the bias to 0. Write into the existing tensors under torch.no_grad(), e.g. with "
           "layer.weight.copy_(...) or layer.weight.normal_(...).")


def reference_he_init_(layer: nn.Linear) -> nn.Linear:
    with torch.no_grad():
        layer.weight.normal_(0.0, math.sqrt(2.0 / layer.in_features))
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def _variance_diagnosis(ratio: float, fan_in: int, fan_out: int) -> str:
    """Name the likely mistake from Var(w) * fan_in (2 is right)."""
    known = [
        (1 / 3, "that is PyTorch's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)): nothing was re-initialised?"),
        (2 * fan_in / (fan_in + fan_out), "that is Xavier/Glorot's variance 2 / (fan_in + fan_out), "
                                          "not He's 2 / fan_in."),
        (2 * fan_in / fan_out, "that is 2 / fan_out: fan_in is layer.in_features, the number of "
                               "columns of layer.weight (its shape is (out_features, in_features))."),
        (2 / 3, "a uniform distribution on [-sqrt(2/fan_in), sqrt(2/fan_in)] has variance 2/(3 fan_in), "
                "not 2/fan_in. Use a normal distribution with standard deviation sqrt(2 / fan_in)."),
        (math.sqrt(2 * fan_in), "the standard deviation must be sqrt(2 / fan_in); this looks like a "
                                "variance of sqrt(2 / fan_in) instead."),
        (1.0, "a variance of 1/fan_in is LeCun's initialisation; ReLU needs twice that (He et al.)."),
        (4.0, "that is twice He's variance: std = sqrt(2 / fan_in), so variance = 2 / fan_in."),
    ]
    for value, text in known:
        if abs(ratio / value - 1) < 0.05:
            return text
    return HE_HINT


@exercise("3.1", "He initialisation from scratch")
def check_he_init(c: Checker, he_init_) -> None:
    c.require_callable(he_init_, "he_init_")
    cases = [(256, 400, torch.float32, True), (50, 2000, torch.float32, True),
             (3000, 40, torch.float32, True), (3, 30000, torch.float64, True),
             (500, 200, torch.float32, False)]
    for seed, (fan_in, fan_out, dtype, bias) in enumerate(cases):
        torch.manual_seed(1000 + seed)
        layer = nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype)
        weight, old_bias = layer.weight, layer.bias
        before = weight.detach().clone()
        desc = (f"he_init_(nn.Linear({fan_in}, {fan_out}"
                + ("" if bias else ", bias=False") + ("" if dtype == torch.float32 else ", dtype=torch.float64")
                + "))")
        torch.manual_seed(seed)
        c.call(he_init_, layer, desc=desc, hint=HE_HINT)

        c.expect(layer.weight is weight and layer.bias is old_bias,
                 "your code replaced the layer's parameters instead of filling them in place.", tried=desc,
                 hint="an optimizer created before the call would still hold the old tensors. Fill the "
                      "existing ones: with torch.no_grad(): layer.weight.copy_(...) (or .normal_(...)).")
        w = layer.weight
        c.expect(tuple(w.shape) == (fan_out, fan_in) and w.dtype == dtype,
                 "the weight changed its shape or dtype.", tried=desc,
                 expected=f"shape {(fan_out, fan_in)}, dtype {dtype}", got=f"shape {tuple(w.shape)}, dtype {w.dtype}",
                 hint="keep the layer's weight as it is and only change its values.")
        c.expect(w.requires_grad and w.grad_fn is None,
                 "the weight is no longer a trainable leaf tensor.", tried=desc,
                 expected="layer.weight.requires_grad == True", got=f"requires_grad={w.requires_grad}",
                 hint="write the values under torch.no_grad() and do not call requires_grad_(False) or detach_().")
        c.expect(not torch.equal(w.detach(), before), "the weights did not change.", tried=desc,
                 hint="modify the layer you are given (in place); creating a new layer does not change it.")
        if bias:
            c.expect(bool((layer.bias.detach() == 0).all()), "the bias is not zero.", tried=desc,
                     expected="every bias 0.0", got=describe(layer.bias.detach()[:5]) + " ...",
                     hint="He initialisation sets the biases to zero: layer.bias.zero_().")

        values = w.detach().double().flatten()
        n = values.numel()
        var = values.var().item()
        ratio = var * fan_in
        mean = values.mean().item()
        c.expect(math.isfinite(ratio), "the weights contain NaN or infinite values.", tried=desc, hint=HE_HINT)
        c.expect(abs(mean) < 6 * math.sqrt(2 / fan_in / n),
                 "the weights' mean is not 0.", tried=desc,
                 expected=f"a sample mean within ±{6 * math.sqrt(2 / fan_in / n):.2g} of 0",
                 got=f"{mean:.4g}", hint=HE_HINT)
        c.expect(abs(ratio / 2 - 1) < 0.05, "the weights have the wrong variance.", tried=desc,
                 expected=f"sample variance ≈ 2 / fan_in = {2 / fan_in:.4g} (within 5 %)",
                 got=f"{var:.4g}, i.e. {ratio:.3g} / fan_in", hint=_variance_diagnosis(ratio, fan_in, fan_out))
        excess_kurtosis = (((values - mean) ** 4).mean().item() / var ** 2) - 3
        c.expect(abs(excess_kurtosis) < 0.15, "the weights do not look normally distributed.", tried=desc,
                 expected="excess kurtosis ≈ 0 (a normal distribution)",
                 got=f"{excess_kurtosis:.2f}" + (" (a uniform distribution has -1.2)" if excess_kurtosis < -0.8 else ""),
                 hint="He et al. draw from a normal distribution: torch.randn(...) * sqrt(2 / fan_in), "
                      "or .normal_(0, sqrt(2 / fan_in)).")


# --------------------------------------------------------------------------------------------
# 3.2 Effective bandwidth
# --------------------------------------------------------------------------------------------

def reference_bandwidth_gbs(numel, dtype, seconds, reads=1, writes=1) -> float:
    itemsize = torch.empty((), dtype=dtype).element_size()
    return numel * itemsize * (reads + writes) / seconds / 1e9


def _bandwidth_diagnosis(got: float, expected: float, itemsize: int, reads: int, writes: int) -> str:
    if expected == 0:
        return "no elements means no bytes moved: 0 GB/s."
    ratio = got / expected
    known = [
        (1e9 / 2**30, "GB means 10^9 bytes here (as in memory specifications), not 2^30 bytes (GiB)."),
        (reads / (reads + writes), "count the bytes written too: bytes = numel * itemsize * (reads + writes)."),
        (writes / (reads + writes), "count the bytes read too: bytes = numel * itemsize * (reads + writes)."),
        (1 / (reads + writes), "each read and each write moves numel * itemsize bytes: multiply by (reads + writes)."),
        (4 / itemsize, "use the dtype's size in bytes (float32: 4, float16 and bfloat16: 2, float64: 8): "
                       "torch.empty((), dtype=dtype).element_size() or dtype.itemsize."),
        (1e-3, "the time is given in seconds, not milliseconds: GB/s = bytes / seconds / 1e9."),
        (1e3, "the time is given in seconds, not milliseconds: GB/s = bytes / seconds / 1e9."),
        (1e9, "the answer is in GB/s: divide bytes per second by 1e9."),
        (8.0, "bandwidth is counted in bytes, not bits."),
    ]
    for value, text in known:
        if ratio > 0 and abs(ratio / value - 1) < 1e-3:
            return text
    return "GB/s = numel * bytes per element * (reads + writes) / seconds / 1e9."


@exercise("3.2", "Effective bandwidth in GB/s")
def check_bandwidth(c: Checker, bandwidth_gbs) -> None:
    c.require_callable(bandwidth_gbs, "bandwidth_gbs")
    cases = [
        ((2**20, torch.float32, 1e-3), {}),
        ((2**28, torch.float32, 0.13), {}),
        ((10**6, torch.float16, 2e-4), {}),
        ((3 * 10**6, torch.bfloat16, 5e-4), {"reads": 2, "writes": 1}),
        ((12345, torch.float64, 3.5e-6), {"reads": 3, "writes": 2}),
        ((2**24, torch.uint8, 4e-4), {"reads": 1, "writes": 0}),
        ((0, torch.float32, 1e-3), {}),
    ]
    for args, kwargs in cases:
        numel, dtype, seconds = args
        shown = ", ".join([f"{numel:_}", str(dtype), repr(seconds)] + [f"{k}={v}" for k, v in kwargs.items()])
        desc = f"bandwidth_gbs({shown})"
        expected = reference_bandwidth_gbs(*args, **kwargs)
        got = c.call(bandwidth_gbs, *args, desc=desc, **kwargs)
        itemsize = torch.empty((), dtype=dtype).element_size()
        reads, writes = kwargs.get("reads", 1), kwargs.get("writes", 1)
        hint = None
        if isinstance(got, (int, float, np.integer, np.floating)) and not isinstance(got, bool):
            hint = _bandwidth_diagnosis(float(got), expected, itemsize, reads, writes)
        c.expect_number(got, expected, desc=desc, rtol=1e-6, atol=1e-12,
                        hint=hint or "return a float: numel * itemsize * (reads + writes) / seconds / 1e9.")


# --------------------------------------------------------------------------------------------
# 3.3 A fair timing helper
# --------------------------------------------------------------------------------------------

class FakeWorkload:
    """A deterministic stand-in for a function and a clock: call ``k`` takes ``durations[k]`` seconds.

    ``clock()`` returns the fake time; ``fn()`` advances it. Nothing really takes any time.
    """

    def __init__(self, durations):
        self.durations = list(durations)
        self.calls = 0
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def fn(self):
        step = self.durations[self.calls] if self.calls < len(self.durations) else self.durations[-1]
        self.calls += 1
        self.now += step
        return "result"


def reference_time_it(fn, clock, warmup, repeats) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


@exercise("3.3", "A fair timing helper")
def check_time_it(c: Checker, time_it) -> None:
    c.require_callable(time_it, "time_it")
    rng = np.random.default_rng(3)
    cases = [
        ([64.0, 32.0, 3.0, 1.0, 2.0, 100.0, 4.0], 2, 5,
         "the first two calls (slow: 64 s, 32 s) are warm-up; the timed calls take 3, 1, 2, 100, 4 s"),
        ([0.125, 1.0, 6.0, 2.0, 8.0], 1, 4, "warm-up 0.125 s; the timed calls take 1, 6, 2, 8 s (an even count)"),
        ([0.25], 0, 1, "no warm-up and a single timed call of 0.25 s"),
        ([50.0, 0.5, 0.5, 0.75, 0.5, 0.5, 0.5, 40.0, 0.5], 1, 8,
         "warm-up 50 s; eight timed calls, one of them a 40 s outlier"),
        (list(rng.integers(1, 64, size=104) / 8), 3, 101, "3 warm-up calls and 101 timed calls of random length"),
    ]
    for durations, warmup, repeats, story in cases:
        work = FakeWorkload(durations)
        desc = f"time_it(fn, clock, warmup={warmup}, repeats={repeats}) with a fake clock: {story}"
        got = c.call(time_it, work.fn, work.clock, warmup, repeats, desc=desc)
        expected = statistics.median(durations[warmup:warmup + repeats])
        c.expect(work.calls == warmup + repeats, "fn was called the wrong number of times.", tried=desc,
                 expected=f"{warmup + repeats} calls (warmup + repeats)", got=f"{work.calls} calls",
                 hint="call fn exactly warmup times without timing, then repeats times, timing each call.")
        hint = "time each call separately (clock() before and after), then return the median of those times."
        if isinstance(got, (int, float, np.floating)) and not isinstance(got, bool):
            g = float(got)
            timed = durations[warmup:warmup + repeats]
            if abs(g) < 1e-3 and expected > 1e-3:
                hint = ("use the clock you are given (the `clock` argument), not time.perf_counter() or "
                        "time.time(): the check passes a fake clock.")
            elif math.isclose(g, statistics.mean(timed), rel_tol=1e-9) and not math.isclose(g, expected):
                hint = "that is the mean; return the median, which one slow outlier cannot move."
            elif math.isclose(g, statistics.median(durations[:warmup + repeats]), rel_tol=1e-9):
                hint = "the warm-up calls must not be timed: only the `repeats` calls after them count."
            elif repeats % 2 == 0 and math.isclose(g, sorted(timed)[repeats // 2], rel_tol=1e-9):
                hint = ("for an even number of timings the median is the mean of the two middle values "
                        "(statistics.median and np.median do this).")
            elif math.isclose(g, min(timed), rel_tol=1e-9):
                hint = "that is the minimum; the exercise asks for the median."
        c.expect_number(got, expected, desc=desc, rtol=1e-9, atol=1e-12, hint=hint)


# --------------------------------------------------------------------------------------------
# 3.4 Zero fractions with forward hooks
# --------------------------------------------------------------------------------------------

class _TwoBranch(nn.Module):
    """Two ReLU branches added together: a forward that is not a plain sequence of children."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 12), nn.Linear(6, 12)
        self.relu_a, self.relu_b = nn.ReLU(), nn.ReLU()
        self.head = nn.Linear(12, 2)

    def forward(self, x):
        return self.head(self.relu_a(self.a(x)) + self.relu_b(self.b(x) - 0.5))


def _hidden_models():
    """(model, X, description) for the zero-fraction check, built deterministically."""
    g = torch.Generator().manual_seed(7)
    models = []
    torch.manual_seed(11)
    m = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                      nn.Linear(16, 3))
    models.append((m, torch.randn(200, 5, generator=g), "a 5-16-16-16-3 ReLU MLP on 200 random inputs"))

    torch.manual_seed(12)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
                      nn.Linear(8, 8), nn.ReLU())
    models.append((m, torch.randn(64, 4, generator=g),
                   "a model with a Tanh (not counted), a ReLU inside a nested nn.Sequential, and a final ReLU"))

    torch.manual_seed(13)
    m = nn.Sequential(nn.Linear(3, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
    with torch.no_grad():
        m[0].bias.fill_(-100.0)   # every unit of the first layer is dead: 100 % zeros
    models.append((m, torch.randn(50, 3, generator=g), "a model whose first ReLU layer is entirely dead"))

    torch.manual_seed(14)
    m = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    with torch.no_grad():
        m[0].weight.mul_(1e-12)
        m[0].bias.zero_()
    models.append((m, torch.randn(100, 4, generator=g),
                   "a model whose positive activations are tiny (about 1e-12) but not zero"))

    torch.manual_seed(15)
    models.append((_TwoBranch(), torch.randn(80, 6, generator=g),
                   "a model with two parallel ReLU branches whose outputs are added"))

    torch.manual_seed(16)
    models.append((nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)), torch.randn(10, 3, generator=g),
                   "a model without any ReLU"))
    return models


def _as_list_of_numbers(value):
    if isinstance(value, torch.Tensor):
        return value.detach().double().flatten().tolist() if value.ndim <= 1 else None
    if isinstance(value, np.ndarray):
        return value.astype(float).flatten().tolist() if value.ndim <= 1 else None
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating, torch.Tensor)):
                return None
            if isinstance(v, torch.Tensor):
                if v.numel() != 1:
                    return None
                v = v.item()
            out.append(float(v))
        return out
    return None


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@exercise("3.4", "Fraction of zero activations, with forward hooks")
def check_zero_fractions(c: Checker, zero_fractions_fn) -> None:
    c.require_callable(zero_fractions_fn, "zero_fractions")
    hint = ("register a forward hook on every nn.ReLU in model.modules(), run model(X) once, record "
            "(output == 0).float().mean() per ReLU, then remove every hook with handle.remove().")
    for model, X, story in _hidden_models():
        desc = f"zero_fractions(model, X) with {story}"
        expected = zero_fractions(model, X)
        params = {k: v.detach().clone() for k, v in model.state_dict().items()}
        hooks_before = _hook_count(model)
        got = c.call(zero_fractions_fn, model, X, desc=desc, hint=hint)

        c.expect(_hook_count(model) == hooks_before, "your hooks are still attached to the model.", tried=desc,
                 expected=f"{hooks_before} hooks after the call", got=f"{_hook_count(model)}",
                 hint="keep the handle that register_forward_hook returns and call handle.remove() on each, "
                      "ideally in a `finally:` block so they go even if the forward pass fails.")
        c.expect(all(torch.equal(params[k], v) for k, v in model.state_dict().items()),
                 "your code changed the model's parameters.", tried=desc,
                 hint="only observe the activations; do not train or modify the model.")
        values = _as_list_of_numbers(got)
        if values is None:
            c.fail(f"expected a list of numbers, one per nn.ReLU, but your code returned {type_name(got)}.",
                   tried=desc, expected=repr([round(v, 4) for v in expected]), got=describe(got), hint=hint)
        c.expect(len(values) == len(expected), "the list has the wrong length.", tried=desc,
                 expected=f"{len(expected)} values, one per nn.ReLU module", got=f"{len(values)} values: {describe(got)}",
                 hint="count only nn.ReLU modules (not Linear, Tanh or Sigmoid), each once, in the order "
                      "of model.modules().")
        close = [math.isclose(g, e, rel_tol=1e-6, abs_tol=1e-7) for g, e in zip(values, expected)]
        if not all(close):
            wrong_hint = hint
            if all(math.isclose(g, 100 * e, rel_tol=1e-6, abs_tol=1e-5) for g, e in zip(values, expected)):
                wrong_hint = "return fractions between 0 and 1, not percentages."
            elif all(math.isclose(g, 1 - e, rel_tol=1e-6, abs_tol=1e-7) for g, e in zip(values, expected)):
                wrong_hint = "that is the fraction of non-zero outputs; count the outputs that are exactly 0."
            elif "tiny" in story:
                wrong_hint = ("count outputs that are exactly 0 (output == 0): a small positive value is "
                              "not a zero, so no tolerance such as torch.isclose or abs(...) < eps.")
            c.fail("wrong fraction of zeros.", tried=desc, expected=repr([round(v, 6) for v in expected]),
                   got=repr([round(v, 6) for v in values]), hint=wrong_hint)
        c.ok()


# --------------------------------------------------------------------------------------------
# 3.5 Epochs to a target
# --------------------------------------------------------------------------------------------

@exercise("3.5", "Epochs to reach a target")
def check_epochs_to_target(c: Checker, epochs_to_target_fn) -> None:
    c.require_callable(epochs_to_target_fn, "epochs_to_target")
    cases = [
        ([0.50, 0.71, 0.90, 0.96, 0.97], 0.95, "the target is first passed at the 4th epoch"),
        ([0.97, 0.98], 0.95, "the target is passed after the very first epoch"),
        ([0.1, 0.3, 0.5, 0.6], 0.95, "the target is never reached"),
        ([0.2, 0.75, 0.8], 0.75, "a value exactly equal to the target"),
        ([0.2, 0.91, 0.5, 0.95], 0.9, "the accuracy reaches the target, falls back, then rises again"),
        ([], 0.5, "an empty history"),
        (np.array([0.25, 0.5, 0.75, 1.0]), 0.6, "a NumPy array"),
        ((0.3, 0.2, 0.9), 0.85, "a tuple"),
        ([0.6, 0.7], 0.0, "a target of 0"),
    ]
    for history, target, story in cases:
        shown = describe(history) if not isinstance(history, list) else repr(history)
        desc = f"epochs_to_target({shown}, {target})  # {story}"
        before = list(history)
        got = c.call(epochs_to_target_fn, history, target, desc=desc)
        c.expect(list(history) == before, "your code modified the history it was given.", tried=desc,
                 expected=repr(before), got=repr(list(history)),
                 hint="do not sort, pop from or append to the history: only read it.")
        expected = epochs_to_target(history, target)
        if expected is None:
            c.expect(got is None, "the target is never reached, so the answer must be None.", tried=desc,
                     expected="None", got=describe(got),
                     hint="return None when no epoch reaches the target (not 0, -1 or the number of epochs).")
            continue
        integral = (isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_)))
        if not integral:
            c.fail(f"expected an int (an epoch number), but your code returned {type_name(got)}.", tried=desc,
                   expected=repr(expected), got=describe(got),
                   hint="return the epoch number as an int, e.g. 4, or None if the target is never reached.")
        hint = "the first epoch whose value is >= target, counting epochs from 1."
        if int(got) == expected - 1:
            hint = "epochs are counted from 1: the first entry of the history is epoch 1, not epoch 0."
        elif "exactly" in story:
            hint = "reaching the target counts: use >=, not >."
        elif int(got) in [i for i, v in enumerate(history, start=1) if v >= target]:
            hint = "return the FIRST epoch that reaches the target, not the last one or the best one."
        c.expect(int(got) == expected, "wrong epoch.", tried=desc, expected=repr(expected), got=repr(got), hint=hint)
