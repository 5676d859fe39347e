"""ReLU's variants: a gallery of activations, their properties measured by code, and the pieces
chapter 5 builds on (SELU's constants, signal propagation, gated feed-forward blocks, a bake-off).

Everything here is deterministic: expectations over N(0, 1) use quadrature on a fixed grid, not
random samples, and every experiment takes a seed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import bench
from .sidebyside import SideBySide

aten = torch.ops.aten

# ---------------------------------------------------------------------------------------------
# The gallery
# ---------------------------------------------------------------------------------------------

#: PReLU's initial slope (He et al. 2015) and RReLU's default range (PyTorch).
PRELU_INIT = 0.25
RRELU_LOWER, RRELU_UPPER = 1 / 8, 1 / 3


def relu_squared(x: torch.Tensor) -> torch.Tensor:
    """Squared ReLU, max(0, x)^2 (So et al., Primer)."""
    return F.relu(x).square()


def swish(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Swish, x * sigmoid(beta x): beta = 1 is SiLU, beta -> 0 gives x / 2, beta -> inf gives ReLU."""
    return x * torch.sigmoid(beta * x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def prelu_fixed(x: torch.Tensor) -> torch.Tensor:
    """PReLU at its initial slope 0.25 (the slope is learned in a network)."""
    return F.prelu(x, torch.tensor([PRELU_INIT], dtype=x.dtype))


def rrelu_eval(x: torch.Tensor) -> torch.Tensor:
    """RReLU in evaluation mode: the fixed slope (lower + upper) / 2."""
    return F.rrelu(x, RRELU_LOWER, RRELU_UPPER, training=False)


#: name -> function of a tensor; the chapter's gallery, in the order it shows them.
GALLERY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,           # slope 0.01
    "prelu": prelu_fixed,                 # slope 0.25, at initialisation
    "rrelu": rrelu_eval,                  # slope 11/48, at evaluation
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "gelu_tanh": gelu_tanh,
    "silu": F.silu,
    "mish": F.mish,
    "softplus": F.softplus,
    "relu6": F.relu6,
    "hardswish": F.hardswish,
    "relu_squared": relu_squared,
}

#: One forward kernel per gallery entry, writing into a preallocated output ``y`` (the
#: course's benchmark convention: no timed call allocates). Where bench.KERNELS has the
#: activation we use its kernel; the others call the ``out=`` form of their ATen kernel.
#: Squared ReLU has none: it runs two passes (clamp, then an in-place square).
FORWARD_KERNELS: dict[str, Callable[[torch.Tensor, torch.Tensor], object]] = {
    **{name: bench.KERNELS[name][0] for name in GALLERY if name in bench.KERNELS},
    "prelu": lambda x, y: aten.leaky_relu(x, PRELU_INIT, out=y),
    "rrelu": lambda x, y: aten.leaky_relu(x, (RRELU_LOWER + RRELU_UPPER) / 2, out=y),
    "gelu_tanh": lambda x, y: aten.gelu(x, approximate="tanh", out=y),
    "mish": lambda x, y: aten.mish(x, out=y),
    "relu6": lambda x, y: aten.hardtanh(x, 0.0, 6.0, out=y),
    "hardswish": lambda x, y: aten.hardswish(x, out=y),
    "relu_squared": lambda x, y: torch.clamp_min(x, 0, out=y).mul_(y),
}


def value_and_slope(fn: Callable, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and f'(x) from autograd (float64 unless x says otherwise)."""
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), g.detach()


# ---------------------------------------------------------------------------------------------
# Expectations over a standard normal input, by quadrature
# ---------------------------------------------------------------------------------------------

def normal_expectation(fn: Callable, points: int = 200_001, limit: float = 12.0,
                       mean: float = 0.0, std: float = 1.0) -> float:
    """E[fn(z)] for z ~ N(mean, std^2), by Simpson's rule on [mean - limit std, mean + limit std]."""
    if points % 2 == 0:
        points += 1
    t = torch.linspace(-limit, limit, points, dtype=torch.float64)
    z = mean + std * t
    density = torch.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
    w = torch.ones(points, dtype=torch.float64)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    h = (t[1] - t[0]).item()
    values = fn(z).to(torch.float64)
    return float((w * values * density).sum() * h / 3)


