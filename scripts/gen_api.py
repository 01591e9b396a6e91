"""Generate the API reference pages at build time (run by mkdocs-gen-files).

Writes ``api/<dotted.module>.md`` (``::: dotted.module``, rendered by mkdocstrings from the
source: Griffe reads it statically, so ``kernels.gpu`` renders without Triton or a GPU) for
every public module of ``theory``, ``numerics``, ``kernels`` and ``layercheck``, and
``api/index.md``: one line per module, its link and the first sentence of its docstring,
grouped by package.

A module is public when no part of its dotted name starts with an underscore (so
``theory/_args.py``, ``kernels/gpu/__main__.py`` and the Triton ``kernels/gpu/_*_kernels.py``
are left out; a package is documented by its ``__init__.py``). The modules are found from the
file tree, so a new module gets its page without editing anything here.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "numerics", "kernels", "layercheck")
# The groups of the index page, in order: a module belongs to the longest matching prefix.
GROUPS = {
    "theory": "Theory: symbolic derivations (SymPy)",
    "numerics": "Numerics: experiments, tolerances, statistics",
    "kernels": "Kernels",
    "kernels.cpu": "Kernels on the CPU (NumPy)",
    "kernels.gpu": "Kernels on the GPU (Triton)",
    "layercheck": "The command and the verdict report",
}


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted module name of the source file ``path`` under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_public(name: str) -> bool:
    """Whether the dotted module ``name`` is public: no part starts with an underscore."""
    return not any(part.startswith("_") for part in name.split("."))


def all_modules(root: Path = ROOT) -> list[str]:
    """Every module (public or not) in the packages' file trees, sorted."""
    names = set()
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            # only files inside packages (every directory up to the root has __init__.py)
            dirs = path.relative_to(root).parents
            if all((root / d / "__init__.py").is_file() for d in dirs if d != Path(".")):
                names.add(module_name(path, root))
    return sorted(names)


def public_modules(root: Path = ROOT) -> list[str]:
    """The modules that get an API page, sorted: :func:`all_modules` that are public."""
    return [name for name in all_modules(root) if is_public(name)]


def source_file(name: str, root: Path = ROOT) -> Path:
    """The source file of the dotted module ``name`` (a package's ``__init__.py``)."""
    base = root.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def summary(name: str, root: Path = ROOT) -> str:
    """The first sentence of the module's docstring (read statically), or '' without one."""
    doc = ast.get_docstring(ast.parse(source_file(name, root).read_text(encoding="utf-8")))
    if not doc:
        return ""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    match = re.search(r"(?<=[.!?])\s", paragraph)
    return paragraph[: match.start()] if match else paragraph


def group(name: str) -> str:
    """The key of :data:`GROUPS` that the module ``name`` is listed under."""
    keys = [k for k in GROUPS if name == k or name.startswith(k + ".")]
    return max(keys, key=len)


def page(name: str) -> str:
    """The Markdown of the API page of the module ``name``."""
    return f"# `{name}`\n\n::: {name}\n"


def index(root: Path = ROOT, rst_to_markdown=lambda s: s) -> str:
    """The Markdown of ``api/index.md``."""
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings of every public module (read from the source: no "
        "module is imported, so the GPU kernels' pages need neither Triton nor a GPU). "
        "Private modules (a leading underscore) and private names are left out.",
        "",
    ]
    modules = public_modules(root)
    for key, title in GROUPS.items():
        members = [m for m in modules if group(m) == key]
        if not members:
            continue
        lines += [f"## {title}", ""]
        for name in members:
            text = rst_to_markdown(summary(name, root))
            link = f"- [`{name}`]({name}.md)"
            lines.append(f"{link} — {text}" if text else link)
        lines.append("")
    return "\n".join(lines)


def _load_rst_to_markdown():
    """``scripts/griffe_docstrings.py``'s converter (the same Markdown as the API pages)."""
    spec = importlib.util.spec_from_file_location(
        "griffe_docstrings", Path(__file__).resolve().parent / "griffe_docstrings.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.rst_to_markdown


def main() -> None:
    """Write the pages through mkdocs-gen-files (only when mkdocs runs this script)."""
    import mkdocs_gen_files

    for name in public_modules():
        with mkdocs_gen_files.open(f"api/{name}.md", "w") as f:
            f.write(page(name))
        mkdocs_gen_files.set_edit_path(f"api/{name}.md", source_file(name).relative_to(ROOT))
    with mkdocs_gen_files.open("api/index.md", "w") as f:
        f.write(index(rst_to_markdown=_load_rst_to_markdown()))


if __name__ in {"__main__", "<run_path>"}:
    main()
