"""Triton gate kernels of the recurrent cells (kernels.gpu.recurrent) against the float64 NumPy
kernel (kernels.cpu.recurrent) and torch (nn.RNNCell / LSTMCell / GRUCell with copied weights,
autograd for the backward; for the reset-before GRU, an autograd composition written here),
under the GPU rule (numerics.tolerances.assert_gpu_close); float64 against the NumPy kernel with
the float64 row of the tolerance table.

Under ``TRITON_INTERPRET=1`` the kernels run in Triton's interpreter on CPU tensors with 2 x 16
tiles, so the irregular shapes below (N in {1, 3, 7}, H in {1, 5, 33}) exercise several
programs and masked edges in both directions. ``GPU-only``: 4096 x 1024 cells and bfloat16.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu import recurrent as cpu
from kernels.gpu import _backend
from kernels.gpu import recurrent as gpu
from numerics.tolerances import assert_close, assert_gpu_close
from tests.gpu_support import DEV, gpu_only, needs_kernels
from theory.sequence import gru_separating_example

pytestmark = needs_kernels

G = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_rb": 3}
CLAIMS = {
    "rnn_tanh": ("d000.seq.rnn-cell",),
    "rnn_relu": (),
    "lstm": ("d000.seq.lstm-gates", "d000.seq.lstm-state"),
    "gru": ("d000.seq.gru-gates", "d000.seq.gru-update"),
    "gru_rb": ("d000.seq.gru-candidate",),
}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _check(actual, ref64, torch_result, context: str) -> None:
    """float64: the table's float64 row against the NumPy kernel; else the GPU rule."""
    assert actual.dtype == torch_result.dtype, context
    if actual.dtype == torch.float64:
        assert_close(_np(actual), ref64, np.float64, context=context)
    else:
        assert_gpu_close(actual, ref64, torch_result, context=context)


def _args(kind, N, H, I_, seed, dtype, *, batched=True, hx=True, bias=(True, True)):
    """Random cell arguments (torch's initialization scale for the weights) on the device."""
    rng = np.random.default_rng(seed)
    g, k = G[kind], 1 / math.sqrt(H)
    lead = (N,) if batched else ()

    def t(a):
        return torch.tensor(a, dtype=dtype, device=DEV)

    a = {
        "input": t(rng.standard_normal((*lead, I_))),
        "hx": t(rng.standard_normal((*lead, H))) if hx else None,
        "weight_ih": t(rng.uniform(-k, k, (g * H, I_))),
        "weight_hh": t(rng.uniform(-k, k, (g * H, H))),
        "bias_ih": t(rng.uniform(-k, k, g * H)) if bias[0] else None,
        "bias_hh": t(rng.uniform(-k, k, g * H)) if bias[1] else None,
    }
    if kind == "lstm":
        a["cx"] = t(rng.standard_normal((*lead, H))) if hx else None
    grads = {"grad_h": t(rng.standard_normal((*lead, H)))}
    if kind == "lstm":
        grads["grad_c"] = t(rng.standard_normal((*lead, H)))
    return a, grads


def _call(mod, kind, a, grads=None, *, numpy=False):
    """``mod``'s forward (``grads`` None) or backward for ``kind``; NumPy float64 if ``numpy``."""
    conv = _np if numpy else (lambda v: v)
    a = {k: (None if v is None else conv(v)) for k, v in a.items()}
    extra = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    name = {"rnn_tanh": "rnn_cell", "rnn_relu": "rnn_cell", "lstm": "lstm_cell",
            "gru": "gru_cell", "gru_rb": "gru_cell_reset_before"}[kind]  # fmt: skip
    if grads is None:
        out = getattr(mod, name)(**a, **extra)
        return out if isinstance(out, tuple) else (out,)
    g = {k: conv(v) for k, v in grads.items()}
    return getattr(mod, name + "_backward")(**g, **a, **extra)


