"""Bad-input entries for :mod:`kernels.gpu.recurrent` (torch tensors on the kernels' device: the
CPU under Triton's interpreter, CUDA on a GPU; the table skips them where no kernel can run).

The valid samples launch every kernel of :mod:`kernels.gpu._recurrent_kernels` with every
``constexpr`` branch (both biases, one, none; tanh and relu; LSTM upstream gradients both, h
only, c only), so that ``tests/gpu_compile.py`` compiles each specialization. Checks compare
with the float64 NumPy kernel (cells) or torch autograd of the gate math (gate functions).
"""

from __future__ import annotations

import numpy as np
import torch

from kernels.cpu import recurrent as cpu
from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of
from tests.gpu_support import DEV

P = "kernels.gpu.recurrent."
N, I_, H = 3, 4, 5
_GEN = torch.Generator().manual_seed(16)


def _r(*shape, scale=1.0):
    return (torch.randn(*shape, generator=_GEN, dtype=torch.float64) * scale).float().to(DEV)


X, XU = _r(N, I_), _r(I_)
HX, HU, CX, CU = _r(N, H), _r(H), _r(N, H), _r(H)
GH, GC, GU = _r(N, H), _r(N, H), _r(H)
W = {
    g: (_r(g * H, I_, scale=0.5), _r(g * H, H, scale=0.5), _r(g * H), _r(g * H)) for g in (1, 3, 4)
}


def _cell(g, *, batched=True, state=True, bias=(True, True), c=False):
    wih, whh, bih, bhh = W[g]
    out = {
        "input": X if batched else XU,
        "hx": (HX if batched else HU) if state else None,
    }
    if c:
        out["cx"] = (CX if batched else CU) if state else None
    out.update(weight_ih=wih, weight_hh=whh)
    out.update(bias_ih=bih if bias[0] else None, bias_hh=bhh if bias[1] else None)
    return out


def _np(v):
    return None if v is None else v.detach().cpu().double().numpy()


def _flatten(value) -> list:
    """Tensors/arrays of a (nested) tuple or a dict (in key order)."""
    if isinstance(value, dict):
        return [v for k in sorted(value) for v in _flatten(value[k])]
    if isinstance(value, tuple):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _like_cpu(name, kwargs):
    """Check: the result equals the float64 NumPy kernel's within float32 rounding."""

    def check(result):
        expected = getattr(cpu, name)(**{k: _np(v) if torch.is_tensor(v) else v
                                         for k, v in kwargs.items()})  # fmt: skip
        got, exp = _flatten(result), _flatten(expected)
        for a, e in zip(got, exp, strict=True):
            if e is None:
                assert a is None
                continue
            assert a.dtype == torch.float32 and tuple(a.shape) == e.shape
            assert np.allclose(_np(a), e, rtol=1e-5, atol=1e-5), (name, np.abs(_np(a) - e).max())

    return check


def _cell_samples(name, variants, grads=()):
    out = []
    for kw, extra in variants:
        full = {**grads_for(grads, kw), **kw, **extra}
        out.append(Sample(full, check=_like_cpu(name, full)))
    return tuple(out)


def grads_for(grads, kw):
    batched = kw["input"].ndim == 2
    g = {}
    if "grad_h" in grads:
        g["grad_h"] = GH if batched else GU
    if "grad_c" in grads:
        g["grad_c"] = GC if batched else None
    return g


RNN_VARIANTS = [
    (_cell(1), {"nonlinearity": "tanh"}),
    (_cell(1, batched=False, state=False, bias=(False, False)), {"nonlinearity": "relu"}),
]
LSTM_VARIANTS = [
    (_cell(4, c=True), {}),
    (_cell(4, c=True, batched=False, state=False, bias=(True, False)), {}),
    (_cell(4, c=True, bias=(False, True)), {}),
]
GRU_VARIANTS = [
    (_cell(3), {}),
    (_cell(3, batched=False, state=False, bias=(False, True)), {}),
    (_cell(3, bias=(True, False)), {}),
    (_cell(3, bias=(False, False)), {}),
]


def _cell_errors(g, extra=None, grads=()):
    base = {**grads_for(grads, _cell(g)), **_cell(g, c=g == 4), **(extra or {})}
    wih, whh = W[g][:2]
    return (
        ErrorSample({**base, "weight_hh": whh[:, :4]}, ValueError, "weight_hh must have shape"),
        ErrorSample({**base, "weight_ih": wih[:-1]}, ValueError, "weight_ih must have"),
        ErrorSample({**base, "input": X[:, :3]}, ValueError, "input has 3 features"),
        ErrorSample({**base, "hx": HX[:2]}, ValueError, "hx must have shape"),
        ErrorSample({**base, "bias_hh": W[g][3][:-1]}, ValueError, "bias_hh must have shape"),
        ErrorSample({**base, "bias_ih": W[g][2].double()}, TypeError, "bias_ih"),
        ErrorSample({**base, "input": X.double()}, TypeError, "hx must have input.s dtype"),
        ErrorSample({**base, "input": X.cpu().numpy()}, TypeError, "input"),
        ErrorSample({**base, "weight_ih": wih.clone().requires_grad_()}, ValueError, "weight_ih"),
    )


