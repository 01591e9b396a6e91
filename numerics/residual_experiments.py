r"""Residual stacks measured: the gradient through depth against the derived bounds, and the
share of each path length before and after training (the figure of the residual page).

Gradient through depth. :func:`depth_gradient_profile` builds a stack of ``depth`` blocks of
width :math:`d` (:func:`kernels.cpu.residual.residual_mlp`), weights and biases drawn as
``nn.Linear``'s default (:math:`U(-1/\sqrt d, 1/\sqrt d)`) times ``scale``, a batch of
standard normal inputs, and a unit upstream gradient :math:`g_L` per sample; the hand-written
backward (:func:`kernels.cpu.residual.residual_mlp_backward`) gives :math:`g_{L-k}`, the
gradient after :math:`k` blocks. For ReLU/tanh/linear blocks :math:`\|J_l\| =
\|\operatorname{diag}(\phi')W_l\|_2 \le \|W_l\|_2`, so every sample's gain lies between the
bounds of :func:`theory.residual.residual_gradient_bounds` evaluated at the measured spectral
norms: :math:`\prod(1 - \|W_l\|_2)_+ \le \|g_{L-k}\| \le \prod(1 + \|W_l\|_2)`. For the plain
stack the only bound drawn is :math:`\prod\|W_l\|_2`.

Finite-size effect: at torch's default init :math:`\|W_l\|_2 \approx 2/\sqrt3 \approx 1.15`
(Bai–Yin edge :math:`2\sigma\sqrt d` with :math:`\sigma^2 = 1/(3d)`, fluctuations
:math:`O(d^{-2/3})`), so the residual lower bound is 0 (vacuous) there; with ``scale = 0.25``
every :math:`\|W_l\| < 1` and the lower bound is positive.

Path lengths. :func:`path_length_shares` trains a stack of linear residual blocks (no bias)
by gradient descent on a mean-squared error towards a fixed random linear target and reports
:math:`\|M_k\|_F` for :math:`M_k = \sum_{|S| = k}\prod_{l\in S}W_l^\top`, the length-:math:`k`
part of the end-to-end map (:func:`kernels.cpu.residual.path_sum` on the identity), before
and after training.

References: ``002_532ac369c9b692e7.txt`` § Sequential vs Residual Architectures; A. Veit et
al. (2016), *Residual Networks Behave Like Ensembles of Relatively Shallow Networks*, §4–5.
"""

from __future__ import annotations

import numbers

import numpy as np

from numerics.experiments import _int, _png, _pyplot

__all__ = [
    "MAX_DEPTH",
    "MAX_STEPS",
    "MAX_WIDTH",
    "depth_gradient_figure",
    "depth_gradient_profile",
    "path_length_shares",
]

MAX_DEPTH = 200
"""Largest stack :func:`depth_gradient_profile` measures."""
MAX_WIDTH = 512
"""Largest width (and batch) of the experiments."""
MAX_STEPS = 5000
"""Most gradient-descent steps of :func:`path_length_shares`."""
PATH_DEPTH = 10
"""Largest depth of :func:`path_length_shares` (its path sums enumerate 2^L paths)."""

ACTS = ("relu", "tanh", "linear")


def _scale(value: object, name: str = "scale") -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite real number > 0, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v <= 0 or v > 100:
        raise ValueError(f"{name} must be a finite real number in (0, 100], got {value!r}")
    return v


def _limit(value: int, name: str, limit: int) -> int:
    if value > limit:
        raise ValueError(f"{name} must be at most {limit}, got {value}")
    return value


def _stack(depth: int, width: int, scale: float, rng: np.random.Generator, bias: bool = True):
    a = 1 / np.sqrt(width)
    ws = [scale * rng.uniform(-a, a, (width, width)) for _ in range(depth)]
    bs = [scale * rng.uniform(-a, a, width) for _ in range(depth)] if bias else None
    return ws, bs


