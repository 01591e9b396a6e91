r"""Layer specs of whole networks, and their exact parameter and operation counts.

A :class:`Spec` is a graph of layer specs built by calling its methods; every method checks
that the shapes chain (channels, spatial sizes, feature dimensions) and records one
:class:`Node` holding the layer's hyper-parameters, output shape, parameter count and cost —
SymPy expressions in whatever symbols the user put in (width multiplier, resolution, growth
rate …), integers when everything is an integer. Shapes are per sample (no batch axis):
``(C, H, W)`` for feature maps, ``(L, d)`` for token sequences, ``(d,)`` for vectors.

Cost categories (per sample, forward pass, inference)
----------------------------------------------------
=============  ==========================================================================
``macs``       multiply-accumulates of convolutions and linear layers (weights × inputs)
``attention``  MACs of the attention matmuls :math:`QK^\top` and :math:`AV`: :math:`2L^2d`
``bias``       one addition per output of a layer with bias
``norm``       one element normalized (folded to :math:`a x + b` at inference: 1 MAC)
``activation`` one element through a nonlinearity (softmax: one per attention score)
``pool``       one element read by a pooling window (a comparison or an addition)
``elementwise`` one residual addition, concatenation-free; or one multiplication (gating)
=============  ==========================================================================

:class:`Convention` says which categories count and in which unit; torchvision's published
``_ops`` (GMACs) count ``macs`` + ``attention`` only, and
``torch.utils.flop_counter.FlopCounterMode`` reports ``2 × (macs + attention)`` FLOPs.

Counting helpers reused from :mod:`theory.conv` and :mod:`theory.linear`; reference networks
in :mod:`theory.architectures`; a ``torch.nn.Module`` is built from a spec and counted from
its own modules in :mod:`numerics.torch_arch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import sympy

from theory._args import Dim, dim, is_symbolic, product
from theory.conv import conv_macs, conv_output_size, conv_params, pool_output_size
from theory.linear import linear_params

__all__ = [
    "CATEGORIES",
    "TORCHVISION_OPS",
    "Convention",
    "Node",
    "Spec",
    "SpecError",
    "attention_cost",
    "attention_params",
]

CATEGORIES = ("macs", "attention", "bias", "norm", "activation", "pool", "elementwise")
ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish")


class SpecError(ValueError):
    """A spec whose shapes do not chain; the message names the layer and the mismatch."""


@dataclass(frozen=True)
class Convention:
    r"""What a count includes.

    ``unit="MAC"``: a multiply-accumulate counts 1 and so does every other elementwise
    operation. ``unit="FLOP"``: a MAC counts 2 (``macs``, ``attention``, ``norm``), other
    operations 1. ``backward=True`` multiplies every counted term by 3 (forward + gradients
    for inputs and weights: exact for matmul-like layers, a convention for elementwise ones).
    The default is torchvision's ``_ops``: conv, linear and attention matmul MACs only.
    """

    bias: bool = False
    norm: bool = False
    activation: bool = False
    pooling: bool = False
    elementwise: bool = False
    attention: bool = True
    backward: bool = False
    unit: Literal["MAC", "FLOP"] = "MAC"

    def __post_init__(self) -> None:
        if self.unit not in ("MAC", "FLOP"):
            raise ValueError(f"unit must be 'MAC' or 'FLOP', got {self.unit!r}")
        for name in ("bias", "norm", "activation", "pooling", "elementwise", "attention"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def weight(self, category: str) -> int:
        """How many units one operation of ``category`` counts for (0 = not counted)."""
        included = {
            "macs": True,
            "attention": self.attention,
            "bias": self.bias,
            "norm": self.norm,
            "activation": self.activation,
            "pool": self.pooling,
            "elementwise": self.elementwise,
        }[category]
        per_op = 2 if self.unit == "FLOP" and category in ("macs", "attention", "norm") else 1
        return int(included) * per_op * (3 if self.backward else 1)


#: torchvision's convention for ``_ops`` / FlopCounterMode's (in FLOPs).
TORCHVISION_OPS = Convention()


@dataclass(frozen=True)
class Node:
    """One layer: its op, inputs (node indices), hyper-parameters, output shape and counts."""

    name: str
    op: str
    inputs: tuple[int, ...]
    attrs: dict
    shape: tuple[Dim, ...]
    params: Dim = 0
    cost: dict = field(default_factory=dict)


def attention_params(d: Dim) -> Dim:
    r"""Parameters of multi-head self-attention with biased Q, K, V and output projections:
    :math:`4d^2 + 4d`, whatever the number of heads (``002`` § Multi-Head Attention)."""
    return 4 * d * d + 4 * d


def attention_cost(length: Dim, d: Dim, heads: Dim) -> dict[str, Dim]:
    r"""Cost of self-attention on :math:`L` tokens: :math:`4Ld^2` projection MACs,
    :math:`4Ld` bias additions, :math:`2L^2d` attention-matmul MACs (:math:`QK^\top` and
    :math:`AV`, :math:`L^2(d_k + d_v)` per head) and :math:`hL^2` softmax entries."""
    return {
        "macs": 4 * length * d * d,
        "bias": 4 * length * d,
        "attention": 2 * length**2 * d,
        "activation": heads * length**2,
    }


def _same(a: Dim, b: Dim) -> bool:
    return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0


class Spec:
    """A network as a graph of layer specs (see the module docstring).

    >>> s = Spec("tiny")
    >>> x = s.input(3, 32, 32)
    >>> x = s.conv(x, 16, 3, padding=1, name="conv")
    >>> x = s.linear(s.flatten(s.adaptive_avgpool(x)), 10, name="fc")
    >>> s.params(), s.count()
    (602, 442528)
    """

    def __init__(self, name: str = "net") -> None:
        self.name = name
        self.nodes: list[Node] = []

    # ------------------------------------------------------------------ bookkeeping
    def _node(self, x: int, what: str) -> Node:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < len(self.nodes):
            raise TypeError(f"{what} must be a node index returned by this spec, got {x!r}")
        return self.nodes[x]

    def _add(self, op, inputs, name, shape, params=0, attrs=None, **cost) -> int:
        name = name or f"{op}{len(self.nodes)}"
        unknown = set(cost) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown cost categories {sorted(unknown)}")
        self.nodes.append(Node(name, op, tuple(inputs), attrs or {}, tuple(shape), params, cost))
        return len(self.nodes) - 1

    def _map(self, x: int, name: str | None, op: str) -> tuple[Node, str]:
        node = self._node(x, "x")
        label = name or f"{op}{len(self.nodes)}"
        if len(node.shape) != 3:
            raise SpecError(
                f"layer {label!r} ({op}) needs a (C, H, W) feature map, got {node.shape}"
            )
        return node, label

    def shape(self, x: int) -> tuple[Dim, ...]:
        """Output shape of node ``x``."""
        return self._node(x, "x").shape

    # ------------------------------------------------------------------ layers
    def input(self, *shape: Dim, name: str = "input") -> int:
        """The input: ``(C, H, W)`` image, ``(L,)`` token ids or ``(L, d)`` embeddings."""
        dims = tuple(dim(v, f"input shape[{i}]") for i, v in enumerate(shape))
        if not 1 <= len(dims) <= 3:
            raise SpecError(f"input {name!r} must have 1 to 3 dimensions, got {shape}")
        return self._add("input", (), name, dims)

    def conv(
        self,
        x: int,
        out_channels: Dim,
        kernel_size: Dim,
        stride: Dim = 1,
        padding: Dim = 0,
        groups: Dim = 1,
        bias: bool = False,
        dilation: Dim = 1,
        name: str | None = None,
    ) -> int:
        r"""2-D convolution (square kernel): :func:`theory.conv.conv_params`, ``conv_macs``."""
        node, label = self._map(x, name, "conv")
        c, h, w = node.shape
        try:
            out_h = conv_output_size(h, kernel_size, stride, padding, dilation)
            out_w = conv_output_size(w, kernel_size, stride, padding, dilation)
            params = conv_params(c, out_channels, kernel_size, groups=groups, bias=bias)
            macs = conv_macs(c, out_channels, (kernel_size, kernel_size), (out_h, out_w), groups)
        except ValueError as err:
            raise SpecError(f"layer {label!r} (conv, input {node.shape}): {err}") from None
        attrs = dict(
            in_channels=c, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
            padding=padding, groups=groups, bias=bias, dilation=dilation,
        )  # fmt: skip
        outputs = out_channels * out_h * out_w
        return self._add(
            "conv", (x,), label, (out_channels, out_h, out_w), params, attrs,
            macs=macs, bias=outputs if bias else 0,
        )  # fmt: skip

    def linear(self, x: int, out_features: Dim, bias: bool = True, name: str | None = None) -> int:
        r"""Dense layer on the last axis: :math:`n\,m` MACs per row (:mod:`theory.linear`)."""
        node = self._node(x, "x")
        label = name or f"linear{len(self.nodes)}"
        if len(node.shape) not in (1, 2):
            raise SpecError(f"layer {label!r} (linear) needs (d,) or (L, d), got {node.shape}")
        rows = node.shape[0] if len(node.shape) == 2 else 1
        n_in = node.shape[-1]
        params = linear_params(n_in, dim(out_features, f"{label}.out_features"), bias)
        out = (*node.shape[:-1], out_features)
        return self._add(
            "linear", (x,), label, out, params,
            dict(in_features=n_in, out_features=out_features, bias=bias),
            macs=rows * n_in * out_features, bias=rows * out_features if bias else 0,
        )  # fmt: skip

    def batchnorm(self, x: int, name: str | None = None) -> int:
        """BatchNorm2d (affine): :math:`2C` parameters (running statistics are buffers)."""
        node, label = self._map(x, name, "batchnorm")
        return self._add(
            "batchnorm", (x,), label, node.shape, 2 * node.shape[0], {}, norm=product(node.shape)
        )

    def layernorm(self, x: int, eps: float = 1e-5, name: str | None = None) -> int:
        """LayerNorm over the last axis (affine): :math:`2d` parameters."""
        node = self._node(x, "x")
        label = name or f"layernorm{len(self.nodes)}"
        return self._add(
            "layernorm", (x,), label, node.shape, 2 * node.shape[-1], {"eps": eps},
            norm=product(node.shape),
        )  # fmt: skip

    def act(self, x: int, kind: str = "relu", name: str | None = None) -> int:
        """Elementwise nonlinearity (``relu``, ``relu6``, ``gelu``, ``silu``, ``sigmoid`` …)."""
        node = self._node(x, "x")
        if kind not in ACTIVATIONS:
            raise ValueError(f"kind must be one of {ACTIVATIONS}, got {kind!r}")
        label = name or f"{kind}{len(self.nodes)}"
        return self._add(
            "act", (x,), label, node.shape, 0, {"kind": kind}, activation=product(node.shape)
        )

    def _pool(self, op, x, kernel_size, stride, padding, name) -> int:
        node, label = self._map(x, name, op)
        c, h, w = node.shape
        s = kernel_size if stride is None else stride
        try:
            out = [pool_output_size(v, kernel_size, s, padding) for v in (h, w)]
        except ValueError as err:
            raise SpecError(f"layer {label!r} ({op}, input {node.shape}): {err}") from None
        attrs = dict(kernel_size=kernel_size, stride=s, padding=padding)
        reads = c * out[0] * out[1] * kernel_size**2
        return self._add(op, (x,), label, (c, *out), 0, attrs, pool=reads)

    def maxpool(self, x, kernel_size, stride=None, padding=0, name=None) -> int:
        """Max pooling (:func:`theory.conv.pool_output_size`)."""
        return self._pool("maxpool", x, kernel_size, stride, padding, name)

    def avgpool(self, x, kernel_size, stride=None, padding=0, name=None) -> int:
        """Average pooling."""
        return self._pool("avgpool", x, kernel_size, stride, padding, name)

    def adaptive_avgpool(self, x: int, output_size: int = 1, name: str | None = None) -> int:
        """Adaptive average pooling to ``(C, O, O)`` (torch's windows, :mod:`theory.pooling`);
        ``pool`` counts every element each window reads."""
        node, label = self._map(x, name, "adaptive_avgpool")
        c, h, w = node.shape
        o = dim(output_size, f"{label}.output_size")
        if o == 1:
            reads = product(node.shape)
        elif is_symbolic(h, w, o):
            raise SpecError(f"layer {label!r}: symbolic adaptive pooling only to size 1")
        else:
            from theory.pooling import adaptive_read_count

            reads = c * adaptive_read_count(h, o) * adaptive_read_count(w, o)
        return self._add(
            "adaptive_avgpool", (x,), label, (c, o, o), 0, {"output_size": o}, pool=reads
        )

    def flatten(self, x: int, name: str | None = None) -> int:
        """``(C, H, W)`` to ``(C·H·W,)`` (torch's ``flatten(1)``)."""
        node = self._node(x, "x")
        return self._add("flatten", (x,), name, (product(node.shape),))

    def add(self, a: int, b: int, name: str | None = None) -> int:
        """Residual addition of two equal shapes."""
        na, nb = self._node(a, "a"), self._node(b, "b")
        label = name or f"add{len(self.nodes)}"
        if len(na.shape) != len(nb.shape) or not all(map(_same, na.shape, nb.shape)):
            raise SpecError(
                f"layer {label!r} (add): shapes differ, {na.name!r} {na.shape} vs "
                f"{nb.name!r} {nb.shape}"
            )
        return self._add("add", (a, b), label, na.shape, 0, {}, elementwise=product(na.shape))

    def scale(self, x: int, gate: int, name: str | None = None) -> int:
        """Channel gating ``x * gate`` with ``gate`` of shape ``(C, 1, 1)`` (squeeze-excite)."""
        nx, ng = self._node(x, "x"), self._node(gate, "gate")
        label = name or f"scale{len(self.nodes)}"
        fits = (
            len(nx.shape) == 3
            and len(ng.shape) == 3
            and _same(ng.shape[0], nx.shape[0])
            and tuple(ng.shape[1:]) == (1, 1)
        )
        if not fits:
            raise SpecError(
                f"layer {label!r} (scale): gate {ng.name!r} {ng.shape} does not match "
                f"{nx.name!r} {nx.shape}; it must be (C, 1, 1)"
            )
        return self._add("scale", (x, gate), label, nx.shape, 0, {}, elementwise=product(nx.shape))

    def concat(self, xs: Sequence[int], name: str | None = None) -> int:
        """Concatenate feature maps along channels (equal spatial sizes)."""
        nodes = [self._node(x, "xs[i]") for x in xs]
        label = name or f"concat{len(self.nodes)}"
        if not nodes:
            raise SpecError(f"layer {label!r} (concat): nothing to concatenate")
        first = nodes[0]
        for n in nodes[1:]:
            if len(n.shape) != 3 or not all(map(_same, n.shape[1:], first.shape[1:])):
                raise SpecError(
                    f"layer {label!r} (concat): spatial sizes differ, {first.name!r} "
                    f"{first.shape} vs {n.name!r} {n.shape}"
                )
        channels = sympy.Add(*[n.shape[0] for n in nodes])
        channels = int(channels) if channels.is_Integer else channels
        return self._add("concat", tuple(xs), label, (channels, *first.shape[1:]))

    # ------------------------------------------------------------------ sequences
    def to_tokens(self, x: int, name: str | None = None) -> int:
        """``(C, H, W)`` to ``(H·W, C)``: patches as tokens."""
        node, label = self._map(x, name, "to_tokens")
        c, h, w = node.shape
        return self._add("to_tokens", (x,), label, (h * w, c))

    def cls_token(self, x: int, name: str | None = None) -> int:
        """Prepend a learned class token: :math:`d` parameters, ``(L+1, d)``."""
        node = self._node(x, "x")
        length, d = node.shape
        return self._add("cls_token", (x,), name, (length + 1, d), d)

    def embedding(self, x: int, vocab: Dim, d: Dim, name: str | None = None) -> int:
        """Token ids ``(L,)`` to ``(L, d)`` by a table of :math:`V d` parameters."""
        node = self._node(x, "x")
        label = name or f"embedding{len(self.nodes)}"
        if len(node.shape) != 1:
            raise SpecError(f"layer {label!r} (embedding) needs token ids (L,), got {node.shape}")
        return self._add(
            "embedding", (x,), label, (node.shape[0], d), vocab * d, {"vocab": vocab, "d": d}
        )

    def table_add(self, x: int, rows: Dim, index: str = "position", name: str | None = None) -> int:
        """Add rows of a learned ``(rows, d)`` table: row :math:`i` to token :math:`i`
        (``index="position"``, needs rows ≥ L) or row 0 to every token (``"zero"``)."""
        node = self._node(x, "x")
        label = name or f"table_add{len(self.nodes)}"
        length, d = node.shape
        if index not in ("position", "zero"):
            raise ValueError(f"index must be 'position' or 'zero', got {index!r}")
        if index == "position" and not is_symbolic(rows, length) and rows < length:
            raise SpecError(f"layer {label!r} (table_add): {rows} rows for {length} tokens")
        return self._add(
            "table_add", (x,), label, node.shape, rows * d, {"rows": rows, "index": index},
            elementwise=length * d,
        )  # fmt: skip

    def attention(self, x: int, heads: Dim, name: str | None = None) -> int:
        """Multi-head self-attention (``nn.MultiheadAttention``): :func:`attention_params`,
        :func:`attention_cost`."""
        node = self._node(x, "x")
        label = name or f"attention{len(self.nodes)}"
        if len(node.shape) != 2:
            raise SpecError(f"layer {label!r} (attention) needs (L, d), got {node.shape}")
        length, d = node.shape
        h = dim(heads, f"{label}.heads")
        if not is_symbolic(h, d) and d % h:
            raise SpecError(f"layer {label!r} (attention): heads={h} must divide d={d}")
        return self._add(
            "attention", (x,), label, node.shape, attention_params(d), {"heads": h, "d": d},
            **attention_cost(length, d, h),
        )  # fmt: skip

    def select(self, x: int, index: int = 0, name: str | None = None) -> int:
        """Token ``index`` of ``(L, d)``: ``(d,)``."""
        node = self._node(x, "x")
        return self._add("select", (x,), name, (node.shape[-1],), 0, {"index": index})

    # ------------------------------------------------------------------ counts
    def params(self) -> Dim:
        """Exact number of parameters (trainable; BatchNorm running statistics excluded)."""
        return _simplify(sympy.Add(*[sympy.sympify(n.params) for n in self.nodes]))

    def count(self, convention: Convention = TORCHVISION_OPS) -> Dim:
        """Exact operation count per sample under ``convention``."""
        if not isinstance(convention, Convention):
            raise TypeError(f"convention must be a Convention, got {type(convention).__name__}")
        total = sympy.Integer(0)
        for n in self.nodes:
            for category, value in n.cost.items():
                total += convention.weight(category) * sympy.sympify(value)
        return _simplify(total)

    def breakdown(self) -> dict[str, Dim]:
        """Totals per cost category."""
        out = {c: sympy.Integer(0) for c in CATEGORIES}
        for n in self.nodes:
            for category, value in n.cost.items():
                out[category] += sympy.sympify(value)
        return {c: _simplify(v) for c, v in out.items()}

    def subs(self, values: dict) -> dict[str, int]:
        """Parameters and default-convention count at integer values of the symbols."""
        return {
            "params": int(sympy.sympify(self.params()).subs(values)),
            "macs": int(sympy.sympify(self.count()).subs(values)),
        }


def _simplify(expr: sympy.Expr) -> Dim:
    expr = sympy.expand(expr)
    return int(expr) if expr.is_Integer else expr
