"""Bad-input entries for :mod:`kernels.cpu.linear`, :mod:`kernels.cpu.layers` and
:mod:`kernels.cpu.mlp`.

Layer classes are entered through a ``make`` that returns their parameter dict (arrays, so
that equivalent spellings can be compared); the issue's examples are error samples here:
``Conv2d(groups=0)`` (once ZeroDivisionError), ``lowrank_linear(x=[...])`` (once
AttributeError), ``mlp_forward``/``mlp_backward`` with anything (once unchecked).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from kernels.cpu import layers
from tests.badinput.table import Entry, ErrorSample, Sample, boolean, positive_int

_rng = np.random.default_rng(11)
X = _rng.standard_normal((2, 3, 4))
W = _rng.standard_normal((5, 4))
B = _rng.standard_normal(5)
G = _rng.standard_normal((2, 3, 5))
X2 = X[0]
U = _rng.standard_normal((5, 2))
V = _rng.standard_normal((2, 4))


def _close(expected):
    def check(result):
        assert np.allclose(result, expected, rtol=1e-12, atol=1e-12)

    return check


def _linear_grads(x, w, b, g):
    ts = [torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b)]
    F.linear(*ts).backward(torch.from_numpy(g))
    expected = [t.grad.numpy() for t in ts]

    def check(result):
        for ours, theirs in zip(result, expected, strict=True):
            assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)

    return check


def _params(cls):
    """The layer's constructor returning its parameter dict (comparable with ``==``)."""

    def make(*args, **kwargs):
        return cls(*args, **kwargs).params

    return make


R = np.random.default_rng
_BLOCKS = {(0, 1): _rng.standard_normal((2, 3)), (1, 0): _rng.standard_normal((1, 1))}
_XB = _rng.standard_normal((3, 4))
_dense = np.zeros((3, 4))
_dense[0:2, 1:4] = _BLOCKS[(0, 1)]
_dense[2:3, 0:1] = _BLOCKS[(1, 0)]
_BB = _rng.standard_normal(3)

