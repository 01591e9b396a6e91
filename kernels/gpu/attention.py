r"""Row softmax and its backward as Triton kernels, with the API of
:func:`kernels.cpu.attention.softmax` / :func:`kernels.cpu.attention.softmax_backward`.

.. math:: y_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},\qquad m = \max_j x_j,\qquad
          dx = y \circ \big(g - \textstyle\sum_{\text{dim}} g \circ y\big)

(the Jacobian :math:`\operatorname{diag}(y) - yy^\top`, :func:`theory.attention.softmax_jacobian`,
proved by :func:`theory.attention.derive_softmax_jacobian`). One program per row; rows of up to
``_softmax_kernels.MAX_FUSED`` columns are held whole in registers (as the Triton tutorial
02-fused-softmax and Liger-Kernel's softmax do), longer rows use the online normalizer of
Milakov & Gimelshein (2018, arXiv:1805.02867). Accumulation in float32 (float16, bfloat16,
float32) or float64 (float64); the output has the input's dtype.

Domain (as the CPU kernel; ``ValueError``/``TypeError`` naming the argument otherwise):
``input`` a float16/bfloat16/float32/float64 tensor on the kernel device, any rank, entries
finite or ``-inf`` (masked: weight exactly 0); a slice along ``dim`` whose entries are all
``-inf`` is refused naming ``input`` (torch returns NaN there); NaN and ``+inf`` are refused.
Empty tensors give empty results. ``grad_output``: ``input``'s dtype, device and shape, finite.

**Differences** (deliberate): the NaN/``+inf``/all-``-inf`` checks are fused into the kernel
(a status word per row) and raise *after* it ran, without an extra pass over memory; ``dim``
other than the innermost axis is handled by moving it last (a transposing copy in and out).
The output is contiguous whatever the input's layout; non-contiguous inputs give bit-identical
results to contiguous ones.

**Bytes that must move** (``R`` rows of ``N`` entries along ``dim``, element size ``b``):
forward :math:`2RNb` (read ``x``, write ``y``), backward :math:`3RNb` (read ``x`` and ``g``,
write ``dx``; ``y`` is recomputed, never stored). The fused path moves exactly that (plus a
4-byte status word per row); the looped path (``N > MAX_FUSED``) reads the row twice:
:math:`3RNb` forward, :math:`5RNb` backward (the second read often hits L2). ``dim`` other than
the innermost axis adds a transposing copy in and out (:math:`+4RNb` forward).

**Accuracy** (measured under the GPU rule against torch): ``<g, y>`` and the online sums are
accumulated in float64, since ``g - <g, y>`` cancels when ``g`` is near its weighted mean;
``y = e\cdot(1/s)`` with ``1/s`` divided once per row in float64 (Triton's float32 ``/`` is
``div.full.f32``, not correctly rounded), so a uniform row is exactly ``fl(1/n)``.

**Fused scaled dot-product attention** (FlashAttention-2: Dao 2023, arXiv:2307.08691,
Algorithms 1-2; Triton tutorial 06-fused-attention), with the API of
:func:`kernels.cpu.attention.scaled_dot_product_attention` and its backward:

.. math:: O = \operatorname{softmax}_{\text{row}}(\mathrm{scale}\cdot QK^\top + M)\,V,\qquad
          \mathrm{LSE}_i = \log\textstyle\sum_j e^{\mathrm{scale}\,q_i\cdot k_j + M_{ij}},

computed block by block with the online softmax, never holding the ``L x S`` scores: memory is
``O(L·E + S·E)`` per head (plus the ``L``-vectors LSE and, in the backward,
``delta = rowsum(dO ∘ O)``). The backward recomputes ``P = exp(S − LSE)`` tile by tile and uses
``dS = P ∘ (dP − delta)`` (:func:`theory.attention.derive_flash_backward`; the plain form
:func:`theory.attention.derive_sdpa_backward`). Deterministic (no atomics): reruns are bit-equal.
``lse`` is the **natural** logarithm (as the kernels compute it), float32 for
float16/bfloat16/float32 inputs and float64 for float64 inputs (float32 would cost float64 its
accuracy in the backward).

Same semantics and refusals as the CPU kernel (torch's top-left causal alignment for
``L != S``, batch dimensions broadcasting as ``torch.matmul``, ``enable_gqa`` with key/value
head ``h // rep`` read in place, no repeat copy; ``S = 0``, ``E = 0``, ``Ev = 0``, non-finite
inputs and overflowing scores refused naming the arguments). **Restrictions** (deliberate,
tested): ``attn_mask`` must be ``None`` (``ValueError`` naming it: a user mask is the CPU
kernel's; causal masking is ``is_causal``); ``dropout_p`` must be 0 (as on the CPU);
``E, Ev <= 256`` (the head is one register tile, padded to a power of two ``>= 16`` and
masked); ``L·max(E, Ev)`` and ``S·max(E, Ev)`` below :math:`2^{31}` (int32 offsets within a
head) and at most 65535 batch·heads (CUDA's second grid axis). Broadcast batch dimensions are
materialized (a copy of the smaller operand, ``O(S·E)``, never ``O(L·S)``), and their gradients
summed back in float32/float64. Finiteness is checked by one fused reduction per input and a
single host synchronization after the kernels (inputs, ``lse`` and the output together), so bad
input is refused after the launch; a score that overflows to ``-inf`` alone (``|scale·q·k| >
3.4e38`` in float32) is given weight 0 (the limit of the softmax) where the CPU kernel refuses.
The backward recomputes :math:`P = e^{S - \mathrm{LSE}}` (the difference taken before the
change of base, so near a row's maximum the error of :math:`P` does not grow with
:math:`|S|`) and :math:`dS = P\circ(dP - \delta)` with :math:`\delta = \operatorname{rowsum}
(dO\circ O)` (FlashAttention-2). Where the softmax saturates (one score above the others by
far more than 1), :math:`dP - \delta` cancels and ``dq``, ``dk`` carry an absolute error of
about :math:`u\cdot\mathrm{scale}\cdot|dO||V||K|` where the exact gradient is almost 0 —
as torch's own FlashAttention backward does (measured on the CPU,
``_scaled_dot_product_flash_attention_for_cpu_backward``, at ``scale=1e6`` on unit normal
inputs, exact gradient 0: dq 2.14 against our 2.25, dk 1.77 against our 3.25; torch's math
path cancels exactly). A non-finite gradient is refused (``ValueError`` naming
``grad_output, query, key, value and scale``).

**FLOPs** (2 per multiply-accumulate, as FlashAttention counts): forward
``4·Z·H·L·S·E`` for ``E = Ev`` (two products: ``QK^T`` and ``PV``); causal counts only the
visible pairs, ``sum_i min(i + 1, S)`` per head, which is ``L(L+1)/2`` at ``L = S``; backward
2.5 times the forward (five products: ``QK^T`` recomputed, ``dP = dO V^T``, ``dV = P^T dO``,
``dQ = dS K``, ``dK = dS^T Q``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from kernels.cpu._check import flag, real_number
from kernels.cpu.attention import _sdpa_shapes
from kernels.gpu import _backend

__all__ = [
    "flash_attention_backward",
    "flash_attention_forward",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "softmax",
    "softmax_backward",
]

_MESSAGES = {
    1: "input must hold finite numbers or -inf (masked), no NaN or +inf",
    2: (
        "input: a row of scores has every entry -inf (every key masked): softmax is undefined "
        "there (torch returns 0 or NaN); unmask at least one entry per slice along dim"
    ),
    4: "grad_output must have finite entries (no NaN or infinity)",
}


def _dim(value: object, x: torch.Tensor) -> int:
    ndim = x.ndim
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"dim must be an integer in [-{ndim}, {ndim}), got {value!r}")
    if not -ndim <= int(value) < ndim:
        raise ValueError(
            f"dim must be an integer in [-{ndim}, {ndim}) for input of shape {tuple(x.shape)}, "
            f"got {value}"
        )
    return int(value) % ndim


def _rows(t: torch.Tensor, axis: int) -> torch.Tensor:
    """``t`` with ``axis`` moved last, contiguous, as ``(R, N)``."""
    return t.movedim(axis, -1).contiguous().reshape(-1, t.shape[axis])


def _unrows(y: torch.Tensor, shape: torch.Size, axis: int) -> torch.Tensor:
    moved = (*shape[:axis], *shape[axis + 1 :], shape[axis])
    return y.reshape(moved).movedim(-1, axis).contiguous()


def _raise(flags: torch.Tensor) -> None:
    """Refuse the input whose rows the kernel flagged (one sync; bits only on the error path)."""
    if bool(flags.any()):
        for bit in (1, 2, 4):  # the CPU kernel's order: NaN/+inf before an all -inf slice
            if bool(((flags & bit) != 0).any()):
                raise ValueError(_MESSAGES[bit])


def softmax(input: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax along ``dim`` (torch's ``F.softmax``):
    :math:`y_i = e^{x_i - m}/\sum_j e^{x_j - m}`, :math:`m = \max_j x_j`.

    ``input``: float tensor of any rank (a 0-d input is one slice of one entry, as torch:
    ``dim`` in ``{-1, 0}``, result 1), entries finite or ``-inf`` (masked); see the module
    docstring for the domain and the differences from torch.
    """
    x = _backend.tensor(input, "input")
    if x.ndim == 0:
        return softmax(x.reshape(1), _dim(dim, x.reshape(1))).reshape(())
    axis = _dim(dim, x)
    if x.numel() == 0:
        return torch.zeros_like(x, memory_format=torch.contiguous_format)
    kernels = _backend.load("_softmax_kernels")
    y, flags = kernels.forward(_rows(x, axis))
    _raise(flags)
    return _unrows(y, x.shape, axis)


