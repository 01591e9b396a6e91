r"""Initialization and variance propagation, derived with ``sympy.stats``.

Conventions
-----------
* :math:`\mathcal{N}(\mu, \sigma^2)`: the second parameter is the **variance**. Functions
  named ``*_std`` return a standard deviation, ``*_variance`` a variance, ``*_bound`` the
  half-width :math:`a` of :math:`\mathcal{U}(-a, a)` (variance :math:`a^2/3`).
* ``fan_in``/``fan_out`` as torch computes them for a weight of shape
  ``(out, in, *kernel)``: ``in * prod(kernel)`` and ``out * prod(kernel)``.
* A *gain* :math:`g` scales a standard deviation: :math:`\operatorname{Var}[w] = g^2/\text{fan}`.
  The **derived** gain of an activation :math:`\phi` is the one that preserves the second
  moment of pre-activations at unit variance:
  :math:`g^2\,\mathbb{E}[\phi(z)^2] = 1`, :math:`z \sim \mathcal{N}(0, 1)`.

References: ``002_532ac369c9b692e7.txt`` § Forward Propagation Variance, § Activation-Specific
Initialization, § Advanced Initialization Strategies; X. Glorot, Y. Bengio (2010); K. He et
al. (2015), *Delving Deep into Rectifiers*, eqs. (7)–(10); A. Saxe et al. (2014);
D. Mishkin, J. Matas (2016), *All you need is a good init* (LSUV).

Examples
--------
>>> xavier_variance(100, 200)
1/150
>>> import sympy
>>> s = sympy.Symbol("sigma", positive=True)
>>> relu_moments(s)["mean"]
sqrt(2)*sigma/(2*sqrt(pi))
"""

from __future__ import annotations

import math
import numbers
from functools import cache

import mpmath
import numpy as np
import sympy
from sympy.stats import E as expectation
from sympy.stats import Normal, Uniform, variance

from theory._args import Dim, bounded, dim, exact_ratio
from theory.derivation import Derivation, Step

__all__ = [
    "ACTIVATIONS",
    "activation_second_moment",
    "derived_gain",
    "he_normal_std",
    "he_uniform_bound",
    "he_variance",
    "linear_output_variance",
    "mean_field_variances",
    "relu_moments",
    "xavier_normal_std",
    "xavier_uniform_bound",
    "xavier_variance",
]

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "selu")


_NOT_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def _real(value: object, name: str, minimum: str | None = None) -> sympy.Expr:
    """A finite real number (Python, NumPy or SymPy) or a real-valued SymPy expression, as
    SymPy. ``minimum``: ``"positive"`` (> 0), ``"nonnegative"`` (>= 0) or None."""
    allowed = {None: "a finite real number", "positive": "a finite real number > 0",
               "nonnegative": "a finite real number >= 0"}[minimum]  # fmt: skip
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real | sympy.Expr):
        raise TypeError(f"{name} must be {allowed} or a SymPy expression, got {value!r}")
    if isinstance(value, numbers.Real) and not isinstance(value, sympy.Basic):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        v = sympy.sympify(float(value) if isinstance(value, np.floating) else value)
        if isinstance(value, np.integer):
            v = sympy.Integer(int(value))
    else:
        v = value
        if any(v.has(b) for b in _NOT_FINITE) or v.is_real is False or v.is_finite is False:
            raise ValueError(f"{name} must be {allowed} or a real SymPy expression, got {v!r}")
    if minimum == "positive" and (v.is_positive is False or (v.is_number and not v.is_positive)):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum == "nonnegative" and v.is_negative:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _positive(value: object, name: str) -> sympy.Expr:
    """A positive real (number or SymPy expression not known to be <= 0) as SymPy."""
    return _real(value, name, "positive")


