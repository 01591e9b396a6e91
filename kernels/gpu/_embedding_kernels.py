r"""Triton kernels of the embedding lookup and its backward (private: use
:mod:`kernels.gpu.embedding`).

Forward: a gather. Programs own a tile of ``BLOCK_N`` indices × ``BLOCK_D`` columns
(``BLOCK_D = min(next_power_of_2(d), MAX_BLOCK_D)``, contiguous along ``d`` so loads and stores
are vectorized). An index outside ``[0, V)`` is never dereferenced: its row is not loaded and
the program's status word says so (bit 0); a NaN or infinity among the rows read sets bit 1.

Backward: the scatter-add :math:`\partial L/\partial E[v,:] = \sum_{s:\,\mathrm{input}[s]=v}
G[s,:]`, two ways:

* **sorted, deterministic** (default): the wrapper sorts the indices (stable, with their
  positions) and cuts the sorted list into *chunks* of at most :data:`CHUNK` equal indices.
  :func:`_chunk_sums` sums each chunk's rows of ``G`` in sorted order (float64 accumulator,
  float64 partials: the sum of up to ~2**29 float32 terms is then rounded once, to within half
  an ulp plus a negligible float64 term, whatever torch's own error on the same input)
  and writes the sum straight into ``grad_weight`` when the chunk is its index's whole segment,
  else into a partial buffer; :func:`_segment_sums` adds a multi-chunk segment's partials in
  chunk order. Every sum has a fixed order, so results are bit-equal from run to run, and a
  heavily repeated index (all indices equal) is split over many programs instead of one long
  serial loop (as torch's ``embedding_dense_backward`` does with its per-segment partials).
* **atomic**: every program adds its tile into a float32/float64 buffer with
  ``tl.atomic_add`` (order of additions unspecified: not bit-reproducible on a GPU).

The ``padding_idx`` row receives no gradient in both.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: widest column block (longer rows are split over several programs along d).
MAX_BLOCK_D = 1024
#: elements per program tile in the forward and the atomic backward (BLOCK_N * BLOCK_D).
TILE = 4096
#: most equal indices summed by one program in the sorted backward.
CHUNK = 32

_INF = tl.constexpr(float("inf"))


def _blocks(n: int, d: int) -> tuple[int, int]:
    block_d = min(triton.next_power_of_2(d), MAX_BLOCK_D)
    block_n = max(1, min(TILE // block_d, triton.next_power_of_2(max(n, 1))))
    return block_n, block_d


@triton.jit
def _embedding_fwd(
    idx_ptr, w_ptr, out_ptr, flags_ptr, n, V, d, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr
):
    pid_n = tl.program_id(0)
    pid_d = tl.program_id(1)
    rows = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    row_ok = rows < n
    idx = tl.load(idx_ptr + rows, mask=row_ok, other=0).to(tl.int64)
    in_range = (idx >= 0) & (idx < V)
    col_ok = cols < d
    load_ok = (row_ok & in_range)[:, None] & col_ok[None, :]
    w = tl.load(w_ptr + idx[:, None] * d + cols[None, :], mask=load_ok, other=0.0)
    tl.store(out_ptr + rows[:, None] * d + cols[None, :], w, mask=row_ok[:, None] & col_ok[None, :])
    wf = w.to(tl.float32)
    bad_w = ((wf != wf) | (wf == _INF) | (wf == -_INF)) & load_ok
    bad_i = row_ok & ((idx < 0) | (idx >= V))
    flag = tl.max(bad_i.to(tl.int32), 0) | (tl.max(tl.max(bad_w.to(tl.int32), 1), 0) * 2)
    tl.store(flags_ptr + pid_n * tl.num_programs(1) + pid_d, flag)


# Backward. out[s, :] = E[input[s], :] is linear in E with d out[s, c] / d E[v, c] = [input[s] = v],
# so for an upstream gradient G (output's shape)
#     dL/dE[v, c] = sum_s G[s, c] [input[s] = v]        (a scatter-add over repeated indices)
# and rows no index uses get exactly 0 (theory.sequence.embedding_expr, derived with sympy.diff
# by theory.sequence.derive_embedding_gradient). torch excludes the padding_idx row: its
# gradient is 0. Sorted path: positions `perm` of the indices in stable sorted order; chunk c
# covers sorted positions [start[c], end[c]) of one index v = idx_sorted[start[c]].
@triton.jit
def _chunk_sums(
    g_ptr,
    perm_ptr,
    sorted_ptr,
    start_ptr,
    end_ptr,
    direct_ptr,
    slot_ptr,
    part_ptr,
    gw_ptr,
    flags_ptr,
    d,
    pad,
    HAS_PAD: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    c = tl.program_id(0)
    pid_d = tl.program_id(1)
    cols = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    col_ok = cols < d
    start = tl.load(start_ptr + c)
    end = tl.load(end_ptr + c)
    v = tl.load(sorted_ptr + start).to(tl.int64)
    acc = tl.zeros((BLOCK_D,), ACC)
    bad = tl.zeros((BLOCK_D,), tl.int32)
    for p in range(start, end):  # fixed order: sorted positions start, start + 1, ... (<= CHUNK)
        s = tl.load(perm_ptr + p).to(tl.int64)
        g = tl.load(g_ptr + s * d + cols, mask=col_ok, other=0.0).to(ACC)
        bad = bad | ((g != g) | (g == _INF) | (g == -_INF)).to(tl.int32)
        acc += g
    tl.store(flags_ptr + c * tl.num_programs(1) + pid_d, tl.max(bad, 0))
    if HAS_PAD:
        acc = tl.where(v == pad, 0.0, acc).to(ACC)
    direct = tl.load(direct_ptr + c)
    if direct != 0:
        tl.store(gw_ptr + v * d + cols, _rounded(acc, gw_ptr.dtype.element_ty), mask=col_ok)
    else:
        slot = tl.load(slot_ptr + c).to(tl.int64)
        tl.store(part_ptr + slot * d + cols, acc, mask=col_ok)


@triton.jit
def _rounded(acc, OUT: tl.constexpr):
    """``acc`` (float32 or float64) in the output dtype; a float64 sum reaches float16/bfloat16
    through float32 (Triton's interpreter turns float64 -> bfloat16 into garbage: 1.0 became
    9.18e-41), which adds at most one float32 rounding before the final one."""
    if OUT == tl.float64:
        return acc.to(OUT)
    return acc.to(tl.float32).to(OUT)


@triton.jit
def _segment_sums(
    part_ptr,
    seg_first_ptr,
    seg_count_ptr,
    seg_row_ptr,
    gw_ptr,
    d,
    ACC: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """Row ``seg_row[s]`` of grad_weight = the sum, in chunk order, of partials
    ``seg_first[s] .. seg_first[s] + seg_count[s] - 1`` (an index split over several chunks)."""
    s = tl.program_id(0)
    pid_d = tl.program_id(1)
    cols = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    col_ok = cols < d
    first = tl.load(seg_first_ptr + s).to(tl.int64)
    count = tl.load(seg_count_ptr + s)
    v = tl.load(seg_row_ptr + s).to(tl.int64)
    acc = tl.zeros((BLOCK_D,), ACC)
    for k in range(0, count):
        acc += tl.load(part_ptr + (first + k) * d + cols, mask=col_ok, other=0.0).to(ACC)
    tl.store(gw_ptr + v * d + cols, _rounded(acc, gw_ptr.dtype.element_ty), mask=col_ok)


# Atomic backward: the same scatter-add, each tile added with tl.atomic_add into a zeroed
# fp32/fp64 buffer; entries whose index is padding_idx are skipped.
@triton.jit
def _embedding_bwd_atomic(
    g_ptr,
    idx_ptr,
    acc_ptr,
    flags_ptr,
    n,
    d,
    pad,
    HAS_PAD: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    pid_n = tl.program_id(0)
    pid_d = tl.program_id(1)
    rows = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    row_ok = rows < n
    col_ok = cols < d
    idx = tl.load(idx_ptr + rows, mask=row_ok, other=0).to(tl.int64)
    mask = row_ok[:, None] & col_ok[None, :]
    g = tl.load(g_ptr + rows[:, None] * d + cols[None, :], mask=mask, other=0.0)
    g = g.to(acc_ptr.dtype.element_ty)
    bad = ((g != g) | (g == _INF) | (g == -_INF)) & mask
    tl.store(flags_ptr + pid_n * tl.num_programs(1) + pid_d, tl.max(tl.max(bad.to(tl.int32), 1), 0))
    keep = row_ok
    if HAS_PAD:
        keep = keep & (idx != pad)
    tl.atomic_add(
        acc_ptr + idx[:, None] * d + cols[None, :], g, mask=keep[:, None] & col_ok[None, :]
    )


# ----------------------------------------------------------------------------- launchers


def forward(idx: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``weight[idx]`` for a flat contiguous ``idx`` (n >= 1): ``(out (n, d), flags)``."""
    n = idx.numel()
    V, d = weight.shape
    block_n, block_d = _blocks(n, d)
    grid = (triton.cdiv(n, block_n), triton.cdiv(d, block_d))
    out = torch.empty((n, d), dtype=weight.dtype, device=weight.device)
    flags = torch.empty(grid[0] * grid[1], dtype=torch.int32, device=weight.device)
    _embedding_fwd[grid](idx, weight, out, flags, n, V, d, BLOCK_N=block_n, BLOCK_D=block_d)
    return out, flags


