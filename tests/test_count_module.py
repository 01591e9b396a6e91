"""``numerics.torch_arch.count_module`` against the spec (every convention, per layer,
backward), against ``FlopCounterMode`` forward + backward, and on functional-only modules
against hand formulas. Everything is built on the ``meta`` device: shapes only, no data."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from numerics.torch_arch import _run, _summary, count_module, to_module
from theory import architectures as A
from theory.arch import TERM_CATEGORIES, Convention, Spec, format_layer_table
from theory.counters import COUNTERS

CATEGORY_CONVENTIONS = (
    Convention(),
    Convention(bias=True, norm=True, activation=True, pooling=True, elementwise=True),
    Convention(elementwise=True, unit="FLOP"),
    Convention(attention=False, bias=True),
    Convention(backward=True),
    Convention(unit="FLOP", backward=True),
    Convention(bias=True, norm=True, activation=True, pooling=True, elementwise=True,
               backward=True),
)  # fmt: skip
FREE_OPS = ("input", "flatten", "concat", "to_tokens", "select")


def _example(spec: Spec, batch: int = 1) -> torch.Tensor:
    """A zero example on meta; batch 1 by default, the layout the spec's terms describe (at
    batch > 1 the attention's input projections see a non-contiguous tensor: see
    test_batch_moves_attention_input_bias)."""
    shape = spec.nodes[0].shape
    if len(shape) == 1:  # token ids
        return torch.zeros(batch, *shape, dtype=torch.long, device="meta")
    return torch.zeros(batch, *shape, device="meta")


def _module(spec: Spec) -> nn.Module:
    with torch.device("meta"):
        return to_module(spec).eval()


def _compare_records(spec: Spec, counted: dict, convention) -> None:
    """Spec layer records (free ops left out) equal count_module's, one by one."""
    want = [r for r in spec.layer_table(convention) if r["op"] not in FREE_OPS]
    got = counted["layers"]
    assert [r["op"] for r in got] == [r["op"] for r in want]
    for g, w in zip(got, want, strict=True):
        for key in ("output_shape", "params", "count", *TERM_CATEGORIES):
            assert g[key] == w[key], (w["layer"], g["layer"], key, g[key], w[key])


@pytest.fixture(scope="module", params=sorted(A.REFERENCE))
def reference(request):
    spec = A.reference_spec(request.param)
    return spec, _module(spec)


def test_reference_networks_under_every_convention(reference):
    """count_module on to_module(spec) = spec.count and spec.params under all eleven tool
    conventions and the category conventions (elementwise and backward included), and the
    per-layer records equal spec.layer_table record by record."""
    spec, module = reference
    x = _example(spec)
    runs = {grad: _run(module, x, grad) for grad in (False, True)}  # count_module's two steps
    for convention in (*COUNTERS.values(), *CATEGORY_CONVENTIONS):
        counted = _summary(module, runs[getattr(convention, "backward", False)], 1, convention)
        assert counted["count"] == spec.count(convention), convention
        assert counted["params_visible"] == spec.params(convention), convention
        _compare_records(spec, counted, convention)
    assert counted["params"] == counted["params_by_formula"] == spec.params()
    assert counted["terms"] == spec.terms()
    assert counted["breakdown"] == spec.breakdown()
    assert not counted["unused_layers"]
    assert count_module(module, x, convention) == counted
    text = format_layer_table(counted["layers"])
    assert text.splitlines()[-1].split()[1:3] == [f"{spec.params():,}", f"{counted['count']:,}"]


def _grouped_conv_overcount(spec: Spec) -> int:
    """FlopCounterMode's conv_backward_flop ignores ``groups`` in the weight gradient
    (torch 2.13, torch/utils/flop_counter.py): it counts a grouped conv's weight gradient
    as if ungrouped, over by (groups - 1) × MACs, 2 FLOPs each, per sample."""
    return sum(2 * (n.attrs["groups"] - 1) * n.cost["macs"] for n in spec.nodes
               if n.op == "conv" and n.attrs["groups"] > 1)  # fmt: skip


def test_flop_counter_forward_backward_equals_backward_convention(reference):
    """FlopCounterMode over forward + loss.backward() on meta = count_module under
    Convention(unit="FLOP", backward=True) (first layer: no input gradient), exactly, once
    FlopCounterMode's grouped-conv weight-gradient overcount is taken off."""
    spec, module = reference
    x = _example(spec)
    with FlopCounterMode(display=False) as fcm:
        module(x).sum().backward()
    counted = count_module(module, x, Convention(unit="FLOP", backward=True))
    batch = x.shape[0]
    assert fcm.get_total_flops() - batch * _grouped_conv_overcount(spec) == batch * counted["count"]


