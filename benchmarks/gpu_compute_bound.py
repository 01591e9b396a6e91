r"""GPU benchmark of the compute-bound Triton kernels (:mod:`kernels.gpu`) against torch.

For a compute-bound kernel the floor is its multiply-accumulates over the device's matrix
throughput. The run measures that throughput first — the **GEMM peak**: torch's own
``torch.matmul`` on 8192×8192×8192 at each dtype (cuBLAS; float32 with TF32 on) — then for
each kernel, shape and dtype (bfloat16, float16, float32):

* the median time of ours and of torch's kernel (``triton.testing.do_bench``);
* TFLOP/s = the theory's FLOP count / our time, the same for torch, our TFLOP/s as a fraction
  of the measured GEMM peak, and the ratio torch's time / ours (> 1: ours is faster).

**FLOP convention** (:data:`FLOPS`): FLOPs = 2 × MACs, MACs from the theory's own functions
(:func:`theory.linear.linear_macs`, :func:`theory.linear.lowrank_macs`,
:func:`theory.linear.block_sparse_macs`, :func:`theory.conv.conv_macs`,
:func:`theory.conv.depthwise_separable_macs`; attention: the two products :math:`QK^\top` and
:math:`PV`). Causal attention counts only the scores the causal mask keeps — :math:`L(L+1)/2`
of :math:`L^2` with torch's top-left alignment at :math:`L = S` — so it is *not* the dense
count (which would inflate TFLOP/s ×2). A backward counts its products: linear and
convolution 2 × the forward (input and weight gradients); attention 2.5 × the forward (five
products of the forward's size, the FlashAttention-2 count, the recomputation of :math:`S` in
the backward included). Bias additions, softmax exponentials and normalizations are not
counted.

**Precision**: float32 rows run with TF32 on for both sides
(``torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True``; our
kernels follow the same switches through :func:`kernels.gpu._backend.dot_precision`), and the
GEMM peak for float32 is measured the same way — except attention, whose float32 rows run in
full float32 on both sides (torch's float32 fused attention, the memory-efficient backend,
does not use TF32). bf16/fp16 accumulate in float32 on both sides.

**What is timed**: our public functions as a user calls them, argument checks included (the
fused attention also checks its inputs and output for finite values: one fused reduction and
one host synchronization per call, a few percent at L = 4096), against torch's kernels (torch's
fused LSTM/GRU gate backwards without the bias sums, which our gate kernels leave to the
caller). A case whose check fails is reported, not timed, and the run goes on (exit status 1).

**Cost scaling** (issue 16 §3): two series check that time follows the theory's MAC count,
fitted rather than asserted: the block-sparse layer over a density sweep (time against stored
MACs: slope, intercept, :math:`R^2`, and each point's time ratio to the densest against its MAC
ratio), and the depthwise separable convolution against the dense one over :math:`C_{out}`
(measured time ratio against :func:`theory.conv.separable_cost_ratio`
:math:`1/C_{out} + 1/K^2`).

Every output is checked before it is timed (:func:`numerics.tolerances.assert_gpu_close` on a
float64 reference — on a slice where the full float64 reference would not fit), so a wrong
answer is never timed.

Aims (issue 16, on an H100): dense linear ≥ 90% of torch's GEMM at large square sizes;
attention forward ≥ 400 TFLOP/s at bf16, head dimension 128, long sequences (and ≥ 1.0× torch's
SDPA flash backend); implicit-GEMM convolution ≥ 70% of cuDNN at the ResNet-50 shapes of
``benchmarks/conv2d_cpu.py``.

Run ``bash scripts/bench.sh --gpu-compute`` on a CUDA machine (``--gpu`` runs this and the
memory-bound benchmark); it writes ``benchmarks/results/gpu_compute_bound.{md,json}`` with the
device name and versions (shown on the docs site). ``--smoke`` runs every case once at tiny
sizes in Triton's interpreter on the CPU: it checks the script, the counts and the fits,
measures nothing, and writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.gpu_timing import Inputs, invocation, median_ms

RESULTS = Path(__file__).parent / "results"
DTYPES = ("bfloat16", "float16", "float32")
FAMILIES = ("linear", "conv", "attention", "recurrent")


@dataclass(frozen=True)
class Case:
    """One timed comparison: our kernel and torch's on the same inputs."""

    family: str
    op: str
    direction: str  # "forward" or "backward"
    size: str
    dtype: str
    flops: int  # by the theory's count (2 x MACs), see FLOPS
    ours: Callable[[], object]
    theirs: Callable[[], object] | None  # None: torch has no such kernel
    check: Callable[[], None]  # raises AssertionError when ours is wrong
    series: str | None = None  # a cost-scaling series this case belongs to
    macs: int = 0
    bytes: int = 0  # for the memory-bound gate kernels: bytes that must move (formula)


