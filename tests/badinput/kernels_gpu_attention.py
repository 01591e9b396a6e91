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


# --------------------------------------------------------------------------- fused attention
# Valid samples cover every kernel specialization the compile check must see: non-causal and
# causal, L < S and L > S, GQA, head tiles 16, 32 (Ev = 24, masked), 64, 128 and 256 (E = 200,
# masked), and the backward kernels.

_F = torch.nn.functional


def _t(*shape, seed):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).float().to(_DEV)


Q1, K1, V1 = _t(2, 3, 5, 16, seed=1), _t(2, 3, 7, 16, seed=2), _t(2, 3, 7, 24, seed=3)
G1 = _t(2, 3, 5, 24, seed=4)
Q2, K2, V2 = _t(1, 4, 7, 64, seed=5), _t(1, 2, 5, 64, seed=6), _t(1, 2, 5, 64, seed=7)
G2 = _t(1, 4, 7, 64, seed=8)
Q3, K3, V3 = _t(1, 3, 128, seed=9), _t(1, 3, 128, seed=10), _t(1, 3, 128, seed=11)
G3 = _t(1, 3, 128, seed=12)
Q4, K4, V4 = _t(2, 200, seed=13), _t(3, 200, seed=14), _t(3, 16, seed=15)
G4 = _t(2, 16, seed=16)


def _torch_sdpa(q, k, v, causal=False, gqa=False, scale=None):
    return _F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa, scale=scale)


def _torch_grads(g, q, k, v, causal=False, gqa=False, scale=None):
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    _torch_sdpa(*leaves, causal, gqa, scale).backward(g)
    return tuple(t.grad for t in leaves)


def _torch_lse(q, k, causal=False, gqa=False, scale=None):
    if gqa:
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], -3)
    sc = 1 / q.shape[-1] ** 0.5 if scale is None else scale
    s = sc * q @ k.transpose(-1, -2)
    if causal:
        keep = torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return torch.logsumexp(s, -1)


def _close_all(expected):
    def check(result):
        assert isinstance(result, tuple) and len(result) == len(expected)
        for r, e in zip(result, expected, strict=True):
            assert r.dtype == e.dtype and r.shape == e.shape
            torch.testing.assert_close(r, e)

    return check


def _sdpa_sample(q, k, v, causal=False, gqa=False, scale=None):
    kw = {"query": q, "key": k, "value": v, "is_causal": causal, "enable_gqa": gqa}
    if scale is not None:
        kw["scale"] = scale
    return Sample(kw, check=_close(_torch_sdpa(q, k, v, causal, gqa, scale)))


def _bwd_sample(g, q, k, v, causal=False, gqa=False, scale=None):
    kw = {"grad_output": g, "query": q, "key": k, "value": v, "is_causal": causal}
    kw.update({"enable_gqa": gqa, "scale": scale})
    return Sample(kw, check=_close_all(_torch_grads(g, q, k, v, causal, gqa, scale)))


def _lse_sample(q, k, v, causal=False, gqa=False):
    kw = {"query": q, "key": k, "value": v, "is_causal": causal, "enable_gqa": gqa}
    want = (_torch_sdpa(q, k, v, causal, gqa), _torch_lse(q, k, causal, gqa))
    return Sample(kw, check=_close_all(want))


def _saved_sample(g, q, k, v, causal=False, gqa=False):
    out, lse = _torch_sdpa(q, k, v, causal, gqa), _torch_lse(q, k, causal, gqa)
    kw = {"grad_output": g, "query": q, "key": k, "value": v, "out": out, "lse": lse}
    kw.update({"is_causal": causal, "enable_gqa": gqa})
    return Sample(kw, check=_close_all(_torch_grads(g, q, k, v, causal, gqa)))


_SDPA_DOMAINS = {
    "attn_mask": lambda m: m is None,
    "dropout_p": lambda p: (
        not isinstance(p, bool | np.bool_)
        and isinstance(p, int | float | np.integer | np.floating)
        and p == 0
    ),
    "is_causal": lambda b: isinstance(b, bool),
    "enable_gqa": lambda b: isinstance(b, bool),
}
_FLAGS = {k: _SDPA_DOMAINS[k] for k in ("is_causal", "enable_gqa")}
_QKV = {"query": Q1, "key": K1, "value": V1}
_BQKV = {"grad_output": G1, **_QKV}
_MASK = torch.ones(5, 7, dtype=torch.bool, device=_DEV)
_NAN = Q1.clone()
_NAN[1, 2, 3, 4] = float("nan")
_KINF = K1.clone()
_KINF[0, 0, 6, 0] = float("inf")


