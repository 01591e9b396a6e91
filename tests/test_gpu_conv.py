"""Triton implicit-GEMM convolutions (kernels.gpu.conv) against the float64 NumPy kernel
(kernels.cpu.conv) and torch (F.conv2d / F.conv_transpose2d and autograd), under the GPU
tolerance rule (numerics.tolerances.assert_gpu_close).

Under ``TRITON_INTERPRET=1`` (set by conftest where torch sees no CUDA) the kernels run in
Triton's interpreter on CPU tensors: shapes are small and irregular (7×9 maps, 3–6 channels,
1×1, 3×3, 2×5 kernels, strides, dilations, asymmetric 'same' padding, groups, depthwise,
unbatched), and the block configs are shrunk where a test needs several programs, channel
blocks and split-K slots. torch on the CPU has no TF32 and the interpreter multiplies float32
exactly, so both run full float32; on a GPU both follow ``torch.backends.cudnn.allow_tf32``
(the kernels through ``_backend.dot_precision("conv")``), so the rule compares like with like
and needs no TF32 slack. The ``gpu_only`` tests run the ResNet-50 shapes of
``benchmarks/conv2d_cpu.py`` and bfloat16 (whose ``tl.dot`` the interpreter gets wrong).

Claims: d000.conv.multichannel (the forward formula is torch's conv2d),
d000.conv.grouped-definition (groups = per-group convolutions concatenated),
d000.conv.cross-correlation (the transposed convolution is the adjoint of the
cross-correlation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import conv as cpu
from kernels.gpu import _backend
from kernels.gpu import conv as gpu
from numerics.tolerances import assert_close, assert_gpu_close
from tests.gpu_support import DEV, gpu_only, needs_kernels

pytestmark = needs_kernels

MULTICHANNEL = pytest.mark.claim("d000.conv.multichannel")
GROUPED = pytest.mark.claim("d000.conv.grouped-definition")
ADJOINT = pytest.mark.claim("d000.conv.cross-correlation")
seeds = st.integers(0, 2**32 - 1)


def _np(t: torch.Tensor | None):
    return None if t is None else t.detach().cpu().double().numpy()


def _rand(seed: int, shape, dtype=torch.float64) -> torch.Tensor:
    x = np.random.default_rng(seed).standard_normal(shape)
    return torch.tensor(x, dtype=torch.float64, device=DEV).to(dtype)


def _torch_grads(fn, x, w, b, g, **kw):
    """torch's ``(y, dx, dw, db)`` by autograd (same dtype and device as the inputs)."""
    ts = [None if t is None else t.clone().requires_grad_() for t in (x, w, b)]
    with warnings.catch_warnings():  # torch warns that even-kernel 'same' pads by a copy
        warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
        y = fn(*ts, **kw)
    y.backward(g)
    return y.detach(), *(None if t is None else t.grad for t in ts)


def _check_all(name, got, ref64, ref_torch, context, magnitude=None, terms=None):
    r"""The GPU rule for each part; for float64 given ``magnitude`` (the same computation on
    absolute values, per part) and ``terms`` (an upper bound on any output's number of
    products), the a-priori reduction bound :math:`2\gamma_n\sum|\text{terms}|` instead
    (:func:`numerics.tolerances.assert_close`): torch's float64 convolution often sums in
    NumPy's order and is *exact* against the reference, where the GPU rule then allows one
    ulp, and a different but correct summation order (Triton 3.6's interpreter measured 1.6
    ulps) would fail it."""
    mags = magnitude or (None, None, None)
    for part, a, e, t, m in zip(("y/dx", "dw", "db"), got, ref64, ref_torch, mags, strict=True):
        assert (a is None) == (e is None) == (t is None), (name, part)
        if a is None:
            continue
        assert a.dtype == t.dtype and tuple(a.shape) == tuple(t.shape), (name, part)
        where = f"{name} {part} {context}"
        if a.dtype == torch.float64 and m is not None:
            assert_close(_np(a), e, np.float64, reduction_length=terms, magnitude=m, context=where)
        else:
            assert_gpu_close(a, e, t, context=where)


