"""Bad-input entries for :mod:`theory.conv_matrix`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, one_of, positive_int
from theory.conv_matrix import MAX_N

K = sympy.symbols("k0:3")


def _integer(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)


def _max_n(v: Any) -> bool:
    return _integer(v) and 2 <= int(v) <= MAX_N


def _matrix(rows: list[list[Any]]):
    def check(m: sympy.Matrix) -> None:
        assert m == sympy.Matrix(rows), m

    return check


ENTRIES = [
    Entry(
        "theory.conv_matrix.toeplitz_matrix",
        samples=(
            Sample(
                {"kernel": (1, 2), "n": 3, "mode": "full"},
                check=_matrix([[1, 0, 0], [2, 1, 0], [0, 2, 1], [0, 0, 2]]),
            ),
            Sample(
                {"kernel": (1, 2), "n": 3, "mode": "valid"}, check=_matrix([[2, 1, 0], [0, 2, 1]])
            ),
            Sample({"kernel": K, "n": 4}),
        ),
        errors=(
            ErrorSample({"kernel": (), "n": 3}, TypeError, "kernel"),
            ErrorSample({"kernel": "12", "n": 3}, TypeError, "kernel"),
            ErrorSample({"kernel": (1, float("nan")), "n": 3}, ValueError, "kernel"),
            ErrorSample({"kernel": (1, "x"), "n": 3}, TypeError, "kernel"),
            ErrorSample({"kernel": (1, 2), "n": 0}, ValueError, r"\bn\b"),
            ErrorSample({"kernel": (1, 2), "n": sympy.Symbol("n")}, TypeError, r"\bn\b"),
            ErrorSample({"kernel": (1, 2), "n": 10**30}, ValueError, r"\bn\b"),
            ErrorSample({"kernel": (1, 2, 3), "n": 2, "mode": "valid"}, ValueError, "kernel"),
            ErrorSample({"kernel": (1, 2), "n": 3, "mode": "same"}, ValueError, "mode"),
        ),
        domains={"n": positive_int, "mode": one_of("full", "valid")},
    ),
    Entry(
        "theory.conv_matrix.circulant_matrix",
        samples=(
            Sample(
                {"kernel": (1, 2), "n": 3},
                check=_matrix([[1, 0, 2], [2, 1, 0], [0, 2, 1]]),
            ),
            Sample({"kernel": K, "n": 5}),
        ),
        errors=(
            ErrorSample({"kernel": (1, 2, 3), "n": 2}, ValueError, "kernel"),
            ErrorSample({"kernel": (1, 2), "n": 2.0}, TypeError, r"\bn\b"),
            ErrorSample({"kernel": (1, sympy.oo), "n": 2}, ValueError, "kernel"),
        ),
        domains={"n": positive_int},
    ),
    Entry(
        "theory.conv_matrix.shift_matrix",
        samples=(
            Sample({"n": 3, "v": 1}, check=_matrix([[0, 0, 1], [1, 0, 0], [0, 1, 0]])),
            Sample({"n": 3, "v": -1}, check=_matrix([[0, 1, 0], [0, 0, 1], [1, 0, 0]])),
            Sample({"n": 4, "v": 0}, check=lambda m: m == sympy.eye(4)),
        ),
        errors=(
            ErrorSample({"n": 3, "v": 1.0}, TypeError, r"\bv\b"),
            ErrorSample({"n": 3, "v": True}, TypeError, r"\bv\b"),
            ErrorSample({"n": 0, "v": 1}, ValueError, r"\bn\b"),
        ),
        domains={"n": positive_int, "v": _integer},
    ),
    Entry(
        "theory.conv_matrix.equivariance_circular_proved",
        samples=(
            Sample({"max_n": 2}, check=lambda r: r is True),
            Sample({"max_n": 4}, check=lambda r: r is True),
        ),
        errors=(
            ErrorSample({"max_n": 0}, ValueError, "max_n"),
            ErrorSample({"max_n": 1}, ValueError, "max_n"),
            ErrorSample({"max_n": MAX_N + 1}, ValueError, "max_n"),
            ErrorSample({"max_n": 4.0}, TypeError, "max_n"),
        ),
        domains={"max_n": _max_n},
        time_limit=10.0,
    ),
    Entry(
        "theory.conv_matrix.shift_commutant",
        samples=(
            Sample(
                {"n": 3},
                check=lambda m: len(m.free_symbols) == 3 and m[:, 0].T * m[:, 0] != 0,
            ),
        ),
        errors=(
            ErrorSample({"n": 0}, ValueError, r"\bn\b"),
            ErrorSample({"n": MAX_N + 1}, ValueError, r"\bn\b"),
            ErrorSample({"n": sympy.Symbol("n", integer=True)}, TypeError, r"\bn\b"),
        ),
        domains={"n": positive_int},
        time_limit=10.0,
    ),
    Entry(
        "theory.conv_matrix.derive_equivariance_proof",
        samples=(Sample({}, check=lambda d: d.agrees()),),
        fuzz=False,
        result="any",
        note="takes no arguments",
    ),
]
