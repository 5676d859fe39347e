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


def _filler(sampler, zero_bias=True):
    def init(layer):
        with torch.no_grad():
            fan_out, fan_in = layer.weight.shape
            layer.weight.copy_(sampler(fan_in, fan_out, layer.weight.shape).to(layer.weight.dtype))
            if zero_bias and layer.bias is not None:
                layer.bias.zero_()
    return init


def he_with_numpy(layer):
    rng = np.random.default_rng()   # unseeded on purpose: the check's bounds are statistical
    w = rng.normal(0.0, np.sqrt(2.0 / layer.in_features), size=tuple(layer.weight.shape))
    with torch.no_grad():
        layer.weight[...] = torch.from_numpy(w)
        if layer.bias is not None:
            layer.bias[...] = 0


def test_3_1_accepts_the_reference_and_other_correct_forms():
    passes("3.1", reference_he_init_)
    passes("3.1", he_with_numpy)
    passes("3.1", lambda layer: nn.init.normal_(layer.weight, std=(2 / layer.in_features) ** 0.5)
           is not None and (layer.bias is None or nn.init.constant_(layer.bias, 0.0) is not None))
    passes("3.1", he_with_randn)
    passes("3.1", he_with_torch_init)
    passes("3.1", he_via_data)
    passes("3.1", lambda layer: nn.init.kaiming_normal_(layer.weight, mode="fan_in") is not None
           and (layer.bias is None or nn.init.zeros_(layer.bias) is not None))


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
    rejects("3.3", whole_loop, says=("only twice", "EACH call"))

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
