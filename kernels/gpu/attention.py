r"""Row softmax and its backward as Triton kernels, with the API of
:func:`kernels.cpu.attention.softmax` / :func:`kernels.cpu.attention.softmax_backward`.

.. math:: y_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},\qquad m = \max_j x_j,\qquad
          dx = y \circ \big(g - \textstyle\sum_{\text{dim}} g \circ y\big)

(the Jacobian :math:`\operatorname{diag}(y) - yy^\top`, :func:`theory.attention.softmax_jacobian`,
proved by :func:`theory.attention.derive_softmax_jacobian`). One program per row; rows of up to
``_softmax_kernels.MAX_FUSED`` columns are held whole in registers (as the Triton tutorial
02-fused-softmax and Liger-Kernel's softmax do), longer rows use the online normalizer of
Milakov & Gimelshein (2018, arXiv:1805.02867). Accumulation in float32 (float16, bfloat16,
float32) or float64 (float64); the output has the input's dtype.

Domain (as the CPU kernel; ``ValueError``/``TypeError`` naming the argument otherwise):
``input`` a float16/bfloat16/float32/float64 tensor on the kernel device, any rank, entries
finite or ``-inf`` (masked: weight exactly 0); a slice along ``dim`` whose entries are all
``-inf`` is refused naming ``input`` (torch returns NaN there); NaN and ``+inf`` are refused.
Empty tensors give empty results. ``grad_output``: ``input``'s dtype, device and shape, finite.

**Differences** (deliberate): the NaN/``+inf``/all-``-inf`` checks are fused into the kernel
(a status word per row) and raise *after* it ran, without an extra pass over memory; ``dim``
other than the innermost axis is handled by moving it last (a transposing copy in and out).
The output is contiguous whatever the input's layout; non-contiguous inputs give bit-identical
results to contiguous ones.

**Bytes that must move** (``R`` rows of ``N`` entries along ``dim``, element size ``b``):
forward :math:`2RNb` (read ``x``, write ``y``), backward :math:`3RNb` (read ``x`` and ``g``,
write ``dx``; ``y`` is recomputed, never stored). The fused path moves exactly that (plus a
4-byte status word per row); the looped path (``N > MAX_FUSED``) reads the row twice:
:math:`3RNb` forward, :math:`5RNb` backward (the second read often hits L2). ``dim`` other than
the innermost axis adds a transposing copy in and out (:math:`+4RNb` forward).

**Accuracy** (measured under the GPU rule against torch): ``<g, y>`` and the online sums are
accumulated in float64, since ``g - <g, y>`` cancels when ``g`` is near its weighted mean;
``y = e\cdot(1/s)`` with ``1/s`` divided once per row in float64 (Triton's float32 ``/`` is
``div.full.f32``, not correctly rounded), so a uniform row is exactly ``fl(1/n)``.
"""

from __future__ import annotations

import numbers

import torch

from kernels.gpu import _backend

__all__ = ["softmax", "softmax_backward"]

_MESSAGES = {
    1: "input must hold finite numbers or -inf (masked), no NaN or +inf",
    2: (
        "input: a row of scores has every entry -inf (every key masked): softmax is undefined "
        "there (torch returns 0 or NaN); unmask at least one entry per slice along dim"
    ),
    4: "grad_output must have finite entries (no NaN or infinity)",
}


def _dim(value: object, x: torch.Tensor) -> int:
    ndim = x.ndim
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"dim must be an integer in [-{ndim}, {ndim}), got {value!r}")
    if not -ndim <= int(value) < ndim:
        raise ValueError(
            f"dim must be an integer in [-{ndim}, {ndim}) for input of shape {tuple(x.shape)}, "
            f"got {value}"
        )
    return int(value) % ndim


def _rows(t: torch.Tensor, axis: int) -> torch.Tensor:
    """``t`` with ``axis`` moved last, contiguous, as ``(R, N)``."""
    return t.movedim(axis, -1).contiguous().reshape(-1, t.shape[axis])


def _unrows(y: torch.Tensor, shape: torch.Size, axis: int) -> torch.Tensor:
    moved = (*shape[:axis], *shape[axis + 1 :], shape[axis])
    return y.reshape(moved).movedim(-1, axis).contiguous()


def _raise(flags: torch.Tensor) -> None:
    """Refuse the input whose rows the kernel flagged (one sync; bits only on the error path)."""
    if bool(flags.any()):
        for bit in (1, 2, 4):  # the CPU kernel's order: NaN/+inf before an all -inf slice
            if bool(((flags & bit) != 0).any()):
                raise ValueError(_MESSAGES[bit])


def softmax(input: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax along ``dim`` (torch's ``F.softmax``):
    :math:`y_i = e^{x_i - m}/\sum_j e^{x_j - m}`, :math:`m = \max_j x_j`.

    ``input``: float tensor of any rank (a 0-d input is one slice of one entry, as torch:
    ``dim`` in ``{-1, 0}``, result 1), entries finite or ``-inf`` (masked); see the module
    docstring for the domain and the differences from torch.
    """
    x = _backend.tensor(input, "input")
    if x.ndim == 0:
        return softmax(x.reshape(1), _dim(dim, x.reshape(1))).reshape(())
    axis = _dim(dim, x)
    if x.numel() == 0:
        return torch.zeros_like(x, memory_format=torch.contiguous_format)
    kernels = _backend.load("_softmax_kernels")
    y, flags = kernels.forward(_rows(x, axis))
    _raise(flags)
    return _unrows(y, x.shape, axis)


def softmax_backward(grad_output: torch.Tensor, input: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Gradient of :func:`softmax`: :math:`dx = y \circ (g - \sum_{\text{dim}} g \circ y)` with
    :math:`y` recomputed from ``input`` (fused: ``input`` and ``grad_output`` are read once per
    row of up to ``MAX_FUSED`` entries)."""
    x = _backend.tensor(input, "input")
    g = _backend.tensor(grad_output, "grad_output")
    if x.ndim == 0 and g.ndim == 0:
        one = softmax_backward(g.reshape(1), x.reshape(1), _dim(dim, x.reshape(1)))
        return one.reshape(())
    axis = _dim(dim, x)
    _backend.same(g, x, "grad_output", "input")
    if g.shape != x.shape:
        raise ValueError(
            f"grad_output must have the shape {tuple(x.shape)} of the forward output (set by "
            f"input), got {tuple(g.shape)}"
        )
    if x.numel() == 0:
        return torch.zeros_like(x, memory_format=torch.contiguous_format)
    kernels = _backend.load("_softmax_kernels")
    dx, flags = kernels.backward(_rows(g, axis), _rows(x, axis))
    _raise(flags)
    return _unrows(dx, x.shape, axis)
