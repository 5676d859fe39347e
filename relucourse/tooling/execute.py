"""Execute notebooks in place (refreshing their stored outputs) and record where and how long.

    python -m relucourse.tooling.execute chapters/01_activation_basics.ipynb solutions/*.ipynb

Chapters and solutions are committed executed: the book shows these outputs (it does not run the
lessons again), and nbval compares a fresh run with them - every digit of an *exact* output, and
for a *measured* output (tag ``nbval-ignore-output``) the claim the cell checks. This command also
writes ``executed-on.json``: the machine, instruction set, software and time of each notebook,
which the book's reproducibility page shows. The course's budget is 30 s per notebook (hard
ceiling 60 s); this command says which exceed it.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .checks import STRICT_ENV

BUDGET_S, CEILING_S = 30.0, 60.0
ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "executed-on.json"


def coalesce_streams(outputs: list) -> list:
    """Join consecutive outputs of one stream: a print can reach the kernel's output in two
    pieces (its text, then its newline) when the machine is busy, and would show as two blocks."""
    joined = []
    for out in outputs:
        if (joined and out.get("output_type") == "stream" and joined[-1].get("output_type") == "stream"
                and joined[-1].get("name") == out.get("name")):
            joined[-1]["text"] += out["text"]
        else:
            joined.append(out)
    return joined


#: How many times a notebook's kernel may be started. A kernel takes the TCP ports that its
#: manager found free a moment before; with several processes starting kernels and a browser
#: opening connections, another process can take one first, and the kernel exits at once
#: ("Kernel died before replying to kernel_info"). A new start draws new ports.
KERNEL_START_ATTEMPTS = 3


def kernel_did_not_start(err: BaseException) -> bool:
    """The errors of jupyter_client's wait for a new kernel (not a kernel that died later)."""
    text = str(err)
    return isinstance(err, RuntimeError) and ("before replying to kernel_info" in text
                                              or "didn't respond in" in text)


def retry_kernel_start(run):
    """``run`` (a call that starts a kernel: nbval's start, or a new NotebookClient's execute),
    called again while its kernel does not start, up to KERNEL_START_ATTEMPTS times in all."""
    @functools.wraps(run)
    def again(*args, **kwargs):
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            try:
                return run(*args, **kwargs)
            except RuntimeError as err:
                if attempt == KERNEL_START_ATTEMPTS or not kernel_did_not_start(err):
                    raise
                print(f"relucourse: the notebook's kernel did not start ({err}); starting it again "
                      f"(attempt {attempt + 1} of {KERNEL_START_ATTEMPTS})", file=sys.stderr)
    again.retries = True
    return again


def retry_nbval_kernel_starts() -> None:
    """Make nbval start a notebook's kernel again when it does not start (once per process): the
    course's pytest plugin and ``make grade`` call it."""
    import nbval.kernel

    if not getattr(nbval.kernel.start_new_kernel, "retries", False):
        nbval.kernel.start_new_kernel = retry_kernel_start(nbval.kernel.start_new_kernel)


def execute(path: Path, timeout: int = 120) -> float:
    """Run one notebook top to bottom in its own folder, write it back, return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    # Stored outputs are what nbval compares with, and nbval runs checks in strict mode: a passed
    # check prints its line (in a learner's session it shows a green box instead).
    os.environ[STRICT_ENV] = "1"
    start = time.perf_counter()
    retry_kernel_start(lambda: NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={
        "metadata": {"path": str(path.parent)}}).execute())()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    path.write_text(nbformat.writes(nb) + "\n")
    return seconds


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the outputs depend on: the CPU and the kernels PyTorch picked for it, threads, software."""
    import torch
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": f"{cpu_model()}, {os.cpu_count()} cores",
        "pytorch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": os.environ.get("RELUCOURSE_THREADS", "1"),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "packages": {p: version(p) for p in ("torch", "numpy", "matplotlib", "scikit-learn", "nbclient")},
        "load_average_at_start": None if load is None else round(load, 2),
    }


def record(times: dict[str, float], path: Path = RECORD) -> None:
    """Merge this run's notebook times into ``executed-on.json`` with the machine they ran on."""
    old = json.loads(path.read_text()) if path.exists() else {}
    notebooks = old.get("notebooks", {})
    today = datetime.date.today().isoformat()
    for name, seconds in times.items():
        notebooks[name] = {"seconds": round(seconds, 1), "date": today, **machine()}
    path.write_text(json.dumps({"notebooks": dict(sorted(notebooks.items()))}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--no-record", action="store_true", help=f"do not update {RECORD.name}")
    args = parser.parse_args(argv)
    over, times = 0, {}
    for path in args.notebooks:
        seconds = execute(path)
        flag = "" if seconds <= BUDGET_S else ("  OVER BUDGET" if seconds <= CEILING_S else "  OVER CEILING")
        over += seconds > CEILING_S
        print(f"{seconds:6.1f} s  {path}{flag}", flush=True)
        try:
            times[path.resolve().relative_to(ROOT).as_posix()] = seconds
        except ValueError:
            pass  # a notebook outside the course folder is not recorded
    if times and not args.no_record:
        record(times)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
