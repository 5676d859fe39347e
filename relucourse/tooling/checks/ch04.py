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

def _module_state(module: nn.Module) -> list:
    """What "do not modify the layer/model" protects: every submodule (identity, type, training flag) and
    every parameter and buffer (name, None or dtype and values)."""
    return [(name, id(m), type(m), m.training,
             [(k, None if v is None else (v.dtype, v.detach().clone()))
              for k, v in list(m._parameters.items()) + list(m._buffers.items())])
            for name, m in module.named_modules()]


def _state_changes(before: list, module: nn.Module) -> list[str]:
    """The differences between a snapshot of ``_module_state`` and the module now, in words."""
    after = _module_state(module)
    if [(n, i, t) for n, i, t, _, _ in before] != [(n, i, t) for n, i, t, _, _ in after]:
        return ["its submodules were replaced or rearranged"]
    out = []
    for (name, _, _, mode, tensors), (_, _, _, mode2, tensors2) in zip(before, after):
        where = name or "the module"
        if mode != mode2:
            out.append(f"{where}.training changed from {mode} to {mode2}")
        if [k for k, _ in tensors] != [k for k, _ in tensors2]:
            out.append(f"{where}'s parameters changed from {[k for k, _ in tensors]} to {[k for k, _ in tensors2]}")
            continue
        for (k, a), (_, b) in zip(tensors, tensors2):
            full = f"{name}.{k}" if name else k
            if (a is None) != (b is None):
                out.append(f"{full} changed from {'None' if a is None else 'a tensor'} to "
                           f"{'None' if b is None else 'a tensor'}")
            elif a is not None and a[0] != b[0]:
                out.append(f"{full}.dtype changed from {a[0]} to {b[0]}")
            elif a is not None and not (a[1].shape == b[1].shape and torch.equal(a[1], b[1])):
                out.append(f"the values of {full} changed")
    return out


MARGIN_HINT = ("the pre-activation of the layer for all inputs is X @ layer.weight.T + layer.bias (no ReLU); "
               "take its maximum over the inputs (dimension 0): one number per unit.")


