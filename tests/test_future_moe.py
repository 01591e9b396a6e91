"""Mixture of experts and early exit (000 § Dynamic and Adaptive Layers; claims in
theory/claims/future.1-moe.yaml). The MoE layer's forward and backward are checked against a
torch autograd implementation written here; drop counts exactly; early-exit cost against
simulation (Hoeffding, false alarm 1e-6)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu.moe import (
    cond_conv2d,
    expert_capacity,
    load_balancing_loss,
    moe_backward,
    moe_forward,
    route,
)
from numerics import moe_experiments as X
from numerics.stats import hoeffding_halfwidth
from theory import moe as T


def _torch_moe(x, wg, we, be, k, cap, normalize):
    """Reference: the same layer in torch, gradients by autograd (routing from torch.topk
    on the probabilities, capacity filled rank-major in token order)."""
    xs, wgs, wes, bes = (torch.tensor(a, requires_grad=True) for a in (x, wg, we, be))
    probs = torch.softmax(xs @ wgs.T, dim=1)
    vals, idx = torch.topk(probs, k, dim=1)
    gates = vals / vals.sum(1, keepdim=True) if normalize else vals
    load = [0] * wg.shape[0]
    y = torch.zeros(x.shape[0], we.shape[1], dtype=torch.float64)
    rows = []
    for j in range(k):
        for t in range(x.shape[0]):
            e = int(idx[t, j])
            if load[e] < cap:
                load[e] += 1
                rows.append((t, j, e))
    for t, j, e in rows:
        y = y.index_add(0, torch.tensor([t]), (gates[t, j] * (wes[e] @ xs[t] + bes[e]))[None])
    return y, (xs, wgs, wes, bes)


@pytest.mark.claim("d000.future.moe-route", "d000.future.moe-layer-torch")
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3), cf=st.sampled_from([0.5, 1.0, 2.0]),
       normalize=st.booleans())  # fmt: skip
@settings(max_examples=15, deadline=None)
def test_moe_forward_backward_match_torch_autograd(seed, k, cf, normalize):
    rng = np.random.default_rng(seed)
    x, wg = rng.standard_normal((7, 3)), rng.standard_normal((4, 3))
    we, be = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2))
    y, cache = moe_forward(x, wg, we, be, k, cf, normalize)
    ty, leaves = _torch_moe(x, wg, we, be, k, cache["capacity"], normalize)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    go = rng.standard_normal(y.shape)
    (ty * torch.tensor(go)).sum().backward()
    grads = moe_backward(go, cache)
    for name, leaf in zip(
        ("x", "gate_weight", "expert_weight", "expert_bias"), leaves, strict=True
    ):
        np.testing.assert_allclose(grads[name], leaf.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.claim("d000.future.moe-route")
def test_a_token_only_touches_its_chosen_experts():
    rng = np.random.default_rng(0)
    x, wg = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    we, be = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2))
    y, c = moe_forward(x, wg, we, be, 1, 10.0)
    for t in range(5):
        other = [e for e in range(4) if e != c["index"][t, 0]]
        we2, be2 = we.copy(), be.copy()
        we2[other] += 100.0
        be2[other] -= 7.0
        assert np.array_equal(moe_forward(x, wg, we2, be2, 1, 10.0)[0][t], y[t])
    assert len(set(c["index"][:, 0])) > 1  # different inputs, different experts


@pytest.mark.claim("d000.future.moe-capacity-drops")
@given(tokens=st.integers(1, 6), e=st.integers(1, 4), data=st.data())
@settings(max_examples=40, deadline=None)
def test_dropped_count_is_sum_of_overflows(tokens, e, data):
    k = data.draw(st.integers(1, e))
    cap = data.draw(st.integers(0, tokens + 1))
    probs = np.array(data.draw(st.lists(st.lists(st.floats(0, 1), min_size=e, max_size=e),
                                        min_size=tokens, max_size=tokens)))  # fmt: skip
    index, keep = route(probs, k, cap)
    counts = np.bincount(index.ravel(), minlength=e).tolist()
    assert (~keep).sum() == T.dropped_assignments(counts, cap)
    # first choices are never displaced by later ones: kept first choices = min(n_i^1, C)
    first = np.bincount(index[:, 0], minlength=e)
    kept_first = np.bincount(index[:, 0][keep[:, 0]], minlength=e)
    assert np.array_equal(kept_first, np.minimum(first, cap))


@pytest.mark.claim("d000.future.moe-capacity-drops")
@pytest.mark.parametrize("tokens,e,k", [(8, 4, 1), (8, 4, 2), (12, 3, 2), (5, 5, 1)])
def test_adversarial_routing_drops_k_times_tokens_minus_capacity(tokens, e, k):
    for cf in (0.25, 0.5, 1.0, 1.5, 2.0, 4.0, 8.0):
        cap = expert_capacity(tokens, e, k, cf)
        row = np.linspace(1.0, 0.1, e)  # every token prefers experts 0..k-1
        _, keep = route(np.tile(row, (tokens, 1)), k, cap)
        assert (~keep).sum() == k * max(0, tokens - cap)
        # balanced routing drops nothing iff capacity_factor >= 1 (T*k divisible by E)
    if tokens * k % e == 0:
        bal = np.array([[1.0 if (t * k + j) % e == i else 0.0 for i in range(e)]
                        for t in range(tokens) for j in range(1)])  # fmt: skip
        if k == 1:
            for cf in (0.3, 0.5, 0.99, 1.0, 2.0):
                cap = expert_capacity(tokens, e, 1, cf)
                dropped = (~route(bal, 1, cap)[1]).sum()
                assert dropped == e * max(0, tokens // e - cap)  # 0 iff ceil(cf T/E) >= T/E


def test_expert_capacity_is_exact_ceiling():
    assert expert_capacity(8, 4, 1, 1.0) == 2
    assert expert_capacity(8, 4, 2, 1.25) == 5
    assert expert_capacity(10, 3, 1, 1.0) == 4
    assert expert_capacity(8, 4, 1, 0.1) == 1


@pytest.mark.claim("d000.future.moe-balance-uniform")
@given(n=st.integers(2, 8), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_loss_is_one_when_dispatch_is_uniform_whatever_p(n, seed):
    assert T.derive_balance_loss_uniform().agrees()
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n, 0.3), size=3 * n)
    idx = np.tile(np.arange(n), 3)  # f uniform, P anything
    assert abs(load_balancing_loss(probs, idx) - 1) < 1e-12
    # P uniform, f collapsed: also 1
    assert load_balancing_loss(np.full((4, n), 1 / n), np.zeros(4, dtype=np.int64)) == \
        pytest.approx(1, abs=1e-12)  # fmt: skip


@pytest.mark.claim("d000.future.moe-balance-min-common")
def test_uniform_is_not_the_minimum():
    d = T.derive_balance_loss_infimum()
    assert d.derived == sympy.Rational(7, 8) and not d.agrees()  # refutes "minimum 1"
    probs = np.array([[0.5, 0.5]] * 3 + [[0.0, 1.0]])
    idx = np.argmax(probs, axis=1)  # numpy's argmax takes expert 0 on the tie
    assert list(idx) == [0, 0, 0, 1]
    assert load_balancing_loss(probs, idx) == pytest.approx(7 / 8, abs=1e-15)
    # softmax gate, finite logits: still below 1
    z = np.array([[0.0, -1e-9]] * 3 + [[0.0, 30.0]])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert load_balancing_loss(p, np.argmax(p, 1)) < 0.876


def _exact_loss(rows):
    """N = 2 loss of exact rows (u, 1-u), ties to expert 0, in rationals."""
    t = len(rows)
    f0 = sympy.Rational(sum(1 for u in rows if u >= sympy.Rational(1, 2)), t)
    p0 = sum(rows, sympy.Integer(0)) / t
    return T.balance_loss([f0, 1 - f0], [p0, 1 - p0])


@pytest.mark.claim("d000.future.moe-balance-min")
def test_seven_eighths_is_the_n2_infimum_attained_iff_4_divides_t():
    d = T.derive_balance_loss_min()
    assert d.agrees() and d.derived == sympy.Rational(7, 8)
    assert [T.balance_loss_min_two_experts(t) for t in (1, 2, 3, 4)] == [
        1, 1, sympy.Rational(8, 9), sympy.Rational(7, 8)]  # fmt: skip
    half = sympy.Rational(1, 2)
    # exhaustive over the extremal rows of the a >= 1/2 case (u = 1/2 tie, u = 1, u = 0)
    for t in range(1, 13):
        best = min(_exact_loss(list(c))
                   for c in itertools.combinations_with_replacement((half, 1, 0), t))  # fmt: skip
        assert best == T.balance_loss_min_two_experts(t) >= sympy.Rational(7, 8)
        assert (best == sympy.Rational(7, 8)) == (t % 4 == 0)
    # a < 1/2 case: f0 = 1/4, three tokens at u = 1/2 - e on expert 1: above 7/8, -> 7/8
    vals = [_exact_loss([1] + [half - sympy.Rational(1, 10**k)] * 3) for k in range(1, 8)]
    assert all(v > sympy.Rational(7, 8) for v in vals)
    assert all(a > b for a, b in itertools.pairwise(vals))
    assert vals[-1] - sympy.Rational(7, 8) < sympy.Rational(1, 10**6)
    # random realizable routings never go below the per-T minimum
    rng = np.random.default_rng(1)
    for t in (2, 3, 5, 8):
        for _ in range(200):
            q = rng.dirichlet([0.2, 0.2], size=t)
            low = float(T.balance_loss_min_two_experts(t))
            assert load_balancing_loss(q, np.argmax(q, 1)) >= low - 1e-12


@pytest.mark.claim("d000.future.moe-balance-min-common")
def test_skew_figure_data_and_png():
    s, loss = X.skew_curve(4, 5)
    np.testing.assert_allclose(loss[1:], 1 + 3 * s[1:], atol=1e-12)
    assert loss[0] == pytest.approx(1.0)
    a, l2 = X.two_group_curve(8)
    np.testing.assert_allclose(l2, 2 * a**2 - 3 * a + 2, atol=1e-12)
    assert X.balance_loss_figure().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.claim("d000.future.exit-cost", "d000.future.dynamic-depth")
@given(seed=st.integers(0, 2**32 - 1), L=st.integers(1, 6), data=st.data())
@settings(max_examples=8, deadline=None)
def test_early_exit_cost_matches_simulation(seed, L, data):
    costs = np.array(data.draw(st.lists(st.floats(0, 3), min_size=L, max_size=L)))
    q = np.array(data.draw(st.lists(st.floats(0, 1), min_size=L - 1, max_size=L - 1)))
    n = 200_000
    exact = float(T.early_exit_cost(costs.tolist(), q.tolist()))
    mc = X.early_exit_mc(costs, q.astype(np.float64), n, seed)
    width = max(float(costs.sum()), 1e-12)
    assert abs(mc - exact) <= hoeffding_halfwidth(n, width, 1e-6)


@pytest.mark.claim("d000.future.exit-cost")
def test_constant_closed_form_and_depth_bound():
    d = T.derive_early_exit_cost()
    assert d.agrees()
    for L in range(1, 12):
        e = T.early_exit_cost([1] * L, [sympy.Rational(1, 3)] * (L - 1))
        assert e == (1 - sympy.Rational(2, 3) ** L) * 3 and e < 3


@pytest.mark.claim("d000.future.exit-breakeven", "d000.future.dynamic-depth")
def test_exit_heads_can_make_early_exit_dearer_than_the_plain_network():
    d = T.derive_early_exit_breakeven()
    assert d.agrees()
    c, h = sympy.symbols("c h", nonnegative=True)
    for L in range(1, 7):  # the symbolic result at q = 0 against the helper, and monotone in q
        at = [T.early_exit_cost([c + h] * (L - 1) + [c], [sympy.Rational(k, 10)] * (L - 1))
              for k in range(11)]  # fmt: skip
        assert sympy.expand(at[0] - L * c - (L - 1) * h) == 0
        ex = [a.subs({c: 1, h: sympy.Rational(1, 2)}) for a in at]
        assert all(x >= y for x, y in itertools.pairwise(ex))
    # the record's counterexample: 4 blocks of cost 1, heads of cost 1/2 after the first 3
    exact = T.early_exit_cost([1.5, 1.5, 1.5, 1.0], [0.1] * 3)
    assert exact == pytest.approx(4.794, abs=1e-12)
    assert T.early_exit_cost([sympy.Rational(3, 2)] * 3 + [1], [sympy.Rational(1, 10)] * 3) == \
        sympy.Rational(2397, 500)  # fmt: skip
    cost = X.early_exit_mc(np.array([1.5, 1.5, 1.5, 1.0]), np.array([0.1, 0.1, 0.1]), 200_000, 3)
    assert float(exact) > 4.0 and abs(cost - float(exact)) <= hoeffding_halfwidth(
        200_000, 5.5, 1e-6
    )


@pytest.mark.claim("d000.future.conditional-computation", "d000.future.moe-constant-work")
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3))
@settings(max_examples=10, deadline=None)
def test_moe_computation_depends_on_input_but_work_does_not(seed, k):
    rng = np.random.default_rng(seed)
    x, wg = rng.standard_normal((9, 3)), rng.standard_normal((3, 3))
    we, be = rng.standard_normal((3, 2, 3)), rng.standard_normal((3, 2))
    _, c = moe_forward(x, wg, we, be, k, 9.0)  # capacity >= tokens: nothing dropped
    assert c["keep"].sum(axis=1).tolist() == [k] * 9  # the same work for every token
    # which experts run depends on the input: a token steered to each expert in turn
    for e in range(3):
        xe = 50.0 * np.linalg.solve(wg, np.eye(3)[e])[None]  # logits 50 * e_e
        assert moe_forward(xe, wg, we, be, 1, 9.0)[1]["index"][0, 0] == e


@pytest.mark.claim("d000.future.adaptive-conv")
@given(seed=st.integers(0, 2**32 - 1), stride=st.integers(1, 2), padding=st.integers(0, 1))
@settings(max_examples=10, deadline=None)
def test_condconv_is_one_convolution_with_the_mixed_kernel(seed, stride, padding):
    assert T.derive_condconv_linear().agrees()
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((3, 2, 6, 5)), rng.standard_normal((4, 3, 2, 3, 2))
    rw, rb = rng.standard_normal((4, 2)), rng.standard_normal(4)
    y, alpha = cond_conv2d(x, w, rw, rb, stride, padding)
    tx = torch.tensor(x)
    ta = torch.sigmoid(tx.mean((2, 3)) @ torch.tensor(rw).T + torch.tensor(rb))
    mix = sum(ta[:, e, None, None, None]
              * torch.nn.functional.conv2d(tx, torch.tensor(w[e]), stride=stride, padding=padding)
              for e in range(4))  # fmt: skip
    np.testing.assert_allclose(alpha, ta.numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(y, mix.numpy(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(alpha[0], alpha[1])  # the kernel differs between examples
