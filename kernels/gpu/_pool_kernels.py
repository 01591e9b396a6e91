r"""Triton kernels of :mod:`kernels.gpu.pool`: 2-D max and average pooling, forward and backward.

Imported only through ``kernels.gpu._backend.load("_pool_kernels")``: importing it imports
Triton.

Layout and grid. Every tensor is a contiguous ``(planes, rows, cols)`` array (``planes = N C``).
A program handles ``BLOCK`` consecutive elements of the flattened *destination* (the output
``(planes, Ho, Wo)`` in the forward, the input gradient ``(planes, H, W)`` in the backward):
stores are contiguous and coalesced, and blocks run across plane boundaries, so small maps
(7×7 at the end of a ResNet) waste no lanes. The grid is one-dimensional (no 65 535 limit on
``N C``). ``BLOCK = min(MAX_BLOCK, next_power_of_2(total))``; :data:`MAX_BLOCK` is a module
constant so that tests can shrink it and exercise many programs and the masked last block.

Geometry (see :func:`kernels.gpu.pool._axis`). Along an axis, output :math:`o` reads the taps
:math:`t_{o,j} = S o + B + D j`, :math:`j = 0,\dots,T-1`, where the host has already dropped
the taps that are padding for *every* window (so :math:`T \le` about twice the input size
however large ``kernel_size`` and ``padding`` are, and no huge integer reaches a kernel):
:math:`B = D m_0 - P` with :math:`m_0` the first tap that is real for some window. A tap is
real when :math:`0 \le t < I`; others are padding (never read, never counted in a max).

Max pooling follows torch's argmax rule (as :mod:`kernels.cpu.pool` documents it): scan the
real taps in row-major order from ``(first real tap, -inf)`` and move on
``v > best or isnan(v)`` — first maximum, last NaN, an all ``-inf`` window to its first real
input. Average pooling divides by :math:`d_h[o_h]\,d_w[o_w]` (torch's divisor is a product
of per-axis lengths, or ``divisor_override``), computed on the host.

Backward, without atomics: one program per block of *input* positions gathers, for each
position, the outputs whose windows contain it (the inverse of the tap map:
:math:`o = (t - B - D j)/S` when it is an integer in :math:`[0, O)`), in row-major output
order — the order in which torch's CPU kernel and :mod:`kernels.cpu.pool` add — so the result
is deterministic (no atomics, no dependence on scheduling) and, in float32/float64, bit-equal
to the sequential sum. Accumulation in float32 (float64 for float64 inputs).

References: Triton tutorials 02-fused-softmax and 05-layer-norm (grid, masks, the backward
comment); torch ``aten/src/ATen/native/cpu/MaxPoolKernel.cpp``, ``AvgPoolKernel.cpp`` and
``aten/src/ATen/native/cuda/DilatedMaxPool2d.cu`` (whose CUDA backward also gathers per input).
"""

from __future__ import annotations

import triton
import triton.language as tl

#: Largest block of destination elements per program (a power of two).
MAX_BLOCK = 1024
#: Smallest block (keeps ``tl.arange`` at a size every Triton version compiles).
MIN_BLOCK = 16
#: Index arithmetic switches to int64 when a tensor has this many elements or more (the int32
#: offsets keep a margin for taps just outside the map).
INT64_FROM = 2**30


def block(total: int) -> int:
    """Elements per program for a destination of ``total`` elements."""
    return max(MIN_BLOCK, min(MAX_BLOCK, triton.next_power_of_2(max(total, 1))))


@triton.jit
def _offsets(BLOCK: tl.constexpr, INT64: tl.constexpr):
    pid = tl.program_id(0)
    if INT64:
        base = pid.to(tl.int64) * BLOCK
    else:
        base = pid * BLOCK
    return base + tl.arange(0, BLOCK)


