"""The shared helpers: datasets, training loop, seeding, plot style, MathJax extension."""

import matplotlib
import numpy as np
import pytest
import torch

from relucourse import data, plots, set_seed
from relucourse.tooling.sphinxext import FONTS, SCRIPT, mathjax_source
from relucourse.train import accuracy, grad_norms, init_linear_, linear_layers, mlp, train


def test_synthetic_datasets_are_deterministic_and_balanced():
    for make in (data.xor, data.moons, data.spirals):
        X, y = make(n=200, seed=3)
        X2, y2 = make(n=200, seed=3)
        assert X.shape == (200, 2) and X.dtype == torch.float32 and y.dtype == torch.long
        assert torch.equal(X, X2) and torch.equal(y, y2)
        assert 0.35 < y.float().mean().item() < 0.65
    assert not torch.equal(data.spirals(seed=0)[0], data.spirals(seed=1)[0])


def test_xor_labels_follow_the_sign_pattern():
    X, y = data.xor(n=400, noise=0.05)
    assert torch.equal(y, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long())


def test_digits_split_and_standardisation():
    Xtr, ytr, Xte, yte = data.digits()
    assert Xtr.shape[1] == 64 and len(Xtr) + len(Xte) == 1797
    assert abs(len(Xte) / 1797 - 0.25) < 0.01
    assert torch.allclose(Xtr.mean(0), torch.zeros(64), atol=1e-4)
    assert set(ytr.tolist()) == set(range(10))


def test_digits_are_scikit_learns_read_without_importing_it():
    """The same arrays as scikit-learn's loader, from the file it ships; a fresh copy each call."""
    from sklearn.datasets import load_digits

    X, y = data.load_digits()
    X_sk, y_sk = load_digits(return_X_y=True)
    assert X.dtype == X_sk.dtype and y.dtype == y_sk.dtype
    assert np.array_equal(X, X_sk) and np.array_equal(y, y_sk)
    X[0, 0] = -1.0
    assert data.load_digits()[0][0, 0] == X_sk[0, 0]


