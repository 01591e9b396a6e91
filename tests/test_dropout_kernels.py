"""Dropout kernels against torch and against the exact distributions.

Claims: theory/claims/dropout.yaml (``d000.drop.*``, ``d002.drop.*``). Kernels:
kernels.cpu.dropout (``dropout_mask``, ``dropout``, ``dropout1d``, ``dropout2d``,
``dropout3d``, ``dropout_backward``, ``dropconnect_linear``, ``dropconnect_linear_backward``,
``stochastic_depth``, ``drop_block2d``, ``drop_block3d``, ``drop_block_backward``).

Convention: ``p`` is the DROP probability (torch, 000), ``q = 1 - p`` the keep probability
(002's model writes its p for q). Inverted dropout: kept values are scaled by 1/(1-p) in
training, evaluation is the identity.

Statistical checks. Every interval comes from :mod:`numerics.stats` (Hoeffding for means of
bounded variables) with a false-alarm probability of ``ALPHA = 1e-6`` **per check** (a check
over several pixels uses ``ALPHA / #pixels`` for each, so the family stays at 1e-6); the seed
is drawn by hypothesis, so a failure reproduces. torch is compared by distribution (kept
fraction, kept value, mask structure), never mask by mask. Each statistical check is also run
on a deliberately wrong kernel (wrong scale, literal 000 mask, mask shared across the batch,
wrong DropBlock gamma) that the same interval must reject: the checks can fail.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import dropout as K
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.stats import hoeffding_halfwidth
from numerics.tolerances import assert_close

ALPHA = 1e-6  # false-alarm probability of every statistical check below
seeds = st.integers(0, 2**32 - 1)
probs = st.floats(0.05, 0.9)


def T(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, order="C"))  # keeps 0-d arrays 0-d


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def mean_ok(values: np.ndarray, expected: float, width: float, alpha: float = ALPHA) -> bool:
    """The mean of i.i.d. ``values`` (in a range of ``width``) lies within Hoeffding's
    half-width of ``expected`` (false alarm <= alpha)."""
    n = values.size
    return abs(float(values.mean()) - expected) <= hoeffding_halfwidth(n, width, alpha)


def factor_moments_ok(f: np.ndarray, p: float) -> bool:
    r"""The noise factor :math:`f = r/(1-p)` of i.i.d. draws: mean 1 and
    :math:`\mathbb E f^2 = 1/(1-p)`, i.e. variance :math:`p/(1-p)` (002's :math:`(1-q)/q`);
    each a Hoeffding check at ALPHA (f in [0, 1/(1-p)], f^2 in [0, 1/(1-p)^2])."""
    s = 1 / (1 - p)
    return mean_ok(f, 1.0, s) and mean_ok(f * f, s, s * s)


def coincidence(p: float) -> float:
    """Probability that two independent Bernoulli(1-p) draws agree."""
    return p * p + (1 - p) * (1 - p)


# Standard dropout: kept values, kept fraction, torch ----------------------------------------


@pytest.mark.claim("d000.drop.mask", "d000.drop.scale-factor")
@given(seed=seeds, p=probs, dtype=st.sampled_from([np.float64, np.float32]))
def test_dropout_kept_value_and_fraction_match_torch(seed, p, dtype):
    n = 20000
    x = (rng(seed).uniform(0.5, 2.0, n) * rng(seed + 1).choice([-1, 1], n)).astype(dtype)
    ours, mask = K.dropout(x, p, generator=rng(seed), return_mask=True)
    torch.manual_seed(seed)
    theirs = torch.nn.Dropout(p)(T(x)).numpy()
    scale = 1.0 / (1.0 - p)
    for y, keep in ((ours, mask), (theirs, theirs != 0)):
        assert y.dtype == dtype and y.shape == x.shape
        assert np.all(y[~keep] == 0)
        # kept = x * fl(1/(1-p)): bit for bit in float64 (torch's arithmetic), one rounding
        # of the scale in float32
        if dtype == np.float64:
            assert np.array_equal(y[keep], x[keep] * scale)
        else:
            assert_close(y[keep], x[keep].astype(np.float64) * scale, np.float32)
        assert mean_ok(keep.astype(float), 1 - p, 1.0)  # P(kept) = 1 - p
    assert np.array_equal(mask, ours != 0)


@pytest.mark.claim("d000.drop.mask", "d000.drop.expectation")
@given(seed=seeds, p=st.floats(0.05, 0.4))
def test_literal_000_mask_is_biased_and_rejected(seed, p):
    """000 writes r ~ Bernoulli(p) with p the DROP probability and keeps r = 1 scaled by
    1/(1-p): literally the mean is p/(1-p)·y (p = 0.2 → 0.25 y), and 000's inference line
    (1-p)·0 + p·y/(1-p) = y holds only at p = 1/2. The kernel passes the unbiasedness check,
    the literal reading fails it (p <= 0.4 keeps the two apart by more than the intervals)."""
    n = 100000
    f_ours = K.dropout(np.ones(n), p, generator=rng(seed))
    literal = (rng(seed).random(n) < p) / (1 - p)  # keep with probability p
    assert factor_moments_ok(f_ours, p)
    assert mean_ok(literal, p / (1 - p), 1 / (1 - p))  # what the literal formula gives
    assert not factor_moments_ok(literal, p)
    # the corrected inference line p·0 + (1-p)·y/(1-p) = y, exactly in rationals
    from fractions import Fraction

    pf = Fraction(1, 5)
    assert pf * 0 + (1 - pf) * 1 / (1 - pf) == 1
    assert (1 - pf) * 0 + pf * 1 / (1 - pf) == Fraction(1, 4)  # 000's line at p = 0.2


@pytest.mark.claim(
    "d000.drop.scale-factor", "d002.drop.expected-value", "d002.drop.multiplicative-noise"
)
@given(seed=seeds, p=st.floats(0.05, 0.8))
@settings(max_examples=40)
def test_dropout_is_unbiased_multiplicative_noise(seed, p):
    """E[y] = x and Var[y] = p/(1-p)·x²: the factor y/x has mean 1 and variance p/(1-p)
    (in 002's keep notation q = 1-p: (1-q)/q). Kernel and torch both; a kernel that scales by
    1/p, or not at all, is rejected by the same checks."""
    n = 100000
    x = rng(seed + 7).uniform(0.5, 3.0, n)
    f = K.dropout(x, p, generator=rng(seed)) / x
    assert factor_moments_ok(f, p)
    torch.manual_seed(seed)
    f_torch = F.dropout(T(x), p).numpy() / x
    assert factor_moments_ok(f_torch, p)
    r = rng(seed).random(n) >= p
    if abs((1 - p) / p - 1) > 2 * hoeffding_halfwidth(n, 1 / (1 - p), ALPHA):
        assert not factor_moments_ok(r / p, p)  # wrong scale 1/p (mean (1-p)/p)
    assert not factor_moments_ok(r.astype(float), p)  # classic training pass without scale


@pytest.mark.claim("d002.drop.mask-keep")
@given(seed=seeds, q=st.floats(0.1, 0.95))
def test_002_keep_probability_model_is_dropout_with_p_one_minus_q(seed, q):
    """002: r ~ Bernoulli(q), y = r ⊙ x / q (q = its p, the KEEP probability) is
    dropout(x, p=1-q): kept values x/q, kept fraction q."""
    n = 50000
    x = rng(seed + 3).standard_normal(n) + 5
    y, mask = K.dropout(x, 1 - q, generator=rng(seed), return_mask=True)
    assert_close(y[mask], x[mask] / q, np.float64)
    assert np.all(y[~mask] == 0)
    assert mean_ok(mask.astype(float), q, 1.0)


@pytest.mark.claim("d002.drop.inference-identity", "d000.drop.inference-scaled")
@given(seed=seeds, p=st.floats(0.0, 0.99), shape=st.sampled_from([(), (5,), (2, 3, 4)]))
def test_eval_mode_and_p_zero_are_the_identity(seed, p, shape):
    """Inverted dropout (torch, 000's own training formula): inference is the identity (no
    scaling at test time); p = 0 in training is the identity too. Both copies."""
    x = rng(seed).standard_normal(shape)
    for fn in (K.dropout, K.stochastic_depth if shape else None):
        if fn is None:
            continue
        args = (x, p, "row") if fn is K.stochastic_depth else (x, p)
        y = fn(*args, training=False, generator=rng(seed))
        assert np.array_equal(y, x) and y is not x
    y, mask = K.dropout(x, p, training=False, return_mask=True)
    assert np.array_equal(y, x) and mask is None
    assert np.array_equal(K.dropout(x, 0.0, generator=rng(seed)), x)
    module = torch.nn.Dropout(p).eval()
    assert np.array_equal(module(T(x)).numpy(), x)
    assert np.array_equal(F.dropout(T(x), 0.0).numpy(), x)


def test_p_one_is_refused_where_torch_returns_zeros():
    """A deliberate difference: p = 1 has no 1/(1-p); torch returns zeros, the kernels raise."""
    x = np.ones((2, 3, 4, 4))
    assert np.array_equal(F.dropout(T(x), 1.0).numpy(), np.zeros_like(x))
    assert np.array_equal(torch.nn.Dropout2d(1.0)(T(x)).numpy(), np.zeros_like(x))
    for call in (
        lambda: K.dropout(x, 1.0),
        lambda: K.dropout2d(x, 1.0),
        lambda: K.dropout_mask(3, 1.0),
        lambda: K.stochastic_depth(x, 1.0, "row"),
        lambda: K.drop_block2d(x, 1.0, 3),
    ):
        with pytest.raises(ValueError, match="p must be a drop probability in"):
            call()
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            F.dropout(T(x), bad)
        with pytest.raises(ValueError, match="p must be"):
            K.dropout(x, bad)


# Fresh mask per call and per sample --------------------------------------------------------


@pytest.mark.claim("d000.drop.fresh-mask")
@given(seed=seeds, p=st.floats(0.05, 0.95))
def test_fresh_mask_on_every_call_and_for_every_sample(seed, p):
    """Two masks coincide with probability (p² + (1-p)²)^n; n is chosen so that this is
    <= ALPHA. Also the fraction of coinciding entries between two calls (and between two
    samples) is p² + (1-p)² within a Hoeffding interval — a kernel that reseeds on every call
    or reuses one row for the batch is rejected."""
    c = coincidence(p)
    n = math.ceil(math.log(ALPHA) / math.log(c))
    assert c**n <= ALPHA
    gen = rng(seed)
    m1 = K.dropout_mask((2, n), p, generator=gen)
    m2 = K.dropout_mask((2, n), p, generator=gen)
    assert not np.array_equal(m1, m2)  # per call
    assert not np.array_equal(m1[0], m1[1])  # per sample
    big = 100000
    assert mean_ok(K.dropout_mask(big, p, generator=gen).astype(float), 1 - p, 1.0)
    _, a = K.dropout(np.ones((2, big)), p, generator=gen, return_mask=True)
    _, b = K.dropout(np.ones((2, big)), p, generator=gen, return_mask=True)
    assert mean_ok((a == b).astype(float), c, 1.0)
    assert mean_ok((a[0] == a[1]).astype(float), c, 1.0)
    # a reseeding kernel gives identical masks: coincidence fraction 1, rejected when c < 1
    same = K.dropout_mask(big, p, generator=rng(1)) == K.dropout_mask(big, p, generator=rng(1))
    if 1 - c > 2 * hoeffding_halfwidth(big, 1.0, ALPHA):
        assert not mean_ok(same.astype(float), c, 1.0)


# Channel-wise (spatial) dropout ------------------------------------------------------------

CHANNEL = {  # large batch/channel axes: one call gives thousands of independent draws
    1: (K.dropout1d, F.dropout1d, torch.nn.Dropout1d, [(2000, 3, 5), (4000, 5)]),
    2: (K.dropout2d, F.dropout2d, torch.nn.Dropout2d, [(2000, 3, 4, 5)]),
    3: (K.dropout3d, F.dropout3d, torch.nn.Dropout3d, [(1000, 3, 2, 3, 4), (4000, 2, 3, 4)]),
}


def _channel_structure(y: np.ndarray, batched: bool) -> np.ndarray:
    """The (sample, channel) keep flags of an output of positive inputs; asserts that each
    (sample, channel) slice is all kept or all zero (constant over the spatial axes)."""
    lead = 2 if batched else 1
    flat = (y != 0).reshape(*y.shape[:lead], -1)
    assert np.all(flat == flat[..., :1]), "mask not constant over the spatial axes"
    return flat[..., 0]


@pytest.mark.claim("d000.drop.spatial")
@given(seed=seeds, p=probs, nd=st.sampled_from([1, 2, 3]), data=st.data())
@settings(max_examples=40)  # 24000+ draws per example and per implementation
def test_channel_dropout_structure_fraction_and_values_match_torch(seed, p, nd, data):
    """Kernel, F.dropoutNd and nn.DropoutNd: each (sample, channel) slice all kept (values
    x·fl(1/(1-p)) exactly) or all zero; kept fraction 1-p; two samples' masks agree with
    probability p² + (1-p)² (independent per sample), all within Hoeffding intervals."""
    ours_fn, f_fn, module, shapes = CHANNEL[nd]
    shape = data.draw(st.sampled_from(shapes), label="shape")
    batched = len(shape) == nd + 2
    lead = 2 if batched else 1
    x = rng(seed).uniform(0.5, 2.0, shape)
    scale = 1 / (1 - p)
    y, mask = ours_fn(x, p, generator=rng(seed), return_mask=True)
    assert mask.shape == x.shape[:lead] + (1,) * (x.ndim - lead)
    assert np.array_equal(y, x * (mask * scale))
    torch.manual_seed(seed)
    outputs = [y, f_fn(T(x), p).numpy(), module(p)(T(x)).numpy()]
    for out in outputs:
        keep = _channel_structure(out, batched)
        full = np.broadcast_to(keep.reshape(keep.shape + (1,) * nd), x.shape)
        assert np.array_equal(out[full], x[full] * scale)
        assert mean_ok(keep.astype(float), 1 - p, 1.0)
        if batched:  # samples 2i and 2i+1: independent pairs
            agree = keep[0::2] == keep[1::2]
            assert mean_ok(agree.astype(float), coincidence(p), 1.0)


@pytest.mark.claim("d000.drop.spatial")
@given(seed=seeds, p=st.floats(0.2, 0.8))
@settings(max_examples=40)
def test_spatial_literal_reading_one_mask_per_channel_shared_across_the_batch(seed, p):
    """000 writes Ỹ[:, i, :, :] = 0 if r_i = 0: literally one r_i per channel shared by every
    sample. That reading is unbiased too, but its masks agree across samples with probability 1,
    while torch's (Tompson et al. per (sample, channel)) agree with probability p² + (1-p)²: the
    independence check accepts torch and the kernel and rejects the literal reading."""
    n, shape = 4000, (2, 3, 2, 2)  # n independent batches of 2 samples
    gen = rng(seed)
    literal = np.repeat(gen.random((n, 1, 3)) >= p, 2, axis=1)  # (batch, sample, channel)
    assert factor_moments_ok(literal[:, 0, :].ravel() / (1 - p), p)  # unbiased: E = x
    assert not mean_ok((literal[:, 0] == literal[:, 1]).astype(float), coincidence(p), 1.0)
    x = np.ones((2 * n, 3, 2, 2))  # the same batches side by side: pairs (2i, 2i+1)
    ours = K.dropout2d(x, p, generator=gen)[:, :, 0, 0] != 0
    torch.manual_seed(seed)
    theirs = F.dropout2d(T(x), p).numpy()[:, :, 0, 0] != 0
    assert shape == x[:2].shape
    for keeps in (ours, theirs):
        agree = keeps[0::2] == keeps[1::2]
        assert mean_ok(agree.astype(float), coincidence(p), 1.0)
        assert factor_moments_ok(keeps.ravel() / (1 - p), p)


@pytest.mark.claim("d000.drop.spatial")
@given(seed=seeds, p=st.floats(0.2, 0.8))
def test_dropout2d_on_3d_input_is_channelwise_1d_as_torch_2_13(seed, p):
    """torch 2.13 reads a 3-D input of dropout2d as (N, C, L) (channel-wise 1-D dropout; it
    warns that this will change to unbatched (C, H, W)). Pinned: torch's mask is constant along
    the last axis and drawn per (axis 0, axis 1); the kernel returns a mask (N, C, 1)."""
    x = np.ones((40, 5, 6))
    torch.manual_seed(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yt = F.dropout2d(T(x), p).numpy()
    assert any("(N, C, L)" in str(w.message) for w in caught)
    assert np.all((yt != 0) == (yt[..., :1] != 0))  # constant along L
    k = yt[..., 0] != 0
    assert not np.all(k == k[:, :1])  # not one draw per axis-0 slice (unbatched (C, H, W))
    assert not np.all(k == k[:1])  # not shared along axis 0
    _, mask = K.dropout2d(x, p, generator=rng(seed), return_mask=True)
    assert mask.shape == (40, 5, 1)
    assert mean_ok(k.astype(float), 1 - p, 1.0) and mean_ok(mask.astype(float), 1 - p, 1.0)
    with pytest.raises(ValueError, match="input"):
        K.dropout2d(np.ones((5, 6)), p)  # torch: deprecated 2-D input, refused here


# DropConnect ------------------------------------------------------------------------------


@pytest.mark.claim("d000.drop.dropconnect")
@given(seed=seeds, p=st.floats(0.3, 0.7))
@settings(max_examples=20)  # 100000 draws of 6 weights per example
def test_dropconnect_mean_variance_and_zero_covariance_vs_dropout(seed, p):
    r"""E[W̃x] = Wx, Var[(W̃x)_i] = p/(1-p) Σ_j W_ij² x_j², Cov[(W̃x)_i, (W̃x)_k] = 0; dropout on
    x instead gives Cov = p/(1-p) Σ_j W_ij W_kj x_j² (here 3p/(1-p) for W = ones, x = ones,
    far outside DropConnect's interval). Moments of bounded products, Hoeffding at ALPHA."""
    n = 100000
    x = np.ones(3)
    w = np.ones((2, 3))
    s = 1 / (1 - p)
    a = s * np.abs(w) @ np.abs(x)  # |y_i| <= a_i
    xs = np.broadcast_to(x, (n, 3)).copy()
    y = K.dropconnect_linear(xs, w, None, p, generator=rng(seed), per_sample=True)
    mu = w @ x
    var = s * p * (w**2) @ (x**2)
    assert mean_ok(y[:, 0], mu[0], 2 * a[0]) and mean_ok(y[:, 1], mu[1], 2 * a[1])
    assert mean_ok(y[:, 0] ** 2, mu[0] ** 2 + var[0], a[0] ** 2)
    cov_dropout = s * p * np.sum(w[0] * w[1] * x**2)
    prod = y[:, 0] * y[:, 1]
    assert mean_ok(prod, mu[0] * mu[1], 2 * a[0] * a[1])  # zero covariance
    assert not mean_ok(prod, mu[0] * mu[1] + cov_dropout, 2 * a[0] * a[1])
    yd = K.dropout(xs, p, generator=rng(seed + 1)) @ w.T  # dropout on the input
    prod_d = yd[:, 0] * yd[:, 1]
    assert mean_ok(prod_d, mu[0] * mu[1] + cov_dropout, 2 * a[0] * a[1])
    assert not mean_ok(prod_d, mu[0] * mu[1], 2 * a[0] * a[1])


@pytest.mark.claim("d000.drop.dropconnect")
@given(seed=seeds, p=st.floats(0.1, 0.9), batch=st.integers(2, 6), bias=st.booleans())
def test_dropconnect_shared_vs_per_sample_masks_and_forward(seed, p, batch, bias):
    """per_sample=False: one (out, in) mask for the batch (identical rows give identical
    outputs); per_sample=True: one mask per row ((batch, out, in)). The forward for the
    returned mask is Σ_i x_i W_oi M_oi / (1-p) + b (elementwise products summed: another
    algorithm than the kernel's einsum; torch has no DropConnect, its F.linear is the
    evaluation mode)."""
    out_f, in_f = 4, 40  # masks of 160 entries: coincide with probability <= 0.82^160 < 1e-13
    g = rng(seed)
    x = np.broadcast_to(g.standard_normal(in_f), (batch, in_f)).copy()
    w = g.standard_normal((out_f, in_f))
    b = g.standard_normal(out_f) if bias else None
    y, m = K.dropconnect_linear(x, w, b, p, generator=g, return_mask=True)
    assert m.shape == (out_f, in_f) and np.all(y == y[:1])
    bias_term = 0 if b is None else b
    ref = (x[:, None, :] * (w * m / (1 - p))).sum(axis=-1) + bias_term
    assert_close(y, ref, np.float64)
    y2, m2 = K.dropconnect_linear(x, w, b, p, generator=g, per_sample=True, return_mask=True)
    assert m2.shape == (batch, out_f, in_f)
    assert not np.array_equal(m2[0], m2[1])
    ref2 = (x[:, None, :] * (w * m2 / (1 - p))).sum(axis=-1) + bias_term
    assert_close(y2, ref2, np.float64)
    assert coincidence(p) ** (out_f * in_f) <= ALPHA
    y_eval = K.dropconnect_linear(x, w, b, p, training=False)
    assert_close(y_eval, (x[:, None, :] * w).sum(axis=-1) + bias_term, np.float64)


# Stochastic depth -------------------------------------------------------------------------


@pytest.mark.claim("d000.drop.stochastic-depth-skip")
@given(seed=seeds, p=st.floats(0.1, 0.9), n=st.integers(1, 6))
def test_stochastic_depth_dropped_branch_is_exactly_the_identity(seed, p, n):
    """y = x + sd(F(x)): a dropped row is x bit for bit, a kept row x + F(x)/(1-p). "row": mask
    (N, 1, 1), "batch": mask (1, 1, 1), one draw for all rows."""
    g = rng(seed)
    x = g.standard_normal((n, 3, 4))
    w = g.standard_normal((4, 4))
    branch = np.tanh(x @ w)
    for mode in ("row", "batch"):
        sd, mask = K.stochastic_depth(branch, p, mode, generator=g, return_mask=True)
        y = x + sd
        assert mask.shape == ((n, 1, 1) if mode == "row" else (1, 1, 1))
        keep = np.broadcast_to(mask, x.shape)
        assert np.array_equal(y[~keep], x[~keep])  # exactly the identity
        assert np.array_equal(sd[keep], branch[keep] * (1 / (1 - p)))


@pytest.mark.claim("d000.drop.stochastic-depth-skip")
@given(seed=seeds, p=st.floats(0.1, 0.9))
@settings(max_examples=30)
def test_stochastic_depth_survival_fraction_row_and_batch(seed, p):
    """Survival probability 1 - p per row ("row") and per call ("batch"), within Hoeffding
    intervals; in "batch" mode all rows share the draw, in "row" mode two rows agree with
    probability p² + (1-p)² (a batch-mode kernel called "row" is rejected)."""
    g = rng(seed)
    rows = 20000
    _, m = K.stochastic_depth(np.ones((rows, 2)), p, "row", generator=g, return_mask=True)
    assert mean_ok(m.astype(float), 1 - p, 1.0)
    agree = (m[0::2] == m[1::2]).astype(float)
    assert mean_ok(agree, coincidence(p), 1.0)
    assert not mean_ok(np.ones_like(agree), coincidence(p), 1.0)  # shared draw: rejected
    calls = [K.stochastic_depth(np.ones((3, 2)), p, "batch", generator=g) for _ in range(2000)]
    kept = np.array([c[0, 0] != 0 for c in calls])
    assert all(np.all((c != 0) == (c[0, 0] != 0)) for c in calls)
    assert mean_ok(kept.astype(float), 1 - p, 1.0)


# DropBlock ---------------------------------------------------------------------------------


def coverage(size: int, k: int) -> np.ndarray:
    """c(i) = #{a : 0 <= a <= size - k, a <= i <= a + k - 1}, by brute force."""
    return np.array([sum(1 for a in range(size - k + 1) if a <= i <= a + k - 1)
                     for i in range(size)])  # fmt: skip


def gamma(p: float, k: int, sizes: tuple[int, ...]) -> float:
    """Ghiasi et al. 2018 eq. 1 with keep_prob = 1 - p."""
    return p / k ** len(sizes) * math.prod(s / (s - k + 1) for s in sizes)


def union_of_blocks(dropped: np.ndarray, k: int) -> np.ndarray:
    """The union of every k x k (x k) block that lies inside the map and is fully dropped
    (brute force over block positions)."""
    out = np.zeros_like(dropped)
    nd = dropped.ndim
    starts = np.ndindex(*(s - k + 1 for s in dropped.shape))
    for a in starts:
        box = tuple(slice(i, i + k) for i in a)
        if dropped[box].all():
            out[box] = True
    assert nd in (2, 3)
    return out


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(seed=seeds, p=st.floats(0.05, 0.6), k=st.integers(1, 4), h=st.integers(4, 9),
       w=st.integers(4, 9))  # fmt: skip
def test_dropblock_drops_a_union_of_blocks_inside_the_map(seed, p, k, h, w):
    """Every dropped pixel lies in a fully dropped k x k block inside the map (even k too);
    output = x ⊙ M · s with s = numel / (eps + kept) exactly."""
    x = rng(seed).uniform(0.5, 2.0, (2, 3, h, w))
    y, mask, s = K.drop_block2d(x, p, k, generator=rng(seed), return_mask=True)
    for n in range(2):
        for c in range(3):
            dropped = ~mask[n, c]
            assert np.array_equal(union_of_blocks(dropped, k), dropped)
    kept = int(mask.sum())
    assert s == (x.size / (1e-6 + kept) if kept else 0.0)
    assert np.array_equal(y, x * (mask * s))


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(seed=seeds, p=st.floats(0.1, 0.6), k=st.integers(1, 4), data=st.data())
@settings(max_examples=30)  # 20000 maps per example; the intervals do the work
def test_dropblock_per_pixel_drop_probability_is_exact(seed, p, k, data):
    """P(pixel (i, j) dropped) = 1 - (1-γ)^{c_H(i) c_W(j)} (c by brute force), each of the H·W
    frequencies of 20000 independent maps inside a Hoeffding interval at ALPHA/(H·W) (family
    false alarm <= ALPHA). Maps are independent per (sample, channel) as torchvision's: the
    joint frequency of a pixel dropped in channels 0 and 1 of one sample (and in channel 0 of
    samples 2m and 2m+1) is P², again per pixel at ALPHA/(H·W). A kernel without the
    H W / ((H-k+1)(W-k+1)) factor in γ (the naive γ = p/k²) is rejected whenever the two
    differ by more than the intervals."""
    h = data.draw(st.integers(max(k, 3), 8), label="h")
    w = data.draw(st.integers(max(k, 3), 8), label="w")
    maps = 10000
    _, mask, _ = K.drop_block2d(np.ones((maps, 2, h, w)), p, k, generator=rng(seed),
                                return_mask=True)  # fmt: skip
    dropped = ~mask
    freq = dropped.reshape(2 * maps, h, w).mean(axis=0)
    c = np.outer(coverage(h, k), coverage(w, k))
    expected = 1 - (1 - gamma(p, k, (h, w))) ** c
    half = hoeffding_halfwidth(2 * maps, 1.0, ALPHA / (h * w))
    assert np.all(np.abs(freq - expected) <= half), np.abs(freq - expected).max()
    half_pairs = hoeffding_halfwidth(maps // 2, 1.0, ALPHA / (h * w))
    both_channels = (dropped[0::2, 0] & dropped[0::2, 1]).mean(axis=0)
    both_samples = (dropped[0::2, 0] & dropped[1::2, 0]).mean(axis=0)
    assert np.all(np.abs(both_channels - expected**2) <= half_pairs)
    assert np.all(np.abs(both_samples - expected**2) <= half_pairs)
    naive = 1 - (1 - p / k**2) ** c
    if np.abs(naive - expected).max() > 2 * half:
        assert not np.all(np.abs(freq - naive) <= half)
    # the realized drop fraction is at most the requested p (1-(1-γ)^c <= cγ and the mean of
    # cγ is p), strictly below it as soon as a pixel is covered by two block positions
    assert expected.mean() <= p + 1e-12
    if c.max() >= 2:
        assert expected.mean() < p


@pytest.mark.claim("d000.drop.dropblock-contiguous")
@given(seed=seeds, p=st.floats(0.1, 0.6), k=st.integers(1, 3))
@settings(max_examples=30)
def test_dropblock3d_cubes_and_per_voxel_probability(seed, p, k):
    d = h = w = 4
    maps = 6000
    x = np.ones((maps, 1, d, h, w))
    y, mask, s = K.drop_block3d(x, p, k, generator=rng(seed), return_mask=True)
    for i in range(5):
        assert np.array_equal(union_of_blocks(~mask[i, 0], k), ~mask[i, 0])
    freq = (~mask[:, 0]).mean(axis=0)
    cv = coverage(4, k)
    c = cv[:, None, None] * cv[None, :, None] * cv[None, None, :]
    expected = 1 - (1 - gamma(p, k, (d, h, w))) ** c
    half = hoeffding_halfwidth(maps, 1.0, ALPHA / c.size)
    assert np.all(np.abs(freq - expected) <= half)
    assert np.array_equal(y, x * (mask * s))


def test_dropblock_block_size_larger_than_the_map_is_refused():
    x = np.ones((1, 1, 4, 6))
    with pytest.raises(ValueError, match="block_size must be at most"):
        K.drop_block2d(x, 0.3, 5)
    K.drop_block2d(x, 0.3, 4, generator=rng(0))  # a block of the map's height fits
    with pytest.raises(ValueError, match="block_size"):
        K.drop_block3d(np.ones((1, 1, 2, 5, 5)), 0.3, 3)


# Backward three ways ------------------------------------------------------------------------


def _torch_masked(x, mask, scale):
    xt = T(x).requires_grad_()
    return xt, xt * T(mask.astype(np.float64)) * scale


@given(seed=seeds, p=st.floats(0.0, 0.9), kind=st.sampled_from(["dropout", "d1", "d2", "d3",
                                                              "sd_row", "sd_batch"]))  # fmt: skip
def test_dropout_backward_three_ways(seed, p, kind):
    """Hand-written backward vs torch autograd with the same mask vs central differences of
    the kernel with the same generator state (float64)."""
    shapes = {"dropout": (3, 4), "d1": (2, 3, 4), "d2": (2, 3, 2, 2), "d3": (2, 2, 2, 2, 2),
              "sd_row": (4, 3), "sd_batch": (4, 3)}  # fmt: skip
    fns = {"dropout": K.dropout, "d1": K.dropout1d, "d2": K.dropout2d, "d3": K.dropout3d,
           "sd_row": lambda v, p, **kw: K.stochastic_depth(v, p, "row", **kw),
           "sd_batch": lambda v, p, **kw: K.stochastic_depth(v, p, "batch", **kw)}  # fmt: skip
    fn = fns[kind]
    g = rng(seed)
    x = g.standard_normal(shapes[kind])
    go = g.standard_normal(shapes[kind])
    y, mask = fn(x, p, generator=rng(seed), return_mask=True)
    got = K.dropout_backward(go, mask, p)
    xt, yt = _torch_masked(x, np.broadcast_to(mask, x.shape), 1 / (1 - p))
    assert_close(y, yt.detach().numpy(), np.float64)
    yt.backward(T(go))
    assert_close(got, xt.grad.numpy(), np.float64)
    fd = central_difference(lambda v: fn(v, p, generator=rng(seed)), x, go)
    assert_grad_close(got, fd)
    assert np.array_equal(K.dropout_backward(go, None, p), go)  # evaluation mode


@given(seed=seeds, p=st.floats(0.0, 0.6), k=st.integers(1, 3), nd=st.sampled_from([2, 3]))
def test_drop_block_backward_three_ways(seed, p, k, nd):
    g = rng(seed)
    shape = (2, 2, 4, 4) if nd == 2 else (1, 2, 3, 3, 3)
    fn = K.drop_block2d if nd == 2 else K.drop_block3d
    x, go = g.standard_normal(shape), g.standard_normal(shape)
    _, mask, s = fn(x, p, k, generator=rng(seed), return_mask=True)
    got = K.drop_block_backward(go, mask, s)
    xt, yt = _torch_masked(x, mask, s)
    yt.backward(T(go))
    assert_close(got, xt.grad.numpy(), np.float64)
    fd = central_difference(lambda v: fn(v, p, k, generator=rng(seed)), x, go)
    assert_grad_close(got, fd)


@given(seed=seeds, p=st.floats(0.0, 0.9), per_sample=st.booleans(), training=st.booleans(),
       batch=st.sampled_from([(3,), (2, 2), ()]))  # fmt: skip
def test_dropconnect_backward_three_ways(seed, p, per_sample, training, batch):
    g = rng(seed)
    x = g.standard_normal((*batch, 3))
    w = g.standard_normal((2, 3))
    b = g.standard_normal(2)
    go = g.standard_normal((*batch, 2))

    def fwd(xv, wv, bv):
        return K.dropconnect_linear(xv, wv, bv, p, training, generator=rng(seed),
                                    per_sample=per_sample, return_mask=True)  # fmt: skip

    y, mask = fwd(x, w, b)
    gi, gw, gb = K.dropconnect_linear_backward(go, x, w, mask, p)
    xt, wt, bt = (T(a).requires_grad_() for a in (x, w, b))
    if mask is None:
        wm = wt.expand(*batch, 2, 3)
    else:
        wm = (wt * T(mask.astype(np.float64)) / (1 - p)).expand(*batch, 2, 3)
    yt = torch.einsum("...i,...oi->...o", xt, wm) + bt
    assert_close(y, yt.detach().numpy(), np.float64)
    yt.backward(T(go))
    for ours, theirs in ((gi, xt.grad), (gw, wt.grad), (gb, bt.grad)):
        assert_close(ours, theirs.numpy(), np.float64)
    if x.size:
        assert_grad_close(gi, central_difference(lambda v: fwd(v, w, b)[0], x, go))
    assert_grad_close(gw, central_difference(lambda v: fwd(x, v, b)[0], w, go))
    assert_grad_close(gb, central_difference(lambda v: fwd(x, w, v)[0], b, go))


# Generators and determinism ----------------------------------------------------------------


@given(seed=seeds)
def test_same_generator_state_same_mask_whatever_the_layout(seed):
    """A copy of a generator gives the same mask; the input's memory layout does not matter."""
    x = rng(seed).standard_normal((3, 4, 5))
    g = rng(seed)
    a = K.dropout(x, 0.3, generator=copy.deepcopy(g))
    b = K.dropout(np.asfortranarray(x), 0.3, generator=copy.deepcopy(g))
    assert np.array_equal(a, b)
    for bad in (0, np.random.RandomState(0), torch.Generator()):
        with pytest.raises(TypeError, match=r"generator must be a numpy\.random\.Generator"):
            K.dropout(x, 0.3, generator=bad)


def test_dropblock_inplace_writes_into_a_writeable_input_and_refuses_a_readonly_one():
    x = rng(0).uniform(0.5, 2.0, (2, 3, 6, 6))
    ref, mask, s = K.drop_block2d(x, 0.4, 3, generator=rng(1), return_mask=True)
    y = x.copy()
    out = K.drop_block2d(y, 0.4, 3, inplace=True, generator=rng(1))
    assert out is y and np.array_equal(y, ref) and np.array_equal(ref, x * (mask * s))
    frozen = x.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="input must be writeable"):
        K.drop_block2d(frozen, 0.4, 3, inplace=True)


@pytest.mark.claim("d000.drop.ensemble-count", "d002.drop.subnetworks")
@given(seed=seeds, p=st.floats(0.2, 0.8), n=st.integers(1, 4))
@settings(max_examples=30)
def test_masks_sample_all_2_to_the_n_subnetworks_with_bernoulli_weights(seed, p, n):
    """A mask over n units picks one of 2^n sub-networks; mask m has probability
    (1-p)^{|m|} p^{n-|m|}. Every one of the 2^n frequencies of 100000 draws lies inside a
    Hoeffding interval at ALPHA/2^n (family false alarm <= ALPHA), so each sub-network occurs."""
    draws = 100000
    masks = K.dropout_mask((draws, n), p, generator=rng(seed))
    codes = masks.astype(np.int64) @ (1 << np.arange(n))
    freq = np.bincount(codes, minlength=2**n) / draws
    kept = np.array([bin(m).count("1") for m in range(2**n)])
    expected = (1 - p) ** kept * p ** (n - kept)
    assert math.isclose(expected.sum(), 1.0)
    half = hoeffding_halfwidth(draws, 1.0, ALPHA / 2**n)
    assert np.all(np.abs(freq - expected) <= half)
    # every sub-network occurs: P(some mask never drawn) <= 2^n (1 - min P)^draws <= ALPHA
    assert 2**n * (1 - expected.min()) ** draws <= ALPHA
    assert np.all(freq > 0)
