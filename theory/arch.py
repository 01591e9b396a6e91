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

Recurrent layers (``rnn``, ``lstm``, ``gru``; :func:`recurrent_params`,
:func:`recurrent_cost`) fall into the same categories, step by step: the input and hidden
matmuls are ``macs``, torch's two bias vectors are ``bias``, the gate nonlinearities
``activation`` and the gate products and sums ``elementwise``. An embedding lookup is a
gather: parameters, no arithmetic, so no cost in any category.

:class:`Convention` says which categories count and in which unit; torchvision's published
``_ops`` (GMACs) count ``macs`` + ``attention`` only, and
``torch.utils.flop_counter.FlopCounterMode`` reports ``2 × (macs + attention)`` FLOPs.

Counting helpers reused from :mod:`theory.conv` and :mod:`theory.linear`; reference networks
in :mod:`theory.architectures`; a ``torch.nn.Module`` is built from a spec and counted from
its own modules in :mod:`numerics.torch_arch`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import sympy

from theory._args import MAX_ITEMS, TEXT, Dim, bounded, dim, divides, flag, is_symbolic, product
from theory.conv import (
    conv_macs,
    conv_output_size,
    conv_params,
    conv_transpose_macs,
    conv_transpose_output_size,
    pool_output_size,
)
from theory.linear import linear_params

__all__ = [
    "CATEGORIES",
    "TERMS",
    "TERM_CATEGORIES",
    "TORCHVISION_OPS",
    "WEIGHT_MAC_TERMS",
    "Convention",
    "CounterConvention",
    "Node",
    "Spec",
    "SpecError",
    "attention_cost",
    "attention_params",
    "format_layer_table",
    "recurrent_cost",
    "recurrent_params",
]

CATEGORIES = ("macs", "attention", "bias", "norm", "activation", "pool", "elementwise")
ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish")


OPS = ("input", "conv", "conv_transpose", "linear", "batchnorm", "layernorm", "act",
       "maxpool", "avgpool", "adaptive_avgpool", "flatten", "add", "scale", "concat",
       "to_tokens", "cls_token", "embedding", "table_add", "attention", "select", "rnn",
       "lstm", "gru")  # fmt: skip

#: Gates :math:`G` of each recurrent kind: the rows of ``weight_ih`` are :math:`G H`.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
#: Per step and hidden unit: nonlinearities (RNN: tanh or relu; LSTM: three sigmoids, tanh
#: of the candidate and of the cell; GRU: two sigmoids and the candidate's tanh) and
#: elementwise operations (LSTM: f*c, i*g, their sum, o*tanh(c); GRU: r*(W_hn h + b_hn),
#: its sum with the input part, and h' = n + z*(h - n): a difference, a product, a sum).
STEP_ACTIVATIONS = {"rnn": 1, "lstm": 5, "gru": 3}
STEP_ELEMENTWISE = {"rnn": 0, "lstm": 4, "gru": 5}

#: What a term measures, by category; ``per_param`` terms count parameters, not operations
#: (a tool may still weigh them: torchinfo counts one "mult-add" per parameter of a linear).
TERM_CATEGORIES = (*CATEGORIES, "per_param")


def _term_table() -> dict[str, tuple[str, bool, str]]:
    """``{term: (category, canonical, meaning)}``: every quantity a counter may weigh.

    A *canonical* term is the one the category-level :class:`Convention` counts (pooling by
    window reads, not by inputs or outputs); every category's canonical terms of a node sum
    to the node's ``cost`` in that category (tested)."""
    t: dict[str, tuple[str, bool, str]] = {}
    for op, what in (("conv", "convolution"), ("conv_transpose", "transposed convolution"),
                     ("linear", "linear layer")):  # fmt: skip
        t[f"{op}.macs"] = ("macs", True, f"multiply-accumulates of a {what}")
        t[f"{op}.bias"] = ("bias", True, f"outputs of a {what} with bias (one addition each)")
        t[f"{op}.params"] = ("per_param", False, f"parameters of a {what} (weight and bias)")
    t["linear.bias_add"] = (
        "bias",
        True,
        "outputs of a linear on a non-contiguous 3-D input: "
        "torch adds its bias after the matmul (aten.add), not in addmm",
    )
    t["attention.proj_macs"] = ("macs", True, "MACs of the Q, K, V and output projections")
    t["attention.proj_bias"] = ("bias", True, "bias additions of the projections (addmm)")
    t["attention.in_proj_bias_add"] = (
        "bias",
        True,
        "bias additions of the Q, K, V projections "
        "of a non-contiguous input (aten.add after the matmul)",
    )
    t["attention.matmul_macs"] = ("attention", True, "MACs of QK^T and AV")
    t["attention.softmax"] = ("activation", True, "attention scores through the softmax")
    t["attention.scale"] = ("elementwise", False, "query elements scaled by 1/sqrt(d_k)")
    t["attention.params"] = ("per_param", False, "parameters of the attention projections")
    for op in ("batchnorm", "layernorm"):
        t[f"{op}.elements"] = ("norm", True, f"elements normalized by a {op}")
        t[f"{op}.params"] = ("per_param", False, f"affine parameters of a {op}")
    for kind in ACTIVATIONS:
        t[f"act.{kind}"] = ("activation", True, f"elements through {kind}")
    for op in ("maxpool", "avgpool", "adaptive_avgpool"):
        t[f"{op}.reads"] = ("pool", True, f"elements read by the windows of a {op}")
        t[f"{op}.inputs"] = ("pool", False, f"input elements of a {op}")
        t[f"{op}.outputs"] = ("pool", False, f"output elements of a {op}")
    t["add.elements"] = ("elementwise", True, "elements of a residual addition")
    t["scale.elements"] = ("elementwise", True, "elements of a gating product")
    t["table_add.elements"] = ("elementwise", True, "elements of a learned-table addition")
    t["table_add.params"] = ("per_param", False, "entries of a learned position/type table")
    t["cls_token.params"] = ("per_param", False, "entries of a learned class token")
    t["embedding.params"] = ("per_param", False, "entries of an embedding table")
    for kind in GATES:
        t[f"{kind}.macs"] = ("macs", True, f"input and hidden matmul MACs of an {kind}")
        t[f"{kind}.bias"] = ("bias", True, f"bias additions of an {kind} (both vectors)")
        t[f"{kind}.activation"] = ("activation", True, f"gate nonlinearities of an {kind}")
        t[f"{kind}.elementwise"] = ("elementwise", True, f"gate products and sums of an {kind}")
        t[f"{kind}.params"] = ("per_param", False, f"parameters of an {kind}")
    return t


#: Every term a count may weigh: ``{term: (category, canonical, meaning)}`` (see
#: :func:`_term_table`); named ``"<op>.<measure>"`` (``"act.<kind>"`` for activations).
TERMS = _term_table()

#: MAC terms whose backward pass splits into a weight gradient (always, the layer has
#: weights) and an input gradient (only when the layer's input requires a gradient).
WEIGHT_MAC_TERMS = ("conv.macs", "conv_transpose.macs", "linear.macs", "attention.proj_macs")


class SpecError(ValueError):
    """A spec whose shapes do not chain; the message names the layer and the mismatch."""


