"""The course's cost benchmark: how fast are activation functions, compared with copying memory?

An elementwise activation reads each input value once and writes each output value once, doing a
few arithmetic operations in between. On modern hardware moving the bytes usually takes longer
than the arithmetic, so the fair yardstick is a **plain memory copy** of the same tensor: it moves
the same bytes and does no arithmetic at all. The benchmark reports, per activation,

* the median time of the forward pass and of forward + backward, in milliseconds;
* the effective bandwidth, bytes read + bytes written per second, in GB/s (1 GB = 10^9 bytes):
  forward moves 2 tensors' worth (read x, write y), backward 3 (read the incoming gradient and
  x or y, write the gradient w.r.t. x), so forward + backward moves 5;
* that bandwidth as a percentage of the copy's bandwidth (100 % = as fast as memory allows).

**Fairness.** Every timed call, the copy included, writes into an output tensor that was allocated
once before timing: the copy is ``y.copy_(x)`` and each activation calls the ``out=`` form of the
same ATen kernel that ``torch.nn.functional`` (forward) and autograd (backward) use, e.g.
``torch.clamp_min(x, 0, out=y)`` for ReLU and ``aten.threshold_backward(g, y, 0, grad_input=gx)``
for its gradient. So no timed call allocates memory. A naive ``x.clone()`` baseline allocates a
fresh tensor on every call; on a CPU the operating system then zero-fills new pages on first touch
(page faults), and the "copy" can look slower than ``torch.relu(x)``. Each measurement does
warm-up calls first, synchronises the device around every timed call (``torch.cuda.synchronize``
on CUDA: GPU kernels run asynchronously) and reports the median of the repeats. The copy and the
activations take turns, round after round, so that background load hits all of them alike.

From a shell::

    python -m relucourse.bench                     # CPU, 2**23 float32 values
    python -m relucourse.bench --device cuda --size 2**28 --repeats 20
    python -m relucourse.bench --dtype bfloat16 --figure bench.png --mlp

Every option is checked before anything is measured: a device that is not available, a figure
path that cannot be written, or a size whose tensors do not fit in the free memory ends the
command at once with one line on stderr and exit status 2. Without ``--figure`` the bar chart
goes to the system's temporary folder (the command prints the path), never into the folder you
ran it from.

From Python: :func:`run_benchmark`, :func:`format_table`, :func:`plot_results`, :func:`mlp_step_ms`,
:func:`compare_mlp_steps`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

aten = torch.ops.aten

#: Activations the benchmark knows, in the order it reports them.
ACTIVATION_NAMES = ["relu", "leaky_relu", "elu", "selu", "gelu", "silu", "sigmoid", "tanh", "softplus"]

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float64": torch.float64}

#: Bytes moved per element, in units of one tensor: forward reads x and writes y; backward reads
#: the incoming gradient and x (or y) and writes the gradient w.r.t. x.
FORWARD_TENSORS = 2
BACKWARD_TENSORS = 3

#: The course authors' reference measurement (forward pass, reads + writes counted), from the
#: course's fact-check notes: one NVIDIA H200, PyTorch 2.11.0+cu130 (CUDA 13.0), 2**28 values.
#: float32: bandwidths in GB/s as (low, high) over the activations listed (selu not measured).
#: bfloat16: one value per activation; "gelu_tanh" is gelu(approximate="tanh").
H200_REFERENCE = {
    "hardware": "NVIDIA H200 (one GPU)", "software": "PyTorch 2.11.0+cu130 (CUDA 13.0)",
    "size": "2**28 values",
    "forward_gbs": {"copy": (4150, 4150), "relu": (3940, 3990), "leaky_relu": (3940, 3990),
                    "elu": (3940, 3990), "gelu": (3940, 3990), "silu": (3940, 3990),
                    "sigmoid": (3940, 3990), "tanh": (3940, 3990), "softplus": (3850, 3850)},
    "forward_gbs_bfloat16": {"copy": 3779, "relu": 3855, "silu": 3782, "sigmoid": 3760,
                             "tanh": 3917, "gelu_tanh": 3497, "gelu": 3001, "elu": 2435,
                             "softplus": 1963},
    "mlp_step_ms": (30.93, 30.97),
    "mlp_step": "4 layers, width 4096, batch 4096, float32 without TF32; "
                "relu, sigmoid, tanh, gelu or elu",
}

#: What a percentage of the copy's bandwidth means, printed under the command's table.
PERCENT_NOTE = """\
% copy: bytes moved per second relative to y.copy_(x) on the same
tensor. 100 % = as fast as the copy. Above 100 % is not an error:
the copy is a yardstick, not the memory's limit. An operation with
another mix of reads and writes (forward + backward reads 3 tensors
per 2 written) or one whose data stay in cache can beat it, and a
few per cent either way is timing noise. Far below 100 % means the
arithmetic (exp, erf, tanh), not memory, sets the pace."""

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _forward_backward_kernels() -> dict[str, tuple[Callable, Callable]]:
    """name -> (forward(x, y), backward(g, x, y, gx)): the ATen kernels, writing into y and gx."""
    return {
        "relu": (lambda x, y: torch.clamp_min(x, 0, out=y),        # what torch.relu computes
                 lambda g, x, y, gx: aten.threshold_backward(g, y, 0, grad_input=gx)),
        "leaky_relu": (lambda x, y: aten.leaky_relu(x, 0.01, out=y),
                       lambda g, x, y, gx: aten.leaky_relu_backward(g, x, 0.01, False, grad_input=gx)),
        "elu": (lambda x, y: aten.elu(x, 1.0, 1.0, 1.0, out=y),
                lambda g, x, y, gx: aten.elu_backward(g, 1.0, 1.0, 1.0, True, y, grad_input=gx)),
        "selu": (lambda x, y: aten.elu(x, _SELU_ALPHA, _SELU_SCALE, 1.0, out=y),  # how ATen computes selu
                 lambda g, x, y, gx: aten.elu_backward(g, _SELU_ALPHA, _SELU_SCALE, 1.0, True, y,
                                                       grad_input=gx)),
        "gelu": (lambda x, y: aten.gelu(x, out=y),
                 lambda g, x, y, gx: aten.gelu_backward(g, x, grad_input=gx)),
        "silu": (lambda x, y: aten.silu(x, out=y),
                 lambda g, x, y, gx: aten.silu_backward(g, x, grad_input=gx)),
        "sigmoid": (lambda x, y: torch.sigmoid(x, out=y),
                    lambda g, x, y, gx: aten.sigmoid_backward(g, y, grad_input=gx)),
        "tanh": (lambda x, y: torch.tanh(x, out=y),
                 lambda g, x, y, gx: aten.tanh_backward(g, y, grad_input=gx)),
        "softplus": (lambda x, y: aten.softplus(x, 1.0, 20.0, out=y),
                     lambda g, x, y, gx: aten.softplus_backward(g, x, 1.0, 20.0, grad_input=gx)),
    }


KERNELS = _forward_backward_kernels()

#: The functional forms the kernels above must agree with (checked by the unit tests).
FUNCTIONAL = {"relu": F.relu, "leaky_relu": F.leaky_relu, "elu": F.elu, "selu": F.selu, "gelu": F.gelu,
              "silu": F.silu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": F.softplus}


# ---------------------------------------------------------------------------------------------
# Timing and bandwidth
# ---------------------------------------------------------------------------------------------

def time_it(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter, warmup: int = 3,
            repeats: int = 10, sync: Callable[[], None] | None = None) -> float:
    """Median wall time of ``fn()`` in seconds (in the clock's units) over ``repeats`` timed calls.

    ``warmup`` untimed calls come first (caches, lazy initialisation, CPU frequency). Each call is
    timed on its own, so one slow outlier cannot move the median. ``sync`` (e.g.
    ``torch.cuda.synchronize``) is called before reading the clock, so that work queued on an
    asynchronous device is counted where it belongs.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = clock()
        fn()
        sync()
        times.append(clock() - start)
    return statistics.median(times)


def bandwidth_gbs(numel: int, dtype: torch.dtype, seconds: float, reads: int = 1, writes: int = 1) -> float:
    """Effective bandwidth in GB/s (10^9 bytes/s) of an operation that reads ``reads`` and writes
    ``writes`` tensors of ``numel`` elements of ``dtype`` in ``seconds``."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return numel * itemsize * (reads + writes) / seconds / 1e9


def synchronizer(device: torch.device | str) -> Callable[[], None] | None:
    """The function that waits for queued work on ``device``, or None where work is synchronous."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return None


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``, checked: ValueError (one line) if unavailable."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: PyTorch sees no CUDA GPU here (torch "
                             f"{torch.__version__}, CUDA build {torch.version.cuda}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
        return device
    if device.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"--device {name}: no Apple MPS device here; use --device cpu")
        return device
    raise ValueError(f"--device {name}: the benchmark runs on cpu, cuda or mps only")


