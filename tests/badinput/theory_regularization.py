"""Bad-input entries for :mod:`theory.regularization`."""

from __future__ import annotations

from typing import Any

import sympy

from tests.badinput.table import (
    Entry,
    ErrorSample,
    Sample,
    boolean,
    nonneg_int,
    one_of,
    positive_int,
)
from tests.badinput.theory_conv import derivation_entry

R = sympy.Rational
HALF = R(1, 2)
NN = sympy.Symbol("n", integer=True, positive=True)


def _eq(expected: Any):
    def check(r: Any) -> None:
        assert sympy.simplify(sympy.sympify(r) - expected) == 0, (r, expected)

    return check


def _tuple_eq(*expected: Any):
    def check(r: Any) -> None:
        assert tuple(r) == tuple(expected), (r, expected)

    return check


def _real_errors(name: str, base: dict, negative_ok: bool = False) -> tuple[ErrorSample, ...]:
    out = [
        ErrorSample({**base, name: "1"}, TypeError, f"{name} must be"),
        ErrorSample({**base, name: float("nan")}, ValueError, f"{name} must be"),
        ErrorSample({**base, name: None}, TypeError, f"{name} must be"),
    ]
    if not negative_ok:
        out.append(ErrorSample({**base, name: -1}, ValueError, f"{name} must be"))
    return tuple(out)


_L2 = {"theta": 2, "grad": 1, "lr": HALF, "lam": HALF}
_FP = {"curvature": 2, "minimizer": 3, "lam": 1}
_SUB = {"theta": 0, "lam": 2}
_ST = {"z": 3, "lam": 1}
_LASSO = {"xty": 3, "xtx": 2, "lam": 1}
_MAP = {"noise_var": 1, "prior_scale": 4, "prior": "gaussian", "loss": "mean", "n": 10}
_RF = {"eigenvalue": 3, "lam": 1}
_DF = {"eigenvalues": [1, 3], "lam": 1}
_RBV = {"eigenvalues": [1, 4], "coefficients": [1, -1], "noise_var": 1, "lam": 2, "n": 4}
_OPT = {"eigenvalues": [1, 3], "noise_var": 2, "lam": 1, "n": 4}
_MB = {"grad_var": 6, "batch": 2, "n": 4, "replacement": False}
_NS = {"lr": HALF, "batch": 4, "grad_var": 8}
_SSV = {"lr": HALF, "batch": 4, "curvature": 1, "decay": HALF, "noise_var": 1}
_MON = {"eigenvalues": [1, 4]}
_GDF = {"eigenvalue": 1, "lr": HALF, "steps": 2}
_ESL = {"eigenvalue": 1, "lr": HALF, "steps": 2}
_GBV = {"eigenvalue": 1, "coefficient": 2, "noise_var": 1, "lr": R(3, 2), "steps": 1}
_ZO = {"p": R(1, 4)}
_PB = {"train_error": R(1, 10), "kl": 0, "n": 100, "delta": R(1, 20)}
_KL = {"mean_sq_dist": 0, "var_q": 2, "var_p": 2, "d": 1000}
_HESS = {"w1": 1, "w2": 2, "x": 1, "y": 2}
_Q6 = {"beta_hat": 1, "n": 10, "lam": 10, "q": HALF}
_VAL = {"k": 2, "m": 1, "p": HALF}

