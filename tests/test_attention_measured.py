"""What the attention kernels measurably do, against the counts of ``theory.attention``.

* Memory (``numerics.attention_experiments``): the peak allocation of one head grows like n^2
  and does not grow with the head width d_k — d002.attn.space (growth-rate reading: Theta(n^2)
  entries per head, not n^2 d_k), d000.attn.q10-complexity. Timing is drawn on the site, never
  asserted.
* Work: the multiply-accumulates the kernels execute (``numerics.opcount.MacCounter``) equal
  ``theory.attention.attention_cost`` / ``linear_attention_cost`` exactly — d002.attn.time,
  d002.attn.q5-standard, d002.attn.q5-linear.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.cpu.attention import (
    linear_attention,
    multi_head_attention,
    scaled_dot_product_attention,
)
from numerics.attention_experiments import attention_wall
from numerics.opcount import MacCounter
from theory.attention import attention_cost, linear_attention_cost


@pytest.mark.claim("d002.attn.space", "d000.attn.q10-complexity")
def test_peak_memory_quadruples_when_the_length_doubles():
    small, large = attention_wall((256, 512), head_dim=16, repeat=1)
    ratio = large["peak_bytes"] / small["peak_bytes"]
    assert 3.8 <= ratio <= 4.2, ratio
    for p in (small, large):  # at least the score matrix itself, at most a few copies of it
        assert 8 * p["score_entries"] <= p["peak_bytes"] <= 4 * 8 * p["score_entries"], p


@pytest.mark.claim("d002.attn.space")
def test_peak_memory_does_not_grow_with_the_head_width():
    n = 384
    (narrow,) = attention_wall((n,), head_dim=8, repeat=1)
    (wide,) = attention_wall((n,), head_dim=128, repeat=1)
    # The n^2 d_k reading predicts 16 times more; the n x d_k arrays (Q, K, V, output) differ
    # by at most 4 * 8 * n * (128 - 8) bytes.
    assert abs(wide["peak_bytes"] - narrow["peak_bytes"]) <= 4 * 8 * n * 120
    assert wide["peak_bytes"] < 1.5 * narrow["peak_bytes"]


def _mha_args(rng, L, S, N, E, h, bias):
    return dict(
        query=rng.standard_normal((L, N, E)),
        key=rng.standard_normal((S, N, E)),
        value=rng.standard_normal((S, N, E)),
        num_heads=h,
        in_proj_weight=rng.standard_normal((3 * E, E)) / E,
        in_proj_bias=rng.standard_normal(3 * E) if bias else None,
        out_proj_weight=rng.standard_normal((E, E)) / E,
        out_proj_bias=rng.standard_normal(E) if bias else None,
    )


@pytest.mark.claim("d002.attn.time", "d000.attn.q10-complexity", "d002.attn.q5-standard")
@given(
    L=st.integers(1, 9),
    S=st.integers(1, 9),
    N=st.integers(1, 3),
    hd=st.integers(1, 4),
    h=st.integers(1, 4),
    bias=st.booleans(),
)
def test_multi_head_kernel_executes_exactly_the_counted_macs(L, S, N, hd, h, bias):
    E = h * hd
    args = _mha_args(np.random.default_rng(L * 100 + S), L, S, N, E, h, bias)
    with MacCounter() as counter:
        multi_head_attention(**args, need_weights=False)
    cost = attention_cost(L, E, h, m=S)
    assert counter.macs == N * cost["macs"], (counter.macs, cost)


@pytest.mark.claim("d002.attn.time")
@given(L=st.integers(1, 9), S=st.integers(1, 9), E=st.integers(1, 5), Ev=st.integers(1, 5))
def test_sdpa_kernel_executes_the_two_products_only(L, S, E, Ev):
    rng = np.random.default_rng(L + 10 * S)
    q, k, v = rng.standard_normal((L, E)), rng.standard_normal((S, E)), rng.standard_normal((S, Ev))
    with MacCounter() as counter:
        scaled_dot_product_attention(q, k, v)
    cost = attention_cost(L, E, 1, d_k=E, d_v=Ev, m=S)
    assert counter.macs == cost["scores"] + cost["weighted_sum"] == L * S * (E + Ev)


@pytest.mark.claim("d002.attn.q5-linear")
@given(n=st.integers(1, 40), d=st.integers(1, 6), ev=st.integers(1, 6))
def test_linear_attention_kernel_executes_the_counted_macs(n, d, ev):
    rng = np.random.default_rng(n)
    q, k, v = rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((n, ev))
    with MacCounter() as counter:
        linear_attention(q, k, v)
    # elu+1 keeps the width: feature dimension r = d_k = d; linear in n for fixed d, ev
    assert counter.macs == linear_attention_cost(n, d, ev, d)["macs"] == n * d * (2 * ev + 1)
