r"""One tolerance table keyed by dtype, and the comparison every test uses.

The table holds torch.testing's defaults (``assert_close``): float32 ``rtol=1.3e-6,
atol=1e-5``; float64 ``rtol=1e-7, atol=1e-7``.

Reductions. A sum of :math:`n` products computed in floating point with unit roundoff
:math:`u` is within :math:`\gamma_n \sum_i |a_i b_i|` of the exact value,
:math:`\gamma_n = nu/(1 - nu)` (Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed., eq. 3.5). Two correct implementations therefore differ by at most
:math:`2\gamma_n\sum_i|a_ib_i|`. :func:`assert_close` adds this bound to the table's
tolerance when the caller passes ``reduction_length`` :math:`n` and ``magnitude``
:math:`\sum_i|a_ib_i|` (the same operation applied to absolute values). It is a rigorous
bound, not a loosened tolerance: a wrong result is off by :math:`O(1)`, far beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float32): Tolerance(rtol=1.3e-6, atol=1e-5),
    np.dtype(np.float64): Tolerance(rtol=1e-7, atol=1e-7),
}

#: ``torch.autograd.gradcheck`` defaults, used for float64 central differences.
GRADCHECK = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}


def _np_dtype(dtype: object) -> np.dtype:
    """A NumPy dtype from a NumPy dtype/type or a torch dtype (``torch.float32`` …)."""
    text = str(dtype)
    return np.dtype(text.removeprefix("torch.")) if text.startswith("torch.") else np.dtype(dtype)


def tolerance(dtype: object) -> Tolerance:
    """The table's entry for ``dtype`` (a NumPy dtype, type or torch dtype)."""
    key = _np_dtype(dtype)
    if key not in TOLERANCES:
        raise ValueError(f"no tolerance for dtype {dtype}; known: {sorted(map(str, TOLERANCES))}")
    return TOLERANCES[key]


def reduction_bound(dtype: object, reduction_length: int, magnitude: np.ndarray) -> np.ndarray:
    r""":math:`2\gamma_n \cdot` ``magnitude`` for two independent float computations."""
    u = np.finfo(_np_dtype(dtype)).eps / 2
    nu = reduction_length * u
    if nu >= 1:
        raise ValueError(f"reduction_length={reduction_length} too long for {dtype}")
    return 2 * nu / (1 - nu) * np.abs(magnitude)


def assert_close(
    actual: object,
    expected: object,
    dtype: object,
    *,
    reduction_length: int | None = None,
    magnitude: object = None,
    context: str = "",
) -> None:
    """Assert ``|actual - expected| <= atol + rtol*|expected| (+ reduction bound)`` elementwise.

    ``context`` (claim id, inputs, a repro) is printed on failure.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"shape mismatch {a.shape} vs {e.shape}\n{context}")
    tol = tolerance(dtype)
    allowed = tol.atol + tol.rtol * np.abs(e)
    if reduction_length is not None:
        allowed = allowed + reduction_bound(dtype, reduction_length, np.asarray(magnitude))
    err = np.abs(a - e)
    bad = ~(err <= allowed)  # NaN counts as bad
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {a.size} elements differ beyond tolerance ({dtype}: "
            f"rtol={tol.rtol}, atol={tol.atol}"
            + (f", + reduction bound n={reduction_length}" if reduction_length else "")
            + f"); first at {idx}: actual={a[idx]!r} expected={e[idx]!r} "
            f"allowed={allowed[idx] if np.ndim(allowed) else allowed!r}\n{context}"
        )
