"""Chapter 4 checks: the reference passes, correct variants pass, every rule of a statement has a wrong
answer that breaks only it (``@breaks_rule``), and typical mistakes are rejected with a diagnosis.

Speed: the trained exercises (4.5, 4.7) share the check's own caches (``dead_after``, ``leaky_accuracy``):
each wrong answer is built from the cached runs of the recipe, so that only one correct answer per exercise
trains networks itself."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from rulebook import breaks_rule
from relucourse import method
from relucourse.deadunits import dead_masks
from relucourse.dying import born_dead_bound
from relucourse.tooling.checks.ch04 import (KILL_GRID, KILL_SEEDS, dead_after, leaky_accuracy,
                                            reference_dead_counts, reference_kill_fractions,
                                            reference_leaky_comparison, reference_margins)

torch.set_num_threads(1)  # small models: one thread is fastest, and a loaded machine does not stall


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


def margins_numpy(layer, X):
    w = layer.weight.detach().numpy()
    pre = X.numpy() @ w.T
    if layer.bias is not None:
        pre = pre + layer.bias.detach().numpy()
    return torch.from_numpy(pre.max(axis=0))


def test_4_1_accepts_the_reference_and_other_correct_forms():
    passes("4.1", reference_margins)
    passes("4.1", lambda layer, X: layer(X).amax(0))                 # still attached to autograd
    passes("4.1", lambda layer, X: F.linear(X, layer.weight, layer.bias).detach().max(0)[0])
    passes("4.1", margins_loop)
    passes("4.1", margins_numpy)


def test_4_1_stub_and_generic_failures():
    not_attempted("4.1", stub("4.1"))
    rejects("4.1", raises, says=("raised an error",))
    rejects("4.1", "margins", says=("expected a function `margins`",))
    rejects("4.1", lambda layer, X: layer(X).max(0).values.tolist(), says=("expected a torch.Tensor",))


@breaks_rule("4.1", "value")
def test_4_1_rejects_wrong_values_with_a_diagnosis():
    rejects("4.1", lambda layer, X: layer(X).min(0).values, says=("minimum",))
    rejects("4.1", lambda layer, X: layer(X).mean(0), says=("mean",))
    rejects("4.1", lambda layer, X: torch.relu(layer(X)).max(0).values, says=("apply no ReLU",))
    rejects("4.1", lambda layer, X: (X @ layer.weight.T).max(0).values, says=("add the bias",))


@breaks_rule("4.1", "one-per-unit")
def test_4_1_rejects_one_value_per_input():
    rejects("4.1", lambda layer, X: layer(X).max(1).values, says=("one number per unit",))


@breaks_rule("4.1", "no-bias")
def test_4_1_bias_free_layer_gets_a_hint_about_the_missing_bias():
    msg = rejects("4.1", lambda layer, X: (X @ layer.weight.T + layer.bias).max(0).values,
                  says=("raised an error", "TypeError", "bias=False", "has no bias (layer.bias is None)"))
    assert "+ layer.bias" not in msg.split("Hint:")[1]   # not told to use the very expression that failed


@breaks_rule("4.1", "dtype")
def test_4_1_rejects_another_dtype():
    rejects("4.1", lambda layer, X: layer(X).max(0).values.double(), says=("wrong dtype",))


@breaks_rule("4.1", "keep-layer")
def test_4_1_rejects_changes_to_the_layer():
    def kills(layer, X):
        out = layer(X).max(0).values.detach()
        with torch.no_grad():
            layer.weight.zero_()
        return out
    rejects("4.1", kills, says=("changed the layer", "the values of weight changed"))

    def adds_a_zero_bias(layer, X):
        if layer.bias is None:
            layer.bias = nn.Parameter(torch.zeros(layer.out_features, dtype=layer.weight.dtype))
        return layer(X).max(0).values
    rejects("4.1", adds_a_zero_bias, says=("changed the layer", "bias changed from None to a tensor"))

    def to_double(layer, X):
        out = layer(X).max(0).values
        layer.double()
        return out
    rejects("4.1", to_double, says=("changed the layer", "weight.dtype changed"))

    def to_eval(layer, X):
        layer.eval()
        return layer(X).max(0).values
    rejects("4.1", to_eval, says=("changed the layer", "training changed from True to False"))


@breaks_rule("4.1", "keep-x")
def test_4_1_rejects_changes_to_x():
    def modifies_x(layer, X):
        X.clamp_(min=0)
        return layer(X).max(0).values
    rejects("4.1", modifies_x, says=("modified its input in place",))


@breaks_rule("4.1", "time-limit")
def test_4_1_rejects_an_endless_loop():
    rejects("4.1", forever, says=("did not finish",))


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
    return result                         # a list of NumPy integers


def counts_small_batches_tuple(model, X):
    return tuple(reference_dead_counts(model, X, batch_size=64))


def _counter(*, eval_mode=True, restore=True, combine="or", tol=0.0, relu_kinds=(nn.ReLU,), remove=True,
             fractions=False, batch_size=256, units="channels", keep_buffers=False):
    def dead_counts(model, X):
        relus = [m for m in model.modules() if isinstance(m, relu_kinds)]
        alive = {}

        def hook_for(i):
            def hook(mod, inp, out):
                if units == "channels":
                    fired = (out.abs() > tol).transpose(0, 1).reshape(out.shape[1], -1).any(1)
                else:   # every position of a feature map counted as a unit of its own
                    fired = (out.abs() > tol).reshape(out.shape[0], -1).any(0)
                if combine == "or" and i in alive:
                    alive[i] = alive[i] | fired
                elif combine == "first" and i in alive:
                    pass
                else:
                    alive[i] = fired
            return hook

        handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(relus)]
        was = [m.training for m in model.modules()]
        saved = {k: v.clone() for k, v in model.state_dict().items()} if keep_buffers else None
        if eval_mode:
            model.eval()
        with torch.no_grad():
            for s in range(0, len(X), batch_size):
                model(X[s:s + batch_size])
        if remove:
            for h in handles:
                h.remove()
        if restore == "top":     # the mistake: model.train(was) sets every submodule to one mode
            model.train(was[0])
        elif restore:
            for m, t in zip(model.modules(), was):
                m.training = t
        if saved is not None:
            model.load_state_dict(saved)
        if fractions:
            return [float((~alive[i]).float().mean()) for i in range(len(relus))]
        return [int((~alive[i]).sum()) for i in range(len(relus))]
    return dead_counts


def test_4_2_accepts_the_reference_and_other_correct_forms():
    passes("4.2", reference_dead_counts)
    passes("4.2", counts_via_monitor)
    passes("4.2", counts_numpy_one_pass)
    passes("4.2", counts_small_batches_tuple)
    passes("4.2", _counter())


def test_4_2_stub_and_generic_failures():
    not_attempted("4.2", stub("4.2"))
    rejects("4.2", raises, says=("raised an error",))


@breaks_rule("4.2", "list-of-ints")
def test_4_2_rejects_fractions_and_other_containers():
    rejects("4.2", _counter(fractions=True), says=("counts (ints), not fractions",))
    rejects("4.2", lambda m, X: {"n": reference_dead_counts(m, X)}, says=("expected a list of ints",))
    rejects("4.2", lambda m, X: [torch.tensor(v) for v in reference_dead_counts(m, X)],
            says=("expected a list of ints", "int(mask.sum())"))
    rejects("4.2", lambda m, X: torch.tensor(reference_dead_counts(m, X)), says=("expected a list of ints",
                                                                              "tolist()"))


@breaks_rule("4.2", "relu-order")
def test_4_2_rejects_other_modules_and_another_order():
    rejects("4.2", _counter(relu_kinds=(nn.ReLU, nn.Tanh)), says=("wrong length",))
    rejects("4.2", lambda m, X: reference_dead_counts(m, X)[::-1], says=("wrong number of dead units",))


@breaks_rule("4.2", "channels")
def test_4_2_rejects_positions_counted_as_units():
    rejects("4.2", _counter(units="positions"), says=("wrong number of dead units", "channels"))


@breaks_rule("4.2", "any-input")
def test_4_2_rejects_a_unit_judged_by_one_batch():
    rejects("4.2", _counter(combine="last"), says=("EVERY input",))
    rejects("4.2", _counter(combine="first"), says=("EVERY input",))


@breaks_rule("4.2", "exact-zero")
def test_4_2_rejects_a_tolerance():
    rejects("4.2", _counter(tol=1e-12), says=("1e-30 is not 0",))


@breaks_rule("4.2", "eval-mode")
def test_4_2_rejects_counting_in_training_mode():
    # the buffers are put back, so only the counts (batch statistics, dropout) are wrong
    rejects("4.2", _counter(eval_mode=False, keep_buffers=True), says=("wrong number of dead units", "eval mode"))


@breaks_rule("4.2", "restore-mode")
def test_4_2_rejects_a_mode_left_in_eval():
    rejects("4.2", _counter(restore=False), says=("training mode was not restored",))


def test_4_2_rejects_restoring_only_the_top_level_mode_and_its_hint_is_not_that_mistake():
    message = rejects("4.2", _counter(restore="top"),
                      says=("training mode was not restored", "1 of its submodules in another mode",
                            "for m, t in zip(model.modules(), was): m.training = t"))
    assert "e.g. was = model.training" not in message


@breaks_rule("4.2", "keep-params")
def test_4_2_rejects_changed_parameters_and_buffers():
    rejects("4.2", _counter(eval_mode=False), says=("running statistics",))

    def trains_a_bit(model, X):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        return reference_dead_counts(model, X)
    rejects("4.2", trains_a_bit, says=("changed the model's parameters",))


@breaks_rule("4.2", "remove-hooks")
def test_4_2_rejects_hooks_left_behind():
    rejects("4.2", _counter(remove=False), says=("hooks are not as they were",))


@breaks_rule("4.2", "keep-caller-hooks")
def test_4_2_rejects_removing_the_callers_hooks():
    def clears_hooks(model, X):
        for m in model.modules():
            m._forward_hooks.clear()
        return reference_dead_counts(model, X)
    rejects("4.2", clears_hooks, says=("hooks are not as they were",))


@breaks_rule("4.2", "time-limit")
def test_4_2_rejects_an_endless_loop():
    rejects("4.2", forever, says=("did not finish",))


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
    rejects("4.3", _width(lambda n, d, r: born_dead_bound(n, d) < r), says=("wrong width", "risk=0.5"))
    not_attempted("4.3", stub("4.3"))
    rejects("4.3", raises, says=("raised an error",))
    rejects("4.3", _width(lambda n, d, r: d * 2.0 ** -n <= r), says=("wrong width", "union bound"))
    rejects("4.3", _width(lambda n, d, r: 2.0 ** -n <= r), says=("wrong width", "grows with the depth"))
    rejects("4.3", _width(lambda n, d, r: born_dead_bound(n, d + 1) <= r), says=("wrong width",))
    rejects("4.3", _width(lambda n, d, r: 1 - (1 - 2.0 ** -(n - 1)) ** d <= r), says=("wrong width", "2^-N"))


@breaks_rule("4.3", "smallest")
def test_4_3_rejects_a_width_that_is_not_the_smallest():
    rejects("4.3", lambda d, r: width_loop(d, r) + 1, says=("wrong width", "SMALLEST"))


@breaks_rule("4.3", "at-most-risk")
def test_4_3_rejects_a_width_one_too_small():
    rejects("4.3", lambda d, r: width_loop(d, r) - 1, says=("wrong width", "one too small"))


@breaks_rule("4.3", "int")
def test_4_3_rejects_other_types():
    rejects("4.3", lambda d, r: float(width_loop(d, r)), says=("expected an int",))
    rejects("4.3", lambda d, r: str(width_loop(d, r)), says=("expected an int",))
    rejects("4.3", lambda d, r: born_dead_bound(3, d), says=("expected an int", "probability"))


@breaks_rule("4.3", "small-risk")
def test_4_3_rejects_a_width_capped_at_30():
    rejects("4.3", lambda d, r: min(30, width_loop(d, r)), says=("wrong width", "risk=1e-12"))


@breaks_rule("4.3", "time-limit")
def test_4_3_rejects_an_endless_loop():
    rejects("4.3", forever, says=("did not finish",))


# -- 4.4 first dead layers ------------------------------------------------------------------------

def _layers(*, weights="normal", cumulative=False, every=False, drop_last=False, fractions=False,
            seeded=True, positive_off=False, shift=0, bias=0.0, scale_first=None):
    def first_dead_layers(width, depth, n_nets, seed):
        if seeded == "global":
            torch.manual_seed(seed)
            g = None
        else:
            g = torch.Generator().manual_seed(seed if seeded is True else 0)
        h = torch.ones(n_nets, 1, 1)
        first = torch.full((n_nets,), depth)
        every_count = [0] * (depth + 1)
        fan_in = 1
        for layer in range(depth):
            if weights == "normal":
                w = torch.randn(n_nets, fan_in, width, generator=g) * math.sqrt(2 / fan_in)
                if layer == 0 and scale_first is not None:
                    w = w * scale_first
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
    passes("4.4", _layers(weights="uniform"))          # any symmetric distribution gives the same law
    passes("4.4", _layers(scale_first=10.0))           # the scale does not change which units are zero
    passes("4.4", layers_numpy_loop)
    passes("4.4", lambda w, L, n, s: np.array(_layers()(w, L, n, s)))


def test_4_4_rejects_wrong_measurements_with_a_diagnosis():
    not_attempted("4.4", stub("4.4"))
    rejects("4.4", raises, says=("raised an error",))
    rejects("4.4", _layers(cumulative=True), says=("more than n_nets", "cumulative"))
    rejects("4.4", lambda w, L, n, s: _layers()(w, L, n, s)[::-1], says=("too far",))
    rejects("4.4", _layers(positive_off=True), says=("too far",))


@breaks_rule("4.4", "symmetric")
def test_4_4_rejects_weights_that_are_not_symmetric():
    rejects("4.4", _layers(weights="positive"), says=("too far", "symmetric"))


@breaks_rule("4.4", "bias-free")
def test_4_4_rejects_a_bias():
    rejects("4.4", _layers(bias=0.5), says=("too far", "bias-free"))


@breaks_rule("4.4", "list-of-ints")
def test_4_4_rejects_fractions_and_a_short_list():
    rejects("4.4", _layers(drop_last=True), says=("wrong length",))
    rejects("4.4", _layers(fractions=True), says=("expected a list of ints",))


@breaks_rule("4.4", "first-layer")
def test_4_4_rejects_layers_off_by_one():
    rejects("4.4", _layers(shift=1), says=("too far",))


@breaks_rule("4.4", "sum")
def test_4_4_rejects_counts_that_do_not_add_up():
    from relucourse.tooling.checks.ch04 import expected_first_dead
    rejects("4.4", lambda w, L, n, s: [round(v) for v in expected_first_dead(w, L, n)][:-1] + [0],
            says=("do not add up",))


@breaks_rule("4.4", "generator")
def test_4_4_rejects_the_global_generator():
    rejects("4.4", _layers(seeded="global"), says=("global random generator", "torch's"))

    def numpy_global(width, depth, n_nets, seed):
        np.random.seed(seed)
        counts = [0] * (depth + 1)
        for _ in range(n_nets):
            h = np.ones(1)
            for layer in range(depth):
                h = np.maximum(np.random.normal(0, 1, size=(width, len(h))) @ h, 0)
                if not h.any():
                    counts[layer] += 1
                    break
            else:
                counts[depth] += 1
        return counts
    rejects("4.4", numpy_global, says=("global random generator", "NumPy's"))


@breaks_rule("4.4", "uses-seed")
def test_4_4_rejects_an_ignored_seed():
    rejects("4.4", _layers(seeded="fixed"), says=("the seed is not used",))


@breaks_rule("4.4", "time-limit")
def test_4_4_rejects_an_endless_loop():
    rejects("4.4", forever, says=("did not finish",))


# -- 4.5 kill fractions ---------------------------------------------------------------------------
# Wrong answers read the check's cached runs of the recipe (dead_after): no training of their own.

def _kill(*, layer=1, strict=False, seeds=KILL_SEEDS, mean=False, scale=1.0, count=False, as_list=False,
          str_keys=False):
    def kill_fractions(lrs, data):
        out = {}
        for lr in lrs:
            values = [dead_after(lr, s)[layer] for s in seeds]
            if mean:
                v = float(np.mean(values))
            else:
                killed = sum((v > 0.5) if strict else (v >= 0.5) for v in values)
                v = killed if count else scale * killed / len(values)
            out[str(lr) if str_keys else lr] = v
        return list(out.values()) if as_list else out
    return kill_fractions


def kill_fractions_trained(lrs, data):
    """A correct answer that trains every run itself (the recipe, as a learner writes it)."""
    from relucourse.deadunits import dead_fractions
    from relucourse.dying import run_digits
    out = {}
    for lr in lrs:
        killed = [list(dead_fractions(run_digits(data, seed=s, lr=lr, batch_size=128, epochs=5)["model"],
                                      data[0]).values())[1] >= 0.5 for s in range(5)]
        out[lr] = sum(killed) / 5
    return out


def test_4_5_accepts_correct_fractions():
    passes("4.5", kill_fractions_trained)
    passes("4.5", lambda lrs, data: {lr: np.float64(v) for lr, v in reference_kill_fractions(lrs).items()})
    passes("4.5", lambda lrs, data: {lr: torch.tensor(v) for lr, v in reference_kill_fractions(lrs).items()})


def test_4_5_grid_has_a_learning_rate_where_seeds_disagree():
    """The check's grid must hold a learning rate that kills some seeds and not others: there a wrong set
    of seeds, a wrong threshold or a mean instead of a fraction shows."""
    assert any(0 < v < 1 for v in reference_kill_fractions(KILL_GRID).values())


def test_4_5_rejects_wrong_answers_with_a_diagnosis():
    not_attempted("4.5", stub("4.5"))
    rejects("4.5", raises, says=("raised an error",))
    rejects("4.5", _kill(as_list=True), says=("expected a dict",))
    rejects("4.5", _kill(mean=True), says=("not a fraction of 5 seeds",))
    rejects("4.5", lambda lrs, data: {lr: "0.2" for lr in lrs}, says=("not a number",))
    rejects("4.5", lambda lrs, data: {lr: 1.0 for lr in lrs}, says=("wrong fraction of killed seeds at lr 0.3",))


@breaks_rule("4.5", "keys")
def test_4_5_rejects_other_keys():
    rejects("4.5", _kill(str_keys=True), says=("keys are not the learning rates",))


@breaks_rule("4.5", "fraction")
def test_4_5_rejects_counts_and_percentages():
    rejects("4.5", _kill(count=True), says=("between 0 and 1",))
    rejects("4.5", _kill(scale=100.0), says=("between 0 and 1",))


@breaks_rule("4.5", "seeds")
def test_4_5_rejects_other_seeds():
    rejects("4.5", _kill(seeds=(0,)), says=("wrong fraction",))


@breaks_rule("4.5", "layer-2")
def test_4_5_rejects_the_first_layer():
    rejects("4.5", _kill(layer=0), says=("wrong fraction", "SECOND one"))


@breaks_rule("4.5", "time-limit")
def test_4_5_rejects_an_endless_loop():
    rejects("4.5", forever, says=("did not finish",))


def test_4_5_diagnoses_a_strict_threshold():
    """'at least half' is >= 0.5; > 0.5 differs only where some seed has exactly half dead."""
    exact = [lr for lr in KILL_GRID if any(dead_after(lr, s)[1] == 0.5 for s in KILL_SEEDS)]
    if exact:
        rejects("4.5", _kill(strict=True), says=(">= 0.5",))
    else:
        passes("4.5", _kill(strict=True))


# -- 4.6 repair -----------------------------------------------------------------------------------

def bn_net(seed):
    torch.manual_seed(seed)
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
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32, affine=False), nn.ReLU(), nn.Linear(32, 32),
                         nn.BatchNorm1d(32, affine=False), nn.ReLU(), nn.Linear(32, 10))


def bn_generator(seed):
    """Weights from a generator of its own: the global generator untouched."""
    net = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.BatchNorm1d(32),
                        nn.ReLU(), nn.Linear(32, 10))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                bound = 1 / math.sqrt(m.in_features)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 2 * bound - bound)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 2 * bound - bound)
    return net


class Mask(nn.Module):
    """Zeroes the first `n` features: those units of the next ReLU never fire."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        return torch.cat([torch.zeros_like(x[:, :self.n]), x[:, self.n:]], dim=1)


