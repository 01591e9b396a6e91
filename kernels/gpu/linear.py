r"""Dense, low-rank and block-sparse linear layers in Triton, forward and backward, with the
API of :mod:`kernels.cpu.linear` on torch tensors.

The math is the CPU module's. ``input`` has shape ``(*, n)`` (any rank ≥ 1; the leading axes
may be empty), ``weight`` ``(m, n)``, ``bias`` ``(m,)``; flattening the leading axes into
:math:`B` rows,

.. math:: Y = X W^\top + b, \qquad
          \frac{\partial L}{\partial X} = G W,\quad
          \frac{\partial L}{\partial W} = G^\top X,\quad
          \frac{\partial L}{\partial b} = \textstyle\sum_{\text{rows}} G

with :math:`G = \partial L/\partial Y` (``000_160a0b7c04e12fc6.txt`` § Advanced Linear Layer
Concepts; the two backward products are the ones :func:`theory.linear.derive_linear_cost`
counts). As in torch and the CPU kernel, a 1-D ``weight`` ``(n,)`` gives one dot product per
row, output ``input.shape[:-1]``, with a 0-d ``bias``.

Design (:mod:`kernels.gpu._linear_kernels`, Triton tutorial 03): every product is one launch
of a tiled ``tl.dot`` kernel that reads its operands through strides — :math:`W^\top` in the
forward and :math:`G^\top` in the weight gradient are never materialised — with float32
accumulation (float64 for float64 input) and the bias added in the epilogue before the one
rounding to the output dtype; ``grad_bias`` is a deterministic two-stage column sum
accumulated in float64 (as torch's CPU ``sum`` of float32; torch's CUDA sum uses float32). float32
operands multiply at :func:`kernels.gpu._backend.dot_precision` ``("matmul")``: full IEEE
float32 unless ``torch.backends.cuda.matmul.allow_tf32`` is set, exactly as torch's own
``F.linear`` then. No atomics anywhere: reruns are bit-equal, and so are inputs of any memory
layout (they are made contiguous first, so the same tiles run in the same order).

The low-rank layer :math:`y = U(Vx) + b` is two launches (:math:`h = xV^\top`, then
:math:`y = hU^\top + b`), :math:`h` rounded to the input dtype as torch's
``F.linear(F.linear(x, v), u, b)`` does. Not fused: a fused kernel would have to recompute or
hold the :math:`B\times r` hidden tile for every output tile, while the two-launch version
moves only :math:`2Br` extra elements, small next to the :math:`B(n + m)` it must read and
write when :math:`r < \min(m, n)` (the only case worth factorising,
:func:`theory.linear.lowrank_break_even_rank`).

The block-sparse layer stores only the blocks present (:class:`BlockSparseWeight`: the
blocks packed into one buffer plus per-block-row lists of stored blocks) and launches one
program per (tile of rows of ``x``, tile of outputs of one block row), which loops over the
stored blocks of that block row only: time follows the stored-block MAC count
:func:`theory.linear.block_sparse_macs` (tiles are padded to the block sizes, so blocks of at
least the tile size — 64–128 on a GPU — give the proportionality). Build a
:class:`BlockSparseWeight` once and pass it as ``blocks`` for repeated calls: packing (a
host-side copy) is then not repeated.

FLOPs for a benchmark (2 × MACs; bias additions and the bias gradient not counted, as in
:mod:`theory.linear`): dense forward :math:`2Bmn` (:func:`theory.linear.linear_macs`);
backward :math:`4Bmn` (two products, :func:`theory.linear.linear_backward_macs`); low-rank
forward :math:`2Br(m + n)` (:func:`theory.linear.lowrank_macs`); block-sparse forward
:math:`2B\sum_{(i,j)\in\mathcal N} m_i n_j` (:func:`theory.linear.block_sparse_macs`).

Deliberate differences from torch (the CPU kernel's, tested): ``bias`` must have exactly the
shape ``(m,)`` (``()`` for a 1-D weight) — torch also broadcasts e.g. a ``(1,)`` bias — and a
bias with a 1-D weight is accepted for every input rank. Every tensor must have ``input``'s
dtype (float32, float64, float16 or bfloat16) and live on the kernels' device. Unlike the CPU
kernel, outputs are not capped at :data:`kernels.cpu._check.MAX_ELEMENTS` (a guard for host
memory; the GPU's allocator reports its own limit), but a block-sparse layer's
``sum(row_sizes)`` and ``sum(col_sizes)`` are each at most that cap (larger would only be
index tables of a layer no memory holds).

References: Triton tutorial 03-matrix-multiplication; torch ``F.linear``
(``aten/src/ATen/native/Linear.cpp``, ``addmm`` in ``cuda/Blas.cpp``); Gray, Radford &
Kingma, "GPU kernels for block-sparse weights" (OpenAI, 2017).
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Mapping, Sequence
from functools import cache

import torch

from kernels.cpu._check import MAX_ELEMENTS
from kernels.cpu.linear import _sizes
from kernels.gpu import _backend

__all__ = [
    "BlockSparseWeight",
    "block_sparse_linear",
    "linear",
    "linear_backward",
    "lowrank_linear",
    "lowrank_linear_backward",
]

_ANY_RANK = tuple(range(1, 33))

# --------------------------------------------------------------------------- argument checks


def _nonempty(t: torch.Tensor, name: str, empty_ok: tuple[int, ...] = ()) -> torch.Tensor:
    """The CPU kernel's rule: no zero-size axis except those in ``empty_ok``."""
    if any(s == 0 and a not in empty_ok for a, s in enumerate(t.shape)):
        where = f" (only axes {sorted(empty_ok)} may be empty)" if empty_ok else ""
        raise ValueError(
            f"{name} must not have a zero-size dimension{where}, got shape {tuple(t.shape)}"
        )
    return t


