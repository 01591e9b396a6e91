r"""The bad-input table: every public function with valid samples and error samples.

torch's OpInfo in miniature (``sample_inputs`` / ``error_inputs``). Each module
``tests/badinput/<area>.py`` defines ``ENTRIES: list[Entry]``; :func:`tests.badinput.entries`
collects them. ``tests/test_bad_input_table.py`` then

* fails when a public function or class of ``theory``, ``kernels`` or ``numerics`` has no
  entry (or an entry names something that no longer exists);
* runs every valid :class:`Sample` (the result must be *sane*: no NaN/inf, counts ≥ 0,
  and pass the sample's ``check``);
* runs every :class:`ErrorSample` (it must raise its exception, the message naming the
  argument);
* fuzzes each entry with hypothesis, replacing **one argument at a time** by a bad value
  (generic pool below, the entry's own ``bad_values``, and variants of arrays); the call must
  either return a sane result (equal to the original when the new value is an equivalent
  spelling, e.g. ``np.int64(3)`` for ``3`` or a non-contiguous copy of an array) or raise
  ``ValueError``/``TypeError`` whose message names the replaced argument — never another
  exception, a NaN, a negative count, or a hang (each call has a time limit). Where a
  ``domain`` predicate is given for an argument, a value outside it *must* be rejected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

Check = Callable[[Any], None]


@dataclass(frozen=True)
class Sample:
    """A valid call. Give every argument by name (the fuzz replaces them by name)."""

    kwargs: Mapping[str, Any]
    args: tuple = ()
    check: Check | None = None  # extra assertions on the result (raise AssertionError)
    note: str = ""


@dataclass(frozen=True)
class ErrorSample:
    """An invalid call: must raise ``exc`` with a message matching ``match`` (a regex that
    names the argument and what is allowed)."""

    kwargs: Mapping[str, Any]
    exc: type[Exception] | tuple[type[Exception], ...]
    match: str
    args: tuple = ()
    note: str = ""


@dataclass(frozen=True)
class Entry:
    """One public function, class or method.

    ``target`` is its dotted name (``"theory.conv.conv_output_size"``,
    ``"theory.arch.Spec.embedding"``). ``make`` returns the callable to call (default: the
    target itself; a method needs ``make=lambda: Spec.image(3, 8, 8).embedding``). It is called
    afresh for every call so state never leaks between calls. ``result`` names the kind of
    result checked for sanity: ``"count"`` (ints/expressions ≥ 0), ``"value"`` (finite numbers,
    arrays, expressions; the default), ``"any"`` (objects checked by ``check`` only).
    ``domains`` maps an argument name to a predicate of the *allowed* values: the fuzz
    requires every other value to be rejected. ``bad_values`` adds values to the fuzz pool of
    one argument. ``fuzz=False`` only for targets without arguments (say why in ``note``).
    ``time_limit`` (seconds) bounds every call.
    """

    target: str
    samples: tuple[Sample, ...]
    errors: tuple[ErrorSample, ...] = ()
    make: Callable[[], Callable[..., Any]] | None = None
    result: str = "value"
    domains: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    bad_values: Mapping[str, tuple] = field(default_factory=dict)
    fuzz: bool = True
    time_limit: float = 5.0
    note: str = ""


# Domain predicates for ``Entry.domains`` ------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer | sympy.Integer) and not isinstance(v, bool | np.bool_)


def positive_int(v: Any) -> bool:
    """An integer ≥ 1 (Python, NumPy or SymPy ``Integer``)."""
    return _is_int(v) and int(v) >= 1


def nonneg_int(v: Any) -> bool:
    """An integer ≥ 0."""
    return _is_int(v) and int(v) >= 0


def boolean(v: Any) -> bool:
    """Exactly ``True`` or ``False`` (strings such as ``'False'`` are not flags)."""
    return isinstance(v, bool)


def finite_float(v: Any) -> bool:
    """A finite real number (bools excluded; Python ints of any size count)."""
    if not isinstance(v, int | float | np.integer | np.floating) or isinstance(v, bool | np.bool_):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:  # an int too large for a float is still a finite number
        return True


def positive_float(v: Any) -> bool:
    """A finite real number > 0 (bools excluded)."""
    return finite_float(v) and v > 0


def one_of(*allowed: Any) -> Callable[[Any], bool]:
    """One of the given values (compared with ``==`` and the same type)."""

    def pred(v: Any) -> bool:
        return any(type(v) is type(a) and v == a for a in allowed)

    pred.__name__ = f"one_of{allowed!r}"
    return pred
