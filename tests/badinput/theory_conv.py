"""Bad-input entries for :mod:`theory.conv`, and the domain predicates of symbolic dimensions.

The theory helpers take integers *or* SymPy expressions (see :mod:`theory._args`): their
domains are :func:`positive_dim` / :func:`nonneg_dim` — an integer in range, or a SymPy
expression whose assumptions do not contradict being a finite integer in range (the fuzz's
``Symbol("s_free")`` is allowed, ``Symbol("s_negative", negative=True)`` is not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, nonneg_int, positive_int
from theory.derivation import Derivation

_NOT_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def dim_domain(minimum: int) -> Callable[[Any], bool]:
    """Allowed values of an integer hyper-parameter ``>= minimum`` (int or symbolic)."""
    as_int = positive_int if minimum == 1 else nonneg_int

    def pred(v: Any) -> bool:
        if as_int(v):
            return True
        return (
            isinstance(v, sympy.Expr)
            and not isinstance(v, sympy.Number)
            and not any(v.has(b) for b in _NOT_FINITE)
            and not v.atoms(sympy.Float)
            and v.is_integer is not False
            and v.is_finite is not False
            and (v - minimum).is_negative is not True
        )

    pred.__name__ = f"dim_domain({minimum})"
    return pred


positive_dim = dim_domain(1)
nonneg_dim = dim_domain(0)


def is_derivation(d: Any) -> None:
    assert isinstance(d, Derivation), type(d)
    assert d.steps and isinstance(d.to_markdown(), str)


def derivation_entry(target: str, agrees: bool | None = True) -> Entry:
    """A no-argument ``derive_*`` function: one sample, checked to build a Derivation (and,
    where the claim holds, one that agrees)."""

    def check(d: Any) -> None:
        is_derivation(d)
        if agrees is not None:
            assert d.agrees() is agrees, d.to_markdown()

    return Entry(
        target,
        samples=(Sample({}, check=check),),
        result="any",
        fuzz=False,
        note="no arguments",
    )


SIZE, KER = sympy.symbols("I K", integer=True, positive=True)

ENTRIES = [
    Entry(
        "theory.conv.macs_to_flops",
        samples=(
            Sample({"macs": 10}, check=lambda r: r == 20),
            Sample({"macs": 0}, check=lambda r: r == 0),
            Sample({"macs": SIZE}, check=lambda r: r == 2 * SIZE),
        ),
        errors=(
            ErrorSample({"macs": -1}, ValueError, r"macs must be an integer >= 0"),
            ErrorSample({"macs": 2.0}, TypeError, r"macs must be an integer"),
        ),
        result="count",
        domains={"macs": nonneg_dim},
    ),
    Entry(
        "theory.conv.dilated_extent",
        samples=(
            Sample({"kernel_size": 3, "dilation": 2}, check=lambda r: r == 5),
            Sample({"kernel_size": KER, "dilation": 1}, check=lambda r: r == KER),
        ),
        errors=(
            ErrorSample({"kernel_size": 0, "dilation": 1}, ValueError, "kernel_size"),
            ErrorSample({"kernel_size": 3, "dilation": sympy.nan}, TypeError, "dilation"),
        ),
        result="count",
        domains={"kernel_size": positive_dim, "dilation": positive_dim},
    ),
    Entry(
        "theory.conv.conv_output_size",
        samples=(
            Sample(
                {"size": 224, "kernel_size": 7, "stride": 2, "padding": 3, "dilation": 1},
                check=lambda r: r == 112,
            ),
            Sample(
                {"size": 5, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 2},
                check=lambda r: r == 1,
            ),
            Sample(
                {"size": SIZE, "kernel_size": KER, "stride": 1, "padding": 0, "dilation": 1},
                check=lambda r: sympy.simplify(r - (SIZE - KER + 1)) == 0,
            ),
        ),
        errors=(
            ErrorSample({"size": sympy.nan, "kernel_size": 3}, TypeError, r"size must be"),
            ErrorSample({"size": sympy.oo, "kernel_size": 3}, TypeError, r"size must be"),
            ErrorSample({"size": 5, "kernel_size": 3.0}, TypeError, r"kernel_size .*float"),
            ErrorSample({"size": 2, "kernel_size": 3}, ValueError, r"output size < 1.*kernel_size"),
            ErrorSample({"size": 5, "kernel_size": 3, "padding": -1}, ValueError, "padding"),
            ErrorSample(
                {"size": sympy.Symbol("n", negative=True), "kernel_size": 1},
                ValueError,
                "size must be >= 1",
            ),
        ),
        result="count",
        domains={
            "size": positive_dim,
            "kernel_size": positive_dim,
            "stride": positive_dim,
            "padding": nonneg_dim,
            "dilation": positive_dim,
        },
    ),
    Entry(
        "theory.conv.conv_transpose_output_size",
        samples=(
            Sample(
                {
                    "size": 3,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "output_padding": 1,
                    "dilation": 1,
                },
                check=lambda r: r == 6,
            ),
            Sample(
                {
                    "size": SIZE,
                    "kernel_size": KER,
                    "stride": 2,
                    "padding": 0,
                    "output_padding": 0,
                    "dilation": 1,
                },
                check=lambda r: sympy.expand(r - (2 * SIZE + KER - 2)) == 0,
            ),
        ),
        errors=(
            ErrorSample(
                {"size": 3, "kernel_size": 3, "output_padding": 1},
                ValueError,
                "output_padding must be smaller than stride or dilation",
            ),
            ErrorSample(
                {"size": SIZE, "kernel_size": 3, "output_padding": 2, "stride": 2},
                ValueError,
                "output_padding must be smaller",
            ),
            ErrorSample({"size": 1, "kernel_size": 1, "padding": 1}, ValueError, "output size < 1"),
        ),
        result="count",
        domains={
            "size": positive_dim,
            "kernel_size": positive_dim,
            "stride": positive_dim,
            "padding": nonneg_dim,
            "output_padding": nonneg_dim,
            "dilation": positive_dim,
        },
    ),
    Entry(
        "theory.conv.pool_output_size",
        samples=(
            Sample(
                {
                    "size": 5,
                    "kernel_size": 2,
                    "stride": None,
                    "padding": 0,
                    "dilation": 1,
                    "ceil_mode": True,
                },
                check=lambda r: r == 3,
            ),
            Sample(
                {
                    "size": 4,
                    "kernel_size": 2,
                    "stride": 2,
                    "padding": 1,
                    "dilation": 1,
                    "ceil_mode": True,
                },
                check=lambda r: r == 3,
            ),
            Sample(
                {
                    "size": SIZE,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "dilation": 1,
                    "ceil_mode": False,
                },
                check=lambda r: r == sympy.floor((SIZE - 1) / 2) + 1,
            ),
        ),
        errors=(
            ErrorSample(
                {"size": 5, "kernel_size": 2, "padding": 2},
                ValueError,
                "padding must be at most half of kernel_size",
            ),
            ErrorSample(
                {"size": SIZE, "kernel_size": 2, "padding": 2},
                ValueError,
                "padding must be at most half of kernel_size",
            ),
            ErrorSample({"size": 5, "kernel_size": 2, "ceil_mode": 1}, TypeError, "ceil_mode"),
            ErrorSample({"size": 1, "kernel_size": 3, "padding": 0}, ValueError, "output size"),
        ),
        result="count",
        domains={
            "size": positive_dim,
            "kernel_size": positive_dim,
            "stride": lambda v: v is None or positive_dim(v),
            "padding": nonneg_dim,
            "dilation": positive_dim,
            "ceil_mode": boolean,
        },
    ),
    Entry(
        "theory.conv.conv_params",
        samples=(
            Sample(
                {
                    "in_channels": 4,
                    "out_channels": 8,
                    "kernel_size": (3, 3),
                    "groups": 2,
                    "bias": True,
                },
                check=lambda r: r == 152,
            ),
            Sample(
                {
                    "in_channels": 64,
                    "out_channels": 128,
                    "kernel_size": 3,
                    "groups": 1,
                    "bias": False,
                },
                check=lambda r: r == 73728,
            ),
            Sample(
                {
                    "in_channels": SIZE,
                    "out_channels": 2,
                    "kernel_size": (KER,),
                    "groups": 1,
                    "bias": True,
                },
                check=lambda r: sympy.expand(r - (2 * SIZE * KER + 2)) == 0,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "groups": 2},
                ValueError,
                "groups must divide in_channels",
            ),
            ErrorSample(
                {"in_channels": 4, "out_channels": 3, "kernel_size": 3, "groups": 2},
                ValueError,
                "groups must divide out_channels",
            ),
            ErrorSample(
                {"in_channels": 4, "out_channels": 3, "kernel_size": (), "groups": 1},
                ValueError,
                "kernel_size must have at least one entry",
            ),
            ErrorSample(
                {"in_channels": 4, "out_channels": 3, "kernel_size": 3, "bias": "False"},
                TypeError,
                "bias must be True or False",
            ),
        ),
        result="count",
        domains={
            "in_channels": positive_dim,
            "out_channels": positive_dim,
            "groups": positive_dim,
            "bias": boolean,
        },
    ),
    Entry(
        "theory.conv.conv_macs",
        samples=(
            Sample(
                {
                    "in_channels": 3,
                    "out_channels": 64,
                    "kernel_size": 7,
                    "output_size": 112,
                    "groups": 1,
                    "batch": 1,
                },
                check=lambda r: r == 118013952,
            ),
            Sample(
                {
                    "in_channels": 4,
                    "out_channels": 6,
                    "kernel_size": (3, 1),
                    "output_size": (5, 7),
                    "groups": 2,
                    "batch": 3,
                },
                check=lambda r: r == 3 * 6 * 2 * 3 * 35,
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "in_channels": 4,
                    "out_channels": 6,
                    "kernel_size": (3, 1),
                    "output_size": (5,),
                },
                ValueError,
                "output_size must have 2 entries",
            ),
            ErrorSample(
                {
                    "in_channels": 4,
                    "out_channels": 6,
                    "kernel_size": 3,
                    "output_size": 5,
                    "batch": 0,
                },
                ValueError,
                "batch",
            ),
        ),
        result="count",
        domains={
            "in_channels": positive_dim,
            "out_channels": positive_dim,
            "groups": positive_dim,
            "batch": positive_dim,
        },
    ),
    Entry(
        "theory.conv.conv_transpose_macs",
        samples=(
            Sample(
                {
                    "in_channels": 8,
                    "out_channels": 4,
                    "kernel_size": 2,
                    "input_size": 16,
                    "groups": 1,
                    "batch": 1,
                },
                check=lambda r: r == 32768,
            ),
            Sample(
                {
                    "in_channels": 4,
                    "out_channels": 6,
                    "kernel_size": (3,),
                    "input_size": (5,),
                    "groups": 2,
                    "batch": 2,
                },
                check=lambda r: r == 2 * 4 * 3 * 3 * 5,
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "in_channels": 4,
                    "out_channels": 6,
                    "kernel_size": 3,
                    "input_size": 5,
                    "groups": 4,
                },
                ValueError,
                "groups must divide out_channels",
            ),
        ),
        result="count",
        domains={
            "in_channels": positive_dim,
            "out_channels": positive_dim,
            "groups": positive_dim,
            "batch": positive_dim,
        },
    ),
    Entry(
        "theory.conv.depthwise_separable_params",
        samples=(
            Sample(
                {"in_channels": 32, "out_channels": 64, "kernel_size": 3, "bias": False},
                check=lambda r: r == 32 * 9 + 32 * 64,
            ),
            Sample(
                {"in_channels": 32, "out_channels": 64, "kernel_size": (3, 5), "bias": True},
                check=lambda r: r == 32 * 15 + 32 + 32 * 64 + 64,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_channels": 0, "out_channels": 64, "kernel_size": 3},
                ValueError,
                "in_channels",
            ),
        ),
        result="count",
        domains={"in_channels": positive_dim, "out_channels": positive_dim, "bias": boolean},
    ),
    Entry(
        "theory.conv.depthwise_separable_macs",
        samples=(
            Sample(
                {
                    "in_channels": 32,
                    "out_channels": 64,
                    "kernel_size": 3,
                    "output_size": 56,
                    "batch": 1,
                },
                check=lambda r: r == 7325696,
            ),
            Sample(
                {
                    "in_channels": 2,
                    "out_channels": 3,
                    "kernel_size": (3,),
                    "output_size": (10,),
                    "batch": 2,
                },
                check=lambda r: r == 2 * (2 * 3 + 2 * 3) * 10,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "output_size": (10,)},
                ValueError,
                "output_size must have 2 entries",
            ),
        ),
        result="count",
        domains={
            "in_channels": positive_dim,
            "out_channels": positive_dim,
            "batch": positive_dim,
        },
    ),
    Entry(
        "theory.conv.separable_cost_ratio",
        samples=(
            Sample(
                {"out_channels": 64, "kernel_size": 3},
                check=lambda r: r == sympy.Rational(73, 576),
            ),
            Sample(
                {"out_channels": 2, "kernel_size": (1, 2)},
                check=lambda r: r == 1,
            ),
        ),
        errors=(ErrorSample({"out_channels": 64, "kernel_size": "3"}, TypeError, "kernel_size"),),
        result="count",
        domains={"out_channels": positive_dim},
    ),
    Entry(
        "theory.conv.im2col_elements",
        samples=(
            Sample(
                {"in_channels": 64, "kernel_size": 3, "output_size": 56},
                check=lambda r: r == 64 * 9 * 56 * 56,
            ),
            Sample(
                {"in_channels": 2, "kernel_size": (3,), "output_size": (4,)},
                check=lambda r: r == 24,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_channels": 2, "kernel_size": 3, "output_size": (4, 4, 4)},
                ValueError,
                "output_size must have 2 entries",
            ),
        ),
        result="count",
        domains={"in_channels": positive_dim},
    ),
    Entry(
        "theory.conv.receptive_field",
        samples=(
            Sample({"layers": [(3, 2), (3, 2), (3, 2)]}, check=lambda r: r == 15),
            Sample({"layers": ((3, 1, 1), (3, 1, 2), (3, 1, 4))}, check=lambda r: r == 15),
            Sample({"layers": []}, check=lambda r: r == 1),
        ),
        errors=(
            ErrorSample({"layers": 3}, TypeError, "layers must be a sequence"),
            ErrorSample({"layers": [(3, 1, 1, 1)]}, ValueError, r"layers\[0\] must have 1 to 3"),
            ErrorSample({"layers": [(3, 0)]}, ValueError, r"layers\[0\]\.stride"),
            ErrorSample({"layers": ["33"]}, TypeError, r"layers\[0\]"),
            # fuzz finding 10: 10**6 layers, or 30000 layers of stride 10**30, ran > 15 s
            ErrorSample({"layers": [(3, 2)] * 10**6}, ValueError, "layers"),
            ErrorSample({"layers": [(3, 10**30)] * 10**4}, ValueError, "layers"),
            ErrorSample({"layers": [(sympy.Symbol("k"), 2)] * 257}, ValueError, "layers"),
        ),
        result="count",
    ),
    Entry(
        "theory.conv.effective_stride",
        samples=(
            Sample({"layers": [(3, 2), (3, 2)]}, check=lambda r: r == 4),
            Sample({"layers": [(3,), (1, 3, 2)]}, check=lambda r: r == 3),
        ),
        errors=(
            ErrorSample({"layers": 5}, TypeError, "layers must be a sequence"),
            ErrorSample({"layers": [(3, -2)]}, ValueError, r"layers\[0\]\.stride"),
            ErrorSample({"layers": [()]}, ValueError, r"layers\[0\] must have 1 to 3"),
            ErrorSample({"layers": [(3, 10**30)] * 10**5}, ValueError, "layers"),
            ErrorSample({"layers": [(3, 2**100)] * 10**4}, ValueError, "layers"),
        ),
        result="count",
    ),
    Entry(
        "theory.conv.receptive_field_uniform",
        samples=(
            Sample(
                {"depth": 4, "kernel_size": 3, "stride": 1, "dilation": "doubling"},
                check=lambda r: r == 31,
            ),
            Sample(
                {"depth": 3, "kernel_size": 3, "stride": 2, "dilation": 1},
                check=lambda r: r == 15,
            ),
            Sample(
                {"depth": 2**62, "kernel_size": 3, "stride": 1, "dilation": 2},
                check=lambda r: r == 1 + 4 * 2**62,
                note="closed form: no loop over layers",
            ),
            Sample(
                {"depth": 0, "kernel_size": 5, "stride": 3, "dilation": 1},
                check=lambda r: r == 1,
            ),
        ),
        errors=(
            ErrorSample(
                {"depth": 10**30, "kernel_size": 3, "stride": 2},
                ValueError,
                r"depth\*log2\(stride\) must be at most",
            ),
            ErrorSample(
                {"depth": 10**30, "kernel_size": 3, "dilation": "doubling"},
                ValueError,
                "depth must be at most",
            ),
            ErrorSample(
                {"depth": 3, "kernel_size": 3, "stride": 2, "dilation": "doubling"},
                ValueError,
                "stride=1 only",
            ),
            ErrorSample(
                {"depth": 3, "kernel_size": 3, "dilation": "double"},
                ValueError,
                "dilation must be an integer >= 1 or 'doubling'",
            ),
            ErrorSample({"depth": -1, "kernel_size": 3}, ValueError, "depth must be"),
        ),
        result="count",
        domains={
            "depth": nonneg_dim,
            "kernel_size": positive_dim,
            "stride": positive_dim,
            "dilation": lambda v: v == "doubling" or positive_dim(v),
        },
    ),
    Entry(
        "theory.conv.fc_to_conv_weight_ratio",
        samples=(
            Sample(
                {"in_size": (56, 56), "out_size": (56, 56), "kernel_size": 3},
                check=lambda r: r == sympy.Rational(56**4, 9),
            ),
            Sample(
                {"in_size": (4,), "out_size": (2,), "kernel_size": (8,)},
                check=lambda r: r == 1,
            ),
        ),
        errors=(
            ErrorSample(
                {"in_size": 56, "out_size": (56, 56), "kernel_size": 3},
                TypeError,
                "in_size must be a sequence",
            ),
            ErrorSample(
                {"in_size": (5, 5), "out_size": (5,), "kernel_size": 3},
                ValueError,
                "out_size must have 2 entries",
            ),
            ErrorSample(
                {"in_size": (5, 5), "out_size": (5, 5), "kernel_size": (3,)},
                ValueError,
                "kernel_size must have 2 entries",
            ),
        ),
        result="count",
    ),
    derivation_entry("theory.conv.derive_output_size"),
    derivation_entry("theory.conv.derive_param_count"),
    derivation_entry("theory.conv.derive_operations"),
    derivation_entry("theory.conv.derive_separable"),
    derivation_entry("theory.conv.derive_grouped"),
    derivation_entry("theory.conv.derive_receptive_field"),
    derivation_entry("theory.conv.derive_fc_ratio"),
]
