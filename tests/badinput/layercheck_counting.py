"""Bad-input entries for :mod:`layercheck.counting_page` (the architectures page's counter
sections). The measured dictionary is made from the conventions themselves (a stand-in for
``numerics.counters.measure``, which runs the real tools: ``tests/test_counters.py``)."""

from __future__ import annotations

from functools import cache

from tests.badinput.table import Entry, ErrorSample, Sample
from theory.architectures import reference_spec
from theory.counters import COUNTERS


@cache
def _measured() -> dict:
    spec = reference_spec("ResNet-18")
    row = {
        k: {
            "ops": int(spec.count(COUNTERS[k])),
            "params": int(spec.params(COUNTERS[k])),
            "convention_ops": int(spec.count(COUNTERS[k])),
            "convention_params": int(spec.params(COUNTERS[k])),
        }
        for k in ("fvcore", "thop")
    }
    return {
        "versions": {"fvcore": "0"},
        "setup": "stand-in",
        "networks": ["ResNet-18"],
        "counters": ["fvcore", "thop"],
        "results": {"ResNet-18": row},
    }


def _wrong() -> dict:
    m = {**_measured(), "results": {"ResNet-18": dict(_measured()["results"]["ResNet-18"])}}
    m["results"]["ResNet-18"]["thop"] = {**m["results"]["ResNet-18"]["thop"], "ops": 1}
    return m


ENTRIES = [
    Entry(
        "layercheck.counting_page.counter_sections",
        samples=(
            Sample(
                {"measured": _measured(), "step": {"ResNet-18": 10648412160}},
                check=lambda r: "1.819 ✓" in r and "1.824 ✓" in r and "✗ (" not in r,
            ),
            # a tool that disagrees with its convention is marked, never hidden
            Sample(
                {"measured": _wrong(), "step": {}},
                check=lambda r: "**0.000 ✗ (convention 1.824)**" in r,
            ),
        ),
        errors=(
            ErrorSample(
                {"measured": _measured(), "step": {}, "modules": [1]}, TypeError, "modules must be"
            ),
            ErrorSample({"measured": [], "step": {}}, TypeError, "measured must be the dict"),
            ErrorSample({"measured": {}, "step": {}}, ValueError, "measured must have the keys"),
            ErrorSample(
                {"measured": {**_measured(), "networks": ["LeNet"]}, "step": {}},
                ValueError,
                "measured\\['networks'\\] must list reference networks",
            ),
            ErrorSample(
                {"measured": {**_measured(), "counters": ["torchvision"]}, "step": {}},
                ValueError,
                "measured\\['counters'\\] must list tool keys",
            ),
            ErrorSample(
                {"measured": {**_measured(), "results": {}}, "step": {}},
                ValueError,
                "measured\\['results'\\]\\['ResNet-18'\\]\\['fvcore'\\] must hold integers",
            ),
            ErrorSample(
                {"measured": _measured(), "step": {"ResNet-18": -1}}, TypeError, "step must be"
            ),
            ErrorSample(
                {"measured": _measured(), "step": {"LeNet": 1}}, ValueError, "step keys must be"
            ),
        ),
        result="any",
        time_limit=20.0,
    ),
    Entry(
        "layercheck.counting_page.difference",
        samples=(
            Sample(
                {"spec": reference_spec("ResNet-18"), "key": "fvcore"},
                check=lambda r: (
                    r
                    == [
                        ("batchnorm.elements", 4967424, "+2 × 2,483,712"),
                        ("adaptive_avgpool.inputs", 25088, "+1 × 25,088"),
                    ]
                ),
            ),
            # the fused attention layers are no weight change: said so
            Sample(
                {"spec": reference_spec("ViT-B/16"), "key": "fvcore_no_grad"},
                check=lambda r: (
                    r[0][:2] == ("attention.proj_macs", -5577375744) and "fuses" in r[0][2]
                ),
            ),
            Sample(
                {"spec": reference_spec("ResNet-18"), "key": "torchvision"}, check=lambda r: r == []
            ),
        ),
        errors=(
            ErrorSample({"spec": "resnet", "key": "fvcore"}, TypeError, "spec must be"),
            ErrorSample(
                {"spec": reference_spec("ResNet-18"), "key": "flops"}, ValueError, "key must be"
            ),
        ),
        result="any",
    ),
    Entry(
        "layercheck.counting_page.module_counts",
        samples=(
            Sample(
                {},
                check=lambda r: all(
                    got == want and p == q for row in r.values() for got, want, p, q in row.values()
                ),
            ),
        ),
        result="any",
        fuzz=False,
        note="no arguments",
        time_limit=30.0,
    ),
    Entry(
        "layercheck.counting_page.training_step_flops",
        samples=(Sample({"names": ("VGG-16",)}, check=lambda r: r == {"VGG-16": 92648177664}),),
        errors=(
            ErrorSample({"names": "VGG-16"}, TypeError, "names must be a tuple"),
            ErrorSample({"names": ("LeNet",)}, ValueError, "names must be among"),
        ),
        result="any",
        time_limit=20.0,
    ),
]
