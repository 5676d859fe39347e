"""Graded checks, one per exercise, looked up by exercise id (``"N.M"``).

In a notebook::

    from relucourse.tooling.checks import check
    check("1.1", sigmoid)

Each chapter's checks live in ``chNN.py`` in this package and register themselves with
:func:`exercise`; every such module is imported here, so adding a chapter needs no other edit.

Two modes. In a learner's Jupyter session a failed or not-yet-attempted check *shows* its message
(a styled box, no traceback) and returns, so that "Run All" goes on to the later exercises. Under
grading, nbval, CI and plain Python (scripts, unit tests) it *raises*, so the cell fails. Strict mode
is on when the environment sets ``RELUCOURSE_STRICT=1`` (the course's pytest plugin and
``make grade`` do) or ``CI``, and whenever the code does not run inside an IPython kernel.
"""

from __future__ import annotations

import html
import importlib
import os
import pkgutil
import sys
from dataclasses import dataclass
from typing import Callable

from .core import Checker, ExerciseError, ExerciseFailed, ExerciseNotAttempted, describe

__all__ = ["check", "exercise", "EXERCISES", "Checker", "ExerciseError", "ExerciseFailed",
           "ExerciseNotAttempted", "describe", "strict_mode", "STRICT_ENV"]

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


_STYLE = {"failed": ("#D55E00", "#fdf0e9"), "not attempted": ("#E69F00", "#fdf6e6")}


def show(error: ExerciseError) -> None:
    """Display a check's result in the notebook as a styled box instead of a traceback."""
    from IPython.display import display

    border, background = _STYLE.get(error.status, _STYLE["failed"])
    body = html.escape(error.message)
    box = (f'<div class="relucourse-check relucourse-{error.status.replace(" ", "-")}" '
           f'style="border-left: 6px solid {border}; background: {background}; color: #222; '
           f'padding: 0.5em 0.8em; margin: 0.3em 0; white-space: pre-wrap; '
           f'font-family: monospace;">{body}</div>')
    display({"text/plain": error.message, "text/html": box}, raw=True)


def check(exercise_id: str, *answers) -> None:
    """Grade the answer(s) to one exercise.

    Prints one line on success. Otherwise raises a short message (strict mode) or shows it in the
    notebook and returns, so that the rest of the notebook still runs (see :func:`strict_mode`).
    """
    try:
        _grade(exercise_id, *answers)
    except ExerciseError as error:
        if strict_mode():
            raise
        show(error)


def _grade(exercise_id: str, *answers) -> None:
    if exercise_id not in EXERCISES:
        known = ", ".join(sorted(EXERCISES, key=lambda k: tuple(map(int, k.split(".")))))
        raise ExerciseFailed(str(exercise_id),
                             f"There is no exercise {exercise_id!r}. Known exercises: {known}.")
    ex = EXERCISES[exercise_id]
    checker = Checker(exercise_id, ex.time_limit_s)
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
    print(f"Exercise {exercise_id} passed: {checker.passed}/{checker.passed} checks")


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("ch"):
        importlib.import_module(f"{__name__}.{_info.name}")
