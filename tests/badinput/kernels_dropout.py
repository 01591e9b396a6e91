"""Bad-input entries for :mod:`kernels.cpu.dropout` (dropout and its variants).

The issue's bad inputs are error samples here: ``p`` outside [0, 1), ``p = 1`` (torch
returns zeros, the kernels refuse it), ``p`` as a string, generators of the wrong type (an int
seed, a legacy ``RandomState``, a ``torch.Generator``), ``block_size`` larger than the map,
non-bool flags and wrong ranks. (A read-only ``input`` with ``inplace=True`` is refused too, but
the table deep-copies arguments, which makes arrays writeable: tests/test_dropout_kernels.py
checks it.)

Randomness and the fuzz's equivalent-spelling comparison: every sample passes its own seeded
``numpy.random.Generator`` as ``generator``. The table calls each target on a *deep copy* of
the sample's arguments, and a deep copy of a Generator carries its state, so every call of a
sample (the original and each equivalent spelling: ``np.float64(p)``, a Fortran-ordered or
read-only ``input``, ...) draws the same mask and the results are comparable. No sample
leaves ``generator`` out (that would draw from fresh OS entropy on every call). ``make`` is
therefore not needed; the checks below recompute the expected result from a fresh copy of the
same seed with the documented drawing rule (``generator.random(shape) >= p``).
"""

from __future__ import annotations

import numpy as np
import torch

from kernels.cpu import philox
from kernels.cpu.dropout import philox_dropout_mask
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

K = "kernels.cpu.dropout."
_rng = np.random.default_rng(31)
X = _rng.standard_normal((2, 3, 4))
X4 = _rng.standard_normal((2, 3, 4, 5))
X5 = _rng.standard_normal((2, 2, 3, 3, 3))
G3 = _rng.standard_normal((2, 3, 4))
W = _rng.standard_normal((5, 4))
B = _rng.standard_normal(5)
GO = _rng.standard_normal((2, 3, 5))
MASK = _rng.random((2, 3, 4)) >= 0.3
CMASK = _rng.random((2, 3, 1)) >= 0.3
WMASK = _rng.random((5, 4)) >= 0.4
PMASK = _rng.random((2, 3, 5, 4)) >= 0.4
BMASK = _rng.random((2, 3, 4, 5)) >= 0.2
SEED = 7


def R(seed: int = SEED) -> np.random.Generator:
    """A freshly seeded generator (the table deep-copies it for every call)."""
    return np.random.default_rng(seed)


def drop_prob(v) -> bool:
    """A drop probability in [0, 1)."""
    return finite_float(v) and 0.0 <= float(v) < 1.0


def generator_ok(v) -> bool:
    return v is None or isinstance(v, np.random.Generator)


def nonneg_float(v) -> bool:
    return finite_float(v) and float(v) >= 0.0


GEN_BAD = (0, np.random.RandomState(0), torch.Generator(), np.random.PCG64(0), "rng")
P_BAD = (1.0, 1, np.float32(1.0), -1e-12, "0.5", 0.999999)  # 0.999999 is valid


def _dropout_check(x, p, mask_shape, seed=SEED):
    """Output = x * fl(1/(1-p)) where kept, 0 elsewhere, mask drawn by the documented rule."""
    mask = R(seed).random(mask_shape) >= p

    def check(result):
        out, m = result if isinstance(result, tuple) else (result, None)
        expected = x * (np.broadcast_to(mask, x.shape) * (1.0 / (1.0 - p)))
        assert out.dtype == x.dtype and np.array_equal(out, expected)
        if m is not None:
            assert m.shape == mask_shape and np.array_equal(m, mask)

    return check


def _identity(x):
    def check(result):
        out = result[0] if isinstance(result, tuple) else result
        assert np.array_equal(out, x) and out is not x

    return check


def _close(expected):
    def check(result):
        assert np.allclose(result, expected, rtol=1e-12, atol=1e-12)

    return check