def _torch_gru_rb(x, h, wih, whh, bih, bhh):
    H = whh.shape[1]
    gi = x @ wih.T + (bih if bih is not None else 0)
    bh = bhh if bhh is not None else torch.zeros(3 * H, dtype=x.dtype, device=x.device)
    gh = h @ whh[: 2 * H].T + bh[: 2 * H]
    r = torch.sigmoid(gi[..., :H] + gh[..., :H])
    z = torch.sigmoid(gi[..., H : 2 * H] + gh[..., H:])
    n = torch.tanh(gi[..., 2 * H :] + (r * h) @ whh[2 * H :].T + bh[2 * H :])
    return ((1 - z) * n + z * h,)


def _torch(kind, a, grads):
    """torch's forward outputs and autograd gradients (keys as the kernels' dicts)."""
    leaves = {
        k: (None if v is None else v.clone().requires_grad_()) for k, v in a.items()
    }  # fmt: skip
    x, wih, whh = leaves["input"], leaves["weight_ih"], leaves["weight_hh"]
    H, I_ = whh.shape[1], wih.shape[1]
    dt = x.dtype
    h = leaves["hx"]
    h_in = h if h is not None else torch.zeros((*x.shape[:-1], H), dtype=dt, device=DEV)
    if kind == "gru_rb":
        outs = _torch_gru_rb(x, h_in, wih, whh, leaves["bias_ih"], leaves["bias_hh"])
    else:
        cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}.get(kind)
        m = (
            cls(I_, H, dtype=dt, device=DEV)
            if cls
            else torch.nn.RNNCell(I_, H, nonlinearity=kind[4:], dtype=dt, device=DEV)
        )
        # the module's parameters replaced by the leaves; an absent bias by zeros (torch then
        # adds 0 in the gate math: a + 0 = a exactly)
        params = {
            k: leaves[k] if leaves[k] is not None else torch.zeros_like(getattr(m, k))
            for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }

        def m(*args, _m=m, _p=params):
            return torch.func.functional_call(_m, _p, args)

        if kind == "lstm":
            c = leaves["cx"] if leaves["cx"] is not None else torch.zeros_like(h_in)
            outs = m(x, (h_in, c) if h is not None else None)
        else:
            outs = (m(x, h),)
    loss = (outs[0] * grads["grad_h"]).sum()
    if kind == "lstm":
        loss = loss + (outs[1] * grads["grad_c"]).sum()
    names = [k for k, v in leaves.items() if v is not None]
    got = torch.autograd.grad(loss, [leaves[k] for k in names])
    return tuple(o.detach() for o in outs), dict(zip(names, got, strict=True))


# --------------------------------------------------------------------------- cells

CASES = [  # (N, H, I, batched, hx given, (bias_ih, bias_hh), dtype)
    (1, 1, 2, False, True, (True, True), torch.float64),
    (3, 5, 9, True, False, (False, False), torch.float32),
    (7, 33, 2, True, True, (True, False), torch.float32),
    (3, 33, 9, True, True, (False, True), torch.float16),
    (7, 5, 9, True, True, (True, True), torch.float64),
    (1, 5, 2, True, True, (True, True), torch.float16),
]


def _claims(kind):
    return [pytest.mark.claim(c) for c in CLAIMS[kind]]


@pytest.mark.parametrize(
    "kind", [pytest.param(k, marks=_claims(k)) for k in G]
)  # fmt: skip
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"N{c[0]}H{c[1]}I{c[2]}{c[6]}")
def test_cell_forward_and_backward_equal_numpy_and_torch(kind, case):
    N, H, I_, batched, hx, bias, dtype = case
    a, grads = _args(kind, N, H, I_, N * 100 + H, dtype, batched=batched, hx=hx, bias=bias)
    ctx = f"{kind} {case}"
    outs = _call(gpu, kind, a)
    refs = _call(cpu, kind, a, numpy=True)
    touts, tgrads = _torch(kind, a, grads)
    for o, r, t in zip(outs, refs, touts, strict=True):
        assert o.shape == t.shape and o.dtype == dtype, ctx
        _check(o, r, t, ctx)
    d = _call(gpu, kind, a, grads)
    d64 = _call(cpu, kind, a, grads, numpy=True)
    assert d.keys() == d64.keys(), ctx
    for key, value in d.items():
        if a.get(key, a["input"]) is None:
            assert value is None and d64[key] is None, (ctx, key)
            continue
        assert value.shape == tgrads[key].shape, (ctx, key)
        _check(value, d64[key], tgrads[key], f"{ctx} d{key}")


