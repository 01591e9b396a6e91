r"""What each popular operation counter counts, as data: one :class:`~theory.arch.CounterConvention`
per tool and mode, from which :meth:`theory.arch.Spec.count` reproduces the tool's number
exactly.

Every convention is a table of integer weights on :data:`theory.arch.TERMS` (conv MACs, conv
bias outputs, BatchNorm elements, pool inputs, attention projections …) plus the parameters
the tool cannot see. The weights were read off each tool's source and then measured, operation
by operation, on the eight reference networks of :mod:`theory.architectures` built as torch
modules (``scripts/measure_counters.py``); ``tests/test_counters.py`` runs every tool itself
and asserts equality, network by network and on hypothesis-drawn networks — with one
exception no integer weight can express: thop computes an adaptive average pool's count in
float64 and truncates it, which can fall 1 below inputs + outputs when the output size does
not divide the input size (never on the reference networks; the test computes that
truncation). Hardswish is in no convention's ``covers``: no reference network has it, so
no tool's rule for it was measured.

========================  =================================================================
key                       tool and call (pinned versions in ``requirements.lock``)
========================  =================================================================
``torchvision``           torchvision's published ``_ops`` (GMACs) — our default
``fvcore``                ``fvcore.nn.FlopCountAnalysis(m, x).total()`` (grad enabled)
``fvcore_no_grad``        the same under ``torch.no_grad()``
``ptflops_pytorch``       ``ptflops.get_model_complexity_info(..., backend="pytorch")``
``ptflops_aten``          ``ptflops.get_model_complexity_info(..., backend="aten")``
``ptflops_aten_no_grad``  the same under ``torch.no_grad()``
``thop``                  ``thop.profile(m, inputs=(x,))``
``torchinfo``             ``torchinfo.summary(m, input_data=x).total_mult_adds``
``flopcounter_meta``      ``torch.utils.flop_counter.FlopCounterMode`` on the ``meta`` device
``flopcounter_cpu``       ``FlopCounterMode`` on CPU tensors, grad enabled
``flopcounter_cpu_no_grad`` ``FlopCounterMode`` on CPU tensors under ``torch.no_grad()``
========================  =================================================================

Two effects decide most differences besides the weights:

* **Grad mode.** Under ``torch.no_grad()`` in eval mode, ``nn.MultiheadAttention`` takes
  torch's fused fast path, one ``aten._native_multi_head_attention`` call that fvcore,
  ptflops' aten backend and ``FlopCounterMode`` have no formula for: the projections
  (:math:`4Ld^2` MACs per layer) vanish from their counts too.
* **Blindness.** thop only counts modules whose exact type it has a rule for;
  ``nn.MultiheadAttention`` (and its ``out_proj``, a subclass of ``nn.Linear``) has none, so
  the whole attention — its operations *and* its parameters — is missing from thop's
  numbers, as are parameters held directly by a container (class token, position table).

``scaled_dot_product_attention`` on CPU (``_scaled_dot_product_flash_attention_for_cpu``)
has no ``FlopCounterMode`` formula in torch 2.13, so on CPU with grad enabled the attention
matmuls are not counted; on ``meta`` the attention decomposes to ``bmm`` and is.
"""

from __future__ import annotations

from theory.arch import CounterConvention

__all__ = ["COUNTERS", "COVERED_OPS", "counter"]

#: Operations (``Node.op``; activations as ``act.<kind>``) on which every convention here was
#: measured against its tool. Counting a spec with another operation under a tool's
#: convention raises ``ValueError``: an unmeasured rule is not guessed.
COVERED_OPS = (
    "input", "conv", "linear", "batchnorm", "layernorm", "act.relu", "act.relu6", "act.gelu",
    "act.silu", "act.sigmoid", "act.tanh", "maxpool", "avgpool", "adaptive_avgpool", "flatten",
    "add", "scale", "concat", "to_tokens", "cls_token", "embedding", "table_add", "attention",
    "select",
)  # fmt: skip

_MM = {"conv.macs": 1, "linear.macs": 1}
_FCM = {"conv.macs": 2, "linear.macs": 2}
_HIDDEN_THOP = ("attention.params", "cls_token.params", "table_add.params", "embedding.params")

