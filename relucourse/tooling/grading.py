"""The learner's progress report: run the exercise notebooks under nbval, one row per exercise.

    python -m relucourse.tooling.grading                 # all of exercises/
    python -m relucourse.tooling.grading exercises/01_activation_basics.ipynb

Each notebook is copied to a temporary folder and executed there top to bottom with nbval (in
"lax" mode: outputs are not compared), so the learner's own files are never written to. A small
pytest plugin watches every cell that calls ``check("N.M", ...)`` and records whether that
exercise passed, failed (with the reason the check gave) or is not attempted yet. Cells without
a check that raise an error are reported too, since they usually explain a failure further down.

The exit status is 0 only when every exercise passed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .checks.core import ExerciseNotAttempted
from .release import exercise_ids

PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN = "passed", "failed", "not attempted", "not run"


@dataclass
class Row:
    exercise: str
    notebook: str
    status: str = NOT_RUN
    detail: str = ""


@dataclass
class CellError:
    notebook: str
    cell: int
    error: str


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    cell_errors: list[CellError] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def all_passed(self) -> bool:
        return bool(self.rows) and self.count(PASSED) == len(self.rows)


def _sort_key(exercise_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in exercise_id.split("."))


def _error_of(outputs) -> tuple[str, str] | None:
    for out in outputs or []:
        if out.get("output_type") == "error":
            return out.get("ename", "Error"), out.get("evalue", "")
    return None


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarise(message: str) -> str:
    """One report line from a check's message: the problem, what was tried, what came back."""
    lines = message.splitlines()
    head = lines[0].split(" failed ", 1)[-1] if lines else ""
    keep = [line.strip() for line in lines[1:] if line.strip().startswith(("Tried:", "Got:"))]
    return _one_line(" ".join([head, *keep]), limit=300)


class _Collector:
    """pytest plugin: turns nbval's per-cell results into per-exercise rows."""

    def __init__(self, report: Report, names: dict[str, str]):
        self.report = report
        self.names = names  # copied path -> the learner's path, for messages

    def _notebook(self, item) -> str:
        return self.names.get(str(Path(str(item.fspath)).resolve()), item.fspath.basename)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        result = outcome.get_result()
        if call.when != "call" or not hasattr(item, "cell"):
            return
        ids = exercise_ids(item.cell.source)
        outputs = getattr(item, "test_outputs", None)
        error = _error_of(outputs)
        if not ids:
            if result.failed:
                what = f"{error[0]}: {_one_line(error[1])}" if error else _one_line(str(call.excinfo.value))
                self.report.cell_errors.append(CellError(self._notebook(item), item.cell_num, what))
            return
        for exercise_id in ids:
            row = Row(exercise_id, self._notebook(item))
            if result.passed:
                row.status = PASSED
                printed = "".join(o.get("text", "") for o in outputs or [] if o.get("output_type") == "stream")
                row.detail = next((line.split(": ", 1)[1] for line in printed.splitlines()
                                   if line.startswith(f"Exercise {exercise_id} passed: ")), "")
            elif error and error[0] == ExerciseNotAttempted.__name__:
                row.status = NOT_ATTEMPTED
            else:
                row.status = FAILED
                if error and error[0] == "ExerciseFailed":
                    row.detail = summarise(error[1])
                elif error:
                    row.detail = f"{error[0]}: {_one_line(error[1])}"
                else:
                    row.detail = _one_line(str(call.excinfo.value))
            self.report.rows.append(row)


def find_notebooks(paths: list[Path]) -> list[Path]:
    found = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb":
            found.append(p)
        else:
            raise FileNotFoundError(f"not a notebook or folder: {p}")
    return found


def grade(paths: list[Path], cell_timeout: int = 120, quiet: bool = True) -> Report:
    """Execute copies of the notebooks under nbval and collect one row per exercise."""
    notebooks = find_notebooks(paths)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="relucourse-grade-") as tmp:
        tmp = Path(tmp)
        (tmp / "pytest.ini").write_text("[pytest]\n")
        names, copies = {}, []
        for i, nb in enumerate(notebooks):
            copy = tmp / f"{i:02d}" / nb.name
            copy.parent.mkdir()
            shutil.copyfile(nb, copy)
            names[str(copy.resolve())] = str(nb)
            copies.append(str(copy))
        args = ["--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout}",
                "-c", str(tmp / "pytest.ini"), "--rootdir", str(tmp), "-p", "no:cacheprovider",
                "-q", "--no-header", "-o", "console_output_style=classic", *copies]
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            pytest.main(args, plugins=[_Collector(report, names)])
    report.rows.sort(key=lambda r: _sort_key(r.exercise))
    return report


def format_report(report: Report) -> str:
    lines = ["Progress report", "", f"  {'Exercise':<9} {'Status':<14} Detail"]
    for r in report.rows:
        lines.append(f"  {r.exercise:<9} {r.status:<14} {r.detail}".rstrip())
    if report.cell_errors:
        lines += ["", "Other cells that raised an error (they may explain a failure above):"]
        lines += [f"  {e.notebook}, cell {e.cell}: {e.error}" for e in report.cell_errors]
    total = len(report.rows)
    lines += ["", f"Total: {report.count(PASSED)} of {total} passed, {report.count(FAILED)} failed, "
                  f"{report.count(NOT_ATTEMPTED)} not attempted"
                  + (f", {report.count(NOT_RUN)} not run" if report.count(NOT_RUN) else "") + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("exercises")],
                        help="exercise notebooks or folders (default: exercises/)")
    args = parser.parse_args(argv)
    try:
        report = grade(args.paths)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not report.rows:
        print("No graded exercises found (no cell calls check(...)).")
        return 2
    print(format_report(report))
    return 0 if report.all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
