"""Graded checks, one per exercise, looked up by exercise id (``"N.M"``).

In a notebook::

    from relucourse.tooling.checks import check
    check("1.1", sigmoid)

Each chapter's checks live in ``chNN.py`` in this package and register themselves with
:func:`exercise`; every such module is imported here, so adding a chapter needs no other edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from .core import Checker, ExerciseError, ExerciseFailed, ExerciseNotAttempted, describe

__all__ = ["check", "exercise", "EXERCISES", "Checker", "ExerciseError", "ExerciseFailed",
           "ExerciseNotAttempted", "describe"]


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


def check(exercise_id: str, *answers) -> None:
    """Grade the answer(s) to one exercise; print one line on success, raise a short message otherwise."""
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
