"""Bad-input entries for :mod:`theory.normalization`."""

from __future__ import annotations

import numbers

import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of
from theory import normalization as th

T = "theory.normalization."
SHAPE = (8, 32, 7, 7)


def _proof_range(v) -> bool:
    """``max_m``: an int in [1, MAX_PROVED_M]."""
    return (
        isinstance(v, numbers.Integral)
        and not isinstance(v, bool)
        and 1 <= int(v) <= th.MAX_PROVED_M
    )


def _agrees(d) -> None:
    assert d.agrees(), d.title


def _no_args(name: str) -> Entry:
    return Entry(
        T + name,
        samples=(Sample({}, check=_agrees),),
        result="any",
        fuzz=False,
        note="takes no arguments: nothing to fuzz; the sample checks the derivation agrees",
    )


ENTRIES = [
    Entry(
        T + "statistics_count",
        samples=(
            Sample({"kind": "batch", "shape": SHAPE}, check=lambda r: r == 8 * 49),
            Sample({"kind": "layer", "shape": SHAPE}, check=lambda r: r == 32 * 49),
            Sample({"kind": "instance", "shape": SHAPE}, check=lambda r: r == 49),
            Sample({"kind": "group", "shape": SHAPE, "groups": 4}, check=lambda r: r == 8 * 49),
            Sample({"kind": "group", "shape": (2, 6), "groups": 3}, check=lambda r: r == 2),
        ),
        errors=(
            ErrorSample({"kind": "batches", "shape": SHAPE}, ValueError, "kind"),
            ErrorSample({"kind": "group", "shape": SHAPE}, ValueError, "groups"),
            ErrorSample({"kind": "group", "shape": SHAPE, "groups": 5}, ValueError, "groups"),
            ErrorSample({"kind": "batch", "shape": SHAPE, "groups": 4}, ValueError, "groups"),
            ErrorSample({"kind": "batch", "shape": (8,)}, ValueError, "shape"),
            ErrorSample({"kind": "batch", "shape": (8, 0, 3)}, ValueError, "shape"),
        ),
        result="count",
        domains={"kind": one_of(*th.KINDS)},
    ),
    Entry(
        T + "xhat_variance",
        samples=(
            Sample(
                {"variance": 1, "eps": sympy.Rational(1, 1000)},
                check=lambda r: r == sympy.Rational(1000, 1001),
            ),
            Sample({"variance": sympy.Symbol("v", positive=True), "eps": 0.5}),
        ),
        errors=(
            ErrorSample({"variance": -1, "eps": 1}, ValueError, "variance"),
            ErrorSample({"variance": 1, "eps": sympy.oo}, ValueError, "eps"),
            ErrorSample({"variance": 0, "eps": 0}, ValueError, "eps"),
            ErrorSample({"variance": "1", "eps": 1}, TypeError, "variance"),
        ),
    ),
    Entry(
        T + "batchnorm_backward_proved",
        samples=(
            Sample({"max_m": 2, "per_element_gamma": False}, check=lambda r: r is True),
            Sample({"max_m": 2, "per_element_gamma": True}, check=lambda r: r is True),
        ),
        errors=(
            ErrorSample({"max_m": 0}, ValueError, "max_m", note="vacuous: no batch size"),
            ErrorSample({"max_m": th.MAX_PROVED_M + 1}, ValueError, "max_m"),
            ErrorSample({"max_m": 2, "per_element_gamma": "yes"}, TypeError, "per_element_gamma"),
        ),
        domains={"max_m": _proof_range, "per_element_gamma": boolean},
        time_limit=20.0,
    ),
    Entry(
        T + "affine_gradients_proved",
        samples=(Sample({"max_m": 3}, check=lambda r: r is True),),
        errors=(
            ErrorSample({"max_m": 0}, ValueError, "max_m", note="vacuous: no batch size"),
            ErrorSample({"max_m": True}, TypeError, "max_m"),
        ),
        domains={"max_m": _proof_range},
        time_limit=20.0,
    ),
    Entry(
        T + "document_gradient",
        samples=(Sample({"m": 3}, check=lambda r: len(r[1]) == 3 + 3 + 2),),
        errors=(
            ErrorSample({"m": 0}, ValueError, "m"),
            ErrorSample({"m": th.MAX_GRADIENT_M + 1}, ValueError, "m"),
            ErrorSample({"m": sympy.Symbol("k", positive=True, integer=True)}, TypeError, "m"),
        ),
    ),
    _no_args("derive_batchnorm_backward"),
    _no_args("derive_groupnorm_backward"),
    _no_args("derive_xhat_moments"),
    _no_args("derive_recovery"),
]


# The RMSNorm proof (theory.normalization.rmsnorm_backward_proved / derive_rmsnorm_backward).
def _rms_proof_range(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and 1 <= v <= 8


ENTRIES += [
    Entry(
        "theory.normalization.rmsnorm_backward_proved",
        samples=(Sample({"max_m": 3}, check=lambda r: r is True),),
        errors=(
            ErrorSample({"max_m": 0}, ValueError, "max_m"),
            ErrorSample({"max_m": 9}, ValueError, "max_m"),
            ErrorSample({"max_m": 2.0}, TypeError, "max_m"),
        ),
        domains={"max_m": _rms_proof_range},
        time_limit=20.0,
    ),
    Entry(
        "theory.normalization.derive_rmsnorm_backward",
        samples=(Sample({}, check=lambda d: d.agrees()),),
        result="any",
        fuzz=False,
        note="takes no arguments",
    ),
]
