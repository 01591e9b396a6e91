"""One verification run: run the tests linked to the chosen claims, record how the run was made.

``layercheck check`` calls :func:`select_claims` and ``_run_check``. The tests run in a
subprocess (``python -m pytest -n auto``) with the suite's ``--claims-report`` (per-test
outcomes with their claim ids) and, for a partial run, ``--claims-select`` (only the tests
linked to the chosen claims are kept). The run's metadata (commit, time, platform, versions,
hypothesis profile and seed, selection, pytest's exit status) goes into the report with the
outcomes (:func:`layercheck.report.merge_run`).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from layercheck.report import _strings, merge_run
from theory.ledger import DOCUMENTS, load_ledger

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("torch", "numpy", "sympy", "hypothesis", "pytest", "triton")


#: A document by its short name (``d000``) or its file name, to its file name.
DOCUMENT_FILES = {**DOCUMENTS, **{v: v for v in DOCUMENTS.values()}}


def select_claims(
    topics: Sequence[str] = (), claims: Sequence[str] = (), documents: Sequence[str] = ()
) -> list[str] | None:
    """The ids chosen by topic, claim id and document (``d000``/``d002`` or the file name),
    in ledger order; ``None`` when nothing is chosen (every claim). A topic or claim id that
    the ledger does not have is a ``ValueError`` listing the allowed ones."""
    topics = _strings(topics, "topics")
    claims = _strings(claims, "claims")
    documents = _strings(documents, "documents")
    ledger = load_ledger()
    known_topics = sorted({c.topic for c in ledger})
    for t in topics:
        if t not in known_topics:
            raise ValueError(f"topics: unknown topic {t!r}; allowed: {', '.join(known_topics)}")
    ids = {c.id for c in ledger}
    for cid in claims:
        if cid not in ids:
            near = sorted(i for i in ids if cid in i)[:5]
            hint = f"; did you mean {', '.join(near)}?" if near else " (see `layercheck list`)"
            raise ValueError(f"claims: unknown claim id {cid!r}{hint}")
    for d in documents:
        if d not in DOCUMENT_FILES:
            raise ValueError(
                f"documents: unknown document {d!r}; allowed: {sorted(DOCUMENT_FILES)}"
            )
    if not (topics or claims or documents):
        return None
    wanted_files = {DOCUMENT_FILES[d] for d in documents}
    return [
        c.id for c in ledger if c.topic in topics or c.id in claims or c.document in wanted_files
    ]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def hypothesis_profile() -> str:
    """The hypothesis profile the test suite will load: ``HYPOTHESIS_PROFILE``, else ``ci``
    when ``CI`` is set, else ``dev`` (the rule of ``tests/conftest.py``)."""
    return os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")


def _profile(pytest_args: Sequence[str]) -> str:
    """The profile the run loads: a ``--hypothesis-profile`` among the pytest arguments wins."""
    profile = hypothesis_profile()
    for i, arg in enumerate(pytest_args):
        if arg.startswith("--hypothesis-profile="):
            profile = arg.split("=", 1)[1]
        elif arg == "--hypothesis-profile" and i + 1 < len(pytest_args):
            profile = pytest_args[i + 1]
    return profile


def _run_check(
    selected: Sequence[str] | None,
    previous: dict[str, Any],
    raw_path: Path,
    *,
    seed: int | None = None,
    pytest_args: Sequence[str] = (),
    workers: str = "auto",
) -> tuple[dict[str, Any], int]:
    """Run the tests linked to ``selected`` (``None``: the whole suite, linked or not) and
    merge their outcomes into ``previous``; returns ``(report, pytest exit status)``. The
    per-test outcomes are kept in ``raw_path``. (Private: it launches the test suite, so it
    has no place in the bad-input fuzz; ``layercheck check`` is its interface.)

    ``seed`` is passed to hypothesis (``--hypothesis-seed``) and recorded; a fresh one is
    drawn when it is ``None`` so that every run can be repeated (profiles that derandomize,
    like ``ci``, ignore it — the report says which profile ran).
    """
    if selected is not None:
        selected = _strings(selected, "selected")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    pytest_args = _strings(pytest_args, "pytest_args")
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    raw_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-n", workers, "--claims-report", str(raw_path)]
    cmd += [f"--hypothesis-seed={seed}"]
    shown = list(cmd[2:])
    if selected is not None:
        cmd += ["--claims-select", ",".join(selected) or "-"]
        shown += ["--claims-select", f"<{len(selected)} claims>"]
    cmd += pytest_args
    shown += pytest_args
    print("[check]", " ".join(shown), flush=True)
    commit = _git("rev-parse", "HEAD")  # before the run: the code that was tested
    dirty = None if commit is None else bool(_git("status", "--porcelain", "--untracked-files=no"))
    started, t0 = datetime.now(UTC), time.monotonic()
    status = subprocess.call(cmd, cwd=ROOT)
    finished = datetime.now(UTC)
    if not raw_path.exists():
        raise RuntimeError(f"pytest wrote no {raw_path} (exit status {status}); see above")
    raw = json.loads(raw_path.read_text())
    run = {
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - t0, 1),
        "commit": commit,
        "commit_dirty": dirty,
        "platform": {
            "system": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {p: _version(p) for p in PACKAGES},
        "hypothesis": {"profile": _profile(pytest_args), "seed": seed},
        "selection": None if selected is None else {"claims": list(selected)},
        "pytest_args": pytest_args,
        "pytest_exit_status": status,
        "linked_tests": len(raw),
    }
    return merge_run(previous, raw, run, selected), status
