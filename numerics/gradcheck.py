r"""Central-difference gradients in float64, the third of the three gradient checks.

For a function :math:`f` and an upstream gradient :math:`G`, the gradient of the scalar
:math:`L(x) = \langle G, f(x)\rangle` is estimated element by element:

.. math:: \frac{\partial L}{\partial x_k} \approx \frac{L(x + h e_k) - L(x - h e_k)}{2h},
          \qquad h = 10^{-6}

with truncation error :math:`O(h^2)` and rounding error :math:`O(u/h)`; hence the
``gradcheck`` tolerances ``atol=1e-5, rtol=1e-3`` (``numerics.tolerances.GRADCHECK``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from numerics.tolerances import GRADCHECK


def central_difference(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, upstream: np.ndarray
) -> np.ndarray:
    """Gradient of ``sum(upstream * f(x))`` with respect to ``x`` by central differences."""
    if x.dtype != np.float64:
        raise TypeError(f"central differences need float64 input, got {x.dtype}")
    h = GRADCHECK["eps"]
    grad = np.empty_like(x)
    flat = x.reshape(-1)
    g = grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + h
        plus = float(np.sum(upstream * f(x)))
        flat[k] = old - h
        minus = float(np.sum(upstream * f(x)))
        flat[k] = old
        g[k] = (plus - minus) / (2 * h)
    return grad


def assert_grad_close(actual: np.ndarray, expected: np.ndarray, context: str = "") -> None:
    """Compare gradients with ``gradcheck``'s tolerances (``atol=1e-5, rtol=1e-3``)."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"gradient shape {a.shape} vs {e.shape}\n{context}")
    ok = np.abs(a - e) <= GRADCHECK["atol"] + GRADCHECK["rtol"] * np.abs(e)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(
            f"gradients differ at {idx}: {a[idx]!r} vs {e[idx]!r} "
            f"(gradcheck tolerances atol={GRADCHECK['atol']}, rtol={GRADCHECK['rtol']})\n{context}"
        )
