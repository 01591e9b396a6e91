"""The verification run: run the tests linked to claims, then write the verdict report.

Usage: ``python scripts/verify.py [extra pytest args]`` (``bash scripts/main.sh`` calls it).

Writes ``build/verdicts.json`` (one object per ledger claim; format in docs/report-format.md),
``build/test-claims.json`` (raw per-test outcomes) and ``build/summary.txt``, and prints the
summary: failures and their claims first, then claims per verdict per topic. Exits non-zero
when any test fails or any checkable claim has no test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from theory.ledger import VERDICTS, load_ledger  # noqa: E402

BUILD = ROOT / "build"
RAW = BUILD / "test-claims.json"
REPORT = BUILD / "verdicts.json"
SUMMARY = BUILD / "summary.txt"
STATUSES = (*VERDICTS, "failing", "untested")


def run_tests(extra: list[str]) -> int:
    """Run the whole suite (every test, linked or not) with a progress display."""
    BUILD.mkdir(exist_ok=True)
    RAW.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-n", "auto", "--claims-report", str(RAW), *extra]
    print("[verify]", " ".join(cmd[2:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def build_report(raw: list[dict]) -> list[dict]:
    """Merge per-test outcomes into one record per claim of the ledger."""
    by_claim: dict[str, list[dict]] = defaultdict(list)
    for entry in raw:
        for cid in entry["claims"]:
            by_claim[cid].append({"nodeid": entry["nodeid"], "outcome": entry["outcome"]})
    report = []
    for c in load_ledger():
        tests = by_claim.get(c.id, [])
        if any(t["outcome"] in ("failed", "error") for t in tests):
            status = "failing"
        elif not tests and c.verdict != "not-checkable":
            status = "untested"
        else:
            status = c.verdict
        report.append(
            {
                "id": c.id,
                "document": c.document,
                "section": c.section,
                "statement": c.statement,
                "verdict": status,
                "declared_verdict": c.verdict,
                "conditions": c.conditions,
                "correction": c.correction,
                "counterexample": c.counterexample,
                "tests": tests,
                "topic": c.topic,
                "kind": c.kind,
                "readings": list(c.readings),
                "reason": c.reason,
                "theory": list(c.theory),
                "kernels": list(c.kernels),
                "derivation": c.derivation,
                "references": list(c.references),
            }
        )
    return report


def summarize(report: list[dict], pytest_status: int) -> str:
    lines = []
    bad = [r for r in report if r["verdict"] in ("failing", "untested")]
    if bad:
        lines.append("FAILING OR UNTESTED CLAIMS")
        for r in bad:
            lines.append(
                f"  {r['verdict'].upper():9} {r['id']}  ({r['document']} § {r['section']})"
            )
            lines += [f"            {t['outcome']}: {t['nodeid']}" for t in r["tests"]
                      if t["outcome"] in ("failed", "error")]  # fmt: skip
        lines.append("")
    topics = sorted({r["topic"] for r in report})
    counts = {t: Counter(r["verdict"] for r in report if r["topic"] == t) for t in topics}
    shown = [s for s in STATUSES if any(counts[t][s] for t in topics)]
    width = max(len(t) for t in [*topics, "topic", "all"]) + 2
    lines.append("claims per verdict per topic")
    lines.append("topic".ljust(width) + "".join(s.rjust(15) for s in shown) + "total".rjust(8))
    for t in [*topics, "all"]:
        row = counts[t] if t != "all" else sum(counts.values(), Counter())
        lines.append(t.ljust(width) + "".join(str(row[s]).rjust(15) for s in shown)
                     + str(sum(row.values())).rjust(8))  # fmt: skip
    n_tests = len({t["nodeid"] for r in report for t in r["tests"]})
    lines.append("")
    lines.append(
        f"{len(report)} claims, {n_tests} linked tests; pytest exit status {pytest_status}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    status = run_tests(argv)
    if not RAW.exists():
        print(f"[verify] pytest wrote no {RAW.relative_to(ROOT)}; exit status {status}")
        return status or 1
    report = build_report(json.loads(RAW.read_text()))
    REPORT.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    text = summarize(report, status)
    SUMMARY.write_text(text + "\n")
    print("\n" + text)
    print(f"\n[verify] wrote {REPORT.relative_to(ROOT)}")
    failing = any(r["verdict"] in ("failing", "untested") for r in report)
    return 1 if failing or status != 0 else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
