r"""A small record for symbolic derivations, so that tests and the docs read the same object.

A :class:`Derivation` holds the document's formula (``claimed``), the formula derived here
(``derived``), the steps in between, and the scope of the result (proved for all admissible
values, or checked over a stated finite range). Tests call :meth:`Derivation.agrees`;
the docs print :meth:`Derivation.to_markdown`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sympy


def _text(value: object, name: str, empty: bool = False) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r})")
    if not empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty str")


def _expr(value: object, name: str) -> sympy.Expr | None:
    """``None``, a SymPy expression, or an int (converted to ``sympy.Integer``)."""
    if value is None or isinstance(value, sympy.Expr):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return sympy.Integer(int(value))
    raise TypeError(
        f"{name} must be a SymPy expression, an int or None, got {type(value).__name__} ({value!r})"
    )


@dataclass(frozen=True)
class Step:
    """One step: a sentence (Markdown, may hold ``$…$``) and optionally a SymPy object.

    ``text`` must be a non-empty ``str``; ``expr`` ``None`` or a SymPy object (an equation,
    an inequality, an expression); anything else raises ``TypeError`` naming the field. An
    ``expr`` that has already evaluated to SymPy's ``True``/``False`` (``sympy.Eq`` of two
    equal or of a symbol and a matrix) raises ``ValueError``: the page would print the bare
    word; build the relation with ``evaluate=False``.
    """

    text: str
    expr: sympy.Basic | None = None

    def __post_init__(self) -> None:
        _text(self.text, "text")
        if self.expr is not None and not isinstance(self.expr, sympy.Basic):
            raise TypeError(
                f"expr must be a SymPy object or None, got {type(self.expr).__name__} "
                f"({self.expr!r})"
            )
        if isinstance(self.expr, sympy.logic.boolalg.BooleanAtom):
            raise ValueError(
                f"expr must be a relation or expression to show, got the evaluated {self.expr} "
                f"(build it with evaluate=False)"
            )


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
        The conditions under which ``claimed`` is compared with ``derived``: a mapping from
        SymPy symbols to values (SymPy objects or real numbers), substituted before comparing.

    The fields are checked on construction (``TypeError``/``ValueError`` naming the field):
    ``steps`` a sequence of :class:`Step` (stored as a tuple), ``claimed``/``derived`` SymPy
    expressions (ints become ``sympy.Integer``) or ``None``, ``title``/``scope`` non-empty
    strings.
    """

    title: str
    steps: tuple[Step, ...]
    claimed: sympy.Expr | None = None
    derived: sympy.Expr | None = None
    scope: str = "proved"
    assumptions: dict[sympy.Symbol, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _text(self.title, "title")
        _text(self.scope, "scope")
        steps = self.steps
        if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
            raise TypeError(f"steps must be a sequence of Step, got {type(steps).__name__}")
        for i, step in enumerate(steps):
            if not isinstance(step, Step):
                raise TypeError(f"steps[{i}] must be a Step, got {type(step).__name__}")
        object.__setattr__(self, "steps", tuple(steps))
        object.__setattr__(self, "claimed", _expr(self.claimed, "claimed"))
        object.__setattr__(self, "derived", _expr(self.derived, "derived"))
        if not isinstance(self.assumptions, Mapping):
            raise TypeError(
                f"assumptions must be a mapping {{symbol: value}}, got "
                f"{type(self.assumptions).__name__}"
            )
        for key, value in self.assumptions.items():
            if not isinstance(key, sympy.Basic):
                raise TypeError(f"assumptions keys must be SymPy symbols, got {key!r}")
            ok = isinstance(value, sympy.Basic) or (
                isinstance(value, numbers.Real) and not isinstance(value, bool)
            )
            if not ok:
                raise TypeError(
                    f"assumptions values must be SymPy objects or real numbers, got "
                    f"{value!r} for {key}"
                )

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
