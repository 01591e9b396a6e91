r"""2-D convolution and transposed convolution in Triton as implicit GEMMs (no im2col buffer),
forward and backward, with the API of :mod:`kernels.cpu.conv` on torch tensors (the 1-D
functions too: checked as 1-D, computed as 2-D on a map of height 1).

**Forward** (cross-correlation, torch's ``F.conv2d``; :mod:`kernels.cpu.conv`'s formula):

.. math:: y[n,o,\mathbf i] = b[o] + \sum_{c\in\gamma(o)}\sum_{\mathbf k}
          w[o,c,\mathbf k]\; x_p[n,c,\mathbf i\odot S + \mathbf k\odot D]

as one GEMM per group with :math:`M = N H_o W_o` rows, :math:`C_{out}/G` columns and a
reduction of :math:`K = (C_{in}/G) K_H K_W`, whose ``A`` operand is gathered from the input
tile by tile with the padding masked (:mod:`kernels.gpu._conv_kernels`; NVIDIA's implicit GEMM,
cuDNN's ``IMPLICIT_GEMM`` algorithm; Triton tutorial 03 for the tiling). One input channel per
group (``C_in/G = 1``: depthwise, and any single-channel input) has :math:`K = K_H K_W`, too
small for tensor-core tiles: a direct kernel (elementwise multiply-adds, memory-bound) runs it.

**Backward** (``conv2d_backward``, the CPU kernel's derivation): the input gradient
:math:`A_w^\top G` as an implicit GEMM over ``grad_output`` with the transposed weight, where
stride > 1 is handled by the **sub-pixel decomposition** (input positions with the same
:math:`(t + P) \bmod S` are reached by the same taps, those with :math:`kD \equiv t + P`: one
GEMM per class, :math:`S_h S_w` launches, no multiply by a zero); the weight gradient as a
GEMM per tap with the reduction over :math:`N H_o W_o` split across programs
(**deterministic split-K**: partial sums in their own slots, added by the host, no atomics);
the bias gradient a two-stage column sum. ``grad_bias`` is None when ``bias`` is None (the
CPU kernel's semantics).

**Transposed convolution** (``conv_transpose2d``) runs *the input-gradient kernel* — by
torch's definition it is the gradient of ``conv2d`` with respect to its input (weight
``(C_in, C_out/G, K_H, K_W)`` read as a conv weight ``(out=C_in, in/G=C_out/G)``), with the
crop by ``padding`` and ``output_padding`` in the kernel's index arithmetic, bias fused; its
backward runs the forward kernel (``grad_input``: the gather of the zero-padded
``grad_output``) and the weight-gradient kernel with the roles of input and output gradient
swapped.

**Precision**: float32, float16, bfloat16 and float64 (output in the input's dtype).
Products accumulate in float32 (float64 for float64); float32 ``tl.dot`` runs at
``_backend.dot_precision("conv")``: TF32 when ``torch.backends.cudnn.allow_tf32`` (torch's
default, as cuDNN's), full float32 otherwise, so kernel and torch run at the same precision.

**Layout**: any memory layout is accepted and converted to channels-last (NHWC) inside (free
for a channels-last input; a copy otherwise), so the same values give bit-identical results
whatever the layout. **Outputs are channels-last tensors** of torch's logical shape ``(N, C,
H, W)`` (``y.is_contiguous(memory_format=torch.channels_last)``; unbatched: ``(C, H, W)`` with
channels innermost in memory) — torch returns channels-last only for channels-last inputs;
values and shapes are torch's. ``grad_weight`` is contiguous, ``grad_bias`` 1-D.

**Arguments** are the CPU kernel's (torch's names and order; the transposed ones put
``output_padding, groups`` before ``dilation``), checked by its own geometry checker
(:func:`kernels.cpu._check.conv_geometry`) so messages name the argument; its size guards
(``kernels.cpu._check.MAX_ELEMENTS`` for the padded input and the unfolded input) are applied
**per sample** (the kernel builds no unfolded buffer; they keep absurd padding or dilation out
of the index arithmetic). Deliberate differences from torch (the CPU kernel's): zero channels
are rejected, ``bias`` must have shape ``(out_channels,)``. Tensors of ``2**31`` elements or
more are refused (int32 index arithmetic).

Cost (MACs, :mod:`theory.conv`): forward :func:`theory.conv.conv_macs`
:math:`N C_{out} (C_{in}/G) K_H K_W H_o W_o`; transposed :func:`theory.conv.conv_transpose_macs`
:math:`N C_{in} (C_{out}/G) K_H K_W H_i W_i`; depthwise separable
:func:`theory.conv.depthwise_separable_macs`; FLOPs :math:`= 2\times` MACs
(:func:`theory.conv.macs_to_flops`). Each kernel executes exactly these MACs (plus the masked
padding taps at the borders and the tile remainders), the input gradient included.

References: cuDNN developer guide (implicit GEMM, NHWC); CUTLASS ``docs/implicit_gemm_
convolution.md``; Triton tutorial 03-matrix-multiplication; torch ``F.conv2d``,
``F.conv_transpose2d``, ``nn.ConvTranspose2d`` docs; Dumoulin & Visin, *A guide to
convolution arithmetic* (2016).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kernels.cpu._check import ConvGeometry, conv_geometry
from kernels.gpu import _backend

__all__ = [
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
]

Ints = int | Sequence[int]

#: Largest element count of any tensor a kernel indexes (int32 offsets).
MAX_NUMEL = 2**31 - 1


def _proxy(t: torch.Tensor, batch_one: bool) -> np.ndarray:
    """A zero-memory float64 ndarray of ``t``'s shape (batch clipped to 1 when
    ``batch_one``) for the CPU geometry checker, which takes ndarrays."""
    shape = list(t.shape)
    if batch_one and shape:
        shape[0] = min(shape[0], 1)
    return np.broadcast_to(np.zeros((), np.float64), tuple(shape))


@dataclass(frozen=True)
class _Conv:
    """A checked call: the geometry, the batched channels-last tensors and the flags."""

    geo: ConvGeometry
    x: torch.Tensor  # (N, H, W, C) contiguous
    weight: torch.Tensor
    bias: torch.Tensor | None
    n: int


def _nhwc(t: torch.Tensor, batched: bool) -> torch.Tensor:
    """``(N, C, H, W)`` (or unbatched ``(C, H, W)``) as a contiguous ``(N, H, W, C)``: no copy
    for a channels-last input."""
    t4 = t if batched else t[None]
    return t4.permute(0, 2, 3, 1).contiguous()


def _check(
    input,
    weight,
    bias,
    stride,
    padding,
    dilation,
    groups,
    transposed=False,
    output_padding=0,
    nd=2,
) -> _Conv:
    x = _backend.tensor(input, "input", ndim=(nd + 1, nd + 2))
    w = _backend.tensor(weight, "weight")
    _backend.same(w, x, "weight", "input")
    b = None
    if bias is not None:
        b = _backend.tensor(bias, "bias")
        _backend.same(b, x, "bias", "input")
        b = b.contiguous()
    kw = {"transposed": True, "output_padding": output_padding} if transposed else {}
    geo = conv_geometry(
        _proxy(x, x.ndim == nd + 2),
        _proxy(w, False),
        None if b is None else _proxy(b, False),
        stride,
        padding,
        dilation,
        groups,
        nd,
        **kw,
    )
    n = int(x.shape[0]) if geo.batched else 1
    out_numel = n * geo.out_channels * math.prod(geo.out)
    for name, numel in (("input", x.numel()), ("the output", out_numel)):
        if numel > MAX_NUMEL:
            raise ValueError(
                f"input: {name} would have {numel} elements, more than the kernels' int32 "
                f"index limit {MAX_NUMEL}; split the batch"
            )
    if nd == 1:  # validated as 1-D; the 2-D functions take it from here
        return _Conv(geo, x, w, b, n)
    return _Conv(geo, _nhwc(x, geo.batched), w, b, n)


def _grad(grad_output, c: _Conv, input: torch.Tensor) -> torch.Tensor:
    g = _backend.tensor(grad_output, "grad_output", ndim=(c.geo.nd + 1, c.geo.nd + 2))
    _backend.same(g, input, "grad_output", "input")
    geo = c.geo
    expected = (*((c.n,) if geo.batched else ()), geo.out_channels, *geo.out)
    if tuple(g.shape) != expected:
        raise ValueError(
            f"grad_output must have shape {expected}, the forward's output shape for this "
            f"input, weight, stride, padding, dilation{', output_padding' * geo.transposed}; "
            f"got {tuple(g.shape)}"
        )
    return g if geo.nd == 1 else _nhwc(g, geo.batched)


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _prec(dtype: torch.dtype) -> str:
    return _backend.dot_precision("conv") if dtype == torch.float32 else "ieee"


def _kl():
    return _backend.load("_conv_kernels")


def _interpreted() -> bool:
    return _backend.mode() == "interpreter"


def _launch(kernel, grid, args, cfg: dict, **const) -> None:
    """Launch with ``cfg``'s blocks as keywords; ``num_warps``/``num_stages`` only on CUDA."""
    if _interpreted():
        cfg = {k: v for k, v in cfg.items() if k not in ("num_warps", "num_stages")}
    kernel[grid](*args, **const, **cfg)


