"""Bad-input entries for :mod:`kernels.cpu.optim` (optimizer steps, ISTA, trainers).

Bad inputs of the issue: negative ``lr``/``lam``/``eps``/``weight_decay``, ``betas`` outside
[0, 1), ``batch_size > N`` without replacement, wrong shapes (grads vs params, theta vs X,
state buffers), non-dict state, non-bool flags, wrong generators, ``steps`` beyond the bound,
overflowing steps (``lr = 1e308``). Samples pass their own seeded Generator; the table
deep-copies arguments, so every call of a sample draws the same minibatches.
"""

from __future__ import annotations

import numpy as np
import torch

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

K = "kernels.cpu.optim."
_rng = np.random.default_rng(5)
P = _rng.standard_normal((2, 3))
G = _rng.standard_normal((2, 3))
X = _rng.standard_normal((6, 2))
Y = _rng.standard_normal(6)
YB = (Y > 0).astype(np.float64)
T = _rng.standard_normal(2)


def R(seed: int = 3) -> np.random.Generator:
    return np.random.default_rng(seed)


def nonneg_float(v) -> bool:
    return finite_float(v) and float(v) >= 0.0


def _close(expected):
    def check(result):
        out = result[0] if isinstance(result, tuple) else result
        assert np.allclose(out, expected, rtol=1e-12, atol=1e-12)

    return check


def _sgd_check(mom):
    def check(result):
        out, state = result
        g = G + 0.1 * P
        assert np.allclose(out, P - 0.05 * g, rtol=1e-12, atol=1e-14)
        assert ("momentum_buffer" in state) == (mom > 0)

    return check


def _torch_adam(cls, **kw):
    p = torch.tensor(P, requires_grad=True)
    opt = cls([p], **kw)
    p.grad = torch.tensor(G)
    opt.step()
    return p.detach().numpy()


STEP_BAD = {
    "state": ({"bogus": 1}, {"momentum_buffer": np.zeros(3)}, [], "s"),
    "grads": (np.zeros((3, 2)), np.full((2, 3), np.nan)),
}


def _step_errors(extra=()):
    base = {"params": P, "grads": G, "state": {}, "lr": 0.05}
    return (
        ErrorSample({**base, "lr": -0.1}, ValueError, r"lr must be .*>= 0"),
        ErrorSample({**base, "grads": G[:1]}, ValueError, r"grads must have the shape of params"),
        ErrorSample({**base, "state": None}, TypeError, r"state must be a dict"),
        ErrorSample({**base, "state": {"x": 1}}, ValueError, r"state has an unknown key"),
        ErrorSample({**base, "weight_decay": -1.0}, ValueError, r"weight_decay must be"),
        ErrorSample({**base, "maximize": "False"}, TypeError, r"maximize must be True or False"),
        ErrorSample({**base, "params": P.astype(int)}, TypeError, r"params must have dtype"),
        ErrorSample({**base, "grads": 4 * G, "lr": 1e308}, ValueError, r"overflowed.*lr"),
        *extra,
    )


def _sgd_entry(name, check_fn):
    base = {"params": P, "grads": G, "state": {}, "lr": 0.05}
    return Entry(
        K + name,
        samples=(
            Sample({**base, "weight_decay": 0.1}, check=check_fn(0.0)),
            Sample(
                {
                    **base,
                    "momentum": 0.9,
                    "dampening": 0.0,
                    "weight_decay": 0.1,
                    "nesterov": True,
                    "maximize": False,
                },
            ),
            Sample(
                {
                    **base,
                    "state": {"momentum_buffer": G.copy()},
                    "momentum": 0.5,
                    "dampening": 0.1,
                    "weight_decay": 0.0,
                    "nesterov": False,
                    "maximize": True,
                },
            ),
        ),
        errors=_step_errors(
            (
                ErrorSample({**base, "momentum": 0.0, "nesterov": True}, ValueError, "nesterov"),
                ErrorSample({**base, "momentum": -0.5}, ValueError, r"momentum must be"),
            )
        ),
        domains={"nesterov": boolean, "maximize": boolean, "lr": nonneg_float},
        bad_values=STEP_BAD,
    )


def _coupled_overflow(name: str, base: dict) -> tuple[ErrorSample, ...]:
    """Randomized-fuzz finding: Adam's coupled weight decay 1e308 overflowed only its state
    v = g^2 (AdamW's decoupled decay scales the parameters instead, which stay finite)."""
    if name != "adam_step":
        return ()
    return (ErrorSample({**base, "weight_decay": 1e308}, ValueError, r"weight_decay"),)


