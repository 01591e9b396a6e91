r"""Triton kernels of :mod:`kernels.gpu.conv`: 2-D convolution as an implicit GEMM (no im2col
buffer), its input and weight gradients, a direct depthwise kernel and the bias reduction.

Imported only through ``kernels.gpu._backend.load("_conv_kernels")``: importing it imports
Triton.

Layout. Every activation is a contiguous **channels-last** array ``(N, H, W, C)`` (NHWC): the
GEMM's reduction axis runs over input channels innermost, so an ``A`` tile row is ``BLOCK_K``
consecutive channels of one pixel (coalesced loads; cuDNN and CUTLASS use NHWC for the same
reason). Weights are re-laid out on the host (a few KB to a few MB, once per call):

* forward: ``Wf[g, kh, kw, ci, co]`` (``(G, K_H, K_W, C_in/G, C_out/G)``), the ``B`` operand
  ``(K, N_gemm)`` of each tap with the output channels contiguous;
* input gradient: ``Wd[g, kh, kw, co, ci]``, the transposed operand.

Implicit GEMM (forward, NVIDIA's "implicit GEMM" of the cuDNN/CUTLASS docs; Triton tutorial
03 for the tiling): rows :math:`m = (n, o_h, o_w)` (:math:`M = N H_o W_o`), columns the output
channels of one group (:math:`C_{out}/G`), reduction :math:`k = (k_h, k_w, c)`
(:math:`K = K_H K_W C_{in}/G`). The ``A`` tile is gathered from the input on the fly: row
:math:`m`, tap :math:`(k_h, k_w)` reads pixel :math:`(o_h S_h - P_h + k_h D_h, o_w S_w - P_w +
k_w D_w)` and masks it to zero outside the image (the padding is never materialized). The
K loop is *one* flat loop over (tap, channel block), so Triton software-pipelines it
(``num_stages``). Programs are ordered in groups of ``GROUP_M`` row blocks (tutorial 03's L2
swizzle); the conv groups are the grid's second axis. Accumulation in float32 (float64 for
float64 inputs), ``tl.dot(..., input_precision=PREC)`` with ``PREC`` from
``_backend.dot_precision("conv")`` for float32 (TF32 by default, as cuDNN), bias fused.

Configs: ``INTERPRETER_CONFIG`` (small blocks, 16 to 64; ``tl.dot`` needs every block dim >= 16) in
Triton's interpreter, ``CUDA_CONFIGS`` on a GPU, picked by :func:`config` (heuristic below,
no autotuning: the choice depends only on the shape, so reruns are bit-equal).
"""

from __future__ import annotations

import math

import triton
import triton.language as tl

#: Blocks used under ``TRITON_INTERPRET=1`` (small: the interpreter runs every program in
#: Python). Tests monkeypatch these to exercise the loops and masks.
INTERPRETER_CONFIG: dict[str, dict[str, int]] = {
    "conv_fwd_kernel": dict(BLOCK_M=64, BLOCK_N=16, BLOCK_K=16, GROUP_M=2),
    "conv_depthwise_kernel": dict(BLOCK_M=64, BLOCK_C=16),
    "conv_dgrad_kernel": dict(BLOCK_M=64, BLOCK_N=16, BLOCK_K=16, GROUP_M=2),
    "conv_wgrad_kernel": dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=32),
    "bias_grad_kernel": dict(BLOCK_M=64, BLOCK_C=16),
}
#: Rows of the weight-/bias-gradient reduction per program (split-K) in the interpreter.
#: (The weight gradient's ``BLOCK_K`` there is 32, not 64: the interpreter's float32 ``tl.dot``
#: is ``np.matmul`` with a float32 accumulator, and one sequential 42-term dot measured 5x
#: torch's (MKL's) error on a test case; two blocked dots, 32 + 10 terms, 2x.)
INTERPRETER_ROWS_PER_SPLIT = 128

_BIG = dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, GROUP_M=8, num_warps=8, num_stages=3)
_MID = dict(BLOCK_M=128, BLOCK_N=64, BLOCK_K=32, GROUP_M=8, num_warps=4, num_stages=4)
_SMALL = dict(BLOCK_M=64, BLOCK_N=32, BLOCK_K=16, GROUP_M=8, num_warps=4, num_stages=3)
_F64 = dict(BLOCK_M=64, BLOCK_N=32, BLOCK_K=16, GROUP_M=8, num_warps=4, num_stages=2)

