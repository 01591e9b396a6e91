"""Bad-input entries for :mod:`numerics.dropout_experiments` (tiny networks and maps; figures
drawn at their smallest sizes, checked by the PNG signature). ``p`` is the DROP probability in
[0, 1) everywhere (p = 1 refused: the inverted scale 1/(1-p) is undefined)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy

from numerics import dropout_experiments as D
from tests.badinput.table import Entry, ErrorSample, Sample, nonneg_int, positive_int

PNG = b"\x89PNG\r\n\x1a\n"


def _png(r: Any) -> None:
    assert isinstance(r, bytes) and r.startswith(PNG), r[:16]


def _real_in(lo: float, hi: float, closed_lo: bool, closed_hi: bool) -> Callable[[Any], bool]:
    def pred(v: Any) -> bool:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
            return False
        try:
            x = float(v)
        except OverflowError:
            return False
        if not math.isfinite(x):
            return False
        return (lo <= x if closed_lo else lo < x) and (x <= hi if closed_hi else x < hi)

    return pred


DROP_P = _real_in(0.0, 1.0, True, False)
"""A drop probability in [0, 1)."""


def _int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    def pred(v: Any) -> bool:
        return nonneg_int(v) and lo <= int(v) <= hi

    return pred


def _seed(v: Any) -> bool:
    return nonneg_int(v) and int(v) <= D.MAX_SEED


_rng = np.random.default_rng(3)
X2 = _rng.standard_normal((2, 2))
W1 = _rng.standard_normal((3, 2))
W2 = _rng.standard_normal((1, 3))
B1 = _rng.standard_normal(3)
B2 = _rng.standard_normal(1)
Y2 = _rng.standard_normal((2, 1))
XR = _rng.standard_normal((6, 3))
YR = _rng.standard_normal(6)
WR = _rng.standard_normal(3)

NET = {"x": X2, "weights": [W1, W2], "biases": [B1, B2]}


def _ensemble(r: dict) -> None:
    assert r["per_mask"].shape == (4, 2, 1) and r["probs"].shape == (4,)
    assert abs(r["probs"].sum() - 1) < 1e-12
    assert np.allclose(r["arithmetic"], np.einsum("m,mbk->bk", r["probs"], r["per_mask"]))


def _nwgm(r: dict) -> None:  # one softmax layer right after dropout: NWGM = weight scaling
    assert np.allclose(r["nwgm"].sum(axis=-1), 1.0)
    assert np.allclose(r["nwgm"], r["weight_scaling"], rtol=1e-10, atol=1e-12)


def _ridge(w: np.ndarray) -> None:  # the gradient of the closed-form expected loss vanishes
    g = XR.T @ XR
    assert np.allclose(g @ w + 0.25 / 0.75 * np.diag(g) * w, XR.T @ YR)


def _loss(r: dict) -> None:
    assert abs(r["enumerated"] - r["closed_form"]) < 1e-10 and r["enumerated"] >= r["plain"]


def _grads(r: dict) -> None:
    for a, b in zip(r["mean_of_gradients"], r["gradient_of_mean"], strict=True):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12)


def _masks(r: tuple) -> None:
    m, pr = r
    assert m.shape == (8, 3) and abs(pr.sum() - 1) < 1e-12


def _coverage(r: dict) -> None:
    assert r["coverage"].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    assert r["gamma"] == 0.2 / 4 * 9 / 4


def _net_errors(net: dict) -> tuple[ErrorSample, ...]:
    """The network arguments' errors, for the functions taking ``net``'s arguments."""
    return (
        ErrorSample({**net, "x": X2.tolist()}, TypeError, "x must be a numpy"),
        ErrorSample({**net, "x": X2[:, :1]}, ValueError, "x and weights do not chain"),
        ErrorSample({**net, "weights": []}, TypeError, "weights must be a non-empty list"),
        ErrorSample({**net, "weights": [W1]}, TypeError, "biases must be None or a list of 1"),
        ErrorSample({**net, "biases": [B1, B1]}, ValueError, "biases must have one entry"),
        ErrorSample({**net, "x": X2 * np.nan}, ValueError, "x must hold finite"),
        ErrorSample({**net, "p": 1.0}, ValueError, r"p must be a real number in \[0, 1\)"),
        ErrorSample({**net, "p": "0.5"}, TypeError, "p must be a real number"),
        ErrorSample({**net, "activation": "gelu"}, ValueError, "activation must be one of"),
    )


NET_ERRORS = _net_errors(NET)

ENTRIES = [
    Entry(
        "numerics.dropout_experiments.mask_table",
        samples=(Sample({"n": 3, "p": 0.25}, check=_masks),),
        errors=(
            ErrorSample({"n": 13, "p": 0.5}, ValueError, "n must be at most 12"),
            ErrorSample({"n": 0, "p": 0.5}, ValueError, "n must be an integer >= 1"),
            ErrorSample({"n": 2, "p": 1}, ValueError, "p must be a real number in"),
            ErrorSample({"n": 2.0, "p": 0.5}, TypeError, "n must be an integer"),
        ),
        domains={"n": _int_in(1, D.MAX_MASK_UNITS), "p": DROP_P},
    ),
    Entry(
        "numerics.dropout_experiments.dropout_ensemble",
        samples=(
            Sample({**NET, "p": 0.5, "activation": "relu", "output": "linear"}, check=_ensemble),
            Sample(
                {
                    **NET,
                    "weights": [W1],
                    "biases": [B1],
                    "p": 0.3,
                    "activation": "tanh",
                    "output": "softmax",
                },
                check=_nwgm,
            ),
        ),
        errors=NET_ERRORS,
        domains={"p": DROP_P},
    ),
    Entry(
        "numerics.dropout_experiments.ensemble_gap",
        samples=(
            Sample(
                {
                    "depth": 0,
                    "activation": "relu",
                    "units": 3,
                    "p": 0.5,
                    "batch": 2,
                    "output": "linear",
                    "seed": 1,
                },
                check=lambda r: r["gap"] < 1e-12,  # affine after dropout: no gap
            ),
            Sample(
                {
                    "depth": 1,
                    "activation": "tanh",
                    "units": 3,
                    "p": 0.5,
                    "batch": 2,
                    "output": "softmax",
                    "seed": 1,
                },
                check=lambda r: r["nwgm_gap"] > 1e-9,
            ),
        ),
        errors=(
            ErrorSample({"depth": 8, "activation": "relu"}, ValueError, "depth must be at most"),
            ErrorSample({"depth": 1, "activation": "elu"}, ValueError, "activation must be"),
            ErrorSample(
                {"depth": 7, "activation": "relu", "units": 12, "batch": 256},
                ValueError,
                "units, depth, batch",
            ),
            ErrorSample({"depth": 1, "activation": "relu", "seed": -1}, ValueError, "seed"),
        ),
        domains={"depth": _int_in(0, 7), "units": _int_in(1, 12), "p": DROP_P, "seed": _seed},
    ),
    Entry(
        "numerics.dropout_experiments.ensemble_gap_figure",
        samples=(Sample({"max_depth": 1, "units": 2, "p": 0.5, "seeds": 1}, check=_png),),
        errors=(
            ErrorSample({"max_depth": 0}, ValueError, "max_depth"),
            ErrorSample({"seeds": 33}, ValueError, "seeds must be at most"),
            ErrorSample({"max_depth": 7, "units": 12, "seeds": 32}, ValueError, "max_depth, units"),
        ),
        result="any",
        domains={"max_depth": _int_in(1, 7), "seeds": _int_in(1, 32)},
        time_limit=20.0,
    ),
    Entry(
        "numerics.dropout_experiments.distinct_subnetworks",
        samples=(
            Sample({**NET, "activation": "tanh"}, check=lambda r: r["count"] == 4),
            Sample(
                {
                    **NET,
                    "weights": [np.hstack([W1[:, :1], np.zeros((3, 1))]), W2],
                    "activation": "tanh",
                },
                check=lambda r: r["count"] == 2,  # a unit with zero outgoing weights
            ),
        ),
        errors=(
            ErrorSample(
                {**NET, "x": np.ones((1, 11)), "weights": [np.ones((1, 11))], "biases": None},
                ValueError,
                "x must have at most 10",
            ),
            ErrorSample({**NET, "activation": 1}, TypeError, "activation"),
        ),
    ),
    Entry(
        "numerics.dropout_experiments.mc_dropout",
        samples=(
            Sample(
                {
                    **NET,
                    "p": 0.5,
                    "activation": "relu",
                    "output": "linear",
                    "passes": 50,
                    "seed": 2,
                },
                check=lambda r: r["samples"].shape == (50, 2, 1) and (r["variance"] >= 0).all(),
            ),
        ),
        errors=(
            *NET_ERRORS,
            ErrorSample({**NET, "passes": 0}, ValueError, "passes"),
            ErrorSample({**NET, "passes": 10**5 + 1}, ValueError, "passes must be at most"),
            ErrorSample({**NET, "seed": 2**64}, ValueError, "seed must be at most"),
        ),
        domains={"p": DROP_P, "passes": _int_in(1, 10**5), "seed": _seed},
        time_limit=10.0,
    ),
    Entry(
        "numerics.dropout_experiments.objective_gradients",
        samples=(
            Sample(
                {**NET, "y": Y2, "p": 0.25, "activation": "tanh", "output": "linear"}, check=_grads
            ),
            Sample(
                {
                    **NET,
                    "y": Y2,
                    "biases": None,
                    "p": 0.5,
                    "activation": "relu",
                    "output": "sigmoid",
                },
                check=_grads,
            ),
        ),
        errors=(
            *_net_errors({**NET, "y": Y2}),
            ErrorSample({**NET, "y": Y2[:, 0]}, ValueError, "y must have ndim 2"),
            ErrorSample({**NET, "y": np.ones((3, 1))}, ValueError, r"y must have shape"),
            ErrorSample({**NET, "y": Y2, "output": "tanh"}, ValueError, "output must be one of"),
        ),
        domains={"p": DROP_P},
        time_limit=10.0,
    ),
    Entry(
        "numerics.dropout_experiments.linear_dropout_loss",
        samples=(Sample({"x": XR, "y": YR, "w": WR, "p": 0.3}, check=_loss),),
        errors=(
            ErrorSample({"x": XR, "y": YR[:5], "w": WR, "p": 0.3}, ValueError, "y must have one"),
            ErrorSample({"x": XR, "y": YR, "w": WR[:2], "p": 0.3}, ValueError, "w must have"),
            ErrorSample({"x": XR, "y": YR, "w": WR, "p": -0.1}, ValueError, "p must be"),
            ErrorSample(
                {"x": np.ones((1, 13)), "y": YR[:1], "w": np.ones(13), "p": 0.1},
                ValueError,
                "x must have at most",
            ),
        ),
        domains={"p": DROP_P},
    ),
    Entry(
        "numerics.dropout_experiments.dropout_ridge",
        samples=(Sample({"x": XR, "y": YR, "p": 0.25}, check=_ridge),),
        errors=(
            ErrorSample({"x": np.zeros((6, 3)), "y": YR, "p": 0.25}, ValueError, "x must have no"),
            ErrorSample({"x": np.ones((6, 3)), "y": YR, "p": 0.0}, ValueError, "x: X"),
            ErrorSample(  # duplicated columns: singular only up to rounding
                {"x": np.column_stack([XR[:, 0], XR[:, 0], XR[:, 1]]), "y": YR, "p": 0.0},
                ValueError,
                "x: X",
            ),
            ErrorSample({"x": XR, "y": YR, "p": float("nan")}, ValueError, "p must be"),
            ErrorSample({"x": XR, "y": XR, "p": 0.25}, ValueError, "y must have ndim 1"),
        ),
        domains={"p": DROP_P},
    ),
    Entry(
        "numerics.dropout_experiments.bayesian_variance",
        samples=(
            Sample(
                {"sizes": (10, 40), "dim": 2, "p": 0.5, "noise": 1.0, "prior": 1.0, "seed": 0},
                check=lambda r: (
                    abs(float(r["limit"]) - 0.25) < 1e-12 and (r["mc_variance"] > 0).all()
                ),
            ),
        ),
        errors=(
            ErrorSample({"sizes": ()}, ValueError, "sizes must hold 1 to 16"),
            ErrorSample({"sizes": (1,)}, ValueError, "sizes must be an integer >= 2"),
            ErrorSample({"sizes": "10"}, TypeError, "sizes must be a sequence"),
            ErrorSample({"sizes": (10**6,)}, ValueError, "sizes must be at most"),
            ErrorSample({"noise": 0.0}, ValueError, "noise must be"),
            ErrorSample({"prior": 1e-320}, ValueError, "prior must be"),
            ErrorSample({"dim": 13}, ValueError, "dim must be at most"),
        ),
        domains={"p": DROP_P, "dim": _int_in(1, 12), "seed": _seed},
        bad_values={"sizes": ((2.5,), [True], (10, 0))},
    ),
    Entry(
        "numerics.dropout_experiments.bayesian_variance_figure",
        samples=(
            Sample({"dim": 2, "p": 0.5, "seed": 0}, check=_png),
            # fuzz finding (dev profile): a Rational p reached an f-string's :g format
            Sample({"dim": 2, "p": sympy.Rational(1, 2), "seed": 0}, check=_png),
        ),
        errors=(
            ErrorSample({"dim": 0}, ValueError, "dim"),
            ErrorSample({"p": 1.5}, ValueError, "p"),
        ),
        result="any",
        domains={"p": DROP_P},
        time_limit=20.0,
    ),
    Entry(
        "numerics.dropout_experiments.stochastic_depth_macs",
        samples=(
            Sample(
                {
                    "depth": 4,
                    "width": 3,
                    "batch": 2,
                    "p_last": 0.5,
                    "mode": "batch",
                    "steps": 5,
                    "seed": 0,
                },
                check=lambda r: float(r["expected"]) == (0.875 + 0.75 + 0.625 + 0.5) / 4,
            ),
            Sample(
                {
                    "depth": 3,
                    "width": 2,
                    "batch": 2,
                    "p_last": 1.0,
                    "mode": "row",
                    "steps": 2,
                    "seed": 0,
                },
                check=lambda r: (r["fractions"] == 1).all() and r["identity_ok"],
            ),
        ),
        errors=(
            ErrorSample({"p_last": 0.0}, ValueError, "p_last must be"),
            ErrorSample({"mode": "column"}, ValueError, "mode must be one of"),
            ErrorSample({"steps": 10**5, "depth": 1000}, ValueError, "steps"),
            ErrorSample({"depth": 0}, ValueError, "depth"),
        ),
        domains={
            "p_last": _real_in(0.0, 1.0, False, True),
            "steps": _int_in(1, 10**5),
            "seed": _seed,
        },
    ),
    Entry(
        "numerics.dropout_experiments.dropblock_drop_probability",
        samples=(
            Sample({"height": 3, "width": 3, "block_size": 2, "p": 0.2}, check=_coverage),
            Sample(
                {"height": 5, "width": 4, "block_size": 1, "p": 0.3},
                check=lambda r: abs(r["fraction"] - 0.3) < 1e-15,
            ),
        ),
        errors=(
            ErrorSample(
                {"height": 3, "width": 5, "block_size": 4, "p": 0.1},
                ValueError,
                r"block_size must be at most min\(height, width\)",
            ),
            ErrorSample(
                {"height": 3, "width": 3, "block_size": 0, "p": 0.1},
                ValueError,
                "block_size must be an integer >= 1",
            ),
            ErrorSample({"height": 3, "width": 3, "block_size": 2, "p": 1.0}, ValueError, "p "),
            ErrorSample(
                {"height": 5000, "width": 3, "block_size": 2, "p": 0.1},
                ValueError,
                "height must be at most",
            ),
        ),
        domains={"p": DROP_P, "block_size": _int_in(1, 3), "height": positive_int},
    ),
    Entry(
        "numerics.dropout_experiments.dropblock_masks",
        samples=(
            Sample(
                {"height": 4, "width": 5, "block_size": 2, "p": 0.3, "samples": 3, "seed": 1},
                check=lambda r: r.shape == (3, 4, 5) and r.dtype == bool,
            ),
        ),
        errors=(
            ErrorSample(
                {"height": 4, "width": 5, "block_size": 5, "p": 0.3},
                ValueError,
                "block_size must be at most",
            ),
            ErrorSample(
                {"height": 4, "width": 5, "block_size": 2, "p": 0.3, "samples": 10**8},
                ValueError,
                "samples",
            ),
        ),
        result="any",
        domains={"p": DROP_P, "samples": positive_int, "seed": _seed},
    ),
    Entry(
        "numerics.dropout_experiments.dropblock_fraction_figure",
        samples=(Sample({"sizes": (3, 5), "p": 0.1, "max_block": 3}, check=_png),),
        errors=(
            ErrorSample({"sizes": (3, 600)}, ValueError, "sizes must be at most"),
            ErrorSample({"sizes": ()}, ValueError, "sizes must hold"),
            ErrorSample({"p": 0.0}, ValueError, "p must be"),
            ErrorSample({"max_block": 65}, ValueError, "max_block"),
        ),
        result="any",
        bad_values={"sizes": ((2.5,), [True], (0,))},
        time_limit=20.0,
    ),
    Entry(
        "numerics.dropout_experiments.neighbour_recovery",
        samples=(
            Sample(
                {"size": 8, "block_size": 3, "p": 0.2, "samples": 20, "seed": 0},
                check=lambda r: (r["pixel_isolated"] <= 1).all() and len(r["block_error"]) == 20,
            ),
        ),
        errors=(
            ErrorSample({"size": 2}, ValueError, "size must be an integer >= 3"),
            ErrorSample({"size": 8, "block_size": 9}, ValueError, "block_size must be at most"),
            ErrorSample({"samples": 10**7}, ValueError, "samples"),
        ),
        domains={"p": DROP_P, "seed": _seed},
    ),
    Entry(
        "numerics.dropout_experiments.optimal_dropout_rate",
        samples=(
            Sample(
                {
                    "n": 20,
                    "d": 4,
                    "noise": 1.0,
                    "signal": 1.0,
                    "grid_size": 9,
                    "trials": 5,
                    "seed": 0,
                },
                check=lambda r: float(r["p_star"]) == 4 / 24 and int(r["design"]) == 1,
            ),
            Sample(
                {
                    "n": 4,
                    "d": 20,
                    "noise": 1.0,
                    "signal": 2.0,
                    "grid_size": 9,
                    "trials": 5,
                    "seed": 0,
                },
                check=lambda r: float(r["p_star"]) == 20 / 36 and int(r["design"]) == 0,
            ),
        ),
        errors=(
            ErrorSample({"n": 2000, "d": 1000}, ValueError, r"n \* d must be at most"),
            ErrorSample({"noise": -1.0}, ValueError, "noise must be"),
            ErrorSample({"grid_size": 0}, ValueError, "grid_size"),
            ErrorSample({"n": 100, "d": 100, "trials": 5000}, ValueError, "trials"),
        ),
        domains={"grid_size": _int_in(1, 999), "seed": _seed},
    ),
    Entry(
        "numerics.dropout_experiments.optimal_rate_figure",
        samples=(Sample({"n": 10, "trials": 2, "seed": 0}, check=_png),),
        errors=(
            ErrorSample({"n": 61}, ValueError, "n must be at most 60"),
            ErrorSample({"trials": 0}, ValueError, "trials"),
        ),
        result="any",
        domains={"n": _int_in(10, 60), "trials": _int_in(1, 200), "seed": _seed},
        time_limit=20.0,
    ),
]