# ---------------------------------------------------------------------------------------------
# The properties table
# ---------------------------------------------------------------------------------------------

@dataclass
class Properties:
    name: str
    bounded_below: bool
    monotonic: bool
    smooth: bool
    f0: float
    slope0: float
    mean: float
    cost_pct: float | None = None


def properties(name: str, fn: Callable) -> Properties:
    """Measure one activation's properties numerically (float64, autograd slopes).

    * bounded below: f stays above -10 from x = -1e4 to 0 (ReLU-like functions stay >= -2);
    * monotonic: f' >= -1e-12 on a fine grid over [-20, 20];
    * smooth (continuously differentiable): no jump in f' larger than 1e-3 between neighbouring
      points 1e-7 apart around every grid point where the slope changes fastest, incl. 0;
    * f(0), f'(0) (autograd's value at a kink), and E[f(z)] for z ~ N(0, 1).
    """
    x = torch.linspace(-20, 20, 40_001, dtype=torch.float64)
    y, g = value_and_slope(fn, x)
    far = torch.tensor([-1e4, -1e3, -100.0], dtype=torch.float64)
    bounded = bool(torch.cat([fn(far), y[x <= 0]]).min() > -10)
    monotonic = bool((g >= -1e-12).all())
    # candidates for kinks: where the slope changes most between grid points, and 0
    change = (g[1:] - g[:-1]).abs()
    spots = torch.cat([x[:-1][change.topk(8).indices], torch.tensor([0.0, 3.0, -3.0, 6.0],
                                                                    dtype=torch.float64)])
    smooth = True
    for s in spots.tolist():
        near = torch.tensor([s - 1e-7, s + 1e-7], dtype=torch.float64)
        _, gn = value_and_slope(fn, near)
        if abs(gn[1] - gn[0]) > 1e-3:
            smooth = False
    zero = torch.zeros(1, dtype=torch.float64)
    f0, s0 = value_and_slope(fn, zero)
    return Properties(name, bounded, monotonic, smooth, float(f0), float(s0), normal_expectation(fn))


