"""The fused scaled dot-product attention (kernels.gpu.attention, FlashAttention-2 in Triton)
against the float64 NumPy kernel (kernels.cpu.attention) and torch
(``F.scaled_dot_product_attention`` and autograd), under the GPU rule
(``numerics.tolerances.assert_gpu_close``).

Interpreter shapes are small and irregular (L, S in {1, 17, 33, 40}, head widths 16, 24, 64 so
that the head tile is full or masked), with the interpreter's blocks (32 x 16 forward and dQ,
16 x 32 dK/dV: two key blocks per diagonal) so that the causal diagonal stage, the unmasked
stage and the partial last blocks all run. A ``gpu_only`` set runs the issue's sizes (head
dimensions 64 and 128, L = S = 1024 and 4096, float16/bfloat16, causal and not) on a GPU.
Claims: d000.attn.sdpa (agreement with torch, causal masking, backward), d000.attn.output
(each output row a convex combination of the values).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

import kernels.gpu
from kernels.cpu import attention as cpu
from numerics.tolerances import assert_gpu_close
from tests.gpu_support import DEV, INTERPRETED, gpu_only, needs_kernels

pytestmark = needs_kernels

if kernels.gpu.available():
    from kernels.gpu import _backend
    from kernels.gpu import attention as gpu

SDPA = pytest.mark.claim("d000.attn.sdpa")
# bfloat16 tl.dot is garbage in the interpreter (Triton 3.9): bfloat16 runs on a GPU only.
FLOATS = (torch.float32, torch.float64, torch.float16)


def rand(shape, seed: int, dtype=torch.float64, spread: float = 1.0) -> torch.Tensor:
    x = np.random.default_rng(seed).standard_normal(shape) * spread
    return torch.from_numpy(x).to(dtype).to(DEV)


def np64(t: torch.Tensor) -> np.ndarray:
    return t.double().cpu().numpy()


def torch_forward(q, k, v, causal=False, scale=None, gqa=False):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale, enable_gqa=gqa)


def torch_backward(g, q, k, v, causal=False, scale=None, gqa=False):
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    torch_forward(*leaves, causal, scale, gqa).backward(g)
    return tuple(t.grad for t in leaves)


def operands(case, dtype, seed=0):
    batch, hk, L, S, E, Ev = case["batch"], case["hk"], case["L"], case["S"], case["E"], case["Ev"]
    hq = case.get("hq", hk)
    q = rand((*batch, hq, L, E), seed, dtype)
    k = rand((*batch, hk, S, E), seed + 1, dtype)
    v = rand((*batch, hk, S, Ev), seed + 2, dtype)
    g = rand((*batch, hq, L, Ev), seed + 3, dtype)
    return q, k, v, g


# L != S both ways with causal (torch's top-left alignment), a single query and key, a head
# tile that is full (16, 64) or masked (24 -> 32), Ev != E, GQA (4 query heads on 2), a
# negative scale (torch's flash backend returns NaN there on the CPU; its math path does not).
CASES = {
    "L17-S33-E16": dict(batch=(2,), hk=3, L=17, S=33, E=16, Ev=16, causal=False),
    "L40-S17-E24-causal": dict(batch=(1,), hk=2, L=40, S=17, E=24, Ev=16, causal=True),
    "L17-S40-E64-causal": dict(batch=(1,), hk=2, L=17, S=40, E=64, Ev=64, causal=True),
    "L1-S1-causal": dict(batch=(2,), hk=1, L=1, S=1, E=16, Ev=24, causal=True),
    "L33-S33-causal-scale": dict(batch=(), hk=2, L=33, S=33, E=16, Ev=16, causal=True, scale=-0.4),
    "gqa-L33-S17-causal": dict(batch=(1,), hq=4, hk=2, L=33, S=17, E=16, Ev=16, causal=True),
}


def check(actual, ref64, torch_result, context):
    """The GPU rule; float64 against torch's float64 result (its math path)."""
    assert actual.dtype == torch_result.dtype and actual.shape == torch_result.shape, context
    assert_gpu_close(actual, ref64, torch_result, context=context)


