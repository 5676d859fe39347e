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

    python -m relucourse.bench                         # CPU, 2**23 float32 values
    python -m relucourse.bench --device cuda --size 2**28 --repeats 20
    python -m relucourse.bench --dtype bfloat16 --figure bench.png --mlp

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
#: course's fact-check notes: one NVIDIA H200, PyTorch 2.11, 2**28 float32 values. Bandwidths in
#: GB/s as (low, high) over the activations listed; selu was not part of that run.
H200_REFERENCE = {
    "hardware": "NVIDIA H200 (one GPU)", "software": "PyTorch 2.11", "size": "2**28 float32 values",
    "forward_gbs": {"copy": (4150, 4150), "relu": (3940, 3990), "leaky_relu": (3940, 3990),
                    "elu": (3940, 3990), "gelu": (3940, 3990), "silu": (3940, 3990),
                    "sigmoid": (3940, 3990), "tanh": (3940, 3990), "softplus": (3850, 3850)},
    "mlp_step_ms": (30.93, 30.97),
    "mlp_step": "4 layers, width 4096, batch 4096, float32; relu, sigmoid, tanh, gelu or elu",
}

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
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``... with a clear error when CUDA is asked for but absent."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name} was requested, but PyTorch sees no CUDA GPU "
                         f"(torch {torch.__version__}, torch.version.cuda={torch.version.cuda}). "
                         "Run with --device cpu, or install a CUDA build of PyTorch on a machine with a GPU.")
    return device


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
    """The results as an aligned text table."""
    lines = [f"{'':<10} {'forward':>28}   {'forward + backward':>28}",
             f"{'activation':<10} {'ms':>9} {'GB/s':>9} {'% copy':>8}   {'ms':>9} {'GB/s':>9} {'% copy':>8}"]
    for r in results:
        fb = ("" if r.fwdbwd_ms is None else
              f"   {r.fwdbwd_ms:9.3f} {r.fwdbwd_gbs:9.1f} {r.fwdbwd_pct:7.0f}%")
        lines.append(f"{r.name:<10} {r.fwd_ms:9.3f} {r.fwd_gbs:9.1f} {r.fwd_pct:7.0f}%{fb}")
    return "\n".join(lines)


def plot_results(results: list[Result], ax=None, title: str | None = None):
    """Bar chart of each activation's bandwidth as a percentage of the copy's; returns the axes."""
    import matplotlib.pyplot as plt
    from .plots import PALETTE, use_style

    use_style()
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.0))
    rows = [r for r in results if r.name != "copy"]
    pos = list(range(len(rows)))
    ax.bar([p - 0.2 for p in pos], [r.fwd_pct for r in rows], width=0.4, color=PALETTE[0], label="forward")
    if any(r.fwdbwd_pct is not None for r in rows):
        ax.bar([p + 0.2 for p in pos], [r.fwdbwd_pct or 0 for r in rows], width=0.4, color=PALETTE[1],
               label="forward + backward")
    ax.axhline(100, color="black", lw=1, ls="--", label="memory copy (100%)")
    ax.set_xticks(pos, [r.name for r in rows], rotation=30)
    top = max([100.0] + [r.fwd_pct for r in rows] + [r.fwdbwd_pct or 0 for r in rows])
    ax.set(ylabel="bandwidth, % of a memory copy", xlabel="activation", ylim=(0, 1.3 * top),
           title=title or "Effective bandwidth of activation functions")
    ax.legend(loc="upper center", ncol=3)
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


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _parse_size(text: str) -> int:
    text = text.replace("_", "").replace(",", "")
    try:
        if "**" in text or "^" in text:
            base, exp = text.replace("^", "**").split("**")
            value = int(base) ** int(exp)
        else:
            value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8388608 or 2**23)") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the size must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m relucourse.bench",
        description="Time activation functions (forward and forward+backward) against a memory copy.")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, or mps")
    parser.add_argument("--size", type=_parse_size, default=2**23,
                        help="elements per tensor, e.g. 8388608 or 2**23 (default 2**23: 34 MB of float32)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--repeats", type=int, default=10, help="interleaved timed rounds; each result is the median (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up calls per measurement (default 3)")
    parser.add_argument("--activations", default=",".join(ACTIVATION_NAMES),
                        help="comma-separated subset of: " + ", ".join(ACTIVATION_NAMES))
    parser.add_argument("--no-backward", action="store_true", help="time the forward pass only")
    parser.add_argument("--mlp", action="store_true",
                        help="also time one training step of an MLP with each activation")
    parser.add_argument("--mlp-width", type=int, default=512, help="width and batch size of that MLP")
    parser.add_argument("--figure", default="relu_bench.png",
                        help="where to save the bar chart (default relu_bench.png; 'none' to skip)")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.activations.split(",") if n.strip()]
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        parser.error(f"unknown activation(s) {', '.join(unknown)}; choose from {', '.join(ACTIVATION_NAMES)}")
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")
    device = resolve_device(args.device)
    dtype = DTYPES[args.dtype]

    start = time.perf_counter()
    print(f"torch {torch.__version__}")
    results = run_benchmark(args.size, device, dtype, names, args.warmup, args.repeats,
                            backward=not args.no_backward)
    print()
    print(format_table(results))
    if args.mlp:
        print(f"\none SGD step of a 4-layer MLP, width {args.mlp_width}, batch {args.mlp_width}:")
        step_ms = compare_mlp_steps(names, width=args.mlp_width, batch=args.mlp_width, device=device, dtype=dtype)
        for name, ms in step_ms.items():
            print(f"  {name:<10} {ms:9.2f} ms")
        print(f"  slowest / fastest: {max(step_ms.values()) / min(step_ms.values()):.2f}")
    if args.figure.lower() != "none":
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = plot_results(results, title=f"Activations vs a memory copy: {describe_device(device)}, "
                                         f"{args.size:,} {args.dtype}")
        ax.figure.tight_layout()
        ax.figure.savefig(args.figure)
        plt.close(ax.figure)
        print(f"\nfigure saved to {args.figure}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
