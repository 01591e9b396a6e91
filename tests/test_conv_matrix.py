"""Convolution as a matrix, cross-correlation vs convolution, translation equivariance.

Claims: theory/claims/conv_matrix.yaml. Helpers: theory.conv_matrix, theory.conv.im2col_elements.
Kernels: kernels.cpu.conv1d, kernels.cpu.conv2d.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.cpu.conv1d import conv1d_circular_fft, conv1d_toeplitz, toeplitz
from kernels.cpu.conv2d import _columns, _geometry, conv2d_im2col, im2col
from kernels.cpu.conv2d_matrix import conv2d_circular_fft, conv2d_toeplitz, doubly_block_toeplitz
from numerics.opcount import MacCounter
from numerics.tolerances import assert_close
from tests.strategies import Conv1dGeometry, ConvLayer, conv_layer
from theory import conv_matrix as th
from theory.conv import conv_macs, conv_params, im2col_elements

seeds = st.integers(0, 2**32 - 1)


def _conv1d_inputs(seed: int, c_in: int, c_out: int, n: int, k: int):
    """x (2, c_in, n), weight (c_out, c_in, k), bias (c_out,), float64, from one seed."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((2, c_in, n)),
        rng.standard_normal((c_out, c_in, k)),
        rng.standard_normal(c_out),
    )


def _t(*arrays):
    return [torch.from_numpy(a) for a in arrays]


# --------------------------------------------------------------------------- conv vs xcorr


@pytest.mark.claim("d000.conv.discrete-convolution", "d000.conv.cross-correlation")
def test_stated_formula_is_cross_correlation_counterexample():
    i, k = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    stated = sum(i[m] * k[m] for m in range(2))  # sum_m I[i + m] K[m] at i = 0
    true_conv = float(np.convolve(i, k, mode="valid")[0])  # flips the kernel
    torch_out = float(F.conv1d(*_t(i[None, None], k[None, None]))[0, 0, 0])
    assert (stated, true_conv, torch_out) == (2.0, 1.0, 2.0)  # torch = the stated formula


@pytest.mark.claim("d000.conv.cross-correlation", "d002.conv.toeplitz")
@given(n=st.integers(1, 12), k=st.integers(1, 6), seed=seeds)
def test_toeplitz_is_true_convolution_and_flipped_it_is_torch(n, k, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(k)
    t = toeplitz(w, n)
    assert_close(t @ x, np.convolve(x, w, mode="full"), np.float64)
    taps = sympy.symbols(f"k0:{k}")
    sym = th.toeplitz_matrix(taps, n)
    assert sym.shape == t.shape
    assert all(
        sym[i, j] == (taps[i - j] if 0 <= i - j < k else 0)
        for i in range(sym.rows)
        for j in range(n)
    )
    if k <= n:  # valid rows with the flipped kernel = torch's cross-correlation
        valid = toeplitz(w[::-1].copy(), n)[k - 1 : n]
        assert_close(
            valid @ x, F.conv1d(*_t(x[None, None], w[None, None]))[0, 0].numpy(), np.float64
        )
        assert th.toeplitz_matrix(taps, n, "valid") == sym[k - 1 : n, :]


@pytest.mark.claim("d002.conv.toeplitz", "d000.conv.cross-correlation")
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    n=st.integers(1, 10),
    k=st.integers(1, 5),
    pad=st.integers(0, 3),
    seed=seeds,
)
def test_toeplitz_kernel_matches_torch_conv1d(c_in, c_out, n, k, pad, seed):
    if n + 2 * pad < k:
        with pytest.raises(ValueError, match="output size < 1"):
            conv1d_toeplitz(np.zeros((1, c_in, n)), np.zeros((c_out, c_in, k)), padding=pad)
        return
    x, w, b = _conv1d_inputs(seed, c_in, c_out, n, k)
    expected = F.conv1d(*_t(x, w, b), padding=pad).numpy()
    assert_close(conv1d_toeplitz(x, w, b, pad), expected, np.float64)


@pytest.mark.claim("d002.conv.toeplitz-sparse")
@given(n=st.integers(1, 12), k=st.integers(1, 12))
@example(n=2, k=2)
def test_toeplitz_density(n, k):
    t = th.toeplitz_matrix(sympy.symbols(f"k0:{k}"), n)
    nonzero = sum(1 for e in t if e != 0)
    assert nonzero == n * k
    density = sympy.Rational(nonzero, t.rows * t.cols)
    assert density == sympy.Rational(k, n + k - 1)
    assert (density < sympy.Rational(1, 2)) == (k < n - 1)


# --------------------------------------------------------------------------- circulant, FFT


