"""The learner's progress report: run the exercise notebooks under nbval, one row per exercise.

    python -m relucourse.tooling.grading                 # all of exercises/
    python -m relucourse.tooling.grading exercises/01_activation_basics.ipynb

Each notebook is copied to a temporary folder and executed there top to bottom with nbval (in
"lax" mode: outputs are not compared), so the learner's own files are never written to. A small
pytest plugin watches every cell that calls ``check("N.M", ...)`` and records whether that
exercise passed, failed (with the check's whole message: what was tried, expected, got, the hint)
or is not attempted yet. Other cells that fail are reported under the exercise whose section they
sit in, with the limit when a cell ran out of time.

It grades the notebooks **as saved on disk**: what Jupyter shows but has not saved yet (it autosaves
every two minutes) is not graded. The report says so at the top, and ends with the time each
notebook was last saved.

The report has one block per notebook. The course's own notebooks (the names in ``solutions/``)
make the total; copies such as Jupyter's ``01_...-Copy1.ipynb`` and other notebooks are graded and
shown apart, never counted. A notebook that cannot be read gets its own line and the others still
report. A line of progress per notebook goes to standard error while it runs.

The exit status is 0 only when every exercise of the course's notebooks passed; 2 when there was
nothing to grade.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from .checks import EXERCISES, STRICT_ENV
from .checks.core import ExerciseNotAttempted
from .execute import retry_nbval_kernel_starts
from .release import ROOT, exercise_ids

PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN = "passed", "failed", "not attempted", "not run"

#: Seconds one cell may run before the report calls it stuck (a check's own limit is far lower).
CELL_TIMEOUT_S = 60

EXERCISE_HEADING = re.compile(r"Exercise\s+(\d+\.\d+)")

#: Points per exercise: the one place to set them, read by the class grader's CSV (make
#: grade-class) and the Gradescope autograder (make autograder). An exercise not listed is worth
#: DEFAULT_POINTS; e.g. ``POINTS = {"6.3": 3.0}``. A check passes or fails: all points or none.
DEFAULT_POINTS = 1.0
POINTS: dict[str, float] = {}


def points(exercise_id: str) -> float:
    """The points exercise ``exercise_id`` is worth."""
    return float(POINTS.get(exercise_id, DEFAULT_POINTS))


@dataclass
class Row:
    exercise: str
    status: str = NOT_RUN
    detail: str = ""  # one line, or several: the check's Tried / Expected / Got / Hint lines


@dataclass
class NotebookResult:
    path: str
    counted: bool  # one of the course's notebooks: its rows make the total
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failing cells that are not check cells
    unreadable: str = ""
    seconds: float = 0.0
    saved: str = ""  # when the file was last written (saved from Jupyter), local time


@dataclass
class Report:
    notebooks: list[NotebookResult] = field(default_factory=list)

    @property
    def rows(self) -> list[Row]:
        """The rows that make the total: those of the course's own notebooks."""
        return [r for nb in self.notebooks if nb.counted for r in nb.rows]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def all_passed(self) -> bool:
        return bool(self.rows) and self.count(PASSED) == len(self.rows)


def _sort_key(exercise_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in exercise_id.split("."))


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarise(message: str) -> str:
    """A report row's detail from a check's message: the problem, then its indented details."""
    lines = message.splitlines()
    head = lines[0].split(" failed ", 1)[-1] if lines else ""
    return "\n".join([head, *(line.strip() for line in lines[1:] if line.strip())])


def course_notebook_names(root: Path = ROOT) -> set[str]:
    """The course's notebook names: those in solutions/ (or exercises/, for a copy without solutions)."""
    for folder in ("solutions", "exercises"):
        names = {p.name for p in (root / folder).glob("[0-9][0-9]_*.ipynb")}
        if names:
            return names
    return set()


def expected_ids(name: str) -> list[str]:
    """The exercises a course notebook holds, from its chapter number (for unreadable notebooks)."""
    chapter = name[:2].lstrip("0")
    return sorted((k for k in EXERCISES if k.split(".")[0] == chapter), key=_sort_key)


# --------------------------------------------------------------------------------------------
# Where a code cell sits: the exercise section it belongs to and how a learner finds it
# --------------------------------------------------------------------------------------------

@dataclass
class CellPlace:
    exercise: str | None  # the section's exercise id; None before the first exercise
    where: str            # "the code cell under Exercise 1.3 that starts `def f(x):`"


def code_cell_places(nb: nbformat.NotebookNode) -> list[CellPlace]:
    """One entry per code cell, in order (nbval numbers code cells the same way)."""
    places, current = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = EXERCISE_HEADING.search(cell.source)
            if found and cell.source.lstrip().startswith("#"):
                current = found.group(1)
        elif cell.cell_type == "code":
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            section = f"under Exercise {current}" if current else "at the top of the notebook"
            places.append(CellPlace(current, f"the code cell {section} that starts "
                                             f"`{_one_line(first, 60)}`"))
    return places


