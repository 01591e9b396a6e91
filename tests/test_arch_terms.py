"""Terms, conventions as data, the exact backward rule and the per-layer table of
:mod:`theory.arch` (``theory.counters`` against the real tools: ``tests/test_counters.py``).

* The per-operation terms of every node add up to the node's cost by category and to its
  parameter count, so weighing terms is a refinement of weighing categories: for every one of
  the 128 category-level conventions the term path gives the category path's number.
* ``Convention(backward=True)`` is exactly what ``FlopCounterMode`` records for a forward and
  ``loss.backward()`` on the meta device — the first layer gets no input gradient — except for
  grouped convolutions, where torch 2.13's ``conv_backward_flop`` ignores ``groups`` in the
  weight gradient and overcounts it by exactly ``(groups - 1)`` times (a FlopCounterMode
  finding, asserted to the FLOP).
* ``Spec.conv``/``Spec.linear`` default to torch's ``bias=True``; ``Spec.conv_transpose``
  matches ``nn.ConvTranspose2d``.
"""

from __future__ import annotations

import itertools

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from numerics.torch_arch import to_module
from theory import architectures as A
from theory.arch import (
    CATEGORIES,
    TERM_CATEGORIES,
    TERMS,
    TORCHVISION_OPS,
    Convention,
    Spec,
    format_layer_table,
)
from theory.counters import COUNTERS, COVERED_OPS

FLAGS = ("bias", "norm", "activation", "pooling", "elementwise", "attention")


def _example(spec: Spec, batch: int = 1) -> torch.Tensor:
    shape = spec.nodes[0].shape
    dtype = torch.long if len(shape) == 1 else torch.float32
    return torch.zeros(batch, *shape, dtype=dtype, device="meta")


@pytest.fixture(scope="module")
def specs() -> dict[str, Spec]:
    return {name: A.reference_spec(name) for name in A.REFERENCE}


# --------------------------------------------------------------------------- terms


def _check_terms_add_up(spec: Spec) -> None:
    for i, node in enumerate(spec.nodes):
        terms = spec.node_terms(i)
        assert all(TERMS[t][0] in TERM_CATEGORIES for t in terms)
        for category in CATEGORIES:
            canonical = sum(v for t, v in terms.items() if TERMS[t][:2] == (category, True))
            assert sympy.simplify(canonical - node.cost.get(category, 0)) == 0, (node, category)
        params = sum(v for t, v in terms.items() if TERMS[t][0] == "per_param")
        assert sympy.simplify(params - node.params) == 0, node


def test_terms_add_up_to_the_categories_and_the_parameters(specs):
    for spec in specs.values():
        _check_terms_add_up(spec)
        totals = spec.terms()
        assert totals["conv.macs" if "conv.macs" in totals else "linear.macs"] > 0
    vit = A.vit(32, 8, 1, 16, 4, 32, 10)  # symbolic-free small ViT, every transformer op
    _check_terms_add_up(vit)


def test_terms_of_a_symbolic_network():
    w = sympy.Symbol("w", positive=True, integer=True)
    spec = A.resnet((1,), width=w, resolution=32, classes=3)
    _check_terms_add_up(spec)
    assert spec.count() == spec.count(COUNTERS["torchvision"])


def test_every_category_convention_is_the_same_count_by_terms(specs):
    """128 flag settings x 2 units: Σ term weight × term = Σ category weight × category."""
    for name in ("ResNet-18", "MobileNetV2", "ViT-B/16"):
        spec, b = specs[name], specs[name].breakdown()
        for flags in itertools.product((False, True), repeat=len(FLAGS)):
            for unit in ("MAC", "FLOP"):
                c = Convention(**dict(zip(FLAGS, flags, strict=True)), unit=unit)
                assert spec.count(c) == sum(c.weight(k) * b[k] for k in CATEGORIES), (name, c)


def test_torchvision_counter_is_the_default_convention(specs):
    for name, spec in specs.items():
        assert spec.count(COUNTERS["torchvision"]) == spec.count(TORCHVISION_OPS), name
        published = A.REFERENCE[name][2]
        if published is not None:
            assert round(spec.count(COUNTERS["torchvision"]) / 1e9, 3) == published, name


