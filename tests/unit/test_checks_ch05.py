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
from relucourse.tooling.checks import ch05

torch.set_num_threads(1)  # small tensors: one thread is fastest, and a loaded machine does not stall


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
    rejects("5.1", lambda f: f(torch.rand(10**6, dtype=torch.float64,
                                          generator=torch.Generator().manual_seed(0))).mean().item(),
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

    # the global generator, seeded or not: the caller's random state changes
    rejects("5.1", lambda f: f(torch.randn(10**6, dtype=torch.float64)).mean().item(),
            closest_with(mean_quadrature), says=("global random state", "generator="))


# -- 5.2 plan a paired comparison ---------------------------------------------------------------

def _diff_sd(a, b):
    return float(np.std(np.subtract(a, b), ddof=1))


def plan_normal(a, b, effect):
    """The normal approximation as a start, then seeds added until the exact t power reaches 80 %."""
    from scipy.stats import nct, t
    sd = _diff_sd(a, b)
    n = max(2, math.ceil(((norm.ppf(0.975) + norm.ppf(0.8)) * sd / effect) ** 2))
    power = lambda n: (nct.sf(t.ppf(0.975, n - 1), n - 1, effect * math.sqrt(n) / sd)
                       + nct.cdf(-t.ppf(0.975, n - 1), n - 1, effect * math.sqrt(n) / sd))
    while power(n) < 0.8:
        n += 1
    return n


def plan_t_search(a, b, effect):
    from scipy.stats import nct, t
    sd = _diff_sd(a, b)
    n = 2
    while True:
        df, crit = n - 1, t.ppf(0.975, n - 1)
        if nct.sf(crit, df, effect * math.sqrt(n) / sd) >= 0.8:
            return n
        n += 1


def plan_simulation(a, b, effect):
    """Simulate paired studies of growing size until 80 % of their intervals exclude 0."""
    from scipy.stats import t
    sd = _diff_sd(a, b)
    rng = np.random.default_rng(0)
    for n in range(2, 500):
        d = effect + sd * rng.standard_normal((4000, n))
        half = t.ppf(0.975, n - 1) * d.std(1, ddof=1) / math.sqrt(n)
        if ((d.mean(1) - half) > 0).mean() >= 0.8:
            return np.int64(n)


def plan_vectorised(a, b, effect):
    """Every candidate n at once (NumPy arrays, the first n whose power reaches 80 %), a NumPy int."""
    from scipy.stats import nct, t
    sd = np.std(np.array(a) - np.array(b), ddof=1)
    n = np.arange(2, 2000)
    crit = t.ppf(0.975, n - 1)
    power = nct.sf(crit, n - 1, effect * np.sqrt(n) / sd) + nct.cdf(-crit, n - 1, effect * np.sqrt(n) / sd)
    return n[np.argmax(power >= 0.8)]


def test_5_2_accepts_correct_forms():
    passes("5.2", plan_normal)
    passes("5.2", plan_t_search)
    passes("5.2", plan_simulation)
    passes("5.2", plan_vectorised)
    passes("5.2", ch05.reference_plan_seeds)


def test_5_2_stub_is_not_attempted():
    not_attempted("5.2", stub("5.2"))


def test_5_2_rejects_wrong_answers():
    rejects("5.2", raises, says=("raised an error",))
    rejects("5.2", forever, says=("did not finish",))
    rejects("5.2", lambda a, b, e: 10, says=("too few seeds",))                  # a habit, not a plan
    rejects("5.2", lambda a, b, e: len(a), says=("too few seeds",))              # the pilot's size

    def unpaired(a, b, effect):
        sd = math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1))
        return math.ceil(((norm.ppf(0.975) + norm.ppf(0.8)) * sd / effect) ** 2)
    rejects("5.2", unpaired, says=("more seeds than", "unpaired"))

    def one_sided(a, b, effect):
        sd = _diff_sd(a, b)
        return math.ceil(((norm.ppf(0.95) + norm.ppf(0.8)) * sd / effect) ** 2)
    rejects("5.2", one_sided, says=("too few seeds",))

    def not_squared(a, b, effect):
        return math.ceil((norm.ppf(0.975) + norm.ppf(0.8)) * _diff_sd(a, b) / effect)
    rejects("5.2", not_squared, says=("too few seeds",))

    def as_float(a, b, effect):
        return float(plan_t_search(a, b, effect))
    rejects("5.2", as_float, says=("whole number",))

    def doubled(a, b, effect):
        return 2 * plan_t_search(a, b, effect)
    rejects("5.2", doubled, says=("more seeds than",))

    def pilot_mean(a, b, effect):     # plans for the pilot's difference, not the effect asked for
        d = np.subtract(a, b)
        return math.ceil(((norm.ppf(0.975) + norm.ppf(0.8)) * d.std(ddof=1) / abs(d.mean())) ** 2)
    rejects("5.2", pilot_mean)

    def sorts_in_place(a, b, effect):
        a.sort()
        return plan_t_search(a, b, effect)
    rejects("5.2", sorts_in_place, says=("modified its input",))

    def normal_approximation(a, b, effect):   # no t correction: far short when few seeds suffice
        return math.ceil(((norm.ppf(0.975) + norm.ppf(0.8)) * _diff_sd(a, b) / effect) ** 2) + 1
    rejects("5.2", normal_approximation, says=("too few seeds", "normal approximation", "nct"))

    rejects("5.2", lambda a, b, e: True, says=("whole number",))
    rejects("5.2", lambda a, b, e: 1, says=("out of range",))


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
    passes("5.4", ch05.reference_selu_constants)
    passes("5.4", selu_scipy)
    passes("5.4", selu_fsolve)


