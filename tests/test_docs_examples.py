"""The examples of docs/helpers.md run, in order, in one namespace (they assert their results)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "helpers.md"


@pytest.mark.claim(
    "d000.conv.output-size",
    "d000.conv.operations",
    "d000.conv.separable-ratio",
    "d000.linear.lowrank-saving",
    "d000.conv.rf-standard-linear",
)
def test_helpers_page_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    for i, block in enumerate(blocks):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
