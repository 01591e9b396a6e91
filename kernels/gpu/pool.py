r"""2-D max and average pooling in Triton, forward and backward, with the API of
:mod:`kernels.cpu.pool` on torch tensors.

Windows (as :mod:`kernels.cpu.pool`, cited from ``000_160a0b7c04e12fc6.txt`` § Mathematical
Foundation of Pooling). Along each spatial axis, output :math:`o` of a pooling with kernel
:math:`K`, stride :math:`S`, padding :math:`P` and dilation :math:`D` reads the taps
:math:`t_{o,m} = S o + D m - P` (:math:`m < K`); those with :math:`0 \le t < I` are real
inputs, the others padding. A 2-D window is the product of the two axes' taps, row-major:

.. math::
    y_{\max}[i,j] = \max_{\text{real taps}} x[t], \qquad
    y_{\text{avg}}[i,j] = \frac{1}{d_h[i]\,d_w[j]} \sum_{\text{real taps}} x[t]

with torch's divisor: per axis, the window clipped to the padded input
(``count_include_pad=True``) or to the input (``False``), or ``divisor_override``. Output
sizes: :func:`theory.conv.pool_output_size` (floor or ceil mode; in ceil mode the last window
must start inside the input or the left padding; :math:`P \le \lfloor K/2 \rfloor`).

Max pooling's argmax (the gradient's destination and ``return_indices``, :math:`hW + w` as
int64) is torch's: the **first** maximum in row-major window order, the **last** NaN when a
window has NaNs (NaN propagates), and a window whose real inputs are all :math:`-\infty` goes
to its **first real input** (:mod:`kernels.cpu.pool` documents the experiment).

Inputs ``(N, C, H, W)`` or unbatched ``(C, H, W)``; float32, float64, float16 or bfloat16
(output in the input's dtype; sums in float32, float64 for float64); the batch may be empty,
no other axis. Any memory layout is accepted (made contiguous first; the result is the same
bit for bit). Argument checks and messages are the CPU kernel's.

Backward functions take ``(grad_out, x, <the forward's arguments>)`` as the CPU kernel: max
pooling recomputes its argmax from ``x`` (one extra pass writing int32 indices) and then
*gathers*: every input position sums, in output order, the gradients of the outputs whose
windows contain it (and, for max, whose argmax it is). No atomics: the result is
deterministic, and bit-equal across runs.

**Deliberate difference from torch** (the CPU kernel's): a max-pooling window made only of
padding (possible with dilation, e.g. size 1, kernel 2, padding 1, dilation 2) is a
``ValueError`` naming the window; torch returns :math:`-\infty` there and its backward writes
out of bounds.

Design for bandwidth (:mod:`kernels.gpu._pool_kernels`): one 1-D grid over the flattened
destination, ``BLOCK`` consecutive elements per program (stores coalesced, blocks span plane
boundaries so small maps waste no lanes), taps that are padding for every window dropped on
the host, int32 index arithmetic below :math:`2^{30}` elements. Bytes that must move
(element size :math:`e`, :math:`M = NC`): max forward :math:`M(HW + H_oW_o)e`
(:math:`+ 8MH_oW_o` with indices); average forward the same without indices; average backward
:math:`M(H_oW_o + HW)e`; max backward :math:`M(2HW + H_oW_o)e + 8MH_oW_o` as implemented
(reads ``x`` to recompute the argmax, writes and reads int32 indices).

References: torch ``F.max_pool2d``/``F.avg_pool2d`` (``aten/src/ATen/native/cpu/
MaxPoolKernel.cpp``, ``AvgPoolKernel.cpp``, ``cuda/DilatedMaxPool2d.cu``); Triton tutorials
02-fused-softmax and 05-layer-norm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kernels.cpu.pool import _flag, _ints
from kernels.gpu import _backend
from theory.conv import pool_output_size

__all__ = ["avg_pool2d", "avg_pool2d_backward", "max_pool2d", "max_pool2d_backward"]

IntOrSeq = int | Sequence[int]


@dataclass(frozen=True)
class _Axis:
    """One spatial axis: output ``out``; taps ``t = stride o + base + dilation j``
    (``j < taps``), the kernel's taps that are real for at least one window."""

    size: int
    out: int
    stride: int
    dilation: int
    base: int
    taps: int
    divisor: tuple[int, ...] = ()  # average pooling only


