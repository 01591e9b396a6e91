"""Bad-input entries for :mod:`theory.residual`, :mod:`kernels.cpu.residual` and
:mod:`numerics.residual_experiments`."""

from __future__ import annotations

import math

import numpy as np
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

PNG = b"\x89PNG\r\n\x1a\n"
L = sympy.Symbol("L", integer=True, nonnegative=True)
HALF = sympy.Rational(1, 2)

_rng = np.random.default_rng(7)
X = _rng.standard_normal((3, 2))
G = _rng.standard_normal((3, 2))
W = [0.5 * _rng.standard_normal((2, 2)) for _ in range(3)]
B = [_rng.standard_normal(2) for _ in range(3)]


def _linear_stack(x, ws):
    y = x
    for w in ws:
        y = y + y @ w.T
    return y


def _close(expected):
    def check(r) -> None:
        assert np.allclose(r, expected, rtol=1e-12, atol=1e-12), (r, expected)

    return check


def _blocks_domain(limit: int):
    return lambda v: nonneg_int(v) and int(v) <= limit


def _png(r) -> None:
    assert isinstance(r, bytes) and r.startswith(PNG), r[:16]


def _backward_check(r) -> None:
    assert set(r) == {"input", "weights", "biases"}
    # the linear residual stack: input gradient G (prod (I + W_l^T))^T
    m = np.eye(2)
    for w in W:
        m = m @ (np.eye(2) + w.T)
    assert np.allclose(r["input"], G @ m.T, rtol=1e-12, atol=1e-12)


def _profile_check(r) -> None:
    assert np.all(r["min"] >= r["lower"] * (1 - 1e-12))
    assert np.all(r["max"] <= r["upper"] * (1 + 1e-12))
    assert len(r["norms"]) == 3 and len(r["median"]) == 4


def _shares_check(r) -> None:
    assert r["before"].shape == (4,) and r["before"][0] == np.sqrt(2)
    assert r["loss"][1] <= r["loss"][0]


_X_ERRORS = (
    ErrorSample({"x": X.astype(np.int64), "weights": W}, TypeError, "x must have dtype"),
    ErrorSample({"x": X[0], "weights": W}, ValueError, "x must have ndim"),
    ErrorSample({"x": X, "weights": []}, ValueError, "weights must hold at least one"),
    ErrorSample({"x": X, "weights": W[0]}, TypeError, "weights must be a list"),
    ErrorSample({"x": X, "weights": [np.eye(3)]}, ValueError, r"weights\[0\] must have shape"),
    ErrorSample(
        {"x": X, "weights": [W[0].astype(np.float32)]}, TypeError, r"weights\[0\] must have"
    ),
)

