"""Normalization layers: SymPy ⇄ NumPy kernels ⇄ torch (forward, backward three ways, relations).

Claims: theory/claims/normalization.yaml. Helpers: theory.normalization. Kernels: kernels.cpu.norm.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from kernels.cpu import norm
from kernels.cpu.norm import batch_norm, group_norm, instance_norm, layer_norm
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.tolerances import assert_close
from theory import normalization as th

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def norm_case(draw, spatial: bool | None = None, min_batch: int = 1):
    """A shape (N, C) or (N, C, H, W), a kind, groups dividing C, affine flag, eps."""
    kind = draw(st.sampled_from(th.KINDS), label="kind")
    n = draw(st.integers(max(min_batch, 2 if kind == "batch" else 1), 4), label="N")
    g = draw(st.integers(1, 3), label="groups")
    c = g * draw(st.integers(1, 3), label="per_group")
    use_spatial = draw(st.booleans(), label="spatial") if spatial is None else spatial
    if kind == "instance":
        use_spatial = True
    shape = (n, c, draw(st.integers(1, 4)), draw(st.integers(2, 4))) if use_spatial else (n, c)
    hw = int(np.prod(shape[2:]))
    # a normalized set of one value is rejected (test_bad_input); assume it away here
    assume(not (kind == "instance" and hw < 2) and not (kind == "group" and (c // g) * hw < 2))
    if kind == "batch" and n * hw < 2:
        shape = (2, *shape[1:])
    return (
        kind,
        shape,
        g,
        draw(st.booleans(), label="affine"),
        draw(st.sampled_from([1e-5, 1e-3, 0.5])),
    )


TINY = 1e-300
"""eps for "eps = 0" identities: torch (and we) refuse eps <= 0 in training-mode batch norm;
1e-300 is far below the float64 resolution of any variance in these tests."""


def bn_train(x, gamma=None, beta=None, eps=1e-5):
    """Training-mode batch norm without running buffers (torch's argument order)."""
    return batch_norm(x, None, None, gamma, beta, True, 0.1, eps)


def _args(kind, x, g, gamma, beta, eps) -> tuple:
    """Our (and torch's) positional arguments after the input."""
    if kind == "batch":
        return (None, None, gamma, beta, True, 0.1, eps)
    if kind == "layer":
        return (x.shape[1:], gamma, beta, eps)
    if kind == "instance":
        return (None, None, gamma, beta, True, 0.1, eps)
    return (g, gamma, beta, eps)


def _ours(kind, x, g, gamma, beta, eps):
    return getattr(norm, f"{kind}_norm")(x, *_args(kind, x, g, gamma, beta, eps))


def _ours_backward(kind, up, x, g, gamma, beta, eps):
    return getattr(norm, f"{kind}_norm_backward")(up, x, *_args(kind, x, g, gamma, beta, eps))


def _theirs(kind, x, g, gamma, beta, eps):
    if kind == "batch":
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    if kind == "layer":
        return F.layer_norm(x, tuple(x.shape[1:]), gamma, beta, eps)
    if kind == "instance":
        return F.instance_norm(x, weight=gamma, bias=beta, eps=eps)
    return F.group_norm(x, g, gamma, beta, eps)


def _params(kind, shape, affine, rng, dtype):
    if not affine:
        return None, None
    pshape = tuple(shape[1:]) if kind == "layer" else (shape[1],)
    return rng.standard_normal(pshape).astype(dtype), rng.standard_normal(pshape).astype(dtype)


# --------------------------------------------------------------------------- forward


@pytest.mark.claim(
    "d000.norm.batchnorm-definition",
    "d002.norm.batchnorm-definition",
    "d000.norm.layernorm-definition",
    "d002.norm.layernorm-definition",
    "d000.norm.instancenorm-definition",
    "d000.norm.groupnorm-definition",
    "d002.norm.common-form",
)
@given(case=norm_case(), seed=seeds, dtype=dtypes)
def test_forward_matches_torch(case, seed, dtype):
    kind, shape, g, affine, eps = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    gamma, beta = _params(kind, shape, affine, rng, dtype)
    y = _ours(kind, x, g, gamma, beta, eps)
    t = [None if a is None else torch.from_numpy(a) for a in (x, gamma, beta)]
    expected = _theirs(kind, t[0], g, t[1], t[2], eps).numpy()
    m = th.statistics_count(kind, shape, g if kind == "group" else None)
    # mean and variance are reductions of length m: Higham bound on |x| (and gamma, beta)
    mag = (np.abs(x).max() + 1) * (1 + np.abs(gamma).max() if affine else 1) * 10
    assert_close(
        y,
        expected,
        dtype,
        reduction_length=2 * m,
        magnitude=np.full(y.shape, mag),
        context=f"{kind} {shape} groups={g} affine={affine} eps={eps} seed={seed}",
    )


# --------------------------------------------------------------------------- backward


@pytest.mark.claim("d000.norm.batchnorm-backward")
def test_backward_formula_proved_symbolically():
    assert th.batchnorm_backward_proved(th.MAX_PROVED_M)
    assert th.batchnorm_backward_proved(th.MAX_PROVED_M, per_element_gamma=True)
    for derive in (th.derive_batchnorm_backward, th.derive_groupnorm_backward):
        d = derive()
        assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.norm.batchnorm-backward", "d002.norm.common-form")
@given(case=norm_case(), seed=seeds)
def test_gradients_three_ways(case, seed):
    """Hand-written backward = torch autograd = float64 central differences."""
    kind, shape, g, affine, eps = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    gamma, beta = _params(kind, shape, affine, rng, np.float64)
    up = rng.standard_normal(shape)
    dx, dgamma, dbeta = _ours_backward(kind, up, x, g, gamma, beta, eps)
    leaves = [
        torch.from_numpy(a.copy()).requires_grad_() if a is not None else None
        for a in (x, gamma, beta)
    ]
    _theirs(kind, leaves[0], g, leaves[1], leaves[2], eps).backward(torch.from_numpy(up))
    ctx = f"{kind} {shape} groups={g} affine={affine} eps={eps} seed={seed}"
    assert_close(dx, leaves[0].grad.numpy(), np.float64, context=ctx)
    assert_grad_close(
        dx, central_difference(lambda v: _ours(kind, v, g, gamma, beta, eps), x.copy(), up), ctx
    )
    if affine:
        assert_close(dgamma, leaves[1].grad.numpy(), np.float64, context=ctx)
        assert_close(dbeta, leaves[2].grad.numpy(), np.float64, context=ctx)
        assert_grad_close(
            dgamma,
            central_difference(lambda v: _ours(kind, x, g, v, beta, eps), gamma.copy(), up),
            ctx,
        )


@pytest.mark.claim("d000.norm.batchnorm-backward")
def test_affine_gradients_proved_symbolically():
    assert th.affine_gradients_proved(th.MAX_PROVED_M)


@pytest.mark.claim("d000.norm.batchnorm-backward")
@given(m=st.integers(2, 6), seed=seeds, eps=st.sampled_from([1e-5, 0.1, 2.0]))
def test_sympy_formula_lambdified_against_kernel(m, seed, eps):
    """The SymPy expression of the documents' formula, evaluated by lambdify (NumPy)."""
    expr, symbols = th.document_gradient(m)
    f = sympy.lambdify(symbols, expr, "numpy")
    rng = np.random.default_rng(seed)
    x, up, gamma = rng.standard_normal((m, 1)), rng.standard_normal((m, 1)), rng.standard_normal(1)
    dx, _, _ = norm.batch_norm_backward(up, x, None, None, gamma, np.zeros(1), True, 0.1, eps)
    assert_close(dx[0, 0], f(*x[:, 0], *up[:, 0], gamma[0], eps), np.float64)


@pytest.mark.claim("d000.norm.batchnorm-backward")
@given(m=st.integers(2, 12), seed=seeds, eps=st.sampled_from([1e-5, 0.1, 2.0]))
def test_document_formula_evaluated_numerically(m, seed, eps):
    """The formula as written, evaluated with NumPy on one feature, against the kernel."""
    rng = np.random.default_rng(seed)
    x, up, gamma = rng.standard_normal((m, 1)), rng.standard_normal((m, 1)), rng.standard_normal(1)
    dx, _, _ = norm.batch_norm_backward(up, x, None, None, gamma, np.zeros(1), True, 0.1, eps)
    s = np.sqrt(x.var() + eps)
    xh = (x - x.mean()) / s
    doc = gamma / s * (up - up.sum() / m - xh / m * (up * xh).sum())
    assert_close(dx, doc, np.float64)


# --------------------------------------------------------------------------- running statistics


@pytest.mark.claim("d000.norm.batchnorm-definition")
@given(
    n=st.integers(2, 5),
    c=st.integers(1, 4),
    hw=st.integers(1, 3),
    momentum=st.floats(0, 1),
    seed=seeds,
)
def test_running_statistics_and_eval_mode_match_torch(n, c, hw, momentum, seed):
    rng = np.random.default_rng(seed)
    module = torch.nn.BatchNorm2d(c, momentum=momentum, dtype=torch.float64)
    rm, rv = np.zeros(c), np.ones(c)
    for _ in range(3):
        x = rng.standard_normal((n, c, hw, hw + 1)) * 2 + 1
        batch_norm(x, rm, rv, training=True, momentum=momentum)
        module.train()(torch.from_numpy(x))
    assert_close(rm, module.running_mean.numpy(), np.float64)
    assert_close(rv, module.running_var.numpy(), np.float64)
    x = rng.standard_normal((n, c, hw, hw + 1))
    w, b = module.weight.detach().numpy(), module.bias.detach().numpy()
    y = batch_norm(x, rm, rv, w, b, training=False)
    assert_close(y, module.eval()(torch.from_numpy(x)).detach().numpy(), np.float64)


# --------------------------------------------------------------------------- relations


@pytest.mark.claim(
    "d000.norm.groupnorm-definition",
    "d002.norm.groupnorm-compromise",
    "d000.norm.instancenorm-definition",
)
@given(
    n=st.integers(1, 3), c=st.integers(1, 6), h=st.integers(1, 4), w=st.integers(2, 4), seed=seeds
)
def test_group_norm_limits_are_layer_norm_and_instance_norm(n, c, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    gn1 = group_norm(x, 1)
    ln = layer_norm(x, x.shape[1:])
    assert_close(gn1, ln, np.float64)
    gnc = group_norm(x, c)
    inn = instance_norm(x)
    assert_close(gnc, inn, np.float64)
    # instance norm = batch norm of each sample on its own
    if h * w >= 2:
        per_sample = np.concatenate([bn_train(x[i : i + 1]) for i in range(n)])
        assert_close(inn, per_sample, np.float64)


@pytest.mark.claim(
    "d000.norm.layernorm-batch-independence",
    "d000.norm.groupnorm-definition",
    "d002.norm.groupnorm-compromise",
    "d002.norm.layernorm-definition",
    "d002.norm.review-comparison",
)
@given(n=st.integers(2, 4), c=st.integers(1, 4), seed=seeds)
def test_which_schemes_couple_the_samples_of_a_batch(n, c, seed):
    """Jacobian block d y_0 / d x_1 via the kernel backward: non-zero only for BatchNorm."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, 2, 3))
    up = np.zeros_like(x)
    up[0] = rng.standard_normal(x.shape[1:])
    for kind in th.KINDS:
        dx, _, _ = _ours_backward(kind, up, x, 1, None, None, 1e-5)
        coupled = np.abs(dx[1:]).max() > 1e-12
        assert coupled == (kind == "batch"), kind
        # and directly: changing the other samples changes sample 0 only under BatchNorm
        x2 = x.copy()
        x2[1:] = rng.standard_normal(x2[1:].shape) * 5
        same = np.allclose(
            _ours(kind, x, 1, None, None, 1e-5)[0], _ours(kind, x2, 1, None, None, 1e-5)[0]
        )
        assert same == (kind != "batch"), kind


@pytest.mark.claim("d000.norm.layernorm-batch-independence")
def test_batch_of_one_and_train_eval_consistency():
    x = np.random.default_rng(0).standard_normal((1, 5))
    y = layer_norm(x, 5)  # batch size 1 is fine for LayerNorm
    assert np.isfinite(y).all() and abs(y.mean()) < 1e-12
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn_train(x)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(torch.from_numpy(x), None, None, training=True)  # torch agrees
    ln = torch.nn.LayerNorm(5, dtype=torch.float64)
    xt = torch.from_numpy(x)
    assert torch.equal(ln.train()(xt), ln.eval()(xt))
    bn = torch.nn.BatchNorm1d(5, dtype=torch.float64)
    x4 = torch.from_numpy(np.random.default_rng(1).standard_normal((4, 5)))
    assert not torch.allclose(bn.train()(x4), bn.eval()(x4))  # BatchNorm differs


# --------------------------------------------------------------------------- x-hat, recovery


@pytest.mark.claim("d002.norm.xhat-moments")
@given(
    m=st.integers(2, 50),
    scale=st.floats(1e-3, 1e3),
    eps=st.sampled_from([1e-5, 1e-2, 1.0]),
    seed=seeds,
)
def test_xhat_mean_zero_and_variance_below_one(m, scale, eps, seed):
    x = np.random.default_rng(seed).standard_normal((m, 1)) * scale + 3
    y = bn_train(x, eps=eps)
    var = float(x.var())
    assert abs(float(y.mean())) <= 1e-12 * (1 + scale)
    assert float(y.var()) == pytest.approx(var / (var + eps), rel=1e-9)
    assert float(y.var()) < 1
    d = th.derive_xhat_moments()
    assert d.agrees()  # equals 1 only under eps = 0
    assert th.xhat_variance(sympy.Symbol("e", positive=True), sympy.Symbol("e", positive=True)) == (
        sympy.Rational(1, 2)
    )


@pytest.mark.claim("d002.norm.xhat-moments")
def test_xhat_counterexamples():
    eps = 0.25
    x = np.array([[-0.5], [0.5]])  # biased variance 0.25 = eps
    assert float(bn_train(x, eps=eps).var()) == pytest.approx(0.5)
    assert float(bn_train(np.full((4, 1), 7.0)).var()) == 0.0


@pytest.mark.claim("d002.norm.recovery")
@given(m=st.integers(2, 20), eps=st.sampled_from([TINY, 1e-5, 0.3]), seed=seeds)
def test_recovery_on_the_same_batch_only(m, eps, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, 3)) * 2 + 1
    gamma, beta = np.sqrt(x.var(axis=0) + eps), x.mean(axis=0)
    assert_close(bn_train(x, gamma, beta, eps), x, np.float64)
    other = x * 2 + 1
    assert not np.allclose(bn_train(other, gamma, beta, eps), other)
    assert th.derive_recovery().agrees()


@pytest.mark.claim("d002.norm.recovery")
def test_recovery_counterexample():
    gamma, beta = np.array([1.0]), np.array([1.0])  # from the batch (0, 2), eps = 0
    y = bn_train(np.array([[0.0], [4.0]]), gamma, beta, eps=TINY)
    assert np.allclose(y[:, 0], [0.0, 2.0])


# --------------------------------------------------------------------------- whitening


@pytest.mark.claim("d000.norm.whitening")
@given(d=st.integers(2, 5), seed=seeds)
def test_batchnorm_is_diagonal_whitening(d, seed):
    rng = np.random.default_rng(seed)
    m = 400
    # a well-conditioned mixing (rotation x scales in [0.5, 2], condition number <= 4): the
    # identities are exact; float64 whitening of a near-singular covariance would not be
    rot, _ = np.linalg.qr(rng.standard_normal((d, d)))
    mix = rot @ np.diag(rng.uniform(0.5, 2.0, d)) @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    x = rng.standard_normal((m, d)) @ mix.T + rng.standard_normal(d)
    xc = x - x.mean(0)
    cov = xc.T @ xc / m
    vals, vecs = np.linalg.eigh(cov)
    white = xc @ vecs @ np.diag(vals**-0.5) @ vecs.T  # Sigma^{-1/2}(x - mu)
    assert np.allclose(white.T @ white / m, np.eye(d), atol=1e-9)
    bn = bn_train(x, eps=TINY)
    bcov = bn.T @ bn / m
    assert np.allclose(np.diag(bcov), 1, atol=1e-12)
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.allclose(bcov, corr, atol=1e-9)  # correlations untouched
    # equal when the covariance is diagonal: QR of centred columns keeps them centred and
    # makes them orthogonal, so the sample covariance of q is exactly diagonal
    a = rng.standard_normal((m, d))
    q, _ = np.linalg.qr(a - a.mean(0))
    q = q * rng.uniform(0.5, 2, d) * np.sqrt(m) + rng.standard_normal(d)
    qc = q - q.mean(0)
    qcov = qc.T @ qc / m
    assert np.allclose(qcov, np.diag(np.diag(qcov)), atol=1e-9)
    qwhite = qc @ np.diag(np.diag(qcov) ** -0.5)
    assert np.allclose(bn_train(q, eps=TINY), qwhite, atol=1e-9)


# --------------------------------------------------------------------------- bad input


@pytest.mark.claim("d000.norm.batchnorm-definition", "d000.norm.groupnorm-definition")
def test_bad_input():
    x = np.zeros((2, 6, 3, 3))
    with pytest.raises(ValueError, match="num_groups must be an int >= 1 dividing"):
        group_norm(x, 4)
    with pytest.raises(ValueError, match=r"weight must have shape \(6,\)"):
        bn_train(x, np.ones(5))
    with pytest.raises(ValueError, match=r"bias must have shape \(3, 3\) .*got \(6, 3\)"):
        layer_norm(x, (3, 3), np.ones((3, 3)), np.ones((6, 3)))
    with pytest.raises(ValueError, match="eps: instance norm needs variance"):
        instance_norm(x, eps=-1e-5)
    with pytest.raises(ValueError, match=r"eval mode\) needs running_mean"):
        batch_norm(x, training=False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn_train(np.zeros((1, 3, 1, 1)))
    with pytest.raises(ValueError, match="normalized_shape must equal the trailing axes"):
        layer_norm(x, (6, 3))
    with pytest.raises(TypeError, match="dtype"):
        bn_train(x.astype(np.int32))
    with pytest.raises(ValueError, match="grad_out must have the shape of x"):
        norm.batch_norm_backward(np.zeros((2, 6, 3, 2)), x, training=True)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        instance_norm(np.zeros((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(torch.zeros(2, 2, 1, 1))
    with pytest.raises(ValueError, match="groups is required"):
        th.statistics_count("group", (2, 6, 3, 3))


@pytest.mark.claim("d000.norm.groupnorm-definition")
def test_a_set_of_one_value_outputs_bias_as_torch():
    """Group norm with C/G = 1 and no spatial axes: x - mean = 0 exactly, output = bias, and
    no gradient reaches x; torch agrees."""
    rng = np.random.default_rng(0)
    x, b, w = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal(2)
    y = group_norm(x, 2, w, b)
    assert np.array_equal(y, np.broadcast_to(b, x.shape))
    expected = F.group_norm(torch.from_numpy(x), 2, torch.from_numpy(w), torch.from_numpy(b))
    assert_close(y, expected.numpy(), np.float64)  # torch's fused x*scale + shift rounds
    dx, _, db = norm.group_norm_backward(np.ones_like(x), x, 2, w, b)
    assert np.array_equal(dx, np.zeros_like(x)) and np.array_equal(db, [3.0, 3.0])


# --------------------------------------------------------------------------- the proofs can fail


@pytest.fixture
def fresh_proofs():
    """Proof results are cached: clear them around a test that patches the formulas."""
    th._backward_proved.cache_clear()
    th._affine_proved.cache_clear()
    yield
    th._backward_proved.cache_clear()
    th._affine_proved.cache_clear()


@pytest.mark.claim("d000.norm.batchnorm-backward")
def test_proofs_refuse_vacuous_ranges():
    for proof in (th.batchnorm_backward_proved, th.affine_gradients_proved):
        for bad in (0, -1, th.MAX_PROVED_M + 1, 10**30):
            with pytest.raises(ValueError, match=r"max_m must be an int in \[1, 8\]"):
                proof(bad)
        for bad in (True, 2.0, "3", None):
            with pytest.raises(TypeError, match="max_m"):
                proof(bad)
        assert proof(np.int64(2)) is True


@pytest.mark.claim("d000.norm.batchnorm-backward")
def test_backward_proof_fails_on_a_wrong_formula(monkeypatch, fresh_proofs):
    right = th._document_gradient
    # off by a factor 2: identical only at m = 1 (where the gradient is 0)
    monkeypatch.setattr(th, "_document_gradient", lambda m, i, pe=False: 2 * right(m, i, pe))
    assert th.batchnorm_backward_proved(1) is True
    assert th.batchnorm_backward_proved(2) is False
    assert th.batchnorm_backward_proved(2, per_element_gamma=True) is False
    th._backward_proved.cache_clear()
    # wrong already at m = 1: the smallest range checks a case
    monkeypatch.setattr(th, "_document_gradient", lambda m, i, pe=False: right(m, i, pe) + 1)
    assert th.batchnorm_backward_proved(1) is False


@pytest.mark.claim("d000.norm.batchnorm-backward")
def test_affine_proof_fails_on_a_wrong_formula(monkeypatch, fresh_proofs):
    right_gamma, right_beta = th._affine_gamma, th._affine_beta
    monkeypatch.setattr(th, "_affine_gamma", lambda b: right_gamma(b) + b.g[0])
    assert th.affine_gradients_proved(1) is False
    monkeypatch.setattr(th, "_affine_gamma", right_gamma)
    th._affine_proved.cache_clear()
    monkeypatch.setattr(th, "_affine_beta", lambda b: right_beta(b) - b.g[-1])
    assert th.affine_gradients_proved(1) is False
    monkeypatch.setattr(th, "_affine_beta", right_beta)
    th._affine_proved.cache_clear()
    assert th.affine_gradients_proved(3) is True


# --------------------------------------------------------------------------- the count, from torch


@pytest.mark.claim("d000.norm.groupnorm-definition", "d000.norm.batchnorm-definition")
@given(
    kind=st.sampled_from(th.KINDS),
    n=st.integers(1, 4),
    groups=st.integers(1, 3),
    per_group=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    data=st.data(),
)
def test_statistics_count_is_what_torch_normalizes_over(kind, n, groups, per_group, spatial, data):
    r"""A one-hot input normalized with eps = 0 has :math:`\hat x = \sqrt{m-1}` at its one
    (:math:`(1-1/m)/\sqrt{(1/m)(1-1/m)}`), so torch's output reveals the count :math:`m`."""
    c = groups * per_group
    shape = (n, c, *spatial)
    if kind == "instance" and not spatial:
        spatial, shape = [2], (n, c, 2)
    m = th.statistics_count(kind, shape, groups if kind == "group" else None)
    assume(m >= 2)
    index = tuple(data.draw(st.integers(0, s - 1), label=f"index{i}") for i, s in enumerate(shape))
    x = torch.zeros(shape, dtype=torch.float64)
    x[index] = 1.0
    if kind == "batch":  # torch refuses eps = 0 here; TINY vanishes next to the variance
        y = F.batch_norm(x, None, None, training=True, eps=TINY)
    elif kind == "layer":
        y = F.layer_norm(x, shape[1:], eps=0.0)
    elif kind == "instance":
        y = F.instance_norm(x, eps=0.0)
    else:
        y = F.group_norm(x, groups, eps=0.0)
    assert round(float(y[index]) ** 2 + 1) == m, (kind, shape, groups)
    # and independently: the entries sharing the one's mean/variance set
    mask = np.zeros(shape, dtype=bool)
    sel = {
        "batch": (slice(None), index[1]),
        "layer": (index[0],),
        "instance": index[:2],
        "group": (
            index[0],
            slice(index[1] // per_group * per_group, (index[1] // per_group + 1) * per_group),
        ),
    }[kind]
    mask[sel] = True
    assert int(mask.sum()) == m


@pytest.mark.claim("d000.norm.groupnorm-definition")
def test_statistics_count_bad_input():
    with pytest.raises(ValueError, match="groups applies to kind='group' only"):
        th.statistics_count("batch", (2, 4, 3), 2)
    with pytest.raises(TypeError, match=r"shape\[0\]"):
        th.statistics_count("batch", (sympy.Symbol("n"), 4))
    with pytest.raises(ValueError, match="variance and eps are both 0"):
        th.xhat_variance(0, 0)
    with pytest.raises(ValueError, match="eps must be a finite real"):
        th.xhat_variance(1, float("nan"))


@pytest.mark.claim("d000.norm.batchnorm-definition", "d000.norm.groupnorm-definition")
def test_empty_batch_as_torch():
    """N = 0: empty outputs, running buffers untouched, zero parameter gradients (torch's)."""
    x = np.zeros((0, 3, 4))
    rm, rv = np.arange(3.0), np.ones(3) * 2
    w, b = np.ones(3), np.zeros(3)
    y = batch_norm(x, rm, rv, w, b, training=True, momentum=0.5)
    xt = torch.from_numpy(x).requires_grad_()
    rmt, rvt = torch.arange(3.0, dtype=torch.float64), torch.ones(3, dtype=torch.float64) * 2
    yt = F.batch_norm(xt, rmt, rvt, training=True, momentum=0.5)
    assert y.shape == tuple(yt.shape) == (0, 3, 4)
    assert np.array_equal(rm, rmt.numpy()) and np.array_equal(rv, rvt.numpy())
    assert np.array_equal(rm, [0.0, 1.0, 2.0]) and np.array_equal(rv, [2.0, 2.0, 2.0])
    for backward, args in (
        (norm.batch_norm_backward, (None, None, w, b, True)),
        (norm.group_norm_backward, (3, w, b)),
        (norm.instance_norm_backward, (None, None, w, b, True)),
    ):
        dx, dw, db = backward(np.zeros_like(x), x, *args)
        assert dx.shape == x.shape and np.array_equal(dw, np.zeros(3)) and np.array_equal(db, dw)
    assert group_norm(x, 3).shape == layer_norm(x, (3, 4)).shape == instance_norm(x).shape


@pytest.mark.claim("d000.norm.layernorm-definition")
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=3), seed=seeds)
def test_layer_norm_any_number_of_leading_axes(lead, seed):
    """``normalized_shape`` (4, 5) under 0–3 leading axes: the parameter gradients sum over
    all of them (torch's OpInfo samples have at most one)."""
    rng = np.random.default_rng(seed)
    shape = (*lead, 4, 5)
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    w, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    leaves = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    yt = F.layer_norm(leaves[0], (4, 5), leaves[1], leaves[2], 1e-5)
    assert_close(layer_norm(x, (4, 5), w, b), yt.detach().numpy(), np.float64)
    yt.backward(torch.from_numpy(g))
    for ours, leaf in zip(norm.layer_norm_backward(g, x, (4, 5), w, b), leaves, strict=True):
        assert_close(ours, leaf.grad.numpy(), np.float64)


# --------------------------------------------------------------------------- review (issue 10 §5)

from hypothesis import settings  # noqa: E402  (appended section; the imports above are shared)


@pytest.mark.claim("d000.norm.batchnorm-init-insensitivity", "d002.norm.review-init-dependence")
@given(
    n=st.integers(2, 6),
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 4),
    log_a=st.floats(-3, 3),
    seed=seeds,
)
def test_batchnorm_and_layernorm_ignore_the_scale_of_the_weights(n, c_in, c_out, log_a, seed):
    """eps = 0, a > 0: BN(x (aW)^T) = BN(x W^T) with one a per output channel, LN with a common
    a; the input gradient is invariant and the weight gradient scales by 1/a (torch autograd;
    torch refuses eps = 0 in training, so eps = 1e-30, far below every variance drawn)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in))
    w = rng.standard_normal((c_out, c_in))
    a = 10.0**log_a
    per_channel = a * np.exp(rng.uniform(-1, 1, c_out))[:, None]
    z, z_scaled = x @ w.T, x @ (per_channel * w).T
    assume(np.all(z.var(axis=0) > 1e-6))  # a channel that is (nearly) constant on the batch
    assert_close(
        batch_norm(z_scaled, training=True, eps=1e-300),
        batch_norm(z, training=True, eps=1e-300),
        np.float64,
    )
    if c_out >= 2:
        assert_close(
            layer_norm(x @ (a * w).T, (c_out,), eps=0.0),
            layer_norm(z, (c_out,), eps=0.0),
            np.float64,
        )
    up = rng.standard_normal(z.shape)
    grads = []
    for scale in (1.0, a):
        wt = torch.from_numpy(scale * w).requires_grad_()
        xt = torch.from_numpy(x).requires_grad_()
        F.batch_norm(xt @ wt.T, None, None, training=True, eps=1e-30).backward(torch.from_numpy(up))
        grads.append((xt.grad.numpy(), wt.grad.numpy()))
    assert_close(grads[1][0], grads[0][0], np.float64)  # d/dx invariant
    assert_close(a * grads[1][1], grads[0][1], np.float64)  # d/d(aW) = (1/a) d/dW


@pytest.mark.claim("d000.norm.batchnorm-init-insensitivity", "d002.norm.review-init-dependence")
def test_weight_scale_with_eps_is_a_reduction_and_a_sign_flip_is_no_counterexample():
    """Quantified notes (formerly the counterexamples): eps = 1e-5, unit variance, a = 1e-3:
    the output scale is 0.30 against 1e-3 without BatchNorm (a 300-fold reduction of the
    effect); a = -1 flips the sign with and without BatchNorm, the size is unchanged.
    LayerNorm is not invariant to a per-feature scale."""
    z = np.array([[-1.0], [1.0]])  # unit biased variance
    y = batch_norm(z, training=True, eps=1e-300)
    small = batch_norm(1e-3 * z, training=True, eps=1e-5)
    assert small[1, 0] / y[1, 0] == pytest.approx(1e-3 / np.sqrt(1e-6 + 1e-5))
    assert round(float(small[1, 0] / y[1, 0]), 2) == 0.30
    assert float(small[1, 0] / y[1, 0]) / 1e-3 > 250  # vs the un-normalized layer's 1e-3
    assert_close(batch_norm(-z, training=True, eps=1e-300), -y, np.float64)  # a = -1 flips
    assert np.linalg.norm(batch_norm(-z, training=True, eps=1e-5)) == pytest.approx(
        np.linalg.norm(batch_norm(z, training=True, eps=1e-5)), rel=1e-15
    )
    ln = layer_norm(np.array([[1.0, 2.0, 4.0]]), 3, eps=0.0)
    per_feature = layer_norm(np.array([[1.0, 2.0, 8.0]]), 3, eps=0.0)  # not a common scale
    assert not np.allclose(ln, per_feature)


@pytest.mark.claim("d000.norm.layernorm-rnn")
@given(
    n=st.integers(2, 4),
    h=st.integers(2, 6),
    length=st.integers(1, 6),
    pad=st.integers(1, 5),
    seed=seeds,
)
def test_layernorm_token_outputs_ignore_length_and_padding_batchnorm_does_not(
    n, h, length, pad, seed
):
    """(N, H, L) sequences, zero padding appended in time: LayerNorm over H of the real tokens
    is unchanged exactly; BatchNorm over (N, L) changes (its statistics include the pads)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, length)) * 2 + 1
    padded = np.concatenate([x, np.zeros((n, h, pad))], axis=2)
    t, tp = torch.from_numpy(x), torch.from_numpy(padded)
    ln = F.layer_norm(t.transpose(1, 2), (h,)).transpose(1, 2)
    ln_p = F.layer_norm(tp.transpose(1, 2), (h,)).transpose(1, 2)
    assert torch.equal(ln, ln_p[..., :length])
    ours = layer_norm(np.ascontiguousarray(padded.transpose(0, 2, 1)), (h,)).transpose(0, 2, 1)
    assert_close(ours[..., :length], ln.numpy(), np.float64)
    bn = F.batch_norm(t, None, None, training=True)
    bn_p = F.batch_norm(tp, None, None, training=True)
    assert not torch.allclose(bn, bn_p[..., :length])


