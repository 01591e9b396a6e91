"""Bad-input entries for the convolution kernels: :mod:`kernels.cpu.conv`,
:mod:`kernels.cpu.conv1d`, :mod:`kernels.cpu.conv2d`, :mod:`kernels.cpu.conv2d_matrix`.

Valid samples check the result against torch (float64) where cheap; error samples include the
issue's examples (``padding=10**6`` once gave MemoryError, ``conv2d_toeplitz`` at 16 → 16
channels 32 × 32 built ~2.4 GB with no guard).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from kernels.cpu.conv2d import _geometry
from tests.badinput.table import Entry, ErrorSample, Sample, boolean, positive_int

_rng = np.random.default_rng(20261129)
X1 = _rng.standard_normal((2, 4, 7))
W1 = _rng.standard_normal((6, 2, 3))
B1 = _rng.standard_normal(6)
X2 = _rng.standard_normal((2, 4, 6, 5))
W2 = _rng.standard_normal((6, 2, 3, 2))
B2 = _rng.standard_normal(6)
WT1 = _rng.standard_normal((4, 3, 3))  # transposed: (C_in, C_out/G, K), groups 2 -> C_out 6
WT2 = _rng.standard_normal((4, 3, 2, 3))
BT = _rng.standard_normal(6)
W2G1 = _rng.standard_normal((3, 4, 3, 3))  # groups 1, for the matrix forms
W1G1 = _rng.standard_normal((3, 4, 3))
B3 = _rng.standard_normal(3)
X2ODD = _rng.standard_normal((2, 4, 6, 5))


def _t(*arrays):
    return [None if a is None else torch.from_numpy(a) for a in arrays]


def _torch_check(fn, *arrays, **kw):
    """A ``check`` comparing the result with torch's ``fn`` on the same arrays."""
    with warnings.catch_warnings():  # torch warns that even-kernel 'same' pads by a copy
        warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
        expected = fn(*_t(*arrays), **kw).numpy()

    def check(result):
        assert np.allclose(result, expected, rtol=1e-10, atol=1e-10), (result, expected)

    return check


def _grad_check(fn, arrays, g, **kw):
    """A ``check`` comparing ``(grad_input, grad_weight, grad_bias)`` with torch autograd."""
    ts = [None if a is None else torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    y = fn(*ts, **kw)
    y.backward(torch.from_numpy(g))
    expected = [None if t is None else t.grad.numpy() for t in ts]

    def check(result):
        assert len(result) == 3
        for ours, theirs in zip(result, expected, strict=True):
            assert (ours is None) == (theirs is None)
            if theirs is not None:
                assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-10)

    return check


def _g(shape):
    return np.random.default_rng(7).standard_normal(shape)


_conv1d_kw = {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}
G1 = _g(tuple(F.conv1d(*_t(X1, W1), **_conv1d_kw).shape))
_conv2d_kw = {"stride": 1, "padding": "same", "dilation": (1, 2), "groups": 2}
G2 = _g(tuple(F.conv2d(*_t(X2, W2), **_conv2d_kw).shape))
_t1_kw = {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 1}
GT1 = _g(tuple(F.conv_transpose1d(*_t(X1, WT1), **_t1_kw).shape))
_t2_kw = {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0), "groups": 2,
          "dilation": (1, 2)}  # fmt: skip
GT2 = _g(tuple(F.conv_transpose2d(*_t(X2, WT2), **_t2_kw).shape))


