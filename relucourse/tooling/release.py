"""Generate the learner's exercise notebooks from the solution notebooks.

``solutions/NN_slug.ipynb`` is the only source of an exercise. In it, each answer sits inside a
function body between a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION``, and a later
code cell grades it with ``check("N.M", ...)``. This module writes ``exercises/NN_slug.ipynb``:

* every solution block becomes a stub that raises ``NotImplementedError`` naming the exercise;
* all outputs and execution counts are cleared;
* the first cell, ``# Solutions N: Title`` followed by the solution page's own short intro,
  becomes ``# Exercises N: Title`` followed by the exercise intro written here (how to answer and
  check, that ``make grade`` reads the saved notebook, a link to the chapter and a link to the
  worked solutions): the intro of every exercise page is the same, and a solution notebook's intro
  can speak about the solutions;
* two cells are added at the end: "Your progress", whose code cell prints this chapter's exercises
  as the checks run in the learner's kernel left them (``relucourse.tooling.checks.progress``);
* the notebook is written as Jupyter saves it (:mod:`relucourse.tooling.normalize`), so that
  opening it changes nothing.

Usage::

    python -m relucourse.tooling.release           # (re)write exercises/ from solutions/
    python -m relucourse.tooling.release --check   # exit 1 if the committed exercises/ is out of date
    python -m relucourse.tooling.release --force   # also replace notebooks holding a learner's code

``exercises/`` is the learner's workspace: a notebook whose code differs from what this module would
write and from the committed version holds the learner's work, and is left alone unless
``--force`` is given (then a dated copy goes to ``exercises/backups/`` first).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from . import STUB_MARKER
from .normalize import normalize

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\d+\.\d+)["']""")
ROOT = Path(__file__).resolve().parents[2]  # the course folder
#: The longest line a reader sees in full: what the book's code area holds at 1200 px, measured
#: in Chromium (tests/e2e/test_browser.py checks that it still fits; test_structure checks lines).
LINE_LIMIT = 69


TITLE = re.compile(r"^#\s*Solutions\s+(\d+)\s*:\s*(.+)$")
EXERCISE_INTRO = """\
Graded exercises for [Chapter {n}](../chapters/{file}). For each exercise,
write your code where it says `# YOUR CODE HERE` (delete the
`raise NotImplementedError` line), run the cell, then run the **check
cell** below it. A check shows a green line when your answer is right and
a short message saying what went wrong otherwise. The last cell shows your
progress in this session.

`make grade` prints a report over all exercises, from the notebooks **as
saved on disk**: save (Ctrl+S) before you run it. Jupyter autosaves only
every two minutes, so an answer you have not saved is not graded yet.

Worked solutions are in [Solutions {n}](../solutions/{file}): try each
exercise yourself first."""


PROGRESS_HEADING = """\
## Your progress

Run the cell below to see which exercises of this chapter passed in this
session: it lists the checks you have run since the kernel started, and
needs no save. `make grade` reads the saved notebook."""
PROGRESS_CODE = """\
from relucourse.tooling.checks import progress
progress({n})"""


class ReleaseError(ValueError):
    """A solution notebook does not follow the conventions."""


def exercise_ids(source: str) -> list[str]:
    """The exercise ids graded by ``check("N.M", ...)`` calls in a cell's source."""
    return CHECK_CALL.findall(source)


