r"""GPU benchmark of the memory-bound Triton kernels (:mod:`kernels.gpu`) against torch.

For a memory-bound kernel the floor is the bytes it must move (each input read once, each
output written once: the formulas in :data:`BYTES`) divided by the device's copy bandwidth. The
run measures that bandwidth first (a large device-to-device ``copy_``, counting bytes read plus
written), then for each kernel, size and dtype (float32, bfloat16, float16):

* the median time of ours and of torch's kernel (``triton.testing.do_bench``: CUDA events,
  warm-up, median; it flushes L2 before every timed call, so small inputs are read from
  device memory, not from the cache);
* GB/s = bytes by formula / our time, and that as a fraction of the measured copy bandwidth;
* the ratio torch's time / ours (> 1: ours is faster).

Every kernel's output is checked before it is timed (the GPU rule,
:func:`numerics.tolerances.assert_gpu_close`, on a float64 reference), so a wrong answer is
never timed. Aims (issue 15): ≥ 85% of copy bandwidth and ≥ 1.0× torch at large sizes, forward
and backward.

Run ``bash scripts/bench.sh --gpu`` on a CUDA machine; it prints the table and writes
``benchmarks/results/gpu_memory_bound.{md,json}`` with the device name and versions (shown on
the docs site). ``--smoke`` runs every case once at tiny sizes in Triton's interpreter on the
CPU (``TRITON_INTERPRET=1``): it checks the script and the formulas, measures nothing, and
writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.gpu_timing import Inputs, invocation, median_ms

RESULTS = Path(__file__).parent / "results"
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Case:
    """One timed comparison: our kernel and torch's on the same inputs."""

    family: str
    op: str
    direction: str  # "forward" or "backward"
    size: str
    dtype: str
    bytes: int  # bytes that must be read and written (by formula)
    ours: Callable[[], object]
    theirs: Callable[[], object]
    check: Callable[[], None]  # raises AssertionError when ours is wrong


@dataclass
class Row:
    family: str
    op: str
    direction: str
    size: str
    dtype: str
    bytes: int
    ours_ms: float
    torch_ms: float
    gbps: float
    fraction_of_copy: float
    ratio_to_torch: float  # torch time / our time: > 1 means ours is faster


# --------------------------------------------------------------------------- bytes by formula

#: The bytes each kernel must move, with e the element size, M rows of N for row-wise kernels
#: (softmax, layer/RMS norm), n elements for element-wise ones, P parameters per channel.
BYTES = {
    "softmax forward": "read x, write y: 2MNe",
    "softmax backward": "read y and dy, write dx: 3MNe",
    "layer_norm forward": "read x, weight, bias; write y: 2MNe + 2Ne",
    "layer_norm backward": "read x, dy, weight; write dx, dweight, dbias: 3MNe + 3Ne",
    "rms_norm forward": "read x, weight; write y: 2MNe + Ne",
    "rms_norm backward": "read x, dy, weight; write dx, dweight: 3MNe + 2Ne",
    "batch_norm forward": "read x, weight, bias, running stats; write y, running stats: "
    "2ne + 6Ce (training)",
    "batch_norm backward": "read x, dy, weight; write dx, dweight, dbias: 3ne + 3Ce",
    "group_norm forward": "read x, weight, bias; write y: 2ne + 2Ce",
    "group_norm backward": "read x, dy, weight; write dx, dweight, dbias: 3ne + 3Ce",
    "dropout forward": "read x, write y: 2ne (the mask is regenerated, never stored)",
    "dropout backward": "read dy, write dx: 2ne",
    "max_pool2d forward": "read x, write y: (NCHW + NCHoWo)e",
    "max_pool2d backward": "read x and dy, write dx: (2NCHW + NCHoWo)e (argmax recomputed)",
    "avg_pool2d forward": "read x, write y: (NCHW + NCHoWo)e",
    "avg_pool2d backward": "read dy, write dx: (NCHW + NCHoWo)e",
    "embedding forward": "read the indices (8 B each) and n rows, write n rows: 8n + 2nde",
    "embedding backward": "read the indices and dy, write the dense V x d gradient: 8n + nde + Vde",
}


# --------------------------------------------------------------------------- the cases