def _grad_errors(g, extra=None, grads=("grad_h",)):
    base = {**grads_for(grads, _cell(g)), **_cell(g, c=g == 4), **(extra or {})}
    return (
        ErrorSample({**base, "grad_h": GH[:, :2]}, ValueError, "grad_h must have the shape"),
        ErrorSample({**base, "grad_h": GH.double()}, TypeError, "grad_h"),
    )


NONLIN = {"nonlinearity": one_of("tanh", "relu")}
RNN_ERR = (
    *_cell_errors(1, {"nonlinearity": "tanh"}),
    ErrorSample({**_cell(1), "nonlinearity": "gelu"}, ValueError, "nonlinearity"),
    ErrorSample({**_cell(1), "nonlinearity": 1}, TypeError, "nonlinearity"),
)

# --------------------------------------------------------------------------- gate functions


def _gates(G, seed_scale=1.5):
    return _r(N, G * H, scale=seed_scale), _r(N, G * H, scale=seed_scale)


IG4, HG4 = _gates(4)
IG3, HG3 = _gates(3)
BI4, BH4, BI3, BH3 = _r(4 * H), _r(4 * H), _r(3 * H), _r(3 * H)


def _lstm_math(ig, hg, cx, bi=None, bh=None):
    a = ig + hg + (bi if bi is not None else 0) + (bh if bh is not None else 0)
    i, f, g, o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    cy = f * cx + i * g
    return o * torch.tanh(cy), cy, torch.cat([i, f, g, o], dim=1)


def _gru_math(ig, hg, hx, bi=None, bh=None):
    a = ig + (bi if bi is not None else 0)
    b = hg + (bh if bh is not None else 0)
    r = torch.sigmoid(a[:, :H] + b[:, :H])
    z = torch.sigmoid(a[:, H : 2 * H] + b[:, H : 2 * H])
    n = torch.tanh(a[:, 2 * H :] + r * b[:, 2 * H :])
    return n + z * (hx - n), torch.cat([r, z, n, b[:, 2 * H :]], dim=1)


def _d(t):
    return None if t is None else t.detach().cpu().double()


def _forward_check(math):
    def make(kwargs):
        def check(result):
            args = [_d(kwargs.get(k)) for k in ("input_gates", "hidden_gates")]
            state = _d(kwargs.get("cx", kwargs.get("hx")))
            expected = math(
                *args, state, _d(kwargs.get("input_bias")), _d(kwargs.get("hidden_bias"))
            )
            for a, e in zip(result, expected, strict=True):
                assert np.allclose(_np(a), e.numpy(), rtol=1e-5, atol=1e-5)

        return check

    return make


_LSTM_FWD = _forward_check(_lstm_math)
_GRU_FWD = _forward_check(_gru_math)

LSTM_GATES = [
    {"input_gates": IG4, "hidden_gates": HG4, "cx": CX},
    {"input_gates": IG4, "hidden_gates": HG4, "cx": CX, "input_bias": BI4, "hidden_bias": BH4},
    {"input_gates": IG4, "hidden_gates": HG4, "cx": CX, "input_bias": None, "hidden_bias": BH4},
]
GRU_GATES = [
    {"input_gates": IG3, "hidden_gates": HG3, "hx": HX},
    {"input_gates": IG3, "hidden_gates": HG3, "hx": HX, "input_bias": BI3, "hidden_bias": BH3},
    {"input_gates": IG3, "hidden_gates": HG3, "hx": HX, "input_bias": BI3, "hidden_bias": None},
]

# the saved tensors of a forward (computed in float64 by torch, stored in float32)
_HY, _CY, _WS4 = (t.float().to(DEV) for t in _lstm_math(_d(IG4), _d(HG4), _d(CX), _d(BI4)))
_, _WS3 = (t.float().to(DEV) for t in _gru_math(_d(IG3), _d(HG3), _d(HX), None, _d(BH3)))