_WHY_FCM = {
    "conv.macs": "aten.convolution: 2 FLOPs per MAC",
    "linear.macs": "aten.mm / addmm: 2 FLOPs per MAC; the bias of addmm is not counted",
    "attention.proj_macs": "the projections run as addmm/mm/linear: 2 FLOPs per MAC",
    "attention.matmul_macs": "on meta the attention decomposes to bmm: 2 FLOPs per MAC",
}
_WHY_NO_GRAD = (
    "under no_grad an eval-mode nn.MultiheadAttention with an even number of heads runs the "
    "fused aten._native_multi_head_attention instead: no formula, so the whole layer counts 0 "
    "(fused_attention); with an odd number of heads torch does not fuse and the projections "
    "count as with grad"
)
_WHY_BIAS_ADD = (
    "F.linear on a non-contiguous 3-D input (tokens straight from a transpose, at batch 1; "
    "any nn.MultiheadAttention input projection at batch > 1) runs aten.bmm + aten.add, not "
    "addmm, and only addmm's bias is mapped: 0"
)


def _c(
    name, tool, unit, weights, why, hidden=(), covers=COVERED_OPS, fused=False
) -> CounterConvention:
    return CounterConvention(name, tool, unit, weights, tuple(hidden), why, tuple(covers), fused)


_FVCORE = {**_MM, "attention.proj_macs": 1, "batchnorm.elements": 2, "layernorm.elements": 5,
           "adaptive_avgpool.inputs": 1}  # fmt: skip
_PTFLOPS_ATEN = {**_MM, "conv.bias": 1, "linear.bias": 1, "attention.proj_macs": 1,
                 "attention.proj_bias": 1}  # fmt: skip
_FCM_CPU = {**_FCM, "conv_transpose.macs": 2, "attention.proj_macs": 2}


