"""Convolution geometry: sizes, parameter counts, MACs, reduction factors, receptive fields.

Claims: theory/claims/conv.yaml. Helpers: theory.conv. Kernels: kernels.cpu.conv2d / layers.
torch is asked on the ``meta`` device (shapes and FlopCounterMode without computing) for
*valid* configurations only: meta kernels skip some of torch's argument checks (e.g.
``output_padding``), so error behaviour is always compared on CPU tensors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from kernels.cpu import layers
from kernels.cpu.conv2d import conv2d_direct, conv2d_direct_backward, conv2d_im2col
from numerics.opcount import MacCounter
from tests.assertions import assert_equal
from tests.strategies import conv_geometry, conv_layer
from theory import conv as th
from theory import pooling as tp
from theory.linear import linear_params

META = {"device": "meta"}


def _torch_conv(layer, bias=True):
    x = torch.empty(layer.batch, layer.in_channels, layer.h.size, layer.w.size, **META)
    w = torch.empty(layer.out_channels, layer.in_channels // layer.groups, *layer.kernel, **META)
    b = torch.empty(layer.out_channels, **META) if bias else None
    with FlopCounterMode(display=False) as fc:
        y = F.conv2d(x, w, b, **layer.kwargs())
    return tuple(y.shape), fc.get_total_flops()


# --------------------------------------------------------------------------- output size


@pytest.mark.claim("d000.conv.output-size")
def test_output_size_derivation_reduces_to_document_at_dilation_one():
    d = th.derive_output_size()
    assert d.agrees(), d.to_markdown()
    # ... and differs from it for dilation 2 (the counterexample):
    doc = math.floor((5 + 0 - 3) / 1) + 1
    assert (doc, th.conv_output_size(5, 3, dilation=2)) == (3, 1)


@pytest.mark.claim(
    "d000.conv.output-size", "d000.conv.multichannel", "d000.conv.dilated-definition"
)
@given(layer=conv_layer())
def test_output_size_theory_equals_kernels_and_torch(layer):
    expected = tuple(
        th.conv_output_size(g.size, g.kernel, g.stride, g.padding, g.dilation)
        for g in (layer.h, layer.w)
    )
    torch_shape, _ = _torch_conv(layer)
    repro = f"theory.conv.conv_output_size({layer.h})"
    assert_equal(torch_shape[2:], expected, "d000.conv.output-size", repro, layer=layer)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.batch, layer.in_channels, layer.h.size, layer.w.size))
    w = rng.standard_normal((layer.out_channels, layer.in_channels // layer.groups, *layer.kernel))
    for kernel in (conv2d_direct, conv2d_im2col):
        assert_equal(
            kernel(x, w, **layer.kwargs()).shape[2:],
            expected,
            "d000.conv.output-size",
            repro,
            layer=layer,
            kernel=kernel.__name__,
        )
    if layer.h.dilation == 1:  # the document's formula, where it applies
        g = layer.h
        assert expected[0] == (g.size + 2 * g.padding - g.kernel) // g.stride + 1


@pytest.mark.claim("d000.conv.output-size")
@given(g=conv_geometry(), output_padding=st.integers(0, 3))
def test_transposed_output_size_matches_torch(g, output_padding):
    args = (g.size, g.kernel, g.stride, g.padding, output_padding, g.dilation)
    # CPU tensors, not meta: the meta kernels skip torch's argument checks (output_padding).
    x = torch.zeros(1, 1, g.size)
    w = torch.zeros(1, 1, g.kernel)
    try:
        torch_size = F.conv_transpose1d(
            x,
            w,
            stride=g.stride,
            padding=g.padding,
            output_padding=output_padding,
            dilation=g.dilation,
        ).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError):
            th.conv_transpose_output_size(*args)
        return
    assert_equal(
        th.conv_transpose_output_size(*args),
        torch_size,
        "d000.conv.output-size",
        f"theory.conv.conv_transpose_output_size{args}",
        geometry=g,
    )


@pytest.mark.claim("d000.conv.output-size")
@given(g=conv_geometry(max_padding=2), ceil_mode=st.booleans())
def test_pool_output_size_with_ceil_mode_matches_torch(g, ceil_mode):
    args = dict(stride=g.stride, padding=g.padding, dilation=g.dilation, ceil_mode=ceil_mode)
    x = torch.zeros(1, 1, g.size)
    try:
        torch_size = F.max_pool1d(x, g.kernel, **args).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError):
            th.pool_output_size(g.size, g.kernel, **args)
        return
    assert_equal(
        th.pool_output_size(g.size, g.kernel, **args),
        torch_size,
        "d000.conv.output-size",
        f"theory.conv.pool_output_size({g.size}, {g.kernel}, **{args})",
        geometry=g,
    )


@pytest.mark.claim("d000.conv.output-size")
def test_pool_ceil_mode_drops_a_window_starting_in_padding():
    # ceil((4 + 2 - 2) / 2) + 1 = 3 windows start at 0, 2, 4; the last starts at padded
    # index 4 >= size + padding = 5? no -> kept. With size 3, padding 1: starts 0, 2, 4 and
    # 4 >= 3 + 1 -> dropped.
    assert th.pool_output_size(3, 2, padding=1, ceil_mode=True) == 2
    assert F.max_pool1d(torch.zeros(1, 1, 3), 2, padding=1, ceil_mode=True).shape[-1] == 2
    o = sympy.Symbol("I", integer=True, positive=True)
    expr = th.pool_output_size(o, 2, padding=1, ceil_mode=True)
    assert [expr.subs(o, v) for v in (3, 4, 5)] == [
        th.pool_output_size(v, 2, padding=1, ceil_mode=True) for v in (3, 4, 5)
    ]


# --------------------------------------------------------------------------- parameters


@pytest.mark.claim("d000.conv.param-count")
def test_param_count_derivation_and_counterexample():
    d = th.derive_param_count()
    assert d.agrees(), d.to_markdown()
    doc = 2 * 2 * 1 * 1 + 2
    torch_count = sum(p.numel() for p in torch.nn.Conv2d(2, 2, 1, groups=2).parameters())
    assert (doc, th.conv_params(2, 2, 1, groups=2), torch_count) == (6, 4, 4)


@pytest.mark.claim(
    "d000.conv.param-count", "d000.conv.grouped-reduction", "d000.conv.dilated-params"
)
@given(layer=conv_layer(max_groups=4, max_per_group=4), bias=st.booleans())
def test_param_count_theory_equals_kernel_layer_and_torch(layer, bias):
    expected = th.conv_params(
        layer.in_channels, layer.out_channels, layer.kernel, layer.groups, bias
    )
    kw = dict(groups=layer.groups, bias=bias)
    ours = layers.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel,
        dilation=(layer.h.dilation, layer.w.dilation),
        **kw,
    ).num_params()
    theirs = torch.nn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel,
        dilation=(layer.h.dilation, layer.w.dilation),
        device="meta",
        **kw,
    )
    transposed = torch.nn.ConvTranspose2d(
        layer.in_channels, layer.out_channels, layer.kernel, device="meta", **kw
    )
    ctx = dict(layer=layer, bias=bias)
    assert_equal(ours, expected, "d000.conv.param-count", **ctx)
    assert_equal(
        sum(p.numel() for p in theirs.parameters()), expected, "d000.conv.param-count", **ctx
    )
    assert_equal(
        sum(p.numel() for p in transposed.parameters()), expected, "d000.conv.param-count", **ctx
    )
    # dilation never enters the count: real layers with and without it store the same
    plain = torch.nn.Conv2d(
        layer.in_channels, layer.out_channels, layer.kernel, device="meta", **kw
    )
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert (
        layers.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, **kw).num_params()
        == ours
    )


@pytest.mark.claim("d000.conv.grouped-reduction")
def test_grouped_reduction_derivation_and_bias_counterexample():
    d = th.derive_grouped()
    assert d.agrees(), d.to_markdown()
    assert sympy.Rational(th.conv_params(2, 2, 1), th.conv_params(2, 2, 1, groups=2)) == (
        sympy.Rational(3, 2)
    )


@pytest.mark.claim("d000.conv.grouped-reduction")
@given(g=st.integers(1, 6), a=st.integers(1, 6), b=st.integers(1, 6), k=st.integers(1, 5))
def test_grouped_weights_and_macs_divide_by_g_exactly(g, a, b, k):
    cin, cout = g * a, g * b
    assert th.conv_params(cin, cout, k, bias=False) == g * th.conv_params(cin, cout, k, g, False)
    assert th.conv_macs(cin, cout, k, 7) == g * th.conv_macs(cin, cout, k, 7, groups=g)
    with_bias = sympy.Rational(th.conv_params(cin, cout, k), th.conv_params(cin, cout, k, g))
    assert with_bias == g if g == 1 else with_bias < g


# --------------------------------------------------------------------------- MACs


@pytest.mark.claim("d000.conv.operations")
def test_operations_derivation():
    d = th.derive_operations()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.conv.operations")
@given(layer=conv_layer())
def test_macs_theory_equals_kernel_count_and_half_torch_flops(layer):
    shape, torch_flops = _torch_conv(layer)
    macs = th.conv_macs(
        layer.in_channels, layer.out_channels, layer.kernel, shape[2:], layer.groups, layer.batch
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((layer.batch, layer.in_channels, layer.h.size, layer.w.size))
    w = rng.standard_normal((layer.out_channels, layer.in_channels // layer.groups, *layer.kernel))
    b = rng.standard_normal(layer.out_channels)
    for kernel in (conv2d_direct, conv2d_im2col):
        with MacCounter() as c:
            kernel(x, w, b, **layer.kwargs())
        assert_equal(c.macs, macs, "d000.conv.operations", layer=layer, kernel=kernel.__name__)
        assert_equal(
            c.adds, layer.batch * int(np.prod(shape[1:])), "d000.conv.operations", layer=layer
        )
    # Reading A (MACs) holds; reading B (FLOPs) is off by 2: torch counts 2 per MAC.
    assert_equal(torch_flops, th.macs_to_flops(macs), "d000.conv.operations", layer=layer)
    with MacCounter() as c:
        conv2d_direct_backward(np.ones((layer.batch, *shape[1:])), x, w, **layer.kwargs())
    assert_equal(c.macs, 2 * macs, "d000.conv.operations", layer=layer)  # dx and dw


@pytest.mark.claim("d000.conv.operations")
@given(g=conv_geometry(), cin=st.integers(1, 4), cout=st.integers(1, 4))
def test_transposed_macs_match_torch_flop_counter(g, cin, cout):
    x = torch.empty(2, cin, g.size, g.size, **META)
    w = torch.empty(cin, cout, g.kernel, g.kernel, **META)
    with FlopCounterMode(display=False) as fc:
        F.conv_transpose2d(x, w, stride=g.stride, dilation=g.dilation)
    assert fc.get_total_flops() == th.macs_to_flops(
        th.conv_transpose_macs(cin, cout, g.kernel, g.size, batch=2)
    )


@pytest.mark.claim("d000.conv.operations", "d000.conv.output-size", "d000.conv.param-count")
@given(
    g=conv_geometry(max_padding=2),
    groups=st.integers(1, 3),
    a=st.integers(1, 3),
    b=st.integers(1, 3),
    batch=st.integers(1, 2),
    data=st.data(),
)
def test_grouped_transposed_conv_sizes_and_macs_match_torch(g, groups, a, b, batch, data):
    """Grouped transposed convolution on the meta device: output size (with output_padding
    below max(stride, dilation)), parameters of the module, and MACs = FLOPs / 2."""
    cin, cout = groups * a, groups * b
    op = data.draw(st.integers(0, max(g.stride, g.dilation) - 1), label="output_padding")
    if (g.size - 1) * g.stride - 2 * g.padding + g.dilation * (g.kernel - 1) + op + 1 < 1:
        return
    kw = dict(stride=g.stride, padding=g.padding, output_padding=op, dilation=g.dilation)
    module = torch.nn.ConvTranspose1d(cin, cout, g.kernel, groups=groups, device="meta", **kw)
    x = torch.empty(batch, cin, g.size, **META)
    with FlopCounterMode(display=False) as fc:
        y = module(x)
    out = th.conv_transpose_output_size(g.size, g.kernel, **kw)
    ctx = dict(g=g, groups=groups, cin=cin, cout=cout, op=op)
    assert_equal(y.shape[-1], out, "d000.conv.output-size", **ctx)
    macs = th.conv_transpose_macs(cin, cout, (g.kernel,), (g.size,), groups, batch)
    assert_equal(fc.get_total_flops(), th.macs_to_flops(macs), "d000.conv.operations", **ctx)
    params = sum(p.numel() for p in module.parameters())
    assert_equal(params, th.conv_params(cin, cout, (g.kernel,), groups), "d000.conv.param-count")


# --------------------------------------------------------------------------- separable


@pytest.mark.claim("d000.conv.separable-costs", "d000.conv.separable-ratio")
def test_separable_derivation():
    d = th.derive_separable()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.conv.separable-costs", "d000.conv.separable-ratio")
@given(
    cin=st.integers(1, 4),
    cout=st.integers(1, 5),
    k=st.integers(1, 4),
    s=st.integers(1, 2),
    size=st.integers(4, 9),
    batch=st.integers(1, 2),
)
def test_separable_counts_kernel_torch_and_ratio(cin, cout, k, s, size, batch):
    pad = k // 2
    out = th.conv_output_size(size, k, s, pad)
    sep = layers.DepthwiseSeparableConv2d(cin, cout, k, stride=s, padding=pad)
    std = layers.Conv2d(cin, cout, k, stride=s, padding=pad, bias=False)
    x = np.random.default_rng(2).standard_normal((batch, cin, size, size))
    with MacCounter() as c_sep:
        y_sep = sep(x)
    with MacCounter() as c_std:
        y_std = std(x)
    assert y_sep.shape == y_std.shape == (batch, cout, out, out)
    ctx = dict(cin=cin, cout=cout, k=k, s=s, size=size)
    doc_std = cin * k**2 * cout * out * out * batch
    doc_sep = (cin * k**2 * out * out + cin * cout * out * out) * batch
    assert_equal(c_std.macs, doc_std, "d000.conv.separable-costs", **ctx)
    assert_equal(c_sep.macs, doc_sep, "d000.conv.separable-costs", **ctx)
    assert_equal(
        th.depthwise_separable_macs(cin, cout, k, out, batch),
        doc_sep,
        "d000.conv.separable-costs",
        **ctx,
    )
    assert_equal(
        sympy.Rational(c_sep.macs, c_std.macs),
        sympy.Rational(1, cout) + sympy.Rational(1, k * k),
        "d000.conv.separable-ratio",
        **ctx,
    )
    assert_equal(
        sympy.Rational(sep.num_params(), std.num_params()),
        th.separable_cost_ratio(cout, k),
        "d000.conv.separable-ratio",
        **ctx,
    )
    tsep = torch.nn.Sequential(
        torch.nn.Conv2d(cin, cin, k, s, pad, groups=cin, bias=False, device="meta"),
        torch.nn.Conv2d(cin, cout, 1, bias=False, device="meta"),
    )
    with FlopCounterMode(display=False) as fc:
        tsep(torch.empty(batch, cin, size, size, **META))
    assert_equal(fc.get_total_flops(), 2 * doc_sep, "d000.conv.separable-costs", **ctx)
    assert_equal(
        sum(p.numel() for p in tsep.parameters()),
        th.depthwise_separable_params(cin, cout, k),
        "d000.conv.separable-costs",
        **ctx,
    )


_TORCH_CONV = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}


@pytest.mark.claim("d000.conv.separable-costs")
@given(
    cin=st.integers(1, 6),
    cout=st.integers(1, 6),
    kernel=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    bias=st.booleans(),
    size=st.integers(5, 8),
)
@example(cin=3, cout=5, kernel=[3, 3], bias=True, size=5)
@example(cin=4, cout=2, kernel=[1, 5], bias=False, size=5)
def test_separable_params_and_macs_equal_torch_modules(cin, cout, kernel, bias, size):
    """Depthwise (groups = C_in) + pointwise (1x1) modules of torch, with and without biases,
    1-D to 3-D, non-square kernels: parameters by ``numel``, MACs by FlopCounterMode (2 per
    MAC), output size from a real forward pass on the meta device."""
    nd = len(kernel)
    conv = _TORCH_CONV[nd]
    depthwise = conv(cin, cin, tuple(kernel), groups=cin, bias=bias, device="meta")
    pointwise = conv(cin, cout, 1, bias=bias, device="meta")
    params = sum(p.numel() for m in (depthwise, pointwise) for p in m.parameters())
    ctx = dict(cin=cin, cout=cout, kernel=kernel, bias=bias)
    assert_equal(
        th.depthwise_separable_params(cin, cout, tuple(kernel), bias=bias),
        params,
        "d000.conv.separable-costs",
        repro=f"theory.conv.depthwise_separable_params({cin}, {cout}, {tuple(kernel)}, {bias})",
        **ctx,
    )
    if nd == 2 and kernel[0] == kernel[1]:  # an int kernel is the square 2-D one
        assert th.depthwise_separable_params(cin, cout, kernel[0], bias=bias) == params
    x = torch.empty(2, cin, *([size] * nd), device="meta")
    with FlopCounterMode(display=False) as fc:
        y = pointwise(depthwise(x))
    out = tuple(y.shape[2:])
    assert out == tuple(th.conv_output_size(size, k) for k in kernel)
    assert_equal(
        2 * th.depthwise_separable_macs(cin, cout, tuple(kernel), out, batch=2),
        fc.get_total_flops(),
        "d000.conv.separable-costs",
        **ctx,
    )
    # the bias terms are C_in (depthwise) + C_out (pointwise), not C_out alone
    assert (
        th.depthwise_separable_params(cin, cout, tuple(kernel), bias=True)
        - (th.depthwise_separable_params(cin, cout, tuple(kernel), bias=False))
        == cin + cout
    )


# --------------------------------------------------------------------------- receptive field


def _support_span(layers_spec, size):
    """Span of input positions that influence the centre output, via autograd (1-D, float64).

    Weights and inputs are positive, so no contribution can cancel.
    """
    x = torch.ones(1, 1, size, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s, d in layers_spec:
        h = F.conv1d(h, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    h[0, 0, h.shape[-1] // 2].backward()
    nz = torch.nonzero(x.grad[0, 0]).flatten()
    return int(nz.max() - nz.min() + 1)


stack = st.lists(
    st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=4
)


@pytest.mark.claim(
    "d000.conv.rf-standard-linear",
    "d000.conv.rf-dilated-exponential",
    "d000.conv.local-connectivity",
    "d000.conv.review-receptive-field",
)
@given(spec=stack)
def test_receptive_field_equals_autograd_support(spec):
    rf = th.receptive_field(spec)
    # input long enough for the stack to produce output
    size = rf + 4 * th.effective_stride(spec)
    assert_equal(
        _support_span(spec, size),
        rf,
        "d000.conv.rf-standard-linear",
        f"theory.conv.receptive_field({spec})",
        spec=spec,
    )


@pytest.mark.claim("d000.conv.rf-standard-linear", "d000.conv.review-receptive-field")
def test_receptive_field_derivation_and_stride_counterexample():
    d = th.derive_receptive_field()
    assert d.agrees(), d.to_markdown()
    spans = [th.receptive_field([(3, 2)] * depth) for depth in (1, 2, 3)]
    assert spans == [3, 7, 15]  # increments 4, 8: not linear
    L = sympy.Symbol("L", integer=True, positive=True)
    assert sympy.simplify(th.receptive_field_uniform(L, 3, stride=2) - (2 ** (L + 1) - 1)) == 0
    for depth in range(1, 7):  # the closed forms agree with the recurrence
        assert th.receptive_field_uniform(depth, 3) == th.receptive_field([(3, 1)] * depth)
        assert th.receptive_field_uniform(depth, 3, 2) == th.receptive_field([(3, 2)] * depth)


@pytest.mark.claim(
    "d000.conv.rf-dilated-exponential",
    "d000.conv.dilated-params",
    "d000.conv.review-receptive-field",
)
def test_dilation_readings():
    # Reading A (exponential in the rate): refuted, a single layer's span is affine in d.
    spans = [th.receptive_field([(3, 1, d)]) for d in (1, 2, 4, 8)]
    assert spans == [3, 5, 9, 17] == [_support_span([(3, 1, d)], 40) for d in (1, 2, 4, 8)]
    d = sympy.Symbol("d", integer=True, positive=True)
    assert sympy.expand(th.dilated_extent(3, d)) == 2 * d + 1
    # Reading B (doubling rates): exponential in depth, parameters linear in depth.
    for depth in range(1, 6):
        spec = [(3, 1, 2**i) for i in range(depth)]
        assert (
            th.receptive_field(spec)
            == 2 ** (depth + 1) - 1
            == _support_span(spec, 2**depth * 4 + 8)
        )
        assert th.receptive_field_uniform(depth, 3, dilation="doubling") == 2 ** (depth + 1) - 1
        params = sum(th.conv_params(1, 1, (3,), bias=False) for _ in spec)
        assert params == 3 * depth
    # A fixed rate keeps the growth linear: 1 + L*D*(K-1).
    for depth in range(1, 6):
        spec = [(3, 1, 2)] * depth
        assert th.receptive_field(spec) == 1 + 4 * depth == _support_span(spec, 8 * depth + 8)


@pytest.mark.claim("d000.conv.rf-standard-linear", "d000.conv.rf-dilated-exponential")
@given(
    depth=st.integers(0, 30),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
)
@example(depth=3, k=3, s=3, d=2)
def test_receptive_field_closed_form_equals_recurrence(depth, k, s, d):
    """The closed forms (no loop over layers) against the layer-by-layer recurrence, for
    integers, for a symbolic depth and stride (a Piecewise over S = 1), and for doubling."""
    stack = th.receptive_field([(k, s, d)] * depth)
    assert th.receptive_field_uniform(depth, k, s, d) == stack
    assert th.effective_stride([(k, s, d)] * depth) == s**depth
    big_l = sympy.Symbol("L", integer=True, nonnegative=True)
    big_s = sympy.Symbol("S", integer=True, positive=True)
    general = th.receptive_field_uniform(big_l, k, big_s, d)
    assert general.subs({big_l: depth, big_s: s}) == stack
    assert th.receptive_field_uniform(big_l, k, s, d).subs(big_l, depth) == stack
    doubling = th.receptive_field([(k, 1, 2**i) for i in range(depth)])
    assert th.receptive_field_uniform(depth, k, dilation="doubling") == doubling
    assert th.receptive_field_uniform(big_l, k, dilation="doubling").subs(big_l, depth) == doubling


@pytest.mark.claim("d000.conv.rf-standard-linear")
def test_receptive_field_of_huge_stacks_is_immediate_or_refused():
    assert th.receptive_field_uniform(10**30, 3) == 1 + 2 * 10**30  # closed form, no loop
    assert th.receptive_field_uniform(3000, 3, 2) == th.receptive_field([(3, 2)] * 3000)
    with pytest.raises(ValueError, match=r"depth\*log2\(stride\) must be at most"):
        th.receptive_field_uniform(10**30, 3, 2)
    with pytest.raises(ValueError, match="depth must be at most"):
        th.receptive_field_uniform(10**30, 3, dilation="doubling")
    # The result is a sympy.Integer of at most MAX_RESULT_BITS bits: SymPy's assumption queries
    # on it (which may run a primality test) answer at once; at 10**6 bits they never finished.
    top = th.receptive_field_uniform(th.MAX_RESULT_BITS - 1, 3, dilation="doubling")
    assert top == 2**th.MAX_RESULT_BITS - 1 and top.is_negative is False
    with pytest.raises(ValueError, match="depth must be at most 4096"):
        th.receptive_field_uniform(10**6, 3, dilation="doubling")


# --------------------------------------------------------------------------- pooling geometry


def _torch_avg_matrix(i: int, k: int, s: int, p: int, include: bool) -> np.ndarray:
    """torch's 1-D average pooling as an O x I matrix (probed with the identity)."""
    probe = torch.eye(i, dtype=torch.float64)[:, None, :]
    return F.avg_pool1d(probe, k, s, p, count_include_pad=include)[:, 0, :].numpy().T