def _adam_entry(name, cls):
    base = {"params": P, "grads": G, "state": {}, "lr": 0.01}
    kw = {"betas": (0.8, 0.99), "eps": 1e-8, "weight_decay": 0.1}
    return Entry(
        K + name,
        samples=(
            Sample(
                {**base, **kw},
                check=_close(_torch_adam(cls, lr=0.01, **kw)),
                note="one step equals torch.optim's",
            ),
            Sample(
                {**base, **kw, "amsgrad": True, "maximize": True},
                check=_close(_torch_adam(cls, lr=0.01, amsgrad=True, maximize=True, **kw)),
            ),
            Sample(
                {**base, "state": {"step": 2, "exp_avg": G.copy(), "exp_avg_sq": G * G}, **kw},
            ),
        ),
        errors=_step_errors(
            (
                ErrorSample({**base, "betas": (1.0, 0.9)}, ValueError, r"betas\[0\] must be"),
                ErrorSample({**base, "betas": (0.9, -0.1)}, ValueError, r"betas\[1\] must be"),
                ErrorSample({**base, "betas": 0.9}, TypeError, r"betas must be a pair"),
                ErrorSample({**base, "eps": -1e-8}, ValueError, r"eps must be"),
                *_coupled_overflow(name, base),
                ErrorSample(
                    {**base, "grads": np.zeros((2, 3)), "eps": 0.0}, ValueError, r"eps must be"
                ),
                ErrorSample({**base, "state": {"step": 0}}, ValueError, r"state\['step'\]"),
            )
        ),
        domains={"amsgrad": boolean, "maximize": boolean, "lr": nonneg_float},
        bad_values={**STEP_BAD, "betas": ((0.9,), (0.9, 1.0), [0.5, float("nan")])},
    )