LINEAR = [
    Entry(
        "kernels.cpu.linear.linear",
        samples=(
            Sample({"input": X, "weight": W, "bias": B}, check=_close(X @ W.T + B)),
            Sample({"input": X2[0], "weight": W[0]}, check=_close(X2[0] @ W[0])),
            Sample({"input": X[:0], "weight": W}, check=lambda r: r.shape == (0, 3, 5)),
        ),
        errors=(
            ErrorSample({"input": X, "weight": W[:, :3]}, ValueError, "weight"),
            ErrorSample({"input": X, "weight": W, "bias": B[:2]}, ValueError, "bias"),
            ErrorSample({"input": X.tolist(), "weight": W}, TypeError, "input"),
            ErrorSample({"input": X.astype(np.int64), "weight": W}, TypeError, "input"),
            ErrorSample({"input": X, "weight": W.astype(np.float32)}, TypeError, "weight"),
            ErrorSample({"input": np.ones(()), "weight": W}, ValueError, "input"),
        ),
    ),
    Entry(
        "kernels.cpu.linear.linear_backward",
        samples=(
            Sample(
                {"grad_output": G, "input": X, "weight": W, "bias": True},
                check=_linear_grads(X, W, B, G),
            ),
            Sample(
                {"grad_output": G, "input": X, "weight": W, "bias": B},
                check=_linear_grads(X, W, B, G),
            ),
            Sample(
                {"grad_output": G, "input": X, "weight": W, "bias": None},
                check=lambda r: r[2] is None,
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_output": G[..., :2], "input": X, "weight": W}, ValueError, "grad_output"
            ),
            ErrorSample(
                {"grad_output": G, "input": X, "weight": W, "bias": "False"}, TypeError, "bias"
            ),
            ErrorSample({"grad_output": G, "input": X, "weight": W, "bias": 1}, TypeError, "bias"),
        ),
    ),
    Entry(
        "kernels.cpu.linear.lowrank_linear",
        samples=(Sample({"x": X, "u": U, "v": V, "bias": B}, check=_close(X @ V.T @ U.T + B)),),
        errors=(
            ErrorSample({"x": X.tolist(), "u": U, "v": V}, TypeError, "x"),
            ErrorSample({"x": X, "u": U[:, :1], "v": V}, ValueError, "u"),
            ErrorSample({"x": X, "u": U, "v": V[:, :2]}, ValueError, "v"),
            ErrorSample({"x": X, "u": U, "v": V[0]}, ValueError, "v"),
        ),
    ),
    Entry(
        "kernels.cpu.linear.block_sparse_linear",
        samples=(
            Sample(
                {
                    "x": _XB,
                    "blocks": _BLOCKS,
                    "row_sizes": (2, 1),
                    "col_sizes": (1, 3),
                    "bias": _BB,
                },
                check=_close(_XB @ _dense.T + _BB),
            ),
            Sample(
                {"x": _XB, "blocks": {}, "row_sizes": (2, 1), "col_sizes": (1, 3)},
                check=_close(np.zeros((3, 3))),
            ),
        ),
        errors=(
            ErrorSample(
                {"x": _XB, "blocks": _BLOCKS, "row_sizes": (2, 0), "col_sizes": (1, 3)},
                ValueError,
                "row_sizes",
            ),
            ErrorSample(
                {"x": _XB, "blocks": _BLOCKS, "row_sizes": (2, 1), "col_sizes": (1, 2)},
                ValueError,
                "col_sizes",
            ),
            ErrorSample(
                {"x": _XB, "blocks": {(5, 0): _BB}, "row_sizes": (2, 1), "col_sizes": (1, 3)},
                ValueError,
                "blocks",
            ),
            ErrorSample(
                {"x": _XB, "blocks": [], "row_sizes": (2, 1), "col_sizes": (1, 3)},
                TypeError,
                "blocks",
            ),
            ErrorSample(
                {"x": _XB, "blocks": _BLOCKS, "row_sizes": (2, 10**9), "col_sizes": (1, 3)},
                ValueError,
                "row_sizes",
            ),
        ),
    ),
]

_LIN = {"in_features": 4, "out_features": 3, "bias": True, "rng": R(1), "dtype": np.float64}
_LR = {"in_features": 4, "out_features": 3, "rank": 2, "bias": True, "rng": R(1),
       "dtype": np.float32}  # fmt: skip
_BS = {"row_sizes": (2, 1), "col_sizes": (1, 3), "mask": [[True, False], [False, True]],
       "bias": True, "rng": R(1), "dtype": np.float64}  # fmt: skip
_CV = {"in_channels": 4, "out_channels": 6, "kernel_size": (3, 2), "stride": 2, "padding": 1,
       "dilation": (1, 2), "groups": 2, "bias": True, "rng": R(1), "dtype": np.float64}  # fmt: skip
_DS = {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 1, "padding": "same",
       "dilation": 1, "bias": True, "rng": R(1), "dtype": np.float64}  # fmt: skip


def _shapes(expected):
    def check(params):
        assert {k: v.shape for k, v in params.items()} == expected

    return check


def _num_params(n):
    def check(count):
        assert count == n

    return check


