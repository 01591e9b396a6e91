r"""Dense, low-rank and block-sparse linear layers in NumPy, forward and backward.

Layout and argument names as ``torch.nn.functional.linear(input, weight, bias)``: ``input``
has shape ``(*, n)`` (any rank ≥ 1, leading axes may be empty), ``weight`` ``(m, n)``,
``bias`` ``(m,)``, and, flattening the leading axes into :math:`B` rows,

.. math:: Y = X W^\top + b, \qquad
          \frac{\partial L}{\partial X} = G W,\quad
          \frac{\partial L}{\partial W} = G^\top X,\quad
          \frac{\partial L}{\partial b} = \textstyle\sum_{\text{rows}} G

with :math:`G = \partial L/\partial Y`. (Per sample, :math:`\partial L/\partial x = W^\top g`,
``000_160a0b7c04e12fc6.txt`` § Advanced Linear Layer Concepts.) As in torch, a 1-D ``weight``
``(n,)`` gives one dot product per row, output ``input.shape[:-1]`` (0-d for a 1-D input),
with a 0-d ``bias``. Deliberate differences from torch (tested): ``bias`` must have exactly
the shape ``(m,)`` (``()`` for a 1-D weight) — torch also broadcasts e.g. a ``(1,)`` bias —
and a bias with a 1-D weight is accepted for every input rank (torch's ``addmm`` path
rejects it for a 2-D input only).

Outputs are refused beyond :data:`kernels.cpu._check.MAX_ELEMENTS` elements.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from kernels.cpu._check import array, bounded, integer, is_array
from numerics.opcount import counted_add, counted_einsum

_ANY_RANK = tuple(range(1, 33))


def _check_linear(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    name: str = "input",
    wname: str = "weight",
) -> int | None:
    """Check the operands; return ``m`` (out_features), or None for a 1-D weight."""
    if not is_array(input):
        array(input, name, _ANY_RANK)  # raises TypeError
    array(input, name, _ANY_RANK, empty_ok=tuple(range(input.ndim - 1)))
    array(weight, wname, (1, 2), input.dtype, like=name)
    n = input.shape[-1]
    if weight.ndim == 1:
        if weight.shape != (n,):
            raise ValueError(
                f"{wname} must have shape (in_features={n},) to match the last axis of {name}, "
                f"got {weight.shape}"
            )
        m = None
    elif weight.shape[1] != n:
        raise ValueError(
            f"{wname} must have shape (out_features, in_features={n}) to match the last axis "
            f"of {name}, got {weight.shape}"
        )
    else:
        m = weight.shape[0]
    if bias is not None:
        expected = () if m is None else (m,)
        if not is_array(bias):
            array(bias, "bias", 1)  # raises TypeError
        array(bias, "bias", len(expected), input.dtype, like=name)
        if bias.shape != expected:
            raise ValueError(f"bias must have shape {expected} (out_features), got {bias.shape}")
    rows = math.prod(input.shape[:-1])
    bounded(rows * (1 if m is None else m), "the output", wname)
    return m


def linear(input: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``F.linear``: :math:`Y = XW^T + b` for ``input`` of shape ``(*, n)``; ``(*, m)`` out."""
    m = _check_linear(input, weight, bias)
    rows = input.reshape(-1, input.shape[-1])
    if m is None:  # 1-D weight: one dot product per row, the feature axis dropped
        y = counted_einsum("bn,n->b", rows, weight).reshape(input.shape[:-1])
        return y if bias is None else counted_add(y, bias)
    y = counted_einsum("bn,mn->bm", rows, weight).reshape(*input.shape[:-1], m)
    return y if bias is None else counted_add(y, bias)


