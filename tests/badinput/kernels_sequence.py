"""Bad-input entries for :mod:`kernels.cpu.embedding` and :mod:`kernels.cpu.recurrent`
(torch's ``F.embedding`` and RNN/LSTM/GRU cell and layer layouts).

Error samples: an index out of range, float and bool indices, ``padding_idx`` outside
``[-V, V)`` or a bool, shapes that do not match (hidden size, input size, gate rows, batch),
an unknown ``nonlinearity``, flags that are not bools, states of the wrong rank.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of

KE = "kernels.cpu.embedding."
KR = "kernels.cpu.recurrent."
_rng = np.random.default_rng(12)

# ----------------------------------------------------------------------------- embedding

IDX = np.array([[0, 3, 3], [4, 1, 0]])
EW = _rng.standard_normal((5, 2))
EG = _rng.standard_normal((2, 3, 2))


def _padding_domain(v) -> bool:
    """None or an integer (not a bool) in [-V, V) for the sample's V = 5."""
    if v is None:
        return True
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
        return False
    return -5 <= int(v) < 5


def _equals(expected):
    def check(result):
        np.testing.assert_array_equal(result, expected)

    return check


def _embedding_grad(pad):
    def check(result):
        t = torch.from_numpy(EW.copy()).requires_grad_()
        F.embedding(torch.from_numpy(IDX), t, padding_idx=pad).backward(torch.from_numpy(EG))
        assert np.allclose(result, t.grad.numpy(), rtol=1e-12, atol=1e-12)

    return check


EMB = {"input": IDX, "weight": EW, "padding_idx": None}
EMB_ERRORS = (
    ErrorSample({**EMB, "input": np.array([0, 5])}, ValueError, r"input.*out of range"),
    ErrorSample({**EMB, "input": np.array([-1, 2])}, ValueError, r"input.*out of range"),
    ErrorSample({**EMB, "input": IDX.astype(np.float64)}, TypeError, r"input.*integer"),
    ErrorSample({**EMB, "input": IDX > 1}, TypeError, r"input.*integer"),
    ErrorSample({**EMB, "input": [0, 1]}, TypeError, "input"),
    ErrorSample({**EMB, "weight": EW[:, :, None]}, ValueError, "weight"),
    ErrorSample({**EMB, "weight": EW.astype(np.int64)}, TypeError, "weight"),
    ErrorSample({**EMB, "padding_idx": 5}, ValueError, r"padding_idx.*\[-5, 5\)"),
    ErrorSample({**EMB, "padding_idx": -6}, ValueError, "padding_idx"),
    ErrorSample({**EMB, "padding_idx": True}, TypeError, "padding_idx"),
    ErrorSample({**EMB, "padding_idx": 1.0}, TypeError, "padding_idx"),
)

# ----------------------------------------------------------------------------- recurrent

NB, D, H, L = 2, 3, 2, 3
X = _rng.standard_normal((NB, D))
HX = _rng.standard_normal((NB, H))
CX = _rng.standard_normal((NB, H))
GH = _rng.standard_normal((NB, H))
GC = _rng.standard_normal((NB, H))
XS = _rng.standard_normal((L, NB, D))
H0 = _rng.standard_normal((1, NB, H))
C0 = _rng.standard_normal((1, NB, H))
GO = _rng.standard_normal((L, NB, H))
GHN = _rng.standard_normal((1, NB, H))


def _params(G):
    return {
        "weight_ih": _rng.standard_normal((G * H, D)) * 0.7,
        "weight_hh": _rng.standard_normal((G * H, H)) * 0.7,
        "bias_ih": _rng.standard_normal(G * H) * 0.3,
        "bias_hh": _rng.standard_normal(G * H) * 0.3,
    }


P_RNN, P_LSTM, P_GRU = _params(1), _params(4), _params(3)


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _rnn_ref(x, h, p, relu=False):
    a = x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
    return np.maximum(a, 0) if relu else np.tanh(a)


def _lstm_ref(x, h, c, p):
    a = x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
    i, f, g, o = _sig(a[:, :H]), _sig(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]), a[:, 3 * H :]
    c2 = f * c + i * g
    return _sig(o) * np.tanh(c2), c2