@SDPA
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_backward_agree_with_numpy_and_torch(name, dtype):
    case = CASES[name]
    q, k, v, g = operands(case, dtype)
    kw = dict(is_causal=case["causal"], scale=case.get("scale"), enable_gqa="hq" in case)
    out = gpu.scaled_dot_product_attention(q, k, v, **kw)
    ref = cpu.scaled_dot_product_attention(np64(q), np64(k), np64(v), **kw)
    targs = (case["causal"], case.get("scale"), "hq" in case)
    check(out, ref, torch_forward(q, k, v, *targs), f"{name} forward")
    grads = gpu.scaled_dot_product_attention_backward(g, q, k, v, **kw)
    refs = cpu.scaled_dot_product_attention_backward(np64(g), np64(q), np64(k), np64(v), **kw)
    theirs = torch_flash_backward(g, q, k, v, *targs)
    for what, a, r, t in zip("qkv", grads, refs, theirs, strict=True):
        if what in "qk" and case["S"] == 1:
            single_key_bound(a, what, q, k, v, g, case.get("scale"))
            continue
        check(a, r, t, f"{name} d{what}")


def torch_flash_backward(g, q, k, v, causal=False, scale=None, gqa=False):
    r"""FlashAttention-2's backward in torch ops at the inputs' precision: the like-for-like
    "torch's own error" for the GPU rule. The algorithm differs from torch's math path (which
    autograd runs for E != Ev and 3-D inputs): :math:`dS = P\circ(dP - \delta)` with
    :math:`\delta = \operatorname{rowsum}(dO\circ O)` over the *stored* output, and
    :math:`P = e^{S - \mathrm{LSE}}`, where the math path's :math:`dP -
    \operatorname{rowsum}(P\circ dP)` cancels its own rounding; the two sums of
    :math:`\delta` round differently, so at float64 the FA-2 form is a few ulps worse, which
    the math path's error cannot judge. Accumulation in float32 (float64 for float64), P and
    dS rounded to the input dtype before their products, as the kernels do; torch's own CPU
    FlashAttention (4-D, E = Ev) computes the same."""
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    rep = q.shape[-3] // k.shape[-3] if gqa else 1
    kr, vr = (t.repeat_interleave(rep, -3) if rep > 1 else t for t in (k, v))
    sc = 1 / q.shape[-1] ** 0.5 if scale is None else scale
    q_, k_, v_, g_ = (t.to(acc) for t in (q, kr, vr, g))
    s = sc * (q_ @ k_.transpose(-1, -2))
    if causal:
        keep = torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).tril()
        s = s.masked_fill(~keep, float("-inf"))
    p = torch.exp(s - torch.logsumexp(s, -1, keepdim=True))
    o = (p.to(q.dtype).to(acc) @ v_).to(q.dtype).to(acc)  # the stored output
    delta = (g_ * o).sum(-1, keepdim=True)
    ds = (p * (g_ @ v_.transpose(-1, -2) - delta)).to(q.dtype).to(acc)
    dq = sc * (ds @ k_)
    dk = sc * (ds.transpose(-1, -2) @ q_)
    dv = p.to(q.dtype).to(acc).transpose(-1, -2) @ g_
    if rep > 1:
        dk, dv = (d.unflatten(-3, (-1, rep)).sum(-3) for d in (dk, dv))
    return dq.to(q.dtype), dk.to(q.dtype), dv.to(q.dtype)


