r"""Recurrent cells and single-layer sequence layers in NumPy (vanilla RNN, LSTM, GRU in
torch's reset-after form and in 000's / Cho et al.'s reset-before form), forward and
hand-written backward through time, with torch's parameter layout and names (a
float32/float64 reference; float64 for checks).

**Layout** (torch's ``nn.RNNCell``/``LSTMCell``/``GRUCell`` and ``nn.RNN``/``LSTM``/``GRU``
with ``num_layers=1``, unidirectional). :math:`G` gates of hidden size :math:`H` are stacked
row-wise: ``weight_ih`` ``(G*H, I)``, ``weight_hh`` ``(G*H, H)``, ``bias_ih``, ``bias_hh``
``(G*H,)`` (either may be ``None``: torch's ``bias=False`` is both ``None``). Gate order as
torch: RNN :math:`G=1`; LSTM :math:`G=4`, rows ``i, f, g, o``; GRU :math:`G=3`, rows ``r, z,
n``. Every pre-activation is :math:`W_{i\cdot}x + b_{i\cdot} + W_{h\cdot}h + b_{h\cdot}`
(``x @ W.T + b`` on a batch of rows).

**Cells** (:math:`\sigma` the logistic function):

* RNN (Elman 1990): :math:`h' = \phi(W_{ih}x + b_{ih} + W_{hh}h + b_{hh})`, :math:`\phi` =
  ``tanh`` or ``relu``.
* LSTM (Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000):
  :math:`i,f,o = \sigma(\cdot)`, :math:`g = \tanh(\cdot)`, :math:`c' = f c + i g`,
  :math:`h' = o\tanh(c')`.
* GRU, torch's form (**reset after** the matrix product; Cho et al. 2014 v3 footnote / cuDNN):
  :math:`r = \sigma(\cdot)`, :math:`z = \sigma(\cdot)`,
  :math:`n = \tanh(W_{in}x + b_{in} + r\,(W_{hn}h + b_{hn}))`, :math:`h' = (1 - z)\,n + z\,h`.
* GRU, **reset before** (000's and Cho et al. 2014, "Learning Phrase Representations using RNN
  Encoder-Decoder", eqs. 5-8): the same :math:`r, z` and
  :math:`n = \tanh(W_{in}x + b_{in} + W_{hn}(r h) + b_{hn})`, :math:`h' = (1-z)\,n + z\,h`.

**Weight mapping to 000** (§ Recurrent Layer Components; ``[h, x]`` is the concatenation,
:math:`W_\bullet\in\mathbb R^{H\times(H+I)}`, so :math:`W_\bullet[h, x] = W_\bullet[:, :H]\,h +
W_\bullet[:, H:]\,x`):

* RNN: :math:`W_{xh}` = ``weight_ih``, :math:`W_{hh}` = ``weight_hh``, :math:`b_h` =
  ``bias_ih + bias_hh`` (torch's two biases enter only through their sum: a
  reparametrization with one redundant vector).
* LSTM, gate :math:`k\in(i, f, C, o)` at row block :math:`k` = 0, 1, 2, 3 (rows
  ``k*H:(k+1)*H``; 000's :math:`\tilde C` is torch's ``g``): ``weight_hh[block] =``
  :math:`W_k[:, :H]`, ``weight_ih[block] =`` :math:`W_k[:, H:]`, ``bias_ih[block] +
  bias_hh[block] =`` :math:`b_k`.
* GRU: 000 has no biases (set them ``None`` or 0). :math:`W_r` → block 0 as above; 000 writes
  :math:`h_t = (1-z_t)h_{t-1} + z_t\tilde h_t` where torch writes :math:`h' = (1-z)n + zh`:
  the roles of :math:`z` swap, and since :math:`\sigma(-a) = 1 - \sigma(a)`, 000's :math:`W_z`
  maps to block 1 **negated** (``weight_hh[H:2H] = -W_z[:, :H]``, ``weight_ih[H:2H] =
  -W_z[:, H:]``; a bias would be negated too): an exact reparametrization. 000's candidate
  :math:`\tanh(W[r h, x])` is the **reset-before** form with :math:`W` → block 2; it is not
  torch's reset-after form (:func:`gru_cell` vs :func:`gru_cell_reset_before`): the
  candidates' arguments differ by :math:`W_{hn}(r\odot h) - r\odot(W_{hn}h) + (1 - r)\odot
  b_{hn}`. With :math:`b_{hn} = 0` they agree wherever :math:`W_{hn}\operatorname{diag}(r) h
  = \operatorname{diag}(r)W_{hn}h`: :math:`W_{hn}` diagonal (so always for ``H = 1``),
  :math:`r` equal in every component, or :math:`h = 0`; a nonzero :math:`b_{hn}` separates
  them already for ``H = 1`` (:math:`r < 1`). Without biases the smallest separating case
  has ``H = 2``: ``W_hn = [[0, 1], [0, 0]]``, ``r = (σ(1), σ(-1))``, ``h = (0, 1)``,
  :math:`z = 1/2` gives :math:`h'_1` = 0.3118563 (reset after) vs 0.1313198 (reset before).
  Measured in ``tests/test_sequence_kernels.py``.

**Sequences** (seq-first, ``batch_first=False``): ``input`` ``(L, N, I)`` or unbatched
``(L, I)``; ``h0``/``c0`` ``(1, N, H)`` or unbatched ``(1, H)`` (torch's
``(num_layers*num_directions, N, H)`` with one layer and one direction), ``None`` = zeros;
``output`` ``(L, N, H)`` holds :math:`h_1..h_L`, ``h_n`` (and ``c_n``) the last state, shaped
as ``h0``. Multi-layer and bidirectional layers are **not implemented** (stack single layers;
the tests map torch's ``num_layers=1``). Cells take ``input`` ``(N, I)`` or ``(I,)``, ``hx``
``(N, H)`` or ``(H,)`` (``None`` = zeros).

**Backward** (hand-written; sequences by backpropagation through time, Werbos 1990: the state
gradient is carried backwards over :math:`t = L..1` and every step adds
:math:`\delta_t x_t^\top` to ``weight_ih``'s gradient and :math:`\delta_t h_{t-1}^\top` to
``weight_hh``'s, :math:`\delta_t` the pre-activation gradient). Each returns a dict with keys
``input``, ``hx``/``h0``, (``cx``/``c0``), ``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh``; the entry of an argument given as ``None`` is ``None``. ReLU's derivative at 0 is
0 (torch's ``threshold_backward``).

Domain (``ValueError``/``TypeError`` naming the argument otherwise): float32/float64 arrays of
one dtype (``input``'s), finite, no zero-size axis (no empty batch or sequence); hidden size
``H = weight_hh.shape[1]``; ``nonlinearity`` ``'tanh'`` or ``'relu'``; ``reset_before`` a real
bool. Every buffer (the cached gates over time included) is bounded by
``kernels.cpu._check.MAX_ELEMENTS`` (:math:`2^{27}` elements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.cpu._check import FLOAT_DTYPES, array, bounded, flag, is_array, not_array
from numerics.opcount import counted_matmul

__all__ = [
    "gru",
    "gru_backward",
    "gru_cell",
    "gru_cell_backward",
    "gru_cell_reset_before",
    "gru_cell_reset_before_backward",
    "lstm",
    "lstm_backward",
    "lstm_cell",
    "lstm_cell_backward",
    "rnn",
    "rnn_backward",
    "rnn_cell",
    "rnn_cell_backward",
]

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# --------------------------------------------------------------------------- argument checks


def _arr(value: object, name: str, ndim, dtype=None, like: str = "input") -> np.ndarray:
    if not is_array(value):
        raise not_array(value, name)
    a = array(value, name, ndim, dtype, like=like)
    bounded(a.size, "the array", name)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must have finite entries (no NaN or infinity)")
    return a


@dataclass(frozen=True)
class _Params:
    kind: str
    wih: np.ndarray
    whh: np.ndarray
    bih: np.ndarray | None
    bhh: np.ndarray | None
    H: int
    relu: bool = False
    reset_before: bool = False


def _nonlinearity(value: object) -> bool:
    if not isinstance(value, str):
        raise TypeError(
            f"nonlinearity must be 'tanh' or 'relu', got {type(value).__name__} ({value!r})"
        )
    if value not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {value!r}")
    return value == "relu"


def _params(kind, x, weight_ih, weight_hh, bias_ih, bias_hh, relu=False, reset_before=False):
    G = _GATES[kind]
    dt = x.dtype
    whh = _arr(weight_hh, "weight_hh", 2, dt)
    H = whh.shape[1]
    if whh.shape[0] != G * H:
        raise ValueError(
            f"weight_hh must have shape ({G}*hidden_size, hidden_size) = {(G * H, H)} (the "
            f"{G} gate blocks stacked), got {whh.shape}"
        )
    wih = _arr(weight_ih, "weight_ih", 2, dt)
    if wih.shape[0] != G * H:
        raise ValueError(
            f"weight_ih must have {G}*hidden_size = {G * H} rows (hidden_size = "
            f"weight_hh.shape[1] = {H}), got shape {wih.shape}"
        )
    if wih.shape[1] != x.shape[-1]:
        raise ValueError(
            f"input has {x.shape[-1]} features but weight_ih expects input_size = "
            f"weight_ih.shape[1] = {wih.shape[1]}"
        )
    biases = []
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is not None:
            b = _arr(b, name, 1, dt)
            if b.shape != (G * H,):
                raise ValueError(
                    f"{name} must have shape ({G}*hidden_size,) = {(G * H,)} (hidden_size = "
                    f"weight_hh.shape[1]), got {b.shape}"
                )
        biases.append(b)
    return _Params(kind, wih, whh, biases[0], biases[1], H, relu, reset_before)


def _state(value, name, x, batch, H, dt, lead: tuple[int, ...] = ()):
    """A state ``(*lead, N, H)`` (batched) or ``(*lead, H)``; ``None`` = zeros. Returns it
    as ``(N, H)`` (``N = 1`` unbatched) and whether it was given."""
    want = (*lead, *((batch,) if batch is not None else ()), H)
    if value is None:
        return np.zeros((batch or 1, H), dtype=dt), False
    if not is_array(value):
        raise not_array(value, name)
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    if value.dtype != dt:
        raise TypeError(f"{name} must have the same dtype as input ({dt}), got {value.dtype}")
    if value.shape != want:
        kind = f"batch size {batch}" if batch is not None else "unbatched"
        raise ValueError(
            f"{name} must have shape {want} for input of shape {x.shape} ({kind}; "
            f"hidden_size = weight_hh.shape[1] = {H}), got {value.shape}"
        )
    a = _arr(value, name, len(want), dt)
    return a.reshape(batch or 1, H), True


def _grad(value, name, want, dt):
    like = "the forward output (set by input and weight_hh)"
    if not is_array(value):
        raise not_array(value, name)
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    if value.dtype != dt:
        raise TypeError(f"{name} must have the same dtype as input ({dt}), got {value.dtype}")
    if value.shape != want:
        raise ValueError(f"{name} must have the shape {want} of {like}, got {value.shape}")
    return _arr(value, name, len(want), dt)


def _cell_args(kind, input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, relu=False, rb=False):
    x = _arr(input, "input", (1, 2))
    p = _params(kind, x, weight_ih, weight_hh, bias_ih, bias_hh, relu, rb)
    batch = x.shape[0] if x.ndim == 2 else None
    h, h_given = _state(hx, "hx", x, batch, p.H, x.dtype)
    states = [(h, h_given)]
    if kind == "lstm":
        states.append(_state(cx, "cx", x, batch, p.H, x.dtype))
    bounded(x.reshape(-1, x.shape[-1]).shape[0] * 4 * p.H, "the gate buffer", "input")
    return x.reshape(-1, x.shape[-1]), p, states, batch


def _seq_args(kind, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, relu=False, rb=False):
    x = _arr(input, "input", (2, 3))
    p = _params(kind, x, weight_ih, weight_hh, bias_ih, bias_hh, relu, rb)
    batch = x.shape[1] if x.ndim == 3 else None
    L = x.shape[0]
    N = batch or 1
    bounded(L * N * (4 * p.H + x.shape[-1]), "the cached gates over time", "input")
    states = [_state(h0, "h0", x, batch, p.H, x.dtype, (1,))]
    if kind == "lstm":
        states.append(_state(c0, "c0", x, batch, p.H, x.dtype, (1,)))
    return x.reshape(L, N, x.shape[-1]), p, states, batch


# --------------------------------------------------------------------------- one step


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _affine(x, w, b):
    out = counted_matmul(x, w.T)
    return out + b if b is not None else out


def _step(p: _Params, x, state):
    """One step on batched ``x (N, I)``; ``state`` = (h,) or (h, c). Returns the new state
    and a cache for :func:`_step_back`."""
    h = state[0]
    H = p.H
    gi = _affine(x, p.wih, p.bih)
    if p.kind == "rnn":
        a = gi + _affine(h, p.whh, p.bhh)
        hn = np.maximum(a, 0) if p.relu else np.tanh(a)
        return (hn,), (x, h, a, hn)
    if p.kind == "lstm":
        a = gi + _affine(h, p.whh, p.bhh)
        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H])
        g, o = np.tanh(a[:, 2 * H : 3 * H]), _sigmoid(a[:, 3 * H :])
        c = state[1]
        cn = f * c + i * g
        tc = np.tanh(cn)
        return (o * tc, cn), (x, h, c, i, f, g, o, tc)
    # GRU
    if p.reset_before:
        bhh = p.bhh
        gh_rz = _affine(h, p.whh[: 2 * H], bhh[: 2 * H] if bhh is not None else None)
        r = _sigmoid(gi[:, :H] + gh_rz[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh_rz[:, H:])
        rh = r * h
        gh_n = _affine(rh, p.whh[2 * H :], bhh[2 * H :] if bhh is not None else None)
        n = np.tanh(gi[:, 2 * H :] + gh_n)
    else:
        gh = _affine(h, p.whh, p.bhh)
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        gh_n = gh[:, 2 * H :]
        rh = None
        n = np.tanh(gi[:, 2 * H :] + r * gh_n)
    hn = (1 - z) * n + z * h
    return (hn,), (x, h, r, z, n, gh_n, rh)


def _step_back(p: _Params, dstate, cache, grads):
    """Backward of :func:`_step`: accumulates parameter gradients into ``grads`` and returns
    (d input (N, I), d previous state tuple)."""
    H = p.H
    if p.kind == "rnn":
        x, h, a, hn = cache
        da = dstate[0] * ((a > 0) if p.relu else (1 - hn * hn))
        di = dh_i = da
        dprev_extra = None
    elif p.kind == "lstm":
        x, h, c, i, f, g, o, tc = cache
        dh, dc = dstate
        dc = dc + dh * o * (1 - tc * tc)
        da = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tc * o * (1 - o),
            ],
            axis=1,
        )
        di = dh_i = da
        dprev_extra = (dc * f,)
    else:
        x, h, r, z, n, gh_n, rh = cache
        dh = dstate[0]
        dn = dh * (1 - z)
        dz = dh * (h - n)
        dan = dn * (1 - n * n)
        daz = dz * z * (1 - z)
        if p.reset_before:
            drh = counted_matmul(dan, p.whh[2 * H :])
            dar = drh * h * r * (1 - r)
            di = np.concatenate([dar, daz, dan], axis=1)
            d_rz = di[:, : 2 * H]
            grads["weight_hh"][: 2 * H] += counted_matmul(d_rz.T, h)
            grads["weight_hh"][2 * H :] += counted_matmul(dan.T, rh)
            dprev = dh * z + drh * r + counted_matmul(d_rz, p.whh[: 2 * H])
            grads["weight_ih"] += counted_matmul(di.T, x)
            if grads["bias_ih"] is not None:
                grads["bias_ih"] += di.sum(axis=0)
            if grads["bias_hh"] is not None:
                grads["bias_hh"] += di.sum(axis=0)
            return counted_matmul(di, p.wih), (dprev,)
        dar = dan * gh_n * r * (1 - r)
        di = np.concatenate([dar, daz, dan], axis=1)
        dh_i = np.concatenate([dar, daz, dan * r], axis=1)
        dprev_extra = None
    grads["weight_ih"] += counted_matmul(di.T, x)
    grads["weight_hh"] += counted_matmul(dh_i.T, h)
    if grads["bias_ih"] is not None:
        grads["bias_ih"] += di.sum(axis=0)
    if grads["bias_hh"] is not None:
        grads["bias_hh"] += dh_i.sum(axis=0)
    dprev = counted_matmul(dh_i, p.whh)
    if p.kind == "gru":
        dprev = dprev + dh * z
    return counted_matmul(di, p.wih), (dprev, *(dprev_extra or ()))


def _zero_grads(p: _Params) -> dict:
    return {
        "weight_ih": np.zeros_like(p.wih),
        "weight_hh": np.zeros_like(p.whh),
        "bias_ih": None if p.bih is None else np.zeros_like(p.bih),
        "bias_hh": None if p.bhh is None else np.zeros_like(p.bhh),
    }


# --------------------------------------------------------------------------- cells


def _cell(kind, input, hx, cx, wih, whh, bih, bhh, relu=False, rb=False):
    x, p, states, batch = _cell_args(kind, input, hx, cx, wih, whh, bih, bhh, relu, rb)
    new, _ = _step(p, x, tuple(s for s, _ in states))
    shape = (batch, p.H) if batch is not None else (p.H,)
    return tuple(s.reshape(shape) for s in new)


def _cell_back(kind, grads_in, input, hx, cx, wih, whh, bih, bhh, relu=False, rb=False):
    x, p, states, batch = _cell_args(kind, input, hx, cx, wih, whh, bih, bhh, relu, rb)
    shape = (batch, p.H) if batch is not None else (p.H,)
    names = ("grad_h", "grad_c")
    ds = []
    for k, g in enumerate(grads_in):
        if g is None and k > 0:
            ds.append(np.zeros_like(states[0][0]))
        else:
            ds.append(_grad(g, names[k], shape, x.dtype).reshape(-1, p.H))
    _, cache = _step(p, x, tuple(s for s, _ in states))
    grads = _zero_grads(p)
    dx, dprev = _step_back(p, tuple(ds), cache, grads)
    out = {"input": dx.reshape(input.shape)}
    for (_, given), d, name in zip(states, dprev, ("hx", "cx"), strict=False):
        out[name] = d.reshape(shape) if given else None
    out.update(grads)
    return out


def rnn_cell(
    input: np.ndarray,
    hx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
    nonlinearity: str = "tanh",
) -> np.ndarray:
    r"""Vanilla RNN cell (torch's ``nn.RNNCell``): :math:`h' = \phi(W_{ih}x + b_{ih} + W_{hh}h +
    b_{hh})`, :math:`\phi` = ``nonlinearity`` (``'tanh'`` or ``'relu'``).

    000's :math:`h_t = \tanh(W_{hh}h_{t-1} + W_{xh}x_t + b_h)` with :math:`W_{xh}` =
    ``weight_ih`` ``(H, I)``, :math:`W_{hh}` = ``weight_hh`` ``(H, H)``, :math:`b_h` =
    ``bias_ih + bias_hh``. ``input`` ``(N, I)`` or ``(I,)``, ``hx`` ``(N, H)``/``(H,)`` or
    ``None`` (zeros); returns ``h'`` shaped as ``hx``. See the module docstring."""
    relu = _nonlinearity(nonlinearity)
    return _cell("rnn", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, relu)[0]


def rnn_cell_backward(
    grad_h: np.ndarray,
    input: np.ndarray,
    hx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
    nonlinearity: str = "tanh",
) -> dict[str, np.ndarray | None]:
    r"""Gradients of :func:`rnn_cell` for upstream ``grad_h`` :math:`g` (``h'``'s shape):
    :math:`\delta = g\odot\phi'(a)`, ``input``: :math:`\delta W_{ih}`, ``hx``:
    :math:`\delta W_{hh}`, ``weight_ih``: :math:`\delta^\top x`, ``weight_hh``:
    :math:`\delta^\top h`, both biases :math:`\sum_n\delta`. Keys: ``input, hx, weight_ih,
    weight_hh, bias_ih, bias_hh`` (``None`` for an argument given as ``None``)."""
    relu = _nonlinearity(nonlinearity)
    return _cell_back(
        "rnn", (grad_h,), input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, relu
    )


def lstm_cell(
    input: np.ndarray,
    hx: np.ndarray | None,
    cx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""LSTM cell (torch's ``nn.LSTMCell``, gate rows ``i, f, g, o``): returns ``(h', c')``,

    .. math:: i, f, o = \sigma(\cdot),\ g = \tanh(\cdot),\quad c' = f\odot c + i\odot g,
              \quad h' = o\odot\tanh(c').

    000's gates :math:`\sigma(W_k[h_{t-1}, x_t] + b_k)`, :math:`k\in(i, f, C, o)` = row block
    0..3: ``weight_hh[kH:(k+1)H]`` = :math:`W_k[:, :H]`, ``weight_ih[kH:(k+1)H]`` =
    :math:`W_k[:, H:]`, :math:`b_k` = the sum of the two bias blocks. ``hx``, ``cx``
    ``(N, H)``/``(H,)`` or ``None`` (zeros)."""
    return _cell("lstm", input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_cell_backward(
    grad_h: np.ndarray,
    grad_c: np.ndarray | None,
    input: np.ndarray,
    hx: np.ndarray | None,
    cx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    r"""Gradients of :func:`lstm_cell` for upstream ``grad_h`` and ``grad_c`` (``None`` = 0):
    :math:`\bar c = g_c + g_h\, o(1-\tanh^2 c')`, then :math:`\bar o = g_h\tanh c'`,
    :math:`\bar i = \bar c\, g`, :math:`\bar f = \bar c\, c`, :math:`\bar g = \bar c\, i`,
    ``cx``: :math:`\bar c f`, through :math:`\sigma' = \sigma(1-\sigma)`,
    :math:`\tanh' = 1 - \tanh^2` to the pre-activations. Keys: ``input, hx, cx, weight_ih,
    weight_hh, bias_ih, bias_hh``."""
    return _cell_back(
        "lstm", (grad_h, grad_c), input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh
    )


def gru_cell(
    input: np.ndarray,
    hx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> np.ndarray:
    r"""GRU cell in torch's form (``nn.GRUCell``, rows ``r, z, n``; reset **after** the
    product):

    .. math:: r = \sigma(W_{ir}x + b_{ir} + W_{hr}h + b_{hr}),\quad
              z = \sigma(W_{iz}x + b_{iz} + W_{hz}h + b_{hz}),

    .. math:: n = \tanh(W_{in}x + b_{in} + r\odot(W_{hn}h + b_{hn})),\quad
              h' = (1 - z)\odot n + z\odot h.

    000's GRU is :func:`gru_cell_reset_before` (with :math:`W_z` negated, see the module
    docstring), not this one."""
    return _cell("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh)[0]


def gru_cell_backward(
    grad_h: np.ndarray,
    input: np.ndarray,
    hx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    r"""Gradients of :func:`gru_cell`: :math:`\bar n = g(1-z)`, :math:`\bar z = g(h - n)`,
    ``hx`` gets :math:`gz` directly; :math:`\bar a_n = \bar n(1-n^2)` reaches ``weight_ih``'s
    n rows as is and ``weight_hh``'s n rows times :math:`r`; :math:`\bar r = \bar a_n(W_{hn}h +
    b_{hn})`. Keys: ``input, hx, weight_ih, weight_hh, bias_ih, bias_hh``."""
    return _cell_back("gru", (grad_h,), input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh)


def gru_cell_reset_before(
    input: np.ndarray,
    hx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> np.ndarray:
    r"""GRU cell with the reset gate applied **before** the matrix product (000; Cho et al.
    2014 eqs. 5-8), in torch's layout and update convention:

    .. math:: n = \tanh(W_{in}x + b_{in} + W_{hn}(r\odot h) + b_{hn}),\quad
              h' = (1 - z)\odot n + z\odot h

    with :math:`r, z` as in :func:`gru_cell`. 000's :math:`h_t = (1-z_t)h_{t-1} + z_t\tilde
    h_t` is this with 000's :math:`W_z` negated in rows ``H:2H`` (:math:`\sigma(-a) = 1 -
    \sigma(a)`); 000's :math:`W_r, W` are rows ``0:H``, ``2H:3H`` with ``weight_hh`` the first
    :math:`H` columns of :math:`W_\bullet` and ``weight_ih`` the rest; 000 has no biases."""
    return _cell("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, rb=True)[0]


def gru_cell_reset_before_backward(
    grad_h: np.ndarray,
    input: np.ndarray,
    hx: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    r"""Gradients of :func:`gru_cell_reset_before`: as :func:`gru_cell_backward` except the
    n path, :math:`\overline{rh} = \bar a_n W_{hn}`, ``weight_hh``'s n rows get
    :math:`\bar a_n^\top (r h)`, :math:`\bar r = \overline{rh}\, h` and ``hx`` gets
    :math:`\overline{rh}\, r` besides :math:`gz` and the r, z paths. Keys as
    :func:`gru_cell_backward`."""
    return _cell_back(
        "gru", (grad_h,), input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, rb=True
    )


# --------------------------------------------------------------------------- sequences


def _seq(kind, input, h0, c0, wih, whh, bih, bhh, relu=False, rb=False):
    x, p, states, batch = _seq_args(kind, input, h0, c0, wih, whh, bih, bhh, relu, rb)
    state = tuple(s for s, _ in states)
    outs = np.empty((x.shape[0], x.shape[1], p.H), dtype=x.dtype)
    for t in range(x.shape[0]):
        state, _ = _step(p, x[t], state)
        outs[t] = state[0]
    if batch is None:
        return outs[:, 0], tuple(s.reshape(1, p.H) for s in state)
    return outs, tuple(s.reshape(1, batch, p.H) for s in state)


def _seq_back(kind, g_out, g_states, input, h0, c0, wih, whh, bih, bhh, relu=False, rb=False):
    x, p, states, batch = _seq_args(kind, input, h0, c0, wih, whh, bih, bhh, relu, rb)
    L, N = x.shape[:2]
    out_shape = (L, N, p.H) if batch is not None else (L, p.H)
    st_shape = (1, N, p.H) if batch is not None else (1, p.H)
    go = _grad(g_out, "grad_output", out_shape, x.dtype).reshape(L, N, p.H)
    names = ("grad_hn", "grad_cn")
    ds = []
    for name, g in zip(names, g_states, strict=False):
        if g is None:
            ds.append(np.zeros((N, p.H), dtype=x.dtype))
        else:
            ds.append(_grad(g, name, st_shape, x.dtype).reshape(N, p.H))
    state = tuple(s for s, _ in states)
    caches = []
    for t in range(L):
        state, cache = _step(p, x[t], state)
        caches.append(cache)
    grads = _zero_grads(p)
    dx = np.empty_like(x)
    d = tuple(ds)
    for t in range(L - 1, -1, -1):
        d = (d[0] + go[t], *d[1:])
        dx[t], d = _step_back(p, d, caches[t], grads)
    out = {"input": dx.reshape(input.shape)}
    for (_, given), dd, name in zip(states, d, ("h0", "c0"), strict=False):
        out[name] = dd.reshape(st_shape) if given else None
    out.update(grads)
    return out


def rnn(
    input: np.ndarray,
    h0: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Single-layer unidirectional RNN over a sequence (torch's ``nn.RNN``, ``num_layers=1``,
    ``batch_first=False``): :math:`h_t` = :func:`rnn_cell` :math:`(x_t, h_{t-1})`, :math:`h_0`
    = ``h0`` ``(1, N, H)`` / ``(1, H)`` or zeros. Returns ``(output (L, N, H), h_n (1, N, H))``
    (unbatched: ``(L, H)``, ``(1, H)``). Multi-layer/bidirectional: not implemented."""
    relu = _nonlinearity(nonlinearity)
    out, (hn,) = _seq("rnn", input, h0, None, weight_ih, weight_hh, bias_ih, bias_hh, relu)
    return out, hn


def rnn_backward(
    grad_output: np.ndarray,
    grad_hn: np.ndarray | None,
    input: np.ndarray,
    h0: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
    nonlinearity: str = "tanh",
) -> dict[str, np.ndarray | None]:
    r"""Backpropagation through time for :func:`rnn`: with :math:`\bar h_L` = ``grad_hn``
    (``None`` = 0), for :math:`t = L..1`: :math:`\bar h_t \mathrel{+}=` ``grad_output[t]``,
    :math:`\delta_t = \bar h_t\odot\phi'(a_t)`, :math:`\bar h_{t-1} = \delta_t W_{hh}`,
    :math:`\bar x_t = \delta_t W_{ih}`, :math:`\bar W_{ih} \mathrel{+}= \delta_t^\top x_t`,
    :math:`\bar W_{hh} \mathrel{+}= \delta_t^\top h_{t-1}`, biases :math:`\mathrel{+}=
    \sum_n\delta_t`. Keys: ``input, h0, weight_ih, weight_hh, bias_ih, bias_hh``."""
    relu = _nonlinearity(nonlinearity)
    return _seq_back(
        "rnn",
        grad_output,
        (grad_hn,),
        input,
        h0,
        None,
        weight_ih,
        weight_hh,
        bias_ih,
        bias_hh,
        relu,
    )


def lstm(
    input: np.ndarray,
    h0: np.ndarray | None,
    c0: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    r"""Single-layer LSTM over a sequence (torch's ``nn.LSTM``, ``num_layers=1``,
    ``batch_first=False``, no ``proj_size``): :func:`lstm_cell` at every step. Returns
    ``(output, (h_n, c_n))`` with torch's shapes. Multi-layer/bidirectional: not
    implemented."""
    out, (hn, cn) = _seq("lstm", input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    return out, (hn, cn)


def lstm_backward(
    grad_output: np.ndarray,
    grad_hn: np.ndarray | None,
    grad_cn: np.ndarray | None,
    input: np.ndarray,
    h0: np.ndarray | None,
    c0: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    r"""Backpropagation through time for :func:`lstm`: the pair :math:`(\bar h_t, \bar c_t)`
    is carried from :math:`t = L` (``grad_hn``, ``grad_cn``; ``None`` = 0) down to 1 through
    :func:`lstm_cell_backward`'s step, ``grad_output[t]`` added to :math:`\bar h_t`. Keys:
    ``input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh``."""
    return _seq_back(
        "lstm",
        grad_output,
        (grad_hn, grad_cn),
        input,
        h0,
        c0,
        weight_ih,
        weight_hh,
        bias_ih,
        bias_hh,
    )


def gru(
    input: np.ndarray,
    h0: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
    reset_before: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Single-layer GRU over a sequence (torch's ``nn.GRU``, ``num_layers=1``,
    ``batch_first=False``): :func:`gru_cell` at every step, or
    :func:`gru_cell_reset_before` (000's candidate) with ``reset_before=True``. Returns
    ``(output, h_n)`` with torch's shapes. Multi-layer/bidirectional: not implemented."""
    rb = flag(reset_before, "reset_before")
    out, (hn,) = _seq("gru", input, h0, None, weight_ih, weight_hh, bias_ih, bias_hh, rb=rb)
    return out, hn


def gru_backward(
    grad_output: np.ndarray,
    grad_hn: np.ndarray | None,
    input: np.ndarray,
    h0: np.ndarray | None,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias_ih: np.ndarray | None = None,
    bias_hh: np.ndarray | None = None,
    reset_before: bool = False,
) -> dict[str, np.ndarray | None]:
    r"""Backpropagation through time for :func:`gru` (either form): :math:`\bar h_t` carried
    from ``grad_hn`` (``None`` = 0) at :math:`t = L` down to 1 through the cell's backward
    step, ``grad_output[t]`` added at each step. Keys: ``input, h0, weight_ih, weight_hh,
    bias_ih, bias_hh``."""
    rb = flag(reset_before, "reset_before")
    return _seq_back(
        "gru",
        grad_output,
        (grad_hn,),
        input,
        h0,
        None,
        weight_ih,
        weight_hh,
        bias_ih,
        bias_hh,
        rb=rb,
    )
