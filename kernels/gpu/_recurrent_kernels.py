r"""Triton kernels of :mod:`kernels.gpu.recurrent`: the element-wise gate math of the RNN, LSTM
and GRU cells (both GRU forms), forward and backward. The matrix products stay in torch's GEMM
(as in torch's fused cells, ``_thnn_fused_lstm_cell`` / ``_thnn_fused_gru_cell`` in
``aten/src/ATen/native/cuda/RNN.cu``); these kernels do everything between the products.

Imported only through ``kernels.gpu._backend.load("_recurrent_kernels")``: importing it imports
Triton.

**Layout and grid.** Every tensor is contiguous. A gate tensor of ``G`` gates is ``(N, G H)``
with gate ``k`` of row ``n`` at columns ``k H .. k H + H - 1`` (torch's row blocks of
``weight_ih``); a state is ``(N, H)``; a bias ``(G H,)``. The grid is ``(cdiv(N, BLOCK_N),
cdiv(H, BLOCK_H))``: program ``(p, q)`` owns rows ``p BLOCK_N ..`` and hidden units ``q BLOCK_H
..`` and loads, for those units, **all ``G`` gate blocks** of both gate tensors (each load a
``BLOCK_N x BLOCK_H`` tile, contiguous along the hidden axis: coalesced), the bias slices and the
states, and writes every output of those units once. So each byte of the inputs is read once and
each output written once — no second pass, no atomics, so every result is bit-reproducible.
(torch's kernel is a grid-stride loop over the ``N H`` units with the same per-unit access
pattern; the 2-D tile lets the bias slice be loaded once per program.)

**Precision.** Gate math in ``ACC`` (float32 for float16/bfloat16/float32, float64 for
float64); outputs and workspaces are stored in the input dtype (as torch's fused kernels do: the
backward reads the activated gates rounded to the input dtype). Pre-activations are summed in
torch's order ``input_gate + hidden_gate + input_bias + hidden_bias``. The logistic function is
``1/(1 + exp(-a))`` (torch's ``sigmoid`` in RNN.cu; it saturates to 0 or 1 without NaN);
``tanh`` is :func:`_tanh` (libdevice's ``tanh`` is not available in Triton's interpreter).
Offsets are int32: the wrapper bounds every buffer by ``kernels.cpu._check.MAX_ELEMENTS``
(:math:`2^{27}` elements), so the largest offset (a GRU workspace, ``4 N H``) stays below
:math:`2^{31}`.

**Configs.** ``INTERPRETER_CONFIG`` (tiles of 2 rows x 16 units: several programs and masked
edges at test sizes) under the interpreter; on CUDA one of ``CUDA_CONFIGS[kernel]`` chosen by
:func:`config`: the tile (1024 elements, 4 warps: 8 elements per thread per live tile, as
torch's pointwise launch of 512 threads x a few elements) whose padding of the ``N x H`` grid
is smallest, ties to the widest ``BLOCK_H`` (longest contiguous runs). Memory-bound: no
autotuning is needed beyond avoiding padded lanes.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: The interpreter's tile (small: each program instance costs the interpreter ~1 ms).
INTERPRETER_CONFIG = dict(BLOCK_N=2, BLOCK_H=16, num_warps=1)

_TILES = (
    dict(BLOCK_N=1, BLOCK_H=1024, num_warps=4),
    dict(BLOCK_N=4, BLOCK_H=256, num_warps=4),
    dict(BLOCK_N=16, BLOCK_H=64, num_warps=4),
    dict(BLOCK_N=64, BLOCK_H=16, num_warps=4),
)

KERNELS = (
    "_rnn_fwd",
    "_rnn_bwd",
    "_lstm_fwd",
    "_lstm_bwd",
    "_gru_fwd",
    "_gru_bwd",
    "_gru_rb_reset",
    "_gru_rb_update",
    "_gru_rb_bwd_update",
    "_gru_rb_bwd_reset",
)

#: CUDA tiles per kernel (all memory-bound element-wise kernels share the list).
CUDA_CONFIGS = {name: [dict(c) for c in _TILES] for name in KERNELS}


def config(name: str, n: int, h: int, interpreted: bool) -> dict:
    """Launch options of kernel ``name`` for ``n`` rows of ``h`` hidden units."""
    if interpreted:
        return dict(INTERPRETER_CONFIG)

    def padded(c: dict) -> tuple[int, int]:
        rows = triton.cdiv(n, c["BLOCK_N"]) * c["BLOCK_N"]
        cols = triton.cdiv(h, c["BLOCK_H"]) * c["BLOCK_H"]
        return rows * cols, -c["BLOCK_H"]

    return dict(min(CUDA_CONFIGS[name], key=padded))


def grid(n: int, h: int, cfg: dict) -> tuple[int, int]:
    return (triton.cdiv(n, cfg["BLOCK_N"]), triton.cdiv(h, cfg["BLOCK_H"]))


# --------------------------------------------------------------------------- helpers


@triton.jit
def _tile(N, H, G: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):
    """``(cols, mask, gate, state)``: the program's hidden units, the in-bounds mask, the
    offsets of gate 0 in a ``(N, G H)`` tensor and of the units in a ``(N, H)`` tensor."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = (rows[:, None] < N) & (cols[None, :] < H)
    gate = rows[:, None] * (G * H) + cols[None, :]
    state = rows[:, None] * H + cols[None, :]
    return cols, mask, gate, state