def _conv_errors(x, w, b, bad_weight, transposed=False):
    """Error samples shared by the four torch-named forward functions."""
    base = {"input": x, "weight": w, "bias": b, "groups": 2}
    out = [
        ErrorSample({**base, "stride": 0}, ValueError, "stride"),
        ErrorSample({**base, "stride": 1.5}, TypeError, "stride"),
        ErrorSample({**base, "padding": -1}, ValueError, "padding"),
        ErrorSample({**base, "padding": 10**8}, ValueError, "padding"),
        ErrorSample({**base, "dilation": 0}, ValueError, "dilation"),
        ErrorSample({**base, "dilation": 10**8}, ValueError, "dilation"),
        ErrorSample({**base, "groups": 0}, ValueError, "groups"),
        ErrorSample({**base, "groups": 3}, ValueError, "groups"),
        ErrorSample({**base, "groups": True}, TypeError, "groups"),
        ErrorSample({**base, "weight": bad_weight}, ValueError, "weight"),
        ErrorSample({**base, "input": x.astype(np.int64)}, TypeError, "input"),
        ErrorSample({**base, "input": x.tolist()}, TypeError, "input"),
        ErrorSample({**base, "weight": w.astype(np.float32)}, TypeError, "weight"),
        ErrorSample({**base, "bias": b[:-1]}, ValueError, "bias"),
        ErrorSample({**base, "bias": b.astype(np.complex128)}, TypeError, "bias"),
        ErrorSample({**base, "input": x[None]}, ValueError, "input"),
    ]
    if transposed:
        out += [
            ErrorSample({**base, "output_padding": 2, "stride": 2}, ValueError, "output_padding"),
            ErrorSample({**base, "padding": "same"}, ValueError, "padding"),
            ErrorSample({**base, "stride": 10**9}, ValueError, "stride"),
        ]
    else:
        out += [
            ErrorSample({**base, "padding": "full"}, ValueError, "padding"),
            ErrorSample({**base, "padding": "same", "stride": 2}, ValueError, "stride"),
        ]
    return tuple(out)


def _backward_errors(fwd_kwargs, g):
    return (
        ErrorSample({**fwd_kwargs, "grad_output": g[..., :-1]}, ValueError, "grad_output"),
        ErrorSample({**fwd_kwargs, "grad_output": g.astype(np.float32)}, TypeError, "grad_output"),
        ErrorSample({**fwd_kwargs, "grad_output": None}, TypeError, "grad_output"),
    )


_C1 = {"input": X1, "weight": W1, "bias": B1, **_conv1d_kw}
_C2 = {"input": X2, "weight": W2, "bias": B2, **_conv2d_kw}
_T1 = {"input": X1, "weight": WT1, "bias": BT, **_t1_kw}
_T2 = {"input": X2, "weight": WT2, "bias": BT, **_t2_kw}

CONV_ENTRIES = [
    Entry(
        "kernels.cpu.conv.conv1d",
        samples=(
            Sample(_C1, check=_torch_check(F.conv1d, X1, W1, B1, **_conv1d_kw)),
            Sample(
                {"input": X1[0], "weight": W1, "padding": "same", "groups": 2},
                check=_torch_check(F.conv1d, X1[0], W1, padding="same", groups=2),
            ),
            Sample(
                {"input": X1[:0], "weight": W1, "groups": 2}, check=lambda r: r.shape == (0, 6, 5)
            ),
        ),
        errors=_conv_errors(X1, W1, B1, W1[:, :1]),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv2d",
        samples=(
            Sample(_C2, check=_torch_check(F.conv2d, X2, W2, B2, **_conv2d_kw)),
            Sample(
                {"input": X2[1], "weight": W2, "stride": (2, 1), "padding": (1, 0), "groups": 2},
                check=_torch_check(F.conv2d, X2[1], W2, stride=(2, 1), padding=(1, 0), groups=2),
            ),
        ),
        errors=_conv_errors(X2, W2, B2, W2[:, :1]),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv_transpose1d",
        samples=(
            Sample(_T1, check=_torch_check(F.conv_transpose1d, X1, WT1, BT, **_t1_kw)),
            Sample(
                {
                    "input": X1[0],
                    "weight": WT1[:, :1],
                    "dilation": 3,
                    "output_padding": 2,
                    "groups": 4,
                },
                check=_torch_check(
                    F.conv_transpose1d, X1[0], WT1[:, :1], dilation=3, output_padding=2, groups=4
                ),
            ),
        ),
        errors=_conv_errors(X1, WT1, BT, WT1[:3], transposed=True),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv_transpose2d",
        samples=(Sample(_T2, check=_torch_check(F.conv_transpose2d, X2, WT2, BT, **_t2_kw)),),
        errors=_conv_errors(X2, WT2, BT, WT2[:3], transposed=True),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv1d_backward",
        samples=(
            Sample(
                {"grad_output": G1, **_C1},
                check=_grad_check(F.conv1d, (X1, W1, B1), G1, **_conv1d_kw),
            ),
        ),
        errors=_backward_errors(_C1, G1),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv2d_backward",
        samples=(
            Sample(
                {"grad_output": G2, **_C2},
                check=_grad_check(F.conv2d, (X2, W2, B2), G2, **_conv2d_kw),
            ),
        ),
        errors=_backward_errors(_C2, G2),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv_transpose1d_backward",
        samples=(
            Sample(
                {"grad_output": GT1, **_T1},
                check=_grad_check(F.conv_transpose1d, (X1, WT1, BT), GT1, **_t1_kw),
            ),
        ),
        errors=_backward_errors(_T1, GT1),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv.conv_transpose2d_backward",
        samples=(
            Sample(
                {"grad_output": GT2, **_T2},
                check=_grad_check(F.conv_transpose2d, (X2, WT2, BT), GT2, **_t2_kw),
            ),
        ),
        errors=_backward_errors(_T2, GT2),
        domains={"groups": positive_int},
    ),
]