def _dropconnect_check(x, w, b, p, per_sample):
    shape = x.shape[:-1] + w.shape if per_sample else w.shape
    mask = R().random(shape) >= p
    wt = np.broadcast_to(w * mask / (1 - p), x.shape[:-1] + w.shape)
    expected = np.einsum("...i,...oi->...o", x, wt) + (0 if b is None else b)
    return _close(expected)


def _dropconnect_grads(g, x, w, mask, p):
    ts = [torch.from_numpy(a.copy()).requires_grad_() for a in (x, w)]
    wm = ts[1] * torch.from_numpy(mask.astype(np.float64)) / (1 - p)
    y = torch.einsum("...i,...oi->...o", ts[0], wm.expand(*x.shape[:-1], *w.shape))
    y.backward(torch.from_numpy(g))
    expected = [t.grad.numpy() for t in ts] + [g.reshape(-1, w.shape[0]).sum(0)]

    def check(result):
        for ours, theirs in zip(result, expected, strict=True):
            assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)

    return check


def _union_of_blocks(k):
    """Every dropped pixel lies in a fully dropped k x k block inside the map; the scale is
    numel / (eps + kept)."""

    def check(result):
        _, mask, scale = result
        kept = int(mask.sum())
        assert scale == (mask.size / (1e-6 + kept) if kept else 0.0)
        for plane in (~mask).reshape(-1, *mask.shape[2:]):
            union = np.zeros_like(plane)
            for a in np.ndindex(*(s - k + 1 for s in plane.shape)):
                box = tuple(slice(i, i + k) for i in a)
                if plane[box].all():
                    union[box] = True
            assert np.array_equal(union, plane)

    return check


_D = {"input": X, "p": 0.3, "training": True, "generator": R(), "return_mask": False}
_DOMAINS = {
    "p": drop_prob,
    "training": boolean,
    "return_mask": boolean,
    "generator": generator_ok,
}
_BAD = {"p": P_BAD, "generator": GEN_BAD, "training": ("False", 1, np.bool_(True))}
_COMMON_ERRORS = (
    ErrorSample({**_D, "p": 1.0}, ValueError, r"p must be a drop probability in \[0, 1\)"),
    ErrorSample({**_D, "p": -0.1}, ValueError, r"p must be a drop probability in \[0, 1\)"),
    ErrorSample({**_D, "p": 1.5}, ValueError, "p must be"),
    ErrorSample({**_D, "p": "0.5"}, TypeError, "p must be a finite real number"),
    ErrorSample({**_D, "p": float("nan")}, ValueError, "p must be"),
    ErrorSample({**_D, "generator": 0}, TypeError, "generator must be a numpy"),
    ErrorSample({**_D, "generator": np.random.RandomState(0)}, TypeError, "generator must be"),
    ErrorSample({**_D, "generator": torch.Generator()}, TypeError, "generator must be"),
    ErrorSample({**_D, "training": "False"}, TypeError, "training must be True or False"),
    ErrorSample({**_D, "training": 1}, TypeError, "training"),
    ErrorSample({**_D, "return_mask": "True"}, TypeError, "return_mask"),
    ErrorSample({**_D, "input": X.tolist()}, TypeError, "input must be a numpy"),
    ErrorSample({**_D, "input": X.astype(np.int64)}, TypeError, "input must have dtype"),
)


def _with(base: dict, errors: tuple, **changes) -> tuple:
    """The common error samples on another function's base arguments."""
    out = []
    for e in errors:
        changed = {k: v for k, v in e.kwargs.items() if v is not _D.get(k)}
        if all(k in base for k in changed):
            out.append(ErrorSample({**base, **changed, **changes}, e.exc, e.match))
    return tuple(out)


_D1 = {**_D, "input": X}
_D2 = {**_D, "input": X4}
_D3 = {**_D, "input": X5}
_SD = {"input": X, "p": 0.4, "mode": "row", "training": True, "generator": R(), "return_mask": True}
_DB = {
    "input": X4,
    "p": 0.3,
    "block_size": 2,
    "inplace": False,
    "eps": 1e-6,
    "training": True,
    "generator": R(),
    "return_mask": True,
}
_DB3 = {**_DB, "input": X5, "block_size": 2}
_DC = {
    "input": X,
    "weight": W,
    "bias": B,
    "p": 0.4,
    "training": True,
    "generator": R(),
    "per_sample": False,
    "return_mask": False,
}


