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
    1e-6/6 each, over the 3 drawn seeds 1e-6 in all). Similarity is not a property of the
    layer; it comes from training."""
    big_n, d = 2000, 16  # 3 examples x 2 means: alpha 1e-6/6 each, 1e-6 per test run
    torch.manual_seed(seed)
    weights = torch.stack([torch.nn.Embedding(3, d).weight.detach() for _ in range(big_n)])
    cos = torch.nn.functional.cosine_similarity
    similar = cos(weights[:, 0], weights[:, 1], dim=-1).mean().item()
    dissimilar = cos(weights[:, 0], weights[:, 2], dim=-1).mean().item()
    t = hoeffding_halfwidth(big_n, 2.0, 1e-6 / 6)
    assert abs(similar) <= t and abs(dissimilar) <= t, (similar, dissimilar, t)


@pytest.mark.claim("d000.seq.embedding-reduction")
@pytest.mark.parametrize(
    ("vocabulary", "dim", "reduces"),
    [
        (30_522, 768, True),
        (50_257, 768, True),
        (256, 512, False),
        (384, 1472, False),
        (1, 2, False),
    ],
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


@pytest.mark.claim("d000.seq.embedding-similarity")
def test_training_on_shared_contexts_makes_words_similar():
    """The correction, verified on a synthetic corpus: tokens 0 and 1 ("synonyms") are always
    followed by the same context tokens (4 or 5), tokens 2 and 3 by others (6 or 7). A
    next-token model (embedding -> linear) trained with AdamW (weight decay 0.1) for 300 steps
    from a fixed seed makes rows 0 and 1 nearly parallel (measured 0.990; 2 and 3: 0.865)
    and 0 and 2 opposed (-0.42). Without weight decay the synonyms stop at 0.88: the part of
    their random initial difference that no gradient touches never goes away."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is 20x faster on 2 busy cores
    try:
        torch.manual_seed(0)
        vocab, d = 8, 8
        emb, out = torch.nn.Embedding(vocab, d), torch.nn.Linear(d, vocab)
        pairs = torch.tensor([[0, 4], [0, 5], [1, 4], [1, 5], [2, 6], [2, 7], [3, 6], [3, 7]])
        params = [*emb.parameters(), *out.parameters()]
        opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)
        for _ in range(300):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(out(emb(pairs[:, 0])), pairs[:, 1])
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    w = emb.weight.detach()
    cos = torch.nn.functional.cosine_similarity
    assert cos(w[0], w[1], dim=0) > 0.95 and cos(w[2], w[3], dim=0) > 0.8
    assert cos(w[0], w[2], dim=0) < 0


@pytest.mark.claim("d000.seq.embedding-learned")
def test_frozen_and_padding_rows_are_not_learned():
    """The table is learned unless frozen; the padding row never receives a gradient."""
    table = torch.randn(5, 3)
    frozen = torch.nn.Embedding.from_pretrained(table, freeze=True)
    assert not frozen.weight.requires_grad
    padded = torch.nn.Embedding(5, 3, padding_idx=1)
    assert (padded.weight[1] == 0).all()  # initialized to zeros: not dense there
    padded(torch.tensor([1, 1, 2])).sum().backward()
    grad = padded.weight.grad
    assert (grad[1] == 0).all() and (grad[2] == 1).all() and (grad[[0, 3, 4]] == 0).all()