def _check_bias(
    bias: object, expected: tuple[int, ...], ref: torch.Tensor, like: str, source: str
) -> torch.Tensor:
    """``bias`` of exactly the shape ``expected`` (``source`` says what sets it)."""
    b = _backend.tensor(bias, "bias")
    _backend.same(b, ref, "bias", like)
    if tuple(b.shape) != expected:
        raise ValueError(
            f"bias must have shape {expected} (out_features, from {source}), got {tuple(b.shape)}"
        )
    return b


def _check_linear(
    input: object, weight: object, bias: object, name: str = "input", wname: str = "weight"
) -> int | None:
    """The CPU kernel's checks and messages; return ``m``, or None for a 1-D weight."""
    x = _backend.tensor(input, name, ndim=_ANY_RANK)
    _nonempty(x, name, tuple(range(x.ndim - 1)))
    w = _backend.tensor(weight, wname, ndim=(1, 2))
    _backend.same(w, x, wname, name)
    _nonempty(w, wname)
    n = x.shape[-1]
    if w.ndim == 1:
        if tuple(w.shape) != (n,):
            raise ValueError(
                f"{wname} must have shape (in_features={n},) to match the last axis of {name}, "
                f"got {tuple(w.shape)}"
            )
        m = None
    elif w.shape[1] != n:
        raise ValueError(
            f"{wname} must have shape (out_features, in_features={n}) to match the last axis "
            f"of {name}, got {tuple(w.shape)}"
        )
    else:
        m = w.shape[0]
    if bias is not None:
        _check_bias(bias, () if m is None else (m,), x, name, f"{wname} {tuple(w.shape)}")
    return m


def _want_bias(bias: object) -> bool:
    """``linear_backward``'s ``bias``: a tensor or True → grad_bias; None or False → None."""
    if isinstance(bias, torch.Tensor):
        return True
    if bias is None or isinstance(bias, bool):
        return bool(bias)
    raise TypeError(
        f"bias must be True/False, None or the forward's bias tensor, got {type(bias).__name__}"
    )


def _check_grad(
    grad_output: object,
    x: torch.Tensor,
    expected: tuple[int, ...],
    xname: str = "input",
    operands: str = "input and weight",
) -> torch.Tensor:
    g = _backend.tensor(grad_output, "grad_output")
    _backend.same(g, x, "grad_output", xname)
    if tuple(g.shape) != expected:
        raise ValueError(
            f"grad_output must have shape {expected}, the forward's output shape for this "
            f"{operands}; got {tuple(g.shape)}"
        )
    return g


