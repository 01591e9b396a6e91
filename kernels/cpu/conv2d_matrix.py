r"""2-D convolution layers (torch's cross-correlation, stride 1) as matrix products, in NumPy.

* :func:`conv2d_toeplitz` — each (output, input) channel pair is a *doubly block Toeplitz*
  matrix acting on the flattened zero-padded image: with the row-shift selections
  :math:`E_p` (:math:`E_p[i, i+p] = 1`) and the 1-D "valid" Toeplitz matrices :math:`B_p` of
  the flipped kernel rows (:func:`kernels.cpu.conv1d.toeplitz`),

  .. math:: M = \sum_{p=0}^{K_H-1} E_p \otimes B_p,

  a block Toeplitz matrix whose blocks are Toeplitz (block :math:`(i, j)` depends on
  :math:`j - i` only).
* :func:`conv2d_circular_fft` — circular padding (``padding_mode="circular"``, odd kernels,
  output :math:`H \times W`): the doubly block circulant product, diagonalized by the 2-D DFT,
  :math:`\mathcal{F}^{-1}\big(\mathcal{F}(x)\,\overline{\mathcal{F}(w)}\big)` rolled by the
  padding.

References: ``002_532ac369c9b692e7.txt`` § Convolution as Matrix Operation; Gray, *Toeplitz and
Circulant Matrices* (2006).
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import array, bounded, conv_geometry, conv_operands, integer
from kernels.cpu.conv import _pad
from kernels.cpu.conv1d import _pow2_scale, toeplitz
from numerics.opcount import counted_add, counted_einsum

__all__ = ["conv2d_circular_fft", "conv2d_toeplitz", "doubly_block_toeplitz"]


def doubly_block_toeplitz(kernel: np.ndarray, height: int, width: int) -> np.ndarray:
    r"""The ``(H_out·W_out, H·W)`` matrix of a valid 2-D cross-correlation with ``kernel``
    ``(K_H, K_W)`` on an ``H × W`` image: :math:`\sum_p E_p \otimes B_p` (at most
    :data:`kernels.cpu._check.MAX_ELEMENTS` entries)."""
    array(kernel, "kernel", 2)
    height, width = integer(height, "height", 1), integer(width, "width", 1)
    kh, kw = kernel.shape
    if kh > height or kw > width:
        raise ValueError(
            f"output size < 1: kernel {kernel.shape} larger than image height x width = "
            f"{height}x{width}"
        )
    ho, wo = height - kh + 1, width - kw + 1
    bounded(ho * wo * height * width, "the doubly block Toeplitz matrix", "height, width")
    out = np.zeros((ho * wo, height * width), dtype=kernel.dtype)
    for p in range(kh):
        shift = np.eye(ho, height, k=p, dtype=kernel.dtype)  # E_p[i, i + p] = 1
        block = toeplitz(kernel[p, ::-1], width)[kw - 1 : width]  # valid rows, flipped row p
        out += np.kron(shift, block)
    return out


def conv2d_toeplitz(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    padding: int | tuple[int, int] | str = 0,
) -> np.ndarray:
    """``F.conv2d(x, weight, bias, padding=padding)`` (stride 1, groups 1; ``padding`` ints or
    ``'same'``/``'valid'``) as one product per channel pair with a doubly block Toeplitz
    matrix. The stacked matrices have :math:`C_{out}C_{in}H_{out}W_{out}H_pW_p` entries
    (about 2.4 G at 16 → 16 channels, 32 × 32, padding 1): refused beyond
    :data:`kernels.cpu._check.MAX_ELEMENTS`."""
    conv_operands(x, weight, bias, 4)
    geo = conv_geometry(
        x, weight, bias, 1, padding, 1, 1, 2, names=("x", "weight"), unbatched=False
    )
    xp = _pad(x, geo.pad)
    hp, wp = xp.shape[2:]
    c_out, c_in, kh, kw = weight.shape
    bounded(
        c_out * c_in * geo.out[0] * geo.out[1] * hp * wp,
        "the doubly block Toeplitz matrices",
        "x, weight, padding",
    )
    mats = np.stack(
        [np.stack([doubly_block_toeplitz(weight[o, c], hp, wp) for c in range(c_in)])
         for o in range(c_out)]
    )  # fmt: skip
    y = counted_einsum("ocij,ncj->noi", mats, xp.reshape(x.shape[0], c_in, hp * wp))
    y = y.reshape(x.shape[0], c_out, hp - kh + 1, wp - kw + 1)
    return y if bias is None else counted_add(y, bias[None, :, None, None])


def conv2d_circular_fft(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """Circular-padding conv2d with odd kernel sizes ``K <= H, W``, output ``H × W``, via the
    2-D FFT (``F.conv2d`` on ``F.pad(x, (P_W, P_W, P_H, P_H), mode="circular")``). Huge
    finite inputs are rescaled by powers of two around the transforms, as in
    :func:`kernels.cpu.conv1d.conv1d_circular_fft` (no NaN from an overflowing FFT)."""
    conv_operands(x, weight, bias, 4)
    (h, w), (kh, kw) = x.shape[2:], weight.shape[2:]
    bounded(x.shape[0] * weight.shape[0] * x.shape[1] * h * w, "the spectra", "x, weight")
    if kh % 2 == 0 or kw % 2 == 0 or kh > h or kw > w:
        raise ValueError(
            f"kernel sizes must be odd and fit the image: weight kernel {(kh, kw)}, "
            f"x image {(h, w)}"
        )
    wpad = np.zeros((*weight.shape[:2], h, w), dtype=np.float64)
    sx, sw = _pow2_scale(x), _pow2_scale(weight)
    wpad[..., :kh, :kw] = np.ldexp(weight, -sw)
    spec = (
        np.fft.rfft2(np.ldexp(x, -sx))[:, None] * np.conj(np.fft.rfft2(wpad))[None]
    )  # (N, C_out, C_in,..)
    corr = np.fft.irfft2(spec.sum(axis=2), s=(h, w))
    with np.errstate(over="ignore"):  # a result beyond the float range is inf (IEEE, torch)
        shifted = np.roll(corr, ((kh - 1) // 2, (kw - 1) // 2), axis=(-2, -1))
        y = np.ldexp(shifted, sx + sw).astype(x.dtype)
    return y if bias is None else y + bias[None, :, None, None]
