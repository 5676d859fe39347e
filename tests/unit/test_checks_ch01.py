"""Chapter 1 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import copy
import math

import numpy as np
import scipy.special
import torch
import torch.nn.functional as F
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse.tooling.checks.ch01 import (reference_collapse, reference_depth_needed, reference_sigmoid,
                                    reference_sigmoid_derivative)
from relucourse.train import grad_norms

torch.set_num_threads(1)  # small models: one thread is fastest, and a loaded machine does not stall


def stable_sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


# -- 1.1 ---------------------------------------------------------------------------------------

def test_1_1_accepts_the_reference_and_other_correct_forms():
    passes("1.1", reference_sigmoid)
    passes("1.1", stable_sigmoid)
    passes("1.1", scipy.special.expit)
    passes("1.1", lambda x: 0.5 * (1 + np.tanh(x / 2)))          # tanh identity
    passes("1.1", lambda x: torch.sigmoid(torch.from_numpy(x)).numpy())


def test_1_1_stub_is_not_attempted():
    not_attempted("1.1", stub("1.1"))


def test_1_1_rejects_naive_form_that_overflows_at_minus_1000():
    msg = rejects("1.1", lambda x: 1 / (1 + np.exp(-x)),
                  says=("warning", "overflow", "-1000.", "exp(-|x|)"))
    assert len(msg.splitlines()) <= 5


def test_1_1_rejects_form_that_overflows_at_plus_1000():
    rejects("1.1", lambda x: np.exp(x) / (1 + np.exp(x)), says=("RuntimeWarning", "1000."))


def test_1_1_rejects_a_python_list():
    rejects("1.1", lambda x: [1 / (1 + math.exp(-v)) for v in np.ravel(x)],
            says=("expected a numpy.ndarray, but your code returned list", "Tried:", "Expected:", "Got:"))


def test_1_1_rejects_exceptions_nan_in_place_and_endless_loops():
    def raises(x):
        raise ValueError("shapes do not match")
    rejects("1.1", raises, says=("raised an error", "ValueError: shapes do not match"))
    rejects("1.1", lambda x: np.full_like(x, np.nan), says=("wrong value", "Expected:", "Got:", "nan"))

    def in_place(x):
        x[...] = stable_sigmoid(x)
        return x
    rejects("1.1", in_place, says=("modified its input in place",))

    def forever(x):
        while True:
            pass
    rejects("1.1", forever, says=("did not finish within 2 s",))


def test_1_1_hint_names_the_warning_that_happened():
    msg = rejects("1.1", lambda x: (x - x) / (x - x) + stable_sigmoid(x),   # 0 / 0
                  says=("RuntimeWarning", "invalid"))
    assert "overflow" not in msg.split("Hint:")[1]   # an invalid-value warning is not an overflow

    def silenced(x):
        with np.errstate(all="ignore"):
            return np.exp(x) / (1 + np.exp(x))     # inf / inf = nan at +1000
    rejects("1.1", silenced, says=("wrong value", "NaN at large |x|", "overflowed"))


def test_1_1_rejects_wrong_dtype_shape_values_and_non_functions():
    rejects("1.1", lambda x: stable_sigmoid(x.astype(np.float64)), says=("wrong dtype", "float32"))
    rejects("1.1", lambda x: stable_sigmoid(x).ravel(), says=("wrong shape", "(3, 4)"))
    rejects("1.1", lambda x: np.clip(0.5 + x / 4, 0, 1), says=("wrong value",))
    rejects("1.1", lambda x: np.where(x >= 0, 1.0, 0.0).astype(x.dtype), says=("wrong value",))
    rejects("1.1", lambda x: np.nan_to_num(stable_sigmoid(x)), says=("wrong value", "nan"))
    rejects("1.1", 0.5, says=("expected a function `sigmoid`", "float"))


# -- 1.2 ---------------------------------------------------------------------------------------

def test_1_2_accepts_the_reference_and_other_correct_forms():
    passes("1.2", reference_sigmoid_derivative)
    passes("1.2", lambda x: stable_sigmoid(x) * (1 - stable_sigmoid(x)))
    passes("1.2", lambda x: 0.25 * (1 - np.tanh(x / 2) ** 2))
    passes("1.2", lambda x: scipy.special.expit(x) * scipy.special.expit(-x))


def test_1_2_stub_is_not_attempted():
    not_attempted("1.2", stub("1.2"))


def test_1_2_rejects_typical_mistakes():
    rejects("1.2", stable_sigmoid, says=("autograd", "wrong value"))
    rejects("1.2", lambda x: stable_sigmoid(x) * (1 + stable_sigmoid(x)), says=("wrong value",))
    rejects("1.2", lambda x: 1 - np.tanh(x) ** 2, says=("wrong value",))
    rejects("1.2", lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, says=("RuntimeWarning", "-1000."))
    rejects("1.2", lambda x: np.full(x.shape, 0.25, x.dtype), says=("wrong value",))


def test_1_2_rejects_exceptions_types_nan_and_in_place():
    def raises(x):
        raise ZeroDivisionError("oops")
    rejects("1.2", raises, says=("ZeroDivisionError: oops",))
    rejects("1.2", lambda x: (stable_sigmoid(x) * (1 - stable_sigmoid(x))).tolist(),
            says=("returned list",))
    rejects("1.2", lambda x: torch.sigmoid(torch.from_numpy(x)), says=("returned torch.Tensor",))

    def in_place(x):
        s = stable_sigmoid(x)
        x *= 0
        return s * (1 - s)
    rejects("1.2", in_place, says=("in place",))
    rejects("1.2", lambda x: np.where(np.abs(x) > 50, np.nan, stable_sigmoid(x) * (1 - stable_sigmoid(x))),
            says=("wrong value",))


# -- 1.3 ---------------------------------------------------------------------------------------


def _bias(layer):
    return layer.bias if layer.bias is not None else torch.zeros(layer.out_features, dtype=layer.weight.dtype)


def collapse_by_probing(first, second):
    """Recover the affine map from its outputs: b = f(0), columns of W = f(e_i) - f(0)."""
    with torch.no_grad():
        eye = torch.eye(first.in_features, dtype=first.weight.dtype)
        b = second(first(torch.zeros(1, first.in_features, dtype=first.weight.dtype)))[0]
        W = (second(first(eye)) - b).T
    return W, b


def test_1_3_accepts_the_reference_and_other_correct_forms():
    passes("1.3", reference_collapse)
    passes("1.3", lambda f, s: (s.weight @ f.weight, s.weight @ _bias(f) + _bias(s)))  # keeps autograd history
    passes("1.3", lambda f, s: [torch.einsum("ij,jk->ik", s.weight, f.weight).detach(),
                                (_bias(f) @ s.weight.T + _bias(s)).detach()])
    passes("1.3", collapse_by_probing)


def test_1_3_stub_is_not_attempted():
    not_attempted("1.3", stub("1.3"))


def test_1_3_rejects_typical_mistakes():
    rejects("1.3", lambda f, s: (f.weight @ s.weight, s.weight @ _bias(f) + _bias(s)),
            says=("raised an error", "W2 (W1 x + b1) + b2"))
    rejects("1.3", lambda f, s: ((s.weight @ f.weight).T, s.weight @ _bias(f) + _bias(s)),
            says=("W has the wrong shape", "(2, 3)", "(3, 2)"))
    rejects("1.3", lambda f, s: (s.weight @ f.weight, _bias(f)), says=("b has the wrong shape", "(2,)", "(5,)"))
    msg = rejects("1.3", lambda f, s: (s.weight @ f.weight, _bias(f) + _bias(s)) if f.out_features == s.out_features
                  else reference_collapse(f, s), says=("wrong value", ": b", "also passes through the second"))
    assert "(4, 4, dtype=torch.float64)" in msg
    rejects("1.3", lambda f, s: (s.weight @ f.weight, s.weight @ _bias(f)),
            says=("wrong value", "second layer's own bias"))
    rejects("1.3", lambda f, s: (f.weight.T @ s.weight.T if f.out_features == f.in_features == s.out_features
                                 else s.weight @ f.weight, s.weight @ _bias(f) + _bias(s)),
            says=("wrong value", ": W", "the order matters"))
    rejects("1.3", lambda f, s: (s.weight @ f.weight, s.weight @ f.bias + s.bias),
            says=("raised an error", "bias=False", "None: treat that bias as zero"))

    def float32_zeros(f, s):
        def bias(layer):
            return layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
        with torch.no_grad():
            return s.weight @ f.weight, s.weight @ bias(f) + bias(s)
    rejects("1.3", float32_zeros, says=("raised an error", "float64", "dtype=layer.weight.dtype"))

    def zeros_without_dtype_added_last(f, s):
        with torch.no_grad():
            b1 = f.bias if f.bias is not None else torch.zeros(f.out_features, dtype=f.weight.dtype)
            b = s.weight @ b1
            b = b + s.bias if s.bias is not None else b.float()
            return s.weight @ f.weight, b
    rejects("1.3", zeros_without_dtype_added_last, says=("wrong dtype", "float64"))
    rejects("1.3", lambda f, s: (s.weight @ f.weight).detach(), says=("expected a pair (W, b)",))


def test_1_3_rejects_exceptions_types_nan_in_place_and_endless_loops():
    def raises(f, s):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    rejects("1.3", raises, says=("raised an error", "RuntimeError: mat1 and mat2"))
    rejects("1.3", lambda f, s: tuple(t.detach().numpy() for t in reference_collapse(f, s)),
            says=("expected a torch.Tensor, but your code returned numpy.ndarray",))
    rejects("1.3", lambda f, s: tuple(t.double() for t in reference_collapse(f, s)), says=("wrong dtype",))
    rejects("1.3", lambda f, s: tuple(torch.full_like(t, float("nan")) for t in reference_collapse(f, s)),
            says=("wrong value", "nan"))

    def in_place(f, s):
        with torch.no_grad():
            s.weight.mul_(1.0).add_(0.5)
            return reference_collapse(f, s)
    rejects("1.3", in_place, says=("changed the caller's layers",))

    def forever(f, s):
        while True:
            pass
    rejects("1.3", forever, says=("did not finish within 2 s",))
    rejects("1.3", reference_collapse(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)),
            says=("expected a function `collapse`", "tuple"))


# -- 1.4 ---------------------------------------------------------------------------------------


def linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def norms_with_autograd_grad(model, X, y):
    """Never touches .grad at all."""
    weights = [m.weight for m in linears(model)]
    grads = torch.autograd.grad(F.cross_entropy(model(X), y), weights)
    return torch.stack([g.norm() for g in grads])


def norms_on_a_copy(model, X, y):
    clone = copy.deepcopy(model)
    clone.zero_grad()
    F.nll_loss(F.log_softmax(clone(X), dim=1), y).backward()
    return tuple(m.weight.grad.norm() for m in linears(clone))


def norms_zeroed_with_zero_(model, X, y):
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()
    F.cross_entropy(model(X), y).backward()
    out = np.array([m.weight.grad.pow(2).sum().sqrt().item() for m in linears(model)])
    for p in model.parameters():
        p.grad.zero_()
    return out


def test_1_4_accepts_the_reference_and_other_correct_forms():
    passes("1.4", grad_norms)
    passes("1.4", norms_with_autograd_grad)
    passes("1.4", norms_on_a_copy)
    passes("1.4", norms_zeroed_with_zero_)


def test_1_4_stub_is_not_attempted():
    not_attempted("1.4", stub("1.4"))


def _norms(model, X, y, *, params=None, loss="mean", zero_before=True, zero_after=True, squared=False):
    if zero_before:
        model.zero_grad()
    out = model(X)
    (F.cross_entropy(out, y, reduction="sum") if loss == "sum" else F.cross_entropy(out, y)).backward()
    chosen = params(model) if params else [m.weight for m in linears(model)]
    norms = [p.grad.norm().item() ** (2 if squared else 1) for p in chosen]
    if zero_after:
        model.zero_grad()
    return norms


def test_1_4_rejects_wrong_layers_order_and_quantities():
    rejects("1.4", lambda m, X, y: _norms(m, X, y)[::-1], says=("wrong gradient norms", "reverse order"))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, params=lambda m: [l.bias for l in linears(m)]),
            says=("wrong gradient norms", "biases"))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, params=lambda m: list(m.parameters())),
            says=("norms (one per nn.Linear layer)", "every parameter"))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, params=lambda m: [p for p in m.parameters() if p.dim() == 2]),
            says=("not every 2-D parameter is an nn.Linear weight",))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, params=lambda m: [l.weight for l in m if isinstance(l, nn.Linear)]),
            says=("nested blocks", "model.modules()"))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, loss="sum"), says=("summed over the batch",))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, squared=True), says=("squared norms",))
    rejects("1.4", lambda m, X, y: _norms(m, X, y)[:-1], says=("norms (one per nn.Linear layer), got",))


def test_1_4_rejects_accumulated_and_leftover_gradients():
    rejects("1.4", lambda m, X, y: _norms(m, X, y, zero_after=False),
            says=("left the gradients it computed on the model", "model.zero_grad()"))
    rejects("1.4", lambda m, X, y: _norms(m, X, y, zero_before=False),
            says=("earlier backward pass", "ADDS to whatever .grad already holds"))

    def zero_only_at_start_of_first_call(model, X, y, seen=set()):
        if id(model) not in seen:
            seen.add(id(model))
            model.zero_grad()
        F.cross_entropy(model(X), y).backward()
        return [m.weight.grad.norm().item() for m in linears(model)]
    rejects("1.4", zero_only_at_start_of_first_call, says=("left the gradients",))


def test_1_4_rejects_exceptions_types_nan_in_place_and_endless_loops():
    def raises(model, X, y):
        raise AttributeError("'NoneType' object has no attribute 'norm'")
    rejects("1.4", raises, says=("raised an error", "AttributeError"))
    rejects("1.4", lambda m, X, y: {i: v for i, v in enumerate(_norms(m, X, y))},
            says=("expected a list of numbers", "dict"))
    rejects("1.4", lambda m, X, y: [str(v) for v in _norms(m, X, y)], says=("expected a list of numbers",))
    rejects("1.4", lambda m, X, y: [float("nan")] * len(linears(m)), says=("wrong gradient norms", "nan"))

    def modifies_X(model, X, y):
        norms = _norms(model, X, y)
        X.mul_(2)
        return norms
    rejects("1.4", modifies_X, says=("modified its input in place",))

    def takes_a_step(model, X, y):
        norms = _norms(model, X, y, zero_after=False)
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        model.zero_grad()
        return norms
    rejects("1.4", takes_a_step, says=("your code changed the model",))

    def forever(model, X, y):
        while True:
            pass
    rejects("1.4", forever, says=("did not finish within 2 s",))


# -- 1.5 ---------------------------------------------------------------------------------------

def test_1_5_hidden_cases_agree_with_exact_arithmetic():
    from fractions import Fraction

    from relucourse.tooling.checks.ch01 import DEPTH_CASES, _drawn_depth_cases
    for bound, threshold in DEPTH_CASES + _drawn_depth_cases():
        depth, power = 0, Fraction(1)   # exact: Fraction(bound) ** depth, one product per step
        while not power < Fraction(threshold):
            depth, power = depth + 1, power * Fraction(bound)
        assert reference_depth_needed(bound, threshold) == depth
    assert reference_depth_needed(0.25, 1e-6) == 10


def test_1_5_accepts_the_reference_and_other_correct_forms():
    passes("1.5", reference_depth_needed)
    passes("1.5", lambda b, t: math.floor(math.log(t) / math.log(b)) + 1)

    def multiply(bound, threshold):
        depth, product = 0, 1.0
        while product >= threshold:
            depth, product = depth + 1, product * bound
        return depth
    passes("1.5", multiply)
    passes("1.5", lambda b, t: np.int64(reference_depth_needed(b, t)))
    passes("1.5", lambda b, t: float(reference_depth_needed(b, t)))
    passes("1.5", lambda b, t: torch.tensor(reference_depth_needed(b, t)))
    passes("1.5", lambda b, t: np.array([reference_depth_needed(b, t)]))
    passes("1.5", lambda b, t: np.int32(reference_depth_needed(b, t)))


def test_1_5_shows_ints_as_ints():
    msg = rejects("1.5", lambda b, t: reference_depth_needed(b, t) + 1, says=("Expected: 10", "Got:      11"))
    assert "11.0" not in msg
    rejects("1.5", lambda b, t: float(reference_depth_needed(b, t) + 1), says=("Got:      11.0",))


def test_1_5_stub_is_not_attempted():
    not_attempted("1.5", stub("1.5"))


def test_1_5_rejects_off_by_one_and_unrounded_answers():
    rejects("1.5", lambda b, t: math.ceil(math.log(t) / math.log(b)),
            says=("wrong value", "Expected: 11", "equals 0.0009765625 exactly", "< is strict"))
    rejects("1.5", lambda b, t: math.log(t) / math.log(b), says=("wrong value", "whole number", "round"))

    def less_or_equal(bound, threshold):
        depth = 0
        while bound ** depth > threshold:
            depth += 1
        return depth
    rejects("1.5", less_or_equal, says=("off by one",))
    rejects("1.5", lambda b, t: reference_depth_needed(b, t) + 1, says=("one layer too many",))
    rejects("1.5", lambda b, t: reference_depth_needed(b, t) - 1, says=("off by one",))
    rejects("1.5", lambda b, t: reference_depth_needed(t, b), says=("wrong value",))


def test_1_5_rejects_exceptions_types_nan_and_endless_loops():
    def raises(b, t):
        raise OverflowError("math range error")
    rejects("1.5", raises, says=("raised an error", "OverflowError"))
    rejects("1.5", lambda b, t: str(reference_depth_needed(b, t)), says=("expected a number", "str"))
    rejects("1.5", lambda b, t: [reference_depth_needed(b, t)], says=("expected a number", "list"))
    rejects("1.5", lambda b, t: float("nan"), says=("wrong value", "nan"))
    rejects("1.5", lambda b, t: True, says=("expected a number", "bool"))

    def forever(bound, threshold):
        depth = 0
        while bound ** depth >= threshold:
            pass
        return depth
    rejects("1.5", forever, says=("did not finish within 2 s",))


# -- 1.6 ---------------------------------------------------------------------------------------

from relucourse.tooling.checks.ch01 import reference_predicted_gain, reference_signal_gain  # noqa: E402


def _zs(model, X):
    zs = []
    handles = [m.register_forward_hook(lambda m, i, o: zs.append(o))
               for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        out = model(X)
    finally:
        for h in handles:
            h.remove()
    return out, zs


def gain_with_retain_grad(model, X):
    out, zs = _zs(model, X)
    for z in zs:
        z.retain_grad()
    out.sum().backward()
    s = [z.grad.pow(2).mean().item() for z in zs[:-1]]
    model.zero_grad(set_to_none=True)
    return (s[0] / s[-1]) ** (1 / (len(s) - 1))


def gain_by_log_average(model, X):
    out, zs = _zs(model, X)
    grads = torch.autograd.grad(out.sum(), zs)
    logs = [math.log(g.double().pow(2).mean().item()) for g in grads[:-1]]
    return math.exp((logs[0] - logs[-1]) / (len(logs) - 1))


def gain_with_tensor_result(model, X):
    out, zs = _zs(model, X)
    grads = torch.autograd.grad(out.sum(), zs)
    s = torch.stack([g.double().pow(2).mean() for g in grads[:-1]])
    return (s[0] / s[-1]) ** (1 / (len(s) - 1))


def test_1_6_accepts_the_reference_and_other_correct_forms():
    passes("1.6", reference_signal_gain, reference_predicted_gain)
    passes("1.6", gain_with_retain_grad, lambda c: c * 0.0625)
    passes("1.6", gain_by_log_average, lambda c: np.float32(c / 16))
    passes("1.6", lambda m, X: gain_with_tensor_result(m, X).item(), lambda c: torch.tensor(c) / 16)


def test_1_6_stub_is_not_attempted():
    not_attempted("1.6", stub("1.6"), reference_predicted_gain)
    not_attempted("1.6", reference_signal_gain, stub("1.6"))


def test_1_6_rejects_wrong_measurements():
    def module_order(model, X):
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        out, zs = _zs(model, X)
        by_id = {}
        handles = [m.register_forward_hook(lambda m, i, o: by_id.__setitem__(id(m), o)) for m in linears]
        try:
            out = model(X)
        finally:
            for h in handles:
                h.remove()
        grads = torch.autograd.grad(out.sum(), [by_id[id(m)] for m in linears])
        s = [g.pow(2).mean().item() for g in grads[:-1]]
        return (s[0] / s[-1]) ** (1 / (len(s) - 1))
    rejects("1.6", module_order, reference_predicted_gain, says=("REVERSE", "model.modules()", "hooks fire"))

    def clears_all_hooks(model, X):
        value = reference_signal_gain(model, X)
        for m in model.modules():
            m._forward_hooks.clear()
        return value
    rejects("1.6", clears_all_hooks, reference_predicted_gain, says=("removed a forward hook that the caller",))

    def leaves_hooks(model, X):
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.register_forward_hook(lambda *a: None)
        return reference_signal_gain(model, X)
    rejects("1.6", leaves_hooks, reference_predicted_gain, says=("hooks are still attached",))

    def leaves_grads(model, X):
        value = reference_signal_gain(model, X)
        model(X).sum().backward()
        return value
    rejects("1.6", leaves_grads, reference_predicted_gain, says=("left gradients",))
    rejects("1.6", lambda m, X: 1 / reference_signal_gain(m, X), reference_predicted_gain, says=("inverse",))
    rejects("1.6", lambda m, X: math.sqrt(reference_signal_gain(m, X)), reference_predicted_gain,
            says=("SQUARED",))

    def with_output_layer(model, X):
        out, zs = _zs(model, X)
        grads = torch.autograd.grad(out.sum(), zs)
        s = [g.pow(2).mean().item() for g in grads]
        return (s[0] / s[-1]) ** (1 / (len(s) - 1))
    rejects("1.6", with_output_layer, reference_predicted_gain, says=("last nn.Linear",))

    def modifies_X(model, X):
        value = reference_signal_gain(model, X)
        X.mul_(2)
        return value
    rejects("1.6", modifies_X, reference_predicted_gain, says=("in place",))
    rejects("1.6", lambda m, X: [reference_signal_gain(m, X)], reference_predicted_gain,
            says=("expected a number", "list"))
    rejects("1.6", forever, reference_predicted_gain, says=("did not finish within 2 s",))


def forever(*args):
    while True:
        pass


def test_1_6_rejects_wrong_predictions():
    rejects("1.6", reference_signal_gain, lambda c: c / 4, says=("predicted_gain(0.25)", "1/4 bounds sigmoid'"))
    rejects("1.6", reference_signal_gain, lambda c: 0.25, says=("1/16",))
    rejects("1.6", reference_signal_gain, lambda c: math.sqrt(c) / 4, says=("away from the measurement",))
    rejects("1.6", reference_signal_gain, lambda c: c, says=("away from the measurement",))
    rejects("1.6", reference_signal_gain, lambda c: 1 / 16, says=("predicted_gain(0.25)", "away from the measurement"))
    rejects("1.6", reference_signal_gain, lambda c: str(c / 16), says=("expected a number", "str"))
    rejects("1.6", reference_signal_gain, lambda c: float("nan"), says=("away from the measurement", "Got:      nan"))


# -- 1.7 ---------------------------------------------------------------------------------------

from relucourse.train import mlp  # noqa: E402

SIZES = [64] + [32] * 12 + [10]


def centred_net(scale=16.0, orthogonal=False, center=True):
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            if orthogonal:
                nn.init.orthogonal_(lin.weight, gain=math.sqrt(scale * b / a) if a < b else math.sqrt(scale))
            else:
                lin.weight.normal_(0.0, math.sqrt(scale / a))
            lin.bias.copy_(-0.5 * lin.weight.sum(1) if (i > 0 and center) else torch.zeros(b))
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers[:-1])


def test_1_7_accepts_the_reference_and_other_correct_forms():
    passes("1.7", lambda: (centred_net(), 0.05))
    passes("1.7", lambda: (centred_net(orthogonal=True), 0.02))
    passes("1.7", lambda: [centred_net(orthogonal=True), np.float64(0.05)])


def test_1_7_stub_is_not_attempted():
    not_attempted("1.7", stub("1.7"))


def test_1_7_rejects_designs_that_do_not_train_or_break_the_rules():
    rejects("1.7", lambda: (mlp(SIZES, "sigmoid"), 0.1),
            says=("did not reach the target", "shrinks by a factor", "Var(w)"))
    rejects("1.7", lambda: (centred_net(), 50.0), says=("lr must be a positive number",))
    def exploding():
        net = centred_net()
        with torch.no_grad():
            net[-1].weight.fill_(1e38)     # the logits overflow: the loss is not finite
        return net, 0.05
    rejects("1.7", exploding, says=("diverged",))
    rejects("1.7", lambda: (mlp([64] + [32] * 12 + [10], "relu", init="he"), 0.05),
            says=("architecture", "nn.Sigmoid()"))
    rejects("1.7", lambda: (mlp([64] + [32] * 11 + [10], "sigmoid"), 0.05), says=("architecture",))
    rejects("1.7", lambda: (centred_net().double(), 0.05), says=("float32",))

    def reseeds():
        torch.manual_seed(0)
        return centred_net(), 0.05
    rejects("1.7", reseeds, says=("identical weights", "torch.manual_seed"))
    rejects("1.7", lambda: (centred_net(), -0.1), says=("positive",))
    rejects("1.7", lambda: centred_net(), says=("expected a pair (net, lr)",))
    rejects("1.7", lambda: (centred_net(), True), says=("lr must be",))
    rejects("1.7", lambda: (centred_net(), "0.05"), says=("lr must be",))
    lrs = iter([0.05, 0.02])
    rejects("1.7", lambda: (centred_net(), next(lrs)), says=("different learning rates",))


# -- every stated rule, broken alone (tests/unit/test_rules.py counts these) ----------------------

from rulebook import breaks_rule, rejects_in_time, slow  # noqa: E402


def _warns_too(x):
    np.exp(-x)                      # computed and thrown away: overflows at x = -1000
    return stable_sigmoid(x)


def _writes_into_x(fn):
    def answer(x):
        out = fn(x)
        x[...] = 0
        return out
    return answer


def stable_derivative(x):
    s = stable_sigmoid(x)
    return s * (1 - s)


@breaks_rule("1.1", "value")
def test_rule_1_1_value():
    rejects("1.1", lambda x: stable_sigmoid(2 * x), says=("wrong value",))


@breaks_rule("1.1", "shape-dtype")
def test_rule_1_1_shape_dtype():
    rejects("1.1", lambda x: stable_sigmoid(np.asarray(x, dtype=np.float64)), says=("wrong dtype", "float32"))


@breaks_rule("1.1", "no-warning")
def test_rule_1_1_no_warning():
    rejects("1.1", _warns_too, says=("warning", "overflow"))


@breaks_rule("1.1", "limits")
def test_rule_1_1_limits():
    rejects("1.1", lambda x: np.where(np.isnan(x), 0.5, stable_sigmoid(x)), says=("wrong value", "nan"))


@breaks_rule("1.1", "no-inplace")
def test_rule_1_1_no_inplace():
    rejects("1.1", _writes_into_x(stable_sigmoid), says=("modified its input in place",))


@breaks_rule("1.1", "time-limit")
def test_rule_1_1_time_limit():
    rejects_in_time("1.1", slow(stable_sigmoid))


@breaks_rule("1.2", "value")
def test_rule_1_2_value():
    rejects("1.2", lambda x: 2 * stable_derivative(x), says=("wrong value",))


@breaks_rule("1.2", "shape-dtype")
def test_rule_1_2_shape_dtype():
    rejects("1.2", lambda x: stable_derivative(np.asarray(x, dtype=np.float32)), says=("wrong dtype",))


@breaks_rule("1.2", "no-warning")
def test_rule_1_2_no_warning():
    rejects("1.2", lambda x: (np.exp(-x), stable_derivative(x))[1], says=("warning", "overflow"))


@breaks_rule("1.2", "limits")
def test_rule_1_2_limits():
    rejects("1.2", lambda x: np.where(np.isnan(x), 0.25, stable_derivative(x)), says=("wrong value", "nan"))


@breaks_rule("1.2", "no-inplace")
def test_rule_1_2_no_inplace():
    rejects("1.2", _writes_into_x(stable_derivative), says=("modified its input in place",))


@breaks_rule("1.2", "time-limit")
def test_rule_1_2_time_limit():
    rejects_in_time("1.2", slow(stable_derivative))


@breaks_rule("1.3", "value")
def test_rule_1_3_value():
    rejects("1.3", lambda f, s: (reference_collapse(f, s)[0], 2 * reference_collapse(f, s)[1]),
            says=("wrong value", ": b"))


@breaks_rule("1.3", "shape")
def test_rule_1_3_shape():
    rejects("1.3", lambda f, s: (reference_collapse(f, s)[0].T, reference_collapse(f, s)[1]),
            says=("W has the wrong shape",))


@breaks_rule("1.3", "dtype")
def test_rule_1_3_dtype():
    rejects("1.3", lambda f, s: tuple(t.double() for t in reference_collapse(f, s)), says=("wrong dtype",))


@breaks_rule("1.3", "no-bias")
def test_rule_1_3_no_bias():
    def uses_bias(first, second):
        with torch.no_grad():
            return second.weight @ first.weight, second.weight @ first.bias + second.bias
    rejects("1.3", uses_bias, says=("raised an error", "bias=False", "None"))


@breaks_rule("1.3", "layers-unchanged")
def test_rule_1_3_layers_unchanged():
    def adds_zero_bias(first, second):
        for layer in (first, second):
            if layer.bias is None:
                layer.bias = nn.Parameter(torch.zeros(layer.out_features, dtype=layer.weight.dtype))
        return reference_collapse(first, second)
    rejects("1.3", adds_zero_bias, says=("changed the caller's layers", "now has a parameter", "'bias'"))

    def switches_to_eval(first, second):
        first.eval(), second.eval()
        return reference_collapse(first, second)
    rejects("1.3", switches_to_eval, says=("changed the caller's layers", "eval mode"))


@breaks_rule("1.3", "pair")
def test_rule_1_3_pair():
    rejects("1.3", lambda f, s: dict(zip("Wb", reference_collapse(f, s))), says=("expected a pair (W, b)",))


@breaks_rule("1.3", "time-limit")
def test_rule_1_3_time_limit():
    rejects_in_time("1.3", slow(reference_collapse))


def good_norms(model, X, y):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    norms = [m.weight.grad.norm().item() for m in linears]
    model.zero_grad()
    return norms


@breaks_rule("1.4", "value")
def test_rule_1_4_value():
    def summed(model, X, y):
        model.zero_grad()
        F.cross_entropy(model(X), y, reduction="sum").backward()
        norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
        model.zero_grad()
        return norms
    rejects("1.4", summed, says=("wrong gradient norms", "summed over the batch"))


@breaks_rule("1.4", "numbers")
def test_rule_1_4_numbers():
    rejects("1.4", lambda m, X, y: str(good_norms(m, X, y)), says=("expected a list of numbers",))


@breaks_rule("1.4", "order")
def test_rule_1_4_order():
    rejects("1.4", lambda m, X, y: good_norms(m, X, y)[::-1], says=("reverse order",))


@breaks_rule("1.4", "weights-only")
def test_rule_1_4_weights_only():
    def every_parameter(model, X, y):
        model.zero_grad()
        F.cross_entropy(model(X), y).backward()
        norms = [p.grad.norm().item() for p in model.parameters()]
        model.zero_grad()
        return norms
    rejects("1.4", every_parameter, says=("every parameter",))


@breaks_rule("1.4", "stale-grads")
def test_rule_1_4_stale_grads():
    def keeps_old(model, X, y):
        F.cross_entropy(model(X), y).backward()
        norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
        model.zero_grad()
        return norms
    rejects("1.4", keeps_old, says=("ADDS to whatever .grad already holds",))


@breaks_rule("1.4", "no-leftover-grads")
def test_rule_1_4_no_leftover_grads():
    def leaves_them(model, X, y):
        model.zero_grad()
        F.cross_entropy(model(X), y).backward()
        return [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
    rejects("1.4", leaves_them, says=("left the gradients it computed",))


@breaks_rule("1.4", "unchanged")
def test_rule_1_4_unchanged():
    rejects("1.4", lambda m, X, y: (m.eval(), good_norms(m, X, y))[1], says=("changed the model", "eval mode"))


@breaks_rule("1.4", "time-limit")
def test_rule_1_4_time_limit():
    rejects_in_time("1.4", slow(good_norms))


@breaks_rule("1.5", "smallest")
def test_rule_1_5_smallest():
    rejects("1.5", lambda b, t: reference_depth_needed(b, t) + 1, says=("one layer too many",))


@breaks_rule("1.5", "strict")
def test_rule_1_5_strict():
    def not_strict(bound, threshold):
        depth = 0
        while bound ** depth > threshold:
            depth += 1
        return depth
    rejects("1.5", not_strict, says=("equal is not below the threshold",))


@breaks_rule("1.5", "int")
def test_rule_1_5_int():
    rejects("1.5", lambda b, t: str(reference_depth_needed(b, t)), says=("expected a number", "str"))


@breaks_rule("1.5", "time-limit")
def test_rule_1_5_time_limit():
    rejects_in_time("1.5", slow(reference_depth_needed))


def _modules_order_gain(model, X):
    outputs = {}
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    handles = [m.register_forward_hook(lambda m, i, o: outputs.__setitem__(id(m), o)) for m in linears]
    try:
        total = model(X).sum()
    finally:
        for h in handles:
            h.remove()
    grads = torch.autograd.grad(total, [outputs[id(m)] for m in linears])
    s = [g.double().pow(2).mean().item() for g in grads[:-1]]
    return (s[0] / s[-1]) ** (1 / (len(s) - 1))


@breaks_rule("1.6", "predict")
def test_rule_1_6_predict():
    rejects("1.6", reference_signal_gain, lambda c: c / 4, says=("prediction is more than 12%",))


@breaks_rule("1.6", "value")
def test_rule_1_6_value():
    rejects("1.6", lambda m, X: reference_signal_gain(m, X) ** 0.5, reference_predicted_gain,
            says=("wrong value",))


@breaks_rule("1.6", "float")
def test_rule_1_6_float():
    rejects("1.6", gain_with_tensor_result, reference_predicted_gain, says=("expected a Python float", ".item()"))


@breaks_rule("1.6", "forward-order")
def test_rule_1_6_forward_order():
    rejects("1.6", _modules_order_gain, reference_predicted_gain, says=("order of model.modules()",))


@breaks_rule("1.6", "own-hooks")
def test_rule_1_6_own_hooks():
    def clears_all(model, X):
        value = reference_signal_gain(model, X)
        for m in model.modules():
            m._forward_hooks.clear()
        return value
    rejects("1.6", clears_all, reference_predicted_gain, says=("removed a forward hook that the caller",))


@breaks_rule("1.6", "no-grads")
def test_rule_1_6_no_grads():
    def leaves_grads(model, X):
        model(X).sum().backward()
        return reference_signal_gain(model, X)
    rejects("1.6", leaves_grads, reference_predicted_gain, says=("left gradients",))


@breaks_rule("1.6", "unchanged")
def test_rule_1_6_unchanged():
    rejects("1.6", lambda m, X: (m.eval(), reference_signal_gain(m, X))[1], reference_predicted_gain,
            says=("changed the model", "eval mode"))


@breaks_rule("1.6", "time-limit")
def test_rule_1_6_time_limit():
    rejects_in_time("1.6", slow(reference_signal_gain), reference_predicted_gain)


@breaks_rule("1.7", "architecture")
def test_rule_1_7_architecture():
    rejects("1.7", lambda: (nn.Sequential(*centred_net(), nn.Identity()), 0.05), says=("architecture",))


@breaks_rule("1.7", "global-rng")
def test_rule_1_7_global_rng():
    calls = iter(range(100))

    def own_generator():  # different weights on every call, whatever the global state
        torch.manual_seed(1000 + next(calls))
        return centred_net(), 0.05
    rejects("1.7", own_generator, says=("other weights under the same random state", "global generator"))


@breaks_rule("1.7", "lr")
def test_rule_1_7_lr():
    rejects("1.7", lambda: (centred_net(), -0.05), says=("lr must be a positive number",))


@breaks_rule("1.7", "accuracy")
def test_rule_1_7_accuracy():
    rejects("1.7", lambda: (mlp(SIZES, "sigmoid"), 0.05), says=("did not reach the target test accuracy",))


@breaks_rule("1.7", "time-limit")
def test_rule_1_7_time_limit():
    rejects_in_time("1.7", slow(lambda: (centred_net(), 0.05)))


def test_1_x_accepts_correct_answers_that_warn_where_the_statement_allows_warnings():
    """Only 1.1 and 1.2 forbid warnings; elsewhere a RuntimeWarning from a correct call is no failure."""
    import warnings

    def warns(fn):
        def answer(*args):
            warnings.warn("a library said something", RuntimeWarning)
            return fn(*args)
        return answer
    passes("1.3", warns(reference_collapse))
    passes("1.5", warns(reference_depth_needed))
