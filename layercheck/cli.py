"""The ``layercheck`` command (console script; also ``python -m layercheck``).

Subcommands:

* ``list`` — the claims with their earned verdict and title, filtered by ``--topic``,
  ``--verdict`` (declared or earned) and ``--document``; ``--format ids|json`` for programs.
  When every ``--verdict`` asked for is an erratum (refuted, conditional, ambiguous) each
  claim is followed by the document's statement, the counterexample and the correction.
* ``show ID`` — one record: statement, verdicts, conditions, correction, counterexample,
  code, tests with outcomes, the run that earned the verdict and the docs link.
* ``check`` — runs only the tests linked to the chosen claims (``--topic``, ``--claim``,
  ``--document``; none chosen: the whole suite), merges their outcomes into the report
  without touching any other claim, prints them and exits 1 when a checked claim fails or
  has no test.
* ``report`` — (re)writes the JSON report and a Markdown summary from the last runs.
* ``site build|serve`` — the docs site (``mkdocs build --strict`` / ``mkdocs serve``).

``--report PATH`` (before the subcommand) chooses the report file (default
``build/verdicts.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layercheck import run as checks
from layercheck.report import DEFAULT_PATH, STATUSES, load_report, write_report
from layercheck.run import DOCUMENT_FILES
from layercheck.summary import (
    ERRATA,
    VERDICT_WIDTH,
    _failures,
    _run_label,
    _wrap,
    claim_row,
    errata_lines,
    markdown_summary,
    text_summary,
)
from theory.ledger import load_ledger

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``layercheck`` command (used by the docs tests to check
    every command the site shows)."""
    topics = sorted({c.topic for c in load_ledger()})
    documents = sorted(DOCUMENT_FILES)
    p = argparse.ArgumentParser(
        prog="layercheck",
        description="List, show and check the claims of the layercheck ledger; write the "
        "verdict report; build the docs site.",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=DEFAULT_PATH,
        metavar="PATH",
        help="the verdict report (default: build/verdicts.json)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def filters(q: argparse.ArgumentParser) -> None:
        q.add_argument("--topic", action="append", default=[], choices=topics, metavar="T",
                       help=f"a topic ({', '.join(topics)}); repeatable")  # fmt: skip
        q.add_argument("--document", action="append", default=[], choices=documents,
                       metavar="D", help="d000 or d002 (or the file name); repeatable")  # fmt: skip

    q = sub.add_parser("list", help="list claims with their verdict and title")
    filters(q)
    q.add_argument("--verdict", action="append", default=[], choices=STATUSES, metavar="V",
                   help=f"declared or earned verdict ({', '.join(STATUSES)}); "
                   "repeatable")  # fmt: skip
    q.add_argument("--format", choices=("table", "ids", "json"), default="table")
    q.add_argument("--short", action="store_true", help="one line per claim, even for errata")

    q = sub.add_parser("show", help="one claim: record, earned verdict, tests, docs link")
    q.add_argument("id", help="a claim id, e.g. d000.conv.output-size")
    q.add_argument("--format", choices=("text", "json"), default="text")

    q = sub.add_parser(
        "check",
        help="run the tests linked to the chosen claims and merge them into the report",
        description="Run only the tests linked to the chosen claims (all tests when none is "
        "chosen), merge their outcomes into the report without touching other claims, and "
        "exit 1 when a checked claim fails or has no test. Arguments after -- go to pytest.",
    )
    filters(q)
    q.add_argument("--claim", action="append", default=[], metavar="ID",
                   help="a claim id; repeatable")  # fmt: skip
    q.add_argument("--seed", type=int, default=None,
                   help="hypothesis seed (default: drawn and recorded)")  # fmt: skip
    q.add_argument("--workers", default="auto", help="pytest-xdist workers (default: auto)")
    q.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                   help="extra pytest arguments, after --")  # fmt: skip

    q = sub.add_parser("report", help="write the JSON report and a Markdown summary")
    q.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="where to write the JSON (default: the --report file)")  # fmt: skip
    q.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                   help="where to write the Markdown (default: next to the JSON, .md)")  # fmt: skip

    q = sub.add_parser("site", help="build or serve the docs site")
    q.add_argument("action", choices=("build", "serve"), nargs="?", default="build")
    return p


def _chosen(args: argparse.Namespace, claims: list[dict]) -> list[dict]:
    docs = {DOCUMENT_FILES[d] for d in args.document}
    out = []
    for c in claims:
        if args.topic and c["topic"] not in args.topic:
            continue
        if docs and c["document"] not in docs:
            continue
        if args.verdict and not {c["declared_verdict"], c["earned_verdict"]} & set(args.verdict):
            continue
        out.append(c)
    return out


def _list(args: argparse.Namespace, report: dict[str, Any]) -> int:
    claims = _chosen(args, report["claims"])
    if args.format == "ids":
        print("\n".join(c["id"] for c in claims))
    elif args.format == "json":
        print(json.dumps(claims, indent=1, ensure_ascii=False))
    else:
        errata = bool(args.verdict) and set(args.verdict) <= set(ERRATA) and not args.short
        width = max((len(c["id"]) for c in claims), default=10) + 1
        for c in claims:
            print(claim_row(c, width))
            if errata:
                print("\n".join([*errata_lines(c), ""]))
        print(f"{len(claims)} claims")
    return 0


