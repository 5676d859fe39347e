"""Checks for chapter 3: ReLU's advantages, measured."""

from __future__ import annotations

import functools
import math
import statistics

import numpy as np
import torch
from torch import nn

from . import exercise
from .core import Checker, as_real, describe, type_name
from .ch01 import _square_net, expect_prediction, reference_signal_gain


def _refuse_the_course_answer(c: Checker, fn, name: str) -> None:
    """The course package's own functions (relucourse.bench.time_it, bench.bandwidth_gbs, ...) are not
    an answer: the exercise is to write it. (The checks' reference functions are left to the tests.)"""
    module = getattr(fn, "__module__", None) or ""
    ours = module == "relucourse" or module.startswith("relucourse.")
    if ours and not module.startswith("relucourse.tooling.checks"):
        c.fail(f"`{name}` is the course's own `{module}.{getattr(fn, '__name__', name)}`, not yours.",
               hint="write the function yourself in the exercise cell; the course's helpers are "
                    "there to compare with afterwards.")
    c.ok()

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
    _refuse_the_course_answer(c, he_init_, "he_init_")
    with torch.random.fork_rng():  # the check's seeds must not change the learner's random state
        _check_he_init(c, he_init_)


def _he_raise_hint(err: Exception) -> str | None:
    """The hint for an error raised inside he_init_, chosen by the error."""
    text = str(err)
    if isinstance(err, AttributeError) and "NoneType" in text:
        return ("a layer made with bias=False has layer.bias = None: set the bias to zero only "
                "`if layer.bias is not None`.")
    if "leaf Variable that requires grad" in text:
        return ("a parameter cannot be changed in place while autograd records: do it inside "
                "`with torch.no_grad():`.")
    return None


