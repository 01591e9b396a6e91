"""Bad-input entries for :mod:`theory.capsules` and :mod:`kernels.cpu.capsules`."""

from __future__ import annotations

import numpy as np
import sympy

from tests.badinput.table import Entry, ErrorSample, Sample
from tests.badinput.theory_conv import derivation_entry

_rng = np.random.default_rng(19)
S = _rng.standard_normal((3, 4))
G = _rng.standard_normal((3, 4))
U = _rng.standard_normal((2, 5, 3, 4))


def _half(v: object) -> None:
    assert v == sympy.Rational(1, 2)


def _total(n: int):
    def check(d: dict) -> None:
        assert d["total"] == n

    return check


ENTRIES = [
    Entry(
        "theory.capsules.squash_norm",
        samples=(Sample({"r": 1}, check=_half), Sample({"r": 0})),
        errors=(ErrorSample({"r": -1}, ValueError, "r must be"),),
    ),
    Entry(
        "theory.capsules.capsnet_params",
        samples=(
            Sample({"decoder": False, "image_size": 28}, check=_total(6804224)),
            Sample({"decoder": True, "image_size": 28}, check=_total(8215568)),
        ),
        errors=(
            ErrorSample({"decoder": 1, "image_size": 28}, TypeError, "decoder"),
            ErrorSample({"decoder": False, "image_size": 24}, ValueError, "image_size"),
        ),
        result="any",
    ),
    derivation_entry("theory.capsules.derive_squash"),
    derivation_entry("theory.capsules.derive_primary_shift"),
    Entry(
        "kernels.cpu.capsules.squash",
        samples=(Sample({"input": S, "dim": -1}), Sample({"input": S, "dim": 0})),
        errors=(
            ErrorSample({"input": S, "dim": 2}, ValueError, "dim"),
            ErrorSample({"input": S.tolist(), "dim": -1}, TypeError, "input"),
        ),
    ),
    Entry(
        "kernels.cpu.capsules.squash_backward",
        samples=(Sample({"grad_output": G, "input": S, "dim": -1}),),
        errors=(ErrorSample({"grad_output": G[:2], "input": S, "dim": -1}, ValueError, "grad"),),
    ),
    Entry(
        "kernels.cpu.capsules.dynamic_routing",
        samples=(Sample({"u_hat": U, "num_iterations": 3}),),
        errors=(
            ErrorSample({"u_hat": U, "num_iterations": 0}, ValueError, "num_iterations"),
            ErrorSample({"u_hat": U[0], "num_iterations": 3}, ValueError, "u_hat"),
        ),
    ),
]
