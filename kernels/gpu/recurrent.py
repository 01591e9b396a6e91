r"""Recurrent cells (vanilla RNN, LSTM, GRU in torch's reset-after form and in Cho et al.'s /
000's reset-before form) on the GPU, forward and backward, with the API of
:mod:`kernels.cpu.recurrent` on torch tensors; and the fused gate kernels alone, in the style
of torch's ``_thnn_fused_lstm_cell`` / ``_thnn_fused_gru_cell``.

**Design** (torch's fused cells, ``aten/src/ATen/native/cuda/RNN.cu``; cuDNN's RNN step): the
two matrix products of a step stay in torch's GEMM (``torch.matmul`` on the kernel device:
cuBLAS, at the precision torch's own cell uses, TF32 only if
``torch.backends.cuda.matmul.allow_tf32``), and **one Triton kernel per step** does all the
element-wise gate math between them — the biases, the activations, the state update — reading
every gate tensor once and writing every output once (:mod:`kernels.gpu._recurrent_kernels`);
the backward is one kernel for the gate math and GEMMs for the rest. Layout, gate order and
the formulas are the CPU module's (see its docstring): ``G`` gate blocks of ``H`` rows
(RNN 1; LSTM 4: ``i, f, g, o``; GRU 3: ``r, z, n``).

Launch sequences (``x`` ``(N, I)``, ``h`` ``(N, H)``; GEMM = ``torch.matmul``):

* RNN / LSTM / GRU (reset after): GEMM ``x W_ih^T`` ``(N, G H)``, GEMM ``h W_hh^T``
  ``(N, G H)``, gate kernel. Backward: the forward again (the API is stateless: the backward
  takes the forward's inputs), the backward gate kernel (``grad_gates``), then the GEMMs
  ``grad_gates W`` (input, ``hx``), ``grad_gates^T x``, ``grad_gates^T h`` (weights) and row
  sums (biases; ``torch.sum``, deterministic). The GRU's ``hx`` gradient is ``matmul`` plus
  the kernel's element-wise part ``g z`` added in place (not ``torch.addmm``: on the CPU it
  was measured 4x less accurate than ``matmul`` + add at ``(7, 99) x (99, 33)`` float32).
* GRU reset before (the hidden product needs ``r`` first): GEMM ``x W_ih^T`` ``(N, 3H)``, GEMM
  ``h W_hh[0:2H]^T`` ``(N, 2H)``, kernel ``_gru_rb_reset`` (``r, z``, and ``r h``), GEMM ``(r
  h) W_hh[2H:3H]^T`` ``(N, H)``, kernel ``_gru_rb_update`` (``n``, ``h'``): 3 GEMMs, 2 gate
  kernels. Backward: ``_gru_rb_bwd_update`` (``daz, da_n``), GEMM ``d(rh) = da_n W_hn``,
  ``_gru_rb_bwd_reset`` (``dar`` and ``g z + d(rh) r``), then the GEMMs as above.

**Sequences** (forward only; :func:`rnn`, :func:`lstm`, :func:`gru` with the CPU signatures,
``num_layers=1``, seq-first): every step's input product in **one** GEMM ``(L N, I) x (I, G
H)`` (cuDNN's hoisting), then per step the hidden GEMM and the gate kernel(s) writing
:math:`h_t` straight into ``output[t]``. Their backward through time is not implemented here
(:func:`kernels.cpu.recurrent.lstm_backward` etc.; the cell backward is the building block).

**The gate functions alone** (torch's fused-cell style; 2-D, contiguous or not):

* :func:`lstm_gates` ``(input_gates, hidden_gates, cx, input_bias, hidden_bias) -> (hy, cy,
  workspace)``, workspace ``(N, 4H)`` = the activated ``i, f, g, o`` (torch's layout);
  :func:`lstm_gates_backward` ``(grad_hy, grad_cy, cx, cy, workspace) -> (grad_gates,
  grad_cx)`` (``grad_gates`` is the gradient of both gate tensors, and summed over rows of
  both biases).
* :func:`gru_gates` ``(input_gates, hidden_gates, hx, input_bias, hidden_bias) -> (hy,
  workspace)``, workspace ``(N, 4H)`` = ``r, z, n, hidden_gates_n + hidden_bias_n`` (torch's
  ``(N, 5H)`` also stores a copy of ``hx``; here the backward takes ``hx`` instead, one
  ``N H`` write less); :func:`gru_gates_backward` ``(grad_hy, hx, workspace) ->
  (grad_input_gates, grad_hidden_gates, grad_hx)`` (``grad_hx`` is the element-wise part
  ``grad_hy z``; the GEMM ``grad_hidden_gates W_hh`` adds the rest).

**Bytes moved per gate kernel** (element size :math:`s`; :math:`NH` units; biases
:math:`G H s` each, negligible): LSTM forward reads :math:`(4+4+1) NHs`, writes :math:`(1+1+4)
NHs` (``hy, cy``, workspace): :math:`15 NHs` (:math:`11 NHs` in :func:`lstm_cell` and
:func:`lstm`, which write no workspace); LSTM backward reads :math:`(2+2+4) NHs`
(``grad_hy, grad_cy, cx, cy``, workspace), writes :math:`(4+1) NHs`: :math:`13 NHs` (:math:`12
NHs` with one of the upstream gradients ``None``). GRU forward reads :math:`(3+3+1) NHs`,
writes :math:`(1+4) NHs`: :math:`12 NHs` (:math:`8 NHs` without workspace, in
:func:`gru_cell` and :func:`gru`); GRU backward reads :math:`(1+1+4) NHs`, writes
:math:`(3+3+1) NHs`: :math:`13 NHs`. RNN forward :math:`3 NHs`, backward :math:`3 NHs`.
Reset-before GRU: ``_gru_rb_reset`` reads :math:`(2+2+1) NHs`, writes :math:`(2+1) NHs`
(:math:`8 NHs`); ``_gru_rb_update`` reads :math:`4 NHs`, writes :math:`2 NHs`; backward
``_gru_rb_bwd_update`` :math:`4 + 2` and ``_gru_rb_bwd_reset`` :math:`5 + 2` (:math:`NHs`).
(torch's fused kernels: the same for the LSTM; GRU forward :math:`13 NHs`, its workspace
holding a copy of ``hx``.) FLOPs of a full cell (:math:`2\times` MACs of the GEMMs; the
:math:`O(NGH)` gate math not counted): forward :math:`2 N G H (I + H)` (both GRU forms);
``*_cell_backward`` as implemented :math:`6 N G H (I + H)` (the forward's two products again,
then ``dX``, ``dh``, ``dW_ih``, ``dW_hh``: :math:`4 N G H (I + H)`, what torch's autograd
costs after its forward).

**Precision**: gate math in float32 (float64 for float64 input), outputs and workspaces in the
input dtype (as torch's fused kernels); float32, float64, float16, bfloat16.

Domain (``ValueError``/``TypeError`` naming the argument; the CPU kernel's shape messages, by
the CPU checks applied to the shapes): tensors on the kernel device, all of ``input``'s dtype,
no zero-size axis, not requiring grad; every buffer within ``kernels.cpu._check.MAX_ELEMENTS``.

**Deliberate differences**: from :mod:`kernels.cpu.recurrent`, NaN and infinities are not
refused (that check would cost a pass over memory): they propagate as in torch. From torch's
fused cells: either bias may be given alone, and the gate functions refuse empty batches (the
cells' domain).
"""

