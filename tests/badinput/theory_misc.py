"""Bad-input entries for :mod:`theory.derivation` and :mod:`theory.ledger`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, one_of
from theory.derivation import Derivation, Step
from theory.ledger import CLAIMS_DIR, KINDS, VERDICTS, Claim, LedgerError

x = sympy.Symbol("x", integer=True, positive=True)


def _nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _derivation(**over: Any) -> Derivation:
    kwargs: dict[str, Any] = {
        "title": "Square",
        "steps": (Step("Multiply.", sympy.Eq(sympy.Symbol("y"), x * x)),),
        "claimed": x**2,
        "derived": x * x,
    }
    return Derivation(**{**kwargs, **over})


_CLAIM = {
    "id": "d000.linear.example",
    "document": "000_160a0b7c04e12fc6.txt",
    "section": "Mathematical Foundation of Linear Layers",
    "statement": "A dense layer has $m(n+1)$ parameters.",
    "kind": "symbolic",
    "verdict": "holds",
    "topic": "linear",
}

ENTRIES = [
    Entry(
        "theory.derivation.Step",
        samples=(
            Sample(
                {"text": "A step.", "expr": sympy.Eq(x, 1)},
                check=lambda s: s.expr == sympy.Eq(x, 1),
            ),
            Sample({"text": "Text only.", "expr": None}),
        ),
        errors=(
            ErrorSample({"text": None}, TypeError, "text must be a str"),
            ErrorSample({"text": "  "}, ValueError, "text must be a non-empty str"),
            ErrorSample({"text": "a", "expr": "x + 1"}, TypeError, "expr must be a SymPy object"),
            ErrorSample({"text": "a", "expr": sympy.false}, ValueError, "expr must be a relation"),
        ),
        result="any",
        domains={
            "text": _nonempty_str,
            "expr": lambda v: v is None or isinstance(v, sympy.Basic),
        },
    ),
    Entry(
        "theory.derivation.Derivation",
        samples=(
            Sample(
                {
                    "title": "Square",
                    "steps": (Step("Multiply."),),
                    "claimed": x**2,
                    "derived": x * x,
                    "scope": "proved",
                    "assumptions": {},
                },
                check=lambda d: d.agrees(),
            ),
            Sample(
                {
                    "title": "At one point",
                    "steps": [Step("Substitute.")],
                    "claimed": x + 1,
                    "derived": 2,
                    "scope": "checked at x = 1",
                    "assumptions": {x: 1},
                },
                check=lambda d: d.agrees() and isinstance(d.steps, tuple),
            ),
        ),
        errors=(
            ErrorSample({"title": 3, "steps": ()}, TypeError, "title must be a str"),
            ErrorSample(
                {"title": "t", "steps": ("a step",)}, TypeError, r"steps\[0\] must be a Step"
            ),
            ErrorSample({"title": "t", "steps": (), "claimed": 1.5}, TypeError, "claimed"),
            ErrorSample({"title": "t", "steps": (), "derived": "x"}, TypeError, "derived"),
            ErrorSample({"title": "t", "steps": (), "assumptions": [1]}, TypeError, "assumptions"),
            ErrorSample({"title": "t", "steps": (), "scope": ""}, ValueError, "scope"),
        ),
        result="any",
        domains={"title": _nonempty_str, "scope": _nonempty_str},
    ),
    Entry(
        "theory.derivation.Derivation.agrees",
        samples=(Sample({}, check=lambda r: r is True),),
        make=lambda: _derivation().agrees,
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.derivation.Derivation.difference",
        samples=(Sample({}, check=lambda r: r == 0),),
        make=lambda: _derivation().difference,
        result="any",
        fuzz=False,
        note="no arguments (a derivation without claimed/derived: tests/test_ledger.py)",
    ),
    Entry(
        "theory.derivation.Derivation.to_markdown",
        samples=(Sample({}, check=lambda r: "Square" in r and "equal" in r),),
        make=lambda: _derivation().to_markdown,
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.ledger.Claim",
        samples=(
            Sample(dict(_CLAIM), check=lambda c: c.citation().startswith("000_")),
            Sample(
                {
                    **_CLAIM,
                    "verdict": "refuted",
                    "theory": ["theory.linear.linear_params"],
                    "counterexample": "m = n = 1",
                    "correction": "none",
                },
                check=lambda c: c.theory == ("theory.linear.linear_params",),
            ),
        ),
        errors=(
            ErrorSample({**_CLAIM, "verdict": "true"}, ValueError, "verdict must be one of"),
            ErrorSample({**_CLAIM, "kind": "formal"}, ValueError, "kind must be one of"),
            ErrorSample({**_CLAIM, "id": 5}, TypeError, "id must be a str"),
            ErrorSample({**_CLAIM, "theory": "theory.linear"}, TypeError, "theory must be a tuple"),
            ErrorSample({**_CLAIM, "readings": ("x",)}, TypeError, r"readings\[0\] must be a dict"),
        ),
        result="any",
        domains={
            "id": _nonempty_str,
            "document": _nonempty_str,
            "section": _nonempty_str,
            "statement": _nonempty_str,
            "topic": _nonempty_str,
            "kind": one_of(*KINDS),
            "verdict": one_of(*VERDICTS),
        },
    ),
    Entry(
        "theory.ledger.Claim.citation",
        samples=(
            Sample(
                {},
                check=lambda r: (
                    r == "000_160a0b7c04e12fc6.txt § Mathematical Foundation of Linear Layers"
                ),
            ),
        ),
        make=lambda: Claim(**_CLAIM).citation,
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.ledger.LedgerError",
        samples=(
            Sample(
                {},
                args=("linear.yaml[0]: missing ['id']",),
                check=lambda e: isinstance(e, ValueError),
            ),
        ),
        result="any",
        fuzz=False,
        note="an exception class: its only argument is a message, given positionally",
    ),
    Entry(
        "theory.ledger.claims_by_id",
        samples=(Sample({}, check=lambda r: len(r) > 0 and all(k == c.id for k, c in r.items())),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.ledger.load_ledger",
        samples=(
            Sample({"directory": CLAIMS_DIR}, check=lambda r: len(r) > 0),
            Sample({"directory": str(CLAIMS_DIR)}, check=lambda r: len(r) > 0),
        ),
        errors=(
            ErrorSample({"directory": 5}, TypeError, "directory must be a path"),
            ErrorSample(
                {"directory": Path("/nonexistent/claims")},
                ValueError,
                "directory must be an existing directory",
            ),
            ErrorSample(
                {"directory": Path(__file__).parent},
                ValueError,
                r"directory must hold claim files",
            ),
            ErrorSample({"directory": [CLAIMS_DIR]}, TypeError, "directory must be a path"),
        ),
        result="any",
    ),
    Entry(
        "theory.ledger.resolve",
        samples=(
            Sample(
                {"dotted": "theory.conv.conv_params"},
                check=lambda r: r.__name__ == "conv_params",
            ),
            Sample({"dotted": "theory.arch.Spec.attention"}, check=lambda r: callable(r)),
        ),
        errors=(
            ErrorSample(
                {"dotted": "theory.conv.no_such_helper"},
                ValueError,
                "dotted .* has no attribute 'no_such_helper'",
            ),
            ErrorSample(
                {"dotted": "no_such_package.x"}, ValueError, "dotted .* names no importable"
            ),
            ErrorSample({"dotted": "conv_params"}, ValueError, "dotted must be a dotted name"),
            ErrorSample({"dotted": "theory..conv"}, ValueError, "dotted must be a dotted name"),
            ErrorSample({"dotted": None}, TypeError, "dotted must be a str"),
        ),
        result="any",
    ),
]

# LedgerError is a ValueError, so that a malformed ledger is reported like any bad input.
assert issubclass(LedgerError, ValueError)
