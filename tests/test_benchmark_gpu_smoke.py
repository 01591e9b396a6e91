"""The GPU benchmark script runs end to end (``--smoke``: tiny sizes in Triton's interpreter).

No GPU is needed to keep ``benchmarks/gpu_memory_bound.py`` working: every case is built,
checked for correctness (the GPU rule, or exactness) before it is "timed", and the table and
JSON are written. The times are meaningless in the interpreter; the test checks the structure:
one row per kernel and pass, bytes equal to the formulas, and a refusal to run a real
measurement without a CUDA device.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu_memory_bound as bench
from tests.gpu_support import INTERPRETED, needs_kernels

pytestmark = needs_kernels


@pytest.mark.skipif(not INTERPRETED, reason="the smoke mode is for the CPU")
def test_smoke_run_checks_every_case_and_writes_the_table(tmp_path, capsys):
    assert bench.main(["--smoke", "--dtype", "float32", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "gpu_memory_bound.json").read_text())
    rows = payload["rows"]
    kinds = {(r["op"], r["direction"]) for r in rows}
    assert {f"{op} {direction}" for op, direction in kinds} == set(bench.BYTES)
    by = {(r["op"], r["direction"]): r["bytes"] for r in rows}
    assert by[("softmax", "forward")] == 2 * 64 * 1000 * 4  # 2MNe
    assert by[("softmax", "backward")] == 3 * 64 * 1000 * 4  # 3MNe
    assert by[("dropout", "forward")] == 2 * 4096 * 4  # 2ne
    assert by[("max_pool2d", "forward")] == (2 * 3 * 9 * 11 + 2 * 3 * 4 * 5) * 4
    assert by[("embedding", "backward")] == 8 * 40 + (40 * 16 + 50 * 16) * 4
    md = (tmp_path / "gpu_memory_bound.md").read_text()
    assert md.startswith("**Smoke run in Triton's interpreter: times are not measurements.**")
    assert "Aim 1" in md and "Aim 2" in md


@pytest.mark.skipif(not INTERPRETED, reason="needs the interpreter")
def test_a_real_measurement_needs_a_gpu(capsys):
    assert bench.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_a_case_without_a_check_is_refused():
    import torch

    b = bench._Builder(torch, "float32", smoke=True)
    with pytest.raises(AssertionError, match="without a check"):
        b.add("x", "op", "forward", "1", 4, lambda: None, lambda: None)