ENTRIES = [
    Entry(
        K + "dropout_mask",
        samples=(
            Sample(
                {"shape": (3, 4), "p": 0.25, "generator": R()},
                check=lambda m: (
                    m.dtype == np.bool_ and np.array_equal(m, R().random((3, 4)) >= 0.25)
                ),
            ),
            Sample(
                {"shape": 5, "p": 0.0, "generator": R()},
                check=lambda m: m.all() and m.shape == (5,),
            ),
            Sample(
                {"shape": (0, 3), "p": 0.5, "generator": R()}, check=lambda m: m.shape == (0, 3)
            ),
        ),
        errors=(
            ErrorSample({"shape": 3, "p": 1.0, "generator": R()}, ValueError, "p must be"),
            ErrorSample({"shape": 3, "p": "0.1", "generator": R()}, TypeError, "p must be"),
            ErrorSample({"shape": -1, "p": 0.5, "generator": R()}, ValueError, "shape"),
            ErrorSample({"shape": (2**20, 2**20), "p": 0.5}, ValueError, "shape"),
            ErrorSample({"shape": (2.0, 3), "p": 0.5}, TypeError, "shape"),
            ErrorSample({"shape": 3, "p": 0.5, "generator": 42}, TypeError, "generator"),
            ErrorSample(
                {"shape": 3, "p": 0.5, "generator": np.random.RandomState(1)},
                TypeError,
                "generator",
            ),
            ErrorSample(
                {"shape": 3, "p": 0.5, "generator": torch.Generator()}, TypeError, "generator"
            ),
        ),
        domains={"p": drop_prob, "generator": generator_ok},
        bad_values={"p": P_BAD, "generator": GEN_BAD, "shape": ((3, -1), (True,), [2**40, 2**40])},
    ),
    Entry(
        K + "dropout",
        samples=(
            Sample(dict(_D), check=_dropout_check(X, 0.3, X.shape)),
            Sample({**_D, "p": 0.75, "return_mask": True}, check=_dropout_check(X, 0.75, X.shape)),
            Sample({**_D, "training": False}, check=_identity(X)),
            Sample(
                {**_D, "input": np.array(1.5), "p": 0.5},
                check=_dropout_check(np.array(1.5), 0.5, ()),
            ),
            Sample({**_D, "input": X[:0]}, check=lambda r: r.shape == (0, 3, 4)),
            Sample(
                {**_D, "input": X.astype(np.float32), "p": 0.0},
                check=_identity(X.astype(np.float32)),
            ),
        ),
        errors=_COMMON_ERRORS,
        domains=_DOMAINS,
        bad_values=_BAD,
    ),
    Entry(
        K + "dropout1d",
        samples=(
            Sample({**_D1, "return_mask": True}, check=_dropout_check(X, 0.3, (2, 3, 1))),
            Sample({**_D1, "input": X[0]}, check=_dropout_check(X[0], 0.3, (3, 1))),
            Sample({**_D1, "training": False}, check=_identity(X)),
        ),
        errors=(
            *_COMMON_ERRORS,
            ErrorSample({**_D1, "input": X4}, ValueError, "input of dropout1d must be"),
            ErrorSample({**_D1, "input": X[0, 0]}, ValueError, "input"),
        ),
        domains=_DOMAINS,
        bad_values=_BAD,
    ),
    Entry(
        K + "dropout2d",
        samples=(
            Sample({**_D2, "return_mask": True}, check=_dropout_check(X4, 0.3, (2, 3, 1, 1))),
            Sample(
                {**_D2, "input": X, "return_mask": True},
                check=_dropout_check(X, 0.3, (2, 3, 1)),
                note="3-D input read as (N, C, L), torch 2.13's rule",
            ),
            Sample({**_D2, "training": False}, check=_identity(X4)),
        ),
        errors=(
            *_with(_D2, _COMMON_ERRORS),
            ErrorSample({**_D2, "input": X[0]}, ValueError, "input of dropout2d must be"),
            ErrorSample({**_D2, "input": X5}, ValueError, "input of dropout2d must be"),
        ),
        domains=_DOMAINS,
        bad_values=_BAD,
    ),
    Entry(
        K + "dropout3d",
        samples=(
            Sample({**_D3, "return_mask": True}, check=_dropout_check(X5, 0.3, (2, 2, 1, 1, 1))),
            Sample({**_D3, "input": X5[0]}, check=_dropout_check(X5[0], 0.3, (2, 1, 1, 1))),
            Sample({**_D3, "training": False}, check=_identity(X5)),
        ),
        errors=(
            *_with(_D3, _COMMON_ERRORS),
            ErrorSample({**_D3, "input": X}, ValueError, "input of dropout3d must be"),
            ErrorSample({**_D3, "input": X5[None]}, ValueError, "input"),
        ),
        domains=_DOMAINS,
        bad_values=_BAD,
    ),
    Entry(
        K + "dropout_backward",
        samples=(
            Sample({"grad_output": G3, "mask": MASK, "p": 0.3}, check=_close(G3 * MASK / 0.7)),
            Sample({"grad_output": G3, "mask": CMASK, "p": 0.3}, check=_close(G3 * CMASK / 0.7)),
            Sample({"grad_output": G3, "mask": None, "p": 0.3}, check=_close(G3)),
        ),
        errors=(
            ErrorSample({"grad_output": G3, "mask": MASK, "p": 1.0}, ValueError, "p must be"),
            ErrorSample(
                {"grad_output": G3, "mask": MASK.astype(float), "p": 0.3}, TypeError, "mask"
            ),
            ErrorSample({"grad_output": G3, "mask": MASK[:, :2], "p": 0.3}, ValueError, "mask"),
            ErrorSample({"grad_output": G3, "mask": MASK[None], "p": 0.3}, ValueError, "mask"),
            ErrorSample(
                {"grad_output": G3.tolist(), "mask": MASK, "p": 0.3}, TypeError, "grad_output"
            ),
        ),
        domains={"p": drop_prob},
        bad_values={"p": P_BAD},
    ),
    Entry(
        K + "dropconnect_linear",
        samples=(
            Sample(dict(_DC), check=_dropconnect_check(X, W, B, 0.4, False)),
            Sample(
                {**_DC, "per_sample": True, "bias": None},
                check=_dropconnect_check(X, W, None, 0.4, True),
            ),
            Sample(
                {**_DC, "input": X[0, 0], "per_sample": True},
                check=_dropconnect_check(X[0, 0], W, B, 0.4, True),
            ),
            Sample({**_DC, "training": False}, check=_close(X @ W.T + B)),
            Sample({**_DC, "return_mask": True}, check=lambda r: r[1].shape == (5, 4)),
        ),
        errors=(
            *_with(_DC, _COMMON_ERRORS),
            ErrorSample({**_DC, "weight": W[:, :3]}, ValueError, "weight expects"),
            ErrorSample({**_DC, "bias": B[:2]}, ValueError, "bias must have shape"),
            ErrorSample({**_DC, "weight": W.astype(np.float32)}, TypeError, "weight"),
            ErrorSample({**_DC, "per_sample": "True"}, TypeError, "per_sample"),
            ErrorSample(
                {
                    **_DC,
                    "input": np.zeros((2**16, 4)),
                    "weight": np.zeros((2**10, 4)),
                    "bias": None,
                    "per_sample": True,
                },
                ValueError,
                "per_sample",
            ),
        ),
        domains={**_DOMAINS, "per_sample": boolean},
        bad_values={**_BAD, "per_sample": ("False", 0)},
    ),
    Entry(
        K + "dropconnect_linear_backward",
        samples=(
            Sample(
                {"grad_output": GO, "input": X, "weight": W, "mask": WMASK, "p": 0.4},
                check=_dropconnect_grads(GO, X, W, WMASK, 0.4),
            ),
            Sample(
                {"grad_output": GO, "input": X, "weight": W, "mask": PMASK, "p": 0.4},
                check=_dropconnect_grads(GO, X, W, PMASK, 0.4),
            ),
            Sample(
                {"grad_output": GO, "input": X, "weight": W, "mask": None, "p": 0.4},
                check=_dropconnect_grads(GO, X, W, np.ones((5, 4), bool), 0.0),
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_output": GO, "input": X, "weight": W, "mask": WMASK, "p": 1.0},
                ValueError,
                "p must be",
            ),
            ErrorSample(
                {"grad_output": GO[..., :4], "input": X, "weight": W, "mask": WMASK, "p": 0.4},
                ValueError,
                "grad_output must have shape",
            ),
            ErrorSample(
                {"grad_output": GO, "input": X, "weight": W, "mask": WMASK[:3], "p": 0.4},
                ValueError,
                "mask must have shape",
            ),
            ErrorSample(
                {"grad_output": GO, "input": X, "weight": W, "mask": WMASK * 1.0, "p": 0.4},
                TypeError,
                "mask",
            ),
            ErrorSample(
                {"grad_output": GO, "input": X, "weight": W[:, :3], "mask": WMASK, "p": 0.4},
                ValueError,
                "weight",
            ),
        ),
        domains={"p": drop_prob},
        bad_values={"p": P_BAD},
    ),
    Entry(
        K + "stochastic_depth",
        samples=(
            Sample(dict(_SD), check=_dropout_check(X, 0.4, (2, 1, 1))),
            Sample({**_SD, "mode": "batch"}, check=_dropout_check(X, 0.4, (1, 1, 1))),
            Sample({**_SD, "training": False}, check=_identity(X)),
            Sample({**_SD, "input": X[:0]}, check=lambda r: r[0].shape == (0, 3, 4)),
        ),
        errors=(
            *_with(_SD, _COMMON_ERRORS),
            ErrorSample({**_SD, "mode": "rows"}, ValueError, "mode must be one of"),
            ErrorSample({**_SD, "mode": None}, TypeError, "mode must be one of"),
            ErrorSample({**_SD, "input": np.array(1.0)}, ValueError, "input"),
        ),
        domains={**_DOMAINS, "mode": one_of("row", "batch")},
        bad_values={**_BAD, "mode": ("ROW", "", "batch ")},
    ),
    Entry(
        K + "drop_block2d",
        samples=(
            Sample(dict(_DB), check=_union_of_blocks(2)),
            Sample({**_DB, "block_size": 3, "p": 0.5}, check=_union_of_blocks(3)),
            Sample({**_DB, "block_size": 4, "eps": 0.0}, check=lambda r: r[2] >= 0),
            Sample(
                {**_DB, "training": False},
                check=lambda r: np.array_equal(r[0], X4) and r[1] is None,
            ),
            Sample({**_DB, "p": 0.0}, check=lambda r: np.array_equal(r[0], X4) and r[1].all()),
        ),
        errors=(
            *_with(_DB, _COMMON_ERRORS),
            ErrorSample({**_DB, "block_size": 5}, ValueError, "block_size must be at most"),
            ErrorSample({**_DB, "block_size": 0}, ValueError, "block_size"),
            ErrorSample({**_DB, "block_size": 2.0}, TypeError, "block_size"),
            ErrorSample({**_DB, "eps": -1e-6}, ValueError, "eps"),
            ErrorSample({**_DB, "eps": "1e-6"}, TypeError, "eps"),
            ErrorSample({**_DB, "inplace": "False"}, TypeError, "inplace"),
            ErrorSample({**_DB, "input": X}, ValueError, r"input must be 4-D"),
        ),
        domains={**_DOMAINS, "block_size": positive_int, "eps": nonneg_float, "inplace": boolean},
        bad_values={**_BAD, "block_size": (6, 2**31, np.int64(5)), "eps": (-1e-300,)},
    ),
    Entry(
        K + "drop_block3d",
        samples=(
            Sample(dict(_DB3), check=_union_of_blocks(2)),
            Sample({**_DB3, "block_size": 3, "p": 0.9}, check=_union_of_blocks(3)),
            Sample({**_DB3, "training": False}, check=lambda r: np.array_equal(r[0], X5)),
        ),
        errors=(
            *_with(_DB3, _COMMON_ERRORS),
            ErrorSample({**_DB3, "block_size": 4}, ValueError, "block_size must be at most"),
            ErrorSample({**_DB3, "input": X4}, ValueError, "input must be 5-D"),
        ),
        domains={**_DOMAINS, "block_size": positive_int, "eps": nonneg_float, "inplace": boolean},
        bad_values={**_BAD, "block_size": (4, 2**31)},
    ),
    Entry(
        K + "drop_block_backward",
        samples=(
            Sample(
                {"grad_output": X4, "mask": BMASK, "scale": 1.25}, check=_close(X4 * BMASK * 1.25)
            ),
            Sample({"grad_output": X4, "mask": None, "scale": 1.0}, check=_close(X4)),
        ),
        errors=(
            ErrorSample({"grad_output": X4, "mask": BMASK, "scale": -1.0}, ValueError, "scale"),
            ErrorSample({"grad_output": X4, "mask": BMASK, "scale": "1"}, TypeError, "scale"),
            ErrorSample(
                {"grad_output": X4, "mask": BMASK[:, :, :2], "scale": 1.0}, ValueError, "mask"
            ),
            ErrorSample(
                {"grad_output": X4, "mask": BMASK.astype(np.int8), "scale": 1.0}, TypeError, "mask"
            ),
        ),
        domains={"scale": nonneg_float},
    ),
    Entry(
        K + "philox_dropout_mask",
        samples=(
            Sample(
                {"shape": (3, 4), "p": 0.25, "seed": 9, "offset": 0},
                check=lambda m: (
                    m.dtype == np.bool_
                    and np.array_equal(
                        m.ravel(),
                        philox.rand(9, np.arange(12, dtype=np.uint64)) >= np.float32(0.25),
                    )
                ),
            ),
            Sample({"shape": 0, "p": 0.5, "seed": 1}, check=lambda m: m.shape == (0,)),
            Sample({"shape": (), "p": 0.0, "seed": 1, "offset": 2**40}, check=lambda m: bool(m)),
        ),
        errors=(
            ErrorSample({"shape": (3,), "p": 1.0, "seed": 1}, ValueError, r"\bp\b"),
            ErrorSample({"shape": (3,), "p": 0.5, "seed": -1}, ValueError, "seed"),
            ErrorSample(
                {"shape": (3,), "p": 0.5, "seed": 1, "offset": 2**63 - 1}, ValueError, "offset"
            ),
            ErrorSample({"shape": (-3,), "p": 0.5, "seed": 1}, ValueError, "shape"),
        ),
        domains={"seed": lambda v: nonneg_int(v) and int(v) < 2**63},
    ),
    Entry(
        K + "philox_dropout",
        samples=(
            Sample(
                {"input": X, "p": 0.3, "seed": 4, "offset": 7, "return_mask": True},
                check=lambda r: (
                    np.array_equal(r[0], X * (r[1] * np.float64(1 / 0.7)))
                    and np.array_equal(r[1], philox_dropout_mask(X.shape, 0.3, seed=4, offset=7))
                ),
            ),
            Sample({"input": X, "p": 0.3, "training": False, "seed": 4}, check=_identity(X)),
            Sample(
                {"input": X.astype(np.float32), "p": 0.0, "seed": 4},
                check=_identity(X.astype(np.float32)),
            ),
        ),
        errors=(
            ErrorSample({"input": X, "p": 1.0, "seed": 1}, ValueError, r"\bp\b"),
            ErrorSample({"input": X, "p": 0.5, "seed": "1"}, TypeError, "seed"),
            ErrorSample({"input": X, "p": 0.5, "seed": 1, "training": 1}, TypeError, "training"),
            ErrorSample({"input": X.astype(int), "p": 0.5, "seed": 1}, TypeError, "input"),
        ),
        domains={"training": boolean, "seed": lambda v: nonneg_int(v) and int(v) < 2**63},
    ),
]
