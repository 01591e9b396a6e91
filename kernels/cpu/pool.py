r"""Pooling kernels in NumPy: max, average, adaptive (1-D and 2-D), global, weighted, gated and
stochastic — forward and hand-written backward, a float64 drop-in reference for torch.

Windows (cited from ``000_160a0b7c04e12fc6.txt`` § Mathematical Foundation of Pooling and
§ Advanced Pooling Techniques). Along each spatial axis, output :math:`o` of a pooling with
kernel :math:`K`, stride :math:`S`, padding :math:`P` and dilation :math:`D` reads the taps

.. math:: t_{o,m} = S\,o + D\,m - P,\qquad m = 0,\dots,K-1,

of which only those with :math:`0 \le t_{o,m} < I` are *real* inputs (the others are padding);
a 2-D window is the product of the two axes' taps, in row-major order. Then

.. math::
    y_{\max}[o] = \max_{m\ \text{real}} x[t_{o,m}], \qquad
    y_{\text{avg}}[o] = \frac{1}{d_o} \sum_{m\ \text{real}} x[t_{o,m}]

with torch's divisor :math:`d_o`: the window clipped to the padded input
(``count_include_pad=True``, the default), to the input (``False``), or ``divisor_override``.
Output sizes follow :func:`theory.conv.pool_output_size` (floor or ceil mode), which also
enforces torch's :math:`P \le \lfloor K/2 \rfloor`. Adaptive pooling: output :math:`o` of
:math:`O` reads :math:`[\lfloor oI/O\rfloor, \lceil (o+1)I/O\rceil)` (torch's rule,
:func:`theory.pooling.adaptive_windows`); ``None`` in ``output_size`` keeps that axis.

Every kernel computes by one *gather*: an index array of the real taps of every window, the
values copied into an ``(N, C, *out, K)`` array (padding masked), then one reduction — a
different algorithm from torch's loops. Backward scatters the output gradient back along the
same indices (``np.add.at``, in output order, as torch accumulates).

Max pooling's argmax (which input receives the gradient, and ``return_indices``) follows torch
2.13's CPU rule, verified by experiment (``tests/test_pooling.py``): scan the real taps in
row-major order starting from ``(first real tap, -inf)`` and move on ``v > best or isnan(v)``.
Hence ties go to the **first** maximum, several NaNs to the **last** NaN, and a window whose
real inputs are all :math:`-\infty` to its **first real input** (never into the padding).

Inputs are ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` (as torch: the rank says which),
float32 or float64; the batch may be empty (``N = 0``), no other axis may. Work is bounded: a
gathered buffer of more than :data:`kernels.cpu._check.MAX_ELEMENTS` elements is refused with
``ValueError`` before it is built.

**Deliberate difference from torch.** A max-pooling window made only of padding (possible only
with dilation, e.g. size 1, kernel 2, padding 1, dilation 2) is a ``ValueError`` naming the
window: torch 2.13 returns :math:`-\infty` there and its backward writes the gradient out of
bounds (heap corruption). Adaptive ``output_size`` entries must be :math:`\ge 1` (torch also
accepts 0 and returns an empty tensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kernels.cpu._check import FLOAT_DTYPES, array, bounded, is_array, not_array
from kernels.cpu.conv2d import conv2d_direct, conv2d_direct_backward
from theory.conv import pool_output_size
from theory.pooling import adaptive_windows

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "adaptive_pool",
    "avg_pool1d",
    "avg_pool1d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "gated_pool2d",
    "gated_pool2d_backward",
    "global_pool",
    "global_pool_backward",
    "max_pool1d",
    "max_pool1d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "stochastic_pool2d",
    "weighted_pool2d",
    "weighted_pool2d_backward",
]

IntOrSeq = int | Sequence[int]

# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Geometry:
    """Where every window reads: per axis, tap positions ``(O, L)`` (clipped into the input)
    and whether each tap is a real input; ``batched`` says whether the input had N."""

    batched: bool
    shape: tuple[int, ...]  # the batched input shape (N, C, *spatial)
    out: tuple[int, ...]
    pos: tuple[np.ndarray, ...]
    real: tuple[np.ndarray, ...]
    what: str  # the arguments the output shape comes from (for error messages)
    kernel: tuple[int, ...] = ()  # fixed windows only (not adaptive)
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()

    @property
    def nd(self) -> int:
        return len(self.out)


def _spatial_input(x: object, nd: int, name: str = "x") -> tuple[np.ndarray, bool]:
    """``x`` as ``(N, C, *spatial)`` (a view) and whether it was batched."""
    if not is_array(x):
        raise not_array(x, name)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{name} must have ndim {nd + 1} (C, *spatial) or {nd + 2} (N, C, *spatial) for "
            f"{nd}-D pooling, got shape {x.shape}"
        )
    batched = x.ndim == nd + 2
    if 0 in x.shape[1 if batched else 0 :]:
        raise ValueError(
            f"{name} may have an empty batch but no other zero-size axis, got shape {x.shape}"
        )
    return (x if batched else x[None]), batched


def _ints(value: object, name: str, nd: int, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of 1 or ``nd`` ints, each >= ``minimum`` (NumPy ints accepted)."""
    allowed = f"an int >= {minimum} or a sequence of 1 or {nd} such ints"
    if isinstance(value, list | tuple):
        if len(value) not in (1, nd):
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        values = tuple(value) * (nd if len(value) == 1 else 1)
    else:
        values = (value,) * nd
    for v in values:
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise TypeError(f"{name} must be {allowed}, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return tuple(int(v) for v in values)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{name} must be a bool (True or False), got {type(value).__name__} ({value!r})"
        )
    return bool(value)


