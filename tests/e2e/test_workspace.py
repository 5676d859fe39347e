"""The suite never reads the learner's workspace: with every exercise of exercises/ filled in (here:
with its solution, as a learner who finished the course), the workspace-sensitive tests still pass."""

import shutil
import subprocess
import sys

import nbformat

from conftest import ROOT
from relucourse.tooling.release import BEGIN, make_exercise, render

# The tests that look at exercises/ of the course folder itself (the others build their own copies):
# the drift check against the commit, and each notebook's partners.
WORKSPACE_SENSITIVE = ["tests/unit/test_release.py", "tests/unit/test_structure.py", "-k",
                       "committed_exercises or partner"]


def solved_exercise(solution_path) -> str:
    """The generated exercise notebook with every stub replaced by the solution's code, as a learner writes it."""
    solution = nbformat.read(solution_path, as_version=4)
    exercise = make_exercise(solution, solution_path.name)
    filled = 0
    for mine, ref in zip(exercise.cells, solution.cells):
        if mine.cell_type == "code" and BEGIN in ref.source:
            mine.source = "\n".join(line for line in ref.source.splitlines() if "### " not in line)
            filled += 1
    assert filled, f"{solution_path.name}: no exercise to fill"
    return render(exercise)


def test_a_finished_workspace_does_not_make_the_suite_fail(tmp_path):
    copy = tmp_path / "course"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    for rel in filter(None, files.stdout.split("\0")):
        if (ROOT / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, copy / rel)
    git = lambda *a: subprocess.run(["git", *a], cwd=copy, check=True, capture_output=True)
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "course")
    for sol in sorted((copy / "solutions").glob("[0-9][0-9]_*.ipynb")):
        (copy / "exercises" / sol.name).write_text(solved_exercise(sol))
    for path in (copy / "exercises").glob("*.ipynb"):
        stubs = [c for c in nbformat.read(path, as_version=4).cells
                 if c.cell_type == "code" and "raise NotImplementedError" in c.source]
        assert not stubs, f"{path.name}: a stub is left"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                             "-o", "addopts=", *WORKSPACE_SENSITIVE],
                            cwd=copy, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
