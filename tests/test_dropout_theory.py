"""Dropout theory: masks and moments under both conventions, the ensemble (arithmetic mean,
NWGM, the gap), the regularizer, MC dropout vs the Bayesian posterior, stochastic depth,
DropBlock's exact drop rate, and 002's optimal-rate question.

Claims: theory/claims/dropout.yaml (``d000.drop.*``, ``d002.drop.*``). Theory: theory.dropout
(every ``derive_*`` and helper). References computed here independently: exact enumeration of
all masks with :class:`fractions.Fraction`, mpmath at 50 digits for the geometric means, and
float64 Monte-Carlo with Hoeffding intervals (``numerics.stats``, false-alarm probability
``FALSE_ALARM`` = 1e-6 per check, seeds drawn by hypothesis).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numerics.gradcheck import central_difference
from numerics.stats import FALSE_ALARM, hoeffding_halfwidth
from numerics.tolerances import assert_close
from theory import dropout as D

R = sympy.Rational
seeds = st.integers(0, 2**32 - 1)
fracs = st.builds(Fraction, st.integers(-12, 12), st.integers(1, 6))
drops = st.builds(lambda a, b: Fraction(a, a + b), st.integers(0, 9), st.integers(1, 9))  # [0,1)
keeps = st.builds(lambda a, b: Fraction(a, a + b), st.integers(1, 9), st.integers(0, 9))  # (0,1]


def S(f: Fraction) -> sympy.Rational:
    return R(f.numerator, f.denominator)


def F(v: sympy.Expr) -> Fraction:
    v = sympy.sympify(v)
    if not v.is_Rational:
        v = sympy.simplify(v)
    assert v.is_Rational, v
    return Fraction(int(v.p), int(v.q))


def masks(n: int):
    return itertools.product((0, 1), repeat=n)


def prob(mask, q: Fraction) -> Fraction:
    k = sum(mask)
    return q**k * (1 - q) ** (len(mask) - k)


# Masks and moments ------------------------------------------------------------------------


@pytest.mark.claim("d000.drop.mask", "d002.drop.mask-keep")
@given(p=drops)
def test_mask_distribution_in_both_conventions(p):
    assert D.mask_distribution(S(p)) == {0: S(p), 1: S(1 - p)}
    if p > 0:
        assert D.mask_distribution(S(p), "keep") == {0: S(1 - p), 1: S(p)}
    assert sum(D.mask_distribution(S(p)).values()) == 1


@pytest.mark.claim("d000.drop.mask")
@given(p=drops, y=fracs)
def test_mask_read_literally_gives_p_over_1_minus_p(p, y):
    # 000's mask literally: kept (value y/(1-p)) with probability p
    literal = p * y / (1 - p) + (1 - p) * 0
    assert F(D.literal_mask_expectation(S(y), S(p))) == literal
    assert (literal == y) == (y == 0 or p == Fraction(1, 2))
    d = D.derive_mask_literal()
    assert not d.agrees()
    assert sympy.simplify(d.derived.subs({sympy.Symbol("p", positive=True): R(1, 5)})) == (
        sympy.Symbol("y", real=True) / 4
    )


@pytest.mark.claim("d000.drop.mask")
@given(seed=seeds)
@settings(max_examples=10)
def test_mask_read_literally_monte_carlo_refutes_unbiasedness(seed):
    # p = 1/5, y = 1: literal E = 1/4; the interval around the sample mean excludes y = 1
    rng = np.random.default_rng(seed)
    n, p = 20000, 0.2
    vals = (rng.random(n) < p) / (1 - p)  # kept with probability p (literal), value 1/(1-p)
    h = hoeffding_halfwidth(n, 1 / (1 - p), FALSE_ALARM)
    assert abs(vals.mean() - 0.25) <= h
    assert abs(vals.mean() - 1.0) > h


@pytest.mark.claim("d000.drop.expectation")
@given(p=drops, y=fracs)
def test_inference_line_holds_only_at_one_half(p, y):
    lhs = (1 - p) * 0 + p * y / (1 - p)  # 000's line
    correct = p * 0 + (1 - p) * y / (1 - p)
    assert correct == y
    assert (lhs == y) == (y == 0 or p == Fraction(1, 2))
    d = D.derive_inference_line()
    assert not d.agrees()
    assert "[1/2]" in d.scope
    psym = sympy.Symbol("p", positive=True)
    assert F(d.derived.subs({psym: S(p), sympy.Symbol("y", real=True): S(y)})) == lhs


@pytest.mark.claim("d000.drop.scale-factor", "d002.drop.expected-value")
@given(p=drops, y=fracs)
def test_inverted_moments_by_enumeration(p, y):
    q = 1 - p
    mean = q * (y / q)
    second = q * (y / q) ** 2
    got = D.dropout_moments(S(y), S(p))
    assert (F(got[0]), F(got[1])) == (mean, second - mean**2) == (y, p / q * y**2)
    assert D.derive_inverted_moments().agrees()


@pytest.mark.claim("d000.drop.scale-factor")
@given(seed=seeds, p=st.sampled_from([0.1, 0.5, 0.8]))
@settings(max_examples=10)
def test_inverted_mean_monte_carlo(seed, p):
    rng = np.random.default_rng(seed)
    n, y = 20000, 1.5
    vals = (rng.random(n) >= p) * y / (1 - p)
    assert abs(vals.mean() - y) <= hoeffding_halfwidth(n, y / (1 - p), FALSE_ALARM)


@pytest.mark.claim("d000.drop.inference-scaled")
@given(p=drops, y=fracs)
def test_classic_scales_at_inference_inverted_does_not(p, y):
    q = 1 - p
    mean, var = D.dropout_moments(S(y), S(p), scaling="classic")
    assert (F(mean), F(var)) == (q * y, p * q * y**2)
    assert D.derive_classic_moments().agrees()  # inference q*y matches the training mean
    inv_mean, _ = D.dropout_moments(S(y), S(p))
    assert F(inv_mean) == y  # inverted: identity at inference
    if p > 0 and y != 0:
        assert F(mean) != F(inv_mean)  # the two conventions are not interchangeable


@pytest.mark.claim(
    "d002.drop.mask-keep", "d002.drop.expected-value", "d002.drop.inference-identity"
)
@given(q=keeps, x=fracs)
def test_keep_convention_is_the_drop_convention_with_q(q, x):
    keep = D.dropout_moments(S(x), S(q), convention="keep")
    assert keep == D.dropout_moments(S(x), S(1 - q)) if q < 1 else keep == (S(x), 0)
    assert F(keep[0]) == x and F(keep[1]) == (1 - q) / q * x**2
    assert D.derive_keep_convention().agrees()


@pytest.mark.claim("d002.drop.multiplicative-noise")
@given(p=drops, y=fracs)
@settings(max_examples=20)
def test_gaussian_dropout_matches_the_first_two_moments(p, y):
    assert D.gaussian_dropout_moments(S(y), S(p)) == D.dropout_moments(S(y), S(p))


@pytest.mark.claim("d000.drop.spatial")
@given(p=drops, ya=fracs, yb=fracs, ch=st.booleans(), sm=st.booleans())
def test_spatial_covariance_by_enumeration(p, ya, yb, ch, sm):
    q = 1 - p
    for reading in ("torch", "literal"):
        shared = ch and (sm or reading == "literal")
        if shared:  # one mask r: E[(r ya/q)(r yb/q)] - ya yb
            ref = q * (ya / q) * (yb / q) - ya * yb
        else:
            ref = Fraction(0)
        got = D.spatial_dropout_covariance(S(ya), S(yb), S(p), ch, sm, reading)
        assert F(got) == ref
    if ch and not sm and p > 0 and ya * yb != 0:  # the two readings differ across samples
        assert D.spatial_dropout_covariance(S(ya), S(yb), S(p), ch, sm, "torch") != (
            D.spatial_dropout_covariance(S(ya), S(yb), S(p), ch, sm, "literal")
        )


@pytest.mark.claim("d000.drop.dropconnect")
@given(
    p=drops,
    w=st.lists(st.lists(fracs, min_size=2, max_size=2), min_size=2, max_size=2),
    x=st.lists(fracs, min_size=2, max_size=2),
)
@settings(max_examples=30)
def test_dropconnect_and_dropout_moments_by_enumeration(p, w, x):
    q = 1 - p
    # DropConnect: 16 masks on the weights
    mean = [Fraction(0)] * 2
    second = [[Fraction(0)] * 2 for _ in range(2)]
    for m in masks(4):
        pr = prob(m, q)
        out = [sum(m[2 * i + j] * w[i][j] / q * x[j] for j in range(2)) for i in range(2)]
        for i in range(2):
            mean[i] += pr * out[i]
            for k in range(2):
                second[i][k] += pr * out[i] * out[k]
    got_mean, got_cov = D.dropconnect_moments(
        [[S(v) for v in r] for r in w], [S(v) for v in x], S(p)
    )
    for i in range(2):
        assert F(got_mean[i]) == mean[i] == sum(w[i][j] * x[j] for j in range(2))
        for k in range(2):
            assert F(got_cov[i, k]) == second[i][k] - mean[i] * mean[k]
    # dropout on the inputs: 4 masks shared by both rows
    dmean = [Fraction(0)] * 2
    dsecond = [[Fraction(0)] * 2 for _ in range(2)]
    for m in masks(2):
        pr = prob(m, q)
        out = [sum(w[i][j] * m[j] * x[j] / q for j in range(2)) for i in range(2)]
        for i in range(2):
            dmean[i] += pr * out[i]
            for k in range(2):
                dsecond[i][k] += pr * out[i] * out[k]
    dm, dc = D.dropout_linear_moments([[S(v) for v in r] for r in w], [S(v) for v in x], S(p))
    for i in range(2):
        assert F(dm[i]) == dmean[i]
        for k in range(2):
            assert F(dc[i, k]) == dsecond[i][k] - dmean[i] * dmean[k]
        assert F(dc[i, i]) == F(got_cov[i, i])  # same variances
    ref_off = p / q * sum(w[0][j] * w[1][j] * x[j] ** 2 for j in range(2))
    assert F(dc[0, 1]) == ref_off and F(got_cov[0, 1]) == 0
    assert D.derive_dropconnect_moments().agrees()


# The ensemble -----------------------------------------------------------------------------


@pytest.mark.claim("d000.drop.ensemble-count", "d002.drop.subnetworks")
@given(n=st.integers(0, 12), q=keeps)
def test_mask_count_is_two_to_the_n(n, q):
    all_ = D.all_masks(n)
    assert D.mask_count(n) == 2**n == len(all_) == len(set(all_))
    assert all(len(m) == n and set(m) <= {0, 1} for m in all_)
    if n <= 8:
        assert sum(prob(m, q) for m in all_) == 1
    nn = sympy.Symbol("n", integer=True, nonnegative=True)
    assert D.mask_count(nn) == 2**nn


@pytest.mark.claim("d000.drop.inference-ensemble", "d000.drop.review-ensemble")
@given(
    data=st.data(),
    n=st.integers(1, 4),
    k=st.integers(1, 3),
    q=keeps,
)
@settings(max_examples=30)
def test_weight_scaling_is_the_arithmetic_mean_for_affine_outputs(data, n, k, q):
    w = data.draw(st.lists(st.lists(fracs, min_size=n, max_size=n), min_size=k, max_size=k))
    x = data.draw(st.lists(fracs, min_size=n, max_size=n))
    b = data.draw(st.lists(fracs, min_size=k, max_size=k))
    ref = [Fraction(0)] * k
    for m in masks(n):
        pr = prob(m, q)
        for i in range(k):
            ref[i] += pr * (sum(w[i][j] * m[j] * x[j] / q for j in range(n)) + b[i])
    got = D.ensemble_predictions(
        [[S(v) for v in r] for r in w], [S(v) for v in x], S(q), "identity", [S(v) for v in b]
    )
    assert [F(v) for v in got["arithmetic"]] == ref
    assert [F(v) for v in got["weight_scaling"]] == [
        sum(w[i][j] * x[j] for j in range(n)) + b[i] for i in range(k)
    ]
    assert got["nwgm"] is None


@pytest.mark.claim("d000.drop.inference-ensemble", "d002.drop.geometric-mean")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_weight_scaling_derivations_agree(n):
    assert D.derive_weight_scaling_linear(n).agrees()
    assert D.derive_weight_scaling_softmax(n).agrees()
    assert D.derive_weight_scaling_sigmoid(n).agrees()


def _mp(v: Fraction) -> mpmath.mpf:
    return mpmath.mpf(v.numerator) / v.denominator


@pytest.mark.claim("d002.drop.geometric-mean", "d000.drop.review-ensemble")
@given(data=st.data(), n=st.integers(1, 4), k=st.integers(2, 3), q=keeps)
@settings(max_examples=25)
def test_nwgm_equals_weight_scaling_for_softmax_and_sigmoid(data, n, k, q):
    w = data.draw(st.lists(st.lists(fracs, min_size=n, max_size=n), min_size=k, max_size=k))
    x = data.draw(st.lists(fracs, min_size=n, max_size=n))
    with mpmath.workdps(50):
        geo = [mpmath.mpf(1)] * k
        arith = [mpmath.mpf(0)] * k
        for m in masks(n):
            pr = _mp(prob(m, q))
            z = [sum(_mp(w[i][j] * m[j] * x[j] / q) for j in range(n)) for i in range(k)]
            e = [mpmath.exp(v) for v in z]
            s = [v / sum(e) for v in e]
            geo = [g * s[i] ** pr for i, g in enumerate(geo)]
            arith = [a + pr * s[i] for i, a in enumerate(arith)]
        nwgm = [g / sum(geo) for g in geo]
        zbar = [sum(_mp(w[i][j] * x[j]) for j in range(n)) for i in range(k)]
        ws = [mpmath.exp(v) / sum(mpmath.exp(u) for u in zbar) for v in zbar]
        assert max(abs(a - b) for a, b in zip(nwgm, ws, strict=True)) < mpmath.mpf(10) ** -40
        got = D.ensemble_predictions(
            [[S(v) for v in r] for r in w], [S(v) for v in x], S(q), "softmax"
        )
        for i in range(k):
            assert abs(sympy.N(got["nwgm"][i], 50) - sympy.Float(str(ws[i]), 50)) < 1e-40
            assert abs(sympy.N(got["arithmetic"][i], 50) - sympy.Float(str(arith[i]), 50)) < 1e-40
        sig = D.ensemble_predictions([[S(v) for v in w[0]]], [S(v) for v in x], S(q), "sigmoid")
        assert abs(sympy.N(sig["nwgm"][0] - sig["weight_scaling"][0], 50)) < 1e-40


@pytest.mark.claim("d000.drop.inference-ensemble", "d002.drop.geometric-mean")
@given(t=st.fractions(min_value=Fraction(1, 100), max_value=1000))
def test_relu_in_between_makes_the_gap_unbounded(t):
    # sub-networks relu(2 t r - t), r ~ Bernoulli(1/2): ensemble t/2, weight scaling 0
    ens = Fraction(1, 2) * max(t, 0) + Fraction(1, 2) * max(-t, 0)
    ws = max(2 * t * Fraction(1, 2) - t, 0)
    assert ens - ws == t / 2
    d = D.derive_ensemble_gap()
    assert not d.agrees()
    assert d.derived.subs(sympy.Symbol("t", positive=True), S(t)) == S(ens)
    assert d.claimed == S(ws)


@pytest.mark.claim("d002.drop.geometric-mean", "d000.drop.review-ensemble")
def test_arithmetic_mean_differs_from_nwgm():
    d = D.derive_arithmetic_vs_geometric()
    assert not d.agrees()
    a = sympy.Symbol("a", positive=True)
    arith, geo = float(d.derived.subs(a, 1)), float(d.claimed.subs(a, 1))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    assert arith == pytest.approx((sig(2.0) + 0.5) / 2, rel=1e-14)
    assert geo == pytest.approx(sig(1.0), rel=1e-14)
    assert round(arith, 4) == 0.6904 and round(geo, 4) == 0.7311


# Regularization ---------------------------------------------------------------------------


@pytest.mark.claim(
    "d000.drop.regularizer", "d002.drop.multiplicative-noise", "d000.drop.review-regularization"
)
@given(data=st.data(), n=st.integers(1, 4), p=drops, y=fracs)
@settings(max_examples=30)
def test_expected_loss_is_loss_plus_data_dependent_ridge(data, n, p, y):
    w = data.draw(st.lists(fracs, min_size=n, max_size=n))
    x = data.draw(st.lists(fracs, min_size=n, max_size=n))
    q = 1 - p
    ref = sum(
        prob(m, q) * (y - sum(w[j] * m[j] * x[j] / q for j in range(n))) ** 2 for m in masks(n)
    )
    closed = (y - sum(a * b for a, b in zip(w, x, strict=True))) ** 2 + p / q * sum(
        a**2 * b**2 for a, b in zip(w, x, strict=True)
    )
    assert ref == closed
    args = ([S(v) for v in w], [S(v) for v in x], S(y), S(p))
    assert F(D.dropout_expected_loss(*args)) == ref
    assert F(D.dropout_expected_loss(*args, noise="gaussian")) == ref


@pytest.mark.claim("d000.drop.regularizer", "d000.drop.review-regularization")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_ridge_derivation(n):
    assert D.derive_dropout_ridge(n).agrees()


@pytest.mark.claim("d000.drop.objective", "d002.drop.expected-performance")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_unbiased_gradient_derivation(n):
    assert D.derive_unbiased_gradient(n).agrees()


@pytest.mark.claim("d002.drop.expected-performance", "d000.drop.objective")
@given(seed=seeds, n=st.integers(1, 5), p=st.sampled_from([0.1, 0.5, 0.7]))
@settings(max_examples=20)
def test_mean_one_mask_gradient_is_the_gradient_of_the_expected_loss(seed, n, p):
    rng = np.random.default_rng(seed)
    w, x, y, q = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(), 1 - p
    all_ = [np.array(m, float) for m in masks(n)]
    probs = [q ** m.sum() * p ** (n - m.sum()) for m in all_]

    def expected(v):
        return sum(pr * (y - v @ (m * x) / q) ** 2 for pr, m in zip(probs, all_, strict=True))

    mean_grad = sum(
        pr * (-2 * (y - w @ (m * x) / q)) * m * x / q for pr, m in zip(probs, all_, strict=True)
    )
    fd = central_difference(lambda v: np.asarray(expected(v)), w, np.asarray(1.0))
    assert_close(mean_grad, fd, np.float64)


@pytest.mark.claim("d000.drop.mc-estimates")
@given(data=st.data(), n=st.integers(1, 4), p=drops)
@settings(max_examples=30)
def test_mc_dropout_moments_by_enumeration(data, n, p):
    w = data.draw(st.lists(fracs, min_size=n, max_size=n))
    x = data.draw(st.lists(fracs, min_size=n, max_size=n))
    q = 1 - p
    vals = [(prob(m, q), sum(w[j] * m[j] * x[j] / q for j in range(n))) for m in masks(n)]
    mean = sum(pr * v for pr, v in vals)
    var = sum(pr * v**2 for pr, v in vals) - mean**2
    got = D.mc_dropout_moments([S(v) for v in w], [S(v) for v in x], S(p))
    assert (F(got[0]), F(got[1])) == (mean, var)
    assert var == p / q * sum(a**2 * b**2 for a, b in zip(w, x, strict=True))


@pytest.mark.claim("d000.drop.mc-estimates")
@given(seed=seeds)
@settings(max_examples=10)
def test_mc_dropout_sample_mean_and_variance_monte_carlo(seed):
    # T passes of f_r(x) = w.(r*x)/q; values lie in [lo, hi]; mean and E[f^2] by Hoeffding
    rng = np.random.default_rng(seed)
    w, x, p = np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, 2.0]), 0.3
    q, t = 1 - p, 20000
    r = rng.random((t, 3)) >= p
    f = (r * w * x).sum(1) / q
    mean, var = D.mc_dropout_moments(w.tolist(), x.tolist(), p)
    lo = min(0.0, *(w * x / q)) * 3
    hi = max(0.0, *(w * x / q)) * 3
    h1 = hoeffding_halfwidth(t, hi - lo, FALSE_ALARM / 2)
    h2 = hoeffding_halfwidth(t, max(lo**2, hi**2), FALSE_ALARM / 2)
    assert abs(f.mean() - float(mean)) <= h1
    assert abs((f**2).mean() - float(var + mean**2)) <= h2


@pytest.mark.claim("d000.drop.bayesian", "d000.drop.review-regularization")
@given(p=st.builds(Fraction, st.integers(1, 9), st.just(10)), n=st.integers(1, 10**6))
@settings(max_examples=30)
def test_mc_dropout_variance_does_not_shrink_but_posterior_does(p, n):
    q = 1 - p
    beta, x, s2 = [R(1), R(-2)], [R(3), R(1, 2)], R(1)
    mc = D.mc_dropout_expected_variance(n, S(p), s2, beta, x)
    ref = (
        p * q * sum((F(b) ** 2 + Fraction(1, n)) * F(v) ** 2 for b, v in zip(beta, x, strict=True))
    )
    assert F(mc) == ref
    floor = p * q * sum(F(b) ** 2 * F(v) ** 2 for b, v in zip(beta, x, strict=True))
    assert F(mc) > floor > 0  # never below p q sum beta^2 x^2, however large n
    bayes = D.bayes_predictive_variance(n, 2, s2, 1, sum(v**2 for v in x))
    assert F(bayes) == sum(F(v) ** 2 for v in x) / (n + 2)
    if n >= 10**5:
        assert F(bayes) < floor  # the posterior's spread vanishes, MC dropout's does not
    d = D.derive_mc_dropout_variance()
    assert not d.agrees() and d.claimed == 0
    assert d.derived != 0


@pytest.mark.claim("d000.drop.bayesian")
@given(seed=seeds, n=st.sampled_from([8, 64]))
@settings(max_examples=10)
def test_dropout_regression_is_ridge_with_lambda_np_over_q(seed, n):
    # minimize sum_i E_r (y_i - w.(r*x_i)/q)^2 = ||y - Xw||^2 + (p/q) sum_j w_j^2 ||X_j||^2
    rng = np.random.default_rng(seed)
    d, p = 3, 0.4
    q = 1 - p
    xmat = np.linalg.qr(rng.standard_normal((n, d)))[0] * np.sqrt(n)  # X^T X = n I
    y = xmat @ rng.standard_normal(d) + rng.standard_normal(n)
    gram = xmat.T @ xmat + p / q * np.diag((xmat**2).sum(0))
    w = np.linalg.solve(gram, xmat.T @ y)
    assert_close(w, q * xmat.T @ y / n, np.float64)
    lam = float(n * p / q)
    assert_close(w, np.linalg.solve(xmat.T @ xmat + lam * np.eye(d), xmat.T @ y), np.float64)


# Stochastic depth -------------------------------------------------------------------------


def _torchvision_drop(schedule: str, n: int, rate: float) -> list[float]:
    """The sources' own expressions (pytorch/vision convnext.py, efficientnet.py; timm)."""
    if schedule == "convnext":
        return [rate * i / (n - 1.0) for i in range(n)]
    if schedule == "efficientnet":
        return [rate * float(i) / n for i in range(n)]
    return [v.item() for v in torch.linspace(0, rate, n, dtype=torch.float64)]


