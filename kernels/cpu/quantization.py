r"""Uniform affine quantization, an INT8 linear layer and binary (XNOR) layers in NumPy.

Conventions are torch's (``torch.quantize_per_tensor``, ``torch.fake_quantize_per_tensor_affine``,
``torch.fake_quantize_per_channel_affine``, ``torch.ao.quantization.MinMaxObserver``):

* :math:`q = \mathrm{clamp}(\mathrm{round}(x \cdot s^{-1}) + z,\ q_{\min}, q_{\max})`, the
  rounding **half to even** (``std::nearbyint``); every quantizer multiplies by ``1 / scale``
  taken in the dtype of ``x`` (torch multiplies by the float32 reciprocal; where the zero point
  enters, and whether with a fused multiply-add, is in ``_round_clamp``), so a float32 input gives
  torch's integers bit for bit; dequantization :math:`\hat x = (q - z)\,s`.
* Quantization parameters from a range :math:`[m, M]` widened to contain 0
  (:func:`choose_qparams`): symmetric :math:`s = \max(-m, M)/((q_{\max} - q_{\min})/2)`,
  :math:`z = 0` for a signed range (the middle of an unsigned one); affine
  :math:`s = (M - m)/(q_{\max} - q_{\min})`, :math:`z = q_{\min} - \mathrm{round}(m/s)`
  clamped to the range; :math:`s \ge` float32 eps, as in ``MinMaxObserver``.
* Per-channel: one ``scale``/``zero_point`` per index of ``axis``.
* INT8 linear (Jacob et al. 2018, *Quantization and Training of Neural Networks for Efficient
  Integer-Arithmetic-Only Inference*, CVPR, §2.2-2.4): int8/uint8 operands, products summed in
  int32, :math:`y = s_x s_w (\sum_k (q_{x,k} - z_x)(q_{w,k} - z_w)) + b`, and requantization of
  the int32 accumulator to an 8-bit output with the real multiplier :math:`M = s_xs_w/s_y`.
  :func:`dynamic_quantized_linear` imitates ``torch.ao.nn.quantized.dynamic.Linear`` (weight
  per-tensor symmetric qint8, input per-tensor affine quint8 from its own min/max, with
  ``reduce_range`` using 7 bits as fbgemm does).
* Binary layers (Rastegari et al. 2016, *XNOR-Net*, §3.1; Courbariaux et al. 2016,
  *Binarized Neural Networks*, §1.1-1.3): :math:`W \approx \alpha B`, :math:`B = \mathrm{sign}(W)`,
  :math:`\alpha = \mathrm{mean}|W|` per output row; :func:`binary_sign` maps 0 to +1
  (Courbariaux's sign) unlike ``torch.sign`` (0 to 0); the straight-through estimator
  :math:`\partial L/\partial x = g\,\mathbf 1_{|x|\le 1}` (Bengio, Léonard & Courville 2013).

Arrays are float32/float64 ``numpy.ndarray`` (integer arrays where named); bad arguments raise
``TypeError``/``ValueError`` naming the argument.
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import array, flag, integer, is_array, not_array, real_number

__all__ = [
    "INT32_MAX",
    "binary_linear",
    "binary_sign",
    "binary_sign_backward",
    "choose_qparams",
    "dequantize",
    "dynamic_quantized_linear",
    "fake_quantize_per_channel_affine",
    "fake_quantize_per_tensor_affine",
    "int8_linear_accumulate",
    "quantize_per_channel",
    "quantize_per_tensor",
    "requantize",
    "xnor_binarize",
]

INT32_MAX = 2**31 - 1
_EPS32 = float(np.finfo(np.float32).eps)


def _range(quant_min: object, quant_max: object) -> tuple[int, int]:
    lo = integer(quant_min, "quant_min", -(2**31))
    hi = integer(quant_max, "quant_max", -(2**31))
    if hi > INT32_MAX or lo >= hi:
        raise ValueError(
            f"quant_min < quant_max <= 2**31 - 1 required, got quant_min={lo}, quant_max={hi}"
        )
    return lo, hi


def _scale(value: object, name: str = "scale") -> float:
    s = real_number(value, name)
    if s <= 0:
        raise ValueError(f"{name} must be a positive real number, got {value!r}")
    return s


def _zero_point(value: object, lo: int, hi: int, name: str = "zero_point") -> int:
    z = integer(value, name, lo)
    if z > hi:
        raise ValueError(f"{name} must lie in [quant_min, quant_max] = [{lo}, {hi}], got {z}")
    return z


def _fma32(x: np.ndarray, inv: np.ndarray, z: np.ndarray) -> np.ndarray:
    r"""``fmaf(x, inv, z)``: :math:`x\cdot inv + z` rounded once to float32 (float32 ``x``,
    ``inv``; integer or float32 ``z``), emulated exactly in float64. The product of two
    float32 numbers is exact in float64; the sum :math:`p + z` is rounded to float64 with its
    exact error ``e`` (Knuth's TwoSum), and a float64 sum that falls exactly on a float32
    midpoint is moved one float64 ulp towards ``e`` before the final rounding to float32
    (otherwise rounding the float64 sum gives the correctly rounded result: the exact value lies
    within half a float64 ulp of it, and a float32 midpoint, itself a float64 number, cannot lie
    strictly in between)."""
    p = x.astype(np.float64) * inv.astype(np.float64)
    zf = np.asarray(z, np.float64)
    s = p + zf
    bv = s - p
    e = (p - (s - bv)) + (zf - bv)  # TwoSum: s + e = p + z exactly
    r = s.astype(np.float32)
    lo32 = np.where(r.astype(np.float64) > s, np.nextafter(r, np.float32(-np.inf)), r)
    hi32 = np.nextafter(lo32, np.float32(np.inf))
    mid = (lo32.astype(np.float64) + hi32.astype(np.float64)) / 2
    fix = (s == mid) & (e != 0)
    s = np.where(fix, np.nextafter(s, s + e), s)
    return s.astype(np.float32)


def _round_clamp(x: np.ndarray, inv, z, lo: int, hi: int, mode: str = "after") -> np.ndarray:
    r"""Integer codes ``clamp(rint(.), lo, hi)`` with ``inv`` the reciprocal of the scale taken
    in ``x``'s dtype (rint = half to even). Where the zero point ``z`` enters (measured against
    torch 2.13 on float32 inputs near half steps, see ``tests/test_future_quantization.py``):

    * ``"after"``: ``rint(x * inv) + z`` (``torch.fake_quantize_*``; requantization);
    * ``"fma"``: ``rint(fma(x, inv, z))``, one rounding of :math:`x\cdot inv + z` to float32
      (``torch.quantize_per_tensor``: near half steps only this form gives torch's codes;
      rounding the product first, as per channel, missed 145 of 20,000 near-tie values);
    * ``"mul_add"``: ``rint((x * inv) + z)``, product and sum each rounded in ``x``'s dtype
      (``torch.quantize_per_channel``).

    With ``z`` inside the rounding a tie goes to the even *integer code*, not the even grid
    point: the two differ for odd ``z``. For a float64 ``x`` (torch quantizes float32 only)
    ``"fma"`` is computed as ``"mul_add"``."""
    with np.errstate(over="ignore", invalid="ignore"):
        if mode == "fma" and x.dtype == np.float32:
            r = np.rint(_fma32(x, inv, z)).astype(np.float64)
        elif mode in ("fma", "mul_add"):
            r = np.rint(x * inv + np.asarray(z).astype(x.dtype)).astype(np.float64)
        else:
            r = np.rint(x * inv).astype(np.float64) + z
    return np.clip(r, lo, hi).astype(np.int64)


def quantize_per_tensor(
    x: np.ndarray,
    scale: float,
    zero_point: int,
    quant_min: int = -128,
    quant_max: int = 127,
    _zp_first: bool = True,
) -> np.ndarray:
    r""":math:`q = \mathrm{clamp}(\mathrm{rint}(x\cdot s^{-1} + z), q_{\min}, q_{\max})` (int64
    array; half to even). As in torch 2.13, ``x`` is *multiplied* by the reciprocal
    :math:`s^{-1}` taken in ``x``'s dtype (not divided by :math:`s`: near a half step the two
    round differently), and for a float32 ``x`` the product and :math:`z` are summed with a single
    rounding (a fused multiply-add; measured, see ``_round_clamp``), so float32 inputs give
    ``torch.quantize_per_tensor``'s codes bit for bit. ``torch.quantize_per_tensor``
    adds :math:`z` *before* rounding, ``torch.fake_quantize_per_tensor_affine`` after; a tie
    with an odd :math:`z` rounds differently (measured in torch 2.13: :math:`x = 0.5`,
    :math:`s = 1`, :math:`z = 1` gives code 2 in the first, 1 in the second)."""
    array(x, "x", tuple(range(0, 9)))
    lo, hi = _range(quant_min, quant_max)
    s, z = _scale(scale), _zero_point(zero_point, lo, hi)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    t = x.dtype.type
    inv = t(1) / t(s)  # torch multiplies by the reciprocal in float32 (not x / s)
    return _round_clamp(x, inv, z, lo, hi, mode="fma" if _zp_first else "after")


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    r""":math:`\hat x = (q - z)\,s` in float64 (``q`` an integer array)."""
    if not is_array(q):
        raise not_array(q, "q")
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"q must be an integer array, got dtype {q.dtype}")
    s = _scale(scale)
    z = integer(zero_point, "zero_point", -(2**31))
    with np.errstate(over="ignore"):
        out = (q.astype(np.float64) - z) * s
    if not np.isfinite(out).all():
        raise ValueError(
            f"scale {scale!r} is too large: (q - zero_point) * scale overflows float64"
        )
    return out


def fake_quantize_per_tensor_affine(
    x: np.ndarray, scale: float, zero_point: int, quant_min: int, quant_max: int
) -> np.ndarray:
    r"""``torch.fake_quantize_per_tensor_affine``: :math:`(q - z)\,s` in ``x``'s dtype."""
    q = quantize_per_tensor(x, scale, zero_point, quant_min, quant_max, _zp_first=False)
    t = x.dtype.type
    return ((q - zero_point).astype(x.dtype) * t(scale)).astype(x.dtype)


