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

from kernels.cpu.norm import batch_norm, group_norm, instance_norm, layer_norm, norm_backward
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


def _ours(kind, x, g, gamma, beta, eps):
    if kind == "batch":
        return batch_norm(x, gamma, beta, eps)
    if kind == "layer":
        return layer_norm(x, x.ndim - 1, gamma, beta, eps)
    if kind == "instance":
        return instance_norm(x, gamma, beta, eps)
    return group_norm(x, g, gamma, beta, eps)


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
    y, _ = _ours(kind, x, g, gamma, beta, eps)
    t = [None if a is None else torch.from_numpy(a) for a in (x, gamma, beta)]
    expected = _theirs(kind, t[0], g, t[1], t[2], eps).numpy()
    m = th.statistics_count(kind, shape, g)
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
    _, cache = _ours(kind, x, g, gamma, beta, eps)
    dx, dgamma, dbeta = norm_backward(up, cache)
    leaves = [
        torch.from_numpy(a.copy()).requires_grad_() if a is not None else None
        for a in (x, gamma, beta)
    ]
    _theirs(kind, leaves[0], g, leaves[1], leaves[2], eps).backward(torch.from_numpy(up))
    ctx = f"{kind} {shape} groups={g} affine={affine} eps={eps} seed={seed}"
    assert_close(dx, leaves[0].grad.numpy(), np.float64, context=ctx)
    assert_grad_close(
        dx, central_difference(lambda v: _ours(kind, v, g, gamma, beta, eps)[0], x.copy(), up), ctx
    )
    if affine:
        assert_close(dgamma, leaves[1].grad.numpy(), np.float64, context=ctx)
        assert_close(dbeta, leaves[2].grad.numpy(), np.float64, context=ctx)
        assert_grad_close(
            dgamma,
            central_difference(lambda v: _ours(kind, x, g, v, beta, eps)[0], gamma.copy(), up),
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
    _, cache = batch_norm(x, gamma, np.zeros(1), eps)
    dx, _, _ = norm_backward(up, cache)
    assert_close(dx[0, 0], f(*x[:, 0], *up[:, 0], gamma[0], eps), np.float64)


@pytest.mark.claim("d000.norm.batchnorm-backward")
@given(m=st.integers(2, 12), seed=seeds, eps=st.sampled_from([1e-5, 0.1, 2.0]))
def test_document_formula_evaluated_numerically(m, seed, eps):
    """The formula as written, evaluated with NumPy on one feature, against the kernel."""
    rng = np.random.default_rng(seed)
    x, up, gamma = rng.standard_normal((m, 1)), rng.standard_normal((m, 1)), rng.standard_normal(1)
    _, cache = batch_norm(x, gamma, np.zeros(1), eps)
    dx, _, _ = norm_backward(up, cache)
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
        batch_norm(x, running_mean=rm, running_var=rv, momentum=momentum)
        module.train()(torch.from_numpy(x))
    assert_close(rm, module.running_mean.numpy(), np.float64)
    assert_close(rv, module.running_var.numpy(), np.float64)
    x = rng.standard_normal((n, c, hw, hw + 1))
    w, b = module.weight.detach().numpy(), module.bias.detach().numpy()
    y, _ = batch_norm(x, w, b, training=False, running_mean=rm, running_var=rv)
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
    gn1, _ = group_norm(x, 1)
    ln, _ = layer_norm(x, 3)
    assert_close(gn1, ln, np.float64)
    gnc, _ = group_norm(x, c)
    inn, _ = instance_norm(x)
    assert_close(gnc, inn, np.float64)
    # instance norm = batch norm of each sample on its own
    if h * w >= 2:
        per_sample = np.concatenate([batch_norm(x[i : i + 1])[0] for i in range(n)])
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
        _, cache = _ours(kind, x, 1, None, None, 1e-5)
        dx, _, _ = norm_backward(up, cache)
        coupled = np.abs(dx[1:]).max() > 1e-12
        assert coupled == (kind == "batch"), kind
        # and directly: changing the other samples changes sample 0 only under BatchNorm
        x2 = x.copy()
        x2[1:] = rng.standard_normal(x2[1:].shape) * 5
        same = np.allclose(
            _ours(kind, x, 1, None, None, 1e-5)[0][0], _ours(kind, x2, 1, None, None, 1e-5)[0][0]
        )
        assert same == (kind != "batch"), kind


@pytest.mark.claim("d000.norm.layernorm-batch-independence")
def test_batch_of_one_and_train_eval_consistency():
    x = np.random.default_rng(0).standard_normal((1, 5))
    y, _ = layer_norm(x, 1)  # batch size 1 is fine for LayerNorm
    assert np.isfinite(y).all() and abs(y.mean()) < 1e-12
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(x)
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
    y, _ = batch_norm(x, eps=eps)
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
    assert float(batch_norm(x, eps=eps)[0].var()) == pytest.approx(0.5)
    assert float(batch_norm(np.full((4, 1), 7.0))[0].var()) == 0.0


@pytest.mark.claim("d002.norm.recovery")
@given(m=st.integers(2, 20), eps=st.sampled_from([0.0, 1e-5, 0.3]), seed=seeds)
def test_recovery_on_the_same_batch_only(m, eps, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, 3)) * 2 + 1
    gamma, beta = np.sqrt(x.var(axis=0) + eps), x.mean(axis=0)
    assert_close(batch_norm(x, gamma, beta, eps)[0], x, np.float64)
    other = x * 2 + 1
    assert not np.allclose(batch_norm(other, gamma, beta, eps)[0], other)
    assert th.derive_recovery().agrees()