class _Builder(Inputs):
    """The memory-bound cases at one dtype (``e``: its element size in bytes)."""

    def __init__(self, torch, dtype_name: str, smoke: bool) -> None:
        super().__init__(torch, dtype_name, smoke)
        self.e = torch.finfo(self.dtype).bits // 8
        self.cases: list[Case] = []

    def add(
        self,
        family,
        op,
        direction,
        size,
        nbytes,
        ours,
        theirs,
        reference=None,
        *,
        exact=False,
        check=None,
    ):
        """A case; ``reference`` (float64 NumPy) checks ours by the GPU rule, ``exact`` by
        equality with torch, ``check`` by itself; backward cases compare their first output
        (the input gradient)."""

        def first(v):
            return v[0] if isinstance(v, tuple | list) else v

        if reference is None and not exact and check is None:
            raise AssertionError(f"{op} {direction}: a case without a check would time anything")

        def default_check() -> None:
            from numerics.tolerances import assert_gpu_close

            if exact:
                assert self.torch.equal(first(ours()), first(theirs())), f"{op} is not exact"
            elif reference is not None:
                assert_gpu_close(first(ours()), reference(), first(theirs()))

        self.cases.append(
            Case(
                family,
                op,
                direction,
                size,
                self.dtype_name,
                nbytes,
                ours,
                theirs,
                check or default_check,
            )
        )


def _rowwise(b: _Builder) -> None:
    import torch.nn.functional as F

    from kernels.gpu import attention, norm

    torch, e = b.torch, b.e
    sizes = [(64, 1000)] if b.smoke else [(4096, 1024), (4096, 4096), (8192, 8192), (16384, 16384)]
    for m, n in sizes:
        x, dy, w, bias = b.randn(m, n), b.randn(m, n), b.randn(n), b.randn(n)
        y = torch.softmax(x, -1)
        label = f"{m}x{n}"

        def sm(t):
            return torch.softmax(t, -1)

        def ln(t, w_, b_, n=n):
            return F.layer_norm(t, (n,), w_, b_)

        def rms(t, w_, n=n):
            """torch's default eps=None: float32's eps for float32/16 inputs (the computation
            dtype), which our rms_norm also uses — stated here so the float64 reference uses
            it too."""
            return F.rms_norm(t, (n,), w_, eps=torch.finfo(torch.float32).eps)

        b.add(
            "softmax",
            "softmax",
            "forward",
            label,
            2 * m * n * e,
            lambda x=x: attention.softmax(x, -1),
            lambda x=x: sm(x),
            b.ref64(sm, x),
        )
        b.add(
            "softmax",
            "softmax",
            "backward",
            label,
            3 * m * n * e,
            lambda x=x, dy=dy: attention.softmax_backward(dy, x, -1),
            lambda y=y, dy=dy: torch._softmax_backward_data(dy, y, -1, b.dtype),
            b.grad64(sm, dy, x),
        )
        b.add(
            "norm",
            "layer_norm",
            "forward",
            label,
            (2 * m * n + 2 * n) * e,
            lambda x=x, w=w, c=bias, n=n: norm.layer_norm(x, n, w, c),
            lambda x=x, w=w, c=bias: ln(x, w, c),
            b.ref64(ln, x, w, bias),
        )
        b.add(
            "norm",
            "layer_norm",
            "backward",
            label,
            (3 * m * n + 3 * n) * e,
            lambda x=x, w=w, c=bias, n=n, dy=dy: norm.layer_norm_backward(dy, x, n, w, c),
            b.grad(ln, dy, x, w, bias),
            b.grad64(ln, dy, x, w, bias),
        )
        b.add(
            "norm",
            "rms_norm",
            "forward",
            label,
            (2 * m * n + n) * e,
            lambda x=x, w=w, n=n: norm.rms_norm(x, n, w),
            lambda x=x, w=w: rms(x, w),
            b.ref64(rms, x, w),
        )
        b.add(
            "norm",
            "rms_norm",
            "backward",
            label,
            (3 * m * n + 2 * n) * e,
            lambda x=x, w=w, n=n, dy=dy: norm.rms_norm_backward(dy, x, n, w),
            b.grad(rms, dy, x, w),
            b.grad64(rms, dy, x, w),
        )


