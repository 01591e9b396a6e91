"""Bad input against torch: where we reject, torch rejects too, and where we answer, torch
agrees.

The generic bad-input fuzz (bools, floats, NaN, strings, symbols … one argument at a time) is
the table in ``tests/badinput``; this module keeps what the table cannot say: *which*
out-of-range integer configurations are invalid, decided by torch (helpers and kernels are
fed negative, zero and oversized arguments and must either agree with torch or raise
ValueError exactly where torch raises; compared on CPU tensors: meta kernels skip some
checks), and the accepted-value rules of :mod:`theory._args` that every theory helper shares.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.cpu import pool
from kernels.cpu.conv2d import conv2d_direct, conv2d_im2col
from kernels.cpu.linear import linear
from theory import conv
from theory import linear as lin


def torch_or_none(call):
    """torch's answer, or None where torch rejects the configuration."""
    try:
        return call()
    except (RuntimeError, ValueError, ZeroDivisionError):
        return None


def assert_agrees_or_both_reject(ours, theirs, what: str) -> None:
    """``ours()`` equals torch's answer, or raises ValueError exactly where torch rejects."""
    try:
        value = ours()
    except ValueError as e:
        assert theirs is None, f"{what}: we reject ({e}) but torch gives {theirs}"
        return
    assert value == theirs, f"{what} = {value}, torch: {theirs}"


def in_range(*positive, nonnegative=()) -> bool:
    """torch is only asked where every argument is in range (we reject the rest by range)."""
    return min(positive) >= 1 and min(nonnegative, default=0) >= 0


@pytest.mark.claim("d000.conv.output-size")
@given(
    size=st.integers(-2, 12),
    kernel=st.integers(-1, 6),
    stride=st.integers(-1, 4),
    padding=st.integers(-2, 4),
    dilation=st.integers(-1, 3),
)
def test_output_size_agrees_with_torch_or_raises(size, kernel, stride, padding, dilation):
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    theirs = None
    if in_range(size, kernel, stride, dilation, nonnegative=(padding,)):
        theirs = torch_or_none(
            lambda: F.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, kernel), **kw).shape[-1]
        )
    assert_agrees_or_both_reject(
        lambda: conv.conv_output_size(size, kernel, **kw),
        theirs,
        f"conv_output_size({size}, {kernel}, {kw})",
    )


@pytest.mark.claim("d000.conv.output-size")
@given(
    size=st.integers(-1, 10),
    kernel=st.integers(-1, 5),
    stride=st.integers(-1, 3),
    padding=st.integers(-1, 3),
    dilation=st.integers(-1, 3),
    ceil_mode=st.booleans(),
)
@example(size=1, kernel=2, stride=2, padding=0, dilation=1, ceil_mode=True)  # partial window
def test_pool_output_size_agrees_with_torch_or_raises(
    size, kernel, stride, padding, dilation, ceil_mode
):
    kw = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    theirs = None
    if in_range(size, kernel, stride, dilation, nonnegative=(padding,)):
        theirs = torch_or_none(
            lambda: F.max_pool1d(torch.zeros(1, 1, size), kernel, **kw).shape[-1]
        )
    assert_agrees_or_both_reject(
        lambda: conv.pool_output_size(size, kernel, **kw),
        theirs,
        f"pool_output_size({size}, {kernel}, {kw})",
    )


@pytest.mark.claim("d000.conv.output-size")
@given(
    size=st.integers(-1, 8),
    kernel=st.integers(-1, 5),
    stride=st.integers(-1, 3),
    padding=st.integers(-1, 4),
    output_padding=st.integers(-1, 3),
    dilation=st.integers(-1, 3),
)
def test_transposed_output_size_agrees_with_torch_or_raises(
    size, kernel, stride, padding, output_padding, dilation
):
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    theirs = None
    if in_range(size, kernel, stride, dilation, nonnegative=(padding, output_padding)):
        theirs = torch_or_none(
            lambda: F.conv_transpose1d(
                torch.zeros(1, 1, size), torch.zeros(1, 1, kernel), **kw
            ).shape[-1]
        )
    assert_agrees_or_both_reject(
        lambda: conv.conv_transpose_output_size(size, kernel, **kw),
        theirs,
        f"conv_transpose_output_size({size}, {kernel}, {kw})",
    )


@pytest.mark.claim("d000.conv.param-count")
# torch builds empty layers for zero channels/kernel (and warns); we reject them on purpose,
# so torch is only asked for counts >= 1.
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@given(
    cin=st.integers(-2, 9), cout=st.integers(-2, 9), k=st.integers(-1, 4), groups=st.integers(-1, 4)
)
def test_param_count_agrees_with_torch_or_raises(cin, cout, k, groups):
    def count():
        module = torch.nn.Conv2d(cin, cout, k, groups=groups, device="meta")
        return sum(p.numel() for p in module.parameters())

    theirs = torch_or_none(count) if in_range(cin, cout, k, groups) else None
    assert_agrees_or_both_reject(
        lambda: conv.conv_params(cin, cout, k, groups=groups),
        theirs,
        f"conv_params{(cin, cout, k, groups)}",
    )


