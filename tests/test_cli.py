"""The ``layercheck`` command: list/show/report read the report and the ledger; ``check``
runs only the linked tests and leaves every other claim's earned verdict as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layercheck.cli import build_parser, main
from layercheck.report import load_report, merge_run, new_report, write_report
from theory.ledger import load_ledger

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = load_ledger()


@pytest.fixture
def report_path(tmp_path):
    """A report in which one claim of another topic is failing (a fake earlier run)."""
    other = next(c for c in CLAIMS if c.topic == "conv")
    raw = [{"nodeid": "t::x", "claims": [other.id], "outcome": "failed"}]
    report = merge_run(new_report(), raw, {"commit": "earlier"}, selected=[other.id])
    return write_report(report, tmp_path / "verdicts.json"), other.id


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_list_filters_by_declared_verdict_topic_and_document(capsys, report_path):
    path, _ = report_path
    status, out, _ = run(capsys, "--report", str(path), "list", "--verdict", "refuted",
                         "--format", "ids")  # fmt: skip
    assert status == 0
    assert out.split() == [c.id for c in CLAIMS if c.verdict == "refuted"]
    _, out, _ = run(capsys, "--report", str(path), "list", "--topic", "pooling", "--document",
                    "d000", "--format", "json")  # fmt: skip
    records = json.loads(out)
    assert [r["id"] for r in records] == [
        c.id for c in CLAIMS if c.topic == "pooling" and c.id.startswith("d000")
    ]


def test_list_of_an_errata_verdict_prints_the_errata(capsys, report_path):
    path, _ = report_path
    status, out, _ = run(capsys, "--report", str(path), "list", "--verdict", "refuted")
    refuted = [c for c in CLAIMS if c.verdict == "refuted"]
    assert status == 0
    assert out.count("counterexample:") == len(refuted) == out.count("correction:")
    assert all(f"{c.id} " in out and c.title in out for c in refuted)
    _, short, _ = run(capsys, "--report", str(path), "list", "--verdict", "refuted", "--short")
    assert "counterexample:" not in short and len(short.splitlines()) == len(refuted) + 1


def test_list_by_earned_verdict_finds_the_failing_claim(capsys, report_path):
    path, failing = report_path
    _, out, _ = run(capsys, "--report", str(path), "list", "--verdict", "failing", "--format",
                    "ids")  # fmt: skip
    assert out.split() == [failing]


def test_show_prints_the_record_and_refuses_unknown_ids(capsys, report_path):
    path, failing = report_path
    status, out, _ = run(capsys, "--report", str(path), "show", failing)
    claim = next(c for c in CLAIMS if c.id == failing)
    assert status == 0
    assert out.startswith(f"{failing} — {claim.title}")
    assert "earned: failing" in out and "failed  t::x" in out and "commit earlier" in out
    assert f"/site/claims/conv.html#{failing.replace('.', '-')}" in out
    status, _, err = run(capsys, "--report", str(path), "show", "output-size")
    assert status == 2 and "no claim 'output-size'" in err and "d000.conv.output-size" in err


def test_usage_errors_exit_2_and_bad_reports_are_named(capsys, tmp_path):
    assert run(capsys, "list", "--topic", "nope")[0] == 2
    assert run(capsys, "check", "--verdict", "holds")[0] == 2
    status, _, err = run(capsys, "check", "tests/test_philox.py")  # would narrow the run
    assert status == 2 and "pytest arguments go after --" in err
    assert run(capsys, "--help")[0] == 0
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    status, _, err = run(capsys, "--report", str(bad), "list")
    assert status == 2 and "not a readable JSON report" in err
    status, _, err = run(capsys, "--report", str(tmp_path / "verdicts.txt"), "check")
    assert status == 2 and "--report must name a .json file" in err
    status, _, err = run(capsys, "report", "--json", str(tmp_path / "out.txt"))
    assert status == 2 and "path must name a .json file" in err
    with pytest.raises(TypeError, match="argv must be a list of str"):
        main("list")


def test_report_writes_json_and_markdown(capsys, report_path, tmp_path):
    path, failing = report_path
    argv = ["--report", str(path), "report", "--json", str(tmp_path / "o.json")]
    status, out, _ = run(capsys, *argv, "--markdown", str(tmp_path / "o.md"))
    assert status == 0 and out.startswith("FAILING OR UNTESTED CLAIMS")
    assert load_report(tmp_path / "o.json")["claims"] == load_report(path)["claims"]
    assert f"`{failing}` failing" in (tmp_path / "o.md").read_text()


def test_every_subcommand_parses_its_documented_form():
    p = build_parser()
    args = p.parse_args(["check", "--topic", "pooling", "--claim", "d000.conv.output-size",
                         "--seed", "3", "--", "-x", "-k", "size"])  # fmt: skip
    assert args.topic == ["pooling"] and args.claim == ["d000.conv.output-size"]
    assert args.seed == 3 and args.pytest_args == ["-x", "-k", "size"]
    assert p.parse_args(["site"]).action == "build"


def test_check_runs_only_the_linked_tests_and_leaves_other_claims_alone(report_path):
    """End to end, as ``layercheck check --claim ID`` on a checkout: a real pytest run (one
    process) of the one test linked to the claim; the failing claim of another topic keeps
    its record and run."""
    path, failing = report_path
    chosen = "d000.pool.fewer-parameters-downstream"
    before = load_report(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    argv = ["--report", str(path), "check", "--claim", chosen, "--workers", "0", "--seed", "12345"]
    proc = subprocess.run(
        [sys.executable, "-m", "layercheck", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = load_report(path)
    old = {r["id"]: r for r in before["claims"]}
    new = {r["id"]: r for r in after["claims"]}
    assert all(new[i] == old[i] for i in new if i != chosen)
    assert new[failing]["earned_verdict"] == "failing"
    record = new[chosen]
    assert record["earned_verdict"] == record["declared_verdict"]
    assert record["tests"] and all(t["outcome"] == "passed" for t in record["tests"])
    run = after["runs"][-1]
    assert record["run"] == run["id"] and run["selection"] == {"claims": [chosen]}
    assert run["hypothesis"]["seed"] == 12345 and run["linked_tests"] == len(record["tests"])
    assert "1 claims checked; the other" in proc.stdout


def test_check_exits_1_when_a_checked_claim_fails(capsys, report_path, monkeypatch):
    """The exit status follows the checked claims' earned verdicts (the test run itself is
    replaced: it is covered end to end above)."""
    import layercheck.run

    path, failing = report_path
    chosen = "d000.pool.global"

    def fake_run(selected, previous, raw_path, **kwargs):
        raw = [{"nodeid": "t::fails", "claims": [chosen], "outcome": "failed"}]
        return merge_run(previous, raw, {"pytest_exit_status": 1}, selected), 1

    monkeypatch.setattr(layercheck.run, "_run_check", fake_run)
    status, out, _ = run(capsys, "--report", str(path), "check", "--claim", chosen)
    assert status == 1 and "FAILING" in out and chosen in out
    assert {c["id"] for c in load_report(path)["claims"] if c["earned_verdict"] == "failing"} == {
        failing,
        chosen,
    }