def _elementwise(b: _Builder) -> None:
    from kernels.cpu.dropout import philox_dropout_mask
    from kernels.gpu import dropout

    torch, e = b.torch, b.e
    for n in [2**12] if b.smoke else [2**20, 2**24, 2**27]:
        x, dy = b.randn(n), b.randn(n)
        keep = torch.rand(n, generator=b.gen).to(b.dev) >= 0.1

        scale = torch.tensor(1 / 0.9, dtype=torch.float32)

        def forward_check(x=x, n=n, scale=scale) -> None:
            from numerics.tolerances import assert_gpu_close

            y, mask = dropout.dropout(x, 0.1, seed=1, return_mask=True)
            want = philox_dropout_mask((n,), 0.1, seed=1)
            assert (mask.cpu().numpy() == want).all(), "the GPU mask is not its NumPy twin"
            ref = (x.double() * mask * (1 / 0.9)).cpu().numpy()
            theirs = (x.float() * mask * scale.to(x.device)).to(x.dtype)  # torch, same mask
            assert_gpu_close(y, ref, theirs)

        def backward_check(x=x, dy=dy) -> None:
            from numerics.tolerances import assert_gpu_close

            _, mask = dropout.dropout(x, 0.1, seed=1, return_mask=True)
            dx = dropout.dropout_backward(dy, 0.1, seed=1)
            ref = (dy.double() * mask * (1 / 0.9)).cpu().numpy()
            theirs = torch.ops.aten.native_dropout_backward(dy, mask, 1 / 0.9)
            assert_gpu_close(dx, ref, theirs)

        b.add(
            "dropout",
            "dropout",
            "forward",
            f"{n}",
            2 * n * e,
            lambda x=x: dropout.dropout(x, 0.1, seed=1),
            lambda x=x: torch.nn.functional.dropout(x, 0.1),
            check=forward_check,
        )
        b.add(
            "dropout",
            "dropout",
            "backward",
            f"{n}",
            2 * n * e,
            lambda dy=dy: dropout.dropout_backward(dy, 0.1, seed=1),
            lambda dy=dy, k=keep: torch.ops.aten.native_dropout_backward(dy, k, 1 / 0.9),
            check=backward_check,
        )


def _spatial(b: _Builder) -> None:
    import torch.nn.functional as F

    from kernels.gpu import norm, pool

    torch, e = b.torch, b.e
    for shape in [(2, 3, 9, 11)] if b.smoke else [(32, 64, 112, 112), (64, 256, 56, 56)]:
        x, dy = b.randn(*shape), b.randn(*shape)
        c, numel = shape[1], x.numel()
        w, bias = b.randn(c), b.randn(c)
        groups = 1 if b.smoke else 32
        label = "x".join(map(str, shape))

        def bn(t, w_, b_):
            return F.batch_norm(t, None, None, w_, b_, True)

        def gn(t, w_, b_, g=groups):
            return F.group_norm(t, g, w_, b_)

        def running(c=c):
            """Running buffers, allocated once per side (outside the timed call); they drift
            with the repeated updates, which changes no cost."""
            return (
                torch.zeros(c, device=b.dev, dtype=b.dtype),
                torch.ones(c, device=b.dev, dtype=b.dtype),
            )

        ours_buffers, their_buffers = running(), running()
        b.add(
            "norm",
            "batch_norm",
            "forward",
            label,
            (2 * numel + 6 * c) * e,
            lambda x=x, w=w, c_=bias, r=ours_buffers: norm.batch_norm(x, *r, w, c_, True),
            lambda x=x, w=w, c_=bias, r=their_buffers: F.batch_norm(x, *r, w, c_, True),
            b.ref64(bn, x, w, bias),
        )
        b.add(
            "norm",
            "batch_norm",
            "backward",
            label,
            (3 * numel + 3 * c) * e,
            lambda x=x, w=w, c_=bias, dy=dy: norm.batch_norm_backward(
                dy, x, None, None, w, c_, True
            ),
            b.grad(bn, dy, x, w, bias),
            b.grad64(bn, dy, x, w, bias),
        )
        b.add(
            "norm",
            "group_norm",
            "forward",
            label,
            (2 * numel + 2 * c) * e,
            lambda x=x, w=w, c_=bias, g=groups: norm.group_norm(x, g, w, c_),
            lambda x=x, w=w, c_=bias: gn(x, w, c_),
            b.ref64(gn, x, w, bias),
        )
        b.add(
            "norm",
            "group_norm",
            "backward",
            label,
            (3 * numel + 3 * c) * e,
            lambda x=x, w=w, c_=bias, g=groups, dy=dy: norm.group_norm_backward(dy, x, g, w, c_),
            b.grad(gn, dy, x, w, bias),
            b.grad64(gn, dy, x, w, bias),
        )
        ho, wo = (shape[2] - 3) // 2 + 1, (shape[3] - 3) // 2 + 1
        small = shape[0] * c * ho * wo
        gy = b.randn(shape[0], c, ho, wo)

        def mp(t):
            return F.max_pool2d(t, 3, 2)

        def ap(t):
            return F.avg_pool2d(t, 3, 2)

        b.add(
            "pool",
            "max_pool2d",
            "forward",
            label,
            (numel + small) * e,
            lambda x=x: pool.max_pool2d(x, 3, 2),
            lambda x=x: mp(x),
            exact=True,
        )
        b.add(
            "pool",
            "max_pool2d",
            "backward",
            label,
            (2 * numel + small) * e,
            lambda x=x, gy=gy: pool.max_pool2d_backward(gy, x, 3, 2),
            b.grad(mp, gy, x),
            b.grad64(mp, gy, x),
        )
        b.add(
            "pool",
            "avg_pool2d",
            "forward",
            label,
            (numel + small) * e,
            lambda x=x: pool.avg_pool2d(x, 3, 2),
            lambda x=x: ap(x),
            b.ref64(ap, x),
        )
        b.add(
            "pool",
            "avg_pool2d",
            "backward",
            label,
            (numel + small) * e,
            lambda x=x, gy=gy: pool.avg_pool2d_backward(gy, x, 3, 2),
            b.grad(ap, gy, x),
            b.grad64(ap, gy, x),
        )