def _abs(*ts):
    """float64 NumPy absolute values (None stays None): the operands of a magnitude."""
    return tuple(None if t is None else np.abs(_np(t)) for t in ts)


# (C_in, C_out, H, W, kernel, kwargs, bias, batched)
CASES = {
    "3x3 pad 1": (3, 5, 7, 9, (3, 3), dict(padding=1), True, True),
    "1x1 stride 2": (6, 5, 7, 9, (1, 1), dict(stride=2), False, True),
    "2x5 stride (2,1) dil 2 groups 2": (
        4, 6, 7, 9, (2, 5), dict(stride=(2, 1), padding=(1, 2), dilation=2, groups=2), True, True
    ),
    "same, even kernel, dilation (1,2)": (
        5, 5, 7, 9, (3, 2), dict(padding="same", dilation=(1, 2)), True, True
    ),
    "depthwise 3x3 stride 2": (6, 6, 7, 9, (3, 3), dict(stride=2, padding=1, groups=6), True, True),
    "depthwise x2, same, dilation (1,2)": (
        3, 6, 7, 9, (3, 3), dict(padding="same", dilation=(1, 2), groups=3), False, True
    ),
    "unbatched groups 2": (4, 6, 6, 5, (3, 3), dict(groups=2), True, False),
    "single pixel": (3, 5, 1, 1, (1, 1), {}, True, True),
}  # fmt: skip