@pytest.mark.claim("d000.norm.instancenorm-style")
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    hw=st.tuples(st.integers(1, 4), st.integers(2, 4)),
    seed=seeds,
)
def test_instance_norm_removes_per_instance_channel_statistics(n, c, hw, seed):
    """eps = 0, a_nc > 0: IN(a x + b) = IN(x) per (sample, channel), ours and torch; BatchNorm
    of the same batch changes when one sample's channel is restyled."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *hw))
    a = np.exp(rng.uniform(-3, 3, (n, c, 1, 1)))
    b = rng.uniform(-5, 5, (n, c, 1, 1))
    styled = a * x + b
    assert_close(instance_norm(styled, eps=0.0), instance_norm(x, eps=0.0), np.float64)
    theirs = F.instance_norm(torch.from_numpy(styled), eps=0.0).numpy()
    assert_close(theirs, instance_norm(x, eps=0.0), np.float64)
    if n >= 2:
        restyled = x.copy()
        restyled[1] = 3.0 * x[1] + 2.0
        assert not np.allclose(
            batch_norm(restyled, training=True, eps=1e-300)[0],
            batch_norm(x, training=True, eps=1e-300)[0],
        )


@pytest.mark.claim("d000.norm.instancenorm-style")
def test_instance_norm_sign_flip_and_eps_are_quantified_notes_not_counterexamples():
    """a < 0 flips the content but leaves the output's mean (0) and std unchanged; with
    eps = 1e-5 and sigma = 1e-3 the output variance is sigma^2/(sigma^2 + eps) = 0.30^2."""
    x = np.array([[[[-1.0, 1.0]]]])
    y = instance_norm(x, eps=0.0)
    flipped = instance_norm(-x, eps=0.0)
    assert_close(flipped, -y, np.float64)
    assert float(flipped.mean()) == float(y.mean()) == 0.0
    assert float(flipped.std()) == float(y.std())
    small = instance_norm(1e-3 * x, eps=1e-5)
    assert round(float(small[0, 0, 0, 1] / y[0, 0, 0, 1]), 2) == 0.30
    assert float(small.var()) == pytest.approx(1e-6 / (1e-6 + 1e-5), rel=1e-12)
    assert float(small.mean()) == 0.0


@pytest.mark.claim("d002.norm.instancenorm-definition")
@given(
    n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(2, 4), seed=seeds
)
def test_instance_norm_slices_are_normalized_independently(n, c, h, w, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)) * 3 + 1
    eps = 1e-5
    y = instance_norm(x, eps=eps)
    assert_close(y, F.instance_norm(torch.from_numpy(x), eps=eps).numpy(), np.float64)
    var = x.var(axis=(2, 3))
    assert np.abs(y.mean(axis=(2, 3))).max() < 1e-12
    assert_close(y.var(axis=(2, 3)), var / (var + eps), np.float64)
    other = x.copy()
    other[0, 0] = rng.standard_normal((h, w)) * 7  # change one slice
    y2 = instance_norm(other, eps=eps)
    mask = np.ones((n, c), bool)
    mask[0, 0] = False
    assert np.array_equal(y2[mask], y[mask])


def _mean_std_normalizations(x: np.ndarray, eps: float) -> list[np.ndarray]:
    """(x - mean_S)/sqrt(var_S + eps) for every non-empty set S of axes of x."""
    import itertools

    out = []
    for r in range(1, x.ndim + 1):
        for axes in itertools.combinations(range(x.ndim), r):
            mu = x.mean(axis=axes, keepdims=True)
            out.append((x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + eps))
    return out


@pytest.mark.claim("d002.norm.common-form")
@given(n=st.integers(1, 4), h=st.integers(2, 6), seed=seeds)
def test_rmsnorm_and_local_response_norm_are_not_mean_std_normalizations(n, h, seed):
    """torch's RMSNorm and LocalResponseNorm equal (x - mean)/std over no set of axes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h)) + 2.0  # non-zero mean: centring matters
    eps = 1e-6
    rms = F.rms_norm(torch.from_numpy(x), (h,), eps=eps).numpy()
    assert_close(rms, x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + eps), np.float64)
    assert all(not np.allclose(rms, cand, atol=1e-6) for cand in _mean_std_normalizations(x, eps))
    x3 = rng.standard_normal((n, h, 3)) + 2.0
    lrn = F.local_response_norm(torch.from_numpy(x3), size=2).numpy()
    assert all(not np.allclose(lrn, c, atol=1e-6) for c in _mean_std_normalizations(x3, eps))
    # the four documented schemes are of the form (one set of axes each)
    x4 = rng.standard_normal((n + 1, 2, 3, 2))
    for y in (
        batch_norm(x4, training=True, eps=eps),
        layer_norm(x4, x4.shape[1:], eps=eps),
        instance_norm(x4, eps=eps),
    ):
        assert any(np.allclose(y, cand, atol=1e-12) for cand in _mean_std_normalizations(x4, eps))


