"""Checks for chapter 1: activation basics."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from relucourse.train import grad_norms, linear_layers, mlp
from . import exercise
from .core import Checker, describe, type_name


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
    ] + _varied_cases(fn_name)


def _varied_cases(fn_name: str, n: int = 4):
    """Inputs drawn from a seeded generator: shapes of 1 to 3 dimensions (sizes 1 to 6), float32 or
    float64, scales from 0.1 to 1000, besides the named edge cases above."""
    rng = np.random.default_rng(20)
    cases = []
    for _ in range(n):
        shape = tuple(int(k) for k in rng.integers(1, 7, size=rng.integers(1, 4)))
        dtype = (np.float32, np.float64)[int(rng.integers(2))]
        scale = float(10 ** rng.uniform(-1, 3))
        x = (rng.normal(0, scale, size=shape)).astype(dtype)
        name = np.dtype(dtype).name
        cases.append((x, f"{fn_name}(x) for x of shape {shape}, dtype {name}, values drawn from "
                         f"N(0, {scale:.3g}^2) (np.random.default_rng(20))",
                      # absolute floor: the dtype's resolution near 1, the sigmoid's scale
                      *((1e-5, 1e-7) if dtype == np.float32 else (1e-10, 1e-15))))
    return cases


OVERFLOW_HINT = ("np.exp(-x) overflows for very negative x (and np.exp(x) for very positive x). "
                 "Use exp(-|x|), which always lies in (0, 1], and pick the formula by the sign of x.")

SIGMOID_HINT = "sigmoid(x) = 1 / (1 + exp(-x)), computed elementwise with NumPy."


def _warning_hint(message: str) -> str | None:
    """The hint for a RuntimeWarning, chosen by what NumPy said happened."""
    if "overflow" in message:
        return OVERFLOW_HINT
    if "invalid value" in message:
        return ("NumPy computed an invalid operation (such as inf / inf, inf - inf or 0 * inf), "
                "which gives NaN. Keep every intermediate finite: work with exp(-|x|).")
    if "divide" in message:
        return "a division by zero happened: make sure no denominator can be 0."
    return None


def _value_hint(x: np.ndarray, got, want: np.ndarray, default: str) -> str:
    """Name a cause only when the result shows it: NaN where the answer is finite at large |x|."""
    if isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype.kind == "f":
        bad = np.isnan(got) & ~np.isnan(want)
        if bad.any() and (np.abs(x[bad]) > 50).all():
            return ("your result is NaN at large |x| only, where an intermediate overflowed to inf "
                    "(inf / inf is NaN): " + OVERFLOW_HINT)
    return default


@exercise("1.1", "A numerically stable sigmoid")
def check_sigmoid(c: Checker, sigmoid) -> None:
    c.require_callable(sigmoid, "sigmoid")
    for x, desc, rtol, atol in _elementwise_cases("sigmoid"):
        want = reference_sigmoid(x)
        out = c.call(sigmoid, x, desc=desc, hint=SIGMOID_HINT, expected=want,
                     warning_hint=_warning_hint)
        c.expect_array(out, want, desc=desc, rtol=rtol, atol=atol,
                       hint=_value_hint(x, out, want, SIGMOID_HINT))


@exercise("1.2", "The sigmoid's derivative, without autograd")
def check_sigmoid_derivative(c: Checker, sigmoid_derivative) -> None:
    c.require_callable(sigmoid_derivative, "sigmoid_derivative")
    hint = "sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x)); reuse your stable sigmoid."

    # 1. against autograd
    x = np.linspace(-8.0, 8.0, 33)
    t = torch.tensor(x, requires_grad=True)
    (autograd,) = torch.autograd.grad(torch.sigmoid(t).sum(), t)
    desc = "sigmoid_derivative(np.linspace(-8.0, 8.0, 33)), compared with PyTorch autograd"
    out = c.call(sigmoid_derivative, x, desc=desc, hint=hint, warning_hint=_warning_hint)
    c.expect_array(out, autograd.numpy(), desc=desc, rtol=1e-9, atol=1e-15, hint=hint)

    # 2. against central finite differences of the sigmoid
    x = np.array([-3.3, -1.0, -0.2, 0.7, 2.5])
    h = 1e-5
    fd = (reference_sigmoid(x + h) - reference_sigmoid(x - h)) / (2 * h)
    desc = f"sigmoid_derivative({describe(x)}), compared with central finite differences (h = 1e-5)"
    out = c.call(sigmoid_derivative, x, desc=desc, hint=hint, warning_hint=_warning_hint)
    c.expect_array(out, fd, desc=desc, rtol=1e-7, atol=1e-10, hint=hint)

    # 3. the maximum is exactly 1/4, at x = 0
    out = c.call(sigmoid_derivative, np.array([0.0]), desc="sigmoid_derivative(np.array([0.0]))", hint=hint,
                 warning_hint=_warning_hint)
    c.expect_array(out, np.array([0.25]), desc="sigmoid_derivative(np.array([0.0]))", rtol=0, atol=0,
                   hint=hint)

    # 4. the edge cases every elementwise function must survive
    # (the first case, the grid, is covered by the autograd comparison above)
    for x, desc, rtol, atol in _elementwise_cases("sigmoid_derivative")[1:]:
        want = reference_sigmoid_derivative(x)
        out = c.call(sigmoid_derivative, x, desc=desc, hint=hint, warning_hint=_warning_hint)
        c.expect_array(out, want, desc=desc, rtol=max(rtol, 1e-9),
                       atol=max(atol, 1e-12), hint=_value_hint(x, out, want, hint))


# --------------------------------------------------------------------------------------------
# 1.3: collapse two linear layers into one
# --------------------------------------------------------------------------------------------

def reference_collapse(first: torch.nn.Linear, second: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) with second(first(x)) == x @ W.T + b: W = W2 W1, b = W2 b1 + b2 (a missing bias is 0)."""
    with torch.no_grad():
        w1, w2 = first.weight, second.weight
        b1 = first.bias if first.bias is not None else torch.zeros(w1.shape[0], dtype=w1.dtype)
        b2 = second.bias if second.bias is not None else torch.zeros(w2.shape[0], dtype=w2.dtype)
        return w2 @ w1, w2 @ b1 + b2


