r"""Attention measured: the :math:`n^2` wall in time and memory, and the sinusoidal encoding's
dot-product structure (the figures of the attention page).

The wall. Scaled dot-product attention of one head on :math:`n` queries and :math:`n` keys of
width :math:`d` costs exactly :math:`n^2(d_k + d_v) = 2n^2d` MACs in its two products
:math:`QK^\top` and :math:`AV` and holds :math:`n^2` scores (002 § Self-Attention Theory,
"Computational Complexity"; counted by :func:`theory.attention.attention_cost`).
:func:`attention_wall` times the float64 NumPy kernel
:func:`kernels.cpu.attention.scaled_dot_product_attention` (best of ``repeat`` runs, so the
figure shows the cost of the work, not the noise of a shared machine) and records its peak
allocation with :mod:`tracemalloc` (NumPy reports its buffers to it), next to the formula's
MACs and score entries.

The encoding. :func:`sinusoidal_figure` draws the Gram matrix :math:`PE\,PE^\top` of
:func:`kernels.cpu.attention.sinusoidal_encoding`: constant along every diagonal, since
:math:`PE(p)\cdot PE(q) = \sum_i \cos((p-q)\omega_i)` depends on :math:`p - q` only (000 §
Positional Encoding and Extensions; proved in :mod:`theory.attention`).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence

import numpy as np

from numerics.experiments import _int, _png, _pyplot

__all__ = ["attention_wall", "attention_wall_figure", "sinusoidal_figure"]

MAX_WALL_LENGTH = 4096
"""Largest sequence length :func:`attention_wall` runs (the score matrix then takes 128 MiB)."""
MAX_WALL_WIDTH = 1024
"""Largest head width :func:`attention_wall` runs."""
MAX_REPEAT = 5
"""Most timing repetitions per length."""
MAX_POSITIONS = 4096
"""Largest ``num_positions`` and ``embedding_dim`` of :func:`sinusoidal_figure`."""


def _lengths(lengths: object) -> tuple[int, ...]:
    if isinstance(lengths, str | bytes) or not isinstance(lengths, Sequence):
        raise TypeError(f"lengths must be a sequence of integers >= 1, got {lengths!r}")
    if not 1 <= len(lengths) <= 32:
        raise ValueError(f"lengths must hold 1 to 32 lengths, got {len(lengths)}")
    out = tuple(_int(n, "lengths", 1) for n in lengths)
    if max(out) > MAX_WALL_LENGTH:
        raise ValueError(f"lengths must be at most MAX_WALL_LENGTH = {MAX_WALL_LENGTH}, got {out}")
    return out


def attention_wall(
    lengths: Sequence[int] = (128, 256, 512, 1024),
    head_dim: int = 64,
    repeat: int = 3,
    seed: int = 0,
) -> list[dict[str, float]]:
    r"""Time and peak memory of one float64 attention head at each sequence length.

    For each :math:`n` in ``lengths``: :math:`Q, K, V \in \mathbb{R}^{n\times d}` standard
    normal (``head_dim`` :math:`= d`), the best of ``repeat`` wall-clock times of
    :func:`kernels.cpu.attention.scaled_dot_product_attention`, the peak traced allocation of
    one call, and the exact counts :math:`2n^2d` MACs and :math:`n^2` scores: one dict per
    length with keys ``length``, ``seconds``, ``peak_bytes``, ``macs``, ``score_entries``.

    ``lengths``: 1 to 32 integers in ``[1, MAX_WALL_LENGTH]``; ``head_dim`` in
    ``[1, MAX_WALL_WIDTH]``; ``repeat`` in ``[1, MAX_REPEAT]``; ``seed`` an integer >= 0.
    """
    lengths = _lengths(lengths)
    head_dim = _int(head_dim, "head_dim", 1)
    if head_dim > MAX_WALL_WIDTH:
        raise ValueError(f"head_dim must be at most MAX_WALL_WIDTH = {MAX_WALL_WIDTH}")
    repeat = _int(repeat, "repeat", 1)
    if repeat > MAX_REPEAT:
        raise ValueError(f"repeat must be at most MAX_REPEAT = {MAX_REPEAT}, got {repeat}")
    seed = _int(seed, "seed", 0)
    from kernels.cpu.attention import scaled_dot_product_attention as sdpa

    rng = np.random.default_rng(seed)
    points = []
    for n in lengths:
        q, k, v = (rng.standard_normal((n, head_dim)) for _ in range(3))
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            sdpa(q, k, v)
            best = min(best, time.perf_counter() - start)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            sdpa(q, k, v)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        points.append(
            {
                "length": n,
                "seconds": best,
                "peak_bytes": peak,
                "macs": 2 * n * n * head_dim,
                "score_entries": n * n,
            }
        )
    return points


def attention_wall_figure(
    lengths: Sequence[int] = (64, 128, 256, 512, 1024, 2048), head_dim: int = 64, seed: int = 0
) -> bytes:
    r"""PNG: the :math:`n^2` wall, measured against the formula.

    Left: best-of-3 time of one float64 head against :math:`n` (log-log), with the formula
    :math:`2n^2d` MACs scaled by the rate measured at the largest :math:`n`. Right: the peak
    allocation of one call against :math:`8n^2` bytes (one float64 score matrix) and three times
    that (the kernel's scores, exponentials and weights alive at once). Arguments as
    :func:`attention_wall`.
    """
    points = attention_wall(lengths, head_dim, 3, seed)
    plt = _pyplot()
    n = np.array([p["length"] for p in points], dtype=float)
    secs = np.array([p["seconds"] for p in points])
    peak = np.array([p["peak_bytes"] for p in points], dtype=float)
    macs = np.array([p["macs"] for p in points], dtype=float)
    rate = secs[-1] / macs[-1]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.loglog(n, secs, "o", label="NumPy kernel, measured (best of 3)")
    ax1.loglog(n, macs * rate, "-", label=r"$2n^2d$ MACs $\times$ rate at largest $n$")
    ax1.set_xlabel("sequence length $n$")
    ax1.set_ylabel("seconds")
    ax1.set_title(f"time, one head, $d = {head_dim}$")
    ax1.legend(fontsize=8)
    ax2.loglog(n, peak / 2**20, "s", label="peak allocation (tracemalloc)")
    ax2.loglog(n, 8 * n**2 / 2**20, "-", label=r"$8n^2$ bytes: one score matrix")
    ax2.loglog(n, 3 * 8 * n**2 / 2**20, "--", color="grey",
               label=r"$3 \times 8n^2$: scores, exponentials, weights")  # fmt: skip
    ax2.set_xlabel("sequence length $n$")
    ax2.set_ylabel("MiB")
    ax2.set_title("memory")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def sinusoidal_figure(num_positions: int = 64, embedding_dim: int = 64) -> bytes:
    r"""PNG: the Gram matrix :math:`PE\,PE^\top` of the sinusoidal encoding (constant along
    diagonals) and :math:`PE(p)\cdot PE(p+k)` against :math:`k` for several :math:`p` (one
    curve, :math:`\sum_i\cos(k\omega_i)`).

    ``num_positions`` in ``[2, MAX_POSITIONS]``; ``embedding_dim`` an even integer in
    ``[2, MAX_POSITIONS]`` (for odd widths the structure breaks: see the attention page).
    """
    num_positions = _int(num_positions, "num_positions", 2)
    embedding_dim = _int(embedding_dim, "embedding_dim", 2)
    if num_positions > MAX_POSITIONS:
        raise ValueError(f"num_positions must be at most {MAX_POSITIONS}, got {num_positions}")
    if embedding_dim > MAX_POSITIONS or embedding_dim % 2:
        raise ValueError(
            f"embedding_dim must be an even integer in [2, {MAX_POSITIONS}], got {embedding_dim}"
        )
    from kernels.cpu.attention import sinusoidal_encoding

    pe = sinusoidal_encoding(num_positions, embedding_dim)
    gram = pe @ pe.T
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    im = ax1.imshow(gram, cmap="viridis")
    ax1.set_xlabel("position $q$")
    ax1.set_ylabel("position $p$")
    ax1.set_title(rf"$PE(p)\cdot PE(q)$, $d = {embedding_dim}$")
    fig.colorbar(im, ax=ax1)
    omega = 10000.0 ** (-np.arange(0, embedding_dim, 2) / embedding_dim)
    ks = np.arange(num_positions)
    ax2.plot(ks, np.cos(np.outer(ks, omega)).sum(axis=1), "-", color="grey",
             label=r"$\sum_i \cos(k\omega_i)$")  # fmt: skip
    for p in (0, num_positions // 4, num_positions // 2):
        k = np.arange(num_positions - p)
        ax2.plot(k, gram[p, p + k], ".", ms=4, label=f"$p = {p}$")
    ax2.set_xlabel("offset $k$")
    ax2.set_ylabel(r"$PE(p)\cdot PE(p+k)$")
    ax2.set_title("depends on the offset only")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)
