r"""The claim ledger: one record per checkable claim of the two course documents.

The records live in ``theory/claims/<topic>.yaml``; this module loads and validates them.
The ledger is the single source of truth: the verification report, the docs pages and the
coverage meta-test read it, nothing re-types it.

Record fields
-------------
``id``            stable id ``d<doc>.<topic>.<slug>`` (``d000`` / ``d002`` name the document)
``document``      the document's file name
``section``       the heading of the section the claim is made in
``statement``     the claim in this project's words, with the formula in LaTeX
``kind``          ``symbolic`` | ``numeric`` | ``statistical`` | ``qualitative``
``verdict``       ``holds`` | ``conditional`` | ``refuted`` | ``ambiguous`` | ``not-checkable``
``conditions``    exact conditions (required for ``conditional``)
``correction``    the corrected statement (required for ``refuted``/``conditional``)
``counterexample``a minimal counterexample (required for ``refuted``/``conditional``)
``readings``      for ``ambiguous``: list of ``{reading, verdict}``
``reason``        for ``not-checkable``: why
``theory``        dotted names of the helpers in :mod:`theory` that state the formula
``kernels``       dotted names of the kernels that implement it
``derivation``    dotted name of a function returning a :class:`theory.derivation.Derivation`
``references``    external references used (papers, torch docs)
``topic``         filled from the file name
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

VERDICTS = ("holds", "conditional", "refuted", "ambiguous", "not-checkable")
KINDS = ("symbolic", "numeric", "statistical", "qualitative")
DOCUMENTS = {
    "d000": "000_160a0b7c04e12fc6.txt",
    "d002": "002_532ac369c9b692e7.txt",
}
CLAIMS_DIR = Path(__file__).with_name("claims")


@dataclass(frozen=True)
class Claim:
    id: str
    document: str
    section: str
    statement: str
    kind: str
    verdict: str
    topic: str
    conditions: str = ""
    correction: str = ""
    counterexample: str = ""
    readings: tuple[dict[str, str], ...] = ()
    reason: str = ""
    theory: tuple[str, ...] = ()
    kernels: tuple[str, ...] = ()
    derivation: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)

    def citation(self) -> str:
        """``<document> § <section>``, the form every page and docstring cites."""
        return f"{self.document} § {self.section}"


class LedgerError(ValueError):
    """A ledger record is malformed (names the file and the record)."""


_REQUIRED = ("id", "document", "section", "statement", "kind", "verdict")
_OPTIONAL = {f for f in Claim.__dataclass_fields__ if f not in (*_REQUIRED, "topic")}


def _check(record: dict, where: str, topic: str) -> Claim:
    missing = [k for k in _REQUIRED if not record.get(k)]
    if missing:
        raise LedgerError(f"{where}: missing {missing}")
    unknown = set(record) - set(_REQUIRED) - _OPTIONAL
    if unknown:
        raise LedgerError(f"{where}: unknown fields {sorted(unknown)}")
    cid = record["id"]
    prefix = cid.split(".")[0]
    if prefix not in DOCUMENTS or DOCUMENTS[prefix] != record["document"]:
        raise LedgerError(f"{where}: id prefix {prefix!r} does not match {record['document']!r}")
    if record["kind"] not in KINDS:
        raise LedgerError(f"{where}: kind must be one of {KINDS}, got {record['kind']!r}")
    v = record["verdict"]
    if v not in VERDICTS:
        raise LedgerError(f"{where}: verdict must be one of {VERDICTS}, got {v!r}")
    need = {
        "conditional": ("conditions", "counterexample"),
        "refuted": ("counterexample", "correction"),
        "ambiguous": ("readings",),
        "not-checkable": ("reason",),
    }.get(v, ())
    for key in need:
        if not record.get(key):
            raise LedgerError(f"{where}: verdict {v!r} requires a non-empty {key!r}")
    for key in ("theory", "kernels", "references"):
        if key in record and not isinstance(record[key], list):
            raise LedgerError(f"{where}: {key!r} must be a list")
    readings = tuple(record.get("readings") or ())
    for r in readings:
        if set(r) != {"reading", "verdict"} or r["verdict"] not in VERDICTS:
            raise LedgerError(f"{where}: each reading needs 'reading' and a valid 'verdict'")
    return Claim(
        **{k: record[k] for k in _REQUIRED},
        topic=topic,
        conditions=record.get("conditions", "") or "",
        correction=record.get("correction", "") or "",
        counterexample=record.get("counterexample", "") or "",
        readings=readings,
        reason=record.get("reason", "") or "",
        theory=tuple(record.get("theory") or ()),
        kernels=tuple(record.get("kernels") or ()),
        derivation=record.get("derivation", "") or "",
        references=tuple(record.get("references") or ()),
    )


@cache
def load_ledger(directory: Path = CLAIMS_DIR) -> tuple[Claim, ...]:
    """All claims, in file order (topics alphabetically). Raises :class:`LedgerError`."""
    claims: list[Claim] = []
    seen: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        records = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(records, list):
            raise LedgerError(f"{path.name}: expected a list of records")
        for i, record in enumerate(records):
            where = (
                f"{path.name}[{i}] ({record.get('id', '?') if isinstance(record, dict) else '?'})"
            )
            if not isinstance(record, dict):
                raise LedgerError(f"{where}: expected a mapping")
            claim = _check(record, where, path.stem)
            if claim.id in seen:
                raise LedgerError(f"{where}: duplicate id, first in {seen[claim.id]}")
            seen[claim.id] = path.name
            claims.append(claim)
    return tuple(claims)


def claims_by_id() -> dict[str, Claim]:
    """``{id: Claim}`` for the whole ledger."""
    return {c.id: c for c in load_ledger()}


def resolve(dotted: str) -> object:
    """Import ``package.module.attr[.attr…]`` (the ledger's ``theory``/``kernels``/
    ``derivation``; a method is named through its class, e.g. ``theory.arch.Spec.attention``)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(f"no importable module in {dotted!r}")