NO_BIAS_HINT = ("this layer has no bias (layer.bias is None): add a bias only when the layer has one, or compute "
                "the pre-activation with layer(X), which handles both cases.")


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
        before = _module_state(layer)
        no_bias = layer.bias is None
        got = c.call(margins, layer, X, desc=desc, hint=MARGIN_HINT, expected=expected,
                     raise_hint=(lambda err: NO_BIAS_HINT) if no_bias else None)
        changes = _state_changes(before, layer)
        c.expect(not changes, "your code changed the layer.", tried=desc, got="; ".join(changes[:3]),
                 hint="only compute with the layer: do not modify its weight or bias, add a bias, change its "
                      "dtype or its training mode.")
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
                elif not no_bias and torch.allclose(got, expected - layer.bias):
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
    torch.manual_seed(4)
    m = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 2))
    cases.append((m, torch.randn(64, 3, generator=g), "a model in TRAINING mode whose dropout alone is in eval "
                  "mode (modes differ between submodules)", "mixed"))

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
    """A list of ints from a list or tuple of integers (Python or NumPy), else None: the statement asks
    for a list of ints, so tensors (a 1-D one, or 0-d ones in a list) are not accepted."""
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
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
        model.train(bool(training))
        if training == "mixed":
            for sub in model.modules():
                if isinstance(sub, nn.Dropout):
                    sub.eval()
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
        moved = sum(a != b for a, b in zip(now[1:], modes[1:]))
        c.expect(now == modes, "the model's training mode was not restored.", tried=desc,
                 expected=f"model.training == {modes[0]} (and every submodule as before)",
                 got=f"model.training == {now[0]}" + (f"; {moved} of its submodules in another mode than before"
                                                      if moved else ""),
                 hint="remember every module's .training before switching to eval mode and put each back: "
                      "model.train(was) would set all submodules to one mode. E.g. was = [m.training for m in "
                      "model.modules()]; ...; then for m, t in zip(model.modules(), was): m.training = t.")
        counts = _as_counts(got)
        if counts is None:
            hint = "return a list of ints: the number of dead units of each nn.ReLU, in the order of model.modules()."
            if isinstance(got, (list, tuple)) and got and all(isinstance(v, float) for v in got):
                hint = "return counts (ints), not fractions or floats."
            elif isinstance(got, torch.Tensor) or (isinstance(got, (list, tuple)) and
                                                   any(isinstance(v, torch.Tensor) for v in got)):
                hint = ("convert the counts to Python ints: int(mask.sum()) for each count, or "
                        "tensor.tolist() for a whole tensor.")
            what = type_name(got)
            if isinstance(got, (list, tuple)) and got:
                odd = next(v for v in got if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)))
                what = f"a {type_name(got)} holding {type_name(odd)}"
            c.fail(f"expected a list of ints, but your code returned {what}.", tried=desc,
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
# 4.3 Derive: the width that keeps a deep net alive
# --------------------------------------------------------------------------------------------

def reference_safe_width(depth: int, risk: float) -> int:
    """The smallest width N >= 1 with 1 - (1 - 2^-N)^depth <= risk."""
    n = 1
    while born_dead_bound(n, depth) > risk:
        n += 1
    return n


SAFE_HINT = ("the net is born dead with probability 1 - (1 - 2^-N)^depth (section 4.3); try N = 1, 2, 3, ... "
             "and return the first N for which that probability is at most `risk`.")


def _as_int(value):
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        return int(value.item())
    return None


@exercise("4.3", "Derive the width that keeps a deep net alive")
def check_safe_width(c: Checker, safe_width) -> None:
    c.require_callable(safe_width, "safe_width")
    cases = [(8, 0.3), (100, 0.01), (10, 0.5), (1, 0.1), (50, 0.05), (3, 0.9), (1000, 0.001), (20, 1e-12),
             (2, 0.2), (200, 0.3),
             (1, 0.5), (2, 0.4375)]    # risk exactly the probability at width 1 and 2: "at most" includes it
    for depth, risk in cases:
        desc = f"safe_width(depth={depth}, risk={risk})"
        expected = reference_safe_width(depth, risk)
        got = c.call(safe_width, depth, risk, desc=desc, hint=SAFE_HINT, expected=expected)
        value = _as_int(got)
        if value is None:
            hint = "return the width as an int, e.g. 14 (round up a closed-form solution with math.ceil)."
            if isinstance(got, (float, np.floating)) and 0 < float(got) < 1:
                hint = "that looks like a probability; the question asks for the width N."
            c.fail(f"expected an int (a width), but your code returned {type_name(got)}.", tried=desc,
                   expected=repr(expected), got=describe(got), hint=hint)
        hint = SAFE_HINT
        if value == expected + 1 and born_dead_bound(expected, depth) <= risk:
            if depth * 2.0 ** -expected > risk:
                hint = ("depth * 2^-N <= risk (the union bound) is sufficient but not necessary: a smaller width "
                        "already meets the exact formula 1 - (1 - 2^-N)^depth <= risk.")
            elif born_dead_bound(expected, depth + 1) > risk:
                hint = "count the hidden layers only (depth of them): the output layer has no ReLU."
            else:
                hint = (f"width {expected} already keeps the risk at most `risk`: return the SMALLEST such width "
                        "(a layer of N units is all zero with probability 2^-N).")
        elif value == expected - 1:
            hint = (f"at width {value} the probability is {born_dead_bound(value, depth):.3g} > {risk}: that width "
                    "is one too small. Return the first width whose risk is at most `risk`.")
        elif value < expected and 2.0 ** -value <= risk:
            hint = "each of the `depth` layers can die: the risk of the whole net grows with the depth."
        c.expect(value == expected, "wrong width.", tried=desc, expected=repr(expected), got=repr(value),
                 hint=hint)


# --------------------------------------------------------------------------------------------
# 4.4 Measure: at which layer do random nets die?
# --------------------------------------------------------------------------------------------

LAYERS_HINT = ("draw n_nets bias-free nets: weights of layer 1 of shape (1, width), of later hidden layers "
               "(width, width), symmetric around 0 (e.g. N(0, 2 / fan_in)); pass x = 1 through the layers with ReLU; for each net find "
               "the first hidden layer whose output is all zero. counts[l - 1] is the number of nets whose first "
               "all-zero layer is l; counts[depth] the number of nets with no all-zero layer.")


def expected_first_dead(width: int, depth: int, n: int) -> list[float]:
    q = 2.0 ** -width
    return [n * q * (1 - q) ** (layer - 1) for layer in range(1, depth + 1)] + [n * (1 - q) ** depth]


def _count_list(got):
    if isinstance(got, torch.Tensor):
        if got.ndim != 1 or got.is_floating_point() or got.dtype == torch.bool:
            return None
        return [int(v) for v in got.tolist()]
    if isinstance(got, np.ndarray):
        if got.ndim != 1 or not np.issubdtype(got.dtype, np.integer):
            return None
        return [int(v) for v in got.tolist()]
    if isinstance(got, (list, tuple)):
        out = []
        for v in got:
            iv = _as_int(v)
            if iv is None:
                return None
            out.append(iv)
        return out
    return None


@exercise("4.4", "Measure the layer at which random nets die", time_limit_s=10.0)
def check_first_dead_layers(c: Checker, first_dead_layers) -> None:
    c.require_callable(first_dead_layers, "first_dead_layers")
    cases = [(2, 6, 4000, 0), (3, 8, 4000, 1), (1, 4, 3000, 2), (4, 12, 4000, 3), (8, 3, 2000, 4),
             (1, 12, 500, 6)]   # width 1: nearly every net dies early, the last entries are (nearly always) 0
    first = None
    for width, depth, n, seed in cases:
        desc = f"first_dead_layers(width={width}, depth={depth}, n_nets={n}, seed={seed})"
        exp = expected_first_dead(width, depth, n)
        want = f"a list of {depth + 1} ints summing to {n}, about " + \
               "[" + ", ".join(f"{v:.0f}" for v in exp[:4]) + (", ...]" if depth > 3 else "]")
        got = _call_watching_global_rng(c, first_dead_layers, (width, depth, n, seed), desc)
        counts = _count_list(got)
        if counts is None:
            hint = "return a list of ints: counts of nets, not fractions."
            c.fail(f"expected a list of ints, but your code returned {describe(got)}.", tried=desc, expected=want,
                   got=describe(got), hint=hint)
        c.expect(len(counts) == depth + 1, "the list has the wrong length.", tried=desc, expected=want,
                 got=f"{len(counts)} entries",
                 hint="one entry per hidden layer (depth entries) plus a last entry for the nets that survive all "
                      "layers.")
        if sum(counts) > n:
            hint = ("count each net once, at the FIRST hidden layer that is all zero (later layers are then all "
                    "zero too), or in the last entry if none is.")
            if counts[:depth] == sorted(counts[:depth]):
                hint = "these look cumulative (dead by layer l); " + hint
            c.fail("the counts add up to more than n_nets.", tried=desc, expected=want, got=repr(counts), hint=hint)
        c.expect(sum(counts) == n, "the counts do not add up to n_nets.", tried=desc, expected=want,
                 got=f"{counts} (sum {sum(counts)})",
                 hint="every net goes into exactly one entry: its first all-zero layer, or the last entry.")
        for layer, (value, e) in enumerate(zip(counts, exp), start=1):
            p = e / n
            tol = 4.5 * math.sqrt(n * p * (1 - p)) + 2
            if abs(value - e) > tol:
                where = f"counts[{layer - 1}]" + (" (the survivors)" if layer == depth + 1 else
                                                   f" (nets whose first dead layer is {layer})")
                hint = LAYERS_HINT
                if counts[:depth] == sorted(counts[:depth]) and counts[depth - 1] > exp[depth - 1] + tol:
                    hint = "these look cumulative (dead by layer l); count each net at its first dead layer only."
                elif counts[0] < exp[0] - tol and counts[-1] > exp[-1] + tol:
                    hint = ("fewer nets die than expected: are the weights symmetric around 0 and the nets "
                            "bias-free? Is a unit counted as off only when its output is exactly 0?")
                elif counts[-1] < exp[-1] - tol:
                    hint = ("more nets die than expected: is a unit counted as off when its output is > 0, or are "
                            "the layers off by one (counts[0] is layer 1)?")
                c.fail(f"{where} is too far from its expected value.", tried=desc,
                       expected=f"{e:.1f} ± {tol:.1f} (4.5 standard errors; the full list about "
                                f"{[round(v) for v in exp]})", got=repr(counts), hint=hint)
        c.ok()
        if first is None:
            first = counts
    desc = "first_dead_layers(2, 6, 4000, seed=0) a second time"
    again = _count_list(_call_watching_global_rng(c, first_dead_layers, (2, 6, 4000, 0), desc))
    c.expect(again == first, "the same seed gave a different result.", tried=desc, expected=repr(first),
             got=repr(again),
             hint="create your own generator from the seed, torch.Generator().manual_seed(seed), and pass it to "
                  "every torch.randn(..., generator=gen).")
    desc = "first_dead_layers(2, 6, 4000, seed=0), then the same with seed=5"
    other = _count_list(_call_watching_global_rng(c, first_dead_layers, (2, 6, 4000, 5), desc))
    c.expect(other != first, "seeds 0 and 5 gave exactly the same counts: the seed is not used.", tried=desc,
             expected="two different draws (the chance that 4000 nets give identical counts is negligible)",
             got=f"{first} both times",
             hint="create the generator from the `seed` argument, torch.Generator().manual_seed(seed), not from a "
                  "fixed number.")


def _call_watching_global_rng(c: Checker, fn, args, desc):
    """Call ``fn(*args)``; fail if it drew from (or reseeded) a global random generator."""
    import random
    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    got = c.call(fn, *args, desc=desc, hint=LAYERS_HINT)
    used = [name for name, changed in (
        ("torch's", not torch.equal(torch_state, torch.get_rng_state())),
        ("NumPy's", not _same_np_state(np_state, np.random.get_state())),
        ("Python's", py_state != random.getstate())) if changed]
    torch.set_rng_state(torch_state)
    np.random.set_state(np_state)
    random.setstate(py_state)
    c.expect(not used, f"your code used {' and '.join(used)} global random generator.", tried=desc,
             expected="every random number drawn from a generator created from `seed`",
             got=f"the state of {' and '.join(used)} global generator changed during the call",
             hint="do not call torch.manual_seed / np.random.seed or draw without a generator: create "
                  "gen = torch.Generator().manual_seed(seed) (or rng = np.random.default_rng(seed)) and draw every "
                  "number from it (torch.randn(..., generator=gen), rng.normal(...)).")
    return got


def _same_np_state(a, b) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:])


