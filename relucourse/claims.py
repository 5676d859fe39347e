"""Claims checked on the reader's machine.

A *measured* cell (a training run, a timing: its digits depend on the CPU's instruction set, the
threads or chaos) carries the cell tag ``nbval-ignore-output``, so nbval does not compare its digits.
What the prose concludes from it is checked where the reader runs it, with one visible line::

    claim("most of layer 2 dies at lr 0.8", holds=dead > 0.5, measured=f"{dead:.0%} of layer 2 dead")
    # On this machine: 97% of layer 2 dead - the claim (most of layer 2 dies at lr 0.8) holds.

Under pytest, nbval, grading, CI and plain Python (the checks' strict mode) a claim that does not hold raises
:class:`ClaimNotHeld`, so the test suite fails; in a learner's Jupyter session it says so and the
notebook goes on. A claim that fails on some machine is a wrong claim: change the claim, not its band.
"""

from __future__ import annotations

import textwrap

from relucourse.tooling.checks import strict_mode

#: The width of the book's code area (relucourse.tooling.release.LINE_LIMIT): the line wraps there.
WIDTH = 69


class ClaimNotHeld(AssertionError):
    """A claim of the text did not hold on this machine."""


def claim(statement: str, holds: bool, measured: str) -> None:
    """Print whether ``statement`` holds for this machine's ``measured`` result (one wrapped line).

    Returns None, so that a cell ending with a claim shows only its line."""
    if holds:
        print(_wrap(f"On this machine: {measured} - the claim ({statement}) holds."))
        return
    line = f"On this machine: {measured} - the claim ({statement}) does NOT hold here."
    if strict_mode():
        raise ClaimNotHeld(line)
    print(_wrap(line + " Please tell the course authors (setup.md, 'Where to get help')."))


def _wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)