def linear_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients ``(grad_input, grad_weight, grad_bias)`` of :func:`linear` given
    ``grad_output`` = dL/dY.

    ``bias``: the forward's bias array or ``True`` → ``grad_bias`` is returned; ``None`` (the
    forward's default, no bias) or ``False`` → ``grad_bias`` is None. So
    ``linear_backward(g, *forward_args)`` mirrors ``linear(*forward_args)``, defaults included.
    """
    if is_array(bias):
        m = _check_linear(input, weight, bias)
        want_bias = True
    elif bias is None or isinstance(bias, bool):
        m = _check_linear(input, weight, None)
        want_bias = bool(bias)
    else:
        raise TypeError(
            f"bias must be True/False, None or the forward's bias array, got {type(bias).__name__}"
        )
    expected = input.shape[:-1] if m is None else (*input.shape[:-1], m)
    if not is_array(grad_output):
        array(grad_output, "grad_output", len(expected))  # raises TypeError
    if grad_output.ndim != len(expected):
        raise ValueError(
            f"grad_output must have shape {expected}, the forward's output shape for this "
            f"input and weight; got {grad_output.shape}"
        )
    array(grad_output, "grad_output", len(expected), input.dtype, tuple(range(32)), "input")
    if grad_output.shape != expected:
        raise ValueError(
            f"grad_output must have shape {expected}, the forward's output shape for this "
            f"input and weight; got {grad_output.shape}"
        )
    n = input.shape[-1]
    x = input.reshape(-1, n)
    if m is None:  # 1-D weight: y[b] = x[b] . w
        g = grad_output.reshape(-1)
        dx = counted_einsum("b,n->bn", g, weight).reshape(input.shape)
        dw = counted_einsum("b,bn->n", g, x)
        return dx, dw, (np.asarray(g.sum()) if want_bias else None)
    g = grad_output.reshape(-1, m)
    dx = counted_einsum("bm,mn->bn", g, weight).reshape(input.shape)
    dw = counted_einsum("bm,bn->mn", g, x)
    return dx, dw, (g.sum(axis=0) if want_bias else None)


def lowrank_linear(
    x: np.ndarray, u: np.ndarray, v: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    r"""Factorised layer :math:`y = U(Vx) + b` with ``u`` ``(m, r)`` and ``v`` ``(r, n)``;
    ``x`` of shape ``(*, n)`` as in :func:`linear`."""
    array(x, "x", _ANY_RANK, empty_ok=tuple(range(x.ndim - 1)) if is_array(x) else ())
    array(v, "v", 2, x.dtype, like="x")
    _check_linear(x, v, None, name="x", wname="v")
    array(u, "u", 2, x.dtype, like="x")
    if u.shape[1] != v.shape[0]:
        raise ValueError(f"u (m, r) and v (r, n) must share r: got {u.shape} and {v.shape}")
    hidden = linear(x, v)
    return linear(hidden, u, bias)


def _sizes(value: object, name: str) -> list[int]:
    # str/bytes/bytearray are sequences, but never of sizes (b'x' would read as [120])
    text = isinstance(value, str | bytes | bytearray)
    if not isinstance(value, Sequence) or text or len(value) == 0:
        raise TypeError(f"{name} must be a non-empty sequence of integers >= 1, got {value!r}")
    return [integer(v, f"{name}[{i}]", 1) for i, v in enumerate(value)]


def block_sparse_linear(
    x: np.ndarray,
    blocks: Mapping[tuple[int, int], np.ndarray],
    row_sizes: Sequence[int],
    col_sizes: Sequence[int],
    bias: np.ndarray | None = None,
) -> np.ndarray:
    r"""Block-sparse layer: only the blocks in ``blocks`` are stored and multiplied.

    ``x`` is ``(B, n)`` with :math:`n = \sum_j` ``col_sizes[j]``; ``blocks[(i, j)]`` has shape
    ``(row_sizes[i], col_sizes[j])``; a missing key is a zero block, skipped: the layer
    executes :math:`B\sum_{(i,j)} m_i n_j` MACs.
    """
    array(x, "x", 2, empty_ok=(0,))
    rows = list(itertools.accumulate(_sizes(row_sizes, "row_sizes"), initial=0))  # exact ints
    cols = list(itertools.accumulate(_sizes(col_sizes, "col_sizes"), initial=0))
    if x.shape[1] != cols[-1]:
        raise ValueError(f"x must have {cols[-1]} features (sum of col_sizes), got {x.shape[1]}")
    if not isinstance(blocks, Mapping):
        raise TypeError(f"blocks must be a mapping (i, j) -> array, got {type(blocks).__name__}")
    bounded(x.shape[0] * int(rows[-1]), "the output", "row_sizes")
    if bias is not None:
        array(bias, "bias", 1, x.dtype, like="x")
        if bias.shape != (rows[-1],):
            raise ValueError(f"bias must have shape ({rows[-1]},), got {bias.shape}")
    for key, block in blocks.items():
        ok = (
            isinstance(key, tuple)
            and len(key) == 2
            and all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in key)
        )
        if not ok or not (0 <= key[0] < len(row_sizes) and 0 <= key[1] < len(col_sizes)):
            raise ValueError(
                f"blocks: key {key!r} is not a block index (i, j) of the "
                f"{len(row_sizes)}x{len(col_sizes)} grid"
            )
        i, j = int(key[0]), int(key[1])
        array(block, "blocks", 2, x.dtype, like="x")
        if block.shape != (row_sizes[i], col_sizes[j]):
            raise ValueError(
                f"blocks[{(i, j)}] must have shape {(row_sizes[i], col_sizes[j])}, "
                f"got {block.shape}"
            )
    y = np.zeros((x.shape[0], int(rows[-1])), dtype=x.dtype)
    for key, block in blocks.items():
        i, j = int(key[0]), int(key[1])
        y[:, rows[i] : rows[i + 1]] += counted_einsum(
            "bn,mn->bm", x[:, cols[j] : cols[j + 1]], block
        )
    return y if bias is None else counted_add(y, bias[None, :])
