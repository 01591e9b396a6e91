"""Pooling: max/average/global/weighted/gated/stochastic/adaptive kernels against torch, the
quantified translation invariance, the stride's reduction, information loss, noise reduction.

Claims: theory/claims/pooling.yaml. Helpers: theory.pooling, theory.conv.pool_output_size.
Kernels: kernels.cpu.pool.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.cpu import pool
from kernels.cpu.pool import adaptive_pool
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.stats import FALSE_ALARM, chi2_interval, hoeffding_halfwidth
from numerics.tolerances import assert_close
from tests.assertions import context
from theory import conv as th_conv
from theory import pooling as th
from theory.linear import linear_params

seeds = st.integers(0, 2**32 - 1)


def _torch_windows(size: int, out: int) -> list[tuple[int, int]]:
    """Recover torch's windows by probing adaptive_avg_pool1d with one-hot inputs."""
    probe = F.adaptive_avg_pool1d(torch.eye(size, dtype=torch.float64)[:, None, :], out)[:, 0, :]
    members = [np.nonzero(probe[:, i].numpy())[0] for i in range(out)]
    return [(int(m.min()), int(m.max()) + 1) for m in members]


@pytest.mark.claim("d000.pool.adaptive-output-size", "d000.pool.adaptive-rule")
@given(size=st.integers(1, 40), data=st.data())
def test_theory_windows_are_torchs(size, data):
    out = data.draw(st.integers(1, size + 4), label="out")
    windows = th.adaptive_windows(size, out)
    assert windows == _torch_windows(size, out)
    assert len(windows) == out
    assert th.adaptive_read_count(size, out) == sum(end - start for start, end in windows)


@pytest.mark.claim("d000.pool.adaptive-rule")
def test_rule_agrees_iff_remainder_is_0_or_1_exhaustively():
    for size in range(1, 121):
        for out in range(1, size + 1):
            assert th.rule_agrees(size, out) == (size % out in (0, 1)), (size, out)


@pytest.mark.claim("d000.pool.adaptive-rule")
@given(size=st.integers(1, 10_000), data=st.data())
@example(size=5, data=None)
def test_rule_count_formula(size, data):
    out = 3 if data is None else data.draw(st.integers(1, size), label="out")
    q, r = divmod(size, out)
    count = len(th.document_windows(size, out))
    assert count == (out if r == 0 else out + (r - 1) // q)
    assert th.rule_agrees(size, out) == (r in (0, 1))


@pytest.mark.claim("d000.pool.adaptive-rule")
def test_rule_derivation_and_counterexamples():
    assert th.derive_adaptive_rule().agrees()
    assert len(th.document_windows(5, 3)) == 4
    doc, torch_w = th.document_windows(8, 3), _torch_windows(8, 3)
    assert doc == [(0, 3), (2, 5), (4, 7)] and torch_w == [(0, 3), (2, 6), (5, 8)]
    assert max(end for _, end in doc) == 7  # input 7 is never pooled


@pytest.mark.claim("d000.pool.adaptive-output-size")
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    oh=st.integers(1, 12),
    ow=st.integers(1, 12),
    mode=st.sampled_from(["avg", "max"]),
    seed=seeds,
)
def test_adaptive_kernel_matches_torch(n, c, h, w, oh, ow, mode, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    fn = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
    expected = fn(torch.from_numpy(x), (oh, ow)).numpy()
    assert_close(adaptive_pool(x, (oh, ow), mode), expected, np.float64)
    expected1 = (F.adaptive_avg_pool1d if mode == "avg" else F.adaptive_max_pool1d)(
        torch.from_numpy(x[:, :, 0]), ow
    ).numpy()
    ours1 = pool.adaptive_avg_pool1d if mode == "avg" else pool.adaptive_max_pool1d
    assert_close(ours1(x[:, :, 0], ow), expected1, np.float64)
    assert_close(adaptive_pool(x[:, :, 0], (ow,), mode), expected1, np.float64)


@pytest.mark.claim("d000.pool.adaptive-output-size")
def test_bad_input():
    with pytest.raises(ValueError, match="output_size"):
        adaptive_pool(np.zeros((1, 1, 4)), 0)
    with pytest.raises(ValueError, match="output_size"):
        th.adaptive_windows(4, 0)
    with pytest.raises(ValueError, match="mode"):
        adaptive_pool(np.zeros((1, 1, 4)), 2, "median")
    with pytest.raises(ValueError, match="output_size must be a tuple of 1 or 2"):
        adaptive_pool(np.zeros((1, 1, 4, 4)), (2, 2, 2))
    with pytest.raises(ValueError, match="an int is ambiguous"):
        adaptive_pool(np.zeros((8, 4, 3)), 5)
    with pytest.raises(ValueError, match="output_size must be an int >= 1"):
        pool.adaptive_avg_pool2d(np.zeros((1, 1, 4, 4)), (2, 2, 2))


# --------------------------------------------------------------------------- max / avg / global


@st.composite
def pool_config(draw, dilation: bool = True):
    """A valid 2-D pooling configuration (torch's rules: P <= K/2, output >= 1)."""
    k = tuple(draw(st.integers(1, 4), label=f"k{a}") for a in range(2))
    s = tuple(draw(st.integers(1, 4), label=f"s{a}") for a in range(2))
    p = tuple(draw(st.integers(0, k[a] // 2), label=f"p{a}") for a in range(2))
    d = tuple(draw(st.integers(1, 2 if dilation else 1), label=f"d{a}") for a in range(2))
    ceil = draw(st.booleans(), label="ceil_mode")
    size = tuple(
        draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), 9), label=f"size{a}")
        for a in range(2)
    )
    return {"k": k, "s": s, "p": p, "d": d, "ceil": ceil, "size": size}


def _input(seed: int, size, ties: bool, dtype=np.float64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (2, 3, *size)
    x = rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)
    return x.astype(dtype)


@pytest.mark.claim("d000.pool.max-definition")
@given(cfg=pool_config(), ties=st.booleans(), seed=seeds, dtype=st.sampled_from(["f4", "f8"]))
def test_max_pool_forward_and_backward_equal_torch(cfg, ties, seed, dtype):
    x = _input(seed, cfg["size"], ties, np.dtype(dtype))
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"])
    if torch.isinf(F.max_pool2d(torch.ones(1, 1, *cfg["size"]), *args)).any():
        # a window of padding only: torch's forward gives -inf and its backward writes out of
        # bounds (heap corruption in torch 2.13); ours refuses
        with pytest.raises(ValueError, match="only padding"):
            pool.max_pool2d(x, *args)
        return
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.max_pool2d(xt, *args)
    y = pool.max_pool2d(x, *args)
    ctx = context("d000.pool.max-definition", f"pool.max_pool2d(x, *{args})", **cfg)
    assert y.dtype == x.dtype and np.array_equal(y, yt.detach().numpy()), ctx  # a max is exact
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(x.dtype)
    yt.backward(torch.from_numpy(g))
    assert np.array_equal(pool.max_pool2d_backward(g, x, *args), xt.grad.numpy()), ctx


@pytest.mark.claim("d000.pool.max-definition")
def test_max_pool_rejects_a_window_of_padding_only():
    x = torch.ones(1, 1, 1, 1)
    assert F.max_pool2d(x, (1, 2), 1, (0, 1), (1, 2)).item() == -np.inf  # torch: -inf
    with pytest.raises(ValueError, match="window 0 along spatial axis 1 reads only padding"):
        pool.max_pool2d(np.ones((1, 1, 1, 1)), (1, 2), 1, (0, 1), (1, 2))


@pytest.mark.claim("d000.pool.max-definition")
def test_max_pool_literal_formula_and_tie_rule():
    x = np.random.default_rng(0).standard_normal((1, 1, 7, 7))
    k, s = 3, 2
    literal = np.array(
        [
            [
                max(x[0, 0, s * i + m, s * j + n] for m in range(k) for n in range(k))
                for j in range(3)
            ]
            for i in range(3)
        ]
    )
    assert np.array_equal(pool.max_pool2d(x, k, s)[0, 0], literal)
    tie = np.ones((1, 1, 2, 2))  # all equal: the first entry in row-major order gets the gradient
    assert pool.max_pool2d_backward(np.ones((1, 1, 1, 1)), tie, 2)[0, 0].tolist() == [
        [1.0, 0.0],
        [0.0, 0.0],
    ]


@pytest.mark.claim("d000.pool.avg-definition")
@given(cfg=pool_config(dilation=False), cip=st.booleans(), seed=seeds)
def test_avg_pool_forward_and_backward_three_ways(cfg, cip, seed):
    x = _input(seed, cfg["size"], False)
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["ceil"], cip)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.avg_pool2d(xt, *args)
    y = pool.avg_pool2d(x, *args)
    ctx = context("d000.pool.avg-definition", f"pool.avg_pool2d(x, *{args})", **cfg)
    assert_close(y, yt.detach().numpy(), np.float64, context=ctx)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    ours = pool.avg_pool2d_backward(g, x, *args)
    assert_grad_close(ours, xt.grad.numpy(), ctx)
    assert_grad_close(ours, central_difference(lambda v: pool.avg_pool2d(v, *args), x, g), ctx)


