"""Bad-input entries for :mod:`numerics.experiments` and :mod:`numerics.torch_arch`.

Figures are drawn at tiny sizes (their check: the PNG signature); the torch modules are
checked against the spec they come from.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from numerics import experiments as E
from numerics.torch_arch import ClsToken, SelfAttention, SpecNet, TableAdd, to_module
from tests.badinput.table import Entry, ErrorSample, Sample, one_of, positive_int
from theory.arch import Convention, Spec
from theory.counters import COUNTERS

PNG = b"\x89PNG\r\n\x1a\n"


def _png(r) -> None:
    assert isinstance(r, bytes) and r.startswith(PNG), r[:16]


def _spec() -> Spec:
    s = Spec("small")
    x = s.input(3, 8, 8)
    x = s.act(s.batchnorm(s.conv(x, 4, 3, padding=1, bias=True, name="c")))
    s.linear(s.flatten(s.adaptive_avgpool(x)), 5, name="fc")
    return s


SPEC = _spec()


def _lm_spec() -> Spec:
    """A small language model: ids (6,) → embedding 5 → 2-layer bidirectional LSTM 4 →
    GRU 3 → tanh RNN 2 → linear to the vocabulary of 11."""
    s = Spec("lm")
    x = s.embedding(s.input(6), 11, 5, name="emb")
    x = s.lstm(x, 4, num_layers=2, bidirectional=True, name="lstm")
    x = s.rnn(s.gru(x, 3, bias=False, name="gru"), 2, name="rnn")
    s.linear(x, 11, name="head")
    return s


LM = _lm_spec()
EVERYTHING = Convention(bias=True, activation=True, elementwise=True)


class _Residual(torch.nn.Module):
    """A linear layer and a functional residual addition."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        return x + self.lin(x)


class _Exp(torch.nn.Module):
    """An arithmetic operation count_module has no rule for."""

    def forward(self, x):
        return torch.exp(x)


MODULE_BAD = {"module": (torch.nn.Conv1d(1, 1, 1), torch.nn.Linear(3, 2), Spec("x"))}
EXAMPLE_BAD = {
    "example": (
        torch.zeros(2, 3, 7, 8),
        torch.zeros(0, 3, 8, 8),
        torch.zeros(2, 3, 8, 8, dtype=torch.float64),
        torch.zeros(2, 3, 8, 8, dtype=torch.long),
        np.zeros((2, 3, 8, 8)),
        torch.zeros(()),
    )
}
SIZES_BAD = {"depth": (10**9,), "width": (10**6,), "batch": (1, 10**9)}


def _shapes(cls):
    """Build the module and return its parameter shapes (comparable between calls)."""

    def make():
        def call(*args, **kwargs):
            module = cls(*args, **kwargs)
            assert isinstance(module, torch.nn.Module)
            return {k: tuple(v.shape) for k, v in module.state_dict().items()}

        return call

    return make


def _he_is_xavier_times_two_per_layer(r) -> None:
    xavier = E.depth_profile("relu", "xavier", depth=3, width=8, batch=8, seed=0)
    assert np.allclose(r.forward / xavier.forward, 2.0 ** np.arange(1, 4), rtol=1e-12)


