"""Capsules (Sabour, Frosst & Hinton 2017): squash, routing by agreement, CapsNet's size.

Claims: theory/claims/future.6-capsules.yaml. Gradients of squash are checked three ways
(analytic kernel, central differences, torch autograd). The routing test includes a kernel
with the softmax over the wrong axis (input capsules) and shows the property test rejects it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import capsules as K
from numerics.gradcheck import assert_grad_close, central_difference
from theory import capsules as T

SEEDS = st.integers(0, 2**32 - 1)


def assert_close(a: object, b: object) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)


def _torch_squash(s: torch.Tensor) -> torch.Tensor:
    r = torch.linalg.vector_norm(s, dim=-1, keepdim=True)
    return s * (r / (1 + r * r))


@pytest.mark.claim("d000.future.capsules-pose-existence")
@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, scale=st.sampled_from([1e-6, 1e-2, 1.0, 10.0, 1e4]), d=st.integers(1, 16))
def test_squash_norm_below_one_direction_kept(seed: int, scale: float, d: int) -> None:
    s = np.random.default_rng(seed).standard_normal((5, d)) * scale
    v = K.squash(s)
    r = np.linalg.norm(s, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    assert np.all(nv >= 0) and np.all(nv < 1)
    assert_close(nv, r**2 / (1 + r**2))
    # direction: v = lambda * s with lambda >= 0
    lam = np.sum(v * s, axis=-1) / np.sum(s * s, axis=-1)
    assert np.all(lam >= 0)
    assert_close(v, lam[:, None] * s)


@pytest.mark.claim("d000.future.capsules-pose-existence", "d000.future.capsules-squash-at-zero")
def test_squash_derivation() -> None:
    assert T.derive_squash().agrees()


@pytest.mark.claim("d000.future.capsules-squash-at-zero")
@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, dim=st.sampled_from([0, 1, -1]))
def test_squash_gradient_three_ways(seed: int, dim: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((3, 4, 5))
    g = rng.standard_normal((3, 4, 5))
    analytic = K.squash_backward(g, s, dim=dim)
    assert_grad_close(analytic, central_difference(lambda x: K.squash(x, dim=dim), s, g))
    st_ = torch.tensor(np.moveaxis(s, dim, -1), requires_grad=True)
    _torch_squash(st_).backward(torch.tensor(np.moveaxis(g, dim, -1)))
    assert_grad_close(analytic, np.moveaxis(st_.grad.numpy(), -1, dim))


@pytest.mark.claim("d000.future.capsules-squash-at-zero")
def test_squash_at_zero_needs_no_epsilon() -> None:
    s = np.zeros((2, 4))
    s[1] = [1e-170, 0, 0, 0]  # r^2 underflows to 0 but r does not: still fine
    g = np.ones((2, 4))
    assert np.all(K.squash(s) == 0)
    gz = K.squash_backward(g, s)
    assert np.all(np.isfinite(gz)) and np.all(gz == 0)
    # The Jacobian is continuous at 0: near 0 the analytic gradient is O(r).
    tiny = np.full((1, 4), 1e-8)
    assert np.max(np.abs(K.squash_backward(np.ones((1, 4)), tiny))) < 1e-6
    # The pitfall: the paper's form s/||s|| through autograd gives NaN at 0 without an epsilon.
    t = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    r2 = (t * t).sum(-1, keepdim=True)
    (r2 / (1 + r2) * t / torch.sqrt(r2)).sum().backward()
    assert torch.isnan(t.grad).all()


def _routing_torch(u: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    b = torch.zeros(u.shape[:3], dtype=u.dtype)
    for it in range(iters):
        c = torch.softmax(b, dim=2)
        v = _torch_squash(torch.einsum("nij,nijd->njd", c, u))
        if it < iters - 1:
            b = b + torch.einsum("nijd,njd->nij", u, v)
    return v, c


def _routing_wrong_axis(u: np.ndarray, iters: int) -> np.ndarray:
    """The common bug: softmax over the input capsules i (axis 1)."""
    b = np.zeros(u.shape[:3])
    for it in range(iters):
        e = np.exp(b - b.max(axis=1, keepdims=True))
        c = e / e.sum(axis=1, keepdims=True)
        v = K.squash(np.einsum("nij,nijd->njd", c, u))
        if it < iters - 1:
            b = b + np.einsum("nijd,njd->nij", u, v)
    return c


def _couplings_sum_to_one_over_outputs(c: np.ndarray) -> bool:
    return bool(np.all(c >= 0) and np.allclose(c.sum(axis=2), 1.0, rtol=0, atol=1e-12))


@pytest.mark.claim("d000.future.capsules-routing-agreement")
@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    n_in=st.integers(2, 12),
    n_out=st.integers(2, 6),
    iters=st.integers(1, 4),
)
def test_routing_couplings_sum_over_outputs(seed: int, n_in: int, n_out: int, iters: int) -> None:
    u = np.random.default_rng(seed).standard_normal((2, n_in, n_out, 4))
    v, c = K.dynamic_routing(u, num_iterations=iters)
    assert _couplings_sum_to_one_over_outputs(c)
    assert np.all(np.linalg.norm(v, axis=-1) < 1)
    tv, tc = _routing_torch(torch.tensor(u), iters)
    assert_close(v, tv.numpy())
    assert_close(c, tc.numpy())
    # The wrong-axis kernel fails the same property (it sums to 1 over i instead).
    bad = _routing_wrong_axis(u, iters)
    if n_in != n_out or iters > 1:
        assert not _couplings_sum_to_one_over_outputs(bad)


@pytest.mark.claim("d000.future.capsules-routing-agreement")
def test_routing_agreement_raises_coupling() -> None:
    # Two output capsules; every input predicts the same vector for j = 0 (agreement) and
    # scattered vectors for j = 1: routing moves the coupling towards j = 0.
    rng = np.random.default_rng(0)
    u = np.empty((1, 8, 2, 4))
    u[0, :, 0] = [1.0, 0.5, 0.0, 0.0]
    u[0, :, 1] = rng.standard_normal((8, 4))
    _, c1 = K.dynamic_routing(u, 1)
    _, c3 = K.dynamic_routing(u, 3)
    assert np.allclose(c1, 0.5)
    assert c3[0, :, 0].mean() > 0.5


class _CapsNet(torch.nn.Module):
    """CapsNet's layers as parameters (Sabour et al. §4), built here to count them."""

    def __init__(self, decoder: bool) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 256, 9)
        self.primary = torch.nn.Conv2d(256, 32 * 8, 9, stride=2)
        self.W = torch.nn.Parameter(torch.zeros(1152, 10, 16, 8))
        self.decoder = (
            torch.nn.Sequential(
                torch.nn.Linear(160, 512), torch.nn.Linear(512, 1024), torch.nn.Linear(1024, 784)
            )
            if decoder
            else None
        )

    def primary_caps(self, x: torch.Tensor) -> torch.Tensor:
        h = self.primary(torch.relu(self.conv1(x)))
        n = h.shape[0]
        return h.view(n, 32, 8, 6, 6).permute(0, 1, 3, 4, 2).reshape(n, -1, 8)