def _linear(fan_in: int, fan_out: int, seed: int, bias: bool = True,
            dtype: torch.dtype = torch.float32) -> torch.nn.Linear:
    gen = torch.Generator().manual_seed(seed)
    layer = torch.nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(fan_out, fan_in, generator=gen, dtype=dtype))
        if bias:
            layer.bias.copy_(torch.randn(fan_out, generator=gen, dtype=dtype))
    return layer


def _layer_desc(layer: torch.nn.Linear) -> str:
    extra = "" if layer.bias is not None else ", bias=False"
    extra += "" if layer.weight.dtype == torch.float32 else f", dtype=torch.{str(layer.weight.dtype)[6:]}"
    return f"nn.Linear({layer.in_features}, {layer.out_features}{extra})"


def module_state(model: nn.Module) -> list:
    """Everything a caller sees of a module: each submodule's type and mode, each parameter and buffer
    (name, dtype, values, bias None or not). Two equal states mean the module was not changed."""
    state = []
    for name, m in model.named_modules():
        state.append((name, type(m).__name__, m.training, sorted(m._parameters),
                      sorted(m._forward_hooks), sorted(m._forward_pre_hooks)))
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        state.append((name, p.dtype, tuple(p.shape), p.requires_grad, p.detach().clone()))
    return state


def same_state(before: list, after: list) -> bool:
    if len(before) != len(after):
        return False
    for a, b in zip(before, after):
        if isinstance(a[-1], torch.Tensor):
            if a[:-1] != b[:-1] or not torch.equal(a[-1], b[-1]):
                return False
        elif a != b:
            return False
    return True


def state_change(before: list, after: list) -> str:
    """Say what changed between two module states, in a learner's words."""
    names_before = {a[0]: a for a in before if isinstance(a[-1], torch.Tensor)}
    names_after = {a[0]: a for a in after if isinstance(a[-1], torch.Tensor)}
    new = sorted(set(names_after) - set(names_before))
    if new:
        return f"it now has a parameter or buffer {new[0]!r} that it did not have"
    gone = sorted(set(names_before) - set(names_after))
    if gone:
        return f"its parameter {gone[0]!r} is gone"
    for name, a in names_before.items():
        b = names_after[name]
        if a[1] != b[1]:
            return f"{name} changed dtype from {a[1]} to {b[1]}"
        if a[2] != b[2] or not torch.equal(a[-1], b[-1]):
            return f"the values of {name} changed"
    mods_a = {a[0]: a for a in before if not isinstance(a[-1], torch.Tensor)}
    for a in after:
        if not isinstance(a[-1], torch.Tensor):
            b = mods_a.get(a[0])
            if b is None or b[1] != a[1]:
                return f"its module {a[0] or 'itself'} was replaced by a {a[1]}"
            if b[2] != a[2]:
                where = a[0] or "the model"
                return f"{where} was switched to {'training' if a[2] else 'eval'} mode"
    return "its modules or hooks changed"


COLLAPSE_HINT = ("second(first(x)) = W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2), "
                 "so W = second.weight @ first.weight and b = second.weight @ first.bias + second.bias.")


def _collapse_hint(name: str, got, first: torch.nn.Linear, second: torch.nn.Linear) -> str:
    """Recognise the typical mistakes and say what went wrong."""
    if isinstance(got, torch.Tensor) and got.dtype == first.weight.dtype:
        with torch.no_grad():
            w1, w2 = first.weight, second.weight
            b1 = first.bias if first.bias is not None else torch.zeros(w1.shape[0], dtype=w1.dtype)
            b2 = second.bias if second.bias is not None else torch.zeros(w2.shape[0], dtype=w2.dtype)
            if name == "W" and w1.shape == w2.shape and (torch.allclose(got, w1 @ w2) or torch.allclose(got, (w2 @ w1).T)):
                return ("the order matters: x passes through `first`, then `second`, so "
                        "W = second.weight @ first.weight.")
            if name == "b" and b1.shape == b2.shape and torch.allclose(got, b1 + b2):
                return ("the first layer's bias also passes through the second layer's weights: "
                        "b = second.weight @ first.bias + second.bias.")
            if name == "b" and torch.allclose(got, w2 @ b1) and second.bias is not None:
                return "do not forget the second layer's own bias: b = second.weight @ first.bias + second.bias."
    return COLLAPSE_HINT


def _collapse_raise_hint(err: Exception, first: torch.nn.Linear, second: torch.nn.Linear) -> str | None:
    """Name the cause of an error only when the error message shows it."""
    text = str(err)
    if "NoneType" in text and (first.bias is None or second.bias is None):
        return "a layer made with bias=False has `.bias` equal to None: treat that bias as zero."
    if "dtype" in text.lower() or "Double" in text or "Float" in text:
        return ("two tensors of different dtypes met (float32 and float64): create any zeros you need "
                "with dtype=layer.weight.dtype.")
    return None


