r"""Convolution geometry: output sizes, parameters, costs, reduction factors, receptive fields.

Conventions
-----------
* Layout NCHW; a convolution layer computes **cross-correlation**, as ``torch.nn.Conv2d``
  does: :math:`y[o, i, j] = b[o] + \sum_{c}\sum_{p,q} w[o, c, p, q]\,
  x_{\text{pad}}[c, iS + pD, jS + qD]`.
* Cost is counted in **multiply-accumulates (MACs)** of the weight products, padded
  positions included (every counter does so); FLOPs = 2 × MACs (:func:`macs_to_flops`).
  Bias additions are not MACs and are not counted (torch's ``FlopCounterMode`` does the
  same for convolutions).
* Output sizes are per spatial dimension. In counts, ``kernel_size`` and ``output_size``
  may be a tuple (one entry per spatial dimension, any number of dimensions) or an int,
  which means a **square 2-D** kernel/map (:math:`K \times K`), as ``Conv2d`` reads it.

References: ``000_160a0b7c04e12fc6.txt`` § Convolutional Layer Parameters, § Advanced
Convolutional Concepts; ``002_532ac369c9b692e7.txt`` § Parameter Sharing Analysis;
V. Dumoulin, F. Visin, *A guide to convolution arithmetic for deep learning* (2016),
relationships 1–14; torch ``Conv2d``/``ConvTranspose2d``/``MaxPool2d`` docs (shape sections).

Examples
--------
>>> conv_output_size(224, 7, stride=2, padding=3)
112
>>> conv_params(64, 128, 3)
73856
>>> separable_cost_ratio(256, 3)
265/2304
>>> receptive_field([(3, 1, 1)] * 3)
7
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy

from theory._args import (
    MAX_ITEMS,
    TEXT,
    Dim,
    bounded,
    dim,
    dims,
    divides,
    exact_ratio,
    flag,
    is_symbolic,
    product,
)
from theory.derivation import Derivation, Step

__all__ = [
    "conv_macs",
    "conv_output_size",
    "conv_params",
    "conv_transpose_macs",
    "conv_transpose_output_size",
    "depthwise_separable_macs",
    "depthwise_separable_params",
    "dilated_extent",
    "effective_stride",
    "fc_to_conv_weight_ratio",
    "im2col_elements",
    "macs_to_flops",
    "pool_output_size",
    "receptive_field",
    "receptive_field_uniform",
    "separable_cost_ratio",
]


def macs_to_flops(macs: Dim) -> Dim:
    r"""FLOPs of a multiply-accumulate count: one multiply and one add each, :math:`2\cdot`MACs.

    >>> macs_to_flops(10)
    20
    """
    return 2 * dim(macs, "macs", minimum=0)


def dilated_extent(kernel_size: Dim, dilation: Dim = 1) -> Dim:
    r"""Span of a dilated kernel along one dimension: :math:`D(K - 1) + 1`.

    >>> dilated_extent(3, 2)
    5
    """
    return dim(dilation, "dilation") * (dim(kernel_size, "kernel_size") - 1) + 1


def conv_output_size(
    size: Dim, kernel_size: Dim, stride: Dim = 1, padding: Dim = 0, dilation: Dim = 1
) -> Dim:
    r"""Output length of a convolution along one dimension, as torch computes it.

    .. math:: O = \left\lfloor \frac{I + 2P - D(K-1) - 1}{S} \right\rfloor + 1

    With :math:`D = 1` this is the document's
    :math:`\lfloor (I + 2P - K)/S \rfloor + 1`.

    Parameters
    ----------
    size:
        Input length :math:`I \ge 1`.
    kernel_size, stride, dilation:
        :math:`K, S, D \ge 1`.
    padding:
        Zero padding :math:`P \ge 0` on *each* side.

    Raises
    ------
    ValueError
        If the dilated kernel does not fit in the padded input (:math:`O < 1`; torch raises
        too), or an argument is out of range.

    Examples
    --------
    >>> conv_output_size(5, 3), conv_output_size(5, 3, dilation=2), conv_output_size(6, 3, 2)
    (3, 1, 2)
    >>> import sympy
    >>> I, K = sympy.symbols("I K", integer=True, positive=True)
    >>> conv_output_size(I, K)
    I - K + 1

    References
    ----------
    ``000_160a0b7c04e12fc6.txt`` § Convolutional Layer Parameters; Dumoulin & Visin,
    relationship 15 (dilated); torch ``Conv2d`` docs, Shape.
    """
    i = dim(size, "size")
    k = dim(kernel_size, "kernel_size")
    s = dim(stride, "stride")
    p = dim(padding, "padding", minimum=0)
    d = dim(dilation, "dilation")
    span = d * (k - 1) + 1
    if is_symbolic(i, k, s, p, d):
        return sympy.floor((i + 2 * p - span) / s) + 1
    if i + 2 * p < span:
        raise ValueError(
            f"output size < 1: the dilated kernel spans dilation*(kernel_size-1)+1 = {span}, "
            f"more than the padded input size + 2*padding = {i + 2 * p}"
        )
    return (i + 2 * p - span) // s + 1


def conv_transpose_output_size(
    size: Dim,
    kernel_size: Dim,
    stride: Dim = 1,
    padding: Dim = 0,
    output_padding: Dim = 0,
    dilation: Dim = 1,
) -> Dim:
    r"""Output length of a transposed convolution along one dimension, as torch defines it.

    .. math:: O = (I - 1)S - 2P + D(K - 1) + P_{out} + 1

    torch requires :math:`P_{out} < \max(S, D)` ("output padding must be smaller than
    either stride or dilation"), and :math:`O \ge 1`.

    >>> conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1)
    6

    References
    ----------
    torch ``ConvTranspose2d`` docs, Shape; Dumoulin & Visin, relationships 8–14.
    """
    i = dim(size, "size")
    k = dim(kernel_size, "kernel_size")
    s = dim(stride, "stride")
    p = dim(padding, "padding", minimum=0)
    op = dim(output_padding, "output_padding", minimum=0)
    d = dim(dilation, "dilation")
    out = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
    if not is_symbolic(op, s, d) and op >= max(s, d):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation: got output_padding={op}, "
            f"stride={s}, dilation={d}"
        )
    if is_symbolic(i, k, s, p, op, d):
        return sympy.expand(out)
    if out < 1:
        raise ValueError(
            f"output size < 1: (size-1)*stride - 2*padding + dilation*(kernel_size-1) "
            f"+ output_padding + 1 = {out}"
        )
    return out


def pool_output_size(
    size: Dim,
    kernel_size: Dim,
    stride: Dim | None = None,
    padding: Dim = 0,
    dilation: Dim = 1,
    ceil_mode: bool = False,
) -> Dim:
    r"""Output length of max/average pooling along one dimension, torch's rule.

    With :math:`E = D(K-1)+1` and :math:`S` defaulting to :math:`K`:

    .. math::
        O = \left\lfloor \frac{I + 2P - E}{S} \right\rfloor + 1 \quad(\text{floor mode}),\qquad
        O = \left\lceil \frac{I + 2P - E}{S} \right\rceil + 1 - [\,(O'-1)S \ge I + P\,]
        \quad(\text{ceil mode})

    where the correction drops a last window that would start in the right padding. In ceil
    mode the last window may hang over the end of the input (it is kept if it *starts*
    inside), so an input shorter than the window can still give one output. torch also
    requires :math:`P \le \lfloor K/2 \rfloor`.

    >>> pool_output_size(5, 2), pool_output_size(5, 2, ceil_mode=True)
    (2, 3)
    >>> pool_output_size(4, 2, padding=1, ceil_mode=True)  # last window would start in padding
    3

    References
    ----------
    torch ``MaxPool2d`` docs, Shape (and ATen ``pooling_output_shape``).
    """
    i = dim(size, "size")
    k = dim(kernel_size, "kernel_size")
    s = k if stride is None else dim(stride, "stride")
    p = dim(padding, "padding", minimum=0)
    d = dim(dilation, "dilation")
    ceil = flag(ceil_mode, "ceil_mode")
    span = d * (k - 1) + 1
    if not is_symbolic(p, k) and 2 * p > k:
        raise ValueError(
            f"padding must be at most half of kernel_size (torch's rule): got padding={p}, "
            f"kernel_size={k}"
        )
    if is_symbolic(i, k, s, p, d):
        if not ceil:
            return sympy.floor((i + 2 * p - span) / s) + 1
        o = sympy.ceiling((i + 2 * p - span) / s) + 1
        return sympy.Piecewise((o - 1, (o - 1) * s >= i + p), (o, True))
    num = i + 2 * p - span
    if not ceil:
        o = num // s + 1
    else:  # a last, partial window is kept if it starts inside the input or left padding
        o = (num + s - 1) // s + 1
        if (o - 1) * s >= i + p:
            o -= 1
    if o < 1:
        raise ValueError(
            f"output size < 1: the pooling window spans dilation*(kernel_size-1)+1 = {span}, "
            f"size + 2*padding = {i + 2 * p}, stride = {s}, ceil_mode = {ceil}"
        )
    return o


def _kernel(kernel_size: object, ndim: int | None = None) -> tuple[Dim, ...]:
    """An int is a square 2-D kernel (as ``Conv2d`` reads it); a tuple gives every dimension."""
    if isinstance(kernel_size, Sequence) and not isinstance(kernel_size, TEXT):
        return dims(kernel_size, "kernel_size", ndim)
    return dims(kernel_size, "kernel_size", 2 if ndim is None else ndim)


def _per_dim(value: object, name: str, kernel: tuple[Dim, ...]) -> tuple[Dim, ...]:
    """Sizes with one entry per kernel dimension (an int is broadcast)."""
    if isinstance(value, Sequence) and not isinstance(value, TEXT):
        if value and len(value) != len(kernel):
            raise ValueError(
                f"{name} must have {len(kernel)} entries (one per dimension of kernel_size; an "
                f"int kernel_size is 2-D), got {len(value)}"
            )
    return dims(value, name, len(kernel))


def conv_params(
    in_channels: Dim,
    out_channels: Dim,
    kernel_size: Dim | Sequence[Dim],
    groups: Dim = 1,
    bias: bool = True,
) -> Dim:
    r"""Parameters of a (grouped) convolution; the same count holds for its transposed form.

    .. math:: P = C_{out}\,\frac{C_{in}}{G}\,\prod_k K_k + C_{out}\,[\text{bias}]

    ``groups`` must divide both channel counts. For :math:`G = 1` and a bias this is the
    document's :math:`C_{out} C_{in} K_H K_W + C_{out}`. A transposed convolution stores
    ``weight`` of shape :math:`(C_{in}, C_{out}/G, K_H, K_W)`: the same number.

    >>> conv_params(4, 8, (3, 3)), conv_params(4, 8, 3, groups=2), conv_params(4, 8, 3, bias=False)
    (296, 152, 288)

    References
    ----------
    ``000_160a0b7c04e12fc6.txt`` § Convolutional Layer Parameters (Parameter Count Analysis),
    § Advanced Convolutional Concepts (Grouped Convolution).
    """
    cin = dim(in_channels, "in_channels")
    cout = dim(out_channels, "out_channels")
    g = dim(groups, "groups")
    divides(g, cin, "groups", "in_channels")
    divides(g, cout, "groups", "out_channels")
    k = product(_kernel(kernel_size))
    weights = cout * (cin / g if is_symbolic(cin, g) else cin // g) * k
    return weights + (cout if flag(bias, "bias") else 0)


def conv_macs(
    in_channels: Dim,
    out_channels: Dim,
    kernel_size: Dim | Sequence[Dim],
    output_size: Dim | Sequence[Dim],
    groups: Dim = 1,
    batch: Dim = 1,
) -> Dim:
    r"""Multiply-accumulates of a (grouped) convolution's forward pass.

    Each of the :math:`B\,C_{out}\prod O_k` outputs is a dot product of length
    :math:`(C_{in}/G)\prod K_k`:

    .. math:: \text{MACs} = B\, C_{out}\,\frac{C_{in}}{G}\,\prod_k K_k \prod_k O_k

    ``output_size`` has one entry per spatial dimension (an int is broadcast to the number
    of kernel dimensions).

    >>> conv_macs(3, 64, 7, 112)  # ResNet stem, per image
    118013952

    References
    ----------
    ``000_160a0b7c04e12fc6.txt`` § Convolutional Layer Parameters (Computational Complexity).
    """
    k = _kernel(kernel_size)
    out = _per_dim(output_size, "output_size", k)
    weights = conv_params(in_channels, out_channels, k, groups, bias=False)
    return dim(batch, "batch") * weights * product(out)


def conv_transpose_macs(
    in_channels: Dim,
    out_channels: Dim,
    kernel_size: Dim | Sequence[Dim],
    input_size: Dim | Sequence[Dim],
    groups: Dim = 1,
    batch: Dim = 1,
) -> Dim:
    r"""MACs of a transposed convolution: every *input* element is multiplied into
    :math:`(C_{out}/G)\prod K_k` outputs.

    .. math:: \text{MACs} = B\, C_{in}\,\frac{C_{out}}{G}\,\prod_k K_k \prod_k I_k

    >>> conv_transpose_macs(8, 4, 2, 16)
    32768
    """
    k = _kernel(kernel_size)
    inp = _per_dim(input_size, "input_size", k)
    weights = conv_params(in_channels, out_channels, k, groups, bias=False)
    return dim(batch, "batch") * weights * product(inp)


def depthwise_separable_params(
    in_channels: Dim, out_channels: Dim, kernel_size: Dim | Sequence[Dim], bias: bool = False
) -> Dim:
    r"""Parameters of a depthwise (``groups = C_in``) then pointwise (1×1) convolution.

    .. math:: P = C_{in}\prod K_k + C_{in} C_{out} \;(+\,C_{in} + C_{out}\text{ with biases})

    >>> depthwise_separable_params(32, 64, 3)
    2336
    """
    k = _kernel(kernel_size)
    cin = dim(in_channels, "in_channels")
    depthwise = conv_params(cin, cin, k, groups=cin, bias=bias)
    pointwise = conv_params(cin, out_channels, (1,) * len(k), bias=bias)
    return depthwise + pointwise


def depthwise_separable_macs(
    in_channels: Dim,
    out_channels: Dim,
    kernel_size: Dim | Sequence[Dim],
    output_size: Dim | Sequence[Dim],
    batch: Dim = 1,
) -> Dim:
    r"""MACs of a depthwise separable convolution producing an output of ``output_size``.

    .. math:: \text{MACs} = B\,\big(C_{in} \textstyle\prod K_k + C_{in} C_{out}\big)\prod O_k

    >>> depthwise_separable_macs(32, 64, 3, 56)
    7325696
    """
    k = _kernel(kernel_size)
    cin = dim(in_channels, "in_channels")
    depthwise = conv_macs(cin, cin, k, output_size, groups=cin, batch=batch)
    pointwise = conv_macs(cin, out_channels, (1,) * len(k), output_size, batch=batch)
    return depthwise + pointwise


def separable_cost_ratio(out_channels: Dim, kernel_size: Dim | Sequence[Dim]) -> sympy.Expr:
    r"""Cost of a depthwise separable convolution divided by a standard one (same output).

    .. math:: \frac{C_{in}K^2HW + C_{in}C_{out}HW}{C_{in}K^2C_{out}HW}
              = \frac{1}{C_{out}} + \frac{1}{K^2}

    (:math:`K^2` is :math:`\prod K_k` for non-square kernels). It is the *fraction* of the
    cost kept; the speed-up is its reciprocal. The same ratio holds for weight counts.

    >>> separable_cost_ratio(64, 3)
    73/576
    """
    cout = dim(out_channels, "out_channels")
    k = product(_kernel(kernel_size))
    return sympy.cancel(exact_ratio(1, cout) + exact_ratio(1, k))


def im2col_elements(
    in_channels: Dim, kernel_size: Dim | Sequence[Dim], output_size: Dim | Sequence[Dim]
) -> Dim:
    r"""Entries of the im2col matrix of one sample: :math:`C_{in}\prod K_k \times \prod O_k`.

    Each of the :math:`\prod O_k` output positions gets a column holding its receptive field
    (:math:`C_{in}\prod K_k` values, groups included). For stride 1 and "same" padding the
    buffer is :math:`\prod K_k` times the input (:math:`K^2 = 9` for a 3×3 kernel).

    >>> im2col_elements(64, 3, 56)
    1806336
    """
    k = _kernel(kernel_size)
    out = _per_dim(output_size, "output_size", k)
    return dim(in_channels, "in_channels") * product(k) * product(out)


MAX_STACK = 10**4
"""Most layers :func:`receptive_field` and :func:`effective_stride` take: their exact
integer results grow with every layer, and each layer costs a big-integer product."""

MAX_SYMBOLIC_STACK = 256
"""Most layers of a stack with a symbolic entry (each layer adds terms to the expression)."""

MAX_BITS = MAX_ITEMS
r"""For :func:`receptive_field` and :func:`effective_stride`, the largest total bit length of
the concrete kernel sizes, strides and dilations of the stack (which bounds the bits of their
plain ``int`` results)."""

MAX_RESULT_BITS = 4096
r"""Largest size, in bits, of the exact ``sympy.Integer`` that :func:`receptive_field_uniform`
returns (a geometric receptive field :math:`S^L` grows by :math:`\log_2 S` bits per layer).
Kept small on purpose: SymPy answers an assumption query such as ``.is_negative`` on an Integer
by way of a primality test, which does not finish on a :math:`10^6`-bit number."""


def _layers(layers: object) -> list[tuple[Dim, Dim, Dim]]:
    """Check a stack ``[(kernel_size, stride, dilation), ...]`` (stride, dilation optional)."""
    if isinstance(layers, TEXT) or not isinstance(layers, Sequence):
        raise TypeError(
            "layers must be a sequence of (kernel_size, stride, dilation) tuples, got "
            f"{type(layers).__name__} ({layers!r})"
        )
    bounded(len(layers), "layers (the number of layers)", MAX_STACK)
    out = []
    for idx, layer in enumerate(layers):
        if isinstance(layer, TEXT) or not isinstance(layer, Sequence):
            raise TypeError(
                f"layers[{idx}] must be a (kernel_size, stride, dilation) tuple, got {layer!r}"
            )
        if not 1 <= len(layer) <= 3:
            raise ValueError(f"layers[{idx}] must have 1 to 3 entries, got {len(layer)}")
        k = dim(layer[0], f"layers[{idx}].kernel_size")
        s = dim(layer[1], f"layers[{idx}].stride") if len(layer) > 1 else 1
        d = dim(layer[2], f"layers[{idx}].dilation") if len(layer) > 2 else 1
        out.append((k, s, d))
    if len(out) > MAX_SYMBOLIC_STACK and is_symbolic(*(v for layer in out for v in layer)):
        raise ValueError(
            f"layers must have at most {MAX_SYMBOLIC_STACK} layers when an entry is symbolic "
            f"(the exact expression grows with every layer), got {len(out)}"
        )
    bits = sum(v.bit_length() for layer in out for v in layer if isinstance(v, int))
    if bits > MAX_BITS:
        raise ValueError(
            f"layers: the kernel sizes, strides and dilations must have at most {MAX_BITS} bits "
            f"in all (the exact result grows by that much), got {bits}"
        )
    return out


def receptive_field(layers: Sequence[Sequence[Dim]]) -> Dim:
    r"""Receptive field (span, in input positions) of one output of a stack of convolutions.

    Each layer is ``(kernel_size, stride, dilation)`` (stride and dilation optional). With
    :math:`J_{l} = \prod_{i \le l} S_i` the distance, in input positions, between adjacent
    outputs of layer :math:`l`:

    .. math:: R_L = 1 + \sum_{l=1}^{L} D_l (K_l - 1)\, J_{l-1}, \qquad J_0 = 1

    Padding does not change the span. An empty stack has :math:`R = 1`. At most
    :data:`MAX_STACK` (10**4) layers (:data:`MAX_SYMBOLIC_STACK` = 256 when an entry is
    symbolic), whose concrete entries have at most :data:`MAX_BITS`
    bits in all (so the exact result stays below about that many bits); beyond either,
    ``ValueError`` naming ``layers`` before any work.

    >>> receptive_field([(3, 2), (3, 2), (3, 2)])
    15
    >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
    15

    References
    ----------
    Dumoulin & Visin (2016) § 5; A. Araujo, W. Norris, J. Sim, *Computing Receptive Fields
    of Convolutional Neural Networks*, Distill (2019), eq. (2).
    """
    rf: Dim = 1
    jump: Dim = 1
    for k, s, d in _layers(layers):
        rf = rf + d * (k - 1) * jump
        jump = jump * s
    return sympy.expand(rf) if is_symbolic(rf) else rf


def effective_stride(layers: Sequence[Sequence[Dim]]) -> Dim:
    r"""Distance in input positions between adjacent outputs of the stack: :math:`\prod S_l`.

    ``layers`` as in :func:`receptive_field` (same limits: :data:`MAX_STACK` layers,
    :data:`MAX_BITS` bits of entries).

    >>> effective_stride([(3, 2), (3, 2)])
    4
    """
    return product([s for _, s, _ in _layers(layers)])


def receptive_field_uniform(
    depth: Dim, kernel_size: Dim, stride: Dim = 1, dilation: Dim | str = 1
) -> sympy.Expr:
    r"""Closed form of :func:`receptive_field` for :math:`L \ge 0` identical layers.

    ``dilation="doubling"`` gives :math:`D_l = 2^{l-1}` (the WaveNet / Yu–Koltun schedule).

    .. math::
        R = 1 + L D (K-1)\ (S = 1), \quad
        R = 1 + D(K-1)\frac{S^L - 1}{S - 1}\ (S > 1), \quad
        R = 1 + (K-1)(2^L - 1)\ (\text{doubling}, S = 1)

    Computed in closed form (no loop over layers). For integers the result is an exact
    ``sympy.Integer``; a request whose result would exceed :data:`MAX_RESULT_BITS` bits
    (:math:`L\log_2 S` or :math:`L` with doubling) is refused with ``ValueError``. A symbolic
    stride gives a ``Piecewise`` over :math:`S = 1`.

    >>> receptive_field_uniform(4, 3, dilation="doubling")
    31
    >>> receptive_field_uniform(3, 3, stride=2)
    15
    """
    L = dim(depth, "depth", minimum=0)
    k = dim(kernel_size, "kernel_size")
    s = dim(stride, "stride")
    if isinstance(dilation, str):
        if dilation != "doubling":
            raise ValueError(f"dilation must be an integer >= 1 or 'doubling', got {dilation!r}")
        if s != 1:
            raise ValueError(f"dilation='doubling' is defined here for stride=1 only, got {s!r}")
        if isinstance(L, int) and L > MAX_RESULT_BITS:
            raise ValueError(
                f"depth must be at most {MAX_RESULT_BITS} with dilation='doubling' (the result has "
                f"depth bits), got {L}"
            )
        total = 1 + (k - 1) * (2**L - 1)
        return sympy.expand(total) if is_symbolic(total) else sympy.Integer(total)
    d = dim(dilation, "dilation")
    if s == 1:
        total = 1 + L * d * (k - 1)
    elif isinstance(s, int):
        if isinstance(L, int):
            if L * (s - 1).bit_length() > MAX_RESULT_BITS:  # (s-1).bit_length() = ceil(log2 s)
                raise ValueError(
                    f"depth*log2(stride) must be at most {MAX_RESULT_BITS} (bits of the result), "
                    f"got depth={L}, stride={s}"
                )
            total = 1 + d * (k - 1) * ((s**L - 1) // (s - 1))
        else:
            total = 1 + d * (k - 1) * (s**L - 1) / (s - 1)
    else:
        geometric = 1 + d * (k - 1) * (s**L - 1) / (s - 1)
        return sympy.Piecewise((1 + L * d * (k - 1), sympy.Eq(s, 1)), (geometric, True))
    return sympy.expand(total) if is_symbolic(total) else sympy.Integer(total)


def fc_to_conv_weight_ratio(
    in_size: Sequence[Dim], out_size: Sequence[Dim], kernel_size: Dim | Sequence[Dim]
) -> sympy.Expr:
    r"""Weights of a fully connected map between two feature maps over those of a convolution.

    Fully connected: :math:`H_1W_1C_1\cdot H_2W_2C_2`; convolution: :math:`K_hK_wC_1C_2`.
    The channels cancel:

    .. math:: R = \frac{H_1 W_1 H_2 W_2}{K_h K_w}

    (biases excluded). ``in_size``/``out_size`` are ``(H, W)`` pairs (any number of
    spatial dimensions, equal for both).

    >>> fc_to_conv_weight_ratio((56, 56), (56, 56), 3)
    9834496/9

    References
    ----------
    ``002_532ac369c9b692e7.txt`` § Parameter Sharing Analysis (Parameter Comparison).
    """
    for value, name in ((in_size, "in_size"), (out_size, "out_size")):
        if isinstance(value, TEXT) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence such as (H, W), got {value!r}")
    i = dims(in_size, "in_size")
    o = dims(out_size, "out_size", len(i))
    k = _kernel(kernel_size, len(i) if not isinstance(kernel_size, Sequence) else None)
    if len(k) != len(i):
        raise ValueError(f"kernel_size must have {len(i)} entries, got {len(k)}")
    return exact_ratio(product(i) * product(o), product(k))


# --------------------------------------------------------------------------- derivations

I_, K_, S_, P_, D_ = sympy.symbols("I K S P D", integer=True, positive=True)
Cin, Cout, G, H, W, KH, KW = sympy.symbols("C_in C_out G H W K_H K_W", integer=True, positive=True)
H1, W1, H2, W2, C1, C2 = sympy.symbols("H_1 W_1 H_2 W_2 C_1 C_2", integer=True, positive=True)
L_ = sympy.Symbol("L", integer=True, positive=True)


def derive_output_size() -> Derivation:
    r"""Output size: count the window positions; compare with the document at :math:`D=1`."""
    general = conv_output_size(I_, K_, S_, P_, D_)
    doc = sympy.floor((I_ + 2 * P_ - K_) / S_) + 1
    return Derivation(
        title="Output size of a convolution",
        steps=(
            Step(
                r"A dilated kernel spans $E = D(K-1)+1$ positions of the padded input of "
                r"length $I + 2P$."
            ),
            Step(
                r"Window $o$ ($o = 0, 1, \dots$) starts at $oS$ and fits iff "
                r"$oS + E \le I + 2P$; the number of such $o$ is",
                sympy.Eq(sympy.Symbol("O"), general),
            ),
            Step(
                r"At $D = 1$ this is the document's formula; at $D = 2$, $I = 5$, $K = 3$, "
                r"$P = 0$, $S = 1$ the document gives 3 but the layer outputs 1."
            ),
        ),
        claimed=doc,
        derived=general,
        assumptions={D_: 1},
    )


def derive_param_count() -> Derivation:
    r"""Parameter count with groups; the document's formula is the :math:`G = 1` case."""
    general = conv_params(Cin, Cout, (KH, KW), groups=G)
    return Derivation(
        title="Parameters of a convolution with groups and bias",
        steps=(
            Step(
                r"Each output channel sees $C_{in}/G$ input channels through a "
                r"$K_H\times K_W$ kernel, and has one bias.",
                sympy.Eq(sympy.Symbol("P"), general),
            ),
            Step(
                r"At $G = 1$ this is the document's $C_{out}C_{in}K_HK_W + C_{out}$; "
                r"without bias drop $C_{out}$."
            ),
        ),
        claimed=Cout * Cin * KH * KW + Cout,
        derived=general,
        assumptions={G: 1},
    )


def derive_operations() -> Derivation:
    r"""MACs of a convolution; the document's "operations" equal MACs per sample."""
    macs = conv_macs(Cin, Cout, (KH, KW), (H, W))
    return Derivation(
        title="Cost of a convolution (MACs per sample, bias not counted)",
        steps=(
            Step(
                r"$C_{out}HW$ outputs (here $H, W$ are the *output* sizes), each a dot product "
                r"of length $C_{in}K_HK_W$:",
                sympy.Eq(sympy.Symbol(r"\mathrm{MACs}"), macs),
            ),
            Step(
                r"FLOPs $= 2\cdot$MACs $= 2C_{out}C_{in}K_HK_WHW$; the document's count is "
                r"MACs (reading A), half the FLOP count (reading B)."
            ),
        ),
        claimed=Cout * Cin * KH * KW * H * W,
        derived=macs,
    )


def derive_separable() -> Derivation:
    r"""Separable vs standard cost, from the MAC counts of the three convolutions."""
    std = conv_macs(Cin, Cout, (K_, K_), (H, W))
    sep = depthwise_separable_macs(Cin, Cout, (K_, K_), (H, W))
    ratio = sympy.cancel(sep / std)
    return Derivation(
        title="Depthwise separable convolution: cost ratio",
        steps=(
            Step("Standard:", sympy.Eq(sympy.Symbol(r"\mathrm{MACs}_{std}"), std)),
            Step(
                r"Depthwise ($G = C_{in}$) plus pointwise ($1\times1$):",
                sympy.Eq(sympy.Symbol(r"\mathrm{MACs}_{sep}"), sympy.factor(sep)),
            ),
            Step("Ratio, cancelled:", sympy.Eq(sympy.Symbol(r"\rho"), sympy.apart(ratio, Cout))),
        ),
        claimed=1 / Cout + 1 / K_**2,
        derived=ratio,
    )


def derive_grouped() -> Derivation:
    r"""Grouped convolution: weights divide by :math:`G` exactly; with bias they do not."""
    w1 = conv_params(Cin, Cout, (KH, KW), bias=False)
    wg = conv_params(Cin, Cout, (KH, KW), groups=G, bias=False)
    full = sympy.cancel(conv_params(Cin, Cout, (KH, KW)) / conv_params(Cin, Cout, (KH, KW), G))
    return Derivation(
        title="Grouped convolution: parameter reduction",
        steps=(
            Step(
                "Weights, standard over grouped:",
                sympy.Eq(sympy.Symbol(r"\rho_w"), sympy.cancel(w1 / wg)),
            ),
            Step("Weights and biases:", sympy.Eq(sympy.Symbol(r"\rho"), full)),
            Step(r"$\rho < G$ whenever $G > 1$: the bias is not divided."),
        ),
        claimed=G,
        derived=sympy.cancel(w1 / wg),
    )


def derive_receptive_field() -> Derivation:
    r"""Receptive field of :math:`L` identical layers: linear, geometric, and doubling dilation."""
    lin = receptive_field_uniform(L_, K_)
    geo = receptive_field_uniform(L_, K_, stride=2)
    dbl = receptive_field_uniform(L_, K_, dilation="doubling")
    one = dilated_extent(K_, D_)
    return Derivation(
        title="Receptive field of a stack",
        steps=(
            Step(
                r"Recurrence $R_l = R_{l-1} + D_l(K_l - 1)J_{l-1}$, $J_l = J_{l-1}S_l$, "
                r"$R_0 = J_0 = 1$ (each new layer widens the span by its dilated kernel, "
                r"measured in steps of the current jump)."
            ),
            Step(r"Stride 1, dilation 1 — linear in depth:", sympy.Eq(sympy.Symbol("R"), lin)),
            Step(r"Stride 2 — exponential in depth:", sympy.Eq(sympy.Symbol("R"), geo)),
            Step(
                r"One layer with dilation $D$ — affine, not exponential, in $D$:",
                sympy.Eq(sympy.Symbol("R"), one),
            ),
            Step(
                r"Dilation doubling per layer ($D_l = 2^{l-1}$) — exponential in depth:",
                sympy.Eq(sympy.Symbol("R"), dbl),
            ),
        ),
        claimed=1 + L_ * (K_ - 1),
        derived=lin,
    )


def derive_fc_ratio() -> Derivation:
    r"""Fully connected vs convolutional weights between two feature maps."""
    fc = H1 * W1 * C1 * H2 * W2 * C2
    conv = KH * KW * C1 * C2
    return Derivation(
        title="Fully connected vs convolution: weight ratio",
        steps=(
            Step(
                r"A dense map between the flattened maps has one weight per (input, output) "
                r"pair:",
                sympy.Eq(sympy.Symbol(r"P_{fc}"), fc),
            ),
            Step(
                "A convolution shares one kernel over positions:",
                sympy.Eq(sympy.Symbol(r"P_{conv}"), conv),
            ),
            Step("Channels cancel:", sympy.Eq(sympy.Symbol("R"), sympy.cancel(fc / conv))),
        ),
        claimed=H1 * W1 * H2 * W2 / (KH * KW),
        derived=fc_to_conv_weight_ratio((H1, W1), (H2, W2), (KH, KW)),
    )