ENTRIES = [
    Entry(
        "theory.residual.path_count",
        samples=(
            Sample({"num_blocks": 10}, check=lambda r: r == 1024),
            Sample({"num_blocks": 0}, check=lambda r: r == 1),
            Sample({"num_blocks": L}, check=lambda r: r == 2**L),
        ),
        errors=(
            ErrorSample({"num_blocks": -1}, ValueError, "num_blocks must be"),
            ErrorSample({"num_blocks": 3.0}, TypeError, "num_blocks must be"),
            ErrorSample({"num_blocks": 10**7}, ValueError, "num_blocks must be at most"),
        ),
        result="count",
    ),
    Entry(
        "theory.residual.path_length_distribution",
        samples=(
            Sample({"num_blocks": 3}, check=lambda r: r == {0: 1, 1: 3, 2: 3, 3: 1}),
            Sample({"num_blocks": 0}, check=lambda r: r == {0: 1}),
        ),
        errors=(
            ErrorSample({"num_blocks": -1}, ValueError, "num_blocks must be"),
            ErrorSample({"num_blocks": L}, TypeError, "num_blocks must be a concrete"),
            ErrorSample({"num_blocks": 5000}, ValueError, "num_blocks must be at most"),
        ),
        result="count",
        domains={"num_blocks": _blocks_domain(4096)},
    ),
    Entry(
        "theory.residual.path_length_contributions",
        samples=(
            Sample(
                {"num_blocks": 4, "gain": sympy.Rational(1, 3)},
                check=lambda r: sum(r.values()) == sympy.Rational(4, 3) ** 4,
            ),
            Sample({"num_blocks": 2, "gain": 0.5}, check=lambda r: abs(float(r[2]) - 0.25) < 1e-15),
        ),
        errors=(
            ErrorSample({"num_blocks": 2, "gain": -0.5}, ValueError, "gain must be"),
            ErrorSample({"num_blocks": 2, "gain": "1"}, TypeError, "gain must be"),
            ErrorSample({"num_blocks": 2, "gain": float("nan")}, ValueError, "gain must be"),
            ErrorSample({"num_blocks": -2, "gain": 1}, ValueError, "num_blocks"),
        ),
        domains={"num_blocks": _blocks_domain(4096)},
    ),
    Entry(
        "theory.residual.dominant_path_length",
        samples=(
            Sample({"num_blocks": 10, "gain": sympy.Rational(1, 3)}, check=lambda r: r == 2),
            Sample({"num_blocks": 10, "gain": 1}, check=lambda r: r == 5),
            Sample({"num_blocks": 10, "gain": 3.0}, check=lambda r: r == 8),
        ),
        errors=(
            ErrorSample({"num_blocks": 10, "gain": sympy.Symbol("s")}, TypeError, "gain"),
            ErrorSample({"num_blocks": 10, "gain": -1}, ValueError, "gain"),
            ErrorSample({"num_blocks": 10.0, "gain": 1}, TypeError, "num_blocks"),
        ),
        result="count",
        domains={"num_blocks": _blocks_domain(4096)},
    ),
    Entry(
        "theory.residual.expand_residual_product",
        samples=(
            Sample(
                {"num_blocks": 3, "commutative": True},
                check=lambda r: len(sympy.Add.make_args(r)) == 8,
            ),
            Sample(
                {"num_blocks": 2, "commutative": False},
                check=lambda r: len(sympy.Add.make_args(r)) == 4,
            ),
        ),
        errors=(
            ErrorSample({"num_blocks": 0}, ValueError, "num_blocks must be"),
            ErrorSample({"num_blocks": 11}, ValueError, "num_blocks must be at most"),
            ErrorSample({"num_blocks": 2, "commutative": "False"}, TypeError, "commutative"),
        ),
        domains={"num_blocks": lambda v: positive_int(v) and int(v) <= 10, "commutative": boolean},
    ),
    Entry(
        "theory.residual.residual_gradient_bounds",
        samples=(
            Sample({"norms": [HALF, HALF, HALF]}, check=lambda r: r == (HALF**3, HALF**3 * 27)),
            Sample({"norms": (0.5, 2)}, check=lambda r: r[0] == 0 and abs(r[1] - 4.5) < 1e-15),
            Sample({"norms": []}, check=lambda r: r == (1, 1)),
        ),
        errors=(
            ErrorSample({"norms": 0.5}, TypeError, "norms must be a sequence"),
            ErrorSample({"norms": [0.5, -1]}, ValueError, r"norms\[1\] must be"),
            ErrorSample({"norms": [float("inf")]}, ValueError, r"norms\[0\] must be"),
            ErrorSample({"norms": "12"}, TypeError, "norms must be a sequence"),
            ErrorSample({"norms": [0.5] * 5000}, ValueError, "norms must be at most"),
        ),
        bad_values={"norms": ([True], [-0.5], [None], [float("nan")], [1 + 1j])},
    ),
    derivation_entry("theory.residual.derive_block_jacobian"),
    derivation_entry("theory.residual.derive_prevents_vanishing", agrees=False),
    derivation_entry("theory.residual.derive_learns_residual"),
    Entry(
        "theory.residual.derive_residual_product",
        samples=(Sample({"num_blocks": 2}, check=lambda d: d.agrees()),),
        errors=(
            ErrorSample({"num_blocks": 0}, ValueError, "num_blocks must be"),
            ErrorSample({"num_blocks": 5}, ValueError, "num_blocks must be at most"),
            ErrorSample({"num_blocks": True}, TypeError, "num_blocks"),
        ),
        result="any",
        domains={"num_blocks": lambda v: positive_int(v) and int(v) <= 4},
    ),
    Entry(
        "kernels.cpu.residual.residual_mlp",
        samples=(
            Sample(
                {"x": X, "weights": W, "biases": None, "activation": "linear", "residual": True},
                check=_close(_linear_stack(X, W)),
            ),
            Sample({"x": X, "weights": W, "biases": B, "activation": "relu", "residual": False}),
            Sample({"x": X, "weights": tuple(W), "biases": B, "activation": "tanh"}),
        ),
        errors=(
            *_X_ERRORS,
            ErrorSample({"x": X, "weights": W, "biases": B[:2]}, ValueError, "biases must hold"),
            ErrorSample({"x": X, "weights": W, "biases": [np.ones(3)] * 3}, ValueError, "biases"),
            ErrorSample({"x": X, "weights": W, "activation": "gelu"}, ValueError, "activation"),
            ErrorSample({"x": X, "weights": W, "residual": 1}, TypeError, "residual"),
        ),
        domains={"activation": one_of("relu", "tanh", "linear"), "residual": boolean},
        bad_values={"weights": ([None], [np.eye(2)] * 2 + ["w"]), "biases": ([None] * 3,)},
    ),
    Entry(
        "kernels.cpu.residual.residual_mlp_backward",
        samples=(
            Sample(
                {
                    "grad_output": G,
                    "x": X,
                    "weights": W,
                    "biases": None,
                    "activation": "linear",
                    "residual": True,
                },
                check=_backward_check,
            ),
            Sample(
                {
                    "grad_output": G,
                    "x": X,
                    "weights": W,
                    "biases": B,
                    "activation": "relu",
                    "residual": False,
                }
            ),
        ),
        errors=(
            *(ErrorSample({**e.kwargs, "grad_output": G}, e.exc, e.match) for e in _X_ERRORS),
            ErrorSample({"grad_output": G[:2], "x": X, "weights": W}, ValueError, "grad_output"),
            ErrorSample(
                {"grad_output": G.astype(np.float32), "x": X, "weights": W},
                TypeError,
                "grad_output",
            ),
        ),
        domains={"activation": one_of("relu", "tanh", "linear"), "residual": boolean},
    ),
    Entry(
        "kernels.cpu.residual.path_sum",
        samples=(
            Sample({"x": X, "weights": W, "by_length": False}, check=_close(_linear_stack(X, W))),
            Sample(
                {"x": X, "weights": W, "by_length": True},
                check=lambda r: r.shape == (4, 3, 2) and np.array_equal(r[0], X),
            ),
        ),
        errors=(
            *_X_ERRORS,
            ErrorSample({"x": X, "weights": [W[0]] * 13}, ValueError, "weights must hold at most"),
            ErrorSample({"x": X, "weights": W, "by_length": "True"}, TypeError, "by_length"),
        ),
        domains={"by_length": boolean},
    ),
    Entry(
        "numerics.residual_experiments.depth_gradient_profile",
        samples=(
            Sample(
                {
                    "depth": 3,
                    "width": 4,
                    "batch": 2,
                    "scale": 0.5,
                    "residual": True,
                    "activation": "relu",
                    "seed": 0,
                },
                check=_profile_check,
            ),
            Sample(
                {
                    "depth": 3,
                    "width": 4,
                    "batch": 2,
                    "scale": 1.0,
                    "residual": False,
                    "activation": "tanh",
                    "seed": 1,
                },
            ),
        ),
        errors=(
            ErrorSample({"depth": 0}, ValueError, "depth"),
            ErrorSample({"depth": 201}, ValueError, "depth must be at most"),
            ErrorSample({"depth": 2, "width": 513}, ValueError, "width must be at most"),
            ErrorSample({"depth": 2, "scale": 0.0}, ValueError, "scale"),
            ErrorSample({"depth": 2, "scale": "1"}, TypeError, "scale"),
            ErrorSample({"depth": 2, "residual": "True"}, TypeError, "residual"),
            ErrorSample({"depth": 2, "activation": "gelu"}, ValueError, "activation"),
            ErrorSample({"depth": 2, "seed": -1}, ValueError, "seed"),
            ErrorSample({"depth": 200, "scale": 100}, ValueError, "overflowed"),
        ),
        result="value",
        domains={
            "depth": lambda v: positive_int(v) and int(v) <= 200,
            "width": lambda v: positive_int(v) and int(v) <= 512,
            "batch": lambda v: positive_int(v) and int(v) <= 512,
            "residual": boolean,
            "activation": one_of("relu", "tanh", "linear"),
            "seed": nonneg_int,
        },
        bad_values={"scale": (101, 1e-400, math.inf)},
        time_limit=20.0,
    ),
    Entry(
        "numerics.residual_experiments.depth_gradient_figure",
        samples=(Sample({"depth": 3, "width": 4, "batch": 2, "seed": 0}, check=_png),),
        errors=(
            ErrorSample({"depth": 0, "width": 4, "batch": 2}, ValueError, "depth"),
            ErrorSample({"depth": 3, "width": 4.0, "batch": 2}, TypeError, "width"),
        ),
        result="any",
        domains={"depth": lambda v: positive_int(v) and int(v) <= 200, "seed": nonneg_int},
        time_limit=20.0,
    ),
    Entry(
        "numerics.residual_experiments.path_length_shares",
        samples=(
            Sample(
                {
                    "depth": 3,
                    "width": 2,
                    "scale": 0.25,
                    "steps": 5,
                    "learning_rate": 0.01,
                    "seed": 0,
                },
                check=_shares_check,
            ),
        ),
        errors=(
            ErrorSample({"depth": 11}, ValueError, "depth must be at most"),
            ErrorSample({"depth": 2, "steps": -1}, ValueError, "steps"),
            ErrorSample({"depth": 2, "learning_rate": 2.0}, ValueError, "learning_rate"),
            ErrorSample({"depth": 8, "steps": 100, "learning_rate": 1.0}, ValueError, "diverge"),
        ),
        domains={
            "depth": lambda v: positive_int(v) and int(v) <= 10,
            "width": lambda v: positive_int(v) and int(v) <= 64,
            "steps": lambda v: nonneg_int(v) and int(v) <= 5000,
            "seed": nonneg_int,
        },
        time_limit=20.0,
    ),
]
