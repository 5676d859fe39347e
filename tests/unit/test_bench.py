"""The cost benchmark: timing helper, bandwidth, kernels agree with PyTorch, command line."""

import os
import statistics
import tempfile

import pytest
import torch

from relucourse import bench
from relucourse.tooling.checks.ch03 import FakeWorkload


def test_time_it_skips_warmup_and_takes_the_median():
    work = FakeWorkload([100.0, 50.0, 3.0, 1.0, 2.0, 99.0, 4.0])
    assert bench.time_it(work.fn, work.clock, warmup=2, repeats=5) == 3.0
    assert work.calls == 7


def test_time_it_synchronises_around_every_timed_call():
    events = []
    work = FakeWorkload([1.0])
    bench.time_it(lambda: events.append("fn") or work.fn(), work.clock, warmup=1, repeats=2,
                  sync=lambda: events.append("sync"))
    assert events == ["fn", "sync", "fn", "sync", "sync", "fn", "sync"]


def test_run_benchmark_interleaves_and_skips_kernels_that_fail(monkeypatch):
    calls = []

    def broken(x, y):
        raise RuntimeError("not implemented for this dtype")
    monkeypatch.setitem(bench.KERNELS, "tanh", (broken, broken))
    monkeypatch.setitem(bench.KERNELS, "relu", (lambda x, y: calls.append("relu") or y.copy_(x),
                                                lambda g, x, y, gx: calls.append("relu-bwd")))
    lines = []
    results = bench.run_benchmark(size=64, activations=["relu", "tanh"], warmup=1, repeats=3,
                                  progress=lines.append)
    assert [r.name for r in results] == ["copy", "relu"]
    assert any("tanh (fwd) skipped" in line for line in lines)
    assert calls.count("relu") == 2 * (1 + 3)        # fwd and fwd+bwd, warm-up + 3 rounds each


def test_time_it_rejects_zero_repeats():
    with pytest.raises(ValueError):
        bench.time_it(lambda: None, repeats=0)


@pytest.mark.parametrize("dtype,itemsize", [(torch.float32, 4), (torch.float16, 2), (torch.bfloat16, 2),
                                            (torch.float64, 8)])
def test_bandwidth_counts_reads_and_writes(dtype, itemsize):
    assert bench.bandwidth_gbs(10**9, dtype, 1.0) == pytest.approx(2 * itemsize)
    assert bench.bandwidth_gbs(10**9, dtype, 2.0, reads=3, writes=2) == pytest.approx(2.5 * itemsize)


