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


def selu_constants() -> tuple[float, float]:
    """(alpha, lambda) such that z ~ N(0, 1) gives E[selu(z)] = 0 and E[selu(z)^2] = 1:
    Klambauer et al.'s constants, from closed forms (exercise 5.4 generalises them to N(0, q)).

    For z ~ N(0, 1): E[z; z > 0] = 1 / sqrt(2 pi), E[e^z; z <= 0] = e^{1/2} Phi(-1),
    P(z <= 0) = 1/2, E[z^2; z > 0] = 1/2, E[e^{2z}; z <= 0] = e^2 Phi(-2).
    The mean condition fixes alpha; the second-moment condition then fixes lambda.
    """
    pos_mean = 1 / math.sqrt(2 * math.pi)
    e1 = math.exp(0.5) * _phi(-1.0)           # E[e^z; z <= 0]
    e2 = math.exp(2.0) * _phi(-2.0)           # E[e^{2z}; z <= 0]
    alpha = pos_mean / (0.5 - e1)
    neg_sq = e2 - 2 * e1 + 0.5                # E[(e^z - 1)^2; z <= 0]
    lam = math.sqrt(1 / (0.5 + alpha ** 2 * neg_sq))
    return alpha, lam


def selu_constants_numeric(tol: float = 1e-13) -> tuple[float, float]:
    """The same constants found the numerical way: quadrature for the expectations and bisection
    on alpha for the mean condition, then lambda from the second moment (z ~ N(0, 1))."""
    e = normal_expectation
    pos = e(lambda z: torch.where(z > 0, z, torch.zeros_like(z)))
    neg = e(lambda z: torch.where(z <= 0, torch.expm1(z.clamp(max=0)), torch.zeros_like(z)))
    lo, hi = 0.0, 10.0                        # mean(alpha) = pos + alpha * neg decreases in alpha
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pos + mid * neg > 0 else (lo, mid)
    alpha = (lo + hi) / 2
    second = e(lambda z: torch.where(z > 0, z * z, (alpha * torch.expm1(z.clamp(max=0))) ** 2))
    return alpha, math.sqrt(1 / second)


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

