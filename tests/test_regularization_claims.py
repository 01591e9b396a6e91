r"""Regularization and training-dynamics claims of 002, measured (issue 14 §2-4; the numeric
side, independent of :mod:`theory.regularization` and :mod:`kernels.cpu.optim`).

Claims: theory/claims/regularization.yaml (``d002.reg.*``). Measured:
numerics.regularization_experiments (``design``, ``gd_bias_variance``, ``ridge_bias_variance``,
``monte_carlo_gd``, ``monte_carlo_ridge``, ``gd_curves``, ``first_increase``,
``local_minima``, ``TWO_MINIMA``, ``early_stopping_vs_ridge``, ``optimal_ridge_lambda``,
``minibatch_gradient_variance``, ``validation_selection_bias``, ``reparametrized_sharpness``,
``zero_one_decomposition``, the figures ``validation_curves_figure``,
``bias_variance_figure``, ``gradient_noise_figure``).

Conventions: fixed design with :math:`X^\top X/n = \mathrm{diag}(s)`, **mean** loss
:math:`\frac1{2n}\|y - X\theta\|^2`, ridge penalty :math:`\frac\lambda2\|\theta\|^2` (the summed
loss has :math:`\lambda_{\text{sum}} = n\lambda`), GD from 0 with step :math:`\eta` measured
against :math:`2/s_{\max}`, noise :math:`\mathcal N(0, \sigma^2)` (σ² the variance), test error
in-sample (same design, fresh noise), minibatches with and without replacement.

Every statistical check states its false-alarm probability (``ALPHA = 1e-6`` in total per
test, split by a union bound over its parts) and takes its seed from hypothesis. Intervals:
:mod:`numerics.stats` (Hoeffding for bounded values, Laurent–Massart for χ², Gaussian tails for
Gaussian means), and Chebyshev :math:`|\bar X - \mu| \le \sqrt{\mathrm{Var}/(T\alpha)}` with
the exact variance where the sample is a Gaussian quadratic form (rigorous, no normal
approximation).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numerics import regularization_experiments as R
from numerics.stats import chi2_interval, gaussian_lipschitz_halfwidth, hoeffding_halfwidth
from numerics.tolerances import assert_close

ALPHA = 1e-6
seeds = st.integers(0, 2**32 - 1)


def _cheb(var: np.ndarray | float, trials: int, alpha: float) -> np.ndarray:
    """Chebyshev half-width: P(|mean − μ| ≥ h) ≤ Var/(T h²) = α."""
    return np.sqrt(np.asarray(var) / (trials * alpha))


def _test_moments(s, b, sig, n, f):
    """Exact mean and variance of one training set's test error (fresh noise) for a spectral
    filter f (rows: steps or λ): Σ s_i e_i² + σ²χ²_{n−d}/n, e_i ~ N(β_i(1−f_i), (f_i²+1)σ²/(n s_i))
    independent (training noise and test noise)."""
    m = b * (1 - f)
    w = (f**2 + 1) * sig**2 / (n * s)
    k = n - s.size
    mean = (s * (m**2 + w)).sum(-1) + sig**2 * k / n
    var = (s**2 * (2 * w**2 + 4 * m**2 * w)).sum(-1) + 2 * k * sig**4 / n**2
    return mean, var


def _train_moments(s, b, sig, n, f):
    """Exact mean and variance of one training set's ½‖y − Xθ‖²/n · 2 (the training error):
    Σ s_i(1−f_i)²(β_i + z_i)² + σ²χ²_{n−d}/n, z_i ~ N(0, σ²/(n s_i))."""
    m = b
    w = sig**2 / (n * s)
    c = s * (1 - f) ** 2
    k = n - s.size
    mean = (c * (m**2 + w)).sum(-1) + sig**2 * k / n
    var = (c**2 * (2 * w**2 + 4 * m**2 * w)).sum(-1) + 2 * k * sig**4 / n**2
    return mean, var


def _gd_filter(s, eta, steps):
    return 1 - (1 - eta * s) ** np.arange(steps + 1)[:, None]


# The design -------------------------------------------------------------------------------


@given(seed=seeds, d=st.integers(1, 5), extra=st.integers(0, 20))
def test_design_has_the_requested_gram_matrix(seed, d, extra):
    s = 10 ** np.random.default_rng(seed).uniform(-2, 0, d)
    x = R.design(s, d + extra, seed)
    assert x.shape == (d + extra, d)
    assert_close(
        x.T @ x / (d + extra), np.diag(s), np.float64, reduction_length=d + extra, magnitude=1.0
    )


# Bias, variance and their sum: Monte-Carlo against the closed form ------------------------


@pytest.mark.claim("d002.reg.bias-variance-decomposition", "d002.reg.bias-then-variance")
@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_gd_bias_variance_monte_carlo_matches_the_closed_form(seed):
    """GD run on T = 2000 training sets (the iteration itself); at t in TS, per direction:
    the mean of θ̂_i within a Gaussian interval of f_i β_i, the sample variance within the χ²
    interval of f_i² σ²/(n s_i), and the mean test error (fresh test noise) within the
    Chebyshev interval of bias² + variance + σ². Union bound: ALPHA over 3·len(TS)·d + len(TS)
    parts."""
    s, b = np.array([1.0, 0.1, 0.01]), np.array([1.0, -1.0, 3.0])
    sig, eta, n, steps, trials = 1.0, 0.5, 20, 200, 2000
    ts = [1, 3, 10, 30, 100, 200]
    mc = R.monte_carlo_gd(s, b, sig, eta, steps, n, trials, seed)
    cf = R.gd_bias_variance(s, b, sig, eta, steps, n)
    f = _gd_filter(s, eta, steps)
    a = ALPHA / (len(ts) * (2 * s.size + 1))
    lo, hi = chi2_interval(trials - 1, a)
    for t in ts:
        for i in range(s.size):
            sd = f[t, i] * sig / math.sqrt(n * s[i])
            h = gaussian_lipschitz_halfwidth(trials, 1.0, sd, a)
            assert abs(mc["mean"][t, i] - f[t, i] * b[i]) <= h
            q = mc["var"][t, i] * (trials - 1) / sd**2
            assert lo <= q <= hi, (t, i, q, lo, hi)
        mean, var = _test_moments(s, b, sig, n, f[t])
        assert_close(mean, cf["risk"][t], np.float64, reduction_length=8, magnitude=mean)
        assert abs(mc["test"][t] - cf["risk"][t]) <= _cheb(var, trials, a)
    # the closed form's parts
    assert_close(
        cf["bias2"], s * (1 - f) ** 2 * b**2, np.float64, reduction_length=4, magnitude=1.0
    )
    assert_close(cf["variance"], f**2 * sig**2 / n, np.float64, reduction_length=4, magnitude=1.0)


@pytest.mark.claim("d002.reg.bias-then-variance")
@given(
    s=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=4),
    frac=st.floats(0.05, 1.95),
    b=st.floats(-5, 5),
)
def test_noise_free_gd_iterates_are_the_spectral_filter(s, frac, b):
    """σ = 0: every training set is the same, so the iterated GD (monte_carlo_gd) equals the
    filter (1 − (1 − ηs_i)^t)β_i to rounding at every t, with zero variance, training loss
    ½Σ s_i(1 − f_i)²β_i² and test error Σ s_i(1 − f_i)²β_i² (η = frac · 2/s_max, unstable
    steps η > 2/s_max included)."""
    sv = np.array(s)
    bv = np.full(sv.size, b)
    eta = 2 * frac / sv.max()
    mc = R.monte_carlo_gd(sv, bv, 0.0, eta, 30, 8, 2, 0)
    f = _gd_filter(sv, eta, 30)
    scale = 1.0 + abs(b)
    assert_close(mc["mean"], f * bv, np.float64, reduction_length=31, magnitude=scale)
    assert (mc["var"] == 0).all()
    err = (sv * (1 - f) ** 2 * bv**2).sum(1)
    assert_close(mc["test"], err, np.float64, reduction_length=31, magnitude=scale**2)
    assert_close(mc["train"], err / 2, np.float64, reduction_length=31, magnitude=scale**2)


@pytest.mark.claim("d002.reg.bias-variance-decomposition")
def test_total_error_is_not_bias_plus_variance_without_the_noise_term():
    """The σ² term is needed: with σ = 2, n = 20 the Monte-Carlo test error exceeds
    bias² + variance by σ² = 4 far outside its Chebyshev interval (ALPHA)."""
    s, b = np.array([1.0, 0.1]), np.array([1.0, 2.0])
    sig, n, trials = 2.0, 20, 4000
    mc = R.monte_carlo_gd(s, b, sig, 0.5, 20, n, trials, 7)
    cf = R.gd_bias_variance(s, b, sig, 0.5, 20, n)
    _, var = _test_moments(s, b, sig, n, _gd_filter(s, 0.5, 20)[20])
    parts = cf["bias2"][20].sum() + cf["variance"][20].sum()
    assert mc["test"][20] - parts >= sig**2 - _cheb(var, trials, ALPHA)


@pytest.mark.claim("d002.reg.bias-then-variance")
@given(
    s=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=4),
    frac=st.floats(0.01, 0.99),
    b=st.floats(-5, 5).filter(lambda v: abs(v) > 0.1),
)
def test_bias_falls_and_variance_rises_when_eta_s_below_one(s, frac, b):
    """0 < ηs_i < 1: bias² strictly decreasing and variance strictly increasing in t (both
    totals), the claim's regime."""
    sv = np.array(s)
    eta = frac / sv.max()
    cf = R.gd_bias_variance(sv, np.full(sv.size, b), 1.0, eta, 30, 10)
    bias2, var = cf["bias2"].sum(1), cf["variance"].sum(1)
    # strictly while not yet converged to rounding (bias² underflows, f reaches 1 exactly)
    live = bias2[:-1] > 1e-200
    assert (np.diff(bias2) <= 0).all() and (np.diff(bias2)[live] < 0).all()
    live = var[:-1] < var[-1] * (1 - 1e-12)
    assert (np.diff(var) >= 0).all() and (np.diff(var)[live] > 0).all()


