"""The examples of docs/helpers.md run, in order, in one namespace (they assert their results).

Not linked to a claim: the examples touch many helpers, so a failure here is not evidence
about any one claim. It still fails the test run and the verification run (pytest status).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "helpers.md"


def test_helpers_page_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    for i, block in enumerate(blocks):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)
