"""End to end: blank exercises, the progress report, a solved copy (learner files untouched)."""

import hashlib
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT
from relucourse.tooling.checks import EXERCISES
from relucourse.tooling.release import BEGIN

EXERCISE_FILES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def grade(*paths):
    return subprocess.run([sys.executable, "-m", "relucourse.tooling.grading", *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def solved_copy(tmp_path):
    """Copies of the exercise notebooks with each solution pasted into its stub cell."""
    copies = []
    for ex_path in EXERCISE_FILES:
        ex = nbformat.read(ex_path, as_version=4)
        sol = nbformat.read(ROOT / "solutions" / ex_path.name, as_version=4)
        for ex_cell, sol_cell in zip(ex.cells, sol.cells):
            if BEGIN in sol_cell.source:
                ex_cell.source = sol_cell.source
        copy = tmp_path / ex_path.name
        nbformat.write(ex, copy)
        copies.append(copy)
    return copies


@pytest.fixture(scope="module")
def blank_report():
    before = digest(EXERCISE_FILES)
    result = grade("exercises")
    assert digest(EXERCISE_FILES) == before, "grading must not write to the learner's notebooks"
    return result


def test_blank_exercises_are_all_not_attempted_and_nothing_else_fails(blank_report):
    out = blank_report.stdout
    assert blank_report.returncode == 1, out + blank_report.stderr
    for exercise_id in EXERCISES:
        assert f"  {exercise_id:<9} not attempted" in out, out
    assert "Other cells that raised an error" not in out, out
    assert f"Total: 0 of {len(EXERCISES)} passed, 0 failed, {len(EXERCISES)} not attempted." in out


def test_solved_copy_passes_everything_and_is_left_unchanged(tmp_path):
    copies = solved_copy(tmp_path)
    before = digest(copies)
    result = grade(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Total: {len(EXERCISES)} of {len(EXERCISES)} passed, 0 failed, 0 not attempted." in result.stdout
    assert digest(copies) == before


def test_a_wrong_answer_is_reported_with_its_reason(tmp_path):
    ex = nbformat.read(ROOT / "exercises" / "01_activation_basics.ipynb", as_version=4)
    stub_cell = next(c for c in ex.cells if 'NotImplementedError("Exercise 1.1' in c.source)
    stub_cell.source = "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))"
    nbformat.write(ex, tmp_path / "mine.ipynb")
    result = grade(tmp_path / "mine.ipynb")
    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("1.1"))
    assert "failed" in row and "overflow" in row and "-1000" in row, result.stdout
    assert "1.2       not attempted" in result.stdout