def test_counter_convention_refuses_uncovered_op():
    """A tool convention measured without transposed convolutions or LSTMs refuses them,
    with the spec's own message."""
    s = Spec("up")
    x = s.conv_transpose(s.input(4, 5, 5), 2, 3, stride=2, name="up")
    with pytest.raises(ValueError, match="was not measured on conv_transpose") as spec_err:
        s.count(COUNTERS["fvcore"])
    with pytest.raises(ValueError, match="was not measured on conv_transpose"):
        count_module(_module(s), _example(s), COUNTERS["fvcore"])
    assert "covers" in str(spec_err.value)
    assert count_module(_module(s), _example(s), COUNTERS["flopcounter_meta"])["count"] == (
        s.count(COUNTERS["flopcounter_meta"])
    )
    del x


# --------------------------------------------------------------------- hypothesis specs
@st.composite
def _specs(draw):
    s = Spec("drawn")
    c, h = draw(st.integers(1, 4)), draw(st.integers(4, 9))
    x = s.input(c, h, h)
    for _ in range(draw(st.integers(1, 5))):
        c, h, _ = s.shape(x)
        op = draw(st.sampled_from(("conv", "convt", "bn", "act", "pool", "add", "scale")))
        if op == "conv":
            g = draw(st.sampled_from([v for v in (1, 2) if c % v == 0]))
            x = s.conv(x, g * draw(st.integers(1, 3)), draw(st.sampled_from((1, 3))),
                       padding=1, groups=g, bias=draw(st.booleans()))  # fmt: skip
        elif op == "convt" and h < 12:
            x = s.conv_transpose(x, draw(st.integers(1, 4)), 3, stride=draw(st.integers(1, 2)),
                                 padding=1, bias=draw(st.booleans()))  # fmt: skip
        elif op == "bn":
            x = s.batchnorm(x)
        elif op == "act":
            x = s.act(x, draw(st.sampled_from(("relu", "relu6", "gelu", "silu", "sigmoid",
                                               "tanh", "hardswish"))))  # fmt: skip
        elif op == "pool" and h >= 2:
            kind = draw(st.sampled_from(("maxpool", "avgpool", "adaptive_avgpool")))
            x = s.adaptive_avgpool(x, draw(st.integers(1, 3))) if kind == "adaptive_avgpool" \
                else getattr(s, kind)(x, 2)  # fmt: skip
        elif op == "add":
            x = s.add(x, s.conv(x, c, 1))
        elif op == "scale":
            x = s.scale(x, s.act(s.conv(s.adaptive_avgpool(x), c, 1), "sigmoid"))
    tail = draw(st.sampled_from(("linear", "tokens")))
    if tail == "linear":
        s.linear(s.flatten(x), draw(st.integers(1, 5)))
    else:
        c = s.shape(x)[0]
        t = s.linear(s.to_tokens(x), 4)
        t = s.table_add(s.cls_token(t), s.shape(t)[0] + 1)
        t = s.add(t, s.attention(s.layernorm(t), draw(st.sampled_from((1, 2, 4)))))
        kind = draw(st.sampled_from(("lstm", "gru", "rnn")))
        t = getattr(s, kind)(t, 3, draw(st.integers(1, 2)), bidirectional=draw(st.booleans()))
        s.linear(s.select(t), 2)
    return s


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_specs())
def test_drawn_specs_agree_with_count_module(spec):
    """Random stacks of conv / conv_transpose / bn / act / pool / add / scale / linear /
    attention / recurrent layers: count_module = the spec under category conventions (and
    the FlopCounterMode convention, which covers all of these), layer by layer."""
    module, x = _module(spec), _example(spec)
    runs = {grad: _run(module, x, grad) for grad in (False, True)}
    for convention in CATEGORY_CONVENTIONS:
        counted = _summary(module, runs[convention.backward], 1, convention)
        assert counted["count"] == spec.count(convention), convention
        _compare_records(spec, counted, convention)
    fcm = COUNTERS["flopcounter_meta"]  # measured on every op drawn here but hardswish
    if any(n.attrs.get("kind") == "hardswish" for n in spec.nodes):
        with pytest.raises(ValueError, match=r"not measured on act\.hardswish"):
            spec.count(fcm)
        with pytest.raises(ValueError, match=r"not measured on act\.hardswish"):
            count_module(module, x, fcm)
    else:
        assert count_module(module, x, fcm)["count"] == spec.count(fcm)
    assert counted["params"] == counted["params_by_formula"] == spec.params()
    assert counted["terms"] == spec.terms()


