"""Philox-4x32-10 in NumPy (:mod:`kernels.cpu.philox`): Random123's known answers, Triton's
``tl.randint``/``tl.rand`` reproduced bit for bit, and the exact keep probability.

The Triton comparisons run a tiny kernel in Triton's interpreter (or compiled on a GPU); the
interpreter evaluates ``tl.randint`` with NumPy uint32 arithmetic — the same algorithm, written
independently of ours — so agreement there pins the mapping (counter and key layout, the int to
float map), and the known-answer vectors pin the rounds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import philox
from tests.gpu_support import needs_kernels

seeds = st.integers(0, 2**63 - 1)
offsets = st.integers(0, 2**63 - 1 - 4096)


@pytest.mark.parametrize(("counter", "key", "expected"), philox.KAT_PHILOX4X32_10)
def test_known_answer_vectors_of_random123(counter, key, expected):
    out = philox.philox4x32(list(counter), list(key))
    assert [int(v) for v in out] == list(expected)
    # the same vectors as arrays, batched and broadcast against one key
    batch = philox.philox4x32(np.array([counter, counter], dtype=np.uint64), np.array(key))
    assert batch.shape == (2, 4) and (batch == np.array(expected, dtype=np.uint32)).all()


def test_a_wrong_round_or_constant_misses_the_vectors():
    """The vectors discriminate: 9 or 11 rounds, or a swapped multiplier, give other words."""
    counter, key, expected = philox.KAT_PHILOX4X32_10[2]
    for rounds in (7, 9, 11):
        assert [int(v) for v in philox.philox4x32(list(counter), list(key), rounds)] != list(
            expected
        )
    swapped = list(counter[2:]) + list(counter[:2])
    assert [int(v) for v in philox.philox4x32(swapped, list(key))] != list(expected)


@given(seed=seeds, offset=st.integers(0, 2**63 - 1))
def test_randint_is_the_first_philox_word_of_the_documented_counter(seed, offset):
    word = philox.philox4x32(
        [offset & 0xFFFFFFFF, offset >> 32, 0, 0], [seed & 0xFFFFFFFF, seed >> 32]
    )[0]
    assert philox.randint(seed, offset) == np.uint32(word).view(np.int32)


def test_rand_is_in_the_unit_interval_at_the_extreme_words():
    """x' = 0 gives 0 and x' = 2^31 - 1 (from x = 2^31 - 1 and from x = -2^31) stays below 1."""
    ext = np.array([0, -1, 2**31 - 1, -(2**31)], dtype=np.int32)
    u = philox._to_uniform(ext)
    assert u.dtype == np.float32
    assert u[0] == 0 and u[1] == 0  # ~(-1) = 0
    assert u[2] == u[3] < 1.0 and u[2] == np.float32(1.0) - np.float32(2.0**-24)


@given(p=st.floats(0, 1))
def test_keep_probability_is_the_exact_threshold_count(p):
    """k* is where the monotone map crosses fl(p): u(k* - 1) < fl(p) <= u(k*)."""
    q = philox.keep_probability(p)
    k = round((1 - q) * 2**31)
    assert (2**31 - k) / 2**31 == q
    t = np.float32(p)
    if k > 0:
        assert philox._to_uniform(np.array([k - 1], dtype=np.int32))[0] < t
    if k < 2**31:
        assert philox._to_uniform(np.array([k], dtype=np.int32))[0] >= t
    assert abs(q - (1 - float(t))) <= 2.0**-23


def test_keep_probability_edges():
    assert philox.keep_probability(0.0) == 1.0  # p = 0 never drops (u >= 0 always)
    assert philox.keep_probability(1.0) == 0.0


# Against Triton ---------------------------------------------------------------------------


def _triton_words(seed: int, offsets: np.ndarray):
    """(tl.randint, tl.rand) of ``offsets`` (int64) under ``seed``, from a Triton kernel."""
    import triton
    import triton.language as tl

    @triton.jit
    def draw(off_ptr, int_ptr, u_ptr, n, seed, BLOCK: tl.constexpr):
        i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        inside = i < n
        off = tl.load(off_ptr + i, mask=inside, other=0)
        tl.store(int_ptr + i, tl.randint(seed, off), mask=inside)
        tl.store(u_ptr + i, tl.rand(seed, off), mask=inside)

    from kernels.gpu._backend import device

    off = torch.from_numpy(offsets.astype(np.int64)).to(device())
    ints = torch.empty(off.shape, dtype=torch.int32, device=off.device)
    u = torch.empty(off.shape, dtype=torch.float32, device=off.device)
    n = off.numel()
    draw[(triton.cdiv(n, 256),)](off, ints, u, n, seed, BLOCK=256)
    return ints.cpu().numpy(), u.cpu().numpy()


@needs_kernels
@settings(max_examples=15)  # each example launches a kernel (interpreter: ~0.1 s)
@given(seed=seeds, start=offsets, n=st.integers(1, 600))
def test_numpy_reproduces_triton_randint_and_rand_bit_for_bit(seed, start, n):
    off = np.arange(start, start + n, dtype=np.int64)
    ints, u = _triton_words(seed, off)
    assert np.array_equal(ints, philox.randint(seed, off.astype(np.uint64)))
    assert np.array_equal(
        u.view(np.uint32), philox.rand(seed, off.astype(np.uint64)).view(np.uint32)
    )


@needs_kernels
def test_numpy_reproduces_triton_across_the_32_bit_boundary_of_seed_and_offset():
    off = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**62], dtype=np.int64)
    for seed in (0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1):
        ints, u = _triton_words(seed, off)
        assert np.array_equal(ints, philox.randint(seed, off.astype(np.uint64))), seed
        assert np.array_equal(u, philox.rand(seed, off.astype(np.uint64))), seed
