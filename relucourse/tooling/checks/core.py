"""The machinery behind every graded check.

A check receives the learner's answer (usually a function), tries it on inputs the learner has not
seen and compares the results with a reference. It talks to the learner in plain words:

* success prints exactly one deterministic line, ``Exercise 2.1 passed: 7/7 checks``;
* a wrong answer raises :class:`ExerciseFailed` whose message names the input that was tried, what
  was expected, what came back, and a hint; when the learner's code raised, it also names the line
  of the learner's own code where the error arose (``Where: cell [7], line 5: h = h @ w``), never
  the checker's or a library's;
* an untouched stub raises :class:`ExerciseNotAttempted`.

Both exceptions render in Jupyter as a short message, not a traceback wall
(IPython calls ``_render_traceback_`` when an exception defines it).

Nothing the learner's code does may crash the checker: :meth:`Checker.call` turns exceptions,
endless loops, in-place modification of inputs and warnings into learner-facing failures.
"""

from __future__ import annotations

import contextlib
import linecache
import math
import os
import signal
import sys
import sysconfig
import threading
import time
import warnings
from typing import Any, Callable

import numpy as np
import torch

from .. import STUB_MARKER  # the text the exercise stubs raise: "not attempted yet"


class ExerciseError(Exception):
    """A learner-facing result of a check; ``str()`` is the whole message."""

    status = "failed"

    def __init__(self, exercise_id: str, message: str):
        super().__init__(message)
        self.exercise_id = exercise_id
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:  # used by IPython instead of a traceback
        return [f"{type(self).__name__}: {self.message}"]


class ExerciseFailed(ExerciseError, AssertionError):
    """The answer was tried and is wrong."""


class ExerciseNotAttempted(ExerciseError):
    """The exercise still holds its stub."""

    status = "not attempted"


class _TimeLimit(BaseException):
    """Raised inside the learner's code when it runs past the time limit."""