def softmax_backward(grad_output: torch.Tensor, input: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Gradient of :func:`softmax`: :math:`dx = y \circ (g - \sum_{\text{dim}} g \circ y)` with
    :math:`y` recomputed from ``input`` (fused: ``input`` and ``grad_output`` are read once per
    row of up to ``MAX_FUSED`` entries)."""
    x = _backend.tensor(input, "input")
    g = _backend.tensor(grad_output, "grad_output")
    if x.ndim == 0 and g.ndim == 0:
        one = softmax_backward(g.reshape(1), x.reshape(1), _dim(dim, x.reshape(1)))
        return one.reshape(())
    axis = _dim(dim, x)
    _backend.same(g, x, "grad_output", "input")
    if g.shape != x.shape:
        raise ValueError(
            f"grad_output must have the shape {tuple(x.shape)} of the forward output (set by "
            f"input), got {tuple(g.shape)}"
        )
    if x.numel() == 0:
        return torch.zeros_like(x, memory_format=torch.contiguous_format)
    kernels = _backend.load("_softmax_kernels")
    dx, flags = kernels.backward(_rows(g, axis), _rows(x, axis))
    _raise(flags)
    return _unrows(dx, x.shape, axis)


# --------------------------------------------------------------------------- fused attention

_MAX_HEAD = 256  # E, Ev: one register tile per head
_MAX_HEADS = 65535  # CUDA's limit on the second grid axis (batch·heads)


@dataclass(frozen=True)
class _Problem:
    """Checked SDPA operands flattened for the kernels."""

    q: torch.Tensor  # (ZH, L, E), contiguous
    k: torch.Tensor  # (ZK, S, E)
    v: torch.Tensor  # (ZK, S, Ev)
    rep: int  # query heads per key/value head (ZH = ZK * rep)
    out_batch: tuple[int, ...]  # batch shape of the output
    kv_batch: tuple[int, ...]  # batch shape of k/v as the kernels see them
    causal: bool
    scale: float
    inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # as given (for the checks)

    @property
    def empty(self) -> bool:
        return self.q.numel() == 0 or math.prod(self.out_batch) == 0


def _broadcast(shapes, names: str, hint: str = "") -> tuple[int, ...]:
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        raise ValueError(
            f"the batch dimensions of {names} do not broadcast: {[tuple(s) for s in shapes]} "
            f"(torch.matmul's rule){hint}"
        ) from None


def _flat(t: torch.Tensor, batch: tuple[int, ...]) -> torch.Tensor:
    """``t`` expanded to ``(*batch, rows, cols)`` as a contiguous ``(prod(batch), rows, cols)``."""
    rows, cols = t.shape[-2:]
    return t.expand(*batch, rows, cols).reshape(math.prod(batch), rows, cols).contiguous()


def _problem(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa) -> _Problem:
    """The CPU kernel's checks (:func:`kernels.cpu.attention._sdpa_args`) in its order, plus the
    fused kernel's restrictions (module docstring)."""
    q = _backend.tensor(query, "query", min_ndim=2)
    k = _backend.tensor(key, "key", min_ndim=2)
    v = _backend.tensor(value, "value", min_ndim=2)
    _backend.same(k, q, "key", "query")
    _backend.same(v, q, "value", "query")
    is_causal = flag(is_causal, "is_causal")
    enable_gqa = flag(enable_gqa, "enable_gqa")
    L, E, S, Ev, rep = _sdpa_shapes(q.shape, k.shape, v.shape, dropout_p, enable_gqa)
    if E > _MAX_HEAD:
        raise ValueError(
            f"query: the fused kernel takes head dimensions E <= {_MAX_HEAD}, got E={E} "
            "(use kernels.cpu.attention for wider heads)"
        )
    if Ev > _MAX_HEAD:
        raise ValueError(f"value: the fused kernel takes Ev <= {_MAX_HEAD}, got Ev={Ev}")
    if attn_mask is not None:
        if is_causal:
            raise ValueError(
                "attn_mask and is_causal=True were both given: pass one of them (torch errors too)"
            )
        raise ValueError(
            "attn_mask must be None for the fused kernel (a deliberate restriction: use "
            "is_causal=True for causal masking, or kernels.cpu.attention for a general mask)"
        )
    if enable_gqa:
        hq, hk = q.shape[-3], k.shape[-3]
        outer = _broadcast([q.shape[:-3], k.shape[:-3], v.shape[:-3]], "query, key and value")
        out_batch, q_batch, kv_batch = (*outer, hq), (*outer, hq), (*outer, hk)
    else:
        hint = "; enable_gqa=True repeats key/value heads (axis -3)"
        sbatch = _broadcast([q.shape[:-2], k.shape[:-2]], "query and key", hint)
        out_batch = _broadcast([sbatch, v.shape[:-2]], "query, key and value", hint)
        q_batch, kv_batch = out_batch, out_batch
    width = max(E, Ev)
    if L * width >= 2**31 or S * width >= 2**31:
        raise ValueError(
            f"query, key: L·max(E, Ev) and S·max(E, Ev) must stay below 2**31 (int32 offsets "
            f"within a head), got L={L}, S={S}, E={E}, Ev={Ev}"
        )
    if math.prod(out_batch) > _MAX_HEADS:
        raise ValueError(
            f"query: at most {_MAX_HEADS} batch·heads (CUDA's grid), got {math.prod(out_batch)}"
        )
    sc = 1.0 / math.sqrt(E) if scale is None else real_number(scale, "scale")
    return _Problem(
        _flat(q, q_batch), _flat(k, kv_batch), _flat(v, kv_batch), rep, out_batch, kv_batch,
        is_causal, sc, (q, k, v),
    )  # fmt: skip


def _prec(dtype: torch.dtype) -> str:
    """``tl.dot``'s input precision: torch's matmul switch for float32 (ieee by default)."""
    return _backend.dot_precision("matmul") if dtype == torch.float32 else "ieee"


def _lse_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _refuse(checks: list[tuple[torch.Tensor, str]]) -> None:
    """One synchronization for all checks (each a 0-d bool tensor, True = fine), in order."""
    if not checks:
        return
    ok = torch.stack([c for c, _ in checks]).tolist()
    for fine, (_, message) in zip(ok, checks, strict=True):
        if not fine:
            raise ValueError(message)


def _finite(t: torch.Tensor, name: str) -> tuple[torch.Tensor, str]:
    return torch.isfinite(t).all(), f"{name} must have finite entries (no NaN or infinity)"


def _input_checks(p: _Problem) -> list[tuple[torch.Tensor, str]]:
    return [_finite(t, n) for t, n in zip(p.inputs, ("query", "key", "value"), strict=True)]


def _overflow(out: torch.Tensor, lse: torch.Tensor) -> tuple[torch.Tensor, str]:
    fine = torch.isfinite(lse).all() & torch.isfinite(out).all()
    return fine, "query, key and scale give scores that overflow (non-finite)"


def _grads_finite(grads) -> tuple[torch.Tensor, str]:
    fine = torch.stack([torch.isfinite(t).all() for t in grads]).all()
    return fine, (
        "grad_output, query, key, value and scale give a non-finite gradient: the backward "
        "overflowed (dP = dO V^T grows with grad_output and value, dq and dk with scale and "
        "the other operand); scale them down (torch's flash backend shares this limit)"
    )


def _forward(p: _Problem) -> tuple[torch.Tensor, torch.Tensor]:
    kernels = _backend.load("_flash_kernels")
    return kernels.forward(
        p.q, p.k, p.v, p.rep, p.causal, p.scale, _prec(p.q.dtype), _backend.mode()
    )


def _shape_out(p: _Problem, o: torch.Tensor, lse: torch.Tensor):
    L, Ev = p.q.shape[1], p.v.shape[2]
    return o.reshape(*p.out_batch, L, Ev), lse.reshape(*p.out_batch, L)


def _empty(p: _Problem):
    L, Ev = p.q.shape[1], p.v.shape[2]
    dev, dt = p.q.device, p.q.dtype
    return (
        torch.zeros((*p.out_batch, L, Ev), dtype=dt, device=dev),
        torch.zeros((*p.out_batch, L), dtype=_lse_dtype(dt), device=dev),
    )


def flash_attention_forward(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(out, lse)``: :func:`scaled_dot_product_attention`'s output ``(*batch, L, Ev)`` and the
    **natural** log-sum-exp of each query's scaled scores,
    :math:`\mathrm{lse}_i = \log\sum_{j\ \text{seen}} e^{\mathrm{scale}\,q_i\cdot k_j}`, shape
    ``(*batch, L)``, float32 (float64 for float64 inputs) — what
    :func:`flash_attention_backward` needs to recompute the weights."""
    p = _problem(query, key, value, None, 0.0, is_causal, scale, enable_gqa)
    if p.empty:
        _refuse(_input_checks(p))
        return _empty(p)
    o, lse = _forward(p)
    _refuse([*_input_checks(p), _overflow(o, lse)])
    return _shape_out(p, o, lse)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> torch.Tensor:
    r"""``softmax(scale * query @ key^T) @ value`` fused (FlashAttention-2), with torch's
    signature and the CPU kernel's semantics: ``query (..., L, E)``, ``key (..., S, E)``,
    ``value (..., S, Ev)``, one float dtype, batch dimensions broadcasting; ``is_causal``:
    top-left aligned ``tril(ones(L, S))``; ``scale`` ``None`` for :math:`1/\sqrt E`;
    ``enable_gqa``: key/value heads (axis -3) divide the query heads. ``attn_mask`` must be
    None and ``dropout_p`` 0 (module docstring). Returns ``(*batch, L, Ev)``."""
    p = _problem(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if p.empty:
        _refuse(_input_checks(p))
        return _empty(p)[0]
    o, lse = _forward(p)
    _refuse([*_input_checks(p), _overflow(o, lse)])
    return _shape_out(p, o, lse)[0]


def _unbroadcast(grad: torch.Tensor, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    """``grad`` summed over the axes along which a tensor of ``shape`` was broadcast."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(dim=tuple(range(extra)))
    axes = tuple(a for a, s in enumerate(shape) if s == 1 and grad.shape[a] != 1)
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    return grad.reshape(shape).to(dtype)


def _backward(p: _Problem, g: torch.Tensor, o: torch.Tensor, lse: torch.Tensor):
    kernels = _backend.load("_flash_kernels")
    acc = _lse_dtype(p.q.dtype)
    # gradients of broadcast inputs are summed afterwards: accumulate them in float32/float64
    widened = tuple(
        acc if math.prod(flat.shape) != t.numel() else None
        for flat, t in zip((p.q, p.k, p.v), p.inputs, strict=True)
    )
    dq, dk, dv = kernels.backward(
        g, p.q, p.k, p.v, o, lse, p.rep, p.causal, p.scale, _prec(p.q.dtype), _backend.mode(),
        widened,
    )  # fmt: skip
    q, k, v = p.inputs
    L, S = p.q.shape[1], p.k.shape[1]
    return (
        _unbroadcast(dq.reshape(*p.out_batch, L, q.shape[-1]), q.shape, q.dtype),
        _unbroadcast(dk.reshape(*p.kv_batch, S, k.shape[-1]), k.shape, k.dtype),
        _unbroadcast(dv.reshape(*p.kv_batch, S, v.shape[-1]), v.shape, v.dtype),
    )


def _zeros_like_inputs(p: _Problem):
    return tuple(torch.zeros_like(t, memory_format=torch.contiguous_format) for t in p.inputs)


def _grad(grad_output: object, p: _Problem, names: str) -> torch.Tensor:
    g = _backend.tensor(grad_output, "grad_output")
    _backend.same(g, p.q, "grad_output", "query")
    want = (*p.out_batch, p.q.shape[1], p.v.shape[2])
    if tuple(g.shape) != want:
        raise ValueError(
            f"grad_output must have the shape {want} of the forward output (set by {names}), "
            f"got {tuple(g.shape)}"
        )
    return g


def scaled_dot_product_attention_backward(
    grad_output: torch.Tensor,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(grad_query, grad_key, grad_value)`` of :func:`scaled_dot_product_attention`: runs the
    fused forward for ``(out, lse)``, then the FlashAttention-2 backward (``delta =
    rowsum(dO ∘ O)``, a dK/dV kernel and a dQ kernel; :math:`dV = P^\top dO`,
    :math:`dS = P\circ(dO\,V^\top - \delta)`, :math:`dQ = \mathrm{scale}\,dS\,K`,
    :math:`dK = \mathrm{scale}\,dS^\top Q`), summed back over broadcast batch axes and, with
    ``enable_gqa``, over the query heads sharing a key/value head (in the kernel)."""
    p = _problem(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    g = _grad(grad_output, p, "query, key and value")
    checks = [*_input_checks(p), _finite(g, "grad_output")]
    if p.empty:
        _refuse(checks)
        return _zeros_like_inputs(p)
    o, lse = _forward(p)
    grads = _backward(p, _flat(g, p.out_batch), o, lse)
    _refuse([*checks, _overflow(o, lse), _grads_finite(grads)])
    return grads


def flash_attention_backward(
    grad_output: torch.Tensor,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(dq, dk, dv)`` from the saved forward results ``(out, lse)`` of
    :func:`flash_attention_forward` with the same ``query``, ``key``, ``value``, ``is_causal``,
    ``scale`` and ``enable_gqa`` (the backward kernels only: no forward is rerun). ``out``:
    the query's dtype, shape ``(*batch, L, Ev)``; ``lse``: float32 (float64 for float64
    inputs), shape ``(*batch, L)``, finite. Results for an ``out``/``lse`` that did not come
    from this forward are meaningless (not detectable cheaply)."""
    p = _problem(query, key, value, None, 0.0, is_causal, scale, enable_gqa)
    g = _grad(grad_output, p, "query, key and value")
    o = _backend.tensor(out, "out")
    _backend.same(o, p.q, "out", "query")
    want = (*p.out_batch, p.q.shape[1], p.v.shape[2])
    if tuple(o.shape) != want:
        raise ValueError(f"out must have the forward output's shape {want}, got {tuple(o.shape)}")
    m = _backend.tensor(lse, "lse")
    if m.dtype != _lse_dtype(p.q.dtype):
        raise TypeError(
            f"lse must have dtype {_lse_dtype(p.q.dtype)} (the forward's, for {p.q.dtype} "
            f"inputs), got {m.dtype}"
        )
    if tuple(m.shape) != want[:-1]:
        raise ValueError(f"lse must have shape {want[:-1]} (*batch, L), got {tuple(m.shape)}")
    checks = [
        *_input_checks(p),
        _finite(g, "grad_output"),
        _finite(o, "out"),
        _finite(m, "lse"),
    ]
    if p.empty:
        _refuse(checks)
        return _zeros_like_inputs(p)
    L = p.q.shape[1]
    grads = _backward(
        p, _flat(g, p.out_batch), _flat(o, p.out_batch),
        m.reshape(math.prod(p.out_batch), L).contiguous(),
    )  # fmt: skip
    _refuse([*checks, _grads_finite(grads)])
    return grads
