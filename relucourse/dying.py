"""Chapter 4's experiments on dying ReLUs: nets born dead, killed by training, and their remedies.

* :func:`born_dead_curves` draws many random deep, narrow, 1-D-input networks at once and measures,
  for every depth, how many are dead (some hidden layer is 0 for every input) and how many are
  nearly constant; :func:`born_dead_bound` is the formula derived in the chapter.
* :func:`digits_mlp`, :func:`run_digits` and :func:`silent_fractions` train small MLPs on the
  digits under one "arm" of an experiment (learning rate, optimizer, batch norm, leaky slope, a
  bad first-layer bias) and count the units that never fire.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .deadunits import dead_fractions
from .train import accuracy, train

__all__ = ["born_dead_bound", "born_dead_curves", "digits_mlp", "silent_fractions", "run_digits", "spread",
           "monitor_agrees"]


def born_dead_bound(width: int, depth: int) -> float:
    """1 - (1 - 2^-width)^depth: the probability that a bias-free He/symmetric ReLU net with 1-D
    input, ``depth`` hidden layers of ``width`` units, is dead on the half-line x > 0.

    It is also an upper bound on the probability that the net is dead on every input.
    """
    if depth <= 0:
        return 0.0
    return -math.expm1(depth * math.log1p(-(2.0 ** -width)))


def _draw(n: int, fan_in: int, fan_out: int, init: str, gen: torch.Generator):
    if init == "he":
        w = torch.randn(n, fan_in, fan_out, generator=gen) * math.sqrt(2.0 / fan_in)
        return w, torch.zeros(n, 1, fan_out)
    if init == "rai":
        # Randomized asymmetric initialisation (Lu et al. 2020): per unit, one entry of (w, b),
        # chosen at random, is drawn from Beta(2, 1) (positive); the rest from N(0, 0.6007^2 / fan_in).
        v = torch.randn(n, fan_in + 1, fan_out, generator=gen) * (0.6007 / math.sqrt(fan_in))
        k = torch.randint(0, fan_in + 1, (n, 1, fan_out), generator=gen)
        beta = torch.rand(n, 1, fan_out, generator=gen).sqrt()  # Beta(2, 1) = sqrt(Uniform(0, 1))
        v.scatter_(1, k, beta)
        return v[:, :-1], v[:, -1:]
    raise ValueError(f"unknown init {init!r}: use 'he' or 'rai'")


@torch.no_grad()
def born_dead_curves(width: int, max_depth: int, *, n_nets: int = 1000, init: str = "he",
                     points: int = 41, seed: int = 0, flat_tol: float = 0.01) -> dict[str, np.ndarray]:
    """Draw ``n_nets`` random nets (1-D input on ``points`` points of [-1, 1]) and grow them layer
    by layer to ``max_depth`` hidden layers of ``width`` units. For depth 1..max_depth returns:

    * ``dead_half``: some hidden layer is 0 at every input x > 0;
    * ``dead``: some hidden layer is 0 at every input of [-1, 1], so the output is constant;
    * ``flat``: the output (a fresh random linear read-out of the last hidden layer) varies by less
      than ``flat_tol`` of its mean absolute value (std over inputs / mean |y|): nearly constant.

    The nets of depth L are the first L layers of the same draws, so the curves are cumulative.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.linspace(-1.0, 1.0, points)
    h = x.view(1, points, 1).expand(n_nets, points, 1)
    dead = torch.zeros(n_nets, dtype=torch.bool)
    dead_half = torch.zeros(n_nets, dtype=torch.bool)
    out = {k: [] for k in ("dead_half", "dead", "flat")}
    fan_in = 1
    for _ in range(max_depth):
        w, b = _draw(n_nets, fan_in, width, init, gen)
        h = torch.relu(h @ w + b)
        zero = (h == 0).all(-1)                       # (nets, points): the layer is silent there
        dead |= zero.all(1)
        dead_half |= zero[:, x > 0].all(1)
        fan_in = width
        w_out, b_out = _draw(n_nets, width, 1, init, gen)
        y = (h @ w_out + b_out)[..., 0]
        flat = y.std(1) <= flat_tol * y.abs().mean(1)
        for key, value in (("dead_half", dead_half), ("dead", dead), ("flat", flat)):
            out[key].append(value.double().mean().item())
    result = {k: np.array(v) for k, v in out.items()}
    result["depth"] = np.arange(1, max_depth + 1)
    return result


