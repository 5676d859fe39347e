"""The book, built once per change of its sources, for the tests that read it (test_book.py,
test_browser.py). The build runs under a lock: the two files may run at the same time on pytest's
two processes, and two Sphinx builds into one folder would spoil each other.

A build that succeeded (warnings as errors) leaves a marker; a later call finds the marker newer
than every source and reuses the build. A failed build leaves no marker, so every caller sees the
failure and its log.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from conftest import ROOT

BUILD = ROOT / "_build"
HTML = BUILD / "html"
MARKER = BUILD / ".built-ok"  # written after a build with no warning


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [e["file"] for part in toc["parts"] for e in part["chapters"]]


def sources() -> list[Path]:
    """What the book is built from: its pages, configuration, bibliography, static files, and the
    course package (the Sphinx extension and the code the Markdown pages run)."""
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "references.bib"]
    files += [p for p in (ROOT / "_static").rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "relucourse").rglob("*.py")]
    files += [ROOT / f"{page}{ext}" for page in toc_pages() for ext in (".md", ".ipynb")]
    return [p for p in files if p.exists()]


@dataclass
class Build:
    ok: bool
    log: str
    ran: bool  # False: an earlier successful build of the same sources was reused


def build() -> Build:
    """Build the book into _build/html with warnings as errors, unless a successful build of the
    current sources is there."""
    BUILD.mkdir(exist_ok=True)
    with open(BUILD / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process builds
        if MARKER.exists() and MARKER.stat().st_mtime >= max(p.stat().st_mtime for p in sources()):
            return Build(True, "", ran=False)
        MARKER.unlink(missing_ok=True)
        jb = Path(sys.executable).parent / "jupyter-book"
        result = subprocess.run([str(jb), "build", str(ROOT), "--warningiserror", "--keep-going"],
                                capture_output=True, text=True, timeout=900)
        ok = result.returncode == 0
        if ok:
            MARKER.touch()
        return Build(ok, result.stdout[-6000:] + result.stderr[-6000:], ran=True)
