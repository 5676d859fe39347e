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
    rejects("1.3", in_place, says=("changed the layers' weights",))

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
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        model.zero_grad()
        return norms
    rejects("1.4", takes_a_step, says=("changed the model's parameters",))

    def forever(model, X, y):
        while True:
            pass
    rejects("1.4", forever, says=("did not finish within 2 s",))


# -- 1.5 ---------------------------------------------------------------------------------------

def test_1_5_hidden_cases_agree_with_exact_arithmetic():
    from fractions import Fraction

    from relucourse.tooling.checks.ch01 import DEPTH_CASES
    for bound, threshold in DEPTH_CASES:
        depth = 0
        while not Fraction(bound) ** depth < Fraction(threshold):
            depth += 1
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
