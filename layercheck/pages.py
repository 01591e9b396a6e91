r"""The Markdown of the site's claim pages, errata page and overview table, from the ledger
and the verdict report (``scripts/gen_pages.py`` writes them at build time).

Derivations are shown as readable steps: an expression whose LaTeX is longer than
:data:`LONG` characters is shown as an *outline* (its top levels, deeper terms as
:math:`\cdots`) with the full expression collapsed below it; display math scrolls
sideways instead of widening the page (``docs/stylesheets/extra.css``). A derivation shared by
several claims of a page is printed once; the others link to it.
"""

from __future__ import annotations

import html
import numbers
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import sympy

from layercheck.report import STATUSES, validate_report
from layercheck.summary import ERRATA, ORDER, _record
from numerics.cache import cached
from theory.ledger import Claim, resolve

#: LaTeX longer than this is outlined and collapsed.
LONG = 400
#: An outline's LaTeX stays under this many characters.
OUTLINE = 260
_DOTS = sympy.Symbol(r"\cdots")


def badge(verdict: str) -> str:
    """The coloured verdict label (``docs/stylesheets/extra.css``) of an earned or declared
    verdict (:data:`layercheck.report.STATUSES`)."""
    if verdict not in STATUSES:
        raise ValueError(f"verdict must be one of {STATUSES}, got {verdict!r}")
    return f'<span class="verdict verdict-{verdict}">{verdict}</span>'


def anchor(claim_id: str) -> str:
    """The claim's anchor on its topic page: the id with dots as dashes."""
    if not isinstance(claim_id, str):
        raise TypeError(f"claim_id must be a str, got {type(claim_id).__name__}")
    return claim_id.replace(".", "-")


def _cut(expr: sympy.Basic, depth: int) -> sympy.Basic:
    """``expr`` with every subtree below ``depth`` replaced by ``\\cdots``."""
    if expr.is_Atom or not expr.args:
        return expr
    if depth == 0:
        return _DOTS
    if isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(lambda e: _cut(e, depth - 1))
    args = [_cut(a, depth - 1) for a in expr.args]
    if isinstance(expr, sympy.Add | sympy.Mul) and len(args) > 4:
        args = [*args[:3], _DOTS]  # a long sum or product: its first terms, then the rest
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:
        return expr.func(*args)


