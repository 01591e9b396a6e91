"""The compute-bound GPU benchmark runs end to end (``--smoke``: tiny sizes, interpreter).

No GPU is needed to keep ``benchmarks/gpu_compute_bound.py`` working: every case is built and
checked by the GPU rule before it is "timed", the FLOP counts come from the theory, the
cost-scaling fits are computed and the table and JSON are written. The times mean nothing in
the interpreter; the test checks the structure and the counts.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu_compute_bound as bench
from benchmarks.gpu_timing import machine
from tests.gpu_support import INTERPRETED, needs_kernels

pytestmark = needs_kernels


@pytest.mark.skipif(not INTERPRETED, reason="the smoke mode is for the CPU")
def test_smoke_run_checks_every_case_counts_flops_and_fits(tmp_path):
    assert bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "gpu_compute_bound.json").read_text())
    rows = payload["rows"]
    ops = {(r["op"], r["direction"]) for r in rows}
    assert {f"{op} {d}" for op, d in ops} == set(bench.FLOPS)
    flops = {(r["op"], r["direction"], r["size"]): r["flops"] for r in rows}
    assert flops[("linear", "forward", "48x48x48")] == 2 * 48**3
    assert flops[("linear", "backward", "48x48x48")] == 4 * 48**3
    assert flops[("lowrank_linear", "forward", "B=40 n=m=48 r=16")] == 2 * 40 * 16 * (48 + 48)
    # block sparse, 4x4 grid of 16x16 blocks, every 4th block stored: 4 of 16 blocks
    assert flops[("block_sparse_linear", "forward", "B=40 n=m=64 blocks 16, 1/4 stored")] == (
        2 * 40 * 4 * 16 * 16
    )
    # conv 3x3, 6->5 at 9x9, padding 1: 2 * N * C_out * C_in * 9 * 81
    assert flops[("conv2d", "forward", "3x3, 6->5 @9")] == 2 * 2 * 5 * 6 * 9 * 81
    # attention L = S = 40, D = 16, 2 heads: 4*B*H*D*L*S, causal keeps L(L+1)/2 scores
    assert flops[("attention", "forward", "B=1 H=2 L=S=40 D=16")] == 4 * 2 * 16 * 40 * 40
    assert flops[("attention", "forward", "B=1 H=2 L=S=40 D=16 causal")] == 4 * 2 * 16 * 820
    assert flops[("attention", "backward", "B=1 H=2 L=S=40 D=16")] == 10 * 2 * 16 * 1600
    # the gate kernels count bytes, not FLOPs (N = 5, H = 33, float32): LSTM forward 15NHe
    by = {(r["op"], r["direction"]): r for r in rows}
    assert by[("lstm_gates", "forward")]["flops"] == 0
    assert by[("lstm_gates", "forward")]["gbps"] is not None
    assert flops[("lstm_cell", "forward", "N=5 I=9 H=33")] == 2 * 5 * 4 * 33 * (9 + 33)
    fits = {f["series"]: f for f in payload["fits"]}
    assert set(fits) == {"block-sparse density", "separable vs dense"}
    assert len(fits["block-sparse density"]["points"]) == 2
    md = (tmp_path / "gpu_compute_bound.md").read_text()
    assert md.startswith("**Smoke run in Triton's interpreter: times are not measurements.**")
    assert "Cost scaling" in md and "Aim 1" in md and "Aim 3" in md


def test_aim_1_is_judged_on_the_largest_dense_forward_rows():
    def row(direction, ratio, flops):
        return bench.Row("linear", "linear", direction, "n", "bfloat16", flops, 1.0, 1.0, 0, 0,
                         0, ratio)  # fmt: skip

    slow_forward = [row("forward", 0.5, 2), row("backward", 1.2, 4)]
    assert (
        "Aim 1 (dense linear ≥ 90% of torch's GEMM, largest square, bf16/fp16): met by 0 of 1"
        in (bench.verdict(slow_forward))
    )
    assert "met by 1 of 1" in bench.verdict([row("forward", 0.95, 2), row("forward", 0.1, 1)])


def test_a_failed_check_is_reported_not_timed_and_the_run_goes_on(monkeypatch):
    import torch

    def cases(torch_, sizes, dtype, families):
        b = bench._Builder(torch_, dtype, smoke=True)
        x = b.randn(4)
        b.add("linear", "good", "forward", "4", 8, lambda: x * 2, lambda: x * 2,
              b.ref64(lambda t: t * 2, x))  # fmt: skip
        b.add("linear", "wrong", "forward", "4", 8, lambda: x * 3, lambda: x * 2,
              b.ref64(lambda t: t * 2, x))  # fmt: skip
        return b.cases

    monkeypatch.setattr(bench, "_cases", cases)
    peaks, rows, failed = bench.run("smoke", ("float32",), ("linear",))
    assert [r.op for r in rows] == ["good"]
    assert len(failed) == 1 and failed[0].startswith("wrong forward 4 float32: float32:")
    md = bench.to_markdown(peaks, rows, machine(True), True, failed)
    assert "**Checks failed (not timed):**" in md and "- wrong forward" in md
    assert torch.backends.cuda.matmul.allow_tf32 is False  # restored


def test_fit_recovers_a_line_and_says_when_it_cannot():
    rows = [
        bench.Row("f", "op", "forward", str(m), "float32", 2 * m, 0.5 + 3e-6 * m, None, 0, None,
                  0, None, "s", m)
        for m in (1000, 2000, 4000)
    ]  # fmt: skip
    f = bench.fit("s", "float32", rows)
    assert f.ms_per_gmac == pytest.approx(3e3) and f.intercept_ms == pytest.approx(0.5)
    assert f.r2 == pytest.approx(1.0)
    assert bench.fit("s", "float32", rows[:1]).note == "fewer than two points"
    same = [bench.Row(**{**r.__dict__, "macs": 7}) for r in rows]
    assert bench.fit("s", "float32", same).note == "all points have the same MAC count"


@pytest.mark.skipif(not INTERPRETED, reason="needs the interpreter")
def test_a_real_measurement_needs_a_gpu(capsys):
    assert bench.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err
