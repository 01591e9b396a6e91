r"""CPU benchmark: NumPy convolution (im2col + GEMM, zero-copy im2col, per-tap direct) against
``torch.nn.functional.conv2d`` at ResNet-style shapes, float32 and float64.

The document's claim (``002_532ac369c9b692e7.txt`` § Convolution as Matrix Operation): im2col
trades memory for speed. Measured here, in one process: the median wall time of each variant
over repeated runs, its ratio to torch's, and the im2col buffer — exact size
(:math:`N C_{in} K_H K_W H_{out} W_{out}` entries, :func:`theory.conv.im2col_elements`) and the
peak extra memory ``tracemalloc`` sees during one call (NumPy reports its allocations to it),
both relative to the input's size.

Run ``bash scripts/bench.sh`` (or ``.venv/bin/python -m benchmarks.conv2d_cpu``); it prints the
table and writes ``benchmarks/results/conv2d_cpu.md`` (shown on the docs site) and ``.json``.
Every variant's output is checked against torch before it is timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kernels.cpu.conv2d import conv2d_direct, conv2d_im2col
from numerics.tolerances import assert_close
from theory.conv import conv_output_size, im2col_elements

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Shape:
    name: str
    c_in: int
    c_out: int
    size: int
    kernel: int
    stride: int
    padding: int


# ResNet-18/50 layers (torchvision ResNet, 224x224 input).
SHAPES = (
    Shape("conv1 7x7/2, 3->64 @224", 3, 64, 224, 7, 2, 3),
    Shape("3x3, 64->64 @56", 64, 64, 56, 3, 1, 1),
    Shape("1x1, 64->256 @56", 64, 256, 56, 1, 1, 0),
    Shape("3x3/2, 128->128 @56", 128, 128, 56, 3, 2, 1),
    Shape("3x3, 256->256 @14", 256, 256, 14, 3, 1, 1),
    Shape("1x1, 1024->256 @14", 1024, 256, 14, 1, 1, 0),
    Shape("3x3, 512->512 @7", 512, 512, 7, 3, 1, 1),
)


@dataclass
class Row:
    shape: str
    dtype: str
    variant: str
    median_ms: float
    ratio_to_torch: float
    buffer_vs_input: float | None  # exact im2col buffer / input size (copying variant only)
    peak_extra_vs_input: float  # (tracemalloc peak during one call - output) / input bytes


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    time.sleep(0.2)  # let the other library's idle worker threads stop spinning first
    fn()  # warm-up (allocator, BLAS threads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _peak_extra(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def run(batch: int, repeats: int, shapes=SHAPES, dtypes=("float32", "float64")) -> list[Row]:
    rows = []
    for shape in shapes:
        for dtype in dtypes:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((batch, shape.c_in, shape.size, shape.size)).astype(dtype)
            w = rng.standard_normal((shape.c_out, shape.c_in, shape.kernel, shape.kernel))
            w = (w / np.sqrt(shape.c_in * shape.kernel**2)).astype(dtype)
            kw = {"stride": shape.stride, "padding": shape.padding}
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            reference = F.conv2d(xt, wt, **kw).numpy()
            variants = {
                "torch F.conv2d": lambda xt=xt, wt=wt, kw=kw: F.conv2d(xt, wt, **kw),
                "im2col + GEMM (copy)": lambda x=x, w=w, kw=kw: conv2d_im2col(x, w, **kw),
                "im2col view (zero-copy)": lambda x=x, w=w, kw=kw: conv2d_im2col(
                    x, w, **kw, copy=False
                ),
                "direct (per-tap GEMM)": lambda x=x, w=w, kw=kw: conv2d_direct(x, w, **kw),
            }
            n = shape.c_in * shape.kernel**2
            for fn in variants.values():  # never time a wrong answer
                out = fn()
                out = out.numpy() if isinstance(out, torch.Tensor) else out
                assert_close(out, reference, dtype, reduction_length=n, magnitude=_mag(x, w, kw))
            torch_ms = _median_ms(variants["torch F.conv2d"], repeats)
            o = int(conv_output_size(shape.size, shape.kernel, shape.stride, shape.padding))
            buffer = batch * int(im2col_elements(shape.c_in, shape.kernel, (o, o)))
            for name, fn in variants.items():
                ms = torch_ms if name.startswith("torch") else _median_ms(fn, repeats)
                torch_side = name.startswith("torch")
                peak = 0 if torch_side else _peak_extra(fn) - reference.nbytes
                rows.append(
                    Row(
                        shape.name,
                        dtype,
                        name,
                        round(ms, 3),
                        round(ms / torch_ms, 2),
                        round(buffer / x.size, 2) if name == "im2col + GEMM (copy)" else None,
                        round(peak / x.nbytes, 2),
                    )
                )
            print(f"  done: {shape.name} {dtype}", flush=True)
    return rows


def _mag(x: np.ndarray, w: np.ndarray, kw: dict) -> np.ndarray:
    """sum |x||w| over each output's window: the scale of its rounding error."""
    xa, wa = torch.from_numpy(np.abs(x).astype(np.float64)), torch.from_numpy(np.abs(w))
    return F.conv2d(xa, wa.double(), **kw).numpy()


