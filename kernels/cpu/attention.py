r"""Attention and positional encodings in NumPy, forward and hand-written backward, with torch's
names and conventions (a float32/float64 reference; float64 for checks).

**Scaled dot-product attention** (Vaswani et al. 2017, "Attention Is All You Need", eq. 1;
torch's ``F.scaled_dot_product_attention``). Rows are tokens; for query ``(..., L, E)``, key
``(..., S, E)`` and value ``(..., S, Ev)``

.. math:: S = \mathrm{scale}\cdot QK^\top + M,\qquad P = \operatorname{softmax}_{\text{row}}(S),
          \qquad O = PV,\qquad \mathrm{scale} = 1/\sqrt{E}\ \text{by default}

with :math:`M` the additive mask (0 / :math:`-\infty` for a bool mask, whose ``True`` entries
*take part*). Backward (:math:`dO` given; the softmax Jacobian is
:math:`\operatorname{diag}(p) - pp^\top` per row):

.. math:: dV = P^\top dO,\quad dP = dO\,V^\top,\quad
          dS = P \circ \big(dP - \operatorname{rowsum}(dP\circ P)\big),\quad
          dQ = \mathrm{scale}\; dS\,K,\quad dK = \mathrm{scale}\; dS^\top Q.

Batch dimensions broadcast as in ``torch.matmul`` (the gradient of a broadcast input is summed
back to its shape); ``enable_gqa`` repeats key/value heads (axis -3) with ``repeat_interleave``
as torch does, and their gradients are summed over the repeats.

``is_causal=True`` uses torch's **top-left aligned** mask ``tril(ones(L, S))``: query ``i``
sees keys ``0..min(i, S-1)``. For ``L < S`` the last ``S - L`` keys are seen by no query (unlike
the bottom-right alignment of e.g. flash-attn, where query ``i`` sees keys ``0..i + S - L``);
for ``L > S`` queries ``i >= S`` see every key. No row is fully masked by ``is_causal``.

**Differences from torch** (each tested in ``tests/test_attention_kernels.py``):

* a query row whose every key is masked (an all-``False`` bool row, an all ``-inf`` float row,
  a fully padded ``key_padding_mask`` row): torch 2.13's SDPA returns a row of **zeros** there
  (its "safe softmax"), ``MultiheadAttention`` returns **NaN**; we raise ``ValueError`` naming
  the mask (a zero row is no weighted average of the values: softmax is undefined there);
* ``S = 0`` (no keys): torch returns zeros; we raise ``ValueError`` naming ``key``. ``L = 0``
  and empty batch dimensions give empty outputs, as in torch, but of the broadcast shape
  ``(*batch(q, k, v), L, Ev)`` as for ``L > 0``, where torch 2.13 returns
  ``(*query.shape[:-1], Ev)`` for an empty query (its batch dims not broadcast with key/value).
  ``E = 0`` and ``Ev = 0`` are refused (naming ``query``/``key``/``value``);
* ``dropout_p`` must be 0 (dropout is another topic): ``ValueError`` otherwise;
* non-finite inputs, a float mask with ``+inf``/NaN, and scores that overflow are refused
  (``ValueError`` naming the arguments) instead of propagating NaN;
* ``attn_mask`` with ``is_causal``: ``ValueError`` (torch raises ``RuntimeError``); a mask that
  does not broadcast to the score shape ``(..., L, S)`` (without enlarging it, as torch
  requires): ``ValueError`` naming ``attn_mask``.

Found on the way (torch 2.13, CPU): its flash-attention backend (chosen for 4-D inputs)
returns NaN with ``is_causal=True`` and a negative ``scale`` in every row that has a masked
key; its math backend and this kernel agree there.

**Multi-head attention** (Vaswani et al. 2017 §3.2.2; torch's ``nn.MultiheadAttention`` /
``F.multi_head_attention_forward``), sequence-first ``(L, N, E)`` or unbatched ``(L, E)``:
see :func:`multi_head_attention` for the weight mapping.

**Positional encodings**: sinusoidal (Vaswani et al. 2017 §3.5), learned (a table added to the
input), relative scores as 000 writes them and in Transformer-XL's form (Dai et al. 2019,
"Transformer-XL", §3.3; relative positions: Shaw et al. 2018).

**Variants**: linear attention (Katharopoulos et al. 2020, "Transformers are RNNs", eqs. 4-6,
feature map elu + 1) in :math:`O(n)` order, and the sparse patterns of Child et al. 2019
("Generating Long Sequences with Sparse Transformers", §4.2-4.3) as boolean masks.

Every buffer is bounded by ``kernels.cpu._check.MAX_ELEMENTS`` (:math:`2^{27}` elements);
a larger request is refused with ``ValueError`` before any work.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from kernels.cpu._check import (
    FLOAT_DTYPES,
    bounded,
    flag,
    integer,
    is_array,
    not_array,
    real_number,
)
from numerics.opcount import counted_matmul

__all__ = [
    "learned_positional_encoding",
    "learned_positional_encoding_backward",
    "linear_attention",
    "linear_attention_weights",
    "multi_head_attention",
    "multi_head_attention_backward",
    "relative_scores",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "sinusoidal_encoding",
    "softmax",
    "softmax_backward",
    "sparse_mask",
    "transformer_xl_scores",
]

# --------------------------------------------------------------------------- argument checks


def _float_array(value: object, name: str, min_ndim: int, dtype=None, like: str = "query"):
    """A plain float32/float64 ndarray of ndim >= ``min_ndim`` with finite entries."""
    if not is_array(value):
        raise not_array(value, name)
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(
            f"{name} must have the dtype of {like} ({dtype}), got {value.dtype}: mismatched "
            f"dtypes between {like} and {name}"
        )
    if value.ndim < min_ndim:
        raise ValueError(f"{name} must have ndim >= {min_ndim}, got shape {value.shape}")
    bounded(value.size, "the array", name)
    if not np.isfinite(value).all():
        raise ValueError(f"{name} must have finite entries (no NaN or infinity)")
    return value


def _dim(value: object, ndim: int, name: str = "dim") -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [-{ndim}, {ndim}), got {value!r}")
    if not -ndim <= int(value) < ndim:
        raise ValueError(f"{name} must be an integer in [-{ndim}, {ndim}), got {value}")
    return int(value) % ndim


def _scale(scale: object, e: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(e)
    return real_number(scale, "scale")


def _batch(shapes: list[tuple[int, ...]], names: str, hint: str = "") -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(
            f"the batch dimensions of {names} do not broadcast: {shapes} (torch.matmul's "
            f"rule){hint}"
        ) from None


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which an array of ``shape`` was broadcast."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _grad_like(grad: object, shape: tuple[int, ...], dtype, names: str):
    """``grad_output`` of the forward output's shape and dtype (``names``: the arguments
    that set that shape, named in the error)."""
    g = _float_array(grad, "grad_output", 0, dtype, "the forward output")
    if g.shape != shape:
        raise ValueError(
            f"grad_output must have the shape {shape} of the forward output (set by {names}), "
            f"got {g.shape}"
        )
    return g


# --------------------------------------------------------------------------- softmax


def _softmax(x: np.ndarray, axis: int, name: str) -> np.ndarray:
    """Row softmax of scores that may hold ``-inf`` (masked), never a fully masked row."""
    if x.shape[axis] == 0 or x.size == 0:
        return np.zeros_like(x)
    m = x.max(axis=axis, keepdims=True)
    if not np.isfinite(m).all():
        raise ValueError(
            f"{name}: a row of scores has every entry -inf (every key masked): softmax is "
            "undefined there (torch returns 0 or NaN); unmask at least one key per query"
        )
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def softmax(input: np.ndarray, dim: int = -1) -> np.ndarray:
    r"""Numerically stable softmax along ``dim`` (torch's ``F.softmax``):
    :math:`y_i = e^{x_i - m}/\sum_j e^{x_j - m}`, :math:`m = \max_j x_j` (the shift changes
    nothing mathematically and keeps every exponent :math:`\le 0`).

    ``input``: float32/float64 of any rank (a 0-d input is one slice of one entry, as torch:
    ``dim`` in ``{-1, 0}``, result 1); entries finite or ``-inf`` (a masked entry, weight 0);
    a slice whose entries are all ``-inf`` is refused (``ValueError`` naming ``input``: torch
    returns NaN). Empty arrays give empty results.
    """
    if not is_array(input):
        raise not_array(input, "input")
    if input.dtype not in FLOAT_DTYPES:
        raise TypeError(f"input must have dtype float32 or float64, got {input.dtype}")
    if input.ndim == 0:  # one slice of one entry (torch: dim in {-1, 0}, result 1)
        return softmax(input.reshape(1), _dim(dim, 1)).reshape(())
    axis = _dim(dim, input.ndim)
    bounded(input.size, "the array", "input")
    if np.isnan(input).any() or (input == np.inf).any():
        raise ValueError("input must hold finite numbers or -inf (masked), no NaN or +inf")
    return _softmax(input, axis, "input")


def softmax_backward(grad_output: np.ndarray, input: np.ndarray, dim: int = -1) -> np.ndarray:
    r"""Gradient of :func:`softmax`: :math:`dx = y \circ (g - \sum_{\text{dim}} g \circ y)`
    (the Jacobian :math:`\operatorname{diag}(y) - yy^\top` applied to ``grad_output``)."""
    y = softmax(input, dim)
    g = _grad_like(grad_output, input.shape, input.dtype, "input")
    axis = _dim(dim, max(input.ndim, 1))
    return y * (g - (g * y).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------- SDPA


def _sdpa_shapes(qshape, kshape, vshape, dropout_p, enable_gqa: bool):
    """The checks of scaled dot-product attention that need only the shapes (shared with
    :mod:`kernels.gpu.attention`, so the messages cannot drift): ``(L, E, S, Ev, rep)`` with
    ``rep`` the query heads per key/value head (1 without ``enable_gqa``)."""
    if real_number(dropout_p, "dropout_p") != 0.0:
        raise ValueError(
            f"dropout_p must be 0.0 here (dropout is another issue's kernel), got {dropout_p!r}"
        )
    qshape, kshape, vshape = tuple(qshape), tuple(kshape), tuple(vshape)
    L, E = qshape[-2:]
    S, Ek = kshape[-2:]
    Sv, Ev = vshape[-2:]
    if E == 0 or Ek == 0:
        raise ValueError(f"query and key need an embedding dimension E >= 1, got {qshape}")
    if Ek != E:
        raise ValueError(f"key must have the query's last dimension E={E}, got {kshape}")
    if S == 0:
        raise ValueError("key must have at least one position (S >= 1): no key to attend to")
    if Sv != S:
        raise ValueError(f"value must have the key's length S={S}, got shape {vshape}")
    if Ev == 0:
        raise ValueError(f"value must have a last dimension Ev >= 1, got {vshape}")
    if not enable_gqa:
        return L, E, S, Ev, 1
    if len(qshape) < 3 or len(kshape) < 3 or len(vshape) < 3:
        raise ValueError("enable_gqa needs query, key and value with a head axis (-3): ndim >= 3")
    hq, hk, hv = qshape[-3], kshape[-3], vshape[-3]
    if hk != hv or hk == 0 or hq % hk:
        raise ValueError(
            f"enable_gqa: key and value heads ({hk}, {hv}) must be equal and divide the "
            f"query heads ({hq})"
        )
    return L, E, S, Ev, hq // hk


def _sdpa_args(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """Checked operands: (q, k_rep, v_rep, additive mask or None, scale, info)."""
    q = _float_array(query, "query", 2)
    k = _float_array(key, "key", 2, q.dtype)
    v = _float_array(value, "value", 2, q.dtype)
    is_causal = flag(is_causal, "is_causal")
    enable_gqa = flag(enable_gqa, "enable_gqa")
    L, E, S, Ev, rep = _sdpa_shapes(q.shape, k.shape, v.shape, dropout_p, enable_gqa)
    kr, vr = k, v
    if enable_gqa:
        kr = np.repeat(k, rep, axis=-3)
        vr = np.repeat(v, rep, axis=-3)
    hint = "" if enable_gqa else "; enable_gqa=True repeats key/value heads (axis -3)"
    sbatch = _batch([q.shape[:-2], kr.shape[:-2]], "query and key", hint)
    obatch = _batch([sbatch, vr.shape[:-2]], "query, key and value", hint)
    n_scores = math.prod(sbatch) * L * S
    bounded(n_scores, "the score matrix", "query, key")
    bounded(math.prod(obatch) * L * Ev, "the output", "query, value")
    sc = _scale(scale, E)
    mask = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError(
                "attn_mask and is_causal=True were both given: pass one of them (torch errors too)"
            )
        if not is_array(attn_mask):
            raise not_array(attn_mask, "attn_mask", "None or a bool/float numpy.ndarray")
        if attn_mask.dtype == np.bool_:
            mask = np.where(attn_mask, 0.0, -np.inf).astype(q.dtype)
        elif attn_mask.dtype == q.dtype:
            if np.isnan(attn_mask).any() or (attn_mask == np.inf).any():
                raise ValueError("attn_mask (float) must hold finite numbers or -inf")
            mask = attn_mask
        else:
            raise TypeError(
                f"attn_mask must have dtype bool or the query's dtype {q.dtype}, got "
                f"{attn_mask.dtype}"
            )
        target = (*sbatch, L, S)
        try:
            ok = np.broadcast_shapes(attn_mask.shape, target) == target
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"attn_mask of shape {attn_mask.shape} does not broadcast to the score shape "
                f"{target} (..., L, S) of query and key"
            )
    elif is_causal:
        mask = np.where(np.tri(L, S, dtype=bool), 0.0, -np.inf).astype(q.dtype)
    return q, k, v, kr, vr, mask, sc


def _sdpa_probs(q, kr, mask, sc, mask_name: str):
    with np.errstate(over="ignore", invalid="ignore"):
        s = sc * counted_matmul(q, np.swapaxes(kr, -1, -2))
    if not np.isfinite(s).all():
        raise ValueError("query, key and scale give scores that overflow (non-finite)")
    if mask is not None:
        s = s + mask
    return _softmax(s, -1, mask_name)


def _finite_out(o: np.ndarray, names: str) -> np.ndarray:
    if not np.isfinite(o).all():
        raise ValueError(f"{names}: the output overflows (non-finite)")
    return o


def scaled_dot_product_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    attn_mask: np.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> np.ndarray:
    r"""``softmax(scale * query @ key^T + mask) @ value`` with torch's signature and semantics.

    Parameters
    ----------
    query, key, value:
        ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``, one float dtype (else
        ``TypeError`` naming them), batch dimensions broadcasting as in ``torch.matmul``.
        ``L = 0`` and empty batches give an empty output; ``S = 0`` is refused (torch returns
        zeros).
    attn_mask:
        ``None``, a bool array (``True`` = the key takes part) or a float array of the query's
        dtype added to the scores (``-inf`` allowed), broadcastable to the score shape
        ``(..., L, S)``. Every query must keep at least one key (else ``ValueError`` naming
        ``attn_mask``; torch returns a zero row).
    dropout_p:
        must be 0.
    is_causal:
        torch's top-left aligned causal mask ``tril(ones(L, S))`` (query ``i`` sees keys
        ``j <= i``); not together with ``attn_mask``.
    scale:
        ``None`` for :math:`1/\sqrt{E}`, or any finite real number.
    enable_gqa:
        grouped-query attention: key/value heads (axis -3) divide the query heads and are
        repeated with ``repeat_interleave``.

    Returns ``(*batch, L, Ev)``.
    """
    q, _k, _v, kr, vr, mask, sc = _sdpa_args(
        query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa
    )
    p = _sdpa_probs(q, kr, mask, sc, "is_causal" if is_causal else "attn_mask")
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_out(counted_matmul(p, vr), "value")


def scaled_dot_product_attention_backward(
    grad_output: np.ndarray,
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    attn_mask: np.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(grad_query, grad_key, grad_value)`` of :func:`scaled_dot_product_attention`:
    :math:`dV = P^\top dO`, :math:`dS = P\circ(dO V^\top - \operatorname{rowsum}(dO V^\top
    \circ P))`, :math:`dQ = \mathrm{scale}\,dS K`, :math:`dK = \mathrm{scale}\,dS^\top Q`,
    each summed back over broadcast batch axes (and over repeated heads with ``enable_gqa``).
    No gradient for ``attn_mask`` (a constant)."""
    q, k, v, kr, vr, mask, sc = _sdpa_args(
        query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa
    )
    p = _sdpa_probs(q, kr, mask, sc, "is_causal" if is_causal else "attn_mask")
    out_shape = (*np.broadcast_shapes(p.shape[:-2], vr.shape[:-2]), q.shape[-2], v.shape[-1])
    g = _grad_like(grad_output, out_shape, q.dtype, "query, key and value")
    pb = np.broadcast_to(p, out_shape[:-2] + p.shape[-2:])
    dv = np.swapaxes(pb, -1, -2) @ g
    dp = g @ np.swapaxes(vr, -1, -2)
    ds = pb * (dp - (dp * pb).sum(axis=-1, keepdims=True))
    ds = _unbroadcast(ds, p.shape)  # the scores' own batch shape (query ⊗ key)
    dq = sc * (ds @ kr)
    dk = sc * (np.swapaxes(ds, -1, -2) @ q)
    dq = _unbroadcast(dq, q.shape)
    dk = _unbroadcast(dk, kr.shape)
    dv = _unbroadcast(dv, vr.shape)
    if enable_gqa:
        rep = q.shape[-3] // k.shape[-3]
        dk = dk.reshape(*dk.shape[:-3], k.shape[-3], rep, *dk.shape[-2:]).sum(axis=-3)
        dv = dv.reshape(*dv.shape[:-3], v.shape[-3], rep, *dv.shape[-2:]).sum(axis=-3)
    return dq, dk, dv


