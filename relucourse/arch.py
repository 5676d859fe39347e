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


def tune_lr(arm: str, depth: int, X, y, X_test, y_test, *, lrs=(0.01, 0.03, 0.1, 0.3), epochs: int = 6,
            seed: int = 100) -> tuple[float, dict[float, float]]:
    """The learning rate of ``lrs`` with the best test accuracy on ``seed`` (keep it apart from the
    reported seeds), and every score."""
    scores = {lr: depth_run(arm, depth, X, y, X_test, y_test, lr=lr, epochs=epochs, seed=seed) for lr in lrs}
    return max(scores, key=scores.get), scores


#: The chapter's stored depth study (:func:`depth_study`); ``python -m relucourse.arch`` re-runs it.
DEPTH_STUDY = {"lr": {"sigmoid": 1.0, "tanh": 0.03, "relu": 0.01, "residual": 0.03},
               "depths": [2, 8, 24], "seeds": [0, 1, 2, 3, 4], "epochs": 6, "width": 32,
               "skip": {"sigmoid": [24]}}


def depth_study(settings: dict | None = None, progress=print) -> dict:
    """Test accuracy of every arm at every depth and seed (``skip``: depths not run for an arm)."""
    from .data import digits

    s = dict(DEPTH_STUDY, **(settings or {}))
    data = digits()
    say = progress or (lambda line: None)
    runs = []
    for arm, lr in s["lr"].items():
        for depth in s["depths"]:
            if depth in s["skip"].get(arm, []):
                continue
            for seed in s["seeds"]:
                acc = depth_run(arm, depth, *data, lr=lr, epochs=s["epochs"], width=s["width"], seed=seed)
                runs.append({"arm": arm, "depth": depth, "seed": seed, "test_acc": acc})
                say(f"{arm} depth {depth} seed {seed}: {acc:.3f}")
    return {"settings": s, "torch": torch.__version__, "runs": runs}


def autoencoder(output: nn.Module | None = None, n_in: int = 64) -> nn.Sequential:
    """A small autoencoder for 8x8 digits: encoder 64-32-8 and decoder 8-32 with ReLUs, then
    ``output`` (default: a linear layer 32 -> 64). The bottleneck is the ReLU at index 3."""
    body = [nn.Linear(n_in, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 32), nn.ReLU()]
    return nn.Sequential(*body, output if output is not None else nn.Linear(32, n_in))


def train_autoencoder(output: nn.Module | None, X: torch.Tensor, *, epochs: int = 25, seed: int = 0,
                      lr: float = 3e-3, batch_size: int = 100) -> tuple[float, nn.Sequential]:
    """Train :func:`autoencoder` with ``output`` on ``X`` (Adam, MSE); return (final MSE on X, model).

    The seed fixes the initialisation of the layers built here and the batch order; build
    ``output`` after ``torch.manual_seed(...)`` for a fully reproducible run.
    """
    torch.manual_seed(seed)
    model = autoencoder(output, X.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=gen).split(batch_size):
            loss = ((model(X[idx]) - X[idx]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        mse = ((model(X) - X) ** 2).mean().item()
    return (mse if math.isfinite(mse) else math.inf), model


__all__ = ["DEPTH_STUDY", "depth_study", "ResidualBlock", "residual_mlp", "build", "output_scale", "depth_run", "tune_lr", "autoencoder",
           "train_autoencoder"]


if __name__ == "__main__":  # python -m relucourse.arch [output.json]
    import json
    import sys

    torch.set_num_threads(1)
    result = depth_study()
    path = sys.argv[1] if len(sys.argv) > 1 else "depth_study.json"
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"saved to {path}")