# ------------------------------------------------------------------ conv2d direct / im2col

_D = {"x": X2, "weight": W2, "bias": B2, "stride": (2, 1), "padding": (1, 2), "dilation": (2, 1),
      "groups": 2}  # fmt: skip
_D_t = {k: v for k, v in _D.items() if k not in ("x", "weight", "bias")}
GD = _g(tuple(F.conv2d(*_t(X2, W2, B2), **_D_t).shape))
_DB = {"grad_out": GD, "x": X2, "weight": W2, "bias": B2, **_D_t}  # the forward's args


def _bias_or_flag(v) -> bool:
    """A backward's ``bias``: the forward's bias array (any layout), None, True or False."""
    return (
        v is None
        or isinstance(v, bool)
        or (type(v) is np.ndarray and v.dtype == B2.dtype and v.shape == B2.shape)
    )


def _direct_errors(extra=None):
    base = {**_D, **(extra or {})}
    return (
        ErrorSample({**base, "padding": 10**6}, ValueError, "padding"),
        ErrorSample({**base, "groups": 0}, ValueError, "groups"),
        ErrorSample({**base, "x": X2[0]}, ValueError, "x"),
        ErrorSample({**base, "weight": W2[:, :, :, :, None]}, ValueError, "weight"),
        ErrorSample({**base, "stride": (1, 2, 3)}, ValueError, "stride"),
        ErrorSample({**base, "dilation": 10**6}, ValueError, "dilation"),
        ErrorSample({**base, "padding": "same"}, ValueError, "stride"),
    )


def _direct_backward_errors():
    return (
        ErrorSample({**_DB, "grad_out": GD[:, :-1]}, ValueError, "grad_out"),
        ErrorSample({**_DB, "bias": "False"}, TypeError, "bias"),
        ErrorSample({**_DB, "padding": 10**6}, ValueError, "padding"),
    )


GEO = _geometry(X2, W2, None, (2, 1), (1, 2), (2, 1), 2)

