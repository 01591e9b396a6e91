"""Residual connections: the block, its Jacobian, the product over blocks, the 2^L paths, when
the identity prevents vanishing gradients, the ensemble reading and path lengths.

Claims: theory/claims/residual.yaml (``d002.res.*``). Theory: theory.residual
(``derive_block_jacobian``, ``derive_residual_product``, ``derive_prevents_vanishing``,
``derive_learns_residual``, ``expand_residual_product``, ``path_count``,
``path_length_distribution``, ``path_length_contributions``, ``dominant_path_length``,
``residual_gradient_bounds``). Kernels: kernels.cpu.residual (``residual_mlp``,
``residual_mlp_backward``, ``path_sum``). Measured: numerics.residual_experiments
(``depth_gradient_profile``, ``path_length_shares``, ``depth_gradient_figure``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels.cpu import residual as K
from numerics import residual_experiments as X
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.tolerances import assert_close
from theory import residual as R

seeds = st.integers(0, 2**32 - 1)
ACTS = ("relu", "tanh", "linear")
TORCH_ACT = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda h: h}


def T(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _stack(rng, depth, width, scale=0.5, dtype=np.float64):
    ws = [(scale * rng.standard_normal((width, width)) / np.sqrt(width)).astype(dtype)
          for _ in range(depth)]  # fmt: skip
    bs = [rng.standard_normal(width).astype(dtype) * 0.5 for _ in range(depth)]
    return ws, bs


def torch_stack(x, ws, bs, act, residual):
    """The reference: nn.Linear-style blocks in torch (float64 autograd)."""
    y = x
    for i, w in enumerate(ws):
        h = y @ w.T + (bs[i] if bs is not None else 0)
        f = TORCH_ACT[act](h)
        y = y + f if residual else f
    return y


# The block ------------------------------------------------------------------------------


@pytest.mark.claim("d002.res.block")
@given(seed=seeds, width=st.integers(1, 6), batch=st.integers(0, 4), act=st.sampled_from(ACTS))
def test_block_is_F_plus_x_and_plain_is_F(seed, width, batch, act):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    ws, bs = _stack(rng, 1, width)
    plain = K.residual_mlp(x, ws, bs, act, residual=False)
    res = K.residual_mlp(x, ws, bs, act, residual=True)
    lin = torch.nn.Linear(width, width).double()
    with torch.no_grad():
        lin.weight.copy_(T(ws[0]))
        lin.bias.copy_(T(bs[0]))
        ref = TORCH_ACT[act](lin(T(x))).numpy()
    assert_close(plain, ref, np.float64)
    assert_close(res, ref + x, np.float64)
    assert np.array_equal(res, plain + x)  # y = F(x) + x, bit for bit


# Backward three ways ----------------------------------------------------------------------


@pytest.mark.claim("d002.res.jacobian", "d002.res.product")
@given(
    seed=seeds,
    width=st.integers(1, 4),
    depth=st.integers(1, 4),
    batch=st.integers(0, 3),
    act=st.sampled_from(ACTS),
    residual=st.booleans(),
    bias=st.booleans(),
)
def test_backward_three_ways(seed, width, depth, batch, act, residual, bias):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    ws, bs = _stack(rng, depth, width, scale=1.0)
    bs = bs if bias else None
    g = rng.standard_normal((batch, width))
    got = K.residual_mlp_backward(g, x, ws, bs, act, residual)
    # torch autograd
    xt = T(x).requires_grad_()
    wt = [T(w).requires_grad_() for w in ws]
    bt = [T(b).requires_grad_() for b in bs] if bias else None
    out = torch_stack(xt, wt, bt, act, residual)
    assert_close(K.residual_mlp(x, ws, bs, act, residual), out.detach().numpy(), np.float64)
    (out * T(g)).sum().backward()
    assert_close(got["input"], xt.grad.numpy(), np.float64)
    for i in range(depth):
        assert_close(got["weights"][i], wt[i].grad.numpy(), np.float64)
        if bias:
            assert_close(got["biases"][i], bt[i].grad.numpy(), np.float64)
    assert (got["biases"] is None) == (not bias)
    # central differences (away from ReLU's kink)
    if act == "relu" and batch:
        y = x
        for i, w in enumerate(ws):
            h = y @ w.T + (bs[i] if bias else 0)
            assume(np.abs(h).min() > 1e-4)
            y = y + np.maximum(h, 0) if residual else np.maximum(h, 0)
    if batch:
        fd_x = central_difference(lambda v: K.residual_mlp(v, ws, bs, act, residual), x, g)
        assert_grad_close(got["input"], fd_x)
        last = depth - 1

        def f_w(w):
            return K.residual_mlp(x, [*ws[:last], w], bs, act, residual)

        assert_grad_close(got["weights"][last], central_difference(f_w, ws[last], g))
        if bias:

            def f_b(b):
                return K.residual_mlp(x, ws, [*bs[:-1], b], act, residual)

            assert_grad_close(got["biases"][last], central_difference(f_b, bs[last], g))


@pytest.mark.claim("d002.res.jacobian")
def test_block_jacobian_derivation_agrees():
    d = R.derive_block_jacobian()
    assert d.agrees(), d.to_markdown()
    assert d.scope.startswith("proved")


@pytest.mark.claim("d002.res.jacobian")
@given(seed=seeds, width=st.integers(1, 5), act=st.sampled_from(ACTS))
def test_block_jacobian_is_I_plus_dF_dx(seed, width, act):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, width))
    ws, bs = _stack(rng, 1, width, scale=1.0)

    def block(v):
        return torch_stack(v, [T(ws[0])], [T(bs[0])], act, True)

    def F(v):
        return torch_stack(v, [T(ws[0])], [T(bs[0])], act, False)

    jy = torch.autograd.functional.jacobian(block, T(x))[0, :, 0, :].numpy()
    jf = torch.autograd.functional.jacobian(F, T(x))[0, :, 0, :].numpy()
    assert_close(jy, jf + np.eye(width), np.float64)
    # the kernel's backward is the row-vector product g (dF/dx + I)
    g = rng.standard_normal((1, width))
    got = K.residual_mlp_backward(g, x, ws, bs, act, True)["input"]
    assert_close(got, g @ (jf + np.eye(width)), np.float64)


@pytest.mark.claim("d002.res.identity-flow", "d002.res.q4-gradient")
@given(seed=seeds, width=st.integers(1, 5), depth=st.integers(1, 6))
def test_identity_flow_when_dF_dx_is_zero(seed, width, depth):
    """dF/dx = 0: W = 0 (any activation), or ReLU with every unit off (b << 0): the gradient
    passes every block unchanged, bit for bit."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, width))
    g = rng.standard_normal((3, width))
    zero = [np.zeros((width, width)) for _ in range(depth)]
    for act in ACTS:
        got = K.residual_mlp_backward(g, x, zero, None, act, True)["input"]
        assert np.array_equal(got, g)
    ws, _ = _stack(rng, depth, width)
    off = [np.full(width, -1e6) for _ in range(depth)]  # every ReLU off
    got = K.residual_mlp_backward(g, x, ws, off, "relu", True)
    assert np.array_equal(got["input"], g)
    # the plain stack loses the whole gradient there
    assert not K.residual_mlp_backward(g, x, ws, off, "relu", False)["input"].any()