@dataclass
class Row:
    family: str
    op: str
    direction: str
    size: str
    dtype: str
    flops: int
    ours_ms: float
    torch_ms: float | None
    tflops: float
    torch_tflops: float | None
    fraction_of_peak: float
    ratio_to_torch: float | None  # torch time / our time: > 1 means ours is faster
    series: str | None = None
    macs: int = 0
    gbps: float | None = None  # the gate kernels: bytes by formula / our time


@dataclass
class Fit:
    """A least-squares line time = intercept + slope · MACs over one series."""

    series: str
    dtype: str
    points: list[tuple[str, int, float]] = field(default_factory=list)  # (size, MACs, ms)
    ms_per_gmac: float = 0.0  # the marginal time of 10^9 MACs
    intercept_ms: float = 0.0
    r2: float = 0.0
    note: str = ""


#: How each kernel's FLOPs are counted (the theory functions named; FLOPs = 2 x MACs).
FLOPS = {
    "linear forward": "2·linear_macs(n, m, B) = 2Bmn",
    "linear backward": "2·linear_backward_macs = 4Bmn (input and weight gradients)",
    "lowrank_linear forward": "2·lowrank_macs(n, m, r, B) = 2Br(m + n)",
    "block_sparse_linear forward": "2·block_sparse_macs = 2B·Σ stored m_i n_j",
    "conv2d forward": "2·conv_macs = 2B·C_out·(C_in/G)·K_H·K_W·H_out·W_out",
    "conv2d backward": "2 × the forward (input and weight gradients)",
    "separable_conv2d forward": "2·depthwise_separable_macs = 2B(C_in K² + C_in C_out)H_out W_out",
    "attention forward": "2·B·(attention_cost scores + weighted_sum)·kept/(L·S) = "
    "4·B·H·D·kept: kept = L·S, or L(L+1)/2 causal at L = S",
    "attention backward": "2.5 × the forward (five products; S recomputed)",
    "lstm_cell forward": "2·N·recurrent_cost('lstm', 1, I, H) macs = 2·N·4H·(I + H) (the two "
    "GEMMs; the gate math not counted)",
    "gru_cell forward": "2·N·recurrent_cost('gru', 1, I, H) macs = 2·N·3H·(I + H)",
    "lstm_gates forward": "none counted: memory-bound, 15NHe bytes (GB/s column)",
    "lstm_gates backward": "none counted: memory-bound, 13NHe bytes (GB/s column)",
    "gru_gates forward": "none counted: memory-bound, 12NHe bytes (GB/s column)",
    "gru_gates backward": "none counted: memory-bound, 13NHe bytes (GB/s column)",
}

#: ResNet-50's convolution shapes, as in the CPU benchmark (benchmarks/conv2d_cpu.py).
RESNET50 = (
    # (label, C_in, C_out, H=W, kernel, stride, padding)
    ("conv1 7x7/2, 3->64 @224", 3, 64, 224, 7, 2, 3),
    ("3x3, 64->64 @56", 64, 64, 56, 3, 1, 1),
    ("1x1, 64->256 @56", 64, 256, 56, 1, 1, 0),
    ("3x3/2, 128->128 @56", 128, 128, 56, 3, 2, 1),
    ("3x3, 256->256 @14", 256, 256, 14, 3, 1, 1),
    ("1x1, 1024->256 @14", 1024, 256, 14, 1, 1, 0),
    ("3x3, 512->512 @7", 512, 512, 7, 3, 1, 1),
)


# --------------------------------------------------------------------------- building cases


class _Builder(Inputs):
    """The compute-bound cases at one dtype."""

    def __init__(self, torch, dtype_name: str, smoke: bool) -> None:
        super().__init__(torch, dtype_name, smoke)
        self.cases: list[Case] = []

    def add(self, family, op, direction, size, flops, ours, theirs, reference, **extra):
        """A case checked by the GPU rule before it is timed: ``reference()`` is the float64
        value of what ``pick`` (a keyword, default: all) selects from the first output of
        ours and of torch's (a slice where the full float64 reference would not fit)."""
        pick = extra.pop("pick", lambda v: v)

        def check() -> None:
            from numerics.tolerances import assert_gpu_close

            assert_gpu_close(pick(_first(ours())), reference(), pick(_first(theirs())))

        case = Case(family, op, direction, size, self.dtype_name, int(flops), ours, theirs, check)
        self.cases.append(dataclasses.replace(case, **extra))


def _first(v):
    return v[0] if isinstance(v, tuple | list) else v


