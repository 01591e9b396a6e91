"""Bad-input entries for :mod:`kernels.gpu.attention` (the Triton row softmax).

Samples: a float32 matrix with masked (-inf) entries along either axis, a float64 3-D tensor,
a one-hot row. Errors: ``dim`` out of range or not an integer, an all ``-inf`` slice, NaN and
``+inf`` (``input``), a non-finite ``grad_output``, wrong dtypes, shapes and kinds (a NumPy
array, not a tensor). Tensors live where the kernels run (CPU under the interpreter).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from tests.badinput.table import Entry, ErrorSample, Sample
from tests.gpu_support import DEV

K = "kernels.gpu.attention."


_DEV = DEV
_rng = np.random.default_rng(15)
X = torch.from_numpy(_rng.standard_normal((3, 5))).float().to(_DEV)
X[0, 1] = X[2, 4] = X[1, 0] = float("-inf")
X3 = torch.from_numpy(_rng.standard_normal((2, 3, 4))).to(_DEV)
G = torch.from_numpy(_rng.standard_normal((3, 5))).float().to(_DEV)
ALL_MASKED = X.clone()
ALL_MASKED[1] = float("-inf")
NAN = X.clone()
NAN[2, 2] = float("nan")
PINF = X.clone()
PINF[0, 0] = float("inf")


def _close(expected: torch.Tensor):
    def check(result):
        assert isinstance(result, torch.Tensor) and result.dtype == expected.dtype
        torch.testing.assert_close(result, expected)

    return check


def _dim_domain(ndim: int):
    def pred(v) -> bool:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
            return False
        return -ndim <= int(v) < ndim

    pred.__name__ = f"dim_in_[-{ndim},{ndim})"
    return pred


def _torch_backward(g, x, dim):
    xt = x.clone().requires_grad_(True)
    torch.softmax(xt, dim).backward(g)
    return xt.grad


ENTRIES = [
    Entry(
        K + "softmax",
        samples=(
            Sample({"input": X, "dim": -1}, check=_close(torch.softmax(X, -1))),
            Sample({"input": X, "dim": 0}, check=_close(torch.softmax(X, 0))),
            Sample({"input": X3, "dim": 1}, check=_close(torch.softmax(X3, 1))),
        ),
        errors=(
            ErrorSample({"input": X, "dim": 2}, ValueError, "dim"),
            ErrorSample({"input": X, "dim": 1.0}, TypeError, "dim"),
            ErrorSample({"input": X, "dim": True}, TypeError, "dim"),
            ErrorSample(
                {"input": ALL_MASKED, "dim": -1}, ValueError, r"input: .* every entry -inf"
            ),
            ErrorSample({"input": NAN, "dim": -1}, ValueError, r"input must hold finite"),
            ErrorSample({"input": PINF, "dim": 0}, ValueError, r"input must hold finite"),
            ErrorSample({"input": X.to(torch.int64), "dim": -1}, TypeError, "input"),
            ErrorSample({"input": X.cpu().numpy(), "dim": -1}, TypeError, "input"),
            ErrorSample({"input": X[0, 0], "dim": 1}, ValueError, "dim"),  # 0-d: dim in {-1, 0}
        ),
        domains={"dim": _dim_domain(2)},
    ),
    Entry(
        K + "softmax_backward",
        samples=(
            Sample(
                {"grad_output": G, "input": X, "dim": -1}, check=_close(_torch_backward(G, X, -1))
            ),
            Sample(
                {"grad_output": G, "input": X, "dim": 0}, check=_close(_torch_backward(G, X, 0))
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_output": G[:, :4], "input": X, "dim": -1}, ValueError, "grad_output"
            ),
            ErrorSample(
                {"grad_output": G.double(), "input": X, "dim": -1}, TypeError, "grad_output"
            ),
            ErrorSample(
                {"grad_output": NAN, "input": X, "dim": -1},
                ValueError,
                "grad_output must have finite",
            ),
            ErrorSample({"grad_output": G, "input": ALL_MASKED, "dim": -1}, ValueError, "input"),
            ErrorSample({"grad_output": G, "input": X, "dim": -3}, ValueError, "dim"),
        ),
        domains={"dim": _dim_domain(2)},
    ),
]
