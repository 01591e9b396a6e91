"""Bad-input entries for the checking machinery: :mod:`numerics.gradcheck`,
:mod:`numerics.tolerances`, :mod:`numerics.stats` and :mod:`numerics.opcount`.

The two assertion helpers (``assert_close``, ``assert_grad_close``) answer with
``AssertionError`` when the values differ — their *result*. Their entries therefore call them
through :func:`_outcome`, which turns a pass into ``"pass"`` and an ``AssertionError`` into
``"fail"``; arguments of the wrong kind or value must still raise ``TypeError``/``ValueError``
naming the argument, and an equivalent spelling (a Fortran, strided, flipped or read-only copy)
must give the same outcome.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from numerics.gradcheck import assert_grad_close
from numerics.tolerances import TF32_EPS, Tolerance, assert_close, assert_gpu_close
from tests.badinput.table import Entry, ErrorSample, Sample, boolean, positive_int


def _outcome(fn: Callable[..., None]) -> Callable[..., str]:
    def call(*args: Any, **kwargs: Any) -> str:
        try:
            fn(*args, **kwargs)
        except AssertionError:
            return "fail"
        return "pass"

    return call


def _real_in(lo: float, hi: float, *, closed_lo: bool = False) -> Callable[[Any], bool]:
    """A real number (NumPy/SymPy numbers too, not bools) in (lo, hi) or [lo, hi)."""

    def pred(v: Any) -> bool:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
            return False
        x = float(v)
        return math.isfinite(x) and (lo <= x if closed_lo else lo < x) and x < hi

    return pred


def _equals(expected: Any) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert result == expected, (result, expected)

    return check


def _close(expected: Any, rel: float = 1e-12) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        np.testing.assert_allclose(result, expected, rtol=rel, atol=0)

    return check


_POSITIVE = _real_in(0, math.inf)
"""A finite real > 0; unlike ``table.positive_float`` it takes SymPy numbers and big ints."""

_rng = np.random.default_rng(7)
X = _rng.uniform(-1, 1, (2, 3))
G = _rng.standard_normal((2, 3))
E = np.array([1.0, -2.0, 3.5])
T32 = torch.tensor(E, dtype=torch.float32)
T16 = torch.tensor(E, dtype=torch.float16)
A = _rng.standard_normal((2, 3))
B = _rng.standard_normal((3, 4))


def _sin2(v: np.ndarray) -> np.ndarray:
    return 2 * np.sin(v)


ENTRIES = [
    # ------------------------------------------------------------------ numerics.gradcheck
    Entry(
        "numerics.gradcheck.central_difference",
        samples=(
            Sample(
                {"f": _sin2, "x": X, "upstream": G},
                check=lambda r: np.testing.assert_allclose(r, 2 * np.cos(X) * G, atol=1e-8),
            ),
            Sample(
                {"f": lambda v: v.sum(axis=0), "x": X, "upstream": np.array([1.0, 2.0, 3.0])},
                check=lambda r: np.testing.assert_allclose(r, [[1, 2, 3], [1, 2, 3]], 1e-8),
            ),
        ),
        errors=(
            ErrorSample({"f": 3, "x": X, "upstream": G}, TypeError, r"\bf\b"),
            ErrorSample({"f": _sin2, "x": X.astype(np.float32), "upstream": G}, TypeError, "x"),
            ErrorSample({"f": _sin2, "x": X + 1j, "upstream": G}, TypeError, "x"),
            ErrorSample({"f": _sin2, "x": X * np.nan, "upstream": G}, ValueError, "x"),
            ErrorSample({"f": _sin2, "x": X, "upstream": G[:1]}, ValueError, "upstream"),
            ErrorSample({"f": _sin2, "x": X, "upstream": G.astype(int)}, TypeError, "upstream"),
            ErrorSample(
                {"f": lambda v: v.astype(np.float32), "x": X, "upstream": G}, TypeError, r"\bf\b"
            ),
            ErrorSample({"f": lambda v: v * np.inf, "x": X, "upstream": G}, ValueError, r"\bf\b"),
            ErrorSample(
                {"f": _sin2, "x": np.zeros(2**16 + 1), "upstream": np.zeros(2**16 + 1)},
                ValueError,
                "x",
            ),
        ),
        note="the fuzz also feeds x and upstream in Fortran, strided, flipped, read-only form",
    ),
    Entry(
        "numerics.gradcheck.assert_grad_close",
        make=lambda: _outcome(assert_grad_close),
        result="any",
        samples=(
            Sample({"actual": E, "expected": E, "context": "c"}, check=_equals("pass")),
            Sample({"actual": E + 1e-5 + 1e-3 * 3.6, "expected": E}, check=_equals("fail")),
            Sample({"actual": E, "expected": E + 1e-6}, check=_equals("pass")),
        ),
        errors=(
            ErrorSample({"actual": E + 1j, "expected": E}, TypeError, "actual"),
            ErrorSample({"actual": E, "expected": E + 1j}, TypeError, "expected"),
            ErrorSample({"actual": E > 0, "expected": E}, TypeError, "actual"),
            ErrorSample({"actual": E.astype(object), "expected": E}, TypeError, "actual"),
            ErrorSample({"actual": E, "expected": E, "context": 1}, TypeError, "context"),
        ),
        note="AssertionError is the answer 'fail' (see the module docstring)",
    ),
    # ------------------------------------------------------------------ numerics.tolerances
    Entry(
        "numerics.tolerances.Tolerance",
        samples=(
            Sample({"rtol": 1e-7, "atol": 1e-7}, check=lambda t: (t.rtol, t.atol) == (1e-7, 1e-7)),
            Sample({"rtol": 0, "atol": 2}, check=lambda t: isinstance(t.atol, float)),
        ),
        errors=(
            ErrorSample({"rtol": -1e-7, "atol": 1e-7}, ValueError, "rtol"),
            ErrorSample({"rtol": 1e-7, "atol": float("nan")}, ValueError, "atol"),
            ErrorSample({"rtol": "1e-7", "atol": 1e-7}, TypeError, "rtol"),
            ErrorSample({"rtol": 1e-7, "atol": True}, TypeError, "atol"),
        ),
        domains={"rtol": _real_in(0, math.inf, closed_lo=True)},
    ),
    Entry(
        "numerics.tolerances.GPUError",
        samples=(
            Sample(
                {"kernel": 1e-7, "torch": 1e-7, "bound": 3e-7},
                check=lambda r: (r.kernel, r.torch, r.bound) == (1e-7, 1e-7, 3e-7),
            ),
            Sample({"kernel": 0, "torch": 0, "bound": 0}, check=lambda r: r.bound == 0.0),
        ),
        errors=(
            ErrorSample({"kernel": -1.0, "torch": 0.0, "bound": 0.0}, ValueError, "kernel"),
            ErrorSample({"kernel": 0.0, "torch": math.nan, "bound": 0.0}, ValueError, "torch"),
            ErrorSample({"kernel": 0.0, "torch": 0.0, "bound": "1"}, TypeError, "bound"),
        ),
        domains={"bound": _real_in(0, math.inf, closed_lo=True)},
    ),
    Entry(
        "numerics.tolerances.tolerance",
        samples=(
            Sample({"dtype": np.float64}, check=_equals(Tolerance(1e-7, 1e-7))),
            Sample({"dtype": "float32"}, check=_equals(Tolerance(1.3e-6, 1e-5))),
            Sample({"dtype": np.dtype(np.float32)}, check=_equals(Tolerance(1.3e-6, 1e-5))),
        ),
        errors=(
            ErrorSample({"dtype": np.float16}, ValueError, "dtype"),
            ErrorSample({"dtype": np.int64}, ValueError, "dtype"),
            ErrorSample({"dtype": None}, TypeError, "dtype"),
            ErrorSample({"dtype": "nonsense"}, ValueError, "dtype"),
        ),
        bad_values={"dtype": (np.complex128, np.bool_, "int8", float, object)},
    ),
    Entry(
        "numerics.tolerances.reduction_bound",
        samples=(
            Sample(
                {"dtype": np.float64, "reduction_length": 1000, "magnitude": 3.0},
                check=_close(2 * 1000 * 2.0**-53 / (1 - 1000 * 2.0**-53) * 3.0),
            ),
            Sample(
                {"dtype": np.float32, "reduction_length": 10, "magnitude": np.array([0.0, 2.0])},
                check=_close(2 * 10 * 2.0**-24 / (1 - 10 * 2.0**-24) * np.array([0.0, 2.0])),
            ),
        ),
        errors=(
            ErrorSample(
                {"dtype": np.float32, "reduction_length": 2**24, "magnitude": 1.0},
                ValueError,
                "reduction_length",
            ),
            ErrorSample(
                {"dtype": np.float64, "reduction_length": 0, "magnitude": 1.0},
                ValueError,
                "reduction_length",
            ),
            ErrorSample(
                {"dtype": np.float64, "reduction_length": 3, "magnitude": -1.0},
                ValueError,
                "magnitude",
            ),
            ErrorSample(
                {"dtype": np.int32, "reduction_length": 3, "magnitude": 1.0}, ValueError, "dtype"
            ),
        ),
        domains={"reduction_length": positive_int},
    ),
    Entry(
        "numerics.tolerances.assert_close",
        make=lambda: _outcome(assert_close),
        result="any",
        samples=(
            Sample({"actual": E, "expected": E, "dtype": np.float64}, check=_equals("pass")),
            Sample(
                {"actual": E + 1e-6, "expected": E, "dtype": np.float64, "context": "c"},
                check=_equals("fail"),
            ),
            Sample(
                {
                    "actual": E + 1e-6,
                    "expected": E,
                    "dtype": np.float32,
                    "reduction_length": 4,
                    "magnitude": np.abs(E),
                },
                check=_equals("pass"),
            ),
        ),
        errors=(
            ErrorSample(
                {"actual": E + 1j, "expected": E, "dtype": np.float64}, TypeError, "actual"
            ),
            ErrorSample(
                {"actual": E, "expected": E + 1j, "dtype": np.float64}, TypeError, "expected"
            ),
            ErrorSample({"actual": E, "expected": E, "dtype": np.float16}, ValueError, "dtype"),
            ErrorSample({"actual": E, "expected": E, "dtype": None}, TypeError, "dtype"),
            ErrorSample(
                {"actual": E, "expected": E, "dtype": np.float64, "reduction_length": 3},
                ValueError,
                "magnitude",
            ),
            ErrorSample(
                {"actual": E.astype(int), "expected": E, "dtype": np.float64}, TypeError, "actual"
            ),
        ),
        domains={"reduction_length": positive_int},
        note="AssertionError is the answer 'fail' (see the module docstring)",
    ),
    Entry(
        "numerics.tolerances.assert_gpu_close",
        make=lambda: _outcome(assert_gpu_close),
        result="any",
        samples=(
            Sample(
                {"actual": T32, "expected": E, "torch_result": T32},
                check=lambda r: r == "pass",
            ),
            Sample(
                {"actual": T32 + 1e-3, "expected": E, "torch_result": T32, "context": "c"},
                check=_equals("fail"),
            ),
            Sample(
                {
                    "actual": T32 + 1e-3,
                    "expected": E,
                    "torch_result": T32,
                    "factor": 2.0,
                    "slack": TF32_EPS,
                },
                check=_equals("pass"),
            ),
            Sample(
                {
                    "actual": E.astype(np.float32),
                    "expected": E,
                    "torch_result": E.astype(np.float32),
                },
                check=_equals("pass"),
            ),
        ),
        errors=(
            ErrorSample(
                {"actual": T32, "expected": E, "torch_result": T16}, TypeError, "same dtype"
            ),
            ErrorSample(
                {"actual": T32, "expected": E, "torch_result": T32, "factor": 0.5},
                ValueError,
                "factor",
            ),
            ErrorSample(
                {"actual": T32, "expected": E, "torch_result": T32, "slack": math.nan},
                ValueError,
                "slack",
            ),
            ErrorSample(
                {"actual": T32.int(), "expected": E, "torch_result": T32}, TypeError, "actual"
            ),
            ErrorSample(
                {"actual": T32, "expected": E + 1j, "torch_result": T32}, TypeError, "expected"
            ),
            # randomized-fuzz finding: a meta tensor has no values to compare
            ErrorSample(
                {"actual": T32.to("meta"), "expected": E, "torch_result": T32}, TypeError, "actual"
            ),
        ),
        domains={"factor": lambda v: _real_in(1, math.inf, closed_lo=True)(v)},
        note="AssertionError is the answer 'fail' (see the module docstring)",
    ),
    # ------------------------------------------------------------------ numerics.stats
    Entry(
        "numerics.stats.hoeffding_halfwidth",
        samples=(
            Sample(
                {"n": 1000, "width": 2.0, "alpha": 1e-6},
                check=_close(2.0 * math.sqrt(math.log(2e6) / 2000)),
            ),
            Sample({"n": 1, "width": 0.5}),
            # fuzz finding: 2 / 1e-320 overflows, ln 2 - ln(1e-320) does not
            Sample(
                {"n": 10, "width": 1.0, "alpha": 1e-320},
                check=_close(math.sqrt((math.log(2) - math.log(1e-320)) / 20)),
            ),
        ),
        errors=(
            ErrorSample({"n": 0, "width": 1.0}, ValueError, r"\bn\b"),
            ErrorSample({"n": 10, "width": 0.0}, ValueError, "width"),
            ErrorSample({"n": 10, "width": 1.0, "alpha": 0.0}, ValueError, "alpha"),
        ),
        domains={"n": positive_int, "width": _POSITIVE, "alpha": _real_in(0, 1)},
    ),
    Entry(
        "numerics.stats.chi2_interval",
        samples=(
            Sample(
                {"k": 100, "alpha": 1e-6},
                check=lambda r: np.testing.assert_allclose(
                    r,
                    (
                        100 - 2 * math.sqrt(100 * math.log(2e6)),
                        100 + 2 * math.sqrt(100 * math.log(2e6)) + 2 * math.log(2e6),
                    ),
                    rtol=1e-12,
                ),
            ),
            Sample({"k": 1}),
            Sample(
                {"k": 3, "alpha": 1e-320},
                check=lambda r: np.testing.assert_allclose(
                    r[1],
                    3
                    + 2 * math.sqrt(3 * (math.log(2) - math.log(1e-320)))
                    + 2 * (math.log(2) - math.log(1e-320)),
                    rtol=1e-12,
                ),
            ),
        ),
        errors=(
            ErrorSample({"k": 0}, ValueError, r"\bk\b"),
            ErrorSample({"k": 3.0}, TypeError, r"\bk\b"),
            ErrorSample({"k": 3, "alpha": 2}, ValueError, "alpha"),
        ),
        domains={"k": positive_int, "alpha": _real_in(0, 1)},
    ),
    Entry(
        "numerics.stats.gaussian_lipschitz_halfwidth",
        samples=(
            Sample(
                {"n": 50, "lipschitz": 1.5, "sigma": 2.0, "alpha": 1e-3},
                check=_close(3.0 * math.sqrt(2 * math.log(2e3) / 50)),
            ),
            Sample(
                {"n": 10, "lipschitz": 1.0, "sigma": 1.0, "alpha": 1e-320},
                check=_close(math.sqrt(2 * (math.log(2) - math.log(1e-320)) / 10)),
            ),
        ),
        errors=(
            ErrorSample({"n": 50, "lipschitz": -1.0, "sigma": 2.0}, ValueError, "lipschitz"),
            ErrorSample({"n": 50, "lipschitz": 1.0, "sigma": "2"}, TypeError, "sigma"),
        ),
        domains={
            "n": positive_int,
            "lipschitz": _POSITIVE,
            "sigma": _POSITIVE,
            "alpha": _real_in(0, 1),
        },
    ),
    Entry(
        "numerics.stats.relu_second_moment_interval",
        samples=(
            Sample(
                {"n": 10_000, "sigma": 1.0, "alpha": 1e-6},
                check=lambda r: r[0] < 0.5 < r[1],
            ),
            Sample({"n": 1, "sigma": 0.5}, check=lambda r: r[0] == 0.0 < r[1]),
            Sample(
                {"n": 10, "sigma": 1.0, "alpha": 5e-324},
                check=lambda r: r[0] == 0.0 < r[1] < math.inf,
            ),
        ),
        errors=(
            ErrorSample({"n": 0, "sigma": 1.0}, ValueError, r"\bn\b"),
            ErrorSample({"n": 10, "sigma": 0.0}, ValueError, "sigma"),
            ErrorSample({"n": 10, "sigma": 1e200}, ValueError, "sigma"),
        ),
        domains={"n": positive_int, "sigma": _POSITIVE, "alpha": _real_in(0, 1)},
    ),
    # ------------------------------------------------------------------ numerics.opcount
    Entry(
        "numerics.opcount.MacCounter",
        samples=(Sample({}, check=lambda c: (c.macs, c.adds) == (0, 0)),),
        fuzz=False,
        note="takes no arguments (its use is tested in tests/test_checker.py)",
    ),
    Entry(
        "numerics.opcount.einsum_macs",
        result="count",
        samples=(
            Sample({"subscripts": "ab,bc->ac", "a": A, "b": B}, check=_equals(24)),
            Sample({"subscripts": "ab,ab->", "a": A, "b": A[:1]}, check=_equals(6)),
        ),
        errors=(
            ErrorSample({"subscripts": "ab,bc", "a": A, "b": B}, ValueError, "subscripts"),
            ErrorSample({"subscripts": "ab,bc->ac", "a": A, "b": B.T}, ValueError, r"\bb\b"),
            ErrorSample({"subscripts": "abc,bc->ac", "a": A, "b": B}, ValueError, r"\ba\b"),
            ErrorSample({"subscripts": "ab,bc->ac", "a": A.tolist(), "b": B}, TypeError, "a"),
        ),
    ),
    Entry(
        "numerics.opcount.counted_einsum",
        samples=(
            Sample(
                {"subscripts": "ab,bc->ac", "a": A, "b": B, "optimize": True},
                check=_close(A @ B),
            ),
            Sample({"subscripts": "ab,bc->ca", "a": A, "b": B, "optimize": False}),
        ),
        errors=(
            ErrorSample(
                {"subscripts": "ab,bc->ac", "a": A, "b": B, "optimize": "greedy"},
                TypeError,
                "optimize",
            ),
            ErrorSample({"subscripts": "...,bc->ac", "a": A, "b": B}, ValueError, "subscripts"),
        ),
        domains={"optimize": boolean},
    ),
    Entry(
        "numerics.opcount.matmul_macs",
        result="count",
        samples=(
            Sample({"a": A, "b": B}, check=_equals(24)),
            Sample({"a": np.ones((5, 2, 3)), "b": B}, check=_equals(120)),
            Sample({"a": np.ones(3), "b": B}, check=_equals(12)),
        ),
        errors=(
            ErrorSample({"a": A, "b": A}, ValueError, r"\bb\b"),
            ErrorSample({"a": np.float64(2.0), "b": B}, TypeError, r"\ba\b"),
            ErrorSample({"a": np.ones(()), "b": B}, ValueError, r"\ba\b"),
        ),
    ),
    Entry(
        "numerics.opcount.counted_matmul",
        samples=(Sample({"a": A, "b": B}, check=_close(A @ B)),),
        errors=(ErrorSample({"a": A, "b": A}, ValueError, r"\bb\b"),),
    ),
    Entry(
        "numerics.opcount.counted_add",
        result="any",
        samples=(
            Sample(
                {"out": A, "addend": np.array([1.0, 2.0, 3.0])},
                check=_close(A + np.array([1.0, 2.0, 3.0])),
            ),
            Sample({"out": A, "addend": 2.5}, check=_close(A + 2.5)),
        ),
        errors=(
            ErrorSample({"out": A, "addend": np.ones(4)}, ValueError, "addend"),
            ErrorSample({"out": A, "addend": np.ones((3, 2, 3))}, ValueError, "addend"),
            ErrorSample({"out": [1.0], "addend": 1.0}, TypeError, r"\bout\b"),
            ErrorSample({"out": A, "addend": "1"}, TypeError, "addend"),
        ),
        note="plain arithmetic inside kernels: a NaN/inf operand propagates as in NumPy and "
        "torch (a drop-in reference must reproduce torch there), hence result='any'",
    ),
]
