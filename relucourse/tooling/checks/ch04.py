"""Checks for chapter 4: the dying ReLU."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import exercise
from .core import Checker, describe, type_name
from relucourse.deadunits import dead_masks
from relucourse.dying import born_dead_bound, run_digits
from relucourse.train import accuracy, train

# --------------------------------------------------------------------------------------------
# 4.1 How far from firing? The margin of every unit
# --------------------------------------------------------------------------------------------

MARGIN_HINT = ("the pre-activation of the layer for all inputs is X @ layer.weight.T + layer.bias (no ReLU); "
               "take its maximum over the inputs (dimension 0): one number per unit.")


def reference_margins(layer: nn.Linear, X: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(X).max(dim=0).values


def _margin_cases():
    g = torch.Generator().manual_seed(41)
    cases = []
    torch.manual_seed(41)
    layer = nn.Linear(6, 9)
    with torch.no_grad():
        layer.bias.copy_(torch.linspace(-3, 1, 9))
    cases.append((layer, torch.randn(40, 6, generator=g), "nn.Linear(6, 9) with biases from -3 to 1, 40 inputs"))
    torch.manual_seed(42)
    layer = nn.Linear(3, 4)
    cases.append((layer, torch.randn(1, 3, generator=g), "nn.Linear(3, 4) and a single input"))
    torch.manual_seed(43)
    layer = nn.Linear(5, 7, bias=False, dtype=torch.float64)
    cases.append((layer, torch.randn(25, 5, generator=g, dtype=torch.float64),
                  "nn.Linear(5, 7, bias=False, dtype=torch.float64), 25 inputs"))
    torch.manual_seed(44)
    layer = nn.Linear(4, 5)
    with torch.no_grad():
        layer.bias.fill_(-50.0)      # every unit dead: all margins negative
    cases.append((layer, torch.randn(30, 4, generator=g), "nn.Linear(4, 5) whose biases are all -50 (a dead layer)"))
    torch.manual_seed(45)
    layer = nn.Linear(64, 32)
    cases.append((layer, torch.randn(3000, 64, generator=g), "nn.Linear(64, 32) and 3000 inputs"))
    return cases


@exercise("4.1", "How far from firing: the margin of each unit")
def check_margins(c: Checker, margins) -> None:
    c.require_callable(margins, "margins")
    for layer, X, story in _margin_cases():
        desc = f"margins(layer, X) with {story}"
        expected = reference_margins(layer, X)
        params = [p.detach().clone() for p in layer.parameters()]
        got = c.call(margins, layer, X, desc=desc, hint=MARGIN_HINT, expected=expected)
        c.expect(all(torch.equal(a, b.detach()) for a, b in zip(params, layer.parameters())),
                 "your code changed the layer's parameters.", tried=desc,
                 hint="only compute with the layer; do not modify its weight or bias.")
        if isinstance(got, torch.Tensor) and got.requires_grad:
            got = got.detach()  # a tensor still attached to autograd is fine
        hint = MARGIN_HINT
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and got.dtype == expected.dtype:
            with torch.no_grad():
                pre = layer(X)
                if torch.allclose(got, pre.min(0).values):
                    hint = "that is the minimum over the inputs; a unit fires if its LARGEST pre-activation is > 0."
                elif torch.allclose(got, pre.mean(0)):
                    hint = "that is the mean over the inputs; take the maximum."
                elif torch.allclose(got, torch.relu(expected)):
                    hint = ("apply no ReLU: the margin of a dead unit is negative, and that number says how far "
                            "its bias would have to rise before it fires.")
                elif layer.bias is not None and torch.allclose(got, expected - layer.bias):
                    hint = "add the bias: the pre-activation is X @ W.T + b."
        elif isinstance(got, torch.Tensor) and tuple(got.shape) == (len(X),):
            hint = "return one number per unit (layer.out_features values): reduce over the inputs, dimension 0."
        c.expect_array(got, expected, desc=desc, rtol=1e-5, atol=1e-5, hint=hint)


# --------------------------------------------------------------------------------------------
# 4.2 A dead-unit counter over a whole data set
# --------------------------------------------------------------------------------------------

COUNT_HINT = ("register a forward hook on every nn.ReLU (in the order of model.modules()), run the model in "
              "eval mode under torch.no_grad() over all of X, and for each unit (dimension 1) remember whether "
              "its output was ever non-zero; a unit is dead if it never was. Remove the hooks afterwards and "
              "restore the model's training mode.")


def reference_dead_counts(model: nn.Module, X: torch.Tensor, batch_size: int = 256) -> list[int]:
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    alive: dict[int, torch.Tensor] = {}

    def hook_for(i):
        def hook(module, inputs, output):
            fired = (output != 0).transpose(0, 1).reshape(output.shape[1], -1).any(1)
            alive[i] = fired if i not in alive else alive[i] | fired
        return hook

    handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(relus)]
    modes = [m.training for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                model(X[start:start + batch_size])
    finally:
        for h in handles:
            h.remove()
        for m, mode in zip(model.modules(), modes):
            m.training = mode
    return [int((~alive[i]).sum()) for i in range(len(relus))]


class _LastInputOnly(nn.Module):
    """A fixed layer of 5 units: unit 1 fires only on the last input (x0 > 10), unit 4 only on the first
    (x1 > 10); unit 2 has pre-activation exactly 0 everywhere (dead); unit 3 outputs 1e-30 (alive)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 5)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
            self.lin.bias.copy_(torch.tensor([0.0, -10.0, 0.0, 1e-30, -10.0]))
        self.act = nn.ReLU()
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.act(self.lin(x)))


