r"""Capsule kernels (NumPy float64/float32 references): squash, its backward, dynamic routing.

``squash(input, dim)``: :math:`v = \frac{r}{1+r^2}\,s`, :math:`r = \lVert s\rVert` along
``dim`` (Sabour et al. 2017, eq. 1, written without a division by :math:`r`; exactly 0 at
:math:`s = 0`). ``squash_backward``: :math:`\bar s = f(r)\,\bar v + \frac{f'(r)}{r}\,
s\,(s^\top\bar v)` with :math:`f(r) = r/(1+r^2)`, :math:`f'(r)/r = (1-r^2)/(r(1+r^2)^2)`, the
second term set to 0 where :math:`r = 0` (its limit; :func:`theory.capsules.derive_squash`).

``dynamic_routing(u_hat, num_iterations)``: Procedure 1 of the paper. ``u_hat`` has shape
``(N, in_caps, out_caps, out_dim)`` (the predictions :math:`\hat u_{j|i} = W_{ij}u_i`);
logits :math:`b_{ij} = 0`; each iteration :math:`c_{ij} = \operatorname{softmax}_j(b_{ij})`
(over the **output** capsules, axis 2, so that :math:`\sum_j c_{ij} = 1` for every input
capsule :math:`i`), :math:`s_j = \sum_i c_{ij}\hat u_{j|i}`, :math:`v_j = \operatorname{squash}
(s_j)`, and, except after the last, :math:`b_{ij} \mathrel{+}= \hat u_{j|i}\cdot v_j`.
Returns ``(v, c)``: ``v`` ``(N, out_caps, out_dim)`` and the last coupling coefficients ``c``
``(N, in_caps, out_caps)``. No backward: training differentiates through the unrolled
iterations (torch autograd does; the paper does not say whether gradients flow through
:math:`c`).

References
----------
Sabour, Frosst & Hinton, *Dynamic Routing Between Capsules*, NeurIPS 2017, eq. 1-3 and
Procedure 1.
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import array, integer
from kernels.cpu.attention import softmax

__all__ = ["dynamic_routing", "squash", "squash_backward"]

MAX_ITERATIONS = 100


def _axis(dim: object, ndim: int) -> int:
    if isinstance(dim, bool | np.bool_) or not isinstance(dim, int | np.integer):
        raise TypeError(f"dim must be an int in [{-ndim}, {ndim - 1}], got {type(dim).__name__}")
    if not -ndim <= int(dim) < ndim:
        raise ValueError(f"dim must be an int in [{-ndim}, {ndim - 1}], got {dim}")
    return int(dim) % ndim


def squash(input: np.ndarray, dim: int = -1) -> np.ndarray:
    r"""Squash along ``dim``: :math:`\frac{\lVert s\rVert}{1+\lVert s\rVert^2}s`; any ndim ≥ 1,
    float32 or float64 (result in the input's dtype)."""
    array(input, "input", tuple(range(1, 9)))
    axis = _axis(dim, input.ndim)
    s = input.astype(np.float64)
    r = np.sqrt(np.sum(s * s, axis=axis, keepdims=True))
    return (s * (r / (1.0 + r * r))).astype(input.dtype)


def squash_backward(grad_output: np.ndarray, input: np.ndarray, dim: int = -1) -> np.ndarray:
    r"""Gradient of ``squash(input, dim)`` given ``grad_output`` of the same shape and dtype."""
    array(input, "input", tuple(range(1, 9)))
    array(grad_output, "grad_output", tuple(range(1, 9)), input.dtype, like="input")
    if grad_output.shape != input.shape:
        raise ValueError(
            f"grad_output and input must have the same shape, got {grad_output.shape} "
            f"and {input.shape}"
        )
    axis = _axis(dim, input.ndim)
    s = input.astype(np.float64)
    g = grad_output.astype(np.float64)
    r2 = np.sum(s * s, axis=axis, keepdims=True)
    r = np.sqrt(r2)
    f = r / (1.0 + r2)
    safe = np.where(r > 0, r, 1.0)
    h = np.where(r > 0, (1.0 - r2) / (safe * (1.0 + r2) ** 2), 0.0)
    out = f * g + h * s * np.sum(s * g, axis=axis, keepdims=True)
    return out.astype(input.dtype)


def dynamic_routing(u_hat: np.ndarray, num_iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    r"""Routing by agreement (Procedure 1 of Sabour et al.): ``u_hat`` ``(N, in_caps,
    out_caps, out_dim)``, ``num_iterations`` in [1, 100]; returns ``(v, c)``."""
    array(u_hat, "u_hat", 4, empty_ok=(0,))
    r = integer(num_iterations, "num_iterations", 1)
    if r > MAX_ITERATIONS:
        raise ValueError(f"num_iterations must be an integer in [1, {MAX_ITERATIONS}], got {r}")
    u = u_hat.astype(np.float64)
    if u.shape[0] == 0:  # an empty batch: nothing to route
        _, i, j, d = u.shape
        return np.zeros((0, j, d), u_hat.dtype), np.zeros((0, i, j), u_hat.dtype)
    logits = np.zeros(u.shape[:3])
    for it in range(r):
        c = softmax(logits, dim=2)  # over the output capsules j
        s = np.einsum("nij,nijd->njd", c, u)
        v = squash(s, dim=-1)
        if it < r - 1:
            logits = logits + np.einsum("nijd,njd->nij", u, v)
    return v.astype(u_hat.dtype), c.astype(u_hat.dtype)