# --------------------------------------------------------------------------- gate functions


def _lstm_math(ig, hg, cx, bi, bh):
    a = ig + hg
    a = a + bi if bi is not None else a
    a = a + bh if bh is not None else a
    i, f, g, o = a.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    cy = f * cx + i * g
    return o * torch.tanh(cy), cy, torch.cat([i, f, g, o], dim=1)


def _gru_math(ig, hg, hx, bi, bh):
    H = hx.shape[1]
    a = ig + bi if bi is not None else ig
    b = hg + bh if bh is not None else hg
    r = torch.sigmoid(a[:, :H] + b[:, :H])
    z = torch.sigmoid(a[:, H : 2 * H] + b[:, H : 2 * H])
    hn = b[:, 2 * H :]
    n = torch.tanh(a[:, 2 * H :] + r * hn)
    return n + z * (hx - n), torch.cat([r, z, n, hn], dim=1)


def _autograd(fn, inputs, cotangents, wrt):
    leaves = [None if v is None else v.clone().requires_grad_() for v in inputs]
    outs = fn(*leaves)
    loss = sum((o * c).sum() for o, c in zip(outs, cotangents, strict=False) if c is not None)
    got = torch.autograd.grad(loss, [leaves[i] for i in wrt])
    return [o.detach() for o in outs], list(got)


def _gate_inputs(seed, N, H, G_, dtype, bias):
    rng = np.random.default_rng(seed)

    def t(*shape, scale=1.5):
        return torch.tensor(rng.standard_normal(shape) * scale, dtype=dtype, device=DEV)

    bi = t(G_ * H) if bias[0] else None
    bh = t(G_ * H) if bias[1] else None
    return t(N, G_ * H), t(N, G_ * H), t(N, H), bi, bh, t(N, H, scale=1.0), t(N, H, scale=1.0)


def _cmp(actual, ref64, torch_result, ctx):
    if actual.dtype == torch.float64:
        assert_close(_np(actual), _np(ref64), np.float64, context=ctx)
    else:
        assert_gpu_close(actual, _np(ref64), torch_result, context=ctx)


