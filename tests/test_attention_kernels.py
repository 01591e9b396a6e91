"""Attention kernels ⇄ torch: SDPA, multi-head attention, positional encodings, relative scores,
linear attention and sparse patterns (forward, backward three ways, properties).

Claims: theory/claims/attention.yaml (``d000.attn.*``, ``d002.attn.*``). Kernels:
kernels.cpu.attention (``softmax``, ``scaled_dot_product_attention[_backward]``,
``multi_head_attention[_backward]``, ``sinusoidal_encoding``,
``learned_positional_encoding[_backward]``, ``relative_scores``, ``transformer_xl_scores``,
``linear_attention[_weights]``, ``sparse_mask``). Helpers: numerics.tolerances.assert_close
(dtype table + Higham reduction bound), numerics.gradcheck (central differences).

Conventions checked here: torch's ``is_causal`` is top-left aligned (``tril(ones(L, S))``);
``nn.MultiheadAttention(batch_first=True)`` takes ``(N, L, E)``, our kernel ``(L, N, E)``
(inputs and output are transposed on axes 0 and 1; the weights ``(N, L, S)`` are the same).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel

from kernels.cpu import attention as A
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.tolerances import assert_close

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float32, np.float64])


def T(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def leaf(a: np.ndarray) -> torch.Tensor:
    return T(a.copy()).requires_grad_()


def weights_of(q, k, **kw) -> np.ndarray:
    """The attention matrix P through the kernel itself: value = identity gives O = P."""
    S = k.shape[-2]
    return A.scaled_dot_product_attention(q, k, np.eye(S, dtype=q.dtype), **kw)


# --------------------------------------------------------------------------- strategies


@st.composite
def sdpa_case(draw, max_len: int = 5, allow_empty_l: bool = True):
    """Shapes with broadcasting batch dims, a mask kind, a scale; returns a dict of arrays."""
    nb = draw(st.integers(0, 2), label="batch_rank")
    base = tuple(draw(st.lists(st.integers(1, 3), min_size=nb, max_size=nb), label="batch"))

    def variant(label):
        keep = draw(st.lists(st.booleans(), min_size=nb, max_size=nb), label=label)
        shape = tuple(b if k else 1 for b, k in zip(base, keep, strict=True))
        drop = draw(st.integers(0, nb), label=label + "_drop")
        return shape[drop:]

    L = draw(st.integers(0 if allow_empty_l else 1, max_len), label="L")
    S = draw(st.integers(1, max_len), label="S")
    E = draw(st.integers(1, 6), label="E")
    Ev = draw(st.integers(1, 6), label="Ev")
    mask = draw(st.sampled_from(["none", "causal", "bool", "float"]), label="mask")
    scale = draw(st.sampled_from([None, 0.3, 1.0, -0.7]), label="scale")
    return {
        "qb": variant("q"),
        "kb": variant("k"),
        "vb": variant("v"),
        "L": L,
        "S": S,
        "E": E,
        "Ev": Ev,
        "mask": mask,
        "scale": scale,
        "mask_full": draw(st.booleans(), label="mask_full_batch"),
    }


def build(case, seed, dtype):
    rng = np.random.default_rng(seed)
    L, S, E, Ev = case["L"], case["S"], case["E"], case["Ev"]
    q = rng.standard_normal((*case["qb"], L, E)).astype(dtype)
    k = rng.standard_normal((*case["kb"], S, E)).astype(dtype)
    v = rng.standard_normal((*case["vb"], S, Ev)).astype(dtype)
    sbatch = np.broadcast_shapes(case["qb"], case["kb"])
    mshape = (*sbatch, L, S) if case["mask_full"] else (L, S)
    kw: dict = {"scale": case["scale"]}
    if case["mask"] == "causal":
        kw["is_causal"] = True
    elif case["mask"] == "bool":
        m = rng.random(mshape) < 0.6
        keep = rng.integers(0, S, size=mshape[:-1])  # every query keeps one key
        np.put_along_axis(m, keep[..., None], True, axis=-1)
        kw["attn_mask"] = m
    elif case["mask"] == "float":
        m = rng.standard_normal(mshape).astype(dtype)
        drop = rng.random(mshape) < 0.3
        keep = rng.integers(0, S, size=mshape[:-1])
        np.put_along_axis(drop, keep[..., None], False, axis=-1)
        kw["attn_mask"] = np.where(drop, -np.inf, m).astype(dtype)
    return q, k, v, kw


def torch_kw(kw):
    return {k: (T(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}


def torch_sdpa(q, k, v, kw):
    """torch's SDPA on tensors; for a negative ``scale`` with ``is_causal`` its math backend
    (the CPU flash backend returns NaN there: see test_torch_flash_cpu_nan_negative_scale)."""
    if kw.get("is_causal") and kw.get("scale") is not None and kw["scale"] < 0:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, **torch_kw(kw))
    return F.scaled_dot_product_attention(q, k, v, **torch_kw(kw))


def sdpa_bound(q, k, v, kw):
    """Higham bound for two float computations of SDPA (reduction length E + S + 4).

    Scores err by gamma_E * |scale| * sum|q||k|; the softmax maps a score error delta to an
    output error <= 2 max|delta| max|v|; the P @ V sum errs by gamma_S max|v|. The magnitude
    collects these: 2 (|scale| max_ij sum_e |q_ie k_je| + |mask| + 1) max|v|, and the exp,
    division and mask addition add a few more roundings (the + 4)."""
    sc = kw["scale"] if kw["scale"] is not None else 1 / math.sqrt(q.shape[-1])
    qk = np.abs(q.astype(np.float64)) @ np.swapaxes(np.abs(k.astype(np.float64)), -1, -2)
    m = kw.get("attn_mask")
    madd = 0.0
    if m is not None and m.dtype != np.bool_:
        madd = float(np.abs(m[np.isfinite(m)]).max(initial=0.0))
    vmax = float(np.abs(v).max())
    mag = 2 * (abs(sc) * float(qk.max(initial=0.0)) + madd + 1) * vmax
    return q.shape[-1] + k.shape[-2] + 4, mag


# --------------------------------------------------------------------------- SDPA forward


@pytest.mark.claim("d000.attn.sdpa", "d002.attn.sdpa")
@given(case=sdpa_case(), seed=seeds, dtype=dtypes)
def test_sdpa_matches_torch(case, seed, dtype):
    q, k, v, kw = build(case, seed, dtype)
    ours = A.scaled_dot_product_attention(q, k, v, **kw)
    theirs = torch_sdpa(T(q), T(k), T(v), kw).numpy()
    n, mag = sdpa_bound(q, k, v, kw)
    assert ours.dtype == dtype
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    assert ours.shape == (*batch, q.shape[-2], v.shape[-1])
    if q.size == 0:  # torch's early return: shape (*query.shape[:-1], Ev), batch not broadcast
        assert theirs.shape == (*q.shape[:-1], v.shape[-1]) and ours.size == 0
        return
    assert_close(
        ours, theirs, dtype, reduction_length=n, magnitude=mag, context=f"{case} seed={seed}"
    )


@pytest.mark.claim("d000.attn.sdpa", "d002.attn.sdpa")
@given(case=sdpa_case(max_len=4, allow_empty_l=False), seed=seeds)
def test_sdpa_gradients_three_ways(case, seed):
    """Hand-written backward = torch autograd = float64 central differences (q, k, v)."""
    q, k, v, kw = build(case, seed, np.float64)
    out = A.scaled_dot_product_attention(q, k, v, **kw)
    g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    dq, dk, dv = A.scaled_dot_product_attention_backward(g, q, k, v, **kw)
    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    torch_sdpa(tq, tk, tv, kw).backward(T(g))
    ctx = f"{case} seed={seed}"
    for ours, t in ((dq, tq), (dk, tk), (dv, tv)):
        assert_close(ours, t.grad.numpy(), np.float64, context=ctx)
    fd = [
        central_difference(lambda x: A.scaled_dot_product_attention(x, k, v, **kw), q, g),
        central_difference(lambda x: A.scaled_dot_product_attention(q, x, v, **kw), k, g),
        central_difference(lambda x: A.scaled_dot_product_attention(q, k, x, **kw), v, g),
    ]
    for ours, num in zip((dq, dk, dv), fd, strict=True):
        assert_grad_close(ours, num, ctx)


@pytest.mark.claim("d000.attn.sdpa", "d002.attn.sdpa")
@given(
    hk=st.integers(1, 3),
    rep=st.integers(1, 3),
    n=st.integers(1, 2),
    L=st.integers(1, 4),
    S=st.integers(1, 4),
    causal=st.booleans(),
    seed=seeds,
)
def test_sdpa_gqa_forward_backward_match_torch(hk, rep, n, L, S, causal, seed):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, hk * rep, L, 3))
    k = rng.standard_normal((n, hk, S, 3))
    v = rng.standard_normal((n, hk, S, 2))
    g = rng.standard_normal((n, hk * rep, L, 2))
    ours = A.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    t = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, enable_gqa=True)
    t.backward(T(g))
    assert_close(ours, t.detach().numpy(), np.float64)
    grads = A.scaled_dot_product_attention_backward(g, q, k, v, is_causal=causal, enable_gqa=True)
    for ours_g, leaf_t in zip(grads, (tq, tk, tv), strict=True):
        assert_close(ours_g, leaf_t.grad.numpy(), np.float64)
    # gqa = attention with key/value heads repeated (repeat_interleave)
    full = A.scaled_dot_product_attention(
        q, np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1), is_causal=causal
    )
    assert_close(ours, full, np.float64)


@pytest.mark.claim("d000.attn.weights", "d000.attn.output")
@given(
    L=st.integers(1, 6), S=st.integers(1, 6), E=st.integers(1, 5), Ev=st.integers(1, 4), seed=seeds
)
def test_weights_are_the_documents_softmax_and_output_a_convex_combination(L, S, E, Ev, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((n, d)) for n, d in ((L, E), (S, E), (S, Ev)))
    p = weights_of(q, k)
    # 000's formula as written: exp(q.k/sqrt(d)) / sum_l exp(q.l/sqrt(d)) (no shift)
    doc = np.exp(q @ k.T / math.sqrt(E))
    doc = doc / doc.sum(axis=1, keepdims=True)
    assert_close(p, doc, np.float64)
    assert (p >= 0).all()
    assert_close(p.sum(axis=1), np.ones(L), np.float64, reduction_length=S, magnitude=1.0)
    o = A.scaled_dot_product_attention(q, k, v)
    assert_close(o, p @ v, np.float64, reduction_length=S, magnitude=np.abs(v).max())
    # convex combination: each coordinate between the values' min and max (up to rounding)
    slack = 4 * S * np.finfo(np.float64).eps * np.abs(v).max()
    assert (o >= v.min(axis=0) - slack).all() and (o <= v.max(axis=0) + slack).all()
    # and the softmax kernel equals torch's
    x = rng.standard_normal((L, S)) * 5
    assert_close(A.softmax(x), torch.softmax(T(x), -1).numpy(), np.float64)
    assert_close(A.softmax(x, 0), torch.softmax(T(x), 0).numpy(), np.float64)


@pytest.mark.claim("d000.attn.weights")
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    seed=seeds,
    data=st.data(),
)
def test_softmax_backward_three_ways(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    g = rng.standard_normal(shape)
    dx = A.softmax_backward(g, x, dim)
    t = leaf(x)
    torch.softmax(t, dim).backward(T(g))
    assert_close(dx, t.grad.numpy(), np.float64)
    assert_grad_close(dx, central_difference(lambda z: A.softmax(z, dim), x, g))


@pytest.mark.claim("d000.attn.weights")
def test_softmax_is_stable_where_the_naive_formula_overflows():
    x = np.array([[1000.0, 999.0, -np.inf]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum()
    assert np.isnan(naive).any()
    e = math.exp(-1)
    assert_close(A.softmax(x), np.array([[1 / (1 + e), e / (1 + e), 0.0]]), np.float64)


# --------------------------------------------------------------------------- causal alignment


@pytest.mark.claim("d000.attn.sdpa")
@pytest.mark.parametrize(("L", "S"), [(2, 5), (5, 2), (3, 3), (1, 4), (4, 1)])
def test_causal_mask_is_top_left_aligned_as_torch(L, S):
    rng = np.random.default_rng(L * 10 + S)
    q, k, v = rng.standard_normal((L, 3)), rng.standard_normal((S, 3)), rng.standard_normal((S, 2))
    ours = A.scaled_dot_product_attention(q, k, v, is_causal=True)
    theirs = F.scaled_dot_product_attention(T(q), T(k), T(v), is_causal=True).numpy()
    assert_close(ours, theirs, np.float64)
    top_left = np.tri(L, S, dtype=bool)  # query i sees keys 0..min(i, S-1)
    assert_close(ours, A.scaled_dot_product_attention(q, k, v, attn_mask=top_left), np.float64)
    # query 0 sees key 0 only: its output is v_0 exactly
    assert np.array_equal(ours[0], v[0])
    p = weights_of(q, k, is_causal=True)
    assert (p[~top_left] == 0).all()
    bottom_right = np.tri(L, S, S - L, dtype=bool)  # flash-attn's alignment
    if L != S and bottom_right.any(axis=1).all():
        other = A.scaled_dot_product_attention(q, k, v, attn_mask=bottom_right)
        assert np.abs(other - ours).max() > 1e-3, "the two alignments differ when L != S"
    if L < S:  # the last S - L keys are seen by no query under top-left alignment
        assert (p[:, L:] == 0).all()


# --------------------------------------------------------------------------- torch differences


@pytest.mark.claim("d000.attn.sdpa")
@pytest.mark.parametrize(("L", "S"), [(1, 2), (3, 3), (4, 2), (2, 4)])
def test_torch_flash_cpu_nan_negative_scale(L, S):
    """torch 2.13: the CPU flash backend (chosen for 4-D inputs) with ``is_causal=True`` and a
    negative ``scale`` returns NaN in every row with a masked key (it looks like the mask's
    -inf is multiplied by the scale); its math backend and our kernel are finite and agree."""
    rng = np.random.default_rng(L * 7 + S)
    q, k, v = (rng.standard_normal((1, 1, n, 2)) for n in (L, S, S))
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        flash = F.scaled_dot_product_attention(T(q), T(k), T(v), is_causal=True, scale=-0.7)
    with sdpa_kernel(SDPBackend.MATH):
        math_ = F.scaled_dot_product_attention(T(q), T(k), T(v), is_causal=True, scale=-0.7)
    masked_rows = ~np.tri(L, S, dtype=bool).all(axis=1)
    assert torch.isnan(flash[0, 0, masked_rows]).all()
    ours = A.scaled_dot_product_attention(q, k, v, is_causal=True, scale=-0.7)
    assert_close(ours, math_.numpy(), np.float64)


@pytest.mark.claim("d000.attn.output")
def test_fully_masked_row_torch_gives_zero_or_nan_we_refuse():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    m = np.ones((2, 4), dtype=bool)
    m[0] = False
    t = F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(m)).numpy()
    assert (t[0] == 0).all()  # torch 2.13's SDPA: a zero row, no weighted average of v
    assert not np.isclose(t[0], v).all(axis=1).any()
    with pytest.raises(ValueError, match="attn_mask"):
        A.scaled_dot_product_attention(q, k, v, attn_mask=m)
    fm = np.where(m, 0.0, -np.inf)
    with pytest.raises(ValueError, match="attn_mask"):
        A.scaled_dot_product_attention(q, k, v, attn_mask=fm)
    # nn.MultiheadAttention with a fully padded sequence: NaN in torch, ValueError here
    mha = torch.nn.MultiheadAttention(4, 2, dtype=torch.float64)
    x = rng.standard_normal((3, 2, 4))
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[0] = True
    with torch.no_grad():
        out, _ = mha(T(x), T(x), T(x), key_padding_mask=T(kpm))
    assert torch.isnan(out[:, 0]).all() and not torch.isnan(out[:, 1]).any()
    with pytest.raises(ValueError, match="key_padding_mask"):
        A.multi_head_attention(x, x, x, 2, *mha_params(mha), key_padding_mask=kpm)


@pytest.mark.claim("d000.attn.sdpa")
def test_empty_lengths_and_conflicting_arguments():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 0, 3)), rng.standard_normal((2, 4, 3)), np.ones((2, 4, 5))
    ours = A.scaled_dot_product_attention(q, k, v)
    assert ours.shape == F.scaled_dot_product_attention(T(q), T(k), T(v)).shape == (2, 0, 5)
    q1 = rng.standard_normal((2, 2, 3))
    t0 = F.scaled_dot_product_attention(T(q1), T(k[:, :0]), T(v[:, :0]))
    assert (t0.numpy() == 0).all()  # torch: S = 0 gives zeros
    with pytest.raises(ValueError, match="key"):
        A.scaled_dot_product_attention(q1, k[:, :0], v[:, :0])
    m = np.ones((2, 4), dtype=bool)
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(T(q1), T(k), T(v), attn_mask=T(m), is_causal=True)
    with pytest.raises(ValueError, match="attn_mask"):
        A.scaled_dot_product_attention(q1, k, v, attn_mask=m, is_causal=True)
    big = np.ones((3, 2, 4), dtype=bool)  # broadcasts, but would enlarge the (2, 4) scores
    q2, k2, v2 = q1[0], k[0], v[0]
    with pytest.raises(RuntimeError):  # torch: output shape doesn't match the broadcast shape
        F.scaled_dot_product_attention(T(q2), T(k2), T(v2), attn_mask=T(big))
    with pytest.raises(ValueError, match="attn_mask"):
        A.scaled_dot_product_attention(q2, k2, v2, attn_mask=big)
    with pytest.raises(ValueError, match="attn_mask"):  # does not broadcast at all
        A.scaled_dot_product_attention(q1, k, v, attn_mask=np.ones((3, 1, 4), dtype=bool))
    with pytest.raises(TypeError, match="key"):
        A.scaled_dot_product_attention(q1, k.astype(np.float32), v)
    with pytest.raises(ValueError, match="dropout_p"):
        A.scaled_dot_product_attention(q1, k, v, dropout_p=0.1)


# --------------------------------------------------------------------------- multi-head


def mha_params(m: torch.nn.MultiheadAttention) -> tuple:
    """(in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias) as NumPy (or None)."""

    def a(t):
        return None if t is None else t.detach().numpy()

    return (a(m.in_proj_weight), a(m.in_proj_bias), a(m.out_proj.weight), a(m.out_proj.bias))


def mha_kwargs(m: torch.nn.MultiheadAttention) -> dict:
    def a(t):
        return None if t is None else t.detach().numpy()

    iw, ib, ow, ob = mha_params(m)
    return {
        "num_heads": m.num_heads,
        "in_proj_weight": iw,
        "in_proj_bias": ib,
        "out_proj_weight": ow,
        "out_proj_bias": ob,
        "bias_k": a(m.bias_k),
        "bias_v": a(m.bias_v),
        "add_zero_attn": m.add_zero_attn,
        "q_proj_weight": a(m.q_proj_weight),
        "k_proj_weight": a(m.k_proj_weight),
        "v_proj_weight": a(m.v_proj_weight),
    }


def divisor_heads(e: int) -> list[int]:
    return [h for h in range(1, e + 1) if e % h == 0]


@st.composite
def mha_case(draw):
    E = draw(st.sampled_from([1, 4, 6, 8, 12]), label="E")
    return {
        "E": E,
        "h": draw(st.sampled_from(divisor_heads(E)), label="num_heads"),
        "kdim": draw(st.sampled_from([None, 3, 5]), label="kdim"),
        "vdim": draw(st.sampled_from([None, 2, 7]), label="vdim"),
        "bias": draw(st.booleans(), label="bias"),
        "bias_kv": draw(st.booleans(), label="add_bias_kv"),
        "zero_attn": draw(st.booleans(), label="add_zero_attn"),
        "L": draw(st.integers(1, 4), label="L"),
        "S": draw(st.integers(1, 4), label="S"),
        "N": draw(st.sampled_from([None, 1, 2]), label="N"),
        "kpm": draw(st.booleans(), label="key_padding_mask"),
        "attn_mask": draw(st.sampled_from([None, "bool", "float", "bool3d"]), label="attn_mask"),
        "need_weights": draw(st.booleans(), label="need_weights"),
        "average": draw(st.booleans(), label="average_attn_weights"),
        "batch_first": draw(st.booleans(), label="batch_first"),
    }


@pytest.mark.claim("d000.attn.multihead", "d002.attn.multihead")
@given(case=mha_case(), seed=seeds)
def test_multi_head_attention_matches_torch_module(case, seed):
    """Forward (output and weights) and every gradient against ``nn.MultiheadAttention``."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed % 2**31)
    E, h, L, S, N = case["E"], case["h"], case["L"], case["S"], case["N"]
    kdim, vdim = case["kdim"] or E, case["vdim"] or E
    m = torch.nn.MultiheadAttention(
        E,
        h,
        bias=case["bias"],
        add_bias_kv=case["bias_kv"],
        add_zero_attn=case["zero_attn"],
        kdim=kdim,
        vdim=vdim,
        batch_first=case["batch_first"],
        dtype=torch.float64,
    )
    with torch.no_grad():  # torch initializes in_proj_bias to 0: make it count
        for p in m.parameters():
            p.add_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.3))
    batch = () if N is None else (N,)
    x = rng.standard_normal((L, *batch, E))
    kk = rng.standard_normal((S, *batch, kdim))
    vv = rng.standard_normal((S, *batch, vdim))
    kw = mha_kwargs(m)
    kw["need_weights"] = case["need_weights"]
    kw["average_attn_weights"] = case["average"]
    tkw: dict = {"need_weights": case["need_weights"], "average_attn_weights": case["average"]}
    if case["kpm"]:
        kpm = rng.random((*batch, S)) < 0.3
        kpm[..., 0] = False  # no fully padded sequence (torch: NaN, ours: ValueError)
        kw["key_padding_mask"] = kpm
        tkw["key_padding_mask"] = T(kpm)
    if case["attn_mask"] is not None:
        Sx = S  # masks cover the given keys; bias_k / zero attention pad them with a 0 column
        if case["attn_mask"] == "float":
            am = rng.standard_normal((L, Sx))
        else:
            shape = (L, Sx) if case["attn_mask"] == "bool" else ((N or 1) * h, L, Sx)
            if N is None and case["attn_mask"] == "bool3d":
                shape = (h, L, Sx)
            am = rng.random(shape) < 0.3
            am[..., 0] = False  # True = not allowed (torch MHA): key 0 always allowed
            if case["kpm"]:
                am = am.astype(np.float64) * -1e9  # torch wants matching mask types
                am = np.where(am < 0, -np.inf, 0.0)
        kw["attn_mask"] = am
        tkw["attn_mask"] = T(am)
    bf = case["batch_first"] and N is not None

    def to_t(a):  # our (L, N, E) -> the module's layout
        return leaf(np.swapaxes(a, 0, 1) if bf else a)

    tx, tk, tv = to_t(x), to_t(kk), to_t(vv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out_t, w_t = m(tx, tk, tv, **tkw)
    out, w = A.multi_head_attention(x, kk, vv, **kw)
    ctx = f"{case} seed={seed}"
    out_t_np = out_t.detach().numpy()
    assert_close(out, np.swapaxes(out_t_np, 0, 1) if bf else out_t_np, np.float64, context=ctx)
    if case["need_weights"]:
        assert_close(w, w_t.detach().numpy(), np.float64, context=ctx)
    else:
        assert w is None and w_t is None
    g = rng.standard_normal(out.shape)
    out_t.backward(T(np.swapaxes(g, 0, 1) if bf else g))
    grads = A.multi_head_attention_backward(g, x, kk, vv, **kw)
    for name, t in (("query", tx), ("key", tk), ("value", tv)):
        tg = t.grad.numpy()
        assert_close(grads[name], np.swapaxes(tg, 0, 1) if bf else tg, np.float64, context=name)
    params = {
        "in_proj_weight": m.in_proj_weight,
        "in_proj_bias": m.in_proj_bias,
        "out_proj_weight": m.out_proj.weight,
        "out_proj_bias": m.out_proj.bias,
        "bias_k": m.bias_k,
        "bias_v": m.bias_v,
        "q_proj_weight": m.q_proj_weight,
        "k_proj_weight": m.k_proj_weight,
        "v_proj_weight": m.v_proj_weight,
    }
    for name, p in params.items():
        if p is None:
            assert grads[name] is None, name
        else:
            assert_close(grads[name], p.grad.numpy(), np.float64, context=f"{name} {ctx}")


@pytest.mark.claim("d000.attn.multihead", "d002.attn.multihead")
@pytest.mark.parametrize(
    ("E", "h"), [(E, h) for E in (4, 6, 12) for h in divisor_heads(E)], ids=lambda v: str(v)
)
def test_every_head_count_matches_torch(E, h):
    """Every num_heads dividing E (E = 4, 6, 12): output, weights per head and all gradients
    against ``nn.MultiheadAttention`` (sequence-first, biases on)."""
    rng = np.random.default_rng(E * 100 + h)
    m = torch.nn.MultiheadAttention(E, h, dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.3))
    x, kk, vv = (rng.standard_normal((n, 2, E)) for n in (3, 4, 4))
    tx, tk, tv = leaf(x), leaf(kk), leaf(vv)
    out_t, w_t = m(tx, tk, tv, average_attn_weights=False)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(T(g))
    kw = mha_kwargs(m)
    out, w = A.multi_head_attention(x, kk, vv, **kw, average_attn_weights=False)
    assert w.shape == (2, h, 3, 4)
    assert_close(out, out_t.detach().numpy(), np.float64)
    assert_close(w, w_t.detach().numpy(), np.float64)
    grads = A.multi_head_attention_backward(g, x, kk, vv, **kw, average_attn_weights=False)
    for name, t in (
        ("query", tx),
        ("key", tk),
        ("value", tv),
        ("in_proj_weight", m.in_proj_weight),
        ("in_proj_bias", m.in_proj_bias),
        ("out_proj_weight", m.out_proj.weight),
        ("out_proj_bias", m.out_proj.bias),
    ):
        assert_close(grads[name], t.grad.numpy(), np.float64, context=name)


