"""Bad-input entries for :mod:`kernels.gpu.norm` (the Triton normalization kernels; torch
tensors, the CPU module's argument names and rules)."""

from __future__ import annotations

import numpy as np
import torch

from kernels.cpu import norm as cn
from tests.badinput.kernels_norm import _rms_eps, finite_float
from tests.badinput.table import Entry, ErrorSample, Sample, boolean
from tests.gpu_support import DEV

_RNG = np.random.default_rng(2)
XN = _RNG.standard_normal((4, 6, 5)) * 2 + 1
WN, BN = _RNG.standard_normal(6), _RNG.standard_normal(6)
RMN, RVN = _RNG.standard_normal(6), _RNG.uniform(0.5, 2.0, 6)
LWN, LBN = _RNG.standard_normal((6, 5)), _RNG.standard_normal((6, 5))
GN = _RNG.standard_normal(XN.shape)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).to(DEV)


X, W, B, RM, RV, LW, LB, G = (_t(a) for a in (XN, WN, BN, RMN, RVN, LWN, LBN, GN))
K = "kernels.gpu.norm."


def _like(ref_fn, *args):
    """The result equals the float64 CPU kernel's on the same arguments."""

    def check(result):
        ref = ref_fn(*args)
        pairs = zip(result, ref, strict=True) if isinstance(ref, tuple) else [(result, ref)]
        for got, want in pairs:
            assert (got is None) == (want is None)
            if got is not None:
                assert np.allclose(got.cpu().numpy(), want, rtol=1e-12, atol=1e-12)

    return check


def _errors(base: dict) -> tuple[ErrorSample, ...]:
    return (
        ErrorSample({**base, "eps": float("inf")}, ValueError, "eps"),
        ErrorSample({**base, "eps": "1e-5"}, TypeError, "eps"),
        ErrorSample({**base, "x": X.to(torch.int64)}, TypeError, "x"),
        ErrorSample({**base, "x": XN}, TypeError, "x"),
        ErrorSample({**base, "x": X.clone().requires_grad_(True)}, ValueError, "x"),
    )


BATCH = {
    "x": X,
    "running_mean": None,
    "running_var": None,
    "weight": W,
    "bias": B,
    "training": True,
    "momentum": 0.1,
    "eps": 1e-5,
}
BATCH_EVAL = {**BATCH, "running_mean": RM, "running_var": RV, "training": False}
INST = {**BATCH, "use_input_stats": True}
del INST["training"]
INST_EVAL = {**INST, "running_mean": RM, "running_var": RV, "use_input_stats": False}
LAYER = {"x": X, "normalized_shape": (6, 5), "weight": LW, "bias": LB, "eps": 1e-5}
GROUP = {"x": X, "num_groups": 3, "weight": W, "bias": B, "eps": 1e-5}
RMS = {"x": X, "normalized_shape": (6, 5), "weight": LW, "eps": None}


def _running_updated(y):
    """Training with buffers updates them in place exactly as the CPU kernel."""
    rm, rv = RMN.copy(), RVN.copy()
    cn.batch_norm(XN, rm, rv, WN, BN, True, 0.1, 1e-5)
    rm_t, rv_t = RM.clone(), RV.clone()
    from kernels.gpu import norm as gn

    gn.batch_norm(X, rm_t, rv_t, W, B, True, 0.1, 1e-5)
    assert np.allclose(rm_t.cpu().numpy(), rm, rtol=1e-13, atol=1e-13)
    assert np.allclose(rv_t.cpu().numpy(), rv, rtol=1e-13, atol=1e-13)


