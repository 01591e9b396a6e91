#!/usr/bin/env bash
# One prepared check for a lent CUDA machine, in its image's own python3 (torch, Triton, pytest,
# hypothesis, sympy, PyYAML are there; no venv, nothing to download): the Triton kernels' tests
# compiled and run on the GPU (the GPU-only sizes included), torch's attention backends, then the
# compute-bound and the memory-bound benchmarks. Logs and results go to $OUT (the device tool's
# folder) or build/gpu_check. The limits below keep the whole run under the device tool's
# 10 minutes a command; each benchmark writes its table after every dtype, so a cut run keeps
# what it measured.
#   device tool:  bash scripts/gpu_check.sh            (about 9 minutes)
# Commit the benchmarks' gpu_{compute,memory}_bound.{md,json} to benchmarks/results/ to show
# them on the site.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-build/gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
unset TRITON_INTERPRET
python3 - <<'PY' 2>&1 | tee "$out/versions.txt"
import numpy, torch, triton
print("torch", torch.__version__, "triton", triton.__version__, "numpy", numpy.__version__)
print("device", torch.cuda.get_device_name() if torch.cuda.is_available() else "NO CUDA DEVICE")
PY
python3 -m kernels.gpu | tee -a "$out/versions.txt"
timeout 210 python3 -m pytest -q -p no:cacheprovider -o addopts="" -rfE \
  tests/test_philox.py tests/test_gpu_*.py tests/test_opinfo_gpu.py tests/test_attention_cuda.py \
  2>&1 | tee "$out/tests.log"
tests=${PIPESTATUS[0]}
timeout 210 python3 -m benchmarks.gpu_compute_bound --out "$out" 2>&1 | tee "$out/compute.log"
compute=${PIPESTATUS[0]}
timeout 150 python3 -m benchmarks.gpu_memory_bound --out "$out" 2>&1 | tee "$out/bench.log"
bench=${PIPESTATUS[0]}
echo "[gpu_check] tests exit $tests, compute benchmark exit $compute, memory benchmark exit" \
  "$bench; files in $out"
exit $(( tests != 0 || compute != 0 || bench != 0 ))