@pytest.mark.claim("d000.pool.avg-definition")
def test_avg_pool_literal_formula_and_divisor_conventions():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    k, s = 2, 2
    literal = [
        [
            sum(x[0, 0, s * i + m, s * j + n] for m in range(k) for n in range(k)) / k**2
            for j in range(2)
        ]
        for i in range(2)
    ]
    assert pool.avg_pool2d(x, k, s)[0, 0].tolist() == literal
    corner = pool.avg_pool2d(np.ones((1, 1, 2, 2)), 3, 1, 1, count_include_pad=True)[0, 0, 0, 0]
    assert corner == 4 / 9  # 4 real ones over the full window of 9
    assert pool.avg_pool2d(np.ones((1, 1, 2, 2)), 3, 1, 1, count_include_pad=False)[0, 0, 0, 0] == 1


@pytest.mark.claim("d000.pool.global")
@given(h=st.integers(1, 7), w=st.integers(1, 7), mode=st.sampled_from(["avg", "max"]), seed=seeds)
def test_global_pool_equals_torch_three_ways(h, w, mode, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, h, w))
    xt = torch.from_numpy(x).requires_grad_()
    yt = (F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d)(xt, 1)
    y = pool.global_pool(x, mode)
    literal = x.mean(axis=(2, 3)) if mode == "avg" else x.max(axis=(2, 3))
    assert_close(y[..., 0, 0], literal, np.float64)
    assert_close(y, yt.detach().numpy(), np.float64)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    ours = pool.global_pool_backward(g, x, mode)
    assert_grad_close(ours, xt.grad.numpy())
    assert_grad_close(ours, central_difference(lambda v: pool.global_pool(v, mode), x, g))


# --------------------------------------------------------------------------- translation


def _avg1d(x: np.ndarray, k: int) -> np.ndarray:
    return F.avg_pool1d(torch.from_numpy(x)[None, None], k, k)[0, 0].numpy()


@pytest.mark.claim("d000.pool.translation-invariance")
@given(k=st.integers(1, 6), data=st.data(), seed=seeds)
def test_avg_pool_shift_bound_holds_and_is_attained(k, data, seed):
    delta = data.draw(st.integers(0, k), label="delta")
    bound = float(th.avg_pool_shift_bound(k, delta))
    assert bound == 2 * delta / k
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 8 * k + delta)
    moved = _avg1d(x[: 8 * k], k) - _avg1d(x[delta : delta + 8 * k], k)  # window vs T_delta
    assert np.abs(moved).max() <= bound * np.abs(x).max() + 1e-12
    # attained: +1 on the entries that leave, -1 on those that enter, 0 on the shared ones
    tight = np.zeros(k + delta)
    tight[:delta], tight[k : k + delta] = 1.0, -1.0
    change = _avg1d(tight[:k], k)[0] - _avg1d(tight[delta : delta + k], k)[0]
    assert change == pytest.approx(bound)


@pytest.mark.claim("d000.pool.translation-invariance")
def test_avg_pool_shift_bound_2d_is_attained():
    k, (d0, d1) = 3, (1, 2)
    bound = th.avg_pool_shift_bound((k, k), (d0, d1))
    assert bound == 2 * (1 - sympy.Rational(2, 3) * sympy.Rational(1, 3))
    x = -np.ones((k + d0, k + d1))
    x[d0:k, d1:k] = 0.0  # shared entries
    x[:k, :k][x[:k, :k] == -1] = 1.0  # entries only in the original window
    orig = x[:k, :k].mean()
    shifted = x[d0 : d0 + k, d1 : d1 + k].mean()
    assert orig - shifted == pytest.approx(float(bound))


