"""Depth and residual connections (chapter 6): plain and residual MLPs, and a depth sweep.

A **residual block** computes ``x + F(x)`` where the branch ``F`` is Linear -> activation ->
Linear. Stacking blocks gives a network whose signal always has a path that skips the weights.
Under He initialisation each branch roughly preserves the size of its input, so the sum doubles
the variance at every block and the forward signal grows like 2^depth; a zero-initialised (or
down-scaled) last layer in each branch makes every block the identity at initialisation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .train import ACTIVATIONS, init_linear_, mlp, train


class ResidualBlock(nn.Module):
    """``x + fc2(act(fc1(x)))``; ``last_scale`` multiplies fc2's initial weights (0: zero-init)."""

    def __init__(self, width: int, activation: str = "relu", init: str = "he", last_scale: float = 0.0):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.act = ACTIVATIONS[activation]()
        init_linear_(self, init)
        with torch.no_grad():
            self.fc2.weight.mul_(last_scale)
            if init != "default" or last_scale == 0:
                self.fc2.bias.mul_(last_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(x)))


def residual_mlp(n_in: int, width: int, blocks: int, n_out: int, activation: str = "relu",
                 init: str = "he", last_scale: float = 0.0) -> nn.Sequential:
    """Input layer, ``blocks`` residual blocks (2 linear layers each), output layer.

    The input and output layers use ``init`` too; ``last_scale`` applies to each block's fc2.
    """
    first, last = nn.Linear(n_in, width), nn.Linear(width, n_out)
    init_linear_(first, init)
    init_linear_(last, init)
    layers = [first, ACTIVATIONS[activation]()]
    layers += [ResidualBlock(width, activation, init, last_scale) for _ in range(blocks)]
    layers.append(last)
    return nn.Sequential(*layers)


def build(arm: str, depth: int, width: int = 32, n_in: int = 64, n_out: int = 10) -> nn.Sequential:
    """A network for the depth sweep with ``depth`` hidden linear layers of ``width``.

    ``arm``: ``"sigmoid"`` and ``"tanh"`` (plain, Xavier init), ``"relu"`` (plain, He init),
    ``"residual"`` (ReLU blocks, He init, zero-initialised last layer per branch) or
    ``"residual-he"`` (the same without the zero init). Residual nets use ``depth // 2`` blocks
    of two layers each, so they hold the same number of hidden layers.
    """
    if arm in ("sigmoid", "tanh"):
        return mlp([n_in] + [width] * depth + [n_out], arm, init="xavier")
    if arm == "relu":
        return mlp([n_in] + [width] * depth + [n_out], "relu", init="he")
    if arm in ("residual", "residual-he"):
        return residual_mlp(n_in, width, max(depth // 2, 1), n_out, "relu", "he",
                            last_scale=0.0 if arm == "residual" else 1.0)
    raise ValueError(f"unknown arm {arm!r}")


def output_scale(model: nn.Module, X: torch.Tensor) -> float:
    """Root mean square of the network's output on ``X`` at its current weights."""
    with torch.no_grad():
        out = model(X)
    return out.double().pow(2).mean().sqrt().item()


def depth_run(arm: str, depth: int, X, y, X_test, y_test, *, lr: float, epochs: int = 10,
              width: int = 32, seed: int = 0, batch_size: int = 128) -> float:
    """Train one network of the sweep with SGD + momentum; return its test accuracy.

    A run that diverges (non-finite loss) scores 0.
    """
    torch.manual_seed(seed)
    model = build(arm, depth, width, X.shape[1], int(y.max()) + 1)
    history = train(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                    X_val=X_test, y_val=y_test)
    if not math.isfinite(history["loss"][-1]):
        return 0.0
    return history["val_acc"][-1]


__all__ = ["ResidualBlock", "residual_mlp", "build", "output_scale", "depth_run"]
