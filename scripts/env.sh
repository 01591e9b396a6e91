# Sourced by scripts/main.sh and scripts/test.sh: create or update the project's virtual
# environment (.venv) from requirements.lock, then activate it. Re-installs only when
# requirements.lock or pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.installed"
want="$(cat "$root/requirements.lock" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  echo "[env] creating virtual environment in .venv (python3.11)"
  python3.11 -m venv "$venv" 2>/dev/null || python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[env] installing pinned dependencies (requirements.lock) and the project"
  log="$venv/pip.log"
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check -r "$root/requirements.lock" \
         && "$venv/bin/python" -m pip install --disable-pip-version-check --no-deps -e "$root"; } \
       >"$log" 2>&1; then
    grep -v 'is ignored: it is neither a file nor a directory' "$log" >&2
    echo "[env] pip install failed (full log: $log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
cd "$root"
