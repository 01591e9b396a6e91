r"""A small record for symbolic derivations, so that tests and the docs read the same object.

A :class:`Derivation` holds the document's formula (``claimed``), the formula derived here
(``derived``), the steps in between, and the scope of the result (proved for all admissible
values, or checked over a stated finite range). Tests call :meth:`Derivation.agrees`;
the docs print :meth:`Derivation.to_markdown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy


@dataclass(frozen=True)
class Step:
    """One step: a sentence (Markdown, may hold ``$…$``) and optionally a SymPy object."""

    text: str
    expr: sympy.Basic | None = None


@dataclass(frozen=True)
class Derivation:
    r"""A derivation of one claim.

    Attributes
    ----------
    title:
        What is derived.
    steps:
        The steps, in order.
    claimed:
        The document's formula as a SymPy expression (``None`` when the claim has no formula).
    derived:
        The formula derived here, under ``assumptions``.
    scope:
        ``"proved"`` (symbolic identity for all admissible values) or a sentence naming the
        finite range over which an exhaustive check was made.
    assumptions:
        The conditions under which ``claimed`` is compared with ``derived``.
    """

    title: str
    steps: tuple[Step, ...]
    claimed: sympy.Expr | None = None
    derived: sympy.Expr | None = None
    scope: str = "proved"
    assumptions: dict[sympy.Symbol, object] = field(default_factory=dict)

    def difference(self) -> sympy.Expr:
        """``claimed - derived`` after substituting the assumptions, simplified exactly."""
        if self.claimed is None or self.derived is None:
            raise ValueError("this derivation has no claimed/derived pair to compare")
        diff = (self.claimed - self.derived).subs(self.assumptions)
        return sympy.simplify(sympy.expand(diff))

    def agrees(self) -> bool:
        """True when the document's formula equals the derived one identically."""
        return self.difference() == 0

    def to_markdown(self) -> str:
        """The derivation as Markdown with display math (``$$…$$``) for each expression."""
        lines = [f"**{self.title}**", ""]
        for i, step in enumerate(self.steps, 1):
            lines.append(f"{i}. {step.text}")
            if step.expr is not None:
                lines += ["", f"    $$ {sympy.latex(step.expr)} $$", ""]
        if self.claimed is not None and self.derived is not None:
            verdict = "equal" if self.agrees() else "**not equal**"
            lines += [
                "",
                f"Document's formula: ${sympy.latex(self.claimed)}$; derived: "
                f"${sympy.latex(self.derived)}$ — {verdict}"
                + (
                    " under "
                    + ", ".join(
                        f"${sympy.latex(k)} = {sympy.latex(v)}$"
                        for k, v in self.assumptions.items()
                    )
                    if self.assumptions
                    else ""
                )
                + f" (scope: {self.scope}).",
            ]
        return "\n".join(lines)
