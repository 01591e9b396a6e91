r"""Embedding lookup in NumPy, forward and hand-written backward, with torch's ``F.embedding``
names and conventions (a float32/float64 reference; float64 for checks).

**Lookup** (000 § Specialized Layer Types, "Word Embeddings": :math:`\mathbf e_w =
\mathbf E[w, :]`, :math:`\mathbf E\in\mathbb R^{V\times d}`; Bengio et al. 2003, "A Neural
Probabilistic Language Model", §2; torch's ``F.embedding`` / ``nn.Embedding``). 000's
:math:`\mathbf E` is torch's ``weight`` ``(num_embeddings V, embedding_dim d)``: for an integer
index array ``input`` of any shape :math:`S`, ``output[s] = weight[input[s]]``, shape
``(*S, d)``. The lookup equals a product with one-hot rows,

.. math:: \mathbf e_w = \mathbf 1_w^\top \mathbf E,\qquad
          (\mathbf 1_w)_v = [v = w],

computed literally (with countable MACs, :math:`V d` per index) by
:func:`one_hot_embedding`: the "sparse one-hot to dense" reading of 000.

**Gradient** (the embeddings are learnable, 000 "Learnable Parameters"): with upstream
:math:`G` of the output's shape,

.. math:: \frac{\partial L}{\partial \mathbf E[v,:]} = \sum_{s:\ \mathrm{input}[s] = v} G[s,:]

a scatter-add: rows that no index uses get exactly 0, a repeated index sums its upstream rows
(torch's ``embedding_backward``; ``np.add.at`` here, which accumulates repeats). The row
``padding_idx`` gets gradient 0 (torch: "the entries at padding_idx do not contribute to the
gradient"); the forward still returns ``weight[padding_idx]`` as it is (``nn.Embedding``
merely *initializes* that row to zeros). The output has no gradient with respect to
``input`` (an index).

Conventions and domain (``ValueError``/``TypeError`` naming the argument otherwise):

* ``input``: a plain ``numpy.ndarray`` of a signed or unsigned **integer** dtype (torch:
  ``IntTensor``/``LongTensor``), any shape including 0-d and empty; every entry in
  ``[0, V)`` (torch raises ``IndexError`` for a negative or too large index; we raise
  ``ValueError`` naming ``input``). Float and bool index arrays are refused (``TypeError``).
* ``weight``: float32/float64, 2-D, both sizes :math:`\ge 1`, finite.
* ``padding_idx``: ``None`` or an integer in ``[-V, V)``; a negative value counts from the end
  (``V + padding_idx``), as torch.
* ``max_norm``/``norm_type``/``scale_grad_by_freq``/``sparse`` of torch are not implemented.

Buffers are bounded by ``kernels.cpu._check.MAX_ELEMENTS`` (:math:`2^{27}` elements: the output
``input.size * d``, and ``input.size * V`` for the one-hot matrix); a larger request is refused
with ``ValueError`` before any work.
"""

from __future__ import annotations

import numbers

import numpy as np

from kernels.cpu._check import FLOAT_DTYPES, array, bounded, is_array, not_array
from numerics.opcount import counted_matmul

__all__ = ["embedding", "embedding_backward", "one_hot_embedding"]


def _index(value: object, rows: int) -> np.ndarray:
    """The index array ``input``: integer dtype, every entry in ``[0, rows)``."""
    if not is_array(value):
        raise not_array(value, "input", "a numpy.ndarray of integer indices")
    if value.dtype.kind not in "iu":
        raise TypeError(
            f"input must be an integer index array (signed or unsigned int dtype), got dtype "
            f"{value.dtype}"
        )
    if value.size:
        lo, hi = int(value.min()), int(value.max())
        if lo < 0 or hi >= rows:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"input: index {bad} out of range [0, {rows}) for weight with num_embeddings = "
                f"{rows} rows"
            )
    return value


def _weight(value: object) -> np.ndarray:
    w = array(value, "weight", 2)
    bounded(w.size, "the array", "weight")
    if not np.isfinite(w).all():
        raise ValueError("weight must have finite entries (no NaN or infinity)")
    return w