@pytest.mark.claim("d002.norm.common-form")
def test_rmsnorm_counterexample():
    x = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    rms = F.rms_norm(x, (2,), eps=0.0).numpy()
    assert_close(rms, np.array([[1.0, 3.0]]) / np.sqrt(5.0), np.float64)
    assert_close(layer_norm(x.numpy(), 2, eps=0.0), np.array([[-1.0, 1.0]]), np.float64)


@pytest.mark.claim("d002.norm.recovery")
@settings(max_examples=30)  # builds a torch module per example
@given(n=st.integers(2, 5), c=st.integers(1, 4), momentum=st.floats(0.05, 1.0), seed=seeds)
def test_running_statistics_recover_every_input_in_eval_mode(n, c, momentum, seed):
    """Reading 2: gamma = sqrt(running_var + eps), beta = running_mean make torch's eval-mode
    BatchNorm2d (and our kernel) the identity on any input; in training mode they do not."""
    rng = np.random.default_rng(seed)
    module = torch.nn.BatchNorm2d(c, momentum=momentum, dtype=torch.float64)
    for _ in range(3):
        module.train()(torch.from_numpy(rng.standard_normal((n, c, 2, 3)) * 2 + 1))
    with torch.no_grad():
        module.weight.copy_(torch.sqrt(module.running_var + module.eps))
        module.bias.copy_(module.running_mean)
    x = rng.standard_normal((n, c, 2, 3)) * 5 - 3  # any input
    assert_close(module.eval()(torch.from_numpy(x)).detach().numpy(), x, np.float64)
    rm, rv = module.running_mean.numpy(), module.running_var.numpy()
    gamma, beta = np.sqrt(rv + module.eps), rm
    y = batch_norm(x, rm, rv, gamma, beta, training=False, eps=module.eps)
    assert_close(y, x, np.float64)
    y_train = batch_norm(x, None, None, gamma, beta, training=True, eps=module.eps)
    assert not np.allclose(y_train, x)


