r"""2-D convolution (cross-correlation, as torch computes it) in NumPy, two ways.

Both compute, for input ``x`` ``(N, C_in, H, W)``, weight ``(C_out, C_in/G, K_H, K_W)``:

.. math:: y[n, o, i, j] = b[o] + \sum_{c \in \text{group}(o)} \sum_{p=0}^{K_H-1}\sum_{q=0}^{K_W-1}
          w[o, c, p, q]\; x_{\text{pad}}[n, c,\, iS_h + pD_h,\, jS_w + qD_w]

* :func:`conv2d_direct` — the reference: one einsum per kernel offset :math:`(p, q)` over a
  strided view of the padded input; its output size is found by *enumerating* the window
  starts, not from a formula.
* :func:`conv2d_im2col` — unfold every receptive field into a column of a matrix (a copy of
  :math:`C_{in}K_HK_W \cdot H_{out}W_{out}` entries per sample), then one GEMM per group:
  :math:`Y = W\,\operatorname{im2col}(X)`. With ``copy=False`` the unfolded matrix stays a
  zero-copy strided view (``sliding_window_view``) of the (padded) input and the contraction is
  einsum's own loop over it: no buffer, no BLAS — the other side of the memory/speed trade-off.

Backward (both): with :math:`G = \partial L/\partial y`,

.. math:: \frac{\partial L}{\partial w[o,c,p,q]} = \sum_{n,i,j} G[n,o,i,j]\,
          x_{\text{pad}}[n,c,iS_h+pD_h,jS_w+qD_w], \qquad
          \frac{\partial L}{\partial x_{\text{pad}}[n,c,iS_h+pD_h,jS_w+qD_w]}
          \mathrel{+}= \sum_{o} G[n,o,i,j]\,w[o,c,p,q]

then the padding is cropped; :math:`\partial L/\partial b[o] = \sum_{n,i,j} G[n,o,i,j]`.

Arguments are read by :func:`kernels.cpu._check.conv_geometry`, shared with the torch-named
reference :mod:`kernels.cpu.conv`: ints or pairs, ``padding='same'``/``'valid'`` (``'same'``
pads :math:`D(K-1)` zeros per axis, the odd one after, as torch does; stride 1 only), empty
batches ``N = 0``; ``x`` must be batched ``(N, C, H, W)`` here. Every buffer (padded input,
im2col matrix, output) is refused beyond :data:`kernels.cpu._check.MAX_ELEMENTS` elements.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kernels.cpu._check import ConvGeometry, array, conv_geometry, flag, is_array, ntuple
from kernels.cpu.conv import _crop, _pad
from numerics.opcount import counted_add, counted_einsum, counted_matmul

_Geometry = ConvGeometry


def _geometry(x, weight, bias, stride, padding, dilation, groups) -> ConvGeometry:
    """The checked geometry (shared with :mod:`kernels.cpu.conv`): batched ``x`` only."""
    return conv_geometry(
        x, weight, bias, stride, padding, dilation, groups, 2, names=("x", "weight"),
        unbatched=False,
    )  # fmt: skip


def _offset_slice(geo: _Geometry, p: int, q: int) -> tuple[slice, ...]:
    """Positions of the padded input multiplied by kernel tap (p, q), for every output."""
    (sh, sw), (dh, dw), (ho, wo) = geo.stride, geo.dilation, geo.out
    return (
        slice(None),
        slice(None),
        slice(None),
        slice(p * dh, p * dh + sh * (ho - 1) + 1, sh),
        slice(q * dw, q * dw + sw * (wo - 1) + 1, sw),
    )


def conv2d_direct(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> np.ndarray:
    """Reference convolution: a sum over kernel taps of strided views times weights."""
    geo = _geometry(x, weight, bias, stride, padding, dilation, groups)
    n = x.shape[0]
    c_out, cg, kh, kw = weight.shape
    g = geo.groups
    xg = _pad(x, geo.pad).reshape(n, g, cg, *geo.full)
    wg = weight.reshape(g, c_out // g, cg, kh, kw)
    y = np.zeros((n, g, c_out // g, *geo.out), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            y += counted_einsum("ngchw,goc->ngohw", xg[_offset_slice(geo, p, q)], wg[..., p, q])
    y = y.reshape(n, c_out, *geo.out)
    return y if bias is None else counted_add(y, bias[None, :, None, None])


def _wants_bias_grad(bias: object, weight: np.ndarray) -> bool:
    """Whether a backward returns ``dbias``: the forward's bias array or ``True`` → yes;
    ``None`` or ``False`` → no. Anything else is refused naming ``bias``."""
    if bias is None or isinstance(bias, bool):
        return bool(bias)
    if not is_array(bias):
        raise TypeError(
            f"bias must be the forward's bias array, None, True or False, got {type(bias).__name__}"
        )
    array(bias, "bias", 1, weight.dtype)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return True


def conv2d_direct_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | bool | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients ``(dx, dweight, dbias)`` of :func:`conv2d_direct` (see the module docstring).

    Takes ``grad_out`` and then the forward's arguments in the forward's order, so
    ``conv2d_direct_backward(g, *args, **kwargs)`` mirrors ``conv2d_direct(*args, **kwargs)``.
    ``bias``: the forward's bias array (or ``True``) → ``dbias`` is returned; ``None`` (the
    forward's default, no bias) or ``False`` → ``dbias`` is None.
    """
    geo = _geometry(x, weight, None, stride, padding, dilation, groups)
    bias = _wants_bias_grad(bias, weight)
    gy = _check_grad(grad_out, x, weight, geo)
    n = x.shape[0]
    c_out, cg, kh, kw = weight.shape
    g = geo.groups
    xp = _pad(x, geo.pad)
    xg = xp.reshape(n, g, cg, *geo.full)
    wg = weight.reshape(g, c_out // g, cg, kh, kw)
    gyg = gy.reshape(n, g, c_out // g, *geo.out)
    dxg = np.zeros_like(xg)
    dwg = np.zeros_like(wg)
    for p in range(kh):
        for q in range(kw):
            sl = _offset_slice(geo, p, q)
            dwg[..., p, q] = counted_einsum("ngohw,ngchw->goc", gyg, xg[sl])
            dxg[sl] += counted_einsum("ngohw,goc->ngchw", gyg, wg[..., p, q])
    db = gy.sum((0, 2, 3)) if bias else None
    return _crop_groups(dxg, x, geo), dwg.reshape(weight.shape), db


def _check_grad(grad_out, x, weight, geo: _Geometry) -> np.ndarray:
    array(grad_out, "grad_out", 4, x.dtype, empty_ok=(0,), like="x")
    expected = (x.shape[0], weight.shape[0], *geo.out)
    if grad_out.shape != expected:
        raise ValueError(
            f"grad_out must have shape {expected}, the forward's output shape for this x, "
            f"weight, stride, padding, dilation; got {grad_out.shape}"
        )
    return grad_out


def _crop_groups(dxg: np.ndarray, x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    return _crop(dxg.reshape(x.shape[0], x.shape[1], *geo.full), geo.pad).copy()


def im2col(x: np.ndarray, kernel: tuple[int, int], geo: _Geometry) -> np.ndarray:
    """Unfold receptive fields: ``(N, C, H_out, W_out, K_H, K_W)`` (a view; strided).

    ``geo`` is the geometry checked for ``x`` (``_geometry(x, weight, ...)``) and ``kernel``
    its kernel size.
    """
    if not isinstance(geo, ConvGeometry):
        raise TypeError(f"geo must be a checked convolution geometry, got {type(geo).__name__}")
    array(x, "x", 4, empty_ok=(0,))
    kh, kw = ntuple(kernel, "kernel", 2, 1)
    if (kh, kw) != geo.kernel:
        raise ValueError(f"kernel must be the kernel size of geo, {geo.kernel}, got {kernel!r}")
    if x.shape[2:] != geo.in_size:
        raise ValueError(f"x must have the spatial size of geo, {geo.in_size}, got {x.shape}")
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    windows = sliding_window_view(
        _pad(x, geo.pad), (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3)
    )
    return windows[:, :, ::sh, ::sw, ::dh, ::dw]


def _columns(x: np.ndarray, weight: np.ndarray, geo: _Geometry) -> np.ndarray:
    """The im2col matrix per group, copied: ``(N, G, C_in/G*K_H*K_W, H_out*W_out)``.

    One column per receptive field (the document's layout); the copy runs along the output
    width, so its inner loop reads the input with the stride, not the dilation.
    """
    n = x.shape[0]
    _, cg, kh, kw = weight.shape
    cols = im2col(x, (kh, kw), geo)
    ho, wo = cols.shape[2:4]
    cols = cols.reshape(n, geo.groups, cg, ho, wo, kh, kw).transpose(0, 1, 2, 5, 6, 3, 4)
    return np.ascontiguousarray(cols).reshape(n, geo.groups, cg * kh * kw, ho * wo)


def conv2d_im2col(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    copy: bool = True,
) -> np.ndarray:
    """Convolution as im2col + one matrix product per group (``copy=False``: no im2col buffer,
    the product runs over the strided view)."""
    geo = _geometry(x, weight, bias, stride, padding, dilation, groups)
    flag(copy, "copy")
    c_out, cg, kh, kw = weight.shape
    g = geo.groups
    if copy:
        cols = _columns(x, weight, geo)
        wmat = weight.reshape(g, c_out // g, -1)
        y = counted_matmul(wmat[None], cols)  # (N, G, C_out/G, HW): Y = W im2col(X)
        y = y.reshape(x.shape[0], c_out, *geo.out)
    else:
        view = im2col(x, (kh, kw), geo)  # (N, C, Ho, Wo, KH, KW), strided, shares memory
        view = view.reshape(x.shape[0], g, cg, *view.shape[2:])  # splitting C keeps a view
        wg = weight.reshape(g, c_out // g, cg, kh, kw)
        y = counted_einsum("ngchwpq,gocpq->ngohw", view, wg, optimize=False)
        y = y.reshape(x.shape[0], c_out, *geo.out)
    return y if bias is None else counted_add(y, bias[None, :, None, None])


def conv2d_im2col_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | bool | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`conv2d_im2col`: two GEMMs, then col2im (scatter-add of columns).

    Arguments as :func:`conv2d_direct_backward` (``grad_out``, then the forward's arguments).
    """
    geo = _geometry(x, weight, None, stride, padding, dilation, groups)
    bias = _wants_bias_grad(bias, weight)
    gy = _check_grad(grad_out, x, weight, geo)
    n = x.shape[0]
    c_out, cg, kh, kw = weight.shape
    g = geo.groups
    ho, wo = geo.out
    cols = _columns(x, weight, geo)
    gmat = gy.reshape(n, g, c_out // g, ho * wo)
    wmat = weight.reshape(g, c_out // g, -1)
    dw = counted_matmul(gmat, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(weight.shape)
    dcols = counted_matmul(wmat.transpose(0, 2, 1)[None], gmat)  # (N, G, Cg*KH*KW, HW)
    dcols = dcols.reshape(n, g, cg, kh, kw, ho, wo).transpose(0, 1, 2, 5, 6, 3, 4)
    dxg = np.zeros((n, g, cg, *geo.full), dtype=x.dtype)
    for p in range(kh):  # col2im
        for q in range(kw):
            dxg[_offset_slice(geo, p, q)] += dcols[..., p, q]
    return _crop_groups(dxg, x, geo), dw, (gy.sum((0, 2, 3)) if bias else None)
