"""relucourse: the shared helper package of the hands-on ReLU course.

- ``relucourse.checks``  graded checks, ``check("N.M", answer)``
- ``relucourse.grading`` the learner's progress report (``make grade``), a pytest/nbval plugin
- ``relucourse.release`` generates ``exercises/`` from ``solutions/`` (``--check`` for CI)
- ``relucourse.execute`` runs notebooks in place and reports their run time
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