@pytest.mark.claim("d000.attn.multihead", "d002.attn.multihead")
@given(seed=seeds, L=st.integers(1, 3), S=st.integers(1, 3))
def test_multi_head_backward_against_central_differences(seed, L, S):
    rng = np.random.default_rng(seed)
    E, h, N = 4, 2, 2
    x, kk, vv = (rng.standard_normal((n, N, E)) for n in (L, S, S))
    kw = {
        "num_heads": h,
        "in_proj_weight": rng.standard_normal((3 * E, E)),
        "in_proj_bias": rng.standard_normal(3 * E),
        "out_proj_weight": rng.standard_normal((E, E)),
        "out_proj_bias": rng.standard_normal(E),
    }
    g = rng.standard_normal((L, N, E))
    grads = A.multi_head_attention_backward(g, x, kk, vv, **kw)
    args = {"query": x, "key": kk, "value": vv, **kw}
    for name in ("query", "key", "value", "in_proj_weight", "in_proj_bias", "out_proj_weight"):

        def f(z, name=name):
            return A.multi_head_attention(**{**args, name: z})[0]

        assert_grad_close(grads[name], central_difference(f, args[name], g), name)


@pytest.mark.claim("d000.attn.multihead")
@given(d=st.sampled_from([2, 4, 6]), n=st.integers(1, 5), seed=seeds, data=st.data())
def test_000_form_with_stacked_projections_collapses_to_torchs(d, n, seed, data):
    """000: Q = XW_Q, head_i = Attention(QW_i^Q, KW_i^K, VW_i^V), Concat(heads) W^O. It is
    torch's layer with in_proj rows of head i = (W_Q W_i^Q)^T (and K, V alike), out_proj =
    (W^O)^T, no biases."""
    h = data.draw(st.sampled_from(divisor_heads(d)), label="h")
    dk = d // h
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    WQ, WK, WV = (rng.standard_normal((d, d)) for _ in range(3))
    Wi = [[rng.standard_normal((d, dk)) for _ in range(h)] for _ in range(3)]
    WO = rng.standard_normal((d, d))
    Q, K, V = X @ WQ, X @ WK, X @ WV
    heads = [
        A.scaled_dot_product_attention(Q @ Wi[0][i], K @ Wi[1][i], V @ Wi[2][i]) for i in range(h)
    ]
    doc = np.concatenate(heads, axis=1) @ WO
    in_proj = np.concatenate(
        [np.concatenate([(W @ Wi[t][i]).T for i in range(h)]) for t, W in enumerate((WQ, WK, WV))]
    )
    ours, _ = A.multi_head_attention(X, X, X, h, in_proj, None, WO.T, None)
    assert_close(ours, doc, np.float64, reduction_length=4 * d + n, magnitude=np.abs(doc).max() + 1)
    m = torch.nn.MultiheadAttention(d, h, bias=False, dtype=torch.float64)
    with torch.no_grad():
        m.in_proj_weight.copy_(T(in_proj))
        m.out_proj.weight.copy_(T(WO.T))
        t, _ = m(T(X), T(X), T(X))
    assert_close(
        t.numpy(), doc, np.float64, reduction_length=4 * d + n, magnitude=np.abs(doc).max() + 1
    )


