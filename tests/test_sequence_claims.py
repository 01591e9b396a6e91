"""The embedding claims of 000 § Embedding Layers that are about what the layer does *not*
impose (similarity, dimensionality): checked on torch's ``nn.Embedding`` directly.

Claims: d000.seq.embedding-similarity, d000.seq.embedding-reduction. Kernels and exact
algebra of the lookup: tests/test_sequence_kernels.py, tests/test_sequence_theory.py.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.stats import hoeffding_halfwidth

seeds = st.integers(0, 2**32 - 1)


@pytest.mark.claim("d000.seq.embedding-similarity")
@given(seed=seeds)
@settings(max_examples=3)
def test_a_fresh_table_makes_no_pair_of_tokens_similar(seed):
    """Over N = 2000 freshly initialized tables (torch's default N(0, 1) rows), the cosine of
    any two fixed rows — call tokens 0 and 1 "similar" and 0 and 2 "dissimilar" — has mean 0:
    both means lie within the Hoeffding half-width (cosine in [-1, 1], width 2; false alarm
    1e-6/2 each, 1e-6 in all). Similarity is not a property of the layer; it comes from
    training."""
    big_n, d = 2000, 16
    torch.manual_seed(seed)
    weights = torch.stack([torch.nn.Embedding(3, d).weight.detach() for _ in range(big_n)])
    cos = torch.nn.functional.cosine_similarity
    similar = cos(weights[:, 0], weights[:, 1], dim=-1).mean().item()
    dissimilar = cos(weights[:, 0], weights[:, 2], dim=-1).mean().item()
    t = hoeffding_halfwidth(big_n, 2.0, 1e-6 / 2)
    assert abs(similar) <= t and abs(dissimilar) <= t, (similar, dissimilar, t)


@pytest.mark.claim("d000.seq.embedding-reduction")
@pytest.mark.parametrize(
    ("vocabulary", "dim", "reduces"),
    [(30_522, 768, True), (50_257, 768, True), (256, 512, False), (384, 1472, False)],
)
def test_dense_but_not_always_smaller(vocabulary, dim, reduces):
    """A lookup turns a one-hot vector of dimension V into a dense vector of dimension d:
    always dense (every entry of a row is non-zero with probability 1 at init), a reduction
    only when d < V. BERT-base (30 522 -> 768) and GPT-2 (50 257 -> 768) reduce; a byte-level
    vocabulary of 256 with d = 512, or ByT5-small's 384 with d = 1472, expands."""
    emb = torch.nn.Embedding(vocabulary, dim)
    idx = torch.tensor([0, vocabulary - 1])
    one_hot = torch.nn.functional.one_hot(idx, vocabulary).to(emb.weight.dtype)
    out = emb(idx)
    assert torch.equal(one_hot @ emb.weight, out)  # the lookup is the one-hot product
    assert (out != 0).all()  # dense
    assert (out.shape[-1] < one_hot.shape[-1]) == reduces