@pytest.mark.claim("d000.pool.information-loss", "d000.pool.avg-definition")
def test_avg_pool_matrix_and_injectivity_against_torch_exhaustively():
    """Every 1-D geometry with I <= 8, K <= 5, S <= 4, P <= K/2: the exact matrix equals
    torch's (both divisor conventions), and the window-graph rule for injectivity equals
    rank = I of torch's matrix."""
    checked = 0
    for i in range(1, 9):
        for k in range(1, 6):
            for s in range(1, 5):
                for p in range(k // 2 + 1):
                    if i + 2 * p < k:
                        continue
                    for include in (True, False):
                        ours = tp.avg_pool_matrix(i, k, s, p, count_include_pad=include)
                        theirs = _torch_avg_matrix(i, k, s, p, include)
                        assert np.allclose(
                            np.array(ours.tolist(), dtype=np.float64), theirs, rtol=0, atol=1e-15
                        ), (i, k, s, p, include)
                    rank = np.linalg.matrix_rank(_torch_avg_matrix(i, k, s, p, True))
                    assert tp.pooling_injective(i, k, s, p, "avg") == (rank == i), (i, k, s, p)
                    checked += 1
    assert checked == 300


@pytest.mark.claim("d000.pool.adaptive-output-size")
@given(i=st.integers(1, 40), o=st.integers(1, 50))
def test_adaptive_read_count_closed_form_against_torch(i, o):
    """I + O - gcd(I, O) = total window length = non-zeros of torch's adaptive pooling map."""
    probe = torch.eye(i, dtype=torch.float64)[:, None, :]
    nonzeros = int(torch.count_nonzero(F.adaptive_avg_pool1d(probe, o)))
    windows = tp.adaptive_windows(i, o)
    assert tp.adaptive_read_count(i, o) == nonzeros == sum(b - a for a, b in windows)
    assert tp.adaptive_read_count(i, o) == i + o - math.gcd(i, o)


@pytest.mark.claim("d000.pool.adaptive-output-size")
def test_adaptive_helpers_on_huge_sizes_are_immediate_or_refused():
    assert tp.adaptive_read_count(10**30, 10**30 - 1) == 2 * 10**30 - 2
    assert tp.adaptive_windows(10**30, 2) == [(0, 5 * 10**29), (5 * 10**29, 10**30)]
    with pytest.raises(ValueError, match="output_size must be at most"):
        tp.adaptive_windows(4, 10**30)
    with pytest.raises(ValueError, match="output_size must be at most"):
        tp.rule_agrees(10**30, 10**20)
    big = sympy.Symbol("n", integer=True, positive=True)
    with pytest.raises(TypeError, match="input_size must be a concrete integer"):
        tp.adaptive_windows(big, 2)


@pytest.mark.claim("d000.pool.stride-reduction")
def test_stride_reduction_rejects_what_torch_rejects():
    for i, k, s, p in ((8, 2, 2, 2), (2, 5, 1, 0), (1, 4, 1, 1)):
        with pytest.raises(RuntimeError):
            F.max_pool1d(torch.zeros(1, 1, i), k, s, p)
        with pytest.raises(ValueError, match=r"padding|output size"):
            tp.stride_reduction_exact(i, k, s, p)


@pytest.mark.claim("d000.conv.local-connectivity")
@given(layer=conv_layer(max_groups=1, max_per_group=2, max_batch=1))
def test_each_output_depends_only_on_its_window(layer):
    rng = np.random.default_rng(3)
    x = rng.random((1, layer.in_channels, layer.h.size, layer.w.size)) + 0.5
    w = rng.random((layer.out_channels, layer.in_channels, *layer.kernel)) + 0.5
    y = conv2d_direct(x, w, **layer.kwargs())
    i, j = y.shape[2] // 2, y.shape[3] // 2
    g = np.zeros_like(y)
    g[0, 0, i, j] = 1
    dx, _, _ = conv2d_direct_backward(g, x, w, **layer.kwargs())
    h, v = layer.h, layer.w
    rows = {h.stride * i + p * h.dilation - h.padding for p in range(h.kernel)}
    cols = {v.stride * j + q * v.dilation - v.padding for q in range(v.kernel)}
    window = {(r, c) for r in rows for c in cols if 0 <= r < h.size and 0 <= c < v.size}
    support = set(zip(*(a.tolist() for a in np.nonzero(np.abs(dx[0]).sum(0))), strict=True))
    assert support == window, f"support {sorted(support)} != window {sorted(window)} for {layer}"


# --------------------------------------------------------------------------- conv vs dense


@pytest.mark.claim(
    "d002.conv.fc-vs-conv-params", "d002.conv.reduction-ratio", "d000.conv.fewer-params-than-fc"
)
def test_fc_ratio_derivation():
    d = th.derive_fc_ratio()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d002.conv.fc-vs-conv-params", "d002.conv.reduction-ratio")
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    c1=st.integers(1, 4),
    c2=st.integers(1, 4),
    k=st.integers(1, 5),
)
def test_fc_and_conv_weight_counts_against_torch(h, w, c1, c2, k):
    pad = k // 2
    if h + 2 * pad < k or w + 2 * pad < k:
        return
    h2, w2 = th.conv_output_size(h, k, padding=pad), th.conv_output_size(w, k, padding=pad)
    fc = torch.nn.Linear(h * w * c1, h2 * w2 * c2, bias=False, device="meta")
    cv = torch.nn.Conv2d(c1, c2, k, padding=pad, bias=False, device="meta")
    assert fc.weight.numel() == h * w * c1 * h2 * w2 * c2
    assert cv.weight.numel() == k * k * c1 * c2
    assert sympy.Rational(fc.weight.numel(), cv.weight.numel()) == th.fc_to_conv_weight_ratio(
        (h, w), (h2, w2), k
    )