@pytest.mark.claim("d000.attn.parallel", "d002.attn.parallel")
@given(
    E=st.sampled_from([4, 6, 8]),
    L=st.integers(1, 4),
    N=st.integers(1, 2),
    seed=seeds,
    data=st.data(),
)
def test_heads_are_independent_and_computable_one_by_one(E, L, N, seed, data):
    h = data.draw(st.sampled_from([x for x in divisor_heads(E) if x > 1]), label="h")
    hd = E // h
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((L, N, E))
    w_in, b_in = rng.standard_normal((3 * E, E)), rng.standard_normal(3 * E)
    eye = np.eye(E)  # out_proj = I: the output is Concat(heads), head i = columns i*hd:(i+1)*hd
    out, w = A.multi_head_attention(x, x, x, h, w_in, b_in, eye, None, average_attn_weights=False)
    i = data.draw(st.integers(0, h - 1), label="head")
    j = data.draw(st.sampled_from([t for t in range(h) if t != i]), label="other")
    w2, b2 = w_in.copy(), b_in.copy()
    for block in range(3):  # perturb head j's rows of W_Q, W_K, W_V and their biases
        rows = slice(block * E + j * hd, block * E + (j + 1) * hd)
        w2[rows] += rng.standard_normal((hd, E))
        b2[rows] += 1.0
    out2, w2_ = A.multi_head_attention(x, x, x, h, w2, b2, eye, None, average_attn_weights=False)
    cols = slice(i * hd, (i + 1) * hd)
    assert np.array_equal(out[..., cols], out2[..., cols])  # bit-identical
    assert np.array_equal(w[:, i], w2_[:, i])
    assert not np.array_equal(out[..., j * hd : (j + 1) * hd], out2[..., j * hd : (j + 1) * hd])
    # one by one, each head an SDPA on its own slices, equals the batched computation
    wo, bo = rng.standard_normal((E, E)), rng.standard_normal(E)
    batched, _ = A.multi_head_attention(x, x, x, h, w_in, b_in, wo, bo)
    xs = np.swapaxes(x, 0, 1)  # (N, L, E)
    heads = []
    for t in range(h):
        proj = [
            xs @ w_in[b * E + t * hd : b * E + (t + 1) * hd].T
            + b_in[b * E + t * hd : b * E + (t + 1) * hd]
            for b in range(3)
        ]
        heads.append(A.scaled_dot_product_attention(*proj))
    one_by_one = np.swapaxes(np.concatenate(heads, axis=-1) @ wo.T + bo, 0, 1)
    assert_close(
        batched,
        one_by_one,
        np.float64,
        reduction_length=2 * E + L,
        magnitude=np.abs(batched).max() + 10,
    )