def _linear(b: _Builder) -> None:
    import torch.nn.functional as F

    from kernels.gpu import linear
    from theory.linear import block_sparse_macs, linear_macs, lowrank_macs

    torch = b.torch
    for s in [48] if b.smoke else [2048, 4096, 8192]:
        x, w, bias, dy = b.randn(s, s), b.randn(s, s, scale=s**-0.5), b.randn(s), b.randn(s, s)
        macs, label = linear_macs(s, s, s), f"{s}x{s}x{s}"
        b.add(
            "linear",
            "linear",
            "forward",
            label,
            2 * macs,
            lambda x=x, w=w, c=bias: linear.linear(x, w, c),
            lambda x=x, w=w, c=bias: F.linear(x, w, c),
            b.ref64(F.linear, x, w, bias),
        )
        b.add(
            "linear",
            "linear",
            "backward",
            label,
            4 * macs,
            lambda x=x, w=w, c=bias, dy=dy: linear.linear_backward(dy, x, w, c),
            b.grad(F.linear, dy, x, w, bias),
            b.grad64(F.linear, dy, x, w, bias),
        )
    # low rank: y = U(Vx), the cheap order, against torch's two F.linear calls
    rows, n, r = (40, 48, 16) if b.smoke else (8192, 8192, 512)
    x, u, v = b.randn(rows, n), b.randn(n, r, scale=r**-0.5), b.randn(r, n, scale=n**-0.5)

    def low(x_, u_, v_):
        return F.linear(F.linear(x_, v_), u_)

    b.add(
        "linear",
        "lowrank_linear",
        "forward",
        f"B={rows} n=m={n} r={r}",
        2 * lowrank_macs(n, n, r, rows),
        lambda x=x, u=u, v=v: linear.lowrank_linear(x, u, v),
        lambda x=x, u=u, v=v: low(x, u, v),
        b.ref64(low, x, u, v),
    )
    # block sparse: a density sweep on a grid of equal blocks (the cost-scaling series);
    # torch's side is the dense product of the same matrix (torch has no block-sparse GEMM
    # in the same API), so "x torch" is the saving over dense
    rows, n, blk = (40, 64, 16) if b.smoke else (8192, 8192, 128)
    grid, x = n // blk, b.randn(rows, n)
    sizes = [blk] * grid
    for keep in (1, 4) if b.smoke else (1, 2, 4, 8):
        # every keep-th block of each block row, shifted per row: keep-fold fewer MACs
        mask = [[(j - i) % keep == 0 for j in range(grid)] for i in range(grid)]
        blocks = {
            (i, j): b.randn(blk, blk, scale=n**-0.5)
            for i in range(grid)
            for j in range(grid)
            if mask[i][j]
        }
        packed = linear.BlockSparseWeight(blocks, sizes, sizes)
        dense = torch.zeros(n, n, device=b.dev, dtype=b.dtype)
        for (i, j), block in blocks.items():
            dense[i * blk : (i + 1) * blk, j * blk : (j + 1) * blk] = block
        macs = block_sparse_macs(sizes, sizes, mask, rows)
        b.add(
            "linear",
            "block_sparse_linear",
            "forward",
            f"B={rows} n=m={n} blocks {blk}, 1/{keep} stored",
            2 * macs,
            lambda x=x, p=packed: linear.block_sparse_linear(x, p, sizes, sizes),
            lambda x=x, d=dense: F.linear(x, d),
            b.ref64(F.linear, x, dense),
            series="block-sparse density",
            macs=macs,
        )


def _first_image(v):
    """The first image of a batch: the float64 references run on it alone."""
    return v[:1]


