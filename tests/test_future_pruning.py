"""Pruning claims (theory/claims/future.4-prune.yaml) against torch.nn.utils.prune."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils import prune

from kernels.cpu.linear import block_sparse_linear
from kernels.cpu.pruning import global_unstructured_masks, l1_unstructured_mask, ln_structured_mask
from theory import pruning as T
from theory.linear import block_sparse_macs, block_sparse_params


def _torch_l1(w: np.ndarray, amount) -> np.ndarray:
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    lin.weight.data = torch.tensor(w)
    prune.l1_unstructured(lin, "weight", amount=amount)
    return lin.weight_mask.numpy().astype(bool)


@pytest.mark.claim("d000.future.prune-torch-rounding")
def test_count_matches_torch_exhaustively():
    rng = np.random.default_rng(0)
    for n in range(1, 41):
        w = rng.standard_normal((1, n))
        for j in range(21):
            a = j / 20
            k = int((~_torch_l1(w, a)).sum())
            assert k == T.prune_count(a, n), (n, a)
            assert np.array_equal(l1_unstructured_mask(w, a), _torch_l1(w, a)), (n, a)
    assert [T.prune_count(0.5, 5), T.prune_count(0.5, 3), T.prune_count(0.7, 5)] == [2, 2, 4]
    assert T.derive_prune_count().agrees()


@pytest.mark.claim("d000.future.prune-torch-rounding")
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(0, 30), seed=st.integers(0, 2**31 - 1))
def test_int_amount_and_ties(n, k, seed):
    k = min(k, n)
    w = np.random.default_rng(seed).integers(-2, 3, size=(1, n)).astype(np.float64)
    ours, theirs = l1_unstructured_mask(w, k), _torch_l1(w, k)
    assert (~ours).sum() == (~theirs).sum() == k
    assert sorted(np.abs(w[~ours])) == sorted(np.abs(w[~theirs]))


@pytest.mark.claim("d000.future.prune-torch-rounding")
def test_global_matches_torch():
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((3, 4)), rng.standard_normal((5, 2))]
    mods = [torch.nn.Linear(4, 3, bias=False), torch.nn.Linear(2, 5, bias=False)]
    for m, w in zip(mods, ws, strict=True):
        m.weight.data = torch.tensor(w)
    prune.global_unstructured(
        [(m, "weight") for m in mods], pruning_method=prune.L1Unstructured, amount=0.45
    )
    ours = global_unstructured_masks(ws, 0.45)
    for m, o in zip(mods, ours, strict=True):
        assert np.array_equal(m.weight_mask.numpy().astype(bool), o)
    assert sum((~o).sum() for o in ours) == round(0.45 * 22)


@pytest.mark.claim("d000.future.prune-structured", "d000.future.prune-channel-saving")
@pytest.mark.parametrize("n", [1, 2, float("inf")])
def test_ln_structured_matches_torch(n):
    w = np.random.default_rng(2).standard_normal((6, 3, 2, 2))
    conv = torch.nn.Conv2d(3, 6, 2)
    conv.weight.data = torch.tensor(w)
    numel = sum(p.numel() for p in conv.parameters())
    prune.ln_structured(conv, "weight", amount=0.5, n=n, dim=0)
    assert np.array_equal(conv.weight_mask.numpy().astype(bool), ln_structured_mask(w, 0.5, n))
    # torch masks only: the parameter count is unchanged, and the bias is not zeroed
    assert sum(p.numel() for p in conv.parameters()) == numel
    assert (conv.weight == 0).sum() == 3 * 3 * 4
    # channel sparsity: each output channel is kept or removed as a whole
    mask = ln_structured_mask(w, 0.5, n)
    per_channel = mask.reshape(6, -1)
    assert np.all(per_channel.all(axis=1) | ~per_channel.any(axis=1))
    assert (~per_channel.all(axis=1)).sum() == 3


@pytest.mark.claim("d000.future.prune-structured")
@settings(max_examples=20, deadline=None)
@given(
    rows=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    cols=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_block_sparse_pattern_skips_zero_blocks_exactly(rows, cols, batch, seed, data):
    rng = np.random.default_rng(seed)
    r0 = np.cumsum([0, *rows])
    c0 = np.cumsum([0, *cols])
    w = rng.standard_normal((r0[-1], c0[-1]))
    x = rng.standard_normal((batch, c0[-1]))
    keys = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    norms = [np.abs(w[r0[i] : r0[i + 1], c0[j] : c0[j + 1]]).sum() for i, j in keys]
    k = data.draw(st.integers(0, len(keys)), label="blocks removed")
    removed = {keys[t] for t in np.argsort(norms, kind="stable")[:k]}  # block magnitude pruning
    mask = [[(i, j) not in removed for j in range(len(cols))] for i in range(len(rows))]
    dense = w.copy()
    for i, j in removed:
        dense[r0[i] : r0[i + 1], c0[j] : c0[j + 1]] = 0
    blocks = {
        (i, j): w[r0[i] : r0[i + 1], c0[j] : c0[j + 1]] for i, j in keys if (i, j) not in removed
    }
    np.testing.assert_allclose(
        block_sparse_linear(x, blocks, rows, cols), x @ dense.T, rtol=1e-12, atol=1e-12
    )
    saved = batch * r0[-1] * c0[-1] - block_sparse_macs(rows, cols, mask, batch)
    assert saved == batch * sum(rows[i] * cols[j] for i, j in removed)
    assert block_sparse_params(rows, cols, mask, bias=False) == int(np.count_nonzero(dense))


def _block(c_in, c, c_next, k1, k2):
    return torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c, k1),
        torch.nn.BatchNorm2d(c),
        torch.nn.ReLU(),
        torch.nn.Conv2d(c, c_next, k2),
    ).double()


@pytest.mark.claim("d000.future.prune-channel-saving")
@settings(max_examples=15, deadline=None)
@given(
    c_in=st.integers(1, 4),
    c=st.integers(2, 6),
    c_next=st.integers(1, 4),
    k1=st.integers(1, 3),
    k2=st.integers(1, 3),
    hw=st.integers(6, 9),
    data=st.data(),
)
def test_channel_saving_against_torch_numel(c_in, c, c_next, k1, k2, hw, data):
    r = data.draw(st.integers(1, c - 1), label="removed")
    full, small = _block(c_in, c, c_next, k1, k2), _block(c_in, c - r, c_next, k1, k2)
    saving = T.channel_prune_saving(c_in, c, c_next, r, k1, k2, hw, hw)
    numel = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert saving["params"] == numel(full) - numel(small)
    h1 = hw - k1 + 1
    h2 = h1 - k2 + 1
    assert saving["macs"] == r * (c_in * k1**2 * h1 * h1 + c_next * k2**2 * h2 * h2)
    d = T.derive_channel_prune_saving()
    assert d.agrees() and sympy.expand(d.derived - d.claimed) == 0


@pytest.mark.claim("d000.future.prune-zeroed-channel")
def test_removing_a_zeroed_channel_needs_the_bn_fold():
    torch.manual_seed(0)
    net = _block(3, 4, 2, 3, 3).eval()
    bn = net[1]
    bn.running_mean.uniform_(-1, 1)
    bn.bias.data.uniform_(0.5, 1.0)
    w = net[0].weight.detach().numpy()
    keep = ln_structured_mask(w, 1, 1)  # remove the channel of smallest L1 norm
    gone = int(np.flatnonzero(~keep[:, 0, 0, 0])[0])
    with torch.no_grad():
        net[0].weight[gone] = 0
        net[0].bias[gone] = 0
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    ref = net(x)
    idx = [i for i in range(4) if i != gone]
    small = _block(3, 3, 2, 3, 3).eval()
    with torch.no_grad():
        small[0].weight.copy_(net[0].weight[idx])
        small[0].bias.copy_(net[0].bias[idx])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(small[1], name).copy_(getattr(bn, name)[idx])
        small[3].weight.copy_(net[3].weight[:, idx])
        small[3].bias.copy_(net[3].bias)
        plain = small(x)
        const = torch.relu(
            bn.bias[gone]
            - bn.weight[gone] * bn.running_mean[gone] / torch.sqrt(bn.running_var[gone] + bn.eps)
        )
        assert const > 0
        small[3].bias += const * net[3].weight[:, gone].sum(dim=(1, 2))
        folded = small(x)
    assert not torch.allclose(plain, ref)  # the counterexample
    torch.testing.assert_close(folded, ref, rtol=1e-12, atol=1e-12)
