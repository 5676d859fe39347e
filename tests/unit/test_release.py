"""The solutions -> exercises generator."""

import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, notebook_cells
from relucourse.tooling.release import ReleaseError, committed, make_exercise, render, stub_source, targets


def release(root, *args):
    return subprocess.run([sys.executable, "-m", "relucourse.tooling.release", "--root", str(root), *args],
                          capture_output=True, text=True)


@pytest.mark.skipif(committed(ROOT / "_toc.yml") is None, reason="not a git checkout: CI checks drift")
def test_committed_exercises_match_the_generator():
    """No drift: the committed exercises/ is exactly what `python -m relucourse.tooling.release` writes."""
    result = release(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exercises up to date" in result.stdout


@pytest.fixture
def course_repo(tmp_path):
    """A tiny git checkout of the course: one solution notebook and its generated exercise.

    Built from solutions/ only: exercises/ of the working tree is the learner's workspace."""
    name = "01_activation_basics.ipynb"
    for folder in ("solutions", "exercises"):
        (tmp_path / folder).mkdir()
    solution = (ROOT / "solutions" / name).read_text()
    (tmp_path / "solutions" / name).write_text(solution)
    (tmp_path / "exercises" / name).write_text(render(make_exercise(nbformat.reads(solution, as_version=4), name)))
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "course")
    return tmp_path, tmp_path / "exercises" / name


def learner_answers(path):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    cell.source = cell.source.replace("# YOUR CODE HERE", "return 1 / (1 + np.exp(-x))  # mine")
    nbformat.write(nb, path)
    return path.read_text()


def test_a_learners_answers_do_not_make_the_drift_check_fail(course_repo):
    root, exercise = course_repo
    learner_answers(exercise)
    result = release(root, "--check")
    assert result.returncode == 0, result.stdout
    assert "exercises up to date: 1 notebooks" in result.stdout


def test_make_exercises_keeps_a_learners_work_and_says_how_to_force(course_repo):
    root, exercise = course_repo
    sol = root / "solutions" / exercise.name
    sol.write_text(sol.read_text().replace("Exercise 1.1", "Exercise 1.1 (reworded)", 1))
    mine = learner_answers(exercise)
    result = release(root)
    assert result.returncode == 0
    assert exercise.read_text() == mine, "the learner's notebook was overwritten"
    assert "kept exercises/01_activation_basics.ipynb: it holds your own code" in result.stdout
    assert "make exercises FORCE=1" in result.stdout
    forced = release(root, "--force")
    assert forced.returncode == 0 and "saved your 01_activation_basics.ipynb as exercises/backups/" in forced.stdout
    (copy,) = (root / "exercises" / "backups").glob("01_activation_basics-*.ipynb")
    assert copy.read_text() == mine and "(reworded)" in exercise.read_text()


def test_make_exercises_refreshes_an_untouched_or_only_run_notebook(course_repo):
    root, exercise = course_repo
    sol = root / "solutions" / exercise.name
    sol.write_text(sol.read_text().replace("Exercise 1.1", "Exercise 1.1 (reworded)", 1))
    result = release(root)  # untouched since the commit: stale, so it is rewritten
    assert "wrote exercises/01_activation_basics.ipynb" in result.stdout and "(reworded)" in exercise.read_text()
    nb = nbformat.read(exercise, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran it")]  # run, code unchanged
    nbformat.write(nb, exercise)
    sol.write_text(sol.read_text().replace("(reworded)", "(again)", 1))
    assert "wrote exercises/" in release(root).stdout and "(again)" in exercise.read_text()


def test_check_mode_reports_drift(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    src = ROOT / "solutions" / "01_activation_basics.ipynb"
    (tmp_path / "solutions" / src.name).write_text(src.read_text())
    (tmp_path / "exercises" / src.name).write_text("{}")
    (tmp_path / "exercises" / "09_orphan.ipynb").write_text("{}")
    run = lambda *a: release(tmp_path, *a)
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
        assert len(ex.cells) == len(sol.cells) + 2  # and the two "Your progress" cells


def test_exercise_page_says_make_grade_reads_the_saved_file_and_ends_with_progress():
    sol = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Solutions 4: The dying ReLU")])
    ex = make_exercise(sol, "04_dying_relu.ipynb")
    intro = " ".join(ex.cells[0].source.split())
    assert "**as saved on disk**: save (Ctrl+S) before you run it" in intro
    heading, code = ex.cells[-2:]
    assert heading.cell_type == "markdown" and heading.source.startswith("## Your progress")
    assert code.cell_type == "code" and code.source.endswith("progress(4)")
    assert (heading.id, code.id) == ("progress-heading", "progress")  # fixed: no drift between runs


def test_generated_exercises_are_normal_notebooks():
    """Written as Jupyter writes them, so that opening one in Jupyter changes nothing."""
    from relucourse.tooling.normalize import KERNELSPEC, normal_text
    for path, text in targets(ROOT).items():
        nb = nbformat.reads(text, as_version=4)
        assert (nb.nbformat, nb.nbformat_minor) == (4, 5), path.name
        assert nb.metadata.kernelspec == KERNELSPEC, path.name
        assert normal_text(text) == text, path.name
        assert render(nbformat.reads(text, as_version=4)) == text, path.name


def test_solution_without_a_check_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")])
    with pytest.raises(ReleaseError, match="no later check"):
        make_exercise(nb)