def _machine() -> dict:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def to_markdown(rows: list[Row], machine: dict, batch: int, repeats: int) -> str:
    head = (
        f"Measured {machine['date']} on {machine['cores']} cores ({machine['cpu']}), torch "
        f"{machine['torch']} ({machine['torch_threads']} threads), NumPy {machine['numpy']}; "
        f"batch {batch}, median of {repeats} runs after a warm-up, one process. Ratio = time / "
        "torch's time at the same dtype (lower is better). *buffer* = exact im2col buffer / "
        "input size; *peak* = peak memory NumPy allocated during one call, minus the output, / "
        "input size (torch's allocations are not traced: blank). The zero-copy view's peak is "
        "the padded copy of the input (none without padding).\n\n"
        "| shape | dtype | variant | median ms | × torch | buffer | peak |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: |\n"
    )
    lines = [
        f"| {r.shape} | {r.dtype} | {r.variant} | {r.median_ms:.3f} | {r.ratio_to_torch:.2f} | "
        f"{'' if r.buffer_vs_input is None else f'{r.buffer_vs_input:.2f}'} | "
        f"{'' if r.variant.startswith('torch') else f'{r.peak_extra_vs_input:.2f}'} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n\n" + _verdict(rows) + "\n"


def _verdict(rows: list[Row]) -> str:
    """Our aims: im2col+GEMM within 1.5x torch in float32 and no slower than torch in float64."""
    ours = [r for r in rows if r.variant == "im2col + GEMM (copy)"]
    f32 = [r for r in ours if r.dtype == "float32"]
    f64 = [r for r in ours if r.dtype == "float64"]
    miss32 = [r.shape for r in f32 if r.ratio_to_torch > 1.5]
    miss64 = [r.shape for r in f64 if r.ratio_to_torch > 1.0]
    return (
        f"Aim 1 (im2col + GEMM within 1.5× torch, float32): met on {len(f32) - len(miss32)} of "
        f"{len(f32)} shapes" + (f"; missed on {', '.join(miss32)}." if miss32 else ".") + "  \n"
        f"Aim 2 (no slower than torch, float64): met on {len(f64) - len(miss64)} of {len(f64)} "
        "shapes" + (f"; missed on {', '.join(miss64)}." if miss64 else ".")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="two small shapes, 2 repeats")
    args = parser.parse_args(argv)
    shapes = SHAPES if not args.quick else SHAPES[4:5] + SHAPES[6:]
    repeats = 2 if args.quick else args.repeats
    machine = _machine()
    rows = run(args.batch, repeats, shapes)
    text = to_markdown(rows, machine, args.batch, repeats)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "conv2d_cpu.md").write_text(text)
        payload = {"machine": machine, "batch": args.batch, "repeats": repeats}
        payload["rows"] = [asdict(r) for r in rows]
        (RESULTS / "conv2d_cpu.json").write_text(json.dumps(payload, indent=1) + "\n")
        print(f"written: {RESULTS / 'conv2d_cpu.md'}")


if __name__ == "__main__":
    main()
