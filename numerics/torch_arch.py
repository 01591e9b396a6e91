r"""A ``torch.nn.Module`` from a layer spec, and counts taken from a module's own layers.

* :func:`to_module` builds the network a :class:`theory.arch.Spec` describes (integer
  hyper-parameters only): one torch layer per spec node, replayed in order by :class:`SpecNet`.
  Inputs carry a batch axis: ``(N, C, H, W)``, ``(N, L)`` token ids or ``(N, L, d)``.
* :func:`count_module` counts any module independently of a spec, through two views at
  once (the pattern of ``torch.utils.flop_counter.FlopCounterMode``, torch 2.13, read in
  ``torch/utils/flop_counter.py``): forward pre-hooks and hooks on every submodule keep a
  stack of module paths, and a ``TorchDispatchMode`` sees every aten op.

  - *Counted leaves* (``Conv2d``, ``ConvTranspose2d``, ``Linear``, ``BatchNorm2d``,
    ``LayerNorm``, the activations of :data:`theory.arch.ACTIVATIONS`, ``MaxPool2d``,
    ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``MultiheadAttention`` used directly (cross
    attention: L queries, S keys), ``Embedding``, ``RNN``/``LSTM``/``GRU``) give their
    :data:`theory.arch.TERMS` by formula from their shapes (:mod:`theory.conv`,
    :mod:`theory.linear`, :func:`~theory.arch.recurrent_cost`, :mod:`theory.pooling`),
    whatever kernel torch picks (MHA fast path, oneDNN LSTM); aten ops run inside one are
    not counted again.
  - *Every other aten op* (functional code) is classified from its name and shapes:
    ``add``/``sub`` → ``add.elements``, or ``table_add.elements`` + ``table_add.params``
    when an operand is a parameter (ViT's position table); ``mul``/``div`` →
    ``scale.elements`` (gating); ``cat`` is free, but a parameter concatenated (ViT's class
    token) gives ``cls_token.params``; ``convolution`` (2-D) → ``conv.*`` or
    ``conv_transpose.*``; ``mm``/``bmm``/``addmm`` with a parameter operand →
    ``linear.*`` (``addmm``'s bias → ``linear.bias``), between two activations →
    ``attention.matmul_macs``; softmax → ``attention.softmax``; activations → ``act.<kind>``
    (``hardtanh`` only as ReLU6); ``native_layer_norm``/``native_batch_norm`` → norm terms;
    pooling ops and a mean over both spatial axes → pool terms (the mean as an adaptive
    pool to 1×1); ``F.scaled_dot_product_attention`` is caught once by a
    ``TorchFunctionMode`` and counted by formula (:math:`LS(E+E_v)` MACs, :math:`LS`
    softmax entries per batch and head), whether torch runs the fused CPU op
    ``_scaled_dot_product_flash_attention_for_cpu`` or, on ``meta``, the math path (scaling,
    ``bmm``, ``_safe_softmax``, ``bmm``). Views, copies, indexing, creation and dropout are
    free; arithmetic on integer tensors is index bookkeeping (free). Any other arithmetic
    op is a ``ValueError`` naming the op and the module it ran in, never a silent zero; a
    parameter used by an op with no parameter term (``x * gamma``) likewise.
  - Parameters held directly by a container and used functionally are counted once, at
    their first use (``params_by_formula``); a reused leaf's parameters count once too.
  - ``backward=True`` runs the forward with grad enabled and records, per layer, whether
    its input and its parameters require a gradient, then applies
    :meth:`theory.arch.Spec.count`'s rule (a MAC term: 1 + [trainable weights] + [input
    grad]; attention matmuls 3, functional SDPA 1 + 2 [input grad]; others 1 + [input grad]
    + [trainable parameters]). The MHA fast path is switched off while counting.
* :func:`flop_counter_flops` is what ``torch.utils.flop_counter.FlopCounterMode`` measures.

What ``FlopCounterMode`` sees of recurrent layers (measured, torch 2.13 on CPU):
``nn.RNN`` and ``nn.GRU`` run as ``mm``/``addmm`` calls and are counted exactly, 2 FLOPs per
MAC of :func:`~theory.arch.recurrent_cost` (biases, gates and elementwise products not
counted). A float32 ``nn.LSTM`` on CPU runs as one fused ``aten.mkldnn_rnn_layer`` call
(oneDNN), for which FlopCounterMode has no formula: it reports **0 FLOPs**. In float64,
with ``torch.backends.mkldnn.flags(enabled=False)`` or on the ``meta`` device the LSTM
decomposes into matmuls and is counted exactly again. :func:`count_module` does not depend
on this: its recurrent counts come from the weight shapes and the input's length.

``FlopCounterMode`` over forward and ``backward()`` (measured on ``meta``, torch 2.13) equals
``count_module(..., Convention(unit="FLOP", backward=True))`` on every reference network
except for grouped convolutions: its ``conv_backward_flop`` ignores ``groups`` in the weight
gradient and is over by exactly :math:`\sum 2(G-1)\,\text{MACs}` over the grouped convs
(MobileNetV2, EfficientNet-B0; ``tests/test_count_module.py``).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from theory.arch import (
    CATEGORIES,
    TERM_CATEGORIES,
    TERMS,
    TORCHVISION_OPS,
    WEIGHT_MAC_TERMS,
    Convention,
    CounterConvention,
    Spec,
    recurrent_cost,
    recurrent_params,
)
from theory.conv import conv_macs, conv_params
from theory.linear import linear_params
from theory.pooling import adaptive_read_count

__all__ = ["SpecNet", "count_module", "flop_counter_flops", "to_module"]

MAX_PARAMS = 2**30
"""Most parameters :func:`to_module` allocates off the ``meta`` device (4 GiB of float32);
on ``meta`` any size torch can index is fine."""


def _int(value: object, name: str) -> int:
    """A Python or NumPy integer >= 1 (bools refused) as an int."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _alloc(elements: int, name: str) -> None:
    """Refuse a parameter of more than MAX_PARAMS elements off the meta device."""
    if elements >= 2**62 or (elements > MAX_PARAMS and torch.empty(0).device.type != "meta"):
        raise ValueError(
            f"{name}: {elements} parameters, more than MAX_PARAMS = {MAX_PARAMS} (or torch's "
            "int64 range on the meta device)"
        )


