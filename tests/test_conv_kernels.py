"""Convolution kernels: direct and im2col forward and backward against torch, float32 and float64.

Claims: d000.conv.multichannel, d000.conv.dilated-definition, d000.conv.grouped-definition
(theory/claims/conv.yaml). Kernels: kernels.cpu.conv2d.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from kernels.cpu.conv2d import (
    conv2d_direct,
    conv2d_direct_backward,
    conv2d_im2col,
    conv2d_im2col_backward,
)
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.tolerances import assert_close
from tests.assertions import context
from tests.strategies import conv_layer

KERNELS = [(conv2d_direct, conv2d_direct_backward), (conv2d_im2col, conv2d_im2col_backward)]
seeds = st.integers(0, 2**32 - 1)


def _inputs(layer, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((layer.batch, layer.in_channels, layer.h.size, layer.w.size))
    w = rng.standard_normal((layer.out_channels, layer.in_channels // layer.groups, *layer.kernel))
    b = rng.standard_normal(layer.out_channels)
    return x.astype(dtype), w.astype(dtype), b.astype(dtype)


@pytest.mark.claim(
    "d000.conv.multichannel", "d000.conv.dilated-definition", "d000.conv.grouped-definition"
)
@given(layer=conv_layer(), seed=seeds, dtype=st.sampled_from([np.float32, np.float64]))
def test_forward_matches_torch(layer, seed, dtype):
    x, w, b = _inputs(layer, seed, dtype)
    expected = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **layer.kwargs()
    ).numpy()
    # the same operation on absolute values bounds the rounding error of any correct sum
    magnitude = F.conv2d(
        torch.from_numpy(np.abs(x)).double(),
        torch.from_numpy(np.abs(w)).double(),
        torch.from_numpy(np.abs(b)).double(),
        **layer.kwargs(),
    ).numpy()
    n = w[0].size + 1
    for forward, _ in KERNELS:
        y = forward(x, w, b, **layer.kwargs())
        assert y.dtype == dtype
        ctx = context(
            "d000.conv.multichannel",
            layer=layer,
            seed=seed,
            dtype=dtype.__name__,
            kernel=forward.__name__,
        )
        assert_close(y, expected, dtype, reduction_length=n, magnitude=magnitude, context=ctx)


@pytest.mark.claim("d000.conv.multichannel")
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    data=st.data(),
)
def test_document_formula_written_out(c_in, c_out, h, w, data):
    """Y[o,i,j] = sum_c sum_m sum_n X[c, i+m, j+n] K[o, c, m, n] + b[o], as literal loops."""
    kh = data.draw(st.integers(1, h), label="kh")
    kw = data.draw(st.integers(1, w), label="kw")
    rng = np.random.default_rng(data.draw(seeds, label="seed"))
    x, k, b = (
        rng.standard_normal((c_in, h, w)),
        rng.standard_normal((c_out, c_in, kh, kw)),
        rng.standard_normal(c_out),
    )
    ho, wo = h - kh + 1, w - kw + 1
    literal = np.zeros((c_out, ho, wo))
    for o in range(c_out):
        for i in range(ho):
            for j in range(wo):
                literal[o, i, j] = (
                    sum(
                        x[c, i + m, j + n] * k[o, c, m, n]
                        for c in range(c_in)
                        for m in range(kh)
                        for n in range(kw)
                    )
                    + b[o]
                )
    ours = conv2d_direct(x[None], k, b)[0]
    assert_close(ours, literal, np.float64)
    assert_close(
        F.conv2d(torch.from_numpy(x[None]), torch.from_numpy(k), torch.from_numpy(b))[0].numpy(),
        literal,
        np.float64,
    )


@pytest.mark.claim("d000.conv.dilated-definition")
@given(size=st.integers(1, 12), k=st.integers(1, 4), d=st.integers(1, 4), seed=seeds)
def test_dilated_formula_written_out(size, k, d, seed):
    """(I *_d K)[i] = sum_m I[i + d m] K[m] (one channel, 1-D slice of the 2-D kernel)."""
    if d * (k - 1) + 1 > size:
        return
    rng = np.random.default_rng(seed)
    x, kern = rng.standard_normal((1, 1, 1, size)), rng.standard_normal((1, 1, 1, k))
    out = size - d * (k - 1)
    literal = np.array(
        [sum(x[0, 0, 0, i + d * m] * kern[0, 0, 0, m] for m in range(k)) for i in range(out)]
    )
    assert_close(conv2d_direct(x, kern, dilation=d)[0, 0, 0], literal, np.float64)
    assert_close(conv2d_im2col(x, kern, dilation=d)[0, 0, 0], literal, np.float64)


@pytest.mark.claim("d000.conv.grouped-definition")
@given(layer=conv_layer(max_groups=4), seed=seeds)
def test_grouped_is_independent_convolutions_per_group(layer, seed):
    x, w, b = _inputs(layer, seed, np.float64)
    g = layer.groups
    kwargs = {k: v for k, v in layer.kwargs().items() if k != "groups"}
    cg, og = layer.in_channels // g, layer.out_channels // g
    parts = [
        conv2d_direct(
            x[:, i * cg : (i + 1) * cg],
            w[i * og : (i + 1) * og],
            b[i * og : (i + 1) * og],
            **kwargs,
        )
        for i in range(g)
    ]
    assert_close(
        conv2d_im2col(x, w, b, **layer.kwargs()), np.concatenate(parts, axis=1), np.float64
    )


@pytest.mark.claim("d000.conv.multichannel", "d000.conv.grouped-definition")
@given(layer=conv_layer(max_per_group=2, max_extra=4), seed=seeds)
def test_gradients_three_ways(layer, seed):
    """Hand-written backward (both kernels) = torch autograd = float64 central differences."""
    x, w, b = _inputs(layer, seed, np.float64)
    kw = layer.kwargs()
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, **kw)
    g = np.random.default_rng(seed + 1).standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(g))
    ctx = context("d000.conv.multichannel", layer=layer, seed=seed)
    for _, backward in KERNELS:
        dx, dw, db = backward(g, x, w, b, **kw)
        for ours, theirs in ((dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
            assert_close(
                ours,
                theirs.numpy(),
                np.float64,
                reduction_length=g.size,
                magnitude=np.abs(theirs.numpy()) + 1,
                context=ctx,
            )
    dx, dw, db = conv2d_direct_backward(g, x, w, b, **kw)
    assert_grad_close(
        dx, central_difference(lambda v: conv2d_direct(v, w, b, **kw), x.copy(), g), ctx
    )
    assert_grad_close(
        dw, central_difference(lambda v: conv2d_direct(x, v, b, **kw), w.copy(), g), ctx
    )
    assert_grad_close(
        db, central_difference(lambda v: conv2d_direct(x, w, v, **kw), b.copy(), g), ctx
    )


@pytest.mark.claim("d000.conv.multichannel")
def test_irregular_shape_float32():
    """One larger, irregular case (odd sizes, groups, stride, dilation) in float32."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 6, 37, 29)).astype(np.float32)
    w = rng.standard_normal((9, 2, 5, 3)).astype(np.float32)
    b = rng.standard_normal(9).astype(np.float32)
    kw = dict(stride=(2, 3), padding=(2, 1), dilation=(1, 2), groups=3)
    expected = F.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), **kw).numpy()
    mag = F.conv2d(*(torch.from_numpy(np.abs(a)).double() for a in (x, w, b)), **kw).numpy()
    for forward, _ in KERNELS:
        assert_close(
            forward(x, w, b, **kw),
            expected,
            np.float32,
            reduction_length=w[0].size + 1,
            magnitude=mag,
        )


