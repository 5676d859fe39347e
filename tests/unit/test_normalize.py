"""Notebooks open clean: each committed notebook is exactly what Jupyter would save.

Jupyter Notebook 7 rewrites a notebook whose kernelspec is not the installed kernel's ("Python 3
(ipykernel)"), which marks it modified and makes autosave change a file the learner never
touched. relucourse.tooling.normalize writes notebooks as Jupyter saves them; these tests hold every
committed notebook to it. To fix a failure: python -m relucourse.tooling.normalize chapters
solutions (exercises/ comes from the generator: make exercises).
"""

import subprocess

import nbformat
import pytest

from conftest import ROOT
from relucourse.tooling.normalize import KERNELSPEC, normal_text, normalize, render


def committed_notebooks():
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True,
                             timeout=30)
        names = out.stdout.split() if out.returncode == 0 else []
    except OSError:
        names = []
    return sorted(names) or sorted(str(p.relative_to(ROOT)) for folder in ("chapters", "solutions", "exercises")
                                   for p in (ROOT / folder).glob("*.ipynb"))


@pytest.mark.parametrize("name", committed_notebooks())
def test_committed_notebook_is_what_jupyter_would_save(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert normal_text(text) == text, (
        f"{name} changes when Jupyter opens and saves it: run "
        f"`python -m relucourse.tooling.normalize {name}`")
    assert render(nbformat.reads(text, as_version=4)) == text, "reading and writing it changes it"


def old_notebook():
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1 + 1"),
                nbformat.v4.new_code_cell("2")]
    for cell in nb.cells:
        del cell["id"]
    nb.cells[2]["id"] = "c001"  # a later cell already holds the id the second would get
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def test_normalize_gives_one_version_stable_ids_and_jupyters_kernelspec():
    nb = old_notebook()
    text = nbformat.writes(nb)
    out = normalize(nb)
    assert nbformat.writes(nb) == text, "the input is not changed"
    assert (out.nbformat, out.nbformat_minor) == (4, 5)
    assert [c.id for c in out.cells] == ["c000", "c001-1", "c001"]
    assert out.metadata.kernelspec == KERNELSPEC
    nbformat.validate(out)
    again = normalize(out)
    assert render(again) == render(out), "normal notebooks stay as they are"


def test_a_normal_notebook_survives_reading_and_writing():
    text = render(normalize(old_notebook()))
    assert normal_text(text) == text
    assert render(nbformat.reads(text, as_version=4)) == text
    assert text.endswith("}\n") and not text.endswith("\n\n")


def test_command_line_check_and_write(tmp_path):
    import sys
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(old_notebook()))
    run = lambda *a: subprocess.run([sys.executable, "-m", "relucourse.tooling.normalize", *a, str(tmp_path)],
                                    capture_output=True, text=True)
    checked = run("--check")
    assert checked.returncode == 1 and "would change" in checked.stdout
    assert run().returncode == 0 and run("--check").returncode == 0