#: CUDA configs per kernel, chosen by :func:`config`:
#:
#: * GEMM kernels (forward, input gradient): ``_BIG`` (tutorial 03's Hopper tile 128×128×64,
#:   8 warps, 3 stages: 196 KB of shared memory in float32) when the GEMM's N (output
#:   channels of a group) is >= 128 and its channel reduction >= 64; ``_MID`` when N >= 64 and
#:   the reduction >= 32; ``_SMALL`` otherwise (the 3-channel stem, small groups); float64
#:   always ``_F64`` (no float64 tensor cores on the MMA path: small FMA tiles).
#: * weight gradient: the same three by (C_out/G, C_in/G), its reduction (N H_o W_o) is long.
#: * depthwise / bias reduction (memory-bound): one config, 4 warps.
CUDA_CONFIGS: dict[str, list[dict[str, int]]] = {
    "conv_fwd_kernel": [_BIG, _MID, _SMALL, _F64],
    "conv_dgrad_kernel": [_BIG, _MID, _SMALL, _F64],
    "conv_wgrad_kernel": [
        dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, num_warps=8, num_stages=3),
        dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=64, num_warps=4, num_stages=3),
        dict(BLOCK_M=32, BLOCK_N=32, BLOCK_K=64, num_warps=4, num_stages=3),
        dict(BLOCK_M=32, BLOCK_N=32, BLOCK_K=32, num_warps=4, num_stages=2),
    ],
    "conv_depthwise_kernel": [dict(BLOCK_M=64, BLOCK_C=64, num_warps=4, num_stages=1)],
    "bias_grad_kernel": [dict(BLOCK_M=64, BLOCK_C=64, num_warps=4, num_stages=1)],
}
#: Programs the split-K reductions aim for on a GPU (about 2 waves of an H100's 132 SMs).
CUDA_TARGET_PROGRAMS = 264


def config(kernel: str, interpreted: bool, f64: bool, n: int = 0, k: int = 0) -> dict:
    """The launch config of ``kernel`` (a copy): ``INTERPRETER_CONFIG`` when interpreted, else
    the heuristic of :data:`CUDA_CONFIGS` by the GEMM's column count ``n`` and channel
    reduction ``k`` (float64: the last, small config)."""
    if interpreted:
        return dict(INTERPRETER_CONFIG[kernel])
    options = CUDA_CONFIGS[kernel]
    if len(options) == 1:
        return dict(options[0])
    if f64:
        return dict(options[3])
    if n >= 128 and k >= 64:
        return dict(options[0])
    if n >= 64 and k >= 32:
        return dict(options[1])
    return dict(options[2])


def cuda_config_applies(kernel: str, index: int, dtypes: set[str], constexprs: dict) -> bool:
    """Whether :func:`config` can choose ``CUDA_CONFIGS[kernel][index]`` for a launch with
    float operands ``dtypes`` (Triton's names): float64 takes index 3 of the multi-config
    kernels and nothing else (``tests.gpu_compile`` compiles exactly those)."""
    if len(CUDA_CONFIGS[kernel]) == 1:
        return True
    return (index == 3) == ("fp64" in dtypes)


def splits(rows: int, block: int, tiles: int, interpreted: bool) -> tuple[int, int]:
    """``(splits, rows_per_split)`` of a split-K reduction over ``rows`` (a multiple of
    ``block`` per split): enough programs to fill the device, never an empty split."""
    blocks = triton.cdiv(max(rows, 1), block)
    if interpreted:
        per = max(1, triton.cdiv(INTERPRETER_ROWS_PER_SPLIT, block))
    else:
        want = max(1, triton.cdiv(CUDA_TARGET_PROGRAMS, max(tiles, 1)))
        per = max(1, triton.cdiv(blocks, want))
    n_split = triton.cdiv(blocks, per)
    return n_split, per * block


