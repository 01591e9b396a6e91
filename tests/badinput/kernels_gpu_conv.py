"""Bad-input entries for :mod:`kernels.gpu.conv` (the Triton implicit-GEMM convolutions; torch
tensors on the kernels' device, the CPU module's argument names and rules).

The valid samples are float64 and checked against the float64 NumPy kernel
(:mod:`kernels.cpu.conv`). Together (``tests.gpu_compile`` runs them in every dtype) they launch
every kernel of :mod:`kernels.gpu._conv_kernels` with every constexpr: the GEMM forward with
and without bias, the depthwise kernel with and without bias (multiplier 1 and 2), the
input-gradient kernel without bias (``conv2d_backward``) and with it (``conv_transpose2d``),
the split-K weight gradient and the bias reduction.
"""

from __future__ import annotations

import numpy as np
import torch

from kernels.cpu import conv as cpu
from tests.badinput.table import Entry, ErrorSample, Sample, positive_int
from tests.gpu_support import DEV

_RNG = np.random.default_rng(16)
XN = _RNG.standard_normal((2, 4, 6, 5))
WN = _RNG.standard_normal((6, 2, 3, 2))  # groups 2 -> C_out 6
BN = _RNG.standard_normal(6)
WDN = _RNG.standard_normal((8, 1, 3, 3))  # depthwise, groups 4, multiplier 2
BDN = _RNG.standard_normal(8)
WTN = _RNG.standard_normal((4, 3, 2, 3))  # transposed: (C_in, C_out/G, K), groups 2 -> C_out 6
X1N = _RNG.standard_normal((2, 4, 7))
W1N = _RNG.standard_normal((6, 2, 3))
WT1N = _RNG.standard_normal((4, 3, 3))


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(DEV)


X, W, B, WD, BD, WT = (_t(a) for a in (XN, WN, BN, WDN, BDN, WTN))
X1, W1, WT1 = (_t(a) for a in (X1N, W1N, WT1N))
K = "kernels.gpu.conv."

_FWD = {"stride": 1, "padding": "same", "dilation": (1, 2), "groups": 2}
_DEPTH = {"stride": (2, 1), "padding": (1, 0), "dilation": 1, "groups": 4}
_TR = {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0), "groups": 2,
       "dilation": (1, 2)}  # fmt: skip


def _np(v):
    return None if v is None else v.detach().cpu().numpy()


def _like(ref_fn, **kwargs):
    """The result equals the float64 CPU kernel's on the same arguments (1e-12)."""
    ref = ref_fn(**{k: _np(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()})

    def check(result):
        pairs = zip(result, ref, strict=True) if isinstance(ref, tuple) else [(result, ref)]
        for got, want in pairs:
            assert (got is None) == (want is None)
            if got is not None:
                assert tuple(got.shape) == want.shape, (got.shape, want.shape)
                assert np.allclose(_np(got), want, rtol=1e-12, atol=1e-12)

    return check


def _sample(fn_name: str, **kwargs) -> Sample:
    return Sample(kwargs, check=_like(getattr(cpu, fn_name), **kwargs))


def _g(shape) -> torch.Tensor:
    return _t(np.random.default_rng(7).standard_normal(shape))


G2 = _g((2, 6, 6, 5))  # conv2d(X, W, **_FWD)
GD = _g((4, 3, 3))  # conv2d(X[1], WD, **_DEPTH), unbatched
GT = _g((2, 6, 11, 9))  # conv_transpose2d(X, WT, **_TR)
assert cpu.conv_transpose2d(XN, WTN, **_TR).shape == GT.shape
assert cpu.conv2d(XN, WN, **_FWD).shape == G2.shape
assert cpu.conv2d(XN[1], WDN[:4], **_DEPTH).shape == GD.shape


def _errors(base: dict, bad_weight: torch.Tensor, transposed: bool = False, nd: int = 2) -> tuple:
    x, w = base["input"], base["weight"]
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
        ErrorSample({**base, "stride": (1,) * (nd + 1)}, ValueError, "stride"),
        ErrorSample({**base, "input": x.long()}, TypeError, "input"),
        ErrorSample({**base, "input": x.cpu().numpy()}, TypeError, "input"),
        ErrorSample({**base, "input": x.clone().requires_grad_()}, ValueError, "input"),
        ErrorSample({**base, "input": x[None]}, ValueError, "input"),
        ErrorSample({**base, "weight": w.float()}, TypeError, "weight"),
        ErrorSample({**base, "bias": B[:-1]}, ValueError, "bias"),
        ErrorSample({**base, "bias": B.float()}, TypeError, "bias"),
    ]
    if transposed:
        out += [
            ErrorSample({**base, "output_padding": 2, "stride": 2}, ValueError, "output_padding"),
            ErrorSample({**base, "padding": "same"}, ValueError, "padding"),
        ]
    else:
        out += [
            ErrorSample({**base, "padding": "full"}, ValueError, "padding"),
            ErrorSample({**base, "padding": "same", "stride": 2}, ValueError, "stride"),
        ]
    return tuple(out)


