r"""Embedding lookup and its scatter-add backward as Triton kernels, with the API of
:mod:`kernels.cpu.embedding` (torch's ``F.embedding`` names and conventions).

.. math:: \mathrm{output}[s,:] = E[\mathrm{input}[s],:],\qquad
          \frac{\partial L}{\partial E[v,:]} = \sum_{s:\ \mathrm{input}[s]=v} G[s,:]

(000 § Word Embeddings; Bengio et al. 2003; the gradient derived with ``sympy.diff`` by
:func:`theory.sequence.derive_embedding_gradient`). Rows no index uses get exactly 0, repeated
indices sum their upstream rows, and the ``padding_idx`` row gets gradient 0 (torch: "the
entries at padding_idx do not contribute to the gradient"); the forward returns
``weight[padding_idx]`` as it is.

The backward's default is a **deterministic sorted accumulation** (indices sorted stably with
their positions, equal indices summed in a fixed order, long runs split into chunks whose
partial sums are added in chunk order: bit-equal results from run to run, as torch's CUDA
``embedding_dense_backward`` under ``torch.use_deterministic_algorithms``). ``deterministic=
False`` selects an ``atomic_add`` scatter (faster for few repeats, not bit-reproducible on a
GPU). Accumulation in float32 (float16/bfloat16/float32) or float64 (float64).

Domain (``ValueError``/``TypeError`` naming the argument otherwise):

* ``input``: an ``int32``/``int64`` tensor (torch's ``IntTensor``/``LongTensor``) of any shape,
  0-d and empty included, on the kernel device; every entry in ``[0, V)`` (torch raises
  ``IndexError``; we raise ``ValueError`` naming ``input``, after the kernel flagged it: an
  out-of-range index is never dereferenced).
* ``weight``: float16/bfloat16/float32/float64, 2-D, both sizes ``>= 1``.
* ``padding_idx``: ``None`` or an integer in ``[-V, V)`` (negative counts from the end).
* ``grad_output``: ``weight``'s dtype and device, shape ``(*input.shape, d)``, finite.

**Differences from the CPU kernel** (deliberate, tested): ``weight``'s finiteness is checked
only on the rows looked up (fused into the gather; reading the whole ``V × d`` table to check
it would cost more traffic than the lookup), and not at all by the backward, which never reads
``weight`` (only its shape, dtype and device); the keyword ``deterministic`` of
:func:`embedding_backward` is an addition; index tensors of other integer dtypes (uint8, int16)
are refused, as torch does.

**Bytes that must move** (``n`` indices of ``i`` bytes, ``weight`` ``(V, d)`` of element size
``b``): forward :math:`n\,i + 2nd\,b` (indices, rows read, rows written); backward
:math:`n\,i + nd\,b + Vd\,b` (indices, ``grad_output`` read, the dense ``grad_weight``
written, zero rows included, as torch's dense backward). Beyond that the sorted backward
sorts the indices (``torch.sort``: about :math:`n(2i + 16)` bytes), writes the used rows
after zero-filling (:math:`+Ud\,b`, ``U`` distinct indices) and, for indices repeated more than
``CHUNK`` times, a float32 partial row per chunk (written and read once); the atomic backward
adds into a float32 buffer (read-modify-write of :math:`nd` entries in L2) and, for
float16/bfloat16, casts it (:math:`Vd(4 + b)`).
"""

from __future__ import annotations

import torch

from kernels.cpu._check import flag
from kernels.cpu.embedding import _padding
from kernels.gpu import _backend

__all__ = ["embedding", "embedding_backward"]

_INDEX_DTYPES = (torch.int32, torch.int64)


def _weight(value: object) -> torch.Tensor:
    w = _backend.tensor(value, "weight", ndim=(2,))
    if 0 in w.shape:
        raise ValueError(
            f"weight must have num_embeddings >= 1 and embedding_dim >= 1, got shape "
            f"{tuple(w.shape)}"
        )
    return w