def _conv(b: _Builder) -> None:
    import torch.nn.functional as F

    from kernels.gpu import conv
    from theory.conv import conv_macs, depthwise_separable_macs

    cl = b.torch.channels_last
    batch = 2 if b.smoke else 32
    tiny = [("3x3, 6->5 @9", 6, 5, 9, 3, 1, 1), ("1x1/2, 4->8 @7", 4, 8, 7, 1, 2, 0)]
    for label, cin, cout, hw, k, s, p in tiny if b.smoke else RESNET50:
        x = b.randn(batch, cin, hw, hw).contiguous(memory_format=cl)
        w = b.randn(cout, cin, k, k, scale=(cin * k * k) ** -0.5).contiguous(memory_format=cl)
        out = (hw + 2 * p - k) // s + 1
        dy = b.randn(batch, cout, out, out).contiguous(memory_format=cl)
        macs = conv_macs(cin, cout, k, out, batch=batch)

        def cv(x_, w_, s=s, p=p):
            return F.conv2d(x_, w_, None, s, p)

        b.add(
            "conv",
            "conv2d",
            "forward",
            label,
            2 * macs,
            lambda x=x, w=w, s=s, p=p: conv.conv2d(x, w, None, s, p),
            lambda x=x, w=w, f=cv: f(x, w),
            lambda x=x, w=w, f=cv: f(x[:1].double(), w.double()).cpu().numpy(),
            pick=_first_image,
        )
        b.add(
            "conv",
            "conv2d",
            "backward",
            label,
            4 * macs,
            lambda x=x, w=w, s=s, p=p, dy=dy: conv.conv2d_backward(dy, x, w, None, s, p),
            b.grad(cv, dy, x, w),
            b.grad64(cv, dy[:1], x[:1], w),
            pick=_first_image,
        )
    # separable vs dense 3x3 at one resolution, C_out swept: the cost-scaling series
    cin, hw = (4, 9) if b.smoke else (256, 56)
    x = b.randn(batch, cin, hw, hw).contiguous(memory_format=cl)
    wd = b.randn(cin, 1, 3, 3, scale=1 / 3).contiguous(memory_format=cl)
    for cout in (8,) if b.smoke else (64, 128, 256, 512):
        wp = b.randn(cout, cin, 1, 1, scale=cin**-0.5).contiguous(memory_format=cl)
        w = b.randn(cout, cin, 3, 3, scale=(9 * cin) ** -0.5).contiguous(memory_format=cl)

        def sep(x_, wd_, wp_, cin=cin):
            return F.conv2d(F.conv2d(x_, wd_, None, 1, 1, 1, cin), wp_)

        def ours_sep(x=x, wd=wd, wp=wp, cin=cin):
            return conv.conv2d(conv.conv2d(x, wd, None, 1, 1, 1, cin), wp)

        def dense(x_, w_):
            return F.conv2d(x_, w_, None, 1, 1)

        label = f"3x3, {cin}->{cout} @{hw}"
        macs = depthwise_separable_macs(cin, cout, 3, hw, batch=batch)
        b.add(
            "conv",
            "separable_conv2d",
            "forward",
            label,
            2 * macs,
            ours_sep,
            lambda x=x, wd=wd, wp=wp, f=sep: f(x, wd, wp),
            lambda x=x, wd=wd, wp=wp, f=sep: (
                f(x[:1].double(), wd.double(), wp.double()).cpu().numpy()
            ),
            pick=_first_image,
            series="separable vs dense",
            macs=macs,
        )
        macs = conv_macs(cin, cout, 3, hw, batch=batch)
        b.add(
            "conv",
            "conv2d",
            "forward",
            label,
            2 * macs,
            lambda x=x, w=w: conv.conv2d(x, w, None, 1, 1),
            lambda x=x, w=w: dense(x, w),
            lambda x=x, w=w: dense(x[:1].double(), w.double()).cpu().numpy(),
            pick=_first_image,
            series="separable vs dense",
            macs=macs,
        )


def _sdpa_backend(torch, dtype):
    """torch's fastest fused attention for the dtype: the flash backend for fp16/bf16 (the
    issue's comparison), memory-efficient for float32 (flash takes no float32)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if dtype == torch.float32:
        return sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION)
    return sdpa_kernel(SDPBackend.FLASH_ATTENTION)


def _first_head(v):
    """Batch 0, head 0: the float64 references run on it alone (its L x S scores fit)."""
    return v[:1, :1]


def _attention(b: _Builder) -> None:
    import torch.nn.functional as F

    from kernels.gpu import attention
    from theory.attention import attention_cost

    torch = b.torch
    settings = [(1, 2, 40, 16)]
    if not b.smoke:
        settings = [(16, 16, 1024, 64), (4, 16, 4096, 64), (16, 16, 1024, 128)]
        settings += [(4, 16, 4096, 128), (1, 16, 16384, 128)]
    for batch, heads, n, d in settings:
        q, k, v, dy = (b.randn(batch, heads, n, d) for _ in range(4))
        for causal in (False, True):
            # theory.attention.attention_cost: QK^T and PV over all L x S scores; causal
            # (torch's top-left mask at L = S) keeps L(L+1)/2 of them
            cost = attention_cost(n, heads * d, heads)
            kept = n * (n + 1) // 2 if causal else n * n
            flops = 2 * batch * (cost["scores"] + cost["weighted_sum"]) * kept // (n * n)
            label = f"B={batch} H={heads} L=S={n} D={d}" + (" causal" if causal else "")

            def sdpa(q_, k_, v_, causal=causal):
                if b.smoke or q_.dtype == torch.float64:
                    return F.scaled_dot_product_attention(q_, k_, v_, is_causal=causal)
                with _sdpa_backend(torch, q_.dtype):
                    return F.scaled_dot_product_attention(q_, k_, v_, is_causal=causal)

            saved = attention.flash_attention_forward(q, k, v, is_causal=causal)

            def backward(q=q, k=k, v=v, dy=dy, causal=causal, saved=saved):
                return attention.flash_attention_backward(dy, q, k, v, *saved, is_causal=causal)

            b.add(
                "attention",
                "attention",
                "forward",
                label,
                flops,
                lambda q=q, k=k, v=v, c=causal: attention.scaled_dot_product_attention(
                    q, k, v, is_causal=c
                ),
                lambda q=q, k=k, v=v, f=sdpa: f(q, k, v),
                b.ref64(sdpa, q, k, v, pick=_first_head),
                pick=_first_head,
            )
            b.add(
                "attention",
                "attention",
                "backward",
                label,
                flops * 5 // 2,
                backward,
                b.grad(sdpa, dy, q, k, v),
                b.grad64(sdpa, *(_first_head(t) for t in (dy, q, k, v))),
                pick=_first_head,
            )


def _lstm_math(ig, hg, cx, bi, bh):
    """The LSTM gate math in torch ops (the references): ``(hy, cy)``."""
    i, f, g, o = (ig + hg + bi + bh).chunk(4, 1)
    cy = f.sigmoid() * cx + i.sigmoid() * g.tanh()
    return o.sigmoid() * cy.tanh(), cy


def _gru_math(ig, hg, hx, bi, bh):
    """torch's GRU (reset after) gate math in torch ops: ``hy``."""
    (ir, iz, in_), (hr, hz, hn) = (ig + bi).chunk(3, 1), (hg + bh).chunk(3, 1)
    r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
    n = (in_ + r * hn).tanh()
    return (1 - z) * n + z * hx


