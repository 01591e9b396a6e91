#!/usr/bin/env bash
# CPU benchmark: NumPy conv2d variants vs torch (writes benchmarks/results/conv2d_cpu.{md,json}).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec python -m benchmarks.conv2d_cpu "$@"