def _channel_params(x, scale, zero_point, axis, lo, hi):
    ax = integer(axis, "axis", -max(x.ndim, 1))
    if ax >= x.ndim:
        raise ValueError(
            f"axis must be in [-{x.ndim}, {x.ndim}) for x of ndim {x.ndim}, got {axis}"
        )
    ax %= x.ndim
    array(scale, "scale", 1)
    if not is_array(zero_point):
        raise not_array(zero_point, "zero_point")
    if not np.issubdtype(zero_point.dtype, np.integer) or zero_point.ndim != 1:
        raise TypeError("zero_point must be a 1-D integer array")
    c = x.shape[ax]
    if scale.shape != (c,) or zero_point.shape != (c,):
        raise ValueError(
            f"x, scale and zero_point: scale and zero_point must have shape ({c},) "
            f"(x.shape[axis] for x of shape {x.shape}), got {scale.shape} and {zero_point.shape}"
        )
    if not np.all(np.isfinite(scale)) or not np.all(scale > 0):
        raise ValueError("scale must hold finite positive numbers")
    if np.any(zero_point < lo) or np.any(zero_point > hi):
        raise ValueError(f"zero_point must lie in [quant_min, quant_max] = [{lo}, {hi}]")
    shape = [1] * x.ndim
    shape[ax] = c
    return ax, scale.reshape(shape), zero_point.reshape(shape).astype(np.int64)


