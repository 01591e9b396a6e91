"""Bad-input entries for :mod:`theory.dropout`."""

from __future__ import annotations

from typing import Any

import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, nonneg_int, one_of
from tests.badinput.theory_conv import derivation_entry

R = sympy.Rational
HALF = R(1, 2)
PS = sympy.Symbol("p", positive=True)
NN = sympy.Symbol("n", integer=True, positive=True)

_CONV = one_of("drop", "keep")
_SCHED = one_of("constant", "linear", "convnext", "efficientnet", "timm")


def _eq(expected: Any):
    def check(r: Any) -> None:
        assert r == expected, (r, expected)

    return check


def _simplified(expected: Any):
    def check(r: Any) -> None:
        assert sympy.simplify(r - expected) == 0, (r, expected)

    return check


def _units(limit: int):
    return lambda v: nonneg_int(v) and 1 <= int(v) <= limit


def _derive_n(target: str, limit: int, agrees: bool = True) -> Entry:
    def check(d: Any) -> None:
        assert d.agrees() is agrees, d.to_markdown()

    return Entry(
        target,
        samples=(Sample({"num_units": 1}, check=check), Sample({"num_units": 2}, check=check)),
        errors=(
            ErrorSample({"num_units": 0}, ValueError, "num_units must be"),
            ErrorSample({"num_units": limit + 1}, ValueError, "num_units must be in"),
            ErrorSample({"num_units": NN}, TypeError, "num_units must be a concrete"),
        ),
        result="any",
        domains={"num_units": _units(limit)},
        time_limit=20.0,
    )


_P_ERRORS = (
    ErrorSample({"y": 1, "p": 1}, ValueError, r"p must be a drop probability in \[0, 1\)"),
    ErrorSample({"y": 1, "p": -0.1}, ValueError, "p must be"),
    ErrorSample({"y": 1, "p": 1.5}, ValueError, "p must be"),
    ErrorSample({"y": 1, "p": "0.5"}, TypeError, "p must be"),
    ErrorSample({"y": 1, "p": True}, TypeError, "p must be"),
    ErrorSample({"y": float("nan"), "p": HALF}, ValueError, "y must be"),
)

W2 = [[1, -1], [2, R(1, 2)]]
X2 = [1, 2]