def cancellation_bound(what, q, k, v, g, causal=False, scale=None, gqa=False) -> np.ndarray:
    r"""The a-priori error that FlashAttention-2's :math:`dS = P\circ(dP - \delta)` adds to
    ``dq`` (``what="q"``) or ``dk`` (``"k"``), elementwise. :math:`dP_{ij} = \sum_c dO_{ic}
    V_{jc}` (``tl.dot``) and :math:`\delta_i = \sum_c dO_{ic}O_{ic}` (``tl.sum`` over the
    stored output) are differently rounded sums of (almost) the same products, each within
    :math:`\gamma = 2E_v u` (the sums plus ``O``'s own rounding) of its sum of magnitudes, so
    :math:`|\Delta dS_{ij}| \le P_{ij}\gamma(\sum_c|dO_{ic}V_{jc}| + \sum_c|dO_{ic}|\sum_{j'}
    P_{ij'}|V_{j'c}|)`, and :math:`dq = \mathrm{scale}\,dS\,K`, :math:`dk = \mathrm{scale}\,
    dS^\\top Q` carry it times :math:`|K|`, :math:`|Q|`. torch's math path has no such term
    (:math:`dP - \operatorname{rowsum}(P\circ dP)` cancels its own rounding); its flash
    backends share it. Where the exact gradient is about 0 (a saturated softmax) the GPU rule
    cannot judge and this bound (the generalization of :func:`single_key_bound`) is checked."""
    q64, k64, v64, g64 = (t.detach().double().cpu() for t in (q, k, v, g))
    rep = q64.shape[-3] // k64.shape[-3] if gqa else 1
    kr, vr = (t.repeat_interleave(rep, -3) if rep > 1 else t for t in (k64, v64))
    sc = 1 / q64.shape[-1] ** 0.5 if scale is None else scale
    scores = sc * q64 @ kr.transpose(-1, -2)
    if causal:
        keep = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    p = torch.softmax(scores, -1)
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    gamma = 2 * v.shape[-1] * torch.finfo(acc).eps / 2
    dp_mag = g64.abs() @ vr.abs().transpose(-1, -2)  # sum_c |dO_ic V_jc|
    delta_mag = (g64.abs() * (p @ vr.abs())).sum(-1, keepdim=True)
    ds = p * gamma * (dp_mag + delta_mag)
    if what == "q":
        bound = abs(sc) * ds @ kr.abs()
        return bound.expand(q64.shape).numpy()
    bound = abs(sc) * ds.transpose(-1, -2) @ q64.abs()
    while bound.ndim > k64.ndim:
        bound = bound.sum(0)
    if rep > 1:
        bound = bound.unflatten(-3, (-1, rep)).sum(-3)
    return bound.expand(k64.shape).numpy()


def single_key_bound(grad, what, q, k, v, g, scale):
    r"""One key: every weight is 1 and the exact ``dq``, ``dk`` are 0. torch's math path computes
    :math:`dS = P(dP - \operatorname{rowsum}(dP\circ P))` = ``dP - dP`` = 0 exactly; the
    FlashAttention form :math:`dS = P(dP - \delta)`, :math:`\delta = \operatorname{rowsum}(dO
    \circ O)`, subtracts two differently rounded sums of the same products :math:`dO_{ic}v_c`
    (``tl.dot`` and ``tl.sum``), each within :math:`\gamma_{E_v}\sum_c|dO_{ic}v_c|` of the
    truth, so :math:`|dS_i| \le b_i = 2\gamma_{E_v}\sum_c|dO_{ic}v_c|`, :math:`|dq_{ia}| \le
    |\mathrm{scale}|\,b_i|k_a|` and :math:`|dk_a| \le |\mathrm{scale}|\sum_i b_i|q_{ia}|`
    (plus relative roundings of the products). The GPU rule cannot judge this (torch's error
    is exactly 0), so this a-priori bound is checked instead."""
    acc = torch.float64 if grad.dtype == torch.float64 else torch.float32
    u = torch.finfo(acc).eps / 2
    ev = v.shape[-1]
    gamma = ev * u / (1 - ev * u)
    sc = abs(1 / q.shape[-1] ** 0.5 if scale is None else scale)
    b = 2 * gamma * (np.abs(np64(g)) * np.abs(np64(v))).sum(-1, keepdims=True)  # (..., L, 1)
    if what == "q":
        bound = b * sc * np.abs(np64(k))
    else:
        bound = sc * (b * np.abs(np64(q))).sum(-2, keepdims=True)
    bound = bound * (1 + 8 * torch.finfo(grad.dtype).eps)
    assert (np.abs(np64(grad)) <= bound).all(), (what, np.abs(np64(grad)).max(), bound.max())


