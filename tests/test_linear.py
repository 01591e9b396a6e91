"""Linear, low-rank and block-sparse layers: theory ⇄ NumPy kernels ⇄ torch.

Claims: theory/claims/linear.yaml. Helpers: theory.linear. Kernels: kernels.cpu.linear.
"""

from __future__ import annotations

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
    dx, dw, db = linear_backward(g, x, w)
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
    """Spectral reading: holds and is tight; Frobenius: holds; max-entry: can fail."""
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


@pytest.mark.claim("d000.linear.gradient-bound")
def test_gradient_bound_max_entry_counterexample():
    w, g = np.ones((2, 2)), np.ones(2)
    lhs = np.linalg.norm(w.T @ g)
    assert lhs == pytest.approx(2 * np.sqrt(2))
    assert lhs > np.abs(w).max() * np.linalg.norm(g)  # max-entry reading fails


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
