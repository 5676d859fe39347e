"""Gradient flow through a deep MLP: the backward signal per layer, and the gain that predicts it.

For pre-activations ``z_l = W_l h_{l-1} + b_l`` and ``h_l = phi(z_l)`` the backward pass computes

    dL/dz_l = phi'(z_l) * (W_{l+1}^T dL/dz_{l+1})          (elementwise product)

so, for weights drawn independently with zero mean, each layer multiplies the *squared* norm of
the backward signal by about

    gain = fan_in * Var(w) * E[phi'(z)^2]

(fan_in of the layer above, i.e. the width of layer l). For ReLU, E[phi'(z)^2] = 1/2 (half the
units are active), so He init (Var(w) = 2/fan_in) gives 1, Xavier on square layers
(Var(w) = 1/fan_in) gives 1/2 and PyTorch's nn.Linear default (Var(w) = 1/(3 fan_in)) gives 1/6.

The weight gradient dL/dW_l = dL/dz_l h_{l-1}^T mixes this backward signal with the forward
activation h_{l-1}; their shrinkages can cancel, so a flat curve of ||dL/dW_l|| does not show that
the backward signal survives. :func:`backward_signal` measures both, and the forward activations.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from .train import linear_layers

#: Per-layer gain of the squared backward signal for ReLU on square layers, by init scheme.
RELU_GAINS = {"he": 1.0, "xavier": 0.5, "default": 1 / 6}


def backward_signal(model: nn.Sequential, X: torch.Tensor, y: torch.Tensor) -> dict[str, list[float]]:
    """One forward and backward pass of the cross-entropy loss; per nn.Linear, first layer first:

    * ``dz``: the norm of dL/dz_l, the loss gradient w.r.t. that layer's output (pre-activation);
    * ``dW``: the norm of dL/dW_l, the gradient w.r.t. its weight matrix;
    * ``h``: the norm of its input h_{l-1} (the forward activation it multiplies);
    * ``phi2``: the mean of phi'(z_l)^2 over the batch and the units of the activation that
      follows the layer (NaN for the last layer, which has none), measured with autograd.

    Norms are Frobenius norms over the whole batch. Hooks and gradients are removed again.
    """
    layers = linear_layers(model)
    inputs: dict[int, torch.Tensor] = {}
    outputs: dict[int, torch.Tensor] = {}

    def hook_for(i):
        def hook(module, args, output):
            inputs[i] = args[0].detach()
            output.retain_grad()
            outputs[i] = output
        return hook

    handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(layers)]
    try:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(X), y).backward()
    finally:
        for h in handles:
            h.remove()
    result: dict[str, list[float]] = {
        "dz": [outputs[i].grad.norm().item() for i in range(len(layers))],
        "dW": [m.weight.grad.norm().item() for m in layers],
        "h": [inputs[i].norm().item() for i in range(len(layers))],
        "phi2": [],
    }
    model.zero_grad(set_to_none=True)
    modules = list(model)
    for i, layer in enumerate(layers):
        position = next(k for k, m in enumerate(modules) if m is layer)
        act = modules[position + 1] if position + 1 < len(modules) else None
        if act is None or isinstance(act, nn.Linear):
            result["phi2"].append(float("nan"))
            continue
        z = outputs[i].detach().clone().requires_grad_(True)
        (d,) = torch.autograd.grad(act(z).sum(), z)
        result["phi2"].append((d ** 2).mean().item())
    return result


def predicted_gain(fan_in: int, weight_var: float, phi_prime_sq: float) -> float:
    """fan_in * Var(w) * E[phi'(z)^2]: the factor by which one layer scales ||dL/dz||^2."""
    return fan_in * weight_var * phi_prime_sq


def fitted_gain(norms: Sequence[float], layers: slice = slice(None)) -> float:
    """The per-layer factor of the squared norm, from a least-squares line through log(norm^2).

    ``norms`` are given first layer first; the gain is the factor from one layer to the one below
    it (towards the input), so a signal that shrinks towards the input has a gain below 1.
    ``layers`` picks which entries the line is fitted to (e.g. ``slice(0, -1)``: hidden layers).
    """
    ys = [2 * math.log(v) for v in list(norms)[layers]]
    if len(ys) < 2:
        raise ValueError("need at least two layers to fit a slope")
    xs = list(range(len(ys)))
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)
    return math.exp(-slope)


def zero_biases_(model: nn.Module) -> nn.Module:
    """Set every nn.Linear bias to 0 in place (keeping the weights); returns the model."""
    with torch.no_grad():
        for m in linear_layers(model):
            if m.bias is not None:
                m.bias.zero_()
    return model


def mean_cosine(H: torch.Tensor) -> float:
    """Mean cosine similarity over all pairs of different rows of ``H`` (one row per input).

    Near 1: the layer maps all inputs to nearly one direction (correlation collapse); rows of zeros
    (an input no unit responds to) count as cosine 0 with every other row.
    """
    H = H.detach().double().flatten(1)
    n = H.shape[0]
    if n < 2:
        raise ValueError("need at least two inputs to compare")
    U = H / H.norm(dim=1, keepdim=True).clamp_min(1e-300)
    C = U @ U.T
    return ((C.sum() - C.diagonal().sum()) / (n * (n - 1))).item()


def last_hidden_cosine(model: nn.Sequential, X: torch.Tensor) -> float:
    """:func:`mean_cosine` of the last hidden layer's outputs (the input of the last nn.Linear) on ``X``."""
    last = linear_layers(model)[-1]
    seen: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    try:
        with torch.no_grad():
            model(X)
    finally:
        handle.remove()
    return mean_cosine(seen[0])


def cosine_by_depth(activation: str, init: str, X: torch.Tensor, depths: Sequence[int], width: int = 64,
                    seeds: Sequence[int] = (0, 1, 2), zero_bias: bool = True) -> list[list[float]]:
    """:func:`last_hidden_cosine` at initialisation, in float64, for MLPs of each depth (hidden layers
    of ``width``) and seed: one list per depth, one value per seed. Biases 0 unless ``zero_bias=False``."""
    from .train import mlp

    out = []
    for depth in depths:
        row = []
        for seed in seeds:
            torch.manual_seed(seed)
            model = mlp([X.shape[1]] + [width] * depth + [10], activation, init=init).double()
            if zero_bias:
                zero_biases_(model)
            row.append(last_hidden_cosine(model, X.double()))
        out.append(row)
    return out


__all__ = ["RELU_GAINS", "backward_signal", "predicted_gain", "fitted_gain", "zero_biases_", "mean_cosine",
           "last_hidden_cosine", "cosine_by_depth"]