def test_5_4_stub_is_not_attempted():
    not_attempted("5.4", stub("5.4"))


def test_5_4_rejects_wrong_answers():
    rejects("5.4", raises, says=("raised an error",))
    rejects("5.4", forever, says=("did not finish",))
    rejects("5.4", lambda q=1.0: ch05.reference_selu_constants(q)[::-1], says=("swapped",))
    rejects("5.4", lambda q=1.0: (ch05.reference_selu_constants(q)[0], ch05.reference_selu_constants(q)[1] ** 2),
            says=("square root",))
    rejects("5.4", lambda q=1.0: (1.6732632423543772, 1.0507009873554805), says=("q = 1",))
    rejects("5.4", lambda q=1.0: ch05.reference_selu_constants(q)[0], says=("expected a pair",))
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
        a, lam = ch05.reference_selu_constants(q)
        return a, lam * 1.001
    rejects("5.4", variance_not_moment, says=("wrong lambda", "alpha is right"))


# -- 5.5 SELU design with dropout ---------------------------------------------------------------

def selu_net(init, dropout=nn.AlphaDropout, p=0.1, bias=0.0):
    def make(depth, width):
        layers = []
        for _ in range(depth):
            lin = nn.Linear(width, width)
            init(lin)
            with torch.no_grad():
                lin.bias.fill_(bias)
            layers += [lin, nn.SELU(), dropout(p)]
        return nn.Sequential(*layers)
    return make


def lecun_normal(lin):
    nn.init.normal_(lin.weight, 0, lin.in_features ** -0.5)


def lecun_kaiming(lin):
    nn.init.kaiming_normal_(lin.weight, nonlinearity="linear")


def lecun_uniform(lin):
    bound = math.sqrt(3 / lin.in_features)
    nn.init.uniform_(lin.weight, -bound, bound)


def he_normal(lin):
    nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")


def test_5_5_accepts_correct_designs():
    passes("5.5", selu_net(lecun_normal, p=0.05))
    passes("5.5", selu_net(lecun_kaiming, p=0.1))
    passes("5.5", selu_net(lecun_uniform, p=0.2))


def test_5_5_stub_is_not_attempted():
    not_attempted("5.5", stub("5.5"))


