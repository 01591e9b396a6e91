r"""Reference networks as layer specs (:class:`theory.arch.Spec`), layer for layer as in
torchvision (ResNet, VGG, MobileNetV2, DenseNet, EfficientNet, ViT) and Hugging Face
``BertModel`` (BERT-base with pooler). Every hyper-parameter may be a SymPy symbol where the
shapes allow it (width multiplier, growth rate, resolution, sequence length).

Published figures reproduced by the tests (:data:`REFERENCE`): parameter counts and
torchvision's ``_ops`` (GMACs of convolutions, linear layers and attention matmuls at
224×224). Sources: torchvision ``models/*.py`` weight metadata (``num_params``, ``_ops``) of
the ``IMAGENET1K_V1`` weights; BERT: ``BertModel`` of ``bert-base-uncased`` (Devlin et al.,
2019, report "110M").
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import sympy

from theory._args import TEXT, Dim, bounded, divides, flag
from theory.arch import Spec, SpecError, _dim

__all__ = [
    "REFERENCE",
    "bert",
    "densenet",
    "densenet_block_params",
    "derive_densenet_quadratic",
    "efficientnet_b0",
    "mobilenet_v2",
    "reference_spec",
    "resnet",
    "resnet50_params_in_width",
    "vgg",
    "vit",
    "vit_macs_in_tokens",
]


MAX_LAYERS = 1000
"""Most blocks/layers a builder lays out (summed over stages); more is refused at once with
``ValueError`` naming the argument (each block is enumerated node by node)."""


def _count(value: object, name: str, minimum: int = 1) -> int:
    """A plain integer >= ``minimum`` (Python or NumPy; bools and SymPy expressions refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _counts(values: object, name: str, width: int | None = None) -> list:
    """A non-empty sequence of integers >= 1 (``width=None``) or of ``width``-tuples of them,
    whose block total is at most :data:`MAX_LAYERS`."""
    if isinstance(values, TEXT) or not isinstance(values, Sequence) or not values:
        raise TypeError(
            f"{name} must be a non-empty sequence of sizes (not str/bytes), got {values!r}"
        )
    out: list = []
    for i, v in enumerate(values):
        if width is None:
            out.append(_count(v, f"{name}[{i}]"))
            continue
        if isinstance(v, TEXT) or not isinstance(v, Sequence) or len(v) != width:
            raise TypeError(f"{name}[{i}] must be a tuple of {width} integers, got {v!r}")
        out.append(tuple(_count(e, f"{name}[{i}][{j}]") for j, e in enumerate(v)))
    return out


def _layers(total: int, name: str) -> None:
    bounded(total, f"{name} (total blocks)", MAX_LAYERS)


def _build(build, resolution_name: str, resolution: Dim):
    """Run a builder; a shape that stops chaining can only come from a too small input."""
    try:
        return build()
    except SpecError as err:
        raise SpecError(
            f"{resolution_name}={resolution} is too small for this network: {err}"
        ) from None


def _ch(value: Dim) -> Dim:
    """An exact channel count (sympy Integer → int)."""
    value = sympy.sympify(value)
    return int(value) if value.is_Integer else value


# --------------------------------------------------------------------------- ResNet


def _conv_bn(s: Spec, x, out, k, stride=1, padding=0, groups=1, act="relu", name=""):
    x = s.conv(x, out, k, stride, padding, groups, bias=False, name=f"{name}.conv")
    x = s.batchnorm(x, name=f"{name}.bn")
    return s.act(x, act, name=f"{name}.{act}") if act else x


def resnet(
    blocks: Sequence[int] = (2, 2, 2, 2),
    bottleneck: bool = False,
    width: Dim = 64,
    resolution: Dim = 224,
    classes: Dim = 1000,
) -> Spec:
    """torchvision ResNet (v1.5: stride on the 3×3 of a bottleneck). ``width`` is the stem's
    channels (64); stage widths are ``width·(1, 2, 4, 8)``, bottlenecks expand by 4.
    ``blocks``: blocks per stage (integers >= 1, at most :data:`MAX_LAYERS` in all)."""
    blocks = _counts(blocks, "blocks")
    _layers(sum(blocks), "blocks")
    bottleneck = flag(bottleneck, "bottleneck")
    width, resolution = _dim(width, "width"), _dim(resolution, "resolution")
    classes = _dim(classes, "classes")
    expansion = 4 if bottleneck else 1
    s = Spec(f"resnet{'-bottleneck' if bottleneck else ''}{list(blocks)}")
    x = s.input(3, resolution, resolution)
    x = _conv_bn(s, x, width, 7, 2, 3, name="stem")
    x = s.maxpool(x, 3, 2, 1, name="stem.maxpool")
    channels = width
    for stage, count in enumerate(blocks):
        planes = _ch(width * 2**stage)
        for b in range(count):
            stride = 2 if stage > 0 and b == 0 else 1
            name = f"layer{stage + 1}.{b}"
            out = _ch(planes * expansion)
            if bottleneck:
                y = _conv_bn(s, x, planes, 1, name=f"{name}.1")
                y = _conv_bn(s, y, planes, 3, stride, 1, name=f"{name}.2")
                y = _conv_bn(s, y, out, 1, act=None, name=f"{name}.3")
            else:
                y = _conv_bn(s, x, planes, 3, stride, 1, name=f"{name}.1")
                y = _conv_bn(s, y, planes, 3, 1, 1, act=None, name=f"{name}.2")
            if stride != 1 or sympy.simplify(channels - out) != 0:
                x = _conv_bn(s, x, out, 1, stride, act=None, name=f"{name}.downsample")
            x = s.act(s.add(y, x, name=f"{name}.add"), name=f"{name}.relu")
            channels = out
    x = s.flatten(s.adaptive_avgpool(x, name="avgpool"))
    s.linear(x, classes, name="fc")
    return s


# --------------------------------------------------------------------------- VGG

VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg(
    config: Sequence[int | str] = VGG16,
    resolution: Dim = 224,
    classes: Dim = 1000,
    hidden: Dim = 4096,
    pool_size: int = 7,
) -> Spec:
    """torchvision VGG without batch norm: 3×3 convs with bias, 2×2 max pools, adaptive
    average pool to 7×7, three linear layers. ``config``: conv widths (integers >= 1 or SymPy
    expressions) and ``"M"`` for a max pool, at most :data:`MAX_LAYERS` entries; the
    resolution must survive the max pools (>= 2 ** number of ``"M"``)."""
    if isinstance(config, TEXT) or not isinstance(config, Sequence) or not config:
        raise TypeError(f"config must be a non-empty sequence of widths and 'M', got {config!r}")
    _layers(len(config), "config")
    config = [
        v if isinstance(v, str) and v == "M" else _dim(v, f"config[{i}]")
        for i, v in enumerate(config)
    ]
    resolution, classes = _dim(resolution, "resolution"), _dim(classes, "classes")
    hidden, pool_size = _dim(hidden, "hidden"), _count(pool_size, "pool_size")
    bounded(pool_size, "pool_size")

    def build() -> Spec:
        s = Spec("vgg")
        x = s.input(3, resolution, resolution)
        for i, v in enumerate(config):
            if isinstance(v, str):
                x = s.maxpool(x, 2, 2, name=f"features.{i}")
            else:
                x = s.act(s.conv(x, v, 3, 1, 1, bias=True, name=f"features.{i}"))
        x = s.flatten(s.adaptive_avgpool(x, pool_size, name="avgpool"))
        x = s.act(s.linear(x, hidden, name="classifier.0"))
        x = s.act(s.linear(x, hidden, name="classifier.3"))
        s.linear(x, classes, name="classifier.6")
        return s

    return _build(build, "resolution", resolution)


# --------------------------------------------------------------------------- MobileNetV2

MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


def mobilenet_v2(
    settings: Sequence[tuple[int, int, int, int]] = MOBILENET_V2,
    resolution: Dim = 224,
    classes: Dim = 1000,
    stem: int = 32,
    last: int = 1280,
) -> Spec:
    """torchvision MobileNetV2 (width 1.0): inverted residual blocks (expand 1×1, depthwise
    3×3, linear 1×1 projection), ReLU6, residual when stride 1 and channels equal.
    ``settings``: ``(expansion t, channels c, blocks n, first stride s)`` tuples of integers
    >= 1, at most :data:`MAX_LAYERS` blocks in all."""
    settings = _counts(settings, "settings", 4)
    _layers(sum(n for _, _, n, _ in settings), "settings")
    resolution, classes = _dim(resolution, "resolution"), _dim(classes, "classes")
    stem, last = _count(stem, "stem"), _count(last, "last")
    return _build(
        lambda: _mobilenet_v2(settings, resolution, classes, stem, last), "resolution", resolution
    )


def _mobilenet_v2(settings, resolution, classes, stem, last) -> Spec:
    s = Spec("mobilenet_v2")
    x = s.input(3, resolution, resolution)
    x = _conv_bn(s, x, stem, 3, 2, 1, act="relu6", name="features.0")
    c = stem
    for t, out, n, first_stride in settings:
        for i in range(n):
            stride = first_stride if i == 0 else 1
            name = f"block{len(s.nodes)}"
            hidden = c * t
            y = x if t == 1 else _conv_bn(s, x, hidden, 1, act="relu6", name=f"{name}.expand")
            y = _conv_bn(s, y, hidden, 3, stride, 1, hidden, act="relu6", name=f"{name}.dw")
            y = _conv_bn(s, y, out, 1, act=None, name=f"{name}.project")
            x = s.add(y, x, name=f"{name}.add") if stride == 1 and c == out else y
            c = out
    x = _conv_bn(s, x, last, 1, act="relu6", name="features.18")
    x = s.flatten(s.adaptive_avgpool(x))
    s.linear(x, classes, name="classifier.1")
    return s


# --------------------------------------------------------------------------- DenseNet


def densenet(
    blocks: Sequence[int] = (6, 12, 24, 16),
    growth: Dim = 32,
    init: Dim = 64,
    bn_size: int = 4,
    resolution: Dim = 224,
    classes: Dim = 1000,
) -> Spec:
    r"""torchvision DenseNet-BC: layer :math:`l` of a block sees :math:`k_0 + (l-1)k`
    channels (BN-ReLU-1×1 conv to ``bn_size·k``, BN-ReLU-3×3 conv to :math:`k`, concatenated);
    transitions halve the channels and the resolution. ``blocks``: layers per dense block
    (integers >= 1, at most :data:`MAX_LAYERS` in all)."""
    blocks = _counts(blocks, "blocks")
    _layers(sum(blocks), "blocks")
    growth, init, bn_size = _dim(growth, "growth"), _dim(init, "init"), _count(bn_size, "bn_size")
    resolution, classes = _dim(resolution, "resolution"), _dim(classes, "classes")
    return _build(
        lambda: _densenet(blocks, growth, init, bn_size, resolution, classes),
        "resolution",
        resolution,
    )


def _densenet(blocks, growth, init, bn_size, resolution, classes) -> Spec:
    s = Spec("densenet")
    x = s.input(3, resolution, resolution)
    x = _conv_bn(s, x, init, 7, 2, 3, name="features.0")
    x = s.maxpool(x, 3, 2, 1, name="features.pool0")
    c = init
    for b, layers in enumerate(blocks):
        features = [x]
        for layer in range(layers):
            name = f"denseblock{b + 1}.layer{layer + 1}"
            y = s.concat(features, name=f"{name}.concat") if len(features) > 1 else features[0]
            y = s.act(s.batchnorm(y, name=f"{name}.norm1"))
            y = s.conv(y, bn_size * growth, 1, bias=False, name=f"{name}.conv1")
            y = s.act(s.batchnorm(y, name=f"{name}.norm2"))
            features.append(s.conv(y, growth, 3, 1, 1, bias=False, name=f"{name}.conv2"))
        x = s.concat(features, name=f"denseblock{b + 1}.out")
        c = _ch(c + layers * growth)
        if b < len(blocks) - 1:
            name = f"transition{b + 1}"
            x = s.act(s.batchnorm(x, name=f"{name}.norm"))
            c = _ch(c / 2) if not isinstance(c, int) else c // 2
            x = s.avgpool(
                s.conv(x, c, 1, bias=False, name=f"{name}.conv"), 2, 2, name=f"{name}.pool"
            )
    x = s.act(s.batchnorm(x, name="features.norm5"))
    x = s.flatten(s.adaptive_avgpool(x))
    s.linear(x, classes, name="classifier")
    return s


# --------------------------------------------------------------------------- EfficientNet-B0

EFFICIENTNET_B0 = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                   (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                   (6, 3, 1, 192, 320, 1))  # fmt: skip


def efficientnet_b0(
    settings: Sequence[tuple[int, int, int, int, int, int]] = EFFICIENTNET_B0,
    resolution: Dim = 224,
    classes: Dim = 1000,
    last: int = 1280,
) -> Spec:
    """torchvision EfficientNet-B0: MBConv blocks (expand, depthwise k×k, squeeze-excite with
    ``max(1, in/4)`` channels, projection), SiLU, residual when stride 1 and channels equal.
    ``settings``: ``(expansion, kernel, first stride, in channels, out channels, blocks)``
    tuples of integers >= 1 whose in channels are the previous out channels, at most
    :data:`MAX_LAYERS` blocks in all."""
    settings = _counts(settings, "settings", 6)
    for i in range(1, len(settings)):
        if settings[i][3] != settings[i - 1][4]:
            raise ValueError(
                f"settings[{i}] must start from the channels settings[{i - 1}] ends with "
                f"({settings[i - 1][4]}), got in channels {settings[i][3]}"
            )
    _layers(sum(row[5] for row in settings), "settings")
    resolution, classes = _dim(resolution, "resolution"), _dim(classes, "classes")
    last = _count(last, "last")
    return _build(
        lambda: _efficientnet_b0(settings, resolution, classes, last), "resolution", resolution
    )


def _efficientnet_b0(settings, resolution, classes, last) -> Spec:
    s = Spec("efficientnet_b0")
    x = s.input(3, resolution, resolution)
    x = _conv_bn(s, x, settings[0][3], 3, 2, 1, act="silu", name="features.0")
    for expand, k, first_stride, c_in, c_out, n in settings:
        for i in range(n):
            stride, cin = (first_stride, c_in) if i == 0 else (1, c_out)
            name = f"mbconv{len(s.nodes)}"
            hidden = cin * expand
            y = x if expand == 1 else _conv_bn(s, x, hidden, 1, act="silu", name=f"{name}.expand")
            y = _conv_bn(s, y, hidden, k, stride, (k - 1) // 2, hidden, "silu", f"{name}.dw")
            squeeze = max(1, cin // 4)
            g = s.adaptive_avgpool(y, name=f"{name}.se.pool")
            g = s.act(s.conv(g, squeeze, 1, bias=True, name=f"{name}.se.fc1"), "silu")
            g = s.act(s.conv(g, hidden, 1, bias=True, name=f"{name}.se.fc2"), "sigmoid")
            y = s.scale(y, g, name=f"{name}.se.scale")
            y = _conv_bn(s, y, c_out, 1, act=None, name=f"{name}.project")
            x = s.add(y, x, name=f"{name}.add") if stride == 1 and cin == c_out else y
    x = _conv_bn(s, x, last, 1, act="silu", name="features.8")
    x = s.flatten(s.adaptive_avgpool(x))
    s.linear(x, classes, name="classifier.1")
    return s


# --------------------------------------------------------------------------- transformers


def _encoder_layer(s: Spec, x, d, heads, mlp, pre_norm: bool, eps: float, name: str):
    """Pre-norm (ViT) or post-norm (BERT) encoder layer: attention and a GELU MLP."""
    if pre_norm:
        y = s.attention(s.layernorm(x, eps, name=f"{name}.ln_1"), heads, name=f"{name}.attn")
        x = s.add(x, y, name=f"{name}.add_1")
        y = s.layernorm(x, eps, name=f"{name}.ln_2")
        y = s.linear(s.act(s.linear(y, mlp, name=f"{name}.mlp.0"), "gelu"), d, name=f"{name}.mlp.3")
        return s.add(x, y, name=f"{name}.add_2")
    y = s.attention(x, heads, name=f"{name}.attn")
    x = s.layernorm(s.add(x, y, name=f"{name}.add_1"), eps, name=f"{name}.ln_1")
    y = s.linear(
        s.act(s.linear(x, mlp, name=f"{name}.intermediate"), "gelu"), d, name=f"{name}.output"
    )
    return s.layernorm(s.add(x, y, name=f"{name}.add_2"), eps, name=f"{name}.ln_2")


def vit(
    image_size: Dim = 224,
    patch: Dim = 16,
    layers: int = 12,
    d: Dim = 768,
    heads: Dim = 12,
    mlp: Dim = 3072,
    classes: Dim = 1000,
) -> Spec:
    """torchvision ViT (B/16 by default): patch convolution, class token, learned positions,
    pre-norm encoder layers (LayerNorm eps 1e-6), head on the class token. ``patch`` must
    divide ``image_size`` (torchvision asserts it), ``heads`` must divide ``d``; ``layers`` at
    most :data:`MAX_LAYERS`."""
    image_size, patch = _dim(image_size, "image_size"), _dim(patch, "patch")
    layers = _count(layers, "layers")
    _layers(layers, "layers")
    d, heads, mlp = _dim(d, "d"), _dim(heads, "heads"), _dim(mlp, "mlp")
    classes = _dim(classes, "classes")
    divides(heads, d, "heads", "d")
    divides(patch, image_size, "patch", "image_size")
    s = Spec("vit")
    x = s.input(3, image_size, image_size)
    x = s.to_tokens(s.conv(x, d, patch, patch, bias=True, name="conv_proj"))
    x = s.cls_token(x, name="class_token")
    x = s.table_add(x, s.shape(x)[0], name="pos_embedding")
    for i in range(layers):
        x = _encoder_layer(s, x, d, heads, mlp, True, 1e-6, f"encoder.layer{i}")
    x = s.select(s.layernorm(x, 1e-6, name="encoder.ln"))
    s.linear(x, classes, name="heads.head")
    return s


def bert(
    sequence: Dim = 128,
    layers: int = 12,
    d: Dim = 768,
    heads: Dim = 12,
    mlp: Dim = 3072,
    vocab: Dim = 30522,
    positions: Dim = 512,
    token_types: Dim = 2,
) -> Spec:
    """BERT encoder (``BertModel``): word + position + token-type embeddings, LayerNorm
    (eps 1e-12), post-norm encoder layers, tanh pooler on the first token. ``sequence`` at
    most ``positions``, ``heads`` must divide ``d``; ``layers`` at most :data:`MAX_LAYERS`."""
    sequence, layers = _dim(sequence, "sequence"), _count(layers, "layers")
    _layers(layers, "layers")
    d, heads, mlp = _dim(d, "d"), _dim(heads, "heads"), _dim(mlp, "mlp")
    vocab, positions = _dim(vocab, "vocab"), _dim(positions, "positions")
    token_types = _dim(token_types, "token_types")
    divides(heads, d, "heads", "d")
    if isinstance(sequence, int) and isinstance(positions, int) and sequence > positions:
        raise ValueError(f"sequence must be at most positions={positions}, got {sequence}")
    s = Spec("bert")
    x = s.embedding(s.input(sequence), vocab, d, name="embeddings.word")
    x = s.table_add(x, positions, name="embeddings.position")
    x = s.table_add(x, token_types, "zero", name="embeddings.token_type")
    x = s.layernorm(x, 1e-12, name="embeddings.ln")
    for i in range(layers):
        x = _encoder_layer(s, x, d, heads, mlp, False, 1e-12, f"encoder.layer{i}")
    s.act(s.linear(s.select(x), d, name="pooler.dense"), "tanh")
    return s


# --------------------------------------------------------------------------- references

#: name: (builder, published parameters, published GMACs or None, source)
REFERENCE = {
    "ResNet-18": (lambda: resnet((2, 2, 2, 2)), 11_689_512, 1.814, "torchvision ResNet18_Weights"),
    "ResNet-50": (
        lambda: resnet((3, 4, 6, 3), bottleneck=True),
        25_557_032,
        4.089,
        "torchvision ResNet50_Weights",
    ),
    "VGG-16": (vgg, 138_357_544, 15.47, "torchvision VGG16_Weights"),
    "MobileNetV2": (mobilenet_v2, 3_504_872, 0.301, "torchvision MobileNet_V2_Weights"),
    "DenseNet-121": (densenet, 7_978_856, 2.834, "torchvision DenseNet121_Weights"),
    "EfficientNet-B0": (efficientnet_b0, 5_288_548, 0.386, "torchvision EfficientNet_B0_Weights"),
    "ViT-B/16": (vit, 86_567_656, 17.564, "torchvision ViT_B_16_Weights"),
    "BERT-base": (bert, 109_482_240, None, "Hugging Face BertModel, bert-base-uncased"),
}


def reference_spec(name: str) -> Spec:
    """The spec of a reference network by name (keys of :data:`REFERENCE`)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be one of {sorted(REFERENCE)}, got {name!r}")
    if name not in REFERENCE:
        raise ValueError(f"name must be one of {sorted(REFERENCE)}, got {name!r}")
    return REFERENCE[name][0]()


# --------------------------------------------------------------------------- symbolic results


def densenet_block_params(layers: Dim, growth: Dim, init: Dim, bn_size: Dim = 4) -> sympy.Expr:
    r"""Parameters of one DenseNet-BC block in closed form (a sum over its layers).

    Layer :math:`l` (1-based) sees :math:`c_l = k_0 + (l-1)k` channels: BatchNorm
    :math:`2c_l`, 1×1 conv :math:`c_l\cdot bk`, BatchNorm :math:`2bk`, 3×3 conv
    :math:`9bk\cdot k`, so

    .. math:: P(L) = \sum_{l=1}^{L} \big[(2 + bk)(k_0 + (l-1)k) + 2bk + 9bk^2\big]
              = \big(\tfrac{b}{2}k^2 + k\big)L^2 + O(L)

    — quadratic in the depth :math:`L`. Arguments: integers >= 1 or SymPy expressions.
    """
    layers, growth = _dim(layers, "layers"), _dim(growth, "growth")
    init, bn_size = _dim(init, "init"), _dim(bn_size, "bn_size")
    layer = sympy.Symbol("l", integer=True, positive=True)
    c = init + (layer - 1) * growth
    per_layer = (2 + bn_size * growth) * c + 2 * bn_size * growth + 9 * bn_size * growth**2
    return sympy.expand(sympy.summation(per_layer, (layer, 1, layers)))


def derive_densenet_quadratic():
    """DenseNet parameters are quadratic in depth; a constant-width CNN's are linear."""
    from theory.derivation import Derivation, Step

    big_l, k, k0, b, c = sympy.symbols("L k k_0 b C", positive=True, integer=True)
    dense = densenet_block_params(big_l, k, k0, b)
    plain = big_l * (9 * c * c + 2 * c)  # L 3x3 convs of width C with BatchNorm
    return Derivation(
        title="DenseNet parameters against depth",
        steps=(
            Step(r"One dense block of $L$ layers (growth $k$, bottleneck $b$):", dense),
            Step(
                r"Leading term $(\frac{b}{2}k^2 + k)L^2$ (the 1×1 bottleneck convs and "
                r"BatchNorms read all previous features); a constant-width plain CNN has",
                plain,
            ),
            Step(
                r"which is linear in $L$. So the document's 'parameters $\propto$ depth$^2$' "
                r"holds per dense block at fixed growth rate, and the small growth rate "
                r"enters squared."
            ),
        ),
        claimed=sympy.Integer(2),
        derived=sympy.Integer(sympy.degree(dense, big_l)),
        scope="closed form by sympy.summation; checked against the layer-by-layer spec",
    )


def _symbol(value: object, name: str, **assumptions: bool) -> sympy.Symbol:
    """``value`` if it is a SymPy symbol not known to be <= 0; a positive one if None."""
    if value is None:
        return sympy.Symbol(name, positive=True, **assumptions)
    if not isinstance(value, sympy.Symbol):
        raise TypeError(f"{name} must be a SymPy Symbol or None, got {value!r}")
    if value.is_positive is False:
        raise ValueError(f"{name} must be a symbol that may be positive, got {value!r}")
    return value


def resnet50_params_in_width(alpha: sympy.Symbol | None = None) -> sympy.Expr:
    r"""ResNet-50 parameters when every width (stem 64, stages 64…512, expansion 4) is
    multiplied by :math:`\alpha`: a quadratic polynomial in :math:`\alpha`."""
    alpha = _symbol(alpha, "alpha")
    return sympy.expand(resnet((3, 4, 6, 3), bottleneck=True, width=64 * alpha).params())


def vit_macs_in_tokens(n: sympy.Symbol | None = None, **kwargs) -> sympy.Expr:
    r"""ViT MACs (torchvision convention) as a polynomial in the number of tokens
    :math:`n = g^2 + 1` for a :math:`16g \times 16g` image: the :math:`n^2` term is the
    attention matmuls, :math:`2\,\text{layers}\cdot d\,n^2`."""
    n = _symbol(n, "n", integer=True)
    g = sympy.Symbol("g", positive=True, integer=True)
    if "image_size" in kwargs:
        raise TypeError("image_size must not be given: it is 16g (patch·g) here")
    patch = _dim(kwargs.pop("patch", 16), "patch")
    macs = sympy.expand(vit(image_size=patch * g, patch=patch, **kwargs).count())
    return sympy.expand(macs.subs(g**2, n - 1))