# --------------------------------------------------------------------- functional modules
class _Functional(nn.Module):
    """No counted leaf at all: every operation is functional, parameters held directly."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(8, 3, 3, 3))
        self.b1 = nn.Parameter(torch.zeros(8))
        self.w2 = nn.Parameter(torch.zeros(8, 4, 1, 1))  # groups=2
        self.token = nn.Parameter(torch.zeros(1, 1, 8))
        self.pos = nn.Parameter(torch.zeros(1, 17, 8))
        self.wl = nn.Parameter(torch.zeros(6, 8))
        self.bl = nn.Parameter(torch.zeros(6))

    def forward(self, x):
        y = F.relu(F.conv2d(x, self.w1, self.b1, padding=1))  # (N, 8, 4, 4)
        z = F.conv2d(y, self.w2, groups=2)
        y = y + z  # residual
        g = torch.sigmoid(y.mean((2, 3), keepdim=True))
        y = y * g  # gating
        t = y.flatten(2).transpose(1, 2)  # (N, 16, 8)
        t = torch.cat([self.token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos
        q = t.view(t.shape[0], 17, 2, 4).transpose(1, 2)  # 2 heads of 4
        a = F.scaled_dot_product_attention(q, q, q).transpose(1, 2).reshape(t.shape)
        return F.linear(torch.cat([a, t], dim=1), self.wl, self.bl)  # (N, 34, 6)


def test_functional_module_against_hand_formulas():
    """Every functional op is classified into TERMS by hand-derived formulas (per sample)."""
    with torch.device("meta"):
        m = _Functional()
    counted = count_module(m, torch.zeros(2, 3, 4, 4, device="meta"), Convention())
    want = {
        "conv.macs": 8 * 16 * 27 + 8 * 16 * 4,  # 3x3 conv of 3 channels; 1x1 groups=2
        "conv.bias": 8 * 16,
        "conv.params": 8 * 27 + 8 + 8 * 4,
        "act.relu": 128,
        "add.elements": 128,
        "adaptive_avgpool.reads": 128, "adaptive_avgpool.inputs": 128,
        "adaptive_avgpool.outputs": 8,
        "act.sigmoid": 8,
        "scale.elements": 128,
        "cls_token.params": 8,
        "table_add.elements": 17 * 8, "table_add.params": 17 * 8,
        "attention.matmul_macs": 2 * 17 * 17 * (4 + 4), "attention.softmax": 2 * 17 * 17,
        "attention.scale": 17 * 8,
        "linear.macs": 34 * 8 * 6, "linear.bias": 34 * 6, "linear.params": 6 * 8 + 6,
    }  # fmt: skip
    assert counted["terms"] == want
    assert (
        counted["params_by_formula"] == counted["params"] == sum(p.numel() for p in m.parameters())
    )
    assert (
        counted["count"]
        == want["conv.macs"] + want["attention.matmul_macs"] + (want["linear.macs"])
    )
    ops = [r["op"] for r in counted["layers"]]
    assert ops == ["conv", "act", "conv", "add", "adaptive_avgpool", "act", "scale",
                   "cls_token", "table_add", "attention", "linear"]  # fmt: skip
    assert counted["layers"][0]["layer"] == "<root>.convolution"


def test_functional_backward_rule():
    """Functional ops get the backward rule: the first conv (input from data) counts 2x
    its MACs, the residual add 1 + [input grad]; SDPA on inputs that need no gradient 1x."""
    with torch.device("meta"):
        m = _Functional()
    x = torch.zeros(2, 3, 4, 4, device="meta")
    back = count_module(m, x, Convention(backward=True, elementwise=True))
    assert back["layers"][0]["macs"] == 2 * 8 * 16 * 27
    assert back["layers"][2]["macs"] == 3 * 8 * 16 * 4  # second conv: input needs a grad
    assert back["layers"][3]["layer"] == "<root>.add"  # the residual add
    assert back["layers"][3]["elementwise"] == 2 * 128
    q = torch.zeros(1, 2, 5, 4, device="meta")

    class Sdpa(nn.Module):
        def forward(self, q):
            return F.scaled_dot_product_attention(q, q, q)

    for grad, factor in ((False, 1), (True, 3)):
        counted = count_module(Sdpa(), q.requires_grad_(grad), Convention(backward=True))
        assert counted["count"] == factor * 2 * 5 * 5 * 8


def test_unclassifiable_arithmetic_op_raises_naming_it():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return torch.exp(self.lin(x))

    with pytest.raises(ValueError, match=r"aten\.exp .* in <root> \(Odd\)"):
        count_module(Odd(), torch.zeros(2, 4))

    class LayerScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(4))

        def forward(self, x):
            return x * self.gamma

    with pytest.raises(ValueError, match=r"aten\.mul .*on a parameter"):
        count_module(nn.Sequential(LayerScale()), torch.zeros(2, 4))


def test_plain_multihead_attention_counted_directly():
    """nn.MultiheadAttention used directly (not through SelfAttention), cross-attention with
    L queries and S keys: projections of both, L S d MACs per matmul, h L S softmax."""
    mha = nn.MultiheadAttention(8, 2, batch_first=True, device="meta")

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x[:, :3], x, x, need_weights=False)[0]

    counted = count_module(Cross(), torch.zeros(2, 5, 8, device="meta"), Convention(bias=True))
    length, keys, d = 3, 5, 8
    # at batch 2 the batch-first inputs, transposed to (L, N, E), are not contiguous: torch
    # adds the Q, K, V biases after the matmuls; only out_proj's bias is fused in addmm
    assert counted["terms"] == {
        "attention.proj_macs": 2 * length * d * d + 2 * keys * d * d,
        "attention.proj_bias": length * d,
        "attention.in_proj_bias_add": (length + 2 * keys) * d,
        "attention.matmul_macs": 2 * length * keys * d,
        "attention.softmax": 2 * length * keys,
        "attention.scale": length * d,
        "attention.params": 4 * d * d + 4 * d,
    }
    assert counted["layers"][0]["output_shape"] == (3, 8)


@pytest.mark.parametrize("name", ["EfficientNet-B0", "ViT-B/16"])
def test_torchvision_structured_nets_equal_reference_specs(name):
    """count_module on the torchvision-structured modules (numerics.torchvision_nets: the
    real classes' nesting, functional residual adds and gating, ViT's class token on the
    model and position table on the encoder as bare parameters, nn.MultiheadAttention used
    directly) equals the reference spec under every convention, parameters included (the
    class token counts as cls_token.params, the position table as table_add.params)."""
    from numerics.torchvision_nets import efficientnet_b0, vit_b_16

    spec = A.reference_spec(name)
    with torch.device("meta"):
        module = (efficientnet_b0 if name == "EfficientNet-B0" else vit_b_16)().eval()
    x = torch.zeros(1, 3, 224, 224, device="meta")
    runs = {grad: _run(module, x, grad) for grad in (False, True)}
    for convention in (*COUNTERS.values(), *CATEGORY_CONVENTIONS):
        counted = _summary(module, runs[getattr(convention, "backward", False)], 1, convention)
        assert counted["count"] == spec.count(convention), convention
        assert counted["params_visible"] == spec.params(convention), convention
    assert counted["terms"] == spec.terms()
    assert counted["params"] == counted["params_by_formula"] == spec.params()
    assert not counted["unused_layers"]


@pytest.mark.parametrize("heads", [1, 2])
def test_batch_moves_attention_input_bias(heads):
    """Per sample, the counts do not depend on the batch, except where torch's layout does:
    at batch 3 the input projections of a batch-first nn.MultiheadAttention run on a
    non-contiguous (L, N, E) view, so their bias is an aten.add, not part of addmm. The
    category totals stay; the split follows what ptflops' aten backend will miss."""
    s = Spec("encoder")
    x = s.cls_token(s.to_tokens(s.conv(s.input(3, 8, 8), 8, 4, 4)))
    s.linear(s.attention(s.layernorm(x), heads), 5)
    module = _module(s)
    one, three = (count_module(module, _example(s, b), Convention(bias=True)) for b in (1, 3))
    assert one["count"] == three["count"] == s.count(Convention(bias=True))
    assert one["terms"] == s.terms() and "attention.in_proj_bias_add" not in one["terms"]
    moved = three["terms"]["attention.in_proj_bias_add"]
    assert moved == 3 * 8 * s.shape(x)[0] == 3 * s.terms()["attention.proj_bias"] // 4
    # and the attention's output, transposed back to batch first, is not contiguous either:
    # the next linear's bias moves too
    assert three["terms"]["linear.bias_add"] == s.terms()["linear.bias"] == 5 * s.shape(x)[0]
    moved += three["terms"]["linear.bias_add"]
    aten = COUNTERS["ptflops_aten"]
    assert count_module(module, _example(s, 3), aten)["count"] == s.count(aten) - moved


