"""Optimizer side of the regularization claims (issue 14 §2-3): L2 and weight decay against
torch.optim step by step, coupled vs decoupled decay, L1 by subgradient vs ISTA, monotone
training loss, minibatch-gradient noise.

Claims: theory/claims/regularization.yaml (``d002.reg.l2-gradient``, ``l2-update``,
``l2-is-weight-decay``, ``l1-subgradient``, ``l1-sparse``, ``l1-feature-selection``,
``training-monotone``, ``sgd-unbiased-noise``, ``sgd-noise-scale``). Kernels:
kernels.cpu.optim (``sgd_step``, ``sgdw_step``, ``adam_step``, ``adamw_step``,
``l1_subgradient_step``, ``ista_step``, ``soft_threshold``, ``loss_and_grad``,
``per_example_gradients``, ``minibatch_indices``, ``run``).

Conventions: 002's L2 penalty is λ/2‖θ‖² (gradient λθ); torch's SGD/Adam ``weight_decay`` adds
wd·θ to the gradient (λ = wd); AdamW/SGDW decay decoupled and lr-multiplied θ ← (1 − η·wd)θ.
Losses are mean losses unless stated (λ then means N times more than with a summed loss).
Minibatch covariance: Σ is the population (1/N) covariance of the per-example gradients.
Statistical checks: false alarm ≤ 1e-6 per test (union bound over its parts), seeds drawn
by hypothesis, intervals from numerics.stats (Hoeffding, rigorous).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import optim as O
from numerics.stats import hoeffding_halfwidth
from numerics.tolerances import assert_close

SEEDS = st.integers(0, 2**32 - 1)
F64 = np.float64


def _problem(seed: int, n: int = 8, d: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    return X, y, rng.standard_normal(d)


def _torch_loss(theta, X, y):
    r = torch.from_numpy(X) @ theta - torch.from_numpy(y)
    return 0.5 * (r * r).mean()


# L2: gradient and update ----------------------------------------------------------------


@pytest.mark.claim("d002.reg.l2-gradient", "d002.reg.l2-update")
@given(seed=SEEDS, lr=st.floats(1e-3, 0.3), lam=st.floats(0.0, 2.0))
def test_sgd_weight_decay_is_l2_step_by_step(seed, lr, lam):
    """torch.optim.SGD(weight_decay=λ) = (1−ηλ)θ − η∇L = sgd_step, for 5 steps, and the
    gradient of L + λ/2‖θ‖² by autograd = ∇L + λθ (float64, to rounding)."""
    X, y, theta0 = _problem(seed)
    p = torch.tensor(theta0, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, weight_decay=lam)
    ours, state = theta0.copy(), {}
    for _ in range(5):
        loss, g = O.loss_and_grad(ours, X, y)
        assert_close(np.array(loss), _torch_loss(torch.tensor(ours), X, y).numpy(), F64)
        q = p.detach().clone().requires_grad_(True)
        (_torch_loss(q, X, y) + 0.5 * lam * (q * q).sum()).backward()
        assert_close(q.grad.numpy(), g + lam * ours, F64, context="autograd of L + λ/2‖θ‖²")
        closed = (1 - lr * lam) * ours - lr * g
        opt.zero_grad()
        _torch_loss(p, X, y).backward()
        assert_close(p.grad.numpy(), g, F64, context="∇L")
        opt.step()
        ours, state = O.sgd_step(ours, g, state, lr=lr, weight_decay=lam)
        assert_close(p.detach().numpy(), closed, F64, context="torch vs (1−ηλ)θ − η∇L")
        assert_close(ours, closed, F64, context="sgd_step vs (1−ηλ)θ − η∇L")


@pytest.mark.claim("d002.reg.l2-update")
@pytest.mark.parametrize(
    ("eta_lam", "behaviour"), [(0.5, "shrink"), (1.5, "flip"), (2.0, "flip"), (2.5, "grow")]
)
def test_decay_factor_shrinks_only_for_small_steps(eta_lam, behaviour):
    """With L = 0 (∇L = 0) the update is θ_k = (1−ηλ)^k θ_0: |θ| shrinks only for
    0 < ηλ < 2; the sign flips every step for ηλ > 1; |θ| stays at ηλ = 2, grows beyond."""
    theta, state = np.array([1.0, -2.0]), {}
    lr, lam = 0.5, eta_lam / 0.5
    for k in range(1, 6):
        prev = theta
        theta, state = O.sgd_step(theta, np.zeros(2), state, lr=lr, weight_decay=lam)
        assert_close(theta, (1 - eta_lam) ** k * np.array([1.0, -2.0]), F64)
        ratio = np.abs(theta) / np.abs(prev)
        if behaviour == "shrink":
            assert np.all(ratio < 1) and np.all(np.sign(theta) == np.sign(prev))
        elif behaviour == "flip":
            assert np.all(np.sign(theta) == -np.sign(prev)) and np.all(ratio <= 1)
        else:
            assert np.all(ratio > 1) and np.all(np.sign(theta) == -np.sign(prev))


@pytest.mark.claim("d002.reg.l2-update")
@given(seed=SEEDS, lam=st.floats(0.05, 2.0))
@settings(max_examples=15)  # 3000 GD steps each
def test_l2_fixed_point_is_ridge_not_zero(seed, lam):
    """GD on the mean loss + λ/2‖θ‖² converges to ridge (XᵀX/N + λI)⁻¹Xᵀy/N, not to 0:
    ridge is a fixed point of sgd_step(weight_decay=λ), 0 is not."""
    X, y, theta0 = _problem(seed)
    n = X.shape[0]
    H = X.T @ X / n + lam * np.eye(3)
    ridge = np.linalg.solve(H, X.T @ y / n)
    lr = 1.0 / np.linalg.eigvalsh(H).max()
    again, _ = O.sgd_step(ridge, O.loss_and_grad(ridge, X, y)[1], {}, lr=lr, weight_decay=lam)
    assert_close(again, ridge, F64, context="ridge is a fixed point")
    moved, _ = O.sgd_step(np.zeros(3), O.loss_and_grad(np.zeros(3), X, y)[1], {}, lr, 0, 0, lam)
    assert np.any(moved != 0)
    theta, _ = O.run(X, y, theta0, lr=lr, steps=3000, penalty="l2", lam=lam)
    assert_close(theta, ridge, F64, context="fixed point")
    # it is not 0 unless Xᵀy = 0
    assert np.linalg.norm(theta) > 0.5 * np.linalg.norm(ridge) > 0


# coupled vs decoupled decay --------------------------------------------------------------


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
@given(seed=SEEDS, lr=st.floats(1e-3, 0.3), wd=st.floats(0.0, 2.0))
def test_plain_sgd_coupled_equals_decoupled(seed, lr, wd):
    """Without momentum, coupled L2 (SGD) and lr-multiplied decoupled decay (SGDW) with the
    same wd give the same iterates (to rounding); torch.optim.AdamW's convention."""
    X, y, a = _problem(seed)
    b, sa, sb = a.copy(), {}, {}
    for _ in range(10):
        a, sa = O.sgd_step(a, O.loss_and_grad(a, X, y)[1], sa, lr=lr, weight_decay=wd)
        b, sb = O.sgdw_step(b, O.loss_and_grad(b, X, y)[1], sb, lr=lr, weight_decay=wd)
        assert_close(a, b, F64)


