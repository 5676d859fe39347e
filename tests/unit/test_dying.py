"""relucourse.dying: born-dead simulation, the digits runs of chapter 4, silent-unit counts."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from relucourse.deadunits import dead_fractions
from relucourse.dying import (born_dead_bound, born_dead_curves, digits_mlp, run_digits, silent_fractions,
                              spread)


def test_born_dead_bound_values_and_edge_cases():
    assert born_dead_bound(1, 1) == 0.5
    assert born_dead_bound(2, 0) == 0.0
    assert math.isclose(born_dead_bound(2, 5), 1 - 0.75 ** 5)
    assert born_dead_bound(60, 10) > 0                      # no cancellation to 0
    assert math.isclose(born_dead_bound(60, 10), 10 * 2.0 ** -60, rel_tol=1e-9)


def test_born_dead_curves_match_the_formula_on_the_half_line():
    c = born_dead_curves(2, 6, n_nets=3000, points=11, seed=0)
    assert list(c["depth"]) == [1, 2, 3, 4, 5, 6]
    for L in (2, 6):
        p = born_dead_bound(2, L)
        assert abs(c["dead_half"][L - 1] - p) < 5 * math.sqrt(p * (1 - p) / 3000)
    assert np.all(c["dead"] <= c["dead_half"])               # dead everywhere implies dead on x > 0
    assert np.all(np.diff(c["dead"]) >= 0)                   # cumulative over depth
    assert np.array_equal(c["dead"], c["flat"])             # bias-free He nets: flat <=> dead


def test_rai_is_rarely_dead_and_unknown_inits_fail():
    c = born_dead_curves(4, 10, n_nets=500, points=11, init="rai", seed=1)
    assert c["dead"][-1] < born_dead_bound(4, 10) / 2
    with pytest.raises(ValueError):
        born_dead_curves(4, 3, init="xavier")


def test_digits_mlp_layout_and_bad_bias():
    torch.manual_seed(0)
    net = digits_mlp((16, 8), batch_norm=True, activation="leaky", negative_slope=0.1, first_bias=-3.0)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "LeakyReLU", "Linear", "BatchNorm1d", "LeakyReLU", "Linear"]
    assert torch.all(net[0].bias == -3.0) and torch.all(net[3].bias == 0.0)
    assert net[2].negative_slope == 0.1


def test_silent_fractions_agree_with_the_monitor_and_see_leaky_units():
    torch.manual_seed(0)
    X = torch.randn(200, 64)
    net = digits_mlp((16, 16))
    with torch.no_grad():
        net[2].bias[:4] = -100.0
    assert silent_fractions(net, X) == list(dead_fractions(net, X).values()) == [0.0, 0.25]
    leaky = digits_mlp((16,), activation="leaky", first_bias=-100.0)
    leaky.train()
    assert silent_fractions(leaky, X) == [1.0] and leaky.training


def test_run_digits_is_reproducible_and_dead_first_kills_for_good():
    data = tuple(t[:300] for t in __import__("relucourse.data", fromlist=["digits"]).digits())
    a = run_digits(data, seed=3, lr=0.1, epochs=2, batch_size=64, dead_first=8)
    b = run_digits(data, seed=3, lr=0.1, epochs=2, batch_size=64, dead_first=8)
    assert a["test_acc"] == b["test_acc"] and a["dead"] == b["dead"]
    assert a["dead_init"][0] == a["dead"][0] == 8 / 32 and a["finite"]
    assert set(a) >= {"seed", "lr", "test_acc", "dead_init", "dead", "finite", "model"}


def test_diverged_runs_report_nan():
    data = tuple(t[:200] for t in __import__("relucourse.data", fromlist=["digits"]).digits())
    r = run_digits(data, seed=0, lr=50.0, epochs=3, batch_size=64, activation="leaky")
    assert not r["finite"] and math.isnan(r["test_acc"]) and all(math.isnan(v) for v in r["dead"])


def test_spread_formats_mean_and_range():
    assert spread([0.9, 1.0, 0.95]) == "0.95 (0.90-1.00)"
    assert spread([0.5, float("nan")]) == "0.50 (0.50-0.50) +1 div."
    assert spread([float("nan")] * 2) == "diverged 2/2"