@exercise("1.3", "Collapse two linear layers into one")
def check_collapse(c: Checker, collapse) -> None:
    c.require_callable(collapse, "collapse")
    cases = [  # (fan_in, hidden, fan_out, first has bias, second has bias, dtype)
        (3, 5, 2, True, True, torch.float32),
        (4, 4, 4, True, True, torch.float64),   # square: a transposed or swapped product has the right shape
        (6, 1, 3, True, True, torch.float32),   # a bottleneck of width 1
        (1, 7, 1, True, True, torch.float64),
        (5, 3, 5, False, True, torch.float32),  # first layer without a bias
        (2, 6, 4, True, False, torch.float64),  # second layer without a bias
        (3, 3, 3, False, False, torch.float32),
        (4, 2, 3, False, True, torch.float64),  # float64 and no bias: zeros must be float64 too
        (3, 5, 2, False, False, torch.float64),
    ]
    rng = np.random.default_rng(13)  # besides the named cases: sizes, biases and dtypes drawn at random
    for _ in range(4):
        n_in, n_hid, n_out = (int(v) for v in rng.integers(1, 9, size=3))
        cases.append((n_in, n_hid, n_out, bool(rng.integers(2)), bool(rng.integers(2)),
                      (torch.float32, torch.float64)[int(rng.integers(2))]))
    for k, (n_in, n_hid, n_out, bias1, bias2, dtype) in enumerate(cases):
        first = _linear(n_in, n_hid, 100 + 2 * k, bias1, dtype)
        second = _linear(n_hid, n_out, 101 + 2 * k, bias2, dtype)
        desc = f"collapse(first, second) with first = {_layer_desc(first)}, second = {_layer_desc(second)}"
        if k % 3 == 1:  # the caller's layers may be in eval mode
            first.eval(), second.eval()
        before = [module_state(first), module_state(second)]
        result = c.call(collapse, first, second, allow_warnings=True, desc=desc, hint=COLLAPSE_HINT,
                        raise_hint=lambda err: _collapse_raise_hint(err, first, second))
        after = [module_state(first), module_state(second)]
        changed = [f"{name}: {state_change(a, b)}" for name, a, b in zip(("first", "second"), before, after)
                   if not same_state(a, b)]
        c.expect(not changed, "your code changed the caller's layers.", tried=desc,
                 got=changed[0] if changed else None,
                 hint="read first.weight, first.bias, ... without writing into the layers: no in-place "
                      "operations on parameters, no new parameters (a missing bias counts as zero in your "
                      "computation only), no .double(), .eval() or .train() on them.")
        c.expect(isinstance(result, (tuple, list)) and len(result) == 2,
                 "expected a pair (W, b).", tried=desc, expected="a tuple (W, b) of two tensors",
                 got=f"{type(result).__name__} {describe(result)}", hint="end with `return W, b`.")
        W, b = result
        W_ref, b_ref = reference_collapse(first, second)
        for name, got, want in (("W", W, W_ref), ("b", b, b_ref)):
            if isinstance(got, torch.Tensor):
                got = got.detach()
            if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(want.shape):
                c.fail(f"{name} has the wrong shape.", tried=desc, expected=f"shape {tuple(want.shape)}",
                       got=f"shape {tuple(got.shape)}",
                       hint="W is shaped like an nn.Linear weight, (second.out_features, first.in_features); "
                            "multiply in the order the layers act: second.weight @ first.weight."
                       if name == "W" else "b has one entry per output of `second`: (second.out_features,).")
            c.expect_array(got, want, desc=f"{desc}: {name}", rtol=1e-5 if dtype == torch.float32 else 1e-10,
                           atol=1e-5 if dtype == torch.float32 else 1e-12,
                           hint=_collapse_hint(name, got, first, second))


# --------------------------------------------------------------------------------------------
# 1.4: per-layer gradient norms
# --------------------------------------------------------------------------------------------

class _Gain(torch.nn.Module):
    """Multiplies each feature by a learned gain: a 2-D parameter that does not belong to an nn.Linear."""

    def __init__(self, width: int):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.full((1, width), 1.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


def _grad_norm_cases():
    """(model builder, X, y, description): small hidden models and batches."""
    def batch(n, d, classes, seed, dtype=torch.float32):
        gen = torch.Generator().manual_seed(seed)
        return (torch.randn(n, d, generator=gen, dtype=dtype),
                torch.randint(0, classes, (n,), generator=gen))

    def seeded(build, seed):
        def make():
            with torch.random.fork_rng():  # leave the learner's random state alone
                torch.manual_seed(seed)
                return build()
        return make

    return [
        (seeded(lambda: mlp([4, 6, 5, 3], "sigmoid"), 1), *batch(16, 4, 3, 2),
         "model = mlp([4, 6, 5, 3], 'sigmoid'), a batch of 16 inputs with 4 features and 3 classes"),
        (seeded(lambda: mlp([5, 8, 8, 8, 8, 2], "tanh").double(), 3), *batch(10, 5, 2, 4, torch.float64),
         "model = mlp([5, 8, 8, 8, 8, 2], 'tanh') in float64, a batch of 10 inputs"),
        (seeded(lambda: nn.Sequential(nn.Sequential(nn.Linear(3, 7), nn.Sigmoid()),
                                      nn.Sequential(nn.Linear(7, 7), nn.Sigmoid()), nn.Linear(7, 4)), 5),
         *batch(12, 3, 4, 6),
         "model = nn.Sequential(nn.Sequential(nn.Linear(3, 7), nn.Sigmoid()), "
         "nn.Sequential(nn.Linear(7, 7), nn.Sigmoid()), nn.Linear(7, 4))  # nested blocks"),
        (seeded(lambda: nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Tanh(), _Gain(6), nn.Linear(6, 3)), 7),
         *batch(9, 4, 3, 8),
         "model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Tanh(), Gain(6), nn.Linear(6, 3)), "
         "where Gain holds a (1, 6) parameter that is not an nn.Linear weight"),
        (seeded(lambda: mlp([8] + [16] * 20 + [3], "sigmoid"), 9), *batch(32, 8, 3, 10),
         "model = mlp([8] + [16] * 20 + [3], 'sigmoid'), a batch of 32 inputs (norms span many orders of magnitude)"),
        (seeded(lambda: mlp([2, 1], "sigmoid"), 11), *batch(1, 2, 1, 12),
         "model = mlp([2, 1], 'sigmoid') (a single layer, one class), a batch of 1 input"),
    ] + [
        (seeded(lambda sizes=sizes, act=act: mlp(sizes, act), 20 + k), *batch(n, sizes[0], sizes[-1], 40 + k),
         f"model = mlp({sizes}, {act!r}), a batch of {n} inputs (sizes drawn at random)")
        for k, (sizes, act, n) in enumerate(_drawn_mlps())
    ]