def quantize_per_channel(
    x: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray,
    axis: int,
    quant_min: int = -128,
    quant_max: int = 127,
    _zp_first: bool = True,
) -> np.ndarray:
    """Per-channel :func:`quantize_per_tensor`: channel ``c`` of ``axis`` uses ``scale[c]``,
    ``zero_point[c]``. As ``torch.quantize_per_channel`` (2.13, measured near half steps):
    ``rint(x * (1/scale[c]) + zero_point[c])``, the reciprocal, the product and the sum each
    rounded in ``x``'s dtype (no fused multiply-add here, unlike the per-tensor quantizer)."""
    array(x, "x", tuple(range(1, 9)))
    lo, hi = _range(quant_min, quant_max)
    _, s, z = _channel_params(x, scale, zero_point, axis, lo, hi)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    inv = x.dtype.type(1) / s.astype(x.dtype)
    return _round_clamp(x, inv, z, lo, hi, mode="mul_add" if _zp_first else "after")


def fake_quantize_per_channel_affine(
    x: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray,
    axis: int,
    quant_min: int,
    quant_max: int,
) -> np.ndarray:
    """``torch.fake_quantize_per_channel_affine`` (result in ``x``'s dtype)."""
    q = quantize_per_channel(x, scale, zero_point, axis, quant_min, quant_max, _zp_first=False)
    _, s, z = _channel_params(x, scale, zero_point, axis, *_range(quant_min, quant_max))
    return ((q - z).astype(x.dtype) * s.astype(x.dtype)).astype(x.dtype)