def _train(step, X, y, theta0, k, **kw):
    t, s = theta0.copy(), {}
    for _ in range(k):
        t, s = step(t, O.loss_and_grad(t, X, y)[1], s, **kw)
    return t


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
def test_coupled_and_decoupled_diverge_with_momentum_and_adam():
    """Measured divergence after k = 50 steps on a fixed linear regression (seed 0, N = 8,
    d = 3, wd = 0.1): SGD vs SGDW with momentum 0.9 (lr 0.05), Adam vs AdamW (lr 0.05).
    Numbers are printed for the ledger; each gap must be far above rounding."""
    X, y, t0 = _problem(0)
    k, wd = 50, 0.1
    sgd = _train(O.sgd_step, X, y, t0, k, lr=0.05, momentum=0.9, weight_decay=wd)
    sgdw = _train(O.sgdw_step, X, y, t0, k, lr=0.05, momentum=0.9, weight_decay=wd)
    plain = _train(O.sgd_step, X, y, t0, k, lr=0.05, weight_decay=wd)
    plainw = _train(O.sgdw_step, X, y, t0, k, lr=0.05, weight_decay=wd)
    adam = _train(O.adam_step, X, y, t0, k, lr=0.05, weight_decay=wd)
    adamw = _train(O.adamw_step, X, y, t0, k, lr=0.05, weight_decay=wd)
    gaps = {
        "sgd-vs-sgdw(momentum 0.9)": np.abs(sgd - sgdw).max(),
        "sgd-vs-sgdw(no momentum)": np.abs(plain - plainw).max(),
        "adam-vs-adamw": np.abs(adam - adamw).max(),
    }
    print("divergence after 50 steps (max |Δθ|):", gaps)
    assert gaps["sgd-vs-sgdw(no momentum)"] < 1e-12
    assert gaps["sgd-vs-sgdw(momentum 0.9)"] > 1e-3
    assert gaps["adam-vs-adamw"] > 1e-3


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
def test_fixed_points_coupled_vs_decoupled():
    """Where each optimizer converges (same problem, wd = 0.1, lr = 0.05): coupled SGD with
    momentum and coupled Adam reach ridge(λ = wd) (gradient ∇L + wd·θ = 0); SGDW with momentum
    μ (dampening 0) reaches ridge(λ = wd·(1−μ)) — fixed point of b = μb + ∇L, θ = (1−η·wd)θ − ηb;
    AdamW's fixed point satisfies ∇L/(|∇L| + ε) ≈ −wd·θ per coordinate, i.e. ≈ the
    *unregularized* least-squares solution when wd·|θ| < 1: after 5000 steps it is within
    0.0014 of OLS and 0.35 from ridge(wd)."""
    X, y, t0 = _problem(0)
    n, wd, mu = X.shape[0], 0.1, 0.9

    def ridge(lam):
        return np.linalg.solve(X.T @ X / n + lam * np.eye(3), X.T @ y / n)

    kw = {"lr": 0.05, "weight_decay": wd}
    sgd = _train(O.sgd_step, X, y, t0, 2000, momentum=mu, **kw)
    sgdw = _train(O.sgdw_step, X, y, t0, 2000, momentum=mu, **kw)
    adam = _train(O.adam_step, X, y, t0, 5000, **kw)
    adamw = _train(O.adamw_step, X, y, t0, 5000, **kw)
    assert_close(sgd, ridge(wd), F64, context="SGD+momentum, coupled")
    assert_close(sgdw, ridge(wd * (1 - mu)), F64, context="SGDW+momentum")
    assert_close(adam, ridge(wd), F64, context="Adam, coupled")
    to_ols, to_ridge = np.abs(adamw - ridge(0.0)).max(), np.abs(adamw - ridge(wd)).max()
    print("AdamW: distance to OLS", to_ols, "to ridge(wd)", to_ridge)
    assert to_ols < 0.01 * to_ridge and to_ridge > 0.3