@pytest.mark.claim("d000.pool.translation-invariance")
@given(k=st.integers(1, 5), lip=st.floats(0.0, 3.0), data=st.data(), seed=seeds)
def test_max_pool_moves_at_most_lipschitz_times_shift(k, lip, data, seed):
    delta = data.draw(st.integers(0, 2 * k), label="delta")
    rng = np.random.default_rng(seed)
    steps = rng.uniform(-lip, lip, 6 * k + delta)
    x = np.cumsum(steps)  # neighbours differ by at most lip
    a = F.max_pool1d(torch.from_numpy(x[delta : delta + 6 * k])[None, None], k)[0, 0].numpy()
    b = F.max_pool1d(torch.from_numpy(x[: 6 * k])[None, None], k)[0, 0].numpy()
    assert np.abs(a - b).max() <= lip * delta * (1 + 1e-12) + 1e-12
    ramp = lip * np.arange(6 * k + delta, dtype=np.float64)  # attained on a ramp
    a = F.max_pool1d(torch.from_numpy(ramp[delta:])[None, None], k)[0, 0, :6].numpy()
    b = F.max_pool1d(torch.from_numpy(ramp[: 6 * k])[None, None], k)[0, 0].numpy()
    assert np.abs(a[: b.size] - b).max() == pytest.approx(lip * delta)


def _spike_fraction_torch(k: int, s: int, delta: int) -> sympy.Rational:
    n = 4 * (k + s + delta) + s
    same = 0
    base = 2 * (k + s + delta)
    for t in range(base, base + s):
        x = torch.zeros(1, 1, n, dtype=torch.float64)
        y = F.max_pool1d(x.index_fill(2, torch.tensor([t]), 1.0), k, s)
        y_shift = F.max_pool1d(x.index_fill(2, torch.tensor([t + delta]), 1.0), k, s)
        same += bool(torch.equal(y, y_shift))
    return sympy.Rational(same, s)


@pytest.mark.claim("d000.pool.translation-invariance")
@given(k=st.integers(1, 5), s=st.integers(1, 5), delta=st.integers(0, 6))
def test_spike_invariance_fraction_matches_torch(k, s, delta):
    frac = th.spike_invariant_fraction(k, s, delta)
    assert frac == _spike_fraction_torch(k, s, delta)
    if k == s:
        assert frac == sympy.Rational(max(0, s - delta), s)


@pytest.mark.claim("d000.pool.translation-invariance")
def test_translation_counterexamples():
    x = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    assert F.max_pool1d(x, 2).flatten().tolist() == [1.0, 0.0]
    assert F.max_pool1d(torch.roll(x, 1, -1), 2).flatten().tolist() == [0.0, 1.0]
    assert th.spike_invariant_fraction(3, 1, 1) == 0  # overlapping windows: equivariant only
    signal = np.array([1.0, 1.0, -1.0])
    assert _avg1d(signal[1:], 2)[0] == 0.0 and _avg1d(signal[:2], 2)[0] == 1.0


# --------------------------------------------------------------------------- stride reduction


