"""Counting embeddings and recurrent layers: ``theory.arch`` specs and
``numerics.torch_arch.count_module`` against torch's own modules.

Parameters are compared with ``sum(p.numel() for p in module.parameters())``; MACs with
counts taken independently of the formulas: from the weight shapes (every step multiplies
``weight_ih`` by the input and ``weight_hh`` by the state), from ``FlopCounterMode`` where it
sees the matmuls, and from the elementwise operations torch actually dispatches.

Claims: theory/claims/sequence.yaml (d000.seq.embedding-lookup, rnn-cell, lstm-gates,
gru-gates: the parameter counts). Helpers: theory.arch.recurrent_params,
theory.arch.recurrent_cost, theory.arch.Spec.embedding/rnn/lstm/gru; torch side:
numerics.torch_arch.
"""

from __future__ import annotations

from collections import Counter

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from numerics.torch_arch import count_module, flop_counter_flops, to_module
from theory.arch import GATES, Convention, Spec, SpecError, recurrent_cost, recurrent_params

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
KINDS = st.sampled_from(sorted(GATES))
config = st.fixed_dictionaries(
    {
        "input_size": st.integers(1, 9),
        "hidden_size": st.integers(1, 9),
        "num_layers": st.integers(1, 3),
        "bias": st.booleans(),
        "bidirectional": st.booleans(),
    }
)


def _torch_layer(kind: str, cfg: dict, batch_first: bool = True, device: str = "meta"):
    with torch.device(device):
        return TORCH[kind](
            cfg["input_size"], cfg["hidden_size"], cfg["num_layers"], bias=cfg["bias"],
            batch_first=batch_first, bidirectional=cfg["bidirectional"],
        )  # fmt: skip


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _seq_spec(kind: str, length: int, cfg: dict) -> tuple[Spec, int]:
    s = Spec(kind)
    x = s.input(length, cfg["input_size"])
    y = getattr(s, kind)(
        x, cfg["hidden_size"], cfg["num_layers"], cfg["bias"], cfg["bidirectional"], name="rec"
    )
    return s, y


def _macs_from_weights(module: nn.RNNBase, length: int) -> int:
    """Every step multiplies each ``weight_ih_l*`` by the input and each ``weight_hh_l*``
    by the state: ``length`` × (elements of all weight matrices)."""
    return length * sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight"))


def _bias_adds_from_vectors(module: nn.RNNBase, length: int) -> int:
    """Every step adds each bias vector once."""
    return length * sum(p.numel() for n, p in module.named_parameters() if n.startswith("bias"))


# --------------------------------------------------------------------------- parameters


def _parameters_as_torch_counts_them(kind: str, cfg: dict, length: int) -> None:
    """recurrent_params = the spec's count = nn.RNN/LSTM/GRU's numel = count_module's
    formula; and the parameters are, tensor by tensor, G·H × I_l, G·H × H and two G·H bias
    vectors per layer and direction."""
    layer = _torch_layer(kind, cfg)
    expected = recurrent_params(kind, **cfg)
    assert _numel(layer) == expected
    g, h = GATES[kind], cfg["hidden_size"]
    d = 2 if cfg["bidirectional"] else 1
    for name, p in layer.named_parameters():
        layer_index = int(name.split("_l")[1][0])
        i_l = cfg["input_size"] if layer_index == 0 else d * h
        want = {"weight_ih": (g * h, i_l), "weight_hh": (g * h, h)}.get(name[:9], (g * h,))
        assert tuple(p.shape) == want, name
    spec, node = _seq_spec(kind, length, cfg)
    assert spec.params() == expected
    assert spec.shape(node) == (length, d * h)
    with torch.device("meta"):
        module = to_module(spec)
    counted = count_module(module, torch.zeros(2, length, cfg["input_size"], device="meta"))
    assert counted["params"] == counted["params_by_formula"] == expected
    assert not counted["unused_layers"]