def _tokens(x: object, d: int, like: torch.Tensor, name: str = "x") -> torch.Tensor:
    """A floating ``(N, L, d)`` tensor on the device of the module's parameter ``like``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, L, {d}), got {type(x).__name__}"
        )
    if not x.is_floating_point() or x.dim() != 3 or x.shape[-1] != d:
        raise ValueError(
            f"{name} must be a floating tensor of shape (N, L, {d}), got {x.dtype} {tuple(x.shape)}"
        )
    if x.device != like.device:
        raise ValueError(f"{name} must be on the module's device {like.device}, got {x.device}")
    return x


_ACTS = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "gelu": nn.GELU, "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "hardswish": nn.Hardswish,
}  # fmt: skip


class ClsToken(nn.Module):
    """Prepends a learned token to ``(N, L, d)``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        d = _int(d, "d")
        _alloc(d, "d")
        self.token = nn.Parameter(torch.zeros(1, 1, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, L, d)`` to ``(N, L+1, d)``."""
        x = _tokens(x, self.token.shape[-1], self.token)
        return torch.cat([self.token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)


class TableAdd(nn.Module):
    """Adds rows of a learned table: row i to token i, or row 0 to every token."""

    def __init__(self, rows: int, d: int, index: str) -> None:
        super().__init__()
        rows, d = _int(rows, "rows"), _int(d, "d")
        if not isinstance(index, str):
            raise TypeError(f"index must be 'position' or 'zero', got {index!r}")
        if index not in ("position", "zero"):
            raise ValueError(f"index must be 'position' or 'zero', got {index!r}")
        _alloc(rows * d, "rows * d")
        self.table = nn.Parameter(torch.zeros(rows, d))
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + table[:L]`` (``position``, needs L <= rows) or ``x + table[0]``."""
        rows, d = self.table.shape
        x = _tokens(x, d, self.table)
        if self.index == "position" and x.shape[1] > rows:
            raise ValueError(f"x has {x.shape[1]} tokens, more than the table's {rows} rows")
        table = self.table[: x.shape[1]] if self.index == "position" else self.table[:1]
        return x + table


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention`` used as self-attention on ``(N, L, d)``."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        d, heads = _int(d, "d"), _int(heads, "heads")
        if d % heads:
            raise ValueError(f"heads must divide d: d={d} is not a multiple of heads={heads}")
        _alloc(4 * d * d + 4 * d, "d")
        self.mha = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention of ``x`` ``(N, L, d)`` with itself (same shape out)."""
        x = _tokens(x, self.mha.embed_dim, self.mha.in_proj_weight)
        if x.dtype != self.mha.in_proj_weight.dtype:
            raise TypeError(
                f"x must have the module's dtype {self.mha.in_proj_weight.dtype}, got {x.dtype}"
            )
        return self.mha(x, x, x, need_weights=False)[0]


def _module(node) -> nn.Module | None:
    a = node.attrs
    if node.op == "conv":
        return nn.Conv2d(
            a["in_channels"], a["out_channels"], a["kernel_size"], a["stride"], a["padding"],
            a["dilation"], a["groups"], a["bias"],
        )  # fmt: skip
    if node.op == "conv_transpose":
        return nn.ConvTranspose2d(
            a["in_channels"], a["out_channels"], a["kernel_size"], a["stride"], a["padding"],
            a["output_padding"], a["groups"], a["bias"], a["dilation"],
        )  # fmt: skip
    if node.op == "linear":
        return nn.Linear(a["in_features"], a["out_features"], a["bias"])
    if node.op == "batchnorm":
        return nn.BatchNorm2d(node.shape[0])
    if node.op == "layernorm":
        return nn.LayerNorm(node.shape[-1], eps=a["eps"])
    if node.op == "act":
        return _ACTS[a["kind"]]()
    if node.op == "maxpool":
        return nn.MaxPool2d(a["kernel_size"], a["stride"], a["padding"])
    if node.op == "avgpool":
        return nn.AvgPool2d(a["kernel_size"], a["stride"], a["padding"])
    if node.op == "adaptive_avgpool":
        return nn.AdaptiveAvgPool2d(a["output_size"])
    if node.op == "embedding":
        return nn.Embedding(a["vocab"], a["d"])
    if node.op == "cls_token":
        return ClsToken(node.shape[-1])
    if node.op == "table_add":
        return TableAdd(a["rows"], node.shape[-1], a["index"])
    if node.op == "attention":
        return SelfAttention(a["d"], a["heads"])
    if node.op in _RECURRENT:
        extra = {"nonlinearity": a["nonlinearity"]} if node.op == "rnn" else {}
        return _RECURRENT[node.op](
            a["input_size"], a["hidden_size"], a["num_layers"], bias=a["bias"],
            batch_first=True, bidirectional=a["bidirectional"], **extra,
        )  # fmt: skip
    return None


#: torch module of each recurrent op of :mod:`theory.arch` (the spec layout ``(N, L, d)``
#: is batch first).
_RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SpecNet(nn.Module):
    """Replays a spec's nodes in order; parameter-free nodes are tensor operations."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a theory.arch.Spec, got {type(spec).__name__}")
        for n in spec.nodes:
            for v in (*n.shape, *n.attrs.values()):
                if not isinstance(v, bool | int | float | str):
                    raise ValueError(
                        f"layer {n.name!r}: {v!r} is symbolic; substitute integers first"
                    )
        big = [n.name for n in spec.nodes for v in (*n.shape, *n.attrs.values())
               if isinstance(v, int) and not isinstance(v, bool) and v >= 2**62]  # fmt: skip
        if big:
            raise ValueError(f"spec has sizes beyond torch's int64 range (layer {big[0]!r})")
        if torch.empty(0).device.type != "meta" and spec.params() > MAX_PARAMS:
            raise ValueError(
                f"spec has {spec.params()} parameters, more than MAX_PARAMS = {MAX_PARAMS} "
                "off the meta device; build it under `with torch.device('meta')`"
            )
        if not spec.nodes or spec.nodes[0].op != "input":
            raise ValueError(f"spec must start with an input node, got {spec.nodes[:1]!r}")
        self.input_shape = tuple(spec.nodes[0].shape)
        self.nodes = [(n.op, n.inputs, n.attrs) for n in spec.nodes]
        self.layers = nn.ModuleDict()
        self.keys: list[str | None] = []
        for i, n in enumerate(spec.nodes):
            m = _module(n)
            key = f"n{i}_{n.name}".replace(".", "_") if m is not None else None
            if m is not None:
                self.layers[key] = m
            self.keys.append(key)

    def _check_input(self, x: object, name: str) -> None:
        """Refuse an input the network cannot take, naming the argument."""
        shape = tuple(self.input_shape)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (N, *{shape}), got {x!r}")
        if tuple(x.shape[1:]) != shape or x.dim() != len(shape) + 1 or x.shape[0] < 1:
            raise ValueError(f"{name} must have shape (N >= 1, *{shape}), got {tuple(x.shape)}")
        if len(shape) == 1 and x.dtype != torch.long:
            raise TypeError(f"{name} must hold token ids of dtype torch.int64, got {x.dtype}")
        if len(shape) > 1 and not x.is_floating_point():
            raise TypeError(f"{name} must be a floating point tensor, got {x.dtype}")
        weights = [p for p in self.parameters() if p.is_floating_point()]
        if weights and x.device != weights[0].device:
            raise ValueError(
                f"{name} must be on the module's device {weights[0].device}, got {x.device}"
            )
        if x.is_floating_point() and weights and x.dtype != weights[0].dtype:
            raise TypeError(
                f"{name} must have the module's dtype {weights[0].dtype}, got {x.dtype}"
            )
        if len(shape) == 1 and x.device.type != "meta" and x.numel():
            vocab = min((m.num_embeddings for m in self.modules() if isinstance(m, nn.Embedding)),
                        default=None)  # fmt: skip
            if vocab is not None and not (0 <= int(x.min()) and int(x.max()) < vocab):
                raise ValueError(f"{name} must hold token ids in [0, {vocab}), got values outside")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on a batch ``x``: ``(N, *input shape)``, integer token ids
        (``int64``) for a ``(L,)`` input, floating point otherwise."""
        self._check_input(x, "x")
        values: list[torch.Tensor] = []
        for (op, inputs, attrs), key in zip(self.nodes, self.keys, strict=True):
            args = [values[i] for i in inputs]
            if op == "input":
                out = x
            elif key is not None:
                out = self.layers[key](*args)
                if op in _RECURRENT:  # (output of every step, final states)
                    out = out[0]
            elif op == "flatten":
                out = args[0].flatten(1)
            elif op == "add":
                out = args[0] + args[1]
            elif op == "scale":
                out = args[0] * args[1]
            elif op == "concat":
                out = torch.cat(args, dim=1)
            elif op == "to_tokens":
                out = args[0].flatten(2).transpose(1, 2)
            elif op == "select":
                out = args[0][:, attrs["index"]]
            else:  # pragma: no cover - every op of theory.arch is handled above
                raise NotImplementedError(op)
            values.append(out)
        return values[-1]


def to_module(spec: Spec) -> SpecNet:
    """The torch network of an integer spec (initialised by torch's defaults); at most
    :data:`MAX_PARAMS` parameters unless built on the ``meta`` device."""
    return SpecNet(spec)


def flop_counter_flops(module: nn.Module, example: torch.Tensor) -> int:
    """Total FLOPs ``FlopCounterMode`` records for one forward pass (works on ``meta``).
    ``example`` must be a tensor the module accepts."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example, torch.Tensor):
        raise TypeError(f"example must be a torch.Tensor, got {type(example).__name__}")
    if isinstance(module, SpecNet):
        module._check_input(example, "example")
    with FlopCounterMode(display=False) as counter:
        try:
            module(example)
        except (RuntimeError, IndexError, AssertionError, ValueError) as err:
            raise ValueError(f"example does not fit the module: {err}") from None
    return int(counter.get_total_flops())


class _Refused(ValueError):
    """A counting rule's refusal raised inside a forward hook (passed on unchanged)."""


def _numel(shape) -> int:
    out = 1
    for v in shape:
        out *= int(v)
    return out


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


_KIND = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}
_ACT_KIND = {cls: kind for kind, cls in _ACTS.items()}
#: Module types counted as one layer by formula (ops inside them are not counted again).
_LEAVES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm,
           nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.MultiheadAttention,
           nn.Embedding, *_KIND, *_ACTS.values())  # fmt: skip


