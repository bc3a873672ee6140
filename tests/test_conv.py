import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnstudy.nets import conv, conv_check
from cnnstudy.nets.conv import ConvShapeError, conv2d_im2col, conv2d_im2col_backward, conv2d_naive, conv2d_unfold
from cnnstudy.nets.models import build_model

IMPLS = ["naive", "im2col", "unfold"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", conv_check.CASES, ids=lambda c: c.name)
def test_seed000_suite_against_torch(case, impl):
    row = conv_check.check_case(case, impl)
    assert row["passed"], row
    if impl != "naive":  # gradients are checked, not skipped
        assert not np.isnan(row["max_abs_error_grad_input"]) and not np.isnan(row["max_abs_error_grad_weight"])


@pytest.mark.parametrize("impl", IMPLS)
def test_known_filter_gives_known_edge_map(impl):
    assert conv_check.sobel_case(impl)["passed"]


def test_seed000_failures_pass_here():
    names = {c.name for c in conv_check.CASES}
    assert {"dilation", "grouping"} <= names
    grouping = next(c for c in conv_check.CASES if c.name == "grouping")
    assert grouping.x == (4, 128, 64, 64) and grouping.kwargs["groups"] > 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stride": 2, "padding": 1},
        {"dilation": 2, "padding": "same"},
        {"groups": 2, "stride": (1, 2)},
        {"padding": (2, 0)},
    ],
)
def test_unfold_function_passes_gradcheck(kwargs):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(6, 4 // kwargs.get("groups", 1), 3, 2, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: conv2d_unfold(x, w, b, **kwargs), (x, w, b))


@st.composite
def conv_settings(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    same = draw(st.booleans())
    stride = (1, 1) if same else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = "same" if same else (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(dil[0] * (kh - 1) + 1, 12))
    w = draw(st.integers(dil[1] * (kw - 1) + 1, 12))
    n = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    return (
        (n, cin, h, w),
        (cout, cin // groups, kh, kw),
        dict(stride=stride, padding=pad, dilation=dil, groups=groups),
        bias,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_settings(), st.integers(0, 2**16))
def test_random_shapes_match_torch_forward_and_backward(setting, seed):
    xs, ws, kw, has_bias = setting
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if has_bias else None
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if has_bias else None
    y = F.conv2d(xt, wt, bt, **kw)
    g = torch.tensor(rng.standard_normal(tuple(y.shape)))
    y.backward(g)
    np.testing.assert_allclose(conv2d_naive(x, w, b, **kw), y.detach().numpy(), atol=1e-10)
    out, cache = conv2d_im2col(x, w, b, **kw, return_cache=True)
    np.testing.assert_allclose(out, y.detach().numpy(), atol=1e-10)
    dx, dw, db = conv2d_im2col_backward(g.numpy(), cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-10)
    if has_bias:
        np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-10)
    xu, wu = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bu = torch.tensor(b, requires_grad=True) if has_bias else None
    conv2d_unfold(xu, wu, bu, **kw).backward(g)
    torch.testing.assert_close(xu.grad, xt.grad)
    torch.testing.assert_close(wu.grad, wt.grad)


@pytest.mark.parametrize(
    "fn", [conv2d_naive, conv2d_im2col, lambda x, w, **k: conv2d_unfold(torch.tensor(x), torch.tensor(w), **k)]
)
def test_impossible_shapes_are_clear_errors(fn):
    x = np.zeros((1, 6, 5, 5))
    with pytest.raises(ConvShapeError, match="divisible by groups"):
        fn(x, np.zeros((4, 2, 3, 3)), groups=4)
    with pytest.raises(ConvShapeError, match="larger than the padded input"):
        fn(x, np.zeros((4, 6, 7, 3)))
    with pytest.raises(ConvShapeError, match="larger than the padded input"):
        fn(x, np.zeros((4, 6, 3, 3)), dilation=3)
    with pytest.raises(ConvShapeError, match="input channels per group"):
        fn(x, np.zeros((4, 3, 3, 3)))
    with pytest.raises(ConvShapeError, match="stride 1"):
        fn(x, np.zeros((4, 6, 3, 3)), stride=2, padding="same")


def test_drop_in_module_has_nn_conv2d_parameters_and_init():
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=1, groups=1)
    torch.manual_seed(0)
    mine = conv.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=1, groups=1)
    assert ref.state_dict().keys() == mine.state_dict().keys()
    for k in ref.state_dict():
        assert torch.equal(ref.state_dict()[k], mine.state_dict()[k])
    x = torch.randn(2, 3, 11, 13)
    torch.testing.assert_close(mine(x), ref(x))