@pytest.mark.claim("d002.reg.bias-then-variance")
@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_variance_oscillates_for_eta_s_three_halves(seed):
    """Counterexample: ηs = 3/2 (stable, < 2): the variance factor (1 − (−1/2)^t)² is 2.25,
    0.5625, 1.2656, 0.8789, … — not monotone. Closed form exactly; Monte-Carlo (T = 4000) with
    χ² intervals (ALPHA over 8 parts) separates t = 1 from t = 2 and t = 3 from t = 4."""
    cf = R.gd_bias_variance([1.0], [1.0], 1.0, 1.5, 4, 1)
    assert_close(cf["variance"][1:, 0], np.array([2.25, 0.5625, 1.265625, 0.87890625]),
                 np.float64, reduction_length=4, magnitude=1.0)  # fmt: skip
    trials = 4000
    mc = R.monte_carlo_gd([1.0], [1.0], 1.0, 1.5, 4, 1, trials, seed)
    lo, hi = chi2_interval(trials - 1, ALPHA / 8)
    v = mc["var"][1:, 0]
    ivs = [(lo / (trials - 1) * c, hi / (trials - 1) * c) for c in cf["variance"][1:, 0]]
    for x, (a, c) in zip(v, ivs, strict=True):
        assert a <= x <= c
    assert v[0] > v[1] and v[2] > v[3] and v[1] < v[2]


