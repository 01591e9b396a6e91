"""Linear, low-rank and block-sparse layers: theory ⇄ NumPy kernels ⇄ torch.

Claims: theory/claims/linear.yaml. Helpers: theory.linear. Kernels: kernels.cpu.linear.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from kernels.cpu import layers
from kernels.cpu.linear import linear, linear_backward
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.opcount import MacCounter
from numerics.tolerances import assert_close
from tests.assertions import assert_equal, context
from tests.strategies import dims
from theory import linear as th

m_, n_, r_ = sympy.symbols("m n r", integer=True, positive=True)
seeds = st.integers(0, 2**32 - 1)


def _rand(rng: np.random.Generator, *shape: int, dtype=np.float64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- definition


@pytest.mark.claim("d000.linear.definition", "d002.linear.definition", "d000.linear.batch-form")
@given(
    b=st.integers(1, 5),
    n=st.integers(1, 9),
    m=st.integers(1, 9),
    seed=seeds,
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_linear_forward_matches_torch_and_the_componentwise_formula(b, n, m, seed, dtype):
    rng = np.random.default_rng(seed)
    x, w, bias = (
        _rand(rng, b, n, dtype=dtype),
        _rand(rng, m, n, dtype=dtype),
        _rand(rng, m, dtype=dtype),
    )
    y = linear(x, w, bias)
    ctx = context("d000.linear.definition", b=b, n=n, m=m, seed=seed, dtype=dtype.__name__)
    assert y.shape == (b, m) and y.dtype == dtype, ctx
    torch_y = F.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias)).numpy()
    mag = np.abs(x) @ np.abs(w).T + np.abs(bias)
    assert_close(y, torch_y, dtype, reduction_length=n + 1, magnitude=mag, context=ctx)
    # y_i = sum_j w_ij x_j + b_i, written out in float64 with Python sums.
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64)
    explicit = np.array(
        [
            [sum(w64[i, j] * x64[s, j] for j in range(n)) + b64[i] for i in range(m)]
            for s in range(b)
        ]
    )
    assert_close(y, explicit, dtype, reduction_length=n + 1, magnitude=mag, context=ctx)


# --------------------------------------------------------------------------- counts


@pytest.mark.claim("d000.linear.param-count", "d002.linear.param-count")
def test_param_count_symbolic_identity():
    d = th.derive_linear_params()
    assert d.agrees(), d.to_markdown()
    assert sympy.expand(th.linear_params(n_, m_) - (m_ * n_ + m_)) == 0
    assert th.linear_params(n_, m_, bias=False) == m_ * n_


@pytest.mark.claim("d000.linear.param-count", "d002.linear.param-count")
@given(n=dims, m=dims, bias=st.booleans())
def test_param_count_matches_kernel_layer_and_torch(n, m, bias):
    expected = th.linear_params(n, m, bias=bias)
    ours = layers.Linear(n, m, bias=bias).num_params()
    torchs = sum(p.numel() for p in torch.nn.Linear(n, m, bias=bias, device="meta").parameters())
    repro = f"theory.linear.linear_params({n}, {m}, bias={bias})"
    assert_equal(ours, expected, "d000.linear.param-count", repro, n=n, m=m, bias=bias)
    assert_equal(torchs, expected, "d000.linear.param-count", repro, n=n, m=m, bias=bias)
    if bias:
        assert expected == m * (n + 1)


@pytest.mark.claim("d000.linear.cost", "d002.linear.cost")
def test_cost_derivation():
    d = th.derive_linear_cost()
    assert d.agrees(), d.to_markdown()
    b = sympy.Symbol("B", integer=True, positive=True)
    assert th.linear_backward_macs(n_, m_, b) == 2 * b * m_ * n_


@pytest.mark.claim("d000.linear.cost", "d002.linear.cost")
@given(b=st.integers(1, 6), n=st.integers(1, 12), m=st.integers(1, 12))
def test_macs_counted_by_kernel_and_by_torch(b, n, m):
    rng = np.random.default_rng(0)
    x, w, bias = _rand(rng, b, n), _rand(rng, m, n), _rand(rng, m)
    with MacCounter() as fwd:
        linear(x, w, bias)
    with MacCounter() as bwd:
        linear_backward(_rand(rng, b, m), x, w)
    ctx = dict(b=b, n=n, m=m)
    assert_equal(fwd.macs, th.linear_macs(n, m, b), "d000.linear.cost", **ctx)
    assert_equal(fwd.adds, b * m, "d000.linear.cost", **ctx)  # the bias, counted apart
    assert_equal(bwd.macs, th.linear_backward_macs(n, m, b), "d000.linear.cost", **ctx)
    # torch: FlopCounterMode reports FLOPs = 2 MACs for addmm/mm (forward and backward).
    lin = torch.nn.Linear(n, m)
    xt = torch.from_numpy(x).float().requires_grad_()
    with FlopCounterMode(display=False) as fc:
        out = lin(xt)
    assert_equal(fc.get_total_flops(), 2 * th.linear_macs(n, m, b), "d000.linear.cost", **ctx)
    with FlopCounterMode(display=False) as fc:
        out.sum().backward()
    assert_equal(
        fc.get_total_flops(), 2 * th.linear_backward_macs(n, m, b), "d000.linear.cost", **ctx
    )


@pytest.mark.claim("d000.linear.cost")
@given(
    b=st.integers(1, 4),
    n=st.integers(1, 9),
    m=st.integers(1, 9),
    input_grad=st.booleans(),
    weight_grad=st.booleans(),
)
def test_backward_macs_of_each_gradient_match_torch(b, n, m, input_grad, weight_grad):
    """Only the requested gradients are computed (frozen weight, input without grad)."""
    if not (input_grad or weight_grad):
        assert th.linear_backward_macs(n, m, b, False, False) == 0
        return
    lin = torch.nn.Linear(n, m, device="meta").requires_grad_(weight_grad)
    x = torch.empty(b, n, device="meta", requires_grad=input_grad)
    out = lin(x)
    with FlopCounterMode(display=False) as fc:
        out.backward(torch.empty_like(out))
    assert_equal(
        fc.get_total_flops(),
        2 * th.linear_backward_macs(n, m, b, input_grad=input_grad, weight_grad=weight_grad),
        "d000.linear.cost",
        b=b,
        n=n,
        m=m,
        input_grad=input_grad,
        weight_grad=weight_grad,
    )


# --------------------------------------------------------------------------- gradients


@pytest.mark.claim("d000.linear.input-gradient")
@given(b=st.integers(1, 3), n=st.integers(1, 5), m=st.integers(1, 5), seed=seeds)
def test_gradients_three_ways(b, n, m, seed):
    """Hand-written backward = torch autograd = float64 central differences."""
    rng = np.random.default_rng(seed)
    x, w, bias, g = _rand(rng, b, n), _rand(rng, m, n), _rand(rng, m), _rand(rng, b, m)
    dx, dw, db = linear_backward(g, x, w, bias)
    # the claim as written, per sample: dL/dx = W^T dL/dy
    for s in range(b):
        assert_close(
            dx[s], w.T @ g[s], np.float64, reduction_length=m, magnitude=np.abs(w).T @ np.abs(g[s])
        )
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, bias))
    F.linear(xt, wt, bt).backward(torch.from_numpy(g))
    ctx = context("d000.linear.input-gradient", b=b, n=n, m=m, seed=seed)
    for ours, theirs in ((dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        assert_close(
            ours,
            theirs.numpy(),
            np.float64,
            reduction_length=max(b, m),
            magnitude=np.abs(theirs.numpy()) + 1,
            context=ctx,
        )
    assert_grad_close(dx, central_difference(lambda v: linear(v, w, bias), x.copy(), g), ctx)
    assert_grad_close(dw, central_difference(lambda v: linear(x, v, bias), w.copy(), g), ctx)
    assert_grad_close(db, central_difference(lambda v: linear(x, w, v), bias.copy(), g), ctx)


@pytest.mark.claim("d000.linear.gradient-bound")
@given(n=st.integers(1, 8), m=st.integers(1, 8), seed=seeds)
def test_gradient_bound_readings(n, m, seed):
    """Euclidean reading: holds with the spectral norm (tight) and with the Frobenius norm."""
    rng = np.random.default_rng(seed)
    w, g = _rand(rng, m, n), _rand(rng, m)
    lhs = np.linalg.norm(w.T @ g)
    spectral = np.linalg.norm(w, 2)
    slack = 1e-12 * (1 + lhs)
    assert lhs <= spectral * np.linalg.norm(g) + slack
    assert lhs <= np.linalg.norm(w, "fro") * np.linalg.norm(g) + slack
    u, _, _ = np.linalg.svd(w)
    top = u[:, 0]  # equality for the top left singular vector
    assert abs(np.linalg.norm(w.T @ top) - spectral) <= 1e-12 * (1 + spectral)


# --------------------------------------------------------------------------- rank / geometry


@pytest.mark.claim("d002.linear.rank-bound", "d002.linear.dim-reduction")
@given(n=st.integers(1, 8), m=st.integers(1, 8), r=st.integers(0, 8), seed=seeds)
def test_rank_bound_and_dimension_reduction(n, m, r, seed):
    rng = np.random.default_rng(seed)
    r = min(r, n, m)
    w = _rand(rng, m, r) @ _rand(rng, r, n)  # rank r (almost surely)
    rank = np.linalg.matrix_rank(w)
    assert rank <= min(m, n)
    assert rank == r
    if m < n:  # a non-trivial null space: two inputs, one output
        null = np.linalg.svd(w)[2][-1]
        assert np.linalg.norm(w @ null) < 1e-9 and np.linalg.norm(null) == pytest.approx(1)


@pytest.mark.claim("d002.linear.rank-subspace", "d000.linear.rank-output-dim")
@given(n=st.integers(1, 6), m=st.integers(1, 6), r=st.integers(0, 6), seed=seeds)
def test_outputs_span_an_affine_subspace_of_dimension_rank(n, m, r, seed):
    rng = np.random.default_rng(seed)
    r = min(r, n, m)
    w = _rand(rng, m, r) @ _rand(rng, r, n)
    b = _rand(rng, m)
    xs = _rand(rng, n + 3, n)
    ys = linear(xs, w, b)
    # Differences of outputs span col(W): dimension exactly r.
    assert np.linalg.matrix_rank(ys - ys[0], tol=1e-8) == r
    # The outputs themselves span r + 1 dimensions unless b lies in col(W).
    proj = w @ np.linalg.lstsq(w, b, rcond=None)[0] if r else np.zeros(m)
    b_in_col = np.linalg.norm(b - proj) < 1e-8
    assert np.linalg.matrix_rank(ys, tol=1e-8) == r + (0 if b_in_col else 1)


@pytest.mark.claim("d002.linear.rank-subspace", "d000.linear.rank-output-dim")
def test_rank_subspace_minimal_counterexample():
    y = linear(np.array([[0.0], [5.0], [-2.0]]), np.zeros((1, 1)), np.ones(1))
    assert (y == 1).all()  # rank 0, outputs never in {0}


@pytest.mark.claim("d002.linear.svd-rotations")
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=seeds)
def test_svd_factors_are_orthogonal_and_can_be_rotations_unless_det_negative(n, m, seed):
    rng = np.random.default_rng(seed)
    w = _rand(rng, m, n)
    u, s, vt = np.linalg.svd(w)
    for q in (u, vt):
        assert np.allclose(q.T @ q, np.eye(len(q)), atol=1e-12)
    sigma = np.zeros((m, n))
    sigma[: len(s), : len(s)] = np.diag(s)
    assert np.allclose(u @ sigma @ vt, w, atol=1e-10)
    du, dv = np.linalg.det(u), np.linalg.det(vt)
    if m == n and np.linalg.det(w) < 0:
        assert du * dv == pytest.approx(-1)  # one factor must be a reflection
    else:  # flip signs to make both rotations, keeping W = U Σ V^T
        # A column of U (row of V^T) outside the range of Σ can flip alone; a matched pair
        # (u_0, v_0) can flip together.
        if np.linalg.det(vt) < 0:
            if n > m:
                vt[-1] *= -1
            else:
                vt[0] *= -1
                u[:, 0] *= -1
        if np.linalg.det(u) < 0:
            if m > n:
                u[:, -1] *= -1
            else:
                assert n > m, "square W with det >= 0 has det U det V = +1"
                u[:, 0] *= -1
                vt[0] *= -1
                vt[-1] *= -1
        assert np.linalg.det(u) > 0 and np.linalg.det(vt) > 0
        assert np.allclose(u @ sigma @ vt, w, atol=1e-10)


@pytest.mark.claim("d002.linear.svd-rotations")
def test_svd_reflection_counterexample():
    u, _, vt = np.linalg.svd(np.diag([1.0, -1.0]))
    assert np.linalg.det(u) * np.linalg.det(vt) == pytest.approx(-1)


# --------------------------------------------------------------------------- low rank


@pytest.mark.claim("d000.linear.lowrank-count")
def test_lowrank_derivation():
    d = th.derive_lowrank()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.linear.lowrank-count")
@given(
    n=st.integers(1, 10),
    m=st.integers(1, 10),
    r=st.integers(1, 10),
    b=st.integers(1, 4),
    seed=seeds,
)
def test_lowrank_layer_counts_and_output(n, m, r, b, seed):
    layer = layers.LowRankLinear(n, m, r, bias=True, rng=np.random.default_rng(seed))
    assert_equal(
        layer.num_params(), th.lowrank_params(n, m, r), "d000.linear.lowrank-count", n=n, m=m, r=r
    )
    x = _rand(np.random.default_rng(seed + 1), b, n)
    with MacCounter() as c:
        y = layer(x)
    assert_equal(c.macs, th.lowrank_macs(n, m, r, b), "d000.linear.lowrank-count", n=n, m=m, r=r)
    u, v, bias = (torch.from_numpy(layer.params[k]) for k in ("u", "v", "bias"))
    torch_y = F.linear(F.linear(torch.from_numpy(x), v), u, bias).numpy()
    assert_close(
        y,
        torch_y,
        np.float64,
        reduction_length=n * r + 1,
        magnitude=np.abs(x) @ np.abs(layer.params["v"]).T @ np.abs(layer.params["u"]).T
        + np.abs(layer.params["bias"]),
    )
    assert th.lowrank_compression(n, m, r) == sympy.Rational(m * n, r * (m + n))


@pytest.mark.claim("d000.linear.lowrank-saving")
@given(n=st.integers(1, 40), m=st.integers(1, 40), r=st.integers(1, 40))
@example(n=3, m=3, r=2)
def test_lowrank_saves_iff_rank_below_break_even(n, m, r):
    saves = th.lowrank_params(n, m, r, bias=False) < th.linear_params(n, m, bias=False)
    assert saves == (r < th.lowrank_break_even_rank(n, m))
    assert th.lowrank_break_even_rank(n, m) < min(m, n)  # so r < min(m, n) is not enough


@pytest.mark.claim("d000.linear.lowrank-saving")
def test_lowrank_saving_counterexample_and_break_even_below_min():
    assert th.lowrank_params(3, 3, 2, bias=False) == 12 > 9 == th.linear_params(3, 3, bias=False)
    assert th.lowrank_compression(3, 3, 2) == sympy.Rational(3, 4)
    assert th.lowrank_compression(2, 2, 1) == 1
    # r* = mn/(m+n) < min(m, n) for all m, n >= 1, proved: min(m,n) - r* = min^2/(m+n) > 0.
    a, c = sympy.symbols("a c", positive=True)  # a = min(m, n), c = max(m, n)
    assert sympy.simplify(a - a * c / (a + c) - a**2 / (a + c)) == 0


# --------------------------------------------------------------------------- block sparse

masks = st.integers(1, 4).flatmap(
    lambda rows: st.integers(1, 4).flatmap(
        lambda cols: st.tuples(
            st.lists(st.integers(1, 5), min_size=rows, max_size=rows),
            st.lists(st.integers(1, 5), min_size=cols, max_size=cols),
            st.lists(
                st.lists(st.booleans(), min_size=cols, max_size=cols), min_size=rows, max_size=rows
            ),
        )
    )
)


@pytest.mark.claim("d000.linear.block-sparse")
@given(spec=masks, b=st.integers(1, 3), seed=seeds)
def test_block_sparse_stores_and_computes_only_nonzero_blocks(spec, b, seed):
    rows, cols, mask = spec
    layer = layers.BlockSparseLinear(rows, cols, mask, bias=True, rng=np.random.default_rng(seed))
    ctx = dict(rows=rows, cols=cols, mask=mask)
    assert_equal(
        layer.num_params(),
        th.block_sparse_params(rows, cols, mask),
        "d000.linear.block-sparse",
        **ctx,
    )
    x = _rand(np.random.default_rng(seed + 1), b, sum(cols))
    with MacCounter() as c:
        y = layer(x)
    assert_equal(
        c.macs, th.block_sparse_macs(rows, cols, mask, b), "d000.linear.block-sparse", **ctx
    )
    dense = layer.dense_weight()
    torch_y = F.linear(
        torch.from_numpy(x), torch.from_numpy(dense), torch.from_numpy(layer.params["bias"])
    ).numpy()
    assert_close(
        y,
        torch_y,
        np.float64,
        reduction_length=sum(cols) + 1,
        magnitude=np.abs(x) @ np.abs(dense).T + np.abs(layer.params["bias"]),
    )


# --------------------------------------------------------------------------- separability


def _no_separating_hyperplane(points, signs) -> bool:
    """Exact Gordan certificate with lambda = 1: sum_k s_k (x_k, 1) = 0 (integers)."""
    total = [
        sum(s * c for s, c in zip(signs, col, strict=True)) for col in zip(*points, strict=True)
    ]
    return all(t == 0 for t in total) and sum(signs) == 0


@pytest.mark.claim("d000.linear.separability")
def test_xor_is_not_separable_by_one_layer_but_is_by_two():
    points = [(0, 0), (1, 0), (0, 1), (1, 1)]
    signs = [-1, 1, 1, -1]  # XOR
    assert _no_separating_hyperplane(points, signs)
    # the certificate is a proof: for symbolic w, b the margins sum to zero identically
    w1, w2, b = sympy.symbols("w1 w2 b", real=True)
    margins = [s * (w1 * x + w2 * y + b) for (x, y), s in zip(points, signs, strict=True)]
    assert sympy.expand(sum(margins)) == 0  # so they cannot all be > 0
    # two layers (hidden ReLU units) do separate it: the hyperplane lives in feature space
    x = np.array(points, dtype=np.float64)
    hidden = np.maximum(linear(x, np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0])), 0)
    out = linear(hidden, np.array([[1.0, -2.0]]), np.array([-0.5]))[:, 0]
    assert (np.sign(out) == signs).all()


@pytest.mark.claim("d000.linear.separability", "d000.linear.definition")
@given(n=st.integers(1, 4), k=st.integers(1, 12), seed=seeds)
def test_one_unit_classifies_by_the_side_of_its_hyperplane(n, k, seed):
    rng = np.random.default_rng(seed)
    w, b = _rand(rng, 1, n), _rand(rng, 1)
    x = _rand(rng, k, n)
    signs = np.sign(linear(x, w, b)[:, 0])
    # distance to the hyperplane has the same sign: (w.x + b)/||w||
    dist = (x @ w[0] + b[0]) / np.linalg.norm(w)
    assert (np.sign(dist) == signs).all()
    # the labels it produces are linearly separable by construction: w, b is a witness
    assert (signs * (x @ w[0] + b[0]) >= 0).all()


# --------------------------------------------------------------------------- review (issue 10 §5)


@pytest.mark.claim("d000.linear.gradient-bound")
@given(n=st.integers(1, 8), m=st.integers(1, 8), seed=seeds)
def test_gradient_bound_p_norm_reading_needs_the_dual_norm(n, m, seed):
    """For a p-norm the factor is ||W^T||_p = ||W||_q (1/p + 1/q = 1); only p = 2 is self-dual."""
    rng = np.random.default_rng(seed)
    w, g = _rand(rng, m, n), _rand(rng, m)
    dx = linear_backward(g[None], np.zeros((1, n)), w)[0][0]
    assert_close(dx, w.T @ g, np.float64, reduction_length=m, magnitude=np.abs(w).T @ np.abs(g))
    for p, q in ((1, np.inf), (np.inf, 1), (2, 2)):
        lhs = np.linalg.norm(dx, p)
        dual = np.linalg.norm(w, q) * np.linalg.norm(g, p)
        assert lhs <= dual * (1 + 1e-12), (p, lhs, dual)
        assert np.linalg.norm(w.T, p) == pytest.approx(np.linalg.norm(w, q), rel=1e-12)


@pytest.mark.claim("d000.linear.gradient-bound")
def test_gradient_bound_same_p_norm_counterexamples():
    for p, w, g in (
        (1, np.array([[1.0, 1.0]]), np.array([1.0])),
        (np.inf, np.array([[1.0], [1.0]]), np.array([1.0, 1.0])),
    ):
        dx = linear_backward(g[None], np.zeros((1, w.shape[1])), w)[0][0]
        assert np.linalg.norm(dx, p) == 2.0
        assert np.linalg.norm(w, p) * np.linalg.norm(g, p) == 1.0  # the same-p reading fails
        q = np.inf if p == 1 else 1
        assert np.linalg.norm(dx, p) == np.linalg.norm(w, q) * np.linalg.norm(g, p)  # dual: tight


def _chain_input_gradient(weights: list[np.ndarray], g: np.ndarray) -> np.ndarray:
    """dL/dx_0 through y = W_L ... W_1 x, with the hand-written backward of each layer."""
    for w in reversed(weights):
        g = linear_backward(g[None], np.zeros((1, w.shape[1])), w)[0][0]
    return g


@pytest.mark.claim(
    "d000.linear.gradient-vanishing-exploding", "d000.linear.gradient-bound-exploding"
)
@given(depth=st.integers(1, 6), n=st.integers(1, 5), scale=st.floats(0.2, 3.0), seed=seeds)
def test_chain_gradient_lies_between_products_of_extreme_singular_values(depth, n, scale, seed):
    rng = np.random.default_rng(seed)
    weights = [scale * _rand(rng, n, n) / np.sqrt(n) for _ in range(depth)]
    g = _rand(rng, n)
    norm = np.linalg.norm(_chain_input_gradient(weights, g))
    svals = [np.linalg.svd(w, compute_uv=False) for w in weights]
    upper = np.prod([s[0] for s in svals]) * np.linalg.norm(g)
    lower = np.prod([s[-1] for s in svals]) * np.linalg.norm(g)
    slack = 1e-10 * depth
    assert lower * (1 - slack) <= norm <= upper * (1 + slack), (lower, norm, upper)
    # the vanishing side follows from the upper bound alone: all norms <= q < 1
    q = max(s[0] for s in svals)
    if q < 1:
        assert norm <= q**depth * np.linalg.norm(g) * (1 + slack)


@pytest.mark.claim("d000.linear.gradient-bound-exploding")
def test_large_norms_do_not_force_exploding_gradients():
    w = np.diag([2.0, 0.5])
    for depth in range(1, 12):
        dx = _chain_input_gradient([w] * depth, np.array([0.0, 1.0]))
        assert np.linalg.norm(w, 2) ** depth == 2.0**depth  # the upper bound grows ...
        assert np.linalg.norm(dx) == 0.5**depth  # ... while the gradient vanishes
        # the lower bound decides explosion: sigma_min > 1 in every layer
        big = np.diag([3.0, 1.5])
        grown = _chain_input_gradient([big] * depth, np.array([0.0, 1.0]))
        assert np.linalg.norm(grown) >= 1.5**depth


@pytest.mark.claim("d000.linear.condition-number")
@given(n=st.integers(1, 7), m=st.integers(1, 7), seed=seeds)
def test_condition_number_is_the_backward_gain_ratio_on_the_gradients_that_pass(n, m, seed):
    """On col W (every gradient when m <= n) the gains ||W^T g||/||g|| fill exactly
    [sigma_min, sigma_max]; for m > n the orthogonal complement (dim m - n) is lost."""
    rng = np.random.default_rng(seed)
    w = _rand(rng, m, n)
    u, s, _ = np.linalg.svd(w)  # u: m x m, s: min(m, n) values, descending
    k = len(s)
    kappa = s[0] / s[-1]

    def gain(v: np.ndarray) -> float:
        dx = linear_backward(v[None], np.zeros((1, n)), w)[0][0]
        return float(np.linalg.norm(dx) / np.linalg.norm(v))

    top, bottom = gain(u[:, 0]), gain(u[:, k - 1])
    assert top == pytest.approx(s[0], rel=1e-10)
    assert bottom == pytest.approx(s[-1], rel=1e-10)
    assert top / bottom == pytest.approx(kappa, rel=1e-9)
    col = u[:, :k]  # orthonormal basis of col W (W has full rank almost surely)
    for v in _rand(rng, 20, m):
        passing = col @ (col.T @ v)  # the part of the gradient that reaches the input
        assert s[-1] * (1 - 1e-10) <= gain(passing) <= s[0] * (1 + 1e-10)
    if m > n:  # scope note: a widening layer loses the complement of col W entirely
        assert gain(u[:, -1]) <= 1e-12 * s[0]
    else:
        assert k == m


@pytest.mark.claim("d000.linear.condition-number")
def test_condition_number_one_yet_gradient_lost():
    w = np.array([[1.0], [1.0]])
    s = np.linalg.svd(w, compute_uv=False)
    assert s[0] / s[-1] == 1.0
    dx = linear_backward(np.array([[1.0, -1.0]]), np.zeros((1, 1)), w)[0]
    assert (dx == 0).all()


@pytest.mark.claim("d000.linear.rank-output-dim")
@given(n=st.integers(1, 5), m=st.integers(1, 5), r=st.integers(0, 5), seed=seeds)
@example(n=1, m=1, r=0, seed=0)  # the old counterexample: W = [0], image {b}, dimension 0
def test_output_set_is_an_affine_space_of_dimension_rank_exactly(n, m, r, seed):
    """Exact (SymPy, integer matrices): dim aff{Wx + b} = rank W for every b, including b
    outside col W; the rank-0 layer's image is the single point b (dimension 0)."""
    rng = np.random.default_rng(seed)
    r = min(r, n, m)
    u = sympy.Matrix(rng.integers(-3, 4, (m, r)).tolist()) if r else sympy.zeros(m, 0)
    v = sympy.Matrix(rng.integers(-3, 4, (r, n)).tolist()) if r else sympy.zeros(0, n)
    w = u * v if r else sympy.zeros(m, n)
    b = sympy.Matrix(rng.integers(-3, 4, (m, 1)).tolist())
    # outputs at 0 and at the unit vectors: their differences are the columns of W
    ys = [b] + [w * sympy.eye(n)[:, j] + b for j in range(n)]
    diffs = sympy.Matrix.hstack(*[y - b for y in ys])
    assert diffs.rank() == w.rank() <= r  # the affine image's dimension is rank W ...
    # ... the same outputs from the kernel (exact here: small integers in float64)
    out = linear(
        np.vstack([np.zeros(n), np.eye(n)]),
        np.array(w, dtype=float),
        np.array(b, dtype=float)[:, 0],
    )
    assert np.array_equal(out, np.array([[float(e) for e in y] for y in ys]))
    if w.rank() == 0:
        assert all(y == b for y in ys)  # ... a single point when rank W = 0, whatever b


