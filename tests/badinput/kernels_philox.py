"""Bad-input entries for :mod:`kernels.cpu.philox` (Philox-4x32-10, Triton's ``tl.rand``)."""

from __future__ import annotations

import numpy as np

from kernels.cpu.philox import KAT_PHILOX4X32_10
from tests.badinput.table import Entry, ErrorSample, Sample

K = "kernels.cpu.philox."
_C, _K, _OUT = KAT_PHILOX4X32_10[2]


def _words(expected):
    def check(r):
        assert r.dtype == np.uint32 and [int(v) for v in r] == list(expected)

    return check


def _in_unit(r):
    assert r.dtype == np.float32 and ((r >= 0) & (r < 1)).all()


ENTRIES: list[Entry] = [
    Entry(
        K + "philox4x32",
        samples=(
            Sample({"counter": list(_C), "key": list(_K)}, check=_words(_OUT)),
            Sample({"counter": np.array(_C, dtype=np.uint32), "key": np.array(_K), "rounds": 10}),
            Sample({"counter": np.zeros((3, 4), dtype=np.int64), "key": [1, 2], "rounds": 7}),
        ),
        errors=(
            ErrorSample({"counter": [0, 0, 0], "key": [0, 0]}, ValueError, "counter"),
            ErrorSample({"counter": [0, 0, 0, 2**32], "key": [0, 0]}, ValueError, "counter"),
            ErrorSample({"counter": [0, 0, 0, -1], "key": [0, 0]}, ValueError, "counter"),
            ErrorSample({"counter": [0.0, 0, 0, 0], "key": [0, 0]}, TypeError, "counter"),
            ErrorSample({"counter": [0, 0, 0, 0], "key": "ab"}, TypeError, "key"),
            ErrorSample(
                {"counter": [0, 0, 0, 0], "key": [0, 0], "rounds": 0}, ValueError, "rounds"
            ),
            ErrorSample(
                {"counter": np.zeros((2, 4), int), "key": np.zeros((3, 2), int)},
                ValueError,
                "counter",
            ),
        ),
    ),
    Entry(
        K + "randint",
        samples=(
            Sample({"seed": 0, "offset": 0}),
            Sample({"seed": 2**63 - 1, "offset": np.arange(5, dtype=np.int64)}),
        ),
        errors=(
            ErrorSample({"seed": -1, "offset": 0}, ValueError, "seed"),
            ErrorSample({"seed": 0, "offset": -1}, ValueError, "offset"),
            ErrorSample({"seed": 0, "offset": np.array([0.5])}, TypeError, "offset"),
        ),
    ),
    Entry(
        K + "rand",
        samples=(
            Sample({"seed": 3, "offset": np.arange(100, dtype=np.uint64)}, check=_in_unit),
            Sample({"seed": 3, "offset": 2**40}, check=_in_unit),
        ),
        errors=(ErrorSample({"seed": True, "offset": 0}, TypeError, "seed"),),
    ),
    Entry(
        K + "keep_probability",
        samples=(
            Sample({"p": 0.0}, check=lambda r: r == 1.0),
            Sample({"p": 0.3}, check=lambda r: abs(r - 0.7) < 2**-23),
        ),
        errors=(
            ErrorSample({"p": 1.5}, ValueError, r"\bp\b"),
            ErrorSample({"p": "0.5"}, TypeError, r"\bp\b"),
        ),
    ),
]