@pytest.mark.claim("d002.reg.bias-variance-decomposition")
@settings(max_examples=10, deadline=None)
@given(seed=seeds, sig=st.floats(0.2, 5.0))
def test_errors_are_chi_squared_without_signal(seed, sig):
    """β = 0, T = 1000 training sets, n = 20, d = 3 (exact distributions, χ² intervals, ALPHA
    over 6 parts). GD at t = 0 (θ = 0): T·n·test/σ² ~ χ²_{Tn} (fresh test noise, all n
    directions). Ridge at λ = 0 (OLS): T·n·train/σ² ~ χ²_{T(n−d)} (train = ‖y − Xθ‖²/n, the
    function reports half of it) and test = σ²/n·(2χ²_d + χ²_{n−d}) per set, so the mean gap
    test − train (expected optimism 2σ²d/n) lies between the ends of those intervals."""
    s, b, n, trials, d = np.array([1.0, 0.3, 0.1]), np.zeros(3), 20, 1000, 3
    a = ALPHA / 6
    gd = R.monte_carlo_gd(s, b, sig, 0.5, 0, n, trials, seed)
    lo, hi = chi2_interval(trials * n, a)
    assert lo <= gd["test"][0] * trials * n / sig**2 <= hi
    ols = R.monte_carlo_ridge(s, b, sig, [0.0], n, trials, seed)
    c = sig**2 / (trials * n)
    tr_lo, tr_hi = (c * v for v in chi2_interval(trials * (n - d), a))
    assert tr_lo <= 2 * ols["train"][0] <= tr_hi
    d_lo, d_hi = chi2_interval(trials * d, a)
    te_lo, te_hi = c * (2 * d_lo + tr_lo / c), c * (2 * d_hi + tr_hi / c)
    assert te_lo <= ols["test"][0] <= te_hi
    assert te_lo - tr_hi <= ols["gap"][0] <= te_hi - tr_lo
    assert_close(ols["gap"], ols["test"] - 2 * ols["train"], np.float64,
                 reduction_length=4, magnitude=ols["test"])  # fmt: skip


# Training and validation curves -------------------------------------------------------------


@pytest.mark.claim("d002.reg.training-monotone")
@given(
    seed=seeds,
    s=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=4),
    frac=st.floats(0.01, 1.99),
)
def test_gd_training_loss_is_monotone_below_two_over_lambda_max(seed, s, frac):
    """η = frac · 2/s_max with frac < 1... < 2/s_max: every residual direction is multiplied
    by |1 − η s_i| < 1 per step, so the training loss never increases (to rounding)."""
    sv = np.array(s)
    c = R.gd_curves(sv, np.ones(sv.size), 1.0, frac / sv.max(), 40, 12, 5, seed)
    tr = c["train"]
    assert (np.diff(tr) <= 1e-12 * tr[:-1]).all()


@pytest.mark.claim("d002.reg.training-monotone")
@given(seed=seeds, over=st.floats(2.05, 3.0))
def test_gd_training_loss_grows_above_two_over_lambda_max(seed, over):
    """η = over/s_max > 2/s_max: the top direction's residual grows by |1 − η s_max| > 1 per
    step; after 200 steps the training loss exceeds its start (and the first step's)."""
    c = R.gd_curves([1.0, 0.1], [1.0, 1.0], 0.5, over, 200, 10, 5, seed)
    assert c["train"][-1] > c["train"][0]
    assert c["train"][-1] > c["train"][1]


@pytest.mark.claim("d002.reg.validation-u-shaped")
@settings(max_examples=10, deadline=None)
@given(seed=seeds, sig=st.floats(0.2, 5.0))
def test_validation_and_training_errors_at_the_start_are_chi_squared(seed, sig):
    """β = 0, θ_0 = 0: n_val·validation/σ² ~ χ²_{n_val} (fresh validation labels) and
    2n·train/σ² ~ χ²_n (ALPHA over 2 parts)."""
    n, n_val = 50, 4000
    c = R.gd_curves([1.0, 0.5], [0.0, 0.0], sig, 0.5, 0, n, n_val, seed)
    lo, hi = chi2_interval(n_val, ALPHA / 2)
    assert lo <= c["validation"][0] * n_val / sig**2 <= hi
    lo, hi = chi2_interval(n, ALPHA / 2)
    assert lo <= 2 * c["train"][0] * n / sig**2 <= hi


@pytest.mark.claim("d002.reg.validation-u-shaped")
@given(
    seed=seeds,
    s=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=4),
    frac=st.floats(0.05, 1.9),
)
def test_without_label_noise_validation_error_only_decreases(seed, s, frac):
    """σ = 0, well specified: the test error Σ s_i(1−ηs_i)^{2t}β_i² of the trained model (and
    its expectation) never increases for η < 2/s_max — no U."""
    sv = np.array(s)
    c = R.gd_curves(sv, np.ones(sv.size), 0.0, frac / sv.max(), 60, 12, 5, seed)
    for curve in (c["test"], c["expected"]):  # rounding of (θ − β)² ~ eps² · Σ s β²
        assert (np.diff(curve) <= 1e-12 * curve[:-1] + 1e-29 * curve[0]).all()


