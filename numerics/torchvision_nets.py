r"""EfficientNet-B0 and ViT-B/16 built as torchvision builds them, in plain torch.

torchvision is not a dependency of this project (and is not imported here), yet the counters
people run (fvcore, ptflops, thop, torchinfo, ``FlopCounterMode``) are run on torchvision's
modules, whose structure decides what a hook-based counter sees: functional operations inside
``forward`` (the squeeze-excite gate ``scale * input``, the residual ``result += input``,
``torch.cat`` of the class token, ``x + pos_embedding``, ``x[:, 0]``), raw ``nn.Parameter``
tensors held by a non-leaf module (``class_token``, ``pos_embedding``) and
``nn.MultiheadAttention`` called directly. This module rebuilds those networks with the same
module classes (by name), the same nesting, the same state-dict keys and shapes and the same
forward computation, written from the torchvision sources (pytorch/vision, read for this
file; torchvision 0.2x):

* ``torchvision/models/efficientnet.py``: ``MBConv`` (expand 1×1 when the expanded width
  differs, depthwise k×k, squeeze-excite with ``max(1, in // 4)`` channels and SiLU,
  projection without activation; residual only for stride 1 and equal widths, after
  ``StochasticDepth(p, "row")``), ``EfficientNet`` (stem 3×3/2 conv, one ``nn.Sequential``
  stage per setting row, head 1×1 conv to ``4 * last`` channels, ``AdaptiveAvgPool2d(1)``,
  ``classifier = Sequential(Dropout(p, inplace=True), Linear)``), the per-block stochastic
  depth probability ``p * block_index / total_blocks``, ``efficientnet_b0``'s settings
  table, dropout 0.2 and the initialisation (Kaiming-normal fan-out convolutions, BatchNorm
  1/0, classifier uniform :math:`\pm 1/\sqrt{\text{out}}`).
* ``torchvision/models/_utils.py``: ``_make_divisible`` (round to a multiple of 8, never
  more than 10% down), used by ``MBConvConfig.adjust_channels`` for the width multiplier and
  the expanded width.
* ``torchvision/ops/misc.py``: ``Conv2dNormActivation`` (an ``nn.Sequential`` of conv,
  norm, activation; padding :math:`(k-1)/2 \cdot \text{dilation}`; conv bias only without a
  norm layer; activation ``inplace=True``), ``SqueezeExcitation`` (``avgpool``, ``fc1``,
  ``fc2`` as 1×1 convolutions with bias, ``activation``, ``scale_activation``; forward
  ``scale * input``) and ``MLP`` (Linear, activation, Dropout, …, Linear, Dropout).
* ``torchvision/ops/stochastic_depth.py``: ``StochasticDepth`` (Huang et al., 2016): in
  training, each row kept with probability :math:`1-p` and scaled by :math:`1/(1-p)`;
  the identity in eval mode or for :math:`p = 0`.
* ``torchvision/models/vision_transformer.py`` (Dosovitskiy et al., 2021): ``MLPBlock``,
  ``EncoderBlock`` (pre-norm: :math:`x \leftarrow x + \text{Drop}(\text{MHA}(\text{LN}_1 x))`,
  :math:`x \leftarrow x + \text{MLP}(\text{LN}_2 x)`, LayerNorm eps :math:`10^{-6}`),
  ``Encoder`` (``pos_embedding`` of shape :math:`(1, n+1, d)`, ``dropout``, ``layers`` named
  ``encoder_layer_{i}``, final ``ln``), ``VisionTransformer`` (``conv_proj`` patch
  convolution, ``class_token`` :math:`(1, 1, d)` concatenated in front, ``heads.head``) and
  the initialisation (class token 0, positions :math:`\mathcal N(0, 0.02^2)`, MLP
  Xavier-uniform with :math:`\mathcal N(0, 10^{-12})` biases, patch convolution truncated
  normal with std :math:`1/\sqrt{\text{fan-in}}`, head 0).

Published parameter counts (torchvision weight metadata ``num_params``): EfficientNet-B0
5,288,548 and ViT-B/16 86,567,656; the tests check both. Build the full-size networks inside
``with torch.device("meta"):`` when only shapes and counts are needed.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from theory._args import TEXT
from theory.arch import _positive_real

__all__ = [
    "EFFICIENTNET_B0",
    "Conv2dNormActivation",
    "EfficientNet",
    "Encoder",
    "EncoderBlock",
    "MBConv",
    "MLPBlock",
    "SqueezeExcitation",
    "StochasticDepth",
    "VisionTransformer",
    "efficientnet_b0",
    "vit_b_16",
]

MAX_SIZE = 2**16
"""Largest channel count, width, class count or image side accepted (larger is refused
with ``ValueError`` naming the argument before anything is allocated)."""

MAX_LAYERS = 1000
"""Most blocks (EfficientNet, summed over the settings) or encoder layers (ViT)."""

#: torchvision ``_efficientnet_conf("efficientnet_b0")``: rows of
#: ``(expand_ratio, kernel, stride, input_channels, out_channels, num_layers)``
#: (Tan & Le, 2019, Table 1).
EFFICIENTNET_B0 = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                   (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                   (6, 3, 1, 192, 320, 1))  # fmt: skip


# --------------------------------------------------------------------------- argument checks


def _int(value: object, name: str, minimum: int = 1, maximum: int = MAX_SIZE) -> int:
    """A Python or NumPy integer in ``[minimum, maximum]`` (bools refused) as an int."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    if not minimum <= int(value) <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def _prob(value: object, name: str, upper_open: bool = False) -> float:
    """A real number in ``[0, 1]`` (``[0, 1)`` when ``upper_open``) as a float."""
    allowed = "[0, 1)" if upper_open else "[0, 1]"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in {allowed}, got {value!r}")
    p = float(value)
    if not (0.0 <= p < 1.0 if upper_open else 0.0 <= p <= 1.0):
        raise ValueError(f"{name} must be a real number in {allowed}, got {value!r}")
    return p


