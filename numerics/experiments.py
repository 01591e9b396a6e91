r"""Experiment runners that produce the docs' plots (run by the docs build, not pasted).

:func:`depth_profile` pushes a Gaussian batch through a bias-free ``depth``-layer MLP of
square layers (NumPy kernels) and records, per layer, the variance of the pre-activations
(forward) and of the gradient with respect to each layer's input (backward, upstream
gradient :math:`\mathcal{N}(0, 1)`). :func:`depth_prediction` gives the mean-field prediction
of :func:`theory.init.mean_field_variances` for the same configuration.

Arguments are checked before any work: sizes are integers >= 1 (``batch`` >= 2), seeds
integers >= 0; the weights and activations of one run must fit in
:data:`kernels.cpu._check.MAX_ELEMENTS`; figures of adaptive windows take at most
:data:`MAX_FIGURE_SIZE` positions.

Work limits (fuzz findings: a 255-layer tanh prediction took 24 s, ``depth=10**6`` or
``batch=10**6`` runs had no useful cap). One run of :func:`depth_profile` is at most the size
of the docs' figure (``depth=50, width=256, batch=256``), in each of its costs:
``depth`` <= :data:`theory.init.MAX_DEPTH` layers (a Python loop per layer),
``batch`` <= :data:`MAX_BATCH`,
``depth*width**2`` <= :data:`MAX_WEIGHTS` (random weights drawn),
``depth*width**3`` <= :data:`MAX_QR_WORK` (``init`` orthogonal or LSUV: one QR per layer),
``depth*width**2*batch`` <= :data:`MAX_MATMUL_WORK` (forward and backward products) and
``depth*width*batch`` <= :data:`MAX_VALUES` (activations, elementwise work). Measured on the
project's shared 2-core machine, the largest accepted run (the defaults, ``init="lsuv"``)
takes 4.5 s (17 s under heavy load from other jobs), other inits under 1 s; a run at
the limit of one cost only (``depth=1000, width=6`` or ``depth=1, width=3, batch=4096``)
well under 1 s. A tanh mean-field prediction costs two mpmath
quadratures per layer (about 50 ms): :func:`depth_prediction` (and so :func:`depth_figure`)
takes ``depth`` <= :data:`MAX_TANH_DEPTH` for ``act="tanh"`` (about 2.5 s at the limit).
:func:`depth_figure` draws ten runs and four tanh predictions, so at its limits (its
defaults) it takes some 20 s: it is the docs build's figure, not an interactive helper.
"""

from __future__ import annotations

import io
import numbers
from dataclasses import dataclass

import numpy as np

from kernels.cpu import init as kinit
from kernels.cpu._check import bounded
from kernels.cpu.mlp import ACTIVATIONS as MLP_ACTIVATIONS
from kernels.cpu.mlp import activation, mlp_backward, mlp_forward
from theory.init import MAX_DEPTH, mean_field_variances

MAX_FIGURE_SIZE = 200
"""Most input positions :func:`adaptive_windows_figure` draws (one tick each)."""

MAX_QR_WORK = 50 * 256**3
"""Largest ``depth*width**3`` of a run (one QR of a ``width``-square matrix per layer)."""

MAX_MATMUL_WORK = 50 * 256**2 * 256
"""Largest ``depth*width**2*batch`` of a run (the forward and backward matrix products)."""

MAX_VALUES = 50 * 256 * 256

MAX_BATCH = 4096
"""Largest ``batch``: the variances are means over ``batch*width`` values; 4096 samples pin
them to about 2 %, far below what the log-scale plots resolve."""

MAX_WEIGHTS = 50 * 256**2
"""Largest ``depth*width**2`` of a run (random weights drawn, one square matrix per layer)."""
"""Largest ``depth*width*batch`` of a run (activations: elementwise work and variances)."""

MAX_TANH_DEPTH = 50
"""Largest ``depth`` of a tanh mean-field prediction (two mpmath quadratures per layer)."""


def _int(value: object, name: str, minimum: int = 1) -> int:
    """A Python or NumPy integer >= ``minimum`` (bools refused) as an int."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}, got {value!r}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    """The figure as PNG bytes (90 dpi); closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    _pyplot().close(fig)
    return buf.getvalue()


INITS = ("torch default", "xavier", "he", "orthogonal", "lsuv")
ACTS = ("tanh", "relu")


def weight_variance(init: str, width: int) -> float | None:
    """Per-entry weight variance of each scheme (one of :data:`INITS`) for a square layer of
    ``width`` units (None for LSUV)."""
    init, width = _choice(init, "init", INITS), _int(width, "width")
    return {
        "torch default": 1 / (3 * width),  # nn.Linear: kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(n))
        "xavier": 1 / width,
        "he": 2 / width,
        "orthogonal": 1 / width,  # orthonormal rows: sum of squares 1 over n entries
        "lsuv": None,
    }[init]


