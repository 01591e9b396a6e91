r"""Argument checking shared by the public helpers of :mod:`theory`.

Every helper takes either plain integers (and then returns exact ``int`` or
:class:`sympy.Rational` results) or SymPy expressions (and then returns exact SymPy
expressions). Invalid arguments raise :class:`TypeError` (wrong kind of value) or
:class:`ValueError` (right kind, outside the allowed range), always naming the argument
and what is allowed.

What an integer hyper-parameter (:func:`dim`) accepts
------------------------------------------------------
* Python and NumPy integers (``3``, ``np.int64(3)``) and SymPy ``Integer``; returned as ``int``.
* SymPy expressions that *may* be integers :math:`\ge` the minimum: nothing known about them
  contradicts it. A symbol without assumptions (``Symbol("n")``) is accepted, as is a
  product such as ``64*alpha`` (width multipliers); ``Symbol("n", integer=True,
  positive=True)`` is the recommended spelling. Rejected: an expression known not to be an
  integer (``Rational(1, 2)``, ``sympy.I``), known to be infinite, or containing ``nan``,
  ``oo``, ``zoo`` or a floating-point number (TypeError), and one known to be below the
  minimum (``Symbol("s", negative=True)`` where :math:`\ge 1` is required; ValueError).
* Never: bools (also ``np.bool_``), floats — **even integral ones such as** ``3.0`` or
  ``np.float64(3)`` (TypeError: a float size is almost always a bug upstream) —, strings,
  ``None``, complex numbers, containers.

Helpers that enumerate (lists of windows, loops over positions) take concrete integers only
(:func:`int_dim`) and bound their work with :func:`bounded` (limit :data:`MAX_ITEMS`).
Real-valued parameters (variances, correlations) go through :func:`real`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import sympy

Dim = int | sympy.Expr
"""An integer hyper-parameter: a Python/NumPy integer or a SymPy expression."""

TEXT = str | bytes | bytearray
"""Sequences that are never sequences of sizes: ``b"\\x01"`` iterates as the int 1, so
``bytes``/``bytearray`` would silently pass for a list of integers."""

_NOT_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def is_symbolic(*values: object) -> bool:
    """True when any value is a SymPy expression that is not a plain integer."""
    return any(isinstance(v, sympy.Basic) and not isinstance(v, sympy.Integer) for v in values)


def _describe(value: object) -> str:
    return f"{type(value).__name__} ({value!r})"


def _symbolic_problem(value: sympy.Basic) -> str | None:
    """Why a SymPy object cannot stand for a finite integer, or None."""
    if not isinstance(value, sympy.Expr):
        return "not a SymPy expression"
    if any(value.has(bad) for bad in _NOT_FINITE) or value.has(sympy.AccumBounds):
        return "it contains nan, oo or zoo"
    if value.atoms(sympy.Float):
        return "it contains a floating-point number (use exact integers)"
    if value.is_integer is False:
        return "it is known not to be an integer"
    if value.is_finite is False or value.is_extended_real is False:
        return "it is known not to be a finite real number"
    return None


def dim(value: object, name: str, minimum: int = 1) -> Dim:
    r"""Check one integer hyper-parameter and return it as ``int`` or SymPy expression.

    Parameters
    ----------
    value:
        A Python or NumPy integer, a SymPy ``Integer`` or a SymPy expression whose
        assumptions do not contradict being a finite integer :math:`\ge` ``minimum`` (see the
        module docstring for exactly what is accepted).
    name:
        The argument's name, used in error messages.
    minimum:
        The smallest allowed value.

    Raises
    ------
    TypeError
        ``value`` is a bool, a float (also ``3.0``), a string, ``nan``/``oo``/``zoo``, a
        non-integer SymPy number, …
    ValueError
        ``value`` is an integer below ``minimum`` (or an expression known to be below it).
    """
    allowed = f"an integer >= {minimum}"
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be {allowed}, got a bool ({value!r})")
    if isinstance(value, numbers.Integral):
        v = int(value)
        if v < minimum:
            raise ValueError(f"{name} must be {allowed}, got {v}")
        return v
    if isinstance(value, sympy.Basic):
        if isinstance(value, sympy.Integer):
            return dim(int(value), name, minimum)
        why = _symbolic_problem(value)
        if why is not None:
            raise TypeError(
                f"{name} must be {allowed} or an integer-valued SymPy expression, got "
                f"{value!r}: {why}"
            )
        if (value - minimum).is_negative:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r} (known to be smaller)")
        return value
    if isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be {allowed}, got a float ({value!r}); floats are refused even "
            f"when integral: pass int({value!r}) if that is what you mean"
        )
    raise TypeError(f"{name} must be {allowed} or a SymPy expression, got {_describe(value)}")


def int_dim(value: object, name: str, minimum: int = 1) -> int:
    r"""Like :func:`dim`, but only a concrete integer (helpers that enumerate or branch on
    the value): a symbolic expression raises ``TypeError`` naming the argument."""
    v = dim(value, name, minimum)
    if not isinstance(v, int):
        raise TypeError(f"{name} must be a concrete integer >= {minimum} here, got {v!r}")
    return v


def dims(value: object, name: str, ndim: int | None = None, minimum: int = 1) -> tuple[Dim, ...]:
    """Check an integer or a sequence of integers (one per spatial dimension).

    A single value is broadcast to ``ndim`` dimensions (``1`` when ``ndim`` is None).
    ``str``, ``bytes`` and ``bytearray`` are never sequences of sizes (``TypeError``).
    """
    if isinstance(value, Sequence) and not isinstance(value, TEXT):
        if len(value) == 0:
            raise ValueError(f"{name} must have at least one entry, got an empty sequence")
        if ndim is not None and len(value) != ndim:
            raise ValueError(f"{name} must have {ndim} entries, got {len(value)}")
        return tuple(dim(v, f"{name}[{i}]", minimum) for i, v in enumerate(value))
    return (dim(value, name, minimum),) * (1 if ndim is None else ndim)


def flag(value: object, name: str) -> bool:
    """Check a boolean switch (``bias``, ``ceil_mode`` …): exactly ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return value


