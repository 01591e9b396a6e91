"""The torchvision-structured EfficientNet-B0 and ViT-B/16 of :mod:`numerics.torchvision_nets`.

Checked against torchvision's published parameter counts (weight metadata ``num_params``:
EfficientNet_B0_Weights 5,288,548, ViT_B_16_Weights 86,567,656, pytorch/vision
``torchvision/models/efficientnet.py`` and ``vision_transformer.py``), against the reference
specs of :mod:`theory.architectures` (node by node: parameters, weight shapes, names where
the spec uses torchvision's; and the forward computation, weights copied over), and against
``FlopCounterMode`` on the meta device (twice the spec's default count).
"""

from __future__ import annotations

import re

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from numerics import torchvision_nets as T
from numerics.torch_arch import to_module
from theory import architectures as A

TINY_SETTINGS = ((1, 3, 1, 8, 8, 1), (6, 3, 2, 8, 16, 2), (6, 5, 1, 16, 16, 1))


def _meta(build):
    with torch.device("meta"):
        return build().eval()


@pytest.fixture(scope="module")
def full():
    return {"EfficientNet-B0": _meta(T.efficientnet_b0), "ViT-B/16": _meta(T.vit_b_16)}


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("name", "published"), [("EfficientNet-B0", 5_288_548), ("ViT-B/16", 86_567_656)]
)
def test_parameters_equal_torchvision_and_the_spec(full, name, published):
    assert _params(full[name]) == published == A.REFERENCE[name][1]
    assert A.reference_spec(name).params() == published


def test_module_classes_and_nesting_follow_torchvision(full):
    eff, vit = full["EfficientNet-B0"], full["ViT-B/16"]
    assert [type(m).__name__ for m in eff.features] == (
        ["Conv2dNormActivation"] + ["Sequential"] * 7 + ["Conv2dNormActivation"]
    )
    assert [len(stage) for stage in eff.features[1:8]] == [r[5] for r in T.EFFICIENTNET_B0]
    first, second = eff.features[1][0], eff.features[2][0]
    assert [type(m).__name__ for m in first.block] == [
        "Conv2dNormActivation",
        "SqueezeExcitation",
        "Conv2dNormActivation",
    ]  # expand ratio 1: no expansion layer
    assert [type(m).__name__ for m in second.block] == [
        "Conv2dNormActivation",
        "Conv2dNormActivation",
        "SqueezeExcitation",
        "Conv2dNormActivation",
    ]
    assert isinstance(second.stochastic_depth, T.StochasticDepth)
    se = second.block[2]
    assert [n for n, _ in se.named_children()] == [
        "avgpool",
        "fc1",
        "fc2",
        "activation",
        "scale_activation",
    ]
    assert [type(m).__name__ for m in eff.classifier] == ["Dropout", "Linear"]
    # torchvision: stochastic depth 0.2 * block / 16 blocks
    probs = [b.stochastic_depth.p for stage in eff.features[1:8] for b in stage]
    assert probs == [0.2 * i / 16 for i in range(16)]
    assert [n for n, _ in vit.named_children()] == ["conv_proj", "encoder", "heads"]
    assert [n for n, _ in vit.encoder.named_children()] == ["dropout", "layers", "ln"]
    layer = vit.encoder.layers.encoder_layer_11
    assert [n for n, _ in layer.named_children()] == [
        "ln_1",
        "self_attention",
        "dropout",
        "ln_2",
        "mlp",
    ]
    assert layer.self_attention.batch_first
    assert [type(m).__name__ for m in layer.mlp] == [
        "Linear",
        "GELU",
        "Dropout",
        "Linear",
        "Dropout",
    ]
    assert [n for n, _ in vit.named_parameters(recurse=False)] == ["class_token"]
    assert [n for n, _ in vit.encoder.named_parameters(recurse=False)] == ["pos_embedding"]


# --------------------------------------------------------------------------- names and shapes


