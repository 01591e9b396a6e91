"""Initialization and variance propagation: theory ⇄ NumPy initializers ⇄ torch.nn.init.

Claims: theory/claims/init.yaml. Helpers: theory.init. Kernels: kernels.cpu.init, mlp.

Every statistical check uses a rigorous interval from numerics.stats with false-alarm
probability ``FALSE_ALARM`` = 1e-6 per check (stated again in each docstring); seeds are
drawn by hypothesis, so a failure is reproducible from the printed example.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.stats import Normal, variance

from kernels.cpu import init as kinit
from kernels.cpu.linear import linear, linear_backward
from kernels.cpu.mlp import mlp_backward, mlp_forward
from numerics.stats import (
    FALSE_ALARM,
    chi2_interval,
    gaussian_lipschitz_halfwidth,
    hoeffding_halfwidth,
    relu_second_moment_interval,
)
from theory import init as th

seeds = st.integers(0, 2**32 - 1)
few = settings(max_examples=4)


def _chi2_ok(sum_sq_over_var: float, k: int) -> bool:
    lo, hi = chi2_interval(k, FALSE_ALARM)
    return lo <= sum_sq_over_var <= hi


def _linear_map_ok(out: np.ndarray, inp: np.ndarray, var_w: float) -> bool:
    """Given a fixed input vector, every output of a Gaussian linear map with i.i.d. N(0, var_w)
    weights is N(0, var_w ||inp||^2), independently: sum out^2 / (var_w ||inp||^2) ~ chi2_len(out).
    True when the statistic is in the interval (false alarm 1e-6)."""
    return _chi2_ok(float(out @ out) / (var_w * float(inp @ inp)), out.size)


def _torch_sample(fn, shape, seed, **kw) -> np.ndarray:
    torch.manual_seed(seed % 2**63)
    w = torch.empty(*shape, dtype=torch.float64)
    fn(w, **kw)
    return w.numpy()


# --------------------------------------------------------------------------- linear unit


@pytest.mark.claim("d002.init.linear-output-variance")
def test_linear_output_variance_derivation_and_counterexample():
    d = th.derive_linear_output_variance()
    assert d.agrees(), d.to_markdown()
    assert th.linear_output_variance(1, 1, 0, mean_x=1) == 1  # x = 1: Var[y] = 1, formula 0
    n, vw = sympy.symbols("n v_w", positive=True)
    relu = th.relu_moments(1)
    general = th.linear_output_variance(n, vw, relu["variance"], mean_x=relu["mean"])
    assert sympy.simplify(general - n * vw * relu["second_moment"]) == 0


rationals = st.fractions(min_value=-3, max_value=3, max_denominator=7).map(
    lambda f: sympy.Rational(f.numerator, f.denominator)
)
spreads = st.fractions(min_value=0, max_value=2, max_denominator=5).map(
    lambda f: sympy.Rational(f.numerator, f.denominator)
)


@pytest.mark.claim("d002.init.linear-output-variance")
@given(n=st.integers(1, 3), mw=rationals, mx=rationals, s=spreads, t=spreads)
def test_general_linear_output_variance_exactly_by_enumeration(n, mw, mx, s, t):
    """Var[sum_j w_j x_j] with every w_j = mw +- s and x_j = mx +- t (independent fair signs):
    the 4^n outcomes enumerated in exact rationals give the variance, which must equal the
    general formula n (s^2 t^2 + s^2 mx^2 + mw^2 t^2) for any means (the mean terms
    included: the zero-mean document formula is only the first term)."""
    outcomes = [
        sum((mw + a * s) * (mx + b * t) for a, b in zip(signs[:n], signs[n:], strict=True))
        for signs in itertools.product((-1, 1), repeat=2 * n)
    ]
    mean = sympy.Rational(sum(outcomes), len(outcomes))
    var = sympy.Rational(sum((y - mean) ** 2 for y in outcomes), len(outcomes))
    assert th.linear_output_variance(n, s**2, t**2, mw, mx) == var


@pytest.mark.claim("d002.init.linear-output-variance")
def test_general_linear_output_variance_against_sympy_stats():
    """One product of independent Normal random symbols with symbolic means and standard
    deviations: ``sympy.stats.variance`` equals the formula with n = 1 (the n terms of the
    sum are independent, so n of them give n times; the enumeration test checks n > 1)."""
    mw_, mx_ = sympy.symbols("m_w m_x", real=True)
    sw_, sx_ = sympy.symbols("s_w s_x", positive=True)
    exact = variance(Normal("w", mw_, sw_) * Normal("x", mx_, sx_))
    formula = th.linear_output_variance(1, sw_**2, sx_**2, mw_, mx_)
    assert sympy.expand(exact - formula) == 0
    n = sympy.Symbol("n", integer=True, positive=True)
    assert sympy.expand(th.linear_output_variance(n, sw_**2, sx_**2, mw_, mx_) - n * formula) == 0


@pytest.mark.claim("d002.init.linear-output-variance")
@few
@given(seed=seeds, mw=st.sampled_from([1.0, 2.0, 3.0]), mx=st.sampled_from([1.5, 2.0]))
def test_general_linear_output_variance_monte_carlo(seed, mw, mx):
    """y = w_1 x_1 + w_2 x_2, w ~ U(mw +- 1), x ~ U(mx +- 1) independent (variances 1/3),
    M = 4e6 draws. y and y^2 are bounded, so Hoeffding intervals (false alarm 5e-7 each, 1e-6
    together) bound E[y] and E[y^2], hence Var[y]; the formula lies inside and the formulas
    without the mean terms (or with mw instead of mw^2) lie outside."""
    rng = np.random.default_rng(seed)
    m, n = 4_000_000, 2
    w = rng.uniform(mw - 1, mw + 1, (m, n))
    x = rng.uniform(mx - 1, mx + 1, (m, n))
    y = np.einsum("ij,ij->i", w, x)
    lo, hi = n * (mw - 1) * (mx - 1), n * (mw + 1) * (mx + 1)  # w, x >= 0 here
    t1 = hoeffding_halfwidth(m, hi - lo, FALSE_ALARM / 2)
    t2 = hoeffding_halfwidth(m, hi**2 - lo**2, FALSE_ALARM / 2)
    m1, m2 = float(y.mean()), float(np.mean(y * y))
    var_lo = (m2 - t2) - (m1 + t1) ** 2
    var_hi = (m2 + t2) - max(m1 - t1, 0.0) ** 2
    v = 1 / 3
    formula = float(th.linear_output_variance(n, v, v, mw, mx))
    assert math.isclose(formula, n * (v * v + v * mx**2 + mw**2 * v), rel_tol=1e-12)
    assert var_lo <= formula <= var_hi
    for wrong in (
        n * v * v,  # the document's zero-mean formula
        n * (v * v + v * mx**2),  # mean of w dropped
        n * (v * v + mw**2 * v),  # mean of x dropped
        n * (v * v + v * mx + mw * v),  # means not squared
    ):
        assert not var_lo <= wrong <= var_hi, wrong


@pytest.mark.claim("d002.init.linear-output-variance", "d002.init.relu-reduction-half")
@few
@given(seed=seeds)
def test_output_variance_uses_second_moment_of_relu_inputs(seed):
    """Given x = relu(z) (fixed), y = Wx with W ~ N(0, 1/n): sum y_i^2 / (||x||^2/n) ~ chi2_m.

    False-alarm probability 1e-6 per interval (three intervals).
    """
    rng = np.random.default_rng(seed)
    n, m = 50, 200_000
    x = np.maximum(rng.standard_normal(n), 0)
    w = rng.standard_normal((m, n)) / math.sqrt(n)
    y = linear(x[None, :], w)[0]
    assert _linear_map_ok(y, x, 1 / n)  # Var[y_i | x] = sigma_w^2 ||x||^2
    cond_var = float(x @ x) / n
    # the document's n Var[w] Var[x] uses the spread of x, not its second moment: reject it
    doc_var = float(np.var(x))
    assert not _chi2_ok(float(y @ y) / doc_var, m) or math.isclose(doc_var, cond_var, rel_tol=0.05)


@pytest.mark.claim("d002.init.forward-condition")
@few
@given(seed=seeds)
def test_forward_condition_preserves_variance_of_zero_mean_inputs(seed):
    """Var[w] = 1/n, zero-mean x: Var[y | x] = ||x||^2/n, chi2_m. False alarm 1e-6."""
    rng = np.random.default_rng(seed)
    n, m = 64, 100_000
    x = rng.standard_normal(n) * 3.0
    w = kinit.he_normal((m, n), rng, negative_slope=1.0)  # gain 1: std 1/sqrt(fan_in)
    y = linear(x[None, :], w)[0]
    assert _linear_map_ok(y, x, 1 / n)
    # counterexample: x = 1 (variance 0) still gives Var[y] = 1
    y1 = linear(np.ones((1, n)), w)[0]
    assert _linear_map_ok(y1, np.ones(n), 1 / n)


@pytest.mark.claim("d002.init.backward-condition")
@few
@given(seed=seeds)
def test_backward_condition_with_fan_out_variance(seed):
    """dL/dx = W^T g with Var[w] = 1/fan_out: Var[dx_j | g] = ||g||^2/fan_out, chi2. 1e-6."""
    rng = np.random.default_rng(seed)
    fan_out, fan_in = 40, 150_000
    g = rng.standard_normal((1, fan_out))
    w = kinit.he_normal((fan_out, fan_in), rng, negative_slope=1.0, mode="fan_out")
    dx, _, _ = linear_backward(g, np.zeros((1, fan_in)), w)
    assert _linear_map_ok(dx[0], g[0], 1 / fan_out)
    wt = _torch_sample(
        torch.nn.init.kaiming_normal_,
        (fan_out, fan_in),
        seed,
        mode="fan_out",
        nonlinearity="linear",
    )
    assert _linear_map_ok(g[0] @ wt, g[0], 1 / fan_out)


# --------------------------------------------------------------------------- Xavier


@pytest.mark.claim("d002.init.xavier-compromise", "d002.init.xavier-uniform")
def test_xavier_derivation():
    d = th.derive_xavier()
    assert d.agrees(), d.to_markdown()
    fi, fo = sympy.symbols("fan_in fan_out", integer=True, positive=True)
    forward, backward = 1 / fi, 1 / fo  # the two conditions
    harmonic = 2 / (1 / forward + 1 / backward)
    assert sympy.simplify(harmonic - th.xavier_variance(fi, fo)) == 0


fans = st.tuples(st.integers(100, 400), st.integers(100, 400))


@pytest.mark.claim("d002.init.xavier-uniform", "d002.init.xavier-compromise")
@few
@given(f=fans, seed=seeds, source=st.sampled_from(["ours", "torch"]))
def test_xavier_uniform_bound_and_variance(f, seed, source):
    """Never beyond a; max |w| >= a(1 - eps) (false alarm 1e-6); mean w^2 within Hoeffding of
    a^2/3 (false alarm 1e-6)."""
    fi, fo = f
    shape = (fo, fi)
    w = (
        kinit.xavier_uniform(shape, np.random.default_rng(seed))
        if source == "ours"
        else _torch_sample(torch.nn.init.xavier_uniform_, shape, seed)
    )
    a = float(th.xavier_uniform_bound(fi, fo))
    n = w.size
    assert np.abs(w).max() <= a
    eps = 1 - FALSE_ALARM ** (1 / n)  # P(all |w| < a(1-eps)) = (1-eps)^n = 1e-6
    assert np.abs(w).max() >= a * (1 - eps)
    assert abs(float(np.mean(w**2)) - float(th.xavier_variance(fi, fo))) <= hoeffding_halfwidth(
        n, a * a
    )


@pytest.mark.claim("d002.init.xavier-normal", "d002.init.xavier-compromise")
@few
@given(f=fans, seed=seeds, source=st.sampled_from(["ours", "torch"]))
def test_xavier_normal_std_reading_holds_variance_reading_fails(f, seed, source):
    """sum w^2 / sigma^2 ~ chi2_N with sigma^2 = 2/(fi+fo): in the interval (false alarm 1e-6);
    with the variance reading sigma^2 = sqrt(2/(fi+fo)) the same statistic falls outside."""
    fi, fo = f
    w = (
        kinit.xavier_normal((fo, fi), np.random.default_rng(seed))
        if source == "ours"
        else _torch_sample(torch.nn.init.xavier_normal_, (fo, fi), seed)
    )
    ss = float(np.sum(w**2))
    std = float(th.xavier_normal_std(fi, fo))
    assert _chi2_ok(ss / std**2, w.size)
    assert not _chi2_ok(ss / std, w.size)  # variance reading: variance = std
    # minimal counterexample of the variance reading, exactly
    assert th.xavier_normal_std(2, 2) ** 2 == sympy.Rational(1, 2) != th.xavier_normal_std(2, 2)


# --------------------------------------------------------------------------- ReLU moments


@pytest.mark.claim(
    "d002.init.relu-mean", "d002.init.relu-variance", "d002.init.relu-reduction-half"
)
def test_relu_moments_symbolic():
    s = sympy.Symbol("sigma", positive=True)
    m = th.relu_moments(s)
    assert m["mean"] == s / sympy.sqrt(2 * sympy.pi)
    assert m["second_moment"] == s**2 / 2
    assert sympy.simplify(m["variance"] - s**2 * (sympy.pi - 1) / (2 * sympy.pi)) == 0
    d = th.derive_relu_moments()
    assert not d.agrees()  # the document's mean formula is wrong ...
    assert sympy.simplify(d.claimed - 2 * m["mean"]) == 0  # ... by a factor of 2 (it is E|X|)
    doc_var = s**2 * (1 - 2 / sympy.pi)
    assert sympy.simplify(doc_var - m["variance"]) != 0
    assert round(float(m["mean"].subs(s, 1)), 1) == 0.4  # the document's 0.4 sigma is right
    assert (
        round(float(doc_var.subs(s, 1)), 2) == 0.36
        and round(float(m["variance"].subs(s, 1)), 3) == 0.341
    )
    # reduction factor: second moment exactly 1/2; variance (pi - 1)/(2 pi)
    assert m["second_moment"] / s**2 == sympy.Rational(1, 2)
    assert sympy.simplify(m["variance"] / s**2 - sympy.Rational(1, 2)) != 0


@pytest.mark.claim(
    "d002.init.relu-mean", "d002.init.relu-variance", "d002.init.relu-reduction-half"
)
@settings(max_examples=3)
@given(sigma=st.floats(0.1, 10.0), seed=seeds, source=st.sampled_from(["numpy", "torch"]))
def test_relu_moments_monte_carlo_exclude_the_documents_figures(sigma, seed, source):
    """4e6 samples. Mean: Gaussian-Lipschitz interval (ReLU is 1-Lipschitz); second moment:
    relu_second_moment_interval; variance by interval arithmetic. Each false alarm <= 1e-6."""
    n = 4_000_000
    if source == "numpy":
        z = np.random.default_rng(seed).standard_normal(n) * sigma
        r = np.maximum(z, 0)
    else:
        gen = torch.Generator().manual_seed(seed % 2**63)
        r = torch.relu(torch.randn(n, generator=gen, dtype=torch.float64) * sigma).numpy()
    mean, second = float(r.mean()), float(np.mean(r * r))
    t = gaussian_lipschitz_halfwidth(n, 1.0, sigma)
    lo2, hi2 = relu_second_moment_interval(n, sigma)
    m = {k: float(v) for k, v in th.relu_moments(sigma).items()}
    assert abs(mean - m["mean"]) <= t
    assert lo2 <= second <= hi2
    assert lo2 <= m["second_moment"] <= hi2
    var_lo, var_hi = lo2 - (mean + t) ** 2, hi2 - max(mean - t, 0) ** 2
    assert var_lo <= m["variance"] <= var_hi
    # the document's figures are excluded by the same intervals
    assert abs(mean - sigma * math.sqrt(2 / math.pi)) > t
    assert not var_lo <= sigma**2 * (1 - 2 / math.pi) <= var_hi
    assert not var_lo <= sigma**2 / 2 <= var_hi  # "variance halves": refuted reading


# --------------------------------------------------------------------------- He


@pytest.mark.claim("d002.init.he", "d002.init.review-depth")
def test_he_derivation_and_mean_field():
    d = th.derive_he()
    assert d.agrees(), d.to_markdown()
    q, chi = th.mean_field_variances(50, 256, float(th.he_variance(256)), "relu")
    assert all(math.isclose(v, 1.0) for v in q) and all(math.isclose(v, 1.0) for v in chi)
    q, _ = th.mean_field_variances(50, 256, float(th.xavier_variance(256, 256)), "relu")
    assert all(math.isclose(v, 2.0**-layer) for layer, v in enumerate(q))


@pytest.mark.claim("d002.init.he", "d002.init.review-depth")
@few
@given(seed=seeds, q=st.floats(0.25, 4.0), source=st.sampled_from(["ours", "torch"]))
def test_he_preserves_preactivation_variance_through_one_relu_layer(seed, q, source):
    """h ~ N(0, q) (n = 200 000 units), x = relu(h), y = W x, W ~ He-normal (fan_in = n).
    ||x||^2/n in the ReLU second-moment interval around q/2; given x, sum y_i^2/(2||x||^2/n) ~
    chi2_m. Together: the variance of y is q within the product of both intervals. 1e-6 each."""
    rng = np.random.default_rng(seed)
    n, m = 200_000, 20
    x = np.maximum(rng.standard_normal(n) * math.sqrt(q), 0)
    lo2, hi2 = relu_second_moment_interval(n, math.sqrt(q))
    assert lo2 <= float(x @ x) / n <= hi2
    w = (
        kinit.he_normal((m, n), rng)
        if source == "ours"
        else _torch_sample(torch.nn.init.kaiming_normal_, (m, n), seed, nonlinearity="relu")
    )
    assert _linear_map_ok(linear(x[None, :], w)[0], x, 2 / n)


@pytest.mark.claim("d002.init.he")
@few
@given(f=fans, seed=seeds, source=st.sampled_from(["ours", "torch"]))
def test_he_uniform_and_normal_variance(f, seed, source):
    """He-uniform: bound and Hoeffding on w^2; He-normal: chi2. False alarm 1e-6 each."""
    fi, fo = f
    rng = np.random.default_rng(seed)
    if source == "ours":
        wu, wn = kinit.he_uniform((fo, fi), rng), kinit.he_normal((fo, fi), rng)
    else:
        wu = _torch_sample(torch.nn.init.kaiming_uniform_, (fo, fi), seed, nonlinearity="relu")
        wn = _torch_sample(torch.nn.init.kaiming_normal_, (fo, fi), seed, nonlinearity="relu")
    a = float(th.he_uniform_bound(fi))
    assert np.abs(wu).max() <= a
    assert abs(float(np.mean(wu**2)) - float(th.he_variance(fi))) <= hoeffding_halfwidth(
        wu.size, a * a
    )
    assert _chi2_ok(float(np.sum(wn**2)) / float(th.he_variance(fi)), wn.size)


# --------------------------------------------------------------------------- fans (conv)


def _torch_fans(shape) -> tuple[int, int]:
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape, device="meta"))


weight_shapes = st.lists(st.integers(1, 7), min_size=2, max_size=5).map(tuple)


@pytest.mark.claim("d002.init.xavier-compromise", "d002.init.he")
@given(shape=weight_shapes)
def test_fans_equal_torchs_for_linear_and_conv_weights(shape):
    """(out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel), as
    torch.nn.init._calculate_fan_in_and_fan_out, for 2-D to 5-D weights."""
    assert kinit.fans(shape) == _torch_fans(shape)
    assert kinit.fans(list(shape)) == kinit.fans(tuple(np.int64(v) for v in shape))


@pytest.mark.claim("d002.init.xavier-compromise", "d002.init.he")
@given(
    shape=weight_shapes,
    seed=seeds,
    slope=st.sampled_from([0.0, 0.01, 0.2, 1.0, 3.0]),
    gain=st.sampled_from([1.0, 5 / 3, 0.5]),
    mode=st.sampled_from(["fan_in", "fan_out"]),
)
def test_initializers_scale_by_torchs_fans_and_gains(shape, seed, slope, gain, mode):
    """Each initializer draws the same NumPy stream as rng.uniform / rng.standard_normal and
    scales it by the bound or std built from torch's fans and ``calculate_gain``."""
    fi, fo = _torch_fans(shape)
    fan = fi if mode == "fan_in" else fo
    std = torch.nn.init.calculate_gain("leaky_relu", slope) / math.sqrt(fan)

    def rng():
        return np.random.default_rng(seed)

    expected = {
        "he_normal": std * rng().standard_normal(shape),
        "he_uniform": rng().uniform(-math.sqrt(3) * std, math.sqrt(3) * std, shape),
        "xavier_normal": gain * math.sqrt(2 / (fi + fo)) * rng().standard_normal(shape),
        "xavier_uniform": rng().uniform(-(a := gain * math.sqrt(6 / (fi + fo))), a, shape),
    }
    got = {
        "he_normal": kinit.he_normal(shape, rng(), negative_slope=slope, mode=mode),
        "he_uniform": kinit.he_uniform(shape, rng(), negative_slope=slope, mode=mode),
        "xavier_normal": kinit.xavier_normal(shape, rng(), gain=gain),
        "xavier_uniform": kinit.xavier_uniform(shape, rng(), gain=gain),
    }
    for name, value in got.items():
        assert value.shape == shape and value.dtype == np.float64
        assert np.allclose(value, expected[name], rtol=1e-13, atol=0), name
    assert kinit.he_normal(shape, rng(), dtype=np.float32).dtype == np.float32