gate_dims = dict(
    N=st.sampled_from([1, 3, 7]),
    H=st.sampled_from([1, 5, 33]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    bias=st.tuples(st.booleans(), st.booleans()),
    seed=st.integers(0, 2**32 - 1),
)


@pytest.mark.claim("d000.seq.lstm-state")
# max_examples=20: each example runs two interpreted launches and three autograd graphs; the
# file must stay within its ~30 s interpreter budget
@settings(max_examples=20)
@given(**gate_dims, upstream=st.sampled_from(["both", "h", "c"]))
def test_lstm_gates_and_backward_equal_autograd_of_the_gate_math(N, H, dtype, bias, seed, upstream):
    ig, hg, cx, bi, bh, gh, gc = _gate_inputs(seed, N, H, 4, dtype, bias)
    gh = None if upstream == "c" else gh
    gc = None if upstream == "h" else gc
    hy, cy, ws = gpu.lstm_gates(ig, hg, cx, bi, bh)
    dg, dcx = gpu.lstm_gates_backward(gh, gc, cx, cy, ws)
    inputs = [ig, hg, cx, bi, bh]
    wrt = [0, 1, 2] + [i for i in (3, 4) if inputs[i] is not None]
    cot = [gh, gc]
    t_out, t_grad = _autograd(_lstm_math, inputs, cot, wrt)
    r_out, r_grad = _autograd(
        _lstm_math, [None if v is None else v.double() for v in inputs],
        [None if v is None else v.double() for v in cot], wrt,
    )  # fmt: skip
    ctx = f"N={N} H={H} {dtype} bias={bias} {upstream}"
    for name, ours, r, t in zip(("hy", "cy", "workspace"), (hy, cy, ws), r_out, t_out, strict=True):
        _cmp(ours, r, t, f"{ctx} {name}")
    _cmp(dg, r_grad[0], t_grad[0], f"{ctx} grad_gates")
    assert torch.equal(t_grad[0], t_grad[1])  # both gate tensors get the same gradient
    _cmp(dcx, r_grad[2], t_grad[2], f"{ctx} grad_cx")
    for k in range(3, len(wrt)):  # a bias's gradient is grad_gates summed over rows
        _cmp(dg.sum(dim=0), r_grad[k], t_grad[k], f"{ctx} bias")


@pytest.mark.claim("d000.seq.gru-update")
@settings(max_examples=20)  # as above
@given(**gate_dims)
def test_gru_gates_and_backward_equal_autograd_of_the_gate_math(N, H, dtype, bias, seed):
    ig, hg, hx, bi, bh, gh, _ = _gate_inputs(seed, 3 * N, H, 3, dtype, bias)
    ig, hg, hx, gh = ig[:N], hg[:N], hx[:N], gh[:N]
    hy, ws = gpu.gru_gates(ig, hg, hx, bi, bh)
    di, dh, dhx = gpu.gru_gates_backward(gh, hx, ws)
    inputs = [ig, hg, hx, bi, bh]
    t_out, t_grad = _autograd(_gru_math, inputs, [gh], [0, 1, 2])
    r_out, r_grad = _autograd(
        _gru_math, [None if v is None else v.double() for v in inputs], [gh.double()], [0, 1, 2]
    )
    ctx = f"N={N} H={H} {dtype} bias={bias}"
    _cmp(hy, r_out[0], t_out[0], f"{ctx} hy")
    _cmp(ws, r_out[1], t_out[1], f"{ctx} workspace")
    _cmp(di, r_grad[0], t_grad[0], f"{ctx} grad_input_gates")
    _cmp(dh, r_grad[1], t_grad[1], f"{ctx} grad_hidden_gates")
    _cmp(dhx, r_grad[2], t_grad[2], f"{ctx} grad_hx (element-wise part g z)")


def test_gate_functions_take_any_layout_and_check_shapes():
    ig, hg, cx, bi, bh, gh, gc = _gate_inputs(5, 3, 5, 4, torch.float32, (True, True))
    hy, cy, ws = gpu.lstm_gates(ig, hg, cx, bi, bh)
    t = ig.t().contiguous().t()
    assert not t.is_contiguous()
    again = gpu.lstm_gates(t, hg, cx, bi, bh)
    assert all(torch.equal(a, b) for a, b in zip(again, (hy, cy, ws), strict=True))
    with pytest.raises(ValueError, match=r"input_gates must have shape \(N, 4\*hidden_size\)"):
        gpu.lstm_gates(ig[:, :-1], hg, cx)
    with pytest.raises(ValueError, match="hidden_gates must have shape"):
        gpu.lstm_gates(ig, hg[:2], cx)
    with pytest.raises(ValueError, match=r"cx must have shape \(3, 5\)"):
        gpu.lstm_gates(ig, hg, cx[:, :4])
    with pytest.raises(ValueError, match="input_bias"):
        gpu.lstm_gates(ig, hg, cx, bi[:-1])
    with pytest.raises(TypeError, match="hidden_bias"):
        gpu.lstm_gates(ig, hg, cx, bi, bh.double())
    with pytest.raises(ValueError, match="grad_cy"):
        gpu.lstm_gates_backward(gh, gc[:1], cx, cy, ws)
    with pytest.raises(ValueError, match="workspace"):
        gpu.gru_gates_backward(gh, cx, ws[:, :3])


# --------------------------------------------------------------------------- the two GRU forms


def _gru_pair(H, seed, dtype, b_hn_zero):
    a, _ = _args("gru", 3, H, 2, seed, dtype)
    if b_hn_zero:
        a["bias_hh"][2 * H :] = 0
    return gpu.gru_cell(**a), gpu.gru_cell_reset_before(**a), a


@pytest.mark.claim("d000.seq.gru-candidate")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gru_forms_agree_for_H_1_without_b_hn_and_differ_with_it(seed):
    """The CPU docstring's equivalence conditions: for H = 1 and b_hn = 0, W(r h) = r(W h), so
    the forms agree (to rounding: the products are taken in another order); a nonzero b_hn
    separates them by (1 - r) b_hn inside the tanh; h = 0 makes them agree for any H."""
    after, before, _ = _gru_pair(1, seed, torch.float64, b_hn_zero=True)
    assert torch.allclose(after, before, rtol=1e-14, atol=1e-15)
    after, before, a = _gru_pair(1, seed, torch.float64, b_hn_zero=False)
    assert a["bias_hh"][2].abs() > 0.01
    assert (after - before).abs().max() > 1e-4
    # h = 0 (any H): W(r h) = 0 = r(W h), equal with b_hn = 0; with H = 5 and h != 0 they differ
    a, _ = _args("gru", 3, 5, 2, seed, torch.float64)
    a["bias_hh"][10:] = 0
    a["hx"] = None
    assert torch.allclose(gpu.gru_cell(**a), gpu.gru_cell_reset_before(**a), rtol=1e-14, atol=0)
    after, before, _ = _gru_pair(5, seed, torch.float64, b_hn_zero=True)
    assert (after - before).abs().max() > 1e-4


def _sigma(v: float) -> float:
    return 1 / (1 + math.exp(-v))


@pytest.mark.claim("d000.seq.gru-candidate")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("w_ir2", "exact"),
    [
        # the claim's and the CPU docstring's configuration: r = (sigma(1), sigma(-1))
        (-1.0, (math.tanh(_sigma(1)) / 2, math.tanh(_sigma(-1)) / 2)),
        # theory.sequence.gru_separating_example's: W_ir = (1, 0), r = (sigma(1), 1/2)
        (0.0, tuple(float(e) for e in gru_separating_example())),
    ],
)
def test_gru_forms_separate_on_the_documented_H_2_counterexample(dtype, w_ir2, exact):
    """I = 1, H = 2, no biases: W_ir = (1, w), W_z = 0, W_hn = [[0, 1], [0, 0]], x = 1,
    h = (0, 1): h'_1 = tanh(r_1)/2 (reset after, torch's GRUCell too) vs tanh(r_2)/2 (reset
    before). With w = -1: 0.3118563 vs 0.1313198 (the claim's numbers); with w = 0 the exact
    values of theory.sequence.gru_separating_example."""
    wih = torch.zeros(6, 1, dtype=dtype, device=DEV)
    wih[0, 0], wih[1, 0] = 1.0, w_ir2
    whh = torch.zeros(6, 2, dtype=dtype, device=DEV)
    whh[4, 1] = 1.0
    x = torch.ones(1, 1, dtype=dtype, device=DEV)
    h = torch.tensor([[0.0, 1.0]], dtype=dtype, device=DEV)
    after = gpu.gru_cell(x, h, wih, whh)
    before = gpu.gru_cell_reset_before(x, h, wih, whh)
    tol = 4 * torch.finfo(dtype).eps
    assert abs(after[0, 0].item() - exact[0]) < tol
    assert abs(before[0, 0].item() - exact[1]) < tol
    if w_ir2 == -1.0:
        assert round(exact[0], 7) == 0.3118563 and round(exact[1], 7) == 0.1313198
    m = torch.nn.GRUCell(1, 2, bias=False, dtype=dtype, device=DEV)
    with torch.no_grad():
        m.weight_ih.copy_(wih)
        m.weight_hh.copy_(whh)
        assert torch.allclose(m(x, h), after, rtol=0, atol=tol)


