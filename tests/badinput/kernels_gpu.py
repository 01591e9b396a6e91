"""Bad-input entries for :mod:`kernels.gpu` itself (where the Triton kernels run).

Each kernel family's entries live in ``kernels_gpu_<family>.py``.
"""

from __future__ import annotations

from tests.badinput.table import Entry, Sample


def _a_sentence(text: object) -> None:
    assert isinstance(text, str) and text.startswith("kernels.gpu") and "\n" not in text


ENTRIES: list[Entry] = [
    Entry(
        "kernels.gpu.available",
        samples=(Sample({}, check=lambda r: isinstance(r, bool)),),
        result="any",
        fuzz=False,
        note="takes no arguments",
    ),
    Entry(
        "kernels.gpu.status",
        samples=(Sample({}, check=_a_sentence),),
        result="any",
        fuzz=False,
        note="takes no arguments",
    ),
]