def test_5_5_rejects_designs_that_do_not_normalise():
    rejects("5.5", raises, says=("raised an error",))
    rejects("5.5", forever, says=("did not finish",))
    rejects("5.5", selu_net(lecun_normal, dropout=nn.Dropout), says=("did not keep mean 0", "nn.Dropout"))
    rejects("5.5", selu_net(he_normal), says=("did not keep mean 0", "variance 2.0"))
    rejects("5.5", selu_net(lambda lin: None), says=("did not keep mean 0",))    # PyTorch's default
    rejects("5.5", selu_net(lecun_normal, bias=0.3), says=("did not keep mean 0",))
    rejects("5.5", selu_net(lecun_normal, p=0.01), says=("rate is outside",))    # no regularisation
    rejects("5.5", selu_net(lecun_normal, p=0.6), says=("rate is outside",))

    def no_dropout(depth, width):
        layers = []
        for _ in range(depth):
            lin = nn.Linear(width, width)
            lecun_normal(lin)
            layers += [lin, nn.SELU()]
        return nn.Sequential(*layers)
    rejects("5.5", no_dropout, says=("not a stack",))

    def one_short(depth, width):
        return selu_net(lecun_normal)(depth - 1, width)
    rejects("5.5", one_short, says=("wrong number of blocks",))

    def as_list(depth, width):
        return list(selu_net(lecun_normal)(depth, width))
    rejects("5.5", as_list, says=("nn.Sequential",))

    def fixed_width(depth, width):
        return selu_net(lecun_normal)(depth, 128)
    rejects("5.5", fixed_width, says=("wrong shape",))


# -- 5.6 GELU gain -----------------------------------------------------------------------------

def gain_quad():
    m2 = integrate.quad(lambda z: (z * norm.cdf(z)) ** 2 * norm.pdf(z), -40, 40, epsabs=1e-13)[0]
    return 1 / m2


