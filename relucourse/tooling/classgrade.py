"""Grade a whole class: every learner's exercise notebooks, one CSV and a short summary.

    python -m relucourse.tooling.classgrade SUBMISSIONS [--out grades] [--jobs 2] [--timeout 300]
    make grade-class SUBMISSIONS=path/to/folder

SUBMISSIONS holds either one folder per learner (``alice/01_activation_basics.ipynb``) or files
named per learner (``alice_01_activation_basics.ipynb``, ``bob-02_origin_of_relu.ipynb``): the
learner is the folder's name, or what stands before the course notebook's name. Each notebook is
graded like ``make grade`` does, on a copy (submissions are never written to), by one of ``--jobs``
worker processes, with a time bound per notebook: a notebook past it is stopped, its worker
restarted. A notebook that cannot be read, that runs past the bound, or whose name is not
one of the course's gets a row that says so; the rest still grade.

Writes ``OUT/grades.csv`` (one row per learner, notebook and exercise: status, points as
:func:`relucourse.tooling.grading.points` sets them, and the check's message) and
``OUT/summary.txt`` (per exercise: how many learners passed, failed, did not attempt it, and the
most common failure messages; per learner: totals), and prints the summary.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .grading import (FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, _sort_key, course_notebook_names,
                      expected_ids, points)
from .release import ROOT


@dataclass
class Submission:
    learner: str
    path: Path
    notebook: str | None  # the course notebook it answers, or None when the name is unknown


@dataclass
class Result:
    submission: Submission
    rows: list[tuple[str, str, str]]  # (exercise, status, message)
    note: str = ""
    seconds: float = 0.0


def find_submissions(folder: Path, course: set[str]) -> list[Submission]:
    """One entry per notebook found: in per-learner folders, or named ``LEARNER_NN_slug.ipynb``."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(folder)
        match = next((name for name in course if path.name.endswith(name)), None)
        if len(rel.parts) > 1:
            learner = rel.parts[0]
        elif match and len(path.name) > len(match):
            learner = re.sub(r"[_\-. ]+$", "", path.name[: -len(match)])
        else:
            learner = path.stem
        found.append(Submission(learner or path.stem, path, match))
    return found


