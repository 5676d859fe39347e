"""Grading a class: 16 generated submissions (solved, blank, wrong, broken), one CSV and a summary."""

import csv
import hashlib
import subprocess
import sys

import nbformat

from conftest import ROOT
from relucourse.tooling.checks import EXERCISES
from relucourse.tooling.grading import points
from test_exercises import CHAPTER_1, NEVER_ENDS, solve, stub_cell, write_blank

N_CH1 = sum(k.startswith("1.") for k in EXERCISES)  # chapter 1's exercises


def make_class(folder):
    """16 learners' chapter 1 notebooks, some in per-learner folders, some named per learner.

    Seven need a kernel (2 solved, 2 blank, 2 wrong, 1 endless loop); nine are broken in ways
    found without one (empty, truncated, not JSON, not a notebook, no cells, a name that is not
    the course's), which keeps this test quick.
    """
    (blank,) = write_blank(folder / "_template", {CHAPTER_1})
    text = blank.read_text()
    solve(blank)
    solved_text = blank.read_text()
    blank.unlink()
    blank.parent.rmdir()

    def put(learner, content, per_folder=True):
        path = folder / learner / CHAPTER_1 if per_folder else folder / f"{learner}_{CHAPTER_1}"
        path.parent.mkdir(exist_ok=True)
        path.write_text(content)
        return path

    def edit(path, exercise_id, source):
        nb = nbformat.read(path, as_version=4)
        stub_cell(nb, exercise_id).source = source
        nbformat.write(nb, path)

    for i in range(2):
        put(f"solved{i}", solved_text, per_folder=i % 2 == 0)
        put(f"blank{i}", text, per_folder=i % 2 == 1)
    for i in range(2):
        edit(put(f"wrong{i}", text), "1.1", "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))")
    edit(put("looper", text), "1.2", NEVER_ENDS)  # waits, leaving the CPU to the others
    put("empty0", "")
    put("empty1", "", per_folder=False)
    put("truncated0", text[: len(text) // 3])
    put("truncated1", text[: len(text) // 2], per_folder=False)
    put("notjson", "print('this is Python, not a notebook')")
    put("notanotebook", '{"cells": "none"}')
    put("nocells", nbformat.writes(nbformat.v4.new_notebook()))
    (folder / "misnamed0").mkdir()
    (folder / "misnamed0" / "homework.ipynb").write_text(text)
    (folder / "misnamed1.ipynb").write_text(text)


def digests(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.ipynb")}


def test_a_class_of_16_is_graded_into_a_csv_and_a_summary(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "grades"
    make_class(subs)
    before = digests(subs)
    assert len(before) == 16
    result = subprocess.run([sys.executable, "-m", "relucourse.tooling.classgrade", str(subs), "--out", str(out),
                             "--timeout", "40", "--jobs", "2"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert digests(subs) == before, "submissions must never be modified"
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 16 and progress[-1].startswith("[16/16]"), result.stderr

    rows = list(csv.DictReader((out / "grades.csv").open()))
    by_learner = {}
    for row in rows:
        by_learner.setdefault(row["learner"], []).append(row)
    assert len(by_learner) == 16, sorted(by_learner)
    for i in range(2):
        assert [r["status"] for r in by_learner[f"solved{i}"]] == ["passed"] * N_CH1, by_learner[f"solved{i}"]
        assert all(r["points"] == r["max_points"] == f"{points(r['exercise']):g}" for r in by_learner[f"solved{i}"])
        assert all(r["points"] == "0" for r in by_learner[f"blank{i}"])
        assert [r["status"] for r in by_learner[f"blank{i}"]] == ["not attempted"] * N_CH1
    wrong = by_learner["wrong0"][0]
    assert wrong["exercise"] == "1.1" and wrong["status"] == "failed" and "Expected:" in wrong["message"]
    for learner in ("empty0", "empty1", "truncated0", "truncated1", "notjson", "notanotebook"):
        rows = by_learner[learner]
        assert len(rows) == N_CH1 and all(r["status"] == "not run" for r in rows), rows
        assert all("could not be read" in r["message"] for r in rows)
    for learner, says in (("looper", "grading stopped after 40 s (the time bound per notebook)"),
                          ("nocells", "no graded exercises in this notebook")):
        rows = by_learner[learner]
        assert len(rows) == N_CH1 and all(r["status"] == "not run" and says in r["message"] for r in rows)
    for learner in ("misnamed0", "misnamed1"):
        (row,) = by_learner[learner]
        assert row["status"] == "not run" and "not a course notebook" in row["message"]

    text = (out / "summary.txt").read_text()
    assert text in result.stdout
    assert "Class report: 16 learners, 16 notebooks" in text
    line_11 = next(line for line in text.splitlines() if line.startswith("  1.1 "))
    assert line_11.split() == ["1.1", "2", "2", "2", "8"], line_11  # 2 solved, 2 wrong, 2 blank
    assert "      2 x your code emitted a warning." in text
    assert "looper: 01_activation_basics.ipynb: grading stopped after 40 s" in text