def digits_mlp(hidden: Sequence[int] = (32, 32), *, activation: str = "relu", batch_norm: bool = False,
               negative_slope: float = 0.01, first_bias: float | None = None, n_in: int = 64,
               n_out: int = 10) -> nn.Sequential:
    """A He-initialised MLP: Linear [-> BatchNorm1d] -> ReLU (or LeakyReLU) per hidden layer.

    ``first_bias`` sets every bias of the first layer to that value (a bad initialisation).
    Seed the global generator (``torch.manual_seed``) before calling for reproducible weights.
    """
    layers: list[nn.Module] = []
    sizes = [n_in, *hidden]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(nn.ReLU() if activation == "relu" else nn.LeakyReLU(negative_slope))
    head = nn.Linear(sizes[-1], n_out)
    nn.init.kaiming_normal_(head.weight, nonlinearity="relu")
    nn.init.zeros_(head.bias)
    layers.append(head)
    if first_bias is not None:
        with torch.no_grad():
            layers[0].bias.fill_(first_bias)
    return nn.Sequential(*layers)


@torch.no_grad()
def silent_fractions(model: nn.Module, X: torch.Tensor) -> list[float]:
    """Per ReLU or LeakyReLU module: the fraction of units whose output is > 0 for no input of X.

    That is "pre-activation <= 0 on every input", the definition of a dead unit, which also makes
    sense for leaky units (they still pass a small gradient). Runs in eval mode, restores the mode.
    """
    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    fired: dict[int, torch.Tensor] = {}

    def hook_for(i):
        def hook(module, inputs, output):
            fired[i] = (output > 0).reshape(len(output), output.shape[1], -1).any(2).any(0)
        return hook

    handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(acts)]
    was_training = model.training
    try:
        model.eval()
        model(X)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return [1.0 - fired[i].float().mean().item() for i in range(len(acts))]


def run_digits(data, *, seed: int, lr: float, optimizer: str = "sgd", epochs: int = 5, batch_size: int = 64,
               hidden: Sequence[int] = (32, 32), activation: str = "relu", batch_norm: bool = False,
               negative_slope: float = 0.01, first_bias: float | None = None, dead_first: int = 0) -> dict:
    """Build :func:`digits_mlp` with seed ``seed``, train it, and measure it.

    ``dead_first=n`` kills the first ``n`` units of the first layer by construction (weights 0,
    bias -1: their pre-activation is -1 for every input, so they stay dead for good).

    ``data`` is ``(X_train, y_train, X_test, y_test)``. Returns the test accuracy and, per hidden
    layer, the fraction of units silent on the training inputs at initialisation and after training
    (``dead_init``, ``dead``), plus whether the loss stayed finite.
    """
    X, y, X_test, y_test = data
    torch.manual_seed(seed)
    model = digits_mlp(hidden, activation=activation, batch_norm=batch_norm,
                       negative_slope=negative_slope, first_bias=first_bias)
    if dead_first:
        with torch.no_grad():
            model[0].weight[:dead_first] = 0.0
            model[0].bias[:dead_first] = -1.0
    dead_init = silent_fractions(model, X)
    history = train(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, seed=seed)
    finite = math.isfinite(history["loss"][-1])
    nan = float("nan")
    dead = silent_fractions(model, X) if finite else [nan] * len(dead_init)
    return {"seed": seed, "lr": lr, "test_acc": accuracy(model, X_test, y_test) if finite else nan,
            "dead_init": dead_init, "dead": dead, "finite": finite, "model": model}


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``mean (min-max)`` of the finite values, plus how many were not finite: "0.95 (0.93-0.96)"."""
    vals = [v for v in values if math.isfinite(v)]
    bad = len(values) - len(vals)
    if not vals:
        return f"diverged {bad}/{len(values)}"
    text = f"{fmt.format(sum(vals) / len(vals))} ({fmt.format(min(vals))}-{fmt.format(max(vals))})"
    return text + (f" +{bad} div." if bad else "")


def monitor_agrees(model: nn.Module, X: torch.Tensor) -> bool:
    """True if :func:`silent_fractions` and the monitor :func:`~relucourse.deadunits.dead_fractions`
    agree on a ReLU model (a consistency check used in the chapter)."""
    return list(dead_fractions(model, X).values()) == silent_fractions(model, X)
