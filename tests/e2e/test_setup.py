"""Setup on a learner's machine: the Python guard, `make distclean`, `make notebook` as root/headless."""

import glob
import os
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT

OLD_PYTHONS = sorted(glob.glob("/root/.pyenv/versions/3.10*/bin/python")) + [
    p for p in (shutil.which("python3.10"), shutil.which("python3.9")) if p]


@pytest.fixture
def course_copy(tmp_path):
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def make(folder, *args, timeout=60):
    return subprocess.run(["make", "-s", *args], cwd=folder, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python older than 3.11 on this machine to try")
def test_an_unsupported_python_stops_at_once_with_one_line(course_copy):
    start = time.perf_counter()
    result = make(course_copy, "install", f"PYTHON={OLD_PYTHONS[0]}")
    assert result.returncode != 0 and time.perf_counter() - start < 20
    (line,) = result.stdout.splitlines()
    assert line.startswith("error: ") and "the course needs Python 3.11 to 3.13" in line, line
    assert "Ignored versions" not in result.stdout + result.stderr
    assert not (course_copy / ".venv").exists(), "no half-made environment is left behind"


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python older than 3.11 on this machine to try")
def test_a_venv_made_by_an_unsupported_python_is_named_and_distclean_removes_it(course_copy):
    subprocess.run([OLD_PYTHONS[0], "-m", "venv", "--without-pip", str(course_copy / ".venv")], check=True)
    result = make(course_copy, "install")
    assert result.returncode != 0
    (line,) = result.stdout.splitlines()
    assert ".venv was made with Python 3." in line and "make distclean" in line, line
    assert make(course_copy, "distclean").returncode == 0
    assert not (course_copy / ".venv").exists()


def test_make_notebook_starts_as_root_without_a_display_and_prints_its_address():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen(["make", "-s", "notebook"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen, deadline = [], time.time() + 90
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                if "http://127.0.0.1:" in line or "http://localhost:" in line:
                    break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = "".join(seen)
    assert "http://" in text, text
    assert "Use --allow-root to bypass" not in text
    assert "No web browser found" not in text