@pytest.mark.claim("d000.conv.fewer-params-than-fc")
@given(h=st.integers(1, 12), k=st.integers(1, 7), pad=st.integers(0, 3))
@example(h=1, k=3, pad=1)
def test_conv_has_fewer_weights_iff_maps_outweigh_kernel(h, k, pad):
    if h + 2 * pad < k:
        return
    h2 = th.conv_output_size(h, k, padding=pad)
    r = th.fc_to_conv_weight_ratio((h, h), (h2, h2), k)
    # one channel each side: the conv stores k*k weights, the dense map (h*h) x (h2*h2)
    fewer = th.conv_params(1, 1, k, bias=False) < linear_params(h * h, h2 * h2, bias=False)
    assert (r > 1) == fewer
    if (h, k, pad) == (1, 3, 1):
        assert r == sympy.Rational(1, 9)  # the conv stores 9x more weights
    if pad == 0 and k == h:
        assert r == 1  # the conv is a dense layer


@pytest.mark.claim("d002.conv.reduction-typical")
def test_typical_reduction_band_is_violated_by_resnet18():
    """R for every convolution of a ResNet-18 at 224x224 (shapes from He et al. 2016, Table 1)."""
    convs = [((224, 224), 7, 2, 3)]  # (input map, kernel, stride, padding): the stem
    for size, first_stride, blocks in ((56, 1, 2), (56, 2, 2), (28, 2, 2), (14, 2, 2)):
        in_size = size
        for b in range(blocks):
            stride = first_stride if b == 0 else 1
            convs.append(((in_size, in_size), 3, stride, 1))
            out = th.conv_output_size(in_size, 3, stride, 1)
            convs.append(((out, out), 3, 1, 1))
            if b == 0 and stride == 2:
                convs.append(((in_size, in_size), 1, 2, 0))  # downsample shortcut
            in_size = out
    assert len(convs) == 20
    ratios = []
    for (h, w), k, s, p in convs:
        h2, w2 = th.conv_output_size(h, k, s, p), th.conv_output_size(w, k, s, p)
        ratios.append(th.fc_to_conv_weight_ratio((h, w), (h2, w2), k))
    above = sum(bool(r > 10**4) for r in ratios)
    within = sum(bool(10**2 <= r <= 10**4) for r in ratios)
    assert (above, within, len(ratios) - above - within) == (12, 8, 0)
    assert min(ratios) == sympy.Rational(7**4, 9) and math.isclose(
        float(min(ratios)), 266.78, rel_tol=1e-4
    )
    assert max(ratios) == sympy.Rational(224**2 * 112**2, 49) == 12845056
    assert th.fc_to_conv_weight_ratio((56, 56), (56, 56), 3) == sympy.Rational(56**4, 9)
    # Correction: for 3x3 'same' convolutions the band holds exactly for maps 6..17.
    in_band = [
        n for n in range(1, 100) if 10**2 <= th.fc_to_conv_weight_ratio((n, n), (n, n), 3) <= 10**4
    ]
    assert in_band == list(range(6, 18))