def _case(name: str, dtype, seed: int = 0):
    c_in, c_out, h, w, k, kw, has_bias, batched = CASES[name]
    groups = kw.get("groups", 1)
    x = _rand(seed, (2, c_in, h, w) if batched else (c_in, h, w), dtype)
    wt = _rand(seed + 1, (c_out, c_in // groups, *k), dtype)
    b = _rand(seed + 2, (c_out,), dtype) if has_bias else None
    return x, wt, b, kw


@MULTICHANNEL
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_conv2d_forward_and_backward_equal_numpy_and_torch(name, dtype):
    x, w, b, kw = _case(name, dtype)
    y = gpu.conv2d(x, w, b, **kw)
    g = _rand(5, tuple(y.shape), dtype)
    yt, dxt, dwt, dbt = _torch_grads(F.conv2d, x, w, b, g, **kw)
    y64 = cpu.conv2d(_np(x), _np(w), _np(b), **kw)
    n = max(w.numel(), g.numel())  # no output (nor gradient) sums more products than that
    mag = (cpu.conv2d(*_abs(x, w, b), **kw), None, None)
    _check_all(name, (y, None, None), (y64, None, None), (yt, None, None), "forward", mag, n)
    got = gpu.conv2d_backward(g, x, w, b, **kw)
    ref = cpu.conv2d_backward(_np(g), _np(x), _np(w), _np(b), **kw)
    mag = cpu.conv2d_backward(*_abs(g, x, w, b), **kw)
    _check_all(name, got, ref, (dxt, dwt, dbt), "backward", mag, n)
    # the documented layout: channels-last outputs, contiguous weight gradient
    if x.ndim == 4:
        assert y.is_contiguous(memory_format=torch.channels_last)
        assert got[0].is_contiguous(memory_format=torch.channels_last)
    assert got[1].is_contiguous()


T_CASES = {
    "stride 2, output_padding 1, bias": (
        3, 5, 4, 5, (3, 3), dict(stride=2, padding=1, output_padding=1), True, True
    ),
    "groups 2, dilation 2, stride (2,1)": (
        4, 6, 5, 4, (2, 3), dict(stride=(2, 1), padding=(1, 0), groups=2, dilation=2,
                                 output_padding=(1, 0)), False, True
    ),
    "depthwise, output_padding from dilation": (
        4, 4, 4, 3, (3, 3), dict(stride=1, groups=4, dilation=2, output_padding=1), True, True
    ),
    "unbatched 1x1": (5, 3, 6, 7, (1, 1), {}, True, False),
    "stride 3, padding (1, 2), kernel 4x5": (
        2, 3, 3, 4, (4, 5), dict(stride=3, padding=(1, 2), output_padding=(2, 0)), True, True
    ),
}  # fmt: skip


@ADJOINT
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(T_CASES))
def test_conv_transpose2d_equals_numpy_and_torch(name, dtype):
    c_in, c_out, h, w_, k, kw, has_bias, batched = T_CASES[name]
    groups = kw.get("groups", 1)
    x = _rand(10, (2, c_in, h, w_) if batched else (c_in, h, w_), dtype)
    w = _rand(11, (c_in, c_out // groups, *k), dtype)
    b = _rand(12, (c_out,), dtype) if has_bias else None
    y = gpu.conv_transpose2d(x, w, b, **kw)
    g = _rand(13, tuple(y.shape), dtype)
    yt, dxt, dwt, dbt = _torch_grads(F.conv_transpose2d, x, w, b, g, **kw)
    y64 = cpu.conv_transpose2d(_np(x), _np(w), _np(b), **kw)
    n = max(w.numel(), g.numel())  # no output (nor gradient) sums more products than that
    mag = (cpu.conv_transpose2d(*_abs(x, w, b), **kw), None, None)
    _check_all(name, (y, None, None), (y64, None, None), (yt, None, None), "forward", mag, n)
    got = gpu.conv_transpose2d_backward(g, x, w, b, **kw)
    ref = cpu.conv_transpose2d_backward(_np(g), _np(x), _np(w), _np(b), **kw)
    mag = cpu.conv_transpose2d_backward(*_abs(g, x, w, b), **kw)
    _check_all(name, got, ref, (dxt, dwt, dbt), "backward", mag, n)


@MULTICHANNEL
@pytest.mark.parametrize(
    "name", ["3x3 pad 1", "2x5 stride (2,1) dil 2 groups 2", "depthwise x2, same, dilation (1,2)"]
)
def test_float16(name):
    """float16 in, float16 out, float32 accumulation: the GPU rule against torch's float16."""
    x, w, b, kw = _case(name, torch.float16, seed=3)
    y = gpu.conv2d(x, w, b, **kw)
    g = _rand(4, tuple(y.shape), torch.float16)
    yt, dxt, dwt, dbt = _torch_grads(F.conv2d, x, w, b, g, **kw)
    assert y.dtype == torch.float16
    _check_all(name, (y, None, None), (cpu.conv2d(_np(x), _np(w), _np(b), **kw), None, None),
               (yt, None, None), "fp16 forward")  # fmt: skip
    ref = cpu.conv2d_backward(_np(g), _np(x), _np(w), _np(b), **kw)
    _check_all(name, gpu.conv2d_backward(g, x, w, b, **kw), ref, (dxt, dwt, dbt), "fp16 bwd")
    xt = _rand(6, (2, 4, 3, 4), torch.float16)
    wt = _rand(7, (4, 3, 3, 3), torch.float16)
    args = dict(stride=2, padding=1, output_padding=1)
    ytt = F.conv_transpose2d(xt, wt, **args)
    assert_gpu_close(
        gpu.conv_transpose2d(xt, wt, **args), cpu.conv_transpose2d(_np(xt), _np(wt), **args), ytt
    )


@st.composite
def conv_config(draw):
    """A small valid conv2d configuration (depthwise, grouped or dense)."""
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]), label="kind")
    groups = {"dense": 1, "grouped": 2, "depthwise": draw(st.integers(1, 4), label="c")}[kind]
    cig = 1 if kind == "depthwise" else draw(st.integers(1, 4), label="cig")
    cog = draw(st.integers(1, 3), label="cog")
    k = tuple(draw(st.integers(1, 3), label=f"k{a}") for a in range(2))
    d = tuple(draw(st.integers(1, 2), label=f"d{a}") for a in range(2))
    s = tuple(draw(st.integers(1, 3), label=f"s{a}") for a in range(2))
    p = tuple(draw(st.integers(0, 2), label=f"p{a}") for a in range(2))
    size = tuple(
        draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), 8), label=f"size{a}")
        for a in range(2)
    )
    return dict(groups=groups, c_in=groups * cig, c_out=groups * cog, k=k, d=d, s=s, p=p,
                size=size, batch=draw(st.integers(0, 2), label="batch"))  # fmt: skip