def _lookup(b: _Builder) -> None:
    import torch.nn.functional as F

    from kernels.gpu import embedding

    torch, e = b.torch, b.e
    for v, d, k in [(50, 16, 40)] if b.smoke else [(50257, 768, 8192), (32000, 4096, 16384)]:
        weight, dy = b.randn(v, d), b.randn(k, d)
        idx = torch.randint(0, v, (k,), generator=b.gen).to(b.dev)
        label = f"V={v} d={d} n={k}"
        b.add(
            "embedding",
            "embedding",
            "forward",
            label,
            8 * k + 2 * k * d * e,
            lambda i=idx, w=weight: embedding.embedding(i, w),
            lambda i=idx, w=weight: F.embedding(i, w),
            exact=True,
        )
        b.add(
            "embedding",
            "embedding",
            "backward",
            label,
            8 * k + (k * d + v * d) * e,
            lambda i=idx, w=weight, dy=dy: embedding.embedding_backward(dy, i, w),
            lambda i=idx, v=v, dy=dy: torch.ops.aten.embedding_dense_backward(dy, i, v, -1, False),
            b.grad64(lambda w_, i=idx: F.embedding(i, w_), dy, weight),
        )


#: Which builder makes which families' cases.
_BUILDERS = (
    (_rowwise, {"softmax", "norm"}),
    (_elementwise, {"dropout"}),
    (_spatial, {"norm", "pool"}),
    (_lookup, {"embedding"}),
)
FAMILIES = ("softmax", "norm", "dropout", "pool", "embedding")


def _cases(torch, sizes: str, dtype_name: str, families=FAMILIES) -> list[Case]:
    """The comparisons at one dtype; ``sizes`` is "full" (GPU) or "smoke" (interpreter)."""
    b = _Builder(torch, dtype_name, sizes == "smoke")
    for build, makes in _BUILDERS:
        if makes & set(families):
            build(b)
    return [c for c in b.cases if c.family in families]


# --------------------------------------------------------------------------- timing


def copy_bandwidth(torch, smoke: bool) -> float:
    """Device-to-device copy bandwidth in GB/s (bytes read + written), 1 GiB buffers."""
    from kernels.gpu._backend import device

    n = 2**14 if smoke else 2**28  # float32 elements: 1 GiB, far beyond L2
    src = torch.randn(n, device=device())
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), smoke)
    return 2 * n * 4 / (ms * 1e-3) / 1e9


