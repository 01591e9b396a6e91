r"""Pooling geometry: adaptive-pooling windows, torch's rule against the document's.

torch's adaptive pooling (``adaptive_avg_pool1d``/``2d``, ``adaptive_max_pool*``) gives output
:math:`i` (of :math:`O`) the window

.. math:: \Big[\Big\lfloor \frac{iI}{O} \Big\rfloor,\ \Big\lceil \frac{(i+1)I}{O} \Big\rceil\Big)

(ATen ``start_index``/``end_index``). The document's rule is a fixed kernel
:math:`k = \lceil I/O\rceil` and stride :math:`s = \lfloor I/O\rfloor`, i.e. windows
:math:`[is, is + k)` for :math:`i = 0, \dots, \lfloor (I-k)/s\rfloor`.

References: ``000_160a0b7c04e12fc6.txt`` § Advanced Pooling Techniques; torch
``AdaptiveAvgPool1d`` documentation.

>>> adaptive_windows(5, 3)
[(0, 2), (1, 4), (3, 5)]
>>> document_windows(5, 3)
[(0, 2), (1, 3), (2, 4), (3, 5)]
"""

from __future__ import annotations

import sympy

from theory._args import dim
from theory.derivation import Derivation, Step

__all__ = ["adaptive_windows", "derive_adaptive_rule", "document_windows", "rule_agrees"]


def _sizes(input_size: int, output_size: int) -> tuple[int, int]:
    i = int(dim(input_size, "input_size"))
    o = int(dim(output_size, "output_size"))
    if o > i:
        raise ValueError(f"output_size must be <= input_size here, got {o} > {i}")
    return i, o


def adaptive_windows(input_size: int, output_size: int) -> list[tuple[int, int]]:
    r"""torch's half-open windows :math:`[\lfloor iI/O\rfloor, \lceil (i+1)I/O\rceil)`."""
    i_, o = _sizes(input_size, output_size)
    return [(k * i_ // o, -(-(k + 1) * i_ // o)) for k in range(o)]


def document_windows(input_size: int, output_size: int) -> list[tuple[int, int]]:
    r"""Windows of a pooling with :math:`k = \lceil I/O\rceil`, :math:`s = \lfloor I/O\rfloor`."""
    i_, o = _sizes(input_size, output_size)
    k, s = -(-i_ // o), i_ // o
    return [(j * s, j * s + k) for j in range((i_ - k) // s + 1)]


def rule_agrees(input_size: int, output_size: int) -> bool:
    r"""True iff the document's rule reproduces torch's windows; equivalently (proved in
    :func:`derive_adaptive_rule`) iff :math:`I \bmod O \in \{0, 1\}`."""
    return document_windows(input_size, output_size) == adaptive_windows(input_size, output_size)


def derive_adaptive_rule() -> Derivation:
    r"""Do :math:`k = \lceil I/O\rceil`, :math:`s = \lfloor I/O\rfloor` give torch's windows?"""
    q, r, o = sympy.symbols("q r O", integer=True, nonnegative=True)
    count = sympy.floor((q * o + r - q - 1) / q) + 1  # number of windows when r > 0
    return Derivation(
        title="The document's adaptive-pooling rule against torch's windows",
        steps=(
            Step(
                r"Write $I = qO + r$, $0 \le r < O$. For $r = 0$: $k = s = q$ and torch's "
                r"windows are $[iq, (i+1)q)$ — the same."
            ),
            Step(
                r"For $r > 0$: $k = q + 1$, $s = q$; the number of windows is",
                sympy.Eq(sympy.Symbol("n"), count),
            ),
            Step(
                r"which simplifies to $O + \lfloor (r-1)/q\rfloor$: more than $O$ outputs "
                r"whenever $r > q$."
            ),
            Step(
                r"torch's window $i$ starts at $\lfloor iI/O\rfloor = iq + \lfloor ir/O\rfloor$; "
                r"the rule starts it at $iq$. Equal for all $i < O$ iff $(O-1)r < O$, i.e. "
                r"$r \le 1$ (for $O \ge 2$). For $r = 1$ torch's end is "
                r"$(i+1)q + \lceil (i+1)/O\rceil = (i+1)q + 1 = iq + k$: equal."
            ),
            Step(
                r"So the rule reproduces torch **iff** $I \bmod O \in \{0, 1\}$ (also checked "
                r"exhaustively for all $1 \le O \le I \le 300$ in the tests)."
            ),
        ),
        claimed=o + sympy.floor((r - 1) / q),
        derived=sympy.simplify(count),
        scope="proved by the argument above; exhaustively checked for 1 <= O <= I <= 300",
    )