def _is_leaf(m: nn.Module) -> bool:
    """A layer counted by formula: an instance of a :data:`_LEAVES` type that keeps that
    type's ``forward`` (a subclass overriding it, a LoRA-style linear say, is counted through
    the operations its own ``forward`` runs)."""
    if not isinstance(m, _LEAVES):
        return False
    base = next(c for c in type(m).__mro__ if c in _LEAVES)
    return type(m).forward is base.forward


#: Named calls ptflops' pytorch backend patches (``torch.add(a, b)``, ``a.mul(b)`` …); the
#: operators ``a + b`` and ``a * b`` are not patched. The tool conventions were measured on
#: operators only.
_NAMED_ELEMENTWISE = (torch.add, torch.mul)  # seen by the function mode
_NAMED_METHODS = ("add", "mul")  # Tensor methods: wrapped while counting, as ptflops does,
# since the function mode reports ``a + b`` and ``a.add(b)`` alike
#: Functional operations the tool conventions were measured on (as ``to_module`` and
#: torchvision write them): residual additions, gating products, learned tables and tokens.
_MEASURED_FUNCTIONAL = ("add", "scale", "table_add", "cls_token", "embedding")


def _mha_counts(m: nn.MultiheadAttention, q: torch.Tensor, k: torch.Tensor) -> tuple[dict, int]:
    """(terms over the batch, batch size) of ``nn.MultiheadAttention`` on query ``q`` and
    key ``k``: projections of L queries and S keys/values, :math:`QK^\\top` and :math:`AV`
    (:math:`L S d` MACs each), :math:`h L S` softmax entries, :math:`L d` query scalings."""
    d, h = m.embed_dim, m.num_heads
    if q.dim() == 2:
        batch, length, keys = 1, q.shape[0], k.shape[0]
    elif m.batch_first:
        batch, length, keys = q.shape[0], q.shape[1], k.shape[1]
    else:
        batch, length, keys = q.shape[1], q.shape[0], k.shape[0]
    batch, length, keys = int(batch), int(length), int(keys)
    biased = m.in_proj_bias is not None
    # an input projection whose input torch sees as a non-contiguous 3-D tensor (batch first
    # is transposed to (L, N, E) first) adds its bias after the matmul (aten.add)
    seq = [t.transpose(0, 1) if m.batch_first and t.dim() == 3 else t for t in (q, k)]
    split = [t.dim() == 3 and not t.is_contiguous() for t in seq]
    in_q, in_kv = length * d, 2 * keys * d
    added = (in_q if split[0] else 0) + (in_kv if split[1] else 0)
    terms = {
        "attention.proj_macs": batch * (2 * length * d * d + keys * d * (m.kdim + m.vdim)),
        "attention.proj_bias": batch * (in_q + in_kv + length * d - added) if biased else 0,
        "attention.in_proj_bias_add": batch * added if biased else 0,
        "attention.matmul_macs": batch * 2 * length * keys * d,
        "attention.softmax": batch * h * length * keys,
        "attention.scale": batch * length * d,
    }
    return terms, batch