# --------------------------------------------------------------------------- multi-head


def _opt_array(value, name, shape, dtype, why="E from query"):
    if value is None:
        return None
    a = _float_array(value, name, 0, dtype)
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} ({why}), got {a.shape}")
    return a


def _mha_forward(
    query,
    key,
    value,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    out_proj_weight,
    out_proj_bias,
    key_padding_mask,
    need_weights,
    attn_mask,
    average_attn_weights,
    is_causal,
    bias_k,
    bias_v,
    add_zero_attn,
    q_proj_weight,
    k_proj_weight,
    v_proj_weight,
):
    """The forward with everything the backward needs (a dict)."""
    q0 = _float_array(query, "query", 2)
    if q0.ndim not in (2, 3):
        raise ValueError(f"query must be (L, N, E) or unbatched (L, E), got {q0.shape}")
    k0 = _float_array(key, "key", 2, q0.dtype)
    v0 = _float_array(value, "value", 2, q0.dtype)
    batched = q0.ndim == 3
    if k0.ndim != q0.ndim or v0.ndim != q0.ndim:
        raise ValueError(
            f"query, key and value must all be batched (3-D) or all unbatched (2-D), got "
            f"{q0.shape}, {k0.shape}, {v0.shape}"
        )
    if not batched:
        q0, k0, v0 = q0[:, None], k0[:, None], v0[:, None]
    L, N, E = q0.shape
    S = k0.shape[0]
    h = integer(num_heads, "num_heads", 1)
    if E == 0 or E % h:
        raise ValueError(f"num_heads={h} must divide embed_dim={E} (the query's last dimension)")
    hd = E // h
    if k0.shape[1] != N or v0.shape[1] != N:
        raise ValueError(f"key and value must have the query's batch size N={N}")
    if v0.shape[0] != S:
        raise ValueError(f"value must have the key's length S={S}, got {v0.shape}")
    if S == 0 and bias_k is None and not add_zero_attn:
        raise ValueError("key must have at least one position (S >= 1): no key to attend to")
    if k0.shape[2] == 0 or v0.shape[2] == 0:
        raise ValueError("key and value need a feature dimension >= 1")
    dt = q0.dtype
    need_weights = flag(need_weights, "need_weights")
    average_attn_weights = flag(average_attn_weights, "average_attn_weights")
    is_causal = flag(is_causal, "is_causal")
    add_zero_attn = flag(add_zero_attn, "add_zero_attn")
    if in_proj_weight is not None:
        for nm, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight)):
            if w is not None:
                raise ValueError(f"{nm} must be None when in_proj_weight is given")
        if v_proj_weight is not None:
            raise ValueError("v_proj_weight must be None when in_proj_weight is given")
        w_in = _opt_array(in_proj_weight, "in_proj_weight", (3 * E, E), dt)
        if k0.shape[2] != E or v0.shape[2] != E:
            raise ValueError(
                f"key and value must have embed_dim={E} features with a packed in_proj_weight "
                f"(else pass q/k/v_proj_weight), got {k0.shape[2]}, {v0.shape[2]}"
            )
        wq, wk, wv = w_in[:E], w_in[E : 2 * E], w_in[2 * E :]
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(
                "in_proj_weight is None: q_proj_weight, k_proj_weight and v_proj_weight are "
                "all needed"
            )
        wq = _opt_array(q_proj_weight, "q_proj_weight", (E, E), dt)
        wk = _opt_array(k_proj_weight, "k_proj_weight", (E, k0.shape[2]), dt, "E, kdim from key")
        wv = _opt_array(v_proj_weight, "v_proj_weight", (E, v0.shape[2]), dt, "E, vdim from value")
    b_in = _opt_array(in_proj_bias, "in_proj_bias", (3 * E,), dt)
    w_out = _opt_array(out_proj_weight, "out_proj_weight", (E, E), dt)
    if w_out is None:
        raise TypeError("out_proj_weight must be a numpy.ndarray of shape (E, E), got None")
    b_out = _opt_array(out_proj_bias, "out_proj_bias", (E,), dt)
    if (bias_k is None) != (bias_v is None):
        raise ValueError("bias_k and bias_v must be given together (or both None)")
    bk = _opt_array(bias_k, "bias_k", (1, 1, E), dt)
    bv = _opt_array(bias_v, "bias_v", (1, 1, E), dt)
    bounded(N * h * L * (S + 2), "the attention weights", "query, key")
    # masks -> one additive float mask of shape (N*h or 1, L, S)
    add = None
    if attn_mask is not None:
        if not is_array(attn_mask):
            raise not_array(attn_mask, "attn_mask", "None or a bool/float numpy.ndarray")
        if attn_mask.dtype != np.bool_ and attn_mask.dtype != dt:
            raise TypeError(f"attn_mask must have dtype bool or {dt}, got {attn_mask.dtype}")
        want3 = (N * h, L, S) if batched else (h, L, S)
        if attn_mask.shape == (L, S):
            am = attn_mask[None]
        elif attn_mask.shape == want3:
            am = attn_mask
        else:
            raise ValueError(
                f"attn_mask must have shape (L, S) = {(L, S)} or {want3}, got {attn_mask.shape}"
            )
        if am.dtype == np.bool_:
            add = np.where(am, -np.inf, 0.0).astype(dt)  # torch MHA: True = NOT allowed
        else:
            if np.isnan(am).any() or (am == np.inf).any():
                raise ValueError("attn_mask (float) must hold finite numbers or -inf")
            add = am.astype(dt)
    elif is_causal:
        raise ValueError("is_causal=True needs attn_mask (in torch it is only a hint)")
    if key_padding_mask is not None:
        if not is_array(key_padding_mask):
            raise not_array(key_padding_mask, "key_padding_mask", "None or a numpy.ndarray")
        want = (N, S) if batched else (S,)
        if key_padding_mask.shape != want:
            raise ValueError(
                f"key_padding_mask must have shape {want}, got {key_padding_mask.shape}"
            )
        kpm = key_padding_mask.reshape(N, S)
        if kpm.dtype == np.bool_:
            kpm = np.where(kpm, -np.inf, 0.0).astype(dt)
        elif kpm.dtype == dt:
            if np.isnan(kpm).any() or (kpm == np.inf).any():
                raise ValueError("key_padding_mask (float) must hold finite numbers or -inf")
        else:
            raise TypeError(
                f"key_padding_mask must have dtype bool or {dt}, got {key_padding_mask.dtype}"
            )
        kpm = np.repeat(kpm, h, axis=0)[:, None, :]  # (N*h, 1, S), index n*h + head
        add = kpm if add is None else add + kpm
    # projections (torch's F.linear: x @ W^T + b)
    bq = bkk = bvv = None
    if b_in is not None:
        bq, bkk, bvv = b_in[:E], b_in[E : 2 * E], b_in[2 * E :]
    qp = counted_matmul(q0, wq.T) + (0 if bq is None else bq)
    kp = counted_matmul(k0, wk.T) + (0 if bkk is None else bkk)
    vp = counted_matmul(v0, wv.T) + (0 if bvv is None else bvv)
    if bk is not None:
        kp = np.concatenate([kp, np.broadcast_to(bk, (1, N, E))], axis=0)
        vp = np.concatenate([vp, np.broadcast_to(bv, (1, N, E))], axis=0)
        if add is not None:
            add = np.concatenate([add, np.zeros((*add.shape[:-1], 1), dt)], axis=-1)
    # heads: (L, N, E) -> (N*h, L, hd), index n*h + head, head i = features i*hd:(i+1)*hd
    qh = qp.reshape(L, N * h, hd).transpose(1, 0, 2)
    kh = kp.reshape(kp.shape[0], N * h, hd).transpose(1, 0, 2)
    vh = vp.reshape(vp.shape[0], N * h, hd).transpose(1, 0, 2)
    if add_zero_attn:
        kh = np.concatenate([kh, np.zeros((N * h, 1, hd), dt)], axis=1)
        vh = np.concatenate([vh, np.zeros((N * h, 1, hd), dt)], axis=1)
        if add is not None:
            add = np.concatenate([add, np.zeros((*add.shape[:-1], 1), dt)], axis=-1)
    mask_name = "key_padding_mask or attn_mask"
    sc = 1.0 / math.sqrt(hd)
    p = _sdpa_probs(qh, kh, add, sc, mask_name)
    oh = counted_matmul(p, vh)  # (N*h, L, hd)
    concat = oh.transpose(1, 0, 2).reshape(L, N, E)
    out = counted_matmul(concat, w_out.T) + (0 if b_out is None else b_out)
    out = _finite_out(out, "query, key, value and the weights")
    weights = None
    if need_weights:
        weights = p.reshape(N, h, L, p.shape[-1])
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            weights = weights[0]
    if not batched:
        out = out[:, 0]
    return {
        "out": out,
        "weights": weights,
        "batched": batched,
        "shape": (L, N, E, S, h, hd),
        "inputs": (q0, k0, v0),
        "w": (wq, wk, wv, w_out),
        "packed": in_proj_weight is not None,
        "has_in_bias": b_in is not None,
        "has_out_bias": b_out is not None,
        "bias_kv": bk is not None,
        "zero_attn": add_zero_attn,
        "heads": (qh, kh, vh, p, concat, add, sc),
    }