def outline(expr: sympy.Basic, budget: int = OUTLINE) -> str | None:
    r"""LaTeX of ``expr`` cut at the deepest level whose LaTeX fits in ``budget`` characters
    (deeper terms as :math:`\cdots`), or ``None`` when even the top level does not fit or
    nothing would be cut."""
    if not isinstance(expr, sympy.Basic):
        raise TypeError(f"expr must be a SymPy expression, got {type(expr).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral):
        raise TypeError(f"budget must be a positive int, got {budget!r}")
    if budget < 1:
        raise ValueError(f"budget must be a positive int, got {budget!r}")
    best = None
    for depth in range(1, 12):
        try:
            text = sympy.latex(_cut(expr, depth))
        except Exception:  # an exotic object SymPy cannot rebuild: no outline
            return best
        if len(text) > budget:
            return best
        if _DOTS.name not in text:
            return None  # fits whole: no outline needed (the caller shows it)
        best = text
    return best


def _math_block(latex: str, indent: str) -> list[str]:
    return [f"{indent}$$", f"{indent}{latex}", f"{indent}$$", ""]


def _expression(expr: sympy.Basic, indent: str) -> list[str]:
    latex = sympy.latex(expr)
    if len(latex) <= LONG:
        return _math_block(latex, indent)
    out: list[str] = []
    short = outline(expr)
    if short:
        out += [f"{indent}Outline (deeper terms shown as $\\cdots$):", ""]
        out += _math_block(short, indent)
    out += [
        f'{indent}<details class="long-expr" markdown="1">',
        f"{indent}<summary>Full expression ({len(latex):,} characters of LaTeX)</summary>",
        "",
        *_math_block(latex, indent),
        f"{indent}</details>",
        "",
    ]
    return out


def derivation_markdown(dotted: str, stated: bool = False) -> str:
    """The derivation returned by the function ``dotted`` (a ledger ``derivation``) as
    Markdown: its title, numbered steps with their expressions (long ones outlined and
    collapsed), and the document's formula against the derived one — the *stated* formula
    when ``stated`` (a claim of our own, beyond the documents' text)."""
    if not isinstance(dotted, str):
        raise TypeError(f"dotted must be the dotted name of a derivation, got {dotted!r}")
    if not isinstance(stated, bool):
        raise TypeError(f"stated must be True or False, got {stated!r}")
    whose = ("The stated", "Stated") if stated else ("The document's", "Document's")
    d = resolve(dotted)()
    out = [f"**{d.title}**", ""]
    for i, step in enumerate(d.steps, 1):
        out += [f"{i}. {step.text}", ""]
        if step.expr is not None:
            out += _expression(step.expr, "    ")
    if d.claimed is not None and d.derived is not None:
        verdict = "equal" if d.agrees() else "**not equal**"
        under = ""
        if d.assumptions:
            under = " under " + ", ".join(
                f"${sympy.latex(k)} = {sympy.latex(v)}$" for k, v in d.assumptions.items()
            )
        out += [f"{whose[0]} formula and the derived one are {verdict}{under} "
                f"(scope: {d.scope}).", ""]  # fmt: skip
        pairs = [(f"{whose[1]} formula", d.claimed), ("Derived", d.derived)]
        if sympy.latex(d.claimed) == sympy.latex(d.derived):
            pairs = [(f"{whose[1]} formula and derived, printed alike", d.claimed)]
        for label, expr in pairs:
            out += [f"- {label}:", "", *_expression(expr, "    ")]
    return "\n".join(out)


def _titles(topic_titles: Any) -> None:
    if not isinstance(topic_titles, Mapping) or not all(
        isinstance(v, str) for v in topic_titles.values()
    ):
        raise TypeError("topic_titles must map topics to page titles (str)")


#: Conditions or a reason longer than this show their first sentence, the rest on demand.
LONG_TEXT = 500


def _first_sentence(text: str) -> tuple[str, str]:
    """``text`` split after its first sentence (a full stop followed by a space and a capital,
    outside ``$…$`` math and backticks), or ``(text, "")``."""
    math = code = False
    for i, ch in enumerate(text):
        if ch == "$":
            math = not math
        elif ch == "`":
            code = not code
        elif (
            ch == "."
            and not (math or code)
            and text[i + 1 : i + 2].isspace()
            and text[i + 2 : i + 3].isupper()
            and i > 40
        ):
            return text[: i + 1], text[i + 2 :]
    return text, ""


def _long_text(label: str, text: str) -> list[str]:
    """``**Label.** text`` — for a long text the first sentence, and the rest in a
    collapsed block opened by "more" (the page stays short enough to scan)."""
    first, rest = _first_sentence(" ".join(text.split()))
    if len(text) <= LONG_TEXT or not rest:
        return [f"**{label}.** {text}", ""]
    return [
        f"**{label}.** {first}",
        "",
        '<details class="more" markdown="1">',
        f"<summary>more ({len(rest.split())} words)</summary>",
        "",
        rest,
        "",
        "</details>",
        "",
    ]


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line if line else "" for line in text.split("\n"))