def _lstm_bwd_check(kwargs):
    def check(result):
        ws, cx = _d(kwargs["workspace"]), _d(kwargs["cx"])
        i, f, g, o = ws.chunk(4, dim=1)
        tc = torch.tanh(_d(kwargs["cy"]))
        gh = _d(kwargs["grad_hy"]) if kwargs["grad_hy"] is not None else torch.zeros_like(cx)
        gc = _d(kwargs["grad_cy"]) if kwargs["grad_cy"] is not None else torch.zeros_like(cx)
        dc = gc + gh * o * (1 - tc * tc)
        dg = torch.cat([dc * g * i * (1 - i), dc * cx * f * (1 - f), dc * i * (1 - g * g),
                        gh * tc * o * (1 - o)], dim=1)  # fmt: skip
        assert np.allclose(_np(result[0]), dg.numpy(), rtol=1e-5, atol=1e-5)
        assert np.allclose(_np(result[1]), (dc * f).numpy(), rtol=1e-5, atol=1e-5)

    return check


def _gru_bwd_check(kwargs):
    def check(result):
        ws, hx, g = _d(kwargs["workspace"]), _d(kwargs["hx"]), _d(kwargs["grad_hy"])
        r, z, n, hn = ws.chunk(4, dim=1)
        dan = g * (1 - z) * (1 - n * n)
        dar, daz = dan * hn * r * (1 - r), g * (hx - n) * z * (1 - z)
        expected = (torch.cat([dar, daz, dan], 1), torch.cat([dar, daz, dan * r], 1), g * z)
        for a, e in zip(result, expected, strict=True):
            assert np.allclose(_np(a), e.numpy(), rtol=1e-5, atol=1e-5)

    return check


LSTM_BWD = [
    {"grad_hy": GH, "grad_cy": GC, "cx": CX, "cy": _CY, "workspace": _WS4},
    {"grad_hy": None, "grad_cy": GC, "cx": CX, "cy": _CY, "workspace": _WS4},
    {"grad_hy": GH, "grad_cy": None, "cx": CX, "cy": _CY, "workspace": _WS4},
]
GRU_BWD = [{"grad_hy": GH, "hx": HX, "workspace": _WS3}]


def _gate_errors(base, G, state):
    ig = base["input_gates"]
    return (
        ErrorSample({**base, "input_gates": ig[:, :-1]}, ValueError, rf"input_gates.*{G}\*hidden"),
        ErrorSample({**base, "input_gates": ig[0]}, ValueError, "input_gates must have ndim"),
        ErrorSample({**base, "hidden_gates": ig[:2]}, ValueError, "hidden_gates must have shape"),
        ErrorSample({**base, state: base[state][:, :2]}, ValueError, f"{state} must have shape"),
        ErrorSample({**base, "input_bias": ig[0, :-1]}, ValueError, "input_bias must have shape"),
        ErrorSample({**base, "hidden_bias": ig[0].double()}, TypeError, "hidden_bias"),
        ErrorSample({**base, "input_gates": ig[:0]}, ValueError, "zero-size"),
    )