@pytest.mark.claim("d000.seq.gru-update")
def test_000s_update_convention_is_the_kernel_with_negated_z_rows():
    """000: h_t = (1 - z) h + z h~ with z = sigma(W_z[h, x]) and h~ = tanh(W[r h, x]) (no
    biases), written literally in NumPy, equals gru_cell_reset_before with rows H:2H negated."""
    rng = np.random.default_rng(3)
    H, I_, N = 5, 3, 4
    Wr, Wz, W = (rng.standard_normal((H, H + I_)) * 0.5 for _ in range(3))
    x, h = rng.standard_normal((N, I_)), rng.standard_normal((N, H))

    def sig(v):
        return 1 / (1 + np.exp(-v))

    hx = np.concatenate([h, x], axis=1)
    r, z = sig(hx @ Wr.T), sig(hx @ Wz.T)
    cand = np.tanh(np.concatenate([r * h, x], axis=1) @ W.T)
    literal = (1 - z) * h + z * cand
    wih = np.concatenate([Wr[:, H:], -Wz[:, H:], W[:, H:]])
    whh = np.concatenate([Wr[:, :H], -Wz[:, :H], W[:, :H]])

    def t(v):
        return torch.tensor(v, device=DEV)

    out = gpu.gru_cell_reset_before(t(x), t(h), t(wih), t(whh))
    assert_close(_np(out), literal, np.float64)