def _show(args: argparse.Namespace, report: dict[str, Any]) -> int:
    by_id = {c["id"]: c for c in report["claims"]}
    c = by_id.get(args.id)
    if c is None:
        near = [i for i in by_id if args.id in i][:8]
        print(f"layercheck show: no claim {args.id!r}", file=sys.stderr)
        if near:
            print("did you mean: " + ", ".join(near), file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(c, indent=1, ensure_ascii=False))
        return 0
    runs = {r["id"]: r for r in report["runs"]}
    earned = c["earned_verdict"]
    lines = [f"{c['id']} — {c['title']}", f"    {c['document']} § {c['section']} ({c['kind']})"]
    lines.append(f"    declared: {c['declared_verdict']}    earned: {earned}")
    if c["run"] is not None:
        lines.append(f"    earned in {_run_label(runs[c['run']])}")
    else:
        lines.append("    not checked yet: run `layercheck check --claim " + c["id"] + "`")
    lines += _wrap("claim", c["statement"])
    lines += _wrap("conditions", c["conditions"])
    lines += _wrap("counterexample", c["counterexample"])
    lines += _wrap("correction", c["correction"])
    for r in c["readings"]:
        lines += _wrap(f"reading ({r['verdict']})", r["reading"])
    lines += _wrap("why not checkable", c["reason"])
    lines += _wrap("theory", ", ".join(c["theory"]))
    lines += _wrap("kernels", ", ".join(c["kernels"]))
    lines += _wrap("derivation", c["derivation"])
    lines.append(f"    tests ({len(c['tests'])}):")
    lines += [f"      {t['outcome']:7} {t['nodeid']}" for t in c["tests"]]
    page = SITE / c["docs"].split("#")[0]
    where = f"{SITE / c['docs']}" + ("" if page.exists() else " (build it: layercheck site)")
    lines.append(f"    docs: {where}")
    print("\n".join(lines))
    return 0


def _check(args: argparse.Namespace, report: dict[str, Any]) -> int:
    selected = checks.select_claims(args.topic, args.claim, args.document)
    if selected is not None and not selected:
        print("layercheck check: the selection holds no claim", file=sys.stderr)
        return 2
    raw = Path(args.report).with_suffix(".tests.json")
    new, status = checks._run_check(
        selected, report, raw, seed=args.seed, pytest_args=args.pytest_args, workers=args.workers
    )
    path = write_report(new, args.report)
    checked = [c for c in new["claims"] if selected is None or c["id"] in set(selected)]
    print()
    if selected is None:
        print(text_summary(new))
    else:
        print("\n".join(_failures({"claims": checked})))
        width = max(len(c["id"]) for c in checked) + 1
        print(f"{'claim'.ljust(width)} {'verdict'.ljust(VERDICT_WIDTH)} title")
        for c in checked:
            passed = sum(t["outcome"] == "passed" for t in c["tests"])
            print(f"{claim_row(c, width)}  [{passed}/{len(c['tests'])} tests passed]")
        print(f"\n{len(checked)} claims checked; the other {len(new['claims']) - len(checked)} "
              "keep their earned verdicts")  # fmt: skip
    print(f"[check] wrote {path}")
    bad = any(c["earned_verdict"] in ("failing", "untested") for c in checked)
    ok_status = (0, 5) if selected is not None else (0,)  # 5: no test (only not-checkable)
    return 1 if bad or status not in ok_status else 0


def _report(args: argparse.Namespace, report: dict[str, Any]) -> int:
    json_path = args.json or args.report
    md_path = args.markdown or Path(json_path).with_suffix(".md")
    write_report(report, json_path)
    Path(md_path).parent.mkdir(parents=True, exist_ok=True)
    Path(md_path).write_text(markdown_summary(report), encoding="utf-8")
    print(text_summary(report))
    print(f"\n[report] wrote {json_path} and {md_path}")
    return 0


def _site(args: argparse.Namespace) -> int:
    env = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}
    mkdocs = [sys.executable, "-m", "mkdocs"]
    if args.action == "serve":
        return subprocess.call([*mkdocs, "serve"], cwd=ROOT, env=env)
    print("[site] mkdocs build --strict", flush=True)
    status = subprocess.call([*mkdocs, "build", "--strict", "--quiet"], cwd=ROOT, env=env)
    if status == 0:
        print(f"[site] {SITE / 'index.html'} (opens from the file system; works offline)")
    return status


def main(argv: Sequence[str]) -> int:
    """Run the ``layercheck`` command with the arguments ``argv`` (``sys.argv[1:]`` for the
    console script); returns the exit status (2 for a usage error, with argparse's message on
    stderr)."""
    if isinstance(argv, str | bytes) or not isinstance(argv, Sequence):
        raise TypeError(f"argv must be a list of str, got {argv!r}")
    if not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv must be a list of str, got {list(argv)!r}")
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code or 0)
    if args.command == "site":
        return _site(args)
    if args.command == "check" and args.pytest_args and "--" not in argv:
        print(
            f"layercheck check: pytest arguments go after --, got {args.pytest_args}; "
            "choose claims with --topic/--claim/--document",
            file=sys.stderr,
        )
        return 2
    if Path(args.report).suffix != ".json":
        print(f"layercheck: --report must name a .json file, got {args.report}", file=sys.stderr)
        return 2
    try:
        report = load_report(args.report)
    except ValueError as e:
        print(f"layercheck: {e}", file=sys.stderr)
        return 2
    command = {"list": _list, "show": _show, "check": _check, "report": _report}
    try:
        return command[args.command](args, report)
    except ValueError as e:  # a bad --report/--json path, an unknown claim: said in one line
        print(f"layercheck {args.command}: {e}", file=sys.stderr)
        return 2


def _console() -> None:
    """The console script and ``python -m layercheck`` (a closed pipe, as in
    ``layercheck list | head``, ends it quietly)."""
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)
