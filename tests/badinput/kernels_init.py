"""Bad-input entries for :mod:`kernels.cpu.init`: every initializer is compared with the
formula built from torch's own fans (``_calculate_fan_in_and_fan_out``) and gains
(``calculate_gain``), drawing from the same NumPy stream."""

from __future__ import annotations

import math

import numpy as np
import torch

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of

SEED = 5
DTYPE_BAD = {
    "dtype": (
        *(np.int64, "int32", np.float16, np.complex128, object, "float77", None),
        *(np.float64(0.0), np.float32(1.0), np.float64("nan"), np.zeros(2)),  # values (fuzz 17)
    ),
}
SHAPE_BAD = {"shape": ((3,), (3, 0), (2, -1), (2.0, 3), ("2", 3), 6, "23", (2**40, 2**40))}
RNG_BAD = {"rng": (np.random.RandomState(0), 0, np.random.default_rng)}


def _torch_fans(shape):
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape, device="meta"))


def _rng():
    return np.random.default_rng(SEED)


def _uniform(shape, a, dtype=np.float64):
    return _rng().uniform(-a, a, size=shape).astype(dtype)


def _normal(shape, std, dtype=np.float64):
    return (std * _rng().standard_normal(shape)).astype(dtype)


def _equals(expected):
    def check(r):
        assert r.dtype == expected.dtype and r.shape == expected.shape
        assert np.array_equal(r, expected)

    return check


S4 = (6, 4, 3, 2)
FI, FO = _torch_fans(S4)
LEAKY = torch.nn.init.calculate_gain("leaky_relu", 0.2)

ENTRIES = [
    Entry(
        "kernels.cpu.init.fans",
        samples=(
            Sample({"shape": S4}, check=lambda r: r == _torch_fans(S4)),
            Sample({"shape": (5, 7)}, check=lambda r: r == _torch_fans((5, 7))),
            Sample({"shape": (2, 3, 4, 5, 6)}, check=lambda r: r == _torch_fans((2, 3, 4, 5, 6))),
        ),
        errors=(
            ErrorSample({"shape": (5,)}, ValueError, "at least 2 dimensions, got shape"),
            ErrorSample({"shape": (0, 3)}, ValueError, "shape entries must be integers >= 1"),
            ErrorSample({"shape": (True, 3)}, TypeError, "shape entries must be integers"),
            ErrorSample({"shape": 3}, TypeError, "shape must be a sequence"),
        ),
        result="count",
        bad_values=SHAPE_BAD,
    ),
    Entry(
        "kernels.cpu.init.xavier_uniform",
        samples=(
            Sample(
                {"shape": S4, "rng": _rng(), "gain": 1.5, "dtype": np.float32},
                check=_equals(_uniform(S4, 1.5 * math.sqrt(6 / (FI + FO)), np.float32)),
            ),
        ),
        errors=(
            ErrorSample(
                {"shape": S4, "rng": _rng(), "dtype": np.int64},
                TypeError,
                "dtype must be float32 or float64",
            ),
            ErrorSample({"shape": S4, "rng": _rng(), "gain": float("nan")}, ValueError, "gain"),
            ErrorSample({"shape": S4, "rng": 0}, TypeError, "rng must be"),
            ErrorSample({"shape": (2**20, 2**20), "rng": _rng()}, ValueError, "shape"),
            # fuzz findings 3, 17: numpy's OverflowError; a NumPy scalar value taken as dtype
            ErrorSample({"shape": (3, 4), "rng": _rng(), "gain": 1e308}, ValueError, "gain"),
            ErrorSample(
                {"shape": S4, "rng": _rng(), "dtype": np.float64("nan")}, TypeError, "dtype"
            ),
            ErrorSample(
                {"shape": S4, "rng": _rng(), "gain": 1e300, "dtype": np.float32},
                ValueError,
                "gain",
            ),
        ),
        bad_values={**DTYPE_BAD, **SHAPE_BAD, **RNG_BAD},
    ),
    Entry(
        "kernels.cpu.init.xavier_normal",
        samples=(
            Sample(
                {"shape": S4, "rng": _rng(), "gain": 2.0, "dtype": np.float64},
                check=_equals(_normal(S4, 2.0 * math.sqrt(2 / (FI + FO)))),
            ),
        ),
        errors=(
            ErrorSample({"shape": S4, "rng": _rng(), "dtype": np.int32}, TypeError, "dtype"),
            ErrorSample({"shape": S4, "rng": _rng(), "gain": -1.0}, ValueError, "gain"),
            ErrorSample({"shape": S4, "rng": _rng(), "dtype": np.float64(0.0)}, TypeError, "dtype"),
            ErrorSample(
                {"shape": S4, "rng": _rng(), "gain": 1e300, "dtype": np.float32},
                ValueError,
                "gain",
            ),
        ),
        bad_values={**DTYPE_BAD, **SHAPE_BAD, **RNG_BAD},
    ),
    Entry(
        "kernels.cpu.init.he_uniform",
        samples=(
            Sample(
                {
                    "shape": S4,
                    "rng": _rng(),
                    "negative_slope": 0.2,
                    "mode": "fan_out",
                    "dtype": np.float64,
                },
                check=_equals(_uniform(S4, LEAKY * math.sqrt(3 / FO))),
            ),
        ),
        errors=(
            ErrorSample(
                {"shape": S4, "rng": _rng(), "negative_slope": float("nan")},
                ValueError,
                "negative_slope",
            ),
            ErrorSample({"shape": S4, "rng": _rng(), "mode": "fan_avg"}, ValueError, "mode"),
            ErrorSample({"shape": S4, "rng": _rng(), "dtype": np.float32(1.0)}, TypeError, "dtype"),
        ),
        domains={"mode": one_of("fan_in", "fan_out")},
        bad_values={**DTYPE_BAD, **SHAPE_BAD, **RNG_BAD},
    ),
    Entry(
        "kernels.cpu.init.he_normal",
        samples=(
            Sample(
                {
                    "shape": S4,
                    "rng": _rng(),
                    "negative_slope": 0.2,
                    "mode": "fan_in",
                    "dtype": np.float32,
                },
                check=_equals(_normal(S4, LEAKY / math.sqrt(FI), np.float32)),
            ),
        ),
        errors=(
            ErrorSample(
                {"shape": S4, "rng": _rng(), "negative_slope": float("nan")},
                ValueError,
                "negative_slope",
            ),
            ErrorSample({"shape": S4, "rng": _rng(), "dtype": np.int64}, TypeError, "dtype"),
            ErrorSample({"shape": S4, "rng": _rng(), "mode": None}, TypeError, "mode"),
            ErrorSample({"shape": S4, "rng": _rng(), "dtype": np.float64(0.0)}, TypeError, "dtype"),
        ),
        domains={"mode": one_of("fan_in", "fan_out")},
        bad_values={**DTYPE_BAD, **SHAPE_BAD, **RNG_BAD},
    ),
    Entry(
        "kernels.cpu.init.orthogonal",
        samples=(
            Sample(
                {
                    "shape": (3, 5),
                    "rng": _rng(),
                    "gain": 2.0,
                    "sign_fix": True,
                    "dtype": np.float64,
                },
                check=lambda r: np.allclose(r @ r.T, 4 * np.eye(3), atol=1e-12),
            ),
            Sample(
                {"shape": (4, 2, 1), "rng": _rng(), "gain": 1.0, "sign_fix": False},
                check=lambda r: np.allclose(r.reshape(4, 2).T @ r.reshape(4, 2), np.eye(2)),
            ),
        ),
        errors=(
            ErrorSample({"shape": (5,), "rng": _rng()}, ValueError, "at least 2 dimensions"),
            ErrorSample({"shape": S4, "rng": _rng(), "dtype": np.float64(0.0)}, TypeError, "dtype"),
            ErrorSample(
                {"shape": (3, 3), "rng": _rng(), "sign_fix": "False"}, TypeError, "sign_fix"
            ),
        ),
        domains={"sign_fix": boolean},
        bad_values={**DTYPE_BAD, **SHAPE_BAD, **RNG_BAD},
    ),
]


