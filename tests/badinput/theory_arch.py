"""Bad-input entries for :mod:`theory.arch` and :mod:`theory.architectures`.

Builders and ``Spec`` methods are called through small wrappers that return what they built
(the new :class:`~theory.arch.Node`, or the counts of a whole network) so that the fuzz's
sanity check (``result="count"``: no NaN, no negative count) sees every number; the valid
samples compare with torch (parameters of the module built from the spec, on the meta
device) or with published figures.
"""

from __future__ import annotations

import numpy as np
import sympy
import torch

from numerics.torch_arch import to_module
from tests.badinput.table import (
    Entry,
    ErrorSample,
    Sample,
    boolean,
    one_of,
    positive_int,
)
from theory import architectures as A
from theory.arch import CATEGORIES, TERMS, Convention, Node, Spec, SpecError
from theory.counters import COUNTERS
from theory.pooling import adaptive_read_count

W = sympy.Symbol("w", integer=True, positive=True)
ALPHA = sympy.Symbol("a", positive=True)


def _spec() -> Spec:
    """0 image (3, 8, 8); 1, 2 convs (4, 8, 8); 3 gate (4, 1, 1); 4 ids (5,); 5 tokens (5, 8);
    6 vector (4,)."""
    s = Spec("t")
    img = s.input(3, 8, 8)
    c = s.conv(img, 4, 3, padding=1, bias=False, name="c")
    s.conv(img, 4, 3, padding=1, bias=False, name="c2")
    g = s.adaptive_avgpool(c, name="gate")
    s.input(5, name="ids")
    s.input(5, 8, name="tok")
    s.flatten(g, name="vec")
    return s


def _node_of(method: str):
    """A callable running ``_spec().<method>`` and returning the node it added."""

    def make():
        s = _spec()
        bound = getattr(s, method)

        def call(*args, **kwargs):
            return s.nodes[bound(*args, **kwargs)]

        return call

    return make


def _torch_params(spec: Spec) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in to_module(spec).parameters())


def _counts_of(builder):
    """A callable running a builder and returning its counts (and torch's parameter count
    when the spec is numeric)."""

    def make():
        def call(*args, **kwargs):
            spec = builder(*args, **kwargs)
            assert isinstance(spec, Spec)
            out = {"params": spec.params(), **spec.breakdown()}
            if isinstance(out["params"], int) and out["params"] < 2**40:
                try:
                    out["torch_params"] = _torch_params(spec)
                except ValueError as err:  # symbolic heads or huge sizes: no module to build
                    assert "symbolic" in str(err) or "int64" in str(err), err
            return out

        return call

    return make


def _torch_agrees(r) -> None:
    assert r["params"] == r["torch_params"], r


def _node(**expected):
    def check(node: Node) -> None:
        assert isinstance(node, Node)
        for key, value in expected.items():
            got = node.cost.get(key, 0) if key in CATEGORIES else getattr(node, key)
            assert got == value, (key, got, value)

    return check


NAME_BAD = {"name": ("", 3, b"x")}
NODE_BAD = ("1", 1.0, 99, 7)
RECURRENT = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
# sizes may be SymPy expressions (no integer domain for them)
RECURRENT_DOMAINS = {
    "kind": one_of("rnn", "lstm", "gru"),
    "bias": boolean,
    "bidirectional": boolean,
}


def _torch_recurrent(kind: str, *args, **kwargs) -> int:
    """Parameters torch counts for ``nn.RNN/LSTM/GRU(*args, **kwargs)`` (meta device)."""
    with torch.device("meta"):
        return sum(p.numel() for p in RECURRENT[kind](*args, **kwargs).parameters())


RNN_EXTRA = {
    "samples": (
        Sample(
            {"x": 5, "hidden_size": 2, "nonlinearity": "relu"},
            check=_node(shape=(5, 2), params=_torch_recurrent("rnn", 8, 2), activation=10),
        ),
    ),
    "errors": (
        ErrorSample(
            {"x": 5, "hidden_size": 2, "nonlinearity": "gelu"},
            ValueError,
            "nonlinearity must be 'tanh' or 'relu'",
        ),
        ErrorSample({"x": 5, "hidden_size": 2, "nonlinearity": None}, TypeError, "nonlinearity"),
    ),
}


def _recurrent_entry(kind: str) -> Entry:
    """Spec.rnn / lstm / gru on node 5 (tokens (5, 8)): torch's count, shape (L, D·H)."""
    extra = RNN_EXTRA if kind == "rnn" else {"samples": (), "errors": ()}
    g = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    two_layers = _torch_recurrent(kind, 8, 4, 2, bidirectional=True)
    return Entry(
        f"theory.arch.Spec.{kind}",
        make=_node_of(kind),
        samples=(
            Sample(
                {
                    "x": 5,
                    "hidden_size": 4,
                    "num_layers": 2,
                    "bias": True,
                    "bidirectional": True,
                    "name": "rec",
                },
                check=_node(shape=(5, 8), params=two_layers, macs=5 * 2 * g * 4 * (8 + 8 + 4 + 4)),
            ),
            Sample(
                {"x": 5, "hidden_size": 3, "bias": False},
                check=_node(shape=(5, 3), params=g * 3 * (8 + 3), bias=0),
            ),
            *extra["samples"],
        ),
        errors=(
            ErrorSample(
                {"x": 1, "hidden_size": 4}, SpecError, "x must be a node of shape \\(L, d\\)"
            ),
            ErrorSample({"x": 5, "hidden_size": 0}, ValueError, "hidden_size must be"),
            ErrorSample({"x": 5, "hidden_size": 4, "num_layers": 1.5}, TypeError, "num_layers"),
            ErrorSample({"x": 5, "hidden_size": 4, "bias": "False"}, TypeError, "bias must be"),
            ErrorSample(
                {"x": 5, "hidden_size": 4, "bidirectional": 1}, TypeError, "bidirectional must be"
            ),
            *extra["errors"],
        ),
        result="count",
        domains={
            **{k: v for k, v in RECURRENT_DOMAINS.items() if k != "kind"},
            "nonlinearity": one_of("tanh", "relu"),
        },
        bad_values={"x": NODE_BAD, "num_layers": (10**30,), **NAME_BAD},
    )


