"""Bad-input entries for :mod:`theory.attention_capacity`."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from tests.badinput.table import Entry, ErrorSample, Sample
from tests.badinput.theory_conv import derivation_entry
from theory.attention_capacity import MAX_LOGIT_ENTRIES


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


_Q = np.array([0.0, 1.0, 2.0])
_VANDERMONDE = _softmax_rows(np.outer(_Q, _Q))  # d_k = 1, full-rank weights
_n = sympy.Symbol("n", integer=True, positive=True)

SHIFT = [[3 if j == (i + 1) % 4 else 0 for j in range(4)] for i in range(4)]
"""L = 3S, S the 4 x 4 cyclic shift: rank(LC) = 3."""


def _is_logits(v: Any) -> bool:
    """An exact, non-empty rectangular matrix (SymPy Matrix, integer array, list of rows)."""
    if isinstance(v, sympy.MatrixBase):
        return 0 < v.rows * v.cols <= MAX_LOGIT_ENTRIES and all(
            isinstance(e, sympy.Rational) for e in v
        )
    if isinstance(v, np.ndarray):
        if type(v) is not np.ndarray or v.ndim != 2 or v.size == 0:
            return False
        if v.dtype.kind == "O":  # object arrays: judged entry by entry
            return _is_logits(v.tolist())
        return v.dtype.kind in "iu"
    if not isinstance(v, list | tuple) or not v:
        return False
    if not all(isinstance(r, list | tuple | np.ndarray) for r in v):
        return False
    width = len(v[0])
    return width > 0 and all(
        len(r) == width
        and all(
            isinstance(e, int | np.integer | Fraction | sympy.Rational)
            and not isinstance(e, bool | np.bool_)
            for e in r
        )
        for r in v
    )


def _is_reals(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return type(v) is np.ndarray and v.dtype.kind in "iuf" and v.ndim == 1 and v.size > 0
    return (
        isinstance(v, list | tuple)
        and len(v) > 0
        and all(
            isinstance(e, int | float | np.integer | np.floating | Fraction | sympy.Rational)
            and not isinstance(e, bool | np.bool_)
            and np.isfinite(float(e))
            for e in v
        )
    )


def _positive_int(v: Any) -> bool:
    return isinstance(v, int | np.integer | sympy.Integer) and not isinstance(v, bool) and v >= 1


_BAD_LOGITS = (
    [[1.0, 2.0], [3.0, 4.0]],  # floats: the rank of rounded logits is not exact
    [[1, 2], [3]],  # ragged
    [[]],
    [1, 2, 3],  # 1-D
    [[1, sympy.Symbol("x")]],
    [[1, True]],
    [[1, sympy.nan]],
    sympy.zeros(0, 3),
    np.zeros((2, 2)),
    np.zeros((2, 2), dtype=np.int64)[None],
    [[0] * 65] * 65,  # 4225 entries > MAX_LOGIT_ENTRIES
    [[2**5000, 1]],
    "[[1, 2]]",
)

ENTRIES = [
    Entry(
        "theory.attention_capacity.min_head_dim",
        samples=(
            Sample({"logits": SHIFT}, check=lambda r: r == 3),
            Sample({"logits": sympy.Matrix(SHIFT)}, check=lambda r: r == 3),
            Sample({"logits": np.array(SHIFT, dtype=np.int64)}, check=lambda r: r == 3),
            Sample({"logits": [[5, 5, 5], [1, 1, 1]]}, check=lambda r: r == 0),
            Sample(
                {"logits": [[Fraction(1, 2), 0], [0, sympy.Rational(1, 3)]]}, check=lambda r: r == 1
            ),
            Sample({"logits": [[7]]}, check=lambda r: r == 0),
        ),
        errors=(
            ErrorSample({"logits": [[1.0, 2.0]]}, TypeError, r"logits\[0\]\[0\] must be an exact"),
            ErrorSample({"logits": [[1, 2], [3]]}, ValueError, r"logits\[1\] has 1 entries"),
            ErrorSample({"logits": []}, ValueError, r"logits must be a non-empty 2-D matrix"),
            ErrorSample({"logits": [1, 2]}, TypeError, r"logits must be a non-empty 2-D"),
            ErrorSample(
                {"logits": np.zeros((2, 2))}, TypeError, r"logits must be .* dtype float64"
            ),
            ErrorSample(
                {"logits": [[0] * 65] * 65}, ValueError, r"logits \(entries\) must be at most 4096"
            ),
            ErrorSample(
                {"logits": [[2**5000]]}, ValueError, r"logits\[0\]\[0\] must have .* 4096 bits"
            ),
            ErrorSample(  # within the per-entry limit, but the elimination would take seconds
                {"logits": [[2**4000 * (i * j + 1) for j in range(16)] for i in range(16)]},
                ValueError,
                r"logits is too costly for an exact rank",
            ),
            ErrorSample(
                {"logits": [[1, True]]}, TypeError, r"logits\[0\]\[1\] must be an exact .* bool"
            ),
        ),
        result="count",
        domains={"logits": _is_logits},
        bad_values={"logits": _BAD_LOGITS},
    ),
    Entry(
        "theory.attention_capacity.representable_with_head_dim",
        samples=(
            Sample({"logits": SHIFT, "d_k": 3}, check=lambda r: r is True),
            Sample({"logits": SHIFT, "d_k": 2}, check=lambda r: r is False),
            Sample({"logits": [[1, 2], [3, 4]], "d_k": 1}, check=lambda r: r is True),
        ),
        errors=(
            ErrorSample({"logits": SHIFT, "d_k": 0}, ValueError, r"d_k must be an integer >= 1"),
            ErrorSample({"logits": SHIFT, "d_k": 2.0}, TypeError, r"d_k must be an integer"),
            ErrorSample({"logits": SHIFT, "d_k": "2"}, TypeError, r"d_k must be an integer"),
            ErrorSample(
                {"logits": SHIFT, "d_k": sympy.Symbol("k")}, TypeError, r"d_k must be a concrete"
            ),
            ErrorSample({"logits": [[0.5]], "d_k": 1}, TypeError, r"logits\[0\]\[0\]"),
        ),
        domains={"logits": _is_logits, "d_k": _positive_int},
        bad_values={"logits": _BAD_LOGITS},
    ),
    Entry(
        "theory.attention_capacity.rank_one_attention_rank",
        samples=(
            Sample({"q": [1, 2, 3], "k": [1, 2, 3]}, check=lambda r: r == 3),
            Sample({"q": [0.5, 0.5, 2], "k": [1, -1, 3, 4]}, check=lambda r: r == 2),
            Sample(
                {"q": (Fraction(1, 2), sympy.Rational(1, 2)), "k": [0, 1]}, check=lambda r: r == 1
            ),
            Sample({"q": np.array([0.0, 1.0, 2.0]), "k": np.array([3, 4])}, check=lambda r: r == 2),
        ),
        errors=(
            ErrorSample({"q": [], "k": [1]}, ValueError, r"q must be a non-empty 1-D sequence"),
            ErrorSample({"q": [1], "k": [float("nan")]}, ValueError, r"k\[0\] is nan"),
            ErrorSample({"q": [1], "k": [True]}, TypeError, r"k\[0\] is a bool"),
            ErrorSample({"q": "12", "k": [1]}, TypeError, r"q must be a non-empty 1-D"),
            ErrorSample({"q": [sympy.pi], "k": [1]}, TypeError, r"q\[0\] is pi"),
            ErrorSample(
                {"q": np.zeros((2, 2)), "k": [1]}, TypeError, r"q must be .* shape \(2, 2\)"
            ),
            ErrorSample({"q": [1 + 1j], "k": [1]}, TypeError, r"q\[0\] is complex"),
        ),
        result="count",
        domains={"q": _is_reals, "k": _is_reals},
        bad_values={
            "q": ([1, "a"], [[1, 2]], [1, None], np.array([1 + 1j])),
            "k": ([float("inf")], [sympy.Float(1.5)], np.array([True])),
        },
    ),
    derivation_entry("theory.attention_capacity.derive_head_rank_bottleneck"),
    derivation_entry("theory.attention_capacity.derive_rank_one_full_rank"),
    derivation_entry("theory.attention_capacity.derive_pattern_distance_bound"),
    derivation_entry("theory.attention_capacity.derive_single_head_mixing_bound"),
    Entry(
        "theory.attention_capacity.min_head_dim_of_weights",
        samples=(
            Sample({"weights": _VANDERMONDE}, check=lambda r: r == 1),
            Sample({"weights": np.full((3, 4), 0.25)}, check=lambda r: r == 0),
            Sample(
                {"weights": sympy.Matrix([[sympy.Rational(1, 2)] * 2] * 2)}, check=lambda r: r == 0
            ),
        ),
        errors=(
            ErrorSample({"weights": np.array([[1.0, 0.0], [0.5, 0.5]])}, ValueError, "weights"),
            ErrorSample({"weights": np.array([[0.2, 0.2], [0.5, 0.5]])}, ValueError, "weights"),
            ErrorSample({"weights": np.ones(3) / 3}, ValueError, "weights"),
            ErrorSample({"weights": "0.5"}, TypeError, "weights"),
            ErrorSample({"weights": sympy.Matrix([[_n, 1 - _n]])}, TypeError, "weights"),
        ),
        result="count",
    ),
]
