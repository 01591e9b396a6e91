r"""Convolution as a matrix: Toeplitz and circulant forms, the shift operator, equivariance.

Conventions
-----------
* **Convolution** flips the kernel: :math:`(x * k)[i] = \sum_j x[j]\,k[i - j]`;
  **cross-correlation** does not: :math:`(x \star k)[i] = \sum_m x[i + m]\,k[m]`. torch's
  ``conv1d`` computes cross-correlation; cross-correlation with :math:`k` is convolution with
  the flipped kernel :math:`k[K-1-m]` (up to the output offset).
* The translation :math:`T_v` moves a signal by :math:`v`: :math:`(T_v x)[i] = x[i - v]`.
  On :math:`\mathbb{Z}_n` (circular boundary) it is the permutation matrix :math:`S_v`.
* Indices start at 0; kernels have :math:`K` taps :math:`k[0..K-1]`.

References: ``002_532ac369c9b692e7.txt`` § Convolution as Matrix Operation, § Parameter
Sharing Analysis; ``000_160a0b7c04e12fc6.txt`` § Mathematical Foundation of Convolution;
R. M. Gray, *Toeplitz and Circulant Matrices: A Review* (2006), §3.

Examples
--------
>>> import sympy
>>> k = sympy.symbols("k0:2")
>>> toeplitz_matrix(k, 3)
Matrix([
[k0,  0,  0],
[k1, k0,  0],
[ 0, k1, k0],
[ 0,  0, k1]])
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import sympy

from theory._args import bounded, dim
from theory.derivation import Derivation, Step

__all__ = [
    "circulant_matrix",
    "derive_equivariance_proof",
    "equivariance_circular_proved",
    "shift_commutant",
    "shift_matrix",
    "toeplitz_matrix",
]


MAX_N = 16
"""Largest ``max_n`` of :func:`equivariance_circular_proved` and ``n`` of
:func:`shift_commutant` (their symbolic work grows like :math:`n^5`)."""


def _size(value: object, name: str, minimum: int = 1) -> int:
    """A concrete integer >= ``minimum`` (Python, NumPy or SymPy ``Integer``): matrices need
    a numeric size, so a symbol is refused with ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral | sympy.Integer):
        raise TypeError(
            f"{name} must be an integer >= {minimum} (a matrix needs a concrete size), "
            f"got {type(value).__name__} ({value!r})"
        )
    return int(dim(int(value), name, minimum))


def _entries(rows: int, cols: int, name: str) -> None:
    """Refuse a matrix of more than ``theory._args.MAX_ITEMS`` symbolic entries."""
    bounded(rows * cols, f"{name} (the matrix has {rows}x{cols} entries; the entry count)")


def _kernel(kernel: Sequence[object]) -> list[sympy.Expr]:
    """Kernel taps as SymPy expressions: a non-empty sequence (or 1-D NumPy array) of finite
    real numbers or SymPy expressions (strings are not parsed)."""
    if isinstance(kernel, np.ndarray):
        if kernel.ndim != 1 or kernel.dtype.kind not in "iuf":
            raise TypeError("kernel must be a 1-D real array or a sequence of numbers")
        kernel = kernel.tolist()
    if isinstance(kernel, str | bytes) or not isinstance(kernel, Sequence) or len(kernel) == 0:
        raise TypeError("kernel must be a non-empty sequence of numbers or SymPy expressions")
    taps = []
    for v in kernel:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Number | sympy.Expr):
            raise TypeError(
                f"kernel entries must be real numbers or SymPy expressions, got "
                f"{type(v).__name__} ({v!r})"
            )
        tap = sympy.sympify(v)
        if tap.is_real is False or tap.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise ValueError(f"kernel entries must be finite real values, got {v!r}")
        taps.append(tap)
    return taps


