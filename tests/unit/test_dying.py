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


# -- chapter 4's studies: partial batch norm, the training loop and its remedies, |x| nets ------------

from relucourse.dying import (PartialNorm, kill_seeds, lr_study, remedy_arms, train_digits,  # noqa: E402
                              train_on_abs)


def _small():
    from relucourse.data import digits
    return tuple(t[:300] for t in digits())


def test_partial_norm_centres_or_scales_only():
    x = torch.randn(50, 4) * 3 + 5
    c, s = PartialNorm(4, "center"), PartialNorm(4, "scale")
    assert torch.allclose(c(x).mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(s(x).std(0, unbiased=False), torch.ones(4), atol=1e-3)
    assert torch.all(torch.sign(s(x)) == torch.sign(x))          # scaling keeps every sign
    c.eval(), s.eval()
    assert torch.allclose(c.running_mean, 0.1 * x.mean(0), atol=1e-5)   # one momentum-0.1 update
    with pytest.raises(ValueError):
        PartialNorm(4, "both")
    net = digits_mlp((8, 8), norm="center")
    assert [type(m).__name__ for m in net][:3] == ["Linear", "PartialNorm", "ReLU"]


def test_train_digits_reproduces_relucourse_train_exactly():
    from relucourse.train import train
    X, y, _, _ = _small()
    torch.manual_seed(1)
    a = digits_mlp((16, 16), batch_norm=True)
    b = copy_of(a)
    train(a, X, y, epochs=2, lr=0.3, batch_size=64, seed=1)
    train_digits(b, X, y, epochs=2, lr=0.3, batch_size=64, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def copy_of(model):
    import copy
    return copy.deepcopy(model)


def test_record_keeps_a_time_course_of_layer_2():
    r = run_digits(_small(), seed=0, lr=0.8, epochs=2, batch_size=64, hidden=(16, 8), record=True)
    course = r["course"]
    steps = 2 * 5                                         # 300 inputs in batches of 64: 5 steps per epoch
    assert len(course["step_loss"]) == len(course["dead"]) == steps + 1
    assert np.array(course["row_norm"]).shape == (steps + 1, 8) == np.array(course["wh"]).shape
    assert course["dead"][-1] == [round(v * n) for v, n in zip(r["dead"], (16, 8))]


def test_warmup_clip_and_weight_decay_change_training_and_options_are_checked():
    data = _small()
    base = run_digits(data, seed=0, lr=0.3, epochs=1, batch_size=64)["model"]
    for arm in ({"warmup_steps": 5}, {"clip": 0.1}, {"weight_decay": 0.1}, {"optimizer": "adamw", "lr": 0.01}):
        other = run_digits(data, seed=0, epochs=1, batch_size=64, **{"lr": 0.3, **arm})["model"]
        assert not torch.equal(base[0].weight, other[0].weight), arm
    with pytest.raises(ValueError):
        run_digits(data, seed=0, lr=0.1, epochs=1, optimizer="rmsprop")


def test_redo_revives_a_dead_first_layer():
    data = _small()
    dead = run_digits(data, seed=0, lr=0.1, epochs=2, batch_size=64, first_bias=-40.0)
    redo = run_digits(data, seed=0, lr=0.1, epochs=2, batch_size=64, first_bias=-40.0, redo_every=5)
    assert dead["dead"][0] == 1.0 and redo["revived"] >= 32 and redo["dead"][0] < 0.5


def test_match_fan_in_rescales_layer_2_only():
    data = _small()
    a = run_digits(data, seed=2, lr=0.0, epochs=1, hidden=(2, 32))["model"]
    b = run_digits(data, seed=2, lr=0.0, epochs=1, hidden=(2, 32), match_fan_in=32)["model"]
    assert torch.equal(a[0].weight, b[0].weight)
    assert torch.allclose(b[2].weight, a[2].weight * math.sqrt(2 / 32))


def test_kill_seeds_counts_half_dead_runs_and_not_diverged_ones():
    runs = [{"dead": [0.0, 0.5]}, {"dead": [0.0, 0.49]}, {"dead": [float("nan")] * 2}, {"dead": [1.0, 1.0]}]
    assert kill_seeds(runs) == 0.5 and kill_seeds(runs, layer=0) == 0.25


def test_lr_study_and_remedy_arms_have_the_chapters_shape():
    out = lr_study(seeds=[0], lrs=[0.1, 0.8], data=_small())
    assert set(out) == {"0.1", "0.8"} and set(out["0.8"][0]) >= {"test_acc", "dead", "finite", "seed"}
    arms = remedy_arms(0.1, 0.03)
    assert arms["A: ReLU"] == {"lr": 0.8} and arms["B: centring only"]["norm"] == "center"
    assert arms["B: leaky 0.1 + Adam"]["optimizer"] == "adam" and arms["B: ReLU"]["first_bias"] == -40.0


def test_train_on_abs_stacked_subset_and_checkpoint_agree_with_single_runs():
    alone = train_on_abs("rai", 3, 3, n_nets=5, seed=1, steps=30)
    both = train_on_abs(("he", "rai"), 3, 3, n_nets=5, seed=1, steps=30)
    some = train_on_abs("rai", 3, 3, n_nets=5, seed=1, steps=30, subset=[0, 3])
    early, final = train_on_abs("rai", 3, 3, n_nets=5, seed=1, steps=30, checkpoint=10)
    assert np.array_equal(alone, both["rai"]) and np.array_equal(alone[[0, 3]], some)
    assert np.array_equal(final, alone) and early.shape == (5,)
    assert np.all(alone >= 0)


def test_he_bias_init_has_small_symmetric_biases():
    c = born_dead_curves(4, 20, n_nets=300, points=11, init="he_bias", seed=0)
    assert c["dead"][-1] < born_dead_bound(4, 20)            # biases make an all-zero layer rarer
    assert not np.array_equal(c["dead"], c["flat"])          # no longer "flat <=> dead"
