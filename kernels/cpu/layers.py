"""Layer objects that own their parameters, so parameter counts come from real arrays.

Each layer stores its parameters in ``self.params`` (name -> ndarray, torch's shapes) and
``num_params()`` sums their sizes. Values are drawn from a seeded normal; initialization
schemes are not the subject here.

Constructors check their arguments as torch's modules do (sizes integers >= 1, ``bias`` a real
bool, ``groups`` dividing both channel counts, ``padding`` ints or ``'same'``/``'valid'``,
``'same'`` only with stride 1), plus: ``rng`` a ``numpy.random.Generator`` or None, ``dtype``
float32 or float64, and no parameter tensor above :data:`kernels.cpu._check.MAX_ELEMENTS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from kernels.cpu._check import FLOAT_DTYPES, bounded, flag, integer, is_array, ntuple
from kernels.cpu.conv2d import conv2d_direct
from kernels.cpu.linear import block_sparse_linear, linear, lowrank_linear


class Layer:
    """Base class: ``params`` maps names to arrays; ``num_params`` counts their entries."""

    params: dict[str, np.ndarray]

    def __init__(self) -> None:
        self.params = {}

    def num_params(self) -> int:
        """Total number of parameter entries (the sum of the arrays' sizes)."""
        return sum(int(p.size) for p in self.params.values())


def _rng(rng: object) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng


def _dtype(dtype: object) -> np.dtype:
    ok = isinstance(dtype, type | np.dtype) and not isinstance(dtype, bool)
    try:
        dt = np.dtype(dtype) if ok else None
    except TypeError:
        dt = None
    if dt is None or dt not in FLOAT_DTYPES:  # (np.dtype("float64") == None is True)
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
    return dt


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype, name: str) -> np.ndarray:
    bounded(math.prod(shape), f"parameter of shape {shape}", name)
    return rng.standard_normal(shape).astype(dtype)


class Linear(Layer):
    """``torch.nn.Linear``: weight ``(out_features, in_features)``, bias ``(out_features,)``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        n, m = integer(in_features, "in_features", 1), integer(out_features, "out_features", 1)
        flag(bias, "bias")
        rng, dtype = _rng(rng), _dtype(dtype)
        shape = (m, n)
        self.params = {"weight": _normal(rng, shape, dtype, "in_features, out_features")}
        if bias:
            self.params["bias"] = _normal(rng, (m,), dtype, "out_features")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return linear(x, self.params["weight"], self.params.get("bias"))


class LowRankLinear(Layer):
    """``U (out, rank) @ V (rank, in)`` plus bias: :func:`kernels.cpu.linear.lowrank_linear`.

    Any ``rank >= 1`` is accepted, also ``rank > min(in, out)``: a valid factorization that
    just stores more than the dense weight (see :func:`theory.linear.lowrank_params`)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        n, m = integer(in_features, "in_features", 1), integer(out_features, "out_features", 1)
        r = integer(rank, "rank", 1)
        flag(bias, "bias")
        rng, dtype = _rng(rng), _dtype(dtype)
        self.params = {
            "u": _normal(rng, (m, r), dtype, "out_features, rank"),
            "v": _normal(rng, (r, n), dtype, "in_features, rank"),
        }
        if bias:
            self.params["bias"] = _normal(rng, (m,), dtype, "out_features")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        return lowrank_linear(x, p["u"], p["v"], p.get("bias"))