def free_memory_bytes(device: torch.device) -> int | None:
    """Bytes free for new tensors on ``device`` (CPU: MemAvailable), or None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            import os
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return None


def bytes_needed(size: int, dtype: torch.dtype) -> int:
    """Memory the benchmark allocates: four tensors (x, g, y, gx) plus a float32 staging copy."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return size * (4 * itemsize + 4)


def check_figure_path(path: str) -> str:
    """The absolute path if a figure can be written there; ValueError (one line) if not."""
    import os
    import matplotlib.figure

    full = os.path.abspath(os.path.expanduser(path))
    ext = os.path.splitext(full)[1].lstrip(".").lower()
    if os.path.isdir(full):
        raise ValueError(f"--figure {path}: is a folder, not a file name")
    formats = matplotlib.figure.Figure().canvas.get_supported_filetypes()
    if ext not in formats:
        raise ValueError(f"--figure {path}: unknown image type {ext!r}; use e.g. .png, .svg or .pdf")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise ValueError(f"--figure {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(full) and not os.access(full, os.W_OK)):
        raise ValueError(f"--figure {path}: not writable")
    return full


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------

@dataclass
class Result:
    """One row of the benchmark: times in ms, bandwidths in GB/s, percentages of the copy's bandwidth."""
    name: str
    fwd_ms: float
    fwd_gbs: float
    fwd_pct: float
    fwdbwd_ms: float | None = None
    fwdbwd_gbs: float | None = None
    fwdbwd_pct: float | None = None


def run_benchmark(size: int = 2**23, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                  activations: list[str] | None = None, warmup: int = 3, repeats: int = 10,
                  backward: bool = True, progress: Callable[[str], None] | None = print) -> list[Result]:
    """Time a memory copy and each activation on a tensor of ``size`` elements; the copy comes first.

    After the warm-up, the measurements run in ``repeats`` interleaved rounds: each round times one
    call of the copy and of every activation in turn, so that background load (another program, a
    change of clock frequency) affects them all alike rather than whichever ran at that moment.
    Each result is the median over the rounds. ``progress`` receives one short line per phase
    (``None`` for silence).
    """
    device = torch.device(device)
    say = progress or (lambda line: None)
    sync = synchronizer(device)
    itemsize = torch.empty((), dtype=dtype).element_size()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(size, generator=gen).to(device=device, dtype=dtype)
    g = torch.randn(size, generator=gen).to(device=device, dtype=dtype)
    y, gx = torch.empty_like(x), torch.empty_like(x)
    say(f"benchmark: {size:,} {str(dtype).replace('torch.', '')} values "
        f"({size * itemsize / 1e6:.1f} MB per tensor) on {describe_device(device)}; "
        f"{warmup} warm-up calls, then the median of {repeats} interleaved rounds")

    # what to time: (row name, "fwd" or "fwdbwd", function)
    jobs: list[tuple[str, str, Callable[[], object]]] = [("copy", "fwd", lambda: y.copy_(x))]
    for name in activations or ACTIVATION_NAMES:
        forward, backward_fn = KERNELS[name]
        jobs.append((name, "fwd", lambda forward=forward: forward(x, y)))
        if backward:
            def step(forward=forward, backward_fn=backward_fn):
                forward(x, y)
                backward_fn(g, x, y, gx)
            jobs.append((name, "fwdbwd", step))

    runnable = []
    for name, kind, fn in jobs:
        try:
            time_it(fn, warmup=max(warmup - 1, 0), repeats=1, sync=sync)
            runnable.append((name, kind, fn))
        except (RuntimeError, NotImplementedError) as err:  # e.g. a kernel missing for this dtype
            say(f"  {name} ({kind}) skipped: {str(err).splitlines()[0][:80]}")
    say(f"  warm-up done ({len(runnable)} measurements)")

    times: dict[tuple[str, str], list[float]] = {(n, k): [] for n, k, _ in runnable}
    start = time.perf_counter()
    for r in range(repeats):
        for name, kind, fn in runnable:
            times[name, kind].append(time_it(fn, warmup=0, repeats=1, sync=sync))
        if r == 0 or r + 1 == repeats or (r + 1) % max(repeats // 4, 1) == 0:
            say(f"  round {r + 1}/{repeats} done ({time.perf_counter() - start:.1f} s)")

    median = {key: statistics.median(t) for key, t in times.items()}
    copy_gbs = bandwidth_gbs(size, dtype, median["copy", "fwd"], 1, 1)
    results = []
    for name in ["copy"] + list(activations or ACTIVATION_NAMES):
        if (name, "fwd") not in median:
            continue
        fwd_s = median[name, "fwd"]
        gbs = bandwidth_gbs(size, dtype, fwd_s, 1, 1)
        row = Result(name, fwd_s * 1e3, gbs, 100 * gbs / copy_gbs)
        if (name, "fwdbwd") in median:
            fb_s = median[name, "fwdbwd"]
            row.fwdbwd_ms = fb_s * 1e3
            row.fwdbwd_gbs = bandwidth_gbs(size, dtype, fb_s, 3, 2)
            row.fwdbwd_pct = 100 * row.fwdbwd_gbs / copy_gbs
        results.append(row)
    return results


def describe_device(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    if device.type == "cpu":
        return f"CPU, {torch.get_num_threads()} threads"
    return str(device)


def format_table(results: list[Result]) -> str:
    """The results as an aligned text table, at most 58 characters wide."""
    lines = [f"{'':10s} {'forward':^22s} | {'forward + backward':^22s}",
             f"{'activation':10s} {'ms':>8s} {'GB/s':>7s} {'%copy':>5s} | "
             f"{'ms':>8s} {'GB/s':>7s} {'%copy':>5s}"]
    for r in results:
        fb = ("" if r.fwdbwd_ms is None else
              f" | {r.fwdbwd_ms:8.3f} {r.fwdbwd_gbs:7.1f} {r.fwdbwd_pct:5.0f}")
        lines.append(f"{r.name:10s} {r.fwd_ms:8.3f} {r.fwd_gbs:7.1f} {r.fwd_pct:5.0f}{fb}")
    return "\n".join(lines)


def plot_results(results: list[Result], ax=None, title: str | None = None):
    """Bar chart of each activation's bandwidth as a percentage of the copy's; returns the axes."""
    import matplotlib.pyplot as plt
    from .plots import PALETTE, use_style

    use_style()
    if ax is None:  # horizontal bars: names stay readable on a phone
        _, ax = plt.subplots(figsize=(6.4, 5.6))
    rows = [r for r in results if r.name != "copy"][::-1]  # first activation on top
    pos = list(range(len(rows)))
    ax.barh([p + 0.2 for p in pos], [r.fwd_pct for r in rows], height=0.4, color=PALETTE[0], label="forward")
    if any(r.fwdbwd_pct is not None for r in rows):
        ax.barh([p - 0.2 for p in pos], [r.fwdbwd_pct or 0 for r in rows], height=0.4, color=PALETTE[1],
                hatch="//", edgecolor="white", label="forward + backward")
    ax.axvline(100, color="black", lw=1.5, ls="--", label="memory copy (100%)")
    ax.set_yticks(pos, [r.name for r in rows])
    top = max([100.0] + [r.fwd_pct for r in rows] + [r.fwdbwd_pct or 0 for r in rows])
    ax.set(xlabel="bandwidth, % of a memory copy", xlim=(0, 1.15 * top),
           title=title or "Effective bandwidth of activation functions")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    return ax


# ---------------------------------------------------------------------------------------------
# One MLP training step
# ---------------------------------------------------------------------------------------------

def _mlp_step(activation: str, width: int, depth: int, batch: int, device: torch.device,
              dtype: torch.dtype, seed: int) -> Callable[[], None]:
    """One SGD training step (forward, backward, update) of a fresh MLP on fixed random data."""
    from .train import mlp

    torch.manual_seed(seed)
    model = mlp([width] * (depth + 1), activation).to(device=device, dtype=dtype)
    x = torch.randn(batch, width, device=device, dtype=dtype)
    target = torch.randint(0, width, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), target).backward()
        opt.step()
    return step


def mlp_step_ms(activation: str, width: int = 512, depth: int = 4, batch: int = 512,
                device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                warmup: int = 2, repeats: int = 5, seed: int = 0) -> float:
    """Median time in ms of one SGD training step (forward, backward, update) of a ``depth``-layer,
    ``width``-wide MLP on a ``batch`` of random data, with ``activation`` between the layers."""
    device = torch.device(device)
    step = _mlp_step(activation, width, depth, batch, device, dtype, seed)
    return 1e3 * time_it(step, warmup=warmup, repeats=repeats, sync=synchronizer(device))


def compare_mlp_steps(activations: list[str], width: int = 512, depth: int = 4, batch: int = 512,
                      device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                      warmup: int = 2, repeats: int = 7, seed: int = 0) -> dict[str, float]:
    """Median step time in ms per activation, measured in interleaved rounds.

    Each round times one step of every activation in turn, so a burst of background load (another
    program, a frequency change) affects all of them alike instead of whichever ran at that moment.
    """
    device = torch.device(device)
    sync = synchronizer(device)
    steps = {a: _mlp_step(a, width, depth, batch, device, dtype, seed) for a in activations}
    for step in steps.values():
        time_it(step, warmup=warmup, repeats=1, sync=sync)
    times: dict[str, list[float]] = {a: [] for a in activations}
    for _ in range(repeats):
        for a, step in steps.items():
            times[a].append(time_it(step, warmup=0, repeats=1, sync=sync))
    return {a: 1e3 * statistics.median(t) for a, t in times.items()}


def _activation_pass(activation: str, width: int, depth: int, batch: int, device: torch.device,
                     dtype: torch.dtype, seed: int) -> Callable[[], None]:
    """The activation's own work in one training step of :func:`_mlp_step`'s MLP: forward and
    backward through ``activation`` on ``depth - 1`` fresh (batch, width) tensors, as between its layers."""
    fn = FUNCTIONAL[activation]
    gen = torch.Generator().manual_seed(seed)
    xs = [torch.randn(batch, width, generator=gen).to(device=device, dtype=dtype).requires_grad_()
          for _ in range(depth - 1)]
    grads = [torch.randn(batch, width, generator=gen).to(device=device, dtype=dtype) for _ in range(depth - 1)]

    def run():
        for x, g in zip(xs, grads):
            fn(x).backward(g)
            x.grad = None
    return run


def activation_shares(activations: list[str], width: int = 256, depth: int = 4, batch: int = 256,
                      device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                      repeats: int = 15, seed: int = 0,
                      threads: int | None = None) -> dict[str, tuple[float, float]]:
    """Per activation: (median ms of one SGD step of the MLP, the share of that step its activation takes).

    ``threads``: run on that many intra-op threads (restored afterwards); None keeps the current count.

    The share is the median time of the activation's forward + backward on tensors of the step's
    shapes (:func:`_activation_pass`) over the median step time. Both are timed in the same
    interleaved rounds, so background load slows numerator and denominator alike; a difference of
    two step times (with and without activation) is far noisier on a busy machine.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _activation_shares(activations, width, depth, batch, torch.device(device), dtype, repeats, seed)
    finally:
        torch.set_num_threads(before)


def _activation_shares(activations, width, depth, batch, device, dtype, repeats, seed):
    sync = synchronizer(device)
    steps = {a: _mlp_step(a, width, depth, batch, device, dtype, seed) for a in activations}
    passes = {a: _activation_pass(a, width, depth, batch, device, dtype, seed) for a in activations}
    for a in activations:
        time_it(steps[a], warmup=1, repeats=1, sync=sync)
        time_it(passes[a], warmup=1, repeats=1, sync=sync)
    t_step: dict[str, list[float]] = {a: [] for a in activations}
    t_act: dict[str, list[float]] = {a: [] for a in activations}
    for _ in range(repeats):
        for a in activations:
            t_step[a].append(time_it(steps[a], warmup=0, repeats=1, sync=sync))
            t_act[a].append(time_it(passes[a], warmup=0, repeats=1, sync=sync))
    return {a: (1e3 * statistics.median(t_step[a]), statistics.median(t_act[a]) / statistics.median(t_step[a]))
            for a in activations}


#: The CPU settings of :func:`step_share_study`: name -> environment variables for the subprocess.
CPU_SETTINGS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
                "default": {"ATEN_CPU_CAPABILITY": "default"}}
SHARE_ACTIVATIONS = ["relu", "gelu", "elu", "sigmoid", "tanh"]


def step_share_study(repeats: int = 15) -> dict:
    """:func:`activation_shares` in float32 and bfloat16 on this CPU, in one subprocess per entry of
    :data:`CPU_SETTINGS` (PyTorch reads ATEN_CPU_CAPABILITY once, at start-up), on one thread."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json, torch; from relucourse import bench; torch.set_num_threads(1); "
            f"r = {{d: bench.activation_shares({SHARE_ACTIVATIONS!r}, dtype=getattr(torch, d), repeats={repeats}) "
            "for d in ('float32', 'bfloat16')}; "
            "print(json.dumps({'capability': torch.backends.cpu.get_cpu_capability(), 'results': r}))")
    out: dict = {"torch": torch.__version__, "width": 256, "depth": 4, "batch": 256, "threads": 1,
                 "repeats": repeats, "settings": {}}
    for name, env in CPU_SETTINGS.items():
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True,
                              capture_output=True, text=True)
        out["settings"][name] = json.loads(done.stdout.strip().splitlines()[-1])
        out["settings"][name]["env"] = env
    return out


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _parse_size(text: str) -> int:
    text = text.replace("_", "").replace(",", "")
    try:
        if "**" in text or "^" in text:
            base, exp = text.replace("^", "**").split("**")
            if abs(int(exp)) > 64:
                raise ValueError
            value = int(base) ** int(exp)
        else:
            value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8388608 or 2**23)") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the size must be at least 1")
    if value > 2**62:
        raise argparse.ArgumentTypeError(f"size {text} is larger than any memory")
    return value


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is ONE line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def default_figure_path() -> str:
    import os
    import tempfile
    return os.path.join(tempfile.gettempdir(), "relu_bench.png")


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(
        prog="python -m relucourse.bench",
        description="Time activation functions (forward and forward+backward) against a memory copy.",
        epilog=PERCENT_NOTE.replace("%", "%%"))
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, or mps")
    parser.add_argument("--size", type=_parse_size, default=2**23,
                        help="elements per tensor, e.g. 8388608 or 2**23 (default 2**23: 34 MB of float32)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--repeats", type=int, default=10,
                        help="interleaved timed rounds; each result is the median (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up calls per measurement (default 3)")
    parser.add_argument("--activations", default=",".join(ACTIVATION_NAMES),
                        help="comma-separated subset of: " + ", ".join(ACTIVATION_NAMES))
    parser.add_argument("--no-backward", action="store_true", help="time the forward pass only")
    parser.add_argument("--mlp", action="store_true",
                        help="also time one training step of an MLP with each activation")
    parser.add_argument("--mlp-width", type=int, default=512, help="width and batch size of that MLP")
    parser.add_argument("--figure", default=None,
                        help="where to save the bar chart (default: relu_bench.png in the system's "
                             "temporary folder; 'none' to skip)")
    args = parser.parse_args(argv)

    # every check comes before any measurement
    names = [n.strip() for n in args.activations.split(",") if n.strip()]
    unknown = [n for n in names if n not in KERNELS]
    if unknown or not names:
        parser.error(f"unknown activation(s) {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(ACTIVATION_NAMES)}")
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")
    if args.mlp_width < 1:
        parser.error("--mlp-width must be at least 1")
    dtype = DTYPES[args.dtype]
    try:
        device = resolve_device(args.device)
        need, free = bytes_needed(args.size, dtype), free_memory_bytes(device)
        if free is not None and need > free:
            raise ValueError(f"--size {args.size:,} needs about {need / 1e9:.1f} GB of {args.device} "
                             f"memory for its 4 tensors, but only {free / 1e9:.1f} GB are free; "
                             "choose a smaller --size")
        figure = None
        if (args.figure or "").lower() != "none":
            figure = check_figure_path(args.figure or default_figure_path())
    except ValueError as err:
        parser.error(str(err))

    start = time.perf_counter()
    print(f"torch {torch.__version__}")
    results = run_benchmark(args.size, device, dtype, names, args.warmup, args.repeats,
                            backward=not args.no_backward)
    print()
    print(format_table(results))
    print()
    print(PERCENT_NOTE)
    if args.mlp:
        print(f"\none SGD step of a 4-layer MLP, width {args.mlp_width}, batch {args.mlp_width}:")
        step_ms = compare_mlp_steps(names, width=args.mlp_width, batch=args.mlp_width, device=device, dtype=dtype)
        for name, ms in step_ms.items():
            print(f"  {name:<10} {ms:9.2f} ms")
        print(f"  slowest / fastest: {max(step_ms.values()) / min(step_ms.values()):.2f}")
    if figure is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = plot_results(results, title=f"Activations vs a memory copy: {describe_device(device)}, "
                                         f"{args.size:,} {args.dtype}")
        ax.figure.tight_layout()
        ax.figure.savefig(figure)
        plt.close(ax.figure)
        print(f"\nfigure saved to {figure}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
