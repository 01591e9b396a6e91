"""Attention theory (SymPy) against torch, NumPy and brute force.

Claims: theory/claims/attention.yaml. Helpers: theory.attention. The NumPy references here are
written inline (plain softmax/matmul), independent of kernels.cpu.attention.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from numerics.stats import FALSE_ALARM, hoeffding_halfwidth
from numerics.tolerances import assert_close as _assert_close
from theory import arch
from theory import attention as th
from theory import attention_capacity as cap

seeds = st.integers(0, 2**32 - 1)
few = settings(max_examples=5)
"""Monte-Carlo tests: 5 seeds each (each draws millions of samples)."""


def assert_close(actual, expected) -> None:
    """float64 comparison with the tolerance table's float64 row."""
    _assert_close(np.asarray(actual, float), np.asarray(expected, float), np.float64)


def _np_attention(q, k, v, scale):
    s = scale * q @ k.T
    e = np.exp(s - s.max(axis=1, keepdims=True))
    a = e / e.sum(axis=1, keepdims=True)
    return a, a @ v


def _numeric(att: th.AttentionExpr, q, k, v):
    subs = {}
    for mat, val in ((att.Q, q), (att.K, k), (att.V, v)):
        subs.update({mat[i, j]: val[i, j] for i in range(mat.rows) for j in range(mat.cols)})
    f = sympy.lambdify(list(subs), [att.A, att.O], "numpy")
    a, o = f(*subs.values())
    return np.asarray(a, float), np.asarray(o, float)


# 1. Exact attention ---------------------------------------------------------------------


@pytest.mark.claim("d000.attn.sdpa", "d000.attn.weights", "d000.attn.output", "d002.attn.sdpa")
@given(
    n=st.integers(1, 3),
    m=st.integers(1, 3),
    dk=st.integers(1, 3),
    dv=st.integers(1, 3),
    seed=seeds,
)
@settings(max_examples=20)
def test_attention_expr_matches_torch_sdpa(n, m, dk, dv, seed):
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(n, dk)), rng.normal(size=(m, dk)), rng.normal(size=(m, dv))
    att = th.attention_expr(n, dk, dv, m=m)
    assert att.scale == 1 / sympy.sqrt(dk)
    a, o = _numeric(att, q, k, v)
    ref = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(x)[None] for x in (q, k, v))
    )[0].numpy()
    assert_close(o, ref)
    a_np, o_np = _np_attention(q, k, v, 1 / math.sqrt(dk))
    assert_close(a, a_np)
    assert_close(o, o_np)
    assert_close(a.sum(axis=1), np.ones(n))
    # alpha_ij exactly as 000 writes it
    i, j = n - 1, m - 1
    expected = sympy.exp(att.S[i, j]) / sum(sympy.exp(att.S[i, t]) for t in range(m))
    assert sympy.simplify(att.A[i, j] - expected) == 0
    assert att.O == att.A * att.V


@pytest.mark.claim("d000.attn.sdpa")
def test_attention_expr_custom_scale_and_shapes():
    c = sympy.Symbol("c", positive=True)
    att = th.attention_expr(2, 3, 1, m=4, scale=c)
    assert att.S.shape == (2, 4) and att.A.shape == (2, 4) and att.O.shape == (2, 1)
    assert sympy.expand(att.S[1, 2] - c * sum(att.Q[1, a] * att.K[2, a] for a in range(3))) == 0


# 2. Softmax Jacobian and backward --------------------------------------------------------


@pytest.mark.claim("d000.attn.weights")
@pytest.mark.parametrize("n", range(1, 7))
def test_softmax_jacobian_equals_sympy_diff(n):
    assert th._softmax_jacobian_proved(n)
    j = th.softmax_jacobian(n)
    assert j == j.T
    p = sympy.symbols(f"p_1:{n + 1}", positive=True)
    row_sums = (j * sympy.ones(n, 1)).subs(p[-1], 1 - sum(p[:-1])).applyfunc(sympy.expand)
    assert row_sums == sympy.zeros(n, 1)


@pytest.mark.claim("d000.attn.weights")
@given(n=st.integers(1, 6), seed=seeds)
def test_softmax_jacobian_against_torch_autograd(n, seed):
    z = torch.from_numpy(np.random.default_rng(seed).normal(size=n))
    jt = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 0), z).numpy()
    p = torch.softmax(z, 0).numpy()
    f = sympy.lambdify(sympy.symbols(f"p_1:{n + 1}", positive=True), th.softmax_jacobian(n))
    assert_close(np.asarray(f(*p), float), jt)


@pytest.mark.claim("d000.attn.sdpa", "d002.attn.sdpa")
def test_sdpa_backward_proved_for_all_small_sizes():
    assert th.sdpa_backward_proved(th.MAX_PROVED_N) is True
    assert th.derive_sdpa_backward().agrees()
    assert th.derive_softmax_jacobian().agrees()


def test_the_flash_form_of_the_backward_is_derived():
    """FlashAttention-2's backward (delta = rowsum(dO o O), P = exp(S - LSE)), used by
    kernels.gpu.attention, equals the softmax-Jacobian form."""
    assert th.derive_flash_backward().agrees()