@pytest.mark.claim("d000.conv.multichannel", "d000.conv.dilated-definition")
@given(
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    extra=st.integers(0, 3),
    padding=st.sampled_from(["same", "valid"]),
    seed=seeds,
)
def test_string_padding_and_empty_batch_match_torch(k, d, extra, padding, seed):
    """padding='same' (even kernels: the extra zero after, as torch) and 'valid' through the
    shared argument handling, in the direct, im2col and Toeplitz kernels, forward and
    backward; an empty batch gives torch's empty output."""
    from kernels.cpu.conv1d import conv1d_toeplitz
    from kernels.cpu.conv2d_matrix import conv2d_toeplitz

    rng = np.random.default_rng(seed)
    size = [di * (ki - 1) + 1 + extra for ki, di in zip(k, d, strict=True)]
    x = rng.standard_normal((2, 2, *size))
    w = rng.standard_normal((3, 2, *k))
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    y = F.conv2d(xt, wt, padding=padding, dilation=d)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(g))
    for forward, backward in KERNELS:
        assert_close(forward(x, w, padding=padding, dilation=d), y.detach().numpy(), np.float64)
        dx, dw, _ = backward(g, x, w, padding=padding, dilation=d)
        assert_close(dx, xt.grad.numpy(), np.float64)
        assert_close(dw, wt.grad.numpy(), np.float64)
        assert forward(x[:0], w, padding=padding, dilation=d).shape == (0, *y.shape[1:])
    if d == (1, 1):
        assert_close(conv2d_toeplitz(x, w, padding=padding), y.detach().numpy(), np.float64)
        y1 = F.conv1d(torch.from_numpy(x[:, :, 0]), torch.from_numpy(w[:, :, 0]), padding=padding)
        assert_close(conv1d_toeplitz(x[:, :, 0], w[:, :, 0], padding=padding), y1.numpy(),
                     np.float64)  # fmt: skip


# ---------------------------------------------------------------- outside fuzz (issue 10)


@pytest.mark.claim("d002.conv.circulant")
@given(exponent=st.integers(1000, 1020), two_d=st.booleans(), seed=seeds)
def test_circular_fft_of_huge_finite_input_is_exact_rescaling(exponent, two_d, seed):
    """The FFT convolutions are linear: x * 2**k and weight * 2**-m give the result of x and
    weight times 2**(k-m), with no NaN from sums overflowing inside the transforms (the
    result itself, about 2**(k-m+4), is finite). Positive inputs make every sum overflow."""
    import warnings

    from kernels.cpu.conv1d import conv1d_circular_fft
    from kernels.cpu.conv2d_matrix import conv2d_circular_fft

    rng = np.random.default_rng(seed)
    shape, wshape = ((2, 3, 7, 5), (2, 3, 3, 3)) if two_d else ((2, 3, 9), (2, 3, 3))
    x, w = rng.uniform(0.5, 1, shape), rng.uniform(0.5, 1, wshape)
    fn = conv2d_circular_fft if two_d else conv1d_circular_fft
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        y = fn(np.ldexp(x, exponent), np.ldexp(w, -40))
    assert np.isfinite(y).all()
    assert_close(np.ldexp(y, 40 - exponent), fn(x, w), np.float64)
