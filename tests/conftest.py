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


def rejects(exercise_id: str, *answers, says: tuple[str, ...] = ()) -> str:
    """Run the check; it must fail with a learner-facing message containing every string in ``says``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(ExerciseFailed) as info:
        check(exercise_id, *answers)
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