class Huge(nn.Module):
    def forward(self, x):
        return x * 1e30


def test_4_6_accepts_repairs():
    passes("4.6", bn_net)
    passes("4.6", lambda seed: (torch.manual_seed(seed), FunctionalBN())[1])
    passes("4.6", bn_without_affine)
    passes("4.6", bn_generator)


def test_4_6_stub_and_generic_failures():
    not_attempted("4.6", stub("4.6"))
    rejects("4.6", raises, says=("raised an error",))
    rejects("4.6", lambda seed: "model", says=("expected an nn.Module",))


@breaks_rule("4.6", "untrained")
def test_4_6_rejects_a_model_trained_inside_build():
    from relucourse.data import digits
    from relucourse.train import train

    def pretrained(seed):
        net = bn_net(seed)
        X, y, _, _ = digits()
        train(net, X, y, lr=0.1, epochs=2, batch_size=128, seed=seed)
        return net
    rejects("4.6", pretrained, says=("already trained",))


@breaks_rule("4.6", "seeded")
def test_4_6_rejects_weights_not_made_from_the_seed():
    def global_state(seed):
        return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32),
                             nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    rejects("4.6", global_state, says=("same seed gave different initial weights",))
    rejects("4.6", lambda seed: bn_net(0), says=("seeds 0 and 1 gave the same initial weights", "not used"))


