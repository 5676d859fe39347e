"""The checks machinery's time limit, exact numbers and dtype hints (the parts of core.py that judge
every chapter's answers): no correct answer is rejected because of machine load or a library loading
for the first time; exact numbers are numbers; the dtype hint follows the dtype that came back."""

from __future__ import annotations

import sys
import time
from fractions import Fraction

import numpy as np
import pytest
import torch

from relucourse.tooling.checks.core import Checker, ExerciseFailed, as_real, dtype_hint


def burn(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def test_an_endless_loop_is_stopped_after_one_limit():
    c = Checker("9.9", 0.3)
    start = time.process_time()
    with pytest.raises(ExerciseFailed, match="did not finish within 0.3 s"):
        c.call(lambda: [0 for _ in iter(int, 1)], desc="loop()")
    assert time.process_time() - start < 0.3 * 2.5   # no second try: the loop imported nothing


def test_a_first_call_that_loads_a_library_gets_a_second_try():
    name = "relucourse_fake_lazy_library"
    sys.modules.pop(name, None)

    def lazy():
        if name not in sys.modules:
            sys.modules[name] = object()   # an import registers the module, then runs it
            burn(0.5)                      # ... for longer than the limit, once
        return 1
    try:
        assert Checker("9.9", 0.3).call(lazy, desc="lazy()") == 1
    finally:
        sys.modules.pop(name, None)


def test_the_limit_counts_cpu_time_not_waiting():
    """A busy machine delays a process without it spending CPU time: that is not counted (a wall-clock
    backstop of 3 limits stops code that only waits)."""
    c = Checker("9.9", 0.2)
    assert c.call(lambda: (time.sleep(0.4), 5)[1], desc="waits 0.4 s") == 5
    with pytest.raises(ExerciseFailed, match="did not finish"):
        c.call(lambda: time.sleep(5), desc="waits 5 s")


def test_exact_and_other_numbers_are_numbers():
    assert as_real(Fraction(1, 2)) == 0.5
    assert as_real(np.float32(0.25)) == 0.25 and as_real(3) == 3.0
    assert as_real(torch.tensor([0.5])) == 0.5
    assert as_real(True) is None and as_real("0.5") is None and as_real(torch.ones(2)) is None
    c = Checker("9.9")
    assert c.expect_number(Fraction(1, 3), 1 / 3, desc="f()") == pytest.approx(1 / 3)


def test_the_dtype_hint_follows_the_dtype_that_came_back():
    assert "comparison" in dtype_hint(torch.bool, torch.float32)
    assert "widened" in dtype_hint(torch.float64, torch.float32)
    assert "less precision" in dtype_hint(np.dtype("float32"), np.dtype("float64"))


def test_a_ceiling_on_the_limits_stops_an_endless_answer_early(monkeypatch):
    """RELUCOURSE_CHECK_LIMIT_S (read into CHECK_LIMIT_CAP_S) lowers every check's limit: a whole
    notebook of bad answers need not wait out 1.7's 10 s; unset, the exercise's own limit holds."""
    from conftest import rejects
    from relucourse.tooling import checks

    assert checks.EXERCISES["1.7"].time_limit_s == 10.0 and checks.CHECK_LIMIT_CAP_S == float("inf")
    monkeypatch.setattr(checks, "CHECK_LIMIT_CAP_S", 0.2)

    def endless(*args, **kwargs):
        while True:
            pass
    start = time.process_time()
    rejects("1.7", endless, says=("did not finish within 0.2 s",))
    assert time.process_time() - start < 2
