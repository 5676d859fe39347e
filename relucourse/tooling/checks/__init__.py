"""Graded checks, one per exercise, looked up by exercise id (``"N.M"``).

In a notebook::

    from relucourse.tooling.checks import check
    check("1.1", sigmoid)

Each chapter's checks live in ``chNN.py`` in this package and register themselves with
:func:`exercise`; every such module is imported here, so adding a chapter needs no other edit.

Two modes. In a learner's Jupyter session a check *shows* its result (a small coloured box, no
traceback: green when it passed) and returns, so that "Run All" goes on to the later exercises.
Under grading, nbval, CI and plain Python (scripts, unit tests) a passed check prints its one
deterministic line and a failed one *raises*, so the cell fails. Strict mode is on when the
environment sets ``RELUCOURSE_STRICT=1`` (the course's pytest plugin, ``make grade`` and
``relucourse.tooling.execute`` do) or ``CI``, and whenever the code does not run inside an IPython
kernel.

Cells other than check cells that call the learner's functions (a side-by-side comparison after an
exercise) run them inside :func:`learner_code`, which gives them the same safety::

    with learner_code("4.3", "4.4"):
        print(born_dead_probability(3, 8), simulate_born_dead(3, 8, 4000, seed=0))

:func:`progress` prints the exercises of one chapter as the checks run in this kernel left them
(the last cell of every exercise notebook calls it), so a learner sees where they stand without
saving the notebook first.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import os
import pkgutil
import sys
from dataclasses import dataclass
from typing import Callable

from .core import (STUB_MARKER, Checker, ExerciseError, ExerciseFailed, ExerciseNotAttempted,
                   _TimeLimit, describe, learner_line, time_limit)

__all__ = ["check", "exercise", "EXERCISES", "Checker", "ExerciseError", "ExerciseFailed",
           "ExerciseNotAttempted", "describe", "strict_mode", "STRICT_ENV", "learner_code",
           "progress", "LEARNER_CODE_LIMIT_S"]

#: Environment variable that makes a failing check raise even in a Jupyter session.
STRICT_ENV = "RELUCOURSE_STRICT"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    run: Callable[..., None]
    time_limit_s: float = 2.0


#: Every registered exercise, by id.
EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, title: str, time_limit_s: float = 2.0):
    """Register ``run(checker, *answers)`` as the check of exercise ``exercise_id``."""
    def register(run):
        if exercise_id in EXERCISES:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        EXERCISES[exercise_id] = Exercise(exercise_id, title, run, time_limit_s)
        return run
    return register


def strict_mode() -> bool:
    """True when a failing check must raise (grading, nbval, CI, scripts), False in a learner's kernel."""
    if os.environ.get(STRICT_ENV, "").strip() not in ("", "0") or os.environ.get("CI"):
        return True
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return type(shell).__name__ != "ZMQInteractiveShell"  # Jupyter's kernel; not the terminal IPython


# Okabe-Ito colours, as in the book's figures: vermillion, orange, bluish green.
_STYLE = {"failed": ("#D55E00", "#fdf0e9"), "not attempted": ("#E69F00", "#fdf6e6"),
          "passed": ("#009E73", "#e6f5f0")}

#: The latest result of every check run in this process (this kernel): exercise id -> status.
SESSION: dict[str, str] = {}


def show_box(message: str, status: str) -> None:
    """Display ``message`` in the notebook as a small box coloured by ``status``."""
    from IPython.display import display

    border, background = _STYLE.get(status, _STYLE["failed"])
    box = (f'<div class="relucourse-check relucourse-{status.replace(" ", "-")}" '
           f'style="border-left: 6px solid {border}; background: {background}; color: #222; '
           f'padding: 0.5em 0.8em; margin: 0.3em 0; white-space: pre-wrap; '
           f'font-family: monospace;">{html.escape(message)}</div>')
    display({"text/plain": message, "text/html": box}, raw=True)


def show(error: ExerciseError) -> None:
    """Display a check's result in the notebook as a styled box instead of a traceback."""
    show_box(error.message, error.status)


def check(exercise_id: str, *answers) -> None:
    """Grade the answer(s) to one exercise.

    On success it prints one line (strict mode) or shows it in a small green box. Otherwise it
    raises a short message (strict mode) or shows it in the notebook and returns, so that the rest
    of the notebook still runs (see :func:`strict_mode`).
    """
    try:
        line = _grade(exercise_id, *answers)
    except ExerciseError as error:
        SESSION[str(exercise_id)] = error.status
        if strict_mode():
            raise
        show(error)
        return
    SESSION[str(exercise_id)] = "passed"
    if strict_mode():
        print(line)
    else:
        show_box(line, "passed")


#: A ceiling on every check's time limit, from the environment variable RELUCOURSE_CHECK_LIMIT_S
#: (unset: no ceiling). Only tests set it, where every answer is bad and an endless loop need not
#: wait out a design exercise's 20 s (``tests/e2e/test_run_all.py``); learners never need it.
CHECK_LIMIT_CAP_S = float(os.environ.get("RELUCOURSE_CHECK_LIMIT_S", "") or "inf")


