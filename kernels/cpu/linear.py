r"""Dense, low-rank and block-sparse linear layers in NumPy, forward and backward.

Layout as ``torch.nn.functional.linear``: ``x`` has shape ``(B, n)``, ``weight`` ``(m, n)``,
``bias`` ``(m,)``, and

.. math:: Y = X W^\top + b, \qquad
          \frac{\partial L}{\partial X} = G W,\quad
          \frac{\partial L}{\partial W} = G^\top X,\quad
          \frac{\partial L}{\partial b} = \textstyle\sum_{\text{rows}} G

with :math:`G = \partial L/\partial Y`. (Per sample, :math:`\partial L/\partial x = W^\top g`,
``000_160a0b7c04e12fc6.txt`` § Advanced Linear Layer Concepts.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kernels.cpu._check import array
from numerics.opcount import counted_add, counted_einsum


def _check_linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> None:
    array(x, "x", 2)
    array(weight, "weight", 2, x.dtype)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight must have shape (out_features, in_features={x.shape[1]}), got {weight.shape}"
        )
    if bias is not None:
        array(bias, "bias", 1, x.dtype)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Forward pass :math:`Y = XW^T + b` for ``x`` of shape ``(B, n)``."""
    _check_linear(x, weight, bias)
    y = counted_einsum("bn,mn->bm", x, weight)
    return y if bias is None else counted_add(y, bias[None, :])


def linear_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray, bias: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients ``(dx, dweight, dbias)`` of ``linear`` given ``grad_out`` = dL/dY."""
    _check_linear(x, weight, None)
    array(grad_out, "grad_out", 2, x.dtype)
    if grad_out.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(
            f"grad_out must have shape {(x.shape[0], weight.shape[0])}, got {grad_out.shape}"
        )
    dx = counted_einsum("bm,mn->bn", grad_out, weight)
    dw = counted_einsum("bm,bn->mn", grad_out, x)
    return dx, dw, (grad_out.sum(axis=0) if bias else None)


def lowrank_linear(
    x: np.ndarray, u: np.ndarray, v: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    r"""Factorised layer :math:`y = U(Vx) + b` with ``u`` ``(m, r)`` and ``v`` ``(r, n)``."""
    array(u, "u", 2, x.dtype)
    if v.ndim != 2 or u.shape[1] != v.shape[0]:
        raise ValueError(f"u (m, r) and v (r, n) must share r: got {u.shape} and {v.shape}")
    hidden = linear(x, v)
    return linear(hidden, u, bias)


def block_sparse_linear(
    x: np.ndarray,
    blocks: Mapping[tuple[int, int], np.ndarray],
    row_sizes: Sequence[int],
    col_sizes: Sequence[int],
    bias: np.ndarray | None = None,
) -> np.ndarray:
    r"""Block-sparse layer: only the blocks in ``blocks`` are stored and multiplied.

    ``blocks[(i, j)]`` has shape ``(row_sizes[i], col_sizes[j])``; a missing key is a zero
    block, skipped: the layer executes :math:`B\sum_{(i,j)} m_i n_j` MACs.
    """
    array(x, "x", 2)
    rows = np.cumsum([0, *row_sizes])
    cols = np.cumsum([0, *col_sizes])
    if x.shape[1] != cols[-1]:
        raise ValueError(f"x must have {cols[-1]} features (sum of col_sizes), got {x.shape[1]}")
    y = np.zeros((x.shape[0], int(rows[-1])), dtype=x.dtype)
    for (i, j), block in blocks.items():
        if not (0 <= i < len(row_sizes) and 0 <= j < len(col_sizes)):
            raise ValueError(
                f"block index {(i, j)} outside the {len(row_sizes)}x{len(col_sizes)} grid"
            )
        array(block, f"blocks[{(i, j)}]", 2, x.dtype)
        if block.shape != (row_sizes[i], col_sizes[j]):
            raise ValueError(
                f"blocks[{(i, j)}] must have shape {(row_sizes[i], col_sizes[j])}, "
                f"got {block.shape}"
            )
        y[:, rows[i] : rows[i + 1]] += counted_einsum(
            "bn,mn->bm", x[:, cols[j] : cols[j + 1]], block
        )
    if bias is not None:
        array(bias, "bias", 1, x.dtype)
        if bias.shape != (rows[-1],):
            raise ValueError(f"bias must have shape ({rows[-1]},), got {bias.shape}")
        y = counted_add(y, bias[None, :])
    return y
