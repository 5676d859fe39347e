"""Depth and residual connections (chapter 6): plain and residual MLPs, and a depth study.

A **residual block** computes ``x + F(x)`` where the branch ``F`` is Linear -> ReLU -> Linear.
Under He initialisation the branch's first layer keeps the second moment of its input
(E[(W1 x)^2] = 2 E[x^2] ... halved by the ReLU), and its *last* layer has no ReLU after it, so
E[F(x)^2] = 2 E[x^2]: the branch doubles the second moment, and the sum x + F(x) (the branch is
uncorrelated with x at initialisation) carries E[x^2] + 2 E[x^2] = 3 E[x^2]. The forward signal
grows like 3^blocks. A zero-initialised (or down-scaled) last layer in each branch makes every
block the identity at initialisation.

The depth study (:func:`depth_study`, ``python -m relucourse.arch``) tunes the learning rate of every
arm at every depth on a validation split of the training data (:func:`relucourse.method.tune`) and
reports training and test accuracy over seeds; plain and residual nets hold the same number of
weight layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import method
from .data import load_digits
from .train import ACTIVATIONS, init_linear_, mlp, train

#: PyTorch's recommended gain for tanh (torch.nn.init.calculate_gain("tanh")).
TANH_GAIN = 5 / 3


class ResidualBlock(nn.Module):
    """``x + fc2(act(fc1(x)))``; ``last_scale`` multiplies fc2's initial weights (0: zero-init).

    ``placement``: ``"clean"`` (nothing on the identity path: the course's residual MLP),
    ``"post"`` (a ReLU after the addition, as in the original ResNet block) or ``"pre"`` (the
    branch starts with its own activation, ``x + fc2(act(fc1(act(x))))``, as in the
    pre-activation ResNet without batch normalisation).
    """

    def __init__(self, width: int, activation: str = "relu", init: str = "he", last_scale: float = 0.0,
                 placement: str = "clean"):
        super().__init__()
        if placement not in ("clean", "post", "pre"):
            raise ValueError(f"unknown placement {placement!r}: use 'clean', 'post' or 'pre'")
        self.placement = placement
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.act = ACTIVATIONS[activation]()
        init_linear_(self, init)
        with torch.no_grad():
            self.fc2.weight.mul_(last_scale)
            if init != "default" or last_scale == 0:
                self.fc2.bias.mul_(last_scale)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        if self.placement == "pre":
            x = self.act(x)
        return self.fc2(self.act(self.fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.branch(x)
        return self.act(out) if self.placement == "post" else out


def residual_mlp(n_in: int, width: int, blocks: int, n_out: int, activation: str = "relu",
                 init: str = "he", last_scale: float = 0.0, placement: str = "clean") -> nn.Sequential:
    """Input layer, ``blocks`` residual blocks (2 linear layers each), output layer.

    The input and output layers use ``init`` too; ``last_scale`` applies to each block's fc2.
    """
    first, last = nn.Linear(n_in, width), nn.Linear(width, n_out)
    init_linear_(first, init)
    init_linear_(last, init)
    layers = [first, ACTIVATIONS[activation]()]
    layers += [ResidualBlock(width, activation, init, last_scale, placement) for _ in range(blocks)]
    layers.append(last)
    return nn.Sequential(*layers)


#: The arms of the depth study and how :func:`build` makes them.
ARMS = {
    "sigmoid": "plain, Xavier init",
    "tanh": "plain, Xavier init with tanh's gain 5/3",
    "relu": "plain, He init",
    "relu-bn": "plain, He init, batch normalisation before every ReLU",
    "residual": "ReLU blocks x + F(x), He init, each branch's last layer zero",
    "residual-he": "the same blocks, the branch's last layer He-initialised",
    "residual-post": "zero-init blocks with a ReLU after the addition (original ResNet)",
    "residual-pre": "zero-init blocks whose branch starts with a ReLU (pre-activation)",
}


def build(arm: str, depth: int, width: int = 32, n_in: int = 64, n_out: int = 10) -> nn.Sequential:
    """A network of the depth study with ``depth`` hidden layers of ``width`` (``depth + 1`` weight layers).

    ``arm``: one of :data:`ARMS`. A residual net of depth d has an input layer and (d - 1) / 2 blocks
    of two layers, so d must be odd: it then holds exactly as many weight layers as the plain net.
    """
    sizes = [n_in] + [width] * depth + [n_out]
    if arm == "sigmoid":
        return mlp(sizes, "sigmoid", init="xavier")
    if arm == "tanh":
        model = mlp(sizes, "tanh", init="xavier")
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m.weight.mul_(TANH_GAIN)
        return model
    if arm == "relu":
        return mlp(sizes, "relu", init="he")
    if arm == "relu-bn":
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers += [nn.BatchNorm1d(b), nn.ReLU()]
        return init_linear_(nn.Sequential(*layers), "he")
    if arm in ("residual", "residual-he", "residual-post", "residual-pre"):
        if depth < 1 or depth % 2 == 0:
            raise ValueError(f"a residual net needs an odd depth (input layer + blocks of 2), got {depth}")
        placement = {"residual-post": "post", "residual-pre": "pre"}.get(arm, "clean")
        return residual_mlp(n_in, width, (depth - 1) // 2, n_out, "relu", "he",
                            last_scale=1.0 if arm == "residual-he" else 0.0, placement=placement)
    raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")


def output_scale(model: nn.Module, X: torch.Tensor) -> float:
    """Root mean square of the network's output on ``X`` at its current weights."""
    with torch.no_grad():
        out = model(X)
    return out.double().pow(2).mean().sqrt().item()


def block_factors(width: int = 256, blocks: int = 8, n: int = 1000, seed: int = 0,
                  last_scale: float = 1.0) -> list[float]:
    """E[out^2] / E[in^2] of every block of a chain of fresh residual blocks (He init), Gaussian input."""
    torch.manual_seed(seed)
    x = torch.randn(n, width)
    factors = []
    with torch.no_grad():
        for _ in range(blocks):
            out = ResidualBlock(width, last_scale=last_scale)(x)
            factors.append((out.double().pow(2).mean() / x.double().pow(2).mean()).item())
            x = out
    return factors


def last_hidden(model: nn.Sequential, X: torch.Tensor) -> torch.Tensor:
    """The input of the output layer (the last hidden representation) for ``X``."""
    with torch.no_grad():
        return model[:-1](X)


def mean_cosine(H: torch.Tensor) -> float:
    """The mean cosine similarity over all pairs of distinct rows of ``H``."""
    U = H.double()
    U = U / U.norm(dim=1, keepdim=True).clamp_min(1e-300)
    C = U @ U.T
    n = len(U)
    return ((C.sum() - C.diagonal().sum()) / (n * (n - 1))).item()


def collapse(arm: str, depth: int, X: torch.Tensor, seed: int = 0, width: int = 32) -> float:
    """Mean pairwise cosine of the last hidden layer's representation of ``X`` at initialisation.

    The network is in training mode, so batch normalisation (``relu-bn``) uses the statistics of ``X``.
    """
    torch.manual_seed(seed)
    model = build(arm, depth, width, X.shape[1])
    return mean_cosine(last_hidden(model.train(), X))


def depth_run(arm: str, depth: int, X, y, X_test, y_test, *, lr: float, epochs: int = 20,
              width: int = 32, seed: int = 0, batch_size: int = 128) -> dict[str, float]:
    """Train one network of the study with SGD + momentum 0.9; return its final train and test accuracy.

    A run that diverges (non-finite loss) scores 0 on both.
    """
    torch.manual_seed(seed)
    model = build(arm, depth, width, X.shape[1], int(y.max()) + 1)
    history = train(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                    X_val=X_test, y_val=y_test)
    if not math.isfinite(history["loss"][-1]):
        return {"train_acc": 0.0, "test_acc": 0.0}
    return {"train_acc": history["train_acc"][-1], "test_acc": history["val_acc"][-1]}


def tune_lr(arm: str, depth: int, X, y, *, grid=(0.01, 0.03, 0.1, 0.3), epochs: int = 20,
            width: int = 32, max_extensions: int = 2) -> method.Tuned:
    """The learning rate for ``arm`` at ``depth``, chosen on a validation split of the TRAINING data
    ``X, y`` with the tuning seeds (:func:`relucourse.method.tune`); the test set is never seen."""

    def run(lr, seed, X_fit, y_fit, X_val, y_val):
        return depth_run(arm, depth, X_fit, y_fit, X_val, y_val, lr=lr, epochs=epochs, width=width,
                         seed=seed)["test_acc"]

    return method.tune(run, list(grid), X, y, max_extensions=max_extensions)


#: The chapter's stored depth study (:func:`depth_study`); ``python -m relucourse.arch`` re-runs it.
DEPTH_STUDY = {"arms": ["sigmoid", "tanh", "relu", "residual"], "depths": [3, 9, 25],
               "deep_arms": ["relu-bn", "residual-he", "residual-post", "residual-pre"],
               "seeds": list(range(10)), "epochs": 20, "width": 32, "grid": [0.01, 0.03, 0.1, 0.3],
               "skip": {"sigmoid": [25]}}
RERUN = "python -m relucourse.arch"


def depth_study(settings: dict | None = None, progress=print) -> dict:
    """Tune every (arm, depth) on validation, then train and test it over the reported seeds.

    ``deep_arms`` run at the deepest depth only. Returns ``{"settings", "torch", "tuning", "runs"}``.
    """
    from .data import digits

    s = dict(DEPTH_STUDY, **(settings or {}))
    X, y, X_test, y_test = digits()
    say = progress or (lambda line: None)
    jobs = [(a, d) for a in s["arms"] for d in s["depths"] if d not in s["skip"].get(a, [])]
    jobs += [(a, max(s["depths"])) for a in s["deep_arms"]]
    tuning, runs = [], []
    for arm, depth in jobs:
        tuned = tune_lr(arm, depth, X, y, grid=s["grid"], epochs=s["epochs"], width=s["width"])
        tuning.append({"arm": arm, "depth": depth, "lr": tuned.best, "extended": tuned.extended,
                       "scores": {f"{k:g}": v for k, v in tuned.scores.items()}})
        say(f"{arm} depth {depth}: {tuned}")
        for seed in s["seeds"]:
            r = depth_run(arm, depth, X, y, X_test, y_test, lr=tuned.best, epochs=s["epochs"],
                          width=s["width"], seed=seed)
            runs.append({"arm": arm, "depth": depth, "seed": seed, "lr": tuned.best, **r})
        say(f"  test {[round(r['test_acc'], 3) for r in runs[-len(s['seeds']):]]}")
    return {"settings": s, "torch": torch.__version__, "tuning": tuning, "runs": runs}


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


def digit_versions(n: int = 400) -> dict[str, torch.Tensor]:
    """The first ``n`` scikit-learn digits (pixels 0..16) in the four versions of the autoencoder study."""
    raw = torch.tensor(load_digits()[0][:n], dtype=torch.float32)
    unit = raw / 16
    std = (raw - raw.mean(0)) / (raw.std(0) + 1e-6)
    return {"[0, 1]": unit, "[0, 1] centred": unit - unit.mean(0), "standardised": std,
            "standardised + 3": std + 3}


OUTPUTS = ("linear", "relu", "sigmoid")


def output_module(name: str, hidden: int = 32, n_out: int = 64) -> nn.Module:
    """The autoencoder's output layer: ``"linear"``, ``"relu"`` or ``"sigmoid"`` after a linear map."""
    layer = nn.Linear(hidden, n_out)
    if name == "linear":
        return layer
    return nn.Sequential(layer, {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[name]())


def autoencoder_run(data: str, output: str, seed: int, epochs: int = 60, X: torch.Tensor | None = None) -> dict:
    """Train the autoencoder on one version of the digits; its MSE and dead units.

    ``dead_bottleneck``: bottleneck units (of 8) whose pre-activation is <= 0 on every image;
    ``dead_outputs``: for a ReLU output, output units (of 64) that are 0 on every image, and
    ``dead_outputs_harmless``: those of them whose pixel is 0 in every image of the data anyway.
    """
    X = digit_versions()[data] if X is None else X
    torch.manual_seed(seed)
    mse, model = train_autoencoder(output_module(output), X, epochs=epochs, seed=seed)
    with torch.no_grad():
        code = model[:3](X)                   # the bottleneck's pre-activation
        hidden = model[:6](X)
        out_pre = (model[6][0] if output != "linear" else model[6])(hidden)
    result = {"data": data, "output": output, "seed": seed, "mse": mse,
              "dead_bottleneck": int((code <= 0).all(0).sum())}
    if output == "relu":
        dead = (out_pre <= 0).all(0)
        result["dead_outputs"] = int(dead.sum())
        result["dead_outputs_harmless"] = int((dead & (X == 0).all(0)).sum())
    return result


#: The stored autoencoder study (:func:`autoencoder_study`); ``python -m relucourse.arch autoencoder``.
AUTOENCODER_STUDY = {"epochs": 60, "seeds": list(range(10)),
                     "configs": [["[0, 1]", o] for o in OUTPUTS] + [["standardised", o] for o in OUTPUTS]
                     + [["[0, 1] centred", "linear"], ["standardised + 3", "linear"]]}
AUTOENCODER_RERUN = "python -m relucourse.arch autoencoder"


def autoencoder_study(settings: dict | None = None, progress=print) -> dict:
    """Every (data version, output layer) of the study over the seeds (400 digits, Adam, batch 100)."""
    s = dict(AUTOENCODER_STUDY, **(settings or {}))
    versions = digit_versions()
    runs = []
    for data, output in s["configs"]:
        for seed in s["seeds"]:
            runs.append(autoencoder_run(data, output, seed, s["epochs"], versions[data]))
            if progress:
                progress(runs[-1])
    return {"settings": s, "torch": torch.__version__, "runs": runs}

def tiny_cnn(activation: str = "relu", channels: tuple[int, int] = (8, 16), n_out: int = 10) -> nn.Sequential:
    """A small convolutional net for the 8x8 digits (inputs as 64 columns): two 3x3 convolutions
    (padding 1) with ``activation`` after each, 2x2 max pooling, a linear read-out. PyTorch's
    default initialisation."""
    c1, c2 = channels
    act = ACTIVATIONS[activation]
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, c1, 3, padding=1), act(),
                         nn.Conv2d(c1, c2, 3, padding=1), act(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(c2 * 16, n_out))


def cnn_run(activation: str, X, y, X_test, y_test, *, lr: float, epochs: int = 4, seed: int = 0,
            batch_size: int = 64) -> dict[str, float]:
    """Train :func:`tiny_cnn` with SGD + momentum 0.9; return final train/test accuracy and the
    training loss of the last epoch (a diverged run scores 0 accuracy and infinite loss)."""
    torch.manual_seed(seed)
    model = tiny_cnn(activation, n_out=int(y.max()) + 1)
    h = train(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, X_val=X_test, y_val=y_test)
    if not math.isfinite(h["loss"][-1]):
        return {"train_acc": 0.0, "test_acc": 0.0, "loss": math.inf}
    return {"train_acc": h["train_acc"][-1], "test_acc": h["val_acc"][-1], "loss": h["loss"][-1]}


#: The chapter's small CNN study (:func:`cnn_study`); ``python -m relucourse.arch cnn`` re-runs it.
CNN_STUDY = {"activations": ["relu", "tanh"], "seeds": list(range(10)), "epochs": 4,
             "grid": [0.01, 0.03, 0.1]}
CNN_RERUN = "python -m relucourse.arch cnn"


def cnn_study(settings: dict | None = None, progress=print) -> dict:
    """Each activation's learning rate tuned on a validation split of the training digits (tuning
    seeds), then trained over the reported seeds. Returns ``{"settings", "torch", "lr", "runs"}``."""
    from .data import digits

    s = dict(CNN_STUDY, **(settings or {}))
    X, y, X_test, y_test = digits()
    say = progress or (lambda line: None)
    lrs, runs = {}, []
    for a in s["activations"]:
        def run(lr, seed, X_fit, y_fit, X_val, y_val, a=a):
            return cnn_run(a, X_fit, y_fit, X_val, y_val, lr=lr, epochs=s["epochs"], seed=seed)["test_acc"]

        tuned = method.tune(run, list(s["grid"]), X, y, max_extensions=2)
        lrs[a] = tuned.best
        say(f"{a}: {tuned}")
        for seed in s["seeds"]:
            runs.append({"activation": a, "seed": seed, "lr": tuned.best,
                         **cnn_run(a, X, y, X_test, y_test, lr=tuned.best, epochs=s["epochs"], seed=seed)})
    return {"settings": s, "torch": torch.__version__, "lr": lrs, "runs": runs}



__all__ = ["tiny_cnn", "cnn_run", "CNN_STUDY", "CNN_RERUN", "cnn_study", "ARMS", "DEPTH_STUDY", "TANH_GAIN", "depth_study", "ResidualBlock", "residual_mlp", "build",
           "output_scale", "block_factors", "last_hidden", "mean_cosine", "collapse", "depth_run", "tune_lr",
           "autoencoder", "train_autoencoder", "digit_versions", "OUTPUTS", "output_module", "autoencoder_run",
           "AUTOENCODER_STUDY", "autoencoder_study"]


if __name__ == "__main__":  # python -m relucourse.arch [autoencoder | cnn]: re-runs a stored study
    import sys

    from . import use_threads

    use_threads()
    if sys.argv[1:] == ["cnn"]:
        print(f"saved to {method.save_study('cnn_study', cnn_study(), CNN_RERUN)}")
    elif sys.argv[1:] == ["autoencoder"]:
        print(f"saved to {method.save_study('autoencoder_study', autoencoder_study(), AUTOENCODER_RERUN)}")
    else:
        print(f"saved to {method.save_study('depth_study', depth_study(), RERUN)}")