# --------------------------------------------------------------------- second reading (issue 18)
class _FunctionalConv(nn.Module):
    """A convolution and a ReLU written as functional operations."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(4, 3, 3, 3))

    def forward(self, x):
        return F.relu(F.conv2d(x, self.w))


class _NamedAdd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return x.add(self.c(x))  # ptflops patches Tensor.add; it does not patch x + y


class _LoRA(nn.Linear):
    """A subclass overriding forward: counted through the operations it runs."""

    def __init__(self) -> None:
        super().__init__(8, 8)
        self.a = nn.Parameter(torch.zeros(2, 8))
        self.b = nn.Parameter(torch.zeros(8, 2))

    def forward(self, x):
        return super().forward(x) + (x @ self.a.T) @ self.b.T


@pytest.mark.parametrize(
    ("module", "why"),
    [
        (_FunctionalConv(), "functional conv"),
        (_NamedAdd(), "torch.add / torch.mul called by name"),
        (_LoRA(), "functional linear"),
        (nn.Sequential(nn.BatchNorm2d(3, affine=False)), "norm without affine"),
    ],
)
def test_tool_conventions_refuse_what_was_not_measured(module, why):
    """A tool counts functional layers, named tensor methods, layer subclasses and plain norms
    by rules of its own: under its convention count_module refuses rather than guesses;
    under a Convention it counts them."""
    x = torch.zeros(1, 8) if isinstance(module, _LoRA) else torch.zeros(1, 3, 5, 5)
    assert count_module(module, x)["count"] >= 0
    for key in ("ptflops_pytorch", "thop", "fvcore"):
        with pytest.raises(ValueError, match=why):
            count_module(module, x, COUNTERS[key])


def test_subclass_overriding_forward_is_counted_by_its_operations():
    """A LoRA-style nn.Linear subclass: 64 + 16 + 16 MACs, as FlopCounterMode measures."""
    x = torch.zeros(1, 8)
    with FlopCounterMode(display=False) as fcm:
        _LoRA()(x)
    counted = count_module(_LoRA(), x, Convention(unit="FLOP"))
    assert counted["count"] == fcm.get_total_flops() == 2 * (64 + 16 + 16)
    assert counted["params"] == counted["params_by_formula"] == 72 + 32


def test_fused_transformer_layer_refused_under_no_grad_conventions():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, device="meta").eval()
    with pytest.raises(ValueError, match="one fused operation under no_grad"):
        count_module(layer, torch.zeros(1, 5, 8, device="meta"), COUNTERS["fvcore_no_grad"])


def test_work_that_does_not_scale_with_the_batch_is_refused():
    class ParamsOnly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.g = nn.Parameter(torch.ones(3))
            self.h = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x + (self.g + self.h)  # 3 additions per batch, then 3 per sample

    with pytest.raises(ValueError, match="count per sample with a batch of 1"):
        count_module(ParamsOnly(), torch.zeros(2, 3))
    assert count_module(ParamsOnly(), torch.zeros(1, 3), Convention(elementwise=True))["count"] == 6


class _Cross(nn.Module):
    """Cross-attention whose keys and values come from a linear (they need gradients) and
    whose queries are the data (they do not)."""

    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.kv = nn.Linear(8, 8)

    def forward(self, x):
        kv = self.kv(x)
        return self.mha(x[:, :3], kv, kv, need_weights=False)[0]


@pytest.mark.parametrize(
    "make",
    [
        _Cross,
        lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).eval(),
        lambda: nn.MultiheadAttention(8, 2, batch_first=True),
        lambda: nn.GRU(8, 3, 2, batch_first=True, bidirectional=True),
        lambda: nn.LSTM(8, 3, batch_first=True),
    ],
    ids=["cross-attention", "encoder-layer", "attention-on-data", "gru-2-bidir", "lstm"],
)
def test_training_step_part_by_part_equals_flop_counter_mode(make):
    """Attention: the output projection always gets an input gradient, each of Q, K, V's
    projections when its own input needs one; recurrent layers: hidden-state gradients at
    every step but the first — what FlopCounterMode records for forward + backward."""

    class Wrap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = make()

        def forward(self, x):
            out = self.inner(x, x, x, need_weights=False) if isinstance(
                self.inner, nn.MultiheadAttention) else self.inner(x)  # fmt: skip
            return out[0] if isinstance(out, tuple) else out

    with torch.device("meta"):
        module = Wrap()
    x = torch.zeros(1, 5, 8, device="meta")
    with FlopCounterMode(display=False) as fcm:
        module(x).sum().backward()
    counted = count_module(module, x, Convention(unit="FLOP", backward=True))["count"]
    assert counted == fcm.get_total_flops()
