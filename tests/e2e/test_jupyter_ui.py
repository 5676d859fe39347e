"""The notebooks in the real Jupyter Notebook 7 UI: they open clean and read as in the book.

A Jupyter server (the course's `jupyter notebook`, no token, 127.0.0.1 only) serves a temporary
folder; headless Chromium (Debian's, driven by Playwright, as in test_browser.py) opens notebooks
there as a learner does.

* Opening a notebook and saving it unchanged (Ctrl+S) must not change its file: a notebook that
  Jupyter rewrites is marked modified, autosave changes it, and leaving asks "Leave site?". Shown
  for the normal form relucourse.tooling.normalize writes (a chapter committed as nbformat 4.4
  and a generated exercise notebook).
* With jupyterlab-myst (requirements.txt) a chapter's MyST markup renders: no raw
  ``{cite}``/``{term}`` roles and no ``:class: tip`` code block where the book shows a box.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from relucourse.tooling.normalize import normal_text
from relucourse.tooling.release import targets
from test_browser import chromium_path

CHAPTER = "02_origin_of_relu.ipynb"  # citations, glossary terms, a tip box and a warning box
EXERCISE = "04_dying_relu.ipynb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Normal copies of one chapter and one generated exercise notebook."""
    folder = tmp_path_factory.mktemp("jupyter")
    (folder / CHAPTER).write_text(normal_text((ROOT / "chapters" / CHAPTER).read_text()))
    (folder / EXERCISE).write_text(targets(ROOT)[ROOT / "exercises" / EXERCISE])
    return folder


@pytest.fixture(scope="module")
def server(folder):
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {k: v for k, v in os.environ.items() if k not in ("RELUCOURSE_STRICT", "CI")}
    proc = subprocess.Popen([str(jupyter), "notebook", "--no-browser", "--allow-root", f"--port={port}",
                             "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
                             f"--ServerApp.root_dir={folder}"], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Jupyter server did not start within 60 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(server):
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if path is None or sync_playwright is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but Chromium or playwright is missing", pytrace=False)
        pytest.skip("Chromium not found: sudo apt-get install chromium (or set CHROMIUM=...)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="light")
        yield page
        browser.close()


def open_notebook(page, base: str, name: str) -> None:
    page.goto(f"{base}/notebooks/{name}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # the kernel has started and told the page its language_info: the page is now as a learner has it
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           "#jp-main-statusbar, .jp-KernelStatus", timeout=120_000)
    time.sleep(6)


@pytest.mark.parametrize("name", [CHAPTER, EXERCISE])
def test_opening_and_saving_a_normal_notebook_changes_nothing(page, server, folder, name):
    path = folder / name
    before = path.read_bytes()
    saved = path.stat().st_mtime_ns
    open_notebook(page, server, name)
    page.locator(".jp-Notebook").click()
    page.keyboard.press("Control+s")
    for _ in range(60):
        if path.stat().st_mtime_ns != saved:
            break
        time.sleep(0.5)
    else:
        pytest.fail("Ctrl+S did not save the notebook")
    time.sleep(1)
    assert path.read_bytes() == before, f"Jupyter rewrote {name} on save"


def test_a_chapter_reads_as_in_the_book(page, server):
    open_notebook(page, server, CHAPTER)
    text = page.locator(".jp-Notebook").inner_text()
    assert "Learning objectives" in text
    for raw in (":class: tip", ":class: warning", "{cite}", "{term}", "```{admonition}"):
        assert raw not in text, f"raw MyST markup {raw!r} shows in Jupyter"
    assert "vanishing gradients" in text  # a glossary term reads as its text