def toeplitz_matrix(kernel: Sequence[object], n: int, mode: str = "full") -> sympy.Matrix:
    r"""The matrix of true convolution with ``kernel`` on signals of length ``n`` (zero outside).

    :math:`T[i, j] = k[i - j]` (0 when :math:`i - j \notin [0, K)`): constant along diagonals.
    ``mode="full"`` gives all :math:`n + K - 1` outputs; ``"valid"`` the :math:`n - K + 1`
    outputs whose window lies inside the signal (rows :math:`K-1 \dots n-1` of the full matrix).
    At most ``theory._args.MAX_ITEMS`` entries.
    """
    k = _kernel(kernel)
    n = _size(n, "n")
    if not isinstance(mode, str) or mode not in ("full", "valid"):
        raise ValueError(f"mode must be 'full' or 'valid', got {mode!r}")
    rows = n + len(k) - 1
    if mode == "valid" and len(k) > n:
        raise ValueError(f"valid mode needs len(kernel) <= n, got {len(k)} > {n}")
    _entries(rows, n, "n")
    full = sympy.Matrix(rows, n, lambda i, j: k[i - j] if 0 <= i - j < len(k) else 0)
    if mode == "full":
        return full
    return full[len(k) - 1 : n, :]


def circulant_matrix(kernel: Sequence[object], n: int) -> sympy.Matrix:
    r"""Circular convolution on :math:`\mathbb{Z}_n` as a matrix, :math:`C[i, j] = k[(i-j)\bmod n]`,
    so :math:`(Cx)[i] = \sum_j x[j]\,k[(i-j) \bmod n]`.

    The kernel is zero-padded to length ``n`` (needs :math:`K \le n`). At most
    ``theory._args.MAX_ITEMS`` entries.
    """
    k = _kernel(kernel)
    n = _size(n, "n")
    if len(k) > n:
        raise ValueError(f"circulant needs len(kernel) <= n, got {len(k)} > {n}")
    _entries(n, n, "n")
    padded = k + [sympy.Integer(0)] * (n - len(k))
    return sympy.Matrix(n, n, lambda i, j: padded[(i - j) % n])


def shift_matrix(n: int, v: int) -> sympy.Matrix:
    r"""Circular shift by ``v`` on :math:`\mathbb{Z}_n`: :math:`(S_v x)[i] = x[(i-v)\bmod n]`,
    i.e. ``S_v @ x == np.roll(x, v)`` (the signal moves towards higher indices for
    :math:`v > 0`). ``v`` is any integer (taken mod ``n``). At most ``theory._args.MAX_ITEMS``
    entries."""
    n = _size(n, "n")
    if isinstance(v, bool) or not isinstance(v, numbers.Integral | sympy.Integer):
        raise TypeError(f"v must be an integer, got {type(v).__name__} ({v!r})")
    v = int(v) % n
    _entries(n, n, "n")
    return sympy.Matrix(n, n, lambda i, j: 1 if (i - v - j) % n == 0 else 0)


def equivariance_circular_proved(max_n: int = 8) -> bool:
    r"""True when :math:`C S_v = S_v C` holds as a symbolic identity (kernel taps as symbols)
    for every :math:`2 \le n \le` ``max_n``, every kernel length :math:`K \le n` and every
    shift :math:`v`.

    Not vacuous: ``max_n`` must be in :math:`[2, 16]` (:data:`MAX_N`), and for each case the
    matrices are first checked to *be* what they claim, on a symbolic signal :math:`x`:
    :math:`(S_v x)[i] = x[(i - v) \bmod n]` and :math:`(C x)[i] = \sum_j x[j]\,k[(i-j) \bmod n]`
    (a wrong shift or circulant returns False). The number of cases checked is
    :math:`\sum_{n=2}^{N} n^2`, at least 4.
    """
    max_n = _size(max_n, "max_n", minimum=2)
    if max_n > MAX_N:
        raise ValueError(f"max_n must be at most MAX_N = {MAX_N}, got {max_n}")
    checked = 0
    for n in range(2, max_n + 1):
        x = sympy.Matrix(sympy.symbols(f"x0:{n}"))
        for klen in range(1, n + 1):
            taps = sympy.symbols(f"k0:{klen}")
            c = circulant_matrix(taps, n)
            padded = list(taps) + [0] * (n - klen)
            conv = [sum(x[j] * padded[(i - j) % n] for j in range(n)) for i in range(n)]
            if list((c * x).applyfunc(sympy.expand)) != [sympy.expand(e) for e in conv]:
                return False
            for v in range(n):
                s = shift_matrix(n, v)
                if list(s * x) != [x[(i - v) % n] for i in range(n)]:
                    return False
                if (c * s - s * c).applyfunc(sympy.expand) != sympy.zeros(n, n):
                    return False
                checked += 1
    if checked < 4:  # pragma: no cover - guarded by max_n >= 2
        raise RuntimeError("internal error: the proof checked fewer than 4 cases")
    return True


