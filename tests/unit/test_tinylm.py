"""relucourse.tinylm: the frozen text is the same under every Python, training side by side matches a single run."""

import math

import torch

from relucourse import tinylm, variants


def test_tinylm_text_and_training():
    text = tinylm.load_text(20_000)
    assert len(text) == 20_000 and text == tinylm.load_text(20_000)
    data, vocab = tinylm.encode(text)
    assert data.max() < len(vocab) and vocab[-1] == "<rare>"
    losses, models = tinylm.train_lms(data, len(vocab), "swiglu", [(3e-3, 0), (3e-3, 1)], steps=5,
                                      d_model=16, d_ff=48, val_windows=128)
    alone, _ = tinylm.train_lms(data, len(vocab), "swiglu", [(3e-3, 1)], steps=5, d_model=16, d_ff=48,
                                val_windows=128)
    assert math.isclose(losses[1], alone[0], rel_tol=1e-5)
    assert all(math.log(len(vocab)) * 0.5 < v < math.log(len(vocab)) * 1.5 for v in losses)
    xv, _ = tinylm.windows(data, torch.arange(0, 1000, 10), 8)
    h = tinylm.ffn_hidden(models[0], xv)
    assert h.shape == (100, variants.matched_hidden(48))
    relu_model = tinylm.NgramLM(len(vocab), d_model=16, d_ff=48, kind="relu")
    assert (tinylm.ffn_hidden(relu_model, xv) == 0).any()


def test_text_is_frozen_package_data():
    """The text is read from the package (not from the running Python's pydoc_data), so every
    supported Python sees the same characters: the file's hash, its length and its vocabulary."""
    import hashlib

    assert tinylm.TEXT_PATH.is_file() and tinylm.TEXT_PATH.stat().st_size < 300_000
    raw = tinylm.TEXT_PATH.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == tinylm.TEXT_SHA256
    assert b"\r" not in raw
    text = tinylm.load_text()
    assert len(text) == 200_000
    _, vocab = tinylm.encode(text)
    assert len(vocab) == 86
    import inspect
    assert "pydoc_data" not in inspect.getsource(tinylm.load_text)
