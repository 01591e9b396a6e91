"""Quantized (INT8) and binary layers: kernels against torch, derived bounds, XNOR, STE.

Claims: theory/claims/future.3-quant.yaml. Kernels: kernels.cpu.quantization; theory:
theory.quantization; figure: numerics.quantization_experiments.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import quantization as K
from numerics import quantization_experiments as X
from theory import quantization as T

seeds = st.integers(0, 2**32 - 1)
RANGES = [(-128, 127, torch.qint8), (0, 255, torch.quint8)]


def _rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.claim("d000.future.quant-torch-agree")
@settings(max_examples=25, deadline=None)
@given(
    seed=seeds,
    r=st.sampled_from(RANGES),
    scale=st.floats(1e-3, 2.0) | st.sampled_from([2.0**-6, 0.25, 1.0]),
    zp=st.integers(0, 20),
)
def test_per_tensor_bit_for_bit(seed, r, scale, zp):
    """Exact ties (x/s = k + 1/2 exactly) are placed only for dyadic scales, where the tie is
    representable: for other scales torch's float32 arithmetic decides the tie before rounding."""
    lo, hi, dt = r
    x = (_rng(seed).standard_normal((7, 9)) * 4).astype(np.float32)
    if np.log2(scale).is_integer():
        x[0, :4] = np.float32(scale) * np.array([0.5, 1.5, 2.5, -0.5], np.float32)  # ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, dt).int_repr().numpy()
    assert np.array_equal(q, K.quantize_per_tensor(x, scale, zp, lo, hi))
    f = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), scale, zp, lo, hi).numpy()
    assert np.array_equal(f, K.fake_quantize_per_tensor_affine(x, scale, zp, lo, hi))


