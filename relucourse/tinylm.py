"""A tiny character-level language model on a text that ships with the course (no download).

The text, ``relucourse/texts/pydoc_topics.txt``, is a frozen excerpt of CPython's help topics: the
first 200,000 characters of ``pydoc_data.topics`` of Python 3.11.7 (the texts behind ``help("if")``
and friends), joined in sorted-key order. Source: CPython, ``Lib/pydoc_data/topics.py``; licence:
the PSF License Agreement for Python (Python Software Foundation). It is frozen because that
module's text changes between Python versions (3.11, 3.12 and 3.13 differ), and the model's inputs
must be identical under every supported Python. SHA-256 of the file: :data:`TEXT_SHA256`.
The model is a neural n-gram model in the style of Bengio et al. (2003): the previous ``context``
characters are embedded, concatenated, projected to ``d_model``, passed through a residual
feed-forward block (the part whose activation we compare), then to next-character logits. It is
small enough to train in about a second on one CPU thread; it says nothing about large models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import hashlib
from pathlib import Path

from .sidebyside import SideBySide
from .variants import FFN, GATES, PLAIN, matched_hidden


TEXT_PATH = Path(__file__).resolve().parent / "texts" / "pydoc_topics.txt"
TEXT_SHA256 = "925a7bb3c71c35590f4c25bbb334a071d3b178402a1e0f77b774b987f478161a"


def load_text(chars: int = 200_000) -> str:
    """The first ``chars`` characters of the frozen help-topics text (identical on every Python).

    Read as bytes and decoded, so no platform's newline translation can change it.
    """
    data = TEXT_PATH.read_bytes()
    if hashlib.sha256(data).hexdigest() != TEXT_SHA256:
        raise RuntimeError(f"{TEXT_PATH} is not the course's text (its SHA-256 differs)")
    return data.decode("utf-8")[:chars]


def encode(text: str) -> tuple[torch.Tensor, list[str]]:
    """Characters -> indices; rare characters (< 20 occurrences) share one index."""
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    vocab = sorted(ch for ch, n in counts.items() if n >= 20) + ["<rare>"]
    index = {ch: i for i, ch in enumerate(vocab)}
    rare = len(vocab) - 1
    return torch.tensor([index.get(ch, rare) for ch in text], dtype=torch.long), vocab


class NgramLM(nn.Module):
    def __init__(self, vocab: int, context: int = 8, d_embed: int = 16, d_model: int = 64,
                 d_ff: int = 256, kind: str = "relu"):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_embed)
        self.proj = nn.Linear(context * d_embed, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.ffn = FFN(d_model, matched_hidden(d_ff) if kind in GATES else d_ff, kind)
        self.out = nn.Linear(d_model, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.proj(self.embed(idx).flatten(1))
        h = h + self.ffn(self.norm(h))
        return self.out(h)


def stacked_forward(sbs: SideBySide, idx: torch.Tensor) -> torch.Tensor:
    """The members of ``sbs`` (NgramLMs of one shape) on idx of shape (members, batch, context):
    each member's forward, with stacked weights and batched matrix products."""
    S = idx.shape[0]
    h = sbs["embed.weight"][torch.arange(S)[:, None, None], idx].flatten(2)   # (S, B, C*E)
    h = torch.baddbmm(sbs["proj.bias"][:, None], h, sbs["proj.weight"].transpose(1, 2))
    template = sbs.members[0]
    n = F.layer_norm(h, h.shape[-1:], eps=template.norm.eps)
    n = n * sbs["norm.weight"][:, None] + sbs["norm.bias"][:, None]
    a = torch.bmm(n, sbs["ffn.w1.weight"].transpose(1, 2))
    kind = template.ffn.kind
    if template.ffn.w3 is None:
        a = PLAIN[kind](a)
    else:
        a = GATES[kind](a) * torch.bmm(n, sbs["ffn.w3.weight"].transpose(1, 2))
    h = h + torch.bmm(a, sbs["ffn.w2.weight"].transpose(1, 2))
    return torch.baddbmm(sbs["out.bias"][:, None], h, sbs["out.weight"].transpose(1, 2))


@torch.no_grad()
def ffn_hidden(model: NgramLM, idx: torch.Tensor) -> torch.Tensor:
    """The FFN's hidden activations (what multiplies w2) for the inputs idx: (batch, hidden)."""
    h = model.proj(model.embed(idx).flatten(1))
    n = model.norm(h)
    ffn = model.ffn
    if ffn.w3 is None:
        return PLAIN[ffn.kind](ffn.w1(n))
    return GATES[ffn.kind](ffn.w1(n)) * ffn.w3(n)