def _index(value: object, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor) and value.dtype not in _INDEX_DTYPES:
        raise TypeError(
            f"input must be an integer index tensor of dtype int32 or int64 (torch's "
            f"IntTensor/LongTensor), got dtype {value.dtype}"
        )
    idx = _backend.tensor(value, "input", dtypes=_INDEX_DTYPES)
    if idx.device != weight.device:
        raise ValueError(f"input must be on weight's device {weight.device}, got {idx.device}")
    return idx


def _out_of_range(idx: torch.Tensor, rows: int) -> ValueError:
    lo, hi = int(idx.min().item()), int(idx.max().item())
    bad = lo if lo < 0 else hi
    return ValueError(
        f"input: index {bad} out of range [0, {rows}) for weight with num_embeddings = {rows} rows"
    )


def embedding(
    input: torch.Tensor, weight: torch.Tensor, padding_idx: int | None = None
) -> torch.Tensor:
    r"""``output[s] = weight[input[s]]``: shape ``(*input.shape, d)``, ``weight``'s dtype.

    torch's ``F.embedding(input, weight, padding_idx)``; ``padding_idx`` only affects the
    gradient (:func:`embedding_backward`) and is checked here as torch does. Bytes moved:
    ``n·i`` (indices) + ``2·n·d·s`` (rows read and written), ``n`` = ``input.numel()``.
    """
    w = _weight(weight)
    idx = _index(input, w)
    _padding(padding_idx, w.shape[0])
    shape = (*idx.shape, w.shape[1])
    if idx.numel() == 0:
        return torch.empty(shape, dtype=w.dtype, device=w.device)
    kernels = _backend.load("_embedding_kernels")
    out, flags = kernels.forward(idx.reshape(-1).contiguous(), w.contiguous())
    if bool(flags.any()):
        if bool(((flags & 1) != 0).any()):
            raise _out_of_range(idx, w.shape[0])
        raise ValueError(
            "weight must have finite entries (no NaN or infinity) in the rows looked up"
        )
    return out.reshape(shape)


def embedding_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None = None,
    *,
    deterministic: bool = True,
) -> torch.Tensor:
    r"""``grad_weight`` ``(V, d)``: :math:`\partial L/\partial E[v,:] = \sum_{s:\
    \mathrm{input}[s]=v} G[s,:]` (repeated indices summed, unused rows exactly 0), row
    ``padding_idx`` 0, as torch's ``embedding_backward`` (dense).

    ``deterministic`` (an addition to the CPU API, a real bool): ``True`` (default) sums equal
    indices in a fixed order after a stable sort (bit-equal across runs); ``False`` uses
    ``tl.atomic_add`` (order unspecified; equal to the sorted result within rounding).
    ``weight`` is used for its shape, dtype and device only.
    """
    w = _weight(weight)
    idx = _index(input, w)
    pad = _padding(padding_idx, w.shape[0])
    det = flag(deterministic, "deterministic")
    g = _backend.tensor(grad_output, "grad_output")
    _backend.same(g, w, "grad_output", "weight")
    want = (*idx.shape, w.shape[1])
    if tuple(g.shape) != want:
        raise ValueError(
            f"grad_output must have the output's shape (*input.shape, weight.shape[1]) = {want} "
            f"for input of shape {tuple(idx.shape)}, got {tuple(g.shape)}"
        )
    V, d = w.shape
    if idx.numel() == 0:
        return torch.zeros((V, d), dtype=w.dtype, device=w.device)
    flat = idx.reshape(-1).contiguous()
    lo, hi = torch.aminmax(flat)
    if int(lo.item()) < 0 or int(hi.item()) >= V:
        raise _out_of_range(flat, V)
    kernels = _backend.load("_embedding_kernels")
    run = kernels.backward_sorted if det else kernels.backward_atomic
    gw, flags = run(g.reshape(-1, d).contiguous(), flat, V, pad)
    if bool(flags.any()):
        raise ValueError("grad_output must have finite entries (no NaN or infinity)")
    return gw