# --------------------------------------------------------------------------------------------
# 4.5 Measure: the fraction of seeds that a learning rate kills
# --------------------------------------------------------------------------------------------

KILL_GRID = (0.3, 0.5, 0.8)
KILL_SEEDS = (0, 1, 2, 3, 4)
_KILL_CACHE: dict = {}


def dead_after(lr: float, seed: int = 0) -> list[float]:
    """The recipe of exercise 4.5 on this machine: dead fractions per hidden layer after training."""
    key = (lr, seed)
    if key not in _KILL_CACHE:
        from relucourse.data import digits
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result = run_digits(digits(), seed=seed, lr=lr, batch_size=128, epochs=5)
        finally:
            torch.set_num_threads(threads)
        _KILL_CACHE[key] = result["dead"]
    return _KILL_CACHE[key]


def reference_kill_fractions(lrs) -> dict[float, float]:
    return {lr: sum(dead_after(lr, s)[1] >= 0.5 for s in KILL_SEEDS) / len(KILL_SEEDS) for lr in lrs}


@exercise("4.5", "The fraction of seeds that a learning rate kills", time_limit_s=20.0)
def check_kill_fractions(c: Checker, kill_fractions) -> None:
    c.require_callable(kill_fractions, "kill_fractions")
    from relucourse.data import digits
    desc = f"kill_fractions({list(KILL_GRID)}, digits())"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = c.call(kill_fractions, list(KILL_GRID), digits(), desc=desc)
    finally:
        torch.set_num_threads(threads)
    expected = reference_kill_fractions(KILL_GRID)
    rule = ("{lr: fraction of the seeds 0-4 in which at least half (>= 0.5) of the second hidden layer is dead}, "
            "with run_digits(data, seed=seed, lr=lr, batch_size=128, epochs=5)")
    want = f"{expected} on this machine"
    if not isinstance(got, dict):
        c.fail(f"expected a dict, but your code returned {type_name(got)}.", tried=desc, expected=want,
               got=describe(got), hint="return a dict with one entry per learning rate: {0.3: ..., 0.5: ..., ...}.")
    keys = {}
    for k in got:
        kk = k.item() if isinstance(k, torch.Tensor) and k.numel() == 1 else k
        if isinstance(kk, (int, float, np.integer, np.floating)) and not isinstance(kk, (bool, np.bool_)):
            keys[float(kk)] = got[k]
    c.expect(sorted(keys) == sorted(KILL_GRID) and len(got) == len(KILL_GRID),
             "the dict's keys are not the learning rates you were given.", tried=desc, expected=want,
             got=repr(sorted(got, key=str)), hint="use each learning rate of the list itself as a key.")
    values = {}
    for lr, v in keys.items():
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            c.fail(f"the value for lr {lr} is not a number.", tried=desc, expected=want, got=describe(v),
                   hint="each value is a fraction of the 5 seeds: 0, 0.2, 0.4, 0.6, 0.8 or 1.")
        values[lr] = float(v)
    c.ok()
    for lr in KILL_GRID:
        v = values[lr]
        c.expect(0.0 <= v <= 1.0, "a fraction must lie between 0 and 1.", tried=desc, expected=want,
                 got=repr(values), hint="divide the number of killed seeds by 5 (not a percentage, not a count).")
        c.expect(any(math.isclose(v, k / 5, abs_tol=1e-6) for k in range(6)),
                 "the value is not a fraction of 5 seeds.", tried=desc, expected=want, got=repr(values),
                 hint="count the seeds 0-4 in which at least half of layer 2 died, and divide by 5: the mean dead "
                      "fraction is a different quantity.")
    for lr in KILL_GRID:
        v, e = values[lr], expected[lr]
        if math.isclose(v, e, abs_tol=1e-6):
            c.ok()
            continue
        dead = {s: dead_after(lr, s) for s in KILL_SEEDS}
        hint = ("train each seed 0-4 with run_digits(data, seed=seed, lr=lr, batch_size=128, epochs=5) and count "
                "a seed as killed when dead_fractions(model, X_train)'s second value is >= 0.5.")
        if math.isclose(v, sum(d[1] > 0.5 for d in dead.values()) / 5, abs_tol=1e-6):
            hint = "at least half means >= 0.5, not > 0.5."
        elif math.isclose(v, sum(d[0] >= 0.5 for d in dead.values()) / 5, abs_tol=1e-6):
            hint = ("if you measured the first hidden layer: measure the SECOND one (the second value of "
                    "dead_fractions); the first never dies here.")
        c.fail(f"wrong fraction of killed seeds at lr {lr}.", tried=desc, expected=want, got=repr(values),
               hint=hint + " Per seed on this machine, layer 2 dead: " +
               ", ".join(f"{s}: {d[1]:.2f}" for s, d in dead.items()))


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


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa)


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
    initial = {}
    try:
        for seed in REPAIR_SEEDS:
            desc = f"model = build({seed})"
            c.time_limit_s = min(2.0, limit)  # building a model is quick; training gets the exercise's limit
            try:
                torch.manual_seed(1000 + seed)    # the global generator in some state that is not `seed`'s
                model = c.call(build, seed, desc=desc)
                if not isinstance(model, nn.Module):
                    c.fail(f"expected an nn.Module, but build returned {type_name(model)}.", tried=desc,
                           got=describe(model),
                           hint="return the model you built (not trained), e.g. nn.Sequential(...).")
                torch.manual_seed(2000 + seed)    # another state: the same seed must give the same weights
                again = c.call(build, seed, desc=f"{desc}, called a second time")
            finally:
                c.time_limit_s = limit
            c.expect(isinstance(again, nn.Module) and _same_weights(model, again),
                     "the same seed gave different initial weights.", tried=f"{desc}, called twice",
                     expected="the same initial weights both times, whatever the state of the global generator",
                     got="different weights",
                     hint="initialise from `seed`: call torch.manual_seed(seed) at the start of build (or build the "
                          "weights from torch.Generator().manual_seed(seed)).")
            initial[seed] = [p.detach().clone() for p in model.parameters()]
            if len(initial) == 2:
                a, b = initial.values()
                c.expect(len(a) != len(b) or any(not torch.equal(x, y) for x, y in zip(a, b)),
                         "seeds 0 and 1 gave the same initial weights: the seed is not used.",
                         tried="model = build(0); model = build(1)", expected="different initial weights",
                         got="identical weights",
                         hint="initialise from the `seed` argument (torch.manual_seed(seed)), not from a fixed "
                              "number.")
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
                     got=f"{len(sites)} ReLU layer{'s' if len(sites) != 1 else ''}"
                         + (f" of {', '.join(map(str, sites.values()))} units" if sites else ""),
                     hint="use nn.ReLU() (or F.relu) once after each of the two hidden layers.")
            with torch.no_grad():         # on the second build (the same weights): `model` is left untouched
                before = accuracy(again, X_test, y_test)
            c.expect(before < 0.5, "the model is already trained.", tried=f"{desc}; its test accuracy before training",
                     expected="an untrained model (test accuracy near chance, 0.1)", got=f"{before:.3f}",
                     hint="return the model as initialised: the check trains it with the recipe of the exercise.")
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
                     got=", ".join(f"{m.float().mean().item():.0%} of {'the first' if i == 0 else 'the second'} ReLU "
                          f"layer dead" for i, m in enumerate(dead.values())),
                     hint=("the original network loses most of its second layer at this learning rate; what "
                           "keeps pre-activations centred whatever the weights do?"
                           if not any(isinstance(m, nn.modules.batchnorm._NormBase) or isinstance(m, nn.LayerNorm)
                                      for m in model.modules()) else
                           "a unit is dead when what reaches its ReLU is <= 0 for every training digit; your model "
                           "normalises, so look at what sits between the normalisation and that ReLU layer."))
            c.expect(acc >= 0.9, "the test accuracy is too low.", tried=run, expected="test accuracy >= 0.90",
                     got=f"{acc:.3f}", hint="a network that keeps its units alive should reach about 0.95 here.")
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# 4.7 Design: does leaky ReLU rescue a moderately bad bias? A paired comparison
# --------------------------------------------------------------------------------------------

