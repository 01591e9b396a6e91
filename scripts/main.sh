#!/usr/bin/env bash
# The main job: the verification run (every test; build/verdicts.json and a Markdown summary)
# and the docs site (site/). Extra arguments go to `layercheck check` (e.g. --topic pooling).
source "$(dirname "$0")/env.sh"
status=0
layercheck check "$@" || status=$?
layercheck report >/dev/null
layercheck site build || status=$?
cat <<TXT

Verification report: $(pwd)/build/verdicts.json   (summary: build/verdicts.md)
Docs site:           $(pwd)/site/index.html
  open it directly in a browser (works offline, search included), or serve it with:
  layercheck site serve        then visit http://127.0.0.1:8000/
TXT
exit $status
