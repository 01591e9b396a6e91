#!/usr/bin/env bash
# The test command: lint, format check and the whole test suite.
# Hypothesis profile: `ci` when CI is set, else HYPOTHESIS_PROFILE or `dev`
# (`thorough` for a long run: HYPOTHESIS_PROFILE=thorough bash scripts/test.sh).
source "$(dirname "$0")/env.sh"
echo "[test] ruff check"; ruff check .
echo "[test] ruff format --check"; ruff format --check .
echo "[test] pytest"
exec python -m pytest -n auto -q "$@"