def _padding(padding_idx: object, rows: int) -> int | None:
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool | np.bool_) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(
            f"padding_idx must be None or an integer in [-{rows}, {rows}), got "
            f"{type(padding_idx).__name__}"
        )
    p = int(padding_idx)
    if not -rows <= p < rows:
        raise ValueError(
            f"padding_idx must be within num_embeddings: an integer in [-{rows}, {rows}) for "
            f"weight with {rows} rows, got {padding_idx}"
        )
    return p % rows


def embedding(input: np.ndarray, weight: np.ndarray, padding_idx: int | None = None) -> np.ndarray:
    r"""``output[s] = weight[input[s]]``: shape ``(*input.shape, d)``, ``weight``'s dtype.

    000's :math:`\mathbf e_w = \mathbf E[w,:]` with :math:`\mathbf E` = ``weight``
    ``(V, d)``; torch's ``F.embedding(input, weight, padding_idx)``. ``padding_idx`` (``None``
    or an integer in ``[-V, V)``) only affects the gradient (:func:`embedding_backward`); it is
    checked here as torch does. See the module docstring for the domain.
    """
    w = _weight(weight)
    idx = _index(input, w.shape[0])
    _padding(padding_idx, w.shape[0])
    bounded(idx.size * w.shape[1], "the output", "input")
    return w[idx]


def embedding_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    padding_idx: int | None = None,
) -> np.ndarray:
    r"""``grad_weight`` ``(V, d)``: the scatter-add :math:`\partial L/\partial\mathbf E[v,:] =
    \sum_{s:\ \mathrm{input}[s]=v} G[s,:]` (repeated indices summed, unused rows 0) and row
    ``padding_idx`` set to 0, as torch's ``embedding_backward`` (dense).

    ``grad_output`` :math:`G`: float, ``weight``'s dtype, shape ``(*input.shape, d)``, finite.
    """
    w = _weight(weight)
    idx = _index(input, w.shape[0])
    pad = _padding(padding_idx, w.shape[0])
    want = (*idx.shape, w.shape[1])
    if not is_array(grad_output):
        raise not_array(grad_output, "grad_output")
    g = grad_output
    if g.dtype not in FLOAT_DTYPES:
        raise TypeError(f"grad_output must have dtype float32 or float64, got {g.dtype}")
    if g.dtype != w.dtype:
        raise TypeError(f"grad_output must have weight's dtype ({w.dtype}), got {g.dtype}")
    if g.shape != want:
        raise ValueError(
            f"grad_output must have the output's shape (*input.shape, weight.shape[1]) = {want} "
            f"for input of shape {idx.shape}, got {g.shape}"
        )
    if not np.isfinite(g).all():
        raise ValueError("grad_output must have finite entries (no NaN or infinity)")
    gw = np.zeros_like(w)
    np.add.at(gw, idx.reshape(-1), g.reshape(-1, w.shape[1]))
    if pad is not None:
        gw[pad] = 0
    return gw


def one_hot_embedding(input: np.ndarray, weight: np.ndarray) -> np.ndarray:
    r"""The lookup as a matrix product: ``onehot(input) @ weight`` with ``onehot(input)`` of
    shape ``(*input.shape, V)``, :math:`(\mathbf 1_w)_v = [v = w]`, through
    ``numerics.opcount.counted_matmul`` (``input.size * V * d`` MACs, against 0 for the
    lookup). Equals :func:`embedding` exactly (each output entry is one product
    :math:`1\cdot E_{wj}` plus exact zeros). Bounded: ``input.size * V`` one-hot entries.
    """
    w = _weight(weight)
    idx = _index(input, w.shape[0])
    V, d = w.shape
    bounded(idx.size * V, "the one-hot matrix", "input")
    bounded(idx.size * d, "the output", "input")
    onehot = np.zeros((idx.size, V), dtype=w.dtype)
    onehot[np.arange(idx.size), idx.reshape(-1)] = 1
    return counted_matmul(onehot, w).reshape(*idx.shape, d)
