"""The Triton dropout (:mod:`kernels.gpu.dropout`): bit-exact against its NumPy twin, the mask
regenerated in the backward, rigorous statistics of the mask, torch's arithmetic.

Runs in Triton's interpreter on the CPU (CI) and compiled on a CUDA device, unchanged; the
``GPU-only`` tests take the issue's large shapes and run only on a GPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import philox
from kernels.cpu.dropout import dropout_backward as cpu_dropout_backward
from kernels.cpu.dropout import philox_dropout, philox_dropout_mask
from kernels.gpu.dropout import dropout, dropout_backward
from numerics.stats import FALSE_ALARM, hoeffding_halfwidth
from numerics.tolerances import assert_gpu_close
from tests.gpu_support import DEV, INTERPRETED, gpu_only, needs_kernels

pytestmark = needs_kernels

seeds = st.integers(0, 2**63 - 1)
offsets = st.integers(0, 2**40)
probs = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 0.999])
shapes = st.sampled_from([(), (1,), (37, 23), (5, 1, 13), (2, 3, 4, 5), (1000,), (1025,)])
LOW = (torch.float16, torch.bfloat16)
#: Draws per statistical test and examples per property: the interpreter runs ~1 µs per element
#: per kernel, a GPU ~1000x faster, so a GPU run tests 12x more draws and 5x more seeds.
N_DRAWS = 16_384 if INTERPRETED else 200_000
STAT_EXAMPLES = 5 if INTERPRETED else 25
#: Per-example false-alarm probability: FALSE_ALARM shared by the examples of one test
#: (a union bound), so that a whole test fails wrongly with probability <= 1e-6.
ALPHA = FALSE_ALARM / STAT_EXAMPLES


def _dev(t: torch.Tensor) -> torch.Tensor:
    return t.to(DEV)


def _randn(shape, dtype, seed) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed % 2**32)
    return _dev(torch.randn(shape, generator=g, dtype=torch.float64).to(dtype))


def _bits(t: torch.Tensor) -> np.ndarray:
    return t.cpu().contiguous().view(torch.int64 if t.dtype == torch.float64 else torch.int32)


@pytest.mark.claim("d000.drop.mask", "d000.drop.scale-factor")
@given(shape=shapes, p=probs, seed=seeds, offset=offsets, dt=st.sampled_from(["f32", "f64"]))
def test_gpu_dropout_equals_its_numpy_twin_bit_for_bit(shape, p, seed, offset, dt):
    dtype = {"f32": torch.float32, "f64": torch.float64}[dt]
    x = _randn(shape, dtype, seed)
    y, mask = dropout(x, p, seed=seed, offset=offset, return_mask=True)
    y_np, mask_np = philox_dropout(x.cpu().numpy(), p, seed=seed, offset=offset, return_mask=True)
    assert np.array_equal(mask.cpu().numpy(), mask_np)
    assert np.array_equal(_bits(y).numpy(), _bits(torch.from_numpy(y_np)).numpy())  # signed 0s too


@given(shape=shapes, p=probs, seed=seeds, dtype=st.sampled_from(LOW))
def test_half_precision_masks_are_the_twins_and_values_round_once(shape, p, seed, dtype):
    """Masks equal the twin's in every dtype; values are the float32 product rounded once to
    nearest — except bfloat16 in Triton's interpreter, which *truncates* float32 to bfloat16
    (measured: 1.7100695 -> 1.703125, torch and GPUs round to 1.7109375), so there bfloat16
    values are only checked to lie between truncation and rounding."""
    x = _randn(shape, dtype, seed)
    y, mask = dropout(x, p, seed=seed, return_mask=True)
    assert np.array_equal(mask.cpu().numpy(), philox_dropout_mask(tuple(shape), p, seed=seed))
    scale = torch.tensor(1.0 / (1.0 - p), dtype=torch.float32)
    exact = x.cpu().float() * torch.where(mask.cpu(), scale, 0.0)
    if dtype == torch.bfloat16 and INTERPRETED:
        truncated = (exact.view(torch.int32) & ~0xFFFF).view(torch.float32)
        assert torch.equal(y.cpu().float(), truncated)  # the interpreter's quirk, pinned
    else:
        assert torch.equal(y.cpu(), exact.to(dtype))


@given(shape=shapes, p=probs, seed=seeds, offset=offsets)
def test_backward_regenerates_the_forward_mask(shape, p, seed, offset):
    """dx = m g/(1-p) with the forward's m, drawn again — equal to the CPU backward given the
    mask, bit for bit, and to torch autograd of y = x * m * s (the GPU rule)."""
    x = _randn(shape, torch.float32, seed)
    g = _randn(shape, torch.float32, seed + 1)
    _, mask = dropout(x, p, seed=seed, offset=offset, return_mask=True)
    dx = dropout_backward(g, p, seed=seed, offset=offset)
    ref = cpu_dropout_backward(g.cpu().numpy(), mask.cpu().numpy(), p)
    assert np.array_equal(dx.cpu().numpy(), ref)
    xt = x.cpu().double().requires_grad_(True)
    (xt * mask.cpu() / (1 - p)).backward(g.cpu().double())
    own = g.cpu() * mask.cpu() * torch.tensor(1 / (1 - p), dtype=torch.float32)
    assert_gpu_close(dx, xt.grad.numpy(), own)


@settings(max_examples=10)  # each example runs the backward 5 times
@given(p=probs, seed=seeds)
def test_backward_is_deterministic(p, seed):
    g = _randn((61, 17), torch.float32, seed)
    runs = [dropout_backward(g, p, seed=seed, offset=3) for _ in range(5)]
    assert all(torch.equal(runs[0], r) for r in runs[1:])


@given(seed=seeds, offset=offsets, split=st.integers(0, 300))
def test_offset_is_the_row_major_counter(seed, offset, split):
    """dropout of a flat tensor = its two pieces dropped with offsets o and o + split; a
    non-contiguous input draws by its logical row-major index, as its contiguous copy."""
    x = _randn((300,), torch.float32, seed)
    whole = dropout(x, 0.5, seed=seed, offset=offset)
    a = dropout(x[:split], 0.5, seed=seed, offset=offset)
    b = dropout(x[split:], 0.5, seed=seed, offset=offset + split)
    assert torch.equal(whole, torch.cat([a, b]))
    m = _randn((20, 15), torch.float32, seed).t()  # a transposed view
    assert not m.is_contiguous()
    assert torch.equal(dropout(m, 0.3, seed=seed), dropout(m.contiguous(), 0.3, seed=seed))


@pytest.mark.claim("d000.drop.mask")
@settings(max_examples=STAT_EXAMPLES)
@given(seed=seeds, p=st.sampled_from([0.1, 0.5, 0.9]))
def test_keep_fraction_lies_in_a_rigorous_interval(seed, p):
    """Hoeffding, false-alarm probability 1e-6, around the exact keep probability of the
    Philox stream (:func:`kernels.cpu.philox.keep_probability`)."""
    n = N_DRAWS
    _, mask = dropout(_dev(torch.ones(n)), p, seed=seed, return_mask=True)
    q = philox.keep_probability(p)
    assert abs(mask.float().mean().item() - q) <= hoeffding_halfwidth(n, 1.0, ALPHA)


@settings(max_examples=STAT_EXAMPLES)
@given(s1=seeds, s2=seeds, p=st.sampled_from([0.1, 0.5, 0.8]))
def test_two_seeds_agree_on_q2_plus_1_minus_q_2_of_entries(s1, s2, p):
    """Independent masks agree on an entry with probability q^2 + (1-q)^2 (Hoeffding, 1e-6);
    the same seed agrees everywhere."""
    if s1 == s2:
        s2 = (s1 + 1) % 2**63
    n = N_DRAWS
    ones = _dev(torch.ones(n))
    _, m1 = dropout(ones, p, seed=s1, return_mask=True)
    _, m2 = dropout(ones, p, seed=s2, return_mask=True)
    q = philox.keep_probability(p)
    agree = (m1 == m2).float().mean().item()
    assert abs(agree - (q * q + (1 - q) ** 2)) <= hoeffding_halfwidth(n, 1.0, ALPHA)
    _, m1b = dropout(ones, p, seed=s1, return_mask=True)
    assert torch.equal(m1, m1b)


@settings(max_examples=STAT_EXAMPLES)
@given(seed=seeds)
def test_the_keep_fraction_matches_torch_dropout_statistically(seed):
    """torch's own dropout (another Philox stream) keeps 1 - p on average: both fractions lie
    within Hoeffding's 1e-6 interval of 1 - p (so of each other within twice it)."""
    n, p = N_DRAWS, 0.3
    ones = _dev(torch.ones(n))
    ours = (dropout(ones, p, seed=seed) != 0).float().mean().item()
    torch.manual_seed(seed % 2**32)
    theirs = (torch.nn.functional.dropout(ones, p) != 0).float().mean().item()
    t = hoeffding_halfwidth(n, 1.0, ALPHA)
    assert abs(ours - (1 - p)) <= t + 2.0**-23 and abs(theirs - (1 - p)) <= t