@pytest.mark.claim("d000.future.capsules-capsnet-params", "d000.future.capsules-primary")
@pytest.mark.parametrize("decoder", [False, True])
def test_capsnet_parameter_count(decoder: bool) -> None:
    net = _CapsNet(decoder)
    counted = sum(p.numel() for p in net.parameters())
    mine = T.capsnet_params(decoder=decoder)
    assert mine["total"] == counted
    assert mine["total"] == (8_215_568 if decoder else 6_804_224)
    assert round(mine["total"] / 1e6, 1) == (8.2 if decoder else 6.8)  # the paper's §5 figures
    with torch.no_grad():
        caps = net.primary_caps(torch.zeros(1, 1, 28, 28))
    assert caps.shape == (1, 1152, 8)
    assert net.W.shape[0] == caps.shape[1]


_SHIFT_NET: list[_CapsNet] = []


def _primary_grid(x: torch.Tensor) -> np.ndarray:
    """Squashed primary capsules on their grid: (N, 32, G, G, 8), float64."""
    if not _SHIFT_NET:
        torch.manual_seed(0)
        _SHIFT_NET.append(_CapsNet(False).double())
    net = _SHIFT_NET[0]
    with torch.no_grad():
        h = net.primary(torch.relu(net.conv1(x)))
    n, _, g, g2 = h.shape
    return K.squash(h.view(n, 32, 8, g, g2).permute(0, 1, 3, 4, 2).numpy())


@pytest.mark.claim("d000.future.capsules-equivariant")
@settings(max_examples=6, deadline=None)
@given(seed=SEEDS, a=st.integers(0, 2), b=st.integers(0, 2))
def test_primary_capsules_shift_by_two_pixels_shift_the_grid(seed: int, a: int, b: int) -> None:
    # A 33x33 scene; the image is its 28x28 crop at (0, 0) and the crop moved by (2a, 2b):
    # no border values enter (valid convolutions), so the grid moves by (a, b) exactly.
    assert T.derive_primary_shift().agrees()
    scene = torch.tensor(np.random.default_rng(seed).standard_normal((1, 1, 33, 33)))
    base = _primary_grid(scene[..., :28, :28])
    moved = _primary_grid(scene[..., 2 * a : 2 * a + 28, 2 * b : 2 * b + 28])
    assert base.shape == moved.shape == (1, 32, 6, 6, 8)
    assert_close(moved[:, :, : 6 - a, : 6 - b], base[:, :, a:, b:])


@pytest.mark.claim("d000.future.capsules-equivariant")
def test_primary_capsules_one_pixel_shift_is_not_a_grid_shift() -> None:
    # The counterexample: a shift by 1 pixel (not a multiple of the stride 2) moves the
    # content between grid points; no grid shift of -1, 0 or 1 reproduces the output.
    scene = torch.tensor(np.random.default_rng(1).standard_normal((1, 1, 30, 30)))
    base = _primary_grid(scene[..., 1:29, 1:29])
    moved = _primary_grid(scene[..., 1:29, 2:30])  # one pixel along columns
    for s in (-1, 0, 1):
        lo, hi = max(0, -s), min(6, 6 - s)
        diff = np.abs(moved[:, :, :, lo:hi] - base[:, :, :, lo + s : hi + s]).max()
        assert diff > 1e-3, s