def _drawn_mlps(count: int = 2):
    """Model sizes, activations and batch sizes drawn from a seeded generator."""
    rng = np.random.default_rng(14)
    out = []
    for _ in range(count):
        depth = int(rng.integers(1, 5))
        sizes = [int(v) for v in rng.integers(2, 10, size=depth + 1)]
        out.append((sizes, ("sigmoid", "tanh", "relu")[int(rng.integers(3))], int(rng.integers(2, 40))))
    return out


def _as_floats(value) -> list[float] | None:
    """The learner's result as a list of floats, or None if it is not a sequence of numbers."""
    if isinstance(value, torch.Tensor) and value.dim() == 1:
        return [float(v) for v in value.detach().double()]
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "f":
        return [float(v) for v in value]
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for v in value:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            out.append(float(v.detach().item()))
        elif isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_)):
            out.append(float(v))
        else:
            return None
    return out


def _close(a: list[float], b: list[float], rtol: float = 1e-4) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=rtol, abs_tol=1e-30) for x, y in zip(a, b))


def _grad_norm_mistake(got: list[float], model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> str:
    """Say what a wrong list of norms most likely computed."""
    linears = linear_layers(model)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(X), y).backward()
    weights = [m.weight.grad.norm().item() for m in linears]
    biases = [m.bias.grad.norm().item() for m in linears if m.bias is not None]
    every = [p.grad.norm().item() for p in model.parameters() if p.grad is not None]
    two_d = [p.grad.norm().item() for p in model.parameters() if p.grad is not None and p.dim() == 2]
    model.zero_grad(set_to_none=True)
    if _close(got, weights[::-1]) and len(weights) > 1:
        return "your norms come in reverse order: list the layers first to last, as model.modules() does."
    if _close(got, biases):
        return "these are the norms of the biases' gradients: use each layer's `.weight.grad`."
    if _close(got, every) or len(got) == len(every) != len(weights):
        return ("you included every parameter (biases, normalisation layers, ...): keep only the weights "
                "of the nn.Linear layers, e.g. [m for m in model.modules() if isinstance(m, nn.Linear)].")
    if _close(got, two_d) or len(got) == len(two_d) != len(weights):
        return ("not every 2-D parameter is an nn.Linear weight: select the modules with "
                "isinstance(m, nn.Linear) and use m.weight.grad.")
    if _close(got, [w * len(X) for w in weights]):
        return "your loss is summed over the batch: use the mean, F.cross_entropy(model(X), y)."
    if _close(got, [w * w for w in weights]):
        return "these are squared norms: use .norm() (the square root of the sum of squares)."
    top_level = sum(isinstance(m, nn.Linear) for m in model.children())
    if len(got) == top_level < len(weights):
        return ("the nn.Linear layers inside nested blocks are missing: use model.modules(), "
                "which looks inside them, rather than model.children().")
    if len(got) != len(weights):
        return (f"the model has {_count(len(weights), 'nn.Linear layer')} and your list has "
                f"{_count(len(got), 'value')}: return one norm per nn.Linear layer.")
    return ("compute loss = F.cross_entropy(model(X), y), call loss.backward(), then take "
            "m.weight.grad.norm() for each nn.Linear m in model.modules().")


@exercise("1.4", "Per-layer gradient norms")
def check_layer_grad_norms(c: Checker, layer_grad_norms) -> None:
    c.require_callable(layer_grad_norms, "layer_grad_norms")
    for k, (make, X, y, desc) in enumerate(_grad_norm_cases()):
        model = make()
        if k % 2 == 1:  # the caller's model may be in eval mode, or in mixed modes
            (model if k % 4 == 1 else next(model.children())).eval()
            desc += " (the model in " + ("eval mode)" if k % 4 == 1 else "mixed modes: its first block in eval mode)")
        expected = grad_norms(copy.deepcopy(model), X, y)
        for attempt in ("fresh", "stale gradients", "second call"):
            if attempt == "stale gradients":  # a previous backward left gradients on the model
                for p in model.parameters():
                    p.grad = torch.full_like(p, 3.0)
                tried = desc + "; the model still holds gradients from an earlier backward pass"
            elif attempt == "second call":
                tried = desc + "; called twice in a row (this is the second call)"
                c.call(layer_grad_norms, model, X, y, allow_warnings=True, desc=tried)
            else:
                tried = desc
            state = module_state(model)
            grads_before = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
            got = c.call(layer_grad_norms, model, X, y, allow_warnings=True, desc=tried)
            after = module_state(model)
            c.expect(same_state(state, after), "your code changed the model.", tried=tried,
                     got=None if same_state(state, after) else state_change(state, after),
                     hint="only measure the gradients: no optimiser step, no writes into the weights, "
                          "no .eval(), .train() or dtype changes on the caller's model.")
            values = _as_floats(got)
            c.expect(values is not None, "expected a list of numbers, one per nn.Linear layer.", tried=tried,
                     expected=f"a list of {_count(len(expected), 'float')}", got=f"{type_name(got)} {describe(got)}",
                     hint="return [m.weight.grad.norm().item() for m in the model's nn.Linear layers].")
            if not _close(values, expected):
                if attempt == "fresh" or len(values) != len(expected):
                    hint = _grad_norm_mistake(values, copy.deepcopy(model), X, y)
                else:
                    hint = ("loss.backward() ADDS to whatever .grad already holds: clear the gradients "
                            "(model.zero_grad()) before the backward pass.")
                c.fail("wrong gradient norms." if len(values) == len(expected) else
                       f"expected {_count(len(expected), 'norm')} (one per nn.Linear layer), got {len(values)}.",
                       tried=tried, expected=_fmt(expected), got=_fmt(values), hint=hint)
            c.ok()
            leftover = [p for p, before in zip(model.parameters(), grads_before)
                        if p.grad is not None and bool(p.grad.abs().sum() > 0)
                        and not (before is not None and torch.equal(p.grad, before))]
            c.expect(not leftover, "your code left the gradients it computed on the model.", tried=tried,
                     got=f"{len(leftover)} parameters hold a non-zero .grad after your function returned",
                     hint="call model.zero_grad() before returning (and before backward), so that "
                          "gradients do not pile up between calls.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values[:8]) + (", ...]" if len(values) > 8 else "]")


