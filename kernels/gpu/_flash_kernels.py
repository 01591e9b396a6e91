r"""Triton kernels of fused scaled dot-product attention (private: use
:mod:`kernels.gpu.attention`): FlashAttention-2 forward and backward.

Layout: contiguous ``Q (ZH, L, E)``, ``K (ZK, S, E)``, ``V (ZK, S, Ev)`` with ``ZH = ZK * REP``
(grouped-query attention: query head ``zh`` reads key/value head ``zh // REP``, no copy);
outputs ``O (ZH, L, Ev)``, ``LSE (ZH, L)`` (natural log), gradients of the same shapes.

Forward (Dao 2023, "FlashAttention-2", Algorithm 1; Triton tutorial 06-fused-attention): one
program per (query block of ``BLOCK_M`` rows, batch·head); it keeps its ``Q`` tile and loops
over key blocks of ``BLOCK_N`` with the online softmax (running maximum ``m``, running sum
``l``, the accumulator rescaled by ``exp(m_old - m_new)``), every exponential ``exp(s - m)``:
the scaled score minus the maximum *first* (exact near the maximum). Tutorial 06 folds
``log2(e)`` into the scale and calls ``exp2`` (on the GPU ``tl.exp`` of float32 is the same
``ex2.approx`` after one multiply per score, so that saves one multiply), but then every score
is rounded at its own magnitude and the saved log-sum-exp with it: on torch's OpInfo samples
(values in [-9, 9], scores up to ~80) that made the backward's dV up to 5x less accurate than
torch's own CPU FlashAttention; subtracting first brings it within torch's error. Causal
(torch's top-left alignment: query ``i`` sees keys ``j <= i``) splits the key loop in two
stages: the blocks left of the diagonal (``j < start_m``, no causal mask, no bounds mask) and
the blocks that overlap the diagonal or the end of the keys (masked); blocks right of the
diagonal are never visited (half the work at ``L = S``). ``BLOCK_N`` must divide ``BLOCK_M``.

Backward (FlashAttention-2, Algorithm 2; tutorial 06): a preprocess kernel writes
``delta = rowsum(dO ∘ O)``; a dK/dV kernel (one program per key block and key/value head,
looping over the ``REP`` query heads of its group and over query blocks) and a dQ kernel (one
program per query block and head, looping over key blocks) recompute
``P = exp(S - LSE)`` from ``Q``, ``K`` and the saved natural log-sum-exp. Every output
tile is written by exactly one program, with a fixed loop order: no atomics, results bit-equal
across runs.

Accumulators and the softmax statistics are float32 for float16/bfloat16/float32 inputs and
float64 for float64 (``ACC``); ``P`` and ``dS`` are rounded to the input dtype before their
products (as FlashAttention does). ``scale`` comes as a one-entry ``ACC`` tensor ``SC`` (a
Python float argument would be float32).

Head dimensions ``E``, ``Ev`` are ``constexpr`` (one compilation per head size); the tile's
width is the next power of two ``>= 16`` (``tl.dot`` needs 16), masked when wider than the head.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: Block sizes under the interpreter (small: every program instance runs in Python). The
#: forward and dQ kernels take BLOCK_M = 2 BLOCK_N so that their diagonal stage spans two key
#: blocks; the dK/dV kernel the transpose.
INTERPRETER_CONFIG = {
    "_attn_fwd": dict(BLOCK_M=32, BLOCK_N=16),
    "_attn_bwd_preprocess": dict(BLOCK_M=32),
    "_attn_bwd_dkdv": dict(BLOCK_M=16, BLOCK_N=32),
    "_attn_bwd_dq": dict(BLOCK_M=32, BLOCK_N=16),
}

#: CUDA configurations (Hopper, from tutorial 06's tuned values and FlashAttention-2's
#: choices; untuned here: written without a GPU). One entry per head-tile width, chosen by
#: :func:`config`: index 0 for tiles <= 64, 1 for <= 128, 2 for <= 256, 3 for float64 inputs
#: (double-width registers; fp64 ``tl.dot`` runs on the DMMA/FMA path). Checked with ptxas
#: (sm_90a, float16): no register spills for head tiles 64 and 128 in any kernel; the dK/dV
#: kernel holds K, V, dK and dV tiles for its whole loop, and tutorial 06's 32 x 128 with 4
#: warps spilled 500 bytes at D = 64 (8 warps: none) and 32 x 128 with 8 warps 300 bytes at
#: D = 128 (16 x 64 with 4 warps: none).
CUDA_CONFIGS = {
    "_attn_fwd": [
        dict(BLOCK_M=128, BLOCK_N=64, num_warps=4, num_stages=3),
        dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3),
        dict(BLOCK_M=64, BLOCK_N=32, num_warps=4, num_stages=2),
        dict(BLOCK_M=32, BLOCK_N=32, num_warps=4, num_stages=2),
    ],
    "_attn_bwd_preprocess": [
        dict(BLOCK_M=128, num_warps=4, num_stages=1),
        dict(BLOCK_M=128, num_warps=4, num_stages=1),
        dict(BLOCK_M=64, num_warps=4, num_stages=1),
        dict(BLOCK_M=64, num_warps=4, num_stages=1),
    ],
    "_attn_bwd_dkdv": [
        dict(BLOCK_M=32, BLOCK_N=128, num_warps=8, num_stages=3),
        dict(BLOCK_M=16, BLOCK_N=64, num_warps=4, num_stages=3),
        dict(BLOCK_M=16, BLOCK_N=64, num_warps=4, num_stages=2),
        dict(BLOCK_M=16, BLOCK_N=32, num_warps=4, num_stages=2),
    ],
    "_attn_bwd_dq": [
        dict(BLOCK_M=128, BLOCK_N=32, num_warps=4, num_stages=4),
        dict(BLOCK_M=128, BLOCK_N=32, num_warps=8, num_stages=3),
        dict(BLOCK_M=64, BLOCK_N=16, num_warps=4, num_stages=2),
        dict(BLOCK_M=32, BLOCK_N=16, num_warps=4, num_stages=2),
    ],
}

_NEG_INF = tl.constexpr(float("-inf"))
_POS_INF = tl.constexpr(float("inf"))


def head_block(width: int) -> int:
    """The tile width for a head of ``width`` entries: a power of two, at least 16."""
    return max(16, triton.next_power_of_2(width))


def config(kernel: str, dtype: torch.dtype, block_d: int, mode: str) -> dict:
    """The launch configuration of ``kernel`` (interpreter: :data:`INTERPRETER_CONFIG`; CUDA:
    the :data:`CUDA_CONFIGS` entry for the head-tile width, or float64's)."""
    if mode == "interpreter":
        return dict(INTERPRETER_CONFIG[kernel])
    if dtype == torch.float64:
        index = 3
    else:
        index = 0 if block_d <= 64 else 1 if block_d <= 128 else 2
    return dict(CUDA_CONFIGS[kernel][index])


def cuda_config_applies(kernel: str, index: int, dtypes: set[str], constexprs: dict) -> bool:
    """Whether :func:`config` can choose ``CUDA_CONFIGS[kernel][index]`` for a launch with
    float operands ``dtypes`` (Triton's names) and constexprs ``constexprs``: index 3 for
    float64, else the index of the head tile ``max(BLOCK_D, BLOCK_DV)`` (``tests.gpu_compile``
    compiles exactly those)."""
    if "fp64" in dtypes:
        return index == 3
    tile = max(constexprs.get("BLOCK_D", 0), constexprs.get("BLOCK_DV", 0))
    return index == (0 if tile <= 64 else 1 if tile <= 128 else 2)


# --------------------------------------------------------------------------- helpers


@triton.jit
def _load(ptrs, rows, n_rows, cols, N_COLS: tl.constexpr, MASK_ROWS: tl.constexpr,
          MASK_COLS: tl.constexpr, other):  # fmt: skip
    """A tile with the masks that are needed (``MASK_*`` constexpr: none in the hot loop when
    the head fills its tile and the rows are inside the tensor)."""
    if MASK_ROWS:
        if MASK_COLS:
            return tl.load(ptrs, mask=(rows < n_rows) & (cols < N_COLS), other=other)
        else:
            return tl.load(ptrs, mask=rows < n_rows, other=other)
    else:
        if MASK_COLS:
            return tl.load(ptrs, mask=cols < N_COLS, other=other)
        else:
            return tl.load(ptrs)


@triton.jit
def _key_range(start_m, S, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Key blocks of a query block: ``[0, full)`` need no mask, ``[full, hi)`` are masked.
    Causal: keys ``j <= i``; blocks starting below ``start_m`` are entirely seen."""
    if CAUSAL:
        hi = tl.minimum(start_m + BLOCK_M, S)
        full = (tl.minimum(start_m, S) // BLOCK_N) * BLOCK_N
    else:
        hi = S
        full = (S // BLOCK_N) * BLOCK_N
    return full, hi


# --------------------------------------------------------------------------- forward


@triton.jit
def _fwd_inner(acc, l_i, m_i, q, k_base, v_base, offs_m, lo, hi, S, scale,
               MASKED: tl.constexpr, CAUSAL: tl.constexpr, HEAD_DIM: tl.constexpr,
               HEAD_DV: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
               BLOCK_DV: tl.constexpr, PREC: tl.constexpr):  # fmt: skip
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kt = _load(
            k_base + offs_n[None, :] * HEAD_DIM + offs_d[:, None], offs_n[None, :], S,
            offs_d[:, None], HEAD_DIM, MASKED, BLOCK_D != HEAD_DIM, 0.0,
        )  # fmt: skip
        s = tl.dot(q, kt, input_precision=PREC, out_dtype=acc.dtype) * scale  # natural units
        if MASKED:
            keep = offs_n[None, :] < S
            if CAUSAL:
                keep = keep & (offs_n[None, :] <= offs_m[:, None])
            s = tl.where(keep, s, _NEG_INF)
        m_new = tl.maximum(m_i, tl.max(s, 1))  # finite: every row sees key 0 first
        # subtract, then exponentiate: s - m is exact near the maximum (Sterbenz); folding
        # log2(e) into the scale for exp2 (tutorial 06) rounds |s|-sized numbers instead, and
        # the backward's P = exp(S - LSE) inherits it. (On the GPU tl.exp is ex2.approx of
        # x*log2(e) for float32, one multiply per score, and libdevice's exp for float64.)
        p = tl.exp(s - m_new[:, None])
        alpha = tl.exp(m_i - m_new)  # 0 on the first block (m_i = -inf)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = _load(
            v_base + offs_n[:, None] * HEAD_DV + offs_dv[None, :], offs_n[:, None], S,
            offs_dv[None, :], HEAD_DV, MASKED, BLOCK_DV != HEAD_DV, 0.0,
        )  # fmt: skip
        acc = acc * alpha[:, None]
        acc = tl.dot(p.to(v.dtype), v, acc, input_precision=PREC, out_dtype=acc.dtype)
        m_i = m_new
    return acc, l_i, m_i


@triton.jit
def _attn_fwd(Q, K, V, OUT, LSE, SC, L, S, REP,
              HEAD_DIM: tl.constexpr, HEAD_DV: tl.constexpr, CAUSAL: tl.constexpr,
              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
              BLOCK_DV: tl.constexpr, PREC: tl.constexpr, ACC: tl.constexpr):  # fmt: skip
    start_m = tl.program_id(0) * BLOCK_M
    zh = tl.program_id(1).to(tl.int64)
    zkv = zh // REP
    k_base = K + zkv * S * HEAD_DIM
    v_base = V + zkv * S * HEAD_DV
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    q = _load(
        Q + zh * L * HEAD_DIM + offs_m[:, None] * HEAD_DIM + offs_d[None, :], offs_m[:, None],
        L, offs_d[None, :], HEAD_DIM, True, BLOCK_D != HEAD_DIM, 0.0,
    )  # fmt: skip
    scale = tl.load(SC)
    m_i = tl.full([BLOCK_M], _NEG_INF, ACC)
    l_i = tl.zeros([BLOCK_M], ACC)
    acc = tl.zeros([BLOCK_M, BLOCK_DV], ACC)
    full, hi = _key_range(start_m, S, CAUSAL, BLOCK_M, BLOCK_N)
    acc, l_i, m_i = _fwd_inner(
        acc, l_i, m_i, q, k_base, v_base, offs_m, 0, full, S, scale,
        False, CAUSAL, HEAD_DIM, HEAD_DV, BLOCK_N, BLOCK_D, BLOCK_DV, PREC,
    )  # fmt: skip
    acc, l_i, m_i = _fwd_inner(
        acc, l_i, m_i, q, k_base, v_base, offs_m, full, hi, S, scale,
        True, CAUSAL, HEAD_DIM, HEAD_DV, BLOCK_N, BLOCK_D, BLOCK_DV, PREC,
    )  # fmt: skip
    # 1/l divided once per row in float64 (float32 `/` is not correctly rounded on the GPU).
    inv = (1.0 / l_i.to(tl.float64)).to(ACC)
    out = acc * inv[:, None]
    o_ptrs = OUT + zh * L * HEAD_DV + offs_m[:, None] * HEAD_DV + offs_dv[None, :]
    tl.store(
        o_ptrs,
        out.to(OUT.dtype.element_ty),
        mask=(offs_m[:, None] < L) & (offs_dv[None, :] < HEAD_DV),
    )
    lse = m_i + tl.log(l_i)  # natural log-sum-exp of the scaled scores (one rounding)
    tl.store(LSE + zh * L + offs_m, lse, mask=offs_m < L)


# --------------------------------------------------------------------------- backward
#
# The backward, for one head (theory.attention.derive_sdpa_backward proves the first form,
# theory.attention.derive_flash_backward the delta/LSE form used here):
#     S = scale Q K^T,  P = softmax_rows(S),  O = P V,  dO given,
#     dV = P^T dO,   dP = dO V^T,   dS = P ∘ (dP − rowsum(dP ∘ P)),
#     dQ = scale dS K,   dK = scale dS^T Q.
# rowsum(dP ∘ P)_i = Σ_j P_ij Σ_c dO_ic V_jc = Σ_c dO_ic O_ic = rowsum(dO ∘ O)_i =: δ_i, so δ
# needs O and dO only (one O(L·Ev) pass, the preprocess kernel), and P is recomputed tile by
# tile as P_ij = exp(S_ij − LSE_i) with LSE_i = log Σ_j exp S_ij saved by the forward.
# Masked entries (causal j > i, keys j >= S)
# have P_ij = 0, hence dS_ij = 0 and no contribution to any gradient.


@triton.jit
def _attn_bwd_preprocess(OUT, DO, DELTA, L, HEAD_DV: tl.constexpr, BLOCK_M: tl.constexpr,
                         BLOCK_DV: tl.constexpr, ACC: tl.constexpr):  # fmt: skip
    # δ_i = rowsum(dO ∘ O)_i (see the derivation above; theory.attention.derive_flash_backward)
    start_m = tl.program_id(0) * BLOCK_M
    zh = tl.program_id(1).to(tl.int64)
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_dv = tl.arange(0, BLOCK_DV)
    offs = zh * L * HEAD_DV + offs_m[:, None] * HEAD_DV + offs_dv[None, :]
    o = _load(OUT + offs, offs_m[:, None], L, offs_dv[None, :], HEAD_DV, True,
              BLOCK_DV != HEAD_DV, 0.0).to(ACC)  # fmt: skip
    do = _load(DO + offs, offs_m[:, None], L, offs_dv[None, :], HEAD_DV, True,
               BLOCK_DV != HEAD_DV, 0.0).to(ACC)  # fmt: skip
    tl.store(DELTA + zh * L + offs_m, tl.sum(o * do, 1), mask=offs_m < L)


@triton.jit
def _dkdv_inner(dk, dv, k, v, q_base, do_base, lse_base, delta_base, offs_n, lo, hi, L, S,
                scale, MASKED: tl.constexpr, HEAD_DIM: tl.constexpr,
                HEAD_DV: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
                BLOCK_DV: tl.constexpr, PREC: tl.constexpr):  # fmt: skip
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    for start_m in range(lo, hi, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        qt = _load(
            q_base + offs_m[None, :] * HEAD_DIM + offs_d[:, None], offs_m[None, :], L,
            offs_d[:, None], HEAD_DIM, True, BLOCK_D != HEAD_DIM, 0.0,
        )  # fmt: skip
        # padded rows (i >= L): LSE = +inf gives P = 0 there
        lse = tl.load(lse_base + offs_m, mask=offs_m < L, other=_POS_INF)
        st = tl.dot(k, qt, input_precision=PREC, out_dtype=dk.dtype) * scale  # S^T, natural
        pt = tl.exp(st - lse[None, :])  # subtract first, as the forward does
        keep = offs_n[:, None] < S
        if MASKED:
            keep = keep & (offs_m[None, :] >= offs_n[:, None])  # causal: key j <= query i
        pt = tl.where(keep, pt, 0.0)
        do = _load(
            do_base + offs_m[:, None] * HEAD_DV + offs_dv[None, :], offs_m[:, None], L,
            offs_dv[None, :], HEAD_DV, True, BLOCK_DV != HEAD_DV, 0.0,
        )  # fmt: skip
        dv = tl.dot(
            pt.to(do.dtype), do, dv, input_precision=PREC, out_dtype=dv.dtype
        )  # dV += P^T dO
        delta = tl.load(delta_base + offs_m, mask=offs_m < L, other=0.0)
        dpt = tl.dot(v, tl.trans(do), input_precision=PREC, out_dtype=dv.dtype)  # dP^T = V dO^T
        dst = pt * (dpt - delta[None, :])  # dS^T = P^T ∘ (dP^T − δ)
        dk = tl.dot(dst.to(qt.dtype), tl.trans(qt), dk, input_precision=PREC, out_dtype=dk.dtype)
    return dk, dv


# dK/dV kernel: for a key block, dV = Σ_i P_i^T dO_i and dK = scale Σ_i dS_i^T Q_i over the query
# blocks i that see it (causal: i >= start_n; the blocks on the diagonal masked, the blocks
# below it not) and over the REP query heads sharing this key/value head (grouped-query
# attention: the sum over the group that torch's repeat_interleave backward performs).
# Derivation: the comment above _attn_bwd_preprocess; theory.attention.derive_sdpa_backward
# (dV = A^T G, dK = c dS^T Q) and theory.attention.derive_flash_backward (δ and P from LSE).
@triton.jit
def _attn_bwd_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV, SC, L, S, REP,
                   HEAD_DIM: tl.constexpr, HEAD_DV: tl.constexpr, CAUSAL: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                   BLOCK_DV: tl.constexpr, PREC: tl.constexpr, ACC: tl.constexpr):  # fmt: skip
    start_n = tl.program_id(0) * BLOCK_N
    zkv = tl.program_id(1).to(tl.int64)
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    k_ptrs = K + zkv * S * HEAD_DIM + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
    v_ptrs = V + zkv * S * HEAD_DV + offs_n[:, None] * HEAD_DV + offs_dv[None, :]
    k = _load(k_ptrs, offs_n[:, None], S, offs_d[None, :], HEAD_DIM, True, BLOCK_D != HEAD_DIM, 0.0)
    v = _load(v_ptrs, offs_n[:, None], S, offs_dv[None, :], HEAD_DV, True, BLOCK_DV != HEAD_DV, 0.0)
    scale = tl.load(SC)
    dk = tl.zeros([BLOCK_N, BLOCK_D], ACC)
    dv = tl.zeros([BLOCK_N, BLOCK_DV], ACC)
    if CAUSAL:  # queries i >= start_n: the diagonal blocks masked, those below unmasked
        lo = start_n
        mid = tl.minimum(start_n + BLOCK_N, L)
        below = start_n + BLOCK_N
    else:
        lo = 0
        mid = 0
        below = 0
    for g in range(REP):
        zh = zkv * REP + g
        q_base = Q + zh * L * HEAD_DIM
        do_base = DO + zh * L * HEAD_DV
        lse_base = LSE + zh * L
        delta_base = DELTA + zh * L
        dk, dv = _dkdv_inner(
            dk, dv, k, v, q_base, do_base, lse_base, delta_base, offs_n, lo, mid, L, S,
            scale, True, HEAD_DIM, HEAD_DV, BLOCK_M, BLOCK_D, BLOCK_DV, PREC,
        )  # fmt: skip
        dk, dv = _dkdv_inner(
            dk, dv, k, v, q_base, do_base, lse_base, delta_base, offs_n,
            below, L, L, S,
            scale, False, HEAD_DIM, HEAD_DV, BLOCK_M, BLOCK_D, BLOCK_DV, PREC,
        )  # fmt: skip
    keep = offs_n[:, None] < S
    dk_ptrs = DK + zkv * S * HEAD_DIM + offs_n[:, None] * HEAD_DIM + offs_d[None, :]
    tl.store(
        dk_ptrs, (dk * scale).to(DK.dtype.element_ty), mask=keep & (offs_d[None, :] < HEAD_DIM)
    )
    tl.store(DV + zkv * S * HEAD_DV + offs_n[:, None] * HEAD_DV + offs_dv[None, :],
             dv.to(DV.dtype.element_ty), mask=keep & (offs_dv[None, :] < HEAD_DV))  # fmt: skip


@triton.jit
def _dq_inner(dq, q, do, lse, delta, k_base, v_base, offs_m, lo, hi, S, scale,
              MASKED: tl.constexpr, CAUSAL: tl.constexpr, HEAD_DIM: tl.constexpr,
              HEAD_DV: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
              BLOCK_DV: tl.constexpr, PREC: tl.constexpr):  # fmt: skip
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    for start_n in range(lo, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kt = _load(
            k_base + offs_n[None, :] * HEAD_DIM + offs_d[:, None], offs_n[None, :], S,
            offs_d[:, None], HEAD_DIM, MASKED, BLOCK_D != HEAD_DIM, 0.0,
        )  # fmt: skip
        vt = _load(
            v_base + offs_n[None, :] * HEAD_DV + offs_dv[:, None], offs_n[None, :], S,
            offs_dv[:, None], HEAD_DV, MASKED, BLOCK_DV != HEAD_DV, 0.0,
        )  # fmt: skip
        s = tl.dot(q, kt, input_precision=PREC, out_dtype=dq.dtype) * scale  # as the forward
        p = tl.exp(s - lse[:, None])
        if MASKED:
            keep = offs_n[None, :] < S
            if CAUSAL:
                keep = keep & (offs_n[None, :] <= offs_m[:, None])
            p = tl.where(keep, p, 0.0)
        dp = tl.dot(do, vt, input_precision=PREC, out_dtype=dq.dtype)  # dP = dO V^T
        ds = p * (dp - delta[:, None])  # dS = P ∘ (dP − δ)
        dq = tl.dot(ds.to(kt.dtype), tl.trans(kt), dq, input_precision=PREC, out_dtype=dq.dtype)
    return dq


# dQ kernel: dQ_i = scale Σ_j dS_ij K_j over the key blocks the query block sees (causal: the
# blocks left of the diagonal unmasked, the diagonal blocks masked). Derivation: the comment
# above _attn_bwd_preprocess; theory.attention.derive_sdpa_backward (dQ = c dS K) and
# theory.attention.derive_flash_backward (dS = P ∘ (dP − δ), P = exp(S − LSE)).
@triton.jit
def _attn_bwd_dq(Q, K, V, DO, LSE, DELTA, DQ, SC, L, S, REP,
                 HEAD_DIM: tl.constexpr, HEAD_DV: tl.constexpr, CAUSAL: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                 BLOCK_DV: tl.constexpr, PREC: tl.constexpr, ACC: tl.constexpr):  # fmt: skip
    start_m = tl.program_id(0) * BLOCK_M
    zh = tl.program_id(1).to(tl.int64)
    zkv = zh // REP
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    q = _load(
        Q + zh * L * HEAD_DIM + offs_m[:, None] * HEAD_DIM + offs_d[None, :], offs_m[:, None],
        L, offs_d[None, :], HEAD_DIM, True, BLOCK_D != HEAD_DIM, 0.0,
    )  # fmt: skip
    do = _load(
        DO + zh * L * HEAD_DV + offs_m[:, None] * HEAD_DV + offs_dv[None, :], offs_m[:, None],
        L, offs_dv[None, :], HEAD_DV, True, BLOCK_DV != HEAD_DV, 0.0,
    )  # fmt: skip
    scale = tl.load(SC)
    lse = tl.load(LSE + zh * L + offs_m, mask=offs_m < L, other=_POS_INF)
    delta = tl.load(DELTA + zh * L + offs_m, mask=offs_m < L, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], ACC)
    k_base = K + zkv * S * HEAD_DIM
    v_base = V + zkv * S * HEAD_DV
    full, hi = _key_range(start_m, S, CAUSAL, BLOCK_M, BLOCK_N)
    dq = _dq_inner(
        dq, q, do, lse, delta, k_base, v_base, offs_m, 0, full, S, scale,
        False, CAUSAL, HEAD_DIM, HEAD_DV, BLOCK_N, BLOCK_D, BLOCK_DV, PREC,
    )  # fmt: skip
    dq = _dq_inner(
        dq, q, do, lse, delta, k_base, v_base, offs_m, full, hi, S, scale,
        True, CAUSAL, HEAD_DIM, HEAD_DV, BLOCK_N, BLOCK_D, BLOCK_DV, PREC,
    )  # fmt: skip
    tl.store(DQ + zh * L * HEAD_DIM + offs_m[:, None] * HEAD_DIM + offs_d[None, :],
             (dq * scale).to(DQ.dtype.element_ty),
             mask=(offs_m[:, None] < L) & (offs_d[None, :] < HEAD_DIM))  # fmt: skip


# --------------------------------------------------------------------------- launchers


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _scalars(scale: float, dtype: torch.dtype, device) -> torch.Tensor:
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    return torch.tensor([scale], dtype=acc, device=device)


def _common(q, k, v, mode, kernel):
    e, ev = q.shape[-1], v.shape[-1]
    bd, bdv = head_block(e), head_block(ev)
    cfg = config(kernel, q.dtype, max(bd, bdv), mode)
    return e, ev, bd, bdv, cfg


def forward(q, k, v, rep: int, causal: bool, scale: float, prec: str, mode: str):
    """``(O, LSE)`` for contiguous ``q (ZH, L, E)``, ``k (ZK, S, E)``, ``v (ZK, S, Ev)``."""
    zh, L, _ = q.shape
    S = k.shape[1]
    e, ev, bd, bdv, cfg = _common(q, k, v, mode, "_attn_fwd")
    assert cfg["BLOCK_M"] % cfg["BLOCK_N"] == 0
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    o = torch.empty((zh, L, ev), dtype=q.dtype, device=q.device)
    lse = torch.empty((zh, L), dtype=acc, device=q.device)
    grid = (triton.cdiv(L, cfg["BLOCK_M"]), zh)
    _attn_fwd[grid](
        q, k, v, o, lse, _scalars(scale, q.dtype, q.device), L, S, rep,
        HEAD_DIM=e, HEAD_DV=ev, CAUSAL=causal, BLOCK_D=bd, BLOCK_DV=bdv, PREC=prec,
        ACC=_acc(q.dtype), **cfg,
    )  # fmt: skip
    return o, lse


def backward(do, q, k, v, o, lse, rep: int, causal: bool, scale: float, prec: str, mode: str,
             grad_dtypes=(None, None, None)):  # fmt: skip
    """``(dQ, dK, dV)`` (contiguous, shapes of ``q``, ``k``, ``v``; dtypes ``grad_dtypes`` or
    the inputs')."""
    zh, L, _ = q.shape
    zk, S, _ = k.shape
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    sc = _scalars(scale, q.dtype, q.device)
    e, ev, bd, bdv, cfg = _common(q, k, v, mode, "_attn_bwd_preprocess")
    delta = torch.empty((zh, L), dtype=acc, device=q.device)
    _attn_bwd_preprocess[(triton.cdiv(L, cfg["BLOCK_M"]), zh)](
        o, do, delta, L, HEAD_DV=ev, BLOCK_DV=bdv, ACC=_acc(q.dtype), **cfg
    )
    dq_t, dk_t, dv_t = (d or q.dtype for d in grad_dtypes)
    dq = torch.empty(q.shape, dtype=dq_t, device=q.device)
    dk = torch.empty(k.shape, dtype=dk_t, device=q.device)
    dv = torch.empty(v.shape, dtype=dv_t, device=q.device)
    shared = dict(HEAD_DIM=e, HEAD_DV=ev, CAUSAL=causal, BLOCK_D=bd, BLOCK_DV=bdv, PREC=prec,
                  ACC=_acc(q.dtype))  # fmt: skip
    cfg = config("_attn_bwd_dkdv", q.dtype, max(bd, bdv), mode)
    assert cfg["BLOCK_N"] % cfg["BLOCK_M"] == 0
    _attn_bwd_dkdv[(triton.cdiv(S, cfg["BLOCK_N"]), zk)](
        q, k, v, do, lse, delta, dk, dv, sc, L, S, rep, **shared, **cfg
    )
    cfg = config("_attn_bwd_dq", q.dtype, max(bd, bdv), mode)
    assert cfg["BLOCK_M"] % cfg["BLOCK_N"] == 0
    _attn_bwd_dq[(triton.cdiv(L, cfg["BLOCK_M"]), zh)](
        q, k, v, do, lse, delta, dq, sc, L, S, rep, **shared, **cfg
    )
    return dq, dk, dv