@contextlib.contextmanager
def time_limit(seconds: float, wall_factor: float = 3.0):
    """Interrupt the block after ``seconds`` of CPU time (main thread only; elsewhere no limit applies).

    The limit counts the CPU time this process spends (``ITIMER_PROF``), not the wall clock, so a
    correct answer is not rejected because other programs keep a busy machine's cores: an endless
    loop spends CPU time and is stopped all the same (the limit is per thread PyTorch may use). A
    wall-clock backstop of ``wall_factor`` times the limit stops code that waits without computing
    (``time.sleep``, a lock).

    Limits nest: an inner limit never outlives an outer one, and the outer one goes on counting
    (with what is left of it) when the inner block ends.
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _handler(signum, frame):
        raise _TimeLimit()

    outer_real, _ = signal.getitimer(signal.ITIMER_REAL)
    outer_prof, _ = signal.getitimer(signal.ITIMER_PROF)
    start_real, start_cpu = time.monotonic(), time.process_time()
    previous = signal.signal(signal.SIGALRM, _handler), signal.signal(signal.SIGPROF, _handler)
    # CPU time of all the process's threads: a limit of `seconds` per thread PyTorch may use
    cpu = seconds * max(1, torch.get_num_threads())
    signal.setitimer(signal.ITIMER_PROF, min(cpu, outer_prof) if outer_prof > 0 else cpu)
    wall = seconds * wall_factor
    signal.setitimer(signal.ITIMER_REAL, min(wall, outer_real) if outer_real > 0 else wall)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGALRM, previous[0])
        signal.signal(signal.SIGPROF, previous[1])
        # give the outer limits back what is left of them (at least a moment)
        if outer_real > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer_real - (time.monotonic() - start_real), 1e-3))
        if outer_prof > 0:
            signal.setitimer(signal.ITIMER_PROF, max(outer_prof - (time.process_time() - start_cpu), 1e-3))


def timed_call(fn: Callable, args: tuple, kwargs: dict, seconds: float) -> Any:
    """``fn(*args, **kwargs)`` under :func:`time_limit`, given a second try when the first run out of
    time while loading a library.

    A first call may pay one-time costs that are not the learner's: a library loading lazily, such as
    the first call of ``torch.func``. When modules were imported during a call that ran past the limit,
    it is run once more, and only that second run's time counts. (An endless loop imports nothing,
    so it is stopped after one limit.)
    """
    import sys

    modules = len(sys.modules)
    try:
        with time_limit(seconds):
            return fn(*args, **kwargs)
    except _TimeLimit:
        if len(sys.modules) == modules:
            raise
    with time_limit(seconds):
        return fn(*args, **kwargs)


def dtype_hint(got: Any, want: Any) -> str:
    """The hint for a result of the wrong dtype, chosen by what the dtype is (torch or NumPy dtypes)."""
    g, w = str(got).replace("torch.", ""), str(want).replace("torch.", "")
    if g == "bool":
        return f"a comparison gives booleans: convert the result to the input's dtype ({w}), e.g. with .to(x.dtype)."
    size = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
    if g in size and w in size and size[g] > size[w]:
        return (f"{w} came back as {g}: a constant or a conversion widened it. Keep the input's dtype "
                "(e.g. build constants with dtype=x.dtype).")
    if g in size and w in size and size[g] < size[w]:
        return f"{w} came back as {g}, with less precision: do not convert the input to a narrower dtype."
    return f"return the input's dtype ({w}), not {g}."


def as_real(value: Any) -> float | None:
    """A single real number as a float, or None: Python and NumPy numbers, exact numbers such as
    ``fractions.Fraction`` (any ``numbers.Real``), and one-element tensors and arrays; not bools."""
    import numbers

    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool:
        return float(value.detach().item())
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.item())
    if isinstance(value, (numbers.Real, np.integer, np.floating)):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


# --------------------------------------------------------------------------------------------
# Where in the learner's own code an error arose
# --------------------------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LIBRARY_DIRS = tuple(sorted({os.path.abspath(p) + os.sep for p in (
    sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths().get("stdlib", sys.prefix),
    sysconfig.get_paths().get("purelib", sys.prefix), _PACKAGE_DIR) if p}))


def _cell_name(filename: str) -> str | None:
    """``"cell [7]"`` for the code of a notebook cell run as ``In [7]``, else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    name = getattr(getattr(shell, "compile", None), "format_code_name", None)
    try:
        found = name(filename) if name else None
    except Exception:
        found = None
    if found:
        return "cell [" + found[1].removeprefix("In[").removesuffix("]") + "]"
    if filename.startswith("<ipython-input-"):  # older IPython: <ipython-input-7-...>
        return f"cell [{filename.split('-')[2]}]"
    return None


def _is_learners(filename: str) -> bool:
    """True for code the learner wrote: a notebook cell or a file outside Python, its libraries
    and this package."""
    if _cell_name(filename):
        return True
    if filename.startswith("<"):  # <frozen ...>, <string>, <stdin>: not a line a learner can open
        return False
    return not os.path.abspath(filename).startswith(_LIBRARY_DIRS)


def learner_line(error: BaseException) -> str | None:
    """Where in the learner's own code ``error`` arose: ``cell [7], line 5: h = h @ w``.

    The deepest frame of the traceback that is the learner's (a notebook cell or their own file),
    so that the checker's frames and those of torch or NumPy never show; None when there is none.
    """
    found = None
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if _is_learners(filename):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    filename, lineno = found
    place = _cell_name(filename) or os.path.basename(filename)
    text = _short(linecache.getline(filename, lineno).strip(), 80)
    return f"{place}, line {lineno}" + (f": {text}" if text else "")


# --------------------------------------------------------------------------------------------
# Formatting values for messages
# --------------------------------------------------------------------------------------------