# --------------------------------------------------------------------------------------------
# 1.5: how deep before the gradient bound falls below a threshold?
# --------------------------------------------------------------------------------------------

def reference_depth_needed(bound: float, threshold: float) -> int:
    """The smallest depth L >= 0 with bound ** L < threshold, for 0 < bound < 1 and 0 < threshold."""
    depth = 0
    while not bound ** depth < threshold:
        depth += 1
    return depth


#: Hidden (bound, threshold) pairs: powers of two make bound ** L == threshold exactly (off-by-one traps).
DEPTH_CASES = [
    (0.25, 1e-6), (0.5, 2.0 ** -10), (0.25, 2.0 ** -20), (0.5, 0.5), (0.9, 0.5), (0.5, 1.0),
    (0.001, 0.5), (0.999, 1e-3), (0.5, 1e-300), (0.75, 1e-9), (0.125, 2.0 ** -30), (0.3, 0.3 ** 4 * 1.001),
]

def _drawn_depth_cases(count: int = 6):
    """(bound, threshold) pairs drawn from a seeded generator: half of them exact powers of a power of
    two (bound ** L == threshold, where every correct way of computing agrees), half away from any
    power (the ratio of logarithms at least 1e-6 from a whole number)."""
    rng = np.random.default_rng(15)
    out = []
    while len(out) < count:
        if len(out) % 2:
            bound = 0.5 ** int(rng.integers(1, 4))
            out.append((bound, bound ** int(rng.integers(1, 40))))
        else:
            bound, threshold = float(rng.uniform(0.05, 0.95)), float(10 ** rng.uniform(-12, 0))
            ratio = math.log(threshold) / math.log(bound)
            if abs(ratio - round(ratio)) > 1e-6:
                out.append((bound, threshold))
    return out


DEPTH_HINT = ("L must be a whole number with bound ** L < threshold strictly, and the smallest such: "
              "try L = 0, 1, 2, ... in a loop, or use logarithms and then check the exact-power case "
              "bound ** L == threshold.")


@exercise("1.5", "How deep until the gradient vanishes?")
def check_depth_needed(c: Checker, depth_needed) -> None:
    c.require_callable(depth_needed, "depth_needed")
    for bound, threshold in DEPTH_CASES + _drawn_depth_cases():
        desc = f"depth_needed({bound!r}, {threshold!r})"
        want = reference_depth_needed(bound, threshold)
        got = c.call(depth_needed, bound, threshold, allow_warnings=True, desc=desc, hint=DEPTH_HINT)
        if isinstance(got, (torch.Tensor, np.ndarray)) and got.reshape(-1).shape[0] == 1:
            got = got.item()  # a one-element tensor or array holds a number too
        is_number = (isinstance(got, (int, float, np.integer, np.floating))
                     and not isinstance(got, (bool, np.bool_)))
        c.expect(is_number, f"expected a number, but your code returned {type_name(got)}.", tried=desc,
                 expected=repr(want), got=describe(got), hint="return the depth L as an int.")
        shown = repr(int(got)) if isinstance(got, (int, np.integer)) else repr(float(got))
        c.expect(float(got) == want, "wrong value.", tried=desc, expected=repr(want), got=shown,
                 hint=_depth_hint(got, want, bound, threshold))


def _depth_hint(got, want: int, bound: float, threshold: float) -> str:
    try:
        value = float(got)
    except (TypeError, ValueError):
        return "return a whole number (an int), the depth L."
    if math.isnan(value) or value != int(value):
        return ("a depth is a whole number of layers, and yours is not: round the ratio of logarithms "
                "up to an integer, then check the exact-power case.")
    if value == want - 1 and bound ** (want - 1) == threshold:
        return (f"off by one: {bound!r} ** {want - 1} equals {threshold!r} exactly, and equal is not "
                "below the threshold, so one more layer is needed (< is strict).")
    if value == want - 1:
        return f"off by one: {bound!r} ** {int(value)} = {bound ** int(value):.3g} is not yet below {threshold!r}."
    if value == want + 1:
        return (f"one layer too many: {bound!r} ** {want} = {bound ** want:.3g} is already below "
                f"{threshold!r}; return the smallest such depth.")
    return DEPTH_HINT


# --------------------------------------------------------------------------------------------
# 1.6: predict, then measure: how fast does the backward signal shrink?
# --------------------------------------------------------------------------------------------

def reference_signal_means(model: nn.Module, X: torch.Tensor) -> list[float]:
    """Mean of (dL/dz)^2 for the output z of every nn.Linear, in the order the forward pass runs
    them, with L = model(X).sum(). Hooks are removed again; .grad of the parameters is untouched."""
    outputs: list[torch.Tensor] = []

    def keep(module, inputs, output):
        outputs.append(output)

    handles = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        with torch.enable_grad():
            total = model(X).sum()
    finally:
        for h in handles:
            h.remove()
    grads = torch.autograd.grad(total, outputs)
    return [g.detach().double().pow(2).mean().item() for g in grads]


