r"""Convolution and transposed convolution with torch's names and arguments: a float64 reference.

``conv1d``, ``conv2d``, ``conv_transpose1d``, ``conv_transpose2d`` take exactly the arguments
of ``torch.nn.functional`` (same names, same order — note that the transposed ones put
``output_padding, groups`` before ``dilation``): ints or sequences per axis, ``padding='same'``
/``'valid'`` (forward convolution only), unbatched inputs ``(C, *I)``, empty batches, groups,
dilation. Each ``*_backward(grad_output, <the forward's arguments>)`` returns
``(grad_input, grad_weight, grad_bias)`` (``grad_bias`` is None when ``bias`` is None).

**The forward convolution** (cross-correlation, torch's ``Conv1d``/``Conv2d`` docs) is a
*gather*: with :math:`x_p` the zero-padded input (``padding=(lo, hi)`` per axis), group
:math:`\gamma(o)` of output channel :math:`o`,

.. math:: y[n,o,\mathbf i] = b[o] + \sum_{c\in\gamma(o)}\sum_{\mathbf k}
          w[o,c,\mathbf k]\; x_p[n,c,\mathbf i\odot S + \mathbf k\odot D]
          \;=\; b[o] + (A_w\, x_p)[n,o,\mathbf i],

computed as JAX's ``lax_reference`` does: an ``as_strided`` view
``V[n,c,i,k] = x_p[n,c,iS+kD]`` (no copy) and one einsum ``V, w -> y`` — obviously the
formula, with no index arithmetic beyond the two strides.

**Its backward**: :math:`y` is bilinear in :math:`(x_p, w)`, so with :math:`G=\partial L/
\partial y`: :math:`\partial L/\partial w[o,c,\mathbf k] = \sum_{n,\mathbf i} G[n,o,\mathbf i]
\,V[n,c,\mathbf i,\mathbf k]` (einsum over the same view), :math:`\partial L/\partial x_p =
A_w^\top G`, the *scatter-add* adjoint of the gather
(:math:`\partial L/\partial x_p[n,c,\mathbf iS+\mathbf kD] \mathrel{+}= \sum_o G[n,o,\mathbf i]
w[o,c,\mathbf k]`, one strided slice per tap :math:`\mathbf k`, so no two writes of one tap
collide), then cropped by the padding; :math:`\partial L/\partial b[o] = \sum_{n,\mathbf i}
G[n,o,\mathbf i]`.

**The transposed convolution** is, by torch's definition ("can be seen as the gradient of
Conv with respect to its input", ``ConvTranspose1d``/``ConvTranspose2d`` docs; Dumoulin &
Visin, *A guide to convolution arithmetic*, 2016, § 4), the adjoint of that gather for a conv
whose weight is ours read as ``(out_channels=C_in, in_channels/G=C_out/G, *K)``:

.. math:: y = \operatorname{crop}_P\big(A_w^\top x\big) + b, \qquad
          |A_w^\top x| = (I-1)S + D(K-1) + 1 + P_{out},

cropping :math:`P` from both ends, so :math:`O = (I-1)S - 2P + D(K-1) + P_{out} + 1`;
``output_padding`` :math:`P_{out}` only lengthens the uncropped result at the far end (those
positions receive no tap: they are zero unless the crop cuts into them), and torch requires
:math:`P_{out} < \max(S, D)`. Its backward is the adjoint of :math:`\operatorname{crop}_P\circ
A_w^\top`, i.e. :math:`A_w\circ\operatorname{pad}_P`: ``grad_input`` is the forward gather of
the zero-padded ``grad_output`` (its first :math:`I` windows), ``grad_weight[c,o,k] =
\sum_{n,i} x[n,c,i]\,\operatorname{pad}_P(G)[n,o,iS+kD]`` over the same view, and ``grad_bias``
the sum of :math:`G`. (An independent check, by zero insertion — a stride-1 convolution with
the flipped, channel-swapped kernel of the input dilated by :math:`S` — is in the tests.)

Every product goes through :mod:`numerics.opcount` (MACs: :math:`N\,C_{out}\,O\,
(C_{in}/G)\prod K` for the forward, :math:`N\,C_{in}\,I\,(C_{out}/G)\prod K` for the
transposed one). Buffers are bounded by :data:`kernels.cpu._check.MAX_ELEMENTS`.

Deliberate differences from torch (tested): zero channels or an empty kernel are rejected
(torch builds empty outputs), and ``bias`` must have shape ``(out_channels,)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from kernels.cpu._check import ConvGeometry, array, conv_geometry
from numerics.opcount import counted_add, counted_einsum

__all__ = [
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
]

_OUT, _TAP = "xyz", "pqr"  # einsum letters for output positions and kernel taps


def _letters(nd: int) -> tuple[str, str]:
    return _OUT[:nd], _TAP[:nd]


def _windows(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """Read-only view ``V[n, c, *i, *k] = xp[n, c, *(i*S + k*D)]`` of shape
    ``(N, C, *out, *kernel)`` (no copy; ``out`` windows must fit in ``xp``)."""
    sn, sc, *ss = xp.strides
    shape = (*xp.shape[:2], *out, *kernel)
    strides = (
        sn,
        sc,
        *(a * b for a, b in zip(ss, stride, strict=True)),
        *(a * b for a, b in zip(ss, dilation, strict=True)),
    )
    return as_strided(xp, shape, strides, writeable=False)


def _gather(xp, weight, groups, stride, dilation, out) -> np.ndarray:
    """:math:`A_w x_p`: ``(N, C_in, *full)`` and weight ``(C_out, C_in/G, *K)`` -> ``(N, C_out,
    *out)``."""
    nd = len(out)
    o, k = _letters(nd)
    n = xp.shape[0]
    co, cg, *kernel = weight.shape
    v = _windows(xp, kernel, stride, dilation, out).reshape(n, groups, cg, *out, *kernel)
    wg = weight.reshape(groups, co // groups, cg, *kernel)
    y = counted_einsum(f"ngc{o}{k},goc{k}->ngo{o}", v, wg)
    return y.reshape(n, co, *out)


def _scatter(gy, weight, groups, stride, dilation, full) -> np.ndarray:
    """:math:`A_w^\\top G`: ``(N, C_out, *out)`` -> ``(N, C_in, *full)``, one strided slice
    per kernel tap."""
    nd = len(full)
    o, _ = _letters(nd)
    n, co, *out = gy.shape
    _, cg, *kernel = weight.shape
    wg = weight.reshape(groups, co // groups, cg, *kernel)
    gyg = gy.reshape(n, groups, co // groups, *out)
    dxp = np.zeros((n, groups, cg, *full), dtype=gy.dtype)
    for tap in np.ndindex(*kernel):
        sl = tuple(
            slice(t * d, t * d + s * (m - 1) + 1, s)
            for t, d, s, m in zip(tap, dilation, stride, out, strict=True)
        )
        dxp[(..., *sl)] += counted_einsum(f"ngo{o},goc->ngc{o}", gyg, wg[(..., *tap)])
    return dxp.reshape(n, groups * cg, *full)


def _weight_grad(gy, xp, groups, kernel, stride, dilation) -> np.ndarray:
    """:math:`\\partial L/\\partial w[o,c,k] = \\sum_{n,i} G[n,o,i]\\,V[n,c,i,k]` (grouped)."""
    nd = len(kernel)
    o, k = _letters(nd)
    n, co, *out = gy.shape
    c = xp.shape[1]
    v = _windows(xp, kernel, stride, dilation, out).reshape(n, groups, c // groups, *out, *kernel)
    gyg = gy.reshape(n, groups, co // groups, *out)
    dw = counted_einsum(f"ngo{o},ngc{o}{k}->goc{k}", gyg, v)
    return dw.reshape(co, c // groups, *kernel)


def _pad(x: np.ndarray, pad: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Zero-pad the spatial axes of ``(N, C, *spatial)`` by ``(before, after)`` each; ``x``
    itself (no copy) when there is nothing to pad."""
    if all(lo == hi == 0 for lo, hi in pad):
        return x
    full = (s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pad, strict=True))
    out = np.zeros((*x.shape[:2], *full), x.dtype)
    out[(..., *(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], pad, strict=True)))] = x
    return out