LAYERS = [
    Entry(
        "kernels.cpu.layers.Layer",
        samples=(Sample({}, check=lambda layer: layer.num_params() == 0),),
        result="any",
        fuzz=False,
        note="no arguments: the base class",
    ),
    Entry(
        "kernels.cpu.layers.Layer.num_params",
        make=lambda: layers.Linear(4, 3).num_params,
        samples=(Sample({}, check=_num_params(15)),),
        result="count",
        fuzz=False,
        note="no arguments: counts the entries of the layer's arrays",
    ),
    Entry(
        "kernels.cpu.layers.Linear",
        make=lambda: _params(layers.Linear),
        samples=(Sample(_LIN, check=_shapes({"weight": (3, 4), "bias": (3,)})),),
        errors=(
            ErrorSample({**_LIN, "in_features": 0}, ValueError, "in_features"),
            ErrorSample({**_LIN, "bias": "False"}, TypeError, "bias"),
            ErrorSample({**_LIN, "rng": 0}, TypeError, "rng"),
            ErrorSample({**_LIN, "dtype": np.int64}, TypeError, "dtype"),
            ErrorSample({**_LIN, "out_features": 10**9}, ValueError, "out_features"),
        ),
        domains={"in_features": positive_int, "out_features": positive_int, "bias": boolean},
    ),
    Entry(
        "kernels.cpu.layers.LowRankLinear",
        make=lambda: _params(layers.LowRankLinear),
        samples=(Sample(_LR, check=_shapes({"u": (3, 2), "v": (2, 4), "bias": (3,)})),),
        errors=(
            ErrorSample({**_LR, "rank": 0}, ValueError, "rank"),
            ErrorSample({**_LR, "rank": 2.0}, TypeError, "rank"),
            ErrorSample({**_LR, "dtype": "float16"}, TypeError, "dtype"),
        ),
        domains={
            "in_features": positive_int,
            "out_features": positive_int,
            "rank": positive_int,
            "bias": boolean,
        },
    ),
    Entry(
        "kernels.cpu.layers.BlockSparseLinear",
        make=lambda: _params(layers.BlockSparseLinear),
        samples=(
            Sample(_BS, check=_shapes({"block_0_0": (2, 1), "block_1_1": (1, 3), "bias": (3,)})),
        ),
        errors=(
            ErrorSample({**_BS, "mask": [[True, False]]}, TypeError, "mask"),
            ErrorSample({**_BS, "mask": [[1, 0], [0, 1]]}, TypeError, "mask"),
            ErrorSample({**_BS, "row_sizes": (2, -1)}, ValueError, "row_sizes"),
            ErrorSample({**_BS, "col_sizes": 3}, TypeError, "col_sizes"),
        ),
        domains={"bias": boolean},
    ),
    Entry(
        "kernels.cpu.layers.BlockSparseLinear.dense_weight",
        make=lambda: layers.BlockSparseLinear(**{**_BS, "rng": R(1)}).dense_weight,
        samples=(Sample({}, check=lambda w: w.shape == (3, 4) and (w[0:2, 1:4] == 0).all()),),
        fuzz=False,
        note="no arguments: the dense matrix of the layer's blocks",
    ),
    Entry(
        "kernels.cpu.layers.Conv2d",
        make=lambda: _params(layers.Conv2d),
        samples=(Sample(_CV, check=_shapes({"weight": (6, 2, 3, 2), "bias": (6,)})),),
        errors=(
            ErrorSample({**_CV, "groups": 0}, ValueError, "groups"),
            ErrorSample({**_CV, "groups": 3}, ValueError, "groups"),
            ErrorSample({**_CV, "kernel_size": (3, 0)}, ValueError, "kernel_size"),
            ErrorSample({**_CV, "padding": "full"}, ValueError, "padding"),
            ErrorSample({**_CV, "padding": "same"}, ValueError, "stride"),
            ErrorSample({**_CV, "stride": -1}, ValueError, "stride"),
            ErrorSample({**_CV, "dilation": 1.5}, TypeError, "dilation"),
            ErrorSample({**_CV, "bias": 1}, TypeError, "bias"),
        ),
        domains={
            "in_channels": positive_int,
            "out_channels": positive_int,
            "groups": positive_int,
            "bias": boolean,
        },
    ),
    Entry(
        "kernels.cpu.layers.DepthwiseSeparableConv2d",
        make=lambda: _params(layers.DepthwiseSeparableConv2d),
        samples=(
            Sample(
                _DS,
                check=_shapes(
                    {
                        "depthwise.weight": (4, 1, 3, 3),
                        "depthwise.bias": (4,),
                        "pointwise.weight": (6, 4, 1, 1),
                        "pointwise.bias": (6,),
                    }
                ),
            ),
        ),
        errors=(
            ErrorSample({**_DS, "in_channels": 0}, ValueError, "in_channels"),
            ErrorSample({**_DS, "kernel_size": "3"}, TypeError, "kernel_size"),
            ErrorSample({**_DS, "stride": 2}, ValueError, "stride"),
        ),
        domains={"in_channels": positive_int, "out_channels": positive_int, "bias": boolean},
    ),
]

