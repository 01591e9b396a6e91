r"""Triton kernels of :mod:`kernels.gpu.linear`: a tiled matrix product with a fused bias
(the dense forward and both backward products), a deterministic two-stage column sum (the
bias gradient) and a block-sparse product that visits only the stored blocks.

Imported only through ``kernels.gpu._backend.load("_linear_kernels")``: importing it imports
Triton.

**The matrix product** :func:`_gemm_kernel` computes :math:`C = AB\,(+\,\mathbf 1 b^\top)`
for :math:`A \in \mathbb R^{M\times K}`, :math:`B \in \mathbb R^{K\times N}` given by base
pointers and *strides*, so that the transposes of the linear layer are strides, never copies:

=================  ===========  =================  ===============  ======
product            A            B                  (M, N, K)        bias
=================  ===========  =================  ===============  ======
Y = X Wᵀ + b       X (s = n, 1) Wᵀ (s = 1, n)      (rows, m, n)     fused
dX = G W           G (s = m, 1) W (s = n, 1)       (rows, n, m)     —
dW = Gᵀ X          Gᵀ (s = 1, m) X (s = n, 1)      (m, n, rows)     —
=================  ===========  =================  ===============  ======

Design of Triton tutorial 03 ("Matrix multiplication"): one program per
``BLOCK_M × BLOCK_N`` output tile, a K loop of ``tl.dot`` on ``BLOCK_M × BLOCK_K`` and
``BLOCK_K × BLOCK_N`` tiles into a float32 accumulator (float64 for float64 operands),
programs ordered in groups of ``GROUP_M`` tile rows so that consecutive programs share tiles
of ``B`` and ``A`` in L2; the bias is added to the accumulator before the one rounding to the
output dtype (the epilogue), as cuBLAS's ``addmm`` adds ``beta C``. float32 operands multiply
at ``input_precision=PREC`` (:func:`kernels.gpu._backend.dot_precision` ``("matmul")``:
IEEE float32 unless torch's ``allow_tf32`` switch for matmuls is on), half precisions on
tensor cores with float32 accumulation; float64 compiles to ``mma.m8n8k4.f64`` on sm_90
(checked with ``triton.compile``). Loads are masked on all three axes (``EVEN_K`` drops the
K mask when ``K`` is a multiple of ``BLOCK_K``); ``INT64`` switches index arithmetic to 64
bits for tensors of :math:`2^{31}` elements or more.

**The bias gradient** :math:`\partial L/\partial b = \sum_{\text{rows}} G`: stage 1
(:func:`_colsum_partial_kernel`) sums ``CHUNK`` consecutive rows per program into a partial
row (float64 for every dtype: see the comment above the kernel); stage 2
(:func:`_colsum_final_kernel`) adds the partial rows in order. No atomics: bit-equal reruns.

**The block-sparse product** :func:`_block_sparse_kernel` reads a packed weight
(:class:`kernels.gpu.linear.BlockSparseWeight`): the stored blocks, each row-major, in one
buffer, and CSR-style lists per block row ``i`` of its stored blocks ``p`` (first input
column, width :math:`n_j`, offset in the buffer). The grid is (tile of the batch rows) ×
(tile of ``BLOCK_N`` outputs of one block row), in grouped order; a program loops over the
stored blocks of its block row only, so the MACs executed are :math:`B\sum_{(i,j)\in\mathcal
N} m_i n_j` (:func:`theory.linear.block_sparse_macs`) up to the padding of blocks to tiles.
The block offsets and widths are loaded values whose alignment the compiler cannot see:
when every block size is a multiple of 16 (``ALIGNED``, the usual case: 64-256) they are
declared so (``tl.multiple_of``), which lets the tile loads be vectorized and pipelined;
irregular sizes run the same code with scalar loads.

**Configurations.** Block sizes, ``GROUP_M``, ``num_warps`` and ``num_stages`` are
``tl.constexpr``/launch options passed by keyword. Under the interpreter every kernel uses
:data:`INTERPRETER_CONFIG` (16-wide tiles: ``tl.dot`` needs every dimension ≥ 16, and small
grids keep the interpreter fast); on CUDA :func:`pick` chooses from :data:`CUDA_CONFIGS` by
the heuristic documented there (no autotuning: the same shape always runs the same config,
so results are reproducible across processes).

References: Triton tutorial 03-matrix-multiplication (tiling, grouped order, Hopper configs
128×256×64 / num_stages 3 / num_warps 8); torch ``aten/src/ATen/native/cuda/Blas.cpp``
(``addmm``: bias as ``beta C`` in the GEMM epilogue); Gray, Radford & Kingma, "GPU kernels for
block-sparse weights" (OpenAI, 2017) for the skip-zero-blocks layout.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: Index arithmetic in 64 bits from this many elements in any operand.
INT64_FROM = 2**31

#: The configuration of every kernel under Triton's interpreter: 16-wide tiles (``tl.dot``'s
#: minimum), few programs. Tests may monkeypatch entries to exercise other tilings.
INTERPRETER_CONFIG: dict[str, dict[str, int]] = {
    "_gemm_kernel": dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=2),
    "_colsum_partial_kernel": dict(BLOCK_R=16, BLOCK_N=16, CHUNK=32),
    "_colsum_final_kernel": dict(BLOCK_N=16),
    "_block_sparse_kernel": dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=16, GROUP_M=2),
}


def _cfg(bm, bn, bk, warps, stages, group=8):
    return dict(
        BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=group, num_warps=warps, num_stages=stages
    )


#: CUDA configurations per kernel; :func:`pick` documents which one runs. Shared memory per
#: config ``(BLOCK_M + BLOCK_N) · BLOCK_K · bytes · num_stages`` stays under Hopper's 227 KiB
#: for the dtypes it is chosen for: the half-precision list (tutorial 03's Hopper configs,
#: largest first), the float32 one (TF32 tensor cores or, IEEE, FMA units: 32-deep K tiles),
#: the float64 one (64×64 tiles: 8-byte operands, ``mma.f64``).
CUDA_CONFIGS: dict[str, list[dict[str, int]]] = {
    "_gemm_kernel": [
        # half precision (float16, bfloat16): index 0..3
        _cfg(128, 256, 64, 8, 3),
        _cfg(128, 128, 64, 8, 4),
        _cfg(64, 128, 64, 4, 4),
        _cfg(64, 64, 64, 4, 4),
        # float32: index 4..6
        _cfg(128, 128, 32, 8, 3),
        _cfg(64, 128, 32, 4, 4),
        _cfg(64, 64, 32, 4, 4),
        # float64: index 7..8
        _cfg(64, 64, 32, 4, 3),
        _cfg(32, 64, 32, 4, 3),
    ],
    "_colsum_partial_kernel": [dict(BLOCK_R=32, BLOCK_N=128, CHUNK=512, num_warps=4)],
    "_colsum_final_kernel": [dict(BLOCK_N=256, num_warps=4)],
    "_block_sparse_kernel": [
        # half precision, BLOCK_N = 128, 64, 32, 16: index 0..3
        _cfg(128, 128, 64, 8, 3),
        _cfg(128, 64, 64, 4, 4),
        _cfg(128, 32, 64, 4, 4),
        _cfg(128, 16, 64, 4, 4),
        # float32: index 4..7
        _cfg(128, 128, 32, 8, 3),
        _cfg(128, 64, 32, 4, 3),
        _cfg(128, 32, 32, 4, 3),
        _cfg(128, 16, 32, 4, 3),
        # float64: index 8..11
        _cfg(64, 128, 32, 8, 2),
        _cfg(64, 64, 32, 4, 3),
        _cfg(64, 32, 32, 4, 3),
        _cfg(64, 16, 32, 4, 3),
    ],
}

#: Offsets of each dtype family's configs in :data:`CUDA_CONFIGS` (``"half"``, ``"f32"``,
#: ``"f64"``) for the two tiled kernels.
_FAMILIES = {
    "_gemm_kernel": {"half": (0, 4), "f32": (4, 7), "f64": (7, 9)},
    "_block_sparse_kernel": {"half": (0, 4), "f32": (4, 8), "f64": (8, 12)},
}


def cuda_config_applies(kernel: str, index: int, dtypes: set[str], constexprs: dict) -> bool:
    """Whether :func:`pick` can choose ``CUDA_CONFIGS[kernel][index]`` for a launch with float
    operands ``dtypes`` (Triton's names: ``"fp16"``, ...): its dtype family's configs only
    (``tests.gpu_compile`` compiles exactly those)."""
    if kernel not in _FAMILIES:
        return True
    names = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32", "fp64": "float64"}
    return any(
        _FAMILIES[kernel][family(names[d])][0] <= index < _FAMILIES[kernel][family(names[d])][1]
        for d in dtypes
    )


def family(dtype_name: str) -> str:
    """``"half"`` (float16, bfloat16), ``"f32"`` or ``"f64"``."""
    return {"float16": "half", "bfloat16": "half", "float32": "f32"}.get(dtype_name, "f64")


def pick(
    kernel: str,
    interpreted: bool,
    dtype_name: str = "float32",
    m: int = 1,
    n: int = 1,
    sms: int = 132,
    block_rows: int = 16,
) -> dict[str, int]:
    """The configuration of ``kernel`` for a launch (a copy: callers may edit it).

    Interpreter: :data:`INTERPRETER_CONFIG`. CUDA, ``_gemm_kernel`` (``m × n`` output): the
    first (largest-tile) config of the dtype's family whose tile grid
    ``⌈m/BLOCK_M⌉⌈n/BLOCK_N⌉`` has at least ``sms`` programs (one wave fills every
    multiprocessor), else the family's smallest tiles. Large square products (4096², the
    benchmark's) take tutorial 03's 128×256×64 in half precision. ``_block_sparse_kernel``: the
    largest ``BLOCK_N`` of the family not above the largest block row ``block_rows`` (rounded up
    to a power of two), so small blocks are not padded to wide tiles. The column-sum kernels
    have one config each.
    """
    if interpreted:
        return dict(INTERPRETER_CONFIG[kernel])
    configs = CUDA_CONFIGS[kernel]
    if kernel not in _FAMILIES:
        return dict(configs[0])
    lo, hi = _FAMILIES[kernel][family(dtype_name)]
    options = configs[lo:hi]
    if kernel == "_gemm_kernel":
        for c in options:
            if triton.cdiv(m, c["BLOCK_M"]) * triton.cdiv(n, c["BLOCK_N"]) >= sms:
                return dict(c)
        return dict(options[-1])
    want = max(16, triton.next_power_of_2(block_rows))
    for c in options:
        if c["BLOCK_N"] <= want:
            return dict(c)
    return dict(options[-1])


def _launch_options(cfg: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in cfg.items() if k in ("num_warps", "num_stages")}


def _constexprs(cfg: dict[str, int], *names: str) -> dict[str, int]:
    return {k: cfg[k] for k in names}


# --------------------------------------------------------------------------- tiled product


@triton.jit
def _tile_ids(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """Tutorial 03's grouped order: ``GROUP_M`` tile rows are walked column by column, so the
    programs running together reuse the same ``A`` rows and ``B`` columns from L2."""
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    width = GROUP_M * num_n
    group = pid // width
    first_m = group * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % width) % size_m
    pid_n = (pid % width) // size_m
    return pid_m, pid_n


# Backward of the dense layer, by the same kernel (strides in the table above).
#
# Y = X W^T + 1 b^T with X (B x n), W (m x n), b (m); G = dL/dY (B x m). Entry-wise
# Y[s, i] = sum_k X[s, k] W[i, k] + b[i], so
#   dL/dX[s, k] = sum_i G[s, i] W[i, k]      i.e.  dX = G W      (B x n, K = m),
#   dL/dW[i, k] = sum_s G[s, i] X[s, k]      i.e.  dW = G^T X    (m x n, K = B),
#   dL/db[i]    = sum_s G[s, i]              (the column sum, _colsum_* below).
# theory.linear.derive_linear_cost states these two products (and counts B m n MACs for each:
# theory.linear.linear_backward_macs); kernels.cpu.linear.linear_backward computes them in
# float64 and the tests check ours against it, torch's autograd and (in tests/test_linear.py)
# central differences. G^T is read through strides (1, m): no transposed copy is made.
@triton.jit
def _gemm_kernel(
    A, B, C, BIAS, M, N, K,
    s_am, s_ak, s_bk, s_bn, s_cm, s_cn,
    HAS_BIAS: tl.constexpr, PREC: tl.constexpr, EVEN_K: tl.constexpr, INT64: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    """``C[M, N] = A[M, K] @ B[K, N] (+ BIAS[N])``, accumulated in float32 (float64 for
    float64), rounded once to ``C``'s dtype."""
    pid_m, pid_n = _tile_ids(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    if INT64:
        rm = rm.to(tl.int64)
        rn = rn.to(tl.int64)
    mask_m = rm < M
    mask_n = rn < N
    a_ptrs = A + rm[:, None] * s_am + rk[None, :] * s_ak
    b_ptrs = B + rk[:, None] * s_bk + rn[None, :] * s_bn
    acc = tl.zeros(
        (BLOCK_M, BLOCK_N), dtype=tl.float64 if C.dtype.element_ty == tl.float64 else tl.float32
    )
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        if EVEN_K:
            a = tl.load(a_ptrs, mask=mask_m[:, None], other=0.0)
            b = tl.load(b_ptrs, mask=mask_n[None, :], other=0.0)
        else:
            left = K - k * BLOCK_K
            a = tl.load(a_ptrs, mask=mask_m[:, None] & (rk[None, :] < left), other=0.0)
            b = tl.load(b_ptrs, mask=(rk[:, None] < left) & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PREC, out_dtype=acc.dtype)
        a_ptrs += BLOCK_K * s_ak
        b_ptrs += BLOCK_K * s_bk
    if HAS_BIAS:
        acc += tl.load(BIAS + rn, mask=mask_n, other=0.0).to(acc.dtype)[None, :]
    c_ptrs = C + rm[:, None] * s_cm + rn[None, :] * s_cn
    tl.store(c_ptrs, acc.to(C.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


def gemm(a, b, c, strides, m, n, k, bias, prec, cfg) -> None:
    """Launch :func:`_gemm_kernel` for ``c (m × n) = a @ b (+ bias)``; ``strides`` =
    ``(s_am, s_ak, s_bk, s_bn, s_cm, s_cn)``; ``cfg`` from :func:`pick`."""
    if m == 0 or n == 0:
        return
    big = max(a.numel(), b.numel(), c.numel()) >= INT64_FROM
    grid = (triton.cdiv(m, cfg["BLOCK_M"]) * triton.cdiv(n, cfg["BLOCK_N"]),)
    _gemm_kernel[grid](
        a, b, c, c if bias is None else bias, m, n, k, *strides,
        HAS_BIAS=bias is not None, PREC=prec, EVEN_K=k % cfg["BLOCK_K"] == 0, INT64=big,
        **_constexprs(cfg, "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"), **_launch_options(cfg),
    )  # fmt: skip


# --------------------------------------------------------------------------- bias gradient


# Backward of the bias: Y[s, i] = ... + b[i], so dL/db[i] = sum_s G[s, i] (theory.linear.
# derive_linear_cost: "a sum, additions only"); a deterministic column sum in two stages,
# accumulated in float64 for every dtype: the sum runs over all B rows (often 10^4-10^6, with
# cancellation), torch's CPU kernel sums float32 in float64 (at::acc_type), and float64 adds
# cost nothing in a pass bound by reading G. Values are widened through float32 (exact) and
# narrowed through float32 to half precisions (Triton's interpreter mis-converts float64 to
# bfloat16 directly).
@triton.jit
def _colsum_partial_kernel(
    G, P, R, N, INT64: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):  # fmt: skip
    """Program ``(c, j)``: ``P[c, cols_j] = sum`` of rows ``c·CHUNK .. (c+1)·CHUNK - 1`` of the
    contiguous ``(R, N)`` matrix ``G``, in float64 (chunks on grid axis 0, which has no
    65 535 limit)."""
    chunk = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < N
    start = chunk * CHUNK
    if INT64:
        start = start.to(tl.int64)
    acc = tl.zeros((BLOCK_R, BLOCK_N), dtype=tl.float64)
    for r in range(0, CHUNK, BLOCK_R):
        rows = start + r + tl.arange(0, BLOCK_R)
        mask = (rows < R)[:, None] & cmask[None, :]
        g = tl.load(G + rows[:, None] * N + cols[None, :], mask=mask, other=0.0)
        if G.dtype.element_ty != tl.float64:
            g = g.to(tl.float32)  # exact; the interpreter mis-widens bfloat16 directly
        acc += g.to(tl.float64)
    tl.store(P + chunk * N + cols, tl.sum(acc, axis=0), mask=cmask)


@triton.jit
def _colsum_final_kernel(P, OUT, NP, N, BLOCK_N: tl.constexpr):
    """``OUT[j] = sum_c P[c, j]`` in the order ``c = 0, 1, ...``, rounded to ``OUT``'s dtype
    (through float32 for the half precisions)."""
    cols = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cmask = cols < N
    acc = tl.load(P + cols, mask=cmask, other=0.0)
    for c in range(1, NP):
        acc += tl.load(P + c * N + cols, mask=cmask, other=0.0)
    if OUT.dtype.element_ty != tl.float64:
        acc = acc.to(tl.float32)
    tl.store(OUT + cols, acc.to(OUT.dtype.element_ty), mask=cmask)


def colsum(g, out, rows: int, n: int, interpreted: bool) -> None:
    """``out[j] = sum_s g[s, j]`` for the contiguous ``(rows, n)`` matrix ``g`` (two stages)."""
    import torch

    cfg1 = pick("_colsum_partial_kernel", interpreted)
    cfg2 = pick("_colsum_final_kernel", interpreted)
    chunks = max(1, triton.cdiv(rows, cfg1["CHUNK"]))
    parts = torch.empty((chunks, n), dtype=torch.float64, device=g.device)
    _colsum_partial_kernel[(chunks, triton.cdiv(n, cfg1["BLOCK_N"]))](
        g, parts, rows, n, INT64=g.numel() >= INT64_FROM,
        **_constexprs(cfg1, "BLOCK_R", "BLOCK_N", "CHUNK"), **_launch_options(cfg1),
    )  # fmt: skip
    _colsum_final_kernel[(triton.cdiv(n, cfg2["BLOCK_N"]),)](
        parts, out, chunks, n, BLOCK_N=cfg2["BLOCK_N"], **_launch_options(cfg2)
    )


# --------------------------------------------------------------------------- block-sparse


@triton.jit
def _block_sparse_kernel(
    X, DATA, ROW_PTR, BLK_COL, BLK_WIDTH, BLK_OFF, TILE_ROW, TILE_N0, ROW_START, ROW_SIZE,
    BIAS, Y, M, NOUT, NTILES, s_xm, s_ym,
    HAS_BIAS: tl.constexpr, PREC: tl.constexpr, INT64: tl.constexpr, ALIGNED: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    """Program ``(rows tile, output tile t)``: output tile ``t`` covers outputs
    ``TILE_N0[t] ..`` ``+ BLOCK_N`` of block row ``i = TILE_ROW[t]``;
    ``Y[s, r_i + o] = sum`` over the stored blocks ``p`` of row ``i`` of
    ``X[s, c_p : c_p + w_p] · W_p[o, :]`` (``W_p`` row-major at ``DATA + BLK_OFF[p]``),
    plus ``BIAS``. A block row without stored blocks writes zeros (plus bias)."""
    pid_m, t = _tile_ids(tl.program_id(0), M, NTILES * BLOCK_N, BLOCK_M, BLOCK_N, GROUP_M)
    i = tl.load(TILE_ROW + t)
    n0 = tl.load(TILE_N0 + t)
    r0 = tl.load(ROW_START + i)
    mi = tl.load(ROW_SIZE + i)
    if ALIGNED:  # every block size a multiple of 16: so are the offsets loaded below
        n0 = tl.multiple_of(n0, 16)
        r0 = tl.multiple_of(r0, 16)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    on = n0 + tl.arange(0, BLOCK_N)  # outputs within block row i
    rk = tl.arange(0, BLOCK_K)
    if INT64:
        rm = rm.to(tl.int64)
        on = on.to(tl.int64)
    mask_m = rm < M
    mask_n = on < mi
    acc = tl.zeros(
        (BLOCK_M, BLOCK_N), dtype=tl.float64 if Y.dtype.element_ty == tl.float64 else tl.float32
    )
    p_first = tl.load(ROW_PTR + i)
    p_last = tl.load(ROW_PTR + i + 1)
    for p in range(p_first, p_last):
        c0 = tl.load(BLK_COL + p)
        width = tl.load(BLK_WIDTH + p)
        off = tl.load(BLK_OFF + p)
        if ALIGNED:  # lets the compiler vectorize (and pipeline) the tile loads
            c0 = tl.multiple_of(c0, 16)
            width = tl.multiple_of(width, 16)
            off = tl.multiple_of(off, 16)
        a_ptrs = X + rm[:, None] * s_xm + (c0 + rk)[None, :]
        b_ptrs = DATA + off + on[None, :] * width + rk[:, None]  # b[k, o] = W_p[o, k]
        for k in range(0, width, BLOCK_K):
            left = width - k
            a = tl.load(a_ptrs, mask=mask_m[:, None] & (rk[None, :] < left), other=0.0)
            b = tl.load(b_ptrs, mask=(rk[:, None] < left) & mask_n[None, :], other=0.0)
            acc = tl.dot(a, b, acc, input_precision=PREC, out_dtype=acc.dtype)
            a_ptrs += BLOCK_K
            b_ptrs += BLOCK_K
    if HAS_BIAS:
        acc += tl.load(BIAS + r0 + on, mask=mask_n, other=0.0).to(acc.dtype)[None, :]
    y_ptrs = Y + rm[:, None] * s_ym + (r0 + on)[None, :]
    tl.store(y_ptrs, acc.to(Y.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


def block_sparse(x, packed, tiles, y, bias, rows, prec, cfg, big, aligned) -> None:
    """Launch :func:`_block_sparse_kernel`: ``packed`` = ``(data, row_ptr, blk_col,
    blk_width, blk_off, row_start, row_size)``, ``tiles`` = ``(tile_row, tile_n0)`` for
    ``cfg["BLOCK_N"]``; ``aligned``: every row and column block size is a multiple of 16."""
    data, row_ptr, blk_col, blk_width, blk_off, row_start, row_size = packed
    tile_row, tile_n0 = tiles
    ntiles = tile_row.numel()
    if rows == 0 or ntiles == 0:
        return
    grid = (triton.cdiv(rows, cfg["BLOCK_M"]) * ntiles,)
    _block_sparse_kernel[grid](
        x, data, row_ptr, blk_col, blk_width, blk_off, tile_row, tile_n0, row_start, row_size,
        y if bias is None else bias, y, rows, y.shape[1], ntiles, x.stride(0), y.stride(0),
        HAS_BIAS=bias is not None, PREC=prec, INT64=big, ALIGNED=aligned,
        **_constexprs(cfg, "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"), **_launch_options(cfg),
    )  # fmt: skip