_NOT_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def _dim(value: object, name: str, minimum: int = 1) -> Dim:
    """:func:`theory._args.dim`, also refusing SymPy numbers that are not integers (``nan``,
    ``oo``, ``1/2``: their ``is_integer`` may be None) and expressions containing them."""
    if isinstance(value, sympy.Basic) and not isinstance(value, sympy.Integer):
        if value.is_number or any(value.has(b) for b in _NOT_FINITE):
            raise TypeError(
                f"{name} must be an integer >= {minimum} or an integer-valued SymPy "
                f"expression, got {value!r}"
            )
    return dim(value, name, minimum)


def _name(value: object, what: str = "name") -> str | None:
    """A layer name: None (automatic) or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty string or None, got {value!r}")
    return value


def _positive_real(value: object, name: str) -> float:
    """A finite real number > 0 (Python or NumPy; bools refused) as a float."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite real number > 0, got {value!r}")
    v = float(value)
    if not (v > 0 and v < float("inf")):
        raise ValueError(f"{name} must be a finite real number > 0, got {value!r}")
    return v


@dataclass(frozen=True)
class Convention:
    r"""What a count includes, by cost category.

    ``unit="MAC"``: a multiply-accumulate counts 1 and so does every other elementwise
    operation. ``unit="FLOP"``: a MAC counts 2 (``macs``, ``attention``, ``norm``), other
    operations 1. The default is torchvision's ``_ops``: conv, linear and attention matmul
    MACs only. Within a category only the canonical term counts (pooling by window reads;
    see :data:`TERMS`); a counter that weighs terms differently is a
    :class:`CounterConvention`.

    ``backward=True`` counts a training step: each layer's forward terms once more per
    gradient autograd computes. A MAC term of a layer with weights (convolution, linear,
    attention projections, recurrent matmuls) counts forward + weight gradient + input
    gradient, the last only when that input requires a gradient — so the first convolution
    of a network, fed the data, counts 2×, not 3×; the attention's output projection always
    3× (its input comes from the weights); a recurrent layer's hidden-state gradient is
    computed at every step but the first. That is exactly what ``FlopCounterMode`` records
    for ``loss.backward()`` (tested; torch 2.13 overcounts grouped convolutions' weight
    gradients). The attention matmuls count 3× (Q, K and V all need gradients). Every
    other term (bias, norm, activation, pooling, elementwise) counts 1 + [input requires a
    gradient] + [the layer has parameters]: a convention, since those gradients'
    arithmetic is not a fixed multiple of the forward's (see :func:`_training_step`).
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
        if not isinstance(self.unit, str):
            raise TypeError(f"unit must be 'MAC' or 'FLOP', got {self.unit!r}")
        if self.unit not in ("MAC", "FLOP"):
            raise ValueError(f"unit must be 'MAC' or 'FLOP', got {self.unit!r}")
        for name in (
            "bias", "norm", "activation", "pooling", "elementwise", "attention", "backward"
        ):  # fmt: skip
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def weight(self, category: str) -> int:
        """How many units one forward operation of ``category`` counts for (0 = not
        counted); ``category`` is one of :data:`CATEGORIES`. The backward pass is applied per
        layer by :meth:`Spec.count` (see the class docstring)."""
        if not isinstance(category, str):
            raise TypeError(f"category must be one of {CATEGORIES}, got {category!r}")
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}")
        included = {
            "macs": True,
            "attention": self.attention,
            "bias": self.bias,
            "norm": self.norm,
            "activation": self.activation,
            "pool": self.pooling,
            "elementwise": self.elementwise,
        }[category]
        return int(included) * (2 if self.unit == "FLOP" and category in _TWO_PER_OP else 1)

    def term_weight(self, term: str) -> int:
        """Forward weight of one unit of ``term`` (a key of :data:`TERMS`): the category's
        :meth:`weight` for a canonical term, 0 for the others."""
        category, canonical, _ = TERMS[_term(term)]
        return self.weight(category) if canonical else 0

    def hides_params(self, term: str) -> bool:
        """Whether the parameters of ``term`` (a ``params`` term) are left out of the
        parameter count: never for a category-level convention."""
        _term(term)
        return False


_TWO_PER_OP = ("macs", "attention", "norm")


def _term(term: object) -> str:
    if not isinstance(term, str):
        raise TypeError(f"term must be a key of theory.arch.TERMS, got {term!r}")
    if term not in TERMS:
        raise ValueError(f"term must be a key of theory.arch.TERMS, got {term!r}")
    return term


@dataclass(frozen=True)
class CounterConvention:
    r"""A counting tool's convention as data: an integer weight per term.

    ``count = Σ weights[term] × term`` over every layer's :data:`TERMS` (terms not named
    weigh 0), so what a tool counts, and in which unit, is a table anyone can read and
    compare. ``hidden_params`` names the ``params`` terms whose parameters the tool does not
    report (thop cannot see ``nn.MultiheadAttention``); ``why`` gives, per weighted or hidden
    term, the tool's rule that explains the weight (for the docs page). ``name`` is the key
    in :data:`theory.counters.COUNTERS`; ``tool`` the package and call measured; ``unit``
    what one counted unit is (``"MAC"``, ``"FLOP"``, ``"mult-add"``, ``"op"``). ``covers``:
    the ops (``act.<kind>`` for activations) on which the table was measured against the
    tool, None for any; counting a spec with another op raises ``ValueError`` rather than
    guessing the tool's rule. ``fused_attention``: the tool runs under ``torch.no_grad()``
    in eval mode, where ``nn.MultiheadAttention`` with an even number of heads (batch
    first, self-attention, no masks) runs torch's fused fast path, one
    ``aten._native_multi_head_attention`` call the tool has no rule for: every operation
    term of such an attention layer weighs 0 (its parameters still count).
    """

    name: str
    tool: str
    unit: str
    weights: dict
    hidden_params: tuple[str, ...] = ()
    why: dict = field(default_factory=dict)
    covers: tuple[str, ...] | None = None
    fused_attention: bool = False

    def __post_init__(self) -> None:
        for attr in ("name", "tool", "unit"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value:
                raise TypeError(f"{attr} must be a non-empty string, got {value!r}")
        if not isinstance(self.weights, dict):
            raise TypeError(f"weights must be a dict of term: int, got {self.weights!r}")
        for term, w in self.weights.items():
            _term(term)
            if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 0:
                raise ValueError(f"weights[{term!r}] must be an integer >= 0, got {w!r}")
        if isinstance(self.hidden_params, TEXT) or not isinstance(self.hidden_params, tuple):
            raise TypeError(f"hidden_params must be a tuple of terms, got {self.hidden_params!r}")
        for term in self.hidden_params:
            if TERMS[_term(term)][0] != "per_param":
                raise ValueError(f"hidden_params must name per_param terms, got {term!r}")
        if not isinstance(self.why, dict) or not all(isinstance(v, str) for v in self.why.values()):
            raise TypeError(f"why must be a dict of term: reason, got {self.why!r}")
        for term in self.why:
            _term(term)
        if self.covers is not None:
            if isinstance(self.covers, TEXT) or not isinstance(self.covers, tuple):
                raise TypeError(f"covers must be a tuple of ops or None, got {self.covers!r}")
            kinds = tuple(f"act.{k}" for k in ACTIVATIONS)
            bad = [op for op in self.covers if op not in (*OPS, *kinds) or op == "act"]
            if bad:
                raise ValueError(f"covers must name ops of OPS (act.<kind>), got {bad!r}")
        if not isinstance(self.fused_attention, bool):
            raise TypeError(f"fused_attention must be True or False, got {self.fused_attention!r}")
        object.__setattr__(self, "weights", {k: int(v) for k, v in self.weights.items()})

    def __hash__(self) -> int:
        return hash((self.name, self.tool, tuple(sorted(self.weights.items()))))

    def term_weight(self, term: str) -> int:
        """Weight of one unit of ``term`` (0 when the table does not name it)."""
        return self.weights.get(_term(term), 0)

    def hides_params(self, term: str) -> bool:
        """Whether the tool leaves the parameters of ``term`` out of its parameter count."""
        return _term(term) in self.hidden_params


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

    def __post_init__(self) -> None:
        """Check the record: ``op`` one of :data:`OPS`, ``inputs`` node indices, ``shape`` 1 to
        3 sizes >= 1, ``params`` and every ``cost`` value >= 0 with keys in CATEGORIES."""
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.op, str) or self.op not in OPS:
            raise ValueError(f"op must be one of {OPS}, got {self.op!r}")
        if not isinstance(self.inputs, tuple | list) or any(
            isinstance(i, bool) or not isinstance(i, numbers.Integral) or i < 0 for i in self.inputs
        ):
            raise TypeError(f"inputs must be a tuple of node indices >= 0, got {self.inputs!r}")
        if not isinstance(self.attrs, dict):
            raise TypeError(f"attrs must be a dict, got {type(self.attrs).__name__}")
        if not isinstance(self.shape, tuple | list) or not 1 <= len(self.shape) <= 3:
            raise ValueError(f"shape must be a tuple of 1 to 3 sizes, got {self.shape!r}")
        if not isinstance(self.cost, dict):
            raise TypeError(f"cost must be a dict, got {type(self.cost).__name__}")
        unknown = [k for k in self.cost if k not in CATEGORIES]
        if unknown:
            raise ValueError(f"cost keys must be among {CATEGORIES}, got {unknown!r}")
        set_ = object.__setattr__
        set_(self, "inputs", tuple(int(i) for i in self.inputs))
        set_(self, "shape", tuple(_dim(v, f"shape[{i}]") for i, v in enumerate(self.shape)))
        set_(self, "params", _dim(self.params, "params", 0))
        set_(self, "cost", {k: _dim(v, f"cost[{k!r}]", 0) for k, v in self.cost.items()})


def attention_params(d: Dim) -> Dim:
    r"""Parameters of multi-head self-attention with biased Q, K, V and output projections:
    :math:`4d^2 + 4d`, whatever the number of heads (``002`` § Multi-Head Attention).
    ``d`` (the model width) is an integer >= 1 or an integer-valued SymPy expression."""
    d = _dim(d, "d")
    return 4 * d * d + 4 * d


def attention_cost(length: Dim, d: Dim, heads: Dim) -> dict[str, Dim]:
    r"""Cost of self-attention on :math:`L` tokens: :math:`4Ld^2` projection MACs,
    :math:`4Ld` bias additions, :math:`2L^2d` attention-matmul MACs (:math:`QK^\top` and
    :math:`AV`, :math:`L^2(d_k + d_v)` per head) and :math:`hL^2` softmax entries.
    ``length``, ``d``, ``heads`` are integers >= 1 (or SymPy expressions); ``heads`` must
    divide ``d`` (checked when both are integers)."""
    length, d, heads = _dim(length, "length"), _dim(d, "d"), _dim(heads, "heads")
    divides(heads, d, "heads", "d")
    return {
        "macs": 4 * length * d * d,
        "bias": 4 * length * d,
        "attention": 2 * length**2 * d,
        "activation": heads * length**2,
    }


def _kind(kind: object) -> str:
    if not isinstance(kind, str):
        raise TypeError(f"kind must be one of {tuple(GATES)}, got {kind!r}")
    if kind not in GATES:
        raise ValueError(f"kind must be one of {tuple(GATES)}, got {kind!r}")
    return kind


def _layer_inputs(input_size: Dim, hidden_size: Dim, num_layers: Dim, directions: int) -> Dim:
    r""":math:`\sum_l I_l` over the stacked layers: :math:`I + (n-1) D H`."""
    return input_size + (num_layers - 1) * directions * hidden_size


def recurrent_params(
    kind: str,
    input_size: Dim,
    hidden_size: Dim,
    num_layers: Dim = 1,
    bias: bool = True,
    bidirectional: bool = False,
) -> Dim:
    r"""Parameters of torch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``kind`` ``"rnn"``,
    ``"lstm"``, ``"gru"``: :math:`G = 1, 4, 3` gates), exactly as
    ``sum(p.numel() for p in module.parameters())`` counts them.

    Layer :math:`l` in direction :math:`d` holds ``weight_ih`` :math:`(GH, I_l)`,
    ``weight_hh`` :math:`(GH, H)` and, with ``bias``, *two* bias vectors ``bias_ih``,
    ``bias_hh`` of :math:`GH` each (torch keeps both; the documents' cells write one):

    .. math:: P = \sum_{l=0}^{n-1} D\,\bigl(G H (I_l + H) + 2 G H\,[\text{bias}]\bigr),
              \qquad I_0 = I,\; I_{l\ge1} = D H,

    :math:`D = 2` when ``bidirectional`` (layers after the first read both directions'
    outputs). ``input_size`` :math:`I`, ``hidden_size`` :math:`H`, ``num_layers``
    :math:`n` are integers >= 1 or integer-valued SymPy expressions; ``bias`` and
    ``bidirectional`` are bools. (PyTorch documentation, ``torch.nn.LSTM``, "Variables";
    ``000`` § Recurrent Layer Components.)
    """
    g = GATES[_kind(kind)]
    i, h = _dim(input_size, "input_size"), _dim(hidden_size, "hidden_size")
    n = _dim(num_layers, "num_layers")
    bias, bidirectional = flag(bias, "bias"), flag(bidirectional, "bidirectional")
    d = 2 if bidirectional else 1
    weights = d * g * h * (_layer_inputs(i, h, n, d) + n * h)
    return _simplify(weights + (2 * d * n * g * h if bias else 0))


def recurrent_cost(
    kind: str,
    length: Dim,
    input_size: Dim,
    hidden_size: Dim,
    num_layers: Dim = 1,
    bias: bool = True,
    bidirectional: bool = False,
) -> dict[str, Dim]:
    r"""Cost of torch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` on one sequence of ``length``
    :math:`L` steps (arguments as :func:`recurrent_params`), per layer and direction:

    * ``macs`` :math:`L\,G H (I_l + H)`: the input matmul :math:`W_{ih} x_t` and the hidden
      matmul :math:`W_{hh} h_{t-1}` at every step, the first included (torch multiplies the
      zero initial state too). A gate's two parts accumulate into one sum, as the
      concatenated product :math:`[W_{ih}\;W_{hh}][x_t; h_{t-1}]` would.
    * ``bias`` :math:`2 L G H` with ``bias`` (both of torch's vectors are added), else 0.
    * ``activation`` :math:`L H a`, :math:`a` = 1 (RNN: tanh or relu), 5 (LSTM: three
      sigmoid gates, tanh of the candidate, tanh of the cell), 3 (GRU: two sigmoids, tanh).
    * ``elementwise`` :math:`L H e`, :math:`e` = 0 (RNN), 4 (LSTM: :math:`f\odot c`,
      :math:`i\odot g`, their sum, :math:`o\odot\tanh c`), 5 (GRU:
      :math:`r\odot(W_{hn}h + b_{hn})`, its sum with the input part, which the reset gate
      keeps apart from the matmul, and :math:`h' = n + z\odot(h - n)` as torch computes it).

    With the default :class:`Convention` only ``macs`` count, and
    ``FlopCounterMode`` reports ``2 × macs`` (when it sees the matmuls: see
    :mod:`numerics.torch_arch`). ``length`` is an integer >= 1 or a SymPy expression.
    """
    g = GATES[_kind(kind)]
    length = _dim(length, "length")
    i, h = _dim(input_size, "input_size"), _dim(hidden_size, "hidden_size")
    n = _dim(num_layers, "num_layers")
    bias, bidirectional = flag(bias, "bias"), flag(bidirectional, "bidirectional")
    d = 2 if bidirectional else 1
    steps = d * n * length  # layer-direction-steps
    return {
        "macs": _simplify(length * d * g * h * (_layer_inputs(i, h, n, d) + n * h)),
        "bias": _simplify(2 * steps * g * h) if bias else 0,
        "activation": _simplify(steps * h * STEP_ACTIVATIONS[kind]),
        "elementwise": _simplify(steps * h * STEP_ELEMENTWISE[kind]),
    }


def _conv_args(out_channels, kernel_size, stride, padding, groups, bias, dilation) -> tuple:
    """A (transposed) convolution's arguments checked: sizes >= 1 (padding >= 0), bias a
    bool."""
    return (
        _dim(out_channels, "out_channels"), _dim(kernel_size, "kernel_size"),
        _dim(stride, "stride"), _dim(padding, "padding", 0), _dim(groups, "groups"),
        flag(bias, "bias"), _dim(dilation, "dilation"),
    )  # fmt: skip


def _same(a: Dim, b: Dim) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    diff = sympy.sympify(a) - sympy.sympify(b)
    return diff == 0 or sympy.simplify(diff) == 0


class Spec:
    """A network as a graph of layer specs (see the module docstring).

    Every method checks its arguments and that the shapes chain, raising ``TypeError`` /
    ``ValueError`` (:class:`SpecError` for shapes that do not chain) naming the argument or
    the layer. Node arguments (``x``, ``a``, ``b``, ``gate``, ``xs``) are indices returned by
    earlier calls on the same spec.

    >>> s = Spec("tiny")
    >>> x = s.input(3, 32, 32)
    >>> x = s.conv(x, 16, 3, padding=1, name="conv")  # with a bias, as nn.Conv2d
    >>> x = s.linear(s.flatten(s.adaptive_avgpool(x)), 10, name="fc")
    >>> s.params(), s.count()
    (618, 442528)
    """

    def __init__(self, name: str = "net") -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__} ({name!r})")
        self.name = name
        self.nodes: list[Node] = []

    # ------------------------------------------------------------------ bookkeeping
    def _node(self, x: int, what: str) -> Node:
        if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Integral):
            raise TypeError(f"{what} must be a node index returned by this spec, got {x!r}")
        if not 0 <= int(x) < len(self.nodes):
            raise ValueError(
                f"{what} must be a node index returned by this spec (0 to "
                f"{len(self.nodes) - 1}), got {x!r}"
            )
        return self.nodes[int(x)]

    def _label(self, name: object, op: str) -> str:
        return _name(name) or f"{op}{len(self.nodes)}"

    def _add(self, op, inputs, name, shape, params=0, attrs=None, **cost) -> int:
        name = name or f"{op}{len(self.nodes)}"
        unknown = set(cost) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown cost categories {sorted(unknown)}")
        self.nodes.append(
            Node(name, op, tuple(int(i) for i in inputs), attrs or {}, tuple(shape), params, cost)
        )
        return len(self.nodes) - 1

    def _rank(self, x: int, ranks: tuple[int, ...], what: str, label: str, op: str) -> Node:
        node = self._node(x, what)
        if len(node.shape) not in ranks:
            need = {1: "(d,)", 2: "(L, d)", 3: "(C, H, W)"}
            raise SpecError(
                f"layer {label!r} ({op}): {what} must be a node of shape "
                f"{' or '.join(need[r] for r in ranks)}, got {node.name!r} {node.shape}"
            )
        return node

    def _map(self, x: int, name: str | None, op: str) -> tuple[Node, str]:
        label = self._label(name, op)
        return self._rank(x, (3,), "x", label, op), label

    def shape(self, x: int) -> tuple[Dim, ...]:
        """Output shape of node ``x``."""
        return self._node(x, "x").shape

    # ------------------------------------------------------------------ layers
    def input(self, *shape: Dim, name: str = "input") -> int:
        """The input: ``(C, H, W)`` image, ``(L,)`` token ids or ``(L, d)`` embeddings."""
        label = _name(name)
        if label is None:
            raise TypeError("name must be a non-empty string, got None")
        if not 1 <= len(shape) <= 3:
            raise SpecError(f"input {label!r}: shape must have 1 to 3 dimensions, got {shape}")
        dims = tuple(_dim(v, f"input shape[{i}]") for i, v in enumerate(shape))
        return self._add("input", (), label, dims)

    def conv(
        self,
        x: int,
        out_channels: Dim,
        kernel_size: Dim,
        stride: Dim = 1,
        padding: Dim = 0,
        groups: Dim = 1,
        bias: bool = True,
        dilation: Dim = 1,
        name: str | None = None,
    ) -> int:
        r"""2-D convolution (square kernel): :func:`theory.conv.conv_params`, ``conv_macs``.
        ``bias`` defaults to True, as in ``nn.Conv2d`` and :func:`~theory.conv.conv_params`
        (before layercheck 0.2 it defaulted to False: pass ``bias=False`` before a norm)."""
        node, label = self._map(x, name, "conv")
        c, h, w = node.shape
        out_channels, kernel_size, stride, padding, groups, bias, dilation = _conv_args(
            out_channels, kernel_size, stride, padding, groups, bias, dilation
        )
        try:
            out_h = conv_output_size(h, kernel_size, stride, padding, dilation)
            out_w = conv_output_size(w, kernel_size, stride, padding, dilation)
            params = conv_params(c, out_channels, kernel_size, groups=groups, bias=bias)
            macs = conv_macs(c, out_channels, (kernel_size, kernel_size), (out_h, out_w), groups)
        except ValueError as err:
            raise SpecError(
                f"layer {label!r} (conv, input x = {node.name!r} {node.shape}): {err}"
            ) from None
        attrs = dict(
            in_channels=c, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
            padding=padding, groups=groups, bias=bias, dilation=dilation,
        )  # fmt: skip
        outputs = out_channels * out_h * out_w
        return self._add(
            "conv", (x,), label, (out_channels, out_h, out_w), params, attrs,
            macs=macs, bias=outputs if bias else 0,
        )  # fmt: skip

    def conv_transpose(
        self,
        x: int,
        out_channels: Dim,
        kernel_size: Dim,
        stride: Dim = 1,
        padding: Dim = 0,
        output_padding: Dim = 0,
        groups: Dim = 1,
        bias: bool = True,
        dilation: Dim = 1,
        name: str | None = None,
    ) -> int:
        r"""2-D transposed convolution (``nn.ConvTranspose2d``, square kernel): output size
        :func:`theory.conv.conv_transpose_output_size`, parameters
        :func:`~theory.conv.conv_params`, MACs :func:`~theory.conv.conv_transpose_macs`
        (every *input* element times :math:`(C_{out}/G)K^2` weights; no MAC is spent on the
        zeros a stride inserts). ``output_padding`` must be below ``max(stride, dilation)``."""
        node, label = self._map(x, name, "conv_transpose")
        c, h, w = node.shape
        out_channels, kernel_size, stride, padding, groups, bias, dilation = _conv_args(
            out_channels, kernel_size, stride, padding, groups, bias, dilation
        )
        output_padding = _dim(output_padding, "output_padding", 0)
        if not is_symbolic(output_padding, stride, dilation) and output_padding >= max(
            stride, dilation
        ):
            raise ValueError(
                f"output_padding must be smaller than max(stride, dilation) = "
                f"{max(stride, dilation)}, got {output_padding}"
            )
        try:
            out = [
                conv_transpose_output_size(v, kernel_size, stride, padding, output_padding,
                                           dilation)
                for v in (h, w)
            ]  # fmt: skip
            if any(not is_symbolic(v) and v < 1 for v in out):
                raise ValueError(f"output size {tuple(out)} < 1")
            params = conv_params(c, out_channels, kernel_size, groups=groups, bias=bias)
            macs = conv_transpose_macs(c, out_channels, kernel_size, (h, w), groups)
        except ValueError as err:
            raise SpecError(
                f"layer {label!r} (conv_transpose, input x = {node.name!r} {node.shape}): {err}"
            ) from None
        attrs = dict(
            in_channels=c, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
            padding=padding, output_padding=output_padding, groups=groups, bias=bias,
            dilation=dilation,
        )  # fmt: skip
        outputs = out_channels * out[0] * out[1]
        return self._add(
            "conv_transpose", (x,), label, (out_channels, *out), params, attrs,
            macs=macs, bias=outputs if bias else 0,
        )  # fmt: skip

    def linear(self, x: int, out_features: Dim, bias: bool = True, name: str | None = None) -> int:
        r"""Dense layer on the last axis: :math:`n\,m` MACs per row (:mod:`theory.linear`)."""
        label = self._label(name, "linear")
        node = self._rank(x, (1, 2), "x", label, "linear")
        out_features, bias = _dim(out_features, "out_features"), flag(bias, "bias")
        rows = node.shape[0] if len(node.shape) == 2 else 1
        n_in = node.shape[-1]
        params = linear_params(n_in, out_features, bias)
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
        """LayerNorm over the last axis (affine): :math:`2d` parameters; ``eps`` a finite
        real number > 0."""
        node = self._node(x, "x")
        label = self._label(name, "layernorm")
        eps = _positive_real(eps, "eps")
        return self._add(
            "layernorm", (x,), label, node.shape, 2 * node.shape[-1], {"eps": eps},
            norm=product(node.shape),
        )  # fmt: skip

    def act(self, x: int, kind: str = "relu", name: str | None = None) -> int:
        """Elementwise nonlinearity, ``kind`` one of :data:`ACTIVATIONS` (``relu``,
        ``relu6``, ``gelu``, ``silu``, ``sigmoid``, ``tanh``, ``hardswish``)."""
        node = self._node(x, "x")
        if not isinstance(kind, str):
            raise TypeError(f"kind must be one of {ACTIVATIONS}, got {kind!r}")
        if kind not in ACTIVATIONS:
            raise ValueError(f"kind must be one of {ACTIVATIONS}, got {kind!r}")
        label = self._label(name, kind)
        return self._add(
            "act", (x,), label, node.shape, 0, {"kind": kind}, activation=product(node.shape)
        )

    def _pool(self, op, x, kernel_size, stride, padding, name) -> int:
        node, label = self._map(x, name, op)
        c, h, w = node.shape
        k = _dim(kernel_size, "kernel_size")
        s = k if stride is None else _dim(stride, "stride")
        p = _dim(padding, "padding", 0)
        try:
            out = [pool_output_size(v, k, s, p) for v in (h, w)]
        except ValueError as err:
            raise SpecError(
                f"layer {label!r} ({op}, input x = {node.name!r} {node.shape}): {err}"
            ) from None
        attrs = dict(kernel_size=k, stride=s, padding=p)
        reads = c * out[0] * out[1] * k**2
        return self._add(op, (x,), label, (c, *out), 0, attrs, pool=reads)

    def maxpool(self, x, kernel_size, stride=None, padding=0, name=None) -> int:
        """Max pooling (:func:`theory.conv.pool_output_size`; ``stride`` None = kernel)."""
        return self._pool("maxpool", x, kernel_size, stride, padding, name)

    def avgpool(self, x, kernel_size, stride=None, padding=0, name=None) -> int:
        """Average pooling (``count_include_pad``: every window reads ``kernel_size²``)."""
        return self._pool("avgpool", x, kernel_size, stride, padding, name)

    def adaptive_avgpool(self, x: int, output_size: int = 1, name: str | None = None) -> int:
        """Adaptive average pooling to ``(C, O, O)`` (torch's windows, :mod:`theory.pooling`);
        ``pool`` counts every element each window reads. ``output_size`` at most
        :data:`theory._args.MAX_ITEMS` (the windows are enumerated); symbolic only for 1."""
        node, label = self._map(x, name, "adaptive_avgpool")
        c, h, w = node.shape
        o = _dim(output_size, "output_size")
        if o == 1:
            reads = product(node.shape)
        elif is_symbolic(h, w, o):
            raise SpecError(
                f"layer {label!r}: output_size must be 1 when the input size or output_size "
                f"is symbolic, got output_size={o!r} for input {node.shape}"
            )
        else:
            from theory.pooling import adaptive_read_count

            bounded(o, "output_size", MAX_ITEMS)
            reads = c * adaptive_read_count(h, o) * adaptive_read_count(w, o)
        return self._add(
            "adaptive_avgpool", (x,), label, (c, o, o), 0, {"output_size": o}, pool=reads
        )

    def flatten(self, x: int, name: str | None = None) -> int:
        """``(C, H, W)`` to ``(C·H·W,)`` (torch's ``flatten(1)``)."""
        node = self._node(x, "x")
        return self._add("flatten", (x,), self._label(name, "flatten"), (product(node.shape),))

    def add(self, a: int, b: int, name: str | None = None) -> int:
        """Residual addition of two equal shapes."""
        na, nb = self._node(a, "a"), self._node(b, "b")
        label = self._label(name, "add")
        if len(na.shape) != len(nb.shape) or not all(map(_same, na.shape, nb.shape)):
            raise SpecError(
                f"layer {label!r} (add): shapes differ, {na.name!r} {na.shape} vs "
                f"{nb.name!r} {nb.shape} (a and b must have equal shapes)"
            )
        return self._add("add", (a, b), label, na.shape, 0, {}, elementwise=product(na.shape))

    def scale(self, x: int, gate: int, name: str | None = None) -> int:
        """Channel gating ``x * gate`` with ``gate`` of shape ``(C, 1, 1)`` (squeeze-excite)."""
        nx, ng = self._node(x, "x"), self._node(gate, "gate")
        label = self._label(name, "scale")
        fits = (
            len(nx.shape) == 3
            and len(ng.shape) == 3
            and _same(ng.shape[0], nx.shape[0])
            and tuple(ng.shape[1:]) == (1, 1)
        )
        if not fits:
            raise SpecError(
                f"layer {label!r} (scale): gate {ng.name!r} {ng.shape} does not match "
                f"x {nx.name!r} {nx.shape}; x must be (C, H, W) and gate (C, 1, 1)"
            )
        return self._add("scale", (x, gate), label, nx.shape, 0, {}, elementwise=product(nx.shape))

    def concat(self, xs: Sequence[int], name: str | None = None) -> int:
        """Concatenate feature maps ``xs`` (node indices) along channels (equal spatial
        sizes)."""
        if isinstance(xs, TEXT) or not isinstance(xs, Sequence):
            raise TypeError(f"xs must be a sequence of node indices, got {xs!r}")
        label = self._label(name, "concat")
        if not xs:
            raise ValueError(f"layer {label!r} (concat): xs must hold at least one node index")
        nodes = [self._rank(x, (3,), f"xs[{i}]", label, "concat") for i, x in enumerate(xs)]
        first = nodes[0]
        for i, n in enumerate(nodes[1:], 1):
            if not all(map(_same, n.shape[1:], first.shape[1:])):
                raise SpecError(
                    f"layer {label!r} (concat): spatial sizes differ, xs[0] {first.name!r} "
                    f"{first.shape} vs xs[{i}] {n.name!r} {n.shape}"
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
        label = self._label(name, "cls_token")
        length, d = self._rank(x, (2,), "x", label, "cls_token").shape
        return self._add("cls_token", (x,), label, (length + 1, d), d)

    def embedding(self, x: int, vocab: Dim, d: Dim, name: str | None = None) -> int:
        r"""Token ids ``(L,)`` to ``(L, d)`` by a table :math:`E \in \mathbb R^{V\times d}`
        of :math:`V d` parameters (``nn.Embedding(num_embeddings=V, embedding_dim=d)``;
        ``vocab`` :math:`V` and ``d`` integers >= 1 or SymPy expressions). Token :math:`w`
        becomes row :math:`E[w,:]` (``000`` § Embedding Layers), the one-hot product
        :math:`e_w^\top E` done as a gather: no arithmetic, so no cost in any category
        (``FlopCounterMode`` records none either)."""
        label = self._label(name, "embedding")
        node = self._rank(x, (1,), "x", label, "embedding")
        vocab, d = _dim(vocab, "vocab"), _dim(d, "d")
        return self._add(
            "embedding", (x,), label, (node.shape[0], d), vocab * d, {"vocab": vocab, "d": d}
        )

    def table_add(self, x: int, rows: Dim, index: str = "position", name: str | None = None) -> int:
        """Add rows of a learned ``(rows, d)`` table: row :math:`i` to token :math:`i`
        (``index="position"``, needs rows ≥ L) or row 0 to every token (``"zero"``)."""
        label = self._label(name, "table_add")
        length, d = self._rank(x, (2,), "x", label, "table_add").shape
        rows = _dim(rows, "rows")
        if not isinstance(index, str):
            raise TypeError(f"index must be 'position' or 'zero', got {index!r}")
        if index not in ("position", "zero"):
            raise ValueError(f"index must be 'position' or 'zero', got {index!r}")
        if index == "position" and not is_symbolic(rows, length) and rows < length:
            raise SpecError(
                f"layer {label!r} (table_add): rows={rows} must be at least the number of "
                f"tokens {length} for index='position'"
            )
        return self._add(
            "table_add", (x,), label, (length, d), rows * d, {"rows": rows, "index": index},
            elementwise=length * d,
        )  # fmt: skip

    def attention(self, x: int, heads: Dim, name: str | None = None) -> int:
        """Multi-head self-attention (``nn.MultiheadAttention``): :func:`attention_params`,
        :func:`attention_cost`; ``heads`` must divide the width ``d``."""
        label = self._label(name, "attention")
        length, d = self._rank(x, (2,), "x", label, "attention").shape
        h = _dim(heads, "heads")
        if not is_symbolic(h, d) and d % h:
            raise SpecError(f"layer {label!r} (attention): heads={h} must divide d={d}")
        return self._add(
            "attention", (x,), label, (length, d), attention_params(d), {"heads": h, "d": d},
            **attention_cost(length, d, h),
        )  # fmt: skip

    def _recurrent(self, kind, x, hidden_size, num_layers, bias, bidirectional, name, **extra):
        label = self._label(name, kind)
        length, d = self._rank(x, (2,), "x", label, kind).shape
        h, n = _dim(hidden_size, "hidden_size"), _dim(num_layers, "num_layers")
        bias, bidirectional = flag(bias, "bias"), flag(bidirectional, "bidirectional")
        params = recurrent_params(kind, d, h, n, bias, bidirectional)
        cost = recurrent_cost(kind, length, d, h, n, bias, bidirectional)
        attrs = dict(
            input_size=d, hidden_size=h, num_layers=n, bias=bias, bidirectional=bidirectional,
            **extra,
        )  # fmt: skip
        out = (length, (2 if bidirectional else 1) * h)
        return self._add(kind, (x,), label, out, params, attrs, **cost)

    def rnn(
        self,
        x: int,
        hidden_size: Dim,
        num_layers: Dim = 1,
        bias: bool = True,
        bidirectional: bool = False,
        nonlinearity: str = "tanh",
        name: str | None = None,
    ) -> int:
        r"""Elman RNN (``nn.RNN``) over the tokens of ``x`` ``(L, d)``:
        :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, ``nonlinearity``
        :math:`\phi` ``"tanh"`` or ``"relu"``; output ``(L, D·H)`` (all steps' hidden states
        of the last layer, both directions concatenated). Counts:
        :func:`recurrent_params`, :func:`recurrent_cost` (``kind="rnn"``)."""
        if not isinstance(nonlinearity, str):
            raise TypeError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        return self._recurrent(
            "rnn", x, hidden_size, num_layers, bias, bidirectional, name,
            nonlinearity=nonlinearity,
        )  # fmt: skip

    def lstm(
        self,
        x: int,
        hidden_size: Dim,
        num_layers: Dim = 1,
        bias: bool = True,
        bidirectional: bool = False,
        name: str | None = None,
    ) -> int:
        r"""LSTM (``nn.LSTM``, no projection) over the tokens of ``x`` ``(L, d)``: gates
        :math:`i, f, g, o` of :math:`H` rows each, :math:`c_t = f\odot c_{t-1} + i\odot g`,
        :math:`h_t = o\odot\tanh c_t`; output ``(L, D·H)``. Counts:
        :func:`recurrent_params`, :func:`recurrent_cost` (``kind="lstm"``)."""
        return self._recurrent("lstm", x, hidden_size, num_layers, bias, bidirectional, name)

    def gru(
        self,
        x: int,
        hidden_size: Dim,
        num_layers: Dim = 1,
        bias: bool = True,
        bidirectional: bool = False,
        name: str | None = None,
    ) -> int:
        r"""GRU (``nn.GRU``, torch's form: the reset gate multiplies
        :math:`W_{hn}h + b_{hn}`) over the tokens of ``x`` ``(L, d)``; output ``(L, D·H)``.
        Counts: :func:`recurrent_params`, :func:`recurrent_cost` (``kind="gru"``)."""
        return self._recurrent("gru", x, hidden_size, num_layers, bias, bidirectional, name)

    def select(self, x: int, index: int = 0, name: str | None = None) -> int:
        """Token ``index`` of ``(L, d)``: ``(d,)``; ``0 <= index < L``."""
        label = self._label(name, "select")
        length, d = self._rank(x, (2,), "x", label, "select").shape
        if isinstance(index, bool | np.bool_) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an integer >= 0, got {index!r}")
        index = int(index)
        if index < 0 or (not is_symbolic(length) and index >= length):
            raise ValueError(f"index must satisfy 0 <= index < {length} (tokens), got {index}")
        return self._add("select", (x,), label, (d,), 0, {"index": index})

    # ------------------------------------------------------------------ counts
    def node_terms(self, x: int) -> dict[str, Dim]:
        """The :data:`TERMS` of node ``x`` (per sample; zero terms left out)."""
        n = self._node(x, "x")
        get, op = n.cost.get, n.op
        strided = op in ("linear", "attention") and self._strided()[n.inputs[0]]
        if op in ("conv", "conv_transpose", "linear"):
            bias = f"{op}.bias_add" if strided else f"{op}.bias"
            t = {f"{op}.macs": get("macs", 0), bias: get("bias", 0)}
        elif op == "attention":
            length, d = n.shape
            in_proj = 3 * get("bias", 0) // 4 if strided else 0  # Q, K, V of the four
            t = {
                "attention.proj_macs": get("macs", 0),
                "attention.proj_bias": get("bias", 0) - in_proj,
                "attention.in_proj_bias_add": in_proj,
                "attention.matmul_macs": get("attention", 0),
                "attention.softmax": get("activation", 0),
                "attention.scale": length * d,
            }
        elif op in ("batchnorm", "layernorm"):
            t = {f"{op}.elements": get("norm", 0)}
        elif op == "act":
            t = {f"act.{n.attrs['kind']}": get("activation", 0)}
        elif op in ("maxpool", "avgpool", "adaptive_avgpool"):
            t = {
                f"{op}.reads": get("pool", 0),
                f"{op}.inputs": product(self.nodes[n.inputs[0]].shape),
                f"{op}.outputs": product(n.shape),
            }
        elif op in ("add", "scale", "table_add"):
            t = {f"{op}.elements": get("elementwise", 0)}
        elif op in GATES:
            t = {f"{op}.{c}": get(c, 0) for c in ("macs", "bias", "activation", "elementwise")}
        else:
            t = {}
        if f"{op}.params" in TERMS:
            t[f"{op}.params"] = n.params
        return {k: v for k, v in t.items() if not (isinstance(v, int) and v == 0)}

    def _strided(self) -> list[bool]:
        """Per node: whether torch holds its output as a non-contiguous tensor, at batch 1, in
        the module :func:`numerics.torch_arch.to_module` builds. ``to_tokens`` is a
        transpose (non-contiguous unless L or C is 1); elementwise nonlinearities keep their
        input's layout, an addition its first operand's; everything else writes a fresh
        contiguous tensor (a class token's concatenation makes the tokens contiguous).
        Torch adds the bias of a linear on such a 3-D input after the matmul instead of in
        ``addmm``, which some counters miss (the ``*_bias_add`` terms)."""
        out: list[bool] = []
        for n in self.nodes:
            if n.op == "to_tokens":
                out.append(all(not (isinstance(v, int) and v == 1) for v in n.shape))
            elif n.op in ("act", "table_add", "add"):
                out.append(out[n.inputs[0]])
            else:
                out.append(False)
        return out

    def terms(self) -> dict[str, Dim]:
        """Totals of every :data:`TERMS` entry over the network (per sample; zeros left out)."""
        out: dict[str, sympy.Expr] = {}
        for i in range(len(self.nodes)):
            for term, v in self.node_terms(i).items():
                out[term] = out.get(term, sympy.Integer(0)) + sympy.sympify(v)
        return {k: _simplify(v) for k, v in out.items() if v != 0}

    def params(self, convention: Convention | CounterConvention | None = None) -> Dim:
        """Exact number of parameters (trainable; BatchNorm running statistics excluded); with
        a ``convention``, the parameters that convention's tool reports (a
        :class:`CounterConvention`'s ``hidden_params`` left out)."""
        if convention is not None:
            _convention(convention)
        total = sympy.Add(*[sympy.sympify(n.params) for n in self.nodes])
        if convention is not None:
            for i in range(len(self.nodes)):
                for term, v in self.node_terms(i).items():
                    if TERMS[term][0] == "per_param" and convention.hides_params(term):
                        total -= sympy.sympify(v)
        return _simplify(total)

    def _requires_grad(self) -> list[bool]:
        """Per node: whether its output depends on a parameter (so autograd needs it)."""
        out: list[bool] = []
        for n in self.nodes:
            has = not (isinstance(n.params, int) and n.params == 0)
            out.append(has or any(out[i] for i in n.inputs))
        return out

    def _weighted(self, convention) -> list[dict[str, sympy.Expr]]:
        """Per node: ``{term: weight × value}`` under ``convention`` (weighted terms only)."""
        _convention(convention)
        backward = isinstance(convention, Convention) and convention.backward
        needs = self._requires_grad() if backward else []
        covers = getattr(convention, "covers", None)
        rows = []
        for i, n in enumerate(self.nodes):
            key = f"act.{n.attrs['kind']}" if n.op == "act" else n.op
            if covers is not None and key not in covers:
                raise ValueError(
                    f"convention {convention.name!r} was not measured on {key} (layer "
                    f"{n.name!r}); it covers {', '.join(covers)}"
                )
            row = {}
            fused = n.op == "attention" and getattr(convention, "fused_attention", False)
            if fused and is_symbolic(n.attrs["heads"]):
                raise ValueError(
                    f"convention {convention.name!r} needs an integer number of heads (layer "
                    f"{n.name!r}): torch fuses the attention only when it is even"
                )
            hidden = fused and n.attrs["heads"] % 2 == 0
            for term, v in self.node_terms(i).items():
                w = convention.term_weight(term)
                if hidden and TERMS[term][0] != "per_param":
                    w = 0
                if not w:
                    continue
                v = sympy.sympify(v)
                if backward:
                    input_grad = any(needs[j] for j in n.inputs)
                    v = _training_step(n, term, v, input_grad)
                row[term] = w * v
            rows.append(row)
        return rows

    def weighted_terms(
        self, convention: Convention | CounterConvention = TORCHVISION_OPS
    ) -> dict[str, Dim]:
        """``{term: weight × term}`` summed over the layers under ``convention`` (training
        step and fused attention layers applied; zero entries left out): where a count comes
        from. Their sum is :meth:`count`."""
        out: dict[str, sympy.Expr] = {}
        for row in self._weighted(convention):
            for term, v in row.items():
                out[term] = out.get(term, sympy.Integer(0)) + v
        return {k: _simplify(v) for k, v in out.items() if v != 0}

    def count(self, convention: Convention | CounterConvention = TORCHVISION_OPS) -> Dim:
        """Exact operation count per sample under ``convention``: a category-level
        :class:`Convention` (forward, or a training step with ``backward=True``) or a
        tool's :class:`CounterConvention` (see :mod:`theory.counters`)."""
        total = sympy.Add(*[v for row in self._weighted(convention) for v in row.values()])
        return _simplify(total)

    def layer_table(
        self, convention: Convention | CounterConvention = TORCHVISION_OPS
    ) -> list[dict]:
        """One record per layer (the input node left out), as torchinfo's summary lists
        them: ``layer`` (name), ``op``, ``output_shape`` (per sample), ``params`` (reported
        under ``convention``), ``count`` (under ``convention``) and that count split by
        :data:`TERM_CATEGORIES` (every category present, 0 when none). Plain dicts: no
        pandas needed; :func:`format_layer_table` prints them."""
        rows = self._weighted(convention)
        out = []
        for i, (n, row) in enumerate(zip(self.nodes, rows, strict=True)):
            if n.op == "input":
                continue
            hidden = sympy.Add(*[
                sympy.sympify(v) for t, v in self.node_terms(i).items()
                if TERMS[t][0] == "per_param" and convention.hides_params(t)
            ])  # fmt: skip
            by = {c: sympy.Integer(0) for c in TERM_CATEGORIES}
            for term, v in row.items():
                by[TERMS[term][0]] += v
            record = {"layer": n.name, "op": n.op, "output_shape": tuple(n.shape),
                      "params": _simplify(sympy.sympify(n.params) - hidden),
                      "count": _simplify(sympy.Add(*row.values()))}  # fmt: skip
            record.update({c: _simplify(v) for c, v in by.items()})
            out.append(record)
        return out

    def breakdown(self) -> dict[str, Dim]:
        """Totals per cost category."""
        out = {c: sympy.Integer(0) for c in CATEGORIES}
        for n in self.nodes:
            for category, value in n.cost.items():
                out[category] += sympy.sympify(value)
        return {c: _simplify(v) for c, v in out.items()}

    def subs(self, values: dict) -> dict[str, int]:
        """Parameters and default-convention count with the symbols replaced by ``values``
        (a dict from SymPy symbols to positive integers or positive rationals); every symbol
        must get a value and the counts must come out as integers."""
        if not isinstance(values, dict):
            raise TypeError(f"values must be a dict of symbol: number, got {values!r}")
        clean = {}
        for key, value in values.items():
            if not isinstance(key, sympy.Symbol):
                raise TypeError(f"values keys must be SymPy symbols, got {key!r}")
            if isinstance(value, bool | np.bool_) or not isinstance(
                value, numbers.Rational | sympy.Rational
            ):
                raise TypeError(f"values[{key}] must be an integer or a rational, got {value!r}")
            v = sympy.Rational(int(value)) if isinstance(value, numbers.Integral) else value
            if not v > 0:
                raise ValueError(f"values[{key}] must be > 0, got {value!r}")
            clean[key] = sympy.sympify(v)
        out = {}
        for what, expr in (("params", self.params()), ("macs", self.count())):
            got = sympy.sympify(expr).subs(clean)
            if not got.is_Integer:
                raise ValueError(
                    f"values must give every symbol a value that makes the counts integers; "
                    f"{what} = {got}"
                )
            out[what] = int(got)
        return out


def _simplify(expr: sympy.Expr) -> Dim:
    expr = sympy.expand(expr)
    return int(expr) if expr.is_Integer else expr


def _training_step(n: Node, term: str, v: sympy.Expr, input_grad: bool) -> sympy.Expr:
    r"""Units of ``term`` (forward total ``v``) in one training step of layer ``n``, whose
    input needs a gradient when ``input_grad``; see :class:`Convention`.

    * Convolution, transposed convolution, linear: forward + weight gradient + input
      gradient when needed (:math:`v(2 + [\text{input grad}])`).
    * Attention projections: the output projection's input (the attention output) always
      needs its gradient, the Q, K, V projections' input only when ``input_grad``:
      :math:`2v + v/4 + [\text{input grad}]\,3v/4` (:math:`v = 4Ld^2`).
    * Attention matmuls: :math:`3v` (Q, K and V come from weights).
    * Recurrent matmuls :math:`v = L D G H (I_0 + (n-1) D H + n H)`: weight gradients of
      all of them; the input gradient of the first layer's input part only when needed, of
      later layers' always; the hidden-state gradient at every step but the first
      (:math:`h_0` is a constant): :math:`n (L-1) D G H^2` more.
    * Anything else: :math:`v(1 + [\text{input grad}] + [\text{parameters}])`, a convention.
    """
    has_params = not (isinstance(n.params, int) and n.params == 0)
    if term in WEIGHT_MAC_TERMS and term != "attention.proj_macs":
        return v * (2 + int(input_grad))
    if term == "attention.proj_macs":
        return 2 * v + v / 4 + (3 * v / 4 if input_grad else 0)
    if term == "attention.matmul_macs":
        return 3 * v
    if n.op in GATES and term == f"{n.op}.macs":
        a, (length, _) = n.attrs, n.shape
        g, h, layers = GATES[n.op], a["hidden_size"], a["num_layers"]
        d = 2 if a["bidirectional"] else 1
        first_inputs = length * d * g * h * a["input_size"]
        later_inputs = length * d * g * h * (layers - 1) * d * h
        hidden = layers * (length - 1) * d * g * h * h
        return 2 * v + (first_inputs if input_grad else 0) + later_inputs + hidden
    return v * (1 + int(input_grad) + int(has_params))


def _convention(convention: object) -> Convention | CounterConvention:
    if not isinstance(convention, Convention | CounterConvention):
        raise TypeError(
            "convention must be a Convention or a CounterConvention, got "
            f"{type(convention).__name__}"
        )
    return convention


_TABLE_KEYS = ("layer", "op", "output_shape", "params", "count", *TERM_CATEGORIES)
#: Column titles of categories whose key reads badly in a table.
CATEGORY_LABELS = {"per_param": "per parameter"}


def format_layer_table(records: Sequence[dict], title: str = "") -> str:
    """A per-layer table as text (as torchinfo prints one): layer, op, output shape,
    parameters, count, then one column per :data:`TERM_CATEGORIES` entry that is nonzero
    somewhere, and a total row. ``records`` are :meth:`Spec.layer_table` (or
    :func:`numerics.torch_arch.count_module`'s ``"layers"``) records; ``title`` an optional
    first line."""
    if isinstance(records, TEXT) or not isinstance(records, Sequence):
        raise TypeError(f"records must be a sequence of layer records, got {records!r}")
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {title!r}")
    for i, r in enumerate(records):
        if not isinstance(r, dict) or set(_TABLE_KEYS) - set(r):
            raise ValueError(f"records[{i}] must be a dict with keys {_TABLE_KEYS}, got {r!r}")
    cats = [c for c in TERM_CATEGORIES if any(r[c] != 0 for r in records)]
    head = ["layer", "op", "output shape", "params", "count",
            *(CATEGORY_LABELS.get(c, c) for c in cats)]  # fmt: skip
    total = {k: _simplify(sympy.Add(*[sympy.sympify(r[k]) for r in records]))
             for k in ("params", "count", *cats)}  # fmt: skip

    def num(v) -> str:
        return f"{v:,}" if isinstance(v, int) else str(v)

    body = [
        [str(r["layer"]), str(r["op"]), "×".join(map(str, r["output_shape"])),
         num(r["params"]), num(r["count"]), *(num(r[c]) for c in cats)]
        for r in records
    ]  # fmt: skip
    foot = ["total", "", "", num(total["params"]), num(total["count"]),
            *(num(total[c]) for c in cats)]  # fmt: skip
    widths = [max(len(row[j]) for row in (head, *body, foot)) for j in range(len(head))]

    def line(row) -> str:
        cells = [
            v.ljust(w) if j < 3 else v.rjust(w)
            for j, (v, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(head))
    lines = ([title] if title else []) + [line(head), rule, *map(line, body), rule, line(foot)]
    return "\n".join(lines)
