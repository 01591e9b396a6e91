r"""Batch, layer, instance, group and RMS normalization in NumPy, forward and hand-written backward,
with torch's ``torch.nn.functional`` signatures (a float64 drop-in reference).

All four share one core: normalize over a set :math:`S` of :math:`m` entries with the biased
variance,

.. math:: \hat x = \frac{x - \mu}{s},\quad s = \sqrt{\sigma^2 + \epsilon},\qquad
          \frac{\partial L}{\partial x}
          = \frac1s\Big(g' - \overline{g'} - \hat x\,\overline{g'\hat x}\Big)

where :math:`g' = \partial L/\partial\hat x = \gamma\odot\partial L/\partial y` and the bars are
means over :math:`S` (derived and proved in :mod:`theory.normalization`); then
:math:`y = \gamma\hat x + \beta` with ``weight`` :math:`\gamma` and ``bias`` :math:`\beta` (per
channel for batch/instance/group norm, elementwise over ``normalized_shape`` for layer norm),
and :math:`\partial L/\partial\gamma = \sum g\,\hat x`, :math:`\partial L/\partial\beta = \sum g`
over everything but the parameter's axes. Eval-mode batch norm (and instance norm with
``use_input_stats=False``) normalizes with the running statistics instead: :math:`\hat x =
(x - \mu_r)/\sqrt{\sigma_r^2 + \epsilon}` is then affine in :math:`x`, so
:math:`\partial L/\partial x = \gamma g/\sqrt{\sigma_r^2+\epsilon}`.

Training-mode batch norm updates the running buffers **in place** as torch does,
``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch variance
:math:`\frac{m}{m-1}\sigma^2`; instance norm updates them with the batch mean of the
per-instance statistics (torch's rule). The backward functions take the forward's arguments
and never touch the buffers.

Domain (each violation is a ``ValueError``/``TypeError`` naming the argument):

* ``eps``: a finite real number (Python or NumPy); for batch norm, as torch, ``eps > 0`` in
  training and ``eps >= 0`` in eval mode. torch's layer/group/instance norm accept any
  ``eps`` (OpInfo samples use ``eps = -0.5``); we accept any finite ``eps`` but require
  :math:`\sigma^2 + \epsilon > 0` in every normalized set (else ``ValueError`` naming ``eps``):
  torch returns NaN there (``eps = 0`` on a constant input), we never do. ``eps = inf`` is
  refused (it maps every input to 0).
* ``momentum``: any finite real number, as torch (which checks nothing; its OpInfo samples use
  −1.2 and −1.0, and our drop-in test runs them). Only :math:`0 \le` ``momentum`` :math:`\le 1`
  is a convex average: outside it the updated ``running_var`` can become **negative** (e.g.
  ``momentum = 2`` from ``running_var = 1`` and a small batch variance). That is not refused at
  update time (torch does not); a later eval-mode call whose ``running_var + eps <= 0`` is then
  refused with ``ValueError`` naming ``running_var`` (its negative entries), not ``eps``.
* flags (``training``, ``use_input_stats``): real bools.
* a normalized set of one entry: layer and group norm output ``bias`` there (as torch);
  training-mode batch norm and instance norm refuse it (as torch).
* ``x``: float32/float64, ``(N, C, *)``; an empty batch ``N = 0`` is allowed (empty output,
  buffers untouched, as torch), no other empty axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernels.cpu._check import FLOAT_DTYPES, is_array, not_array, real_number

__all__ = [
    "batch_norm",
    "batch_norm_backward",
    "group_norm",
    "group_norm_backward",
    "instance_norm",
    "instance_norm_backward",
    "layer_norm",
    "layer_norm_backward",
    "rms_norm",
    "rms_norm_backward",
]

Grads = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]

# --------------------------------------------------------------------------- argument checks


def _input(x: object, min_ndim: int) -> np.ndarray:
    if not is_array(x):
        raise not_array(x, "x")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
    if x.ndim < min_ndim:
        raise ValueError(f"x must have ndim >= {min_ndim} ((N, C, *)), got shape {x.shape}")
    if 0 in x.shape[1:]:
        raise ValueError(f"x may have an empty batch but no other empty axis, got {x.shape}")
    return x


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} ({value!r})")
    return bool(value)


def _param(name: str, value: object, expected: tuple[int, ...], dtype) -> np.ndarray | None:
    if value is None:
        return None
    if not is_array(value):
        raise not_array(value, name, "None or a numpy.ndarray")
    if value.dtype != dtype:
        raise TypeError(f"{name} must have the input's dtype ({dtype}), got {value.dtype}")
    if value.shape != expected:
        raise ValueError(
            f"{name} must have shape {expected} (set by x and the normalized axes), got "
            f"{value.shape}"
        )
    return value


def _grad(grad_out: object, x: np.ndarray) -> np.ndarray:
    if not is_array(grad_out):
        raise not_array(grad_out, "grad_out")
    if grad_out.dtype != x.dtype:
        raise TypeError(f"grad_out must have the input's dtype ({x.dtype}), got {grad_out.dtype}")
    if grad_out.shape != x.shape:
        raise ValueError(f"grad_out must have the shape of x {x.shape}, got {grad_out.shape}")
    return grad_out


def _channel(p: np.ndarray | None, ndim: int) -> np.ndarray | None:
    return None if p is None else p.reshape((1, -1) + (1,) * (ndim - 2))


# --------------------------------------------------------------------------- the shared core


def _set_scale(xs: np.ndarray, axes: tuple[int, ...]) -> np.ndarray | None:
    """A power of two per normalized set with ``|x| / scale < 2``, for sets whose squares
    could overflow (max ``|x| >= 2**(maxexp/2 - 16)``: ``2**496`` in float64, ``2**48`` in
    float32); ``None`` when no set is that large (the common case: nothing is rescaled)."""
    info = np.finfo(xs.dtype)
    with np.errstate(invalid="ignore"):  # NaN inputs propagate, as in torch
        amax = np.abs(xs).max(axis=axes, keepdims=True)
        big = amax >= 2.0 ** (info.maxexp // 2 - 16)
    if not big.any():
        return None
    exponent = np.frexp(np.where(big & np.isfinite(amax), amax, 1))[1]  # amax < 2**exponent
    return np.ldexp(np.ones_like(amax), exponent - 1)


def _statistics(xs: np.ndarray, axes: tuple[int, ...], eps: float, what: str):
    r"""``(xhat, inv_std, mean, biased var)`` over ``axes``; refuses ``var + eps <= 0``.

    Normalization is scale invariant up to eps: :math:`\hat x = (x/s - \mu/s)/\sqrt{\sigma^2/s^2
    + \epsilon/s^2}`. A set whose squares could overflow (``|x|`` beyond about ``1e149`` in
    float64) is divided by a power of two ``s`` first (exact), so finite input never gives NaN
    or a wrong 0; its returned ``var`` may overflow to ``inf`` (as torch's running variance).
    """
    scale = _set_scale(xs, axes)
    if scale is not None:
        xs = xs / scale
        eps_s = eps / scale / scale  # may underflow to 0: then only the sign of eps matters
    mean = xs.mean(axis=axes, keepdims=True)
    if scale is not None:  # eps/s**2 no longer hides the mean's rounding: one refinement
        mean = mean + (xs - mean).mean(axis=axes, keepdims=True)  # (a constant set: exact)
    var = ((xs - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    denom = var + (eps if scale is None else eps_s)
    if scale is not None and eps > 0:
        denom = np.maximum(denom, np.finfo(xs.dtype).tiny)  # eps/s**2 underflowed, still > 0
    if (denom <= 0).any():  # NaN (from a NaN input) propagates, as in torch
        raise ValueError(
            f"eps: {what} needs variance + eps > 0 in every normalized set, got eps = {eps!r} "
            f"and a variance of {float(var.min())!r} (a constant set needs eps > 0)"
        )
    inv_std = 1.0 / np.sqrt(denom)
    xhat = (xs - mean) * inv_std
    if scale is None:
        return xhat, inv_std, mean, var
    with np.errstate(over="ignore", under="ignore"):  # huge statistics overflow to inf
        return xhat, inv_std / scale, mean * scale, var * scale * scale


def _affine(xhat: np.ndarray, w: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    y = xhat if w is None else xhat * w
    return y if b is None else y + b


def _input_grad(gprime: np.ndarray, xhat: np.ndarray, inv_std, axes: tuple[int, ...]):
    r""":math:`\frac1s(g' - \overline{g'} - \hat x\,\overline{g'\hat x})` over ``axes``."""
    info = np.finfo(gprime.dtype)
    with np.errstate(invalid="ignore"):  # NaN propagates, as in torch
        top = float(np.abs(gprime).max()) if gprime.size else 0.0
    # linear in g': a huge finite g' (where g' * xhat or the sums could overflow: |g'| beyond
    # 2**(maxexp - 48)) is divided by a power of two and the result multiplied back (exact)
    e = int(np.frexp(top)[1]) if np.isfinite(top) and top >= 2.0 ** (info.maxexp - 48) else 0
    if e:
        gprime = np.ldexp(gprime, -e)
    mean_g = gprime.mean(axis=axes, keepdims=True)
    mean_gx = (gprime * xhat).mean(axis=axes, keepdims=True)
    dx = inv_std * (gprime - mean_g - xhat * mean_gx)
    if not e:
        return dx
    with np.errstate(over="ignore"):  # a gradient beyond the float range is inf (IEEE, torch)
        return np.ldexp(dx, e)


def _param_grads(g, xhat, weight, bias, axes) -> tuple[np.ndarray | None, np.ndarray | None]:
    dw = None if weight is None else (g * xhat).sum(axis=axes).reshape(weight.shape)
    db = None if bias is None else g.sum(axis=axes).reshape(bias.shape)
    return dw, db


def _running(name: str, buf: np.ndarray | None, c: int, dtype, writable: bool) -> np.ndarray | None:
    buf = _param(name, buf, (c,), dtype)
    if buf is not None and writable and not buf.flags.writeable:
        raise ValueError(f"{name} must be writable: training updates it in place")
    return buf


# --------------------------------------------------------------------------- batch norm


def _batch_setup(x, running_mean, running_var, weight, bias, training, momentum, eps):
    x = _input(x, 2)
    c = x.shape[1]
    train = _flag(training, "training")
    mom, e = real_number(momentum, "momentum"), real_number(eps, "eps")
    rm = _running("running_mean", running_mean, c, x.dtype, train)
    rv = _running("running_var", running_var, c, x.dtype, train)
    if (rm is None) != (rv is None):
        raise ValueError("running_mean and running_var must be given together (or both None)")
    if not train and rm is None:
        raise ValueError("training=False (eval mode) needs running_mean and running_var")
    if e <= 0 if train else e < 0:  # torch's rule for batch_norm (not the other three)
        raise ValueError(
            f"eps must be > 0 in training-mode batch norm and >= 0 in eval mode (as torch), "
            f"got eps={eps!r} with training={train}"
        )
    w = _param("weight", weight, (c,), x.dtype)
    b = _param("bias", bias, (c,), x.dtype)
    axes = (0, *range(2, x.ndim))
    m = x.size // c
    if train and x.size and m < 2:
        raise ValueError(
            f"x: training-mode batch norm needs more than 1 value per channel, got input shape "
            f"{x.shape} ({m} value per channel)"
        )
    return x, c, train, mom, e, rm, rv, w, b, axes, m


def _eval_stats(x, rm, rv, eps, what):
    denom = _channel(rv, x.ndim) + eps
    bad = (denom <= 0).reshape(-1)
    if bad.any() and (rv[bad] < 0).any():  # a negative variance is the buffer's fault
        raise ValueError(
            f"running_var: {what} needs running_var + eps > 0, but running_var has negative "
            f"entries (min {float(rv.min())!r}; a variance is >= 0 — training with a momentum "
            f"outside [0, 1] can make it negative), eps = {eps!r}"
        )
    if bad.any():
        raise ValueError(
            f"eps: {what} needs running_var + eps > 0, got eps = {eps!r} and running_var "
            f"min {float(rv.min())!r}"
        )
    inv_std = 1.0 / np.sqrt(denom)
    return (x - _channel(rm, x.ndim)) * inv_std, inv_std


def batch_norm(
    x: np.ndarray,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""BatchNorm of ``(N, C, *)`` per channel over :math:`(N, *)`: ``F.batch_norm``.

    Training: batch statistics (biased variance); given running buffers are updated in
    place, ``running = (1 - momentum) * running + momentum * batch`` with the unbiased batch
    variance. Eval (``training=False``, torch's default): the running statistics normalize.

    ``momentum`` may be any finite number, as in torch; outside :math:`[0, 1]` the update is
    not a convex average and ``running_var`` can become negative (a later eval call then
    refuses it, naming ``running_var``).
    """
    x, c, train, mom, e, rm, rv, w, b, axes, m = _batch_setup(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )
    if not train:
        xhat, _ = _eval_stats(x, rm, rv, e, "eval-mode batch norm")
        return _affine(xhat, _channel(w, x.ndim), _channel(b, x.ndim))
    if x.size == 0:
        return x.copy()
    xhat, _, mean, var = _statistics(x, axes, e, "batch norm")
    if rm is not None:
        unbiased = var.reshape(c) * m / (m - 1)
        rm[...] = (1 - mom) * rm + mom * mean.reshape(c)
        rv[...] = (1 - mom) * rv + mom * unbiased
    return _affine(xhat, _channel(w, x.ndim), _channel(b, x.ndim))


def batch_norm_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Grads:
    r"""``(dx, dweight, dbias)`` of :func:`batch_norm` (``None`` for an absent parameter), same
    arguments; the buffers are read (eval mode) but never updated. Training: the core formula
    over :math:`(N, *)`; eval: :math:`\partial L/\partial x = \gamma g/\sqrt{\sigma_r^2+\epsilon}`.
    """
    x, _c, train, _, e, rm, rv, w, b, axes, _ = _batch_setup(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )
    g = _grad(grad_out, x)
    wv = _channel(w, x.ndim)
    gprime = g if wv is None else g * wv
    if not train:
        xhat, inv_std = _eval_stats(x, rm, rv, e, "eval-mode batch norm")
        dx = gprime * inv_std
    elif x.size == 0:
        xhat, dx = x.copy(), np.zeros_like(x)
    else:
        xhat, inv_std, _, _ = _statistics(x, axes, e, "batch norm")
        dx = _input_grad(gprime, xhat, inv_std, axes)
    return (dx.astype(x.dtype), *_param_grads(g, xhat, w, b, axes))


# --------------------------------------------------------------------------- instance norm


def _instance_setup(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    x = _input(x, 3)
    c = x.shape[1]
    use = _flag(use_input_stats, "use_input_stats")
    mom, e = real_number(momentum, "momentum"), real_number(eps, "eps")
    rm = _running("running_mean", running_mean, c, x.dtype, use)
    rv = _running("running_var", running_var, c, x.dtype, use)
    if (rm is None) != (rv is None):
        raise ValueError("running_mean and running_var must be given together (or both None)")
    if not use and rm is None:
        raise ValueError("use_input_stats=False needs running_mean and running_var")
    w = _param("weight", weight, (c,), x.dtype)
    b = _param("bias", bias, (c,), x.dtype)
    m = int(np.prod(x.shape[2:]))
    if use and m < 2:
        raise ValueError(
            f"x: instance norm with use_input_stats needs more than 1 spatial element, got "
            f"input shape {x.shape}"
        )
    return x, c, use, mom, e, rm, rv, w, b, m


def instance_norm(
    x: np.ndarray,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> np.ndarray:
    r"""InstanceNorm of ``(N, C, *spatial)``: per sample and channel over the spatial axes
    (``F.instance_norm``). With ``use_input_stats`` and running buffers, each buffer becomes
    ``(1 - momentum) * running + momentum * batch-mean of the per-instance statistic``
    (unbiased variance), in place; ``use_input_stats=False`` normalizes with the buffers.
    ``momentum`` may be any finite number, as in torch; outside :math:`[0, 1]` ``running_var``
    can become negative (then refused, naming ``running_var``, when used to normalize)."""
    x, c, use, mom, e, rm, rv, w, b, m = _instance_setup(
        x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
    if not use:
        xhat, _ = _eval_stats(x, rm, rv, e, "instance norm with use_input_stats=False")
        return _affine(xhat, _channel(w, x.ndim), _channel(b, x.ndim))
    if x.shape[0] == 0:
        return x.copy()
    axes = tuple(range(2, x.ndim))
    xhat, _, mean, var = _statistics(x, axes, e, "instance norm")
    if rm is not None:
        n = x.shape[0]
        rm[...] = (1 - mom) * rm + mom * mean.reshape(n, c).mean(axis=0)
        rv[...] = (1 - mom) * rv + mom * (var.reshape(n, c) * m / (m - 1)).mean(axis=0)
    return _affine(xhat, _channel(w, x.ndim), _channel(b, x.ndim))


def instance_norm_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Grads:
    """``(dx, dweight, dbias)`` of :func:`instance_norm` (same arguments; buffers untouched)."""
    x, _c, use, _, e, rm, rv, w, b, _ = _instance_setup(
        x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
    g = _grad(grad_out, x)
    wv = _channel(w, x.ndim)
    gprime = g if wv is None else g * wv
    params = (0, *range(2, x.ndim))
    if not use:
        xhat, inv_std = _eval_stats(x, rm, rv, e, "instance norm with use_input_stats=False")
        dx = gprime * inv_std
    elif x.shape[0] == 0:
        xhat, dx = x.copy(), np.zeros_like(x)
    else:
        axes = tuple(range(2, x.ndim))
        xhat, inv_std, _, _ = _statistics(x, axes, e, "instance norm")
        dx = _input_grad(gprime, xhat, inv_std, axes)
    return (dx.astype(x.dtype), *_param_grads(g, xhat, w, b, params))


# --------------------------------------------------------------------------- layer norm


def _layer_setup(x, normalized_shape, weight, bias, eps):
    x = _input(x, 1)
    if isinstance(normalized_shape, int | np.integer) and not isinstance(
        normalized_shape, bool | np.bool_
    ):
        shape: tuple = (normalized_shape,)
    elif isinstance(normalized_shape, Sequence) and not isinstance(normalized_shape, str):
        shape = tuple(normalized_shape)
    else:
        raise TypeError(
            f"normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}"
        )
    if not shape or any(
        isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer) for v in shape
    ):
        raise ValueError(
            "normalized_shape must be a non-empty sequence of ints equal to the trailing axes "
            f"of x {x.shape}, got {normalized_shape!r}"
        )
    shape = tuple(int(v) for v in shape)
    if len(shape) > x.ndim or x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(
            f"normalized_shape must equal the trailing axes of x {x.shape}, got {shape}"
        )
    w = _param("weight", weight, shape, x.dtype)
    b = _param("bias", bias, shape, x.dtype)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    return x, w, b, axes, real_number(eps, "eps")


def layer_norm(
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """LayerNorm over the trailing ``normalized_shape`` axes (``F.layer_norm``); ``weight`` and
    ``bias`` have that shape. A normalized set of one entry outputs ``bias`` (as torch)."""
    x, w, b, axes, e = _layer_setup(x, normalized_shape, weight, bias, eps)
    if x.size == 0:
        return x.copy()
    xhat = _statistics(x, axes, e, "layer norm")[0]
    return _affine(xhat, w, b)


def layer_norm_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> Grads:
    """``(dx, dweight, dbias)`` of :func:`layer_norm` (``weight`` varies inside the set:
    :math:`g' = \\gamma \\odot g`)."""
    x, w, b, axes, e = _layer_setup(x, normalized_shape, weight, bias, eps)
    g = _grad(grad_out, x)
    leading = tuple(range(x.ndim - len(axes)))
    if x.size == 0:
        return (np.zeros_like(x), *_param_grads(g, x, w, b, leading))
    xhat, inv_std, _, _ = _statistics(x, axes, e, "layer norm")
    gprime = g if w is None else g * w
    return (_input_grad(gprime, xhat, inv_std, axes), *_param_grads(g, xhat, w, b, leading))


# --------------------------------------------------------------------------- group norm


def _group_setup(x, num_groups, weight, bias, eps):
    x = _input(x, 2)
    c = x.shape[1]
    if isinstance(num_groups, bool | np.bool_) or not isinstance(num_groups, int | np.integer):
        raise TypeError(f"num_groups must be an int >= 1, got {num_groups!r}")
    if num_groups < 1 or c % num_groups:
        raise ValueError(
            f"num_groups must be an int >= 1 dividing the channels C={c} of x {x.shape}, "
            f"got {num_groups!r}"
        )
    w = _param("weight", weight, (c,), x.dtype)
    b = _param("bias", bias, (c,), x.dtype)
    return x, int(num_groups), w, b, real_number(eps, "eps")


def _grouped(x: np.ndarray, groups: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(N, G, C/G, *)`` view and the axes of one group's set."""
    xg = x.reshape(x.shape[0], groups, x.shape[1] // groups, *x.shape[2:])
    return xg, tuple(range(2, xg.ndim))


def group_norm(
    x: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """GroupNorm of ``(N, C, *)``: per sample over groups of ``C/num_groups`` channels and the
    spatial axes (``F.group_norm``); per-channel ``weight``/``bias``."""
    x, groups, w, b, e = _group_setup(x, num_groups, weight, bias, eps)
    if x.size == 0:
        return x.copy()
    xg, axes = _grouped(x, groups)
    xhat = _statistics(xg, axes, e, "group norm")[0].reshape(x.shape)
    return _affine(xhat, _channel(w, x.ndim), _channel(b, x.ndim))


def group_norm_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    num_groups: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    eps: float = 1e-5,
) -> Grads:
    r"""``(dx, dweight, dbias)`` of :func:`group_norm` (:math:`g' = \gamma_c g` varies across the
    channels of a group)."""
    x, groups, w, b, e = _group_setup(x, num_groups, weight, bias, eps)
    g = _grad(grad_out, x)
    params = (0, *range(2, x.ndim))
    if x.size == 0:
        return (np.zeros_like(x), *_param_grads(g, x, w, b, params))
    xg, axes = _grouped(x, groups)
    xhat_g, inv_std, _, _ = _statistics(xg, axes, e, "group norm")
    wv = _channel(w, x.ndim)
    gprime = (g if wv is None else g * wv).reshape(xg.shape)
    dx = _input_grad(gprime, xhat_g, inv_std, axes).reshape(x.shape)
    return (dx, *_param_grads(g, xhat_g.reshape(x.shape), w, b, params))


# --------------------------------------------------------------------------- RMS norm


def _rms_setup(x, normalized_shape, weight, eps, compute_dtype=None):
    """Checks as layer norm (no bias); ``eps=None`` becomes ``finfo(compute dtype).eps``
    (torch: the opmath dtype, float32 for half input; here the input's dtype by default)."""
    x, w, _, axes, e = _layer_setup(x, normalized_shape, weight, None, 0.0 if eps is None else eps)
    if eps is None:
        e = float(np.finfo(x.dtype if compute_dtype is None else compute_dtype).eps)
    return x, w, axes, e


def _rms_statistics(xs: np.ndarray, axes: tuple[int, ...], eps: float):
    r"""``(xhat, inv_rms)`` with :math:`\hat x = x/\sqrt{\overline{x^2}+\epsilon}`; refuses
    :math:`\overline{x^2}+\epsilon \le 0`. Sets whose squares could overflow are divided by a
    power of two first (exact), as in :func:`_statistics`."""
    scale = _set_scale(xs, axes)
    if scale is not None:
        xs = xs / scale
        eps_s = eps / scale / scale
    ms = (xs * xs).mean(axis=axes, keepdims=True)
    denom = ms + (eps if scale is None else eps_s)
    if scale is not None and eps > 0:
        denom = np.maximum(denom, np.finfo(xs.dtype).tiny)
    if (denom <= 0).any():  # NaN (from a NaN input) propagates, as in torch
        raise ValueError(
            f"eps: RMS norm needs mean(x**2) + eps > 0 in every normalized set, got eps = "
            f"{eps!r} and a mean square of {float(ms.min())!r} (a zero set needs eps > 0)"
        )
    inv = 1.0 / np.sqrt(denom)
    xhat = xs * inv
    return xhat, inv if scale is None else inv / scale


def rms_norm(
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    eps: float | None = None,
) -> np.ndarray:
    r"""RMSNorm over the trailing ``normalized_shape`` axes (``F.rms_norm``, Zhang & Sennrich
    2019): :math:`y = \gamma\,x/\sqrt{\overline{x^2}+\epsilon}`. It does **not** centre (the
    mean of ``y`` is not 0) and has no bias. ``eps=None`` is ``np.finfo(x.dtype).eps`` (torch:
    ``finfo`` of its computation dtype — the same for float32/float64 input). Any finite
    ``eps`` with :math:`\overline{x^2}+\epsilon > 0` in every set (else ``ValueError`` naming
    ``eps``; torch returns NaN for an all-zero row with ``eps = 0``)."""
    x, w, axes, e = _rms_setup(x, normalized_shape, weight, eps)
    if x.size == 0:
        return x.copy()
    xhat, _ = _rms_statistics(x, axes, e)
    return _affine(xhat, w, None)


def rms_norm_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    normalized_shape: int | Sequence[int],
    weight: np.ndarray | None = None,
    eps: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""``(dx, dweight)`` of :func:`rms_norm`: with :math:`r = (\overline{x^2}+\epsilon)^{-1/2}`,
    :math:`\hat x = r x` and :math:`g' = \gamma g`, :math:`\partial L/\partial x =
    r\,(g' - \hat x\,\overline{g'\hat x})` (no :math:`\overline{g'}` term: nothing is
    centred; proved by :func:`theory.normalization.rmsnorm_backward_proved`) and
    :math:`\partial L/\partial\gamma = \sum g\,\hat x` over the leading axes."""
    x, w, axes, e = _rms_setup(x, normalized_shape, weight, eps)
    g = _grad(grad_out, x)
    leading = tuple(range(x.ndim - len(axes)))
    if x.size == 0:
        return np.zeros_like(x), _param_grads(g, x, w, None, leading)[0]
    xhat, inv = _rms_statistics(x, axes, e)
    gprime = g if w is None else g * w
    dx = inv * (gprime - xhat * (gprime * xhat).mean(axis=axes, keepdims=True))
    return dx.astype(x.dtype), _param_grads(g, xhat, w, None, leading)[0]