def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """A short, readable description of a value for a learner-facing message."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        if value.numel() <= 8 and not value.is_meta:
            body = np.array2string(value.detach().to(torch.float64).cpu().numpy(), precision=6, separator=", ")
            return f"torch.tensor({body}, dtype=torch.{dtype})"
        return f"a tensor of shape {tuple(value.shape)} and dtype torch.{dtype}"
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            body = np.array2string(value, precision=6, separator=", ")
            return f"np.array({body}, dtype={value.dtype})"
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}({value!r})"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"a {type(value).__name__} of length {len(value)}"
    return _short(repr(value))


def type_name(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "torch.Tensor"
    if isinstance(value, np.ndarray):
        return "numpy.ndarray"
    if value is None:
        return "None"
    return type(value).__name__


def _snapshot(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return None if value.is_meta else value.detach().clone()  # meta tensors hold no data
    if isinstance(value, np.ndarray):
        return value.copy()
    return None


def _unchanged(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        before, after = before.float().cpu().numpy(), after.detach().float().cpu().numpy()
    return before.shape == after.shape and bool(
        np.all((before == after) | (np.isnan(before) & np.isnan(after)))
    )


def _values(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).cpu().numpy()
    return np.asarray(x, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------

class Checker:
    """Runs the learner's code and compares results, counting the checks that passed."""

    def __init__(self, exercise_id: str, time_limit_s: float = 2.0):
        self.exercise_id = exercise_id
        self.time_limit_s = time_limit_s
        self.passed = 0

    # -- reporting ---------------------------------------------------------------------------
    def fail(self, problem: str, *, tried: str | None = None, expected: str | None = None,
             got: str | None = None, where: str | None = None, hint: str | None = None) -> None:
        lines = [f"Exercise {self.exercise_id} failed check {self.passed + 1}: {problem}"]
        if tried is not None:
            lines.append(f"  Tried:    {tried}")
        if expected is not None:
            lines.append(f"  Expected: {expected}")
        if got is not None:
            lines.append(f"  Got:      {got}")
        if where is not None:
            lines.append(f"  Where:    {where}")
        if hint:
            lines.append(f"  Hint: {hint}")
        raise ExerciseFailed(self.exercise_id, "\n".join(lines))

    def ok(self) -> None:
        self.passed += 1

    def expect(self, condition: bool, problem: str, **details) -> None:
        if not condition:
            self.fail(problem, **details)
        self.ok()

    # -- calling learner code ----------------------------------------------------------------
    def require_callable(self, fn: Any, name: str) -> None:
        if isinstance(fn, type) or not callable(fn):
            self.fail(f"expected a function `{name}`, but got {type_name(fn)} {describe(fn)}.",
                      hint=f"pass the function itself, e.g. check('{self.exercise_id}', {name}),"
                           " without calling it.")
        self.ok()

    def call(self, fn: Callable, *args, desc: str, hint: str | None = None,
             expected: Any = None, allow_warnings: bool = False,
             warning_hint: Callable[[str], str | None] | None = None,
             raise_hint: Callable[[Exception], str | None] | None = None, **kwargs) -> Any:
        """Call ``fn(*args, **kwargs)`` safely; ``desc`` is how the call is shown to the learner.

        ``expected`` (the reference result, optional) is shown when the call itself goes wrong.
        ``warning_hint(message)`` and ``raise_hint(error)``, when given, choose the hint from what
        actually happened (a hint names a cause only when the check has established it); they
        fall back to ``hint`` when they return None.
        """
        want = None if expected is None else describe(expected)
        snapshots = [_snapshot(a) for a in args]
        with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            warnings.simplefilter("always")
            try:
                result = timed_call(fn, args, kwargs, self.time_limit_s)
            except _TimeLimit:
                self.fail(f"your code did not finish within {self.time_limit_s:g} s.", tried=desc,
                          expected=want, hint="look for a loop that never ends, or work that grows too fast"
                               " with the input size.")
            except NotImplementedError as err:
                if STUB_MARKER in str(err):
                    raise ExerciseNotAttempted(
                        self.exercise_id,
                        f"Exercise {self.exercise_id} not attempted yet: replace the line "
                        "`raise NotImplementedError(...)` with your code, run that cell, then this one.",
                    ) from None
                self._raised(err, desc, want, hint)
            except Exception as err:  # the learner's code may raise anything
                self._raised(err, desc, want, (raise_hint and raise_hint(err)) or hint)
        problems = [w for w in caught if issubclass(w.category, RuntimeWarning)]
        if problems and not allow_warnings:
            self.fail("your code emitted a warning.", tried=desc, expected=want and f"{want}, without a warning",
                      got=f"{describe(result)}, with RuntimeWarning: {_short(problems[0].message, 100)}",
                      hint=(warning_hint and warning_hint(str(problems[0].message))) or hint)
        for arg, before in zip(args, snapshots):
            if before is not None and not _unchanged(before, arg):
                self.fail("your code modified its input in place.", tried=desc,
                          hint="compute a new result instead of writing into the input "
                               "(avoid `x[...] = ...`, `x.clamp_()`, `out=x` and other in-place operations).")
        return result

    def _raised(self, err: Exception, desc: str, want: str | None, hint: str | None) -> None:
        self.fail("your code raised an error.", tried=desc, expected=want,
                  got=f"{type(err).__name__}: {_short(err, 200)}", where=learner_line(err), hint=hint)

    # -- comparing results -------------------------------------------------------------------
    def expect_array(self, got: Any, expected: Any, *, desc: str, rtol: float = 1e-6,
                     atol: float = 1e-12, hint: str | None = None, check_dtype: bool = True) -> None:
        """Compare an array result with the reference, in type, shape, dtype and values (NaN == NaN)."""
        want_torch = isinstance(expected, torch.Tensor)
        kind = "torch.Tensor" if want_torch else "numpy.ndarray"
        if not want_torch and isinstance(got, np.generic) and np.ndim(expected) == 0:
            got = np.asarray(got)  # NumPy turns 0-d results into scalars; that is still correct
        if not isinstance(got, torch.Tensor if want_torch else np.ndarray):
            self.fail(f"expected a {kind}, but your code returned {type_name(got)}.", tried=desc,
                      expected=describe(expected), got=describe(got),
                      hint=f"return a {kind}; convert with "
                           + ("torch.as_tensor(...)." if want_torch else "np.asarray(...), or use NumPy "
                              "operations on the whole array instead of a Python loop."))
        if tuple(got.shape) != tuple(expected.shape):
            self.fail("the result has the wrong shape.", tried=desc,
                      expected=f"shape {tuple(expected.shape)}", got=f"shape {tuple(got.shape)}",
                      hint=hint or "an elementwise function returns one value per input element.")
        if check_dtype and got.dtype != expected.dtype:
            self.fail("the result has the wrong dtype.", tried=desc,
                      expected=f"dtype {expected.dtype}", got=f"dtype {got.dtype}",
                      hint=dtype_hint(got.dtype, expected.dtype))
        if want_torch and got.device != expected.device:
            self.fail("the result is on the wrong device.", tried=desc,
                      expected=str(expected.device), got=str(got.device))
        g, e = _values(got), _values(expected)
        close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True) & (np.isnan(g) == np.isnan(e))
        close |= (g == e)  # equal infinities
        if not close.all():
            bad = tuple(int(i) for i in np.argwhere(~close)[0])
            where = f" at index {bad}" if g.ndim else ""
            self.fail(f"wrong value{where}.", tried=desc,
                      expected=describe(expected) if e.size <= 8 else repr(float(e[bad])),
                      got=describe(got) if g.size <= 8 else repr(float(g[bad])), hint=hint)
        self.ok()

    def expect_number(self, got: Any, expected: float, *, desc: str, rtol: float = 1e-6,
                      atol: float = 0.0, hint: str | None = None) -> float:
        """Compare a single number; accepts Python, NumPy and 0-d/1-element torch numbers."""
        value = as_real(got)  # Python, NumPy, exact (Fraction) and 0-d/1-element torch numbers
        if value is None:
            self.fail(f"expected a number, but your code returned {type_name(got)}.", tried=desc,
                      expected=repr(expected), got=describe(got), hint=hint)
        if not (math.isclose(value, expected, rel_tol=rtol, abs_tol=atol)
                or (math.isnan(value) and math.isnan(expected))):
            shown = repr(int(value)) if isinstance(got, (int, np.integer)) and not isinstance(got, bool) else repr(value)
            self.fail("wrong value.", tried=desc, expected=repr(expected), got=shown, hint=hint)
        self.ok()
        return value
