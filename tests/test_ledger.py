"""The ledger itself: schema, links to tests, and that every named helper/derivation exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests
from theory.derivation import Derivation
from theory.ledger import VERDICTS, claims_by_id, load_ledger, resolve


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
