"""The Gradescope autograder, run here the way Gradescope runs it, without Gradescope.

The zip is built, unpacked into a temporary folder laid out like Gradescope's ``/autograder``
(``source/`` holds the zip, ``run_autograder`` beside it, the learner's files in ``submission/``,
``results/`` for the answer), and ``run_autograder`` runs there with this environment's Python
(``setup.sh`` is what Gradescope runs once to install it; here it is checked statically). Every
``results.json`` is validated against ``autograder/results.schema.json``. Submissions are made from
exercises generated into a temporary folder and solutions pasted in (exercises/ is never read).
Each case uses chapter 1's notebook (and a blank chapter 2 beside a solved chapter 1).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

import jsonschema
import nbformat
import psutil
import pytest

from conftest import ROOT
from relucourse.tooling import autograder, classgrade, grading
from relucourse.tooling.checks import EXERCISES
from relucourse.tooling.grading import points
from test_exercises import CHAPTER_1, NEVER_ENDS, solve, stub_cell, write_blank

CHAPTER_2 = "02_origin_of_relu.ipynb"
SCHEMA = json.loads((ROOT / "autograder" / "results.schema.json").read_text())
CH1 = [k for k in EXERCISES if k.startswith("1.")]
WRONG_SIGMOID = "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))"
ENDLESS_FUNCTION = "def sigmoid_derivative(x):\n    while True:\n        pass"


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("zip") / "relu-course-autograder.zip"
    result = subprocess.run([sys.executable, "-m", "relucourse.tooling.autograder", "build", "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def blank_text(tmp_path_factory):
    (path,) = write_blank(tmp_path_factory.mktemp("blank"), {CHAPTER_1})
    return path.read_text()


def notebook_text(blank_text, tmp_path, **sources):
    """Chapter 1's exercise notebook with the stub cells of the given exercises replaced."""
    path = tmp_path / "edit" / CHAPTER_1
    path.parent.mkdir(exist_ok=True)
    path.write_text(blank_text)
    nb = nbformat.read(path, as_version=4)
    for exercise_id, source in sources.items():
        stub_cell(nb, exercise_id.replace("_", ".")).source = source
    nbformat.write(nb, path)
    return path.read_text()


def layout(zip_path, root, files):
    """Lay out ``root`` as Gradescope's /autograder: the zip in source/, the learner's files in submission/."""
    source = root / "source"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
        for info in zf.infolist():  # extractall drops the mode bits Gradescope keeps
            os.chmod(source / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copy2(source / "run_autograder", root / "run_autograder")  # as Gradescope's image build does
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)


def run_autograder(root, env=None):
    """Run ``root/run_autograder`` as Gradescope does; return results.json, validated, and the run."""
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, **(env or {})}
    start = time.perf_counter()
    run = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                         timeout=600)
    print(f"run_autograder: {time.perf_counter() - start:.1f} s")
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["visibility"] == "visible"
    assert results["score"] == sum(t["score"] for t in results["tests"])
    return results, run


def gradescope(zip_path, root, files, env=None):
    layout(zip_path, root, files)
    return run_autograder(root, env)


def _environ(process):
    try:
        return process.environ()
    except psutil.Error:
        return {}


def chapter_1(results):
    tests = {t["number"]: t for t in results["tests"] if t["tags"] == [CHAPTER_1]}
    assert list(tests) == CH1, list(tests)
    for i, t in tests.items():
        assert t["name"] == f"Exercise {i}: {EXERCISES[i].title}" and t["visibility"] == "visible"
        assert t["max_score"] == points(i)
        assert t["score"] == (t["max_score"] if t["status"] == "passed" else 0)
    return tests