@pytest.mark.claim("d002.reg.validation-u-shaped")
@given(sig=st.floats(0.5, 5.0), s=st.floats(0.05, 1.0), b=st.floats(0.1, 10.0))
def test_with_label_noise_expected_validation_error_is_u_shaped(sig, s, b):
    """One direction with noise, signal β² ≥ v = σ²/(n s), ηs = 0.05: the expected test error
    falls to a minimum near u = (1 − ηs)^t = v/(β² + v) ≤ 1/2 (t ≥ 13), then rises towards
    s v + σ² (the variance saturating): interior minimum, strictly down then strictly up, and
    the end is higher by at least half the continuous rise s v²/(β² + v)."""
    n = 10
    v = sig**2 / (n * s)
    assume(b**2 >= v)
    r = R.gd_bias_variance([s], [b], sig, 0.05 / s, 600, n)["risk"]
    k = int(np.argmin(r))
    assert 13 <= k < 600
    assert r[-1] > r[k] + 0.5 * s * v**2 / (b**2 + v)
    assert (np.diff(r[: k + 1]) < 0).all() and (np.diff(r[k:]) > 0).all()


@pytest.mark.claim("d002.reg.stop-at-increase")
def test_two_eigenvalues_give_two_minima_and_first_increase_stops_at_the_worse():
    """TWO_MINIMA: s = (1, 0.01), β = (1, 20), σ = 10, n = 100, η = 0.5. The expected excess
    test error has local minima at t = 1 (4.46) and t = 321 (1.80); stopping at the first
    increase stops at t = 1."""
    tm = R.TWO_MINIMA
    r = R.gd_bias_variance(tm["eigenvalues"], tm["beta"], tm["noise"], tm["eta"], 2000, tm["n"])
    ex = r["risk"] - tm["noise"] ** 2
    assert R.local_minima(ex) == [1, 321]
    assert R.first_increase(ex) == 1
    assert abs(ex[1] - 4.460125) < 1e-6 and abs(ex[321] - 1.8) < 1e-6
    assert ex[1] > 2.4 * ex[321]


@pytest.mark.claim("d002.reg.stop-at-increase")
@settings(max_examples=3, deadline=None)
@given(seed=seeds)
def test_first_increase_of_a_finite_validation_curve_often_stops_badly(seed):
    """Finite validation set (1000 labels), TWO_MINIMA, 200 training sets: the fraction of runs
    where stopping at the validation curve's first increase leaves a test error ≥ 0.5 above the
    path's best is > 0 (Hoeffding lower bound, ALPHA; measured ≈ 0.4)."""
    tm = R.TWO_MINIMA
    runs = 200
    rng = np.random.default_rng(seed)
    bad = 0
    for _ in range(runs):
        c = R.gd_curves(tm["eigenvalues"], tm["beta"], tm["noise"], tm["eta"], 500, tm["n"],
                        1000, int(rng.integers(0, 2**62)))  # fmt: skip
        k = R.first_increase(c["validation"])
        bad += c["test"][k] >= c["test"].min() + 0.5
    assert bad / runs - hoeffding_halfwidth(runs, 1.0, ALPHA) > 0


def test_first_increase_and_local_minima_on_small_curves():
    assert R.first_increase([3.0, 2.0, 2.0, 2.5, 1.0]) == 2
    assert R.first_increase([3.0, 2.0, 1.0]) == 2
    assert R.local_minima([3.0, 2.0, 2.0, 2.5, 1.0]) == [1, 4]
    assert R.local_minima([1.0, 2.0, 3.0]) == []


# Early stopping vs ridge ----------------------------------------------------------------


@pytest.mark.claim("d002.reg.early-stopping-lambda")
@given(s=st.floats(0.01, 1.0), m=st.integers(1, 4), frac=st.floats(0.05, 0.95), b=seeds)
def test_one_eigenvalue_gd_is_ridge_exactly(s, m, frac, b):
    """All eigenvalues equal: λ_t = s(1−ηs)^t/(1−(1−ηs)^t) is the same in every direction and
    ridge at λ_t has GD's risk at t to rounding."""
    beta = np.random.default_rng(b).standard_normal(m)
    e = R.early_stopping_vs_ridge([s] * m, beta, 1.0, frac / s, 20, 10)
    lam = e["lam_match"]
    assert_close(lam, np.repeat(lam[:, :1], m, 1), np.float64, reduction_length=4, magnitude=lam)
    rr = R.ridge_bias_variance([s] * m, beta, 1.0, lam[:, 0], 10)["risk"] - 1.0
    assert_close(rr, e["risk_gd"], np.float64, reduction_length=16, magnitude=1.0 + e["risk_gd"])


@pytest.mark.claim("d002.reg.early-stopping-lambda")
@given(b=seeds, spread=st.floats(1.5, 100.0))
def test_spread_eigenvalues_have_no_matching_lambda(b, spread):
    """Two distinct eigenvalues: the per-direction matching λ differ at every t ≥ 1 (no single
    λ reproduces GD's filter)."""
    e = R.early_stopping_vs_ridge([1.0, 1.0 / spread], [1.0, 1.0], 1.0, 0.5, 50, 10)
    lam = e["lam_match"]
    assert (lam[:, 1] > lam[:, 0] * (1 + 1e-3)).all()