@SDPA
def test_causal_is_the_cpu_kernel_with_an_explicit_top_left_tril_mask():
    """``is_causal`` = ``attn_mask = tril(ones(L, S))`` (top-left), for L < S and L > S."""
    for L, S in [(17, 33), (33, 17)]:
        q, k, v = rand((2, L, 16), 1), rand((2, S, 16), 2), rand((2, S, 16), 3)
        g = rand((2, L, 16), 4)
        mask = np.tri(L, S, dtype=bool)
        args = (np64(q), np64(k), np64(v))
        ref = cpu.scaled_dot_product_attention(*args, attn_mask=mask)
        out = gpu.scaled_dot_product_attention(q, k, v, is_causal=True)
        np.testing.assert_allclose(np64(out), ref, rtol=1e-13, atol=1e-14)
        refs = cpu.scaled_dot_product_attention_backward(np64(g), *args, attn_mask=mask)
        grads = gpu.scaled_dot_product_attention_backward(g, q, k, v, is_causal=True)
        for a, r in zip(grads, refs, strict=True):
            np.testing.assert_allclose(np64(a), r, rtol=1e-12, atol=1e-13)
        if L < S:  # the last S - L keys are seen by no query: exactly zero gradients
            assert (grads[1][:, L:] == 0).all() and (grads[2][:, L:] == 0).all()


def test_lse_is_the_natural_logsumexp_of_the_scaled_scores():
    for causal in (False, True):
        q, k, v = rand((3, 33, 24), 5), rand((3, 40, 24), 6), rand((3, 40, 16), 7)
        out, lse = gpu.flash_attention_forward(q, k, v, is_causal=causal, scale=0.3)
        assert lse.dtype == torch.float64 and lse.shape == (3, 33)
        s = 0.3 * q @ k.transpose(-1, -2)
        if causal:
            s = s.masked_fill(~torch.ones(33, 40, dtype=torch.bool, device=DEV).tril(), -np.inf)
        np.testing.assert_allclose(np64(lse), np64(torch.logsumexp(s, -1)), rtol=1e-14)
        assert torch.equal(
            out, gpu.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=0.3)
        )
        q32, k32, v32 = q.float(), k.float(), v.float()
        assert gpu.flash_attention_forward(q32, k32, v32)[1].dtype == torch.float32
        assert (
            gpu.flash_attention_forward(q32.half(), k32.half(), v32.half())[1].dtype
            == torch.float32
        )


def test_saved_lse_backward_equals_the_full_backward_bit_for_bit():
    q, k, v, g = operands(CASES["gqa-L33-S17-causal"], torch.float32)
    out, lse = gpu.flash_attention_forward(q, k, v, is_causal=True, enable_gqa=True)
    saved = gpu.flash_attention_backward(g, q, k, v, out, lse, is_causal=True, enable_gqa=True)
    full = gpu.scaled_dot_product_attention_backward(g, q, k, v, is_causal=True, enable_gqa=True)
    assert all(torch.equal(a, b) for a, b in zip(saved, full, strict=True))


def test_broadcast_batch_dimensions_sum_their_gradients():
    """Key/value shared across the batch (shape (1, H, S, E)) and a query without batch axis:
    torch.matmul broadcasting, gradients summed back (in float32 for a float16 input)."""
    for dtype in (torch.float64, torch.float16):
        q, k, v = (
            rand((2, 2, 17, 16), 1, dtype),
            rand((1, 2, 33, 16), 2, dtype),
            rand((33, 16), 3, dtype),
        )
        g = rand((2, 2, 17, 16), 4, dtype)
        out = gpu.scaled_dot_product_attention(q, k, v, is_causal=True)
        grads = gpu.scaled_dot_product_attention_backward(g, q, k, v, is_causal=True)
        ref = cpu.scaled_dot_product_attention(np64(q), np64(k), np64(v), is_causal=True)
        refs = cpu.scaled_dot_product_attention_backward(
            np64(g), np64(q), np64(k), np64(v), is_causal=True
        )
        check(out, ref, torch_forward(q, k, v, True), f"{dtype} forward")
        for a, r, t in zip(grads, refs, torch_backward(g, q, k, v, True), strict=True):
            check(a, r, t, f"{dtype} broadcast backward")


# ----------------------------------------------------------------------------- properties

seeds = st.integers(0, 2**32 - 1)