class Worker:
    """A grading process that stays up between notebooks (Python, PyTorch and pytest load once).

    It reads a notebook path per line and answers with a line of JSON. When a notebook runs past
    the time bound, the whole process group (the notebook's kernel too) is killed and a fresh
    worker starts with the next notebook.
    """

    def __init__(self, cell_timeout: float):
        self.cell_timeout = cell_timeout
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relucourse.tooling.grading", "--serve",
             "--cell-timeout", f"{self.cell_timeout:g}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            cwd=ROOT, start_new_session=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def grade(self, path: Path, timeout: float) -> dict | None:
        """The notebook's result as a dict, or None when it ran past ``timeout`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            return None
        return json.loads(line)


def grade_submission(sub: Submission, worker: Worker, timeout: float) -> Result:
    """Grade one notebook with ``worker``, on a copy named like the course notebook."""
    start = time.perf_counter()
    if sub.notebook is None:
        return Result(sub, [], "not a course notebook (its name should end in one of the "
                               "course's notebook names, e.g. 01_activation_basics.ipynb)")
    with tempfile.TemporaryDirectory(prefix="relucourse-class-") as tmp:
        copy = Path(tmp) / sub.notebook
        shutil.copyfile(sub.path, copy)
        nb = worker.grade(copy, timeout)
    seconds = time.perf_counter() - start
    if nb is None:
        note = f"grading stopped after {timeout:g} s (the time bound per notebook)"
        return Result(sub, [(i, NOT_RUN, note) for i in expected_ids(sub.notebook)], note, seconds)
    rows = [(r["exercise"], r["status"], r["detail"]) for r in nb["rows"]]
    if nb["unreadable"]:
        note = f"could not be read ({nb['unreadable']})"
    elif not rows:
        note = "no graded exercises in this notebook (no cell calls check(...))"
        rows = [(i, NOT_RUN, note) for i in expected_ids(sub.notebook)]
    else:
        note = "; ".join(nb["problems"])
    return Result(sub, rows, note, seconds)


def first_line(message: str) -> str:
    """The message's first line without the check's number, so that alike failures group."""
    line = message.splitlines()[0] if message else ""
    return re.sub(r"\bcheck \d+: ", "", line)


def write_csv(results: list[Result], path: Path) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["learner", "notebook", "exercise", "status", "points", "max_points", "message"])
        for res in results:
            name = res.submission.path.name
            if not res.rows:
                out.writerow([res.submission.learner, name, "", NOT_RUN, "", "", res.note])
            for exercise, status, message in res.rows:
                out.writerow([res.submission.learner, name, exercise, status, *row_points(exercise, status),
                              message])


def row_points(exercise: str, status: str) -> tuple[str, str]:
    """A CSV row's points and the most it could get (grading.points: the same as the autograder's)."""
    most = points(exercise)
    return f"{most if status == PASSED else 0:g}", f"{most:g}"


def summary(results: list[Result], seconds: float, most_common: int = 3) -> str:
    learners = sorted({r.submission.learner for r in results})
    per_exercise: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    per_learner: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for res in results:
        for exercise, status, message in res.rows:
            per_exercise[exercise][status] += 1
            per_learner[res.submission.learner][status] += 1
            if status == FAILED:
                failures[exercise][first_line(message)] += 1
    lines = [f"Class report: {len(learners)} learners, {len(results)} notebooks, graded in {seconds:.0f} s",
             "", "Per exercise (learners):",
             f"  {'exercise':<9}{'passed':>7}{'failed':>7}{'not attempted':>15}{'not run':>9}"]
    for exercise in sorted(per_exercise, key=_sort_key):
        c = per_exercise[exercise]
        lines.append(f"  {exercise:<9}{c[PASSED]:>7}{c[FAILED]:>7}{c[NOT_ATTEMPTED]:>15}{c[NOT_RUN]:>9}")
        for message, n in failures[exercise].most_common(most_common):
            lines.append(f"      {n} x {message}")
    troubles = [r for r in results if r.note]
    if troubles:
        lines += ["", "Notebooks with problems:"]
        lines += [f"  {r.submission.learner}: {r.submission.path.name}: {r.note}" for r in troubles]
    lines += ["", "Per learner:", f"  {'learner':<20}{'passed':>7}{'failed':>7}{'not attempted':>15}{'not run':>9}"]
    for learner in learners:
        c = per_learner[learner]
        lines.append(f"  {learner:<20}{c[PASSED]:>7}{c[FAILED]:>7}{c[NOT_ATTEMPTED]:>15}{c[NOT_RUN]:>9}")
    return "\n".join(lines)


def grade_class(folder: Path, out: Path, jobs: int = 2, timeout: float = 300,
                cell_timeout: float = 60, progress=print) -> list[Result]:
    subs = find_submissions(folder, course_notebook_names())
    start = time.perf_counter()
    results: list[Result] = []

    workers = queue.Queue()
    for _ in range(max(1, jobs)):
        workers.put(Worker(cell_timeout))

    def one(sub: Submission) -> Result:
        worker = workers.get()
        try:
            res = grade_submission(sub, worker, timeout)
        finally:
            workers.put(worker)
        passed = sum(status == PASSED for _, status, _ in res.rows)
        state = res.note if res.note and not res.rows else f"{passed} of {len(res.rows)} passed"
        results.append(res)
        progress(f"[{len(results)}/{len(subs)}] {sub.learner}: {sub.path.name}: {state} "
                 f"({res.seconds:.1f} s)")
        return res

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            ordered = list(pool.map(one, subs))
    finally:
        while not workers.empty():
            workers.get().stop()
    out.mkdir(parents=True, exist_ok=True)
    write_csv(ordered, out / "grades.csv")
    (out / "summary.txt").write_text(summary(ordered, time.perf_counter() - start) + "\n")
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder of learners' notebooks")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="where to write (default grades/)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (default 60)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"error: not a folder: {args.submissions}", file=sys.stderr)
        return 2
    results = grade_class(args.submissions, args.out, args.jobs, args.timeout, args.cell_timeout,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    if not results:
        print(f"error: no notebooks found in {args.submissions}", file=sys.stderr)
        return 2
    print((args.out / "summary.txt").read_text(), end="")
    print(f"\nWrote {args.out / 'grades.csv'} and {args.out / 'summary.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
