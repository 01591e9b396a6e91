r"""Pooling kernels in NumPy: max, average, global, adaptive, weighted, gated and stochastic.

Windows (2-D, cited from ``000_160a0b7c04e12fc6.txt`` § Mathematical Foundation of Pooling and
§ Advanced Pooling Techniques), for output :math:`(i, j)`, kernel :math:`K`, stride :math:`S`,
padding :math:`P`, dilation :math:`D` (max pooling only):

.. math::
    y_{\max}[i,j] = \max_{m,n} x_{\text{pad}}[Si + Dm,\ Sj + Dn], \qquad
    y_{\text{avg}}[i,j] = \frac{1}{d_{ij}} \sum_{m,n} x_{\text{pad}}[Si + m,\ Sj + n]

with torch's conventions: max pooling pads with :math:`-\infty` and, on ties, takes the first
maximum in row-major window order (its gradient goes there); average pooling pads with zeros
and divides by :math:`d_{ij}` = the window's size clipped to the padded input
(``count_include_pad=True``, torch's default) or to the input (``False``). Output sizes follow
:func:`theory.conv.pool_output_size` (floor or ceil mode), which also enforces torch's
:math:`P \le \lfloor K/2 \rfloor`.

Adaptive pooling: output :math:`i` of :math:`O` pools
:math:`[\lfloor iI/O\rfloor, \lceil (i+1)I/O\rceil)` (torch's rule, see
:mod:`theory.pooling`). Weighted and gated pooling are depthwise cross-correlations with one
:math:`K\times K` kernel per channel (:math:`w` resp. :math:`\sigma(g)`); stochastic pooling
samples one position per window with probability :math:`x/\sum x` (needs :math:`x \ge 0`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.cpu._check import array, pair
from kernels.cpu.conv2d import conv2d_direct, conv2d_direct_backward
from theory.conv import pool_output_size
from theory.pooling import adaptive_windows

__all__ = [
    "adaptive_pool",
    "avg_pool2d",
    "avg_pool2d_backward",
    "gated_pool2d",
    "gated_pool2d_backward",
    "global_pool",
    "global_pool_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "stochastic_pool2d",
    "weighted_pool2d",
    "weighted_pool2d_backward",
]


@dataclass(frozen=True)
class _Windows:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]
    right: tuple[int, int]  # extra right padding so that every (ceil-mode) window fits


def _windows(x, kernel_size, stride, padding, dilation, ceil_mode) -> _Windows:
    array(x, "x", 4)
    k = pair(kernel_size, "kernel_size", 1)
    s = k if stride is None else pair(stride, "stride", 1)
    p = pair(padding, "padding", 0)
    d = pair(dilation, "dilation", 1)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be a bool, got {type(ceil_mode).__name__}")
    out, right = [], []
    for axis in range(2):
        try:
            o = pool_output_size(x.shape[2 + axis], k[axis], s[axis], p[axis], d[axis], ceil_mode)
        except ValueError as err:
            raise ValueError(f"pooling along spatial axis {axis} of x {x.shape}: {err}") from None
        out.append(int(o))
        reach = (o - 1) * s[axis] + d[axis] * (k[axis] - 1) + 1  # in padded coordinates
        right.append(max(p[axis], reach - x.shape[2 + axis] - p[axis]))
    return _Windows(k, s, p, d, (out[0], out[1]), (right[0], right[1]))


def _padded(x: np.ndarray, win: _Windows, fill: float) -> np.ndarray:
    (ph, pw), (rh, rw) = win.padding, win.right
    return np.pad(x, ((0, 0), (0, 0), (ph, rh), (pw, rw)), constant_values=fill)


def _taps(win: _Windows):
    """Yield ``(m, n, index)``: window tap and the padded-input slice it reads for all outputs."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = win.kernel, win.stride, win.dilation, win.out
    for m in range(kh):
        for n in range(kw):
            yield (
                m,
                n,
                (
                    Ellipsis,
                    slice(m * dh, m * dh + sh * (ho - 1) + 1, sh),
                    slice(n * dw, n * dw + sw * (wo - 1) + 1, sw),
                ),
            )


