"""Helpers shared by the tests: run a graded check and capture what the learner would see."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from relucourse.tooling.checks import ExerciseFailed, ExerciseNotAttempted, check

ROOT = Path(__file__).resolve().parent.parent


def passes(exercise_id: str, *answers) -> str:
    """Run the check; it must pass. Returns the one line it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check(exercise_id, *answers)
    printed = out.getvalue()
    assert re.fullmatch(rf"Exercise {re.escape(exercise_id)} passed: (\d+)/\1 checks\n", printed), printed
    return printed


#: An answer that must be stopped by the check's time limit ("did not finish") is stopped after this
#: many seconds in the tests: the limit's mechanism is tested at full length in test_checks_core.py
#: and test_checks_timing.py, and waiting for each exercise's own limit would cost minutes.
QUICK_LIMIT_S = 0.3


def rejects(exercise_id: str, *answers, says: tuple[str, ...] = ()) -> str:
    """Run the check; it must fail with a learner-facing message containing every string in ``says``."""
    import dataclasses

    from relucourse.tooling.checks import EXERCISES

    out = io.StringIO()
    exercise = EXERCISES[exercise_id]
    if "did not finish" in says:  # an endless loop: no need to wait for the full limit
        EXERCISES[exercise_id] = dataclasses.replace(exercise, time_limit_s=QUICK_LIMIT_S)
    try:
        with contextlib.redirect_stdout(out), pytest.raises(ExerciseFailed) as info:
            check(exercise_id, *answers)
    finally:
        EXERCISES[exercise_id] = exercise
    message = str(info.value)
    assert out.getvalue() == "", "a failing check must not print a success line"
    assert message.startswith(f"Exercise {exercise_id} failed"), message
    for fragment in says:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "Traceback" not in message
    return message


def not_attempted(exercise_id: str, *answers) -> None:
    with pytest.raises(ExerciseNotAttempted, match="not attempted yet"):
        check(exercise_id, *answers)


def stub(exercise_id: str):
    """A function that behaves like the generated exercise stub."""
    from relucourse.tooling.checks.core import STUB_MARKER

    def fn(*args, **kwargs):
        raise NotImplementedError(f"Exercise {exercise_id}: {STUB_MARKER}")
    return fn


def notebook_cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]