@breaks_rule("4.6", "linears")
def test_4_6_rejects_other_linear_layers():
    from relucourse.dying import digits_mlp
    rejects("4.6", lambda seed: (torch.manual_seed(seed), digits_mlp((64, 32)))[1], says=("not 64-32-32-10",))
    rejects("4.6", lambda seed: (torch.manual_seed(seed), nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10), nn.Linear(10, 100),
        nn.Linear(100, 10)))[1], says=("not 64-32-32-10",))


@breaks_rule("4.6", "two-relus")
def test_4_6_rejects_a_missing_relu():
    msg = rejects("4.6", lambda seed: (torch.manual_seed(seed), nn.Sequential(
        nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.BatchNorm1d(32),
        nn.Linear(32, 10)))[1], says=("exactly two ReLU layers", "Got:      1 ReLU layer of 32 units"))
    assert "'2'" not in msg      # no module positions shown as if they were counts


@breaks_rule("4.6", "relu-only")
def test_4_6_rejects_another_activation():
    from relucourse.dying import digits_mlp
    rejects("4.6", lambda seed: (torch.manual_seed(seed), digits_mlp((32, 32), activation="leaky"))[1],
            says=("another activation",))


@breaks_rule("4.6", "budget")
def test_4_6_rejects_a_model_over_budget():
    def big_bn(seed):
        net = bn_net(seed)
        net.extra = nn.Parameter(torch.zeros(1000))
        return net
    rejects("4.6", big_bn, says=("parameter budget",))