def _fan(value: object, name: str) -> Dim:
    """:func:`theory._args.dim`, also refusing SymPy numbers that are not integers."""
    if isinstance(value, sympy.Basic) and not isinstance(value, sympy.Integer):
        if value.is_number or any(value.has(b) for b in _NOT_FINITE):
            raise TypeError(f"{name} must be an integer >= 1 or a SymPy expression, got {value!r}")
    return dim(value, name)


def linear_output_variance(
    fan_in: Dim,
    var_w: object,
    var_x: object,
    mean_w: object = 0,
    mean_x: object = 0,
) -> sympy.Expr:
    r"""Variance of one output :math:`y = \sum_{j=1}^{n} w_j x_j` with all :math:`w_j, x_j`
    independent, :math:`w_j` i.i.d. and :math:`x_j` i.i.d.

    .. math:: \operatorname{Var}[y] = n\big(\sigma_w^2\sigma_x^2 + \sigma_w^2\mu_x^2
              + \mu_w^2\sigma_x^2\big)

    which is the document's :math:`n\,\operatorname{Var}[w]\operatorname{Var}[x]` only when
    :math:`\sigma_w^2\mu_x^2 + \mu_w^2\sigma_x^2 = 0` (e.g. zero means). A bias independent
    of the rest adds :math:`\operatorname{Var}[b]`.

    >>> linear_output_variance(10, sympy.Rational(1, 10), 1)
    1
    >>> linear_output_variance(1, 1, 0, mean_x=1)  # constant input 1: Var[y] = Var[w]
    1
    """
    n = _fan(fan_in, "fan_in")
    vw, vx = _real(var_w, "var_w", "nonnegative"), _real(var_x, "var_x", "nonnegative")
    mw, mx = _real(mean_w, "mean_w"), _real(mean_x, "mean_x")
    return sympy.expand(n * (vw * vx + vw * mx**2 + mw**2 * vx))


def xavier_variance(fan_in: Dim, fan_out: Dim, gain: object = 1) -> sympy.Expr:
    r"""Glorot/Xavier weight variance :math:`g^2\,\dfrac{2}{\text{fan}_{in} + \text{fan}_{out}}`.

    It is the reciprocal of the mean fan, i.e. the harmonic mean of the forward
    (:math:`1/\text{fan}_{in}`) and backward (:math:`1/\text{fan}_{out}`) conditions.
    """
    fi, fo = _fan(fan_in, "fan_in"), _fan(fan_out, "fan_out")
    return _positive(gain, "gain") ** 2 * exact_ratio(2, fi + fo)


def xavier_uniform_bound(fan_in: Dim, fan_out: Dim, gain: object = 1) -> sympy.Expr:
    r"""Half-width :math:`a = g\sqrt{6/(\text{fan}_{in}+\text{fan}_{out})}` of Xavier-uniform.

    >>> xavier_uniform_bound(3, 3)
    1
    """
    return sympy.sqrt(3 * xavier_variance(fan_in, fan_out, gain))


def xavier_normal_std(fan_in: Dim, fan_out: Dim, gain: object = 1) -> sympy.Expr:
    r"""Standard deviation :math:`g\sqrt{2/(\text{fan}_{in}+\text{fan}_{out})}` of Xavier-normal."""
    return sympy.sqrt(xavier_variance(fan_in, fan_out, gain))


def he_variance(fan: Dim, gain: object = sympy.sqrt(2)) -> sympy.Expr:
    r"""He/Kaiming variance :math:`g^2/\text{fan}` (:math:`2/\text{fan}_{in}` for ReLU).

    >>> he_variance(50)
    1/25
    """
    return _positive(gain, "gain") ** 2 * exact_ratio(1, _fan(fan, "fan"))


def he_uniform_bound(fan: Dim, gain: object = sympy.sqrt(2)) -> sympy.Expr:
    r"""Half-width :math:`g\sqrt{3/\text{fan}}` of He-uniform (``kaiming_uniform_``)."""
    return sympy.sqrt(3 * he_variance(fan, gain))