def backward_sorted(
    g: torch.Tensor, idx: torch.Tensor, num_weights: int, pad: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic scatter-add of the rows of ``g`` ``(n, d)`` (n >= 1) into ``(V, d)``."""
    n, d = g.shape
    dev = g.device
    sorted_idx, perm = torch.sort(idx, stable=True)
    pos = torch.arange(n, device=dev)
    new_seg = torch.ones(n, dtype=torch.bool, device=dev)
    new_seg[1:] = sorted_idx[1:] != sorted_idx[:-1]
    seg_id = torch.cumsum(new_seg, 0) - 1
    seg_start = pos[new_seg]
    offset = pos - seg_start[seg_id]
    starts = pos[offset % CHUNK == 0]  # chunk starts, in sorted order
    ends = torch.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = n
    chunk_seg = seg_id[starts]
    n_segs = seg_start.numel()
    chunks_per_seg = torch.bincount(chunk_seg, minlength=n_segs)
    direct = (chunks_per_seg[chunk_seg] == 1).to(torch.int32)
    slot = torch.cumsum(1 - direct, 0) - (1 - direct)  # partial row of each split chunk
    n_part = int((1 - direct).sum().item())
    part = torch.empty((max(n_part, 1), d), dtype=torch.float64, device=dev)
    gw = torch.zeros((num_weights, d), dtype=g.dtype, device=dev)
    block_d = min(triton.next_power_of_2(d), MAX_BLOCK_D)
    grid = (starts.numel(), triton.cdiv(d, block_d))
    flags = torch.empty(grid[0] * grid[1], dtype=torch.int32, device=dev)
    _chunk_sums[grid](
        g,
        perm,
        sorted_idx,
        starts,
        ends,
        direct,
        slot,
        part,
        gw,
        flags,
        d,
        0 if pad is None else pad,
        HAS_PAD=pad is not None,
        ACC=tl.float64,
        BLOCK_D=block_d,
    )
    if n_part:
        split = chunks_per_seg > 1
        seg_first_chunk = torch.cumsum(chunks_per_seg, 0) - chunks_per_seg
        seg_first = slot[seg_first_chunk[split]]
        seg_count = chunks_per_seg[split].to(torch.int32)
        seg_row = sorted_idx[seg_start[split]]
        if pad is not None:  # the padding row's partials are zero: keep it out entirely
            keep = seg_row != pad
            seg_first, seg_count, seg_row = seg_first[keep], seg_count[keep], seg_row[keep]
        if seg_row.numel():
            grid2 = (seg_row.numel(), triton.cdiv(d, block_d))
            _segment_sums[grid2](
                part, seg_first, seg_count, seg_row, gw, d, ACC=tl.float64, BLOCK_D=block_d
            )
    return gw, flags


def backward_atomic(
    g: torch.Tensor, idx: torch.Tensor, num_weights: int, pad: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scatter-add with ``tl.atomic_add`` into a zeroed float32/float64 buffer."""
    n, d = g.shape
    acc_dtype = torch.float64 if g.dtype == torch.float64 else torch.float32
    acc = torch.zeros((num_weights, d), dtype=acc_dtype, device=g.device)
    block_n, block_d = _blocks(n, d)
    grid = (triton.cdiv(n, block_n), triton.cdiv(d, block_d))
    flags = torch.empty(grid[0] * grid[1], dtype=torch.int32, device=g.device)
    _embedding_bwd_atomic[grid](
        g,
        idx,
        acc,
        flags,
        n,
        d,
        0 if pad is None else pad,
        HAS_PAD=pad is not None,
        BLOCK_N=block_n,
        BLOCK_D=block_d,
    )
    return acc.to(g.dtype), flags
