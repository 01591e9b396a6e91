"""Bad-input entries for :mod:`kernels.gpu.embedding` (the Triton lookup and scatter-add).

Samples: int64 and int32 index tensors with repeats, a 0-d index, an empty batch, padding
rows counted from either end, both accumulation modes. Errors: indices out of range (either
side), float/bool/uint8 index tensors, ``padding_idx`` outside ``[-V, V)`` or a bool, a
non-bool ``deterministic``, a NaN in a row looked up, mismatched ``grad_output``.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from tests.badinput.table import Entry, ErrorSample, Sample, boolean
from tests.gpu_support import DEV

K = "kernels.gpu.embedding."


_DEV = DEV
_rng = np.random.default_rng(16)
IDX = torch.tensor([[0, 3, 3], [4, 1, 0]], device=_DEV)
W = torch.from_numpy(_rng.standard_normal((5, 2))).to(_DEV)
WF = W.float()
G = torch.from_numpy(_rng.standard_normal((2, 3, 2))).to(_DEV)
W_NAN = W.clone()
W_NAN[3, 1] = float("nan")


def _padding_domain(v) -> bool:
    """None or an integer (not a bool) in [-V, V) for the sample's V = 5."""
    if v is None:
        return True
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
        return False
    return -5 <= int(v) < 5


def _equals(expected: torch.Tensor):
    def check(result):
        assert torch.equal(result, expected)

    return check


def _grad(pad, idx=IDX, g=G):
    def check(result):
        t = W.clone().requires_grad_(True)
        F.embedding(idx, t, padding_idx=pad).backward(g)
        torch.testing.assert_close(result, t.grad, rtol=1e-12, atol=1e-12)

    return check


EMB = {"input": IDX, "weight": W, "padding_idx": None}
EMB_ERRORS = (
    ErrorSample(
        {**EMB, "input": torch.tensor([0, 5], device=_DEV)},
        ValueError,
        r"input: index 5 out of range",
    ),
    ErrorSample(
        {**EMB, "input": torch.tensor([-1, 2], device=_DEV)},
        ValueError,
        r"input: index -1 out of range",
    ),
    ErrorSample({**EMB, "input": IDX.double()}, TypeError, r"input.*integer"),
    ErrorSample({**EMB, "input": IDX > 1}, TypeError, r"input.*integer"),
    ErrorSample({**EMB, "input": IDX.to(torch.uint8)}, TypeError, r"input.*int32 or int64"),
    ErrorSample({**EMB, "input": IDX.cpu().numpy()}, TypeError, "input"),
    ErrorSample({**EMB, "weight": W[:, :, None]}, ValueError, "weight"),
    ErrorSample({**EMB, "weight": W.to(torch.int64)}, TypeError, "weight"),
    ErrorSample({**EMB, "weight": W[:0]}, ValueError, "weight"),
    ErrorSample({**EMB, "padding_idx": 5}, ValueError, r"padding_idx.*\[-5, 5\)"),
    ErrorSample({**EMB, "padding_idx": -6}, ValueError, "padding_idx"),
    ErrorSample({**EMB, "padding_idx": True}, TypeError, "padding_idx"),
    ErrorSample({**EMB, "padding_idx": 1.0}, TypeError, "padding_idx"),
)

ENTRIES = [
    Entry(
        K + "embedding",
        samples=(
            Sample(EMB, check=_equals(W[IDX])),
            Sample({**EMB, "weight": WF, "padding_idx": -1}, check=_equals(WF[IDX])),
            Sample(
                {**EMB, "input": torch.tensor(3, dtype=torch.int32, device=_DEV)},
                check=_equals(W[3]),
            ),
            Sample({**EMB, "input": IDX[:0]}, check=lambda r: r.shape == (0, 3, 2)),
        ),
        errors=(
            *EMB_ERRORS,
            ErrorSample({**EMB, "weight": W_NAN}, ValueError, "weight must have finite entries"),
        ),
        domains={"padding_idx": _padding_domain},
    ),
    Entry(
        K + "embedding_backward",
        samples=(
            Sample({"grad_output": G, **EMB}, check=_grad(None)),
            Sample({"grad_output": G, **EMB, "padding_idx": 3}, check=_grad(3)),
            Sample(
                {"grad_output": G, **EMB, "padding_idx": -5, "deterministic": False},
                check=_grad(-5),
            ),
            Sample(
                {"grad_output": G[:0], **EMB, "input": IDX[:0]},
                check=lambda r: bool((r == 0).all()) and r.shape == (5, 2),
            ),
        ),
        errors=(
            *(
                ErrorSample({"grad_output": G, **e.kwargs}, e.exc, e.match)
                for e in EMB_ERRORS
                if e.kwargs["input"] is IDX
            ),
            ErrorSample(
                {**EMB, "grad_output": G[0, :2], "input": torch.tensor([0, 5], device=_DEV)},
                ValueError,
                r"input: index 5 out of range",
            ),
            ErrorSample(
                {**EMB, "grad_output": G[0, :2], "input": torch.tensor([-1, 2], device=_DEV)},
                ValueError,
                r"input: index -1 out of range",
            ),
            ErrorSample(
                {**EMB, "grad_output": G, "input": IDX.to(torch.uint8)},
                TypeError,
                r"input.*int32 or int64",
            ),
            ErrorSample({"grad_output": G[:, :2], **EMB}, ValueError, "grad_output"),
            ErrorSample({"grad_output": G.float(), **EMB}, TypeError, "grad_output"),
            ErrorSample({"grad_output": G, **EMB, "weight": W[:, :1]}, ValueError, "weight"),
            ErrorSample({"grad_output": G, **EMB, "deterministic": 1}, TypeError, "deterministic"),
            ErrorSample(
                {"grad_output": G * float("nan"), **EMB}, ValueError, "grad_output must have finite"
            ),
        ),
        domains={"padding_idx": _padding_domain, "deterministic": boolean},
    ),
]