LEAKY_BIAS, LEAKY_SLOPE, LEAKY_LR = -7.0, 0.1, 0.1
LEAKY_SEEDS = (0, 1, 2, 3, 4)
_LEAKY_CACHE: dict = {}


def leaky_accuracy(seed: int, leaky: bool) -> float:
    """The recipe of exercise 4.7 on this machine: test accuracy of one arm and seed."""
    key = (seed, leaky)
    if key not in _LEAKY_CACHE:
        from relucourse.data import digits
        arm = {"activation": "leaky", "negative_slope": LEAKY_SLOPE} if leaky else {}
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            r = run_digits(digits(), seed=seed, lr=LEAKY_LR, batch_size=128, epochs=5, first_bias=LEAKY_BIAS, **arm)
        finally:
            torch.set_num_threads(threads)
        _LEAKY_CACHE[key] = r["test_acc"]
    return _LEAKY_CACHE[key]


def reference_leaky_comparison(seeds) -> dict:
    from relucourse import method
    leaky = [leaky_accuracy(s, True) for s in seeds]
    relu = [leaky_accuracy(s, False) for s in seeds]
    d = method.paired(leaky, relu)
    return {"diffs": list(d.diffs), "higher": d.above, "rescues": bool(d.mean > 0 and d.excludes_zero)}