@pytest.mark.claim("d002.reg.l2-is-weight-decay")
@given(
    seed=SEEDS,
    lr=st.floats(1e-3, 0.2),
    wd=st.floats(0.0, 1.0),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    dampening=st.sampled_from([0.0, 0.3]),
    nesterov=st.booleans(),
    amsgrad=st.booleans(),
    maximize=st.booleans(),
    b1=st.sampled_from([0.0, 0.3, 0.6, 0.9]),
)
@settings(max_examples=40)
def test_steps_match_torch_optim(
    seed, lr, wd, momentum, dampening, nesterov, amsgrad, maximize, b1
):
    """sgd_step/adam_step/adamw_step = torch.optim.SGD/Adam/AdamW for 6 steps (float64)."""
    X, y, t0 = _problem(seed)
    nesterov = nesterov and momentum > 0 and dampening == 0
    sgd_kw = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}
    cases = [
        (torch.optim.SGD, O.sgd_step, sgd_kw),
        (torch.optim.Adam, O.adam_step, {"amsgrad": amsgrad, "betas": (b1, 0.99)}),
        (torch.optim.AdamW, O.adamw_step, {"amsgrad": amsgrad, "betas": (b1, 0.99)}),
    ]
    for tcls, ours_step, kw in cases:
        p = torch.tensor(t0, requires_grad=True)
        opt = tcls([p], lr=lr, weight_decay=wd, maximize=maximize, **kw)
        ours, s = t0.copy(), {}
        for _ in range(6):
            opt.zero_grad()
            _torch_loss(p, X, y).backward()
            opt.step()
            ours, s = ours_step(
                ours, O.loss_and_grad(ours, X, y)[1], s, lr=lr, weight_decay=wd,
                maximize=maximize, **kw,
            )  # fmt: skip
            assert_close(ours, p.detach().numpy(), F64, context=tcls.__name__)


