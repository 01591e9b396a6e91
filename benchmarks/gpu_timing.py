"""What the GPU benchmarks share: the timer, the machine record and the argument checks.

:func:`median_ms` times with ``triton.testing.do_bench`` on a GPU (CUDA events, warm-up, an
L2 flush before every timed call, the median), or with ``time.perf_counter`` twice in a smoke
run in Triton's interpreter (where the number means nothing: it only exercises the script).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def median_ms(fn: Callable[[], object], smoke: bool) -> float:
    """Median time of ``fn()`` in milliseconds."""
    if smoke:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return 1e3 * statistics.median(times)
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median"))


def machine(smoke: bool) -> dict:
    """Date, device name and versions, recorded with every result table."""
    import torch

    try:
        import triton

        triton_version = triton.__version__
    except ImportError:  # pragma: no cover - the scripts need triton anyway
        triton_version = "absent"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "device": "Triton interpreter (CPU)" if smoke else torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton_version,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
    }


class Inputs:
    """Random inputs on the kernels' device at one dtype (seeded: every run builds the same
    cases), and torch's references for the cases built from them."""

    def __init__(self, torch, dtype_name: str, smoke: bool) -> None:
        from kernels.gpu._backend import device

        self.torch, self.smoke, self.dtype_name = torch, smoke, dtype_name
        self.dtype = getattr(torch, dtype_name)
        self.dev = device()
        self.gen = torch.Generator(device="cpu").manual_seed(0)

    def randn(self, *shape, scale: float = 1.0):
        """Standard normal entries (drawn in float32, times ``scale``) at the dtype."""
        t = self.torch.randn(*shape, generator=self.gen, dtype=self.torch.float32) * scale
        return t.to(self.dev, self.dtype)

    def ref64(self, fn, *inputs, pick=lambda v: v):
        """The float64 value of ``fn`` on ``pick`` of each input (a NumPy array)."""
        return lambda: fn(*(pick(t).double() for t in inputs)).cpu().numpy()

    def grad(self, fn, dy, *inputs):
        """torch's backward alone (graph built once, ``autograd.grad`` replayed)."""
        leaves = [t.detach().requires_grad_(True) for t in inputs]
        out = fn(*leaves)
        return lambda: self.torch.autograd.grad(out, leaves, dy, retain_graph=True)

    def grad64(self, fn, dy, *inputs):
        """The float64 gradient of ``fn`` for its first input (the backward checks' reference)."""

        def reference():
            leaves = [t.detach().double().requires_grad_(True) for t in inputs]
            (g,) = self.torch.autograd.grad(fn(*leaves), leaves[:1], dy.double())
            return g.cpu().numpy()

        return reference


def ready(script: str, smoke: bool) -> int:
    """0 when the kernels can run as asked; else print why (naming ``script``) and return 2:
    no kernel backend at all, or a real measurement asked for without a CUDA device."""
    import sys

    import kernels.gpu

    if not kernels.gpu.available():
        print(f"{script}: {kernels.gpu.status()}", file=sys.stderr)
        return 2
    from kernels.gpu._backend import mode

    if mode() == "interpreter" and not smoke:
        print(
            f"{script}: no CUDA device (the interpreter measures nothing); run on a GPU, or "
            "pass --smoke to check the script at tiny sizes",
            file=sys.stderr,
        )
        return 2
    return 0


@dataclass(frozen=True)
class Invocation:
    """What a GPU benchmark was asked to do (its command line, read by :func:`invocation`)."""

    smoke: bool
    dtypes: tuple[str, ...]
    families: tuple[str, ...]
    machine: dict
    target: Path | None  # where the .md/.json go (None: a smoke run without --out)

    def write(self, name: str, markdown: str, payload: dict) -> None:
        """``<target>/<name>.md`` and ``.json`` (nothing without a target)."""
        if self.target is None:
            return
        self.target.mkdir(parents=True, exist_ok=True)
        (self.target / f"{name}.md").write_text(markdown)
        (self.target / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")


def invocation(
    script: str,
    description: str,
    dtypes: tuple[str, ...],
    families: tuple[str, ...],
    results: Path,
    argv: list[str] | None,
) -> Invocation | int:
    """Parse a GPU benchmark's command line (``--smoke``, ``--dtype``, ``--family``, ``--out``)
    and check that its kernels can run (:func:`ready`); an exit status when they cannot. A
    smoke run sets ``TRITON_INTERPRET=1`` and defaults to float32 (the interpreter's bfloat16
    ``tl.dot`` is wrong) and to writing nothing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes in the interpreter")
    parser.add_argument("--dtype", action="append", choices=dtypes, help="repeatable")
    parser.add_argument("--family", action="append", choices=families, help="repeatable")
    parser.add_argument("--out", type=Path, help="write the .md/.json here instead")
    args = parser.parse_args(argv)
    if args.smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")
    if (code := ready(script, args.smoke)) != 0:
        return code
    return Invocation(
        args.smoke,
        tuple(args.dtype or (("float32",) if args.smoke else dtypes)),
        tuple(args.family or families),
        machine(args.smoke),
        args.out or (None if args.smoke else results),
    )