from __future__ import annotations

import numpy as np
import torch

from kernels.cpu import recurrent as _cpu
from kernels.cpu._check import bounded
from kernels.cpu._check import flag as _flag
from kernels.gpu import _backend

__all__ = [
    "gru",
    "gru_cell",
    "gru_cell_backward",
    "gru_cell_reset_before",
    "gru_cell_reset_before_backward",
    "gru_gates",
    "gru_gates_backward",
    "lstm",
    "lstm_cell",
    "lstm_cell_backward",
    "lstm_gates",
    "lstm_gates_backward",
    "rnn",
    "rnn_cell",
    "rnn_cell_backward",
]

Grads = dict[str, torch.Tensor | None]

# --------------------------------------------------------------------------- checks


def _proxy(t: torch.Tensor | None) -> np.ndarray | None:
    """A zero-stride float64 array of ``t``'s shape (no memory): the CPU kernel's checks then
    test the shapes with the CPU messages."""
    if t is None:
        return None
    return np.lib.stride_tricks.as_strided(np.zeros(1), shape=tuple(t.shape), strides=(0,) * t.ndim)


def _t(value: object, name: str, like: torch.Tensor | None = None, like_name: str = "input"):
    t = _backend.tensor(value, name)
    return t if like is None else _backend.same(t, like, name, like_name)