def _crop(x: np.ndarray, pad: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Remove ``(before, after)`` from each spatial axis (the adjoint of :func:`_pad`)."""
    return x[(..., *(slice(lo, s - hi) for s, (lo, hi) in zip(x.shape[2:], pad, strict=True)))]


def _batch(a: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    return a if geo.batched else a[None]


def _unbatch(a: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    return a if geo.batched else a[0]


def _add_bias(y: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    if bias is None:
        return y
    return counted_add(y, bias.reshape(1, -1, *([1] * (y.ndim - 2))))


def _grad_output(grad_output, input: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    array(
        grad_output,
        "grad_output",
        input.ndim,
        input.dtype,
        like="input",
        empty_ok=(0,) if geo.batched else (),
    )
    expected = (*((input.shape[0],) if geo.batched else ()), geo.out_channels, *geo.out)
    if grad_output.shape != expected:
        raise ValueError(
            f"grad_output must have shape {expected}, the forward's output shape for this "
            f"input, weight, stride, padding, dilation{', output_padding' * geo.transposed}; "
            f"got {grad_output.shape}"
        )
    return _batch(grad_output, geo)


def _conv(nd, input, weight, bias, stride, padding, dilation, groups) -> np.ndarray:
    geo = conv_geometry(input, weight, bias, stride, padding, dilation, groups, nd)
    xp = _pad(_batch(input, geo), geo.pad)
    y = _gather(xp, weight, geo.groups, geo.stride, geo.dilation, geo.out)
    return _unbatch(_add_bias(y, bias), geo)


def _conv_backward(nd, grad_output, input, weight, bias, stride, padding, dilation, groups):
    geo = conv_geometry(input, weight, bias, stride, padding, dilation, groups, nd)
    gy = _grad_output(grad_output, input, geo)
    xp = _pad(_batch(input, geo), geo.pad)
    dx = _crop(_scatter(gy, weight, geo.groups, geo.stride, geo.dilation, geo.full), geo.pad)
    dw = _weight_grad(gy, xp, geo.groups, geo.kernel, geo.stride, geo.dilation)
    db = None if bias is None else gy.sum(axis=(0, *range(2, gy.ndim)))
    return _unbatch(np.ascontiguousarray(dx), geo), dw, db


def _conv_t(nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    geo = conv_geometry(
        input, weight, bias, stride, padding, dilation, groups, nd,
        transposed=True, output_padding=output_padding,
    )  # fmt: skip
    x = _batch(input, geo)
    full = _scatter(x, weight, geo.groups, geo.stride, geo.dilation, geo.full)
    y = np.ascontiguousarray(_crop(full, geo.pad))
    return _unbatch(_add_bias(y, bias), geo)


def _conv_t_backward(
    nd, grad_output, input, weight, bias, stride, padding, output_padding, groups, dilation
):
    geo = conv_geometry(
        input, weight, bias, stride, padding, dilation, groups, nd,
        transposed=True, output_padding=output_padding,
    )  # fmt: skip
    gy = _grad_output(grad_output, input, geo)
    x = _batch(input, geo)
    gyp = _pad(gy, geo.pad)  # length O + 2P = the uncropped output
    dx = _gather(gyp, weight, geo.groups, geo.stride, geo.dilation, geo.in_size)
    dw = _weight_grad(x, gyp, geo.groups, geo.kernel, geo.stride, geo.dilation)
    db = None if bias is None else gy.sum(axis=(0, *range(2, gy.ndim)))
    return _unbatch(dx, geo), dw, db


Ints = int | tuple[int, ...] | list[int]


def conv1d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> np.ndarray:
    """``F.conv1d``: input ``(N, C_in, L)`` or ``(C_in, L)``, weight ``(C_out, C_in/G, K)``."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> np.ndarray:
    """``F.conv2d``: input ``(N, C_in, H, W)`` or ``(C_in, H, W)``, weight
    ``(C_out, C_in/G, K_H, K_W)``."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv1d` (module docstring)."""
    return _conv_backward(1, grad_output, input, weight, bias, stride, padding, dilation, groups)


def conv2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv2d` (module docstring)."""
    return _conv_backward(2, grad_output, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> np.ndarray:
    """``F.conv_transpose1d``: input ``(N, C_in, L)`` or ``(C_in, L)``, weight
    ``(C_in, C_out/G, K)``, output length ``(L-1)S - 2P + D(K-1) + P_out + 1``."""
    return _conv_t(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> np.ndarray:
    """``F.conv_transpose2d``: input ``(N, C_in, H, W)`` or ``(C_in, H, W)``, weight
    ``(C_in, C_out/G, K_H, K_W)``."""
    return _conv_t(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose1d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv_transpose1d`."""
    return _conv_t_backward(
        1, grad_output, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv_transpose2d`."""
    return _conv_t_backward(
        2, grad_output, input, weight, bias, stride, padding, output_padding, groups, dilation
    )