# The product over L blocks ------------------------------------------------------------------


@pytest.mark.claim("d002.res.product")
@pytest.mark.parametrize("num_blocks", [1, 2, 3, 4])
def test_product_derivation_agrees(num_blocks):
    d = R.derive_residual_product(num_blocks)
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d002.res.product")
@given(seed=seeds, width=st.integers(1, 4), depth=st.integers(1, 5), act=st.sampled_from(ACTS))
def test_stack_jacobian_is_ordered_product(seed, width, depth, act):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, width))
    ws, bs = _stack(rng, depth, width, scale=1.0)
    wt, bt = [T(w) for w in ws], [T(b) for b in bs]
    full = torch.autograd.functional.jacobian(lambda v: torch_stack(v, wt, bt, act, True), T(x))[
        0, :, 0, :
    ].numpy()
    prod = np.eye(width)
    y = T(x)
    for i in range(depth):
        jf = torch.autograd.functional.jacobian(
            lambda v, i=i: torch_stack(v, wt[i : i + 1], bt[i : i + 1], act, False), y
        )[0, :, 0, :].numpy()
        prod = (jf + np.eye(width)) @ prod  # later blocks on the left
        y = torch_stack(y, wt[i : i + 1], bt[i : i + 1], act, True)
    assert_close(full, prod, np.float64)