def _counter_cases():
    """(model, X, story, training) for the dead-unit counter, built deterministically."""
    g = torch.Generator().manual_seed(42)
    cases = []

    X = torch.cat([torch.tensor([[0.0, 12.0]]), torch.rand(598, 2, generator=g) * 4 - 2, torch.tensor([[12.0, 0.0]])])
    cases.append((_LastInputOnly(), X, "600 inputs; one unit fires only on the FIRST input, one only on the LAST, "
                  "one has pre-activation exactly 0 on every input (a tie), one outputs 1e-30", False))

    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                      nn.Linear(16, 3))
    with torch.no_grad():
        m[2].bias[:6] = -100.0       # 6 dead units in the second layer
        m[4].bias[:] = -100.0        # a dead third layer
    cases.append((m, torch.randn(300, 5, generator=g), "three ReLU layers: 6 dead units, then a dead layer", False))

    torch.manual_seed(2)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Sequential(nn.Linear(8, 8), nn.ReLU(inplace=True)),
                      nn.Linear(8, 8), nn.ReLU())
    with torch.no_grad():
        m[2][0].bias[:3] = -50.0
    calls = []
    m[2][1].register_forward_hook(lambda mod, inp, out: calls.append(1))   # the caller's own hook
    m[4].register_forward_pre_hook(lambda mod, inp: None)
    cases.append((m, torch.randn(70, 4, generator=g), "a Tanh (not counted), an in-place ReLU inside a nested "
                  "nn.Sequential, and forward hooks the caller had already installed", False))

    torch.manual_seed(3)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([-1e3, 0.0, 0.0, 0.0]))
        conv.weight[1].zero_()
        conv.bias[1] = 0.0               # channel 1: exactly 0 everywhere: dead
        conv.weight[2].zero_()
        conv.weight[2, 0, 1, 1] = 1.0    # channel 2: copies the pixel: fires at one pixel of one image
        conv.bias[2] = -5.0
    X = torch.zeros(20, 1, 6, 6)
    X[19, 0, 3, 4] = 6.0
    X[:19] = torch.rand(19, 1, 6, 6, generator=g)
    cases.append((nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)), X,
                  "a convolution (units = its 4 channels): one channel fires at a single pixel of one image", False))

    torch.manual_seed(4)
    m = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 2))
    with torch.no_grad():
        m[1].running_mean.copy_(torch.tensor([100.0, 100.0, 0.0, 0.0, 0.0, 0.0]))
    cases.append((m, torch.randn(64, 3, generator=g), "a model in TRAINING mode with batch norm (running mean 100 "
                  "for two units) and dropout", True))

    torch.manual_seed(5)
    m = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    with torch.no_grad():
        m[0].bias.add_(-2.0)
    cases.append((m, torch.randn(5000, 10, generator=g), "5000 inputs and two layers of 64 units", False))

    torch.manual_seed(6)
    cases.append((nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)), torch.randn(10, 3, generator=g),
                  "a model without any nn.ReLU", False))
    return cases