# --------------------------------------------------------------------------- layouts, tiles


def _all(kind, a, grads):
    grads = _call(gpu, kind, a, grads).values()
    return (*_call(gpu, kind, a), *(v for v in grads if v is not None))


@pytest.mark.parametrize("kind", list(G))
def test_any_layout_any_tile_and_reruns_give_the_same_bits(kind, monkeypatch):
    """Non-contiguous arguments (transposed weights, strided rows) are made contiguous first;
    a rerun is bit-equal (no atomics); another tile (one program for everything) is bit-equal
    (the tiles only partition independent units); an unbatched call is row 0 of a batch of
    one."""
    a, grads = _args(kind, 7, 33, 9, 11, torch.float32)
    ref = _all(kind, a, grads)
    assert all(torch.equal(x, y) for x, y in zip(ref, _all(kind, a, grads), strict=True))
    strided = {}
    for k, v in a.items():
        if v.ndim == 2 and k.startswith("weight"):
            strided[k] = v.t().contiguous().t()
        else:
            big = torch.zeros((2 * v.shape[0], *v.shape[1:]), dtype=v.dtype, device=DEV)
            strided[k] = big[::2].copy_(v)
        assert not strided[k].is_contiguous()
    got = _all(kind, strided, grads)
    assert all(torch.equal(x, y) for x, y in zip(ref, got, strict=True))
    kl = _backend.load("_recurrent_kernels")
    monkeypatch.setattr(kl, "INTERPRETER_CONFIG", dict(BLOCK_N=8, BLOCK_H=64, num_warps=4))
    if _backend.mode() == "interpreter":
        got = _all(kind, a, grads)
        assert all(torch.equal(x, y) for x, y in zip(ref, got, strict=True))
    one = {k: v[:1] if k not in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") else v
           for k, v in a.items()}  # fmt: skip
    flat = {k: v[0] if k not in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") else v
            for k, v in a.items()}  # fmt: skip
    g1 = {k: v[:1] for k, v in grads.items()}
    g0 = {k: v[0] for k, v in grads.items()}
    for x, y in zip(_all(kind, one, g1), _all(kind, flat, g0), strict=True):
        assert torch.equal(x.reshape(y.shape) if x.shape[0] == 1 else x, y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tanh_keeps_relative_accuracy_near_zero_and_saturates(dtype):
    """h' = tanh(a) through rnn_cell (I = 1, x = 1, weight_ih = a, no hidden term) for a from
    1e-30 to 400 of both signs: every element within 4 ulps of the correctly rounded tanh,
    relatively — the max-norm GPU rule alone cannot see a cancelling formula near 0 — and
    exactly +-1 (no NaN) where exp overflows."""
    mag = np.concatenate([np.geomspace(1e-30, 0.6, 40), np.linspace(0.6, 0.7, 11), [3, 30, 400]])
    a = np.concatenate([mag, -mag])
    x = torch.ones(1, 1, dtype=dtype, device=DEV)
    w = torch.tensor(a[:, None], dtype=dtype, device=DEV)
    h = gpu.rnn_cell(x, None, w, torch.zeros(a.size, a.size, dtype=dtype, device=DEV))[0]
    a_rounded = w[:, 0].double().cpu().numpy()
    ref = np.array([float(mpmath.tanh(mpmath.mpf(v))) for v in a_rounded])
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    ulps = np.abs(_np(h) - ref) / np.spacing(np.abs(ref).astype(np_dtype)).astype(np.float64)
    assert ulps.max() <= 4, (ulps.max(), a[ulps.argmax()])
    assert h[a == 400].item() == 1.0 and h[a == -400].item() == -1.0


def test_cuda_tile_heuristic_avoids_padding():
    kl = _backend.load("_recurrent_kernels")
    cfg = kl.config("_lstm_fwd", 4096, 1024, interpreted=False)
    assert (cfg["BLOCK_N"], cfg["BLOCK_H"]) == (1, 1024)  # no padding; widest rows
    cfg = kl.config("_gru_fwd", 7, 33, interpreted=False)
    assert kl.grid(7, 33, cfg) and cfg in kl.CUDA_CONFIGS["_gru_fwd"]
    cfg = kl.config("_lstm_bwd", 64, 16, interpreted=False)
    assert (cfg["BLOCK_N"], cfg["BLOCK_H"]) == (64, 16)
    assert set(kl.CUDA_CONFIGS) == set(kl.KERNELS)
    assert kl.config("_lstm_fwd", 5, 5, interpreted=True) == kl.INTERPRETER_CONFIG


def test_nan_propagates_as_in_torch():
    """The deliberate difference from the NumPy kernel (which refuses non-finite input): a NaN
    in one row of input gives NaN in that row only, as torch's cell."""
    a, _ = _args("lstm", 3, 5, 2, 1, torch.float32)
    a["input"][1, 0] = float("nan")
    hy, _ = gpu.lstm_cell(**a)
    assert torch.isnan(hy[1]).all() and torch.isfinite(hy[[0, 2]]).all()
    with pytest.raises(ValueError, match="finite"):
        cpu.lstm_cell(**{k: _np(v) for k, v in a.items()})


def test_argument_errors_name_the_argument():
    a, grads = _args("gru", 3, 5, 2, 1, torch.float32)
    with pytest.raises(ValueError, match="weight_hh must have shape"):
        gpu.gru_cell(**{**a, "weight_hh": a["weight_hh"][:, :4]})
    with pytest.raises(TypeError, match="bias_hh"):
        gpu.gru_cell(**{**a, "bias_hh": a["bias_hh"].double()})
    with pytest.raises(ValueError, match="hx must have shape"):
        gpu.gru_cell_reset_before(**{**a, "hx": a["hx"][:2]})
    with pytest.raises(ValueError, match="grad_h must have the shape"):
        gpu.gru_cell_backward(grads["grad_h"][:, :2], **a)
    with pytest.raises(ValueError, match="nonlinearity"):
        gpu.rnn_cell(**{**_args("rnn_tanh", 3, 5, 2, 1, torch.float32)[0]}, nonlinearity="gelu")
    with pytest.raises(ValueError, match="requires grad"):
        gpu.gru_cell(**{**a, "input": a["input"].clone().requires_grad_()})
    with pytest.raises(TypeError, match="input"):
        gpu.gru_cell(**{**a, "input": _np(a["input"])})


# --------------------------------------------------------------------------- sequences

SEQ_CASES = [  # (L, N, H, I, batched, h0 given, biases, dtype)
    (3, 3, 5, 2, True, True, (True, True), torch.float32),
    (2, 1, 33, 9, False, False, (False, True), torch.float64),
    (4, 7, 1, 2, True, True, (True, False), torch.float16),
]


def _seq_call(mod, kind, a, numpy=False):
    conv = _np if numpy else (lambda v: v)
    a = {k: (None if v is None else conv(v)) for k, v in a.items()}
    if kind.startswith("rnn"):
        return mod.rnn(**a, nonlinearity=kind[4:])
    if kind == "lstm":
        return mod.lstm(**a)
    return mod.gru(**a, reset_before=kind == "gru_rb")


def _torch_seq(kind, a):
    x, h0 = a["input"], a["h0"]
    H, I_ = a["weight_hh"].shape[1], a["weight_ih"].shape[1]
    dt = x.dtype
    zero = torch.zeros(G[kind] * H, dtype=dt, device=DEV)
    b = [a[k] if a[k] is not None else zero for k in ("bias_ih", "bias_hh")]
    if kind == "gru_rb":
        h = h0[0] if h0 is not None else torch.zeros((*x.shape[1:-1], H), dtype=dt, device=DEV)
        outs = []
        for t in range(x.shape[0]):
            h = _torch_gru_rb(x[t], h, a["weight_ih"], a["weight_hh"], *b)[0]
            outs.append(h)
        return torch.stack(outs), h[None]
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind)
    m = cls(I_, H, dtype=dt, device=DEV) if cls else torch.nn.RNN(
        I_, H, nonlinearity=kind[4:], dtype=dt, device=DEV
    )  # fmt: skip
    p = dict(weight_ih_l0=a["weight_ih"], weight_hh_l0=a["weight_hh"], bias_ih_l0=b[0],
             bias_hh_l0=b[1])  # fmt: skip
    state = None
    if h0 is not None:
        state = (h0, a["c0"]) if kind == "lstm" else h0
    with torch.no_grad():
        return torch.func.functional_call(m, p, (x, state))