def _documents_count_differs_by_the_second_bias(kind: str, i: int, h: int) -> None:
    """The documents' cells multiply one matrix per gate by the concatenation
    :math:`[h_{t-1}, x_t]`: :math:`G` matrices of :math:`H \\times (H + I)`, which is torch's
    weight count exactly; torch adds *two* bias vectors per gate where the documents' RNN and
    LSTM write one (and their GRU gates none): :math:`G H` more parameters per layer and
    direction than a one-bias cell, :math:`2 G H` more than a bias-free one."""
    g = GATES[kind]
    concatenated = g * h * (h + i)  # G matrices W of shape (H, H + I)
    assert recurrent_params(kind, i, h, bias=False) == concatenated
    with_bias = recurrent_params(kind, i, h, bias=True)
    assert with_bias - concatenated == 2 * g * h  # b_ih and b_hh
    one_bias = concatenated + g * h  # the documents' b_f, b_i, b_C, b_o (RNN: b_h)
    assert with_bias - one_bias == g * h


PARAMETER_CASES = settings(max_examples=40, deadline=None)
SIZES = st.integers(1, 300)


@pytest.mark.claim("d000.seq.rnn-cell")
@PARAMETER_CASES
@given(cfg=config, length=st.integers(1, 6), i=SIZES, h=SIZES)
def test_rnn_parameters_exact_as_torch_counts_them(cfg, length, i, h):
    """nn.RNN's parameters for every size, depth 1-3, bias on/off, one or two directions,
    and the documents' one-bias count (the two helpers above)."""
    _parameters_as_torch_counts_them("rnn", cfg, length)
    _documents_count_differs_by_the_second_bias("rnn", i, h)


@pytest.mark.claim("d000.seq.lstm-gates")
@PARAMETER_CASES
@given(cfg=config, length=st.integers(1, 6), i=SIZES, h=SIZES)
def test_lstm_parameters_exact_as_torch_counts_them(cfg, length, i, h):
    """nn.LSTM's parameters, as for the RNN: four gates."""
    _parameters_as_torch_counts_them("lstm", cfg, length)
    _documents_count_differs_by_the_second_bias("lstm", i, h)


@pytest.mark.claim("d000.seq.gru-gates")
@PARAMETER_CASES
@given(cfg=config, length=st.integers(1, 6), i=SIZES, h=SIZES)
def test_gru_parameters_exact_as_torch_counts_them(cfg, length, i, h):
    """nn.GRU's parameters, as for the RNN: three gates (reset, update, candidate)."""
    _parameters_as_torch_counts_them("gru", cfg, length)
    _documents_count_differs_by_the_second_bias("gru", i, h)


def test_parameter_counts_of_known_layers():
    """Hand-computed figures: LSTM(10, 20) = 4·20·(10+20) + 2·4·20 = 2560; a 2-layer
    bidirectional GRU(8, 16): 2·(3·16·24 + 96) + 2·(3·16·48 + 96) = 7296."""
    assert recurrent_params("lstm", 10, 20) == 2560 == _numel(nn.LSTM(10, 20))
    gru = recurrent_params("gru", 8, 16, 2, bidirectional=True)
    assert gru == 2 * (3 * 16 * 24 + 96) + 2 * (3 * 16 * 48 + 96) == 7296
    assert _numel(nn.GRU(8, 16, 2, bidirectional=True)) == gru
    assert recurrent_params("rnn", 1, 1, bias=False) == 2


def test_symbolic_counts_equal_integer_counts():
    """The closed forms in symbols (input I, hidden H, layers n, length L) give the integer
    counts at every substitution tried."""
    i, h, n, length = sympy.symbols("I H n L", integer=True, positive=True)
    for kind in GATES:
        for bias in (False, True):
            for bidi in (False, True):
                p = recurrent_params(kind, i, h, n, bias, bidi)
                c = recurrent_cost(kind, length, i, h, n, bias, bidi)
                for vals in ((1, 1, 1, 1), (3, 5, 2, 4), (7, 2, 3, 9)):
                    sub = dict(zip((i, h, n, length), vals, strict=True))
                    assert p.subs(sub) == recurrent_params(kind, *vals[:3], bias, bidi)
                    exact = recurrent_cost(kind, vals[3], *vals[:3], bias, bidi)
                    for cat, value in c.items():
                        assert sympy.sympify(value).subs(sub) == exact[cat], (kind, cat)
    s = Spec("symbolic")
    s.lstm(s.input(length, i), h, n)
    assert sympy.expand(s.params() - (4 * h * (i + (n - 1) * h + n * h) + 8 * n * h)) == 0