def _weights(init: str, width: int, depth: int, act: str, rng: np.random.Generator, x):
    shape = (width, width)
    if init == "torch default":
        bound = 1 / np.sqrt(width)
        return [rng.uniform(-bound, bound, shape) for _ in range(depth)]
    if init == "xavier":
        return [kinit.xavier_normal(shape, rng) for _ in range(depth)]
    if init == "he":
        return [kinit.he_normal(shape, rng) for _ in range(depth)]
    ws = [kinit.orthogonal(shape, rng) for _ in range(depth)]
    if init == "lsuv":
        ws, _ = kinit.lsuv(ws, x, activation(act)[0])
    return ws


@dataclass(frozen=True)
class Profile:
    """Per-layer variances: ``forward[l-1]`` = Var[h_l], ``backward[l-1]`` =
    Var[dL/dx_{l-1}], l = 1..depth (1-D float arrays of equal length, finite, >= 0)."""

    forward: np.ndarray  # Var[h_l], l = 1..depth
    backward: np.ndarray  # Var[dL/dx_{l-1}], l = 1..depth

    def __post_init__(self) -> None:
        for name in ("forward", "backward"):
            v = getattr(self, name)
            if not isinstance(v, np.ndarray) or v.dtype.kind != "f" or v.ndim != 1 or not v.size:
                raise TypeError(f"{name} must be a non-empty 1-D float numpy array, got {v!r}")
            if not (np.isfinite(v).all() and (v >= 0).all()):
                raise ValueError(f"{name} must hold finite variances >= 0, got {v!r}")
        if self.forward.shape != self.backward.shape:
            raise ValueError(
                f"forward and backward must have one entry per layer each, got "
                f"{self.forward.shape} and {self.backward.shape}"
            )


def _run_sizes(depth: object, width: object, batch: object, seed: object, qr: bool = True):
    depth, width = _int(depth, "depth"), _int(width, "width")
    batch, seed = _int(batch, "batch", 2), _int(seed, "seed", 0)
    bounded(
        depth * width * (width + 2 * batch), "the weights and activations",
        "depth, width and batch",
    )  # fmt: skip
    if depth > MAX_DEPTH:
        raise ValueError(
            f"depth must be at most {MAX_DEPTH} (one Python loop per layer), got {depth}"
        )
    if batch > MAX_BATCH:
        raise ValueError(f"batch must be at most {MAX_BATCH} (variance estimates), got {batch}")
    for what, value, limit in (
        ("depth*width**2 (weights drawn)", depth * width**2, MAX_WEIGHTS),
        ("depth*width**3 (one QR per layer)", depth * width**3 if qr else 0, MAX_QR_WORK),
        ("depth*width**2*batch (matrix products)", depth * width**2 * batch, MAX_MATMUL_WORK),
        ("depth*width*batch (activations)", depth * width * batch, MAX_VALUES),
    ):
        if value > limit:
            raise ValueError(
                f"depth, width and batch too large: {what} = {value} exceeds {limit} (the docs' "
                f"figure, depth=50, width=256, batch=256, is the largest run); got depth={depth}, "
                f"width={width}, batch={batch}"
            )
    return depth, width, batch, seed


def depth_profile(
    act: str, init: str, depth: int = 50, width: int = 256, batch: int = 256, seed: int = 0
) -> Profile:
    """Measured per-layer variances for one activation (``linear``, ``relu``, ``tanh``) and
    initialization (one of :data:`INITS`), seeded; sizes within the work limits of the
    module docstring. LSUV on a batch whose signal is constant (``batch=2``, ReLU) is refused
    naming ``batch`` and ``width``. A signal that leaves the float64 range
    (very deep ReLU nets) is refused with ``ValueError`` naming ``depth``."""
    act, init = _choice(act, "act", tuple(MLP_ACTIVATIONS)), _choice(init, "init", INITS)
    qr = init in ("orthogonal", "lsuv")
    depth, width, batch, seed = _run_sizes(depth, width, batch, seed, qr)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    try:
        ws = _weights(init, width, depth, act, rng, x)
    except ValueError as err:  # LSUV: a constant signal on this batch cannot be rescaled
        if init != "lsuv":
            raise
        raise ValueError(
            f"init='lsuv' is impossible on this batch: batch={batch} samples of width={width} "
            f"units through act={act!r} gave a constant signal ({err}); use a larger batch or "
            "width"
        ) from None
    with np.errstate(all="ignore"):
        hs = mlp_forward(x, ws, act)
        grads = mlp_backward(rng.standard_normal((batch, width)), hs, ws, act)
        forward = np.array([h.var() for h in hs])
        backward = np.array([g.var() for g in grads])
    if not (np.isfinite(forward).all() and np.isfinite(backward).all()):
        raise ValueError(
            f"the signal left the float64 range within depth={depth} layers; use fewer layers"
        )
    return Profile(forward, backward)


