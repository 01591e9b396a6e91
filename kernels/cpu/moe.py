r"""A mixture-of-experts layer in NumPy: softmax gate, top-k routing, expert capacity, the
Switch-Transformer load-balancing loss; forward and backward.

Conventions (stated, checked against a torch autograd implementation in the tests):

* ``x`` is ``(tokens, in_features)``; ``gate_weight`` ``(num_experts, in_features)`` (a
  bias-free ``nn.Linear``); ``expert_weight`` ``(num_experts, out_features, in_features)`` and
  ``expert_bias`` ``(num_experts, out_features)``: expert :math:`i` is the affine map
  :math:`W_i x + b_i`.
* Gate: :math:`p_t = \mathrm{softmax}(W_g x_t)`; the ``k`` largest entries are chosen (ties:
  the lower expert index, as ``numpy.argsort(kind="stable")`` on :math:`-p`). Gate values are
  the chosen probabilities themselves (Switch Transformer, Fedus et al. 2021 §2.1, for
  ``k = 1``), or renormalized over the chosen ``k`` when ``normalize=True`` (Shazeer et al.
  2017 eq. 3-5 take the softmax over the top-k logits, which is the same thing).
* Capacity :math:`C = \lceil \mathrm{capacity\_factor}\cdot T k / E\rceil` (Fedus et al. 2021
  eq. 3 with :math:`k` assignments per token, as GShard, Lepikhin et al. 2020 §2.2). Slots are
  filled in priority order: all first choices in token order, then all second choices in token
  order, ... (GShard's Algorithm 1 puts the second expert after the first); an assignment that
  finds its expert full is **dropped** and contributes 0 (Switch passes such a token on through
  the residual connection, outside this layer).
* Output :math:`y_t = \sum_{\text{kept } (t,i)} g_{t,i}\,(W_i x_t + b_i)`. The routing is
  piecewise constant in the parameters; the gradient flows through the gate values (as in
  torch's autograd of the same computation).
* Load-balancing loss (Fedus et al. 2021 eq. 4-6): :math:`L = N\sum_i f_iP_i`, :math:`f_i` the
  fraction of tokens whose first choice is expert :math:`i`, :math:`P_i` the mean gate
  probability of expert :math:`i`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from kernels.cpu._check import array, flag, integer, real_number
from kernels.cpu.attention import softmax

MAX_TOKENS = 1 << 20
"""Largest token count accepted by :func:`expert_capacity` and the layer."""


def expert_capacity(tokens: int, num_experts: int, k: int, capacity_factor: float) -> int:
    r""":math:`C = \lceil \mathrm{capacity\_factor}\cdot \mathrm{tokens}\cdot k /
    \mathrm{num\_experts}\rceil` (Fedus et al. 2021 eq. 3; GShard's :math:`2N/E` is
    ``k = 2``, factor 1). ``tokens``, ``num_experts`` ≥ 1, ``1 ≤ k ≤ num_experts``,
    ``capacity_factor`` a finite real > 0. Computed exactly (the factor as a fraction).
    """
    tokens = integer(tokens, "tokens", 1)
    if tokens > MAX_TOKENS:
        raise ValueError(f"tokens must be at most {MAX_TOKENS}, got {tokens}")
    num_experts = integer(num_experts, "num_experts", 1)
    if num_experts > MAX_TOKENS:
        raise ValueError(f"num_experts must be at most {MAX_TOKENS}, got {num_experts}")
    k = integer(k, "k", 1)
    if k > num_experts:
        raise ValueError(f"k must be in [1, num_experts={num_experts}], got {k}")
    cf = real_number(capacity_factor, "capacity_factor")
    if not 0 < cf <= 1e6:
        raise ValueError(f"capacity_factor must be in (0, 1e6], got {capacity_factor!r}")
    from fractions import Fraction

    return math.ceil(Fraction(cf) * tokens * k / num_experts)


def route(probs: np.ndarray, k: int, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Top-``k`` routing with a capacity: returns ``(index, keep)``, both ``(tokens, k)``:
    ``index[t, j]`` the expert of token ``t``'s ``j``-th choice, ``keep[t, j]`` whether it
    found a free slot (priority: choice rank, then token order; see the module docstring).
    ``probs`` a ``(tokens, num_experts)`` float array of finite values; ``capacity`` an
    integer ≥ 0. The number dropped is :math:`\sum_i \max(0, n_i - C)` with :math:`n_i` the
    assignments to expert :math:`i` (tested)."""
    probs = array(probs, "probs", 2)
    if not np.isfinite(probs).all():
        raise ValueError("probs must be finite")
    k = integer(k, "k", 1)
    if k > probs.shape[1]:
        raise ValueError(
            f"k must be in [1, num_experts = probs.shape[1] = {probs.shape[1]}], got {k}"
        )
    capacity = integer(capacity, "capacity", 0)
    index = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    keep = np.zeros(index.shape, dtype=bool)
    load = np.zeros(probs.shape[1], dtype=np.int64)
    for j in range(k):
        for t in range(index.shape[0]):
            e = index[t, j]
            if load[e] < capacity:
                load[e] += 1
                keep[t, j] = True
    return index, keep


