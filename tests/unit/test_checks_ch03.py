"""Chapter 3 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math
import statistics
import time

import numpy as np
import pytest
import torch
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse.tooling.checks.ch03 import (FakeWorkload, deep_relu_diverges, reference_bandwidth_gbs,
                                            reference_find_edge, reference_he_init_, reference_predicted_gain,
                                            reference_time_it)

torch.set_num_threads(1)  # small models: one thread is fastest, and a loaded machine does not stall


def forever(*args, **kwargs):
    while True:
        pass


def raises(*args, **kwargs):
    raise ValueError("something went wrong")


# -- 3.1 He initialisation ------------------------------------------------------------------------

def he_with_randn(layer):
    with torch.no_grad():
        w = torch.randn(layer.out_features, layer.in_features, dtype=layer.weight.dtype)
        layer.weight.copy_(w * math.sqrt(2 / layer.in_features))
        if layer.bias is not None:
            layer.bias.copy_(torch.zeros_like(layer.bias))
    return layer


def he_with_torch_init(layer):
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def he_via_data(layer):
    fan_in = layer.weight.shape[1]
    layer.weight.data.normal_(0, (2 / fan_in) ** 0.5)
    if layer.bias is not None:
        layer.bias.data.fill_(0.0)
    return layer


def _filler(sampler, zero_bias=True):
    def init(layer):
        with torch.no_grad():
            fan_out, fan_in = layer.weight.shape
            layer.weight.copy_(sampler(fan_in, fan_out, layer.weight.shape).to(layer.weight.dtype))
            if zero_bias and layer.bias is not None:
                layer.bias.zero_()
        return layer
    return init


def he_with_numpy(layer):
    rng = np.random.default_rng()   # unseeded on purpose: the check's bounds are statistical
    w = rng.normal(0.0, np.sqrt(2.0 / layer.in_features), size=tuple(layer.weight.shape))
    with torch.no_grad():
        layer.weight[...] = torch.from_numpy(w)
        if layer.bias is not None:
            layer.bias[...] = 0
    return layer


def test_3_1_accepts_the_reference_and_other_correct_forms():
    passes("3.1", reference_he_init_)
    passes("3.1", he_with_numpy)
    passes("3.1", lambda layer: (nn.init.normal_(layer.weight, std=(2 / layer.in_features) ** 0.5),
                                 layer.bias is None or nn.init.constant_(layer.bias, 0.0), layer)[-1])
    passes("3.1", he_with_randn)
    passes("3.1", he_with_torch_init)
    passes("3.1", he_via_data)
    passes("3.1", lambda layer: (nn.init.kaiming_normal_(layer.weight, mode="fan_in"),
                                 layer.bias is None or nn.init.zeros_(layer.bias), layer)[-1])


def test_3_1_stub_is_not_attempted():
    not_attempted("3.1", stub("3.1"))


def test_3_1_rejects_the_generic_failures():
    rejects("3.1", raises, says=("raised an error", "ValueError"))
    rejects("3.1", forever, says=("did not finish",))
    rejects("3.1", _filler(lambda fi, fo, s: torch.full(s, float("nan"))), says=("NaN",))
    rejects("3.1", "kaiming", says=("expected a function `he_init_`",))


def test_3_1_rejects_wrong_variances_with_a_diagnosis():
    rejects("3.1", lambda layer: None, says=("did not change",))
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / (fi + fo))),
            says=("wrong variance", "Xavier"))
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / fo)),
            says=("wrong variance", "fan_out"))
    rejects("3.1", _filler(lambda fi, fo, s: (torch.rand(s) * 2 - 1) * math.sqrt(2 / fi)),
            says=("wrong variance", "uniform"))
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * (2 / fi)), says=("wrong variance",))
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * math.sqrt(1 / fi)), says=("LeCun",))
    rejects("3.1", _filler(lambda fi, fo, s: nn.init.kaiming_uniform_(torch.empty(s), a=math.sqrt(5))),
            says=("PyTorch's default",))


def test_3_1_rejects_uniform_with_the_right_variance_and_nonzero_mean_or_bias():
    rejects("3.1", _filler(lambda fi, fo, s: (torch.rand(s) * 2 - 1) * math.sqrt(6 / fi)),
            says=("normally distributed", "-1.2"))
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / fi) + 0.1), says=("mean",))
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / fi), zero_bias=False),
            says=("bias is not zero",))


def test_3_1_rejects_touching_what_it_should_not():
    def replaces(layer):
        layer.weight = nn.Parameter(torch.randn_like(layer.weight) * math.sqrt(2 / layer.in_features))
        if layer.bias is not None:
            layer.bias = nn.Parameter(torch.zeros_like(layer.bias))
    rejects("3.1", replaces, says=("replaced the layer's parameters",))

    def freezes(layer):
        reference_he_init_(layer)
        layer.weight.requires_grad_(False)
    rejects("3.1", freezes, says=("trainable leaf",))

    def new_layer(layer):
        return reference_he_init_(nn.Linear(layer.in_features, layer.out_features))
    rejects("3.1", new_layer, says=("did not change",))

    def casts(layer):
        with torch.no_grad():
            layer.weight.data = (torch.randn(layer.weight.shape) * math.sqrt(2 / layer.in_features)).float()
            if layer.bias is not None:
                layer.bias.zero_()
        return layer
    rejects("3.1", casts, says=("shape or dtype", "float64"))

    def reseeds(layer):
        torch.manual_seed(0)
        return reference_he_init_(layer)
    rejects("3.1", reseeds, says=("identical weights", "torch.manual_seed"))


def test_3_1_leaves_the_learners_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    passes("3.1", reference_he_init_)
    assert torch.equal(torch.rand(3), expected)   # the check's own seeds did not leak out


# -- 3.2 Bandwidth ------------------------------------------------------------------------------

def test_3_2_accepts_the_reference_and_other_correct_forms():
    passes("3.2", reference_bandwidth_gbs)
    passes("3.2", lambda n, dtype, s, reads=1, writes=1: n * dtype.itemsize * (reads + writes) / s / 1e9)
    passes("3.2", lambda n, dtype, s, reads=1, writes=1:
           np.float64((reads + writes) * n * torch.finfo(dtype).bits / 8 / 1e9 / s)
           if dtype.is_floating_point else (reads + writes) * n * torch.iinfo(dtype).bits / 8 / 1e9 / s)
    passes("3.2", lambda n, dtype, s, reads=1, writes=1:
           torch.tensor(n * torch.empty(0, dtype=dtype).element_size() * (reads + writes) / s / 1e9))


def test_3_2_stub_is_not_attempted():
    not_attempted("3.2", stub("3.2"))


def test_3_2_rejects_the_generic_failures():
    rejects("3.2", raises, says=("raised an error",))
    rejects("3.2", forever, says=("did not finish",))
    rejects("3.2", lambda *a, **k: float("nan"), says=("wrong value", "nan"))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: f"{reference_bandwidth_gbs(n, d, s, reads, writes):.1f} GB/s",
            says=("expected a number, but your code returned str",))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: [reference_bandwidth_gbs(n, d, s, reads, writes)],
            says=("expected a number",))


def test_3_2_rejects_conceptual_mistakes_with_a_diagnosis():
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * d.itemsize * (reads + writes) / s / 2**30,
            says=("10^9", "GiB"))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * d.itemsize * reads / s / 1e9,
            says=("bytes written",))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * 4 * (reads + writes) / s / 1e9,
            says=("float16", "size in bytes"))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * d.itemsize * (reads + writes) / (s / 1e3) / 1e9,
            says=("not milliseconds",))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * d.itemsize * (reads + writes) / s,
            says=("divide bytes per second by 1e9",))
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * d.itemsize * 2 / s / 1e9,
            says=("reads=2",))  # ignores the reads/writes arguments


# -- 3.3 Timing -----------------------------------------------------------------------------------

def time_it_numpy(fn, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    t = np.empty(repeats)
    for i in range(repeats):
        t0 = clock()
        fn()
        t[i] = clock() - t0
    return np.median(t)


def time_it_torch(fn, clock, warmup, repeats):
    [fn() for _ in range(warmup)]
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        end = clock()
        times.append(end - start)
    return torch.tensor(times, dtype=torch.float64).quantile(0.5)


def test_3_3_accepts_the_reference_and_other_correct_forms():
    from relucourse.bench import time_it
    passes("3.3", reference_time_it)
    passes("3.3", time_it_numpy)
    passes("3.3", time_it_torch)
    passes("3.3", lambda fn, clock, warmup, repeats: time_it(fn, clock, warmup, repeats))


def test_3_3_stub_is_not_attempted():
    not_attempted("3.3", stub("3.3"))


def _timed(fn, clock, warmup, repeats, include_warmup=False):
    for _ in range(0 if include_warmup else warmup):
        fn()
    times = []
    for _ in range(repeats + (warmup if include_warmup else 0)):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def test_3_3_rejects_the_generic_failures():
    rejects("3.3", raises, says=("raised an error",))
    rejects("3.3", forever, says=("did not finish",))
    rejects("3.3", lambda fn, clock, w, r: reference_time_it(fn, clock, w, r) * float("nan"),
            says=("wrong value", "nan"))
    rejects("3.3", lambda fn, clock, w, r: _timed(fn, clock, w, r), says=("expected a number", "list"))

    def extra_call(fn, clock, w, r):   # a side effect on the workload: one call too many
        fn()
        return reference_time_it(fn, clock, w, r)
    rejects("3.3", extra_call, says=("wrong number of times", "8 calls"))


def test_3_3_rejects_conceptual_mistakes_with_a_diagnosis():
    rejects("3.3", lambda fn, clock, w, r: statistics.mean(_timed(fn, clock, w, r)), says=("the mean",))
    rejects("3.3", lambda fn, clock, w, r: statistics.median(_timed(fn, clock, w, r, include_warmup=True)),
            says=("read the clock during the warm-up calls",))

    def warmup_timed(fn, clock, w, r):   # the right number of calls, but the warm-up is timed too
        times = []
        for _ in range(w + r):
            start = clock()
            fn()
            times.append(clock() - start)
        return statistics.median(times)
    rejects("3.3", warmup_timed, says=("read the clock during the warm-up calls",))

    def whole_loop(fn, clock, w, r):
        for _ in range(w):
            fn()
        start = clock()
        for _ in range(r):
            fn()
        return (clock() - start) / r
    rejects("3.3", whole_loop, says=("not every timed call", "EACH call"))

    def lower_median_without_warmup_mistake(fn, clock, w, r):
        return sorted(reference_time_it_list(fn, clock, w, r))[(r - 1) // 2]
    msg = rejects("3.3", lower_median_without_warmup_mistake, says=("wrong value",))
    assert "warm-up" not in msg.split("Hint:")[1]   # a lower median is not a warm-up mistake

    def upper_median(fn, clock, w, r):
        return sorted(_timed(fn, clock, w, r))[r // 2]
    rejects("3.3", upper_median, says=("even number",))

    def real_clock(fn, clock, w, r):
        return reference_time_it(fn, time.perf_counter, w, r)
    rejects("3.3", real_clock, says=("never read the clock it was given",))
    rejects("3.3", lambda fn, clock, w, r: min(_timed(fn, clock, w, r)), says=("minimum",))


def reference_time_it_list(fn, clock, warmup, repeats):
    for _ in range(warmup):
        fn()
    return _timed(fn, clock, 0, repeats)


def test_fake_workload_is_deterministic():
    work = FakeWorkload([2.0, 1.0])
    t0 = work.clock()
    work.fn()
    assert work.clock() - t0 == 2.0
    work.fn()
    work.fn()  # beyond the list: repeats the last duration
    assert work.clock() - t0 == 4.0 and work.calls == 3




# -- 3.4 the leaky-ReLU gain --------------------------------------------------------------------

def test_3_4_accepts_the_reference_and_other_correct_forms():
    passes("3.4", reference_predicted_gain)
    passes("3.4", lambda c, a: c / 2 + c * a * a / 2)
    passes("3.4", lambda c, a: np.float32(c * (1 + abs(a) ** 2) / 2))
    passes("3.4", lambda c, a: torch.tensor(c * (0.5 + 0.5 * a ** 2)))


def test_3_4_stub_is_not_attempted():
    not_attempted("3.4", stub("3.4"))


def test_3_4_rejects_near_miss_formulas_with_a_diagnosis():
    rejects("3.4", lambda c, a: c * (1 + a) / 2, says=("away from the measurement", "square the derivative"))
    rejects("3.4", lambda c, a: c * (1 + a * a), says=("only about half",))
    rejects("3.4", lambda c, a: c / 2, says=("negative slope passes signal",))
    rejects("3.4", lambda c, a: c * (1 + abs(a)) / 2, says=("away from the measurement",))
    rejects("3.4", lambda c, a: 1.0, says=("away from the measurement",))          # "He init: the gain is always 1"
    rejects("3.4", lambda c, a: c, says=("away from the measurement",))
    rejects("3.4", lambda c, a: c * (1 + a ** 2) / 4, says=("away from the measurement",))
    rejects("3.4", lambda c, a: math.sqrt(c * (1 + a ** 2) / 2), says=("away from the measurement",))


def test_3_4_rejects_the_generic_failures():
    rejects("3.4", raises, says=("raised an error",))
    rejects("3.4", forever, says=("did not finish",))
    rejects("3.4", lambda c, a: str(c), says=("expected a number", "str"))
    rejects("3.4", lambda c, a: float("nan"), says=("away from the measurement", "Got:      nan"))
    rejects("3.4", lambda c, a: True, says=("expected a number", "bool"))


# -- 3.5 the divergence edge --------------------------------------------------------------------

def edge_by_ratio_loop(diverges, lo, hi):
    """Walk up from lo by factors of 1.05 in a bisection over exponents."""
    steps = math.ceil(math.log(hi / lo) / math.log(1.05))
    a, b = 0, steps
    while b - a > 1:
        m = (a + b) // 2
        if diverges(min(hi, lo * 1.05 ** m)):
            b = m
        else:
            a = m
    return min(hi, lo * 1.05 ** b)


def edge_returning_lo(diverges, lo, hi):
    while hi / lo > 1.04:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
    return np.float64(math.sqrt(lo * hi))


def edge_with_log10(diverges, lo, hi):
    a, b = math.log10(lo), math.log10(hi)
    while b - a > math.log10(1.05):
        m = (a + b) / 2
        a, b = (a, m) if diverges(10 ** m) else (m, b)
    return 10 ** b


def test_3_5_real_predicate_is_monotone_near_its_edge():
    edge = reference_find_edge(deep_relu_diverges, 0.01, 10.0)
    for factor in (0.8, 0.9, 0.95):
        assert not deep_relu_diverges(edge * factor)
    for factor in (1.05, 1.1, 1.25):
        assert deep_relu_diverges(edge * factor)


def test_3_5_accepts_the_reference_and_other_correct_forms():
    passes("3.5", reference_find_edge)
    passes("3.5", edge_by_ratio_loop)
    passes("3.5", edge_returning_lo)
    passes("3.5", edge_with_log10)


def test_3_5_stub_is_not_attempted():
    not_attempted("3.5", stub("3.5"))


def test_3_5_rejects_wrong_searches():
    def arithmetic(diverges, lo, hi):
        while hi / lo > 1.05:
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
        return hi
    rejects("3.5", arithmetic, says=("called diverges", "log scale"))

    def coarse(diverges, lo, hi):
        while hi / lo > 1.5:
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
        return hi
    rejects("3.5", coarse, says=("not within 5 %", "the edge is lower"))

    def inverted(diverges, lo, hi):
        while hi / lo > 1.05:
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if diverges(mid) else (lo, mid)
        return hi
    rejects("3.5", inverted, says=("not within 5 %",))

    def scan(diverges, lo, hi):
        lr = lo
        while not diverges(lr):
            lr *= 1.05
        return lr
    rejects("3.5", scan, says=("called diverges",))

    def outside(diverges, lo, hi):
        diverges(hi * 2)
        return reference_find_edge(diverges, lo, hi)
    rejects("3.5", outside, says=("outside [lo, hi]", "stay inside"))
    rejects("3.5", lambda d, lo, hi: lo, says=("edge is higher",))
    rejects("3.5", lambda d, lo, hi: 100.0, says=("not a learning rate in [lo, hi]",))
    rejects("3.5", lambda d, lo, hi: str(reference_find_edge(d, lo, hi)), says=("expected a number",))
    rejects("3.5", lambda d, lo, hi: float("nan"), says=("not a learning rate",))
    rejects("3.5", raises, says=("raised an error",))


def test_every_check_refuses_the_courses_own_functions():
    from relucourse import bench
    from relucourse.gradflow import predicted_gain
    rejects("3.2", bench.bandwidth_gbs, says=("course's own", "bench.bandwidth_gbs"))
    rejects("3.3", bench.time_it, says=("course's own", "bench.time_it"))
    rejects("3.4", predicted_gain, says=("course's own",))
    from relucourse.measure import weight_variance_ratio
    rejects("3.1", weight_variance_ratio, says=("course's own",))
    rejects("3.5", bench.time_it, says=("course's own",))


# -- every stated rule, broken alone (tests/unit/test_rules.py counts these) ----------------------

from fractions import Fraction  # noqa: E402

from rulebook import breaks_rule, rejects_in_time, slow  # noqa: E402


def test_correct_answers_in_other_number_types_pass():
    passes("3.2", lambda n, d, s, reads=1, writes=1: Fraction(n * d.itemsize * (reads + writes)) / Fraction(s) / 10**9)
    passes("3.3", lambda fn, clock, w, r: Fraction(statistics.median(_timed(fn, clock, w, r))))
    passes("3.4", lambda c, a: Fraction(c) * (1 + Fraction(a) ** 2) / 2)
    passes("3.5", lambda d, lo, hi: Fraction(reference_find_edge(d, lo, hi)))
    passes("3.5", lambda d, lo, hi: torch.tensor(reference_find_edge(d, lo, hi), dtype=torch.float64))
    passes("3.5", lambda d, lo, hi: torch.tensor(reference_find_edge(d, lo, hi)))   # float32: 0.1 rounds up
    passes("3.4", lambda c, a: torch.tensor(reference_predicted_gain(c, a), dtype=torch.float32))
    passes("3.2", lambda n, d, s, reads=1, writes=1: np.float32(_bw(n, d, s, reads, writes)))


def test_3_3_accepts_one_reading_between_two_calls():
    def shared_readings(fn, clock, warmup, repeats):   # the end of one interval starts the next
        for _ in range(warmup):
            fn()
        times, start = [], clock()
        for _ in range(repeats):
            fn()
            end = clock()
            times.append(end - start)
            start = end
        return statistics.median(times)
    passes("3.3", shared_readings)


def he_init_ok(layer):
    return reference_he_init_(layer)


def _he_weights(sampler):
    """A He initialisation whose weights come from sampler(fan_in, fan_out, shape) (biases zeroed)."""
    return _filler(sampler)


# 3.1

@breaks_rule("3.1", "independent")
def test_rule_3_1_independent():
    rejects("3.1", _he_weights(lambda fi, fo, s: (torch.randn(1, fi) * math.sqrt(2 / fi)).expand(fo, fi)),
            says=("not drawn independently", "distinct values"))
    rejects("3.1", _he_weights(lambda fi, fo, s: (torch.randn(s) * math.sqrt(2 / fi)).sort(dim=0).values),
            says=("not drawn independently", "correlation"))


@breaks_rule("3.1", "normal")
def test_rule_3_1_normal():
    rejects("3.1", _he_weights(lambda fi, fo, s: (torch.rand(s) * 2 - 1) * math.sqrt(6 / fi)),
            says=("do not look normally distributed", "-1.2"))


@breaks_rule("3.1", "mean")
def test_rule_3_1_mean():
    msg = rejects("3.1", _he_weights(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / fi) + 0.05),
                  says=("mean is not 0", "mean 0"))
    assert "variance" not in msg


@breaks_rule("3.1", "variance")
def test_rule_3_1_variance():
    rejects("3.1", _he_weights(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / (fi + fo))),
            says=("wrong variance", "Xavier"))


@breaks_rule("3.1", "bias-zero")
def test_rule_3_1_bias_zero():
    rejects("3.1", _filler(lambda fi, fo, s: torch.randn(s) * math.sqrt(2 / fi), zero_bias=False),
            says=("bias is not zero",))


@breaks_rule("3.1", "no-bias")
def test_rule_3_1_no_bias():
    def assumes_a_bias(layer):
        with torch.no_grad():
            layer.weight.normal_(0, math.sqrt(2 / layer.in_features))
            layer.bias.zero_()
        return layer
    msg = rejects("3.1", assumes_a_bias, says=("raised an error", "bias=False", "is not None"))
    assert "variance" not in msg   # the hint is about the error, not the distribution


@breaks_rule("3.1", "in-place")
def test_rule_3_1_in_place():
    def replaces(layer):
        layer.weight = nn.Parameter(torch.randn_like(layer.weight) * math.sqrt(2 / layer.in_features))
        if layer.bias is not None:
            layer.bias = nn.Parameter(torch.zeros_like(layer.bias))
        return layer
    rejects("3.1", replaces, says=("replaced the layer's parameters",))


@breaks_rule("3.1", "shape-dtype")
def test_rule_3_1_shape_dtype():
    def float32_values(layer):
        layer.weight.data = torch.randn(layer.weight.shape) * math.sqrt(2 / layer.in_features)
        if layer.bias is not None:
            layer.bias.data = torch.zeros(layer.out_features)
        return layer
    rejects("3.1", float32_values, says=("changed its shape or dtype", "torch.float64", "torch.float32"))


@breaks_rule("3.1", "requires-grad")
def test_rule_3_1_requires_grad():
    def freezes_bias(layer):
        reference_he_init_(layer)
        if layer.bias is not None:
            layer.bias.requires_grad_(False)
        return layer
    rejects("3.1", freezes_bias, says=("bias is no longer a trainable leaf", "requires_grad=False"))


@breaks_rule("3.1", "no-reseed")
def test_rule_3_1_no_reseed():
    def own_generator(layer):
        gen = torch.Generator().manual_seed(layer.in_features)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen, dtype=layer.weight.dtype)
                               * math.sqrt(2 / layer.in_features))
            if layer.bias is not None:
                layer.bias.zero_()
        return layer
    rejects("3.1", own_generator, says=("identical weights", "generator seeded inside"))


@breaks_rule("3.1", "return-layer")
def test_rule_3_1_return_layer():
    def returns_nothing(layer):
        reference_he_init_(layer)
    rejects("3.1", returns_nothing, says=("did not return the layer", "Got:      None", "return layer"))

    def returns_the_weight(layer):
        return reference_he_init_(layer).weight
    rejects("3.1", returns_the_weight, says=("did not return the layer", "a tensor of shape"))


@breaks_rule("3.1", "time-limit")
def test_rule_3_1_time_limit():
    rejects_in_time("3.1", slow(reference_he_init_, 0.3), limit=0.05)


# 3.2

def _bw(n, dtype, s, reads=1, writes=1):
    return n * dtype.itemsize * (reads + writes) / s / 1e9


@breaks_rule("3.2", "signature")
def test_rule_3_2_signature():
    rejects("3.2", lambda n, dtype, s, reads, writes: _bw(n, dtype, s, reads, writes),
            says=("raised an error", "reads=1, writes=1"))


@breaks_rule("3.2", "value")
def test_rule_3_2_value():
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * d.itemsize * (reads + writes) * s / 1e9,
            says=("wrong value",))


@breaks_rule("3.2", "read-and-written")
def test_rule_3_2_read_and_written():
    rejects("3.2", lambda n, d, s, reads=1, writes=1: _bw(n, d, s, reads, 0), says=("wrong value", "bytes written"))


@breaks_rule("3.2", "gb")
def test_rule_3_2_gb():
    rejects("3.2", lambda n, d, s, reads=1, writes=1: _bw(n, d, s, reads, writes) * 1e9 / 2**30,
            says=("wrong value", "GiB"))


@breaks_rule("3.2", "number")
def test_rule_3_2_number():
    rejects("3.2", lambda n, d, s, reads=1, writes=1: f"{_bw(n, d, s, reads, writes)} GB/s",
            says=("expected a number", "str"))


@breaks_rule("3.2", "dtype-size")
def test_rule_3_2_dtype_size():
    sizes = {torch.float32: 4, torch.float64: 8, torch.float16: 2, torch.bfloat16: 2}   # integers forgotten
    rejects("3.2", lambda n, d, s, reads=1, writes=1: n * sizes.get(d, 4) * (reads + writes) / s / 1e9,
            says=("wrong value", "torch.uint8", "size in bytes"))


@breaks_rule("3.2", "own-code")
def test_rule_3_2_own_code():
    from relucourse import bench
    rejects("3.2", bench.bandwidth_gbs, says=("course's own", "bench.bandwidth_gbs"))


@breaks_rule("3.2", "time-limit")
def test_rule_3_2_time_limit():
    rejects_in_time("3.2", slow(_bw, 0.3), limit=0.05)


# 3.3

@breaks_rule("3.3", "warmup")
def test_rule_3_3_warmup():
    def times_the_warmup_too(fn, clock, w, r):   # right value, but the warm-up calls are timed
        return statistics.median(_timed(fn, clock, w, r, include_warmup=True)[w:])
    rejects("3.3", times_the_warmup_too, says=("read the clock during the warm-up calls",))

    def no_warmup(fn, clock, w, r):
        return statistics.median(_timed(fn, clock, 0, r))
    rejects("3.3", no_warmup, says=("wrong number of times", "7 calls (warmup + repeats)", "5 calls"))


@breaks_rule("3.3", "each-call")
def test_rule_3_3_each_call():
    def pairs(fn, clock, w, r):   # one reading around two calls, halved: the value is the same here
        for _ in range(w):
            fn()
        times = []
        for k in range(r):
            start = clock()
            fn()
            times.append(clock() - start) if k % 2 == 0 else None
        return statistics.median(times)
    rejects("3.3", pairs, says=("not every timed call has its own clock readings", "no clock() reading just after it"))


@breaks_rule("3.3", "median")
def test_rule_3_3_median():
    rejects("3.3", lambda fn, clock, w, r: statistics.mean(_timed(fn, clock, w, r)), says=("wrong value", "the mean"))


@breaks_rule("3.3", "even-median")
def test_rule_3_3_even_median():
    msg = rejects("3.3", lambda fn, clock, w, r: statistics.median_low(_timed(fn, clock, w, r)),
                  says=("wrong value", "even number", "lower middle value"))
    assert "warm-up" not in msg.split("Hint:")[1]


@breaks_rule("3.3", "given-clock")
def test_rule_3_3_given_clock():
    rejects("3.3", lambda fn, clock, w, r: reference_time_it(fn, time.perf_counter, w, r),
            says=("never read the clock it was given", "time.perf_counter"))


@breaks_rule("3.3", "own-code")
def test_rule_3_3_own_code():
    from relucourse import bench
    rejects("3.3", bench.time_it, says=("course's own", "bench.time_it"))


@breaks_rule("3.3", "time-limit")
def test_rule_3_3_time_limit():
    rejects_in_time("3.3", slow(reference_time_it, 0.3), limit=0.05)


# 3.4

@breaks_rule("3.4", "any-slope")
def test_rule_3_4_any_slope():
    rejects("3.4", lambda c, a: c * (1 + max(a, 0.0) ** 2) / 2, says=("away from the measurement", "LeakyReLU(-1.0)"))


@breaks_rule("3.4", "value")
def test_rule_3_4_value():
    rejects("3.4", lambda c, a: c * (1 + a) / 2, says=("away from the measurement", "square the derivative"))


@breaks_rule("3.4", "number")
def test_rule_3_4_number():
    rejects("3.4", lambda c, a: [reference_predicted_gain(c, a)], says=("expected a number", "list"))


@breaks_rule("3.4", "time-limit")
def test_rule_3_4_time_limit():
    rejects_in_time("3.4", slow(reference_predicted_gain, 0.3), limit=0.05)


# 3.5

@breaks_rule("3.5", "in-range")
def test_rule_3_5_in_range():
    def one_step_above_the_last_stable(diverges, lo, hi):
        while hi / lo > 1.05:
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
        return lo * 1.05
    rejects("3.5", one_step_above_the_last_stable, says=("not a learning rate in [lo, hi]", "must lie in [lo, hi]"))


@breaks_rule("3.5", "within-5")
def test_rule_3_5_within_5():
    def coarse(diverges, lo, hi):
        while hi / lo > 1.2:
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
        return hi
    rejects("3.5", coarse, says=("not within 5 %", "the edge is lower"))


@breaks_rule("3.5", "any-diverges")
def test_rule_3_5_any_diverges():
    # searches a predicate of its own instead of the one it is given
    rejects("3.5", lambda diverges, lo, hi: reference_find_edge(lambda lr: lr >= 1.5, lo, hi),
            says=("not within 5 %", "stand-in"))


@breaks_rule("3.5", "max-calls")
def test_rule_3_5_max_calls():
    def arithmetic(diverges, lo, hi):
        while hi / lo > 1.05:
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
        return hi
    rejects("3.5", arithmetic, says=("called diverges", "at most 20 calls", "arithmetic midpoint"))


@breaks_rule("3.5", "inside")
def test_rule_3_5_inside():
    def probes_above(diverges, lo, hi):
        diverges(hi * 1.5)
        return reference_find_edge(diverges, lo, hi)
    rejects("3.5", probes_above, says=("raised an error", "outside [lo, hi]", "stay inside"))


@breaks_rule("3.5", "number")
def test_rule_3_5_number():
    msg = rejects("3.5", lambda d, lo, hi: str(reference_find_edge(d, lo, hi)), says=("expected a number", "str"))
    assert "LOG scale" not in msg   # the search is right: no hint about it


@breaks_rule("3.5", "time-limit")
def test_rule_3_5_time_limit():
    rejects_in_time("3.5", slow(reference_find_edge, 0.3), limit=0.05)


def test_3_5_stops_an_endless_search_on_a_stand_in():
    def never_narrows(diverges, lo, hi):
        while hi / lo > 1.05:
            diverges(math.sqrt(lo * hi))
        return hi
    msg = rejects("3.5", never_narrows, says=("went on calling diverges", "more than 200", "does not stop"))
    assert "raised" not in msg
