"""relucourse: the shared helper package of the hands-on ReLU course.

Two halves:

- ``relucourse.tooling``: the book's machinery. ``checks`` (graded checks, ``check("N.M", answer)``),
  ``grading`` (the progress report, ``make grade``), ``release`` (generates ``exercises/`` from
  ``solutions/``), ``execute`` and ``pytest_plugin`` (notebook runs, their times, strict checks), ``sphinxext``.
- the lesson helpers, one module per topic, at this level:
- ``relucourse.data``, ``relucourse.train``, ``relucourse.plots``: datasets, a tiny training loop, the plot style
- ``relucourse.bench``   the activation-cost benchmark, ``python -m relucourse.bench``
- ``relucourse.measure``, ``relucourse.history``, ``relucourse.regions``: chapter-specific measurements
"""

import random

import numpy as np
import torch

__version__ = "0.1.0"


def set_seed(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's global random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
