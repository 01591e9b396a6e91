#!/usr/bin/env bash
# The test command: lint, format check and the whole test suite.
# Hypothesis profile: `ci` when CI is set, else HYPOTHESIS_PROFILE or `dev`
# (`thorough` for a long run: HYPOTHESIS_PROFILE=thorough bash scripts/test.sh).
# The browser test of the built site needs Debian's Chromium: scripts/ensure_chromium.sh
# installs it when missing and it can (root or passwordless sudo); it never fails the run,
# and without Chromium the browser test skips with its reason.
source "$(dirname "$0")/env.sh"
bash scripts/ensure_chromium.sh || true
echo "[test] ruff check"; ruff check .
echo "[test] ruff format --check"; ruff format --check .
echo "[test] pytest"
exec python -m pytest -n auto -q "$@"
