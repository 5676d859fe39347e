"""The solutions -> exercises generator."""

import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, notebook_cells
from relucourse.tooling.release import ReleaseError, make_exercise, stub_source


def test_committed_exercises_match_the_generator():
    """No drift: exercises/ is exactly what `python -m relucourse.tooling.release` writes."""
    result = subprocess.run([sys.executable, "-m", "relucourse.tooling.release", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exercises up to date" in result.stdout


def test_check_mode_reports_drift(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    src = ROOT / "solutions" / "01_activation_basics.ipynb"
    (tmp_path / "solutions" / src.name).write_text(src.read_text())
    (tmp_path / "exercises" / src.name).write_text("{}")
    (tmp_path / "exercises" / "09_orphan.ipynb").write_text("{}")
    run = lambda *a: subprocess.run([sys.executable, "-m", "relucourse.tooling.release", "--root", str(tmp_path), *a],
                                    capture_output=True, text=True)
    result = run("--check")
    assert result.returncode == 1
    assert "out of date: exercises/01_activation_basics.ipynb" in result.stdout
    assert "no solution source: exercises/09_orphan.ipynb" in result.stdout
    assert run().returncode == 0 and run("--check").returncode == 1  # the orphan is still reported


def test_stub_replaces_the_block_keeping_indentation():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint('kept')"
    assert stub_source(src, "4.2", "t") == (
        'def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise 4.2: "\n'
        '                              "write your solution here")\n\nprint(\'kept\')')


def test_exercise_intro_is_the_exercise_pages_own():
    """The solution's intro stays on the solution page; the exercise page gets the standard one."""
    sol = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# Solutions 4: The dying ReLU\n\nWorked answers: compare with yours.")])
    intro = make_exercise(sol, "04_dying_relu.ipynb").cells[0].source
    assert intro.startswith("# Exercises 4: The dying ReLU\n")
    assert "Worked answers" not in intro and "# YOUR CODE HERE" in intro
    assert "(../chapters/04_dying_relu.ipynb)" in intro
    assert "(../solutions/04_dying_relu.ipynb)" in intro
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Dying ReLU")])
    with pytest.raises(ReleaseError, match="Solutions N: Title"):
        make_exercise(bad, "04_dying_relu.ipynb")


@pytest.mark.parametrize("src, problem", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "inside a function body"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "without ### END SOLUTION"),
    ("def f():\n    return 1\n    ### END SOLUTION", "without ### BEGIN SOLUTION"),
])
def test_malformed_solution_blocks_are_refused(src, problem):
    with pytest.raises(ReleaseError, match=problem):
        stub_source(src, "1.1", "t")


def test_exercise_notebook_has_no_outputs_and_no_solutions():
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        sol = nbformat.read(path, as_version=4)
        ex = make_exercise(sol, path.name)
        text = nbformat.writes(ex)
        assert "### BEGIN SOLUTION" not in text
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in ex.cells if c.cell_type == "code")
        assert ex.cells[0].source.startswith("# Exercises")
        assert len(ex.cells) == len(sol.cells)


def test_solution_without_a_check_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")])
    with pytest.raises(ReleaseError, match="no later check"):
        make_exercise(nb)