def _vit_key(spec_name: str) -> str:
    """torchvision's key prefix of a ViT spec node (the spec abbreviates these names)."""
    name = re.sub(r"^encoder\.layer(\d+)\.", r"encoder.layers.encoder_layer_\1.", spec_name)
    name = re.sub(r"\.attn$", ".self_attention", name)
    return "encoder.pos_embedding" if name == "pos_embedding" else name


def _efficientnet_keys(spec) -> dict[str, str]:
    """torchvision's key prefix of each EfficientNet spec node with parameters. The spec
    names MBConv blocks ``mbconv<node index>`` and conv/BN pairs ``.conv``/``.bn``; torchvision
    ``features.<stage>.<block>.block.<layer>`` and ``.0``/``.1``."""
    blocks = [(s, b) for s, row in enumerate(T.EFFICIENTNET_B0, 1) for b in range(row[5])]
    prefixes = list(dict.fromkeys(n.name.split(".")[0] for n in spec.nodes if "mbconv" in n.name))
    assert len(prefixes) == len(blocks)
    out = {}
    for node in spec.nodes:
        if not node.params:
            continue
        parts = node.name.split(".")
        if parts[0] in prefixes:
            s, b = blocks[prefixes.index(parts[0])]
            has_expand = any(n.name == f"{parts[0]}.expand.conv" for n in spec.nodes)
            layer = {"expand": 0, "dw": 1, "se": 2, "project": 3}[parts[1]] - (not has_expand)
            tail = {"conv": "0", "bn": "1", "fc1": "fc1", "fc2": "fc2"}[parts[2]]
            out[node.name] = f"features.{s}.{b}.block.{layer}.{tail}"
        else:
            out[node.name] = re.sub(r"\.conv$", ".0", re.sub(r"\.bn$", ".1", node.name))
    return out


def _by_prefix(module: torch.nn.Module, prefix: str) -> dict[str, tuple]:
    return {
        k: tuple(v.shape)
        for k, v in module.named_parameters()
        if k == prefix or k.startswith(prefix + ".")
    }


@pytest.mark.parametrize("name", ["EfficientNet-B0", "ViT-B/16"])
def test_every_spec_node_has_the_torchvision_parameters(full, name):
    module, spec = full[name], A.reference_spec(name)
    keys = _efficientnet_keys(spec) if name == "EfficientNet-B0" else None
    seen: set[str] = set()
    same_name = []
    for node in spec.nodes:
        if not node.params:
            continue
        prefix = keys[node.name] if keys else _vit_key(node.name)
        if prefix == node.name:
            same_name.append(node.name)
        params = _by_prefix(module, prefix)
        assert params, f"{name}: no parameters under {prefix!r} for spec node {node.name!r}"
        assert sum(torch.Size(s).numel() for s in params.values()) == node.params, node.name
        if node.op in ("conv", "linear"):
            assert f"{prefix}.weight" in params, (node.name, sorted(params))
        seen |= set(params)
    assert seen == {k for k, _ in module.named_parameters()}  # nothing left over
    # where the spec already uses torchvision's names (the rest is mapped above)
    expected = (
        {"classifier.1"}
        if name == "EfficientNet-B0"
        else {"conv_proj", "class_token", "encoder.ln", "heads.head"}
    )
    assert set(same_name) == expected


def test_spec_position_table_has_no_batch_axis(full):
    """A reported difference: the spec's table is (L, d), torchvision's (1, L, d)."""
    vit = full["ViT-B/16"]
    assert tuple(vit.encoder.pos_embedding.shape) == (1, 197, 768)
    assert tuple(to_module(A.vit(16, 8, 1, 8, 2, 16, 5)).state_dict()[
        "layers.n4_pos_embedding.table"
    ].shape) == (5, 8)  # fmt: skip


# --------------------------------------------------------------------------- forward


