"""MAML on quadratic tasks (exact, SymPy; numeric, torch.func) and FiLM.

Claims: theory/claims/future.2-meta.yaml.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import maml as K
from numerics.gradcheck import assert_grad_close, central_difference
from theory import maml as T

SEEDS = st.integers(0, 2**32 - 1)


def _task(rng: np.random.Generator, n: int = 3):
    m = rng.standard_normal((n, n))
    A = m @ m.T / n
    m = rng.standard_normal((n, n))
    B = m @ m.T / n
    return rng.standard_normal(n), A, rng.standard_normal(n), B, rng.standard_normal(n)


def _torch_meta(theta, A, a, B, b, lr, steps, first_order):
    A_, a_, B_, b_ = (torch.tensor(v) for v in (A, a, B, b))

    def inner(t):
        return 0.5 * (t - a_) @ A_ @ (t - a_)

    def outer(t):
        x = t
        for _ in range(steps):
            g = torch.func.grad(inner)(x)
            x = x - lr * (g.detach() if first_order else g)
        if first_order:  # FO-MAML: gradient at the adapted point, no Jacobian
            x = t + (x - t).detach()
        return 0.5 * (x - b_) @ B_ @ (x - b_)

    return torch.func.grad(outer)(torch.tensor(theta)).numpy()


@pytest.mark.claim("d000.future.meta-maml", "d000.future.meta-k-steps")
@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, steps=st.integers(1, 3), lr=st.floats(0.01, 0.5), fo=st.booleans())
def test_maml_kernel_matches_torch_func(seed: int, steps: int, lr: float, fo: bool) -> None:
    theta, A, a, B, b = _task(np.random.default_rng(seed))
    mine = K.maml_quadratic_meta_gradient(theta, A, a, B, b, lr, steps, first_order=fo)
    ref = _torch_meta(theta, A, a, B, b, lr, steps, fo)
    np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)
    if not fo:  # also against central differences of the adapted query loss

        def adapted(t: np.ndarray) -> np.ndarray:
            x = t
            for _ in range(steps):
                x = x - lr * A @ (x - a)
            return np.array(0.5 * (x - b) @ B @ (x - b))

        assert_grad_close(mine, central_difference(adapted, theta, np.array(1.0)))


@pytest.mark.claim("d000.future.meta-maml", "d000.future.meta-fo-gap")
def test_maml_derivation() -> None:
    assert T.derive_maml_meta_gradient().agrees()


@pytest.mark.claim("d000.future.meta-k-steps")
@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_step_closed_form_symbolic(k: int) -> None:
    p = T.maml_quadratic(k, 2)
    assert (p["meta_gradient"] - p["closed_form"]).expand() == sympy.zeros(2, 1)


@pytest.mark.claim("d000.future.meta-fo-gap")
@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, lr=st.floats(0.05, 0.5))
def test_fo_gap_and_exact_condition(seed: int, lr: float) -> None:
    rng = np.random.default_rng(seed)
    theta, A, a, B, b = _task(rng)
    exact = K.maml_quadratic_meta_gradient(theta, A, a, B, b, lr)
    fo = K.maml_quadratic_meta_gradient(theta, A, a, B, b, lr, first_order=True)
    x = theta - lr * A @ (theta - a)
    np.testing.assert_allclose(exact - fo, -lr * A @ B @ (x - b), rtol=1e-9, atol=1e-12)
    # Same loss inside and out; eigenvalues in {0, 1/lr}: gap 0 for every theta.
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    A0 = q @ np.diag([0.0, 1 / lr, 1 / lr]) @ q.T
    A0 = (A0 + A0.T) / 2
    gap = K.maml_quadratic_meta_gradient(theta, A0, a, A0, a, lr) - K.maml_quadratic_meta_gradient(
        theta, A0, a, A0, a, lr, first_order=True
    )
    np.testing.assert_allclose(gap, 0, atol=1e-9 * (1 + np.abs(theta - a).max() / lr**2))
    # Commuting (A = B) with an eigenvalue outside {0, 1/lr}: the gap is not 0.
    A1 = q @ np.diag([0.0, 0.5 / lr, 1 / lr]) @ q.T
    A1 = (A1 + A1.T) / 2
    t1 = a + q[:, 1]
    gap1 = K.maml_quadratic_meta_gradient(t1, A1, a, A1, a, lr) - K.maml_quadratic_meta_gradient(
        t1, A1, a, A1, a, lr, first_order=True
    )
    assert np.linalg.norm(gap1) > 1e-3 / lr


@pytest.mark.claim("d000.future.meta-task-conditional")
@settings(max_examples=20, deadline=None)
@given(seed=SEEDS)
def test_film_forward_backward_and_linear_equivalence(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 4, 2))
    gamma, beta = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    g = rng.standard_normal(x.shape)
    y = K.film(x, gamma, beta)
    xt, gt, bt = (torch.tensor(v, requires_grad=True) for v in (x, gamma, beta))
    yt = xt * gt[:, :, None, None] + bt[:, :, None, None]
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
    yt.backward(torch.tensor(g))
    gx, gg, gb = K.film_backward(g, x, gamma)
    for mine, ref in ((gx, xt.grad), (gg, gt.grad), (gb, bt.grad)):
        assert_grad_close(mine, ref.numpy())
    assert_grad_close(gx, central_difference(lambda v: K.film(v, gamma, beta), x, g))
    assert_grad_close(gg, central_difference(lambda v: K.film(x, v, beta), gamma, g))
    assert_grad_close(gb, central_difference(lambda v: K.film(x, gamma, v), beta, g))
    # FiLM then linear == linear with W diag(gamma), bias W beta + c (2-D features).
    x2 = rng.standard_normal((2, 3))
    W, c = rng.standard_normal((5, 3)), rng.standard_normal(5)
    lhs = K.film(x2, gamma, beta) @ W.T + c
    rhs = np.stack([W @ np.diag(gamma[n]) @ x2[n] + W @ beta[n] + c for n in range(2)])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


@pytest.mark.claim("d000.future.meta-task-conditional")
def test_film_derivation() -> None:
    assert T.derive_film_linear().agrees()