# --------------------------------------------------------------------------- operations


class _SequenceFirst(nn.Module):
    """A sequence-first layer behind a batch-first interface (count_module divides by the
    example's first axis, the batch)."""

    def __init__(self, layer: nn.RNNBase) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.transpose(0, 1))[0].transpose(0, 1)


@settings(max_examples=30, deadline=None)
@given(kind=KINDS, cfg=config, length=st.integers(1, 5), batch=st.integers(1, 3))
def test_recurrent_macs_equal_a_count_from_the_weight_shapes(kind, cfg, length, batch):
    """MACs per sequence = length × (elements of every weight matrix), bias additions =
    length × (elements of every bias vector): the spec, recurrent_cost and count_module (on
    a batch-first module from to_module and on a sequence-first module written by hand)
    all agree; FlopCounterMode (meta device: the layers decompose into matmuls) reports
    2 FLOPs per MAC per sequence of the batch."""
    layer = _torch_layer(kind, cfg)
    macs, adds = _macs_from_weights(layer, length), _bias_adds_from_vectors(layer, length)
    cost = recurrent_cost(kind, length, **cfg)
    assert cost["macs"] == macs and cost["bias"] == adds
    spec, _ = _seq_spec(kind, length, cfg)
    assert spec.breakdown()["macs"] == macs and spec.breakdown()["bias"] == adds
    assert spec.count() == macs
    example = torch.zeros(batch, length, cfg["input_size"], device="meta")
    with torch.device("meta"):
        module = to_module(spec)
    counted = count_module(module, example, Convention(bias=True))
    assert counted["breakdown"] == spec.breakdown()
    assert counted["count"] == macs + adds
    counted = count_module(_SequenceFirst(_torch_layer(kind, cfg, batch_first=False)), example)
    assert counted["breakdown"] == spec.breakdown()
    assert flop_counter_flops(module, example) == 2 * batch * macs


