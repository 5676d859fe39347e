"""Write notebooks exactly as Jupyter Notebook 7 saves them, so that opening one changes nothing.

    python -m relucourse.tooling.normalize chapters solutions exercises   # rewrite in place
    python -m relucourse.tooling.normalize --check chapters solutions     # exit 1 if one would change

Opening a notebook in Jupyter and saving it unchanged must leave ``git status`` clean; otherwise
autosave rewrites it and leaving the page asks "Leave site?". Measured with Notebook 7.6.5 (open,
wait for the kernel, Ctrl+S): the server writes ``nbformat.writes(nb)`` plus a newline, keeps the
notebook's nbformat minor version and its cell ids (it neither adds nor drops them), and replaces
the kernelspec with the installed kernel's, ``"Python 3 (ipykernel)"``. A normal notebook here
therefore has:

* nbformat 4.5, every cell with an id (what Jupyter writes for a new notebook). A cell without an
  id gets ``cNNN`` from its position (``c007`` for the eighth cell), unless another cell holds that
  id already; existing ids are kept, so that the id of a cell never changes once written;
* the kernelspec ``{"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}``;
* nbformat's own JSON layout (one-space indent, sorted keys) and a final newline.

Reading and writing a normal notebook with nbformat changes nothing (tests/unit/test_normalize.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

#: The kernelspec Jupyter writes for the kernel ipykernel installs.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NBFORMAT_MINOR = 5


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a normal copy of ``nb`` (see the module's docstring); ``nb`` itself is not changed."""
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.nbformat, nb.nbformat_minor = 4, NBFORMAT_MINOR
    taken = {c["id"] for c in nb.cells if isinstance(c.get("id"), str) and c["id"]}
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not isinstance(cid, str) or not cid or cid in seen:
            cid = f"c{i:03d}"
            n = 0
            while cid in taken or cid in seen:
                n += 1
                cid = f"c{i:03d}-{n}"
        cell["id"] = cid
        seen.add(cid)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def normal_text(text: str) -> str:
    """The text of the normal notebook whose current text is ``text``."""
    return render(normalize(nbformat.reads(text, as_version=4)))


def render(nb: nbformat.NotebookNode) -> str:
    """A notebook's text as Jupyter's server writes it (``nbformat.write``: JSON and a newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def notebooks(paths: list[Path]) -> list[Path]:
    found = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        else:
            found.append(p)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if one would change")
    args = parser.parse_args(argv)
    changed = []
    for path in notebooks(args.paths):
        text = path.read_text(encoding="utf-8")
        wanted = normal_text(text)
        if wanted != text:
            changed.append(path)
            if not args.check:
                path.write_text(wanted, encoding="utf-8")
            print(f"{'would change' if args.check else 'normalised'}: {path}")
    if args.check and changed:
        print(f"{len(changed)} notebook(s) not normal: run python -m relucourse.tooling.normalize "
              + " ".join(str(p) for p in args.paths))
        return 1
    if not changed:
        print("all notebooks normal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