def _opt(value: object, name: str, like: torch.Tensor, like_name: str = "input"):
    return None if value is None else _t(value, name, like, like_name)


class _Cell:
    """Checked cell arguments: ``x (N, I)``, states ``(N, H)`` (zeros for ``None``), weights
    and biases contiguous; ``batch`` None for unbatched input."""

    def __init__(self, kind, input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, rb=False):
        x = _t(input, "input")
        h = _opt(hx, "hx", x)
        c = _opt(cx, "cx", x) if kind == "lstm" else None
        wih, whh = _t(weight_ih, "weight_ih", x), _t(weight_hh, "weight_hh", x)
        bih, bhh = _opt(bias_ih, "bias_ih", x), _opt(bias_hh, "bias_hh", x)
        _, p, states, batch = _cpu._cell_args(
            kind, _proxy(x), _proxy(h), _proxy(c), _proxy(wih), _proxy(whh), _proxy(bih),
            _proxy(bhh), False, rb,
        )  # fmt: skip
        self.H, self.batch, self.input = p.H, batch, x
        self.shape = (batch, p.H) if batch is not None else (p.H,)
        self.x = x.reshape(-1, x.shape[-1]).contiguous()
        n = self.x.shape[0]
        self.n = n
        self.given = [g for _, g in states]

        def state(t):
            if t is None:
                return torch.zeros((n, p.H), dtype=x.dtype, device=x.device)
            return t.reshape(n, p.H).contiguous()

        self.h = state(h)
        self.c = state(c) if kind == "lstm" else None
        self.wih, self.whh = wih.contiguous(), whh.contiguous()
        self.bih = None if bih is None else bih.contiguous()
        self.bhh = None if bhh is None else bhh.contiguous()

    def grad(self, value: object, name: str) -> torch.Tensor:
        g = _t(value, name, self.input)
        _cpu._grad(_proxy(g), name, self.shape, np.float64)
        return g.reshape(self.n, self.H).contiguous()

    def out(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(self.shape)


def _gates2d(value: object, name: str, G: int, what: str) -> torch.Tensor:
    """A gate tensor ``(N, G H)``, the reference of the other arguments' shapes."""
    t = _backend.tensor(value, name, ndim=(2,))
    if 0 in t.shape:
        raise ValueError(f"{name} must not have a zero-size dimension, got shape {tuple(t.shape)}")
    if t.shape[1] % G:
        raise ValueError(
            f"{name} must have shape (N, {G}*hidden_size) (the {what} blocks side by side), got "
            f"{tuple(t.shape)}"
        )
    bounded(t.shape[0] * max(G, 4) * (t.shape[1] // G), "the gate buffer", name)
    return t


def _shaped(value, name, want, ref, ref_name, how) -> torch.Tensor:
    t = _backend.same(_backend.tensor(value, name), ref, name, ref_name)
    if tuple(t.shape) != want:
        raise ValueError(f"{name} must have shape {want} ({how}), got {tuple(t.shape)}")
    return t.contiguous()


def _gate_args(input_gates, hidden_gates, state, state_name, input_bias, hidden_bias, G, what):
    ig = _gates2d(input_gates, "input_gates", G, what)
    n, H = ig.shape[0], ig.shape[1] // G
    hg = _shaped(hidden_gates, "hidden_gates", tuple(ig.shape), ig, "input_gates",
                 "input_gates's shape")  # fmt: skip
    how = f"(N, hidden_size) with N = input_gates.shape[0], hidden_size = input_gates.shape[1]/{G}"
    s = _shaped(state, state_name, (n, H), ig, "input_gates", how)
    bhow = f"({G}*hidden_size,), hidden_size = input_gates.shape[1]/{G}"
    biases = [
        None if b is None else _shaped(b, name, (G * H,), ig, "input_gates", bhow)
        for b, name in ((input_bias, "input_bias"), (hidden_bias, "hidden_bias"))
    ]
    return ig.contiguous(), hg, s, biases[0], biases[1], n, H


# --------------------------------------------------------------------------- launches


def _k():
    return _backend.load("_recurrent_kernels")


def _launch(name: str, n: int, h: int, *args, **meta) -> None:
    k = _k()
    cfg = k.config(name, n, h, _backend.mode() == "interpreter")
    getattr(k, name)[k.grid(n, h, cfg)](*args, n, h, **meta, **cfg)


def _acc(t: torch.Tensor):
    tl = _k().tl
    return tl.float64 if t.dtype == torch.float64 else tl.float32


def _bias_meta(ref, bi, bh):
    return (ref if bi is None else bi, ref if bh is None else bh), dict(
        HAS_BI=bi is not None, HAS_BH=bh is not None
    )


def _mm(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``a @ w^T`` (torch's GEMM)."""
    return torch.matmul(a, w.t())


def _new(ig, n, H, hy=None):
    """The ``(N, H)`` output buffer (``hy``: a preallocated contiguous one, e.g. a step of a
    sequence's output)."""
    return torch.empty((n, H), dtype=ig.dtype, device=ig.device) if hy is None else hy


def _rnn_fwd(ig, hg, bi, bh, n, H, relu, hy=None):
    hy = _new(ig, n, H, hy)
    (b1, b2), meta = _bias_meta(ig, bi, bh)
    _launch("_rnn_fwd", n, H, ig, hg, b1, b2, hy, RELU=relu, ACC=_acc(ig), **meta)
    return hy


def _lstm_fwd(ig, hg, cx, bi, bh, n, H, hy=None, ws=True):
    """``ws=False``: forward only, no workspace (``None`` returned)."""
    hy = _new(ig, n, H, hy)
    cy = torch.empty_like(hy)
    w = torch.empty((n, 4 * H), dtype=ig.dtype, device=ig.device) if ws else hy
    (b1, b2), meta = _bias_meta(ig, bi, bh)
    _launch(
        "_lstm_fwd", n, H, ig, hg, b1, b2, cx, hy, cy, w, ACC=_acc(ig), WRITE_WS=ws, **meta
    )  # fmt: skip
    return hy, cy, w if ws else None


def _lstm_bwd(gh, gc, cx, cy, ws, n, H):
    dg = torch.empty_like(ws)
    dcx = torch.empty_like(cx)
    _launch(
        "_lstm_bwd", n, H, cx if gh is None else gh, cx if gc is None else gc, cx, cy, ws, dg,
        dcx, HAS_GH=gh is not None, HAS_GC=gc is not None, ACC=_acc(ws),
    )  # fmt: skip
    return dg, dcx


def _gru_fwd(ig, hg, hx, bi, bh, n, H, hy=None, ws=True):
    hy = _new(ig, n, H, hy)
    w = torch.empty((n, 4 * H), dtype=ig.dtype, device=ig.device) if ws else hy
    (b1, b2), meta = _bias_meta(ig, bi, bh)
    _launch("_gru_fwd", n, H, ig, hg, b1, b2, hx, hy, w, ACC=_acc(ig), WRITE_WS=ws, **meta)
    return hy, w if ws else None


def _gru_bwd(gh, hx, ws, n, H):
    di = torch.empty((n, 3 * H), dtype=ws.dtype, device=ws.device)
    dh = torch.empty_like(di)
    dhx = torch.empty_like(hx)
    _launch("_gru_bwd", n, H, gh, hx, ws, di, dh, dhx, ACC=_acc(ws))
    return di, dh, dhx


# --------------------------------------------------------------------------- gate functions


def lstm_gates(
    input_gates: torch.Tensor,
    hidden_gates: torch.Tensor,
    cx: torch.Tensor,
    input_bias: torch.Tensor | None = None,
    hidden_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The LSTM's fused gate math (torch's ``_thnn_fused_lstm_cell``): with
    :math:`a` = ``input_gates + hidden_gates + input_bias + hidden_bias`` ``(N, 4H)`` split
    into blocks :math:`a_i, a_f, a_g, a_o`: :math:`i, f, o = \sigma(a_\cdot)`, :math:`g =
    \tanh(a_g)`, ``cy`` :math:`= f c + i g`, ``hy`` :math:`= o \tanh(c_y)`. Returns ``(hy, cy,
    workspace)``, workspace ``(N, 4H)`` = ``[i, f, g, o]`` (for :func:`lstm_gates_backward`).
    ``cx`` ``(N, H)``; biases ``(4H,)`` or ``None``."""
    ig, hg, c, bi, bh, n, H = _gate_args(
        input_gates, hidden_gates, cx, "cx", input_bias, hidden_bias, 4, "i, f, g, o"
    )
    return _lstm_fwd(ig, hg, c, bi, bh, n, H)


def lstm_gates_backward(
    grad_hy: torch.Tensor | None,
    grad_cy: torch.Tensor | None,
    cx: torch.Tensor,
    cy: torch.Tensor,
    workspace: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Backward of :func:`lstm_gates` (torch's ``_thnn_fused_lstm_cell_backward``):
    :math:`\bar c = g_c + g_h\,o(1 - \tanh^2 c_y)`; ``grad_gates`` ``(N, 4H)`` =
    :math:`[\bar c g\,i(1-i),\ \bar c c\,f(1-f),\ \bar c i(1-g^2),\ g_h\tanh(c_y)\,o(1-o)]`
    (the gradient of both gate tensors; summed over rows, of both biases), ``grad_cx`` =
    :math:`\bar c f`. ``grad_hy``/``grad_cy`` ``(N, H)`` or ``None`` (zero)."""
    ws = _gates2d(workspace, "workspace", 4, "i, f, g, o")
    n, H = ws.shape[0], ws.shape[1] // 4
    how = "(N, hidden_size) with N = workspace.shape[0], hidden_size = workspace.shape[1]/4"
    gh = None if grad_hy is None else _shaped(grad_hy, "grad_hy", (n, H), ws, "workspace", how)
    gc = None if grad_cy is None else _shaped(grad_cy, "grad_cy", (n, H), ws, "workspace", how)
    c = _shaped(cx, "cx", (n, H), ws, "workspace", how)
    cyc = _shaped(cy, "cy", (n, H), ws, "workspace", how)
    return _lstm_bwd(gh, gc, c, cyc, ws.contiguous(), n, H)


def gru_gates(
    input_gates: torch.Tensor,
    hidden_gates: torch.Tensor,
    hx: torch.Tensor,
    input_bias: torch.Tensor | None = None,
    hidden_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""torch's GRU gate math (reset after the product; ``_thnn_fused_gru_cell``): blocks
    ``r, z, n`` of ``(N, 3H)`` gate tensors, :math:`r, z = \sigma(i_\cdot + h_\cdot + b_{i\cdot}
    + b_{h\cdot})`, :math:`n = \tanh(i_n + b_{in} + r(h_n + b_{hn}))`, ``hy`` :math:`= n + z(h -
    n)`. Returns ``(hy, workspace)``, workspace ``(N, 4H)`` = ``[r, z, n, h_n + b_hn]``."""
    ig, hg, h, bi, bh, n, H = _gate_args(
        input_gates, hidden_gates, hx, "hx", input_bias, hidden_bias, 3, "r, z, n"
    )
    return _gru_fwd(ig, hg, h, bi, bh, n, H)


def gru_gates_backward(
    grad_hy: torch.Tensor, hx: torch.Tensor, workspace: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Backward of :func:`gru_gates`: with :math:`\bar a_n = g(1-z)(1-n^2)`,
    ``grad_input_gates`` = :math:`[\bar a_n h_n r(1-r),\ g(h-n)z(1-z),\ \bar a_n]`,
    ``grad_hidden_gates`` the same with :math:`\bar a_n r` in block ``n``, ``grad_hx`` =
    :math:`g z` (the element-wise part; add ``grad_hidden_gates @ W_hh``). ``workspace``
    ``(N, 4H)`` from :func:`gru_gates`, ``grad_hy`` and ``hx`` ``(N, H)``."""
    ws = _gates2d(workspace, "workspace", 4, "r, z, n, h_n + b_hn")
    n, H = ws.shape[0], ws.shape[1] // 4
    how = "(N, hidden_size) with N = workspace.shape[0], hidden_size = workspace.shape[1]/4"
    g = _shaped(grad_hy, "grad_hy", (n, H), ws, "workspace", how)
    h = _shaped(hx, "hx", (n, H), ws, "workspace", how)
    return _gru_bwd(g, h, ws.contiguous(), n, H)


# --------------------------------------------------------------------------- cells


def _bias_grads(cell: _Cell, d_i: torch.Tensor, d_h: torch.Tensor) -> dict:
    return {
        "bias_ih": None if cell.bih is None else d_i.sum(dim=0),
        "bias_hh": None if cell.bhh is None else d_h.sum(dim=0),
    }


def _param_grads(cell: _Cell, d_i: torch.Tensor, d_h: torch.Tensor) -> dict:
    return {
        "weight_ih": torch.matmul(d_i.t(), cell.x),
        "weight_hh": torch.matmul(d_h.t(), cell.h),
        **_bias_grads(cell, d_i, d_h),
    }


def rnn_cell(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
) -> torch.Tensor:
    r"""Vanilla RNN cell (``nn.RNNCell``): :math:`h' = \phi(W_{ih}x + b_{ih} + W_{hh}h +
    b_{hh})`: two GEMMs, then one kernel adds the biases and applies ``tanh``/``relu``."""
    relu = _cpu._nonlinearity(nonlinearity)
    c = _Cell("rnn", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh)
    hy = _rnn_fwd(_mm(c.x, c.wih), _mm(c.h, c.whh), c.bih, c.bhh, c.n, c.H, relu)
    return c.out(hy)


def rnn_cell_backward(
    grad_h: torch.Tensor,
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Grads:
    r"""Gradients of :func:`rnn_cell` (keys as :func:`kernels.cpu.recurrent.rnn_cell_backward`):
    :math:`\delta = g\,\phi'(a)` from ``h'`` (kernel), then GEMMs."""
    relu = _cpu._nonlinearity(nonlinearity)
    c = _Cell("rnn", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh)
    g = c.grad(grad_h, "grad_h")
    hy = _rnn_fwd(_mm(c.x, c.wih), _mm(c.h, c.whh), c.bih, c.bhh, c.n, c.H, relu)
    d = torch.empty_like(hy)
    _launch("_rnn_bwd", c.n, c.H, g, hy, d, RELU=relu, ACC=_acc(hy))
    return {
        "input": torch.matmul(d, c.wih).reshape(c.input.shape),
        "hx": c.out(torch.matmul(d, c.whh)) if c.given[0] else None,
        **_param_grads(c, d, d),
    }


def lstm_cell(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    cx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""LSTM cell (``nn.LSTMCell``, rows ``i, f, g, o``): returns ``(h', c')``,
    :math:`c' = f c + i g`, :math:`h' = o\tanh c'` — two GEMMs and :func:`lstm_gates`'s
    kernel. ``hx``, ``cx`` ``(N, H)``/``(H,)`` or ``None`` (zeros)."""
    c = _Cell("lstm", input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    hy, cy, _ = _lstm_fwd(
        _mm(c.x, c.wih), _mm(c.h, c.whh), c.c, c.bih, c.bhh, c.n, c.H, ws=False
    )  # fmt: skip
    return c.out(hy), c.out(cy)


def lstm_cell_backward(
    grad_h: torch.Tensor,
    grad_c: torch.Tensor | None,
    input: torch.Tensor,
    hx: torch.Tensor | None,
    cx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> Grads:
    r"""Gradients of :func:`lstm_cell` (keys ``input, hx, cx, weight_ih, weight_hh, bias_ih,
    bias_hh``; ``None`` for an argument given as ``None``); ``grad_c`` ``None`` = 0. The forward
    kernel again (workspace, ``c'``), :func:`lstm_gates_backward`'s kernel, then GEMMs."""
    c = _Cell("lstm", input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    gh = c.grad(grad_h, "grad_h")
    gc = None if grad_c is None else c.grad(grad_c, "grad_c")
    _, cy, ws = _lstm_fwd(_mm(c.x, c.wih), _mm(c.h, c.whh), c.c, c.bih, c.bhh, c.n, c.H)
    d, dcx = _lstm_bwd(gh, gc, c.c, cy, ws, c.n, c.H)
    return {
        "input": torch.matmul(d, c.wih).reshape(c.input.shape),
        "hx": c.out(torch.matmul(d, c.whh)) if c.given[0] else None,
        "cx": c.out(dcx) if c.given[1] else None,
        **_param_grads(c, d, d),
    }


def gru_cell(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""GRU cell in torch's form (``nn.GRUCell``; reset **after** the product):
    :math:`n = \tanh(W_{in}x + b_{in} + r(W_{hn}h + b_{hn}))`, :math:`h' = (1-z)n + zh` — two
    GEMMs and :func:`gru_gates`'s kernel."""
    c = _Cell("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh)
    hy, _ = _gru_fwd(_mm(c.x, c.wih), _mm(c.h, c.whh), c.h, c.bih, c.bhh, c.n, c.H, ws=False)
    return c.out(hy)


def gru_cell_backward(
    grad_h: torch.Tensor,
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> Grads:
    r"""Gradients of :func:`gru_cell` (keys ``input, hx, weight_ih, weight_hh, bias_ih,
    bias_hh``): forward kernel, :func:`gru_gates_backward`'s kernel, then GEMMs (``hx``:
    ``g z + grad_hidden_gates W_hh``)."""
    c = _Cell("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh)
    g = c.grad(grad_h, "grad_h")
    _, ws = _gru_fwd(_mm(c.x, c.wih), _mm(c.h, c.whh), c.h, c.bih, c.bhh, c.n, c.H)
    di, dh, dhx = _gru_bwd(g, c.h, ws, c.n, c.H)
    return {
        "input": torch.matmul(di, c.wih).reshape(c.input.shape),
        "hx": c.out(torch.matmul(dh, c.whh).add_(dhx)) if c.given[0] else None,
        **_param_grads(c, di, dh),
    }


def _rb_step(ig, h, whh, bih, bhh, n, H, hy=None):
    """The reset-before launch sequence after the input GEMM ``ig`` ``(N, 3H)``; returns
    ``(hy, workspace (N, 3H) = [r, z, n], r h)``."""
    dt, dev = ig.dtype, ig.device
    hg = _mm(h, whh[: 2 * H])
    ws = torch.empty((n, 3 * H), dtype=dt, device=dev)
    rh = torch.empty((n, H), dtype=dt, device=dev)
    (b1, b2), meta = _bias_meta(ig, bih, bhh)
    _launch("_gru_rb_reset", n, H, ig, hg, b1, b2, h, rh, ws, ACC=_acc(ig), **meta)
    hn = _mm(rh, whh[2 * H :])
    hy = _new(ig, n, H, hy)
    _launch("_gru_rb_update", n, H, ig, hn, b1, b2, h, ws, hy, ACC=_acc(ig), **meta)
    return hy, ws, rh


def _rb_forward(c: _Cell):
    return _rb_step(_mm(c.x, c.wih), c.h, c.whh, c.bih, c.bhh, c.n, c.H)


def gru_cell_reset_before(
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""GRU cell with the reset gate **before** the product (Cho et al. 2014; 000):
    :math:`n = \tanh(W_{in}x + b_{in} + W_{hn}(r h) + b_{hn})`, :math:`h' = (1-z)n + zh`.
    Three GEMMs and two gate kernels (the module docstring's launch sequence)."""
    c = _Cell("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, rb=True)
    return c.out(_rb_forward(c)[0])


def gru_cell_reset_before_backward(
    grad_h: torch.Tensor,
    input: torch.Tensor,
    hx: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> Grads:
    r"""Gradients of :func:`gru_cell_reset_before` (keys as :func:`gru_cell_backward`):
    ``_gru_rb_bwd_update`` (:math:`\bar a_z, \bar a_n`), GEMM :math:`\overline{rh} = \bar a_n
    W_{hn}`, ``_gru_rb_bwd_reset`` (:math:`\bar a_r`, :math:`gz + \overline{rh}r`), GEMMs."""
    c = _Cell("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, rb=True)
    g = c.grad(grad_h, "grad_h")
    _, ws, rh = _rb_forward(c)
    H, n = c.H, c.n
    dg = torch.empty_like(ws)
    _launch("_gru_rb_bwd_update", n, H, g, c.h, ws, dg, ACC=_acc(ws))
    dan = dg[:, 2 * H :]
    drh = torch.matmul(dan, c.whh[2 * H :])
    dhx = torch.empty_like(c.h)
    _launch("_gru_rb_bwd_reset", n, H, g, c.h, ws, drh, dg, dhx, ACC=_acc(ws))
    d_rz = dg[:, : 2 * H]
    whh_grad = torch.cat([torch.matmul(d_rz.t(), c.h), torch.matmul(dan.t(), rh)])
    return {
        "input": torch.matmul(dg, c.wih).reshape(c.input.shape),
        "hx": c.out(torch.matmul(d_rz, c.whh[: 2 * H]).add_(dhx)) if c.given[0] else None,
        "weight_ih": torch.matmul(dg.t(), c.x),
        "weight_hh": whh_grad,
        **_bias_grads(c, dg, dg),
    }


# --------------------------------------------------------------------------- sequences


class _Seq:
    """Checked sequence arguments (the CPU kernel's checks and messages): ``x (L, N, I)``,
    ``h0``/``c0`` as ``(N, H)`` (zeros for ``None``)."""

    def __init__(self, kind, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, rb=False):
        x = _t(input, "input")
        h = _opt(h0, "h0", x)
        c = _opt(c0, "c0", x) if kind == "lstm" else None
        wih, whh = _t(weight_ih, "weight_ih", x), _t(weight_hh, "weight_hh", x)
        bih, bhh = _opt(bias_ih, "bias_ih", x), _opt(bias_hh, "bias_hh", x)
        _, p, _, batch = _cpu._seq_args(
            kind, _proxy(x), _proxy(h), _proxy(c), _proxy(wih), _proxy(whh), _proxy(bih),
            _proxy(bhh), False, rb,
        )  # fmt: skip
        self.L, self.n, self.H, self.batch = x.shape[0], batch or 1, p.H, batch
        self.x = x.reshape(self.L, self.n, x.shape[-1]).contiguous()

        def state(t):
            if t is None:
                return torch.zeros((self.n, p.H), dtype=x.dtype, device=x.device)
            return t.reshape(self.n, p.H).contiguous()

        self.h = state(h)
        self.c = state(c) if kind == "lstm" else None
        self.wih, self.whh = wih.contiguous(), whh.contiguous()
        self.bih = None if bih is None else bih.contiguous()
        self.bhh = None if bhh is None else bhh.contiguous()

    def input_gates(self) -> torch.Tensor:
        """All steps' input products in one GEMM ``(L N, I) x (I, G H)`` (cuDNN's
        hoisting: only the hidden product is sequential)."""
        gi = _mm(self.x.reshape(self.L * self.n, -1), self.wih)
        return gi.reshape(self.L, self.n, -1)

    def output(self) -> torch.Tensor:
        return torch.empty((self.L, self.n, self.H), dtype=self.x.dtype, device=self.x.device)

    def shaped(self, out: torch.Tensor, *states: torch.Tensor):
        st = (1, self.n, self.H) if self.batch is not None else (1, self.H)
        o = out if self.batch is not None else out[:, 0]
        return o, tuple(s.reshape(st) for s in states)


def rnn(
    input: torch.Tensor,
    h0: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Single-layer RNN over a sequence (``nn.RNN``, ``num_layers=1``, seq-first), forward
    only: one GEMM for every step's input product, then per step the hidden GEMM and the gate
    kernel writing :math:`h_t` straight into ``output[t]``. Returns ``(output, h_n)`` with
    torch's (and :func:`kernels.cpu.recurrent.rnn`'s) shapes."""
    relu = _cpu._nonlinearity(nonlinearity)
    s = _Seq("rnn", input, h0, None, weight_ih, weight_hh, bias_ih, bias_hh)
    gi, out, h = s.input_gates(), s.output(), s.h
    for t in range(s.L):
        h = _rnn_fwd(gi[t], _mm(h, s.whh), s.bih, s.bhh, s.n, s.H, relu, out[t])
    o, (hn,) = s.shaped(out, h)
    return o, hn


def lstm(
    input: torch.Tensor,
    h0: torch.Tensor | None,
    c0: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""Single-layer LSTM over a sequence (``nn.LSTM``, ``num_layers=1``, seq-first, no
    ``proj_size``), forward only, as :func:`rnn` (the gate kernel writes no workspace):
    ``(output, (h_n, c_n))``."""
    s = _Seq("lstm", input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    gi, out, h, c = s.input_gates(), s.output(), s.h, s.c
    for t in range(s.L):
        h, c, _ = _lstm_fwd(gi[t], _mm(h, s.whh), c, s.bih, s.bhh, s.n, s.H, out[t], ws=False)
    o, (hn, cn) = s.shaped(out, h, c)
    return o, (hn, cn)


def gru(
    input: torch.Tensor,
    h0: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    reset_before: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Single-layer GRU over a sequence (``nn.GRU``, ``num_layers=1``, seq-first), forward
    only, as :func:`rnn`: torch's reset-after cell, or with ``reset_before=True`` the
    reset-before cell (three GEMMs and two gate kernels per step). ``(output, h_n)``."""
    rb = _flag(reset_before, "reset_before")
    s = _Seq("gru", input, h0, None, weight_ih, weight_hh, bias_ih, bias_hh, rb)
    gi, out, h = s.input_gates(), s.output(), s.h
    for t in range(s.L):
        if rb:
            h = _rb_step(gi[t], h, s.whh, s.bih, s.bhh, s.n, s.H, out[t])[0]
        else:
            h, _ = _gru_fwd(gi[t], _mm(h, s.whh), h, s.bih, s.bhh, s.n, s.H, out[t], ws=False)
    o, (hn,) = s.shaped(out, h)
    return o, hn