def test_counter_conventions_name_real_terms_and_refuse_unmeasured_ops():
    for key, c in COUNTERS.items():
        assert c.name == key
        assert set(c.weights) <= set(TERMS) and set(c.why) <= set(TERMS)
        assert all(TERMS[t][0] == "per_param" for t in c.hidden_params)
    spec = Spec("up")
    x = spec.input(4, 8, 8)
    spec.conv_transpose(x, 2, 3, stride=2, padding=1, output_padding=1)
    assert spec.count(COUNTERS["flopcounter_meta"]) == 2 * 4 * 2 * 9 * 64
    with pytest.raises(ValueError, match="'fvcore' was not measured on conv_transpose"):
        spec.count(COUNTERS["fvcore"])
    assert "conv_transpose" not in COVERED_OPS


def test_thop_hides_the_attention_parameters(specs):
    vit = specs["ViT-B/16"]
    hidden = sum(
        v
        for i in range(len(vit.nodes))
        for t, v in vit.node_terms(i).items()
        if t in COUNTERS["thop"].hidden_params
    )
    # 12 x (4d^2 + 4d) attention, the class token d and the position table 197 d
    assert hidden == 12 * (4 * 768**2 + 4 * 768) + 768 + 197 * 768 == 28_500_480
    assert vit.params(COUNTERS["thop"]) == vit.params() - hidden == 58_067_176
    assert vit.params(COUNTERS["fvcore"]) == vit.params()


# --------------------------------------------------------------------------- backward


def _grouped_overcount(spec: Spec) -> int:
    """FLOPs FlopCounterMode adds for grouped (transposed) convolutions: its weight gradient
    of a convolution with G groups counts G times the MACs (torch 2.13 ``conv_backward_flop``
    ignores ``groups``)."""
    return sum(
        2 * (n.attrs["groups"] - 1) * n.cost["macs"]
        for n in spec.nodes
        if n.op in ("conv", "conv_transpose") and n.attrs["groups"] > 1
    )


def _fcm_training_step(spec: Spec) -> int:
    with torch.device("meta"):
        module = to_module(spec)
    with FlopCounterMode(display=False) as counter:
        module(_example(spec)).sum().backward()
    return int(counter.get_total_flops())


@pytest.mark.parametrize("name", list(A.REFERENCE))
def test_backward_is_what_flop_counter_mode_records(name, specs):
    spec = specs[name]
    ours = spec.count(Convention(unit="FLOP", backward=True))
    assert _fcm_training_step(spec) == ours + _grouped_overcount(spec)
    if name in ("MobileNetV2", "EfficientNet-B0"):
        assert _grouped_overcount(spec) > 0  # depthwise convolutions
    else:
        assert _grouped_overcount(spec) == 0
    # the first layer reads the data: no input gradient there, 3x everywhere else
    first = next(n for n in spec.nodes if n.params)
    if first.op == "conv":
        assert spec.count(Convention(backward=True)) == 3 * spec.count() - first.cost["macs"]


