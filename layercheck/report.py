"""The verdict report: a versioned JSON object, one record per claim of the ledger.

``build/verdicts.json`` is written by ``layercheck check`` and published with the site
(``verdicts.json``); its format is documented on the site's "Verdict report format" page and
checked by :func:`validate_report`. Schema version 2 (version 1 was a bare list):

* top level: ``schema`` (``"layercheck-verdicts"``), ``schema_version`` (2), ``generated``
  (UTC time of the last write), ``ledger`` (claim count and a hash of the ledger files),
  ``summary`` (claims per earned verdict), ``runs`` (the verification runs that earned the
  verdicts: commit, time, platform, versions, hypothesis profile and seed, selection, pytest
  status) and ``claims``;
* per claim: the ledger record (``id``, ``title``, ``document``, ``section``, ``statement``,
  ``declared_verdict``, conditions, correction, …), the **earned** verdict, the ``tests``
  linked to it with their outcomes, and ``run``: the id of the run that earned it (``null``
  when no run has checked the claim yet).

A run that checks only some claims (``layercheck check --topic pooling``) replaces the records
of those claims and leaves every other claim's earned verdict, tests and run as they were
(:func:`merge_run`).

Earned verdict (:func:`earned_verdict`): ``failing`` when a linked test failed or errored,
``untested`` when a checkable claim had no linked test in its run, ``unverified`` when no run
has checked it, otherwise the declared verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from theory.ledger import CLAIMS_DIR, VERDICTS, Claim, load_ledger

SCHEMA = "layercheck-verdicts"
SCHEMA_VERSION = 2
#: Earned verdicts: the ledger's verdicts plus the three states a run can leave a claim in.
STATUSES = (*VERDICTS, "failing", "untested", "unverified")
OUTCOMES = ("passed", "failed", "error", "skipped")
#: Keys of a claim record, in the order they are written.
CLAIM_KEYS = (
    "id",
    "title",
    "topic",
    "document",
    "section",
    "kind",
    "statement",
    "declared_verdict",
    "earned_verdict",
    "conditions",
    "correction",
    "counterexample",
    "readings",
    "reason",
    "theory",
    "kernels",
    "derivation",
    "references",
    "docs",
    "run",
    "tests",
)
RUN_KEYS = (
    "id",
    "started",
    "finished",
    "duration_s",
    "commit",
    "commit_dirty",
    "platform",
    "versions",
    "hypothesis",
    "selection",
    "pytest_args",
    "pytest_exit_status",
    "linked_tests",
)
_CLAIM_TYPES: dict[str, type | tuple[type, ...]] = {
    "readings": list,
    "theory": list,
    "kernels": list,
    "references": list,
    "tests": list,
    "run": (int, type(None)),
}
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "build" / "verdicts.json"


def docs_link(claim: Claim) -> str:
    """The claim's place on the site, relative to the site root:
    ``claims/<topic>.html#<id with dots as dashes>``."""
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a theory.ledger.Claim, got {type(claim).__name__}")
    return f"claims/{claim.topic}.html#{claim.id.replace('.', '-')}"


def earned_verdict(declared: str, outcomes: Sequence[str] | None) -> str:
    """The verdict a run earns for a claim declared ``declared`` whose linked tests ended with
    ``outcomes`` (``None``: no run has checked the claim).

    ``failing`` if any outcome is ``failed``/``error``; ``untested`` if no linked test
    passed (none ran, or all were skipped) and the claim is checkable (every verdict but
    ``not-checkable``); ``unverified`` for ``None``; else ``declared``. A skipped test next
    to passing ones neither earns nor loses the verdict.
    """
    if declared not in VERDICTS:
        raise ValueError(f"declared must be one of {VERDICTS}, got {declared!r}")
    if outcomes is None:
        return "unverified"
    if isinstance(outcomes, str | bytes) or not isinstance(outcomes, Sequence):
        raise TypeError(f"outcomes must be a sequence of outcomes or None, got {outcomes!r}")
    bad = [o for o in outcomes if o not in OUTCOMES]
    if bad:
        raise ValueError(f"outcomes must each be one of {OUTCOMES}, got {bad[0]!r}")
    if any(o in ("failed", "error") for o in outcomes):
        return "failing"
    if "passed" not in outcomes and declared != "not-checkable":
        return "untested"
    return declared