# ------------------------------------------------------------------ mlp

_XM = _rng.standard_normal((3, 4))
_WS = [_rng.standard_normal((5, 4)), _rng.standard_normal((2, 5))]
_UP = _rng.standard_normal((3, 2))


def _hs(act):
    from kernels.cpu.mlp import mlp_forward

    return mlp_forward(_XM, _WS, act)


def _forward_check(act):
    phi = {"tanh": np.tanh, "relu": lambda h: np.maximum(h, 0)}[act]
    h1 = _XM @ _WS[0].T
    h2 = phi(h1) @ _WS[1].T

    def check(hs):
        assert len(hs) == 2 and np.allclose(hs[0], h1) and np.allclose(hs[1], h2)

    return check


def _backward_check(act):
    x = torch.from_numpy(_XM.copy()).requires_grad_()
    phi = {"tanh": torch.tanh, "relu": torch.relu}[act]
    h1 = x @ torch.from_numpy(_WS[0]).T
    x1 = phi(h1)
    x1.retain_grad()
    out = phi(x1 @ torch.from_numpy(_WS[1]).T)
    out.backward(torch.from_numpy(_UP))

    def check(grads):
        assert np.allclose(grads[0], x.grad.numpy()) and np.allclose(grads[1], x1.grad.numpy())

    return check


MLP = [
    Entry(
        "kernels.cpu.mlp.activation",
        samples=(
            Sample({"name": "tanh"}, check=lambda r: np.isclose(r[1](np.array(0.5)), 0.7864477)),
        ),
        errors=(
            ErrorSample({"name": "swish"}, ValueError, "activation"),
            ErrorSample({"name": 3}, TypeError, "name"),
        ),
        result="any",
    ),
    Entry(
        "kernels.cpu.mlp.mlp_forward",
        samples=(
            Sample({"x": _XM, "weights": _WS, "act": "tanh"}, check=_forward_check("tanh")),
            Sample({"x": _XM, "weights": _WS, "act": "relu"}, check=_forward_check("relu")),
        ),
        errors=(
            ErrorSample({"x": _XM, "weights": _WS, "act": "swish"}, ValueError, "act"),
            ErrorSample({"x": _XM, "weights": _WS[::-1], "act": "tanh"}, ValueError, "weights"),
            ErrorSample({"x": _XM.tolist(), "weights": _WS, "act": "tanh"}, TypeError, "x"),
            ErrorSample({"x": _XM, "weights": [], "act": "tanh"}, TypeError, "weights"),
            ErrorSample({"x": _XM, "weights": _WS, "act": None}, TypeError, "act"),
        ),
    ),
    Entry(
        "kernels.cpu.mlp.mlp_backward",
        samples=(
            Sample(
                {"upstream": _UP, "hs": _hs("tanh"), "weights": _WS, "act": "tanh"},
                check=_backward_check("tanh"),
            ),
            Sample(
                {"upstream": _UP, "hs": _hs("relu"), "weights": _WS, "act": "relu"},
                check=_backward_check("relu"),
            ),
        ),
        errors=(
            ErrorSample(
                {"upstream": _UP[:, :1], "hs": _hs("tanh"), "weights": _WS, "act": "tanh"},
                ValueError,
                "upstream",
            ),
            ErrorSample(
                {"upstream": _UP, "hs": _hs("tanh")[:1], "weights": _WS, "act": "tanh"},
                TypeError,
                "weights",
            ),
            ErrorSample(
                {"upstream": _UP, "hs": _hs("tanh"), "weights": _WS, "act": "gelu"},
                ValueError,
                "act",
            ),
            ErrorSample(
                {"upstream": _UP, "hs": None, "weights": _WS, "act": "tanh"}, TypeError, "hs"
            ),
        ),
    ),
]

