"""Pooling: adaptive windows (torch's rule vs the document's), kernels against torch.

Claims: theory/claims/pooling.yaml. Helpers: theory.pooling. Kernels: kernels.cpu.pool.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from kernels.cpu.pool import adaptive_pool
from numerics.tolerances import assert_close
from theory import pooling as th

seeds = st.integers(0, 2**32 - 1)


def _torch_windows(size: int, out: int) -> list[tuple[int, int]]:
    """Recover torch's windows by probing adaptive_avg_pool1d with one-hot inputs."""
    probe = F.adaptive_avg_pool1d(torch.eye(size, dtype=torch.float64)[:, None, :], out)[:, 0, :]
    members = [np.nonzero(probe[:, i].numpy())[0] for i in range(out)]
    return [(int(m.min()), int(m.max()) + 1) for m in members]


@pytest.mark.claim("d000.pool.adaptive-output-size", "d000.pool.adaptive-rule")
@given(size=st.integers(1, 40), data=st.data())
def test_theory_windows_are_torchs(size, data):
    out = data.draw(st.integers(1, size), label="out")
    windows = th.adaptive_windows(size, out)
    assert windows == _torch_windows(size, out)
    assert len(windows) == out


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
    assert_close(adaptive_pool(x[:, :, 0], ow, mode), expected1, np.float64)


@pytest.mark.claim("d000.pool.adaptive-output-size")
def test_bad_input():
    with pytest.raises(ValueError, match="output_size"):
        adaptive_pool(np.zeros((1, 1, 4)), 0)
    with pytest.raises(ValueError, match="output_size"):
        th.adaptive_windows(4, 0)
    with pytest.raises(ValueError, match="mode"):
        adaptive_pool(np.zeros((1, 1, 4)), 2, "median")
    with pytest.raises(ValueError, match="output_size must be 2"):
        adaptive_pool(np.zeros((1, 1, 4, 4)), (2, 2, 2))
