#!/usr/bin/env bash
# Benchmarks. Default: NumPy conv2d variants vs torch on the CPU
#   (writes benchmarks/results/conv2d_cpu.{md,json}).
# --gpu-memory: the memory-bound Triton kernels vs torch on a CUDA device, as GB/s, fraction of
#   the measured copy bandwidth and ratio to torch (benchmarks/results/gpu_memory_bound.*).
# --gpu-compute: the compute-bound Triton kernels (linear, conv, attention, RNN gates) vs
#   torch, as TFLOP/s, fraction of the measured GEMM peak and ratio to torch, with the
#   cost-scaling fits (benchmarks/results/gpu_compute_bound.*).
# --gpu: both, compute-bound first (arguments such as --smoke, --dtype, --out go to both).
# Add --smoke to check a GPU benchmark at tiny sizes in Triton's interpreter (no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
case "${1:-}" in
  --gpu-memory) shift; exec python -m benchmarks.gpu_memory_bound "$@" ;;
  --gpu-compute) shift; exec python -m benchmarks.gpu_compute_bound "$@" ;;
  --gpu)
    shift
    python -m benchmarks.gpu_compute_bound "$@"
    exec python -m benchmarks.gpu_memory_bound "$@" ;;
esac
exec python -m benchmarks.conv2d_cpu "$@"
