"""The course's pytest plugin, enabled in pyproject.toml (``-p relucourse.tooling.pytest_plugin``).

* Strict checks: it sets ``RELUCOURSE_STRICT=1`` before any kernel starts, so that a failing
  ``check(...)`` in a notebook fails its cell under nbval (in a learner's session it only shows).
* Notebook times: it sums the setup, call and teardown time of every cell of a notebook (the
  kernel's start included), prints a table at the end of the run, and turns a green run red when a
  notebook exceeds ``CEILING_S``.
* Summary lines: a test that records a property named ``course_summary`` (pytest's
  ``record_property``; it crosses xdist's worker processes) has its lines printed at the end of
  the run (the browser test's accessibility audit).
* Kernel starts: a notebook's kernel that dies before it answers is started again
  (``execute.retry_nbval_kernel_starts``).
"""

from __future__ import annotations

import os
from collections import defaultdict

from .checks import STRICT_ENV
from .execute import BUDGET_S, CEILING_S, retry_nbval_kernel_starts

_seconds: dict[str, float] = defaultdict(float)
_summary_lines: list[str] = []


def pytest_configure(config) -> None:
    os.environ[STRICT_ENV] = "1"  # inherited by the kernels nbval starts
    retry_nbval_kernel_starts()


def pytest_runtest_logreport(report) -> None:
    if getattr(report, "when", None) == "call":
        _summary_lines.extend(value for key, value in getattr(report, "user_properties", ())
                              if key == "course_summary")
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def over_ceiling() -> list[str]:
    return [path for path, s in _seconds.items() if s > CEILING_S]


def pytest_terminal_summary(terminalreporter) -> None:
    if _summary_lines:
        terminalreporter.section("book audit")
        for line in _summary_lines:
            terminalreporter.write_line(line)
    if not _seconds:
        return
    tr = terminalreporter
    tr.section("notebook execution times (nbval)")
    for path, s in sorted(_seconds.items()):
        flag = "" if s <= BUDGET_S else (" over the budget" if s <= CEILING_S else " OVER THE CEILING")
        tr.write_line(f"{s:6.1f} s  {path}{flag}")
    tr.write_line(f"budget {BUDGET_S:g} s per notebook, hard ceiling {CEILING_S:g} s")


def pytest_sessionfinish(session, exitstatus) -> None:
    if over_ceiling() and session.exitstatus == 0:
        session.exitstatus = 1