@pytest.mark.claim("d002.reg.early-stopping-lambda", "d002.reg.early-stopping-optimal")
@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_gd_risk_within_ali_bound_of_ridge_at_one_over_eta_t(seed):
    """Ali, Kolter & Tibshirani (2019) in the gradient-flow limit, which is a theorem per
    eigen-direction: with u = s*tau, flow's bias factor e^(-2u) <= ridge's 1/(1+u)^2 at
    lambda = 1/tau, and its variance factor (1 - e^(-u))^2 <= 1.6862 (u/(1+u))^2, so the risk
    of gradient flow at time tau is at most 1.6862 x ridge's at lambda = 1/tau for every
    spectrum and beta. Discrete GD is not covered: its variance factor (1-(1-eta s)^t)^2 exceeds
    flow's, and with eta s_max = 0.01 the measured ratio to ridge reaches about 1.69 (it went
    above 1.69 for some spectra), so only a loose sanity bound of 2 is asserted for it."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 6))
    s = 10 ** rng.uniform(-3, 0, d)
    b = rng.standard_normal(d) * rng.uniform(0.1, 10)
    sig, n = rng.uniform(0.1, 10), 50
    v = sig**2 / (n * s)  # per-direction variance of the least-squares coefficient
    for tau in 10 ** rng.uniform(-1, 4, 20):
        u = s * tau
        flow_f, ridge_f = -np.expm1(-u), u / (1 + u)
        risk = lambda f: float((s * ((1 - f) ** 2 * b**2 + f**2 * v)).sum())  # noqa: E731
        assert risk(flow_f) <= 1.6862 * risk(ridge_f) * (1 + 1e-12)
    e = R.early_stopping_vs_ridge(s, b, sig, 0.01 / s.max(), 3000, n)
    assert e["ratio"] <= 2.0


@pytest.mark.claim("d002.reg.early-stopping-optimal")
@given(seed=seeds, sig=st.floats(0.1, 20.0))
def test_best_early_stopped_risk_includes_not_training(seed, sig):
    """The best early-stopped risk is at most the risk at t = 0 (θ = 0: Σ s_i β_i²); with
    high noise and a small signal it *is* t = 0 (σ = 20, β ~ 0.3: any step costs more variance
    than it removes bias)."""
    rng = np.random.default_rng(seed)
    s, b = 10 ** rng.uniform(-2, 0, 3), 0.3 * rng.standard_normal(3)
    e = R.early_stopping_vs_ridge(s, b, sig, 0.5 / s.max(), 2000, 10)
    r0 = float((s * b**2).sum())
    assert e["best_gd"] <= r0 * (1 + 1e-12)
    assert e["best_gd"] <= e["risk_gd"].min()
    if sig >= 10:
        assert_close(e["best_gd"], r0, np.float64, reduction_length=3, magnitude=r0)


@pytest.mark.claim("d002.reg.early-stopping-optimal")
@pytest.mark.parametrize(
    ("beta", "gd_wins"), [((3.0, 0.3), True), ((1.0, 1.0), False)], ids=["gd-wins", "ridge-wins"]
)
def test_early_stopping_is_not_the_optimal_trade_off(beta, gd_wins):
    """s = (1, 0.1), σ = 1, n = 10, η = 0.5: with β = (3, 0.3) the best early-stopped risk
    (0.111) beats the best ridge risk (0.157); with β = (1, 1) ridge wins (0.141 vs 0.150).
    The oracle per-direction (Wiener) filter β_i²/(β_i² + v_i), v_i = σ²/(n s_i), has risk
    Σ s_i β_i² v_i/(β_i² + v_i); it is ridge with λ_i = σ²/(n β_i²), so ridge reaches it when
    all |β_i| are equal (β = (1, 1)) and early stopping never does here: "early stopping
    finds the optimal trade-off" holds for neither."""
    s, b, sig, n = np.array([1.0, 0.1]), np.array(beta), 1.0, 10
    e = R.early_stopping_vs_ridge(s, b, sig, 0.5, 4000, n)
    v = sig**2 / (n * s)
    oracle = float((s * b**2 * v / (b**2 + v)).sum())
    assert e["best_gd"] > oracle * 1.01
    if gd_wins:
        assert e["best_gd"] < 0.75 * e["best_ridge"]
        assert e["best_ridge"] > oracle * 1.01
    else:
        assert e["best_ridge"] < 0.97 * e["best_gd"]
        assert abs(e["best_ridge"] - oracle) <= 1e-9 * oracle


# Ridge: bias/variance against λ, optimism, optimal λ --------------------------------------


@pytest.mark.claim("d002.reg.bias-variance-tradeoff")
@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_ridge_bias_variance_and_optimism_monte_carlo(seed):
    """Ridge on T = 2000 training sets for λ in LAMS: per direction the sample variance within
    the χ² interval of (s/(s+λ))²σ²/(n s) and the mean within a Gaussian interval of
    s/(s+λ)β; the mean test and training errors within Chebyshev intervals of their exact
    means, hence the gap within the sum of those of 2σ² df/n. Closed form: bias² increasing,
    variance, df and optimism decreasing in λ. ALPHA over all parts."""
    s, b, sig, n, trials = np.array([1.0, 0.2, 0.05]), np.array([1.0, -2.0, 1.0]), 1.5, 12, 2000
    lams = np.array([0.0, 0.01, 0.1, 1.0, 10.0])
    mc = R.monte_carlo_ridge(s, b, sig, lams, n, trials, seed)
    cf = R.ridge_bias_variance(s, b, sig, lams, n)
    a = ALPHA / (lams.size * (2 * s.size + 2))
    lo, hi = chi2_interval(trials - 1, a)
    for j, lam in enumerate(lams):
        f = s / (s + lam)
        for i in range(s.size):
            sd = f[i] * sig / math.sqrt(n * s[i])
            assert abs(mc["mean"][j, i] - f[i] * b[i]) <= gaussian_lipschitz_halfwidth(
                trials, 1.0, sd, a
            )
            assert lo <= mc["var"][j, i] * (trials - 1) / sd**2 <= hi
        te_m, te_v = _test_moments(s, b, sig, n, f)
        tr_m, tr_v = _train_moments(s, b, sig, n, f)
        h = _cheb(te_v, trials, a) + _cheb(tr_v, trials, a)
        assert_close(te_m - tr_m, cf["optimism"][j], np.float64, reduction_length=8, magnitude=1.0)
        assert abs(mc["gap"][j] - cf["optimism"][j]) <= h
    assert (np.diff(cf["bias2"].sum(1)) > 0).all()
    assert (np.diff(cf["variance"].sum(1)) < 0).all()
    assert (np.diff(cf["optimism"]) < 0).all()