@pytest.mark.claim("d002.conv.circulant")
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    n=st.integers(1, 12),
    half=st.integers(0, 3),
    seed=seeds,
)
def test_circular_fft_kernel_matches_torch_circular_padding(c_in, c_out, n, half, seed):
    k = 2 * half + 1
    if k > n:
        return
    x, w, b = _conv1d_inputs(seed, c_in, c_out, n, k)
    expected = F.conv1d(
        F.pad(torch.from_numpy(x), (half, half), mode="circular"), *_t(w, b)
    ).numpy()
    assert_close(
        conv1d_circular_fft(x, w, b),
        expected,
        np.float64,
        reduction_length=c_in * n,
        magnitude=np.full(expected.shape, np.abs(x).max() * np.abs(w).sum() + 1),
    )
    # the same operator as a circulant matrix (true convolution with the flipped kernel, rolled)
    c = np.array(th.circulant_matrix(list(w[0, 0, ::-1]), n), dtype=np.float64)
    single = conv1d_circular_fft(x[:, :1], w[:1, :1])[0, 0]
    assert_close(np.roll(c @ x[0, 0], -(k - 1) + half), single, np.float64)


@pytest.mark.claim(
    "d002.conv.circulant",
    "d002.conv.structure-equivariance",
    "d000.conv.translation-equivariance",
    "d002.conv.equivariance-proof",
)
def test_circulant_commutes_with_every_shift_symbolically():
    assert th.equivariance_circular_proved(8)


@pytest.mark.claim("d000.conv.translation-equivariance", "d002.conv.equivariance-proof")
def test_equivariance_proof_steps():
    d = th.derive_equivariance_proof()
    assert d.agrees()  # summands of step 3 and step 4 are identical ...
    assert d.steps[1].expr.limits == d.steps[2].expr.limits  # ... and so are the limits
    finite = d.steps[3].expr  # on a finite range the re-indexing moves the limits
    n = sympy.Symbol("n")
    assert finite.limits[0][1:] == (
        -sympy.Symbol("v", integer=True),
        n - 1 - sympy.Symbol("v", integer=True),
    )


@pytest.mark.claim("d000.conv.translation-equivariance", "d002.conv.structure-equivariance")
@given(n=st.integers(2, 16), half=st.integers(0, 3), shift=st.integers(-20, 20), seed=seeds)
def test_circular_convolution_commutes_with_roll(n, half, shift, seed):
    k = 2 * half + 1
    if k > n:
        return
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((1, 2, n)), rng.standard_normal((3, 2, k))
    assert_close(
        conv1d_circular_fft(np.roll(x, shift, axis=-1), w),
        np.roll(conv1d_circular_fft(x, w), shift, axis=-1),
        np.float64,
    )


@pytest.mark.claim("d000.conv.translation-equivariance", "d002.conv.structure-equivariance")
def test_equivariance_counterexamples_border_and_stride():
    # zero boundary, valid mode, k = (1, 1)
    def conv(v):
        return F.conv1d(torch.tensor(v)[None, None], torch.ones(1, 1, 2))[0, 0].tolist()

    assert conv([1.0, 0.0, 0.0]) == [1.0, 0.0]
    assert conv([0.0, 1.0, 0.0]) == [1.0, 1.0] != [0.0, 1.0]

    # stride 2: odd shifts do not commute, even shifts shift the output by shift/2
    def strided(v):
        weight = torch.ones(1, 1, 1)
        return F.conv1d(torch.tensor(v)[None, None], weight, stride=2)[0, 0].tolist()

    assert strided([1.0, 0.0, 0.0, 0.0]) == [1.0, 0.0]
    assert strided([0.0, 1.0, 0.0, 0.0]) == [0.0, 0.0]
    assert strided([0.0, 0.0, 1.0, 0.0]) == [0.0, 1.0]


