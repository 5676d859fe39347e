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


# --------------------------------------------------------------------------------------------
# The line of the learner's code where an error arose
# --------------------------------------------------------------------------------------------

def _wrong_matmul(x):
    w = torch.ones(2, 2)
    return x @ w  # the learner's line: shapes (1, 1) and (2, 2)


def test_a_raising_answer_names_the_learners_line_not_the_checkers():
    import inspect
    c = Checker("4.4")
    with pytest.raises(ExerciseFailed) as info:
        c.call(_wrong_matmul, torch.ones(1, 1), desc="f(x)")
    line = inspect.getsourcelines(_wrong_matmul)[1] + 2
    message = str(info.value)
    assert message.splitlines()[3] == (
        f"  Where:    test_checks_core.py, line {line}: return x @ w "
        "# the learner's line: shapes (1, 1) and (2, 2)"), message
    assert "/core.py" not in message and "checks/" not in message and "site-packages" not in message


def test_the_line_is_in_the_learners_helper_when_the_error_arises_there():
    def helper(v):
        return v.reshape(3)  # raises for 4 elements

    def answer(x):
        return helper(x) + 1
    with pytest.raises(ExerciseFailed, match=r"Where: +test_checks_core.py, line \d+: return v.reshape\(3\)"):
        Checker("1.1").call(answer, torch.ones(4), desc="f(x)")


def test_an_answer_written_in_a_notebook_cell_is_named_by_its_cell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        shell.run_cell("pass")
        shell.run_cell("def f(x):\n    y = x + 1\n    return y @ torch.ones(2, 2)", store_history=True)
        count = shell.execution_count - 1
        shell.user_ns["torch"] = torch
        with pytest.raises(ExerciseFailed) as info:
            Checker("4.4").call(shell.user_ns["f"], torch.ones(1, 1), desc="f(x)")
        assert f"  Where:    cell [{count}], line 3: return y @ torch.ones(2, 2)" in str(info.value)
    finally:
        InteractiveShell.clear_instance()


def test_no_where_line_when_no_learner_code_is_on_the_stack():
    with pytest.raises(ExerciseFailed) as info:  # torch's own function, called by the checker
        Checker("1.1").call(torch.mm, torch.ones(1, 1), torch.ones(2, 2), desc="f(x)")
    assert "Where:" not in str(info.value)


def test_time_limits_nest():
    from relucourse.tooling.checks.core import _TimeLimit, time_limit
    import time as clock
    start = clock.monotonic()
    with pytest.raises(_TimeLimit):
        with time_limit(0.5):
            with time_limit(5):  # the inner limit never outlives the outer one
                while True:
                    pass
    assert clock.monotonic() - start < 2
    start = clock.monotonic()
    with pytest.raises(_TimeLimit):
        with time_limit(0.6):
            with time_limit(0.1):
                pass  # ends early: the outer limit goes on counting
            while True:
                pass
    assert 0.4 < clock.monotonic() - start < 2


# --------------------------------------------------------------------------------------------
# learner_code: cells that call the learner's code outside a check; progress; the green box
# --------------------------------------------------------------------------------------------

def _raises_runtime_error():
    raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x1 and 2x2)")


def test_learner_code_turns_an_error_into_one_line_and_goes_on(learner_session):
    from relucourse.tooling.checks import learner_code
    with learner_code("4.3", "4.4"):
        _raises_runtime_error()
    (box,) = learner_session
    text = box["text/plain"]
    assert text.startswith("Exercises 4.3 and 4.4: this cell stopped: your code raised RuntimeError: "
                           "mat1 and mat2 shapes cannot be multiplied (1x1 and 2x2) (test_checks_core.py, "
                           "line "), text
    assert text.endswith("Run the check of Exercises 4.3 and 4.4 to see why; the notebook goes on.")
    assert "\n" not in text and "relucourse-failed" in box["text/html"]


def test_learner_code_stops_code_that_never_returns(learner_session):
    from relucourse.tooling.checks import learner_code
    with learner_code("6.6", seconds=0.3):
        while True:
            pass
    (box,) = learner_session
    assert box["text/plain"] == ("Exercise 6.6: this cell stopped: your code did not finish within 0.3 s. "
                                 "Run the check of Exercise 6.6 to see why; the notebook goes on.")


def test_learner_code_on_a_stub_says_solve_first_in_every_mode(learner_session, monkeypatch, capsys):
    from relucourse.tooling.checks import learner_code
    with learner_code("3.5"):
        stub("3.5")()
    (box,) = learner_session
    assert box["text/plain"] == "Solve Exercise 3.5 first, then run this cell again."
    assert "relucourse-not-attempted" in box["text/html"]
    monkeypatch.setenv("RELUCOURSE_STRICT", "1")  # grading a blank notebook: a line, no failure
    with learner_code("3.5"):
        stub("3.5")()
    assert capsys.readouterr().out == "Solve Exercise 3.5 first, then run this cell again.\n"


def test_learner_code_in_strict_mode_lets_other_errors_fail_the_cell(monkeypatch):
    from relucourse.tooling.checks import learner_code
    monkeypatch.setenv("RELUCOURSE_STRICT", "1")
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        with learner_code("4.4"):
            _raises_runtime_error()


def test_learner_code_lets_a_good_block_run_and_keyboard_interrupts_through(learner_session, capsys):
    from relucourse.tooling.checks import learner_code
    with learner_code("1.1"):
        print("fine")
    assert capsys.readouterr().out == "fine\n" and learner_session == []
    with pytest.raises(KeyboardInterrupt):
        with learner_code("1.1"):
            raise KeyboardInterrupt


def test_a_passed_check_is_a_green_box_in_a_session_and_one_line_when_strict(learner_session, monkeypatch,
                                                                            capsys):
    check("2.1", lambda x: x.clamp(min=0))
    (box,) = learner_session
    assert box["text/plain"].startswith("Exercise 2.1 passed: ") and "relucourse-passed" in box["text/html"]
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RELUCOURSE_STRICT", "1")
    check("2.1", lambda x: x.clamp(min=0))
    assert capsys.readouterr().out.startswith("Exercise 2.1 passed: ") and len(learner_session) == 1


def test_progress_lists_the_chapters_checks_run_in_this_session(monkeypatch, capsys):
    from relucourse.tooling import checks
    monkeypatch.setattr(checks, "SESSION", {})
    with pytest.raises(ExerciseFailed):
        check("2.1", lambda x: x)
    with pytest.raises(ExerciseNotAttempted):
        check("2.2", stub("2.2"))
    checks.progress(2)
    lines = capsys.readouterr().out.splitlines()
    ids = sorted((k for k in EXERCISES if k.startswith("2.")), key=lambda k: int(k.split(".")[1]))
    assert lines[0] == "Chapter 2 in this session (the checks run since the kernel started):"
    assert lines[1:3] == ["  2.1    failed", "  2.2    not attempted"]
    assert lines[3:-1] == [f"  {k:<6} not checked yet" for k in ids[2:]]
    assert lines[-1].startswith(f"0 of {len(ids)} passed. `make grade` reads the saved notebook")