ENTRIES = [
    Entry(
        "theory.regularization.l2_update",
        samples=(Sample(_L2, check=_eq(1)), Sample({**_L2, "lr": 0}, check=_eq(2))),
        errors=(
            *_real_errors("lr", _L2),
            *_real_errors("lam", _L2),
            *_real_errors("theta", _L2, True),
        ),
    ),
    Entry(
        "theory.regularization.gd_l2_fixed_point",
        samples=(Sample(_FP, check=_eq(2)), Sample({**_FP, "lam": 0}, check=_eq(3))),
        errors=(
            ErrorSample({**_FP, "curvature": 0}, ValueError, "curvature must be"),
            *_real_errors("lam", _FP),
            *_real_errors("minimizer", _FP, True),
        ),
    ),
    Entry(
        "theory.regularization.l1_subdifferential",
        samples=(
            Sample(_SUB, check=_tuple_eq(-2, 2)),
            Sample({**_SUB, "theta": -R(1, 3)}, check=_tuple_eq(-2, -2)),
        ),
        errors=(
            *_real_errors("lam", _SUB),
            ErrorSample({**_SUB, "theta": sympy.Symbol("t")}, ValueError, "theta must be known"),
        ),
    ),
    Entry(
        "theory.regularization.soft_threshold",
        samples=(Sample(_ST, check=_eq(2)), Sample({**_ST, "z": -HALF}, check=_eq(0))),
        errors=(*_real_errors("lam", _ST), *_real_errors("z", _ST, True)),
    ),
    Entry(
        "theory.regularization.lasso_1d",
        samples=(Sample(_LASSO, check=_eq(1)), Sample({**_LASSO, "xty": 1}, check=_eq(0))),
        errors=(
            ErrorSample({**_LASSO, "xtx": 0}, ValueError, "xtx must be"),
            *_real_errors("lam", _LASSO),
        ),
    ),
    Entry(
        "theory.regularization.map_lambda",
        samples=(
            Sample(_MAP, check=_eq(R(1, 40))),
            Sample({**_MAP, "prior": "laplace", "loss": "sum"}, check=_eq(R(1, 4))),
        ),
        errors=(
            ErrorSample({**_MAP, "prior": "normal"}, ValueError, "prior must be one of"),
            ErrorSample({**_MAP, "loss": "avg"}, ValueError, "loss must be one of"),
            ErrorSample({**_MAP, "n": 0}, ValueError, "n must be"),
            ErrorSample({**_MAP, "prior_scale": 0}, ValueError, "prior_scale must be"),
            ErrorSample({**_MAP, "noise_var": 0}, ValueError, "noise_var must be"),
        ),
        domains={
            "prior": one_of("gaussian", "laplace"),
            "loss": one_of("sum", "mean"),
        },
    ),
    Entry(
        "theory.regularization.ridge_filter",
        samples=(Sample(_RF, check=_eq(R(3, 4))), Sample({**_RF, "eigenvalue": 0}, check=_eq(0))),
        errors=(
            ErrorSample({"eigenvalue": 0, "lam": 0}, ValueError, "eigenvalue and lam"),
            *_real_errors("lam", _RF),
            *_real_errors("eigenvalue", _RF),
        ),
    ),
    Entry(
        "theory.regularization.ridge_df",
        samples=(Sample(_DF, check=_eq(R(5, 4))),),
        errors=(
            ErrorSample({**_DF, "eigenvalues": []}, ValueError, "eigenvalues must have"),
            ErrorSample({**_DF, "eigenvalues": [1, -1]}, ValueError, r"eigenvalues\[1\] must be"),
            ErrorSample({**_DF, "eigenvalues": "13"}, TypeError, "eigenvalues must be"),
            ErrorSample({**_DF, "lam": 0}, ValueError, "lam must be"),
        ),
    ),
    Entry(
        "theory.regularization.ridge_bias_variance",
        samples=(Sample(_RBV, check=_tuple_eq(R(2, 9), R(5, 36))),),
        errors=(
            ErrorSample({**_RBV, "coefficients": [1]}, ValueError, "coefficients must have"),
            ErrorSample({**_RBV, "coefficients": 1}, TypeError, "coefficients must be"),
            ErrorSample({**_RBV, "eigenvalues": [0, 1]}, ValueError, r"eigenvalues\[0\] must be"),
            ErrorSample({**_RBV, "n": 0}, ValueError, "n must be"),
            *_real_errors("noise_var", _RBV),
            *_real_errors("lam", _RBV),
        ),
    ),
    Entry(
        "theory.regularization.ridge_optimism",
        samples=(Sample(_OPT, check=_eq(R(5, 4))),),
        errors=(
            ErrorSample({**_OPT, "n": 0}, ValueError, "n must be"),
            *_real_errors("noise_var", _OPT),
            ErrorSample({**_OPT, "lam": 0}, ValueError, "lam must be"),
        ),
    ),
    Entry(
        "theory.regularization.minibatch_gradient_variance",
        samples=(
            Sample(_MB, check=_eq(2)),
            Sample({**_MB, "replacement": True}, check=_eq(3)),
            Sample({**_MB, "batch": 4}, check=_eq(0)),
        ),
        errors=(
            ErrorSample({**_MB, "batch": 5}, ValueError, "batch must be <= n"),
            ErrorSample({**_MB, "batch": 0}, ValueError, "batch must be"),
            ErrorSample({**_MB, "replacement": "False"}, TypeError, "replacement must be"),
            *_real_errors("grad_var", _MB),
        ),
        domains={"replacement": boolean},
    ),
    Entry(
        "theory.regularization.sgd_noise_scales",
        samples=(Sample(_NS, check=_tuple_eq(2, R(1, 2), R(1, 8))),),
        errors=(
            ErrorSample({**_NS, "lr": 0}, ValueError, "lr must be"),
            ErrorSample({**_NS, "batch": 0}, ValueError, "batch must be"),
            *_real_errors("grad_var", _NS),
        ),
    ),
    Entry(
        "theory.regularization.sgd_stationary_variance",
        samples=(Sample(_SSV, check=_eq(R(1, 2) / (4 * R(3, 2) * R(5, 4)))),),
        errors=(
            ErrorSample({**_SSV, "lr": 2}, ValueError, r"lr\*\(curvature\+decay\) must be"),
            ErrorSample({**_SSV, "curvature": 0, "decay": 0}, ValueError, "lr"),
            ErrorSample({**_SSV, "batch": 0}, ValueError, "batch must be"),
            *_real_errors("noise_var", _SSV),
            *_real_errors("decay", _SSV),
        ),
    ),
    Entry(
        "theory.regularization.gd_monotone_lr_bound",
        samples=(Sample(_MON, check=_eq(HALF)),),
        errors=(
            ErrorSample({"eigenvalues": [0, 0]}, ValueError, "eigenvalues must not all be 0"),
            ErrorSample({"eigenvalues": []}, ValueError, "eigenvalues must have"),
            ErrorSample({"eigenvalues": [1, -2]}, ValueError, r"eigenvalues\[1\]"),
        ),
    ),
    Entry(
        "theory.regularization.gd_filter",
        samples=(Sample(_GDF, check=_eq(R(3, 4))), Sample({**_GDF, "steps": 0}, check=_eq(0))),
        errors=(
            ErrorSample({**_GDF, "steps": -1}, ValueError, "steps must be"),
            ErrorSample({**_GDF, "steps": 10**5}, ValueError, "steps must be at most"),
            ErrorSample({**_GDF, "steps": 2.0}, TypeError, "steps must be"),
            *_real_errors("lr", _GDF),
        ),
    ),
    Entry(
        "theory.regularization.early_stopping_lambda",
        samples=(Sample(_ESL, check=_eq(R(1, 3))),),
        errors=(
            ErrorSample({**_ESL, "steps": 0}, ValueError, "steps must be >= 1"),
            ErrorSample({**_ESL, "lr": 1}, ValueError, r"lr\*eigenvalue must be in \(0, 1\)"),
            ErrorSample({**_ESL, "eigenvalue": 0}, ValueError, "eigenvalue must be"),
        ),
    ),
    Entry(
        "theory.regularization.gd_bias_variance",
        samples=(Sample(_GBV, check=_tuple_eq(1, R(9, 4))),),
        errors=(
            ErrorSample({**_GBV, "steps": -1}, ValueError, "steps must be"),
            ErrorSample({**_GBV, "eigenvalue": 0}, ValueError, "eigenvalue must be"),
            *_real_errors("noise_var", _GBV),
            *_real_errors("lr", _GBV),
        ),
    ),
    Entry(
        "theory.regularization.gd_risk",
        samples=(
            Sample(
                {
                    "eigenvalues": [1],
                    "coefficients": [1],
                    "noise_var": 1,
                    "lr": R(1, 4),
                    "steps": 1,
                },
                check=_eq(R(5, 8)),
            ),
        ),
        errors=(
            ErrorSample(
                {"eigenvalues": [1], "coefficients": [1, 2], "noise_var": 1, "lr": 1, "steps": 1},
                ValueError,
                "coefficients must have",
            ),
            ErrorSample(
                {"eigenvalues": [0], "coefficients": [1], "noise_var": 1, "lr": 1, "steps": 1},
                ValueError,
                r"eigenvalues\[0\] must be",
            ),
            ErrorSample(
                {"eigenvalues": [1], "coefficients": [1], "noise_var": 1, "lr": 1, "steps": -1},
                ValueError,
                "steps must be",
            ),
        ),
    ),
    Entry(
        "theory.regularization.zero_one_decomposition",
        samples=(
            Sample(_ZO, check=_tuple_eq(R(3, 4), 1, R(1, 4))),
            Sample({"p": 1}, check=_tuple_eq(0, 0, 0)),
        ),
        errors=(
            ErrorSample({"p": R(3, 2)}, ValueError, "p must be"),
            *_real_errors("p", _ZO),
        ),
    ),
    Entry(
        "theory.regularization.pac_bayes_bound",
        samples=(Sample(_PB, check=_eq(R(1, 10) + sympy.sqrt(sympy.log(400) / 200))),),
        errors=(
            ErrorSample({**_PB, "delta": 0}, ValueError, "delta must be"),
            ErrorSample({**_PB, "delta": 1}, ValueError, "delta must be"),
            ErrorSample({**_PB, "n": 0}, ValueError, "n must be"),
            ErrorSample({**_PB, "train_error": 2}, ValueError, "train_error must be"),
            *_real_errors("kl", _PB),
        ),
    ),
    Entry(
        "theory.regularization.gaussian_kl",
        samples=(
            Sample(_KL, check=_eq(0)),
            Sample({**_KL, "mean_sq_dist": 4, "d": 3}, check=_eq(1)),
        ),
        errors=(
            ErrorSample({**_KL, "var_q": 0}, ValueError, "var_q must be"),
            ErrorSample({**_KL, "var_p": 0}, ValueError, "var_p must be"),
            ErrorSample({**_KL, "d": 0}, ValueError, "d must be"),
            *_real_errors("mean_sq_dist", _KL),
        ),
    ),
    Entry(
        "theory.regularization.relu_net_hessian",
        samples=(Sample(_HESS, check=lambda h: h == sympy.Matrix([[4, 2], [2, 1]])),),
        errors=(
            ErrorSample({**_HESS, "w1": -1}, ValueError, r"w1\*x must be > 0"),
            ErrorSample({**_HESS, "x": "1"}, TypeError, "x must be"),
        ),
        result="any",
    ),
    Entry(
        "theory.regularization.dropout_l2_minimizer",
        samples=(Sample(_Q6, check=_eq(R(1, 3))), Sample({**_Q6, "q": 1, "lam": 0}, check=_eq(1))),
        errors=(
            ErrorSample({**_Q6, "q": 0}, ValueError, "q must be"),
            ErrorSample({**_Q6, "q": R(3, 2)}, ValueError, "q must be"),
            ErrorSample({**_Q6, "n": 0}, ValueError, "n must be"),
            *_real_errors("lam", _Q6),
        ),
    ),
    Entry(
        "theory.regularization.expected_min_validation_error",
        samples=(
            Sample(_VAL, check=_eq(R(1, 4))),
            Sample({**_VAL, "k": 1, "m": 5}, check=_eq(HALF)),
        ),
        errors=(
            ErrorSample({**_VAL, "k": 0}, ValueError, "k must be"),
            ErrorSample({**_VAL, "m": 101}, ValueError, "m must be at most"),
            ErrorSample({**_VAL, "k": NN}, TypeError, "k must be a concrete"),
            ErrorSample({**_VAL, "p": 2}, ValueError, "p must be"),
        ),
        domains={
            "k": lambda v: positive_int(v) and int(v) <= 100,
            "m": lambda v: positive_int(v) and int(v) <= 100,
        },
    ),
    Entry(
        "theory.regularization.derive_minibatch_covariance",
        samples=(
            Sample({"n": 4, "batch": 2}, check=lambda d: d.agrees()),
            Sample({"n": 3, "batch": 3}, check=lambda d: d.agrees()),
        ),
        errors=(
            ErrorSample({"n": 7, "batch": 2}, ValueError, r"n must be in \[2, 6\]"),
            ErrorSample({"n": 3, "batch": 4}, ValueError, "batch must be in"),
            ErrorSample({"n": 1, "batch": 1}, ValueError, "n must be"),
            ErrorSample({"n": NN, "batch": 1}, TypeError, "n must be a concrete"),
        ),
        result="any",
        domains={"n": lambda v: nonneg_int(v) and 2 <= int(v) <= 6},
        time_limit=20.0,
    ),
    derivation_entry("theory.regularization.derive_l2_update"),
    derivation_entry("theory.regularization.derive_weight_decay_range", agrees=False),
    derivation_entry("theory.regularization.derive_lasso_1d"),
    derivation_entry("theory.regularization.derive_feature_selection"),
    derivation_entry("theory.regularization.derive_gaussian_prior"),
    derivation_entry("theory.regularization.derive_laplace_prior"),
    derivation_entry("theory.regularization.derive_ridge_bias_variance"),
    derivation_entry("theory.regularization.derive_ridge_optimism"),
    derivation_entry("theory.regularization.derive_optimal_lambda"),
    derivation_entry("theory.regularization.derive_sgd_noise_scales"),
    derivation_entry("theory.regularization.derive_sgd_stationary_variance"),
    derivation_entry("theory.regularization.derive_monotone_gd"),
    derivation_entry("theory.regularization.derive_early_stopping_filter"),
    derivation_entry("theory.regularization.derive_gd_bias_variance"),
    derivation_entry("theory.regularization.derive_bias_variance_decomposition"),
    derivation_entry("theory.regularization.derive_zero_one_counterexample", agrees=False),
    derivation_entry("theory.regularization.derive_gaussian_kl"),
    derivation_entry("theory.regularization.derive_pac_bayes_zero_kl"),
    derivation_entry("theory.regularization.derive_flat_minima"),
    derivation_entry("theory.regularization.derive_dropout_l2", agrees=False),
    derivation_entry("theory.regularization.derive_validation_selection", agrees=False),
]
