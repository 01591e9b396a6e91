r"""Quantization error against bit width (the figure of the quantized-layers family).

For a fixed Gaussian weight matrix (seeded), symmetric per-tensor and per-channel
quantization to :math:`b` bits (:math:`q \in [-2^{b-1}, 2^{b-1}-1]`, ``MinMaxObserver``'s
scale): the largest elementwise error against the derived bound :math:`s/2`, and the RMS error
against the uniform-noise model :math:`s/\sqrt{12}` (each halves per added bit). Kernels:
:mod:`kernels.cpu.quantization`; derivation :func:`theory.quantization.derive_rounding_error`.
References: Jacob et al. 2018, §2; torch docs, ``torch.fake_quantize_per_tensor_affine``.
"""

from __future__ import annotations

import numpy as np

from kernels.cpu.quantization import (
    choose_qparams,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
)
from numerics.experiments import _int, _png, _pyplot

__all__ = ["BITS", "quantization_error_by_bits", "quantization_error_figure"]

BITS = tuple(range(2, 13))
"""Bit widths plotted."""


def quantization_error_by_bits(seed: int = 0) -> dict[str, np.ndarray]:
    """Per bit width in :data:`BITS`: ``scale`` (per-tensor), ``max_err``/``rms_err``
    (per-tensor), ``max_err_channel`` (per-channel), for a seeded 64x256 N(0,1) matrix."""
    s0 = _int(seed, "seed", 0)
    if s0 >= 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed}")
    w = np.random.default_rng(s0).standard_normal((64, 256))
    out: dict[str, list[float]] = {k: [] for k in ("scale", "max_err", "rms_err", "max_err_ch")}
    for b in BITS:
        lo, hi = -(2 ** (b - 1)), 2 ** (b - 1) - 1
        s, z = choose_qparams(float(w.min()), float(w.max()), lo, hi, True)
        e = w - fake_quantize_per_tensor_affine(w, s, z, lo, hi)
        sc = np.array([choose_qparams(float(r.min()), float(r.max()), lo, hi, True)[0] for r in w])
        ec = w - fake_quantize_per_channel_affine(w, sc, np.zeros(64, np.int64), 0, lo, hi)
        out["scale"].append(s)
        out["max_err"].append(float(np.abs(e).max()))
        out["rms_err"].append(float(np.sqrt(np.mean(e**2))))
        out["max_err_ch"].append(float(np.abs(ec).max()))
    return {"bits": np.array(BITS), **{k: np.array(v) for k, v in out.items()}}


def quantization_error_figure(seed: int = 0) -> bytes:
    """PNG: max and RMS quantization error vs bit width, with the bounds :math:`s/2` and
    :math:`s/\\sqrt{12}` (log scale)."""
    d = quantization_error_by_bits(seed)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(d["bits"], d["scale"] / 2, "k--", label="bound s/2")
    ax.semilogy(d["bits"], d["max_err"], "o-", label="max error, per-tensor")
    ax.semilogy(d["bits"], d["max_err_ch"], "s-", label="max error, per-channel")
    ax.semilogy(d["bits"], d["scale"] / np.sqrt(12), "k:", label="s/sqrt(12)")
    ax.semilogy(d["bits"], d["rms_err"], "^-", label="RMS error, per-tensor")
    ax.set_xlabel("bits")
    ax.set_ylabel("|w - fake_quant(w)|")
    ax.set_title("Symmetric quantization of a 64x256 N(0,1) matrix")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)