@pytest.mark.claim("d000.norm.groupnorm-channel-relations")
@given(
    n=st.integers(1, 3),
    groups=st.integers(2, 3),
    per_group=st.integers(2, 3),
    eps=st.sampled_from([0.0, 1e-5, 0.5]),
    seed=seeds,
)
def test_group_norm_keeps_relative_offsets_and_scales_within_a_group(
    n, groups, per_group, eps, seed
):
    rng = np.random.default_rng(seed)
    c = groups * per_group
    scales = np.exp(rng.uniform(-2, 2, (1, c, 1, 1)))
    x = rng.standard_normal((n, c, 3, 4)) * scales + rng.uniform(-3, 3, (1, c, 1, 1))
    y = group_norm(x, groups, eps=eps)
    assert_close(y, F.group_norm(torch.from_numpy(x), groups, eps=eps).numpy(), np.float64)
    xg = x.reshape(n, groups, -1)
    denom = np.sqrt(xg.var(axis=2) + eps)  # one per (sample, group)
    for g in range(groups):
        c1, c2 = g * per_group, g * per_group + 1
        diff = (x[:, c1] - x[:, c2]) / denom[:, g, None, None]
        assert_close(y[:, c1] - y[:, c2], diff, np.float64)
        ratio_in = x[:, c1].std(axis=(1, 2)) / x[:, c2].std(axis=(1, 2))
        ratio_out = y[:, c1].std(axis=(1, 2)) / y[:, c2].std(axis=(1, 2))
        assert_close(ratio_out, ratio_in, np.float64)
    # across groups the relation is lost: channel scales are equalized per group
    inn = instance_norm(x, eps=0.0)
    assert_close(inn.std(axis=(2, 3)), np.ones((n, c)), np.float64)
    assert not np.allclose(y.std(axis=(2, 3)), 1.0)