# --------------------------------------------------------------------------- launches


def _kernels():
    return _backend.load("_linear_kernels")


def _interpreted() -> bool:
    return _backend.mode() == "interpreter"


@cache
def _sms(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _matmul(a, b, c, strides, m: int, n: int, k: int, bias=None) -> None:
    """``c (m × n) = a @ b (+ bias)`` with operand strides ``strides`` (see the kernels)."""
    kl = _kernels()
    interp = _interpreted()
    sms = 0 if interp else _sms(c.device.index or 0)
    cfg = kl.pick("_gemm_kernel", interp, str(c.dtype).removeprefix("torch."), m, n, sms)
    kl.gemm(a, b, c, strides, m, n, k, bias, _backend.dot_precision("matmul"), cfg)


def _forward(x2: torch.Tensor, w2: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``(rows, m) = x2 (rows, n) @ w2ᵀ (m, n) + bias``, both operands contiguous."""
    rows, n = x2.shape
    m = w2.shape[0]
    y = torch.empty((rows, m), dtype=x2.dtype, device=x2.device)
    b = None if bias is None else bias.contiguous().reshape(-1)
    _matmul(x2, w2, y, (n, 1, 1, n, m, 1), rows, m, n, b)
    return y


def _backward(g2, x2, w2, want_bias: bool):
    """``(G W, Gᵀ X, Σ_rows G)`` for contiguous ``g2 (rows, m)``, ``x2 (rows, n)``,
    ``w2 (m, n)``."""
    rows, n = x2.shape
    m = w2.shape[0]
    dx = torch.empty((rows, n), dtype=x2.dtype, device=x2.device)
    _matmul(g2, w2, dx, (m, 1, n, 1, n, 1), rows, n, m)  # A = G, B = W
    dw = torch.empty((m, n), dtype=x2.dtype, device=x2.device)
    _matmul(g2, x2, dw, (1, m, n, 1, n, 1), m, n, rows)  # A = Gᵀ (strides 1, m), B = X
    db = None
    if want_bias:
        db = torch.empty(m, dtype=x2.dtype, device=x2.device)
        _kernels().colsum(g2, db, rows, m, _interpreted())
    return dx, dw, db


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().reshape(-1, t.shape[-1])


# --------------------------------------------------------------------------- dense


def linear(
    input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    r"""``F.linear``: :math:`Y = XW^\top + b` for ``input`` of shape ``(*, n)``; ``(*, m)``
    out (``input.shape[:-1]`` for a 1-D ``weight``). One tiled ``tl.dot`` launch, the bias
    added in its epilogue; accumulation in float32 (float64 for float64)."""
    m = _check_linear(input, weight, bias)
    y = _forward(_rows(input), _rows(weight), bias)
    lead = tuple(input.shape[:-1])
    return y.reshape(lead) if m is None else y.reshape(*lead, m)


def linear_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    r"""Gradients ``(grad_input, grad_weight, grad_bias)`` of :func:`linear` given
    ``grad_output`` = dL/dY: :math:`GW` and :math:`G^\top X` (one product launch each, the
    transposes read through strides) and :math:`\sum_{\text{rows}} G` (a deterministic
    two-stage column sum).

    ``bias``: the forward's bias tensor or ``True`` → ``grad_bias`` is returned; ``None`` (the
    forward's default, no bias) or ``False`` → ``grad_bias`` is None, as the CPU kernel.
    """
    want = _want_bias(bias)
    m = _check_linear(input, weight, bias if isinstance(bias, torch.Tensor) else None)
    lead = tuple(input.shape[:-1])
    g = _check_grad(grad_output, input, lead if m is None else (*lead, m))
    x2, w2 = _rows(input), _rows(weight)
    dx, dw, db = _backward(g.contiguous().reshape(x2.shape[0], w2.shape[0]), x2, w2, want)
    return (
        dx.reshape(input.shape),
        dw.reshape(weight.shape),
        None if db is None else db.reshape(() if m is None else (m,)),
    )


# --------------------------------------------------------------------------- low rank


def _check_lowrank(x: object, u: object, v: object, bias: object) -> int:
    xt = _backend.tensor(x, "x", ndim=_ANY_RANK)
    _nonempty(xt, "x", tuple(range(xt.ndim - 1)))
    vt = _backend.tensor(v, "v", ndim=(2,))
    _check_linear(xt, vt, None, name="x", wname="v")
    ut = _backend.tensor(u, "u", ndim=(2,))
    _backend.same(ut, xt, "u", "x")
    _nonempty(ut, "u")
    if ut.shape[1] != vt.shape[0]:
        raise ValueError(
            f"u (m, r) and v (r, n) must share r: got {tuple(ut.shape)} and {tuple(vt.shape)}"
        )
    m = ut.shape[0]
    if bias is not None:
        _check_bias(bias, (m,), xt, "x", f"u {tuple(ut.shape)}")
    return m


def lowrank_linear(
    x: torch.Tensor, u: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Factorised layer :math:`y = U(Vx) + b` with ``u`` ``(m, r)`` and ``v`` ``(r, n)``;
    ``x`` of shape ``(*, n)`` as in :func:`linear`. Two launches (:math:`B\,r(m+n)` MACs,
    :func:`theory.linear.lowrank_macs`); the hidden :math:`Vx` is rounded to ``x``'s dtype, as
    in ``F.linear(F.linear(x, v), u, bias)``."""
    m = _check_lowrank(x, u, v, bias)
    hidden = _forward(_rows(x), v.contiguous(), None)
    return _forward(hidden, u.contiguous(), bias).reshape(*x.shape[:-1], m)


def lowrank_linear_backward(
    grad_output: torch.Tensor,
    x: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    r"""Gradients ``(grad_x, grad_u, grad_v, grad_bias)`` of :func:`lowrank_linear`, by the
    chain rule through :math:`h = xV^\top`: :math:`(\partial h, \partial U, \partial b)` =
    :func:`linear_backward` of :math:`y = hU^\top + b`, then :math:`(\partial x, \partial V)`
    = :func:`linear_backward` of :math:`h = xV^\top` (``h`` recomputed, one launch; ``bias``
    as in :func:`linear_backward`). Five product launches: :math:`B\,r(3n + 2m)` MACs."""
    want = _want_bias(bias)
    m = _check_lowrank(x, u, v, bias if isinstance(bias, torch.Tensor) else None)
    g = _check_grad(grad_output, x, (*x.shape[:-1], m), "x", "x, u and v")
    x2, u2, v2 = _rows(x), u.contiguous(), v.contiguous()
    hidden = _forward(x2, v2, None)
    dh, du, db = _backward(g.contiguous().reshape(x2.shape[0], m), hidden, u2, want)
    dx, dv, _ = _backward(dh, x2, v2, False)
    return dx.reshape(x.shape), du, dv, db


# --------------------------------------------------------------------------- block sparse


def _bounded_sizes(value: object, name: str) -> list[int]:
    sizes = _sizes(value, name)
    if sum(sizes) > MAX_ELEMENTS:
        raise ValueError(
            f"{name}: the sizes add up to {sum(sizes)}, more than the limit "
            f"kernels.cpu._check.MAX_ELEMENTS = {MAX_ELEMENTS} features"
        )
    return sizes


def _block_key(key: object, nrows: int, ncols: int) -> tuple[int, int]:
    ok = (
        isinstance(key, tuple)
        and len(key) == 2
        and all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in key)
    )
    if not ok or not (0 <= key[0] < nrows and 0 <= key[1] < ncols):  # type: ignore[index]
        raise ValueError(
            f"blocks: key {key!r} is not a block index (i, j) of the {nrows}x{ncols} grid"
        )
    return int(key[0]), int(key[1])  # type: ignore[index]


class BlockSparseWeight:
    r"""A block-sparse weight packed for :func:`block_sparse_linear` (build once, call often).

    ``BlockSparseWeight(blocks, row_sizes, col_sizes, dtype=None)`` takes the arguments of
    :func:`block_sparse_linear`: ``blocks[(i, j)]`` a tensor of shape
    ``(row_sizes[i], col_sizes[j])``, a missing key a zero block (never stored, never
    multiplied). ``dtype`` is the blocks' dtype; it may be omitted unless ``blocks`` is empty,
    and every block must have it.

    Layout: the stored blocks, sorted by ``(i, j)``, each row-major, concatenated in
    ``data``; per block row ``i`` the stored blocks ``row_ptr[i] .. row_ptr[i+1] - 1`` with
    their first input column, width :math:`n_j` and offset in ``data`` (CSR over blocks).

    Attributes: ``row_sizes``, ``col_sizes`` (tuples of int), ``stored`` (the keys, sorted),
    ``shape`` :math:`(\sum m_i, \sum n_j)`, ``dtype``, ``device``, ``data`` (the packed
    values, :math:`\sum_{\mathcal N} m_i n_j` of them =
    :func:`theory.linear.block_sparse_params` without bias) and ``macs_per_row``
    (:math:`\sum_{\mathcal N} m_i n_j`: the kernel's MACs per row of ``x``).
    """

    def __init__(
        self,
        blocks: Mapping[tuple[int, int], torch.Tensor],
        row_sizes: Sequence[int],
        col_sizes: Sequence[int],
        dtype: torch.dtype | None = None,
    ) -> None:
        rows = _bounded_sizes(row_sizes, "row_sizes")
        cols = _bounded_sizes(col_sizes, "col_sizes")
        if dtype is not None and dtype not in _backend.FLOAT_DTYPES:
            raise TypeError(f"dtype must be None or one of {_backend.FLOAT_DTYPES}, got {dtype!r}")
        if not isinstance(blocks, Mapping):
            raise TypeError(
                f"blocks must be a mapping (i, j) -> tensor, got {type(blocks).__name__}"
            )
        if dtype is None and not blocks:
            raise TypeError("dtype must be given when blocks is empty (no block to take it from)")
        self._init(blocks, rows, cols, dtype, "dtype")

    @classmethod
    def _packed(cls, blocks, rows, cols, dtype, like) -> BlockSparseWeight:
        out = cls.__new__(cls)
        out._init(blocks, rows, cols, dtype, like)
        return out

    def _init(self, blocks, rows: list[int], cols: list[int], dtype, like: str) -> None:
        checked: dict[tuple[int, int], torch.Tensor] = {}
        for key, block in blocks.items():
            i, j = _block_key(key, len(rows), len(cols))
            b = _backend.tensor(block, "blocks", ndim=(2,))
            if dtype is None:
                dtype, like = b.dtype, f"blocks[{(i, j)}]"
            elif b.dtype != dtype:
                raise TypeError(
                    f"blocks[{(i, j)}] must have the dtype of {like} ({dtype}), got {b.dtype}"
                )
            if tuple(b.shape) != (rows[i], cols[j]):
                raise ValueError(
                    f"blocks[{(i, j)}] must have shape {(rows[i], cols[j])}, got {tuple(b.shape)}"
                )
            checked[(i, j)] = b
        device = _backend.device()
        row_start = list(itertools.accumulate(rows, initial=0))
        col_start = list(itertools.accumulate(cols, initial=0))
        self.row_sizes = tuple(rows)
        self.col_sizes = tuple(cols)
        self.stored = tuple(sorted(checked))
        self.shape = (row_start[-1], col_start[-1])
        self.dtype = dtype
        self.device = device
        sizes = [rows[i] * cols[j] for i, j in self.stored]
        self.macs_per_row = sum(sizes)
        offsets = list(itertools.accumulate(sizes, initial=0))
        if self.stored:
            self.data = torch.cat([checked[k].contiguous().reshape(-1) for k in self.stored])
        else:
            self.data = torch.empty(0, dtype=dtype, device=device)
        big = offsets[-1] >= _kernels().INT64_FROM  # the kernel's INT64 switch
        self._index = torch.int64 if big else torch.int32
        counts = [0] * len(rows)
        for i, _ in self.stored:
            counts[i] += 1
        ints = self._ints
        self._meta = (
            ints(itertools.accumulate(counts, initial=0)),  # row_ptr
            ints(col_start[j] for _, j in self.stored),  # first input column
            ints(cols[j] for _, j in self.stored),  # width n_j
            ints(offsets[:-1]),  # offset in data
            ints(row_start[:-1]),  # first output of each block row
            ints(rows),  # m_i
        )
        self._tiles: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _ints(self, values) -> torch.Tensor:
        return torch.tensor(list(values), dtype=self._index, device=self.device)

    def _tiles_for(self, block_n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tile_row, tile_n0)``: every ``block_n``-wide tile of every block row."""
        if block_n not in self._tiles:
            pairs = [(i, n0) for i, mi in enumerate(self.row_sizes) for n0 in range(0, mi, block_n)]
            self._tiles[block_n] = (
                self._ints(p[0] for p in pairs),
                self._ints(p[1] for p in pairs),
            )
        return self._tiles[block_n]


def block_sparse_linear(
    x: torch.Tensor,
    blocks: Mapping[tuple[int, int], torch.Tensor] | BlockSparseWeight,
    row_sizes: Sequence[int],
    col_sizes: Sequence[int],
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Block-sparse layer: only the blocks in ``blocks`` are stored and multiplied.

    ``x`` is ``(B, n)`` with :math:`n = \sum_j` ``col_sizes[j]`` (``B`` may be 0);
    ``blocks[(i, j)]`` has shape ``(row_sizes[i], col_sizes[j])``; a missing key is a zero
    block, skipped: the kernel executes :math:`B\sum_{(i,j)} m_i n_j` MACs
    (:func:`theory.linear.block_sparse_macs`). ``blocks`` may also be a
    :class:`BlockSparseWeight` (packed once, for repeated calls), whose sizes must then equal
    ``row_sizes`` and ``col_sizes`` and whose dtype must be ``x``'s. Output ``(B, sum(row_sizes))``.
    """
    xt = _backend.tensor(x, "x", ndim=(2,))
    _nonempty(xt, "x", (0,))
    rows = _bounded_sizes(row_sizes, "row_sizes")
    cols = _bounded_sizes(col_sizes, "col_sizes")
    if xt.shape[1] != sum(cols):
        raise ValueError(f"x must have {sum(cols)} features (sum of col_sizes), got {xt.shape[1]}")
    if isinstance(blocks, BlockSparseWeight):
        for name, mine, theirs in (
            ("row_sizes", rows, blocks.row_sizes),
            ("col_sizes", cols, blocks.col_sizes),
        ):
            if tuple(mine) != theirs:
                raise ValueError(
                    f"{name} {tuple(mine)} must equal the packed weight's {theirs} (blocks)"
                )
        if blocks.dtype != xt.dtype:
            raise TypeError(f"blocks must have x's dtype {xt.dtype}, got {blocks.dtype}")
        if blocks.device.type != xt.device.type:
            raise ValueError(f"blocks must be on x's device {xt.device}, got {blocks.device}")
        packed = blocks
    elif isinstance(blocks, Mapping):
        packed = None
    else:
        raise TypeError(
            "blocks must be a mapping (i, j) -> tensor or a BlockSparseWeight, got "
            f"{type(blocks).__name__}"
        )
    b = None if bias is None else _check_bias(bias, (sum(rows),), xt, "x", "row_sizes")
    if packed is None:
        packed = BlockSparseWeight._packed(blocks, rows, cols, xt.dtype, "x")
    kl = _kernels()
    interp = _interpreted()
    name = str(xt.dtype).removeprefix("torch.")
    cfg = kl.pick("_block_sparse_kernel", interp, name, block_rows=max(rows))
    xc = xt.contiguous()
    y = torch.empty((xc.shape[0], sum(rows)), dtype=xc.dtype, device=xc.device)
    if xc.shape[0]:
        big = max(xc.numel(), y.numel(), packed.data.numel()) >= kl.INT64_FROM
        kl.block_sparse(
            xc,
            (packed.data, *packed._meta),
            packed._tiles_for(cfg["BLOCK_N"]),
            y,
            None if b is None else b.contiguous(),
            xc.shape[0],
            _backend.dot_precision("matmul"),
            cfg,
            big,
            all(v % 16 == 0 for v in (*rows, *cols)),
        )
    return y
