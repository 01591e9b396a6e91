"""Bad-input entries for :mod:`kernels.cpu.norm` (torch's ``F.*_norm`` signatures)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np

from tests.badinput.table import Entry, ErrorSample, Sample, boolean

_RNG = np.random.default_rng(1)
X = _RNG.standard_normal((4, 6, 5)) * 2 + 1  # (N, C, L)
W, B = _RNG.standard_normal(6), _RNG.standard_normal(6)
RM, RV = _RNG.standard_normal(6), _RNG.uniform(0.5, 2.0, 6)
LW, LB = _RNG.standard_normal((6, 5)), _RNG.standard_normal((6, 5))
G = _RNG.standard_normal(X.shape)
K = "kernels.cpu.norm."


def finite_float(v) -> bool:
    """A finite real number, also a Python int beyond int64 (``table.finite_float`` raises
    TypeError from ``np.isfinite`` there)."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _normalized(axes):
    """Without affine parameters: mean 0 and variance var/(var + eps) over ``axes``."""

    def check(y):
        assert np.allclose(y.mean(axis=axes), 0, atol=1e-12)
        assert (y.var(axis=axes) < 1).all()

    return check


def _eval_value(y):
    expected = (X - RM[:, None]) / np.sqrt(RV[:, None] + 1e-5) * W[:, None] + B[:, None]
    assert np.allclose(y, expected, rtol=1e-12, atol=1e-12)


def _errors(base: dict) -> tuple[ErrorSample, ...]:
    return (
        ErrorSample({**base, "eps": float("inf")}, ValueError, "eps"),
        ErrorSample({**base, "eps": "1e-5"}, TypeError, "eps"),
        ErrorSample({**base, "x": X.astype(np.int64)}, TypeError, "x"),
        ErrorSample({**base, "weight": np.ones(5)}, ValueError, "weight"),
    )


BATCH = {
    "x": X,
    "running_mean": None,
    "running_var": None,
    "weight": W,
    "bias": B,
    "training": True,
    "momentum": 0.1,
    "eps": 1e-5,
}
BATCH_EVAL = {**BATCH, "running_mean": RM, "running_var": RV, "training": False}
INST = {
    "x": X,
    "running_mean": None,
    "running_var": None,
    "weight": W,
    "bias": B,
    "use_input_stats": True,
    "momentum": 0.1,
    "eps": 1e-5,
}
INST_EVAL = {**INST, "running_mean": RM, "running_var": RV, "use_input_stats": False}
LAYER = {"x": X, "normalized_shape": (6, 5), "weight": LW, "bias": LB, "eps": 1e-5}
GROUP = {"x": X, "num_groups": 3, "weight": W, "bias": B, "eps": 1e-5}

BATCH_ERRORS = (
    *_errors(BATCH),
    ErrorSample({**BATCH, "eps": 0.0}, ValueError, "eps", note="torch: eps > 0 in training"),
    ErrorSample({**BATCH, "training": "False"}, TypeError, "training"),
    ErrorSample({**BATCH_EVAL, "running_var": None}, ValueError, "running_var"),
    ErrorSample({**BATCH, "x": np.ones((1, 6))}, ValueError, "x"),
    ErrorSample({**BATCH, "momentum": float("nan")}, ValueError, "momentum"),
)
INST_ERRORS = (
    *_errors(INST),
    ErrorSample({**INST, "x": np.ones((4, 6, 3)), "eps": 0.0}, ValueError, "eps"),
    ErrorSample({**INST, "use_input_stats": 1}, TypeError, "use_input_stats"),
    ErrorSample({**INST, "x": X[..., :1]}, ValueError, "x"),
)
LAYER_ERRORS = (
    *_errors({**LAYER, "weight": None}),
    ErrorSample({**LAYER, "normalized_shape": (5, 6)}, ValueError, "normalized_shape"),
    ErrorSample({**LAYER, "normalized_shape": "5"}, TypeError, "normalized_shape"),
)
GROUP_ERRORS = (
    *_errors(GROUP),
    ErrorSample({**GROUP, "num_groups": 4}, ValueError, "num_groups"),
    ErrorSample({**GROUP, "num_groups": 2.0}, TypeError, "num_groups"),
)