_MONOTONE = (
    "relu", "sigmoid", "tanh", "elu", "selu", "celu", "leaky_relu", "softplus", "relu6",
    "hardtanh", "hardsigmoid", "softsign", "logsigmoid", "tanhshrink", "hardshrink",
)  # fmt: skip
_NON_MONOTONE = ("gelu", "silu", "mish", "hardswish")


@pytest.mark.claim("d000.linear.separability")
def test_which_torch_activations_keep_one_unit_a_half_space_classifier():
    """Monotone activations keep {phi(w.x + b) > t} a half-space (the claim's convention);
    a non-monotone one turns it into a band, and one GELU unit separates XOR."""
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    for name in _MONOTONE:
        assert (torch.diff(getattr(F, name)(z)) >= 0).all(), name
    for name in _NON_MONOTONE:
        assert (torch.diff(getattr(F, name)(z)) < 0).any(), name
    points = np.array([(0, 0), (1, 0), (0, 1), (1, 1)], dtype=np.float64)
    signs = np.array([-1, 1, 1, -1])  # XOR, not linearly separable (Gordan certificate above)
    pre = linear(points, np.array([[3.0, 3.0]]), np.array([-3.75]))[:, 0]
    out = F.gelu(torch.from_numpy(pre)).numpy()
    assert (np.where(out < -0.1, 1, -1) == signs).all()


