"""relucourse.history: every milestone is cited from references.bib and the figure draws them all."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from conftest import ROOT  # noqa: E402
from relucourse.history import TIMELINE, plot_timeline  # noqa: E402


def test_every_milestone_has_a_reference_and_is_in_order():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    years = [m.year for m in TIMELINE]
    assert years == sorted(years)
    for m in TIMELINE:
        assert m.key in keys, m.key
        assert str(m.year) in m.key          # the key's year agrees with the plotted year
        assert m.kind in ("model", "deep learning")


def test_the_issue_s_milestones_are_all_there():
    keys = {m.key for m in TIMELINE}
    assert {"fukushima1969visual", "fukushima1975cognitron", "fukushima1980neocognitron",
            "hahnloser2000digital", "jarrett2009best", "nair2010rectified", "glorot2011deep",
            "krizhevsky2012imagenet", "he2015delving"} <= keys


def test_plot_timeline_labels_every_milestone():
    fig, ax = plt.subplots()
    plot_timeline(ax)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(TIMELINE)
    assert all(any(str(m.year) in t for t in texts) for m in TIMELINE)
    assert ax.get_xlabel() and ax.get_title() and ax.get_legend() is not None
    plt.close(fig)


def test_jarrett_is_the_absolute_value_of_tanh_and_nair_hinton_named_relu():
    by_key = {m.key: m for m in TIMELINE}
    jarrett = by_key["jarrett2009best"]
    assert "|tanh" in jarrett.contribution and "|tanh|" in jarrett.label
    assert "not max(0, x)" in jarrett.contribution
    nair = by_key["nair2010rectified"]
    assert "softplus" in nair.contribution and "name" in nair.contribution


def test_the_narrow_timeline_labels_every_milestone_one_row_each_oldest_first():
    from relucourse.history import plot_timeline_narrow
    fig, ax = plt.subplots()
    plot_timeline_narrow(ax)
    texts = [t for t in ax.texts if t.get_text().isdigit()]
    assert [int(t.get_text()) for t in texts] == [m.year for m in TIMELINE]
    rows = [t.xy[1] for t in texts]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)  # one row each, top to bottom
    assert ax.yaxis_inverted()
    bottom, top = ax.get_ylim()
    assert top < min(rows) and bottom > max(rows)  # every row inside the axes
    assert any("20 years" in t.get_text() for t in ax.texts)  # the gap 1980-2000 is marked
    assert ax.get_legend() is not None
    plt.close(fig)


def test_show_timeline_gives_both_layouts_and_an_alt_text_with_the_finding():
    from relucourse.history import TIMELINE_ALT, show_timeline
    fig = show_timeline()
    assert fig.alt == TIMELINE_ALT
    assert "three decades" in fig.alt and "within four years" in fig.alt
    assert all(str(m.year) in fig.alt for m in TIMELINE)
    assert fig.wide_px[0] > fig.wide_px[1] and fig.narrow_px[1] > fig.narrow_px[0]
    assert fig.narrow_px[0] <= 380  # drawn for a phone's column, not shrunk into it
    assert not plt.get_fignums()
