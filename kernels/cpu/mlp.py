r"""A bias-free MLP stack, forward and backward, for variance propagation through depth.

:math:`h_l = W_l\,x_{l-1}`, :math:`x_l = \phi(h_l)`, :math:`x_0` the input. Backward from an
upstream gradient :math:`\delta` on the last output:
:math:`\partial L/\partial h_l = \phi'(h_l)\odot\partial L/\partial x_l`,
:math:`\partial L/\partial x_{l-1} = W_l^\top\,\partial L/\partial h_l`.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = {
    "linear": (lambda h: h, lambda h: np.ones_like(h)),
    "relu": (lambda h: np.maximum(h, 0), lambda h: (h > 0).astype(h.dtype)),
    "tanh": (np.tanh, lambda h: 1 - np.tanh(h) ** 2),
}


def activation(name: str):
    """``(phi, phi_prime)`` for ``linear``, ``relu``, ``tanh``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def mlp_forward(x: np.ndarray, weights: list[np.ndarray], act: str) -> list[np.ndarray]:
    """Pre-activations ``[h_1, …, h_L]`` for a batch ``x`` of shape ``(B, n)``."""
    phi, _ = activation(act)
    hs, cur = [], x
    for w in weights:
        h = cur @ w.T
        hs.append(h)
        cur = phi(h)
    return hs


def mlp_backward(upstream: np.ndarray, hs: list[np.ndarray], weights: list[np.ndarray], act: str):
    """Gradients with respect to each layer's input ``[dL/dx_0, …, dL/dx_{L-1}]``."""
    _, dphi = activation(act)
    grads = [None] * len(weights)
    g = upstream
    for layer in range(len(weights) - 1, -1, -1):
        g = (dphi(hs[layer]) * g) @ weights[layer]
        grads[layer] = g
    return grads
