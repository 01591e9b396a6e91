r"""NumPy weight initializers: Xavier/He (uniform and normal), orthogonal, LSUV.

Fans follow torch (``torch.nn.init._calculate_fan_in_and_fan_out``): for a weight of shape
``(out, in, *kernel)``, ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``.
Normal initializers take a **standard deviation**.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from kernels.cpu._check import array

Activation = Callable[[np.ndarray], np.ndarray]


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape; at least 2 dimensions, all >= 1."""
    if isinstance(shape, int) or not isinstance(shape, Sequence):
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}")
    if len(shape) < 2:
        raise ValueError(f"fans need a weight with at least 2 dimensions, got shape {tuple(shape)}")
    if any(isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 1 for d in shape):
        raise ValueError(f"shape entries must be integers >= 1, got {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _gen(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _gain(gain: float) -> float:
    if isinstance(gain, bool) or not isinstance(gain, int | float) or not gain > 0:
        raise ValueError(f"gain must be a number > 0, got {gain!r}")
    return float(gain)


def xavier_uniform(shape, rng, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fi, fo = fans(shape)
    a = _gain(gain) * math.sqrt(6.0 / (fi + fo))
    return _gen(rng).uniform(-a, a, size=tuple(shape)).astype(dtype)


def xavier_normal(shape, rng, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fi, fo = fans(shape)
    std = _gain(gain) * math.sqrt(2.0 / (fi + fo))
    return (std * _gen(rng).standard_normal(tuple(shape))).astype(dtype)


def _he_std(shape, negative_slope: float, mode: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = fans(shape)
    gain = math.sqrt(2.0 / (1 + negative_slope**2))
    return gain / math.sqrt(fi if mode == "fan_in" else fo)


def he_uniform(shape, rng, negative_slope: float = 0.0, mode: str = "fan_in", dtype=np.float64):
    """U(-a, a), a = sqrt(3) * gain / sqrt(fan), gain = sqrt(2 / (1 + slope^2))."""
    a = math.sqrt(3.0) * _he_std(shape, negative_slope, mode)
    return _gen(rng).uniform(-a, a, size=tuple(shape)).astype(dtype)


def he_normal(shape, rng, negative_slope: float = 0.0, mode: str = "fan_in", dtype=np.float64):
    """N(0, std^2), std = gain / sqrt(fan)."""
    std = _he_std(shape, negative_slope, mode)
    return (std * _gen(rng).standard_normal(tuple(shape))).astype(dtype)


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
    if isinstance(shape, int) or not isinstance(shape, Sequence) or len(shape) < 2:
        raise ValueError(f"orthogonal needs a shape with at least 2 dimensions, got {shape!r}")
    fans(shape)  # validates the entries
    rows, cols = int(shape[0]), math.prod(shape[1:])
    a = _gen(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    if sign_fix:
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return (_gain(gain) * q).reshape(tuple(shape)).astype(dtype)


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
    """
    array(x, "x", 2)
    if not weights:
        raise ValueError("weights must hold at least one layer")
    if not tol > 0 or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter an integer >= 1, got {tol!r}, {max_iter!r}")
    out, iters = [], []
    h = x
    for i, w in enumerate(weights):
        array(w, f"weights[{i}]", 2, x.dtype)
        if w.shape[1] != h.shape[1]:
            raise ValueError(
                f"weights[{i}] expects {w.shape[1]} inputs, the layer below gives {h.shape[1]}"
            )
        w = w.copy()
        it = 0
        while it < max_iter:
            it += 1
            var = float(np.var(h @ w.T))
            if not var > 0:
                raise ValueError(f"layer {i}: output variance is {var}; cannot rescale")
            w /= math.sqrt(var)
            if abs(float(np.var(h @ w.T)) - 1) < tol:
                break
        out.append(w)
        iters.append(it)
        h = activation(h @ w.T)
    return out, iters
