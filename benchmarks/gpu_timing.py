"""What the GPU benchmarks share: the timer, the machine record and the argument checks.

:func:`median_ms` times with ``triton.testing.do_bench`` on a GPU (CUDA events, warm-up, an
L2 flush before every timed call, the median), or with ``time.perf_counter`` twice in a smoke
run in Triton's interpreter (where the number means nothing: it only exercises the script).
"""

from __future__ import annotations

import datetime as dt
import platform
import statistics
import time
from collections.abc import Callable


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
