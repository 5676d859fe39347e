"""Run All never stops: every exercise notebook, filled with bad answers, runs to its last cell.

A learner's "Run All" in Jupyter runs the notebook with errors not allowed: the first cell that
raises stops it, and the later checks never run. So every cell that calls the learner's code (a
check cell, or a cell inside ``with learner_code(...)``) must turn whatever the learner's code does
into a short message and let the notebook go on. Each notebook is generated from solutions/ into
a temporary folder (exercises/ is the learner's workspace: never read here), every exercise stub is
replaced by a bad answer, and nbclient runs it as Jupyter does in a learner's session: in a
kernel without ``RELUCOURSE_STRICT`` and without ``CI``, ``allow_errors=False``.

The three kinds of bad answers: one that raises, one that returns the wrong type (a string), one
that never returns. All three would take three runs per notebook, and the never-returning answers
wait out every time limit; to keep the test affordable each notebook runs once, with the kinds
dealt out in turn over its exercises (so every notebook meets all three, and every kind meets a
cell inside ``learner_code``), and the dealing starts at a different kind in each notebook.
``RELUCOURSE_RUN_ALL_FULL=1`` runs each notebook three times instead, the dealing starting at each
kind in turn, so that every exercise meets every kind (about three times as long).
"""

from __future__ import annotations

import os
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from relucourse.tooling.checks.core import STUB_MARKER
from relucourse.tooling.execute import retry_kernel_start
from relucourse.tooling.release import targets

KINDS = ("raises", "wrong type", "never returns")
BODY = {
    "raises": ['raise RuntimeError("a bad answer that raises")'],
    "wrong type": ['return "a bad answer of the wrong type"'],
    "never returns": ["while True:", "    pass"],
}
#: Seconds a whole notebook may take, bad answers included. Measured on 2 cores shared with other
#: jobs (load average 4 to 23): 18 to 40 s per notebook in the default run (163 s for all six),
#: 22 to 69 s per run with RELUCOURSE_RUN_ALL_FULL (675 s for 18 runs). With the checks' CPU-time
#: limits and second tries (main, 2026-12-06): 32 to 50 s per notebook, 248 s for all six, load
#: average about 20. A never-returning answer
#: waits out a check's limit (2 to 10 s) or a learner_code block's (LEARNER_CODE_LIMIT_S, 20 s).
NOTEBOOK_BUDGET_S = 240

STUB = re.compile(r'^(?P<indent>\s*)raise NotImplementedError\("Exercise (?P<id>\d+\.\d+): '
                  r'(?:"\n\s*")?' + re.escape(STUB_MARKER) + r'"\)$', re.MULTILINE)
NAMES = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
FULL = os.environ.get("RELUCOURSE_RUN_ALL_FULL", "").strip() not in ("", "0")
RUNS = [(name, start) for name in NAMES
        for start in ((0, 1, 2) if FULL else (NAMES.index(name) % len(KINDS),))]


def fill(source: str, kind_of) -> tuple[str, list[tuple[str, str]]]:
    """Replace each stub in a cell's source with the bad answer ``kind_of(exercise_id)`` names."""
    used = []

    def bad(match: re.Match) -> str:
        kind = kind_of(match["id"])
        used.append((match["id"], kind))
        return "\n".join(match["indent"] + line for line in BODY[kind])
    return STUB.sub(bad, source), used


def test_fill_replaces_one_and_two_line_stubs():
    one = f'def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise 1.1: {STUB_MARKER}")\n'
    two = (f'def g(x):\n        raise NotImplementedError("Exercise 4.4: "\n'
           f'                                  "{STUB_MARKER}")')
    src, used = fill(one + two, lambda i: "never returns" if i == "1.1" else "raises")
    assert used == [("1.1", "never returns"), ("4.4", "raises")]
    assert "NotImplementedError" not in src
    assert "    while True:\n        pass" in src and '        raise RuntimeError(' in src


def bad_notebook(name: str, start: int) -> tuple[nbformat.NotebookNode, list[tuple[str, str]]]:
    text = targets(ROOT)[ROOT / "exercises" / name]
    nb = nbformat.reads(text, as_version=4)
    order = {}

    def kind_of(exercise_id: str) -> str:
        order.setdefault(exercise_id, KINDS[(start + len(order)) % len(KINDS)])
        return order[exercise_id]
    used = []
    for cell in nb.cells:
        if cell.cell_type == "code" and STUB_MARKER in cell.source:
            cell.source, found = fill(cell.source, kind_of)
            used += found
            assert STUB_MARKER not in cell.source, f"{name}: a stub the test cannot fill:\n{cell.source}"
    return nb, used


def shown(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("display_data", "execute_result"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append(f"ERROR {out.get('ename')}: {out.get('evalue')}")
    return "".join(parts)


@pytest.mark.parametrize("name, start", RUNS)
def test_run_all_reaches_the_last_cell_whatever_the_answers(name, start, tmp_path, monkeypatch):
    nb, used = bad_notebook(name, start)
    assert {kind for _, kind in used} == set(KINDS), used
    # A learner's session: Jupyter starts the kernel without these (the test run sets the first).
    monkeypatch.delenv("RELUCOURSE_STRICT", raising=False)
    monkeypatch.delenv("CI", raising=False)
    # every answer here is bad: a learner_code block that has not failed within 3 s never returns,
    # and a check's call that has not within 1 s neither (the limits' full lengths: test_checks_*)
    monkeypatch.setenv("RELUCOURSE_LEARNER_CODE_S", "3")
    monkeypatch.setenv("RELUCOURSE_CHECK_LIMIT_S", "1")
    path = tmp_path / name
    began = time.perf_counter()
    # raises CellExecutionError at the first cell that fails: Run All stopped there
    retry_kernel_start(lambda: NotebookClient(nb, timeout=NOTEBOOK_BUDGET_S, kernel_name="python3",
                                              allow_errors=False,
                                              resources={"metadata": {"path": str(tmp_path)}}).execute())()
    seconds = time.perf_counter() - began
    nbformat.write(nb, path)  # kept for a look when the test fails
    print(f"{name}: {seconds:.1f} s, answers {used}")
    assert seconds < NOTEBOOK_BUDGET_S, f"{name} took {seconds:.0f} s"

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a code cell did not run"
    last = shown(code[-1])
    assert last.startswith(f"Chapter {int(name[:2])} in this session"), last
    for exercise_id, kind in used:  # every check ran and said its answer failed
        assert f"  {exercise_id:<6} failed" in last, (exercise_id, kind, last)
    for cell in code:
        if "with learner_code(" in cell.source:  # the cell's one short line names the check
            text = shown(cell)
            assert "this cell stopped" in text and "Run the check of Exercise" in text, text
            assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text


@pytest.mark.parametrize("name", NAMES)
def test_every_cell_that_calls_the_learners_code_is_a_check_or_uses_learner_code(name):
    """A static guard: a new side-by-side cell that calls an answer bare would stop Run All."""
    import ast
    nb = nbformat.read(ROOT / "solutions" / name, as_version=4)
    answers = {node.name for c in nb.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source
               for node in ast.walk(ast.parse(c.source))
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    bare = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "### BEGIN SOLUTION" in cell.source or "check(" in cell.source:
            continue
        used = {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)} & answers
        if used and "with learner_code(" not in cell.source:
            bare.append(f"cell {i} calls {sorted(used)}")
    assert not bare, f"{name}: wrap these in `with learner_code(...)`: {bare}"
