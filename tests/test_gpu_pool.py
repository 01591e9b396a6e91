"""Triton 2-D max/average pooling (kernels.gpu.pool) against the float64 NumPy kernel
(kernels.cpu.pool) and torch (F.max_pool2d / F.avg_pool2d and autograd), under the GPU
tolerance rule (numerics.tolerances.assert_gpu_close); max pooling and its indices exactly.

Under ``TRITON_INTERPRET=1`` (set by conftest where torch sees no CUDA) the kernels run in
Triton's interpreter on CPU tensors: shapes are small and irregular, and the block cap is
shrunk to exercise many programs and the masked last block. The ``GPU-only`` tests run the
large shapes and half precisions on a real GPU. Claims: d000.pool.max-definition,
d000.pool.avg-definition (theory/claims/pooling.yaml).

Interpreter quirk found here: storing float32 into a bfloat16 tensor truncates instead of
rounding to nearest (and bfloat16 comparisons act on the bits, which the kernel avoids by
comparing in float32), so bfloat16 *average* pooling is checked on the GPU only; bfloat16 max
pooling (no rounding) runs everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import pool as cpu
from kernels.gpu import _backend
from kernels.gpu import pool as gpu
from numerics.tolerances import assert_gpu_close
from tests.gpu_support import DEV, gpu_only, needs_kernels

pytestmark = needs_kernels

seeds = st.integers(0, 2**32 - 1)
GPU_ONLY = gpu_only
MAX = pytest.mark.claim("d000.pool.max-definition")
AVG = pytest.mark.claim("d000.pool.avg-definition")


def _dev() -> torch.device:
    return DEV


@pytest.fixture
def small_blocks(monkeypatch):
    """Block cap 64: several programs per launch, blocks crossing plane boundaries and a
    masked last block at interpreter sizes (each program costs the interpreter ~1 ms)."""
    kl = _backend.load("_pool_kernels")
    monkeypatch.setattr(kl, "MAX_BLOCK", 64)
    return kl


@st.composite
def pool_config(draw, dilation: bool = True, max_size: int = 9):
    """A valid 2-D pooling configuration (torch's rules: P <= K/2, output >= 1)."""
    k = tuple(draw(st.integers(1, 4), label=f"k{a}") for a in range(2))
    s = tuple(draw(st.integers(1, 4), label=f"s{a}") for a in range(2))
    p = tuple(draw(st.integers(0, k[a] // 2), label=f"p{a}") for a in range(2))
    d = tuple(draw(st.integers(1, 2 if dilation else 1), label=f"d{a}") for a in range(2))
    ceil = draw(st.booleans(), label="ceil_mode")
    size = tuple(
        draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), max_size), label=f"size{a}")
        for a in range(2)
    )
    return {"k": k, "s": s, "p": p, "d": d, "ceil": ceil, "size": size}


def _padding_only(size, args) -> bool:
    """Whether torch's max pooling has a window of padding only here (it gives -inf)."""
    with torch.no_grad():
        return bool(torch.isinf(F.max_pool2d(torch.ones(1, 1, *size), *args)).any())


def _torch_max(x: torch.Tensor, args, g: torch.Tensor | None = None):
    """torch's ``(y, indices, dx)`` for the output gradient ``g`` (default: ones)."""
    xt = x.clone().requires_grad_()
    y, idx = F.max_pool2d(xt, *args, return_indices=True)
    y.backward(torch.ones_like(y) if g is None else g)
    return y.detach(), idx, xt.grad


def _torch_avg(x: torch.Tensor, args, g: torch.Tensor):
    xt = x.clone().requires_grad_()
    y = F.avg_pool2d(xt, *args)
    y.backward(g)
    return y.detach(), xt.grad


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _input(seed: int, shape, ties: bool, dtype) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)
    return torch.tensor(x, dtype=dtype, device=_dev())


# --------------------------------------------------------------------------- max pooling


