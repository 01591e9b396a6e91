"""The architectures page's counter sections (:mod:`layercheck.counting_page`), from a
stand-in for the measurements (the real tools run in ``tests/test_counters.py`` and at the
site build): every difference decomposes exactly, a disagreement is shown, not hidden."""

from __future__ import annotations

import pytest

from layercheck.counting_page import counter_sections, difference
from theory import architectures as A
from theory.counters import COUNTERS


def _stand_in(ops: dict | None = None) -> dict:
    """What numerics.counters.measure returns, each tool answering its own convention (or
    ``ops[(network, key)]``)."""
    ops = ops or {}
    keys = [k for k in COUNTERS if k != "torchvision"]
    results = {}
    for net in A.REFERENCE:
        spec = A.reference_spec(net)
        results[net] = {
            k: {
                "ops": ops.get((net, k), int(spec.count(COUNTERS[k]))),
                "params": int(spec.params(COUNTERS[k])),
                "convention_ops": int(spec.count(COUNTERS[k])),
                "convention_params": int(spec.params(COUNTERS[k])),
            }
            for k in keys
        }
    return {"versions": {"fvcore": "x"}, "setup": "stand-in", "networks": list(A.REFERENCE),
            "counters": keys, "results": results}  # fmt: skip


@pytest.mark.parametrize("key", list(COUNTERS))
def test_differences_add_up_to_each_counter(key):
    """Default (scaled to the counter's unit) + the listed differences = the count."""
    for net in A.REFERENCE:
        spec = A.reference_spec(net)
        scale = 2 if COUNTERS[key].unit == "FLOP" else 1
        diff = difference(spec, key)
        assert scale * spec.count() + sum(u for _, u, _ in diff) == spec.count(COUNTERS[key])
        assert (diff == []) == (spec.count(COUNTERS[key]) == scale * spec.count())


def test_page_marks_agreement_and_disagreement():
    page = counter_sections(_stand_in(), {})
    assert "✗" not in page.replace("✗ with the prediction", "")
    vit_fvcore = int(A.reference_spec("ViT-B/16").count(COUNTERS["fvcore"]))
    wrong = counter_sections(_stand_in({("ViT-B/16", "fvcore"): vit_fvcore + 1}), {})
    assert "16.867 ✗ (convention 16.867)" in wrong
    assert f"= {vit_fvcore + 1:,} ✗" in wrong  # and in the term-by-term reasons
    assert wrong.count(" ✗") == 2 + page.count(" ✗")  # the intro names the mark


def test_page_lists_what_thop_misses():
    page = counter_sections(_stand_in(), {})
    assert "| ViT-B/16 | 28,500,480 | 6,292,703,232 |" in page
    assert "| BERT-base | 52,184,064 |" in page
