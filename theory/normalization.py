r"""Normalization layers: statistics, the effect of ε, recovery, and the backward pass in SymPy.

All four schemes compute :math:`\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}` with the
**biased** variance :math:`\sigma^2 = \frac1m\sum (x-\mu)^2` over a set of :math:`m` entries,
then :math:`y = \gamma\hat x + \beta`. They differ in the set (NCHW input):

* BatchNorm: per channel, over :math:`(N, H, W)` — :math:`m = NHW`;
* LayerNorm: per sample, over :math:`(C, H, W)` (``normalized_shape``) — :math:`m = CHW`;
* InstanceNorm: per sample and channel, over :math:`(H, W)` — :math:`m = HW`;
* GroupNorm: per sample and group of :math:`C/G` channels — :math:`m = (C/G)HW`.

torch's running variance (BatchNorm in training) uses the **unbiased** batch variance
:math:`\frac{m}{m-1}\sigma^2` with ``running = (1 - momentum) * running + momentum * batch``.

References: ``000_160a0b7c04e12fc6.txt`` § Batch Normalization, § Alternative Normalization
Schemes, § Normalization Theory and Analysis; ``002_532ac369c9b692e7.txt`` § Batch
Normalization Mathematics, § Layer Normalization Theory; S. Ioffe, C. Szegedy (2015),
Algorithm 1 and §3; Y. Wu, K. He (2018), *Group Normalization*, eq. (1)–(7).

Examples
--------
>>> statistics_count("group", (8, 32, 7, 7), groups=4)
392
>>> import sympy
>>> v, e = sympy.symbols("sigma2 epsilon", positive=True)
>>> xhat_variance(v, e)
sigma2/(epsilon + sigma2)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import sympy

from theory._args import dim
from theory.derivation import Derivation, Step

__all__ = [
    "KINDS",
    "affine_gradients_proved",
    "batchnorm_backward_proved",
    "derive_batchnorm_backward",
    "derive_groupnorm_backward",
    "derive_recovery",
    "derive_rmsnorm_backward",
    "derive_xhat_moments",
    "document_gradient",
    "rmsnorm_backward_proved",
    "statistics_count",
    "xhat_variance",
]

KINDS = ("batch", "layer", "instance", "group")
MAX_PROVED_M = 8
"""The backward formula is proved exactly for every batch size m = 1 … MAX_PROVED_M."""
MAX_GRADIENT_M = 64
"""Largest batch size :func:`document_gradient` builds symbols for (beyond it SymPy is slow)."""


def _int(value: object, name: str) -> int:
    v = dim(value, name)
    if not isinstance(v, int):
        raise TypeError(f"{name} must be an integer >= 1 (not symbolic here), got {value!r}")
    return v


def statistics_count(kind: str, shape: Sequence[int], groups: int | None = None) -> int:
    r"""Number :math:`m` of entries each mean/variance is taken over, for an NCHW (or NC) shape:
    :math:`NHW` (batch), :math:`CHW` (layer), :math:`HW` (instance), :math:`(C/G)HW` (group;
    ``groups`` is required there and refused for the other kinds).

    >>> statistics_count("batch", (8, 32, 7, 7)), statistics_count("instance", (8, 32, 7, 7))
    (392, 49)
    """
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) < 2:
        raise ValueError(f"shape must be a sequence (N, C, *spatial) of ints, got {shape!r}")
    n, c, *spatial = (_int(s, f"shape[{i}]") for i, s in enumerate(shape))
    hw = math.prod(spatial)
    if kind != "group":
        if groups is not None:
            raise ValueError(f"groups applies to kind='group' only, got groups={groups!r}")
        return {"batch": n * hw, "layer": c * hw, "instance": hw}[kind]
    if groups is None:
        raise ValueError("groups is required for kind='group'")
    g = _int(groups, "groups")
    if c % g:
        raise ValueError(f"groups must divide the channels: C={c}, groups={g}")
    return (c // g) * hw


def _nonnegative(value: object, name: str) -> sympy.Expr:
    if isinstance(value, str | bool) or not isinstance(value, numbers.Real | sympy.Expr):
        raise TypeError(f"{name} must be a real number >= 0 or a SymPy expression, got {value!r}")
    v = sympy.sympify(value)
    if v.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo) or v.is_real is False:
        raise ValueError(f"{name} must be a finite real number >= 0, got {value!r}")
    if v.is_negative:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def xhat_variance(variance: object, eps: object) -> sympy.Expr:
    r"""Variance of :math:`\hat x` over its normalized set: :math:`\sigma^2/(\sigma^2+\epsilon)`
    (``variance`` and ``eps`` real and :math:`\ge 0`, not both zero).

    >>> xhat_variance(1, sympy.Rational(1, 1000))
    1000/1001
    """
    v, e = _nonnegative(variance, "variance"), _nonnegative(eps, "eps")
    if (v + e).is_zero:
        raise ValueError("variance and eps are both 0: the ratio variance/(variance+eps) is 0/0")
    return sympy.simplify(v / (v + e))


class _Batch(NamedTuple):
    x: tuple[sympy.Symbol, ...]
    g: tuple[sympy.Symbol, ...]
    gamma: tuple[sympy.Symbol, ...]
    eps: sympy.Symbol
    mu: sympy.Expr
    var: sympy.Expr
    s: sympy.Expr
    xhat: list[sympy.Expr]
    loss: sympy.Expr


@cache
def _batch(m: int, per_element_gamma: bool = False) -> _Batch:
    """Symbols and expressions for a batch of size m (one feature)."""
    x = sympy.symbols(f"x1:{m + 1}", real=True)
    g = sympy.symbols(f"g1:{m + 1}", real=True)
    gam = (
        sympy.symbols(f"gamma1:{m + 1}", real=True)
        if per_element_gamma
        else (sympy.Symbol("gamma", real=True),) * m
    )
    beta = sympy.Symbol("beta", real=True)
    eps = sympy.Symbol("epsilon", positive=True)
    mu = sum(x) / m
    var = sum((xi - mu) ** 2 for xi in x) / m
    s = sympy.sqrt(var + eps)
    xhat = [(xi - mu) / s for xi in x]
    loss = sum(gi * (ga * h + beta) for gi, ga, h in zip(g, gam, xhat, strict=True))
    return _Batch(x, g, gam, eps, mu, var, s, xhat, loss)


def _identical(a: sympy.Expr, b: sympy.Expr, s: sympy.Expr) -> bool:
    """Exact identity test: replace the square root by a positive symbol, cancel, then
    fall back to simplify with the root restored."""
    root = sympy.Symbol("S", positive=True)
    diff = sympy.cancel(sympy.together((a - b).subs(s, root)))
    if diff == 0:
        return True
    return sympy.simplify(diff.subs(root, s)) == 0


def _document_gradient(m: int, i: int, per_element_gamma: bool = False) -> sympy.Expr:
    r"""The documents' formula :math:`\frac{\gamma}{\sqrt{\sigma^2+\epsilon}}\big(g_i -
    \frac1m\sum_j g_j - \frac{\hat x_i}{m}\sum_j g_j\hat x_j\big)`, with :math:`g'_j =
    \gamma_j g_j` in place of :math:`\gamma g_j` when ``per_element_gamma`` (GroupNorm)."""
    b = _batch(m, per_element_gamma)
    gp = [ga * gi for ga, gi in zip(b.gamma, b.g, strict=True)]
    dot = sum(a * h for a, h in zip(gp, b.xhat, strict=True))
    return (gp[i] - sum(gp) / m - b.xhat[i] / m * dot) / b.s


def _proof_range(max_m: object) -> int:
    """``max_m`` as an int in ``[1, MAX_PROVED_M]``: a proof over no batch size is vacuous, and
    beyond :data:`MAX_PROVED_M` the symbolic cost grows quickly (m = 8 takes seconds)."""
    if isinstance(max_m, bool) or not isinstance(max_m, numbers.Integral):
        raise TypeError(
            f"max_m must be an int in [1, {MAX_PROVED_M}], got {type(max_m).__name__} ({max_m!r})"
        )
    if not 1 <= int(max_m) <= MAX_PROVED_M:
        raise ValueError(
            f"max_m must be an int in [1, {MAX_PROVED_M}] (a proof over no batch size is "
            f"vacuous; larger m costs too much), got {max_m!r}"
        )
    return int(max_m)


def batchnorm_backward_proved(max_m: int = MAX_PROVED_M, per_element_gamma: bool = False) -> bool:
    r"""True when :math:`\partial L/\partial x_i` (by ``sympy.diff`` of the forward pass) equals
    the documents' formula identically, for every batch size :math:`1 \le m \le` ``max_m``
    and every :math:`i` — an exact symbolic identity in :math:`x, g, \gamma, \epsilon` for
    each :math:`m`. ``max_m`` must be in ``[1, MAX_PROVED_M]`` (at least one case is checked);
    False as soon as one identity fails.
    """
    m_max = _proof_range(max_m)
    if not isinstance(per_element_gamma, bool):
        raise TypeError(
            f"per_element_gamma must be True or False, got {type(per_element_gamma).__name__}"
        )
    return _backward_proved(m_max, per_element_gamma)


@cache
def _backward_proved(max_m: int, per_element_gamma: bool) -> bool:
    checked = 0
    for m in range(1, max_m + 1):
        b = _batch(m, per_element_gamma)
        for i in range(m):
            derived = sympy.diff(b.loss, b.x[i])
            if not _identical(derived, _document_gradient(m, i, per_element_gamma), b.s):
                return False
            checked += 1
    return checked > 0


def affine_gradients_proved(max_m: int = MAX_PROVED_M) -> bool:
    r"""True when :math:`\partial L/\partial\gamma = \sum_j g_j\hat x_j` and
    :math:`\partial L/\partial\beta = \sum_j g_j` identically, for every
    :math:`1 \le m \le` ``max_m`` (in ``[1, MAX_PROVED_M]``; False as soon as one fails)."""
    return _affine_proved(_proof_range(max_m))


def _affine_gamma(b: _Batch) -> sympy.Expr:
    r"""The claimed :math:`\partial L/\partial\gamma = \sum_j g_j \hat x_j`."""
    return sum(gi * h for gi, h in zip(b.g, b.xhat, strict=True))


def _affine_beta(b: _Batch) -> sympy.Expr:
    r"""The claimed :math:`\partial L/\partial\beta = \sum_j g_j`."""
    return sum(b.g)


@cache
def _affine_proved(max_m: int) -> bool:
    beta = sympy.Symbol("beta", real=True)
    checked = 0
    for m in range(1, max_m + 1):
        b = _batch(m)
        dgamma = sympy.diff(b.loss, b.gamma[0])
        if not _identical(dgamma, _affine_gamma(b), b.s):
            return False
        if sympy.expand(sympy.diff(b.loss, beta) - _affine_beta(b)) != 0:
            return False
        checked += 1
    return checked > 0


def document_gradient(m: int) -> tuple[sympy.Expr, tuple[sympy.Symbol, ...]]:
    r"""The documents' :math:`\partial L/\partial x_1` for a batch of ``m`` as a SymPy expression,
    with its free symbols ``(x_1..x_m, g_1..g_m, gamma, epsilon)`` for ``lambdify``."""
    size = _int(m, "m")
    if size > MAX_GRADIENT_M:
        raise ValueError(f"m must be an int in [1, {MAX_GRADIENT_M}], got {m!r}")
    b = _batch(size)
    return _document_gradient(size, 0), (*b.x, *b.g, b.gamma[0], b.eps)


def derive_batchnorm_backward() -> Derivation:
    r"""The BatchNorm input gradient, derived for a batch of :math:`m = 3` and proved for all
    :math:`m \le 8`; the general argument is written out in the steps."""
    m = 3
    b = _batch(m)
    derived = sympy.diff(b.loss, b.x[0])
    claimed = _document_gradient(m, 0)
    return Derivation(
        title=r"BatchNorm backward: $\partial L/\partial x_i$",
        steps=(
            Step(
                r"$\hat x_j = (x_j-\mu)/s$ with $s = \sqrt{\sigma^2+\epsilon}$; "
                r"$\partial\mu/\partial x_i = 1/m$ and, since $\sum_k (x_k-\mu) = 0$, "
                r"$\partial s/\partial x_i = (x_i-\mu)/(ms) = \hat x_i/m$."
            ),
            Step(
                r"Hence $\partial\hat x_j/\partial x_i = \frac1s\big(\delta_{ij} - \frac1m - "
                r"\frac{\hat x_i\hat x_j}{m}\big)$ and, with "
                r"$L = \sum_j g_j(\gamma\hat x_j+\beta)$,"
                r" $\partial L/\partial x_i = \frac{\gamma}{s}\big(g_i - \frac1m\sum_j g_j - "
                r"\frac{\hat x_i}{m}\sum_j g_j\hat x_j\big)$ — the documents' formula."
            ),
            Step(
                r"Checked by `sympy.diff` of the forward pass against the formula, as an exact "
                r"identity, for every $m = 1,\dots,8$ and every $i$ (`batchnorm_backward_proved`)."
                r" For $m = 3$, $i = 1$ the derived expression is",
                sympy.Eq(sympy.Symbol(r"\partial L/\partial x_1"), derived),
            ),
            Step(
                r"$\epsilon$ is inside $s$ and $\hat x$: the formula is exact with $\epsilon > 0$. "
                r"Also $\partial L/\partial\gamma = \sum_j g_j\hat x_j$, "
                r"$\partial L/\partial\beta = \sum_j g_j$."
            ),
        ),
        claimed=claimed,
        derived=derived,
        scope=f"exact identity for every batch size m = 1..{MAX_PROVED_M}",
    )


def derive_groupnorm_backward() -> Derivation:
    r"""GroupNorm/LayerNorm with a :math:`\gamma` that varies inside the normalized set."""
    m = 3
    b = _batch(m, per_element_gamma=True)
    return Derivation(
        title=r"GroupNorm/LayerNorm backward with per-element $\gamma_j$",
        steps=(
            Step(
                r"The same computation with $g'_j = \gamma_j g_j$ (the gradient with respect to "
                r"$\hat x_j$): $\partial L/\partial x_i = \frac1s\big(g'_i - \frac1m\sum_j g'_j - "
                r"\frac{\hat x_i}{m}\sum_j g'_j\hat x_j\big)$. With a constant $\gamma$ "
                r"(BatchNorm, "
                r"InstanceNorm) this is the documents' formula; GroupNorm's $\gamma_c$ varies "
                r"across the $C/G$ channels of a group, LayerNorm's over all normalized entries."
            ),
            Step(
                r"Proved exactly for every $m = 1,\dots,8$ (`batchnorm_backward_proved(8, True)`)."
            ),
        ),
        claimed=_document_gradient(m, 0, per_element_gamma=True),
        derived=sympy.diff(b.loss, b.x[0]),
        scope=f"exact identity for every m = 1..{MAX_PROVED_M}",
    )


def derive_xhat_moments() -> Derivation:
    r"""Mean and variance of :math:`\hat x` over the batch it was normalized with."""
    m = 4
    b = _batch(m)
    mean_hat = sympy.simplify(sum(b.xhat) / m)
    var_hat = sympy.simplify(sum(h**2 for h in b.xhat) / m - mean_hat**2)
    return Derivation(
        title=r"Moments of $\hat x$ over its batch",
        steps=(
            Step(
                r"$\frac1m\sum_j \hat x_j = \frac{1}{ms}\sum_j(x_j - \mu) = 0$ exactly:",
                sympy.Eq(sympy.Symbol(r"\bar{\hat x}"), mean_hat),
            ),
            Step(
                r"$\frac1m\sum_j\hat x_j^2 = \sigma^2/(\sigma^2+\epsilon)$ (shown for $m = 4$):",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[\hat x]"), var_hat),
            ),
            Step(
                r"So $\mathrm{Var}[\hat x] < 1$ for $\epsilon > 0$; it is near 0 for a channel "
                r"whose batch variance is small compared with $\epsilon$ (0 for a constant one)."
            ),
        ),
        claimed=sympy.Integer(1),
        derived=var_hat,
        scope="exact for m = 4; the identity sum(xhat^2)/m = var/(var+eps) holds for every m",
        assumptions={b.eps: 0},
    )


def derive_recovery() -> Derivation:
    r""":math:`\gamma = \sqrt{\sigma^2_B+\epsilon}`, :math:`\beta = \mu_B` undo the normalizing."""
    m = 3
    b = _batch(m)
    y = [b.s * h + b.mu for h in b.xhat]
    return Derivation(
        title=r"Recovering the input: $\gamma = \sqrt{\sigma_B^2+\epsilon}$, $\beta = \mu_B$",
        steps=(
            Step(
                r"$y_j = \sqrt{\sigma_B^2+\epsilon}\,"
                r"\frac{x_j-\mu_B}{\sqrt{\sigma_B^2+\epsilon}} + "
                r"\mu_B = x_j$ — an identity *on the batch whose statistics were used*:",
                sympy.Eq(sympy.Symbol("y_1"), sympy.simplify(y[0])),
            ),
            Step(
                r"With fixed $\gamma, \beta$ another batch (different $\mu_B, \sigma_B$) is not "
                r"recovered, and in eval mode the running statistics are used instead."
            ),
        ),
        claimed=b.x[0],
        derived=sympy.simplify(y[0]),
    )


# --------------------------------------------------------------------------- RMSNorm


class _RMS(NamedTuple):
    x: tuple[sympy.Symbol, ...]
    g: tuple[sympy.Symbol, ...]
    gamma: tuple[sympy.Symbol, ...]
    r: sympy.Expr
    xhat: list[sympy.Expr]
    loss: sympy.Expr


@cache
def _rms(m: int) -> _RMS:
    r"""RMSNorm of one set of ``m`` entries (Zhang & Sennrich 2019): :math:`\hat x_i =
    x_i/r`, :math:`r = \sqrt{\frac1m\sum_j x_j^2 + \epsilon}`, :math:`y_i = \gamma_i\hat x_i`
    (per-element :math:`\gamma`, no centring, no :math:`\beta`); loss :math:`\sum_i g_i y_i`."""
    x = sympy.symbols(f"x1:{m + 1}", real=True)
    g = sympy.symbols(f"g1:{m + 1}", real=True)
    gam = sympy.symbols(f"gamma1:{m + 1}", real=True)
    eps = sympy.Symbol("epsilon", positive=True)
    r = sympy.sqrt(sum(xi**2 for xi in x) / m + eps)
    xhat = [xi / r for xi in x]
    loss = sum(gi * ga * h for gi, ga, h in zip(g, gam, xhat, strict=True))
    return _RMS(x, g, gam, r, xhat, loss)


def _rms_gradient(m: int, i: int) -> sympy.Expr:
    r"""The kernels' :math:`\partial L/\partial x_i = \frac1r\big(g'_i - \frac{\hat x_i}{m}
    \sum_j g'_j\hat x_j\big)`, :math:`g'_j = \gamma_j g_j` — the LayerNorm formula without the
    :math:`\frac1m\sum_j g'_j` term (nothing is centred)."""
    b = _rms(m)
    gp = [ga * gi for ga, gi in zip(b.gamma, b.g, strict=True)]
    dot = sum(a * h for a, h in zip(gp, b.xhat, strict=True))
    return (gp[i] - b.xhat[i] / m * dot) / b.r


def rmsnorm_backward_proved(max_m: int = MAX_PROVED_M) -> bool:
    r"""True when, for every set size :math:`1 \le m \le` ``max_m`` (in ``[1,
    MAX_PROVED_M]``) and every :math:`i`, ``sympy.diff`` of the RMSNorm loss equals
    :math:`\frac1r(g'_i - \hat x_i\,\overline{g'\hat x})` for :math:`x_i` and
    :math:`g_i\hat x_i` for :math:`\gamma_i` identically (exact symbolic identities); False as
    soon as one fails. The reference for ``kernels.cpu.norm.rms_norm_backward`` and the Triton
    kernel ``kernels.gpu._norm_kernels._row_backward`` (``CENTER=False``)."""
    return _rms_proved(_proof_range(max_m))


@cache
def _rms_proved(max_m: int) -> bool:
    checked = 0
    for m in range(1, max_m + 1):
        b = _rms(m)
        for i in range(m):
            if not _identical(sympy.diff(b.loss, b.x[i]), _rms_gradient(m, i), b.r):
                return False
            if not _identical(sympy.diff(b.loss, b.gamma[i]), b.g[i] * b.xhat[i], b.r):
                return False
            checked += 1
    return checked > 0


def derive_rmsnorm_backward() -> Derivation:
    r"""The RMSNorm input gradient (no centring: the :math:`\overline{g'}` term drops)."""
    m = 3
    b = _rms(m)
    return Derivation(
        title=r"RMSNorm backward",
        steps=(
            Step(
                r"$\hat x_i = x_i/r$ with $r = \sqrt{\frac1m\sum_j x_j^2+\epsilon}$, so "
                r"$\partial r/\partial x_j = x_j/(m r)$ and $\partial\hat x_i/\partial x_j = "
                r"\delta_{ij}/r - \hat x_i\hat x_j/(m r)$."
            ),
            Step(
                r"With $g'_i = \gamma_i\,\partial L/\partial y_i$: $\partial L/\partial x_j = "
                r"\sum_i g'_i\,\partial\hat x_i/\partial x_j = \frac1r\big(g'_j - \hat x_j\,"
                r"\frac1m\sum_i g'_i\hat x_i\big)$ — LayerNorm's formula without "
                r"$-\frac1m\sum_i g'_i$, since no mean is subtracted; "
                r"$\partial L/\partial\gamma_i = g_i\hat x_i$."
            ),
            Step(r"Proved exactly for every $m = 1,\dots,8$ (`rmsnorm_backward_proved(8)`)."),
        ),
        claimed=_rms_gradient(m, 0),
        derived=sympy.diff(b.loss, b.x[0]),
        scope=f"exact identity for every m = 1..{MAX_PROVED_M}",
    )
