"""The n-squared wall measured (``numerics.attention_experiments``): the peak memory of one
attention head grows like n^2 and does not grow with the head width d_k.

Claims: d002.attn.space (the growth-rate reading: the attention matrix is Theta(n^2) entries
per head, not n^2 d_k), d000.attn.q10-complexity. Timing is drawn on the site, never asserted.
"""

from __future__ import annotations

import pytest

from numerics.attention_experiments import attention_wall


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
