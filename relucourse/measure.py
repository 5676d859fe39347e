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


#: |z| above which tanh's derivative 1 - tanh(z)^2 is below 0.02 (|tanh z| > 0.99): saturated.
SATURATED_Z = math.atanh(0.99)
#: |z| below which tanh is nearly linear: tanh(z) is within 8 % of z, its derivative above 0.78.
LINEAR_Z = 0.5


def preactivation_fractions(model: nn.Module, X: torch.Tensor, linear: float = LINEAR_Z,
                            saturated: float = SATURATED_Z,
                            kinds: tuple[type, ...] = (nn.Tanh, nn.ReLU, nn.Sigmoid)) -> dict[str, float]:
    """Where the pre-activations z (the inputs of every ``kinds`` module) of ``model`` on ``X`` lie,
    all such modules together: ``linear``, the fraction with ``|z| < linear``; ``saturated``, the
    fraction with ``|z| > saturated``; ``negative``, the fraction with ``z < 0``. Hooks are removed."""
    counts = {"linear": 0, "saturated": 0, "negative": 0, "total": 0}

    def hook(module, inputs, output):
        z = inputs[0]
        counts["linear"] += int((z.abs() < linear).sum())
        counts["saturated"] += int((z.abs() > saturated).sum())
        counts["negative"] += int((z < 0).sum())
        counts["total"] += z.numel()

    modules = [m for m in model.modules() if isinstance(m, kinds)]
    forward_pass_with_hooks(model, X, modules, lambda i, m: hook)
    n = counts.pop("total")
    return {k: v / n if n else float("nan") for k, v in counts.items()}


# ---------------------------------------------------------------------------------------------
# Chapter 3's stored studies (``python -m relucourse.measure`` reruns them)
# ---------------------------------------------------------------------------------------------

#: Spirals: the arms of the epochs-to-target study, (activation, init).
SPIRAL_ARMS = {"relu": ("relu", "default"), "tanh": ("tanh", "default"), "tanh_he": ("tanh", "he")}
SPIRAL_SETTINGS = {"n": 400, "sizes": [2, 64, 64, 64, 64, 2], "batch_size": 100, "momentum": 0.9,
                   "target": 0.95, "max_epochs": 100, "val_target": 0.9, "grid": [0.05, 0.1, 0.2, 0.4],
                   "seeds": list(range(10))}


class _Reached(Exception):
    pass


def spiral_val_epochs(activation: str, init: str, lr: float, seed: int, X_fit, y_fit, X_val, y_val,
                      target: float = 0.9, max_epochs: int = 100, batch_size: int = 100) -> int:
    """Tuning score: the first epoch at which the *validation* accuracy reaches ``target``
    (training on ``X_fit`` only); ``max_epochs + 1`` if it never does or the run diverges."""
    torch.manual_seed(seed)
    model = mlp(list(SPIRAL_SETTINGS["sizes"]), activation, init=init)
    reached: list[int] = []

    def watch(epoch, m):
        if accuracy(m, X_val, y_val) >= target:
            reached.append(epoch)
            raise _Reached

    try:
        train(model, X_fit, y_fit, epochs=max_epochs, lr=lr, batch_size=batch_size, momentum=0.9, seed=seed,
              callback=watch)
    except _Reached:
        return reached[0]
    return max_epochs + 1


def spiral_study(seeds: Sequence[int] | None = None, arms: Sequence[str] | None = None) -> dict:
    """Epochs to 95 % training accuracy on two spirals, per arm of :data:`SPIRAL_ARMS`, with the
    learning rate tuned per arm on a validation split of the training points (seeds
    ``method.TUNING_SEEDS``, score: epochs until 90 % validation accuracy), then seeds 0-9; after
    every epoch, where the hidden pre-activations lie (:func:`preactivation_fractions`)."""
    from . import method
    from .data import spirals

    cfg = SPIRAL_SETTINGS
    seeds = list(cfg["seeds"] if seeds is None else seeds)
    arms = list(SPIRAL_ARMS if arms is None else arms)
    X, y = spirals(n=cfg["n"])
    out: dict = {"settings": dict(cfg, seeds=seeds), "torch": torch.__version__, "tuning": {}, "runs": []}
    for arm in arms:
        act, init = SPIRAL_ARMS[arm]
        tuned = method.tune(lambda lr, s, *data: spiral_val_epochs(act, init, lr, s, *data,
                                                                   target=cfg["val_target"],
                                                                   max_epochs=cfg["max_epochs"],
                                                                   batch_size=cfg["batch_size"]),
                            cfg["grid"], X, y, maximize=False, factor=2.0)
        out["tuning"][arm] = {"best": tuned.best, "grid": tuned.grid,
                              "scores": {str(k): v for k, v in tuned.scores.items()}, "extended": tuned.extended}
        for seed in seeds:
            trace: list[dict] = []
            record = lambda ep, m: trace.append(preactivation_fractions(m, X))  # noqa: E731
            epochs = epochs_to_accuracy(act, tuned.best, X, y, target=cfg["target"], sizes=cfg["sizes"],
                                        max_epochs=cfg["max_epochs"], seed=seed, batch_size=cfg["batch_size"],
                                        init=init, callback=record)
            out["runs"].append({"arm": arm, "seed": seed, "lr": tuned.best, "epochs": epochs,
                                "linear": [t["linear"] for t in trace],
                                "saturated": [t["saturated"] for t in trace],
                                "negative": [t["negative"] for t in trace]})
    return out


