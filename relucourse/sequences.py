"""Recurrent networks on the adding problem (chapter 6).

The adding problem (Hochreiter & Schmidhuber 1997; used by Le, Jaitly & Hinton 2015 for the IRNN)
is a test of long-range memory. Each input is a sequence of ``T`` steps with two channels:

* channel 0: a random number drawn uniformly from [0, 1) at every step;
* channel 1: a marker, 1 at exactly two steps and 0 elsewhere (one marked step in the first half
  of the sequence, one in the second half).

The target is the sum of the two marked numbers. A model that ignores the input and always predicts
the mean of the target, 1, has mean squared error Var(U1 + U2) = 1/6 ~ 0.167: the **baseline** a
network must beat to show that it remembers anything.

Models: :class:`RNNRegressor` wraps ``nn.RNN`` (tanh or ReLU, with PyTorch's default init or the
IRNN's identity init) and ``nn.LSTM``; :func:`train_adding` trains one with Adam, optional
gradient clipping by global norm, and returns the test MSE.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

#: The MSE of always predicting 1 (the target's mean): Var(U1 + U2) for U1, U2 ~ U(0, 1).
BASELINE_MSE = 1 / 6

#: The standard deviation of the IRNN's input weights (Le et al. 2015).
IRNN_INPUT_STD = 0.001

#: The recurrent models :class:`RNNRegressor` builds.
KINDS = ("tanh", "relu", "irnn", "lstm")


def adding_problem(n: int, T: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` adding-problem sequences of length ``T``: inputs of shape (n, T, 2), targets of shape (n,).

    One marker falls uniformly in the first ``T // 2`` steps, the other in the remaining steps.
    """
    if T < 2:
        raise ValueError("the adding problem needs T >= 2 (one marker in each half)")
    gen = torch.Generator().manual_seed(seed)
    values = torch.rand(n, T, generator=gen)
    half = T // 2
    first = torch.randint(0, half, (n,), generator=gen)
    second = torch.randint(half, T, (n,), generator=gen)
    markers = torch.zeros(n, T)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = torch.stack([values, markers], dim=2)
    y = values[rows, first] + values[rows, second]
    return X, y


def baseline_mse(y: torch.Tensor) -> float:
    """MSE of the best constant prediction (the mean of ``y``) on ``y``: about 1/6 here."""
    return ((y - y.mean()) ** 2).mean().item()


class RNNRegressor(nn.Module):
    """A one-layer recurrent network whose last hidden state feeds a linear read-out.

    ``kind``: ``"tanh"`` (Elman RNN, PyTorch's default init), ``"relu"`` (ReLU RNN, default init),
    ``"irnn"`` (ReLU RNN whose recurrent matrix starts as the identity and biases at 0, as in
    Le et al. 2015; the input weights are small, normal with standard deviation 0.001, as in Le
    et al.'s adding-problem setting; ``input_std`` changes it) or ``"lstm"``.
    """

    def __init__(self, kind: str = "tanh", hidden: int = 32, inputs: int = 2,
                 input_std: float = IRNN_INPUT_STD):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: use one of {KINDS}")
        self.kind = kind
        if kind == "lstm":
            self.rnn = nn.LSTM(inputs, hidden, batch_first=True)
        else:
            self.rnn = nn.RNN(inputs, hidden, batch_first=True,
                              nonlinearity="tanh" if kind == "tanh" else "relu")
        if kind == "irnn":
            with torch.no_grad():
                self.rnn.weight_hh_l0.copy_(torch.eye(hidden))
                self.rnn.bias_hh_l0.zero_()
                self.rnn.bias_ih_l0.zero_()
                self.rnn.weight_ih_l0.normal_(0.0, input_std)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


