r"""NumPy weight initializers: Xavier/He (uniform and normal), orthogonal, LSUV.

Fans follow torch (``torch.nn.init._calculate_fan_in_and_fan_out``): for a weight of shape
``(out, in, *kernel)``, ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``.
Normal initializers take a **standard deviation**. ``dtype`` is float32 or float64 (an
integer dtype would round every weight to 0); a weight of more than
:data:`kernels.cpu._check.MAX_ELEMENTS` entries is refused at once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from kernels.cpu._check import FLOAT_DTYPES, array, bounded

Activation = Callable[[np.ndarray], np.ndarray]


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape ``(out, in, *kernel)``: ``in * prod(kernel)``
    and ``out * prod(kernel)``; at least 2 dimensions, all integers >= 1."""
    if isinstance(shape, str) or not isinstance(shape, Sequence):
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}")
    if len(shape) < 2:
        raise ValueError(f"fans need a weight with at least 2 dimensions, got shape {tuple(shape)}")
    for d in shape:
        if isinstance(d, bool | np.bool_) or not isinstance(d, numbers.Integral):
            raise TypeError(f"shape entries must be integers >= 1, got {tuple(shape)}")
        if d < 1:
            raise ValueError(f"shape entries must be integers >= 1, got {tuple(shape)}")
    receptive = math.prod(int(d) for d in shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _shape(shape: object) -> tuple[int, ...]:
    """A weight shape (validated by :func:`fans`) of at most MAX_ELEMENTS entries."""
    fans(shape)
    out = tuple(int(d) for d in shape)  # type: ignore[union-attr]
    bounded(math.prod(out), "the weight", "shape")
    return out


def _gen(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _real(value: object, name: str, positive: bool) -> float:
    """A finite real number (> 0 when ``positive``), Python or NumPy, as a float."""
    allowed = "a finite real number" + (" > 0" if positive else "")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (positive and not v > 0):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


def _gain(gain: float) -> float:
    return _real(gain, "gain", positive=True)


def _dtype(dtype: object) -> np.dtype:
    """float32 or float64 (integer dtypes would truncate every weight to 0). A NumPy scalar
    or array *value* (``np.float64(0.0)``, ``np.float64('nan')``) is refused: ``np.dtype``
    would silently read its ``.dtype``."""
    if isinstance(dtype, np.generic | np.ndarray):
        raise TypeError(
            f"dtype must be float32 or float64 (a type or its name), got the value {dtype!r}"
        )
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype is None or dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def _scaled(unit: np.ndarray, scale: float, dtype: np.dtype, name: str) -> np.ndarray:
    """``scale * unit`` in ``dtype``, refused with ``ValueError`` naming ``name`` when a weight
    would overflow that dtype (e.g. gain=1e308, or 1e38 in float32) instead of returning inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (unit if scale == 1.0 else scale * unit).astype(dtype)
    if not np.isfinite(out).all():
        raise ValueError(
            f"{name} too large: the weights (scale {scale:g}) overflow {np.dtype(dtype).name}"
        )
    return out


def _uniform(gen: np.random.Generator, a: float, shape, dtype: np.dtype, name: str):
    """U(-a, a) as NumPy draws it (``-a + 2a * U[0, 1)``); ``2a`` beyond float64 (gain=1e308)
    is refused with ``ValueError`` naming ``name`` rather than numpy's OverflowError."""
    if not math.isfinite(2 * a):
        raise ValueError(f"{name} too large: the bound {a:g} of U(-a, a) needs 2a finite")
    return _scaled(gen.uniform(-a, a, size=shape), 1.0, dtype, name)


def xavier_uniform(shape, rng, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). A bound with ``2a`` beyond float64,
    or weights that overflow ``dtype``, raise ``ValueError`` naming ``gain``."""
    shape, gain, dtype, gen = _shape(shape), _gain(gain), _dtype(dtype), _gen(rng)
    fi, fo = fans(shape)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return _uniform(gen, a, shape, dtype, "gain")


def xavier_normal(shape, rng, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    shape, gain, dtype, gen = _shape(shape), _gain(gain), _dtype(dtype), _gen(rng)
    fi, fo = fans(shape)
    std = gain * math.sqrt(2.0 / (fi + fo))
    return _scaled(gen.standard_normal(shape), std, dtype, "gain")


def _he_std(shape, negative_slope: float, mode: str) -> float:
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    slope = _real(negative_slope, "negative_slope", positive=False)
    fi, fo = fans(shape)
    gain = math.sqrt(2.0) / math.hypot(1.0, slope)  # sqrt(2 / (1 + slope^2)), no overflow
    std = gain / math.sqrt(fi if mode == "fan_in" else fo)
    if not std > 0:
        raise ValueError(
            f"negative_slope too large: the standard deviation sqrt(2 / (1 + slope^2)) / "
            f"sqrt(fan) underflows to 0 for negative_slope={negative_slope!r}"
        )
    return std


def he_uniform(shape, rng, negative_slope: float = 0.0, mode: str = "fan_in", dtype=np.float64):
    """U(-a, a), a = sqrt(3) * gain / sqrt(fan), gain = sqrt(2 / (1 + slope^2)) (torch's
    ``kaiming_uniform_`` with ``nonlinearity="leaky_relu"``, ``a=negative_slope``)."""
    shape, dtype, gen = _shape(shape), _dtype(dtype), _gen(rng)
    a = math.sqrt(3.0) * _he_std(shape, negative_slope, mode)
    return _uniform(gen, a, shape, dtype, "negative_slope")


def he_normal(shape, rng, negative_slope: float = 0.0, mode: str = "fan_in", dtype=np.float64):
    """N(0, std^2), std = gain / sqrt(fan), gain = sqrt(2 / (1 + slope^2))."""
    shape, dtype, gen = _shape(shape), _dtype(dtype), _gen(rng)
    std = _he_std(shape, negative_slope, mode)
    return _scaled(gen.standard_normal(shape), std, dtype, "negative_slope")


def orthogonal(
    shape, rng, gain: float = 1.0, sign_fix: bool = True, dtype=np.float64
) -> np.ndarray:
    r"""A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix.

    For ``rows >= cols`` the columns are orthonormal (:math:`W^\top W = I`); otherwise the
    rows are (:math:`WW^\top = I`). With ``sign_fix`` the factor :math:`Q` is multiplied by
    :math:`\operatorname{diag}(\operatorname{sign} R_{ii})`, which makes it Haar (uniformly)
    distributed (Mezzadri 2007, *How to generate random matrices from the classical compact
    groups*); ``sign_fix=False`` returns LAPACK's raw :math:`Q`, which is not.
    Extra dimensions are flattened as torch's ``orthogonal_`` does: ``(shape[0], -1)``.
    """
    shape, gain, dtype, gen = _shape(shape), _gain(gain), _dtype(dtype), _gen(rng)
    if isinstance(sign_fix, np.bool_) or not isinstance(sign_fix, bool):
        raise TypeError(f"sign_fix must be True or False, got {sign_fix!r}")
    rows, cols = shape[0], math.prod(shape[1:])
    a = gen.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    if sign_fix:
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return _scaled(q, gain, dtype, "gain").reshape(shape)


def lsuv(
    weights: list[np.ndarray],
    x: np.ndarray,
    activation: Activation,
    tol: float = 0.01,
    max_iter: int = 20,
) -> tuple[list[np.ndarray], list[int]]:
    r"""Layer-sequential unit-variance: rescale each layer until its output variance is 1.

    For each layer in order: forward the batch ``x`` through the (already rescaled) previous
    layers, compute the variance of this layer's pre-activation output over the batch and
    the units, divide the weights by its square root, and repeat until
    :math:`|\operatorname{Var} - 1| <` ``tol`` (or ``max_iter``). Returns the new weights
    (copies) and the number of iterations used per layer. Weights are ``(out, in)``.

    The measured output is the pre-activation :math:`h_l = x_{l-1}W_l^\top`, linear in
    :math:`W_l`, so on a fixed batch one rescale is exact and the loop stops after one
    iteration; the loop matters only if the statistic is not homogeneous in :math:`W_l`.

    ``x`` and every weight: finite float32/float64 arrays of one dtype; ``activation`` maps
    an array to a finite array of the same shape; ``tol`` a finite number > 0; ``max_iter``
    an integer from 1 to 10**6. Every product ``x @ W.T`` must fit in MAX_ELEMENTS.
    An activation that returns something else (``np.int32`` as activation gives integers: a
    ``TypeError`` naming ``activation``; NaN or a wrong shape: ``ValueError``) is refused; an
    exception *raised by* the activation itself is the caller's own and propagates unchanged.
    """
    array(x, "x", 2)
    if not np.isfinite(x).all():
        raise ValueError("x must be finite (no NaN or infinity)")
    if isinstance(weights, str) or not isinstance(weights, Sequence):
        raise TypeError(f"weights must be a list of 2-D arrays, got {type(weights).__name__}")
    if not weights:
        raise ValueError("weights must hold at least one layer")
    if not callable(activation):
        raise TypeError(f"activation must be a callable, got {activation!r}")
    tol = _real(tol, "tol", positive=True)
    if isinstance(max_iter, bool | np.bool_) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not 1 <= max_iter <= 10**6:
        raise ValueError(f"max_iter must be an integer from 1 to 10**6, got {max_iter!r}")
    cols = x.shape[1]
    for i, w in enumerate(weights):
        array(w, f"weights[{i}]", 2, x.dtype)
        if w.shape[1] != cols:
            below = "x has" if i == 0 else f"weights[{i - 1}] gives"
            raise ValueError(f"weights[{i}] expects {w.shape[1]} inputs, {below} {cols}")
        if not np.isfinite(w).all():
            raise ValueError(f"weights[{i}] must be finite (no NaN or infinity)")
        bounded(x.shape[0] * w.shape[0], "the output of a layer", f"weights[{i}]")
        cols = w.shape[0]
    out, iters = [], []
    h = x
    for i, w in enumerate(weights):
        w = w.copy()
        it = 0
        while it < int(max_iter):
            it += 1
            var = float(np.var(h @ w.T))
            if not (var > 0 and math.isfinite(var)):
                raise ValueError(
                    f"layer {i}: the output variance of x through weights[{i}] is {var}; "
                    "cannot rescale (x, weights and activation must give a non-constant, "
                    "finite signal)"
                )
            w /= math.sqrt(var)
            if abs(float(np.var(h @ w.T)) - 1) < tol:
                break
        out.append(w)
        iters.append(it)
        pre = h @ w.T
        h = activation(pre)
        if not isinstance(h, np.ndarray) or h.dtype != pre.dtype:
            raise TypeError(
                f"activation must map a {pre.dtype} array to a {pre.dtype} array of the same "
                f"shape; on layer {i} it gave {type(h).__name__} "
                f"{getattr(h, 'dtype', '')} {getattr(h, 'shape', '')}"
            )
        if h.shape != pre.shape or not np.isfinite(h).all():
            raise ValueError(
                f"activation must map an array to a finite array of the same shape; on layer "
                f"{i} it gave {type(h).__name__} {getattr(h, 'shape', '')}"
            )
    return out, iters
