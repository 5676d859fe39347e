"""End to end: the progress report over what a learner leaves behind (blank, solved, wrong, broken).

Every test works on exercise notebooks freshly generated from solutions/ into a temporary folder:
exercises/ is the learner's workspace, and nothing here reads or writes it.
"""

import hashlib
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from relucourse.tooling.checks import EXERCISES, STRICT_ENV
from relucourse.tooling.execute import retry_kernel_start
from relucourse.tooling.release import BEGIN, targets

CHAPTER_1 = "01_activation_basics.ipynb"


def grade(*paths, extra=()):
    return subprocess.run([sys.executable, "-m", "relucourse.tooling.grading", *extra, *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)


def digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def write_blank(folder, names=None):
    """The generated exercise notebooks (all, or those named) written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in targets(ROOT).items():
        if names is None or path.name in names:
            (folder / path.name).write_text(text)
            written.append(folder / path.name)
    return written


def solve(path):
    """Paste each solution of the matching solutions/ notebook into the exercise's stub cell."""
    ex = nbformat.read(path, as_version=4)
    sol = nbformat.read(ROOT / "solutions" / path.name, as_version=4)
    for ex_cell, sol_cell in zip(ex.cells, sol.cells):
        if BEGIN in sol_cell.source:
            ex_cell.source = sol_cell.source
    nbformat.write(ex, path)


def stub_cell(nb, exercise_id):
    return next(c for c in nb.cells
                if c.cell_type == "code" and f'NotImplementedError("Exercise {exercise_id}' in c.source)


#: The cell that never ends waits, without spending the CPU the other tests need; the limit per
#: cell must leave room for the solved notebooks' slowest cell on a busy machine.
CELL_TIMEOUT_S = 15
NEVER_ENDS = "import time\nwhile True:\n    time.sleep(0.2)"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One grading run over what a learner's folder may hold, each notebook checked by a test below:
    chapter 1 with a wrong 1.1 and a 1.2 cell that never ends, a solved copy of chapter 1 (Jupyter's
    "-Copy1"), chapter 2 empty, chapter 3 cut short, the last chapter solved, the others blank."""
    folder = tmp_path_factory.mktemp("mixed")
    names = sorted(p.name for p in targets(ROOT))
    (first,) = write_blank(folder, {CHAPTER_1})
    nb = nbformat.read(first, as_version=4)
    stub_cell(nb, "1.1").source = "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))"
    stub_cell(nb, "1.2").source = NEVER_ENDS
    nbformat.write(nb, first)
    copy = folder / CHAPTER_1.replace(".ipynb", "-Copy1.ipynb")
    (solved,) = write_blank(folder / "solved", {CHAPTER_1})
    solve(solved)
    copy.write_text(solved.read_text())
    (last,) = write_blank(folder, {names[-1]})
    solve(last)
    empty, truncated = folder / names[1], folder / names[2]
    empty.write_text("")
    truncated.write_text((ROOT / "solutions" / names[2]).read_text()[:500])
    blank = write_blank(folder, set(names[3:-1]))
    paths = [first, copy, last, empty, truncated, *blank]
    before = digest(paths)
    result = grade(*paths, extra=("--cell-timeout", str(CELL_TIMEOUT_S)))
    assert digest(paths) == before, "grading must not write to the learner's notebooks"
    return {"first": first, "copy": copy, "last": last, "empty": empty, "truncated": truncated,
            "blank": blank, "paths": paths, "result": result, "out": result.stdout}


def chapter_of(path) -> str:
    return path.name[:2].lstrip("0")


def test_blank_notebooks_are_all_not_attempted_and_nothing_else_fails(mixed):
    """The chapters between the first and the last, as generated. (Every exercise's stub is
    "not attempted" for its check: the unit tests of each chapter's checks.)"""
    for path in mixed["blank"]:
        rows = section(mixed["out"], path)
        ids = [k for k in EXERCISES if k.split(".")[0] == chapter_of(path)]
        assert rows.splitlines() == [f"  {i:<6} not attempted" for i in ids], rows


def test_progress_is_one_line_per_notebook_while_it_runs(mixed):
    result = mixed["result"]
    lines = [line for line in result.stderr.splitlines() if line.startswith("graded ")]
    assert len(lines) == len(mixed["paths"]), result.stderr
    assert "Kernel is running over TCP" not in result.stderr, "kernel log lines leak into the report"


def section(out, path):
    """The rows the report gives one notebook: from its path to the next blank line."""
    return out.split(f"{path}\n", 1)[1].split("\n\n", 1)[0]


def test_solved_notebooks_and_copies_pass_everything(mixed):
    """Chapter 1 (as a copy) and the last chapter, solved: every exercise passes. (nbval runs every
    solution notebook in strict mode; here the point is the report on a learner's solved notebooks.)"""
    out = mixed["out"]
    copies = out.split("Copies and other notebooks (graded, not counted in the total):", 1)
    assert len(copies) == 2 and str(mixed["copy"]) in copies[1] and str(mixed["copy"]) not in copies[0], out
    for key, chapter in (("copy", "1"), ("last", mixed["last"].name[:2].lstrip("0"))):
        rows = section(out, mixed[key])
        ids = [k for k in EXERCISES if k.split(".")[0] == chapter]
        for exercise_id in ids:
            assert re.search(rf"^  {re.escape(exercise_id)}\s+passed\b", rows, re.M), (exercise_id, rows)


def test_a_wrong_answer_row_carries_tried_expected_got_and_hint(mixed):
    rows = section(mixed["out"], mixed["first"])
    assert rows.startswith("  1.1    failed         check "), rows
    block = rows.split("  1.1    failed", 1)[1].split("  1.2 ", 1)[0]
    for part in ("Tried:", "-1000", "Expected:", "Got:", "overflow", "Hint:"):
        assert part in block, block


def test_a_cell_that_never_ends_is_named_with_the_limit_and_its_exercise(mixed):
    rows = section(mixed["out"], mixed["first"])
    row = next(line for line in rows.splitlines() if line.startswith("  1.2 "))
    assert "failed" in row and "under Exercise 1.2" in row and "`import time`" in row, rows
    assert f"did not finish within {CELL_TIMEOUT_S} s (the time limit per cell)" in row
    assert "KeyboardInterrupt" not in mixed["out"] and "NameError" not in mixed["out"]
    assert "  1.3    not attempted" in rows, "the notebook must go on after the stuck cell"


def test_broken_notebooks_are_reported_with_how_to_restore_them(mixed):
    out = mixed["out"]
    assert mixed["result"].returncode == 1, out
    for key in ("empty", "truncated"):
        assert f"{mixed[key]}\n  could not be read (" in out
    assert f"git checkout -- {mixed['empty']}" in out
    count = lambda *paths: sum(k.split(".")[0] in {chapter_of(p) for p in paths} for k in EXERCISES)
    blank, unread = count(*mixed["blank"]), count(mixed["empty"], mixed["truncated"])
    assert len(EXERCISES) == count(mixed["first"], mixed["last"]) + blank + unread
    assert (f"Total: {count(mixed['last'])} of {len(EXERCISES)} passed, 2 failed, "
            f"{count(mixed['first']) - 2 + blank} not attempted, {unread} not run.") in out, out


def test_run_all_in_a_learners_session_shows_each_result_and_goes_on(tmp_path):
    """In Jupyter (no strict mode) a blank notebook runs to the end; every check shows its box."""
    (path,) = write_blank(tmp_path, {CHAPTER_1})
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k not in (STRICT_ENV, "CI")}
    retry_kernel_start(lambda: NotebookClient(nb, timeout=120, kernel_name="python3", resources={
        "metadata": {"path": str(tmp_path)}}).execute(env=env))()
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert len(checks) == sum(k.startswith("1.") for k in EXERCISES)
    for cell in checks:
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source
        (shown,) = [o for o in cell.outputs if o.output_type == "display_data"]
        assert "not attempted yet" in shown.data["text/plain"]
        assert 'class="relucourse-check relucourse-not-attempted"' in shown.data["text/html"]
