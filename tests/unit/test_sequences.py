"""The adding problem, the recurrent models and clipping."""

import math

import pytest
import torch

from relucourse.sequences import (BASELINE_MSE, RNNRegressor, adding_problem, baseline_mse,
                                  global_grad_norm, train_adding)


def test_adding_problem_layout_and_target():
    X, y = adding_problem(500, 12, seed=3)
    assert X.shape == (500, 12, 2) and y.shape == (500,)
    marks = X[:, :, 1]
    assert torch.all(marks.sum(1) == 2) and torch.all(marks[:, :6].sum(1) == 1)
    assert torch.allclose(y, (X[:, :, 0] * marks).sum(1))
    assert torch.equal(adding_problem(5, 4, seed=1)[0], adding_problem(5, 4, seed=1)[0])
    with pytest.raises(ValueError):
        adding_problem(3, 1)


def test_baseline_is_one_sixth():
    _, y = adding_problem(200_000, 10, seed=0)
    assert baseline_mse(y) == pytest.approx(BASELINE_MSE, rel=0.01)


def test_irnn_starts_with_an_identity_recurrent_matrix():
    model = RNNRegressor("irnn", hidden=8)
    assert torch.equal(model.rnn.weight_hh_l0, torch.eye(8))
    assert torch.all(model.rnn.bias_hh_l0 == 0)
    for kind in ["tanh", "relu", "lstm"]:
        assert RNNRegressor(kind, hidden=4)(torch.zeros(3, 5, 2)).shape == (3,)
    with pytest.raises(ValueError):
        RNNRegressor("gru")


def test_global_grad_norm_matches_clip_grad_norm():
    torch.manual_seed(0)
    model = RNNRegressor("relu", hidden=6)
    X, y = adding_problem(16, 8)
    ((model(X) - y) ** 2).mean().backward()
    ours = global_grad_norm(model.parameters())
    theirs = torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)
    assert ours == pytest.approx(float(theirs), rel=1e-5)


def test_train_adding_is_reproducible_and_reports_the_largest_norm():
    torch.set_num_threads(1)
    a = train_adding("relu", T=6, hidden=4, steps=5, n_test=50, seed=2)
    b = train_adding("relu", T=6, hidden=4, steps=5, n_test=50, seed=2)
    assert a == b and a["max_grad_norm"] > 0 and math.isfinite(a["mse"])


def test_irnn_input_weights_have_the_requested_standard_deviation():
    from relucourse.sequences import IRNN_INPUT_STD
    torch.manual_seed(0)
    default = RNNRegressor("irnn", hidden=200).rnn.weight_ih_l0
    assert abs(default.std().item() / IRNN_INPUT_STD - 1) < 0.1
    torch.manual_seed(0)
    larger = RNNRegressor("irnn", hidden=200, input_std=0.001 ** 0.5).rnn.weight_ih_l0
    assert abs(larger.std().item() / 0.001 ** 0.5 - 1) < 0.1
    torch.manual_seed(0)  # the other kinds ignore input_std
    a = RNNRegressor("relu", hidden=8, input_std=5.0).rnn.weight_ih_l0
    torch.manual_seed(0)
    assert torch.equal(a, RNNRegressor("relu", hidden=8).rnn.weight_ih_l0)


def test_long_column_jobs_pair_every_arm_on_every_seed_with_its_learning_rate():
    from relucourse.sequences import STUDY, long_jobs, long_run
    lrs = {"relu": 0.01, "irnn": 0.003, "lstm": 0.02, "tanh": 0.003}
    jobs = long_jobs(lrs)
    arms = STUDY["long"]["arms"]
    assert len(jobs) == len(arms) * len(STUDY["long"]["seeds"])
    for arm, seed, lr in jobs:
        assert lr == (lrs[arm["kind"]] if arm["lr"] == "tuned" else arm["lr"])
    stds = sorted(a["input_std"] for a in arms if a["kind"] == "irnn")
    assert stds == [pytest.approx(0.001), pytest.approx(0.001 ** 0.5)]
    small = {"steps": 3, "hidden": 4, "long": dict(STUDY["long"], T=6)}
    r = long_run(arms[2], 0, 0.001, small)
    assert (r["kind"], r["T"], r["seed"], r["lr"]) == ("irnn", 6, 0, 0.001)
    assert r["input_std"] == pytest.approx(0.001 ** 0.5) and math.isfinite(r["mse"])
    assert "input_std" not in long_run(arms[0], 0, 0.01, small)