@given(seed=SEEDS, scale=st.sampled_from([1.0, 30.0]), reduction=st.sampled_from(["mean", "sum"]))
def test_logistic_loss_and_gradient_match_torch(seed, scale, reduction):
    """Logistic loss (labels 0/1) = torch's binary_cross_entropy_with_logits and its autograd
    gradient, also for large |logits|; the per-example gradients average to the mean gradient."""
    rng = np.random.default_rng(seed)
    X, t = scale * rng.standard_normal((7, 3)), rng.standard_normal(3)
    y = (rng.random(7) < 0.5).astype(np.float64)
    loss, g = O.loss_and_grad(t, X, y, model="logistic", reduction=reduction)
    tt = torch.tensor(t, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(X) @ tt, torch.from_numpy(y), reduction=reduction
    )
    ref.backward()
    assert_close(np.array(loss), ref.detach().numpy(), F64)
    assert_close(g, tt.grad.numpy(), F64)
    per = O.per_example_gradients(t, X, y, model="logistic")
    assert_close(per.mean(axis=0), O.loss_and_grad(t, X, y, "logistic")[1], F64)


@given(seed=SEEDS, reduction=st.sampled_from(["mean", "sum"]), lam=st.floats(0.0, 0.5))
def test_sgd_with_full_batch_without_replacement_is_gd(seed, reduction, lam):
    """B = N without replacement: every minibatch is a permutation of the data, so SGD's
    iterates equal GD's (summed loss: the minibatch mean gradient is scaled by N)."""
    X, y, t0 = _problem(seed)
    lr = 0.02 if reduction == "sum" else 0.1
    kw = {"lr": lr, "steps": 5, "reduction": reduction, "penalty": "l2", "lam": lam}
    gd, obj = O.run(X, y, t0, **kw)
    loss = O.loss_and_grad(gd, X, y, reduction=reduction)[0]
    assert_close(np.array(obj[-1]), np.array(loss + 0.5 * lam * gd @ gd), F64, context="λ/2‖θ‖²")
    sgd, _ = O.run(
        X, y, t0, algorithm="sgd", batch_size=8, generator=np.random.default_rng(seed), **kw
    )
    assert_close(sgd, gd, F64)


# L1: subgradient vs proximal --------------------------------------------------------------


@pytest.mark.claim("d002.reg.l1-subgradient")
def test_sign_zero_convention():
    """torch.sign(0) = 0 and autograd of |θ| at 0 gives 0: one element of the
    subdifferential [−λ, λ]; 0 minimizes ½(θ−z)² + λ|θ| iff z ∈ [−λ, λ] (grid check)."""
    assert torch.sign(torch.tensor(0.0)).item() == 0.0
    t = torch.tensor(0.0, requires_grad=True)
    (2.5 * t.abs()).backward()
    assert t.grad.item() == 0.0
    grid = np.linspace(-3, 3, 6001)
    for z in (-1.5, -1.0, -0.2, 0.0, 0.7, 1.0, 1.2):
        f = 0.5 * (grid - z) ** 2 + 1.0 * np.abs(grid)
        best = grid[np.argmin(f)]
        assert (abs(best) < 1e-9) == (abs(z) <= 1.0)
        assert_close(np.array(best), O.soft_threshold(np.array(z), 1.0), F64)