# ------------------------------------------------------------ second reading (issue 10 §5)


def _elasticity_formula(a: float, var: np.ndarray, eps: float) -> np.ndarray:
    r"""d ln ||N(a z)|| / d ln a = eps / (a^2 sigma^2 + eps) for a normalization N with biased
    variance sigma^2 over the normalized set (000 § Batch Normalization)."""
    return eps / (a * a * var + eps)


@pytest.mark.claim("d000.norm.batchnorm-init-insensitivity", "d002.norm.review-init-dependence")
def test_scale_elasticity_is_derived_and_below_one():
    """SymPy: ln(a / sqrt(a^2 s2 + eps)) has elasticity eps/(a^2 s2 + eps); 1 minus it is
    a^2 s2/(a^2 s2 + eps) > 0 for all a, s2 > 0, eps >= 0; it is 0 at eps = 0; without the
    normalization (output a z) the elasticity is 1."""
    a, s2, eps = sympy.symbols("a sigma2 epsilon", positive=True)
    size = a / sympy.sqrt(a**2 * s2 + eps)  # ||BN(a z)|| / ||z - mu|| (times sqrt(m) / sigma)
    elasticity = sympy.cancel(a * sympy.diff(sympy.log(size), a))
    assert sympy.simplify(elasticity - eps / (a**2 * s2 + eps)) == 0
    assert sympy.simplify(1 - elasticity).is_positive
    assert elasticity.subs(eps, 0) == 0
    assert sympy.cancel(a * sympy.diff(sympy.log(a), a)) == 1  # no normalization