def gain_sample():
    z = torch.randn(10**7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (1 / F.gelu(z).square().mean()).item()


def gain_fraction():
    """An exact number: fractions.Fraction of the quadrature's value."""
    from fractions import Fraction
    return Fraction(gain_quad()).limit_denominator(10**9)


def gain_closed_form():
    # E[z^2 Phi(z)^2] = 1/4 + 1/(2 pi sqrt 3) ... checked numerically: use the package's quadrature
    return np.float64(1 / variants.normal_expectation(lambda z: F.gelu(z) ** 2, points=20_001))


def test_5_6_accepts_correct_forms():
    passes("5.6", gain_quad)
    passes("5.6", gain_sample)
    passes("5.6", gain_closed_form)
    passes("5.6", gain_fraction)
    passes("5.6", ch05.reference_gelu_gain)


def test_5_6_stub_is_not_attempted():
    not_attempted("5.6", stub("5.6"))


def test_5_6_rejects_wrong_answers():
    rejects("5.6", raises, says=("raised an error",))
    rejects("5.6", forever, says=("did not finish",))
    rejects("5.6", lambda: 2.0, says=("wrong value", "He's gain", "0.0"))
    rejects("5.6", lambda: 1, says=("wrong value", "LeCun"))
    m2 = variants.normal_expectation(lambda z: F.gelu(z) ** 2)
    m1 = variants.normal_expectation(F.gelu)
    rejects("5.6", lambda: m2, says=("wrong value", "E[gelu(z)^2] itself"))
    rejects("5.6", lambda: 1 / (m2 - m1 ** 2), says=("wrong value", "variance"))
    rejects("5.6", lambda: 1 / m1 ** 2, says=("wrong value", "mean"))
    rejects("5.6", lambda: 1 / m2 * 1.02, says=("wrong value",))                # 2 % off
    rejects("5.6", lambda: "2.35", says=("expected a number",))
    rejects("5.6", lambda: float("nan"), says=("wrong value",))
    rejects("5.6", lambda: (1 / m2, 0.0), says=("expected a number",))

    def small_sample():                       # 1,000 samples are not precise enough
        z = torch.randn(1000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        return (1 / F.gelu(z).square().mean()).item()
    rejects("5.6", small_sample, says=("wrong value",))


# -- every stated rule, broken alone (tests/unit/test_rules.py counts these) ----------------------

from rulebook import breaks_rule, rejects_in_time, slow  # noqa: E402

CLOSEST = closest_with(mean_quadrature)


@breaks_rule("5.1", "number")
def test_rule_5_1_number():
    rejects("5.1", lambda f: f"{mean_quadrature(f):.4f}", CLOSEST, says=("expected a number", "str"))


@breaks_rule("5.1", "accuracy")
def test_rule_5_1_accuracy():
    def few_samples(f):  # its own generator, but 2,000 values: off by more than 5e-3
        z = torch.randn(2000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        return f(z).mean().item()
    rejects("5.1", few_samples, CLOSEST, says=("wrong value", "within 0.005"))


@breaks_rule("5.1", "same-value")
def test_rule_5_1_same_value():
    def fresh_seed_each_call(f):  # a generator of its own, seeded from the clock: another sample each call
        gen = torch.Generator()
        gen.seed()
        return f(torch.randn(10**6, generator=gen, dtype=torch.float64)).mean().item()
    rejects("5.1", fresh_seed_each_call, CLOSEST, says=("two calls with the same f gave different values",
                                                        "manual_seed(0)"))


@breaks_rule("5.1", "global-rng-untouched")
def test_rule_5_1_global_rng_untouched():
    def reseeds_global(f):  # the same value every call, but the caller's random state is reset
        torch.manual_seed(0)
        return f(torch.randn(10**6, dtype=torch.float64)).mean().item()
    msg = rejects("5.1", reseeds_global, CLOSEST, says=("global random state", "generator of your own"))
    assert "wrong value" not in msg

    def numpy_global(f):
        np.random.seed(0)
        return f(torch.from_numpy(np.random.standard_normal(10**6))).mean().item()
    rejects("5.1", numpy_global, CLOSEST, says=("global random state",))


@breaks_rule("5.1", "name")
def test_rule_5_1_name():
    rejects("5.1", mean_quadrature, lambda fs: fs[CLOSEST(fs)], says=("wrong answer", "NAME"))


@breaks_rule("5.1", "abs")
def test_rule_5_1_abs():
    rejects("5.1", mean_quadrature, lambda fs: min(fs, key=lambda k: mean_quadrature(fs[k])),
            says=("smallest |mean|",))


@breaks_rule("5.1", "dict-unchanged")
def test_rule_5_1_dict_unchanged():
    def empties_it(fs):
        name = CLOSEST(fs)
        fs.clear()
        return name
    rejects("5.1", mean_quadrature, empties_it, says=("modified the dict it was given", "keys []"))

    def overwrites_values(fs):  # replaces each function by its mean
        for k, f in fs.items():
            fs[k] = abs(mean_quadrature(f))
        return min(fs, key=fs.get)
    rejects("5.1", mean_quadrature, overwrites_values, says=("modified the dict", "another value"))


@breaks_rule("5.1", "time-limit")
def test_rule_5_1_time_limit():
    rejects_in_time("5.1", slow(mean_quadrature), CLOSEST)


@breaks_rule("5.2", "int")
def test_rule_5_2_int():
    rejects("5.2", lambda a, b, e: float(plan_t_search(a, b, e)), says=("whole number", "float"))


@breaks_rule("5.2", "paired")
def test_rule_5_2_paired():
    def unpaired(a, b, effect):  # the exact t search, but with the two losses' own spreads
        return _t_search_sd(math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)), effect)
    rejects("5.2", unpaired, says=("more seeds than", "unpaired"))


def _t_search_sd(sd, effect):
    return ch05._smallest_n(sd, effect)


@breaks_rule("5.2", "sample-sd")
def test_rule_5_2_sample_sd():
    rejects("5.2", lambda a, b, e: _t_search_sd(float(np.std(np.subtract(a, b))), e),
            says=("too few seeds", "ddof=0"))


@breaks_rule("5.2", "enough")
def test_rule_5_2_enough():
    rejects("5.2", lambda a, b, e: max(2, plan_t_search(a, b, e) * 3 // 4), says=("too few seeds",))


@breaks_rule("5.2", "not-wasteful")
def test_rule_5_2_not_wasteful():
    msg = rejects("5.2", lambda a, b, e: 2 * plan_t_search(a, b, e), says=("more seeds than the comparison needs",))
    assert "unpaired" not in msg


@breaks_rule("5.2", "t-interval")
def test_rule_5_2_t_interval():
    def degrees_of_freedom_n_plus_1(a, b, effect):   # the t search with n + 1 degrees of freedom
        from scipy.stats import nct, t
        sd, n = _diff_sd(a, b), 2
        while nct.sf(t.ppf(0.975, n + 1), n + 1, effect * math.sqrt(n) / sd) < 0.8:
            n += 1
        return n
    rejects("5.2", degrees_of_freedom_n_plus_1, says=("too few seeds", "effect = 0.0194", "degrees of freedom"))


@breaks_rule("5.2", "lists-unchanged")
def test_rule_5_2_lists_unchanged():
    def sorts_in_place(a, b, effect):
        n = plan_t_search(a, b, effect)
        a.sort()
        return n
    rejects("5.2", sorts_in_place, says=("modified its input",))


@breaks_rule("5.2", "time-limit")
def test_rule_5_2_time_limit():
    rejects_in_time("5.2", slow(plan_t_search))


@breaks_rule("5.3", "gradient")
def test_rule_5_3_gradient():
    def straight_through(x, alpha=1.0):   # the right values, but the gradient of x itself
        return x + (elu_ref(x, alpha) - x).detach()
    rejects("5.3", straight_through, mish_ref, says=("wrong value", "the gradient of elu"))


@breaks_rule("5.3", "elu-value")
def test_rule_5_3_elu_value():
    rejects("5.3", lambda x, alpha=1.0: torch.where(x > 0, x, torch.expm1(x.clamp(max=0))), mish_ref,
            says=("wrong value", "alpha=0.5"))  # ignores alpha


@breaks_rule("5.3", "mish-value")
def test_rule_5_3_mish_value():
    rejects("5.3", elu_ref, lambda x: x * torch.tanh(F.softplus(x, beta=2.0)), says=("wrong value", "mish(x)"))


@breaks_rule("5.3", "dtype-shape")
def test_rule_5_3_dtype_shape():
    rejects("5.3", lambda x, alpha=1.0: elu_ref(x.double(), alpha), mish_ref, says=("wrong dtype",))
    rejects("5.3", elu_ref, lambda x: mish_ref(x).reshape(-1), says=("wrong shape",))


@breaks_rule("5.3", "extremes")
def test_rule_5_3_extremes():
    rejects("5.3", elu_ref, lambda x: torch.nan_to_num(mish_ref(x), nan=0.0), says=("wrong value", "nan"))


@breaks_rule("5.3", "finite-gradient")
def test_rule_5_3_finite_gradient():
    rejects("5.3", lambda x, alpha=1.0: torch.where(x > 0, x, alpha * (torch.exp(x) - 1)), mish_ref,
            says=("the gradient of elu", "nan", "0 * inf"))


@breaks_rule("5.3", "no-inplace")
def test_rule_5_3_no_inplace():
    def in_place(x, alpha=1.0):
        y = elu_ref(x, alpha)
        if not x.requires_grad:
            x.zero_()
        return y
    rejects("5.3", in_place, mish_ref, says=("modified its input",))


@breaks_rule("5.3", "no-builtins")
def test_rule_5_3_no_builtins():
    rejects("5.3", lambda x, alpha=1.0: torch.ops.aten.elu(x, alpha), mish_ref, says=("not allowed", "aten.elu", "switched off here"))
    rejects("5.3", elu_ref, lambda x: torch.ops.aten.mish(x), says=("not allowed", "aten.mish"))
    rejects("5.3", lambda x, alpha=1.0: torch.celu(x, alpha), mish_ref, says=("not allowed",))


@breaks_rule("5.3", "time-limit")
def test_rule_5_3_time_limit():
    rejects_in_time("5.3", slow(elu_ref), mish_ref)


@breaks_rule("5.4", "pair")
def test_rule_5_4_pair():
    rejects("5.4", lambda q=1.0: {"alpha": ch05.reference_selu_constants(q)[0],
                                  "lam": ch05.reference_selu_constants(q)[1]}, says=("expected a pair",))


@breaks_rule("5.4", "conditions")
def test_rule_5_4_conditions():
    def positive_side_only(q=1.0):  # lambda from E[z^2; z > 0] = q / 2 alone: sqrt(2)
        return ch05.reference_selu_constants(q)[0], math.sqrt(2.0)
    rejects("5.4", positive_side_only, says=("wrong lambda", "alpha is right"))


@breaks_rule("5.4", "seven-digits")
def test_rule_5_4_seven_digits():
    rejects("5.4", lambda q=1.0: tuple(float(f"{v:.5g}") for v in ch05.reference_selu_constants(q)),
            says=("wrong alpha",))


@breaks_rule("5.4", "any-q")
def test_rule_5_4_any_q():
    rejects("5.4", lambda q=1.0: ch05.reference_selu_constants(1.0), says=("q = 1", "selu_constants(0.5)"))


@breaks_rule("5.4", "time-limit")
def test_rule_5_4_time_limit():
    rejects_in_time("5.4", slow(ch05.reference_selu_constants))


@breaks_rule("5.5", "sequential")
def test_rule_5_5_sequential():
    rejects("5.5", lambda d, w: nn.ModuleList(selu_net(lecun_normal)(d, w)), says=("nn.Sequential",))


@breaks_rule("5.5", "depth")
def test_rule_5_5_depth():
    rejects("5.5", lambda d, w: selu_net(lecun_normal)(d + 1, w), says=("wrong number of blocks", "50 blocks"))


@breaks_rule("5.5", "block")
def test_rule_5_5_block():
    def dropout_first(depth, width):
        layers = list(selu_net(lecun_normal)(depth, width))
        for i in range(0, len(layers), 3):
            layers[i + 1], layers[i + 2] = layers[i + 2], layers[i + 1]
        return nn.Sequential(*layers)
    rejects("5.5", dropout_first, says=("not a stack of (Linear, SELU, dropout) blocks",))


@breaks_rule("5.5", "rate")
def test_rule_5_5_rate():
    rejects("5.5", selu_net(lecun_normal, p=0.6), says=("rate is outside",))


@breaks_rule("5.5", "normalises")
def test_rule_5_5_normalises():
    rejects("5.5", selu_net(he_normal), says=("did not keep mean 0", "variance 2.0"))


@breaks_rule("5.5", "time-limit")
def test_rule_5_5_time_limit():
    rejects_in_time("5.5", slow(selu_net(lecun_normal)))


@breaks_rule("5.6", "float")
def test_rule_5_6_float():
    rejects("5.6", lambda: torch.tensor(gain_quad()), says=("expected a plain number (a Python float)", ".item()"))
    rejects("5.6", lambda: np.array([gain_quad()]), says=("expected a plain number",))


@breaks_rule("5.6", "value")
def test_rule_5_6_value():
    rejects("5.6", lambda: gain_quad() * 1.02, says=("wrong value", "went"))


@breaks_rule("5.6", "time-limit")
def test_rule_5_6_time_limit():
    rejects_in_time("5.6", slow(gain_quad))


def test_5_3_an_elu_that_ignores_alpha_is_told_so_not_about_overflow():
    """Issue 20, class 5: the hint follows the symptom (alpha = 1's values), not the check."""
    def elu_alpha_one(x, alpha=1.0):
        return torch.where(x > 0, x, torch.expm1(x.clamp(max=0)))
    message = rejects("5.3", elu_alpha_one, mish_ref, says=("ELU's for alpha = 1", "alpha = 0.5 was passed"))
    assert "overflow" not in message


def test_5_3_a_wrong_formula_gets_the_formula_not_the_overflow_story():
    def elu_shifted(x, alpha=1.0):
        return torch.where(x > 0, x, alpha * torch.expm1(x.clamp(max=0)) - 0.1)
    message = rejects("5.3", elu_shifted, mish_ref, says=("alpha * (exp(x) - 1) otherwise.",))
    assert "overflow" not in message
