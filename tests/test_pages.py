"""The Markdown of the claim, errata and overview pages (:mod:`layercheck.pages`): what a reader
must find there, checked on the text the site is built from."""

from __future__ import annotations

import re

import sympy

from layercheck.pages import (
    LONG,
    LONG_TEXT,
    _first_sentence,
    claim_section,
    derivation_markdown,
    errata_page,
    outline,
    overview_table,
)
from layercheck.report import new_report
from theory.ledger import load_ledger

CLAIMS = load_ledger()
TITLES = {c.topic: c.topic.title() for c in CLAIMS}


def test_overview_columns_line_up_with_their_headers():
    html = overview_table(new_report(), TITLES)
    headers = re.findall(r"<th>(\w+)</th>", html)
    first_row = re.search(r"<tr data-verdict=.*?</tr>", html).group(0)
    cells = re.findall(r"<td>(.*?)</td>", first_row)
    assert headers == ["claim", "verdict", "topic"]
    assert "<code>" in cells[0] and 'class="verdict' in cells[1] and "verdict" not in cells[2]
    assert html.count("<tr data-verdict=") == len(CLAIMS)


def test_errata_show_every_erratum_with_its_readings_correction_and_conditions():
    page = errata_page(new_report(), TITLES)
    errata = [c for v in ("refuted", "conditional", "ambiguous") for c in CLAIMS if c.verdict == v]
    sections = page.split("\n### ")[1:]

    def shown(text: str) -> str:  # as the page writes ledger text inside its HTML cells
        return " ".join(text.replace("<", "&lt;").replace(">", "&gt;").split())[:40]

    assert len(sections) == len(errata)
    for c, section in zip(errata, sections, strict=True):
        assert section.startswith(f"{c.title} {{#{c.id.replace('.', '-')}}}")
        for r in c.readings:
            assert shown(r["reading"]) in " ".join(section.split())
        assert ("**Correction**" in section) == bool(c.correction or not c.conditions)
        if c.conditions:
            assert shown(c.conditions) in " ".join(section.split())
        if c.counterexample:
            assert "**Counterexample**" in section


def test_a_shared_derivation_is_printed_once_per_page():
    shared = {}
    for c in CLAIMS:
        shared.setdefault((c.topic, c.derivation), []).append(c)
    (_topic, dotted), group = next((k, v) for k, v in shared.items() if k[1] and len(v) > 1)
    shown: dict[str, str] = {}
    first, second = (claim_section(c, None, shown) for c in group[:2])
    assert f'??? abstract "Derivation (SymPy): `{dotted}`"' in first
    assert "??? abstract" not in second and f"#{group[0].id.replace('.', '-')}" in second


def test_long_expressions_are_outlined_and_collapsed():
    x, y = sympy.symbols("x y")
    expr = sympy.expand((x + y + 1) ** 12)
    assert len(sympy.latex(expr)) > LONG
    short = outline(expr, 120)
    assert short is not None and len(short) <= 120 and r"\cdots" in short
    assert outline(x + y) is None  # nothing to cut
    text = derivation_markdown("theory.normalization.derive_batchnorm_backward")
    assert '<details class="long-expr"' in text and "Outline (deeper terms" in text


def test_long_conditions_show_their_first_sentence_and_keep_every_word():
    long = [c for c in CLAIMS if len(c.conditions) > LONG_TEXT]
    assert long
    for c in long[:20]:
        section = claim_section(c, None, {})
        first, rest = _first_sentence(" ".join(c.conditions.split()))
        if rest:
            assert f"**Conditions.** {first}" in section and '<details class="more"' in section
            assert f"{first} {rest}" == " ".join(c.conditions.split())
            assert first.count("$") % 2 == 0 and first.count("`") % 2 == 0  # math kept whole
    short = next(c for c in CLAIMS if c.conditions and len(c.conditions) <= LONG_TEXT)
    assert "details" not in claim_section(short, None, {}).split("**Conditions.**")[1][:200]