def _recurrent(b: _Builder) -> None:
    """The fused gate kernels against torch's own fused cells (``_thnn_fused_lstm_cell``,
    ``_thnn_fused_gru_cell``: CUDA only, so the smoke run compares with the same math in torch
    ops), and whole cells (torch's GEMMs + our gate kernel) against ``torch.lstm_cell`` /
    ``torch.gru_cell``."""
    from kernels.gpu import recurrent
    from theory.arch import GATES, recurrent_cost

    torch = b.torch
    fused = not b.smoke
    n, h, i = (5, 33, 9) if b.smoke else (8192, 1024, 1024)
    e = torch.finfo(b.dtype).bits // 8
    label = f"N={n} H={h}"
    ig, hg, bi, bh = b.randn(n, 4 * h), b.randn(n, 4 * h), b.randn(4 * h), b.randn(4 * h)
    cx, ghy, gcy = b.randn(n, h), b.randn(n, h), b.randn(n, h)
    _, cy, ws = recurrent.lstm_gates(ig, hg, cx, bi, bh)
    # torch's own forward state for its backward (cy and the workspace: the same layout)
    saved = torch.ops.aten._thnn_fused_lstm_cell(ig, hg, cx, bi, bh)[1:] if fused else None

    def lstm_back64():
        leaves = [t.double().requires_grad_(True) for t in (ig, hg, cx, bi, bh)]
        hy_, cy_ = _lstm_math(*leaves)
        (g,) = torch.autograd.grad((hy_, cy_), leaves[:1], (ghy.double(), gcy.double()))
        return g.cpu().numpy()

    def lstm_back_theirs():
        if fused:
            # has_bias=False: no bias-gradient sums, which our gate kernel leaves to the caller
            return torch.ops.aten._thnn_fused_lstm_cell_backward_impl(ghy, gcy, cx, *saved, False)
        leaves = [t.detach().requires_grad_(True) for t in (ig, hg, cx, bi, bh)]
        return torch.autograd.grad(_lstm_math(*leaves), leaves[:1], (ghy, gcy))

    b.add(
        "recurrent",
        "lstm_gates",
        "forward",
        label,
        0,
        lambda: recurrent.lstm_gates(ig, hg, cx, bi, bh),
        (lambda: torch.ops.aten._thnn_fused_lstm_cell(ig, hg, cx, bi, bh))
        if fused
        else (lambda: _lstm_math(ig, hg, cx, bi, bh)),
        b.ref64(lambda *t: _lstm_math(*t)[0], ig, hg, cx, bi, bh),
        bytes=15 * n * h * e,
    )
    b.add(
        "recurrent",
        "lstm_gates",
        "backward",
        label,
        0,
        lambda: recurrent.lstm_gates_backward(ghy, gcy, cx, cy, ws),
        lstm_back_theirs,
        lstm_back64,
        bytes=13 * n * h * e,
    )
    gig, ghg, gbi, gbh = b.randn(n, 3 * h), b.randn(n, 3 * h), b.randn(3 * h), b.randn(3 * h)
    hx = b.randn(n, h)
    _, gws = recurrent.gru_gates(gig, ghg, hx, gbi, gbh)
    gru_saved = torch.ops.aten._thnn_fused_gru_cell(gig, ghg, hx, gbi, gbh)[1] if fused else None

    def gru_back64():
        leaves = [t.double().requires_grad_(True) for t in (gig, ghg, hx, gbi, gbh)]
        (g,) = torch.autograd.grad(_gru_math(*leaves), leaves[:1], ghy.double())
        return g.cpu().numpy()

    def gru_theirs():
        if fused:
            return torch.ops.aten._thnn_fused_gru_cell(gig, ghg, hx, gbi, gbh)
        return _gru_math(gig, ghg, hx, gbi, gbh)

    def gru_back_theirs():
        if fused:
            return torch.ops.aten._thnn_fused_gru_cell_backward(ghy, gru_saved, False)  # as above
        leaves = [t.detach().requires_grad_(True) for t in (gig, ghg, hx, gbi, gbh)]
        return torch.autograd.grad(_gru_math(*leaves), leaves[:1], ghy)

    b.add(
        "recurrent",
        "gru_gates",
        "forward",
        label,
        0,
        lambda: recurrent.gru_gates(gig, ghg, hx, gbi, gbh),
        gru_theirs,
        b.ref64(_gru_math, gig, ghg, hx, gbi, gbh),
        bytes=12 * n * h * e,
    )
    b.add(
        "recurrent",
        "gru_gates",
        "backward",
        label,
        0,
        lambda: recurrent.gru_gates_backward(ghy, hx, gws),
        gru_back_theirs,
        gru_back64,
        bytes=13 * n * h * e,
    )
    # whole cells: torch's GEMMs + our gate kernel, against torch's cells
    x = b.randn(n, i)

    def torch_lstm(x_, hx_, cx_, *weights):
        return torch.lstm_cell(x_, (hx_, cx_), *weights)[0]

    def torch_gru(x_, hx_, *weights):
        return torch.gru_cell(x_, hx_, *weights)

    cells = (
        ("lstm_cell", "lstm", recurrent.lstm_cell, torch_lstm, (hx, cx)),
        ("gru_cell", "gru", recurrent.gru_cell, torch_gru, (hx,)),
    )
    for name, kind, ours, theirs, state in cells:
        gates = GATES[kind]
        wih = b.randn(gates * h, i, scale=i**-0.5)
        whh = b.randn(gates * h, h, scale=h**-0.5)
        args = (x, *state, wih, whh, b.randn(gates * h), b.randn(gates * h))
        b.add(
            "recurrent",
            name,
            "forward",
            f"N={n} I={i} H={h}",
            2 * n * recurrent_cost(kind, 1, i, h)["macs"],  # one step, N rows
            lambda f=ours, a=args: _first(f(*a)),
            lambda f=theirs, a=args: f(*a),
            b.ref64(theirs, *args),
        )