@breaks_rule("4.6", "time-limit")
def test_4_6_rejects_an_endless_build():
    rejects("4.6", forever, says=("did not finish",))


@breaks_rule("4.6", "finite")
def test_4_6_rejects_a_diverging_model():
    def huge(seed):
        net = bn_net(seed)
        net.append(Huge())
        return net
    rejects("4.6", huge, says=("diverged",))


@breaks_rule("4.6", "alive")
def test_4_6_rejects_dead_units_and_says_which_layer():
    def masked(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.BatchNorm1d(32),
                             Mask(8), nn.ReLU(), nn.Linear(32, 10))
    msg = rejects("4.6", masked, says=("too many units died", "0% of the first ReLU layer dead",
                                        "25% of the second ReLU layer dead"))
    assert "3: " not in msg and "6: " not in msg     # positions of modules are not shown as if they were data
    from relucourse.dying import digits_mlp
    rejects("4.6", lambda seed: (torch.manual_seed(seed), digits_mlp((32, 32)))[1],
            says=("too many units died", "of the second ReLU layer dead"))


@breaks_rule("4.6", "accuracy")
def test_4_6_rejects_a_model_that_stays_alive_but_does_not_learn():
    def frozen_head(seed):
        net = bn_net(seed)
        with torch.no_grad():
            net[-1].weight.zero_()
        net[-1].weight.requires_grad_(False)
        net[-1].bias.requires_grad_(False)
        return net
    rejects("4.6", frozen_head, says=("test accuracy is too low",))