@SDPA
@settings(max_examples=8, deadline=None)  # interpreter: ~0.3 s per forward + backward
@given(L=st.integers(1, 40), S=st.integers(1, 40), seed=seeds)
def test_permuting_the_keys_permutes_their_gradients_and_keeps_the_output(L, S, seed):
    """Non-causal attention is equivariant under a permutation of the (key, value) pairs: the
    output and dQ do not change (up to the summation order: float64, 1e-12), dK and dV rows
    permute with the keys."""
    q, k, v, g = (
        rand((1, L, 16), seed),
        rand((1, S, 16), seed + 1),
        rand((1, S, 16), seed + 2),
        rand((1, L, 16), seed + 3),
    )
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(S)).to(DEV)
    out = gpu.scaled_dot_product_attention(q, k, v)
    outp = gpu.scaled_dot_product_attention(q, k[:, perm], v[:, perm])
    np.testing.assert_allclose(np64(outp), np64(out), rtol=1e-12, atol=1e-13)
    dq, dk, dv = gpu.scaled_dot_product_attention_backward(g, q, k, v)
    dqp, dkp, dvp = gpu.scaled_dot_product_attention_backward(g, q, k[:, perm], v[:, perm])
    np.testing.assert_allclose(np64(dqp), np64(dq), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np64(dkp), np64(dk[:, perm]), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np64(dvp), np64(dv[:, perm]), rtol=1e-12, atol=1e-13)


@SDPA
@settings(max_examples=6, deadline=None)  # interpreter: ~0.4 s per forward + backward
@given(
    L=st.integers(1, 40),
    S=st.integers(1, 40),
    E=st.sampled_from([16, 24, 40]),
    Ev=st.sampled_from([16, 24]),
    hk=st.integers(1, 2),
    rep=st.integers(1, 2),
    causal=st.booleans(),
    scale=st.one_of(st.none(), st.floats(-2, 2)),
    seed=seeds,
)
def test_random_shapes_agree_with_the_float64_numpy_kernel(
    L, S, E, Ev, hk, rep, causal, scale, seed
):
    """Any L, S (one or several blocks, partial last blocks, L < S and L > S), head widths
    that fill or do not fill their tile, GQA, any scale: float64 forward and backward equal the
    NumPy kernel to 1e-12 relative (both are float64; the order of the sums differs)."""
    q = rand((1, hk * rep, L, E), seed)
    k, v = rand((1, hk, S, E), seed + 1), rand((1, hk, S, Ev), seed + 2)
    g = rand((1, hk * rep, L, Ev), seed + 3)
    kw = dict(is_causal=causal, scale=scale, enable_gqa=rep > 1)
    out = gpu.scaled_dot_product_attention(q, k, v, **kw)
    ref = cpu.scaled_dot_product_attention(np64(q), np64(k), np64(v), **kw)
    np.testing.assert_allclose(np64(out), ref, rtol=1e-12, atol=1e-12)
    grads = gpu.scaled_dot_product_attention_backward(g, q, k, v, **kw)
    refs = cpu.scaled_dot_product_attention_backward(np64(g), np64(q), np64(k), np64(v), **kw)
    for a, r in zip(grads, refs, strict=True):
        np.testing.assert_allclose(np64(a), r, rtol=1e-11, atol=1e-11)


@pytest.mark.claim("d000.attn.output")
@settings(max_examples=8, deadline=None)  # interpreter: one forward per example
@given(L=st.integers(1, 40), S=st.integers(1, 40), causal=st.booleans(), seed=seeds,
       dtype=st.sampled_from(FLOATS))  # fmt: skip
def test_each_output_row_is_a_convex_combination_of_the_values_it_sees(L, S, causal, seed, dtype):
    r"""Every coordinate of output row ``i`` lies between the smallest and largest value of that
    coordinate over the keys ``i`` sees (all, or ``j <= i``), up to rounding: the weights are
    rounded (to the input dtype for half precisions), so the bound is widened by
    :math:`(S + 4)u_{acc}` plus the output's rounding :math:`u` of ``max |v|``."""
    q, k = rand((2, L, 16), seed, dtype, 3.0), rand((2, S, 16), seed + 1, dtype, 3.0)
    v = rand((2, S, 24), seed + 2, dtype)
    out = np64(gpu.scaled_dot_product_attention(q, k, v, is_causal=causal))
    vv = np64(v)
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    u_acc, u_out = torch.finfo(acc).eps / 2, torch.finfo(dtype).eps / 2
    half = dtype == torch.float16  # P rounded to float16 before P V: weights off by u_out each
    slack = ((S + 4) * u_acc + u_out + (S * u_out if half else 0)) * np.abs(vv).max()
    for i in range(L):
        seen = vv[:, : min(i + 1, S)] if causal else vv
        lo, hi = seen.min(axis=1), seen.max(axis=1)
        assert (out[:, i] >= lo - slack).all() and (out[:, i] <= hi + slack).all(), i