def _copy_in_order(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Copy parameters by position in the order of the forward computation (shapes must agree
    up to a leading 1). A module's own parameters come first in ``parameters()``, so the
    ViT's ``class_token`` is moved behind ``conv_proj``, where the forward uses it."""
    names = [k for k, _ in dst.named_parameters()]
    if names[0] == "class_token":
        names = names[1:3] + names[:1] + names[3:]
    own = dict(dst.named_parameters())
    pairs = list(zip(src.parameters(), [own[k] for k in names], strict=True))
    with torch.no_grad():
        for a, b in pairs:
            assert a.numel() == b.numel() and a.squeeze().shape == b.squeeze().shape
            b.copy_(a.reshape(b.shape))


def test_tiny_efficientnet_computes_what_the_spec_describes():
    torch.manual_seed(0)
    spec_net = to_module(A.efficientnet_b0(TINY_SETTINGS, 32, 5, 64)).eval()
    net = T.EfficientNet(TINY_SETTINGS, num_classes=5, last_channel=64).eval()
    _copy_in_order(spec_net, net)
    x = torch.randn(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 5)
    torch.testing.assert_close(out, spec_net(x), rtol=1e-5, atol=1e-5)
    assert torch.equal(net(x), out)  # eval: stochastic depth and dropout are the identity


def test_tiny_vit_computes_what_the_spec_describes():
    torch.manual_seed(0)
    spec_net = to_module(A.vit(16, 8, 2, 8, 2, 16, 5)).eval()
    net = T.VisionTransformer(16, 8, 2, 2, 8, 16, num_classes=5).eval()
    _copy_in_order(spec_net, net)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():  # also the fused fast path of nn.MultiheadAttention
        fast = net(x)
    out = net(x)
    assert out.shape == (3, 5)
    torch.testing.assert_close(out, spec_net(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast, out, rtol=1e-5, atol=1e-5)
    assert torch.equal(net(x), out)


def test_encoder_block_is_torchs_pre_norm_layer():
    """EncoderBlock == nn.TransformerEncoderLayer(norm_first=True, gelu, eps 1e-6)."""
    torch.manual_seed(1)
    block = T.EncoderBlock(2, 8, 16).eval()
    ref = torch.nn.TransformerEncoderLayer(
        8, 2, 16, 0.0, "gelu", 1e-6, batch_first=True, norm_first=True
    ).eval()
    src = dict(block.named_parameters())
    names = {
        "self_attn": "self_attention",
        "linear1": "mlp.0",
        "linear2": "mlp.3",
        "norm1": "ln_1",
        "norm2": "ln_2",
    }
    with torch.no_grad():
        for k, p in ref.named_parameters():
            head, _, tail = k.partition(".")
            p.copy_(src[f"{names[head]}.{tail}"])
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(block(x), ref(x), rtol=1e-5, atol=1e-6)


def test_stochastic_depth_in_training_drops_whole_rows():
    torch.manual_seed(2)
    sd = T.StochasticDepth(0.5, "row")
    y = sd(torch.ones(64, 3, 2))
    rows = y.reshape(64, -1)
    assert set(rows.unique().tolist()) <= {0.0, 2.0}  # kept rows scaled by 1/(1-p)
    assert bool((rows == rows[:, :1]).all())  # whole rows
    assert 0 < int((rows[:, 0] == 0).sum()) < 64
    assert torch.equal(sd.eval()(torch.ones(4, 3)), torch.ones(4, 3))


# --------------------------------------------------------------------------- FlopCounterMode


@pytest.mark.parametrize("name", ["EfficientNet-B0", "ViT-B/16"])
def test_flop_counter_on_meta_is_twice_the_spec_count(full, name):
    x = torch.zeros(1, 3, 224, 224, device="meta")
    with FlopCounterMode(display=False) as counter:
        full[name](x)
    assert counter.get_total_flops() == 2 * A.reference_spec(name).count()