@pytest.mark.claim("d002.init.he", "d002.init.xavier-uniform")
@few
@given(
    seed=seeds,
    out=st.integers(32, 64),
    cin=st.integers(8, 32),
    kernel=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    mode=st.sampled_from(["fan_in", "fan_out"]),
)
def test_conv_weight_variance_agrees_with_torch(seed, out, cin, kernel, mode):
    """Conv weights (out, in, *kernel), ours and torch's: He-normal sum w^2 / (2/fan) ~
    chi2_N for both (false alarm 1e-6 each); Xavier-uniform never beyond the bound
    a = sqrt(6/(fan_in + fan_out)) and max |w| >= a (1 - eps) (false alarm 1e-6 each)."""
    shape = (out, cin, *kernel)
    fi, fo = _torch_fans(shape)
    var = 2 / (fi if mode == "fan_in" else fo)
    ours = kinit.he_normal(shape, np.random.default_rng(seed), mode=mode)
    theirs = _torch_sample(torch.nn.init.kaiming_normal_, shape, seed, mode=mode)
    for w in (ours, theirs):
        assert _chi2_ok(float(np.sum(w**2)) / var, w.size)
    a = math.sqrt(6 / (fi + fo))
    eps = 1 - FALSE_ALARM ** (1 / math.prod(shape))
    for w in (
        kinit.xavier_uniform(shape, np.random.default_rng(seed)),
        _torch_sample(torch.nn.init.xavier_uniform_, shape, seed),
    ):
        assert a * (1 - eps) <= np.abs(w).max() <= a


