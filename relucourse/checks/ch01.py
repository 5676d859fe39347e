"""Checks for chapter 1: activation basics."""

from __future__ import annotations

import numpy as np
import torch

from . import exercise
from .core import Checker, describe


def reference_sigmoid(x: np.ndarray) -> np.ndarray:
    """A sigmoid that never overflows: exp(-|x|) is always in (0, 1]."""
    x = np.asarray(x)
    z = np.exp(-np.abs(x.astype(np.float64)))
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    out = np.where(np.isnan(x), np.nan, out)
    return out.astype(x.dtype)


def reference_sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    s = reference_sigmoid(np.asarray(x, dtype=np.float64))
    return (s * (1.0 - s)).astype(np.asarray(x).dtype)


def _elementwise_cases(fn_name: str):
    """Inputs an elementwise NumPy function must handle: (array, description, rtol, atol)."""
    grid = np.linspace(-6.0, 6.0, 13)
    return [
        (grid, f"{fn_name}(np.linspace(-6.0, 6.0, 13))", 1e-10, 1e-15),
        (np.array([0.0, -0.0]), f"{fn_name}(np.array([0.0, -0.0]))", 0.0, 0.0),
        (np.array([-1000.0, -100.0, 100.0, 1000.0]),
         f"{fn_name}(np.array([-1000.0, -100.0, 100.0, 1000.0]))", 1e-9, 1e-12),
        (np.array([-1000.0, -30.0, 30.0, 1000.0], dtype=np.float32),
         f"{fn_name}(np.array([-1000.0, -30.0, 30.0, 1000.0], dtype=np.float32))", 1e-5, 1e-12),
        (np.linspace(-20, 20, 12, dtype=np.float32).reshape(3, 4),
         f"{fn_name}(np.linspace(-20, 20, 12, dtype=np.float32).reshape(3, 4))", 1e-5, 1e-7),
        (np.array([np.inf, -np.inf, np.nan]), f"{fn_name}(np.array([np.inf, -np.inf, np.nan]))", 0.0, 0.0),
        (np.zeros(0), f"{fn_name}(np.zeros(0))  # an empty array", 0.0, 0.0),
        (np.array(0.5), f"{fn_name}(np.array(0.5))  # a 0-d array", 1e-12, 0.0),
        (np.random.default_rng(1).normal(0, 10, size=100_000),
         f"{fn_name}(an array of 100,000 values drawn from N(0, 10^2))", 1e-10, 1e-15),
    ]


OVERFLOW_HINT = ("np.exp(-x) overflows for very negative x (and np.exp(x) for very positive x). "
                 "Use exp(-|x|), which always lies in (0, 1], and pick the formula by the sign of x.")


@exercise("1.1", "A numerically stable sigmoid")
def check_sigmoid(c: Checker, sigmoid) -> None:
    c.require_callable(sigmoid, "sigmoid")
    for x, desc, rtol, atol in _elementwise_cases("sigmoid"):
        want = reference_sigmoid(x)
        out = c.call(sigmoid, x, desc=desc, hint=OVERFLOW_HINT, expected=want)
        c.expect_array(out, want, desc=desc, rtol=rtol, atol=atol,
                       hint=OVERFLOW_HINT if np.abs(x).max(initial=0) > 50 else
                       "sigmoid(x) = 1 / (1 + exp(-x)), computed elementwise with NumPy.")


@exercise("1.2", "The sigmoid's derivative, without autograd")
def check_sigmoid_derivative(c: Checker, sigmoid_derivative) -> None:
    c.require_callable(sigmoid_derivative, "sigmoid_derivative")
    hint = "sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x)); reuse your stable sigmoid."

    # 1. against autograd
    x = np.linspace(-8.0, 8.0, 33)
    t = torch.tensor(x, requires_grad=True)
    (autograd,) = torch.autograd.grad(torch.sigmoid(t).sum(), t)
    desc = "sigmoid_derivative(np.linspace(-8.0, 8.0, 33)), compared with PyTorch autograd"
    out = c.call(sigmoid_derivative, x, desc=desc, hint=hint)
    c.expect_array(out, autograd.numpy(), desc=desc, rtol=1e-9, atol=1e-15, hint=hint)

    # 2. against central finite differences of the sigmoid
    x = np.array([-3.3, -1.0, -0.2, 0.7, 2.5])
    h = 1e-5
    fd = (reference_sigmoid(x + h) - reference_sigmoid(x - h)) / (2 * h)
    desc = f"sigmoid_derivative({describe(x)}), compared with central finite differences (h = 1e-5)"
    out = c.call(sigmoid_derivative, x, desc=desc, hint=hint)
    c.expect_array(out, fd, desc=desc, rtol=1e-7, atol=1e-10, hint=hint)

    # 3. the maximum is exactly 1/4, at x = 0
    out = c.call(sigmoid_derivative, np.array([0.0]), desc="sigmoid_derivative(np.array([0.0]))", hint=hint)
    c.expect_array(out, np.array([0.25]), desc="sigmoid_derivative(np.array([0.0]))", rtol=0, atol=0,
                   hint=hint)

    # 4. the edge cases every elementwise function must survive
    # (the first case, the grid, is covered by the autograd comparison above)
    for x, desc, rtol, atol in _elementwise_cases("sigmoid_derivative")[1:]:
        out = c.call(sigmoid_derivative, x, desc=desc, hint=OVERFLOW_HINT)
        c.expect_array(out, reference_sigmoid_derivative(x), desc=desc, rtol=max(rtol, 1e-9),
                       atol=max(atol, 1e-12), hint=OVERFLOW_HINT if np.abs(x).max(initial=0) > 50 else hint)
