r"""Batch, layer, instance and group normalization in NumPy, forward and hand-written backward.

All four share one core: normalize over a set of axes with the biased variance,

.. math:: \hat x = \frac{x - \mu}{s},\quad s = \sqrt{\sigma^2 + \epsilon},\qquad
          \frac{\partial L}{\partial x}
          = \frac1s\Big(g' - \overline{g'} - \hat x\,\overline{g'\hat x}\Big)

where :math:`g' = \partial L/\partial\hat x = \gamma\odot\partial L/\partial y` and the bars are
means over the normalized axes (derived and proved in :mod:`theory.normalization`). Affine
parameters: per channel for batch/instance/group norm, elementwise over
``normalized_shape`` for layer norm. Inputs are ``(N, C)`` or ``(N, C, *spatial)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.cpu._check import array


@dataclass
class Cache:
    """What the backward pass needs from the forward pass."""

    xhat: np.ndarray
    inv_std: np.ndarray
    axes: tuple[int, ...]
    gamma_view: np.ndarray | None
    shape: tuple[int, ...]
    param_axes: tuple[int, ...]  # axes gamma/beta gradients are summed over


def _eps(eps: float) -> float:
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}")
    return float(eps)


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mean) * inv_std, mean, var, inv_std


def _affine(name: str, value: np.ndarray | None, expected: tuple[int, ...], dtype) -> None:
    if value is not None:
        array(value, name, len(expected), dtype)
        if value.shape != expected:
            raise ValueError(f"{name} must have shape {expected}, got {value.shape}")


def _channel_view(p: np.ndarray | None, ndim: int) -> np.ndarray | None:
    return None if p is None else p.reshape((1, -1) + (1,) * (ndim - 2))


def _finish(xhat, gamma_view, beta_view):
    y = xhat if gamma_view is None else xhat * gamma_view
    return y if beta_view is None else y + beta_view


def batch_norm(
    x: np.ndarray,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    eps: float = 1e-5,
    training: bool = True,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    momentum: float = 0.1,
) -> tuple[np.ndarray, Cache | None]:
    r"""BatchNorm over ``(N, *spatial)`` per channel.

    Training: batch statistics (biased variance); if running buffers are given they are
    updated **in place** as torch does: ``running = (1 - momentum) * running + momentum *
    batch``, with the *unbiased* batch variance. Eval: the running statistics normalize.
    Returns ``(y, cache)`` (cache ``None`` in eval mode).
    """
    array(x, "x", (2, 3, 4, 5))
    c = x.shape[1]
    eps = _eps(eps)
    _affine("gamma", gamma, (c,), x.dtype)
    _affine("beta", beta, (c,), x.dtype)
    axes = (0, *range(2, x.ndim))
    m = x.size // c
    gv, bv = _channel_view(gamma, x.ndim), _channel_view(beta, x.ndim)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("eval mode needs running_mean and running_var")
        _affine("running_mean", running_mean, (c,), x.dtype)
        _affine("running_var", running_var, (c,), x.dtype)
        xhat = (x - _channel_view(running_mean, x.ndim)) / np.sqrt(
            _channel_view(running_var, x.ndim) + eps
        )
        return _finish(xhat, gv, bv), None
    if m < 2:
        raise ValueError(
            f"training-mode batch norm needs more than 1 value per channel, got input shape "
            f"{x.shape} ({m} value per channel)"
        )
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    xhat, mean, var, inv_std = _normalize(x, axes, eps)
    for name, buf, stat in (
        ("running_mean", running_mean, mean),
        ("running_var", running_var, var * m / (m - 1)),
    ):
        if buf is not None:
            _affine(name, buf, (c,), x.dtype)
            buf *= 1 - momentum
            buf += momentum * stat.reshape(c)
    return _finish(xhat, gv, bv), Cache(xhat, inv_std, axes, gv, x.shape, _not_channel(x.ndim))


def _not_channel(ndim: int) -> tuple[int, ...]:
    return (0, *range(2, ndim))


def _need_two(m: int, what: str, shape: tuple[int, ...]) -> None:
    if m < 2:
        raise ValueError(
            f"{what} normalizes over a single value for input shape {shape}: every output would "
            f"be 0 (beta); need more than 1 value per normalized set"
        )


def layer_norm(
    x: np.ndarray,
    normalized_ndim: int,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, Cache]:
    """LayerNorm over the last ``normalized_ndim`` axes; gamma/beta have that trailing shape."""
    array(x, "x", (2, 3, 4, 5))
    if (
        isinstance(normalized_ndim, bool)
        or not isinstance(normalized_ndim, int)
        or not (1 <= normalized_ndim < x.ndim)
    ):
        raise ValueError(
            f"normalized_ndim must be an int in [1, {x.ndim - 1}], got {normalized_ndim!r}"
        )
    tail = x.shape[x.ndim - normalized_ndim :]
    _affine("gamma", gamma, tail, x.dtype)
    _affine("beta", beta, tail, x.dtype)
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    xhat, _, _, inv_std = _normalize(x, axes, _eps(eps))
    leading = tuple(range(x.ndim - normalized_ndim))
    return _finish(xhat, gamma, beta), Cache(xhat, inv_std, axes, gamma, x.shape, leading)


def instance_norm(
    x: np.ndarray,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, Cache]:
    """InstanceNorm: per sample and channel over the spatial axes (input ``(N, C, *spatial)``)."""
    array(x, "x", (3, 4, 5))
    c = x.shape[1]
    _affine("gamma", gamma, (c,), x.dtype)
    _affine("beta", beta, (c,), x.dtype)
    axes = tuple(range(2, x.ndim))
    _need_two(int(np.prod(x.shape[2:])), "instance norm", x.shape)
    xhat, _, _, inv_std = _normalize(x, axes, _eps(eps))
    gv, bv = _channel_view(gamma, x.ndim), _channel_view(beta, x.ndim)
    return _finish(xhat, gv, bv), Cache(xhat, inv_std, axes, gv, x.shape, _not_channel(x.ndim))


def group_norm(
    x: np.ndarray,
    groups: int,
    gamma: np.ndarray | None = None,
    beta: np.ndarray | None = None,
    eps: float = 1e-5,
) -> tuple[np.ndarray, Cache]:
    """GroupNorm: per sample over groups of ``C/groups`` channels and the spatial axes."""
    array(x, "x", (2, 3, 4, 5))
    n, c = x.shape[:2]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be an integer >= 1, got {groups!r}")
    if c % groups:
        raise ValueError(f"groups must divide the number of channels: C={c}, groups={groups}")
    _affine("gamma", gamma, (c,), x.dtype)
    _affine("beta", beta, (c,), x.dtype)
    _need_two((c // groups) * int(np.prod(x.shape[2:])), "group norm", x.shape)
    xg = x.reshape(n, groups, c // groups, *x.shape[2:])
    axes = tuple(range(2, xg.ndim))
    xhat_g, _, _, inv_std = _normalize(xg, axes, _eps(eps))
    xhat = xhat_g.reshape(x.shape)
    gv, bv = _channel_view(gamma, x.ndim), _channel_view(beta, x.ndim)
    return _finish(xhat, gv, bv), Cache(xhat_g, inv_std, axes, gv, x.shape, _not_channel(x.ndim))


def norm_backward(grad_out: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dgamma, dbeta)`` for any of the four layers, from the forward ``cache``.

    ``dgamma``/``dbeta`` have the shape of gamma (per channel, or ``normalized_shape``).
    """
    array(grad_out, "grad_out", len(cache.shape))
    if grad_out.shape != cache.shape:
        raise ValueError(f"grad_out must have shape {cache.shape}, got {grad_out.shape}")
    xhat_flat = cache.xhat.reshape(cache.shape)
    gprime = grad_out if cache.gamma_view is None else grad_out * cache.gamma_view
    gp = gprime.reshape(cache.xhat.shape)  # group layout for group norm
    mean_g = gp.mean(axis=cache.axes, keepdims=True)
    mean_gx = (gp * cache.xhat).mean(axis=cache.axes, keepdims=True)
    dx = (cache.inv_std * (gp - mean_g - cache.xhat * mean_gx)).reshape(cache.shape)
    dgamma = (grad_out * xhat_flat).sum(axis=cache.param_axes)
    dbeta = grad_out.sum(axis=cache.param_axes)
    return dx, dgamma, dbeta