def test_the_backward_is_bit_equal_across_runs():
    for name in ("gqa-L33-S17-causal", "L17-S33-E16"):
        q, k, v, g = operands(CASES[name], torch.float32)
        kw = dict(is_causal=CASES[name]["causal"], enable_gqa="hq" in CASES[name])
        first = gpu.scaled_dot_product_attention_backward(g, q, k, v, **kw)
        for _ in range(2):
            again = gpu.scaled_dot_product_attention_backward(g, q, k, v, **kw)
            assert all(torch.equal(a, b) for a, b in zip(again, first, strict=True))


def test_non_contiguous_inputs_give_bit_identical_results():
    q, k, v, g = operands(CASES["L17-S33-E16"], torch.float32)

    def strided(t):
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)

    qs, ks, vs, gs = (strided(t) for t in (q, k, v, g))
    assert not qs.is_contiguous()
    assert torch.equal(gpu.scaled_dot_product_attention(qs, ks, vs, is_causal=True),
                       gpu.scaled_dot_product_attention(q, k, v, is_causal=True))  # fmt: skip
    a = gpu.scaled_dot_product_attention_backward(gs, qs, ks, vs, is_causal=True)
    b = gpu.scaled_dot_product_attention_backward(g, q, k, v, is_causal=True)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


class _Allocations(TorchDispatchMode):
    """Records the bytes of every tensor an aten op returns."""

    def __init__(self):
        super().__init__()
        self.sizes: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.sizes.append(t.numel() * t.element_size())
        return out


def test_no_buffer_of_the_score_size_is_allocated():
    """Memory is O(L·E + S·E) per head, never O(L·S): with L = S = 64 and E = Ev = 16 in
    float32, every tensor torch creates during the forward and the backward (outputs, lse,
    delta, gradients, the finiteness reductions, and the interpreter's own byte copies of the
    arguments) is at most an operand's 4096 bytes, while a score matrix in any dtype of at least
    2 bytes would take 8192 (the kernels' tiles live in registers)."""
    q, k, v, g = (rand((1, 64, 16), s, torch.float32) for s in range(4))
    for causal in (False, True):
        with _Allocations() as spy:
            gpu.scaled_dot_product_attention(q, k, v, is_causal=causal)
            gpu.scaled_dot_product_attention_backward(g, q, k, v, is_causal=causal)
        assert spy.sizes and max(spy.sizes) <= 64 * 16 * 4, max(spy.sizes)


@contextlib.contextmanager
def square_blocks():
    """Every kernel with 16 x 16 blocks (BLOCK_M = BLOCK_N: one key block per diagonal)."""
    fk = _backend.load("_flash_kernels")
    saved = {k: dict(v) for k, v in fk.INTERPRETER_CONFIG.items()}
    for cfg in fk.INTERPRETER_CONFIG.values():
        cfg.update({k: 16 for k in cfg})
    try:
        yield
    finally:
        fk.INTERPRETER_CONFIG.clear()
        fk.INTERPRETER_CONFIG.update(saved)


@pytest.mark.skipif(not INTERPRETED, reason="interpreter block sizes")
def test_square_blocks_agree_too():
    case = CASES["gqa-L33-S17-causal"]
    q, k, v, g = operands(case, torch.float64)
    kw = dict(is_causal=True, enable_gqa=True)
    with square_blocks():
        out = gpu.scaled_dot_product_attention(q, k, v, **kw)
        grads = gpu.scaled_dot_product_attention_backward(g, q, k, v, **kw)
    ref = cpu.scaled_dot_product_attention(np64(q), np64(k), np64(v), **kw)
    refs = cpu.scaled_dot_product_attention_backward(np64(g), np64(q), np64(k), np64(v), **kw)
    np.testing.assert_allclose(np64(out), ref, rtol=1e-12, atol=1e-13)
    for a, r in zip(grads, refs, strict=True):
        np.testing.assert_allclose(np64(a), r, rtol=1e-12, atol=1e-13)


