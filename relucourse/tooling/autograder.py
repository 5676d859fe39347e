"""A Gradescope autograder built from the course: the same checks, on Gradescope's machines.

    python -m relucourse.tooling.autograder build      # or: make autograder
    python -m relucourse.tooling.autograder run        # what run_autograder calls on Gradescope
    python -m relucourse.tooling.autograder table RESULTS.json --write instructors.md

``build`` writes ``_build/autograder/relu-course-autograder.zip`` in Gradescope's format
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` and
``run_autograder`` at the zip's root (templates in the course's ``autograder/`` folder), the
course package under ``course/``, the requirements an autograder needs and ``config.json`` (the
notebooks graded, the points per exercise, the time bounds).

``run`` grades what the learner uploaded to ``ROOT/submission`` (ROOT is ``/autograder``, or
``$AUTOGRADER_ROOT``) with the course's own grading code - the class grader's worker
(:mod:`relucourse.tooling.classgrade`), which runs :func:`relucourse.tooling.grading.grade_notebook`
under a time bound per notebook - and writes ``ROOT/results/results.json``: one test per exercise,
named "Exercise N.M: title", with its points and the check's whole message as ``make grade``
prints it. A missing, unreadable, misnamed or foreign notebook gets a result that says so; an
error in the grader itself still writes a results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import textwrap
import time
import traceback
import zipfile
from pathlib import Path

from .checks import EXERCISES
from .classgrade import Worker, find_submissions, grade_submission
from .grading import (CELL_TIMEOUT_S, FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, _sort_key,
                      course_notebook_names, expected_ids, points)
from .release import LINE_LIMIT, ROOT, exercise_ids

#: Templates of the zip's two scripts, the results.json schema and an example results.json.
TEMPLATES = ROOT / "autograder"
ZIP_PATH = ROOT / "_build" / "autograder" / "relu-course-autograder.zip"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Requirements an autograder does not need: the book, the browser test, Jupyter's interface, the
#: test suite's parallel workers and schema check. The package itself (``-e .``) comes from the zip.
NOT_NEEDED = {"jupyter-book", "playwright", "notebook", "django-static-mathjax", "pytest-xdist", "jsonschema"}
#: Seconds one notebook may run, and the whole submission (under Gradescope's run limit).
NOTEBOOK_TIMEOUT_S = 180
TOTAL_TIMEOUT_S = 540
#: Gradescope visibility of each test and of the whole result: learners see their feedback at once.
VISIBILITY = "visible"
STATUS_WORDS = {PASSED: "Passed", FAILED: "Failed", NOT_ATTEMPTED: "Not attempted yet", NOT_RUN: "Not run"}


# --------------------------------------------------------------------------------------------
# Building the zip
# --------------------------------------------------------------------------------------------

def autograder_requirements(requirements: str) -> str:
    """The course's requirements.txt without what an autograder does not need (see NOT_NEEDED)."""
    kept = ["# The course's pinned requirements, less the book, the browser test and Jupyter's UI.",
            "# torch is installed first from PyTorch's CPU index (setup.sh); its pin is the same."]
    for line in requirements.splitlines():
        spec = line.split("#", 1)[0].strip()
        if not spec or spec.startswith("-e"):
            continue
        name = re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower()
        if name not in NOT_NEEDED:
            kept.append(spec)
    return "\n".join(kept) + "\n"


def torch_pin(requirements: str) -> str:
    found = re.search(r"^torch==([\w.+]+)", requirements, re.MULTILINE)
    if not found:
        raise ValueError("requirements.txt pins no torch version (torch==X.Y.Z)")
    return found.group(1)


def build_config(notebooks: list[str] | None = None, timeout: float = NOTEBOOK_TIMEOUT_S,
                 total: float = TOTAL_TIMEOUT_S, cell_timeout: float = CELL_TIMEOUT_S) -> dict:
    course = sorted(course_notebook_names())
    chosen = sorted(notebooks) if notebooks else course
    unknown = [n for n in chosen if n not in course]
    if unknown:
        raise ValueError(f"not course notebooks: {', '.join(unknown)} (the course's: {', '.join(course)})")
    return {"notebooks": chosen, "course_notebooks": course,
            "points": {i: points(i) for i in sorted(EXERCISES, key=_sort_key)},
            "titles": {i: EXERCISES[i].title for i in sorted(EXERCISES, key=_sort_key)},
            "notebook_timeout_s": timeout, "total_timeout_s": total, "cell_timeout_s": cell_timeout,
            "visibility": VISIBILITY}