ENTRIES = [
    Entry(
        K + "batch_norm",
        samples=(
            Sample(BATCH),
            Sample({**BATCH, "weight": None, "bias": None}, check=_normalized((0, 2))),
            Sample(BATCH_EVAL, check=_eval_value),
            Sample({**BATCH, "x": X[:0]}, check=lambda y: y.shape == (0, 6, 5)),
        ),
        errors=BATCH_ERRORS,
        domains={"training": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "batch_norm_backward",
        samples=(Sample({"grad_out": G, **BATCH}), Sample({"grad_out": G, **BATCH_EVAL})),
        errors=(ErrorSample({"grad_out": G[:1], **BATCH}, ValueError, "grad_out"),),
        domains={"training": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "instance_norm",
        samples=(
            Sample(INST),
            Sample({**INST, "weight": None, "bias": None}, check=_normalized(2)),
            Sample(INST_EVAL, check=_eval_value),
        ),
        errors=INST_ERRORS,
        domains={"use_input_stats": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "instance_norm_backward",
        samples=(Sample({"grad_out": G, **INST}), Sample({"grad_out": G, **INST_EVAL})),
        errors=(ErrorSample({"grad_out": G[:1], **INST}, ValueError, "grad_out"),),
        domains={"use_input_stats": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "layer_norm",
        samples=(
            Sample(LAYER),
            Sample({**LAYER, "weight": None, "bias": None}, check=_normalized((1, 2))),
            Sample({**LAYER, "normalized_shape": 5, "weight": LW[0], "bias": LB[0]}),
        ),
        errors=LAYER_ERRORS,
    ),
    Entry(
        K + "layer_norm_backward",
        samples=(Sample({"grad_out": G, **LAYER}),),
        errors=(ErrorSample({"grad_out": G[:1], **LAYER}, ValueError, "grad_out"),),
    ),
    Entry(
        K + "group_norm",
        samples=(
            Sample(GROUP),
            Sample(
                {**GROUP, "num_groups": 1, "weight": None, "bias": None}, check=_normalized((1, 2))
            ),
        ),
        errors=GROUP_ERRORS,
    ),
    Entry(
        K + "group_norm_backward",
        samples=(Sample({"grad_out": G, **GROUP}),),
        errors=(ErrorSample({"grad_out": G[:1], **GROUP}, ValueError, "grad_out"),),
    ),
]


# RMSNorm (torch's F.rms_norm signature: no bias, eps=None means finfo(dtype).eps).
RMS = {"x": X, "normalized_shape": (6, 5), "weight": LW, "eps": None}


def _unit_mean_square(y):
    """Without weight and eps -> 0: mean square 1 over each set, mean not 0 (no centring)."""
    assert np.allclose((y**2).mean(axis=(1, 2)), 1, rtol=1e-6)
    assert np.abs(y.mean(axis=(1, 2))).max() > 0.1


def _rms_eps(v) -> bool:
    return v is None or finite_float(v)


ENTRIES += [
    Entry(
        K + "rms_norm",
        samples=(
            Sample(RMS),
            Sample({**RMS, "weight": None, "eps": 1e-300}, check=_unit_mean_square),
            Sample({**RMS, "normalized_shape": 5, "weight": LW[0], "eps": 1e-5}),
            Sample({**RMS, "x": X[:0]}, check=lambda y: y.shape == (0, 6, 5)),
        ),
        errors=(
            ErrorSample({**RMS, "eps": float("inf")}, ValueError, "eps"),
            ErrorSample({**RMS, "eps": "1e-5"}, TypeError, "eps"),
            ErrorSample({**RMS, "x": X.astype(np.int64)}, TypeError, "x"),
            ErrorSample({**RMS, "weight": np.ones(5)}, ValueError, "weight"),
            ErrorSample(
                {**RMS, "x": np.zeros((2, 3)), "normalized_shape": 3, "weight": None, "eps": 0.0},
                ValueError,
                "^eps",
            ),
            ErrorSample({**RMS, "normalized_shape": (5, 6)}, ValueError, "normalized_shape"),
        ),
        domains={"eps": _rms_eps},
    ),
    Entry(
        K + "rms_norm_backward",
        samples=(Sample({"grad_out": G, **RMS}), Sample({"grad_out": G, **RMS, "weight": None})),
        errors=(ErrorSample({"grad_out": G[:1], **RMS}, ValueError, "grad_out"),),
        domains={"eps": _rms_eps},
    ),
]


# Outside-fuzz findings (FUZZ_FINDINGS.md 15, 16): np.matrix parameters are refused by name;
# a negative running_var (reachable with torch's unchecked momentum, e.g. 2.0) is blamed on
# running_var in eval mode, not on eps.
def _matrix(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # numpy discourages np.matrix: that is the point
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(a)


_NEGATIVE_RV = -np.abs(RV)
_FINDINGS = {
    K + "layer_norm": (
        ErrorSample({**LAYER, "weight": _matrix(LW)}, TypeError, "weight.*subclass"),
        ErrorSample({**LAYER, "bias": _matrix(LB)}, TypeError, "bias.*subclass"),
    ),
    K + "layer_norm_backward": (
        ErrorSample({"grad_out": G, **LAYER, "weight": _matrix(LW)}, TypeError, "weight.*subclass"),
    ),
    K + "batch_norm": (
        ErrorSample(
            {**BATCH_EVAL, "running_var": _NEGATIVE_RV}, ValueError, "^running_var:.*negative"
        ),
    ),
    K + "batch_norm_backward": (
        ErrorSample(
            {"grad_out": G, **BATCH_EVAL, "running_var": _NEGATIVE_RV},
            ValueError,
            "^running_var:.*negative",
        ),
    ),
    K + "instance_norm": (
        ErrorSample(
            {**INST_EVAL, "running_var": _NEGATIVE_RV}, ValueError, "^running_var:.*negative"
        ),
    ),
    K + "instance_norm_backward": (
        ErrorSample(
            {"grad_out": G, **INST_EVAL, "running_var": _NEGATIVE_RV},
            ValueError,
            "^running_var:.*negative",
        ),
    ),
}
assert set(_FINDINGS) <= {e.target for e in ENTRIES}
ENTRIES = [replace(e, errors=e.errors + _FINDINGS.get(e.target, ())) for e in ENTRIES]
