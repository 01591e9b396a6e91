"""RMSNorm: the NumPy reference (kernels.cpu.norm.rms_norm/_backward) against torch's
F.rms_norm and autograd in float64, central differences, and the SymPy proof
(theory.normalization.rmsnorm_backward_proved)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import norm
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.tolerances import assert_close
from theory import normalization as th

seeds = st.integers(0, 2**32 - 1)


@st.composite
def rms_case(draw):
    # only the first axis may be empty (kernels.cpu.norm's rule for every normalization)
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2), label="leading")
    if lead and draw(st.booleans()):
        lead[0] = 0
    trail = draw(st.lists(st.integers(1, 5), min_size=1, max_size=2), label="normalized")
    ns = tuple(trail) if draw(st.booleans()) or len(trail) > 1 else trail[0]
    eps = draw(st.sampled_from([None, 1e-6, 1e-2, 0.5]), label="eps")
    return (*lead, *trail), ns, draw(st.booleans(), label="weight"), eps


def _torch(x, ns, w, eps, g):
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = None if w is None else torch.from_numpy(w).requires_grad_(True)
    y = F.rms_norm(xt, [ns] if isinstance(ns, int) else list(ns), wt, eps)
    leaves = [xt] if wt is None else [xt, wt]
    grads = torch.autograd.grad(y, leaves, torch.from_numpy(g)) if y.numel() else (None, None)
    return y.detach().numpy(), [None if t is None else t.numpy() for t in grads]


@given(case=rms_case(), seed=seeds, scale=st.floats(0.01, 100), shift=st.floats(-3, 3))
def test_rms_norm_matches_torch_forward_and_autograd(case, seed, scale, shift):
    shape, ns, affine, eps = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale + shift
    g = rng.standard_normal(shape)
    k = len(ns) if isinstance(ns, tuple) else 1
    w = rng.standard_normal(shape[len(shape) - k :]) if affine else None
    y = norm.rms_norm(x, ns, w, eps)
    dx, dw = norm.rms_norm_backward(g, x, ns, w, eps)
    y_t, grads_t = _torch(x, ns, w, eps, g)
    assert y.dtype == np.float64 and y.shape == x.shape
    m = int(np.prod(shape[len(shape) - k :]))
    assert_close(y, y_t, np.float64, reduction_length=m, magnitude=np.abs(y_t).max(initial=1))
    if x.size == 0:
        assert dx.shape == x.shape and (dw is None or not dw.any())
        return
    gm = float(np.abs(g).max() * (1 if w is None else np.abs(w).max()))
    assert_close(dx, grads_t[0], np.float64, reduction_length=m, magnitude=gm * 4 / scale)
    if w is None:
        assert dw is None
    else:
        assert_close(dw, grads_t[1], np.float64, reduction_length=x.size, magnitude=gm)


@settings(max_examples=20)  # central differences: 2 forward passes per input entry
@given(case=rms_case(), seed=seeds)
def test_rms_norm_backward_by_central_differences(case, seed):
    shape, ns, affine, eps = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) + 0.5
    g = rng.standard_normal(shape)
    k = len(ns) if isinstance(ns, tuple) else 1
    w = rng.standard_normal(shape[len(shape) - k :]) if affine else None
    dx, dw = norm.rms_norm_backward(g, x, ns, w, eps)
    assert_grad_close(dx, central_difference(lambda v: norm.rms_norm(v, ns, w, eps), x, g))
    if affine:
        assert_grad_close(dw, central_difference(lambda v: norm.rms_norm(x, ns, v, eps), w, g))


def test_eps_none_is_the_dtype_eps_as_torch():
    """torch: eps=None is finfo of the computation dtype (float32 -> 2**-23, float64 ->
    2**-52); here the input's dtype (the same for float32/float64)."""
    for dtype in (np.float32, np.float64):
        x = np.full((2, 3), 1e-4, dtype=dtype)
        y = norm.rms_norm(x, 3)
        expected = 1e-4 / np.sqrt(1e-8 + np.finfo(dtype).eps)
        assert np.allclose(y, expected, rtol=1e-6)
        assert np.allclose(y, F.rms_norm(torch.from_numpy(x), [3]).numpy(), rtol=1e-6)


@pytest.mark.claim("d002.norm.common-form")
def test_the_ledger_counterexample_rms_norm_of_1_3():
    """d002.norm.common-form's counterexample: F.rms_norm of (1, 3) is (1, 3)/sqrt(5), not the
    (x - mean)/std = (-1, 1) of the common form."""
    x = np.array([[1.0, 3.0]])
    expected = np.array([[1.0, 3.0]]) / np.sqrt(5.0)
    assert np.allclose(norm.rms_norm(x, 2, eps=1e-300), expected, rtol=1e-15)
    assert np.allclose(F.rms_norm(torch.from_numpy(x), [2], eps=1e-300).numpy(), expected)
    assert np.allclose(norm.layer_norm(x, 2, eps=1e-300), [[-1.0, 1.0]], rtol=1e-12)


@pytest.mark.claim("d002.norm.common-form")
def test_rms_norm_does_not_centre():
    x = np.array([[1.0, 2.0, 3.0, 6.0]])
    y = norm.rms_norm(x, 4, eps=0.0)
    assert np.isclose(y.mean(), 3 / np.sqrt(12.5))
    assert np.isclose((y**2).mean(), 1.0)
    assert abs(norm.layer_norm(x, 4).mean()) < 1e-15


def test_refusals_and_scale():
    with pytest.raises(ValueError, match=r"^eps"):
        norm.rms_norm(np.zeros((2, 3)), 3, eps=0.0)
    with pytest.raises(ValueError, match=r"^eps"):
        norm.rms_norm_backward(np.ones((2, 3)), np.zeros((2, 3)), 3, eps=-1.0)
    with pytest.raises(ValueError, match="normalized_shape"):
        norm.rms_norm(np.ones((2, 3)), (2,))
    with pytest.raises(TypeError, match="eps"):
        norm.rms_norm(np.ones((2, 3)), 3, eps="1e-6")
    # squares that overflow float64 are rescaled: the exact answer, not NaN
    x = np.array([[1e200, -1e200, 3e200]])
    y = norm.rms_norm(x, 3)
    assert np.allclose(y, np.array([[1, -1, 3]]) / np.sqrt(11 / 3))
    dx, _ = norm.rms_norm_backward(np.ones_like(x), x, 3)
    assert np.isfinite(dx).all()


def test_rmsnorm_backward_proved_symbolically():
    assert th.rmsnorm_backward_proved(th.MAX_PROVED_M)
    d = th.derive_rmsnorm_backward()
    assert d.agrees(), d.to_markdown()
    with pytest.raises(ValueError, match="max_m"):
        th.rmsnorm_backward_proved(0)
    with pytest.raises(TypeError, match="max_m"):
        th.rmsnorm_backward_proved(2.0)


def test_rmsnorm_proof_fails_on_the_centred_formula(monkeypatch):
    """The proof can fail: LayerNorm's formula (with the mean term) is not RMSNorm's."""
    right = th._rms_gradient

    def centred(m, i):
        b = th._rms(m)
        gp = [ga * gi for ga, gi in zip(b.gamma, b.g, strict=True)]
        return right(m, i) - sum(gp) / m / b.r

    th._rms_proved.cache_clear()
    monkeypatch.setattr(th, "_rms_gradient", centred)
    try:
        assert th.rmsnorm_backward_proved(2) is False
    finally:
        th._rms_proved.cache_clear()
