"""Bad-input entries for :mod:`theory.linear`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean
from tests.badinput.theory_conv import derivation_entry, positive_dim

n = sympy.Symbol("n", integer=True, positive=True)
m = sympy.Symbol("m", integer=True, positive=True)

_FEATURES = {"in_features": positive_dim, "out_features": positive_dim}

ENTRIES = [
    Entry(
        "theory.linear.linear_params",
        samples=(
            Sample({"in_features": 3, "out_features": 4, "bias": True}, check=lambda r: r == 16),
            Sample(
                {"in_features": n, "out_features": 2, "bias": False}, check=lambda r: r == 2 * n
            ),
        ),
        errors=(
            ErrorSample({"in_features": 0, "out_features": 4}, ValueError, "in_features"),
            ErrorSample({"in_features": 3, "out_features": 4, "bias": "no"}, TypeError, "bias"),
            ErrorSample({"in_features": sympy.nan, "out_features": 4}, TypeError, "in_features"),
            ErrorSample({"in_features": 3.0, "out_features": 4}, TypeError, "in_features"),
        ),
        result="count",
        domains={**_FEATURES, "bias": boolean},
    ),
    Entry(
        "theory.linear.linear_macs",
        samples=(
            Sample({"in_features": 3, "out_features": 2, "batch": 4}, check=lambda r: r == 24),
            Sample({"in_features": n, "out_features": m, "batch": 1}, check=lambda r: r == m * n),
        ),
        errors=(
            ErrorSample({"in_features": 3, "out_features": 2, "batch": 0}, ValueError, "batch"),
            ErrorSample({"in_features": 3, "out_features": -2}, ValueError, "out_features"),
        ),
        result="count",
        domains={**_FEATURES, "batch": positive_dim},
    ),
    Entry(
        "theory.linear.linear_backward_macs",
        samples=(
            Sample(
                {
                    "in_features": 3,
                    "out_features": 2,
                    "batch": 4,
                    "input_grad": True,
                    "weight_grad": True,
                },
                check=lambda r: r == 48,
            ),
            Sample(
                {
                    "in_features": 3,
                    "out_features": 2,
                    "batch": 4,
                    "input_grad": False,
                    "weight_grad": True,
                },
                check=lambda r: r == 24,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_features": 3, "out_features": 2, "input_grad": "False"},
                TypeError,
                "input_grad must be True or False",
            ),
        ),
        result="count",
        domains={
            **_FEATURES,
            "batch": positive_dim,
            "input_grad": boolean,
            "weight_grad": boolean,
        },
    ),
    Entry(
        "theory.linear.lowrank_params",
        samples=(
            Sample(
                {"in_features": 3, "out_features": 3, "rank": 2, "bias": False},
                check=lambda r: r == 12,
            ),
            Sample(
                {"in_features": 5, "out_features": 4, "rank": 2, "bias": True},
                check=lambda r: r == 22,
            ),
            Sample(  # rank > min(m, n): a valid factorization, no compression (accepted)
                {"in_features": 3, "out_features": 4, "rank": 10, "bias": False},
                check=lambda r: r == 70,
            ),
        ),
        errors=(
            ErrorSample({"in_features": 3, "out_features": 3, "rank": 0}, ValueError, "rank"),
            ErrorSample(
                {"in_features": 3, "out_features": 3, "rank": sympy.Rational(1, 2)},
                TypeError,
                "rank",
            ),
        ),
        result="count",
        domains={**_FEATURES, "rank": positive_dim, "bias": boolean},
    ),
    Entry(
        "theory.linear.lowrank_macs",
        samples=(
            Sample(
                {"in_features": 1024, "out_features": 1024, "rank": 64, "batch": 1},
                check=lambda r: r == 131072,
            ),
            Sample(
                {"in_features": 5, "out_features": 4, "rank": 2, "batch": 3},
                check=lambda r: r == 54,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_features": 3, "out_features": 3, "rank": 1, "batch": -1},
                ValueError,
                "batch",
            ),
        ),
        result="count",
        domains={**_FEATURES, "rank": positive_dim, "batch": positive_dim},
    ),
    Entry(
        "theory.linear.lowrank_compression",
        samples=(
            Sample(
                {"in_features": 3, "out_features": 3, "rank": 2},
                check=lambda r: r == sympy.Rational(3, 4),
            ),
            Sample(
                {"in_features": 1024, "out_features": 1024, "rank": 64},
                check=lambda r: r == 8,
            ),
        ),
        errors=(
            ErrorSample({"in_features": 3, "out_features": 3, "rank": "2"}, TypeError, "rank"),
        ),
        result="count",
        domains={**_FEATURES, "rank": positive_dim},
    ),
    Entry(
        "theory.linear.lowrank_break_even_rank",
        samples=(
            Sample(
                {"in_features": 3, "out_features": 3}, check=lambda r: r == sympy.Rational(3, 2)
            ),
            Sample(
                {"in_features": 2, "out_features": 6}, check=lambda r: r == sympy.Rational(3, 2)
            ),
            Sample(
                {"in_features": n, "out_features": m},
                check=lambda r: sympy.simplify(r - m * n / (m + n)) == 0,
            ),
        ),
        errors=(ErrorSample({"in_features": True, "out_features": 3}, TypeError, "in_features"),),
        result="count",
        domains=_FEATURES,
    ),
    Entry(
        "theory.linear.block_sparse_params",
        samples=(
            Sample(
                {
                    "row_sizes": [2, 1],
                    "col_sizes": [1, 3],
                    "mask": [[True, False], [True, True]],
                    "bias": False,
                },
                check=lambda r: r == 6,
            ),
            Sample(
                {
                    "row_sizes": (2, 1),
                    "col_sizes": (1, 3),
                    "mask": [[np.True_, np.False_], [False, True]],
                    "bias": True,
                },
                check=lambda r: r == 2 + 3 + 3,
            ),
        ),
        errors=(
            ErrorSample(
                {"row_sizes": [2, 1], "col_sizes": [1, 3], "mask": [[True, False]]},
                ValueError,
                "mask must have one row per row block",
            ),
            ErrorSample(
                {"row_sizes": [2, 1], "col_sizes": [1, 3], "mask": [[1, 0], [1, 1]]},
                TypeError,
                r"mask\[0\]\[0\] must be True or False",
            ),
            ErrorSample(
                {"row_sizes": [2, 0], "col_sizes": [1, 3], "mask": [[1, 0], [1, 1]]},
                ValueError,
                r"row_sizes\[1\]",
            ),
            ErrorSample(
                {"row_sizes": 3, "col_sizes": [1, 3], "mask": [[True, True]]},
                TypeError,
                "row_sizes must be a sequence",
            ),
            ErrorSample(
                {"row_sizes": [], "col_sizes": [1], "mask": []},
                ValueError,
                "row_sizes and col_sizes must each have at least one block",
            ),
        ),
        result="count",
        domains={"bias": boolean},
    ),
    Entry(
        "theory.linear.block_sparse_macs",
        samples=(
            Sample(
                {
                    "row_sizes": [2, 1],
                    "col_sizes": [1, 3],
                    "mask": [[True, False], [True, True]],
                    "batch": 2,
                },
                check=lambda r: r == 12,
            ),
        ),
        errors=(
            ErrorSample(
                {"row_sizes": [2], "col_sizes": [1], "mask": [[True]], "batch": 0},
                ValueError,
                "batch",
            ),
        ),
        result="count",
        domains={"batch": positive_dim},
    ),
    derivation_entry("theory.linear.derive_linear_params"),
    derivation_entry("theory.linear.derive_linear_cost"),
    derivation_entry("theory.linear.derive_lowrank"),
]


# Outside-fuzz finding (FUZZ_FINDINGS.md 18): str/bytes/bytearray are never sequences of sizes.
_MASK = [[True, False], [True, True]]
_FINDINGS = {
    "theory.linear.block_sparse_params": (
        ErrorSample(
            {"row_sizes": bytearray([2, 1]), "col_sizes": [1, 3], "mask": _MASK},
            TypeError,
            "row_sizes",
        ),
    ),
    "theory.linear.block_sparse_macs": (
        ErrorSample(
            {"row_sizes": [2, 1], "col_sizes": bytearray([1, 3]), "mask": _MASK, "batch": 2},
            TypeError,
            "col_sizes",
        ),
    ),
}
assert set(_FINDINGS) <= {e.target for e in ENTRIES}
ENTRIES = [replace(e, errors=e.errors + _FINDINGS.get(e.target, ())) for e in ENTRIES]