def he_normal_std(fan: Dim, gain: object = sympy.sqrt(2)) -> sympy.Expr:
    r"""Standard deviation :math:`g/\sqrt{\text{fan}}` of He-normal (``kaiming_normal_``)."""
    return sympy.sqrt(he_variance(fan, gain))


def relu_moments(sigma: object = 1) -> dict[str, sympy.Expr]:
    r"""Mean, second moment and variance of ReLU(X) for X ~ N(0, sigma^2) (sigma: std).

    .. math:: \mathbb{E} = \frac{\sigma}{\sqrt{2\pi}},\quad
              \mathbb{E}[\cdot^2] = \frac{\sigma^2}{2},\quad
              \operatorname{Var} = \sigma^2\Big(\frac12 - \frac{1}{2\pi}\Big)

    (For comparison, :math:`\mathbb{E}|X| = \sigma\sqrt{2/\pi}` and
    :math:`\operatorname{Var}|X| = \sigma^2(1 - 2/\pi)`.) Computed with ``sympy.stats``.
    """
    s = _positive(sigma, "sigma")
    return {k: sympy.simplify(v.subs(_SIGMA, s)) for k, v in _relu_moments_symbolic().items()}


_SIGMA = sympy.Symbol("sigma", positive=True)


@cache
def _relu_moments_symbolic() -> dict[str, sympy.Expr]:
    """The moments for a symbolic sigma (integrated once; floats substituted afterwards)."""
    x = Normal("X", 0, _SIGMA)
    relu = sympy.Piecewise((x, x > 0), (0, True))
    mean = sympy.simplify(expectation(relu))
    second = sympy.simplify(expectation(relu**2))
    return {"mean": mean, "second_moment": second, "variance": sympy.simplify(second - mean**2)}


def _check_activation(name: object, negative_slope: object) -> float:
    """Validate an activation name (one of :data:`ACTIVATIONS`) and a finite slope."""
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation name {name!r}; known: {', '.join(ACTIVATIONS)}")
    if isinstance(negative_slope, bool | np.bool_) or not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"negative_slope must be a finite real number, got {negative_slope!r}")
    if not math.isfinite(float(negative_slope)):
        raise ValueError(f"negative_slope must be a finite real number, got {negative_slope!r}")
    return float(negative_slope) if isinstance(negative_slope, np.floating) else negative_slope


def _activation(name: str, negative_slope: float):
    alpha = mpmath.mpf("1.6732632423543772848170429916717")
    scale = mpmath.mpf("1.0507009873554804934193349852946")
    return {
        "linear": lambda z: z,
        "relu": lambda z: z if z > 0 else 0,
        "leaky_relu": lambda z: z if z > 0 else negative_slope * z,
        "tanh": mpmath.tanh,
        "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
        "gelu": lambda z: z * mpmath.ncdf(z),
        "silu": lambda z: z / (1 + mpmath.exp(-z)),
        "selu": lambda z: scale * (z if z > 0 else alpha * (mpmath.exp(z) - 1)),
    }[name]


def activation_second_moment(name: str, negative_slope: float = 0.01) -> sympy.Expr:
    r""":math:`\mathbb{E}[\phi(z)^2]`, :math:`z\sim\mathcal{N}(0,1)`.

    Exact (``sympy.stats``) for ``linear`` (1), ``relu`` (1/2) and ``leaky_relu``
    (:math:`(1+a^2)/2`); numerical quadrature to 30 digits (``mpmath.quad``, returned as a
    SymPy ``Float``) for ``tanh``, ``sigmoid``, ``gelu``, ``silu``, ``selu``.

    >>> activation_second_moment("relu")
    1/2
    """
    slope = _check_activation(name, negative_slope)
    if isinstance(slope, numbers.Integral):
        slope = int(slope)
    return _second_moment(name, slope if name == "leaky_relu" else 0)  # slope: leaky only


