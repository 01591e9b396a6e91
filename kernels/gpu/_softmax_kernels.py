r"""Triton kernels of the row softmax and its backward (private: use :mod:`kernels.gpu.attention`).

Layout: a contiguous ``(R, N)`` matrix, one program per row. Rows of at most
:data:`MAX_FUSED` columns are held whole in registers (``BLOCK = next_power_of_2(N)``): one
read and one write per element (forward). Longer rows loop over blocks of :data:`LOOP_BLOCK`
columns with the *online* softmax of Milakov & Gimelshein (2018), "Online normalizer
calculation for softmax" (arXiv:1805.02867), Algorithm 3: a running maximum :math:`m` and a
running sum :math:`s` rescaled by :math:`e^{m_{old}-m_{new}}` whenever the maximum grows, so
one pass finds both, and a second pass writes :math:`e^{x-m}/s` (three row transfers instead
of two; the second read often hits L2). ``MAX_FUSED`` and the warp counts are untuned (written
without a GPU): the benchmark should sweep them.

Validation is fused: every program writes a status word for its row into ``flags`` (0: fine;
bit 0: a NaN or ``+inf`` in the input; bit 1: every entry ``-inf``; bit 2: a NaN or infinity in
``grad_output``), so the wrapper refuses bad input without an extra pass over memory.

Accumulation in float32 for float16/bfloat16/float32 and float64 for float64 (``ACC``); the
online sums, the backward's dot product and the per-row reciprocal in float64 (see the notes
at :func:`_reciprocal` and above the backward kernels).
Both caps are module constants so that tests can shrink them (``monkeypatch``) to exercise the
looped path at small sizes.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: rows up to this many columns are processed whole (one block in registers).
MAX_FUSED = 32768
#: block width of the looped (online) path for longer rows.
LOOP_BLOCK = 4096

_NEG_INF = tl.constexpr(float("-inf"))
_POS_INF = tl.constexpr(float("inf"))


@triton.jit
def _status(x, valid, BAD: tl.constexpr):
    """``BAD`` where a NaN or +inf is among the valid entries of ``x``, else 0 (int32)."""
    bad = ((x != x) | (x == _POS_INF)) & valid
    return (tl.max(bad.to(tl.int32), 0) * BAD).to(tl.int32)


@triton.jit
def _reciprocal(s, ACC: tl.constexpr):
    """``1/s`` rounded once to ``ACC`` (divided in float64, which is IEEE on every backend):
    Triton's float32 ``/`` compiles to ``div.full.f32`` (up to 2 ulp, not correctly rounded),
    so ``y = e * (1/s)`` is used, one division per row. Uniform rows then give exactly
    ``fl(1/n)`` and one-hot rows exactly 1."""
    return (1.0 / s.to(tl.float64)).to(ACC)


@triton.jit
def _softmax_fwd_fused(x_ptr, y_ptr, flags_ptr, n_cols, ACC: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK)
    valid = offs < n_cols
    base = row * n_cols
    x = tl.load(x_ptr + base + offs, mask=valid, other=_NEG_INF).to(ACC)
    m = tl.max(x, 0)
    e = tl.exp(x - m)  # every exponent <= 0; masked lanes and -inf entries give exactly 0
    y = e * _reciprocal(tl.sum(e, 0), ACC)
    tl.store(y_ptr + base + offs, y.to(y_ptr.dtype.element_ty), mask=valid)
    flag = _status(x, valid, 1) | (m == _NEG_INF).to(tl.int32) * 2
    tl.store(flags_ptr + row, flag)


@triton.jit
def _online_stats(
    x_ptr, g_ptr, base, n_cols, ACC: tl.constexpr, BLOCK: tl.constexpr, WITH_G: tl.constexpr
):
    """One pass over a long row: its maximum ``m``, ``s = sum exp(x - m)``, and (``WITH_G``)
    ``d = sum g exp(x - m)``, rescaled online (Milakov & Gimelshein 2018, Alg. 3); plus the
    status word. ``m_safe`` replaces a maximum of ``-inf`` (all entries so far masked) by 0
    so that ``-inf - -inf`` never makes a NaN: those terms are then exactly 0."""
    offs = tl.arange(0, BLOCK)
    m = tl.full((), _NEG_INF, ACC)
    s = tl.zeros((), tl.float64)
    d = tl.zeros((), tl.float64)
    flag = tl.zeros((), tl.int32)
    for start in range(0, n_cols, BLOCK):
        cols = start + offs
        valid = cols < n_cols
        x = tl.load(x_ptr + base + cols, mask=valid, other=_NEG_INF).to(ACC)
        flag = flag | _status(x, valid, 1)
        m_new = tl.maximum(m, tl.max(x, 0))
        m_safe = tl.where(m_new == _NEG_INF, 0.0, m_new).to(ACC)
        alpha = tl.exp(m - m_safe)  # 0 while m is -inf, else e^{m_old - m_new} <= 1
        e = tl.exp(x - m_safe)
        s = s * alpha.to(tl.float64) + tl.sum(e.to(tl.float64), 0)
        if WITH_G:
            g = tl.load(g_ptr + base + cols, mask=valid, other=0.0).to(ACC)
            flag = flag | _status(g, valid, 4) | _status(-g, valid, 4)
            d = d * alpha.to(tl.float64) + tl.sum(g.to(tl.float64) * e.to(tl.float64), 0)
        m = m_new
    flag = flag | (m == _NEG_INF).to(tl.int32) * 2
    return m, s, d, flag


@triton.jit
def _softmax_fwd_looped(x_ptr, y_ptr, flags_ptr, n_cols, ACC: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    base = row * n_cols
    m, s64, _d, flag = _online_stats(x_ptr, x_ptr, base, n_cols, ACC, BLOCK, False)
    tl.store(flags_ptr + row, flag)
    inv = (1.0 / s64).to(ACC)
    m_safe = tl.where(m == _NEG_INF, 0.0, m).to(ACC)
    offs = tl.arange(0, BLOCK)
    for start in range(0, n_cols, BLOCK):
        cols = start + offs
        valid = cols < n_cols
        x = tl.load(x_ptr + base + cols, mask=valid, other=_NEG_INF).to(ACC)
        y = tl.exp(x - m_safe) * inv
        tl.store(y_ptr + base + cols, y.to(y_ptr.dtype.element_ty), mask=valid)


# Backward. With y = softmax(x) along a row, y_i = e^{x_i} / sum_k e^{x_k}, the Jacobian is
#     dy_i/dx_j = y_i (delta_ij - y_j),   i.e.   J = diag(y) - y y^T
# (theory.attention.softmax_jacobian; proved with sympy.diff by
# theory.attention.derive_softmax_jacobian). J is symmetric, so for an upstream gradient g
#     dx_j = sum_i g_i dy_i/dx_j = y_j g_j - y_j sum_i g_i y_i = y_j (g_j - <g, y>).
# The CPU API (kernels.cpu.attention.softmax_backward) passes the *input* x, not y, so the
# kernel recomputes y from x in registers: fused rows read x and g once and write dx once.
# Long rows: the online pass also accumulates d = sum_i g_i e^{x_i - m} with the same
# rescaling as s, so <g, y> = d / s after one pass over (x, g); a second pass writes dx.
# Masked entries (x = -inf) have y = 0 and so dx = 0 exactly.
# Accuracy: g_j - <g, y> cancels when g_j is close to the mean <g, y>, and the error of the dot
# product then dominates dx (y_j times it); fp32 accumulation lost to torch by 3x on a
# 4-entry row (tests/test_gpu_softmax.py caught it), so <g, y> and the running sums s, d are
# accumulated in float64 (products of two fp32 numbers are exact there). Two float64 ops per
# element stay far below memory time even at consumer GPUs' 1/64 fp64 rate.
@triton.jit
def _softmax_bwd_fused(
    g_ptr, x_ptr, dx_ptr, flags_ptr, n_cols, ACC: tl.constexpr, BLOCK: tl.constexpr
):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK)
    valid = offs < n_cols
    base = row * n_cols
    x = tl.load(x_ptr + base + offs, mask=valid, other=_NEG_INF).to(ACC)
    g = tl.load(g_ptr + base + offs, mask=valid, other=0.0).to(ACC)
    m = tl.max(x, 0)
    e = tl.exp(x - m)
    y = e * _reciprocal(tl.sum(e, 0), ACC)
    dot = tl.sum(g.to(tl.float64) * y.to(tl.float64), 0).to(ACC)  # see the note above
    dx = y * (g - dot)
    tl.store(dx_ptr + base + offs, dx.to(dx_ptr.dtype.element_ty), mask=valid)
    flag = _status(x, valid, 1) | (m == _NEG_INF).to(tl.int32) * 2
    flag = flag | _status(g, valid, 4) | _status(-g, valid, 4)
    tl.store(flags_ptr + row, flag)


@triton.jit
def _softmax_bwd_looped(
    g_ptr, x_ptr, dx_ptr, flags_ptr, n_cols, ACC: tl.constexpr, BLOCK: tl.constexpr
):
    row = tl.program_id(0).to(tl.int64)
    base = row * n_cols
    m, s64, d, flag = _online_stats(x_ptr, g_ptr, base, n_cols, ACC, BLOCK, True)
    tl.store(flags_ptr + row, flag)
    m_safe = tl.where(m == _NEG_INF, 0.0, m).to(ACC)
    inv = (1.0 / s64).to(ACC)
    dot = (d / s64).to(ACC)
    offs = tl.arange(0, BLOCK)
    for start in range(0, n_cols, BLOCK):
        cols = start + offs
        valid = cols < n_cols
        x = tl.load(x_ptr + base + cols, mask=valid, other=_NEG_INF).to(ACC)
        g = tl.load(g_ptr + base + cols, mask=valid, other=0.0).to(ACC)
        y = tl.exp(x - m_safe) * inv
        tl.store(dx_ptr + base + cols, (y * (g - dot)).to(dx_ptr.dtype.element_ty), mask=valid)


# ----------------------------------------------------------------------------- launchers


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _warps(block: int) -> int:
    return 4 if block <= 2048 else 8 if block <= 8192 else 16 if block <= 16384 else 32


def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row softmax of a contiguous 2-D ``x`` ``(R, N)``, ``R, N >= 1``: ``(y, flags)``."""
    rows, n = x.shape
    y = torch.empty_like(x)
    flags = torch.empty(rows, dtype=torch.int32, device=x.device)
    if n <= MAX_FUSED:
        block = triton.next_power_of_2(n)
        _softmax_fwd_fused[(rows,)](
            x, y, flags, n, ACC=_acc(x.dtype), BLOCK=block, num_warps=_warps(block)
        )
    else:
        block = min(LOOP_BLOCK, triton.next_power_of_2(n))
        _softmax_fwd_looped[(rows,)](
            x, y, flags, n, ACC=_acc(x.dtype), BLOCK=block, num_warps=_warps(block)
        )
    return y, flags


def backward(g: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``dx = y (g - <g, y>)`` row by row for contiguous 2-D ``g``, ``x``: ``(dx, flags)``."""
    rows, n = x.shape
    dx = torch.empty_like(x)
    flags = torch.empty(rows, dtype=torch.int32, device=x.device)
    if n <= MAX_FUSED:
        block = triton.next_power_of_2(n)
        _softmax_bwd_fused[(rows,)](
            g, x, dx, flags, n, ACC=_acc(x.dtype), BLOCK=block, num_warps=_warps(block)
        )
    else:
        block = min(LOOP_BLOCK, triton.next_power_of_2(n))
        _softmax_bwd_looped[(rows,)](
            g, x, dx, flags, n, ACC=_acc(x.dtype), BLOCK=block, num_warps=_warps(block)
        )
    return dx, flags