def stub_source(source: str, exercise_id: str, where: str) -> str:
    """Replace every solution block in one cell's source with a stub."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ReleaseError(f"{where}: nested {BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise ReleaseError(f"{where}: the solution block must sit inside a function body, "
                                   "so that the blank exercise still runs")
            out.append(f"{indent}# YOUR CODE HERE")
            one_line = f'{indent}raise NotImplementedError("Exercise {exercise_id}: {STUB_MARKER}")'
            if len(one_line) <= LINE_LIMIT:
                out.append(one_line)
            else:  # two lines (one message), so that the stub fits the book's code area too
                head = f'{indent}raise NotImplementedError("Exercise {exercise_id}: "'
                out.append(head)
                out.append(" " * head.index('"') + f'"{STUB_MARKER}")')
        elif stripped == END:
            if not inside:
                raise ReleaseError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def make_exercise(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """Return the blank exercise notebook for a solution notebook."""
    nb = nbformat.from_dict(solution)  # a deep copy
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and BEGIN in cell.source:
            later = [exercise_ids(c.source) for c in cells[i:] if c.cell_type == "code"]
            ids = next((found for found in later if found), None)
            if not ids:
                raise ReleaseError(f"{name}, cell {i}: solution block with no later check(...) cell")
            cell.source = stub_source(cell.source, ids[0], f"{name}, cell {i}")
    if cells and cells[0].cell_type == "markdown":
        title = TITLE.match(cells[0].source.strip().splitlines()[0] if cells[0].source.strip() else "")
        cells[0].source = exercise_intro(cells[0].source, name)
        cells.append(nbformat.v4.new_markdown_cell(PROGRESS_HEADING, id="progress-heading"))
        cells.append(nbformat.v4.new_code_cell(PROGRESS_CODE.format(n=int(title.group(1))),
                                               id="progress"))
    nb.metadata.pop("widgets", None)
    return normalize(nb)


def exercise_intro(solution_intro: str, name: str) -> str:
    """The exercise page's first cell, from the solution's ``# Solutions N: Title`` line."""
    first = solution_intro.strip().splitlines()[0] if solution_intro.strip() else ""
    title = TITLE.match(first)
    if not title:
        raise ReleaseError(f"{name}: the first cell must start with '# Solutions N: Title'")
    n, text = title.groups()
    heading = f"# Exercises {int(n)}: {text.strip()}"
    if not re.fullmatch(r"\d\d_[\w-]+\.ipynb", name):
        return heading
    return heading + "\n\n" + EXERCISE_INTRO.format(n=int(n), file=name)


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def targets(root: Path = ROOT) -> dict[Path, str]:
    """Map each exercise notebook path to the text it should have."""
    result = {}
    for sol in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        nb = make_exercise(nbformat.read(sol, as_version=4), sol.name)
        result[root / "exercises" / sol.name] = render(nb)
    return result


def committed(path: Path, root: Path = ROOT) -> str | None:
    """The text of ``path`` in the last commit, or None (not a git checkout, not tracked)."""
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        out = subprocess.run(["git", "show", f"HEAD:./{rel}"], cwd=root, capture_output=True,
                             text=True, timeout=30)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def code_cells(text: str) -> list[str] | None:
    """The sources of a notebook's code cells, or None when it cannot be read."""
    try:
        return [c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code"]
    except Exception:
        return None


def holds_learner_work(path: Path, wanted: str, root: Path = ROOT) -> bool:
    """True when the notebook's code differs both from what we would write and from the commit."""
    current = path.read_text()
    if code_cells(current) == code_cells(wanted):
        return False  # only outputs differ: the learner ran the blank notebook
    return current != committed(path, root)


def backup(path: Path) -> Path:
    """Copy ``path`` to ``exercises/backups/NAME-YYYYmmdd-HHMMSS.ipynb`` and return the copy."""
    folder = path.parent / "backups"
    folder.mkdir(exist_ok=True)
    dest = folder / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}"
    shutil.copy2(path, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed exercises/ is out of date")
    parser.add_argument("--force", action="store_true",
                        help="also replace notebooks that hold your own code (a copy goes to "
                             "exercises/backups/ first)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course's top folder")
    args = parser.parse_args(argv)
    try:
        wanted = targets(args.root)
    except ReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    existing = set((args.root / "exercises").glob("[0-9][0-9]_*.ipynb"))
    stale = sorted(existing - set(wanted))
    drift = sorted(p for p, text in wanted.items() if not p.exists() or p.read_text() != text)
    if args.check:
        # Compare with what is committed, so that a learner's answers in exercises/ never make this
        # fail; a course author's regenerated but not yet committed notebook counts as up to date.
        late = [p for p in drift if committed(p, args.root) != wanted[p]]
        for p in late:
            print(f"out of date: {p.relative_to(args.root)} (run `make exercises`)")
        for p in stale:
            print(f"no solution source: {p.relative_to(args.root)}")
        if late or stale:
            return 1
        print(f"exercises up to date: {len(wanted)} notebooks")
        return 0
    kept = 0
    for p in drift:
        if p.exists() and holds_learner_work(p, wanted[p], args.root):
            if not args.force:
                kept += 1
                print(f"kept {p.relative_to(args.root)}: it holds your own code. To replace it with "
                      "the blank notebook (a copy goes to exercises/backups/ first): "
                      "make exercises FORCE=1")
                continue
            print(f"saved your {p.name} as {backup(p).relative_to(args.root)}")
        p.parent.mkdir(exist_ok=True)
        p.write_text(wanted[p])
        print(f"wrote {p.relative_to(args.root)}")
    for p in stale:
        print(f"warning: {p.relative_to(args.root)} has no solution source", file=sys.stderr)
    print(f"{len(wanted)} exercise notebooks, {len(drift) - kept} rewritten, {kept} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