def test_the_zip_is_in_gradescopes_layout_and_setup_installs_the_pinned_cpu_environment(zip_path):
    dry = subprocess.run(["make", "-n", "autograder"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "-m relucourse.tooling.autograder build" in dry.stdout, dry.stdout + dry.stderr
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        requirements = zf.read("requirements.txt").decode()
        packaged = {n: zf.read(n) for n in names if n.startswith("course/relucourse/")}
    assert {"setup.sh", "run_autograder", "config.json", "requirements.txt"} <= set(names)
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any("__pycache__" in n for n in names)
    for path in packaged:  # the course package as it is here
        assert packaged[path] == (ROOT / path.removeprefix("course/")).read_bytes(), path
    assert "course/relucourse/tooling/grading.py" in packaged
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(zip_path) as zf:
            text = zf.read(script).decode()
        check = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, f"{script}: {check.stderr}"
    pin = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert pin == "2.13.0"
    assert f'TORCH_VERSION="{pin}"' in setup and 'TORCH_INDEX="https://download.pytorch.org/whl/cpu"' in setup
    assert '-m pip install --quiet "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX"' in setup
    assert '-m pip install --quiet -r "$SOURCE/requirements.txt"' in setup
    assert '-m pip install --quiet --no-deps -e "$SOURCE/course"' in setup
    assert "@" not in setup.replace("$@", ""), "a template placeholder was left in setup.sh"
    kept = {line.split("==")[0] for line in requirements.splitlines() if line and not line.startswith("#")}
    assert {"torch", "nbval", "pytest", "ipykernel", "nbformat", "nbclient", "numpy"} <= kept
    assert not kept & {"jupyter-book", "playwright", "notebook", "django-static-mathjax", "pytest-xdist",
                       "jsonschema", "-e ."}


def test_a_solved_notebook_scores_every_point_and_a_blank_one_none(zip_path, blank_text, tmp_path):
    (tmp_path / "solve").mkdir()
    path = tmp_path / "solve" / CHAPTER_1
    path.write_text(blank_text)
    solve(path)
    (blank,) = write_blank(tmp_path / "blank", {CHAPTER_2})
    results, run = gradescope(zip_path, tmp_path / "autograder",
                              {CHAPTER_1: path.read_text(), CHAPTER_2: blank.read_text()})
    assert f"relucourse from {tmp_path / 'autograder' / 'source' / 'course'}" in run.stdout, run.stdout
    tests = chapter_1(results)
    for i, t in tests.items():
        assert t["status"] == "passed" and re.fullmatch(r"Passed: (\d+)/\1 checks", t["output"]), t
    assert results["score"] == sum(points(i) for i in CH1)
    assert f"{CHAPTER_1}: {len(CH1)} of {len(CH1)} exercises passed" in results["output"]
    blank_tests = [t for t in results["tests"] if t["tags"] == [CHAPTER_2]]
    assert [t["number"] for t in blank_tests] == [k for k in EXERCISES if k.startswith("2.")]
    for t in blank_tests:
        assert t["status"] == "failed" and t["output"] == "Not attempted yet." and t["score"] == 0, t
    others = [t for t in results["tests"] if t["tags"] not in ([CHAPTER_1], [CHAPTER_2])]
    assert others and all(t["score"] == 0 and "was not uploaded" in t["output"] for t in others)


def test_wrong_answers_carry_the_same_messages_as_make_grade(zip_path, blank_text, tmp_path):
    text = notebook_text(blank_text, tmp_path, **{"1_1": WRONG_SIGMOID, "1_2": ENDLESS_FUNCTION})
    results, _ = gradescope(zip_path, tmp_path / "autograder", {f"exercises/{CHAPTER_1}": text})
    tests = chapter_1(results)
    wrong, endless = tests["1.1"]["output"], tests["1.2"]["output"]
    assert wrong.startswith("Failed: ") and tests["1.1"]["score"] == 0
    for part in ("Tried:", "Expected:", "Got:", "Hint:"):
        assert part in wrong, wrong
    assert endless.startswith("Failed: ") and "did not finish within" in endless, endless
    assert all(tests[i]["output"] == "Not attempted yet." for i in CH1[2:])
    # make grade's report on the same notebook (its command; a copy in a folder of its own)
    path = tmp_path / "same" / CHAPTER_1
    path.parent.mkdir()
    path.write_text(text)
    report = subprocess.run([sys.executable, "-m", "relucourse.tooling.grading", str(path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600).stdout
    flat = " ".join(report.split())
    for i, t in tests.items():
        word, _, message = t["output"].partition(": ")
        assert message.rstrip(".") == "" or " ".join(message.split()) in flat, (i, t["output"], report)
        status = {"Failed": "failed", "Not attempted yet.": "not attempted"}[word]
        assert re.search(rf"^  {re.escape(i)}\s+{status}\b", report, re.M), (i, report)


def test_a_notebook_that_never_ends_is_stopped_at_the_time_bound(zip_path, blank_text, tmp_path):
    text = notebook_text(blank_text, tmp_path, **{"1_1": NEVER_ENDS})
    start = time.perf_counter()
    results, _ = gradescope(zip_path, tmp_path / "autograder", {CHAPTER_1: text},
                            env={"AUTOGRADER_TIMEOUT": "8"})
    assert time.perf_counter() - start < 120
    for _ in range(30):  # the stopped notebook's kernel notices that its grader is gone, and exits
        left = [p for p in psutil.process_iter()
                if _environ(p).get("AUTOGRADER_ROOT") == str(tmp_path / "autograder")]
        if not left:
            break
        time.sleep(1)
    assert not left, f"processes of the stopped run still alive: {[p.cmdline() for p in left]}"
    for t in chapter_1(results).values():
        assert t["output"] == "Not run: grading stopped after 8 s (the time bound per notebook)", t
    assert results["score"] == 0


def test_unreadable_misnamed_and_foreign_files_get_a_clear_result(zip_path, blank_text, tmp_path):
    results, _ = gradescope(zip_path, tmp_path, {
        CHAPTER_1: blank_text[: len(blank_text) // 3],  # truncated: not JSON
        "homework.ipynb": blank_text,                    # chapter 1 under another name
        "02_origin_of_relu-Copy1.ipynb": "{}",          # Jupyter's copy: not a course name
        "__MACOSX/._01_activation_basics.ipynb": "",     # what a Mac adds to a zip: skipped
        "notes.txt": "my notes"})
    for t in chapter_1(results).values():
        assert re.match(rf"Not run: {CHAPTER_1} could not be read \(\w+Error: ", t["output"]), t
        assert "Save it again from Jupyter" in t["output"]
    out = results["output"]
    assert (f"homework.ipynb is not one of the course's notebooks and was not graded: it looks like "
            f"{CHAPTER_1}; rename it to {CHAPTER_1}") in out, out
    assert "02_origin_of_relu-Copy1.ipynb is not one of the course's notebooks" in out
    assert "Files other than notebooks were ignored: notes.txt." in out
    assert "MACOSX" not in json.dumps(results)


def test_an_error_in_the_grader_still_writes_a_result(zip_path, tmp_path):
    # the grader starts, but its configuration is broken
    layout(zip_path, tmp_path / "first", {CHAPTER_1: "{}"})
    (tmp_path / "first" / "source" / "config.json").write_text("{")
    results, run = run_autograder(tmp_path / "first")
    assert "Traceback" in run.stdout + run.stderr
    assert results["tests"] == [] and "error in the autograder itself (JSONDecodeError" in results["output"]
    # the grader cannot even start: run_autograder writes the answer itself
    results, run = gradescope(zip_path, tmp_path / "second", {CHAPTER_1: "{}"},
                              env={"AUTOGRADER_PYTHON": str(tmp_path / "no-such-python")})
    assert results["tests"] == [] and "could not start" in results["output"], results
    assert "wrote no results.json" in run.stdout


def test_the_books_example_is_a_real_results_json_and_its_table(zip_path):
    example = ROOT / "autograder" / "example-results.json"
    results = json.loads(example.read_text())
    jsonschema.validate(results, SCHEMA)
    page = (ROOT / "instructors.md").read_text()
    table = page.split(autograder.BEGIN_TABLE, 1)[1].split(autograder.END_TABLE, 1)[0]
    assert table.strip() == autograder.results_table(results).strip(), \
        "regenerate: python -m relucourse.tooling.autograder table autograder/example-results.json --write instructors.md"
    with zipfile.ZipFile(zip_path) as zf:
        config = json.loads(zf.read("config.json"))
    assert {t["number"]: t["max_score"] for t in results["tests"]} == \
        {i: config["points"][i] for i in (t["number"] for t in results["tests"])}


def test_points_are_set_in_one_place_for_the_autograder_and_the_class_csv(monkeypatch):
    assert set(grading.POINTS) <= set(EXERCISES), "POINTS names an exercise the course does not have"
    assert all(autograder.build_config()["points"][i] == points(i) for i in EXERCISES)
    monkeypatch.setattr(grading, "POINTS", {"1.1": 3.0})
    assert autograder.build_config()["points"]["1.1"] == 3.0 == points("1.1")
    assert autograder.build_config()["points"]["1.2"] == grading.DEFAULT_POINTS
    assert classgrade.row_points("1.1", "passed") == ("3", "3")
    assert classgrade.row_points("1.1", "failed") == ("0", "3")
