"""Build the docs site once per test session, even under pytest-xdist.

``built_site(tmp_path_factory)`` runs ``mkdocs build --strict`` into a temporary directory and
returns its path. Under xdist every worker calls it; a file lock in the directory shared by the
workers (``tmp_path_factory.getbasetemp().parent``) lets the first one build while the others
wait and reuse the result, as pytest-xdist documents ("Making session-scoped fixtures execute
only once", https://pytest-xdist.readthedocs.io/en/stable/how-to.html). Without xdist that
parent directory is shared across runs, so the site is built under the run's own base
directory instead. A failed build is recorded too, so waiting workers fail at once with the
same log instead of building again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
MKDOCS_ENV = {"DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}


def _build(site: Path) -> dict:
    start = time.monotonic()
    mkdocs = Path(sys.executable).with_name("mkdocs")
    cmd = [str(mkdocs) if mkdocs.exists() else "mkdocs", "build", "--strict", "-d", str(site)]
    done = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **MKDOCS_ENV}, capture_output=True, text=True
    )
    return {
        "ok": done.returncode == 0,
        "seconds": round(time.monotonic() - start, 1),
        "log": (done.stdout + done.stderr)[-4000:],
        "site": str(site),
    }


def once(tmp_path_factory: pytest.TempPathFactory, name: str, produce) -> dict:
    """``produce()`` (a JSON-able dict) computed at most once per session, even under xdist:
    the first worker computes it under a file lock and the others read its record."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        shared = tmp_path_factory.getbasetemp()
    else:
        shared = tmp_path_factory.getbasetemp().parent
    record = shared / f"{name}.json"
    with FileLock(str(record) + ".lock"):
        if record.is_file():
            return json.loads(record.read_text())
        result = produce(shared)
        record.write_text(json.dumps(result))
        return result


def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site's directory (built at most once per session); fails on a build error."""
    result = once(tmp_path_factory, "docs-site", lambda shared: _build(shared / "docs-site"))
    if not result["ok"]:
        pytest.fail(f"mkdocs build --strict failed:\n{result['log']}", pytrace=False)
    return Path(result["site"])


def html_pages(site: Path) -> list[Path]:
    """The site's pages: every HTML file except 404.html, assets and the search index."""
    return sorted(
        p
        for p in site.rglob("*.html")
        if p.name != "404.html" and p.relative_to(site).parts[0] not in ("assets", "search")
    )
