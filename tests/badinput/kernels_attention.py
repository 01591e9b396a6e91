"""Bad-input entries for :mod:`kernels.cpu.attention` (torch's SDPA / MultiheadAttention
signatures, positional encodings, relative scores, linear attention, sparse masks).

The issue's examples are error samples here: heads not dividing ``embed_dim``, masks that do
not broadcast, ``n = 0`` (an empty query is allowed, no keys is refused), mismatched dtypes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from tests.badinput.table import (
    Entry,
    ErrorSample,
    Sample,
    boolean,
    finite_float,
    nonneg_int,
    one_of,
    positive_float,
    positive_int,
)

K = "kernels.cpu.attention."
_rng = np.random.default_rng(23)
Q = _rng.standard_normal((3, 4))
KK = _rng.standard_normal((5, 4))
V = _rng.standard_normal((5, 2))
Q3 = _rng.standard_normal((2, 3, 4))
K3 = _rng.standard_normal((2, 5, 4))
V3 = _rng.standard_normal((2, 5, 2))
MASK = np.ones((3, 5), dtype=bool)
MASK[0, 1:] = False
FMASK = _rng.standard_normal((3, 5))
G = _rng.standard_normal((3, 2))
G3 = _rng.standard_normal((2, 3, 2))
QG = _rng.standard_normal((1, 4, 3, 2))  # gqa: 4 query heads, 2 key/value heads
KG = _rng.standard_normal((1, 2, 5, 2))
VG = _rng.standard_normal((1, 2, 5, 3))


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _close(expected):
    def check(result):
        assert np.allclose(result, expected, rtol=1e-12, atol=1e-12)

    return check


def _closes(expected):
    def check(result):
        for ours, theirs in zip(result, expected, strict=True):
            assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)

    return check


def _sdpa_torch(q, k, v, **kw):
    kw = {a: (T(b) if isinstance(b, np.ndarray) else b) for a, b in kw.items()}
    return F.scaled_dot_product_attention(T(q), T(k), T(v), **kw).numpy()


def _sdpa_grads(g, q, k, v, **kw):
    ts = [T(a.copy()).requires_grad_() for a in (q, k, v)]
    kw = {a: (T(b) if isinstance(b, np.ndarray) else b) for a, b in kw.items()}
    F.scaled_dot_product_attention(*ts, **kw).backward(T(g))
    return [t.grad.numpy() for t in ts]


def scale_ok(v) -> bool:
    return v is None or finite_float(v)


def zero(v) -> bool:
    return finite_float(v) and float(v) == 0.0


SDPA = {
    "query": Q,
    "key": KK,
    "value": V,
    "attn_mask": None,
    "dropout_p": 0.0,
    "is_causal": False,
    "scale": None,
    "enable_gqa": False,
}
SDPA_MASK = {**SDPA, "attn_mask": MASK}
SDPA_CAUSAL = {**SDPA, "query": Q3, "key": K3, "value": V3, "is_causal": True, "scale": 0.5}
SDPA_FLOAT = {**SDPA, "attn_mask": FMASK}
SDPA_GQA = {**SDPA, "query": QG, "key": KG, "value": VG, "enable_gqa": True}
SDPA_DOMAINS = {
    "dropout_p": zero,
    "is_causal": boolean,
    "enable_gqa": boolean,
    "scale": scale_ok,
}
SDPA_ERRORS = (
    ErrorSample({**SDPA, "key": KK[:0], "value": V[:0]}, ValueError, "key", note="S = 0"),
    ErrorSample({**SDPA, "key": KK.astype(np.float32)}, TypeError, "key"),
    ErrorSample({**SDPA, "value": V.astype(np.float32)}, TypeError, "value"),
    ErrorSample({**SDPA, "attn_mask": np.ones((2, 5), bool)}, ValueError, "attn_mask"),
    ErrorSample({**SDPA, "attn_mask": np.ones((4, 3, 5), bool)}, ValueError, "attn_mask"),
    ErrorSample({**SDPA, "attn_mask": np.zeros((3, 5), bool)}, ValueError, "attn_mask"),
    ErrorSample({**SDPA, "attn_mask": MASK.astype(np.int64)}, TypeError, "attn_mask"),
    ErrorSample({**SDPA_MASK, "is_causal": True}, ValueError, "is_causal"),
    ErrorSample({**SDPA, "dropout_p": 0.1}, ValueError, "dropout_p"),
    ErrorSample({**SDPA, "scale": float("nan")}, ValueError, "scale"),
    ErrorSample({**SDPA, "scale": 1e308}, ValueError, "scale"),
    ErrorSample({**SDPA, "is_causal": "False"}, TypeError, "is_causal"),
    ErrorSample({**SDPA, "query": Q[:, :3]}, ValueError, "query"),
    ErrorSample({**SDPA, "value": V[:4]}, ValueError, "value"),
    ErrorSample({**SDPA_GQA, "key": KG[:, :1].repeat(3, 1)}, ValueError, "enable_gqa"),
    ErrorSample({**SDPA, "enable_gqa": True}, ValueError, "enable_gqa"),
)

MH_E, MH_H = 4, 2
X = _rng.standard_normal((3, 2, MH_E))  # (L, N, E)
KX = _rng.standard_normal((5, 2, 3))  # kdim 3
VX = _rng.standard_normal((5, 2, 6))  # vdim 6
IW = _rng.standard_normal((3 * MH_E, MH_E)) * 0.5
IB = _rng.standard_normal(3 * MH_E)
OW = _rng.standard_normal((MH_E, MH_E))
OB = _rng.standard_normal(MH_E)
KPM = np.zeros((2, 3), dtype=bool)
KPM[0, 2] = True
AM = np.zeros((3, 3), dtype=bool)
AM[0, 1:] = True  # True = not allowed (torch MHA)
GM = _rng.standard_normal((3, 2, MH_E))

_BIG_Q = np.zeros((4096, 256))  # causal linear attention: 4096 * 256 * 256 prefix entries

MHA = {
    "query": X,
    "key": X,
    "value": X,
    "num_heads": MH_H,
    "in_proj_weight": IW,
    "in_proj_bias": IB,
    "out_proj_weight": OW,
    "out_proj_bias": OB,
    "key_padding_mask": None,
    "need_weights": True,
    "attn_mask": None,
    "average_attn_weights": True,
    "is_causal": False,
    "bias_k": None,
    "bias_v": None,
    "add_zero_attn": False,
    "q_proj_weight": None,
    "k_proj_weight": None,
    "v_proj_weight": None,
}
MHA_MASKED = {
    **MHA,
    "key_padding_mask": KPM,
    "attn_mask": AM,
    "average_attn_weights": False,
    "bias_k": _rng.standard_normal((1, 1, MH_E)),
    "bias_v": _rng.standard_normal((1, 1, MH_E)),
    "add_zero_attn": True,
}
MHA_SEPARATE = {
    **MHA,
    "key": KX,
    "value": VX,
    "in_proj_weight": None,
    "q_proj_weight": _rng.standard_normal((MH_E, MH_E)),
    "k_proj_weight": _rng.standard_normal((MH_E, 3)),
    "v_proj_weight": _rng.standard_normal((MH_E, 6)),
    "need_weights": False,
}
MHA_UNBATCHED = {**MHA, "query": X[:, 0], "key": X[:, 0], "value": X[:, 0], "num_heads": 4}
MHA_DOMAINS = {
    "need_weights": boolean,
    "average_attn_weights": boolean,
    "is_causal": boolean,
    "add_zero_attn": boolean,
}


def _torch_mha(kwargs):
    """The reference result of ``F.multi_head_attention_forward`` for a sample."""
    a = {k: (T(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    e = a["query"].shape[-1]
    out, w = F.multi_head_attention_forward(
        a["query"],
        a["key"],
        a["value"],
        e,
        a["num_heads"],
        a["in_proj_weight"],
        a["in_proj_bias"],
        a["bias_k"],
        a["bias_v"],
        a["add_zero_attn"],
        0.0,
        a["out_proj_weight"],
        a["out_proj_bias"],
        training=False,
        key_padding_mask=a["key_padding_mask"],
        need_weights=a["need_weights"],
        attn_mask=a["attn_mask"],
        use_separate_proj_weight=a["in_proj_weight"] is None,
        q_proj_weight=a["q_proj_weight"],
        k_proj_weight=a["k_proj_weight"],
        v_proj_weight=a["v_proj_weight"],
        average_attn_weights=a["average_attn_weights"],
    )

    def check(result):
        assert np.allclose(result[0], out.numpy(), rtol=1e-12, atol=1e-12)
        if w is None:
            assert result[1] is None
        else:
            assert np.allclose(result[1], w.numpy(), rtol=1e-12, atol=1e-12)

    return check


def _mha_grad_check(kwargs):
    """Gradients of the packed sample against torch autograd."""
    names = ("query", "key", "value", "in_proj_weight", "in_proj_bias", "out_proj_weight")
    leaves = {n: T(kwargs[n].copy()).requires_grad_() for n in names}
    out, _ = F.multi_head_attention_forward(
        leaves["query"],
        leaves["key"],
        leaves["value"],
        MH_E,
        kwargs["num_heads"],
        leaves["in_proj_weight"],
        leaves["in_proj_bias"],
        None,
        None,
        False,
        0.0,
        leaves["out_proj_weight"],
        T(kwargs["out_proj_bias"]),
        training=False,
    )
    out.backward(T(GM))

    def check(result):
        for n in names:
            assert np.allclose(result[n], leaves[n].grad.numpy(), rtol=1e-10, atol=1e-12), n

    return check


def _pe(n, d):
    pos = np.arange(n)[:, None]
    col = np.arange(d)[None, :]
    angle = pos / 10000.0 ** (2 * (col // 2) / d)
    return np.where(col % 2 == 0, np.sin(angle), np.cos(angle))


LX = _rng.standard_normal((2, 3, 4))
LW = _rng.standard_normal((5, 4))
LG = _rng.standard_normal((2, 3, 4))
RQ, RK = _rng.standard_normal((3, 2)), _rng.standard_normal((4, 2))
REL = _rng.standard_normal((6, 2))
RU, RV = _rng.standard_normal(2), _rng.standard_normal(2)
REL_ARGS = {"query": RQ, "key": RK, "rel": REL, "u": RU, "scale": None}


def _relative_check(v):
    def check(e):
        expected = np.empty((3, 4))
        for i in range(3):
            for j in range(4):
                r = REL[i - j + 3]
                expected[i, j] = (RQ[i] @ RK[j] + RQ[i] @ r + RU @ RK[j] + v @ r) / math.sqrt(2)
        assert np.allclose(e, expected, rtol=1e-12, atol=1e-12)

    return check


def _linear_check(causal):
    def phi(x):
        return np.where(x > 0, x + 1, np.exp(np.minimum(x, 0)))

    a = phi(Q) @ phi(KK).T
    if causal:
        a = a * np.tri(3, 5)
    w = a / a.sum(1, keepdims=True)
    return w


def _sparse_check(n, expected_count):
    def check(m):
        assert m.shape == (n, n) and m.dtype == np.bool_ and int(m.sum()) == expected_count

    return check


ENTRIES = [
    Entry(
        K + "softmax",
        samples=(
            Sample({"input": FMASK, "dim": -1}, check=_close(torch.softmax(T(FMASK), -1).numpy())),
            Sample({"input": FMASK, "dim": 0}, check=_close(torch.softmax(T(FMASK), 0).numpy())),
            Sample({"input": np.array([[0.0, -1000.0]]), "dim": -1}, check=_close([[1.0, 0.0]])),
        ),
        errors=(
            ErrorSample({"input": FMASK, "dim": 2}, ValueError, "dim"),
            ErrorSample({"input": FMASK, "dim": 1.0}, TypeError, "dim"),
            ErrorSample({"input": np.full((1, 2), -np.inf), "dim": -1}, ValueError, "input"),
            ErrorSample({"input": np.array([np.nan, 1.0]), "dim": -1}, ValueError, "input"),
            ErrorSample({"input": FMASK.astype(np.int64), "dim": -1}, TypeError, "input"),
        ),
    ),
    Entry(
        K + "softmax_backward",
        samples=(Sample({"grad_output": FMASK * 2, "input": FMASK, "dim": -1}),),
        errors=(
            ErrorSample({"grad_output": G, "input": FMASK, "dim": -1}, ValueError, "grad_output"),
            ErrorSample(
                {"grad_output": FMASK.astype(np.float32), "input": FMASK, "dim": -1},
                TypeError,
                "grad_output",
            ),
        ),
    ),
    Entry(
        K + "scaled_dot_product_attention",
        samples=(
            Sample(SDPA, check=_close(_sdpa_torch(Q, KK, V))),
            Sample(SDPA_MASK, check=_close(_sdpa_torch(Q, KK, V, attn_mask=MASK))),
            Sample(SDPA_FLOAT, check=_close(_sdpa_torch(Q, KK, V, attn_mask=FMASK))),
            Sample(SDPA_CAUSAL, check=_close(_sdpa_torch(Q3, K3, V3, is_causal=True, scale=0.5))),
            Sample(SDPA_GQA, check=_close(_sdpa_torch(QG, KG, VG, enable_gqa=True))),
            Sample({**SDPA, "query": Q[:0]}, check=lambda o: o.shape == (0, 2), note="L = 0"),
        ),
        errors=SDPA_ERRORS,
        domains=SDPA_DOMAINS,
    ),
    Entry(
        K + "scaled_dot_product_attention_backward",
        samples=(
            Sample({"grad_output": G, **SDPA}, check=_closes(_sdpa_grads(G, Q, KK, V))),
            Sample(
                {"grad_output": G, **SDPA_MASK},
                check=_closes(_sdpa_grads(G, Q, KK, V, attn_mask=MASK)),
            ),
            Sample(
                {"grad_output": G3, **SDPA_CAUSAL},
                check=_closes(_sdpa_grads(G3, Q3, K3, V3, is_causal=True, scale=0.5)),
            ),
            Sample({"grad_output": _rng.standard_normal((1, 4, 3, 3)), **SDPA_GQA}),
        ),
        errors=(
            ErrorSample({"grad_output": G3, **SDPA}, ValueError, "grad_output"),
            ErrorSample({"grad_output": G, **SDPA, "key": KK[:0]}, ValueError, "key"),
            ErrorSample({"grad_output": "g", **SDPA}, TypeError, "grad_output"),
        ),
        domains=SDPA_DOMAINS,
    ),
    Entry(
        K + "multi_head_attention",
        samples=(
            Sample(MHA, check=_torch_mha(MHA)),
            Sample(MHA_MASKED, check=_torch_mha(MHA_MASKED)),
            Sample(MHA_SEPARATE, check=_torch_mha(MHA_SEPARATE)),
            Sample(MHA_UNBATCHED, check=_torch_mha(MHA_UNBATCHED)),
        ),
        errors=(
            ErrorSample({**MHA, "num_heads": 3}, ValueError, "num_heads"),
            ErrorSample({**MHA, "num_heads": 0}, ValueError, "num_heads"),
            ErrorSample({**MHA, "num_heads": 2.0}, TypeError, "num_heads"),
            ErrorSample({**MHA, "key": X.astype(np.float32)}, TypeError, "key"),
            ErrorSample(
                {**MHA, "key_padding_mask": np.ones((2, 4), bool)}, ValueError, "key_padding_mask"
            ),
            ErrorSample({**MHA, "attn_mask": np.ones((5, 3), bool)}, ValueError, "attn_mask"),
            ErrorSample(
                {**MHA, "key_padding_mask": np.ones((2, 3), bool)},
                ValueError,
                "key_padding_mask",
                note="a fully padded sequence: torch returns NaN",
            ),
            ErrorSample({**MHA, "key": X[:0], "value": X[:0]}, ValueError, "key"),
            ErrorSample({**MHA, "is_causal": True}, ValueError, "is_causal"),
            ErrorSample({**MHA, "in_proj_weight": None}, ValueError, "in_proj_weight"),
            # one separate projection missing (mutation survivor: "or" -> "and")
            ErrorSample({**MHA_SEPARATE, "v_proj_weight": None}, ValueError, "v_proj_weight"),
            # only the key's batch size wrong (mutation survivor: "or" -> "and")
            ErrorSample({**MHA, "key": X[:, :1], "value": X}, ValueError, "key"),
            ErrorSample({**MHA, "bias_k": np.zeros((1, 1, 4))}, ValueError, "bias_k"),
            ErrorSample({**MHA, "key": KX, "value": VX}, ValueError, "key"),
        ),
        domains=MHA_DOMAINS,
        bad_values={"num_heads": (3, 8, np.int64(3))},
    ),
    Entry(
        K + "multi_head_attention_backward",
        samples=(
            Sample({"grad_output": GM, **MHA}, check=_mha_grad_check(MHA)),
            Sample({"grad_output": GM, **MHA_MASKED}),
            Sample({"grad_output": GM, **MHA_SEPARATE}),
            Sample({"grad_output": GM[:, 0], **MHA_UNBATCHED}),
        ),
        errors=(
            ErrorSample({"grad_output": GM[:1], **MHA}, ValueError, "grad_output"),
            ErrorSample({"grad_output": GM, **MHA, "num_heads": 3}, ValueError, "num_heads"),
        ),
        domains=MHA_DOMAINS,
    ),
    Entry(
        K + "sinusoidal_encoding",
        samples=(
            Sample(
                {"num_positions": 7, "embedding_dim": 6, "base": 10000.0}, check=_close(_pe(7, 6))
            ),
            Sample(
                {"num_positions": 4, "embedding_dim": 5, "base": 10000.0}, check=_close(_pe(4, 5))
            ),
            Sample(
                {"num_positions": 0, "embedding_dim": 3, "base": 100.0},
                check=lambda pe: pe.shape == (0, 3),
            ),
        ),
        errors=(
            ErrorSample({"num_positions": -1, "embedding_dim": 4}, ValueError, "num_positions"),
            ErrorSample({"num_positions": 3, "embedding_dim": 0}, ValueError, "embedding_dim"),
            ErrorSample({"num_positions": 3, "embedding_dim": 2.0}, TypeError, "embedding_dim"),
            ErrorSample({"num_positions": 3, "embedding_dim": 4, "base": 0.0}, ValueError, "base"),
            ErrorSample({"num_positions": 2**40, "embedding_dim": 4}, ValueError, "num_positions"),
        ),
        domains={
            "num_positions": nonneg_int,
            "embedding_dim": positive_int,
            "base": positive_float,
        },
    ),
    Entry(
        K + "learned_positional_encoding",
        samples=(
            Sample({"input": LX, "weight": LW}, check=_close(LX + LW[:3])),
            Sample({"input": LX[0, :0], "weight": LW}, check=lambda y: y.shape == (0, 4)),
        ),
        errors=(
            ErrorSample({"input": _rng.standard_normal((6, 4)), "weight": LW}, ValueError, "input"),
            ErrorSample({"input": LX, "weight": LW[:, :3]}, ValueError, "weight"),
            ErrorSample({"input": LX, "weight": LW.astype(np.float32)}, TypeError, "weight"),
        ),
    ),
    Entry(
        K + "learned_positional_encoding_backward",
        samples=(
            Sample(
                {"grad_output": LG, "input": LX, "weight": LW},
                check=lambda r: np.allclose(r[1][:3], LG.sum(0)) and (r[1][3:] == 0).all(),
            ),
        ),
        errors=(
            ErrorSample(
                {"grad_output": LG[0], "input": LX, "weight": LW}, ValueError, "grad_output"
            ),
        ),
    ),
    Entry(
        K + "relative_scores",
        samples=(
            Sample(REL_ARGS, check=_relative_check(RU)),
            Sample({**REL_ARGS, "query": RQ[None].repeat(2, 0), "scale": 0.25}),
        ),
        errors=(
            ErrorSample({**REL_ARGS, "rel": REL[:5]}, ValueError, "rel"),
            ErrorSample({**REL_ARGS, "u": RU[:1]}, ValueError, "u"),
            ErrorSample({**REL_ARGS, "key": RK[:, :1]}, ValueError, "key"),
            ErrorSample({**REL_ARGS, "key": RK.astype(np.float32)}, TypeError, "key"),
            ErrorSample({**REL_ARGS, "scale": "1"}, TypeError, "scale"),
        ),
        domains={"scale": scale_ok},
    ),
    Entry(
        K + "transformer_xl_scores",
        samples=(Sample({**REL_ARGS, "v": RV}, check=_relative_check(RV)),),
        errors=(
            ErrorSample({**REL_ARGS, "v": RV[:1]}, ValueError, "v"),
            ErrorSample({**REL_ARGS, "v": None}, TypeError, "v"),
        ),
        domains={"scale": scale_ok},
    ),
    Entry(
        K + "linear_attention",
        samples=(
            Sample(
                {"query": Q, "key": KK, "value": V, "feature_map": "elu+1", "causal": False},
                check=_close(_linear_check(False) @ V),
            ),
            Sample(
                {"query": Q, "key": KK, "value": V, "feature_map": "elu+1", "causal": True},
                check=_close(_linear_check(True) @ V),
            ),
            Sample({"query": Q3, "key": K3, "value": V3, "feature_map": "elu+1", "causal": True}),
        ),
        errors=(
            ErrorSample(
                {"query": Q, "key": KK, "value": V, "feature_map": "relu"},
                ValueError,
                "feature_map",
            ),
            ErrorSample({"query": Q, "key": KK[:0], "value": V[:0]}, ValueError, "key"),
            ErrorSample({"query": Q, "key": KK, "value": V[:3]}, ValueError, "value"),
            ErrorSample({"query": Q, "key": KK, "value": V.astype(np.float32)}, TypeError, "value"),
            ErrorSample({"query": Q, "key": KK, "value": V, "causal": 1}, TypeError, "causal"),
            # prefix sums of S x d x Ev = 2**28 entries: refused before allocating 2 GiB
            # (independent mutation survivor: the bound's product weakened to a quotient)
            ErrorSample(
                {"query": _BIG_Q, "key": _BIG_Q, "value": _BIG_Q, "causal": True},
                ValueError,
                "query, key, value",
            ),
        ),
        domains={"causal": boolean, "feature_map": one_of("elu+1")},
    ),
    Entry(
        K + "linear_attention_weights",
        samples=(
            Sample(
                {"query": Q, "key": KK, "feature_map": "elu+1", "causal": False},
                check=_close(_linear_check(False)),
            ),
            Sample(
                {"query": Q, "key": KK, "feature_map": "elu+1", "causal": True},
                check=_close(_linear_check(True)),
            ),
        ),
        errors=(
            ErrorSample({"query": Q, "key": KK[:, :2]}, ValueError, "key"),
            ErrorSample({"query": Q, "key": KK, "feature_map": None}, TypeError, "feature_map"),
        ),
        domains={"causal": boolean, "feature_map": one_of("elu+1")},
    ),
    Entry(
        K + "sparse_mask",
        samples=(
            Sample(
                {"length": 6, "pattern": "full", "stride": None, "window": None, "causal": True},
                check=_sparse_check(6, 21),
            ),
            Sample(
                {"length": 6, "pattern": "local", "stride": None, "window": 2, "causal": False},
                check=_sparse_check(6, 16),
            ),
            Sample(
                {"length": 9, "pattern": "strided", "stride": 3, "window": None, "causal": True},
                check=_sparse_check(9, 33),
            ),
            Sample(
                {"length": 8, "pattern": "fixed", "stride": 4, "window": 1, "causal": True},
                check=_sparse_check(8, 24),
            ),
            Sample(
                {"length": 0, "pattern": "full", "stride": None, "window": None, "causal": False},
                check=_sparse_check(0, 0),
            ),
        ),
        errors=(
            ErrorSample({"length": 4, "pattern": "dense"}, ValueError, "pattern"),
            ErrorSample({"length": 4, "pattern": "strided"}, ValueError, "stride"),
            ErrorSample({"length": 4, "pattern": "local", "window": 0}, ValueError, "window"),
            ErrorSample({"length": 4, "pattern": "full", "stride": 2}, ValueError, "stride"),
            ErrorSample(
                {"length": 4, "pattern": "fixed", "stride": 2, "window": 3}, ValueError, "window"
            ),
            ErrorSample({"length": 2**20, "pattern": "full"}, ValueError, "length"),
            ErrorSample({"length": 4, "pattern": "full", "causal": "True"}, TypeError, "causal"),
        ),
        domains={
            "length": nonneg_int,
            "pattern": one_of("full", "local", "strided", "fixed"),
            "causal": boolean,
        },
    ),
]
