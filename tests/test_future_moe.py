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

from kernels.cpu.moe import expert_capacity, load_balancing_loss, moe_backward, moe_forward, route
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


@pytest.mark.claim("d000.future.moe-balance-min", "d000.future.moe-balance-min-common")
def test_realizable_routing_goes_below_one_and_seven_eighths_is_the_n2_infimum():
    d = T.derive_balance_loss_infimum()
    assert d.derived == sympy.Rational(7, 8) and not d.agrees()
    probs = np.array([[0.5, 0.5]] * 3 + [[0.0, 1.0]])
    idx = np.argmax(probs, axis=1)  # numpy's argmax takes expert 0 on the tie
    assert list(idx) == [0, 0, 0, 1]
    assert load_balancing_loss(probs, idx) == pytest.approx(7 / 8, abs=1e-15)
    # softmax gate, finite logits: still below 1
    z = np.array([[0.0, -1e-9]] * 3 + [[0.0, 30.0]])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert load_balancing_loss(p, np.argmax(p, 1)) < 0.876
    # exhaustive: N = 2, T = 8, rows on the vertices {(1/2,1/2)->0, (1,0), (0,1)}: min 7/8
    rows = [((0.5, 0.5), 0), ((1.0, 0.0), 0), ((0.0, 1.0), 1)]
    best = min(
        load_balancing_loss(np.array([r[0] for r in c]), np.array([r[1] for r in c]))
        for c in itertools.combinations_with_replacement(rows, 8)
    )
    assert best == pytest.approx(7 / 8, abs=1e-15)
    # random realizable routings (N = 2, 3) never go below the N = 2 value for N = 2
    rng = np.random.default_rng(1)
    for _ in range(300):
        q = rng.dirichlet([0.2, 0.2], size=8)
        assert load_balancing_loss(q, np.argmax(q, 1)) >= 7 / 8 - 1e-12


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
    c, h = sympy.symbols("c h", nonnegative=True)
    assert sympy.expand(d.derived - 4 * c - 3 * h) == 0
    cost = X.early_exit_mc(np.array([1.5, 1.5, 1.5, 1.0]), np.array([0.1, 0.1, 0.1]), 200_000, 3)
    exact = float(T.early_exit_cost([1.5, 1.5, 1.5, 1.0], [0.1] * 3))
    assert exact > 4.0 and abs(cost - exact) <= hoeffding_halfwidth(200_000, 5.5, 1e-6)


@pytest.mark.claim("d000.future.conditional-computation")
def test_top1_moe_costs_the_same_per_token_early_exit_does_not():
    # top-1: every kept token runs exactly one expert, whatever the input
    rng = np.random.default_rng(2)
    x, wg = rng.standard_normal((9, 3)), rng.standard_normal((3, 3))
    _, c = moe_forward(x, wg, rng.standard_normal((3, 2, 3)), rng.standard_normal((3, 2)), 1, 9.0)
    assert c["keep"].sum(axis=1).tolist() == [1] * 9