@pytest.mark.claim("d002.reg.optimal-lambda")
@given(seed=seeds, sig=st.floats(0.1, 10.0), tau=st.floats(0.1, 10.0))
def test_optimal_lambda_summed_is_constant_mean_falls_like_one_over_n(seed, sig, tau):
    """Bayes risk minimized over λ: summed loss λ* = σ²/τ² for N = 10, 100, 1000; mean loss
    λ* = σ²/(Nτ²) (∝ 1/N). So "depends on the dataset size" holds for the mean loss only;
    both depend on the noise level."""
    r = R.optimal_ridge_lambda([10, 100, 1000], 3, sig, tau, seed)
    want = sig**2 / tau**2
    assert np.allclose(r["summed"], want, rtol=1e-4)
    assert np.allclose(r["mean"] * r["sizes"], want, rtol=1e-4)


# Minibatch gradient noise ---------------------------------------------------------------


@pytest.mark.claim("d002.reg.sgd-noise-scale", "d002.reg.sgd-unbiased-noise")
@settings(max_examples=10, deadline=None)
@given(seed=seeds, big_n=st.integers(8, 40), d=st.integers(1, 4))
def test_minibatch_gradient_variance_is_sigma_over_b(seed, big_n, d):
    """E‖ĝ_B − g‖² within the Hoeffding interval (width = max_i ‖g_i − g‖², which bounds each
    sample) of tr Σ/B with replacement and tr Σ/B·(N−B)/(N−1) without, for B = 1, N/2, N;
    without replacement at B = N the variance is 0 exactly. ALPHA over 6 parts."""
    g = np.random.default_rng(seed).standard_normal((big_n, d)) * np.arange(1, d + 1)
    trials = 20000
    for j, batch in enumerate((1, big_n // 2, big_n)):
        rw = R.minibatch_gradient_variance(g, batch, True, trials, seed + 2 * j)
        ro = R.minibatch_gradient_variance(g, batch, False, trials, seed + 2 * j + 1)
        h = hoeffding_halfwidth(trials, rw["width"], ALPHA / 6)
        assert abs(rw["measured"] - rw["with_replacement"]) <= h
        assert abs(ro["measured"] - ro["without_replacement"]) <= h
    assert ro["measured"] <= 1e-20


@pytest.mark.claim("d002.reg.sgd-noise-scale")
def test_without_replacement_is_not_sigma_over_b():
    """The factor (N−B)/(N−1) matters: N = 10, B = 5 without replacement measures
    tr Σ/5 · 5/9, outside the Hoeffding interval (ALPHA) of tr Σ/5."""
    g = np.random.default_rng(0).standard_normal((10, 2))
    r = R.minibatch_gradient_variance(g, 5, False, 200000, 1)
    h = hoeffding_halfwidth(200000, r["width"], ALPHA)
    assert abs(r["measured"] - r["with_replacement"]) > h
    assert abs(r["measured"] - r["without_replacement"]) <= h


# Validation selection bias --------------------------------------------------------------


@pytest.mark.claim("d002.reg.validation-unbiased")
@settings(max_examples=10, deadline=None)
@given(seed=seeds, k=st.integers(2, 20), p=st.floats(0.1, 0.5))
def test_minimum_validation_error_is_biased_low(seed, k, p):
    """k models with the same true error p, n_val = 100: one model's validation error is
    unbiased (Hoeffding around p), the minimum over k matches the exact E[min] (Hoeffding) and
    E[min] < p. ALPHA over 2 parts; values in [0, 1]."""
    trials = 20000
    r = R.validation_selection_bias(k, 100, p, trials, seed)
    h = hoeffding_halfwidth(trials, 1.0, ALPHA / 2)
    assert abs(r["single"] - p) <= h
    assert abs(r["minimum"] - r["exact_minimum"]) <= h
    assert r["exact_minimum"] < p - 0.01


def test_exact_expected_minimum_by_enumeration():
    """E[min of k Binomial(n, p)/n] by brute force over all outcomes (n = 4, k = 2)."""
    from math import comb

    n, p, k = 4, 0.3, 2
    pmf = [comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    brute = sum(pmf[i] * pmf[j] * min(i, j) / n for i in range(n + 1) for j in range(n + 1))
    assert_close(R.validation_selection_bias(k, n, p, 1, 0)["exact_minimum"], brute,
                 np.float64, reduction_length=32, magnitude=1.0)  # fmt: skip


# Sharpness under reparametrization ------------------------------------------------------


@pytest.mark.claim("d002.reg.flat-minima")
@settings(max_examples=5, deadline=None)
@given(seed=seeds)
def test_reparametrization_keeps_the_function_and_changes_sharpness(seed):
    """(αW1, W2/α): identical outputs on every probed input (to rounding), loss 0, and the top
    Hessian eigenvalue scales like α² for large α (×100 ± 1% from α = 10 to 100) and like 1/α²
    for small α — unbounded on both sides."""
    al = [1e-3, 1e-2, 1.0, 10.0, 100.0, 1000.0]
    r = R.reparametrized_sharpness(al, seed)
    assert (r["max_diff"] <= 1e-12).all()
    assert (r["loss"] <= 1e-24).all()
    sh = r["sharpness"]
    # independent: at loss 0 the Hessian is the Gauss-Newton 2/N JᵀJ; its W2 block is
    # α²·2/N·HᵀH (H the hidden activations), so sharpness ≥ α² λ_max(2/N HᵀH), with equality
    # up to O(1) as α grows (nets rebuilt from the documented generator order)
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(4, 3, generator=gen, dtype=torch.float64).numpy()
    torch.randn(1, 4, generator=gen, dtype=torch.float64)
    x = torch.randn(8, 3, generator=gen, dtype=torch.float64).numpy()
    h = np.maximum(x @ w1.T, 0)
    gn = float(np.linalg.eigvalsh(2 / 8 * h.T @ h).max())
    assert (sh >= np.array(al) ** 2 * gn * (1 - 1e-9)).all()
    assert abs(sh[5] / 1e6 / gn - 1) < 1e-3
    assert abs(sh[4] / sh[3] / 100 - 1) < 0.01
    assert abs(sh[0] / sh[1] / 100 - 1) < 0.01
    assert sh[5] > 1e4 * sh[2] and sh[0] > 1e4 * sh[2]


# 0-1 loss ---------------------------------------------------------------------------------


@pytest.mark.claim("d002.reg.bias-variance-decomposition")
def test_zero_one_loss_is_not_bias_plus_variance():
    """Ten classifiers, label 1 at both points. Point 0: 3 vote 1 → main 0, bias 1, variance
    0.3, error 0.7 = bias − variance ≠ bias + variance = 1.3 (variance lowers the error: the
    always-0 classifier has error 1). Point 1: 8 vote 1 → unbiased, error 0.2 = variance."""
    pred = np.zeros((10, 2), dtype=np.int64)
    pred[:3, 0] = 1
    pred[:8, 1] = 1
    r = R.zero_one_decomposition(pred, np.array([1, 1]))
    assert_close(r["error"], np.array([0.7, 0.2]), np.float64, reduction_length=10, magnitude=1.0)
    assert_close(r["bias"], np.array([1.0, 0.0]), np.float64, reduction_length=1, magnitude=1.0)
    assert_close(
        r["variance"], np.array([0.3, 0.2]), np.float64, reduction_length=10, magnitude=1.0
    )
    assert abs(r["additive"][0] - r["error"][0]) > 0.5
    assert_close(r["error"][1], r["additive"][1], np.float64, reduction_length=10, magnitude=1.0)


@pytest.mark.claim("d002.reg.bias-variance-decomposition")
@settings(max_examples=10, deadline=None)
@given(seed=seeds, q=st.floats(0.05, 0.4))
def test_zero_one_variance_lowers_error_at_biased_point(seed, q):
    """A random classifier voting 1 with probability q < 1/2 (label 1): measured error within
    Hoeffding of 1 − q (ALPHA), i.e. bias − variance, below the bias (1) by ≈ q."""
    trials = 20000
    pred = (np.random.default_rng(seed).random((trials, 1)) < q).astype(np.int64)
    r = R.zero_one_decomposition(pred, np.array([1]))
    h = hoeffding_halfwidth(trials, 1.0, ALPHA)
    assert r["bias"][0] == 1.0
    assert abs(r["error"][0] - (1 - q)) <= h
    assert_close(
        r["error"][0],
        r["bias"][0] - r["variance"][0],
        np.float64,
        reduction_length=trials,
        magnitude=1.0,
    )


# Figures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fig", ["validation_curves_figure", "bias_variance_figure", "gradient_noise_figure"]
)
def test_figures_are_png(fig):
    assert getattr(R, fig)().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.claim("d002.reg.small-batch-generalizes", "d002.reg.q6-batch-decay-coupling")
@settings(max_examples=10, deadline=None)
@given(seed=seeds, eta=st.sampled_from([0.25, 0.5, 0.8]))
def test_small_batch_sgd_generalizes_worse_than_gd_at_a_constant_step(seed, eta):
    """The ledger's counterexample to "small batches generalize better", exactly. Inputs
    x_i = +-1 (so every example has curvature h = 1 and the minibatch noise is additive), mean
    squared loss, theta starting at the least-squares solution theta*. Full-batch GD stays at
    theta* exactly; SGD with B = 1, with replacement, moves by theta <- theta - eta (theta -
    theta* + xi) with Var xi = s^2, so E(theta_K - theta*)^2 = eta s^2 (1 - (1-eta)^(2K)) /
    (2 - eta) -> theory.regularization.sgd_stationary_variance(eta, 1, 1, 0, s^2) > 0, and for
    +-1 test inputs the expected test error exceeds GD's by exactly that amount. Checked by
    Monte-Carlo over R independent runs of that recursion (vectorized; the kernel's
    SGD step is checked against torch.optim in tests/test_regularization_optim.py): the squared
    deviations lie in [0, max|xi|^2] (|theta - theta*| never exceeds max|xi| for eta < 1), so
    Hoeffding's interval applies (false alarm 1e-6), and its lower end is above 0."""
    import sympy

    from kernels.cpu.optim import run
    from theory.regularization import sgd_stationary_variance

    rng = np.random.default_rng(seed)
    n, steps, runs = 16, 40, 200_000
    x = rng.choice([-1.0, 1.0], size=(n, 1))
    y = 0.7 * x[:, 0] + rng.standard_normal(n)
    theta_star = float(np.mean(x[:, 0] * y))
    xi = theta_star - x[:, 0] * y  # per-example gradient at theta* (mean 0)
    s2 = float(np.mean(xi**2))
    gd, _ = run(x, y, np.array([theta_star]), lr=eta, steps=steps)
    assert abs(gd[0] - theta_star) <= 1e-12  # GD does not move from the optimum
    theta = np.full(runs, theta_star)
    for _ in range(steps):  # one example per step, drawn with replacement
        i = rng.integers(0, n, size=runs)
        theta = theta - eta * (theta - x[i, 0] * y[i])
    dev = (theta - theta_star) ** 2
    exact = eta * s2 * (1 - (1 - eta) ** (2 * steps)) / (2 - eta)
    limit = float(sgd_stationary_variance(sympy.nsimplify(eta), 1, 1, 0, sympy.nsimplify(s2)))
    assert abs(limit - eta * s2 / (2 - eta)) <= 1e-9 * limit
    half = hoeffding_halfwidth(runs, float(np.max(xi**2)))
    assert abs(dev.mean() - exact) <= half
    assert dev.mean() - half > 0  # SGD's expected test error is strictly above GD's


@pytest.mark.claim("d002.reg.early-stopping-lambda")
def test_the_ledgers_two_eigenvalue_example_has_no_matching_lambda():
    """s = (1, 0.1), eta = 1/2, t = 1: GD's filter is (1/2, 1/20); the ridge lambda matching
    the first direction is 1, whose filter in the second is 1/11 != 1/20."""
    import sympy

    from theory.regularization import early_stopping_lambda, gd_filter, ridge_filter

    half, tenth = sympy.Rational(1, 2), sympy.Rational(1, 10)
    assert [gd_filter(s, half, 1) for s in (1, tenth)] == [half, sympy.Rational(1, 20)]
    lam = early_stopping_lambda(1, half, 1)
    assert lam == 1
    assert ridge_filter(tenth, lam) == sympy.Rational(1, 11)
    assert early_stopping_lambda(tenth, half, 1) != lam


@pytest.mark.claim("d002.reg.early-stopping-lambda")
def test_beyond_eta_s_one_two_eigenvalues_can_share_a_ridge_lambda():
    """The 'iff all eigenvalues are equal' needs 0 < eta s < 1: with s = (1/2, 4/3), eta = 1,
    t = 2 GD's filter (1 - (1 - eta s)^2) is (3/4, 8/9), and ridge with lambda = 1/6 gives
    s/(s + lambda) = (3/4, 8/9) as well — exactly."""
    import sympy

    from theory.regularization import gd_filter, ridge_filter

    s = (sympy.Rational(1, 2), sympy.Rational(4, 3))
    gd = [gd_filter(v, 1, 2) for v in s]
    assert gd == [sympy.Rational(3, 4), sympy.Rational(8, 9)]
    assert [ridge_filter(v, sympy.Rational(1, 6)) for v in s] == gd


@pytest.mark.claim("d002.reg.early-stopping-optimal")
def test_the_ledgers_early_stopping_numbers():
    """The four risks the ledger quotes (s = (1, 0.1), sigma = 1, n = 10, eta = 0.5)."""
    s = np.array([1.0, 0.1])
    a = R.early_stopping_vs_ridge(s, np.array([3.0, 0.3]), 1.0, 0.5, 4000, 10)
    b = R.early_stopping_vs_ridge(s, np.array([1.0, 1.0]), 1.0, 0.5, 4000, 10)
    assert (round(a["best_gd"], 4), round(a["best_ridge"], 4)) == (0.111, 0.1565)
    assert (round(b["best_gd"], 4), round(b["best_ridge"], 4)) == (0.15, 0.1409)


@pytest.mark.claim("d002.reg.q6-l2-dropout")
def test_dropout_zeroes_whole_columns_never_single_weights():
    """Dropout on a layer's inputs acts on its weight matrix as W diag(r): over all 2^3 masks
    of torch-style dropout (kernels.cpu.dropout.dropout on the identity) the induced weight
    mask is constant down each column, so DropConnect's mask (1, 0, 1; 0, 1, 1) never occurs,
    while kernels.cpu.dropout.dropconnect_linear draws masks that differ within a column."""
    import itertools

    from kernels.cpu.dropout import dropconnect_linear, dropout

    w = np.arange(1.0, 7.0).reshape(2, 3)
    induced = set()
    for r in itertools.product([0.0, 1.0], repeat=3):
        x = np.diag(r)  # columns of the identity, masked: the layer sees e_j * r_j
        # y_j = W (r_j e_j) / q: the weight mask seen by the layer is W diag(r) / q
        induced.add(tuple(((w @ x) != 0).astype(int).ravel()))
    assert all(len(set(np.array(m).reshape(2, 3)[:, j])) == 1 for m in induced for j in range(3))
    assert (1, 0, 1, 0, 1, 1) not in induced
    # the kernel's dropout on the inputs is the layer with weights W diag(mask) / q: a dropped
    # input zeroes its whole column, for every output at once
    x = np.random.default_rng(1).standard_normal((5, 3))
    for k in range(16):
        xd, mask = dropout(x, p=0.5, generator=np.random.default_rng(k), return_mask=True)
        per_sample_weights = w[None] * mask[:, None, :] / 0.5  # (batch, out, in)
        assert_close(xd @ w.T, np.einsum("bj,bij->bi", x, per_sample_weights), np.float64)
    # DropConnect does produce masks that differ within a column
    seen_split = False
    for k in range(64):
        _, m = dropconnect_linear(np.ones((1, 3)), w, p=0.5,
                                  generator=np.random.default_rng(k), return_mask=True)  # fmt: skip
        m = np.asarray(m).reshape(2, 3)
        seen_split |= any(m[0, j] != m[1, j] for j in range(3))
    assert seen_split