def _ledger_hash(directory: Path = CLAIMS_DIR) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _record(claim: Claim, tests: list[dict] | None, run: int | None) -> dict[str, Any]:
    outcomes = None if tests is None else [t["outcome"] for t in tests]
    return {
        "id": claim.id,
        "title": claim.title,
        "topic": claim.topic,
        "document": claim.document,
        "section": claim.section,
        "kind": claim.kind,
        "statement": claim.statement,
        "declared_verdict": claim.verdict,
        "earned_verdict": earned_verdict(claim.verdict, outcomes),
        "conditions": claim.conditions,
        "correction": claim.correction,
        "counterexample": claim.counterexample,
        "readings": [dict(r) for r in claim.readings],
        "reason": claim.reason,
        "theory": list(claim.theory),
        "kernels": list(claim.kernels),
        "derivation": claim.derivation,
        "references": list(claim.references),
        "docs": docs_link(claim),
        "run": run,
        "tests": [] if tests is None else tests,
    }


def _finish(claims: list[dict], runs: list[dict]) -> dict[str, Any]:
    used = {c["run"] for c in claims if c["run"] is not None}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "ledger": {"claims": len(claims), "sha256": _ledger_hash()},
        "summary": dict(Counter(c["earned_verdict"] for c in claims)),
        "runs": [r for r in runs if r["id"] in used],
        "claims": claims,
    }


def new_report() -> dict[str, Any]:
    """A report in which no claim has been checked yet (every earned verdict
    ``unverified``), for the current ledger."""
    return _finish([_record(c, None, None) for c in load_ledger()], [])