def claim_section(
    claim: Claim, record: Mapping[str, Any] | None, shown: dict[str, str] | None = None
) -> str:
    """One claim's section of its topic page: title heading (anchored by id), verdicts,
    statement, conditions, readings, correction, counterexample, derivation (collapsed;
    printed once per page: ``shown`` maps a derivation already printed to the claim whose
    section holds it), code, references and tests (collapsed)."""
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a theory.ledger.Claim, got {type(claim).__name__}")
    if record is not None:
        _record(record, "record")
        if record["id"] != claim.id:
            raise ValueError(f"record must be the claim's record, got {record['id']!r}")
    if shown is not None and not isinstance(shown, dict):
        raise TypeError(f"shown must be a dict or None, got {type(shown).__name__}")
    c = claim
    earned = record["earned_verdict"] if record else "unverified"
    out = [f"## {c.title} {{#{anchor(c.id)}}}", ""]
    declared = "" if earned == c.verdict else f" (declared: {badge(c.verdict)})"
    out.append(f'{badge(earned)}{declared} <span class="claim-meta">`{c.id}` · {c.kind} · '
               f"{c.document.split('_')[0]} § {html.escape(c.section)}</span>")  # fmt: skip
    out += ["", f"**Claim.** {c.statement}", ""]
    if c.conditions:
        out += _long_text("Conditions", c.conditions)
    if c.readings:
        out += ["**Readings.**", ""]
        out += [f"- {badge(r['verdict'])} {r['reading']}" for r in c.readings]
        out.append("")
    if c.correction:
        out += [f"**Correction.** {c.correction}", ""]
    if c.counterexample:
        out += [f"**Counterexample.** {c.counterexample}", ""]
    if c.reason:
        out += _long_text("Why not checkable", c.reason)
    if c.derivation:
        shown = {} if shown is None else shown
        if c.derivation in shown:
            first = shown[c.derivation]
            out += [f"**Derivation.** `{c.derivation}`, shown under "
                    f"[{first}](#{anchor(first)}).", ""]  # fmt: skip
        else:
            shown[c.derivation] = c.id
            module = resolve(c.derivation).__module__  # its source is part of the cache key
            stated = c.statement.lstrip().startswith("Beyond the text")
            body = cached(derivation_markdown, c.derivation, stated, depends=(module,))
            out += [f'??? abstract "Derivation (SymPy): `{c.derivation}`"', "", _indent(body), ""]
    code = [f"theory: {', '.join(f'`{t}`' for t in c.theory)}" if c.theory else "",
            f"kernels: {', '.join(f'`{k}`' for k in c.kernels)}" if c.kernels else ""]  # fmt: skip
    if any(code):
        out += ["**Code.** " + " · ".join(x for x in code if x), ""]
    if c.references:
        out += ["**References.** " + "; ".join(c.references), ""]
    tests = record["tests"] if record and record["run"] is not None else None
    if tests is None:
        out += [f"**Tests.** not run yet: `layercheck check --claim {c.id}`.", ""]
    else:
        passed = sum(t["outcome"] == "passed" for t in tests)
        out += [f'??? check "Tests: {passed} of {len(tests)} passed"', ""]
        out += [f"    - `{t['nodeid']}`: {t['outcome']}" for t in tests] or ["    - none"]
        out.append("")
    return "\n".join(out)


