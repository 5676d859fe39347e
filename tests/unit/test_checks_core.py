"""The check machinery itself: messages, time limits, in-place detection, robustness."""

import numpy as np
import pytest
import torch

from relucourse.tooling.checks import EXERCISES, ExerciseFailed, check
from relucourse.tooling.checks.core import Checker, ExerciseNotAttempted, describe

from conftest import stub


def test_unknown_exercise_lists_known_ones():
    with pytest.raises(ExerciseFailed, match=r"There is no exercise '9.9'. Known exercises: 1.1, 1.2"):
        check("9.9", abs)


def test_failure_renders_without_traceback_in_jupyter():
    c = Checker("1.1")
    with pytest.raises(ExerciseFailed) as info:
        c.fail("wrong value.", tried="f(0)", expected="1", got="2", hint="think")
    lines = info.value._render_traceback_()
    assert lines == ["ExerciseFailed: Exercise 1.1 failed check 1: wrong value.\n"
                     "  Tried:    f(0)\n  Expected: 1\n  Got:      2\n  Hint: think"]


def test_call_reports_time_limit():
    c = Checker("x", time_limit_s=0.2)

    def forever(x):
        while True:
            pass
    with pytest.raises(ExerciseFailed, match="did not finish within 0.2 s"):
        c.call(forever, 1, desc="forever(1)")


def test_call_detects_in_place_modification_of_tensors_and_arrays():
    c = Checker("x")
    with pytest.raises(ExerciseFailed, match="modified its input in place"):
        c.call(lambda t: t.clamp_(min=0), torch.tensor([-1.0, 2.0]), desc="f(t)")
    with pytest.raises(ExerciseFailed, match="modified its input in place"):
        c.call(lambda a: np.negative(a, out=a), np.array([1.0, np.nan]), desc="f(a)")


def test_call_tolerates_nan_inputs_that_stay_nan():
    c = Checker("x")
    assert np.isnan(c.call(lambda a: a + 1, np.array([np.nan]), desc="f")[0])


def test_stub_is_not_attempted_but_other_not_implemented_errors_fail():
    c = Checker("3.1")
    with pytest.raises(ExerciseNotAttempted, match="Exercise 3.1 not attempted yet"):
        c.call(stub("3.1"), 1, desc="f(1)")

    def unsupported(x):
        raise NotImplementedError("bfloat16 is not supported")
    with pytest.raises(ExerciseFailed, match="NotImplementedError: bfloat16 is not supported"):
        c.call(unsupported, 1, desc="f(1)")


def test_checker_errors_are_wrapped_for_the_learner():
    # too few answers: the check's own code fails, the learner sees a short message
    with pytest.raises(ExerciseFailed, match="the checker could not use your answer"):
        check("1.1")


def test_expect_array_messages():
    c = Checker("x")
    with pytest.raises(ExerciseFailed, match="expected a torch.Tensor, but your code returned list"):
        c.expect_array([1.0], torch.tensor([1.0]), desc="f")
    with pytest.raises(ExerciseFailed, match=r"wrong shape.*\n.*\n  Expected: shape \(2,\)"):
        c.expect_array(np.zeros(3), np.zeros(2), desc="f")
    with pytest.raises(ExerciseFailed, match="wrong dtype"):
        c.expect_array(np.zeros(2), np.zeros(2, np.float32), desc="f")
    with pytest.raises(ExerciseFailed, match=r"wrong value at index \(1,\)"):
        c.expect_array(np.array([0.0, np.nan]), np.array([0.0, 1.0]), desc="f")
    c.expect_array(np.float64(0.5), np.array(0.5), desc="0-d results may come back as NumPy scalars")
    c.expect_array(np.array([np.inf, -np.inf, np.nan]), np.array([np.inf, -np.inf, np.nan]), desc="f")


