"""Bad-input entries for the ``layercheck`` package (command, report, pages, summaries) and
:mod:`numerics.cache`."""

from __future__ import annotations

import argparse
import tempfile
from functools import cache
from pathlib import Path

import sympy

from layercheck.report import CLAIM_KEYS, STATUSES, merge_run, new_report, validate_report
from tests.badinput.table import Entry, ErrorSample, Sample
from theory.ledger import load_ledger

CLAIMS = load_ledger()
CLAIM = next(c for c in CLAIMS if c.derivation)
TITLES = {"pooling": "Pooling"}


@cache
def _report() -> dict:
    raw = [{"nodeid": "t::a", "claims": [CLAIMS[0].id], "outcome": "failed"}]
    return merge_run(new_report(), raw, {"commit": "x"}, selected=[c.id for c in CLAIMS[:3]])


def _fresh_report() -> dict:
    import copy

    return copy.deepcopy(_report())


def _record() -> dict:
    return _fresh_report()["claims"][0]


def _is_report(r) -> None:
    validate_report(r)


NOT_A_REPORT = (
    ErrorSample({"report": [1, 2]}, TypeError, "report must be a mapping"),
    ErrorSample({"report": {"schema": "x"}}, ValueError, "report must have schema"),
)

ENTRIES = [
    Entry(
        "layercheck.cli.build_parser",
        samples=(Sample({}, check=lambda p: isinstance(p, argparse.ArgumentParser)),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "layercheck.cli.main",
        samples=(
            Sample(
                {"argv": ["list", "--topic", "pooling", "--format", "ids"]}, check=lambda r: r == 0
            ),
            Sample({"argv": ["show", CLAIM.id, "--format", "json"]}, check=lambda r: r == 0),
            Sample({"argv": ["list", "--topic", "no-such-topic"]}, check=lambda r: r == 2),
        ),
        errors=(
            ErrorSample({"argv": "list"}, TypeError, "argv must be a list of str"),
            ErrorSample({"argv": ["list", 3]}, TypeError, "argv must be a list of str"),
        ),
        result="any",
        domains={
            "argv": lambda v: isinstance(v, list | tuple) and all(isinstance(a, str) for a in v)
        },
        note="argv has no default (the console script passes sys.argv), so the fuzz never "
        "reaches `check` or `site`: it replaces argv by non-lists only",
    ),
    Entry(
        "layercheck.pages.anchor",
        samples=(
            Sample(
                {"claim_id": "d000.conv.output-size"}, check=lambda r: r == "d000-conv-output-size"
            ),
        ),
        errors=(ErrorSample({"claim_id": 3}, TypeError, "claim_id must be a str"),),
        result="any",
    ),
    Entry(
        "layercheck.pages.badge",
        samples=(Sample({"verdict": "holds"}, check=lambda r: "verdict-holds" in r),),
        errors=(ErrorSample({"verdict": "true"}, ValueError, "verdict must be one of"),),
        result="any",
        domains={"verdict": lambda v: isinstance(v, str) and v in STATUSES},
    ),
    Entry(
        "layercheck.pages.outline",
        samples=(
            Sample(
                {
                    "expr": sympy.expand((sympy.Symbol("x") + sympy.Symbol("y") + 1) ** 9),
                    "budget": 80,
                },
                check=lambda r: r is None or (len(r) <= 80 and r"\cdots" in r),
            ),
            Sample({"expr": sympy.Symbol("x"), "budget": 80}, check=lambda r: r is None),
        ),
        errors=(
            ErrorSample({"expr": "x + y", "budget": 80}, TypeError, "expr must be a SymPy"),
            ErrorSample({"expr": sympy.Symbol("x"), "budget": 0}, ValueError, "budget must be"),
        ),
        result="any",
    ),
    Entry(
        "layercheck.pages.derivation_markdown",
        samples=(
            Sample(
                {"dotted": "theory.conv.derive_output_size"}, check=lambda r: r.startswith("**")
            ),
            Sample(
                {"dotted": "theory.moe.derive_balance_loss_min", "stated": True},
                check=lambda r: "Stated formula" in r and "Document's" not in r,
            ),
        ),
        errors=(
            ErrorSample(
                {"dotted": "theory.conv.derive_output_size", "stated": 1},
                TypeError,
                "stated must be True or False",
            ),
            ErrorSample({"dotted": 5}, TypeError, "dotted must be the dotted name"),
            ErrorSample({"dotted": "theory.conv.nope"}, ValueError, "dotted .* no attribute"),
        ),
        result="any",
        time_limit=30.0,
    ),
    Entry(
        "layercheck.pages.claim_section",
        samples=(
            Sample(
                {"claim": CLAIMS[0], "record": _record(), "shown": {}},
                check=lambda r: r.startswith(f"## {CLAIMS[0].title}"),
            ),
            Sample(
                {"claim": CLAIMS[0], "record": None, "shown": None},
                check=lambda r: "not run yet" in r,
            ),
        ),
        errors=(
            ErrorSample(
                {"claim": "d000", "record": None, "shown": None},
                TypeError,
                "claim must be a theory.ledger.Claim",
            ),
            ErrorSample(
                {"claim": CLAIMS[1], "record": _record(), "shown": None},
                ValueError,
                "record must be the claim's record",
            ),
            ErrorSample(
                {"claim": CLAIMS[0], "record": {"id": 1}, "shown": None},
                ValueError,
                "record must be a claim record",
            ),
            ErrorSample(
                {"claim": CLAIMS[0], "record": None, "shown": []}, TypeError, "shown must be a dict"
            ),
        ),
        result="any",
        time_limit=30.0,
    ),
    Entry(
        "layercheck.pages.topic_table",
        samples=(
            Sample(
                {"claims": CLAIMS[:2], "records": {}},
                check=lambda r: r.count('"verdict verdict-unverified"') == 2,
            ),
        ),
        errors=(
            ErrorSample({"claims": ["x"], "records": {}}, TypeError, "claims must be"),
            ErrorSample({"claims": CLAIMS[:2], "records": []}, TypeError, "records must be"),
        ),
        result="any",
    ),
    Entry(
        "layercheck.pages.errata_page",
        samples=(
            Sample(
                {"report": _fresh_report(), "topic_titles": TITLES},
                check=lambda r: r.startswith("# Errata"),
            ),
        ),
        errors=(
            *[
                ErrorSample({**e.kwargs, "topic_titles": TITLES}, e.exc, e.match)
                for e in NOT_A_REPORT
            ],
            ErrorSample(
                {"report": _fresh_report(), "topic_titles": [1]}, TypeError, "topic_titles must map"
            ),
        ),
        result="any",
    ),
    Entry(
        "layercheck.pages.overview_table",
        samples=(
            Sample(
                {"report": _fresh_report(), "topic_titles": TITLES},
                check=lambda r: r.count("<tr data-verdict") == len(CLAIMS),
            ),
        ),
        errors=(
            *[
                ErrorSample({**e.kwargs, "topic_titles": TITLES}, e.exc, e.match)
                for e in NOT_A_REPORT
            ],
            ErrorSample(
                {"report": _fresh_report(), "topic_titles": None},
                TypeError,
                "topic_titles must map",
            ),
        ),
        result="any",
    ),
    Entry(
        "layercheck.report.docs_link",
        samples=(Sample({"claim": CLAIMS[0]}, check=lambda r: r.startswith("claims/")),),
        errors=(ErrorSample({"claim": CLAIMS[0].id}, TypeError, "claim must be a theory"),),
        result="any",
    ),
    Entry(
        "layercheck.report.earned_verdict",
        samples=(
            Sample({"declared": "holds", "outcomes": ["passed"]}, check=lambda r: r == "holds"),
            Sample({"declared": "holds", "outcomes": None}, check=lambda r: r == "unverified"),
        ),
        errors=(
            ErrorSample({"declared": "true", "outcomes": []}, ValueError, "declared must be"),
            ErrorSample({"declared": "holds", "outcomes": ["ok"]}, ValueError, "outcomes must"),
            ErrorSample({"declared": "holds", "outcomes": "passed"}, TypeError, "outcomes must"),
        ),
        result="any",
    ),
    Entry(
        "layercheck.report.load_report",
        samples=(Sample({"path": Path("/nonexistent/verdicts.json")}, check=_is_report),),
        errors=(
            ErrorSample({"path": 3}, TypeError, "path must be a path"),
            ErrorSample({"path": Path(__file__)}, ValueError, "path .* is not a readable JSON"),
        ),
        result="any",
    ),
    Entry(
        "layercheck.report.merge_run",
        samples=(
            Sample(
                {"report": _fresh_report(), "raw": [], "run": {}, "selected": [CLAIMS[5].id]},
                check=lambda r: r["claims"][5]["earned_verdict"] in ("untested", "not-checkable"),
            ),
        ),
        errors=(
            *[
                ErrorSample({**e.kwargs, "raw": [], "run": {}, "selected": None}, e.exc, e.match)
                for e in NOT_A_REPORT
            ],
            ErrorSample(
                {"report": _fresh_report(), "raw": [{"x": 1}], "run": {}, "selected": None},
                ValueError,
                "raw entries must be",
            ),
            ErrorSample(
                {"report": _fresh_report(), "raw": [], "run": 5, "selected": None},
                TypeError,
                "run must be a mapping",
            ),
            ErrorSample(
                {"report": _fresh_report(), "raw": [], "run": {}, "selected": ["d9.x"]},
                ValueError,
                "selected must name",
            ),
            ErrorSample(
                {
                    "report": _fresh_report(),
                    "raw": [],
                    "run": {},
                    "selected": "d000.conv.output-size",
                },
                TypeError,
                "selected must be a list of str",
            ),
        ),
        result="any",
        time_limit=20.0,
    ),
    Entry(
        "layercheck.report.new_report",
        samples=(Sample({}, check=_is_report),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "layercheck.report.validate_report",
        samples=(Sample({"report": _fresh_report()}, check=lambda r: r is None),),
        errors=NOT_A_REPORT,
        result="any",
    ),
    Entry(
        "layercheck.report.write_report",
        samples=(
            Sample(
                {
                    "report": _fresh_report(),
                    "path": Path(tempfile.gettempdir()) / "layercheck-badinput" / "verdicts.json",
                },
                check=lambda p: p.exists(),
            ),
        ),
        errors=(
            *[
                ErrorSample({**e.kwargs, "path": Path("build/x.json")}, e.exc, e.match)
                for e in NOT_A_REPORT
            ],
            ErrorSample({"report": _fresh_report(), "path": 3}, TypeError, "path must be"),
            ErrorSample(
                {"report": _fresh_report(), "path": Path("verdicts.txt")},
                ValueError,
                "path must name a .json file",
            ),
        ),
        result="any",
    ),
    Entry(
        "layercheck.run.hypothesis_profile",
        samples=(Sample({}, check=lambda r: r in ("dev", "ci", "thorough")),),
        result="any",
        fuzz=False,
        note="no arguments (reads the environment)",
    ),
    Entry(
        "layercheck.run.select_claims",
        samples=(
            Sample(
                {"topics": ["pooling"], "claims": [], "documents": []},
                check=lambda r: r and all(".pool." in i for i in r),
            ),
            Sample({"topics": [], "claims": [], "documents": []}, check=lambda r: r is None),
            Sample(
                {"topics": [], "claims": [], "documents": ["d000"]},
                check=lambda r: all(i.startswith("d000") for i in r),
            ),
        ),
        errors=(
            ErrorSample(
                {"topics": ["nope"], "claims": [], "documents": []},
                ValueError,
                "topics: unknown topic",
            ),
            ErrorSample(
                {"topics": [], "claims": ["output-size"], "documents": []},
                ValueError,
                "claims: unknown claim id .* did you mean",
            ),
            ErrorSample(
                {"topics": [], "claims": [], "documents": ["d001"]},
                ValueError,
                "documents: unknown document",
            ),
            ErrorSample(
                {"topics": "pooling", "claims": [], "documents": []},
                TypeError,
                "topics must be a list of str",
            ),
        ),
        result="any",
    ),
    Entry(
        "layercheck.summary.claim_row",
        samples=(
            Sample(
                {"claim": _record(), "id_width": 40}, check=lambda r: r.startswith(CLAIMS[0].id)
            ),
        ),
        errors=(
            ErrorSample({"claim": "x", "id_width": 40}, TypeError, "claim must be a claim"),
            ErrorSample({"claim": {"id": "x"}, "id_width": 40}, ValueError, "claim must be"),
            ErrorSample({"claim": _record(), "id_width": 0}, ValueError, "id_width must be"),
        ),
        result="any",
    ),
    Entry(
        "layercheck.summary.errata_lines",
        samples=(Sample({"claim": _record()}, check=lambda r: r[0].startswith("    claim: ")),),
        errors=(ErrorSample({"claim": []}, TypeError, "claim must be a claim record"),),
        result="any",
    ),
    Entry(
        "layercheck.summary.markdown_summary",
        samples=(
            Sample(
                {"report": _fresh_report()},
                check=lambda r: f"`{CLAIMS[0].id}` failing" in r,
            ),
        ),
        errors=NOT_A_REPORT,
        result="any",
    ),
    Entry(
        "layercheck.summary.text_summary",
        samples=(
            Sample(
                {"report": _fresh_report()}, check=lambda r: r.startswith("FAILING OR UNTESTED")
            ),
        ),
        errors=NOT_A_REPORT,
        result="any",
    ),
    Entry(
        "layercheck.summary.verdict_table",
        samples=(
            Sample(
                {"report": _fresh_report()},
                check=lambda r: r.splitlines()[-1].split()[-1] == str(len(CLAIMS)),
            ),
        ),
        errors=NOT_A_REPORT,
        result="any",
    ),
    Entry(
        "numerics.cache.cache_dir",
        samples=(Sample({}, check=lambda r: isinstance(r, Path)),),
        result="any",
        fuzz=False,
        note="no arguments (reads LAYERCHECK_CACHE_DIR)",
    ),
    Entry(
        "numerics.cache.cache_key",
        samples=(Sample({"func": load_ledger}, check=lambda r: len(r) == 64),),
        errors=(ErrorSample({"func": 3}, TypeError, "func must be callable"),),
        result="any",
    ),
    Entry(
        "numerics.cache.cached",
        samples=(Sample({"func": load_ledger}, check=lambda r: r == CLAIMS),),
        errors=(ErrorSample({"func": "load_ledger"}, TypeError, "func must be callable"),),
        result="any",
    ),
    Entry(
        "numerics.cache.source_closure",
        samples=(
            Sample({"module": "theory.conv"}, check=lambda r: any(p.name == "conv.py" for p in r)),
        ),
        errors=(
            ErrorSample({"module": 3}, TypeError, "module must be a dotted module name"),
            ErrorSample({"module": "json"}, ValueError, "module must be a module of"),
        ),
        result="any",
    ),
]

assert set(CLAIM_KEYS) <= set(_record())