# 2^L paths ---------------------------------------------------------------------------------


@pytest.mark.claim("d002.res.paths", "d002.res.q4-paths")
@pytest.mark.parametrize("num_blocks", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("commutative", [True, False])
def test_expansion_has_2_to_the_L_terms(num_blocks, commutative):
    e = R.expand_residual_product(num_blocks, commutative=commutative)
    terms = sympy.Add.make_args(e)
    assert len(terms) == 2**num_blocks == R.path_count(num_blocks)
    assert all(t.as_coeff_Mul()[0] == 1 for t in terms)  # every path counted once
    lengths = [len(sympy.Mul.make_args(t)) if t != 1 else 0 for t in terms]
    assert {k: lengths.count(k) for k in set(lengths)} == R.path_length_distribution(num_blocks)
    if not commutative:
        for t in terms:  # factors in decreasing block order: the last block leftmost
            idx = [int(str(f)[1:]) for f in sympy.Mul.make_args(t) if t != 1]
            assert idx == sorted(idx, reverse=True)


@pytest.mark.claim("d002.res.paths", "d002.res.product")
@given(seed=seeds, num_blocks=st.integers(1, 4), width=st.integers(1, 3))
@settings(max_examples=20)
def test_noncommutative_expansion_equals_matrix_product(seed, num_blocks, width):
    rng = np.random.default_rng(seed)
    e = R.expand_residual_product(num_blocks, commutative=False)
    mats = [rng.integers(-3, 4, (width, width)) for _ in range(num_blocks)]
    prod = np.eye(width, dtype=np.int64)
    for m in mats:
        prod = (np.eye(width, dtype=np.int64) + m) @ prod
    total = np.zeros((width, width), dtype=np.int64)
    for t in sympy.Add.make_args(e):
        term = np.eye(width, dtype=np.int64)
        if t != 1:
            for f in sympy.Mul.make_args(t):
                term = term @ mats[int(str(f)[1:]) - 1]
        total += term
    assert np.array_equal(total, prod)  # exact integers


@pytest.mark.claim("d002.res.paths")
@pytest.mark.parametrize("num_blocks", [0, 1, 2, 7, 30, 200])
def test_path_length_distribution_is_binomial_half(num_blocks):
    dist = R.path_length_distribution(num_blocks)
    total = sum(dist.values())
    assert total == 2**num_blocks == R.path_count(num_blocks)
    mean = sympy.Rational(sum(k * c for k, c in dist.items()), total)
    var = sympy.Rational(sum(k * k * c for k, c in dist.items()), total) - mean**2
    assert mean == sympy.Rational(num_blocks, 2) and var == sympy.Rational(num_blocks, 4)
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    assert R.path_count(n) == 2**n


@pytest.mark.claim("d002.res.paths", "d002.res.ensemble", "d002.res.q4-paths")
@given(seed=seeds, width=st.integers(1, 4), depth=st.integers(1, 7), batch=st.integers(0, 3))
def test_output_is_the_sum_over_paths_not_the_average(seed, width, depth, batch):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    ws, _ = _stack(rng, depth, width, scale=1.0)
    out = K.residual_mlp(x, ws, None, "linear", True)
    paths = K.path_sum(x, ws)
    by_len = K.path_sum(x, ws, by_length=True)
    assert by_len.shape == (depth + 1, batch, width)
    assert_close(paths, out, np.float64)
    assert_close(by_len.sum(axis=0), out, np.float64)
    assert np.array_equal(by_len[0], x)  # the empty path is the identity
    assert_close(by_len[depth], x @ np.linalg.multi_dot([np.eye(width), *[w.T for w in ws]]),
                 np.float64)  # fmt: skip
    # the average of the 2^L paths is the output divided by 2^L: not the output
    avg = paths / R.path_count(depth)
    if batch:
        gap = np.linalg.norm(avg - out) / np.linalg.norm(out)
        assert abs(gap - (1 - 2.0**-depth)) < 1e-9


@pytest.mark.claim("d002.res.paths", "d002.res.path-lengths")
@given(width=st.integers(1, 3), depth=st.integers(1, 8), s=st.fractions(-2, 2, max_denominator=8))
def test_length_k_paths_of_scalar_blocks_sum_to_binomial_terms(width, depth, s):
    """With W_l = s I every length-k path is s^k x: the length-k part is C(L,k) s^k x,
    exactly :func:`path_length_contributions` (for s >= 0)."""
    x = np.arange(1.0, width + 1)[None]
    ws = [float(s) * np.eye(width) for _ in range(depth)]
    by_len = K.path_sum(x, ws, by_length=True)
    for k in range(depth + 1):
        assert_close(by_len[k], math.comb(depth, k) * float(s) ** k * x, np.float64)
    if s >= 0:
        contrib = R.path_length_contributions(depth, sympy.Rational(s.numerator, s.denominator))
        assert sum(contrib.values()) == (1 + sympy.Rational(s.numerator, s.denominator)) ** depth
        for k, c in contrib.items():
            assert_close(by_len[k], float(c) * x, np.float64)


@pytest.mark.claim("d002.res.path-lengths")
@given(num_blocks=st.integers(0, 60), s=st.fractions(0, 5, max_denominator=12))
def test_dominant_path_length_is_the_argmax(num_blocks, s):
    gain = sympy.Rational(s.numerator, s.denominator)
    contrib = R.path_length_contributions(num_blocks, gain)
    best = max(contrib.values())
    k = R.dominant_path_length(num_blocks, gain)
    assert contrib[k] == best
    assert all(contrib[j] < best for j in contrib if j > k)  # the largest argmax
    if gain < 1:
        assert 2 * k < num_blocks + 1  # short paths dominate


# When does the identity prevent vanishing? --------------------------------------------------


@pytest.mark.claim("d002.res.prevents-vanishing", "d002.res.q4-gradient")
@pytest.mark.parametrize("depth", [1, 2, 5, 20, 60])
def test_counterexample_minus_half_vanishes_as_2_to_minus_L(depth):
    """F(x) = -x/2 in every block (linear, W = -I/2): the gradient is exactly 2^-L times the
    upstream one (powers of two are exact in float64); the derivation gives (1/2)^L."""
    width = 3
    x = np.array([[1.0, -2.0, 0.5]])
    g = np.array([[1.0, 3.0, -2.0]])
    ws = [-0.5 * np.eye(width) for _ in range(depth)]
    got = K.residual_mlp_backward(g, x, ws, None, "linear", True)["input"]
    assert np.array_equal(got, g * 2.0**-depth)
    # the same with ReLU blocks whose units are all on: F(x) = relu(-x/2 + b), b = 100 (the
    # forward converges to y = 200, where h = 0 is reached in float64 after ~50 blocks: so
    # only up to 20 blocks here)
    if depth <= 20:
        b = [np.full(width, 100.0) for _ in range(depth)]
        got = K.residual_mlp_backward(g, x, ws, b, "relu", True)["input"]
        assert np.array_equal(got, g * 2.0**-depth)
    d = R.derive_prevents_vanishing()
    assert not d.agrees()
    nb = sympy.Symbol("L", integer=True, positive=True)
    assert d.derived.subs(nb, depth) == sympy.Rational(1, 2**depth)
    assert R.residual_gradient_bounds([sympy.Rational(1, 2)] * depth) == (
        sympy.Rational(1, 2**depth),
        sympy.Rational(3**depth, 2**depth),
    )


@pytest.mark.claim("d002.res.prevents-vanishing", "d002.res.q4-gradient")
def test_counterexample_minus_identity_kills_the_gradient_in_one_block():
    x, g = np.array([[1.0, -2.0]]), np.array([[1.0, 3.0]])
    got = K.residual_mlp_backward(g, x, [-np.eye(2)], None, "linear", True)["input"]
    assert not got.any()
    lower, _ = R.residual_gradient_bounds([1])
    assert lower == 0


@pytest.mark.claim("d002.res.prevents-vanishing")
@given(
    seed=seeds,
    width=st.integers(1, 5),
    norms=st.lists(st.floats(0, 0.99), min_size=1, max_size=8),
)
def test_gradient_bounds_hold_and_are_attained(seed, width, norms):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(width)
    prod = v.copy()
    for n in norms:
        j = rng.standard_normal((width, width))
        j *= n / max(np.linalg.norm(j, 2), 1e-300)
        prod = prod @ (np.eye(width) + j)
    lower, upper = (float(b) for b in R.residual_gradient_bounds(norms))
    gain = np.linalg.norm(prod) / np.linalg.norm(v)
    slack = 1e-12 * len(norms)
    assert lower * (1 - slack) <= gain <= upper * (1 + slack)
    assert lower > 0 and lower >= 1 - sum(norms) - slack  # Weierstrass
    # attained by J = -n I (lower) and J = +n I (upper)
    lo = np.linalg.norm(v * np.prod([1 - n for n in norms])) / np.linalg.norm(v)
    hi = np.linalg.norm(v * np.prod([1 + n for n in norms])) / np.linalg.norm(v)
    assert abs(lo - lower) <= 1e-12 * max(lower, 1e-300) + 1e-300
    assert abs(hi - upper) <= 1e-12 * upper


@pytest.mark.claim("d002.res.prevents-vanishing")
def test_gradient_bounds_exact_values():
    half, two = sympy.Rational(1, 2), sympy.Integer(2)
    assert R.residual_gradient_bounds([]) == (1, 1)
    assert R.residual_gradient_bounds([half, two]) == (0, sympy.Rational(9, 2))  # clipped
    assert R.residual_gradient_bounds([two, two]) == (0, 9)  # not (1-2)^2 = 1
    assert R.residual_gradient_bounds([0, sympy.Rational(1, 4)]) == (
        sympy.Rational(3, 4),
        sympy.Rational(5, 4),
    )


@pytest.mark.claim("d002.res.prevents-vanishing")
@given(seed=seeds, scale=st.sampled_from([1.0, 0.25]), act=st.sampled_from(ACTS))
@settings(max_examples=10)
def test_measured_gains_lie_within_the_derived_bounds(seed, scale, act):
    """Every sample's gradient norm after k blocks lies in [prod(1-|W|)_+, prod(1+|W|)]
    (|J_l| <= |W_l| since |phi'| <= 1), seeds drawn by hypothesis."""
    p = X.depth_gradient_profile(12, 16, 8, scale, True, act, seed % 2**31)
    assert np.all(p["min"] >= p["lower"] * (1 - 1e-12))
    assert np.all(p["max"] <= p["upper"] * (1 + 1e-12))
    q = X.depth_gradient_profile(12, 16, 8, scale, False, act, seed % 2**31)
    assert np.all(q["max"] <= q["upper"] * (1 + 1e-12))  # plain: prod |W_l|


@pytest.mark.claim("d002.res.prevents-vanishing")
@given(seed=seeds, depth=st.integers(1, 6), residual=st.booleans())
@settings(max_examples=10)
def test_profile_bounds_are_the_theory_bounds_of_the_blocks_traversed(seed, depth, residual):
    """After k blocks backward the bounds use the norms of the *last* k blocks: residual
    prod(1 -+ |W_l|) (theory.residual.residual_gradient_bounds), plain prod |W_l|."""
    p = X.depth_gradient_profile(depth, 5, 2, 1.5, residual, "relu", seed % 2**31)
    norms = p["norms"]
    assert p["median"][0] == pytest.approx(1.0, rel=1e-12)  # unit upstream gradient
    for k in range(depth + 1):
        top = [float(n) for n in norms[depth - k :]]
        if residual:
            lower, upper = (float(b) for b in R.residual_gradient_bounds(top))
        else:
            lower, upper = float(k == 0), float(np.prod(top))
        assert p["lower"][k] == pytest.approx(lower, rel=1e-12, abs=1e-300)
        assert p["upper"][k] == pytest.approx(upper, rel=1e-12)


@pytest.mark.claim("d002.res.jacobian")
@pytest.mark.parametrize("residual", [True, False])
def test_relu_derivative_at_zero_is_zero_as_torch(residual):
    """Pre-activations exactly 0 (x = 0, b = 0): torch's ReLU passes no gradient there."""
    x, g = np.zeros((2, 3)), np.arange(6.0).reshape(2, 3) - 2
    ws = [np.arange(9.0).reshape(3, 3) / 10 for _ in range(2)]
    bs = [np.zeros(3) for _ in range(2)]
    xt = T(x).requires_grad_()
    torch_stack(xt, [T(w) for w in ws], [T(b) for b in bs], "relu", residual).mul(
        T(g)
    ).sum().backward()
    got = K.residual_mlp_backward(g, x, ws, bs, "relu", residual)["input"]
    assert np.array_equal(got, xt.grad.numpy())
    assert np.array_equal(got, g if residual else 0 * g)


@pytest.mark.claim("d002.res.prevents-vanishing", "d002.res.identity-flow")
def test_measured_depth_profile_default_and_scaled_init():
    """The figure's numbers (seed 0, depth 50, width 64, batch 64, ReLU). Default init
    (U(+-1/sqrt d)): mean |W_l|_2 = 1.107 (finite-size: the d -> oo edge is 2/sqrt 3 = 1.155),
    so the lower bound is 0; the plain stack's median gain after 50 blocks is 1.6e-20
    (vanishes), the residual one's 4.5e3 (grows). Scale 1/4: mean |W_l| = 0.277, lower bound
    9.3e-8 > 0 after 50 blocks; the residual median is 1.63, the plain one 9.8e-51."""
    default = X.depth_gradient_profile(50, 64, 64, 1.0, True, "relu", 0)
    plain = X.depth_gradient_profile(50, 64, 64, 1.0, False, "relu", 0)
    assert 1.05 < default["norms"].mean() < 2 / math.sqrt(3)
    assert default["lower"][-1] == 0
    assert 1e3 < default["median"][-1] < 1e4 and plain["median"][-1] < 1e-19
    assert np.all(np.diff(plain["median"]) < 0)  # decreases at every block
    scaled = X.depth_gradient_profile(50, 64, 64, 0.25, True, "relu", 0)
    plain_s = X.depth_gradient_profile(50, 64, 64, 0.25, False, "relu", 0)
    assert np.all(scaled["norms"] < 1) and scaled["lower"][-1] > 9e-8
    assert np.all(scaled["min"] >= scaled["lower"] * (1 - 1e-12))  # rounding of the unit norm
    assert 1.5 < scaled["median"][-1] < 1.8 and plain_s["median"][-1] < 1e-49


# Ensemble and path lengths during training ----------------------------------------------------


@pytest.mark.claim("d002.res.path-lengths")
@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=8)
def test_training_shifts_weight_to_longer_paths(seed):
    """Linear residual stack (L = 8, d = 8, weights x 1/4): at init the length-k parts fall
    with k (short paths dominate); after 300 steps of gradient descent towards a random map
    far from I the mean path length (weighted by |M_k|_F) has grown. Seed 0: 0.485 -> 1.542
    (L/2 = 4: still short), loss 13.19 -> 0.202."""
    r = X.path_length_shares(8, 8, 0.25, 300, 0.01, seed)
    assert np.all(np.diff(r["before"]) < 0)
    assert r["loss"][1] < r["loss"][0]
    assert r["mean_length_after"] > r["mean_length_before"]
    assert r["mean_length_after"] < 4  # below the uniform path-count mean L/2