ENTRIES = [
    Entry(
        K + "batch_norm",
        samples=(
            Sample(BATCH, check=_like(cn.batch_norm, XN, None, None, WN, BN, True, 0.1, 1e-5)),
            Sample(BATCH_EVAL, check=_like(cn.batch_norm, XN, RMN, RVN, WN, BN, False, 0.1, 1e-5)),
            Sample({**BATCH, "running_mean": RM, "running_var": RV}, check=_running_updated),
            Sample({**BATCH, "x": X[:0]}, check=lambda y: y.shape == (0, 6, 5)),
        ),
        errors=(
            *_errors(BATCH),
            ErrorSample({**BATCH, "eps": 0.0}, ValueError, "eps"),
            ErrorSample({**BATCH, "training": "False"}, TypeError, "training"),
            ErrorSample({**BATCH_EVAL, "running_var": None}, ValueError, "running_var"),
            ErrorSample({**BATCH_EVAL, "running_var": -RV}, ValueError, "^running_var:.*negative"),
            ErrorSample({**BATCH, "weight": W.float()}, TypeError, "weight"),
            ErrorSample({**BATCH, "weight": W[:5]}, ValueError, "weight"),
        ),
        domains={"training": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "batch_norm_backward",
        samples=(
            Sample(
                {"grad_out": G, **BATCH},
                check=_like(cn.batch_norm_backward, GN, XN, None, None, WN, BN, True, 0.1, 1e-5),
            ),
            Sample(
                {"grad_out": G, **BATCH_EVAL},
                check=_like(cn.batch_norm_backward, GN, XN, RMN, RVN, WN, BN, False, 0.1, 1e-5),
            ),
        ),
        errors=(
            ErrorSample({"grad_out": G[:1], **BATCH}, ValueError, "grad_out"),
            ErrorSample({"grad_out": G.float(), **BATCH}, TypeError, "grad_out"),
        ),
        domains={"training": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "instance_norm",
        samples=(
            Sample(INST, check=_like(cn.instance_norm, XN, None, None, WN, BN, True, 0.1, 1e-5)),
            Sample(
                INST_EVAL, check=_like(cn.instance_norm, XN, RMN, RVN, WN, BN, False, 0.1, 1e-5)
            ),
        ),
        errors=(
            *_errors(INST),
            ErrorSample({**INST, "use_input_stats": 1}, TypeError, "use_input_stats"),
            ErrorSample({**INST, "x": X[..., :1]}, ValueError, "x"),
            ErrorSample({**INST, "x": torch.ones_like(X), "eps": 0.0}, ValueError, "^eps"),
        ),
        domains={"use_input_stats": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "instance_norm_backward",
        samples=(
            Sample(
                {"grad_out": G, **INST},
                check=_like(cn.instance_norm_backward, GN, XN, None, None, WN, BN, True, 0.1, 1e-5),
            ),
            Sample({"grad_out": G, **INST_EVAL}),
        ),
        errors=(ErrorSample({"grad_out": G[:1], **INST}, ValueError, "grad_out"),),
        domains={"use_input_stats": boolean, "momentum": finite_float},
    ),
    Entry(
        K + "layer_norm",
        samples=(
            Sample(LAYER, check=_like(cn.layer_norm, XN, (6, 5), LWN, LBN, 1e-5)),
            Sample({**LAYER, "normalized_shape": 5, "weight": LW[0], "bias": LB[0]}),
            Sample({**LAYER, "x": X[:0]}, check=lambda y: y.shape == (0, 6, 5)),
        ),
        errors=(
            *_errors({**LAYER, "weight": None}),
            ErrorSample({**LAYER, "normalized_shape": (5, 6)}, ValueError, "normalized_shape"),
            ErrorSample({**LAYER, "normalized_shape": "5"}, TypeError, "normalized_shape"),
            ErrorSample({**LAYER, "x": torch.ones_like(X), "eps": 0.0}, ValueError, "^eps"),
        ),
    ),
    Entry(
        K + "layer_norm_backward",
        samples=(
            Sample(
                {"grad_out": G, **LAYER},
                check=_like(cn.layer_norm_backward, GN, XN, (6, 5), LWN, LBN, 1e-5),
            ),
        ),
        errors=(ErrorSample({"grad_out": G[:1], **LAYER}, ValueError, "grad_out"),),
    ),
    Entry(
        K + "group_norm",
        samples=(
            Sample(GROUP, check=_like(cn.group_norm, XN, 3, WN, BN, 1e-5)),
            Sample({**GROUP, "num_groups": 1, "weight": None, "bias": None}),
        ),
        errors=(
            *_errors(GROUP),
            ErrorSample({**GROUP, "num_groups": 4}, ValueError, "num_groups"),
            ErrorSample({**GROUP, "num_groups": 2.0}, TypeError, "num_groups"),
        ),
    ),
    Entry(
        K + "group_norm_backward",
        samples=(
            Sample(
                {"grad_out": G, **GROUP},
                check=_like(cn.group_norm_backward, GN, XN, 3, WN, BN, 1e-5),
            ),
        ),
        errors=(ErrorSample({"grad_out": G[:1], **GROUP}, ValueError, "grad_out"),),
    ),
    Entry(
        K + "rms_norm",
        samples=(
            Sample(RMS, check=_like(cn.rms_norm, XN, (6, 5), LWN, None)),
            Sample({**RMS, "normalized_shape": 5, "weight": None, "eps": 1e-5}),
            Sample({**RMS, "x": X[:0]}, check=lambda y: y.shape == (0, 6, 5)),
        ),
        errors=(
            *_errors(RMS),
            ErrorSample({**RMS, "x": torch.zeros_like(X), "eps": 0.0}, ValueError, "^eps"),
            ErrorSample({**RMS, "weight": LW[0]}, ValueError, "weight"),
        ),
        domains={"eps": _rms_eps},
    ),
    Entry(
        K + "rms_norm_backward",
        samples=(
            Sample(
                {"grad_out": G, **RMS},
                check=_like(cn.rms_norm_backward, GN, XN, (6, 5), LWN, None),
            ),
        ),
        errors=(ErrorSample({"grad_out": G[:1], **RMS}, ValueError, "grad_out"),),
        domains={"eps": _rms_eps},
    ),
]