def _work(geo_shape: tuple[int, ...], out: tuple[int, ...], taps: int, name: str) -> None:
    n, c = geo_shape[:2]
    bounded(n * c * int(np.prod(out, dtype=object)), "the output", name)
    bounded(n * c * int(np.prod(out, dtype=object)) * taps, "the gathered windows", name)


def _windows(x, nd, kernel_size, stride, padding, dilation, ceil_mode) -> _Geometry:
    xb, batched = _spatial_input(x, nd)
    k = _ints(kernel_size, "kernel_size", nd, 1)
    empty_stride = stride is None or (isinstance(stride, list | tuple) and len(stride) == 0)
    s = k if empty_stride else _ints(stride, "stride", nd, 1)
    p = _ints(padding, "padding", nd, 0)
    d = _ints(dilation, "dilation", nd, 1)
    ceil = _flag(ceil_mode, "ceil_mode")
    out = []
    for axis in range(nd):
        try:
            o = pool_output_size(xb.shape[2 + axis], k[axis], s[axis], p[axis], d[axis], ceil)
        except ValueError as err:
            raise ValueError(f"pooling along spatial axis {axis} of x {x.shape}: {err}") from None
        out.append(int(o))
    what = f"x {x.shape} with kernel_size={k}, stride={s}, padding={p}, dilation={d}"
    _work(xb.shape, tuple(out), int(np.prod(k, dtype=object)), what)
    what += f", ceil_mode={ceil}"
    # a stride with one window, or a dilation with one tap, changes nothing: keep the index
    # arithmetic in int64 (the other sizes are bounded by the input and the work bound)
    s = tuple(si if o > 1 else 1 for si, o in zip(s, out, strict=True))
    d = tuple(di if ki > 1 else 1 for di, ki in zip(d, k, strict=True))
    pos, real = [], []
    for axis in range(nd):
        t = np.arange(out[axis])[:, None] * s[axis] + np.arange(k[axis])[None, :] * d[axis]
        t -= p[axis]
        size = xb.shape[2 + axis]
        real.append((t >= 0) & (t < size))
        pos.append(np.clip(t, 0, size - 1))
    return _Geometry(batched, xb.shape, tuple(out), tuple(pos), tuple(real), what, k, s, p)


