"""Chapter 2's timeline of the rectifier, from primary sources (every entry has a references.bib key)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt

from .plots import NARROW_WIDTH_IN, PALETTE, ResponsiveFigure, responsive


@dataclass(frozen=True)
class Milestone:
    year: int
    key: str          # citation key in references.bib
    label: str        # short label for the figure
    contribution: str  # what the paper did, in one line
    kind: str         # "model" (neuroscience-inspired models and circuits) or "deep learning"
    height: float = 1.0   # where the figure puts the label: above (> 0) or below (< 0) the axis
    shift: float = 0.0    # horizontal offset of the label, in years, to keep crowded labels apart


#: The milestones of chapter 2, oldest first.
TIMELINE: tuple[Milestone, ...] = (
    Milestone(1969, "fukushima1969visual", "Fukushima\nanalog threshold elements",
              "multilayer visual feature extractor built from units that pass positive input and output 0 otherwise",
              "model", 1.0),
    Milestone(1975, "fukushima1975cognitron", "Fukushima\ncognitron",
              "a self-organising multilayer network of such analog threshold cells", "model", -1.0),
    Milestone(1980, "fukushima1980neocognitron", "Fukushima\nneocognitron",
              "a hierarchical network that recognises patterns regardless of their position", "model", 1.0),
    Milestone(2000, "hahnloser2000digital", "Hahnloser et al.\nsilicon circuit (Nature)",
              "a cortex-inspired circuit of linear threshold neurons: selection and amplification coexist",
              "model", -1.0),
    Milestone(2009, "jarrett2009best", "Jarrett et al.\n|tanh| (ICCV)",
              "rectification as the absolute value of a tanh output, |tanh(x)|, not max(0, x), with local "
              "contrast normalisation: the most important ingredient for accuracy", "deep learning", 1.0, -4.0),
    Milestone(2010, "nair2010rectified", "Nair & Hinton\nname 'ReLU' (ICML)",
              "RBMs: stepped sigmoid units ~ softplus, further approximated by noisy rectified linear "
              "units; the name 'rectified linear unit'", "deep learning", -2.2, -1.5),
    Milestone(2011, "glorot2011deep", "Glorot, Bordes\n& Bengio (AISTATS)",
              "deep supervised rectifier nets train well without unsupervised pre-training; sparsity",
              "deep learning", 2.2, 1.0),
    Milestone(2012, "krizhevsky2012imagenet", "Krizhevsky et al.\nImageNet CNN",
              "ReLUs in a large CNN; a small CNN reaches 25% training error on CIFAR-10 6x faster than tanh",
              "deep learning", -1.0, 4.0),
    Milestone(2015, "he2015delving", "He et al.\nPReLU, He init",
              "a learned negative slope (PReLU) and an initialisation derived for rectifiers", "deep learning",
              1.0, 4.0),
)

KIND_COLORS = {"model": PALETTE[1], "deep learning": PALETTE[0]}
#: Told apart by shape as well as colour: circles for models, squares for deep-learning papers.
KIND_MARKERS = {"model": "o", "deep learning": "s"}
KIND_NAMES = {"model": "neuroscience-inspired models and circuits", "deep learning": "deep learning papers"}
TITLE = "The rectifier, from primary sources"

#: What the figure shows, for a reader who cannot see it (its finding first, then its content).
TIMELINE_ALT = (
    "Timeline of the rectifier from 1969 to 2015: it spent three decades in neuroscience-inspired "
    "models before deep learning took it up within four years. Models and circuits: Fukushima's "
    "analog threshold elements (1969), cognitron (1975) and neocognitron (1980), and Hahnloser "
    "et al.'s silicon circuit (2000). Deep-learning papers, all between 2009 and 2012 apart from "
    "the last: Jarrett et al.'s |tanh| rectification (2009), Nair and Hinton naming the rectified "
    "linear unit (2010), Glorot, Bordes and Bengio training deep rectifier networks without "
    "pre-training (2011), Krizhevsky et al.'s ImageNet CNN (2012) and He et al.'s PReLU and "
    "initialisation (2015).")


def _legend_handles(ax: plt.Axes) -> None:
    for kind, color in KIND_COLORS.items():
        ax.scatter([], [], color=color, marker=KIND_MARKERS[kind], label=KIND_NAMES[kind])


def plot_timeline(ax: plt.Axes | None = None, timeline=TIMELINE) -> plt.Axes:
    """Draw the milestones on a year axis, labels alternating above and below, by kind."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.8))
    ax.axhline(0, color="#666666", lw=1, zorder=1)
    years = [m.year for m in timeline]
    for m in timeline:
        color = KIND_COLORS[m.kind]
        x_label, top = m.year + m.shift, m.height * 0.85
        ax.plot([m.year, m.year, x_label], [0, top * 0.6, top], color=color, lw=1, ls="-", zorder=1)
        ax.scatter([m.year], [0], s=45, color=color, marker=KIND_MARKERS[m.kind], zorder=2)
        ax.annotate(f"{m.year}: {m.label}", (x_label, m.height), ha="center",
                    va="bottom" if m.height > 0 else "top", fontsize=10.5, color="black")
    _legend_handles(ax)
    ax.set(xlim=(min(years) - 4, max(years) + 9), ylim=(-3.6, 3.6), yticks=[],
           xlabel="year of publication", title=TITLE)
    ax.spines["left"].set_visible(False)
    ax.grid(False)
    ax.legend(loc="upper left")
    return ax


