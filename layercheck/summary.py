"""Plain-text and Markdown summaries of a verdict report (what ``layercheck`` prints and
``layercheck report --markdown`` writes)."""

from __future__ import annotations

import numbers
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from layercheck.report import CLAIM_KEYS, STATUSES, validate_report

#: Display order: what needs attention first.
ORDER = (
    "failing",
    "untested",
    "unverified",
    "refuted",
    "ambiguous",
    "conditional",
    "holds",
    "not-checkable",
)
ERRATA = ("refuted", "conditional", "ambiguous")
#: Width of the verdict column: room for "unverified (not-checkable)".
VERDICT_WIDTH = 26
assert set(ORDER) == set(STATUSES)


def _run_label(run: Mapping[str, Any]) -> str:
    """``run N (finished, commit abc1234567[, dirty]; hypothesis <profile> seed <seed>)``;
    unknown fields show as ``?``."""
    hyp = run.get("hypothesis") or {}
    dirty = ", dirty" if run.get("commit_dirty") else ""
    return (
        f"run {run.get('id')} ({run.get('finished') or '?'}, commit "
        f"{(run.get('commit') or '?')[:10]}{dirty}; hypothesis {hyp.get('profile', '?')} seed "
        f"{hyp.get('seed', '?')})"
    )


def _counts(claims: Sequence[Mapping[str, Any]]) -> tuple[list[str], dict[str, Counter]]:
    topics = sorted({c["topic"] for c in claims})
    counts = {t: Counter(c["earned_verdict"] for c in claims if c["topic"] == t) for t in topics}
    counts["all"] = sum(counts.values(), Counter())
    return topics, counts


def verdict_table(report: Mapping[str, Any]) -> str:
    """Claims per earned verdict per topic, one row per topic and a total row."""
    validate_report(report)
    topics, counts = _counts(report["claims"])
    shown = [s for s in ORDER if counts["all"][s]]
    width = max(len(t) for t in [*topics, "topic"]) + 2
    lines = ["topic".ljust(width) + "".join(s.rjust(14) for s in shown) + "total".rjust(8)]
    for t in [*topics, "all"]:
        row = counts[t]
        lines.append(
            t.ljust(width)
            + "".join(str(row[s]).rjust(14) for s in shown)
            + str(sum(row.values())).rjust(8)
        )
    return "\n".join(lines)


def _record(claim: Any, name: str = "claim") -> None:
    if not isinstance(claim, Mapping):
        raise TypeError(f"{name} must be a claim record (a mapping), got {type(claim).__name__}")
    missing = [k for k in CLAIM_KEYS if k not in claim]
    if missing:
        raise ValueError(f"{name} must be a claim record of the report; missing {missing}")


def claim_row(claim: Mapping[str, Any], id_width: int = 44) -> str:
    """``<id>  <earned verdict>  <title>``; the declared verdict follows in parentheses when
    the run earned something else. ``id_width`` (1 to 200) pads the id column."""
    _record(claim)
    if isinstance(id_width, bool) or not isinstance(id_width, numbers.Integral):
        raise TypeError(f"id_width must be an int from 1 to 200, got {id_width!r}")
    if not 1 <= id_width <= 200:
        raise ValueError(f"id_width must be an int from 1 to 200, got {id_width!r}")
    id_width = int(id_width)
    earned, declared = claim["earned_verdict"], claim["declared_verdict"]
    verdict = earned if earned == declared else f"{earned} ({declared})"
    return f"{claim['id'].ljust(id_width)} {verdict.ljust(VERDICT_WIDTH)} {claim['title']}"


def _wrap(label: str, text: str, indent: int = 4, width: int = 100) -> list[str]:
    """``label: text`` wrapped to ``width`` with a hanging indent (LaTeX is left as it is)."""
    if not text:
        return []
    pad = " " * indent
    body = " ".join(text.split())
    return textwrap.wrap(
        f"{label}: {body}", width, initial_indent=pad, subsequent_indent=pad + "  "
    )


def errata_lines(claim: Mapping[str, Any]) -> list[str]:
    """What the document says, the counterexample and the correction (or conditions,
    readings) of one claim, wrapped, for ``layercheck list`` and ``show``."""
    _record(claim)
    out = _wrap("claim", claim["statement"])
    out += _wrap("counterexample", claim["counterexample"])
    out += _wrap("correction", claim["correction"])
    if not claim["correction"]:
        out += _wrap("conditions", claim["conditions"])
    for r in claim["readings"]:
        out += _wrap(f"reading ({r['verdict']})", r["reading"])
    return out


def _failures(report: Mapping[str, Any]) -> list[str]:
    """The failing and untested claims with their failed tests, or ``[]``."""
    lines = []
    for c in report["claims"]:
        if c["earned_verdict"] in ("failing", "untested"):
            lines.append(f"  {c['earned_verdict'].upper():9} {c['id']}  {c['title']}")
            lines += [
                f"            {t['outcome']}: {t['nodeid']}"
                for t in c["tests"]
                if t["outcome"] in ("failed", "error")
            ]
    return ["FAILING OR UNTESTED CLAIMS", *lines, ""] if lines else []


def text_summary(report: Mapping[str, Any]) -> str:
    """Failures first, then the verdict table and the last run's line."""
    validate_report(report)
    lines = _failures(report)
    lines += ["claims per earned verdict per topic", verdict_table(report), ""]
    n_tests = len({t["nodeid"] for c in report["claims"] for t in c["tests"]})
    lines.append(f"{len(report['claims'])} claims, {n_tests} linked tests")
    if report["runs"]:
        r = report["runs"][-1]
        lines.append(f"last {_run_label(r)}, pytest exit status {r['pytest_exit_status']}")
    return "\n".join(lines)


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_summary(report: Mapping[str, Any]) -> str:
    """The report as Markdown: runs, the verdict table, failures, then every claim (id, title,
    declared and earned verdict, tests passed/total)."""
    validate_report(report)
    topics, counts = _counts(report["claims"])
    shown = [s for s in ORDER if counts["all"][s]]
    out = ["# layercheck verdict report", "", f"Generated {report['generated']}.", ""]
    out += ["## Runs", "", "| run | selection | pytest exit status |", "| --- | --- | ---: |"]
    for r in report["runs"]:
        sel = "all" if r["selection"] is None else f"{len(r['selection']['claims'])} claims"
        out.append(f"| {_run_label(r)} | {sel} | {r['pytest_exit_status']} |")
    out += ["", "## Verdicts", "", "| topic | " + " | ".join(shown) + " | total |",
            "| --- |" + " ---: |" * (len(shown) + 1)]  # fmt: skip
    for t in [*topics, "all"]:
        row = counts[t]
        out.append(
            f"| {t} | " + " | ".join(str(row[s]) for s in shown) + f" | {sum(row.values())} |"
        )
    bad = [c for c in report["claims"] if c["earned_verdict"] in ("failing", "untested")]
    if bad:
        out += ["", "## Failing or untested", ""]
        out += [f"- `{c['id']}` {c['earned_verdict']}: {_md(c['title'])}" for c in bad]
    out += ["", "## Claims", "", "| claim | title | declared | earned | tests passed |",
            "| --- | --- | --- | --- | ---: |"]  # fmt: skip
    for c in report["claims"]:
        passed = sum(t["outcome"] == "passed" for t in c["tests"])
        out.append(
            f"| `{c['id']}` | {_md(c['title'])} | {c['declared_verdict']} | "
            f"{c['earned_verdict']} | {passed}/{len(c['tests'])} |"
        )
    return "\n".join(out) + "\n"
