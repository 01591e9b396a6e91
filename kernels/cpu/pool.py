r"""Pooling kernels in NumPy (forward): adaptive average and max pooling, 1-D and 2-D.

Output :math:`i` of :math:`O` pools the input window
:math:`[\lfloor iI/O\rfloor, \lceil (i+1)I/O\rceil)` per spatial dimension (torch's rule).
"""

from __future__ import annotations

import numpy as np

from kernels.cpu._check import array


def _bounds(size: int, out: int) -> list[tuple[int, int]]:
    starts = np.floor(np.arange(out) * size / out).astype(int)
    ends = np.ceil((np.arange(out) + 1) * size / out).astype(int)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _out_sizes(output_size, nd: int) -> tuple[int, ...]:
    sizes = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != nd or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
    ):
        raise ValueError(f"output_size must be {nd} integer(s) >= 1, got {output_size!r}")
    return sizes


def adaptive_pool(x: np.ndarray, output_size, mode: str = "avg") -> np.ndarray:
    """Adaptive ``avg`` or ``max`` pooling over the trailing 1 or 2 axes of ``(N, C, *spatial)``."""
    array(x, "x", (3, 4))
    if mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")
    nd = x.ndim - 2
    outs = _out_sizes(output_size, nd)
    reduce = np.mean if mode == "avg" else np.max
    windows = [_bounds(size, o) for size, o in zip(x.shape[2:], outs, strict=True)]
    y = np.empty((*x.shape[:2], *outs), dtype=x.dtype)
    for idx in np.ndindex(*outs):
        sl = tuple(slice(*windows[d][i]) for d, i in enumerate(idx))
        y[(..., *idx)] = reduce(x[(..., *sl)], axis=tuple(range(2, x.ndim)))
    return y