# --------------------------------------------------------------------------- theory._args


_REJECTED_AS_TYPE = (
    sympy.nan,
    sympy.oo,
    -sympy.oo,
    sympy.zoo,
    sympy.Symbol("a") + sympy.oo,
    sympy.Float(3.0),
    2.0 * sympy.Symbol("n", integer=True),
    sympy.Rational(7, 2),
    sympy.I,
    sympy.Symbol("z", integer=True) + sympy.I,
    3.0,
    np.float64(3.0),
    np.float32(3.0),
    True,
    np.bool_(True),
    "3",
    None,
    1 + 0j,
    [3],
    sympy.true,
)


@pytest.mark.claim("d000.conv.output-size")
@pytest.mark.parametrize("value", _REJECTED_AS_TYPE, ids=lambda v: f"{type(v).__name__}:{v!r}")
def test_dim_rejects_non_integers_naming_the_argument(value):
    """NaN, infinities, floats (also integral ones), bools, non-real and non-integer values
    are refused by every helper that takes a size; conv_output_size(nan, 3) used to be nan."""
    with pytest.raises(TypeError, match=r"^size must be an integer >= 1"):
        conv.conv_output_size(value, 3)
    with pytest.raises(TypeError, match=r"^padding must be an integer >= 0"):
        conv.conv_output_size(5, 3, padding=value)


@pytest.mark.claim("d000.conv.output-size", "d000.linear.param-count")
def test_dim_accepts_integers_and_integer_valued_expressions():
    for spelling in (5, np.int64(5), np.int8(5), np.uint16(5), sympy.Integer(5)):
        out = conv.conv_output_size(spelling, 3)
        assert out == 3 and type(out) is int
    n = sympy.Symbol("n", integer=True, positive=True)
    free = sympy.Symbol("n_free")  # no assumptions: nothing contradicts an integer >= 1
    alpha = sympy.Symbol("alpha", positive=True)  # width multiplier: 64*alpha channels
    assert conv.conv_output_size(n, 1) == n
    assert conv.conv_output_size(free, 1) == sympy.floor(free)  # floor: free may be real
    assert lin.linear_params(64 * alpha, 10) == 640 * alpha + 10
    big = 10**30  # exact integers of any size: counts never overflow
    assert lin.linear_params(big, big) == big * big + big
    for known_small in (sympy.Symbol("m", negative=True), sympy.Symbol("z", nonpositive=True)):
        with pytest.raises(ValueError, match=r"^size must be >= 1, got .* \(known to be smaller\)"):
            conv.conv_output_size(known_small, 1)
    nonneg = sympy.Symbol("p", integer=True, nonnegative=True)
    assert conv.conv_output_size(5, 3, padding=nonneg) == 2 * nonneg + 3


@pytest.mark.claim("d000.conv.multichannel", "d000.linear.definition")
def test_kernels_reject_bad_arrays_and_geometry():
    x = np.zeros((1, 4, 5, 5))
    w = np.zeros((2, 2, 3, 3))
    for kernel in (conv2d_direct, conv2d_im2col):
        with pytest.raises(ValueError, match="channels"):
            kernel(x, w)  # 4 channels, weight expects 2 (groups=1)
        with pytest.raises(ValueError, match="output size < 1"):
            kernel(np.zeros((1, 2, 2, 2)), w)
        with pytest.raises(TypeError, match="dtype"):
            kernel(x.astype(np.int64), w)
        with pytest.raises(TypeError, match="same dtype"):
            kernel(x.astype(np.float32), w, groups=2)
        with pytest.raises(ValueError, match="stride"):
            kernel(x, w, stride=0, groups=2)
        with pytest.raises(TypeError, match="groups"):
            kernel(x, w, groups=2.0)
        with pytest.raises(ValueError, match="bias"):
            kernel(x, w, np.zeros(3), groups=2)
        with pytest.raises(ValueError, match="ndim"):
            kernel(x[0], w)
    with pytest.raises(ValueError, match="in_features"):
        linear(np.zeros((2, 3)), np.zeros((4, 5)))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        linear([[1.0]], np.zeros((1, 1)))


@pytest.mark.claim("d000.conv.multichannel")
@given(
    h=st.integers(1, 6),
    k=st.integers(1, 6),
    s=st.integers(-1, 3),
    p=st.integers(-1, 3),
    d=st.integers(-1, 3),
)
def test_kernels_agree_with_torch_or_raise(h, k, s, p, d):
    x, w = np.ones((1, 1, h, h)), np.ones((1, 1, k, k))
    try:
        theirs = F.conv2d(
            torch.from_numpy(x), torch.from_numpy(w), stride=s, padding=p, dilation=d
        ).numpy()
    except RuntimeError:
        theirs = None
    for kernel in (conv2d_direct, conv2d_im2col):
        try:
            ours = kernel(x, w, stride=s, padding=p, dilation=d)
        except ValueError:
            assert theirs is None, (h, k, s, p, d)
            continue
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# --------------------------------------------------------------------------- pooling kernels