def reference_signal_gain(model: nn.Module, X: torch.Tensor) -> float:
    """(s_1 / s_{k-1}) ** (1 / (k - 2)): the per-layer factor over the k - 1 hidden layers."""
    s = reference_signal_means(model, X)[:-1]
    return (s[0] / s[-1]) ** (1.0 / (len(s) - 1))


def reference_predicted_gain(c: float) -> float:
    """Sigmoid, zero biases, Var(w) = c / fan_in: the gain is c * E[sigmoid'(z)^2] ~ c / 16 for small z."""
    return c / 16


class _Reversed(nn.Module):
    """Layers registered in the reverse of the order the forward pass uses them."""

    def __init__(self, width: int, depth: int, fan_in: int):
        super().__init__()
        self.out = nn.Linear(width, 3)
        self.hidden = nn.ModuleList([nn.Linear(width, width) for _ in range(depth - 1)][::-1])
        self.first = nn.Linear(fan_in, width)

    def forward(self, x):
        h = torch.tanh(self.first(x))
        for layer in reversed(self.hidden):
            h = torch.tanh(layer(h))
        return self.out(h)


def _square_net(activation: str, c: float, width: int, depth: int, fan_in: int, seed: int,
                dtype=torch.float32, bias: float | None = 0.0) -> nn.Sequential:
    """fan_in -> width (depth hidden layers) -> 3, weights N(0, c / fan_in), biases 0 (or default)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = mlp([fan_in] + [width] * depth + [3], activation).to(dtype)
    with torch.no_grad():
        for m in linear_layers(net):
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen, dtype=dtype)
                           * math.sqrt(c / m.in_features))
            if bias is not None:
                m.bias.fill_(bias)
    return net


def _signal_cases():
    """(model, X, description): the hidden models the measurement is tried on."""
    gen = torch.Generator().manual_seed(61)
    cases = [
        (_square_net("sigmoid", 1 / 3, 64, 8, 10, 1), torch.randn(128, 10, generator=gen),
         "a sigmoid MLP 10 -> 64 (8 hidden layers) -> 3, Var(w) = 1/(3 fan_in), zero biases"),
        (_square_net("tanh", 1.0, 32, 6, 5, 2, dtype=torch.float64),
         torch.randn(64, 5, generator=gen, dtype=torch.float64),
         "a tanh MLP 5 -> 32 (6 hidden layers) -> 3 in float64"),
        (_square_net("relu", 2.0, 48, 5, 7, 3, bias=None), torch.randn(100, 7, generator=gen),
         "a ReLU MLP 7 -> 48 (5 hidden layers) -> 3 with PyTorch's default (non-zero) biases"),
    ]
    with torch.random.fork_rng():
        torch.manual_seed(4)
        rev = _Reversed(40, 5, 6)
    cases.append((rev, torch.randn(90, 6, generator=gen),
                  "a module whose 5 hidden nn.Linear layers are registered in the REVERSE of the order "
                  "its forward pass runs them (model.modules() order is not the forward order)"))
    return cases


SIGNAL_HINT = ("register a forward hook on every nn.Linear that keeps its output z, run "
               "L = model(X).sum(), take torch.autograd.grad(L, zs), compute s_i = (dL/dz_i)^2 .mean() "
               "in the order the hooks FIRED, drop the last layer's, and return "
               "(s_1 / s_{k-1}) ** (1 / (k - 2)).")


def _hook_total(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _check_signal_gain(c: Checker, signal_gain) -> None:
    for model, X, story in _signal_cases():
        desc = f"signal_gain(model, X) for {story}"
        want = reference_signal_gain(model, X)
        calls = []
        first = next(m for m in model.modules() if isinstance(m, nn.Linear))
        mine = first.register_forward_hook(lambda m, i, o: calls.append(1))  # the caller's own hook
        hooks_before = _hook_total(model)
        try:
            state = module_state(model)
            got = c.call(signal_gain, model, X, allow_warnings=True, desc=desc + "; the caller has a forward hook of its own "
                         "on one layer", hint=SIGNAL_HINT, expected=want)
            still_there = len(first._forward_hooks) > 0 and mine.id in first._forward_hooks
            after = module_state(model)
        finally:
            mine.remove()
        c.expect(still_there, "your code removed a forward hook that the caller had installed.", tried=desc,
                 hint="remove only your own hooks, with the handles register_forward_hook returned "
                      "(not module._forward_hooks.clear()).")
        c.expect(_hook_total(model) == hooks_before - 1, "your hooks are still attached to the model.",
                 tried=desc, hint="keep each handle and call handle.remove() (in a `finally:` block).")
        c.expect(same_state(state, after), "your code changed the model.", tried=desc,
                 got=None if same_state(state, after) else state_change(state, after),
                 hint="only measure: no optimiser step, no writes into the weights, no .eval(), .train() "
                      "or dtype changes on the caller's model.")
        leftover = [p for p in model.parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
        if leftover:
            model.zero_grad(set_to_none=True)
        c.expect(not leftover, "your code left gradients on the model's parameters.", tried=desc,
                 hint="use torch.autograd.grad(L, zs), which does not touch .grad, or call "
                      "model.zero_grad() before returning.")
        if isinstance(got, (torch.Tensor, np.ndarray)):
            c.fail("expected a Python float, but your code returned a " + type_name(got) + ".", tried=desc,
                   expected=f"a float close to {want:.6g}", got=describe(got),
                   hint="the statement asks for a float: convert with float(...) or .item()"
                        + (" (your tensor still carries an autograd graph)."
                           if isinstance(got, torch.Tensor) and got.requires_grad else "."))
        value = c.expect_number(got, want, desc=desc, rtol=1e-3, atol=0.0,
                                hint=_signal_hint(got, model, X, want))


def _signal_hint(got, model: nn.Module, X: torch.Tensor, want: float) -> str:
    """Recognise a few measurements that compute something else, by recomputing them."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        return SIGNAL_HINT
    s_all = reference_signal_means(model, X)
    s = s_all[:-1]
    k = len(s)
    if not math.isfinite(value) or value <= 0:
        return SIGNAL_HINT
    if math.isclose(value, 1 / want, rel_tol=1e-3):
        return "that is the inverse: divide the FIRST layer's s by the last hidden layer's."
    if math.isclose(value, math.sqrt(want), rel_tol=1e-3):
        return "use the mean of the SQUARED gradients (a variance-like quantity), not a norm."
    if math.isclose(value, (s_all[0] / s_all[-1]) ** (1 / (len(s_all) - 1)), rel_tol=1e-3):
        return "leave out the last nn.Linear (the output layer, of another width): use the hidden ones."
    outputs: list[torch.Tensor] = []
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    handles = [m.register_forward_hook(lambda m, i, o: outputs.append((m, o))) for m in linears]
    try:
        total = model(X).sum()
    finally:
        for h in handles:
            h.remove()
    order = {id(m): o for m, o in outputs}
    grads = torch.autograd.grad(total, [order[id(m)] for m in linears])
    by_module = [g.double().pow(2).mean().item() for g in grads][:-1]
    if by_module != s and math.isclose(value, (by_module[0] / by_module[-1]) ** (1 / (k - 1)), rel_tol=1e-3):
        return ("you took the layers in the order of model.modules(); use the order in which the "
                "forward pass runs them (the order the hooks fire).")
    return SIGNAL_HINT