@pytest.mark.claim("d000.norm.batchnorm-init-insensitivity", "d002.norm.review-init-dependence")
@given(
    n=st.integers(2, 6),
    c=st.integers(1, 4),
    log_a=st.floats(-3, 3),
    eps=st.sampled_from([1e-5, 1e-2, 1.0]),
    seed=seeds,
)
def test_scale_elasticity_of_batchnorm_and_layernorm_matches_and_is_below_one(
    n, c, log_a, eps, seed
):
    """Per channel (BatchNorm) and per sample (LayerNorm over c features): the elasticity of
    the output's size to the weight scale a > 0, by central differences in ln a on our kernels
    and by torch autograd, equals eps/(a^2 sigma^2 + eps) (biased sigma^2) and is < 1."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * np.exp(rng.uniform(-1, 1, c))
    var_bn = z.var(axis=0)
    assume(np.all(var_bn > 1e-3))
    a, h = 10.0**log_a, 1e-4
    expected = _elasticity_formula(a, var_bn, eps)
    assert np.all(expected < 1)

    def bn_size(scale: float) -> np.ndarray:
        return np.log(np.linalg.norm(batch_norm(scale * z, training=True, eps=eps), axis=0))

    numeric = (bn_size(a * np.exp(h)) - bn_size(a * np.exp(-h))) / (2 * h)
    assert np.allclose(numeric, expected, rtol=1e-6, atol=1e-9)
    log_at = torch.tensor(np.log(a), dtype=torch.float64, requires_grad=True)
    out = F.batch_norm(torch.exp(log_at) * torch.from_numpy(z), None, None, training=True, eps=eps)
    for j in range(c):
        (g,) = torch.autograd.grad(torch.log(out[:, j].norm()), log_at, retain_graph=True)
        assert float(g) == pytest.approx(float(expected[j]), rel=1e-9, abs=1e-12)
    if c >= 2:
        var_ln = z.var(axis=1)
        assume(np.all(var_ln > 1e-3))

        def ln_size(scale: float) -> np.ndarray:
            return np.log(np.linalg.norm(layer_norm(scale * z, (c,), eps=eps), axis=1))

        numeric = (ln_size(a * np.exp(h)) - ln_size(a * np.exp(-h))) / (2 * h)
        assert np.allclose(numeric, _elasticity_formula(a, var_ln, eps), rtol=1e-6, atol=1e-9)
        assert np.all(numeric < 1)


@pytest.mark.claim("d002.norm.groupnorm-compromise")
@given(
    n=st.integers(2, 4),
    c=st.integers(1, 8),
    h=st.integers(1, 3),
    w=st.integers(2, 3),
    eps=st.sampled_from([1e-5, 0.5]),
    seed=seeds,
)
def test_groupnorm_readings_for_every_group_count(n, c, h, w, eps, seed):
    """Every G dividing C, ours and torch: (reading 1, refuted; reading 3's checkable half)
    sample 0's output never changes when the other samples change, while BatchNorm's does;
    (reading 2, holds) G = C is BatchNorm of each sample alone and G = 1 is LayerNorm."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)) * 2 - 1
    other = x.copy()
    other[1:] = rng.standard_normal(other[1:].shape) * 5 + 3
    for g in (d for d in range(1, c + 1) if c % d == 0):  # w >= 2: every set has >= 2 entries
        y = group_norm(x, g, eps=eps)
        assert_close(y, F.group_norm(torch.from_numpy(x), g, eps=eps).numpy(), np.float64)
        assert np.array_equal(group_norm(other, g, eps=eps)[0], y[0])  # no batch statistics
    bn, bn_other = bn_train(x, eps=eps), bn_train(other, eps=eps)
    assert not np.allclose(bn[0], bn_other[0])  # BatchNorm couples the samples
    per_sample = np.concatenate([bn_train(x[i : i + 1], eps=eps) for i in range(n)])
    assert_close(group_norm(x, c, eps=eps), per_sample, np.float64)
    assert_close(group_norm(x, 1, eps=eps), layer_norm(x, x.shape[1:], eps=eps), np.float64)


# ---------------------------------------------------------------- outside fuzz (issue 10)


@pytest.mark.claim("d000.norm.batchnorm-definition")
@given(
    momentum=st.sampled_from([-1.2, -1.0, 1.5, 2.0]),
    n=st.integers(2, 5),
    c=st.integers(1, 4),
    seed=seeds,
)
def test_momentum_outside_unit_interval_follows_torch_then_negative_running_var_is_named(
    momentum, n, c, seed
):
    """Any finite momentum is accepted, as torch (its OpInfo samples use -1.2 and -1.0): the
    buffers follow torch's update exactly. When that update makes running_var negative, the
    eval-mode refusal names running_var (not eps), for batch norm and instance norm."""
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((n, c, 5))
    rm, rv = np.zeros(c), np.ones(c)
    rmt, rvt = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    batch_norm(x, rm, rv, training=True, momentum=momentum)
    F.batch_norm(torch.from_numpy(x), rmt, rvt, training=True, momentum=momentum)
    assert_close(rm, rmt.numpy(), np.float64)
    assert_close(rv, rvt.numpy(), np.float64)
    if (rv + 1e-5 > 0).all():
        assert np.isfinite(batch_norm(x, rm, rv)).all()
        return
    for call in (
        lambda: batch_norm(x, rm, rv),
        lambda: norm.batch_norm_backward(x, x, rm, rv),
        lambda: instance_norm(x, rm, rv, use_input_stats=False),
        lambda: norm.instance_norm_backward(x, x, rm, rv, use_input_stats=False),
    ):
        with pytest.raises(ValueError, match=r"^running_var:.*negative"):
            call()


@pytest.mark.claim("d000.norm.batchnorm-definition")
def test_momentum_two_makes_running_var_negative_and_eval_names_it():
    """The fuzz's example: momentum = 2 from running_var = 1 and a small batch variance."""
    x = 0.1 * np.random.default_rng(0).standard_normal((4, 6, 5))
    rm, rv = np.zeros(6), np.ones(6)
    batch_norm(x, rm, rv, training=True, momentum=2.0)
    assert (rv < 0).all()
    with pytest.raises(ValueError, match=r"^running_var:.*negative"):
        batch_norm(x, rm, rv)


@pytest.mark.claim("d000.norm.batchnorm-definition")
@given(
    exponent=st.integers(400, 1020),
    kind=st.sampled_from(["layer", "group", "batch", "instance"]),
    seed=seeds,
)
def test_huge_finite_input_is_normalized_without_overflow(exponent, kind, seed):
    """Normalization is scale invariant (eps = 0, or eps negligible): x * 2**k gives the result
    of x (forward exactly; the input gradient scaled by 2**-k), no NaN/0 from overflowing squares
    and no RuntimeWarning, up to the largest finite inputs; float32 likewise."""
    import warnings

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (3, 4, 5))
    g = rng.standard_normal(x.shape)
    big = np.ldexp(x, exponent)  # exact
    forward = {
        "layer": lambda v, e: layer_norm(v, (4, 5), eps=e),
        "group": lambda v, e: group_norm(v, 2, eps=e),
        "batch": lambda v, e: batch_norm(v, training=True, eps=e),
        "instance": lambda v, e: instance_norm(v, eps=e),
    }[kind]
    backward = {
        "layer": lambda v, e: norm.layer_norm_backward(g, v, (4, 5), eps=e)[0],
        "group": lambda v, e: norm.group_norm_backward(g, v, 2, eps=e)[0],
        "batch": lambda v, e: norm.batch_norm_backward(g, v, training=True, eps=e)[0],
        "instance": lambda v, e: norm.instance_norm_backward(g, v, eps=e)[0],
    }[kind]
    eps = 1e-300  # > 0 for batch norm's training rule; negligible against every variance drawn
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        y_big, dx_big = forward(big, eps), backward(big, eps)
        y32 = forward(big.astype(np.float32) if exponent < 128 else x.astype(np.float32), 1e-30)
    assert np.isfinite(y_big).all() and np.isfinite(y32).all()
    assert_close(y_big, forward(x, eps), np.float64)
    assert_close(np.ldexp(dx_big, exponent), backward(x, eps), np.float64)


