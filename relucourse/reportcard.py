"""The course's capstone: a report card for any activation function, measured in a few seconds.

``report_card(f)`` takes an activation (a name such as ``"relu"``, an ``nn.Module`` class or
instance, or any elementwise function of a tensor) and measures, with the tools of chapters 1-5:

* **shape**: f and its derivative f' on [-4, 4] (autograd), for the figure;
* **gradient gain through depth** (chapter 3): a deep MLP under a chosen initialisation, one
  backward pass on digits; the norm of the backward signal ||dL/dz_l|| at every layer's
  pre-activation z_l; a straight line fitted to log ||dL/dz_l||^2 against l; the **gain per layer**
  is the factor by which the SQUARED signal changes per layer towards the input, the course's one
  meaning of gain (glossary, chapter 3, :func:`relucourse.gradflow.fitted_gain`; 1 = it survives
  depth, below 1 = it vanishes, above 1 = it explodes), averaged in log space over 5 seeds;
* **cost** (chapter 3): the median time of ``f(x)`` against the median time of a memory copy of
  the same float32 tensor on the CPU, with :func:`relucourse.bench.time_it`, in interleaved
  rounds. An arbitrary Python function cannot write into a preallocated output, so here both the
  copy (``x.clone()``) and the activation allocate their result: the same memory work. The
  score is the copy's time divided by the activation's, in percent (100 % = as fast as a copy);
* **dead units after training** (chapter 4): the fraction of hidden units whose derivative
  f'(z) is exactly 0 on every training input, so that no gradient can ever reach their incoming
  weights. For ReLU this is the usual definition (z <= 0 on every input);
* **epochs to a target** (chapter 3): a small MLP on the digits, SGD with momentum, one fixed
  recipe for every activation, counting the epochs until the training accuracy first reaches
  the target; the median over seeds (``None`` if a seed never gets there).

Everything except the cost is deterministic for given seeds. :func:`format_cards` prints cards
side by side as a table; :func:`plot_cards` draws them in one figure.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from . import bench
from .data import digits
from .gradflow import fitted_gain
from .measure import epochs_to_target, forward_pass_with_hooks
from .method import log_mean
from .train import ACTIVATIONS, init_linear_, train


class Elementwise(nn.Module):
    """Wrap an elementwise function of a tensor as a module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], name: str = "f"):
        super().__init__()
        self.fn, self.name = fn, name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def as_module_factory(activation) -> tuple[Callable[[], nn.Module], str]:
    """(a function that returns a fresh activation module, a name) for any accepted activation."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        return ACTIVATIONS[activation], activation
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation, activation.__name__.lower()
    if isinstance(activation, nn.Module):
        return (lambda: activation), type(activation).__name__.lower()
    if callable(activation):
        name = getattr(activation, "__name__", "f")
        return (lambda: Elementwise(activation, name)), name
    raise TypeError(f"expected an activation name, module or function, got {type(activation).__name__}")


def make_mlp(sizes: Sequence[int], factory: Callable[[], nn.Module], init: str = "he") -> nn.Sequential:
    """Linear layers of ``sizes`` with a fresh ``factory()`` module between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(factory())
    return init_linear_(nn.Sequential(*layers), init)


# --------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------

