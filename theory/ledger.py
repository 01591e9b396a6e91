r"""The claim ledger: one record per checkable claim of the two course documents.

The records live in ``theory/claims/<topic>.yaml`` — or, for a topic kept in parts, in
``<topic>.<part>.yaml`` files, read in file-name order; this module loads and validates them.
The ledger is the single source of truth: the verification report, the docs pages and the
coverage meta-test read it, nothing re-types it.

Record fields
-------------
``id``            stable id ``d<doc>.<topic>.<slug>`` (``d000`` / ``d002`` name the document)
``document``      the document's file name
``section``       the heading of the section the claim is made in
``title``         a short title (one line of at most 60 characters, plain text with inline
                  ``$math$``), shown in headings, tables, search and ``layercheck list``
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
``topic``         filled from the file name (before its first dot)
"""

from __future__ import annotations

import importlib
import os
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
    title: str = ""

    def __post_init__(self) -> None:
        """Check the field types and vocabularies (``TypeError``/``ValueError`` naming the
        field); list fields may be given as lists and are stored as tuples."""
        for name in ("id", "document", "section", "statement", "kind", "verdict", "topic"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r})")
            if not value.strip():
                raise ValueError(f"{name} must be a non-empty str")
        for name in ("conditions", "correction", "counterexample", "reason", "derivation", "title"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r})")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        for name in ("theory", "kernels", "references", "readings"):
            value = getattr(self, name)
            if isinstance(value, str | bytes) or not isinstance(value, tuple | list):
                raise TypeError(f"{name} must be a tuple, got {type(value).__name__} ({value!r})")
            item_type = dict if name == "readings" else str
            for i, item in enumerate(value):
                if not isinstance(item, item_type):
                    raise TypeError(
                        f"{name}[{i}] must be a {item_type.__name__}, got {type(item).__name__}"
                    )
            object.__setattr__(self, name, tuple(value))

    def citation(self) -> str:
        """``<document> § <section>``, the form every page and docstring cites."""
        return f"{self.document} § {self.section}"


class LedgerError(ValueError):
    """A ledger record is malformed (names the file and the record)."""


_REQUIRED = ("id", "title", "document", "section", "statement", "kind", "verdict")
TITLE_MAX = 60
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
    title = record["title"]
    if not isinstance(title, str) or "\n" in title or len(title) > TITLE_MAX:
        raise LedgerError(f"{where}: title must be one line of at most {TITLE_MAX} characters")
    if any(c in part for part in title.split("$")[::2] for c in "{}"):
        # the title heads a section whose anchor is written {#id}: a brace outside math
        # breaks the heading (write sets in math, $\{-1, +1\}$)
        raise LedgerError(f"{where}: title must not hold braces outside $math$, got {title!r}")
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
    readings = record.get("readings") or ()
    if not isinstance(readings, list | tuple):
        raise LedgerError(f"{where}: 'readings' must be a list")
    for r in readings:
        if not isinstance(r, dict) or set(r) != {"reading", "verdict"}:
            raise LedgerError(f"{where}: each reading needs 'reading' and a valid 'verdict'")
        if r["verdict"] not in VERDICTS:
            raise LedgerError(f"{where}: each reading needs 'reading' and a valid 'verdict'")
    try:
        return Claim(
            **{k: record[k] for k in _REQUIRED},
            topic=topic,
            conditions=record.get("conditions", "") or "",
            correction=record.get("correction", "") or "",
            counterexample=record.get("counterexample", "") or "",
            readings=tuple(readings),
            reason=record.get("reason", "") or "",
            theory=tuple(record.get("theory") or ()),
            kernels=tuple(record.get("kernels") or ()),
            derivation=record.get("derivation", "") or "",
            references=tuple(record.get("references") or ()),
        )
    except (TypeError, ValueError) as e:
        raise LedgerError(f"{where}: {e}") from None


def load_ledger(directory: str | os.PathLike[str] = CLAIMS_DIR) -> tuple[Claim, ...]:
    """All claims of ``directory/*.yaml``, in file order (topics alphabetically).

    Raises ``TypeError`` when ``directory`` is not a path (``str`` or ``os.PathLike``),
    ``ValueError`` when it is not an existing directory holding ``*.yaml`` files, and
    :class:`LedgerError` (a ``ValueError``) for a malformed file or record. Cached per
    resolved directory.
    """
    if isinstance(directory, bytes) or not isinstance(directory, str | os.PathLike):
        raise TypeError(
            f"directory must be a path (str or os.PathLike), got {type(directory).__name__} "
            f"({directory!r})"
        )
    path = Path(directory)
    if not path.is_dir():
        raise ValueError(f"directory must be an existing directory of claim files, got {path}")
    if not any(path.glob("*.yaml")):
        raise ValueError(f"directory must hold claim files (*.yaml), none in {path}")
    return _load(path.resolve())


@cache
def _load(directory: Path) -> tuple[Claim, ...]:
    claims: list[Claim] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            records = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise LedgerError(f"{path.name}: cannot read claims: {e}") from None
        if not isinstance(records, list):
            raise LedgerError(f"{path.name}: expected a list of records")
        for i, record in enumerate(records):
            where = (
                f"{path.name}[{i}] ({record.get('id', '?') if isinstance(record, dict) else '?'})"
            )
            if not isinstance(record, dict):
                raise LedgerError(f"{where}: expected a mapping")
            claim = _check(record, where, path.stem.split(".")[0])
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
    ``derivation``; a method is named through its class, e.g. ``theory.arch.Spec.attention``).

    Raises ``TypeError`` when ``dotted`` is not a ``str`` and ``ValueError`` when it names no
    attribute of an importable module (a module that exists but fails to import, e.g. for a
    missing dependency, re-raises its own ``ImportError``).
    """
    if not isinstance(dotted, str):
        raise TypeError(f"dotted must be a str such as 'theory.conv.conv_params', got {dotted!r}")
    parts = dotted.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts):
        raise ValueError(f"dotted must be a dotted name 'package.module.attr', got {dotted!r}")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name or module_name.startswith(f"{e.name}."):
                continue  # this prefix is not a module: try a shorter one
            raise
        for i, attr in enumerate(parts[cut:], cut):
            if not hasattr(obj, attr):
                raise ValueError(
                    f"dotted {dotted!r}: {'.'.join(parts[:i])} has no attribute {attr!r}"
                )
            obj = getattr(obj, attr)
        return obj
    raise ValueError(f"dotted {dotted!r} names no importable module")
