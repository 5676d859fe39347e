"""Chapter 4 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse import method
from relucourse.deadunits import dead_masks
from relucourse.dying import born_dead_bound
from relucourse.tooling.checks.ch04 import (dead_after, reference_dead_counts, reference_kill_fractions,
                                            reference_leaky_comparison, reference_margins)


def forever(*args, **kwargs):
    while True:
        pass


def raises(*args, **kwargs):
    raise ValueError("something went wrong")


# -- 4.1 margins ----------------------------------------------------------------------------------

def margins_loop(layer, X):
    w = layer.weight.detach()
    b = layer.bias.detach() if layer.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
    return torch.stack([(X @ w[j] + b[j]).max() for j in range(w.shape[0])])


def test_4_1_accepts_the_reference_and_other_correct_forms():
    passes("4.1", reference_margins)
    passes("4.1", lambda layer, X: layer(X).amax(0))                 # still attached to autograd
    passes("4.1", lambda layer, X: F.linear(X, layer.weight, layer.bias).detach().max(0)[0])
    passes("4.1", margins_loop)


def test_4_1_stub_and_generic_failures():
    not_attempted("4.1", stub("4.1"))
    rejects("4.1", raises, says=("raised an error",))
    rejects("4.1", forever, says=("did not finish",))
    rejects("4.1", "margins", says=("expected a function `margins`",))
    rejects("4.1", lambda layer, X: layer(X).max(0).values.tolist(), says=("expected a torch.Tensor",))
    rejects("4.1", lambda layer, X: layer(X).max(0).values.double(), says=("wrong dtype",))


def test_4_1_rejects_conceptual_mistakes_with_a_diagnosis():
    rejects("4.1", lambda layer, X: layer(X).min(0).values, says=("minimum",))
    rejects("4.1", lambda layer, X: layer(X).mean(0), says=("mean",))
    rejects("4.1", lambda layer, X: torch.relu(layer(X)).max(0).values, says=("apply no ReLU",))
    rejects("4.1", lambda layer, X: (X @ layer.weight.T).max(0).values, says=("add the bias",))
    rejects("4.1", lambda layer, X: layer(X).max(1).values, says=("one number per unit",))

    def kills(layer, X):
        out = layer(X).max(0).values.detach()
        with torch.no_grad():
            layer.weight.zero_()
        return out
    rejects("4.1", kills, says=("changed the layer's parameters",))

    def modifies_x(layer, X):
        X.clamp_(min=0)
        return layer(X).max(0).values
    rejects("4.1", modifies_x, says=("modified its input in place",))


# -- 4.2 dead-unit counter ------------------------------------------------------------------------

def counts_via_monitor(model, X):
    return [int(m.sum()) for m in dead_masks(model, X).values()]


def counts_numpy_one_pass(model, X):
    outs = []
    handles = [m.register_forward_hook(lambda mod, i, o: outs.append(o.detach().clone()))
               for m in model.modules() if isinstance(m, nn.ReLU)]
    was = [m.training for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in handles:
            h.remove()
        for m, t in zip(model.modules(), was):
            m.train(t) if False else setattr(m, "training", t)
    result = []
    for o in outs:
        a = o.transpose(0, 1).reshape(o.shape[1], -1).numpy()
        result.append(np.int64((~(a != 0).any(1)).sum()))
    return np.array(result, dtype=np.int64)


def counts_tensor_small_batches(model, X):
    return torch.tensor(reference_dead_counts(model, X, batch_size=64), dtype=torch.int64)


def _counter(*, eval_mode=True, restore=True, combine="or", tol=0.0, relu_kinds=(nn.ReLU,), remove=True,
             fractions=False, batch_size=256):
    def dead_counts(model, X):
        relus = [m for m in model.modules() if isinstance(m, relu_kinds)]
        alive = {}

        def hook_for(i):
            def hook(mod, inp, out):
                fired = (out.abs() > tol).transpose(0, 1).reshape(out.shape[1], -1).any(1)
                if combine == "or" and i in alive:
                    alive[i] = alive[i] | fired
                elif combine == "first" and i in alive:
                    pass
                else:
                    alive[i] = fired
            return hook

        handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(relus)]
        was = model.training
        if eval_mode:
            model.eval()
        with torch.no_grad():
            for s in range(0, len(X), batch_size):
                model(X[s:s + batch_size])
        if remove:
            for h in handles:
                h.remove()
        if restore:
            model.train(was)
        if fractions:
            return [float((~alive[i]).float().mean()) for i in range(len(relus))]
        return [int((~alive[i]).sum()) for i in range(len(relus))]
    return dead_counts


def test_4_2_accepts_the_reference_and_other_correct_forms():
    passes("4.2", reference_dead_counts)
    passes("4.2", counts_via_monitor)
    passes("4.2", counts_numpy_one_pass)
    passes("4.2", counts_tensor_small_batches)
    passes("4.2", _counter())


def test_4_2_stub_and_generic_failures():
    not_attempted("4.2", stub("4.2"))
    rejects("4.2", raises, says=("raised an error",))
    rejects("4.2", forever, says=("did not finish",))
    rejects("4.2", _counter(fractions=True), says=("counts (ints), not fractions",))
    rejects("4.2", lambda m, X: {"n": reference_dead_counts(m, X)}, says=("expected a list of ints",))


def test_4_2_rejects_the_edge_cases_that_separate_dead_from_inactive():
    rejects("4.2", _counter(combine="last"), says=("EVERY input",))
    rejects("4.2", _counter(combine="first"), says=("EVERY input",))
    rejects("4.2", _counter(tol=1e-12), says=("1e-30 is not 0",))
    rejects("4.2", _counter(relu_kinds=(nn.ReLU, nn.Tanh)), says=("wrong length",))


def test_4_2_rejects_state_changes():
    rejects("4.2", _counter(remove=False), says=("hooks are not as they were",))
    rejects("4.2", _counter(eval_mode=False), says=("running statistics",))
    rejects("4.2", _counter(restore=False), says=("training mode was not restored",))

    def clears_hooks(model, X):
        for m in model.modules():
            m._forward_hooks.clear()
        return reference_dead_counts(model, X)
    rejects("4.2", clears_hooks, says=("hooks are not as they were",))

    def trains_a_bit(model, X):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        return reference_dead_counts(model, X)
    rejects("4.2", trains_a_bit, says=("changed the model's parameters",))


# -- 4.3 safe width -------------------------------------------------------------------------------

def width_loop(depth, risk):
    n = 1
    while 1 - (1 - 2.0 ** -n) ** depth > risk:
        n += 1
    return n


def width_closed_form(depth, risk):
    return max(1, math.ceil(-math.log2(1 - (1 - risk) ** (1 / depth))))


def _width(rule):
    def fn(depth, risk):
        n = 1
        while not rule(n, depth, risk):
            n += 1
        return n
    return fn


def test_4_3_accepts_the_reference_and_other_correct_forms():
    passes("4.3", width_loop)
    passes("4.3", width_closed_form)
    passes("4.3", lambda d, r: np.int64(next(n for n in range(1, 200) if born_dead_bound(n, d) <= r)))
    passes("4.3", lambda d, r: torch.tensor(width_loop(d, r)))


def test_4_3_rejects_wrong_widths_with_a_diagnosis():
    not_attempted("4.3", stub("4.3"))
    rejects("4.3", raises, says=("raised an error",))
    rejects("4.3", forever, says=("did not finish",))
    rejects("4.3", lambda d, r: born_dead_bound(3, d), says=("expected an int", "probability"))
    rejects("4.3", lambda d, r: float(width_loop(d, r)), says=("expected an int",))
    rejects("4.3", _width(lambda n, d, r: d * 2.0 ** -n <= r), says=("wrong width", "union bound"))
    rejects("4.3", _width(lambda n, d, r: 2.0 ** -n <= r), says=("wrong width", "grows with the depth"))
    rejects("4.3", lambda d, r: width_loop(d, r) - 1, says=("wrong width", "one too small"))
    rejects("4.3", lambda d, r: width_loop(d, r) + 1, says=("wrong width", "SMALLEST"))
    rejects("4.3", _width(lambda n, d, r: born_dead_bound(n, d + 1) <= r), says=("wrong width",))
    rejects("4.3", _width(lambda n, d, r: 1 - (1 - 2.0 ** -(n - 1)) ** d <= r), says=("wrong width", "2^-N"))
    rejects("4.3", lambda d, r: min(30, width_loop(d, r)), says=("wrong width",))        # capped at 30
    rejects("4.3", lambda d, r: str(width_loop(d, r)), says=("expected an int",))


# -- 4.4 first dead layers ------------------------------------------------------------------------

def _layers(*, weights="normal", cumulative=False, every=False, drop_last=False, fractions=False,
            seeded=True, positive_off=False, shift=0, bias=0.0):
    def first_dead_layers(width, depth, n_nets, seed):
        g = torch.Generator().manual_seed(seed if seeded else int(torch.randint(0, 10**6, ())))
        h = torch.ones(n_nets, 1, 1)
        first = torch.full((n_nets,), depth)
        every_count = [0] * (depth + 1)
        fan_in = 1
        for layer in range(depth):
            if weights == "normal":
                w = torch.randn(n_nets, fan_in, width, generator=g) * math.sqrt(2 / fan_in)
            elif weights == "uniform":
                w = torch.rand(n_nets, fan_in, width, generator=g) * 2 - 1
            else:
                w = torch.rand(n_nets, fan_in, width, generator=g)
            b = bias  # a constant bias: the nets are no longer bias-free
            h = torch.relu(h @ w + b)
            zero = ((h > 0) if positive_off else (h == 0)).all(dim=2).squeeze(1)
            every_count[layer] = int(zero.sum())
            first = torch.where(zero & (first == depth), torch.full_like(first, layer), first)
            fan_in = width
        counts = torch.bincount(first, minlength=depth + 1).tolist()
        if shift:
            counts = [0] + counts[:-2] + [counts[-2] + counts[-1]]
        if every:
            counts = every_count[:depth] + [counts[-1]]
        if cumulative:
            counts = list(np.cumsum(counts[:-1])) + [counts[-1]]
            counts = [int(v) for v in counts]
        if drop_last:
            counts = counts[:-1]
        if fractions:
            counts = [v / n_nets for v in counts]
        return counts
    return first_dead_layers


def layers_numpy_loop(width, depth, n_nets, seed):
    rng = np.random.default_rng(seed)
    counts = [0] * (depth + 1)
    for _ in range(n_nets):
        h = np.ones(1)
        for layer in range(depth):
            h = np.maximum(rng.normal(0, 1, size=(width, len(h))) @ h, 0)   # the scale does not matter
            if not h.any():
                counts[layer] += 1
                break
        else:
            counts[depth] += 1
    return counts


def test_4_4_accepts_correct_measurements():
    passes("4.4", _layers())
    passes("4.4", _layers(weights="uniform"))
    passes("4.4", layers_numpy_loop)
    passes("4.4", lambda w, L, n, s: np.array(_layers()(w, L, n, s)))


def test_4_4_rejects_wrong_measurements():
    not_attempted("4.4", stub("4.4"))
    rejects("4.4", raises, says=("raised an error",))
    rejects("4.4", forever, says=("did not finish within 10 s",))
    rejects("4.4", _layers(cumulative=True), says=("more than n_nets", "cumulative"))
    rejects("4.4", lambda w, L, n, s: _layers()(w, L, n, s)[::-1], says=("too far",))
    rejects("4.4", _layers(drop_last=True), says=("wrong length",))
    rejects("4.4", _layers(fractions=True), says=("expected a list of ints",))
    rejects("4.4", _layers(seeded=False), says=("same seed gave a different result",))
    rejects("4.4", _layers(weights="positive"), says=("too far", "symmetric"))
    rejects("4.4", _layers(positive_off=True), says=("too far",))
    rejects("4.4", _layers(shift=1), says=("too far",))
    rejects("4.4", _layers(bias=0.5), says=("too far",))
    rejects("4.4", lambda w, L, n, s: [round(v) for v in __import__(
        "relucourse.tooling.checks.ch04", fromlist=["x"]).expected_first_dead(w, L, n)][:-1] + [0],
        says=("do not add up",))


# -- 4.5 kill fractions ---------------------------------------------------------------------------

def _kill(*, layer=1, strict=False, seeds=range(5), mean=False, scale=1.0, count=False, as_list=False,
          str_keys=False, batch_size=128, epochs=5, on_test=False):
    def kill_fractions(lrs, data):
        from relucourse.dying import run_digits
        out = {}
        for lr in lrs:
            values = []
            for s in seeds:
                model = run_digits(data, seed=s, lr=lr, batch_size=batch_size, epochs=epochs)["model"]
                X = data[2] if on_test else data[0]
                values.append(list(dead_masks(model, X).values())[layer].float().mean().item())
            if mean:
                v = float(np.mean(values))
            else:
                killed = sum((v > 0.5) if strict else (v >= 0.5) for v in values)
                v = killed if count else scale * killed / len(values)
            out[str(lr) if str_keys else lr] = v
        return list(out.values()) if as_list else out
    return kill_fractions


def test_4_5_accepts_correct_fractions():
    passes("4.5", _kill())
    passes("4.5", lambda lrs, data: {lr: np.float64(v) for lr, v in reference_kill_fractions(lrs).items()})
    passes("4.5", lambda lrs, data: {lr: torch.tensor(v) for lr, v in reference_kill_fractions(lrs).items()})


def test_4_5_rejects_wrong_answers():
    not_attempted("4.5", stub("4.5"))
    rejects("4.5", raises, says=("raised an error",))
    rejects("4.5", _kill(as_list=True), says=("expected a dict",))
    rejects("4.5", _kill(str_keys=True), says=("keys are not the learning rates",))
    rejects("4.5", _kill(scale=100.0), says=("between 0 and 1",))
    rejects("4.5", _kill(count=True), says=("between 0 and 1",))
    rejects("4.5", _kill(mean=True), says=("not a fraction of 5 seeds",))
    rejects("4.5", _kill(layer=0), says=("wrong fraction", "SECOND one"))
    for wrong in (_kill(seeds=[0]), _kill(seeds=range(1, 6)), _kill(batch_size=64)):
        _rejected_where_it_differs(wrong)
    rejects("4.5", lambda lrs, data: {lr: 1.0 for lr in lrs}, says=("wrong fraction of killed seeds at lr 0.3",))
    rejects("4.5", lambda lrs, data: {lr: "0.2" for lr in lrs}, says=("not a number",))


def _rejected_where_it_differs(wrong):
    """Another recipe (other seeds, batch size) is wrong; on a given machine it may still happen to
    give the same fractions, and then the check rightly accepts it."""
    from relucourse.data import digits
    from relucourse.tooling.checks.ch04 import KILL_GRID
    if wrong(list(KILL_GRID), digits()) != reference_kill_fractions(KILL_GRID):
        rejects("4.5", wrong, says=("wrong fraction",))
    else:
        passes("4.5", wrong)


def test_4_5_diagnoses_a_strict_threshold():
    """'at least half' is >= 0.5; > 0.5 differs only where some seed has exactly half dead."""
    from relucourse.tooling.checks.ch04 import KILL_GRID, KILL_SEEDS
    exact = [lr for lr in KILL_GRID if any(dead_after(lr, s)[1] == 0.5 for s in KILL_SEEDS)]
    if exact:
        rejects("4.5", _kill(strict=True), says=(">= 0.5",))
    else:
        passes("4.5", _kill(strict=True))


# -- 4.6 repair -----------------------------------------------------------------------------------

def bn_net(seed):
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.BatchNorm1d(32),
                         nn.ReLU(), nn.Linear(32, 10))


class FunctionalBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10)
        self.b1, self.b2 = nn.BatchNorm1d(32), nn.BatchNorm1d(32)

    def forward(self, x):
        return self.l3(F.relu(self.b2(self.l2(F.relu(self.b1(self.l1(x)))))))


def bn_without_affine(seed):
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32, affine=False), nn.ReLU(), nn.Linear(32, 32),
                         nn.BatchNorm1d(32, affine=False), nn.ReLU(), nn.Linear(32, 10))


def test_4_6_accepts_repairs():
    passes("4.6", bn_net)
    passes("4.6", lambda seed: FunctionalBN())
    passes("4.6", bn_without_affine)


def test_4_6_rejects_what_breaks_the_rules_or_still_dies():
    from relucourse.dying import digits_mlp
    not_attempted("4.6", stub("4.6"))
    rejects("4.6", raises, says=("raised an error",))
    rejects("4.6", forever, says=("did not finish",))
    rejects("4.6", lambda seed: digits_mlp((32, 32)), says=("too many units died",))
    rejects("4.6", lambda seed: digits_mlp((32, 32), activation="leaky"), says=("another activation",))
    rejects("4.6", lambda seed: digits_mlp((64, 32)), says=("not 64-32-32-10",))
    rejects("4.6", lambda seed: "model", says=("expected an nn.Module",))
    rejects("4.6", lambda seed: nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32),
                                              nn.BatchNorm1d(32), nn.Linear(32, 10)),
            says=("exactly two ReLU layers",))
    rejects("4.6", lambda seed: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                              nn.Linear(32, 10), nn.Linear(10, 100), nn.Linear(100, 10)),
            says=("not 64-32-32-10",))

    def big_bn(seed):
        net = bn_net(seed)
        net.extra = nn.Parameter(torch.zeros(1000))
        return net
    rejects("4.6", big_bn, says=("parameter budget",))
    rejects("4.6", lambda seed: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU()),
            says=("not 64-32-32-10",))


# -- 4.7 paired comparison ------------------------------------------------------------------------

def _compare(*, slope=0.1, bias=-7.0, lr=0.1, epochs=5, reverse=False, unpaired=False, higher_ge=False,
             verdict=None, as_mean=False, accuracies=False):
    def compare_leaky(data, seeds):
        from relucourse.dying import run_digits
        recipe = dict(lr=lr, batch_size=128, epochs=epochs, first_bias=bias)
        leaky_seeds = [s + 1 for s in seeds] if unpaired else list(seeds)
        leaky = [run_digits(data, seed=s, activation="leaky", negative_slope=slope, **recipe)["test_acc"]
                 for s in leaky_seeds]
        relu = [run_digits(data, seed=s, **recipe)["test_acc"] for s in seeds]
        d = method.paired(relu, leaky) if reverse else method.paired(leaky, relu)
        diffs = list(d.diffs)
        if accuracies:
            diffs = leaky
        higher = d.above + (d.ties if higher_ge else 0)
        rescues = bool(d.mean > 0 and d.excludes_zero) if verdict is None else verdict(d)
        return {"diffs": float(np.mean(diffs)) if as_mean else diffs, "higher": higher, "rescues": rescues}
    return compare_leaky


def test_4_7_accepts_correct_comparisons():
    passes("4.7", _compare())
    passes("4.7", lambda data, seeds: {**reference_leaky_comparison(seeds),
                                       "diffs": np.array(reference_leaky_comparison(seeds)["diffs"])})
    passes("4.7", lambda data, seeds: {k: (np.bool_(v) if k == "rescues" else v)
                                       for k, v in reference_leaky_comparison(seeds).items()})


def test_4_7_rejects_wrong_comparisons():
    ref = reference_leaky_comparison(list(range(5)))
    not_attempted("4.7", stub("4.7"))
    rejects("4.7", raises, says=("raised an error",))
    rejects("4.7", lambda data, seeds: ref["diffs"], says=("expected a dict",))
    rejects("4.7", lambda data, seeds: {"diffs": ref["diffs"]}, says=("lacks a key",))
    rejects("4.7", _compare(reverse=True), says=("not the measured ones", "reversed"))
    rejects("4.7", _compare(unpaired=True), says=("not the measured ones",))
    rejects("4.7", _compare(slope=0.01), says=("not the measured ones",))
    rejects("4.7", _compare(bias=-5.0), says=("not the measured ones",))
    rejects("4.7", _compare(epochs=20), says=("not the measured ones",))
    rejects("4.7", _compare(as_mean=True), says=("not a list of numbers",))
    rejects("4.7", _compare(accuracies=True), says=("not the measured ones",))
    rejects("4.7", lambda data, seeds: {**ref, "higher": ref["higher"] - 1}, says=("'higher'",))
    rejects("4.7", lambda data, seeds: {**ref, "rescues": "yes"}, says=("not a bool",))
    rejects("4.7", lambda data, seeds: {**ref, "rescues": not ref["rescues"]}, says=("verdict",))
    rejects("4.7", lambda data, seeds: {**ref, "diffs": ref["diffs"][:4]}, says=("wrong length",))