def real(
    value: object,
    name: str,
    lower: object = None,
    upper: object = None,
) -> sympy.Expr:
    r"""Check a real parameter (a variance, a correlation) and return it as a SymPy number
    or expression.

    Accepted: Python/NumPy ints and floats, SymPy expressions not known to be non-real;
    rejected with ``TypeError``: bools, strings, ``None``, complex numbers; with
    ``ValueError``: NaN, infinities, and values (known to be) outside
    ``[lower, upper]`` (a bound of ``None`` is absent). Floats become ``sympy.Float``.
    """
    where = "a finite real number" + (
        f" in [{lower}, {upper}]"
        if lower is not None and upper is not None
        else f" >= {lower}"
        if lower is not None
        else f" <= {upper}"
        if upper is not None
        else ""
    )
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be {where}, got a bool ({value!r})")
    if isinstance(value, numbers.Real) and not isinstance(value, sympy.Basic):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be {where}, got {value!r}")
        v = sympy.Integer(int(value)) if isinstance(value, numbers.Integral) else sympy.Float(value)
    elif isinstance(value, sympy.Expr):
        if any(value.has(bad) for bad in _NOT_FINITE):
            raise ValueError(f"{name} must be {where}, got {value!r}")
        if value.is_extended_real is False or value.is_finite is False:
            raise TypeError(f"{name} must be {where}, got {value!r} (not a finite real)")
        v = value
    else:
        raise TypeError(f"{name} must be {where}, got {_describe(value)}")
    if lower is not None and (v - lower).is_negative:
        raise ValueError(f"{name} must be {where}, got {value!r}")
    if upper is not None and (v - upper).is_positive:
        raise ValueError(f"{name} must be {where}, got {value!r}")
    return v


def choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``allowed``: TypeError for a non-string,
    ValueError for another string, both naming ``name`` and the allowed values."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed}, got {type(value).__name__} ({value!r})")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
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