@triton.jit
def _swizzle(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """Tutorial 03's grouped ordering: ``GROUP_M`` row blocks share each column block in turn,
    so the weight tile and the overlapping input rows stay in L2."""
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    in_group = GROUP_M * num_n
    first_m = (pid // in_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % in_group) % size_m
    pid_n = (pid % in_group) // size_m
    return pid_m, pid_n


@triton.jit
def conv_fwd_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    NB,
    H,
    W,
    C_IN,
    HO,
    WO,
    C_OUT,
    CIG,
    COG,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    KH,
    KW,
    HAS_BIAS: tl.constexpr,
    F64: tl.constexpr,
    PREC: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    """``y[n, oh, ow, g COG + co] = b + sum_{kh, kw, ci} x[n, oh S - P + kh D, ow S - P + kw D,
    g CIG + ci] Wf[g, kh, kw, ci, co]`` for one ``(BLOCK_M, BLOCK_N)`` tile of group ``g``."""
    g = tl.program_id(1)
    M = NB * HO * WO
    pid_m, pid_n = _swizzle(tl.program_id(0), M, COG, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < M
    ow = offs_m % WO
    rest = offs_m // WO
    oh = rest % HO
    n = rest // HO
    h0 = oh * SH - PH
    w0 = ow * SW - PW
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_ok = offs_n < COG
    offs_k = tl.arange(0, BLOCK_K)
    if F64:
        acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    x_group = x_ptr + g * CIG
    w_group = w_ptr + g * KH * KW * CIG * COG
    n_cblk = tl.cdiv(CIG, BLOCK_K)
    for it in range(0, KH * KW * n_cblk):
        tap = it // n_cblk
        c0 = (it - tap * n_cblk) * BLOCK_K
        kh = tap // KW
        kw = tap - kh * KW
        ih = h0 + kh * DH
        iw = w0 + kw * DW
        row_ok = m_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        ck = c0 + offs_k
        ck_ok = ck < CIG
        pix = ((n * H + ih) * W + iw) * C_IN
        a = tl.load(
            x_group + pix[:, None] + ck[None, :],
            mask=row_ok[:, None] & ck_ok[None, :],
            other=0.0,
        )
        b = tl.load(
            w_group + (tap * CIG + ck)[:, None] * COG + offs_n[None, :],
            mask=ck_ok[:, None] & n_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(a, b, acc, input_precision=PREC, out_dtype=acc.dtype)
    if HAS_BIAS:
        bias = tl.load(b_ptr + g * COG + offs_n, mask=n_ok, other=0.0)
        acc += bias.to(acc.dtype)[None, :]
    y = y_ptr + offs_m[:, None] * C_OUT + g * COG + offs_n[None, :]
    tl.store(y, acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def conv_depthwise_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    NB,
    H,
    W,
    C_IN,
    HO,
    WO,
    C_OUT,
    MULT,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    KH,
    KW,
    HAS_BIAS: tl.constexpr,
    F64: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """Direct convolution for one input channel per group (``C_in/G = 1``: depthwise, with
    ``MULT = C_out/G`` outputs per input channel): ``y[n, oh, ow, c] = b[c] + sum_{kh, kw}
    x[n, ih, iw, c // MULT] Wk[kh, kw, c]`` — ``K_H K_W`` multiply-adds per output, too few
    for a ``tl.dot`` tile; memory-bound, so elementwise FMAs on a ``(BLOCK_M, BLOCK_C)`` tile
    of (pixels, channels), channels contiguous."""
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    m_ok = offs_m < NB * HO * WO
    c_ok = offs_c < C_OUT
    ow = offs_m % WO
    rest = offs_m // WO
    oh = rest % HO
    n = rest // HO
    ci = offs_c // MULT
    if F64:
        acc = tl.zeros([BLOCK_M, BLOCK_C], tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_C], tl.float32)
    for kh in range(0, KH):
        ih = oh * SH - PH + kh * DH
        h_ok = m_ok & (ih >= 0) & (ih < H)
        for kw in range(0, KW):
            iw = ow * SW - PW + kw * DW
            ok = h_ok & (iw >= 0) & (iw < W)
            pix = ((n * H + ih) * W + iw) * C_IN
            xv = tl.load(x_ptr + pix[:, None] + ci[None, :], mask=ok[:, None] & c_ok[None, :])
            wv = tl.load(w_ptr + (kh * KW + kw) * C_OUT + offs_c, mask=c_ok, other=0.0)
            xv = tl.where(ok[:, None] & c_ok[None, :], xv.to(acc.dtype), 0.0)
            acc += xv * wv.to(acc.dtype)[None, :]
    if HAS_BIAS:
        acc += tl.load(b_ptr + offs_c, mask=c_ok, other=0.0).to(acc.dtype)[None, :]
    y = y_ptr + offs_m[:, None] * C_OUT + offs_c[None, :]
    tl.store(y, acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & c_ok[None, :])


# Input gradient (and the transposed convolution's forward).
#
# The forward is linear in x: y = A_w x_p, a gather (kernels.cpu.conv module docstring: y[n, o,
# i] = sum_{c, k} w[o, c, k] x_p[n, c, iS + kD]). Hence dL/dx_p = A_w^T dL/dy, the scatter-add
# dL/dx_p[n, c, iS + kD] += sum_o G[n, o, i] w[o, c, k] (kernels.cpu.conv._scatter), cropped
# by the padding. Written as a *gather* per input position t = h (per axis): the outputs that
# read t through tap k are those with oS - P + kD = t, i.e. o = (t + P - kD) / S when that is
# an integer in [0, H_o). So, per group g, with Wd[g, kh, kw, co, ci] = w[g COG + co, ci, kh, kw]:
#
#   dx[n, h, w, g CIG + ci] = sum_{kh, kw} sum_{co} G[n, oh, ow, g COG + co] Wd[g, kh, kw, co, ci]
#        over the taps with oh = (h + P_h - kh D_h)/S_h, ow = (w + P_w - kw D_w)/S_w integral
#        and in range,
#
# an implicit GEMM with rows (n, h, w), columns ci, reduction (kh, kw, co). Stride > 1 uses the
# *sub-pixel decomposition* (as in Shi et al. 2016's sub-pixel convolution / the "zero-free"
# transposed convolution): an input row h is reached only through the taps with
# kh D ≡ h + P (mod S), the same taps for every h of one residue class r = (h + P) mod S, so the
# host launches one GEMM per class (S_h S_w launches; subpixel_classes), each over the rows of
# its class and the taps kh = kh0 + t S/gcd(S, D) that reach them: no MAC on a zero, unlike the
# divisibility mask (which would compute S_h S_w times the work). A class with no tap stores
# zeros (+ bias). The transposed convolution is by torch's definition this map
# (ConvTranspose2d docs: "the gradient of Conv2d with respect to its input"; Dumoulin & Visin
# 2016, section 4; kernels.cpu.conv._conv_t computes crop_P(A_w^T x) the same way), so
# conv_transpose2d launches this kernel with its input as G, output size = the cropped output
# and H_o = the transposed conv's input size, plus a fused bias. The theory modules have no
# symbolic adjoint derivation of the strided/padded transposed convolution (theory.conv gives
# only its output size, conv_transpose_output_size, and MACs, conv_transpose_macs; theory.
# conv_matrix builds the Toeplitz matrix of the stride-1 1-D case, toeplitz_matrix, whose
# transpose is the "full" convolution — claim d000.conv.cross-correlation); the adjoint
# identity <A x, y> = <x, A^T y> is checked numerically by tests/test_gpu_conv.py.
@triton.jit
def conv_dgrad_kernel(
    g_ptr,
    w_ptr,
    b_ptr,
    dx_ptr,
    NB,
    H,
    W,
    C_IN,
    HO,
    WO,
    C_OUT,
    CIG,
    COG,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    KH,
    KW,
    H0,
    W0,
    HC,
    WC,
    KH0,
    KW0,
    KHS,
    KWS,
    NKH,
    NKW,
    HAS_BIAS: tl.constexpr,
    F64: tl.constexpr,
    PREC: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    """One sub-pixel class: the rows ``h = H0 + j SH`` (``j < HC``), ``w = W0 + j' SW``
    (``j' < WC``) and the taps ``kh = KH0 + t KHS`` (``t < NKH``), ``kw = KW0 + t' KWS`` that
    reach them (see the comment above)."""
    gid = tl.program_id(1)
    M = NB * HC * WC
    pid_m, pid_n = _swizzle(tl.program_id(0), M, CIG, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < M
    jw = offs_m % WC
    rest = offs_m // WC
    jh = rest % HC
    n = rest // HC
    ih = H0 + jh * SH
    iw = W0 + jw * SW
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_ok = offs_n < CIG
    offs_k = tl.arange(0, BLOCK_K)
    if F64:
        acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    g_group = g_ptr + gid * COG
    w_group = w_ptr + gid * KH * KW * COG * CIG
    n_cblk = tl.cdiv(COG, BLOCK_K)
    for it in range(0, NKH * NKW * n_cblk):
        t = it // n_cblk
        c0 = (it - t * n_cblk) * BLOCK_K
        th_i = t // NKW
        kh = KH0 + th_i * KHS
        kw = KW0 + (t - th_i * NKW) * KWS
        # h + P - kh D is a multiple of S by the class's construction: the division is exact
        # (and C-style truncation agrees with floor for the negative ones, masked anyway)
        th = ih + PH - kh * DH
        tw = iw + PW - kw * DW
        oh = th // SH
        ow = tw // SW
        row_ok = m_ok & (th >= 0) & (oh < HO) & (tw >= 0) & (ow < WO)
        ck = c0 + offs_k
        ck_ok = ck < COG
        pix = ((n * HO + oh) * WO + ow) * C_OUT
        a = tl.load(
            g_group + pix[:, None] + ck[None, :],
            mask=row_ok[:, None] & ck_ok[None, :],
            other=0.0,
        )
        tap = kh * KW + kw
        b = tl.load(
            w_group + (tap * COG + ck)[:, None] * CIG + offs_n[None, :],
            mask=ck_ok[:, None] & n_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(a, b, acc, input_precision=PREC, out_dtype=acc.dtype)
    if HAS_BIAS:
        bias = tl.load(b_ptr + gid * CIG + offs_n, mask=n_ok, other=0.0)
        acc += bias.to(acc.dtype)[None, :]
    row = (n * H + ih) * W + iw
    dx = dx_ptr + row[:, None] * C_IN + gid * CIG + offs_n[None, :]
    tl.store(dx, acc.to(dx_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


def subpixel_classes(size: int, stride: int, pad: int, dilation: int, kernel: int):
    """Per axis, the sub-pixel classes of the input-gradient kernel: for each residue
    ``r = (h + P) mod S``, ``(h0, count, k0, k_step, k_count)`` — the positions
    ``h = h0 + j S`` (``j < count``) and the taps ``k = k0 + t k_step`` (``t < k_count``) with
    ``k D ≡ r (mod S)``, the only ones whose ``(h + P - k D)/S`` is an integer."""
    out = []
    for r in range(stride):
        h0 = (r - pad) % stride
        count = max(0, -(-(size - h0) // stride))
        if count == 0:
            continue
        k0 = next((k for k in range(min(kernel, stride)) if (k * dilation) % stride == r), None)
        step = stride // math.gcd(stride, dilation)
        k_count = 0 if k0 is None else -(-(kernel - k0) // step)
        out.append((h0, count, 0 if k0 is None else k0, step, k_count))
    return out


# Weight gradient.
#
# y is linear in w too: y[n, o, i] = sum_{c, k} w[o, c, k] V[n, c, i, k] with the window view
# V[n, c, i, k] = x_p[n, c, iS + kD] (kernels.cpu.conv._windows), so
#   dL/dw[o, c, k] = sum_{n, i} G[n, o, i] V[n, c, i, k]       (kernels.cpu.conv._weight_grad)
# per group: for each tap k a GEMM  dW_k = G^T X_k  with rows the group's output channels,
# columns its input channels, and reduction over the M = N H_o W_o output positions (X_k the
# input pixels that tap k reads, gathered on the fly with the padding masked). M is long and
# the output small, so the reduction is split over the grid's third axis (split-K); each split
# writes its partial sum to its own slot and the host adds the slots (torch.sum over a fixed
# axis), so no atomics and bit-equal reruns. For the transposed convolution's weight gradient
# the roles swap (kernels.cpu.conv._conv_t_backward: dw[c, o, k] = sum x[n, c, i] pad_P(G)[n, o,
# iS + kD]): G <- the transposed conv's input, X <- its output gradient. theory: the bilinear
# form is the CPU kernel's derivation (module docstring of kernels.cpu.conv); theory.conv's
# conv_macs counts the same N C_out (C_in/G) K_H K_W H_o W_o products.
@triton.jit
def conv_wgrad_kernel(
    g_ptr,
    x_ptr,
    part_ptr,
    NB,
    H,
    W,
    C_IN,
    HO,
    WO,
    C_OUT,
    CIG,
    COG,
    SH,
    SW,
    PH,
    PW,
    DH,
    DW,
    KH,
    KW,
    ROWS_PER_SPLIT,
    F64: tl.constexpr,
    PREC: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    pid = tl.program_id(0)
    gid = tl.program_id(1)
    split = tl.program_id(2)
    num_m = tl.cdiv(COG, BLOCK_M)
    num_n = tl.cdiv(CIG, BLOCK_N)
    tap = pid // (num_m * num_n)
    rest = pid - tap * num_m * num_n
    pid_m = rest // num_n
    pid_n = rest - pid_m * num_n
    kh = tap // KW
    kw = tap - kh * KW
    offs_co = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_ci = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    co_ok = offs_co < COG
    ci_ok = offs_ci < CIG
    if F64:
        acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    M = NB * HO * WO
    start = split * ROWS_PER_SPLIT
    stop = tl.minimum(start + ROWS_PER_SPLIT, M)
    for m0 in range(start, stop, BLOCK_K):
        offs_r = m0 + tl.arange(0, BLOCK_K)
        r_ok = offs_r < stop
        ow = offs_r % WO
        rr = offs_r // WO
        oh = rr % HO
        n = rr // HO
        ih = oh * SH - PH + kh * DH
        iw = ow * SW - PW + kw * DW
        x_ok = r_ok & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        a = tl.load(
            g_ptr + offs_r[None, :] * C_OUT + gid * COG + offs_co[:, None],
            mask=co_ok[:, None] & r_ok[None, :],
            other=0.0,
        )
        pix = ((n * H + ih) * W + iw) * C_IN + gid * CIG
        b = tl.load(
            x_ptr + pix[:, None] + offs_ci[None, :],
            mask=x_ok[:, None] & ci_ok[None, :],
            other=0.0,
        )
        acc = tl.dot(a, b, acc, input_precision=PREC, out_dtype=acc.dtype)
    G = tl.num_programs(1)
    slot = (((split * G + gid) * KH * KW + tap) * COG + offs_co)[:, None] * CIG + offs_ci[None, :]
    tl.store(part_ptr + slot, acc, mask=co_ok[:, None] & ci_ok[None, :])


# Bias gradient: y = ... + b[o] broadcast over (n, i), so dL/db[o] = sum_{n, i} G[n, o, i]
# (kernels.cpu.conv._conv_backward's gy.sum). Deterministic two-stage column sum of the (M, C)
# channels-last G: program (channel block, split) sums its rows into its own partial slot in
# a fixed order; the host adds the slots.
@triton.jit
def bias_grad_kernel(
    g_ptr,
    part_ptr,
    M,
    C,
    ROWS_PER_SPLIT,
    F64: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    offs_c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    split = tl.program_id(1)
    c_ok = offs_c < C
    if F64:
        acc = tl.zeros([BLOCK_M, BLOCK_C], tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_C], tl.float32)
    start = split * ROWS_PER_SPLIT
    stop = tl.minimum(start + ROWS_PER_SPLIT, M)
    for m0 in range(start, stop, BLOCK_M):
        offs_m = m0 + tl.arange(0, BLOCK_M)
        ok = (offs_m < stop)[:, None] & c_ok[None, :]
        v = tl.load(g_ptr + offs_m[:, None] * C + offs_c[None, :], mask=ok, other=0.0)
        acc += v.to(acc.dtype)
    tl.store(part_ptr + split * C + offs_c, tl.sum(acc, axis=0), mask=c_ok)
