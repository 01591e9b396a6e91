"""Bad-input entries for :mod:`kernels.gpu.pool` (torch tensors on the kernels' device: the CPU
under Triton's interpreter, CUDA on a GPU; the table skips them where no kernel can run)."""

from __future__ import annotations

import torch

from tests.badinput.table import Entry, ErrorSample, Sample, boolean
from tests.gpu_support import DEV

_GEN = torch.Generator().manual_seed(0)
X = torch.randn(2, 3, 6, 5, generator=_GEN).to(DEV)  # (N, C, H, W)
U = torch.randn(3, 6, 5, generator=_GEN).to(DEV)  # unbatched (C, H, W)
RAMP = torch.arange(8.0).reshape(1, 1, 1, 8).to(DEV)
G = torch.ones(2, 3, 4, 3, device=DEV)  # the output of X with kernel 3, stride 2, padding 1, ceil
P = "kernels.gpu.pool."


def _equal(values: list[float]):
    def check(result):
        value = result[0] if isinstance(result, tuple) else result
        assert value.flatten().tolist() == values, (value, values)

    return check


def _indices(result) -> None:
    y, idx = result
    assert idx.dtype == torch.int64 and idx.shape == y.shape
    assert torch.equal(X.flatten(2).gather(2, idx.flatten(2)).reshape(y.shape), y)


BASE = {"x": X, "kernel_size": 3, "stride": 2, "padding": 1}
PADDING_ONLY = {
    "x": torch.ones(1, 1, 1, 1, device=DEV),
    "kernel_size": 2,
    "stride": 1,
    "padding": 1,
    "dilation": 2,
}

MAX_ERRORS = (
    ErrorSample({**BASE, "kernel_size": 0}, ValueError, "kernel_size"),
    ErrorSample({**BASE, "padding": 2}, ValueError, "padding"),
    ErrorSample({**BASE, "stride": 0}, ValueError, "stride"),
    ErrorSample({**BASE, "dilation": 0}, ValueError, "dilation"),
    ErrorSample({**BASE, "ceil_mode": "False"}, TypeError, "ceil_mode"),
    ErrorSample({**BASE, "x": X[0, 0]}, ValueError, "x"),
    ErrorSample({**BASE, "x": X.cpu().numpy()}, TypeError, "x"),
    ErrorSample({**BASE, "x": X.double().requires_grad_()}, ValueError, "x"),
    ErrorSample(
        PADDING_ONLY,
        ValueError,
        "only padding",
        note="the deliberate difference from torch: a window of padding only",
    ),
)

AVG_BASE = {**BASE, "ceil_mode": True}
AVG_EXTRA = {"count_include_pad": False, "divisor_override": 2}

ENTRIES = [
    Entry(
        P + "max_pool2d",
        samples=(
            Sample(
                {**BASE, "dilation": 1, "ceil_mode": True, "return_indices": True},
                check=_indices,
            ),
            Sample({**BASE, "x": U, "ceil_mode": False, "return_indices": False}),
            Sample(
                {"x": RAMP, "kernel_size": (1, 2), "return_indices": False},
                check=_equal([1.0, 3.0, 5.0, 7.0]),
            ),
        ),
        errors=MAX_ERRORS,
        domains={"ceil_mode": boolean, "return_indices": boolean},
    ),
    Entry(
        P + "max_pool2d_backward",
        samples=(
            Sample({"grad_out": G, **BASE, "dilation": 1, "ceil_mode": True}),
            Sample({"grad_out": G[0], **BASE, "x": U, "ceil_mode": True}),
            Sample(
                {"grad_out": torch.ones(1, 1, 1, 4, device=DEV), "x": RAMP, "kernel_size": (1, 2)},
                check=_equal([0.0, 1.0] * 4),
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_out": torch.ones(2, 3, 9, device=DEV), **BASE}, ValueError, "grad_out"
            ),
            ErrorSample({"grad_out": G.double(), **BASE, "ceil_mode": True}, TypeError, "grad_out"),
            ErrorSample({"grad_out": G.cpu().numpy(), **BASE}, TypeError, "grad_out"),
            ErrorSample({"grad_out": G, **PADDING_ONLY}, ValueError, "only padding"),
        ),
        domains={"ceil_mode": boolean},
    ),
    Entry(
        P + "avg_pool2d",
        samples=(
            Sample({**AVG_BASE, **AVG_EXTRA}),
            Sample({**AVG_BASE, "x": U}),
            Sample({"x": RAMP, "kernel_size": (1, 2)}, check=_equal([0.5, 2.5, 4.5, 6.5])),
        ),
        errors=(
            ErrorSample({**AVG_BASE, "kernel_size": (1, 2, 3)}, ValueError, "kernel_size"),
            ErrorSample({**AVG_BASE, "padding": -1}, ValueError, "padding"),
            ErrorSample({**AVG_BASE, "count_include_pad": 1}, TypeError, "count_include_pad"),
            ErrorSample({**AVG_BASE, "divisor_override": 0}, ValueError, "divisor_override"),
            ErrorSample({**AVG_BASE, "divisor_override": 2.0}, TypeError, "divisor_override"),
            ErrorSample({**AVG_BASE, "x": X.long()}, TypeError, "x"),
        ),
        domains={"ceil_mode": boolean, "count_include_pad": boolean},
    ),
    Entry(
        P + "avg_pool2d_backward",
        samples=(
            Sample({"grad_out": G, **AVG_BASE, **AVG_EXTRA}),
            Sample({"grad_out": G[0], **AVG_BASE, "x": U}),
            Sample(
                {"grad_out": torch.ones(1, 1, 1, 4, device=DEV), "x": RAMP, "kernel_size": (1, 2)},
                check=_equal([0.5] * 8),
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_out": torch.ones(3, device=DEV), **AVG_BASE}, ValueError, "grad_out"
            ),
            ErrorSample({"grad_out": G.double(), **AVG_BASE}, TypeError, "grad_out"),
        ),
        domains={"ceil_mode": boolean, "count_include_pad": boolean},
    ),
]