def windows(data: torch.Tensor, starts: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (the ``context`` characters from each start) and targets (the next character)."""
    offsets = torch.arange(context)
    return data[starts[..., None] + offsets], data[starts + context]


def train_lms(data: torch.Tensor, vocab: int, kind: str, runs: list[tuple[float, int]],
              steps: int = 300, batch: int = 64, context: int = 8, d_model: int = 64,
              d_ff: int = 256, val_fraction: float = 0.1, val_windows: int = 4096
              ) -> tuple[list[float], list[NgramLM]]:
    """Train one model per (learning rate, seed) in ``runs`` with Adam, side by side
    (:mod:`relucourse.sidebyside`: the same result as one after the other, faster).

    Each run has its own initialisation and batches (its seed) and its own learning rate. The
    last ``val_fraction`` of the text is held out. Returns the validation loss of each run in
    nats per character (on ``val_windows`` fixed windows), and the trained models.
    """
    split = int(len(data) * (1 - val_fraction))
    train_data, val_data = data[:split], data[split:]
    members = []
    for _, seed in runs:
        torch.manual_seed(seed)
        members.append(NgramLM(vocab, context, d_model=d_model, d_ff=d_ff, kind=kind))
    sbs = SideBySide(members, [lr for lr, _ in runs])
    gens = [torch.Generator().manual_seed(seed) for _, seed in runs]
    for _ in range(steps):
        starts = torch.stack([torch.randint(0, len(train_data) - context, (batch,), generator=g)
                              for g in gens])
        xb, yb = windows(train_data, starts, context)
        logits = stacked_forward(sbs, xb)
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none")
        sbs.step(loss.view(len(runs), -1).mean(1))
    members = sbs.write_back()
    val_starts = torch.linspace(0, len(val_data) - context - 1, val_windows).long()
    xv, yv = windows(val_data, val_starts, context)
    with torch.no_grad():
        losses = [F.cross_entropy(m(xv), yv).item() for m in members]
    return losses, members


def compare(data: torch.Tensor, vocab: int, kinds=("relu", "swiglu"), lrs=(3e-3, 1e-2, 3e-2),
            tune_seeds=(100,), seeds=(0, 1, 2, 3, 4), **kw) -> dict[str, dict]:
    """Per kind: tune the learning rate on ``tune_seeds``, then train ``seeds`` at the best one."""
    out = {}
    for kind in kinds:
        tuning, _ = train_lms(data, vocab, kind, [(lr, s) for lr in lrs for s in tune_seeds], **kw)
        k = len(tune_seeds)
        by_lr = {lr: sum(tuning[i * k:(i + 1) * k]) / k for i, lr in enumerate(lrs)}
        best = min(by_lr, key=by_lr.get)
        losses, models = train_lms(data, vocab, kind, [(best, s) for s in seeds], **kw)
        out[kind] = {"lr": best, "tuning": by_lr, "loss": losses, "models": models,
                     "params": sum(p.numel() for p in models[0].parameters())}
    return out


# ---------------------------------------------------------------------------------------------
# The gating vs smoothness ablation (a stored study): python -m relucourse.tinylm gating
# ---------------------------------------------------------------------------------------------

#: Plain (ReLU, GELU, squared ReLU) and gated (ReGLU, SwiGLU) blocks: GELU changes only the
#: smoothness of ReLU, squared ReLU its shape, ReGLU adds only the multiplicative gate (its gate
#: is ReLU), SwiGLU adds the gate and a smooth activation.
GATING_KINDS = ("relu", "gelu", "relu_squared", "reglu", "swiglu")
GATING_SETTINGS = {"steps": 400, "d_model": 32, "d_ff": 128}


def tune_lr(data: torch.Tensor, vocab: int, kind: str, grid=(3e-3, 1e-2, 3e-2), seeds=None,
            factor: float = 3.0, max_extensions: int = 3, **kw) -> tuple[float, dict[float, float]]:
    """The learning rate with the lowest mean validation loss over the tuning seeds, where the
    validation text is the last 10 % of the *training* part (the reported validation text, the
    last 10 % of ``data``, is never seen). A best value on the grid's edge extends the grid."""
    from . import method

    seeds = method.TUNING_SEEDS if seeds is None else seeds
    train_part = data[:int(len(data) * 0.9)]
    scores: dict[float, float] = {}
    values = sorted(grid)
    for _ in range(max_extensions + 1):
        todo = [v for v in values if v not in scores]
        if todo:
            losses, _ = train_lms(train_part, vocab, kind, [(v, s) for v in todo for s in seeds], **kw)
            for i, v in enumerate(todo):
                chunk = losses[i * len(seeds):(i + 1) * len(seeds)]
                mean = sum(chunk) / len(chunk)
                scores[v] = mean if mean == mean else float("inf")
        best = min(values, key=scores.get)
        if best == values[0]:
            values = [best / factor] + values
        elif best == values[-1]:
            values = values + [best * factor]
        else:
            break
    return best, {v: scores[v] for v in sorted(scores)}


def gating_study(kinds=GATING_KINDS, seeds=range(10), settings=None) -> dict:
    """Per kind: tune the learning rate (:func:`tune_lr`), then train ``seeds`` at it and record the
    validation loss (nats per character) and the fraction of exact zeros in the FFN's hidden layer."""
    settings = dict(GATING_SETTINGS if settings is None else settings)
    data, vocab = encode(load_text())
    xv, _ = windows(data[-20_000:], torch.arange(0, 19_000, 19), context=8)
    out = {"settings": settings, "seeds": list(seeds), "vocab": len(vocab), "kinds": {}}
    for kind in kinds:
        lr, tuning = tune_lr(data, len(vocab), kind, **settings)
        losses, models = train_lms(data, len(vocab), kind, [(lr, s) for s in seeds], **settings)
        zeros = [(ffn_hidden(m, xv) == 0).float().mean().item() for m in models]
        out["kinds"][kind] = {"lr": lr, "tuning": {f"{k:g}": v for k, v in tuning.items()},
                              "loss": losses, "exact_zeros": zeros,
                              "params": sum(p.numel() for p in models[0].parameters())}
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    from . import method

    parser = argparse.ArgumentParser(description="Rerun chapter 5's tiny-LM study.")
    parser.add_argument("study", choices=["gating"])
    parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = gating_study()
    results["seconds"] = round(time.perf_counter() - start, 1)
    path = method.save_study("tinylm_gating", results, "python -m relucourse.tinylm gating")
    print(f"gating: {results['seconds']} s -> {path}")


if __name__ == "__main__":
    main()