class _Ops(TorchDispatchMode):
    """Elements produced by every aten op dispatched inside the mode."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.elements[func.overloadpacket.__name__.rstrip("_")] += out.numel()
        return out


#: Gates whose input and hidden parts torch joins by an addition that the MAC count absorbs
#: (a concatenated product [W_ih W_hh][x; h] would accumulate them): all of them, except the
#: GRU's candidate, whose hidden part the reset gate multiplies first.
JOINED = {"rnn": 1, "lstm": 4, "gru": 2}


@settings(max_examples=20, deadline=None)
@given(kind=KINDS, cfg=config, length=st.integers(1, 4), batch=st.integers(1, 3))
def test_gate_nonlinearities_and_products_equal_what_torch_dispatches(kind, cfg, length, batch):
    """Run the float64 layer on CPU (no fused kernel) and count the elements torch's own
    ops produce: sigmoid + tanh (+ relu) outputs = the ``activation`` count; add, sub and mul
    outputs = the ``elementwise`` count plus the joins of the gates' input and hidden parts
    (counted inside the MACs). FlopCounterMode on the same run: 2 FLOPs per MAC.

    Without biases: torch adds a bias inside ``addmm`` on some shapes and as a separate
    ``add`` on others, so dispatched additions cannot be told from bias additions (those
    are checked against the bias vectors' sizes above)."""
    cfg = {**cfg, "bias": False}
    layer = _torch_layer(kind, cfg, device="cpu").double()
    x = torch.randn(batch, length, cfg["input_size"], dtype=torch.float64)
    with torch.no_grad(), _Ops() as ops:
        layer(x)
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        layer(x)
    cost = recurrent_cost(kind, length, **cfg)
    e = ops.elements
    assert e["sigmoid"] + e["tanh"] + e["relu"] == batch * cost["activation"]
    d = 2 if cfg["bidirectional"] else 1
    steps = batch * length * d * cfg["num_layers"] * cfg["hidden_size"]
    assert e["add"] + e["sub"] + e["mul"] == batch * cost["elementwise"] + JOINED[kind] * steps
    assert flops.get_total_flops() == 2 * batch * cost["macs"]


def test_rnn_relu_counts_like_tanh():
    """The nonlinearity changes no count; relu runs as relu in torch."""
    s = Spec("relu")
    s.rnn(s.input(5, 3), 4, nonlinearity="relu", name="r")
    t = Spec("tanh")
    t.rnn(t.input(5, 3), 4, name="r")
    assert s.breakdown() == t.breakdown() and s.params() == t.params()
    module = to_module(s).double()
    with torch.no_grad(), _Ops() as ops:
        module(torch.randn(2, 5, 3, dtype=torch.float64))
    assert ops.elements["relu"] == 2 * s.breakdown()["activation"] and not ops.elements["tanh"]


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
@pytest.mark.parametrize("kind", sorted(GATES))
def test_flop_counter_mode_on_cpu_lstm_finding(kind):
    """Finding: a float32 nn.LSTM on CPU runs as one fused oneDNN op
    (``aten.mkldnn_rnn_layer``) which FlopCounterMode does not count: 0 FLOPs. RNN and GRU
    (and LSTM with oneDNN off, in float64, or on meta) decompose into matmuls: exactly 2 FLOPs
    per MAC. count_module does not depend on either."""
    cfg = dict(input_size=5, hidden_size=7, num_layers=2, bias=True, bidirectional=True)
    layer = _torch_layer(kind, cfg, device="cpu")
    x = torch.randn(2, 6, 5)
    exact = 2 * 2 * recurrent_cost(kind, 6, **cfg)["macs"]
    got = flop_counter_flops(layer, x)
    if kind == "lstm" and torch.backends.mkldnn.is_available():
        assert got in (0, exact)  # 0 where the oneDNN kernel is taken (here: torch 2.13)
    else:
        assert got == exact
    with torch.backends.mkldnn.flags(enabled=False):
        assert flop_counter_flops(layer, x) == exact
    assert flop_counter_flops(layer.double(), x.double()) == exact
    assert count_module(layer, x.double())["count"] == exact // 4


# --------------------------------------------------------------------------- modules


@pytest.mark.parametrize("kind", sorted(GATES))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_to_module_layout_is_batch_first(kind, bidirectional):
    """The module from a spec reads ``(N, L, d)`` and returns every step of the last layer,
    both directions concatenated: the same numbers as the torch layer run sequence-first
    with the same weights (N != L, so a swapped layout would be caught)."""
    cfg = dict(input_size=3, hidden_size=4, num_layers=2, bias=True, bidirectional=bidirectional)
    spec, node = _seq_spec(kind, 5, cfg)
    torch.manual_seed(1)
    module = to_module(spec).double()
    (layer,) = [m for m in module.modules() if isinstance(m, nn.RNNBase)]
    assert layer.batch_first
    reference = _torch_layer(kind, cfg, batch_first=False, device="cpu").double()
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        out = module(x)
        expected = reference(x.transpose(0, 1))[0].transpose(0, 1)
    assert out.shape == (2, *spec.shape(node))
    assert torch.allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.claim("d000.seq.embedding-lookup")
@settings(max_examples=25, deadline=None)
@given(vocab=st.integers(1, 50), d=st.integers(1, 16), length=st.integers(1, 8), data=st.data())
def test_embedding_is_a_row_lookup_with_v_times_d_parameters(vocab, d, length, data):
    """Spec.embedding: V·d parameters (nn.Embedding's numel), output (L, d), no cost in any
    category (count_module and FlopCounterMode agree: a gather); the module maps token w
    to row E[w, :], which is the one-hot product e_w^T E."""
    s = Spec("emb")
    node = s.embedding(s.input(length), vocab, d, name="emb")
    assert s.params() == vocab * d == _numel(nn.Embedding(vocab, d, device="meta"))
    assert s.shape(node) == (length, d)
    assert all(v == 0 for v in s.breakdown().values())
    module = to_module(s).double()
    ids = torch.tensor(
        [data.draw(st.lists(st.integers(0, vocab - 1), min_size=length, max_size=length))]
    )
    counted = count_module(module, ids, Convention(bias=True, activation=True, elementwise=True))
    assert counted["params"] == vocab * d and counted["count"] == 0
    assert flop_counter_flops(module, ids) == 0
    (table,) = module.parameters()
    with torch.no_grad():
        table.normal_()
        one_hot = nn.functional.one_hot(ids[0], vocab).double()
        assert torch.equal(module(ids)[0], table[ids[0]])
        assert torch.allclose(module(ids)[0], one_hot @ table, rtol=1e-12, atol=1e-12)


class _LanguageModel(nn.Module):
    """Embedding → LSTM (sequence first) → linear to the vocabulary, written by hand."""

    def __init__(self, vocab: int, d: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.lstm = nn.LSTM(d, hidden, layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.emb(ids).transpose(0, 1))
        return self.head(out.transpose(0, 1))


@settings(max_examples=15, deadline=None)
@given(
    vocab=st.integers(2, 40),
    d=st.integers(1, 12),
    hidden=st.integers(1, 12),
    layers=st.integers(1, 3),
    length=st.integers(1, 6),
)
def test_language_model_counted_end_to_end(vocab, d, hidden, layers, length):
    """embedding → LSTM → linear: the spec, count_module on the module built from it and
    count_module on the same network written by hand agree in every category, and equal the
    closed form V d + [4H(d + H) + 8H] + (n-1)[4H·2H + 8H] + (H V + V) parameters and
    L(4H(d + H) + (n-1)·4H·2H + H V) MACs."""
    s = Spec("lm")
    x = s.embedding(s.input(length), vocab, d)
    x = s.lstm(x, hidden, layers)
    s.linear(x, vocab)
    h = hidden
    lstm_params = 4 * h * (d + h) + 8 * h + (layers - 1) * (4 * h * 2 * h + 8 * h)
    assert s.params() == vocab * d + lstm_params + h * vocab + vocab
    macs = length * (4 * h * (d + h) + (layers - 1) * 4 * h * 2 * h + h * vocab)
    assert s.count() == macs
    everything = Convention(bias=True, activation=True, elementwise=True)
    ids = torch.zeros(3, length, dtype=torch.long, device="meta")
    with torch.device("meta"):  # counts need shapes only (a float32 CPU LSTM is slow here)
        modules = (to_module(s), _LanguageModel(vocab, d, hidden, layers))
    for module in modules:
        counted = count_module(module, ids, everything)
        assert counted["params"] == counted["params_by_formula"] == s.params()
        assert counted["breakdown"] == s.breakdown()
        assert counted["count"] == s.count(everything)
    assert flop_counter_flops(modules[0], ids) == 3 * 2 * macs
    assert flop_counter_flops(modules[1], ids) == 3 * 2 * macs


def test_unbatched_projected_and_packed_inputs_are_refused():
    """An unbatched (L, d) input (no batch axis to count per sample), an LSTM with a
    projection and a PackedSequence input are refused naming what is counted, not counted
    wrongly; a recurrent layer in a spec needs an (L, d) node."""
    with pytest.raises(ValueError, match=r"^example: count_module counts GRU .* unbatched"):
        count_module(nn.GRU(3, 4), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="proj_size"):
        count_module(nn.LSTM(3, 4, proj_size=2), torch.zeros(1, 5, 3))
    packed = nn.utils.rnn.pack_padded_sequence(torch.zeros(5, 2, 3), [5, 3])

    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(3, 4)

        def forward(self, x):
            return self.rnn(packed)[0]

    with pytest.raises(ValueError, match=r"^example: count_module counts RNN .*PackedSequence"):
        count_module(Packed(), torch.zeros(1, 1))
    s = Spec("bad")
    img = s.input(3, 4, 4)
    with pytest.raises(SpecError, match=r"x must be a node of shape \(L, d\)"):
        s.lstm(img, 4)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        s.rnn(s.input(4, 3), 4, nonlinearity="gelu")
