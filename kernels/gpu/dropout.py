r"""Dropout in Triton with a counter-based generator: the mask is a function of
``(seed, offset)``, drawn again in the backward instead of stored.

Convention (as ``torch.nn.functional.dropout`` and :func:`kernels.cpu.dropout.dropout`):
``p`` is the **drop** probability and dropout is *inverted*,
:math:`y_i = m_i x_i/(1-p)` with :math:`m_i = [u_i \ge p]`, so :math:`\mathbb E[y_i] = x_i`
(000 § Dropout Mechanism; Srivastava et al. 2014 with torch's scaling). Element :math:`i` of
the input in row-major order draws :math:`u_i` = ``tl.rand(seed, offset + i)``:
Philox-4x32-10 (Salmon et al. 2011) as Triton implements it. Successive calls that should draw
fresh masks advance ``offset`` by ``input.numel()`` (as torch's Philox offset does) or change
``seed``.

**Deliberate differences.** From the CPU kernel: the randomness is ``seed``/``offset`` (the
kernel's whole state) instead of a ``numpy.random.Generator``; the backward takes them instead
of a stored mask. From torch: torch's CUDA dropout uses its own Philox stream, so masks differ
from torch's for the same seed (statistically equal; tested). The keep rule is :math:`u \ge p`,
not Triton's tutorial :math:`u > p`, which drops with probability :math:`2^{-31}` at ``p = 0``.
Its exact keep probability (:func:`kernels.cpu.philox.keep_probability`) differs from
:math:`1-p` by float32 rounding of ``p`` only.

**Bit-exact twin.** :func:`kernels.cpu.dropout.philox_dropout` (NumPy) draws the same
:math:`u_i` (:mod:`kernels.cpu.philox`, pinned by Random123's known-answer vectors) and computes
the same products: for float32 input the outputs are equal bit for bit, and for every dtype
the masks are.

Arithmetic: :math:`x_i \cdot \mathrm{fl}(1/(1-p))` in float32 (float64 for float64 input),
rounded once to the input's dtype.
"""

from __future__ import annotations

import torch

from kernels.cpu._check import flag
from kernels.cpu.dropout import _philox_counter, _philox_p  # one domain with the twin
from kernels.gpu import _backend

__all__ = ["dropout", "dropout_backward"]


def _scale(p: float, dtype: torch.dtype) -> torch.Tensor:
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    return torch.tensor([1.0 / (1.0 - p)], dtype=compute, device=_backend.device())


def dropout(
    input: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    *,
    seed: int,
    offset: int = 0,
    return_mask: bool = False,
):
    r"""Inverted dropout :math:`y_i = [u_i \ge p]\,x_i/(1-p)`, :math:`u_i` =
    ``tl.rand(seed, offset + i)``; the identity (a copy) when ``training=False``.

    ``input``: a float tensor (float32, float16, bfloat16, float64) of any shape and layout;
    ``p``: the drop probability in :math:`[0, 1)`; ``seed``, ``offset``: integers in
    :math:`[0, 2^{63})` (keyword-only, required: the mask is their function);
    ``return_mask``: also return the ``bool`` keep mask (``None`` when not training).
    """
    x = _backend.tensor(input, "input")
    q = _philox_p(p)
    train = flag(training, "training")
    s, o = _philox_counter(seed, offset, x.numel())
    want_mask = flag(return_mask, "return_mask")
    if not train or x.numel() == 0:
        y = x.clone()
        mask = torch.ones_like(x, dtype=torch.bool) if train else None
        return (y, mask) if want_mask else y
    xc = x.contiguous()
    y = torch.empty_like(xc)
    mask8 = torch.empty(xc.shape, dtype=torch.int8, device=xc.device) if want_mask else None
    _backend.load("_dropout_kernels").launch_forward(xc, y, mask8, _scale(q, x.dtype), q, s, o)
    return (y, mask8.bool()) if want_mask else y


def dropout_backward(
    grad_output: torch.Tensor, p: float, *, seed: int, offset: int = 0
) -> torch.Tensor:
    r""":math:`\partial L/\partial x_i = [u_i \ge p]\,g_i/(1-p)` with the forward's
    ``(seed, offset)``: the mask is drawn again, bit for bit, not stored. (This is the training
    backward; after an evaluation-mode forward the gradient is ``grad_output`` itself, with no
    call needed.) ``p`` is required, as in :func:`kernels.cpu.dropout.dropout_backward`."""
    g = _backend.tensor(grad_output, "grad_output")
    q = _philox_p(p)
    s, o = _philox_counter(seed, offset, g.numel())
    if g.numel() == 0:
        return g.clone()
    gc = g.contiguous()
    dx = torch.empty_like(gc)
    _backend.load("_dropout_kernels").launch_backward(gc, dx, _scale(q, g.dtype), q, s, o)
    return dx