def expect_prediction(c: Checker, got, measured: float, *, rtol: float, desc: str, hint: str | None) -> None:
    """A predicted number passes when it lies within ``rtol`` (relative) of the measurement."""
    value = None
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        value = float(got.detach().item())
    elif isinstance(got, (int, float, np.integer, np.floating)) and not isinstance(got, (bool, np.bool_)):
        value = float(got)
    if value is None:
        c.fail(f"expected a number, but your code returned {type_name(got)}.", tried=desc,
               expected=f"{measured:.4g}", got=describe(got))
    close = math.isfinite(value) and abs(value - measured) <= rtol * abs(measured)
    c.expect(close, f"the prediction is more than {rtol:.0%} away from the measurement.", tried=desc,
             expected=f"{measured:.4g} (measured; within {rtol:.0%} passes)", got=f"{value:.4g}", hint=hint)


#: Sigmoid nets for the prediction: (c, seed); width 256, 16 hidden layers, zero biases.
PREDICTION_CS = [(0.25, 11), (1 / 3, 12), (0.5, 13)]


def measured_sigmoid_gain(c: float, seed: int) -> float:
    net = _square_net("sigmoid", c, 256, 16, 32, seed)
    X = torch.randn(512, 32, generator=torch.Generator().manual_seed(seed + 100))
    return reference_signal_gain(net, X)


@exercise("1.6", "Predict, then measure: how fast does the backward signal shrink?")
def check_signal_gain(c: Checker, signal_gain, predicted_gain) -> None:
    c.require_callable(signal_gain, "signal_gain")
    c.require_callable(predicted_gain, "predicted_gain")
    _check_signal_gain(c, signal_gain)
    for value, seed in PREDICTION_CS:
        shown = "1/3" if math.isclose(value, 1 / 3) else repr(value)
        measured = measured_sigmoid_gain(value, seed)
        desc = (f"predicted_gain({shown}) against the gain measured on a sigmoid MLP 32 -> 256 "
                f"(16 hidden layers) -> 3 with Var(w) = {shown} / fan_in, zero biases: {measured:.4g}")
        got = c.call(predicted_gain, value, allow_warnings=True, desc=desc)
        hint = ("the mean square of the signal is multiplied, per layer, by fan_in * Var(w) * "
                "E[sigmoid'(z)^2]; for small z, sigmoid'(z) is close to its maximum.")
        try:
            g = float(got)
            if math.isclose(g, value / 4, rel_tol=1e-6) or math.isclose(g, 0.25, rel_tol=1e-6):
                hint = ("1/4 bounds sigmoid' itself; the MEAN SQUARE of the signal is multiplied by "
                        "sigmoid'(z)^2, i.e. by about 1/16, per layer (times fan_in * Var(w)).")
        except (TypeError, ValueError):
            pass
        expect_prediction(c, got, measured, rtol=0.12, desc=desc, hint=hint)


# --------------------------------------------------------------------------------------------
# 1.7: design: make the 12-layer sigmoid net train
# --------------------------------------------------------------------------------------------

SIGMOID_SIZES = [64] + [32] * 12 + [10]
DESIGN_SEEDS = (0, 1)
DESIGN_EPOCHS = 10
DESIGN_TARGET = 0.8


def train_design(model: nn.Sequential, lr: float, seed: int, epochs: int = DESIGN_EPOCHS) -> tuple[float, bool]:
    """SGD with momentum 0.9, batch 64, on the digits' training split; (test accuracy, diverged)."""
    from relucourse.data import digits

    X, y, X_test, y_test = digits()
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters())
    velocity = [torch.zeros_like(p) for p in params]
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(len(X), generator=gen)
            for start in range(0, len(X), 64):
                idx = order[start:start + 64]
                loss = F.cross_entropy(model(X[idx]), y[idx])
                if not torch.isfinite(loss):
                    return 0.0, True
                grads = torch.autograd.grad(loss, params)
                with torch.no_grad():
                    for p, v, g in zip(params, velocity, grads):
                        v.mul_(0.9).add_(g)
                        p.sub_(lr * v)
    with torch.no_grad():
        return (model(X_test).argmax(1) == y_test).float().mean().item(), False


