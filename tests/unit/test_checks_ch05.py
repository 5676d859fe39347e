"""Chapter 5 checks: the reference passes, correct variants pass, typical mistakes are rejected."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import integrate, optimize
from scipy.stats import norm
from torch import nn

from conftest import not_attempted, passes, rejects, stub
from relucourse import variants


def forever(*args, **kwargs):
    while True:
        pass


def raises(*args, **kwargs):
    raise ValueError("something went wrong")


# -- 5.1 mean on N(0, 1), closest to zero -----------------------------------------------------

def mean_sampled(f):
    z = torch.randn(10**6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return f(z).mean().item()


def mean_quadrature(f):
    z = torch.linspace(-10, 10, 100_001, dtype=torch.float64)
    w = torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return float(torch.trapezoid(f(z) * w, z))


def mean_numpy_float32(f):
    z = torch.from_numpy(np.random.default_rng(3).standard_normal(2 * 10**6).astype(np.float32))
    return np.float32(f(z).double().mean().item())


def closest_with(mean):
    return lambda functions: min(functions, key=lambda k: abs(mean(functions[k])))


def test_5_1_accepts_correct_forms():
    passes("5.1", mean_sampled, closest_with(mean_quadrature))
    passes("5.1", mean_quadrature, closest_with(mean_quadrature))
    passes("5.1", mean_numpy_float32, closest_with(mean_quadrature))
    passes("5.1", lambda f: torch.tensor(mean_quadrature(f)),
           lambda fs: sorted(fs, key=lambda k: abs(mean_quadrature(fs[k])))[0])


def test_5_1_stub_is_not_attempted():
    not_attempted("5.1", stub("5.1"), stub("5.1"))
    not_attempted("5.1", mean_sampled, stub("5.1"))


def test_5_1_rejects_wrong_answers():
    rejects("5.1", raises, closest_with(mean_quadrature), says=("raised an error", "ValueError"))
    rejects("5.1", forever, closest_with(mean_quadrature), says=("did not finish",))
    rejects("5.1", "mean", closest_with(mean_quadrature), says=("expected a function `mean_on_normal`",))
    rejects("5.1", mean_quadrature, None, says=("expected a function `closest_to_zero`",))
    # a uniform sample instead of a normal one
    rejects("5.1", lambda f: f(torch.rand(10**6, dtype=torch.float64)).mean().item(),
            closest_with(mean_quadrature), says=("wrong value", "torch.rand"))
    # far too few samples: noisy
    rejects("5.1", lambda f: f(torch.randn(50, generator=torch.Generator().manual_seed(0))).mean().item(),
            closest_with(mean_quadrature), says=("wrong value",))
    # f evaluated at 0 instead of averaged
    rejects("5.1", lambda f: f(torch.zeros(1)).item(), closest_with(mean_quadrature), says=("wrong value",))
    rejects("5.1", lambda f: float("nan"), closest_with(mean_quadrature), says=("wrong value",))
    # the most negative mean instead of the smallest |mean|
    rejects("5.1", mean_quadrature, lambda fs: min(fs, key=lambda k: mean_quadrature(fs[k])),
            says=("smallest |mean|",))
    # returns the function instead of its name
    rejects("5.1", mean_quadrature, lambda fs: fs[closest_with(mean_quadrature)(fs)], says=("wrong answer",))
    # the largest instead of the smallest
    rejects("5.1", mean_quadrature, lambda fs: max(fs, key=lambda k: abs(mean_quadrature(fs[k]))),
            says=("wrong answer",))

    def destroys(fs):
        name = closest_with(mean_quadrature)(fs)
        fs.clear()
        return name
    passes("5.1", mean_quadrature, destroys)  # the check hands over a copy: the learner's dict is theirs


# -- 5.2 PReLU slopes --------------------------------------------------------------------------

def slopes_by_named_parameters(model):
    mods = dict(model.named_modules())
    out = []
    seen = set()
    for name, mod in mods.items():
        if isinstance(mod, nn.PReLU) and id(mod) not in seen:
            seen.add(id(mod))
            out.append(float(mod.weight.data.mean()))
    return out


def test_5_2_accepts_correct_forms():
    passes("5.2", variants.prelu_slopes)
    passes("5.2", slopes_by_named_parameters)
    passes("5.2", lambda m: [torch.mean(p.weight.detach()) for p in m.modules() if type(p) is nn.PReLU])
    passes("5.2", lambda m: tuple(np.mean(p.weight.detach().numpy()) for p in m.modules()
                                  if isinstance(p, nn.PReLU)))


def test_5_2_stub_is_not_attempted():
    not_attempted("5.2", stub("5.2"))


def test_5_2_rejects_wrong_answers():
    rejects("5.2", raises, says=("raised an error",))
    rejects("5.2", forever, says=("did not finish",))
    rejects("5.2", lambda m: [p.weight.detach()[0].item() for p in m.modules() if isinstance(p, nn.PReLU)],
            says=("wrong slopes", "mean"))
    rejects("5.2", lambda m: [p.weight.detach().abs().mean().item() for p in m.modules()
                              if isinstance(p, nn.PReLU)], says=("wrong slopes",))
    rejects("5.2", lambda m: [p.weight for p in m.modules() if isinstance(p, nn.PReLU)],
            says=("expected a list of numbers",))
    rejects("5.2", lambda m: [p.mean().item() for n, p in m.named_parameters() if n.endswith("weight")],
            says=("wrong length",))
    rejects("5.2", lambda m: [p.weight.detach().mean().item() for p in m.children() if isinstance(p, nn.PReLU)],
            says=("wrong length",))
    rejects("5.2", lambda m: [m[i].weight.detach().mean().item() for i in range(len(m))
                              if isinstance(m[i], nn.PReLU)] if isinstance(m, nn.Sequential) else [],
            says=("wrong length",))

    def clamps(m):
        with torch.no_grad():
            for p in m.modules():
                if isinstance(p, nn.PReLU):
                    p.weight.clamp_(min=0)
        return variants.prelu_slopes(m)
    rejects("5.2", clamps, says=("changed the model",))
    rejects("5.2", lambda m: {i: s for i, s in enumerate(variants.prelu_slopes(m))},
            says=("expected a list of numbers",))
    rejects("5.2", lambda m: [round(s, 1) for s in variants.prelu_slopes(m)], says=("wrong slopes",))


# -- 5.3 ELU and Mish --------------------------------------------------------------------------

def elu_ref(x, alpha=1.0):
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)))


def mish_ref(x):
    return x * torch.tanh(F.softplus(x))


def elu_double_where(x, alpha=1.0):
    safe = torch.where(x > 0, torch.zeros_like(x), x)
    return torch.where(x > 0, x, alpha * torch.expm1(safe))


def elu_masked(x, alpha=1.0):
    neg = x.clamp(max=0)
    return torch.where(x > 0, x, alpha * (torch.exp(neg) - 1))


def mish_logaddexp(x):
    return x * torch.tanh(torch.logaddexp(x, torch.zeros_like(x)))


def mish_stable_manual(x):
    sp = x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))
    return x * torch.tanh(sp)


def test_5_3_accepts_correct_forms():
    passes("5.3", elu_ref, mish_ref)
    passes("5.3", elu_double_where, mish_logaddexp)
    passes("5.3", elu_masked, mish_stable_manual)


def test_5_3_stub_is_not_attempted():
    not_attempted("5.3", stub("5.3"), stub("5.3"))


def test_5_3_rejects_wrong_answers():
    rejects("5.3", raises, mish_ref, says=("raised an error",))
    rejects("5.3", elu_ref, forever, says=("did not finish",))
    # the classic: where() with an unclamped exp gives NaN gradients at large x
    rejects("5.3", lambda x, alpha=1.0: torch.where(x > 0, x, alpha * (torch.exp(x) - 1)), mish_ref,
            says=("gradient", "0 * inf"))
    # naive softplus: inf / inf in the backward pass
    rejects("5.3", elu_ref, lambda x: x * torch.tanh(torch.log(1 + torch.exp(x))), says=("stable",))
    rejects("5.3", F.elu, mish_ref, says=("not allowed",))
    rejects("5.3", elu_ref, F.mish, says=("not allowed",))
    rejects("5.3", lambda x, alpha=1.0: torch.where(x > 0, x, torch.expm1(x.clamp(max=0))), mish_ref,
            says=("alpha=0.5",))  # ignores alpha
    rejects("5.3", lambda x, alpha=1.0: torch.where(x >= 0, x, alpha * x.clamp(max=0).exp()), mish_ref,
            says=("wrong value",))  # forgot the -1
    rejects("5.3", lambda x, alpha=1.0: elu_ref(x.double(), alpha), mish_ref, says=("dtype",))
    rejects("5.3", lambda x, alpha=1.0: elu_ref(x, alpha).detach(), mish_ref, says=("no gradient",))
    rejects("5.3", lambda x, alpha=1.0: torch.tensor(elu_ref(x, alpha).tolist(), dtype=x.dtype), mish_ref,
            says=("no gradient",))

    def in_place(x, alpha=1.0):
        return x.clamp_(min=-alpha) if not x.requires_grad else elu_ref(x, alpha)
    rejects("5.3", in_place, mish_ref, says=("modified its input",))
    rejects("5.3", elu_ref, lambda x: x * torch.tanh(x), says=("wrong value",))
    rejects("5.3", elu_ref, lambda x: x * torch.sigmoid(x), says=("wrong value",))
    rejects("5.3", lambda x, alpha=1.0: torch.nan_to_num(elu_ref(x, alpha)), mish_ref, says=("wrong value",))
    # the derivative at 0 taken from the wrong side, or split: 0 or alpha/2 instead of alpha
    rejects("5.3", lambda x, alpha=1.0: F.relu(x) + alpha * torch.expm1(-F.relu(-x)), mish_ref,
            says=("wrong value", "only the gradient at x = 0"))
    rejects("5.3", lambda x, alpha=1.0: torch.where(x > 0, x, alpha * torch.expm1(torch.minimum(
        x, torch.zeros_like(x)))), mish_ref, says=("only the gradient at x = 0",))


# -- 5.4 SELU constants ------------------------------------------------------------------------

def selu_scipy(q=1.0):
    s = math.sqrt(q)
    pos = integrate.quad(lambda z: z * norm.pdf(z, scale=s), 0, np.inf)[0]
    neg = integrate.quad(lambda z: math.expm1(z) * norm.pdf(z, scale=s), -np.inf, 0)[0]
    alpha = -pos / neg
    sq = (integrate.quad(lambda z: z * z * norm.pdf(z, scale=s), 0, np.inf)[0]
          + alpha ** 2 * integrate.quad(lambda z: math.expm1(z) ** 2 * norm.pdf(z, scale=s), -np.inf, 0)[0])
    return alpha, math.sqrt(q / sq)


def selu_fsolve(q=1.0):
    z = np.linspace(-14 * math.sqrt(q), 14 * math.sqrt(q), 400_001)
    w = np.exp(-z * z / (2 * q)) / math.sqrt(2 * math.pi * q)

    def conditions(p):
        a, lam = p
        y = np.where(z > 0, lam * z, lam * a * np.expm1(np.minimum(z, 0)))
        return [np.trapezoid(y * w, z), np.trapezoid(y * y * w, z) - q]
    a, lam = optimize.fsolve(conditions, [1.5, 1.0], xtol=1e-13)
    return [np.float64(a), torch.tensor(lam)]


def test_5_4_accepts_correct_forms():
    passes("5.4", variants.selu_constants)
    passes("5.4", variants.selu_constants_numeric)
    passes("5.4", selu_scipy)
    passes("5.4", selu_fsolve)


def test_5_4_stub_is_not_attempted():
    not_attempted("5.4", stub("5.4"))


def test_5_4_rejects_wrong_answers():
    rejects("5.4", raises, says=("raised an error",))
    rejects("5.4", forever, says=("did not finish",))
    rejects("5.4", lambda q=1.0: variants.selu_constants(q)[::-1], says=("swapped",))
    rejects("5.4", lambda q=1.0: (variants.selu_constants(q)[0], variants.selu_constants(q)[1] ** 2),
            says=("square root",))
    rejects("5.4", lambda q=1.0: (1.6732632423543772, 1.0507009873554805), says=("q = 1",))
    rejects("5.4", lambda q=1.0: variants.selu_constants(q)[0], says=("expected a pair",))
    rejects("5.4", lambda q=1.0: ("1.67", "1.05"), says=("expected two numbers",))
    rejects("5.4", lambda q=1.0: (float("nan"), float("nan")), says=("wrong alpha",))

    def monte_carlo(q=1.0):
        z = torch.randn(10**6, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * math.sqrt(q)
        pos = torch.where(z > 0, z, 0.0).mean()
        neg = torch.where(z <= 0, torch.expm1(z.clamp(max=0)), 0.0).mean()
        alpha = (-pos / neg).item()
        y = torch.where(z > 0, z, alpha * torch.expm1(z.clamp(max=0)))
        return alpha, math.sqrt(q / (y * y).mean().item())
    rejects("5.4", monte_carlo, says=("wrong alpha",))

    def variance_not_moment(q=1.0):  # lambda from Var instead of E[x^2] (the same at the fixed point...)
        a, lam = variants.selu_constants(q)
        return a, lam * 1.001
    rejects("5.4", variance_not_moment, says=("wrong lambda", "alpha is right"))


# -- 5.5 SELU design ---------------------------------------------------------------------------

def lecun_(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, m.in_features ** -0.5)
            nn.init.zeros_(m.bias)


def lecun_kaiming(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
            nn.init.zeros_(m.bias)


def lecun_uniform(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            bound = math.sqrt(3 / m.in_features)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound)
                m.bias.fill_(0.0)


def test_5_5_accepts_correct_designs():
    passes("5.5", lecun_)
    passes("5.5", lecun_kaiming)
    passes("5.5", lecun_uniform)


def test_5_5_stub_is_not_attempted():
    not_attempted("5.5", stub("5.5"))


def _init_with(std_of, bias=0.0):
    def init(model):
        for m in model.modules():
            if isinstance(m, nn.Linear):
                with torch.no_grad():
                    m.weight.normal_(0, std_of(m.in_features, m.out_features))
                    m.bias.fill_(bias)
    return init


def test_5_5_rejects_designs_that_do_not_normalise():
    rejects("5.5", raises, says=("raised an error",))
    rejects("5.5", forever, says=("did not finish",))
    rejects("5.5", lambda model: None, says=("did not keep mean 0",))           # PyTorch's default init
    rejects("5.5", _init_with(lambda fi, fo: math.sqrt(2 / fi)), says=("did not keep mean 0",))   # He
    rejects("5.5", _init_with(lambda fi, fo: 0.5 / math.sqrt(fi)), says=("did not keep mean 0",))
    rejects("5.5", _init_with(lambda fi, fo: 1 / math.sqrt(fi), bias=0.3), says=("did not keep mean 0",))
    rejects("5.5", _init_with(lambda fi, fo: 1 / fi), says=("did not keep mean 0",))           # 1/fan_in as std
    def uniform_too_narrow(model):  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)): variance 1/(3 fan_in)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -m.in_features ** -0.5, m.in_features ** -0.5)
                nn.init.zeros_(m.bias)
    rejects("5.5", uniform_too_narrow, says=("did not keep mean 0",))

    def zeros(model):
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
    rejects("5.5", zeros, says=("did not keep mean 0",))

    def adds_batchnorm(model):
        lecun_(model)
        model.append(nn.Linear(model[0].in_features, model[0].in_features))
    rejects("5.5", adds_batchnorm, says=("layers changed",))

    def nan_init(model):
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.weight, float("nan"))
    rejects("5.5", nan_init, says=("did not keep mean 0",))


# -- 5.6 SwiGLU --------------------------------------------------------------------------------

class Ref(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        h = round(2 * d_ff / 3)
        self.w1 = nn.Linear(d_model, h, bias=False)
        self.w3 = nn.Linear(d_model, h, bias=False)
        self.w2 = nn.Linear(h, d_model, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class FloorHidden(Ref):
    def __init__(self, d_model, d_ff):
        nn.Module.__init__(self)
        h = 2 * d_ff // 3
        self.w1 = nn.Linear(d_model, h, bias=False)
        self.w3 = nn.Linear(d_model, h, bias=False)
        self.w2 = nn.Linear(h, d_model, bias=False)

    def forward(self, x):
        a = self.w1(x)
        return self.w2(a * torch.sigmoid(a) * self.w3(x))


class ChunkedProjection(nn.Module):
    """w1 and w3 kept as separate Linear modules but applied via F.linear on a concatenation."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        h = math.ceil(2 * d_ff / 3)
        self.w1 = nn.Linear(d_model, h, bias=False)
        self.w3 = nn.Linear(d_model, h, bias=False)
        self.w2 = nn.Linear(h, d_model, bias=False)

    def forward(self, x):
        both = F.linear(x, torch.cat([self.w1.weight, self.w3.weight]))
        gate, up = both.chunk(2, dim=-1)
        return F.linear(F.silu(gate) * up, self.w2.weight)