@MAX
# max_examples=40, below the profile's 100: each example runs three interpreted launches plus
# torch and the NumPy kernel (~0.1 s); the whole file must stay within ~25 s in the ci profile
@settings(max_examples=40)
@given(
    cfg=pool_config(),
    ties=st.booleans(),
    batched=st.booleans(),
    seed=seeds,
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_max_pool_equals_torch_and_numpy(cfg, ties, batched, seed, dtype):
    shape = (2, 3, *cfg["size"]) if batched else (3, *cfg["size"])
    x = _input(seed, shape, ties, dtype)
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"])
    if _padding_only(cfg["size"], args):
        with pytest.raises(ValueError, match="reads only padding"):
            gpu.max_pool2d(x, *args)
        with pytest.raises(ValueError, match="reads only padding"):
            gpu.max_pool2d_backward(torch.ones(1), x, *args)
        return
    y, idx = gpu.max_pool2d(x, *args, return_indices=True)
    g = _input(seed + 1, y.shape, False, dtype)
    yt, it, gt = _torch_max(x, args, g)
    y64, i64 = cpu.max_pool2d(_np(x), *args, return_indices=True)
    assert y.dtype == dtype and idx.dtype == torch.int64
    assert torch.equal(y, yt) and torch.equal(idx, it), cfg  # a max is exact
    assert np.array_equal(_np(y), y64) and np.array_equal(idx.cpu().numpy(), i64)
    dx = gpu.max_pool2d_backward(g, x, *args)
    d64 = cpu.max_pool2d_backward(_np(g), _np(x), *args)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_gpu_close(dx, d64, gt, context=str(cfg))
    # the gather adds in output order, as the NumPy kernel's sequential np.add.at: same bits
    same = cpu.max_pool2d_backward(g.cpu().numpy(), x.cpu().numpy(), *args)
    assert np.array_equal(dx.cpu().numpy(), same)


@MAX
@settings(max_examples=40)  # as above: three interpreted launches per example
@given(cfg=pool_config(), seed=seeds)
def test_max_pool_nan_and_minus_inf_follow_torchs_rule(cfg, seed):
    """Inputs from {-inf, NaN, 0, 1}: ties, several NaNs (the last wins) and windows of -inf
    (their first real input wins) everywhere; forward, indices and gradient exactly equal to
    torch's and to the NumPy kernel's."""
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([-np.inf, np.nan, 0.0, 1.0]), size=(2, 2, *cfg["size"]))
    x = torch.tensor(values, dtype=torch.float32, device=_dev())
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"])
    if _padding_only(cfg["size"], args):
        with pytest.raises(ValueError, match="only padding"):
            gpu.max_pool2d(x, *args)
        return
    y, idx = gpu.max_pool2d(x, *args, return_indices=True)
    yt, it, gt = _torch_max(x, args)
    y64, i64 = cpu.max_pool2d(values, *args, return_indices=True)
    assert torch.equal(idx, it) and np.array_equal(idx.cpu().numpy(), i64)
    assert torch.allclose(y, yt, rtol=0, atol=0, equal_nan=True)
    assert np.array_equal(_np(y), y64, equal_nan=True)
    dx = gpu.max_pool2d_backward(torch.ones_like(y), x, *args)
    assert torch.equal(dx, gt)  # sums of ones: exact
    assert np.array_equal(_np(dx), cpu.max_pool2d_backward(np.ones(y.shape), values, *args))