def _crop(grad_padded: np.ndarray, x: np.ndarray, win: _Windows) -> np.ndarray:
    (ph, pw), (h, w) = win.padding, x.shape[2:]
    return grad_padded[:, :, ph : ph + h, pw : pw + w].copy()


def _check_grad(grad_out: np.ndarray, x: np.ndarray, out: tuple[int, ...]) -> np.ndarray:
    array(grad_out, "grad_out", 4, x.dtype)
    if grad_out.shape != (*x.shape[:2], *out):
        raise ValueError(f"grad_out must have shape {(*x.shape[:2], *out)}, got {grad_out.shape}")
    return grad_out


def _padding_only(x: np.ndarray, win: _Windows) -> None:
    """Reject a window whose taps all fall in the padding (possible only with dilation)."""
    for axis in range(2):
        size, s, p, d = (x.shape[2 + axis], win.stride[axis], win.padding[axis], win.dilation[axis])
        for i in range(win.out[axis]):
            taps = [i * s + m * d - p for m in range(win.kernel[axis])]
            if not any(0 <= t < size for t in taps):
                raise ValueError(
                    f"max pooling window {i} along spatial axis {axis} reads only padding "
                    f"(input positions {taps}, size {size}): its output would be -inf with no "
                    "input to receive the gradient; reduce padding or dilation"
                )


def _argmax_tap(x, kernel_size, stride, padding, dilation, ceil_mode):
    win = _windows(x, kernel_size, stride, padding, dilation, ceil_mode)
    _padding_only(x, win)
    xp = _padded(x, win, -np.inf)
    best = np.full((*x.shape[:2], *win.out), -np.inf, dtype=x.dtype)
    tap = np.zeros(best.shape, dtype=np.intp)
    for m, n, idx in _taps(win):
        v = xp[idx]
        better = (v > best) | (np.isnan(v) & ~np.isnan(best))  # first maximum; NaN wins
        best = np.where(better, v, best)
        tap = np.where(better, m * win.kernel[1] + n, tap)
    return win, best, tap


def max_pool2d(
    x: np.ndarray,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
) -> np.ndarray:
    r"""Max pooling of ``(N, C, H, W)``; same arguments and result as ``F.max_pool2d``.

    Unlike torch 2.13 (which returns :math:`-\infty` there and corrupts memory in the
    backward), a window that reads only padding — possible with dilation, e.g. size 1,
    kernel 2, padding 1, dilation 2 — is a ``ValueError``.
    """
    return _argmax_tap(x, kernel_size, stride, padding, dilation, ceil_mode)[1]


def max_pool2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
) -> np.ndarray:
    r""":math:`\partial L/\partial x`: each output's gradient goes to its window's (first) max."""
    win, _, tap = _argmax_tap(x, kernel_size, stride, padding, dilation, ceil_mode)
    g = _check_grad(grad_out, x, win.out)
    (sh, sw), (dh, dw) = win.stride, win.dilation
    n, c, ho, wo = g.shape
    rows = np.arange(ho)[:, None] * sh + (tap // win.kernel[1]) * dh
    cols = np.arange(wo)[None, :] * sw + (tap % win.kernel[1]) * dw
    dxp = np.zeros_like(_padded(x, win, 0.0))
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    np.add.at(dxp, (nn[..., None, None], cc[..., None, None], rows, cols), g)
    return _crop(dxp, x, win)


def _avg_divisor(x: np.ndarray, win: _Windows, count_include_pad: bool) -> np.ndarray:
    """torch's divisor: window clipped to the padded input, or to the input itself."""
    sizes = []
    for axis in range(2):
        size, k, s, p = (x.shape[2 + axis], win.kernel[axis], win.stride[axis], win.padding[axis])
        start = np.arange(win.out[axis]) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        sizes.append(end - start)
    return np.outer(sizes[0], sizes[1]).astype(x.dtype)


def _avg_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad) -> _Windows:
    if not isinstance(count_include_pad, bool):
        raise TypeError(f"count_include_pad must be a bool, got {type(count_include_pad).__name__}")
    return _windows(x, kernel_size, stride, padding, 1, ceil_mode)