@pytest.mark.claim("d000.future.quant-torch-agree")
@settings(max_examples=20, deadline=None)
@given(seed=seeds, axis=st.sampled_from([0, 1, -1]))
def test_per_channel_bit_for_bit(seed, axis):
    g = _rng(seed)
    x = (g.standard_normal((6, 5)) * 3).astype(np.float32)
    c = x.shape[axis]
    sc = (g.random(c) * 0.3 + 0.01).astype(np.float32).astype(np.float64)
    zp = g.integers(-5, 6, c)
    t = torch.fake_quantize_per_channel_affine(
        torch.from_numpy(x),
        torch.from_numpy(sc).float(),
        torch.from_numpy(zp).int(),
        axis % 2,
        -128,
        127,
    ).numpy()
    assert np.array_equal(t, K.fake_quantize_per_channel_affine(x, sc, zp, axis, -128, 127))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = (
            torch.quantize_per_channel(
                torch.from_numpy(x),
                torch.from_numpy(sc),
                torch.from_numpy(zp),
                axis % 2,
                torch.qint8,
            )
            .int_repr()
            .numpy()
        )
    assert np.array_equal(q, K.quantize_per_channel(x, sc, zp, axis))
    xt = np.array([[0.5, 1.5, 2.5, -0.5, 3.5]], np.float32)  # ties, odd zero point
    one = np.ones(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qt = torch.quantize_per_channel(
            torch.from_numpy(xt),
            torch.from_numpy(one),
            torch.ones(5, dtype=torch.long),
            1,
            torch.qint8,
        )
    assert np.array_equal(
        qt.int_repr().numpy(), K.quantize_per_channel(xt, one, np.ones(5, np.int64), 1)
    )
    assert np.array_equal(K.dequantize(q.astype(np.int64), 0.5, 0), q * 0.5)


def _near_ties(g, lo, hi, z, scale, shape):
    """float32 values within 1e-6 (relative) of a half step :math:`(k + 1/2)s`, ``k + z`` inside
    the code range: where dividing by :math:`s` and multiplying by the float32 :math:`1/s`, or
    adding :math:`z` before or after rounding the product, give different codes."""
    k = g.integers(lo - z, hi - z, shape)
    return ((k + 0.5) * scale * (1 + g.uniform(-1e-6, 1e-6, shape))).astype(np.float32)


@pytest.mark.claim("d000.future.quant-torch-agree")
@settings(max_examples=25, deadline=None)
@given(seed=seeds, r=st.sampled_from(RANGES), n=st.integers(1, 300), axis=st.sampled_from([0, 1]))
def test_near_half_steps_bit_for_bit(seed, r, n, axis):
    """Near-tie inputs, nonzero zero points, per tensor and per channel (the old kernel, which
    divided by the scale and added z in float64, failed this on about 3 % of the values)."""
    lo, hi, dt = r
    g = _rng(seed)
    s = float(np.float32(g.uniform(1e-3, 1.0)))
    z = int(g.integers(lo, hi + 1)) if g.random() < 0.5 else int(g.integers(max(lo, -9), 10))
    x = _near_ties(g, lo, hi, z, s, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.quantize_per_tensor(torch.from_numpy(x), s, z, dt).int_repr().numpy()
    assert np.array_equal(q, K.quantize_per_tensor(x, s, z, lo, hi))
    f = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), s, z, lo, hi).numpy()
    assert np.array_equal(f, K.fake_quantize_per_tensor_affine(x, s, z, lo, hi))
    sc = g.uniform(1e-3, 1.0, 3).astype(np.float32).astype(np.float64)
    zp = g.integers(max(lo, -9), 10, 3)
    xc = np.stack([_near_ties(g, lo, hi, int(zc), c, n) for c, zc in zip(sc, zp, strict=True)])
    xc = np.ascontiguousarray(xc if axis == 0 else xc.T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qc = torch.quantize_per_channel(
            torch.from_numpy(xc), torch.from_numpy(sc), torch.from_numpy(zp), axis, dt
        )
    assert np.array_equal(qc.int_repr().numpy(), K.quantize_per_channel(xc, sc, zp, axis, lo, hi))
    fc = torch.fake_quantize_per_channel_affine(
        torch.from_numpy(xc), torch.from_numpy(sc).float(), torch.from_numpy(zp).int(), axis, lo, hi
    ).numpy()
    assert np.array_equal(fc, K.fake_quantize_per_channel_affine(xc, sc, zp, axis, lo, hi))


def test_near_tie_example_from_the_review():
    """x = float32(-0.17339432), s = float32(0.0013599555...): x/s rounds to -127.49999 in
    float32 but x * (1/s) to -127.5, a tie that goes to the even code -128, as in torch."""
    x, s = np.array([-0.17339432], np.float32), np.float32(0.0013599555240944028)
    assert np.float32(x[0] / s) != -127.5 and np.float32(x[0] * (np.float32(1) / s)) == -127.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.quantize_per_tensor(torch.from_numpy(x), float(s), 0, torch.qint8)
    assert t.int_repr().item() == -128 == K.quantize_per_tensor(x, s, 0)[0]


_U = 2.0**-24  # unit roundoff of float32


def _elem_err(v, s, z):
    r"""A bound on :math:`|v - s(q - z)|` for the float32 quantizer: half a step, plus the
    float32 roundings of :math:`1/s` and of :math:`v\cdot s^{-1} + z` (at most
    :math:`u(1+u)(2|v| + s|z|)`), plus what the clamp can cut when the float32 scale is below
    the float64 one (:math:`s` times :math:`(q_{\max} - q_{\min})u(1+u) \le 256u(1+u)`)."""
    return s / 2 + _U * (1 + _U) * (2 * np.abs(v) + s * (abs(z) + 256))


@pytest.mark.claim("d000.future.quant-torch-agree")
@pytest.mark.claim("d000.future.quantized-linear-int8")
@pytest.mark.claim("d000.future.quant-dot-bound")
@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_dynamic_linear_equals_torch_and_within_the_bound(seed):
    import torch.ao.nn.quantized.dynamic as nnqd

    torch.manual_seed(seed % 2**31)
    lin = torch.nn.Linear(33, 7)
    x = (_rng(seed).standard_normal((5, 33)) * 2).astype(np.float32)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        from torch.ao import quantization as tq

        m = tq.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
    assert any("deprecated" in str(i.message) and "torchao" in str(i.message) for i in w)
    assert isinstance(m[0], nnqd.Linear)
    y = m(torch.from_numpy(x)).detach().numpy()
    assert y.dtype == np.float32  # the output is float, not int8
    wt, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
    ours = K.dynamic_quantized_linear(x.astype(np.float64), wt, b)
    # the same integer codes as torch (the extreme weight sits on a tie by construction)
    sw64, zw = K.choose_qparams(wt.min(), wt.max(), -128, 127, True)
    sx64, zx = K.choose_qparams(x.min(), x.max(), 0, 127, False)
    sw, sx = np.float32(sw64), np.float32(sx64)  # the scales torch uses
    qw = K.quantize_per_tensor(wt.astype(np.float32), sw, zw, -128, 127)
    assert np.array_equal(qw, m[0].weight().int_repr().numpy()) and m[0].weight().q_scale() == sw
    qx = K.quantize_per_tensor(x, sx, zx, 0, 127)
    acc = K.int8_linear_accumulate(qx, zx, qw, zw)  # |acc| < 33 * 128 * 127 < 2**24
    # torch's output is one float32 fused multiply-add fl(A * fl(s_x s_w) + b): bit for bit
    emul = K._fma32(acc.astype(np.float32), np.float32(sx * sw), b.astype(np.float32))
    assert np.array_equal(y, emul)
    # ours is the float64 value s_x s_w A + b; fl(s_x s_w) and the fma each err by at most u:
    # |y - ours| <= u(1 + u)|p| + u|p| + u|b| (p = s_x s_w A), plus float64 rounding of ours
    p = np.abs(ours - b)
    tol = _U * ((2 + _U) * p + np.abs(b)) + 2.0**-50 * (p + np.abs(b))
    assert np.all(np.abs(y.astype(np.float64) - ours) <= tol)
    # the derived bound |w.x - w^.x^| <= sum |x| e_w + sum |w^| e_x, strict (no loosening), with
    # e = s/2 plus the float32 roundings of the quantizer (_elem_err)
    sw, sx = float(sw), float(sx)
    ew, ex = _elem_err(wt, sw, zw), _elem_err(x.astype(np.float64), sx, zx)
    wabs = np.abs(wt) + ew
    exact = x.astype(np.float64) @ wt.T + b
    mag = (np.abs(x) + ex) @ wabs.T
    bound = np.abs(x) @ ew.T + ex @ wabs.T + 2.0**-50 * (mag + np.abs(b))
    assert np.all(np.abs(ours - exact) <= bound)
    assert np.all(np.abs(y - exact) <= bound + _U * ((2 + _U) * mag + np.abs(b)))


@pytest.mark.claim("d000.future.quantized-linear-int8")
def test_int8_products_need_an_int32_accumulator():
    qx = np.full((1, 256), -128, np.int64)
    qw = np.full((3, 256), -128, np.int64)
    acc = K.int8_linear_accumulate(qx, 0, qw, 0)
    assert acc.dtype == np.int32 and int(acc[0, 0]) == 256 * 128**2 > 127
    assert 127 * 127 > np.iinfo(np.int8).max
    out = K.requantize(acc, 1.0 / 2**16, 0, 0, 255)
    assert int(out[0, 0]) == 64


@pytest.mark.claim("d000.future.quant-half-step")
@settings(max_examples=30, deadline=None)
@given(seed=seeds, bits=st.integers(2, 12), per_channel=st.booleans(), sym=st.booleans())
def test_error_at_most_half_a_step(seed, bits, per_channel, sym):
    """Symmetric (z = 0) and affine (z != 0 in general) parameters; exact half steps inside the
    code range are errors of exactly s/2 for every bit width (dyadic s: exact arithmetic)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    g = _rng(seed)
    w = g.standard_normal((4, 16)) + g.uniform(-1, 1)
    if per_channel:
        qp = [K.choose_qparams(r.min(), r.max(), lo, hi, sym) for r in w]
        sc, zp = np.array([q[0] for q in qp]), np.array([q[1] for q in qp], np.int64)
        e = w - K.fake_quantize_per_channel_affine(w, sc, zp, 0, lo, hi)
        assert np.all(np.abs(e) <= sc[:, None] / 2 * (1 + 1e-12))
    else:
        s, z = K.choose_qparams(w.min(), w.max(), lo, hi, sym)
        e = w - K.fake_quantize_per_tensor_affine(w, s, z, lo, hi)
        assert np.all(np.abs(e) <= s / 2 * (1 + 1e-12))
    s = 2.0**-3
    z = int(g.integers(lo, hi))  # a nonzero zero point in general
    k = g.integers(lo - z, hi - z, 8)  # k and k + 1 are codes in range
    ties = (k + 0.5) * s
    err = np.abs(ties - K.fake_quantize_per_tensor_affine(ties, s, z, lo, hi))
    assert np.array_equal(err, np.full(8, s / 2))
    assert T.derive_rounding_error().agrees()


@pytest.mark.claim("d000.future.quant-dot-bound")
@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(1, 64))
def test_dot_product_bound_and_tight_case(seed, n):
    g = _rng(seed)
    w, x = g.standard_normal(n), g.standard_normal(n)
    sw, zw = K.choose_qparams(w.min(), w.max(), -128, 127, True)
    sx, zx = K.choose_qparams(x.min(), x.max(), -128, 127, False)
    wh = K.fake_quantize_per_tensor_affine(w, sw, zw, -128, 127)
    xh = K.fake_quantize_per_tensor_affine(x, sx, zx, -128, 127)
    slack = 1e-12 * (1 + np.abs(w) @ np.abs(x))
    assert abs(w @ x - wh @ xh) <= sw / 2 * np.abs(x).sum() + sx / 2 * np.abs(wh).sum() + slack
    assert abs(w @ x - wh @ x) <= sw / 2 * np.abs(x).sum() + slack
    # tight: w_i = 5/2 s_w -> 2 s_w, x_i = s_x/2 -> 0 (powers of two: exact arithmetic)
    sw, sx = 2.0**-4, 2.0**-3
    wt, xt = np.full(n, 2.5 * sw), np.full(n, 0.5 * sx)
    wth = K.fake_quantize_per_tensor_affine(wt, sw, 0, -128, 127)
    xth = K.fake_quantize_per_tensor_affine(xt, sx, 0, -128, 127)
    assert wt @ xt - wth @ xth == sw / 2 * np.abs(xt).sum() + sx / 2 * np.abs(wth).sum()
    s = np.sign(g.standard_normal(n))
    assert (
        abs(K.fake_quantize_per_tensor_affine(s * sw / 2, sw, 0, -128, 127) @ s - (s * sw / 2) @ s)
        == sw / 2 * n
    )
    assert T.derive_dot_product_bound().agrees()


@pytest.mark.claim("d000.future.torch-sign-zero")
def test_torch_sign_zero_is_not_a_binarizer():
    t = torch.sign(torch.tensor([0.0, -0.0, 2.0, -3.0]))
    assert t.tolist() == [0.0, 0.0, 1.0, -1.0]
    pre = torch.tensor([[1.0, 1.0]]) @ torch.tensor([[1.0, -1.0]]).T
    assert torch.sign(pre).item() == 0.0  # a pitfall: a 0 "binary" activation
    h = K.binary_sign(np.array([[1.0, 1.0]]) @ np.array([[1.0, -1.0]]).T)
    assert h.tolist() == [[1.0]]
    assert set(np.unique(K.binary_sign(np.array([0.0, -0.0, 1e-300, -2.0])))) <= {-1.0, 1.0}


@pytest.mark.claim("d000.future.bnn-plus-minus-one")
def test_bnn_values_outside_plus_minus_one():
    """The counterexample: the unbinarized output layer and XNOR-Net's scaled weights."""
    out = K.binary_linear(np.array([[1.0, 1.0], [1.0, -1.0]]), np.ones((1, 2)), scale=False)
    assert out.ravel().tolist() == [2.0, 0.0]  # not in {-1, +1}
    alpha, b = K.xnor_binarize(np.array([[0.5, -0.25]]))
    assert (alpha[:, None] * b).ravel().tolist() == [0.375, -0.375]


@pytest.mark.claim("d000.future.bnn-plus-minus-one")
@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_binary_layer_values(seed):
    g = _rng(seed)
    x = g.integers(-2, 3, (4, 6)).astype(np.float64)  # many exact zeros
    w = g.standard_normal((3, 6))
    y = K.binary_linear(x, w, scale=False)  # a hidden layer: its activations are sign_b(y)
    assert set(np.unique(K.binary_sign(y))) <= {-1.0, 1.0}
    assert set(np.unique(K.xnor_binarize(w)[1])) <= {-1.0, 1.0}
    n = x.shape[1]  # the unbinarized sums are integers in [-n, n] of n's parity
    assert np.all(y == np.rint(y)) and np.all(np.abs(y) <= n) and np.all((y - n) % 2 == 0)


@pytest.mark.claim("d000.future.xnor-scaling")
@settings(max_examples=20, deadline=None)
@given(seed=seeds, n=st.integers(1, 8))
def test_xnor_alpha_is_optimal_by_enumeration(seed, n):
    w = _rng(seed).standard_normal((1, n))
    w[0, 0] = 0.0
    alpha, b = K.xnor_binarize(w)
    best = min(
        np.sum((w[0] - (bv @ w[0] / n) * bv) ** 2)
        for bits in range(2**n)
        for bv in [np.array([1.0 if bits >> i & 1 else -1.0 for i in range(n)])]
    )
    ours = np.sum((w[0] - alpha[0] * b[0]) ** 2)
    assert ours <= best + 1e-12
    assert np.isclose(alpha[0], np.abs(w).mean())
    a0, _ = K.xnor_binarize(np.zeros((1, n)))
    assert a0[0] == 0.0
    assert T.derive_xnor_scaling().agrees()


@pytest.mark.claim("d000.future.binary-ste")
@settings(max_examples=20, deadline=None)
@given(seed=seeds)
def test_ste_against_autograd(seed):
    g = _rng(seed)
    x = np.concatenate([g.uniform(-2, 2, 20), [-1.0, 1.0, 0.0]])
    go = g.standard_normal(x.shape)
    xt = torch.from_numpy(x).requires_grad_()
    ht = torch.nn.functional.hardtanh(xt)
    y = ht + (torch.sign(xt) - ht).detach()
    y.backward(torch.from_numpy(go))
    ours = K.binary_sign_backward(go, x)
    inner = np.abs(x) != 1
    assert np.array_equal(xt.grad.numpy()[inner], ours[inner])
    assert np.all(xt.grad.numpy()[~inner] == 0) and np.array_equal(ours[~inner], go[~inner])
    assert T.derive_ste().agrees()


@pytest.mark.claim("d000.future.mixed-precision")
def test_autocast_mixes_precisions():
    lin = torch.nn.Linear(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = lin(torch.randn(3, 4))
        loss = torch.nn.functional.mse_loss(y, torch.zeros(3, 4))
    assert y.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert lin.weight.dtype == torch.float32


def test_error_figure():
    d = X.quantization_error_by_bits(0)
    assert np.all(d["max_err"] <= d["scale"] / 2 * (1 + 1e-12))
    assert np.all(np.diff(np.log2(d["scale"])) < -0.9)
    r = d["rms_err"] / (d["scale"] / np.sqrt(12))
    assert np.all(np.abs(r[3:] - 1) < 0.1)
    png = X.quantization_error_figure(0)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