def _leaf_terms(m: nn.Module, args: tuple, kwargs: dict, out) -> tuple[dict, int]:
    """(terms over the whole call, parameters by formula) of one counted leaf layer; per-
    sample division happens later. Parameter terms are absolute (not per call)."""
    inp = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(out, tuple):
        out = out[0]
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        op = "conv" if isinstance(m, nn.Conv2d) else "conv_transpose"
        k = tuple(m.kernel_size)
        params = conv_params(m.in_channels, m.out_channels, k, m.groups, m.bias is not None)
        if op == "conv":
            macs = conv_macs(m.in_channels, m.out_channels, k, tuple(out.shape[-2:]), m.groups)
            macs *= _numel(out.shape[:-3])
        else:
            macs = _numel(inp.shape) * (m.out_channels // m.groups) * k[0] * k[1]
        terms = {f"{op}.macs": macs, f"{op}.bias": _numel(out.shape) if m.bias is not None else 0}
        return {**terms, f"{op}.params": params}, params
    if isinstance(m, nn.Linear):
        rows = _numel(out.shape[:-1])
        params = linear_params(m.in_features, m.out_features, m.bias is not None)
        # torch fuses the bias into addmm unless the input is a non-contiguous N-D tensor
        bias = "linear.bias" if inp.dim() <= 2 or inp.is_contiguous() else "linear.bias_add"
        return {
            "linear.macs": rows * m.in_features * m.out_features,
            bias: rows * m.out_features if m.bias is not None else 0,
            "linear.params": params,
        }, params
    if isinstance(m, nn.BatchNorm2d | nn.LayerNorm):
        op = "batchnorm" if isinstance(m, nn.BatchNorm2d) else "layernorm"
        params = sum(p.numel() for p in (m.weight, m.bias) if p is not None)
        return {f"{op}.elements": _numel(out.shape), f"{op}.params": params}, params
    if type(m) in _ACT_KIND:
        return {f"act.{_ACT_KIND[type(m)]}": _numel(out.shape)}, 0
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d | nn.AdaptiveAvgPool2d):
        op = {nn.MaxPool2d: "maxpool", nn.AvgPool2d: "avgpool"}.get(type(m), "adaptive_avgpool")
        if op == "adaptive_avgpool":
            (h, w), (oh, ow) = inp.shape[-2:], out.shape[-2:]
            reads = (
                _numel(inp.shape[:-2])
                * adaptive_read_count(int(h), int(oh))
                * (adaptive_read_count(int(w), int(ow)))
            )
        else:
            kh, kw = _pair(m.kernel_size)
            reads = _numel(out.shape) * kh * kw
        return {f"{op}.reads": reads, f"{op}.inputs": _numel(inp.shape),
                f"{op}.outputs": _numel(out.shape)}, 0  # fmt: skip
    if isinstance(m, nn.MultiheadAttention):
        q = inp
        key = args[1] if len(args) > 1 else kwargs.get("key", q)
        terms, _ = _mha_counts(m, q, key)
        params = sum(p.numel() for p in m.parameters())  # in_proj (or q/k/v), out_proj, bias_k/v
        return {**terms, "attention.params": params}, params
    if isinstance(m, nn.Embedding):
        params = m.num_embeddings * m.embedding_dim  # a gather: no arithmetic
        return {"embedding.params": params}, params
    if isinstance(m, nn.RNNBase):
        if isinstance(inp, nn.utils.rnn.PackedSequence):
            raise _Refused(
                f"example: count_module counts {type(m).__name__} on padded tensors "
                "(N, L, d) or (L, N, d), not on a PackedSequence"
            )
        if inp.dim() != 3:  # unbatched (L, d): its first axis is no batch to divide by
            raise _Refused(
                f"example: count_module counts {type(m).__name__} per sequence of a batch "
                f"(N, L, d) or (L, N, d); the layer got an unbatched {tuple(inp.shape)} input"
            )
        batch, length = (inp.shape[0], inp.shape[1]) if m.batch_first else inp.shape[1::-1]
        kind = _KIND[type(m)]
        sizes = (m.input_size, m.hidden_size, m.num_layers, bool(m.bias), bool(m.bidirectional))
        params = recurrent_params(kind, *sizes)
        per_sequence = recurrent_cost(kind, int(length), *sizes)
        terms = {f"{kind}.{c}": int(batch) * int(v) for c, v in per_sequence.items()}
        return {**terms, f"{kind}.params": params}, params
    raise AssertionError(type(m))  # pragma: no cover - _LEAVES lists the types above


# ----------------------------------------------------------------- functional operations
_aten = torch.ops.aten

#: aten ops that move, copy, index or create data: no arithmetic, no term (a view of a
#: parameter stays that parameter).
_FREE_OPS = frozenset(
    "view _unsafe_view reshape _reshape_alias expand expand_as permute transpose t "
    "slice select unsqueeze squeeze flatten clone contiguous _to_copy copy_ detach alias "
    "split split_with_sizes unsafe_split chunk unbind index_select index narrow as_strided "
    "empty empty_like empty_strided zeros zeros_like ones ones_like full full_like fill_ zero_ "
    "new_empty new_empty_strided new_zeros new_ones new_full arange lift_fresh "
    "lift_fresh_copy _local_scalar_dense constant_pad_nd repeat roll flip movedim "
    "native_dropout dropout scalar_tensor stack cat _assert_tensor_metadata".split()
)
#: activations by aten op (``hardtanh`` only with torch's ReLU6 bounds 0 and 6).
_ACT_OPS = {"relu": "relu", "gelu": "gelu", "silu": "silu", "sigmoid": "sigmoid",
            "tanh": "tanh", "hardswish": "hardswish", "hardtanh": "relu6"}  # fmt: skip
_ADD_OPS = ("add", "sub", "rsub")
_MUL_OPS = ("mul", "div")
_SDPA_OPS = ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
             "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
             "_scaled_dot_product_attention_math")  # fmt: skip


class _Record:
    """One counted layer or functional operation."""

    __slots__ = (
        "extra_grad",
        "functional",
        "fusable",
        "input_grad",
        "layer",
        "matmul_factor",
        "module_type",
        "named_call",
        "op",
        "param_grad",
        "params",
        "plain_norm",
        "shape",
        "terms",
    )  # fmt: skip

    def __init__(self, layer, op, shape, terms, params, input_grad, param_grad, factor=3):
        self.layer, self.op, self.shape = layer, op, shape
        self.terms, self.params = terms, params
        self.input_grad, self.param_grad, self.matmul_factor = input_grad, param_grad, factor
        self.fusable = False  # an attention torch would fuse under no_grad (_fast_path)
        # MAC terms whose training step is not v (1 + param grad + input grad): units of the
        # whole call (attention projections, recurrent matmuls; see _training_units)
        self.extra_grad: dict[str, int] = {}
        self.functional = False  # classified from an aten op outside any counted layer
        self.named_call = False  # run inside torch.add / Tensor.mul … (ptflops patches them)
        self.module_type: type | None = None  # the counted layer's class
        self.plain_norm = False  # a BatchNorm2d / LayerNorm without affine parameters


