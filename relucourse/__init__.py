"""relucourse: the shared helper package of the hands-on ReLU course.

Two halves:

- ``relucourse.tooling``: the book's machinery. ``checks`` (graded checks, ``check("N.M", answer)``),
  ``grading`` (the progress report, ``make grade``), ``release`` (generates ``exercises/`` from
  ``solutions/``), ``execute`` and ``pytest_plugin`` (notebook runs, their times, strict checks), ``sphinxext``.
- the lesson helpers, one module per topic, at this level:
- ``relucourse.data``, ``relucourse.train``, ``relucourse.plots``: datasets, a tiny training loop, the plot style
- ``relucourse.bench``   the activation-cost benchmark, ``python -m relucourse.bench``
- ``relucourse.measure``, ``relucourse.history``, ``relucourse.regions``: chapter-specific measurements
- ``relucourse.method``   the one experiment method (validation tuning, paired differences, spreads, stored studies)
- ``relucourse.claims``   ``claim(...)``: a measured result's claim, checked on the reader's machine
"""

import os
import random

__version__ = "0.1.0"


def set_seed(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's global random number generators."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


#: Environment variable that overrides the thread count of the notebooks (``make test-portable``).
THREADS_ENV = "RELUCOURSE_THREADS"


def use_threads(default: int = 1) -> None:
    """Set PyTorch's intra-op threads: ``default`` (1: small models train fastest on one thread),
    unless the environment variable RELUCOURSE_THREADS names another count (``make test-portable``).
    Returns None, so that a cell ending with it shows nothing that depends on the count;
    ``torch.get_num_threads()`` tells the count."""
    value = os.environ.get(THREADS_ENV, "").strip()
    n = int(value) if value else default
    if n < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {value!r}")
    import torch  # here: the course's tools (the exercise generator...) start without it

    torch.set_num_threads(n)