@given(seed=seeds, offset=offsets)
def test_the_keep_rule_is_u_at_least_p_not_u_above_p(seed, offset):
    """p set to the very uniform element 0 draws: kept under u >= p (ours, torch-compatible
    at p = 0), dropped under Triton's tutorial rule u > p."""
    u0 = float(philox.rand(seed, offset))
    if not 0 < u0 < 1:
        return
    _, mask = dropout(_dev(torch.ones(2)), u0, seed=seed, offset=offset, return_mask=True)
    assert bool(mask[0])
    below = float(np.nextafter(np.float32(u0), np.float32(1)))  # the next float32 above u0
    _, mask = dropout(_dev(torch.ones(2)), below, seed=seed, offset=offset, return_mask=True)
    assert not bool(mask[0])


def test_p_that_rounds_to_one_in_float32_is_refused():
    """fl32(1 - 1e-9) = 1: every draw would be dropped (keep probability 0, not 1e-9) and
    E[y] = x would fail; refused like p = 1, by the kernel and its NumPy twin."""
    with pytest.raises(ValueError, match="p must"):
        dropout(_dev(torch.ones(4)), 1 - 1e-9, seed=3)
    with pytest.raises(ValueError, match="p must"):
        philox_dropout(np.ones(4), 1 - 1e-9, seed=3)
    dropout(_dev(torch.ones(4)), float(np.nextafter(np.float32(1), np.float32(0))), seed=3)