def forward_cost(names: list[str], size: int = 2**20, repeats: int = 7, warmup: int = 2,
                 dtype: torch.dtype = torch.float32, device: str = "cpu") -> dict[str, float]:
    """Forward bandwidth of each gallery activation as a % of a memory copy's, on this machine.

    Uses the course benchmark's timer (:func:`relucourse.bench.time_it`) and conventions:
    preallocated outputs, warm-up, interleaved rounds (copy, then each activation in turn), the
    median over rounds. Squared ReLU is timed as its two passes. Returns name -> percent.
    """
    device = torch.device(device)
    sync = bench.synchronizer(device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(size, generator=gen).to(device=device, dtype=dtype)
    y = torch.empty_like(x)
    jobs = {"copy": lambda: y.copy_(x)}
    for name in names:
        jobs[name] = lambda k=FORWARD_KERNELS[name]: k(x, y)
    for fn in jobs.values():
        bench.time_it(fn, warmup=warmup, repeats=1, sync=sync)
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(repeats):
        for k, fn in jobs.items():
            times[k].append(bench.time_it(fn, warmup=0, repeats=1, sync=sync))
    copy = statistics.median(times["copy"])
    return {k: 100 * copy / statistics.median(t) for k, t in times.items() if k != "copy"}


def properties_table(names: list[str] | None = None, cost: dict[str, float] | None = None
                     ) -> list[Properties]:
    rows = []
    for name in names or list(GALLERY):
        row = properties(name, GALLERY[name])
        if cost is not None:
            row.cost_pct = cost.get(name)
        rows.append(row)
    return rows


def format_properties(rows: list[Properties], with_cost: bool = True) -> str:
    """The table as text, at most 68 characters wide."""
    yes = {True: "yes", False: "no"}
    slope = "f'(0)"
    head = f"{'activation':<12} {'bnd':>3} {'mono':>4} {'C1':>3} {'f(0)':>5} {slope:>6} {'E[f(z)]':>8}"
    if with_cost:
        head += f" {'cost':>6}"
    lines = [head]
    for r in rows:
        line = (f"{r.name:<12} {yes[r.bounded_below]:>3} {yes[r.monotonic]:>4} {yes[r.smooth]:>3} "
                f"{r.f0:5.2f} {r.slope0:6.3f} {r.mean:8.4f}")
        if with_cost:
            line += "      -" if r.cost_pct is None else f" {r.cost_pct:5.0f}%"
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# SELU: the constants from the fixed-point conditions, and signal propagation
# ---------------------------------------------------------------------------------------------

def _phi(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


def selu_constants(q: float = 1.0) -> tuple[float, float]:
    """(alpha, lambda) such that z ~ N(0, q) gives E[selu(z)] = 0 and E[selu(z)^2] = q.

    For q = 1 these are Klambauer et al.'s constants. With s = sqrt(q), for z ~ N(0, q):
    E[z; z > 0] = s / sqrt(2 pi), E[e^z; z <= 0] = e^{q/2} Phi(-s), P(z <= 0) = 1/2,
    E[z^2; z > 0] = q / 2, E[e^{2z}; z <= 0] = e^{2q} Phi(-2s).
    The mean condition fixes alpha; the second-moment condition then fixes lambda.
    """
    if not q > 0:
        raise ValueError("q must be positive")
    s = math.sqrt(q)
    pos_mean = s / math.sqrt(2 * math.pi)
    e1 = math.exp(q / 2) * _phi(-s)           # E[e^z; z <= 0]
    e2 = math.exp(2 * q) * _phi(-2 * s)       # E[e^{2z}; z <= 0]
    alpha = pos_mean / (0.5 - e1)
    neg_sq = e2 - 2 * e1 + 0.5                # E[(e^z - 1)^2; z <= 0]
    lam = math.sqrt(q / (q / 2 + alpha ** 2 * neg_sq))
    return alpha, lam


def selu_constants_numeric(q: float = 1.0, tol: float = 1e-13) -> tuple[float, float]:
    """The same constants found the numerical way: quadrature for the expectations and bisection
    on alpha for the mean condition, then lambda from the second moment."""
    s = math.sqrt(q)

    def e(fn):
        return normal_expectation(fn, std=s)

    pos = e(lambda z: torch.where(z > 0, z, torch.zeros_like(z)))
    neg = e(lambda z: torch.where(z <= 0, torch.expm1(z.clamp(max=0)), torch.zeros_like(z)))
    lo, hi = 0.0, 10.0                        # mean(alpha) = pos + alpha * neg decreases in alpha
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pos + mid * neg > 0 else (lo, mid)
    alpha = (lo + hi) / 2
    second = e(lambda z: torch.where(z > 0, z * z, (alpha * torch.expm1(z.clamp(max=0))) ** 2))
    return alpha, math.sqrt(q / second)


def init_linear(model: nn.Module, scheme: str) -> nn.Module:
    """Every nn.Linear: "lecun" (std 1/sqrt(fan_in)) or "he" (std sqrt(2/fan_in)), biases 0."""
    gains = {"lecun": 1.0, "he": 2.0}
    for m in model.modules():
        if isinstance(m, nn.Linear):
            with torch.no_grad():
                m.weight.normal_(0.0, math.sqrt(gains[scheme] / m.in_features))
                if m.bias is not None:
                    m.bias.zero_()
    return model


def deep_net(activation: str, depth: int = 50, width: int = 256, dropout: str | None = None,
             p: float = 0.1) -> nn.Sequential:
    """depth x (Linear(width, width), activation[, dropout]); dropout is "plain" or "alpha"."""
    acts = {"selu": nn.SELU, "relu": nn.ReLU, "tanh": nn.Tanh}
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), acts[activation]()]
        if dropout == "plain":
            layers.append(nn.Dropout(p))
        elif dropout == "alpha":
            layers.append(nn.AlphaDropout(p))
    return nn.Sequential(*layers)


