"""Bad-input entries for the MoE / early-exit family (theory.moe, kernels.cpu.moe,
numerics.moe_experiments)."""

from __future__ import annotations

import numpy as np
import sympy

from kernels.cpu import moe as K
from tests.badinput.table import Entry, ErrorSample, Sample, positive_int

_r = np.random.default_rng(0)
XS, WG = _r.standard_normal((4, 3)), _r.standard_normal((3, 3))
WE, BE = _r.standard_normal((3, 2, 3)), _r.standard_normal((3, 2))
PR = _r.dirichlet([1.0, 1.0, 1.0], size=4)
_, CACHE = K.moe_forward(XS, WG, WE, BE, 2, 1.0)
XC, WC = _r.standard_normal((2, 2, 4, 4)), _r.standard_normal((3, 2, 2, 2, 2))
RW, RB = _r.standard_normal((3, 2)), _r.standard_normal(3)


def _fail(r) -> None:
    raise AssertionError(r)


def _png(r) -> None:
    assert isinstance(r, bytes) and r.startswith(b"\x89PNG\r\n\x1a\n")


def _derive(name: str) -> Entry:
    return Entry(f"theory.moe.{name}", (Sample({}),), result="any", fuzz=False,
                 note="no arguments")  # fmt: skip


ENTRIES: list[Entry] = [
    Entry(
        "kernels.cpu.moe.expert_capacity",
        (
            Sample(
                {"tokens": 8, "num_experts": 4, "k": 2, "capacity_factor": 1.25},
                check=lambda r: r == 5 or (_ for _ in ()).throw(AssertionError(r)),
            ),
        ),
        (
            ErrorSample(
                {"tokens": 8, "num_experts": 4, "k": 5, "capacity_factor": 1.0},
                ValueError,
                "k must",
            ),
        ),
        result="count",
        domains={"tokens": positive_int, "num_experts": positive_int},
    ),
    Entry(
        "kernels.cpu.moe.route",
        (Sample({"probs": PR, "k": 2, "capacity": 2}),),
        (ErrorSample({"probs": PR, "k": 4, "capacity": 2}, ValueError, "k must"),),
        result="any",
    ),
    Entry(
        "kernels.cpu.moe.moe_forward",
        (
            Sample(
                {
                    "x": XS,
                    "gate_weight": WG,
                    "expert_weight": WE,
                    "expert_bias": BE,
                    "k": 2,
                    "capacity_factor": 1.0,
                    "normalize": True,
                }
            ),
        ),
        (
            ErrorSample(
                {"x": XS, "gate_weight": WG[:, :2], "expert_weight": WE, "expert_bias": BE},
                ValueError,
                "gate_weight",
            ),
        ),
        result="any",
    ),
    Entry(
        "kernels.cpu.moe.moe_backward",
        (Sample({"grad_out": np.ones((4, 2)), "cache": CACHE}),),
        (ErrorSample({"grad_out": np.ones((4, 3)), "cache": CACHE}, ValueError, "grad_out"),),
        result="any",
    ),
    Entry(
        "kernels.cpu.moe.load_balancing_loss",
        (Sample({"probs": PR, "expert_index": np.argmax(PR, 1)}),),
        (
            ErrorSample(
                {"probs": PR, "expert_index": np.array([0, 1, 2, 3])}, ValueError, "expert_index"
            ),
        ),
    ),
    Entry(
        "theory.moe.balance_loss",
        (Sample({"f": [sympy.Rational(1, 2)] * 2, "p": [0.3, 0.7]}),),
        (ErrorSample({"f": [1], "p": [0.5, 0.5]}, ValueError, "same length"),),
    ),
    Entry(
        "theory.moe.dropped_assignments",
        (Sample({"counts": [3, 1], "capacity": 2}),),
        (ErrorSample({"counts": [3, -1], "capacity": 2}, ValueError, "counts"),),
        result="count",
    ),
    Entry(
        "theory.moe.early_exit_cost",
        (Sample({"costs": [1, 2], "exit_probs": [sympy.Rational(1, 2)]}),),
        (ErrorSample({"costs": [1, 2], "exit_probs": []}, ValueError, "exit_probs"),),
    ),
    _derive("derive_balance_loss_uniform"),
    _derive("derive_balance_loss_infimum"),
    _derive("derive_early_exit_cost"),
    _derive("derive_early_exit_breakeven"),
    _derive("derive_balance_loss_min"),
    _derive("derive_condconv_linear"),
    Entry(
        "theory.moe.balance_loss_min_two_experts",
        (Sample({"tokens": 4}, check=lambda r: r == sympy.Rational(7, 8) or _fail(r)),),
        (ErrorSample({"tokens": 0}, ValueError, "tokens"),),
        result="any",
        domains={"tokens": positive_int},
    ),
    Entry(
        "kernels.cpu.moe.cond_conv2d",
        (
            Sample(
                {
                    "x": XC,
                    "weight": WC,
                    "routing_weight": RW,
                    "routing_bias": RB,
                    "stride": 1,
                    "padding": 1,
                }
            ),
        ),
        (
            ErrorSample(
                {"x": XC, "weight": WC, "routing_weight": RW[:, :1], "routing_bias": RB},
                ValueError,
                "routing_weight",
            ),
        ),
        result="any",
    ),
    Entry(
        "numerics.moe_experiments.skew_curve",
        (Sample({"num_experts": 3, "points": 3, "tokens": 4}),),
        (ErrorSample({"num_experts": 1}, ValueError, "num_experts"),),
        result="any",
    ),
    Entry(
        "numerics.moe_experiments.two_group_curve",
        (Sample({"tokens": 4}),),
        (ErrorSample({"tokens": 1}, ValueError, "tokens"),),
        result="any",
    ),
    Entry(
        "numerics.moe_experiments.balance_loss_figure",
        (Sample({}, check=_png),),
        result="any",
        fuzz=False,
        note="no arguments",
        time_limit=20.0,
    ),
    Entry(
        "numerics.moe_experiments.early_exit_mc",
        (
            Sample(
                {
                    "costs": np.array([1.0, 2.0]),
                    "exit_probs": np.array([0.5]),
                    "samples": 100,
                    "seed": 0,
                }
            ),
        ),
        (
            ErrorSample(
                {
                    "costs": np.array([1.0, 2.0]),
                    "exit_probs": np.array([1.5]),
                    "samples": 100,
                    "seed": 0,
                },
                ValueError,
                "exit_probs",
            ),
        ),
    ),
]
