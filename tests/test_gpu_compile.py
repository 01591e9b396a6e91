"""Every Triton kernel the tests launch compiles for a Hopper GPU (sm_90), without a GPU.

The interpreter (how CI runs the kernels) never invokes Triton's compiler; this test does
(:mod:`tests.gpu_compile`): it records each launch of the bad-input table's samples in four
dtypes, then compiles every recorded specialization to PTX and a cubin for
``GPUTarget("cuda", 90, 32)``. A kernel that computes right in the interpreter but would not
compile on the GPU machines fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kernels.gpu
from tests.gpu_compile import ROOT
from tests.gpu_support import INTERPRETED, needs_kernels

pytestmark = needs_kernels


def _interpreter_too_old_for_numpy() -> bool:
    """Triton <= 3.6's interpreter int()s shape-(1,) arrays, which NumPy >= 2.3 refuses: the
    recording step cannot run there (``scripts/triton_compat.sh`` pins NumPy 2.2 for it)."""
    import numpy as np

    triton_v = tuple(
        int(v) for v in (kernels.gpu._backend.triton_version() or "0.0").split(".")[:2]
    )
    numpy_v = tuple(int(v) for v in np.__version__.split(".")[:2])
    return triton_v <= (3, 6) and numpy_v >= (2, 3)


KERNEL_MODULES = sorted(p.stem for p in (ROOT / "kernels" / "gpu").glob("_*_kernels.py"))


def _python(code: str, interpret: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRITON_INTERPRET": interpret}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # Triton 3.9's default, stated (no warning)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.mark.skipif(
    not INTERPRETED,
    reason="on a CUDA device the kernels are compiled and run by the GPU tests themselves",
)
@pytest.mark.skipif(_interpreter_too_old_for_numpy(), reason="Triton <= 3.6 needs NumPy < 2.3")
def test_every_launched_kernel_compiles_for_sm90(tmp_path: Path):
    pytest.importorskip("triton.backends.compiler")
    specs = tmp_path / "launches.json"
    rec = _python(
        f"from tests.gpu_compile import record; record(__import__('pathlib').Path({str(specs)!r}))",
        "1",
    )
    assert rec.returncode == 0, rec.stderr[-3000:]
    recorded = json.loads(specs.read_text())
    modules = {s["module"].rsplit(".", 1)[-1] for s in recorded}
    assert modules == set(KERNEL_MODULES), (
        f"kernel modules never launched: {set(KERNEL_MODULES) - modules}"
    )
    run = _python(
        "import json, pathlib\nfrom tests.gpu_compile import compile_all\n"
        f"print(json.dumps(compile_all(pathlib.Path({str(specs)!r}))))",
        "0",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    failed = [f"{name}: {status}" for name, status in results if status != "ok"]
    assert not failed, "\n".join(failed)
    assert len(results) >= len(recorded) >= len(KERNEL_MODULES)
