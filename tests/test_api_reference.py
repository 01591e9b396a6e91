"""The API reference (``scripts/gen_api.py``): every public module gets a page, none silently.

Cheap: the discovery and the page text are computed without running mkdocs; one subprocess
checks that Griffe reads ``kernels.gpu`` from source without importing Triton (or torch).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_api = _load("gen_api")
griffe_docstrings = _load("griffe_docstrings")


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_source_file_has_a_page_or_is_private():
    """Each ``.py`` file of the packages is either documented or private, never dropped."""
    public = set(gen_api.public_modules())
    index = gen_api.index()
    files = sorted(p for pkg in gen_api.PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    assert files
    for path in files:
        name = _dotted(path)
        private = any(part.startswith("_") for part in name.split("."))
        assert (name in public) != private, f"{path.relative_to(ROOT)}: public={not private}"
        if not private:
            assert f"::: {name}\n" in gen_api.page(name)
            assert f"[`{name}`]({name}.md)" in index, f"{name} missing from api/index.md"
            assert gen_api.source_file(name) == path
    # the public modules are exactly those files (nothing invented)
    assert public <= {_dotted(p) for p in files}


def test_known_modules_are_in_or_out():
    public = gen_api.public_modules()
    for name in ("theory.conv", "numerics.stats", "kernels.cpu.conv", "kernels.gpu.conv"):
        assert name in public
    for name in ("theory._args", "kernels.cpu._check", "kernels.gpu.__main__"):
        assert name not in public
    assert not [m for m in public if m.endswith("_kernels")]  # Triton's kernels are private
    assert gen_api.group("kernels.gpu.norm") == "kernels.gpu"
    assert gen_api.group("theory.conv") == "theory"


def test_a_new_module_gets_a_page(tmp_path):
    for d in ("theory", "numerics", "kernels", "kernels/cpu"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "__init__.py").write_text('"""Package."""\n')
    (tmp_path / "kernels/cpu/new_op.py").write_text('"""A new op. More text here."""\n')
    (tmp_path / "kernels/cpu/_helper.py").write_text('"""Private."""\n')
    (tmp_path / "theory/scratch").mkdir()  # not a package: no __init__.py
    (tmp_path / "theory/scratch/notes.py").write_text("")
    assert "kernels.cpu.new_op" in gen_api.public_modules(tmp_path)
    assert "kernels.cpu._helper" not in gen_api.public_modules(tmp_path)
    assert "theory.scratch.notes" not in gen_api.all_modules(tmp_path)
    assert gen_api.summary("kernels.cpu.new_op", tmp_path) == "A new op."
    assert "[`kernels.cpu.new_op`](kernels.cpu.new_op.md) — A new op." in gen_api.index(tmp_path)


def test_rest_becomes_markdown():
    md = griffe_docstrings.rst_to_markdown
    assert md("a :math:`x\\,\n  y` b") == "a $x\\, y$ b"  # one line, spaces collapsed
    assert md(":func:`~theory.conv.conv_params`") == "`conv_params()`"
    linked = md(":func:`f` :mod:`theory.conv`", lambda t: {"f": "m.f"}.get(t, t))
    assert linked == "[`f()`][m.f] [`theory.conv`](theory.conv.md)"
    block = md("Text:\n\n.. math:: a = b\n          + c\n\nafter")
    assert block == "Text:\n\n$$\na = b\n+ c\n$$\n\nafter"
    fenced = md("Text.\n\n>>> f([1])\n[33, 27]\n")
    assert "```pycon\n>>> f([1])\n[33, 27]\n```" in fenced
    hoisted = md("Sum.\n\nParameters\n----------\nx:\n    The x.\n\nReturns ``y``.")
    assert hoisted == "Sum.\n\nReturns ``y``.\n\nParameters\n----------\nx:\n    The x.\n"


def test_gpu_kernels_are_read_without_importing_triton():
    code = (
        "import sys, griffe\n"
        "loader = griffe.GriffeLoader(search_paths=[sys.argv[1]], allow_inspection=False)\n"
        "mod = loader.load('kernels', try_relative_path=False)\n"
        "assert mod['gpu.conv'].docstring, 'kernels.gpu.conv has no docstring'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'triton', 'torch'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
