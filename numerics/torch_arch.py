r"""A ``torch.nn.Module`` from a layer spec, and counts taken from a module's own layers.

* :func:`to_module` builds the network a :class:`theory.arch.Spec` describes (integer
  hyper-parameters only): one torch layer per spec node, replayed in order by :class:`SpecNet`.
  Inputs carry a batch axis: ``(N, C, H, W)``, ``(N, L)`` token ids or ``(N, L, d)``.
* :func:`count_module` counts any module independently of a spec: forward hooks record the
  input and output shapes of its leaf layers (``Conv2d``, ``Linear``, norms, activations,
  pooling, ``MultiheadAttention``, ``Embedding``, ``RNN``/``LSTM``/``GRU`` and the small
  parameter modules here), and the counts come from :mod:`theory.conv`/:mod:`theory.linear`/
  :mod:`theory.arch` formulas applied to those shapes (recurrent layers:
  :func:`theory.arch.recurrent_params` and :func:`~theory.arch.recurrent_cost` on the
  module's sizes and the sequence length its input has).
  Functional operations inside ``forward`` (residual additions, concatenation, gating) are
  invisible to hooks, so the ``elementwise`` category is not counted here.
* :func:`flop_counter_flops` is what ``torch.utils.flop_counter.FlopCounterMode`` measures.

What ``FlopCounterMode`` sees of recurrent layers (measured, torch 2.13 on CPU):
``nn.RNN`` and ``nn.GRU`` run as ``mm``/``addmm`` calls and are counted exactly, 2 FLOPs per
MAC of :func:`~theory.arch.recurrent_cost` (biases, gates and elementwise products not
counted). A float32 ``nn.LSTM`` on CPU runs as one fused ``aten.mkldnn_rnn_layer`` call
(oneDNN), for which FlopCounterMode has no formula: it reports **0 FLOPs**. In float64,
with ``torch.backends.mkldnn.flags(enabled=False)`` or on the ``meta`` device the LSTM
decomposes into matmuls and is counted exactly again. :func:`count_module` does not depend
on this: its recurrent counts come from the weight shapes and the input's length.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from theory.arch import (
    CATEGORIES,
    TORCHVISION_OPS,
    Convention,
    Spec,
    attention_cost,
    attention_params,
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


def _leaf_counts(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> tuple[int, dict]:
    """(parameters by formula, cost by category) of one leaf layer, per batch."""
    cost = dict.fromkeys(CATEGORIES, 0)
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size
        params = conv_params(m.in_channels, m.out_channels, k, m.groups, m.bias is not None)
        cost["macs"] = out.shape[0] * conv_macs(
            m.in_channels, m.out_channels, k, tuple(out.shape[2:]), m.groups
        )
        cost["bias"] = _numel(out.shape) if m.bias is not None else 0
    elif isinstance(m, nn.Linear):
        rows = _numel(out.shape[:-1])
        params = linear_params(m.in_features, m.out_features, m.bias is not None)
        cost["macs"] = rows * m.in_features * m.out_features
        cost["bias"] = rows * m.out_features if m.bias is not None else 0
    elif isinstance(m, nn.BatchNorm2d | nn.LayerNorm):
        params = 2 * (
            m.num_features if isinstance(m, nn.BatchNorm2d) else _numel(m.normalized_shape)
        )
        cost["norm"] = _numel(out.shape)
    elif isinstance(m, tuple(_ACTS.values())):
        params, cost["activation"] = 0, _numel(out.shape)
    elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        params, cost["pool"] = 0, _numel(out.shape) * k * k
    elif isinstance(m, nn.AdaptiveAvgPool2d):
        params = 0
        size = m.output_size if isinstance(m.output_size, int) else m.output_size[0]
        h, w = inp.shape[-2:]
        channels = _numel(inp.shape[:-2])
        cost["pool"] = channels * adaptive_read_count(h, size) * adaptive_read_count(w, size)
    elif isinstance(m, SelfAttention):
        batch, length = out.shape[0], out.shape[1]
        params = attention_params(m.mha.embed_dim)
        per_sample = attention_cost(length, m.mha.embed_dim, m.mha.num_heads)
        cost.update({k: batch * v for k, v in per_sample.items()})
    elif isinstance(m, nn.Embedding):
        params = m.num_embeddings * m.embedding_dim  # a gather: no arithmetic
    elif isinstance(m, nn.RNNBase):
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
        cost.update({k: int(batch) * int(v) for k, v in per_sequence.items()})
    elif isinstance(m, ClsToken | TableAdd):
        params = sum(p.numel() for p in m.parameters())
        if isinstance(m, TableAdd):
            cost["elementwise"] = _numel(out.shape)
    else:
        raise ValueError(f"module: count_module has no counting rule for layer {type(m).__name__}")
    return int(params), cost


_KIND = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}
_LEAVES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm, nn.MaxPool2d, nn.AvgPool2d,
           nn.AdaptiveAvgPool2d, SelfAttention, nn.Embedding, ClsToken, TableAdd,
           *_KIND, *_ACTS.values())  # fmt: skip
_FREE = (nn.Dropout, nn.Identity, nn.Flatten)  # layers that cost nothing


def count_module(
    module: nn.Module, example: torch.Tensor, convention: Convention = TORCHVISION_OPS
) -> dict:
    """``{"params", "params_by_formula", "unused_layers", "count", "breakdown"}`` of
    ``module`` on ``example`` (counts per sample: divided by the batch size). A layer with no
    counting rule is a ``ValueError``, never a silent zero. Recurrent layers (``nn.RNN``,
    ``nn.LSTM`` without ``proj_size``, ``nn.GRU``; batch first or not) are counted per
    input sequence by :func:`theory.arch.recurrent_cost` on the length the hook sees (the
    example's first axis is still the batch: wrap a sequence-first layer); an
    unbatched ``(L, d)`` or a ``PackedSequence`` input is a ``ValueError``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(convention, Convention):
        raise TypeError(f"convention must be a Convention, got {type(convention).__name__}")
    if not isinstance(example, torch.Tensor):
        raise TypeError(f"example must be a torch.Tensor, got {type(example).__name__}")
    if example.dim() < 1 or example.shape[0] < 1:
        raise ValueError(f"example must have a batch axis of size >= 1, got {tuple(example.shape)}")
    if isinstance(module, SpecNet):
        module._check_input(example, "example")
    records: dict[int, int] = {}  # id(layer) -> parameters by formula (a reused layer once)
    breakdown = dict.fromkeys(CATEGORIES, 0)

    def hook(m, args, out):
        params, cost = _leaf_counts(m, args[0], out)
        records[id(m)] = params
        for k, v in cost.items():
            breakdown[k] += v

    # MultiheadAttention's out_proj is a Linear it never calls: count the attention as a whole
    inner = {id(c) for m in module.modules() if isinstance(m, SelfAttention)
             for c in m.modules() if c is not m}  # fmt: skip
    for name, m in module.named_modules():
        if isinstance(m, nn.RNNBase) and (type(m) not in _KIND or getattr(m, "proj_size", 0)):
            raise ValueError(
                f"module: count_module has no counting rule for layer {name or '<root>'!r} "
                f"({type(m).__name__}{', proj_size > 0' if type(m) in _KIND else ''}); "
                "recurrent layers counted: RNN, GRU, LSTM without projection"
            )
        if id(m) in inner or isinstance(m, _LEAVES + _FREE):
            continue
        has_own = any(True for _ in m.parameters(recurse=False))
        if has_own or not any(True for _ in m.children()):
            raise ValueError(
                f"module: count_module has no counting rule for layer {name or '<root>'!r} "
                f"({type(m).__name__}); known: {sorted(c.__name__ for c in _LEAVES)}"
            )
    leaves = [m for m in module.modules() if isinstance(m, _LEAVES) and id(m) not in inner]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            module(example)
    except _Refused:
        raise
    except (RuntimeError, IndexError, AssertionError, ValueError) as err:
        # torch's recurrent layers raise ValueError for a wrong rank or dtype
        raise ValueError(f"example does not fit the module: {err}") from None
    finally:
        for h in handles:
            h.remove()
    batch = int(example.shape[0])
    per_sample = {k: v // batch for k, v in breakdown.items()}
    unused = [type(m).__name__ for m in leaves if id(m) not in records and any(m.parameters())]
    return {
        "params": sum(p.numel() for p in module.parameters()),
        "params_by_formula": sum(records.values()),
        "unused_layers": unused,
        "count": sum(convention.weight(k) * v for k, v in per_sample.items()),
        "breakdown": per_sample,
    }