def depth_prediction(act: str, init: str, depth: int = 50, width: int = 256) -> Profile | None:
    r"""Mean-field prediction for :func:`depth_profile` (None for LSUV, which is data-driven).

    The first pre-activation has :math:`q_1 = n\sigma_w^2` (unit-variance input); then the
    recursion of :func:`theory.init.mean_field_variances`. The gradient with respect to the
    input of layer :math:`l` has variance :math:`\prod_{k=l}^{L}\chi_k` (unit upstream).
    ``act``: ``linear``, ``relu`` or ``tanh``; ``depth`` at most
    :data:`theory.init.MAX_DEPTH` (:data:`MAX_TANH_DEPTH` for ``tanh``).
    """
    act = _choice(act, "act", ("linear", "relu", "tanh"))
    init, depth, width = _choice(init, "init", INITS), _int(depth, "depth"), _int(width, "width")
    if depth > MAX_DEPTH:
        raise ValueError(f"depth must be at most {MAX_DEPTH}, got {depth}")
    if act == "tanh" and depth > MAX_TANH_DEPTH:
        raise ValueError(
            f"depth must be at most {MAX_TANH_DEPTH} for act='tanh' (two mpmath quadratures per "
            f"layer, about 50 ms each), got {depth}"
        )
    var_w = weight_variance(init, width)
    if var_w is None:
        return None
    try:
        q, chi = mean_field_variances(depth - 1, width, var_w, act, q0=width * var_w)
    except ValueError as err:
        raise ValueError(f"depth={depth}, width={width}: {err}") from None
    with np.errstate(all="ignore"):
        backward = np.cumprod(np.array(chi)[::-1])[::-1]
    if not np.isfinite(backward).all():
        raise ValueError(f"the backward variance leaves float64 within depth={depth} layers")
    return Profile(np.array(q), backward)


def depth_figure(depth: int = 50, width: int = 256, batch: int = 256, seed: int = 0) -> bytes:
    """PNG: forward and backward variance per layer, measured (solid) vs predicted (dashed).

    Limits as :func:`depth_profile` (the defaults are the largest run) and ``depth`` <=
    :data:`MAX_TANH_DEPTH` (the tanh predictions); an LSUV run that is impossible on a tiny
    batch is refused naming ``batch`` and ``width``."""
    depth, width, batch, seed = _run_sizes(depth, width, batch, seed)
    if depth > MAX_TANH_DEPTH:
        raise ValueError(
            f"depth must be at most {MAX_TANH_DEPTH} (the figure's tanh mean-field predictions "
            f"take two mpmath quadratures per layer), got {depth}"
        )
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    colors = dict(zip(INITS, ("#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"), strict=True))
    layers = np.arange(1, depth + 1)
    for col, act in enumerate(ACTS):
        for init in INITS:
            measured = depth_profile(act, init, depth, width, batch, seed)
            predicted = depth_prediction(act, init, depth, width)
            for row, kind in enumerate(("forward", "backward")):
                ax = axes[row, col]
                ax.semilogy(layers, getattr(measured, kind), color=colors[init], label=init)
                if predicted is not None:
                    ax.semilogy(layers, getattr(predicted, kind), color=colors[init], ls="--", lw=1)
                elif kind == "forward":
                    ax.axhline(1.0, color=colors[init], ls="--", lw=1)
        axes[0, col].set_title(f"{act}: pre-activation variance (forward)")
        axes[1, col].set_title(f"{act}: input-gradient variance (backward)")
        axes[1, col].set_xlabel("layer")
    axes[0, 0].legend(title="solid: measured, dashed: mean field", fontsize=8)
    fig.suptitle(f"{depth} square layers, width {width}, batch {batch}, seed {seed}")
    fig.tight_layout()
    return _png(fig)


