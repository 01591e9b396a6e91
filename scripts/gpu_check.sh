#!/usr/bin/env bash
# One prepared check for a lent CUDA machine, in its image's own python3 (torch, Triton, pytest,
# hypothesis, sympy, PyYAML are there; no venv, nothing to download): the Triton kernels' tests
# compiled and run on the GPU (the GPU-only sizes included), torch's attention backends, then the
# compute-bound and the memory-bound benchmarks. Logs and results go to $OUT (the device tool's
# folder) or build/gpu_check. The limits below keep the whole run under the device tool's
# 10 minutes a command; each benchmark writes its table after every dtype, so a cut run keeps
# what it measured.
#   device tool:  bash scripts/gpu_check.sh   (at most 240 + 200 + 140 s: under 10 minutes)
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
# The GPU tests in four processes at once: each kernel specialization is compiled at its first
# launch (hundreds of them, seconds each), and the machine has 16 cores to compile on.
groups=(
  "tests/test_gpu_linear.py tests/test_gpu_conv.py"
  "tests/test_gpu_flash_attention.py tests/test_gpu_recurrent.py tests/test_attention_cuda.py"
  "tests/test_gpu_norm.py tests/test_gpu_pool.py tests/test_gpu_softmax.py tests/test_philox.py"
  "tests/test_gpu_dropout.py tests/test_gpu_embedding.py tests/test_gpu_backend.py tests/test_opinfo_gpu.py"
)
pids=()
for i in "${!groups[@]}"; do
  # shellcheck disable=SC2086
  timeout 240 python3 -m pytest -q -p no:cacheprovider -o addopts="" -rfE ${groups[$i]} \
    > "$out/tests_$i.log" 2>&1 &
  pids+=($!)
done
tests=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || tests=1
  echo "[gpu_check] test group $i: $(tail -n 1 "$out/tests_$i.log")"
done
timeout 200 python3 -m benchmarks.gpu_compute_bound --out "$out" 2>&1 | tee "$out/compute.log"
compute=${PIPESTATUS[0]}
timeout 140 python3 -m benchmarks.gpu_memory_bound --out "$out" 2>&1 | tee "$out/bench.log"
bench=${PIPESTATUS[0]}
echo "[gpu_check] tests exit $tests, compute benchmark exit $compute, memory benchmark exit" \
  "$bench; files in $out"
exit $(( tests != 0 || compute != 0 || bench != 0 ))