@MAX
@pytest.mark.parametrize(
    ("row", "args"),
    [
        ([1.0, 3.0, 3.0, 2.0], (4, 1, 0)),  # tie: the first maximum
        ([np.nan, 1.0, np.nan, 5.0], (4, 1, 0)),  # NaN propagates: the last NaN
        ([-np.inf, -np.inf, 3.0], (3, 1, 1)),  # a padded window of -inf: its first real input
        ([-np.inf, -np.inf], (3, 1, 1)),
        ([-np.inf, 5.0, -np.inf, -np.inf], (3, 2, 1, 1, True)),
    ],
)
def test_max_pool_tie_rule_cases(row, args):
    """The cases kernels.cpu.pool pins against torch, as rows of a 2-D map (and columns)."""
    for values in (np.array([[[row]]]), np.array([row]).T[None, None]):
        x = torch.tensor(values, dtype=torch.float32, device=_dev())
        k = (1, args[0]) if values.shape[2] == 1 else (args[0], 1)
        s = (1, args[1]) if values.shape[2] == 1 else (args[1], 1)
        p = (0, args[2]) if values.shape[2] == 1 else (args[2], 0)
        full = (k, s, p, 1, *args[4:])
        y, idx = gpu.max_pool2d(x, *full, return_indices=True)
        yt, it, gt = _torch_max(x, full)
        assert torch.equal(idx, it)
        assert torch.allclose(y, yt, rtol=0, atol=0, equal_nan=True)
        assert torch.equal(gpu.max_pool2d_backward(torch.ones_like(y), x, *full), gt)