@triton.jit
def max_pool_fwd_kernel(
    x_ptr,
    y_ptr,
    idx_ptr,
    total,
    H,
    W,
    HO,
    WO,
    SH,
    SW,
    DH,
    DW,
    BH,
    BW,
    TH,
    TW,
    WRITE_Y: tl.constexpr,
    WRITE_IDX: tl.constexpr,
    F64: tl.constexpr,
    INT64: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """``y[p, oh, ow] = max`` over the real taps (torch's argmax rule); ``idx = ih W + iw`` of
    the argmax."""
    offs = _offsets(BLOCK, INT64)
    live = offs < total
    ow = offs % WO
    rest = offs // WO
    oh = rest % HO
    plane = rest // HO
    x_plane = x_ptr + plane * H * W
    h0 = oh * SH + BH
    w0 = ow * SW + BW
    # compare in float32 (float64 for float64): exact for float16/bfloat16, and Triton's
    # interpreter compares bfloat16 by its bits
    if F64:
        best = tl.full([BLOCK], float("-inf"), tl.float64)
    else:
        best = tl.full([BLOCK], float("-inf"), tl.float32)
    idx = tl.full([BLOCK], -1, tl.int32)
    if INT64:
        idx = idx.to(tl.int64)
    for jh in range(0, TH):
        ih = h0 + jh * DH
        row_real = live & (ih >= 0) & (ih < H)
        for jw in range(0, TW):
            iw = w0 + jw * DW
            real = row_real & (iw >= 0) & (iw < W)
            pos = ih * W + iw
            v = tl.load(x_plane + pos, mask=real, other=float("-inf")).to(best.dtype)
            # torch's scan: the first real tap starts it, then v > best or NaN moves it
            take = real & ((v > best) | (v != v) | (idx < 0))
            best = tl.where(take, v, best)
            idx = tl.where(take, pos, idx)
    if WRITE_Y:
        tl.store(y_ptr + offs, best, mask=live)
    if WRITE_IDX:
        tl.store(idx_ptr + offs, idx, mask=live)


# Backward of max pooling.
#
# y[p, o] = x[p, a(o)] with a(o) the argmax of window o (torch's rule, fixed by x). Where the
# argmax is unique and x has no ties or NaN the map is differentiable and
#     dL/dx[p, t] = sum_o  dL/dy[p, o] * [a(o) = t],
# and torch defines the same formula everywhere (its gradient is this one-hot routing with its
# tie rule; a subgradient). Scattering g[o] to a(o) needs atomics when windows overlap
# (S < D(K-1)+1: several outputs can share an argmax); instead each input position t gathers:
# the outputs whose windows contain t are o = (t - B - D j)/S for the taps j (integer, in
# [0, O)), and t receives g[o] iff idx[o] == t. The argmax indices come from the forward kernel
# (WRITE_IDX, int32 scratch). Candidates are visited in row-major output order, the order of
# torch's sequential CPU sum. The routing is tested against torch's autograd and the NumPy
# kernel (which scatters with np.add.at); theory: theory.pooling.derive_max_pool_gradient
# proves the one-hot routing for a unique maximum and states the tie rule (SymPy's H(0) = 1/2
# splits, torch picks the first maximum); the window geometry is theory.conv.pool_output_size.
@triton.jit
def max_pool_bwd_kernel(
    g_ptr,
    idx_ptr,
    dx_ptr,
    total,
    H,
    W,
    HO,
    WO,
    SH,
    SW,
    DH,
    DW,
    BH,
    BW,
    TH,
    TW,
    F64: tl.constexpr,
    INT64: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = _offsets(BLOCK, INT64)
    live = offs < total
    w = offs % W
    rest = offs // W
    h = rest % H
    plane = rest // H
    here = h * W + w
    out_plane = plane * HO * WO
    if F64:
        acc = tl.zeros([BLOCK], tl.float64)
    else:
        acc = tl.zeros([BLOCK], tl.float32)
    for ah in range(0, TH):
        th = h - BH - (TH - 1 - ah) * DH  # taps in reverse: outputs in increasing order
        thc = tl.where(th >= 0, th, 0)
        oh = thc // SH
        ok_h = live & (th >= 0) & (thc == oh * SH) & (oh < HO)
        for aw in range(0, TW):
            tw = w - BW - (TW - 1 - aw) * DW
            twc = tl.where(tw >= 0, tw, 0)
            ow = twc // SW
            ok = ok_h & (tw >= 0) & (twc == ow * SW) & (ow < WO)
            o = out_plane + oh * WO + ow
            arg = tl.load(idx_ptr + o, mask=ok, other=-1)
            mine = ok & (arg == here)
            gv = tl.load(g_ptr + o, mask=mine, other=0.0)
            acc += gv.to(acc.dtype)
    tl.store(dx_ptr + offs, acc, mask=live)


@triton.jit
def avg_pool_fwd_kernel(
    x_ptr,
    y_ptr,
    dh_ptr,
    dw_ptr,
    total,
    H,
    W,
    HO,
    WO,
    SH,
    SW,
    BH,
    BW,
    TH,
    TW,
    F64: tl.constexpr,
    INT64: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """``y[p, oh, ow] = (sum of the real taps) / (dh[oh] dw[ow])``, summed in row-major tap
    order in float32 (float64 for float64)."""
    offs = _offsets(BLOCK, INT64)
    live = offs < total
    ow = offs % WO
    rest = offs // WO
    oh = rest % HO
    plane = rest // HO
    x_plane = x_ptr + plane * H * W
    h0 = oh * SH + BH
    w0 = ow * SW + BW
    if F64:
        acc = tl.zeros([BLOCK], tl.float64)
    else:
        acc = tl.zeros([BLOCK], tl.float32)
    for jh in range(0, TH):
        ih = h0 + jh
        row_real = live & (ih >= 0) & (ih < H)
        for jw in range(0, TW):
            iw = w0 + jw
            real = row_real & (iw >= 0) & (iw < W)
            v = tl.load(x_plane + ih * W + iw, mask=real, other=0.0)
            acc += v.to(acc.dtype)
    div = tl.load(dh_ptr + oh, mask=live, other=1.0) * tl.load(dw_ptr + ow, mask=live, other=1.0)
    tl.store(y_ptr + offs, acc / div, mask=live)


# Backward of average pooling.
#
# y[o] = (1/d_o) sum_{t in window o, t real} x[t] is linear, y = A x with A[o, t] = [t in W_o]/d_o
# (theory.pooling.avg_pool_matrix builds A exactly per axis for floor mode and torch's default
# divisor; ceil mode and divisor_override change only which windows exist and d_o, not the
# linearity; the 2-D A is the Kronecker product of the two axes' matrices because the divisor is
# d_h[oh] d_w[ow], or a constant under divisor_override). Hence
#     dL/dx = A^T dL/dy,   dL/dx[t] = sum_{o : t in W_o} g[o] / d_o.
# Computed as a gather (row t of A^T per input position): each input position visits the
# outputs whose windows contain it, o = (t - B - j)/S for the taps j (integer, in [0, O)), in
# row-major output order (torch's order: it adds g[o]/d_o output by output), with no atomics.
@triton.jit
def avg_pool_bwd_kernel(
    g_ptr,
    dx_ptr,
    dh_ptr,
    dw_ptr,
    total,
    H,
    W,
    HO,
    WO,
    SH,
    SW,
    BH,
    BW,
    TH,
    TW,
    F64: tl.constexpr,
    INT64: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = _offsets(BLOCK, INT64)
    live = offs < total
    w = offs % W
    rest = offs // W
    h = rest % H
    plane = rest // H
    out_plane = plane * HO * WO
    if F64:
        acc = tl.zeros([BLOCK], tl.float64)
    else:
        acc = tl.zeros([BLOCK], tl.float32)
    for ah in range(0, TH):
        th = h - BH - (TH - 1 - ah)  # taps in reverse: outputs in increasing order
        thc = tl.where(th >= 0, th, 0)
        oh = thc // SH
        ok_h = live & (th >= 0) & (thc == oh * SH) & (oh < HO)
        div_h = tl.load(dh_ptr + oh, mask=ok_h, other=1.0)
        for aw in range(0, TW):
            tw = w - BW - (TW - 1 - aw)
            twc = tl.where(tw >= 0, tw, 0)
            ow = twc // SW
            ok = ok_h & (tw >= 0) & (twc == ow * SW) & (ow < WO)
            div = div_h * tl.load(dw_ptr + ow, mask=ok, other=1.0)
            gv = tl.load(g_ptr + out_plane + oh * WO + ow, mask=ok, other=0.0)
            acc += gv.to(acc.dtype) / div
    tl.store(dx_ptr + offs, acc, mask=live)