@pytest.mark.claim("d000.pool.stride-reduction")
def test_stride_reduction_exact_iff_condition_exhaustively():
    d = th.derive_stride_reduction()
    assert d.agrees(), d.to_markdown()
    for i in range(1, 25):
        for k in range(1, 7):
            for s in range(1, 7):
                for p in range(k // 2 + 1):
                    if i + 2 * p < k:
                        continue
                    o = th_conv.pool_output_size(i, k, s, p)
                    assert (o * s == i) == th.stride_reduction_exact(i, k, s, p), (i, k, s, p)
    assert th_conv.pool_output_size(5, 2) == 2 and th_conv.pool_output_size(8, 3, 2) == 3


@pytest.mark.claim("d000.pool.stride-reduction")
@given(cfg=pool_config(dilation=False))
def test_stride_reduction_predicate_against_torch(cfg):
    (i, _), (k, _), (s, _), (p, _) = cfg["size"], cfg["k"], cfg["s"], cfg["p"]
    out = F.max_pool2d(torch.zeros(1, 1, i, 1), (k, 1), (s, 1), (p, 0)).shape[2]
    assert (out * s == i) == th.stride_reduction_exact(i, k, s, p)
    assert pool.max_pool2d(np.zeros((1, 1, i, 1)), (k, 1), (s, 1), (p, 0)).shape[2] == out


# --------------------------------------------------------------------------- noise, parameters


@pytest.mark.claim("d000.pool.noise-reduction")
def test_noise_reduction_exact_for_equicorrelated_noise():
    d = th.derive_noise_reduction()
    assert d.agrees(), d.to_markdown()
    rho, sigma2 = sympy.symbols("rho sigma2")
    for k in range(1, 5):
        n = k * k
        cov = sigma2 * ((1 - rho) * sympy.eye(n) + rho * sympy.ones(n, n))
        w = sympy.Matrix([[sympy.Rational(1, n)] * n])  # avg pooling of one window
        exact = sympy.expand((w * cov * w.T)[0, 0])
        assert sympy.expand(exact - th.pooled_noise_variance(n, sigma2, rho)) == 0
        assert th.pooled_noise_variance(n, sigma2, 0) == sigma2 / n
        assert th.pooled_noise_variance(n, sigma2, 1) == sigma2  # no reduction


@pytest.mark.claim("d000.pool.noise-reduction")
@given(k=st.integers(2, 4), sigma=st.floats(0.1, 10.0), seed=seeds)
def test_avg_pool_of_iid_noise_has_variance_over_k_squared(k, sigma, seed):
    rng = np.random.default_rng(seed)
    x = sigma * rng.standard_normal((4, 8, 20 * k, 20 * k))
    y = pool.avg_pool2d(x, k)
    y_torch = F.avg_pool2d(torch.from_numpy(x), k).numpy()
    assert_close(y, y_torch, np.float64)
    stat = float(np.sum(y**2) / (sigma**2 / k**2))  # chi^2 with y.size degrees of freedom
    lo, hi = chi2_interval(y.size, FALSE_ALARM)
    assert lo <= stat <= hi, (stat, lo, hi)
    # correlated noise: one common value per window (rho = 1) keeps the full variance
    common = np.repeat(np.repeat(x[:, :, ::k, ::k], k, axis=2), k, axis=3)
    assert_close(pool.avg_pool2d(common, k), x[:, :, ::k, ::k], np.float64)


@pytest.mark.claim("d000.pool.fewer-parameters-downstream")
@given(c=st.integers(1, 16), h=st.integers(4, 30), s=st.integers(2, 4), out=st.integers(1, 10))
def test_pooling_shrinks_dense_parameters_not_conv_parameters(c, h, s, out):
    pooled = th_conv.pool_output_size(h, s, s)
    conv = torch.nn.Conv2d(c, c, 3, padding=1)
    assert sum(p.numel() for p in conv.parameters()) == th_conv.conv_params(c, c, 3)
    assert th_conv.conv_params(c, c, 3) == th_conv.conv_params(c, c, (3, 3))  # no H, W in it
    before = torch.nn.Linear(c * h * h, out)
    after = torch.nn.Linear(c * pooled * pooled, out)
    assert sum(p.numel() for p in before.parameters()) == linear_params(c * h * h, out)
    assert sum(p.numel() for p in after.parameters()) == linear_params(c * pooled**2, out)
    assert linear_params(c * pooled**2, out) < linear_params(c * h * h, out)
    ratio = sympy.Rational(
        th_conv.conv_macs(c, c, 3, (h, h)), th_conv.conv_macs(c, c, 3, (pooled, pooled))
    )
    assert ratio == sympy.Rational(h * h, pooled * pooled) >= s * s


# --------------------------------------------------------------------------- information loss


@st.composite
def pool1d(draw):
    k = draw(st.integers(1, 4), label="k")
    s = draw(st.integers(1, 3), label="s")
    p = draw(st.integers(0, k // 2), label="p")
    i = draw(st.integers(max(1, k - 2 * p), 7), label="size")
    return i, k, s, p


def _torch_pool(x: np.ndarray, k: int, s: int, p: int, mode: str) -> np.ndarray:
    t = torch.from_numpy(x)[None, None]
    fn = F.max_pool1d if mode == "max" else F.avg_pool1d
    return fn(t, k, s, p)[0, 0].numpy()


@pytest.mark.claim("d000.pool.information-loss")
@given(cfg=pool1d(), mode=st.sampled_from(["max", "avg"]), seed=seeds)
@example(cfg=(2, 2, 1, 1), mode="max", seed=0)
@example(cfg=(3, 3, 1, 1), mode="avg", seed=0)
def test_injectivity_characterisation_is_constructive(cfg, mode, seed):
    i, k, s, p = cfg
    x = np.random.default_rng(seed).standard_normal(i)
    y = _torch_pool(x, k, s, p, mode)
    if th.pooling_injective(i, k, s, p, mode):  # recover x from torch's output
        if mode == "avg":
            a = np.array(th.avg_pool_matrix(i, k, s, p).tolist(), dtype=np.float64)
            recovered = np.linalg.lstsq(a, y, rcond=None)[0]
            assert_close(recovered, x, np.float64)
        else:
            windows = th._pool_windows(i, k, s, p)
            solo = {w[0]: o for o, w in enumerate(windows) if len(w) == 1}
            assert np.array_equal(np.array([y[solo[j]] for j in range(i)]), x)
    else:  # two different inputs, one output
        if mode == "avg":
            a = np.array(th.avg_pool_matrix(i, k, s, p).tolist(), dtype=np.float64)
            null = np.linalg.svd(a)[2][-1] if a.shape[0] >= i else np.linalg.svd(a)[2][a.shape[0]]
            other = x + null
            assert np.abs(a @ null).max() < 1e-12
            assert_close(_torch_pool(other, k, s, p, mode), y, np.float64)
        else:
            windows = th._pool_windows(i, k, s, p)
            alone = {w[0] for w in windows if len(w) == 1}
            j = min(set(range(i)) - alone)
            low, lower = x.copy(), x.copy()  # x_j below every other entry: it never wins
            low[j], lower[j] = x.min() - 1.0, x.min() - 2.0
            assert np.array_equal(
                _torch_pool(low, k, s, p, mode), _torch_pool(lower, k, s, p, mode)
            )
    if p == 0 and k >= 2:
        assert not th.pooling_injective(i, k, s, p, mode)


@pytest.mark.claim("d000.pool.information-loss")
def test_information_loss_counterexamples():
    assert th.pooling_injective(2, 2, 1, 1, "max")
    assert th.avg_pool_matrix(3, 3, 1, 1).det() == sympy.Rational(-1, 27)
    x = np.array([0.3, -1.2])
    assert np.array_equal(_torch_pool(x, 2, 1, 1, "max"), [0.3, 0.3, -1.2])


# --------------------------------------------------------------------------- learnable pooling


def _depthwise_torch(x, w, s):
    c = x.shape[1]
    weight = w.expand(c, *w.shape[-2:])[:, None] if w.dim() == 2 else w[:, None]
    return F.conv2d(x, weight, stride=s, groups=c)


@pytest.mark.claim("d000.pool.weighted-average")
@given(
    k=st.integers(1, 3),
    s=st.integers(1, 3),
    shared=st.booleans(),
    seed=seeds,
    size=st.integers(3, 8),
)
def test_weighted_pool_equals_depthwise_conv_three_ways(k, s, shared, seed, size):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, size, size))
    logits = rng.standard_normal((k, k) if shared else (3, k, k))
    w = np.exp(logits) / np.exp(logits).sum(axis=(-2, -1), keepdims=True)  # softmax
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    yt = _depthwise_torch(xt, wt, s)
    y = pool.weighted_pool2d(x, w, s)
    assert_close(y, yt.detach().numpy(), np.float64)
    # an average: each output lies in its window's range
    lo = -pool.max_pool2d(-x, k, s)
    hi = pool.max_pool2d(x, k, s)
    assert np.all(y >= lo - 1e-12) and np.all(y <= hi + 1e-12)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    dx, dw = pool.weighted_pool2d_backward(g, x, w, s)
    assert_grad_close(dx, xt.grad.numpy())
    assert_grad_close(dw, wt.grad.numpy())
    assert_grad_close(dw, central_difference(lambda v: pool.weighted_pool2d(x, v, s), w, g))


@pytest.mark.claim("d000.pool.weighted-average")
def test_sum_to_one_weights_can_leave_the_window_range():
    w = np.array([[2.0, -1.0]])
    assert w.sum() == 1
    y = pool.weighted_pool2d(np.array([[[[0.0, 1.0]]]]), w)
    assert y.item() == -1.0  # outside [0, 1]


@pytest.mark.claim("d000.pool.gated")
@given(k=st.integers(1, 3), s=st.integers(1, 3), seed=seeds, size=st.integers(3, 7))
def test_gated_pool_three_ways(k, s, seed, size):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, size, size))
    gate = 3 * rng.standard_normal((2, k, k))
    xt, gt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(gate).requires_grad_()
    yt = _depthwise_torch(xt, torch.sigmoid(gt), s)
    y = pool.gated_pool2d(x, gate, s)
    assert_close(y, yt.detach().numpy(), np.float64)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    dx, dgate = pool.gated_pool2d_backward(g, x, gate, s)
    assert_grad_close(dx, xt.grad.numpy())
    assert_grad_close(dgate, gt.grad.numpy())
    assert_grad_close(dgate, central_difference(lambda v: pool.gated_pool2d(x, v, s), gate, g))
    assert_grad_close(dx, central_difference(lambda v: pool.gated_pool2d(v, gate, s), x, g))