@pytest.mark.claim("d000.pool.max-definition", "d000.pool.avg-definition")
@given(
    size=st.integers(1, 6),
    kernel=st.integers(-1, 5),
    stride=st.integers(-1, 3),
    padding=st.integers(-1, 3),
    dilation=st.integers(-1, 3),
    ceil_mode=st.booleans(),
    mode=st.sampled_from(["max", "avg"]),
)
@example(size=2, kernel=3, stride=1, padding=0, dilation=1, ceil_mode=False, mode="max")
@example(size=4, kernel=2, stride=1, padding=2, dilation=1, ceil_mode=False, mode="avg")
def test_pool_kernels_agree_with_torch_or_raise(
    size, kernel, stride, padding, dilation, ceil_mode, mode
):
    """Window larger than the padded input, padding above half the kernel, non-positive
    arguments: ValueError naming the argument where torch rejects, torch's values elsewhere."""
    x = np.arange(2.0 * size * size).reshape(1, 2, size, size)
    if mode == "max":
        args = (kernel, stride, padding, dilation, ceil_mode)
        ours = lambda: pool.max_pool2d(x, *args)  # noqa: E731
        theirs = lambda: F.max_pool2d(torch.from_numpy(x), *args)  # noqa: E731
    else:
        args = (kernel, stride, padding, ceil_mode)
        ours = lambda: pool.avg_pool2d(x, *args)  # noqa: E731
        theirs = lambda: F.avg_pool2d(torch.from_numpy(x), *args)  # noqa: E731
    expected = None
    dilation_in_range = dilation if mode == "max" else 1  # avg pooling has no dilation
    if in_range(size, kernel, stride, dilation_in_range, nonnegative=(padding,)):
        expected = torch_or_none(theirs)
    try:
        value = ours()
    except ValueError as e:
        named = ("kernel_size", "stride", "padding", "dilation", "size", "only padding")
        assert any(n in str(e) for n in named), e
        if expected is not None:  # torch accepts: only a window of padding only may differ
            assert torch.isinf(expected).any(), f"we reject ({e}) but torch gives {expected}"
        return
    assert expected is not None, f"torch rejects {args} but we give {value}"
    assert np.allclose(value, expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.claim("d000.pool.weighted-average", "d000.pool.gated", "d000.pool.global")
def test_pool_kernels_bad_arguments_are_named():
    x = np.ones((1, 3, 4, 4))
    with pytest.raises(ValueError, match="weight has 2 channels but x has 3"):
        pool.weighted_pool2d(x, np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="weight must have the same dtype"):
        pool.weighted_pool2d(x, np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="gate has 4 channels"):
        pool.gated_pool2d(x, np.ones((4, 2, 2)))
    with pytest.raises(ValueError, match="output size < 1"):
        pool.weighted_pool2d(x, np.ones((5, 5)))
    with pytest.raises(ValueError, match="mode"):
        pool.global_pool(x, "median")
    with pytest.raises(ValueError, match="grad_out must have shape"):
        pool.max_pool2d_backward(np.ones((1, 3, 3, 3)), x, 2)
    with pytest.raises(TypeError, match=r"x must be a numpy\.ndarray"):
        pool.avg_pool2d([[1.0]], 1)
    with pytest.raises(TypeError, match="ceil_mode must be a bool"):
        pool.max_pool2d(x, 2, ceil_mode=1)
    with pytest.raises(ValueError, match="output_size"):
        pool.adaptive_pool(x, (0, 2))


@pytest.mark.claim("d002.conv.toeplitz", "d002.conv.circulant")
def test_matrix_conv2d_kernels_bad_arguments_are_named():
    from kernels.cpu.conv2d_matrix import conv2d_circular_fft, conv2d_toeplitz

    x, w = np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3))
    with pytest.raises(ValueError, match="x has 2 channels, weight expects 1"):
        conv2d_toeplitz(x, np.ones((3, 1, 3, 3)))
    with pytest.raises(ValueError, match="output size < 1"):
        conv2d_toeplitz(x, np.ones((3, 2, 5, 5)))
    with pytest.raises(ValueError, match="padding"):
        conv2d_toeplitz(x, w, padding=-1)
    with pytest.raises(ValueError, match="kernel sizes must be odd"):
        conv2d_circular_fft(x, np.ones((3, 2, 2, 3)))
    with pytest.raises(ValueError, match="bias must have shape"):
        conv2d_circular_fft(x, w, np.ones(2))
