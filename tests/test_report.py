"""The verdict report (:mod:`layercheck.report`): a failing linked test makes its claim
``failing`` whatever it declares; a partial run changes only the claims it checked; the
report validates, survives a round trip, and a tampered one is refused."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layercheck.report import (
    CLAIM_KEYS,
    OUTCOMES,
    SCHEMA_VERSION,
    earned_verdict,
    load_report,
    merge_run,
    new_report,
    validate_report,
    write_report,
)
from layercheck.summary import markdown_summary, text_summary
from theory.ledger import load_ledger

CLAIMS = load_ledger()
IDS = [c.id for c in CLAIMS]
RUN = {"commit": "abc", "pytest_exit_status": 0, "hypothesis": {"profile": "dev", "seed": 1}}


def _raw(outcome_for: dict[str, str]) -> list[dict]:
    return [
        {"nodeid": f"t::{cid}", "claims": [cid], "outcome": o} for cid, o in outcome_for.items()
    ]


def test_a_full_run_gives_one_record_per_claim_in_ledger_order():
    report = merge_run(new_report(), _raw({c.id: "passed" for c in CLAIMS}), RUN)
    validate_report(report)
    assert report["schema_version"] == SCHEMA_VERSION
    assert [r["id"] for r in report["claims"]] == IDS
    assert all(tuple(r) == CLAIM_KEYS for r in report["claims"])
    assert all(r["earned_verdict"] == r["declared_verdict"] for r in report["claims"])
    assert [r["id"] for r in report["runs"]] == [1]
    assert report["runs"][0]["commit"] == "abc"
    assert sum(report["summary"].values()) == len(CLAIMS)


def test_failing_untested_and_unverified_claims():
    first, second, *rest = CLAIMS
    report = merge_run(new_report(), _raw({first.id: "failed", **{c.id: "passed" for c in rest}}),
                       RUN)  # fmt: skip
    status = {r["id"]: r["earned_verdict"] for r in report["claims"]}
    assert status[first.id] == "failing"
    assert status[second.id] == (
        "untested" if second.verdict != "not-checkable" else "not-checkable"
    )
    assert all(r["earned_verdict"] == "unverified" for r in new_report()["claims"])
    text = text_summary(report)
    assert text.startswith("FAILING OR UNTESTED CLAIMS")
    assert first.id in text.splitlines()[1]
    md = markdown_summary(report)
    failing_section = md.split("## Failing or untested")[1].split("## Claims")[0]
    assert f"`{first.id}` failing" in failing_section


@pytest.mark.parametrize(
    ("declared", "outcomes", "earned"),
    [
        ("holds", ["passed", "skipped"], "holds"),
        ("refuted", ["passed", "error"], "failing"),
        ("conditional", ["failed"], "failing"),
        ("holds", [], "untested"),
        ("holds", ["skipped"], "untested"),  # all skipped: no evidence
        ("not-checkable", [], "not-checkable"),
        ("ambiguous", None, "unverified"),
    ],
)
def test_earned_verdict_rule(declared, outcomes, earned):
    assert earned_verdict(declared, outcomes) == earned


@settings(max_examples=25)
@given(
    first=st.dictionaries(st.sampled_from(IDS), st.sampled_from(OUTCOMES), max_size=30),
    chosen=st.lists(st.sampled_from(IDS), min_size=1, max_size=20, unique=True),
    outcome=st.sampled_from(OUTCOMES),
)
def test_a_partial_run_leaves_every_other_claim_as_it_was(first, chosen, outcome):
    """What ``layercheck check --topic T`` relies on: the claims outside the selection keep
    their earned verdict, tests and run, whatever the new run's outcomes (its raw outcomes may
    even mention other claims: a test linked to a chosen claim and to another one)."""
    before = merge_run(new_report(), _raw(first), RUN)
    raw = [{"nodeid": f"new::{cid}", "claims": [cid, IDS[0]], "outcome": outcome} for cid in chosen]
    after = merge_run(before, raw, {**RUN, "commit": "def"}, selected=chosen)
    validate_report(after)
    old = {r["id"]: r for r in before["claims"]}
    for r in after["claims"]:
        if r["id"] in chosen:
            assert r["run"] == 2
            linked = [e["nodeid"] for e in raw if r["id"] in e["claims"]]
            assert r["tests"] == [{"nodeid": n, "outcome": outcome} for n in sorted(linked)]
        else:
            assert r == old[r["id"]], r["id"]
    assert [run["id"] for run in after["runs"]] == [1, 2] or set(chosen) >= set(IDS)


def test_round_trip_and_version_one_reports(tmp_path):
    report = merge_run(new_report(), _raw({IDS[0]: "passed"}), RUN, selected=IDS[:3])
    path = write_report(report, tmp_path / "sub" / "verdicts.json")
    again = load_report(path)
    assert again["claims"] == report["claims"] and again["runs"] == report["runs"]
    assert load_report(tmp_path / "missing.json")["summary"] == {"unverified": len(IDS)}
    (tmp_path / "v1.json").write_text(json.dumps([{"id": IDS[0], "verdict": "holds"}]))
    assert load_report(tmp_path / "v1.json")["summary"] == {"unverified": len(IDS)}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"path .* is not a readable JSON report"):
        load_report(tmp_path / "bad.json")


def _tampered(change) -> dict:
    report = merge_run(new_report(), _raw({c.id: "passed" for c in CLAIMS}), RUN)
    report = copy.deepcopy(report)
    change(report)
    return report


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(schema_version=1), "schema 'layercheck-verdicts' version 2"),
        (lambda r: r["claims"][0].update(earned_verdict="refuted"), "does not follow"),
        (
            lambda r: r["claims"][0]["tests"].append({"nodeid": "x", "outcome": "failed"}),
            "does not follow",
        ),
        (lambda r: r["claims"][0].update(run=7), "run 7 is not in"),
        (lambda r: r["claims"][0].pop("title"), "must have exactly the keys"),
        (lambda r: r["claims"].append(dict(r["claims"][0])), "duplicate id"),
        (lambda r: r["summary"].update(holds=0), "must count the earned verdicts"),
        (lambda r: r["runs"][0].pop("commit"), "must have exactly the keys"),
    ],
    ids=[
        "version",
        "earned",
        "new-failure",
        "run-id",
        "claim-key",
        "duplicate",
        "summary",
        "run-key",
    ],
)
def test_tampered_reports_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        validate_report(_tampered(change))


def test_a_run_narrowed_by_pytest_arguments_leaves_unreached_claims_alone():
    """``layercheck check --topic T -- -k x``: a chosen claim none of whose tests ran keeps its
    record; without pytest arguments the same claim is untested (it has no test)."""
    a, b = IDS[0], IDS[1]
    before = merge_run(new_report(), _raw({a: "passed", b: "passed"}), RUN)
    raw = _raw({a: "failed"})
    narrowed = merge_run(before, raw, {**RUN, "pytest_args": ["-k", "x"]}, selected=[a, b])
    old = {r["id"]: r for r in before["claims"]}
    new = {r["id"]: r for r in narrowed["claims"]}
    assert new[a]["earned_verdict"] == "failing" and new[b] == old[b]
    plain = {r["id"]: r for r in merge_run(before, raw, RUN, selected=[a, b])["claims"]}
    assert plain[b]["earned_verdict"] in ("untested", "not-checkable")


def test_a_claim_whose_declared_verdict_changed_since_its_run_is_unverified(tmp_path):
    report = merge_run(new_report(), _raw({c.id: "passed" for c in CLAIMS}), RUN)
    claim = next(r for r in report["claims"] if r["declared_verdict"] == "holds")
    claim["declared_verdict"] = claim["earned_verdict"] = "refuted"  # as an older ledger said
    report["summary"] = {**report["summary"], "holds": report["summary"]["holds"] - 1}
    report["summary"]["refuted"] = report["summary"].get("refuted", 0) + 1
    path = write_report(report, tmp_path / "verdicts.json")
    again = {r["id"]: r for r in load_report(path)["claims"]}
    assert again[claim["id"]]["earned_verdict"] == "unverified"
    assert again[claim["id"]]["declared_verdict"] == "holds"
    assert sum(r["earned_verdict"] == "unverified" for r in again.values()) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["claims"][0].update(tests=[5]), "each test must be"),
        (lambda r: r["claims"][0].update(title=5), "must be of type"),
        (lambda r: r["claims"][0].update(theory="theory.conv"), "must be of type"),
        (lambda r: r["runs"][0].update(id="1"), "must be a unique int"),
    ],
    ids=["test-entry", "title", "theory", "run-id-type"],
)
def test_wrongly_typed_fields_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        validate_report(_tampered(change))