# --------------------------------------------------------------------------- permutations


def self_attention(x, wq, wk, wv, causal=False):
    return A.scaled_dot_product_attention(x @ wq, x @ wk, x @ wv, is_causal=causal)


@pytest.mark.claim("d000.attn.q12-position-needed")
@given(n=st.integers(2, 6), d=st.integers(1, 4), seed=seeds, data=st.data())
def test_permutation_equivariance_measured(n, d, seed, data):
    """Without positions and without a causal mask, permuting the tokens permutes the outputs
    (measured to rounding); adding sinusoidal or learned positions breaks it."""
    rng = np.random.default_rng(seed)
    perm = np.array(data.draw(st.permutations(range(n)), label="perm"))
    x = rng.standard_normal((n, d))
    w = [rng.standard_normal((d, d)) for _ in range(3)]
    base = self_attention(x, *w)
    assert_close(
        self_attention(x[perm], *w),
        base[perm],
        np.float64,
        reduction_length=2 * d + n,
        magnitude=np.abs(base).max() + 10,
    )
    if (perm == np.arange(n)).all():
        return
    # with absolute positions the token at a new position gets another output (measured)
    for table in (A.sinusoidal_encoding(n, d), rng.standard_normal((n, d))):
        y = self_attention(x + table, *w)
        yp = self_attention(x[perm] + table, *w)
        # measured: for these random tokens the swapped input is not the swapped output
        assert np.abs(yp - y[perm]).max() > 1e-9, (perm, table)