def _operands(x, gate_weight, expert_weight, expert_bias):
    x = array(x, "x", 2)
    gate_weight = array(gate_weight, "gate_weight", 2, x.dtype, like="x")
    expert_weight = array(expert_weight, "expert_weight", 3, x.dtype, like="x")
    expert_bias = array(expert_bias, "expert_bias", 2, x.dtype, like="x")
    e, d = gate_weight.shape
    if d != x.shape[1]:
        raise ValueError(
            f"gate_weight must have shape (num_experts, {x.shape[1]}), got {gate_weight.shape}"
        )
    if expert_weight.shape[0] != e or expert_weight.shape[2] != d:
        raise ValueError(
            f"expert_weight must have shape ({e}, out_features, {d}), got {expert_weight.shape}"
        )
    if expert_bias.shape != expert_weight.shape[:2]:
        raise ValueError(
            f"expert_bias must have shape {expert_weight.shape[:2]}, got {expert_bias.shape}"
        )
    if x.shape[0] > MAX_TOKENS or x.size * e * expert_weight.shape[1] > 1 << 26:
        raise ValueError("x: too large for the reference kernel (tokens*in*experts*out > 2**26)")
    for name, a in (("x", x), ("gate_weight", gate_weight), ("expert_weight", expert_weight),
                    ("expert_bias", expert_bias)):  # fmt: skip
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite")
    return x, gate_weight, expert_weight, expert_bias


def moe_forward(
    x: np.ndarray,
    gate_weight: np.ndarray,
    expert_weight: np.ndarray,
    expert_bias: np.ndarray,
    k: int = 1,
    capacity_factor: float = 1.0,
    normalize: bool = False,
) -> tuple[np.ndarray, dict]:
    r"""Forward pass of the MoE layer (module docstring): returns ``(y, cache)``; ``y`` is
    ``(tokens, out_features)``, ``cache`` holds ``probs``, ``index``, ``keep``, ``capacity``,
    ``aux_loss`` (the load-balancing loss :math:`N\sum_i f_iP_i`) and what
    :func:`moe_backward` needs."""
    x, gate_weight, expert_weight, expert_bias = _operands(
        x, gate_weight, expert_weight, expert_bias
    )
    normalize = flag(normalize, "normalize")
    e = gate_weight.shape[0]
    k = integer(k, "k", 1)
    if k > e:
        raise ValueError(f"k must be in [1, num_experts = gate_weight.shape[0] = {e}], got {k}")
    cap = expert_capacity(x.shape[0], e, k, capacity_factor)
    probs = softmax(x @ gate_weight.T, dim=-1)
    index, keep = route(probs, k, cap)
    chosen = np.take_along_axis(probs, index, axis=1)
    denom = chosen.sum(axis=1, keepdims=True) if normalize else np.ones((x.shape[0], 1), x.dtype)
    gates = chosen / denom
    expert_out = np.einsum("eod,td->teo", expert_weight, x) + expert_bias[None]  # (T, E, O)
    sel = np.take_along_axis(expert_out, index[:, :, None], axis=1)  # (T, k, O)
    y = np.einsum("tk,tko->to", gates * keep, sel)
    cache = dict(x=x, gate_weight=gate_weight, expert_weight=expert_weight, probs=probs,
                 index=index, keep=keep, capacity=cap, gates=gates, chosen=chosen,
                 denom=denom, sel=sel, normalize=normalize,
                 aux_loss=load_balancing_loss(probs, index[:, 0]))  # fmt: skip
    return y, cache