@cache
def _second_moment(name: str, negative_slope: float) -> sympy.Expr:
    if name == "linear":
        return sympy.Integer(1)
    if name in ("relu", "leaky_relu"):
        a = 0 if name == "relu" else sympy.nsimplify(negative_slope)
        z = Normal("Z", 0, 1)
        return sympy.simplify(expectation(sympy.Piecewise((z**2, z > 0), (a**2 * z**2, True))))
    f = _activation(name, negative_slope)
    with mpmath.workdps(30):
        density = lambda z: mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
        value = mpmath.quad(lambda z: f(z) ** 2 * density(z), [-mpmath.inf, 0, mpmath.inf])
    return sympy.Float(value, 30)


def derived_gain(name: str, negative_slope: float = 0.01) -> sympy.Expr:
    r"""Gain that preserves the second moment at unit input variance:
    :math:`g = 1/\sqrt{\mathbb{E}[\phi(z)^2]}`.

    ``relu`` gives :math:`\sqrt2` and ``leaky_relu`` :math:`\sqrt{2/(1+a^2)}`, as torch's
    ``calculate_gain``; torch's tanh (5/3), sigmoid (1) and SELU (3/4) gains are conventions,
    not this derivation (which gives ≈1.593, ≈1.846 and 1).

    >>> derived_gain("relu")
    sqrt(2)
    """
    _check_activation(name, negative_slope)
    return 1 / sympy.sqrt(activation_second_moment(name, negative_slope))


def mean_field_variances(
    depth: int, fan_in: int, var_w: float, activation: str, q0: float = 1.0
) -> tuple[list[float], list[float]]:
    r"""Mean-field pre-activation variances :math:`q_l` and backward slopes :math:`\chi_l`.

    Infinite-width recursion for zero-mean i.i.d. weights, no bias, starting from
    :math:`q_0`:

    .. math:: q_l = \text{fan}_{in}\,\sigma_w^2\;\mathbb{E}\big[\phi(\sqrt{q_{l-1}}\,z)^2\big],
              \qquad \chi_l = \text{fan}\,\sigma_w^2\;\mathbb{E}\big[\phi'(\sqrt{q_l}\,z)^2\big]

    :math:`\chi_l` is the factor by which the variance of the backward signal grows through
    a square layer whose pre-activation has variance :math:`q_l`. Returns
    ``(q[0..depth], chi[0..depth])``.

    ``depth`` is at most :data:`MAX_DEPTH` (:data:`MAX_TANH_DEPTH` for tanh, which needs two
    quadratures per layer); a
    recursion that leaves the float64 range is refused with ``ValueError``.

    >>> mean_field_variances(2, 100, 0.02, "relu")
    ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    """
    if isinstance(depth, bool | np.bool_) or not isinstance(depth, numbers.Integral):
        raise TypeError(f"depth must be an integer >= 0, got {depth!r}")
    if depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    depth = int(bounded(int(depth), "depth", MAX_DEPTH))
    fan = _fan(fan_in, "fan_in")
    if not isinstance(fan, int):
        raise TypeError(f"fan_in must be an integer >= 1 (not symbolic), got {fan_in!r}")
    n = fan
    if not isinstance(activation, str):
        raise TypeError(f"activation must be 'linear', 'relu' or 'tanh', got {activation!r}")
    if activation not in ("linear", "relu", "tanh"):
        raise ValueError(f"activation must be 'linear', 'relu' or 'tanh', got {activation!r}")
    if activation == "tanh" and depth > MAX_TANH_DEPTH:
        raise ValueError(
            f"depth must be at most {MAX_TANH_DEPTH} for activation='tanh' (two quadratures "
            f"per layer), got {depth}"
        )
    var_w, q0 = _float(var_w, "var_w"), _float(q0, "q0")
    density = lambda z: mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731

    def moments(q: float) -> tuple[float, float]:
        """E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2]."""
        if activation == "linear":
            return q, 1.0
        if activation == "relu":
            return q / 2, 0.5
        r = mpmath.sqrt(q)
        line = [-mpmath.inf, mpmath.inf]
        f2 = mpmath.quad(lambda z: mpmath.tanh(r * z) ** 2 * density(z), line)
        d2 = mpmath.quad(lambda z: mpmath.sech(r * z) ** 4 * density(z), line)
        return float(f2), float(d2)

    qs = [float(q0)]
    for _ in range(depth):
        qs.append(n * var_w * moments(qs[-1])[0])
    chis = [n * var_w * moments(q)[1] for q in qs]
    if not all(math.isfinite(v) and v > 0 for v in qs + chis):
        raise ValueError(
            f"the variances leave the float64 range: fan_in * var_w = {n * var_w:g}, "
            f"q0 = {q0:g}, depth = {depth}; use smaller values"
        )
    return qs, chis