def _grade(exercise_id: str, *answers) -> str:
    if exercise_id not in EXERCISES:
        known = ", ".join(sorted(EXERCISES, key=lambda k: tuple(map(int, k.split(".")))))
        raise ExerciseFailed(str(exercise_id),
                             f"There is no exercise {exercise_id!r}. Known exercises: {known}.")
    ex = EXERCISES[exercise_id]
    checker = Checker(exercise_id, min(ex.time_limit_s, CHECK_LIMIT_CAP_S))
    try:
        ex.run(checker, *answers)
    except ExerciseError:
        raise
    except Exception as err:  # never show the learner a traceback from inside the checker
        raise ExerciseFailed(
            exercise_id,
            f"Exercise {exercise_id} failed check {checker.passed + 1}: the checker could not use your "
            f"answer ({type(err).__name__}: {err}). Check that you passed what the exercise asks for.",
        ) from None
    return f"Exercise {exercise_id} passed: {checker.passed}/{checker.passed} checks"


# --------------------------------------------------------------------------------------------
# Cells that call the learner's code outside a check
# --------------------------------------------------------------------------------------------

#: Seconds a :func:`learner_code` block may run in a learner's session before it is stopped
#: (the environment variable RELUCOURSE_LEARNER_CODE_S may set another, e.g. in a test).
LEARNER_CODE_LIMIT_S = float(os.environ.get("RELUCOURSE_LEARNER_CODE_S", "") or 20.0)


def _exercises(ids: tuple[str, ...]) -> str:
    names = " and ".join(ids) if len(ids) <= 2 else ", ".join(ids[:-1]) + " and " + ids[-1]
    return f"Exercise{'s' if len(ids) > 1 else ''} {names}"


@contextlib.contextmanager
def learner_code(*exercise_ids: str, seconds: float = LEARNER_CODE_LIMIT_S):
    """Run a cell's use of the learner's answers to ``exercise_ids`` so that Run All never stops.

    In a learner's session, anything the block raises, or running past ``seconds``, ends the block
    with one short line that points to the exercises' checks; the cell itself succeeds, and the
    notebook goes on. An untouched stub says which exercises to solve first (in every mode: a blank
    notebook runs clean under grading too). In strict mode (grading, nbval, CI, scripts) any other
    error propagates unchanged, so that the cell fails and the report or the test names it, and the
    time limit is the cell's own (nbval's, or ``make grade``'s).
    """
    ids = tuple(str(i) for i in exercise_ids)
    which = _exercises(ids)
    strict = strict_mode()
    try:
        if strict:
            yield
        else:
            # wall_factor=1: ``seconds`` of the wall clock, as the message says (the CPU-time limit,
            # per thread, is never reached first); generous, since these cells take about 2 s
            with time_limit(seconds, wall_factor=1.0):
                yield
    except _TimeLimit:
        _skipped(f"{which}: this cell stopped: your code did not finish within {seconds:g} s. "
                 f"Run the check of {which} to see why; the notebook goes on.", "failed")
    except NotImplementedError as err:
        if STUB_MARKER not in str(err):
            if strict:
                raise
            _skipped(_stopped(which, err), "failed")
        else:
            _skipped(f"Solve {which} first, then run this cell again.", "not attempted", plain=strict)
    except Exception as err:  # the learner's code may raise anything
        if strict:
            raise
        _skipped(_stopped(which, err), "failed")


def _stopped(which: str, err: BaseException) -> str:
    where = learner_line(err)
    error = " ".join(f"{type(err).__name__}: {err}".split())
    error = error if len(error) <= 100 else error[:97] + "..."
    return (f"{which}: this cell stopped: your code raised {error}"
            + (f" ({where.split(': ', 1)[0]})" if where else "")
            + f". Run the check of {which} to see why; the notebook goes on.")


def _skipped(message: str, status: str, plain: bool = False) -> None:
    if plain or strict_mode():
        print(message)
    else:
        show_box(message, status)


# --------------------------------------------------------------------------------------------
# The learner's progress in this session
# --------------------------------------------------------------------------------------------

def progress(chapter: int | str) -> None:
    """Print the exercises of ``chapter`` as the checks run in this kernel left them.

    It reads no file: what it shows needs no save. ``make grade`` reads the saved notebooks.
    """
    prefix = f"{int(chapter)}."
    ids = sorted((k for k in EXERCISES if k.startswith(prefix)), key=lambda k: tuple(map(int, k.split("."))))
    lines = [f"Chapter {int(chapter)} in this session (the checks run since the kernel started):"]
    for exercise_id in ids:
        lines.append(f"  {exercise_id:<6} {SESSION.get(exercise_id, 'not checked yet')}")
    done = sum(SESSION.get(k) == "passed" for k in ids)
    lines.append(f"{done} of {len(ids)} passed. `make grade` reads the saved notebook: save it "
                 "(Ctrl+S) first.")
    print("\n".join(lines))


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("ch"):
        importlib.import_module(f"{__name__}.{_info.name}")