def _seeded(build):
    """A module built with fixed random weights (so that every call of an entry, and each
    equivalent spelling of its input, sees the same module), without touching torch's global
    generator."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build()


ENTRIES = [
    # ----------------------------------------------------------------- experiments
    Entry(
        "numerics.experiments.Profile",
        samples=(Sample({"forward": np.array([1.0, 2.0]), "backward": np.array([0.5, 0.25])}),),
        errors=(
            ErrorSample(
                {"forward": np.array([1.0]), "backward": np.array([1.0, 2.0])},
                ValueError,
                "forward and backward",
            ),
            ErrorSample(
                {"forward": np.array([np.nan]), "backward": np.array([1.0])},
                ValueError,
                "forward must hold finite",
            ),
            ErrorSample({"forward": [1.0], "backward": np.array([1.0])}, TypeError, "forward"),
        ),
        bad_values={"backward": (np.array([-1.0, 1.0]), np.array([np.inf, 1.0]))},
    ),
    Entry(
        "numerics.experiments.weight_variance",
        samples=(
            Sample(
                {"init": "torch default", "width": 64},
                check=lambda r: math.isclose(
                    r, torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5)) ** 2 / 64
                ),
            ),
            Sample(
                {"init": "he", "width": 8},
                check=lambda r: math.isclose(r, torch.nn.init.calculate_gain("relu") ** 2 / 8),
            ),
            Sample({"init": "lsuv", "width": 8}, check=lambda r: r is None),
        ),
        errors=(
            ErrorSample({"init": "glorot", "width": 8}, ValueError, "init must be one of"),
            ErrorSample({"init": "he", "width": 0}, ValueError, "width must be"),
        ),
        domains={"init": one_of(*E.INITS), "width": positive_int},
    ),
    Entry(
        "numerics.experiments.depth_profile",
        samples=(
            Sample(
                {"act": "relu", "init": "he", "depth": 3, "width": 8, "batch": 8, "seed": 0},
                check=_he_is_xavier_times_two_per_layer,
            ),
            Sample(
                {"act": "tanh", "init": "lsuv", "depth": 2, "width": 6, "batch": 5, "seed": 3},
                check=lambda r: np.allclose(r.forward, 1.0, atol=0.01),
            ),
        ),
        errors=(
            ErrorSample({"act": "relu", "init": "he", "depth": 10**30}, ValueError, "depth"),
            ErrorSample({"act": "relu", "init": "he", "seed": -1}, ValueError, "seed must be"),
            ErrorSample({"act": "gelu", "init": "he"}, ValueError, "act must be one of"),
            ErrorSample(
                {"act": "linear", "init": "he", "depth": 2000, "width": 64, "batch": 2},
                ValueError,
                "depth must be at most 1000",
            ),
            # fuzz findings 8, 9, 12: no depth cap, batch=10**6 (13 s), LSUV's internal message
            ErrorSample(
                {"act": "tanh", "init": "lsuv", "depth": 10**6, "width": 6, "batch": 5},
                ValueError,
                "depth",
            ),
            ErrorSample(
                {"act": "tanh", "init": "lsuv", "depth": 2, "width": 6, "batch": 10**6},
                ValueError,
                "batch",
            ),
            ErrorSample(
                {"act": "tanh", "init": "lsuv", "depth": 1, "width": 1024, "batch": 2},
                ValueError,
                "width",
            ),
            ErrorSample(
                {"act": "relu", "init": "he", "depth": 1000, "width": 256, "batch": 8},
                ValueError,
                "width",
            ),
            ErrorSample(
                {"act": "relu", "init": "lsuv", "depth": 2, "width": 3, "batch": 2, "seed": 0},
                ValueError,
                "batch=2 .*width=3",
            ),
        ),
        domains={"init": one_of(*E.INITS), "depth": positive_int, "width": positive_int},
        bad_values=SIZES_BAD,
    ),
    Entry(
        "numerics.experiments.depth_prediction",
        samples=(
            Sample(
                {"act": "relu", "init": "xavier", "depth": 4, "width": 16},
                check=lambda r: r.forward.tolist() == [1.0, 0.5, 0.25, 0.125],
            ),
            Sample(
                {"act": "tanh", "init": "orthogonal", "depth": 1, "width": 4},
                check=lambda r: r.forward.tolist() == [1.0],
            ),
            Sample(
                {"act": "relu", "init": "lsuv", "depth": 2, "width": 4}, check=lambda r: r is None
            ),
        ),
        errors=(
            ErrorSample(
                {"act": "relu", "init": "he", "depth": 10**30, "width": 4},
                ValueError,
                "depth must be at most",
            ),
            ErrorSample({"act": "sigmoid", "init": "he"}, ValueError, "act must be one of"),
            # fuzz finding 6: 24 s (two mpmath quadratures per tanh layer)
            ErrorSample(
                {"act": "tanh", "init": "orthogonal", "depth": 255, "width": 4},
                ValueError,
                "depth must be at most 50",
            ),
        ),
        domains={"init": one_of(*E.INITS), "depth": positive_int, "width": positive_int},
    ),
    Entry(
        "numerics.experiments.depth_figure",
        samples=(Sample({"depth": 1, "width": 3, "batch": 2, "seed": 0}, check=_png),),
        errors=(
            ErrorSample({"depth": 10**6, "width": 256}, ValueError, "depth"),
            # fuzz findings 7, 9, 12: 100 s; 12 s; an internal LSUV message naming no argument
            ErrorSample({"depth": 255, "width": 3, "batch": 2, "seed": 0}, ValueError, "depth"),
            ErrorSample({"depth": 1, "width": 3, "batch": 10**6, "seed": 0}, ValueError, "batch"),
            ErrorSample(
                {"depth": 2, "width": 3, "batch": 2, "seed": 0}, ValueError, "batch=2 .*width=3"
            ),
        ),
        result="any",
        domains={"depth": positive_int, "width": positive_int},
        bad_values=SIZES_BAD,
        time_limit=20.0,
    ),
    Entry(
        "numerics.experiments.xhat_variance_figure",
        samples=(Sample({"seed": 1}, check=_png),),
        errors=(ErrorSample({"seed": -1}, ValueError, "seed must be"),),
        result="any",
        time_limit=20.0,
    ),
    Entry(
        "numerics.experiments.adaptive_windows_figure",
        samples=(Sample({"input_size": 6, "output_size": 4}, check=_png),),
        errors=(
            ErrorSample({"input_size": 10**30, "output_size": 4}, ValueError, "input_size"),
            ErrorSample({"input_size": 4, "output_size": 6}, ValueError, "output_size"),
        ),
        result="any",
        domains={"input_size": positive_int, "output_size": positive_int},
        bad_values={"input_size": (201, 3), "output_size": (7,)},
        time_limit=20.0,
    ),
    Entry(
        "numerics.experiments.pooling_shift_figure",
        samples=(Sample({"seed": 2}, check=_png),),
        errors=(ErrorSample({"seed": 1.5}, TypeError, "seed must be"),),
        result="any",
        time_limit=20.0,
    ),
    # ----------------------------------------------------------------- torch_arch
    Entry(
        "numerics.torch_arch.ClsToken",
        make=_shapes(ClsToken),
        samples=(Sample({"d": 4}, check=lambda r: r == {"token": (1, 1, 4)}),),
        errors=(ErrorSample({"d": -1}, ValueError, "d must be"),),
        result="any",
        domains={"d": positive_int},
    ),
    Entry(
        "numerics.torch_arch.ClsToken.forward",
        make=lambda: ClsToken(4).forward,
        samples=(
            Sample(
                {"x": torch.ones(2, 3, 4)},
                check=lambda r: r.shape == (2, 4, 4) and bool((r[:, 0] == 0).all()),
            ),
        ),
        errors=(ErrorSample({"x": torch.ones(2, 3, 5)}, ValueError, "x must be"),),
        result="value",
        bad_values={"x": (torch.ones(3, 4), torch.ones(2, 3, 4, dtype=torch.long))},
    ),
    Entry(
        "numerics.torch_arch.TableAdd",
        make=_shapes(TableAdd),
        samples=(
            Sample(
                {"rows": 5, "d": 4, "index": "position"}, check=lambda r: r == {"table": (5, 4)}
            ),
        ),
        errors=(
            ErrorSample({"rows": 5, "d": 4, "index": "first"}, ValueError, "index must be"),
            ErrorSample({"rows": 0, "d": 4, "index": "zero"}, ValueError, "rows must be"),
        ),
        result="any",
        domains={"rows": positive_int, "d": positive_int, "index": one_of("position", "zero")},
    ),
    Entry(
        "numerics.torch_arch.TableAdd.forward",
        make=lambda: TableAdd(5, 4, "position").forward,
        samples=(Sample({"x": torch.ones(2, 3, 4)}, check=lambda r: bool((r == 1).all())),),
        errors=(ErrorSample({"x": torch.ones(2, 6, 4)}, ValueError, "x has 6 tokens"),),
        bad_values={"x": (torch.ones(2, 6, 4), torch.ones(2, 3, 3))},
    ),
    Entry(
        "numerics.torch_arch.SelfAttention",
        make=_shapes(SelfAttention),
        samples=(Sample({"d": 8, "heads": 2}, check=lambda r: r["mha.in_proj_weight"] == (24, 8)),),
        errors=(ErrorSample({"d": 8, "heads": 3}, ValueError, "heads must divide d"),),
        result="any",
        domains={"d": positive_int, "heads": positive_int},
        bad_values={"heads": (3, 5)},
    ),
    Entry(
        "numerics.torch_arch.SelfAttention.forward",
        make=lambda: _seeded(lambda: SelfAttention(8, 2)).forward,
        samples=(Sample({"x": torch.ones(2, 3, 8)}, check=lambda r: r.shape == (2, 3, 8)),),
        errors=(
            ErrorSample({"x": torch.ones(2, 3, 8, dtype=torch.float64)}, TypeError, "x must"),
            # randomized-fuzz finding: a meta tensor reached nn.MultiheadAttention
            ErrorSample({"x": torch.ones(2, 3, 8, device="meta")}, ValueError, "x must be on"),
        ),
        bad_values={"x": (torch.ones(2, 3, 7),)},
    ),
    Entry(
        "numerics.torch_arch.SpecNet",
        samples=(
            Sample(
                {"spec": SPEC},
                check=lambda m: sum(p.numel() for p in m.parameters()) == SPEC.params(),
            ),
        ),
        errors=(ErrorSample({"spec": "resnet"}, TypeError, "spec must be a theory.arch.Spec"),),
        result="any",
    ),
    Entry(
        "numerics.torch_arch.SpecNet.forward",
        make=lambda: _seeded(lambda: to_module(SPEC).eval()).forward,
        samples=(Sample({"x": torch.ones(2, 3, 8, 8)}, check=lambda r: r.shape == (2, 5)),),
        errors=(ErrorSample({"x": torch.ones(2, 3, 8)}, ValueError, "x must have shape"),),
        bad_values=dict(x=EXAMPLE_BAD["example"]),
    ),
    Entry(
        "numerics.torch_arch.to_module",
        samples=(
            Sample({"spec": SPEC}, check=lambda m: isinstance(m, SpecNet)),
            Sample(
                {"spec": LM},
                check=lambda m: (
                    sum(p.numel() for p in m.parameters()) == LM.params()
                    and all(r.batch_first for r in m.modules() if isinstance(r, torch.nn.RNNBase))
                    and m(torch.zeros(2, 6, dtype=torch.long)).shape == (2, 6, 11)
                ),
            ),
        ),
        errors=(ErrorSample({"spec": None}, TypeError, "spec must be"),),
        result="any",
    ),
    Entry(
        "numerics.torch_arch.count_module",
        samples=(
            Sample(
                {
                    "module": to_module(SPEC),
                    "example": torch.zeros(2, 3, 8, 8),
                    "convention": Convention(bias=True, norm=True),
                },
                check=lambda r: (
                    r["count"] == SPEC.count(Convention(bias=True, norm=True))
                    and r["params"] == r["params_by_formula"] == SPEC.params()
                ),
            ),
            Sample(
                {
                    "module": to_module(LM),
                    "example": torch.zeros(3, 6, dtype=torch.long),
                    "convention": EVERYTHING,
                },
                check=lambda r: (
                    r["count"] == LM.count(EVERYTHING)
                    and r["breakdown"] == LM.breakdown()
                    and r["params"] == r["params_by_formula"] == LM.params()
                ),
            ),
            Sample(
                {"module": torch.nn.LSTM(3, 4, 2), "example": torch.zeros(5, 2, 3)},
                # 2 sequences × 5 steps × 4H(I_l + H) MACs summed over the 2 layers, divided by
                # the example's first axis (5: count_module takes it as the batch)
                check=lambda r: r["breakdown"]["macs"] == 2 * 5 * 16 * (3 + 4 + 4 + 4) // 5,
                note="sequence first: the example's first axis (5 steps) is taken as the batch",
            ),
            Sample(
                {"module": _Residual(), "example": torch.zeros(2, 4), "convention": EVERYTHING},
                # linear 4x4 (16 MACs + 4 bias) then the functional residual add (4 elements)
                check=lambda r: r["count"] == 16 + 4 + 4 and r["layers"][1]["op"] == "add",
                note="a functional residual add is seen by the dispatch mode",
            ),
            Sample(
                {
                    "module": to_module(SPEC),
                    "example": torch.zeros(2, 3, 8, 8),
                    "convention": COUNTERS["fvcore"],
                },
                check=lambda r: r["count"] == SPEC.count(COUNTERS["fvcore"]),
            ),
        ),
        errors=(
            ErrorSample(
                {"module": torch.nn.Conv1d(1, 1, 1), "example": torch.zeros(1, 1, 4)},
                ValueError,
                "no counting rule",
            ),
            ErrorSample(
                {"module": _Exp(), "example": torch.zeros(2, 4)},
                ValueError,
                r"cannot classify for aten\.exp",
            ),
            ErrorSample(
                {
                    "module": torch.nn.ConvTranspose2d(2, 2, 3),
                    "example": torch.zeros(1, 2, 4, 4),
                    "convention": COUNTERS["thop"],
                },
                ValueError,
                "convention 'thop' was not measured on conv_transpose",
            ),
            ErrorSample(
                {
                    "module": torch.nn.Linear(3, 2),
                    "example": torch.zeros(2, 3),
                    "convention": "MAC",
                },
                TypeError,
                "convention must be a Convention or a CounterConvention",
            ),
            ErrorSample(
                {"module": torch.nn.LSTM(3, 4, proj_size=2), "example": torch.zeros(1, 5, 3)},
                ValueError,
                "module: .*proj_size",
            ),
            ErrorSample(
                {"module": torch.nn.GRU(3, 4), "example": torch.zeros(5, 3)},
                ValueError,
                "^example: count_module counts GRU .*unbatched",
            ),
            # torch's RNN layers raise ValueError (not RuntimeError) for rank and dtype
            ErrorSample(
                {"module": torch.nn.LSTM(3, 4), "example": torch.zeros(2, 5, 3, 1)},
                ValueError,
                "example does not fit the module",
            ),
            ErrorSample(
                {
                    "module": torch.nn.GRU(3, 4),
                    "example": torch.zeros(2, 5, 3, dtype=torch.float64),
                },
                ValueError,
                "example does not fit the module",
            ),
            ErrorSample(
                {"module": to_module(SPEC), "example": torch.zeros(0, 3, 8, 8)},
                ValueError,
                "example must",
            ),
            ErrorSample(
                {"module": torch.nn.Linear(3, 2), "example": torch.zeros(2, 4)},
                ValueError,
                "example does not fit",
            ),
        ),
        result="count",
        bad_values={**MODULE_BAD, **EXAMPLE_BAD},
    ),
    Entry(
        "numerics.torch_arch.flop_counter_flops",
        samples=(
            Sample(
                {"module": to_module(SPEC), "example": torch.zeros(1, 3, 8, 8)},
                check=lambda r: r == 2 * SPEC.count(),
            ),
            Sample(
                {"module": torch.nn.GRU(3, 4, 2), "example": torch.zeros(5, 2, 3)},
                check=lambda r: r == 2 * 2 * 5 * 12 * (3 + 4 + 4 + 4),
                note="RNN and GRU run as matmuls on CPU: 2 FLOPs per MAC",
            ),
        ),
        errors=(
            ErrorSample(
                {"module": torch.nn.Linear(3, 2), "example": torch.zeros(2, 4)},
                ValueError,
                "example does not fit",
            ),
            ErrorSample({"module": "net", "example": torch.zeros(2, 4)}, TypeError, "module"),
            ErrorSample(
                {"module": torch.nn.LSTM(3, 4), "example": torch.zeros(2, 5, 3, 1)},
                ValueError,
                "example does not fit the module",
            ),
        ),
        result="count",
        bad_values={**MODULE_BAD, **EXAMPLE_BAD},
    ),
]
