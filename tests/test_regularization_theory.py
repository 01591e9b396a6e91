"""Regularization theory: L2/L1 updates and solutions, MAP priors, ridge bias/variance and
optimism, minibatch gradient noise, GD as a spectral filter and early stopping, bias–variance
decompositions, PAC-Bayes, sharpness under reparametrization, 002's Q6 and validation
selection bias.

Claims: theory/claims/regularization.yaml (``d002.reg.*``). Theory: theory.regularization
(every ``derive_*`` and helper). Conventions: summed loss :math:`\\frac12\\|y-X\\theta\\|^2`
with 002's :math:`\\frac\\lambda2\\|\\theta\\|^2` unless a test says "mean loss"; Normal(μ, σ²)
by variance; minibatches with or without replacement as named. References computed here
independently: :class:`fractions.Fraction` arithmetic (enumeration of minibatches, masks and
outcomes; recursions iterated step by step), float64 linear algebra with NumPy, mpmath
quadrature, and Monte-Carlo of bounded quantities with Hoeffding intervals
(``numerics.stats``, false-alarm probability ``FALSE_ALARM`` = 1e-6 per check, seeds drawn by
hypothesis).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numerics.gradcheck import central_difference
from numerics.stats import FALSE_ALARM, hoeffding_halfwidth
from numerics.tolerances import assert_close
from theory import regularization as R

Q = sympy.Rational
seeds = st.integers(0, 2**32 - 1)
fracs = st.builds(Fraction, st.integers(-12, 12), st.integers(1, 6))
pos = st.builds(Fraction, st.integers(1, 12), st.integers(1, 6))
nonneg = st.builds(Fraction, st.integers(0, 12), st.integers(1, 6))
unit_open = st.builds(lambda a, b: Fraction(a, a + b), st.integers(1, 9), st.integers(1, 9))


def S(f: Fraction) -> sympy.Rational:
    return Q(f.numerator, f.denominator)


def F(x: sympy.Expr) -> Fraction:
    r = sympy.Rational(x)
    return Fraction(int(r.p), int(r.q))


# Derivations ----------------------------------------------------------------------------------

AGREE = [
    ("derive_l2_update", ("d002.reg.l2-gradient", "d002.reg.l2-update")),
    ("derive_lasso_1d", ("d002.reg.l1-subgradient", "d002.reg.l1-sparse")),
    ("derive_feature_selection", ("d002.reg.l1-feature-selection",)),
    ("derive_gaussian_prior", ("d002.reg.l2-gaussian-prior",)),
    ("derive_laplace_prior", ("d002.reg.l1-laplace-prior",)),
    ("derive_ridge_bias_variance", ("d002.reg.bias-variance-tradeoff",)),
    ("derive_ridge_optimism", ("d002.reg.bias-variance-tradeoff",)),
    ("derive_optimal_lambda", ("d002.reg.optimal-lambda",)),
    ("derive_minibatch_covariance", ("d002.reg.sgd-unbiased-noise",)),
    ("derive_sgd_noise_scales", ("d002.reg.sgd-noise-scale",)),
    ("derive_sgd_stationary_variance", ("d002.reg.q6-batch-decay-coupling",)),
    ("derive_monotone_gd", ("d002.reg.training-monotone",)),
    ("derive_early_stopping_filter", ("d002.reg.early-stopping-lambda",)),
    ("derive_gd_bias_variance", ("d002.reg.bias-then-variance",)),
    ("derive_bias_variance_decomposition", ("d002.reg.bias-variance-decomposition",)),
    ("derive_gaussian_kl", ("d002.reg.pac-bayes",)),
    ("derive_pac_bayes_zero_kl", ("d002.reg.pac-bayes",)),
    ("derive_flat_minima", ("d002.reg.flat-minima",)),
]
DISAGREE = [
    ("derive_weight_decay_range", ("d002.reg.l2-is-weight-decay",)),
    ("derive_zero_one_counterexample", ("d002.reg.bias-variance-decomposition",)),
    ("derive_dropout_l2", ("d002.reg.q6-combination",)),
    ("derive_validation_selection", ("d002.reg.validation-unbiased",)),
]


def _param(name: str, claims: tuple[str, ...]):
    return pytest.param(name, marks=[pytest.mark.claim(*claims)], id=name)


@pytest.mark.parametrize("name", [_param(n, c) for n, c in AGREE])
def test_derivation_agrees(name: str) -> None:
    d = getattr(R, name)()
    assert d.agrees(), d.to_markdown()
    assert "$$" in d.to_markdown()


@pytest.mark.parametrize("name", [_param(n, c) for n, c in DISAGREE])
def test_derivation_disagrees(name: str) -> None:
    d = getattr(R, name)()
    assert not d.agrees(), d.to_markdown()
    assert "**not equal**" in d.to_markdown()


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
def test_decay_range_and_fixed_point_numbers() -> None:
    d = R.derive_weight_decay_range()
    region = d.steps[0].expr
    assert region == sympy.Interval.open(0, 2)
    assert (
        sympy.simplify(
            d.derived - R.gd_l2_fixed_point(R._H, sympy.Symbol(r"\theta^*", real=True), R._LAM)
        )
        == 0
    )


@pytest.mark.claim("d002.reg.flat-minima")
def test_flat_minima_limit_is_infinite() -> None:
    d = R.derive_flat_minima()
    assert d.steps[-1].expr.rhs == sympy.oo
    assert d.steps[2].expr.rhs == 0  # one zero eigenvalue


@pytest.mark.claim("d002.reg.sgd-unbiased-noise")
@pytest.mark.parametrize(("n", "b"), [(2, 1), (3, 2), (4, 3), (5, 2), (4, 4)])
def test_minibatch_derivation_sizes(n: int, b: int) -> None:
    d = R.derive_minibatch_covariance(n, b)
    assert d.agrees(), d.to_markdown()
    assert d.steps[0].expr.rhs == 0  # unbiased
    assert d.steps[1].expr.rhs == 0  # with replacement: Sigma/B exactly


# L2 -------------------------------------------------------------------------------------------


@pytest.mark.claim("d002.reg.l2-update", "d002.reg.l2-gradient")
@given(fracs, fracs, nonneg, nonneg)
def test_l2_update_matches_gradient_step(theta, grad, lr, lam) -> None:
    out = R.l2_update(S(theta), S(grad), S(lr), S(lam))
    assert F(out) == theta - lr * (grad + lam * theta)


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
@given(pos, fracs, nonneg, pos)
def test_gd_with_l2_converges_to_ridge_not_zero(h, ts, lam, frac) -> None:
    fp = F(R.gd_l2_fixed_point(S(h), S(ts), S(lam)))
    eta = Fraction(1, 1) / (h + lam) * min(frac, Fraction(3, 2))  # eta (h+lam) in (0, 3/2]
    theta = Fraction(0)
    for _ in range(3):  # exact iterate: theta_k = fp (1 - (1-a)^k)
        theta = theta - eta * (h * (theta - ts) + lam * theta)
    a = eta * (h + lam)
    assert theta == fp * (1 - (1 - a) ** 3)
    assert (fp == 0) == (ts == 0)


_DECAY_REGION = R.derive_weight_decay_range().steps[0].expr


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
@given(st.builds(Fraction, st.integers(0, 60), st.integers(1, 10)))
def test_decay_factor_regimes(x) -> None:
    region = _DECAY_REGION
    shrinks = abs(1 - x) < 1
    assert shrinks == bool(region.contains(S(x)))
    assert shrinks == (0 < x < 2)


# L1 -------------------------------------------------------------------------------------------


@pytest.mark.claim("d002.reg.l1-subgradient")
@given(fracs, nonneg)
def test_l1_subdifferential(theta, lam) -> None:
    lo, hi = R.l1_subdifferential(S(theta), S(lam))
    if theta == 0:
        assert (F(lo), F(hi)) == (-lam, lam)
        assert F(lo) <= 0 <= F(hi)  # sign(0) = 0 is one subgradient
    else:
        g = lam if theta > 0 else -lam
        assert (F(lo), F(hi)) == (g, g)
        # the one-sided derivatives of lam*|theta| agree with it
        eps = Fraction(1, 10**6)
        assert (lam * abs(theta + eps) - lam * abs(theta)) / eps == g


@pytest.mark.claim("d002.reg.l1-sparse", "d002.reg.l1-subgradient")
@given(fracs, pos, nonneg)
def test_lasso_1d_optimality(c, a, lam) -> None:
    th = F(R.lasso_1d(S(c), S(a), S(lam)))
    # 0 in a*th - c + lam * d|th|
    r = a * th - c
    if th == 0:
        assert abs(c) <= lam
        assert -lam <= -r <= lam
    else:
        assert r + lam * (1 if th > 0 else -1) == 0
    # and it is the minimiser: the objective is not lower at nearby rationals
    obj = lambda t: a / 2 * t * t - c * t + lam * abs(t)  # noqa: E731
    for d in (Fraction(1, 7), Fraction(-1, 7), Fraction(1, 1000), Fraction(-1, 1000)):
        assert obj(th) <= obj(th + d)


@pytest.mark.claim("d002.reg.l1-sparse")
@given(st.floats(-5, 5), st.floats(0, 3))
def test_soft_threshold_float(z, lam) -> None:
    got = float(R.soft_threshold(z, lam))
    assert got == pytest.approx(math.copysign(max(abs(z) - lam, 0.0), z), abs=1e-12)
    if abs(z) <= lam:
        assert got == 0.0  # exact zero


@pytest.mark.claim("d002.reg.l1-feature-selection")
@given(seeds, st.floats(0.1, 3.0))
@settings(max_examples=30)
def test_orthogonal_lasso_ista_matches_soft_threshold(seed, lam) -> None:
    rng = np.random.default_rng(seed)
    n, d = 8, 4
    qm, _ = np.linalg.qr(rng.standard_normal((n, d)))
    X = qm * np.sqrt(n)  # X^T X = n I
    y = rng.standard_normal(n) * 2
    c = X.T @ y
    want = np.array([float(R.lasso_1d(float(cj), n, lam)) for cj in c])
    theta = np.zeros(d)
    step = 1.0 / n
    for _ in range(200):  # ISTA: exact for orthogonal design after one step
        z = theta - step * (X.T @ (X @ theta) - c)
        theta = np.sign(z) * np.maximum(np.abs(z) - step * lam, 0.0)
    assert_close(theta, want, np.float64, reduction_length=n, magnitude=np.abs(c).max() / n)
    assert np.array_equal(theta == 0, np.abs(c) <= lam + 1e-12 * np.abs(c).max())


# Priors ---------------------------------------------------------------------------------------


@pytest.mark.claim("d002.reg.l2-gaussian-prior")
@given(seeds, st.floats(0.1, 4.0), st.floats(0.1, 4.0))
@settings(max_examples=30)
def test_gaussian_map_is_ridge(seed, s2, t2) -> None:
    rng = np.random.default_rng(seed)
    N, d = 12, 3
    X, y = rng.standard_normal((N, d)), rng.standard_normal(N)
    # posterior mean = MAP for the Gaussian model: (X'X/s2 + I/t2)^{-1} X'y/s2
    post = np.linalg.solve(X.T @ X / s2 + np.eye(d) / t2, X.T @ y / s2)
    lam = float(R.map_lambda(s2, t2, "gaussian", "sum"))
    ridge = np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)
    lam_mean = float(R.map_lambda(s2, t2, "gaussian", "mean", N))
    ridge_mean = np.linalg.solve(X.T @ X / N + lam_mean * np.eye(d), X.T @ y / N)
    assert_close(ridge, post, np.float64, reduction_length=N, magnitude=np.abs(post).max() + 1)
    assert_close(ridge_mean, post, np.float64, reduction_length=N, magnitude=np.abs(post).max() + 1)
    assert lam_mean == pytest.approx(s2 / (N * t2), rel=1e-12)


@pytest.mark.claim("d002.reg.l1-laplace-prior")
@given(fracs, pos, pos, pos)
def test_laplace_map_by_grid(c, a, s2, b) -> None:
    lam = R.map_lambda(S(s2), S(b), "laplace", "sum", 1)
    assert F(lam) == s2 / b
    th = float(R.lasso_1d(S(c), S(a), lam))
    # negative log posterior (up to constants) of y with x'x = a, x'y = c
    grid = np.linspace(th - 1, th + 1, 20001)
    nlp = (float(a) * grid**2 / 2 - float(c) * grid) / float(s2) + np.abs(grid) / float(b)
    assert abs(grid[np.argmin(nlp)] - th) <= 1e-4 + 1e-12


# Ridge ----------------------------------------------------------------------------------------


def _design(seed: int, n: int = 10, d: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.2, 2.0, d)
    beta = rng.standard_normal(d)
    return X, beta


@pytest.mark.claim("d002.reg.bias-variance-tradeoff")
@given(seeds, st.floats(0.01, 10.0), st.floats(0.1, 2.0))
@settings(max_examples=30)
def test_ridge_bias_variance_matrix_form(seed, lam, s2) -> None:
    X, beta = _design(seed)
    n, d = X.shape
    H = X @ np.linalg.solve(X.T @ X + lam * np.eye(d), X.T)
    bias_m = np.sum(((H - np.eye(n)) @ X @ beta) ** 2) / n
    var_m = s2 * np.trace(H @ H.T) / n
    s, V = np.linalg.eigh(X.T @ X)
    b, v = R.ridge_bias_variance(list(map(float, s)), list(map(float, V.T @ beta)), s2, lam, n)
    assert_close(float(b), bias_m, np.float64, reduction_length=n * d, magnitude=bias_m + 1)
    assert_close(float(v), var_m, np.float64, reduction_length=n * d, magnitude=var_m + 1)
    df = float(R.ridge_df(list(map(float, s)), lam))
    assert_close(df, np.trace(H), np.float64, reduction_length=n * d, magnitude=d)
    opt = float(R.ridge_optimism(list(map(float, s)), s2, lam, n))
    assert_close(opt, 2 * s2 * np.trace(H) / n, np.float64, reduction_length=n * d, magnitude=d)


@pytest.mark.claim("d002.reg.bias-variance-tradeoff")
@given(st.lists(pos, min_size=1, max_size=3), st.lists(fracs, min_size=3, max_size=3), pos, pos)
def test_ridge_bias_up_variance_down(ss, bs, lam1, dl) -> None:
    ss_ = [S(s) for s in ss]
    bs_ = [S(b) for b in bs[: len(ss)]]
    assume(any(b != 0 for b in bs_))
    b1, v1 = R.ridge_bias_variance(ss_, bs_, 1, S(lam1), 5)
    b2, v2 = R.ridge_bias_variance(ss_, bs_, 1, S(lam1 + dl), 5)
    assert b2 > b1 and v2 < v1
    assert R.ridge_df(ss_, S(lam1 + dl)) < R.ridge_df(ss_, S(lam1))


@pytest.mark.claim("d002.reg.optimal-lambda")
@given(pos, pos, st.lists(pos, min_size=1, max_size=3), st.integers(1, 50))
def test_bayes_risk_minimised_at_map_lambda(s2, t2, ss, N) -> None:
    lam = R.map_lambda(S(s2), S(t2), "gaussian", "sum")

    def risk(lm):
        b, v = R.ridge_bias_variance([S(s) for s in ss], [1] * len(ss), S(s2), lm, 1)
        return b * S(t2) + v  # E[beta^2] = tau^2 per direction

    r0 = risk(lam)
    for f in (Q(9, 10), Q(11, 10), Q(1, 2), 2):
        assert risk(lam * f) > r0
    # independent of N with a summed loss; the mean-loss value scales as 1/N
    assert R.map_lambda(S(s2), S(t2), "gaussian", "mean", N) * N == lam


# Minibatch noise ------------------------------------------------------------------------------


def _enumerate_variance(gs: list[Fraction], b: int, replacement: bool) -> tuple[Fraction, Fraction]:
    batches = (
        list(itertools.product(gs, repeat=b))
        if replacement
        else list(itertools.combinations(gs, b))
    )
    means = [sum(bt, Fraction(0)) / b for bt in batches]
    m = sum(means, Fraction(0)) / len(means)
    return m, sum(((x - m) ** 2 for x in means), Fraction(0)) / len(means)


@pytest.mark.claim("d002.reg.sgd-unbiased-noise")
@given(st.lists(fracs, min_size=1, max_size=6), st.integers(1, 6), st.booleans())
def test_minibatch_variance_enumerated(gs, b, replacement) -> None:
    N = len(gs)
    assume(replacement or b <= N)
    assume(N**b <= 5000)
    gbar = sum(gs, Fraction(0)) / N
    sigma = sum(((g - gbar) ** 2 for g in gs), Fraction(0)) / N
    m, v = _enumerate_variance(gs, b, replacement)
    assert m == gbar
    assert F(R.minibatch_gradient_variance(S(sigma), b, N, replacement)) == v


@pytest.mark.claim("d002.reg.sgd-unbiased-noise")
@given(seeds)
@settings(max_examples=10)
def test_minibatch_variance_monte_carlo(seed) -> None:
    rng = np.random.default_rng(seed)
    N, B, T = 20, 5, 20000
    g = rng.uniform(-1, 1, N)
    sigma = g.var()
    idx = np.argsort(rng.random((T, N)), axis=1)[:, :B]  # T uniform B-subsets
    dev = (g[idx].mean(axis=1) - g.mean()) ** 2
    want = float(R.minibatch_gradient_variance(sigma, B, N, replacement=False))
    width = np.abs(g - g.mean()).max() ** 2  # |minibatch mean - gbar| <= max |g_i - gbar|
    assert abs(dev.mean() - want) <= hoeffding_halfwidth(T, width, FALSE_ALARM)


@pytest.mark.claim("d002.reg.sgd-noise-scale")
@given(pos, st.integers(1, 64), pos)
def test_noise_scales(lr, b, sigma) -> None:
    gv, uv, temp = R.sgd_noise_scales(S(lr), b, S(sigma))
    assert (F(gv), F(uv), F(temp)) == (sigma / b, lr**2 * sigma / b, lr / b)
    # doubling lr and B keeps the temperature, halves the gradient variance, doubles the update's
    gv2, uv2, temp2 = R.sgd_noise_scales(S(2 * lr), 2 * b, S(sigma))
    assert temp2 == temp and gv2 * 2 == gv and uv2 == 2 * uv


@pytest.mark.claim("d002.reg.q6-batch-decay-coupling")
@given(pos, st.integers(1, 16), nonneg, nonneg, unit_open)
def test_sgd_stationary_variance_recursion(h, b, lam, s2, frac) -> None:
    a = 2 * frac  # eta (h + lam) in (0, 2)
    eta = a / (h + lam)
    v = F(R.sgd_stationary_variance(S(eta), b, S(h), S(lam), S(s2)))
    # fixed point of the exact variance recursion
    assert (1 - a) ** 2 * v + eta**2 * s2 / b == v
    # the float recursion from 0 converges to it
    vf = 0.0
    for _ in range(4000):
        vf = (1 - float(a)) ** 2 * vf + float(eta) ** 2 * float(s2) / b
    if abs(1 - float(a)) ** 2 < 0.99:
        assert vf == pytest.approx(float(v), rel=1e-9, abs=1e-300)


@pytest.mark.claim("d002.reg.q6-batch-decay-coupling")
@given(seeds)
@settings(max_examples=5)
def test_sgd_stationary_variance_monte_carlo(seed) -> None:
    rng = np.random.default_rng(seed)
    eta, B, h, lam, s2 = 0.5, 4, 1.0, 0.5, 1.0
    chains, steps = 4000, 60  # (1 - 0.75)^120 ~ 0: stationary after 60 steps
    theta = np.zeros(chains)
    for _ in range(steps):  # per-example noise +-1 (Rademacher), variance s2 = 1
        xi = rng.choice((-1.0, 1.0), size=(chains, B)).mean(axis=1)
        theta = theta - eta * ((h + lam) * theta + xi)
    want = float(R.sgd_stationary_variance(eta, B, h, lam, s2))
    # |theta| <= eta * sum_k |1-eta(h+lam)|^k = eta / (eta (h+lam)) = 1/(h+lam): bounded
    bound = 1 / (h + lam)
    assert abs(np.mean(theta**2) - want) <= hoeffding_halfwidth(chains, bound**2, FALSE_ALARM)
    # halving B doubles it (the coupling)
    assert float(R.sgd_stationary_variance(eta, B // 2, h, lam, s2)) == pytest.approx(2 * want)


# GD dynamics ----------------------------------------------------------------------------------


@pytest.mark.claim("d002.reg.training-monotone")
@given(st.lists(pos, min_size=1, max_size=4), unit_open, st.lists(fracs, min_size=4, max_size=4))
def test_gd_monotone_below_bound_not_above(ss, frac, th0) -> None:
    bound = F(R.gd_monotone_lr_bound([S(s) for s in ss]))
    assert bound == 2 / max(ss)
    top = ss.index(max(ss))
    assume(th0[top] != 0)
    only_top = [th0[top] if i == top else Fraction(0) for i in range(len(ss))]

    def run(eta, start=None):
        th = list(th0[: len(ss)] if start is None else start)
        losses = []
        for _ in range(4):
            losses.append(sum(s * t * t for s, t in zip(ss, th, strict=True)) / 2)
            th = [t - eta * s * t for s, t in zip(ss, th, strict=True)]
        return losses

    below = run(bound * frac)
    assert all(b < a or a == 0 for a, b in itertools.pairwise(below))  # 0 = minimum reached
    at = run(bound, only_top)  # the top direction oscillates with constant loss
    assert at[1] == at[0]
    above = run(bound * (1 + frac), only_top)
    assert all(b > a for a, b in itertools.pairwise(above))


@pytest.mark.claim("d002.reg.early-stopping-lambda")
@given(seeds, st.integers(1, 30))
@settings(max_examples=30)
def test_gd_is_spectral_filter(seed, t) -> None:
    X, _ = _design(seed, n=10, d=3)
    rng = np.random.default_rng(seed + 1)
    y = rng.standard_normal(10)
    s, V = np.linalg.eigh(X.T @ X)
    eta = 1.0 / s.max()
    theta = np.zeros(3)
    for _ in range(t):
        theta = theta - eta * (X.T @ (X @ theta - y))
    ols = np.linalg.solve(X.T @ X, X.T @ y)
    filt = np.array([float(R.gd_filter(float(si), eta, t)) for si in s])
    want = V @ (filt * (V.T @ ols))
    assert_close(theta, want, np.float64, reduction_length=10 * t, magnitude=np.abs(ols).max() * 4)


@pytest.mark.claim("d002.reg.early-stopping-lambda")
@given(pos, pos, unit_open, st.integers(1, 12))
def test_early_stopping_lambda_matches_one_direction_only(s1, s2, frac, t) -> None:
    smax = max(s1, s2)
    eta = frac / smax  # eta s in (0, 1)
    lam1 = R.early_stopping_lambda(S(s1), S(eta), t)
    assert R.ridge_filter(S(s1), lam1) == R.gd_filter(S(s1), S(eta), t)
    lam2 = R.early_stopping_lambda(S(s2), S(eta), t)
    if s1 == s2:
        assert lam1 == lam2
    else:  # strictly decreasing in s: no common lambda
        assert (lam1 > lam2) == (s1 < s2)
        assert R.ridge_filter(S(s2), lam1) != R.gd_filter(S(s2), S(eta), t)


@pytest.mark.claim("d002.reg.early-stopping-lambda")
def test_early_stopping_example_numbers() -> None:
    half = Q(1, 2)
    assert R.early_stopping_lambda(1, half, 2) == Q(1, 3)
    assert R.early_stopping_lambda(Q(1, 4), half, 2) == Q(49, 60)


@pytest.mark.claim("d002.reg.bias-then-variance")
@given(pos, fracs, pos, st.builds(Fraction, st.integers(1, 19), st.just(10)), st.integers(0, 8))
def test_gd_bias_variance_recursion(s, beta, s2, es, t) -> None:
    eta = es / s  # eta s in (0, 2)
    bias2, var = R.gd_bias_variance(S(s), S(beta), S(s2), S(eta), t)
    # iterate theta_{k+1} = theta_k + eta s (beta + eps - theta_k) as m + c * eps
    m, c = Fraction(0), Fraction(0)
    for _ in range(t):
        m, c = m + eta * s * (beta - m), c + eta * s * (1 - c)
    assert F(bias2) == (m - beta) ** 2
    assert F(var) == c**2 * s2 / s  # Var eps = s2 / s


@pytest.mark.claim("d002.reg.bias-then-variance")
@given(pos, st.builds(Fraction, st.integers(1, 20), st.just(10)))
def test_gd_bias_variance_monotone_iff_step_le_one(s, es) -> None:
    eta = es / s
    seq = [R.gd_bias_variance(S(s), 1, 1, S(eta), t) for t in range(6)]
    bias_dec = all(b[0] <= a[0] for a, b in itertools.pairwise(seq))
    var_inc = all(b[1] >= a[1] for a, b in itertools.pairwise(seq))
    assert (bias_dec and var_inc) == (es <= 1)


@pytest.mark.claim("d002.reg.bias-then-variance")
def test_variance_oscillation_example() -> None:
    s = 1
    vals = [R.gd_bias_variance(s, 0, 1, Q(3, 2), t)[1] for t in range(1, 5)]
    assert vals == [Q(9, 4), Q(9, 16), Q(81, 64), Q(225, 256)]


# Bias-variance, PAC-Bayes, sharpness ----------------------------------------------------------


_BV_RISK = R.derive_bias_variance_decomposition().derived
_F, _MU, _NU = (
    sympy.Symbol("f", real=True),
    sympy.Symbol("mu", real=True),
    sympy.Symbol("nu", positive=True),
)


@pytest.mark.claim("d002.reg.bias-variance-decomposition")
@given(seeds)
@settings(max_examples=10)
def test_squared_loss_decomposition_monte_carlo(seed) -> None:
    rng = np.random.default_rng(seed)
    f, T, k, s = 0.7, 40000, 3, 0.5
    # estimator: shrunken mean of k noisy labels (uniform noise, bounded), evaluated on a new label
    noise = lambda size: rng.uniform(-1, 1, size) * s * math.sqrt(3)  # noqa: E731  variance s^2
    est = 0.5 * (f + noise((T, k))).mean(axis=1)
    y = f + noise(T)
    loss = (y - est) ** 2
    bias2 = (f - 0.5 * f) ** 2
    var = 0.25 * s**2 / k
    want = s**2 + bias2 + var
    sym = _BV_RISK.subs({R._S2: Q(1, 4), _F: Q(7, 10), _MU: Q(7, 20), _NU: sympy.sqrt(Q(1, 48))})
    assert float(sym) == pytest.approx(want, rel=1e-12)
    width = (f + 2 * s * math.sqrt(3)) ** 2
    assert abs(loss.mean() - want) <= hoeffding_halfwidth(T, width, FALSE_ALARM)


@pytest.mark.claim("d002.reg.bias-variance-decomposition")
@given(st.builds(lambda a: Fraction(a, 20), st.integers(0, 20)))
def test_zero_one_decomposition(p) -> None:
    loss, bias, var = R.zero_one_decomposition(S(p))
    outcomes = {1: p, 0: 1 - p}  # predicted label -> probability; true label 1
    assert F(loss) == outcomes[0]
    main = 1 if p >= Fraction(1, 2) else 0
    assert F(bias) == int(main != 1)
    assert F(var) == sum(pr for lab, pr in outcomes.items() if lab != main)
    if p < Fraction(1, 2):
        assert F(loss) == F(bias) - F(var)
    else:
        assert F(loss) == F(bias) + F(var)


@pytest.mark.claim("d002.reg.pac-bayes")
@given(st.integers(0, 10), st.integers(1, 10), st.integers(1, 10))
@settings(max_examples=25)  # mpmath quadrature, ~40 ms per example
def test_gaussian_kl_quadrature(m2, vq, vp) -> None:
    mq, mp_ = mpmath.sqrt(m2), 0

    def integrand(x):
        lq = -((x - mq) ** 2) / (2 * vq) - mpmath.log(2 * mpmath.pi * vq) / 2
        lp = -((x - mp_) ** 2) / (2 * vp) - mpmath.log(2 * mpmath.pi * vp) / 2
        return mpmath.exp(lq) * (lq - lp)

    with mpmath.workdps(20):
        kl1 = mpmath.quad(integrand, [-mpmath.inf, mq, mpmath.inf])
    got = R.gaussian_kl(m2, vq, vp, 1)
    assert float(got) == pytest.approx(float(kl1), rel=1e-12, abs=1e-15)
    for d in (2, 7):  # d independent coordinates, total squared distance d*m2
        assert float(R.gaussian_kl(d * m2, vq, vp, d)) == pytest.approx(d * float(got), rel=1e-12)
    assert R.gaussian_kl(0, vq, vq, 10**6) == 0


@pytest.mark.claim("d002.reg.pac-bayes")
@given(st.integers(0, 100), st.integers(0, 50), st.integers(1, 10**6), unit_open)
def test_pac_bayes_bound_formula(e, kl, n, delta) -> None:
    got = float(R.pac_bayes_bound(Q(e, 100), kl, n, S(delta)))
    want = e / 100 + math.sqrt((kl + math.log(2 * math.sqrt(n) / float(delta))) / (2 * n))
    assert got == pytest.approx(want, rel=1e-12)
    # more KL, looser; more data, tighter (for n >= 1 and the log term positive)
    assert R.pac_bayes_bound(Q(e, 100), kl + 1, n, S(delta)) > R.pac_bayes_bound(
        Q(e, 100), kl, n, S(delta)
    )


@pytest.mark.claim("d002.reg.flat-minima")
@given(pos, pos, pos, st.builds(Fraction, st.integers(1, 20), st.integers(1, 4)))
def test_reparametrized_sharpness(w1, w2, x, alpha) -> None:
    y = w1 * w2 * x
    H = R.relu_net_hessian(S(alpha * w1), S(w2 / alpha), S(x), S(y))
    Hf = np.array(H.tolist(), dtype=float)
    # central differences of the loss gradient
    a1, a2 = float(alpha * w1), float(w2 / alpha)

    def grad(p):
        r = p[1] * max(p[0] * float(x), 0.0) - float(y)
        return np.array([r * p[1] * float(x), r * max(p[0] * float(x), 0.0)])

    p0 = np.array([a1, a2])
    num = np.stack(
        [central_difference(lambda p, i=i: np.array(grad(p)[i]), p0, np.array(1.0)) for i in (0, 1)]
    )
    assert_close(num, Hf, np.float64, magnitude=np.abs(Hf).max() + 1, reduction_length=4)
    top = max(np.linalg.eigvalsh(Hf))
    want = float(x) ** 2 * (a1**2 + a2**2)
    assert top == pytest.approx(want, rel=1e-12)
    assert top >= 2 * float(x * y) * (1 - 1e-12)  # the floor: 2|x f(x)|
    # same function (w2/a * a*w1 = w1 w2), sharpness x^2 (a^2 w1^2 + w2^2/a^2) without bound
    for big in (10, 1000):
        Hb = R.relu_net_hessian(S(big * w1), S(w2 / big), S(x), S(y))
        assert F(max(Hb.eigenvals())) == x**2 * (big**2 * w1**2 + w2**2 / big**2)
        assert F(max(Hb.eigenvals())) >= x**2 * big**2 * w1**2


# Q6, validation -------------------------------------------------------------------------------


@pytest.mark.claim("d002.reg.q6-combination")
@given(fracs, fracs, pos, unit_open)
def test_dropout_plus_l2_masks_enumerated(b1, b2, lam, q) -> None:
    n = 4
    # orthogonal design with X^T X = n I: X = 2 I_2 stacked ... use X = [[2, 0], [0, 2]]
    X = [[Fraction(2), Fraction(0)], [Fraction(0), Fraction(2)]]
    y = [2 * b1, 2 * b2]  # X^T y / n = (b1, b2) = beta_hat
    w = [F(R.dropout_l2_minimizer(S(b), n, S(lam), S(q))) for b in (b1, b2)]

    def expected_objective(ww):
        total = Fraction(0)
        for mask in itertools.product((0, 1), repeat=2):
            pr = math.prod(q if m else 1 - q for m in mask)
            pred = [sum(X[i][j] * mask[j] * ww[j] / q for j in range(2)) for i in range(2)]
            total += pr * sum((y[i] - pred[i]) ** 2 for i in range(2))
        return total + lam * sum(v * v for v in ww)

    j0 = expected_objective(w)
    for dw in ((Fraction(1, 50), 0), (0, Fraction(-1, 50)), (Fraction(-1, 3), Fraction(1, 3))):
        assert j0 < expected_objective([w[0] + dw[0], w[1] + dw[1]])
    product = [q * n / (n + lam) * b for b in (b1, b2)]
    if (b1, b2) != (0, 0) and q != 1:
        assert w != product


@pytest.mark.claim("d002.reg.q6-combination")
def test_q6_example_numbers() -> None:
    assert R.dropout_l2_minimizer(1, 10, 10, Q(1, 2)) == Q(1, 3)
    assert Q(1, 2) * R.ridge_filter(10, 10) == Q(1, 4)


def _emin_enumerated(k: int, m: int, p: Fraction) -> Fraction:
    dist = [math.comb(m, i) * p**i * (1 - p) ** (m - i) for i in range(m + 1)]
    total = Fraction(0)
    for xs in itertools.product(range(m + 1), repeat=k):
        total += math.prod(dist[x] for x in xs) * Fraction(min(xs), m)
    return total


@pytest.mark.claim("d002.reg.validation-unbiased")
@given(st.integers(1, 3), st.integers(1, 4), st.builds(Fraction, st.integers(0, 10), st.just(10)))
def test_expected_min_validation_enumerated(k, m, p) -> None:
    got = F(R.expected_min_validation_error(k, m, S(p)))
    assert got == _emin_enumerated(k, m, p)
    if k == 1 or p in (0, 1):
        assert got == p
    else:
        assert got < p


@pytest.mark.claim("d002.reg.validation-unbiased")
@given(seeds)
@settings(max_examples=5)
def test_expected_min_validation_monte_carlo(seed) -> None:
    rng = np.random.default_rng(seed)
    k, m, p, T = 5, 20, 0.3, 20000
    mins = rng.binomial(m, p, size=(T, k)).min(axis=1) / m
    want = float(R.expected_min_validation_error(k, m, Q(3, 10)))
    assert abs(mins.mean() - want) <= hoeffding_halfwidth(T, 1.0, FALSE_ALARM)
    assert want < p - 2 * hoeffding_halfwidth(T, 1.0, FALSE_ALARM)


@pytest.mark.claim("d002.reg.q6-batch-decay-coupling")
@given(pos, nonneg, st.builds(Fraction, st.integers(0, 40), st.integers(1, 10)))
def test_sgd_stationary_variance_needs_stable_step(h, lam, extra) -> None:
    eta = (2 + extra) / (h + lam)  # eta (h + lam) >= 2: no stationary law (the recursion grows)
    with pytest.raises(ValueError, match=r"lr\*\(curvature\+decay\) must be in \(0, 2\)"):
        R.sgd_stationary_variance(S(eta), 1, S(h), S(lam), 1)
    a = eta * (h + lam)
    assert (1 - a) ** 2 >= 1  # the variance map v -> (1-a)^2 v + c has no nonnegative fixed point


@pytest.mark.claim("d002.reg.early-stopping-lambda")
@given(pos, unit_open, st.integers(1, 50))
def test_early_stopping_lambda_floats(s, frac, t) -> None:
    eta = frac / s
    exact = R.early_stopping_lambda(S(s), S(eta), t)
    got = R.early_stopping_lambda(float(s), float(eta), t)
    assert float(got) == pytest.approx(float(exact), rel=1e-12)
    # tiny eigenvalues: the limit 1/(eta t), without 0/0
    assert float(R.early_stopping_lambda(1e-300, float(eta), t)) == pytest.approx(
        1 / (float(eta) * t), rel=1e-12
    )


@pytest.mark.claim("d002.reg.validation-u-shaped")
@given(st.lists(pos, min_size=1, max_size=3), st.lists(fracs, min_size=3, max_size=3), unit_open)
def test_noise_free_gd_risk_never_increases(ss, bs, frac) -> None:
    eta = 2 * frac / max(ss)  # 0 < eta s_i < 2
    risks = [
        R.gd_risk([S(s) for s in ss], [S(b) for b in bs[: len(ss)]], 0, S(eta), t) for t in range(6)
    ]
    assert all(b <= a for a, b in itertools.pairwise(risks))


@pytest.mark.claim("d002.reg.validation-u-shaped")
def test_noisy_gd_risk_is_u_shaped_example() -> None:
    # one direction, s = 1, eta = 1/4, beta = 1, sigma^2 = 1: r(t) = (3/4)^{2t} + (1-(3/4)^t)^2
    risks = [R.gd_risk([1], [1], 1, Q(1, 4), t) for t in range(30)]
    assert risks[:3] == [1, Q(5, 8), Q(65, 128)]
    t_min = risks.index(min(risks))
    assert t_min == 2
    assert all(b > a for a, b in itertools.pairwise(risks[t_min:]))  # rises back toward 1
    for t in range(6):  # against the independent recursion
        m, c = Fraction(0), Fraction(0)
        for _ in range(t):
            m, c = m + Fraction(1, 4) * (1 - m), c + Fraction(1, 4) * (1 - c)
        assert F(risks[t]) == (m - 1) ** 2 + c**2


@pytest.mark.claim("d002.reg.stop-at-increase", "d002.reg.validation-u-shaped")
def test_first_increase_stops_at_a_local_minimum() -> None:
    # two eigenvalues (1, 1/10), beta = (1/10, 1), sigma^2 = 1/4, eta = 1/2
    risks = [R.gd_risk([1, Q(1, 10)], [Q(1, 10), 1], Q(1, 4), Q(1, 2), t) for t in range(40)]
    first_increase = next(t for t in range(1, 40) if risks[t] > risks[t - 1])
    assert first_increase == 2 and risks[1] == Q(779, 800)
    best = risks.index(min(risks))
    assert best == 6 and risks[best] < risks[1]
    assert float(risks[1] - risks[best]) == pytest.approx(0.015698, abs=1e-6)


@pytest.mark.claim("d002.reg.early-stopping-optimal")
def test_early_stopping_is_optimal_only_along_its_path() -> None:
    # the 2-eigenvalue example: the best stopping time is beaten by ridge's best lambda and by
    # the oracle per-direction shrinkage beta^2 / (beta^2 + sigma^2/s) (a different estimator)
    ss, bs, s2, eta = [1.0, 0.1], [0.1, 1.0], 0.25, 0.5
    risks = [float(R.gd_risk(ss, bs, s2, eta, t)) for t in range(0, 300, 1)]
    best_t = min(risks)
    assert best_t == pytest.approx(0.9580518302567294, rel=1e-12)
    lam = np.linspace(1e-3, 20, 20001)
    ridge = sum(
        (lam / (s + lam)) ** 2 * b * b + s2 * (s / (s + lam)) ** 2 / s
        for s, b in zip(ss, bs, strict=True)
    )
    oracle = sum(b * b * (s2 / s) / (b * b + s2 / s) for s, b in zip(ss, bs, strict=True))
    assert oracle < ridge.min() < best_t
    assert oracle == pytest.approx(0.01 * 0.25 / 0.26 + 2.5 / 3.5, rel=1e-12)