@pytest.mark.claim("d000.attn.q12-position-needed")
def test_permutation_counterexamples_with_positions_or_causal_mask():
    """Minimal counterexamples, n = 2, d = 1."""
    v = np.array([[1.0], [0.0]])
    zeros = np.zeros((2, 1))
    # causal attention with equal scores: o_i = mean(v_0..v_i)
    o = A.scaled_dot_product_attention(zeros, zeros, v, is_causal=True)
    assert np.array_equal(o, np.array([[1.0], [0.5]]))
    o_perm = A.scaled_dot_product_attention(zeros, zeros, v[::-1].copy(), is_causal=True)
    assert np.array_equal(o_perm, np.array([[0.0], [0.5]]))
    assert not np.allclose(o_perm, o[::-1])  # swapped input is not the swapped output
    # no mask, no positions: o_i = mean(v) for both, swapping commutes
    o_full = A.scaled_dot_product_attention(zeros, zeros, v)
    assert np.array_equal(o_full, np.array([[0.5], [0.5]]))
    # identity projections + sinusoidal positions (d = 2): the two tokens swapped
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    pe = A.sinusoidal_encoding(2, 2)
    eye = np.eye(2)
    y = self_attention(x + pe, eye, eye, eye)
    y_swapped = self_attention(x[::-1] + pe, eye, eye, eye)
    assert np.abs(y_swapped - y[::-1]).max() > 0.1
    # learned positions: a table with distinct rows does the same
    table = np.array([[0.0, 0.0], [2.0, -1.0]])
    y = self_attention(A.learned_positional_encoding(x, table), eye, eye, eye)
    y_swapped = self_attention(A.learned_positional_encoding(x[::-1].copy(), table), eye, eye, eye)
    assert np.abs(y_swapped - y[::-1]).max() > 0.1