class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): the maximum of ``k`` consecutive inputs, so a layer
    Linear(n, k m) followed by Maxout(k) has m outputs, each the maximum of k affine pieces.
    Works on any number of leading dimensions."""

    def __init__(self, k: int = 2):
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (-1, self.k)).amax(-1)


BAKEOFF_ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "selu": nn.SELU,
    "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish, "maxout": lambda: Maxout(2),
}


def bakeoff_mlp(act: str, n_in: int = 64, depth: int = 4, width: int = 64, seed: int = 0) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` with ``act``; LeCun-normal init for SELU, He otherwise.

    Maxout's linear layers have twice the outputs (two pieces per unit): twice the weights."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    sizes = [n_in] + [width] * depth
    pieces = 2 if act == "maxout" else 1
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, pieces * b), BAKEOFF_ACTS[act]()]
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
                       return_models: bool = False, **shape):
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
    models = sbs.write_back()
    with torch.no_grad():
        for m in models:
            logits = m.eval()(X_val)
            out.append((F.cross_entropy(logits, y_val).item(),
                        (logits.argmax(1) == y_val).float().mean().item()))
    return (out, models) if return_models else out


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


# ---------------------------------------------------------------------------------------------
# Stored studies: python -m relucourse.variants {bakeoff,prelu,dying,all}
# ---------------------------------------------------------------------------------------------

#: The bake-off's protocol: Adam, batches of 256, a learning rate tuned per activation on a
#: validation split of the training set (method.tune), reported on the digits' held-out quarter.
BAKEOFF_GRID = (1e-3, 3e-3, 1e-2, 3e-2)
BAKEOFF_EPOCHS = 30
BAKEOFF_BATCH = 256
BAKEOFF_STUDY_ACTS = ("relu", "leaky_relu", "elu", "selu", "gelu", "silu", "maxout")


def optimizer_steps(rows: int, epochs: int, batch: int) -> int:
    """Optimizer steps of ``epochs`` passes over ``rows`` examples in batches of ``batch``."""
    return epochs * math.ceil(rows / batch)


@torch.no_grad()
def layer_diagnostics(model: nn.Sequential, X: torch.Tensor) -> dict[str, list[float]]:
    """Per hidden activation layer of a bake-off MLP, on inputs X: ``never_positive``, the fraction
    of units whose output is > 0 for no input (for ReLU: dead units; every activation of the
    bake-off is > 0 exactly where its input is), and ``std``, the standard deviation of the layer's
    outputs over inputs and units."""
    never, std = [], []
    h = X
    layers = list(model)
    for i, m in enumerate(layers):
        h = m(h)
        if not isinstance(m, nn.Linear):
            never.append(1.0 - (h > 0).any(0).float().mean().item())
            std.append(h.std().item())
    return {"never_positive": never, "std": std}


def bakeoff_study(acts=BAKEOFF_STUDY_ACTS, seeds=range(20), epochs: int = BAKEOFF_EPOCHS,
                  grid=BAKEOFF_GRID) -> dict:
    """The chapter's bake-off with the course's method: per activation, the learning rate is tuned
    on a validation split of the training set with the tuning seeds (method.tune, mean validation
    loss, grid extended past an edge); then ``seeds`` are trained on the whole training set at that
    rate and measured on the held-out split (loss, accuracy, per-layer diagnostics)."""
    from . import method
    from .data import digits

    X, y, X_test, y_test = digits()
    out = {"epochs": epochs, "batch": BAKEOFF_BATCH, "grid": list(grid), "seeds": list(seeds),
           "tuning_seeds": list(method.TUNING_SEEDS),
           "steps": optimizer_steps(len(X), epochs, BAKEOFF_BATCH), "acts": {}}
    for act in acts:
        def run(lr, seed, X_fit, y_fit, X_val, y_val, act=act):
            return train_side_by_side(act, [(lr, seed)], X_fit, y_fit, X_val, y_val,
                                      epochs=epochs, batch=BAKEOFF_BATCH)[0][0]
        tuned = method.tune(run, grid, X, y, maximize=False)
        final, models = train_side_by_side(act, [(tuned.best, s) for s in seeds], X, y, X_test,
                                           y_test, epochs=epochs, batch=BAKEOFF_BATCH,
                                           return_models=True)
        diag = [layer_diagnostics(m, X) for m in models]
        out["acts"][act] = {
            "lr": tuned.best, "tuning": {f"{k:g}": v for k, v in tuned.scores.items()},
            "extended": tuned.extended, "loss": [f[0] for f in final], "acc": [f[1] for f in final],
            "never_positive": [d["never_positive"] for d in diag], "std": [d["std"] for d in diag],
            "params": count_parameters(models[0])}
    return out


def prelu_study(seeds=range(10), epochs: int = 30) -> dict:
    """Learned PReLU slopes of the digits CNN, trained to convergence: Adam at lr 3e-3 and 1e-2
    (no weight decay), and AdamW (lr 3e-3, weight decay 1.0) with the slopes decayed or not."""
    from .data import digits

    X, y, X_test, y_test = digits()

    def measure(models):
        slopes = [prelu_slopes(m) for m in models]
        with torch.no_grad():
            acc = [(m(X_test).argmax(1) == y_test).float().mean().item() for m in models]
        return {"slopes": slopes, "acc": acc}

    out = {"epochs": epochs, "seeds": list(seeds)}
    for lr in (3e-3, 1e-2):
        out[f"adam lr {lr:g}"] = measure(train_prelu_cnns(X, y, list(seeds), epochs=epochs, lr=lr))
    for decay_slopes in (False, True):
        models = [train_prelu_cnn(X, y, s, epochs=epochs, lr=3e-3, weight_decay=1.0,
                                  decay_slopes=decay_slopes) for s in seeds]
        out[f"adamw wd 1, slopes {'decayed' if decay_slopes else 'not decayed'}"] = measure(models)
    return out


#: Chapter 4's two ways to kill ReLU units in the digits MLP (relucourse.dying.run_digits):
#: case A, SGD with momentum at learning rate 0.8; case B, a first-layer bias of -40 at lr 0.1.
DYING_CASES = {"A": {"lr": 0.8}, "B": {"lr": 0.1, "first_bias": -40.0}}


def dying_mlp(activation: str, first_bias: float | None = None) -> nn.Sequential:
    """Chapter 4's MLP (:func:`relucourse.dying.digits_mlp`, the same weights for the same global
    seed) with its ReLUs replaced by ``activation``: "relu", "elu" or "prelu" (one slope per unit,
    starting at 0.25)."""
    from .dying import digits_mlp

    model = digits_mlp(first_bias=first_bias)
    for i, m in enumerate(model):
        if isinstance(m, nn.ReLU) and activation != "relu":
            width = model[i - 1].out_features
            model[i] = nn.ELU() if activation == "elu" else nn.PReLU(width, init=PRELU_INIT)
    return model


@torch.no_grad()
def never_positive_inputs(model: nn.Sequential, X: torch.Tensor) -> list[float]:
    """Per hidden Linear layer (all but the last): the fraction of units whose pre-activation is
    > 0 for no input of X. For ReLU that is a dead unit; ELU and PReLU still pass a gradient there."""
    out, h = [], X
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for m in model:
        h = m(h)
        if isinstance(m, nn.Linear) and m is not linears[-1]:
            out.append(1.0 - (h > 0).any(0).float().mean().item())
    return out


def run_dying_case(activation: str, case: str, seed: int, epochs: int = 5) -> dict:
    """Train chapter 4's MLP in ``case`` ("A" or "B") with ``activation`` as chapter 4 does
    (SGD, momentum 0.9, batches of 128, ``epochs`` epochs); test accuracy, and per layer the fraction
    of units never positive on the training inputs (NaN where the loss diverged)."""
    from .data import digits
    from .train import accuracy, train

    X, y, X_test, y_test = digits()
    settings = DYING_CASES[case]
    torch.manual_seed(seed)
    model = dying_mlp(activation, settings.get("first_bias"))
    history = train(model, X, y, epochs=epochs, lr=settings["lr"], batch_size=128,
                    optimizer="sgd", seed=seed)
    finite = math.isfinite(history["loss"][-1]) and all(
        bool(torch.isfinite(p).all()) for p in model.parameters())
    nan = float("nan")
    return {"finite": finite,
            "acc": accuracy(model, X_test, y_test) if finite else nan,
            "never_positive": never_positive_inputs(model, X) if finite else [nan, nan]}


def dying_study(seeds=range(10), activations=("relu", "elu", "prelu")) -> dict:
    """Does ELU (or PReLU) fix chapter 4's dying ReLU? Both cases, every activation, ``seeds``."""
    out = {"seeds": list(seeds), "cases": {k: dict(v) for k, v in DYING_CASES.items()}, "runs": {}}
    for case in DYING_CASES:
        for act in activations:
            runs = [run_dying_case(act, case, s) for s in seeds]
            out["runs"][f"{case} {act}"] = {k: [r[k] for r in runs]
                                            for k in ("finite", "acc", "never_positive")}
    return out


STUDIES = {"bakeoff": (bakeoff_study, "variants_bakeoff"), "prelu": (prelu_study, "variants_prelu"),
           "dying": (dying_study, "variants_dying")}


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    from . import method

    parser = argparse.ArgumentParser(description="Rerun chapter 5's stored studies.")
    parser.add_argument("study", choices=[*STUDIES, "all"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in (STUDIES if args.study == "all" else [args.study]):
        fn, file = STUDIES[name]
        start = time.perf_counter()
        results = fn()
        results["seconds"] = round(time.perf_counter() - start, 1)
        path = method.save_study(file, results, f"python -m relucourse.variants {name}")
        print(f"{name}: {results['seconds']} s -> {path}")


if __name__ == "__main__":
    main()