def _error_of(outputs) -> tuple[str, str] | None:
    for out in outputs or []:
        if out.get("output_type") == "error":
            return out.get("ename", "Error"), out.get("evalue", "")
    return None


class _Collector:
    """pytest plugin: turns nbval's per-cell results into per-exercise rows for one notebook."""

    def __init__(self, result: NotebookResult, places: list[CellPlace], cell_timeout: float):
        self.result = result
        self.places = places
        self.cell_timeout = cell_timeout
        self.section_problem: dict[str | None, str] = {}  # first failing non-check cell per section

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if call.when != "call" or not hasattr(item, "cell"):
            return
        place = self.places[item.cell_num] if item.cell_num < len(self.places) else CellPlace(None, "a cell")
        outputs = getattr(item, "test_outputs", None)
        error = _error_of(outputs)
        text = str(call.excinfo.value) if call.excinfo else ""
        timed_out = "Timeout of" in text or (error and error[0] == "KeyboardInterrupt")
        ids = exercise_ids(item.cell.source)
        if not ids:
            if report.failed:
                if timed_out:
                    what = (f"{place.where} did not finish within {self.cell_timeout:g} s (the time "
                            "limit per cell): look for a loop that never ends.")
                elif error:
                    what = f"{place.where} raised {error[0]}: {_one_line(error[1])}"
                else:
                    what = f"{place.where} failed: {_one_line(text)}"
                self.result.problems.append(what)
                self.section_problem.setdefault(place.exercise, what)
            return
        for exercise_id in ids:
            row = Row(exercise_id)
            if report.passed:
                printed = "".join(o.get("text", "") for o in outputs or [] if o.get("output_type") == "stream")
                shown = "".join(o.get("data", {}).get("text/plain", "") for o in outputs or []
                                if o.get("output_type") == "display_data")
                passed_line = next((line.split(": ", 1)[1] for line in printed.splitlines()
                                    if line.startswith(f"Exercise {exercise_id} passed: ")), None)
                if passed_line is not None:
                    row.status, row.detail = PASSED, passed_line
                elif "not attempted yet" in shown:  # a check that showed instead of raising
                    row.status = NOT_ATTEMPTED
                else:
                    row.status, row.detail = FAILED, summarise(shown) if shown else "the check printed nothing"
            elif error and error[0] == ExerciseNotAttempted.__name__:
                row.status = NOT_ATTEMPTED
            else:
                row.status = FAILED
                # a failing cell of this exercise's section, else one at the top (the imports)
                earlier = self.section_problem.get(exercise_id) or self.section_problem.get(None)
                if timed_out:
                    row.detail = (f"the check cell did not finish within {self.cell_timeout:g} s "
                                  "(the time limit per cell).")
                elif error and error[0] == "ExerciseFailed":
                    row.detail = summarise(error[1])
                elif earlier:
                    row.detail = f"an earlier cell of this exercise went wrong: {earlier}"
                    if earlier in self.result.problems:  # said in the row: no separate note
                        self.result.problems.remove(earlier)
                elif error:
                    row.detail = f"the check cell raised {error[0]}: {_one_line(error[1])}"
                else:
                    row.detail = _one_line(text)
            self.result.rows.append(row)


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 (the kernels' log lines: "running over TCP ...") to a file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def grade_notebook(path: Path, counted: bool, cell_timeout: float = CELL_TIMEOUT_S) -> NotebookResult:
    """Execute a copy of one notebook under nbval and collect one row per exercise."""
    result = NotebookResult(str(path), counted)
    with contextlib.suppress(OSError):
        result.saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    start = time.perf_counter()
    try:  # as lenient as Jupyter: a schema detail (a cell id in an older minor version) is fine
        nb = nbformat.read(path, as_version=4)
        if not isinstance(nb.get("cells"), list) or not all(
                isinstance(c, dict) and "cell_type" in c and "source" in c for c in nb.cells):
            raise ValueError("this file has no list of notebook cells")
    except Exception as err:  # empty, truncated, not JSON, not a notebook
        result.unreadable = f"{type(err).__name__}: {_one_line(err, 160)}"
        if counted:
            result.rows = [Row(i, NOT_RUN, "the notebook could not be read") for i in expected_ids(path.name)]
        return result
    places = code_cell_places(nb)
    with tempfile.TemporaryDirectory(prefix="relucourse-grade-") as tmp:
        tmp = Path(tmp)
        (tmp / "pytest.ini").write_text("[pytest]\n")
        copy = tmp / path.name
        shutil.copyfile(path, copy)
        args = ["--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout:g}",
                "-c", str(tmp / "pytest.ini"), "--rootdir", str(tmp), "-p", "no:cacheprovider",
                "-q", "--no-header", "-o", "console_output_style=classic", str(copy)]
        previous = os.environ.get(STRICT_ENV)
        os.environ[STRICT_ENV] = "1"  # checks fail their cells in the kernels started here
        retry_nbval_kernel_starts()
        try:
            with contextlib.redirect_stdout(io.StringIO()), _quiet_stderr():
                pytest.main(args, plugins=[_Collector(result, places, cell_timeout)])
        finally:
            if previous is None:
                os.environ.pop(STRICT_ENV, None)
            else:
                os.environ[STRICT_ENV] = previous
    result.rows.sort(key=lambda r: _sort_key(r.exercise))
    result.seconds = time.perf_counter() - start
    return result


def find_notebooks(paths: list[Path]) -> list[Path]:
    found = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb" and p.exists():
            found.append(p)
        else:
            raise FileNotFoundError(f"not a notebook or folder: {p}")
    return found


def grade(paths: list[Path], cell_timeout: float = CELL_TIMEOUT_S, progress=None,
          root: Path = ROOT) -> Report:
    """Grade every notebook; ``progress(line)`` is called once per notebook as it finishes."""
    course = course_notebook_names(root)
    report = Report()
    for nb in find_notebooks(paths):
        result = grade_notebook(nb, nb.name in course, cell_timeout)
        report.notebooks.append(result)
        if progress:
            if result.unreadable:
                progress(f"graded {nb}: could not be read")
            else:
                done = sum(r.status == PASSED for r in result.rows)
                progress(f"graded {nb}: {done} of {len(result.rows)} passed ({result.seconds:.1f} s)")
    return report


def _format_notebook(nb: NotebookResult) -> list[str]:
    lines = [nb.path]
    if nb.unreadable:
        lines.append(f"  could not be read ({nb.unreadable}).")
        lines.append(f"  Restore it with `git checkout -- {nb.path}`, or save it again from Jupyter.")
        return lines
    if not nb.rows:
        lines.append("  no graded exercises (no cell calls check(...)).")
    for r in nb.rows:
        detail = r.detail.splitlines() or [""]
        lines.append(f"  {r.exercise:<6} {r.status:<14} {detail[0]}".rstrip())
        lines += [f"{'':<11}{more}" for more in detail[1:]]
    for problem in nb.problems:
        lines.append(f"  note: {problem}")
    return lines


def format_report(report: Report) -> str:
    lines = ["Progress report",
             "Graded as saved on disk: save in Jupyter (Ctrl+S) first."]
    counted = [nb for nb in report.notebooks if nb.counted]
    others = [nb for nb in report.notebooks if not nb.counted]
    for nb in counted:
        lines += ["", *_format_notebook(nb)]
    if others:
        lines += ["", "Copies and other notebooks (graded, not counted in the total):"]
        for nb in others:
            lines += ["", *_format_notebook(nb)]
    total = len(report.rows)
    not_run = report.count(NOT_RUN)
    lines += ["", f"Total: {report.count(PASSED)} of {total} passed, {report.count(FAILED)} failed, "
                  f"{report.count(NOT_ATTEMPTED)} not attempted"
                  + (f", {not_run} not run" if not_run else "") + "."]
    saved = [nb for nb in report.notebooks if nb.saved]
    if saved:
        width = max(len(nb.path) for nb in saved)
        lines += ["", "Last saved (save with Ctrl+S to grade newer work):"]
        lines += [f"  {nb.path:<{width}}  {nb.saved}" for nb in saved]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("exercises")],
                        help="exercise notebooks or folders (default: exercises/)")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT_S,
                        help=f"seconds one cell may run (default {CELL_TIMEOUT_S})")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON (for tools such as the class grader)")
    parser.add_argument("--serve", action="store_true",
                        help="read one notebook path per line from standard input and answer each "
                             "with one line of JSON (the class grader's worker)")
    args = parser.parse_args(argv)
    if args.serve:
        for line in sys.stdin:
            nb = grade_notebook(Path(line.strip()), True, args.cell_timeout)
            print(json.dumps(dataclasses.asdict(nb)), flush=True)
        return 0
    if args.json:
        try:
            found = grade(args.paths, args.cell_timeout)
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(json.dumps([dataclasses.asdict(nb) for nb in found.notebooks]))
        return 0
    try:
        report = grade(args.paths, args.cell_timeout,
                       progress=lambda line: print(line, file=sys.stderr, flush=True))
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not report.notebooks:
        print("No exercise notebooks found.")
        return 2
    print(format_report(report))
    if not report.rows:
        return 2
    return 0 if report.all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