#: Which builder makes which family's cases.
_BUILDERS = {"linear": _linear, "conv": _conv, "attention": _attention, "recurrent": _recurrent}


def _cases(torch, sizes: str, dtype_name: str, families=FAMILIES) -> list[Case]:
    """The comparisons at one dtype; ``sizes`` is "full" (GPU) or "smoke" (interpreter)."""
    b = _Builder(torch, dtype_name, sizes == "smoke")
    for family in families:
        if family in _BUILDERS:
            _BUILDERS[family](b)
    return b.cases


# --------------------------------------------------------------------------- measuring


@contextlib.contextmanager
def _precision(torch, tf32: bool):
    """TF32 on (``tf32``) or off for both sides, restored after. cuDNN's switch is set through
    ``torch._C`` because torch's test utilities (imported by the OpInfo tests in the same
    process) freeze ``torch.backends.cudnn``'s attributes."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch._C._get_cudnn_allow_tf32())
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch._C._set_cudnn_allow_tf32(tf32)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved[0]
        torch._C._set_cudnn_allow_tf32(saved[1])


def _tf32(dtype: str, family: str) -> bool:
    """float32 runs with TF32 on both sides, except attention: torch's float32 fused attention
    (the memory-efficient backend) computes in full float32, so ours does too there."""
    return dtype == "float32" and family != "attention"


def gemm_peak(torch, dtype_name: str, smoke: bool) -> float:
    """torch's matmul throughput in TFLOP/s at 8192³ (the device's measured GEMM peak)."""
    from kernels.gpu._backend import device

    n = 64 if smoke else 8192
    dtype = getattr(torch, dtype_name)
    a = torch.randn(n, n, device=device()).to(dtype)
    c = torch.randn(n, n, device=device()).to(dtype)
    ms = median_ms(lambda: torch.matmul(a, c), smoke)
    return 2 * n**3 / (ms * 1e-3) / 1e12


def fit(series: str, dtype: str, rows: list[Row]) -> Fit:
    """Least squares time = intercept + slope·MACs over the series' rows (and R²)."""
    pts = [(r.size, r.macs, r.ours_ms) for r in rows if r.series == series and r.dtype == dtype]
    f = Fit(series, dtype, pts)
    if len(pts) < 2:
        f.note = "fewer than two points"
        return f
    xs = [p[1] for p in pts]
    ys = [p[2] for p in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        f.note = "all points have the same MAC count"
        return f
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    f.ms_per_gmac = slope * 1e9
    f.intercept_ms = intercept
    f.r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return f


def run(sizes: str, dtypes=DTYPES, families=FAMILIES, after_dtype=None):
    """Measure; returns ``(peaks, rows, failed)``, ``failed`` naming each case whose check
    failed (it is not timed; the run goes on). ``after_dtype(peaks, rows, failed)`` is called
    after each dtype (partial results are written as they come, so a run stopped by a time
    limit keeps what it measured)."""
    import torch

    smoke = sizes == "smoke"
    peaks: dict[str, float] = {}
    rows: list[Row] = []
    failed: list[str] = []
    for dtype in dtypes:
        with _precision(torch, dtype == "float32"):
            peaks[dtype] = gemm_peak(torch, dtype, smoke)
        for case in _cases(torch, sizes, dtype, families):
            with _precision(torch, _tf32(dtype, case.family)):
                try:
                    case.check()  # never time a wrong answer
                except AssertionError as err:
                    reason = str(err).strip().splitlines()[0][:300]
                    failed.append(f"{case.op} {case.direction} {case.size} {dtype}: {reason}")
                    print(f"  CHECK FAILED, not timed: {failed[-1]}", flush=True)
                    continue
                ours = median_ms(case.ours, smoke)
                theirs = None if case.theirs is None else median_ms(case.theirs, smoke)
                tflops = case.flops / (ours * 1e-3) / 1e12
                gbps = round(case.bytes / (ours * 1e-3) / 1e9, 1) if case.bytes else None
                rows.append(
                    Row(
                        case.family,
                        case.op,
                        case.direction,
                        case.size,
                        case.dtype,
                        case.flops,
                        round(ours, 4),
                        None if theirs is None else round(theirs, 4),
                        round(tflops, 2),
                        None if theirs is None else round(case.flops / (theirs * 1e-3) / 1e12, 2),
                        round(tflops / peaks[dtype], 3),
                        None if theirs is None else round(theirs / ours, 2),
                        case.series,
                        case.macs,
                        gbps,
                    )
                )
                rate = f"{gbps:.0f} GB/s" if gbps is not None else f"{tflops:.1f} TFLOP/s"
                print(
                    f"  {case.op} {case.direction} {case.size} {dtype}: {rate}"
                    + ("" if theirs is None else f", {theirs / ours:.2f}x torch"),
                    flush=True,
                )
        if after_dtype is not None:
            after_dtype(peaks, rows, failed)
    return peaks, rows, failed


# --------------------------------------------------------------------------- reporting


def fits(rows: list[Row]) -> list[Fit]:
    series = sorted({(r.series, r.dtype) for r in rows if r.series})
    return [fit(s, d, rows) for s, d in series]


def _marginal(f: Fit) -> float:
    """TFLOP/s of the fitted marginal cost (2 FLOPs per MAC); 0 when the slope is not > 0."""
    return 2e9 / (f.ms_per_gmac * 1e-3) / 1e12 if f.ms_per_gmac > 0 else 0.0


def _scaling_table(rows: list[Row]) -> str:
    """Each series point: measured time ratio to the series' largest-MAC point against the
    MAC ratio the theory predicts (for the separable series: separable over dense at the same
    C_out, against separable_cost_ratio)."""
    out = [
        "| series | dtype | size | MACs | ours ms | time ratio | MAC ratio |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for s, d in sorted({(r.series, r.dtype) for r in rows if r.series}):
        pts = [r for r in rows if r.series == s and r.dtype == d]
        if s == "separable vs dense":
            dense = {r.size: r for r in pts if r.op == "conv2d"}
            for r in pts:
                if r.op == "separable_conv2d" and r.size in dense:
                    t, m = r.ours_ms / dense[r.size].ours_ms, r.macs / dense[r.size].macs
                    out.append(
                        f"| {s} | {d} | {r.size} | {r.macs} | {r.ours_ms:.4f} | {t:.3f} | {m:.3f} |"
                    )
            continue
        top = max(pts, key=lambda r: r.macs)
        for r in pts:
            out.append(
                f"| {s} | {d} | {r.size} | {r.macs} | {r.ours_ms:.4f} | "
                f"{r.ours_ms / top.ours_ms:.3f} | {r.macs / top.macs:.3f} |"
            )
    fitted = [
        f"{f.series} ({f.dtype}): time = {f.intercept_ms:.4f} ms + {f.ms_per_gmac:.4f} ms per "
        f"10⁹ MACs (marginal {_marginal(f):.0f} TFLOP/s), R² = {f.r2:.3f}"
        + (f" ({f.note})" if f.note else "")
        for f in fits(rows)
        if f.series != "separable vs dense"
    ]
    return "\n".join(out) + ("\n\n" + "  \n".join(fitted) if fitted else "")


def to_markdown(
    peaks: dict[str, float], rows: list[Row], machine: dict, smoke: bool, failed=()
) -> str:
    peak = ", ".join(f"{d} {p:.0f}" for d, p in peaks.items())
    head = (
        ("**Smoke run in Triton's interpreter: times are not measurements.**\n\n" if smoke else "")
        + f"Measured {machine['date']} on {machine['device']}, torch {machine['torch']}, Triton "
        f"{machine['triton']}, CUDA {machine['cuda']}. GEMM peak (torch.matmul 8192³, TFLOP/s): "
        f"**{peak}** (float32 with TF32, both sides). TFLOP/s = the theory's FLOPs (2 × MACs; "
        "causal attention counts kept scores only) / median time; *of peak* = ours / the GEMM "
        "peak at that dtype; GB/s (memory-bound gate kernels, no FLOPs counted) = bytes that "
        "must move / our time; *× torch* = torch's time / ours (> 1: ours faster).\n\n"
        "| kernel | pass | size | dtype | ours ms | torch ms | TFLOP/s | torch TFLOP/s | "
        "of peak | GB/s | × torch |\n"
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )

    def opt(v, fmt):
        return "—" if v is None else format(v, fmt)

    def line(r: Row) -> str:
        counted = r.flops > 0
        return (
            f"| {r.op} | {r.direction} | {r.size} | {r.dtype} | {r.ours_ms:.4f} | "
            f"{opt(r.torch_ms, '.4f')} | {opt(r.tflops if counted else None, '.1f')} | "
            f"{opt(r.torch_tflops if counted else None, '.1f')} | "
            f"{opt(100 * r.fraction_of_peak if counted else None, '.0f')}"
            f"{'%' if counted else ''} | {opt(r.gbps, '.0f')} | {opt(r.ratio_to_torch, '.2f')} |"
        )

    lines = [line(r) for r in rows]
    return (
        head
        + "\n".join(lines)
        + "\n\n**Cost scaling** (time against the theory's MAC count):\n\n"
        + _scaling_table(rows)
        + "\n\n"
        + verdict(rows)
        + "\n"
        + (
            "\n**Checks failed (not timed):**\n\n" + "\n".join(f"- {f}" for f in failed) + "\n"
            if failed
            else ""
        )
    )


def verdict(rows: list[Row]) -> str:
    """The issue's aims, judged on the rows that the aims name."""

    def aim(text, picked, ok):
        if not picked:
            return f"{text}: not measured in this run."
        missed = [f"{r.op} {r.direction} {r.size} {r.dtype}" for r in picked if not ok(r)]
        return f"{text}: met by {len(picked) - len(missed)} of {len(picked)}" + (
            f"; missed by {', '.join(missed)}." if missed else "."
        )

    forward = [r for r in rows if r.op == "linear" and r.direction == "forward"]
    big = max((r.flops for r in forward), default=0)
    dense = [r for r in forward if r.flops == big and r.dtype != "float32"]
    att = [
        r
        for r in rows
        if r.op == "attention"
        and r.direction == "forward"
        and r.dtype == "bfloat16"
        and "D=128" in r.size
        and int(r.size.split("L=S=")[1].split()[0]) >= 4096
    ]
    resnet = {s[0] for s in RESNET50}
    conv = [r for r in rows if r.op == "conv2d" and r.direction == "forward" and r.size in resnet]
    aims = [
        ("Aim 1 (dense linear ≥ 90% of torch's GEMM, largest square, bf16/fp16)", dense, 0.9),
        ("Aim 2b (attention forward ≥ 1.0× torch's SDPA flash backend)", att, 1.0),
        ("Aim 3 (implicit-GEMM conv ≥ 70% of cuDNN, ResNet-50 shapes)", conv, 0.7),
    ]
    lines = [
        aim(text, picked, lambda r, t=t: (r.ratio_to_torch or 0) >= t) for text, picked, t in aims
    ]
    lines.insert(
        1,
        aim(
            "Aim 2 (attention forward ≥ 400 TFLOP/s, bf16, D = 128, L ≥ 4096)",
            att,
            lambda r: r.tflops >= 400,
        ),
    )
    return "  \n".join(lines)


def main(argv: list[str] | None = None) -> int:
    how = invocation(
        "benchmarks.gpu_compute_bound", __doc__.split("\n\n")[0], DTYPES, FAMILIES, RESULTS, argv
    )
    if isinstance(how, int):
        return how

    def write(peaks: dict[str, float], rows: list[Row], failed: list[str]) -> None:
        payload = {"machine": how.machine, "gemm_peak_tflops": peaks, "flops": FLOPS}
        payload["rows"] = [asdict(r) for r in rows]
        payload["fits"] = [asdict(f) for f in fits(rows)]
        payload["failed_checks"] = failed
        md = to_markdown(peaks, rows, how.machine, how.smoke, failed)
        how.write("gpu_compute_bound", md, payload)

    sizes = "smoke" if how.smoke else "full"
    peaks, rows, failed = run(sizes, how.dtypes, how.families, write)
    print(to_markdown(peaks, rows, how.machine, how.smoke, failed))
    if how.target is not None:
        print(f"written: {how.target / 'gpu_compute_bound.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