def _input(module: nn.Module, x: object, name: str, ndim: int, last: dict) -> torch.Tensor:
    """``x`` as the module expects it: a tensor of rank ``ndim``, batch >= 1, the dtype and
    device of the module's parameters, and the sizes ``last`` ({axis: size}) fixes."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    ref = next(module.parameters())
    if x.dtype != ref.dtype:
        raise TypeError(f"{name} must have the parameters' dtype {ref.dtype}, got {x.dtype}")
    if x.device != ref.device:
        raise ValueError(f"{name} must be on the parameters' device {ref.device}, got {x.device}")
    if x.ndim != ndim or x.shape[0] < 1 or any(x.shape[a] != n for a, n in last.items()):
        want = ", ".join(f"axis {a} = {n}" for a, n in last.items())
        raise ValueError(
            f"{name} must have rank {ndim}, batch >= 1 and {want}, got shape {tuple(x.shape)}"
        )
    if ndim == 4 and min(x.shape[2:]) < 1:
        raise ValueError(f"{name} must have a non-empty image, got shape {tuple(x.shape)}")
    return x


def _make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision ``models/_utils.py::_make_divisible``: the nearest multiple of ``divisor``
    (at least ``divisor``), one step up if rounding lost more than 10%."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


# --------------------------------------------------------------------------- ops/misc.py


class Conv2dNormActivation(nn.Sequential):
    r"""torchvision ``ops.misc.Conv2dNormActivation``: ``Sequential(Conv2d, BatchNorm2d,
    activation)`` (keys ``0.weight``, ``1.weight``, ``1.bias``, ``1.running_mean``, …).

    Padding :math:`\lfloor (k-1)/2 \rfloor` keeps the size for stride 1; the convolution has a
    bias only when there is no norm layer (``norm=False``); ``activation`` is ``"silu"``,
    ``"relu"`` or ``None`` (in place, as torchvision's ``inplace=True``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: str | None = "silu",
        norm: bool = True,
    ) -> None:
        in_channels = _int(in_channels, "in_channels")
        out_channels = _int(out_channels, "out_channels")
        kernel_size = _int(kernel_size, "kernel_size", maximum=31)
        stride = _int(stride, "stride", maximum=64)
        groups = _int(groups, "groups")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must divide in_channels={in_channels} and out_channels="
                f"{out_channels}, got {groups}"
            )
        if activation is not None and activation not in ("silu", "relu"):
            raise ValueError(f"activation must be 'silu', 'relu' or None, got {activation!r}")
        if not isinstance(norm, bool):
            raise TypeError(f"norm must be True or False, got {norm!r}")
        padding = (kernel_size - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                groups=groups,
                bias=not norm,
            )
        ]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if activation is not None:
            layers.append(nn.SiLU(inplace=True) if activation == "silu" else nn.ReLU(True))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    r"""torchvision ``ops.misc.SqueezeExcitation`` (Hu et al., 2018, eq. 2-4) as EfficientNet
    uses it: :math:`s = \sigma(W_2\,\mathrm{SiLU}(W_1\,\bar x + b_1) + b_2)`, output
    :math:`s \odot x`, with :math:`\bar x` the per-channel spatial mean and :math:`W_1, W_2`
    the 1×1 convolutions ``fc1`` (``input_channels → squeeze_channels``) and ``fc2``."""

    def __init__(self, input_channels: int, squeeze_channels: int) -> None:
        super().__init__()
        input_channels = _int(input_channels, "input_channels")
        squeeze_channels = _int(squeeze_channels, "squeeze_channels")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.SiLU(inplace=True)
        self.scale_activation = nn.Sigmoid()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The gated input, :math:`s \\odot x` (``input``: ``(N, C, H, W)``)."""
        input = _input(self, input, "input", 4, {1: self.fc1.in_channels})
        scale = self.avgpool(input)
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(scale))))
        return scale * input  # functional: invisible to module hooks


class StochasticDepth(nn.Module):
    r"""torchvision ``ops.StochasticDepth`` (Huang et al., 2016): in training, mode ``"row"``
    keeps each sample's branch with probability :math:`1-p` and scales it by
    :math:`1/(1-p)` (``"batch"``: one draw for the whole batch); the identity in eval mode or
    for :math:`p = 0`. ``p`` in ``[0, 1]``."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = _prob(p, "p")
        if mode not in ("row", "batch"):
            raise ValueError(f"mode must be 'row' or 'batch', got {mode!r}")
        self.mode = mode

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``input`` (any shape with a batch axis first), randomly zeroed in training."""
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
        if input.ndim < 1 or not input.is_floating_point():
            raise ValueError(f"input must be a floating tensor with a batch axis, got {input!r}")
        if not self.training or self.p == 0.0:
            return input
        keep = 1.0 - self.p
        shape = [input.shape[0] if self.mode == "row" else 1] + [1] * (input.ndim - 1)
        noise = torch.empty(shape, dtype=input.dtype, device=input.device).bernoulli_(keep)
        if keep > 0.0:
            noise.div_(keep)
        return input * noise


# --------------------------------------------------------------------------- EfficientNet


class MBConv(nn.Module):
    r"""torchvision ``models.efficientnet.MBConv`` (Sandler et al., 2018; Tan & Le, 2019):
    ``block = Sequential([expand 1×1,] depthwise k×k, SqueezeExcitation, project 1×1)`` with
    expanded width ``_make_divisible(input_channels * expand_ratio)`` (the expansion is left
    out when that equals ``input_channels``) and squeeze width ``max(1, input_channels //
    4)``; residual ``result += input`` after ``stochastic_depth`` when ``stride == 1`` and
    the widths agree. ``stride`` 1 or 2, ``kernel`` odd."""

    def __init__(
        self,
        input_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel: int,
        stride: int,
        stochastic_depth_prob: float = 0.0,
    ) -> None:
        super().__init__()
        input_channels = _int(input_channels, "input_channels")
        out_channels = _int(out_channels, "out_channels")
        expand_ratio = _int(expand_ratio, "expand_ratio", maximum=64)
        kernel = _int(kernel, "kernel", maximum=31)
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd, got {kernel}")
        stride = _int(stride, "stride", maximum=2)
        stochastic_depth_prob = _prob(stochastic_depth_prob, "stochastic_depth_prob")
        self.use_res_connect = stride == 1 and input_channels == out_channels
        expanded = _make_divisible(input_channels * expand_ratio)
        if expanded > MAX_SIZE:
            raise ValueError(
                f"input_channels * expand_ratio must be at most {MAX_SIZE}, got {expanded}"
            )
        layers: list[nn.Module] = []
        if expanded != input_channels:
            layers.append(Conv2dNormActivation(input_channels, expanded, 1))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel, stride, expanded))
        layers.append(SqueezeExcitation(expanded, max(1, input_channels // 4)))
        layers.append(Conv2dNormActivation(expanded, out_channels, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = out_channels

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The block's output ``(N, out_channels, H', W')``."""
        input = _input(self, input, "input", 4, {1: self.block[0][0].in_channels})
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input  # in place and functional, as torchvision does
        return result