def global_grad_norm(parameters: Iterable[torch.Tensor]) -> float:
    """The L2 norm of all parameters' gradients taken together (what clip_grad_norm_ measures)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    return math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in grads))


def train_adding(kind: str, *, T: int = 30, hidden: int = 32, steps: int = 300, batch_size: int = 64,
                 lr: float = 3e-3, clip: float | None = 1.0, seed: int = 0, n_test: int = 1000,
                 data_seed: int = 12345, input_std: float = IRNN_INPUT_STD) -> dict[str, float]:
    """Train an :class:`RNNRegressor` on fresh adding-problem batches; return its test MSE.

    Adam with learning rate ``lr``; before each step the gradients are clipped to global norm
    ``clip`` (``None``: no clipping). A run whose loss becomes NaN or infinite stops and reports a
    test MSE of ``inf``. Returns ``{"mse": ..., "max_grad_norm": ...}`` where the second is the
    largest global gradient norm seen before clipping.
    """
    torch.manual_seed(seed)
    model = RNNRegressor(kind, hidden, input_std=input_std)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    X_test, y_test = adding_problem(n_test, T, seed=data_seed)
    largest = 0.0
    for step in range(steps):
        X, y = adding_problem(batch_size, T, seed=1_000_000 * (seed + 1) + step)
        loss = ((model(X) - y) ** 2).mean()
        if not torch.isfinite(loss):
            return {"mse": math.inf, "max_grad_norm": largest}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        largest = max(largest, global_grad_norm(model.parameters()))
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    with torch.no_grad():
        mse = ((model(X_test) - y_test) ** 2).mean().item()
    return {"mse": mse if math.isfinite(mse) else math.inf, "max_grad_norm": largest}


#: The settings of the chapter's stored study (:func:`study`); ``python -m relucourse.sequences``
#: re-runs it. At ``T`` (30) learning rates are tuned on validation sequences (``val_seed``, never
#: the test sequences) with the tuning seeds, and every kind trains over ``seeds`` with clipping
#: (``unclipped``: these kinds also run without clipping, on ``seeds_unclipped``). The long column
#: (``long``: T = 100, about 25 s per run on one idle core) trains each arm over its 15 seeds with
#: a fixed learning rate: the default-init ReLU RNN and the LSTM with the rate tuned at T = 30, the
#: IRNN with 0.001 (Le et al.'s grid; the expert review's setting) twice: with Le et al.'s input
#: weights (standard deviation 0.001) and with larger ones (variance 0.001, standard
#: deviation 0.032, the course's earlier code, with which the review ran it).
STUDY = {"T": 30, "kinds": list(KINDS), "unclipped": ["relu", "irnn"], "hidden": 32, "steps": 1000,
         "batch_size": 64, "clip": 1.0, "lrs": [1e-3, 3e-3, 1e-2], "tune_seeds": [1000], "val_seed": 777,
         "seeds": list(range(15)), "seeds_unclipped": [0, 1, 2],
         "long": {"T": 100, "seeds": list(range(15)),
                  "arms": [{"kind": "relu", "lr": "tuned"},
                           {"kind": "irnn", "lr": 1e-3, "input_std": IRNN_INPUT_STD},
                           {"kind": "irnn", "lr": 1e-3, "input_std": 0.001 ** 0.5},
                           {"kind": "lstm", "lr": "tuned"}]}}
RERUN = "python -m relucourse.sequences"


def study_kind(kind: str, settings: dict | None = None, progress=print) -> dict:
    """One kind's part of :func:`study`: its tuning at T and its runs at T."""
    s = dict(STUDY, **(settings or {}))
    common = {k: s[k] for k in ("hidden", "steps", "batch_size")}
    say = progress or (lambda line: None)
    scores = {}
    for lr in s["lrs"]:
        mses = [train_adding(kind, T=s["T"], lr=lr, clip=s["clip"], seed=seed, data_seed=s["val_seed"],
                             **common)["mse"] for seed in s["tune_seeds"]]
        scores[lr] = sum(mses) / len(mses)
    lr = min(scores, key=scores.get)
    say(f"{kind}: validation MSE at T={s['T']} {scores} -> lr {lr}")
    jobs = [(s["T"], s["clip"], s["seeds"])]
    if kind in s["unclipped"]:
        jobs.append((s["T"], None, s["seeds_unclipped"]))
    jobs = [(T, clip, seeds, lr) for T, clip, seeds in jobs]
    runs = []
    for T, clip, seeds, run_lr in jobs:
        for seed in seeds:
            r = train_adding(kind, T=T, lr=run_lr, clip=clip, seed=seed, **common)
            std = {"input_std": IRNN_INPUT_STD} if kind == "irnn" else {}
            runs.append({"kind": kind, "T": T, "lr": run_lr, "clip": clip, "seed": seed, **std, **r})
            say(f"{kind} T={T} clip={clip} seed={seed}: {r}")
    return {"tuning": {f"{k:g}": v for k, v in scores.items()}, "lr": lr, "runs": runs}


def long_run(arm: dict, seed: int, lr: float, settings: dict | None = None) -> dict:
    """One run of the long column: ``arm`` (an entry of ``STUDY["long"]["arms"]``) at seed ``seed``
    with learning rate ``lr`` (the arm's own, or the one tuned at T = 30 where it says "tuned")."""
    s = dict(STUDY, **(settings or {}))
    std = {"input_std": arm["input_std"]} if "input_std" in arm else {}
    r = train_adding(arm["kind"], T=s["long"]["T"], lr=lr, clip=s["clip"], seed=seed, hidden=s["hidden"],
                     steps=s["steps"], batch_size=s["batch_size"], **std)
    return {"kind": arm["kind"], "T": s["long"]["T"], "lr": lr, "clip": s["clip"], "seed": seed, **std, **r}


def long_jobs(lrs: dict, settings: dict | None = None) -> list[tuple[dict, int, float]]:
    """The long column's runs as (arm, seed, lr), seed by seed (``lrs``: the rates tuned at T)."""
    s = dict(STUDY, **(settings or {}))
    return [(arm, seed, lrs[arm["kind"]] if arm["lr"] == "tuned" else arm["lr"])
            for seed in s["long"]["seeds"] for arm in s["long"]["arms"]]


def study(settings: dict | None = None, progress=print) -> dict:
    """Every kind of the study at T (:func:`study_kind`), then the long column (:func:`long_run`).
    Returns a JSON-friendly dict."""
    s = dict(STUDY, **(settings or {}))
    say = progress or (lambda line: None)
    parts = {kind: study_kind(kind, s, progress) for kind in s["kinds"]}
    lrs = {k: p["lr"] for k, p in parts.items()}
    long = []
    for arm, seed, lr in long_jobs(lrs, s):
        long.append(long_run(arm, seed, lr, s))
        say(f"T={s['long']['T']} {long[-1]}")
    return merge(s, parts, long)


def merge(settings: dict, parts: dict, long: list[dict] = ()) -> dict:
    return {"settings": settings, "torch": torch.__version__,
            "lr": {k: p["lr"] for k, p in parts.items()},
            "tuning": {k: p["tuning"] for k, p in parts.items()},
            "runs": [r for k in settings["kinds"] for r in parts[k]["runs"]] + list(long)}


__all__ = ["BASELINE_MSE", "IRNN_INPUT_STD", "KINDS", "adding_problem", "baseline_mse", "RNNRegressor",
           "global_grad_norm", "train_adding", "STUDY", "study_kind", "long_run", "long_jobs", "study",
           "merge"]


if __name__ == "__main__":  # python -m relucourse.sequences: re-runs the study into results/adding_study.json
    from . import method, use_threads

    use_threads()
    print(f"saved to {method.save_study('adding_study', study(), RERUN)}")
