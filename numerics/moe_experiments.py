r"""Mixture-of-experts and early-exit experiments: the load-balancing loss against routing
skew (figure), and a Monte-Carlo early-exit cost.

* :func:`skew_curve` — ``num_experts`` experts, every token's gate row
  :math:`p = (1-s)\,\mathbf 1/N + s\,e_0` (skew :math:`s\in[0,1]`, ties broken to expert 0):
  the kernel's loss :math:`N\sum_if_iP_i` is :math:`1 + s(N-1)` for :math:`s > 0` — and 1 at
  :math:`s = 0` although all tokens are dispatched to expert 0 (argmax ties).
* :func:`balance_loss_figure` — that curve for :math:`N = 2, 4, 8`, and for :math:`N = 2` the
  two-group routing of :func:`theory.moe.derive_balance_loss_min` (case :math:`f_0\ge 1/2`),
  whose minimum :math:`7/8` lies below the uniform value 1.
* :func:`early_exit_mc` — simulated cost of an early-exit network (Teerapittayanon et al.
  2016, BranchyNet), to compare with :func:`theory.moe.early_exit_cost`.
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import integer, real_number
from kernels.cpu.moe import load_balancing_loss
from numerics.experiments import _png, _pyplot

MAX_SAMPLES = 1 << 22


def skew_curve(num_experts: int = 4, points: int = 11, tokens: int = 64) -> tuple:
    r"""``(skews, losses)``: :math:`s` on ``points`` equally spaced values of [0, 1] and the
    kernel's loss for :math:`p_t = (1-s)/N + s\,e_0` on ``tokens`` tokens."""
    n = integer(num_experts, "num_experts", 2)
    if n > 64:
        raise ValueError(f"num_experts must be in [2, 64], got {n}")
    points = integer(points, "points", 2)
    if points > 1000:
        raise ValueError(f"points must be in [2, 1000], got {points}")
    tokens = integer(tokens, "tokens", 1)
    if tokens > 4096:
        raise ValueError(f"tokens must be in [1, 4096], got {tokens}")
    skews = np.linspace(0.0, 1.0, points)
    losses = []
    for s in skews:
        row = np.full(n, (1 - s) / n)
        row[0] += s
        probs = np.tile(row, (tokens, 1))
        losses.append(load_balancing_loss(probs, np.argmax(probs, axis=1)))
    return skews, np.array(losses)


def balance_loss_figure() -> bytes:
    r"""PNG: left, the loss against skew :math:`s` for :math:`N = 2, 4, 8`
    (:func:`skew_curve`; the exact line :math:`1 + s(N-1)`); right, :math:`N = 2` with a
    fraction :math:`a` of tokens tied at :math:`(1/2, 1/2)` (sent to expert 0) and the rest at
    :math:`(0, 1)`: :math:`L(a) = 2a^2 - 3a + 2`, minimum :math:`7/8` at :math:`a = 3/4`
    (the kernel's loss on 64 tokens, dots)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for n, color in ((2, "C0"), (4, "C1"), (8, "C2")):
        s, loss = skew_curve(n, 21)
        axes[0].plot(s, loss, "o", color=color, ms=3, label=f"N = {n} (kernel)")
        axes[0].plot(s, 1 + s * (n - 1), "-", color=color, lw=0.8)
    axes[0].set_xlabel("routing skew s (p = (1-s)/N + s e_0)")
    axes[0].set_ylabel("N Σ f_i P_i")
    axes[0].set_title("load-balancing loss vs skew (s = 0: ties, all to expert 0)", fontsize=9)
    axes[0].legend(fontsize=8)
    a, loss = two_group_curve(64)
    grid = np.linspace(0.5, 1.0, 101)
    axes[1].plot(grid, 2 * grid**2 - 3 * grid + 2, "-", color="C3", label="2a²-3a+2")
    axes[1].plot(a, loss, ".", color="k", ms=3, label="kernel, 64 tokens")
    axes[1].axhline(1.0, color="gray", lw=0.6, ls="--")
    axes[1].set_xlabel("fraction a of tokens on expert 0")
    axes[1].set_title("N = 2: the loss dips to 7/8 below uniform routing", fontsize=9)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def two_group_curve(tokens: int = 64) -> tuple:
    r"""``(a, losses)`` for :math:`N = 2`: :math:`m` of ``tokens`` tokens (for every
    :math:`m \ge` ``tokens``/2) with gate row :math:`(1/2, 1/2)` dispatched to expert 0, the
    rest :math:`(0, 1)` to expert 1; :math:`a = m/T`."""
    tokens = integer(tokens, "tokens", 2)
    if tokens > 4096:
        raise ValueError(f"tokens must be in [2, 4096], got {tokens}")
    ms = np.arange((tokens + 1) // 2, tokens + 1)
    out = []
    for m in ms:
        probs = np.array([[0.5, 0.5]] * m + [[0.0, 1.0]] * (tokens - m))
        idx = np.array([0] * m + [1] * (tokens - m))
        out.append(load_balancing_loss(probs, idx))
    return ms / tokens, np.array(out)


def early_exit_mc(costs: np.ndarray, exit_probs: np.ndarray, samples: int, seed: int) -> float:
    r"""Mean cost over ``samples`` simulated inputs: block :math:`j` (cost ``costs[j]`` ≥ 0)
    runs, then the input exits with probability ``exit_probs[j]`` (``len(costs) - 1``
    entries in [0, 1]; after the last block all exit)."""
    for name, v in (("costs", costs), ("exit_probs", exit_probs)):
        if type(v) is not np.ndarray or v.ndim != 1 or v.dtype != np.float64:
            raise TypeError(f"{name} must be a 1-D float64 numpy.ndarray")
    if costs.size < 1 or costs.size > 1024 or not np.isfinite(costs).all() or (costs < 0).any():
        raise ValueError("costs must hold 1 to 1024 finite values >= 0")
    if exit_probs.size != costs.size - 1:
        raise ValueError(
            f"exit_probs must have len(costs) - 1 = {costs.size - 1} entries, got "
            f"{exit_probs.size} (costs has {costs.size})"
        )
    if not np.isfinite(exit_probs).all() or ((exit_probs < 0) | (exit_probs > 1)).any():
        raise ValueError("exit_probs must hold values in [0, 1]")
    samples = integer(samples, "samples", 1)
    if samples > MAX_SAMPLES:
        raise ValueError(f"samples must be in [1, {MAX_SAMPLES}], got {samples}")
    seed = integer(seed, "seed", 0)
    if seed >= 1 << 63:
        raise ValueError("seed must be below 2**63")
    rng = np.random.default_rng(seed)
    q = np.append(exit_probs, 1.0)
    exits = rng.random((samples, q.size)) < q  # exit after block j
    depth = np.argmax(exits, axis=1)  # first exit (the last column is always True)
    cum = np.cumsum(costs)
    return float(cum[depth].mean())


_ = real_number