class _PrecisionSpy:
    """Wraps a kernel; records the ``PREC`` (``tl.dot`` input precision) of every launch."""

    def __init__(self, kernel, seen):
        self.kernel, self.seen = kernel, seen

    def __getitem__(self, grid):
        launch = self.kernel[grid]

        def run(*args, **kwargs):
            self.seen.append(kwargs["PREC"])
            return launch(*args, **kwargs)

        return run


def test_float32_products_follow_torchs_tf32_switch(monkeypatch):
    """``tl.dot`` runs float32 at torch's matmul precision (``allow_tf32``: ieee by default),
    so the GPU rule compares like with like; half precisions and float64 ignore it."""
    fk = _backend.load("_flash_kernels")
    seen: list[str] = []
    for name in ("_attn_fwd", "_attn_bwd_dkdv", "_attn_bwd_dq"):
        monkeypatch.setattr(fk, name, _PrecisionSpy(getattr(fk, name), seen))
    q = rand((1, 5, 16), 0, torch.float32)
    saved = torch.backends.cuda.matmul.allow_tf32
    try:
        for tf32, want in ((False, "ieee"), (True, "tf32")):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            seen.clear()
            gpu.scaled_dot_product_attention_backward(q, q, q, q)
            assert seen == [want] * 3
            seen.clear()
            gpu.scaled_dot_product_attention_backward(q.half(), q.half(), q.half(), q.half())
            assert seen == ["ieee"] * 3
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved


# ----------------------------------------------------------------------------- edges, errors


def test_empty_queries_and_batches_give_empty_results():
    q, k, v = rand((2, 0, 16), 0), rand((2, 5, 16), 1), rand((2, 5, 8), 2)
    assert gpu.scaled_dot_product_attention(q, k, v).shape == (2, 0, 8)
    out, lse = gpu.flash_attention_forward(q, k, v)
    assert out.shape == (2, 0, 8) and lse.shape == (2, 0)
    grads = gpu.scaled_dot_product_attention_backward(rand((2, 0, 8), 3), q, k, v)
    assert [t.shape for t in grads] == [q.shape, k.shape, v.shape]
    assert all((t == 0).all() for t in grads)
    q0 = rand((0, 3, 16), 0)
    assert gpu.scaled_dot_product_attention(q0, k[:1], v[:1]).shape == (0, 3, 8)


def test_deliberate_restrictions_are_refused_naming_the_argument():
    q, k, v = rand((1, 4, 16), 0), rand((1, 5, 16), 1), rand((1, 5, 16), 2)
    with pytest.raises(ValueError, match="attn_mask must be None"):
        gpu.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="attn_mask and is_causal"):
        gpu.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5), is_causal=True)
    with pytest.raises(ValueError, match="dropout_p must be 0"):
        gpu.scaled_dot_product_attention(q, k, v, dropout_p=0.1)
    wide = rand((1, 4, 257), 3)
    with pytest.raises(ValueError, match="query: the fused kernel takes head dimensions"):
        gpu.scaled_dot_product_attention(wide, wide, v[:, :4])
    with pytest.raises(ValueError, match="value: the fused kernel takes Ev"):
        gpu.scaled_dot_product_attention(q, k, rand((1, 5, 300), 4))
    with pytest.raises(ValueError, match="key must have at least one position"):
        gpu.scaled_dot_product_attention(q, k[:, :0], v[:, :0])


