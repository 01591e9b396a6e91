r"""A residual MLP stack in NumPy: forward, hand-written backward, and the path expansion.

Block :math:`l` (:math:`l = 1..L`, square width :math:`d`) maps rows
:math:`y_{l-1} \in \mathbb{R}^{N\times d}` to

.. math::  y_l = y_{l-1} + \phi(y_{l-1}W_l^\top + b_l) \quad(\text{residual}),\qquad
           y_l = \phi(y_{l-1}W_l^\top + b_l) \quad(\text{plain}),

with :math:`\phi` ``relu``, ``tanh`` or ``linear`` (``nn.Linear``'s weight layout
:math:`W_l \in \mathbb{R}^{d\times d}`). The backward is the row-vector chain rule of
002 § Gradient Flow Analysis: :math:`g_{l-1} = g_l + (g_l \odot \phi'(h_l))W_l`
(:math:`h_l` the pre-activation), i.e. :math:`g_l(\partial F_l/\partial y_{l-1} + I)`.

:func:`path_sum` unravels a stack of **linear** blocks without bias (Veit et al. 2016, §3):
:math:`y_L = y_0\prod_l(I + W_l^\top) = \sum_{S\subseteq[L]} y_0\prod_{l\in S}W_l^\top`, the
**sum** of :math:`2^L` weight-sharing paths (not their average).

References: ``002_532ac369c9b692e7.txt`` § Sequential vs Residual Architectures; K. He et al.
(2016), *Deep Residual Learning*, §3.2; A. Veit et al. (2016), *Residual Networks Behave
Like Ensembles of Relatively Shallow Networks*, §3.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from kernels.cpu._check import array, bounded, flag, is_array

__all__ = ["ACTIVATIONS", "MAX_PATH_BLOCKS", "path_sum", "residual_mlp", "residual_mlp_backward"]

ACTIVATIONS = ("relu", "tanh", "linear")
"""The activations :math:`\\phi` of the blocks."""

MAX_PATH_BLOCKS = 12
"""Largest number of blocks :func:`path_sum` enumerates (4096 paths)."""


def _phi(h: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return np.maximum(h, 0)
    if act == "tanh":
        return np.tanh(h)
    return h


def _dphi(h: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return (h > 0).astype(h.dtype)
    if act == "tanh":
        return 1 - np.tanh(h) ** 2
    return np.ones_like(h)


def _operands(x, weights, biases, act, residual, max_blocks=None):
    """Check the operands; return (weights list, biases list or None, activation, residual)."""
    array(x, "x", 2, empty_ok=(0,))
    d = x.shape[1]
    if isinstance(weights, np.ndarray) or not isinstance(weights, list | tuple):
        raise TypeError(
            f"weights must be a list or tuple of (d, d) arrays, got {type(weights).__name__}"
        )
    if len(weights) == 0:
        raise ValueError("weights must hold at least one (d, d) array (one per block)")
    if max_blocks is not None and len(weights) > max_blocks:
        raise ValueError(
            f"weights must hold at most {max_blocks} blocks here (2^L paths), got {len(weights)}"
        )
    ws = []
    for i, w in enumerate(weights):
        if not is_array(w):
            raise TypeError(f"weights[{i}] must be a numpy.ndarray, got {type(w).__name__}")
        array(w, f"weights[{i}]", 2, x.dtype, like="x")
        if w.shape != (d, d):
            raise ValueError(f"weights[{i}] must have shape ({d}, {d}) (x's width), got {w.shape}")
        ws.append(w)
    bs = None
    if biases is not None:
        if isinstance(biases, np.ndarray) or not isinstance(biases, list | tuple):
            raise TypeError(
                f"biases must be None or a list or tuple of (d,) arrays, got "
                f"{type(biases).__name__}"
            )
        if len(biases) != len(ws):
            raise ValueError(
                f"biases must hold one (d,) array per block ({len(ws)}), got {len(biases)}"
            )
        bs = []
        for i, b in enumerate(biases):
            if not is_array(b):
                raise TypeError(f"biases[{i}] must be a numpy.ndarray, got {type(b).__name__}")
            array(b, f"biases[{i}]", 1, x.dtype, like="x")
            if b.shape != (d,):
                raise ValueError(f"biases[{i}] must have shape ({d},), got {b.shape}")
            bs.append(b)
    if not isinstance(act, str):
        raise TypeError(f"activation must be one of {ACTIVATIONS}, got {act!r}")
    if act not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {act!r}")
    residual = flag(residual, "residual")
    bounded(x.size * (len(ws) + 1), "the stored block inputs", "x")
    return ws, bs, act, residual


def _forward(x, ws, bs, act, residual):
    ys, hs = [x], []
    for i, w in enumerate(ws):
        h = ys[-1] @ w.T
        if bs is not None:
            h = h + bs[i]
        hs.append(h)
        f = _phi(h, act)
        ys.append(ys[-1] + f if residual else f)
    return ys, hs


def residual_mlp(
    x: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None = None,
    activation: str = "relu",
    residual: bool = True,
) -> np.ndarray:
    r"""The stack's output :math:`y_L` (see the module docstring).

    Parameters
    ----------
    x:
        ``(N, d)`` float32/float64 array (``N = 0`` allowed).
    weights:
        A list/tuple of ``L >= 1`` arrays of shape ``(d, d)`` and ``x``'s dtype.
    biases:
        ``None`` or a list/tuple of ``L`` arrays of shape ``(d,)``.
    activation:
        ``"relu"``, ``"tanh"`` or ``"linear"``.
    residual:
        ``True`` for :math:`y_l = y_{l-1} + F_l(y_{l-1})`, ``False`` for the plain stack.

    The stored block inputs (``(L+1)·N·d`` elements) are bounded by
    ``kernels.cpu._check.MAX_ELEMENTS``.
    """
    ws, bs, act, residual = _operands(x, weights, biases, activation, residual)
    return _forward(x, ws, bs, act, residual)[0][-1]


def residual_mlp_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None = None,
    activation: str = "relu",
    residual: bool = True,
) -> dict[str, object]:
    r"""Gradients of :math:`\langle G, y_L\rangle` (``grad_output`` :math:`= G`, shape of
    :math:`y_L`) with respect to the input and the parameters.

    Backward through block :math:`l` (:math:`h_l = y_{l-1}W_l^\top + b_l`,
    :math:`\delta_l = g_l\odot\phi'(h_l)`): :math:`\partial/\partial W_l = \delta_l^\top
    y_{l-1}`, :math:`\partial/\partial b_l = \sum_n \delta_l`, and
    :math:`g_{l-1} = \delta_l W_l + g_l` (residual; the plain stack drops :math:`+ g_l`).
    ReLU's derivative at 0 is taken as 0 (torch's convention).

    Returns ``{"input": (N, d) array, "weights": [L arrays (d, d)], "biases": [L arrays (d,)]
    or None}`` (``None`` when ``biases`` is ``None``). Other arguments as
    :func:`residual_mlp`; ``grad_output`` an array of ``x``'s shape and dtype.
    """
    ws, bs, act, residual = _operands(x, weights, biases, activation, residual)
    array(grad_output, "grad_output", 2, x.dtype, empty_ok=(0,), like="x")
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output must have x's shape {x.shape}, got {grad_output.shape}")
    ys, hs = _forward(x, ws, bs, act, residual)
    g = grad_output
    gw: list[np.ndarray] = [None] * len(ws)  # type: ignore[list-item]
    gb: list[np.ndarray] = [None] * len(ws)  # type: ignore[list-item]
    for i in range(len(ws) - 1, -1, -1):
        delta = g * _dphi(hs[i], act)
        gw[i] = delta.T @ ys[i]
        gb[i] = delta.sum(axis=0)
        back = delta @ ws[i]
        g = back + g if residual else back
    return {"input": g, "weights": gw, "biases": gb if bs is not None else None}


def path_sum(x: np.ndarray, weights: Sequence[np.ndarray], by_length: bool = False) -> np.ndarray:
    r"""The output of a stack of **linear** residual blocks :math:`y_l = y_{l-1} +
    y_{l-1}W_l^\top` computed as the explicit sum over its :math:`2^L` paths.

    A path is a subset :math:`S = \{l_1 < \dots < l_k\}` of the blocks; it contributes
    :math:`x W_{l_1}^\top\cdots W_{l_k}^\top` (the empty path: :math:`x`). The sum equals
    ``residual_mlp(x, weights, activation="linear")``. With ``by_length=True`` the result is
    the ``(L+1, N, d)`` array of the partial sums over the paths of each length :math:`k`
    (summing over axis 0 gives the output).

    ``x`` ``(N, d)``; ``weights`` 1 to ``MAX_PATH_BLOCKS`` arrays ``(d, d)`` of ``x``'s dtype;
    ``by_length`` a bool. The work, :math:`2^L N d` elements, is bounded by
    ``kernels.cpu._check.MAX_ELEMENTS``.
    """
    ws, _, _, _ = _operands(x, weights, None, "linear", True, MAX_PATH_BLOCKS)
    by_length = flag(by_length, "by_length")
    n = len(ws)
    bounded(x.size * 2**n, "the 2^L path outputs", "weights")
    out = np.zeros((n + 1, *x.shape), dtype=x.dtype)
    for mask in itertools.product((False, True), repeat=n):
        y = x
        for take, w in zip(mask, ws, strict=True):
            if take:
                y = y @ w.T
        out[sum(mask)] += y
    return out if by_length else out.sum(axis=0)