def multi_head_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    num_heads: int,
    in_proj_weight: np.ndarray | None,
    in_proj_bias: np.ndarray | None,
    out_proj_weight: np.ndarray,
    out_proj_bias: np.ndarray | None,
    key_padding_mask: np.ndarray | None = None,
    need_weights: bool = True,
    attn_mask: np.ndarray | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    bias_k: np.ndarray | None = None,
    bias_v: np.ndarray | None = None,
    add_zero_attn: bool = False,
    q_proj_weight: np.ndarray | None = None,
    k_proj_weight: np.ndarray | None = None,
    v_proj_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""The computation of torch's ``F.multi_head_attention_forward`` (``nn.MultiheadAttention``)
    in sequence-first layout: returns ``(attn_output, attn_weights or None)``.

    .. math:: \mathrm{head}_i = \operatorname{softmax}\Big(\frac{(QW_i^Q)(KW_i^K)^\top}
              {\sqrt{d_k}} + M\Big) VW_i^V,\qquad
              \operatorname{MultiHead} = \operatorname{Concat}(\mathrm{head}_1..\mathrm{head}_h)
              W^O + b^O

    with :math:`d_k = E/h` (``num_heads`` must divide ``E``, else ``ValueError`` naming
    ``num_heads``). **Weight mapping** (torch computes ``x @ W.T + b``): rows
    ``[0:E]`` of ``in_proj_weight`` are :math:`W^{Q\top}` (the stacked :math:`W_i^Q`, head ``i``
    = rows ``i*E/h:(i+1)*E/h``, i.e. :math:`W_i^Q` = ``in_proj_weight[i*dk:(i+1)*dk].T``), rows
    ``[E:2E]`` :math:`W^{K\top}`, rows ``[2E:3E]`` :math:`W^{V\top}`; ``in_proj_bias`` the same
    slices; ``out_proj_weight`` :math:`= W^{O\top}`. With ``in_proj_weight=None``,
    ``q_proj_weight (E, E)``, ``k_proj_weight (E, kdim)``, ``v_proj_weight (E, vdim)`` are used
    (key/value feature sizes kdim/vdim may differ from ``E``).

    Shapes: query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)``, or unbatched
    ``(L, E)``, ``(S, kdim)``, ``(S, vdim)``. ``key_padding_mask`` ``(N, S)`` (unbatched
    ``(S,)``), bool with ``True`` = **ignore** that key, or float added; ``attn_mask``
    ``(L, S)`` or ``(N*num_heads, L, S)`` (index ``n*num_heads + head``), bool with ``True`` =
    **not allowed** (the opposite of SDPA's bool mask, as in torch) or float added.
    ``bias_k``/``bias_v`` ``(1, 1, E)`` append one key/value position (masks padded with a
    zero column), ``add_zero_attn`` appends a zero key/value per head. Weights: ``(N, L, S')``
    averaged over heads, or ``(N, h, L, S')`` (unbatched without ``N``), ``S'`` counting the
    appended positions.

    Dropped from torch: ``dropout_p``/``training`` (no dropout), ``static_k``/``static_v``,
    ``embed_dim_to_check`` (read from ``query``), ``use_separate_proj_weight`` (implied by
    ``in_proj_weight is None``). ``is_causal`` is a hint in torch that ``attn_mask`` is causal
    and needs ``attn_mask``; we always apply ``attn_mask`` itself. A query all of whose keys
    are masked raises ``ValueError`` naming the masks (torch returns NaN there).
    """
    r = _mha_forward(
        query,
        key,
        value,
        num_heads,
        in_proj_weight,
        in_proj_bias,
        out_proj_weight,
        out_proj_bias,
        key_padding_mask,
        need_weights,
        attn_mask,
        average_attn_weights,
        is_causal,
        bias_k,
        bias_v,
        add_zero_attn,
        q_proj_weight,
        k_proj_weight,
        v_proj_weight,
    )
    return r["out"], r["weights"]


def multi_head_attention_backward(
    grad_output: np.ndarray,
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    num_heads: int,
    in_proj_weight: np.ndarray | None,
    in_proj_bias: np.ndarray | None,
    out_proj_weight: np.ndarray,
    out_proj_bias: np.ndarray | None,
    key_padding_mask: np.ndarray | None = None,
    need_weights: bool = True,
    attn_mask: np.ndarray | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    bias_k: np.ndarray | None = None,
    bias_v: np.ndarray | None = None,
    add_zero_attn: bool = False,
    q_proj_weight: np.ndarray | None = None,
    k_proj_weight: np.ndarray | None = None,
    v_proj_weight: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    r"""Gradients of :math:`\langle` ``grad_output``, ``attn_output`` :math:`\rangle` (the
    weights output is not differentiated) with respect to every array argument of
    :func:`multi_head_attention`, by hand: out-projection
    (:math:`d\,\mathrm{concat} = G W_{out}`, :math:`dW_{out} = G^\top \mathrm{concat}`,
    :math:`db_{out} = \sum G`), per head the SDPA backward (see the module docstring), then
    the in-projections. Keys: ``query, key, value, in_proj_weight, in_proj_bias,
    out_proj_weight, out_proj_bias, bias_k, bias_v, q_proj_weight, k_proj_weight,
    v_proj_weight`` (``None`` where the argument is ``None``).
    """
    r = _mha_forward(
        query,
        key,
        value,
        num_heads,
        in_proj_weight,
        in_proj_bias,
        out_proj_weight,
        out_proj_bias,
        key_padding_mask,
        need_weights,
        attn_mask,
        average_attn_weights,
        is_causal,
        bias_k,
        bias_v,
        add_zero_attn,
        q_proj_weight,
        k_proj_weight,
        v_proj_weight,
    )
    g = _grad_like(grad_output, r["out"].shape, r["out"].dtype, "query")
    L, N, E, _S, h, hd = r["shape"]
    q0, k0, v0 = r["inputs"]
    wq, wk, wv, w_out = r["w"]
    qh, kh, vh, p, concat, _, sc = r["heads"]
    g3 = g if r["batched"] else g[:, None]
    g2 = g3.reshape(L * N, E)
    d_out_w = g2.T @ concat.reshape(L * N, E)
    d_out_b = g2.sum(axis=0) if r["has_out_bias"] else None
    dconcat = (g2 @ w_out).reshape(L, N, E)
    doh = dconcat.reshape(L, N * h, hd).transpose(1, 0, 2)
    dvh = np.swapaxes(p, -1, -2) @ doh
    dp = doh @ np.swapaxes(vh, -1, -2)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    dqh = sc * (ds @ kh)
    dkh = sc * (np.swapaxes(ds, -1, -2) @ qh)
    if r["zero_attn"]:
        dkh, dvh = dkh[:, :-1], dvh[:, :-1]
    dqp = dqh.transpose(1, 0, 2).reshape(L, N, E)
    dkp = dkh.transpose(1, 0, 2).reshape(-1, N, E)
    dvp = dvh.transpose(1, 0, 2).reshape(-1, N, E)
    d_bias_k = d_bias_v = None
    if r["bias_kv"]:
        d_bias_k = dkp[-1].sum(axis=0).reshape(1, 1, E)
        d_bias_v = dvp[-1].sum(axis=0).reshape(1, 1, E)
        dkp, dvp = dkp[:-1], dvp[:-1]
    dq0, dk0, dv0 = dqp @ wq, dkp @ wk, dvp @ wv

    def wgrad(d, x):
        return d.reshape(-1, E).T @ x.reshape(-1, x.shape[-1])

    dwq, dwk, dwv = wgrad(dqp, q0), wgrad(dkp, k0), wgrad(dvp, v0)
    d_in_b = None
    if r["has_in_bias"]:
        d_in_b = np.concatenate([d.reshape(-1, E).sum(axis=0) for d in (dqp, dkp, dvp)])
    if not r["batched"]:
        dq0, dk0, dv0 = dq0[:, 0], dk0[:, 0], dv0[:, 0]
    packed = r["packed"]
    return {
        "query": dq0,
        "key": dk0,
        "value": dv0,
        "in_proj_weight": np.concatenate([dwq, dwk, dwv]) if packed else None,
        "in_proj_bias": d_in_b,
        "out_proj_weight": d_out_w,
        "out_proj_bias": d_out_b,
        "bias_k": d_bias_k,
        "bias_v": d_bias_v,
        "q_proj_weight": None if packed else dwq,
        "k_proj_weight": None if packed else dwk,
        "v_proj_weight": None if packed else dwv,
    }


# --------------------------------------------------------------------------- positions


def sinusoidal_encoding(
    num_positions: int, embedding_dim: int, base: float = 10000.0
) -> np.ndarray:
    r"""The sinusoidal table of Vaswani et al. 2017 §3.5, float64 ``(num_positions,
    embedding_dim)``:

    .. math:: PE_{pos,2i} = \sin(pos/\mathrm{base}^{2i/d}),\qquad
              PE_{pos,2i+1} = \cos(pos/\mathrm{base}^{2i/d})

    for positions ``0..num_positions-1`` (``num_positions = 0`` gives an empty table). An odd
    ``embedding_dim`` is allowed (its last column is a sine, so the row norm is not
    constant). ``base`` > 0 finite. Bounded by ``MAX_ELEMENTS``.
    """
    n = integer(num_positions, "num_positions", 0)
    d = integer(embedding_dim, "embedding_dim", 1)
    b = real_number(base, "base")
    if b <= 0:
        raise ValueError(f"base must be a finite real number > 0, got {base!r}")
    bounded(max(n * d, d), "the table", "num_positions, embedding_dim")
    pos = np.arange(n, dtype=np.float64)[:, None]
    two_i = np.arange(0, d, 2, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        angle = pos * b ** (-two_i / d)
    if not np.isfinite(angle).all():
        raise ValueError(f"base={base!r} is so small that the angles overflow; use base >= 1")
    pe = np.empty((n, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d // 2])
    return pe


def _learned_args(input, weight):
    x = _float_array(input, "input", 2)
    w = _float_array(weight, "weight", 2, x.dtype, "input")
    if w.ndim != 2:
        raise ValueError(f"weight must be a 2-D table (max_len, d), got shape {w.shape}")
    L, d = x.shape[-2:]
    if w.shape[1] != d:
        raise ValueError(f"weight must have input's embedding size {d} columns, got {w.shape}")
    if L > w.shape[0]:
        raise ValueError(
            f"input has {L} positions but weight holds vectors for only {w.shape[0]}: the "
            "table has no vector for the positions beyond it"
        )
    return x, w, L


def learned_positional_encoding(input: np.ndarray, weight: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{input}_i + p_i` with a learned table ``weight`` ``(max_len, d)``: input
    ``(..., L, d)`` gets ``weight[:L]`` added (broadcast over the batch dims), as
    ``x + nn.Parameter(...)[:L]`` in torch. ``L > max_len`` raises ``ValueError`` naming
    ``input``; ``L = 0`` gives an empty output."""
    x, w, L = _learned_args(input, weight)
    return x + w[:L]


def learned_positional_encoding_backward(
    grad_output: np.ndarray, input: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(grad_input, grad_weight)``: ``grad_input = grad_output``; ``grad_weight[:L]`` is
    ``grad_output`` summed over the batch dims, rows ``>= L`` are zero."""
    x, w, L = _learned_args(input, weight)
    g = _grad_like(grad_output, x.shape, x.dtype, "input")
    gw = np.zeros_like(w)
    gw[:L] = g.sum(axis=tuple(range(g.ndim - 2)))
    return g.copy(), gw


def _relative_args(query, key, rel, vectors, scale):
    q = _float_array(query, "query", 2)
    k = _float_array(key, "key", 2, q.dtype)
    L, d = q.shape[-2:]
    S = k.shape[-2]
    if k.shape[-1] != d:
        raise ValueError(f"key must have query's last dimension d_k={d}, got {k.shape}")
    if S == 0 or d == 0:
        raise ValueError(f"key must have S >= 1 positions and d_k >= 1, got {k.shape}")
    batch = _batch([q.shape[:-2], k.shape[:-2]], "query and key")
    r = _float_array(rel, "rel", 2, q.dtype)
    if r.shape != (L + S - 1, d):
        raise ValueError(
            f"rel must have shape (L + S - 1, d_k) = {(L + S - 1, d)} for query (L={L}) and "
            f"key (S={S}) (one vector per offset i - j in [-(S-1), L-1], row m + S - 1), got "
            f"{r.shape}"
        )
    vs = []
    for name, vec in vectors:
        a = _float_array(vec, name, 1, q.dtype)
        if a.shape != (d,):
            raise ValueError(f"{name} must have shape (d_k,) = {(d,)}, got {a.shape}")
        vs.append(a)
    bounded(math.prod(batch) * L * (L + S), "the scores", "query, key")
    sc = _scale(scale, d)
    # offset index m = i - j + S - 1 into rel, for every (i, j)
    idx = np.arange(L)[:, None] - np.arange(S)[None, :] + S - 1
    return q, k, r, vs, sc, idx, batch


def _gather(qr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``out[..., i, j] = qr[..., i, idx[i, j]]``."""
    full = np.broadcast_to(idx, (*qr.shape[:-1], idx.shape[1]))
    return np.take_along_axis(qr, full, axis=-1)


def _rel_scores(q, k, r, u, v, sc, idx):
    content = q @ np.swapaxes(k, -1, -2)
    position = _gather(q @ r.T, idx)
    bias_content = (k @ u)[..., None, :]
    bias_position = (r @ v)[idx]
    with np.errstate(over="ignore", invalid="ignore"):
        e = sc * (content + position + bias_content + bias_position)
    if not np.isfinite(e).all():
        raise ValueError("query, key, rel and scale give scores that overflow")
    return e


def relative_scores(
    query: np.ndarray,
    key: np.ndarray,
    rel: np.ndarray,
    u: np.ndarray,
    scale: float | None = None,
) -> np.ndarray:
    r"""The relative-position score as 000 writes it (Shaw et al. 2018; Dai et al. 2019 with
    one shared bias vector):

    .. math:: e_{ij} = \big[q_i\cdot k_j + q_i\cdot r_{i-j} + u\cdot k_j + u\cdot r_{i-j}\big]
              \cdot\mathrm{scale} = (q_i + u)\cdot(k_j + r_{i-j})\cdot\mathrm{scale}

    with ``query`` ``(..., L, d_k)`` (:math:`q_i = x_iW^Q`), ``key`` ``(..., S, d_k)``
    (:math:`k_j = x_jW^K`), ``rel`` ``(L + S - 1, d_k)`` holding :math:`r_m` for the offsets
    :math:`m = i - j \in [-(S-1), L-1]` at row :math:`m + S - 1`, ``u`` ``(d_k,)``, ``scale``
    default :math:`1/\sqrt{d_k}`. Leading batch dims of query/key broadcast. Returns
    ``(..., L, S)``.
    """
    q, k, r, (uu,), sc, idx, _ = _relative_args(query, key, rel, [("u", u)], scale)
    return _rel_scores(q, k, r, uu, uu, sc, idx)


def transformer_xl_scores(
    query: np.ndarray,
    key: np.ndarray,
    rel: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    scale: float | None = None,
) -> np.ndarray:
    r"""Transformer-XL's relative score (Dai et al. 2019 §3.3, terms (a)-(d)) with separate
    learned vectors :math:`u` (content bias) and :math:`v` (position bias):
    :math:`e_{ij} = [q_i\cdot k_j + q_i\cdot r_{i-j} + u\cdot k_j + v\cdot r_{i-j}]\cdot
    \mathrm{scale}`, ``rel`` already projected by :math:`W_{k,R}`; same shapes as
    :func:`relative_scores`, which is the case ``v = u``. For ``u != v`` it does not factor
    as :math:`(q_i + u)\cdot(k_j + r_{i-j})`."""
    q, k, r, (uu, vv), sc, idx, _ = _relative_args(query, key, rel, [("u", u), ("v", v)], scale)
    return _rel_scores(q, k, r, uu, vv, sc, idx)


# --------------------------------------------------------------------------- variants


def _feature_map(feature_map: object):
    if not isinstance(feature_map, str):
        raise TypeError(f"feature_map must be the string 'elu+1', got {type(feature_map).__name__}")
    if feature_map != "elu+1":
        raise ValueError(f"feature_map must be 'elu+1' (Katharopoulos et al.), got {feature_map!r}")

    def phi(x):
        return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))  # elu(x) + 1 > 0

    return phi


def _linear_args(query, key, value, feature_map, causal):
    q = _float_array(query, "query", 2)
    k = _float_array(key, "key", 2, q.dtype)
    v = None if value is None else _float_array(value, "value", 2, q.dtype)
    phi = _feature_map(feature_map)
    causal = flag(causal, "causal")
    _L, d = q.shape[-2:]
    S = k.shape[-2]
    if k.shape[-1] != d or d == 0:
        raise ValueError(f"key must have query's last dimension d={d} >= 1, got {k.shape}")
    if S == 0:
        raise ValueError("key must have at least one position (S >= 1)")
    if v is not None and (v.shape[-2] != S or v.shape[-1] == 0):
        raise ValueError(f"value must have the key's length S={S} and Ev >= 1, got {v.shape}")
    names = "query, key" if v is None else "query, key and value"
    shapes = [q.shape[:-2], k.shape[:-2]] + ([] if v is None else [v.shape[:-2]])
    batch = _batch(shapes, names)
    return q, k, v, phi, causal, batch


def _normalized(num: np.ndarray, den: np.ndarray, names: str) -> np.ndarray:
    """``num / den`` where the feature-map normalizer is > 0 and the result finite."""
    if not (den > 0).all() or not np.isfinite(den).all():
        raise ValueError(
            f"{names}: the normalizer phi(q).sum_j phi(k_j) under- or overflows (entries "
            "beyond about -700 or 1e150)"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_out(num / den, names)


def linear_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    feature_map: str = "elu+1",
    causal: bool = False,
) -> np.ndarray:
    r"""Linear attention (Katharopoulos et al. 2020, eqs. 5-6), :math:`\phi(x) = \mathrm{elu}(x)
    + 1`:

    .. math:: o_i = \frac{\phi(q_i)^\top \sum_j \phi(k_j) v_j^\top}{\phi(q_i)^\top \sum_j
              \phi(k_j)}

    computed in the :math:`O(n)` order (the ``(d, Ev)`` sum first; the ``L x S`` matrix is
    never formed). ``causal``: :math:`j \le i` (top-left, as torch's ``is_causal``), by prefix
    sums, a ``(S, d, Ev)`` buffer. Shapes as in :func:`scaled_dot_product_attention`.
    """
    if not is_array(value):
        raise not_array(value, "value")
    q, k, v, phi, causal, batch = _linear_args(query, key, value, feature_map, causal)
    L, d, S, ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
    fq, fk = phi(q), phi(k)
    if not causal:
        bounded(math.prod(batch) * (d * ev + L * ev), "the sums", "query, key, value")
        kv = counted_matmul(np.swapaxes(fk, -1, -2), v)  # (..., d, Ev)
        z = fk.sum(axis=-2)  # (..., d)
        num = counted_matmul(fq, kv)
        den = counted_matmul(fq, z[..., :, None])  # (..., L, 1)
        return _normalized(num, den, "query, key and value")
    bounded(math.prod(batch) * S * d * ev, "the prefix sums", "query, key, value")
    kv = np.cumsum(fk[..., :, :, None] * v[..., :, None, :], axis=-3)  # (..., S, d, Ev)
    z = np.cumsum(fk, axis=-2)  # (..., S, d)
    last = np.minimum(np.arange(L), S - 1)  # query i sees keys 0..min(i, S-1)
    num = np.einsum("...ld,...lde->...le", fq, kv[..., last, :, :])
    den = np.einsum("...ld,...ld->...l", fq, z[..., last, :])
    return _normalized(num, den[..., None], "query, key and value")


def linear_attention_weights(
    query: np.ndarray, key: np.ndarray, feature_map: str = "elu+1", causal: bool = False
) -> np.ndarray:
    r"""The implicit ``(..., L, S)`` matrix of :func:`linear_attention`,
    :math:`D^{-1}\phi(Q)\phi(K)^\top` (masked by ``tril(ones(L, S))`` when ``causal``), row
    stochastic; without the mask its rank is at most the feature dimension ``d``."""
    q, k, _, phi, causal, batch = _linear_args(query, key, None, feature_map, causal)
    L, S = q.shape[-2], k.shape[-2]
    bounded(math.prod(batch) * L * S, "the weight matrix", "query, key")
    a = phi(q) @ np.swapaxes(phi(k), -1, -2)
    if causal:
        a = a * np.tri(L, S)
    return _normalized(a, a.sum(axis=-1, keepdims=True), "query and key")


PATTERNS = ("full", "local", "strided", "fixed")


def _opt_count(value, name, needed: bool, pattern: str):
    if not needed:
        if value is not None:
            raise ValueError(f"{name} must be None for pattern={pattern!r}, got {value!r}")
        return None
    if value is None:
        raise ValueError(f"{name} must be an integer >= 1 for pattern={pattern!r}, got None")
    return integer(value, name, 1)


def sparse_mask(
    length: int,
    pattern: str,
    *,
    stride: int | None = None,
    window: int | None = None,
    causal: bool = True,
) -> np.ndarray:
    r"""Boolean ``(length, length)`` attention pattern, ``True`` = query ``i`` attends to key
    ``j`` (SDPA's bool-mask convention). Patterns (Child et al. 2019 §4.2-4.3), with
    :math:`\delta = i - j`:

    * ``"full"``: every pair (causal: :math:`\delta \ge 0`);
    * ``"local"`` (``window`` :math:`w`): :math:`|\delta| < w` (causal :math:`0 \le \delta < w`);
    * ``"strided"`` (``stride`` :math:`l`): :math:`|\delta| < l` or :math:`\delta \equiv 0
      \pmod l` (causal: :math:`\delta \ge 0` too) — the union of Child et al.'s two heads
      :math:`A^{(1)}, A^{(2)}`;
    * ``"fixed"`` (``stride`` :math:`l`, ``window`` :math:`c \le l`): the same block
      :math:`\lfloor j/l\rfloor = \lfloor i/l\rfloor`, or :math:`j \bmod l \ge l - c` (one of the
      last :math:`c` positions of its block) (causal: :math:`j \le i` too).

    ``stride``/``window`` must be ``None`` for the patterns that do not use them. ``length``
    >= 0 (0 gives an empty mask); bounded by ``MAX_ELEMENTS``.
    """
    n = integer(length, "length", 0)
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be one of {PATTERNS}, got {type(pattern).__name__}")
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    causal = flag(causal, "causal")
    s = _opt_count(stride, "stride", pattern in ("strided", "fixed"), pattern)
    w = _opt_count(window, "window", pattern in ("local", "fixed"), pattern)
    if pattern == "fixed" and w > s:
        raise ValueError(f"window (c) must be <= stride (l) for 'fixed', got {w} > {s}")
    bounded(n * n, "the mask", "length")
    # a stride or window beyond the length selects the same pairs as one equal to it (every
    # |i - j| < n; for 'fixed' a single block): clip so huge ints never reach NumPy
    top = max(n, 1)
    s = None if s is None else min(s, top)
    w = None if w is None else min(w, top if s is None else s)
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    delta = i - j
    if pattern == "full":
        m = np.ones((n, n), dtype=bool)
    elif pattern == "local":
        m = np.abs(delta) < w
    elif pattern == "strided":
        m = (np.abs(delta) < s) | (delta % s == 0)
    else:
        m = (i // s == j // s) | (j % s >= s - w)
    if causal:
        m = m & (delta >= 0)
    return m