def _out(y_nhwc: torch.Tensor, batched: bool) -> torch.Tensor:
    y = y_nhwc.permute(0, 3, 1, 2)
    return y if batched else y[0]


def _forward(x, w, b, n, h, wd, c_in, ho, wo, c_out, groups, s, p, d, kernel) -> torch.Tensor:
    """``y`` ``(N, H_o, W_o, C_out)`` of the forward gather (``p`` the leading padding)."""
    kl = _kl()
    y = torch.empty((n, ho, wo, c_out), dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y
    cig, cog = c_in // groups, c_out // groups
    kh, kw = kernel
    f64 = x.dtype == torch.float64
    shape = (n, h, wd, c_in, ho, wo, c_out)
    geo = (s[0], s[1], p[0], p[1], d[0], d[1], kh, kw)
    m = n * ho * wo
    if cig == 1:
        wk = w.reshape(c_out, kh, kw).permute(1, 2, 0).contiguous()  # (K_H, K_W, C_out)
        cfg = kl.config("conv_depthwise_kernel", _interpreted(), f64)
        grid = (-(-m // cfg["BLOCK_M"]), -(-c_out // cfg["BLOCK_C"]))
        args = (x, wk, wk if b is None else b, y, *shape, cog, *geo)
        _launch(kl.conv_depthwise_kernel, grid, args, cfg, HAS_BIAS=b is not None, F64=f64)
        return y
    wf = w.reshape(groups, cog, cig, kh, kw).permute(0, 3, 4, 2, 1).contiguous()
    cfg = kl.config("conv_fwd_kernel", _interpreted(), f64, cog, cig)
    grid = (-(-m // cfg["BLOCK_M"]) * -(-cog // cfg["BLOCK_N"]), groups)
    args = (x, wf, wf if b is None else b, y, *shape, cig, cog, *geo)
    _launch(
        kl.conv_fwd_kernel,
        grid,
        args,
        cfg,
        HAS_BIAS=b is not None,
        F64=f64,
        PREC=_prec(x.dtype),
    )
    return y


def _dgrad(g, w, b, n, h, wd, c_in, ho, wo, c_out, groups, s, p, d, kernel) -> torch.Tensor:
    """``dx`` ``(N, H, W, C_in)`` = the adjoint of :func:`_forward`'s gather applied to ``g``
    ``(N, H_o, W_o, C_out)`` (+ ``b`` per input channel: the transposed conv's bias)."""
    kl = _kl()
    dx = torch.empty((n, h, wd, c_in), dtype=g.dtype, device=g.device)
    if dx.numel() == 0:
        return dx
    cig, cog = c_in // groups, c_out // groups
    kh, kw = kernel
    f64 = g.dtype == torch.float64
    wd_ = w.reshape(groups, cog, cig, kh, kw).permute(0, 3, 4, 1, 2).contiguous()
    cfg = kl.config("conv_dgrad_kernel", _interpreted(), f64, cig, cog)
    args = (g, wd_, wd_ if b is None else b, dx, n, h, wd, c_in, ho, wo, c_out, cig, cog)
    args += (s[0], s[1], p[0], p[1], d[0], d[1], kh, kw)
    rows = kl.subpixel_classes(h, s[0], p[0], d[0], kh)
    cols = kl.subpixel_classes(wd, s[1], p[1], d[1], kw)
    for h0, hc, kh0, khs, nkh in rows:  # one launch per sub-pixel class
        for w0, wc, kw0, kws, nkw in cols:
            m = n * hc * wc
            grid = (-(-m // cfg["BLOCK_M"]) * -(-cig // cfg["BLOCK_N"]), groups)
            _launch(
                kl.conv_dgrad_kernel,
                grid,
                (*args, h0, w0, hc, wc, kh0, kw0, khs, kws, nkh, nkw),
                cfg,
                HAS_BIAS=b is not None,
                F64=f64,
                PREC=_prec(g.dtype),
            )
    return dx


def _wgrad(g, x, n, h, wd, c_in, ho, wo, c_out, groups, s, p, d, kernel) -> torch.Tensor:
    """``dw`` ``(C_out, C_in/G, K_H, K_W)`` = sum over (n, o) of ``g`` times the windows of
    ``x`` (``(N, H, W, C_in)``), split-K with partial sums added by the host."""
    kl = _kl()
    cig, cog = c_in // groups, c_out // groups
    kh, kw = kernel
    acc = _acc(g.dtype)
    m = n * ho * wo
    if m == 0:
        return torch.zeros((c_out, cig, kh, kw), dtype=g.dtype, device=g.device)
    f64 = g.dtype == torch.float64
    cfg = kl.config("conv_wgrad_kernel", _interpreted(), f64, cog, cig)
    tiles = -(-cog // cfg["BLOCK_M"]) * -(-cig // cfg["BLOCK_N"]) * kh * kw
    n_split, rows = kl.splits(m, cfg["BLOCK_K"], tiles * groups, _interpreted())
    part = torch.empty((n_split, groups, kh, kw, cog, cig), dtype=acc, device=g.device)
    args = (g, x, part, n, h, wd, c_in, ho, wo, c_out, cig, cog)
    args += (s[0], s[1], p[0], p[1], d[0], d[1], kh, kw, rows)
    _launch(kl.conv_wgrad_kernel, (tiles, groups, n_split), args, cfg, F64=f64, PREC=_prec(g.dtype))
    dw = part.sum(0) if n_split > 1 else part[0]
    return dw.permute(0, 3, 4, 1, 2).reshape(c_out, cig, kh, kw).to(g.dtype).contiguous()


def _bgrad(g: torch.Tensor) -> torch.Tensor:
    """Column sums of the ``(N, H, W, C)`` gradient, two-stage, deterministic."""
    kl = _kl()
    c = g.shape[-1]
    m = g.numel() // c
    acc = _acc(g.dtype)
    if m == 0:
        return torch.zeros(c, dtype=g.dtype, device=g.device)
    cfg = kl.config("bias_grad_kernel", _interpreted(), g.dtype == torch.float64)
    n_split, rows = kl.splits(m, cfg["BLOCK_M"], -(-c // cfg["BLOCK_C"]), _interpreted())
    part = torch.empty((n_split, c), dtype=acc, device=g.device)
    grid = (-(-c // cfg["BLOCK_C"]), n_split)
    _launch(kl.bias_grad_kernel, grid, (g, part, m, c, rows), cfg, F64=acc == torch.float64)
    return (part.sum(0) if n_split > 1 else part[0]).to(g.dtype)


def _dims(c: _Conv):
    geo = c.geo
    h, wd = geo.in_size
    return h, wd, geo.stride, geo.padding, geo.dilation, geo.kernel


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> torch.Tensor:
    """``F.conv2d``: input ``(N, C_in, H, W)`` or ``(C_in, H, W)``, weight
    ``(C_out, C_in/G, K_H, K_W)``; implicit GEMM (direct kernel when ``C_in/G = 1``); the
    result is channels-last (module docstring)."""
    c = _check(input, weight, bias, stride, padding, dilation, groups)
    geo = c.geo
    h, wd, s, p, d, k = _dims(c)
    y = _forward(
        c.x, c.weight, c.bias, c.n, h, wd, geo.in_channels, *geo.out, geo.out_channels,
        geo.groups, s, p, d, k,
    )  # fmt: skip
    return _out(y, geo.batched)


def conv2d_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv2d` (``grad_bias`` None when
    ``bias`` is None); ``grad_input`` channels-last."""
    c = _check(input, weight, bias, stride, padding, dilation, groups)
    g = _grad(grad_output, c, input)
    geo = c.geo
    h, wd, s, p, d, k = _dims(c)
    dims = (c.n, h, wd, geo.in_channels, *geo.out, geo.out_channels, geo.groups, s, p, d, k)
    dx = _dgrad(g, c.weight, None, *dims)
    dw = _wgrad(g, c.x, *dims)
    db = None if c.bias is None else _bgrad(g)
    return _out(dx, geo.batched), dw, db


def conv_transpose2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> torch.Tensor:
    """``F.conv_transpose2d``: input ``(N, C_in, H, W)`` or ``(C_in, H, W)``, weight
    ``(C_in, C_out/G, K_H, K_W)``, output ``(H-1)S - 2P + D(K-1) + P_out + 1`` per axis; runs
    the input-gradient kernel (module docstring); the result is channels-last."""
    c = _check(input, weight, bias, stride, padding, dilation, groups, True, output_padding)
    geo = c.geo
    h, wd, s, p, d, k = _dims(c)
    # the conv whose input gradient this is: input = our output (C_out channels, size out),
    # output = our input (C_in channels, size in_size)
    y = _dgrad(
        c.x, c.weight, c.bias, c.n, *geo.out, geo.out_channels, h, wd, geo.in_channels,
        geo.groups, s, p, d, k,
    )  # fmt: skip
    return _out(y, geo.batched)


def conv_transpose2d_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv_transpose2d`: the forward
    kernel (gather of the padded ``grad_output``) and the weight-gradient kernel with input
    and output gradient swapped; ``grad_input`` channels-last."""
    c = _check(input, weight, bias, stride, padding, dilation, groups, True, output_padding)
    g = _grad(grad_output, c, input)
    geo = c.geo
    h, wd, s, p, d, k = _dims(c)
    dims = (c.n, *geo.out, geo.out_channels, h, wd, geo.in_channels, geo.groups, s, p, d, k)
    dx = _forward(g, c.weight, None, *dims)
    dw = _wgrad(c.x, g, *dims)
    db = None if c.bias is None else _bgrad(g)
    return _out(dx, geo.batched), dw, db


# --------------------------------------------------------------------------- 1-D, through 2-D


def _args_2d(c: _Conv, padding) -> dict:
    """The checked 1-D geometry as 2-D arguments with a height-1 axis in front."""
    geo = c.geo
    pad = padding if isinstance(padding, str) else (0, geo.padding[0])
    out = dict(stride=(1, geo.stride[0]), padding=pad, dilation=(1, geo.dilation[0]))
    out["groups"] = geo.groups
    if geo.transposed:
        out["output_padding"] = (0, geo.output_padding[0])
    return out


def _h1(t: torch.Tensor | None) -> torch.Tensor | None:
    """``(..., L)`` -> ``(..., 1, L)``: the 1-D length as a 2-D map of height 1."""
    return None if t is None else t.unsqueeze(-2)


def _squeeze(result):
    """Drop the height-1 axis again (``grad_bias`` has none)."""
    if isinstance(result, tuple):
        dx, dw, db = result
        return dx.squeeze(-2), dw.squeeze(-2), db
    return result.squeeze(-2)


def conv1d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> torch.Tensor:
    """``F.conv1d``: input ``(N, C_in, L)`` or ``(C_in, L)``, weight ``(C_out, C_in/G, K)``;
    checked as 1-D (the CPU kernel's messages), computed by :func:`conv2d` on a map of height 1
    (the result is ``(N, C_out, L_o)`` with channels innermost in memory)."""
    c = _check(input, weight, bias, stride, padding, dilation, groups, nd=1)
    kw = _args_2d(c, padding)
    return _squeeze(conv2d(_h1(c.x), _h1(c.weight), c.bias, **kw))


def conv1d_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints | str = 0,
    dilation: Ints = 1,
    groups: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv1d`, by :func:`conv2d_backward`
    on a map of height 1."""
    c = _check(input, weight, bias, stride, padding, dilation, groups, nd=1)
    g = _grad(grad_output, c, input)
    kw = _args_2d(c, padding)
    return _squeeze(conv2d_backward(_h1(g), _h1(c.x), _h1(c.weight), c.bias, **kw))


def conv_transpose1d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> torch.Tensor:
    """``F.conv_transpose1d``: input ``(N, C_in, L)`` or ``(C_in, L)``, weight
    ``(C_in, C_out/G, K)``, output length ``(L-1)S - 2P + D(K-1) + P_out + 1``; by
    :func:`conv_transpose2d` on a map of height 1."""
    c = _check(input, weight, bias, stride, padding, dilation, groups, True, output_padding, 1)
    kw = _args_2d(c, padding)
    return _squeeze(conv_transpose2d(_h1(c.x), _h1(c.weight), c.bias, **kw))


def conv_transpose1d_backward(
    grad_output: torch.Tensor,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Ints = 1,
    padding: Ints = 0,
    output_padding: Ints = 0,
    groups: int = 1,
    dilation: Ints = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`conv_transpose1d`, by
    :func:`conv_transpose2d_backward` on a map of height 1."""
    c = _check(input, weight, bias, stride, padding, dilation, groups, True, output_padding, 1)
    g = _grad(grad_output, c, input)
    kw = _args_2d(c, padding)
    return _squeeze(conv_transpose2d_backward(_h1(g), _h1(c.x), _h1(c.weight), c.bias, **kw))
