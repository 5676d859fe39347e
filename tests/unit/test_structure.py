"""Course structure: chapters, solutions, exercises, TOC and citations follow COURSE.md."""

import json
import re

import pytest
import yaml

from conftest import ROOT, notebook_cells
from relucourse.tooling.checks import EXERCISES
from relucourse.tooling.release import BEGIN, LINE_LIMIT, exercise_ids, targets

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def text_of(path, kind=None):
    return "\n".join("".join(c["source"]) for c in notebook_cells(path) if kind in (None, c["cell_type"]))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def test_there_is_content():
    assert CHAPTERS and SOLUTIONS


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_with_objectives_and_closes_with_takeaways_and_exercises(path):
    md = text_of(path, "markdown")
    assert "Learning objectives" in md.split("\n## ")[0], "objectives belong at the top"
    assert "## Key takeaways" in md and "## Exercises" in md
    assert md.index("## Key takeaways") < md.index("## Exercises")


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_is_in_the_toc_and_has_a_partner(path):
    stem = f"{path.parent.name}/{path.stem}"
    assert stem in toc_files()
    for folder in ("chapters", "solutions", "exercises"):
        assert (ROOT / folder / path.name).exists(), f"{folder}/{path.name} is missing"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_layout(path):
    """Markdown task naming the id, then the solution cell, then the check cell; ids match the chapter."""
    chapter = int(path.name[:2])
    cells = notebook_cells(path)
    seen = []
    for i, cell in enumerate(cells):
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and BEGIN in src:
            ids = exercise_ids("".join(cells[i + 1]["source"]))
            assert len(ids) == 1, f"cell {i + 1} must be the check cell of the solution in cell {i}"
            (eid,) = ids
            task = "".join(cells[i - 1]["source"])
            assert cells[i - 1]["cell_type"] == "markdown" and f"Exercise {eid}" in task
            assert int(eid.split(".")[0]) == chapter
            out = "".join("".join(o.get("text", "")) for o in cells[i + 1].get("outputs", []))
            assert f"Exercise {eid} passed:" in out, f"solution of {eid} is not committed executed"
            seen.append(eid)
    assert seen, "no exercises"
    assert len(seen) == len(set(seen))
    registered = sorted(k for k in EXERCISES if int(k.split(".")[0]) == chapter)
    assert sorted(seen) == registered


def test_every_citation_resolves():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    sources = [p for p in ROOT.glob("*.md")] + CHAPTERS + SOLUTIONS
    for path in sources:
        text = path.read_text() if path.suffix == ".md" else text_of(path, "markdown")
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name}: unknown citation {key.strip()!r}"


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_cell_relies_on_a_trailing_semicolon(path):
    """nbval does not record history, so IPython ignores a final `;` there: use plt.show() or `_ =`."""
    for i, cell in enumerate(notebook_cells(path)):
        if cell["cell_type"] == "code":
            assert not "".join(cell["source"]).rstrip().endswith(";"), f"cell {i} ends with ';'"


# The exercise pages as the generator writes them (exercises/ itself is the learner's workspace).
EXERCISES_NB = sorted(ROOT / "exercises" / p.name for p in SOLUTIONS)
# What myst-nb shows of an output, best first: text/plain is what a reader sees only without these.
RICHER = ("text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/latex")
CODE_DIRECTIVES = ("{code-block}", "{code}", "{sourcecode}", "{code-cell}")


def fenced_lines(markdown: str):
    """Lines of fenced and indented code blocks in MyST markdown, also inside directives."""
    from markdown_it import MarkdownIt
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type == "code_block" or (token.type == "fence" and (
                not token.info.startswith("{") or token.info.split()[0] in CODE_DIRECTIVES)):
            yield from (line for line in token.content.splitlines() if not line.startswith(":"))
        elif token.type == "fence":  # a directive (admonition, ...): its body is markdown again
            yield from fenced_lines(token.content)


def seen_lines(path):
    """(where, line) for every line a reader sees in a fixed-width box on the page of ``path``."""
    if path.suffix == ".md":
        for line in fenced_lines(path.read_text()):
            yield "fenced block", line
        return
    if path.parent.name == "exercises":
        cells = json.loads(targets(ROOT)[path])["cells"]
    else:
        cells = notebook_cells(path)
    for i, cell in enumerate(cells):
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for line in fenced_lines(src):
                yield f"cell {i} fenced block", line
            continue
        if cell["cell_type"] != "code":
            continue
        for line in src.splitlines():
            yield f"cell {i} code", line
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                text = "".join(out["text"])
            elif out["output_type"] in ("execute_result", "display_data"):
                data = out.get("data", {})
                text = "" if any(k in data for k in RICHER) else "".join(data.get("text/plain", ""))
            else:
                text = "".join(out.get("traceback", []))
            for line in text.splitlines():
                yield f"cell {i} output", line


def book_pages():
    return sorted({ROOT / f"{f}.md" for f in toc_files() + ["intro"] if (ROOT / f"{f}.md").exists()})


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS + EXERCISES_NB + book_pages(),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lines_fit_the_code_area(path):
    """Code, printed outputs and fenced blocks fit the book's code area at 1200 px.

    The code area holds LINE_LIMIT characters at 1200 px (measured in Chromium; the browser test
    checks that the limit still fits): a longer line is cut off on screen and in print.
    """
    long = [f"{where}: {len(line)} characters: {line}" for where, line in seen_lines(path)
            if len(line.rstrip()) > LINE_LIMIT]
    assert not long, f"lines longer than {LINE_LIMIT} characters:\n" + "\n".join(long)