#: Depth 12 on the digits: (activation, init) per arm, and the fixed settings.
DEEP_ARMS = {"relu": ("relu", "he"), "tanh": ("tanh", "xavier"), "sigmoid": ("sigmoid", "xavier")}
DEEP_SETTINGS = {"depth": 12, "width": 64, "epochs": 8, "batch_size": 128, "grid": [0.01, 0.02, 0.04],
                 "seeds": list(range(10))}


def deep_run(activation: str, init: str, lr: float, seed: int, X, y, X_eval, y_eval) -> list[float]:
    """Accuracy on ``X_eval`` after each of :data:`DEEP_SETTINGS`'s epochs (all 0 if the run diverges)."""
    cfg = DEEP_SETTINGS
    torch.manual_seed(seed)
    model = mlp([X.shape[1]] + [cfg["width"]] * cfg["depth"] + [int(y.max()) + 1], activation, init=init)
    h = train(model, X, y, epochs=cfg["epochs"], lr=lr, batch_size=cfg["batch_size"], seed=seed,
              X_val=X_eval, y_val=y_eval)
    return h["val_acc"] if len(h["val_acc"]) == cfg["epochs"] else [0.0] * cfg["epochs"]


def deep_study(seeds: Sequence[int] | None = None) -> dict:
    """12 hidden layers on the digits: the learning rate tuned per arm on a validation split of the
    training digits (final validation accuracy, seeds ``method.TUNING_SEEDS``), then the test
    accuracy after each epoch for seeds 0-9."""
    from . import method
    from .data import digits

    cfg = DEEP_SETTINGS
    seeds = list(cfg["seeds"] if seeds is None else seeds)
    X_train, y_train, X_test, y_test = digits()
    out: dict = {"settings": dict(cfg, seeds=seeds), "torch": torch.__version__, "tuning": {}, "runs": []}
    for arm, (act, init) in DEEP_ARMS.items():
        tuned = method.tune(lambda lr, s, *data: deep_run(act, init, lr, s, *data)[-1], cfg["grid"],
                            X_train, y_train, factor=2.0)
        out["tuning"][arm] = {"best": tuned.best, "grid": tuned.grid,
                              "scores": {str(k): v for k, v in tuned.scores.items()}, "extended": tuned.extended}
        for seed in seeds:
            out["runs"].append({"arm": arm, "seed": seed, "lr": tuned.best,
                                "test_acc": deep_run(act, init, tuned.best, seed, X_train, y_train,
                                                     X_test, y_test)})
    return out


STUDY_COMMAND = "python -m relucourse.measure"


def main(argv: Sequence[str] | None = None) -> int:
    """Rerun chapter 3's stored studies (all, or those named) into relucourse/results/."""
    import argparse
    import time

    from . import method, use_threads
    from .bench import step_share_study

    studies = {"ch3_spirals": spiral_study, "ch3_deep": deep_study, "ch3_step_shares": step_share_study}
    parser = argparse.ArgumentParser(prog="python -m relucourse.measure", description=main.__doc__)
    parser.add_argument("names", nargs="*", help=f"studies to rerun, of {', '.join(studies)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in studies]
    if unknown:
        parser.error(f"unknown study {unknown[0]!r}: choose from {', '.join(studies)}")
    use_threads()
    for name in args.names or studies:
        start = time.perf_counter()
        path = method.save_study(name, studies[name](), f"{STUDY_COMMAND} {name}")
        print(f"{name}: {time.perf_counter() - start:.0f} s -> {path}")
    return 0


__all__ = ["zero_fractions", "saturated_fraction", "epochs_to_target", "weight_variance_ratio", "epochs_to_accuracy",
           "train_sparse", "preactivation_fractions", "spiral_study", "deep_study", "deep_run",
           "spiral_val_epochs", "SATURATED_Z", "LINEAR_Z"]


if __name__ == "__main__":
    raise SystemExit(main())