@pytest.mark.parametrize("kind", [pytest.param(k, marks=_claims(k)) for k in G])
@pytest.mark.parametrize("case", SEQ_CASES, ids=lambda c: f"L{c[0]}N{c[1]}H{c[2]}{c[7]}")
def test_sequence_forward_equals_numpy_and_torch(kind, case):
    """rnn / lstm / gru (either form) over a sequence: the input GEMM hoisted over all steps,
    then per step the hidden GEMM and the gate kernel(s) writing output[t]."""
    L, N, H, I_, batched, h0, bias, dtype = case
    a, _ = _args(kind, N, H, I_, 7 * L + H, dtype, batched=batched, hx=h0, bias=bias)
    rng = np.random.default_rng(L)
    lead = (L, N) if batched else (L,)
    a["input"] = torch.tensor(rng.standard_normal((*lead, I_)), dtype=dtype, device=DEV)
    a["h0"] = None if a["hx"] is None else a.pop("hx")[None]
    a.pop("hx", None)
    if kind == "lstm":
        a["c0"] = None if a["cx"] is None else a.pop("cx")[None]
        a.pop("cx", None)
    ours, ref, tor = _seq_call(gpu, kind, a), _seq_call(cpu, kind, a, True), _torch_seq(kind, a)
    flat = [ours[0], *(ours[1] if isinstance(ours[1], tuple) else (ours[1],))]
    flat_ref = [ref[0], *(ref[1] if isinstance(ref[1], tuple) else (ref[1],))]
    flat_t = [tor[0], *(tor[1] if isinstance(tor[1], tuple) else (tor[1],))]
    for o, r, t in zip(flat, flat_ref, flat_t, strict=True):
        assert o.shape == t.shape == r.shape and o.dtype == dtype, (kind, case)
        _check(o, r, t, f"{kind} {case}")
    assert torch.equal(flat[1][0], flat[0][-1])  # h_n is the last output, bit for bit


# --------------------------------------------------------------------------- GPU-only sizes


@gpu_only
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_rb"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_large_cells_on_the_gpu(kind, dtype):
    """N = 4096, H = 1024, I = 512: forward and backward under the GPU rule against torch's
    float64 result (its fused cells / autograd; the NumPy kernel's agreement with it is tested
    above), torch's own result at the same precision setting the bound; reruns bit-equal."""
    a, grads = _args(kind, 4096, 1024, 512, 5, dtype)
    a64 = {k: None if v is None else v.double() for k, v in a.items()}
    g64 = {k: v.double() for k, v in grads.items()}
    outs, d = _call(gpu, kind, a), _call(gpu, kind, a, grads)
    touts, tgrads = _torch(kind, a, grads)
    routs, rgrads = _torch(kind, a64, g64)
    for o, r, t in zip(outs, routs, touts, strict=True):
        assert_gpu_close(o, _np(r), t, context=f"{kind} {dtype}")
    for key, value in d.items():
        assert_gpu_close(value, _np(rgrads[key]), tgrads[key], context=f"{kind} {dtype} d{key}")
    again = _call(gpu, kind, a, grads)
    assert all(torch.equal(d[k], again[k]) for k in d)