@pytest.mark.claim("d000.pool.gated")
def test_gates_do_not_normalize():
    x = np.ones((1, 1, 3, 3))
    assert pool.gated_pool2d(x, np.zeros((3, 3))).item() == 4.5  # K^2/2 times the mean 1


@pytest.mark.claim("d000.pool.stochastic")
@given(seed=seeds, window=st.lists(st.integers(0, 5), min_size=4, max_size=4))
def test_stochastic_pool_frequencies_and_mean(seed, window):
    rng = np.random.default_rng(seed)
    reps = 20_000
    x = np.tile(np.array(window, np.float64).reshape(1, 1, 2, 2), (1, 1, 1, reps))
    y, tap = pool.stochastic_pool2d(x, 2, rng=rng)
    total = sum(window)
    if total == 0:
        assert np.all(y == 0) and np.all(tap == -1)
        return
    alpha = FALSE_ALARM / 5  # union bound: 4 frequencies and the mean
    for r, v in enumerate(window):
        freq = float(np.mean(tap == r))
        assert abs(freq - v / total) <= hoeffding_halfwidth(reps, 1.0, alpha), (r, freq)
        if v == 0:
            assert freq == 0.0  # a zero entry is never drawn
    expected = pool.stochastic_pool2d(x[..., :2], 2, training=False)[0].item()
    assert expected == pytest.approx(sum(v * v for v in window) / total)
    assert abs(float(y.mean()) - expected) <= hoeffding_halfwidth(reps, max(window), alpha)
    again, _ = pool.stochastic_pool2d(x, 2, rng=np.random.default_rng(seed))
    assert np.array_equal(y, again)  # reproducible from the seed