def moe_backward(grad_out: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
    r"""Gradients of :math:`\sum y\odot` ``grad_out`` with respect to ``x``, ``gate_weight``,
    ``expert_weight``, ``expert_bias`` (routing held fixed, as autograd does), from the
    ``cache`` of :func:`moe_forward`."""
    if not isinstance(cache, dict) or "sel" not in cache:
        raise TypeError("cache must be the dict returned by moe_forward")
    x, wg, we = cache["x"], cache["gate_weight"], cache["expert_weight"]
    grad_out = array(grad_out, "grad_out", 2, x.dtype, like="x")
    if grad_out.shape != (x.shape[0], we.shape[1]):
        raise ValueError(
            f"grad_out must have shape {(x.shape[0], we.shape[1])}, got {grad_out.shape}"
        )
    index, keep, probs = cache["index"], cache["keep"], cache["probs"]
    gk = cache["gates"] * keep  # (T, k)
    t_idx = np.arange(x.shape[0])
    g_we = np.zeros_like(we)
    g_be = np.zeros(we.shape[:2], dtype=x.dtype)
    g_x = np.zeros_like(x)
    for j in range(index.shape[1]):
        coef = gk[:, j][:, None] * grad_out  # (T, O): grad wrt the expert output
        np.add.at(g_be, index[:, j], coef)
        np.add.at(g_we, index[:, j], coef[:, :, None] * x[:, None, :])
        g_x += np.einsum("to,tod->td", coef, we[index[:, j]])
    # through the gates: d/d gate_{t,j} = keep * <grad_out, sel>
    g_gate = keep * np.einsum("to,tko->tk", grad_out, cache["sel"])
    chosen, denom = cache["chosen"], cache["denom"]
    if cache["normalize"]:
        g_chosen = g_gate / denom - (g_gate * chosen).sum(1, keepdims=True) / denom**2
    else:
        g_chosen = g_gate
    g_probs = np.zeros_like(probs)
    np.put_along_axis(g_probs, index, g_chosen, axis=1)
    g_logits = probs * (g_probs - (g_probs * probs).sum(1, keepdims=True))
    g_wg = g_logits.T @ x
    g_x += g_logits @ wg
    _ = t_idx
    return dict(x=g_x, gate_weight=g_wg, expert_weight=g_we, expert_bias=g_be)


def load_balancing_loss(probs: np.ndarray, expert_index: np.ndarray) -> float:
    r"""Switch Transformer's auxiliary loss :math:`N\sum_{i=1}^N f_iP_i` (Fedus et al. 2021
    eq. 4-6, without the factor :math:`\alpha`): ``probs`` ``(tokens, N)`` rows of gate
    probabilities, ``expert_index`` ``(tokens,)`` integers in ``[0, N)`` (each token's
    dispatched expert). :math:`f_i` = fraction dispatched to :math:`i`, :math:`P_i` = mean of
    column :math:`i`."""
    probs = array(probs, "probs", 2)
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("probs must be finite and >= 0")
    if type(expert_index) is not np.ndarray or not np.issubdtype(expert_index.dtype, np.integer):
        raise TypeError("expert_index must be an integer numpy.ndarray")
    if expert_index.shape != probs.shape[:1]:
        raise ValueError(
            f"expert_index must have shape {probs.shape[:1]}, got {expert_index.shape}"
        )
    n = probs.shape[1]
    if ((expert_index < 0) | (expert_index >= n)).any():
        raise ValueError(
            f"expert_index must hold integers in [0, {n}) (n = probs.shape[1], the experts)"
        )
    f = np.bincount(expert_index.astype(np.int64), minlength=n) / probs.shape[0]
    p = probs.mean(axis=0)
    return float(n * np.dot(f, p))


_ = numbers


def cond_conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    routing_weight: np.ndarray,
    routing_bias: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Conditionally parameterized convolution (CondConv, Yang et al. 2019, eq. 1-2): per
    example :math:`n`, mixing weights :math:`\alpha_n = \sigma(R\,\mathrm{GAP}(x_n) + r)`
    (``routing_weight`` :math:`R` of shape ``(E, C_in)``, ``routing_bias`` :math:`r` of shape
    ``(E,)``; GAP the mean over the spatial axes), then **one** convolution with the combined
    kernel :math:`\sum_e \alpha_{n,e}W_e` (``weight`` ``(E, C_out, C_in, kH, kW)``, torch's
    ``conv2d`` layout, no bias, ``stride``/``padding`` as torch). ``x`` ``(N, C_in, H, W)``.
    Returns ``(y, alpha)``. By linearity this equals :math:`\sum_e\alpha_{n,e}(W_e\star x_n)`
    (:func:`theory.moe.derive_condconv_linear`; tested against torch). Forward only."""
    from kernels.cpu.conv2d import conv2d_direct

    x = array(x, "x", 4)
    weight = array(weight, "weight", 5, x.dtype, like="x")
    routing_weight = array(routing_weight, "routing_weight", 2, x.dtype, like="x")
    routing_bias = array(routing_bias, "routing_bias", 1, x.dtype, like="x")
    e = weight.shape[0]
    if weight.shape[2] != x.shape[1]:
        raise ValueError(
            f"weight must have shape (E, C_out, {x.shape[1]}, kH, kW), got {weight.shape}"
        )
    if routing_weight.shape != (e, x.shape[1]):
        raise ValueError(
            f"routing_weight must have shape ({e}, {x.shape[1]}), got {routing_weight.shape}"
        )
    if routing_bias.shape != (e,):
        raise ValueError(f"routing_bias must have shape ({e},), got {routing_bias.shape}")
    if x.size * weight.size > 1 << 26:
        raise ValueError("x: too large for the reference kernel (x.size * weight.size > 2**26)")
    for name, a in (("x", x), ("weight", weight), ("routing_weight", routing_weight),
                    ("routing_bias", routing_bias)):  # fmt: skip
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite")
    z = x.mean(axis=(2, 3)) @ routing_weight.T + routing_bias
    alpha = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic sigmoid, without overflow
    ys = [
        conv2d_direct(x[n : n + 1], np.tensordot(alpha[n], weight, axes=1), None, stride, padding)
        for n in range(x.shape[0])
    ]
    return np.concatenate(ys, axis=0), alpha