def _fast_path(m: nn.Module, args: tuple, kwargs: dict) -> bool:
    """Whether ``nn.MultiheadAttention`` ``m`` called with ``args``/``kwargs`` takes torch's
    fused fast path once in eval mode under ``torch.no_grad()``: the conditions of
    ``MultiheadAttention.forward`` (torch 2.13, ``torch/nn/modules/activation.py``) other
    than training and grad — batched self-attention (query is key is value), batch first,
    an even number of heads, packed projections without bias_k/bias_v or add_zero_attn,
    matching dtypes, no floating-point mask. The device is not checked: counting on the
    ``meta`` device predicts what the tool sees on the CPU or a GPU."""
    if not isinstance(m, nn.MultiheadAttention):
        return False
    names = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask")
    bound = dict(zip(names, args, strict=False)) | kwargs
    q, k, v = bound.get("query"), bound.get("key"), bound.get("value")
    masks = [bound.get("key_padding_mask"), bound.get("attn_mask")]
    return (
        isinstance(q, torch.Tensor)
        and q.dim() == 3
        and q is k
        and k is v
        and not any(isinstance(x, torch.Tensor) and x.is_floating_point() for x in masks)
        and m.in_proj_weight is not None
        and q.dtype == m.in_proj_weight.dtype
        and (m.in_proj_bias is None or q.dtype == m.in_proj_bias.dtype)
        and m.num_heads % 2 == 0
        and m.batch_first
        and m.bias_k is None
        and m.bias_v is None
        and not m.add_zero_attn
        and m._qkv_same_embed_dim
    )


def _tensors(tree) -> list[torch.Tensor]:
    out = []
    stack = [tree]
    while stack:
        v = stack.pop()
        if isinstance(v, torch.Tensor):
            out.append(v)
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return out


class _Counter:
    """Module hooks (a stack of module paths; counted leaves) and the dispatch-level
    classification of every aten op run outside a counted leaf."""

    def __init__(self, module: nn.Module) -> None:
        self.names = {id(m): name for name, m in module.named_modules()}
        self.types = {id(m): type(m).__name__ for m in module.modules()}
        self.stack: list[nn.Module] = []
        self.inside = 0  # depth of counted leaves (and functional SDPA) being executed
        self.records: list[_Record] = []
        self.called: dict[int, int] = {}  # id(leaf) -> parameters by formula
        self.param_of: dict[int, tuple[torch.Tensor, nn.Parameter]] = {}
        self.seen_params: dict[int, int] = {}  # id(parameter used functionally) -> numel
        self.named = 0  # depth of named elementwise calls (torch.add …) being executed

    # ---------------------------------------------------------------- module hooks
    def pre(self, m, args, kwargs):
        self.stack.append(m)
        if _is_leaf(m):
            self.inside += 1

    def post(self, m, args, kwargs, out):
        self.stack.pop()
        if not _is_leaf(m):
            return
        self.inside -= 1
        if self.inside:  # a counted leaf inside another: counted by the outer one
            return
        terms, params = _leaf_terms(m, args, kwargs, out)
        first = id(m) not in self.called
        self.called[id(m)] = params
        if not first:  # a reused layer: its parameters belong to its first call
            terms = {k: v for k, v in terms.items() if TERMS[k][0] != "per_param"}
        op = "act" if type(m) in _ACT_KIND else next(iter(terms)).split(".")[0]
        if isinstance(out, tuple):
            out = out[0]
        trainable = [p for p in m.parameters() if p.requires_grad]
        own = {id(p) for p in m.parameters()}
        grad = any(t.requires_grad for t in _tensors((args, kwargs)) if id(t) not in own)
        record = _Record(self.names[id(m)], op, tuple(out.shape), terms,
                         params if first else 0, grad, bool(trainable))  # fmt: skip
        record.fusable = _fast_path(m, args, kwargs)
        record.extra_grad = _training_units(m, args, kwargs, terms, bool(trainable))
        record.module_type = type(m)
        record.plain_norm = isinstance(m, nn.BatchNorm2d | nn.LayerNorm) and m.weight is None
        self.records.append(record)

    def where(self) -> str:
        if not self.stack:
            return "<root>"
        m = self.stack[-1]
        return f"{self.names.get(id(m)) or '<root>'} ({type(m).__name__})"

    def path(self) -> str:
        return (self.names.get(id(self.stack[-1])) if self.stack else "") or "<root>"

    # ---------------------------------------------------------------- functional ops
    def param(self, t: torch.Tensor) -> nn.Parameter | None:
        if isinstance(t, nn.Parameter):
            return t
        hit = self.param_of.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else None

    def functional(self, func, args, kwargs, out) -> None:
        name = func._overloadpacket.__name__
        base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
        ins = _tensors((args, kwargs))
        params = [p for p in map(self.param, ins) if p is not None]
        if base in _FREE_OPS or base in ("embedding",):
            if params and len(params) == len(ins):  # a view or copy of a parameter is it
                for t in _tensors(out):
                    self.param_of[id(t)] = (t, params[0])
            if base == "cat" and params:
                self.add(func, "cls_token", out, {"cls_token.params": 0}, ins, params)
            elif base == "embedding" and params:
                self.add(func, "embedding", out, {"embedding.params": 0}, ins, params)
            return
        if all(not t.is_floating_point() for t in ins):
            return  # arithmetic on integer or bool tensors: index bookkeeping, not the network
        outs = _tensors(out)
        n_out = _numel(outs[0].shape) if outs else 0
        terms = None
        if base in _ADD_OPS:
            op = "table_add" if params else "add"
            terms = {f"{op}.elements": n_out, **({"table_add.params": 0} if params else {})}
        elif base in _MUL_OPS and not params:
            op, terms = "scale", {"scale.elements": n_out}
        elif base in _ACT_OPS and not params:
            kind = _ACT_OPS[base]
            if base == "hardtanh" and tuple(float(v) for v in args[1:3]) != (0.0, 6.0):
                kind = None
            if kind:
                op, terms = "act", {f"act.{kind}": n_out}
        elif base in ("_softmax", "_safe_softmax", "softmax") and not params:
            op, terms = "attention", {"attention.softmax": n_out}
        elif base == "convolution" and args[1].dim() == 4:
            x, w, b = args[0], args[1], args[2]
            transposed = bool(args[6])
            op = "conv_transpose" if transposed else "conv"
            per = int(w.shape[1]) * int(w.shape[2]) * int(w.shape[3])
            macs = _numel((x if transposed else outs[0]).shape) * per
            terms = {f"{op}.macs": macs, f"{op}.bias": n_out if b is not None else 0,
                     f"{op}.params": 0}  # fmt: skip
        elif base in ("mm", "addmm", "bmm"):
            a, b = (args[1], args[2]) if base == "addmm" else (args[0], args[1])
            macs = _numel(a.shape) * int(b.shape[-1])
            if params:
                op = "linear"
                terms = {"linear.macs": macs, "linear.params": 0}
                if base == "addmm":
                    terms["linear.bias"] = n_out
            elif base != "addmm":
                op, terms = "attention", {"attention.matmul_macs": macs}
        elif base in ("native_layer_norm", "native_batch_norm", "_native_batch_norm_legit",
                      "_native_batch_norm_legit_no_training"):  # fmt: skip
            op = "layernorm" if base == "native_layer_norm" else "batchnorm"
            terms = {f"{op}.elements": _numel(ins[0].shape), f"{op}.params": 0}
        elif base in ("max_pool2d_with_indices", "max_pool2d", "avg_pool2d") and not params:
            op = "avgpool" if base == "avg_pool2d" else "maxpool"
            kh, kw = _pair(args[1])
            terms = {f"{op}.reads": n_out * kh * kw, f"{op}.inputs": _numel(ins[0].shape),
                     f"{op}.outputs": n_out}  # fmt: skip
        elif base in ("_adaptive_avg_pool2d", "mean") and not params and ins[0].dim() == 4:
            x = ins[0]
            (h, w), (oh, ow) = x.shape[-2:], outs[0].shape[-2:]
            if base == "mean":  # a mean over the spatial axes: an adaptive pool to 1 x 1
                dims = sorted(int(d) % 4 for d in args[1])
                oh = ow = 1 if dims == [2, 3] else None
            if oh is not None:
                reads = (
                    _numel(x.shape[:2])
                    * adaptive_read_count(int(h), int(oh))
                    * (adaptive_read_count(int(w), int(ow)))
                )
                op = "adaptive_avgpool"
                terms = {"adaptive_avgpool.reads": reads, "adaptive_avgpool.inputs": x.numel(),
                         "adaptive_avgpool.outputs": n_out}  # fmt: skip
        elif base in _SDPA_OPS:
            q, k, v = args[0], args[1], args[2]
            terms, op = _sdpa_terms(q, k, v), "attention"
        if terms is None:
            what = "no counting rule" if base == "convolution" else "cannot classify"
            raise ValueError(
                f"module: count_module {what} for aten.{name} (shapes "
                f"{[tuple(t.shape) for t in ins]}{', on a parameter' if params else ''}) run "
                f"in {self.where()} outside any counted layer"
            )
        self.add(func, op, out, terms, ins, params)

    def add(self, func, op, out, terms, ins, params) -> None:
        """Record one functional operation: ``*.params`` terms get the numel of parameters
        not seen before (a parameter used twice counts once)."""
        new = [p for p in {id(p): p for p in params}.values() if id(p) not in self.seen_params]
        for p in new:
            self.seen_params[id(p)] = p.numel()
        count = sum(p.numel() for p in new)
        terms = {k: (count if TERMS[k][0] == "per_param" else v) for k, v in terms.items()}
        pids = {id(p) for p in params}
        input_grad = any(t.requires_grad for t in ins
                         if self.param(t) is None and id(t) not in pids)  # fmt: skip
        param_grad = any(p.requires_grad for p in params)
        outs = _tensors(out)
        shape = tuple(outs[0].shape) if outs else ()
        layer = f"{self.path()}.{func._overloadpacket.__name__}"
        factor = 3 if op != "attention" else 1 + 2 * int(input_grad)
        record = _Record(layer, op, shape, terms, count, input_grad, param_grad, factor)
        record.functional, record.named_call = True, self.named > 0
        self.records.append(record)