@pytest.mark.claim("d000.drop.stochastic-depth-skip", "d000.drop.stochastic-depth-time")
@given(n=st.integers(1, 60), rate=st.builds(Fraction, st.integers(0, 10), st.just(10)))
def test_survival_schedules_match_the_sources_and_closed_forms(n, rate):
    r = S(rate)
    for sched in D.SCHEDULES:
        if sched == "convnext" and n == 1:
            with pytest.raises(ValueError, match="num_blocks"):
                D.survival_schedule(n, sched, r)
            continue
        surv = D.survival_schedule(n, sched, r)
        assert len(surv) == n and all(0 <= v <= 1 for v in surv)
        assert D.expected_active_blocks(n, sched, r) == sum(surv)
        if sched in ("convnext", "efficientnet", "timm"):
            ref = _torchvision_drop(sched, n, float(rate))
            assert np.allclose([1 - float(v) for v in surv], ref, rtol=0, atol=1e-15)
    huang = D.survival_schedule(n, "linear", r)
    assert huang == [1 - R(l_, n) * r for l_ in range(1, n + 1)]  # p_l = 1 - (l/L)(1 - p_L)
    assert huang[-1] == 1 - r  # p_L
    assert D.survival_schedule(n, "constant", r) == [1 - r] * n


@pytest.mark.claim("d000.drop.stochastic-depth-time")
def test_huang_110_layer_expected_depth_and_compute():
    assert D.expected_active_blocks(54, "linear", R(1, 2)) == R(161, 4)
    assert D.expected_compute_fraction(54, "linear", R(1, 2)) == R(161, 216)
    assert D.expected_compute_fraction(54, "linear", R(1, 2), skips_dropped=False) == 1
    assert D.derive_expected_depth().agrees()
    big_l = sympy.Symbol("L", integer=True, positive=True)
    assert D.expected_active_blocks(big_l, "linear", R(1, 2)) == (3 * big_l - 1) / 4


