"""A tiny, deterministic training toolkit: build an MLP, train it, measure gradients."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "selu": nn.SELU, "gelu": nn.GELU,
    "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softplus": nn.Softplus,
    "identity": nn.Identity,
}


def init_linear_(model: nn.Module, scheme: str = "default") -> nn.Module:
    """Re-initialise every nn.Linear: "default" (PyTorch's), "xavier" (Glorot) or "he" (Kaiming), biases 0.

    Xavier and He use normal distributions: Var(w) = 2 / (fan_in + fan_out) and Var(w) = 2 / fan_in.
    """
    if scheme == "default":
        return model
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if scheme == "xavier":
                nn.init.xavier_normal_(m.weight)
            elif scheme == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                raise ValueError(f"unknown init scheme {scheme!r}: use 'default', 'xavier' or 'he'")
            nn.init.zeros_(m.bias)
    return model


def mlp(sizes: list[int], activation: str = "relu", init: str = "default") -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last).

    ``mlp([64, 32, 32, 10], "tanh", init="xavier")`` has two hidden layers of width 32.
    """
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return init_linear_(nn.Sequential(*layers), init)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def grad_norms(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[float]:
    """L2 norm of the cross-entropy loss gradient w.r.t. each nn.Linear's weight, first layer first."""
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(X), y).backward()
    norms = [m.weight.grad.norm().item() for m in linear_layers(model)]
    model.zero_grad(set_to_none=True)
    return norms


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    return (model(X).argmax(1) == y).float().mean().item()


def train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int = 20, lr: float = 0.1,
          batch_size: int | None = 64, optimizer: str = "sgd", momentum: float = 0.9, seed: int = 0,
          X_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None,
          penalty: Callable[[], torch.Tensor] | None = None,
          stop_at: float | None = None,
          callback: Callable[[int, nn.Module], None] | None = None) -> dict[str, list[float]]:
    """Train with cross-entropy; return the history: loss, train_acc (and val_acc) after each epoch.

    ``batch_size=None`` means full-batch gradient descent. Shuffling uses its own seeded generator,
    so a run is reproducible for a given model initialisation and ``seed``.

    ``penalty()``, if given, is called after each forward pass and added to the batch's loss (e.g.
    an L1 term on activations captured by forward hooks). Training stops early after the epoch
    whose training accuracy reaches ``stop_at``, and after an epoch whose loss is not finite (a
    diverged run cannot recover). ``callback(epoch, model)``, if given, runs after each epoch's
    evaluation (epochs counted from 1), e.g. to record a statistic of the model during training.
    """
    gen = torch.Generator().manual_seed(seed)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}: use 'sgd' or 'adam'")
    n = len(X)
    size = n if batch_size is None else batch_size
    history: dict[str, list[float]] = {"loss": [], "train_acc": []}
    if X_val is not None:
        history["val_acc"] = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, size):
            idx = order[start:start + size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            if penalty is not None:
                loss = loss + penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        history["loss"].append(total / n)
        history["train_acc"].append(accuracy(model, X, y))
        if X_val is not None:
            history["val_acc"].append(accuracy(model, X_val, y_val))
        if callback is not None:
            callback(len(history["loss"]), model)
        if not math.isfinite(history["loss"][-1]):
            break
        if stop_at is not None and history["train_acc"][-1] >= stop_at:
            break
    return history