ENTRIES = [
    Entry(
        P + "rnn_cell",
        samples=_cell_samples("rnn_cell", RNN_VARIANTS),
        errors=RNN_ERR,
        domains=NONLIN,
    ),
    Entry(
        P + "rnn_cell_backward",
        samples=_cell_samples("rnn_cell_backward", RNN_VARIANTS, ("grad_h",)),
        errors=_grad_errors(1, {"nonlinearity": "relu"}),
        domains=NONLIN,
    ),
    Entry(
        P + "lstm_cell", samples=_cell_samples("lstm_cell", LSTM_VARIANTS), errors=_cell_errors(4)
    ),
    Entry(
        P + "lstm_cell_backward",
        samples=_cell_samples("lstm_cell_backward", LSTM_VARIANTS, ("grad_h", "grad_c")),
        errors=(
            *_grad_errors(4, grads=("grad_h", "grad_c")),
            ErrorSample(
                {**grads_for(("grad_h",), _cell(4)), "grad_c": GC[:2], **_cell(4, c=True)},
                ValueError,
                "grad_c must have the shape",
            ),
        ),
    ),
    Entry(P + "gru_cell", samples=_cell_samples("gru_cell", GRU_VARIANTS), errors=_cell_errors(3)),
    Entry(
        P + "gru_cell_backward",
        samples=_cell_samples("gru_cell_backward", GRU_VARIANTS, ("grad_h",)),
        errors=_grad_errors(3),
    ),
    Entry(
        P + "gru_cell_reset_before",
        samples=_cell_samples("gru_cell_reset_before", GRU_VARIANTS),
        errors=_cell_errors(3),
    ),
    Entry(
        P + "gru_cell_reset_before_backward",
        samples=_cell_samples("gru_cell_reset_before_backward", GRU_VARIANTS, ("grad_h",)),
        errors=_grad_errors(3),
    ),
    Entry(
        P + "lstm_gates",
        samples=tuple(Sample(kw, check=_LSTM_FWD(kw)) for kw in LSTM_GATES),
        errors=_gate_errors(LSTM_GATES[1], 4, "cx"),
    ),
    Entry(
        P + "lstm_gates_backward",
        samples=tuple(Sample(kw, check=_lstm_bwd_check(kw)) for kw in LSTM_BWD),
        errors=(
            ErrorSample({**LSTM_BWD[0], "workspace": _WS4[:, :-2]}, ValueError, "workspace"),
            ErrorSample({**LSTM_BWD[0], "cy": _CY[:2]}, ValueError, "cy must have shape"),
            ErrorSample({**LSTM_BWD[0], "grad_hy": GH.double()}, TypeError, "grad_hy"),
            ErrorSample({**LSTM_BWD[0], "cx": None}, TypeError, "cx"),
        ),
    ),
    Entry(
        P + "gru_gates",
        samples=tuple(Sample(kw, check=_GRU_FWD(kw)) for kw in GRU_GATES),
        errors=_gate_errors(GRU_GATES[1], 3, "hx"),
    ),
    Entry(
        P + "gru_gates_backward",
        samples=tuple(Sample(kw, check=_gru_bwd_check(kw)) for kw in GRU_BWD),
        errors=(
            ErrorSample({**GRU_BWD[0], "workspace": _WS3[:, :-1]}, ValueError, "workspace"),
            ErrorSample({**GRU_BWD[0], "hx": HX[:, :1]}, ValueError, "hx must have shape"),
            ErrorSample({**GRU_BWD[0], "grad_hy": None}, TypeError, "grad_hy"),
        ),
    ),
]


# --------------------------------------------------------------------------- sequences

L = 3
XS, XSU = _r(L, N, I_), _r(L, I_)


def _seq(g, *, batched=True, state=True, bias=(True, True), c=False):
    kw = _cell(g, batched=batched, state=state, bias=bias, c=c)
    kw["input"] = XS if batched else XSU
    kw["h0"] = None if kw.pop("hx") is None else (HX[None] if batched else HU[None])
    if c:
        kw["c0"] = None if kw.pop("cx") is None else (CX[None] if batched else CU[None])
    return kw


def _seq_errors(g, extra=None):
    base = {**_seq(g, c=g == 4), **(extra or {})}
    return (
        ErrorSample({**base, "input": XS[0]}, ValueError, "h0 must have shape"),
        ErrorSample({**base, "input": XS[None]}, ValueError, "input must have ndim"),
        ErrorSample({**base, "h0": HX}, ValueError, "h0 must have shape"),
        ErrorSample({**base, "weight_hh": W[g][1][:, :4]}, ValueError, "weight_hh must have"),
        ErrorSample({**base, "input": XS[:, :, :3]}, ValueError, "input has 3 features"),
        ErrorSample({**base, "h0": HX[None].double()}, TypeError, "h0"),
    )


ENTRIES += [
    Entry(
        P + "rnn",
        samples=(
            Sample(
                {**_seq(1), "nonlinearity": "relu"},
                check=_like_cpu("rnn", {**_seq(1), "nonlinearity": "relu"}),
            ),
            Sample(
                {**_seq(1, batched=False, state=False, bias=(False, True)), "nonlinearity": "tanh"}
            ),
        ),
        errors=_seq_errors(1, {"nonlinearity": "tanh"}),
        domains=NONLIN,
    ),
    Entry(
        P + "lstm",
        samples=(
            Sample(_seq(4, c=True), check=_like_cpu("lstm", _seq(4, c=True))),
            Sample(_seq(4, c=True, batched=False, state=False, bias=(True, False))),
        ),
        errors=(
            *_seq_errors(4),
            ErrorSample({**_seq(4, c=True), "c0": CX}, ValueError, "c0 must have shape"),
        ),
    ),
    Entry(
        P + "gru",
        samples=(
            Sample(
                {**_seq(3), "reset_before": False},
                check=_like_cpu("gru", {**_seq(3), "reset_before": False}),
            ),
            Sample(
                {**_seq(3), "reset_before": True},
                check=_like_cpu("gru", {**_seq(3), "reset_before": True}),
            ),
            Sample(
                {**_seq(3, batched=False, state=False, bias=(False, False)), "reset_before": True}
            ),
        ),
        errors=(
            *_seq_errors(3),
            ErrorSample({**_seq(3), "reset_before": 1}, TypeError, "reset_before"),
        ),
        domains={"reset_before": boolean},
    ),
]