CONV2D_ENTRIES = [
    Entry(
        "kernels.cpu.conv2d.conv2d_direct",
        samples=(
            Sample(_D, check=_torch_check(F.conv2d, X2, W2, B2, **_D_t)),
            Sample(
                {"x": X2, "weight": W2, "padding": "same", "dilation": 2, "groups": 2},
                check=_torch_check(F.conv2d, X2, W2, padding="same", dilation=2, groups=2),
            ),
        ),
        errors=_direct_errors(),
        domains={"groups": positive_int},
    ),
    Entry(
        "kernels.cpu.conv2d.conv2d_im2col",
        samples=(
            Sample({**_D, "copy": True}, check=_torch_check(F.conv2d, X2, W2, B2, **_D_t)),
            Sample({**_D, "copy": False}, check=_torch_check(F.conv2d, X2, W2, B2, **_D_t)),
        ),
        errors=(
            *_direct_errors({"copy": True}),
            ErrorSample({**_D, "copy": "False"}, TypeError, "copy"),
        ),
        domains={"groups": positive_int, "copy": boolean},
    ),
    Entry(
        "kernels.cpu.conv2d.conv2d_direct_backward",
        samples=(Sample(_DB, check=_grad_check(F.conv2d, (X2, W2, B2), GD, **_D_t)),),
        errors=_direct_backward_errors(),
        domains={"groups": positive_int, "bias": _bias_or_flag},
    ),
    Entry(
        "kernels.cpu.conv2d.conv2d_im2col_backward",
        samples=(Sample(_DB, check=_grad_check(F.conv2d, (X2, W2, B2), GD, **_D_t)),),
        errors=_direct_backward_errors(),
        domains={"groups": positive_int, "bias": _bias_or_flag},
    ),
    Entry(
        "kernels.cpu.conv2d.im2col",
        samples=(
            Sample(
                {"x": X2, "kernel": (3, 2), "geo": GEO},
                check=lambda r: (
                    r.shape == (2, 4, *GEO.out, 3, 2)
                    and np.array_equal(
                        r[1, 2, 1, 0],
                        np.pad(X2, ((0, 0), (0, 0), (1, 1), (2, 2)))[1, 2, 2:7:2, 0:2],
                    )
                ),
            ),
        ),
        errors=(
            ErrorSample({"x": X2, "kernel": (3, 2), "geo": "geo"}, TypeError, "geo"),
            ErrorSample({"x": X2, "kernel": (2, 2), "geo": GEO}, ValueError, "kernel"),
            ErrorSample({"x": X2[..., :3], "kernel": (3, 2), "geo": GEO}, ValueError, "x"),
        ),
    ),
]

# ------------------------------------------------------------------ matrix forms