@MAX
def test_max_pool_first_maximum_gets_the_whole_gradient():
    x = torch.ones(1, 1, 2, 2, device=_dev())
    dx = gpu.max_pool2d_backward(torch.ones(1, 1, 1, 1, device=_dev()), x, 2)
    assert dx[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert gpu.max_pool2d(x, 2, return_indices=True)[1].item() == 0


@MAX
def test_max_pool_window_of_padding_only_is_refused_as_by_the_cpu_kernel():
    x = torch.ones(1, 1, 1, 1, device=_dev())
    assert F.max_pool2d(x, (1, 2), 1, (0, 1), (1, 2)).item() == -np.inf  # torch: -inf
    with pytest.raises(ValueError, match="window 0 along spatial axis 1 reads only padding"):
        gpu.max_pool2d(x, (1, 2), 1, (0, 1), (1, 2))
    with pytest.raises(ValueError, match="window 0 along spatial axis 0 reads only padding"):
        gpu.max_pool2d_backward(torch.ones(1, 1, 1, 1), x[0], (2, 1), 1, (1, 0), (2, 1))


# --------------------------------------------------------------------------- average pooling


@AVG
@settings(max_examples=40)  # as above: four interpreted launches per example
@given(
    cfg=pool_config(dilation=False),
    cip=st.booleans(),
    override=st.sampled_from([None, None, 1, 3, -2]),
    batched=st.booleans(),
    seed=seeds,
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_avg_pool_equals_torch_and_numpy(cfg, cip, override, batched, seed, dtype):
    shape = (2, 3, *cfg["size"]) if batched else (3, *cfg["size"])
    x = _input(seed, shape, False, dtype)
    args = (cfg["k"], cfg["s"], cfg["p"], cfg["ceil"], cip, override)
    y = gpu.avg_pool2d(x, *args)
    g = _input(seed + 1, y.shape, False, dtype)
    yt, gt = _torch_avg(x, args, g)
    assert y.dtype == dtype and y.shape == yt.shape
    assert_gpu_close(y, cpu.avg_pool2d(_np(x), *args), yt, context=str(cfg))
    dx = gpu.avg_pool2d_backward(g, x, *args)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_gpu_close(dx, cpu.avg_pool2d_backward(_np(g), _np(x), *args), gt, context=str(cfg))
    # g/d_o rounded once, then added in output order, as the NumPy kernel: same bits
    same = cpu.avg_pool2d_backward(g.cpu().numpy(), x.cpu().numpy(), *args)
    assert np.array_equal(dx.cpu().numpy(), same)


@AVG
def test_avg_pool_divisors_at_the_edges():
    """Ramp input: interior windows divide by K^2; a ceil-mode window hanging over the end
    divides by the part inside the padded input (count_include_pad) or the real part."""
    x = torch.arange(20.0, device=_dev()).reshape(1, 1, 4, 5)
    for cip in (True, False):
        y = gpu.avg_pool2d(x, 3, 2, 1, True, cip)
        expected = cpu.avg_pool2d(x.cpu().numpy().astype(np.float64), 3, 2, 1, True, cip)
        assert np.allclose(_np(y), expected, rtol=1e-6, atol=0)
        assert torch.allclose(y, F.avg_pool2d(x, 3, 2, 1, True, cip), rtol=1e-6, atol=0)
    y = gpu.avg_pool2d(x, 2, divisor_override=-4)
    assert y[0, 0, 0, 0].item() == -(0 + 1 + 5 + 6) / 4


# --------------------------------------------------------------------------- the grid


@MAX
@AVG
@pytest.mark.parametrize(
    "args",
    [(3, 2, 1, 1, False), ((3, 2), (2, 1), (1, 0), (2, 1), True), (1, 1, 0, 1, False)],
)
def test_many_programs_and_int64_offsets_give_the_same_bits(args, small_blocks, monkeypatch):
    """1823x781 scaled down to 37x23: with the block cap shrunk to 64 there are tens of
    programs (blocks crossing plane boundaries, a masked last block), and with the int64
    switch forced on the same kernels run int64 offsets: every result bit-equal to the
    one-block run, and equal to torch."""
    x = _input(7, (1, 2, 37, 23), True, torch.float32)
    y, idx = gpu.max_pool2d(x, *args, return_indices=True)
    g = _input(8, y.shape, False, torch.float32)
    dx = gpu.max_pool2d_backward(g, x, *args)
    avg_args = (*args[:3], args[4])
    ya = gpu.avg_pool2d(x, *avg_args)
    ga = _input(9, ya.shape, False, torch.float32)
    results = [y, idx, dx, ya, gpu.avg_pool2d_backward(ga, x, *avg_args)]
    yt, it, _ = _torch_max(x, args, g)
    assert torch.equal(y, yt) and torch.equal(idx, it)
    monkeypatch.setattr(small_blocks, "MAX_BLOCK", 1024)
    monkeypatch.setattr(small_blocks, "INT64_FROM", 0)
    y2, idx2 = gpu.max_pool2d(x, *args, return_indices=True)
    again = [
        y2,
        idx2,
        gpu.max_pool2d_backward(g, x, *args),
        gpu.avg_pool2d(x, *avg_args),
        gpu.avg_pool2d_backward(ga, x, *avg_args),
    ]
    for a, b in zip(results, again, strict=True):
        assert torch.equal(a, b)


@MAX
@AVG
def test_backward_is_deterministic_with_overlapping_windows(small_blocks):
    """Overlapping windows (stride 1 < kernel 3) and ties: several outputs route to the same
    input; five runs of each backward are bit-equal (a gather, no atomics)."""
    x = _input(3, (2, 2, 11, 9), True, torch.float32)
    g = _input(4, (2, 2, 11, 9), False, torch.float32)
    for back in (gpu.max_pool2d_backward, gpu.avg_pool2d_backward):
        runs = [back(g, x, 3, 1, 1) for _ in range(5)]
        assert all(torch.equal(runs[0], r) for r in runs[1:])
        assert runs[0].abs().sum() > 0


def test_layouts_unbatched_empty_batch_single_element():
    x = _input(5, (2, 3, 9, 7), False, torch.float32)
    args = (3, 2, 1)
    y = gpu.max_pool2d(x, *args)
    g = torch.ones_like(y)
    dx = gpu.max_pool2d_backward(g, x, *args)
    for variant in (
        x.contiguous(memory_format=torch.channels_last),
        x.transpose(0, -1).contiguous().transpose(0, -1),
        torch.zeros(4, 6, 18, 14, device=_dev())[::2, ::2, ::2, ::2].copy_(x),
    ):
        assert torch.equal(gpu.max_pool2d(variant, *args), y)
        assert torch.equal(gpu.max_pool2d_backward(g, variant, *args), dx)
        assert torch.equal(gpu.avg_pool2d(variant, *args), gpu.avg_pool2d(x, *args))
    # unbatched (C, H, W) = the batched result's first sample
    assert torch.equal(gpu.max_pool2d(x[0], *args), y[0])
    assert torch.equal(gpu.max_pool2d_backward(g[0], x[0], *args), dx[0])
    assert torch.equal(
        gpu.avg_pool2d_backward(g[0], x[0], *args), gpu.avg_pool2d_backward(g, x, *args)[0]
    )
    # an empty batch, as torch
    e = x[:0]
    assert gpu.max_pool2d(e, *args).shape == F.max_pool2d(e, *args).shape == (0, 3, 5, 4)
    assert gpu.avg_pool2d_backward(g[:0], e, *args).shape == e.shape
    assert gpu.max_pool2d(e, *args, return_indices=True)[1].dtype == torch.int64
    # a single element
    one = torch.full((1, 1, 1, 1), -2.5, device=_dev())
    assert gpu.max_pool2d(one, 1).item() == gpu.avg_pool2d(one, 1).item() == -2.5
    assert gpu.max_pool2d(one, 2, ceil_mode=True).item() == -2.5
    assert gpu.avg_pool2d(one, 3, 1, 1).item() == torch.tensor(-2.5 / 9).item()


@MAX
@AVG
def test_half_precisions():
    """float16 (interpreter and GPU) under the GPU rule; bfloat16 max pooling exactly (a max
    does not round; the interpreter's bfloat16 stores truncate, so bfloat16 average pooling
    is in the GPU-only test)."""
    x64 = _input(11, (2, 3, 13, 10), False, torch.float64)
    for dtype in (torch.float16, torch.bfloat16):
        x = x64.to(dtype)
        g = _input(12, (2, 3, 7, 5), False, torch.float64).to(dtype)
        y, idx = gpu.max_pool2d(x, 3, 2, 1, return_indices=True)
        yt, it, gt = _torch_max(x, (3, 2, 1), g)
        assert torch.equal(y, yt) and torch.equal(idx, it)
        dx = gpu.max_pool2d_backward(g, x, 3, 2, 1)
        assert_gpu_close(dx, cpu.max_pool2d_backward(_np(g), _np(x), 3, 2, 1), gt)
    x, g = x64.half(), _input(12, (2, 3, 7, 5), False, torch.float16)
    yt, gt = _torch_avg(x, (3, 2, 1), g)
    assert_gpu_close(gpu.avg_pool2d(x, 3, 2, 1), cpu.avg_pool2d(_np(x), 3, 2, 1), yt)
    dx = gpu.avg_pool2d_backward(g, x, 3, 2, 1)
    assert_gpu_close(dx, cpu.avg_pool2d_backward(_np(g), _np(x), 3, 2, 1), gt)


def test_argument_errors_name_the_argument():
    x = torch.zeros(2, 3, 6, 5, device=_dev())
    with pytest.raises(ValueError, match="padding"):
        gpu.max_pool2d(x, 3, 2, 2)
    with pytest.raises(ValueError, match="grad_out must have shape"):
        gpu.max_pool2d_backward(torch.zeros(2, 3, 4, 4), x, 3, 2, 1)
    with pytest.raises(TypeError, match="grad_out"):
        gpu.avg_pool2d_backward(torch.zeros(2, 3, 3, 3, dtype=torch.float64), x, 3, 2, 1)
    with pytest.raises(ValueError, match="x may have an empty batch"):
        gpu.avg_pool2d(torch.zeros(0, 6, 5), 2)
    with pytest.raises(TypeError, match="divisor_override"):
        gpu.avg_pool2d(x, 2, divisor_override=2.0)
    with pytest.raises(TypeError, match="return_indices"):
        gpu.max_pool2d(x, 2, return_indices=1)
    with pytest.raises(ValueError, match="requires grad"):
        gpu.max_pool2d(x.clone().requires_grad_(), 2)


def test_huge_kernel_and_padding_read_only_the_real_taps():
    """kernel 10**6 with padding 5*10**5 on a 5x4 map: six windows along H and five along W,
    each covering the whole map (torch would loop over 10**12 taps, the NumPy kernel refuses
    the work); the host drops the all-padding taps, so no huge integer reaches the kernel and
    nothing hangs."""
    x = _input(2, (1, 2, 5, 4), False, torch.float64)
    k, p = 10**6, 5 * 10**5
    y, idx = gpu.max_pool2d(x, k, 1, p, return_indices=True)
    assert y.shape == (1, 2, 6, 5)
    assert torch.equal(y, x.amax(dim=(2, 3))[..., None, None].expand(y.shape))
    assert torch.equal(idx, x.flatten(2).argmax(dim=2)[..., None, None].expand(y.shape))
    a = gpu.avg_pool2d(x, k, 1, p, count_include_pad=False)
    mean = x.mean(dim=(2, 3))[..., None, None].expand(a.shape)
    assert torch.allclose(a, mean, rtol=1e-14, atol=0)
    dx = gpu.avg_pool2d_backward(torch.ones_like(a), x, k, 1, p, count_include_pad=False)
    assert torch.allclose(dx, torch.full_like(x, 30 / 20), rtol=1e-14, atol=0)
    # a stride of 10**30 leaves one window per axis: the same as any stride >= the size
    for pool in (gpu.max_pool2d, gpu.avg_pool2d):
        assert torch.equal(pool(x, 3, 10**30, 1, ceil_mode=True), pool(x, 3, 7, 1, ceil_mode=True))
    # a dilation of 10**30 with kernel 1 has one tap: the same as dilation 1
    assert torch.equal(gpu.max_pool2d(x, 1, 1, 0, 10**30), x)
    assert torch.equal(gpu.max_pool2d_backward(x, x, 1, 1, 0, 10**30), x)
    g = torch.ones(1, 2, 1, 1, dtype=x.dtype, device=_dev())
    assert torch.equal(
        gpu.max_pool2d_backward(g, x, 3, 10**30, 1, ceil_mode=True),
        gpu.max_pool2d_backward(g, x, 3, 7, 1, ceil_mode=True),
    )


@MAX
def test_indices_beyond_16_bits():
    """A 2x20000 map (positions up to 39 999 > 2**15): indices and the backward's routing."""
    x = _input(13, (1, 1, 2, 20000), False, torch.float32)
    y, idx = gpu.max_pool2d(x, 2, return_indices=True)
    yt, it, gt = _torch_max(x, (2,))
    assert torch.equal(y, yt) and torch.equal(idx, it) and int(idx.max()) > 2**15
    assert torch.equal(gpu.max_pool2d_backward(torch.ones_like(y), x, 2), gt)


# --------------------------------------------------------------------------- GPU-only sizes


@GPU_ONLY
@MAX
@AVG
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("args", [(3, 2, 1), ((3, 3), (1, 1), (1, 1)), (7, 3, 3, 2)])
def test_large_shapes_on_the_gpu(dtype, args):
    """8x64x112x112 (a ResNet stem's pooling input) in fp32/fp16/bf16, integer values (exact
    in every dtype: ties everywhere): max pooling and indices exactly torch's; gradients and
    averages under the GPU rule against torch in float64 (the float64 reference at this size:
    the NumPy kernel's equality with it is tested above and in tests/test_pooling.py); each
    backward twice, bit-equal."""
    x64 = _input(21, (8, 64, 112, 112), True, torch.float64)
    x = x64.to(dtype)
    y, idx = gpu.max_pool2d(x, *args, return_indices=True)
    g64 = _input(23, y.shape, False, torch.float64).to(dtype).double()
    g = g64.to(dtype)
    yt, it, gt = _torch_max(x, args, g)
    assert torch.equal(y, yt) and torch.equal(idx, it)
    dx = gpu.max_pool2d_backward(g, x, *args)
    assert torch.equal(dx, gpu.max_pool2d_backward(g, x, *args))
    assert_gpu_close(dx, _torch_max(x64, args, g64)[2], gt)
    if len(args) > 3:  # average pooling has no dilation
        return
    ya = gpu.avg_pool2d(x, *args)
    yta, gta = _torch_avg(x, args, g)
    ya64, ga64 = _torch_avg(x64, args, g64)
    assert_gpu_close(ya, ya64, yta)
    da = gpu.avg_pool2d_backward(g, x, *args)
    assert torch.equal(da, gpu.avg_pool2d_backward(g, x, *args))
    assert_gpu_close(da, ga64, gta)