ENTRIES = [
    Entry(
        K + "soft_threshold",
        samples=(
            Sample(
                {"x": np.array([-2.0, -0.5, 0.0, 0.3, 1.5]), "t": 1.0},
                check=_close(np.array([-1.0, 0.0, 0.0, 0.0, 0.5])),
            ),
            Sample({"x": P, "t": 0.0}, check=_close(P)),
        ),
        errors=(
            ErrorSample({"x": P, "t": -1.0}, ValueError, r"t must be .*>= 0"),
            ErrorSample({"x": [1.0], "t": 1.0}, TypeError, r"x must be"),
        ),
        domains={"t": nonneg_float},
    ),
    Entry(
        K + "l1_subgradient_step",
        samples=(
            Sample(
                {
                    "params": np.array([0.0, 1.0, -2.0]),
                    "grads": np.array([0.5, 0.5, 0.5]),
                    "lr": 0.1,
                    "lam": 1.0,
                },
                check=_close(np.array([-0.05, 0.85, -1.95])),
                note="sign(0) = 0",
            ),
        ),
        errors=(
            ErrorSample({"params": P, "grads": G, "lr": 0.1, "lam": -1.0}, ValueError, "lam"),
            ErrorSample({"params": P, "grads": G, "lr": -0.1, "lam": 1.0}, ValueError, "lr"),
            ErrorSample({"params": P, "grads": G.T, "lr": 0.1, "lam": 1.0}, ValueError, "grads"),
        ),
        domains={"lr": nonneg_float, "lam": nonneg_float},
    ),
    Entry(
        K + "ista_step",
        samples=(
            Sample(
                {
                    "params": np.array([0.0, 1.0, -2.0]),
                    "grads": np.array([0.5, 0.5, 0.5]),
                    "lr": 0.1,
                    "lam": 1.0,
                },
                check=_close(np.array([0.0, 0.85, -1.95])),
                note="exact zero",
            ),
        ),
        errors=(
            ErrorSample({"params": P, "grads": G, "lr": 0.1, "lam": -1.0}, ValueError, "lam"),
            ErrorSample({"params": P, "grads": G, "lr": -0.1, "lam": 1.0}, ValueError, "lr"),
        ),
        domains={"lr": nonneg_float, "lam": nonneg_float},
    ),
    _sgd_entry("sgd_step", _sgd_check),
    _sgd_entry("sgdw_step", lambda m: _close((1 - 0.05 * 0.1) * P - 0.05 * G)),
    _adam_entry("adam_step", torch.optim.Adam),
    _adam_entry("adamw_step", torch.optim.AdamW),
    Entry(
        K + "loss_and_grad",
        samples=(
            Sample(
                {"theta": T, "X": X, "y": Y, "model": "linear", "reduction": "sum"},
                check=lambda r: (
                    np.allclose(r[1], X.T @ (X @ T - Y))
                    and np.isclose(r[0], 0.5 * np.sum((X @ T - Y) ** 2))
                ),
            ),
            Sample({"theta": T, "X": X, "y": YB, "model": "logistic", "reduction": "mean"}),
        ),
        errors=(
            ErrorSample({"theta": T[:1], "X": X, "y": Y}, ValueError, r"theta must have shape"),
            ErrorSample({"theta": T, "X": X, "y": Y[:3]}, ValueError, r"y must have shape"),
            ErrorSample({"theta": T, "X": X, "y": Y, "model": "logistic"}, ValueError, "y must"),
            ErrorSample({"theta": T, "X": X, "y": Y, "model": "ridge"}, ValueError, "model"),
            ErrorSample({"theta": T, "X": X, "y": Y, "reduction": "none"}, ValueError, "reduc"),
        ),
        domains={"model": one_of("linear", "logistic"), "reduction": one_of("mean", "sum")},
    ),
    Entry(
        K + "per_example_gradients",
        samples=(
            Sample(
                {"theta": T, "X": X, "y": Y, "model": "linear"},
                check=_close((X @ T - Y)[:, None] * X),
            ),
            Sample({"theta": T, "X": X, "y": YB, "model": "logistic"}),
        ),
        errors=(ErrorSample({"theta": T, "X": X[0], "y": Y}, ValueError, r"X must have ndim"),),
        domains={"model": one_of("linear", "logistic")},
    ),
    Entry(
        K + "minibatch_indices",
        samples=(
            Sample(
                {"n": 6, "batch_size": 4, "generator": R(), "replace": False},
                check=lambda r: len(set(r.tolist())) == 4 and r.min() >= 0 and r.max() < 6,
            ),
            Sample(
                {"n": 3, "batch_size": 7, "generator": R(), "replace": True},
                check=lambda r: r.shape == (7,) and r.min() >= 0 and r.max() < 3,
            ),
        ),
        errors=(
            ErrorSample(
                {"n": 3, "batch_size": 4, "generator": R(), "replace": False},
                ValueError,
                r"batch_size must be <= n",
            ),
            ErrorSample({"n": 3, "batch_size": 2, "generator": 0}, TypeError, "generator"),
            ErrorSample({"n": 0, "batch_size": 1, "generator": R()}, ValueError, "n must"),
        ),
        domains={"n": positive_int, "batch_size": positive_int, "replace": boolean},
        result="count",
    ),
    Entry(
        K + "run",
        samples=(
            Sample(
                {"X": X, "y": Y, "theta0": T, "lr": 0.1, "steps": 5},
                check=lambda r: r[1].shape == (6,) and np.all(np.diff(r[1]) <= 0),
            ),
            Sample(
                {
                    "X": X,
                    "y": Y,
                    "theta0": T,
                    "lr": 0.1,
                    "steps": 5,
                    "algorithm": "sgd",
                    "penalty": "l2",
                    "lam": 0.1,
                    "batch_size": 2,
                    "replace": True,
                    "generator": R(),
                    "reduction": "mean",
                    "model": "linear",
                },
            ),
            Sample(
                {
                    "X": X,
                    "y": YB,
                    "theta0": T,
                    "lr": 0.1,
                    "steps": 5,
                    "algorithm": "ista",
                    "penalty": "l1",
                    "lam": 0.1,
                    "model": "logistic",
                    "reduction": "sum",
                },
            ),
            Sample(
                {
                    "X": X,
                    "y": Y,
                    "theta0": T,
                    "lr": 0.01,
                    "steps": 3,
                    "algorithm": "subgradient",
                    "penalty": "l1",
                    "lam": 0.5,
                    "batch_size": 6,
                    "generator": R(),
                    "replace": False,
                },
            ),
        ),
        errors=(
            ErrorSample({"X": X, "y": Y, "theta0": T, "lr": -1.0, "steps": 2}, ValueError, "lr"),
            ErrorSample(
                {"X": X, "y": Y, "theta0": T, "lr": 0.1, "steps": 2, "lam": -1.0},
                ValueError,
                "lam",
            ),
            ErrorSample(
                {
                    "X": X,
                    "y": Y,
                    "theta0": T,
                    "lr": 0.1,
                    "steps": 2,
                    "algorithm": "sgd",
                    "batch_size": 7,
                    "generator": R(),
                },
                ValueError,
                r"batch_size must be <= N",
            ),
            ErrorSample(
                {"X": X, "y": Y, "theta0": T, "lr": 0.1, "steps": 2, "algorithm": "sgd"},
                ValueError,
                r"batch_size must be",
            ),
            ErrorSample(
                {"X": X, "y": Y, "theta0": T, "lr": 0.1, "steps": 2, "algorithm": "ista"},
                ValueError,
                r"penalty must be 'l1'",
            ),
            ErrorSample(
                {"X": X, "y": Y, "theta0": T, "lr": 0.1, "steps": 10**6}, ValueError, "steps"
            ),
            ErrorSample(
                {"X": X, "y": Y, "theta0": T, "lr": 100.0, "steps": 200}, ValueError, "diverged"
            ),
            ErrorSample(
                {"X": X, "y": Y, "theta0": T[:1], "lr": 0.1, "steps": 2}, ValueError, "theta0"
            ),
        ),
        domains={
            "steps": nonneg_int,
            "replace": boolean,
            "lr": nonneg_float,
            "lam": nonneg_float,
            "model": one_of("linear", "logistic"),
            "reduction": one_of("mean", "sum"),
        },
        time_limit=10.0,
    ),
]
