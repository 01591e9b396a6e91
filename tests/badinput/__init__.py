"""The bad-input table (see :mod:`tests.badinput.table`), one module per area."""

from __future__ import annotations

import importlib
import pkgutil

from tests.badinput.table import Entry


def entries() -> list[Entry]:
    """Every ``ENTRIES`` list of the modules in this package, in module order."""
    out: list[Entry] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "table":
            continue
        out.extend(importlib.import_module(f"{__name__}.{info.name}").ENTRIES)
    return out