ENTRIES = [
    # ----------------------------------------------------------------- module functions
    Entry(
        "theory.arch.attention_params",
        samples=(
            Sample(
                {"d": 8},
                check=lambda r: (
                    r == sum(p.numel() for p in torch.nn.MultiheadAttention(8, 2).parameters())
                ),
            ),
            Sample({"d": W}, check=lambda r: sympy.expand(r - 4 * W**2 - 4 * W) == 0),
        ),
        errors=(
            ErrorSample({"d": -1}, ValueError, "d must be"),
            ErrorSample({"d": -7}, ValueError, "d must be"),
            ErrorSample({"d": 768.5}, TypeError, "d must be"),
            ErrorSample({"d": sympy.nan}, TypeError, "d must be"),
        ),
        result="count",
    ),
    Entry(
        "theory.arch.recurrent_params",
        samples=(
            Sample(
                {"kind": "lstm", "input_size": 10, "hidden_size": 20},
                check=lambda r: r == 2560 == _torch_recurrent("lstm", 10, 20),
            ),
            Sample(
                {
                    "kind": "gru",
                    "input_size": 8,
                    "hidden_size": 16,
                    "num_layers": 2,
                    "bias": True,
                    "bidirectional": True,
                },
                check=lambda r: r == 7296 == _torch_recurrent("gru", 8, 16, 2, bidirectional=True),
            ),
            Sample(
                {
                    "kind": "rnn",
                    "input_size": 3,
                    "hidden_size": 5,
                    "num_layers": 3,
                    "bias": False,
                    "bidirectional": False,
                },
                check=lambda r: r == _torch_recurrent("rnn", 3, 5, 3, bias=False),
            ),
            Sample(
                {"kind": "lstm", "input_size": W, "hidden_size": W, "num_layers": 2},
                check=lambda r: sympy.expand(r - (16 * W**2 + 16 * W)) == 0,
            ),
        ),
        errors=(
            ErrorSample(
                {"kind": "LSTM", "input_size": 3, "hidden_size": 4},
                ValueError,
                "kind must be one of",
            ),
            ErrorSample({"kind": None, "input_size": 3, "hidden_size": 4}, TypeError, "kind"),
            ErrorSample(
                {"kind": "gru", "input_size": 0, "hidden_size": 4}, ValueError, "input_size must be"
            ),
            ErrorSample(
                {"kind": "gru", "input_size": 3, "hidden_size": 4.0},
                TypeError,
                "hidden_size must be",
            ),
            ErrorSample(
                {"kind": "gru", "input_size": 3, "hidden_size": 4, "num_layers": -1},
                ValueError,
                "num_layers must be",
            ),
            ErrorSample(
                {"kind": "rnn", "input_size": 3, "hidden_size": 4, "bias": "True"},
                TypeError,
                "bias must be",
            ),
            ErrorSample(
                {"kind": "rnn", "input_size": 3, "hidden_size": 4, "bidirectional": np.bool_(True)},
                TypeError,
                "bidirectional must be",
            ),
        ),
        result="count",
        domains=RECURRENT_DOMAINS,
        bad_values={"kind": ("Rnn", "transformer", b"rnn")},
    ),
    Entry(
        "theory.arch.recurrent_cost",
        samples=(
            Sample(
                {"kind": "lstm", "length": 6, "input_size": 10, "hidden_size": 20},
                check=lambda r: (
                    r
                    == {
                        "macs": 6 * 4 * 20 * 30,
                        "bias": 6 * 2 * 80,
                        "activation": 6 * 5 * 20,
                        "elementwise": 6 * 4 * 20,
                    }
                ),
            ),
            Sample(
                {
                    "kind": "gru",
                    "length": 3,
                    "input_size": 2,
                    "hidden_size": 4,
                    "num_layers": 2,
                    "bias": False,
                    "bidirectional": True,
                },
                check=lambda r: (
                    r
                    == {
                        "macs": 3 * 2 * 3 * 4 * (2 + 4 + 8 + 4),
                        "bias": 0,
                        "activation": 3 * 4 * 3 * 4,
                        "elementwise": 3 * 4 * 5 * 4,
                    }
                ),
            ),
            Sample(
                {"kind": "rnn", "length": W, "input_size": 3, "hidden_size": 2},
                check=lambda r: sympy.expand(r["macs"] - 10 * W) == 0 and r["elementwise"] == 0,
            ),
        ),
        errors=(
            ErrorSample(
                {"kind": "lstm", "length": 0, "input_size": 3, "hidden_size": 4},
                ValueError,
                "length must be",
            ),
            ErrorSample(
                {"kind": "cnn", "length": 2, "input_size": 3, "hidden_size": 4},
                ValueError,
                "kind must be one of",
            ),
            ErrorSample(
                {"kind": "lstm", "length": 2, "input_size": 3, "hidden_size": 4, "bias": 1},
                TypeError,
                "bias must be",
            ),
        ),
        result="count",
        domains=RECURRENT_DOMAINS,
    ),
    Entry(
        "theory.arch.attention_cost",
        samples=(
            Sample(
                {"length": 4, "d": 8, "heads": 2},
                check=lambda r: (
                    r
                    == {
                        "macs": 4 * 4 * 64,
                        "bias": 4 * 4 * 8,
                        "attention": 2 * 16 * 8,
                        "activation": 2 * 16,
                    }
                ),
            ),
            Sample({"length": W, "d": 768, "heads": 12}),
        ),
        errors=(
            ErrorSample({"length": -1, "d": 8, "heads": 2}, ValueError, "length must be"),
            ErrorSample({"length": 4, "d": 768, "heads": 7}, ValueError, "heads must divide d"),
            ErrorSample({"length": 4, "d": 8, "heads": 0}, ValueError, "heads must be"),
        ),
        result="count",
        bad_values={"heads": (3, 5, 16)},
    ),
    Entry(
        "theory.arch.Convention",
        samples=(
            Sample(
                {
                    "bias": True,
                    "norm": False,
                    "activation": True,
                    "pooling": False,
                    "elementwise": False,
                    "attention": True,
                    "backward": True,
                    "unit": "FLOP",
                },
                check=lambda c: c.weight("macs") == 2 and c.weight("norm") == 0,
            ),
        ),
        errors=(
            ErrorSample({"backward": "no"}, TypeError, "backward must be True or False"),
            ErrorSample({"bias": 1}, TypeError, "bias must be True or False"),
            ErrorSample({"unit": "GFLOP"}, ValueError, "unit must be 'MAC' or 'FLOP'"),
            ErrorSample({"unit": 2}, TypeError, "unit must be"),
        ),
        result="any",
        domains={
            **dict.fromkeys(
                ("bias", "norm", "activation", "pooling", "elementwise", "attention", "backward"),
                boolean,
            ),
            "unit": one_of("MAC", "FLOP"),
        },
    ),
    Entry(
        "theory.arch.Convention.weight",
        make=lambda: Convention(norm=True, unit="FLOP").weight,
        samples=(
            Sample({"category": "norm"}, check=lambda r: r == 2),
            Sample({"category": "bias"}, check=lambda r: r == 0),
            Sample({"category": "activation"}, check=lambda r: r == 0),
        ),
        errors=(
            ErrorSample({"category": "flops"}, ValueError, "category must be one of"),
            ErrorSample({"category": 1}, TypeError, "category must be one of"),
        ),
        result="count",
        domains={"category": one_of(*CATEGORIES)},
    ),
    Entry(
        "theory.arch.Convention.term_weight",
        make=lambda: Convention(pooling=True, unit="FLOP").term_weight,
        samples=(
            Sample({"term": "conv.macs"}, check=lambda r: r == 2),
            Sample({"term": "maxpool.reads"}, check=lambda r: r == 1),
            Sample({"term": "maxpool.inputs"}, check=lambda r: r == 0),
            Sample({"term": "conv.params"}, check=lambda r: r == 0),
        ),
        errors=(
            ErrorSample({"term": "conv"}, ValueError, "term must be a key of theory.arch.TERMS"),
            ErrorSample({"term": 1}, TypeError, "term must be a key"),
        ),
        result="count",
        domains={"term": one_of(*TERMS)},
    ),
    Entry(
        "theory.arch.Convention.hides_params",
        make=lambda: Convention().hides_params,
        samples=(Sample({"term": "attention.params"}, check=lambda r: r is False),),
        errors=(ErrorSample({"term": "params"}, ValueError, "term must be a key"),),
        result="any",
        domains={"term": one_of(*TERMS)},
    ),
    Entry(
        "theory.arch.CounterConvention",
        samples=(
            Sample(
                {"name": "mine", "tool": "t", "unit": "MAC", "weights": {"conv.macs": 1}},
                check=lambda c: (
                    c.term_weight("conv.macs") == 1 and c.term_weight("linear.macs") == 0
                ),
            ),
            Sample(
                {
                    "name": "mine",
                    "tool": "t",
                    "unit": "MAC",
                    "weights": {},
                    "hidden_params": ("attention.params",),
                    "why": {"conv.macs": "none"},
                    "covers": ("input", "conv", "act.relu"),
                },
                check=lambda c: c.hides_params("attention.params"),
            ),
        ),
        errors=(
            ErrorSample(
                {"name": "m", "tool": "t", "unit": "MAC", "weights": {"conv": 1}},
                ValueError,
                "term must be a key",
            ),
            ErrorSample(
                {"name": "m", "tool": "t", "unit": "MAC", "weights": {"conv.macs": -1}},
                ValueError,
                "weights\\['conv.macs'\\] must be an integer >= 0",
            ),
            ErrorSample(
                {"name": "", "tool": "t", "unit": "MAC", "weights": {}},
                TypeError,
                "name must be a non-empty string",
            ),
            ErrorSample(
                {"name": "m", "tool": "t", "unit": "MAC", "weights": [1]},
                TypeError,
                "weights must be a dict",
            ),
            ErrorSample(
                {
                    "name": "m",
                    "tool": "t",
                    "unit": "MAC",
                    "weights": {},
                    "hidden_params": ("conv.macs",),
                },
                ValueError,
                "hidden_params must name per_param terms",
            ),
            ErrorSample(
                {"name": "m", "tool": "t", "unit": "MAC", "weights": {}, "fused_attention": 1},
                TypeError,
                "fused_attention must be True or False",
            ),
            ErrorSample(
                {"name": "m", "tool": "t", "unit": "MAC", "weights": {}, "covers": ("act",)},
                ValueError,
                "covers must name ops",
            ),
            ErrorSample(
                {"name": "m", "tool": "t", "unit": "MAC", "weights": {}, "why": {"conv.macs": 1}},
                TypeError,
                "why must be a dict",
            ),
        ),
        result="any",
    ),
    Entry(
        "theory.arch.CounterConvention.term_weight",
        make=lambda: COUNTERS["thop"].term_weight,
        samples=(
            Sample({"term": "batchnorm.elements"}, check=lambda r: r == 4),
            Sample({"term": "conv.bias"}, check=lambda r: r == 0),
        ),
        errors=(ErrorSample({"term": "bn"}, ValueError, "term must be a key"),),
        result="count",
        domains={"term": one_of(*TERMS)},
    ),
    Entry(
        "theory.arch.CounterConvention.hides_params",
        make=lambda: COUNTERS["thop"].hides_params,
        samples=(
            Sample({"term": "attention.params"}, check=lambda r: r is True),
            Sample({"term": "conv.params"}, check=lambda r: r is False),
        ),
        errors=(ErrorSample({"term": None}, TypeError, "term must be a key"),),
        result="any",
        domains={"term": one_of(*TERMS)},
    ),
    Entry(
        "theory.counters.counter",
        samples=(
            Sample({"name": "fvcore"}, check=lambda c: c.term_weight("layernorm.elements") == 5),
        ),
        errors=(
            ErrorSample({"name": "flops"}, ValueError, "name must be one of"),
            ErrorSample({"name": 3}, TypeError, "name must be one of"),
        ),
        result="any",
        domains={"name": one_of(*COUNTERS)},
    ),
    Entry(
        "theory.arch.Node",
        samples=(
            Sample(
                {
                    "name": "c",
                    "op": "conv",
                    "inputs": (0,),
                    "attrs": {},
                    "shape": (4, 8, 8),
                    "params": 108,
                    "cost": {"macs": 6912},
                },
                check=lambda n: n.shape == (4, 8, 8) and n.params == 108,
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "name": "c",
                    "op": "conv",
                    "inputs": (0,),
                    "attrs": {},
                    "shape": (4, 8),
                    "params": -1,
                },
                ValueError,
                "params must be",
            ),
            ErrorSample(
                {"name": "c", "op": "conv", "inputs": (0,), "attrs": {}, "shape": (0, 8, 8)},
                ValueError,
                "shape",
            ),
            ErrorSample(
                {"name": "c", "op": "warp", "inputs": (), "attrs": {}, "shape": (1,)},
                ValueError,
                "op must be one of",
            ),
            ErrorSample(
                {
                    "name": "c",
                    "op": "conv",
                    "inputs": (),
                    "attrs": {},
                    "shape": (1,),
                    "cost": {"flops": 1},
                },
                ValueError,
                "cost keys must be",
            ),
        ),
        result="count",
        bad_values={"cost": ({"macs": -1}, {"macs": sympy.nan}), "inputs": ((-1,), ("a",))},
    ),
    Entry(
        "theory.arch.SpecError",
        samples=(
            Sample({}, args=("layer 'x' (conv): bad",), check=lambda e: isinstance(e, ValueError)),
        ),
        result="any",
        fuzz=False,
        note="an exception class: any message is valid",
    ),
    # ----------------------------------------------------------------- Spec
    Entry(
        "theory.arch.Spec",
        samples=(Sample({"name": "net"}, check=lambda s: s.name == "net" and s.nodes == []),),
        errors=(ErrorSample({"name": 3}, TypeError, "name must be a string"),),
        result="any",
    ),
    Entry(
        "theory.arch.Spec.input",
        make=_node_of("input"),
        samples=(
            Sample({"name": "in2"}, args=(2, 4, 4), check=_node(shape=(2, 4, 4))),
            Sample({"name": "ids2"}, args=(W,), check=_node(shape=(W,))),
        ),
        errors=(
            ErrorSample({"name": "in"}, ValueError, "input shape\\[1\\] must be", args=(3, 0, 4)),
            ErrorSample({"name": "in"}, TypeError, "input shape\\[0\\] must be", args=(sympy.nan,)),
            ErrorSample({"name": "in"}, SpecError, "shape must have 1 to 3", args=(1, 2, 3, 4)),
        ),
        result="count",
        bad_values=NAME_BAD,
    ),
    Entry(
        "theory.arch.Spec.conv",
        make=_node_of("conv"),
        samples=(
            Sample(
                {
                    "x": 1,
                    "out_channels": 6,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "groups": 2,
                    "bias": True,
                    "dilation": 1,
                    "name": "k",
                },
                check=_node(
                    shape=(6, 4, 4), params=6 * 2 * 9 + 6, macs=6 * 2 * 9 * 16, bias=6 * 16
                ),
            ),
            Sample(
                {"x": 0, "out_channels": W, "kernel_size": 1, "name": None},
                check=_node(params=3 * W + W, shape=(W, 8, 8)),  # bias=True by default
            ),
        ),
        errors=(
            ErrorSample(
                {"x": 1, "out_channels": 6, "kernel_size": 3, "groups": 3},
                SpecError,
                "groups must divide in_channels",
            ),
            ErrorSample({"x": 1, "out_channels": 6, "kernel_size": 9}, SpecError, "kernel_size"),
            ErrorSample(
                {"x": 1, "out_channels": 6, "kernel_size": 3, "bias": "False"},
                TypeError,
                "bias must be True or False",
            ),
            ErrorSample(
                {"x": 5, "out_channels": 6, "kernel_size": 3},
                SpecError,
                "x must be a node of shape \\(C, H, W\\)",
            ),
            ErrorSample(
                {"x": 99, "out_channels": 6, "kernel_size": 3}, ValueError, "x must be a node index"
            ),
        ),
        result="count",
        domains={"bias": boolean},
        bad_values={"x": NODE_BAD, "groups": (3, 5), "kernel_size": (9, 100), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.conv_transpose",
        make=_node_of("conv_transpose"),
        samples=(
            # torch: ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
            # on 8x8 gives 16x16 and holds 4*3*9 + 6 parameters
            Sample(
                {
                    "x": 1,
                    "out_channels": 6,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "output_padding": 1,
                    "groups": 2,
                    "bias": True,
                    "dilation": 1,
                    "name": "up",
                },
                check=_node(
                    shape=(6, 16, 16), params=4 * 3 * 9 + 6, macs=4 * 3 * 9 * 64, bias=6 * 256
                ),
            ),
        ),
        errors=(
            ErrorSample(
                {"x": 1, "out_channels": 6, "kernel_size": 3, "stride": 2, "output_padding": 2},
                ValueError,
                "output_padding must be smaller than max\\(stride, dilation\\)",
            ),
            ErrorSample(
                {"x": 1, "out_channels": 6, "kernel_size": 1, "padding": 5},
                SpecError,
                "conv_transpose",
            ),
            ErrorSample(
                {"x": 1, "out_channels": 6, "kernel_size": 3, "groups": 3},
                SpecError,
                "groups must divide",
            ),
            ErrorSample(
                {"x": 5, "out_channels": 6, "kernel_size": 3},
                SpecError,
                "x must be a node of shape \\(C, H, W\\)",
            ),
        ),
        result="count",
        domains={"bias": boolean},
        bad_values={"x": NODE_BAD, "groups": (3, 5), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.linear",
        make=_node_of("linear"),
        samples=(
            Sample(
                {"x": 5, "out_features": 3, "bias": True, "name": "fc"},
                check=_node(params=27, macs=120, bias=15, shape=(5, 3)),
            ),
            Sample(
                {"x": 6, "out_features": W, "bias": False, "name": None},
                check=_node(params=4 * W, macs=4 * W),
            ),
        ),
        errors=(
            ErrorSample({"x": 1, "out_features": 3}, SpecError, "x must be a node of shape"),
            ErrorSample({"x": 5, "out_features": 0}, ValueError, "out_features must be"),
            ErrorSample({"x": 5, "out_features": 3, "bias": "no"}, TypeError, "bias"),
        ),
        result="count",
        domains={"bias": boolean},
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.batchnorm",
        make=_node_of("batchnorm"),
        samples=(Sample({"x": 1, "name": "bn"}, check=_node(params=8, norm=256)),),
        errors=(ErrorSample({"x": 5}, SpecError, "x must be a node of shape \\(C, H, W\\)"),),
        result="count",
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.layernorm",
        make=_node_of("layernorm"),
        samples=(Sample({"x": 5, "eps": 1e-6, "name": "ln"}, check=_node(params=16, norm=40)),),
        errors=(
            ErrorSample({"x": 5, "eps": 0.0}, ValueError, "eps must be"),
            ErrorSample({"x": 5, "eps": float("inf")}, ValueError, "eps must be"),
            ErrorSample({"x": 5, "eps": "1e-5"}, TypeError, "eps must be"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.act",
        make=_node_of("act"),
        samples=(Sample({"x": 1, "kind": "gelu", "name": "a"}, check=_node(activation=256)),),
        errors=(
            ErrorSample({"x": 1, "kind": "swish"}, ValueError, "kind must be one of"),
            ErrorSample({"x": 1, "kind": None}, TypeError, "kind must be one of"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, "kind": ("ReLU", "relu "), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.maxpool",
        make=_node_of("maxpool"),
        samples=(
            Sample(
                {"x": 1, "kernel_size": 3, "stride": 1, "padding": 1, "name": "mp"},
                check=_node(shape=(4, 8, 8), pool=4 * 64 * 9),
            ),
            Sample(
                {"x": 1, "kernel_size": 2, "stride": None, "name": None},
                check=_node(shape=(4, 4, 4)),
            ),
        ),
        errors=(
            ErrorSample({"x": 1, "kernel_size": 3, "padding": 2}, SpecError, "padding"),
            ErrorSample({"x": 1, "kernel_size": 9}, SpecError, "kernel_size"),
            ErrorSample({"x": 1, "kernel_size": 2, "stride": 0}, ValueError, "stride must be"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, "kernel_size": (9, 17), "padding": (2, 5), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.avgpool",
        make=_node_of("avgpool"),
        samples=(
            Sample(
                {"x": 1, "kernel_size": 2, "stride": 2, "padding": 0, "name": "ap"},
                check=_node(shape=(4, 4, 4), pool=4 * 16 * 4),
            ),
        ),
        errors=(ErrorSample({"x": 1, "kernel_size": 2.0}, TypeError, "kernel_size must be"),),
        result="count",
        bad_values={"x": NODE_BAD, "kernel_size": (9, 17), "padding": (2, 5), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.adaptive_avgpool",
        make=_node_of("adaptive_avgpool"),
        samples=(
            Sample(
                {"x": 1, "output_size": 3, "name": "p"},
                check=_node(shape=(4, 3, 3), pool=4 * adaptive_read_count(8, 3) ** 2),
            ),
            Sample({"x": 1, "output_size": 1, "name": None}, check=_node(pool=256)),
        ),
        errors=(
            ErrorSample({"x": 1, "output_size": 0}, ValueError, "output_size must be"),
            ErrorSample({"x": 1, "output_size": 10**30}, ValueError, "output_size must be at most"),
            ErrorSample({"x": 1, "output_size": W}, SpecError, "output_size must be 1"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, "output_size": (W, 2 * 10**6), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.flatten",
        make=_node_of("flatten"),
        samples=(Sample({"x": 1, "name": "fl"}, check=_node(shape=(256,))),),
        errors=(ErrorSample({"x": "1"}, TypeError, "x must be a node index"),),
        result="count",
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.add",
        make=_node_of("add"),
        samples=(Sample({"a": 1, "b": 2, "name": "r"}, check=_node(elementwise=256)),),
        errors=(
            ErrorSample({"a": 1, "b": 3}, SpecError, "a and b must have equal shapes"),
            ErrorSample({"a": 1, "b": 99}, ValueError, "b must be a node index"),
        ),
        result="count",
        bad_values={"a": NODE_BAD, "b": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.scale",
        make=_node_of("scale"),
        samples=(Sample({"x": 1, "gate": 3, "name": "se"}, check=_node(elementwise=256)),),
        errors=(ErrorSample({"x": 1, "gate": 2}, SpecError, "gate \\(C, 1, 1\\)"),),
        result="count",
        bad_values={"x": NODE_BAD, "gate": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.concat",
        make=_node_of("concat"),
        samples=(
            Sample({"xs": [1, 2], "name": "cat"}, check=_node(shape=(8, 8, 8))),
            Sample({"xs": (1,), "name": None}, check=_node(shape=(4, 8, 8))),
        ),
        errors=(
            ErrorSample({"xs": []}, ValueError, "xs must hold at least one"),
            ErrorSample({"xs": [1, 3]}, SpecError, "spatial sizes differ, xs\\[0\\]"),
            ErrorSample({"xs": [1, 5]}, SpecError, "xs\\[1\\] must be a node of shape"),
            ErrorSample({"xs": None}, TypeError, "xs must be a sequence"),
        ),
        result="count",
        bad_values={"xs": ([1, 99], [1, "2"], "12", [0, 1, 3]), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.to_tokens",
        make=_node_of("to_tokens"),
        samples=(Sample({"x": 1, "name": "tt"}, check=_node(shape=(64, 4))),),
        errors=(ErrorSample({"x": 5}, SpecError, "x must be a node of shape"),),
        result="count",
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.cls_token",
        make=_node_of("cls_token"),
        samples=(Sample({"x": 5, "name": "cls"}, check=_node(shape=(6, 8), params=8)),),
        errors=(ErrorSample({"x": 1}, SpecError, "x must be a node of shape \\(L, d\\)"),),
        result="count",
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.embedding",
        make=_node_of("embedding"),
        samples=(
            Sample(
                {"x": 4, "vocab": 10, "d": 6, "name": "emb"}, check=_node(shape=(5, 6), params=60)
            ),
        ),
        errors=(
            ErrorSample({"x": 4, "vocab": -1, "d": 16}, ValueError, "vocab must be"),
            ErrorSample({"x": 5, "vocab": 10, "d": 6}, SpecError, "x must be a node of shape"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.table_add",
        make=_node_of("table_add"),
        samples=(
            Sample(
                {"x": 5, "rows": 7, "index": "position", "name": "pos"},
                check=_node(params=56, elementwise=40),
            ),
            Sample({"x": 5, "rows": 2, "index": "zero", "name": None}, check=_node(params=16)),
        ),
        errors=(
            ErrorSample({"x": 5, "rows": 4}, SpecError, "rows=4 must be at least"),
            ErrorSample({"x": 5, "rows": 7, "index": "row"}, ValueError, "index must be"),
            ErrorSample({"x": 5, "rows": 7, "index": 0}, TypeError, "index must be"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, "rows": (4, 1), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.attention",
        make=_node_of("attention"),
        samples=(
            Sample(
                {"x": 5, "heads": 2, "name": "at"},
                check=_node(params=4 * 64 + 32, attention=2 * 25 * 8, activation=2 * 25),
            ),
        ),
        errors=(
            ErrorSample({"x": 5, "heads": 3}, SpecError, "heads=3 must divide d=8"),
            ErrorSample({"x": 1, "heads": 2}, SpecError, "x must be a node of shape \\(L, d\\)"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, "heads": (3, 5, 16), **NAME_BAD},
    ),
    _recurrent_entry("rnn"),
    _recurrent_entry("lstm"),
    _recurrent_entry("gru"),
    Entry(
        "theory.arch.Spec.select",
        make=_node_of("select"),
        samples=(Sample({"x": 5, "index": 2, "name": "sel"}, check=_node(shape=(8,))),),
        errors=(
            ErrorSample({"x": 5, "index": 5}, ValueError, "index must satisfy"),
            ErrorSample({"x": 5, "index": 1.0}, TypeError, "index must be"),
            ErrorSample({"x": 1, "index": 0}, SpecError, "x must be a node of shape"),
        ),
        result="count",
        bad_values={"x": NODE_BAD, "index": (5, 6), **NAME_BAD},
    ),
    Entry(
        "theory.arch.Spec.shape",
        make=lambda: _spec().shape,
        samples=(Sample({"x": 1}, check=lambda r: r == (4, 8, 8)),),
        errors=(ErrorSample({"x": 7}, ValueError, "x must be a node index"),),
        result="count",
        bad_values={"x": NODE_BAD},
    ),
    Entry(
        "theory.arch.Spec.params",
        make=lambda: _spec().params,
        samples=(
            Sample({}, check=lambda r: r == 2 * 4 * 3 * 9),
            Sample({"convention": COUNTERS["thop"]}, check=lambda r: r == 2 * 4 * 3 * 9),
            Sample({"convention": None}, check=lambda r: r == 2 * 4 * 3 * 9),
        ),
        errors=(ErrorSample({"convention": "thop"}, TypeError, "convention must be a Convention"),),
        result="count",
    ),
    Entry(
        "theory.arch.Spec.breakdown",
        make=lambda: _spec().breakdown,
        samples=(Sample({}, check=lambda r: r["macs"] == 2 * 4 * 27 * 64 and r["pool"] == 256),),
        result="count",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.arch.Spec.count",
        make=lambda: _spec().count,
        samples=(
            Sample(
                {"convention": Convention(bias=True, pooling=True)},
                check=lambda r: r == 2 * 4 * 27 * 64 + 256,
            ),
            # both convs read the input, which needs no gradient: forward + weight gradient
            Sample(
                {"convention": Convention(unit="FLOP", backward=True)},
                check=lambda r: r == 2 * 2 * 2 * 4 * 27 * 64,
            ),
            # fvcore: conv MACs + adaptive-pool inputs
            Sample({"convention": COUNTERS["fvcore"]}, check=lambda r: r == 2 * 4 * 27 * 64 + 256),
        ),
        errors=(
            ErrorSample({"convention": "MAC"}, TypeError, "convention must be a Convention"),
            ErrorSample({"convention": 1}, TypeError, "convention must be a Convention"),
        ),
        result="count",
    ),
    Entry(
        "theory.arch.Spec.node_terms",
        make=lambda: _spec().node_terms,
        samples=(
            Sample({"x": 1}, check=lambda r: r == {"conv.macs": 4 * 27 * 64, "conv.params": 108}),
            Sample(
                {"x": 3},
                check=lambda r: (
                    r
                    == {
                        "adaptive_avgpool.reads": 256,
                        "adaptive_avgpool.inputs": 256,
                        "adaptive_avgpool.outputs": 4,
                    }
                ),
            ),
            Sample({"x": 0}, check=lambda r: r == {}),
        ),
        errors=(
            ErrorSample({"x": 99}, ValueError, "x must be a node index"),
            ErrorSample({"x": "c"}, TypeError, "x must be a node index"),
        ),
        result="count",
        bad_values={"x": NODE_BAD},
    ),
    Entry(
        "theory.arch.Spec.terms",
        make=lambda: _spec().terms,
        samples=(
            Sample(
                {},
                check=lambda r: r["conv.macs"] == 2 * 4 * 27 * 64 and r["conv.params"] == 216,
            ),
        ),
        result="count",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.arch.Spec.weighted_terms",
        make=lambda: _spec().weighted_terms,
        samples=(
            Sample({}, check=lambda r: r == {"conv.macs": 2 * 4 * 27 * 64}),
            Sample(
                {"convention": COUNTERS["thop"]},
                check=lambda r: (
                    r
                    == {
                        "conv.macs": 2 * 4 * 27 * 64,
                        "adaptive_avgpool.inputs": 256,
                        "adaptive_avgpool.outputs": 4,
                    }
                ),
            ),
        ),
        errors=(ErrorSample({"convention": "thop"}, TypeError, "convention must be a Convention"),),
        result="count",
    ),
    Entry(
        "theory.arch.Spec.layer_table",
        make=lambda: _spec().layer_table,
        samples=(
            Sample(
                {"convention": Convention(pooling=True)},
                check=lambda r: (
                    [x["count"] for x in r] == [6912, 6912, 256, 0]
                    and r[0]["params"] == 108
                    and r[2]["pool"] == 256
                ),
            ),
            Sample(
                {"convention": COUNTERS["thop"]},
                check=lambda r: [x["count"] for x in r] == [6912, 6912, 260, 0],  # 256 + 4
            ),
        ),
        errors=(ErrorSample({"convention": "thop"}, TypeError, "convention must be a Convention"),),
        result="any",
    ),
    Entry(
        "theory.arch.format_layer_table",
        samples=(
            Sample(
                {"records": _spec().layer_table(), "title": "t"},
                check=lambda r: (
                    r.splitlines()[0] == "t"
                    and "13,824" in r.splitlines()[-1]
                    and "216" in r.splitlines()[-1]
                ),
            ),
            Sample({"records": []}, check=lambda r: "total" in r),
        ),
        errors=(
            ErrorSample({"records": "table"}, TypeError, "records must be a sequence"),
            ErrorSample({"records": [{"layer": "x"}]}, ValueError, "records\\[0\\] must be a dict"),
            ErrorSample({"records": [], "title": 3}, TypeError, "title must be a string"),
        ),
        result="any",
    ),
    Entry(
        "theory.arch.Spec.subs",
        make=lambda: A.resnet((1,), width=W, resolution=16, classes=3).subs,
        samples=(
            Sample(
                {"values": {W: 4}},
                check=lambda r: (
                    r["params"] == A.resnet((1,), width=4, resolution=16, classes=3).params()
                ),
            ),
        ),
        errors=(
            ErrorSample({"values": {}}, ValueError, "values must give every symbol"),
            ErrorSample({"values": {W: -2}}, ValueError, "values\\[w\\] must be > 0"),
            ErrorSample({"values": {W: 2.5}}, TypeError, "values\\[w\\] must be an integer"),
            ErrorSample({"values": {"w": 4}}, TypeError, "values keys must be"),
        ),
        result="count",
        bad_values={"values": ({W: sympy.nan}, {W: 0}, {ALPHA: 1})},
    ),
    # ----------------------------------------------------------------- architectures
    Entry(
        "theory.architectures.resnet",
        make=_counts_of(A.resnet),
        samples=(
            Sample(
                {"blocks": (1, 1), "bottleneck": False, "width": 4, "resolution": 16, "classes": 3},
                check=_torch_agrees,
            ),
            Sample(
                {"blocks": [1], "bottleneck": True, "width": 2, "resolution": 8, "classes": 2},
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample({"bottleneck": "False"}, TypeError, "bottleneck must be True or False"),
            ErrorSample({"blocks": (10**30,)}, ValueError, "blocks .* must be at most"),
            ErrorSample({"blocks": (2, 0)}, ValueError, "blocks\\[1\\] must be"),
            ErrorSample({"width": 0}, ValueError, "width must be"),
            # fuzz finding 18: bytes iterate as ints and passed for a list of block counts
            ErrorSample({"blocks": b"\x01"}, TypeError, "blocks"),
            ErrorSample({"blocks": bytearray(b"\x01\x01")}, TypeError, "blocks"),
        ),
        result="count",
        domains={"bottleneck": boolean},
        bad_values={
            "blocks": ((0,), (1.5,), ("a",), (2000,), "12", (True,), b"\x01", bytearray(b"\x01"))
        },
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.vgg",
        make=_counts_of(A.vgg),
        samples=(
            Sample(
                {"config": (4, "M", 8), "resolution": 8, "classes": 3, "hidden": 6, "pool_size": 2},
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample({"config": (4, "M"), "resolution": 1}, SpecError, "resolution=1"),
            ErrorSample({"config": (4, "X")}, TypeError, "config\\[1\\] must be"),
            ErrorSample({"config": [8] * 1001}, ValueError, "config .* must be at most"),
            ErrorSample({"config": b"x"}, TypeError, "config"),
            ErrorSample({"config": bytearray(b"\x04")}, TypeError, "config"),
        ),
        result="count",
        domains={"pool_size": positive_int},
        bad_values={
            "config": ((0,), ("M", 1.5), (), "M", b"x", bytearray(b"\x04")),
            "resolution": (1, 2),
        },
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.mobilenet_v2",
        make=_counts_of(A.mobilenet_v2),
        samples=(
            Sample(
                {
                    "settings": ((1, 4, 1, 1), (2, 6, 2, 2)),
                    "resolution": 12,
                    "classes": 3,
                    "stem": 4,
                    "last": 8,
                },
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample({"settings": ((1, 4, 1),)}, TypeError, "settings\\[0\\] must be a tuple"),
            ErrorSample({"settings": ((1, 4, 10**30, 1),)}, ValueError, "settings .* at most"),
        ),
        result="count",
        domains={"stem": positive_int, "last": positive_int},
        bad_values={"settings": (((0, 4, 1, 1),), ((1, 4, 1, 1.0),), ())},
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.densenet",
        make=_counts_of(A.densenet),
        samples=(
            Sample(
                {
                    "blocks": (2, 1),
                    "growth": 2,
                    "init": 4,
                    "bn_size": 2,
                    "resolution": 16,
                    "classes": 3,
                },
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample({"blocks": (-1,)}, ValueError, "blocks\\[0\\] must be"),
            ErrorSample({"blocks": (1, 1, 1, 1), "resolution": 4}, SpecError, "resolution=4"),
            ErrorSample({"blocks": b"x"}, TypeError, "blocks"),
        ),
        result="count",
        domains={"bn_size": positive_int},
        bad_values={"blocks": ((0,), (10**6,), (), b"x", bytearray(b"\x01")), "resolution": (2, 4)},
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.efficientnet_b0",
        make=_counts_of(A.efficientnet_b0),
        samples=(
            Sample(
                {
                    "settings": ((1, 3, 1, 4, 4, 1), (2, 5, 2, 4, 6, 1)),
                    "resolution": 12,
                    "classes": 3,
                    "last": 8,
                },
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample(
                {"settings": ((1, 3, 1, 4, 4, 1), (2, 5, 2, 5, 6, 1))},
                ValueError,
                "settings\\[1\\] must start from",
            ),
        ),
        result="count",
        domains={"last": positive_int},
        bad_values={"settings": (((1, 3, 1, 4, 4),), ((1, 3, 1, 4, 4, 0),))},
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.vit",
        make=_counts_of(A.vit),
        samples=(
            Sample(
                {
                    "image_size": 8,
                    "patch": 4,
                    "layers": 1,
                    "d": 8,
                    "heads": 2,
                    "mlp": 6,
                    "classes": 3,
                },
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample({"layers": 10**30}, ValueError, "layers .* must be at most"),
            ErrorSample({"d": 768, "heads": 7}, ValueError, "heads must divide d"),
            ErrorSample({"image_size": 225}, ValueError, "patch must divide image_size"),
        ),
        result="count",
        domains={"layers": positive_int},
        bad_values={"heads": (3, 16), "patch": (3, 16)},
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.bert",
        make=_counts_of(A.bert),
        samples=(
            Sample(
                {
                    "sequence": 4,
                    "layers": 1,
                    "d": 8,
                    "heads": 2,
                    "mlp": 6,
                    "vocab": 10,
                    "positions": 6,
                    "token_types": 2,
                },
                check=_torch_agrees,
            ),
        ),
        errors=(
            ErrorSample({"layers": 10**30}, ValueError, "layers .* must be at most"),
            ErrorSample({"sequence": 513}, ValueError, "sequence must be at most positions"),
            ErrorSample({"d": 768, "heads": 7}, ValueError, "heads must divide d"),
        ),
        result="count",
        domains={"layers": positive_int},
        bad_values={"heads": (3, 16), "positions": (3,), "sequence": (7,)},
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.reference_spec",
        make=_counts_of(A.reference_spec),
        samples=(
            Sample(
                {"name": "ResNet-18"},
                check=lambda r: r["params"] == 11_689_512 == r["torch_params"],
            ),
        ),
        errors=(
            ErrorSample({"name": "ResNet-19"}, ValueError, "name must be one of"),
            ErrorSample({"name": ["ResNet-18"]}, TypeError, "name must be one of"),
        ),
        result="count",
        domains={"name": one_of(*A.REFERENCE)},
        time_limit=20.0,
    ),
    Entry(
        "theory.architectures.densenet_block_params",
        samples=(
            Sample(
                {"layers": 3, "growth": 2, "init": 4, "bn_size": 2},
                check=lambda r: (
                    r
                    == sum(
                        n.params
                        for n in A.densenet((3,), 2, 4, 2, 16, 3).nodes
                        if n.name.startswith("denseblock1.layer")
                    )
                ),
            ),
            Sample(
                {"layers": W, "growth": 32, "init": 64, "bn_size": 4},
                check=lambda r: sympy.expand(r - 2080 * W**2 - 43360 * W) == 0,
            ),
        ),
        errors=(
            ErrorSample({"layers": -1, "growth": 32, "init": 64}, ValueError, "layers must be"),
            ErrorSample({"layers": 2, "growth": 1.5, "init": 64}, TypeError, "growth must be"),
        ),
        result="count",
    ),
    Entry(
        "theory.architectures.derive_densenet_quadratic",
        samples=(Sample({}, check=lambda d: d.agrees()),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.architectures.resnet50_params_in_width",
        samples=(Sample({"alpha": ALPHA}, check=lambda r: r.subs(ALPHA, 1) == 25_557_032),),
        errors=(
            ErrorSample({"alpha": 2}, TypeError, "alpha must be a SymPy Symbol"),
            ErrorSample({"alpha": sympy.Symbol("m", negative=True)}, ValueError, "alpha must be"),
        ),
        result="count",
        time_limit=10.0,
    ),
    Entry(
        "theory.architectures.vit_macs_in_tokens",
        samples=(
            Sample(
                {"n": W, "layers": 1, "d": 8, "heads": 2, "mlp": 6, "classes": 3, "patch": 4},
                check=lambda r: all(
                    r.subs(W, g * g + 1) == A.vit(4 * g, 4, 1, 8, 2, 6, 3).count()
                    for g in (1, 2, 3)
                ),
            ),
        ),
        errors=(
            ErrorSample({"n": 5}, TypeError, "n must be a SymPy Symbol"),
            ErrorSample({"n": W, "image_size": 32}, TypeError, "image_size must not be given"),
            ErrorSample({"n": W, "patch": 0}, ValueError, "patch must be"),
            ErrorSample({"n": W, "wings": 2}, TypeError, "wings"),
        ),
        result="count",
        bad_values={"heads": (3,)},
        time_limit=10.0,
    ),
]
