"""The Triton embedding lookup and scatter-add backward (:mod:`kernels.gpu.embedding`) against
the NumPy kernel (float64) and torch's ``F.embedding`` + autograd.

The lookup is a copy, so it must be **bit-equal** to ``weight[input]``. The backward is checked
under the GPU rule (float64: the float64 table plus the reduction bound of the repeated sums),
exactly where the sums are exact (integer gradients), for both the default deterministic
sorted accumulation (bit-equal from run to run) and the atomic variant. Block sizes are shrunk
(``monkeypatch``) so that rows span several column blocks and repeated indices several chunks.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import kernels.gpu
from kernels.cpu import embedding as cpu
from numerics.tolerances import assert_close, assert_gpu_close, reduction_bound
from tests.gpu_support import DEV, INTERPRETED, needs_kernels

pytestmark = needs_kernels

if kernels.gpu.available():
    from kernels.gpu import _backend
    from kernels.gpu import embedding as gpu

INTERPRET = INTERPRETED

# The interpreter (Triton 3.9) converts float32 to bfloat16 by truncation, not rounding to
# nearest (0.33333 -> 0.3320 where torch gives 0.3340): bfloat16 runs on a GPU only.
FLOATS = (torch.float32, torch.float64, torch.float16) + (() if INTERPRET else (torch.bfloat16,))
INDEX = (torch.int64, torch.int32)


@contextlib.contextmanager
def small_blocks(block_d: int = 8, tile: int = 32, chunk: int = 3):
    """Column blocks of ``block_d``, tiles of ``tile`` elements, chunks of ``chunk`` repeats."""
    k = _backend.load("_embedding_kernels")
    saved = k.MAX_BLOCK_D, k.TILE, k.CHUNK
    k.MAX_BLOCK_D, k.TILE, k.CHUNK = block_d, tile, chunk
    try:
        yield
    finally:
        k.MAX_BLOCK_D, k.TILE, k.CHUNK = saved


BLOCKS = {"default": contextlib.nullcontext, "small": small_blocks}


def table(V: int, d: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((V, d))).to(dtype).to(DEV)


def indices(shape, V: int, seed: int, dtype=torch.int64) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, V, shape)).to(dtype).to(DEV)


def torch_grad(g, idx, w, pad):
    wt = w.clone().requires_grad_(True)
    F.embedding(idx, wt, padding_idx=pad).backward(g)
    return wt.grad


def check_backward(gw, g, idx, w, pad, deterministic=True, context=""):
    r"""Against the float64 NumPy scatter-add.

    * sorted path (float64 accumulation, one rounding): the GPU rule against torch;
    * atomic path (float32 additions in an unspecified order): the a-priori bound of any
      summation order, :math:`|\hat r - r| \le 2\gamma_k \sum|g| + \varepsilon|r|`
      (``numerics.tolerances.reduction_bound`` with ``k`` the largest repeat count, plus the
      final rounding to the output dtype): torch's error on one input is itself one ordering's
      luck, so the rule cannot bind a random order;
    * float64 (either path): the float64 table plus the same reduction bound.
    """
    g64 = g.double().cpu().numpy()
    i = idx.cpu().numpy()
    w64 = w.double().cpu().numpy()
    ref = cpu.embedding_backward(g64, i, w64, pad)
    mag = cpu.embedding_backward(np.abs(g64), i, w64, pad)
    reps = int(np.bincount(i.reshape(-1)).max()) if i.size else 1
    if gw.dtype == torch.float64:
        assert_close(
            gw.cpu().numpy(), ref, np.float64, reduction_length=reps, magnitude=mag, context=context
        )
    elif deterministic:
        assert_gpu_close(gw, ref, torch_grad(g, idx, w, pad), context=context)
    else:
        bound = reduction_bound(np.float32, reps, mag) + torch.finfo(gw.dtype).eps * np.abs(ref)
        err = np.abs(gw.double().cpu().numpy() - ref)
        assert (err <= bound).all(), f"atomic: error {err.max():.3e} beyond the order bound"
    return ref


# ----------------------------------------------------------------------------- forward


@pytest.mark.claim("d000.seq.embedding-lookup")
@pytest.mark.parametrize("blocks", BLOCKS)
@pytest.mark.parametrize(("dtype", "itype"), list(zip(FLOATS, INDEX * 2, strict=False)), ids=str)
@pytest.mark.parametrize(
    ("V", "d", "shape"),
    [(11, 37, (3, 7)), (3, 1, (7,)), (50, 20, ()), (4, 9, (2, 0, 3)), (1, 17, (4, 1))],
)
def test_lookup_is_bit_equal_to_indexing_and_torch(V, d, shape, dtype, itype, blocks):
    w = table(V, d, 0, dtype)
    idx = indices(shape, V, 1, itype)
    with BLOCKS[blocks]():
        out = gpu.embedding(idx, w)
        out_pad = gpu.embedding(idx, w, padding_idx=-1)
    assert out.shape == (*shape, d) and out.dtype == dtype
    assert torch.equal(out, F.embedding(idx, w)) and torch.equal(out, w[idx.long()])
    assert torch.equal(out_pad, out)  # padding_idx changes the gradient only
    if dtype == torch.float64:
        np.testing.assert_array_equal(
            out.cpu().numpy(), cpu.embedding(idx.cpu().numpy(), w.cpu().numpy())
        )


def test_non_contiguous_arguments_give_bit_identical_results():
    w = table(9, 12, 0)
    idx = indices((4, 6), 9, 1)
    g = table(24, 12, 2).reshape(4, 6, 12)
    w_t = w.T.contiguous().T
    idx_s = torch.zeros((8, 12), dtype=torch.int64, device=DEV)[::2, ::2]
    idx_s.copy_(idx)
    g_t = g.transpose(0, 1).contiguous().transpose(0, 1)
    assert torch.equal(gpu.embedding(idx_s, w_t), gpu.embedding(idx, w))
    for det in (True, False):
        assert torch.equal(
            gpu.embedding_backward(g_t, idx_s, w_t, deterministic=det),
            gpu.embedding_backward(g, idx, w, deterministic=det),
        )


# ----------------------------------------------------------------------------- backward


@pytest.mark.claim("d000.seq.embedding-lookup", "d000.seq.embedding-learned")
@pytest.mark.parametrize("blocks", BLOCKS)
@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("pad", [None, 2, -1])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_backward_agrees_with_numpy_and_torch(dtype, pad, deterministic, blocks):
    V, d = 11, 37
    w = table(V, d, 0, dtype)
    idx = indices((5, 13), V, 1)
    idx[0, :8] = 2  # a run longer than a small chunk, on the padding row for pad = 2
    idx[1, :] = 7  # 13 repeats: several chunks
    g = table(65, d, 3, dtype).reshape(5, 13, d)
    with BLOCKS[blocks]():
        gw = gpu.embedding_backward(g, idx, w, pad, deterministic=deterministic)
    assert gw.shape == (V, d) and gw.dtype == dtype
    check_backward(gw, g, idx, w, pad, deterministic, context=f"det={deterministic} {blocks}")
    unused = sorted(set(range(V)) - set(idx.reshape(-1).tolist()))
    assert unused and (gw[unused] == 0).all(), "rows no index uses must be exactly 0"
    if pad is not None:
        assert (gw[pad % V] == 0).all(), "the padding row must get no gradient"


@pytest.mark.parametrize("blocks", BLOCKS)
@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_heavy_repeats_all_indices_equal(dtype, deterministic, blocks):
    """Every index the same row: one segment of 70 entries (24 chunks of 3 with small blocks, 3
    of 32 by default), summed through the partial buffer and the segment kernel."""
    V, d = 6, 19
    w = table(V, d, 0, dtype)
    idx = torch.full((7, 10), 4, dtype=torch.int32, device=DEV)
    g = table(70, d, 5, dtype).reshape(7, 10, d)
    with BLOCKS[blocks]():
        gw = gpu.embedding_backward(g, idx, w, deterministic=deterministic)
        assert (gpu.embedding_backward(g, idx, w, 4, deterministic=deterministic) == 0).all()
    check_backward(gw, g, idx, w, None, deterministic)
    assert (gw[[0, 1, 2, 3, 5]] == 0).all()


@pytest.mark.parametrize("blocks", BLOCKS)
@pytest.mark.parametrize("deterministic", [True, False])
def test_integer_gradients_are_summed_exactly(deterministic, blocks):
    """Small integer upstream gradients: every partial sum is an integer below 2**24, exact in
    float32 in any order, so both paths must equal the NumPy scatter-add bit for bit."""
    rng = np.random.default_rng(7)
    V, d = 13, 21
    idx = torch.from_numpy(rng.integers(0, 5, (60,))).to(DEV)  # heavy repeats on 5 rows
    g = torch.from_numpy(rng.integers(-50, 51, (60, d)).astype(np.float32)).to(DEV)
    w = table(V, d, 1)
    with BLOCKS[blocks]():
        gw = gpu.embedding_backward(g, idx, w, 3, deterministic=deterministic)
    want = cpu.embedding_backward(g.cpu().numpy(), idx.cpu().numpy(), w.cpu().numpy(), 3)
    np.testing.assert_array_equal(gw.cpu().numpy(), want)


@pytest.mark.parametrize("blocks", BLOCKS)
def test_sorted_backward_is_bit_equal_across_runs(blocks):
    V, d = 7, 23
    w = table(V, d, 0)
    idx = indices((90,), V, 1)
    g = table(90, d, 2) * 1e3
    with BLOCKS[blocks]():
        first = gpu.embedding_backward(g, idx, w)
        assert all(torch.equal(first, gpu.embedding_backward(g, idx, w)) for _ in range(4))


def test_the_sorted_path_splits_long_runs_into_partials(monkeypatch):
    """A planted check that heavy repeats really go through ``_segment_sums`` (and that a run
    within one chunk does not)."""
    k = _backend.load("_embedding_kernels")
    calls = []

    class Spy:
        def __getitem__(self, grid):
            calls.append(grid[0])
            return original[grid]

    original = k._segment_sums
    monkeypatch.setattr(k, "_segment_sums", Spy())
    w = table(5, 4, 0)
    with small_blocks(chunk=3):
        gpu.embedding_backward(table(7, 4, 1), torch.tensor([1, 1, 1, 1, 1, 2, 2], device=DEV), w)
        assert calls == [1]
        gpu.embedding_backward(table(3, 4, 1), torch.tensor([1, 1, 2], device=DEV), w)
        assert calls == [1]


# ----------------------------------------------------------------------------- properties


@pytest.mark.claim("d000.seq.embedding-lookup")
@settings(max_examples=30)  # interpreter: a sort, two launches and torch's autograd per example
@given(
    V=st.integers(1, 12),
    d=st.integers(1, 20),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    pad=st.none() | st.integers(-12, 11),
    deterministic=st.booleans(),
    dtype=st.sampled_from(FLOATS[:2]),
)
def test_backward_property(V, d, n, seed, pad, deterministic, dtype):
    """Any table, indices and padding row: the rule against NumPy and torch, unused rows and the
    padding row exactly 0, and the column sums of ``grad_weight`` equal to those of the
    non-padding upstream rows (within the rule)."""
    pad = None if pad is None else pad % V - V * (pad < 0)
    w = table(V, d, seed, dtype)
    idx = indices((n,), V, seed + 1)
    g = table(n, d, seed + 2, dtype)
    with small_blocks(block_d=8, tile=32, chunk=3):
        gw = gpu.embedding_backward(g, idx, w, pad, deterministic=deterministic)
    check_backward(gw, g, idx, w, pad, deterministic)
    used = torch.zeros(V, dtype=torch.bool, device=DEV)
    used[idx] = True
    if pad is not None:
        used[pad] = False
    assert (gw[~used] == 0).all()


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("blocks", BLOCKS)
def test_out_of_range_and_non_finite_are_refused_naming_the_argument(blocks):
    w = table(5, 40, 0)
    g = table(3, 40, 1)
    with BLOCKS[blocks]():
        for bad in (5, -1, 2**40):
            idx = torch.tensor([0, bad, 2], device=DEV)
            with pytest.raises(ValueError, match=rf"input: index {bad} out of range \[0, 5\)"):
                gpu.embedding(idx, w)
            for det in (True, False):
                with pytest.raises(ValueError, match=r"input: index .* out of range"):
                    gpu.embedding_backward(g, idx, w, deterministic=det)
        idx = torch.tensor([0, 3, 2], device=DEV)
        wb = w.clone()
        wb[3, 39] = float("nan")
        with pytest.raises(ValueError, match="weight must have finite entries"):
            gpu.embedding(idx, wb)
        wb[3, 39] = 0.0
        wb[4, 0] = float("inf")  # a row nobody looks up: checked only where read (documented)
        assert torch.equal(gpu.embedding(idx, wb), wb[idx])
        for bad in (float("nan"), float("inf"), float("-inf")):
            gb = g.clone()
            gb[2, 33] = bad
            for det in (True, False):
                with pytest.raises(ValueError, match="grad_output must have finite entries"):
                    gpu.embedding_backward(gb, idx, w, deterministic=det)


def test_argument_checks():
    w = table(5, 3, 0)
    idx = torch.tensor([1, 2], device=DEV)
    g = table(2, 3, 1)
    for bad in (idx.float(), idx.to(torch.uint8), idx.to(torch.int16), idx > 0):
        with pytest.raises(TypeError, match="input must be an integer index tensor"):
            gpu.embedding(bad, w)
    with pytest.raises(TypeError, match="deterministic"):
        gpu.embedding_backward(g, idx, w, deterministic=1)
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        gpu.embedding_backward(g[:1], idx, w)
    with pytest.raises(TypeError, match="grad_output"):
        gpu.embedding_backward(g.double(), idx, w)
    with pytest.raises(ValueError, match="padding_idx"):
        gpu.embedding(idx, w, padding_idx=5)
    with pytest.raises(ValueError, match="weight"):
        gpu.embedding(idx, w[:, :0])
    assert (gpu.embedding_backward(g[:0], idx[:0], w) == 0).all()


# ----------------------------------------------------------------------------- GPU-only


@pytest.mark.skipif(INTERPRET, reason="GPU-only sizes")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("repeats", ["random", "all-equal"])
def test_gpu_sizes(dtype, repeats):
    V, d, n = 50257, 768, 8192
    w = table(V, d, 0, dtype)
    idx = indices((4, n // 4), V, 1)
    if repeats == "all-equal":
        idx.fill_(1234)
    g = table(n, d, 2, dtype).reshape(4, n // 4, d)
    assert torch.equal(gpu.embedding(idx, w), F.embedding(idx, w))
    for det in (True, False):
        gw = gpu.embedding_backward(g, idx, w, 0, deterministic=det)
        check_backward(gw, g, idx, w, 0, det, context=f"{repeats} det={det}")
    first = gpu.embedding_backward(g, idx, w, 0)
    assert torch.equal(first, gpu.embedding_backward(g, idx, w, 0))


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_backward_is_exact_on_integer_gradients(dtype, deterministic):
    """Integer-valued gradients whose sums stay below 2^8 are exact in bfloat16 and float16, so
    the scatter-add must equal torch's exactly — in the interpreter too, whose float32 ->
    bfloat16 truncation is then harmless (a float64 sum once came out as 9.18e-41 for 1.0)."""
    gen = torch.Generator().manual_seed(3)
    idx = torch.randint(0, 7, (40,), generator=gen)
    idx[:12] = 2  # a heavily repeated row
    g = torch.randint(-3, 4, (40, 5), generator=gen).to(dtype)
    w = torch.zeros(9, 5, dtype=dtype)
    out = gpu.embedding_backward(g.to(DEV), idx.to(DEV), w.to(DEV), deterministic=deterministic)
    want = torch.zeros(9, 5).index_add_(0, idx, g.float())
    assert (want.abs() < 256).all()
    assert out.dtype == dtype and torch.equal(out.cpu().float(), want)