@pytest.mark.claim("d000.attn.sdpa")
@pytest.mark.parametrize("broken", ["no_rowsum", "unscaled_dq", "dk_sign", "dv_no_transpose"])
def test_sdpa_backward_proved_fails_on_a_broken_formula(monkeypatch, broken):
    """Plausible slips in the hand-written backward make the proof return False."""
    if broken == "no_rowsum":  # dS = A * dA: the softmax Jacobian's -pp^T term dropped
        monkeypatch.setattr(
            th,
            "_ds_formula",
            lambda a, da: sympy.ImmutableMatrix(a.rows, a.cols, lambda i, j: a[i, j] * da[i, j]),
        )
    else:
        good = th._backward

        def bad(att, g):
            out = dict(good(att, g))
            if broken == "unscaled_dq":
                out["dQ"] = sympy.ImmutableMatrix(out["dS"] * att.K)
            elif broken == "dk_sign":
                out["dK"] = -out["dK"]
            elif att.A.rows == g.rows and att.A.cols == g.rows:
                out["dV"] = sympy.ImmutableMatrix(att.A * g)
            else:  # shapes do not allow A G: a different wrong answer
                out["dV"] = sympy.zeros(*out["dV"].shape)
            return out

        monkeypatch.setattr(th, "_backward", bad)
    assert th.sdpa_backward_proved(2) is False


@pytest.mark.claim("d000.attn.sdpa", "d002.attn.sdpa")
@given(n=st.integers(1, 3), m=st.integers(1, 3), seed=seeds)
@settings(max_examples=10)
def test_sdpa_backward_expr_matches_torch_autograd(n, m, seed):
    dk, dv = 2, 2
    rng = np.random.default_rng(seed)
    q, k, v, g = (rng.normal(size=s) for s in ((n, dk), (m, dk), (m, dv), (n, dv)))
    out = th.sdpa_backward_expr(n, dk, dv, m=m)
    att = th.attention_expr(n, dk, dv, m=m)
    subs = {}
    for mat, val in ((att.Q, q), (att.K, k), (att.V, v), (out["G"], g)):
        subs.update({mat[i, j]: val[i, j] for i in range(mat.rows) for j in range(mat.cols)})
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    o = torch.nn.functional.scaled_dot_product_attention(tq[None], tk[None], tv[None])[0]
    o.backward(torch.from_numpy(g))
    for name, ref in (("dQ", tq.grad), ("dK", tk.grad), ("dV", tv.grad)):
        got = np.array(out[name].subs(subs).evalf(), dtype=float)
        assert_close(got, ref.numpy())


# 3. Scale -------------------------------------------------------------------------------


@pytest.mark.claim("d000.attn.scale")
def test_score_moments_formula_and_derivation():
    d = sympy.Symbol("d", integer=True, positive=True)
    mu, s2 = sympy.Symbol("mu", real=True), sympy.Symbol("s2", positive=True)
    e, v = th.score_moments(d, mu, s2)
    assert sympy.simplify(e - sympy.sqrt(d) * mu**2) == 0
    assert sympy.expand(v - (s2**2 + 2 * mu**2 * s2)) == 0
    assert not v.has(d) and e.has(d)
    assert th.score_moments(64) == (0, 1)
    der = th.derive_score_scale()
    assert der.agrees()
    # unscaled variance d_k sigma^4 for zero mean: the scaled one times d_k
    assert th.score_moments(16, 0, 3)[1] * 16 == 16 * 9


def _enumerate_moments(values, d):
    """Exact E, Var of sum_a q_a k_a / sqrt(d) for q, k i.i.d. uniform on ``values``."""
    vals = [sympy.Integer(x) for x in values]
    e1 = e2 = sympy.Integer(0)
    count = 0
    for qk in itertools.product(vals, repeat=2 * d):
        s = sum(qk[a] * qk[d + a] for a in range(d)) / sympy.sqrt(d)
        e1 += s
        e2 += s**2
        count += 1
    e1, e2 = e1 / count, sympy.expand(e2 / count)
    return sympy.simplify(e1), sympy.simplify(e2 - e1**2)


@pytest.mark.claim("d000.attn.scale")
@pytest.mark.parametrize("values", [(-1, 1), (0, 2), (0, 1, 5)])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_score_moments_exact_enumeration(values, d):
    """Discrete entries (Rademacher, {0,2}, {0,1,5}): only the first two moments matter."""
    mu = sympy.Rational(sum(values), len(values))
    var = sympy.Rational(sum(x * x for x in values), len(values)) - mu**2
    e, v = _enumerate_moments(values, d)
    te, tv = th.score_moments(d, mu, var)
    assert sympy.simplify(e - te) == 0 and sympy.simplify(v - tv) == 0