#: In the narrow layout a gap of at least this many years between two entries is drawn as a
#: dotted stretch of the axis labelled with its length (the entries are evenly spaced there).
GAP_YEARS = 10


def plot_timeline_narrow(ax: plt.Axes | None = None, timeline=TIMELINE) -> plt.Axes:
    """The same milestones down a phone's screen: one row per paper, oldest at the top."""
    if ax is None:
        _, ax = plt.subplots(figsize=(NARROW_WIDTH_IN, 0.62 * len(timeline) + 1.6))
    rows = []  # y of each milestone; a long gap takes an extra half row
    y = 0.0
    for i, m in enumerate(timeline):
        if i and m.year - timeline[i - 1].year >= GAP_YEARS:
            gap_top, y = y, y + 1.0
            ax.plot([0, 0], [gap_top + 0.2, y - 0.2], color="#666666", lw=1, ls=(0, (1, 3)))
            ax.annotate(f"{m.year - timeline[i - 1].year} years", (0, (gap_top + y) / 2),
                        xytext=(8, 0), textcoords="offset points", va="center", fontsize=9,
                        color="#444444", style="italic")
        rows.append(y)
        y += 1.0
    for i in range(1, len(timeline)):
        if timeline[i].year - timeline[i - 1].year < GAP_YEARS:
            ax.plot([0, 0], [rows[i - 1], rows[i]], color="#666666", lw=1, ls="-", zorder=1)
    for m, row in zip(timeline, rows):
        color = KIND_COLORS[m.kind]
        ax.scatter([0], [row], s=45, color=color, marker=KIND_MARKERS[m.kind], zorder=2)
        ax.annotate(str(m.year), (0, row), xytext=(-10, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=11, fontweight="bold")
        ax.annotate(m.label, (0, row), xytext=(10, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=10, linespacing=1.1)
    _legend_handles(ax)
    ax.set(xlim=(-1, 4.2), ylim=(rows[-1] + 0.5, -1.3), xticks=[], yticks=[])
    ax.set_title(TITLE, fontsize=12, loc="left")
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(False)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=9.5, handletextpad=0.3,
              borderaxespad=0)
    return ax


def show_timeline(timeline=TIMELINE) -> ResponsiveFigure:
    """The timeline in two layouts: along a year axis on a wide screen, down the page on a phone."""
    wide, ax = plt.subplots(figsize=(9, 4.8), layout="constrained")
    plot_timeline(ax, timeline)
    narrow, ax = plt.subplots(figsize=(NARROW_WIDTH_IN, 0.62 * len(timeline) + 1.6),
                              layout="constrained")
    plot_timeline_narrow(ax, timeline)
    return responsive(wide, narrow, TIMELINE_ALT)