def backward_signal(model: nn.Sequential, X: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dz_l|| for every nn.Linear's output z_l (first layer first), cross-entropy loss.

    The backward signal, not the weight gradient: dL/dW_l = dL/dz_l * h_{l-1}^T also depends on
    the forward activations, which can hide a vanishing signal.
    """
    outputs: list[torch.Tensor] = []

    def keep(module, inputs, output):
        output.retain_grad()
        outputs.append(output)

    handles = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        loss = F.cross_entropy(model(X), y)
        model.zero_grad(set_to_none=True)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    norms = [o.grad.norm().item() if o.grad is not None else 0.0 for o in outputs]
    model.zero_grad(set_to_none=True)
    return norms


def layer_gain(norms: Sequence[float]) -> float:
    """The course's gain per layer (glossary, chapter 3): the factor on the SQUARED norm of the backward
    signal from one layer to the one below it, from :func:`relucourse.gradflow.fitted_gain` (a
    least-squares line through log(norm^2)). ``norms[0]`` is the input-side layer. Zeros or non-finite
    norms (a signal that died or overflowed) give ``nan``.
    """
    values = [float(v) for v in norms]
    if len(values) < 2 or not all(math.isfinite(v) and v > 0 for v in values):
        return math.nan
    return fitted_gain(values)


def gradient_gain(factory, X, y, *, depth: int = 20, width: int = 64, init: str = "he",
                  seeds: Sequence[int] = (0, 1, 2, 3, 4)) -> tuple[float, list[float], list[float], list[list[float]]]:
    """The gain per layer over ``seeds``: (its log-space mean, the log-space mean norm per layer,
    the gain of every seed, the norms of every seed). Norms and gains are averaged in log space
    (:func:`relucourse.method.log_mean`), so one large seed does not dominate."""
    gains, all_norms = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        model = make_mlp([X.shape[1]] + [width] * depth + [int(y.max()) + 1], factory, init)
        norms = backward_signal(model, X, y)[:-1]   # the hidden layers; the output layer is fixed by the loss
        all_norms.append(norms)
        gains.append(layer_gain(norms))
    finite = all(math.isfinite(g) and g > 0 for g in gains)
    gain = float(log_mean(gains)) if finite else math.nan
    positive = all(v > 0 and math.isfinite(v) for row in all_norms for v in row)
    mean_norms = log_mean(all_norms, axis=0).tolist() if positive else np.mean(all_norms, axis=0).tolist()
    return gain, mean_norms, gains, all_norms


def speed_vs_copy(fn: Callable[[torch.Tensor], torch.Tensor], size: int = 2**20,
                  rounds: int = 15) -> float:
    """The copy's median time divided by ``fn``'s, in percent (float32, CPU, both allocating)."""
    x = torch.randn(size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        jobs = {"copy": lambda: x.clone(), "f": lambda: fn(x)}
        for job in jobs.values():
            bench.time_it(job, warmup=2, repeats=1)
        times: dict[str, list[float]] = {k: [] for k in jobs}
        for _ in range(rounds):
            for k, job in jobs.items():
                times[k].append(bench.time_it(job, warmup=0, repeats=1))
    return 100 * statistics.median(times["copy"]) / statistics.median(times["f"])


def dead_fraction(model: nn.Sequential, X: torch.Tensor) -> float:
    """Fraction of hidden units whose activation derivative is exactly 0 on every row of ``X``.

    The activation modules are the children that are not nn.Linear; the derivative at each
    unit's pre-activation comes from autograd, so any elementwise activation works.
    """
    acts = [m for m in model if not isinstance(m, nn.Linear)]
    inputs: list[torch.Tensor] = []

    def keep(module, args, output):
        inputs.append(args[0].detach())

    forward_pass_with_hooks(model, X, acts, lambda i, m: keep)
    dead = total = 0
    for act, z in zip(acts, inputs):
        z = z.clone().requires_grad_(True)
        with torch.enable_grad():
            (slope,) = torch.autograd.grad(act(z).sum(), z)
        dead += int((slope == 0).all(dim=0).sum())
        total += z.shape[1]
    return dead / total if total else 0.0


def train_small(factory, X, y, X_test, y_test, *, hidden: Sequence[int] = (64, 64, 64), lr: float = 0.05,
                epochs: int = 20, target: float = 0.98, seed: int = 0, init: str = "he"):
    """Train the card's small MLP on the digits; return (model, history)."""
    torch.manual_seed(seed)
    model = make_mlp([X.shape[1], *hidden, int(y.max()) + 1], factory, init)
    history = train(model, X, y, epochs=epochs, lr=lr, batch_size=64, seed=seed, X_val=X_test,
                    y_val=y_test, stop_at=target)
    return model, history


# --------------------------------------------------------------------------------------------
# The card
# --------------------------------------------------------------------------------------------

@dataclass
class ReportCard:
    """One activation's measurements; see the module docstring for what each field means."""
    name: str
    init: str
    gain: float                      # factor on the squared backward signal per layer at init (log mean)
    speed_pct: float | None          # % of a memory copy's speed (float32, CPU); None if skipped
    dead: float                      # fraction of hidden units dead after training (mean over seeds)
    epochs: float | None             # median epochs to the target (None: not reached in most seeds)
    test_acc: float                  # mean test accuracy at the end of training
    target: float
    depth: int
    seeds: tuple[int, ...]
    layer_norms: list[float] = field(repr=False, default_factory=list)
    curves: list[list[float]] = field(repr=False, default_factory=list)
    x: list[float] = field(repr=False, default_factory=list)
    f: list[float] = field(repr=False, default_factory=list)
    df: list[float] = field(repr=False, default_factory=list)
    epochs_per_seed: list[int | None] = field(repr=False, default_factory=list)
    gains: list[float] = field(repr=False, default_factory=list)          # the gain of every depth seed
    norms_per_seed: list[list[float]] = field(repr=False, default_factory=list)
    gain_seeds: tuple[int, ...] = ()


def report_card(activation, name: str | None = None, *, init: str = "he", depth: int = 20,
                seeds: Sequence[int] = (0, 1, 2), gain_seeds: Sequence[int] = (0, 1, 2, 3, 4),
                lr: float = 0.05, epochs: int = 20, target: float = 0.98, cost: bool = True,
                data=None) -> ReportCard:
    """Measure ``activation``'s report card (takes a few seconds with one CPU thread).

    ``init`` is the initialisation of the depth test and of the training runs ("he", "xavier"
    or "default"); ``gain_seeds`` are the depth test's seeds (at least 5 for a spread), ``seeds``
    the training runs'; ``cost=False``
    skips the (non-deterministic) timing. ``data`` defaults to :func:`relucourse.data.digits`.
    """
    factory, default_name = as_module_factory(activation)
    name = name or default_name
    X, y, X_test, y_test = data if data is not None else digits()
    probe = factory()

    grid = torch.linspace(-4, 4, 161, requires_grad=True)
    with torch.enable_grad():
        values = probe(grid)
        (slope,) = torch.autograd.grad(values.sum(), grid)

    gain, layer_norms, gains, norms_per_seed = gradient_gain(factory, X[:256], y[:256], depth=depth,
                                                             init=init, seeds=gain_seeds)
    speed = speed_vs_copy(probe) if cost else None

    deads, per_seed, accs, curves = [], [], [], []
    for seed in seeds:
        model, history = train_small(factory, X, y, X_test, y_test, lr=lr, epochs=epochs, target=target,
                                     seed=seed, init=init)
        deads.append(dead_fraction(model, X))
        per_seed.append(epochs_to_target(history["train_acc"], target)
                        if math.isfinite(history["loss"][-1]) else None)
        accs.append(history["val_acc"][-1] if math.isfinite(history["loss"][-1]) else 0.0)
        curves.append(history["train_acc"])
    reached = sorted(e for e in per_seed if e is not None)
    median = statistics.median(reached) if len(reached) * 2 > len(seeds) else None
    return ReportCard(name=name, init=init, gain=gain, speed_pct=speed, dead=float(np.mean(deads)),
                      epochs=median, test_acc=float(np.mean(accs)), target=target, depth=depth,
                      seeds=tuple(seeds), layer_norms=layer_norms, curves=curves,
                      x=grid.detach().tolist(), f=values.detach().tolist(), df=slope.tolist(),
                      epochs_per_seed=per_seed, gains=gains, norms_per_seed=norms_per_seed,
                      gain_seeds=tuple(gain_seeds))


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _range(values: Sequence[float]) -> str | None:
    if not values or not all(math.isfinite(v) for v in values):
        return None
    return f"{min(values):.2f}-{max(values):.2f}"


def format_cards(cards: Sequence[ReportCard], cost: bool = True) -> str:
    """The cards side by side, one row per criterion (fits 68 characters for up to 3 cards)."""
    width = 11
    first = cards[0]
    rows = [("", [c.name[:width - 1] for c in cards], "s"),
            (f"gain/layer ({first.init}, depth {first.depth})", [c.gain for c in cards], ".2f"),
            (f"  lowest-highest of {len(first.gains)} seeds", [_range(c.gains) for c in cards], "s")]
    if cost:
        rows.append(("speed, % of a copy (f32 CPU)", [c.speed_pct for c in cards], ".0f"))
    rows += [("dead units after training, %", [100 * c.dead for c in cards], ".1f"),
             (f"median epochs to {first.target:.0%} train", [c.epochs for c in cards], "g"),
             ("test accuracy at the end", [c.test_acc for c in cards], ".3f")]
    lines = [f"{label:<33}" + "".join(f"{_cell(v, fmt):>{width}}" for v in values)
             for label, values, fmt in rows]
    return "\n".join(lines)


#: The panels :func:`draw_cards` can draw.
CARD_PANELS = ("function", "derivative", "gain", "training")


def draw_cards(axes, cards: Sequence[ReportCard], panels: Sequence[str] = CARD_PANELS,
               colors: Sequence[str] | None = None) -> None:
    """Draw ``panels`` (names from :data:`CARD_PANELS`) of ``cards`` into ``axes``, one panel each:
    f, f', the backward signal per layer (log mean over seeds with the seeds' range) and the
    training curves. Made for :func:`relucourse.plots.show_panels`."""
    from matplotlib.ticker import MaxNLocator

    from .plots import COLORS, PALETTE, is_narrow

    colors = list(colors or [COLORS.get(c.name, PALETTE[i % len(PALETTE)]) for i, c in enumerate(cards)])
    for ax, panel in zip(axes, panels):
        for card, color in zip(cards, colors):
            if panel == "function":
                ax.plot(card.x, card.f, color=color, label=card.name)
            elif panel == "derivative":
                ax.plot(card.x, card.df, color=color, label=card.name)
            elif panel == "gain":
                layers = range(1, len(card.layer_norms) + 1)
                ax.semilogy(layers, card.layer_norms, color=color, label=f"{card.name} (gain {card.gain:.2f})")
                if len(card.norms_per_seed) > 1:
                    per_seed = np.asarray(card.norms_per_seed)
                    ax.fill_between(layers, per_seed.min(0), per_seed.max(0), color=color, alpha=0.2, lw=0)
            elif panel == "training":
                for i, curve in enumerate(card.curves):
                    ax.plot(range(1, len(curve) + 1), curve, color=color, alpha=0.8,
                            label=card.name if i == 0 else None)
            else:
                raise ValueError(f"unknown panel {panel!r}: use names from {CARD_PANELS}")
        where = "upper left"
        if panel == "function":
            ax.set(xlabel="input x", ylabel="f(x)", title="the function")
        elif panel == "derivative":
            ax.set(xlabel="input x", ylabel="f'(x)", title="its derivative")
        elif panel == "gain":
            ax.set(xlabel="layer (1 = input side)", ylabel="backward signal ‖∂L/∂z‖",
                   title=f"at init ({cards[0].init}): log mean, seed range")
            lowest = min(min(min(n) for n in c.norms_per_seed or [c.layer_norms]) for c in cards if c.layer_norms)
            highest = max(max(max(n) for n in c.norms_per_seed or [c.layer_norms]) for c in cards if c.layer_norms)
            ax.set_ylim(lowest / 6, highest * 1.5)   # room for the legend below the curves
            where = "lower left"
        else:
            ax.axhline(cards[0].target, color="grey", ls=":", lw=1)
            ax.set(xlabel="epoch", ylabel="training accuracy", ylim=(0, 1.02), title="training on the digits")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            where = "lower right"
        if panel == "gain" and is_narrow(ax):
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1)
        else:
            ax.legend(loc=where)