def _gru_ref(x, h, p, before=False):
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    r, z = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    if before:
        cand = (r * h) @ p["weight_hh"][2 * H :].T + p["bias_hh"][2 * H :]
    else:
        cand = r * gh[:, 2 * H :]
    n = np.tanh(gi[:, 2 * H :] + cand)
    return (1 - z) * n + z * h


def _close(expected):
    def check(result):
        res = result if isinstance(result, tuple) else (result,)
        exp = expected if isinstance(expected, tuple) else (expected,)
        for a, b in zip(res, exp, strict=True):
            assert np.allclose(a, b, rtol=1e-12, atol=1e-12)

    return check


def _grad_keys(keys, shapes):
    def check(result):
        assert tuple(result) == keys, result.keys()
        for k, shape in zip(keys, shapes, strict=True):
            assert result[k].shape == shape, (k, result[k].shape)

    return check


def _unrolled(step, states):
    """Expected (output, state) of a sequence from a reference cell."""
    outs, st = [], states
    for t in range(L):
        st = step(XS[t], *st)
        st = st if isinstance(st, tuple) else (st,)
        outs.append(st[0])
    return np.stack(outs), st


CELL_KEYS = ("input", "hx", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
LSTM_CELL_KEYS = ("input", "hx", "cx", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
SEQ_KEYS = ("input", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
LSTM_SEQ_KEYS = ("input", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _shapes(keys, p, seq):
    first = {"input": XS.shape if seq else X.shape}
    st = H0.shape if seq else HX.shape
    for k in ("hx", "cx", "h0", "c0"):
        first[k] = st
    return tuple(first.get(k, p.get(k).shape if k in p else None) for k in keys)


def _shape_errors(base, state="hx"):
    """Errors shared by every recurrent entry (base holds input, the state and the params)."""
    inp = base["input"]
    return (
        ErrorSample({**base, "input": inp[..., :1]}, ValueError, r"input.*weight_ih"),
        ErrorSample({**base, "input": inp.astype(np.int64)}, TypeError, "input"),
        ErrorSample({**base, "input": inp[None]}, ValueError, "input"),
        ErrorSample({**base, state: base[state][..., :1]}, ValueError, rf"{state}.*hidden_size"),
        ErrorSample({**base, state: base[state][None]}, ValueError, state),
        ErrorSample(  # batch 1 against batch NB = 2: must not broadcast silently
            {**base, state: base[state][..., :1, :]}, ValueError, rf"{state}.*batch size"
        ),
        ErrorSample(
            {**base, "weight_hh": base["weight_hh"][:, :1]}, ValueError, r"weight_hh.*shape"
        ),
        ErrorSample({**base, "weight_ih": base["weight_ih"][:-1]}, ValueError, r"weight_ih.*rows"),
        ErrorSample({**base, "bias_ih": base["bias_ih"][:-1]}, ValueError, "bias_ih"),
        ErrorSample({**base, "bias_hh": base["bias_hh"].astype(np.float32)}, TypeError, "bias_hh"),
        ErrorSample({**base, "weight_ih": base["weight_ih"] * np.nan}, ValueError, "weight_ih"),
    )


RNN_CELL = {"input": X, "hx": HX, **P_RNN, "nonlinearity": "tanh"}
LSTM_CELL = {"input": X, "hx": HX, "cx": CX, **P_LSTM}
GRU_CELL = {"input": X, "hx": HX, **P_GRU}
RNN_SEQ = {"input": XS, "h0": H0, **P_RNN, "nonlinearity": "tanh"}
LSTM_SEQ = {"input": XS, "h0": H0, "c0": C0, **P_LSTM}
GRU_SEQ = {"input": XS, "h0": H0, **P_GRU, "reset_before": False}
NL = {"nonlinearity": one_of("tanh", "relu")}
NL_ERRORS = (
    lambda b: ErrorSample({**b, "nonlinearity": "sigmoid"}, ValueError, r"nonlinearity.*relu"),
    lambda b: ErrorSample({**b, "nonlinearity": None}, TypeError, "nonlinearity"),
)
RB = {"reset_before": boolean}
RB_ERRORS = (
    lambda b: ErrorSample({**b, "reset_before": "False"}, TypeError, "reset_before"),
    lambda b: ErrorSample({**b, "reset_before": 1}, TypeError, "reset_before"),
)


# L * N * (4H + I) = 2**20 * 257 cached gate entries > MAX_ELEMENTS = 2**27: refused before the
# loop over time (a zero-stride view keeps the sample itself small)
BIG_H = 64
BIG = {
    "input": np.broadcast_to(np.zeros(1), (2**20, 1, 1)),
    "h0": None,
    "weight_ih": np.zeros((BIG_H, 1)),
    "weight_hh": np.zeros((BIG_H, BIG_H)),
    "bias_ih": None,
    "bias_hh": None,
    "nonlinearity": "tanh",
}
# the input width matters too: L * (4H + I) = 2**20 * 132 > 2**27 with H = 1, I = 128
# (independent mutation survivor: "4H + I" weakened to "4H - I" passed the first sample)
BIG_WIDE = {
    **BIG,
    "input": np.broadcast_to(np.zeros(1), (2**20, 1, 128)),
    "weight_ih": np.zeros((1, 128)),
    "weight_hh": np.zeros((1, 1)),
}


def _rnn_seq_ref(relu=False):
    return _unrolled(lambda x, h: _rnn_ref(x, h, P_RNN, relu), (H0[0],))


def _seq_check(ref):
    out, st = ref

    def check(result):
        o, rest = result
        rest = rest if isinstance(rest, tuple) else (rest,)
        assert np.allclose(o, out, rtol=1e-12, atol=1e-12)
        for a, b in zip(rest, st, strict=True):
            assert np.allclose(a[0], b, rtol=1e-12, atol=1e-12)

    return check


ENTRIES = [
    Entry(
        KE + "embedding",
        samples=(
            Sample(EMB, check=_equals(EW[IDX])),
            Sample({**EMB, "padding_idx": -1}, check=_equals(EW[IDX])),
            Sample({**EMB, "input": np.array(3, dtype=np.int32)}, check=_equals(EW[3])),
            Sample({**EMB, "input": IDX[:0]}, check=lambda r: r.shape == (0, 3, 2)),
        ),
        errors=EMB_ERRORS,
        domains={"padding_idx": _padding_domain},
    ),
    Entry(
        KE + "embedding_backward",
        samples=(
            Sample({"grad_output": EG, **EMB}, check=_embedding_grad(None)),
            Sample({"grad_output": EG, **EMB, "padding_idx": 3}, check=_embedding_grad(3)),
            Sample({"grad_output": EG, **EMB, "padding_idx": -5}, check=_embedding_grad(-5)),
        ),
        errors=(
            *(ErrorSample({"grad_output": EG, **e.kwargs}, e.exc, e.match) for e in EMB_ERRORS),
            ErrorSample({"grad_output": EG[:, :2], **EMB}, ValueError, "grad_output"),
            ErrorSample({"grad_output": EG.astype(np.float32), **EMB}, TypeError, "grad_output"),
            ErrorSample({"grad_output": EG, **EMB, "weight": EW[:, :1]}, ValueError, "weight"),
        ),
        domains={"padding_idx": _padding_domain},
    ),
    Entry(
        KE + "one_hot_embedding",
        samples=(
            Sample({"input": IDX, "weight": EW}, check=_equals(EW[IDX])),
            Sample({"input": np.array([4], dtype=np.uint8), "weight": EW}, check=_equals(EW[[4]])),
        ),
        errors=tuple(
            ErrorSample({k: v for k, v in e.kwargs.items() if k != "padding_idx"}, e.exc, e.match)
            for e in EMB_ERRORS
            if e.kwargs["padding_idx"] is None
        ),
    ),
    # ------------------------------------------------------------------------- cells
    Entry(
        KR + "rnn_cell",
        samples=(
            Sample(RNN_CELL, check=_close(_rnn_ref(X, HX, P_RNN))),
            Sample(
                {**RNN_CELL, "nonlinearity": "relu"}, check=_close(_rnn_ref(X, HX, P_RNN, True))
            ),
            Sample(
                {**RNN_CELL, "input": X[0], "hx": None},
                check=_close(_rnn_ref(X[:1], np.zeros((1, H)), P_RNN)[0]),
            ),
            Sample({**RNN_CELL, "bias_ih": None, "bias_hh": None}),
        ),
        errors=(*_shape_errors(RNN_CELL), *(f(RNN_CELL) for f in NL_ERRORS)),
        domains=NL,
    ),
    Entry(
        KR + "rnn_cell_backward",
        samples=(
            Sample(
                {"grad_h": GH, **RNN_CELL},
                check=_grad_keys(CELL_KEYS, _shapes(CELL_KEYS, P_RNN, False)),
            ),
            Sample({"grad_h": GH, **RNN_CELL, "nonlinearity": "relu"}),
            Sample({"grad_h": GH, **RNN_CELL, "hx": None, "bias_hh": None}),
        ),
        errors=(
            *_shape_errors({"grad_h": GH, **RNN_CELL}),
            *(f({"grad_h": GH, **RNN_CELL}) for f in NL_ERRORS),
            ErrorSample({"grad_h": GH[:, :1], **RNN_CELL}, ValueError, "grad_h"),
            ErrorSample({"grad_h": None, **RNN_CELL}, TypeError, "grad_h"),
        ),
        domains=NL,
    ),
    Entry(
        KR + "lstm_cell",
        samples=(
            Sample(LSTM_CELL, check=_close(_lstm_ref(X, HX, CX, P_LSTM))),
            Sample(
                {**LSTM_CELL, "hx": None, "cx": None},
                check=_close(_lstm_ref(X, 0 * HX, 0 * CX, P_LSTM)),
            ),
            Sample(
                {**LSTM_CELL, "input": X[1], "hx": HX[1], "cx": CX[1]},
                check=_close(tuple(a[0] for a in _lstm_ref(X[1:], HX[1:], CX[1:], P_LSTM))),
            ),
        ),
        errors=(
            *_shape_errors(LSTM_CELL),
            *_shape_errors(LSTM_CELL, "cx")[3:5],
            ErrorSample({**LSTM_CELL, "cx": CX[0]}, ValueError, "cx"),
        ),
    ),
    Entry(
        KR + "lstm_cell_backward",
        samples=(
            Sample(
                {"grad_h": GH, "grad_c": GC, **LSTM_CELL},
                check=_grad_keys(LSTM_CELL_KEYS, _shapes(LSTM_CELL_KEYS, P_LSTM, False)),
            ),
            Sample({"grad_h": GH, "grad_c": None, **LSTM_CELL}),
        ),
        errors=(
            *_shape_errors({"grad_h": GH, "grad_c": GC, **LSTM_CELL}),
            ErrorSample({"grad_h": GH, "grad_c": GC[:1], **LSTM_CELL}, ValueError, "grad_c"),
        ),
    ),
    Entry(
        KR + "gru_cell",
        samples=(
            Sample(GRU_CELL, check=_close(_gru_ref(X, HX, P_GRU))),
            Sample({**GRU_CELL, "hx": None}, check=_close(_gru_ref(X, 0 * HX, P_GRU))),
        ),
        errors=_shape_errors(GRU_CELL),
    ),
    Entry(
        KR + "gru_cell_backward",
        samples=(
            Sample(
                {"grad_h": GH, **GRU_CELL},
                check=_grad_keys(CELL_KEYS, _shapes(CELL_KEYS, P_GRU, False)),
            ),
        ),
        errors=(
            *_shape_errors({"grad_h": GH, **GRU_CELL}),
            ErrorSample({"grad_h": GH[None], **GRU_CELL}, ValueError, "grad_h"),
        ),
    ),
    Entry(
        KR + "gru_cell_reset_before",
        samples=(
            Sample(GRU_CELL, check=_close(_gru_ref(X, HX, P_GRU, before=True))),
            Sample({**GRU_CELL, "bias_ih": None}),
        ),
        errors=_shape_errors(GRU_CELL),
    ),
    Entry(
        KR + "gru_cell_reset_before_backward",
        samples=(
            Sample(
                {"grad_h": GH, **GRU_CELL},
                check=_grad_keys(CELL_KEYS, _shapes(CELL_KEYS, P_GRU, False)),
            ),
        ),
        errors=(
            *_shape_errors({"grad_h": GH, **GRU_CELL}),
            ErrorSample({"grad_h": GH.astype(np.float32), **GRU_CELL}, TypeError, "grad_h"),
        ),
    ),
    # ------------------------------------------------------------------------- sequences
    Entry(
        KR + "rnn",
        samples=(
            Sample(RNN_SEQ, check=_seq_check(_rnn_seq_ref())),
            Sample({**RNN_SEQ, "nonlinearity": "relu"}, check=_seq_check(_rnn_seq_ref(True))),
            Sample({**RNN_SEQ, "input": XS[:, 0], "h0": H0[:, 0]}),
            Sample({**RNN_SEQ, "input": XS[:1], "h0": None}),
        ),
        errors=(
            *_shape_errors(RNN_SEQ, "h0"),
            *(f(RNN_SEQ) for f in NL_ERRORS),
            ErrorSample({**RNN_SEQ, "h0": H0[0]}, ValueError, "h0"),
            ErrorSample({**RNN_SEQ, "input": XS[:0]}, ValueError, "input"),
            ErrorSample(BIG, ValueError, r"input.*MAX_ELEMENTS"),
            ErrorSample(BIG_WIDE, ValueError, r"input.*MAX_ELEMENTS"),
        ),
        domains=NL,
    ),
    Entry(
        KR + "rnn_backward",
        samples=(
            Sample(
                {"grad_output": GO, "grad_hn": GHN, **RNN_SEQ},
                check=_grad_keys(SEQ_KEYS, _shapes(SEQ_KEYS, P_RNN, True)),
            ),
            Sample({"grad_output": GO, "grad_hn": None, **RNN_SEQ, "nonlinearity": "relu"}),
        ),
        errors=(
            *_shape_errors({"grad_output": GO, "grad_hn": GHN, **RNN_SEQ}, "h0"),
            ErrorSample(
                {"grad_output": GO[:1], "grad_hn": GHN, **RNN_SEQ}, ValueError, "grad_output"
            ),
            ErrorSample({"grad_output": GO, "grad_hn": GHN[0], **RNN_SEQ}, ValueError, "grad_hn"),
        ),
        domains=NL,
    ),
    Entry(
        KR + "lstm",
        samples=(
            Sample(
                LSTM_SEQ,
                check=_seq_check(
                    _unrolled(lambda x, h, c: _lstm_ref(x, h, c, P_LSTM), (H0[0], C0[0]))
                ),
            ),
            Sample({**LSTM_SEQ, "h0": None, "c0": None}),
        ),
        errors=(*_shape_errors(LSTM_SEQ, "h0"), *_shape_errors(LSTM_SEQ, "c0")[3:5]),
    ),
    Entry(
        KR + "lstm_backward",
        samples=(
            Sample(
                {"grad_output": GO, "grad_hn": GHN, "grad_cn": GHN, **LSTM_SEQ},
                check=_grad_keys(LSTM_SEQ_KEYS, _shapes(LSTM_SEQ_KEYS, P_LSTM, True)),
            ),
            Sample({"grad_output": GO, "grad_hn": None, "grad_cn": None, **LSTM_SEQ}),
        ),
        errors=(
            *_shape_errors({"grad_output": GO, "grad_hn": GHN, "grad_cn": GHN, **LSTM_SEQ}, "h0"),
            ErrorSample(
                {"grad_output": GO, "grad_hn": GHN, "grad_cn": GO, **LSTM_SEQ},
                ValueError,
                "grad_cn",
            ),
        ),
    ),
    Entry(
        KR + "gru",
        samples=(
            Sample(
                GRU_SEQ, check=_seq_check(_unrolled(lambda x, h: _gru_ref(x, h, P_GRU), (H0[0],)))
            ),
            Sample(
                {**GRU_SEQ, "reset_before": True},
                check=_seq_check(_unrolled(lambda x, h: _gru_ref(x, h, P_GRU, True), (H0[0],))),
            ),
        ),
        errors=(*_shape_errors(GRU_SEQ, "h0"), *(f(GRU_SEQ) for f in RB_ERRORS)),
        domains=RB,
    ),
    Entry(
        KR + "gru_backward",
        samples=(
            Sample(
                {"grad_output": GO, "grad_hn": GHN, **GRU_SEQ},
                check=_grad_keys(SEQ_KEYS, _shapes(SEQ_KEYS, P_GRU, True)),
            ),
            Sample({"grad_output": GO, "grad_hn": GHN, **GRU_SEQ, "reset_before": True}),
        ),
        errors=(
            *_shape_errors({"grad_output": GO, "grad_hn": GHN, **GRU_SEQ}, "h0"),
            *(f({"grad_output": GO, "grad_hn": GHN, **GRU_SEQ}) for f in RB_ERRORS),
        ),
        domains=RB,
    ),
]