@pytest.mark.claim("d000.drop.stochastic-depth-time", "d000.drop.stochastic-depth-skip")
@given(seed=seeds, n=st.integers(1, 30))
@settings(max_examples=10)
def test_number_of_active_blocks_distribution_and_monte_carlo(seed, n):
    surv = D.survival_schedule(n, "linear", R(1, 2))
    dist = D.active_blocks_distribution(surv)
    assert sum(dist.values()) == 1 and all(v >= 0 for v in dist.values())
    assert sum(k * v for k, v in dist.items()) == sum(surv)
    rng = np.random.default_rng(seed)
    t = 4000
    counts = (rng.random((t, n)) < np.array([float(v) for v in surv])).sum(1)
    assert abs(counts.mean() - float(sum(surv))) <= hoeffding_halfwidth(t, n, FALSE_ALARM)


@pytest.mark.claim("d000.drop.stochastic-depth-gradient")
@given(seed=seeds, width=st.integers(1, 4))
@settings(max_examples=20)
def test_dropped_block_has_identity_jacobian(seed, width):
    assert D.derive_stochastic_depth_gradient().agrees()
    rng = np.random.default_rng(seed)
    w, x = rng.standard_normal((width, width)), rng.standard_normal(width)
    for b in (0.0, 1.0):

        def block(v, b=b):
            return v + b * np.tanh(w @ v)

        jac = np.stack(
            [central_difference(block, x, np.eye(width)[i]) for i in range(width)]
        )  # row i: gradient of output i
        ref = np.eye(width) + b * (1 - np.tanh(w @ x) ** 2)[:, None] * w
        assert_close(jac, ref, np.float64)  # b = 0: exactly the identity matrix


