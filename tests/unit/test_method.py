"""The experiment method: tuning sees only the training data, intervals and sign counts are right."""

import json

import numpy as np
import pytest
import torch

import relucourse
from relucourse import method
from relucourse.claims import ClaimNotHeld, claim


def _data(n_train=80, n_test=20):
    """Training rows carry the marker 0 in column 0, test rows the marker 1."""
    X_train = torch.cat([torch.zeros(n_train, 1), torch.randn(n_train, 2)], 1)
    X_test = torch.cat([torch.ones(n_test, 1), torch.randn(n_test, 2)], 1)
    return X_train, torch.arange(n_train), X_test, torch.arange(n_test)


def test_validation_split_partitions_the_training_rows():
    X, y, _, _ = _data()
    X_fit, y_fit, X_val, y_val = method.validation_split(X, y, fraction=0.25, seed=3)
    assert len(y_val) == 20 and len(y_fit) == 60
    assert sorted(torch.cat([y_fit, y_val]).tolist()) == list(range(80))
    again = method.validation_split(X, y, fraction=0.25, seed=3)
    assert torch.equal(again[3], y_val)
    with pytest.raises(ValueError):
        method.validation_split(X, y, fraction=1.0)


def test_tuning_never_sees_the_reported_split_nor_reported_seeds():
    X, y, X_test, y_test = _data()
    seen_rows, seen_seeds = [], []

    def run(value, seed, X_fit, y_fit, X_val, y_val):
        seen_rows.append(torch.cat([X_fit[:, 0], X_val[:, 0]]))
        seen_seeds.append(seed)
        assert set(y_fit.tolist()).isdisjoint(y_val.tolist())
        return -abs(value - 0.1)

    tuned = method.tune(run, [0.03, 0.1, 0.3], X, y)
    assert tuned.best == 0.1 and not tuned.extended
    assert all((rows == 0).all() for rows in seen_rows), "a test row reached the tuning run"
    assert set(seen_seeds) == set(method.TUNING_SEEDS)
    assert not set(method.TUNING_SEEDS) & set(range(100)), "tuning seeds overlap reported seeds"


def test_a_best_value_on_the_edge_extends_the_grid():
    X, y, _, _ = _data()
    tuned = method.tune(lambda v, *rest: -abs(np.log(v / 0.004)), [0.01, 0.03, 0.1], X, y, factor=3.0)
    assert tuned.extended and tuned.grid[0] < 0.01
    assert tuned.best == pytest.approx(0.01 / 3)
    assert tuned.best not in (tuned.grid[0], tuned.grid[-1])
    # bounded: a score that always prefers smaller values stops after max_extensions
    tuned = method.tune(lambda v, *rest: -v, [1.0, 2.0], X, y, max_extensions=2)
    assert len(tuned.grid) == 4 and tuned.best == tuned.grid[0]
    # minimising, and NaN scores (diverged runs) count as the worst
    tuned = method.tune(lambda v, *rest: float("nan") if v > 0.2 else (v - 0.1) ** 2,
                        [0.03, 0.1, 0.3], X, y, maximize=False)
    assert tuned.best == 0.1 and tuned.scores[0.3] == float("inf")
    assert "best 0.1" in str(tuned)


def test_paired_differences_interval_and_sign_count():
    a = [0.90, 0.91, 0.93, 0.92, 0.95]
    b = [0.88, 0.90, 0.93, 0.89, 0.91]
    d = method.paired(a, b)
    assert d.diffs == pytest.approx((0.02, 0.01, 0.0, 0.03, 0.04))
    assert (d.above, d.below, d.ties, d.n) == (4, 0, 1, 5)
    assert d.mean == pytest.approx(0.02)
    # t(0.975, 4) = 2.776; sd of the diffs = 0.01581
    assert d.high - d.mean == pytest.approx(2.7764 * 0.015811 / 5 ** 0.5, rel=1e-3)
    assert d.excludes_zero
    assert str(d) == "+0.020 (95% CI +0.000 to +0.040), higher in 4/5 seeds"
    assert not method.paired([1, 2, 3], [3, 2, 1]).excludes_zero
    with pytest.raises(ValueError):
        method.paired([1, 2], [1, 2, 3])


