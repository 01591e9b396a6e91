"""Hypothesis strategies for *valid* layer configurations (every drawn geometry has output >= 1)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Conv1dGeometry:
    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int


@st.composite
def conv_geometry(
    draw,
    max_kernel: int = 5,
    max_stride: int = 3,
    max_dilation: int = 3,
    max_padding: int = 3,
    max_extra: int = 12,
) -> Conv1dGeometry:
    """One spatial dimension whose dilated kernel fits in the padded input."""
    k = draw(st.integers(1, max_kernel), label="kernel")
    d = draw(st.integers(1, max_dilation), label="dilation")
    s = draw(st.integers(1, max_stride), label="stride")
    p = draw(st.integers(0, max_padding), label="padding")
    span = d * (k - 1) + 1
    size = draw(st.integers(max(1, span - 2 * p), max(1, span - 2 * p) + max_extra), label="size")
    return Conv1dGeometry(size, k, s, p, d)


@dataclass(frozen=True)
class ConvLayer:
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    h: Conv1dGeometry
    w: Conv1dGeometry

    def kwargs(self) -> dict:
        """Keyword arguments for F.conv2d / our kernels."""
        return {
            "stride": (self.h.stride, self.w.stride),
            "padding": (self.h.padding, self.w.padding),
            "dilation": (self.h.dilation, self.w.dilation),
            "groups": self.groups,
        }

    @property
    def kernel(self) -> tuple[int, int]:
        return (self.h.kernel, self.w.kernel)


@st.composite
def conv_layer(
    draw, max_groups: int = 3, max_per_group: int = 3, max_batch: int = 2, **geometry
) -> ConvLayer:
    """Channels with groups dividing both channel counts, and a 2-D geometry."""
    g = draw(st.integers(1, max_groups), label="groups")
    cin = g * draw(st.integers(1, max_per_group), label="in_per_group")
    cout = g * draw(st.integers(1, max_per_group), label="out_per_group")
    n = draw(st.integers(1, max_batch), label="batch")
    return ConvLayer(
        n,
        cin,
        cout,
        g,
        draw(conv_geometry(**geometry), label="h"),
        draw(conv_geometry(**geometry), label="w"),
    )


dims = st.integers(1, 64)
"""A feature count for counting tests (exact integer arithmetic, so cheap at any size)."""