def test_model_trained_with_drop_in_conv_reaches_the_same_loss():
    torch.manual_seed(0)
    ref = build_model("net2", (3, 32, 32), 5)
    mine = build_model("net2", (3, 32, 32), 5, conv_impl="unfold")
    mine.load_state_dict(ref.state_dict())
    assert any(isinstance(m, conv.Conv2d) for m in mine.modules())
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(32, 3, 32, 32, generator=g), torch.randint(0, 5, (32,), generator=g)
    losses = {}
    for name, model in (("torch", ref), ("unfold", mine)):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(8):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses[name] = loss.item()
    assert losses["unfold"] < 1.6  # it learned (ln 5 = 1.609 at chance)
    assert losses["unfold"] == pytest.approx(losses["torch"], rel=1e-4, abs=1e-5)


def test_gate_names_failing_cases(monkeypatch):
    broken = lambda *a, **k: conv.conv2d_naive(*a, **k) + 1e-3  # noqa: E731
    monkeypatch.setattr(conv_check, "conv2d_naive", broken)
    table = conv_check.run_cases(impls=("naive",), cases=conv_check.CASES[:3])
    assert not table.passed.any()
    with pytest.raises(conv_check.ConvGateError, match=r"square_kernel \(naive\).*horizontal_kernel \(naive\)"):
        conv_check.gate(table)
    conv_check.gate(conv_check.run_cases(impls=("im2col",), cases=conv_check.CASES[:3]))  # passes silently


def test_timing_table_has_ratios_measured_against_torch():
    t = conv_check.time_layers([[2, 3, 16, 16, 4, 3, 1, 0]], repeats=1)
    assert set(t.implementation) == {"naive", "im2col", "unfold", "torch"}
    assert (t[t.implementation == "torch"].forward_ratio == 1.0).all()
    assert (t.forward_s > 0).all()


@pytest.mark.parametrize(
    "kwargs", [{}, {"stride": 2}, {"stride": (2, 3), "dilation": (2, 1)}, {"padding": 2, "dilation": 2}]
)
def test_hand_written_fold_equals_torch_fold(kwargs):
    x_shape, w_shape = (2, 3, 13, 11), (4, 3, 3, 2)
    g = conv.geometry(x_shape, w_shape, **kwargs)
    cols = torch.randn(2, 3 * 3 * 2, g.ho * g.wo, dtype=torch.float64)
    hp, wp = g.h + g.pad[0] + g.pad[1], g.w + g.pad[2] + g.pad[3]
    expected = F.fold(cols, (hp, wp), (3, 2), dilation=g.dilation, stride=g.stride)
    torch.testing.assert_close(conv.fold(cols, g), expected)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_unfold_function_computes_in_fp32_under_bf16_autocast(bias):
    """Autocast would run its matmuls in bf16 and its backward in fp32 (a bias-free layer's
    backward failed on mixed dtypes): it declares fp32 and matches F.conv2d in fp32."""
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 9, 9, requires_grad=True), torch.randn(4, 3, 3, 3, requires_grad=True)
    b = torch.randn(4, requires_grad=True) if bias else None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv2d_unfold(x, w, b, padding=1)
    y.square().sum().backward()
    ref = [t.detach().clone().requires_grad_(True) for t in (x, w)]
    F.conv2d(*ref, b.detach() if bias else None, padding=1).square().sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == torch.float32
    torch.testing.assert_close(x.grad, ref[0].grad, rtol=1e-4, atol=1e-4)  # fp32, the gate's fp32 tolerance
    torch.testing.assert_close(w.grad, ref[1].grad, rtol=1e-4, atol=1e-4)
