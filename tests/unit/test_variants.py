"""relucourse.variants, relucourse.sidebyside and relucourse.tinylm: the chapter 5 helpers."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from relucourse import variants
from relucourse.data import digits


def test_gallery_has_fourteen_activations_with_working_kernels():
    assert len(variants.GALLERY) >= 12
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    for name, fn in variants.GALLERY.items():
        y = torch.empty_like(x)
        variants.FORWARD_KERNELS[name](x, y)
        torch.testing.assert_close(y, fn(x), rtol=1e-6, atol=1e-6, msg=name)


def test_properties_match_known_facts():
    rows = {r.name: r for r in variants.properties_table()}
    assert rows["relu"].bounded_below and rows["relu"].monotonic and not rows["relu"].smooth
    assert not rows["leaky_relu"].bounded_below
    assert not rows["gelu"].monotonic and rows["gelu"].smooth
    assert rows["elu"].smooth and not rows["selu"].smooth
    assert rows["relu_squared"].smooth and not rows["hardswish"].monotonic
    assert math.isclose(rows["relu"].mean, 1 / math.sqrt(2 * math.pi), rel_tol=1e-8)
    assert abs(rows["selu"].mean) < 1e-6
    assert math.isclose(rows["softplus"].f0, math.log(2), rel_tol=1e-12)
    assert rows["relu"].slope0 == 0.0 and rows["elu"].slope0 == 1.0
    assert math.isclose(rows["relu_squared"].mean, 0.5, rel_tol=1e-8)
    assert all(len(line) <= 68 for line in variants.format_properties(list(rows.values())).splitlines())


def test_forward_cost_reports_a_percentage_per_activation():
    cost = variants.forward_cost(["relu", "mish", "relu_squared"], size=2**12, repeats=2, warmup=1)
    assert set(cost) == {"relu", "mish", "relu_squared"} and all(v > 0 for v in cost.values())


def test_selu_constants_closed_form_and_numeric_agree():
    a, lam = variants.selu_constants()
    a2, lam2 = variants.selu_constants_numeric()
    assert math.isclose(a, a2, rel_tol=1e-9) and math.isclose(lam, lam2, rel_tol=1e-9)
    # the defining conditions hold
    selu = lambda z: torch.where(z > 0, lam * z, lam * a * torch.expm1(z.clamp(max=0)))
    assert abs(variants.normal_expectation(selu)) < 1e-9
    assert math.isclose(variants.normal_expectation(lambda z: selu(z) ** 2), 1.0, rel_tol=1e-9)


def test_selu_constants_cover_only_q_1():
    """Exercise 5.4 asks for the generalisation to N(0, q): the package must not export it."""
    with pytest.raises(TypeError):
        variants.selu_constants(2.0)
    with pytest.raises(TypeError):
        variants.selu_constants_numeric(q=2.0)


def test_selu_constants_are_pytorchs():
    a, lam = variants.selu_constants()
    assert math.isclose(a, 1.6732632423543772, rel_tol=1e-12)
    assert math.isclose(lam, 1.0507009873554805, rel_tol=1e-12)


def test_self_normalisation_holds_with_lecun_and_breaks_with_he():
    torch.manual_seed(0)
    good = variants.init_linear(variants.deep_net("selu", depth=30, width=64), "lecun")
    m, v = variants.propagate(good, n=256)
    assert abs(m[-1]) < 0.15 and 0.7 < v[-1] < 1.4 and len(m) == 30
    torch.manual_seed(0)
    bad = variants.init_linear(variants.deep_net("selu", depth=30, width=64), "he")
    assert variants.propagate(bad, n=256)[1][-1] > 10


def test_gelu_forms():
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    torch.testing.assert_close(variants.gelu_exact(x), F.gelu(x))
    torch.testing.assert_close(variants.gelu_tanh_formula(x), F.gelu(x, approximate="tanh"))
    assert (variants.swish(x, 1.0) - F.silu(x)).abs().max() < 1e-12
    assert (variants.swish(x, 0.0) - x / 2).abs().max() < 1e-12


@pytest.mark.parametrize("kind", ["relu", "gelu", "glu", "reglu", "geglu", "swiglu", "relu_squared"])
def test_ffn_blocks_are_parameter_matched(kind):
    block = variants.ffn_for(kind, 768, 3072)
    assert variants.count_parameters(block) == 2 * 768 * 3072
    x = torch.randn(2, 3, 768)
    assert block(x).shape == x.shape


def test_swiglu_block_computes_the_formula():
    block = variants.FFN(8, 12, "swiglu")
    x = torch.randn(5, 8)
    torch.testing.assert_close(block(x), block.w2(F.silu(block.w1(x)) * block.w3(x)))


def test_prelu_slopes_and_no_decay_groups():
    model = variants.DigitsCNN(lambda c: nn.PReLU(c, init=0.25))
    assert variants.prelu_slopes(model) == [0.25, 0.25, 0.25]
    groups = variants.param_groups_no_decay_on_slopes(model, 0.1)
    assert groups[1]["weight_decay"] == 0 and sum(p.numel() for p in groups[1]["params"]) == 8 + 16 + 16
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))


def test_bakeoff_side_by_side_matches_the_single_run():
    X, y, Xv, yv = digits()
    both = variants.train_side_by_side("elu", [(3e-3, 0), (1e-2, 1)], X, y, Xv, yv, epochs=1)
    alone = variants.train_side_by_side("elu", [(1e-2, 1)], X, y, Xv, yv, epochs=1)
    assert math.isclose(both[1][0], alone[0][0], rel_tol=1e-4)


def test_prelu_cnns_side_by_side_match_plain_training():
    X, y, _, _ = digits()
    X, y = X[:256], y[:256]
    stacked = variants.train_prelu_cnns(X, y, [0, 3], epochs=1)
    plain = variants.train_prelu_cnn(X, y, 3, epochs=1)
    for a, b in zip(variants.prelu_slopes(stacked[1]), variants.prelu_slopes(plain)):
        assert math.isclose(a, b, rel_tol=1e-4)


def test_bakeoff_tunes_on_other_seeds():
    X, y, Xv, yv = digits()
    r = variants.bakeoff("relu", X[:300], y[:300], Xv, yv, lrs=(1e-3, 1e-2), seeds=(0, 1), epochs=1)
    assert r["lr"] in (1e-3, 1e-2) and len(r["loss"]) == 2 and set(r["tuning"]) == {1e-3, 1e-2}
