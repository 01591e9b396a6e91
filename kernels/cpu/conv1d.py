r"""1-D convolution layers (torch's cross-correlation) as matrix products, in NumPy.

* :func:`conv1d_toeplitz` — each (output, input) channel pair is a Toeplitz matrix of the
  *flipped* kernel applied to the zero-padded signal: torch's
  :math:`y[o,i] = \sum_c\sum_m x_{\text{pad}}[c, i+m]\,w[o,c,m]` is the true convolution of
  :math:`x_{\text{pad}}` with :math:`w[o,c,K-1-m]` ("valid" rows of :math:`T[i,j] = k[i-j]`).
* :func:`conv1d_circular_fft` — circular padding (``padding_mode="circular"``, output length
  :math:`L`, :math:`2P = K - 1`): the circulant product computed with the FFT,
  :math:`c = \mathcal{F}^{-1}\big(\mathcal{F}(x)\,\overline{\mathcal{F}(w)}\big)` (circular
  cross-correlation), rolled by :math:`P`.
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import array, bounded, conv_geometry, conv_operands, integer
from kernels.cpu.conv import _pad
from numerics.opcount import counted_add, counted_einsum


def toeplitz(kernel: np.ndarray, n: int) -> np.ndarray:
    """Full-mode convolution matrix ``T[i, j] = kernel[i - j]`` of shape ``(n + K - 1, n)``
    (at most :data:`kernels.cpu._check.MAX_ELEMENTS` entries)."""
    array(kernel, "kernel", 1)
    n = integer(n, "n", 1)
    k = len(kernel)
    bounded((n + k - 1) * n, "the Toeplitz matrix", "n")
    t = np.zeros((n + k - 1, n), dtype=kernel.dtype)
    for j in range(n):
        t[j : j + k, j] = kernel
    return t


def conv1d_toeplitz(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, padding: int | str = 0
) -> np.ndarray:
    """``F.conv1d(x, weight, bias, padding=padding)`` (stride 1, groups 1; ``padding`` an int
    or ``'same'``/``'valid'``) via Toeplitz matrices, refused when the stacked matrices would
    exceed :data:`kernels.cpu._check.MAX_ELEMENTS` entries."""
    conv_operands(x, weight, bias, 3)
    geo = conv_geometry(
        x, weight, bias, 1, padding, 1, 1, 1, names=("x", "weight"), unbatched=False
    )
    xp = _pad(x, geo.pad)
    n_pad, k = xp.shape[2], weight.shape[2]
    c_out = weight.shape[0]
    bounded(c_out * x.shape[1] * geo.out[0] * n_pad, "the Toeplitz matrices", "x, weight, padding")
    # T[o, c] restricted to the valid rows K-1 .. n_pad-1: shape (c_out, c_in, n_out, n_pad)
    mats = np.stack(
        [
            np.stack(
                [toeplitz(weight[o, c, ::-1], n_pad)[k - 1 : n_pad] for c in range(x.shape[1])]
            )
            for o in range(c_out)
        ]
    )
    y = counted_einsum("ocij,ncj->noi", mats, xp)
    return y if bias is None else counted_add(y, bias[None, :, None])


def _pow2_scale(a: np.ndarray) -> int:
    """An exponent ``e`` with ``|a| < 2**e`` (0 for a zero, empty or non-finite array):
    ``np.ldexp(a, -e)`` is exact and keeps the FFT's sums of ``a`` from overflowing."""
    m = float(np.abs(a).max()) if a.size else 0.0
    return 0 if m == 0 or not np.isfinite(m) else int(np.frexp(m)[1])


def conv1d_circular_fft(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """Circular-padding conv1d with odd kernel length K <= L, output length L, via the FFT
    (its spectra buffer is bounded by :data:`kernels.cpu._check.MAX_ELEMENTS`).

    ``x`` and ``weight`` are divided by powers of two (:func:`_pow2_scale`, exact) before the
    transforms and the result multiplied back, so that huge finite inputs do not overflow
    inside the FFT (which would give NaN where the direct convolution is finite); a result
    that is itself beyond the float range overflows to ``inf``, as in torch."""
    conv_operands(x, weight, bias, 3)
    length, k = x.shape[2], weight.shape[2]
    bounded(x.shape[0] * weight.shape[0] * x.shape[1] * length, "the spectra", "x, weight")
    if k % 2 == 0 or k > length:
        raise ValueError(
            f"kernel length must be odd and <= the signal length: weight kernel K={k}, "
            f"x length L={length}"
        )
    p = (k - 1) // 2
    wpad = np.zeros((*weight.shape[:2], length), dtype=np.float64)
    sx, sw = _pow2_scale(x), _pow2_scale(weight)
    wpad[..., :k] = np.ldexp(weight, -sw)
    spec = (
        np.fft.rfft(np.ldexp(x, -sx), axis=-1)[:, None, :, :]
        * np.conj(np.fft.rfft(wpad, axis=-1))[None]
    )
    corr = np.fft.irfft(spec.sum(axis=2), n=length, axis=-1)  # (N, C_out, L)
    with np.errstate(over="ignore"):  # a result beyond the float range is inf (IEEE, torch)
        y = np.ldexp(np.roll(corr, p, axis=-1), sx + sw).astype(x.dtype)
    return y if bias is None else y + bias[None, :, None]