@pytest.mark.claim("d000.conv.dilated-same-resolution")
@given(size=st.integers(1, 30), k=st.integers(1, 7), d=st.integers(1, 4), s=st.integers(1, 3))
@example(size=5, k=2, d=1, s=1)
def test_dilation_keeps_resolution_iff_stride_one_and_even_span(size, k, d, s):
    span_minus_one = d * (k - 1)
    preserving = [
        p
        for p in range(0, span_minus_one + 2)
        if size + 2 * p >= span_minus_one + 1 and th.conv_output_size(size, k, s, p, d) == size
    ]
    if s == 1 and span_minus_one % 2 == 0:
        assert preserving == [span_minus_one // 2]
        x = torch.zeros(1, 1, size)
        y = F.conv1d(x, torch.zeros(1, 1, k), padding=span_minus_one // 2, dilation=d)
        assert y.shape[-1] == size
    elif s == 1:
        assert preserving == []
    else:  # stride >= 2: only padding of the order of the input keeps the size
        assert all(2 * p >= (s - 1) * (size - 1) + span_minus_one for p in preserving)


@pytest.mark.claim("d000.conv.dilated-same-resolution")
def test_same_resolution_stack_grows_receptive_field():
    spec = [(3, 1, 2**i) for i in range(5)]
    size = 64
    for k, _, d in spec:
        size = th.conv_output_size(size, k, 1, d * (k - 1) // 2, d)
        assert size == 64
    assert th.receptive_field(spec) == 63


# --------------------------------------------------------------------------- review (issue 10 §5)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MODULE = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
_MODES = ("zeros", "reflect", "replicate", "circular")


@pytest.mark.claim("d000.conv.dilated-same-resolution")
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@given(
    ndim=st.integers(1, 3),
    k=st.integers(1, 6),
    d=st.integers(1, 4),
    extra=st.integers(0, 6),
    mode=st.sampled_from(_MODES),
)
@example(ndim=1, k=2, d=1, extra=0, mode="zeros")  # odd D(K-1): asymmetric padding needed
def test_same_padding_keeps_the_size_at_every_dilation(ndim, k, d, extra, mode):
    total = d * (k - 1)
    size = total + 1 + extra  # big enough for reflect/circular padding
    x = torch.rand((1, 1) + (size,) * ndim, dtype=torch.float64)
    conv = _MODULE[ndim](
        1, 1, k, padding="same", dilation=d, padding_mode=mode, dtype=torch.float64
    )
    assert tuple(conv(x).shape[2:]) == (size,) * ndim
    if mode == "zeros":  # torch's split: floor(total/2) left, the rest right
        left = total // 2
        pads = (left, total - left) * ndim
        manual = _CONV[ndim](F.pad(x, pads), conv.weight, conv.bias, dilation=d)
        assert torch.allclose(conv(x), manual, rtol=1e-12, atol=1e-12)
    # torch's default padding 0 shrinks the map by D(K-1): D times the undilated loss
    assert th.conv_output_size(size, k, 1, 0, d) == size - total
    assert _CONV[ndim](x, conv.weight, dilation=d).shape[2] == size - total
    # stride 2 with 'same' is refused by torch: the condition is stride 1
    with pytest.raises(RuntimeError, match="strided"):
        _CONV[ndim](x, conv.weight, padding="same", stride=2, dilation=d)


@pytest.mark.claim("d000.conv.dilated-same-resolution")
def test_dilated_layer_without_padding_loses_resolution():
    x = torch.zeros(1, 1, 5)
    assert F.conv1d(x, torch.zeros(1, 1, 3), dilation=2).shape[-1] == 1
    assert F.conv1d(x, torch.zeros(1, 1, 3)).shape[-1] == 3
    assert th.conv_output_size(5, 3, dilation=2) == 1


def _padding_ok(mode: str, size: int, padding: int) -> bool:
    """torch's limits on the padding of the non-zero padding modes."""
    return mode == "zeros" or (padding < size if mode == "reflect" else padding <= size)


@pytest.mark.claim("d000.conv.output-size")
@given(
    ndim=st.integers(1, 3),
    geometry=st.lists(conv_geometry(max_extra=5), min_size=3, max_size=3),
    mode=st.sampled_from(_MODES),
)
def test_output_size_rule_is_per_axis_for_every_dimension_and_padding_mode(ndim, geometry, mode):
    axes = geometry[:ndim]
    if not all(_padding_ok(mode, g.size, g.padding) for g in axes):
        return
    conv = _MODULE[ndim](
        1,
        1,
        tuple(g.kernel for g in axes),
        stride=tuple(g.stride for g in axes),
        padding=tuple(g.padding for g in axes),
        dilation=tuple(g.dilation for g in axes),
        padding_mode=mode,
    )
    y = conv(torch.zeros((1, 1, *(g.size for g in axes))))
    expected = tuple(
        th.conv_output_size(g.size, g.kernel, g.stride, g.padding, g.dilation) for g in axes
    )
    assert_equal(tuple(y.shape[2:]), expected, "d000.conv.output-size", axes=axes, mode=mode)
    # the document's formula, with K read as the effective size D(K-1)+1
    for g, o in zip(axes, expected, strict=True):
        eff = th.dilated_extent(g.kernel, g.dilation)
        assert o == (g.size + 2 * g.padding - eff) // g.stride + 1


def _span(positions: list[int], n: int, cyclic: bool) -> int:
    """Length of the shortest interval (arc, if cyclic) of [0, n) holding all positions."""
    ps = sorted(set(positions))
    if not cyclic:
        return ps[-1] - ps[0] + 1
    gaps = [(ps[(i + 1) % len(ps)] - ps[i]) % n or n for i in range(len(ps))]
    return n - max(gaps) + 1


@pytest.mark.claim("d000.conv.local-connectivity")
@given(
    ndim=st.integers(1, 3),
    geometry=st.lists(conv_geometry(max_kernel=3, max_extra=4), min_size=3, max_size=3),
    groups=st.integers(1, 2),
    transposed=st.booleans(),
    mode=st.sampled_from(_MODES),
    data=st.data(),
)
def test_each_output_depends_on_a_bounded_window_across_the_conv_family(
    ndim, geometry, groups, transposed, mode, data
):
    axes = geometry[:ndim]
    if transposed:
        mode = "zeros"  # torch's transposed convolutions only pad with zeros
    if not all(_padding_ok(mode, g.size, g.padding) for g in axes):
        return
    cin, cout = 2 * groups, 2 * groups
    kernel = tuple(g.kernel for g in axes)
    kw = dict(
        stride=tuple(g.stride for g in axes),
        padding=tuple(g.padding for g in axes),
        dilation=tuple(g.dilation for g in axes),
        groups=groups,
    )
    x = (torch.rand((1, cin, *(g.size for g in axes)), dtype=torch.float64) + 0.5).requires_grad_()
    if transposed:
        w = torch.rand((cin, cout // groups, *kernel), dtype=torch.float64) + 0.5
        try:
            for g in axes:
                th.conv_transpose_output_size(g.size, g.kernel, g.stride, g.padding, 0, g.dilation)
        except ValueError:
            return  # no transposed output for this geometry (torch raises too)
        y = _CONV_T[ndim](x, w, **kw)
    else:
        w = torch.rand((cout, cin // groups, *kernel), dtype=torch.float64) + 0.5
        if mode == "zeros":
            y = _CONV[ndim](x, w, **kw)
        else:
            pads = tuple(p for g in reversed(axes) for p in (g.padding, g.padding))
            y = _CONV[ndim](F.pad(x, pads, mode=mode), w, **{**kw, "padding": 0})
    index = tuple(data.draw(st.integers(0, s - 1), label="output index") for s in y.shape[1:])
    y[(0, *index)].backward()
    support = torch.nonzero(x.grad[0]).tolist()  # weights and inputs > 0: no cancellation
    group = index[0] // (cout // groups)
    per_group = cin // groups
    # with zero padding a window may hold padding only (and a strided transposed layer has
    # outputs that no input reaches): an empty region; the other padding modes never do that
    assert support or mode == "zeros"
    assert all(group * per_group <= c < (group + 1) * per_group for c, *_ in support)
    for c in {c for c, *_ in support}:
        where = [pos for cc, *pos in support if cc == c]
        assert len(where) <= int(np.prod(kernel)), (where, kernel)
        for a, g in enumerate(axes):
            span = _span([pos[a] for pos in where], g.size, cyclic=mode == "circular")
            assert span <= th.dilated_extent(g.kernel, g.dilation), (where, g, mode)


@pytest.mark.claim("d002.conv.reduction-typical")
def test_typical_reduction_band_across_six_torchvision_cnns():
    """Dense/conv weight ratio for every convolution of six reference CNNs at 224x224.

    The ratio is R = H1 W1 H2 W2 / (Kh Kw) times the groups G (a grouped convolution holds
    Kh Kw C1 C2 / G weights). Beyond ResNet-18: in every network fewer convolutions fall in
    the band [10^2, 10^4] than above it; the only ones below are EfficientNet-B0's
    squeeze-excitation 1x1 convolutions on 1x1 maps, where a convolution is a dense layer.
    """
    from theory.architectures import reference_spec

    totals = {"below": 0, "within": 0, "above": 0}
    for name in (
        "ResNet-18",
        "ResNet-50",
        "VGG-16",
        "MobileNetV2",
        "DenseNet-121",
        "EfficientNet-B0",
    ):
        spec = reference_spec(name)
        counts = {"below": 0, "within": 0, "above": 0}
        for node in spec.nodes:
            if node.op != "conv":
                continue
            in_map = spec.nodes[node.inputs[0]].shape[1:]
            ratio = node.attrs["groups"] * th.fc_to_conv_weight_ratio(
                in_map, node.shape[1:], node.attrs["kernel_size"]
            )
            if ratio < 10**2:
                assert tuple(in_map) == (1, 1) and ratio == 1, (name, node.name, in_map, ratio)
                counts["below"] += 1
            else:
                counts["above" if ratio > 10**4 else "within"] += 1
        assert counts["within"] < counts["above"], (name, counts)
        assert counts["below"] == 0 or name == "EfficientNet-B0", (name, counts)
        totals = {k: totals[k] + counts[k] for k in totals}
    assert totals["above"] > totals["within"] + totals["below"], totals


def test_stack_helpers_bound_layers_and_bits_before_the_work():
    """Fuzz finding 10: ``receptive_field([(3, 2)] * 10**6)`` ran > 15 s and
    ``receptive_field([(3, 10**30)] * 30000)`` / ``effective_stride([(3, 10**30)] * 10**5)``
    > 20 s (big-integer products per layer). Refused at once now; at the limits, exact."""
    import time

    for fn in (th.receptive_field, th.effective_stride):
        for stack in (
            [(3, 2)] * (th.MAX_STACK + 1),
            [(3, 10**30)] * 30000,
            [(3, 10**30)] * 10**5,
            [(3, 2**100)] * th.MAX_STACK,  # 10**4 layers, 1.03e6 bits > MAX_BITS
            [(sympy.Symbol("k"), 2)] * (th.MAX_SYMBOLIC_STACK + 1),
        ):
            start = time.perf_counter()
            with pytest.raises(ValueError, match=r"\blayers\b"):
                fn(stack)
            assert time.perf_counter() - start < 0.5
    n = th.MAX_STACK
    assert th.receptive_field([(3, 2)] * n) == 1 + 2 * (2**n - 1)  # sum of 2 * 2^(l-1)
    assert th.effective_stride([(3, 2)] * n) == 2**n
    k = sympy.Symbol("k", positive=True, integer=True)
    m = th.MAX_SYMBOLIC_STACK
    assert sympy.expand(th.receptive_field([(k, 1)] * m) - (1 + m * (k - 1))) == 0
