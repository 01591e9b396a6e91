"""Triton normalization kernels (kernels.gpu.norm) against the float64 NumPy reference
(kernels.cpu.norm) and torch (F.*_norm and autograd), by the GPU rule
(numerics.tolerances.assert_gpu_close); invariants as properties; determinism.

Under the interpreter (no CUDA) shapes are small and irregular; the block caps of
kernels.gpu._norm_kernels are shrunk (monkeypatch) to run the looped / multi-chunk paths.
bfloat16 runs only on a GPU: the interpreter converts float32 to bfloat16 by truncation, not
round-to-nearest-even (about half the values one ulp off), so its bf16 error is not the GPU's.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import norm as cn
from kernels.gpu import _backend
from kernels.gpu import norm as gn
from numerics.tolerances import assert_gpu_close
from tests.gpu_support import DEV, gpu_only, needs_kernels
from theory import normalization as th

pytestmark = needs_kernels

GPU_ONLY = gpu_only
seeds = st.integers(0, 2**32 - 1)


def _seed(*key) -> int:
    """A seed fixed by the case (hash() of a str varies between processes)."""
    return zlib.crc32(repr(key).encode())


def _dev() -> torch.device:
    return DEV


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().double().numpy()


def _t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype).to(_dev())


# name: (gpu forward, gpu backward, cpu forward, cpu backward, torch forward, args after x
#        from (x, w, b, rm, rv, eps) in torch's argument order, parameter shape from x's shape,
#        has bias)
def _layer_shape(shape):
    return tuple(shape[-2:]) if len(shape) >= 3 else tuple(shape[-1:])


FAMILIES = {
    "layer": (
        gn.layer_norm,
        gn.layer_norm_backward,
        cn.layer_norm,
        cn.layer_norm_backward,
        F.layer_norm,
        lambda x, w, b, rm, rv, e: (_layer_shape(x.shape), w, b, e),
        _layer_shape,
        True,
    ),
    "rms": (
        gn.rms_norm,
        gn.rms_norm_backward,
        cn.rms_norm,
        cn.rms_norm_backward,
        F.rms_norm,
        lambda x, w, b, rm, rv, e: (_layer_shape(x.shape), w, e),
        _layer_shape,
        False,
    ),
    "group": (
        gn.group_norm,
        gn.group_norm_backward,
        cn.group_norm,
        cn.group_norm_backward,
        F.group_norm,
        lambda x, w, b, rm, rv, e: (3 if x.shape[1] % 3 == 0 else 1, w, b, e),
        lambda s: s[1:2],
        True,
    ),
    "instance": (
        gn.instance_norm,
        gn.instance_norm_backward,
        cn.instance_norm,
        cn.instance_norm_backward,
        F.instance_norm,
        lambda x, w, b, rm, rv, e: (rm, rv, w, b, True, 0.1, e),
        lambda s: s[1:2],
        True,
    ),
    "instance_eval": (
        gn.instance_norm,
        gn.instance_norm_backward,
        cn.instance_norm,
        cn.instance_norm_backward,
        F.instance_norm,
        lambda x, w, b, rm, rv, e: (rm, rv, w, b, False, 0.1, e),
        lambda s: s[1:2],
        True,
    ),
    "batch": (
        gn.batch_norm,
        gn.batch_norm_backward,
        cn.batch_norm,
        cn.batch_norm_backward,
        F.batch_norm,
        lambda x, w, b, rm, rv, e: (rm, rv, w, b, True, 0.1, e),
        lambda s: s[1:2],
        True,
    ),
    "batch_eval": (
        gn.batch_norm,
        gn.batch_norm_backward,
        cn.batch_norm,
        cn.batch_norm_backward,
        F.batch_norm,
        lambda x, w, b, rm, rv, e: (rm, rv, w, b, False, 0.1, e),
        lambda s: s[1:2],
        True,
    ),
}
RUNNING = {"instance", "instance_eval", "batch", "batch_eval"}


def run_family(name, shape, dtype, seed, *, affine=True, running=True, eps=1e-5, shift=1.0):
    """Kernel vs float64 reference vs torch (forward, running buffers, backward) by the GPU
    rule; returns the kernel's outputs."""
    gf, gb, cf, cb, tf, argf, pshape, has_b = FAMILIES[name]
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal(shape) * 2 + shift
    g64 = rng.standard_normal(shape)
    ps = pshape(shape)
    w64 = rng.standard_normal(ps) if affine else None
    b64 = rng.standard_normal(ps) if affine and has_b else None
    use_rb = name in RUNNING and (running or name.endswith("eval"))
    rm64 = rng.standard_normal(shape[1]) if use_rb else None
    rv64 = rng.uniform(0.5, 2, shape[1]) if use_rb else None
    conv = [None if a is None else _t(a, dtype) for a in (x64, g64, w64, b64, rm64, rv64)]
    x, g, w, b, rm, rv = conv
    # the reference sees the same (rounded) values
    xr, gr, wr, br, rmr, rvr = (_np(t) for t in conv)
    ctx = f"{name} {shape} {dtype} seed={seed} affine={affine} running={running}"

    rm_k, rv_k = (None, None) if rm is None else (rm.clone(), rv.clone())
    y = gf(x, *argf(x, w, b, rm_k, rv_k, eps))
    rm_c, rv_c = (None, None) if rmr is None else (rmr.copy(), rvr.copy())
    y_ref = cf(xr, *argf(xr, wr, br, rm_c, rv_c, eps))
    leaves = [t.clone().requires_grad_(True) for t in (x, w, b) if t is not None]
    xt = leaves[0]
    wt = leaves[1] if w is not None else None
    bt = leaves[2] if b is not None else None
    rm_t, rv_t = (None, None) if rm is None else (rm.clone(), rv.clone())
    y_t = tf(xt, *argf(xt, wt, bt, rm_t, rv_t, eps))
    assert y.dtype == dtype and y.shape == x.shape
    assert_gpu_close(y, y_ref, y_t.detach(), context=ctx + " forward")
    if rm is not None:
        assert_gpu_close(rm_k, rm_c, rm_t, context=ctx + " running_mean")
        assert_gpu_close(rv_k, rv_c, rv_t, context=ctx + " running_var")

    grads = gb(g, x, *argf(x, w, b, rm, rv, eps))
    grads_ref = cb(gr, xr, *argf(xr, wr, br, rmr, rvr, eps))
    grads_t = torch.autograd.grad(y_t, leaves, g)
    it = iter(grads_t)
    for i, (k, r) in enumerate(zip(grads, grads_ref, strict=True)):
        if r is None:
            assert k is None, ctx
            continue
        assert k.dtype == dtype and k.shape == r.shape
        assert_gpu_close(k, r, next(it), context=f"{ctx} grad {i}")
    return y, grads


