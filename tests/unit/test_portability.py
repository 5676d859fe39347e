"""The portability policy (COURSE.md, "Exact and measured outputs"): nbval compares exact outputs;
a measured cell carries the `nbval-ignore-output` tag and checks its claim on the reader's machine;
no digit of a measured result is typed into the prose; notebooks take their thread count from
relucourse.use_threads() so that `make test-portable` can change it."""

import re

import pytest

from conftest import ROOT, notebook_cells

NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
PAGES = sorted(ROOT.glob("*.md"))
MEASURED = "nbval-ignore-output"
IDS = lambda p: f"{p.parent.name}/{p.name}"  # noqa: E731

# A measured number as the prose would quote it: a decimal with two or more digits after the point
# (0.87, 12.50) or a percentage of two or more digits (66%, 66 %, 12.5 %).
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d{2,}|\d{2,}(?:\.\d+)?\s?%)")


def source(cell) -> str:
    return "".join(cell["source"])


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


# The lesson helpers' sources: a number written there is a setting (a target, a threshold), not a result.
PACKAGE_CODE = "\n".join(p.read_text() for p in sorted((ROOT / "relucourse").glob("*.py")))


def in_code(number: str, code: str) -> bool:
    """The number, or for a percentage its fraction (98% - 0.98), is written in ``code``."""
    forms = [number.rstrip("%")]
    if number.endswith("%"):
        forms.append(repr(float(number[:-1]) / 100))
    return any(re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", code) for f in forms)


def measured_numbers(cell, code: str = "") -> set[str]:
    """Numbers a measured cell printed that the notebook's code and the lesson helpers do not contain
    (settings, grids, claims' bands, targets): those are measurements."""
    code = source(cell) + "\n" + code + "\n" + PACKAGE_CODE
    return {raw.replace(" ", "") for raw in NUMBER.findall(output_text(cell))
            if not in_code(raw.replace(" ", ""), code)}


def in_prose(number: str, markdown: str) -> bool:
    if number.endswith("%"):
        pattern = rf"(?<![\d.]){re.escape(number[:-1])}\s?(%|\\%|per ?cent)"
    else:
        pattern = rf"(?<![\d.]){re.escape(number)}(?![\d])"
    return re.search(pattern, markdown) is not None


@pytest.mark.parametrize("path", NOTEBOOKS + PAGES, ids=IDS)
def test_no_nbval_markup_reaches_the_book(path):
    """nbval's instructions are cell tags; a `# NBVAL_...` comment would show on the page."""
    if path.suffix == ".ipynb":
        parts = [(f"cell {i}", source(c)) for i, c in enumerate(notebook_cells(path))]
    else:
        parts = [("page", path.read_text())]
    found = [where for where, text in parts if re.search(r"NBVAL_", text, re.IGNORECASE)]
    assert not found, f"{path.name}: NBVAL comment in {', '.join(found)}: use the cell tag {MEASURED!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_measured_cell_checks_its_claim_on_the_readers_machine(path):
    for i, cell in enumerate(notebook_cells(path)):
        if cell["cell_type"] != "code":
            continue
        assert "nbval-skip" not in tags(cell), f"cell {i}: a skipped cell proves nothing; tag it measured"
        if MEASURED in tags(cell):
            assert "claim(" in source(cell), (
                f"cell {i} is measured ({MEASURED}) but checks no claim: call relucourse.claims.claim(...)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_measured_number_is_typed_into_the_prose(path):
    cells = notebook_cells(path)
    prose = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join(source(c) for c in cells if c["cell_type"] == "code")
    copies = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and MEASURED in tags(cell):
            copies += [f"{n} (printed by measured cell {i})" for n in sorted(measured_numbers(cell, code))
                       if in_prose(n, prose)]
    assert not copies, ("the prose repeats measured digits that another machine will not print; "
                        "state the claim instead: " + ", ".join(copies))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebooks_take_their_threads_from_use_threads(path):
    for i, cell in enumerate(notebook_cells(path)):
        if cell["cell_type"] == "code" and MEASURED not in tags(cell):
            assert "set_num_threads(" not in source(cell), (
                f"cell {i}: call relucourse.use_threads() (make test-portable sets RELUCOURSE_THREADS)")


def test_the_policy_tests_catch_what_they_are_for():
    """The helpers above on hand-made cells: a typed copy is found, a setting is not."""
    cell = {"cell_type": "code", "source": ["run(lr=0.25)\n", "claim('x', True, f'{acc:.2f}')"],
            "metadata": {"tags": [MEASURED]},
            "outputs": [{"output_type": "stream", "text": ["lr 0.25: accuracy 0.87, 66 % dead\n"]}]}
    assert measured_numbers(cell) == {"0.87", "66%"}
    assert measured_numbers(cell, "target = 0.66") == {"0.87"}  # a setting, written as a fraction
    assert in_prose("0.87", "it reached 0.87 here") and in_prose("66%", "about 66 % die")
    assert not in_prose("0.87", "it reached 0.875") and not in_prose("66%", "166 % of copy")