@pytest.mark.claim("d000.attn.scale")
@few
@given(seed=seeds, case=st.sampled_from([(0.0, 16), (0.0, 4), (1.0, 4)]))
@example(seed=0, case=(1.0, 4))
def test_score_moments_monte_carlo(seed, case):
    """q, k with i.i.d. U(mu - sqrt3, mu + sqrt3) entries (variance 1), M = 2e6 draws. The
    score and its square are bounded, so Hoeffding intervals (5e-7 each, false alarm 1e-6 in
    all) bound E[s] and E[s^2]; the formula lies inside, the wrong ones outside (d_k = 4 for
    mean 1: the bounds scale with the range of s, which grows with d_k)."""
    mu, d = case
    rng = np.random.default_rng(seed)
    m, h = 2_000_000, math.sqrt(3)
    q = rng.uniform(mu - h, mu + h, (m, d))
    k = rng.uniform(mu - h, mu + h, (m, d))
    s = np.einsum("ij,ij->i", q, k) / math.sqrt(d)
    lo_p, hi_p = (mu - h) * (mu + h), max((mu - h) ** 2, (mu + h) ** 2)  # range of q_a k_a
    lo, hi = d * lo_p / math.sqrt(d), d * hi_p / math.sqrt(d)
    t1 = hoeffding_halfwidth(m, hi - lo, FALSE_ALARM / 2)
    t2 = hoeffding_halfwidth(m, max(lo * lo, hi * hi), FALSE_ALARM / 2)
    m1, m2 = float(s.mean()), float(np.mean(s * s))
    e, v = (float(x) for x in th.score_moments(d, mu, 1))
    assert abs(m1 - e) <= t1
    var_lo = (m2 - t2) - max(abs(m1) + t1, 0.0) ** 2
    var_hi = (m2 + t2) - (max(abs(m1) - t1, 0.0)) ** 2
    assert var_lo <= v <= var_hi
    if mu:
        for wrong in (1.0, 1 + mu**2, d * 3.0):  # mean term dropped / not doubled / unscaled
            assert not var_lo <= wrong <= var_hi, (wrong, var_lo, var_hi)
        assert abs(m1 - mu**2) > t1  # the mean is sqrt(d) mu^2, not mu^2
    else:
        assert not var_lo <= d <= var_hi  # unscaled variance d sigma^4


# 4. Parameter counts ---------------------------------------------------------------------


def _torch_params(e, h, **kw):
    with torch.device("meta"):
        mod = torch.nn.MultiheadAttention(e, h, **kw)
    return sum(p.numel() for p in mod.parameters())


@pytest.mark.claim(
    "d002.attn.multihead-params",
    "d000.attn.multihead-capacity",
    "d000.attn.multihead",
    "d002.attn.multihead",
)
@pytest.mark.parametrize("e", [1, 6, 12, 16])
def test_mha_params_equals_torch_for_every_head_count(e):
    for h in (h for h in range(1, e + 1) if e % h == 0):
        for bias, bkv, kd, vd in itertools.product(
            (True, False), (False, True), (None, 5), (None, 3)
        ):
            kw = {"bias": bias, "add_bias_kv": bkv, "kdim": kd, "vdim": vd}
            assert th.mha_params(e, h, **kw) == _torch_params(e, h, **kw), (e, h, kw)
        assert th.mha_params(e, h) == arch.attention_params(e)
        assert th.mha_params_general(e, h, e // h, e // h) == _torch_params(e, h)
        assert th.mha_params_general(e, h, e // h, e // h, bias=False) == _torch_params(
            e, h, bias=False
        )


@pytest.mark.claim("d002.attn.multihead-params", "d000.attn.multihead-capacity")
def test_mha_params_rejects_non_dividing_heads_like_torch():
    with pytest.raises(AssertionError):
        torch.nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="num_heads"):
        th.mha_params(6, 4)


@pytest.mark.claim("d002.attn.multihead-params", "d000.attn.multihead-capacity")
def test_mha_params_general_symbolic():
    d, h, dk, dv = sympy.symbols("d h d_k d_v", integer=True, positive=True)
    g = th.mha_params_general(d, h, dk, dv)
    dh = sympy.expand(sympy.diff(g, h))
    assert sympy.expand(dh - (2 * d * (dk + dv) + 2 * dk + dv)) == 0
    assert dh.is_positive
    fixed_width = sympy.expand(th.mha_params_general(d, h, d / h, d / h))
    assert sympy.diff(fixed_width, h) == 0
    assert sympy.expand(fixed_width - arch.attention_params(d)) == 0
    assert sympy.expand(th.mha_params(d, h) - fixed_width) == 0
    no_bias = sympy.diff(th.mha_params_general(d, h, dk, dv, bias=False), h)
    assert sympy.expand(no_bias - 2 * d * (dk + dv)) == 0


# 5. Cost --------------------------------------------------------------------------------