def test_the_checks_import_neither_scikit_learn_nor_scipy():
    """Every notebook kernel imports the checks: SciPy alone would add about 0.9 s to each."""
    import subprocess
    import sys

    code = ("import sys, relucourse.tooling.checks, relucourse.data; "
            "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_mlp_structure_and_init_schemes():
    set_seed(0)
    net = mlp([64, 32, 32, 10], "tanh")
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    big = mlp([1000, 1000, 10], "relu", init="he")
    w = linear_layers(big)[0].weight
    assert abs(w.var().item() - 2 / 1000) < 2e-4 and linear_layers(big)[0].bias.abs().max() == 0
    xav = mlp([1000, 1000, 10], "relu", init="xavier")
    assert abs(linear_layers(xav)[0].weight.var().item() - 2 / 2000) < 1e-4
    with pytest.raises(ValueError, match="unknown init scheme"):
        init_linear_(big, "lecun")


def test_grad_norms_matches_autograd_and_leaves_no_grads():
    set_seed(0)
    net = mlp([4, 8, 8, 3], "relu")
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    norms = grad_norms(net, X, y)
    torch.nn.functional.cross_entropy(net(X), y).backward()
    assert norms == pytest.approx([m.weight.grad.norm().item() for m in linear_layers(net)])
    net.zero_grad(set_to_none=True)
    grad_norms(net, X, y)
    assert all(p.grad is None for p in net.parameters())


def test_train_learns_xor_reproducibly():
    X, y = data.xor(n=200)
    runs = []
    for _ in range(2):
        set_seed(1)
        net = mlp([2, 16, 2], "relu", init="he")
        runs.append(train(net, X, y, epochs=30, lr=0.1, seed=1, X_val=X, y_val=y))
    assert runs[0] == runs[1]
    assert runs[0]["train_acc"][-1] > 0.95 and accuracy(net, X, y) == runs[0]["train_acc"][-1]
    assert runs[0]["loss"][-1] < runs[0]["loss"][0]
    with pytest.raises(ValueError, match="unknown optimizer"):
        train(net, X, y, optimizer="lbfgs")


def test_set_seed_makes_torch_and_numpy_repeat():
    set_seed(5)
    a = (torch.rand(3), np.random.rand(3))
    set_seed(5)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_plot_style_and_decision_boundary():
    matplotlib.use("Agg")
    plots.use_style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == plots.PALETTE
    fig, ax = matplotlib.pyplot.subplots()
    X, y = data.xor(n=40)
    plots.decision_boundary(ax, mlp([2, 4, 2]), X, y, title="t")
    assert ax.get_xlabel() == "$x_1$" and ax.get_legend() is not None
    plots.close_all()


def test_mathjax_files_are_installed():
    src = mathjax_source()
    assert (src / SCRIPT).is_file() and any((src / FONTS).glob("*.woff"))


def test_notebook_timer_sums_cells_and_flags_the_ceiling():
    from types import SimpleNamespace

    from relucourse.tooling import pytest_plugin as nbtimes
    saved = dict(nbtimes._seconds)  # this very run's own times: put them back afterwards
    nbtimes._seconds.clear()
    for phase, duration in [("setup", 2.0), ("call", 30.0), ("call", 29.5)]:
        nbtimes.pytest_runtest_logreport(SimpleNamespace(nodeid="chapters/x.ipynb::Cell 0", duration=duration))
    nbtimes.pytest_runtest_logreport(SimpleNamespace(nodeid="tests/unit/test_a.py::t", duration=99.0))
    assert dict(nbtimes._seconds) == {"chapters/x.ipynb": 61.5}
    assert nbtimes.over_ceiling() == ["chapters/x.ipynb"]
    nbtimes._seconds.clear()
    nbtimes._seconds.update(saved)


def test_a_kernel_that_dies_at_start_is_started_again(capsys):
    """nbval's kernel start (wrapped by the course's plugin) and a NotebookClient's run: a start
    whose kernel does not answer is tried again (new ports), up to KERNEL_START_ATTEMPTS times in
    all; the last failure is raised, and any other error at once (a kernel that dies later)."""
    from nbclient.exceptions import DeadKernelError

    from relucourse.tooling import execute

    def flaky(failures, error=RuntimeError("Kernel died before replying to kernel_info")):
        calls = []

        def start(**kwargs):
            calls.append(kwargs)
            if len(calls) <= failures:
                raise error
            return "km", "kc"
        return start, calls

    attempts = execute.KERNEL_START_ATTEMPTS
    start, calls = flaky(attempts - 1)
    assert execute.retry_kernel_start(start)(kernel_name="k") == ("km", "kc")
    assert calls == [{"kernel_name": "k"}] * attempts
    assert f"starting it again (attempt 2 of {attempts})" in capsys.readouterr().err
    start, calls = flaky(attempts, RuntimeError("Kernel didn't respond in 60 seconds"))
    with pytest.raises(RuntimeError, match="didn't respond"):
        execute.retry_kernel_start(start)()
    assert len(calls) == attempts
    start, calls = flaky(1, DeadKernelError("Kernel died"))
    with pytest.raises(DeadKernelError):
        execute.retry_kernel_start(start)()
    assert len(calls) == 1

    import nbval.kernel

    execute.retry_nbval_kernel_starts()  # this run's plugin has wrapped it already: not twice
    assert nbval.kernel.start_new_kernel.retries
    assert not getattr(nbval.kernel.start_new_kernel.__wrapped__, "retries", False)


def test_train_penalty_is_added_to_the_loss():
    X, y = data.xor(n=64)
    histories = []
    for extra in (None, lambda: torch.tensor(5.0)):
        set_seed(0)
        histories.append(train(mlp([2, 8, 2]), X, y, epochs=2, lr=0.1, seed=0, penalty=extra))
    # a constant penalty leaves the gradients, hence the trajectory, unchanged but adds 5 to the loss
    assert histories[1]["loss"] == pytest.approx([v + 5 for v in histories[0]["loss"]])
    assert histories[1]["train_acc"] == histories[0]["train_acc"]


def test_train_stops_at_the_target_and_after_divergence():
    X, y = data.xor(n=200)
    set_seed(1)
    history = train(mlp([2, 16, 2], "relu", init="he"), X, y, epochs=100, lr=0.1, seed=1, stop_at=0.9)
    assert len(history["train_acc"]) < 100 and history["train_acc"][-1] >= 0.9
    assert all(a < 0.9 for a in history["train_acc"][:-1])
    diverged = train(mlp([2, 16, 2]), X, y, epochs=50, seed=1, penalty=lambda: torch.tensor(float("nan")))
    assert len(diverged["loss"]) == 1 and np.isnan(diverged["loss"][0])