@pytest.mark.claim("d002.norm.recovery")
def test_recovery_counterexample():
    gamma, beta = np.array([1.0]), np.array([1.0])  # from the batch (0, 2), eps = 0
    y, _ = batch_norm(np.array([[0.0], [4.0]]), gamma, beta, eps=0.0)
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
    bn, _ = batch_norm(x, eps=0.0)
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
    assert np.allclose(batch_norm(q, eps=0.0)[0], qwhite, atol=1e-9)


# --------------------------------------------------------------------------- bad input


@pytest.mark.claim("d000.norm.batchnorm-definition", "d000.norm.groupnorm-definition")
def test_bad_input():
    x = np.zeros((2, 6, 3, 3))
    with pytest.raises(ValueError, match="groups must divide"):
        group_norm(x, 4)
    with pytest.raises(ValueError, match=r"gamma must have shape \(6,\)"):
        batch_norm(x, np.ones(5))
    with pytest.raises(ValueError, match=r"beta must have ndim in \(3,\), got shape \(6, 3\)"):
        layer_norm(x, 3, np.ones((6, 3, 3)), np.ones((6, 3)))
    with pytest.raises(ValueError, match="eps must be"):
        instance_norm(x, eps=-1e-5)
    with pytest.raises(ValueError, match="eval mode needs running_mean"):
        batch_norm(x, training=False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(np.zeros((1, 3, 1, 1)))
    with pytest.raises(ValueError, match="momentum"):
        batch_norm(x, running_mean=np.zeros(6), running_var=np.ones(6), momentum=1.5)
    with pytest.raises(ValueError, match="normalized_ndim"):
        layer_norm(x, 4)
    with pytest.raises(TypeError, match="dtype"):
        batch_norm(x.astype(np.int32))
    with pytest.raises(ValueError, match="grad_out must have shape"):
        norm_backward(np.zeros((2, 6, 3, 2)), batch_norm(x)[1])
    with pytest.raises(ValueError, match="single value"):
        group_norm(np.zeros((2, 2, 1, 1)), 2)  # torch accepts this and outputs beta
    with pytest.raises(ValueError, match="single value"):
        instance_norm(np.zeros((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(torch.zeros(2, 2, 1, 1))
    with pytest.raises(ValueError, match="groups is required"):
        th.statistics_count("group", (2, 6, 3, 3))


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
    assert_close(batch_norm(z_scaled, eps=0.0)[0], batch_norm(z, eps=0.0)[0], np.float64)
    if c_out >= 2:
        assert_close(
            layer_norm(x @ (a * w).T, 1, eps=0.0)[0], layer_norm(z, 1, eps=0.0)[0], np.float64
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
def test_weight_scale_invariance_counterexamples():
    z = np.array([[-1.0], [1.0]])  # unit biased variance
    y, _ = batch_norm(z, eps=0.0)
    small, _ = batch_norm(1e-3 * z, eps=1e-5)
    assert small[1, 0] / y[1, 0] == pytest.approx(1e-3 / np.sqrt(1e-6 + 1e-5))
    assert round(float(small[1, 0] / y[1, 0]), 2) == 0.30
    assert_close(batch_norm(-z, eps=0.0)[0], -y, np.float64)  # a = -1 flips the sign
    ln, _ = layer_norm(np.array([[1.0, 2.0, 4.0]]), 1, eps=0.0)
    per_feature, _ = layer_norm(np.array([[1.0, 2.0, 8.0]]), 1, eps=0.0)  # not a common scale
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
    ours = layer_norm(np.ascontiguousarray(padded.transpose(0, 2, 1)), 1)[0].transpose(0, 2, 1)
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
    assert_close(instance_norm(styled, eps=0.0)[0], instance_norm(x, eps=0.0)[0], np.float64)
    theirs = F.instance_norm(torch.from_numpy(styled), eps=0.0).numpy()
    assert_close(theirs, instance_norm(x, eps=0.0)[0], np.float64)
    if n >= 2:
        restyled = x.copy()
        restyled[1] = 3.0 * x[1] + 2.0
        assert not np.allclose(batch_norm(restyled, eps=0.0)[0][0], batch_norm(x, eps=0.0)[0][0])


@pytest.mark.claim("d000.norm.instancenorm-style")
def test_instance_norm_style_counterexamples():
    x = np.array([[[[-1.0, 1.0]]]])
    y, _ = instance_norm(x, eps=0.0)
    assert_close(instance_norm(-x, eps=0.0)[0], -y, np.float64)  # a < 0 flips
    small, _ = instance_norm(1e-3 * x, eps=1e-5)
    assert round(float(small[0, 0, 0, 1] / y[0, 0, 0, 1]), 2) == 0.30


@pytest.mark.claim("d002.norm.instancenorm-definition")
@given(
    n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(2, 4), seed=seeds
)
def test_instance_norm_slices_are_normalized_independently(n, c, h, w, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)) * 3 + 1
    eps = 1e-5
    y, _ = instance_norm(x, eps=eps)
    assert_close(y, F.instance_norm(torch.from_numpy(x), eps=eps).numpy(), np.float64)
    var = x.var(axis=(2, 3))
    assert np.abs(y.mean(axis=(2, 3))).max() < 1e-12
    assert_close(y.var(axis=(2, 3)), var / (var + eps), np.float64)
    other = x.copy()
    other[0, 0] = rng.standard_normal((h, w)) * 7  # change one slice
    y2, _ = instance_norm(other, eps=eps)
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
        batch_norm(x4, eps=eps)[0],
        layer_norm(x4, 3, eps=eps)[0],
        instance_norm(x4, eps=eps)[0],
    ):
        assert any(np.allclose(y, cand, atol=1e-12) for cand in _mean_std_normalizations(x4, eps))


@pytest.mark.claim("d002.norm.common-form")
def test_rmsnorm_counterexample():
    x = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    rms = F.rms_norm(x, (2,), eps=0.0).numpy()
    assert_close(rms, np.array([[1.0, 3.0]]) / np.sqrt(5.0), np.float64)
    assert_close(layer_norm(x.numpy(), 1, eps=0.0)[0], np.array([[-1.0, 1.0]]), np.float64)


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
    y, _ = batch_norm(x, gamma, beta, module.eps, training=False, running_mean=rm, running_var=rv)
    assert_close(y, x, np.float64)
    y_train, _ = batch_norm(x, gamma, beta, module.eps)
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
    y, _ = group_norm(x, groups, eps=eps)
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
    inn, _ = instance_norm(x, eps=0.0)
    assert_close(inn.std(axis=(2, 3)), np.ones((n, c)), np.float64)
    assert not np.allclose(y.std(axis=(2, 3)), 1.0)