# --------------------------------------------------------------------------- sinusoidal


@pytest.mark.claim("d000.attn.sinusoidal")
@given(n=st.integers(1, 40), d=st.integers(1, 16))
def test_sinusoidal_values_against_an_independent_loop(n, d):
    pe = A.sinusoidal_encoding(n, d)
    assert pe.shape == (n, d) and pe.dtype == np.float64
    expected = np.empty((n, d))
    for pos in range(n):
        for col in range(d):
            i = col // 2
            angle = pos / 10000.0 ** (2 * i / d)
            expected[pos, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    assert_close(pe, expected, np.float64)
    assert (np.abs(pe) <= 1).all()


@pytest.mark.claim("d000.attn.sinusoidal")
@given(
    half=st.integers(1, 8),
    n=st.integers(2, 60),
    k=st.integers(0, 30),
    base=st.sampled_from([10000.0, 100.0, 7.5]),
)
def test_sinusoidal_norm_offset_dot_products_and_rotation(half, n, k, base):
    d = 2 * half
    pe = A.sinusoidal_encoding(n + k, d, base)
    norms = (pe**2).sum(axis=1)
    assert_close(norms, np.full(n + k, d / 2), np.float64, reduction_length=d, magnitude=d)
    gram = pe @ pe.T
    # PE(p).PE(q) depends only on p - q: shifting both by k leaves it unchanged
    assert_close(gram[k:, k:], gram[:n, :n], np.float64, reduction_length=d, magnitude=d)
    # PE(pos + k) = M_k PE(pos), M_k block diagonal 2x2 rotations by omega_i k
    omega = 1.0 / base ** (np.arange(0, d, 2) / d)
    M = np.zeros((d, d))
    for i, w in enumerate(omega):
        c, s = math.cos(w * k), math.sin(w * k)
        M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, s], [-s, c]]
    assert_close(pe[:n] @ M.T, pe[k:], np.float64, reduction_length=2, magnitude=2.0)
    assert_close(M @ M.T, np.eye(d), np.float64, reduction_length=2, magnitude=1.0)


@pytest.mark.claim("d000.attn.sinusoidal")
def test_sinusoidal_odd_dimension_norm_is_not_constant():
    pe = A.sinusoidal_encoding(2, 3)  # columns sin(p), cos(p), sin(p / 10000**(2/3))
    norms = (pe**2).sum(axis=1)
    assert norms[0] == 1.0
    assert_close(norms[1], 1.0 + math.sin(1 / 10000 ** (2 / 3)) ** 2, np.float64)
    assert norms[1] - norms[0] > 4e-6


