"""The one experiment method every chapter's comparisons use.

* **Tuning** happens on a validation split of the *training* data (:func:`validation_split`) with seeds
  that are never reported (:data:`TUNING_SEEDS`); :func:`tune` never sees a reported split, and a best
  value on the edge of its grid extends the grid.
* **Comparisons** are per-seed *paired* differences (same seed = same initialisation and batch order)
  with a sign count and a 95 % interval (:func:`paired`); a ranking needs at least 10 seeds.
* **Spreads** are always shown (:func:`spread`); per-layer norms are averaged in log space (:func:`log_mean`).
* **Heavy studies** are stored with the command that reruns them (:func:`save_study`, :func:`load_study`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

#: Seeds used only for tuning; results are reported for seeds 0, 1, 2, ...
TUNING_SEEDS: tuple[int, ...] = (1000, 1001)
RESULTS = Path(__file__).resolve().parent / "results"


def validation_split(X: torch.Tensor, y: torch.Tensor, fraction: float = 0.25,
                     seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Split *training* data into a fitting part and a validation part: X_fit, y_fit, X_val, y_val."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    n = len(X)
    n_val = int(round(fraction * n))
    if not 0 < n_val < n:
        raise ValueError(f"a validation fraction of {fraction} leaves an empty part of {n} rows")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, fit = order[:n_val], order[n_val:]
    return X[fit], y[fit], X[val], y[val]


@dataclass
class Tuned:
    """The outcome of :func:`tune`: the best value, the (possibly extended) grid and its mean scores."""

    best: float
    grid: list[float]
    scores: dict[float, float]
    extended: bool
    maximize: bool = True

    def __str__(self) -> str:
        cells = ", ".join(f"{v:g}: {self.scores[v]:.3f}" for v in self.grid)
        edge = "; grid extended past its edge" if self.extended else ""
        return f"best {self.best:g} on validation ({cells}){edge}"


def tune(run: Callable[..., float], grid: Sequence[float], X: torch.Tensor, y: torch.Tensor, *,
         seeds: Sequence[int] = TUNING_SEEDS, maximize: bool = True, factor: float = 3.0,
         max_extensions: int = 3, fraction: float = 0.25, split_seed: int = 0) -> Tuned:
    """Choose a hyper-parameter on a validation split of the training data ``X, y``.

    ``run(value, seed, X_fit, y_fit, X_val, y_val)`` trains with ``value`` and ``seed`` on the fitting
    part and returns its validation score. The best mean score over ``seeds`` wins (NaN counts as the
    worst). When the winner is the smallest or largest value of the grid, the grid is extended past
    that edge by ``factor`` (multiplicatively), up to ``max_extensions`` times.
    """
    if not grid:
        raise ValueError("an empty grid")
    X_fit, y_fit, X_val, y_val = validation_split(X, y, fraction, split_seed)
    worst = -math.inf if maximize else math.inf
    scores: dict[float, float] = {}

    def score(value: float) -> float:
        if value not in scores:
            results = [float(run(value, seed, X_fit, y_fit, X_val, y_val)) for seed in seeds]
            mean = float(np.mean(results))
            scores[value] = worst if math.isnan(mean) else mean
        return scores[value]

    values = sorted(set(float(v) for v in grid))
    pick = max if maximize else min
    extensions = 0
    while True:
        for v in values:
            score(v)
        best = pick(values, key=lambda v: scores[v])
        if len(values) == 1 or best not in (values[0], values[-1]) or extensions == max_extensions:
            break
        if all(v > 0 for v in values):
            new = best * factor if best == values[-1] else best / factor
        else:
            step = values[-1] - values[-2] if best == values[-1] else values[0] - values[1]
            new = best + step
        values = sorted(values + [new])
        extensions += 1
    extended = extensions > 0
    return Tuned(best=best, grid=values, scores={v: scores[v] for v in values}, extended=extended,
                 maximize=maximize)


def _t_quantile(confidence: float, df: int) -> float:
    from scipy.stats import t
    return float(t.ppf(0.5 + confidence / 2, df))


@dataclass
class Paired:
    """Per-seed paired differences a - b, their mean, a t-interval and a sign count."""

    diffs: tuple[float, ...]
    mean: float
    low: float
    high: float
    above: int
    below: int
    ties: int
    confidence: float = 0.95
    n: int = field(init=False)

    def __post_init__(self) -> None:
        self.n = len(self.diffs)

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies entirely on one side of 0."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        pct = round(100 * self.confidence)
        return (f"{self.mean:+.3f} ({pct}% CI {self.low:+.3f} to {self.high:+.3f}), "
                f"higher in {self.above}/{self.n} seeds")


def paired(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Paired:
    """Paired differences ``a[i] - b[i]`` (same seed i) with a t-interval for their mean."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired results need two equal-length lists, got {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError("a paired comparison needs at least 2 seeds")
    d = a - b
    mean = float(d.mean())
    half = _t_quantile(confidence, len(d) - 1) * float(d.std(ddof=1)) / math.sqrt(len(d))
    return Paired(diffs=tuple(float(x) for x in d), mean=mean, low=mean - half, high=mean + half,
                  above=int((d > 0).sum()), below=int((d < 0).sum()), ties=int((d == 0).sum()),
                  confidence=confidence)


@dataclass
class Spread:
    """Median and range of a result over seeds."""

    median: float
    low: float
    high: float
    n: int
    fmt: str = "{:.2f}"

    def __str__(self) -> str:
        f = self.fmt.format
        return f"{f(self.median)} ({f(self.low)} to {f(self.high)}, {self.n} seeds)"


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> Spread:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values")
    return Spread(float(np.median(v)), float(v.min()), float(v.max()), int(v.size), fmt)


def log_mean(values, axis: int = 0) -> np.ndarray:
    """Geometric mean: the average of norms taken in log space (one large seed does not dominate)."""
    v = np.asarray(values, dtype=np.float64)
    if np.any(v <= 0):
        raise ValueError("log_mean needs positive values (norms)")
    return np.exp(np.log(v).mean(axis=axis))


def save_study(name: str, results: dict, command: str, folder: Path = RESULTS) -> Path:
    """Store a heavy study's results with the command that reruns it."""
    path = Path(folder) / f"{name}.json"
    path.write_text(json.dumps({"command": command, "results": results}, indent=1, sort_keys=True) + "\n")
    return path


def load_study(name: str, folder: Path = RESULTS) -> dict:
    """A stored study: ``{"command": ..., "results": ...}``."""
    data = json.loads((Path(folder) / f"{name}.json").read_text())
    if "command" not in data or "results" not in data:
        raise ValueError(f"{name}.json is not a stored study (needs 'command' and 'results')")
    return data


def plot_paired(ax, comparisons: dict[str, Paired], xlabel: str = "difference") -> None:
    """Per-seed differences as dots, their mean and interval as a bar, and the zero line."""
    names = list(comparisons)
    rng = np.random.default_rng(0)
    for row, name in enumerate(names):
        d = comparisons[name]
        jitter = rng.uniform(-0.15, 0.15, size=d.n)
        ax.plot(d.diffs, row + jitter, "o", ms=3.5, alpha=0.6, color="0.45", zorder=2)
        ax.errorbar(d.mean, row, xerr=[[d.mean - d.low], [d.high - d.mean]], fmt="D", ms=6,
                    color="black", capsize=4, zorder=3)
    ax.axvline(0.0, color="black", lw=0.8, ls="--", zorder=1)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