@torch.no_grad()
def propagate(model: nn.Sequential, n: int = 512, seed: int = 0, shift: float = 0.0,
              scale: float = 1.0, train: bool = False) -> tuple[list[float], list[float]]:
    """Mean and variance of the activations after each activation (or dropout) layer.

    The input is N(shift, scale^2), shape (n, width); ``train=True`` keeps dropout active.
    """
    gen = torch.Generator().manual_seed(seed)
    width = next(m for m in model if isinstance(m, nn.Linear)).in_features
    h = shift + scale * torch.randn(n, width, generator=gen)
    model.train(train)
    means, variances = [], []
    blocks = list(model)
    for i, m in enumerate(blocks):
        if train and isinstance(m, (nn.Dropout, nn.AlphaDropout)):
            torch.manual_seed(seed * 1000 + i)
        h = m(h)
        last_of_block = i + 1 == len(blocks) or isinstance(blocks[i + 1], nn.Linear)
        if last_of_block:
            means.append(h.mean().item())
            variances.append(h.var().item())
    model.eval()
    return means, variances


# ---------------------------------------------------------------------------------------------
# GELU and Swish
# ---------------------------------------------------------------------------------------------

def gelu_exact(x: torch.Tensor) -> torch.Tensor:
    """x * Phi(x), with Phi the standard normal CDF."""
    return x * 0.5 * torch.erfc(-x / math.sqrt(2))


def gelu_tanh_formula(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


# ---------------------------------------------------------------------------------------------
# Gated feed-forward blocks
# ---------------------------------------------------------------------------------------------

GATES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "glu": torch.sigmoid, "reglu": F.relu, "geglu": F.gelu, "swiglu": F.silu,
}
PLAIN: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu, "gelu": F.gelu, "silu": F.silu, "relu_squared": relu_squared,
}


def matched_hidden(d_ff: int) -> int:
    """Hidden size of a gated FFN with as many weights as a plain FFN of hidden size d_ff.

    A plain bias-free FFN has 2 d d_ff weights, a gated one 3 d h; equal when h = 2 d_ff / 3.
    """
    return round(2 * d_ff / 3)


class FFN(nn.Module):
    """A bias-free transformer feed-forward block: plain W2 f(W1 x), or gated W2 (g(W1 x) * W3 x)."""

    def __init__(self, d_model: int, hidden: int, kind: str = "relu"):
        super().__init__()
        if kind not in GATES and kind not in PLAIN:
            raise ValueError(f"unknown kind {kind!r}")
        self.kind = kind
        self.w1 = nn.Linear(d_model, hidden, bias=False)
        self.w2 = nn.Linear(hidden, d_model, bias=False)
        self.w3 = nn.Linear(d_model, hidden, bias=False) if kind in GATES else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.w3 is None:
            return self.w2(PLAIN[self.kind](self.w1(x)))
        return self.w2(GATES[self.kind](self.w1(x)) * self.w3(x))


def ffn_for(kind: str, d_model: int, d_ff: int) -> FFN:
    """A block of ``kind`` with the weight count of a plain FFN of hidden size ``d_ff``."""
    return FFN(d_model, matched_hidden(d_ff) if kind in GATES else d_ff, kind)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# PReLU slopes and weight decay
# ---------------------------------------------------------------------------------------------

def prelu_slopes(model: nn.Module) -> list[float]:
    """Mean learned slope of every nn.PReLU in model.modules() order."""
    return [m.weight.detach().mean().item() for m in model.modules() if isinstance(m, nn.PReLU)]