# -- 4.7 paired comparison ------------------------------------------------------------------------
# Wrong answers read the check's cached runs (leaky_accuracy): no training of their own.

def _cached(*, reverse=False, unpaired=False, higher_ge=False, verdict=None, as_mean=False, accuracies=False):
    def compare_leaky(data, seeds):
        leaky = [leaky_accuracy(s + 1 if unpaired else s, True) for s in seeds]
        relu = [leaky_accuracy(s, False) for s in seeds]
        d = method.paired(relu, leaky) if reverse else method.paired(leaky, relu)
        diffs = leaky if accuracies else list(d.diffs)
        higher = d.above + (d.ties if higher_ge else 0)
        rescues = bool(d.mean > 0 and d.excludes_zero) if verdict is None else verdict(d)
        return {"diffs": float(np.mean(diffs)) if as_mean else diffs, "higher": higher, "rescues": rescues}
    return compare_leaky


def compare_trained(data, seeds):
    """A correct answer that trains every run itself, as the statement describes."""
    from relucourse.dying import run_digits
    recipe = dict(lr=0.1, batch_size=128, epochs=5, first_bias=-7.0)
    leaky = [run_digits(data, seed=s, activation="leaky", negative_slope=0.1, **recipe)["test_acc"] for s in seeds]
    relu = [run_digits(data, seed=s, **recipe)["test_acc"] for s in seeds]
    d = method.paired(leaky, relu)
    return {"diffs": list(d.diffs), "higher": d.above, "rescues": bool(d.mean > 0 and d.excludes_zero)}


