"""Linear regions of small ReLU networks: activation patterns and how many distinct ones appear.

Within one activation pattern (which ReLUs are active, i.e. have a positive pre-activation), a ReLU
network is an affine function of its input, so counting the distinct patterns met on a grid or a
line counts the linear pieces seen there.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def activation_patterns(net: nn.Sequential, X: torch.Tensor) -> torch.Tensor:
    """A boolean matrix, one row per input in ``X``: which ReLUs of ``net`` are active (pre-activation > 0).

    ``net`` is an ``nn.Sequential`` of layers and ``nn.ReLU`` modules; columns follow the units
    of the first ReLU, then the second, and so on.
    """
    columns = []
    h = X
    for layer in net:
        if isinstance(layer, nn.ReLU):
            columns.append(h > 0)
        h = layer(h)
    if not columns:
        return torch.zeros(len(X), 0, dtype=torch.bool)
    return torch.cat([c.reshape(len(X), -1) for c in columns], 1)


def pattern_ids(patterns: torch.Tensor) -> np.ndarray:
    """Number the distinct rows of a pattern matrix 0, 1, 2, ... (in order of first appearance)."""
    rows = patterns.cpu().numpy()
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # renumber by first appearance
    return order[inverse.ravel()]


def region_map(net: nn.Sequential, lo: float = -3.0, hi: float = 3.0, resolution: int = 300):
    """Activation-region ids of a 2-input net on a square grid: returns (xs, ys, ids of shape (res, res))."""
    xs = np.linspace(lo, hi, resolution)
    xx, yy = np.meshgrid(xs, xs)
    dtype = next(net.parameters()).dtype
    grid = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=dtype)
    ids = pattern_ids(activation_patterns(net, grid)).reshape(xx.shape)
    return xs, xs, ids


def count_regions_on_segment(net: nn.Sequential, a: torch.Tensor, b: torch.Tensor,
                             samples: int = 100_001) -> int:
    """Pieces of ``net`` along the segment from ``a`` to ``b``: 1 + the changes of activation pattern.

    Samples the segment at ``samples`` evenly spaced points; pieces narrower than the spacing may
    be missed, so the default is generous.
    """
    dtype = next(net.parameters()).dtype
    t = torch.linspace(0, 1, samples, dtype=dtype)[:, None]
    points = (1 - t) * a.to(dtype) + t * b.to(dtype)
    p = activation_patterns(net, points)
    return 1 + int((p[1:] != p[:-1]).any(1).sum())
