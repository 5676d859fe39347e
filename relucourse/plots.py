"""The course's one plot style: a colour-blind-safe palette (Okabe & Ito), readable sizes, grids.

Lines are told apart by more than colour: the style's cycle pairs each colour with its own line
style, so a reader who cannot tell two hues apart (or prints the page in grey) still can.

Figures that read on a phone: :func:`show_panels` draws a multi-panel figure twice, panels side
by side for a wide screen and stacked for a narrow one, and shows both as one HTML output
(``<picture>``: the browser picks the layout by the width of its window, in the book and in
Jupyter), with one alt text.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from cycler import cycler

#: Okabe & Ito's palette, distinguishable with the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: One line style per colour of PALETTE: solid, dashed, dash-dot, dotted, then four more dash
#: patterns, so the k-th line of a figure differs from the others by its pattern as well.
LINESTYLES = ["-", "--", "-.", ":", (0, (6, 2, 1, 2, 1, 2)), (0, (10, 3)), (0, (1, 3)),
              (0, (4, 2, 4, 2, 1, 2))]

#: Where the narrow layout of :func:`show_panels` takes over: a phone held upright, a narrow window.
NARROW_MAX_PX = 700
#: The narrow layout's width in inches: at the figure's 100 dpi it is about the 360 px a phone's
#: column gives it, so its text shows at its natural size there.
NARROW_WIDTH_IN = 3.6

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
        "axes.prop_cycle": cycler(color=PALETTE) + cycler(linestyle=LINESTYLES), "axes.grid": True, "grid.alpha": 0.3,
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


# --------------------------------------------------------------------------- wide and narrow layouts

class ResponsiveFigure:
    """Two renderings of one figure and their alt text; shown as HTML (``<picture>``).

    Jupyter and the book display it through ``_repr_html_``; its plain-text form is the alt text.
    """

    def __init__(self, wide_png: bytes, wide_px: tuple[int, int], narrow_png: bytes,
                 narrow_px: tuple[int, int], alt: str, breakpoint_px: int = NARROW_MAX_PX):
        if not alt or not alt.strip():
            raise ValueError("a figure needs alt text that says what it shows")
        self.wide_png, self.wide_px = wide_png, wide_px
        self.narrow_png, self.narrow_px = narrow_png, narrow_px
        self.alt, self.breakpoint_px = " ".join(alt.split()), breakpoint_px

    def _repr_html_(self) -> str:
        def uri(png: bytes) -> str:
            return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        (ww, wh), (nw, nh) = self.wide_px, self.narrow_px
        return (f'<picture class="course-responsive-figure">'
                f'<source media="(max-width: {self.breakpoint_px}px)" srcset="{uri(self.narrow_png)}"'
                f' width="{nw}" height="{nh}">'
                f'<img src="{uri(self.wide_png)}" width="{ww}" height="{wh}"'
                f' alt="{html.escape(self.alt, quote=True)}">'
                f'</picture>')

    def __repr__(self) -> str:
        return f"Figure (wide and narrow layouts): {self.alt}"


def _png(fig: mpl.figure.Figure) -> tuple[bytes, tuple[int, int]]:
    """A 2x ("retina") PNG of the figure and its 1x size in pixels, as a notebook shows it."""
    buf = io.BytesIO()
    dpi = fig.get_dpi()
    fig.savefig(buf, format="png", dpi=2 * dpi, bbox_inches="tight")
    from PIL import Image  # matplotlib's own dependency
    width, height = Image.open(io.BytesIO(buf.getvalue())).size
    return buf.getvalue(), (round(width / 2), round(height / 2))


def responsive(wide: mpl.figure.Figure, narrow: mpl.figure.Figure, alt: str,
               breakpoint_px: int = NARROW_MAX_PX) -> ResponsiveFigure:
    """Render both figures (then close them) into one display object with one alt text."""
    wide_png, wide_px = _png(wide)
    narrow_png, narrow_px = _png(narrow)
    plt.close(wide)
    plt.close(narrow)
    return ResponsiveFigure(wide_png, wide_px, narrow_png, narrow_px, alt, breakpoint_px)


def is_narrow(ax: plt.Axes) -> bool:
    """Whether ``ax`` belongs to the narrow (phone) layout of :func:`show_panels`."""
    return ax.figure.get_figwidth() <= NARROW_WIDTH_IN + 1e-6


def show_panels(draw: Callable, panels: int, alt: str, wide: tuple[float, float] = (11, 4),
                panel_height: float = 3.0, **subplots_kw) -> ResponsiveFigure:
    """Draw a figure of ``panels`` panels side by side (wide screens) and stacked (phones).

    ``draw(axes)`` gets a list of ``panels`` Axes and draws the figure into them; it is called
    once per layout (``len(axes)`` is the same; ``is_narrow(axes[0])`` tells the layouts apart,
    for example to move a legend below a stacked panel). ``wide`` is the wide layout's
    size in inches; the narrow one is ``NARROW_WIDTH_IN`` wide and ``panel_height`` inches per
    panel. Extra keywords (``sharey=True``...) go to ``plt.subplots``. Returns the display
    object: the last expression of a notebook cell, or ``IPython.display.display(...)``.
    """
    figures = []
    for rows, cols, size in [(1, panels, wide), (panels, 1, (NARROW_WIDTH_IN, panel_height * panels))]:
        fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained",
                                 **subplots_kw)
        draw(list(axes.flat))
        figures.append(fig)
    return responsive(*figures, alt=alt)
