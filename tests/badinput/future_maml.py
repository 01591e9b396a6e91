"""Bad-input entries for :mod:`theory.maml` and :mod:`kernels.cpu.maml`."""

from __future__ import annotations

import numpy as np

from tests.badinput.table import Entry, ErrorSample, Sample
from tests.badinput.theory_conv import derivation_entry

_rng = np.random.default_rng(29)
_m = _rng.standard_normal((2, 2))
A = _m @ _m.T
B = np.eye(2)
TH, AV, BV = _rng.standard_normal(2), _rng.standard_normal(2), _rng.standard_normal(2)
X = _rng.standard_normal((2, 3, 4))
GM, BE = _rng.standard_normal((2, 3)), _rng.standard_normal((2, 3))
GO = _rng.standard_normal((2, 3, 4))
MAML = {"theta": TH, "A": A, "a": AV, "B": B, "b": BV, "lr": 0.1, "steps": 2, "first_order": False}

ENTRIES = [
    Entry(
        "theory.maml.maml_quadratic",
        samples=(Sample({"steps": 1, "n": 1}),),
        errors=(
            ErrorSample({"steps": 5, "n": 2}, ValueError, "steps"),
            ErrorSample({"steps": 1, "n": 4}, ValueError, "n must"),
        ),
        result="any",
    ),
    derivation_entry("theory.maml.derive_maml_meta_gradient"),
    derivation_entry("theory.maml.derive_film_linear"),
    Entry(
        "kernels.cpu.maml.maml_quadratic_meta_gradient",
        samples=(Sample(MAML), Sample({**MAML, "first_order": True})),
        errors=(
            ErrorSample({**MAML, "A": _m}, ValueError, "A must be symmetric"),
            ErrorSample({**MAML, "steps": 0}, ValueError, "steps"),
            ErrorSample({**MAML, "lr": "0.1"}, TypeError, "lr"),
        ),
    ),
    Entry(
        "kernels.cpu.maml.film",
        samples=(Sample({"input": X, "gamma": GM, "beta": BE}),),
        errors=(ErrorSample({"input": X, "gamma": GM[:1], "beta": BE}, ValueError, "gamma"),),
    ),
    Entry(
        "kernels.cpu.maml.film_backward",
        samples=(Sample({"grad_output": GO, "input": X, "gamma": GM}),),
        errors=(ErrorSample({"grad_output": GO[:1], "input": X, "gamma": GM}, ValueError, "grad"),),
        result="any",
    ),
]