@pytest.mark.claim("d002.res.path-lengths")
def test_training_path_lengths_seed_zero():
    r = X.path_length_shares(8, 8, 0.25, 300, 0.01, 0)
    assert abs(float(r["mean_length_before"]) - 0.4848) < 1e-3
    assert abs(float(r["mean_length_after"]) - 1.5424) < 1e-3
    assert r["before"][0] == pytest.approx(math.sqrt(8))  # |I|_F: the empty path


# Learns the residual -----------------------------------------------------------------------


@pytest.mark.claim("d002.res.learns-residual", "d002.res.q4-residuals")
def test_learns_residual_derivation_agrees():
    d = R.derive_learns_residual()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d002.res.learns-residual", "d002.res.q4-residuals")
@given(seed=seeds, width=st.integers(1, 5), batch=st.integers(1, 4))
def test_identity_needs_F_zero_and_plain_relu_cannot(seed, width, batch):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    x[0, 0] = -abs(x[0, 0]) - 0.1  # a negative coordinate
    zero_w, zero_b = [np.zeros((width, width))], [np.zeros(width)]
    assert np.array_equal(K.residual_mlp(x, zero_w, zero_b, "relu", True), x)
    ws, bs = _stack(rng, 1, width, scale=3.0)
    plain = K.residual_mlp(x, ws, bs, "relu", False)
    assert plain.min() >= 0 and not np.array_equal(plain, x)
    # the residual block fits target H by F = H - x: with H = x it must output F = 0
    res = K.residual_mlp(x, ws, bs, "relu", True)
    assert_close(res - x, K.residual_mlp(x, ws, bs, "relu", False), np.float64)