_X1G = _rng.standard_normal((2, 4, 9))
MATRIX_ENTRIES = [
    Entry(
        "kernels.cpu.conv1d.toeplitz",
        samples=(
            Sample(
                {"kernel": np.array([1.0, 2.0, 3.0]), "n": 2},
                check=lambda r: np.array_equal(r, [[1, 0], [2, 1], [3, 2], [0, 3]]),
            ),
        ),
        errors=(
            ErrorSample({"kernel": np.ones(3), "n": 0}, ValueError, "n"),
            ErrorSample({"kernel": np.ones(3), "n": 10**6}, ValueError, "n"),
            ErrorSample({"kernel": np.ones((3, 1)), "n": 2}, ValueError, "kernel"),
            ErrorSample({"kernel": [1.0, 2.0], "n": 2}, TypeError, "kernel"),
        ),
        domains={"n": positive_int},
    ),
    Entry(
        "kernels.cpu.conv1d.conv1d_toeplitz",
        samples=(
            Sample(
                {"x": _X1G, "weight": W1G1, "bias": B3, "padding": 1},
                check=_torch_check(F.conv1d, _X1G, W1G1, B3, padding=1),
            ),
            Sample(
                {"x": _X1G, "weight": W1G1[..., :2], "padding": "same"},
                check=_torch_check(F.conv1d, _X1G, W1G1[..., :2], padding="same"),
            ),
        ),
        errors=(
            ErrorSample({"x": _X1G, "weight": W1G1, "padding": -1}, ValueError, "padding"),
            ErrorSample({"x": _X1G, "weight": W1G1, "padding": 10**6}, ValueError, "padding"),
            ErrorSample({"x": _X1G, "weight": W1G1[:, :2]}, ValueError, "x"),
            ErrorSample({"x": _X1G[..., :2], "weight": W1G1}, ValueError, "output size"),
        ),
    ),
    Entry(
        "kernels.cpu.conv1d.conv1d_circular_fft",
        samples=(
            Sample(
                {"x": _X1G, "weight": W1G1, "bias": B3},
                check=_torch_check(
                    lambda x, w, b: F.conv1d(F.pad(x, (1, 1), mode="circular"), w, b),
                    _X1G,
                    W1G1,
                    B3,
                ),
            ),
        ),
        errors=(
            ErrorSample({"x": _X1G, "weight": W1G1[..., :2]}, ValueError, "weight"),
            ErrorSample({"x": _X1G[..., :2], "weight": W1G1}, ValueError, "x"),
            ErrorSample({"x": _X1G, "weight": W1G1, "bias": B3[:2]}, ValueError, "bias"),
        ),
    ),
    Entry(
        "kernels.cpu.conv2d_matrix.doubly_block_toeplitz",
        samples=(
            Sample(
                {"kernel": W2G1[0, 0], "height": 4, "width": 5},
                check=lambda r: np.allclose(
                    r @ X2ODD[0, 0, :4].reshape(-1),
                    F.conv2d(*_t(X2ODD[:1, :1, :4], W2G1[:1, :1])).numpy().reshape(-1),
                ),
            ),
        ),
        errors=(
            ErrorSample({"kernel": W2G1[0, 0], "height": 0, "width": 5}, ValueError, "height"),
            ErrorSample({"kernel": W2G1[0, 0], "height": 4, "width": 10**5}, ValueError, "width"),
            ErrorSample({"kernel": W2G1[0, 0], "height": 2, "width": 5}, ValueError, "height"),
            ErrorSample({"kernel": W2G1[0], "height": 4, "width": 5}, ValueError, "kernel"),
        ),
        domains={"height": positive_int, "width": positive_int},
    ),
    Entry(
        "kernels.cpu.conv2d_matrix.conv2d_toeplitz",
        samples=(
            Sample(
                {"x": X2ODD, "weight": W2G1, "bias": B3, "padding": (1, 0)},
                check=_torch_check(F.conv2d, X2ODD, W2G1, B3, padding=(1, 0)),
            ),
            Sample(
                {"x": X2ODD, "weight": W2G1[..., :2], "padding": "same"},
                check=_torch_check(F.conv2d, X2ODD, W2G1[..., :2], padding="same"),
            ),
        ),
        errors=(
            ErrorSample({"x": X2ODD, "weight": W2G1, "padding": 10**6}, ValueError, "padding"),
            ErrorSample(
                {"x": np.zeros((1, 16, 32, 32)), "weight": np.zeros((16, 16, 3, 3)), "padding": 1},
                ValueError,
                "MAX_ELEMENTS",
            ),
            ErrorSample({"x": X2ODD, "weight": W2G1[:, :1]}, ValueError, "x"),
        ),
    ),
    Entry(
        "kernels.cpu.conv2d_matrix.conv2d_circular_fft",
        samples=(
            Sample(
                {"x": X2ODD, "weight": W2G1, "bias": B3},
                check=_torch_check(
                    lambda x, w, b: F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), w, b),
                    X2ODD,
                    W2G1,
                    B3,
                ),
            ),
        ),
        errors=(
            ErrorSample({"x": X2ODD, "weight": W2G1[..., :2]}, ValueError, "weight"),
            ErrorSample({"x": X2ODD[..., :2], "weight": W2G1}, ValueError, "x"),
        ),
    ),
]

ENTRIES = CONV_ENTRIES + CONV2D_ENTRIES + MATRIX_ENTRIES


# Outside-fuzz finding (FUZZ_FINDINGS.md 15): an np.matrix operand is refused by name (it
# leaked numpy's einsum "subscripts ... do not match" error for an unbatched input).
def _matrix(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # numpy discourages np.matrix: that is the point
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(a)


_FINDINGS = {
    "kernels.cpu.conv.conv_transpose1d": (
        ErrorSample({**_T1, "input": _matrix(X1[0])}, TypeError, "input.*subclass"),
    ),
    "kernels.cpu.conv.conv1d": (
        ErrorSample({"input": _matrix(X1[0]), "weight": W1G1}, TypeError, "input.*subclass"),
    ),
}
assert set(_FINDINGS) <= {e.target for e in ENTRIES}
ENTRIES = [replace(e, errors=e.errors + _FINDINGS.get(e.target, ())) for e in ENTRIES]
