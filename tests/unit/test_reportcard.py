"""The report card: each measurement on cases whose answer is known, and one full card."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from relucourse import deadunits
from relucourse import gradflow, reportcard
from relucourse.reportcard import (Elementwise, as_module_factory, backward_signal, dead_fraction,
                                   format_cards, gradient_gain, layer_gain, make_mlp, report_card,
                                   speed_vs_copy)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_layer_gain_is_the_factor_on_the_squared_norm_as_in_chapter_3():
    assert layer_gain([8.0, 4.0, 2.0, 1.0]) == pytest.approx(4.0)     # norm x2 per layer: squared norm x4
    assert layer_gain([1.0] * 5) == pytest.approx(1.0)
    assert layer_gain(0.5 ** -np.arange(6)) == pytest.approx(0.25)
    norms = [3.0, 2.5, 1.0, 0.7, 0.6]
    assert layer_gain(norms) == gradflow.fitted_gain(norms)           # one function, one meaning
    assert math.isnan(layer_gain([1.0, 0.0, 2.0]))
    assert math.isnan(layer_gain([1.0, math.inf]))
    assert math.isnan(layer_gain([1.0]))
    assert not hasattr(reportcard, "fitted_gain") or reportcard.fitted_gain is gradflow.fitted_gain


def test_as_module_factory_accepts_names_classes_modules_and_functions():
    x = torch.linspace(-2, 2, 9)
    for act in ["relu", nn.ReLU, nn.ReLU(), torch.relu, lambda t: t.clamp(min=0)]:
        factory, name = as_module_factory(act)
        assert torch.equal(factory()(x), torch.relu(x)), name
    assert as_module_factory(torch.relu)[1] == "relu"
    with pytest.raises(ValueError):
        as_module_factory("no-such-activation")
    with pytest.raises(TypeError):
        as_module_factory(3)


def test_backward_signal_is_one_norm_per_linear_layer_and_removes_its_hooks():
    torch.manual_seed(0)
    model = make_mlp([5, 7, 7, 3], as_module_factory("tanh")[0], "xavier")
    X, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    norms = backward_signal(model, X, y)
    assert len(norms) == 3 and all(n > 0 for n in norms)
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_gain_matches_the_theory_for_relu():
    """He init keeps ReLU's backward signal (gain ~1); the default init shrinks it by ~sqrt(1/6)."""
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(256, 64, generator=g), torch.randint(0, 10, (256,), generator=g)
    he, norms, gains, per_seed = gradient_gain(as_module_factory("relu")[0], X, y, init="he")
    default = gradient_gain(as_module_factory("relu")[0], X, y, init="default")[0]
    assert 0.8 < he < 1.2                 # He: fan_in Var(w) E[relu'^2] = 2 * 1/2 = 1
    assert 0.1 < default < 0.25           # default: 1/3 * 1/2 = 1/6 on the squared norm
    assert len(gains) == len(per_seed) == 5 and len(norms) == 20
    assert he == pytest.approx(math.exp(np.mean(np.log(gains))))       # log-space mean over seeds
    assert norms[0] == pytest.approx(math.exp(np.mean(np.log([n[0] for n in per_seed]))))


def test_dead_fraction_agrees_with_the_dead_unit_monitor_for_relu():
    torch.manual_seed(1)
    model = make_mlp([4, 16, 16, 2], as_module_factory("relu")[0], "he")
    with torch.no_grad():
        model[0].bias[:5] = -100.0   # five dead units in the first layer
    X = torch.randn(300, 4)
    monitor = deadunits.dead_fractions(model, X)
    expected = sum(frac * 16 for frac in monitor.values()) / 32
    assert dead_fraction(model, X) == pytest.approx(expected)
    assert dead_fraction(model, X) >= 5 / 32


def test_dead_fraction_counts_zero_slope_for_any_activation():
    model = nn.Sequential(nn.Linear(3, 4), Elementwise(lambda t: torch.clamp(t, -1, 1)), nn.Linear(4, 1))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([5.0, -5.0, 0.5, 0.0]))
    assert dead_fraction(model, torch.randn(50, 3)) == pytest.approx(0.5)


def test_speed_vs_copy_is_a_positive_percentage():
    assert speed_vs_copy(torch.relu, size=2**14, rounds=3) > 0


def test_report_card_runs_and_formats_within_68_columns():
    card = report_card("relu", seeds=(0,), depth=6, epochs=3, cost=False)
    assert card.name == "relu" and card.speed_pct is None
    assert 0.6 < card.gain < 1.5 and 0 <= card.dead <= 1 and card.test_acc > 0.5
    assert len(card.gains) == 5 and min(card.gains) <= card.gain <= max(card.gains)
    assert len(card.x) == len(card.f) == len(card.df) == 161
    assert card.df[0] == 0.0 and card.df[-1] == 1.0
    text = format_cards([card, card, card], cost=False)
    assert all(len(line) <= 68 for line in text.splitlines())
    assert "dead units" in text and "lowest-highest of 5 seeds" in text


def test_leaky_tanh_is_the_identity_above_zero_and_a_quarter_tanh_below():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
    expected = torch.tensor([0.25 * math.tanh(-2.0), 0.25 * math.tanh(-0.5), 0.0, 0.5, 3.0])
    assert torch.allclose(reportcard.leaky_tanh(x), expected)


def test_fusion_study_times_every_variant_at_every_size(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda f: (lambda x: f(x)))  # no compiler needed here
    out = reportcard.fusion_study(sizes=(1000, 4000), rounds=2)
    assert out["compiled_matches"] and out["compile_s"] >= 0
    assert set(out["sizes"]) == {"1000", "4000"}
    for row in out["sizes"].values():
        assert set(row) == {"copy", "tanh", "eager", "compiled"}
        assert row["copy"]["percent_of_copy"] == pytest.approx(100)
        assert all(v["ns_per_element"] > 0 for v in row.values())


def test_draw_cards_draws_the_named_panels_and_rejects_others():
    import matplotlib.pyplot as plt
    x = np.linspace(-4, 4, 9)
    card = reportcard.ReportCard(
        name="relu", init="he", gain=1.0, speed_pct=None, dead=0.0, epochs=2, test_acc=0.9,
        target=0.98, depth=3, seeds=(0,), layer_norms=[1.0, 0.9, 0.8], curves=[[0.5, 0.9, 0.99]],
        x=list(x), f=list(np.maximum(x, 0)), df=list((x > 0).astype(float)),
        norms_per_seed=[[1.0, 0.9, 0.8], [1.1, 1.0, 0.7]])
    fig, axes = plt.subplots(1, 4)
    reportcard.draw_cards(list(axes), [card])
    assert [ax.get_title() for ax in axes][:2] == ["the function", "its derivative"]
    assert axes[2].get_yscale() == "log" and len(axes[2].collections) == 1
    assert axes[3].get_ylabel() == "training accuracy"
    with pytest.raises(ValueError):
        reportcard.draw_cards([axes[0]], [card], panels=["colour"])
    plt.close(fig)
