"""The course's one plot style: a colour-blind-safe palette (Okabe & Ito), readable sizes, grids."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from cycler import cycler

#: Okabe & Ito's palette, distinguishable with the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: A fixed colour per activation, so that every figure of the course agrees.
COLORS = {"relu": PALETTE[0], "sigmoid": PALETTE[1], "tanh": PALETTE[2], "leaky_relu": PALETTE[3],
          "elu": PALETTE[4], "gelu": PALETTE[5], "silu": PALETTE[7], "softplus": PALETTE[6],
          "selu": "#999999", "linear": "#666666", "identity": "#666666"}


def use_style() -> None:
    """Apply the course style to every later matplotlib figure.

    Figures are sharp on high-DPI screens: in a notebook (and so in the book) they are drawn as
    "retina" PNGs, twice the pixels at the same displayed size. Font sizes are chosen for the
    book's column (about 650 px wide): a figure of the default 6.4 in width shows at about its
    natural size, so 11 pt tick labels read as about 14 px. Wider figures are shrunk to the
    column and their text with them: keep figures at most about 8 in wide (two panels per row).
    """
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0), "figure.dpi": 100, "savefig.dpi": 200,
        "axes.prop_cycle": cycler(color=PALETTE), "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 12,
        "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11, "ytick.labelsize": 11,
        "legend.fontsize": 11, "legend.frameon": False, "lines.linewidth": 2,
        "image.cmap": "cividis",
    })
    _retina()


def _retina() -> None:
    """Inside IPython/Jupyter, send figures as 2x PNGs (with their 1x size as metadata)."""
    try:
        from IPython import get_ipython
        if get_ipython() is None:
            return
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("retina")
    except Exception:  # no IPython, or an old matplotlib_inline: plain PNGs are fine
        pass


def decision_boundary(ax, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                      title: str = "", resolution: int = 200) -> None:
    """Shade the class a 2-D classifier predicts over the data's range and scatter the data."""
    lo, hi = X.min(0).values.numpy() - 0.3, X.max(0).values.numpy() + 0.3
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        pred = model(grid).argmax(1).reshape(xx.shape).numpy()
    cmap = mpl.colors.ListedColormap([PALETTE[5], PALETTE[1]])
    ax.contourf(xx, yy, pred, levels=[-0.5, 0.5, 1.5], cmap=cmap, alpha=0.35)
    for label, marker in [(0, "o"), (1, "s")]:
        pts = X[y == label].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=12, marker=marker, color=[PALETTE[0], PALETTE[3]][label],
                   label=f"class {label}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title)
    ax.legend(loc="lower right")


def close_all() -> None:
    plt.close("all")
