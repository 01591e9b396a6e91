"""Layer objects that own their parameters, so parameter counts come from real arrays.

Each layer stores its parameters in ``self.params`` (name -> ndarray, torch's shapes) and
``num_params()`` sums their sizes. Values are drawn from a seeded normal; initialization
schemes are not the subject here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernels.cpu.conv2d import conv2d_direct
from kernels.cpu.linear import block_sparse_linear, linear, lowrank_linear


class Layer:
    params: dict[str, np.ndarray]

    def num_params(self) -> int:
        return sum(int(p.size) for p in self.params.values())


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


class Linear(Layer):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        rng = rng or np.random.default_rng(0)
        self.params = {"weight": _normal(rng, (out_features, in_features), dtype)}
        if bias:
            self.params["bias"] = _normal(rng, (out_features,), dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return linear(x, self.params["weight"], self.params.get("bias"))


class LowRankLinear(Layer):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        rng = rng or np.random.default_rng(0)
        self.params = {
            "u": _normal(rng, (out_features, rank), dtype),
            "v": _normal(rng, (rank, in_features), dtype),
        }
        if bias:
            self.params["bias"] = _normal(rng, (out_features,), dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        return lowrank_linear(x, p["u"], p["v"], p.get("bias"))


class BlockSparseLinear(Layer):
    def __init__(
        self,
        row_sizes: Sequence[int],
        col_sizes: Sequence[int],
        mask: Sequence[Sequence[bool]],
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype=np.float64,
    ) -> None:
        rng = rng or np.random.default_rng(0)
        self.row_sizes, self.col_sizes = list(row_sizes), list(col_sizes)
        self.blocks = {
            (i, j): _normal(rng, (r, c), dtype)
            for i, r in enumerate(row_sizes)
            for j, c in enumerate(col_sizes)
            if mask[i][j]
        }
        self.params = {f"block_{i}_{j}": b for (i, j), b in self.blocks.items()}
        if bias:
            self.params["bias"] = _normal(rng, (sum(row_sizes),), dtype)

    def dense_weight(self) -> np.ndarray:
        """The full matrix with zero blocks filled in (for comparison with a dense layer)."""
        rows, cols = np.cumsum([0, *self.row_sizes]), np.cumsum([0, *self.col_sizes])
        w = np.zeros((rows[-1], cols[-1]), dtype=next(iter(self.params.values())).dtype)
        for (i, j), b in self.blocks.items():
            w[rows[i] : rows[i + 1], cols[j] : cols[j + 1]] = b
        return w

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return block_sparse_linear(
            x, self.blocks, self.row_sizes, self.col_sizes, self.params.get("bias")
        )


class Conv2d(Layer):
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
        rng = rng or np.random.default_rng(0)
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        self.conf = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        self.params = {"weight": _normal(rng, (out_channels, in_channels // groups, kh, kw), dtype)}
        if bias:
            self.params["bias"] = _normal(rng, (out_channels,), dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return conv2d_direct(x, self.params["weight"], self.params.get("bias"), **self.conf)


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
        rng = rng or np.random.default_rng(0)
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