@pytest.mark.claim("d000.attn.learned-pe")
@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    L=st.integers(0, 5),
    extra=st.integers(0, 3),
    d=st.integers(1, 4),
    seed=seeds,
    dtype=dtypes,
)
def test_learned_positional_encoding_matches_torch_parameter(batch, L, extra, d, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, L, d)).astype(dtype)
    w = rng.standard_normal((L + extra + (L == 0), d)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    table = torch.nn.Parameter(T(w.copy()))
    tx = leaf(x)
    out_t = tx + table[:L]
    out_t.backward(T(g))
    out = A.learned_positional_encoding(x, w)
    assert_close(out, out_t.detach().numpy(), dtype)
    gx, gw = A.learned_positional_encoding_backward(g, x, w)
    assert_close(gx, tx.grad.numpy(), dtype)
    n = max(1, int(np.prod(batch)))
    assert_close(
        gw, table.grad.numpy(), dtype, reduction_length=n, magnitude=np.abs(g).max(initial=0.0) * n
    )
    assert (gw[L:] == 0).all()
    if x.size and dtype == np.float64:
        assert_grad_close(
            gw, central_difference(lambda z: A.learned_positional_encoding(x, z), w, g)
        )


@pytest.mark.claim("d000.attn.learned-pe")
def test_learned_table_too_short_is_refused():
    with pytest.raises(ValueError, match="input"):
        A.learned_positional_encoding(np.zeros((5, 2)), np.zeros((4, 2)))


# --------------------------------------------------------------------------- relative scores


def relative_loop(q, k, r_of, u, v, scale):
    L, S = q.shape[0], k.shape[0]
    e = np.empty((L, S))
    for i in range(L):
        for j in range(S):
            r = r_of(i - j)
            e[i, j] = (q[i] @ k[j] + q[i] @ r + u @ k[j] + v @ r) * scale
    return e


@pytest.mark.claim("d000.attn.relative")
@given(
    L=st.integers(1, 5),
    S=st.integers(1, 5),
    d=st.integers(1, 4),
    shift=st.integers(1, 3),
    scale=st.sampled_from([None, 0.5]),
    seed=seeds,
)
def test_relative_scores_loop_factorization_and_shift(L, S, d, shift, scale, seed):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((L, d)), rng.standard_normal((S, d))
    u, v = rng.standard_normal(d), rng.standard_normal(d)
    R = rng.standard_normal((L + S + 2 * shift, d))  # r_m = R[m + S + shift - 1]

    def r_of(m):
        return R[m + S + shift - 1]

    rel = np.array([r_of(m) for m in range(-(S - 1), L)])
    sc = 1 / math.sqrt(d) if scale is None else scale
    e = A.relative_scores(q, k, rel, u, scale=scale)
    mag = (np.abs(q) + np.abs(u)) @ (np.abs(k) + np.abs(R).max(axis=0)).T * sc
    assert_close(
        e, relative_loop(q, k, r_of, u, u, sc), np.float64, reduction_length=4 * d, magnitude=mag
    )
    # 000's form factors: (q_i + u).(k_j + r_{i-j}) * scale
    fact = np.array([[(q[i] + u) @ (k[j] + r_of(i - j)) * sc for j in range(S)] for i in range(L)])
    assert_close(e, fact, np.float64, reduction_length=4 * d, magnitude=mag)
    txl = A.transformer_xl_scores(q, k, rel, u, v, scale=scale)
    assert_close(
        txl,
        relative_loop(q, k, r_of, u, v, sc),
        np.float64,
        reduction_length=4 * d,
        magnitude=mag + np.abs(v) @ np.abs(R).max(axis=0),
    )
    assert_close(
        A.transformer_xl_scores(q, k, rel, u, u, scale=scale),
        e,
        np.float64,
        reduction_length=4 * d,
        magnitude=mag,
    )
    # shift invariance: the same content moved `shift` positions later (queries and keys)
    # gives the same scores, i.e. the score matrix moves along its diagonal
    q2 = np.concatenate([rng.standard_normal((shift, d)), q])
    k2 = np.concatenate([rng.standard_normal((shift, d)), k])
    L2, S2 = L + shift, S + shift
    rel2 = np.array([r_of(m) for m in range(-(S2 - 1), L2)])
    e2 = A.relative_scores(q2, k2, rel2, u, scale=sc)
    assert_close(e2[shift:, shift:], e, np.float64, reduction_length=4 * d, magnitude=mag)


@pytest.mark.claim("d000.attn.relative")
def test_transformer_xl_form_does_not_factor():
    """d = 1, q = k = 0, r = 1, u = 0, v = 1: Transformer-XL gives v.r = 1, while
    (q + u)(k + r) = 0 and (q + v)(k + r) = 1 but then the u.k term is wrong for k = 1."""
    zero = np.zeros((1, 1))
    rel, u, v = np.ones((1, 1)), np.zeros(1), np.ones(1)
    assert A.transformer_xl_scores(zero, zero, rel, u, v, scale=1.0)[0, 0] == 1.0
    assert (zero[0] + u) @ (zero[0] + rel[0]) == 0.0
    one = np.ones((1, 1))
    e = A.transformer_xl_scores(zero, one, rel, u, v, scale=1.0)[0, 0]  # u.k + v.r = 0 + 1
    assert e == 1.0 and (zero[0] + v) @ (one[0] + rel[0]) == 2.0


@pytest.mark.claim("d000.attn.relative")
def test_relative_scores_batched_broadcast():
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((2, 3, 4, 2)), rng.standard_normal((3, 5, 2))
    rel, u = rng.standard_normal((8, 2)), rng.standard_normal(2)
    e = A.relative_scores(q, k, rel, u)
    assert e.shape == (2, 3, 4, 5)
    for a in range(2):
        for b in range(3):
            assert_close(e[a, b], A.relative_scores(q[a, b], k[b], rel, u), np.float64)


# --------------------------------------------------------------------------- linear attention


def phi(x):
    return F.elu(T(x)).numpy() + 1


@pytest.mark.claim("d002.attn.q5-linear", "d002.attn.efficient-variants")
@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    L=st.integers(1, 6),
    S=st.integers(1, 6),
    d=st.integers(1, 4),
    ev=st.integers(1, 3),
    causal=st.booleans(),
    seed=seeds,
)
def test_linear_attention_equals_explicit_matrix(batch, L, S, d, ev, causal, seed):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((*batch, L, d))
    k = rng.standard_normal((*batch, S, d))
    v = rng.standard_normal((*batch, S, ev))
    out = A.linear_attention(q, k, v, causal=causal)
    a = phi(q) @ np.swapaxes(phi(k), -1, -2)  # phi from torch's elu, independent of ours
    if causal:
        a = a * np.tri(L, S)
    explicit = (a / a.sum(-1, keepdims=True)) @ v
    mag = np.abs(v).max() * 4
    assert_close(out, explicit, np.float64, reduction_length=S * d + S, magnitude=mag)
    w = A.linear_attention_weights(q, k, causal=causal)
    assert_close(w @ v, explicit, np.float64, reduction_length=S * d + S, magnitude=mag)
    assert (w >= 0).all()
    if causal:  # masked explicit version by a direct loop over prefixes
        for i in range(L):
            m = min(i, S - 1) + 1
            num = phi(q[..., i, :])[..., None, :] @ (
                np.swapaxes(phi(k[..., :m, :]), -1, -2) @ v[..., :m, :]
            )
            den = (phi(q[..., i, :]) * phi(k[..., :m, :]).sum(-2)).sum(-1)
            assert_close(
                out[..., i, :],
                num[..., 0, :] / den[..., None],
                np.float64,
                reduction_length=S * d + S,
                magnitude=mag,
            )