def _settings(settings: object, width_mult: float, depth_mult: float) -> list[tuple]:
    """Validated setting rows, scaled as torchvision's ``MBConvConfig`` scales them."""
    if isinstance(settings, TEXT) or not isinstance(settings, Sequence) or not settings:
        raise TypeError(
            "settings must be a non-empty sequence of (expand_ratio, kernel, stride, "
            f"input_channels, out_channels, num_layers) tuples, got {settings!r}"
        )
    rows = []
    for i, row in enumerate(settings):
        if isinstance(row, TEXT) or not isinstance(row, Sequence) or len(row) != 6:
            raise TypeError(f"settings[{i}] must be a tuple of 6 integers, got {row!r}")
        e, k, s, cin, cout, n = (_int(v, f"settings[{i}][{j}]") for j, v in enumerate(row))
        cin, cout = _make_divisible(cin * width_mult), _make_divisible(cout * width_mult)
        n = math.ceil(n * depth_mult)
        if i and cin != rows[-1][4]:
            raise ValueError(
                f"settings[{i}] must start from the channels settings[{i - 1}] ends with "
                f"({rows[-1][4]}), got {cin}"
            )
        rows.append((e, k, s, cin, cout, n))
    total = sum(r[5] for r in rows)
    if total > MAX_LAYERS:
        raise ValueError(f"settings must have at most {MAX_LAYERS} blocks in all, got {total}")
    return rows


