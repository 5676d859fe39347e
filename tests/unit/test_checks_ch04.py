"""Chapter 4 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse.deadunits import dead_masks
from relucourse.dying import born_dead_bound
from relucourse.tooling.checks.ch04 import (LR_GRID, dead_after, reference_dead_counts, reference_margins)


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


# -- 4.3 born-dead probability --------------------------------------------------------------------

def test_4_3_accepts_the_reference_and_other_correct_forms():
    passes("4.3", born_dead_bound)
    passes("4.3", lambda w, L: 1 - (1 - 2 ** -w) ** L)
    passes("4.3", lambda w, L: 1 - (1 - 0.5 ** w) ** L if L else 0)
    passes("4.3", lambda w, L: float(-np.expm1(L * np.log1p(-(0.5 ** w)))))
    passes("4.3", lambda w, L: torch.tensor(1 - (1 - 2.0 ** -w) ** L, dtype=torch.float64))


def test_4_3_rejects_wrong_formulas_with_a_diagnosis():
    not_attempted("4.3", stub("4.3"))
    rejects("4.3", raises, says=("raised an error",))
    rejects("4.3", forever, says=("did not finish",))
    rejects("4.3", lambda w, L: (1 - 2 ** -w) ** L, says=("ALIVE",))
    rejects("4.3", lambda w, L: 1 - (1 - 2 ** -w) ** (L + 1), says=("hidden layers only",))
    rejects("4.3", lambda w, L: min(1.0, L * 2 ** -w), says=("union bound",))
    rejects("4.3", lambda w, L: 1 - (1 - 2 ** -(w - 1)) ** L, says=("2^-width",))
    rejects("4.3", lambda w, L: 1 - (1 - 2 ** -w) ** (L - 1), says=("first hidden layer",))
    rejects("4.3", lambda w, L: f"{1 - (1 - 2 ** -w) ** L:.3f}", says=("expected a number",))
    rejects("4.3", lambda w, L: float("nan"), says=("wrong value",))
    rejects("4.3", lambda w, L: round(1 - (1 - 2 ** -w) ** L, 2), says=("wrong value",))


# -- 4.4 simulation -------------------------------------------------------------------------------

def _sim(*, weights="normal", any_unit=False, both_sides=False, count_output=False, normalise=True, seeded=True):
    def simulate(width, depth, n_nets, seed):
        g = torch.Generator().manual_seed(seed if seeded else int(torch.randint(0, 10**6, ())))
        xs = torch.tensor([1.0, -1.0]) if both_sides else torch.tensor([1.0])
        h = xs.view(1, -1, 1).expand(n_nets, len(xs), 1)
        dead = torch.zeros(n_nets, dtype=torch.bool)
        fan_in = 1
        for layer in range(depth + (1 if count_output else 0)):
            out = width if layer < depth else 1
            if weights == "normal":
                w = torch.randn(n_nets, fan_in, out, generator=g) * math.sqrt(2 / fan_in)
            elif weights == "uniform":
                w = torch.rand(n_nets, fan_in, out, generator=g) * 2 - 1
            else:
                w = torch.rand(n_nets, fan_in, out, generator=g)
            z = h @ w
            h = torch.relu(z)
            off = (h == 0).any(-1) if any_unit else (h == 0).all(-1)
            dead |= off.all(-1)
            fan_in = out
        count = int(dead.sum())
        return count / n_nets if normalise else count
    return simulate


def sim_numpy_loop(width, depth, n_nets, seed):
    rng = np.random.default_rng(seed)
    dead = 0
    for _ in range(n_nets):
        h = np.ones(1)
        for _ in range(depth):
            h = np.maximum(rng.normal(0, 1, size=(width, len(h))) @ h, 0)   # the scale does not matter
            if not h.any():
                dead += 1
                break
    return dead / n_nets


def test_4_4_accepts_correct_simulations():
    passes("4.4", _sim())
    passes("4.4", _sim(weights="uniform"))
    passes("4.4", sim_numpy_loop)
    passes("4.4", lambda w, L, n, s: torch.tensor(_sim()(w, L, n, s), dtype=torch.float64))


def test_4_4_rejects_wrong_simulations():
    not_attempted("4.4", stub("4.4"))
    rejects("4.4", raises, says=("raised an error",))
    rejects("4.4", forever, says=("did not finish within 10 s",))
    rejects("4.4", _sim(both_sides=True), says=("too far", "negative x"))
    rejects("4.4", _sim(weights="positive"), says=("too far",))
    rejects("4.4", _sim(any_unit=True), says=("too far",))
    rejects("4.4", _sim(count_output=True), says=("too far", "hidden layers only"))
    rejects("4.4", _sim(normalise=False), says=("between 0 and 1",))
    rejects("4.4", _sim(seeded=False), says=("same seed gave a different result",))
    rejects("4.4", lambda w, L, n, s: born_dead_bound(w, L), says=("multiple of 1/",))
    rejects("4.4", lambda w, L, n, s: "0.5", says=("expected a number",))


# -- 4.5 smallest killing learning rate -----------------------------------------------------------

def _answer():
    return next(lr for lr in LR_GRID if dead_after(lr) >= 0.5)


def search_with_the_monitor(grid, data):
    from relucourse.dying import run_digits
    for lr in sorted(grid):
        model = run_digits(data, seed=0, lr=lr, batch_size=128, epochs=5)["model"]
        if list(dead_masks(model, data[0]).values())[1].float().mean() >= 0.5:
            return lr
    return None


def test_4_5_accepts_correct_searches_and_answer_types():
    lr = _answer()
    passes("4.5", search_with_the_monitor)
    passes("4.5", lambda grid, data: next(v for v in grid if dead_after(v) >= 0.5))
    passes("4.5", lambda grid, data: np.float64(lr))
    passes("4.5", lambda grid, data: torch.tensor(lr + 1e-12))


def test_4_5_rejects_wrong_answers():
    lr = _answer()
    i = LR_GRID.index(lr)
    not_attempted("4.5", stub("4.5"))
    rejects("4.5", raises, says=("raised an error",))
    rejects("4.5", forever, says=("did not finish within 20 s",))
    rejects("4.5", lambda grid, data: LR_GRID[i - 1], says=("less than half",))
    rejects("4.5", lambda grid, data: LR_GRID[i + 1], says=("smaller learning rate",))
    rejects("4.5", lambda grid, data: max(grid), says=("smaller learning rate",))
    rejects("4.5", lambda grid, data: 0.123, says=("not one of the grid",))
    rejects("4.5", lambda grid, data: str(lr), says=("expected a number",))
    rejects("4.5", lambda grid, data: [lr], says=("expected a number",))
    rejects("4.5", lambda grid, data: True, says=("expected a number",))
    rejects("4.5", lambda grid, data: float("nan"), says=("not one of the grid",))
    rejects("4.5", lambda grid, data: None, says=("expected a number",))
    rejects("4.5", lambda grid, data: dead_after(lr), says=("not one of the grid",))   # the fraction, not the lr


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