def plot_cards(cards: Sequence[ReportCard], colors: Sequence[str] | None = None):
    """Four panels (two per row): f, f', backward signal per layer, training curves. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(8.5, 6.4))
    draw_cards(list(axes.flat), cards, colors=colors)
    fig.tight_layout()
    return fig


def leaky_tanh(x: torch.Tensor) -> torch.Tensor:
    """The chapter's invented activation: ``x`` for ``x > 0``, ``0.25 tanh(x)`` otherwise.

    Written with PyTorch operations it runs as four kernels (``gt``, ``tanh``, ``mul``, ``where``).
    """
    return torch.where(x > 0, x, 0.25 * torch.tanh(x))


#: The settings of :func:`fusion_study`; ``python -m relucourse.reportcard`` re-runs it.
FUSION = {"sizes": [2**14, 2**16], "rounds": 31, "threads": 1}
FUSION_RERUN = "python -m relucourse.reportcard"


def fusion_study(sizes: Sequence[int] = tuple(FUSION["sizes"]), rounds: int = FUSION["rounds"]) -> dict:
    """What ``torch.compile`` changes for :func:`leaky_tanh` on this CPU (float32, no autograd).

    Times, in interleaved rounds (median of ``rounds``), a copy (``x.clone()``), ``torch.tanh``
    alone, :func:`leaky_tanh` as written (four kernels) and ``torch.compile(leaky_tanh)`` (one fused
    loop), at each size (2^14 and 2^16 values, 64 and 256 KB: short calls that a busy machine rarely
    interrupts). Also records the seconds of the first compiled call (the compilation). Returns a
    JSON-friendly dict: per size, nanoseconds per element and percent of the copy's speed.
    """
    import time

    fns = {"copy": lambda x: x.clone(), "tanh": torch.tanh, "eager": leaky_tanh}
    start = time.perf_counter()
    compiled = torch.compile(leaky_tanh)
    with torch.no_grad():
        probe = torch.randn(1000, generator=torch.Generator().manual_seed(1))
        same = bool(torch.allclose(compiled(probe), leaky_tanh(probe), atol=1e-6))
    compile_s = time.perf_counter() - start
    fns["compiled"] = compiled
    out = {"settings": {"sizes": list(sizes), "rounds": rounds, "threads": torch.get_num_threads()},
           "torch": torch.__version__, "compile_s": compile_s, "compiled_matches": same, "sizes": {}}
    for size in sizes:
        x = torch.randn(size, generator=torch.Generator().manual_seed(0))
        times: dict[str, list[float]] = {k: [] for k in fns}
        with torch.no_grad():
            for f in fns.values():
                bench.time_it(lambda: f(x), warmup=2, repeats=1)
            for _ in range(rounds):
                for k, f in fns.items():
                    times[k].append(bench.time_it(lambda: f(x), warmup=0, repeats=1))
        med = {k: statistics.median(v) for k, v in times.items()}
        out["sizes"][str(size)] = {k: {"ns_per_element": 1e9 * t / size,
                                       "percent_of_copy": 100 * med["copy"] / t}
                                   for k, t in med.items()}
    return out


__all__ = ["leaky_tanh", "FUSION", "FUSION_RERUN", "fusion_study", "Elementwise", "as_module_factory", "make_mlp", "backward_signal", "layer_gain",
           "gradient_gain", "speed_vs_copy", "dead_fraction", "train_small", "ReportCard",
           "report_card", "format_cards", "CARD_PANELS", "draw_cards", "plot_cards"]


if __name__ == "__main__":  # python -m relucourse.reportcard: re-runs fusion_study into results/
    from . import method

    torch.set_num_threads(FUSION["threads"])
    print(f"saved to {method.save_study('fusion_study', fusion_study(), FUSION_RERUN)}")