# --------------------------------------------------------------------------- gains


@pytest.mark.claim("d002.init.activation-gains")
def test_gains_derived_by_integration_against_torch():
    assert th.activation_second_moment("relu") == sympy.Rational(1, 2)  # by sympy.stats
    assert th.derived_gain("relu") == sympy.sqrt(2)
    assert math.isclose(float(th.derived_gain("relu")), torch.nn.init.calculate_gain("relu"))
    for slope in (0.01, 0.2, 0.5):
        assert math.isclose(
            float(th.derived_gain("leaky_relu", slope)),
            torch.nn.init.calculate_gain("leaky_relu", slope),
            rel_tol=1e-12,
        )
    assert th.derived_gain("linear") == 1 == torch.nn.init.calculate_gain("linear")
    # conventions in torch, not this derivation:
    conventions = {"tanh": 5 / 3, "sigmoid": 1.0, "selu": 0.75}
    derived = {name: float(th.derived_gain(name)) for name in conventions}
    for name, torch_gain in conventions.items():
        assert torch.nn.init.calculate_gain(name) == torch_gain
        assert abs(derived[name] - torch_gain) > 0.05, name
    assert math.isclose(derived["tanh"], 1.592537, rel_tol=1e-6)
    assert math.isclose(derived["selu"], 1.0, rel_tol=1e-12)  # self-normalizing: E[selu(z)^2] = 1
    for name, value in (("gelu", 1.533530), ("silu", 1.676532)):
        assert math.isclose(float(th.derived_gain(name)), value, rel_tol=1e-6)
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(name)  # torch defines none


@pytest.mark.claim("d002.init.activation-gains")
def test_second_moments_by_an_independent_quadrature():
    """mpmath.quad against a plain trapezoid rule on [-12, 12] (tails < 1e-30)."""
    z = np.linspace(-12, 12, 400_001)
    dens = np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    fns = {
        "tanh": np.tanh,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "gelu": lambda v: v * 0.5 * (1 + np.vectorize(math.erf)(v / math.sqrt(2))),
        "silu": lambda v: v / (1 + np.exp(-v)),
    }
    for name, f in fns.items():
        trap = float(np.trapezoid(f(z) ** 2 * dens, z))
        assert math.isclose(trap, float(th.activation_second_moment(name)), rel_tol=1e-9), name


@pytest.mark.claim("d002.init.activation-gains")
def test_small_signal_reading_and_tanh_counterexample():
    v = sympy.Symbol("v", real=True)
    slopes = {
        "tanh": sympy.diff(sympy.tanh(v), v).subs(v, 0),
        "gelu": sympy.diff(v * (1 + sympy.erf(v / sympy.sqrt(2))) / 2, v).subs(v, 0),
        "silu": sympy.diff(v / (1 + sympy.exp(-v)), v).subs(v, 0),
    }
    assert slopes == {"tanh": 1, "gelu": sympy.Rational(1, 2), "silu": sympy.Rational(1, 2)}
    # tanh with plain Xavier (gain 1) at unit variance: second moment 0.394 after one layer
    assert math.isclose(float(th.activation_second_moment("tanh")), 0.394294, rel_tol=1e-5)


# --------------------------------------------------------------------------- orthogonal


@pytest.mark.claim("d002.init.orthogonal-properties")
@given(
    rows=st.integers(1, 12),
    cols=st.integers(1, 12),
    seed=seeds,
    source=st.sampled_from(["ours", "torch"]),
)
def test_orthogonal_properties_square_tall_wide(rows, cols, seed, source):
    w = (
        kinit.orthogonal((rows, cols), np.random.default_rng(seed))
        if source == "ours"
        else _torch_sample(torch.nn.init.orthogonal_, (rows, cols), seed)
    )
    x = np.random.default_rng(seed + 1).standard_normal(cols)
    if rows >= cols:
        assert np.allclose(w.T @ w, np.eye(cols), atol=1e-12)
        assert math.isclose(np.linalg.norm(w @ x), np.linalg.norm(x), rel_tol=1e-12)
    else:
        assert np.allclose(w @ w.T, np.eye(rows), atol=1e-12)
        assert np.linalg.norm(w @ x) <= np.linalg.norm(x) * (1 + 1e-12)
    wide = np.array([[1.0, 0.0]])
    assert np.linalg.norm(wide @ np.array([0.0, 1.0])) == 0  # the counterexample


