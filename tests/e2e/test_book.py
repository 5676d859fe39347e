"""The book builds with warnings as errors and contains every page of the TOC."""

import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT


def test_book_builds_with_every_page():
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(ROOT), "--warningiserror", "--keep-going"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    html = ROOT / "_build" / "html"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [e["file"] for part in toc["parts"] for e in part["chapters"]]
    for page in pages:
        assert (html / f"{page}.html").exists(), f"{page}.html was not built"
    intro = (html / "index.html").read_text() if (html / "index.html").exists() else ""
    assert "intro.html" in intro or (html / "intro.html").exists()
