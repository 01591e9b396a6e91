r"""A Griffe extension for the API reference: the project's reST docstrings as Markdown.

The library's docstrings are written for Sphinx: reST roles (``:math:`x```, ``:func:`f```,
``:mod:`m```, ``:class:`C```, ``:data:`D```, ``:meth:`m```, ``:sup:`2```), ``.. math::``
directives, and NumPy-style section titles underlined with dashes. mkdocstrings renders
docstrings as Markdown, where these would show as raw text, so before a docstring is parsed
this extension rewrites it:

* ``:math:`x``` → ``$x$`` and ``.. math:: x`` (with its indented continuation lines) → a
  ``$$ … $$`` block: the site's ``pymdownx.arithmatex`` (generic mode) turns both into
  ``\( \)`` / ``\[ \]`` spans that the site's KaTeX renders;
* ``:func:`~a.b.c``` and its kin → ``[`c()`][a.b.c]`` (an autorefs cross-reference; a module:
  a link to its page ``a.b.md``) when the target is an object the reference renders (public,
  documented, in a public module), else plain code `` `a.b.c` `` (no link that could break,
  e.g. to a private helper or to torch);
* ``:sup:`x``` → ``<sup>x</sup>``;
* prose after the items of a ``Parameters`` section (``Returns ``x``.``, a doctest) is
  moved before the section: Griffe's NumPy parser would read it as one more parameter;
* ``>>>`` blocks outside an ``Examples`` section are fenced as ``pycon`` code.

Underlined titles that are not NumPy sections (``Conventions``, ``References`` …) are left
to Griffe, which renders them as admonitions.

The library's source is not changed. Loaded by mkdocstrings-python through the handler's
``extensions`` option in ``mkdocs.yml``; ``scripts/gen_api.py`` uses :func:`rst_to_markdown`
for the one-line module summaries of ``api/index.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import griffe

# Documented packages: a cross-reference can only point into these.
PACKAGES = ("theory", "numerics", "kernels")

_ROLE = re.compile(r":(?P<role>[a-z]+):`(?P<body>[^`]+)`", re.DOTALL)
_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)$")
_UNDERLINE = re.compile(r"^[ \t]*-{3,}[ \t]*$")
# sections whose body is a list of items (``name:`` lines with indented descriptions)
_ITEM_SECTIONS = {"parameters", "other parameters"}
_PARAM = re.compile(r"^\*{0,2}\w+(\s*,\s*\*{0,2}\w+)*\s*(:.*)?$")
_XREF_ROLES = {"func", "class", "mod", "meth", "data", "attr", "obj", "exc"}

Resolver = Callable[[str], "str | None"]


def _math_blocks(text: str) -> str:
    """Turn each ``.. math::`` directive (and its indented continuation) into ``$$ … $$``."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("first").strip()] if m.group("first").strip() else []
        i += 1
        # continuation: lines indented deeper than the directive, blank lines inside allowed
        while i < len(lines) and (
            lines[i].strip() == "" or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            if lines[i].strip() == "" and (
                i + 1 >= len(lines) or len(lines[i + 1]) - len(lines[i + 1].lstrip()) <= len(indent)
            ):
                break  # a blank line that ends the directive
            body.append(lines[i].strip())
            i += 1
        if out and out[-1].strip():
            out.append("")
        out.append(f"{indent}$$")
        out.extend(f"{indent}{b}" for b in body if b)
        out.append(f"{indent}$$")
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


def _is_title(lines: list[str], i: int) -> bool:
    """Whether ``lines[i]`` is a section title (a non-blank line underlined with dashes)."""
    return (
        i + 1 < len(lines)
        and bool(lines[i].strip())
        and not _UNDERLINE.match(lines[i])
        and bool(_UNDERLINE.match(lines[i + 1]))
    )


def _hoist_trailing_prose(text: str) -> str:
    """Move prose that follows a ``Parameters`` section's items to before its title.

    The project writes e.g. ``Returns ``(N, d)``.`` or a doctest after the parameter list;
    Griffe's NumPy parser would read it as one more parameter (and warn). Hoisted, it is
    shown as text before the parameter table.
    """
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not (_is_title(lines, i) and lines[i].strip().lower() in _ITEM_SECTIONS):
            i += 1
            continue
        end = i + 2
        while end < len(lines) and not _is_title(lines, end):
            end += 1
        prose = next(
            (
                j
                for j in range(i + 3, end)
                if lines[j].strip()
                and lines[j] == lines[j].lstrip()
                and not lines[j - 1].strip()
                and not _PARAM.match(lines[j])
            ),
            None,
        )
        if prose is None:
            i = end
            continue
        moved = lines[prose:end]
        while moved and not moved[-1].strip():
            moved.pop()
        lines[i:end] = [*moved, "", *lines[i:prose]]
        i = end
    return "\n".join(lines)


def _fence_doctests(text: str) -> str:
    """Fence ``>>>`` blocks outside a NumPy ``Examples`` section as ``pycon`` code.

    (Inside ``Examples`` Griffe does it; elsewhere Markdown would read ``[33, 27]`` on an
    output line as a link.)
    """
    lines = text.split("\n")
    out: list[str] = []
    section = ""
    i = 0
    while i < len(lines):
        if _is_title(lines, i):
            section = lines[i].strip().lower()
        stripped = lines[i].lstrip()
        if section != "examples" and stripped.startswith(">>>"):
            indent = lines[i][: len(lines[i]) - len(stripped)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out += [f"{indent}```pycon", *block, f"{indent}```"]
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def rst_to_markdown(text: str, resolve: Resolver | None = None) -> str:
    """Rewrite the reST of one docstring as Markdown (see the module docstring).

    ``resolve`` maps a cross-reference target as written (``a.b.c`` or a name relative to the
    docstring's module) to the full path of a rendered object, or None: then the target is
    shown as code, not linked.
    """
    text = _math_blocks(_fence_doctests(_hoist_trailing_prose(text)))

    def role(m: re.Match[str]) -> str:
        kind, body = m.group("role"), m.group("body")
        if kind == "math":
            return "$" + " ".join(body.split()) + "$"
        if kind == "sup":
            return f"<sup>{body}</sup>"
        if kind in _XREF_ROLES:
            target = body.strip().lstrip("~.")
            shown = target.rsplit(".", 1)[-1] if body.strip().startswith("~") else target
            if kind in {"func", "meth"} and not shown.endswith(")"):
                shown += "()"
            path = resolve(target) if resolve else None
            if path and kind == "mod":  # a module has its own page (scripts/gen_api.py)
                return f"[`{shown}`]({path}.md)"
            return f"[`{shown}`][{path}]" if path else f"`{shown}`"
        return f"`{body}`"  # an unknown role: its text as code, never the raw role

    return _ROLE.sub(role, text)


def _rendered(obj: Any) -> bool:
    """Whether the API reference renders ``obj`` (so an autorefs link to it resolves)."""
    if not obj.path.startswith(PACKAGES) or any(
        part.startswith("_") for part in obj.path.split(".")
    ):
        return False
    return obj.is_module or bool(obj.docstring)


class ReSTDocstrings(griffe.Extension):
    """Rewrite every docstring of the documented packages before mkdocstrings parses it.

    The rewrite waits until all of :data:`PACKAGES` are loaded (``preload_modules`` in
    ``mkdocs.yml`` loads them together), so a cross-reference between packages resolves the
    same way whichever page is built first.
    """

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Once every documented package is loaded, rewrite their docstrings (once each)."""
        collection = loader.modules_collection
        if not all(name in collection for name in PACKAGES):
            return

        def lookup(path: str) -> Any:
            try:
                obj = collection.get_member(path)
                return obj.final_target if obj.is_alias else obj
            except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
                return None
            except griffe.CyclicAliasError:
                return None

        def visit(obj: Any) -> None:
            if obj.is_alias:
                return
            if obj.docstring is not None:
                module = obj.module.path
                scopes = [obj.path, obj.parent.path if obj.parent else module, module]

                def resolve(target: str) -> str | None:
                    for candidate in [target] + [f"{s}.{target}" for s in scopes]:
                        found = lookup(candidate)
                        if found is not None and _rendered(found):
                            return found.path
                    return None

                obj.docstring.value = rst_to_markdown(obj.docstring.value, resolve)
            for member in obj.members.values():
                visit(member)

        for name in PACKAGES:
            # mark the package object itself: mkdocstrings may load a package twice (when it
            # is both preloaded and the page's own package), the second copy unrewritten
            done = collection[name].extra["rest_docstrings"]
            if not done.get("rewritten"):
                done["rewritten"] = True
                visit(collection[name])