def test_expect_number_accepts_every_kind_of_number_and_rejects_bools():
    c = Checker("x")
    for value in (3, 3.0, np.int64(3), np.float32(3), torch.tensor(3.0), np.array([3.0])):
        c.expect_number(value, 3.0, desc="n")
    for wrong in (True, "3", None, [3.0], torch.tensor([3.0, 3.0])):
        with pytest.raises(ExerciseFailed, match="expected a number"):
            c.expect_number(wrong, 1.0, desc="n")
    with pytest.raises(ExerciseFailed, match="Expected: 3.0\n  Got:      4.0"):
        c.expect_number(4.0, 3.0, desc="n")
    with pytest.raises(ExerciseFailed, match="Expected: 3\n  Got:      4$"):  # ints are shown as ints
        c.expect_number(4, 3, desc="n")


def test_describe_is_short():
    assert describe(torch.zeros(1000)) == "a tensor of shape (1000,) and dtype torch.float32"
    assert describe(np.array([1.0, 2.0])) == "np.array([1., 2.], dtype=float64)"
    assert len(describe("x" * 1000)) <= 160


def test_every_exercise_has_unit_tests():
    """Each registered exercise id must appear in the unit tests of its chapter."""
    from pathlib import Path
    here = Path(__file__).parent
    for exercise_id in EXERCISES:
        chapter = int(exercise_id.split(".")[0])
        text = (here / f"test_checks_ch{chapter:02d}.py").read_text()
        assert f'"{exercise_id}"' in text, f"no unit test for exercise {exercise_id}"


def test_report_summary_keeps_every_detail_the_notebook_shows():
    from relucourse.tooling.grading import summarise
    message = ("Exercise 1.1 failed check 4: your code emitted a warning.\n  Tried:    f(x)\n"
               "  Expected: a long expected value\n  Got:      0.5, with RuntimeWarning: overflow\n  Hint: h")
    assert summarise(message).splitlines() == [
        "check 4: your code emitted a warning.", "Tried:    f(x)", "Expected: a long expected value",
        "Got:      0.5, with RuntimeWarning: overflow", "Hint: h"]


class FakeKernel:
    """Stands in for Jupyter's kernel shell, whose class name strict_mode looks for."""


FakeKernel.__name__ = "ZMQInteractiveShell"


@pytest.fixture
def learner_session(monkeypatch):
    """A learner's Jupyter session: an IPython kernel, no strict variable, no CI; captures display()."""
    import IPython
    import IPython.display
    monkeypatch.delenv("RELUCOURSE_STRICT", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernel())
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    return shown


def test_in_a_learners_session_a_failure_is_shown_not_raised(learner_session):
    from relucourse.tooling.checks import strict_mode
    assert not strict_mode()
    check("1.1", lambda x: x)  # wrong: returns its input; must not raise
    (box,) = learner_session
    assert box["text/plain"].startswith("Exercise 1.1 failed check")
    assert 'class="relucourse-check relucourse-failed"' in box["text/html"]
    assert "<" not in box["text/html"].split(">", 1)[1].rsplit("</div>", 1)[0], "message must be escaped"


def test_in_a_learners_session_a_stub_is_shown_as_not_attempted(learner_session):
    check("1.1", stub("1.1"))
    (box,) = learner_session
    assert "not attempted yet" in box["text/plain"] and "relucourse-not-attempted" in box["text/html"]


@pytest.mark.parametrize("variable", ["RELUCOURSE_STRICT", "CI"])
def test_strict_mode_raises_even_in_a_kernel(learner_session, monkeypatch, variable):
    monkeypatch.setenv(variable, "1" if variable == "RELUCOURSE_STRICT" else "true")
    with pytest.raises(ExerciseFailed):
        check("1.1", lambda x: x)
    assert learner_session == []


def test_outside_jupyter_checks_raise(monkeypatch):
    from relucourse.tooling.checks import strict_mode
    monkeypatch.delenv("RELUCOURSE_STRICT", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert strict_mode()  # plain Python: scripts and unit tests