class BlockSparseLinear(Layer):
    """Blocks ``(row_sizes[i], col_sizes[j])`` where ``mask[i][j]`` is True (a grid of bools)."""

    def __init__(
        self,
        row_sizes: Sequence[int],
        col_sizes: Sequence[int],
        mask: Sequence[Sequence[bool]],
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        self.row_sizes = _sizes(row_sizes, "row_sizes")
        self.col_sizes = _sizes(col_sizes, "col_sizes")
        flag(bias, "bias")
        rng, dtype = _rng(rng), _dtype(dtype)
        shape = (len(self.row_sizes), len(self.col_sizes))
        mask = _mask(mask, shape)
        bounded(
            sum(self.row_sizes) * sum(self.col_sizes), "the dense weight", "row_sizes, col_sizes"
        )
        self.blocks = {
            (i, j): _normal(rng, (r, c), dtype, "row_sizes, col_sizes")
            for i, r in enumerate(self.row_sizes)
            for j, c in enumerate(self.col_sizes)
            if mask[i][j]
        }
        self.params = {f"block_{i}_{j}": b for (i, j), b in self.blocks.items()}
        if bias:
            self.params["bias"] = _normal(rng, (sum(self.row_sizes),), dtype, "row_sizes")
        self.dtype = dtype

    def dense_weight(self) -> np.ndarray:
        """The full matrix with zero blocks filled in (for comparison with a dense layer)."""
        rows, cols = np.cumsum([0, *self.row_sizes]), np.cumsum([0, *self.col_sizes])
        w = np.zeros((rows[-1], cols[-1]), dtype=self.dtype)
        for (i, j), b in self.blocks.items():
            w[rows[i] : rows[i + 1], cols[j] : cols[j + 1]] = b
        return w

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return block_sparse_linear(
            x, self.blocks, self.row_sizes, self.col_sizes, self.params.get("bias")
        )


class Conv2d(Layer):
    """``torch.nn.Conv2d`` (zero padding): weight ``(C_out, C_in/groups, K_H, K_W)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        c_in = integer(in_channels, "in_channels", 1)
        c_out = integer(out_channels, "out_channels", 1)
        kh, kw = ntuple(kernel_size, "kernel_size", 2, 1)
        s = ntuple(stride, "stride", 2, 1)
        d = ntuple(dilation, "dilation", 2, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid' or ints >= 0, got {padding!r}")
            if padding == "same" and s != (1, 1):
                raise ValueError(f"padding='same' needs stride 1 (as torch), got stride={stride}")
            p: object = padding
        else:
            p = ntuple(padding, "padding", 2, 0)
        g = integer(groups, "groups", 1)
        if c_in % g or c_out % g:
            raise ValueError(f"groups={g} must divide in_channels={c_in} and out_channels={c_out}")
        flag(bias, "bias")
        rng, dtype = _rng(rng), _dtype(dtype)
        self.conf = {"stride": s, "padding": p, "dilation": d, "groups": g}
        shape = (c_out, c_in // g, kh, kw)
        what = "in_channels, out_channels, kernel_size"
        self.params = {"weight": _normal(rng, shape, dtype, what)}
        if bias:
            self.params["bias"] = _normal(rng, (c_out,), dtype, "out_channels")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return conv2d_direct(x, self.params["weight"], self.params.get("bias"), **self.conf)


def _sizes(value: object, name: str) -> list[int]:
    # str/bytes/bytearray are sequences, but never of sizes (b'x' would read as [120])
    text = isinstance(value, str | bytes | bytearray)
    if not isinstance(value, Sequence) or text or len(value) == 0:
        raise TypeError(f"{name} must be a non-empty sequence of integers >= 1, got {value!r}")
    return [integer(v, name, 1) for v in value]


def _mask(mask: object, shape: tuple[int, int]) -> list[list[bool]]:
    """``mask`` as a ``shape`` grid of bools: a sequence of sequences of (NumPy) bools, or a
    plain bool ndarray of exactly that shape."""
    bad = TypeError(
        f"mask must be a {shape[0]}x{shape[1]} grid (sequence of sequences, or a bool "
        f"ndarray of shape {shape}) of bools, got {mask!r:.80}"
    )
    if is_array(mask):
        if mask.dtype != np.bool_ or mask.shape != shape:
            raise bad
        return mask.tolist()
    text = str | bytes | bytearray
    if not isinstance(mask, Sequence) or isinstance(mask, text) or len(mask) != shape[0]:
        raise bad
    out = []
    for row in mask:
        if is_array(row) and row.ndim == 1:
            row = row.tolist()
        if not isinstance(row, Sequence) or isinstance(row, text) or len(row) != shape[1]:
            raise bad
        if not all(isinstance(v, bool | np.bool_) for v in row):
            raise bad
        out.append([bool(v) for v in row])
    return out


class DepthwiseSeparableConv2d(Layer):
    """Depthwise ``Conv2d(C_in, C_in, K, groups=C_in)``, then pointwise ``Conv2d(C_in, C_out, 1)``.

    Stride, padding and dilation belong to the depthwise step.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = False,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        rng = _rng(rng)
        self.depthwise = Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=in_channels,
            bias=bias,
            rng=rng,
            dtype=dtype,
        )
        self.pointwise = Conv2d(in_channels, out_channels, 1, bias=bias, rng=rng, dtype=dtype)
        self.params = {f"depthwise.{k}": v for k, v in self.depthwise.params.items()}
        self.params |= {f"pointwise.{k}": v for k, v in self.pointwise.params.items()}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.pointwise(self.depthwise(x))
