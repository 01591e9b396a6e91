"""Bad-input entries for :mod:`theory.pooling`.

The window helpers take concrete integers only (they enumerate), so their domains are
``positive_int``/``nonneg_int``; a symbolic value is refused with a TypeError naming it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from tests.badinput.table import (
    Entry,
    ErrorSample,
    Sample,
    boolean,
    finite_float,
    nonneg_int,
    one_of,
    positive_int,
)
from tests.badinput.theory_conv import derivation_entry, positive_dim

_NOT_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def _real_in(lower: Any, upper: Any = None):
    """Finite reals in ``[lower, upper]``, or SymPy expressions not known to lie outside."""

    def pred(v: Any) -> bool:
        if isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_):
            return v >= lower and (upper is None or v <= upper)  # exact, also beyond int64
        if finite_float(v):
            return v >= lower and (upper is None or v <= upper)
        return (
            isinstance(v, sympy.Expr)
            and not any(v.has(b) for b in _NOT_FINITE)
            and v.is_extended_real is not False
            and (v - lower).is_negative is not True
            and (upper is None or (v - upper).is_positive is not True)
        )

    return pred


def _geometry_domains() -> dict:
    return {
        "size": positive_int,
        "kernel_size": positive_int,
        "stride": positive_int,
        "padding": nonneg_int,
    }


ENTRIES = [
    Entry(
        "theory.pooling.adaptive_windows",
        samples=(
            Sample(
                {"input_size": 5, "output_size": 3},
                check=lambda r: r == [(0, 2), (1, 4), (3, 5)],
            ),
            Sample(
                {"input_size": 4, "output_size": 6},
                check=lambda r: r == [(0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4)],
            ),
            Sample(
                {"input_size": 2**62, "output_size": 2},
                check=lambda r: r == [(0, 2**61), (2**61, 2**62)],
            ),
        ),
        errors=(
            ErrorSample({"input_size": 4, "output_size": 0}, ValueError, "output_size"),
            ErrorSample(
                {"input_size": 4, "output_size": 10**30},
                ValueError,
                "output_size must be at most",
            ),
            ErrorSample(
                {
                    "input_size": sympy.Symbol("n", integer=True, positive=True),
                    "output_size": 2,
                },
                TypeError,
                "input_size must be a concrete integer",
            ),
        ),
        result="count",
        domains={"input_size": positive_int, "output_size": positive_int},
    ),
    Entry(
        "theory.pooling.adaptive_read_count",
        samples=(
            Sample({"input_size": 5, "output_size": 3}, check=lambda r: r == 7),
            Sample({"input_size": 6, "output_size": 3}, check=lambda r: r == 6),
            Sample({"input_size": 4, "output_size": 6}, check=lambda r: r == 8),
            Sample(
                {"input_size": 2**62, "output_size": 2**62 - 2},
                check=lambda r: r == 2**63 - 4,
                note="closed form I + O - gcd(I, O): no enumeration",
            ),
        ),
        errors=(
            ErrorSample({"input_size": 0, "output_size": 3}, ValueError, "input_size"),
            ErrorSample({"input_size": 4, "output_size": 2.0}, TypeError, "output_size"),
        ),
        result="count",
        domains={"input_size": positive_int, "output_size": positive_int},
    ),
    Entry(
        "theory.pooling.document_windows",
        samples=(
            Sample(
                {"input_size": 5, "output_size": 3},
                check=lambda r: r == [(0, 2), (1, 3), (2, 4), (3, 5)],
            ),
            Sample(
                {"input_size": 8, "output_size": 3},
                check=lambda r: r == [(0, 3), (2, 5), (4, 7)],
            ),
        ),
        errors=(
            ErrorSample(
                {"input_size": 3, "output_size": 4},
                ValueError,
                "output_size must be <= input_size",
            ),
            ErrorSample(
                {"input_size": 10**30, "output_size": 10**20},
                ValueError,
                "output_size must be at most",
            ),
        ),
        result="count",
        domains={"input_size": positive_int, "output_size": positive_int},
    ),
    Entry(
        "theory.pooling.rule_agrees",
        samples=(
            Sample({"input_size": 7, "output_size": 3}, check=lambda r: r is True),
            Sample({"input_size": 8, "output_size": 3}, check=lambda r: r is False),
        ),
        errors=(ErrorSample({"input_size": 3, "output_size": 5}, ValueError, "output_size"),),
        domains={"input_size": positive_int, "output_size": positive_int},
    ),
    Entry(
        "theory.pooling.stride_reduction_exact",
        samples=(
            Sample(
                {"size": 8, "kernel_size": 2, "stride": 2, "padding": 0},
                check=lambda r: r is True,
            ),
            Sample(
                {"size": 8, "kernel_size": 3, "stride": 2, "padding": 1},
                check=lambda r: r is True,
            ),
            Sample(
                {"size": 5, "kernel_size": 2, "stride": 2, "padding": 0},
                check=lambda r: r is False,
            ),
        ),
        errors=(
            ErrorSample(
                {"size": 8, "kernel_size": 2, "stride": 2, "padding": 2},
                ValueError,
                "padding must be at most half of kernel_size",
            ),
            ErrorSample(
                {"size": 2, "kernel_size": 5, "stride": 2, "padding": 0},
                ValueError,
                "output size < 1",
            ),
        ),
        domains=_geometry_domains(),
    ),
    Entry(
        "theory.pooling.avg_pool_shift_bound",
        samples=(
            Sample({"kernel_size": 4, "shift": 1}, check=lambda r: r == sympy.Rational(1, 2)),
            Sample(
                {"kernel_size": (2, 2), "shift": (1, 1)},
                check=lambda r: r == sympy.Rational(3, 2),
            ),
            Sample({"kernel_size": 3, "shift": 3}, check=lambda r: r == 2),
        ),
        errors=(
            ErrorSample({"kernel_size": 2, "shift": 3}, ValueError, r"shift\[0\] must be <="),
            ErrorSample(
                {"kernel_size": (2, 2), "shift": (1,)},
                ValueError,
                "kernel_size and shift must have the same length",
            ),
            ErrorSample({"kernel_size": (), "shift": ()}, ValueError, "kernel_size must have"),
        ),
        result="count",
    ),
    Entry(
        "theory.pooling.spike_invariant_fraction",
        samples=(
            Sample(
                {"kernel_size": 2, "stride": 2, "shift": 1},
                check=lambda r: r == sympy.Rational(1, 2),
            ),
            Sample({"kernel_size": 3, "stride": 1, "shift": 1}, check=lambda r: r == 0),
            Sample({"kernel_size": 4, "stride": 4, "shift": 0}, check=lambda r: r == 1),
            Sample(
                {"kernel_size": 2**62, "stride": 3, "shift": 2**60},
                check=lambda r: 0 <= r <= 1,
                note="no enumeration over the kernel",
            ),
        ),
        errors=(
            ErrorSample(
                {"kernel_size": 2, "stride": 10**30, "shift": 1},
                ValueError,
                "stride must be at most",
            ),
            ErrorSample({"kernel_size": 2, "stride": 2, "shift": -1}, ValueError, "shift"),
        ),
        result="count",
        domains={"kernel_size": positive_int, "stride": positive_int, "shift": nonneg_int},
    ),
    Entry(
        "theory.pooling.avg_pool_matrix",
        samples=(
            Sample(
                {
                    "size": 3,
                    "kernel_size": 3,
                    "stride": 1,
                    "padding": 1,
                    "count_include_pad": True,
                },
                check=lambda r: r.det() == sympy.Rational(-1, 27),
            ),
            Sample(
                {
                    "size": 3,
                    "kernel_size": 2,
                    "stride": 1,
                    "padding": 1,
                    "count_include_pad": False,
                },
                check=lambda r: (
                    r.tolist()
                    == [
                        [1, 0, 0],
                        [sympy.S.Half, sympy.S.Half, 0],
                        [0, sympy.S.Half, sympy.S.Half],
                        [0, 0, 1],
                    ]
                ),
            ),
        ),
        errors=(
            ErrorSample(
                {"size": 10**30, "kernel_size": 2, "stride": 2},
                ValueError,
                "size must be at most",
            ),
            ErrorSample(
                {"size": 4, "kernel_size": 2, "stride": 2, "count_include_pad": "False"},
                TypeError,
                "count_include_pad must be True or False",
            ),
            ErrorSample(
                {"size": 4, "kernel_size": 2, "stride": 2, "padding": 2},
                ValueError,
                "padding must be at most half",
            ),
        ),
        domains={**_geometry_domains(), "count_include_pad": boolean},
    ),
    Entry(
        "theory.pooling.pooling_injective",
        samples=(
            Sample(
                {"size": 3, "kernel_size": 3, "stride": 1, "padding": 1, "mode": "avg"},
                check=lambda r: r is True,
            ),
            Sample(
                {"size": 2, "kernel_size": 2, "stride": 1, "padding": 1, "mode": "max"},
                check=lambda r: r is True,
            ),
            Sample(
                {"size": 4, "kernel_size": 2, "stride": 2, "padding": 0, "mode": "avg"},
                check=lambda r: r is False,
            ),
            Sample(
                {"size": 10**5, "kernel_size": 3, "stride": 1, "padding": 1, "mode": "avg"},
                check=lambda r: r is True,
                note="union-find on the window graph: no exact matrix",
            ),
        ),
        errors=(
            ErrorSample(
                {"size": 4, "kernel_size": 2, "stride": 2, "mode": "median"},
                ValueError,
                "mode must be 'avg' or 'max'",
            ),
            ErrorSample(
                {"size": 10**30, "kernel_size": 2, "stride": 2},
                ValueError,
                "size must be at most",
            ),
        ),
        domains={**_geometry_domains(), "mode": one_of("avg", "max")},
        time_limit=20.0,
    ),
    Entry(
        "theory.pooling.pooled_noise_variance",
        samples=(
            Sample({"n": 4, "sigma2": 2, "rho": 0}, check=lambda r: r == sympy.Rational(1, 2)),
            Sample(
                {"n": 4, "sigma2": 2, "rho": sympy.Rational(-1, 3)},
                check=lambda r: r == 0,
            ),
            Sample({"n": 4, "sigma2": 2.0, "rho": 0.5}, check=lambda r: abs(r - 1.25) < 1e-12),
            Sample(
                {
                    "n": sympy.Symbol("n", integer=True, positive=True),
                    "sigma2": sympy.Symbol("s", positive=True),
                    "rho": 1,
                },
                check=lambda r: r == sympy.Symbol("s", positive=True),
            ),
        ),
        errors=(
            ErrorSample({"n": 4, "sigma2": -1, "rho": 0}, ValueError, "sigma2"),
            ErrorSample({"n": 4, "sigma2": 1, "rho": -0.5}, ValueError, "rho"),
            ErrorSample({"n": 4, "sigma2": 1, "rho": 1.5}, ValueError, "rho"),
            ErrorSample({"n": 4, "sigma2": "x", "rho": 0}, TypeError, "sigma2"),
            ErrorSample({"n": 4, "sigma2": float("nan"), "rho": 0}, ValueError, "sigma2"),
        ),
        result="count",
        domains={
            "n": positive_dim,
            "sigma2": _real_in(0),
            "rho": lambda v: _real_in(-1, 1)(v),
        },
    ),
    derivation_entry("theory.pooling.derive_adaptive_rule"),
    derivation_entry("theory.pooling.derive_noise_reduction"),
    derivation_entry("theory.pooling.derive_stride_reduction"),
    Entry(
        "theory.pooling.derive_max_pool_gradient",
        samples=(
            Sample({"taps": 3}, check=lambda d: d.agrees()),
            Sample({"taps": 1}, check=lambda d: d.agrees()),
        ),
        errors=(
            ErrorSample({"taps": 0}, ValueError, "taps"),
            ErrorSample({"taps": 2.0}, TypeError, "taps"),
        ),
        result="any",
        domains={"taps": lambda v: positive_dim(v) and int(v) <= 8},
    ),
    Entry(
        "theory.pooling.max_pool_gradient",
        samples=(
            Sample({"taps": 4, "argmax": 2}, check=lambda g: g == [0, 0, 1, 0]),
            Sample({"taps": 1, "argmax": 0}, check=lambda g: g == [1]),
        ),
        errors=(
            ErrorSample({"taps": 3, "argmax": 3}, ValueError, "argmax"),
            ErrorSample({"taps": 9, "argmax": 0}, ValueError, "taps"),
            ErrorSample({"taps": 3, "argmax": "0"}, TypeError, "argmax"),
        ),
        result="count",
        domains={"taps": lambda v: positive_dim(v) and int(v) <= 8},
    ),
]