def test_5_6_accepts_correct_forms():
    passes("5.6", Ref)
    passes("5.6", FloorHidden)
    passes("5.6", ChunkedProjection)
    passes("5.6", type("Subclass", (Ref,), {}))


def test_5_6_stub_is_not_attempted():
    class Stub(nn.Module):
        def __init__(self, d_model, d_ff):
            super().__init__()
            stub("5.6")()
    not_attempted("5.6", Stub)


def _variant(forward=None, hidden=None, bias=False):
    class Variant(Ref):
        def __init__(self, d_model, d_ff):
            nn.Module.__init__(self)
            h = hidden(d_ff) if hidden else round(2 * d_ff / 3)
            self.w1 = nn.Linear(d_model, h, bias=bias)
            self.w3 = nn.Linear(d_model, h, bias=bias)
            self.w2 = nn.Linear(h, d_model, bias=bias)
    if forward is not None:
        Variant.forward = forward
    return Variant


def test_5_6_rejects_wrong_blocks():
    rejects("5.6", Ref(8, 24), says=("expected a class",))
    rejects("5.6", lambda d, f: Ref(d, f), says=("expected a class",))
    rejects("5.6", _variant(hidden=lambda f: f), says=("not parameter-matched", "2/3"))
    rejects("5.6", _variant(hidden=lambda f: f // 2), says=("not parameter-matched",))
    rejects("5.6", _variant(bias=True), says=("biases",))
    rejects("5.6", _variant(lambda s, x: s.w2(s.w1(x) * F.silu(s.w3(x)))), says=("swapped",))
    rejects("5.6", _variant(lambda s, x: s.w2(torch.sigmoid(s.w1(x)) * s.w3(x))), says=("GLU",))
    rejects("5.6", _variant(lambda s, x: s.w2(F.gelu(s.w1(x)) * s.w3(x))), says=("GEGLU",))
    rejects("5.6", _variant(lambda s, x: s.w2(F.relu(s.w1(x)) * s.w3(x))), says=("ReGLU",))
    rejects("5.6", _variant(lambda s, x: s.w2(F.silu(s.w1(x) * s.w3(x)))), says=("alone",))
    rejects("5.6", _variant(lambda s, x: s.w2(F.silu(s.w1(x)) * s.w3(x)).detach()), says=("no gradient",))
    rejects("5.6", _variant(lambda s, x: s.w2(F.silu(s.w1(x)) * s.w3(x)).float()), says=("dtype",))
    rejects("5.6", _variant(lambda s, x: s.w2(F.silu(s.w1(x.reshape(-1, x.shape[-1])))
                                               * s.w3(x.reshape(-1, x.shape[-1])))), says=("shape",))

    class Named(nn.Module):
        def __init__(self, d_model, d_ff):
            super().__init__()
            h = round(2 * d_ff / 3)
            self.gate = nn.Linear(d_model, h, bias=False)
            self.up = nn.Linear(d_model, h, bias=False)
            self.down = nn.Linear(h, d_model, bias=False)

        def forward(self, x):
            return self.down(F.silu(self.gate(x)) * self.up(x))
    rejects("5.6", Named, says=("w1, w2 and w3",))

    class Raises(Ref):
        def forward(self, x):
            raise RuntimeError("shape mismatch")
    rejects("5.6", Raises, says=("raised an error",))


def test_5_6_detects_in_place_changes_of_the_input():
    rejects("5.6", _variant(lambda s, x: s.w2(F.silu(s.w1(x.mul_(1.0001))) * s.w3(x))),
            says=("modified its input",))
