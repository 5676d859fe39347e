"""Execute notebooks in place (refreshing their stored outputs) and report how long each took.

    python -m relucourse.tooling.execute chapters/01_activation_basics.ipynb solutions/*.ipynb

Chapters and solutions are committed executed: nbval compares a fresh run with these outputs.
The course's budget is 30 s per notebook (hard ceiling 60 s); this command says which exceed it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .checks import STRICT_ENV

BUDGET_S, CEILING_S = 30.0, 60.0


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


def execute(path: Path, timeout: int = 120) -> float:
    """Run one notebook top to bottom in its own folder, write it back, return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    # Stored outputs are what nbval compares with, and nbval runs checks in strict mode: a passed
    # check prints its line (in a learner's session it shows a green box instead).
    os.environ[STRICT_ENV] = "1"
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    path.write_text(nbformat.writes(nb) + "\n")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    over = 0
    for path in args.notebooks:
        seconds = execute(path)
        flag = "" if seconds <= BUDGET_S else ("  OVER BUDGET" if seconds <= CEILING_S else "  OVER CEILING")
        over += seconds > CEILING_S
        print(f"{seconds:6.1f} s  {path}{flag}", flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