def choose_qparams(
    min_val: float, max_val: float, quant_min: int, quant_max: int, symmetric: bool
) -> tuple[float, int]:
    r"""``MinMaxObserver``'s :math:`(s, z)` for the range :math:`[m, M] \ni 0` (float64).

    Symmetric: :math:`s = \max(-m, M)/((q_{\max}-q_{\min})/2)`, :math:`z = 0` for a signed range,
    :math:`z = (q_{\min}+q_{\max}+1)/2` for an unsigned one. Affine: :math:`s = (M-m)/(q_{\max} -
    q_{\min})`, :math:`z = \mathrm{clamp}(q_{\min} - \mathrm{round}(m/s))`. :math:`s \ge` eps.
    """
    m, mx = real_number(min_val, "min_val"), real_number(max_val, "max_val")
    if m > mx:
        raise ValueError(f"min_val must be <= max_val, got {min_val} > {max_val}")
    lo, hi = _range(quant_min, quant_max)
    sym = flag(symmetric, "symmetric")
    m, mx = min(m, 0.0), max(mx, 0.0)
    if sym:
        s = max(max(-m, mx) / ((hi - lo) / 2), _EPS32)
        z = 0 if lo < 0 else (lo + hi + 1) // 2
    else:
        s = max((mx - m) / (hi - lo), _EPS32)
        z = int(np.clip(lo - np.rint(m / s), lo, hi))
    return s, z


def int8_linear_accumulate(
    q_input: np.ndarray, input_zero_point: int, q_weight: np.ndarray, weight_zero_point: int
) -> np.ndarray:
    r"""The int32 accumulator :math:`A_{nj} = \sum_k (q_{x,nk} - z_x)(q_{w,jk} - z_w)`
    (``q_input`` ``(N, in)``, ``q_weight`` ``(out, in)``, 8-bit integer values). Raises
    ``ValueError`` if ``in`` is so large that the sum could overflow int32 (``in * 255**2``)."""
    for name, a in (("q_input", q_input), ("q_weight", q_weight)):
        if not is_array(a):
            raise not_array(a, name)
        if not np.issubdtype(a.dtype, np.integer) or a.ndim != 2:
            raise TypeError(f"{name} must be a 2-D integer array, got {a.dtype} {a.shape}")
        if a.size and (a.min() < -128 or a.max() > 255):
            raise ValueError(f"{name} must hold 8-bit values (int8 or uint8 range)")
    zx = integer(input_zero_point, "input_zero_point", -128)
    zw = integer(weight_zero_point, "weight_zero_point", -128)
    if zx > 255 or zw > 255:
        raise ValueError("input_zero_point and weight_zero_point must be 8-bit values")
    if q_input.shape[1] != q_weight.shape[1]:
        raise ValueError(
            f"q_input and q_weight must share in_features, got {q_input.shape} and {q_weight.shape}"
        )
    if q_input.shape[1] * 510**2 > INT32_MAX:
        raise ValueError("q_input: in_features too large for an int32 accumulator")
    a = (q_input.astype(np.int64) - zx) @ (q_weight.astype(np.int64) - zw).T
    return a.astype(np.int32)


def requantize(
    acc: np.ndarray, multiplier: float, zero_point: int, quant_min: int = 0, quant_max: int = 255
) -> np.ndarray:
    r"""An int32 accumulator to 8 bits: :math:`\mathrm{clamp}(\mathrm{rint}(M A) + z_y)`,
    :math:`M = s_xs_w/s_y` (Jacob et al. 2018, eq. 5; float64 multiply here, the paper uses a
    fixed-point one)."""
    if not is_array(acc):
        raise not_array(acc, "acc")
    if not np.issubdtype(acc.dtype, np.integer):
        raise TypeError(f"acc must be an integer array, got dtype {acc.dtype}")
    lo, hi = _range(quant_min, quant_max)
    mult = _scale(multiplier, "multiplier")
    z = _zero_point(zero_point, lo, hi)
    return _round_clamp(acc.astype(np.float64), np.float64(mult), z, lo, hi)