def avg_pool2d(
    x: np.ndarray,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    r"""Average pooling of ``(N, C, H, W)``; same arguments and result as ``F.avg_pool2d``."""
    win = _avg_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    xp = _padded(x, win, 0.0)
    total = np.zeros((*x.shape[:2], *win.out), dtype=x.dtype)
    for _, _, idx in _taps(win):
        total += xp[idx]
    return total / _avg_divisor(x, win, count_include_pad)


def avg_pool2d_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    r""":math:`\partial L/\partial x`: output :math:`(i,j)` sends :math:`g_{ij}/d_{ij}` to each
    input of its window."""
    win = _avg_args(x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    share = _check_grad(grad_out, x, win.out) / _avg_divisor(x, win, count_include_pad)
    dxp = np.zeros_like(_padded(x, win, 0.0))
    for _, _, idx in _taps(win):
        dxp[idx] += share
    return _crop(dxp, x, win)


def _global_mode(x: np.ndarray, mode: str) -> None:
    array(x, "x", 4)
    if mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")


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


def _out_sizes(output_size, nd: int) -> tuple[int, ...]:
    sizes = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != nd or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
    ):
        raise ValueError(f"output_size must be {nd} integer(s) >= 1, got {output_size!r}")
    return sizes


def adaptive_pool(x: np.ndarray, output_size, mode: str = "avg") -> np.ndarray:
    """Adaptive ``avg`` or ``max`` pooling over the trailing 1 or 2 axes of ``(N, C, *spatial)``."""
    array(x, "x", (3, 4))
    if mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")
    nd = x.ndim - 2
    outs = _out_sizes(output_size, nd)
    reduce = np.mean if mode == "avg" else np.max
    windows = [adaptive_windows(size, o) for size, o in zip(x.shape[2:], outs, strict=True)]
    y = np.empty((*x.shape[:2], *outs), dtype=x.dtype)
    for idx in np.ndindex(*outs):
        sl = tuple(slice(*windows[d][i]) for d, i in enumerate(idx))
        y[(..., *idx)] = reduce(x[(..., *sl)], axis=tuple(range(2, x.ndim)))
    return y


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
    return np.broadcast_to(weight, (c, *weight.shape[-2:]))[:, None].copy()


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
    dx, dw, _ = conv2d_direct_backward(grad_out, x, w, s, 0, 1, x.shape[1], bias=False)
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
    r"""Stochastic pooling (Zeiler & Fergus, 2013) of a non-negative input.

    In window :math:`R`, position :math:`r` has probability :math:`p_r = x_r / \sum_{R} x`.
    Training: output :math:`x_r` for one :math:`r \sim p` drawn with ``rng`` (required);
    evaluation: the expectation :math:`\sum_r p_r x_r`. A window of zeros outputs 0. Returns
    ``(y, tap)`` with the drawn tap (row-major index inside the window; ``-1`` for an all-zero
    window or in evaluation), which is where the training gradient goes.
    """
    win = _windows(x, kernel_size, stride, 0, 1, False)
    if np.isnan(x).any() or (x < 0).any():
        raise ValueError(
            "x must be non-negative and not NaN for stochastic pooling (probabilities x/sum(x)); "
            f"min(x) = {np.nanmin(x)!r}"
        )
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, got {type(training).__name__}")
    values = np.stack([x[idx] for _, _, idx in _taps(win)], axis=-1)  # (N, C, Ho, Wo, K*K)
    cumulative = np.cumsum(values, axis=-1)
    total = cumulative[..., -1:]
    zero = total[..., 0] == 0
    if not training:
        expectation = (values * values).sum(axis=-1) / np.where(zero, 1, total[..., 0])
        return expectation, np.full(expectation.shape, -1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator when training=True")
    u = rng.random(total.shape) * total  # inverse CDF on the unnormalized cumulative sums
    tap = (cumulative <= u).sum(axis=-1)
    last_positive = values.shape[-1] - 1 - np.argmax(values[..., ::-1] > 0, axis=-1)
    tap = np.minimum(tap, last_positive)  # u rounded up to the total: the last possible tap
    y = np.take_along_axis(values, tap[..., None], axis=-1)[..., 0]
    return np.where(zero, 0, y).astype(x.dtype), np.where(zero, -1, tap)
