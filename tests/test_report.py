"""The verification report: a failing linked test makes its claim `failing`, whatever it says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from theory.ledger import load_ledger

_spec = importlib.util.spec_from_file_location(
    "verify", Path(__file__).resolve().parents[1] / "scripts" / "verify.py"
)
verify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify)

KEYS = {
    "id",
    "document",
    "section",
    "statement",
    "verdict",
    "conditions",
    "correction",
    "counterexample",
    "tests",
}


def _raw(outcome_for: dict[str, str]) -> list[dict]:
    return [
        {"nodeid": f"t::{cid}", "claims": [cid], "outcome": o} for cid, o in outcome_for.items()
    ]


def test_report_has_one_record_per_claim_with_the_required_keys():
    claims = load_ledger()
    report = verify.build_report(_raw({c.id: "passed" for c in claims}))
    assert [r["id"] for r in report] == [c.id for c in claims]
    assert all(KEYS <= set(r) for r in report)
    assert all(r["verdict"] == r["declared_verdict"] for r in report)
    assert all(set(t) == {"nodeid", "outcome"} for r in report for t in r["tests"])


def test_failing_and_untested_claims_are_reported_as_such_and_listed_first():
    first, second, *rest = load_ledger()
    raw = _raw({first.id: "failed", **{c.id: "passed" for c in rest}})
    report = verify.build_report(raw)
    status = {r["id"]: r["verdict"] for r in report}
    assert status[first.id] == "failing"
    assert status[second.id] == (
        "untested" if second.verdict != "not-checkable" else second.verdict
    )
    text = verify.summarize(report, pytest_status=1)
    assert text.startswith("FAILING OR UNTESTED CLAIMS")
    assert first.id in text.splitlines()[1]