def test_figure_is_a_png():
    png = X.depth_gradient_figure(depth=6, width=8, batch=4, seed=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


@pytest.mark.claim("d002.res.path-lengths")
def test_long_paths_dominate_when_the_gain_exceeds_one():
    """The ledger's counterexample: at gain 1.107 (mean spectral norm of torch's default ReLU
    blocks at width 64, measured) and L = 50 the dominant path length is 26 > L/2; at gain
    1/4 it is 10, at 1/3 and L = 10 it is 2 (short paths)."""
    assert R.dominant_path_length(50, sympy.Rational(1107, 1000)) == 26
    assert R.dominant_path_length(50, sympy.Rational(1, 4)) == 10
    assert R.dominant_path_length(10, sympy.Rational(1, 3)) == 2


@pytest.mark.claim("d002.res.path-lengths")
def test_short_paths_dominate_at_torch_default_init():
    """Linear blocks with torch's default nn.Linear weights (U(+-1/sqrt(d)), width 64, L = 50):
    the Frobenius norm of the length-k part of the stack's Jacobian (dynamic programming over
    the ordered expansion) peaks at k of about 12 — short paths, although the blocks' mean
    spectral norm is about 1.1; the scalar model W = sI with s = 1.107 would put the peak at
    26 (test above): the counterexample needs gains above 1 in every direction."""
    for seed in range(2):
        rng = np.random.default_rng(seed)
        d, depth = 64, 50
        a = 1 / np.sqrt(d)
        ws = [rng.uniform(-a, a, (d, d)) for _ in range(depth)]
        parts = [np.eye(d)] + [np.zeros((d, d))] * depth
        for w in ws:
            parts = [parts[0]] + [parts[k] + parts[k - 1] @ w.T for k in range(1, depth + 1)]
        norms = [np.linalg.norm(m) for m in parts]
        assert 8 <= int(np.argmax(norms)) <= 16 < depth // 2
        assert 1.0 < np.mean([np.linalg.norm(w, 2) for w in ws]) < 1.2


@pytest.mark.claim("d002.res.q4-paths")
def test_resnet34_has_two_to_the_sixteen_paths_not_two_to_the_34():
    """2^L counts residual blocks, not layers: ResNet-34 (34 weighted layers on its main path)
    has 16 two-layer basic blocks, so 2^16 paths."""
    from theory.architectures import resnet

    spec = resnet((3, 4, 6, 3))
    adds = sum(node.op == "add" for node in spec.nodes)
    assert adds == 16
    assert R.path_count(adds) == 2**16 != 2**34