def run(sizes: str, dtypes=DTYPES, families=FAMILIES, after_dtype=None) -> tuple[float, list[Row]]:
    """Measure; ``after_dtype(copy, rows)`` is called after each dtype (partial results are
    written as they come, so a run stopped by a time limit keeps what it measured)."""
    import torch

    smoke = sizes == "smoke"
    copy = copy_bandwidth(torch, smoke)
    rows: list[Row] = []
    for dtype in dtypes:
        for case in _cases(torch, sizes, dtype, families):
            case.check()  # never time a wrong answer
            ours = median_ms(case.ours, smoke)
            theirs = median_ms(case.theirs, smoke)
            gbps = case.bytes / (ours * 1e-3) / 1e9
            rows.append(
                Row(
                    case.family,
                    case.op,
                    case.direction,
                    case.size,
                    case.dtype,
                    case.bytes,
                    round(ours, 4),
                    round(theirs, 4),
                    round(gbps, 1),
                    round(gbps / copy, 3),
                    round(theirs / ours, 2),
                )
            )
            print(
                f"  {case.op} {case.direction} {case.size} {dtype}: {gbps:.0f} GB/s, "
                f"{theirs / ours:.2f}x torch",
                flush=True,
            )
        if after_dtype is not None:
            after_dtype(copy, rows)
    return copy, rows


def to_markdown(copy: float, rows: list[Row], machine: dict, smoke: bool) -> str:
    head = (
        ("**Smoke run in Triton's interpreter: times are not measurements.**\n\n" if smoke else "")
        + f"Measured {machine['date']} on {machine['device']}, torch {machine['torch']}, Triton "
        f"{machine['triton']}, CUDA {machine['cuda']}. Copy bandwidth (device-to-device "
        f"`copy_`, bytes read + written): **{copy:.0f} GB/s**. GB/s = bytes that must move "
        "(formula) / our median time; *of copy* = that / copy bandwidth; *× torch* = torch's "
        "time / ours (> 1: ours faster). Medians of `triton.testing.do_bench`.\n\n"
        "| kernel | pass | size | dtype | ours ms | torch ms | GB/s | of copy | × torch |\n"
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = [
        f"| {r.op} | {r.direction} | {r.size} | {r.dtype} | {r.ours_ms:.4f} | "
        f"{r.torch_ms:.4f} | {r.gbps:.0f} | {100 * r.fraction_of_copy:.0f}% | "
        f"{r.ratio_to_torch:.2f} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n\n" + verdict(rows) + "\n"


def verdict(rows: list[Row]) -> str:
    """The issue's aims, at the largest size of each kernel, pass and dtype."""
    largest: dict[tuple[str, str, str], Row] = {}
    for r in rows:
        key = (r.op, r.direction, r.dtype)
        if key not in largest or r.bytes > largest[key].bytes:
            largest[key] = r
    big = list(largest.values())
    bw = [r for r in big if r.fraction_of_copy < 0.85]
    slow = [r for r in big if r.ratio_to_torch < 1.0]
    name = lambda r: f"{r.op} {r.direction} {r.dtype}"  # noqa: E731
    return (
        f"Aim 1 (≥ 85% of copy bandwidth at the largest size): met by {len(big) - len(bw)} of "
        f"{len(big)}" + (f"; missed by {', '.join(map(name, bw))}." if bw else ".") + "  \n"
        f"Aim 2 (≥ 1.0× torch at the largest size): met by {len(big) - len(slow)} of "
        f"{len(big)}" + (f"; missed by {', '.join(map(name, slow))}." if slow else ".")
    )


def main(argv: list[str] | None = None) -> int:
    how = invocation(
        "benchmarks.gpu_memory_bound", __doc__.split("\n\n")[0], DTYPES, FAMILIES, RESULTS, argv
    )
    if isinstance(how, int):
        return how

    def write(copy: float, rows: list[Row]) -> None:
        payload = {"machine": how.machine, "copy_gbps": copy, "bytes": BYTES}
        payload["rows"] = [asdict(r) for r in rows]
        md = to_markdown(copy, rows, how.machine, how.smoke)
        how.write("gpu_memory_bound", md, payload)

    sizes = "smoke" if how.smoke else "full"
    copy, rows = run(sizes, how.dtypes, how.families, after_dtype=write)
    print(to_markdown(copy, rows, how.machine, how.smoke))
    if how.target is not None:
        print(f"written: {how.target / 'gpu_memory_bound.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