def _from(cfg, seed, dtype):
    x = _rand(seed, (cfg["batch"], cfg["c_in"], *cfg["size"]), dtype)
    w = _rand(seed + 1, (cfg["c_out"], cfg["c_in"] // cfg["groups"], *cfg["k"]), dtype)
    kw = dict(stride=cfg["s"], padding=cfg["p"], dilation=cfg["d"], groups=cfg["groups"])
    return x, w, kw


@MULTICHANNEL
@ADJOINT
# max_examples=12 (profile: 100): each example runs five interpreted launches (~0.5 s); the
# fixed cases above cover the named geometries, this samples their combinations
@settings(max_examples=12, deadline=None)
@given(cfg=conv_config(), seed=seeds)
def test_random_geometry_linearity_and_adjoint_identity(cfg, seed):
    """float64, any geometry (empty batch included): equal to the NumPy kernel; linear in x;
    <conv(x), u> = <x, conv_transpose(u)> with the transposed conv's output_padding chosen to
    give back x's size; and conv2d_backward's dx is, bit for bit, conv_transpose2d of the
    output gradient (the same kernel, as torch defines the transposed conv)."""
    x, w, kw = _from(cfg, seed, torch.float64)
    y = gpu.conv2d(x, w, **kw)
    assert np.allclose(_np(y), cpu.conv2d(_np(x), _np(w), **kw), rtol=1e-12, atol=1e-12)
    x2 = _rand(seed + 2, tuple(x.shape))
    both = gpu.conv2d(2.5 * x - x2, w, **kw)
    assert np.allclose(_np(both), _np(2.5 * y - gpu.conv2d(x2, w, **kw)), rtol=1e-12, atol=1e-12)
    u = _rand(seed + 3, tuple(y.shape))
    op = tuple(
        cfg["size"][a] - ((y.shape[2 + a] - 1) * cfg["s"][a] - 2 * cfg["p"][a]
                          + cfg["d"][a] * (cfg["k"][a] - 1) + 1)
        for a in range(2)
    )  # fmt: skip
    if all(0 <= o < max(s, d) for o, s, d in zip(op, cfg["s"], cfg["d"], strict=True)):
        xt = gpu.conv_transpose2d(u, w, None, kw["stride"], kw["padding"], op, kw["groups"],
                                  kw["dilation"])  # fmt: skip
        lhs, rhs = float((y * u).sum()), float((x * xt).sum())
        scale = float(y.abs().flatten().dot(u.abs().flatten())) + 1.0
        assert abs(lhs - rhs) <= 1e-12 * scale, (lhs, rhs)
        dx = gpu.conv2d_backward(u, x, w, **kw)[0]
        assert torch.equal(dx, xt)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("transposed", "kw"),
    [
        (False, dict(stride=2, padding=1, dilation=2, groups=2)),
        (False, dict(padding="same", groups=2)),
        (True, dict(stride=2, padding=1, output_padding=1, groups=2)),
        (True, dict(dilation=3, output_padding=2, groups=4)),
    ],
)
def test_conv1d_family_through_2d(transposed, kw, dtype):
    """conv1d / conv_transpose1d and their backwards (a map of height 1 through the 2-D
    kernels) equal the NumPy kernel and torch under the GPU rule; unbatched too."""
    x = _rand(90, (2, 4, 11), dtype)
    groups = kw["groups"]
    w = _rand(91, (4, 6 // groups, 3) if transposed else (6, 4 // groups, 3), dtype)
    if transposed and groups == 4:
        w = w[:, :1]
    b = _rand(92, (w.shape[1] * groups if transposed else 6,), dtype)
    name = "conv_transpose1d" if transposed else "conv1d"
    fwd, back = getattr(gpu, name), getattr(gpu, name + "_backward")
    ref, ref_back = getattr(cpu, name), getattr(cpu, name + "_backward")
    for xs in (x, x[1]):
        y = fwd(xs, w, b, **kw)
        g = _rand(93, tuple(y.shape), dtype)
        yt, dxt, dwt, dbt = _torch_grads(getattr(F, name), xs, w, b, g, **kw)
        _check_all(name, (y, None, None), (ref(_np(xs), _np(w), _np(b), **kw), None, None),
                   (yt, None, None), "forward")  # fmt: skip
        want = ref_back(_np(g), _np(xs), _np(w), _np(b), **kw)
        _check_all(name, back(g, xs, w, b, **kw), want, (dxt, dwt, dbt), "backward")


@GROUPED
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_groups_are_the_per_group_convolutions_concatenated(dtype):
    """groups=3: output channels group by group, each the dense convolution of its slice of
    input channels — bit-equal (same tiles, same reduction order), forward and gradients."""
    x = _rand(20, (2, 6, 7, 5), dtype)
    w = _rand(21, (9, 2, 3, 2), dtype)
    b = _rand(22, (9,), dtype)
    kw = dict(stride=(1, 2), padding=1, dilation=(2, 1))
    y = gpu.conv2d(x, w, b, groups=3, **kw)
    g = _rand(23, tuple(y.shape), dtype)
    dx, dw, db = gpu.conv2d_backward(g, x, w, b, groups=3, **kw)
    for j in range(3):
        xs, ws, bs, gs = (
            x[:, 2 * j : 2 * j + 2],
            w[3 * j : 3 * j + 3],
            b[3 * j : 3 * j + 3],
            g[:, 3 * j : 3 * j + 3],
        )
        assert torch.equal(y[:, 3 * j : 3 * j + 3], gpu.conv2d(xs, ws, bs, **kw))
        dxs, dws, dbs = gpu.conv2d_backward(gs, xs, ws, bs, **kw)
        assert torch.equal(dx[:, 2 * j : 2 * j + 2], dxs)
        assert torch.equal(dw[3 * j : 3 * j + 3], dws) and torch.equal(db[3 * j : 3 * j + 3], dbs)
    yt = F.conv2d(x, w, b, groups=3, **kw)
    assert_gpu_close(y, cpu.conv2d(_np(x), _np(w), _np(b), groups=3, **kw), yt)


@pytest.fixture
def small_configs(monkeypatch):
    """16-wide blocks and 32-row split-K slots: several row and column blocks (the grouped
    ordering with a partial last group), channel blocks with a masked tail, many splits."""
    kl = _backend.load("_conv_kernels")
    cfg = {k: dict(v) for k, v in kl.INTERPRETER_CONFIG.items()}
    for name in ("conv_fwd_kernel", "conv_dgrad_kernel"):
        cfg[name].update(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=2)
    cfg["conv_wgrad_kernel"].update(BLOCK_K=16)
    cfg["bias_grad_kernel"].update(BLOCK_M=16)
    monkeypatch.setattr(kl, "INTERPRETER_CONFIG", cfg)
    monkeypatch.setattr(kl, "INTERPRETER_ROWS_PER_SPLIT", 32)
    return kl


@MULTICHANNEL
def test_channel_blocks_row_blocks_and_split_k(small_configs):
    """20 -> 18 channels (2 channel blocks of 16, the last masked, in the reduction and the
    columns), 3x4x7 maps at stride 1 and 2 (75 and 36 rows: 5 and 3 row blocks, a partial
    last block and a partial last GROUP_M group): forward, input gradient, weight gradient
    (3 and 2 split-K slots of 32 rows) and bias gradient equal to torch and the NumPy kernel."""
    x = _rand(30, (3, 20, 4, 7), torch.float32)
    w = _rand(31, (18, 20, 2, 3), torch.float32)
    b = _rand(32, (18,), torch.float32)
    for kw in (dict(padding=(1, 0)), dict(stride=2, padding=1)):
        y = gpu.conv2d(x, w, b, **kw)
        g = _rand(33, tuple(y.shape), torch.float32)
        yt, dxt, dwt, dbt = _torch_grads(F.conv2d, x, w, b, g, **kw)
        assert_gpu_close(y, cpu.conv2d(_np(x), _np(w), _np(b), **kw), yt)
        ref = cpu.conv2d_backward(_np(g), _np(x), _np(w), _np(b), **kw)
        _check_all("blocks", gpu.conv2d_backward(g, x, w, b, **kw), ref, (dxt, dwt, dbt), str(kw))


def test_reruns_are_bit_identical(small_configs):
    """Split-K with 2 slots of 32 rows per weight-gradient tile and per bias channel block:
    reruns of every function are bit-equal (partial sums in their own slots, no atomics)."""
    x = _rand(34, (2, 3, 5, 5), torch.float32)
    w = _rand(35, (4, 3, 3, 3), torch.float32)
    b = _rand(36, (4,), torch.float32)
    g = _rand(37, (2, 4, 5, 5), torch.float32)
    runs = [gpu.conv2d_backward(g, x, w, b, padding=1) for _ in range(2)]
    runs_t = [gpu.conv_transpose2d_backward(x, g, w, b[:3], padding=1) for _ in range(2)]
    for group in (runs, runs_t):
        for other in group[1:]:
            assert all(torch.equal(p, q) for p, q in zip(group[0], other, strict=True))


def test_layouts_are_bit_identical():
    """Any layout of every tensor argument (channels-last, transposed-then-contiguous, strided
    slices) gives the same bits, in all four functions."""
    x = _rand(40, (2, 5, 5, 6), torch.float32)
    w = _rand(41, (4, 5, 3, 3), torch.float32)
    b = _rand(42, (4,), torch.float32)
    wt = _rand(43, (4, 5, 3, 3), torch.float32)
    bt = _rand(45, (5,), torch.float32)
    kw = dict(stride=2, padding=1)
    y = gpu.conv2d(x, w, b, **kw)
    g = _rand(44, tuple(y.shape), torch.float32)
    back = gpu.conv2d_backward(g, x, w, b, **kw)
    yt = gpu.conv_transpose2d(g, wt, bt, 2, 1, 0)
    back_t = gpu.conv_transpose2d_backward(x[..., :5, :5], g, wt, bt, 2, 1, 0)

    def variants(t):
        big = torch.zeros(*(2 * s for s in t.shape), dtype=t.dtype, device=DEV)
        out = [big[(slice(None, None, 2),) * t.ndim].copy_(t)]
        if t.ndim == 4:
            out.append(t.contiguous(memory_format=torch.channels_last))
            out.append(t.transpose(1, 3).contiguous().transpose(1, 3))
        return out

    bvs, btvs = variants(b) * 3, variants(bt) * 3
    xs = variants(x)
    wts = variants(wt)
    for xv, wv, gv, bv, btv, wtv in zip(xs, variants(w), variants(g), bvs, btvs, wts, strict=True):
        assert torch.equal(gpu.conv2d(xv, wv, bv, **kw), y)
        for p, q in zip(gpu.conv2d_backward(gv, xv, wv, bv, **kw), back, strict=True):
            assert torch.equal(p, q)
        assert torch.equal(gpu.conv_transpose2d(gv, wtv, btv, 2, 1, 0), yt)
        got_t = gpu.conv_transpose2d_backward(xv[..., :5, :5], gv, wtv, btv, 2, 1, 0)
        for p, q in zip(got_t, back_t, strict=True):
            assert torch.equal(p, q)


def test_empty_batch_unbatched_and_output_layout():
    x = _rand(50, (0, 3, 7, 9))
    w = _rand(51, (5, 3, 3, 3))
    b = _rand(52, (5,))
    y = gpu.conv2d(x, w, b, padding=1)
    assert y.shape == F.conv2d(x, w, b, padding=1).shape == (0, 5, 7, 9)
    dx, dw, db = gpu.conv2d_backward(y, x, w, b, padding=1)
    assert dx.shape == x.shape and torch.equal(dw, torch.zeros_like(w))
    assert torch.equal(db, torch.zeros_like(b))
    assert gpu.conv_transpose2d(y, w, stride=2).shape == (0, 3, 15, 19)
    # unbatched = the batched result's sample
    x1 = _rand(53, (2, 3, 7, 9))
    assert torch.equal(gpu.conv2d(x1[1], w, b), gpu.conv2d(x1, w, b)[1])
    assert gpu.conv2d(x1[1], w, b).stride()[0] == 1  # channels innermost in memory
    # grad_bias is None without a bias, as the CPU kernel
    assert gpu.conv2d_backward(gpu.conv2d(x1, w), x1, w)[2] is None


def test_argument_errors_name_the_argument():
    x = _rand(60, (2, 4, 6, 5), torch.float32)
    w = _rand(61, (6, 2, 3, 3), torch.float32)
    with pytest.raises(ValueError, match="groups"):
        gpu.conv2d(x, w, groups=3)
    with pytest.raises(ValueError, match="input has 4 channels"):
        gpu.conv2d(x, w)
    with pytest.raises(TypeError, match="weight"):
        gpu.conv2d(x, w.double(), groups=2)
    with pytest.raises(ValueError, match="grad_output must have shape"):
        gpu.conv2d_backward(torch.zeros(2, 6, 4, 4, device=DEV), x, w, groups=2)
    with pytest.raises(ValueError, match="output_padding"):
        gpu.conv_transpose2d(x, _rand(62, (4, 3, 3, 3), torch.float32), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        gpu.conv2d(x, w, padding=10**8, groups=2)
    with pytest.raises(ValueError, match="requires grad"):
        gpu.conv2d(x.clone().requires_grad_(), w, groups=2)


# --------------------------------------------------------------------------- GPU-only sizes


def _resnet_shapes():
    from benchmarks.conv2d_cpu import SHAPES

    return SHAPES


@gpu_only
@MULTICHANNEL
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("index", range(7))
def test_resnet50_shapes_on_the_gpu(index, dtype):
    """The CPU benchmark's ResNet-50 layers at batch 8: forward and both gradients under the
    GPU rule against torch (cuDNN, at its TF32 setting for float32) with torch's float64
    result as the reference; the weight gradient twice, bit-equal."""
    shape = _resnet_shapes()[index]
    x64 = _rand(70, (8, shape.c_in, shape.size, shape.size))
    w64 = (
        _rand(71, (shape.c_out, shape.c_in, shape.kernel, shape.kernel))
        / (shape.c_in * shape.kernel**2) ** 0.5
    )
    kw = dict(stride=shape.stride, padding=shape.padding)
    x, w = x64.to(dtype), w64.to(dtype)
    y = gpu.conv2d(x, w, **kw)
    assert_gpu_close(y, F.conv2d(x.double(), w.double(), **kw), F.conv2d(x, w, **kw))
    g = _rand(72, tuple(y.shape)).to(dtype)
    _, dxt, dwt, _ = _torch_grads(F.conv2d, x, w, None, g, **kw)
    _, dx64, dw64, _ = _torch_grads(F.conv2d, x.double(), w.double(), None, g.double(), **kw)
    dx, dw, _ = gpu.conv2d_backward(g, x, w, **kw)
    assert_gpu_close(dx, dx64, dxt, context=shape.name)
    assert_gpu_close(dw, dw64, dwt, context=shape.name)
    assert torch.equal(dw, gpu.conv2d_backward(g, x, w, **kw)[1])


@gpu_only
@GROUPED
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_depthwise_and_transposed_large_on_the_gpu(dtype):
    """MobileNet-like depthwise 3x3 (32 x 144 x 56 x 56) and a 2x-upsampling transposed conv
    (32 x 128 x 28 x 28 -> 64 channels), bfloat16 and float32, under the GPU rule."""
    x = _rand(80, (32, 144, 56, 56)).to(dtype)
    w = _rand(81, (144, 1, 3, 3)).to(dtype)
    y = gpu.conv2d(x, w, stride=1, padding=1, groups=144)
    ref = F.conv2d(x.double(), w.double(), padding=1, groups=144)
    assert_gpu_close(y, ref, F.conv2d(x, w, padding=1, groups=144))
    xt = _rand(82, (32, 128, 28, 28)).to(dtype)
    wt = (_rand(83, (128, 64, 4, 4)) / 32).to(dtype)
    args = dict(stride=2, padding=1)
    yt = gpu.conv_transpose2d(xt, wt, **args)
    ref = F.conv_transpose2d(xt.double(), wt.double(), **args)
    assert_gpu_close(yt, ref, F.conv_transpose2d(xt, wt, **args))
