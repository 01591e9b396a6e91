"""The Triton row softmax (:mod:`kernels.gpu.attention`) against the float64 NumPy kernel and
torch, under the GPU tolerance rule (``numerics.tolerances.assert_gpu_close``).

Both code paths are tested at small irregular shapes: rows held whole (``MAX_FUSED``) and the
online looped path (``MAX_FUSED``/``LOOP_BLOCK`` shrunk so that a 37-column row spans five
blocks, the last one partly masked). In the interpreter kernels run on CPU tensors; on a CUDA
machine the same tests run compiled, plus a GPU-only set at the issue's sizes.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kernels.gpu
from kernels.cpu import attention as cpu
from numerics.tolerances import assert_close, assert_gpu_close
from tests.gpu_support import DEV, INTERPRETED, needs_kernels

pytestmark = needs_kernels

if kernels.gpu.available():
    from kernels.gpu import _backend
    from kernels.gpu import attention as gpu

INTERPRET = INTERPRETED

NEG_INF = float("-inf")
# The interpreter (Triton 3.9) converts float32 to bfloat16 by truncation, not rounding to
# nearest (0.33333 -> 0.3320 where torch gives 0.3340): bfloat16 runs on a GPU only.
FLOATS = (torch.float32, torch.float64, torch.float16) + (() if INTERPRET else (torch.bfloat16,))
PATHS = ("fused", "looped")


@contextlib.contextmanager
def path(which: str):
    """Run the kernels on the fused (whole row) or the looped (online) path at small sizes."""
    kernels = _backend.load("_softmax_kernels")
    saved = kernels.MAX_FUSED, kernels.LOOP_BLOCK
    if which == "looped":
        kernels.MAX_FUSED, kernels.LOOP_BLOCK = 0, 8
    try:
        yield
    finally:
        kernels.MAX_FUSED, kernels.LOOP_BLOCK = saved


def scores(shape, seed: int, dtype=torch.float32, masked: float = 0.0, scale: float = 3.0):
    """Random scores with a fraction ``masked`` of -inf entries (never a whole last-axis row)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    if masked:
        mask = rng.random(shape) < masked
        mask[..., rng.integers(0, shape[-1])] = False
        x[mask] = -np.inf
    return torch.from_numpy(x).to(dtype).to(DEV)


def ref_forward(x: torch.Tensor, dim: int) -> np.ndarray:
    return cpu.softmax(x.double().cpu().numpy(), dim)


def ref_backward(g: torch.Tensor, x: torch.Tensor, dim: int) -> np.ndarray:
    return cpu.softmax_backward(g.double().cpu().numpy(), x.double().cpu().numpy(), dim)