def _package_files(root: Path = ROOT) -> list[tuple[str, Path]]:
    """The course package's files for the zip: sources and the stored results, no caches."""
    files = [("course/pyproject.toml", root / "pyproject.toml")]
    for path in sorted((root / "relucourse").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json"):
            files.append((f"course/{path.relative_to(root).as_posix()}", path))
    return files


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # the same bytes on every build
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    zf.writestr(info, data)


def build(out: Path = ZIP_PATH, notebooks: list[str] | None = None, timeout: float = NOTEBOOK_TIMEOUT_S,
          total: float = TOTAL_TIMEOUT_S, cell_timeout: float = CELL_TIMEOUT_S,
          torch_index: str = TORCH_CPU_INDEX, root: Path = ROOT) -> Path:
    """Write the autograder zip; returns its path."""
    requirements = (root / "requirements.txt").read_text()
    setup = (TEMPLATES / "setup.sh").read_text()
    setup = setup.replace("@TORCH_VERSION@", torch_pin(requirements)).replace("@TORCH_INDEX@", torch_index)
    config = build_config(notebooks, timeout, total, cell_timeout)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        _add(zf, "setup.sh", setup.encode(), executable=True)
        _add(zf, "run_autograder", (TEMPLATES / "run_autograder").read_bytes(), executable=True)
        _add(zf, "requirements.txt", autograder_requirements(requirements).encode())
        _add(zf, "config.json", (json.dumps(config, indent=1) + "\n").encode())
        for name, path in _package_files(root):
            _add(zf, name, path.read_bytes())
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------------------------
# Grading one submission (on Gradescope: inside run_autograder)
# --------------------------------------------------------------------------------------------

def _test(exercise_id: str, config: dict, status: str, message: str, notebook: str) -> dict:
    max_score = float(config["points"].get(exercise_id, points(exercise_id)))
    title = config["titles"].get(exercise_id, "")
    word = STATUS_WORDS.get(status, status)
    return {"name": f"Exercise {exercise_id}: {title}".rstrip(": "),
            "number": exercise_id,
            "score": max_score if status == PASSED else 0.0,
            "max_score": max_score,
            "status": "passed" if status == PASSED else "failed",
            "output": f"{word}: {message}" if message else f"{word}.",
            "output_format": "text",
            "tags": [notebook],
            "visibility": config["visibility"]}


def _guess_notebook(path: Path, course: list[str]) -> str | None:
    """The course notebook a misnamed upload answers, from the exercise ids its check cells grade."""
    try:
        cells = json.loads(path.read_text(errors="replace")).get("cells", [])
        ids = {i for c in cells if isinstance(c, dict)
               for i in exercise_ids("".join(c.get("source", "")))}
    except Exception:
        return None
    chapters = {i.split(".")[0].zfill(2) for i in ids}
    matches = [n for n in course if n[:2] in chapters]
    return matches[0] if len(matches) == 1 else None


def grade_folder(submission: Path, config: dict, timeout: float | None = None) -> dict:
    """results.json's content for the notebooks uploaded to ``submission``."""
    start = time.perf_counter()
    timeout = float(timeout or config["notebook_timeout_s"])
    course, wanted = config["course_notebooks"], config["notebooks"]

    def hidden(path: Path) -> bool:  # .ipynb_checkpoints, a Mac zip's __MACOSX/ and ._ files
        return any(p.startswith((".", "__MACOSX")) for p in path.relative_to(submission).parts)

    found = [s for s in find_submissions(submission, set(course)) if not hidden(s.path)] \
        if submission.is_dir() else []
    others = sorted(p.relative_to(submission).as_posix() for p in submission.rglob("*")
                    if p.is_file() and p.suffix != ".ipynb" and not hidden(p)) if submission.is_dir() else []
    tests, summary, notes = [], [], []
    worker = Worker(config["cell_timeout_s"])
    try:
        for name in wanted:
            subs = sorted((s for s in found if s.notebook == name),
                          key=lambda s: (s.path.name != name, len(s.path.parts), str(s.path)))
            ids = expected_ids(name)
            if not subs:
                for i in ids:
                    tests.append(_test(i, config, NOT_RUN, f"{name} was not uploaded. Upload it with "
                                       "this name to be graded on this exercise.", name))
                summary.append(f"{name}: not uploaded.")
                continue
            sub = subs[0]
            where = sub.path.relative_to(submission).as_posix()
            for extra in subs[1:]:
                notes.append(f"{extra.path.relative_to(submission).as_posix()} answers {name} too: "
                             f"only {where} was graded.")
            left = config["total_timeout_s"] - (time.perf_counter() - start)
            if left < 10:
                note = (f"not graded: the time for the whole submission "
                        f"({config['total_timeout_s']:g} s) ran out before this notebook.")
                tests += [_test(i, config, NOT_RUN, note, name) for i in ids]
                summary.append(f"{where}: {note}")
                continue
            res = grade_submission(sub, worker, min(timeout, left))
            rows = {exercise: (status, message) for exercise, status, message in res.rows}
            for i in ids:
                status, message = rows.pop(i, (NOT_RUN, "no check cell for this exercise was found "
                                               f"in {where}: restore it from the course's {name}."))
                if status == NOT_RUN and res.note.startswith("could not be read"):
                    message = (f"{where} {res.note}. Save it again from Jupyter (or download it "
                               "again) and submit it again.")
                elif status == NOT_RUN and res.note and res.note not in message:
                    message = f"{message} ({res.note})" if message else res.note
                tests.append(_test(i, config, status, message, name))
            if rows:  # check cells copied from another notebook: graded there, not here
                notes.append(f"{where}: checks of exercises from other notebooks were not counted "
                             f"here: {', '.join(sorted(rows, key=_sort_key))}.")
            mine = [t for t in tests if t["tags"] == [name]]
            passed = sum(t["status"] == "passed" for t in mine)
            line = f"{where}: {passed} of {len(mine)} exercises passed in {res.seconds:.0f} s."
            if res.note and any(r[1] != NOT_RUN for r in res.rows):
                line += f" Note: {res.note}"
            elif res.note:
                line += f" {res.note[0].upper()}{res.note[1:]}."
            summary.append(line)
    finally:
        worker.stop()
    for sub in found:
        if sub.notebook is None:
            rel = sub.path.relative_to(submission).as_posix()
            guess = _guess_notebook(sub.path, course)
            notes.append(f"{rel} is not one of the course's notebooks and was not graded"
                         + (f": it looks like {guess}; rename it to {guess} and submit again."
                            if guess else f" (the course's: {', '.join(course)})."))
        elif sub.notebook not in wanted:
            notes.append(f"{sub.path.relative_to(submission).as_posix()} is not part of this "
                         f"assignment (it grades {', '.join(wanted)}) and was not graded.")
    if others:
        notes.append(f"Files other than notebooks were ignored: {', '.join(others)}.")
    return _results(tests, summary, notes, config, time.perf_counter() - start)


def _results(tests: list[dict], summary: list[str], notes: list[str], config: dict, seconds: float) -> dict:
    score = sum(t["score"] for t in tests)
    total = sum(t["max_score"] for t in tests)
    bounds = (f"Each notebook may run for {config['notebook_timeout_s']:g} s, each cell for "
              f"{config['cell_timeout_s']:g} s.")
    output = "\n".join([f"Score: {score:g} of {total:g} points.", *summary, *notes, bounds])
    return {"score": score, "execution_time": max(1, round(seconds)), "output": output,
            "output_format": "text", "visibility": config["visibility"], "stdout_visibility": "hidden",
            "tests": tests}


def crash_results(error: str) -> dict:
    """What the learner sees when the grader itself failed: no score is lost silently."""
    return {"score": 0.0, "execution_time": 1, "output_format": "text", "visibility": VISIBILITY,
            "stdout_visibility": "hidden", "tests": [],
            "output": ("The autograder could not grade this submission because of an error in the "
                       f"autograder itself ({error}). This is not a problem with your notebooks: "
                       "tell your instructor, who can see the details and rerun it.")}


def run(root: Path) -> int:
    """Grade ``root/submission`` into ``root/results/results.json``; never leaves it unwritten."""
    results_file = root / "results" / "results.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    print(f"relucourse from {Path(__file__).resolve().parents[1]}", flush=True)
    try:
        config = json.loads((root / "source" / "config.json").read_text())
        timeout = os.environ.get("AUTOGRADER_TIMEOUT")
        results = grade_folder(root / "submission", config, float(timeout) if timeout else None)
    except Exception as err:  # a defect of the grader: the learner still gets a result
        traceback.print_exc()
        results = crash_results(f"{type(err).__name__}: {err}")
    tmp = results_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(results_file)
    print(results["output"], flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# The book: one learner's results as a table (instructors.md)
# --------------------------------------------------------------------------------------------

BEGIN_TABLE, END_TABLE = "<!-- autograder-example: begin -->", "<!-- autograder-example: end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def results_table(results: dict) -> str:
    """A MyST rendering of a results.json: the score, a row per test, each message in full."""
    lines = [f"**Autograder score: {results['score']:g} / "
             f"{sum(t['max_score'] for t in results['tests']):g}**", "", "```text",
             *_wrap(results["output"]), "```", "",
             "| Test | Score | Result |", "| :-- | --: | :-- |"]
    for t in results["tests"]:
        head = t["output"].splitlines()[0]
        lines.append(f"| {_cell(t['name'])} | {t['score']:g} / {t['max_score']:g} | {_cell(head)} |")
    for t in results["tests"]:
        if len(t["output"].splitlines()) > 1:
            lines += ["", f"{t['name']}, in full:", "", "```text", *_wrap(t["output"]), "```"]
    return "\n".join(lines)


def _wrap(text: str) -> list[str]:
    """Lines wrapped to the book's code width (a continued line is indented)."""
    return [part for line in text.splitlines()
            for part in textwrap.wrap(line, LINE_LIMIT, subsequent_indent="    ",
                                      break_long_words=False, break_on_hyphens=False) or [""]]


def write_table(results: dict, page: Path) -> bool:
    """Replace the table between the markers in ``page``; True when the page changed."""
    text = page.read_text()
    head, rest = text.split(BEGIN_TABLE, 1)
    _, tail = rest.split(END_TABLE, 1)
    new = f"{head}{BEGIN_TABLE}\n{results_table(results)}\n{END_TABLE}{tail}"
    page.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the autograder zip")
    b.add_argument("--out", type=Path, default=ZIP_PATH)
    b.add_argument("--notebooks", nargs="*", help="course notebooks this assignment grades (default: all)")
    b.add_argument("--timeout", type=float, default=NOTEBOOK_TIMEOUT_S, help="seconds per notebook")
    b.add_argument("--total", type=float, default=TOTAL_TIMEOUT_S, help="seconds per submission")
    b.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT_S, help="seconds per cell")
    b.add_argument("--torch-index", default=TORCH_CPU_INDEX, help="where setup.sh takes PyTorch from")
    r = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    r.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    t = sub.add_parser("table", help="print (or write into a page) a results.json as a MyST table")
    t.add_argument("results", type=Path)
    t.add_argument("--write", type=Path, help="a page with the table's begin and end markers")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            out = build(args.out, args.notebooks, args.timeout, args.total, args.cell_timeout, args.torch_index)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"Wrote {out} ({out.stat().st_size / 1024:.0f} KiB): upload it as the assignment's "
              "autograder on Gradescope (see the book's \"For instructors\" page).")
        return 0
    if args.command == "run":
        return run(args.root)
    results = json.loads(args.results.read_text())
    if args.write:
        changed = write_table(results, args.write)
        print(f"{'Updated' if changed else 'Unchanged'}: {args.write}")
    else:
        print(results_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