def _lsuv_x():
    return np.random.default_rng(1).standard_normal((16, 4))


def _lsuv_w():
    rng = np.random.default_rng(2)
    return [rng.standard_normal((5, 4)), rng.standard_normal((3, 5))]


def _lsuv_check(r):
    ws, iters = r
    h = _lsuv_x()
    for w in ws:
        pre = h @ w.T
        assert abs(float(np.var(pre)) - 1) < 1e-3
        h = np.tanh(pre)
    assert all(1 <= i <= 5 for i in iters)


ENTRIES.append(
    Entry(
        "kernels.cpu.init.lsuv",
        samples=(
            Sample(
                {
                    "weights": _lsuv_w(),
                    "x": _lsuv_x(),
                    "activation": np.tanh,
                    "tol": 1e-3,
                    "max_iter": 5,
                },
                check=_lsuv_check,
            ),
        ),
        errors=(
            ErrorSample(
                {"weights": [np.ones((2, 3))], "x": np.ones((4, 2)), "activation": np.tanh},
                ValueError,
                "weights\\[0\\] expects 3 inputs, x",
            ),
            ErrorSample(
                {"weights": [np.zeros((5, 4))], "x": _lsuv_x(), "activation": np.tanh},
                ValueError,
                "weights\\[0\\]",
            ),
            ErrorSample(
                {"weights": _lsuv_w(), "x": _lsuv_x(), "activation": np.tanh, "tol": float("inf")},
                ValueError,
                "tol",
            ),
            ErrorSample(
                {"weights": _lsuv_w(), "x": _lsuv_x(), "activation": np.tanh, "max_iter": 0},
                ValueError,
                "max_iter",
            ),
            ErrorSample(
                {"weights": _lsuv_w(), "x": _lsuv_x(), "activation": "tanh"},
                TypeError,
                "activation must be a callable",
            ),
            ErrorSample(
                {"weights": _lsuv_w(), "x": np.full((16, 4), np.nan), "activation": np.tanh},
                ValueError,
                "x must be finite",
            ),
            # fuzz finding 20: np.int32 as an activation truncated the signal to integers
            ErrorSample(
                {"weights": _lsuv_w(), "x": _lsuv_x(), "activation": np.int32},
                TypeError,
                "activation",
            ),
        ),
        bad_values={
            "weights": (
                [np.ones((5, 3))],
                [np.full((5, 4), np.nan)],
                [np.zeros((5, 4))],
                [np.ones((5, 4), np.float32)],
                "w",
                [None],
            ),
            "activation": (
                lambda z: z[:1],
                lambda z: z * np.nan,
                lambda z: "x",
                len,
                np.int32,
                lambda z: z.astype(np.float32),
                lambda z: z > 0,
            ),
            "max_iter": (10**7, 2.0),
            "tol": (-1e-3, 1e-400),
        },
    )
)
