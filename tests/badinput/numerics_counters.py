"""Bad-input entries for :mod:`numerics.counters` (the ecosystem's counters run for real).

Valid samples check the tools' numbers against the conventions of :mod:`theory.counters`
on a small CNN (the tests in ``tests/test_counters.py`` do it on every network); a sample
needs the tool installed, so the entries use the tools the ``counters`` extra pins.
"""

from __future__ import annotations

import torch

from numerics.counters import TOOL_COUNTERS, reference_module
from tests.badinput.table import Entry, ErrorSample, Sample, one_of
from theory.arch import Spec
from theory.counters import COUNTERS


def _spec() -> Spec:
    s = Spec("small")
    x = s.act(s.batchnorm(s.conv(s.input(3, 8, 8), 4, 3, padding=1, bias=False)), "relu")
    x = s.add(x, s.conv(x, 4, 3, padding=1))
    s.linear(s.flatten(s.adaptive_avgpool(s.maxpool(x, 2))), 5)
    return s


SPEC = _spec()
MODULE, EXAMPLE = reference_module(SPEC)


def _agrees(key: str):
    def check(r) -> None:
        assert r == {"ops": SPEC.count(COUNTERS[key]), "params": SPEC.params(COUNTERS[key])}, r

    return check


def _measured(r) -> None:
    row = r["results"]["EfficientNet-B0"]["flopcounter_meta"]
    assert row["ops"] == row["convention_ops"] and row["params"] == row["convention_params"]
    assert r["versions"]["torch"] == torch.__version__


def _built(r) -> None:
    module, example = r
    assert isinstance(module, torch.nn.Module) and example.shape == (1, 3, 8, 8)
    assert sum(p.numel() for p in module.parameters()) == SPEC.params()


def _versions(r) -> None:
    assert set(r) == {"torch", "fvcore", "ptflops", "thop", "torchinfo"}, r
    assert r["torch"] == torch.__version__


def _symbolic() -> Spec:
    import sympy

    s = Spec("symbolic")
    s.input(3, sympy.Symbol("n", positive=True, integer=True), 8)
    return s


ENTRIES = [
    Entry(
        "numerics.counters.run_counter",
        samples=tuple(
            Sample({"name": key, "module": MODULE, "example": EXAMPLE}, check=_agrees(key))
            for key in ("fvcore", "ptflops_pytorch", "thop", "torchinfo", "flopcounter_meta")
        ),
        errors=(
            ErrorSample(
                {"name": "torchvision", "module": MODULE, "example": EXAMPLE},
                ValueError,
                "name: 'torchvision' is torchvision's published",
            ),
            ErrorSample(
                {"name": "flops", "module": MODULE, "example": EXAMPLE},
                ValueError,
                "name must be one of",
            ),
            ErrorSample({"name": 3, "module": MODULE, "example": EXAMPLE}, TypeError, "name"),
            ErrorSample(
                {"name": "thop", "module": SPEC, "example": EXAMPLE},
                TypeError,
                "module must be a torch.nn.Module",
            ),
            ErrorSample(
                {"name": "thop", "module": MODULE, "example": EXAMPLE.numpy()},
                TypeError,
                "example must be a torch.Tensor",
            ),
            ErrorSample(
                {"name": "thop", "module": MODULE, "example": EXAMPLE.repeat(2, 1, 1, 1)},
                ValueError,
                "example must have a batch axis of size 1",
            ),
            ErrorSample(
                {"name": "fvcore", "module": MODULE, "example": EXAMPLE.to("meta")},
                ValueError,
                "module and example must be on the CPU",
            ),
            ErrorSample(
                {"name": "torchinfo", "module": MODULE, "example": EXAMPLE[..., :4]},
                ValueError,
                "example must have shape",
            ),
        ),
        result="count",
        domains={"name": one_of(*TOOL_COUNTERS)},
        bad_values={
            "name": ("torchvision", "FVCORE", "fvcore "),
            "module": (torch.nn.Linear(3, 2), torch.nn.Conv2d(1, 1, 1)),
            "example": (torch.zeros(1, 3, 9, 8), torch.zeros(1, 3, 8, 8, dtype=torch.long)),
        },
        time_limit=30.0,
        note="every valid call runs the tool itself (fvcore traces the module: ~0.1 s)",
    ),
    Entry(
        "numerics.counters.measure",
        samples=(
            Sample(
                {"names": ("EfficientNet-B0",), "counters": ("flopcounter_meta",)}, check=_measured
            ),
        ),
        errors=(
            ErrorSample({"names": ("ResNet-19",)}, ValueError, "names must be None or"),
            ErrorSample({"names": "ResNet-18"}, TypeError, "names must be None or a sequence"),
            ErrorSample({"names": ("ResNet-18", "ResNet-18")}, ValueError, "names must not repeat"),
            ErrorSample(
                {"counters": ("torchvision",)},
                ValueError,
                "counters: 'torchvision' is torchvision's published",
            ),
            ErrorSample({"counters": (1,)}, TypeError, "counters must be None or"),
        ),
        result="any",
        bad_values={
            "names": (("ViT-B/16", "ViT-B/16"), ("resnet-18",), [None]),
            "counters": (("torchvision",), ("thop", "thop"), ("FlopCounterMode",)),
        },
        time_limit=120.0,
        note="None for names runs all eight networks (on meta here: about a second)",
    ),
    Entry(
        "numerics.counters.reference_module",
        samples=(
            Sample({"spec": SPEC, "device": "cpu"}, check=_built),
            Sample({"spec": SPEC, "device": "meta"}, check=_built),
        ),
        errors=(
            ErrorSample({"spec": "ResNet-18"}, TypeError, "spec must be a theory.arch.Spec"),
            ErrorSample({"spec": SPEC, "device": "cuda"}, ValueError, "device must be 'cpu'"),
            ErrorSample({"spec": SPEC, "device": 0}, TypeError, "device must be 'cpu'"),
            ErrorSample({"spec": Spec("empty")}, ValueError, "spec cannot be built"),
            ErrorSample({"spec": _symbolic()}, ValueError, "spec cannot be built"),
        ),
        result="any",
        domains={"device": one_of("cpu", "meta")},
        bad_values={"spec": (Spec("empty"), _symbolic()), "device": ("CPU", "cuda:0")},
    ),
    Entry(
        "numerics.counters.tool_versions",
        samples=(Sample({}, check=_versions),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
]