def _grad_errors(base: dict, g: torch.Tensor) -> tuple:
    return (
        ErrorSample({**base, "grad_output": g[..., :-1]}, ValueError, "grad_output"),
        ErrorSample({**base, "grad_output": g.float()}, TypeError, "grad_output"),
        ErrorSample({**base, "grad_output": g.cpu().numpy()}, TypeError, "grad_output"),
        ErrorSample({**base, "grad_output": None}, TypeError, "grad_output"),
    )


_C = {"input": X, "weight": W, "bias": B, **_FWD}
_T = {"input": X, "weight": WT, "bias": B, **_TR}

ENTRIES = [
    Entry(
        K + "conv2d",
        samples=(
            _sample("conv2d", **_C),  # GEMM forward, bias
            _sample("conv2d", input=X[1], weight=W, stride=2, padding=(1, 2), groups=2),
            _sample("conv2d", input=X, weight=WD, bias=BD, **_DEPTH),  # depthwise, bias
            _sample("conv2d", input=X[1], weight=WD[:4], **_DEPTH),  # depthwise, multiplier 1
        ),
        errors=_errors(_C, W[:, :1]),
        domains={"groups": positive_int},
    ),
    Entry(
        K + "conv2d_backward",
        samples=(
            _sample("conv2d_backward", grad_output=G2, **_C),
            _sample("conv2d_backward", grad_output=GD, input=X[1], weight=WD[:4], **_DEPTH),
        ),
        errors=_grad_errors(_C, G2),
        domains={"groups": positive_int},
    ),
    Entry(
        K + "conv_transpose2d",
        samples=(
            _sample("conv_transpose2d", **_T),  # the input-gradient kernel with a fused bias
            _sample("conv_transpose2d", input=X[0], weight=WT, stride=2, groups=2),
        ),
        errors=_errors(_T, WT[:3], transposed=True),
        domains={"groups": positive_int},
    ),
    Entry(
        K + "conv_transpose2d_backward",
        samples=(_sample("conv_transpose2d_backward", grad_output=GT, **_T),),
        errors=_grad_errors(_T, GT),
        domains={"groups": positive_int},
    ),
]

_C1_KW = {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}
_T1_KW = {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 1}
_C1 = {"input": X1, "weight": W1, "bias": B, **_C1_KW}
_T1 = {"input": X1, "weight": WT1, "bias": B, **_T1_KW}
G1 = _g((2, 6, 3))  # conv1d(X1, W1, **_C1_KW)
GT1 = _g((2, 6, 14))  # conv_transpose1d(X1, WT1, **_T1_KW)
assert cpu.conv1d(X1N, W1N, **_C1_KW).shape == G1.shape
assert cpu.conv_transpose1d(X1N, WT1N, **_T1_KW).shape == GT1.shape

ENTRIES += [
    Entry(
        K + "conv1d",
        samples=(
            _sample("conv1d", **_C1),
            _sample("conv1d", input=X1[0], weight=W1, padding="same", groups=2),
        ),
        errors=_errors(_C1, W1[:, :1], nd=1),
        domains={"groups": positive_int},
    ),
    Entry(
        K + "conv1d_backward",
        samples=(_sample("conv1d_backward", grad_output=G1, **_C1),),
        errors=_grad_errors(_C1, G1),
        domains={"groups": positive_int},
    ),
    Entry(
        K + "conv_transpose1d",
        samples=(_sample("conv_transpose1d", **_T1),),
        errors=_errors(_T1, WT1[:3], transposed=True, nd=1),
        domains={"groups": positive_int},
    ),
    Entry(
        K + "conv_transpose1d_backward",
        samples=(_sample("conv_transpose1d_backward", grad_output=GT1, **_T1),),
        errors=_grad_errors(_T1, GT1),
        domains={"groups": positive_int},
    ),
]