@settings(max_examples=12, deadline=None)
@given(
    st.integers(1, 4), st.integers(1, 3), st.sampled_from([1, 2]), st.integers(0, 2),
    st.booleans(), st.booleans(),
)  # fmt: skip
def test_backward_rule_on_drawn_networks(channels, kernel, groups, pools, bias, pool_first):
    """A pool before the first conv keeps its input gradient-free; a grouped conv shows
    FlopCounterMode's overcount; a transposed conv and a linear follow."""
    s = Spec("drawn")
    x = s.input(2 * channels, 9, 9)
    if pool_first:
        x = s.maxpool(x, 2, 1)
    x = s.conv(x, 2 * channels, kernel, padding=kernel // 2, groups=groups, bias=bias)
    for _ in range(pools):
        x = s.act(s.batchnorm(x))
    x = s.conv_transpose(x, 2 * channels, 2, stride=2, groups=groups, bias=bias)
    s.linear(s.flatten(s.adaptive_avgpool(x)), 3)
    assert _fcm_training_step(s) == s.count(
        Convention(unit="FLOP", backward=True)
    ) + _grouped_overcount(s)


@settings(max_examples=12, deadline=None)
@given(
    st.integers(1, 4), st.integers(1, 3), st.sampled_from([None, 1, 2]),
    st.sampled_from([None, "rnn", "lstm", "gru"]), st.integers(1, 2), st.booleans(),
    st.booleans(),
)  # fmt: skip
def test_backward_rule_on_drawn_sequences(length, d, heads, kind, layers, bidir, embed):
    """Sequences: attention fed the data (its Q, K, V projections get no input gradient,
    its output projection does), recurrent layers (hidden-state gradients at every step but
    the first; later layers' input gradients always), token ids through an embedding."""
    s = Spec("drawn-sequence")
    if embed:
        x = s.embedding(s.input(length), 7, 2 * d)
    else:
        x = s.input(length, 2 * d)
    if heads:
        x = s.attention(x, heads)
    if kind:
        x = getattr(s, kind)(x, 3, layers, bidirectional=bidir)
    s.linear(x, 2)
    assert _fcm_training_step(s) == s.count(Convention(unit="FLOP", backward=True))


# --------------------------------------------------------------------------- layer table


@pytest.mark.parametrize("key", ["default", "everything", "backward", *COUNTERS])
def test_layer_table_adds_up_to_the_count(key, specs):
    conventions = {
        "default": Convention(),
        "everything": Convention(True, True, True, True, True),
        "backward": Convention(unit="FLOP", backward=True),
        **COUNTERS,
    }
    c = conventions[key]
    for name in ("ResNet-18", "ViT-B/16"):
        spec = specs[name]
        rows = spec.layer_table(c)
        assert len(rows) == len(spec.nodes) - 1
        assert sum(r["count"] for r in rows) == spec.count(c)
        assert sum(r["params"] for r in rows) == spec.params(c)
        for r in rows:
            assert r["count"] == sum(r[k] for k in TERM_CATEGORIES)
        text = format_layer_table(rows, title=name)
        total = text.splitlines()[-1].split()
        assert total[:3] == ["total", f"{spec.params(c):,}", f"{spec.count(c):,}"]


def test_torchinfo_counts_token_wise_linears_once(specs):
    vit = specs["ViT-B/16"]
    mlp = next(r for r in vit.layer_table(COUNTERS["torchinfo"]) if r["op"] == "linear")
    assert mlp["count"] == mlp["params"] == mlp["per_param"]  # not 197 x the weights


# --------------------------------------------------------------------------- defaults


def test_spec_defaults_to_torchs_bias():
    """A LeNet-5 port written without bias arguments has torch's 61,706 parameters."""
    s = Spec("lenet")
    x = s.input(1, 32, 32)
    x = s.maxpool(s.act(s.conv(x, 6, 5), "tanh"), 2)
    x = s.maxpool(s.act(s.conv(x, 16, 5), "tanh"), 2)
    x = s.act(s.linear(s.flatten(x), 120), "tanh")
    s.linear(s.act(s.linear(x, 84), "tanh"), 10)
    torch_lenet = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
        nn.Tanh(), nn.Linear(84, 10),
    )  # fmt: skip
    assert s.params() == sum(p.numel() for p in torch_lenet.parameters()) == 61_706


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3),
    st.integers(0, 2), st.integers(0, 2), st.integers(1, 2), st.booleans(), st.integers(1, 6),
)  # fmt: skip
def test_conv_transpose_matches_torch(cin, cout, k, stride, pad, out_pad, dil, bias, size):
    groups = 2 if cin % 2 == 0 and cout % 2 == 0 else 1
    s = Spec("t")
    x = s.input(2 * cin, size, size)
    layer = nn.ConvTranspose2d(2 * cin, 2 * cout, k, stride, pad, out_pad, groups, bias, dil)
    try:  # CPU: torch checks output_padding in the forward (the meta kernel does not)
        out = layer(torch.zeros(1, 2 * cin, size, size))
    except (RuntimeError, ValueError):  # torch refuses (an empty output: oneDNN's message)
        out = None
    if out is None or out.numel() == 0:  # refused, or an empty map (a size-0 output)
        with pytest.raises(ValueError, match="output"):
            s.conv_transpose(x, 2 * cout, k, stride, pad, out_pad, groups, bias, dil)
        return
    node = s.nodes[s.conv_transpose(x, 2 * cout, k, stride, pad, out_pad, groups, bias, dil)]
    assert node.shape == tuple(out.shape[1:])
    assert node.params == sum(p.numel() for p in layer.parameters())
    with FlopCounterMode(display=False) as counter:
        layer(torch.zeros(1, 2 * cin, size, size))
    assert counter.get_total_flops() == 2 * node.cost["macs"]
