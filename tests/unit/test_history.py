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