def _adaptive(x, nd, output_size) -> _Geometry:
    xb, batched = _spatial_input(x, nd)
    allowed = f"an int >= 1 or a sequence of 1 or {nd} ints >= 1 or None (None keeps the size)"
    if isinstance(output_size, list | tuple):
        if len(output_size) not in (1, nd):
            raise ValueError(f"output_size must be {allowed}, got {output_size!r}")
        sizes = tuple(output_size) * (nd if len(output_size) == 1 else 1)
    else:
        sizes = (output_size,) * nd
    out = []
    for axis, o in enumerate(sizes):
        if o is None:
            o = xb.shape[2 + axis]
        if isinstance(o, bool | np.bool_) or not isinstance(o, int | np.integer):
            raise TypeError(f"output_size must be {allowed}, got {output_size!r}")
        if o < 1:
            raise ValueError(f"output_size must be {allowed}, got {output_size!r}")
        out.append(int(o))
    longest = [-(-xb.shape[2 + a] // out[a]) + 1 for a in range(nd)]  # window length bound
    _work(xb.shape, tuple(out), int(np.prod(longest, dtype=object)), "output_size")
    pos, real = [], []
    for axis in range(nd):
        win = np.array(adaptive_windows(xb.shape[2 + axis], out[axis]), dtype=np.int64)
        length = int((win[:, 1] - win[:, 0]).max())
        t = win[:, :1] + np.arange(length)[None, :]
        real.append(t < win[:, 1:])
        pos.append(np.minimum(t, win[:, 1:] - 1))
    what = f"x {x.shape} with output_size={output_size!r}"
    return _Geometry(batched, xb.shape, tuple(out), tuple(pos), tuple(real), what)


def _broadcast(geo: _Geometry, arrays: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Per-axis ``(O_a, L_a)`` arrays shaped to broadcast into ``(*out, *taps)``."""
    nd = geo.nd
    out = []
    for a, arr in enumerate(arrays):
        shape = [1] * (2 * nd)
        shape[a], shape[nd + a] = arr.shape
        out.append(arr.reshape(shape))
    return out


def _gather(xb: np.ndarray, geo: _Geometry):
    """``(values (N, C, *out, K), real (*out, K), flat input index (*out, K))``."""
    pos = _broadcast(geo, geo.pos)
    real_axes = _broadcast(geo, geo.real)
    k = int(np.prod([p.shape[1] for p in geo.pos]))
    values = xb[(slice(None), slice(None), *pos)].reshape(*xb.shape[:2], *geo.out, k)
    real = np.logical_and.reduce(np.broadcast_arrays(*real_axes)).reshape(*geo.out, k)
    flat = np.zeros((1,) * (2 * geo.nd), dtype=np.int64)
    for a, p in enumerate(pos):
        flat = flat * xb.shape[2 + a] + p
    flat = np.broadcast_to(flat, (*geo.out, *[p.shape[1] for p in geo.pos])).reshape(*geo.out, k)
    return values, real, flat


def _unbatch(y: np.ndarray, geo: _Geometry) -> np.ndarray:
    return y if geo.batched else y[0]


def _grad(grad_out: object, x: np.ndarray, geo: _Geometry) -> np.ndarray:
    """``grad_out`` checked against the output shape, as ``(N, C, *out)``."""
    expected = (*geo.shape[:2], *geo.out) if geo.batched else (geo.shape[1], *geo.out)
    if not is_array(grad_out):
        raise not_array(grad_out, "grad_out")
    if grad_out.dtype != x.dtype:
        raise TypeError(
            f"grad_out must have the same dtype as the input ({x.dtype}), got {grad_out.dtype}"
        )
    if grad_out.shape != expected:
        raise ValueError(
            f"grad_out must have shape {expected} (the output of {geo.what}), got {grad_out.shape}"
        )
    return grad_out if geo.batched else grad_out[None]


def _scatter(g: np.ndarray, flat: np.ndarray, geo: _Geometry, dtype) -> np.ndarray:
    """``dx[n, c, flat[..., j]] += g[n, c, ..., j]`` in output order (the order torch adds in);
    ``flat`` broadcasts against ``g`` (per window tap, or per sample and channel)."""
    n, c = geo.shape[:2]
    spatial = int(np.prod(geo.shape[2:]))
    dx = np.zeros((n * c, spatial), dtype=dtype)
    if dx.size == 0:
        return dx.reshape(geo.shape)
    cols = np.broadcast_to(flat, g.shape).reshape(n * c, -1)
    rows = np.broadcast_to(np.arange(n * c)[:, None], cols.shape)
    np.add.at(dx, (rows, cols), g.reshape(n * c, -1))
    return dx.reshape(geo.shape)


# --------------------------------------------------------------------------- max pooling


def _argmax(xb: np.ndarray, geo: _Geometry, what: str):
    """``(y, flat input index of the argmax, tap)`` under torch's rule (module docstring)."""
    values, real, flat = _gather(xb, geo)
    if not real.any(axis=-1).all():
        _report_padding_only(geo, what)
    values = np.where(real, values, -np.inf)
    is_nan = np.isnan(values)
    k = values.shape[-1]
    last_nan = k - 1 - np.argmax(is_nan[..., ::-1], axis=-1)
    best = values.max(axis=-1)  # NaN where the window has a NaN
    first_max = np.argmax((values == best[..., None]) & real, axis=-1)
    tap = np.where(is_nan.any(axis=-1), last_nan, first_max)
    index = np.take_along_axis(np.broadcast_to(flat, values.shape), tap[..., None], -1)[..., 0]
    return best, index, tap


def _report_padding_only(geo: _Geometry, what: str) -> None:
    for axis, real in enumerate(geo.real):
        for i in np.flatnonzero(~real.any(axis=1)):
            raise ValueError(
                f"{what} window {i} along spatial axis {axis} reads only padding (its taps lie "
                f"outside the input of size {geo.shape[2 + axis]}): torch returns -inf there "
                "and its backward writes out of bounds; reduce padding or dilation"
            )


def _max_pool(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    geo = _windows(x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    indices = _flag(return_indices, "return_indices")
    y, index, _ = _argmax(x if geo.batched else x[None], geo, "max pooling")
    y, index = _unbatch(y, geo), _unbatch(index, geo)
    return (y, index) if indices else y


def _max_pool_backward(nd, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode):
    geo = _windows(x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    g = _grad(grad_out, x, geo)
    _, index, _ = _argmax(x if geo.batched else x[None], geo, "max pooling")
    return _unbatch(_scatter(g, index, geo, x.dtype), geo)


def max_pool1d(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Max pooling of ``(N, C, L)`` or ``(C, L)``; torch's ``F.max_pool1d`` arguments and
    result (``(y, indices)`` with ``return_indices``, indices into the length axis)."""
    return _max_pool(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Max pooling of ``(N, C, H, W)`` or ``(C, H, W)``; torch's ``F.max_pool2d`` arguments
    and result (indices are :math:`hW + w`, as torch's).

    Unlike torch 2.13 (which returns :math:`-\infty` there and corrupts memory in the
    backward), a window that reads only padding — possible with dilation, e.g. size 1,
    kernel 2, padding 1, dilation 2 — is a ``ValueError``.
    """
    return _max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
) -> np.ndarray:
    r""":math:`\partial L/\partial x`: each output's gradient goes to its window's argmax
    (torch's rule: first maximum, last NaN, first real input of an all :math:`-\infty`
    window)."""
    return _max_pool_backward(1, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    ceil_mode: bool = False,
) -> np.ndarray:
    r""":math:`\partial L/\partial x`: each output's gradient goes to its window's argmax
    (torch's rule: first maximum in row-major order, last NaN, first real input of an all
    :math:`-\infty` window)."""
    return _max_pool_backward(2, grad_out, x, kernel_size, stride, padding, dilation, ceil_mode)


# --------------------------------------------------------------------------- average pooling


def _avg_geometry(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, override):
    geo = _windows(x, nd, kernel_size, stride, padding, 1, ceil_mode)
    include = _flag(count_include_pad, "count_include_pad")
    if override is not None:
        if isinstance(override, bool | np.bool_) or not isinstance(override, int | np.integer):
            raise TypeError(f"divisor_override must be None or a non-zero int, got {override!r}")
        if override == 0:
            raise ValueError("divisor_override must be None or a non-zero int, got 0")
        return geo, np.full(geo.out, float(override))
    sizes = []
    for axis in range(nd):
        size, k, s, p = geo.shape[2 + axis], geo.kernel[axis], geo.stride[axis], geo.padding[axis]
        begin = np.arange(geo.out[axis]) * s - p
        end = np.minimum(begin + k, size + p)  # torch: the window clipped to the padded input
        if not include:
            begin, end = np.maximum(begin, 0), np.minimum(end, size)
        sizes.append(end - begin)
    divisor = sizes[0] if nd == 1 else np.multiply.outer(sizes[0], sizes[1])
    return geo, divisor.astype(np.float64)


def _avg_pool(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, override):
    geo, divisor = _avg_geometry(
        nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, override
    )
    values, real, _ = _gather(x if geo.batched else x[None], geo)
    total = np.where(real, values, 0).sum(axis=-1)
    return _unbatch((total / divisor).astype(x.dtype), geo)


def _avg_pool_backward(
    nd, grad_out, x, kernel_size, stride, padding, ceil_mode, count_include_pad, override
):
    geo, divisor = _avg_geometry(
        nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, override
    )
    share = (_grad(grad_out, x, geo) / divisor).astype(x.dtype)
    _, real, flat = _gather((x if geo.batched else x[None])[:0], geo)
    taps = np.where(real, share[..., None], np.zeros((), x.dtype))
    return _unbatch(_scatter(taps, flat, geo, x.dtype), geo)


def avg_pool1d(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    r"""Average pooling of ``(N, C, L)`` or ``(C, L)``; torch's ``F.avg_pool1d`` (which has no
    ``divisor_override``)."""
    return _avg_pool(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    r"""Average pooling of ``(N, C, H, W)`` or ``(C, H, W)``; torch's ``F.avg_pool2d``
    arguments and result. ``divisor_override`` (any non-zero int, as torch: negative too)
    replaces the divisor :math:`d_{ij}`."""
    return _avg_pool(
        2, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool1d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    r""":math:`\partial L/\partial x`: output :math:`o` sends :math:`g_o/d_o` to each real
    input of its window."""
    return _avg_pool_backward(
        1, grad_out, x, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    kernel_size: IntOrSeq,
    stride: IntOrSeq | None = None,
    padding: IntOrSeq = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    r""":math:`\partial L/\partial x`: output :math:`(i,j)` sends :math:`g_{ij}/d_{ij}` to each
    real input of its window."""
    return _avg_pool_backward(
        2, grad_out, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# --------------------------------------------------------------------------- adaptive pooling


def _adaptive_divisor(geo: _Geometry) -> np.ndarray:
    lengths = [r.sum(axis=1) for r in geo.real]
    return (lengths[0] if geo.nd == 1 else np.multiply.outer(lengths[0], lengths[1])).astype(
        np.float64
    )


def _adaptive_avg(nd: int, x, output_size) -> np.ndarray:
    geo = _adaptive(x, nd, output_size)
    values, real, _ = _gather(x if geo.batched else x[None], geo)
    total = np.where(real, values, 0).sum(axis=-1)
    return _unbatch((total / _adaptive_divisor(geo)).astype(x.dtype), geo)


def _adaptive_avg_backward(nd: int, grad_out, x, output_size) -> np.ndarray:
    geo = _adaptive(x, nd, output_size)
    share = (_grad(grad_out, x, geo) / _adaptive_divisor(geo)).astype(x.dtype)
    _, real, flat = _gather((x if geo.batched else x[None])[:0], geo)
    taps = np.where(real, share[..., None], np.zeros((), x.dtype))
    return _unbatch(_scatter(taps, flat, geo, x.dtype), geo)


def _adaptive_max(nd: int, x, output_size, return_indices):
    geo = _adaptive(x, nd, output_size)
    indices = _flag(return_indices, "return_indices")
    y, index, _ = _argmax(x if geo.batched else x[None], geo, "adaptive max pooling")
    y, index = _unbatch(y, geo), _unbatch(index, geo)
    return (y, index) if indices else y


def _adaptive_max_backward(nd: int, grad_out, x, output_size) -> np.ndarray:
    geo = _adaptive(x, nd, output_size)
    g = _grad(grad_out, x, geo)
    _, index, _ = _argmax(x if geo.batched else x[None], geo, "adaptive max pooling")
    return _unbatch(_scatter(g, index, geo, x.dtype), geo)


AdaptiveSize = int | None | Sequence[int | None]


def adaptive_avg_pool1d(x: np.ndarray, output_size: AdaptiveSize) -> np.ndarray:
    r"""Adaptive average pooling of ``(N, C, L)`` or ``(C, L)`` to length ``output_size``
    (torch's ``F.adaptive_avg_pool1d``): output :math:`o` averages
    :math:`x[\lfloor oL/O\rfloor : \lceil (o+1)L/O\rceil]`."""
    return _adaptive_avg(1, x, output_size)


def adaptive_avg_pool2d(x: np.ndarray, output_size: AdaptiveSize) -> np.ndarray:
    r"""Adaptive average pooling of ``(N, C, H, W)`` or ``(C, H, W)`` (torch's
    ``F.adaptive_avg_pool2d``; an int is square, ``None`` keeps that axis' size)."""
    return _adaptive_avg(2, x, output_size)


def adaptive_max_pool1d(
    x: np.ndarray, output_size: AdaptiveSize, return_indices: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Adaptive max pooling of ``(N, C, L)`` or ``(C, L)`` (torch's ``F.adaptive_max_pool1d``;
    argmax rule as max pooling: first maximum, last NaN)."""
    return _adaptive_max(1, x, output_size, return_indices)


def adaptive_max_pool2d(
    x: np.ndarray, output_size: AdaptiveSize, return_indices: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Adaptive max pooling of ``(N, C, H, W)`` or ``(C, H, W)`` (torch's
    ``F.adaptive_max_pool2d``; indices are :math:`hW + w`)."""
    return _adaptive_max(2, x, output_size, return_indices)


def adaptive_avg_pool1d_backward(
    grad_out: np.ndarray, x: np.ndarray, output_size: AdaptiveSize
) -> np.ndarray:
    r""":math:`\partial L/\partial x` of :func:`adaptive_avg_pool1d`: :math:`g_o/|W_o|` to each
    input of window :math:`W_o` (windows overlap when :math:`O \nmid L`: contributions add)."""
    return _adaptive_avg_backward(1, grad_out, x, output_size)


def adaptive_avg_pool2d_backward(
    grad_out: np.ndarray, x: np.ndarray, output_size: AdaptiveSize
) -> np.ndarray:
    r""":math:`\partial L/\partial x` of :func:`adaptive_avg_pool2d`."""
    return _adaptive_avg_backward(2, grad_out, x, output_size)


def adaptive_max_pool1d_backward(
    grad_out: np.ndarray, x: np.ndarray, output_size: AdaptiveSize
) -> np.ndarray:
    r""":math:`\partial L/\partial x` of :func:`adaptive_max_pool1d`: to each window's argmax."""
    return _adaptive_max_backward(1, grad_out, x, output_size)


def adaptive_max_pool2d_backward(
    grad_out: np.ndarray, x: np.ndarray, output_size: AdaptiveSize
) -> np.ndarray:
    r""":math:`\partial L/\partial x` of :func:`adaptive_max_pool2d`: to each window's argmax."""
    return _adaptive_max_backward(2, grad_out, x, output_size)


def adaptive_pool(x: np.ndarray, output_size: Sequence[int | None], mode: str = "avg"):
    r"""Adaptive ``avg`` or ``max`` pooling whose dimensionality is ``len(output_size)``
    (1 or 2; ``x`` batched or not). An int ``output_size`` is refused: for a 3-D array it
    cannot say whether ``x`` is ``(N, C, L)`` or an unbatched ``(C, H, W)`` — use
    :func:`adaptive_avg_pool1d`/``2d`` or :func:`adaptive_max_pool1d`/``2d``."""
    _mode(mode)
    if not isinstance(output_size, list | tuple) or len(output_size) not in (1, 2):
        raise ValueError(
            "output_size must be a tuple of 1 or 2 sizes (its length gives the dimensionality; "
            f"an int is ambiguous for a 3-D x), got {output_size!r}"
        )
    nd = len(output_size)
    return (
        _adaptive_avg(nd, x, output_size)
        if mode == "avg"
        else _adaptive_max(nd, x, output_size, False)
    )


# --------------------------------------------------------------------------- global pooling


def _mode(mode: object) -> str:
    """``mode`` is the string ``'avg'`` or ``'max'`` (an array is not compared elementwise)."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be the string 'avg' or 'max', got {type(mode).__name__}")
    if mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")
    return mode


def _global_mode(x: np.ndarray, mode: str) -> None:
    array(x, "x", 4)
    _mode(mode)


def global_pool(x: np.ndarray, mode: str = "avg") -> np.ndarray:
    r"""Global pooling :math:`\frac{1}{HW}\sum_{i,j} x[i,j]` or :math:`\max_{i,j} x[i,j]`:
    pooling whose window is the whole map, output ``(N, C, 1, 1)``."""
    _global_mode(x, mode)
    pool = avg_pool2d if mode == "avg" else max_pool2d
    return pool(x, x.shape[2:])


def global_pool_backward(grad_out: np.ndarray, x: np.ndarray, mode: str = "avg") -> np.ndarray:
    """Gradient of :func:`global_pool`."""
    _global_mode(x, mode)
    back = avg_pool2d_backward if mode == "avg" else max_pool2d_backward
    return back(grad_out, x, x.shape[2:])


# --------------------------------------------------------------------------- learnable pooling


def _depthwise(x: np.ndarray, weight: np.ndarray, name: str) -> np.ndarray:
    """A ``(C, K_H, K_W)`` or shared ``(K_H, K_W)`` window weight as a depthwise conv weight."""
    array(x, "x", 4)
    array(weight, name, (2, 3), x.dtype)
    c = x.shape[1]
    if weight.ndim == 3 and weight.shape[0] != c:
        raise ValueError(
            f"{name} has {weight.shape[0]} channels but x has {c}: {name} must be "
            f"(K_H, K_W) (shared) or ({c}, K_H, K_W)"
        )
    if any(k > size for k, size in zip(weight.shape[-2:], x.shape[2:], strict=True)):
        raise ValueError(
            f"output size < 1: {name}'s window {weight.shape[-2:]} is larger than the spatial "
            f"size of x {x.shape[2:]}"
        )
    return np.broadcast_to(weight, (c, *weight.shape[-2:]))[:, None].copy()


def _weighted_grad(grad_out, x, weight, stride, name: str) -> None:
    """``grad_out`` must have the forward's output shape (message names what sets it)."""
    if is_array(grad_out):
        expected = weighted_pool2d(x, weight, stride).shape
        if grad_out.shape != expected:
            raise ValueError(
                f"grad_out must have shape {expected} (the output of x {x.shape} with {name} "
                f"{weight.shape}, stride={stride!r}), got {grad_out.shape}"
            )


def weighted_pool2d(
    x: np.ndarray, weight: np.ndarray, stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    r"""Weighted pooling :math:`y[i,j] = \sum_{m,n} w[m,n]\,x[Si+m, Sj+n]` (no padding; stride
    defaults to the window size). The weights are used as given: normalizing them (e.g. a
    softmax, so that they are positive and sum to 1) is the caller's choice."""
    w = _depthwise(x, weight, "weight")
    s = w.shape[-2:] if stride is None else stride
    return conv2d_direct(x, w, None, s, 0, 1, x.shape[1])


def weighted_pool2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: int | tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradients ``(dx, dweight)`` of :func:`weighted_pool2d`; ``dweight`` has ``weight``'s
    shape (summed over channels when the weight is shared)."""
    w = _depthwise(x, weight, "weight")
    s = w.shape[-2:] if stride is None else stride
    _weighted_grad(grad_out, x, weight, stride, "weight")
    dx, dw, _ = conv2d_direct_backward(grad_out, x, w, None, s, 0, 1, x.shape[1])
    dw = dw[:, 0]
    return dx, (dw if weight.ndim == 3 else dw.sum(axis=0))


def _sigmoid(g: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * g))  # overflow-free logistic


def gated_pool2d(
    x: np.ndarray, gate: np.ndarray, stride: int | tuple[int, int] | None = None
) -> np.ndarray:
    r"""Gated pooling :math:`y[i,j] = \sum_{m,n} \sigma(g[m,n])\,x[Si+m, Sj+n]`."""
    _depthwise(x, gate, "gate")
    return weighted_pool2d(x, _sigmoid(gate), stride)


def gated_pool2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    gate: np.ndarray,
    stride: int | tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradients ``(dx, dgate)``: :math:`\partial L/\partial g = \partial L/\partial w \cdot
    \sigma(g)(1-\sigma(g))`."""
    _depthwise(x, gate, "gate")
    _weighted_grad(grad_out, x, gate, stride, "gate")
    sig = _sigmoid(gate)
    dx, dw = weighted_pool2d_backward(grad_out, x, sig, stride)
    return dx, dw * sig * (1 - sig)


def stochastic_pool2d(
    x: np.ndarray,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    *,
    rng: np.random.Generator | None = None,
    training: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Stochastic pooling (Zeiler & Fergus, 2013) of a non-negative ``(N, C, H, W)`` input.

    In window :math:`R`, position :math:`r` has probability :math:`p_r = x_r / \sum_{R} x`.
    Training: output :math:`x_r` for one :math:`r \sim p` drawn with ``rng`` (required);
    evaluation: the expectation :math:`\sum_r p_r x_r`. A window of zeros outputs 0. Returns
    ``(y, tap)`` with the drawn tap (row-major index inside the window; ``-1`` for an all-zero
    window or in evaluation), which is where the training gradient goes.
    """
    array(x, "x", 4)
    geo = _windows(x, 2, kernel_size, stride, 0, 1, False)
    if np.isnan(x).any() or (x < 0).any():
        raise ValueError(
            "x must be non-negative and not NaN for stochastic pooling (probabilities x/sum(x)); "
            f"min(x) = {np.nanmin(x)!r}"
        )
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, got {type(training).__name__}")
    values = _gather(x, geo)[0]  # (N, C, Ho, Wo, K*K), no padding: every tap is real
    # p = x / sum(x) is scale free: divide each window by a power of two near its max (exact)
    # so that the cumulative sums of huge values cannot overflow (all taps would look equal)
    top = values.max(axis=-1, keepdims=True)
    scaled = np.ldexp(values, -np.frexp(np.where(top > 0, top, 1))[1])  # in [0, 1)
    cumulative = np.cumsum(scaled, axis=-1)
    total = cumulative[..., -1:]
    zero = total[..., 0] == 0
    if not training:
        p = scaled / np.where(zero, 1, total[..., 0])[..., None]
        expectation = (p * values).sum(axis=-1).astype(x.dtype)  # <= the window max: finite
        return expectation, np.full(expectation.shape, -1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator when training=True")
    u = rng.random(total.shape) * total  # inverse CDF on the unnormalized cumulative sums
    tap = (cumulative <= u).sum(axis=-1)
    last_positive = values.shape[-1] - 1 - np.argmax(scaled[..., ::-1] > 0, axis=-1)
    tap = np.minimum(tap, last_positive)  # u rounded up to the total: the last possible tap
    y = np.take_along_axis(values, tap[..., None], axis=-1)[..., 0]
    return np.where(zero, 0, y).astype(x.dtype), np.where(zero, -1, tap)
