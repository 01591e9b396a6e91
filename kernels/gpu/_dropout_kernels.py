"""Triton kernels of :mod:`kernels.gpu.dropout` (imported on first use, see ``_backend``).

Element ``i`` of the flattened (row-major) input draws ``u_i = tl.rand(seed, offset + i)``
(Philox-4x32-10, counter ``(lo, hi, 0, 0)`` of the 64-bit ``offset + i``, key = the seed) and
is kept iff ``u_i >= p`` (float32 comparison). Nothing is stored between forward and backward:
the backward draws the same ``u_i`` again. :mod:`kernels.cpu.philox` reproduces ``u_i`` bit for
bit on the CPU.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: Elements per program. 1024 float32 = 4 KiB read + 4 KiB written per program: enough bytes
#: in flight per SM on a GPU; the interpreter runs one NumPy step per program, so it is fast
#: there too.
BLOCK = 1024


@triton.jit
def _dropout_kernel(
    x_ptr,
    y_ptr,
    mask_ptr,
    scale_ptr,
    n,
    p,
    seed,
    offset,
    BLOCK: tl.constexpr,
    STORE_MASK: tl.constexpr,
):
    # Forward: y_i = x_i * ([u_i >= p] * scale), scale = 1/(1-p) (inverted dropout), computed in
    # the scale's dtype (float32, or float64 for float64 inputs) and rounded once to y's dtype.
    # A product, not a select: a dropped NaN or infinity gives NaN, as in torch (x * mask * s).
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = idx < n
    x = tl.load(x_ptr + idx, mask=inside, other=0.0)
    scale = tl.load(scale_ptr)
    u = tl.rand(seed, offset + idx)
    keep = u >= p
    y = x.to(scale.dtype) * tl.where(keep, scale, 0.0)
    tl.store(y_ptr + idx, y.to(y_ptr.dtype.element_ty), mask=inside)
    if STORE_MASK:
        tl.store(mask_ptr + idx, keep.to(tl.int8), mask=inside)


# Backward. y_i = m_i x_i s with m_i = [u_i >= p] fixed by (seed, offset + i) and s = 1/(1-p),
# so y is linear in x with a diagonal Jacobian: dy_i/dx_j = [i = j] m_i s, hence
#     dL/dx_i = m_i * s * dL/dy_i,
# the same map as the forward applied to the upstream gradient (theory.dropout.derive_
# unbiased_gradient proves E[m_i s] = 1, i.e. the expected gradient is the undropped one).
# The mask is not stored: m_i is drawn again from the same counter, bit for bit.
@triton.jit
def _dropout_backward_kernel(g_ptr, dx_ptr, scale_ptr, n, p, seed, offset, BLOCK: tl.constexpr):
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = idx < n
    g = tl.load(g_ptr + idx, mask=inside, other=0.0)
    scale = tl.load(scale_ptr)
    keep = tl.rand(seed, offset + idx) >= p
    dx = g.to(scale.dtype) * tl.where(keep, scale, 0.0)
    tl.store(dx_ptr + idx, dx.to(dx_ptr.dtype.element_ty), mask=inside)


def launch_forward(x, y, mask, scale, p: float, seed: int, offset: int) -> None:
    n = x.numel()
    grid = (triton.cdiv(n, BLOCK),)
    store = mask is not None
    _dropout_kernel[grid](
        x, y, mask if store else y, scale, n, p, seed, offset, BLOCK=BLOCK, STORE_MASK=store
    )


def launch_backward(g, dx, scale, p: float, seed: int, offset: int) -> None:
    n = g.numel()
    grid = (triton.cdiv(n, BLOCK),)
    _dropout_backward_kernel[grid](g, dx, scale, n, p, seed, offset, BLOCK=BLOCK)
