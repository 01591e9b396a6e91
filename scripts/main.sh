#!/usr/bin/env bash
# The main job: the verification run (build/verdicts.json) and the docs site (site/).
source "$(dirname "$0")/env.sh"
status=0
python scripts/verify.py "$@" || status=$?
export DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1  # plugin banners, not build warnings
echo "[docs] mkdocs build --strict"
mkdocs build --strict --quiet
cat <<TXT

Verification report: $(pwd)/build/verdicts.json   (summary: build/summary.txt)
Docs site:           $(pwd)/site/index.html
  open it directly in a browser (works offline), or serve it with:
  .venv/bin/mkdocs serve        then visit http://127.0.0.1:8000/
TXT
exit $status