@pytest.mark.claim("d000.norm.batchnorm-definition")
def test_huge_constant_set_normalizes_to_zero():
    """A constant set has variance 0: with eps > 0 the output is 0 (torch), also at 1e300."""
    for c in (1e300, 1.7976931348623157e308, -3e200):
        x = np.full((2, 3, 5), c)
        for y in (
            layer_norm(x, (3, 5)),
            group_norm(x, 3),
            instance_norm(x),
            batch_norm(x, training=True),
        ):
            assert np.array_equal(y, np.zeros_like(x)), (c, y)


@pytest.mark.claim("d000.norm.batchnorm-backward")
@given(
    exponent=st.integers(1019, 1020),
    kind=st.sampled_from(["layer", "group", "batch", "instance"]),
    seed=seeds,
)
def test_input_gradient_of_huge_finite_grad_out_is_exact_rescaling(exponent, kind, seed):
    """dx is linear in grad_out: grad_out * 2**k gives dx * 2**k, with no NaN from the
    products and sums inside the backward overflowing (the sums of grad_out do)."""
    import warnings

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 64))  # sets of >= 64: 64 * 0.75 * 2**1019 > 2**1024
    g = rng.uniform(0.5, 1, x.shape)  # one sign: the sums of grad_out overflow
    backward = {
        "layer": lambda v: norm.layer_norm_backward(v, x, (4, 64))[0],
        "group": lambda v: norm.group_norm_backward(v, x, 2)[0],
        "batch": lambda v: norm.batch_norm_backward(v, x, training=True)[0],
        "instance": lambda v: norm.instance_norm_backward(v, x)[0],
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        dx_big = backward(np.ldexp(g, exponent))
    assert np.isfinite(dx_big).all()
    assert_close(np.ldexp(dx_big, -exponent), backward(g), np.float64)


@pytest.mark.claim("d000.norm.batchnorm-definition")
@given(exponent=st.integers(497, 509), instance=st.booleans(), seed=seeds)
def test_running_statistics_of_huge_finite_input_scale_exactly(exponent, instance, seed):
    """The running buffers see the batch statistics of x * 2**k (beyond the rescaling
    threshold 2**496 of the normalization): mean * 2**k and variance * 2**(2k), as for x."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 6))
    buffers = []
    for v in (x, np.ldexp(x, exponent)):
        rm, rv = np.zeros(4), np.ones(4)
        if instance:
            instance_norm(v, rm, rv, momentum=1.0)
        else:
            batch_norm(v, rm, rv, training=True, momentum=1.0)
        buffers.append((rm, rv))
    (rm, rv), (rm_big, rv_big) = buffers
    assert_close(np.ldexp(rm_big, -exponent), rm, np.float64)
    assert_close(np.ldexp(rv_big, -2 * exponent), rv, np.float64)
