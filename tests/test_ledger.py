"""The ledger itself: schema, links to tests, and that every named helper/derivation exists;
malformed ledgers, directories and dotted names are refused with errors naming them."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
import sympy
import yaml

import tests
from theory.derivation import Derivation, Step
from theory.ledger import VERDICTS, LedgerError, claims_by_id, load_ledger, resolve


def _linked_claims() -> dict[str, list[str]]:
    """claim id -> test functions that name it, read from every tests/test_*.py module."""
    links: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(tests.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"tests.{info.name}")
        for name, obj in vars(module).items():
            if not name.startswith("test_"):
                continue
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "claim":
                    for cid in mark.args:
                        links.setdefault(cid, []).append(f"{info.name}::{name}")
    return links


def test_ledger_loads_with_unique_ids_and_valid_verdicts():
    claims = load_ledger()
    assert len(claims) == len(claims_by_id()) > 0
    assert all(c.verdict in VERDICTS for c in claims)


def test_titles_tell_claims_apart_within_a_topic():
    """Titles head the claim sections and tables: one per claim, unique within its topic."""
    claims = load_ledger()
    for topic in {c.topic for c in claims}:
        titles = [c.title.casefold() for c in claims if c.topic == topic]
        assert len(set(titles)) == len(titles), f"{topic}: repeated titles"
    assert all(c.title == c.title.strip() and not c.title.endswith(".") for c in claims)


def test_every_checkable_claim_has_a_linked_test():
    links = _linked_claims()
    missing = [c.id for c in load_ledger() if c.verdict != "not-checkable" and c.id not in links]
    assert not missing, f"claims with no linked test: {missing}"


def test_no_test_names_an_unknown_claim():
    unknown = {cid: where for cid, where in _linked_claims().items() if cid not in claims_by_id()}
    assert not unknown, f"tests name claims not in the ledger: {unknown}"


@pytest.mark.parametrize("claim", load_ledger(), ids=lambda c: c.id)
def test_named_helpers_kernels_and_derivations_exist(claim):
    for dotted in (*claim.theory, *claim.kernels):
        assert callable(resolve(dotted)), dotted
    if claim.derivation:
        derivation = resolve(claim.derivation)()
        assert isinstance(derivation, Derivation)
        derivation.to_markdown()  # renders (LaTeX printing does not fail)


# --------------------------------------------------------------------------- bad ledgers


def _record(**over):
    record = {
        "id": "d000.linear.example",
        "title": "Parameters of a dense layer",
        "document": "000_160a0b7c04e12fc6.txt",
        "section": "Mathematical Foundation of Linear Layers",
        "statement": "A dense layer has $m(n+1)$ parameters.",
        "kind": "symbolic",
        "verdict": "holds",
    }
    return {**record, **over}


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"verdict": "true"}, "verdict must be one of"),
        ({"kind": "formal"}, "kind must be one of"),
        ({"id": "d001.linear.example"}, "id prefix 'd001' does not match"),
        ({"verdict": "refuted", "correction": "c"}, "requires a non-empty 'counterexample'"),
        ({"theory": "theory.linear.linear_params"}, "'theory' must be a list"),
        ({"conditions": 5}, "conditions must be a str"),
        ({"statement": ["a", "b"]}, "statement must be a str"),
        ({"readings": [{"reading": "a"}]}, "each reading needs"),
        ({"readings": ["a"]}, "each reading needs"),
        ({"colour": "red"}, "unknown fields"),
        ({"section": ""}, "missing"),
        ({"title": ""}, "missing"),
        ({"title": "x" * 61}, "title must be one line of at most 60"),
        ({"title": "two\nlines"}, "title must be one line"),
        ({"title": "weights in {-1, +1}"}, "title must not hold braces outside"),
    ],
)
def test_malformed_records_raise_ledger_errors_naming_file_and_record(tmp_path, over, message):
    (tmp_path / "linear.yaml").write_text(yaml.safe_dump([_record(**over)]))
    with pytest.raises(LedgerError, match=rf"linear\.yaml\[0\] \(.*\): .*{message}"):
        load_ledger(tmp_path)
    assert issubclass(LedgerError, ValueError)


def test_ledger_files_that_cannot_be_read(tmp_path):
    (tmp_path / "a.yaml").write_text("- id: [unclosed\n")
    with pytest.raises(LedgerError, match=r"a\.yaml: cannot read claims"):
        load_ledger(tmp_path)
    (tmp_path / "a.yaml").write_text("id: x\n")
    with pytest.raises(LedgerError, match=r"a\.yaml: expected a list of records"):
        load_ledger(str(tmp_path))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump([_record(), _record()]))
    with pytest.raises(LedgerError, match="duplicate id"):
        load_ledger(tmp_path / ".")
    (tmp_path / "a.yaml").write_text(yaml.safe_dump([_record()]))
    (tmp_path / "sub").mkdir()
    (claim,) = load_ledger(tmp_path / "sub" / "..")  # every failed load above cached nothing
    assert claim.topic == "a" and claim.citation().endswith("§ " + _record()["section"])


def test_bad_directories_and_dotted_names():
    with pytest.raises(TypeError, match="directory must be a path"):
        load_ledger(None)
    with pytest.raises(ValueError, match="directory must be an existing directory"):
        load_ledger("/no/such/dir")
    with pytest.raises(ValueError, match=r"directory must hold claim files \(\*\.yaml\)"):
        load_ledger(Path(__file__).parent)
    with pytest.raises(TypeError, match="dotted must be a str"):
        resolve(["theory", "conv"])
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        resolve("theory.conv.nope")
    with pytest.raises(ValueError, match="names no importable module"):
        resolve("no_such_package.module.attr")
    with pytest.raises(ValueError, match="must be a dotted name"):
        resolve("theory.")
    assert resolve("theory.arch.Spec.attention").__qualname__ == "Spec.attention"


def test_derivation_records_check_their_fields():
    x = sympy.Symbol("x", integer=True)
    d = Derivation("t", [Step("s", sympy.Eq(x, 1))], claimed=x + 1, derived=2, assumptions={x: 1})
    assert d.steps == (Step("s", sympy.Eq(x, 1)),) and d.derived == sympy.Integer(2)
    assert d.agrees() and "equal" in d.to_markdown()
    assert not Derivation("t", (), claimed=x, derived=x + 1).agrees()
    with pytest.raises(ValueError, match="no claimed/derived pair"):
        Derivation("t", ()).difference()
    for kwargs, exc, message in (
        ({"title": None, "steps": ()}, TypeError, "title must be a str"),
        ({"title": "t", "steps": "abc"}, TypeError, "steps must be a sequence of Step"),
        ({"title": "t", "steps": (Step("s"), "s")}, TypeError, r"steps\[1\] must be a Step"),
        ({"title": "t", "steps": (), "claimed": 0.5}, TypeError, "claimed must be a SymPy"),
        ({"title": "t", "steps": (), "derived": True}, TypeError, "derived must be a SymPy"),
        ({"title": "t", "steps": (), "assumptions": {"x": 1}}, TypeError, "assumptions keys"),
        ({"title": "t", "steps": (), "assumptions": {x: "1"}}, TypeError, "assumptions values"),
    ):
        with pytest.raises(exc, match=message):
            Derivation(**kwargs)
    with pytest.raises(TypeError, match="expr must be a SymPy object"):
        Step("s", 1.5)


def test_a_topic_may_be_kept_in_parts(tmp_path):
    """``<topic>.<part>.yaml`` files make one topic, read in file-name order."""
    first, second = _record(), _record(id="d000.a.second", title="Another title")
    (tmp_path / "a.2-late.yaml").write_text(yaml.safe_dump([second]))
    (tmp_path / "a.1-early.yaml").write_text(yaml.safe_dump([first]))
    claims = load_ledger(str(tmp_path))
    assert [c.topic for c in claims] == ["a", "a"]
    assert [c.id for c in claims] == [first["id"], second["id"]]
