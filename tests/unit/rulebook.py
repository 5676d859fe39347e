"""Marks a check's unit test as the wrong answer that breaks one rule of an exercise's statement.

The statements in ``solutions/NN_*.ipynb`` mark every rule they state with an HTML comment that neither
Jupyter nor the book shows, ``<!-- rule: no-inplace -->``, right after the words that state it. A unit
test of the check that feeds a wrong answer breaking exactly that rule (and no other) is marked::

    @breaks_rule("1.1", "no-inplace")
    def test_1_1_rejects_writing_into_x(): ...

``tests/unit/test_rules.py`` reads both (statically) and fails when a marked rule has no such test.
"""

from __future__ import annotations


def breaks_rule(exercise_id: str, *rules: str):
    """Decorator: this test's wrong answer breaks ``rules`` of exercise ``exercise_id`` only."""
    def mark(test):
        test.breaks_rule = (exercise_id, rules)
        return test
    return mark


def rejects_in_time(exercise_id: str, *answers, limit: float = 0.2) -> str:
    """Run the check with its per-call time limit lowered to ``limit`` seconds: a slow answer must be
    rejected for its time (the check's real limit is tested, without waiting for it)."""
    import dataclasses

    from conftest import rejects
    from relucourse.tooling.checks import EXERCISES

    ex = EXERCISES[exercise_id]
    EXERCISES[exercise_id] = dataclasses.replace(ex, time_limit_s=limit)
    try:
        return rejects(exercise_id, *answers, says=("did not finish within",))
    finally:
        EXERCISES[exercise_id] = ex


def slow(fn, seconds: float = 1.0):
    """``fn``, but spending ``seconds`` of CPU time first: right answers, too slow."""
    import time

    def run(*args, **kwargs):
        start = time.process_time()
        while time.process_time() - start < seconds:
            pass
        return fn(*args, **kwargs)
    return run
