"""End to end: blank exercises, the progress report, a solved copy, and what a learner leaves behind.

Every test works on exercise notebooks freshly generated from solutions/ into a temporary folder:
exercises/ is the learner's workspace, and nothing here reads or writes it.
"""

import hashlib
import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from relucourse.tooling.checks import EXERCISES, STRICT_ENV
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


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blank")
    notebooks = write_blank(folder)
    before = digest(notebooks)
    result = grade(folder)
    assert digest(notebooks) == before, "grading must not write to the learner's notebooks"
    return notebooks, result


def test_blank_exercises_are_all_not_attempted_and_nothing_else_fails(blank):
    notebooks, result = blank
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    for exercise_id in EXERCISES:
        assert f"  {exercise_id:<6} not attempted" in out, out
    assert "note:" not in out and "could not be read" not in out, out
    assert f"Total: 0 of {len(EXERCISES)} passed, 0 failed, {len(EXERCISES)} not attempted." in out


def test_progress_is_one_line_per_notebook_while_it_runs(blank):
    notebooks, result = blank
    lines = [line for line in result.stderr.splitlines() if line.startswith("graded ")]
    assert len(lines) == len(notebooks), result.stderr
    assert "Kernel is running over TCP" not in result.stderr, "kernel log lines leak into the report"


def test_solved_copy_passes_everything_and_is_left_unchanged(tmp_path):
    """The first and the last chapter, solved: every exercise passes and the copies stay as they were.

    (nbval runs every solution notebook in strict mode, so every chapter's solutions pass their
    checks; here the point is the report on a learner's solved notebooks.)"""
    names = sorted(p.name for p in targets(ROOT))
    copies = write_blank(tmp_path, {names[0], names[-1]})
    for path in copies:
        solve(path)
    before = digest(copies)
    result = grade(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    n = sum(k.split(".")[0] in (names[0][:2].lstrip("0"), names[-1][:2].lstrip("0")) for k in EXERCISES)
    assert f"Total: {n} of {n} passed, 0 failed, 0 not attempted." in result.stdout
    assert digest(copies) == before


def test_a_wrong_answer_row_carries_tried_expected_got_and_hint(tmp_path):
    (path,) = write_blank(tmp_path, {CHAPTER_1})
    nb = nbformat.read(path, as_version=4)
    stub_cell(nb, "1.1").source = "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))"
    nbformat.write(nb, path)
    result = grade(path)
    assert result.returncode == 1
    out = result.stdout
    assert f"{path}\n  1.1    failed         check " in out, out
    block = out.split("  1.1    failed", 1)[1].split("  1.2 ", 1)[0]
    for part in ("Tried:", "-1000", "Expected:", "Got:", "overflow", "Hint:"):
        assert part in block, block
    assert "  1.2    not attempted" in out


def test_broken_notebooks_and_copies_are_reported_apart(tmp_path):
    (first,) = write_blank(tmp_path, {CHAPTER_1})
    solve(first)
    copy = tmp_path / "01_activation_basics-Copy1.ipynb"
    copy.write_text(first.read_text())
    names = sorted(p.name for p in targets(ROOT))
    empty, truncated = tmp_path / names[1], tmp_path / names[2]
    empty.write_text("")
    truncated.write_text((ROOT / "solutions" / names[2]).read_text()[:500])
    result = grade(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out
    assert f"{empty}\n  could not be read (" in out and f"{truncated}\n  could not be read (" in out
    assert f"git checkout -- {empty}" in out
    copies = out.split("Copies and other notebooks (graded, not counted in the total):", 1)
    assert len(copies) == 2 and str(copy) in copies[1] and str(copy) not in copies[0], out
    chapters = {n[:2].lstrip("0") for n in (first.name, empty.name, truncated.name)}
    counted = [k for k in EXERCISES if k.split(".")[0] in chapters]
    ch1 = sum(k.startswith("1.") for k in EXERCISES)
    assert (f"Total: {ch1} of {len(counted)} passed, 0 failed, 0 not attempted, "
            f"{len(counted) - ch1} not run.") in out, out


def test_a_cell_that_never_ends_is_named_with_the_limit_and_its_exercise(tmp_path):
    (path,) = write_blank(tmp_path, {CHAPTER_1})
    nb = nbformat.read(path, as_version=4)
    stub_cell(nb, "1.2").source = "while True:\n    pass"
    nbformat.write(nb, path)
    result = grade(path, extra=("--cell-timeout", "15"))  # the imports cell needs ~5 s
    row = next(line for line in result.stdout.splitlines() if line.startswith("  1.2 "))
    assert "failed" in row and "under Exercise 1.2" in row and "`while True:`" in row, result.stdout
    assert "did not finish within 15 s (the time limit per cell)" in row
    assert "KeyboardInterrupt" not in result.stdout and "NameError" not in result.stdout
    assert "  1.3    not attempted" in result.stdout, "the notebook must go on after the stuck cell"


def test_run_all_in_a_learners_session_shows_each_result_and_goes_on(tmp_path):
    """In Jupyter (no strict mode) a blank notebook runs to the end; every check shows its box."""
    (path,) = write_blank(tmp_path, {CHAPTER_1})
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k not in (STRICT_ENV, "CI")}
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert len(checks) == sum(k.startswith("1.") for k in EXERCISES)
    for cell in checks:
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source
        (shown,) = [o for o in cell.outputs if o.output_type == "display_data"]
        assert "not attempted yet" in shown.data["text/plain"]
        assert 'class="relucourse-check relucourse-not-attempted"' in shown.data["text/html"]