def _sdpa_terms(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict:
    """Terms of scaled dot-product attention on ``q (..., L, E)``, ``k (..., S, E)``,
    ``v (..., S, Ev)``: :math:`LS(E + E_v)` matmul MACs and :math:`LS` softmax entries per
    batch-and-head, every query element scaled once."""
    lead = _numel(q.shape[:-2])
    length, keys = int(q.shape[-2]), int(k.shape[-2])
    return {
        "attention.matmul_macs": lead * length * keys * (int(q.shape[-1]) + int(v.shape[-1])),
        "attention.softmax": lead * length * keys,
        "attention.scale": q.numel(),
    }


class _Dispatch(TorchDispatchMode):
    """Sees every aten op (as ``FlopCounterMode`` does); hands the ones run outside a
    counted leaf to :meth:`_Counter.functional`."""

    def __init__(self, counter: _Counter) -> None:
        super().__init__()
        self.counter = counter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not self.counter.inside and func._overloadpacket.__name__ not in _META_OPS:
            self.counter.functional(func, args, kwargs, out)
        return out


#: aten ops that only query metadata.
_META_OPS = frozenset("size sym_size stride sym_stride numel sym_numel dim is_contiguous "
                      "sym_is_contiguous storage_offset sym_storage_offset "
                      "is_strides_like_format is_non_overlapping_and_dense "
                      "_fused_sdp_choice".split())  # fmt: skip


class _Function(torch.overrides.TorchFunctionMode):
    """Counts ``F.scaled_dot_product_attention`` as one operation whichever kernel torch
    picks (the fused CPU op, or on ``meta`` the math path: scaling, ``bmm``, softmax)."""

    def __init__(self, counter: _Counter) -> None:
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        c = self.counter
        func = getattr(func, "unwrapped", func)  # Tensor.add/mul as wrapped by _run
        if any(func is f for f in _NAMED_ELEMENTWISE) and not c.inside:
            c.named += 1
            try:
                return func(*args, **kwargs)
            finally:
                c.named -= 1
        if func is not F.scaled_dot_product_attention or c.inside:
            return func(*args, **kwargs)
        q, k, v = (list(args) + [kwargs.get(n) for n in ("query", "key", "value")])[:3]
        c.inside += 1
        try:
            out = func(*args, **kwargs)
        finally:
            c.inside -= 1
        c.add(_SDPA_NAME, "attention", out, _sdpa_terms(q, k, v), [q, k, v], [])
        return out


class _SdpaName:
    """Stands for the aten op in a record's layer name."""

    class _overloadpacket:  # mirrors OpOverload's attribute
        __name__ = "scaled_dot_product_attention"


_SDPA_NAME = _SdpaName()


def _training_units(m: nn.Module, args: tuple, kwargs: dict, terms: dict, trainable: bool):
    """``{term: units of a training step}`` (whole call) for the MAC terms of
    ``nn.MultiheadAttention`` and recurrent layers, whose gradients are not all-or-nothing
    (:func:`theory.arch._training_step`): the attention's output projection always gets an
    input gradient and each of Q, K, V's projections when its own input requires one;
    a recurrent layer's hidden-state gradient at every step but the first."""
    from theory.arch import Node, _training_step

    if isinstance(m, nn.MultiheadAttention):
        names = ("query", "key", "value")  # all three are required arguments
        bound = dict(zip(names, args, strict=False)) | {n: kwargs[n] for n in names if n in kwargs}
        q, k, v = (bound[n] for n in names)
        batch = 1 if q.dim() == 2 else int(q.shape[0 if m.batch_first else 1])
        length = int(q.shape[-2 if q.dim() == 2 or not m.batch_first else 1])
        keys = int(k.shape[-2 if k.dim() == 2 or not m.batch_first else 1])
        d = m.embed_dim
        parts = (
            (batch * length * d * d, q.requires_grad),
            (batch * keys * d * m.kdim, k.requires_grad),
            (batch * keys * d * m.vdim, v.requires_grad),
            (batch * length * d * d, True),  # out_proj reads the attention output
        )
        fwd = sum(p for p, _ in parts)
        return {"attention.proj_macs": fwd * (1 + int(trainable))
                + sum(p for p, rg in parts if rg)}  # fmt: skip
    if isinstance(m, nn.RNNBase) and type(m) in _KIND:
        inp = args[0] if args else kwargs["input"]
        batch, length = (inp.shape[0], inp.shape[1]) if m.batch_first else inp.shape[1::-1]
        kind = _KIND[type(m)]
        d = 2 if m.bidirectional else 1
        node = Node(
            "rnn", kind, (), {"input_size": m.input_size, "hidden_size": m.hidden_size,
                              "num_layers": m.num_layers, "bidirectional": bool(m.bidirectional)},
            (int(length), d * m.hidden_size),
        )  # fmt: skip
        per = terms[f"{kind}.macs"] // int(batch)
        units = int(_training_step(node, f"{kind}.macs", per, inp.requires_grad))
        return {f"{kind}.macs": int(batch) * (units - (0 if trainable else per))}
    return {}


def _units(convention, term: str, v: int, r: _Record, batch: int) -> int:
    """Weighted units of ``term`` (per-sample total ``v``) in record ``r`` under
    ``convention``, with :meth:`theory.arch.Spec.count`'s backward rule: a MAC term counts
    forward + weight gradient (when the layer has trainable parameters) + input gradient
    (when its input requires a gradient; attention and recurrent layers part by part,
    :func:`_training_units`); attention matmuls 3 (functional attention: 1 + 2 × [input
    requires a gradient]); any other term 1 + [input grad] + [trainable parameters]."""
    w = convention.term_weight(term)
    if not (w and isinstance(convention, Convention) and convention.backward):
        return w * v
    if term in r.extra_grad:
        return w * (r.extra_grad[term] // batch)
    if term in WEIGHT_MAC_TERMS:
        return w * v * (1 + int(r.param_grad) + int(r.input_grad))
    if term == "attention.matmul_macs":
        return w * v * r.matmul_factor
    return w * v * (1 + int(r.input_grad) + int(r.param_grad))


def count_module(
    module: nn.Module,
    example: torch.Tensor,
    convention: Convention | CounterConvention = TORCHVISION_OPS,
) -> dict:
    """Count ``module`` on ``example`` under ``convention`` (per sample: divided by the
    example's first axis). Returns a dict:

    * ``params`` (torch's ``numel`` sum), ``params_by_formula`` (leaf layers by their
      formulas plus every parameter used by a functional operation, each once),
      ``params_visible`` (``params`` less the parameters ``convention`` hides: a
      :class:`~theory.arch.CounterConvention`'s ``hidden_params``);
    * ``terms``: per-sample totals of :data:`theory.arch.TERMS` (parameter terms absolute);
      ``count``: Σ weight × term, the backward rule applied per layer (see
      :func:`_weight`); ``breakdown``: canonical terms summed per cost category;
    * ``layers``: one record per counted layer and functional operation, in execution order,
      in :meth:`theory.arch.Spec.layer_table`'s format (``layer`` the module path, or the
      path of the module the operation ran in followed by the aten op's name);
      :func:`theory.arch.format_layer_table` prints them;
    * ``unused_layers``: counted layer types with parameters that never ran.

    Leaf layers are counted by formula (see the module docstring), every other aten op by
    its name and shapes; an arithmetic op with no rule is a ``ValueError`` naming the op and
    the module it ran in, never a silent zero. Recurrent layers (``nn.RNN``, ``nn.LSTM``
    without ``proj_size``, ``nn.GRU``; batch first or not) are counted per input sequence
    on the length the hook sees (the example's first axis is still the batch: wrap a
    sequence-first layer); an unbatched ``(L, d)`` or a ``PackedSequence`` input is a
    ``ValueError``. The example's first axis is always the batch the counts are divided by:
    give a sequence-first model (``nn.MultiheadAttention`` or a recurrent layer without
    ``batch_first``) a batch-first wrapper. ``convention.backward`` runs the forward with
    grad enabled to see which layers' inputs require a gradient. Under a tool's
    :class:`~theory.arch.CounterConvention` (not ``"torchvision"``) a layer or operation
    written otherwise than the tools were measured on — a functional layer (``F.conv2d``,
    ``F.relu`` …), ``torch.add``/``Tensor.add``/``mul`` called by name (ptflops patches
    them), a subclass of a torch layer, a norm without affine parameters, a fused
    transformer layer under ``no_grad`` — is a ``ValueError``: the tool has rules of its
    own there. Work that does not scale with the batch is a ``ValueError`` at batch > 1.
    A :class:`~theory.arch.CounterConvention` whose
    ``covers`` leaves out an op met here raises ``ValueError`` as :meth:`Spec.count` does."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(convention, Convention | CounterConvention):
        raise TypeError(
            "convention must be a Convention or a CounterConvention, got "
            f"{type(convention).__name__}"
        )
    if not isinstance(example, torch.Tensor):
        raise TypeError(f"example must be a torch.Tensor, got {type(example).__name__}")
    if example.dim() < 1 or example.shape[0] < 1:
        raise ValueError(f"example must have a batch axis of size >= 1, got {tuple(example.shape)}")
    if isinstance(module, SpecNet):
        module._check_input(example, "example")
    for name, m in module.named_modules():
        if isinstance(m, nn.RNNBase) and (type(m) not in _KIND or getattr(m, "proj_size", 0)):
            raise ValueError(
                f"module: count_module has no counting rule for layer {name or '<root>'!r} "
                f"({type(m).__name__}{', proj_size > 0' if type(m) in _KIND else ''}); "
                "recurrent layers counted: RNN, GRU, LSTM without projection"
            )
        fused = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer)
        if getattr(convention, "fused_attention", False) and isinstance(m, fused):
            raise ValueError(
                f"convention {convention.name!r}: layer {name or '<root>'!r} is a "
                f"{type(m).__name__}, which torch runs as one fused operation under no_grad "
                "in eval mode (not measured: the tool would see none of it)"
            )
    backward = isinstance(convention, Convention) and convention.backward
    return _summary(module, _run(module, example, backward), int(example.shape[0]), convention)


def _run(module: nn.Module, example: torch.Tensor, backward: bool) -> _Counter:
    """Run ``module(example)`` once under the hooks and both modes (grad enabled when
    ``backward``: which inputs require a gradient is recorded per layer)."""
    counter = _Counter(module)
    handles = []
    for m in module.modules():
        handles.append(m.register_forward_pre_hook(counter.pre, with_kwargs=True))
        handles.append(m.register_forward_hook(counter.post, with_kwargs=True))
    fastpath = torch.backends.mha.get_fastpath_enabled()
    methods = {name: getattr(torch.Tensor, name) for name in _NAMED_METHODS}

    def named(method):
        def call(*args, **kwargs):
            counter.named += 1
            try:
                return method(*args, **kwargs)
            finally:
                counter.named -= 1

        # an operator (a + b) reaches the function mode with this wrapper as its func: the
        # mode calls the method itself, so only a call by name counts as one
        call.unwrapped = method
        return call

    try:
        for name, method in methods.items():
            setattr(torch.Tensor, name, named(method))
        torch.backends.mha.set_fastpath_enabled(False)
        with torch.set_grad_enabled(backward), _Function(counter), _Dispatch(counter):
            module(example)
    except _Refused:
        raise
    except ValueError as err:
        if str(err).startswith("module: count_module"):
            raise
        # torch's recurrent layers raise ValueError for a wrong rank or dtype
        raise ValueError(f"example does not fit the module: {err}") from None
    except (RuntimeError, IndexError, AssertionError) as err:
        raise ValueError(f"example does not fit the module: {err}") from None
    finally:
        for name, method in methods.items():
            setattr(torch.Tensor, name, method)
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for h in handles:
            h.remove()
    return counter


def _summary(module, counter: _Counter, batch: int, convention) -> dict:
    covers = getattr(convention, "covers", None)
    layers, terms = [], {}
    breakdown = dict.fromkeys(CATEGORIES, 0)
    hidden_total = 0
    for r in counter.records:
        _measured_structure(convention, r)
        key = next((t for t in r.terms if t.startswith("act.")), r.op)
        if covers is not None and key not in covers:
            raise ValueError(
                f"convention {convention.name!r} was not measured on {key} (layer "
                f"{r.layer!r}); it covers {', '.join(covers)}"
            )
        uneven = [t for t, v in r.terms.items() if TERMS[t][0] != "per_param" and v % batch]
        if uneven:
            raise ValueError(
                f"example: layer {r.layer!r} does {uneven[0]} = {r.terms[uneven[0]]} for a "
                f"batch of {batch}, not a multiple of it (work that does not scale with the "
                "batch, on parameters alone say): count per sample with a batch of 1"
            )
        per = {
            t: (v if TERMS[t][0] == "per_param" else v // batch) for t, v in r.terms.items() if v
        }
        by = dict.fromkeys(TERM_CATEGORIES, 0)
        fused = r.fusable and getattr(convention, "fused_attention", False)
        for t, v in per.items():
            terms[t] = terms.get(t, 0) + v
            category, canonical, _ = TERMS[t]
            if canonical:
                breakdown[category] += v
            if not (fused and category != "per_param"):
                by[category] += _units(convention, t, v, r, batch)
        hidden = sum(v for t, v in per.items()
                     if TERMS[t][0] == "per_param" and convention.hides_params(t))  # fmt: skip
        hidden_total += hidden
        shape = r.shape[1:] if len(r.shape) > 1 else r.shape
        record = {"layer": r.layer, "op": r.op, "output_shape": tuple(int(v) for v in shape),
                  "params": r.params - hidden, "count": sum(by.values())}  # fmt: skip
        record.update(by)
        layers.append(record)
    params = sum(p.numel() for p in module.parameters())
    unused = [counter.types[id(m)] for m in module.modules()
              if _is_leaf(m) and id(m) not in counter.called
              and any(True for _ in m.parameters()) and not _inside_leaf(module, m)]  # fmt: skip
    return {
        "params": params,
        "params_by_formula": sum(counter.called.values()) + sum(counter.seen_params.values()),
        "params_visible": params - hidden_total,
        "terms": terms,
        "count": sum(r["count"] for r in layers),
        "breakdown": breakdown,
        "unused_layers": unused,
        "layers": layers,
    }


def _measured_structure(convention, r: _Record) -> None:
    """Refuse a layer or operation written otherwise than the tool conventions were measured
    on (:mod:`theory.counters`: modules of torch's own layer types, functional additions and
    products as operators): a tool counts a functional ``F.conv2d``, ``torch.add(a, b)``, a
    subclass of ``nn.Linear``, a norm without affine parameters or a fused transformer layer
    by rules of its own, so a prediction there would be a guess."""
    if not isinstance(convention, CounterConvention) or convention.name == "torchvision":
        return
    why = None
    if r.functional and r.op not in _MEASURED_FUNCTIONAL:
        why = f"a functional {r.op} operation (tools count module layers by their own rules)"
    elif r.named_call:
        why = "torch.add / torch.mul called by name (ptflops patches them; a + b it does not)"
    elif r.module_type is not None and r.module_type not in _LEAVES:
        why = f"a {r.module_type.__name__}, a subclass of a torch layer (tools match exact types)"
    elif r.plain_norm:
        why = "a norm without affine parameters (tools weigh those differently)"
    if why:
        raise ValueError(
            f"convention {convention.name!r} was measured on torch's own layer modules and "
            f"operator arithmetic; layer {r.layer!r} is {why}: count it under a Convention, or "
            "run the tool (numerics.counters.run_counter)"
        )


def _inside_leaf(root: nn.Module, m: nn.Module) -> bool:
    """Whether ``m`` is a child of another counted leaf (MultiheadAttention's out_proj)."""
    return any(m is c for p in root.modules() if _is_leaf(p) and p is not m
               for c in p.modules())  # fmt: skip