def test_4_7_accepts_correct_comparisons():
    passes("4.7", compare_trained)
    passes("4.7", lambda data, seeds: {**reference_leaky_comparison(seeds),
                                       "diffs": np.array(reference_leaky_comparison(seeds)["diffs"])})
    passes("4.7", lambda data, seeds: {k: (np.bool_(v) if k == "rescues" else v)
                                       for k, v in reference_leaky_comparison(seeds).items()})


def test_4_7_rejects_wrong_comparisons_with_a_diagnosis():
    ref = reference_leaky_comparison(list(range(5)))
    not_attempted("4.7", stub("4.7"))
    rejects("4.7", raises, says=("raised an error",))
    rejects("4.7", lambda data, seeds: ref["diffs"], says=("expected a dict",))
    rejects("4.7", lambda data, seeds: {"diffs": ref["diffs"]}, says=("lacks a key",))
    rejects("4.7", _cached(unpaired=True), says=("not the measured ones",))
    rejects("4.7", _cached(as_mean=True), says=("not a list of numbers",))
    rejects("4.7", _cached(accuracies=True), says=("not the measured ones",))
    rejects("4.7", lambda data, seeds: {**ref, "diffs": ref["diffs"][:4]}, says=("wrong length",))
    one = rejects("4.7", lambda data, seeds: {**ref, "diffs": ref["diffs"][:1]}, says=("Got:      1 value\n",))
    assert "1 values" not in one


@breaks_rule("4.7", "diffs")
def test_4_7_rejects_reversed_differences():
    rejects("4.7", _cached(reverse=True), says=("not the measured ones", "reversed"))


@breaks_rule("4.7", "higher")
def test_4_7_rejects_a_wrong_count():
    ref = reference_leaky_comparison(list(range(5)))
    rejects("4.7", lambda data, seeds: {**ref, "higher": ref["higher"] - 1}, says=("'higher'",))
    rejects("4.7", lambda data, seeds: {**ref, "higher": float(ref["higher"])}, says=("'higher'",))


@breaks_rule("4.7", "rescues")
def test_4_7_rejects_a_wrong_verdict():
    ref = reference_leaky_comparison(list(range(5)))
    rejects("4.7", lambda data, seeds: {**ref, "rescues": "yes"}, says=("not a bool",))
    rejects("4.7", lambda data, seeds: {**ref, "rescues": not ref["rescues"]}, says=("verdict",))


@breaks_rule("4.7", "time-limit")
def test_4_7_rejects_an_endless_loop():
    rejects("4.7", forever, says=("did not finish",))