class EfficientNet(nn.Module):
    r"""torchvision ``models.efficientnet.EfficientNet`` for MBConv settings (EfficientNet
    B0-B4 layout): ``features`` = stem ``Conv2dNormActivation(3, c_0, 3, 2)``, one
    ``Sequential`` of ``MBConv`` per settings row (the first block of a row has its stride
    and input width, the others stride 1), head ``Conv2dNormActivation(c_last, last_channel,
    1)`` (``last_channel`` default :math:`4 c_\text{last}`); then ``avgpool`` and
    ``classifier = Sequential(Dropout(dropout), Linear(last_channel, num_classes))``.

    ``settings``: rows ``(expand_ratio, kernel, stride, input_channels, out_channels,
    num_layers)`` (:data:`EFFICIENTNET_B0`); channels are scaled by ``width_mult`` and
    rounded with ``_make_divisible``, layer counts scaled by ``depth_mult`` and rounded up,
    as torchvision's ``MBConvConfig`` does. Block :math:`b` of :math:`B` gets stochastic
    depth probability :math:`p\,b/B`. Any input resolution works (adaptive pooling)."""

    def __init__(
        self,
        settings: Sequence[tuple[int, int, int, int, int, int]] = EFFICIENTNET_B0,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        last_channel: int | None = None,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
    ) -> None:
        super().__init__()
        width_mult, depth_mult = (
            _positive_real(width_mult, "width_mult"),
            _positive_real(depth_mult, "depth_mult"),
        )
        if width_mult > 16 or depth_mult > 16:
            raise ValueError(
                f"width_mult and depth_mult must be at most 16, got {width_mult}, {depth_mult}"
            )
        rows = _settings(settings, width_mult, depth_mult)
        num_classes = _int(num_classes, "num_classes")
        if last_channel is not None:
            last_channel = _int(last_channel, "last_channel")
        dropout = _prob(dropout, "dropout")
        stochastic_depth_prob = _prob(stochastic_depth_prob, "stochastic_depth_prob")
        layers: list[nn.Module] = [Conv2dNormActivation(3, rows[0][3], 3, 2)]
        total, index = sum(r[5] for r in rows), 0
        for expand, kernel, stride, cin, cout, n in rows:
            stage = []
            for i in range(n):
                p = stochastic_depth_prob * index / total
                first = i == 0
                stage.append(
                    MBConv(cin if first else cout, cout, expand, kernel, stride if first else 1, p)
                )
                index += 1
            layers.append(nn.Sequential(*stage))
        last = last_channel if last_channel is not None else 4 * rows[-1][4]
        layers.append(Conv2dNormActivation(rows[-1][4], last, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout, inplace=True), nn.Linear(last, num_classes)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of images ``x`` ``(N, 3, H, W)``."""
        x = _input(self, x, "x", 4, {1: 3})
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def efficientnet_b0(num_classes: int = 1000) -> EfficientNet:
    """torchvision ``efficientnet_b0()`` (no weights): :data:`EFFICIENTNET_B0`, width and
    depth multipliers 1, dropout 0.2, stochastic depth 0.2; 5,288,548 parameters for 1000
    classes (torchvision ``EfficientNet_B0_Weights.IMAGENET1K_V1.meta["num_params"]``)."""
    return EfficientNet(EFFICIENTNET_B0, num_classes=_int(num_classes, "num_classes"))


# --------------------------------------------------------------------------- ViT


class MLPBlock(nn.Sequential):
    r"""torchvision ``MLPBlock`` (an ``ops.misc.MLP``): ``Sequential(Linear(d, m), GELU,
    Dropout, Linear(m, d), Dropout)`` (keys ``0.*`` and ``3.*``), Xavier-uniform weights and
    :math:`\mathcal N(0, 10^{-12})` biases."""

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float = 0.0) -> None:
        in_dim, mlp_dim = _int(in_dim, "in_dim"), _int(mlp_dim, "mlp_dim")
        dropout = _prob(dropout, "dropout")
        super().__init__(
            nn.Linear(in_dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, in_dim),
            nn.Dropout(dropout),
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    r"""torchvision ``EncoderBlock`` (pre-norm transformer layer):
    :math:`x' = x + \mathrm{Drop}(\mathrm{MHA}(\mathrm{LN}_1 x))`,
    :math:`y = x' + \mathrm{MLP}(\mathrm{LN}_2 x')`; ``self_attention`` is an
    ``nn.MultiheadAttention(batch_first=True)`` called as ``(x, x, x, need_weights=False)``.
    ``num_heads`` must divide ``hidden_dim``."""

    def __init__(
        self,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        num_heads, hidden_dim = _int(num_heads, "num_heads"), _int(hidden_dim, "hidden_dim")
        if hidden_dim % num_heads:
            raise ValueError(f"num_heads must divide hidden_dim={hidden_dim}, got {num_heads}")
        mlp_dim = _int(mlp_dim, "mlp_dim")
        dropout = _prob(dropout, "dropout")
        attention_dropout = _prob(attention_dropout, "attention_dropout")
        self.num_heads = num_heads
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(
            hidden_dim, num_heads, dropout=attention_dropout, batch_first=True
        )
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The layer's output for tokens ``input`` ``(N, L, hidden_dim)``."""
        input = _input(self, input, "input", 3, {2: self.ln_1.normalized_shape[0]})
        if input.shape[1] < 1:
            raise ValueError(f"input must hold at least one token, got {tuple(input.shape)}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    r"""torchvision ``Encoder``: ``ln(layers(dropout(input + pos_embedding)))`` with a raw
    ``nn.Parameter`` ``pos_embedding`` of shape ``(1, seq_length, hidden_dim)``
    (:math:`\mathcal N(0, 0.02^2)`) and ``layers.encoder_layer_{i}`` :class:`EncoderBlock`\ s."""

    def __init__(
        self,
        seq_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        seq_length = _int(seq_length, "seq_length", maximum=MAX_SIZE**2)
        num_layers = _int(num_layers, "num_layers", maximum=MAX_LAYERS)
        hidden_dim = _int(hidden_dim, "hidden_dim")
        if seq_length * hidden_dim > 2**28:
            raise ValueError(
                f"seq_length * hidden_dim must be at most 2**28, got {seq_length} * {hidden_dim}"
            )
        dropout = _prob(dropout, "dropout")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(num_layers):  # first, so that bad arguments are refused before allocating
            layers[f"encoder_layer_{i}"] = EncoderBlock(
                num_heads, hidden_dim, mlp_dim, dropout, attention_dropout
            )
        # registration order as torchvision's (state-dict key order): pos_embedding, dropout,
        # layers, ln
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(layers)
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Encoded tokens ``(N, seq_length, hidden_dim)``."""
        input = _input(self, input, "input", 3, {1: self.pos_embedding.shape[1],
                                                 2: self.pos_embedding.shape[2]})  # fmt: skip
        input = input + self.pos_embedding  # functional: a raw parameter, no module
        return self.ln(self.layers(self.dropout(input)))


class VisionTransformer(nn.Module):
    r"""torchvision ``VisionTransformer`` (Dosovitskiy et al., 2021) without a conv stem or
    representation layer: ``conv_proj`` (``Conv2d(3, d, p, stride=p)``) makes
    :math:`n = (s/p)^2` patch tokens, a raw ``class_token`` :math:`(1, 1, d)` is concatenated
    in front (``torch.cat``), the :class:`Encoder` (sequence :math:`n+1`) follows, and
    ``heads.head`` maps the class token ``x[:, 0]`` to logits. ``patch_size`` must divide
    ``image_size``; inputs must be ``image_size`` square."""

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        image_size, patch_size = _int(image_size, "image_size"), _int(patch_size, "patch_size")
        if image_size % patch_size:
            raise ValueError(f"patch_size must divide image_size={image_size}, got {patch_size}")
        hidden_dim = _int(hidden_dim, "hidden_dim")
        num_classes = _int(num_classes, "num_classes")
        self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
        self.conv_proj = nn.Conv2d(3, hidden_dim, patch_size, stride=patch_size)
        seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(
            seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout
        )
        self.seq_length = seq_length
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))
        fan_in = 3 * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of images ``x`` ``(N, 3, image_size, image_size)``."""
        s = self.image_size
        x = _input(self, x, "x", 4, {1: 3, 2: s, 3: s})
        n, g = x.shape[0], s // self.patch_size
        x = self.conv_proj(x).reshape(n, self.hidden_dim, g * g).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        x = self.encoder(x)
        return self.heads(x[:, 0])


def vit_b_16(image_size: int = 224, num_classes: int = 1000) -> VisionTransformer:
    """torchvision ``vit_b_16()`` (no weights): patch 16, 12 layers, 12 heads, width 768, MLP
    3072; 86,567,656 parameters at 224 with 1000 classes (torchvision
    ``ViT_B_16_Weights.IMAGENET1K_V1.meta["num_params"]``). ``image_size`` a multiple of 16."""
    image_size = _int(image_size, "image_size")
    if image_size % 16:
        raise ValueError(f"image_size must be a multiple of 16 (the patch), got {image_size}")
    return VisionTransformer(image_size, 16, 12, 12, 768, 3072, num_classes=num_classes)