@triton.jit
def _bias(B, k, cols, H, ACC: tl.constexpr):
    """Gate ``k``'s bias slice as a ``(1, BLOCK_H)`` row."""
    return tl.load(B + k * H + cols, mask=cols < H, other=0.0).to(ACC)[None, :]


@triton.jit
def _pre(IG, HG, BI, BH, k, gate_i, gate_h, cols, mask, H,
         HAS_BI: tl.constexpr, HAS_BH: tl.constexpr, ACC: tl.constexpr):  # fmt: skip
    """Gate ``k``'s pre-activation ``ig + hg + b_i + b_h`` (torch's order of the sums)."""
    a = tl.load(IG + gate_i + k * H, mask=mask, other=0.0).to(ACC)
    a = a + tl.load(HG + gate_h + k * H, mask=mask, other=0.0).to(ACC)
    if HAS_BI:
        a = a + _bias(BI, k, cols, H, ACC)
    if HAS_BH:
        a = a + _bias(BH, k, cols, H, ACC)
    return a


@triton.jit
def _sigmoid(a):
    """``1/(1 + exp(-a))``: 0 at ``-inf`` (``exp`` overflows to ``inf``), 1 at ``+inf``."""
    return 1.0 / (1.0 + tl.exp(-a))


@triton.jit
def _tanh(a, ACC: tl.constexpr):
    r"""``tanh`` to a few ulps without cancellation near 0: for :math:`|a| < 0.625` Cephes'
    approximation :math:`a + a z P(z)` (float32: ``tanhf``'s polynomial) or :math:`a + a z
    P(z)/Q(z)` (float64: ``tanh``'s rational function), :math:`z = a^2`; beyond,
    :math:`\operatorname{sign}(a)(1 - 2/(e^{2\min(|a|, 20)} + 1))` (exactly :math:`\pm 1`
    beyond 20)."""
    x = tl.abs(a)
    z = a * a
    if ACC == tl.float64:
        p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
        p = p - 1.61468768441708447952e3
        q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
        q = q + 4.84406305325125486048e3
        small = a + a * z * (p / q)
    else:
        p = -5.70498872745e-3 * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        small = a + a * z * p
    # |a| >= 20: tanh rounds to 1 in float64 (1 - 2e^-40) and float32; no overflow of exp
    big = 1.0 - 2.0 / (tl.exp(2.0 * tl.minimum(x, 20.0)) + 1.0)
    big = tl.where(a < 0, -big, big)
    return tl.where(x < 0.625, small, big)


# --------------------------------------------------------------------------- RNN


