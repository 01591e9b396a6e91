"""Bad-input entries for :mod:`theory.linear`."""

from __future__ import annotations

import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, positive_int

n = sympy.Symbol("n", integer=True, positive=True)

ENTRIES = [
    Entry(
        "theory.linear.linear_params",
        samples=(
            Sample({"in_features": 3, "out_features": 4}, check=lambda r: r == 16),
            Sample({"in_features": n, "out_features": 2, "bias": False}),
        ),
        errors=(
            ErrorSample({"in_features": 0, "out_features": 4}, ValueError, "in_features"),
            ErrorSample({"in_features": 3, "out_features": 4, "bias": "no"}, TypeError, "bias"),
        ),
        result="count",
        domains={"in_features": positive_int, "bias": boolean},
    ),
]