MAX_DEPTH = 1000
"""Largest ``depth`` :func:`mean_field_variances` iterates for ``linear``/``relu``."""

MAX_TANH_DEPTH = 50
"""Largest ``depth`` for ``tanh``: two mpmath quadratures per layer, about 35 ms each layer
(50 layers ≈ 2 s)."""


def _float(value: object, name: str) -> float:
    """A finite real number > 0 (Python, NumPy or SymPy number) as a float."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real | sympy.Expr):
        raise TypeError(f"{name} must be a finite real number > 0, got {value!r}")
    if isinstance(value, sympy.Expr) and not value.is_number:
        raise TypeError(f"{name} must be a number (not symbolic) > 0, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a finite real number > 0, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite real number > 0, got {value!r}")
    return v


# --------------------------------------------------------------------------- derivations

n_, fi_, fo_ = sympy.symbols("n fan_in fan_out", integer=True, positive=True)
sw, sx, mw, mx = sympy.symbols("sigma_w sigma_x mu_w mu_x", real=True)
sig = sympy.Symbol("sigma", positive=True)


def derive_linear_output_variance() -> Derivation:
    r"""Variance of :math:`w x` for independent factors, then of a sum of :math:`n` such terms."""
    w = Normal("w", mw, sympy.Symbol("s_w", positive=True))
    x = Normal("x", mx, sympy.Symbol("s_x", positive=True))
    one_term = sympy.expand(variance(w * x))  # sympy.stats, independent random symbols
    general = linear_output_variance(n_, sw**2, sx**2, mw, mx)
    return Derivation(
        title="Variance of a linear unit's output",
        steps=(
            Step(
                r"Independence: $\mathbb{E}[wx] = \mu_w\mu_x$ and "
                r"$\mathbb{E}[w^2x^2] = (\sigma_w^2+\mu_w^2)(\sigma_x^2+\mu_x^2)$, so "
                r"(sympy.stats, "
                r"with $s_w, s_x$ the standard deviations)",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[wx]"), one_term),
            ),
            Step(
                r"The $n$ products are independent, so their variances add:",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[y]"), general),
            ),
            Step(
                r"The document's $n\,\mathrm{Var}[w]\mathrm{Var}[x]$ needs "
                r"$\sigma_w^2\mu_x^2 + \mu_w^2\sigma_x^2 = 0$, e.g. $\mu_w = \mu_x = 0$. "
                r"ReLU outputs have $\mu_x > 0$: there the right quantity is "
                r"$n\sigma_w^2\,\mathbb{E}[x^2]$ (with $\mu_w = 0$)."
            ),
        ),
        claimed=n_ * sw**2 * sx**2,
        derived=general,
        assumptions={mw: 0, mx: 0},
    )


def derive_xavier() -> Derivation:
    r"""Forward and backward conditions, the compromise, and the uniform/normal forms."""
    a = sympy.Symbol("a", positive=True)
    u = Uniform("U", -a, a)
    bound = xavier_uniform_bound(fi_, fo_)
    return Derivation(
        title="Xavier/Glorot initialization",
        steps=(
            Step(
                r"Forward: $\mathrm{Var}[y] = \text{fan}_{in}\mathrm{Var}[w]\mathrm{Var}[x]$, "
                r"preserved iff $\mathrm{Var}[w] = 1/\text{fan}_{in}$. Backward: "
                r"$\partial L/\partial x = W^\top \partial L/\partial y$ sums $\text{fan}_{out}$ "
                r"terms, preserved iff $\mathrm{Var}[w] = 1/\text{fan}_{out}$."
            ),
            Step(
                "Compromise (harmonic mean of the two variances):",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[w]"), xavier_variance(fi_, fo_)),
            ),
            Step(
                r"$\mathcal{U}(-a, a)$ has variance (sympy.stats)",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[U]"), variance(u)),
            ),
            Step("so the uniform bound is", sympy.Eq(a, bound)),
            Step(
                r"and the normal form has **standard deviation** $\sqrt{2/(\text{fan}_{in}+"
                r"\text{fan}_{out})}$ (torch's `normal_(std=…)` convention)."
            ),
        ),
        claimed=sympy.sqrt(6 / (fi_ + fo_)),
        derived=bound,
    )


def derive_relu_moments() -> Derivation:
    r"""ReLU of a centred Gaussian: the moments, against the document's figures."""
    m = relu_moments(sig)
    absx = Normal("X", 0, sig)
    return Derivation(
        title=r"Moments of $\max(0, X)$, $X \sim \mathcal{N}(0, \sigma^2)$",
        steps=(
            Step(
                r"$\mathbb{E}[\max(0,X)] = \int_0^\infty x\,\varphi_\sigma(x)\,dx$:",
                sympy.Eq(sympy.Symbol(r"\mathbb{E}"), m["mean"]),
            ),
            Step(
                r"$\mathbb{E}[\max(0,X)^2] = \tfrac12\mathbb{E}[X^2]$ by symmetry:",
                sympy.Eq(sympy.Symbol(r"\mathbb{E}[\cdot^2]"), m["second_moment"]),
            ),
            Step("Variance:", sympy.Eq(sympy.Symbol(r"\mathrm{Var}"), m["variance"])),
            Step(
                r"The document's $\sigma\sqrt{2/\pi}$ and $\sigma^2(1-2/\pi)$ are the mean "
                r"and variance of $|X|$:",
                sympy.Eq(
                    sympy.Symbol(r"\mathbb{E}|X|"), sympy.simplify(expectation(sympy.Abs(absx)))
                ),
            ),
        ),
        claimed=sig * sympy.sqrt(2 / sympy.pi),
        derived=m["mean"],
    )


def derive_he() -> Derivation:
    r"""He: ReLU halves the second moment, so doubling the weight variance preserves it."""
    q = sympy.Symbol("q_{l-1}", positive=True)
    ql = fi_ * he_variance(fi_) * relu_moments(sympy.sqrt(q))["second_moment"]
    return Derivation(
        title="He/Kaiming initialization for ReLU",
        steps=(
            Step(
                r"Pre-activations $h_l = W_l\,\mathrm{relu}(h_{l-1})$ with zero-mean weights: "
                r"$q_l = \text{fan}_{in}\mathrm{Var}[w]\;\mathbb{E}[\mathrm{relu}(h_{l-1})^2]$ and "
                r"$\mathbb{E}[\mathrm{relu}(h)^2] = q_{l-1}/2$."
            ),
            Step(r"With $\mathrm{Var}[w] = 2/\text{fan}_{in}$:", sympy.Eq(sympy.Symbol("q_l"), ql)),
            Step(
                r"What halves is the **second moment**; the variance of the ReLU output is "
                r"$\sigma^2(\pi-1)/(2\pi) \approx 0.341\sigma^2$."
            ),
        ),
        claimed=q,
        derived=ql,
    )