@pytest.mark.parametrize("name", bench.ACTIVATION_NAMES)
def test_kernels_match_pytorch_forward_and_autograd(name):
    forward, backward = bench.KERNELS[name]
    x = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    g = torch.randn(1001, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y, gx = torch.empty_like(x), torch.empty_like(x)
    forward(x, y)
    backward(g, x, y, gx)
    xr = x.clone().requires_grad_(True)
    ref = bench.FUNCTIONAL[name](xr)
    (ref_grad,) = torch.autograd.grad(ref, xr, g)
    torch.testing.assert_close(y, ref.detach())
    torch.testing.assert_close(gx, ref_grad)


def test_run_benchmark_reports_every_activation_against_the_copy():
    lines = []
    results = bench.run_benchmark(size=2**12, warmup=1, repeats=2, progress=lines.append)
    assert [r.name for r in results] == ["copy"] + bench.ACTIVATION_NAMES
    assert results[0].fwd_pct == pytest.approx(100.0)
    for r in results[1:]:
        assert r.fwd_ms > 0 and r.fwdbwd_ms > 0
        assert r.fwd_pct == pytest.approx(100 * r.fwd_gbs / results[0].fwd_gbs)
        assert r.fwdbwd_gbs == pytest.approx(bench.bandwidth_gbs(2**12, torch.float32, r.fwdbwd_ms / 1e3, 3, 2))
    assert lines[0].startswith("benchmark:") and "warm-up done" in lines[1]
    assert lines[-1].startswith("  round 2/2 done")
    table = bench.format_table(results)
    assert "relu" in table and "%copy" in table


def test_mlp_step_time_is_positive():
    assert bench.mlp_step_ms("relu", width=16, batch=8, warmup=1, repeats=2) > 0
    times = bench.compare_mlp_steps(["relu", "tanh"], width=16, batch=8, warmup=1, repeats=3)
    assert list(times) == ["relu", "tanh"] and all(t > 0 for t in times.values())


def test_plot_results_draws_one_bar_group_per_activation():
    import matplotlib.pyplot as plt
    results = bench.run_benchmark(size=256, activations=["relu", "tanh"], warmup=0, repeats=1, progress=None)
    ax = bench.plot_results(results)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tanh", "relu"]  # relu on top
    plt.close("all")


def test_command_line_runs_and_saves_a_figure(tmp_path, capsys):
    figure = tmp_path / "bench.png"
    assert bench.main(["--size", "2**10", "--repeats", "2", "--warmup", "1", "--activations", "relu,gelu",
                       "--figure", str(figure), "--mlp", "--mlp-width", "16"]) == 0
    out = capsys.readouterr().out
    assert "copy" in out and "gelu" in out and "figure saved" in out
    assert figure.exists() and figure.stat().st_size > 1000


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_command_line_other_dtypes(dtype, capsys):
    assert bench.main(["--size", "1024", "--repeats", "1", "--dtype", dtype, "--figure", "none"]) == 0
    assert "relu" in capsys.readouterr().out


def _fails_at_once(monkeypatch, capsys, argv):
    """Run the command expecting exit status 2, one line on stderr and nothing measured."""
    def must_not_run(*args, **kwargs):
        raise AssertionError("measured before rejecting a bad option")
    monkeypatch.setattr(bench, "run_benchmark", must_not_run)
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m relucourse.bench: error: "), err
    return lines[0]


@pytest.mark.parametrize("argv,words", [
    (["--activations", "relu,swoosh"], "swoosh"),
    (["--size", "lots"], "not a size"),
    (["--size", "0"], "at least 1"),
    (["--size", "10**10**10"], "not a size"),
    (["--repeats", "0"], "--repeats"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["--device", "tpu"], "unknown device"),
    (["--device", "mps"], "mps"),
    (["--size", "2**40"], "choose a smaller --size"),
    (["--size", "2**33", "--dtype", "float64"], "choose a smaller --size"),
    (["--figure", "/no/such/folder/b.png"], "does not exist"),
    (["--figure", "chart.xyz"], "unknown image type"),
])
def test_bad_options_fail_at_once_with_one_line(monkeypatch, capsys, argv, words):
    if argv == ["--device", "mps"] and torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    assert words in _fails_at_once(monkeypatch, capsys, argv)


def test_a_figure_path_that_is_a_folder_fails(monkeypatch, capsys, tmp_path):
    assert "is a folder" in _fails_at_once(monkeypatch, capsys, ["--figure", str(tmp_path)])


def test_an_unwritable_figure_folder_fails(monkeypatch, capsys, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        assert "not writable" in _fails_at_once(monkeypatch, capsys, ["--figure", str(folder / "b.png")])
    finally:
        folder.chmod(0o700)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_asking_for_cuda_without_a_gpu_says_so_clearly(monkeypatch, capsys, device):
    assert "no CUDA GPU" in _fails_at_once(monkeypatch, capsys, ["--device", device])


def test_default_figure_goes_to_the_temporary_folder_not_the_working_folder(monkeypatch, capsys, tmp_path):
    work, temp = tmp_path / "repo", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert bench.main(["--size", "256", "--repeats", "1", "--warmup", "0", "--activations", "relu"]) == 0
    out = capsys.readouterr().out
    assert list(work.iterdir()) == []
    assert (temp / "relu_bench.png").exists()
    assert f"figure saved to {temp / 'relu_bench.png'}" in out


def test_output_explains_percentages_above_100(capsys):
    assert bench.main(["--size", "256", "--repeats", "1", "--warmup", "0", "--activations", "relu",
                       "--figure", "none"]) == 0
    out = capsys.readouterr().out
    assert "Above 100 % is not an error" in out
    assert max(len(line) for line in out.splitlines() if not line.startswith("benchmark:")) <= 68


def test_table_fits_the_book():
    results = bench.run_benchmark(size=256, warmup=0, repeats=1, progress=None)
    assert max(len(line) for line in bench.format_table(results).splitlines()) <= 68


def test_parse_size():
    assert bench._parse_size("2**24") == 2**24
    assert bench._parse_size("2^10") == 1024
    assert bench._parse_size("1_000") == 1000
    assert statistics.median([1, 2, 3]) == 2


def test_activation_shares_are_fractions_of_the_step_and_grow_with_the_activation_work(monkeypatch):
    shares = bench.activation_shares(["relu", "tanh"], width=32, depth=3, batch=16, repeats=3)
    assert set(shares) == {"relu", "tanh"}
    for ms, share in shares.values():
        assert ms > 0 and 0 < share < 1.5
    before = torch.get_num_threads()
    bench.activation_shares(["relu"], width=8, depth=2, batch=4, repeats=1, threads=3)
    assert torch.get_num_threads() == before
    # the activation pass runs the activation forward and backward on depth - 1 tensors
    calls = []
    monkeypatch.setitem(bench.FUNCTIONAL, "relu", lambda x: calls.append(x.shape) or torch.relu(x))
    bench._activation_pass("relu", 8, 4, 5, torch.device("cpu"), torch.float32, 0)()
    assert calls == [torch.Size([5, 8])] * 3


def test_stored_step_share_study_covers_every_cpu_setting():
    from relucourse import method
    study = method.load_study("ch3_step_shares")
    assert study["command"] == "python -m relucourse.measure ch3_step_shares"
    settings = study["results"]["settings"]
    assert set(settings) == set(bench.CPU_SETTINGS)
    assert settings["default"]["capability"] == "DEFAULT"
    for s in settings.values():
        for dtype in ("float32", "bfloat16"):
            assert set(s["results"][dtype]) == set(bench.SHARE_ACTIVATIONS)
