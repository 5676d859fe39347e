"""Measurements on networks and training runs: sparsity, speed of learning, init statistics.

Used by chapter 3 (ReLU's advantages, measured) and by its graded checks.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from .train import accuracy, mlp, train


def forward_pass_with_hooks(model: nn.Module, X: torch.Tensor, modules, hook_for) -> None:
    """Run ``model(X)`` without gradients with ``hook_for(i, module)`` as a forward hook on each
    of ``modules``; the hooks are removed again afterwards, even if the forward pass fails."""
    handles = [m.register_forward_hook(hook_for(i, m)) for i, m in enumerate(modules)]
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in handles:
            h.remove()


def zero_fractions(model: nn.Module, X: torch.Tensor, kinds: tuple[type, ...] = (nn.ReLU,)) -> list[float]:
    """Fraction of exactly-zero outputs of every ``kinds`` module of ``model`` on input ``X``.

    One number per module, in the order of ``model.modules()``. The outputs are captured with
    forward hooks, which are removed again before returning, even if the forward pass fails.
    """
    fractions: dict[int, float] = {}
    modules = [m for m in model.modules() if isinstance(m, kinds)]

    def hook_for(i, module):
        def hook(module, inputs, output):
            fractions[i] = (output == 0).float().mean().item()
        return hook

    forward_pass_with_hooks(model, X, modules, hook_for)
    return [fractions[i] for i in range(len(modules))]


def saturated_fraction(model: nn.Module, X: torch.Tensor, threshold: float = 0.99) -> float:
    """Fraction of tanh outputs of ``model`` on ``X`` with ``|h| > threshold``, all nn.Tanh together.

    Such a unit passes back at most ``1 - threshold**2`` of its gradient (0.02 for 0.99): it is
    saturated. Hooks are removed again before returning.
    """
    counts = [0, 0]

    def hook(module, inputs, output):
        counts[0] += int((output.abs() > threshold).sum())
        counts[1] += output.numel()

    tanhs = [m for m in model.modules() if isinstance(m, nn.Tanh)]
    forward_pass_with_hooks(model, X, tanhs, lambda i, m: hook)
    return counts[0] / counts[1] if counts[1] else float("nan")


def epochs_to_target(history: Sequence[float], target: float) -> int | None:
    """The first epoch (counted from 1) whose value is at least ``target``; None if none is."""
    for epoch, value in enumerate(history, start=1):
        if value >= target:
            return epoch
    return None


def weight_variance_ratio(layer: nn.Linear) -> float:
    """Sample variance of ``layer.weight`` times fan_in: 2 for He init, 1/3 for nn.Linear's default."""
    return layer.weight.detach().double().var().item() * layer.in_features


def epochs_to_accuracy(activation: str, lr: float, X: torch.Tensor, y: torch.Tensor, *, target: float = 0.95,
                       sizes: Sequence[int] = (2, 64, 64, 64, 64, 2), max_epochs: int = 300, seed: int = 0,
                       momentum: float = 0.9, batch_size: int | None = 40,
                       init: str = "default",
                       callback: Callable[[int, nn.Module], None] | None = None) -> int | None:
    """SGD on (X, y) until the training accuracy reaches ``target``: the epoch it did, or None.

    The accuracy is measured after each epoch, so the answer is :func:`epochs_to_target` of the
    training-accuracy history; training stops once the target is reached. A run whose loss
    becomes NaN or infinite (learning rate too high) counts as never reaching it.
    ``batch_size=None`` means one full-batch step per epoch. ``callback`` is passed to
    :func:`relucourse.train.train` (called with the epoch and the model after each epoch).
    """
    torch.manual_seed(seed)
    model = mlp(list(sizes), activation, init=init)
    history = train(model, X, y, epochs=max_epochs, lr=lr, batch_size=batch_size, momentum=momentum,
                    seed=seed, stop_at=target, callback=callback)
    if not math.isfinite(history["loss"][-1]):
        return None
    return epochs_to_target(history["train_acc"], target)


def train_sparse(X: torch.Tensor, y: torch.Tensor, X_test: torch.Tensor, y_test: torch.Tensor, *,
                 l1: float = 0.0, hidden: Sequence[int] = (256, 256), epochs: int = 30, lr: float = 0.05,
                 batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """Train a He-initialised ReLU MLP with an L1 penalty ``l1 * mean |h|`` on its hidden activations.

    Returns the final train and test accuracy, their gap, and the fraction of exactly-zero hidden
    activations on the test inputs (all hidden layers together).
    """
    torch.manual_seed(seed)
    model = mlp([X.shape[1], *hidden, int(y.max()) + 1], "relu", init="he")
    captured: list[torch.Tensor] = []

    def capture(module, inputs, output):
        if module.training:  # only the training forward passes, not the accuracy evaluations
            captured.append(output)

    def l1_penalty() -> torch.Tensor:
        value = l1 * sum(h.abs().mean() for h in captured)
        captured.clear()
        return value

    handles = [m.register_forward_hook(capture) for m in model if isinstance(m, nn.ReLU)]
    try:
        train(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
              penalty=l1_penalty if l1 else None)
    finally:
        for h in handles:
            h.remove()
    model.eval()
    train_acc, test_acc = accuracy(model, X, y), accuracy(model, X_test, y_test)
    zeros = zero_fractions(model, X_test)
    return {"l1": l1, "seed": seed, "train_acc": train_acc, "test_acc": test_acc,
            "gap": train_acc - test_acc, "sparsity": sum(zeros) / len(zeros)}


__all__ = ["zero_fractions", "saturated_fraction", "epochs_to_target", "weight_variance_ratio", "epochs_to_accuracy",
           "train_sparse"]