@pytest.mark.claim("d000.pool.stochastic")
def test_stochastic_pool_needs_non_negative_input():
    for window in ([2.0, -1.0], [1.0, -1.0]):
        with pytest.raises(ValueError, match="non-negative"):
            pool.stochastic_pool2d(np.array([[[window]]]), (1, 2), rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        pool.stochastic_pool2d(np.ones((1, 1, 2, 2)), 2)


# --------------------------------------------------------------------------- torch's argmax rule


def _torch_max_pool(x: np.ndarray, nd: int, *args):
    """torch's values, indices and input gradient for an upstream gradient of ones."""
    xt = torch.from_numpy(x).requires_grad_()
    y, idx = (F.max_pool1d if nd == 1 else F.max_pool2d)(xt, *args, return_indices=True)
    y.backward(torch.ones_like(y))
    return y.detach().numpy(), idx.numpy(), xt.grad.numpy()


@pytest.mark.claim("d000.pool.max-definition")
@pytest.mark.parametrize(
    ("row", "args"),
    [
        ([1.0, np.nan, 2.0, np.nan], (4,)),  # two NaNs: the last one
        ([np.nan, 1.0, np.nan, 2.0], (4,)),
        ([np.nan, np.nan], (2,)),
        ([2.0, 2.0, 1.0], (3,)),  # tie: the first maximum
        ([-np.inf, -np.inf, 3.0], (3, 1, 1)),  # padded window of -inf: its first real input
        ([-np.inf, -np.inf], (3, 1, 1)),
        ([-np.inf, 5.0, -np.inf, -np.inf], (3, 2, 1, 1, True)),
    ],
)
def test_max_pool_argmax_rule_is_torchs(row, args):
    """torch 2.13 CPU: scan real taps from (first real tap, -inf), move on v > best or NaN."""
    x = np.array([[row]])
    y, idx, grad = _torch_max_pool(x, 1, *args)
    ours, ours_idx = pool.max_pool1d(x, *args, return_indices=True)
    assert np.array_equal(ours, y, equal_nan=True) and np.array_equal(ours_idx, idx)
    assert np.array_equal(pool.max_pool1d_backward(np.ones_like(y), x, *args), grad)
    # the same rule in 2-D (row-major scan) and in adaptive max pooling
    x2 = x[:, :, None, :].repeat(2, axis=2)  # two equal rows, windows of one row
    first = (1, 1, 0, 1)  # kernel, stride, padding, dilation along the rows
    args = tuple((first[i], a) if i < 4 else a for i, a in enumerate(args))
    y2, idx2, grad2 = _torch_max_pool(x2, 2, *args)
    ours2, ours_idx2 = pool.max_pool2d(x2, *args, return_indices=True)
    assert np.array_equal(ours2, y2, equal_nan=True) and np.array_equal(ours_idx2, idx2)
    assert np.array_equal(pool.max_pool2d_backward(np.ones_like(y2), x2, *args), grad2)
    xt = torch.from_numpy(x).requires_grad_()
    ya, ia = F.adaptive_max_pool1d(xt, 1, return_indices=True)
    ya.backward(torch.ones_like(ya))
    oa, oi = pool.adaptive_max_pool1d(x, 1, return_indices=True)
    assert np.array_equal(oa, ya.detach().numpy(), equal_nan=True)
    assert np.array_equal(oi, ia.numpy())
    assert np.array_equal(pool.adaptive_max_pool1d_backward(np.ones((1, 1, 1)), x, 1), xt.grad)


@pytest.mark.claim("d000.pool.max-definition")
@given(cfg=pool_config(), seed=seeds, data=st.data())
def test_max_pool_with_nan_and_minus_inf_equals_torch(cfg, seed, data):
    """Inputs drawn from {-inf, NaN, 0, 1}: ties, NaNs and -inf windows everywhere."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-np.inf, np.nan, 0.0, 1.0]), size=(2, 2, *cfg["size"]))
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"])
    with torch.no_grad():
        probe = F.max_pool2d(torch.ones(1, 1, *cfg["size"]), *args)
    if torch.isinf(probe).any():  # a window of padding only: never run torch's backward
        with pytest.raises(ValueError, match="only padding"):
            pool.max_pool2d(x, *args)
        return
    y, idx, grad = _torch_max_pool(x, 2, *args)
    ours, ours_idx = pool.max_pool2d(x, *args, return_indices=True)
    assert np.array_equal(ours, y, equal_nan=True) and np.array_equal(ours_idx, idx)
    assert np.array_equal(pool.max_pool2d_backward(np.ones_like(y), x, *args), grad)


# --------------------------------------------------------------------------- torch's conventions


@pytest.mark.claim("d000.pool.max-definition", "d000.pool.avg-definition")
@given(
    size=st.integers(1, 9),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    data=st.data(),
    batched=st.booleans(),
    seed=seeds,
)
def test_1d_pooling_unbatched_and_indices_equal_torch(size, k, s, data, batched, seed):
    p = data.draw(st.integers(0, k // 2), label="padding")
    ceil = data.draw(st.booleans(), label="ceil_mode")
    cip = data.draw(st.booleans(), label="count_include_pad")
    try:  # ceil mode can keep a window longer than the padded input; torch decides
        F.avg_pool1d(torch.zeros(2, size), k, s, p, ceil)
    except RuntimeError:
        with pytest.raises(ValueError, match="output size < 1"):
            pool.avg_pool1d(np.zeros((2, size)), k, s, p, ceil)
        return
    rng = np.random.default_rng(seed)
    shape = (2, 3, size) if batched else (3, size)
    x = rng.standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_()
    y, idx = F.max_pool1d(xt, k, s, p, 1, ceil, return_indices=True)
    ours, ours_idx = pool.max_pool1d(x, k, s, p, 1, ceil, True)
    assert np.array_equal(ours, y.detach().numpy()) and np.array_equal(ours_idx, idx.numpy())
    g = rng.standard_normal(y.shape)
    y.backward(torch.from_numpy(g))
    assert np.array_equal(pool.max_pool1d_backward(g, x, k, s, p, 1, ceil), xt.grad.numpy())
    xt.grad = None
    ya = F.avg_pool1d(xt, k, s, p, ceil, cip)
    assert_close(pool.avg_pool1d(x, k, s, p, ceil, cip), ya.detach().numpy(), np.float64)
    ga = rng.standard_normal(ya.shape)
    ya.backward(torch.from_numpy(ga))
    ours_grad = pool.avg_pool1d_backward(ga, x, k, s, p, ceil, cip)
    assert_grad_close(ours_grad, xt.grad.numpy())
    assert_grad_close(
        ours_grad, central_difference(lambda v: pool.avg_pool1d(v, k, s, p, ceil, cip), x, ga)
    )


@pytest.mark.claim("d000.pool.avg-definition")
@given(divisor=st.integers(-5, 5).filter(bool), cfg=pool_config(dilation=False), seed=seeds)
def test_avg_pool_divisor_override_equals_torch(divisor, cfg, seed):
    x = _input(seed, cfg["size"], False)
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["ceil"], True, divisor)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.avg_pool2d(xt, *args)
    y = pool.avg_pool2d(x, *args)
    assert_close(y, yt.detach().numpy(), np.float64)
    # the window sum over the divisor, whatever the padding convention
    total = pool.avg_pool2d(x, *args[:4], True, 1)
    assert_close(y * divisor, total, np.float64)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    assert_grad_close(pool.avg_pool2d_backward(g, x, *args), xt.grad.numpy())
    with pytest.raises(ValueError, match="divisor_override"):
        pool.avg_pool2d(x, *args[:5], 0)


@pytest.mark.claim("d000.pool.adaptive-output-size")
@given(
    c=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    oh=st.one_of(st.none(), st.integers(1, 12)),
    ow=st.one_of(st.none(), st.integers(1, 12)),
    mode=st.sampled_from(["avg", "max"]),
    batched=st.booleans(),
    seed=seeds,
)
def test_adaptive_2d_unbatched_none_and_backward_equal_torch(c, h, w, oh, ow, mode, batched, seed):
    """Unbatched (C, H, W) with an int size is 2-D pooling (the old kernel pooled it in 1-D);
    None keeps an axis; the backward (overlapping windows add) equals autograd."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c, h, w) if batched else (c, h, w))
    fn = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
    ours_fn = pool.adaptive_avg_pool2d if mode == "avg" else pool.adaptive_max_pool2d
    back = pool.adaptive_avg_pool2d_backward if mode == "avg" else pool.adaptive_max_pool2d_backward
    for size in ((oh, ow), oh if oh is not None else 3):
        xt = torch.from_numpy(x).requires_grad_()
        yt = fn(xt, size)
        y = ours_fn(x, size)
        assert y.shape == tuple(yt.shape)
        assert_close(y, yt.detach().numpy(), np.float64)
        g = rng.standard_normal(y.shape)
        yt.backward(torch.from_numpy(g))
        assert_grad_close(back(g, x, size), xt.grad.numpy())
    assert pool.adaptive_avg_pool2d(np.zeros((8, 4, 3)), 5).shape == (8, 5, 5)  # issue 10 § 3


@pytest.mark.claim("d000.pool.max-definition", "d000.pool.avg-definition")
def test_empty_batch_gives_empty_results_as_torch():
    x = np.zeros((0, 3, 5, 5))
    for ours, theirs, arg in (
        (pool.max_pool2d, F.max_pool2d, 2),
        (pool.avg_pool2d, F.avg_pool2d, 2),
        (pool.adaptive_avg_pool2d, F.adaptive_avg_pool2d, 3),
        (pool.adaptive_max_pool2d, F.adaptive_max_pool2d, 3),
    ):
        assert ours(x, arg).shape == tuple(theirs(torch.from_numpy(x), arg).shape)
    assert pool.max_pool2d_backward(np.zeros((0, 3, 2, 2)), x, 2).shape == x.shape
    with pytest.raises(ValueError, match="empty batch but no other zero-size axis"):
        pool.max_pool1d(np.zeros((0, 10)), 1)  # unbatched with no channels: torch refuses too


@pytest.mark.claim("d000.pool.adaptive-output-size")
def test_pooling_work_is_bounded():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"output_size.*MAX_ELEMENTS"):
        pool.adaptive_avg_pool2d(x, 10**30)
    with pytest.raises(ValueError, match=r"output_size.*MAX_ELEMENTS"):
        pool.adaptive_max_pool1d(np.zeros((1, 1, 4)), 2**40)
    with pytest.raises(ValueError, match=r"kernel_size.*MAX_ELEMENTS"):
        pool.max_pool1d(np.zeros((1, 1, 4)), 10**12, 1, 5 * 10**11)


