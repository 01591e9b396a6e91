r"""Argument checking shared by the public helpers of :mod:`theory`.

Every helper takes either plain integers (and then returns exact ``int`` or
:class:`sympy.Rational` results) or SymPy expressions (and then returns exact SymPy
expressions). Invalid arguments raise :class:`TypeError` (wrong kind of value) or
:class:`ValueError` (right kind, outside the allowed range), always naming the argument
and what is allowed.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import sympy

Dim = int | sympy.Expr
"""An integer hyper-parameter: a Python/NumPy integer or a SymPy expression."""


def is_symbolic(*values: object) -> bool:
    """True when any value is a SymPy expression that is not a plain integer."""
    return any(isinstance(v, sympy.Basic) and not isinstance(v, sympy.Integer) for v in values)


def dim(value: object, name: str, minimum: int = 1) -> Dim:
    r"""Check one integer hyper-parameter and return it as ``int`` or SymPy expression.

    Parameters
    ----------
    value:
        A Python or NumPy integer, a SymPy ``Integer`` or a SymPy expression whose
        assumptions do not contradict being an integer :math:`\ge` ``minimum``.
    name:
        The argument's name, used in error messages.
    minimum:
        The smallest allowed value.

    Raises
    ------
    TypeError
        ``value`` is a ``bool``, a float, a string, a non-integer SymPy number, …
    ValueError
        ``value`` is an integer below ``minimum`` (or a symbol known to be below it).
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer >= {minimum}, got a bool ({value!r})")
    if isinstance(value, numbers.Integral):
        v = int(value)
        if v < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {v}")
        return v
    if isinstance(value, sympy.Basic):
        if isinstance(value, sympy.Integer):
            return dim(int(value), name, minimum)
        if not isinstance(value, sympy.Expr) or value.is_integer is False:
            raise TypeError(
                f"{name} must be an integer >= {minimum} or an integer-valued SymPy "
                f"expression, got {value!r}"
            )
        if (value - minimum).is_negative:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r} (known to be smaller)")
        return value
    raise TypeError(
        f"{name} must be an integer >= {minimum} or a SymPy expression, "
        f"got {type(value).__name__} ({value!r})"
    )


def dims(value: object, name: str, ndim: int | None = None, minimum: int = 1) -> tuple[Dim, ...]:
    """Check an integer or a sequence of integers (one per spatial dimension).

    A single value is broadcast to ``ndim`` dimensions (``1`` when ``ndim`` is None).
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0:
            raise ValueError(f"{name} must have at least one entry, got an empty sequence")
        if ndim is not None and len(value) != ndim:
            raise ValueError(f"{name} must have {ndim} entries, got {len(value)}")
        return tuple(dim(v, f"{name}[{i}]", minimum) for i, v in enumerate(value))
    return (dim(value, name, minimum),) * (1 if ndim is None else ndim)


def flag(value: object, name: str) -> bool:
    """Check a boolean switch (``bias``, ``ceil_mode`` …)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} ({value!r})")
    return value


def divides(groups: Dim, channels: Dim, groups_name: str, channels_name: str) -> None:
    """Raise ``ValueError`` unless ``groups`` divides ``channels`` (checked when both are ints)."""
    if isinstance(groups, int) and isinstance(channels, int) and channels % groups:
        raise ValueError(
            f"{groups_name} must divide {channels_name}: {channels_name}={channels} is not "
            f"a multiple of {groups_name}={groups}"
        )


def product(values: Sequence[Dim]) -> Dim:
    """The product of integers or expressions (``1`` for an empty sequence), kept exact."""
    out: Dim = 1
    for v in values:
        out = out * v
    return out


def exact_ratio(numerator: Dim, denominator: Dim) -> sympy.Expr:
    """``numerator / denominator`` as an exact :class:`sympy.Rational` or cancelled expression."""
    if isinstance(numerator, int) and isinstance(denominator, int):
        return sympy.Rational(numerator, denominator)
    return sympy.cancel(sympy.sympify(numerator) / denominator)


MAX_ITEMS = 10**6
"""Largest number of items (layers, windows, list entries) a helper enumerates. Beyond it a
helper refuses at once with ``ValueError`` naming the argument, rather than hanging."""


def bounded(value: Dim, name: str, limit: int = MAX_ITEMS) -> Dim:
    """Refuse an integer count above ``limit`` for helpers that enumerate item by item."""
    if isinstance(value, int) and value > limit:
        raise ValueError(
            f"{name} must be at most {limit} here (this helper enumerates item by item), "
            f"got {value}"
        )
    return value