@pytest.mark.claim("d002.reg.l1-subgradient", "d002.reg.l1-sparse")
@given(z=st.floats(-0.9, 0.9), lr=st.floats(0.01, 0.2))
def test_subgradient_never_zero_ista_exact_zero(z, lr):
    """1-D lasso ½(θ − z)² + λ|θ| with λ = 1 > |z|: solution 0. Subgradient descent from 1
    never hits 0 exactly here and ends oscillating with amplitude ≤ η(λ + |z|); ISTA reaches
    exactly 0 and stays."""
    lam, theta, tail = 1.0, np.array([1.0]), []
    for k in range(400):
        theta = O.l1_subgradient_step(theta, theta - z, lr, lam)
        if k >= 300:
            tail.append(theta[0])
    tail = np.array(tail)
    amp = np.abs(tail).max()
    if np.all(tail != 0):
        assert amp <= lr * (lam + abs(z)) * (1 + 1e-12)
        assert amp >= 0.5 * lr * (lam - abs(z))
    else:  # an exact 0 is possible only by a rounding coincidence: it must be rare
        assert np.count_nonzero(tail == 0) <= 2
    x = np.array([1.0])
    for _ in range(400):
        x = O.ista_step(x, x - z, lr, lam)
    assert x[0] == 0.0


@pytest.mark.claim("d002.reg.l1-subgradient")
def test_subgradient_example_oscillates():
    """Deterministic counterexample: z = 0.3, λ = 1, η = 0.1: 1000 steps, no exact zero,
    amplitude printed."""
    theta, path = np.array([1.0]), []
    for _ in range(1000):
        theta = O.l1_subgradient_step(theta, theta - 0.3, 0.1, 1.0)
        path.append(theta[0])
    path = np.array(path)
    print("subgradient tail |θ| max:", np.abs(path[-100:]).max(), "ηλ = 0.1")
    assert np.all(path != 0)
    assert 0.05 < np.abs(path[-100:]).max() <= 0.13