def _as_counts(value):
    """A list of ints from a list/tuple/array/tensor of integer counts, else None."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 1 or value.is_floating_point() or value.dtype == torch.bool:
            return None
        return [int(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "iu":
            return None
        return [int(v) for v in value]
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.is_floating_point() and v.dtype != torch.bool:
                v = v.item()
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                return None
            out.append(int(v))
        return out
    return None


def _hooks(model: nn.Module) -> list:
    return [(id(m), tuple(m._forward_hooks), tuple(m._forward_pre_hooks)) for m in model.modules()]


@exercise("4.2", "A dead-unit counter over a whole data set", time_limit_s=5.0)
def check_dead_counts(c: Checker, dead_counts) -> None:
    c.require_callable(dead_counts, "dead_counts")
    for model, X, story, training in _counter_cases():
        model.train(training)
        desc = f"dead_counts(model, X) with {story}"
        expected = reference_dead_counts(model, X)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        modes = [m.training for m in model.modules()]
        hooks = _hooks(model)
        got = c.call(dead_counts, model, X, desc=desc, hint=COUNT_HINT, expected=expected)

        c.expect(_hooks(model) == hooks, "the model's hooks are not as they were before the call.", tried=desc,
                 hint="remove exactly the hooks you registered, with the handles that register_forward_hook "
                      "returned (ideally in a `finally:` block); leave the caller's hooks alone.")
        changed = [k for k, v in model.state_dict().items() if not torch.equal(state[k], v)]
        c.expect(not changed, "your code changed the model's parameters or buffers.", tried=desc,
                 got=f"changed: {', '.join(changed[:3])}",
                 hint=("a forward pass in training mode updates batch norm's running statistics: call "
                       "model.eval() before counting, and restore the mode afterwards."
                       if any("running" in k for k in changed) else "only observe; do not modify the model."))
        now = [m.training for m in model.modules()]
        c.expect(now == modes, "the model's training mode was not restored.", tried=desc,
                 expected=f"model.training == {modes[0]} (and every submodule as before)",
                 got=f"model.training == {now[0]}",
                 hint="remember each module's .training before switching to eval mode and put it back "
                      "(e.g. was = model.training; ...; model.train(was)).")
        counts = _as_counts(got)
        if counts is None:
            hint = "return a list of ints: the number of dead units of each nn.ReLU, in the order of model.modules()."
            if isinstance(got, (list, tuple)) and got and all(isinstance(v, float) for v in got):
                hint = "return counts (ints), not fractions or floats."
            c.fail(f"expected a list of ints, but your code returned {type_name(got)}.", tried=desc,
                   expected=repr(expected), got=describe(got), hint=hint)
        c.expect(len(counts) == len(expected), "the list has the wrong length.", tried=desc,
                 expected=f"{len(expected)} counts, one per nn.ReLU module", got=f"{len(counts)}: {counts}",
                 hint="count only nn.ReLU modules (not Linear, Tanh or Sigmoid), each once, in the order of "
                      "model.modules().")
        if counts != expected:
            hint = COUNT_HINT
            if "LAST" in story:
                if counts == [0]:
                    hint = "a pre-activation of exactly 0 gives an output of 0: that unit never fires, so it is dead."
                elif counts[0] > 1:
                    hint = ("a unit is dead only if it is 0 for EVERY input of X: one that fires on a single input "
                            "(the first or the last) is alive, so combine all batches (alive |= ...), and a tiny "
                            "positive output such as 1e-30 is not 0 (compare with == 0, no tolerance).")
            elif "TRAINING" in story:
                hint = ("count in eval mode (model.eval()): batch norm must use its running statistics, and dropout "
                        "must not zero outputs at random.")
            elif "channel" in story:
                hint = ("for a convolution the units are the channels (dimension 1); a channel is alive if it is "
                        "non-zero at any position of any image.")
            c.fail("wrong number of dead units.", tried=desc, expected=repr(expected), got=repr(counts), hint=hint)
        c.ok()


# --------------------------------------------------------------------------------------------
# 4.3 Predict: the probability that a net is born dead
# --------------------------------------------------------------------------------------------

@exercise("4.3", "Predict the born-dead probability")
def check_born_dead_probability(c: Checker, born_dead_probability) -> None:
    c.require_callable(born_dead_probability, "born_dead_probability")
    cases = [(2, 5), (4, 10), (8, 20), (1, 1), (3, 1), (16, 30), (2, 50), (5, 0), (1, 200), (60, 10), (6, 1000)]
    for width, depth in cases:
        desc = f"born_dead_probability(width={width}, depth={depth})"
        expected = born_dead_bound(width, depth)
        got = c.call(born_dead_probability, width, depth, desc=desc)
        hint = ("each hidden layer, given a non-zero input, is all zero at x = 1 with probability 2^-width, "
                "independently of the layers before: P(dead) = 1 - (1 - 2^-width)^depth.")
        if isinstance(got, (int, float, np.floating)) and not isinstance(got, bool) and depth > 0:
            g, p = float(got), 2.0 ** -width
            if math.isclose(g, (1 - p) ** depth, rel_tol=1e-6):
                hint = "that is the probability that the net is ALIVE; the question asks for dead."
            elif math.isclose(g, 1 - (1 - p) ** (depth + 1), rel_tol=1e-6):
                hint = "count the hidden layers only: the output layer has no ReLU, so it cannot be 'all zero'."
            elif math.isclose(g, min(1.0, depth * p), rel_tol=1e-6) and depth > 1:
                hint = ("depth * 2^-width is the union bound, not the probability: the layers' events are not "
                        "disjoint. Use the complement: the net is alive if every layer is.")
            elif math.isclose(g, 1 - (1 - 2.0 ** -(width - 1)) ** depth, rel_tol=1e-6) and width > 1:
                hint = "a layer is all zero when every one of its `width` units is off: probability 2^-width."
            elif math.isclose(g, 1 - (1 - 0.5 ** width) ** (depth - 1), rel_tol=1e-6) and depth > 1:
                hint = "the first hidden layer can be all zero too (every unit with a negative weight): count it."
        c.expect_number(got, expected, desc=desc, rtol=1e-6, atol=1e-12, hint=hint)


# --------------------------------------------------------------------------------------------
# 4.4 Measure: simulate born-dead nets
# --------------------------------------------------------------------------------------------

SIM_HINT = ("draw n_nets bias-free nets: weights of layer 1 of shape (1, width), of later hidden layers "
            "(width, width), each N(0, 2 / fan_in); at x = 1 pass through the layers with ReLU and count a net "
            "as dead if some hidden layer's output is all zero. Return dead nets / n_nets.")


@exercise("4.4", "Measure the born-dead probability by simulation", time_limit_s=10.0)
def check_simulate(c: Checker, simulate_born_dead) -> None:
    c.require_callable(simulate_born_dead, "simulate_born_dead")
    cases = [(2, 5, 4000, 0), (4, 10, 4000, 1), (3, 3, 3000, 2), (8, 30, 4000, 3), (1, 1, 2000, 4),
             (2, 2, 3000, 5)]
    results = {}
    for width, depth, n, seed in cases:
        desc = f"simulate_born_dead(width={width}, depth={depth}, n_nets={n}, seed={seed})"
        p = born_dead_bound(width, depth)
        sigma = math.sqrt(p * (1 - p) / n)
        tol = 4.5 * sigma + 1.5 / n
        got = c.call(simulate_born_dead, width, depth, n, seed, desc=desc, hint=SIM_HINT)
        value = None
        if isinstance(got, (int, float, np.integer, np.floating)) and not isinstance(got, (bool, np.bool_)):
            value = float(got)
        elif isinstance(got, torch.Tensor) and got.numel() == 1 and got.is_floating_point():
            value = float(got.item())
        if value is None:
            c.fail(f"expected a number (a fraction of nets), but your code returned {type_name(got)}.",
                   tried=desc, expected=f"about {p:.4f}", got=describe(got), hint=SIM_HINT)
        c.expect(0.0 <= value <= 1.0, "a fraction must lie between 0 and 1.", tried=desc,
                 expected=f"about {p:.4f}", got=repr(value), hint="divide the number of dead nets by n_nets.")
        c.expect(abs(value * n - round(value * n)) < 1e-6 * n, "the result is not a count of nets divided by n_nets.",
                 tried=desc, expected=f"a multiple of 1/{n}", got=repr(value),
                 hint="simulate exactly n_nets nets and return (number of dead nets) / n_nets.")
        hint = SIM_HINT
        if value < p - tol and width <= 4:
            hint = ("fewer dead nets than the formula: do you require the net to be dead for negative x too? "
                    "The question is about x > 0 only (for a bias-free net, x = 1 stands for all x > 0). "
                    "Or do your weights have biases?")
        elif value > p + tol:
            hint = ("more dead nets than the formula: is a unit counted as 'off' when its output is > 0? "
                    "Use a weight distribution that is symmetric around 0, and count the hidden layers only.")
        c.expect(abs(value - p) <= tol, "the measured fraction is too far from the probability.", tried=desc,
                 expected=f"{p:.4f} ± {tol:.4f} (4.5 standard errors of a fraction of {n} nets)",
                 got=f"{value:.4f}", hint=hint)
        results[(width, depth, n, seed)] = value
    desc = "simulate_born_dead(2, 5, 4000, seed=0) a second time"
    again = c.call(simulate_born_dead, 2, 5, 4000, 0, desc=desc)
    c.expect(isinstance(again, (int, float, np.floating, torch.Tensor)) and float(again) == results[(2, 5, 4000, 0)],
             "the same seed gave a different result.", tried=desc, expected=repr(results[(2, 5, 4000, 0)]),
             got=describe(again),
             hint="create your own generator from the seed, torch.Generator().manual_seed(seed), and pass it to "
                  "every torch.randn(..., generator=gen).")


# --------------------------------------------------------------------------------------------
# 4.5 Design: the smallest learning rate that kills most of a layer
# --------------------------------------------------------------------------------------------

LR_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
_KILL_CACHE: dict = {}


def dead_after(lr: float, seed: int = 0) -> float:
    """The recipe of exercise 4.5: the fraction of the SECOND hidden layer dead after training."""
    key = (lr, seed)
    if key not in _KILL_CACHE:
        from relucourse.data import digits
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result = run_digits(digits(), seed=seed, lr=lr, batch_size=128, epochs=5)
        finally:
            torch.set_num_threads(threads)
        _KILL_CACHE[key] = result["dead"][1]
    return _KILL_CACHE[key]


@exercise("4.5", "The smallest learning rate that kills most of a layer", time_limit_s=20.0)
def check_smallest_killing_lr(c: Checker, smallest_killing_lr) -> None:
    c.require_callable(smallest_killing_lr, "smallest_killing_lr")
    rule = ("the smallest learning rate of the grid after which at least half (>= 0.5) of the second hidden "
            "layer is dead, with run_digits(digits(), seed=0, lr=lr, batch_size=128, epochs=5)")
    from relucourse.data import digits
    desc = f"smallest_killing_lr({list(LR_GRID)}, digits())"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lr_kill = c.call(smallest_killing_lr, list(LR_GRID), digits(), desc=desc)
    finally:
        torch.set_num_threads(threads)
    if isinstance(lr_kill, torch.Tensor) and lr_kill.numel() == 1:
        lr_kill = lr_kill.item()
    if isinstance(lr_kill, (bool, np.bool_)) or not isinstance(lr_kill, (int, float, np.integer, np.floating)):
        c.fail(f"expected a number (a learning rate), but your code returned {type_name(lr_kill)}.", tried=desc,
               expected=rule, got=describe(lr_kill),
               hint="return the learning rate itself, e.g. 0.3, not the model or the dead fraction.")
    c.ok()
    value = float(lr_kill)
    matches = [lr for lr in LR_GRID if math.isclose(lr, value, rel_tol=1e-9)]
    c.expect(bool(matches), "the answer is not one of the grid's learning rates.", tried=desc,
             expected=f"one of LR_GRID = {list(LR_GRID)}", got=repr(value),
             hint="try the learning rates of the grid you are given, and return the grid value itself.")
    lr = matches[0]
    dead = dead_after(lr)
    c.expect(dead >= 0.5, "at this learning rate less than half of the second layer dies.",
             tried=f"training with lr = {lr}", expected=f"a dead fraction >= 0.5 ({rule})",
             got=f"{dead:.3f} of the second layer dead",
             hint="train at each learning rate of the grid and measure dead fractions with dead_fractions(model, "
                  "X_train); the second hidden layer is the second value.")
    for smaller in [v for v in LR_GRID if v < lr]:
        d = dead_after(smaller)
        c.expect(d < 0.5, "a smaller learning rate of the grid already kills half of the layer.",
                 tried=f"training with lr = {smaller}", expected="a dead fraction < 0.5 for every smaller grid value",
                 got=f"{d:.3f} of the second layer dead at lr = {smaller}",
                 hint="go through the grid from the smallest value upwards and stop at the first that kills half.")


# --------------------------------------------------------------------------------------------
# 4.6 Design: repair a dying network within a budget
# --------------------------------------------------------------------------------------------

REPAIR_LR, REPAIR_EPOCHS, REPAIR_BATCH = 0.8, 5, 128
PARAM_BUDGET = 4000
REPAIR_SEEDS = (0, 1, 2)


def original_net() -> nn.Sequential:
    """The dying network of exercise 4.6 (He init, 64-32-32-10)."""
    from relucourse.dying import digits_mlp
    return digits_mlp((32, 32))


def _linear_shapes(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


@exercise("4.6", "Repair a dying network within a budget", time_limit_s=10.0)
def check_repair(c: Checker, build) -> None:
    c.require_callable(build, "build")
    from relucourse.data import digits
    X, y, X_test, y_test = digits()
    limit = c.time_limit_s
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for seed in REPAIR_SEEDS:
            desc = f"torch.manual_seed({seed}); model = build({seed})"
            torch.manual_seed(seed)
            c.time_limit_s = 2.0          # building a model is quick; training gets the exercise's limit
            try:
                model = c.call(build, seed, desc=desc)
            finally:
                c.time_limit_s = limit
            if not isinstance(model, nn.Module):
                c.fail(f"expected an nn.Module, but build returned {type_name(model)}.", tried=desc,
                       got=describe(model), hint="return the model you built (not trained), e.g. nn.Sequential(...).")
            shapes = _linear_shapes(model)
            c.expect(shapes == [(64, 32), (32, 32), (32, 10)], "the model's linear layers are not 64-32-32-10.",
                     tried=desc, expected="nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10), in this order",
                     got=repr(shapes), hint="keep the three linear layers of the original network; add what you "
                                            "like between them.")
            n_params = sum(p.numel() for p in model.parameters())
            c.expect(n_params <= PARAM_BUDGET, "the model is over the parameter budget.", tried=desc,
                     expected=f"at most {PARAM_BUDGET} parameters", got=f"{n_params}",
                     hint="the original has 3466; a repair needs few extra parameters.")
            bad = [type(m).__name__ for m in model.modules()
                   if isinstance(m, (nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
                                     nn.PReLU, nn.RReLU, nn.Softplus, nn.Mish, nn.Hardswish, nn.CELU))]
            c.expect(not bad, "the model uses another activation.", tried=desc, got=", ".join(sorted(set(bad))),
                     expected="ReLU activations only", hint="the exercise is to keep ReLU and stop it from dying.")
            try:
                sites = {k: v.numel() for k, v in dead_masks(model, X[:64]).items()}
            except Exception as err:  # the learner's model may fail on the data
                c.fail("the model fails on a batch of digits.", tried=f"{desc}; model(X_train[:64])",
                       got=f"{type(err).__name__}: {err}", hint="the input has 64 features; the output 10 logits.")
            c.expect(list(sites.values()) == [32, 32], "the model does not have exactly two ReLU layers of 32 units.",
                     tried=desc, expected="two ReLU sites of 32 units (one after each hidden linear layer)",
                     got=repr(sites), hint="use nn.ReLU() (or F.relu) once after each of the two hidden layers.")
            run = f"{desc}; train(model, X_train, y_train, lr={REPAIR_LR}, epochs={REPAIR_EPOCHS}, " \
                  f"batch_size={REPAIR_BATCH}, seed={seed})"
            history = c.call(train, model, X, y, epochs=REPAIR_EPOCHS, lr=REPAIR_LR, batch_size=REPAIR_BATCH,
                             seed=seed, desc=run)
            c.expect(math.isfinite(history["loss"][-1]), "training diverged (the loss became NaN or infinite).",
                     tried=run, hint="something must keep the pre-activations at a sensible scale at this "
                                     "learning rate.")
            acc = accuracy(model, X_test, y_test)
            dead = dead_masks(model, X)
            worst = max(m.float().mean().item() for m in dead.values())
            c.expect(worst <= 0.1, "too many units died.", tried=run,
                     expected="at most 10 % dead units in each ReLU layer (on the training inputs)",
                     got=", ".join(f"{k}: {m.float().mean().item():.0%}" for k, m in dead.items()),
                     hint="the original network loses most of its second layer at this learning rate; what "
                          "keeps pre-activations centred whatever the weights do?")
            c.expect(acc >= 0.9, "the test accuracy is too low.", tried=run, expected="test accuracy >= 0.90",
                     got=f"{acc:.3f}", hint="a network that keeps its units alive should reach about 0.95 here.")
    finally:
        torch.set_num_threads(threads)