def param_groups_no_decay_on_slopes(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimizer parameter groups: weight decay on everything except PReLU slopes."""
    slopes = {id(m.weight) for m in model.modules() if isinstance(m, nn.PReLU)}
    decay = [p for p in model.parameters() if id(p) not in slopes]
    no_decay = [p for p in model.parameters() if id(p) in slopes]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 digits: three 3x3 conv layers (padding 1), each followed by an
    activation module from ``make_act(channels)``; max-pooling after the 2nd; then a linear head."""

    def __init__(self, make_act: Callable[[int], nn.Module], channels=(8, 16, 16)):
        super().__init__()
        c1, c2, c3 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), make_act(c1),
            nn.Conv2d(c1, c2, 3, padding=1), make_act(c2),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), make_act(c3),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.reshape(-1, 1, 8, 8)))


def _cnn_stacked_forward(sbs: SideBySide, x: torch.Tensor) -> torch.Tensor:
    """DigitsCNN members with channel-wise PReLU on x of shape (members, batch, 64), as grouped
    convolutions: member s owns channel group s."""
    S, B = x.shape[:2]
    h = x.permute(1, 0, 2).reshape(B, S, 8, 8)
    for conv, act in [("body.0", "body.1"), ("body.2", "body.3"), ("body.5", "body.6")]:
        w = sbs[f"{conv}.weight"]                                      # (S, out, in, 3, 3)
        h = F.conv2d(h, w.flatten(0, 1), sbs[f"{conv}.bias"].flatten(), padding=1, groups=S)
        h = F.prelu(h, sbs[f"{act}.weight"].flatten())
        if conv == "body.2":
            h = F.max_pool2d(h, 2)
    h = h.mean((2, 3)).view(B, S, -1).transpose(0, 1)                 # (S, B, c3)
    return torch.baddbmm(sbs["head.bias"][:, None], h, sbs["head.weight"].transpose(1, 2))


def train_prelu_cnns(X: torch.Tensor, y: torch.Tensor, seeds: list[int], epochs: int = 10,
                     lr: float = 1e-2, batch: int = 128) -> list[nn.Module]:
    """Train one DigitsCNN with channel-wise PReLU (slopes start at 0.25) per seed, with Adam and
    no weight decay, side by side (:mod:`relucourse.sidebyside`); return the trained models."""
    members = []
    for seed in seeds:
        torch.manual_seed(seed)
        members.append(DigitsCNN(lambda c: nn.PReLU(c, init=PRELU_INIT)))
    sbs = SideBySide(members, [lr] * len(seeds))
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    for _ in range(epochs):
        orders = torch.stack([torch.randperm(len(X), generator=g) for g in gens])
        for start in range(0, len(X), batch):
            idx = orders[:, start:start + batch]
            logits = _cnn_stacked_forward(sbs, X[idx])
            loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="none")
            sbs.step(loss.view(len(seeds), -1).mean(1))
    return [m.eval() for m in sbs.write_back()]


