"""Bad-input entries for :mod:`numerics.torchvision_nets` (torchvision-structured
EfficientNet-B0 and ViT-B/16).

Classes are checked by the state-dict shapes they build (tiny sizes); the full-size
builders run on the ``meta`` device (counts only); ``forward`` methods on small seeded
modules in eval mode (deterministic, so equivalent spellings of the input must agree).
"""

from __future__ import annotations

import torch

from numerics import torchvision_nets as T
from tests.badinput.numerics_models import _shapes
from tests.badinput.table import Entry, ErrorSample, Sample, one_of, positive_int

TINY = ((1, 3, 1, 8, 8, 1), (6, 3, 2, 8, 16, 1))


def _meta_params(build):
    """Build on the meta device; return the parameter count."""

    def make():
        def call(*args, **kwargs):
            with torch.device("meta"):
                module = build(*args, **kwargs)
            return sum(p.numel() for p in module.parameters())

        return call

    return make


def _seeded_eval(build):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build().eval()


def _close_to_gate(r) -> None:
    # the SE output is the input times a sigmoid gate: strictly between 0 and the input (ones)
    assert r.shape == (2, 8, 4, 4) and bool(((r > 0) & (r < 1)).all())


IMG = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))

ENTRIES = [
    Entry(
        "numerics.torchvision_nets.Conv2dNormActivation",
        make=_shapes(T.Conv2dNormActivation),
        samples=(
            Sample(
                {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": 2},
                check=lambda r: (
                    r["0.weight"] == (8, 4, 3, 3)
                    and "0.bias" not in r
                    and r["1.running_var"] == (8,)
                ),
            ),
            Sample(
                {"in_channels": 4, "out_channels": 4, "groups": 4, "norm": False},
                check=lambda r: r == {"0.weight": (4, 1, 3, 3), "0.bias": (4,)},
            ),
        ),
        errors=(
            ErrorSample({"in_channels": 4, "out_channels": 6, "groups": 4}, ValueError, "groups"),
            ErrorSample(
                {"in_channels": 4, "out_channels": 4, "activation": "gelu"},
                ValueError,
                "activation must be",
            ),
            ErrorSample({"in_channels": 4, "out_channels": 4, "norm": 1}, TypeError, "norm"),
        ),
        result="any",
        domains={"in_channels": positive_int, "out_channels": positive_int},
    ),
    Entry(
        "numerics.torchvision_nets.SqueezeExcitation",
        make=_shapes(T.SqueezeExcitation),
        samples=(
            Sample(
                {"input_channels": 8, "squeeze_channels": 2},
                check=lambda r: (
                    r
                    == {
                        "fc1.weight": (2, 8, 1, 1),
                        "fc1.bias": (2,),
                        "fc2.weight": (8, 2, 1, 1),
                        "fc2.bias": (8,),
                    }
                ),
            ),
        ),
        errors=(ErrorSample({"input_channels": 0, "squeeze_channels": 2}, ValueError, "input"),),
        result="any",
        domains={"input_channels": positive_int, "squeeze_channels": positive_int},
    ),
    Entry(
        "numerics.torchvision_nets.SqueezeExcitation.forward",
        make=lambda: _seeded_eval(lambda: T.SqueezeExcitation(8, 2)).forward,
        samples=(Sample({"input": torch.ones(2, 8, 4, 4)}, check=_close_to_gate),),
        errors=(ErrorSample({"input": torch.ones(2, 4, 4, 4)}, ValueError, "input must"),),
    ),
    Entry(
        "numerics.torchvision_nets.StochasticDepth",
        # compared by what the module holds (two modules are never ==)
        make=lambda: (
            lambda *a, **kw: (
                lambda m: {"p": m.p, "mode": m.mode, "params": len(list(m.parameters()))}
            )(T.StochasticDepth(*a, **kw))
        ),
        samples=(
            Sample(
                {"p": 0.25, "mode": "row"},
                check=lambda r: r == {"p": 0.25, "mode": "row", "params": 0},
            ),
        ),
        errors=(
            ErrorSample({"p": 1.5, "mode": "row"}, ValueError, "p must be"),
            ErrorSample({"p": 0.1, "mode": "col"}, ValueError, "mode must be"),
        ),
        result="any",
        domains={"mode": one_of("row", "batch")},
    ),
    Entry(
        "numerics.torchvision_nets.StochasticDepth.forward",
        make=lambda: T.StochasticDepth(0.5, "row").eval().forward,
        samples=(
            Sample({"input": torch.arange(6.0).reshape(2, 3)}, check=lambda r: r[1, 2] == 5.0),
        ),
        errors=(ErrorSample({"input": [1.0]}, TypeError, "input must be"),),
        note="eval mode: the identity (training mode is random; tested in test_torchvision_nets)",
    ),
    Entry(
        "numerics.torchvision_nets.MBConv",
        make=_shapes(T.MBConv),
        samples=(
            Sample(
                {
                    "input_channels": 8,
                    "out_channels": 16,
                    "expand_ratio": 6,
                    "kernel": 5,
                    "stride": 2,
                },
                check=lambda r: (
                    r["block.0.0.weight"] == (48, 8, 1, 1)
                    and r["block.1.0.weight"] == (48, 1, 5, 5)
                    and r["block.2.fc1.weight"] == (2, 48, 1, 1)
                    and r["block.3.0.weight"] == (16, 48, 1, 1)
                ),
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "input_channels": 8,
                    "out_channels": 8,
                    "expand_ratio": 1,
                    "kernel": 4,
                    "stride": 1,
                },
                ValueError,
                "kernel must be odd",
            ),
            ErrorSample(
                {
                    "input_channels": 8,
                    "out_channels": 8,
                    "expand_ratio": 1,
                    "kernel": 3,
                    "stride": 3,
                },
                ValueError,
                "stride",
            ),
        ),
        result="any",
    ),
    Entry(
        "numerics.torchvision_nets.MBConv.forward",
        make=lambda: _seeded_eval(lambda: T.MBConv(8, 8, 6, 3, 1, 0.5)).forward,
        samples=(
            Sample({"input": torch.ones(2, 8, 5, 5)}, check=lambda r: r.shape == (2, 8, 5, 5)),
        ),
        errors=(ErrorSample({"input": torch.ones(2, 8, 5)}, ValueError, "input must have"),),
    ),
    Entry(
        "numerics.torchvision_nets.EfficientNet",
        make=_shapes(T.EfficientNet),
        samples=(
            Sample(
                {"settings": TINY, "num_classes": 5},
                check=lambda r: (
                    r["features.0.0.weight"] == (8, 3, 3, 3)
                    and r["features.3.0.weight"] == (64, 16, 1, 1)  # 4 x last stage width
                    and r["classifier.1.weight"] == (5, 64)
                ),
            ),
            Sample(
                {"settings": TINY, "num_classes": 5, "width_mult": 1.5, "depth_mult": 2.0},
                check=lambda r: (
                    r["features.0.0.weight"] == (16, 3, 3, 3)  # 12 rounds to 16
                    and "features.2.1.block.0.0.weight" in r
                ),  # depth 1 -> 2 blocks
            ),
        ),
        errors=(
            ErrorSample({"settings": ()}, TypeError, "settings must be"),
            ErrorSample(
                {"settings": ((1, 3, 1, 8, 8, 1), (6, 3, 2, 16, 16, 1))},
                ValueError,
                r"settings\[1\]",
            ),
            ErrorSample({"settings": TINY, "dropout": 2.0}, ValueError, "dropout"),
        ),
        result="any",
    ),
    Entry(
        "numerics.torchvision_nets.EfficientNet.forward",
        make=lambda: _seeded_eval(lambda: T.EfficientNet(TINY, num_classes=5)).forward,
        samples=(Sample({"x": IMG}, check=lambda r: r.shape == (2, 5)),),
        errors=(
            ErrorSample({"x": torch.ones(2, 4, 8, 8)}, ValueError, "x must have"),
            ErrorSample({"x": IMG.double()}, TypeError, "x must have the parameters' dtype"),
        ),
    ),
    Entry(
        "numerics.torchvision_nets.efficientnet_b0",
        make=_meta_params(T.efficientnet_b0),
        samples=(
            Sample({}, check=lambda n: n == 5_288_548),  # torchvision num_params
            Sample({"num_classes": 10}, check=lambda n: n == 5_288_548 - 990 * 1281),
        ),
        errors=(ErrorSample({"num_classes": 0}, ValueError, "num_classes"),),
        result="count",
        domains={"num_classes": positive_int},
    ),
    Entry(
        "numerics.torchvision_nets.MLPBlock",
        make=_shapes(T.MLPBlock),
        samples=(
            Sample(
                {"in_dim": 4, "mlp_dim": 6, "dropout": 0.1},
                check=lambda r: (
                    r == {"0.weight": (6, 4), "0.bias": (6,), "3.weight": (4, 6), "3.bias": (4,)}
                ),
            ),
        ),
        errors=(ErrorSample({"in_dim": 4, "mlp_dim": 6, "dropout": -0.1}, ValueError, "dropout"),),
        result="any",
        domains={"in_dim": positive_int, "mlp_dim": positive_int},
    ),
    Entry(
        "numerics.torchvision_nets.EncoderBlock",
        make=_shapes(T.EncoderBlock),
        samples=(
            Sample(
                {"num_heads": 2, "hidden_dim": 8, "mlp_dim": 16},
                check=lambda r: (
                    r["self_attention.in_proj_weight"] == (24, 8) and r["mlp.3.weight"] == (8, 16)
                ),
            ),
        ),
        errors=(
            ErrorSample({"num_heads": 3, "hidden_dim": 8, "mlp_dim": 16}, ValueError, "num_heads"),
        ),
        result="any",
        bad_values={"num_heads": (3, 5)},
    ),
    Entry(
        "numerics.torchvision_nets.EncoderBlock.forward",
        make=lambda: _seeded_eval(lambda: T.EncoderBlock(2, 8, 16)).forward,
        samples=(Sample({"input": torch.ones(2, 3, 8)}, check=lambda r: r.shape == (2, 3, 8)),),
        errors=(ErrorSample({"input": torch.ones(2, 3, 6)}, ValueError, "input must have"),),
    ),
    Entry(
        "numerics.torchvision_nets.Encoder",
        make=_shapes(T.Encoder),
        samples=(
            Sample(
                {
                    "seq_length": 5,
                    "num_layers": 2,
                    "num_heads": 2,
                    "hidden_dim": 8,
                    "mlp_dim": 16,
                },
                check=lambda r: (
                    r["pos_embedding"] == (1, 5, 8)
                    and "layers.encoder_layer_1.ln_2.weight" in r
                    and r["ln.weight"] == (8,)
                ),
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "seq_length": 5,
                    "num_layers": 2000,
                    "num_heads": 2,
                    "hidden_dim": 8,
                    "mlp_dim": 16,
                },
                ValueError,
                "num_layers",
            ),
        ),
        result="any",
    ),
    Entry(
        "numerics.torchvision_nets.Encoder.forward",
        make=lambda: _seeded_eval(lambda: T.Encoder(5, 1, 2, 8, 16)).forward,
        samples=(Sample({"input": torch.ones(2, 5, 8)}, check=lambda r: r.shape == (2, 5, 8)),),
        errors=(ErrorSample({"input": torch.ones(2, 4, 8)}, ValueError, "input must have"),),
    ),
    Entry(
        "numerics.torchvision_nets.VisionTransformer",
        make=_shapes(T.VisionTransformer),
        samples=(
            Sample(
                {
                    "image_size": 16,
                    "patch_size": 8,
                    "num_layers": 1,
                    "num_heads": 2,
                    "hidden_dim": 8,
                    "mlp_dim": 16,
                    "num_classes": 5,
                },
                check=lambda r: (
                    r["class_token"] == (1, 1, 8)
                    and r["encoder.pos_embedding"] == (1, 5, 8)
                    and r["conv_proj.weight"] == (8, 3, 8, 8)
                    and r["heads.head.weight"] == (5, 8)
                ),
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "image_size": 16,
                    "patch_size": 5,
                    "num_layers": 1,
                    "num_heads": 2,
                    "hidden_dim": 8,
                    "mlp_dim": 16,
                },
                ValueError,
                "patch_size must divide",
            ),
        ),
        result="any",
        bad_values={"patch_size": (3, 32)},
    ),
    Entry(
        "numerics.torchvision_nets.VisionTransformer.forward",
        make=lambda: (
            _seeded_eval(lambda: T.VisionTransformer(16, 8, 1, 2, 8, 16, num_classes=5)).forward
        ),
        samples=(Sample({"x": IMG}, check=lambda r: r.shape == (2, 5)),),
        errors=(ErrorSample({"x": torch.ones(2, 3, 24, 24)}, ValueError, "x must have"),),
    ),
    Entry(
        "numerics.torchvision_nets.vit_b_16",
        make=_meta_params(T.vit_b_16),
        samples=(
            Sample({}, check=lambda n: n == 86_567_656),  # torchvision num_params
            # 384: 577 positions instead of 197 (torchvision's SWAG weights: 86,859,496)
            Sample({"image_size": 384}, check=lambda n: n == 86_859_496),
        ),
        errors=(ErrorSample({"image_size": 100}, ValueError, "image_size must be a multiple"),),
        result="count",
        domains={"image_size": lambda v: positive_int(v) and int(v) % 16 == 0},
    ),
]