def topic_table(claims: Sequence[Claim], records: Mapping[str, Mapping[str, Any]]) -> str:
    """The table at the top of a topic page: title (linked), id, source, earned verdict."""
    if not isinstance(claims, Sequence) or not all(isinstance(c, Claim) for c in claims):
        raise TypeError("claims must be a sequence of theory.ledger.Claim")
    if not isinstance(records, Mapping):
        raise TypeError(f"records must be a mapping of id to record, got {records!r}")
    out = ["| claim | id | source | verdict |", "| --- | --- | --- | --- |"]
    for c in claims:
        earned = records[c.id]["earned_verdict"] if c.id in records else "unverified"
        doc = c.document.split("_")[0]
        out.append(
            f"| [{c.title}](#{anchor(c.id)}) | `{c.id}` | {doc} § {c.section} | {badge(earned)} |"
        )
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Ledger text inside an HTML block: Markdown is processed (``markdown="1"``); only
    the characters that would open HTML are escaped."""
    return text.replace("<", "&lt;").replace(">", "&gt;").strip()


def errata_page(report: Mapping[str, Any], topic_titles: Mapping[str, str]) -> str:
    """Every refuted, conditional and ambiguous claim: what the document says, the
    counterexample, and the correction (or the conditions, or the readings), side by side."""
    validate_report(report)
    _titles(topic_titles)
    claims = [c for c in report["claims"] if c["declared_verdict"] in ERRATA]
    counts = Counter(c["declared_verdict"] for c in claims)
    out = [
        "# Errata",
        "",
        "Every claim of the two documents that is wrong as written (**refuted**), true only "
        "under conditions the text does not state (**conditional**), or open to readings "
        "with different truth values (**ambiguous**): the claim as the document makes it "
        "(in this project's words), the smallest counterexample found, and the corrected "
        "statement, verified by the tests named on the claim's page. "
        + ", ".join(f"{counts[v]} {v}" for v in ERRATA)
        + ". From the terminal: `layercheck list --verdict refuted`.",
        "",
    ]
    for verdict in ERRATA:
        group = [c for c in claims if c["declared_verdict"] == verdict]
        out += [f"## {verdict.capitalize()} ({len(group)})", ""]
        for c in group:
            link = f"claims/{c['topic']}.md#{anchor(c['id'])}"
            earned = c["earned_verdict"]
            status = "" if earned == verdict else f" {badge(earned)}"
            out += [
                f"### {c['title']} {{#{anchor(c['id'])}}}",
                "",
                f"[`{c['id']}`]({link}) · {topic_titles.get(c['topic'], c['topic'])} · "
                f"{c['document'].split('_')[0]} § {c['section']}{status}",
                "",
                '<div class="errata-row" markdown="1">',
                '<div class="errata-cell" markdown="1">',
                "**The document**",
                "",
                _cell(c["statement"]),
                "",
                "</div>",
                '<div class="errata-cell" markdown="1">',
                "**Counterexample**" if c["counterexample"] else "**Readings**",
                "",
            ]
            if c["counterexample"]:
                out += [_cell(c["counterexample"]), ""]
            if c["readings"]:
                if c["counterexample"]:
                    out += ["**Readings**", ""]
                out += [f"- {badge(r['verdict'])} {_cell(r['reading'])}" for r in c["readings"]]
                out.append("")
            out += ["</div>", '<div class="errata-cell" markdown="1">']
            if c["correction"]:
                out += ["**Correction**", "", _cell(c["correction"]), ""]
            if c["conditions"]:
                label = {"conditional": "Holds when", "ambiguous": "Which reading holds"}
                out += [f"**{label.get(verdict, 'Conditions')}**", ""]
                out += [_cell(c["conditions"]), ""]
            if not (c["correction"] or c["conditions"]):
                out += ["**Correction**", "", "See the readings.", ""]
            out += ["</div>", "</div>", ""]
    return "\n".join(out)


def _html_math(text: str) -> str:
    r"""Ledger text for a raw HTML cell: escaped, with inline ``$x$`` turned into ``\(x\)``
    (arithmatex does not look inside raw HTML; the site's KaTeX renders ``\( \)``)."""
    return re.sub(r"\$([^$]+)\$", r"\\(\1\\)", html.escape(text, quote=False))


def overview_table(report: Mapping[str, Any], topic_titles: Mapping[str, str]) -> str:
    """Every claim in one table (title, earned verdict, topic) with verdict filter buttons
    (``docs/javascripts/verdict-filter.js``; without JavaScript the whole table shows)."""
    validate_report(report)
    _titles(topic_titles)
    claims = report["claims"]
    counts = Counter(c["earned_verdict"] for c in claims)
    shown = [v for v in ORDER if counts[v]]
    out = [
        "## All claims",
        "",
        '<div class="verdict-filter" data-target="claims-table">',
        '<span class="verdict-filter-label">Show:</span>',
        '<button type="button" class="verdict-filter-all" aria-pressed="true">all '
        f"({len(claims)})</button>",
    ]
    out += [
        f'<button type="button" data-verdict="{v}" aria-pressed="false">{badge(v)} '
        f"({counts[v]})</button>"
        for v in shown
    ]
    out += [
        "</div>",
        "",
        '<div class="md-typeset__table"><table id="claims-table">',
        "<thead><tr><th>claim</th><th>verdict</th><th>topic</th></tr></thead><tbody>",
    ]
    for c in claims:
        title = _html_math(c["title"])
        topic = html.escape(topic_titles.get(c["topic"], c["topic"]))
        out.append(
            f'<tr data-verdict="{c["earned_verdict"]}"><td><a href="{c["docs"]}">{title}</a>'
            f"<br><code>{c['id']}</code></td><td>{badge(c['earned_verdict'])}</td>"
            f"<td>{topic}</td></tr>"
        )
    out += ["</tbody></table></div>", ""]
    return "\n".join(out)