def train_prelu_cnn(X: torch.Tensor, y: torch.Tensor, seed: int, epochs: int = 10,
                    lr: float = 1e-2, batch: int = 128, weight_decay: float = 0.0,
                    decay_slopes: bool = False) -> nn.Module:
    """Train one DigitsCNN with channel-wise PReLU with AdamW (weight decay on the slopes only if
    ``decay_slopes``); the plain version of :func:`train_prelu_cnns`."""
    torch.manual_seed(seed)
    model = DigitsCNN(lambda c: nn.PReLU(c, init=PRELU_INIT))
    if decay_slopes:
        groups = [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    else:
        groups = param_groups_no_decay_on_slopes(model, weight_decay)
    opt = torch.optim.AdamW(groups, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


#: He et al. (2015), Table 1 as quoted in the course notes: learned PReLU slopes of their
#: 14-layer model, (channel-shared, channel-wise) per layer.
HE2015_SLOPES = {
    "conv1": (0.681, 0.596), "conv2_1": (0.103, 0.321), "conv2_2": (0.099, 0.204),
    "conv2_3": (0.228, 0.294), "conv2_4 (pool)": (0.561, 0.464), "conv3_1": (0.126, 0.196),
    "conv3_2": (0.089, 0.152),
}


# ---------------------------------------------------------------------------------------------
# A bake-off on the digits
# ---------------------------------------------------------------------------------------------

BAKEOFF_ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "selu": nn.SELU,
    "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish,
}


def bakeoff_mlp(act: str, n_in: int = 64, depth: int = 4, width: int = 64, seed: int = 0) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` with ``act``; LeCun-normal init for SELU, He otherwise."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    sizes = [n_in] + [width] * depth
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), BAKEOFF_ACTS[act]()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    return init_linear(model, "lecun" if act == "selu" else "he")


def stacked_forward(sbs: SideBySide, x: torch.Tensor) -> torch.Tensor:
    """Run the members of ``sbs`` (MLPs of the same shape) on x of shape (members, batch, in)."""
    for i, layer in enumerate(sbs.members[0]):
        if isinstance(layer, nn.Linear):
            x = torch.baddbmm(sbs[f"{i}.bias"][:, None], x, sbs[f"{i}.weight"].transpose(1, 2))
        else:
            x = layer(x)      # a parameter-free activation, the same for every member
    return x


def train_side_by_side(act: str, runs: list[tuple[float, int]], X: torch.Tensor, y: torch.Tensor,
                       X_val: torch.Tensor, y_val: torch.Tensor, epochs: int = 5, batch: int = 256,
                       **shape) -> list[tuple[float, float]]:
    """Train one bake-off MLP per (learning rate, seed) in ``runs`` with Adam, side by side
    (:mod:`relucourse.sidebyside`: the same result as one after the other, faster).

    Each run has its own initialisation (its seed), its own data order (its seed) and its own
    learning rate. Returns (validation cross-entropy, validation accuracy) per run.
    """
    members = [bakeoff_mlp(act, X.shape[1], seed=seed, **shape) for _, seed in runs]
    sbs = SideBySide(members, [lr for lr, _ in runs])
    gens = [torch.Generator().manual_seed(seed) for _, seed in runs]
    for _ in range(epochs):
        orders = torch.stack([torch.randperm(len(X), generator=g) for g in gens])
        for start in range(0, len(X), batch):
            idx = orders[:, start:start + batch]                       # (S, B)
            logits = stacked_forward(sbs, X[idx])
            loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="none")
            sbs.step(loss.view(len(runs), -1).mean(1))                 # each member: its own mean
    out = []
    with torch.no_grad():
        for m in sbs.write_back():
            logits = m.eval()(X_val)
            out.append((F.cross_entropy(logits, y_val).item(),
                        (logits.argmax(1) == y_val).float().mean().item()))
    return out


def bakeoff(act: str, X: torch.Tensor, y: torch.Tensor, X_val: torch.Tensor, y_val: torch.Tensor,
            lrs=(3e-3, 1e-2, 3e-2), tune_seeds=(100, 101), seeds=(0, 1, 2, 3, 4), **kw) -> dict:
    """Tune the learning rate on ``tune_seeds`` (mean validation loss), then report ``seeds``.

    The tuning runs use the validation split too, but seeds disjoint from the reported ones, so
    the reported numbers are not the lucky draws that picked the learning rate.
    """
    tuning = train_side_by_side(act, [(lr, s) for lr in lrs for s in tune_seeds], X, y, X_val, y_val, **kw)
    k = len(tune_seeds)
    mean_loss = {lr: statistics.mean(t[0] for t in tuning[i * k:(i + 1) * k]) for i, lr in enumerate(lrs)}
    best = min(mean_loss, key=mean_loss.get)
    final = train_side_by_side(act, [(best, s) for s in seeds], X, y, X_val, y_val, **kw)
    return {"act": act, "lr": best, "tuning": mean_loss, "loss": [f[0] for f in final],
            "acc": [f[1] for f in final]}