def _dependence(w: torch.Tensor) -> str | None:
    """How the weights fail to look independent (repeated values, correlated neighbours), or None."""
    flat = w.flatten()
    sample = flat[::max(1, flat.numel() // 8192)].numpy()   # spread over every row and column
    distinct = np.unique(sample).size
    if distinct < 0.9 * sample.size:
        return f"only {distinct} distinct values among {sample.size} weights spread over the matrix"
    centred = w - w.mean()
    var = (centred ** 2).mean().item()
    if var == 0 or not math.isfinite(var):
        return None  # the variance test names this
    for axis, name in ((0, "weight[i, j] and weight[i + 1, j]"), (1, "weight[i, j] and weight[i, j + 1]")):
        if w.shape[axis] < 2:
            continue
        a, b = centred.narrow(axis, 0, w.shape[axis] - 1), centred.narrow(axis, 1, w.shape[axis] - 1)
        r = (a * b).mean().item() / var
        if abs(r) > 0.05:   # independent draws: |r| ~ 1/sqrt(n) < 0.005 here
            return f"a correlation of {r:.2f} between neighbours {name}"
    return None


def _check_he_init(c: Checker, he_init_) -> None:
    # two layers of the same shape, one after the other: their weights must differ
    torch.manual_seed(77)
    first, second = nn.Linear(30, 20), nn.Linear(30, 20)
    desc = "he_init_(nn.Linear(30, 20)) on two layers, one after the other"
    c.call(he_init_, first, desc=desc, raise_hint=_he_raise_hint)
    c.call(he_init_, second, desc=desc, raise_hint=_he_raise_hint)
    c.expect(not torch.equal(first.weight, second.weight),
             "two layers initialised one after the other got identical weights.", tried=desc,
             hint="something in he_init_ starts the random numbers at the same point on every call "
                  "(torch.manual_seed, or a generator seeded inside it): draw from the global random "
                  "generator as it is.")
    cases = [(256, 400, torch.float32, True), (50, 2000, torch.float32, True),
             (3000, 40, torch.float32, True), (3, 30000, torch.float64, True),
             (500, 200, torch.float32, False), (700, 150, torch.float64, False)]
    for seed, (fan_in, fan_out, dtype, bias) in enumerate(cases):
        torch.manual_seed(1000 + seed)
        layer = nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype)
        weight, old_bias = layer.weight, layer.bias
        before = weight.detach().clone()
        desc = (f"he_init_(nn.Linear({fan_in}, {fan_out}"
                + ("" if bias else ", bias=False") + ("" if dtype == torch.float32 else ", dtype=torch.float64")
                + "))")
        torch.manual_seed(seed)
        returned = c.call(he_init_, layer, desc=desc, raise_hint=_he_raise_hint)

        c.expect(layer.weight is weight and layer.bias is old_bias,
                 "your code replaced the layer's parameters instead of filling them in place.", tried=desc,
                 hint="an optimizer created before the call would still hold the old tensors. Fill the "
                      "existing ones: with torch.no_grad(): layer.weight.copy_(...) (or .normal_(...)).")
        for name, p in (("weight", layer.weight), ("bias", layer.bias)):
            if p is None:
                continue
            shape = (fan_out, fan_in) if name == "weight" else (fan_out,)
            c.expect(tuple(p.shape) == shape and p.dtype == dtype,
                     f"the {name} changed its shape or dtype.", tried=desc,
                     expected=f"shape {shape}, dtype {dtype}", got=f"shape {tuple(p.shape)}, dtype {p.dtype}",
                     hint=f"keep layer.{name} as it is and only change its values (a new tensor of "
                          f"another dtype assigned to .data changes the dtype).")
            c.expect(p.requires_grad and p.grad_fn is None,
                     f"the {name} is no longer a trainable leaf tensor.", tried=desc,
                     expected=f"layer.{name}.requires_grad == True",
                     got=f"requires_grad={p.requires_grad}" + (", with a grad_fn" if p.grad_fn is not None else ""),
                     hint="write the values under torch.no_grad() and do not call requires_grad_(False) "
                          "or detach_().")
        w = layer.weight
        c.expect(not torch.equal(w.detach(), before), "the weights did not change.", tried=desc,
                 hint="modify the layer you are given (in place); creating a new layer does not change it.")
        if bias:
            c.expect(bool((layer.bias.detach() == 0).all()), "the bias is not zero.", tried=desc,
                     expected="every bias 0.0", got=describe(layer.bias.detach()[:5]) + " ...",
                     hint="He initialisation sets the biases to zero: layer.bias.zero_().")

        values = w.detach().double()
        c.expect(bool(torch.isfinite(values).all()), "the weights contain NaN or infinite values.",
                 tried=desc, hint=HE_HINT)
        dependence = _dependence(values)
        c.expect(dependence is None, "the weights are not drawn independently.", tried=desc,
                 expected="every weight a separate draw (all values different, neighbours uncorrelated)",
                 got=dependence,
                 hint="draw one value per weight: torch.randn(out_features, in_features) * std, or "
                      "layer.weight.normal_(0, std); do not repeat a row, a column or a value.")
        values = values.flatten()
        n = values.numel()
        var = values.var().item()
        ratio = var * fan_in
        mean = values.mean().item()
        c.expect(abs(mean) < 6 * math.sqrt(2 / fan_in / n),
                 "the weights' mean is not 0.", tried=desc,
                 expected=f"a sample mean within ±{6 * math.sqrt(2 / fan_in / n):.2g} of 0",
                 got=f"{mean:.4g}", hint="draw from a normal distribution with mean 0 (nothing added to "
                                         "the weights).")
        c.expect(abs(ratio / 2 - 1) < 0.05, "the weights have the wrong variance.", tried=desc,
                 expected=f"sample variance ≈ 2 / fan_in = {2 / fan_in:.4g} (within 5 %)",
                 got=f"{var:.4g}, i.e. {ratio:.3g} / fan_in", hint=_variance_diagnosis(ratio, fan_in, fan_out))
        excess_kurtosis = (((values - mean) ** 4).mean().item() / var ** 2) - 3
        c.expect(abs(excess_kurtosis) < 0.15, "the weights do not look normally distributed.", tried=desc,
                 expected="excess kurtosis ≈ 0 (a normal distribution)",
                 got=f"{excess_kurtosis:.2f}" + (" (a uniform distribution has -1.2)" if excess_kurtosis < -0.8 else ""),
                 hint="He et al. draw from a normal distribution: torch.randn(...) * sqrt(2 / fan_in), "
                      "or .normal_(0, sqrt(2 / fan_in)).")
        c.expect(returned is layer, "he_init_ did not return the layer it was given.", tried=desc,
                 expected="the same nn.Linear object",
                 got="None" if returned is None else describe(returned)
                 + (", a different object" if isinstance(returned, nn.Module) else ""),
                 hint="end with `return layer` (the layer you changed in place), as PyTorch's in-place "
                      "functions return what they changed." if returned is None else
                 "return the layer you were given, after changing it in place, not a new object.")


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
        if ratio > 0 and value > 0 and abs(ratio / value - 1) < 1e-3:
            return text
    return "GB/s = numel * bytes per element * (reads + writes) / seconds / 1e9."


def _signature_hint(err: Exception) -> str | None:
    if isinstance(err, TypeError) and ("reads" in str(err) or "writes" in str(err) or "argument" in str(err)):
        return ("the signature is bandwidth_gbs(numel, dtype, seconds, reads=1, writes=1): reads and "
                "writes are optional, 1 by default, and may be passed by name.")
    return None


@exercise("3.2", "Effective bandwidth in GB/s")
def check_bandwidth(c: Checker, bandwidth_gbs) -> None:
    c.require_callable(bandwidth_gbs, "bandwidth_gbs")
    _refuse_the_course_answer(c, bandwidth_gbs, "bandwidth_gbs")
    cases = [
        ((2**20, torch.float32, 1e-3), {}),
        ((2**28, torch.float32, 0.13), {}),
        ((10**6, torch.float16, 2e-4), {}),
        ((3 * 10**6, torch.bfloat16, 5e-4), {"reads": 2, "writes": 1}),
        ((12345, torch.float64, 3.5e-6), {"reads": 3, "writes": 2}),
        ((2**24, torch.uint8, 4e-4), {"reads": 1, "writes": 0}),
        ((10**7, torch.int16, 2e-3), {}),
        ((5 * 10**6, torch.int64, 0.01), {"reads": 2, "writes": 1}),
        ((0, torch.float32, 1e-3), {}),
    ]
    for args, kwargs in cases:
        numel, dtype, seconds = args
        shown = ", ".join([f"{numel:_}", str(dtype), repr(seconds)] + [f"{k}={v}" for k, v in kwargs.items()])
        desc = f"bandwidth_gbs({shown})"
        expected = reference_bandwidth_gbs(*args, **kwargs)
        got = c.call(bandwidth_gbs, *args, desc=desc, raise_hint=_signature_hint, **kwargs)
        itemsize = torch.empty((), dtype=dtype).element_size()
        reads, writes = kwargs.get("reads", 1), kwargs.get("writes", 1)
        hint = None
        value = as_real(got)
        if value is not None:
            hint = _bandwidth_diagnosis(value, expected, itemsize, reads, writes)
        c.expect_number(got, expected, desc=desc, rtol=1e-6, atol=1e-12,
                        hint=hint or f"return the number itself (a Python float, say), not a {type_name(got)}.")


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
        self.events: list[str] = []  # "c" for a clock reading, "f" for a call of fn

    def clock(self) -> float:
        self.events.append("c")
        return self.now

    def fn(self):
        step = self.durations[self.calls] if self.calls < len(self.durations) else self.durations[-1]
        self.calls += 1
        self.events.append("f")
        self.now += step
        return "result"

    def _warmup_end(self, warmup: int) -> int:
        """The index in ``events`` just after the warm-up calls (the warmup-th call of fn)."""
        calls = [i for i, e in enumerate(self.events) if e == "f"]
        return calls[warmup - 1] + 1 if warmup and len(calls) >= warmup else 0

    def timed_warmup(self, warmup: int) -> bool:
        """True when the clock was read before the warm-up calls were over."""
        return warmup > 0 and "c" in self.events[:self._warmup_end(warmup)]

    def readings_in_warmup(self, warmup: int) -> str:
        head = self.events[:self._warmup_end(warmup)]
        return f"{head.count('c')} times among the first {warmup} calls of fn"

    def untimed_call(self, warmup: int) -> str | None:
        """None when each call after the warm-up has a clock reading just before and just after it
        (one reading may end one interval and start the next); else which call has not."""
        after = self.events[self._warmup_end(warmup):]
        k = 0
        for i, e in enumerate(after):
            if e == "f":
                k += 1
                if i == 0 or after[i - 1] != "c":
                    return f"timed call {k} of fn had no clock() reading just before it"
                if i + 1 == len(after) or after[i + 1] != "c":
                    return f"timed call {k} of fn had no clock() reading just after it"
        return None


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
    _refuse_the_course_answer(c, time_it, "time_it")
    rng = np.random.default_rng(3)
    cases = [
        ([64.0, 32.0, 3.0, 1.0, 2.0, 100.0, 4.0], 2, 5,
         "the first two calls (slow: 64 s, 32 s) are warm-up; the timed calls take 3, 1, 2, 100, 4 s"),
        ([0.125, 1.0, 6.0, 2.0, 8.0], 1, 4, "warm-up 0.125 s; the timed calls take 1, 6, 2, 8 s (an even count)"),
        ([0.25], 0, 1, "no warm-up and a single timed call of 0.25 s"),
        ([50.0, 0.5, 0.5, 0.75, 0.5, 0.5, 0.5, 40.0, 0.5], 1, 8,
         "warm-up 50 s; eight timed calls, one of them a 40 s outlier"),
        ([9.0, 7.0, 5.0, 3.0, 4.0, 30.0], 3, 3, "warm-up 9, 7, 5 s; the timed calls take 3, 4, 30 s"),
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
        c.expect("c" in work.events, "your code never read the clock it was given.", tried=desc,
                 expected=f"{2 * repeats} readings of clock()", got="none",
                 hint="use the `clock` argument, not time.perf_counter() or time.time(): the check passes "
                      "a fake clock.")
        c.expect(not work.timed_warmup(warmup), "your code read the clock during the warm-up calls.",
                 tried=desc, expected=f"no clock() reading before the {warmup} warm-up calls are over",
                 got="clock() read " + work.readings_in_warmup(warmup),
                 hint="the warm-up calls are not timed: call fn() warmup times first, then start reading "
                      "the clock.")
        untimed = work.untimed_call(warmup)
        c.expect(untimed is None, "not every timed call has its own clock readings.", tried=desc,
                 expected="clock() read just before and just after each of the repeats calls",
                 got=untimed, hint="read the clock before and after EACH call (start = clock(); fn(); "
                                   "times.append(clock() - start)), so that you can take the median.")
        hint = None
        value = as_real(got)
        if value is not None:
            timed = durations[warmup:warmup + repeats]
            if math.isclose(value, statistics.mean(timed), rel_tol=1e-9) and not math.isclose(value, expected):
                hint = "that is the mean; return the median, which one slow outlier cannot move."
            elif repeats % 2 == 0 and math.isclose(value, sorted(timed)[repeats // 2], rel_tol=1e-9):
                hint = ("for an even number of timings the median is the mean of the two middle values "
                        "(statistics.median and np.median do this); that is the upper middle value.")
            elif repeats % 2 == 0 and math.isclose(value, sorted(timed)[repeats // 2 - 1], rel_tol=1e-9):
                hint = ("for an even number of timings the median is the mean of the two middle values "
                        "(statistics.median and np.median do this); that is the lower middle value.")
            elif math.isclose(value, min(timed), rel_tol=1e-9):
                hint = "that is the minimum; the exercise asks for the median."
            elif math.isclose(value, max(timed), rel_tol=1e-9):
                hint = "that is the maximum; the exercise asks for the median."
        c.expect_number(got, expected, desc=desc, rtol=1e-9, atol=1e-12, hint=hint)


# --------------------------------------------------------------------------------------------
# 3.4 Predict, then measure: the per-layer gain of a (leaky) ReLU network
# --------------------------------------------------------------------------------------------

def reference_predicted_gain(c: float, negative_slope: float) -> float:
    """fan_in * Var(w) * E[phi'(z)^2] with z symmetric about 0: c * (1 + a^2) / 2."""
    return c * (1 + negative_slope ** 2) / 2


#: (c, negative slope a, seed): leaky-ReLU nets 32 -> 256 (12 hidden layers) -> 3, zero biases.
GAIN_CASES = [(2.0, 0.0, 31), (1 / 3, 0.0, 32), (1.0, 0.0, 33), (2.0, 0.5, 34), (1.0, -1.0, 35),
              (0.5, 2.0, 36), (2.0, 0.2, 37)]


@functools.lru_cache(maxsize=None)   # deterministic: measured once per session
def measured_leaky_gain(c: float, a: float, seed: int) -> float:
    net = _square_net("relu", c, 256, 12, 32, seed)
    for i, m in enumerate(net):
        if isinstance(m, nn.ReLU):
            net[i] = nn.LeakyReLU(a)
    X = torch.randn(256, 32, generator=torch.Generator().manual_seed(seed + 100))
    return reference_signal_gain(net, X)


def _gain_hint(got: float, c: float, a: float) -> str:
    base = ("The mean square of the backward signal is multiplied per layer by "
            "fan_in * Var(w) * E[phi'(z)^2]; with z symmetric about 0, phi'(z) is 1 on half of the "
            "units and the negative slope on the other half.")
    if math.isclose(got, c * (1 + a) / 2, rel_tol=1e-6) and a not in (0.0, 1.0):
        return "square the derivative: phi'(z)^2 is a^2 (not a) where z < 0. " + base
    if math.isclose(got, c * (1 + a * a), rel_tol=1e-6):
        return "only about half of the pre-activations are positive: E[phi'(z)^2] = (1 + a^2) / 2. " + base
    if math.isclose(got, c / 2, rel_tol=1e-6) and a != 0:
        return "the negative slope passes signal too: it contributes a^2 on the negative half. " + base
    return base


@exercise("3.4", "Predict, then measure: the per-layer gain of a ReLU network")
def check_predicted_gain(c: Checker, predicted_gain) -> None:
    c.require_callable(predicted_gain, "predicted_gain")
    _refuse_the_course_answer(c, predicted_gain, "predicted_gain")
    for value, a, seed in GAIN_CASES:
        shown = "1/3" if math.isclose(value, 1 / 3) else repr(value)
        measured = measured_leaky_gain(value, a, seed)
        desc = (f"predicted_gain({shown}, {a!r}) against the gain measured on a net 32 -> 256 "
                f"(12 hidden layers) -> 3, nn.LeakyReLU({a!r}), Var(w) = {shown} / fan_in, zero biases: "
                f"{measured:.4g}")
        got = c.call(predicted_gain, value, a, desc=desc)
        number = as_real(got)   # any real number type: Python, NumPy, Fraction, a 0-d tensor
        hint = _gain_hint(number, value, a) if number is not None else None
        expect_prediction(c, got if number is None else number, measured, rtol=0.06, desc=desc, hint=hint)


# --------------------------------------------------------------------------------------------
# 3.5 Find the learning rate at which a deep ReLU network starts to diverge
# --------------------------------------------------------------------------------------------

EDGE_STEP = 1.05        # the promised resolution: the answer e must satisfy f(e / 1.05) False, f(e * 1.05) True
EDGE_MAX_CALLS = 20


def deep_relu_diverges(lr: float, steps: int = 20) -> bool:
    """Full-batch gradient descent on a 10-layer He-initialised ReLU net (width 32, float64).

    True when the loss becomes non-finite or exceeds 10 times its initial value within ``steps``
    steps. Deterministic: fixed data and weights (its own generator), float64 (so each answer is
    computed once per session).
    """
    return _deep_relu_diverges(float(lr), int(steps))


@functools.lru_cache(maxsize=4096)
def _deep_relu_diverges(lr: float, steps: int) -> bool:
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(128, 16, generator=gen, dtype=torch.float64)
    y = (X[:, :2].sum(1) > 0).long()
    sizes = [16] + [32] * 10 + [2]
    weights = [(torch.randn(b, a, generator=gen, dtype=torch.float64) * math.sqrt(2 / a)).requires_grad_()
               for a, b in zip(sizes[:-1], sizes[1:])]
    first = None
    with torch.enable_grad():
        for _ in range(steps):
            h = X
            for W in weights[:-1]:
                h = torch.relu(h @ W.T)
            loss = torch.nn.functional.cross_entropy(h @ weights[-1].T, y)
            value = loss.item()
            first = value if first is None else first
            if not math.isfinite(value) or value > 10 * first:
                return True
            grads = torch.autograd.grad(loss, weights)
            with torch.no_grad():
                for W, g in zip(weights, grads):
                    W.sub_(lr * g)
    return False


def reference_find_edge(diverges, lo: float, hi: float) -> float:
    """Bisection on a log scale until hi / lo <= 1.05 (f(lo) False, f(hi) True); returns hi."""
    while hi / lo > EDGE_STEP:
        mid = math.sqrt(lo * hi)
        if diverges(mid):
            hi = mid
        else:
            lo = mid
    return hi


class _TooManyCalls(Exception):
    pass


#: a stand-in stops an answer that goes on calling it long after the limit (an endless search)
EDGE_STOP_CALLS = 200
#: the time limit of one call of find_edge on a stand-in (each of its calls answers at once)
EDGE_FAKE_LIMIT_S = 2.0


class _Threshold:
    """A fake `diverges`: True from `edge` on; records its calls and refuses calls outside [lo, hi]."""

    def __init__(self, edge: float, lo: float, hi: float):
        self.edge, self.lo, self.hi, self.lrs = edge, lo, hi, []

    @property
    def calls(self) -> int:
        return len(self.lrs)

    def __call__(self, lr) -> bool:
        lr = float(lr)
        self.lrs.append(lr)
        if len(self.lrs) > EDGE_STOP_CALLS:
            raise _TooManyCalls(f"diverges was called more than {EDGE_STOP_CALLS} times")
        if not (self.lo * (1 - 1e-12) <= lr <= self.hi * (1 + 1e-12)):
            raise ValueError(f"diverges({lr!r}) was asked outside [lo, hi] = [{self.lo!r}, {self.hi!r}]")
        return lr >= self.edge


class _Counted:
    """``diverges`` as it is, with its calls counted."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0
        self.__name__ = getattr(fn, "__name__", "diverges")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, lr) -> bool:
        self.calls += 1
        return self.fn(lr)


def _edge_problem(got, lo: float, hi: float, diverges) -> str | None:
    """None if got is a valid answer for the monotone predicate; else what is wrong."""
    e = as_real(got)
    if e is None:
        return f"expected a number, got {type_name(got)} {describe(got)}"
    # a float32 answer (a 0-d tensor, say) may round lo or hi outwards by one part in 10^7
    if not math.isfinite(e) or not (lo * (1 - 1e-6) <= e <= hi * (1 + 1e-6)):
        return f"{e!r} is not a learning rate in [lo, hi] = [{lo!r}, {hi!r}]"
    below, above = max(lo, e / EDGE_STEP), min(hi, e * EDGE_STEP)
    if diverges(below):
        return f"diverges({below:.6g}) is already True (that is {e!r} / 1.05): the edge is lower"
    if not diverges(above):
        return f"diverges({above:.6g}) is still False (that is {e!r} * 1.05): the edge is higher"
    return None


EDGE_HINT = ("keep an interval [lo, hi] with diverges(lo) False and diverges(hi) True, and halve it "
             "on a LOG scale (mid = sqrt(lo * hi)) until hi / lo <= 1.05; then return hi.")


def _edge_hint(problem: str | None) -> str | None:
    """The hint for a wrong answer, chosen by what is wrong with it."""
    if problem is None or problem.startswith("expected a number"):
        return None   # the search may be right: only the type is wrong
    if "is not a learning rate in" in problem:
        return ("the answer must lie in [lo, hi]: return the upper end of your final interval, a "
                "learning rate that diverges and is within 5 % of one that does not.")
    return EDGE_HINT


def _calls_hint(lrs: list[float], lo: float, hi: float) -> str:
    """The hint for too many calls, chosen by the learning rates the answer asked for."""
    if lrs and math.isclose(lrs[0], (lo + hi) / 2, rel_tol=1e-9):
        return ("your first call was at the arithmetic midpoint (lo + hi) / 2: halving [lo, hi] that way "
                "needs many steps when the edge is far below hi. Bisect on a log scale, mid = sqrt(lo * hi).")
    steps = [b / a for a, b in zip(lrs, lrs[1:]) if a > 0]
    if len(steps) >= 5 and all(s > 1 for s in steps):
        return ("your learning rates only went up, step by step: a scan needs about log(hi / lo) / "
                "log(1.05) calls. " + EDGE_HINT)
    return EDGE_HINT


_STOPPED = object()


def _until_stopped(find_edge):
    """find_edge, returning _STOPPED when a stand-in stopped it for calling it endlessly."""
    def run(*args):
        try:
            return find_edge(*args)
        except _TooManyCalls:
            return _STOPPED
    return run


def _edge_raise_hint(err: Exception) -> str | None:
    if "outside [lo, hi]" in str(err):
        return "your code evaluated diverges outside [lo, hi]: stay inside the interval."
    return None


@exercise("3.5", "Find the learning rate at which a deep ReLU network diverges", time_limit_s=20.0)
def check_find_edge(c: Checker, find_edge) -> None:
    c.require_callable(find_edge, "find_edge")
    _refuse_the_course_answer(c, find_edge, "find_edge")
    fakes = [(0.37, 0.01, 10.0), (3e-6, 1e-6, 10.0), (0.0105, 0.01, 10.0), (9.8, 0.01, 10.0),
             (2.0, 1.0, 2.1), (0.9, 0.5, 1.0), (150.0, 2.0, 1000.0), (1.0, 0.01, 1.0), (0.1, 0.001, 0.1)]
    full_limit = c.time_limit_s
    c.time_limit_s = min(full_limit, EDGE_FAKE_LIMIT_S)   # a stand-in answers at once
    try:
        for edge, lo, hi in fakes:
            fake = _Threshold(edge, lo, hi)
            desc = (f"find_edge(diverges, {lo!r}, {hi!r}) with a stand-in `diverges` that is True exactly "
                    f"from lr = {edge!r} on")
            got = c.call(_until_stopped(find_edge), fake, lo, hi, desc=desc, raise_hint=_edge_raise_hint)
            c.expect(got is not _STOPPED, f"your code went on calling diverges: more than {EDGE_STOP_CALLS} "
                     "calls without returning.", tried=desc,
                     expected=f"an answer after at most {EDGE_MAX_CALLS} calls",
                     got=f"the learning rates asked for last: {', '.join(f'{lr:.6g}' for lr in fake.lrs[-4:])}",
                     hint="the search does not stop: make sure every step shrinks [lo, hi] (lo or hi becomes "
                          "mid) and that the loop ends when hi / lo <= 1.05.")
            calls = fake.calls
            c.expect(calls <= EDGE_MAX_CALLS, f"your code called diverges {calls} times.", tried=desc,
                     expected=f"at most {EDGE_MAX_CALLS} calls (each one trains a network)", got=f"{calls} calls",
                     hint=_calls_hint(fake.lrs, lo, hi))
            problem = _edge_problem(got, lo, hi, _Threshold(edge, lo, hi))
            c.expect(problem is None, "the answer is not within 5 % of the edge.", tried=desc,
                     expected=f"e with diverges(e / 1.05) False and diverges(e * 1.05) True (the edge is {edge!r})",
                     got=problem, hint=_edge_hint(problem))
    finally:
        c.time_limit_s = full_limit
    # the real network
    desc = ("find_edge(deep_relu_diverges, 0.01, 10.0): a 10-layer He-initialised ReLU net, "
            "full-batch gradient descent")
    counted = _Counted(deep_relu_diverges)
    got = c.call(find_edge, counted, 0.01, 10.0, desc=desc, hint=EDGE_HINT)
    c.expect(counted.calls <= EDGE_MAX_CALLS, f"your code called deep_relu_diverges {counted.calls} times.",
             tried=desc, expected=f"at most {EDGE_MAX_CALLS} calls", got=f"{counted.calls} calls", hint=EDGE_HINT)
    problem = _edge_problem(got, 0.01, 10.0, deep_relu_diverges)
    c.expect(problem is None, "the answer is not within 5 % of the measured edge.", tried=desc,
             expected="e with deep_relu_diverges(e / 1.05) False and deep_relu_diverges(e * 1.05) True",
             got=problem, hint=_edge_hint(problem))