COUNTERS: dict[str, CounterConvention] = {
    c.name: c
    for c in (
        _c(
            "torchvision", "torchvision weights' published _ops (GMACs)", "MAC",
            {**_MM, "attention.proj_macs": 1, "attention.matmul_macs": 1},
            {"conv.macs": "convolution and linear MACs, bias and everything else left out",
             "attention.matmul_macs": "QK^T and AV are counted (2 L^2 d per layer)"},
        ),
        _c(
            "fvcore", "fvcore 0.1.5 FlopCountAnalysis(m, x).total()", "MAC", _FVCORE,
            {"conv.macs": "conv and matmul handles count 1 per FMA, never the bias",
             "batchnorm.elements": "batch_norm handle: 2 per input element (eval: 1 if no "
             "affine)",
             "layernorm.elements": "layer_norm handle: 5 per element (mean, var, normalize, "
             "affine)",
             "adaptive_avgpool.inputs": "adaptive_avg_pool2d handle: 1 per input element",
             "attention.matmul_macs": "aten::scaled_dot_product_attention is unsupported: "
             "QK^T and AV count 0",
             "act.relu": "activations, max_pool2d, add and mul are unsupported: 0"},
        ),
        _c(
            "fvcore_no_grad", "fvcore 0.1.5 FlopCountAnalysis(m, x).total() under no_grad",
            "MAC", _FVCORE, {"attention.proj_macs": _WHY_NO_GRAD}, fused=True,
        ),
        _c(
            "ptflops_pytorch", "ptflops 0.7.5 get_model_complexity_info(backend='pytorch')",
            "MAC",
            {**_MM, "conv.bias": 1, "linear.bias": 1, "linear.bias_add": 1,
             "attention.in_proj_bias_add": 1, "batchnorm.elements": 2,
             "layernorm.elements": 1, "act.relu": 2, "act.gelu": 2, "act.relu6": 1,
             "act.silu": 1, "maxpool.inputs": 2, "avgpool.inputs": 2,
             "adaptive_avgpool.inputs": 2, "attention.proj_macs": 1, "attention.proj_bias": 1,
             "attention.matmul_macs": 1, "attention.softmax": 1, "attention.scale": 1},
            {"conv.bias": "module hooks add one per biased output (conv, linear, attention), "
             "whatever the input's layout",
             "batchnorm.elements": "bn hook: 1 per element, 2 when module.affine",
             "layernorm.elements": "the same hook: LayerNorm has no 'affine' attribute, so 1",
             "act.relu": "nn.ReLU / nn.GELU / pooling modules call the F.* functions ptflops "
             "also patches: counted by the module hook and the functional patch, 2 each",
             "act.relu6": "nn.ReLU6 calls F.hardtanh (not patched): module hook only, 1",
             "act.silu": "no module hook; the patched F.silu counts 1",
             "act.sigmoid": "sigmoid and tanh: no rule, 0",
             "maxpool.inputs": "pool hooks count input elements (twice: see act.relu)",
             "attention.softmax": "the MultiheadAttention hook adds softmax (h L^2) and the "
             "query scaling (L d) per layer",
             "add.elements": "a + b and x * g are Tensor operators, not the patched "
             "torch.add / torch.mul: 0"},
        ),
        _c(
            "ptflops_aten", "ptflops 0.7.5 get_model_complexity_info(backend='aten')", "MAC",
            _PTFLOPS_ATEN,
            {"conv.bias": "aten.convolution and aten.addmm count the bias, 1 per output",
             "linear.bias_add": _WHY_BIAS_ADD,
             "attention.matmul_macs": "only mm, matmul, addmm, bmm and convolution are mapped; "
             "CPU SDPA is not: QK^T and AV count 0",
             "batchnorm.elements": "norms, activations and pooling are not mapped: 0"},
        ),
        _c(
            "ptflops_aten_no_grad",
            "ptflops 0.7.5 get_model_complexity_info(backend='aten') under no_grad", "MAC",
            _PTFLOPS_ATEN, {"attention.proj_macs": _WHY_NO_GRAD}, fused=True,
        ),
        _c(
            "thop", "thop 0.1.1.post2209072238 profile(m, inputs=(x,))", "MAC",
            {**_MM, "batchnorm.elements": 4, "layernorm.elements": 4,
             "adaptive_avgpool.inputs": 1, "adaptive_avgpool.outputs": 1,
             "avgpool.outputs": 1},
            {"conv.bias": "count_convNd and count_linear leave the bias out",
             "batchnorm.elements": "count_normalization: 2 per element, 4 when affine "
             "(BatchNorm and LayerNorm alike)",
             "adaptive_avgpool.inputs": "count_adap_avgpool: int(((H/o)(W/o) + 1) x outputs) "
             "in float64 = inputs + outputs, not torch's window reads; where o does not "
             "divide the input size the float product may truncate 1 below (no integer "
             "weight reproduces that)",
             "avgpool.outputs": "count_avgpool: 1 per output element",
             "attention.proj_macs": "no rule for nn.MultiheadAttention (nor for its out_proj, "
             "whose exact type is not nn.Linear): the whole attention counts 0",
             "attention.params": "modules without a rule report no parameters: attention, "
             "class token, position and embedding tables are missing"},
            hidden=_HIDDEN_THOP,
        ),
        _c(
            "torchinfo", "torchinfo 1.8.0 summary(m, input_data=x).total_mult_adds", "mult-add",
            {"conv.macs": 1, "conv.bias": 1, "linear.params": 1, "batchnorm.params": 1,
             "layernorm.params": 1, "embedding.params": 1},
            {"conv.macs": "Conv layers: (weight + bias elements) x output positions",
             "linear.params": "any other layer with weight/bias: its parameter count x batch, "
             "not x rows (a token-wise linear counts once, not L times)",
             "attention.proj_macs": "MultiheadAttention is no leaf and its out_proj is never "
             "called: 0 in the total"},
        ),
        _c(
            "flopcounter_meta", "torch 2.13 FlopCounterMode on the meta device", "FLOP",
            {**_FCM, "conv_transpose.macs": 2, "attention.proj_macs": 2,
             "attention.matmul_macs": 2, "rnn.macs": 2, "lstm.macs": 2, "gru.macs": 2},
            {**_WHY_FCM, "lstm.macs": "recurrent layers decompose to mm/addmm on meta"},
            covers=(*COVERED_OPS, "conv_transpose", "rnn", "lstm", "gru"),
        ),
        _c(
            "flopcounter_cpu", "torch 2.13 FlopCounterMode on CPU tensors, grad enabled",
            "FLOP", _FCM_CPU,
            {**_WHY_FCM,
             "attention.matmul_macs": "CPU SDPA (_scaled_dot_product_flash_attention_for_cpu) "
             "has no formula: QK^T and AV count 0"},
            covers=(*COVERED_OPS, "conv_transpose"),
        ),
        _c(
            "flopcounter_cpu_no_grad", "torch 2.13 FlopCounterMode on CPU tensors, no_grad",
            "FLOP", _FCM_CPU,
            {**_WHY_FCM, "attention.proj_macs": _WHY_NO_GRAD,
             "attention.matmul_macs": "CPU SDPA (_scaled_dot_product_flash_attention_for_cpu) "
             "has no formula: QK^T and AV count 0"},
            covers=(*COVERED_OPS, "conv_transpose"), fused=True,
        ),
    )
}  # fmt: skip


def counter(name: str) -> CounterConvention:
    """The convention of counter ``name`` (a key of :data:`COUNTERS`)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be one of {tuple(COUNTERS)}, got {name!r}")
    if name not in COUNTERS:
        raise ValueError(f"name must be one of {tuple(COUNTERS)}, got {name!r}")
    return COUNTERS[name]