@pytest.mark.claim("d002.init.orthogonal-qr")
@settings(max_examples=3)
@given(n=st.integers(3, 8), seed=seeds)
def test_sign_fixed_qr_is_haar_in_testable_statistics_and_raw_qr_is_not(n, seed):
    """M = 4000 matrices. For Haar Q: E[Q11] = 0 and, for a fixed unit u, E[(u^T Q e1)^2] = 1/n
    (rotation invariance). Hoeffding intervals, false alarm 1e-6 each. Raw LAPACK QR: Q11 <= 0."""
    rng = np.random.default_rng(seed)
    m = 4000
    u = rng.standard_normal(n)
    u /= np.linalg.norm(u)
    fixed = np.array([kinit.orthogonal((n, n), rng)[:, 0] for _ in range(m)])
    raw = np.array([kinit.orthogonal((n, n), rng, sign_fix=False)[:, 0] for _ in range(m)])
    gen = torch.Generator().manual_seed(seed % 2**63)
    torch_cols = []
    for _ in range(m):
        t = torch.empty(n, n, dtype=torch.float64)
        torch.nn.init.orthogonal_(t, generator=gen)
        torch_cols.append(t[:, 0].numpy())
    t_q11 = hoeffding_halfwidth(m, 2.0)
    t_sq = hoeffding_halfwidth(m, 1.0)
    for cols in (fixed, np.array(torch_cols)):
        assert abs(cols[:, 0].mean()) <= t_q11
        assert abs(float(np.mean((cols @ u) ** 2)) - 1 / n) <= t_sq
    assert (raw[:, 0] <= 0).all()  # LAPACK's Householder QR: R11 = -sign(a11)||a1||
    assert raw[:, 0].mean() < -t_q11


@pytest.mark.claim("d002.init.orthogonal-linear-gradients")
@given(n=st.integers(2, 16), depth=st.integers(1, 50), seed=seeds)
def test_orthogonal_linear_network_keeps_gradient_norms(n, depth, seed):
    rng = np.random.default_rng(seed)
    ws = [kinit.orthogonal((n, n), rng) for _ in range(depth)]
    x = rng.standard_normal((3, n))
    g = rng.standard_normal((3, n))
    hs = mlp_forward(x, ws, "linear")
    grads = mlp_backward(g, hs, ws, "linear")
    assert np.allclose(np.linalg.norm(grads[0], axis=1), np.linalg.norm(g, axis=1), rtol=1e-10)
    jac = np.linalg.multi_dot([*ws[::-1], np.eye(n)]) if depth > 1 else ws[0]
    assert np.allclose(np.linalg.svd(jac, compute_uv=False), 1, atol=1e-10)


# --------------------------------------------------------------------------- LSUV


@pytest.mark.claim("d002.init.lsuv")
@settings(max_examples=5)
@given(
    seed=seeds,
    act=st.sampled_from(["relu", "tanh"]),
    start=st.sampled_from(["xavier", "he", "orthogonal"]),
)
def test_lsuv_reaches_unit_variance_in_every_layer_from_either_start(seed, act, start):
    from kernels.cpu.mlp import activation

    rng = np.random.default_rng(seed)
    width, depth = 64, 8
    maker = {"xavier": kinit.xavier_normal, "he": kinit.he_normal, "orthogonal": kinit.orthogonal}[
        start
    ]
    ws = [maker((width, width), rng) for _ in range(depth)]
    x = rng.standard_normal((512, width)) * 3
    phi, _ = activation(act)
    new, iters = kinit.lsuv(ws, x, phi, tol=1e-6)
    hs = mlp_forward(x, new, act)
    assert all(abs(float(np.var(h)) - 1) < 1e-6 for h in hs)
    assert iters == [1] * depth  # the pre-activation is linear in W: one rescale is exact
    if start == "orthogonal":  # stays orthogonal up to a scalar
        for w in new:
            gram = w.T @ w
            assert np.allclose(gram, gram[0, 0] * np.eye(width), atol=1e-10)


# --------------------------------------------------------------------------- bad input


