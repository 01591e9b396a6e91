r"""Central-difference gradients in float64, the third of the three gradient checks.

For a function :math:`f` and an upstream gradient :math:`G`, the gradient of the scalar
:math:`L(x) = \langle G, f(x)\rangle` is estimated element by element:

.. math:: \frac{\partial L}{\partial x_k} \approx
          \Big\langle G, \frac{f(x + h e_k) - f(x - h e_k)}{2h}\Big\rangle,
          \qquad h = 10^{-6}

with truncation error :math:`O(h^2)` and rounding error :math:`O(u/h)`; hence the
``gradcheck`` tolerances ``atol=1e-5, rtol=1e-3`` (``numerics.tolerances.GRADCHECK``, the
defaults of ``torch.autograd.gradcheck``). The difference :math:`f(x+he_k) - f(x-he_k)` is
taken elementwise before the inner product with :math:`G`, which keeps the cancellation
error at the size of the outputs, not of their sum.

Memory layout. The caller's ``x`` is never written: the perturbations act on a private
C-contiguous float64 copy (so Fortran-ordered, strided, negatively strided and read-only
arrays all give the same answer), and the copy is read-only while ``f`` runs, so an ``f``
that writes into its argument fails loudly instead of corrupting the next perturbation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from numerics.tolerances import GRADCHECK, _compare

MAX_ELEMENTS = 2**16
"""Largest ``x.size`` for :func:`central_difference` (it evaluates ``f`` ``2 x.size + 1``
times); beyond it the call is refused at once with ``ValueError`` naming ``x``."""


def _float64_array(value: object, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a float64 NumPy array, got {type(value).__name__}")
    if isinstance(value, np.matrix):  # '*' is a matrix product, always 2-D: other semantics
        raise TypeError(f"{name} must be a plain float64 NumPy array, not np.matrix (np.asarray)")
    if value.dtype != np.float64:
        raise TypeError(f"{name} must be a float64 NumPy array, got dtype {value.dtype}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return value


def _evaluate(f: Callable[[np.ndarray], object], x: np.ndarray, shape: tuple[int, ...]):
    out = f(x)
    if type(out).__module__.startswith("torch") and hasattr(out, "detach"):
        raise TypeError("f must return a NumPy float64 array, got a torch tensor")
    out = np.asarray(out)
    if out.dtype != np.float64:
        raise TypeError(f"f must return a float64 array, got dtype {out.dtype}")
    if out.shape != shape:
        raise ValueError(
            f"f(x) has shape {out.shape} but upstream has shape {shape}: upstream must have "
            "the shape of f's output"
        )
    if not np.isfinite(out).all():
        raise ValueError("f returned a non-finite value (NaN or infinity) at or near x")
    return out.copy()  # f may return a view of its argument, which is perturbed next


def central_difference(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, upstream: np.ndarray
) -> np.ndarray:
    r"""Gradient of :math:`\langle G, f(x)\rangle` with respect to ``x`` by central differences.

    Parameters
    ----------
    f:
        A callable taking an array of ``x``'s shape and returning a float64 array (or float)
        of ``upstream``'s shape, finite near ``x``. It must not write into its argument.
        What it returns is checked (``ValueError``/``TypeError`` naming ``f``); an exception
        that ``f`` itself raises is the caller's own and propagates unchanged.
    x:
        A finite float64 NumPy array, any shape and memory layout; never modified. At most
        :data:`MAX_ELEMENTS` elements.
    upstream:
        A finite float64 NumPy array :math:`G` of the shape of ``f(x)``.

    Returns
    -------
    A new C-contiguous float64 array of ``x``'s shape.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    x = _float64_array(x, "x")
    upstream = _float64_array(upstream, "upstream")
    if x.size > MAX_ELEMENTS:
        raise ValueError(
            f"x has {x.size} elements; central differences evaluate f 2*x.size + 1 times and "
            f"are limited to x.size <= MAX_ELEMENTS = {MAX_ELEMENTS}"
        )
    h = GRADCHECK["eps"]
    xp = np.array(x, dtype=np.float64, order="C", copy=True)  # private, writable, C-order
    flat = xp.reshape(-1)
    if x.size and not np.shares_memory(
        flat, xp
    ):  # pragma: no cover - C-contiguous reshape is a view
        raise RuntimeError("internal error: flat view of the private copy is a copy")
    xp.flags.writeable = False
    _evaluate(f, xp, upstream.shape)  # checks shapes and dtype once, even for empty x
    grad = np.empty(x.size, dtype=np.float64)
    for k in range(x.size):
        old = flat[k]
        xp.flags.writeable = True
        flat[k] = old + h
        xp.flags.writeable = False
        plus = _evaluate(f, xp, upstream.shape)
        xp.flags.writeable = True
        flat[k] = old - h
        xp.flags.writeable = False
        minus = _evaluate(f, xp, upstream.shape)
        xp.flags.writeable = True
        flat[k] = old
        xp.flags.writeable = False
        grad[k] = float(np.sum(upstream * (plus - minus))) / (2 * h)
    return grad.reshape(x.shape)


def assert_grad_close(actual: object, expected: object, context: str = "") -> None:
    r"""Compare gradients with ``gradcheck``'s tolerances:
    :math:`|a - e| \le 10^{-5} + 10^{-3}|e|` elementwise.

    The same rules as :func:`numerics.tolerances.assert_close`: equal shapes (no
    broadcasting), NaN never passes, an infinity only against the same infinity, complex /
    bool / object values refused with ``TypeError`` naming the argument.
    """
    _compare(
        actual,
        expected,
        GRADCHECK["atol"],
        GRADCHECK["rtol"],
        context,
        f"gradcheck tolerances atol={GRADCHECK['atol']}, rtol={GRADCHECK['rtol']}",
    )
