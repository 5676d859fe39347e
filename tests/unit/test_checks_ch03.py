"""Chapter 3 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math
import statistics
import time

import numpy as np
import pytest
import torch
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse.tooling.checks.ch03 import (FakeWorkload, reference_bandwidth_gbs, reference_he_init_,
                                    reference_time_it)
from relucourse.measure import epochs_to_target, zero_fractions


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
            says=("warm-up calls must not be timed",))

    def warmup_timed(fn, clock, w, r):   # the right number of calls, but the warm-up is timed too
        times = []
        for _ in range(w + r):
            start = clock()
            fn()
            times.append(clock() - start)
        return statistics.median(times)
    rejects("3.3", warmup_timed, says=("warm-up calls must not be timed",))

    def whole_loop(fn, clock, w, r):
        for _ in range(w):
            fn()
        start = clock()
        for _ in range(r):
            fn()
        return (clock() - start) / r
    rejects("3.3", whole_loop, says=("the mean",))

    def upper_median(fn, clock, w, r):
        return sorted(_timed(fn, clock, w, r))[r // 2]
    rejects("3.3", upper_median, says=("even number",))

    def real_clock(fn, clock, w, r):
        return reference_time_it(fn, time.perf_counter, w, r)
    rejects("3.3", real_clock, says=("use the clock you are given",))
    rejects("3.3", lambda fn, clock, w, r: min(_timed(fn, clock, w, r)), says=("minimum",))


def test_fake_workload_is_deterministic():
    work = FakeWorkload([2.0, 1.0])
    t0 = work.clock()
    work.fn()
    assert work.clock() - t0 == 2.0
    work.fn()
    work.fn()  # beyond the list: repeats the last duration
    assert work.clock() - t0 == 4.0 and work.calls == 3


# -- 3.4 Zero fractions -------------------------------------------------------------------------

def zf_with_modules_list(model, X):
    outs = []
    handles = []
    for m in model.modules():
        if type(m) is nn.ReLU:
            handles.append(m.register_forward_hook(lambda mod, inp, out: outs.append(out)))
    with torch.no_grad():
        model(X)
    for h in handles:
        h.remove()
    return torch.stack([(o == 0).double().mean() for o in outs]) if outs else []


def zf_numpy(model, X):
    fracs = {}
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [r.register_forward_hook(
        lambda mod, inp, out, i=i: fracs.__setitem__(i, float(np.mean(out.detach().numpy() == 0))))
        for i, r in enumerate(relus)]
    try:
        model(X)
    finally:
        [h.remove() for h in handles]
    return np.array([fracs[i] for i in range(len(relus))])


def test_3_4_accepts_the_reference_and_other_correct_forms():
    passes("3.4", zero_fractions)
    passes("3.4", zf_with_modules_list)
    passes("3.4", zf_numpy)
    passes("3.4", lambda model, X: tuple(zero_fractions(model, X)))


def test_3_4_stub_is_not_attempted():
    not_attempted("3.4", stub("3.4"))


def test_3_4_rejects_the_generic_failures():
    rejects("3.4", raises, says=("raised an error",))
    rejects("3.4", forever, says=("did not finish",))
    rejects("3.4", lambda model, X: [float("nan")] * len(zero_fractions(model, X)), says=("wrong fraction",))
    rejects("3.4", lambda model, X: {"relu": 0.5}, says=("expected a list of numbers", "dict"))

    def modifies_input(model, X):
        X.clamp_(min=0)
        return zero_fractions(model, X)
    rejects("3.4", modifies_input, says=("modified its input in place",))


def test_3_4_rejects_hooks_left_behind_and_a_modified_model():
    def leaves_hooks(model, X):
        outs = []
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                m.register_forward_hook(lambda mod, inp, out: outs.append((out == 0).float().mean().item()))
        with torch.no_grad():
            model(X)
        return outs
    rejects("3.4", leaves_hooks, says=("hooks are still attached", "handle.remove()"))

    def trains(model, X):
        result = zero_fractions(model, X)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        return result
    rejects("3.4", trains, says=("changed the model's parameters",))


def test_3_4_rejects_conceptual_mistakes_with_a_diagnosis():
    rejects("3.4", lambda model, X: [100 * f for f in zero_fractions(model, X)], says=("not percentages",))
    rejects("3.4", lambda model, X: [1 - f for f in zero_fractions(model, X)], says=("non-zero",))

    def with_tolerance(model, X):
        fr = []
        hs = [m.register_forward_hook(lambda mod, i, o: fr.append(torch.isclose(o, torch.zeros_like(o)).float()
                                                                   .mean().item()))
              for m in model.modules() if isinstance(m, nn.ReLU)]
        with torch.no_grad():
            model(X)
        [h.remove() for h in hs]
        return fr
    rejects("3.4", with_tolerance, says=("exactly 0",))

    def first_sample_only(model, X):
        return zero_fractions(model, X[:1])
    rejects("3.4", first_sample_only, says=("wrong fraction",))

    def counts_linear_outputs(model, X):
        return zero_fractions(model, X, kinds=(nn.Linear,))[:len(zero_fractions(model, X))]
    rejects("3.4", counts_linear_outputs, says=("wrong fraction",))

    def all_activations(model, X):
        return zero_fractions(model, X, kinds=(nn.ReLU, nn.Tanh, nn.Sigmoid))
    rejects("3.4", all_activations, says=("wrong length",))

    def children_in_sequence(model, X):  # no hooks: walks the children, which fails for branching models
        fr = []
        h = X
        with torch.no_grad():
            for m in model.children():
                h = m(h)
                if isinstance(m, nn.ReLU):
                    fr.append((h == 0).float().mean().item())
        return fr
    rejects("3.4", children_in_sequence)


# -- 3.5 Epochs to target -----------------------------------------------------------------------

def test_3_5_accepts_the_reference_and_other_correct_forms():
    passes("3.5", epochs_to_target)
    passes("3.5", lambda h, t: next((i + 1 for i, v in enumerate(h) if v >= t), None))

    def with_numpy(h, t):
        hits = np.flatnonzero(np.asarray(h, dtype=float) >= t)
        return int(hits[0]) + 1 if hits.size else None
    passes("3.5", with_numpy)

    def numpy_int(h, t):
        hits = np.flatnonzero(np.asarray(h, dtype=float) >= t)
        return hits[0] + 1 if hits.size else None
    passes("3.5", numpy_int)


def test_3_5_stub_is_not_attempted():
    not_attempted("3.5", stub("3.5"))


def test_3_5_rejects_the_generic_failures():
    rejects("3.5", raises, says=("raised an error",))
    rejects("3.5", forever, says=("did not finish",))
    rejects("3.5", lambda h, t: float("nan"), says=("expected an int", "float"))
    rejects("3.5", lambda h, t: str(epochs_to_target(h, t)), says=("expected an int", "str"))

    def sorts_in_place(h, t):
        if isinstance(h, list):
            h.sort()
        return epochs_to_target(sorted(h), t)
    rejects("3.5", sorts_in_place, says=("modified the history",))

    def pops(h, t):
        if isinstance(h, list) and h:
            h.pop()
        return epochs_to_target(h, t)
    rejects("3.5", pops, says=("modified the history",))


def test_3_5_rejects_conceptual_mistakes_with_a_diagnosis():
    rejects("3.5", lambda h, t: next((i for i, v in enumerate(h) if v >= t), None), says=("counted from 1",))
    rejects("3.5", lambda h, t: next((i + 1 for i, v in enumerate(h) if v > t), None), says=("use >=",))
    rejects("3.5", lambda h, t: next((i + 1 for i, v in enumerate(h) if v >= t), -1), says=("must be None", "-1"))
    rejects("3.5", lambda h, t: next((i + 1 for i, v in enumerate(h) if v >= t), len(h)), says=("must be None",))
    rejects("3.5", lambda h, t: float(next((i + 1 for i, v in enumerate(h) if v >= t), 0)) or None,
            says=("expected an int",))

    def last(h, t):
        hits = [i + 1 for i, v in enumerate(h) if v >= t]
        return hits[-1] if hits else None
    rejects("3.5", last, says=("FIRST epoch",))

    def best(h, t):
        return int(np.argmax(h)) + 1 if len(h) and max(h) >= t else None
    rejects("3.5", best, says=("FIRST epoch",))


@pytest.mark.parametrize("history,target,expected", [
    ([0.1, 0.95], 0.95, 2), ([], 0.1, None), ([0.5], 0.6, None), (np.array([0.9]), 0.9, 1),
])
def test_epochs_to_target_reference(history, target, expected):
    assert epochs_to_target(history, target) == expected
