r"""Magnitude and structured pruning masks, NumPy references for ``torch.nn.utils.prune``.

A mask is a ``bool`` array of the weight's shape, ``True`` where the weight is **kept**
(torch's ``weight_mask`` is the same as 0/1 floats). The number removed is
:func:`theory.pruning.prune_count` of ``amount`` (torch's rounding: round half to even).

* :func:`l1_unstructured_mask` — remove the ``k`` entries of smallest :math:`|w|`
  (Han et al. 2015); torch's ``prune.l1_unstructured``.
* :func:`global_unstructured_masks` — one threshold over several tensors together;
  torch's ``prune.global_unstructured(..., pruning_method=L1Unstructured)``.
* :func:`ln_structured_mask` — remove the ``k`` slices along ``dim`` of smallest
  :math:`L_n` norm (Li et al. 2017 use :math:`n = 1` on conv filters, ``dim=0``);
  torch's ``prune.ln_structured``.

Ties: these kernels break ties of equal magnitude (or norm) by index, removing the lowest
index first (a stable sort); torch uses ``torch.topk``, whose choice among ties is not
specified. The *number* removed and the multiset of removed magnitudes agree with torch
whatever the ties (tested); the positions may differ only among equal values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from theory.pruning import prune_count

__all__ = ["global_unstructured_masks", "l1_unstructured_mask", "ln_structured_mask"]

MAX_ELEMENTS = 10_000_000


def _weight(weight: object, name: str = "weight", min_ndim: int = 0) -> np.ndarray:
    if not isinstance(weight, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(weight).__name__}")
    if weight.dtype.kind not in "fiu" or weight.dtype.kind == "b":
        raise TypeError(f"{name} must be a real numeric array, got dtype {weight.dtype}")
    if weight.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got {weight.ndim}")
    if weight.size > MAX_ELEMENTS:
        raise ValueError(f"{name} must have at most {MAX_ELEMENTS} elements, got {weight.size}")
    if not np.all(np.isfinite(weight)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return weight


def _smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest ``values`` (ties: lowest index first)."""
    return np.argsort(values, kind="stable")[:k]


def l1_unstructured_mask(weight: np.ndarray, amount: int | float) -> np.ndarray:
    r"""Keep-mask removing the :math:`k` entries of smallest :math:`|w|`,
    :math:`k` = :func:`~theory.pruning.prune_count` ``(amount, weight.size)``.

    Raises ``TypeError``/``ValueError`` naming ``weight`` or ``amount``."""
    w = _weight(weight)
    k = prune_count(amount, w.size)
    mask = np.ones(w.size, dtype=bool)
    mask[_smallest(np.abs(w, dtype=np.float64).ravel(), k)] = False
    return mask.reshape(w.shape)


def global_unstructured_masks(
    weights: Sequence[np.ndarray], amount: int | float
) -> list[np.ndarray]:
    r"""Keep-masks removing the :math:`k` entries of smallest :math:`|w|` over all ``weights``
    together, :math:`k` = ``prune_count(amount, Σ sizes)`` — one global threshold, so layers
    lose different fractions (torch's ``global_unstructured``). Ties: lowest position in the
    concatenation (in list order) first. Raises ``TypeError``/``ValueError`` naming
    ``weights`` or ``amount``."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or not weights:
        raise TypeError("weights must be a non-empty list or tuple of numpy arrays")
    ws = [_weight(w, f"weights[{i}]") for i, w in enumerate(weights)]
    total = sum(w.size for w in ws)
    if total > MAX_ELEMENTS:
        raise ValueError(f"weights must have at most {MAX_ELEMENTS} elements in all")
    k = prune_count(amount, total)
    flat = np.concatenate([np.abs(w, dtype=np.float64).ravel() for w in ws])
    keep = np.ones(total, dtype=bool)
    keep[_smallest(flat, k)] = False
    out, start = [], 0
    for w in ws:
        out.append(keep[start : start + w.size].reshape(w.shape))
        start += w.size
    return out


def ln_structured_mask(
    weight: np.ndarray, amount: int | float, n: int | float, dim: int = 0
) -> np.ndarray:
    r"""Keep-mask removing the :math:`k` slices along ``dim`` with the smallest
    :math:`L_n` norm :math:`\|w_{j}\|_n = (\sum |w|^n)^{1/n}` over the other axes
    (``n = inf``: the largest :math:`|w|`), :math:`k` = ``prune_count(amount,
    weight.shape[dim])``. ``weight`` must have at least 2 dimensions (as torch requires).
    Raises ``TypeError``/``ValueError`` naming ``weight``, ``amount``, ``n`` or ``dim``."""
    w = _weight(weight, min_ndim=2)
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise TypeError(f"n must be a positive number or inf, got {type(n).__name__} ({n!r})")
    if math.isnan(float(n)) or float(n) <= 0:
        raise ValueError(f"n must be a positive number or inf, got {n!r}")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int axis, got {type(dim).__name__} ({dim!r})")
    if not -w.ndim <= int(dim) < w.ndim:
        raise ValueError(f"dim must be in [-{w.ndim}, {w.ndim}), got {dim!r}")
    d = int(dim) % w.ndim
    k = prune_count(amount, w.shape[d])
    if w.size == 0:  # no slice to rank: nothing is removed (and nothing kept)
        return np.ones(w.shape, dtype=bool)
    a = np.moveaxis(np.abs(w, dtype=np.float64), d, 0).reshape(w.shape[d], -1)
    if math.isinf(float(n)):
        norms = a.max(axis=1)
    else:
        norms = np.sum(a ** float(n), axis=1) ** (1.0 / float(n))
    keep = np.ones(w.shape[d], dtype=bool)
    keep[_smallest(norms, k)] = False
    shape = [1] * w.ndim
    shape[d] = w.shape[d]
    return np.broadcast_to(keep.reshape(shape), w.shape).copy()