def test_p0_is_the_identity_and_eval_mode_copies():
    x = _randn((37, 23), torch.float32, 0)
    assert torch.equal(dropout(x, 0.0, seed=5), x)
    y, mask = dropout(x, 0.7, False, seed=5, return_mask=True)
    assert torch.equal(y, x) and mask is None and y.data_ptr() != x.data_ptr()


def test_a_dropped_nan_stays_nan_as_in_torch():
    """y = x * (m * s): a dropped NaN or infinity gives NaN (torch's x * mask * s), not 0."""
    x = _dev(torch.tensor([math.nan, math.inf, -math.inf, 1.0] * 64))
    y, mask = dropout(x, 0.5, seed=11, return_mask=True)
    assert (~mask).any() and mask.any()
    expected = x.cpu() * (mask.cpu() * torch.tensor(2.0))
    assert torch.equal(y.cpu().isnan(), expected.isnan())
    assert torch.equal(y.cpu().nan_to_num(), expected.nan_to_num())


def test_empty_and_zero_dim_inputs():
    e = _dev(torch.empty(0, 5))
    y, mask = dropout(e, 0.5, seed=1, return_mask=True)
    assert y.shape == (0, 5) and mask.shape == (0, 5)
    z = _dev(torch.tensor(3.0))
    y0 = dropout(z, 0.5, seed=2)
    assert y0.shape == () and y0.item() in (0.0, 6.0)
    assert dropout_backward(e, 0.5, seed=1).shape == (0, 5)


def test_arguments_are_checked_naming_them():
    x = _dev(torch.ones(4))
    with pytest.raises(ValueError, match="p must"):
        dropout(x, 1.0, seed=0)
    with pytest.raises(TypeError, match="seed"):
        dropout(x, 0.5, seed=1.5)
    with pytest.raises(ValueError, match="offset"):
        dropout(x, 0.5, seed=1, offset=2**63 - 2)
    with pytest.raises(TypeError, match="training"):
        dropout(x, 0.5, "False", seed=1)
    with pytest.raises(TypeError, match="input"):
        dropout(x.numpy() if x.device.type == "cpu" else x.cpu().numpy(), 0.5, seed=1)
    with pytest.raises(TypeError, match="input"):
        dropout(x.int(), 0.5, seed=1)


@gpu_only
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_gpu_only_large_tensors_match_the_twin(dtype):
    x = _randn((1823, 781), dtype, 7)
    _, mask = dropout(x, 0.1, seed=2**33 + 5, offset=2**32 - 100, return_mask=True)
    want = philox_dropout_mask((1823, 781), 0.1, seed=2**33 + 5, offset=2**32 - 100)
    assert np.array_equal(mask.cpu().numpy(), want)
    big = _dev(torch.ones(2**26, dtype=dtype))
    _, m = dropout(big, 0.5, seed=3, return_mask=True)
    frac = m.float().mean().item()
    assert abs(frac - philox.keep_probability(0.5)) <= hoeffding_halfwidth(2**26, 1.0)
