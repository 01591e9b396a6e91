#!/usr/bin/env bash
# Run the Triton kernels' interpreter tests under another Triton release (default 3.6.0, the
# GPU machines' image) in a throwaway virtual environment beside the project's own, so that the
# kernels stay working on both: bash scripts/triton_compat.sh [triton-version] [pytest args].
# It runs the interpreter tests and tests/test_gpu_compile.py (every launched kernel compiled
# for sm_90 with that release's compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-3.6.0}"; shift || true
venv="${TRITON_COMPAT_VENV:-.venv-triton-$version}"
# Triton 3.6's interpreter converts shape-(1,) arrays with int(), which NumPy >= 2.3 refuses
# ("only 0-dimensional arrays can be converted"): older Tritons get NumPy 2.2.6, where it warns.
numpy_pin="$(grep -E '^numpy==' requirements.lock)"
case "$version" in 3.[0-6].*) numpy_pin="numpy==2.2.6" ;; esac
if [ ! -x "$venv/bin/python" ]; then
  echo "[compat] creating $venv with triton==$version, $numpy_pin"
  python3.11 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0 "triton==$version" \
    "$numpy_pin" $(grep -E '^(sympy|PyYAML|hypothesis|pytest|mpmath|expecttest)==' requirements.lock)
fi
echo "[compat] $("$venv/bin/python" -c 'import triton; print("triton", triton.__version__)')"
exec env TRITON_INTERPRET=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q \
  tests/test_philox.py tests/test_gpu_*.py "$@"