def xhat_variance_figure(seed: int = 0) -> bytes:
    r"""PNG: :math:`\operatorname{Var}[\hat x]` over a batch against :math:`\sigma_B^2/\epsilon`.

    The curve is :func:`theory.normalization.xhat_variance`; the dots are the batch variance
    of the BatchNorm kernel's output for batches of 64 values scaled to each ratio.
    ``seed``: an integer >= 0.
    """
    seed = _int(seed, "seed", 0)
    plt = _pyplot()
    from kernels.cpu.norm import batch_norm

    ratio = np.logspace(-3, 3, 200)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogx(
        ratio, ratio / (ratio + 1), color="#1f77b4", label=r"$\sigma^2/(\sigma^2+\epsilon)$"
    )
    rng = np.random.default_rng(seed)
    for eps, marker in ((1e-5, "o"), (1e-1, "s")):
        pts = np.logspace(-3, 3, 13)
        measured = []
        for r in pts:
            z = rng.standard_normal((64, 1))
            z = (z - z.mean()) / z.std() * np.sqrt(r * eps)  # batch variance exactly r * eps
            measured.append(float(batch_norm(z, None, None, training=True, eps=eps).var()))
        style = {"mfc": "none", "ms": 11} if marker == "o" else {"ms": 5}
        ax.semilogx(pts, measured, marker, ls="none", label=f"kernel, eps={eps:g}", **style)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(r"batch variance / $\epsilon$")
    ax.set_ylabel(r"variance of $\hat x$ over the batch")
    ax.legend()
    fig.tight_layout()
    return _png(fig)


def adaptive_windows_figure(input_size: int = 10, output_size: int = 4) -> bytes:
    """PNG: torch's adaptive-pooling windows next to the document's fixed kernel/stride rule.
    ``1 <= output_size <= input_size <= MAX_FIGURE_SIZE`` (the document's rule needs
    ``output_size <= input_size``)."""
    input_size, output_size = _int(input_size, "input_size"), _int(output_size, "output_size")
    if input_size > MAX_FIGURE_SIZE:
        raise ValueError(f"input_size must be at most {MAX_FIGURE_SIZE}, got {input_size}")
    if output_size > input_size:
        raise ValueError(f"output_size must be at most input_size={input_size}, got {output_size}")
    plt = _pyplot()
    from theory.pooling import adaptive_windows, document_windows

    rules = (
        ("torch: [floor(iI/O), ceil((i+1)I/O))", adaptive_windows(input_size, output_size)),
        ("document: k = ceil(I/O), s = floor(I/O)", document_windows(input_size, output_size)),
    )
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    for ax, (title, windows) in zip(axes, rules, strict=True):
        for i, (start, end) in enumerate(windows):
            ax.broken_barh([(start, end - start)], (i - 0.35, 0.7), color=f"C{i % 10}", alpha=0.7)
        ax.set_xlim(0, input_size)
        ax.set_xticks(range(input_size + 1))
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"input position (I = {input_size})")
    axes[0].set_ylabel(f"output index (O = {output_size})")
    axes[0].invert_yaxis()
    fig.tight_layout()
    return _png(fig)


def pooling_shift_figure(seed: int = 0) -> bytes:
    r"""PNG: how far pooling moves under a shift :math:`\delta`.

    Left: average pooling's worst case :math:`2\delta/K` (lines, :mod:`theory.pooling`) and the
    largest change measured by the NumPy kernel on 200 random :math:`\pm1` signals (dots).
    Right: fraction of single-spike positions whose max-pooled output is unchanged.
    ``seed``: an integer >= 0.
    """
    seed = _int(seed, "seed", 0)
    plt = _pyplot()
    from kernels.cpu.pool import avg_pool2d
    from theory.pooling import avg_pool_shift_bound, spike_invariant_fraction

    rng = np.random.default_rng(seed)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for c, k in enumerate((2, 4, 8)):
        deltas = list(range(k + 1))
        left.plot(deltas, [float(avg_pool_shift_bound(k, d)) for d in deltas], color=f"C{c}",
                  label=f"bound 2δ/K, K = {k}")  # fmt: skip
        x = rng.choice([-1.0, 1.0], size=(200, 1, 1, 4 * k + k))
        worst = [
            np.abs(avg_pool2d(x[..., : 4 * k], (1, k)) - avg_pool2d(x[..., d : d + 4 * k], (1, k)))
            .max() for d in deltas
        ]  # fmt: skip
        left.plot(deltas, worst, "o", color=f"C{c}", alpha=0.7)
        right.plot(deltas, [float(spike_invariant_fraction(k, k, d)) for d in deltas], "o-",
                   color=f"C{c}", label=f"K = S = {k}")  # fmt: skip
    right.plot(range(5), [float(spike_invariant_fraction(3, 1, d)) for d in range(5)], "s--",
               color="C3", label="K = 3, S = 1 (overlapping)")  # fmt: skip
    left.set(xlabel="shift δ", ylabel="max |Δy| / ‖x‖∞", title="average pooling: change bound")
    right.set(xlabel="shift δ", ylabel="fraction unchanged", title="max pooling of a spike")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)