# DropBlock --------------------------------------------------------------------------------


def _brute_coverage(h: int, w: int, bs: int) -> np.ndarray:
    cov = np.zeros((h, w), int)
    for a in range(h - bs + 1):
        for b in range(w - bs + 1):
            cov[a : a + bs, b : b + bs] += 1
    return cov


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(h=st.integers(1, 12), w=st.integers(1, 12), bs=st.integers(1, 12))
def test_coverage_counts_match_brute_force(h, w, bs):
    assume(bs <= min(h, w))
    cov = _brute_coverage(h, w, bs)
    ch, cw = D.dropblock_coverage(h, bs), D.dropblock_coverage(w, bs)
    np.testing.assert_array_equal(np.outer(ch, cw), cov)
    assert sum(ch) == bs * (h - bs + 1)
    assert max(ch) == min(bs, h - bs + 1) and ch[0] == 1


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    bs=st.integers(1, 5),
    keep=st.builds(Fraction, st.integers(80, 99), st.just(100)),
)
@settings(max_examples=40)
def test_dropblock_rates_below_the_request_and_smaller_at_borders(h, w, bs, keep):
    assume(bs <= min(h, w))
    positions = (h - bs + 1) * (w - bs + 1)
    gamma = (1 - keep) / bs**2 * Fraction(h * w, positions)
    assert gamma <= 1 - keep  # b(S-b+1) >= S on each axis
    assert F(D.dropblock_gamma(S(keep), bs, h, w)) == gamma
    cov = _brute_coverage(h, w, bs)
    probs = D.dropblock_drop_probability(S(keep), bs, h, w)
    ref = [[1 - (1 - gamma) ** int(cov[i, j]) for j in range(w)] for i in range(h)]
    assert [[F(probs[i, j]) for j in range(w)] for i in range(h)] == ref
    frac = F(D.dropblock_expected_fraction(S(keep), bs, h, w))
    assert frac == sum(map(sum, ref)) / (h * w)
    if bs >= 2 and positions > 1:
        assert frac < 1 - keep  # strictly below the request
        assert F(probs[0, 0]) == gamma < F(probs[h // 2, w // 2])
        g_star = D.dropblock_matching_gamma(S(keep), bs, h, w)
        assert sympy.N(g_star, 30) > gamma
        at_star = D.dropblock_expected_fraction(S(keep), bs, h, w, gamma=sympy.N(g_star, 60))
        assert abs(sympy.N(at_star, 50) - S(1 - keep)) < 1e-40
    else:
        assert frac == 1 - keep  # every pixel covered once: exact


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(seed=seeds)
@settings(max_examples=10)
def test_dropblock_fraction_monte_carlo(seed):
    # keep 1/2, block 7 on 14x14: seeds Bernoulli(gamma) where the block fits, dilated
    keep, bs, h = R(1, 2), 7, 14
    gamma = float(D.dropblock_gamma(keep, bs, h, h))
    exact = float(D.dropblock_expected_fraction(keep, bs, h, h))
    rng = np.random.default_rng(seed)
    t = 3000
    seeds_ = rng.random((t, h - bs + 1, h - bs + 1)) < gamma
    dropped = np.zeros((t, h, h), bool)
    for a in range(h - bs + 1):
        for b in range(h - bs + 1):
            dropped[:, a : a + bs, b : b + bs] |= seeds_[:, a, b][:, None, None]
    fr = dropped.mean((1, 2))
    hw = hoeffding_halfwidth(t, 1.0, FALSE_ALARM)
    assert abs(fr.mean() - exact) <= hw
    assert abs(fr.mean() - 0.5) > hw  # the request is not met
    assert D.derive_dropblock_fraction().agrees() is False


@pytest.mark.claim("d000.drop.dropblock-correlated")
@given(
    data=st.data(),
    h=st.integers(1, 8),
    w=st.integers(1, 8),
    bs=st.integers(1, 4),
    keep=st.builds(Fraction, st.integers(50, 99), st.just(100)),
)
@settings(max_examples=40)
def test_dropblock_drop_indicators_are_positively_correlated_within_a_block(data, h, w, bs, keep):
    assume(bs <= min(h, w))
    a = (data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1)))
    b = (data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1)))
    gamma = (1 - keep) / bs**2 * Fraction(h * w, (h - bs + 1) * (w - bs + 1))
    positions = [(i, j) for i in range(h - bs + 1) for j in range(w - bs + 1)]

    def covering(px):
        return {(i, j) for i, j in positions if i <= px[0] < i + bs and j <= px[1] < j + bs}

    ca, cb = covering(a), covering(b)
    kept_a, kept_b = (1 - gamma) ** len(ca), (1 - gamma) ** len(cb)
    both_kept = (1 - gamma) ** len(ca | cb)
    # Cov of drop indicators = Cov of keep indicators
    ref = both_kept - kept_a * kept_b
    got = D.dropblock_pair_covariance(S(keep), bs, h, w, a, b)
    assert F(got) == ref
    overlap = abs(a[0] - b[0]) < bs and abs(a[1] - b[1]) < bs and bool(ca & cb)
    assert (ref > 0) == overlap and ref >= 0
    if a == b:
        assert ref == kept_a * (1 - kept_a)  # the Bernoulli variance