ENTRIES = LINEAR + LAYERS + MLP


# Outside-fuzz findings (FUZZ_FINDINGS.md 14, 15, 18): np.matrix operands are refused by name
# (the rule of kernels.cpu._check), bytes are not sequences of sizes, a 0-d mask is not a grid.
def _matrix(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # numpy discourages np.matrix: that is the point
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(a)


_SUBCLASS = "subclass"  # the message says "not an ndarray subclass (matrix)"
_FINDINGS = {
    "kernels.cpu.linear.linear": (
        ErrorSample(
            {"input": _XB, "weight": _matrix(W), "bias": None}, TypeError, "weight.*" + _SUBCLASS
        ),
    ),
    "kernels.cpu.linear.lowrank_linear": (
        ErrorSample({"x": _XB, "u": _matrix(U), "v": V}, TypeError, "u.*" + _SUBCLASS),
        ErrorSample({"x": _XB, "u": U, "v": _matrix(V)}, TypeError, "v.*" + _SUBCLASS),
        ErrorSample({"x": _XB, "u": _matrix(U[:, :1]), "v": V}, TypeError, "u.*" + _SUBCLASS),
        ErrorSample({"x": _matrix(_XB), "u": U, "v": V}, TypeError, "x.*" + _SUBCLASS),
    ),
    "kernels.cpu.linear.block_sparse_linear": (
        ErrorSample(
            {
                "x": np.ones((3, 4)),
                "blocks": {(0, 0): np.ones((120, 4))},
                "row_sizes": b"x",
                "col_sizes": (4,),
            },
            TypeError,
            "row_sizes",
        ),
        ErrorSample(
            {"x": np.ones((3, 4)), "blocks": {}, "row_sizes": (1,), "col_sizes": bytearray([4])},
            TypeError,
            "col_sizes",
        ),
        ErrorSample(
            {
                "x": _XB,
                "blocks": {(0, 1): _matrix(_BLOCKS[(0, 1)])},
                "row_sizes": (2, 1),
                "col_sizes": (1, 3),
            },
            TypeError,
            "blocks.*" + _SUBCLASS,
        ),
    ),
    "kernels.cpu.layers.BlockSparseLinear": (
        ErrorSample({**_BS, "mask": np.array(3)}, TypeError, "mask"),
        ErrorSample({**_BS, "mask": np.ones((2, 3), bool)}, TypeError, "mask"),
        ErrorSample({**_BS, "mask": ["ab", "cd"]}, TypeError, "mask"),
        ErrorSample({**_BS, "row_sizes": bytes([2, 1])}, TypeError, "row_sizes"),
    ),
    "kernels.cpu.mlp.mlp_forward": (
        ErrorSample(
            {"x": _matrix(_XM), "weights": _WS, "act": "tanh"}, TypeError, "x.*" + _SUBCLASS
        ),
        ErrorSample(
            {"x": _XM, "weights": [_matrix(_WS[0]), _WS[1]], "act": "tanh"},
            TypeError,
            "weights.*" + _SUBCLASS,
        ),
    ),
    "kernels.cpu.mlp.mlp_backward": (
        ErrorSample(
            {"upstream": _matrix(_UP), "hs": _hs("tanh"), "weights": _WS, "act": "tanh"},
            TypeError,
            "upstream.*" + _SUBCLASS,
        ),
    ),
}
assert set(_FINDINGS) <= {e.target for e in ENTRIES}
ENTRIES = [replace(e, errors=e.errors + _FINDINGS.get(e.target, ())) for e in ENTRIES]
