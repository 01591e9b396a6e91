#!/usr/bin/env bash
# Benchmarks. Default: NumPy conv2d variants vs torch on the CPU
#   (writes benchmarks/results/conv2d_cpu.{md,json}).
# --gpu: the memory-bound Triton kernels vs torch on a CUDA device, as GB/s, fraction of the
#   measured copy bandwidth and ratio to torch (writes benchmarks/results/gpu_memory_bound.*);
#   add --smoke to check the script at tiny sizes in Triton's interpreter (no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if [ "${1:-}" = "--gpu" ]; then
  shift
  exec python -m benchmarks.gpu_memory_bound "$@"
fi
exec python -m benchmarks.conv2d_cpu "$@"
