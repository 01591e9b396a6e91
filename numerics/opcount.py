r"""Counting the multiply-accumulates (MACs) a kernel actually executes.

Kernels route every product through :func:`counted_einsum` or :func:`counted_matmul`, which
compute the number of scalar multiply-accumulates from the operands' shapes and record it
in the active :class:`MacCounter`. A contraction ``einsum("ab,bc->ac")`` executes
:math:`|a||b||c|` MACs: one per combination of all the indices that appear (an index of
size 1 in one operand broadcasts to the other's size, as in NumPy). A matmul
``(..., m, k) @ (..., k, n)`` executes :math:`\text{batch}\cdot m k n` MACs (batch after
broadcasting; 1-D operands as in NumPy).

Operands are real or complex NumPy arrays (bool and object arrays are refused). The work is
bounded: a product of more than :data:`MAX_MACS` MACs is refused at once with
``ValueError`` naming the operands.

>>> import numpy as np
>>> with MacCounter() as c:
...     _ = counted_matmul(np.ones((2, 3)), np.ones((3, 4)))
>>> c.macs
24
"""

from __future__ import annotations

import threading

import numpy as np

MAX_MACS = 2**36
"""Largest number of multiply-accumulates one counted product may execute (about 7e10)."""

_state = threading.local()


class MacCounter:
    """Context manager accumulating MACs (and, separately, plain additions such as bias).

    Counters nest: every active counter of the thread records every product.
    """

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
        stack = getattr(_state, "stack", [])
        if any(c is self for c in stack):
            _state.stack = [c for c in stack if c is not self]


def _record(macs: int = 0, adds: int = 0) -> None:
    for counter in getattr(_state, "stack", []):
        counter.macs += macs
        counter.adds += adds


def _operand(value: object, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}")
    if value.dtype.kind not in "iufc":
        raise TypeError(f"{name} must be a numeric (int, float, complex) array, got {value.dtype}")
    return value


def _bounded(macs: int, names: str) -> int:
    if macs > MAX_MACS:
        raise ValueError(f"{names}: the product needs {macs} MACs, more than MAX_MACS = {MAX_MACS}")
    return macs


def einsum_macs(subscripts: str, a: np.ndarray, b: np.ndarray) -> int:
    """MACs of a two-operand explicit ``einsum``: the product of the sizes of all its indices.

    ``subscripts`` is ``"<a>,<b>-><out>"`` with letters only (no ellipsis); each operand has
    one letter per axis; an index has one size (or 1, broadcast); output letters appear in
    an input, once.
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"subscripts must be a str, got {type(subscripts).__name__}")
    a, b = _operand(a, "a"), _operand(b, "b")
    spec = subscripts.replace(" ", "")
    if spec.count("->") != 1 or spec.count(",") != 1:
        raise ValueError(
            f"subscripts must have the explicit form 'ab,bc->ac' (two operands), got {subscripts!r}"
        )
    inputs, out = spec.split("->")
    specs = inputs.split(",")
    if not all(c.isascii() and c.isalpha() for c in "".join(specs) + out):
        raise ValueError(f"subscripts must use letters only (no ellipsis), got {subscripts!r}")
    sizes: dict[str, int] = {}
    for letters, arr, name in zip(specs, (a, b), ("a", "b"), strict=True):
        if len(letters) != arr.ndim:
            raise ValueError(
                f"subscripts {letters!r} do not match operand {name} of ndim {arr.ndim}"
            )
        for letter, n in zip(letters, arr.shape, strict=True):
            old = sizes.get(letter, n)
            if old != n and 1 not in (old, n):
                raise ValueError(
                    f"index {letter!r} has size {old} and {n}: operands a and b do not match"
                )
            sizes[letter] = max(old, n) if 0 not in (old, n) else 0
    if len(set(out)) != len(out) or not set(out) <= set(sizes):
        raise ValueError(
            f"subscripts output {out!r} must name input indices, each once: {subscripts!r}"
        )
    macs = 1
    for n in sizes.values():
        macs *= n
    return _bounded(macs, "a, b")


def counted_einsum(
    subscripts: str, a: np.ndarray, b: np.ndarray, optimize: bool = True
) -> np.ndarray:
    """Two-operand ``np.einsum`` that records :func:`einsum_macs` MACs.

    ``optimize=False`` keeps einsum's own loop over strided operands (no temporary copies, no
    BLAS); ``True`` lets it dispatch to ``tensordot``/BLAS, which copies non-contiguous inputs.
    """
    macs = einsum_macs(subscripts, a, b)
    if not isinstance(optimize, bool):
        raise TypeError(f"optimize must be True or False, got {optimize!r}")
    out = np.einsum(subscripts, a, b, optimize=optimize)
    _record(macs=macs)
    return out


def matmul_macs(a: np.ndarray, b: np.ndarray) -> int:
    """MACs of ``a @ b``: (broadcast batch) x m x k x n, with NumPy's rules for 1-D operands."""
    a, b = _operand(a, "a"), _operand(b, "b")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("a and b must have at least one dimension for a matmul")
    k = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k != kb:
        raise ValueError(f"inner dimensions of a and b differ: a has {k}, b has {kb}")
    m = 1 if a.ndim == 1 else a.shape[-2]
    n = 1 if b.ndim == 1 else b.shape[-1]
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"batch dimensions of a {a.shape[:-2]} and b {b.shape[:-2]} do not broadcast"
        ) from None
    macs = m * k * n
    for d in batch:
        macs *= d
    return _bounded(macs, "a, b")


def counted_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (batched over leading dimensions) recording :func:`matmul_macs` MACs."""
    macs = matmul_macs(a, b)
    out = a @ b
    _record(macs=macs)
    return out


def counted_add(out: np.ndarray, addend: np.ndarray) -> np.ndarray:
    """``out + addend`` recording one addition per element of the result (not a MAC).

    ``addend`` (an array or a number) must broadcast to ``out``'s shape without changing it.
    """
    out = _operand(out, "out")
    if isinstance(addend, bool) or not isinstance(addend, np.ndarray | int | float | complex):
        if not isinstance(addend, np.number):
            raise TypeError(
                f"addend must be a NumPy array or a number, got {type(addend).__name__}"
            )
    arr = np.asarray(addend)
    if arr.dtype.kind not in "iufc":
        raise TypeError(f"addend must be numeric, got dtype {arr.dtype}")
    try:
        shape = np.broadcast_shapes(out.shape, arr.shape)
    except ValueError:
        shape = None
    if shape != out.shape:
        raise ValueError(f"addend of shape {arr.shape} does not broadcast to out's {out.shape}")
    result = out + addend
    _record(adds=int(result.size))
    return result
