r"""Meta-learning kernels: MAML's meta-gradient on a quadratic task, and FiLM.

``maml_quadratic_meta_gradient``: inner losses :math:`L(\theta) = \frac12(\theta-a)^\top
A(\theta-a)`, query loss :math:`M(\theta) = \frac12(\theta-b)^\top B(\theta-b)`; ``steps``
inner SGD steps with learning rate ``lr`` (:math:`\alpha`), then the gradient of
:math:`M(\theta_k)` with respect to :math:`\theta`: exact (second order)
:math:`\prod(I-\alpha A)\,\nabla M(\theta_k)` (the Jacobian of the inner steps is
:math:`(I - \alpha A)^k`; ``A`` must be symmetric), or ``first_order=True`` for FO-MAML's
:math:`\nabla M(\theta_k)` (Finn et al. 2017, §5.2).

``film(input, gamma, beta)``: :math:`\gamma_{n,c}\,x_{n,c,\ldots} + \beta_{n,c}` (Perez et al.
2018, eq. 1-2), ``input`` ``(N, C, *)``, ``gamma``/``beta`` ``(N, C)`` (one per sample and
feature map, produced from the conditioning input by another network). ``film_backward``
returns ``(grad_input, grad_gamma, grad_beta)``: :math:`\gamma\bar y`,
:math:`\sum x\bar y` and :math:`\sum\bar y` over the spatial axes.

References
----------
Finn, Abbeel & Levine, ICML 2017, Algorithm 1, §5.2. Perez, Strub, de Vries, Dumoulin &
Courville, *FiLM: Visual Reasoning with a General Conditioning Layer*, AAAI 2018.
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import array, flag, integer, real_number

__all__ = ["film", "film_backward", "maml_quadratic_meta_gradient"]

MAX_STEPS = 1000


def maml_quadratic_meta_gradient(
    theta: np.ndarray,
    A: np.ndarray,
    a: np.ndarray,
    B: np.ndarray,
    b: np.ndarray,
    lr: float,
    steps: int = 1,
    first_order: bool = False,
) -> np.ndarray:
    r"""MAML (or FO-MAML) meta-gradient of the quadratic task; vectors ``(n,)``, symmetric
    matrices ``(n, n)`` of one float dtype, ``lr`` finite, ``steps`` in [1, 1000]."""
    array(theta, "theta", 1)
    n = theta.shape[0]
    for name, value, nd in (("A", A, 2), ("a", a, 1), ("B", B, 2), ("b", b, 1)):
        array(value, name, nd, theta.dtype, like="theta")
        if value.shape != (n,) * nd:
            raise ValueError(f"{name} must have shape {(n,) * nd}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} must be finite")
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite")
    for name, m in (("A", A), ("B", B)):
        if not np.allclose(m, m.T, rtol=1e-12, atol=1e-12):
            raise ValueError(f"{name} must be symmetric")
    alpha = real_number(lr, "lr")
    k = integer(steps, "steps", 1)
    if k > MAX_STEPS:
        raise ValueError(f"steps must be an integer in [1, {MAX_STEPS}], got {k}")
    fo = flag(first_order, "first_order")
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    x = theta.astype(np.float64)
    for _ in range(k):
        x = x - alpha * A64 @ (x - a)
    g = B64 @ (x - b)
    if not fo:
        step = np.eye(n) - alpha * A64
        for _ in range(k):
            g = step @ g
    if not np.all(np.isfinite(g)):
        raise ValueError("lr, steps: the inner steps overflowed (choose a smaller lr or steps)")
    return g.astype(theta.dtype)


def _film_args(input: object, gamma: object, name2: str, other: object) -> None:
    array(input, "input", tuple(range(2, 9)), empty_ok=(0,))
    for name, value in (("gamma", gamma), (name2, other)):
        array(value, name, 2, input.dtype, like="input", empty_ok=(0,))
        if value.shape != input.shape[:2]:
            raise ValueError(
                f"{name} must have shape (N, C) = input.shape[:2] = {input.shape[:2]}, "
                f"got {value.shape}"
            )


def film(input: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    r"""FiLM: :math:`\gamma_{nc}x_{nc\ldots} + \beta_{nc}`."""
    _film_args(input, gamma, "beta", beta)
    extra = (1,) * (input.ndim - 2)
    return input * gamma.reshape(gamma.shape + extra) + beta.reshape(beta.shape + extra)


def film_backward(
    grad_output: np.ndarray, input: np.ndarray, gamma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of :func:`film`: ``(grad_input, grad_gamma, grad_beta)``."""
    _film_args(input, gamma, "gamma", gamma)
    array(grad_output, "grad_output", tuple(range(2, 9)), input.dtype, like="input", empty_ok=(0,))
    if grad_output.shape != input.shape:
        raise ValueError(
            f"grad_output and input must have the same shape, got {grad_output.shape} "
            f"and {input.shape}"
        )
    extra = (1,) * (input.ndim - 2)
    axes = tuple(range(2, input.ndim))
    return (
        grad_output * gamma.reshape(gamma.shape + extra),
        np.sum(grad_output * input, axis=axes),
        np.sum(grad_output, axis=axes),
    )