@triton.jit
def _rnn_fwd(IG, HG, BI, BH, HY, N, H,
             HAS_BI: tl.constexpr, HAS_BH: tl.constexpr, RELU: tl.constexpr,
             ACC: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    """``h' = phi(ig + hg + b_i + b_h)``, ``phi`` = relu or tanh."""
    cols, mask, gate, state = _tile(N, H, 1, BLOCK_N, BLOCK_H)
    a = _pre(IG, HG, BI, BH, 0, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC)
    if RELU:
        hy = tl.maximum(a, 0.0)
    else:
        hy = _tanh(a, ACC)
    tl.store(HY + state, hy.to(HY.dtype.element_ty), mask=mask)


# Backward of h' = phi(a), a = W_ih x + b_ih + W_hh h + b_hh (theory.sequence.derive_rnn_bptt
# proves one step's Jacobian dh'/dh = diag(1 - h'^2) W_hh by sympy.diff, i.e. this kernel's
# delta followed by the GEMM):  delta = g * phi'(a) with tanh'(a) = 1 - tanh(a)^2 = 1 - h'^2
# and relu'(a) = [a > 0] = [h' > 0] (0 at a = 0, torch's threshold_backward), so h' alone (no
# pre-activation) is saved. delta is the gradient of both gate tensors (and of both biases:
# the wrapper sums it over rows).
@triton.jit
def _rnn_bwd(GH, HY, DA, N, H, RELU: tl.constexpr, ACC: tl.constexpr,
             BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    _cols, mask, _gate, state = _tile(N, H, 1, BLOCK_N, BLOCK_H)
    g = tl.load(GH + state, mask=mask, other=0.0).to(ACC)
    hy = tl.load(HY + state, mask=mask, other=0.0).to(ACC)
    if RELU:
        d = tl.where(hy > 0, g, 0.0)
    else:
        d = g * (1.0 - hy * hy)
    tl.store(DA + state, d.to(DA.dtype.element_ty), mask=mask)


# --------------------------------------------------------------------------- LSTM


@triton.jit
def _lstm_fwd(IG, HG, BI, BH, CX, HY, CY, WS, N, H,
              HAS_BI: tl.constexpr, HAS_BH: tl.constexpr, ACC: tl.constexpr,
              WRITE_WS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    """``i, f, o = sigmoid, g = tanh`` of the four pre-activations; ``c' = f c + i g``,
    ``h' = o tanh(c')``. Workspace ``(N, 4H)``: the activated ``i, f, g, o`` (torch's), written
    only if ``WRITE_WS`` (a forward without backward skips those ``4 N H`` elements)."""
    cols, mask, gate, state = _tile(N, H, 4, BLOCK_N, BLOCK_H)
    i = _sigmoid(_pre(IG, HG, BI, BH, 0, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC))
    f = _sigmoid(_pre(IG, HG, BI, BH, 1, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC))
    g = _tanh(_pre(IG, HG, BI, BH, 2, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC), ACC)
    o = _sigmoid(_pre(IG, HG, BI, BH, 3, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC))
    cx = tl.load(CX + state, mask=mask, other=0.0).to(ACC)
    cy = f * cx + i * g
    hy = o * _tanh(cy, ACC)
    tl.store(HY + state, hy.to(HY.dtype.element_ty), mask=mask)
    tl.store(CY + state, cy.to(CY.dtype.element_ty), mask=mask)
    if WRITE_WS:
        t = WS.dtype.element_ty
        tl.store(WS + gate, i.to(t), mask=mask)
        tl.store(WS + gate + H, f.to(t), mask=mask)
        tl.store(WS + gate + 2 * H, g.to(t), mask=mask)
        tl.store(WS + gate + 3 * H, o.to(t), mask=mask)


# Backward of the LSTM gates. No function of theory.sequence derives the cell's backward
# symbolically; theory.sequence.lstm_cell_path_expr proves the cell-path factor
# dc'/dc = f (sympy.diff, the "constant error carousel"), and the rest is the chain rule
# (the same formulas as kernels.cpu.recurrent._step_back and torch's lstm_cell_backward in
# aten/src/ATen/native/cuda/RNN.cu), with sigma' = sigma (1 - sigma), tanh' = 1 - tanh^2:
#   c' = f c + i g,  h' = o tanh(c')
#   dL/dc' (total) = gc + gh o (1 - tanh(c')^2)            (gc: upstream grad of c', 0 if None)
#   dL/do = gh tanh(c'),  dL/di = dc' g,  dL/df = dc' c,  dL/dg = dc' i,  dL/dc = dc' f
#   pre-activation grads: di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)  -> grad_gates (N, 4H)
# grad_gates is the gradient of both gate tensors (and, summed over rows, of both biases);
# tanh(c') is recomputed from the saved c' (as torch). Tested against torch autograd of the
# same gate math in tests/test_gpu_recurrent.py.
@triton.jit
def _lstm_bwd(GH, GC, CX, CY, WS, DG, DCX, N, H,
              HAS_GH: tl.constexpr, HAS_GC: tl.constexpr, ACC: tl.constexpr,
              BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    _cols, mask, gate, state = _tile(N, H, 4, BLOCK_N, BLOCK_H)
    i = tl.load(WS + gate, mask=mask, other=0.0).to(ACC)
    f = tl.load(WS + gate + H, mask=mask, other=0.0).to(ACC)
    g = tl.load(WS + gate + 2 * H, mask=mask, other=0.0).to(ACC)
    o = tl.load(WS + gate + 3 * H, mask=mask, other=0.0).to(ACC)
    cx = tl.load(CX + state, mask=mask, other=0.0).to(ACC)
    tc = _tanh(tl.load(CY + state, mask=mask, other=0.0).to(ACC), ACC)
    if HAS_GH:
        gh = tl.load(GH + state, mask=mask, other=0.0).to(ACC)
    else:
        gh = tl.zeros_like(cx)
    dc = gh * o * (1.0 - tc * tc)
    if HAS_GC:
        dc = dc + tl.load(GC + state, mask=mask, other=0.0).to(ACC)
    t = DG.dtype.element_ty
    tl.store(DG + gate, (dc * g * (1.0 - i) * i).to(t), mask=mask)
    tl.store(DG + gate + H, (dc * cx * (1.0 - f) * f).to(t), mask=mask)
    tl.store(DG + gate + 2 * H, (dc * i * (1.0 - g * g)).to(t), mask=mask)
    tl.store(DG + gate + 3 * H, (gh * tc * (1.0 - o) * o).to(t), mask=mask)
    tl.store(DCX + state, (dc * f).to(DCX.dtype.element_ty), mask=mask)


# --------------------------------------------------------------------------- GRU, reset after


@triton.jit
def _gru_fwd(IG, HG, BI, BH, HX, HY, WS, N, H,
             HAS_BI: tl.constexpr, HAS_BH: tl.constexpr, ACC: tl.constexpr,
             WRITE_WS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    """torch's GRU: ``r, z = sigmoid``, ``n = tanh(ig_n + b_in + r (hg_n + b_hn))``,
    ``h' = n + z (h - n)``. Workspace ``(N, 4H)``: ``r, z, n, hg_n + b_hn`` (if
    ``WRITE_WS``)."""
    cols, mask, gate, state = _tile(N, H, 3, BLOCK_N, BLOCK_H)
    r = _sigmoid(_pre(IG, HG, BI, BH, 0, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC))
    z = _sigmoid(_pre(IG, HG, BI, BH, 1, gate, gate, cols, mask, H, HAS_BI, HAS_BH, ACC))
    a_n = tl.load(IG + gate + 2 * H, mask=mask, other=0.0).to(ACC)
    if HAS_BI:
        a_n = a_n + _bias(BI, 2, cols, H, ACC)
    hn = tl.load(HG + gate + 2 * H, mask=mask, other=0.0).to(ACC)
    if HAS_BH:
        hn = hn + _bias(BH, 2, cols, H, ACC)
    n = _tanh(a_n + r * hn, ACC)
    hx = tl.load(HX + state, mask=mask, other=0.0).to(ACC)
    hy = n + z * (hx - n)
    tl.store(HY + state, hy.to(HY.dtype.element_ty), mask=mask)
    if WRITE_WS:
        t = WS.dtype.element_ty
        _, _, w, _ = _tile(N, H, 4, BLOCK_N, BLOCK_H)  # the units in the (N, 4H) workspace
        tl.store(WS + w, r.to(t), mask=mask)
        tl.store(WS + w + H, z.to(t), mask=mask)
        tl.store(WS + w + 2 * H, n.to(t), mask=mask)
        tl.store(WS + w + 3 * H, hn.to(t), mask=mask)


# Backward of torch's GRU gates. No function of theory.sequence derives the cell's backward
# symbolically (theory.sequence.gru_cell_expr builds the forward in both forms;
# derive_gru_update_convention / derive_gru_reset_position prove forward identities only);
# the chain rule gives (as kernels.cpu.recurrent._step_back and torch's gru_cell_backward in
# RNN.cu), with g the upstream gradient of h' = (1 - z) n + z h:
#   dL/dn = g (1 - z),  dL/dz = g (h - n),  dL/dh (direct) = g z
#   a_n = ig_n + b_in + r hn  (hn = hg_n + b_hn):  da_n = dn (1 - n^2)
#   dL/d ig_n = dL/d b_in = da_n;  dL/d hg_n = dL/d b_hn = da_n r;  dL/dr = da_n hn
#   pre-activation grads: dr r(1-r), dz z(1-z)
# so grad_input_gates = [dar, daz, da_n], grad_hidden_gates = [dar, daz, da_n r], and
# grad_hx = g z (+ grad_hidden_gates @ W_hh, the wrapper's GEMM). Tested against torch autograd.
@triton.jit
def _gru_bwd(GH, HX, WS, DI, DH, DHX, N, H, ACC: tl.constexpr,
             BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    _cols, mask, gate, state = _tile(N, H, 3, BLOCK_N, BLOCK_H)
    _, _, w, _ = _tile(N, H, 4, BLOCK_N, BLOCK_H)
    r = tl.load(WS + w, mask=mask, other=0.0).to(ACC)
    z = tl.load(WS + w + H, mask=mask, other=0.0).to(ACC)
    n = tl.load(WS + w + 2 * H, mask=mask, other=0.0).to(ACC)
    hn = tl.load(WS + w + 3 * H, mask=mask, other=0.0).to(ACC)
    hx = tl.load(HX + state, mask=mask, other=0.0).to(ACC)
    g = tl.load(GH + state, mask=mask, other=0.0).to(ACC)
    daz = g * (hx - n) * (1.0 - z) * z
    dan = g * (1.0 - z) * (1.0 - n * n)
    dar = dan * hn * (1.0 - r) * r
    t = DI.dtype.element_ty
    tl.store(DI + gate, dar.to(t), mask=mask)
    tl.store(DI + gate + H, daz.to(t), mask=mask)
    tl.store(DI + gate + 2 * H, dan.to(t), mask=mask)
    tl.store(DH + gate, dar.to(t), mask=mask)
    tl.store(DH + gate + H, daz.to(t), mask=mask)
    tl.store(DH + gate + 2 * H, (dan * r).to(t), mask=mask)
    tl.store(DHX + state, (g * z).to(t), mask=mask)


# --------------------------------------------------------------------------- GRU, reset before


@triton.jit
def _gru_rb_reset(IG, HG, BI, BH, HX, RH, WS, N, H,
                  HAS_BI: tl.constexpr, HAS_BH: tl.constexpr, ACC: tl.constexpr,
                  BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    """Reset-before step 1 (after the GEMM of ``h`` with rows ``0:2H``): ``r, z = sigmoid``
    of ``IG[:, :2H] + HG + biases`` (``IG`` is ``(N, 3H)``, ``HG`` ``(N, 2H)``); writes
    ``r, z`` to the workspace ``(N, 3H)`` (blocks 0, 1) and ``r h`` to ``RH`` ``(N, H)``."""
    cols, mask, gate, state = _tile(N, H, 3, BLOCK_N, BLOCK_H)
    _, _, gate2, _ = _tile(N, H, 2, BLOCK_N, BLOCK_H)
    r = _sigmoid(_pre(IG, HG, BI, BH, 0, gate, gate2, cols, mask, H, HAS_BI, HAS_BH, ACC))
    z = _sigmoid(_pre(IG, HG, BI, BH, 1, gate, gate2, cols, mask, H, HAS_BI, HAS_BH, ACC))
    hx = tl.load(HX + state, mask=mask, other=0.0).to(ACC)
    t = WS.dtype.element_ty
    tl.store(WS + gate, r.to(t), mask=mask)
    tl.store(WS + gate + H, z.to(t), mask=mask)
    tl.store(RH + state, (r * hx).to(RH.dtype.element_ty), mask=mask)


@triton.jit
def _gru_rb_update(IG, HN, BI, BH, HX, WS, HY, N, H,
                   HAS_BI: tl.constexpr, HAS_BH: tl.constexpr, ACC: tl.constexpr,
                   BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    """Reset-before step 2 (after the GEMM of ``r h`` with rows ``2H:3H``, ``HN`` ``(N,
    H)``): ``n = tanh(ig_n + b_in + hn + b_hn)``, ``h' = n + z (h - n)``; ``n`` to the
    workspace's block 2."""
    cols, mask, gate, state = _tile(N, H, 3, BLOCK_N, BLOCK_H)
    a = tl.load(IG + gate + 2 * H, mask=mask, other=0.0).to(ACC)
    a = a + tl.load(HN + state, mask=mask, other=0.0).to(ACC)
    if HAS_BI:
        a = a + _bias(BI, 2, cols, H, ACC)
    if HAS_BH:
        a = a + _bias(BH, 2, cols, H, ACC)
    n = _tanh(a, ACC)
    z = tl.load(WS + gate + H, mask=mask, other=0.0).to(ACC)
    hx = tl.load(HX + state, mask=mask, other=0.0).to(ACC)
    tl.store(HY + state, (n + z * (hx - n)).to(HY.dtype.element_ty), mask=mask)
    tl.store(WS + gate + 2 * H, n.to(WS.dtype.element_ty), mask=mask)


# Backward of the reset-before GRU (Cho et al. 2014 / 000's candidate), in the reverse order of
# the forward's launches. No function of theory.sequence derives it symbolically
# (theory.sequence.gru_cell_expr(form="d000") builds the forward); the chain rule, as
# kernels.cpu.recurrent._step_back's reset_before branch, with g the upstream gradient:
#   h' = (1 - z) n + z h,  n = tanh(a_n),  a_n = ig_n + b_in + W_hn (r h) + b_hn
#   _gru_rb_bwd_update:  daz = g (h - n) z (1 - z),  da_n = g (1 - z)(1 - n^2)
#     (da_n is the gradient of ig_n, b_in, b_hn; the wrapper's GEMM d(rh) = da_n W_hn)
#   _gru_rb_bwd_reset:   dar = d(rh) h r (1 - r),
#     dL/dh (element-wise part) = g z + d(rh) r   (+ [dar, daz] @ W_hh[0:2H], the GEMM)
@triton.jit
def _gru_rb_bwd_update(GH, HX, WS, DG, N, H, ACC: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    _cols, mask, gate, state = _tile(N, H, 3, BLOCK_N, BLOCK_H)
    z = tl.load(WS + gate + H, mask=mask, other=0.0).to(ACC)
    n = tl.load(WS + gate + 2 * H, mask=mask, other=0.0).to(ACC)
    hx = tl.load(HX + state, mask=mask, other=0.0).to(ACC)
    g = tl.load(GH + state, mask=mask, other=0.0).to(ACC)
    t = DG.dtype.element_ty
    tl.store(DG + gate + H, (g * (hx - n) * (1.0 - z) * z).to(t), mask=mask)
    tl.store(DG + gate + 2 * H, (g * (1.0 - z) * (1.0 - n * n)).to(t), mask=mask)


@triton.jit
def _gru_rb_bwd_reset(GH, HX, WS, DRH, DG, DHX, N, H, ACC: tl.constexpr,
                      BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr):  # fmt: skip
    _cols, mask, gate, state = _tile(N, H, 3, BLOCK_N, BLOCK_H)
    r = tl.load(WS + gate, mask=mask, other=0.0).to(ACC)
    z = tl.load(WS + gate + H, mask=mask, other=0.0).to(ACC)
    hx = tl.load(HX + state, mask=mask, other=0.0).to(ACC)
    g = tl.load(GH + state, mask=mask, other=0.0).to(ACC)
    drh = tl.load(DRH + state, mask=mask, other=0.0).to(ACC)
    tl.store(DG + gate, (drh * hx * (1.0 - r) * r).to(DG.dtype.element_ty), mask=mask)
    tl.store(DHX + state, (g * z + drh * r).to(DHX.dtype.element_ty), mask=mask)