SMALL = {
    "layer": [(37, 23), (5, 3, 7), (1, 1), (2, 300)],
    "rms": [(37, 23), (5, 3, 7), (1, 1), (2, 300)],
    "group": [(5, 6, 7), (3, 6), (2, 3, 4, 5), (1, 6, 1)],
    "instance": [(5, 6, 7), (2, 3, 4, 5), (1, 2, 2)],
    "instance_eval": [(5, 6, 7), (1, 2, 1)],
    "batch": [(5, 6, 7), (9, 4), (2, 3, 4, 5), (2, 1)],
    "batch_eval": [(5, 6, 7), (3, 2), (1, 3, 1)],
}
CASES = [(name, s) for name, shapes in SMALL.items() for s in shapes]


@pytest.mark.claim(
    "d000.norm.layernorm-definition",
    "d000.norm.groupnorm-definition",
    "d000.norm.instancenorm-definition",
    "d000.norm.batchnorm-definition",
    "d000.norm.batchnorm-backward",
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize(("name", "shape"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_kernel_matches_reference_and_torch(name, shape, dtype):
    run_family(name, shape, dtype, seed=_seed(name, shape))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_float16_and_without_affine(name):
    shape = SMALL[name][0]
    run_family(name, shape, torch.float16, seed=3)
    run_family(name, shape, torch.float32, seed=4, affine=False, running=False)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Block caps shrunk so small shapes take the looped row path, several batch-norm chunks,
    several dγ partial programs and several channel blocks."""
    k = _backend.load("_norm_kernels")
    monkeypatch.setattr(k, "ROW_BLOCK", 16)
    monkeypatch.setattr(k, "COL_BLOCK", 16)
    monkeypatch.setattr(k, "COL_CHUNK", 32)
    monkeypatch.setattr(k, "CHANNEL_BLOCK", 16)
    monkeypatch.setattr(gn, "INTERPRETER_PROGRAMS", 3)
    return k


LOOPED = [
    ("layer", (7, 37)),
    ("layer", (4, 3, 11)),
    ("rms", (7, 37)),
    ("group", (3, 6, 13)),
    ("group", (2, 40, 1)),
    ("instance", (2, 3, 37)),
    ("instance_eval", (2, 3, 37)),
    ("batch", (5, 17, 19)),
    ("batch_eval", (5, 17, 19)),
    ("batch", (71, 3)),
]


@pytest.mark.parametrize(("name", "shape"), LOOPED, ids=[f"{n}-{s}" for n, s in LOOPED])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_looped_paths(tiny_blocks, name, shape, dtype):
    run_family(name, shape, dtype, seed=_seed(name, shape, 1), shift=3.0)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_backward_is_bit_reproducible(tiny_blocks, name):
    """No atomics: repeated runs (and a non-contiguous input) give identical bits."""
    _, gb, _, _, _, argf, pshape, has_b = FAMILIES[name]
    shape = {"layer": (9, 37), "rms": (9, 37)}.get(name, (6, 6, 19))
    rng = np.random.default_rng(7)
    x, g = (_t(rng.standard_normal(shape), torch.float32) for _ in range(2))
    w = _t(rng.standard_normal(pshape(shape)), torch.float32)
    b = _t(rng.standard_normal(pshape(shape)), torch.float32) if has_b else None
    rm = _t(rng.standard_normal(shape[1]), torch.float32)
    rv = _t(rng.uniform(0.5, 2, shape[1]), torch.float32)
    args = argf(x, w, b, rm, rv, 1e-5)
    runs = [gb(g, x, *args) for _ in range(3)]
    xt = x.transpose(0, -1).contiguous().transpose(0, -1)  # same values, other strides
    runs.append(gb(g, xt, *args))
    for run in runs[1:]:
        for a, ref in zip(run, runs[0], strict=True):
            assert (a is None) == (ref is None)
            assert a is None or torch.equal(a, ref), name


def test_training_updates_running_statistics_as_torch():
    """Unbiased variance, momentum, in place (also a non-contiguous buffer); N = 0 leaves them."""
    rng = np.random.default_rng(11)
    x = _t(rng.standard_normal((4, 3, 5)) * 3 + 2, torch.float64)
    for mom in (0.1, 1.0, -1.2):
        rm = _t(rng.standard_normal(3), torch.float64)
        rv = _t(rng.uniform(0.5, 2, 3), torch.float64)
        big = torch.zeros(6, dtype=torch.float64, device=_dev())
        rm_s = big[::2]
        rm_s.copy_(rm)
        rm_t, rv_t, rv_k = rm.clone(), rv.clone(), rv.clone()
        gn.batch_norm(x, rm_s, rv_k, None, None, True, mom, 1e-5)
        F.batch_norm(x, rm_t, rv_t, None, None, True, mom, 1e-5)
        xm = x.permute(1, 0, 2).reshape(3, -1)
        expected_v = (1 - mom) * rv + mom * xm.var(dim=1, unbiased=True)
        assert torch.allclose(rm_s, rm_t, rtol=1e-14, atol=1e-14)
        assert torch.allclose(rv_k, rv_t, rtol=1e-14, atol=1e-14)
        assert torch.allclose(rv_k, expected_v, rtol=1e-14, atol=1e-14)
        rm0, rv0 = rm.clone(), rv.clone()
        gn.batch_norm(x[:0], rm0, rv0, None, None, True, mom, 1e-5)
        assert torch.equal(rm0, rm) and torch.equal(rv0, rv)


def test_empty_batch_and_single_entry_sets():
    x = torch.zeros((0, 3, 4), device=_dev())
    g = torch.zeros_like(x)
    w = torch.ones(3, device=_dev())
    assert gn.group_norm(x, 3, w, w).shape == (0, 3, 4)
    dx, dw, db = gn.batch_norm_backward(g, x, None, None, w, w, True)
    assert (
        dx.shape == x.shape
        and torch.equal(dw, torch.zeros(3, device=_dev()))
        and torch.equal(db, dw)
    )
    dx, dw = gn.rms_norm_backward(g, x, 4, torch.ones(4))
    assert dx.shape == x.shape and torch.equal(dw, torch.zeros(4, device=_dev()))
    # a layer-norm set of one entry outputs bias, as torch
    x1 = torch.randn(5, 1, device=_dev())
    b = torch.tensor([0.25], device=_dev())
    assert torch.equal(gn.layer_norm(x1, 1, None, b), b.expand(5, 1))


# the kernel computes 1/sqrt(0) on such a set (inf, as on a GPU) before the wrapper refuses it
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_eps_refusals_as_the_cpu_kernel():
    x = torch.ones((3, 4), device=_dev())
    for f in (
        lambda: gn.layer_norm(x, 4, eps=0.0),
        lambda: gn.rms_norm(torch.zeros_like(x), 4, eps=0.0),
        lambda: gn.group_norm(x[:, :, None], 2, eps=-0.5),
        lambda: gn.layer_norm_backward(x, x, 4, eps=0.0),
        lambda: gn.rms_norm_backward(x, torch.zeros_like(x), 4, eps=0.0),
        lambda: gn.instance_norm_backward(x[None], x[None], eps=0.0),
    ):
        with pytest.raises(ValueError, match=r"^eps"):
            f()
    # a negative eps with var + eps > 0 is accepted (torch's OpInfo samples use -0.5)
    xs = torch.tensor([[0.0, 4.0]], dtype=torch.float64, device=_dev())
    assert torch.allclose(gn.layer_norm(xs, 2, eps=-0.5), F.layer_norm(xs, (2,), eps=-0.5))
    rv = -torch.ones(4, device=_dev())
    with pytest.raises(ValueError, match=r"^running_var:.*negative"):
        gn.batch_norm(x, torch.zeros(4, device=_dev()), rv, training=False)


def test_rms_eps_none_is_the_computation_dtype_eps():
    """torch: eps=None -> finfo(float32).eps for float16 input (not finfo(float16).eps)."""
    x = torch.full((2, 4), 1e-3, dtype=torch.float16, device=_dev())
    y = gn.rms_norm(x, 4)
    assert (y - F.rms_norm(x, (4,))).abs().max() <= 1e-3
    assert abs(float(y[0, 0]) - 1e-3 / np.sqrt(1e-6 + np.finfo(np.float32).eps)) < 1e-3


# --------------------------------------------------------------------------- invariants

shape_st = st.tuples(st.integers(1, 4), st.integers(2, 40))
eps_st = st.sampled_from([1e-5, 1e-2, 0.5])


@pytest.mark.claim("d002.norm.xhat-moments")
@settings(max_examples=15)  # each example is six interpreted kernel launches
@given(shape=shape_st, eps=eps_st, seed=seeds, scale=st.floats(0.1, 10), shift=st.floats(-5, 5))
def test_normalized_sets_have_the_theory_moments(shape, eps, seed, scale, shift):
    """Without affine: mean 0 and variance var/(var + eps) over every normalized set
    (theory.normalization.xhat_variance); RMSNorm: mean square ms/(ms + eps)."""
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal(shape) * scale + shift
    x = _t(x64, torch.float64)
    var, mean = x64.var(axis=-1), x64.mean(axis=-1)
    theory_var = np.array([float(th.xhat_variance(float(v), eps)) for v in var])
    for y, axis in (
        (gn.layer_norm(x, shape[1], eps=eps), -1),
        (gn.group_norm(x[:, :, None], 1, eps=eps)[:, :, 0], -1),
        (gn.instance_norm(x[:, None, :], eps=eps)[:, 0, :], -1),
    ):
        yn = _np(y)
        assert np.allclose(yn.mean(axis=axis), 0, atol=1e-12)
        assert np.allclose(yn.var(axis=axis), theory_var, rtol=1e-12, atol=1e-15)
    yb = _np(gn.batch_norm(x.T.contiguous(), None, None, None, None, True, 0.1, eps)).T
    assert np.allclose(yb.mean(axis=-1), 0, atol=1e-12)
    assert np.allclose(yb.var(axis=-1), theory_var, rtol=1e-12, atol=1e-15)
    ms = (x64**2).mean(axis=-1)
    yr = _np(gn.rms_norm(x, shape[1], eps=eps))
    assert np.allclose((yr**2).mean(axis=-1), ms / (ms + eps), rtol=1e-12)
    # RMSNorm does not centre: its mean is mean/sqrt(ms + eps), nonzero where x's mean is
    assert np.allclose(yr.mean(axis=-1), mean / np.sqrt(ms + eps), rtol=1e-10, atol=1e-14)


@pytest.mark.claim("d002.norm.common-form")
def test_rms_norm_does_not_centre_where_layer_norm_does():
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]], dtype=torch.float64, device=_dev())
    assert abs(float(gn.layer_norm(x, 4).mean())) < 1e-15
    assert float(gn.rms_norm(x, 4).mean()) > 0.5  # 3/sqrt(12.5) = 0.8485...


@pytest.mark.claim("d002.norm.common-form")
@settings(max_examples=15)  # each example is five interpreted kernel launches
@given(shape=shape_st, seed=seeds, c=st.floats(-20, 20).filter(lambda v: abs(v) > 0.5))
def test_adding_a_constant_per_set(shape, seed, c):
    """Layer/group/instance norm are unchanged by x + c per set; RMSNorm changes."""
    rng = np.random.default_rng(seed)
    x = _t(rng.standard_normal(shape), torch.float64)
    xc = x + c
    for f in (
        lambda t: gn.layer_norm(t, shape[1]),
        lambda t: gn.group_norm(t[:, :, None], 1)[:, :, 0],
        lambda t: gn.instance_norm(t[:, None, :])[:, 0, :],
    ):
        assert torch.allclose(f(x), f(xc), rtol=1e-9, atol=1e-9 * (1 + abs(c)))
    diff = (gn.rms_norm(x, shape[1]) - gn.rms_norm(xc, shape[1])).abs().max()
    assert float(diff) > 1e-3


# --------------------------------------------------------------------------- GPU-only sizes

BIG = [
    ("layer", (1823, 781)),
    ("layer", (64, 16384)),
    ("rms", (1823, 781)),
    ("rms", (32, 20000)),
    ("group", (16, 64, 33, 31)),
    ("instance", (8, 32, 57, 61)),
    ("batch", (32, 64, 29, 31)),
    ("batch", (4096, 300)),
    ("batch_eval", (32, 64, 29, 31)),
]


@GPU_ONLY
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize(("name", "shape"), BIG, ids=[f"{n}-{s}" for n, s in BIG])
def test_gpu_sizes(name, shape, dtype):
    run_family(name, shape, dtype, seed=_seed(name, shape, 2))


@GPU_ONLY
@pytest.mark.parametrize("name", ["layer", "rms", "group", "batch"])
def test_gpu_backward_bit_reproducible_at_scale(name):
    _, gb, _, _, _, argf, pshape, has_b = FAMILIES[name]
    shape = (4096, 1024) if name in ("layer", "rms") else (64, 96, 32, 32)
    gen = torch.Generator(device="cuda").manual_seed(5)
    x = torch.randn(shape, device="cuda", generator=gen)
    g = torch.randn(shape, device="cuda", generator=gen)
    w = torch.randn(pshape(shape), device="cuda", generator=gen)
    b = torch.randn(pshape(shape), device="cuda", generator=gen) if has_b else None
    args = argf(x, w, b, None, None, 1e-5)
    first = gb(g, x, *args)
    for _ in range(5):
        for a, ref in zip(gb(g, x, *args), first, strict=True):
            assert a is None or torch.equal(a, ref)


# the kernel stores the set's variance, which overflows to inf there (as torch's statistics)
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_huge_sets_are_rescaled_not_overflowed(dtype):
    """Sets whose squares overflow (|x| ~ 1e20 in float32, 1e200 in float64) are divided by
    max|x| first, as the CPU kernel does (torch returns NaN): finite, the reference's values."""
    big = 1e20 if dtype == torch.float32 else 1e200
    x64 = np.array([[1.0, -1.0, 3.0, 0.0, 2.5]]) * big
    x = _t(x64, dtype)
    xr = _np(x)
    pairs = [
        (gn.layer_norm(x, 5), cn.layer_norm(xr, 5)),
        (gn.rms_norm(x, 5), cn.rms_norm(xr, 5)),
        (gn.group_norm(x[:, :, None], 1)[:, :, 0], cn.group_norm(xr[:, :, None], 1)[:, :, 0]),
    ]
    g = _t(np.array([[0.5, -1.0, 2.0, 0.25, 1.5]]), dtype)
    pairs.append((gn.layer_norm_backward(g, x, 5)[0], cn.layer_norm_backward(_np(g), xr, 5)[0]))
    pairs.append((gn.rms_norm_backward(g, x, 5)[0], cn.rms_norm_backward(_np(g), xr, 5)[0]))
    tol = 1e-5 if dtype == torch.float32 else 1e-13
    for got, want in pairs:
        assert torch.isfinite(got).all()
        assert np.allclose(_np(got), want, rtol=tol, atol=tol * np.abs(want).max())