@pytest.mark.claim("d000.conv.translation-equivariance")
@given(n=st.integers(4, 12), shift=st.integers(1, 5), stride=st.integers(2, 3), seed=seeds)
def test_strided_circular_conv_is_equivariant_only_for_multiples_of_the_stride(
    n, shift, stride, seed
):
    n = n - n % stride  # whole number of strides around the circle
    x = np.random.default_rng(seed).standard_normal(n)

    def f(v):
        weight = torch.ones(1, 1, 1, dtype=torch.float64)
        return F.conv1d(torch.from_numpy(v)[None, None], weight, stride=stride)[0, 0].numpy()

    if shift % stride == 0:
        assert_close(f(np.roll(x, shift)), np.roll(f(x), shift // stride), np.float64)
    else:  # with generic data no shift of the output matches
        outs = [np.roll(f(x), s) for s in range(len(f(x)))]
        assert not any(np.allclose(f(np.roll(x, shift)), o) for o in outs)


# --------------------------------------------------------------------------- sharing, im2col


@pytest.mark.claim("d000.conv.parameter-sharing")
@given(n=st.integers(2, 10), k=st.integers(1, 4), seed=seeds)
def test_jacobian_rows_are_shifted_copies_of_the_kernel(n, k, seed):
    if k > n:
        return
    w = np.random.default_rng(seed).standard_normal(k)
    jac = torch.autograd.functional.jacobian(
        lambda v: F.conv1d(v[None, None], torch.from_numpy(w)[None, None])[0, 0],
        torch.zeros(n, dtype=torch.float64),
    ).numpy()
    for i in range(n - k + 1):
        row = np.zeros(n)
        row[i : i + k] = w
        assert np.array_equal(jac[i], row)


@pytest.mark.claim("d002.conv.im2col")
@given(layer=conv_layer())
def test_im2col_product_and_buffer_size(layer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.batch, layer.in_channels, layer.h.size, layer.w.size))
    w = rng.standard_normal((layer.out_channels, layer.in_channels // layer.groups, *layer.kernel))
    b = rng.standard_normal(layer.out_channels)
    y = conv2d_im2col(x, w, b, **layer.kwargs())
    assert_close(y, F.conv2d(*_t(x, w, b), **layer.kwargs()).numpy(), np.float64)
    geo = _geometry(x, w, None, **layer.kwargs())
    cols = _columns(x, w, geo)  # the copied buffer: (N, G, C_in/G*K_h*K_w, H_out*W_out)
    assert cols.size == layer.batch * im2col_elements(layer.in_channels, layer.kernel, y.shape[2:])
    # zero-copy variant: the unfolded matrix is a strided view of the input, same result
    with MacCounter() as copied:
        conv2d_im2col(x, w, b, **layer.kwargs())
    with MacCounter() as viewed:
        y_view = conv2d_im2col(x, w, b, **layer.kwargs(), copy=False)
    assert_close(y_view, y, np.float64)
    assert viewed.macs == copied.macs
    if layer.kwargs()["padding"] in (0, (0, 0)):
        assert np.shares_memory(im2col(x, layer.kernel, geo), x)


@pytest.mark.claim("d002.conv.im2col")
def test_im2col_memory_factor_is_kernel_area_for_same_padding():
    for k, size, c in ((3, 56, 64), (5, 14, 8), (1, 7, 3)):
        ratio = sympy.Rational(im2col_elements(c, k, size), c * size * size)
        assert ratio == k * k


# --------------------------------------------------------------------------- review questions


@pytest.mark.claim("d000.conv.review-equivariance", "d000.conv.review-parameter-sharing")
def test_matrices_commuting_with_the_shift_are_exactly_circulants():
    for n in range(1, 7):
        m = th.shift_commutant(n)
        free = sorted(m.free_symbols, key=str)
        assert len(free) == n  # n free parameters: one kernel, not n^2 weights
        first = m[:, 0]
        assert m == th.circulant_matrix(list(first), n)
        for v in range(n):  # ... and it commutes with every shift, not only S_1
            s = th.shift_matrix(n, v)
            assert (m * s - s * m).applyfunc(sympy.expand) == sympy.zeros(n, n)
    # a non-circulant matrix does not commute: the shift constraint is not vacuous
    generic = sympy.Matrix(3, 3, sympy.symbols("a0:9"))
    assert generic * th.shift_matrix(3, 1) != th.shift_matrix(3, 1) * generic


def _locally_connected_count(n: int, k: int) -> int:
    """Weights of an unshared layer with conv1d's valid windows: one per structurally non-zero
    Jacobian entry of conv1d (each is also one multiplication of the layer)."""
    w = torch.arange(1.0, k + 1, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda v: F.conv1d(v[None, None], w[None, None])[0, 0], torch.zeros(n, dtype=torch.float64)
    )
    return int((jac != 0).sum())


@pytest.mark.claim("d000.conv.review-parameter-sharing", "d002.conv.review-parameter-sharing")
@given(n=st.integers(1, 40), k=st.integers(1, 8))
@example(n=8, k=3)
def test_sharing_gains_output_positions_in_parameters_not_in_macs(n, k):
    if k > n:
        return
    positions = n - k + 1
    unshared = _locally_connected_count(n, k)
    shared = conv_params(1, 1, (k,), bias=False)
    assert unshared == positions * shared  # gain = number of output positions
    assert conv_macs(1, 1, (k,), (positions,)) == unshared  # same computation
    if (n, k) == (8, 3):  # the document's factor spatial/kernel = 8/3 is not the gain 6
        assert sympy.Rational(unshared, shared) == 6 != sympy.Rational(8, 3)


# --------------------------------------------------------------------------- 2-D matrix forms


@pytest.mark.claim("d002.conv.toeplitz", "d000.conv.cross-correlation")
@given(
    c_in=st.integers(1, 2),
    c_out=st.integers(1, 2),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    seed=seeds,
)
def test_conv2d_doubly_block_toeplitz_matches_torch(c_in, c_out, h, w, kh, kw, ph, pw, seed):
    if kh > h + 2 * ph or kw > w + 2 * pw:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    b = rng.standard_normal(c_out)
    expected = F.conv2d(*_t(x, weight, b), padding=(ph, pw)).numpy()
    assert_close(conv2d_toeplitz(x, weight, b, (ph, pw)), expected, np.float64)
    # block Toeplitz with Toeplitz blocks: block (i, j) depends on j - i only
    hp, wp = h + 2 * ph, w + 2 * pw
    m = doubly_block_toeplitz(weight[0, 0], hp, wp)
    wo = wp - kw + 1
    blocks = {}
    for i in range(hp - kh + 1):
        for j in range(hp):
            block = m[i * wo : (i + 1) * wo, j * wp : (j + 1) * wp]
            blocks.setdefault(j - i, block)
            assert np.array_equal(block, blocks[j - i])
            assert all(len(set(np.diagonal(block, d))) <= 1 for d in range(-wo + 1, wp))


@pytest.mark.claim("d002.conv.circulant")
@given(
    c_in=st.integers(1, 2),
    c_out=st.integers(1, 2),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    half_h=st.integers(0, 2),
    half_w=st.integers(0, 2),
    seed=seeds,
)
def test_conv2d_circular_fft_matches_torch_circular_padding(
    c_in, c_out, h, w, half_h, half_w, seed
):
    kh, kw = 2 * half_h + 1, 2 * half_w + 1
    if kh > h or kw > w:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    b = rng.standard_normal(c_out)
    padded = F.pad(torch.from_numpy(x), (half_w, half_w, half_h, half_h), mode="circular")
    expected = F.conv2d(padded, *_t(weight, b)).numpy()
    assert_close(
        conv2d_circular_fft(x, weight, b),
        expected,
        np.float64,
        reduction_length=c_in * h * w,
        magnitude=np.full(expected.shape, np.abs(x).max() * np.abs(weight).sum() + 1),
    )
    # equivariant under every circular 2-D shift
    shifted = conv2d_circular_fft(np.roll(x, (1, 2), axis=(2, 3)), weight, b)
    assert_close(
        shifted, np.roll(conv2d_circular_fft(x, weight, b), (1, 2), axis=(2, 3)), np.float64
    )


# --------------------------------------------------------------------------- review (issue 10 §5)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@pytest.mark.claim("d000.conv.cross-correlation")
@given(ndim=st.integers(1, 3), n=st.integers(1, 5), k=st.integers(1, 3), seed=seeds)
def test_every_torch_conv_is_cross_correlation_and_transposed_is_true_convolution(ndim, n, k, seed):
    if k > n:
        return
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((n,) * ndim), rng.standard_normal((k,) * ndim)
    xt, wt = (torch.from_numpy(a)[None, None] for a in (x, w))
    axes = tuple(range(ndim))
    # cross-correlation: sum_m x[i + m] w[m], every window, no flip
    windows = np.lib.stride_tricks.sliding_window_view(x, (k,) * ndim)
    xcorr = np.tensordot(windows, w, axes=(tuple(range(ndim, 2 * ndim)), axes))
    assert_close(_CONV[ndim](xt, wt)[0, 0].numpy(), xcorr, np.float64)
    # transposed: sum_j x[j] w[i - j], the true ("full") convolution with the unflipped kernel
    full = np.zeros((n + k - 1,) * ndim)
    for j in np.ndindex(x.shape):
        full[tuple(slice(a, a + k) for a in j)] += x[j] * w
    assert_close(_CONV_T[ndim](xt, wt)[0, 0].numpy(), full, np.float64)
    if ndim == 1:
        assert_close(_CONV_T[1](xt, wt)[0, 0].numpy(), np.convolve(x, w, "full"), np.float64)


@pytest.mark.claim("d000.conv.translation-equivariance")
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@given(
    ndim=st.integers(1, 3),
    k=st.integers(1, 4),
    d=st.integers(1, 3),
    groups=st.integers(1, 2),
    extra=st.integers(0, 4),
    data=st.data(),
)
def test_circular_padding_mode_commutes_with_every_cyclic_shift(ndim, k, d, groups, extra, data):
    n = d * (k - 1) + 1 + extra
    conv = torch.nn.Conv1d if ndim == 1 else torch.nn.Conv2d if ndim == 2 else torch.nn.Conv3d
    layer = conv(
        2 * groups,
        groups,
        k,
        padding="same",
        dilation=d,
        groups=groups,
        padding_mode="circular",
        dtype=torch.float64,
    )
    x = torch.randn((1, 2 * groups, *(n,) * ndim), dtype=torch.float64)
    shifts = tuple(data.draw(st.integers(-2 * n, 2 * n), label="shift") for _ in range(ndim))
    dims_ = tuple(range(2, 2 + ndim))
    with torch.no_grad():
        lhs = layer(torch.roll(x, shifts, dims_))
        rhs = torch.roll(layer(x), shifts, dims_)
    assert torch.allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.claim("d000.conv.translation-equivariance")
def test_border_padding_modes_break_equivariance():
    x = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
    w = torch.tensor([[[1.0, 2.0, 3.0]]])
    for mode in ("zeros", "reflect", "replicate"):
        layer = torch.nn.Conv1d(1, 1, 3, padding=1, padding_mode=mode, bias=False)
        layer.weight.data = w
        with torch.no_grad():
            lhs, rhs = layer(torch.roll(x, 1, -1)), torch.roll(layer(x), 1, -1)
        assert not torch.equal(lhs, rhs), mode
    layer = torch.nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular", bias=False)
    layer.weight.data = w
    with torch.no_grad():
        assert torch.equal(layer(torch.roll(x, 1, -1)), torch.roll(layer(x), 1, -1))


def _padded_index(p: int, n: int, mode: str) -> int | None:
    """The input position a padded position p reads (None: a zero of the padding)."""
    if 0 <= p < n:
        return p
    if mode == "zeros":
        return None
    if mode == "circular":
        return p % n
    if mode == "replicate":
        return min(max(p, 0), n - 1)
    return -p if p < 0 else 2 * (n - 1) - p  # reflect


@pytest.mark.claim("d000.conv.parameter-sharing")
@given(
    ndim=st.integers(1, 2),
    geometry=st.lists(
        st.tuples(
            st.integers(1, 6),
            st.integers(1, 3),
            st.integers(1, 2),
            st.integers(1, 2),
            st.integers(0, 2),
        ),
        min_size=2,
        max_size=2,
    ),
    groups=st.integers(1, 2),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    seed=seeds,
)
def test_jacobian_is_one_shared_kernel_at_every_position(ndim, geometry, groups, mode, seed):
    """d y[o] / d x[c, i] = sum of the kernel taps t with o*S + t*D - P landing on i: the
    same weights at every output position, for strides, dilations, groups and padding modes."""
    axes = geometry[:ndim]  # (size, kernel, stride, dilation, padding) per axis
    if any(n + 2 * p < d * (k - 1) + 1 for n, k, _, d, p in axes):
        return
    if mode == "reflect" and any(p >= n for n, _, _, _, p in axes):
        return
    if mode == "circular" and any(p > n for n, _, _, _, p in axes):
        return
    cin, cout = groups, 2 * groups
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((cout, 1, *(k for _, k, _, _, _ in axes)))
    stride = tuple(s for _, _, s, _, _ in axes)
    dilation = tuple(d for _, _, _, d, _ in axes)
    pads = tuple(v for _, _, _, _, p in reversed(axes) for v in (p, p))

    def f(v):
        padded = F.pad(v[None], pads, mode="constant" if mode == "zeros" else mode)
        return _CONV[ndim](
            padded, torch.from_numpy(w), stride=stride, dilation=dilation, groups=groups
        )[0]

    x = torch.from_numpy(rng.standard_normal((cin, *(n for n, *_ in axes))))
    jac = torch.autograd.functional.jacobian(f, x, vectorize=True).numpy()
    expected = np.zeros_like(jac)
    for co, *o in np.ndindex(jac.shape[: 1 + ndim]):
        ci = co // (cout // groups)  # one input channel per group here
        for t in np.ndindex(w.shape[2:]):
            i = tuple(
                _padded_index(oa * s + ta * d - p, n, mode)
                for oa, ta, (n, _, s, d, p) in zip(o, t, axes, strict=True)
            )
            if None not in i:
                expected[(co, *o, ci, *i)] += w[(co, 0, *t)]
    assert_close(jac, expected, np.float64)


def _dense_jacobian_nonzeros(h: int, w: int, kh: int, kw: int) -> int:
    """Weights of the locally connected (unshared) layer with conv2d's valid windows."""
    weight = torch.ones(1, 1, kh, kw, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda v: F.conv2d(v[None, None], weight)[0, 0], torch.zeros(h, w, dtype=torch.float64)
    )
    return int((jac != 0).sum())


@pytest.mark.claim("d002.conv.review-parameter-sharing", "d000.conv.fewer-params-than-fc")
@given(h=st.integers(1, 8), w=st.integers(1, 8), kh=st.integers(1, 4), kw=st.integers(1, 4))
@example(h=8, w=1, kh=3, kw=1)
def test_sharing_factor_against_a_dense_layer_is_not_spatial_over_kernel(h, w, kh, kw):
    from theory.conv import fc_to_conv_weight_ratio

    if kh > h or kw > w:
        return
    h2, w2 = h - kh + 1, w - kw + 1
    dense = torch.nn.Linear(h * w, h2 * w2, bias=False, device="meta").weight.numel()
    conv = torch.nn.Conv2d(1, 1, (kh, kw), bias=False, device="meta").weight.numel()
    local = _dense_jacobian_nonzeros(h, w, kh, kw)
    claimed = sympy.Rational(h * w, kh * kw)  # spatial_size / kernel_size
    assert sympy.Rational(dense, conv) == fc_to_conv_weight_ratio((h, w), (h2, w2), (kh, kw))
    assert sympy.Rational(dense, local) == claimed  # the claimed factor is locality's gain ...
    assert sympy.Rational(local, conv) == h2 * w2  # ... sharing's own is the positions
    assert (claimed == sympy.Rational(dense, conv)) == (h2 * w2 == 1)
    if (h, w, kh, kw) == (8, 1, 3, 1):
        assert (dense, local, conv) == (48, 18, 3)


def _best_shared_approximation(m: sympy.Matrix) -> sympy.Matrix:
    """Nearest circulant in Frobenius norm: the mean of each wrapped diagonal of m."""
    n = m.rows
    return sympy.Matrix(n, n, lambda i, j: sum(m[(i + t) % n, (j + t) % n] for t in range(n)) / n)


@pytest.mark.claim("d002.conv.review-sharing-optimality")
@given(n=st.integers(1, 6), seed=seeds, circulant=st.booleans())
def test_sharing_represents_exactly_the_location_invariant_maps(n, seed, circulant):
    rng = np.random.default_rng(seed)
    if circulant:
        m = th.circulant_matrix(rng.integers(-3, 4, n).tolist(), n)
    else:
        m = sympy.Matrix(rng.integers(-3, 4, (n, n)).tolist())
    p = _best_shared_approximation(m)
    s1 = th.shift_matrix(n, 1)
    assert p * s1 == s1 * p  # the approximation is a shared kernel (commutes with shifts)
    generic = th.circulant_matrix(sympy.symbols(f"c0:{n}"), n)
    inner = sum((m - p)[i, j] * generic[i, j] for i in range(n) for j in range(n))
    assert sympy.expand(inner) == 0  # residual orthogonal to every circulant: the best fit
    invariant = m * s1 == s1 * m
    assert (p == m) == invariant  # exact iff location-invariant
    if circulant:
        assert invariant


@pytest.mark.claim("d002.conv.review-sharing-optimality")
def test_location_dependent_gains_cannot_be_shared():
    m = sympy.diag(2, 1, 1, 2)  # edge pixels amplified twice as much as the centre
    p = _best_shared_approximation(m)
    assert p == sympy.Rational(3, 2) * sympy.eye(4)  # the best shared kernel: one tap, 3/2
    residual = m - p
    assert sum(e**2 for e in residual) == 1  # no kernel does better: ||M - C||_F^2 >= 1
    x = np.eye(4)[None, :, None, :].reshape(4, 1, 4)  # the four unit impulses
    shared = conv1d_circular_fft(x, np.array([[[1.5]]]))[:, 0]
    assert not np.allclose(shared, np.array(m, dtype=float).T)


@pytest.mark.claim("d002.conv.im2col-memory")
@given(layer=conv_layer())
def test_im2col_buffer_exceeds_the_input_iff_windows_cover_more_than_it(layer):
    from theory.conv import conv_output_size

    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.batch, layer.in_channels, layer.h.size, layer.w.size))
    w = rng.standard_normal((layer.out_channels, layer.in_channels // layer.groups, *layer.kernel))
    geo = _geometry(x, w, None, **layer.kwargs())
    out = tuple(
        conv_output_size(g.size, g.kernel, g.stride, g.padding, g.dilation)
        for g in (layer.h, layer.w)
    )
    buffer = _columns(x, w, geo).size
    assert buffer == layer.batch * im2col_elements(layer.in_channels, layer.kernel, out)
    more = layer.kernel[0] * layer.kernel[1] * out[0] * out[1] > layer.h.size * layer.w.size
    assert (buffer > x.size) == more
    overlapping = any(g.kernel > g.stride or g.padding > 0 for g in (layer.h, layer.w))
    if not overlapping:  # non-overlapping windows without padding never add memory
        assert buffer <= x.size


@pytest.mark.claim("d002.conv.im2col-memory")
def test_im2col_memory_counterexamples_downsampling_and_patchify():
    from theory.conv import conv_output_size

    x = np.zeros((1, 2, 56, 56))
    w = np.zeros((3, 2, 1, 1))
    geo = _geometry(x, w, None, 2, 0, 1, 1)
    assert _columns(x, w, geo).size * 4 == x.size  # 1x1 stride 2: a quarter of the input
    assert im2col_elements(3, 16, conv_output_size(224, 16, 16)) == 3 * 224 * 224  # ViT-B/16
    assert im2col_elements(64, 3, conv_output_size(56, 3, 1, 1)) == 9 * 64 * 56 * 56


@pytest.mark.claim("d002.conv.toeplitz-sparse")
@given(h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 9), kw=st.integers(1, 9))
@example(h=4, w=1, kh=2, kw=1)
def test_valid_conv_matrix_density_in_one_and_two_dimensions(h, w, kh, kw):
    """The matrix a conv layer applies ("valid" rows): density K/n in 1-D (most entries zero
    iff K < n/2) and K_h K_w/(H W) for the doubly block Toeplitz matrix in 2-D."""
    if kh > h or kw > w:
        return
    t = th.toeplitz_matrix(sympy.symbols(f"k0:{kh}"), h, "valid")
    density = sympy.Rational(sum(1 for e in t if e != 0), t.rows * t.cols)
    assert density == sympy.Rational(kh, h)
    assert (density < sympy.Rational(1, 2)) == (2 * kh < h)
    kernel = np.random.default_rng(h * 10 + w).random((kh, kw)) + 0.5  # no zero taps
    m = doubly_block_toeplitz(kernel, h, w)
    assert sympy.Rational(int(np.count_nonzero(m)), m.size) == sympy.Rational(kh * kw, h * w)


# --------------------------------------------------------------------------- directions pinned


@pytest.mark.claim("d000.conv.translation-equivariance", "d002.conv.structure-equivariance")
@given(n=st.integers(1, 9), v=st.integers(-30, 30), seed=seeds)
@example(n=5, v=1, seed=0)
def test_shift_matrix_moves_the_signal_like_np_roll_and_torch_roll(n, v, seed):
    """(S_v x)[i] = x[(i - v) mod n]: S_v @ x == np.roll(x, v) == torch.roll(x, v); S_1 moves
    x[0] to index 1 (towards higher indices)."""
    x = np.random.default_rng(seed).standard_normal(n)
    s = np.array(th.shift_matrix(n, v), dtype=np.float64)
    np.testing.assert_array_equal(s @ x, np.roll(x, v))
    np.testing.assert_array_equal(s @ x, torch.roll(torch.from_numpy(x), v).numpy())
    assert th.shift_matrix(n, np.int64(v)) == th.shift_matrix(n, v + 3 * n)
    if n >= 2:
        assert th.shift_matrix(n, 1) * sympy.Matrix(sympy.symbols(f"x0:{n}")) == sympy.Matrix(
            [sympy.Symbol(f"x{(i - 1) % n}") for i in range(n)]
        )
        assert np.array(th.shift_matrix(n, 1), dtype=float)[1, 0] == 1


@pytest.mark.claim("d002.conv.circulant")
@given(n=st.integers(1, 12), k=st.integers(1, 12), seed=seeds)
def test_circulant_is_circular_convolution_and_torch_circular_conv_of_flipped_kernel(n, k, seed):
    """(C x)[i] = sum_j x[j] k[(i - j) mod n]: the explicit sum, the FFT product, and torch's
    conv1d (cross-correlation) of the flipped kernel after circular padding by K - 1 on the
    left."""
    if k > n:
        with pytest.raises(ValueError, match="kernel"):
            th.circulant_matrix([1] * k, n)
        return
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(k)
    c = np.array(th.circulant_matrix(list(w), n), dtype=np.float64)
    padded = np.concatenate([w, np.zeros(n - k)])
    explicit = np.array([sum(x[j] * padded[(i - j) % n] for j in range(n)) for i in range(n)])
    assert_close(c @ x, explicit, np.float64)
    assert_close(c @ x, np.fft.ifft(np.fft.fft(x) * np.fft.fft(padded)).real, np.float64)
    xt = torch.from_numpy(x)[None, None]
    torch_y = F.conv1d(
        F.pad(xt, (k - 1, 0), mode="circular"), torch.from_numpy(w[::-1].copy())[None, None]
    )
    assert_close(c @ x, torch_y[0, 0].numpy(), np.float64)


def _count_shift_calls(monkeypatch, broken=None):
    calls = []
    real = th.shift_matrix

    def spy(n, v):
        calls.append((n, v))
        return broken(n, v, real) if broken else real(n, v)

    monkeypatch.setattr(th, "shift_matrix", spy)
    return calls


@pytest.mark.claim("d002.conv.equivariance-proof")
@pytest.mark.parametrize("max_n", [2, 3, 6])
def test_equivariance_proof_checks_every_case_and_is_not_vacuous(monkeypatch, max_n):
    calls = _count_shift_calls(monkeypatch)
    assert th.equivariance_circular_proved(max_n)
    expected = [(n, v) for n in range(2, max_n + 1) for _ in range(n) for v in range(n)]
    assert calls == expected  # every n in [2, max_n], every kernel length, every shift


def _wrong_direction(n, v, real):
    return real(n, -v)


def _broken_last(n, v, real):
    return sympy.eye(n) if v == n - 1 else real(n, v)


@pytest.mark.claim("d002.conv.equivariance-proof")
@pytest.mark.parametrize("broken", [_wrong_direction, _broken_last])
def test_equivariance_proof_fails_with_a_broken_shift(monkeypatch, broken):
    _count_shift_calls(monkeypatch, broken)
    assert th.equivariance_circular_proved(3) is False


@pytest.mark.claim("d002.conv.equivariance-proof")
def test_equivariance_proof_fails_with_a_broken_circulant(monkeypatch):
    real = th.circulant_matrix

    def transposed(kernel, n):  # k[(j - i) mod n]: still commutes with shifts, wrong operator
        return real(kernel, n).T

    monkeypatch.setattr(th, "circulant_matrix", transposed)
    assert th.equivariance_circular_proved(3) is False

    def toeplitz_square(kernel, n):  # zero boundary: not a circulant, does not commute
        return th.toeplitz_matrix(kernel, n)[:n, :]

    monkeypatch.setattr(th, "circulant_matrix", toeplitz_square)
    assert th.equivariance_circular_proved(2) is False


def test_equivariance_proof_rejects_a_vacuous_range():
    for bad in (0, 1, -3, np.int64(1)):
        with pytest.raises(ValueError, match="max_n"):
            th.equivariance_circular_proved(bad)
    with pytest.raises(ValueError, match="max_n"):
        th.equivariance_circular_proved(th.MAX_N + 1)
    for bad in (True, 3.0, "8", None, sympy.Symbol("n", integer=True)):
        with pytest.raises(TypeError, match="max_n"):
            th.equivariance_circular_proved(bad)
    assert th.equivariance_circular_proved(np.int64(2)) is True


# --------------------------------------------------------------------------- second reading


@pytest.mark.claim("d002.conv.im2col-memory")
@given(layer=conv_layer())
@example(layer=ConvLayer(1, 1, 1, 1, Conv1dGeometry(1, 1, 1, 0, 1), Conv1dGeometry(1, 1, 1, 0, 1)))
def test_im2col_materialises_a_buffer_unless_the_unfold_is_the_input_itself(layer):
    """Literal reading (conditional): the copying im2col allocates a new matrix of exactly
    C_in K_h K_w H_out W_out entries per sample (tracemalloc sees it), unless the unfolded
    matrix is the input's own memory relabelled — always so for 1x1, stride-1, unpadded
    layers (the convolution is then a GEMM on the input), where no memory is added."""
    import tracemalloc

    from theory.conv import conv_output_size

    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.batch, layer.in_channels, layer.h.size, layer.w.size))
    w = rng.standard_normal((layer.out_channels, layer.in_channels // layer.groups, *layer.kernel))
    geo = _geometry(x, w, None, **layer.kwargs())
    out = tuple(
        conv_output_size(g.size, g.kernel, g.stride, g.padding, g.dilation)
        for g in (layer.h, layer.w)
    )
    cols = _columns(x, w, geo)
    assert cols.size == layer.batch * im2col_elements(layer.in_channels, layer.kernel, out) >= 1
    pointwise = all((g.kernel, g.stride, g.padding) == (1, 1, 0) for g in (layer.h, layer.w))
    if pointwise:
        assert np.shares_memory(cols, x)  # no copy: the input is already the matrix
    if np.shares_memory(cols, x):
        assert cols.size == x.size  # a relabelling: no extra memory
        return
    tracemalloc.start()
    try:
        conv2d_im2col(x, w, None, **layer.kwargs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak >= cols.nbytes  # the buffer really is allocated


@pytest.mark.claim("d002.conv.review-parameter-sharing")
@given(h=st.integers(1, 8), w=st.integers(1, 8), kh=st.integers(1, 4), kw=st.integers(1, 4))
@example(h=8, w=1, kh=3, kw=1)
def test_per_output_unit_reading_the_claimed_factor_is_locality_not_sharing(h, w, kh, kw):
    """Per output unit: dense H W weights, convolution K_h K_w — the claimed spatial/kernel —
    but the locally connected (unshared) layer also has K_h K_w per unit: sharing's factor is 1."""
    if kh > h or kw > w:
        return
    h2, w2 = h - kh + 1, w - kw + 1
    units = h2 * w2
    dense = torch.nn.Linear(h * w, units, bias=False, device="meta").weight.numel()
    conv = torch.nn.Conv2d(1, 1, (kh, kw), bias=False, device="meta").weight.numel()
    local = _dense_jacobian_nonzeros(h, w, kh, kw)  # one weight per (output, input) it sees
    per_dense, per_local = sympy.Rational(dense, units), sympy.Rational(local, units)
    per_conv = conv  # each output unit uses all K_h K_w shared weights
    claimed = sympy.Rational(h * w, kh * kw)
    assert per_dense / per_conv == claimed  # the number matches per unit ...
    assert per_dense / per_local == claimed  # ... and is already reached without sharing
    assert per_local / per_conv == 1  # sharing changes nothing per unit