@pytest.mark.claim("d000.attn.q10-complexity", "d002.attn.q5-standard", "d002.attn.time")
@given(
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    h=st.sampled_from([1, 2, 3, 4]),
    per_head=st.integers(1, 4),
    kd=st.sampled_from([None, 5]),
    vd=st.sampled_from([None, 7]),
)
@settings(max_examples=25)
def test_attention_cost_equals_flop_counter(n, m, h, per_head, kd, vd):
    d = h * per_head
    with torch.device("meta"):
        mha = torch.nn.MultiheadAttention(d, h, kdim=kd, vdim=vd, batch_first=True)
        q, k, v = torch.randn(1, n, d), torch.randn(1, m, kd or d), torch.randn(1, m, vd or d)
    counter = FlopCounterMode(display=False)
    with counter:
        _, weights = mha(q, k, v, average_attn_weights=False)
    cost = th.attention_cost(n, d, h, m=m, kdim=kd, vdim=vd)
    assert counter.get_total_flops() == 2 * cost["macs"]
    assert tuple(weights.shape) == (1, h, n, m)
    assert weights.numel() == cost["score_entries"] == cost["softmax_exp"]
    assert cost["scores"] == h * n * m * per_head == cost["weighted_sum"]


class _Heads(torch.nn.Module):
    """Multi-head attention written out with free head widths d_k != d_v (torch's module fixes
    d_k = d_v = E/h): four biased Linear layers and two batched matmuls."""

    def __init__(self, d, h, dk, dv, kdim, vdim):
        super().__init__()
        self.h, self.dk, self.dv = h, dk, dv
        self.q = torch.nn.Linear(d, h * dk)
        self.k = torch.nn.Linear(kdim, h * dk)
        self.v = torch.nn.Linear(vdim, h * dv)
        self.o = torch.nn.Linear(h * dv, d)

    def forward(self, x, y, z):
        n, m = x.shape[0], y.shape[0]
        q = self.q(x).view(n, self.h, self.dk).transpose(0, 1)
        k = self.k(y).view(m, self.h, self.dk).transpose(0, 1)
        v = self.v(z).view(m, self.h, self.dv).transpose(0, 1)
        a = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / self.dk**0.5, -1)
        return self.o(torch.bmm(a, v).transpose(0, 1).reshape(n, -1)), a


@pytest.mark.claim("d002.attn.time", "d002.attn.space")
@given(
    n=st.integers(1, 9),
    m=st.integers(1, 9),
    h=st.integers(1, 4),
    dk=st.integers(1, 5),
    dv=st.integers(1, 5),
    d=st.integers(1, 7),
    kdim=st.integers(1, 6),
    vdim=st.integers(1, 6),
)
@settings(max_examples=30)
def test_attention_cost_free_widths_against_flop_counter(n, m, h, dk, dv, d, kdim, vdim):
    with torch.device("meta"):
        mod = _Heads(d, h, dk, dv, kdim, vdim)
        x, y, z = torch.randn(n, d), torch.randn(m, kdim), torch.randn(m, vdim)
    counter = FlopCounterMode(display=False)
    with counter:
        _, a = mod(x, y, z)
    cost = th.attention_cost(n, d, h, d_k=dk, d_v=dv, m=m, kdim=kdim, vdim=vdim)
    assert counter.get_total_flops() == 2 * cost["macs"]
    assert a.numel() == cost["score_entries"]
    tokens = {"q": n, "k": m, "v": m, "o": n}
    biased = sum(tokens[name] * getattr(mod, name).bias.numel() for name in tokens)
    assert biased == cost["bias_adds"]
    held = {"q_entries": (n, h * dk), "k_entries": (m, h * dk), "v_entries": (m, h * dv)}
    for key, shape in held.items():
        assert cost[key] == math.prod(shape)
    assert cost["output_entries"] == n * d


@pytest.mark.claim("d000.attn.q10-complexity", "d002.attn.time", "d002.attn.space")
@given(n=st.integers(1, 300), h=st.sampled_from([1, 2, 4, 8]), per_head=st.integers(1, 16))
def test_attention_cost_agrees_with_arch(n, h, per_head):
    d = h * per_head
    c, old = th.attention_cost(n, d, h), arch.attention_cost(n, d, h)
    assert c["q_proj"] + c["k_proj"] + c["v_proj"] + c["out_proj"] == old["macs"]
    assert c["scores"] + c["weighted_sum"] == old["attention"]
    assert c["softmax_exp"] == old["activation"]
    assert c["bias_adds"] == old["bias"]
    assert c["score_entries"] == h * n * n  # independent of d_k
    assert th.attention_cost(n, d, h, d_k=3 * per_head)["score_entries"] == h * n * n


@pytest.mark.claim("d000.attn.q10-complexity", "d002.attn.q5-standard", "d002.attn.time")
def test_attention_cost_is_quadratic_in_n_and_share():
    n, d, h = sympy.symbols("n d h", integer=True, positive=True)
    macs = sympy.Poly(th.attention_cost(n, d, h)["macs"], n)
    assert macs.degree() == 2
    assert macs.coeff_monomial(n**2) == 2 * d and macs.coeff_monomial(n) == 4 * d**2
    assert macs.coeff_monomial(1) == 0
    share = th.quadratic_share(n, d)
    assert sympy.simplify(share - n / (n + 2 * d)) == 0
    for dd in (8, 64, 768):
        assert th.quadratic_share(2 * dd, dd) == sympy.Rational(1, 2)
        assert th.quadratic_share(2 * dd + 1, dd) > sympy.Rational(1, 2)
        assert th.quadratic_share(2 * dd - 1, dd) < sympy.Rational(1, 2)
        c = th.attention_cost(2 * dd + 1, dd, 1)
        assert c["scores"] + c["weighted_sum"] > c["macs"] / 2


