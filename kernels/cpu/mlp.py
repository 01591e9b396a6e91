r"""A bias-free MLP stack, forward and backward, for variance propagation through depth.

:math:`h_l = W_l\,x_{l-1}` (batch rows: :math:`H_l = X_{l-1}W_l^\top`), :math:`x_l =
\phi(h_l)`, :math:`x_0` the input, :math:`W_l` of shape :math:`(n_l, n_{l-1})`. Backward from
an upstream gradient :math:`\delta` on the last output :math:`x_L`:

.. math:: \frac{\partial L}{\partial h_l} = \phi'(h_l)\odot\frac{\partial L}{\partial x_l},
          \qquad \frac{\partial L}{\partial x_{l-1}} = W_l^\top\,\frac{\partial L}{\partial h_l}
          \quad(\text{rows: } G_{l-1} = (\phi'(H_l)\odot G_l)\,W_l)

(``000_160a0b7c04e12fc6.txt`` § Advanced Linear Layer Concepts; the chain rule through an
elementwise activation). Products go through :mod:`numerics.opcount`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kernels.cpu._check import array, bounded, is_array
from numerics.opcount import counted_einsum

ACTIVATIONS = {
    "linear": (lambda h: h, lambda h: np.ones_like(h)),
    "relu": (lambda h: np.maximum(h, 0), lambda h: (h > 0).astype(h.dtype)),
    "tanh": (np.tanh, lambda h: 1 - np.tanh(h) ** 2),
}


def activation(name: str) -> tuple[Callable, Callable]:
    """``(phi, phi_prime)`` for ``linear``, ``relu``, ``tanh``."""
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    if name not in ACTIVATIONS:
        raise ValueError(f"name: unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _check_weights(
    weights: object, dtype: np.dtype, width: int, like: str = "x"
) -> list[np.ndarray]:
    if not isinstance(weights, list | tuple) or len(weights) == 0:
        raise TypeError(
            f"weights must be a non-empty list of 2-D arrays (n_l, n_(l-1)), got {weights!r:.60}"
        )
    for i, w in enumerate(weights):
        array(w, "weights", 2, dtype, like=like)
        if w.shape[1] != width:
            raise ValueError(
                f"weights[{i}] must have {width} columns (the features of x or the previous "
                f"layer's width), got {w.shape}"
            )
        width = w.shape[0]
    return list(weights)


def _mlp_activation(act: object) -> tuple[Callable, Callable]:
    if not isinstance(act, str):
        raise TypeError(f"act must be one of {list(ACTIVATIONS)}, got {type(act).__name__}")
    if act not in ACTIVATIONS:
        raise ValueError(f"act: unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[act]


def mlp_forward(x: np.ndarray, weights: list[np.ndarray], act: str) -> list[np.ndarray]:
    """Pre-activations ``[h_1, …, h_L]`` for a batch ``x`` of shape ``(B, n_0)``."""
    phi, _ = _mlp_activation(act)
    array(x, "x", 2)
    ws = _check_weights(weights, x.dtype, x.shape[1])
    bounded(x.shape[0] * sum(w.shape[0] for w in ws), "the pre-activations", "weights")
    hs, cur = [], x
    for w in ws:
        h = counted_einsum("bn,mn->bm", cur, w)
        hs.append(h)
        cur = phi(h)
    return hs


def mlp_backward(
    upstream: np.ndarray, hs: list[np.ndarray], weights: list[np.ndarray], act: str
) -> list[np.ndarray]:
    """Gradients with respect to each layer's input ``[dL/dx_0, …, dL/dx_{L-1}]`` given
    ``upstream`` = dL/dx_L ``(B, n_L)`` and the forward's pre-activations ``hs``."""
    _, dphi = _mlp_activation(act)
    array(upstream, "upstream", 2)
    if not isinstance(hs, list | tuple) or len(hs) == 0:
        raise TypeError(f"hs must be the non-empty list returned by mlp_forward, got {hs!r:.60}")
    if not isinstance(weights, list | tuple) or len(weights) != len(hs):
        raise TypeError(
            f"weights must be a list of {len(hs)} arrays (one per entry of hs), got {weights!r:.60}"
        )
    if not is_array(weights[0]) or weights[0].ndim != 2:
        array(weights[0], "weights", 2)
    ws = _check_weights(weights, upstream.dtype, weights[0].shape[1], like="upstream")
    batch = upstream.shape[0]
    for i, (h, w) in enumerate(zip(hs, ws, strict=True)):
        array(h, "hs", 2, upstream.dtype, like="upstream")
        if h.shape != (batch, w.shape[0]):
            raise ValueError(
                f"hs[{i}] must have shape {(batch, w.shape[0])} (rows of upstream, rows of "
                f"weights[{i}]), got {h.shape}"
            )
    if upstream.shape != hs[-1].shape:
        raise ValueError(f"upstream must have shape {hs[-1].shape}, got {upstream.shape}")
    grads: list[np.ndarray] = [upstream] * len(ws)
    g = upstream
    for layer in range(len(ws) - 1, -1, -1):
        g = counted_einsum("bm,mn->bn", dphi(hs[layer]) * g, ws[layer])
        grads[layer] = g
    return grads