def depth_gradient_profile(
    depth: int = 50,
    width: int = 64,
    batch: int = 64,
    scale: float = 1.0,
    residual: bool = True,
    activation: str = "relu",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""Per-sample gradient norms after :math:`k = 0..L` blocks and the derived bounds.

    Returns a dict of float64 arrays of length ``depth + 1`` indexed by :math:`k`:
    ``"min"``, ``"median"``, ``"max"`` of :math:`\|g_{L-k}\|` over the batch (unit
    :math:`\|g_L\|`), ``"lower"``/``"upper"`` :math:`\prod_{l > L-k}(1 \mp \|W_l\|_2)` (lower
    clipped at 0) for the residual stack, or ``0`` and :math:`\prod\|W_l\|_2` for the plain
    one, and ``"norms"`` (length ``depth``) the spectral norms :math:`\|W_l\|_2`.

    ``depth`` in ``[1, MAX_DEPTH]``; ``width``, ``batch`` in ``[1, MAX_WIDTH]``; ``scale`` in
    ``(0, 100]``; ``residual`` a bool; ``activation`` ``relu``/``tanh``/``linear``; ``seed``
    an integer >= 0.
    """
    from kernels.cpu._check import flag
    from numerics.experiments import _choice

    depth = _limit(_int(depth, "depth", 1), "depth", MAX_DEPTH)
    width = _limit(_int(width, "width", 1), "width", MAX_WIDTH)
    batch = _limit(_int(batch, "batch", 1), "batch", MAX_WIDTH)
    scale = _scale(scale)
    residual = flag(residual, "residual")
    activation = _choice(activation, "activation", ACTS)
    seed = _int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    ws, bs = _stack(depth, width, scale, rng)
    x = rng.standard_normal((batch, width))
    g = rng.standard_normal((batch, width))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        return _profile(x, g, ws, bs, depth, scale, residual, activation)


def _profile(x, g, ws, bs, depth, scale, residual, activation) -> dict[str, np.ndarray]:
    from kernels.cpu.residual import residual_mlp, residual_mlp_backward

    batch = len(x)
    ys = [x]
    for i in range(depth):
        ys.append(residual_mlp(ys[-1], ws[i : i + 1], bs[i : i + 1], activation, residual))
    norms = np.array([np.linalg.norm(w, 2) for w in ws])
    gains = np.empty((depth + 1, batch))
    gains[0] = np.linalg.norm(g, axis=1)
    for k in range(1, depth + 1):
        start = depth - k
        grad = residual_mlp_backward(g, ys[start], ws[start:], bs[start:], activation, residual)[
            "input"
        ]
        gains[k] = np.linalg.norm(grad, axis=1)
    if not np.isfinite(gains).all():
        raise ValueError(
            f"the gradient overflowed float64 with scale {scale!r} and depth {depth}: use a "
            f"smaller scale or depth"
        )
    top = norms[::-1]  # the blocks traversed first going backward
    if residual:
        lower = np.concatenate([[1.0], np.cumprod(np.maximum(0.0, 1 - top))])
        upper = np.concatenate([[1.0], np.cumprod(1 + top)])
    else:
        lower = np.zeros(depth + 1)
        lower[0] = 1.0
        upper = np.concatenate([[1.0], np.cumprod(top)])
    if not (np.isfinite(upper).all() and np.isfinite(lower).all()):
        raise ValueError(
            f"the bound prod(1 + |W_l|) overflowed float64 with scale {scale!r} and depth "
            f"{depth}: use a smaller scale or depth"
        )
    return {
        "min": gains.min(axis=1),
        "median": np.median(gains, axis=1),
        "max": gains.max(axis=1),
        "lower": lower,
        "upper": upper,
        "norms": norms,
    }


def depth_gradient_figure(
    depth: int = 50, width: int = 64, batch: int = 64, seed: int = 0
) -> bytes:
    r"""PNG: :math:`\|\partial L/\partial y_{L-k}\|` against the number :math:`k` of blocks
    traversed, plain vs residual ReLU stacks, at torch's default init (left) and with the
    weights scaled by 1/4 (right), with the derived bounds :math:`\prod(1 \pm \|W_l\|_2)` of
    the residual stack (and :math:`\prod\|W_l\|_2` of the plain one) on the same axes.
    Arguments as :func:`depth_gradient_profile`.
    """
    scales = (1.0, 0.25)
    profiles = {  # all measured before a figure is opened (a refused argument leaks none)
        (scale, residual): depth_gradient_profile(
            depth, width, batch, scale, residual, "relu", seed
        )
        for scale in scales
        for residual in (True, False)
    }
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, scale in zip(axes, scales, strict=True):
        for residual, color in ((True, "C0"), (False, "C3")):
            p = profiles[scale, residual]
            k = np.arange(len(p["median"]))
            name = "residual" if residual else "plain"
            ax.semilogy(k, p["median"], "-", color=color, label=f"{name}: median over batch")
            ax.fill_between(k, p["min"], p["max"], color=color, alpha=0.2)
            ax.semilogy(k, p["upper"], "--", color=color, lw=1,
                        label=rf"{name}: upper bound " + (r"$\prod(1+\|W_l\|)$" if residual
                                                          else r"$\prod\|W_l\|$"))  # fmt: skip
            if residual:
                pos = p["lower"] > 0
                if pos.any():
                    ax.semilogy(k[pos], p["lower"][pos], ":", color=color, lw=1.5,
                                label=r"residual: lower bound $\prod(1-\|W_l\|)$")  # fmt: skip
                mean_norm = float(p["norms"].mean())
        ax.set_xlabel("blocks traversed backward $k$")
        ax.set_ylabel(r"$\|\partial L/\partial y_{L-k}\|$ (unit at $k=0$)")
        ax.set_title(
            f"scale {scale:g}: mean $\\|W_l\\|_2$ = {mean_norm:.3f}, d = {width}", fontsize=10
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def path_length_shares(
    depth: int = 8,
    width: int = 8,
    scale: float = 0.25,
    steps: int = 300,
    learning_rate: float = 0.01,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""Norms :math:`\|M_k\|_F` of the length-:math:`k` parts of a linear residual stack,
    before and after ``steps`` of full-batch gradient descent.

    Stack: ``depth`` linear blocks without bias (:math:`y_l = y_{l-1}(I + W_l^\top)`), weights
    as ``nn.Linear``'s default times ``scale``. Data: 4·``width`` standard normal inputs
    :math:`X`, targets :math:`XT^\top` with :math:`T = I + 2A`, :math:`A` standard normal
    divided by :math:`\sqrt{\text{width}}` (a map far from the identity); loss
    :math:`\frac{1}{2N}\|y_L - XT^\top\|_F^2`. Returns ``"before"`` and ``"after"`` (length
    ``depth + 1``, :math:`\|M_k\|_F`), their ``"mean_length_before"``/``"_after"``
    (:math:`\sum_k k\|M_k\| / \sum_k\|M_k\|`) and ``"loss"`` (before and after).

    ``depth`` in ``[1, 10]``; ``width`` in ``[1, 64]``; ``scale`` in ``(0, 100]``; ``steps``
    in ``[0, MAX_STEPS]``; ``learning_rate`` in ``(0, 1]``; ``seed`` an integer >= 0.
    """
    from kernels.cpu.residual import path_sum, residual_mlp, residual_mlp_backward

    depth = _limit(_int(depth, "depth", 1), "depth", PATH_DEPTH)
    width = _limit(_int(width, "width", 1), "width", 64)
    scale = _scale(scale)
    steps = _limit(_int(steps, "steps", 0), "steps", MAX_STEPS)
    lr = _scale(learning_rate, "learning_rate")
    if lr > 1:
        raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
    seed = _int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    ws, _ = _stack(depth, width, scale, rng, bias=False)
    target = np.eye(width) + 2 * rng.standard_normal((width, width)) / np.sqrt(width)
    x = rng.standard_normal((4 * width, width))
    y = x @ target.T
    eye = np.eye(width)

    def parts(ws):
        return np.array([np.linalg.norm(m) for m in path_sum(eye, ws, by_length=True)])

    def loss(ws):
        r = residual_mlp(x, ws, None, "linear", True) - y
        return 0.5 * float(np.sum(r * r)) / len(x)

    before, loss0 = parts(ws), loss(ws)
    for _ in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):
            r = (residual_mlp(x, ws, None, "linear", True) - y) / len(x)
            grads = residual_mlp_backward(r, x, ws, None, "linear", True)["weights"]
            ws = [w - lr * gw for w, gw in zip(ws, grads, strict=True)]
        if not all(np.isfinite(w).all() and np.abs(w).max() < 1e30 for w in ws):
            raise ValueError(
                f"learning_rate {learning_rate!r} with scale {scale!r} made the training "
                f"diverge; use a smaller learning_rate or scale"
            )
    after, loss1 = parts(ws), loss(ws)
    k = np.arange(depth + 1)
    return {
        "before": before,
        "after": after,
        "mean_length_before": np.array(float(k @ before / before.sum())),
        "mean_length_after": np.array(float(k @ after / after.sum())),
        "loss": np.array([loss0, loss1]),
    }