def _common_errors(base: dict) -> tuple[ErrorSample, ...]:
    return (
        ErrorSample({**base, "key": K1[..., :8]}, ValueError, "key must have the query's last"),
        ErrorSample({**base, "value": V1[..., :6, :]}, ValueError, "value must have the key's"),
        ErrorSample({**base, "key": K1[..., :0, :], "value": V1[..., :0, :]}, ValueError, "key"),
        ErrorSample({**base, "value": V1.double()}, TypeError, "value"),
        ErrorSample({**base, "query": Q1.cpu().numpy()}, TypeError, "query"),
        ErrorSample({**base, "query": Q1[0, 0, 0]}, ValueError, "query"),
        ErrorSample({**base, "query": _NAN}, ValueError, "query must have finite entries"),
        ErrorSample({**base, "key": _KINF}, ValueError, "key must have finite entries"),
        ErrorSample({**base, "key": K1[:, :2]}, ValueError, "query and key do not broadcast"),
        ErrorSample({**base, "is_causal": 1}, TypeError, "is_causal"),
        ErrorSample({**base, "enable_gqa": "yes"}, TypeError, "enable_gqa"),
        ErrorSample(
            {**base, "enable_gqa": True, "key": K1[:, :2], "value": V1[:, :2]},
            ValueError,
            "enable_gqa",
        ),
        ErrorSample({**base, "scale": float("nan")}, ValueError, "scale"),
        ErrorSample({**base, "scale": 1e38}, ValueError, r"query, key and scale .* overflow"),
        ErrorSample(
            {
                **base,
                "query": _t(1, 2, 300, seed=0),
                "key": _t(1, 2, 300, seed=0),
                "value": _t(1, 2, 4, seed=0),
            },
            ValueError,
            "query: the fused kernel takes head dimensions E <= 256",
        ),
    )


ENTRIES += [
    Entry(
        K + "scaled_dot_product_attention",
        samples=(
            _sdpa_sample(Q1, K1, V1),
            _sdpa_sample(Q1, K1, V1, causal=True),
            _sdpa_sample(Q2, K2, V2, causal=True, gqa=True),
            _sdpa_sample(Q2, K2, V2, gqa=True),
            _sdpa_sample(Q3, K3, V3, causal=True, scale=-0.3),
            _sdpa_sample(Q4, K4, V4),
        ),
        errors=(
            *_common_errors(_QKV),
            ErrorSample({**_QKV, "attn_mask": _MASK}, ValueError, "attn_mask must be None"),
            ErrorSample({**_QKV, "attn_mask": _MASK, "is_causal": True}, ValueError, "attn_mask"),
            ErrorSample({**_QKV, "dropout_p": 0.1}, ValueError, "dropout_p must be 0"),
        ),
        domains=_SDPA_DOMAINS,
    ),
    Entry(
        K + "scaled_dot_product_attention_backward",
        samples=(
            _bwd_sample(G1, Q1, K1, V1),
            _bwd_sample(G1, Q1, K1, V1, causal=True),
            _bwd_sample(G2, Q2, K2, V2, causal=True, gqa=True),
            _bwd_sample(G3, Q3, K3, V3, scale=0.7),
            _bwd_sample(G2, Q2, K2, V2, gqa=True),
            _bwd_sample(G3, Q3, K3, V3, causal=True),
            _bwd_sample(G4, Q4, K4, V4, causal=True),
        ),
        errors=(
            *_common_errors(_BQKV),
            ErrorSample({**_BQKV, "grad_output": G1[..., :3]}, ValueError, "grad_output"),
            ErrorSample({**_BQKV, "grad_output": G1.double()}, TypeError, "grad_output"),
            ErrorSample(
                {**_BQKV, "grad_output": G1 * float("inf")}, ValueError, "grad_output must have"
            ),
            ErrorSample({**_BQKV, "attn_mask": _MASK}, ValueError, "attn_mask must be None"),
            ErrorSample({**_BQKV, "dropout_p": 0.5}, ValueError, "dropout_p"),
        ),
        domains=_SDPA_DOMAINS,
    ),
    Entry(
        K + "flash_attention_forward",
        samples=(
            _lse_sample(Q1, K1, V1),
            _lse_sample(Q2, K2, V2, causal=True, gqa=True),
            _lse_sample(Q3, K3, V3, causal=True),
        ),
        errors=_common_errors(_QKV),
        domains=_FLAGS,
    ),
    Entry(
        K + "flash_attention_backward",
        samples=(
            _saved_sample(G1, Q1, K1, V1),
            _saved_sample(G2, Q2, K2, V2, causal=True, gqa=True),
            _saved_sample(G4, Q4, K4, V4, causal=True),
        ),
        errors=(
            ErrorSample({**_BQKV, "out": G1, "lse": _torch_lse(Q1, K1).double()}, TypeError, "lse"),
            ErrorSample(
                {**_BQKV, "out": G1, "lse": _torch_lse(Q1, K1)[..., :4]}, ValueError, "lse"
            ),
            ErrorSample(
                {**_BQKV, "out": G1[..., :2], "lse": _torch_lse(Q1, K1)}, ValueError, "out"
            ),
            ErrorSample({**_BQKV, "out": G1.double(), "lse": _torch_lse(Q1, K1)}, TypeError, "out"),
            ErrorSample(
                {**_BQKV, "out": G1, "lse": _torch_lse(Q1, K1) * float("nan")},
                ValueError,
                "lse must have finite",
            ),
        ),
        domains=_FLAGS,
    ),
]