def _structure_problem(net) -> str | None:
    if not isinstance(net, nn.Sequential):
        return f"make_net() returned {type_name(net)}, not an nn.Sequential."
    mods = list(net)
    want = 2 * (len(SIGMOID_SIZES) - 1) - 1
    if len(mods) != want:
        return f"the net has {len(mods)} modules; expected {want}: 13 nn.Linear with nn.Sigmoid between."
    for i, m in enumerate(mods):
        if i % 2 == 0:
            k = i // 2
            if type(m) is not nn.Linear or (m.in_features, m.out_features) != tuple(SIGMOID_SIZES[k:k + 2]):
                return (f"module {i} should be nn.Linear({SIGMOID_SIZES[k]}, {SIGMOID_SIZES[k + 1]}), "
                        f"got {_short_repr(m)}.")
            if m.bias is None or m.weight.dtype != torch.float32:
                return f"module {i} must be a float32 nn.Linear with a bias."
        elif type(m) is not nn.Sigmoid:
            return f"module {i} should be nn.Sigmoid(), got {_short_repr(m)}."
    if _hook_total(net) or any(len(m._backward_hooks) for m in net.modules()):
        return "the net carries hooks; return plain layers."
    return None


def _short_repr(m) -> str:
    return " ".join(repr(m).split())[:60]


@exercise("1.7", "Design: make a 12-layer sigmoid network train", time_limit_s=10.0)
def check_sigmoid_design(c: Checker, design) -> None:
    c.require_callable(design, "design")
    nets, rates = [], []
    for seed in DESIGN_SEEDS:
        tried = f"torch.manual_seed({seed}); net, lr = design()"
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            result = c.call(design, allow_warnings=True, desc=tried)
        c.expect(isinstance(result, (tuple, list)) and len(result) == 2, "expected a pair (net, lr).",
                 tried=tried, got=f"{type_name(result)} {describe(result)}", hint="end with `return net, lr`.")
        net, lr = result
        problem = _structure_problem(net)
        c.expect(problem is None, "the network does not have the required architecture.", tried=tried,
                 got=problem, hint="keep the architecture of mlp([64] + [32] * 12 + [10], 'sigmoid'); "
                                   "change only the values of the weights and biases (and choose lr).")
        c.expect(isinstance(lr, (int, float, np.integer, np.floating)) and not isinstance(lr, bool)
                 and math.isfinite(float(lr)) and 0 < float(lr) <= 10,
                 "lr must be a positive number (at most 10).", tried=tried, got=describe(lr),
                 hint="return the learning rate you chose as a float, e.g. 0.05.")
        nets.append(net)
        rates.append(float(lr))
    c.expect(rates[0] == rates[1], "design() returned different learning rates on two calls.",
             tried="two calls of design()", got=f"{rates[0]!r} and {rates[1]!r}", hint="fix lr in your design.")
    same = all(torch.equal(a, b) for a, b in zip(nets[0].parameters(), nets[1].parameters()))
    c.expect(not same, "design() returned identical weights under two different random states.",
             tried="torch.manual_seed(0); design() and torch.manual_seed(1); design()",
             hint="draw the weights from the global random generator as it is: do not call "
                  "torch.manual_seed inside design().")
    with torch.random.fork_rng():
        torch.manual_seed(DESIGN_SEEDS[0])
        again = c.call(design, allow_warnings=True, desc=f"torch.manual_seed({DESIGN_SEEDS[0]}); net, lr = design()  # again")
    again_net = again[0] if isinstance(again, (tuple, list)) and len(again) == 2 else None
    c.expect(isinstance(again_net, nn.Module) and _structure_problem(again_net) is None
             and all(torch.equal(a, b) for a, b in zip(nets[0].parameters(), again_net.parameters())),
             "design() returned other weights under the same random state.",
             tried=f"torch.manual_seed({DESIGN_SEEDS[0]}); design() twice",
             hint="draw every random number from PyTorch's global generator (torch.randn, nn.init..., "
                  "layer.weight.normal_()), not from NumPy, `random` or a generator of your own.")
    lr = rates[0]
    for seed, net in zip(DESIGN_SEEDS, nets):
        desc = (f"torch.manual_seed({seed}); net, lr = design(); {DESIGN_EPOCHS} epochs of SGD (lr={lr:g}, "
                f"momentum 0.9, batch 64) on the digits' training split")
        X = torch.randn(256, 64, generator=torch.Generator().manual_seed(seed))
        gain_at_init = reference_signal_gain(net, X)
        acc, diverged = train_design(net, lr, seed)
        if diverged:
            c.fail("training diverged (the loss became NaN or infinite).", tried=desc,
                   hint="the learning rate is too high for this initialisation: lower it.")
        if acc < DESIGN_TARGET:
            if gain_at_init < 0.3:
                hint = (f"at initialisation the backward signal's mean square shrinks by a factor "
                        f"{gain_at_init:.3g} per layer (measured as in exercise 1.6): "
                        "it vanishes before it reaches the first layers. Choose Var(w) so that the gain is "
                        "close to 1.")
            else:
                hint = (f"the measured per-layer gain at initialisation is {gain_at_init:.3g}, so the "
                        "signal reaches the first layers; look at the learning rate, and at where the "
                        "sigmoid's inputs z sit (sigmoid outputs are positive, with mean about 0.5).")
            c.fail("the network did not reach the target test accuracy.", tried=desc,
                   expected=f"test accuracy >= {DESIGN_TARGET}", got=f"{acc:.3f}", hint=hint)
        c.ok()