def torch_backward(g: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    xt = x.clone().requires_grad_(True)
    torch.softmax(xt, dim).backward(g)
    return xt.grad


def check_forward(y, x, dim, context=""):
    """The GPU rule against the float64 NumPy kernel; for float64 (where that reference is no
    more precise than the kernel) the float64 table row plus the reduction bound of the row sum
    (``n`` terms of magnitude ``y``)."""
    ref = ref_forward(x, dim)
    if x.dtype == torch.float64:
        assert_close(
            y.cpu().numpy(),
            ref,
            np.float64,
            reduction_length=x.shape[dim],
            magnitude=ref,
            context=context,
        )
    else:
        assert_gpu_close(y, ref, torch.softmax(x, dim), context=context)


def check_backward(dx, g, x, dim, context=""):
    """As :func:`check_forward`; float64: reduction bound of ``<g, y>`` (``n`` terms), magnitude
    ``y (|g| + sum |g| y)``."""
    ref = ref_backward(g, x, dim)
    if x.dtype == torch.float64:
        y = ref_forward(x, dim)
        ga = np.abs(g.cpu().numpy())
        mag = y * (ga + (ga * y).sum(axis=dim, keepdims=True))
        assert_close(
            dx.cpu().numpy(),
            ref,
            np.float64,
            reduction_length=x.shape[dim],
            magnitude=mag,
            context=context,
        )
    else:
        assert_gpu_close(dx, ref, torch_backward(g, x, dim), context=context)


# ----------------------------------------------------------------------------- agreement

SHAPES = [((37, 23), -1), ((1, 1), -1), ((3, 1), 0), ((2, 37), -1), ((5, 4, 3), 1), ((9,), 0)]


@pytest.mark.claim("d000.attn.weights")
@pytest.mark.parametrize("which", PATHS)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize(("shape", "dim"), SHAPES)
def test_forward_and_backward_agree_with_numpy_and_torch(shape, dim, dtype, which):
    x = scores(shape, 1, dtype, masked=0.2)
    g = scores(shape, 2, dtype)
    with path(which):
        y = gpu.softmax(x, dim)
        dx = gpu.softmax_backward(g, x, dim)
    assert y.dtype == dx.dtype == dtype and y.shape == dx.shape == x.shape
    check_forward(y, x, dim, context=f"{which} forward")
    check_backward(dx, g, x, dim, context=f"{which} backward")
    assert (y[x == NEG_INF] == 0).all() and (dx[x == NEG_INF] == 0).all()


@pytest.mark.parametrize("which", PATHS)
def test_long_rows_with_a_masked_first_block(which):
    """-inf filling whole blocks before the maximum (the online path's ``m = -inf`` start) and
    a maximum in the partly masked last block."""
    x = scores((3, 37), 5, torch.float64)
    x[:, :20] = NEG_INF
    x[1, 36] = 40.0
    g = scores((3, 37), 6, torch.float64)
    with path(which):
        y = gpu.softmax(x)
        dx = gpu.softmax_backward(g, x)
    check_forward(y, x, -1)
    check_backward(dx, g, x, -1)
    assert (y[:, :20] == 0).all() and (dx[:, :20] == 0).all()


def test_the_looped_path_is_used_beyond_the_cap(monkeypatch):
    """A planted check that ``path('looped')`` really runs the online kernel."""
    kernels = _backend.load("_softmax_kernels")
    calls = []
    original = kernels._softmax_fwd_looped
    monkeypatch.setattr(kernels, "_softmax_fwd_looped", _Spy(original, calls))
    with path("looped"):
        gpu.softmax(scores((2, 5), 0))
    assert calls == [2]
    with path("fused"):
        gpu.softmax(scores((2, 5), 0))
    assert calls == [2]


class _Spy:
    def __init__(self, kernel, calls):
        self.kernel, self.calls = kernel, calls

    def __getitem__(self, grid):
        self.calls.append(grid[0])
        return self.kernel[grid]


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_non_contiguous_input_gives_bit_identical_results(dim):
    x = scores((4, 5, 6), 3, masked=0.1)
    g = scores((4, 5, 6), 4)
    base = x.permute(2, 0, 1).contiguous().permute(1, 2, 0)  # same values, other strides
    assert not base.is_contiguous()
    assert torch.equal(gpu.softmax(base, dim), gpu.softmax(x, dim))
    assert torch.equal(gpu.softmax_backward(g, base, dim), gpu.softmax_backward(g, x, dim))
    g_strided = g.transpose(0, 1).contiguous().transpose(0, 1)
    assert torch.equal(gpu.softmax_backward(g_strided, x, dim), gpu.softmax_backward(g, x, dim))


def test_empty_inputs_give_empty_results():
    for shape in [(0, 3), (3, 0), (2, 0, 4)]:
        x = torch.zeros(shape, device=DEV)
        assert gpu.softmax(x, -1).shape == shape
        assert gpu.softmax_backward(x, x, 1).shape == shape


def test_backward_is_bit_equal_across_runs():
    x = scores((6, 37), 8, masked=0.1)
    g = scores((6, 37), 9)
    for which in PATHS:
        with path(which):
            first = gpu.softmax_backward(g, x)
            assert all(torch.equal(first, gpu.softmax_backward(g, x)) for _ in range(3))


# ----------------------------------------------------------------------------- properties

rows = st.integers(1, 4)
cols = st.integers(1, 40)
seeds = st.integers(0, 2**32 - 1)
paths = st.sampled_from(PATHS)


@pytest.mark.claim("d000.attn.weights")
@settings(max_examples=40)  # interpreter: ~4 ms per launch; two paths share the examples
@given(r=rows, n=cols, seed=seeds, which=paths, dtype=st.sampled_from(FLOATS))
def test_rows_sum_to_one_within_the_rounding_bound(r, n, seed, which, dtype):
    r"""Rows sum to 1 within an a-priori rounding bound (not the GPU rule: on a short row torch's
    sum is often exactly 1 by luck, which would demand exactness).

    Fused: :math:`\hat s = \sum\hat e_i(1+\theta)`, :math:`|\theta|\le\gamma_{n-1}`; the
    reciprocal and each product round once, and the errors of the :math:`\hat e_i` cancel
    between numerator and denominator, so :math:`|\sum\hat y - 1|\le(n+3)u`. Looped: the
    exponentials of the online pass and of the output pass differ (each within a few ulps, and
    by :math:`|x_i - m|u` from the argument's rounding, weighted by :math:`y_i`, and
    :math:`\sum_i y_i|x_i - m| \le n/e`), which at most doubles it. Checked: :math:`(2n + 8)u`
    of the accumulator, plus :math:`n u` of the output dtype (each entry rounded to it) and of
    float64 (the check's own sum)."""
    x = scores((r, 4 * n), seed, dtype, masked=0.3)
    with path(which):
        y = gpu.softmax(x)
    err = (y.double().sum(-1) - 1).abs().max().item()
    m = 4 * n
    u_acc = torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).eps / 2
    u_out = torch.finfo(dtype).eps / 2
    bound = (2 * m + 8) * u_acc + m * u_out + m * 2.0**-53
    assert err <= bound, (err, bound)