def shift_commutant(n: int) -> sympy.Matrix:
    r"""The general :math:`n \times n` matrix :math:`M` with :math:`M S_1 = S_1 M`.

    Solves the :math:`n^2` linear equations of the commutation for a matrix of :math:`n^2`
    unknowns. The answer is the general circulant (free parameters = its first column): the
    linear maps on :math:`\mathbb{Z}_n` that commute with every translation are exactly the
    circular convolutions — *what translation equivariance means* for a linear layer, and the
    only functions a weight-shared (stride-1, circular) layer can compute.
    """
    n = _size(n, "n")
    if n > MAX_N:
        raise ValueError(f"n must be at most MAX_N = {MAX_N} here (n**2 unknowns), got {n}")
    unknowns = sympy.symbols(f"m0:{n * n}")
    m = sympy.Matrix(n, n, unknowns)
    s = shift_matrix(n, 1)
    solution = sympy.solve(list(m * s - s * m), unknowns, dict=True)
    return m.subs(solution[0]) if solution else m


i_, j_, v_ = sympy.symbols("i j v", integer=True)
x_, k_ = sympy.Function("x"), sympy.Function("k")


def _conv(signal, at) -> sympy.Sum:
    """(signal * k)[at] as an infinite sum over j."""
    return sympy.Sum(signal(j_) * k_(at - j_), (j_, -sympy.oo, sympy.oo))


def derive_equivariance_proof() -> Derivation:
    r"""The document's proof, each step checked by SymPy on the infinite sum."""
    shifted = sympy.Lambda(j_, x_(j_ - v_))  # T_v x
    step2 = _conv(shifted, i_)  # sum_j x[j - v] k[i - j]
    step3 = step2.change_index(j_, j_ - v_)  # substitute j -> j + v
    step4 = _conv(x_, i_ - v_)  # (x * k)[i - v]
    finite = sympy.Sum(x_(j_ - v_) * k_(i_ - j_), (j_, 0, sympy.Symbol("n") - 1))
    return Derivation(
        title="Translation equivariance of convolution, step by step",
        steps=(
            Step("Definition of convolution applied to the shifted signal:", step2),
            Step(
                r"Re-index $j \to j + v$ (`Sum.change_index`): the sum runs over all of "
                r"$\mathbb{Z}$, so its limits do not move:",
                step3,
            ),
            Step(r"This is the definition of $(x * k)[i - v] = T_v[(x * k)][i]$:", step4),
            Step(
                r"On a finite signal with zero boundary the same re-indexing moves the limits "
                r"(below), so the equality fails near the borders unless the domain is "
                r"circular; with stride $s$ only shifts that are multiples of $s$ commute.",
                finite.change_index(j_, j_ - v_),
            ),
        ),
        claimed=step4.function,
        derived=step3.function,
        scope="proved on the infinite sum (summands equal, limits unchanged); circular case "
        "proved as C S = S C for every 2 <= n <= 8, every kernel length and shift, after checking "
        "S and C act on a symbolic signal as the shift and the circular convolution",
    )