@pytest.mark.claim("d002.reg.l1-sparse", "d002.reg.l1-feature-selection")
@given(seed=SEEDS, lam=st.floats(0.0, 3.0))
def test_ista_orthogonal_design_is_soft_threshold(seed, lam):
    """Orthogonal design XᵀX = I, summed loss ½‖y − Xθ‖² + λ‖θ‖₁: ISTA (η = 1) reaches the
    closed-form lasso S_λ(Xᵀy) in one step, which is a fixed point; its number of zeros is
    #{j : |Xᵀy|_j ≤ λ}, non-decreasing in λ."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 4)))
    y = rng.standard_normal(10) * 2
    closed = O.soft_threshold(Q.T @ y, lam)
    theta, obj = O.run(
        Q, y, rng.standard_normal(4), lr=1.0, steps=3, algorithm="ista", penalty="l1",
        lam=lam, reduction="sum",
    )  # fmt: skip
    assert_close(theta, closed, F64)
    lasso = 0.5 * np.sum((y - Q @ theta) ** 2) + lam * np.abs(theta).sum()
    assert_close(np.array(obj[-1]), np.array(lasso), F64, context="½‖y − Xθ‖² + λ‖θ‖₁")
    assert np.count_nonzero(theta == 0) == np.count_nonzero(np.abs(Q.T @ y) <= lam)
    assert np.all(np.diff(obj[1:]) <= 1e-12)
    bigger = O.soft_threshold(Q.T @ y, lam + 0.5)
    assert np.count_nonzero(bigger == 0) >= np.count_nonzero(closed == 0)


@pytest.mark.claim("d002.reg.l1-feature-selection")
def test_correlated_features_lasso_picks_wrong_one():
    """Minimal example (N = 3, d = 2, unit-norm columns, correlation 0.95): y = x₁ + e with
    noise e = (0, 0.2, 0.3) ⟂ x₁ (OLS: 0.39·x₁ + 0.64·x₂). x₂ᵀy = 0.95 + 0.2·√(1−0.95²) ≈
    1.0124 > x₁ᵀy = 1, so for λ ∈ (1, 1.0124) the lasso (ISTA, exact zeros, KKT checked)
    keeps only the *wrong* feature x₂; x₁ enters only below λ = 0.0382/0.05 ≈ 0.764 (split)."""
    c = 0.95
    X = np.array([[1.0, c], [0.0, math.sqrt(1 - c * c)], [0.0, 0.0]])
    y = X[:, 0] + np.array([0.0, 0.2, 0.3])
    assert X[:, 1] @ y > X[:, 0] @ y == 1.0
    H = X.T @ X
    lr = 1.0 / np.linalg.eigvalsh(H).max()

    def lasso(lam):
        t, _ = O.run(
            X, y, np.zeros(2), lr=lr, steps=4000, algorithm="ista", penalty="l1", lam=lam,
            reduction="sum",
        )  # fmt: skip
        # KKT: X_jᵀ(y − Xθ) = λ sign θ_j where θ_j ≠ 0, |·| ≤ λ where θ_j = 0
        r = X.T @ (y - X @ t)
        for j in range(2):
            if t[j] != 0:
                assert abs(r[j] - lam * np.sign(t[j])) < 1e-9
            else:
                assert abs(r[j]) <= lam + 1e-9
        return t

    wrong = lasso(1.005)
    assert wrong[0] == 0.0 and wrong[1] > 0
    split = lasso(0.3)
    print("λ=1.005:", wrong, "λ=0.3:", split)
    assert np.all(split != 0)
    assert lasso(0.8)[0] == 0.0 and lasso(0.7)[0] > 0  # x₁ enters near λ = 0.764
    assert np.all(lasso(1.2) == 0)


# training loss monotone --------------------------------------------------------------------

_XD = np.array([[math.sqrt(2.0), 0.0], [0.0, math.sqrt(8.0)]])  # XᵀX/N = diag(1, 4)


@pytest.mark.claim("d002.reg.training-monotone")
@given(frac=st.floats(0.01, 0.999), seed=SEEDS)
def test_gd_monotone_below_two_over_lmax(frac, seed):
    """Linear regression, mean loss, Hessian XᵀX/N = diag(1, 4): GD with η = frac·2/λ_max
    never increases the training loss (strictly decreases while it is above rounding)."""
    y = np.random.default_rng(seed).standard_normal(2)
    _, obj = O.run(_XD, y, np.zeros(2), lr=frac * 0.5, steps=60)
    assert np.all(np.diff(obj) <= 0)


@pytest.mark.claim("d002.reg.training-monotone")
@given(over=st.floats(1.001, 1.5), seed=SEEDS)
def test_gd_increases_above_two_over_lmax(over, seed):
    """η = over·2/λ_max: the component along the top eigenvector is multiplied by
    1 − 4η < −1 each step; with it nonzero the loss eventually increases (exactly
    L_k − L* = 2(1−4η)^{2k}δ² in that direction)."""
    rng = np.random.default_rng(seed)
    y, t0 = rng.standard_normal(2), np.array([0.0, 1.0]) + rng.standard_normal(2)
    eta = over * 0.5
    star = np.array([y[0] / math.sqrt(2), y[1] / math.sqrt(8)])  # exact solution
    k = 40
    theta, obj = O.run(_XD, y, t0, lr=eta, steps=k)
    assert_close(theta[1] - star[1], (1 - 4 * eta) ** k * (t0[1] - star[1]), F64)
    if abs(t0[1] - star[1]) > 1e-3 and over > 1.01:
        assert np.any(np.diff(obj) > 0)
        assert obj[-1] > obj[-2]


@pytest.mark.claim("d002.reg.training-monotone")
def test_gd_exact_divergence_and_sgd_not_monotone():
    """η = 0.6 > 2/λ_max = 0.5 on diag(1, 4): the loss grows like 1.4^{2k} (exact ratio after the
    slow direction has converged). SGD (B = 1, seeded Generator(1)) on a noisy regression at a
    small stable step: its full training loss increases at some step (a deterministic
    example, not a probability claim)."""
    _, obj = O.run(_XD, np.zeros(2), np.array([0.0, 1.0]), lr=0.6, steps=10)
    assert_close(obj[1:] / obj[:-1], np.full(10, 1.4**2), F64)
    X, y, t0 = _problem(3, n=20)
    _, obj = O.run(
        X, y, t0, lr=0.05, steps=200, algorithm="sgd", batch_size=1,
        generator=np.random.default_rng(1),
    )  # fmt: skip
    ups = np.flatnonzero(np.diff(obj) > 0)
    print("SGD loss increases at steps", ups[:10], "of", len(obj) - 1)
    assert len(ups) > 0
    _, gd = O.run(X, y, t0, lr=0.05, steps=200)
    assert np.all(np.diff(gd) <= 0)


# minibatch gradient noise -------------------------------------------------------------------


@pytest.mark.claim("d002.reg.sgd-unbiased-noise", "d002.reg.sgd-noise-scale")
@given(seed=SEEDS, n=st.integers(2, 6), lr=st.floats(0.01, 1.0))
@settings(max_examples=25)
def test_minibatch_moments_exact_enumeration(seed, n, lr):
    """All minibatches of size B (ordered tuples with replacement, subsets without): mean =
    full gradient; covariance = Σ/B and Σ/B·(N−B)/(N−1); update −η g_B covariance η²Σ/B."""
    X, y, t = _problem(seed, n=n, d=2)
    G = O.per_example_gradients(t, X, y)
    full = O.loss_and_grad(t, X, y)[1]
    sigma = (G - full).T @ (G - full) / n
    for b in range(1, min(n, 4) + 1):
        for replace, batches, factor in (
            (True, itertools.product(range(n), repeat=b), 1.0),
            (False, itertools.combinations(range(n), b), (n - b) / (n - 1)),
        ):
            gb = np.array([G[list(idx)].mean(axis=0) for idx in batches])
            assert_close(gb.mean(axis=0), full, F64, context=f"mean B={b} {replace}")
            cov = (gb - full).T @ (gb - full) / len(gb)
            assert_close(cov, sigma / b * factor, F64, context=f"cov B={b} {replace}")
            upd = -lr * gb
            ucov = (upd + lr * full).T @ (upd + lr * full) / len(gb)
            assert_close(ucov, lr**2 * sigma / b * factor, F64)


@pytest.mark.claim("d002.reg.sgd-unbiased-noise", "d002.reg.sgd-noise-scale")
@given(seed=SEEDS)
@settings(max_examples=3)
def test_minibatch_variance_monte_carlo(seed):
    """minibatch_indices, N = 6, B = 3, per-example gradients two-point {0, 1} (σ² = 1/4):
    mean of (g_B − ḡ)² = σ²/B = 1/12 with replacement, 1/12·3/5 = 1/20 without; and E g_B = ḡ.
    Hoeffding intervals (values in [0, 1/4], resp. [0, 1]), 10⁴ draws each, false alarm
    2.5e-7 per part, 1e-6 in total. The two predictions differ by 0.033, the half-width is
    0.007: the check tells the schemes apart."""
    X = np.ones((6, 1))
    y = -np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # per-example gradient θ − y_i at θ = 0
    G = O.per_example_gradients(np.zeros(1), X, y)[:, 0]
    rng = np.random.default_rng(seed)
    m, alpha = 10_000, 2.5e-7
    for replace, expected in ((True, 1 / 12), (False, 1 / 20)):
        gb = np.array([G[O.minibatch_indices(6, 3, rng, replace)].mean() for _ in range(m)])
        assert abs(gb.mean() - 0.5) <= hoeffding_halfwidth(m, 1.0, alpha)
        dev = (gb - 0.5) ** 2
        assert abs(dev.mean() - expected) <= hoeffding_halfwidth(m, 0.25, alpha)