@pytest.mark.claim("d002.init.xavier-compromise", "d002.init.he", "d002.init.orthogonal-properties")
def test_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="fan_in"):
        th.xavier_variance(0, 3)
    with pytest.raises(ValueError, match="gain"):
        th.he_variance(3, gain=-1)
    with pytest.raises(ValueError, match="unknown activation"):
        th.activation_second_moment("swishy")
    with pytest.raises(TypeError, match="activation name must be a string"):
        th.derived_gain(3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        kinit.orthogonal((5,), rng)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        kinit.xavier_uniform((5,), rng)
    with pytest.raises(ValueError, match="integers >= 1"):
        kinit.he_normal((0, 3), rng)
    with pytest.raises(ValueError, match="mode"):
        kinit.he_normal((3, 3), rng, mode="fan_middle")
    with pytest.raises(TypeError, match="rng"):
        kinit.xavier_normal((3, 3), 0)
    with pytest.raises(ValueError, match="unknown activation"):
        mlp_forward(np.ones((1, 2)), [np.ones((2, 2))], "swish")
    with pytest.raises(ValueError, match="inputs"):
        kinit.lsuv([np.ones((2, 3))], np.ones((4, 2)), np.tanh)


# --------------------------------------------------------------------------- depth experiment


@pytest.mark.claim("d002.init.he", "d002.init.review-depth")
def test_depth_experiment_code():
    """Seeded, deterministic checks of the experiment behind the docs' depth plot (not a
    statistical test): ReLU is positively homogeneous, so He's profile is Xavier's times 2
    exactly; LSUV gives unit forward variance; tanh with Xavier follows the mean field."""
    from numerics.experiments import depth_prediction, depth_profile

    xavier = depth_profile("relu", "xavier", depth=20, width=128, batch=128, seed=3)
    he = depth_profile("relu", "he", depth=20, width=128, batch=128, seed=3)
    layers = np.arange(1, 21)
    assert np.allclose(he.forward / xavier.forward, 2.0**layers, rtol=1e-9)
    # backward[l-1] is the gradient at layer l's input: it crosses layers l..L, each scaled
    # by sqrt(2) in He, so its variance ratio is 2^(L - l + 1)
    assert np.allclose(he.backward / xavier.backward, 2.0 ** layers[::-1], rtol=1e-9)
    lsuv = depth_profile("tanh", "lsuv", depth=20, width=128, batch=128, seed=3)
    assert np.allclose(lsuv.forward, 1.0, atol=1e-2)
    tanh = depth_profile("tanh", "xavier", depth=20, width=256, batch=256, seed=0)
    predicted = depth_prediction("tanh", "xavier", depth=20, width=256)
    assert np.all(np.abs(np.log(tanh.forward / predicted.forward)) < np.log(1.25))


@pytest.mark.claim("d002.init.he", "d002.init.review-depth")
def test_depth_prediction_starts_at_the_first_layer_and_multiplies_backwards():
    """The prediction's first pre-activation variance is n sigma_w^2 (unit input): 2 for He,
    1/3 for torch's default, 1 for Xavier; the gradient reaching layer l's input has variance
    prod_{k=l}^{L} chi_k (the product runs from the output back to layer l)."""
    from numerics.experiments import depth_prediction

    depth = 4
    he = depth_prediction("relu", "he", depth=depth, width=16)
    assert he.forward.tolist() == [2.0] * depth and he.backward.tolist() == [1.0] * depth
    default = depth_prediction("relu", "torch default", depth=depth, width=12)
    assert np.allclose(default.forward, [1 / 3 * 6.0**-k for k in range(depth)], rtol=1e-12)
    xavier = depth_prediction("relu", "xavier", depth=depth, width=16)
    assert xavier.forward.tolist() == [1.0, 0.5, 0.25, 0.125]
    assert np.allclose(default.backward, [(1 / 6) ** (depth - k) for k in range(depth)])
    tanh = depth_prediction("tanh", "xavier", depth=3, width=8)
    q, chi = th.mean_field_variances(2, 8, 1 / 8, "tanh", q0=1.0)
    assert np.allclose(tanh.forward, q, rtol=1e-12)
    assert np.allclose(tanh.backward, [chi[0] * chi[1] * chi[2], chi[1] * chi[2], chi[2]])
    assert len(set(np.round(chi, 6))) == 3  # the chis differ: the order matters


# --------------------------------------------------------------------------- review (issue 10 §5)


@pytest.mark.claim("d002.init.backward-condition")
@few
@given(seed=seeds)
def test_backward_condition_fails_for_a_constant_upstream_gradient(seed):
    """g = 1 (variance 0), Var[w] = 1/fan_out: dL/dx = W^T g has variance ||g||^2/fan_out = 1,
    not Var[g] = 0 — the same premise as the forward condition. chi2, false alarm 1e-6."""
    rng = np.random.default_rng(seed)
    fan_out, fan_in = 40, 100_000
    g = np.ones((1, fan_out))
    w = kinit.he_normal((fan_out, fan_in), rng, negative_slope=1.0, mode="fan_out")
    dx, _, _ = linear_backward(g, np.zeros((1, fan_in)), w)
    assert float(np.var(g)) == 0.0
    assert _chi2_ok(float(dx[0] @ dx[0]) / 1.0, fan_in)  # Var[dx_j] = ||g||^2/fan_out = 1


@pytest.mark.claim("d002.init.backward-condition")
@few
@given(seed=seeds)
def test_torch_fan_out_of_a_depthwise_conv_counts_groups_times_too_many(seed):
    """Depthwise 3x3 conv, C channels: an interior input feeds 9 outputs, but torch's (and
    kernels.cpu.init.fans') fan_out is 9C, so kaiming_normal_(mode='fan_out', 'linear') gives
    Var[w] = 1/(9C) and the interior input gradient has variance E[g^2]/C. Given g, channel c's
    gradient is N(0, Var[w] ||g_c||^2) independently: chi2_C. False alarm 1e-6."""
    c = 20_000
    shape = (c, 1, 3, 3)
    F_conv = torch.nn.functional.conv2d
    probe = torch.ones(1, 2, 5, 5, requires_grad=True)  # count the outputs an input feeds
    F_conv(probe, torch.ones(2, 1, 3, 3), groups=2).sum().backward()
    feeds = int(probe.grad[0, 0, 2, 2])
    assert feeds == 9  # = (C_out / groups) k^2
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert (fan_in, fan_out) == kinit.fans(shape) == (9, 9 * c)  # C_out k^2, not per group
    w = _torch_sample(
        torch.nn.init.kaiming_normal_, shape, seed, mode="fan_out", nonlinearity="linear"
    )[:, 0]
    g = np.random.default_rng(seed).standard_normal((c, 3, 3))
    # the interior input (2, 2) reads tap (i, j) of output (2 - i, 2 - j): a flipped dot product
    dx = np.einsum("cij,cij->c", w, g[:, ::-1, ::-1])
    small = torch.from_numpy(np.ascontiguousarray(g[None, :8])).clone()
    xt = torch.zeros(1, 8, 5, 5, dtype=torch.float64, requires_grad=True)
    F_conv(xt, torch.from_numpy(w[:8, None].copy()), groups=8).backward(small)
    assert np.allclose(xt.grad[0, :, 2, 2].numpy(), dx[:8], rtol=1e-12, atol=0)  # = autograd
    g_sq = (g**2).sum(axis=(1, 2))  # every output of channel c reads input (2, 2)
    assert _chi2_ok(float(np.sum(dx**2 / (g_sq / fan_out))), c)  # torch's Var[w] = 1/(9C)
    assert not _chi2_ok(float(np.sum(dx**2 / (g_sq / feeds))), c)  # the preserving 1/9: no


@pytest.mark.claim("d002.init.relu-mean-value")
@settings(max_examples=3)
@given(sigma=st.floats(0.1, 10.0), seed=seeds)
def test_relu_mean_is_about_point_four_sigma(sigma, seed):
    """Exact sigma/sqrt(2 pi) = 0.39894 sigma rounds to 0.4 sigma; 1e6 samples: a Gaussian-
    Lipschitz interval (false alarm 1e-6) holds it and excludes the formula's 0.798 sigma."""
    s = sympy.Symbol("sigma", positive=True)
    exact = th.relu_moments(s)["mean"] / s
    assert exact == 1 / sympy.sqrt(2 * sympy.pi) and round(float(exact), 1) == 0.4
    assert abs(float(exact) - 0.4) < 0.0011
    n = 1_000_000
    r = np.maximum(np.random.default_rng(seed).standard_normal(n) * sigma, 0)
    t = gaussian_lipschitz_halfwidth(n, 1.0, sigma)
    assert abs(float(r.mean()) - float(exact) * sigma) <= t
    assert abs(float(r.mean()) - math.sqrt(2 / math.pi) * sigma) > t


@pytest.mark.claim("d002.init.review-depth", "d002.init.relu-reduction-half")
@settings(max_examples=2)
@given(seed=seeds, q=st.floats(0.25, 4.0))
def test_relu_layer_halves_the_variance_per_layer_under_one_over_fan_in(seed, q):
    """h ~ N(0, q) on n units, x = relu(h), h' = W x with Var[w] = 1/n (the linear-preserving
    init). ||x||^2/n is in the ReLU second-moment interval around q/2, and given x,
    sum h'^2 / (||x||^2/n) ~ chi2_m; so q'/q lies in the product interval, which holds 1/2 and
    excludes the ReLU's own ratio 0.341. False alarm 1e-6 per interval."""
    rng = np.random.default_rng(seed)
    n, m = 10_000, 4_000
    x = np.maximum(rng.standard_normal(n) * math.sqrt(q), 0)
    lo2, hi2 = relu_second_moment_interval(n, math.sqrt(q))
    second = float(x @ x) / n
    assert lo2 <= second <= hi2
    w = kinit.he_normal((m, n), rng, negative_slope=1.0)  # gain 1: Var[w] = 1/fan_in
    h_next = linear(x[None, :], w)[0]
    assert _linear_map_ok(h_next, x, 1 / n)
    lo_c, hi_c = chi2_interval(m, FALSE_ALARM)
    ratio_lo, ratio_hi = lo2 * lo_c / m / q, hi2 * hi_c / m / q
    assert ratio_lo <= float(h_next @ h_next) / m / q <= ratio_hi
    assert ratio_lo <= 0.5 <= ratio_hi
    assert not ratio_lo <= (math.pi - 1) / (2 * math.pi) <= ratio_hi


@pytest.mark.claim("d002.init.review-depth", "d002.init.relu-reduction-half")
def test_per_layer_ratio_symbolically():
    """Post-activations halve with the pre-activations (ReLU's variance is ∝ sigma^2); the
    mean field under Var[w] = 1/fan_in halves q per layer; the preserving Var[w] is ∝ 1/fan_in
    even for ReLU inputs of non-zero mean."""
    s = sympy.Symbol("sigma", positive=True)
    v = th.relu_moments(s)["variance"]
    assert sympy.simplify(v.subs(s, s / sympy.sqrt(2)) / v) == sympy.Rational(1, 2)
    q, _ = th.mean_field_variances(12, 300, 1 / 300, "relu", q0=3.0)
    assert all(math.isclose(q[i + 1] / q[i], 0.5, rel_tol=1e-12) for i in range(len(q) - 1))
    nn, vw = sympy.symbols("n v_w", positive=True)
    relu = th.relu_moments(1)
    var_y = th.linear_output_variance(nn, vw, relu["variance"], mean_x=relu["mean"])
    preserving = sympy.solve(sympy.Eq(var_y, relu["variance"]), vw)[0]
    assert (preserving * nn).free_symbols == set()  # Var[w] ∝ 1/fan_in
    assert sympy.simplify(preserving * nn - (sympy.pi - 1) / sympy.pi) == 0


def _trapezoid_second_moment(phi) -> float:
    z = torch.linspace(-12, 12, 480_001, dtype=torch.float64)
    dens = torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return float(torch.trapezoid(phi(z) ** 2 * dens, z))


def _quad_second_moment(phi) -> float:
    import mpmath

    with mpmath.workdps(30):
        density = lambda z: mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
        return float(
            mpmath.quad(lambda z: phi(z) ** 2 * density(z), [-mpmath.inf, 0, 6, mpmath.inf])
        )


@pytest.mark.claim("d002.init.relu-family-he")
def test_relu_family_gains_beyond_relu():
    """Second-moment gains of the ReLU family torch ships, evaluated on torch's own functions
    (trapezoid) and on mpmath formulas (30 digits): He's sqrt 2 fits ReLU and ReLU6 only."""
    import mpmath

    F_ = torch.nn.functional
    exact = {
        "relu": lambda z: max(z, 0),
        "relu6": lambda z: min(max(z, 0), 6),
        "elu": lambda z: z if z > 0 else mpmath.exp(z) - 1,
        "celu": lambda z: z if z > 0 else mpmath.exp(z) - 1,
    }
    torch_fns = {"relu": F_.relu, "relu6": F_.relu6, "elu": F_.elu, "celu": F_.celu}
    second = {}
    for name, phi in exact.items():
        second[name] = _quad_second_moment(phi)
        assert math.isclose(_trapezoid_second_moment(torch_fns[name]), second[name], rel_tol=1e-8)
    assert second["relu"] == pytest.approx(0.5, rel=1e-15)
    assert abs(second["relu6"] - 0.5) < 3e-9  # the cap at 6 removes only the far tail
    for name in ("elu", "celu"):
        assert math.isclose(1 / math.sqrt(second[name]), 1.2451983, rel_tol=1e-7)
        assert math.isclose(2 * second[name], 1.2898908, rel_tol=1e-7)  # He: +29% per layer
    assert math.isclose(_trapezoid_second_moment(F_.selu), 1.0, rel_tol=1e-8)
    assert math.isclose(float(th.derived_gain("selu")), 1.0, rel_tol=1e-12)  # LeCun, not He
    assert torch.nn.init.calculate_gain("selu") == 0.75  # torch's convention
    for slope in (0.1, 0.2, 0.5):  # He's slope-adapted gain (PReLU), not sqrt 2
        gain = float(th.derived_gain("leaky_relu", slope))
        assert math.isclose(gain, torch.nn.init.calculate_gain("leaky_relu", slope), rel_tol=1e-12)
        assert math.isclose(gain, math.sqrt(2 / (1 + slope**2)), rel_tol=1e-12)
        assert abs(gain - math.sqrt(2)) > 0.007


@pytest.mark.claim("d002.init.relu-family-he")
@few
@given(seed=seeds)
def test_he_on_elu_inflates_the_next_preactivation(seed):
    """z ~ N(0, 1) on n units, x = elu(z) (torch), y = W x with torch's kaiming_normal_ (ReLU
    gain). elu(z)^2 = relu(z)^2 + (e^z - 1)^2 [z < 0], the second term in [0, 1): the ReLU
    second-moment interval plus a Hoeffding interval around its mean 0.14494 (quadrature)
    bound ||x||^2/n; given x, sum y^2 / (2||x||^2/n) ~ chi2_m. The next pre-activation variance
    2||x||^2/n then lies in an interval that holds 1.290 and excludes 1. False alarm 1e-6 each."""
    import mpmath

    rng = np.random.default_rng(seed)
    n, m = 200_000, 40
    z = rng.standard_normal(n)
    x = torch.nn.functional.elu(torch.from_numpy(z)).numpy()
    w = _torch_sample(torch.nn.init.kaiming_normal_, (m, n), seed, nonlinearity="relu")
    assert _linear_map_ok(x @ w.T, x, 2 / n)
    neg = np.where(z < 0, np.expm1(np.minimum(z, 0)) ** 2, 0.0)
    with mpmath.workdps(30):
        e_neg = float(
            mpmath.quad(
                lambda v: (
                    (mpmath.exp(v) - 1) ** 2 * mpmath.exp(-v * v / 2) / mpmath.sqrt(2 * mpmath.pi)
                ),
                [-mpmath.inf, 0],
            )
        )
    t = hoeffding_halfwidth(n, 1.0)
    assert abs(float(neg.mean()) - e_neg) <= t
    lo2, hi2 = relu_second_moment_interval(n, 1.0)
    lo, hi = 2 * (lo2 + e_neg - t), 2 * (hi2 + e_neg + t)
    assert lo <= 2 * float(x @ x) / n <= hi
    assert lo <= 1.2898908 <= hi and lo > 1.0  # He on ELU: the variance grows ~29% per layer


@pytest.mark.claim("d002.init.lsuv-orthogonal", "d002.init.lsuv")
@settings(max_examples=5)
@given(seed=seeds, start=st.sampled_from(["xavier", "he", "orthogonal"]))
def test_lsuv_keeps_orthogonality_only_from_an_orthogonal_start(seed, start):
    """LSUV rescales: W^T W = c I afterwards iff before. From Xavier/He (the document's step 1)
    the largest off-diagonal of W^T W / c is about 3.5/sqrt(64) ~ 0.4; below 0.1 only with a
    probability far under 1e-6."""
    rng = np.random.default_rng(seed)
    width = 64
    maker = {"xavier": kinit.xavier_normal, "he": kinit.he_normal, "orthogonal": kinit.orthogonal}
    ws = [maker[start]((width, width), rng) for _ in range(3)]
    x = rng.standard_normal((256, width))
    new, _ = kinit.lsuv(ws, x, np.tanh, tol=1e-6)
    assert all(abs(float(np.var(h)) - 1) < 1e-6 for h in mlp_forward(x, new, "tanh"))
    for before, after in zip(ws, new, strict=True):
        scale = float(np.linalg.norm(after) / np.linalg.norm(before))
        assert np.allclose(after, scale * before, rtol=1e-12, atol=0)  # LSUV only rescales
        gram = after.T @ after
        c = float(np.mean(np.diag(gram)))
        off = np.abs(gram - np.diag(np.diag(gram))).max() / c
        if start == "orthogonal":
            assert off < 1e-10
        else:
            assert off > 0.1


@pytest.mark.claim("d002.init.orthogonal-qr")
@given(rows=st.integers(1, 10), cols=st.integers(1, 10), seed=seeds, sign_fix=st.booleans())
def test_qr_of_a_gaussian_matrix_is_orthogonal_with_or_without_the_sign_fix(
    rows, cols, seed, sign_fix
):
    """Reading 1 (any random orthogonal matrix): Q from QR is (semi-)orthogonal either way."""
    w = kinit.orthogonal((rows, cols), np.random.default_rng(seed), sign_fix=sign_fix)
    gram = w.T @ w if rows >= cols else w @ w.T
    assert np.allclose(gram, np.eye(min(rows, cols)), atol=1e-12)


@pytest.mark.claim("d002.init.he")
@few
@given(seed=seeds, ratio=st.sampled_from([4, 8]), wide_out=st.booleans())
def test_he_backward_factor_of_a_non_square_relu_layer_is_fan_out_over_fan_in(
    seed, ratio, wide_out
):
    """One ReLU layer, W ~ He (fan_in), upstream g ~ N(0, 1) on fan_out units, pre-activation
    mask 1{h > 0}: dx = W^T (g * mask). Given g and the mask, sum dx^2 / ((2/fan_in) ||g*mask||^2)
    ~ chi2_fan_in; ||g*mask||^2 / fan_out is distributed as a mean of relu(z)^2, in
    relu_second_moment_interval. So Var[dx]/Var[g] is fan_out/fan_in within the product
    interval (which excludes 1): the factors telescope over depth, n_L/n_0. 1e-6 each."""
    rng = np.random.default_rng(seed)
    small, big = 1_000, 1_000 * ratio
    fan_in, fan_out = (small, big) if wide_out else (big, small)
    w = kinit.he_normal((fan_out, fan_in), rng)
    g = rng.standard_normal(fan_out)
    masked = g * (rng.standard_normal(fan_out) > 0)
    dx = masked @ w
    assert _linear_map_ok(dx, masked, 2 / fan_in)
    lo2, hi2 = relu_second_moment_interval(fan_out, 1.0)
    assert lo2 <= float(masked @ masked) / fan_out <= hi2
    lo_c, hi_c = chi2_interval(fan_in, FALSE_ALARM)
    lo, hi = 2 * fan_out / fan_in * lo2 * lo_c / fan_in, 2 * fan_out / fan_in * hi2 * hi_c / fan_in
    assert lo <= float(dx @ dx) / fan_in <= hi
    assert lo <= fan_out / fan_in <= hi and not lo <= 1.0 <= hi
    widths = sympy.symbols("n0:6", positive=True, integer=True)
    product = sympy.prod(widths[i + 1] / widths[i] for i in range(5))
    assert sympy.simplify(product - widths[5] / widths[0]) == 0  # telescopes


# ------------------------------------------------------------ second reading (issue 10 §5)


def _lsuv_post_activation(
    w: np.ndarray, x: np.ndarray, phi, max_iter: int
) -> tuple[np.ndarray, list[float]]:
    r"""LSUV under the post-activation reading (002 § LSUV): rescale W by
    :math:`1/\sqrt{\operatorname{Var}[\phi(xW^\top)]}` ``max_iter`` times (biased variance over
    all entries); returns the last W and the variance measured before each rescale."""
    history = []
    for _ in range(max_iter):
        var = float(np.var(phi(x @ w.T)))
        history.append(var)
        w = w / math.sqrt(var)
    return w, history


@pytest.mark.claim("d002.init.lsuv")
@few
@given(seed=seeds, slope=st.sampled_from([0.0, 0.1, 0.3]))
def test_lsuv_post_activation_reading_is_exact_in_one_rescale_for_relu(seed, slope):
    """Post-activation reading, positively homogeneous phi (ReLU, leaky ReLU): Var[phi(a h)] =
    a^2 Var[phi(h)], so one rescale gives unit variance exactly; the pre-activation variance
    then is 1/Var[phi(h)]-scaled, not 1 (the readings differ)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((512, 64)) * 3

    def phi(v: np.ndarray) -> np.ndarray:
        return np.where(v > 0, v, slope * v)

    w, history = _lsuv_post_activation(kinit.xavier_normal((64, 64), rng), x, phi, max_iter=2)
    assert abs(history[1] - 1) < 1e-12
    assert abs(float(np.var(x @ w.T)) - 1) > 0.5  # pre-activation variance ~ 2.9 (ReLU)


def _sech2(h: np.ndarray) -> np.ndarray:
    """sech^2 h = tanh'(h) = 4 e^{-2|h|} / (1 + e^{-2|h|})^2, without overflow."""
    e = np.exp(-2 * np.abs(h))
    return 4 * e / (1 + e) ** 2


@pytest.mark.claim("d002.init.lsuv")
@settings(max_examples=5)
@given(seed=seeds, x_scale=st.floats(0.5, 3.0))
def test_lsuv_post_activation_reading_fails_for_tanh(seed, x_scale):
    """Post-activation reading, tanh, batch symmetric in +-x (so the batch mean of tanh is 0
    and Var = g(a) = mean tanh^2(a h0), increasing in the scale a). (1) Var < 1 at every step.
    (2) Certificate: the scale only grows, g(a_k) >= g(a_1), so a_20 <= a_1 g(a_1)^(-19/2) and
    1 - Var after 20 rescales >= mean sech^2(a_max h0) > 1e-5 >> tol = 1e-6. (3) Any state
    within tol of the goal is saturated: mean tanh'(h)^2 <= mean sech^2(h) <= 1 - Var."""
    rng = np.random.default_rng(seed)
    half = rng.standard_normal((256, 64)) * x_scale
    x = np.concatenate([half, -half])
    w0 = kinit.xavier_normal((64, 64), rng)
    h0 = x @ w0.T
    w, history = _lsuv_post_activation(w0, x, np.tanh, max_iter=20)
    final = float(np.var(np.tanh(x @ w.T)))
    assert all(v < 1 for v in [*history, final])
    assert history == sorted(history)  # the variance creeps up, never reaches 1

    def g(a: float) -> float:
        return float(np.mean(np.tanh(a * h0) ** 2))

    a1 = 1 / math.sqrt(g(1.0))
    a_max = a1 * g(a1) ** (-19 / 2)
    gap = float(np.mean(_sech2(a_max * h0)))  # = 1 - g(a_max) <= 1 - Var_20
    assert 1 - final >= gap * (1 - 1e-9) and gap > 1e-5  # >> tol = 1e-6
    for a in (1.0, a1, a_max, 1e3 * a_max):
        sech2 = _sech2(a * h0)  # = tanh'(a h0)
        assert float(np.mean(sech2**2)) <= float(np.mean(sech2)) <= 1 - g(a) + 1e-12


@pytest.mark.claim("d002.init.lsuv")
@few
@given(seed=seeds)
def test_lsuv_with_a_bias_one_rescale_misses_and_a_wide_bias_never_reaches_one(seed):
    """Var[a z + b] over all entries = a^2 Var z + 2a Cov(z, b) + Var b: not homogeneous in a.
    A bias of spread 0.25 across units: one rescale misses 1 by > 1e-3; spread 4: the minimum
    over all scales, Var b - Cov^2/Var z, exceeds 1 (no scale reaches unit variance)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((512, 64))
    z = x @ kinit.xavier_normal((64, 64), rng).T
    signs = np.where(np.arange(64) % 2 == 0, 1.0, -1.0)
    for spread, b in ((0.25, 0.5 * signs), (4.0, 2.0 * signs)):
        assert float(np.var(np.broadcast_to(b, z.shape))) == spread
        var_z = float(np.var(z))
        cov = float(np.mean((z - z.mean()) * (b - b.mean())))
        for a in (0.1, 1.0, 3.0):  # the quadratic is the variance
            assert math.isclose(
                float(np.var(a * z + b)), a * a * var_z + 2 * a * cov + spread, rel_tol=1e-9
            )
        if spread < 1:
            a = 1 / math.sqrt(float(np.var(z + b)))
            assert abs(float(np.var(a * z + b)) - 1) > 1e-3
        else:
            assert spread - cov**2 / var_z > 1


@pytest.mark.claim("d002.init.orthogonal-linear-gradients")
@settings(max_examples=10)
@given(n=st.integers(4, 32), seed=seeds, source=st.sampled_from(["ours", "torch"]))
def test_orthogonal_widening_layers_make_linear_gradients_vanish(n, seed, source):
    """n -> 2n -> n, repeated L = 30 times, (semi-)orthogonal weights. Backward through the
    narrowing layer (W W^T = I) keeps the norm; through the widening one it projects onto a
    Haar-random n-dim subspace of R^2n: E ||delta||^2 shrinks by exactly 1/2, independently per
    layer, so E[R] = 2^-30 for R = ||delta_0||^2/||g||^2. Markov: P(R >= 2^-30/1e-6) <= 1e-6,
    so R < 9.3e-4 (a 33-fold fall of the norm) with false alarm 1e-6. Never above 1."""
    rng = np.random.default_rng(seed)
    depth = 30
    shapes = [(2 * n, n), (n, 2 * n)] * depth
    if source == "ours":
        ws = [kinit.orthogonal(s, rng) for s in shapes]
    else:
        ws = [_torch_sample(torch.nn.init.orthogonal_, s, seed + i) for i, s in enumerate(shapes)]
    g = rng.standard_normal((1, n))
    hs = mlp_forward(rng.standard_normal((1, n)), ws, "linear")
    grads = mlp_backward(g, hs, ws, "linear")
    ratio = float(np.sum(grads[0] ** 2)) / float(np.sum(g**2))
    assert ratio < 2.0**-depth / FALSE_ALARM
    norms = [float(np.linalg.norm(d)) for d in grads]
    above = [*norms[1:], float(np.linalg.norm(g))]  # each layer's upstream gradient norm
    assert all(b <= a * (1 + 1e-12) for a, b in zip(above, norms, strict=True))  # no explosion


@pytest.mark.claim("d002.init.orthogonal-linear-gradients")
@given(widths=st.lists(st.integers(1, 12), min_size=2, max_size=8), seed=seeds)
def test_orthogonal_non_widening_network_keeps_backprop_norms_exactly(widths, seed):
    """Under the condition (no layer widens: fan_out <= fan_in, W W^T = I) the backpropagated
    gradient keeps its norm exactly at any shapes; a widening layer in the list breaks it."""
    widths = sorted(widths, reverse=True)
    rng = np.random.default_rng(seed)
    ws = [kinit.orthogonal((widths[i + 1], widths[i]), rng) for i in range(len(widths) - 1)]
    g = rng.standard_normal((2, widths[-1]))
    hs = mlp_forward(rng.standard_normal((2, widths[0])), ws, "linear")
    grads = mlp_backward(g, hs, ws, "linear")
    assert np.allclose(np.linalg.norm(grads[0], axis=1), np.linalg.norm(g, axis=1), rtol=1e-10)
    wide = kinit.orthogonal((widths[0] + 1, widths[0]), rng)  # one widening layer
    u = np.linalg.svd(wide)[0][:, -1]  # a unit gradient orthogonal to the columns of W
    assert np.linalg.norm(wide.T @ u) < 1e-12  # W^T is no isometry: that gradient vanishes


@pytest.mark.claim("d002.init.relu-reduction-half")
def test_doubling_restores_the_variance_only_under_the_per_layer_reading():
    """The sentence's own consequence ('double the weight variance') selects the reading:
    2 x (per-layer factor 1/2) = 1 exactly; 2 x (literal factor (pi-1)/(2 pi)) = 0.68, and
    with the document's own 0.36 it is 0.73: doubling would not maintain the variance."""
    s = sympy.Symbol("sigma", positive=True)
    m = th.relu_moments(s)
    per_layer = m["second_moment"] / s**2
    literal = sympy.simplify(m["variance"] / s**2)
    assert 2 * per_layer == 1
    assert sympy.simplify(2 * literal - (sympy.pi - 1) / sympy.pi) == 0
    assert round(float(2 * literal), 2) == 0.68
    doc_literal = 1 - 2 / sympy.pi  # the document's Var[ReLU(x)] / sigma^2
    assert abs(float(2 * doc_literal) - 1) > 0.25 and abs(float(literal) - 0.5) > 0.15
    q, _ = th.mean_field_variances(6, 100, 2 / 100, "relu", q0=1.0)  # He = doubled
    assert all(math.isclose(v, 1.0, rel_tol=1e-12) for v in q)


@pytest.mark.claim("d002.init.relu-family-he")
@few
@given(seed=seeds, slope=st.sampled_from([0.01, 0.1, 0.3]))
def test_hes_slope_adapted_rule_preserves_leaky_relu_so_it_is_no_counterexample(seed, slope):
    """He's rule for leaky ReLU/PReLU, Var[w] = 2/((1 + a^2) fan_in): exact second moment
    (1 + a^2)/2 (SymPy; quadrature of torch's leaky_relu agrees); torch's kaiming_normal_(a)
    samples exactly that variance (sum w^2 / Var[w] ~ chi2 over 8e6 weights; the bare sqrt 2
    rule is excluded for a >= 0.1); given x = leaky_relu(z), sum y^2 / (Var[w] ||x||^2) ~
    chi2_m; the ReLU second-moment intervals of both halves put the next pre-activation
    variance around 1. False alarm 1e-6 per interval."""
    a = sympy.Rational(str(slope))
    assert th.activation_second_moment("leaky_relu", a) == (1 + a**2) / 2
    assert th.derived_gain("leaky_relu", a) ** 2 * (1 + a**2) / 2 == 1
    trap = _trapezoid_second_moment(
        lambda v: torch.nn.functional.leaky_relu(v, negative_slope=slope)
    )
    assert math.isclose(trap, (1 + slope**2) / 2, rel_tol=1e-8)
    rng = np.random.default_rng(seed)
    n, m = 200_000, 40
    z = rng.standard_normal(n)
    x = torch.nn.functional.leaky_relu(torch.from_numpy(z), negative_slope=slope).numpy()
    w = _torch_sample(
        torch.nn.init.kaiming_normal_, (m, n), seed, a=slope, nonlinearity="leaky_relu"
    )
    var_w = 2 / ((1 + slope**2) * n)
    assert _chi2_ok(float(np.sum(w**2)) / var_w, w.size)
    if slope >= 0.1:
        assert not _chi2_ok(float(np.sum(w**2)) / (2 / n), w.size)  # bare He misses
    assert _linear_map_ok(x @ w.T, x, var_w)
    # ||x||^2 = sum relu(z)^2 + a^2 sum relu(-z)^2; each mean in the ReLU interval around 1/2
    lo2, hi2 = relu_second_moment_interval(n, 1.0)
    pos, neg = np.maximum(z, 0), np.maximum(-z, 0)
    assert lo2 <= float(pos @ pos) / n <= hi2 and lo2 <= float(neg @ neg) / n <= hi2
    next_var = var_w * float(x @ x)  # the next pre-activation variance given x
    lo, hi = var_w * n * (1 + slope**2) * lo2, var_w * n * (1 + slope**2) * hi2
    assert lo <= next_var <= hi and abs(next_var - 1) <= 2 * (hi2 - lo2)
    bare = 2 / n * float(x @ x)  # the bare sqrt 2 gain: off by (1 + a^2)
    assert math.isclose(bare / next_var, 1 + slope**2, rel_tol=1e-12)


# ---------------------------------------------------------------- outside-fuzz findings
@pytest.mark.parametrize("fn", [kinit.he_uniform, kinit.he_normal])
def test_he_huge_negative_slope_is_the_tiny_finite_std_not_an_overflow(fn):
    """Fuzz finding 2: ``slope**2`` overflowed (OverflowError) for negative_slope=1e308. The gain
    sqrt(2 / (1 + slope^2)) = sqrt(2) / hypot(1, slope) is finite: ~1.41e-308 here."""
    w = fn((3, 4), np.random.default_rng(0), negative_slope=1e308)
    bound = math.sqrt(3.0) * math.sqrt(2.0) / 1e308 / math.sqrt(4)
    assert np.isfinite(w).all() and np.abs(w).max() > 0
    if fn is kinit.he_uniform:
        assert np.abs(w).max() <= bound
    # slope^2 in float64 would be inf; as a check, the moderate case still equals the formula
    ref = fn((3, 4), np.random.default_rng(0), negative_slope=3.0)
    std = math.sqrt(2.0 / 10.0) / 2.0
    unit = fn((3, 4), np.random.default_rng(0), negative_slope=1.0)
    np.testing.assert_allclose(ref / std, unit / (1.0 / 2.0), rtol=1e-13)


@pytest.mark.parametrize(
    "fn", [kinit.xavier_uniform, kinit.xavier_normal, kinit.orthogonal, kinit.he_normal]
)
@pytest.mark.parametrize("bad", [np.float64("nan"), np.float64(0.0), np.float32(1.0)])
def test_numpy_scalar_values_are_not_dtypes(fn, bad):
    """Fuzz finding 17: ``np.dtype(np.float64(0.0))`` reads the value's ``.dtype``."""
    with pytest.raises(TypeError, match=r"\bdtype\b"):
        fn((3, 4), np.random.default_rng(0), dtype=bad)


def test_gain_too_large_for_the_bound_or_the_dtype_names_gain():
    """Fuzz finding 3: numpy's OverflowError 'high - low range exceeds valid bounds'; and a
    float32 weight that would round to inf (with an overflow RuntimeWarning)."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"\bgain\b"):
        kinit.xavier_uniform((3, 4), rng, gain=1e308)
    for fn in (kinit.xavier_uniform, kinit.xavier_normal, kinit.orthogonal):
        with pytest.raises(ValueError, match=r"\bgain\b.*float32"):
            fn((3, 4), rng, gain=1e300, dtype=np.float32)
    w = kinit.xavier_normal((3, 4), rng, gain=1e300)  # fits float64: returned, finite
    assert np.isfinite(w).all()


@pytest.mark.parametrize(
    "act",
    [np.int32, lambda z: z > 0, lambda z: z.astype(np.float32), lambda z: z.tolist()],
    ids=["int32", "bool", "float32", "list"],
)
def test_lsuv_refuses_an_activation_that_does_not_return_floats(act):
    """Fuzz finding 20: ``activation=np.int32`` was accepted (the signal truncated to ints)."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((4, 4)), rng.standard_normal((4, 4))]
    with pytest.raises(TypeError, match=r"\bactivation\b"):
        kinit.lsuv(ws, rng.standard_normal((16, 4)), activation=act)


def test_lsuv_lets_the_activations_own_exception_through():
    """Fuzz finding 4 (kept by design, documented): an exception raised *by* the user's
    activation is the user's own and is not rewrapped."""
    rng = np.random.default_rng(0)
    with pytest.raises(ZeroDivisionError):
        kinit.lsuv([rng.standard_normal((4, 4))], rng.standard_normal((16, 4)), lambda z: 1 / 0)


@pytest.mark.parametrize(
    ("name", "kwargs", "argument"),
    [
        (
            "depth_prediction",
            {"act": "tanh", "init": "orthogonal", "depth": 255, "width": 4},
            "depth",
        ),
        ("depth_figure", {"depth": 255, "width": 3, "batch": 2, "seed": 0}, "depth"),
        (
            "depth_profile",
            {"act": "tanh", "init": "lsuv", "depth": 10**6, "width": 6, "batch": 5, "seed": 3},
            "depth",
        ),
        (
            "depth_profile",
            {"act": "tanh", "init": "lsuv", "depth": 2, "width": 6, "batch": 10**6, "seed": 3},
            "batch",
        ),
        ("depth_figure", {"depth": 1, "width": 3, "batch": 10**6, "seed": 0}, "batch"),
        (
            "depth_profile",
            {"act": "relu", "init": "he", "depth": 1000, "width": 256, "batch": 8},
            "width",
        ),
        ("depth_figure", {"depth": 2, "width": 3, "batch": 2, "seed": 0}, r"batch=2 .*width=3"),
    ],
    ids=[
        "pred-tanh-255",
        "fig-255",
        "prof-1e6",
        "prof-batch",
        "fig-batch",
        "prof-weights",
        "fig-lsuv",
    ],
)
def test_experiments_refuse_runs_beyond_their_work_limits_at_once(name, kwargs, argument):
    """Fuzz findings 6-9, 12: these calls took 12-100 s (or were killed), or failed with LSUV's
    internal message naming none of the arguments. Now refused before any work, naming one."""
    import time

    from numerics import experiments as E

    start = time.perf_counter()
    with pytest.raises(ValueError, match=argument):
        getattr(E, name)(**kwargs)
    if name != "depth_figure" or kwargs["depth"] != 2:  # the LSUV case runs its first profiles
        assert time.perf_counter() - start < 0.5


def test_experiments_work_limits_admit_the_docs_figure_and_the_largest_single_costs():
    """The limits are the docs' figure (defaults) in every cost: each bound is met with
    equality by the defaults, and one step past it is refused."""
    from numerics import experiments as E

    d, w, b = 50, 256, 256
    assert d * w**2 == E.MAX_WEIGHTS and d * w**3 == E.MAX_QR_WORK
    assert d * w**2 * b == E.MAX_MATMUL_WORK and d * w * b == E.MAX_VALUES
    E._run_sizes(d, w, b, 0)
    for bigger in ((d + 1, w, b), (d, w + 1, b), (d, w, b + 1)):
        with pytest.raises(ValueError, match="depth, width and batch"):
            E._run_sizes(*bigger, 0)
    E._run_sizes(1000, 6, 5, 0)  # the depth cap, no QR/matrix cost to speak of
    E._run_sizes(1, 3, E.MAX_BATCH, 0)
    p = E.depth_profile("tanh", "lsuv", depth=1000, width=6, batch=5, seed=3)
    assert p.forward.shape == (1000,)
    q = E.depth_prediction("tanh", "xavier", depth=E.MAX_TANH_DEPTH - 45, width=8)
    assert q.forward.shape == (5,)


@pytest.mark.claim("d002.init.he")
def test_mean_field_tanh_depth_is_bounded_before_the_quadratures():
    """Outside fuzz: depth=255 with tanh ran ~25 s (two quadratures per layer). The limit is
    MAX_TANH_DEPTH, refused at once; the limit itself is accepted."""
    import time

    from theory import init as th_init

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="depth must be at most 50 for activation='tanh'"):
        th_init.mean_field_variances(th_init.MAX_TANH_DEPTH + 1, 10, 0.1, "tanh")
    assert time.perf_counter() - t0 < 0.5
    q, chi = th_init.mean_field_variances(th_init.MAX_TANH_DEPTH, 10, 0.1, "tanh")
    assert len(q) == len(chi) == th_init.MAX_TANH_DEPTH + 1
    assert len(th_init.mean_field_variances(255, 10, 0.2, "relu")[0]) == 256