def test_bad_values_are_refused_after_the_launch():
    q, k, v = rand((1, 4, 16), 0), rand((1, 5, 16), 1), rand((1, 5, 16), 2)
    g = rand((1, 4, 16), 3)
    kb = k.clone()
    kb[0, 4, 0] = float("nan")  # a key no causal query sees: still refused, as on the CPU
    with pytest.raises(ValueError, match="key must have finite entries"):
        gpu.scaled_dot_product_attention(q, kb, v, is_causal=True)
    with pytest.raises(ValueError, match="grad_output must have finite entries"):
        gpu.scaled_dot_product_attention_backward(g * float("inf"), q, k, v)
    with pytest.raises(ValueError, match="overflow"):
        gpu.scaled_dot_product_attention(q * 1e160, k * 1e160, v)
    with pytest.raises(ValueError, match="give a non-finite gradient: the backward overflowed"):
        # moderate scores (q tiny, scale large), huge grad_output: dq = scale dS K overflows
        gpu.scaled_dot_product_attention_backward(g * 1e300, q * 1e-10, k, v, scale=1e10)
    out, lse = gpu.flash_attention_forward(q, k, v)
    with pytest.raises(TypeError, match=r"lse must have dtype torch\.float64"):
        gpu.flash_attention_backward(g, q, k, v, out, lse.float())
    with pytest.raises(ValueError, match="lse must have shape"):
        gpu.flash_attention_backward(g, q, k, v, out, lse[:, :3])
    with pytest.raises(ValueError, match="out must have the forward output's shape"):
        gpu.flash_attention_backward(g, q, k, v, out[..., :3], lse)


def test_saturated_softmax_leaves_the_cancellation_error_torchs_flash_leaves():
    """Where one score dominates (scale 1e6), dS = P(dP - delta) cancels: the exact dq, dk are
    0 and torch's math path returns 0, but the FlashAttention-2 form leaves rounding noise
    times scale — within :func:`cancellation_bound` — exactly as torch's own CPU
    FlashAttention backward does (a shared limit of the algorithm, documented in
    kernels.gpu.attention)."""
    shapes = [(1, 4, 16), (1, 5, 16), (1, 5, 16), (1, 4, 16)]
    q, k, v, g = (rand(shape, seed, torch.float32) for seed, shape in enumerate(shapes))
    ours = gpu.scaled_dot_product_attention_backward(g, q, k, v, scale=1e6)
    exact = cpu.scaled_dot_product_attention_backward(*(np64(t) for t in (g, q, k, v)), scale=1e6)
    ops = torch.ops.aten
    q4, k4, v4, g4 = (t.cpu().unsqueeze(1) for t in (q, k, v, g))
    out, lse = ops._scaled_dot_product_flash_attention_for_cpu(q4, k4, v4, 0.0, False, scale=1e6)
    theirs = ops._scaled_dot_product_flash_attention_for_cpu_backward(
        g4, q4, k4, v4, out, lse, 0.0, False, scale=1e6
    )
    for what, a, t, e in zip("qk", ours, theirs, exact, strict=False):
        assert float(np.abs(e).max()) == 0.0  # saturated: the exact gradient is 0
        bound = cancellation_bound(what, q, k, v, g, False, 1e6)
        assert (np.abs(np64(a)) <= bound).all(), what
        assert np.abs(np64(a)).max() > 0 and float(t.abs().max()) > 0  # both leave it


# ----------------------------------------------------------------------------- GPU-only


@gpu_only
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("D", [64, 128])
@pytest.mark.parametrize("n", [1024, 4096])
def test_gpu_sizes(n, D, dtype, causal):
    """The issue's shapes against torch's float64 math path and its flash backend."""
    q, k, v, g = (rand((1, 2, n, D), s, torch.float32).to(dtype) for s in range(4))
    out = gpu.scaled_dot_product_attention(q, k, v, is_causal=causal)
    grads = gpu.scaled_dot_product_attention_backward(g, q, k, v, is_causal=causal)
    q64, k64, v64, g64 = (t.double() for t in (q, k, v, g))
    ref = torch_forward(q64, k64, v64, causal)
    refs = torch_backward(g64, q64, k64, v64, causal)
    check(out, np64(ref), torch_forward(q, k, v, causal), f"n={n} D={D} forward")
    for what, a, r, t in zip("qkv", grads, refs, torch_backward(g, q, k, v, causal), strict=True):
        check(a, np64(r), t, f"n={n} D={D} d{what}")