def dynamic_quantized_linear(
    input: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, reduce_range: bool = True
) -> np.ndarray:
    r"""``torch.ao.nn.quantized.dynamic.Linear`` in NumPy (float64 result).

    Weight: per-tensor symmetric qint8 (``MinMaxObserver``); input ``(N, in)``: per-tensor
    affine over :math:`[0, 255]` (:math:`[0, 127]` with ``reduce_range``) from its min/max;
    int32 accumulation; :math:`y = s_xs_wA + b`.
    """
    array(input, "input", 2)
    array(weight, "weight", 2, input.dtype, like="input")
    rr = flag(reduce_range, "reduce_range")
    if bias is not None:
        array(bias, "bias", 1, input.dtype, like="input")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if input.shape[1] != weight.shape[1]:
        raise ValueError(
            f"input must have {weight.shape[1]} features (weight.shape[1]), got {input.shape[1]}"
        )
    for name, a in (("input", input), ("weight", weight)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
    sw, zw = choose_qparams(float(weight.min()), float(weight.max()), -128, 127, True)
    qmax = 127 if rr else 255
    sx, zx = choose_qparams(float(input.min()), float(input.max()), 0, qmax, False)
    qw = quantize_per_tensor(weight.astype(np.float32), np.float32(sw), zw, -128, 127)
    qx = quantize_per_tensor(input.astype(np.float32), np.float32(sx), zx, 0, qmax)
    acc = int8_linear_accumulate(qx, zx, qw, zw)
    y = float(np.float32(sx)) * float(np.float32(sw)) * acc.astype(np.float64)
    return y if bias is None else y + bias


def binary_sign(x: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{sign}_b(x) = +1` if :math:`x \ge 0` else :math:`-1` (Courbariaux et al.
    2016, eq. 1): always in :math:`\{-1, +1\}`, unlike ``torch.sign`` (``sign(0) = 0``)."""
    array(x, "x", tuple(range(0, 9)), empty_ok=tuple(range(8)))
    return np.where(x >= 0, 1.0, -1.0).astype(x.dtype)


def binary_sign_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Straight-through estimator (hardtanh STE, Courbariaux et al. 2016, §1.3):
    :math:`g_x = g\,\mathbf 1_{|x| \le 1}`."""
    array(x, "x", tuple(range(0, 9)), empty_ok=tuple(range(8)))
    array(grad_output, "grad_output", tuple(range(0, 9)), empty_ok=tuple(range(8)))
    if grad_output.dtype != x.dtype:
        raise TypeError(
            f"grad_output must have the dtype of x ({x.dtype}), got {grad_output.dtype}"
        )
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output must have the shape of x {x.shape}, got {grad_output.shape}")
    return np.where(np.abs(x) <= 1, grad_output, 0).astype(x.dtype)


def xnor_binarize(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""XNOR-Net's :math:`(\alpha, B)` per output row: :math:`B = \mathrm{sign}_b(W)`,
    :math:`\alpha_j = \frac1n\sum_k |W_{jk}|`, the minimiser of :math:`\|W_j - \alpha B_j\|^2`
    (Rastegari et al. 2016, eq. 2-4; ``theory.quantization.derive_xnor_scaling``)."""
    array(weight, "weight", 2)
    if not np.all(np.isfinite(weight)):
        raise ValueError("weight must be finite")
    return np.abs(weight).mean(axis=1), binary_sign(weight)


def binary_linear(input: np.ndarray, weight: np.ndarray, scale: bool = True) -> np.ndarray:
    r"""A BNN linear layer: :math:`\mathrm{sign}_b(x)\,(\alpha \odot B)^\top` (``scale=False``:
    :math:`\alpha = 1`, Courbariaux's BNN). Output :math:`(N, out)`."""
    array(input, "input", 2, empty_ok=(0,))
    array(weight, "weight", 2, input.dtype, like="input")
    sc = flag(scale, "scale")
    if input.shape[1] != weight.shape[1]:
        raise ValueError(
            f"input must have {weight.shape[1]} features (weight.shape[1]), got {input.shape[1]}"
        )
    alpha, b = xnor_binarize(weight)
    y = binary_sign(input) @ b.T
    return y * alpha if sc else y
