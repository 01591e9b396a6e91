r"""Regularization and training dynamics in SymPy: L2 and L1 penalties, their Bayesian priors,
ridge bias and variance, minibatch gradient noise, gradient descent as a spectral filter,
bias–variance decompositions, PAC-Bayes, sharpness under reparametrization, 002's review
question 6 and validation selection bias.

Conventions (named in every helper)
-----------------------------------
* **Loss normalization.** *Summed* loss :math:`\tfrac12\|y - X\theta\|^2` or *mean* loss
  :math:`\tfrac1{2N}\|y - X\theta\|^2`; the meaning of :math:`\lambda` changes with it
  (a mean-loss :math:`\lambda` is the summed-loss one divided by :math:`N`).
* **Penalty.** ``002``'s :math:`\tfrac\lambda2\|\theta\|^2` (gradient :math:`\lambda\theta`) and
  :math:`\lambda\|\theta\|_1` (subdifferential :math:`\lambda\,\partial|\theta|`).
* **Weight decay.** torch's ``SGD(weight_decay=wd)`` adds :math:`wd\cdot\theta` to the
  gradient (L2 with :math:`\lambda = wd`); AdamW's decoupled decay is
  :math:`\theta \leftarrow \theta - \mathrm{lr}\cdot wd\cdot\theta` (lr-multiplied).
* **Minibatches** of size :math:`B` from :math:`N` examples, with or without replacement;
  :math:`\Sigma` is the per-example gradient (population) variance
  :math:`\frac1N\sum_i (g_i - \bar g)^2`.
* :math:`\mathcal N(\mu, \sigma^2)` is parametrized by the **variance**; step sizes
  :math:`\eta` are compared with the Hessian eigenvalues (:math:`\eta s < 2`).

Every public helper takes ints, floats, :class:`sympy.Rational` or symbols and returns exact
results (floats become ``sympy.Float``). Invalid arguments raise ``TypeError``/``ValueError``
naming the argument. Each ``derive_*`` returns a :class:`~theory.derivation.Derivation`
rendered on the docs page; ``claimed`` is 002's statement (or the statement tested), ``derived``
the result here.

References: ``002_532ac369c9b692e7.txt`` § Regularization Techniques Theory, § Batch Size and
Generalization, § Early Stopping Theory, review question 6. R. Tibshirani (1996), *Regression
shrinkage and selection via the lasso* (orthogonal design: soft threshold); T. Hastie,
R. Tibshirani, J. Friedman, *The Elements of Statistical Learning* (2nd ed.) §3.4 (ridge
effective degrees of freedom), §7.4–7.6 (optimism :math:`2\sigma^2 d/N`); P. Domingos (2000),
*A Unified Bias-Variance Decomposition*, ICML (0-1 loss: variance can reduce the error);
D. McAllester (1999), *PAC-Bayesian model averaging*; A. Maurer (2004), *A note on the
PAC-Bayesian theorem* (the :math:`\ln(2\sqrt n/\delta)` form); L. Dinh, R. Pascanu, S. Bengio,
Y. Bengio (2017), *Sharp Minima Can Generalize For Deep Nets*, ICML §4–5; S. Smith, Q. Le
(2018), *A Bayesian Perspective on Generalization and SGD*, ICLR (noise scale
:math:`\propto\eta N/B`); S. Jastrzębski et al. (2017), *Three Factors Influencing Minima in
SGD* (temperature :math:`\eta/B`); A. Ali, J. Z. Kolter, R. Tibshirani (2019), *A Continuous-Time
View of Early Stopping for Least Squares*; I. Loshchilov, F. Hutter (2019), *Decoupled Weight
Decay Regularization*; W. G. Cochran, *Sampling Techniques* (finite population correction).

Examples
--------
>>> soft_threshold(3, 1), soft_threshold(-sympy.Rational(1, 2), 1)
(2, 0)
>>> map_lambda(1, 4, prior="gaussian", loss="sum")
1/4
>>> minibatch_gradient_variance(6, 2, 4, replacement=False)
2
>>> dropout_l2_minimizer(1, 10, 10, sympy.Rational(1, 2))
1/3
>>> expected_min_validation_error(2, 1, sympy.Rational(1, 2))
1/4
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import mpmath
import sympy
from sympy.stats import E as expectation
from sympy.stats import Normal, variance

from theory._args import TEXT, Dim, bounded, dim, flag, int_dim, real
from theory._args import choice as _choice
from theory.derivation import Derivation, Step

__all__ = [
    "MAX_EIGENVALUES",
    "MAX_STEPS",
    "MAX_VALIDATION",
    "derive_bias_variance_decomposition",
    "derive_dropout_l2",
    "derive_early_stopping_filter",
    "derive_feature_selection",
    "derive_flat_minima",
    "derive_gaussian_kl",
    "derive_gaussian_prior",
    "derive_gd_bias_variance",
    "derive_l2_update",
    "derive_laplace_prior",
    "derive_lasso_1d",
    "derive_minibatch_covariance",
    "derive_monotone_gd",
    "derive_optimal_lambda",
    "derive_pac_bayes_zero_kl",
    "derive_ridge_bias_variance",
    "derive_ridge_optimism",
    "derive_sgd_noise_scales",
    "derive_sgd_stationary_variance",
    "derive_validation_selection",
    "derive_weight_decay_range",
    "derive_zero_one_counterexample",
    "dropout_l2_minimizer",
    "early_stopping_lambda",
    "expected_min_validation_error",
    "gaussian_kl",
    "gd_bias_variance",
    "gd_filter",
    "gd_l2_fixed_point",
    "gd_monotone_lr_bound",
    "gd_risk",
    "l1_subdifferential",
    "l2_update",
    "lasso_1d",
    "map_lambda",
    "minibatch_gradient_variance",
    "pac_bayes_bound",
    "relu_net_hessian",
    "ridge_bias_variance",
    "ridge_df",
    "ridge_filter",
    "ridge_optimism",
    "sgd_noise_scales",
    "sgd_stationary_variance",
    "soft_threshold",
    "zero_one_decomposition",
]

MAX_EIGENVALUES = 10**4
"""Largest number of eigenvalues the spectral helpers (:func:`ridge_df`,
:func:`ridge_bias_variance`, :func:`ridge_optimism`, :func:`gd_monotone_lr_bound`) accept
(each builds an exact sum term by term)."""

MAX_STEPS = 10**4
"""Largest ``steps`` of :func:`gd_filter` / :func:`gd_bias_variance` /
:func:`early_stopping_lambda`: :math:`(1-\\eta s)^t` with exact rationals grows in size with
:math:`t`."""

MAX_VALIDATION = 100
"""Largest ``k`` (candidates) and ``m`` (validation points) of
:func:`expected_min_validation_error` (an exact sum of :math:`m` binomial tails, each raised to
the power :math:`k`)."""

_PRIORS = ("gaussian", "laplace")
_LOSSES = ("sum", "mean")


# Argument checking ------------------------------------------------------------------------


def _positive(value: object, name: str) -> sympy.Expr:
    v = real(value, name, lower=0)
    if v.is_zero:
        raise ValueError(f"{name} must be a finite real number > 0, got {value!r}")
    return v


def _nonneg(value: object, name: str) -> sympy.Expr:
    return real(value, name, lower=0)


def _prob(value: object, name: str) -> sympy.Expr:
    return real(value, name, lower=0, upper=1)


def _open_prob(value: object, name: str) -> sympy.Expr:
    v = real(value, name, lower=0, upper=1)
    if v.is_zero or (v - 1).is_zero:
        raise ValueError(f"{name} must be a probability in (0, 1), got {value!r}")
    return v


def _eigenvalues(values: object, name: str, positive: bool = False) -> tuple[sympy.Expr, ...]:
    if isinstance(values, TEXT) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a sequence of real numbers >= 0, got {type(values).__name__}"
        )
    if len(values) == 0:
        raise ValueError(f"{name} must have at least one entry, got an empty sequence")
    bounded(len(values), f"len({name})", MAX_EIGENVALUES)
    check = _positive if positive else _nonneg
    return tuple(check(v, f"{name}[{i}]") for i, v in enumerate(values))


def _steps(value: object, name: str = "steps") -> Dim:
    return bounded(dim(value, name, minimum=0), name, MAX_STEPS)


def _eq(lhs: object, rhs: object) -> sympy.Basic:
    return sympy.Eq(sympy.sympify(lhs), sympy.sympify(rhs), evaluate=False)


def _sign(v: sympy.Expr) -> sympy.Expr:
    return sympy.sign(v)


# L2 / weight decay ----------------------------------------------------------------------------


def l2_update(theta: object, grad: object, lr: object, lam: object) -> sympy.Expr:
    r"""One gradient step on :math:`L(\theta) + \frac\lambda2\theta^2`:
    :math:`\theta - \eta(\nabla L + \lambda\theta) = (1 - \eta\lambda)\theta - \eta\nabla L`
    (002's update; torch ``SGD(weight_decay=lam)`` without momentum). ``theta``/``grad`` real,
    ``lr`` (:math:`\eta`) and ``lam`` (:math:`\lambda`) real :math:`\ge 0`."""
    t, g = real(theta, "theta"), real(grad, "grad")
    eta, lm = _nonneg(lr, "lr"), _nonneg(lam, "lam")
    return sympy.expand((1 - eta * lm) * t - eta * g)


def gd_l2_fixed_point(curvature: object, minimizer: object, lam: object) -> sympy.Expr:
    r"""Fixed point of GD on :math:`\frac h2(\theta - \theta^*)^2 + \frac\lambda2\theta^2`:
    the ridge solution :math:`h\theta^*/(h + \lambda)` (not 0). ``curvature`` :math:`h > 0`,
    ``lam`` :math:`\ge 0`, ``minimizer`` :math:`\theta^*` real. The iteration converges to it
    iff :math:`0 < \eta(h+\lambda) < 2`."""
    h, ts, lm = _positive(curvature, "curvature"), real(minimizer, "minimizer"), _nonneg(lam, "lam")
    return sympy.cancel(h * ts / (h + lm))


# L1 ---------------------------------------------------------------------------------------------


def l1_subdifferential(theta: object, lam: object) -> tuple[sympy.Expr, sympy.Expr]:
    r"""The subdifferential of :math:`\lambda|\theta|` as an interval ``(low, high)``:
    :math:`\{\lambda\,\mathrm{sign}\,\theta\}` for :math:`\theta \ne 0`, :math:`[-\lambda, \lambda]`
    at 0 (so :math:`\mathrm{sign}(0) = 0` is one subgradient among many). ``theta`` a real
    number (a symbol must be known nonzero or zero), ``lam`` :math:`\ge 0`."""
    t, lm = real(theta, "theta"), _nonneg(lam, "lam")
    if t.is_zero:
        return (-lm, lm)
    if t.is_zero is False:
        s = _sign(t)
        return (lm * s, lm * s)
    raise ValueError(f"theta must be known to be zero or nonzero, got {theta!r}")


def soft_threshold(z: object, lam: object) -> sympy.Expr:
    r""":math:`S_\lambda(z) = \mathrm{sign}(z)\max(|z| - \lambda, 0)`, the proximal map of
    :math:`\lambda|\cdot|` (ISTA's step). Exact zero for :math:`|z| \le \lambda`. Symbolic
    arguments give a ``Piecewise``. ``z`` real, ``lam`` :math:`\ge 0`."""
    return _soft(real(z, "z"), _nonneg(lam, "lam"))


def _soft(zz: sympy.Expr, lm: sympy.Expr) -> sympy.Expr:
    return sympy.piecewise_fold(sympy.Piecewise((zz - lm, zz > lm), (zz + lm, zz < -lm), (0, True)))


def lasso_1d(xty: object, xtx: object, lam: object) -> sympy.Expr:
    r"""Minimiser of the summed 1-D lasso :math:`\frac12\|y - x\theta\|^2 + \lambda|\theta|`:
    :math:`\hat\theta = S_\lambda(x^\top y)/x^\top x` (zero iff :math:`|x^\top y| \le \lambda`).
    With a mean loss :math:`\frac1{2N}\|\cdot\|^2` pass :math:`N\lambda`. ``xty`` real,
    ``xtx`` :math:`> 0`, ``lam`` :math:`\ge 0`."""
    c, a, lm = real(xty, "xty"), _positive(xtx, "xtx"), _nonneg(lam, "lam")
    return sympy.piecewise_fold(_soft(c, lm) / a)


# Priors -------------------------------------------------------------------------------------------


def map_lambda(
    noise_var: object,
    prior_scale: object,
    prior: str = "gaussian",
    loss: str = "sum",
    n: object = 1,
) -> sympy.Expr:
    r"""The penalty weight :math:`\lambda` whose penalized loss has the MAP estimate as minimiser,
    for Gaussian noise of variance :math:`\sigma^2` (``noise_var``).

    * ``prior="gaussian"``: :math:`\theta_j\sim\mathcal N(0, \tau^2)`, ``prior_scale`` =
      :math:`\tau^2` (a variance), penalty :math:`\frac\lambda2\|\theta\|^2`:
      :math:`\lambda = \sigma^2/\tau^2`.
    * ``prior="laplace"``: density :math:`\frac1{2b}e^{-|\theta|/b}`, ``prior_scale`` = :math:`b`,
      penalty :math:`\lambda\|\theta\|_1`: :math:`\lambda = \sigma^2/b`.
    * ``loss="sum"`` for :math:`\frac12\|y - X\theta\|^2`; ``loss="mean"`` for
      :math:`\frac1{2N}\|y - X\theta\|^2`, which divides :math:`\lambda` by ``n`` (:math:`N \ge 1`).
    """
    s2, sc = _positive(noise_var, "noise_var"), _positive(prior_scale, "prior_scale")
    _choice(prior, "prior", _PRIORS)
    _choice(loss, "loss", _LOSSES)
    nn = dim(n, "n")
    lam = s2 / sc
    return sympy.cancel(lam / nn) if loss == "mean" else sympy.cancel(lam)


# Ridge --------------------------------------------------------------------------------------


def ridge_filter(eigenvalue: object, lam: object) -> sympy.Expr:
    r"""Ridge's shrinkage of the least-squares coefficient along a Gram eigenvector:
    :math:`s/(s + \lambda)` (summed loss, :math:`\frac\lambda2\|\theta\|^2`). ``eigenvalue``
    :math:`s \ge 0`, ``lam`` :math:`\ge 0`, not both 0."""
    s, lm = _nonneg(eigenvalue, "eigenvalue"), _nonneg(lam, "lam")
    if s.is_zero and lm.is_zero:
        raise ValueError("eigenvalue and lam must not both be 0 (the filter 0/0 is undefined)")
    return sympy.cancel(s / (s + lm))


def ridge_df(eigenvalues: Sequence[object], lam: object) -> sympy.Expr:
    r"""Effective degrees of freedom :math:`\mathrm{df}(\lambda) = \mathrm{tr}\,H =
    \sum_i s_i/(s_i + \lambda)` (ESL §3.4.1), :math:`s_i` the eigenvalues of :math:`X^\top X`;
    decreasing in :math:`\lambda`. ``eigenvalues`` a sequence of reals :math:`\ge 0` (at most
    :data:`MAX_EIGENVALUES`), ``lam`` :math:`> 0`."""
    ss, lm = _eigenvalues(eigenvalues, "eigenvalues"), _positive(lam, "lam")
    return sympy.cancel(sum((s / (s + lm) for s in ss), sympy.Integer(0)))


def ridge_bias_variance(
    eigenvalues: Sequence[object],
    coefficients: Sequence[object],
    noise_var: object,
    lam: object,
    n: object,
) -> tuple[sympy.Expr, sympy.Expr]:
    r"""Fixed-design ridge, in-sample mean squared error split into ``(bias², variance)``:

    .. math:: \mathrm{bias}^2 = \frac1n\sum_i \frac{\lambda^2 s_i\beta_i^2}{(s_i+\lambda)^2},\qquad
              \mathrm{var} = \frac{\sigma^2}n\sum_i \frac{s_i^2}{(s_i+\lambda)^2},

    with :math:`X^\top X = V\,\mathrm{diag}(s)V^\top`, :math:`\beta_i` the true coefficients in
    that basis, noise variance :math:`\sigma^2`, summed loss with :math:`\frac\lambda2\|\theta\|^2`.
    Bias² increases and variance decreases in :math:`\lambda` (:func:`derive_ridge_bias_variance`).
    ``coefficients`` as many as ``eigenvalues``; ``noise_var``, ``lam`` :math:`\ge 0`; ``n``
    an integer :math:`\ge 1`."""
    ss = _eigenvalues(eigenvalues, "eigenvalues", positive=True)
    if isinstance(coefficients, TEXT) or not isinstance(coefficients, Sequence):
        raise TypeError(f"coefficients must be a sequence of reals, got {type(coefficients)}")
    if len(coefficients) != len(ss):
        raise ValueError(
            f"coefficients must have as many entries as eigenvalues ({len(ss)}), "
            f"got {len(coefficients)}"
        )
    bs = tuple(real(b, f"coefficients[{i}]") for i, b in enumerate(coefficients))
    s2, lm, nn = _nonneg(noise_var, "noise_var"), _nonneg(lam, "lam"), dim(n, "n")
    bias = sum((lm**2 * s * b**2 / (s + lm) ** 2 for s, b in zip(ss, bs, strict=True)), 0)
    var = sum((s2 * s**2 / (s + lm) ** 2 for s in ss), 0)
    return sympy.cancel(bias / nn), sympy.cancel(var / nn)


def ridge_optimism(
    eigenvalues: Sequence[object], noise_var: object, lam: object, n: object
) -> sympy.Expr:
    r"""In-sample optimism of fixed-design ridge: :math:`\mathbb E[\mathrm{Err_{in}}] -
    \mathbb E[\overline{\mathrm{err}}] = 2\sigma^2\,\mathrm{df}(\lambda)/n` (ESL §7.4–7.6), mean
    squared errors over the :math:`n` training inputs with fresh noise. Arguments as in
    :func:`ridge_df`, ``noise_var`` :math:`\ge 0`, ``n`` an integer :math:`\ge 1`."""
    df = ridge_df(eigenvalues, lam)
    return sympy.cancel(2 * _nonneg(noise_var, "noise_var") * df / dim(n, "n"))


# Minibatch noise ------------------------------------------------------------------------------


def minibatch_gradient_variance(
    grad_var: object, batch: object, n: object, replacement: bool = True
) -> sympy.Expr:
    r"""Variance of the minibatch mean gradient (one coordinate, or the covariance matrix
    entrywise): :math:`\Sigma/B` with replacement, :math:`\frac\Sigma B\frac{N-B}{N-1}` without
    (finite population correction; Cochran), :math:`\Sigma = \frac1N\sum_i(g_i - \bar g)^2`.
    The minibatch gradient is unbiased either way. ``grad_var`` :math:`\ge 0`, ``batch``
    :math:`B \ge 1`, ``n`` :math:`N \ge 1` (without replacement :math:`B \le N`; :math:`N = 1`
    gives 0), ``replacement`` a bool."""
    sig = _nonneg(grad_var, "grad_var")
    b, nn = dim(batch, "batch"), dim(n, "n")
    rep = flag(replacement, "replacement")
    if rep:
        return sympy.cancel(sig / b)
    if isinstance(b, int) and isinstance(nn, int) and b > nn:
        raise ValueError(
            f"batch must be <= n when sampling without replacement, got batch={b}, n={nn}"
        )
    if nn == 1:
        return sympy.Integer(0)
    return sympy.cancel(sig / b * (nn - b) / (nn - 1))


def sgd_noise_scales(
    lr: object, batch: object, grad_var: object
) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    r"""Three quantities that 002's ":math:`\sigma^2\propto\eta/B`" can mean, for SGD with
    replacement: ``(gradient variance Σ/B, update variance η²Σ/B, temperature η/B)``. Only the
    SDE temperature (the diffusion :math:`\eta\Sigma/B` per unit time :math:`t = k\eta`; Smith & Le
    2018, Jastrzębski et al. 2017) scales as :math:`\eta/B`. ``lr`` :math:`> 0`, ``batch``
    :math:`\ge 1`, ``grad_var`` :math:`\ge 0`."""
    eta, b, sig = _positive(lr, "lr"), dim(batch, "batch"), _nonneg(grad_var, "grad_var")
    return sympy.cancel(sig / b), sympy.cancel(eta**2 * sig / b), sympy.cancel(eta / b)


def sgd_stationary_variance(
    lr: object, batch: object, curvature: object, decay: object, noise_var: object
) -> sympy.Expr:
    r"""Stationary variance of SGD on :math:`\frac h2\theta^2 + \frac\lambda2\theta^2` with
    minibatch-gradient noise of variance :math:`s^2/B` (per-example :math:`s^2`, with
    replacement): :math:`\theta_{k+1} = (1 - \eta(h+\lambda))\theta_k - \eta\xi_k` gives
    :math:`\mathrm{Var}\,\theta_\infty = \eta s^2/(B(h+\lambda)(2 - \eta(h+\lambda)))`.
    Requires :math:`0 < \eta(h+\lambda) < 2` (ValueError otherwise: no stationary law).
    ``lr`` :math:`> 0`, ``batch`` :math:`\ge 1`, ``curvature`` :math:`h \ge 0`, ``decay``
    :math:`\lambda \ge 0`, ``noise_var`` :math:`s^2 \ge 0`."""
    eta, b = _positive(lr, "lr"), dim(batch, "batch")
    h, lm, s2 = (
        _nonneg(curvature, "curvature"),
        _nonneg(decay, "decay"),
        _nonneg(noise_var, "noise_var"),
    )
    a = eta * (h + lm)
    if a.is_zero or (a - 2).is_nonnegative:
        raise ValueError(
            f"lr*(curvature+decay) must be in (0, 2) for a stationary variance, got {a}"
        )
    return sympy.cancel(eta * s2 / (b * (h + lm) * (2 - a)))


# GD as a spectral filter ----------------------------------------------------------------------


def gd_monotone_lr_bound(eigenvalues: Sequence[object]) -> sympy.Expr:
    r"""The step size below which GD on the quadratic :math:`\frac12\theta^\top H\theta - b^\top
    \theta` decreases the loss at every step from every non-stationary start:
    :math:`2/s_{\max}`; strictly: monotone iff :math:`0 < \eta < 2/s_{\max}` (at :math:`\eta =
    2/s_{\max}` the top direction oscillates with constant loss). ``eigenvalues`` of :math:`H`,
    reals :math:`\ge 0`, not all 0."""
    ss = _eigenvalues(eigenvalues, "eigenvalues")
    top = sympy.Max(*ss)
    if top.is_zero:
        raise ValueError("eigenvalues must not all be 0 (the loss is then flat)")
    return 2 / top


def gd_filter(eigenvalue: object, lr: object, steps: object) -> sympy.Expr:
    r"""GD from :math:`\theta_0 = 0` on the summed least-squares loss after :math:`t` steps
    multiplies the OLS coefficient along a Gram eigenvector by :math:`1 - (1-\eta s)^t`.
    ``eigenvalue`` :math:`s \ge 0`, ``lr`` :math:`\eta \ge 0`, ``steps`` an integer
    :math:`t \ge 0` (at most :data:`MAX_STEPS`)."""
    s, eta, t = _nonneg(eigenvalue, "eigenvalue"), _nonneg(lr, "lr"), _steps(steps)
    return sympy.expand(1 - (1 - eta * s) ** t)


def early_stopping_lambda(eigenvalue: object, lr: object, steps: object) -> sympy.Expr:
    r"""The ridge :math:`\lambda` whose filter equals GD's along one direction:
    :math:`s/(s+\lambda) = 1 - (1-\eta s)^t \iff \lambda = s(1-\eta s)^t/(1 - (1-\eta s)^t)`.
    For :math:`0 < \eta s < 1` it equals :math:`1/(\eta\sum_{k=1}^t v^{-k})`, :math:`v = 1-\eta
    s`, strictly decreasing in :math:`s` (so one :math:`\lambda` matches all directions iff
    their nonzero eigenvalues are equal). Requires :math:`0 < \eta s < 1` and :math:`t \ge 1`
    (ValueError otherwise). ``eigenvalue`` :math:`> 0`, ``lr`` :math:`> 0`."""
    s, eta = _positive(eigenvalue, "eigenvalue"), _positive(lr, "lr")
    t = _steps(steps)
    if t == 0:
        raise ValueError("steps must be >= 1 (after 0 steps GD has not moved: lambda = oo)")
    u = eta * s
    if (u - 1).is_nonnegative:
        raise ValueError(f"lr*eigenvalue must be in (0, 1) for a positive matching lambda, got {u}")
    if u.atoms(sympy.Float) and isinstance(t, int):
        # floats: 1 - (1-u)^t cancels catastrophically for tiny u (1e-320 gives 0/0);
        # log1p/expm1 keep the relative precision.
        with mpmath.workprec(64):
            lg = t * mpmath.log1p(-mpmath.mpf(sympy.Float(u)._mpf_))
            val = mpmath.mpf(sympy.Float(s)._mpf_) * mpmath.exp(lg) / -mpmath.expm1(lg)
        return sympy.Float(val)
    a = (1 - u) ** t
    return sympy.cancel(s * a / (1 - a))


def gd_bias_variance(
    eigenvalue: object, coefficient: object, noise_var: object, lr: object, steps: object
) -> tuple[sympy.Expr, sympy.Expr]:
    r"""Per-direction ``(bias², variance)`` of the GD estimate after :math:`t` steps from 0
    (summed least squares, fixed design, parameter error along a Gram eigenvector with
    eigenvalue :math:`s`): the OLS coefficient is :math:`\beta + \varepsilon`,
    :math:`\mathrm{Var}\,\varepsilon = \sigma^2/s`, GD multiplies it by
    :math:`f_t = 1-(1-\eta s)^t`: bias² :math:`(1-\eta s)^{2t}\beta^2`, variance
    :math:`\sigma^2 f_t^2/s`. Monotone in :math:`t` iff :math:`0 < \eta s \le 1`.
    ``eigenvalue`` :math:`> 0`, ``coefficient`` real, ``noise_var``/``lr`` :math:`\ge 0`,
    ``steps`` integer :math:`\ge 0`."""
    s, b = _positive(eigenvalue, "eigenvalue"), real(coefficient, "coefficient")
    s2, eta, t = _nonneg(noise_var, "noise_var"), _nonneg(lr, "lr"), _steps(steps)
    a = (1 - eta * s) ** t
    return sympy.expand(a**2 * b**2), sympy.cancel(s2 * (1 - a) ** 2 / s)


def gd_risk(
    eigenvalues: Sequence[object],
    coefficients: Sequence[object],
    noise_var: object,
    lr: object,
    steps: object,
) -> sympy.Expr:
    r"""Expected parameter error :math:`\mathbb E\|\theta_t - \beta\|^2` of GD after :math:`t`
    steps from 0 (summed least squares, fixed design, noise variance :math:`\sigma^2`):
    :math:`\sum_i (1-\eta s_i)^{2t}\beta_i^2 + \sigma^2(1-(1-\eta s_i)^t)^2/s_i`
    (:func:`gd_bias_variance` summed over Gram eigen-directions). It is the excess validation
    (test) risk for test inputs with :math:`\mathbb E\,xx^\top = I`. Noise-free
    (:math:`\sigma^2 = 0`) and :math:`0<\eta s_i<2` it never increases; with noise it can be
    U-shaped or have several local minima (epoch-wise double descent). ``eigenvalues`` reals
    :math:`> 0` (at most :data:`MAX_EIGENVALUES`), ``coefficients`` as many reals,
    ``noise_var``/``lr`` :math:`\ge 0`, ``steps`` an integer :math:`\ge 0` (at most
    :data:`MAX_STEPS`)."""
    ss = _eigenvalues(eigenvalues, "eigenvalues", positive=True)
    if isinstance(coefficients, TEXT) or not isinstance(coefficients, Sequence):
        raise TypeError(f"coefficients must be a sequence of reals, got {type(coefficients)}")
    if len(coefficients) != len(ss):
        raise ValueError(
            f"coefficients must have as many entries as eigenvalues ({len(ss)}), "
            f"got {len(coefficients)}"
        )
    bs = tuple(real(b, f"coefficients[{i}]") for i, b in enumerate(coefficients))
    s2, eta, t = _nonneg(noise_var, "noise_var"), _nonneg(lr, "lr"), _steps(steps)
    total = sympy.Integer(0)
    for s, b in zip(ss, bs, strict=True):
        a = (1 - eta * s) ** t
        total += a**2 * b**2 + s2 * (1 - a) ** 2 / s
    return sympy.cancel(total) if isinstance(t, int) else total


# Bias-variance, PAC-Bayes, sharpness ---------------------------------------------------------


def zero_one_decomposition(p: object) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    r"""Domingos (2000) for 0-1 loss, noise-free label :math:`y = 1`, a classifier that predicts 1
    with probability :math:`p` over training sets: ``(expected loss, bias, variance)`` =
    :math:`(1 - p,\ [p < \frac12],\ \min(p, 1-p))`, with the main prediction the majority vote
    (1 at a tie). Loss = bias + variance for :math:`p \ge \frac12` but bias − variance for
    :math:`p < \frac12`: variance *lowers* the error of a biased classifier. ``p`` in [0, 1]."""
    pp = _prob(p, "p")
    biased = sympy.Integer(1) if (pp - sympy.Rational(1, 2)).is_negative else sympy.Integer(0)
    if not pp.is_number:
        biased = sympy.Piecewise((1, pp < sympy.Rational(1, 2)), (0, True))
    return 1 - pp, biased, sympy.Min(pp, 1 - pp)


def pac_bayes_bound(train_error: object, kl: object, n: object, delta: object) -> sympy.Expr:
    r"""McAllester's PAC-Bayes bound in Maurer's (2004) form: with probability
    :math:`\ge 1-\delta`, for all posteriors :math:`Q`,
    :math:`\mathbb E_Q L \le \mathbb E_Q\hat L + \sqrt{(\mathrm{KL}(Q\|P) + \ln(2\sqrt n/\delta))
    /(2n)}`. The complexity is :math:`\mathrm{KL}(Q\|P)`, not a parameter count.
    ``train_error`` in [0, 1], ``kl`` :math:`\ge 0`, ``n`` an integer :math:`\ge 1`,
    ``delta`` in (0, 1)."""
    e, k = _prob(train_error, "train_error"), _nonneg(kl, "kl")
    nn, d = dim(n, "n"), _open_prob(delta, "delta")
    return e + sympy.sqrt((k + sympy.log(2 * sympy.sqrt(nn) / d)) / (2 * nn))


def gaussian_kl(mean_sq_dist: object, var_q: object, var_p: object, d: object) -> sympy.Expr:
    r""":math:`\mathrm{KL}(\mathcal N(\mu_Q,\sigma_Q^2I_d)\,\|\,\mathcal N(\mu_P,\sigma_P^2I_d)) =
    \frac12\big(d\frac{\sigma_Q^2}{\sigma_P^2} + \frac{\|\mu_Q-\mu_P\|^2}{\sigma_P^2} - d +
    d\ln\frac{\sigma_P^2}{\sigma_Q^2}\big)`; zero iff :math:`Q = P`, for every :math:`d`.
    ``mean_sq_dist`` :math:`\|\mu_Q - \mu_P\|^2 \ge 0`, ``var_q``/``var_p`` variances
    :math:`> 0`, ``d`` an integer :math:`\ge 1`."""
    m, vq, vp = (
        _nonneg(mean_sq_dist, "mean_sq_dist"),
        _positive(var_q, "var_q"),
        _positive(var_p, "var_p"),
    )
    dd = dim(d, "d")
    return sympy.Rational(1, 2) * (dd * vq / vp + m / vp - dd + dd * sympy.log(vp / vq))


def relu_net_hessian(w1: object, w2: object, x: object, y: object) -> sympy.Matrix:
    r"""Hessian in :math:`(w_1, w_2)` of :math:`L = \frac12(w_2\,\mathrm{relu}(w_1x) - y)^2` in
    the active region :math:`w_1x > 0`: :math:`\begin{pmatrix} w_2^2x^2 & x r + w_1w_2x^2\\
    x r + w_1w_2x^2 & w_1^2x^2\end{pmatrix}`, :math:`r = w_1w_2x - y`. ``w1``, ``w2``, ``x``,
    ``y`` real with :math:`w_1x > 0` (ValueError otherwise: the ReLU is not differentiable
    twice there / the Hessian is 0)."""
    a, b, xx, yy = real(w1, "w1"), real(w2, "w2"), real(x, "x"), real(y, "y")
    if (a * xx).is_positive is False:
        raise ValueError(f"w1*x must be > 0 (active ReLU), got w1={w1!r}, x={x!r}")
    u, v = sympy.symbols("u v", real=True)
    loss = (v * u * xx - yy) ** 2 / 2  # relu(u x) = u x on the active region
    hess = sympy.hessian(loss, (u, v)).subs({u: a, v: b})
    return hess.applyfunc(sympy.expand)


# Review question 6, validation selection ------------------------------------------------------


def dropout_l2_minimizer(beta_hat: object, n: object, lam: object, q: object) -> sympy.Expr:
    r"""Minimiser of the expected objective of linear regression with L2 and inverted input
    dropout (keep probability :math:`q`) on an orthogonal design :math:`X^\top X = nI`:
    :math:`\mathbb E_r\|y - X(r\odot w)/q\|^2 + \lambda\|w\|^2 = \|y - Xw\|^2 +
    \frac{1-q}q n\|w\|^2 + \lambda\|w\|^2` (the penalties add) has minimiser
    :math:`\hat\beta/(1/q + \lambda/n)`, :math:`\hat\beta = X^\top y/n` the OLS coefficient —
    not the product :math:`q\cdot\frac n{n+\lambda}\hat\beta` of the two shrinkages (same with
    :math:`\frac12`-scaled loss and :math:`\frac\lambda2` penalty). ``beta_hat`` real, ``n`` an
    integer :math:`\ge 1`, ``lam`` :math:`\ge 0`, ``q`` in (0, 1]."""
    b, nn, lm = real(beta_hat, "beta_hat"), dim(n, "n"), _nonneg(lam, "lam")
    qq = real(q, "q", lower=0, upper=1)
    if qq.is_zero:
        raise ValueError(f"q must be a keep probability in (0, 1], got {q!r}")
    return sympy.cancel(b / (1 / qq + lm / nn))


def expected_min_validation_error(k: object, m: object, p: object) -> sympy.Expr:
    r""":math:`\mathbb E[\min_{j\le k}\hat e_j]` for :math:`k` models with the same true error
    :math:`p` and independent validation errors :math:`\hat e_j = X_j/m`,
    :math:`X_j\sim\mathrm{Binomial}(m, p)`: :math:`\frac1m\sum_{i=1}^m P(X\ge i)^k`. Below
    :math:`p` for :math:`k\ge 2` and :math:`0<p<1` (selection bias); equal to :math:`p` for
    :math:`k = 1`. ``k``, ``m`` concrete integers :math:`\ge 1` (each at most
    :data:`MAX_VALIDATION`), ``p`` in [0, 1]."""
    kk, mm = (
        bounded(int_dim(k, "k"), "k", MAX_VALIDATION),
        bounded(int_dim(m, "m"), "m", MAX_VALIDATION),
    )
    pp = _prob(p, "p")
    total = sympy.Integer(0)
    tail = sympy.Integer(1)  # P(X >= i), updated downward
    for i in range(0, mm):
        tail -= sympy.binomial(mm, i) * pp**i * (1 - pp) ** (mm - i)
        total += tail**kk
    return sympy.expand(total / mm) if pp.free_symbols else total / mm


# Derivations ----------------------------------------------------------------------------------

_TH, _G, _ETA, _LAM = sympy.symbols("theta g eta lambda", real=True)
_H, _S2, _TAU2, _B = sympy.symbols("h sigma^2 tau^2 b", positive=True)
_N = sympy.Symbol("N", integer=True, positive=True)


def derive_l2_update() -> Derivation:
    r"""002's L2 gradient and update: :math:`\nabla(L + \frac\lambda2\|\theta\|^2) = \nabla L +
    \lambda\theta` and :math:`\theta - \eta(\nabla L + \lambda\theta) = (1-\eta\lambda)\theta -
    \eta\nabla L` (1-D, :math:`L` an arbitrary function, sympy ``diff``)."""
    L = sympy.Function("L")
    obj = L(_TH) + _LAM / 2 * _TH**2
    grad = sympy.diff(obj, _TH)
    step = _TH - _ETA * grad
    claimed = (1 - _ETA * _LAM) * _TH - _ETA * sympy.diff(L(_TH), _TH)
    return Derivation(
        "L2 gradient and weight-decay update",
        (
            Step(
                "Penalized objective ($\\frac\\lambda2$ convention):", _eq(sympy.Symbol("J"), obj)
            ),
            Step("Its gradient:", _eq(sympy.Symbol(r"\nabla J"), grad)),
            Step("One GD step:", _eq(sympy.Symbol(r"\theta'"), sympy.expand(step))),
        ),
        claimed=claimed,
        derived=step,
    )


def derive_weight_decay_range() -> Derivation:
    r"""The decay factor :math:`1-\eta\lambda` shrinks (:math:`|1-\eta\lambda| < 1`) iff
    :math:`0 < \eta\lambda < 2` (sympy ``solve_univariate_inequality``); it flips the sign for
    :math:`\eta\lambda > 1`. With the loss :math:`\frac h2(\theta-\theta^*)^2` the fixed point
    of GD is :math:`h\theta^*/(h+\lambda)` (ridge), not 0. ``claimed`` the fixed point 0 that
    "shrinks toward zero" suggests, ``derived`` the solved fixed point (disagree for
    :math:`\theta^* \ne 0`)."""
    x = sympy.Symbol("x", real=True)  # x = eta*lambda
    region = sympy.solve_univariate_inequality(sympy.Abs(1 - x) < 1, x, relational=False)
    ts = sympy.Symbol(r"\theta^*", real=True)
    fp = sympy.solve(_TH - _ETA * (_H * (_TH - ts) + _LAM * _TH) - _TH, _TH)[0]
    return Derivation(
        "Weight decay shrinks only for 0 < ηλ < 2; the fixed point is ridge",
        (
            Step("Shrink region of the factor $1 - x$, $x = \\eta\\lambda$:", region),
            Step(
                "Fixed point of $\\theta \\mapsto \\theta - \\eta(h(\\theta-\\theta^*) + "
                "\\lambda\\theta)$:",
                _eq(_TH, fp),
            ),
        ),
        claimed=sympy.Integer(0),
        derived=fp,
    )


def derive_lasso_1d() -> Derivation:
    r"""The 1-D lasso :math:`\frac a2\theta^2 - c\theta + \lambda|\theta|` (:math:`a = x^\top x`,
    :math:`c = x^\top y`, summed loss) solved by cases: on :math:`\theta>0` the stationary point
    :math:`(c-\lambda)/a` is admissible iff :math:`c>\lambda`, on :math:`\theta<0`
    :math:`(c+\lambda)/a` iff :math:`c<-\lambda`; otherwise :math:`0 \in c + [-\lambda,\lambda]`
    and :math:`\theta = 0` (exact zero). ``claimed`` the soft threshold, ``derived`` the case
    analysis assembled as a Piecewise."""
    a = sympy.Symbol("a", positive=True)
    c = sympy.Symbol("c", real=True)
    lam = sympy.Symbol("lambda", positive=True)
    obj_pos = a / 2 * _TH**2 - c * _TH + lam * _TH  # |theta| = theta on theta > 0
    obj_neg = a / 2 * _TH**2 - c * _TH - lam * _TH  # |theta| = -theta on theta < 0
    rp = sympy.solve(sympy.diff(obj_pos, _TH), _TH)[0]  # admissible iff rp > 0 iff c > lam
    rn = sympy.solve(sympy.diff(obj_neg, _TH), _TH)[0]  # admissible iff rn < 0 iff c < -lam
    derived = sympy.Piecewise((rp, c > lam), (rn, c < -lam), (0, True))
    claimed = lasso_1d(c, a, lam)
    return Derivation(
        "1-D lasso by cases: the soft threshold",
        (
            Step("On $\\theta > 0$ (gradient $a\\theta - c + \\lambda$):", _eq(_TH, rp)),
            Step("On $\\theta < 0$ (gradient $a\\theta - c - \\lambda$):", _eq(_TH, rn)),
            Step(
                "At $\\theta = 0$ the subdifferential $-c + [-\\lambda, \\lambda]$ holds 0 iff "
                "$|c| \\le \\lambda$; assembled:",
                _eq(sympy.Symbol(r"\hat\theta"), derived),
            ),
        ),
        claimed=claimed,
        derived=derived,
    )


def derive_feature_selection() -> Derivation:
    r"""Orthogonal design :math:`X^\top X = nI`, summed lasso
    :math:`\frac12\|y-X\theta\|^2 + \lambda\|\theta\|_1` separates into 1-D problems
    :math:`\frac n2\theta_j^2 - (x_j^\top y)\theta_j + \lambda|\theta_j|` (two features shown,
    ``sympy.expand`` of the objective minus the sum): feature :math:`j` is zeroed iff
    :math:`|x_j^\top y| \le \lambda` (mean loss :math:`\frac1{2n}\|\cdot\|^2`: iff
    :math:`|x_j^\top y|/n \le \lambda`). ``claimed`` the separated objective, ``derived`` the
    full one."""
    n = sympy.Symbol("n", positive=True)
    t1, t2, c1, c2, yy = sympy.symbols("theta1 theta2 c1 c2 yy", real=True)
    # ||y - X theta||^2 = y'y - 2 c'theta + theta' X'X theta with X'X = n I
    full = (yy - 2 * (c1 * t1 + c2 * t2) + n * (t1**2 + t2**2)) / 2 + _LAM * (
        sympy.Abs(t1) + sympy.Abs(t2)
    )
    sep = sum((n / 2 * t**2 - c * t + _LAM * sympy.Abs(t) for t, c in ((t1, c1), (t2, c2))), yy / 2)
    return Derivation(
        "Orthogonal-design lasso separates; zero iff |x_jᵀy| ≤ λ",
        (
            Step("Objective with $X^\\top X = nI$, $c = X^\\top y$:", _eq(sympy.Symbol("J"), full)),
            Step("Sum of 1-D lassos:", _eq(sympy.Symbol("J"), sep)),
            Step(
                "Each solved by :func:`lasso_1d`: $\\hat\\theta_j = S_\\lambda(c_j)/n$.",
                _eq(sympy.Symbol(r"\hat\theta_1"), lasso_1d(c1, n, _LAM)),
            ),
        ),
        claimed=sep,
        derived=full,
    )


def _neg_log_posterior(prior: str) -> tuple[sympy.Expr, sympy.Expr]:
    """(σ²·(−log posterior) up to constants, the log prior) for one datum and one weight."""
    x, y = sympy.symbols("x y", real=True)
    lik = -((y - x * _TH) ** 2) / (2 * _S2) - sympy.log(sympy.sqrt(2 * sympy.pi * _S2))
    if prior == "gaussian":
        lp = -(_TH**2) / (2 * _TAU2) - sympy.log(sympy.sqrt(2 * sympy.pi * _TAU2))
    else:
        lp = -sympy.Abs(_TH) / _B - sympy.log(2 * _B)
    return lik, lp


def derive_gaussian_prior() -> Derivation:
    r"""MAP with noise :math:`\mathcal N(0,\sigma^2)` and prior :math:`\mathcal N(0,\tau^2)` on
    :math:`N` data: :math:`-\sigma^2\log p(\theta\mid D) = \frac12\sum(y_i-x_i\theta)^2 +
    \frac{\sigma^2}{2\tau^2}\theta^2 + c`, i.e. :math:`\lambda = \sigma^2/\tau^2` in
    :math:`\frac\lambda2\theta^2` with the summed loss; dividing by :math:`N` gives the mean
    loss and :math:`\lambda = \sigma^2/(N\tau^2)`. ``claimed`` :func:`map_lambda`, ``derived``
    the coefficient of :math:`\theta^2/2` read off the log posterior (the data part
    contributes none, checked by differentiating twice with a symbolic sum of :math:`N` terms
    replaced by one datum)."""
    lik, lp = _neg_log_posterior("gaussian")
    obj = sympy.expand(-_S2 * (lik + lp))
    data = sympy.expand(-_S2 * lik)
    pen = sympy.simplify(obj - data)
    lam = sympy.diff(pen, _TH, 2)
    return Derivation(
        "Gaussian prior ↔ L2 with λ = σ²/τ² (summed) or σ²/(Nτ²) (mean)",
        (
            Step("$-\\sigma^2\\log$ posterior for one datum:", _eq(sympy.Symbol("J"), obj)),
            Step("Penalty part (prior):", _eq(sympy.Symbol("P"), pen)),
            Step(
                "Its curvature is $\\lambda$ in $\\frac\\lambda2\\theta^2$:",
                _eq(sympy.Symbol(r"\lambda"), lam),
            ),
            Step(
                "Mean loss: divide $J$ by $N$:",
                _eq(
                    sympy.Symbol(r"\lambda_{mean}"), map_lambda(_S2, _TAU2, "gaussian", "mean", _N)
                ),
            ),
        ),
        claimed=map_lambda(_S2, _TAU2, "gaussian", "sum"),
        derived=lam,
    )


def derive_laplace_prior() -> Derivation:
    r"""Laplace prior :math:`\frac1{2b}e^{-|\theta|/b}` with Gaussian noise :math:`\sigma^2`:
    :math:`-\sigma^2\log p(\theta\mid D) = \frac12\sum(y_i-x_i\theta)^2 +
    \frac{\sigma^2}b|\theta| + c`, so :math:`\lambda = \sigma^2/b` in :math:`\lambda|\theta|`
    (summed loss; mean loss divides by :math:`N`). ``derived`` the coefficient of
    :math:`|\theta|` (derivative on :math:`\theta > 0`)."""
    _, lp = _neg_log_posterior("laplace")
    pen = sympy.expand(-_S2 * lp)
    tp = sympy.Symbol("t", positive=True)
    lam = sympy.diff(pen.subs(_TH, tp), tp)
    return Derivation(
        "Laplace prior ↔ L1 with λ = σ²/b (summed loss)",
        (
            Step("$-\\sigma^2\\log$ prior:", _eq(sympy.Symbol("P"), pen)),
            Step("Slope on $\\theta > 0$:", _eq(sympy.Symbol(r"\lambda"), lam)),
        ),
        claimed=map_lambda(_S2, _B, "laplace", "sum"),
        derived=lam,
    )


def derive_ridge_bias_variance() -> Derivation:
    r"""Per direction (eigenvalue :math:`s`, coefficient :math:`\beta`), fixed-design ridge:
    bias² :math:`\lambda^2 s\beta^2/(s+\lambda)^2` has derivative
    :math:`2\lambda s^2\beta^2/(s+\lambda)^3 \ge 0`, variance :math:`\sigma^2s^2/(s+\lambda)^2`
    has :math:`-2\sigma^2s^2/(s+\lambda)^3 < 0`, df :math:`s/(s+\lambda)` has
    :math:`-s/(s+\lambda)^2`. ``claimed`` the stated bias derivative, ``derived`` sympy's."""
    s, lam, beta = (
        sympy.Symbol("s", positive=True),
        sympy.Symbol("lambda", positive=True),
        sympy.Symbol("beta", real=True),
    )
    bias, var = ridge_bias_variance([s], [beta], _S2, lam, 1)
    db, dv = sympy.factor(sympy.diff(bias, lam)), sympy.factor(sympy.diff(var, lam))
    ddf = sympy.factor(sympy.diff(ridge_df([s], lam), lam))
    return Derivation(
        "Ridge bias² increases and variance decreases in λ",
        (
            Step("Bias² and variance for one direction:", _eq(sympy.Symbol("B"), bias)),
            Step("Variance:", _eq(sympy.Symbol("V"), var)),
            Step("Derivatives in $\\lambda$:", _eq(sympy.Symbol("B'"), db)),
            Step("Variance:", _eq(sympy.Symbol("V'"), dv)),
            Step("Degrees of freedom:", _eq(sympy.Symbol("df'"), ddf)),
        ),
        claimed=2 * lam * s**2 * beta**2 / (s + lam) ** 3,
        derived=db,
    )


def derive_ridge_optimism() -> Derivation:
    r"""Optimism of a linear smoother :math:`\hat y = Hy` (ridge: :math:`H` symmetric) with
    noise variance :math:`\sigma^2`, :math:`n = 2` points, symbolic :math:`H` and mean
    :math:`f`: :math:`\mathbb E\|y'-Hy\|^2 - \mathbb E\|y-Hy\|^2 = 2\sigma^2\,\mathrm{tr}H`
    (expectations of the Gaussian noise via ``sympy.stats``). Divided by :math:`n`:
    :math:`2\sigma^2\mathrm{df}/n`."""
    h11, h12, h22, f1, f2 = sympy.symbols("h11 h12 h22 f1 f2", real=True)
    sd = sympy.sqrt(_S2)
    e = [Normal(f"e{i}", 0, sd) for i in range(2)]
    ep = [Normal(f"ep{i}", 0, sd) for i in range(2)]
    H = sympy.Matrix([[h11, h12], [h12, h22]])
    y = sympy.Matrix([f1 + e[0], f2 + e[1]])
    yp = sympy.Matrix([f1 + ep[0], f2 + ep[1]])
    fit = H * y
    train = sum(sympy.expand((y[i] - fit[i]) ** 2) for i in range(2))
    test = sum(sympy.expand((yp[i] - fit[i]) ** 2) for i in range(2))
    gap = sympy.simplify(expectation(test) - expectation(train))
    return Derivation(
        "Optimism = 2σ² tr H (in-sample, fixed design)",
        (
            Step(
                "Expected test minus train squared error (sums over n = 2):",
                _eq(sympy.Symbol(r"\Delta"), gap),
            ),
        ),
        claimed=2 * _S2 * (h11 + h22),
        derived=gap,
        scope="proved symbolically for n = 2 and a symbolic symmetric H",
    )


def derive_optimal_lambda() -> Derivation:
    r"""Bayes risk of ridge when :math:`\beta\sim\mathcal N(0,\tau^2)` per direction:
    :math:`R(\lambda) = (\lambda^2s\tau^2 + \sigma^2s^2)/(s+\lambda)^2` (expected
    :func:`ridge_bias_variance`), :math:`R'(\lambda) = 2s^2(\lambda\tau^2-\sigma^2)/(s+\lambda)^3`,
    zero at :math:`\lambda^* = \sigma^2/\tau^2` for **every** eigenvalue :math:`s` — so with a
    summed loss :math:`\lambda^*` does not depend on :math:`N`; with a mean loss
    :math:`\lambda^*_{mean} = \sigma^2/(N\tau^2)`. ``derived`` the root of :math:`R'`."""
    s, lam = sympy.Symbol("s", positive=True), sympy.Symbol("lambda", positive=True)
    beta = sympy.Symbol("beta", real=True)
    bias, var = ridge_bias_variance([s], [beta], _S2, lam, 1)
    risk = bias.subs(beta**2, _TAU2) + var
    dr = sympy.factor(sympy.diff(risk, lam))
    root = sympy.solve(sympy.numer(sympy.together(dr)), lam)
    return Derivation(
        "Optimal λ for the Gaussian-prior model: σ²/τ² (summed), σ²/(Nτ²) (mean)",
        (
            Step("Bayes risk along one direction:", _eq(sympy.Symbol("R"), risk)),
            Step("Derivative:", _eq(sympy.Symbol("R'"), dr)),
            Step(
                "Root (independent of $s$, hence of $N$):", _eq(sympy.Symbol(r"\lambda^*"), root[0])
            ),
        ),
        claimed=map_lambda(_S2, _TAU2, "gaussian", "sum"),
        derived=root[0],
    )


def _population_var(gs: Sequence[sympy.Expr]) -> sympy.Expr:
    mean = sum(gs) / len(gs)
    return sum((g - mean) ** 2 for g in gs) / len(gs)


def derive_minibatch_covariance(n: int = 4, batch: int = 2) -> Derivation:
    r"""Exact enumeration over all minibatches of size ``batch`` from ``n`` symbolic
    per-example gradients :math:`g_1..g_N`: the mean is :math:`\bar g` (unbiased) and the
    variance is :math:`\frac\Sigma B\frac{N-B}{N-1}` without replacement (all
    :math:`\binom NB` subsets) and :math:`\Sigma/B` with replacement (all :math:`N^B` ordered
    tuples). ``claimed`` :func:`minibatch_gradient_variance` without replacement, ``derived``
    the enumerated variance. ``n`` in [2, 6], ``batch`` in [1, n]."""
    nn, b = int_dim(n, "n", 2), int_dim(batch, "batch")
    if nn > 6:
        raise ValueError(f"n must be in [2, 6] (symbolic enumeration), got {nn}")
    if b > nn:
        raise ValueError(f"batch must be in [1, n={nn}], got {b}")
    gs = sympy.symbols(f"g1:{nn + 1}", real=True)
    sigma = _population_var(gs)
    gbar = sum(gs) / nn

    def moments(batches: list[tuple[sympy.Expr, ...]]) -> tuple[sympy.Expr, sympy.Expr]:
        means = [sum(bt) / b for bt in batches]
        m = sum(means) / len(means)
        return sympy.expand(m), sympy.expand(sum((x - m) ** 2 for x in means) / len(means))

    m_wo, v_wo = moments(list(itertools.combinations(gs, b)))
    _, v_w = moments(list(itertools.product(gs, repeat=b)))
    return Derivation(
        "Minibatch gradient: unbiased, variance Σ/B (with) and Σ/B·(N−B)/(N−1) (without)",
        (
            Step(
                "Mean over all subsets minus $\\bar g$:",
                _eq(sympy.Symbol("m"), sympy.expand(m_wo - gbar)),
            ),
            Step(
                "With replacement, variance minus $\\Sigma/B$:",
                _eq(sympy.Symbol("v"), sympy.expand(v_w - sigma / b)),
            ),
            Step("Without replacement, variance:", _eq(sympy.Symbol("v"), sympy.factor(v_wo))),
        ),
        claimed=sympy.expand(minibatch_gradient_variance(sigma, b, nn, replacement=False)),
        derived=v_wo,
        scope=f"proved symbolically for N = {nn}, B = {b}",
    )


def derive_sgd_noise_scales() -> Derivation:
    r"""SGD step :math:`\theta' = \theta - \eta\hat g`, :math:`\mathrm{Var}\,\hat g = \Sigma/B`:
    the update variance is :math:`\eta^2\Sigma/B` (sympy.stats on a Normal stand-in with
    that variance); over :math:`1/\eta` steps (unit SDE time) the accumulated variance is
    :math:`\eta\Sigma/B` — the temperature :math:`\eta/B`. ``claimed`` :math:`\eta^2\Sigma/B`,
    ``derived`` the sympy.stats variance of the update."""
    sig = sympy.Symbol("Sigma", positive=True)
    bb = sympy.Symbol("B", positive=True)
    eta = sympy.Symbol("eta", positive=True)
    g = Normal("g", 0, sympy.sqrt(sig / bb))
    upd = variance(_TH - eta * g)
    return Derivation(
        "What scales as η/B: the temperature, not the gradient or update variance",
        (
            Step("Update variance:", _eq(sympy.Symbol(r"\mathrm{Var}\,\Delta\theta"), upd)),
            Step(
                "Per unit time $t = k\\eta$ ($1/\\eta$ steps):",
                _eq(sympy.Symbol("D"), sympy.simplify(upd / eta)),
            ),
        ),
        claimed=eta**2 * sig / bb,
        derived=upd,
    )


def derive_sgd_stationary_variance() -> Derivation:
    r"""SGD on :math:`\frac{h+\lambda}2\theta^2` with noise :math:`\xi`, :math:`\mathrm{Var}\,\xi =
    s^2/B`: :math:`v = (1-\eta(h+\lambda))^2 v + \eta^2s^2/B` solved for :math:`v`. ``claimed``
    :func:`sgd_stationary_variance`, ``derived`` the solution of the recursion."""
    eta, bb, s2, v = sympy.symbols("eta B s^2 v", positive=True)
    h, lam = sympy.symbols("h lambda", positive=True)
    sol = sympy.solve(v - ((1 - eta * (h + lam)) ** 2 * v + eta**2 * s2 / bb), v)[0]
    return Derivation(
        "Stationary variance of SGD with weight decay: ηs²/(B(h+λ)(2−η(h+λ)))",
        (
            Step(
                "Variance recursion at stationarity:",
                _eq(v, (1 - eta * (h + lam)) ** 2 * v + eta**2 * s2 / bb),
            ),
            Step("Solution:", _eq(v, sympy.factor(sol))),
        ),
        claimed=eta * s2 / (bb * (h + lam) * (2 - eta * (h + lam))),
        derived=sol,
    )


def derive_monotone_gd() -> Derivation:
    r"""GD on :math:`\frac s2\theta^2`: the loss after one step is :math:`(1-\eta s)^2` times the
    loss; it decreases iff :math:`(1-\eta s)^2 < 1` iff :math:`0 < \eta s < 2` (solved); for a
    quadratic with eigenvalues :math:`s_i` all directions decrease iff :math:`\eta <
    2/s_{\max}`. ``claimed`` :math:`2/s`, ``derived`` the upper end of the solved set."""
    s = sympy.Symbol("s", positive=True)
    x = sympy.Symbol("eta", real=True)
    ratio = sympy.simplify((s / 2 * ((1 - x * s) * _TH) ** 2) / (s / 2 * _TH**2))
    region = sympy.solve_univariate_inequality(ratio < 1, x, relational=False)
    return Derivation(
        "Monotone GD on a quadratic iff η < 2/λ_max",
        (
            Step("Loss ratio after one step:", _eq(sympy.Symbol("r"), ratio)),
            Step("Decrease region in $\\eta$:", region),
        ),
        claimed=2 / s,
        derived=region.sup,
    )


def derive_early_stopping_filter() -> Derivation:
    r"""GD after :math:`t` steps from 0 (summed least squares) multiplies the OLS coefficient by
    :math:`1-(1-\eta s)^t` (solved recursion :math:`\theta_{k+1} = \theta_k + \eta s(\hat\beta -
    \theta_k)`, ``rsolve``); ridge by :math:`s/(s+\lambda)`; equal iff :math:`\lambda =
    1/(\eta\sum_{k=1}^tv^{-k})`, :math:`v = 1-\eta s`, strictly decreasing in :math:`s` on
    :math:`0<\eta s<1`: one :math:`\lambda` matches all directions iff all nonzero eigenvalues
    are equal. Example: :math:`\eta = \frac12, t = 2`, :math:`s = 1` needs :math:`\lambda =
    \frac13`, :math:`s = \frac14` needs :math:`\frac{49}{60}`; the heuristic :math:`1/(\eta t) =
    1`. ``claimed`` :func:`early_stopping_lambda` (:math:`t=3`), ``derived`` the sum form."""
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    s, eta, bh = sympy.symbols("s eta beta_hat", positive=True)
    th = sympy.Function("theta")
    sol = sympy.rsolve(th(k + 1) - th(k) - eta * s * (bh - th(k)), th(k), {th(0): 0})
    v = sympy.Symbol("v", positive=True)
    t = 3
    lam_es = early_stopping_lambda(s, eta, t)
    sum_form = 1 / (eta * sum(v ** (-j) for j in range(1, t + 1)))
    return Derivation(
        "Early stopping vs ridge: exact for one eigenvalue only",
        (
            Step("GD iterate from 0:", _eq(th(k), sympy.factor(sol))),
            Step("Matching ridge λ at t = 3:", _eq(sympy.Symbol(r"\lambda"), lam_es)),
            Step(
                "Sum form ($v = 1 - \\eta s$), decreasing in $s$:",
                _eq(sympy.Symbol(r"\lambda"), sum_form),
            ),
            Step(
                "Two directions, $\\eta = 1/2$, $t = 2$: $s = 1 \\to \\lambda = 1/3$, "
                "$s = 1/4 \\to \\lambda = 49/60$.",
                _eq(
                    sympy.Symbol(r"\Delta\lambda"),
                    early_stopping_lambda(sympy.Rational(1, 4), sympy.Rational(1, 2), 2)
                    - early_stopping_lambda(1, sympy.Rational(1, 2), 2),
                ),
            ),
        ),
        claimed=lam_es,
        derived=sum_form.subs(v, 1 - eta * s),
    )


def derive_gd_bias_variance() -> Derivation:
    r"""Per direction, GD from 0: bias² :math:`(1-\eta s)^{2t}\beta^2` and variance
    :math:`\sigma^2(1-(1-\eta s)^t)^2/s` are monotone in :math:`t` iff :math:`0<\eta s\le 1`;
    at :math:`\eta s = \frac32` the variance factor :math:`(1-(-\frac12)^t)^2` is
    :math:`\frac94, \frac9{16}, \frac{81}{64}, \dots` (oscillates). ``claimed`` the monotone
    first differences' sign expression, ``derived`` sympy's (equal); the example in the steps."""
    a = sympy.Symbol("a", positive=True)  # a = 1 - eta s in (0, 1]
    t = sympy.Symbol("t", integer=True, nonnegative=True)
    var_f = (1 - a**t) ** 2
    diff_v = sympy.factor(sympy.expand(var_f.subs(t, t + 1) - var_f))
    seq = [(1 - sympy.Rational(-1, 2) ** j) ** 2 for j in range(1, 5)]
    return Derivation(
        "Bias then variance: monotone iff 0 < ηs ≤ 1",
        (
            Step(
                "Variance factor step difference ($a = 1-\\eta s$):",
                _eq(sympy.Symbol(r"\Delta"), diff_v),
            ),
            Step("At $\\eta s = 3/2$, $t = 1..4$:", sympy.Tuple(*seq)),
        ),
        claimed=a**t * (1 - a) * (2 - a**t - a ** (t + 1)),
        derived=diff_v,
    )


def derive_bias_variance_decomposition() -> Derivation:
    r"""Squared loss, :math:`y = f + \varepsilon`, :math:`\varepsilon\sim\mathcal N(0,\sigma^2)`
    independent of the prediction :math:`\hat f = \mu + \nu Z` (:math:`Z\sim\mathcal N(0, 1)`,
    randomness of the training set): :math:`\mathbb E(y-\hat f)^2 = \sigma^2 + (f-\mu)^2 +
    \nu^2` (``sympy.stats``, exact)."""
    f, mu = sympy.symbols("f mu", real=True)
    nu = sympy.Symbol("nu", positive=True)
    eps = Normal("epsilon", 0, sympy.sqrt(_S2))
    z = Normal("Z", 0, 1)
    risk = sympy.expand(expectation((f + eps - (mu + nu * z)) ** 2))
    return Derivation(
        "Bias–variance decomposition for squared loss",
        (Step("Expected squared error:", _eq(sympy.Symbol("R"), risk)),),
        claimed=_S2 + (f - mu) ** 2 + nu**2,
        derived=risk,
    )


def derive_zero_one_counterexample() -> Derivation:
    r"""0-1 loss has no additive bias + variance form (Domingos 2000): noise-free label 1, a
    classifier predicting 1 with probability :math:`p = \frac14`: loss :math:`\frac34`, bias 1,
    variance :math:`\frac14`: loss = bias − variance. ``claimed`` bias + variance
    (:math:`\frac54`), ``derived`` the loss (disagree)."""
    loss, bias, var = zero_one_decomposition(sympy.Rational(1, 4))
    return Derivation(
        "0-1 loss: variance lowers the error of a biased classifier",
        (
            Step("Loss, bias, variance at $p = 1/4$:", sympy.Tuple(loss, bias, var)),
            Step("Loss = bias − variance:", _eq(loss, bias - var)),
        ),
        claimed=bias + var,
        derived=loss,
    )


def derive_gaussian_kl() -> Derivation:
    r"""KL between 1-D Gaussians by integration (``sympy.stats`` expectation of the log-density
    ratio under :math:`Q`), times :math:`d` for isotropic :math:`d`-dim ones (independent
    coordinates, each mean shifted by :math:`\mu_Q-\mu_P`, so
    :math:`\|\mu_Q-\mu_P\|^2 = d(\mu_Q-\mu_P)^2`); equals :func:`gaussian_kl` and vanishes
    at :math:`Q = P` for every :math:`d`."""
    mq, mp = sympy.symbols("mu_Q mu_P", real=True)
    vq, vp = sympy.symbols("v_Q v_P", positive=True)
    X = Normal("X", mq, sympy.sqrt(vq))
    x = sympy.Symbol("x", real=True)

    def logpdf(m: sympy.Expr, v: sympy.Expr) -> sympy.Expr:
        return -((x - m) ** 2) / (2 * v) - sympy.log(2 * sympy.pi * v) / 2

    kl1 = sympy.simplify(expectation(sympy.expand((logpdf(mq, vq) - logpdf(mp, vp)).subs(x, X))))
    d = sympy.Symbol("d", integer=True, positive=True)
    closed = gaussian_kl(d * (mq - mp) ** 2, vq, vp, d)  # every coordinate shifted by mu_Q-mu_P
    return Derivation(
        "KL between isotropic Gaussians; zero at Q = P for every d",
        (
            Step("1-D KL:", _eq(sympy.Symbol("KL_1"), kl1)),
            Step("At $Q = P$:", _eq(sympy.Symbol("KL_d"), gaussian_kl(0, vp, vp, d))),
        ),
        claimed=closed,
        derived=sympy.expand_log(d * kl1, force=True),
    )


def derive_pac_bayes_zero_kl() -> Derivation:
    r"""PAC-Bayes with :math:`Q = P = \mathcal N(0, \sigma^2I_d)`: the bound
    :math:`\hat L + \sqrt{\ln(2\sqrt n/\delta)/(2n)}` has no :math:`d` in it, for any number of
    parameters :math:`d`. ``claimed`` the bound with KL = 0, ``derived`` the bound with
    :func:`gaussian_kl` of :math:`Q = P` (equal; no :math:`d` left)."""
    d, n = (
        sympy.Symbol("d", integer=True, positive=True),
        sympy.Symbol("n", integer=True, positive=True),
    )
    e, delta, v = (
        sympy.Symbol("e", nonnegative=True),
        sympy.Symbol("delta", positive=True),
        sympy.Symbol("v", positive=True),
    )
    kl = gaussian_kl(0, v, v, d)
    bound = e + sympy.sqrt((kl + sympy.log(2 * sympy.sqrt(n) / delta)) / (2 * n))
    return Derivation(
        "PAC-Bayes complexity is KL(Q‖P), not the parameter count",
        (
            Step("KL(P‖P) for $d$ parameters:", _eq(sympy.Symbol("KL"), kl)),
            Step("Bound:", _eq(sympy.Symbol("U"), bound)),
        ),
        claimed=e + sympy.sqrt(sympy.log(2 * sympy.sqrt(n) / delta) / (2 * n)),
        derived=bound,
    )


def derive_flat_minima() -> Derivation:
    r"""Dinh et al. (2017): :math:`f(x) = w_2\,\mathrm{relu}(w_1x)` is unchanged by
    :math:`(w_1, w_2)\to(\alpha w_1, w_2/\alpha)`, :math:`\alpha > 0`; at a minimum
    (:math:`w_1w_2x = y`) the Hessian of :math:`\frac12(f(x)-y)^2` has eigenvalues 0 and
    :math:`x^2(\alpha^2w_1^2 + w_2^2/\alpha^2)`, unbounded as :math:`\alpha\to\infty` or
    :math:`0` (its infimum over :math:`\alpha` is :math:`2x^2|w_1w_2| = 2|xy|`: sharpness is
    arbitrarily large for the same function, bounded below by the function itself).
    ``claimed`` that top eigenvalue, ``derived`` sympy's trace of the Hessian (rank one)."""
    w1, w2, x, al = sympy.symbols("w1 w2 x alpha", positive=True)
    hess = relu_net_hessian(al * w1, w2 / al, x, w1 * w2 * x)
    eig = sympy.simplify(hess.trace())
    det = sympy.simplify(hess.det())
    same = sympy.simplify(w2 / al * al * w1 * x - w1 * w2 * x)
    return Derivation(
        "Same function, arbitrarily sharp minimum (Dinh et al. 2017)",
        (
            Step("Function change under rescaling:", _eq(sympy.Symbol(r"\Delta f"), same)),
            Step("Hessian at the minimum:", _eq(sympy.Symbol("H"), hess)),
            Step("Determinant (one eigenvalue is 0):", _eq(sympy.Symbol(r"\det H"), det)),
            Step(
                "Top eigenvalue = trace; as $\\alpha\\to\\infty$:",
                _eq(sympy.Symbol(r"\lim"), sympy.limit(eig, al, sympy.oo)),
            ),
        ),
        claimed=x**2 * (al**2 * w1**2 + w2**2 / al**2),
        derived=eig,
    )


def derive_dropout_l2() -> Derivation:
    r"""002 Q6 on an orthogonal design: the expected objective :math:`\|y - Xw\|^2 +
    \frac{1-q}qn w^2 + \lambda w^2` (1-D, :math:`x^\top x = n`; dropout penalty from
    :func:`theory.dropout.derive_dropout_ridge`) is minimised at :math:`\hat\beta/(1/q +
    \lambda/n)`. ``claimed`` the product of the shrinkages :math:`q\,n/(n+\lambda)\,\hat\beta`,
    ``derived`` the minimiser (disagree: at :math:`q = \frac12, \lambda = n`, :math:`\frac13`
    vs :math:`\frac14`)."""
    n, q, lam = sympy.symbols("n q lambda", positive=True)
    w, bh, yy = sympy.symbols("w beta_hat yy", real=True)
    obj = yy - 2 * n * bh * w + n * w**2 + (1 - q) / q * n * w**2 + lam * w**2
    sol = sympy.solve(sympy.diff(obj, w), w)[0]
    return Derivation(
        "Q6: L2 and dropout penalties add; shrinkages do not multiply",
        (
            Step("Expected objective ($x^\\top y = n\\hat\\beta$):", _eq(sympy.Symbol("J"), obj)),
            Step("Minimiser:", _eq(sympy.Symbol(r"\hat w"), sympy.factor(sol))),
        ),
        claimed=q * n / (n + lam) * bh,
        derived=sol,
    )


def derive_validation_selection() -> Derivation:
    r"""Two models with true error :math:`\frac12`, one validation point each (independent
    Bernoulli errors): :math:`\mathbb E\min = P(\text{both wrong}) = \frac14 < \frac12`
    (enumerated). ``claimed`` the true error, ``derived`` :math:`\mathbb E\min` (disagree)."""
    half = sympy.Rational(1, 2)
    outcomes = list(itertools.product((0, 1), repeat=2))
    emin = sum(sympy.Rational(1, 4) * min(o) for o in outcomes)
    return Derivation(
        "Validation error of the selected model is optimistically biased",
        (
            Step(
                "All four outcomes equally likely; mean of the minimum:",
                _eq(sympy.Symbol(r"\mathbb{E}\min"), emin),
            ),
            Step(
                "Closed form $\\frac1m\\sum_i P(X\\ge i)^k$, $k=2, m=1$:",
                _eq(sympy.Symbol(r"\mathbb{E}\min"), expected_min_validation_error(2, 1, half)),
            ),
        ),
        claimed=half,
        derived=emin,
    )