@pytest.mark.claim("d002.attn.q5-linear")
@given(n=st.integers(6, 16), d=st.integers(1, 4), seed=seeds)
def test_linear_attention_matrix_rank_at_most_feature_dim(n, d, seed):
    """Numerical rank with numpy's threshold sigma_max * n * eps: <= d for linear attention;
    softmax attention on the same inputs (n > d) reaches rank n here (measured)."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((n, d)) * 2, rng.standard_normal((n, d)) * 2
    w = A.linear_attention_weights(q, k)
    assert np.linalg.matrix_rank(w) <= d
    p = weights_of(q, k)
    assert np.linalg.matrix_rank(p) > d or n <= d


@pytest.mark.claim("d002.attn.q5-linear", "d002.attn.efficient-variants")
def test_linear_attention_never_forms_the_n_by_n_matrix():
    """n = 20000: n^2 = 4e8 > MAX_ELEMENTS, so SDPA (which forms the scores) and the explicit
    weight matrix are refused, while linear attention (O(n d Ev) memory) runs."""
    n, d = 20000, 2
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((n, 1))
    for causal in (False, True):
        out = A.linear_attention(q, k, v, causal=causal)
        assert out.shape == (n, 1) and np.isfinite(out).all()
    assert (out.min() >= v.min() - 1e-9) and (out.max() <= v.max() + 1e-9)
    with pytest.raises(ValueError, match="MAX_ELEMENTS"):
        A.scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match="MAX_ELEMENTS"):
        A.linear_attention_weights(q, k)


# --------------------------------------------------------------------------- sparse patterns


def sparse_loop(n, pattern, stride, window, causal):
    m = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(n):
            if causal and j > i:
                continue
            dlt = i - j
            if pattern == "full":
                ok = True
            elif pattern == "local":
                ok = abs(dlt) < window
            elif pattern == "strided":
                ok = abs(dlt) < stride or dlt % stride == 0
            else:
                ok = i // stride == j // stride or j % stride >= stride - window
            m[i, j] = ok
    return m


@pytest.mark.claim("d002.attn.q5-sparse-cost", "d002.attn.efficient-variants")
@given(
    n=st.integers(0, 40),
    pattern=st.sampled_from(A.PATTERNS),
    stride=st.integers(1, 8),
    window=st.integers(1, 8),
    causal=st.booleans(),
)
def test_sparse_mask_against_direct_loop_and_counts(n, pattern, stride, window, causal):
    window = min(window, stride) if pattern == "fixed" else window
    kw = {
        "stride": stride if pattern in ("strided", "fixed") else None,
        "window": window if pattern in ("local", "fixed") else None,
    }
    m = A.sparse_mask(n, pattern, causal=causal, **kw)
    ref = sparse_loop(n, pattern, stride, window, causal)
    assert np.array_equal(m, ref)
    count = int(m.sum())
    if pattern == "full":
        assert count == (n * (n + 1) // 2 if causal else n * n)
    if pattern == "local" and causal:
        assert count == sum(min(i + 1, window) for i in range(n))
    if pattern == "strided" and causal:  # offsets 0..l-1, then l, 2l, ... <= i
        assert count == sum(min(i + 1, stride) + i // stride for i in range(n))
    if pattern == "fixed" and causal:  # own block up to i, plus c summary keys per past block
        assert count == sum(i % stride + 1 + (i // stride) * window for i in range(n))


@pytest.mark.claim("d002.attn.q5-sparse-cost")
@pytest.mark.parametrize("n", [16, 64, 256])
def test_strided_with_sqrt_n_stride_costs_about_n_sqrt_n(n):
    """Causal strided, l = sqrt(n): each query has < 2 l keys, so at most 2 n sqrt(n) pairs,
    against n(n+1)/2 for full causal attention."""
    ell = math.isqrt(n)
    count = int(A.sparse_mask(n, "strided", stride=ell).sum())
    assert count <= 2 * n * ell
    assert count >= n * ell // 2
    assert count < n * (n + 1) // 2


@pytest.mark.claim("d002.attn.q5-sparse-expressivity")
@given(n=st.integers(2, 30), stride=st.integers(1, 6), seed=seeds)
def test_sparse_layer_zero_on_masked_pairs_two_layers_connect_all(n, stride, seed):
    m = A.sparse_mask(n, "strided", stride=stride)
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    p = weights_of(q, k, attn_mask=m)
    assert (p[~m] == 0).all()  # no mass on a masked pair, whatever q and k are
    causal_pairs = np.tri(n, dtype=bool)
    if not m[causal_pairs].all():  # one layer misses a causal pair: a target with mass there
        # (e.g. full causal uniform attention) is not reachable by this layer
        assert stride + 1 < n
    two = (m.astype(int) @ m.astype(int)) > 0  # i -> k -> j over two stacked layers
    assert np.array_equal(two, causal_pairs)
    f = A.sparse_mask(n, "fixed", stride=stride, window=1)
    two_f = (f.astype(int) @ f.astype(int)) > 0
    assert np.array_equal(two_f, causal_pairs)


@pytest.mark.claim("d002.attn.q5-sparse-expressivity")
def test_one_strided_layer_misses_pairs():
    m = A.sparse_mask(9, "strided", stride=3)
    assert not m[4, 0]  # offset 4: neither local (< 3) nor a multiple of 3
    assert int(m.sum()) < 9 * 10 // 2
