"""A disk cache for expensive, deterministic results (the site's experiment figures and
SymPy derivations), keyed by the code and the parameters that produce them.

:func:`cached` ``(func, *args, **kwargs)`` returns ``func(*args, **kwargs)``, stored under
``build/cache/`` (``LAYERCHECK_CACHE_DIR`` overrides; ``LAYERCHECK_NO_CACHE=1`` turns it off).
The key is a SHA-256 of

* the function's qualified name and the ``repr`` of its arguments (so arguments must have a
  faithful ``repr``: numbers, strings, tuples);
* the source of every project module the function's module imports, transitively
  (:func:`source_closure`: ``theory``, ``numerics``, ``kernels`` and ``layercheck`` modules,
  found by reading ``import`` statements, also those inside functions) — or the function's
  own source when it is not defined in a project module;
* the closures of the modules named in ``depends`` — the code a function reaches by name
  rather than by import (``layercheck.pages.derivation_markdown`` resolves the derivation it
  is given, so its caller passes the derivation's module);
* the versions of Python, NumPy, SymPy, matplotlib, torch and the operation counters
  (fvcore, ptflops, thop, torchinfo: the architectures page measures them).

So editing an experiment, or any helper it imports, recomputes its figure on the next build;
nothing else does. Results must be picklable.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import inspect
import os
import pickle
import platform
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "numerics", "kernels", "layercheck")
T = TypeVar("T")


def _origin(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin).resolve()
    return path if ROOT in path.parents else None


def _imports(path: Path, module: str) -> set[str]:
    """Project modules named by the import statements of ``path`` (module ``module``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in found if m.split(".")[0] in PACKAGES and _origin(m) is not None}


def source_closure(module: str) -> tuple[Path, ...]:
    """The source files of ``module`` and of every project module it imports, transitively
    (sorted). ``ValueError`` when ``module`` is not a module of the project's packages."""
    if not isinstance(module, str):
        raise TypeError(f"module must be a dotted module name (str), got {module!r}")
    if _origin(module) is None:
        raise ValueError(f"module must be a module of {PACKAGES} with a .py source, got {module!r}")
    return _closure(module)


@cache
def _closure(module: str) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _origin(name)
        if path is None:
            continue
        seen[name] = path
        parents = {name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)}
        todo.extend((_imports(path, name) | parents) - set(seen))  # packages' __init__ too
    return tuple(sorted(set(seen.values())))


def _versions() -> str:
    out = [platform.python_version()]
    for package in (
        "numpy",
        "sympy",
        "matplotlib",
        "torch",
        "fvcore",
        "ptflops",
        "thop",
        "torchinfo",
    ):
        try:
            out.append(f"{package}={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{package}=-")
    return ";".join(out)


def cache_key(
    func: Callable[..., Any], *args: Any, depends: Sequence[str] = (), **kwargs: Any
) -> str:
    """The hex SHA-256 under which :func:`cached` stores ``func(*args, **kwargs)``."""
    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}")
    if isinstance(depends, str) or not isinstance(depends, Sequence):
        raise TypeError(f"depends must be a sequence of module names, got {depends!r}")
    h = hashlib.sha256()
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    h.update(f"{name}\0{args!r}\0{sorted(kwargs.items())!r}\0{_versions()}\0".encode())
    module = getattr(func, "__module__", None)
    files: set[Path] = set()
    if module and module.split(".")[0] in PACKAGES and _origin(module) is not None:
        files.update(source_closure(module))
    else:
        try:
            h.update(inspect.getsource(func).encode())
        except (OSError, TypeError):
            raise ValueError(f"func {name} has no readable source to key the cache on") from None
    for dep in depends:
        try:
            files.update(source_closure(dep))
        except (TypeError, ValueError) as e:
            raise ValueError(f"depends: {e}") from None
    for path in sorted(files):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def cache_dir() -> Path:
    """Where results are stored: ``LAYERCHECK_CACHE_DIR`` or ``build/cache``."""
    return Path(os.environ.get("LAYERCHECK_CACHE_DIR") or ROOT / "build" / "cache")


def cached(func: Callable[..., T], *args: Any, depends: Sequence[str] = (), **kwargs: Any) -> T:
    """``func(*args, **kwargs)``, from the cache when the code and parameters are unchanged
    (see the module docstring for the key; ``depends`` adds modules to it). A corrupt cache
    entry is recomputed."""
    key = cache_key(func, *args, depends=depends, **kwargs)
    if os.environ.get("LAYERCHECK_NO_CACHE") == "1":
        return func(*args, **kwargs)
    path = cache_dir() / f"{key}.pickle"
    if path.exists():
        try:
            return pickle.loads(path.read_bytes())
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            path.unlink(missing_ok=True)
    value = func(*args, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(value))
    tmp.replace(path)  # atomic: parallel builds never read half a file
    return value
