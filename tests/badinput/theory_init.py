"""Bad-input entries for :mod:`theory.init` (checks against torch's gains and independent
formulas where cheap)."""

from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from tests.badinput.table import Entry, ErrorSample, Sample, nonneg_int, one_of
from theory import init as th

S = sympy.Symbol("s", positive=True)
N = sympy.Symbol("n", integer=True, positive=True)


def _moment_variance(n, vw, vx, mw, mx):
    """Var[sum of n products w x] as n (E[(wx)^2] - E[wx]^2), independent factors."""
    return n * ((vw + mw**2) * (vx + mx**2) - (mw * mx) ** 2)


def _trapezoid_second_moment(f) -> float:
    z = np.linspace(-12, 12, 200_001)
    return float(np.trapezoid(f(z) ** 2 * np.exp(-z * z / 2) / math.sqrt(2 * math.pi), z))


GAIN_BAD = {"gain": (float("nan"), float("inf"), -1.0, 0, "1", sympy.I, sympy.oo)}

ENTRIES = [
    Entry(
        "theory.init.linear_output_variance",
        samples=(
            Sample(
                {
                    "fan_in": 10,
                    "var_w": sympy.Rational(1, 10),
                    "var_x": 2,
                    "mean_w": sympy.Rational(1, 2),
                    "mean_x": 3,
                },
                check=lambda r: (
                    r == _moment_variance(10, sympy.Rational(1, 10), 2, sympy.Rational(1, 2), 3)
                ),
            ),
            Sample({"fan_in": N, "var_w": 0.5, "var_x": 1.5, "mean_w": -0.25, "mean_x": 0.0}),
        ),
        errors=(
            ErrorSample({"fan_in": 0, "var_w": 1, "var_x": 1}, ValueError, "fan_in"),
            ErrorSample({"fan_in": 3, "var_w": -1, "var_x": 1}, ValueError, "var_w must be >= 0"),
            ErrorSample({"fan_in": 3, "var_w": 1, "var_x": float("nan")}, ValueError, "var_x"),
            ErrorSample({"fan_in": 3, "var_w": 1, "var_x": 1, "mean_x": "x"}, TypeError, "mean_x"),
            ErrorSample(
                {"fan_in": 3, "var_w": 1, "var_x": 1, "mean_w": sympy.zoo}, ValueError, "mean_w"
            ),
        ),
        bad_values={"mean_w": (sympy.I, sympy.oo), "mean_x": (float("inf"), 2j)},
    ),
    Entry(
        "theory.init.xavier_variance",
        samples=(
            Sample(
                {"fan_in": 100, "fan_out": 200, "gain": 1},
                check=lambda r: r == sympy.Rational(1, 150),
            ),
            Sample(
                {"fan_in": 30, "fan_out": 10, "gain": 5 / 3},
                check=lambda r: math.isclose(float(r), (5 / 3) ** 2 * 2 / 40),
            ),
        ),
        errors=(
            ErrorSample({"fan_in": 0, "fan_out": 3}, ValueError, "fan_in"),
            ErrorSample({"fan_in": 3, "fan_out": 3, "gain": float("nan")}, ValueError, "gain"),
            ErrorSample({"fan_in": 3, "fan_out": 3, "gain": float("inf")}, ValueError, "gain"),
        ),
        bad_values=GAIN_BAD,
    ),
    Entry(
        "theory.init.xavier_uniform_bound",
        samples=(Sample({"fan_in": 3, "fan_out": 3, "gain": 1}, check=lambda r: r == 1),),
        errors=(ErrorSample({"fan_in": 3, "fan_out": -3}, ValueError, "fan_out"),),
        bad_values=GAIN_BAD,
    ),
    Entry(
        "theory.init.xavier_normal_std",
        samples=(
            Sample(
                {"fan_in": 1, "fan_out": 3, "gain": 2},
                check=lambda r: r == 2 * sympy.sqrt(sympy.Rational(1, 2)),
            ),
        ),
        errors=(ErrorSample({"fan_in": 1.5, "fan_out": 3}, TypeError, "fan_in"),),
        bad_values=GAIN_BAD,
    ),
    Entry(
        "theory.init.he_variance",
        samples=(
            Sample({"fan": 50, "gain": sympy.sqrt(2)}, check=lambda r: r == sympy.Rational(1, 25)),
            Sample(
                {"fan": 20, "gain": torch.nn.init.calculate_gain("leaky_relu", 0.2)},
                check=lambda r: math.isclose(float(r), 2 / (1 + 0.04) / 20),
            ),
        ),
        errors=(
            ErrorSample({"fan": 3, "gain": -1}, ValueError, "gain must be > 0"),
            ErrorSample({"fan": sympy.nan}, TypeError, "fan"),
        ),
        bad_values=GAIN_BAD,
    ),
    Entry(
        "theory.init.he_uniform_bound",
        samples=(Sample({"fan": 6, "gain": sympy.sqrt(2)}, check=lambda r: r == 1),),
        errors=(ErrorSample({"fan": 6, "gain": "2"}, TypeError, "gain"),),
        bad_values=GAIN_BAD,
    ),
    Entry(
        "theory.init.he_normal_std",
        samples=(
            Sample({"fan": 8, "gain": sympy.sqrt(2)}, check=lambda r: r == sympy.Rational(1, 2)),
        ),
        errors=(ErrorSample({"fan": -8}, ValueError, "fan"),),
        bad_values=GAIN_BAD,
    ),
    Entry(
        "theory.init.relu_moments",
        samples=(
            Sample(
                {"sigma": 2},
                check=lambda r: (
                    r["mean"] == 2 / sympy.sqrt(2 * sympy.pi) and r["second_moment"] == 2
                ),
            ),
            Sample({"sigma": S}),
            Sample({"sigma": 0.5}, check=lambda r: math.isclose(float(r["second_moment"]), 0.125)),
        ),
        errors=(
            ErrorSample({"sigma": 0}, ValueError, "sigma must be > 0"),
            ErrorSample({"sigma": float("nan")}, ValueError, "sigma"),
            ErrorSample({"sigma": "1"}, TypeError, "sigma"),
        ),
    ),
    Entry(
        "theory.init.activation_second_moment",
        samples=(
            Sample(
                {"name": "leaky_relu", "negative_slope": 0.2},
                check=lambda r: r == sympy.Rational(104, 200),
            ),
            Sample(
                {"name": "tanh", "negative_slope": 0.01},
                check=lambda r: math.isclose(
                    float(r), _trapezoid_second_moment(np.tanh), rel_tol=1e-9
                ),
            ),
        ),
        errors=(
            ErrorSample({"name": "swishy"}, ValueError, "unknown activation name"),
            ErrorSample({"name": 3}, TypeError, "name must be a string"),
            ErrorSample(
                {"name": "leaky_relu", "negative_slope": float("nan")}, ValueError, "negative_slope"
            ),
            ErrorSample({"name": ["relu"]}, TypeError, "name must be a string"),
        ),
        domains={"name": one_of(*th.ACTIVATIONS)},
    ),
    Entry(
        "theory.init.derived_gain",
        samples=(
            Sample(
                {"name": "leaky_relu", "negative_slope": 0.2},
                check=lambda r: math.isclose(
                    float(r), torch.nn.init.calculate_gain("leaky_relu", 0.2)
                ),
            ),
            Sample({"name": "relu", "negative_slope": 0.01}, check=lambda r: r == sympy.sqrt(2)),
        ),
        errors=(
            ErrorSample(
                {"name": "leaky_relu", "negative_slope": float("inf")}, ValueError, "negative_slope"
            ),
            ErrorSample({"name": None}, TypeError, "name must be a string"),
        ),
        domains={"name": one_of(*th.ACTIVATIONS)},
    ),
    Entry(
        "theory.init.mean_field_variances",
        samples=(
            Sample(
                {"depth": 3, "fan_in": 100, "var_w": 0.02, "activation": "relu", "q0": 1.0},
                check=lambda r: r == ([1.0] * 4, [1.0] * 4),
            ),
            Sample(
                {"depth": 2, "fan_in": 10, "var_w": 0.1, "activation": "relu", "q0": 4.0},
                check=lambda r: r[0] == [4.0, 2.0, 1.0] and r[1] == [0.5] * 3,
            ),
            Sample(
                {"depth": 0, "fan_in": 4, "var_w": 0.25, "activation": "tanh", "q0": 1.0},
                check=lambda r: r[0] == [1.0] and 0 < r[1][0] < 1,
            ),
        ),
        errors=(
            ErrorSample(
                {"depth": 10**30, "fan_in": 4, "var_w": 0.25, "activation": "relu"},
                ValueError,
                "depth must be at most",
            ),
            ErrorSample(
                {"depth": 2, "fan_in": 4, "var_w": float("inf"), "activation": "relu"},
                ValueError,
                "var_w",
            ),
            ErrorSample(
                {"depth": 2, "fan_in": 4, "var_w": "1", "activation": "relu"}, TypeError, "var_w"
            ),
            ErrorSample(
                {"depth": 2, "fan_in": 4, "var_w": 1, "activation": "gelu"},
                ValueError,
                "activation must be",
            ),
            ErrorSample(
                {"depth": 200, "fan_in": 10**30, "var_w": 1, "activation": "linear"},
                ValueError,
                "fan_in \\* var_w",
            ),
            ErrorSample(
                {"depth": -1, "fan_in": 4, "var_w": 1, "activation": "relu"},
                ValueError,
                "depth must be",
            ),
        ),
        domains={"depth": nonneg_int, "activation": one_of("linear", "relu", "tanh")},
        bad_values={"q0": (1e308, -1.0), "var_w": (1e300,)},
    ),
    *[
        Entry(
            f"theory.init.{name}",
            samples=(Sample({}, check=check),),
            result="any",
            fuzz=False,
            note="no arguments",
        )
        for name, check in (
            ("derive_linear_output_variance", lambda d: d.agrees()),
            ("derive_xavier", lambda d: d.agrees()),
            ("derive_he", lambda d: d.agrees()),
            ("derive_relu_moments", lambda d: not d.agrees()),  # the document's mean is E|X|
        )
    ],
]