def merge_run(
    report: Mapping[str, Any],
    raw: Iterable[Mapping[str, Any]],
    run: Mapping[str, Any],
    selected: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The report after one verification run.

    ``report`` is the previous (valid) report; ``raw`` the run's per-test outcomes
    ``{nodeid, outcome, claims}`` (written by the test suite's ``--claims-report``); ``run``
    the run's metadata (its ``id`` is replaced by the next free id); ``selected`` the ids the
    run checked (``None``: every claim). Claims in ``selected`` get the run's tests and earned
    verdict; every other claim keeps its previous record, refreshed from the current ledger
    (its earned verdict is recomputed from its stored tests, so a changed declared verdict
    shows). Claims that left the ledger are dropped, new ones are ``unverified``.
    """
    validate_report(report)
    ledger = load_ledger()
    known = {c.id for c in ledger}
    chosen = known if selected is None else set(_strings(selected, "selected"))
    unknown = sorted(chosen - known)
    if unknown:
        raise ValueError(f"selected must name claims of the ledger; unknown: {unknown[:5]}")
    if not isinstance(run, Mapping):
        raise TypeError(f"run must be a mapping of run metadata, got {type(run).__name__}")
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        raise TypeError(f"raw must be a list of per-test outcomes, got {type(raw).__name__}")
    tests: dict[str, list[dict]] = {cid: [] for cid in chosen}
    for entry in raw:
        if not isinstance(entry, Mapping) or {"nodeid", "outcome", "claims"} - set(entry):
            raise ValueError(f"raw entries must be {{nodeid, outcome, claims}}, got {entry!r}")
        if entry["outcome"] not in OUTCOMES:
            raise ValueError(f"raw outcome must be one of {OUTCOMES}, got {entry['outcome']!r}")
        for cid in dict.fromkeys(entry["claims"]):  # a test may name a claim twice
            if cid in tests:
                tests[cid].append({"nodeid": entry["nodeid"], "outcome": entry["outcome"]})
    if run.get("pytest_args"):
        chosen = {cid for cid in chosen if tests[cid]}
    old = {c["id"]: c for c in report["claims"]}
    runs = list(report["runs"])
    run_id = max((r["id"] for r in runs), default=0) + 1
    runs.append({**{k: run.get(k) for k in RUN_KEYS}, "id": run_id})
    claims = [
        _record(c, sorted(tests[c.id], key=lambda t: t["nodeid"]), run_id)
        if c.id in chosen
        else _kept(c, old.get(c.id))
        for c in ledger
    ]
    return _finish(claims, runs)


def _kept(claim: Claim, old: Mapping[str, Any] | None) -> dict[str, Any]:
    """A claim's record carried over from an earlier run: refreshed from the ledger, and
    unverified when no run checked it or its declared verdict changed since."""
    if old is None or old["run"] is None or old["declared_verdict"] != claim.verdict:
        return _record(claim, None, None)
    return _record(claim, old["tests"], old["run"])


def _strings(values: Iterable[str], name: str) -> list[str]:
    """``values`` as a list of str (claim ids, topics, pytest arguments); ``TypeError``
    naming ``name`` otherwise (a bare str is refused: it is not a list of them)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of str, got {values!r}")
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a list of str, got an item {v!r}")
    return out


def validate_report(report: Any) -> None:
    """Check that ``report`` is a schema-version-2 verdict report; ``TypeError`` or
    ``ValueError`` naming the first key that is wrong."""
    if not isinstance(report, Mapping):
        raise TypeError(f"report must be a mapping (schema {SCHEMA}), got {type(report).__name__}")
    if report.get("schema") != SCHEMA or report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"report must have schema {SCHEMA!r} version {SCHEMA_VERSION}, got "
            f"{report.get('schema')!r} version {report.get('schema_version')!r}"
        )
    for key, kind in (("runs", list), ("claims", list), ("summary", dict), ("ledger", dict)):
        if not isinstance(report.get(key), kind):
            raise ValueError(f"report[{key!r}] must be a {kind.__name__}")
    run_ids = set()
    for i, run in enumerate(report["runs"]):
        if not isinstance(run, Mapping) or set(run) != set(RUN_KEYS):
            raise ValueError(f"report['runs'][{i}] must have exactly the keys {RUN_KEYS}")
        if not isinstance(run["id"], int) or isinstance(run["id"], bool) or run["id"] in run_ids:
            raise ValueError(f"report['runs'][{i}]['id'] must be a unique int")
        run_ids.add(run["id"])
    seen = set()
    for i, c in enumerate(report["claims"]):
        where = f"report['claims'][{i}]"
        if not isinstance(c, Mapping) or set(c) != set(CLAIM_KEYS):
            raise ValueError(f"{where} must have exactly the keys {CLAIM_KEYS}")
        for key in CLAIM_KEYS:
            kind = _CLAIM_TYPES.get(key, str)
            if not isinstance(c[key], kind) or isinstance(c[key], bool):
                raise ValueError(f"{where}[{key!r}] must be of type {kind}, got {c[key]!r}")
        for t in c["tests"]:
            if not isinstance(t, Mapping) or set(t) != {"nodeid", "outcome"}:
                raise ValueError(f"{where}: each test must be {{nodeid, outcome}}, got {t!r}")
            if not isinstance(t["nodeid"], str) or t["outcome"] not in OUTCOMES:
                raise ValueError(f"{where}: test {t!r} needs a str nodeid and an outcome")
        if c["id"] in seen:
            raise ValueError(f"{where}: duplicate id {c['id']!r}")
        if c["docs"] != f"claims/{c['topic']}.html#{c['id'].replace('.', '-')}":
            raise ValueError(f"{where}['docs'] must be the claim's page and anchor")
        seen.add(c["id"])
        if c["declared_verdict"] not in VERDICTS or c["earned_verdict"] not in STATUSES:
            raise ValueError(f"{where}: verdicts must be in {VERDICTS} / {STATUSES}")
        if c["run"] is not None and c["run"] not in run_ids:
            raise ValueError(f"{where}: run {c['run']!r} is not in report['runs']")
        outcomes = None if c["run"] is None else [t.get("outcome") for t in c["tests"]]
        if c["earned_verdict"] != earned_verdict(c["declared_verdict"], outcomes):
            raise ValueError(f"{where}: earned_verdict does not follow from its tests")
    if report["ledger"].get("claims") != len(report["claims"]):
        raise ValueError("report['ledger']['claims'] must be the number of claims")
    counts = dict(Counter(c["earned_verdict"] for c in report["claims"]))
    if dict(report["summary"]) != counts:
        raise ValueError(f"report['summary'] must count the earned verdicts: {counts}")


def load_report(path: str | os.PathLike[str] = DEFAULT_PATH) -> dict[str, Any]:
    """The report at ``path``, checked and refreshed against the current ledger (a claim
    added since is ``unverified``, a removed one dropped). A missing file gives
    :func:`new_report`; a version-1 report (a bare list) is read as unverified, since it
    records no run. ``ValueError`` for a file that is not a report."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a path (str or os.PathLike), got {path!r}")
    p = Path(path)
    if not p.exists():
        return new_report()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"path {p} is not a readable JSON report: {e}") from None
    if isinstance(data, list):  # schema version 1: no run metadata to carry over
        return new_report()
    validate_report(data)
    return _refresh(data)


def _refresh(report: Mapping[str, Any]) -> dict[str, Any]:
    old = {c["id"]: c for c in report["claims"]}
    claims = [_kept(c, old.get(c.id)) for c in load_ledger()]
    out = _finish(claims, list(report["runs"]))
    out["generated"] = report.get("generated", out["generated"])
    return out


def write_report(report: Mapping[str, Any], path: str | os.PathLike[str] = DEFAULT_PATH) -> Path:
    """Validate ``report`` and write it to ``path``, a ``.json`` file (parent directories
    created); returns the path."""
    validate_report(report)
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a path (str or os.PathLike), got {path!r}")
    p = Path(path)
    if p.suffix != ".json":
        raise ValueError(f"path must name a .json file, got {str(p)!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return p