@pytest.mark.claim("d000.attn.weights")
@settings(max_examples=40)  # interpreter: two launches per example
@given(
    r=rows,
    n=cols,
    seed=seeds,
    which=paths,
    shift=st.integers(-(2**12), 2**12),
    dtype=st.sampled_from(FLOATS[:2]),
)
def test_adding_an_exactly_representable_constant_changes_nothing(r, n, seed, which, shift, dtype):
    """Scores ``a/8`` (integers ``|a| <= 2**10``) plus ``c = shift/8`` (``|shift| <= 2**12``):
    every ``x + c`` is exact (|8(x + c)| < 2**13 < 2**24), so ``(x+c) - max(x+c)`` is the very
    same float as ``x - max x`` and the outputs must be **bit-identical** (forward and
    backward), -inf entries staying -inf. A rounded shift is a different input and is covered
    by the accuracy tests."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-(2**10), 2**10 + 1, (r, n)).astype(np.float64) / 8
    a[rng.random((r, n)) < 0.2] = -np.inf
    a[:, rng.integers(0, n)] = rng.integers(-(2**10), 2**10 + 1) / 8
    x = torch.from_numpy(a).to(dtype).to(DEV)
    c = shift / 8
    xs = x + c
    assert torch.equal(xs - c, x)  # the shift is exact (a check of the premise)
    g = scores((r, n), seed + 1, dtype)
    with path(which):
        assert torch.equal(gpu.softmax(xs), gpu.softmax(x))
        assert torch.equal(gpu.softmax_backward(g, xs), gpu.softmax_backward(g, x))


@settings(max_examples=30)  # interpreter: one launch per example and path
@given(
    r=rows, n=cols, which=paths, value=st.floats(-1e4, 1e4, width=32), dtype=st.sampled_from(FLOATS)
)
def test_equal_entries_give_exactly_uniform_rows(r, n, which, value, dtype):
    """All entries equal: every exponent is exactly 0, ``s = n`` exactly, and the kernel's
    ``y = e * (1/s)`` with ``1/s`` divided in float64 and rounded to the accumulator (float32,
    or float64) gives every entry **exactly** ``fl(fl64(1/n))`` in the output dtype, on both
    paths (the looped one rescales by ``exp(0) = 1``)."""
    x = torch.full((r, n), value, dtype=dtype, device=DEV)
    with path(which):
        y = gpu.softmax(x)
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    want = torch.tensor(1.0 / n, dtype=torch.float64).to(acc).to(dtype)
    assert (y.cpu() == want).all(), (y, want)


@settings(max_examples=30)
@given(r=rows, n=st.integers(2, 40), seed=seeds, which=paths, dtype=st.sampled_from(FLOATS))
def test_one_entry_far_above_the_rest_gives_an_exact_one_hot_row(r, n, seed, which, dtype):
    """One entry ``big`` above scores in [-3, 3]: every other exponent is below -88 - ln 2**23
    (float32 underflows to exactly 0 past about -104), so the row is exactly one-hot. ``big`` =
    1e4 in float32/float64, 200 in float16/bfloat16 (1e4 is no finite float16 gap problem, but
    200 keeps the half-precision scores exactly as written: integers up to 2048 / 256)."""
    rng = np.random.default_rng(seed)
    big = 1e4 if dtype in (torch.float32, torch.float64) else 200.0
    a = rng.uniform(-3, 3, (r, n))
    hot = rng.integers(0, n, r)
    a[np.arange(r), hot] = big
    x = torch.from_numpy(a).to(dtype).to(DEV)
    want = torch.zeros((r, n), dtype=dtype, device=DEV)
    want[torch.arange(r), torch.from_numpy(hot)] = 1
    with path(which):
        assert torch.equal(gpu.softmax(x), want)


@settings(max_examples=30)
@given(r=rows, n=st.integers(2, 40), seed=seeds, which=paths)
def test_masked_entries_get_exactly_zero_weight_and_gradient(r, n, seed, which):
    x = scores((r, n), seed, masked=0.5)
    g = scores((r, n), seed + 1)
    with path(which):
        y = gpu.softmax(x)
        dx = gpu.softmax_backward(g, x)
    m = x == NEG_INF
    assert (y[m] == 0).all() and (dx[m] == 0).all() and (y[~m] > 0).all()


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("which", PATHS)
def test_bad_entries_are_refused_naming_the_argument(which):
    x = scores((3, 37), 0)
    g = scores((3, 37), 1)
    with path(which):
        for bad, what in [(float("nan"), "input"), (float("inf"), "input")]:
            xb = x.clone()
            xb[2, 30] = bad
            with pytest.raises(ValueError, match="input must hold finite numbers or -inf"):
                gpu.softmax(xb)
            with pytest.raises(ValueError, match=what):
                gpu.softmax_backward(g, xb)
        xb = x.clone()
        xb[1] = NEG_INF
        with pytest.raises(ValueError, match="input: a row of scores has every entry -inf"):
            gpu.softmax(xb)
        with pytest.raises(ValueError, match="every entry -inf"):
            gpu.softmax_backward(g, xb)
        with pytest.raises(ValueError, match="every entry -inf"):
            gpu.softmax(xb.T.contiguous(), dim=0)
        for bad in (float("nan"), float("inf"), NEG_INF):
            gb = g.clone()
            gb[0, 36] = bad
            with pytest.raises(ValueError, match="grad_output must have finite entries"):
                gpu.softmax_backward(gb, x)


def test_argument_checks():
    x = scores((2, 3), 0)
    with pytest.raises(ValueError, match="dim"):
        gpu.softmax(x, 2)
    with pytest.raises(TypeError, match="dim"):
        gpu.softmax(x, True)
    with pytest.raises(TypeError, match="input"):
        gpu.softmax(x.numpy() if DEV.type == "cpu" else x.cpu().numpy())
    with pytest.raises(TypeError, match="grad_output"):
        gpu.softmax_backward(x.double(), x)
    with pytest.raises(ValueError, match="grad_output"):
        gpu.softmax_backward(x[:, :2], x)
    with pytest.raises(ValueError, match="dim"):
        gpu.softmax(torch.tensor(1.0, device=DEV), 1)


def test_a_zero_dim_input_is_one_slice_as_in_torch():
    """torch's OpInfo sample: softmax of a 0-d tensor (dim 0 or -1) is 1, its gradient 0."""
    for dim in (0, -1):
        x = torch.tensor(-2.5, device=DEV)
        y = gpu.softmax(x, dim)
        assert y.shape == () and y.item() == torch.softmax(x.cpu(), dim).item() == 1.0
        g = torch.tensor(0.75, device=DEV)
        dx = gpu.softmax_backward(g, x, dim)
        assert dx.shape == () and dx.item() == 0.0


# ----------------------------------------------------------------------------- GPU-only


@pytest.mark.skipif(INTERPRET, reason="GPU-only sizes")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("shape", [(1823, 781), (4096, 32768), (64, 100_003)])
def test_gpu_sizes(shape, dtype):
    x = scores(shape, 11, torch.float32, masked=0.05).to(dtype)
    g = scores(shape, 12, torch.float32).to(dtype)
    y = gpu.softmax(x)
    dx = gpu.softmax_backward(g, x)
    x64 = x.double()
    ref = torch.softmax(x64, -1)
    assert_gpu_close(y, ref.cpu().numpy(), torch.softmax(x, -1))
    ref_dx = ref * (g.double() - (g.double() * ref).sum(-1, keepdim=True))
    assert_gpu_close(dx, ref_dx.cpu().numpy(), torch_backward(g, x, -1))