def test_spread_and_log_mean():
    assert str(method.spread([0.85, 0.9, 0.88])) == "0.88 (0.85 to 0.90, 3 seeds)"
    # one large seed dominates the arithmetic mean, not the log-space mean
    assert method.log_mean([1.0, 1.0, 100.0]) == pytest.approx(100 ** (1 / 3))
    assert np.allclose(method.log_mean([[1.0, 4.0], [4.0, 1.0]], axis=0), [2.0, 2.0])
    with pytest.raises(ValueError):
        method.log_mean([1.0, 0.0])


def test_studies_are_stored_with_their_rerun_command(tmp_path):
    path = method.save_study("demo", {"a": [1, 2]}, "python -m relucourse.demo", folder=tmp_path)
    assert json.loads(path.read_text())["command"] == "python -m relucourse.demo"
    assert method.load_study("demo", folder=tmp_path)["results"] == {"a": [1, 2]}
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError):
        method.load_study("bad", folder=tmp_path)


def test_paired_plot_draws_one_row_per_comparison():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    method.plot_paired(ax, {"x - y": method.paired([1, 2, 3], [0, 2, 2]),
                            "z - y": method.paired([1, 1, 1], [0, 2, 2])})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x - y", "z - y"]
    plt.close(fig)


def test_a_claim_prints_one_line_and_raises_in_strict_mode(capsys, monkeypatch):
    monkeypatch.setenv("RELUCOURSE_STRICT", "1")
    assert claim("most units die", holds=True, measured="97% dead") is None
    assert capsys.readouterr().out == "On this machine: 97% dead - the claim (most units die) holds.\n"
    claim("a much longer statement that will not fit on one line of the book", True,
          "a measurement with several numbers in it, 0.97 and 0.95")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(len(line) <= 69 for line in lines) and lines[1].startswith("  ")
    with pytest.raises(ClaimNotHeld, match=r"3% dead - the claim \(most units die\) does NOT hold"):
        claim("most units die", holds=False, measured="3% dead")


def test_use_threads_honours_the_environment(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("RELUCOURSE_THREADS", raising=False)
        assert relucourse.use_threads() is None and torch.get_num_threads() == 1
        monkeypatch.setenv("RELUCOURSE_THREADS", "2")
        relucourse.use_threads()
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("RELUCOURSE_THREADS", "0")
        with pytest.raises(ValueError):
            relucourse.use_threads()
    finally:
        torch.set_num_threads(before)


def _package_functions():
    import importlib
    import inspect
    import pkgutil
    import relucourse
    for info in pkgutil.iter_modules(relucourse.__path__):
        module = importlib.import_module(f"relucourse.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                yield module.__name__, name, fn


def test_every_tuning_helper_of_the_package_tunes_through_method_tune():
    """A package function that chooses a hyper-parameter takes no reported (test) split, and tunes
    through method.tune (which sees only a validation split of the training data) or, where the data
    is one text (tinylm), on the training part with method's unreported tuning seeds."""
    import inspect
    helpers = [(m, n, fn) for m, n, fn in _package_functions() if "tune" in n and m != "relucourse.method"]
    assert helpers, "no tuning helper found: the test looks for functions named *tune*"
    for module, name, fn in helpers:
        params = set(inspect.signature(fn).parameters)
        assert not {p for p in params if "test" in p.lower()}, f"{module}.{name} takes a test split"
        code = inspect.getsource(fn)
        assert "method.tune(" in code or "method.TUNING_SEEDS" in code, \
            f"{module}.{name} does not tune through relucourse.method"