# --------------------------------------------------------------------------- review (issue 10 §5)


def _rounded(i: int, k: int, s: int, p: int) -> bool:
    """O in {floor(I/S), ceil(I/S)} by the closed form: D = 2P - K + S, r = I mod S."""
    d, r = 2 * p - k + s, i % s
    return -r <= d < s + (s - r) % s


@pytest.mark.claim("d000.pool.stride-reduction")
def test_stride_reduction_up_to_rounding_exhaustively():
    """O is I/S rounded for every I iff K - S <= 2P < K; per I, iff the closed form says so."""
    for k in range(1, 8):
        for s in range(1, 8):
            for p in range(k // 2 + 1):
                sizes = [i for i in range(max(1, k - 2 * p), 60)]
                rounded = []
                for i in sizes:
                    o = th_conv.pool_output_size(i, k, s, p)
                    is_rounded = o in (i // s, -(-i // s))
                    assert is_rounded == _rounded(i, k, s, p), (i, k, s, p)
                    rounded.append(is_rounded)
                assert all(rounded) == (k - s <= 2 * p < k), (k, s, p)
    assert th_conv.pool_output_size(8, 3, 2, 0) == 3  # not 4: the counterexample
    assert th_conv.pool_output_size(4, 2, 2, 1) == 3  # not 2
    assert th_conv.pool_output_size(5, 2, 2, 0) == 2 == 5 // 2  # rounding, not a counterexample


@pytest.mark.claim("d000.pool.stride-reduction")
@given(
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    data=st.data(),
    family=st.sampled_from(["max1d", "avg1d", "max3d", "avg3d"]),
)
def test_stride_reduction_rounding_against_torch_1d_and_3d(k, s, data, family):
    p = data.draw(st.integers(0, k // 2), label="p")
    # torch's avg_pool3d (unlike avg_pool1d/2d and max_pool3d) refuses I < K even when
    # I + 2P >= K: "input image smaller than kernel size"
    low = k if family == "avg3d" else max(1, k - 2 * p)
    i = data.draw(st.integers(low, 30), label="size")
    if family.endswith("1d"):
        x = torch.zeros(1, 1, i)
        fn = F.max_pool1d if family == "max1d" else F.avg_pool1d
    else:
        x = torch.zeros(1, 1, i, 2 * k, 2 * k)
        fn = F.max_pool3d if family == "max3d" else F.avg_pool3d
    o = fn(x, k, s, p).shape[2]
    assert o == th_conv.pool_output_size(i, k, s, p)
    assert (o in (i // s, -(-i // s))) == _rounded(i, k, s, p)
    assert (o * s == i) == th.stride_reduction_exact(i, k, s, p)


def _torch_pool_matrix(size: tuple[int, int], k: int, s: int) -> np.ndarray:
    """Rows: torch's avg_pool2d outputs as linear functions of the inputs (probed one-hot)."""
    n = size[0] * size[1]
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, *size)
    return F.avg_pool2d(eye, k, s).reshape(n, -1).T.numpy()


@pytest.mark.claim("d000.pool.noise-reduction")
@given(k=st.integers(2, 3), s=st.integers(1, 3), rank=st.integers(1, 12), seed=seeds)
def test_average_never_increases_the_mean_noise_variance(k, s, rank, seed):
    """Any noise covariance Sigma = A A^T (rank drawn): every output of torch's avg_pool2d has
    variance row Sigma row^T <= the mean input variance of its window (Cauchy-Schwarz), and
    equal only for one common value per window."""
    rng = np.random.default_rng(seed)
    size = (k + s, k + 2 * s)
    n = size[0] * size[1]
    a = rng.standard_normal((n, rank)) * rng.uniform(0.1, 3.0, (n, 1))
    cov = a @ a.T
    pmat = _torch_pool_matrix(size, k, s)
    out_var = np.einsum("oi,ij,oj->o", pmat, cov, pmat)
    for row, v in zip(pmat, out_var, strict=True):
        window = row > 0
        assert row[window] == pytest.approx(np.full(window.sum(), 1 / k**2))
        assert v <= np.mean(np.diag(cov)[window]) * (1 + 1e-12)
        stds = np.sqrt(np.diag(cov)[window])
        assert v <= np.mean(stds) ** 2 * (1 + 1e-12)
    # equality: one common value per window (rank-1 Sigma with equal entries)
    common = np.full((n, 1), 2.0)
    cov1 = common @ common.T
    assert np.allclose(np.einsum("oi,ij,oj->o", pmat, cov1, pmat), 4.0, rtol=1e-12)


@pytest.mark.claim("d000.pool.adaptive-output-size")
@given(
    dims=st.integers(1, 3),
    data=st.data(),
    mode=st.sampled_from(["avg", "max"]),
    batched=st.booleans(),
    seed=seeds,
)
def test_adaptive_pooling_in_1d_2d_3d_gives_the_requested_size_and_theory_windows(
    dims, data, mode, batched, seed
):
    """torch's adaptive avg/max pooling in 1-D, 2-D and 3-D (None keeps an axis): the output
    has the requested shape and equals pooling over the product of theory.adaptive_windows."""
    import itertools

    sizes = [data.draw(st.integers(1, 6), label=f"I{a}") for a in range(dims)]
    size_or_none = st.integers(1, 8) if dims == 1 else st.one_of(st.none(), st.integers(1, 8))
    outs = [data.draw(size_or_none, label=f"O{a}") for a in range(dims)]  # 1-D takes no None
    x = np.random.default_rng(seed).standard_normal((2, *sizes))  # (C, *spatial)
    fn = getattr(F, f"adaptive_{mode}_pool{dims}d")
    t = torch.from_numpy(x[None] if batched else x)
    y = fn(t, outs if dims > 1 else outs[0])
    y = y[0] if batched else y
    want = [o if o is not None else i for o, i in zip(outs, sizes, strict=True)]
    assert tuple(y.shape) == (2, *want)
    windows = [th.adaptive_windows(i, o) for i, o in zip(sizes, want, strict=True)]
    reduce = np.mean if mode == "avg" else np.max
    expected = np.empty((2, *want))
    for idx in itertools.product(*(range(o) for o in want)):
        sl = tuple(slice(*windows[a][idx[a]]) for a in range(dims))
        expected[(slice(None), *idx)] = reduce(x[(slice(None), *sl)].reshape(2, -1), axis=1)
    assert_close(y.numpy(), expected, np.float64)


@pytest.mark.claim("d000.pool.adaptive-rule")
@given(size=st.integers(1, 30), data=st.data())
def test_rule_has_stride_zero_when_the_output_is_larger(size, data):
    out = data.draw(st.integers(size + 1, 3 * size + 2), label="out")
    assert size // out == 0  # the document's stride: no valid pooling
    assert len(th.adaptive_windows(size, out)) == out  # torch's windows still exist
    assert tuple(F.adaptive_avg_pool1d(torch.zeros(1, 1, size), out).shape) == (1, 1, out)


# ---------------------------------------------------------------- outside fuzz (issue 10)


@pytest.mark.claim("d000.pool.stochastic")
@given(seed=seeds, exponent=st.integers(900, 1020))
def test_stochastic_pool_of_huge_values_draws_as_the_unscaled_input(seed, exponent):
    """p = x / sum(x) is scale free: x * 2**k draws exactly the taps of x with the same seed
    (and the values times 2**k), also where the window sums overflow the float range; the
    evaluation expectation is finite and scales likewise."""
    x = np.random.default_rng(seed).uniform(0, 1, (1, 2, 4, 6))
    big = np.ldexp(x, exponent)  # exact; a 2x2 window of them sums beyond 1.8e308
    y, tap = pool.stochastic_pool2d(x, 2, rng=np.random.default_rng(seed))
    y_big, tap_big = pool.stochastic_pool2d(big, 2, rng=np.random.default_rng(seed))
    assert np.array_equal(tap_big, tap)
    assert np.array_equal(y_big, np.ldexp(y, exponent))
    mean, mean_big = (pool.stochastic_pool2d(v, 2, training=False)[0] for v in (x, big))
    assert np.isfinite(mean_big).all()
    assert_close(mean_big, np.ldexp(mean, exponent), np.float64)


@pytest.mark.claim("d000.pool.stochastic")
def test_stochastic_pool_all_zero_window_is_value_zero_and_tap_minus_one():
    """Decision (documented in the docstring): an all-zero window has no distribution to draw
    from; its value is 0 and its tap the sentinel -1 ("no tap"), next to ordinary windows whose
    taps are their drawn positions (>= 0, never a zero entry)."""
    x = np.array([[[[0.0, 0.0, 0.0, 3.0], [0.0, 0.0, 1.0, 0.0]]]])  # windows: zeros | {3, 1}
    y, tap = pool.stochastic_pool2d(x, 2, rng=np.random.default_rng(0))
    assert y[0, 0, 0, 0] == 0 and tap[0, 0, 0, 0] == -1
    assert tap[0, 0, 0, 1] in (1, 2) and y[0, 0, 0, 1] == {1: 3.0, 2: 1.0}[tap[0, 0, 0, 1]]
    mean, taps = pool.stochastic_pool2d(x, 2, training=False)
    assert mean[0, 0, 0, 0] == 0 and mean[0, 0, 0, 1] == pytest.approx((9 + 1) / 4)
    assert np.all(taps == -1)  # evaluation draws nothing


@pytest.mark.claim("d000.pool.avg-definition")
def test_avg_pool_negative_divisor_override_follows_torch():
    """Decision: as torch (which refuses only 0), a negative divisor_override is accepted and
    divides the window sum by it: -1 gives minus the window sum."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = pool.avg_pool2d(x, 2, divisor_override=-1)
    sums = -np.array([[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])
    assert np.array_equal(y[0, 0], sums)
    expected = F.avg_pool2d(torch.from_numpy(x), 2, divisor_override=-1).numpy()
    assert np.array_equal(y, expected)


# The gradient of max pooling (theory.pooling.derive_max_pool_gradient) -------------------


@pytest.mark.claim("d000.pool.max-definition")
@pytest.mark.parametrize("taps", range(1, 7))
def test_max_pool_gradient_is_one_hot_at_the_unique_argmax(taps):
    for a in range(taps):
        assert th.max_pool_gradient(taps, a) == [int(j == a) for j in range(taps)]
    d = th.derive_max_pool_gradient(taps)
    assert d.agrees()


@pytest.mark.claim("d000.pool.max-definition")
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=9))
def test_torch_routes_the_window_gradient_to_the_first_maximum(values):
    """The tie rule the derivation states: SymPy's H(0) = 1/2 splits, torch's max pooling gives
    everything to the first maximum (row-major), so its gradient is e_(first argmax)."""
    x = torch.tensor(values, dtype=torch.float64).reshape(1, 1, 1, -1).requires_grad_(True)
    torch.nn.functional.max_pool2d(x, (1, len(values))).sum().backward()
    first = values.index(max(values))
    assert x.grad.reshape(-1).tolist() == [float(j == first) for j in range(len(values))]
