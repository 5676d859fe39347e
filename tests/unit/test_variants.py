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


def test_maxout_takes_the_largest_piece_and_can_be_relu():
    m = variants.Maxout(2)
    x = torch.tensor([[1.0, -2.0, 3.0, 5.0], [-1.0, -3.0, 0.5, 0.25]])
    assert torch.equal(m(x), torch.tensor([[1.0, 5.0], [-1.0, 0.5]]))
    assert m(torch.zeros(3, 5, 8)).shape == (3, 5, 4)
    # pieces (z, 0) give ReLU: maxout generalises it
    z = torch.linspace(-3, 3, 13)
    assert torch.equal(m(torch.stack([z, torch.zeros_like(z)], -1).flatten()), F.relu(z))
    net = variants.bakeoff_mlp("maxout", width=8, depth=2)
    assert net[0].out_features == 16 and net(torch.zeros(4, 64)).shape == (4, 10)


def test_optimizer_steps_and_layer_diagnostics():
    assert variants.optimizer_steps(1347, 30, 256) == 180
    assert variants.optimizer_steps(1347, 30, 128) == 330
    net = variants.bakeoff_mlp("relu", width=8, depth=2)
    with torch.no_grad():
        net[0].weight[:3] = 0.0
        net[0].bias[:3] = -1.0          # three units never positive
    d = variants.layer_diagnostics(net, torch.randn(50, 64, generator=torch.Generator().manual_seed(0)))
    assert d["never_positive"][0] == 3 / 8 and len(d["std"]) == 2 and d["std"][0] > 0


def test_dying_mlp_keeps_chapter_4_weights_and_swaps_the_activation():
    from relucourse.dying import digits_mlp
    torch.manual_seed(0)
    relu = digits_mlp(first_bias=-40.0)
    for act, kind in [("elu", nn.ELU), ("prelu", nn.PReLU)]:
        torch.manual_seed(0)
        m = variants.dying_mlp(act, -40.0)
        assert sum(isinstance(x, kind) for x in m) == 2
        assert all(torch.equal(a, b) for a, b in zip(relu.parameters(), [p for n, p in m.named_parameters()
                                                                        if "weight" in n or "bias" in n]
                                                    ) if a.shape == b.shape)
    X = digits()[0]
    assert variants.never_positive_inputs(variants.dying_mlp("elu", -40.0), X)[0] == 1.0


def test_bakeoff_study_tunes_on_a_split_of_the_training_set_only(monkeypatch):
    X, y, X_test, y_test = digits()
    seen = []
    real = variants.train_side_by_side

    def spy(act, runs, X_fit, y_fit, X_val, y_val, **kw):
        seen.append((len(X_fit), len(X_val), X_val.shape == X_test.shape and torch.equal(X_val, X_test)))
        return real(act, runs, X_fit, y_fit, X_val, y_val, **kw)
    monkeypatch.setattr(variants, "train_side_by_side", spy)
    out = variants.bakeoff_study(acts=("relu",), seeds=range(2), epochs=1, grid=(1e-2, 3e-2))
    *tuning, final = seen
    assert tuning and all(not is_test and n_val == round(0.25 * len(X)) for _, n_val, is_test in tuning)
    assert final == (len(X), len(X_test), True)
    r = out["acts"]["relu"]
    assert len(r["loss"]) == 2 and len(r["never_positive"][0]) == 4 and out["steps"] == 6
    assert r["lr"] in [float(k) for k in r["tuning"]]


def test_tinylm_tuning_never_sees_the_reported_text(monkeypatch):
    from relucourse import tinylm
    data, vocab = tinylm.encode(tinylm.load_text(30_000))
    lengths = []
    real = tinylm.train_lms

    def spy(d, *args, **kw):
        lengths.append(len(d))
        return real(d, *args, **kw)
    monkeypatch.setattr(tinylm, "train_lms", spy)
    best, scores = tinylm.tune_lr(data, len(vocab), "relu", grid=(1e-2, 3e-2), steps=3, d_model=8,
                                  d_ff=16, val_windows=64)
    assert set(lengths) == {int(len(data) * 0.9)} and best in scores
