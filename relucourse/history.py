"""Chapter 2's timeline of the rectifier, from primary sources (every entry has a references.bib key)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt

from .plots import PALETTE


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


def plot_timeline(ax: plt.Axes | None = None, timeline=TIMELINE) -> plt.Axes:
    """Draw the milestones on a year axis, labels alternating above and below, coloured by kind."""
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4.2))
    ax.axhline(0, color="#666666", lw=1, zorder=1)
    years = [m.year for m in timeline]
    for m in timeline:
        color = KIND_COLORS[m.kind]
        x_label, top = m.year + m.shift, m.height * 0.85
        ax.plot([m.year, m.year, x_label], [0, top * 0.6, top], color=color, lw=1, zorder=1)
        ax.scatter([m.year], [0], s=40, color=color, zorder=2)
        ax.annotate(f"{m.year}: {m.label}", (x_label, m.height), ha="center",
                    va="bottom" if m.height > 0 else "top", fontsize=8.5, color="black")
    for kind, color in KIND_COLORS.items():
        ax.scatter([], [], color=color, label="neuroscience-inspired models and circuits" if kind == "model"
                   else "deep learning papers")
    ax.set(xlim=(min(years) - 4, max(years) + 9), ylim=(-3.4, 3.4), yticks=[],
           xlabel="year of publication", title="The rectifier, from primary sources")
    ax.spines["left"].set_visible(False)
    ax.grid(False)
    ax.legend(loc="upper left")
    return ax
