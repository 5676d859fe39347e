"""relucourse.plots: a palette that colour-blind readers can tell apart, lines told apart by more
than colour, and figures in two layouts (wide and phone) with their alt text."""

import base64
import itertools
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from relucourse import plots  # noqa: E402

# Machado, Oliveira & Fernandes (2009), full-severity dichromacy, on linear sRGB.
DICHROMACY = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}
# CIE76 colour difference: about 2.3 is just noticeable; 15 is two clearly different colours.
MIN_DELTA_E = 15


def _linear(rgb):
    c = np.asarray(rgb, dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb):
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear_rgb
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(colors, vision=None):
    """The smallest colour difference between two of ``colors`` as a dichromat sees them."""
    m = np.eye(3) if vision is None else np.array(DICHROMACY[vision])
    labs = [_lab(np.clip(m @ _linear(to_rgb(c)), 0, 1)) for c in colors]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(labs, 2))


@pytest.mark.parametrize("vision", [None, *DICHROMACY])
def test_every_two_palette_colours_differ_for_colour_blind_readers(vision):
    assert closest_pair(plots.PALETTE, vision) >= MIN_DELTA_E


def test_the_colour_blindness_check_rejects_a_palette_that_is_not_safe():
    tab10 = plt.rcParamsDefault["axes.prop_cycle"].by_key()["color"]  # matplotlib's default
    assert closest_pair(tab10, "deuteranopia") < MIN_DELTA_E
    assert closest_pair(["#D62728", "#2CA02C"], "deuteranopia") < MIN_DELTA_E  # red vs green


def test_the_style_pairs_every_colour_with_its_own_line_style():
    plots.use_style()
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
    assert cycle["color"] == plots.PALETTE
    styles = [str(s) for s in cycle["linestyle"]]
    assert len(styles) == len(plots.PALETTE) == len(set(styles))


def _dash(line):
    return (line.get_linestyle(), tuple(line._dash_pattern[1] or ()))


def test_lines_of_one_figure_differ_by_more_than_colour():
    plots.use_style()
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    lines = [ax.plot(x, x + k)[0] for k in range(len(plots.PALETTE))]
    assert len({_dash(line) for line in lines}) == len(lines)
    assert [line.get_color() for line in lines] == [c.lower() for c in plots.PALETTE] or \
        [matplotlib.colors.to_hex(line.get_color()) for line in lines] == \
        [c.lower() for c in plots.PALETTE]
    # a chapter that picks each line's colour (COLORS["relu"]...) still gets distinct patterns
    fig2, ax2 = plt.subplots()
    picked = [ax2.plot(x, x + k, color=c)[0] for k, c in
              enumerate([plots.COLORS["relu"], plots.COLORS["tanh"], plots.COLORS["sigmoid"]])]
    assert len({_dash(line) for line in picked}) == 3
    # and an explicit line style wins
    assert ax2.plot(x, x, ls=":")[0].get_linestyle() == ":"
    plt.close(fig)
    plt.close(fig2)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_show_panels_draws_side_by_side_and_stacked_layouts_with_alt_text():
    plots.use_style()
    calls = []

    def draw(axes):
        calls.append((len(axes), plots.is_narrow(axes[0])))
        for k, ax in enumerate(axes):
            ax.plot([0, 1], [0, k])
            ax.set(xlabel="x", ylabel="y", title=f"panel {k}")

    fig = plots.show_panels(draw, 3, alt='Three panels: the slope grows from 0 to 2 "quickly" & <surely>.',
                            wide=(11, 3.5), panel_height=2.8)
    assert calls == [(3, False), (3, True)]  # wide first, then narrow
    assert not plt.get_fignums()  # both figures closed after rendering
    (ww, wh), (nw, nh) = _png_size(fig.wide_png), _png_size(fig.narrow_png)
    assert abs(ww - 2 * fig.wide_px[0]) <= 1 and abs(wh - 2 * fig.wide_px[1]) <= 1  # retina: 2x
    assert ww > wh and nh > nw  # side by side; stacked
    assert 300 <= fig.narrow_px[0] <= 380  # shown about 1:1 in a phone's column
    html = fig._repr_html_()
    assert re.fullmatch(r'<picture[^>]*><source media="\(max-width: 700px\)" srcset="data:image/png;'
                        r'base64,[A-Za-z0-9+/=]+" width="\d+" height="\d+"><img src="data:image/png;'
                        r'base64,[A-Za-z0-9+/=]+" width="\d+" height="\d+" alt="[^"]+"></picture>', html)
    assert 'alt="Three panels: the slope grows from 0 to 2 &quot;quickly&quot; &amp; &lt;surely&gt;."' in html
    narrow_uri = re.search(r'srcset="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(narrow_uri) == fig.narrow_png
    assert "slope grows" in repr(fig)


def test_a_responsive_figure_needs_alt_text():
    with pytest.raises(ValueError, match="alt text"):
        plots.show_panels(lambda axes: None, 2, alt="  ")
    plt.close("all")
