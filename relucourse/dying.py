"""Chapter 4's experiments on dying ReLUs: nets born dead, killed by training, and their remedies.

* :func:`born_dead_curves` draws many random deep, narrow, 1-D-input networks at once and measures,
  for every depth, how many are dead (some hidden layer is 0 for every input) and how many are
  nearly constant; :func:`born_dead_bound` is the formula derived in the chapter.
* :func:`digits_mlp`, :func:`run_digits` and :func:`silent_fractions` train small MLPs on the
  digits under one "arm" of an experiment (learning rate, optimizer, batch norm or one of its two
  parts, leaky slope, a bad first-layer bias, warmup, gradient clipping, weight decay, ReDo
  re-initialisation) and count the units that never fire; ``record=True`` keeps a per-step time
  course of the second hidden layer.
* :func:`train_on_abs` trains many deep, narrow 1-D nets side by side on |x| (the RAI study).
* ``python -m relucourse.dying lr|remedies|rai`` reruns the chapter's stored studies
  (relucourse/results/dying_*.json).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .deadunits import dead_fractions
from .measure import forward_pass_with_hooks
from .train import accuracy

__all__ = ["born_dead_bound", "born_dead_curves", "digits_mlp", "silent_fractions", "run_digits", "spread",
           "monitor_agrees", "PartialNorm", "train_digits", "train_on_abs", "lr_study", "remedies_study",
           "rai_study", "kill_seeds"]


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
    if init == "he_bias":
        # He weights with small symmetric biases, N(0, 0.1^2): the control for RAI that can fail.
        w = torch.randn(n, fan_in, fan_out, generator=gen) * math.sqrt(2.0 / fan_in)
        return w, torch.randn(n, 1, fan_out, generator=gen) * 0.1
    if init == "rai":
        # Randomized asymmetric initialisation (Lu et al. 2020): per unit, one entry of (w, b),
        # chosen at random, is drawn from Beta(2, 1) (positive); the rest from N(0, 0.6007^2 / fan_in).
        v = torch.randn(n, fan_in + 1, fan_out, generator=gen) * (0.6007 / math.sqrt(fan_in))
        k = torch.randint(0, fan_in + 1, (n, 1, fan_out), generator=gen)
        beta = torch.rand(n, 1, fan_out, generator=gen).sqrt()  # Beta(2, 1) = sqrt(Uniform(0, 1))
        v.scatter_(1, k, beta)
        return v[:, :-1], v[:, -1:]
    raise ValueError(f"unknown init {init!r}: use 'he', 'he_bias' or 'rai'")


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


class PartialNorm(nn.Module):
    """One of batch norm's two parts, per unit, over the batch (running statistics in eval mode).

    * ``"center"``: subtract the batch mean, add a learned shift (no division);
    * ``"scale"``: divide by the batch standard deviation, multiply by a learned gain (no centring:
      the sign of every pre-activation is kept).

    ``nn.BatchNorm1d`` does both. Running statistics are updated as in ``nn.BatchNorm1d``
    (momentum 0.1, unbiased variance).
    """

    def __init__(self, features: int, mode: str, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if mode not in ("center", "scale"):
            raise ValueError(f"unknown mode {mode!r}: use 'center' or 'scale'")
        self.mode, self.eps, self.momentum = mode, eps, momentum
        if mode == "center":
            self.bias = nn.Parameter(torch.zeros(features))
            self.register_buffer("running_mean", torch.zeros(features))
        else:
            self.weight = nn.Parameter(torch.ones(features))
            self.register_buffer("running_var", torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "center":
            if self.training:
                mean = x.mean(0)
                with torch.no_grad():
                    self.running_mean.lerp_(mean.detach(), self.momentum)
            else:
                mean = self.running_mean
            return x - mean + self.bias
        if self.training:
            var = x.var(0, unbiased=False)
            with torch.no_grad():
                n = len(x)
                self.running_var.lerp_(var.detach() * n / max(n - 1, 1), self.momentum)
        else:
            var = self.running_var
        return x / torch.sqrt(var + self.eps) * self.weight

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def digits_mlp(hidden: Sequence[int] = (32, 32), *, activation: str = "relu", batch_norm: bool = False,
               negative_slope: float = 0.01, first_bias: float | None = None, n_in: int = 64,
               n_out: int = 10, norm: str | None = None) -> nn.Sequential:
    """A He-initialised MLP: Linear [-> norm] -> ReLU (or LeakyReLU) per hidden layer.

    ``norm`` is None, ``"batch"`` (``nn.BatchNorm1d``; ``batch_norm=True`` means the same),
    ``"center"`` or ``"scale"`` (:class:`PartialNorm`: one of batch norm's two parts).
    ``first_bias`` sets every bias of the first layer to that value (a bad initialisation).
    Seed the global generator (``torch.manual_seed``) before calling for reproducible weights.
    """
    if batch_norm:
        norm = "batch"
    if norm not in (None, "batch", "center", "scale"):
        raise ValueError(f"unknown norm {norm!r}: use None, 'batch', 'center' or 'scale'")
    layers: list[nn.Module] = []
    sizes = [n_in, *hidden]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if norm == "batch":
            layers.append(nn.BatchNorm1d(fan_out))
        elif norm is not None:
            layers.append(PartialNorm(fan_out, norm))
        layers.append(nn.ReLU() if activation == "relu" else nn.LeakyReLU(negative_slope))
    head = nn.Linear(sizes[-1], n_out)
    nn.init.kaiming_normal_(head.weight, nonlinearity="relu")
    nn.init.zeros_(head.bias)
    layers.append(head)
    if first_bias is not None:
        with torch.no_grad():
            layers[0].bias.fill_(first_bias)
    return nn.Sequential(*layers)


def _fired(model: nn.Module, X: torch.Tensor, per_channel: bool) -> list[torch.Tensor]:
    """Per ReLU or LeakyReLU module: which units output > 0 for some input of X (per channel for
    a convolution's output when ``per_channel``). Runs in eval mode and restores the mode."""
    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    fired: dict[int, torch.Tensor] = {}

    def hook_for(i, module):
        def hook(module, inputs, output):
            on = output > 0
            fired[i] = on.reshape(len(on), on.shape[1], -1).any(2).any(0) if per_channel else on.any(0)
        return hook

    was_training = model.training
    try:
        model.eval()
        forward_pass_with_hooks(model, X, acts, hook_for)
    finally:
        model.train(was_training)
    return [fired[i] for i in range(len(acts))]


@torch.no_grad()
def silent_fractions(model: nn.Module, X: torch.Tensor) -> list[float]:
    """Per ReLU or LeakyReLU module: the fraction of units whose output is > 0 for no input of X.

    That is "pre-activation <= 0 on every input", the definition of a dead unit, which also makes
    sense for leaky units (they still pass a small gradient). Runs in eval mode, restores the mode.
    """
    return [1.0 - fired.float().mean().item() for fired in _fired(model, X, per_channel=True)]


def _hidden_linears(model: nn.Sequential) -> list[tuple[nn.Linear, nn.Linear]]:
    """(linear layer feeding a hidden activation, the next linear layer) pairs, in order."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return list(zip(linears[:-1], linears[1:]))


@torch.no_grad()
def _redo_(model: nn.Sequential, X: torch.Tensor, opt: torch.optim.Optimizer, gen: torch.Generator) -> int:
    """ReDo (Sokar et al. 2023) with threshold 0: re-initialise every unit that is dead on X.

    Its incoming weights are drawn afresh (He), its bias set to 0, its outgoing weights set to 0
    (the net's output does not jump), and the optimizer's state for those entries is cleared.
    Returns the number of units re-initialised.
    """
    revived = 0
    fractions_masks = _dead_masks_per_layer(model, X)
    for (inc, out), dead in zip(_hidden_linears(model), fractions_masks):
        k = int(dead.sum())
        if not k:
            continue
        revived += k
        fresh = torch.randn(k, inc.in_features, generator=gen) * math.sqrt(2.0 / inc.in_features)
        inc.weight[dead] = fresh
        inc.bias[dead] = 0.0
        out.weight[:, dead] = 0.0
        for p, rows in ((inc.weight, dead), (inc.bias, dead)):
            for buf in opt.state.get(p, {}).values():
                if isinstance(buf, torch.Tensor) and buf.shape == p.shape:
                    buf[rows] = 0.0
        for buf in opt.state.get(out.weight, {}).values():
            if isinstance(buf, torch.Tensor) and buf.shape == out.weight.shape:
                buf[:, dead] = 0.0
    return revived


@torch.no_grad()
def _dead_masks_per_layer(model: nn.Module, X: torch.Tensor) -> list[torch.Tensor]:
    return [~fired for fired in _fired(model, X, per_channel=False)]


def train_digits(model: nn.Sequential, X: torch.Tensor, y: torch.Tensor, *, epochs: int = 5, lr: float = 0.1,
                 batch_size: int = 128, optimizer: str = "sgd", momentum: float = 0.9, seed: int = 0,
                 weight_decay: float = 0.0, warmup_steps: int = 0, clip: float | None = None,
                 redo_every: int = 0, record: bool = False) -> dict:
    """Train with cross-entropy on mini-batches; the same loop as :func:`relucourse.train.train`
    (same shuffling, same SGD with momentum) with the remedies of chapter 4 as options:

    * ``optimizer``: ``"sgd"``, ``"adam"`` (``torch.optim.Adam``: ``weight_decay`` is added to the
      gradient, *coupled*) or ``"adamw"`` (decoupled decay);
    * ``warmup_steps``: the learning rate rises linearly from lr/warmup_steps to lr over that many steps;
    * ``clip``: the gradient's total norm is clipped to this value before each step;
    * ``redo_every``: every that many steps, units dead on X are re-initialised (ReDo, threshold 0);
    * ``record``: keep, after every step, the loss of the batch, the number of dead units per hidden
      layer on X, and for the second hidden layer each unit's weight-row norm, bias, and its mean
      weighted input w.h over X (``course`` in the result).

    Stops after an epoch whose mean loss is not finite. Returns ``{"loss": [...per epoch],
    "course": {...} or None, "revived": units re-initialised by ReDo}``.
    """
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters())
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}: use 'sgd', 'adam' or 'adamw'")
    redo_gen = torch.Generator().manual_seed(10_000 + seed)
    n = len(X)
    history: dict = {"loss": [], "course": None, "revived": 0}
    course = {k: [] for k in ("step_loss", "dead", "row_norm", "bias", "wh")} if record else None
    pairs = _hidden_linears(model)
    step = 0

    def snapshot(loss_value: float) -> None:
        course["step_loss"].append(loss_value)
        course["dead"].append([int(m.sum()) for m in _dead_masks_per_layer(model, X)])
        if len(pairs) >= 2:
            lin = pairs[1][0]
            with torch.no_grad():
                was = model.training
                model.eval()
                h = model[:list(model).index(lin)](X)
                model.train(was)
                course["row_norm"].append(lin.weight.norm(dim=1).tolist())
                course["bias"].append(lin.bias.tolist())
                course["wh"].append((h @ lin.weight.T).mean(0).tolist())

    if record:
        snapshot(float("nan"))
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            if warmup_steps:
                for group in opt.param_groups:
                    group["lr"] = lr * min(1.0, (step + 1) / warmup_steps)
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            step += 1
            total += loss.item() * len(idx)
            if redo_every and step % redo_every == 0 and math.isfinite(loss.item()):
                history["revived"] += _redo_(model, X, opt, redo_gen)
            if record:
                snapshot(loss.item())
        model.eval()
        history["loss"].append(total / n)
        if not math.isfinite(history["loss"][-1]):
            break
    history["course"] = course
    return history


def run_digits(data, *, seed: int, lr: float, optimizer: str = "sgd", epochs: int = 5, batch_size: int = 64,
               hidden: Sequence[int] = (32, 32), activation: str = "relu", batch_norm: bool = False,
               negative_slope: float = 0.01, first_bias: float | None = None, dead_first: int = 0,
               norm: str | None = None, weight_decay: float = 0.0, warmup_steps: int = 0,
               clip: float | None = None, redo_every: int = 0, match_fan_in: int | None = None,
               record: bool = False) -> dict:
    """Build :func:`digits_mlp` with seed ``seed``, train it with :func:`train_digits`, and measure it.

    ``dead_first=n`` kills the first ``n`` units of the first layer by construction (weights 0,
    bias -1: their pre-activation is -1 for every input, so they stay dead for good).
    ``match_fan_in=m`` rescales the second linear layer's initial weights as if its fan-in were
    ``m`` (He: standard deviation sqrt(2/m)), to compare nets of different first-layer widths
    with the same initial weight scale in layer 2.

    ``data`` is ``(X_train, y_train, X_test, y_test)``. Returns the test accuracy and, per hidden
    layer, the fraction of units silent on the training inputs at initialisation and after training
    (``dead_init``, ``dead``), whether the loss stayed finite, the trained model, and (with
    ``record=True``) the time course of :func:`train_digits`.
    """
    X, y, X_test, y_test = data
    torch.manual_seed(seed)
    model = digits_mlp(hidden, activation=activation, batch_norm=batch_norm, norm=norm,
                       negative_slope=negative_slope, first_bias=first_bias)
    if dead_first:
        with torch.no_grad():
            model[0].weight[:dead_first] = 0.0
            model[0].bias[:dead_first] = -1.0
    if match_fan_in is not None:
        second = [m for m in model if isinstance(m, nn.Linear)][1]
        with torch.no_grad():
            second.weight.mul_(math.sqrt(second.in_features / match_fan_in))
    dead_init = silent_fractions(model, X)
    history = train_digits(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                           seed=seed, weight_decay=weight_decay, warmup_steps=warmup_steps, clip=clip,
                           redo_every=redo_every, record=record)
    finite = math.isfinite(history["loss"][-1])
    nan = float("nan")
    dead = silent_fractions(model, X) if finite else [nan] * len(dead_init)
    return {"seed": seed, "lr": lr, "test_acc": accuracy(model, X_test, y_test) if finite else nan,
            "dead_init": dead_init, "dead": dead, "finite": finite, "model": model,
            "course": history["course"], "revived": history["revived"]}


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


# --------------------------------------------------------------------------------------------
# Training many deep, narrow 1-D nets on |x| at once (the RAI study)
# --------------------------------------------------------------------------------------------

def _abs_params(init: str, width: int, depth: int, n_nets: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    fan_in = 1
    for _ in range(depth):
        params += list(_draw(n_nets, fan_in, width, init, gen))
        fan_in = width
    params += list(_draw(n_nets, width, 1, init, gen))
    return params


def train_on_abs(init, width: int, depth: int, *, n_nets: int = 100, seed: int = 0, steps: int = 3000,
                 lr: float = 1e-3, points: int = 64, subset: Sequence[int] | None = None,
                 checkpoint: int | None = None):
    """Draw ``n_nets`` nets (1-D input, ``depth`` hidden ReLU layers of ``width`` units, a linear
    read-out; weights and biases from ``init``: ``"he"``, ``"he_bias"`` or ``"rai"``, as in
    :func:`born_dead_curves`) and train each with full-batch Adam for ``steps`` steps to fit
    y = |x| on ``points`` points of [-1, 1].

    The nets are trained side by side (stacked weights, batched matrix products); Adam works
    coordinate by coordinate, so each net is trained exactly as it would be alone. Returns each
    net's final relative mean squared error, MSE / Var(|x|) (1 = no better than a constant).
    ``subset`` (indices into the ``n_nets`` draws) trains only those nets: the same nets as in the
    full draw, to re-run a few of a stored study cheaply. With ``checkpoint=k`` the result is a pair:
    the relative errors after ``k`` steps and at the end. ``init`` may be a tuple of
    initialisations: each gets its own ``n_nets`` draws (the same as alone), all are trained in one
    batch, and the result is a dict per initialisation.
    """
    inits = (init,) if isinstance(init, str) else tuple(init)
    per_init = [_abs_params(i, width, depth, n_nets, seed) for i in inits]
    if subset is not None:
        keep = torch.as_tensor(list(subset), dtype=torch.long)
        per_init = [[p[keep] for p in ps] for ps in per_init]
    m = len(per_init[0][0])
    params = [torch.cat(group).clone().requires_grad_(True) for group in zip(*per_init)]
    total = len(params[0])
    x = torch.linspace(-1.0, 1.0, points).view(1, points, 1).expand(total, points, 1)
    target = x.abs()
    opt = torch.optim.Adam(params, lr=lr, foreach=True)

    def forward():
        h = x
        for i in range(0, 2 * depth, 2):
            h = torch.relu(torch.baddbmm(params[i + 1], h, params[i]))
        return torch.baddbmm(params[-1], h, params[-2])

    def relative() -> np.ndarray:
        with torch.no_grad():
            mse = ((forward() - target) ** 2).mean(dim=(1, 2))
        return (mse / target[0].var(unbiased=False)).numpy().astype(np.float64)

    early = None
    for step in range(steps):
        if step == checkpoint:
            early = relative()
        per_net = ((forward() - target) ** 2).mean(dim=(1, 2))
        opt.zero_grad(set_to_none=True)
        per_net.sum().backward()
        opt.step()
    final = relative()
    early = final if early is None else early

    def split(values):
        parts = {i: values[k * m:(k + 1) * m] for k, i in enumerate(inits)}
        return parts[inits[0]] if isinstance(init, str) else parts

    return split(final) if checkpoint is None else (split(early), split(final))


# --------------------------------------------------------------------------------------------
# The chapter's stored studies: python -m relucourse.dying lr|remedies|rai
# --------------------------------------------------------------------------------------------

LR_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)
KILL_LR, BAD_BIAS = 0.8, -40.0
KILL_LEVEL = 0.5          # a run "kills layer 2" when at least half of it is dead


def _summary(r: dict) -> dict:
    return {"seed": r["seed"], "test_acc": r["test_acc"], "dead": r["dead"], "dead_init": r["dead_init"],
            "finite": r["finite"], "revived": r["revived"]}


def kill_seeds(runs: Sequence[dict], layer: int = 1, level: float = KILL_LEVEL) -> float:
    """The fraction of runs in which at least ``level`` of hidden layer ``layer`` (0-based) is dead
    (a diverged run, with NaN dead fractions, does not count as killed)."""
    return float(np.mean([bool(r["dead"][layer] >= level) for r in runs]))


def lr_study(seeds: Sequence[int] = range(10), lrs: Sequence[float] = LR_GRID, data=None) -> dict:
    """The learning-rate sweep of section 4.4: ReLU 64-32-32-10, SGD (momentum 0.9), batch 128,
    5 epochs, per learning rate and seed."""
    from .data import digits
    data = digits() if data is None else data
    return {str(lr): [_summary(run_digits(data, seed=s, lr=lr, batch_size=128)) for s in seeds] for lr in lrs}


def _tuned_lr(grid: Sequence[float], data, **arm) -> dict:
    from . import method

    def run(value, seed, X_fit, y_fit, X_val, y_val):
        r = run_digits((X_fit, y_fit, X_val, y_val), seed=seed, lr=value, batch_size=128, **arm)
        return r["test_acc"]

    t = method.tune(run, grid, data[0], data[1])
    return {"best": t.best, "grid": t.grid, "scores": {f"{k:g}": v for k, v in t.scores.items()},
            "extended": t.extended}


def remedy_arms(lr_sgd: float, lr_adam: float) -> dict[str, dict]:
    """The arms of section 4.6: case A (killed by lr 0.8), case B (first-layer bias -40 at the tuned
    SGD rate), moderate bad biases, and the limits of the remedies."""
    A = {"lr": KILL_LR}
    B = {"lr": lr_sgd, "first_bias": BAD_BIAS}
    adam = {"lr": lr_adam, "optimizer": "adam"}
    leaky = {"activation": "leaky"}
    leaky1 = {"activation": "leaky", "negative_slope": 0.1}
    arms = {
        "A: ReLU": A,
        "A: lower lr": {"lr": lr_sgd},
        "A: batch norm": {**A, "norm": "batch"},
        "A: centring only": {**A, "norm": "center"},
        "A: scaling only": {**A, "norm": "scale"},
        "A: leaky 0.01": {**A, **leaky},
        "A: leaky 0.1": {**A, **leaky1},
        "A: Adam": adam,
        "A: warmup": {**A, "warmup_steps": 22},
        "A: clipping": {**A, "clip": 1.0},
        "A: ReDo": {**A, "redo_every": 11},
        "B: ReLU": B,
        "B: He init, bias 0": {"lr": lr_sgd},
        "B: batch norm": {**B, "norm": "batch"},
        "B: centring only": {**B, "norm": "center"},
        "B: scaling only": {**B, "norm": "scale"},
        "B: leaky 0.01": {**B, **leaky},
        "B: leaky 0.1": {**B, **leaky1},
        "B: Adam": {**adam, "first_bias": BAD_BIAS},
        "B: leaky 0.01 + Adam": {**adam, "first_bias": BAD_BIAS, **leaky},
        "B: leaky 0.1 + Adam": {**adam, "first_bias": BAD_BIAS, **leaky1},
        "B: ReDo": {**B, "redo_every": 11},
        "lr 0.4: ReLU": {"lr": 0.4},
        "lr 0.4: leaky 0.01": {"lr": 0.4, **leaky},
        "batch norm, lr 1.6": {"lr": 1.6, "norm": "batch"},
        "batch norm, lr 3.2": {"lr": 3.2, "norm": "batch"},
    }
    for bias in (-5.0, -10.0):
        for epochs in (5, 20):
            base = {"lr": lr_sgd, "first_bias": bias, "epochs": epochs}
            tag = f"bias {bias:g}, {epochs} epochs"
            arms[f"{tag}: ReLU"] = base
            arms[f"{tag}: leaky 0.01"] = {**base, **leaky}
            arms[f"{tag}: leaky 0.1"] = {**base, **leaky1}
    return arms


def remedies_study(seeds: Sequence[int] = range(10), data=None) -> dict:
    """Tune the free learning rates on a validation split (seeds method.TUNING_SEEDS), then run every
    arm of :func:`remedy_arms` on ``seeds``."""
    from .data import digits
    data = digits() if data is None else data
    sgd = _tuned_lr([0.03, 0.1, 0.3], data)
    adam = _tuned_lr([0.003, 0.01, 0.03], data, optimizer="adam")
    arms = remedy_arms(sgd["best"], adam["best"])
    results = {name: [_summary(run_digits(data, seed=s, batch_size=128, **arm)) for s in seeds]
               for name, arm in arms.items()}
    return {"tuned_sgd": sgd, "tuned_adam": adam, "arms": {k: {kk: v for kk, v in a.items()} for k, a in arms.items()},
            "runs": results}


RAI_CONFIGS = ((4, 10), (4, 20), (8, 20))
RAI_INITS = ("rai", "he", "he_bias")
RAI_CHECKPOINT = 500


def rai_study(n_nets: int = 100, steps: int = 3000, configs=RAI_CONFIGS, inits=RAI_INITS) -> dict:
    """Train ``n_nets`` nets per initialisation and (width, depth) on |x| (:func:`train_on_abs`);
    store every net's relative MSE after ``RAI_CHECKPOINT`` steps and at the end."""
    out = {}
    for width, depth in configs:
        seed = 7 * width + depth
        early, final = train_on_abs(tuple(inits), width, depth, n_nets=n_nets, seed=seed, steps=steps,
                                    checkpoint=RAI_CHECKPOINT)
        for init in inits:
            out[f"{init} {width} {depth}"] = {"seed": seed, "early": early[init].tolist(),
                                              "final": final[init].tolist()}
    return {"steps": steps, "checkpoint": RAI_CHECKPOINT, "n_nets": n_nets, "target": "relative MSE < 0.05",
            "nets": out}


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from . import method, use_threads
    parser = argparse.ArgumentParser(description="Rerun chapter 4's stored studies.")
    parser.add_argument("study", choices=["lr", "remedies", "rai"])
    args = parser.parse_args(argv)
    use_threads()
    command = f"python -m relucourse.dying {args.study}"
    if args.study == "lr":
        path = method.save_study("dying_lr", lr_study(), command)
    elif args.study == "remedies":
        path = method.save_study("dying_remedies", remedies_study(), command)
    else:
        path = method.save_study("dying_rai", rai_study(), command)
    print(f"wrote {path}")


if __name__ == "__main__":
    _main()
