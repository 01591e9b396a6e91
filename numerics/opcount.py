r"""Counting the multiply-accumulates (MACs) a kernel actually executes.

Kernels route every product through :func:`counted_einsum` or :func:`counted_matmul`, which
compute the number of scalar multiply-accumulates from the operands' shapes and record it
in the active :class:`MacCounter`. A contraction ``einsum("ab,bc->ac")`` executes
:math:`|a||b||c|` MACs: one per combination of all the indices that appear.

>>> import numpy as np
>>> with MacCounter() as c:
...     _ = counted_matmul(np.ones((2, 3)), np.ones((3, 4)))
>>> c.macs
24
"""

from __future__ import annotations

import threading

import numpy as np

_state = threading.local()


class MacCounter:
    """Context manager accumulating MACs (and, separately, plain additions such as bias)."""

    def __init__(self) -> None:
        self.macs = 0
        self.adds = 0

    def __enter__(self) -> MacCounter:
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _state.stack.remove(self)


def _record(macs: int = 0, adds: int = 0) -> None:
    for counter in getattr(_state, "stack", []):
        counter.macs += macs
        counter.adds += adds


def counted_einsum(
    subscripts: str, a: np.ndarray, b: np.ndarray, optimize: bool = True
) -> np.ndarray:
    """Two-operand ``np.einsum`` that records one MAC per combination of all its indices.

    ``optimize=False`` keeps einsum's own loop over strided operands (no temporary copies, no
    BLAS); ``True`` lets it dispatch to ``tensordot``/BLAS, which copies non-contiguous inputs.
    """
    inputs, _ = subscripts.replace(" ", "").split("->")
    sizes: dict[str, int] = {}
    for spec, arr in zip(inputs.split(","), (a, b), strict=True):
        if len(spec) != arr.ndim:
            raise ValueError(f"einsum spec {spec!r} does not match an operand of ndim {arr.ndim}")
        for letter, n in zip(spec, arr.shape, strict=True):
            sizes[letter] = n
    _record(macs=int(np.prod(list(sizes.values()), dtype=np.int64)))
    return np.einsum(subscripts, a, b, optimize=optimize)


def counted_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (batched over leading dimensions) recording ``batch*m*k*n`` MACs."""
    out = a @ b
    k = a.shape[-1]
    _record(macs=int(out.size) * int(k))
    return out


def counted_add(out: np.ndarray, addend: np.ndarray) -> np.ndarray:
    """``out + addend`` recording one addition per element of the result (not a MAC)."""
    result = out + addend
    _record(adds=int(result.size))
    return result