ENTRIES = [
    Entry(
        "theory.dropout.mask_distribution",
        samples=(
            Sample({"p": R(1, 5), "convention": "drop"}, check=_eq({0: R(1, 5), 1: R(4, 5)})),
            Sample({"p": R(1, 5), "convention": "keep"}, check=_eq({0: R(4, 5), 1: R(1, 5)})),
            Sample({"p": 0.25}),
        ),
        errors=(
            ErrorSample({"p": 1, "convention": "drop"}, ValueError, "p must be a drop"),
            ErrorSample({"p": 0, "convention": "keep"}, ValueError, "p must be a keep"),
            ErrorSample({"p": HALF, "convention": "Drop"}, ValueError, "convention must be one"),
        ),
        domains={"convention": _CONV},
    ),
    Entry(
        "theory.dropout.dropout_moments",
        samples=(
            Sample({"y": 1, "p": R(1, 5)}, check=_eq((1, R(1, 4)))),
            Sample(
                {"y": 2, "p": R(1, 5), "convention": "drop", "scaling": "classic"},
                check=_eq((R(8, 5), R(16, 25))),
            ),
            Sample(
                {"y": 3, "p": HALF, "convention": "keep", "scaling": "inverted"}, check=_eq((3, 9))
            ),
            Sample({"y": 1.5, "p": 0.5}),
        ),
        errors=(
            *_P_ERRORS,
            ErrorSample({"y": 1, "p": HALF, "scaling": "torch"}, ValueError, "scaling must be"),
            ErrorSample({"y": 1, "p": HALF, "convention": 1}, TypeError, "convention must be"),
        ),
        domains={"convention": _CONV, "scaling": one_of("inverted", "classic")},
    ),
    Entry(
        "theory.dropout.literal_mask_expectation",
        samples=(Sample({"y": 1, "p": R(1, 5)}, check=_eq(R(1, 4))),),
        errors=_P_ERRORS,
    ),
    Entry(
        "theory.dropout.spatial_dropout_covariance",
        samples=(
            Sample(
                {
                    "y_a": 1,
                    "y_b": 2,
                    "p": HALF,
                    "same_channel": True,
                    "same_sample": False,
                    "reading": "literal",
                },
                check=_eq(2),
            ),
            Sample(
                {
                    "y_a": 1,
                    "y_b": 2,
                    "p": HALF,
                    "same_channel": True,
                    "same_sample": False,
                    "reading": "torch",
                },
                check=_eq(0),
            ),
        ),
        errors=(
            ErrorSample(
                {"y_a": 1, "y_b": 2, "p": HALF, "same_channel": "True", "same_sample": True},
                TypeError,
                "same_channel must be True or False",
            ),
            ErrorSample(
                {
                    "y_a": 1,
                    "y_b": 2,
                    "p": HALF,
                    "same_channel": True,
                    "same_sample": True,
                    "reading": "batch",
                },
                ValueError,
                "reading must be one of",
            ),
        ),
        domains={
            "same_channel": boolean,
            "same_sample": boolean,
            "reading": one_of("torch", "literal"),
        },
    ),
    Entry(
        "theory.dropout.dropconnect_moments",
        samples=(
            Sample(
                {"weight": W2, "x": X2, "p": HALF},
                check=lambda r: (
                    r[0] == sympy.Matrix([-1, 3]) and r[1][0, 1] == 0 and r[1][0, 0] == 5
                ),
            ),
        ),
        errors=(
            ErrorSample({"weight": W2, "x": [1, 2, 3], "p": HALF}, ValueError, "x must have 2"),
            ErrorSample({"weight": [[1], [1, 2]], "x": X2, "p": HALF}, ValueError, "weight must"),
            ErrorSample({"weight": "W", "x": X2, "p": HALF}, TypeError, "weight must be a matrix"),
            ErrorSample({"weight": W2, "x": X2, "p": 1}, ValueError, "p must be"),
        ),
    ),
    Entry(
        "theory.dropout.dropout_linear_moments",
        samples=(
            Sample(
                {"weight": W2, "x": X2, "p": HALF},
                check=lambda r: (
                    r[0] == sympy.Matrix([-1, 3]) and r[1][0, 1] == 0 and r[1][1, 1] == 5
                ),
            ),
        ),
        errors=(
            ErrorSample({"weight": W2, "x": [1], "p": HALF}, ValueError, "x must have 2"),
            ErrorSample({"weight": [], "x": X2, "p": HALF}, ValueError, "weight must have"),
            ErrorSample({"weight": W2, "x": X2, "p": -1}, ValueError, "p must be"),
        ),
    ),
    Entry(
        "theory.dropout.gaussian_dropout_moments",
        samples=(
            Sample({"y": 2, "p": R(1, 5)}, check=_eq((2, 1))),
            Sample({"y": 2, "p": 0}, check=_eq((2, 0))),
        ),
        errors=_P_ERRORS,
    ),
    Entry(
        "theory.dropout.mask_count",
        samples=(
            Sample({"num_units": 10}, check=_eq(1024)),
            Sample({"num_units": 0}, check=_eq(1)),
            Sample({"num_units": NN}, check=_eq(2**NN)),
        ),
        errors=(
            ErrorSample({"num_units": -1}, ValueError, "num_units must be"),
            ErrorSample({"num_units": 2.0}, TypeError, "num_units must be"),
            ErrorSample({"num_units": 10**7}, ValueError, "num_units must be at most"),
        ),
        result="count",
    ),
    Entry(
        "theory.dropout.all_masks",
        samples=(
            Sample({"num_units": 2}, check=_eq([(0, 0), (0, 1), (1, 0), (1, 1)])),
            Sample({"num_units": 0}, check=_eq([()])),
        ),
        errors=(
            ErrorSample({"num_units": 20}, ValueError, "num_units must be at most 19"),
            ErrorSample({"num_units": NN}, TypeError, "num_units must be a concrete"),
        ),
        result="count",
        domains={"num_units": lambda v: nonneg_int(v) and int(v) <= 19},
    ),
    Entry(
        "theory.dropout.ensemble_predictions",
        samples=(
            Sample(
                {"weight": W2, "x": X2, "q": HALF, "output": "identity", "bias": [1, 0]},
                check=lambda r: (
                    r["arithmetic"] == r["weight_scaling"] == sympy.Matrix([0, 3])
                    and r["nwgm"] is None
                ),
            ),
            Sample(
                {"weight": W2, "x": X2, "q": HALF, "output": "softmax", "bias": None},
                check=lambda r: abs(sympy.N(r["nwgm"][0] - r["weight_scaling"][0], 30)) < 1e-25,
            ),
            Sample(
                {"weight": [[1]], "x": [1], "q": HALF, "output": "sigmoid"},
                check=lambda r: abs(sympy.N(r["nwgm"][0] - r["weight_scaling"][0], 30)) < 1e-25,
            ),
        ),
        errors=(
            ErrorSample({"weight": W2, "x": X2, "q": 0}, ValueError, "q must be a keep"),
            ErrorSample(
                {"weight": W2, "x": X2, "q": HALF, "output": "relu"},
                ValueError,
                "output must be one of",
            ),
            ErrorSample(
                {"weight": W2, "x": X2, "q": HALF, "bias": [1]}, ValueError, "bias must have 2"
            ),
            ErrorSample(
                {"weight": [[1] * 13], "x": [1] * 13, "q": HALF},
                ValueError,
                "x must be at most 12|weight must have at most 12",
            ),
        ),
        domains={"output": one_of("identity", "sigmoid", "softmax")},
    ),
    Entry(
        "theory.dropout.dropout_expected_loss",
        samples=(
            Sample({"w": [1, 2], "x": [1, 1], "y": 3, "p": HALF}, check=_eq(5)),
            Sample(
                {"w": [1, 2], "x": [1, 1], "y": 3, "p": HALF, "noise": "gaussian"}, check=_eq(5)
            ),
        ),
        errors=(
            ErrorSample({"w": [1, 2], "x": [1], "y": 3, "p": HALF}, ValueError, "x must have 2"),
            ErrorSample(
                {"w": [1], "x": [1], "y": 3, "p": HALF, "noise": "uniform"},
                ValueError,
                "noise must be one of",
            ),
            ErrorSample({"w": [1], "x": [1], "y": 3, "p": 1}, ValueError, "p must be"),
        ),
        domains={"noise": one_of("bernoulli", "gaussian")},
        time_limit=10.0,
    ),
    Entry(
        "theory.dropout.mc_dropout_moments",
        samples=(Sample({"w": [1, 2], "x": [1, 1], "p": HALF}, check=_eq((3, 5))),),
        errors=(
            ErrorSample({"w": [1, 2], "x": [1], "p": HALF}, ValueError, "x must have 2"),
            ErrorSample({"w": "w", "x": [1], "p": HALF}, TypeError, "w must be a sequence"),
        ),
    ),
    Entry(
        "theory.dropout.bayes_predictive_variance",
        samples=(
            Sample({"n": 8, "d": 2, "sigma2": 1, "alpha2": 1, "x_norm2": 5}, check=_eq(HALF)),
            Sample(
                {"n": NN, "d": 1, "sigma2": 1, "alpha2": 1, "x_norm2": 1},
                check=_simplified(1 / (NN + 1)),
            ),
        ),
        errors=(
            ErrorSample({"n": 0, "d": 2, "sigma2": 1, "alpha2": 1, "x_norm2": 1}, ValueError, "n"),
            ErrorSample(
                {"n": 8, "d": 2, "sigma2": 0, "alpha2": 1, "x_norm2": 1},
                ValueError,
                "sigma2 must be",
            ),
            ErrorSample(
                {"n": 8, "d": 2, "sigma2": 1, "alpha2": 1, "x_norm2": -1},
                ValueError,
                "x_norm2 must be",
            ),
        ),
    ),
    Entry(
        "theory.dropout.mc_dropout_expected_variance",
        samples=(
            Sample({"n": 4, "p": HALF, "sigma2": 1, "beta": [1], "x": [2]}, check=_eq(R(5, 4))),
        ),
        errors=(
            ErrorSample(
                {"n": 4, "p": HALF, "sigma2": 1, "beta": [1], "x": [2, 1]},
                ValueError,
                "x must have 1",
            ),
            ErrorSample(
                {"n": 4, "p": HALF, "sigma2": -1, "beta": [1], "x": [2]},
                ValueError,
                "sigma2 must be",
            ),
        ),
        time_limit=10.0,
    ),
    Entry(
        "theory.dropout.survival_schedule",
        samples=(
            Sample(
                {"num_blocks": 3, "schedule": "linear", "drop_rate": HALF},
                check=_eq([R(5, 6), R(2, 3), HALF]),
            ),
            Sample(
                {"num_blocks": 3, "schedule": "convnext", "drop_rate": HALF},
                check=_eq([1, R(3, 4), HALF]),
            ),
            Sample(
                {"num_blocks": 4, "schedule": "efficientnet", "drop_rate": HALF},
                check=_eq([1, R(7, 8), R(3, 4), R(5, 8)]),
            ),
            Sample({"num_blocks": 1, "schedule": "timm", "drop_rate": 0.3}, check=_eq([1])),
        ),
        errors=(
            ErrorSample(
                {"num_blocks": 1, "schedule": "convnext", "drop_rate": HALF},
                ValueError,
                "num_blocks must be >= 2",
            ),
            ErrorSample(
                {"num_blocks": 3, "schedule": "cait", "drop_rate": HALF},
                ValueError,
                "schedule must be one of",
            ),
            ErrorSample(
                {"num_blocks": 3, "schedule": "linear", "drop_rate": 2},
                ValueError,
                "drop_rate must be",
            ),
            ErrorSample(
                {"num_blocks": 10**7, "schedule": "linear", "drop_rate": HALF},
                ValueError,
                "num_blocks must be at most",
            ),
        ),
        domains={"schedule": _SCHED},
    ),
    Entry(
        "theory.dropout.expected_active_blocks",
        samples=(
            Sample(
                {"num_blocks": 54, "schedule": "linear", "drop_rate": HALF}, check=_eq(R(161, 4))
            ),
            Sample(
                {"num_blocks": NN, "schedule": "efficientnet", "drop_rate": HALF},
                check=_simplified(NN - (NN - 1) / 4),
            ),
            Sample({"num_blocks": 1, "schedule": "timm", "drop_rate": HALF}, check=_eq(1)),
        ),
        errors=(
            ErrorSample(
                {"num_blocks": 0, "schedule": "linear", "drop_rate": HALF},
                ValueError,
                "num_blocks must be",
            ),
            ErrorSample(
                {"num_blocks": 1, "schedule": "convnext", "drop_rate": HALF},
                ValueError,
                "num_blocks must be >= 2",
            ),
        ),
        domains={"schedule": _SCHED},
    ),
    Entry(
        "theory.dropout.expected_compute_fraction",
        samples=(
            Sample(
                {"num_blocks": 54, "schedule": "linear", "drop_rate": HALF, "skips_dropped": True},
                check=_eq(R(161, 216)),
            ),
            Sample(
                {"num_blocks": 54, "schedule": "linear", "drop_rate": HALF, "skips_dropped": False},
                check=_eq(1),
            ),
        ),
        errors=(
            ErrorSample(
                {"num_blocks": 4, "schedule": "linear", "drop_rate": HALF, "skips_dropped": 1},
                TypeError,
                "skips_dropped must be True",
            ),
        ),
        domains={"schedule": _SCHED, "skips_dropped": boolean},
    ),
    Entry(
        "theory.dropout.active_blocks_distribution",
        samples=(
            Sample({"survivals": [HALF, HALF]}, check=_eq({0: R(1, 4), 1: HALF, 2: R(1, 4)})),
            Sample({"survivals": []}, check=_eq({0: 1})),
        ),
        errors=(
            ErrorSample({"survivals": [HALF, 2]}, ValueError, r"survivals\[1\] must be"),
            ErrorSample({"survivals": "ab"}, TypeError, "survivals must be a sequence"),
            ErrorSample({"survivals": [HALF] * 513}, ValueError, "survivals must be at most"),
        ),
    ),
    Entry(
        "theory.dropout.dropblock_gamma",
        samples=(
            Sample(
                {"keep_prob": R(9, 10), "block_size": 7, "height": 14, "width": 14},
                check=_eq(R(1, 160)),
            ),
            Sample({"keep_prob": 0.9, "block_size": 3, "height": 5, "width": 8}),
        ),
        errors=(
            ErrorSample(
                {"keep_prob": R(9, 10), "block_size": 15, "height": 14, "width": 14},
                ValueError,
                "block_size must be at most height",
            ),
            ErrorSample(
                {"keep_prob": R(9, 10), "block_size": 5, "height": 14, "width": 4},
                ValueError,
                "block_size must be at most width",
            ),
            ErrorSample(
                {"keep_prob": 1, "block_size": 3, "height": 4, "width": 4},
                ValueError,
                "keep_prob must be in the open interval",
            ),
            ErrorSample(
                {"keep_prob": HALF, "block_size": 0, "height": 4, "width": 4},
                ValueError,
                "block_size must be",
            ),
        ),
    ),
    Entry(
        "theory.dropout.dropblock_coverage",
        samples=(
            Sample({"size": 5, "block_size": 3}, check=_eq([1, 2, 3, 2, 1])),
            Sample({"size": 4, "block_size": 4}, check=_eq([1, 1, 1, 1])),
        ),
        errors=(
            ErrorSample({"size": 3, "block_size": 4}, ValueError, "block_size must be at most"),
            ErrorSample({"size": 10**7, "block_size": 4}, ValueError, "size must be at most"),
        ),
        result="count",
    ),
    Entry(
        "theory.dropout.dropblock_drop_probability",
        samples=(
            Sample(
                {"keep_prob": R(9, 10), "block_size": 2, "height": 3, "width": 3},
                check=lambda r: r[0, 0] == R(9, 160) and r[1, 1] == 1 - (1 - R(9, 160)) ** 4,
            ),
        ),
        errors=(
            ErrorSample(
                {"keep_prob": R(9, 10), "block_size": 2, "height": 300, "width": 300},
                ValueError,
                "height",
            ),
        ),
    ),
    Entry(
        "theory.dropout.dropblock_expected_fraction",
        samples=(
            Sample(
                {"keep_prob": R(9, 10), "block_size": 7, "height": 7, "width": 7},
                check=_eq(R(1, 10)),
            ),
            Sample(
                {"keep_prob": R(9, 10), "block_size": 7, "height": 14, "width": 14, "gamma": None},
                check=lambda r: r < R(1, 10),
            ),
            Sample(
                {"keep_prob": R(9, 10), "block_size": 2, "height": 3, "width": 3, "gamma": 0},
                check=_eq(0),
            ),
        ),
        errors=(
            ErrorSample(
                {"keep_prob": R(9, 10), "block_size": 2, "height": 3, "width": 3, "gamma": 2},
                ValueError,
                "gamma must be",
            ),
        ),
    ),
    Entry(
        "theory.dropout.dropblock_matching_gamma",
        samples=(
            Sample(
                {"keep_prob": R(9, 10), "block_size": 7, "height": 7, "width": 7},
                check=_eq(R(1, 10)),
            ),
            Sample(
                {"keep_prob": R(9, 10), "block_size": 2, "height": 3, "width": 3},
                check=lambda r: sympy.N(r, 20) > R(9, 160),
            ),
        ),
        errors=(
            ErrorSample(
                {"keep_prob": PS / 2, "block_size": 2, "height": 3, "width": 3},
                TypeError,
                "keep_prob must be a number",
            ),
        ),
        time_limit=10.0,
    ),
    Entry(
        "theory.dropout.dropblock_pair_covariance",
        samples=(
            Sample(
                {
                    "keep_prob": R(9, 10),
                    "block_size": 7,
                    "height": 14,
                    "width": 14,
                    "pixel_a": (0, 0),
                    "pixel_b": (0, 0),
                },
                check=_eq(R(1, 160) * R(159, 160)),
            ),
            Sample(
                {
                    "keep_prob": R(9, 10),
                    "block_size": 7,
                    "height": 14,
                    "width": 14,
                    "pixel_a": (0, 0),
                    "pixel_b": (7, 7),
                },
                check=_eq(0),
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "keep_prob": R(9, 10),
                    "block_size": 2,
                    "height": 3,
                    "width": 3,
                    "pixel_a": (3, 0),
                    "pixel_b": (0, 0),
                },
                ValueError,
                "pixel_a must lie inside",
            ),
            ErrorSample(
                {
                    "keep_prob": R(9, 10),
                    "block_size": 2,
                    "height": 3,
                    "width": 3,
                    "pixel_a": (0, 0),
                    "pixel_b": 4,
                },
                TypeError,
                "pixel_b must be a pair",
            ),
            ErrorSample(
                {
                    "keep_prob": R(9, 10),
                    "block_size": 2,
                    "height": 3,
                    "width": 3,
                    "pixel_a": (0, -1),
                    "pixel_b": (0, 0),
                },
                ValueError,
                r"pixel_a\[1\] must be",
            ),
        ),
    ),
    Entry(
        "theory.dropout.log_law_rate",
        samples=(
            Sample({"capacity": 1, "data_size": 2, "scale": 1}, check=_eq(-sympy.log(2))),
            Sample({"capacity": 10, "data_size": 1}),
        ),
        errors=(
            ErrorSample({"capacity": 0, "data_size": 2}, ValueError, "capacity must be"),
            ErrorSample({"capacity": 1, "data_size": -2}, ValueError, "data_size must be"),
        ),
    ),
    Entry(
        "theory.dropout.ridge_bayes_risk",
        samples=(
            Sample({"p": HALF, "n": 4, "d": 2, "sigma2": 1, "alpha2": 1}, check=_eq(R(3, 8))),
        ),
        errors=(
            ErrorSample({"p": 1, "n": 4, "d": 2, "sigma2": 1, "alpha2": 1}, ValueError, "p must"),
            ErrorSample({"p": HALF, "n": 4, "d": 0, "sigma2": 1, "alpha2": 1}, ValueError, "d"),
        ),
    ),
    Entry(
        "theory.dropout.optimal_dropout_rate",
        samples=(
            Sample({"n": 100, "d": 50, "sigma2": 1, "alpha2": 1}, check=_eq(R(1, 3))),
            Sample({"n": NN, "d": NN, "sigma2": 1, "alpha2": 1}, check=_eq(HALF)),
        ),
        errors=(
            ErrorSample({"n": 1.5, "d": 50, "sigma2": 1, "alpha2": 1}, TypeError, "n must be"),
            ErrorSample({"n": 100, "d": 50, "sigma2": 1, "alpha2": 0}, ValueError, "alpha2"),
        ),
    ),
    derivation_entry("theory.dropout.derive_mask_literal", agrees=False),
    derivation_entry("theory.dropout.derive_inference_line", agrees=False),
    derivation_entry("theory.dropout.derive_inverted_moments"),
    derivation_entry("theory.dropout.derive_classic_moments"),
    derivation_entry("theory.dropout.derive_keep_convention"),
    derivation_entry("theory.dropout.derive_dropconnect_moments"),
    derivation_entry("theory.dropout.derive_ensemble_gap", agrees=False),
    derivation_entry("theory.dropout.derive_arithmetic_vs_geometric", agrees=False),
    derivation_entry("theory.dropout.derive_mc_dropout_variance", agrees=False),
    derivation_entry("theory.dropout.derive_expected_depth"),
    derivation_entry("theory.dropout.derive_stochastic_depth_gradient"),
    derivation_entry("theory.dropout.derive_dropblock_fraction", agrees=False),
    derivation_entry("theory.dropout.derive_log_law", agrees=False),
    derivation_entry("theory.dropout.derive_optimal_rate"),
    _derive_n("theory.dropout.derive_weight_scaling_linear", 3),
    _derive_n("theory.dropout.derive_weight_scaling_softmax", 3),
    _derive_n("theory.dropout.derive_weight_scaling_sigmoid", 3),
    _derive_n("theory.dropout.derive_dropout_ridge", 4),
    _derive_n("theory.dropout.derive_unbiased_gradient", 3),
]