def _float_list(value):
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for v in value:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            return None
        out.append(float(v))
    return out


@exercise("4.7", "Does leaky ReLU rescue a bad bias? A paired comparison", time_limit_s=20.0)
def check_leaky_comparison(c: Checker, compare_leaky) -> None:
    c.require_callable(compare_leaky, "compare_leaky")
    from relucourse.data import digits
    seeds = list(LEAKY_SEEDS)
    desc = f"compare_leaky(digits(), seeds={seeds})"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = c.call(compare_leaky, digits(), seeds, desc=desc)
    finally:
        torch.set_num_threads(threads)
    ref = reference_leaky_comparison(seeds)
    want = (f"{{'diffs': [{', '.join(f'{d:+.3f}' for d in ref['diffs'])}], 'higher': {ref['higher']}, "
            f"'rescues': {ref['rescues']}}} on this machine")
    if not isinstance(got, dict):
        c.fail(f"expected a dict, but your code returned {type_name(got)}.", tried=desc, expected=want,
               got=describe(got), hint="return {'diffs': [...], 'higher': ..., 'rescues': ...}.")
    missing = [k for k in ("diffs", "higher", "rescues") if k not in got]
    c.expect(not missing, "the dict lacks a key.", tried=desc, expected=want, got=f"keys {sorted(map(str, got))}",
             hint=f"add {missing}.")
    diffs = _float_list(got["diffs"])
    if diffs is None:
        c.fail("'diffs' is not a list of numbers.", tried=desc, expected=want, got=describe(got["diffs"]),
               hint="one number per seed: leaky's test accuracy minus ReLU's.")
    plural = lambda n: f"{n} value{'' if n == 1 else 's'}"
    c.expect(len(diffs) == len(seeds), "'diffs' has the wrong length.", tried=desc,
             expected=f"{plural(len(seeds))}, one per seed", got=plural(len(diffs)),
             hint="one difference per seed, in the order of `seeds`.")
    leaky = [leaky_accuracy(s, True) for s in seeds]
    relu = [leaky_accuracy(s, False) for s in seeds]
    if not all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(diffs, ref["diffs"])):
        hint = ("for each seed, train both arms with run_digits(data, seed=seed, lr=0.1, batch_size=128, epochs=5, "
                "first_bias=-7.0), the leaky one with activation='leaky', negative_slope=0.1; subtract ReLU's test "
                "accuracy from leaky's.")
        if all(math.isclose(a, -b, abs_tol=1e-6) for a, b in zip(diffs, ref["diffs"])):
            hint = "the sign is reversed: leaky minus ReLU."
        elif sorted(round(a, 6) for a in diffs) != sorted(round(b, 6) for b in ref["diffs"]) and \
                any(math.isclose(diffs[i], leaky[i] - relu[j], abs_tol=1e-6)
                    for i in range(len(seeds)) for j in range(len(seeds)) if i != j):
            hint = "pair the runs: both arms of one difference must use the same seed (same init, same batches)."
        c.fail("the per-seed differences are not the measured ones.", tried=desc, expected=want,
               got=f"diffs {[round(d, 3) for d in diffs]}", hint=hint + " Accuracies on this machine, leaky: " +
               ", ".join(f"{a:.3f}" for a in leaky) + "; ReLU: " + ", ".join(f"{a:.3f}" for a in relu))
    c.ok()
    higher = _as_int(got["higher"])
    c.expect(higher == ref["higher"], "'higher' is not the number of seeds in which leaky is better.", tried=desc,
             expected=want, got=describe(got["higher"]),
             hint="count the seeds whose difference is strictly above 0 (an int).")
    rescues = got["rescues"]
    c.expect(isinstance(rescues, (bool, np.bool_)), "'rescues' is not a bool.", tried=desc, expected=want,
             got=describe(rescues), hint="True or False.")
    c.expect(bool(rescues) == ref["rescues"], "the verdict does not follow from the differences.", tried=desc,
             expected=want, got=repr(bool(rescues)),
             hint="rescues is True exactly when the mean difference is above 0 and its 95 % interval excludes 0: "
                  "method.paired(leaky, relu) gives both.")