@pytest.mark.claim("d002.linear.geometric-operations")
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=seeds)
def test_orthogonal_rotate_or_reflect_diagonal_scales_general_combines(n, m, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(_rand(rng, n, n))
    x = _rand(rng, 5, n)
    qx = linear(x, q)
    assert np.allclose(np.linalg.norm(qx, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)
    assert np.allclose(qx @ qx.T, x @ x.T, atol=1e-10)  # angles kept too
    det = np.linalg.det(q)
    assert abs(abs(det) - 1) < 1e-10
    if det < 0:  # a rotation composed with the reflection of the first axis
        rot = q @ np.diag([-1.0] + [1.0] * (n - 1))
        assert np.linalg.det(rot) == pytest.approx(1)
    d = _rand(rng, n)
    assert np.array_equal(linear(np.eye(n), np.diag(d)), np.diag(d))  # e_i -> d_i e_i
    w = _rand(rng, m, n)
    u, s, vt = np.linalg.svd(w)
    sigma = np.zeros((m, n))
    sigma[: len(s), : len(s)] = np.diag(s)
    assert np.allclose(linear(linear(linear(x, vt), sigma), u), linear(x, w), atol=1e-10)


def _relu_interpolant(f, cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One hidden ReLU layer equal to the piecewise-linear interpolant of f on [0, 1]:
    g(x) = f(0) + sum_i c_i relu(x - t_i), c_i the change of slope at knot t_i."""
    knots = np.linspace(0.0, 1.0, cells + 1)
    slopes = np.diff(f(knots)) / np.diff(knots)
    c = np.diff(slopes, prepend=0.0)
    return np.ones((cells, 1)), -knots[:-1], c[None, :], float(f(knots[:1])[0])


@pytest.mark.claim("d002.linear.universal-approximation")
def test_one_relu_hidden_layer_approximates_with_error_falling_as_width_grows():
    def f(x):
        return np.sin(2 * np.pi * x) + x**2

    grid = np.linspace(0.0, 1.0, 4001)[:, None]
    errors = []
    for cells in (4, 8, 16, 32, 64, 128):
        w1, b1, w2, b0 = _relu_interpolant(f, cells)
        g = linear(np.maximum(linear(grid, w1, b1), 0.0), w2, np.array([b0]))[:, 0]
        err = np.abs(g - f(grid[:, 0])).max()
        bound = (4 * np.pi**2 + 2) / (8 * cells**2)  # h^2 max|f''| / 8
        assert err <= bound * (1 + 1e-9), (cells, err, bound)
        knots = np.linspace(0.0, 1.0, cells + 1)[:, None]  # exact at the knots
        at_knots = linear(np.maximum(linear(knots, w1, b1), 0.0), w2, np.array([b0]))[:, 0]
        assert np.allclose(at_knots, f(knots[:, 0]), atol=1e-12)
        errors.append(err)
    assert all(errors[i + 1] < errors[i] for i in range(len(errors) - 1))
    assert errors[-1] < 1e-3


@pytest.mark.claim("d002.linear.universal-approximation")
@given(width=st.integers(1, 64), seed=seeds)
def test_identity_activation_network_is_affine_and_misses_x_squared(width, seed):
    rng = np.random.default_rng(seed)
    w1, b1, w2, b2 = _rand(rng, width, 1), _rand(rng, width), _rand(rng, 1, width), _rand(rng, 1)
    xs = np.array([[0.0], [0.5], [1.0]])
    g = linear(linear(xs, w1, b1), w2, b2)[:, 0]  # identity activation
    e = xs[:, 0] ** 2 - g
    assert e[0] - 2 * e[1] + e[2] == pytest.approx(0.5, abs=1e-9 * (1 + np.abs(g).max()))
    assert np.abs(e).max() >= 0.125 - 1e-9 * (1 + np.abs(g).max())
    a, b = sympy.symbols("a b", real=True)  # for every affine g, symbolically
    err = [sympy.Rational(v) ** 2 - (a * sympy.Rational(v) + b) for v in ("0", "1/2", "1")]
    assert sympy.expand(err[0] - 2 * err[1] + err[2]) == sympy.Rational(1, 2)


@pytest.mark.claim("d000.linear.input-gradient", "d000.linear.batch-form")
def test_gradients_symbolically_for_every_shape_up_to_three():
    """SymPy, exhaustive over 1 <= B, m, n <= 3: for L = sum(G * (X W^T + 1 b^T)),
    dL/dX = G W (per row: W^T g), dL/dW = G^T X, dL/db = G^T 1."""
    for b_, m, n in np.ndindex(3, 3, 3):
        b_, m, n = b_ + 1, m + 1, n + 1
        x = sympy.Matrix(b_, n, lambda i, j: sympy.Symbol(f"x{i}_{j}"))
        w = sympy.Matrix(m, n, lambda i, j: sympy.Symbol(f"w{i}_{j}"))
        bias = sympy.Matrix(1, m, lambda _, j: sympy.Symbol(f"b{j}"))
        g = sympy.Matrix(b_, m, lambda i, j: sympy.Symbol(f"g{i}_{j}"))
        y = x * w.T + sympy.ones(b_, 1) * bias  # the batch form, bias broadcast to each row
        loss = sum(g[i, j] * y[i, j] for i in range(b_) for j in range(m))
        assert y[0, :] == (w * x[0, :].T + bias.T).T  # row s is W x_s + b
        assert x.applyfunc(lambda v, e=loss: sympy.diff(e, v)) == g * w
        assert w.applyfunc(lambda v, e=loss: sympy.diff(e, v)) == g.T * x
        assert bias.applyfunc(lambda v, e=loss: sympy.diff(e, v)) == sympy.ones(1, b_) * g
        for s in range(b_):  # the document's per-sample form
            assert (g * w)[s, :].T == w.T * g[s, :].T


@pytest.mark.claim("d002.linear.affine-geometry")
@given(n=st.integers(1, 6), m=st.integers(1, 6), rank_drop=st.integers(0, 2), seed=seeds)
@example(n=2, m=2, rank_drop=0, seed=0)
def test_every_affine_layer_is_rotation_scaling_rotation_plus_translation(n, m, rank_drop, seed):
    rng = np.random.default_rng(seed)
    r = max(min(m, n) - rank_drop, 0)
    w = _rand(rng, m, r) @ _rand(rng, r, n) if r else np.zeros((m, n))
    if (n, m, rank_drop, seed) == (2, 2, 0, 0):
        w = np.diag([1.0, -1.0])  # det < 0: needs a negative scaling factor
    b = _rand(rng, m)
    u, s, vt = np.linalg.svd(w)
    d = np.zeros((m, n))
    d[: len(s), : len(s)] = np.diag(s)
    if np.linalg.det(u) < 0:  # move the reflection into the scaling
        u[:, 0] *= -1
        d[0] *= -1
    if np.linalg.det(vt) < 0:
        vt[0] *= -1
        d[:, 0] *= -1
    assert np.linalg.det(u) == pytest.approx(1) and np.linalg.det(vt) == pytest.approx(1)
    x = _rand(rng, 4, n)
    composed = linear(linear(linear(x, vt), d), u, b)  # rotate, scale, rotate, translate
    assert np.allclose(composed, linear(x, w, b), atol=1e-10)
    if m == n and abs(np.linalg.det(w)) > 1e-6:  # QR: rotation/reflection, scaling, shear
        q, rr = np.linalg.qr(w)
        scale = np.diag(np.diag(rr))
        shear = np.linalg.solve(scale, rr)
        assert np.allclose(np.diag(shear), 1) and np.allclose(np.tril(shear, -1), 0)
        assert np.allclose(q @ scale @ shear, w, atol=1e-10)


# --------------------------------------------------------------------------- second reading


@pytest.mark.claim("d002.linear.rank-subspace")
@given(n=st.integers(1, 5), m=st.integers(1, 5), r=st.integers(0, 5), seed=seeds)
@example(n=1, m=1, r=0, seed=0)
def test_matrix_reading_outputs_wx_fill_a_linear_subspace_of_dimension_rank(n, m, r, seed):
    """Wx reading (exact, SymPy, integer matrices): {Wx} = col W, a *linear* subspace of
    dimension rank W, also when rank W = d_in; the kernel without bias gives the same outputs."""
    rng = np.random.default_rng(seed)
    r = min(r, n, m)
    u = sympy.Matrix(rng.integers(-3, 4, (m, r)).tolist()) if r else sympy.zeros(m, 1)
    v = sympy.Matrix(rng.integers(-3, 4, (r, n)).tolist()) if r else sympy.zeros(1, n)
    w = u * v
    xs = sympy.Matrix(rng.integers(-3, 4, (n, n + 2)).tolist())
    outs = w * xs  # one output per column
    assert outs.rank() <= w.rank() <= r  # never more than rank W dimensions ...
    assert (outs.row_join(w)).rank() == w.rank()  # ... inside col W
    assert (w * sympy.eye(n)).rank() == w.rank()  # the unit inputs reach all of it
    assert sympy.zeros(m, 1) == w * sympy.zeros(n, 1)  # a linear subspace: contains 0
    got = linear(np.array(xs.T, dtype=float), np.array(w, dtype=float))
    assert np.array_equal(got, np.array(outs.T, dtype=float))


@pytest.mark.claim("d002.linear.affine-geometry")
def test_positive_scaling_reading_reaches_only_positive_determinants():
    """Rotations (det 1), positive scalings (det > 0) and shears (det 1) multiply to det > 0:
    diag(1, -1) is out of reach (SymPy, symbolic factors); random products agree."""
    t, s = sympy.symbols("theta s", real=True)
    a, b = sympy.symbols("a b", positive=True)
    rot = sympy.Matrix([[sympy.cos(t), -sympy.sin(t)], [sympy.sin(t), sympy.cos(t)]])
    shear = sympy.Matrix([[1, s], [0, 1]])
    scale = sympy.diag(a, b)
    assert sympy.trigsimp(rot.det()) == 1 and shear.det() == 1
    assert scale.det().is_positive
    assert sympy.trigsimp((rot * scale * shear * rot.T).det()) == a * b
    assert sympy.diag(1, -1).det() == -1  # the reflection: not reachable
    rng = np.random.default_rng(0)
    for _ in range(200):
        prod = np.eye(2)
        for _ in range(rng.integers(1, 6)):
            th_, sh = rng.uniform(0, 2 * np.pi), rng.normal()
            kind = rng.integers(3)
            f = (
                np.array([[np.cos(th_), -np.sin(th_)], [np.sin(th_), np.cos(th_)]]),
                np.diag(rng.uniform(0.1, 3.0, 2)),
                np.array([[1.0, sh], [0.0, 1.0]]),
            )[kind]
            prod = linear(prod.T, f).T  # f @ prod through the kernel
        assert np.linalg.det(prod) > 0


def _holder_target(coef: list[float], centres: list[float], powers: list[float]):
    """f(x) = sum_k a_k |x - c_k|^alpha_k: continuous, not differentiable at c_k, with
    modulus of continuity omega(h) <= sum_k |a_k| h^alpha_k (0 < alpha_k <= 1)."""

    def f(x):
        x = np.asarray(x, dtype=np.float64)
        return sum(a * np.abs(x - c) ** p for a, c, p in zip(coef, centres, powers, strict=True))

    return f, lambda h: sum(abs(a) * h**p for a, p in zip(coef, powers, strict=True))


@pytest.mark.claim("d002.linear.universal-approximation")
@given(
    terms=st.lists(
        st.tuples(st.floats(-3, 3), st.floats(0, 1), st.floats(0.2, 1.0)),  # (a_k, c_k, alpha_k)
        min_size=1,
        max_size=4,
    ),
    cells=st.sampled_from([1, 3, 8, 64, 1000]),
)
@example(terms=[(1.0, 0.5, 0.5)], cells=8)  # sqrt|x - 1/2|: infinite slope at the centre
def test_relu_layer_error_on_continuous_non_smooth_targets_is_below_the_modulus(terms, cells):
    """The ReLU interpolant (N = cells hidden units) has sup|f - g| <= omega_f(1/N) for every
    continuous f: on each cell g mixes two values of f at distance <= h."""
    coef, centres, powers = (list(v) for v in zip(*terms, strict=True))
    f, omega = _holder_target(coef, centres, powers)
    grid = np.unique(np.concatenate([np.linspace(0.0, 1.0, 20001), centres]))[:, None]
    w1, b1, w2, b0 = _relu_interpolant(f, cells)
    g = linear(np.maximum(linear(grid, w1, b1), 0.0), w2, np.array([b0]))[:, 0]
    err = np.abs(g - f(grid[:, 0])).max()
    scale = 1 + np.abs(coef).sum()
    assert err <= omega(1.0 / cells) + 1e-12 * scale * cells, (err, omega(1.0 / cells))
    knots = np.linspace(0.0, 1.0, cells + 1)[:, None]  # g interpolates f: exact at the knots
    at_knots = linear(np.maximum(linear(knots, w1, b1), 0.0), w2, np.array([b0]))[:, 0]
    assert np.allclose(at_knots, f(knots[:, 0]), rtol=0, atol=1e-12 * scale * cells)


@pytest.mark.claim("d002.linear.universal-approximation")
@given(degree=st.integers(1, 4), width=st.integers(1, 64), seed=seeds)
@example(degree=2, width=64, seed=0)  # activation z^2 against x^3
def test_polynomial_activation_of_degree_p_misses_x_to_the_p_plus_one(degree, width, seed):
    """phi(z) = z^p: g is a polynomial of degree <= p for every width, so its (p+1)-th finite
    difference on j/(p+1) vanishes and sup|x^(p+1) - g| >= (p+1)!/((p+1)^(p+1) 2^(p+1))."""
    p = degree
    rng = np.random.default_rng(seed)
    w1, b1, w2, b2 = _rand(rng, width, 1), _rand(rng, width), _rand(rng, 1, width), _rand(rng, 1)
    nodes = np.arange(p + 2, dtype=np.float64)[:, None] / (p + 1)
    g = linear(linear(nodes, w1, b1) ** p, w2, b2)[:, 0]
    stencil = np.array([(-1) ** (p + 1 - j) * math.comb(p + 1, j) for j in range(p + 2)])
    e = nodes[:, 0] ** (p + 1) - g
    exact = sympy.factorial(p + 1) / sympy.Integer(p + 1) ** (p + 1)
    mag = 2 ** (p + 1) * (1 + (np.abs(w2) @ (np.abs(w1) + np.abs(b1[:, None])) ** p).sum())
    assert abs(stencil @ e - float(exact)) <= 1e-12 * mag
    bound = float(exact) / 2 ** (p + 1)
    assert np.abs(e).max() >= bound - 1e-12 * mag
    if (p, width, seed) == (2, 64, 0):
        assert exact / 2 ** (p + 1) == sympy.Rational(1, 36)
    # every width: g is a polynomial of degree <= p (SymPy, symbolic weights, 3 units)
    x = sympy.Symbol("x")
    ws, bs, cs = (sympy.symbols(f"{k}0:3") for k in "wbc")
    poly = sum(c * (wi * x + bi) ** p for c, wi, bi in zip(cs, ws, bs, strict=True))
    assert sympy.degree(sympy.expand(poly), x) == p
    # a non-polynomial activation does get below the bound: ReLU, 64 units (h^2 max|f''|/8)
    w1r, b1r, w2r, b0r = _relu_interpolant(lambda v: v ** (p + 1), 64)
    fine = np.linspace(0.0, 1.0, 2001)[:, None]
    relu_g = linear(np.maximum(linear(fine, w1r, b1r), 0.0), w2r, np.array([b0r]))[:, 0]
    assert np.abs(relu_g - fine[:, 0] ** (p + 1)).max() <= (p + 1) * p / (8 * 64**2) < bound


@pytest.mark.claim("d002.linear.approximation-width-dimension")
@given(d=st.integers(1, 64), k=st.integers(1, 4), seed=seeds)
def test_ridge_targets_need_the_same_width_in_every_dimension(d, k, seed):
    """Per-function reading refuted: f(x) = sum_i a_i ReLU(w_i.x + b_i) is k ReLU units
    exactly, for every input dimension d; nothing grows with d."""
    rng = np.random.default_rng(seed)
    w, b, a = _rand(rng, k, d), _rand(rng, k), _rand(rng, 1, k)
    x = _rand(rng, 50, d)
    target = sum(a[0, i] * np.maximum(x @ w[i] + b[i], 0.0) for i in range(k))
    g = linear(np.maximum(linear(x, w, b), 0.0), a)[:, 0]
    mag = 1 + np.abs(a) @ (np.abs(w) @ np.abs(x).T + np.abs(b)[:, None])
    assert np.all(np.abs(g - target) <= 1e-13 * d * mag[0])
    assert w.shape[0] == k  # width k, independent of d


@pytest.mark.claim("d000.linear.definition")
def test_output_bound_is_exact(monkeypatch):
    """The kernel refuses an output of more than MAX_ELEMENTS elements, and only then: an
    output of exactly the limit is computed (checked with the limit lowered to 12)."""
    import kernels.cpu._check as check

    monkeypatch.setattr(check, "MAX_ELEMENTS", 12)
    w = np.ones((4, 2))
    assert linear(np.ones((3, 2)), w).shape == (3, 4)  # 12 elements: allowed
    with pytest.raises(ValueError, match="MAX_ELEMENTS"):
        linear(np.ones((4, 2)), w)  # 16 elements
    with pytest.raises(ValueError, match="MAX_ELEMENTS"):
        linear(np.ones((13, 2)), np.ones(2))  # 1-D weight: 13 elements
    assert linear(np.ones((12, 2)), np.ones(2)).shape == (12,)
