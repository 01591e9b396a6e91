#!/usr/bin/env bash
# Run the Triton kernels' interpreter tests under another Triton release (default 3.6.0, the
# GPU machines' image) in a throwaway virtual environment beside the project's own, so that the
# kernels stay working on both: bash scripts/triton_compat.sh [triton-version] [pytest args].
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-3.6.0}"; shift || true
venv="${TRITON_COMPAT_VENV:-.venv-triton-$version}"
if [ ! -x "$venv/bin/python" ]; then
  echo "[compat] creating $venv with triton==$version"
  python3.11 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0 "triton==$version" \
    $(grep -E '^(numpy|sympy|PyYAML|hypothesis|pytest|mpmath)==' requirements.lock)
fi
echo "[compat] $("$venv/bin/python" -c 'import triton; print("triton", triton.__version__)')"
exec env TRITON_INTERPRET=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q \
  tests/test_philox.py tests/test_gpu_*.py "$@"
