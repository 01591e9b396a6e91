"""Bad-input entries for :mod:`numerics.regularization_experiments` (tiny problems: 2
eigenvalues, a few steps and trials; the figures take no arguments and are checked by the PNG
signature). Conventions: mean loss, ridge penalty λ/2‖θ‖², noise = the standard deviation σ."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from numerics import regularization_experiments as R
from tests.badinput.table import Entry, ErrorSample, Sample, boolean, nonneg_int

PNG = b"\x89PNG\r\n\x1a\n"
P = "numerics.regularization_experiments."


def _png(r: Any) -> None:
    assert isinstance(r, bytes) and r.startswith(PNG), r[:16]


def _real_in(lo: float, hi: float, closed_lo: bool) -> Callable[[Any], bool]:
    def pred(v: Any) -> bool:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
            return False
        try:
            x = float(v)
        except OverflowError:
            return False
        return math.isfinite(x) and (lo <= x if closed_lo else lo < x) and x <= hi

    return pred


def _int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    def pred(v: Any) -> bool:
        return nonneg_int(v) and lo <= int(v) <= hi

    return pred


SEED = _int_in(0, R.MAX_SEED)
ETA = _real_in(0.0, 1e3, False)
NOISE = _real_in(0.0, 1e3, True)
S2 = (1.0, 0.25)
B2 = (1.0, -2.0)
PROBLEM = {"eigenvalues": S2, "beta": B2, "noise": 1.0}
PROBLEM_ERRORS = (
    ErrorSample({**PROBLEM, "eigenvalues": (1.0, -1.0)}, ValueError, "eigenvalues"),
    ErrorSample({**PROBLEM, "beta": (1.0,)}, ValueError, "beta"),
    ErrorSample({**PROBLEM, "noise": -1.0}, ValueError, "noise"),
    ErrorSample({**PROBLEM, "eigenvalues": "ab"}, TypeError, "eigenvalues"),
)


def _gd_check(r: dict) -> None:
    f = 1 - (1 - 0.5 * np.array(S2)) ** np.arange(4)[:, None]
    assert np.allclose(r["variance"], f**2 / 4)
    assert np.allclose(r["bias2"], np.array(S2) * (1 - f) ** 2 * np.array(B2) ** 2)


def _ridge_check(r: dict) -> None:
    assert np.allclose(r["df"], [2.0, 1 / 2 + 0.25 / 1.25])
    assert np.allclose(r["optimism"], 2 * r["df"] / 4)


def _mb_check(r: dict) -> None:
    assert np.isclose(r["with_replacement"], 0.5) and r["without_replacement"] == 0.0
    assert r["measured"] <= 1e-20


def _zo_check(r: dict) -> None:
    assert np.allclose(r["error"], [0.5, 0.0]) and np.allclose(r["bias"], [0.0, 0.0])


GRADS = np.array([[1.0, 0.0], [-1.0, 0.0]])
PRED = np.array([[0, 1], [1, 1]], dtype=np.int64)
LABELS = np.array([0, 1], dtype=np.int64)

ENTRIES = [
    Entry(
        P + "design",
        samples=(
            Sample(
                {"eigenvalues": S2, "n": 4, "seed": 0},
                check=lambda x: np.allclose(x.T @ x / 4, np.diag(S2)),
            ),
        ),
        errors=(
            ErrorSample({"eigenvalues": S2, "n": 1, "seed": 0}, ValueError, "n"),
            ErrorSample({"eigenvalues": (), "n": 4, "seed": 0}, ValueError, "eigenvalues"),
            ErrorSample({"eigenvalues": S2, "n": 4, "seed": -1}, ValueError, "seed"),
        ),
        domains={"n": _int_in(2, R.MAX_N), "seed": SEED},
    ),
    Entry(
        P + "gd_bias_variance",
        samples=(Sample({**PROBLEM, "eta": 0.5, "steps": 3, "n": 4}, check=_gd_check),),
        errors=(
            *(
                ErrorSample({**e.kwargs, "eta": 0.5, "steps": 3, "n": 4}, e.exc, e.match)
                for e in PROBLEM_ERRORS
            ),
            ErrorSample({**PROBLEM, "eta": 0.0, "steps": 3, "n": 4}, ValueError, "eta"),
            ErrorSample({**PROBLEM, "eta": 0.5, "steps": -1, "n": 4}, ValueError, "steps"),
            ErrorSample({**PROBLEM, "eta": 0.5, "steps": 3, "n": 1}, ValueError, "n"),
        ),
        domains={"steps": _int_in(0, R.MAX_STEPS), "n": _int_in(2, R.MAX_N)},
    ),
    Entry(
        P + "ridge_bias_variance",
        samples=(
            Sample({**PROBLEM, "lams": np.array([0.0, 1.0]), "n": 4}, check=_ridge_check),
            Sample({**PROBLEM, "lams": [0.5], "n": 4}),
        ),
        errors=(
            ErrorSample({**PROBLEM, "lams": [-1.0], "n": 4}, ValueError, "lams"),
            ErrorSample({**PROBLEM, "lams": 1.0, "n": 4}, TypeError, "lams"),
        ),
        domains={"n": _int_in(2, R.MAX_N)},
    ),
    Entry(
        P + "monte_carlo_gd",
        samples=(Sample({**PROBLEM, "eta": 0.5, "steps": 3, "n": 4, "trials": 5, "seed": 0}),),
        errors=(
            ErrorSample(
                {**PROBLEM, "eta": 0.5, "steps": 3, "n": 4, "trials": 1, "seed": 0},
                ValueError,
                "trials",
            ),
            ErrorSample(
                {**PROBLEM, "eta": 0.5, "steps": 10**5, "n": 4, "trials": 10**5, "seed": 0},
                ValueError,
                "steps, trials",
            ),
            ErrorSample(
                {**PROBLEM, "eta": 9.0, "steps": 900, "n": 4, "trials": 5, "seed": 0},
                ValueError,
                "eta",
            ),
        ),
        domains={"trials": _int_in(2, 10**6), "seed": SEED, "n": _int_in(2, R.MAX_N)},
        time_limit=10.0,
    ),
    Entry(
        P + "monte_carlo_ridge",
        samples=(Sample({**PROBLEM, "lams": [0.0, 1.0], "n": 4, "trials": 5, "seed": 0}),),
        errors=(
            ErrorSample(
                {**PROBLEM, "lams": [0.0], "n": 4, "trials": 0, "seed": 0}, ValueError, "trials"
            ),
            ErrorSample(
                {**PROBLEM, "lams": [-2.0], "n": 4, "trials": 5, "seed": 0}, ValueError, "lams"
            ),
        ),
        domains={"trials": _int_in(2, 10**6), "seed": SEED},
        time_limit=10.0,
    ),
    Entry(
        P + "gd_curves",
        samples=(
            Sample(
                {**PROBLEM, "eta": 0.5, "steps": 3, "n": 4, "n_val": 3, "seed": 0},
                check=lambda r: bool((np.diff(r["train"]) <= 1e-12).all()),
            ),
        ),
        errors=(
            ErrorSample(
                {**PROBLEM, "eta": 0.5, "steps": 3, "n": 4, "n_val": 0, "seed": 0},
                ValueError,
                "n_val",
            ),
            ErrorSample(
                {**PROBLEM, "eta": 30.0, "steps": 900, "n": 4, "n_val": 3, "seed": 0},
                ValueError,
                "eta",
            ),
        ),
        domains={"n_val": _int_in(1, R.MAX_N), "seed": SEED},
        time_limit=10.0,
    ),
    Entry(
        P + "first_increase",
        samples=(
            Sample({"curve": [3.0, 2.0, 2.5]}, check=lambda r: r == 1),
            Sample({"curve": np.array([3.0, 2.0, 1.0])}, check=lambda r: r == 2),
        ),
        errors=(
            ErrorSample({"curve": []}, ValueError, "curve"),
            ErrorSample({"curve": [1.0, float("nan")]}, ValueError, "curve"),
        ),
        result="count",
    ),
    Entry(
        P + "local_minima",
        samples=(
            Sample({"curve": [3.0, 2.0, 2.5, 1.0]}, check=lambda r: r == [1, 3]),
            Sample({"curve": np.array([1.0, 2.0])}, check=lambda r: r == []),
        ),
        errors=(ErrorSample({"curve": "abc"}, TypeError, "curve"),),
        result="count",
    ),
    Entry(
        P + "early_stopping_vs_ridge",
        samples=(
            Sample(
                {
                    "eigenvalues": (0.5,),
                    "beta": (2.0,),
                    "noise": 1.0,
                    "eta": 1.0,
                    "steps": 5,
                    "n": 4,
                },
                check=lambda r: np.allclose(r["lam_match"][0], 0.5),
            ),
            Sample({**PROBLEM, "eta": 0.5, "steps": 5, "n": 4}),
        ),
        errors=(
            ErrorSample({**PROBLEM, "eta": 1.0, "steps": 5, "n": 4}, ValueError, "eta"),
            ErrorSample({**PROBLEM, "eta": 0.5, "steps": 0, "n": 4}, ValueError, "steps"),
            # randomized-fuzz finding: eta = 1e-320 made the matching lambda infinite
            ErrorSample({**PROBLEM, "eta": 1e-320, "steps": 5, "n": 4}, ValueError, "eta"),
        ),
        domains={"steps": _int_in(1, R.MAX_STEPS)},
    ),
    Entry(
        P + "optimal_ridge_lambda",
        samples=(
            Sample(
                {"sizes": (3, 10), "dim": 2, "noise": 1.0, "prior_sd": 0.5, "seed": 0},
                check=lambda r: np.allclose(r["summed"], 4.0, rtol=1e-5),
            ),
        ),
        errors=(
            ErrorSample(
                {"sizes": (1,), "dim": 2, "noise": 1.0, "prior_sd": 0.5, "seed": 0},
                ValueError,
                "sizes",
            ),
            ErrorSample(
                {"sizes": (3,), "dim": 2, "noise": 0.0, "prior_sd": 0.5, "seed": 0},
                ValueError,
                "noise",
            ),
            ErrorSample(
                {"sizes": (3,), "dim": 2, "noise": 1.0, "prior_sd": -1, "seed": 0},
                ValueError,
                "prior_sd",
            ),
        ),
        domains={
            "dim": _int_in(1, 2),
            "seed": SEED,
            "noise": _real_in(0.0, 1e3, False),
            "prior_sd": _real_in(0.0, 1e3, False),
        },
    ),
    Entry(
        P + "minibatch_gradient_variance",
        samples=(
            Sample(
                {"grads": GRADS, "batch": 1, "replace": True, "trials": 50, "seed": 0},
            ),
            Sample(
                {"grads": GRADS, "batch": 2, "replace": False, "trials": 50, "seed": 0},
                check=_mb_check,
            ),
        ),
        errors=(
            ErrorSample(
                {"grads": GRADS, "batch": 3, "replace": False, "trials": 5, "seed": 0},
                ValueError,
                "batch",
            ),
            ErrorSample(
                {"grads": GRADS, "batch": 1, "replace": "False", "trials": 5, "seed": 0},
                TypeError,
                "replace",
            ),
            ErrorSample(
                {"grads": [[1.0]], "batch": 1, "replace": True, "trials": 5, "seed": 0},
                TypeError,
                "grads",
            ),
        ),
        domains={
            "batch": _int_in(1, 2),
            "replace": boolean,
            "seed": SEED,
            "trials": _int_in(1, 10**7),
        },
    ),
    Entry(
        P + "validation_selection_bias",
        samples=(
            Sample(
                {"k": 3, "n_val": 4, "error": 0.3, "trials": 20, "seed": 0},
                check=lambda r: r["exact_minimum"] < 0.3,
            ),
            Sample(
                {"k": 1, "n_val": 4, "error": 0.3, "trials": 20, "seed": 0},
                check=lambda r: abs(r["exact_minimum"] - 0.3) < 1e-12,
            ),
        ),
        errors=(
            ErrorSample(
                {"k": 0, "n_val": 4, "error": 0.3, "trials": 20, "seed": 0}, ValueError, "k"
            ),
            ErrorSample(
                {"k": 2, "n_val": 4, "error": 1.5, "trials": 20, "seed": 0}, ValueError, "error"
            ),
        ),
        domains={
            "k": _int_in(1, 10**4),
            "n_val": _int_in(1, R.MAX_N),
            "error": _real_in(0.0, 1.0, True),
            "seed": SEED,
        },
    ),
    Entry(
        P + "reparametrized_sharpness",
        samples=(
            Sample(
                {"alphas": [1.0, 10.0], "seed": 0},
                check=lambda r: r["sharpness"][1] > 50 * r["sharpness"][0],
            ),
        ),
        errors=(
            ErrorSample({"alphas": [0.0], "seed": 0}, ValueError, "alphas"),
            ErrorSample({"alphas": [1.0], "seed": -3}, ValueError, "seed"),
        ),
        domains={"seed": SEED},
        time_limit=10.0,
    ),
    Entry(
        P + "zero_one_decomposition",
        samples=(Sample({"predictions": PRED, "labels": LABELS}, check=_zo_check),),
        errors=(
            ErrorSample({"predictions": PRED, "labels": LABELS[:1]}, ValueError, "labels"),
            ErrorSample(
                {"predictions": PRED.astype(float), "labels": LABELS}, ValueError, "predictions"
            ),
            ErrorSample({"predictions": PRED, "labels": [0, 1]}, TypeError, "labels"),
        ),
    ),
    *(
        Entry(
            P + name,
            samples=(Sample({}, check=_png),),
            result="any",
            fuzz=False,
            note="no arguments: a fixed figure for the docs page",
        )
        for name in ("validation_curves_figure", "bias_variance_figure", "gradient_noise_figure")
    ),
]