# 002 review question 7 ---------------------------------------------------------------------


@pytest.mark.claim("d002.drop.review-optimal-p")
@given(c=st.fractions(min_value=Fraction(1, 100), max_value=100))
def test_log_law_is_not_a_probability(c):
    assert D.log_law_rate(1, 2, S(c)) < 0
    assert sympy.simplify(D.log_law_rate(sympy.exp(2 / S(c)), 1, S(c))) == 2
    assert D.log_law_rate(7, 7, S(c)) == 0
    d = D.derive_log_law()
    assert not d.agrees() and d.derived == R(1, 2)


@pytest.mark.claim("d002.drop.review-optimal-p", "d002.drop.review-capacity")
@given(
    n=st.integers(1, 1000),
    d=st.integers(1, 1000),
    s2=st.fractions(min_value=Fraction(1, 10), max_value=10),
    a2=st.fractions(min_value=Fraction(1, 10), max_value=10),
    other=st.fractions(min_value=0, max_value=Fraction(99, 100)),
)
def test_optimal_rate_minimizes_the_risk_and_grows_with_capacity(n, d, s2, a2, other):
    pstar = F(D.optimal_dropout_rate(n, d, S(s2), S(a2)))
    assert pstar == s2 * d / (s2 * d + n * a2) and 0 < pstar < 1

    def risk(p):  # independent: E||q(beta + eta) - beta||^2
        return p**2 * a2 + (1 - p) ** 2 * d * s2 / n

    assert F(D.ridge_bayes_risk(S(other), n, d, S(s2), S(a2))) == risk(other)
    assert risk(pstar) <= risk(other)
    assert F(D.optimal_dropout_rate(n, d + 1, S(s2), S(a2))) > pstar  # more capacity
    assert F(D.optimal_dropout_rate(n + 1, d, S(s2), S(a2))) < pstar  # more data
    assert F(D.optimal_dropout_rate(n, d, S(2 * s2), S(a2))) > pstar  # more noise
    assert D.derive_optimal_rate().agrees()


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    bs=st.integers(1, 9),
    keep=st.sampled_from([sympy.Rational(1, 2), sympy.Rational(9, 10), sympy.Rational(3, 4)]),
)
def test_exact_dropblock_rates_agree_with_the_float_twin_in_numerics(hw, bs, keep):
    """theory.dropout.dropblock_drop_probability (exact, keep_prob as in Ghiasi et al.) and
    numerics.dropout_experiments.dropblock_drop_probability (float64, p = 1 - keep as in
    torchvision, used for the figures) are two implementations of one formula: their per-pixel
    probabilities, coverage and mean fraction must agree to float64 rounding."""
    from numerics.dropout_experiments import dropblock_drop_probability as float_twin

    h, w = hw
    assume(bs <= min(h, w))
    exact = D.dropblock_drop_probability(keep, bs, h, w)
    twin = float_twin(h, w, bs, float(1 - keep))
    assert_close(twin["probability"], np.array(exact.tolist(), dtype=np.float64), np.float64)
    assert_close(twin["fraction"], float(D.dropblock_expected_fraction(keep, bs, h, w)), np.float64)
    assert_close(twin["gamma"], float(D.dropblock_gamma(keep, bs, h, w)), np.float64)
