"""Chapter 1 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math

import numpy as np
import scipy.special
import torch

from conftest import not_attempted, passes, rejects, stub
from relucourse.checks.ch01 import reference_sigmoid, reference_sigmoid_derivative


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