# 6. Sinusoidal --------------------------------------------------------------------------


def _torch_style_pe(n, d):
    """The common reference implementation (Annotated Transformer): exp(-2i ln(1e4)/d)."""
    pos = np.arange(n)[:, None]
    div = np.exp(np.arange(0, d, 2) * (-math.log(10000.0) / d))
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div[: d // 2])
    return pe


@pytest.mark.claim("d000.attn.sinusoidal")
@pytest.mark.parametrize("d", [2, 4, 6, 8, 16, 32])
def test_sinusoidal_properties_proved_even(d):
    assert th.sinusoidal_properties_proved(d) is True


@pytest.mark.claim("d000.attn.sinusoidal")
@pytest.mark.parametrize("d", [1, 3, 5, 9])
def test_sinusoidal_odd_width_breaks_norm_and_shift(d):
    assert th.sinusoidal_properties_proved(d) is False
    pe0 = [float(x) for x in th._encoding(sympy.Integer(0), d)]
    assert math.isclose(sum(x * x for x in pe0), (d - 1) / 2, abs_tol=1e-12)
    if d > 1:
        assert th._shift_residual(d) > 2e-4  # no fixed linear map PE(p) -> PE(p+1)
        assert th._shift_residual(d + 1) < 1e-11  # contrast: the even width fits
    else:
        assert pe0 == [0.0] and abs(math.sin(1.0)) > 0.8  # PE(0) = 0, PE(1) = sin 1


@pytest.mark.claim("d000.attn.sinusoidal")
def test_even_shift_map_fits_exactly_contrast():
    """The same least-squares fit as the odd counterexample, at even d: residual ~ 0."""
    d = 4
    pts = np.array([[float(v) for v in th._encoding(sympy.Integer(p), d)] for p in range(8)])
    m = np.stack(
        [
            np.asarray(th.sinusoidal_rotation(1, float(10000 ** (-2 * i / d))), float)
            for i in range(d // 2)
        ]
    )
    block = np.zeros((d, d))
    for i in range(d // 2):
        block[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = m[i]
    assert_close(pts[:-1] @ block.T, pts[1:])


@pytest.mark.claim("d000.attn.sinusoidal")
def test_sinusoidal_properties_can_fail(monkeypatch):
    """A wrong formula (cos on both entries of a pair) must make the proof return False."""
    monkeypatch.setattr(
        th,
        "sinusoidal_expr",
        lambda pos, i, d, base=10000: (
            (sympy.cos(pos * sympy.Pow(base, sympy.Rational(-2 * i, d))),) * 2
        ),
    )
    assert th.sinusoidal_properties_proved(4) is False


@pytest.mark.claim("d000.attn.sinusoidal")
@given(d=st.sampled_from([2, 4, 8, 16]), n=st.integers(2, 60))
def test_sinusoidal_numeric_properties(d, n):
    p = sympy.Symbol("p", real=True)
    f = sympy.lambdify(p, th._encoding(p, d), "numpy")
    pe = np.array([f(float(x)) for x in range(n)], dtype=float)
    assert_close(pe, _torch_style_pe(n, d))
    assert_close((pe * pe).sum(1), np.full(n, d / 2))
    gram = pe @ pe.T
    omegas = 10000.0 ** (-np.arange(d // 2) * 2 / d)
    off = np.arange(n)[:, None] - np.arange(n)[None]
    assert_close(gram, np.cos(off[..., None] * omegas).sum(-1))
    # distinct positions: pair 0 alone is 2|sin((p-q)/2)| apart (> 0 for integers p != q;
    # small when p - q is close to a multiple of 2 pi, e.g. 44)
    dist = np.linalg.norm(pe[:, None] - pe[None], axis=-1)
    pair0 = 2 * np.abs(np.sin(off / 2))
    assert np.all(dist >= pair0 - 1e-12)
    assert np.all(pair0[off != 0] > 1e-3)


@pytest.mark.claim("d000.attn.sinusoidal")
def test_derive_sinusoidal_agrees():
    d = th.derive_sinusoidal()
    assert d.agrees() and "lone sine" in d.to_markdown()


@pytest.mark.claim("d000.attn.sinusoidal")
@given(k=st.integers(-50, 50), w=st.floats(1e-4, 1.0), p=st.integers(0, 100))
def test_sinusoidal_rotation_numeric(k, w, p):
    r = np.asarray(th.sinusoidal_rotation(k, w), float)
    assert_close(
        r @ [math.sin(p * w), math.cos(p * w)], [math.sin((p + k) * w), math.cos((p + k) * w)]
    )
    assert_close(r @ r.T, np.eye(2))


# 7. Relative ----------------------------------------------------------------------------


@pytest.mark.claim("d000.attn.relative")
@pytest.mark.parametrize("d", [1, 2, 5])
def test_relative_factorization(d):
    e = th.relative_score_expr(d)
    assert sympy.expand(e["d000"] - e["factorized"]) == 0
    gap = sympy.expand(e["transformer_xl"] - e["d000"])
    r = sympy.symbols(f"r_1:{d + 1}", real=True)
    u = sympy.symbols(f"u_1:{d + 1}", real=True)
    v = sympy.symbols(f"v_1:{d + 1}", real=True)
    assert (
        sympy.expand(
            gap - sum((b - a) * c for a, b, c in zip(u, v, r, strict=True)) / sympy.sqrt(d)
        )
        == 0
    )
    assert gap != 0
    assert th.derive_relative_factorization().agrees()


@pytest.mark.claim("d000.attn.relative")
@given(seed=seeds)
def test_relative_scores_numeric(seed):
    """000's score = standard attention scores of shifted queries/keys (NumPy), XL is not."""
    rng = np.random.default_rng(seed)
    n, d = 5, 3
    x, wq, wk = rng.normal(size=(n, d)), rng.normal(size=(d, d)), rng.normal(size=(d, d))
    rel = rng.normal(size=(2 * n - 1, d))  # r_{i-j}, offsets -(n-1)..n-1
    u, v = rng.normal(size=d), rng.normal(size=d)
    q, k = x @ wq, x @ wk
    r = np.stack([[rel[i - j + n - 1] for j in range(n)] for i in range(n)])  # (n, n, d)
    e000 = (q @ k.T + np.einsum("id,ijd->ij", q, r) + k @ u + r @ u) / math.sqrt(d)
    fact = np.einsum("ijd,ijd->ij", (q + u)[:, None], k[None] + r) / math.sqrt(d)
    assert_close(e000, fact)
    xl = e000 + (r @ (v - u)) / math.sqrt(d)
    assert np.abs(xl - fact).max() > 1e-6


# 8. Variants ----------------------------------------------------------------------------


def _mask(n, pattern, stride=None, window=None):
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    causal = j <= i
    t = i - j
    if pattern == "full":
        return causal
    if pattern == "local":
        return causal & (t < window)
    if pattern == "strided":
        return causal & ((t < stride) | (t % stride == 0))
    return causal & ((j // stride == i // stride) | (j % stride >= stride - window))


@pytest.mark.claim("d002.attn.q5-sparse-cost", "d002.attn.efficient-variants")
@given(
    n=st.integers(1, 80),
    pattern=st.sampled_from(th.PATTERNS),
    stride=st.integers(1, 12),
    window=st.integers(1, 12),
)
def test_sparse_pattern_entries_brute_force(n, pattern, stride, window):
    if pattern == "fixed":
        window = min(window, stride)
    kw = {
        "full": {},
        "local": {"window": window},
        "strided": {"stride": stride},
        "fixed": {"stride": stride, "window": window},
    }[pattern]
    assert th.sparse_pattern_entries(n, pattern, **kw) == int(_mask(n, pattern, **kw).sum())
    assert th.variant_memory(n, pattern, **kw) == (
        n * n if pattern == "full" else int(_mask(n, pattern, **kw).sum())
    )


@pytest.mark.claim("d002.attn.q5-sparse-cost")
def test_sparse_growth_rates():
    # strided at s = sqrt(n): exactly s^3 + s(s-1)^2/2 -> ratio to n^1.5 tends to 3/2
    for s in (2, 5, 10, 31):
        assert th.sparse_pattern_entries(s * s, "strided", stride=s) == s**3 + s * (s - 1) ** 2 // 2
    ratios = [th.sparse_pattern_entries(s * s, "strided", stride=s) / s**3 for s in (10, 100, 400)]
    assert ratios[0] < ratios[1] < ratios[2] < 1.5 < ratios[2] + 0.01
    # fixed stride: quadratic (doubling n multiplies the count by ~4)
    c1 = th.sparse_pattern_entries(4000, "strided", stride=8)
    c2 = th.sparse_pattern_entries(8000, "strided", stride=8)
    assert 3.9 < c2 / c1 < 4.01
    f1 = th.sparse_pattern_entries(2**18, "fixed", stride=64, window=1)
    f2 = th.sparse_pattern_entries(2**19, "fixed", stride=64, window=1)
    assert 3.9 < f2 / f1 < 4.01
    assert math.isclose(f2 / (2**19) ** 2, 1 / 128, rel_tol=0.01)  # c n^2 / (2 l)
    # local: linear in n (local(2n) - 2 local(n) = w(w-1)/2, a constant)
    loc = [th.sparse_pattern_entries(n, "local", window=16) for n in (2000, 4000)]
    assert loc[1] - 2 * loc[0] == 16 * 15 // 2
    assert th.derive_variant_costs().agrees()


@pytest.mark.claim("d002.attn.q5-linear", "d002.attn.efficient-variants")
@given(n=st.integers(2, 12), r=st.integers(1, 6), dv=st.integers(1, 4), seed=seeds)
def test_linear_attention_numpy_matches_cost_and_rank(n, r, dv, seed):
    rng = np.random.default_rng(seed)
    fq, fk = rng.uniform(0.1, 1, (n, r)), rng.uniform(0.1, 1, (n, r))  # phi(Q), phi(K) > 0
    v = rng.normal(size=(n, dv))
    state, z = fk.T @ v, fk.sum(0)
    out = (fq @ state) / (fq @ z)[:, None]
    implied = fq @ fk.T
    implied = implied / implied.sum(1, keepdims=True)
    assert_close(out, implied @ v)  # the n x n matrix is never formed by the linear form
    c = th.linear_attention_cost(n, r, dv, r)
    assert state.size + z.size == c["state_entries"]
    assert c["macs"] == c["kv_summary"] + c["numerator"] + c["denominator"]
    assert c["kv_summary"] == n * r * dv and c["denominator"] == n * r
    assert np.linalg.matrix_rank(implied) <= c["rank_bound"] == min(n, r)
    assert np.linalg.matrix_rank(implied) == min(n, r)  # generic: the bound is reached
    assert th.variant_memory(n, "linear", r=r, d_v=dv) == c["state_entries"] + c["feature_entries"]


@pytest.mark.claim("d002.attn.q5-choice", "d002.attn.q5-linear")
@given(dk=st.integers(1, 128), dv=st.integers(1, 128), r=st.integers(1, 512))
def test_linear_crossover_length_exact(dk, dv, r):
    t = th.linear_crossover_length(dk, dv, r)
    n_star = math.floor(t) + 1  # first n where linear is strictly cheaper

    def lin(n):
        return th.linear_attention_cost(n, dk, dv, r)["macs"]

    def std(n):
        c = th.attention_cost(n, dk, 1, d_k=dk, d_v=dv)
        return c["scores"] + c["weighted_sum"]

    assert lin(n_star) < std(n_star)
    assert n_star == 1 or lin(n_star - 1) >= std(n_star - 1)
    assert th.linear_crossover_length(64, 64, 64) == sympy.Rational(129, 2)


@pytest.mark.claim("d002.attn.efficient-variants")
def test_hierarchical_memory_minimum():
    n = 4096
    best = min(
        (th.variant_memory(n, "hierarchical", window=w), w) for w in range(1, n + 1) if n % w == 0
    )
    assert best[1] in (16, 32)  # divisors around (2n)^(1/3) = 20.2
    assert best[0] < n * n / 100
    ns = sympy.Symbol("n", positive=True)
    ww = sympy.Symbol("w", positive=True)
    f = ns * ww + (ns / ww) ** 2
    w_star = sympy.solve(sympy.diff(f, ww), ww)[0]
    assert sympy.simplify(w_star - (2 * ns) ** sympy.Rational(1, 3)) == 0
    assert sympy.simplify(f.subs(ww, w_star) / ns ** sympy.Rational(4, 3)).is_constant()


@pytest.mark.claim("d000.attn.q12-tradeoffs")
def test_positional_params_against_torch_modules():
    assert th.positional_params("sinusoidal") == 0
    emb = torch.nn.Embedding(512, 64)
    assert th.positional_params("learned", max_len=512, d=64) == emb.weight.numel()
    k, dk, layers = 16, 64, 12
    rel = torch.nn.Embedding(2 * k + 1, dk)  # Shaw et al.: offsets clipped to [-k, k]
    assert th.positional_params("relative", d=dk, max_offset=k, layers=layers) == (
        layers * rel.weight.numel()
    )
    assert th.positional_params(
        "relative", d=dk, max_offset=k, layers=layers, include_values=True
    ) == (2 * layers * rel.weight.numel())
    L = sympy.Symbol("L", integer=True, positive=True)
    assert sympy.diff(th.positional_params("learned", max_len=L, d=64), L) == 64
    # no sequence-length argument: the relative table does not grow with the sequence
    assert th.positional_params("relative", d=64, max_offset=16) == 33 * 64


# 9. What one head can represent ----------------------------------------------------------


@pytest.mark.claim("d002.attn.single-head-rank", "d002.attn.q5-full-expressivity")
def test_one_dimensional_head_gives_full_rank_attention_matrix():
    """d_k = 1, q = k = (0, 1, 2): exp(q_i k_j) is a Vandermonde matrix in (1, e, e^2), so the
    attention matrix has full rank 3 although the logits have rank 1."""
    q = np.array([[0.0], [1.0], [2.0]])
    a, _ = _np_attention(q, q, np.eye(3), 1.0)
    assert np.linalg.matrix_rank(a) == 3
    assert np.linalg.matrix_rank(q @ q.T) == 1
    assert cap.min_head_dim_of_weights(a) == 1
    t = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(x)[None] for x in (q, q, np.eye(3))), scale=1.0
    )[0].numpy()
    assert_close(t, a)  # with V = I the output is the attention matrix itself


@pytest.mark.claim("d002.attn.single-head-rank", "d002.attn.q5-full-expressivity")
@given(
    n=st.integers(2, 7),
    m=st.integers(2, 7),
    r=st.integers(1, 4),
    seed=seeds,
)
def test_min_head_dim_recovers_the_logit_rank(n, m, r, seed):
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(n, r)), rng.normal(size=(m, r))
    a, _ = _np_attention(q, k, np.eye(m), 1.0)
    expected = min(r, n, m - 1)  # generic rank of the row-centred logits q k^T P
    assert cap.min_head_dim_of_weights(a) == expected
    assert cap.min_head_dim_of_weights(a) <= expected
    if expected > 1:
        assert not (cap.min_head_dim_of_weights(a) <= expected - 1)
    # any positive row-stochastic matrix needs at most min(n, m - 1)
    full = rng.uniform(0.1, 1.0, (n, m))
    full /= full.sum(1, keepdims=True)
    assert cap.min_head_dim_of_weights(full) == min(n, m - 1)
    assert cap.min_head_dim_of_weights(np.full((n, m), 1 / m)) == 0


@pytest.mark.claim("d002.attn.q5-sparse-expressivity", "d002.attn.q5-sparse-cost")
@given(
    n=st.integers(4, 40),
    stride=st.integers(2, 6),
    pattern=st.sampled_from(["strided", "fixed"]),
    seed=seeds,
)
@settings(max_examples=30)
def test_sparse_pattern_reduced_in_one_layer_full_in_two(n, stride, pattern, seed):
    """One layer: o_i does not depend on v_j for a pair outside the pattern (torch SDPA with
    the boolean mask, gradients measured), so the weights are restricted to the pattern's
    support; two layers reach every causal pair (Child et al. 2019: i - j = a s + b, one hop
    for b, one for a s; fixed: through the summary positions of j's block)."""
    kw = {"stride": stride} if pattern == "strided" else {"stride": stride, "window": 1}
    mask = _mask(n, pattern, **kw)
    causal = _mask(n, "full")
    missing = causal & ~mask
    assert missing.any() == (n > stride + 1 if pattern == "strided" else n > stride)
    reach2 = (mask.astype(int) @ mask.astype(int)) > 0
    assert np.array_equal(reach2 | mask, causal)
    rng = np.random.default_rng(seed)
    q, k = (torch.from_numpy(rng.normal(size=(1, n, 2))) for _ in range(2))
    v = torch.from_numpy(rng.normal(size=(1, n, 1))).requires_grad_(True)
    out = torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=torch.from_numpy(mask)
    )
    rows = [
        torch.autograd.grad(out[0, i, 0], v, retain_graph=True)[0][0, :, 0].numpy()
        for i in range(n)
    ]
    dep = np.abs(np.stack(rows)) > 0
    assert np.array_equal(dep, mask)


# 10. The numbers the ledger quotes --------------------------------------------------------


@pytest.mark.claim("d000.attn.q10-complexity", "d002.attn.q5-standard")
def test_bert_base_numbers_quoted_in_the_ledger():
    """BERT-base layer (d = 768, 12 heads): 1 610 612 736 MACs at n = 512, a quarter of them
    in the attention products, and 16/7 times the cost of n = 256."""
    c512, c256 = th.attention_cost(512, 768, 12), th.attention_cost(256, 768, 12)
    assert c512["macs"] == 1_610_612_736
    assert sympy.Rational(c512["scores"] + c512["weighted_sum"], c512["macs"]) == sympy.Rational(
        1, 4
    )
    assert sympy.Rational(c512["macs"], c256["macs"]) == sympy.Rational(16, 7)


@pytest.mark.claim("d002.attn.space")
def test_space_counterexample_numbers():
    c = th.attention_cost(197, 768, 12)
    assert c["score_entries"] == 465_708 == 12 * 38_809 and 197**2 * 64 == 2_483_776


@pytest.mark.claim("d002.attn.q5-sparse-cost", "d002.attn.efficient-variants")
def test_sparse_and_hierarchical_numbers_quoted_in_the_ledger():
    counts = [th.sparse_pattern_entries(n, "strided", stride=8) for n in (1024, 4096, 16384)]
    assert counts == [73_188, 1_079_268, 16_900_068]  # x15.7 per x4 in n: quadratic
    assert th.sparse_pattern_entries(1024, "strided", stride=32) == 48_144
    assert th.sparse_pattern_entries(1024, "full") == 524_800
    assert th.variant_memory(4096, "hierarchical", window=16) == 131_072
    assert th.variant_memory(4096, "full") == 16_777_216
    assert th.linear_crossover_length(64, 64, 64) == sympy.Rational(129, 2)


@pytest.mark.claim("d002.attn.q5-sparse-cost")
def test_derivation_closed_form_is_the_counted_strided_pattern():
    """The strided count shown in derive_variant_costs is the count of the mask at n = s^2
    (mutation survivor: a wrong lower-order term kept the limit 3/2)."""
    shown = th.derive_variant_costs().steps[0].expr.rhs
    (s,) = shown.free_symbols
    for s0 in range(1, 12):
        assert shown.subs(s, s0) == th.sparse_pattern_entries(s0 * s0, "strided", stride=s0)
