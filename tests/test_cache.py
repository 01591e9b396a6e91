"""The build cache (:mod:`numerics.cache`): a figure is recomputed exactly when its code, a
module it imports, its arguments or the library versions change."""

from __future__ import annotations

import pytest

import numerics.cache as nc
from numerics.experiments import depth_figure

calls: list[tuple] = []


def _counted(x: int, *, y: int = 0) -> int:
    calls.append((x, y))
    return x + y


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("LAYERCHECK_NO_CACHE", raising=False)
    calls.clear()
    return tmp_path


def test_a_cached_result_is_reused_and_keyed_by_the_arguments(cache_dir):
    assert nc.cached(_counted, 2, y=3) == 5
    assert nc.cached(_counted, 2, y=3) == 5
    assert calls == [(2, 3)]
    assert nc.cached(_counted, 2, y=4) == 6
    assert nc.cached(_counted, 3, y=3) == 6
    assert calls == [(2, 3), (2, 4), (3, 3)]
    assert len(list(cache_dir.glob("*.pickle"))) == 3


def test_no_cache_switch_and_corrupt_entries_recompute(cache_dir, monkeypatch):
    nc.cached(_counted, 1)
    key = nc.cache_key(_counted, 1)
    (cache_dir / f"{key}.pickle").write_bytes(b"not a pickle")
    assert nc.cached(_counted, 1) == 1
    monkeypatch.setenv("LAYERCHECK_NO_CACHE", "1")
    nc.cached(_counted, 1)
    assert calls == [(1, 0), (1, 0), (1, 0)]


def test_the_import_closure_follows_project_imports_only():
    files = {str(p.relative_to(nc.ROOT)) for p in nc.source_closure("numerics.experiments")}
    # experiments -> kernels.cpu.init (a function-level import too) -> ...; theory.init
    assert {"numerics/experiments.py", "kernels/cpu/init.py", "theory/init.py"} <= files
    assert {"kernels/__init__.py", "kernels/cpu/__init__.py"} <= files  # packages' __init__
    assert "theory/attention.py" not in files and "numerics/dropout_experiments.py" not in files


def test_editing_a_module_in_the_closure_changes_the_key(tmp_path, monkeypatch, worker_id):
    """The key hashes the bytes of every file of the closure: editing any of them (here a
    stand-in file for a module the experiment imports) gives a new key."""
    dep = nc.ROOT / "build" / f"test-cache-dep-{worker_id}.py"
    dep.parent.mkdir(exist_ok=True)
    dep.write_text("A = 1\n")
    real = nc.source_closure("numerics.experiments")
    monkeypatch.setattr(nc, "_closure", lambda module: (*real, dep))
    before = nc.cache_key(depth_figure)
    dep.write_text("A = 2\n")
    assert nc.cache_key(depth_figure) != before
    dep.write_text("A = 1\n")
    assert nc.cache_key(depth_figure) == before
    dep.unlink()


def test_functions_outside_the_packages_are_keyed_by_their_own_source():
    def local(x):
        return x

    key = nc.cache_key(local, 1)
    assert key == nc.cache_key(local, 1) != nc.cache_key(local, 2)
    with pytest.raises(ValueError, match="has no readable source"):
        nc.cache_key(len, 1)


def test_modules_named_in_depends_are_part_of_the_key(monkeypatch, worker_id):
    """A derivation is reached by name, not by import: its module is passed as ``depends``,
    and editing it changes the key of the cached page text."""
    from layercheck.pages import derivation_markdown

    dep = nc.ROOT / "build" / f"test-cache-depends-{worker_id}.py"
    dep.parent.mkdir(exist_ok=True)
    dep.write_text("A = 1\n")
    real = nc._closure
    monkeypatch.setattr(nc, "_closure", lambda m: (dep,) if m == "theory.conv" else real(m))
    args = ("theory.conv.derive_output_size",)
    with_dep = nc.cache_key(derivation_markdown, *args, depends=("theory.conv",))
    assert with_dep != nc.cache_key(derivation_markdown, *args)
    dep.write_text("A = 2\n")
    assert nc.cache_key(derivation_markdown, *args, depends=("theory.conv",)) != with_dep
    dep.unlink()
    with pytest.raises(ValueError, match="depends: module must be a module of"):
        nc.cache_key(derivation_markdown, *args, depends=("json",))
