"""Small datasets for the course: synthetic, or bundled with scikit-learn. Nothing is downloaded."""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

# scikit-learn is imported only where it makes a dataset (the two moons): its import, SciPy
# included, takes about 0.9 s, and every notebook kernel imports this module through the checks.

Split = tuple[torch.Tensor, torch.Tensor]


def _tensors(X: np.ndarray, y: np.ndarray) -> Split:
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def xor(n: int = 200, noise: float = 0.15, seed: int = 0) -> Split:
    """Four Gaussian blobs at (±1, ±1); the label is 1 where the signs differ (XOR)."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(n, 2))
    X = (2 * corners - 1) + noise * rng.normal(size=(n, 2))
    return _tensors(X, corners[:, 0] ^ corners[:, 1])


def moons(n: int = 400, noise: float = 0.15, seed: int = 0) -> Split:
    """scikit-learn's two interleaved half-moons."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _tensors(X, y)


def spirals(n: int = 400, turns: float = 1.5, noise: float = 0.05, seed: int = 0) -> Split:
    """Two interleaved spirals, one per class, scaled to about [-1, 1]^2."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t = np.sqrt(rng.uniform(0.05, 1.0, size=half)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * np.pi)
    X = np.concatenate([arm, -arm]) + noise * rng.normal(size=(2 * half, 2))
    y = np.concatenate([np.zeros(half, dtype=int), np.ones(half, dtype=int)])
    order = rng.permutation(2 * half)
    return _tensors(X[order], y[order])


@functools.lru_cache(maxsize=1)
def _digits_file() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-learn is not installed (pip install -r requirements.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits as (X, y): X of shape (1797, 64), pixels 0..16 as
    float64; y the labels 0..9. The same arrays as ``sklearn.datasets.load_digits(return_X_y=True)``,
    read from the file scikit-learn ships, without importing scikit-learn."""
    X, y = _digits_file()
    return X.copy(), y.copy()


def digits(test_fraction: float = 0.25, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """scikit-learn's 8x8 handwritten digits (1,797 images, bundled): X_train, y_train, X_test, y_test.

    Pixels are standardised with the training split's mean and standard deviation; X has 64 columns.
    """
    X, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    mean, std = X[train].mean(0), X[train].std(0) + 1e-6
    X = (X - mean) / std
    return (*_tensors(X[train], y[train]), *_tensors(X[test], y[test]))