def _axis(size: int, k: int, s: int, p: int, d: int, ceil: bool, axis: int, shape) -> _Axis:
    try:
        o = int(pool_output_size(size, k, s, p, d, ceil))
    except ValueError as err:
        raise ValueError(f"pooling along spatial axis {axis} of x {shape}: {err}") from None
    first = max(0, -(-(p - (o - 1) * s) // d))  # first tap >= 0 for the last window
    stop = min(k, (size - 1 + p) // d + 1)  # taps from here on are >= size for window 0
    taps = max(0, stop - first)
    return _Axis(size, o, s if o > 1 else 1, d if taps > 1 else 1, first * d - p, taps)


def _padding_only(ax: _Axis, k: int, s: int, p: int, d: int, axis: int) -> None:
    """The deliberate difference from torch: refuse a max-pooling window of padding only."""
    for o in range(ax.out):
        start = o * s - p
        m = max(0, -(start // d))  # first tap >= 0: ceil(-start / d)
        if m >= k or start + m * d >= ax.size:
            raise ValueError(
                f"max pooling window {o} along spatial axis {axis} reads only padding (its taps "
                f"lie outside the input of size {ax.size}): torch returns -inf there and its "
                "backward writes out of bounds; reduce padding or dilation"
            )


@dataclass(frozen=True)
class _Geometry:
    x: torch.Tensor  # contiguous (N, C, H, W)
    batched: bool
    h: _Axis
    w: _Axis
    what: str

    @property
    def out_shape(self) -> tuple[int, ...]:
        n, c = self.x.shape[:2]
        return (n, c, self.h.out, self.w.out) if self.batched else (c, self.h.out, self.w.out)


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode, is_max: bool) -> _Geometry:
    x = _backend.tensor(x, "x", ndim=(3, 4))
    batched = x.ndim == 4
    if 0 in x.shape[1 if batched else 0 :]:
        raise ValueError(
            f"x may have an empty batch but no other zero-size axis, got shape {tuple(x.shape)}"
        )
    shape = tuple(x.shape)
    k = _ints(kernel_size, "kernel_size", 2, 1)
    empty_stride = stride is None or (isinstance(stride, list | tuple) and len(stride) == 0)
    s = k if empty_stride else _ints(stride, "stride", 2, 1)
    p = _ints(padding, "padding", 2, 0)
    d = _ints(dilation, "dilation", 2, 1)
    ceil = _flag(ceil_mode, "ceil_mode")
    xb = x if batched else x[None]
    axes = [_axis(xb.shape[2 + a], k[a], s[a], p[a], d[a], ceil, a, shape) for a in range(2)]
    if is_max:
        for a in range(2):
            _padding_only(axes[a], k[a], s[a], p[a], d[a], a)
    what = (
        f"x {shape} with kernel_size={k}, stride={s}, padding={p}, dilation={d}, ceil_mode={ceil}"
    )
    return _Geometry(xb.contiguous(), batched, axes[0], axes[1], what)


def _grad(grad_out: object, geo: _Geometry, x: torch.Tensor) -> torch.Tensor:
    g = _backend.tensor(grad_out, "grad_out")
    _backend.same(g, x, "grad_out", "x")
    if tuple(g.shape) != geo.out_shape:
        raise ValueError(
            f"grad_out must have shape {geo.out_shape} (the output of {geo.what}), got "
            f"{tuple(g.shape)}"
        )
    return (g if geo.batched else g[None]).contiguous()


def _launch_args(geo: _Geometry, dst_numel: int):
    kl = _backend.load("_pool_kernels")
    big = max(geo.x.numel(), dst_numel, geo.x.shape[0] * geo.x.shape[1] * geo.h.out * geo.w.out)
    block = kl.block(dst_numel)
    grid = (-(-dst_numel // block),)
    return kl, grid, block, big >= kl.INT64_FROM


def _shape_args(geo: _Geometry, dilation: bool = True) -> tuple[int, ...]:
    h, w = geo.h, geo.w
    dil = (h.dilation, w.dilation) if dilation else ()
    return (h.size, w.size, h.out, w.out, h.stride, w.stride, *dil, h.base, w.base, h.taps, w.taps)


def _argmax(geo: _Geometry, y: torch.Tensor | None, idx: torch.Tensor | None) -> None:
    total = geo.x.shape[0] * geo.x.shape[1] * geo.h.out * geo.w.out
    if total == 0:
        return
    kl, grid, block, int64 = _launch_args(geo, total)
    kl.max_pool_fwd_kernel[grid](
        geo.x,
        geo.x if y is None else y,
        geo.x if idx is None else idx,
        total,
        *_shape_args(geo),
        WRITE_Y=y is not None,
        WRITE_IDX=idx is not None,
        F64=geo.x.dtype == torch.float64,
        INT64=int64,
        BLOCK=block,
    )


def max_pool2d(
    x: torch.Tensor,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Max pooling of ``(N, C, H, W)`` or ``(C, H, W)``; torch's ``F.max_pool2d`` arguments and
    result, ``(y, indices)`` with ``return_indices`` (int64 :math:`hW + w`, torch's tie rule).
    A window of padding only is a ``ValueError`` (torch: :math:`-\infty`)."""
    geo = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    indices = _flag(return_indices, "return_indices")
    n, c = geo.x.shape[:2]
    y = torch.empty((n, c, geo.h.out, geo.w.out), dtype=geo.x.dtype, device=geo.x.device)
    idx = torch.empty(y.shape, dtype=torch.int64, device=y.device) if indices else None
    _argmax(geo, y, idx)
    if not geo.batched:
        y, idx = y[0], (None if idx is None else idx[0])
    return (y, idx) if indices else y


def max_pool2d_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
) -> torch.Tensor:
    r""":math:`\partial L/\partial x[t] = \sum_o g[o]\,[\operatorname{argmax}(o) = t]`: each
    output's gradient goes to its window's argmax (torch's rule), summed per input position in
    output order by a gather (deterministic, no atomics)."""
    geo = _geometry(x, kernel_size, stride, padding, dilation, ceil_mode, True)
    g = _grad(grad_out, geo, x)
    dx = torch.empty(geo.x.shape, dtype=geo.x.dtype, device=geo.x.device)
    total = dx.numel()
    if total:
        plane = geo.h.size * geo.w.size
        idx = torch.empty(
            g.shape, dtype=torch.int32 if plane < 2**31 else torch.int64, device=g.device
        )
        _argmax(geo, None, idx)
        kl, grid, block, int64 = _launch_args(geo, total)
        kl.max_pool_bwd_kernel[grid](
            g,
            idx,
            dx,
            total,
            *_shape_args(geo),
            F64=dx.dtype == torch.float64,
            INT64=int64,
            BLOCK=block,
        )
    return dx if geo.batched else dx[0]


def _divisors(
    geo: _Geometry, kernel_size, stride, padding, count_include_pad, divisor_override
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-axis divisors ``(d_h, d_w)`` (torch's: the product is the window's divisor)."""
    include = _flag(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        if isinstance(divisor_override, bool | np.bool_) or not isinstance(
            divisor_override, int | np.integer
        ):
            raise TypeError(
                f"divisor_override must be None or a non-zero int, got {divisor_override!r}"
            )
        if divisor_override == 0:
            raise ValueError("divisor_override must be None or a non-zero int, got 0")
        dh, dw = [float(int(divisor_override))] * geo.h.out, [1.0] * geo.w.out
    else:
        k = _ints(kernel_size, "kernel_size", 2, 1)
        empty = stride is None or (isinstance(stride, list | tuple) and len(stride) == 0)
        s = k if empty else _ints(stride, "stride", 2, 1)
        p = _ints(padding, "padding", 2, 0)
        sizes = []
        for a, ax in enumerate((geo.h, geo.w)):
            lengths = []
            for o in range(ax.out):
                begin = o * s[a] - p[a]
                end = min(begin + k[a], ax.size + p[a])  # torch: clipped to the padded input
                if not include:
                    begin, end = max(begin, 0), min(end, ax.size)
                lengths.append(float(end - begin))
            sizes.append(lengths)
        dh, dw = sizes
    acc = torch.float64 if geo.x.dtype == torch.float64 else torch.float32
    return (
        torch.tensor(dh, dtype=acc, device=geo.x.device),
        torch.tensor(dw, dtype=acc, device=geo.x.device),
    )


def _avg_geometry(x, kernel_size, stride, padding, ceil_mode, count_include_pad, override):
    geo = _geometry(x, kernel_size, stride, padding, 1, ceil_mode, False)
    dh, dw = _divisors(geo, kernel_size, stride, padding, count_include_pad, override)
    return geo, dh, dw


def avg_pool2d(
    x: torch.Tensor,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> torch.Tensor:
    r"""Average pooling of ``(N, C, H, W)`` or ``(C, H, W)``; torch's ``F.avg_pool2d``
    arguments and result: :math:`y[i,j] = \sum_{\text{real taps}} x / (d_h[i] d_w[j])`, or
    divided by ``divisor_override`` (any non-zero int, as torch: negative too)."""
    geo, dh, dw = _avg_geometry(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    n, c = geo.x.shape[:2]
    y = torch.empty((n, c, geo.h.out, geo.w.out), dtype=geo.x.dtype, device=geo.x.device)
    total = y.numel()
    if total:
        kl, grid, block, int64 = _launch_args(geo, total)
        kl.avg_pool_fwd_kernel[grid](
            geo.x,
            y,
            dh,
            dw,
            total,
            *_shape_args(geo, dilation=False),
            F64=y.dtype == torch.float64,
            INT64=int64,
            BLOCK=block,
        )
    return y if geo.batched else y[0]


def avg_pool2d_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> torch.Tensor:
    r""":math:`\partial L/\partial x[t] = \sum_{o \ni t} g[o]/d_o` (the transpose of the
    linear map :func:`theory.pooling.avg_pool_matrix`), gathered per input position in output
    order (deterministic, no atomics)."""
    geo, dh, dw = _avg_geometry(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    g = _grad(grad_out, geo, x)
    dx = torch.empty(geo.x.shape, dtype=geo.x.dtype, device=geo.x.device)
    total = dx.numel()
    if total:
        kl, grid, block, int64 = _launch_args(geo, total)
        kl.avg_pool_bwd_kernel[grid](
            g,
            dx,
            dh,
            dw,
            total,
            *_shape_args(geo, dilation=False),
            F64=dx.dtype == torch.float64,
            INT64=int64,
            BLOCK=block,
        )
    return dx if geo.batched else dx[0]
