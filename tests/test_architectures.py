"""Architecture-level counting: reference networks, spec = torch module = FlopCounterMode,
conventions, symbolic results, DenseNet and attention claims, bad specs.

Claims: theory/claims/architectures.yaml. Helpers: theory.arch, theory.architectures.
torch side: numerics.torch_arch.
"""

from __future__ import annotations

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.torch_arch import count_module, flop_counter_flops, to_module
from theory import architectures as A
from theory.arch import CATEGORIES, Convention, Spec, SpecError

MODULE_CATEGORIES = ("macs", "attention", "bias", "norm", "activation", "pool")


def _example(spec: Spec, batch: int = 2, device: str = "meta") -> torch.Tensor:
    shape = spec.nodes[0].shape
    if len(shape) == 1:  # token ids
        return torch.zeros(batch, *shape, dtype=torch.long, device=device)
    return torch.zeros(batch, *shape, device=device)


def _check_spec_against_torch(spec: Spec) -> None:
    """Parameters, per-layer counts and FlopCounterMode agree between spec and module."""
    with torch.device("meta"):
        module = to_module(spec)
    x = _example(spec)
    numel = sum(p.numel() for p in module.parameters())
    assert numel == spec.params(), (numel, spec.params())
    counted = count_module(module, x)
    assert counted["params_by_formula"] == numel and not counted["unused_layers"]
    breakdown = spec.breakdown()
    for category in MODULE_CATEGORIES:  # hooks cannot see functional adds: not elementwise
        assert counted["breakdown"][category] == breakdown[category], category
    assert counted["count"] == spec.count()
    # FlopCounterMode counts 2 FLOPs per conv/linear/matmul MAC, per batch
    assert flop_counter_flops(module, x) == x.shape[0] * spec.count(Convention(unit="FLOP"))


# --------------------------------------------------------------------------- reference figures


@pytest.mark.parametrize("name", sorted(A.REFERENCE))
def test_reference_network_reproduces_published_figures(name):
    build, params, gmacs, _source = A.REFERENCE[name]
    spec = build()
    assert spec.params() == params
    if gmacs is not None:  # torchvision prints 3 decimals (VGG-16: 2)
        decimals = len(str(gmacs).split(".")[1])
        assert round(spec.count() / 1e9, decimals) == gmacs, spec.count()
    _check_spec_against_torch(spec)


def test_reference_network_runs_on_real_tensors():
    spec = A.resnet((1, 1), width=8, resolution=32, classes=5)
    module = to_module(spec).eval()
    out = module(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 5) and torch.isfinite(out).all()


# --------------------------------------------------------------------------- random families

small = settings(max_examples=15, deadline=None)


@small
@given(
    blocks=st.lists(st.integers(1, 2), min_size=1, max_size=4),
    bottleneck=st.booleans(),
    width=st.integers(2, 12),
    resolution=st.integers(8, 48),
    classes=st.integers(1, 12),
)
def test_random_resnets(blocks, bottleneck, width, resolution, classes):
    _check_spec_against_torch(A.resnet(blocks, bottleneck, width, resolution, classes))


@small
@given(
    config=st.lists(st.one_of(st.just("M"), st.integers(1, 16)), min_size=1, max_size=6),
    resolution=st.integers(16, 40),
    hidden=st.integers(1, 32),
    pool=st.integers(1, 3),
)
def test_random_vggs(config, resolution, hidden, pool):
    if config.count("M") > 3:
        return
    _check_spec_against_torch(A.vgg(config, resolution, 7, hidden, pool))


@small
@given(
    settings_=st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 24), st.integers(1, 2), st.integers(1, 2)),
        min_size=1,
        max_size=3,
    ),
    resolution=st.integers(8, 40),
    stem=st.integers(1, 16),
    last=st.integers(1, 32),
)
def test_random_mobilenets(settings_, resolution, stem, last):
    spec = A.mobilenet_v2(settings_, resolution, 10, stem, last)
    _check_spec_against_torch(spec)
    # torchvision's InvertedResidual: use_res_connect = stride == 1 and inp == oup
    residual, c = 0, stem
    for _t, out, n, first_stride in settings_:
        for i in range(n):
            residual += (first_stride if i == 0 else 1) == 1 and c == out
            c = out
    assert sum(node.op == "add" for node in spec.nodes) == residual


@pytest.mark.claim("d002.arch.densenet-growth")
@small
@given(
    blocks=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    growth=st.integers(1, 8),
    init=st.integers(2, 16),
    resolution=st.integers(32, 64),
)
def test_random_densenets_and_growth(blocks, growth, init, resolution):
    spec = A.densenet(blocks, growth, init, 2, resolution, 10)
    _check_spec_against_torch(spec)
    k0 = init
    for b, layers in enumerate(blocks):
        convs = [n for n in spec.nodes if n.name.startswith(f"denseblock{b + 1}.layer")
                 and n.name.endswith(".conv1")]  # fmt: skip
        assert [n.attrs["in_channels"] for n in convs] == [
            k0 + (layer - 1) * growth for layer in range(1, layers + 1)
        ]
        out = next(n for n in spec.nodes if n.name == f"denseblock{b + 1}.out")
        assert out.shape[0] == k0 + layers * growth
        k0 = (k0 + layers * growth) // 2


@small
@given(
    settings_=st.lists(
        st.tuples(
            st.integers(1, 4),
            st.sampled_from([3, 5]),
            st.integers(1, 2),
            st.integers(1, 12),
            st.integers(1, 12),
            st.integers(1, 2),
        ),
        min_size=1,
        max_size=3,
    ),
    resolution=st.integers(16, 40),
)
def test_random_efficientnets(settings_, resolution):
    chained = []
    for i, (e, k, s, _cin, cout, n) in enumerate(settings_):  # inputs chain to outputs
        cin = settings_[0][3] if i == 0 else chained[-1][4]
        chained.append((e, k, s, cin, cout, n))
    spec = A.efficientnet_b0(chained, resolution, 10, 16)
    _check_spec_against_torch(spec)
    # torchvision's MBConv: use_res_connect = stride == 1 and input_channels == out_channels
    residual = sum(
        (s if i == 0 else 1) == 1 and (cin if i == 0 else cout) == cout
        for _e, _k, s, cin, cout, n in chained
        for i in range(n)
    )
    assert sum(node.op == "add" for node in spec.nodes) == residual


@small
@given(
    grid=st.integers(1, 4),
    patch=st.sampled_from([4, 8]),
    layers=st.integers(1, 2),
    heads=st.integers(1, 4),
    head_dim=st.integers(1, 8),
    mlp=st.integers(1, 32),
)
def test_random_vits(grid, patch, layers, heads, head_dim, mlp):
    spec = A.vit(grid * patch, patch, layers, heads * head_dim, heads, mlp, 10)
    _check_spec_against_torch(spec)


@small
@given(
    sequence=st.integers(1, 24),
    layers=st.integers(1, 2),
    heads=st.integers(1, 4),
    head_dim=st.integers(1, 8),
    vocab=st.integers(2, 50),
)
def test_random_berts(sequence, layers, heads, head_dim, vocab):
    spec = A.bert(sequence, layers, heads * head_dim, heads, 16, vocab, 32, 2)
    _check_spec_against_torch(spec)


# --------------------------------------------------------------------------- conventions


def test_conventions_switch_categories_and_units():
    spec = A.reference_spec("ResNet-18")
    b = spec.breakdown()
    assert spec.count() == b["macs"] + b["attention"]
    everything = Convention(bias=True, norm=True, activation=True, pooling=True, elementwise=True)
    assert spec.count(everything) == sum(b[c] for c in CATEGORIES)
    flops = Convention(unit="FLOP")
    assert spec.count(flops) == 2 * spec.count()
    # a training step: 3x, except that the stem convolution reads the data (no input gradient)
    stem = spec.nodes[1]
    assert stem.op == "conv" and spec.nodes[stem.inputs[0]].op == "input"
    assert spec.count(Convention(backward=True)) == 3 * spec.count() - stem.cost["macs"]
    assert spec.count(Convention(unit="FLOP", norm=True)) == 2 * (b["macs"] + b["norm"])
    vit = A.reference_spec("ViT-B/16")
    assert vit.count(Convention(attention=False)) == vit.breakdown()["macs"]
    with pytest.raises(ValueError, match="unit"):
        Convention(unit="GFLOP")
    with pytest.raises(TypeError, match="bias"):
        Convention(bias=1)
    with pytest.raises(TypeError, match="convention"):
        spec.count("MAC")


def test_module_counting_under_every_convention():
    spec = A.vit(32, 8, 1, 16, 4, 32, 10)
    with torch.device("meta"):
        module = to_module(spec)
    for conv in (Convention(bias=True, norm=True, activation=True, pooling=True),
                 Convention(unit="FLOP", backward=True)):  # fmt: skip
        assert count_module(module, _example(spec), conv)["count"] == spec.count(conv)


# --------------------------------------------------------------------------- symbolic results


@pytest.mark.claim("d002.arch.densenet-params-quadratic")
def test_densenet_block_polynomial_matches_layer_by_layer_count():
    d = A.derive_densenet_quadratic()
    assert d.agrees(), d.to_markdown()
    big_l, k, k0 = sympy.symbols("L k k0")
    poly = A.densenet_block_params(big_l, k, k0, 4)
    for layers in (1, 2, 3, 5, 8):
        for growth, init in ((32, 64), (12, 24), (1, 3)):
            spec = A.densenet((layers,), growth, init, 4, 64, 10)
            block = sum(n.params for n in spec.nodes if n.name.startswith("denseblock1.layer"))
            assert poly.subs({big_l: layers, k: growth, k0: init}) == block
    assert sympy.Poly(poly, big_l).LC() == 2 * k**2 + k
    one_block = sympy.expand(poly.subs({k: 32, k0: 64}))
    assert one_block == 2080 * big_l**2 + 43360 * big_l
    # the constant-width plain CNN is linear: L identical 3x3 conv + BN layers
    for depth in (1, 2, 3):
        s = Spec("plain")
        x = s.input(16, 8, 8)
        for i in range(depth):
            x = s.batchnorm(s.conv(x, 16, 3, padding=1, bias=False, name=f"c{i}"))
        assert s.params() == depth * (9 * 16 * 16 + 2 * 16)


def test_resnet50_params_in_width_multiplier():
    alpha = sympy.Symbol("alpha", positive=True)
    poly = A.resnet50_params_in_width(alpha)
    assert poly == 23445504 * alpha**2 + 2110528 * alpha + 1000
    for a in (sympy.Rational(1, 2), 1, sympy.Rational(3, 2), 2):
        width = int(64 * a)
        assert poly.subs(alpha, a) == A.resnet((3, 4, 6, 3), True, width).params()


@pytest.mark.claim("d002.attn.time")
def test_vit_cost_polynomial_in_tokens_and_attention_share():
    n = sympy.Symbol("n", positive=True, integer=True)
    poly = A.vit_macs_in_tokens(n)
    assert poly == 18432 * n**2 + 85524480 * n + 178176
    assert sympy.Poly(poly, n).LC() == 2 * 12 * 768  # 2 n^2 d per layer
    for g in (1, 2, 7, 14):
        assert poly.subs(n, g * g + 1) == A.vit(16 * g).count()
    crossover = sympy.Rational(85524480, 18432)
    assert 4639 < crossover < 4641
    vit = A.reference_spec("ViT-B/16")
    share = sympy.Rational(vit.breakdown()["attention"], vit.count())
    assert 0.04 < share < 0.041


@pytest.mark.claim("d002.attn.time", "d002.attn.multihead-params")
@given(length=st.integers(1, 12), heads=st.integers(1, 4), head_dim=st.integers(1, 6))
@settings(deadline=None)
def test_attention_costs_against_torch(length, heads, head_dim):
    d = heads * head_dim
    s = Spec("attn")
    s.attention(s.input(length, d), heads)
    node = s.nodes[-1]
    assert node.cost["attention"] == 2 * length**2 * d  # n^2 (d_k + d_v) per head, summed
    assert node.cost["macs"] == 4 * length * d * d
    _check_spec_against_torch(s)
    single = torch.nn.MultiheadAttention(d, 1)
    multi = torch.nn.MultiheadAttention(d, heads)
    numel = [sum(p.numel() for p in m.parameters()) for m in (single, multi)]
    assert numel[0] == numel[1] == node.params == 4 * d * d + 4 * d
    # each cost from torch's own tensors: every token goes through the Q, K, V and output
    # projections (one MAC per weight, one addition per bias entry); softmax over the
    # attention weights, h L^2 of them
    weights = multi.in_proj_weight.numel() + multi.out_proj.weight.numel()
    biases = multi.in_proj_bias.numel() + multi.out_proj.bias.numel()
    x = torch.randn(1, length, d)
    _, attn = torch.nn.MultiheadAttention(d, heads, batch_first=True)(
        x, x, x, need_weights=True, average_attn_weights=False
    )
    assert node.cost["macs"] == length * weights
    assert node.cost["bias"] == length * biases
    assert node.cost["activation"] == attn.numel()


@pytest.mark.claim("d002.attn.space")
@given(length=st.integers(1, 20), heads=st.integers(1, 4), head_dim=st.integers(1, 8))
def test_attention_weights_have_h_n_squared_entries(length, heads, head_dim):
    d = heads * head_dim
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True)
    x = torch.randn(1, length, d)
    _, weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
    assert weights.shape == (1, heads, length, length)
    assert weights[0].numel() == heads * length**2
    if (length, heads, head_dim) == (20, 4, 8):
        assert heads * length**2 != length**2 * head_dim  # the document's n^2 d_k


@pytest.mark.claim("d002.attn.space")
def test_attention_space_counterexample():
    n, h, dk = 197, 12, 64  # ViT-B/16's attention, on the meta device (no memory)
    with torch.device("meta"):
        mha = torch.nn.MultiheadAttention(h * dk, h, batch_first=True)
        x = torch.empty(1, n, h * dk)
        _, weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
    assert weights[0].numel() == h * n * n == 465_708
    assert weights[0].numel() != n * n * dk == 2_483_776


# --------------------------------------------------------------------------- bad specs


def test_bad_specs_name_the_layer_and_the_mismatch():
    s = Spec("bad")
    x = s.input(3, 8, 8)
    a = s.conv(x, 4, 3, padding=1, name="left")
    b = s.conv(x, 5, 3, padding=1, name="right")
    with pytest.raises(SpecError, match=r"layer 'join' \(add\): shapes differ, 'left' \(4, 8, 8\)"):
        s.add(a, b, name="join")
    c = s.conv(x, 4, 3, name="small")
    with pytest.raises(SpecError, match=r"layer 'cat' \(concat\): spatial sizes differ"):
        s.concat([a, c], name="cat")
    with pytest.raises(SpecError, match=r"layer 'huge' \(conv, input x = 'input' \(3, 8, 8\)\)"):
        s.conv(x, 4, 9, name="huge")
    with pytest.raises(SpecError, match=r"layer 'pool'"):
        s.maxpool(s.conv(x, 2, 8, name="tiny"), 3, name="pool")
    with pytest.raises(SpecError, match="heads=5 must divide d=8"):
        s.attention(s.input(4, 8), 5, name="attn")
    with pytest.raises(SpecError, match=r"layer 'fc' \(linear\): x must be a node of shape"):
        s.linear(x, 3, name="fc")
    with pytest.raises(SpecError, match=r"layer 'se' \(scale\): gate"):
        s.scale(a, s.adaptive_avgpool(b), name="se")
    with pytest.raises(ValueError, match="b must be a node index"):
        s.add(a, 99)
    with pytest.raises(TypeError, match="b must be a node index"):
        s.add(a, "1")
    with pytest.raises(ValueError, match="kind"):
        s.act(a, "swish")
    with pytest.raises(ValueError, match="groups"):
        s.conv(x, 4, 3, groups=2, name="grouped")
    tokens = s.input(5, 8, name="tokens")  # a position table needs a row per token
    with pytest.raises(SpecError, match="rows=4 must be at least the number of tokens 5"):
        s.table_add(tokens, 4, name="pos")
    assert s.nodes[s.table_add(tokens, 5, name="pos")].params == 5 * 8
    assert s.nodes[s.table_add(tokens, 1, "zero", name="type")].params == 8
    for bad in ("False", 1, None):  # flags are real bools
        with pytest.raises(TypeError, match="bias must be True or False"):
            s.conv(x, 4, 3, bias=bad)
        with pytest.raises(TypeError, match="bottleneck must be True or False"):
            A.resnet((1,), bottleneck=bad)
        with pytest.raises(TypeError, match="backward must be True or False"):
            Convention(backward=bad)
    with pytest.raises(ValueError, match=r"blocks .* must be at most 1000"):
        A.resnet((10**30,))
    with pytest.raises(ValueError, match=r"layers .* must be at most 1000"):
        A.vit(layers=10**30)
    with pytest.raises(ValueError, match=r"layers .* must be at most 1000"):
        A.bert(layers=10**30)
    with pytest.raises(ValueError, match="heads must divide d"):
        A.bert(d=768, heads=7)
    with pytest.raises(ValueError, match="vocab must be"):
        s.embedding(s.input(3, name="ids"), -1, 16)
    with pytest.raises(ValueError, match="layers must be"):
        A.densenet_block_params(-1, 32, 64)
    sym = A.resnet((1,), width=sympy.Symbol("w", positive=True, integer=True))
    with pytest.raises(ValueError, match="symbolic; substitute integers"):
        to_module(sym)
    with pytest.raises(ValueError, match="no counting rule"):
        count_module(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1)), torch.zeros(1, 1, 4))


# --------------------------------------------------------------------------- to_module numerics


def _layer(module, spec: Spec, name: str) -> torch.nn.Module:
    index = next(i for i, n in enumerate(spec.nodes) if n.name == name)
    return module.layers[module.keys[index]]


def test_to_module_computes_what_the_spec_says():
    """Every op of a spec, replayed by SpecNet, equals the same network written out with
    torch.nn.functional on the module's own (random, float64) parameters: activation kinds,
    pooling geometry, gating, concatenation order, token layout, class token first,
    position rows added by index, the selected token."""
    import torch.nn.functional as F

    s = Spec("all-ops")
    x = s.input(2, 6, 6)
    c = s.conv(x, 4, 3, padding=1, bias=True, name="c")
    r = s.act(s.batchnorm(c, name="bn"), "relu6", name="r")
    p = s.maxpool(r, 2, name="mp")
    a = s.avgpool(r, 3, 1, 1, name="ap")
    gate = s.act(s.adaptive_avgpool(p, name="g"), "sigmoid", name="sg")
    y = s.concat([s.scale(p, gate, name="se"), p], name="cat")
    t = s.table_add(s.cls_token(s.to_tokens(y, name="tt"), name="cls"), 12, name="pos")
    t = s.add(t, s.attention(s.layernorm(t, 1e-6, name="ln"), 2, name="at"), name="res")
    s.linear(s.select(t, 3, name="sel"), 5, name="fc")
    torch.manual_seed(0)
    m = to_module(s).eval().double()
    with torch.no_grad():
        for prm in m.parameters():
            prm.normal_()
        bn = _layer(m, s, "bn")
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        inp = 4 * torch.randn(3, 2, 6, 6, dtype=torch.float64)
        conv = _layer(m, s, "c")
        h = F.conv2d(inp, conv.weight, conv.bias, padding=1)
        h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps)
        h = h.clamp(0, 6)
        pooled = F.max_pool2d(h, 2)
        gated = pooled * torch.sigmoid(pooled.mean((2, 3), keepdim=True))
        tokens = torch.cat([gated, pooled], 1).flatten(2).transpose(1, 2)  # (N, 9, 8)
        cls = _layer(m, s, "cls").token.expand(3, -1, -1)
        tokens = torch.cat([cls, tokens], 1) + _layer(m, s, "pos").table[:10]
        ln = _layer(m, s, "ln")
        normed = F.layer_norm(tokens, (8,), ln.weight, ln.bias, 1e-6)
        mha = _layer(m, s, "at").mha
        tokens = tokens + mha(normed, normed, normed, need_weights=False)[0]
        fc = _layer(m, s, "fc")
        expected = F.linear(tokens[:, 3], fc.weight, fc.bias)
        assert torch.allclose(m(inp), expected, rtol=1e-12, atol=1e-12)
        assert h.max() == 6 and h.min() == 0  # relu6 clipped on both sides here
        # the average pool (a side branch) with torch's geometry
        assert s.shape(a) == (4, 6, 6) == F.avg_pool2d(h, 3, 1, 1).shape[1:]

    ids_spec = Spec("tokens")
    e = ids_spec.embedding(ids_spec.input(4), 10, 6, name="emb")
    e = ids_spec.table_add(e, 3, "zero", name="type")
    ids_spec.select(e, 2, name="sel")
    m = to_module(ids_spec).double()
    with torch.no_grad():
        for prm in m.parameters():
            prm.normal_()
        ids = torch.tensor([[1, 2, 3, 4], [9, 0, 9, 5]])
        emb = _layer(m, ids_spec, "emb").weight
        expected = emb[ids[:, 2]] + _layer(m, ids_spec, "type").table[0]
        assert torch.allclose(m(ids), expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- review (issue 10 §5)


@pytest.mark.claim("d002.attn.time")
@given(heads=st.integers(1, 16), head_dim=st.integers(1, 128))
def test_attention_cost_is_quadratic_in_tokens_asymptotically(heads, head_dim):
    """The attention products are n^2 (d_k + d_v) per head exactly; the whole layer's cost is
    a degree-2 polynomial in n, so cost(2n)/cost(n) -> 4 (the O statement)."""
    n = sympy.Symbol("n", positive=True, integer=True)
    d = heads * head_dim
    s = Spec("attn")
    s.attention(s.input(n, d), heads)
    cost = s.nodes[-1].cost
    assert sympy.expand(cost["attention"] - heads * n**2 * (head_dim + head_dim)) == 0
    total = sympy.expand(sum(cost[k] for k in ("macs", "attention")))
    assert sympy.Poly(total, n).degree() == 2
    assert sympy.limit(total.subs(n, 2 * n) / total, n, sympy.oo) == 4
    vit = A.vit_macs_in_tokens(n)
    assert sympy.limit(vit.subs(n, 2 * n) / vit, n, sympy.oo) == 4


@pytest.mark.claim("d002.attn.space")
@given(
    length=st.integers(1, 12),
    heads=st.integers(1, 4),
    dims=st.lists(st.integers(1, 16), min_size=2, max_size=3, unique=True),
)
def test_attention_weights_do_not_grow_with_head_dim_but_are_bounded_by_it(length, heads, dims):
    """Upper-bound reading: n^2 <= n^2 d_k per head (holds). Growth-rate reading: at fixed n
    and h the number of weights is the same for every d_k (torch, meta device) — refuted."""
    counts = []
    for head_dim in dims:
        with torch.device("meta"):
            mha = torch.nn.MultiheadAttention(heads * head_dim, heads, batch_first=True)
            x = torch.empty(1, length, heads * head_dim)
            _, weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
        per_head = weights[0, 0].numel()
        assert per_head <= length**2 * head_dim
        counts.append(weights[0].numel())
    assert len(set(counts)) == 1 == len({heads * length**2, *counts})


@pytest.mark.claim("d000.attn.multihead-capacity")
@given(d_over=st.integers(1, 12), data=st.data())
@settings(deadline=None)
def test_more_heads_do_not_add_parameters(d_over, data):
    """torch's MultiheadAttention at d = h * d_k: 4d^2 + 4d for every h; the general head-width
    count 4 h d_k d + 3 h d_k + d equals it at h d_k = d and exceeds it only for h d_k > d."""
    from theory.arch import attention_params

    heads = data.draw(st.sampled_from([1, 2, 3, 4, 6, 12]), label="heads")
    d = 12 * d_over
    mha = torch.nn.MultiheadAttention(d, heads)
    assert sum(p.numel() for p in mha.parameters()) == attention_params(d) == 4 * d * d + 4 * d
    h, dk, dd = sympy.symbols("h d_k d", positive=True, integer=True)
    general = 4 * h * dk * dd + 3 * h * dk + dd  # Q, K, V: d -> h d_k (+bias); out: h d_k -> d
    assert sympy.expand(general.subs(dk, dd / h) - (4 * dd**2 + 4 * dd)) == 0
    assert general.subs({h: heads, dk: d // heads, dd: d}) == 4 * d * d + 4 * d
    assert general.subs({h: heads, dk: d, dd: d}) > 4 * d * d + 4 * d or heads == 1


# --------------------------------------------------------------------------- second reading


def _own_formula_layers(d: int, d_k: int, d_h: int, heads: int, d_out: int) -> tuple:
    """000's formulas as torch modules (no biases, as written): Q = X W_Q, K = X W_K,
    V = X W_V (d -> d_k); head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V) (d_k -> d_h);
    MultiHead = Concat(head_1..head_h) W^O (h d_h -> d_out)."""
    meta = {"bias": False, "device": "meta"}
    single = [torch.nn.Linear(d, d_k, **meta) for _ in range(3)]
    per_head = [torch.nn.Linear(d_k, d_h, **meta) for _ in range(3 * heads)]
    out = torch.nn.Linear(heads * d_h, d_out, **meta)
    return single, [*single, *per_head, out]


@pytest.mark.claim("d000.attn.multihead-capacity")
@given(
    d=st.integers(1, 64),
    d_k=st.integers(1, 64),
    d_h=st.integers(1, 64),
    heads=st.integers(1, 16),
    d_out=st.integers(1, 64),
)
def test_own_formula_reading_multihead_always_has_more_parameters(d, d_k, d_h, heads, d_out):
    """The document's-own-formulas reading (holds): the multi-head layer is the single-head
    one plus 3 h d_k d_h + h d_h d_out parameters, positive for every size."""
    single, multi = _own_formula_layers(d, d_k, d_h, heads, d_out)
    n_single = sum(p.numel() for m in single for p in m.parameters())
    n_multi = sum(p.numel() for m in multi for p in m.parameters())
    assert n_single == 3 * d * d_k
    assert n_multi - n_single == 3 * heads * d_k * d_h + heads * d_h * d_out
    assert n_multi > n_single
    sd, sk, sh, sn, so = sympy.symbols("d d_k d_h h d_o", positive=True, integer=True)
    extra = 3 * sn * sk * sh + sn * sh * so
    assert extra.is_positive  # for every admissible size, not only the drawn ones
    assert extra.subs({sd: d, sk: d_k, sh: d_h, sn: heads, so: d_out}) == n_multi - n_single


@pytest.mark.claim("d000.attn.multihead-capacity")
@given(d=st.integers(1, 512), d_k=st.integers(1, 128), heads=st.integers(1, 31))
def test_fixed_head_width_reading_parameters_grow_with_heads(d, d_k, heads):
    """Fixed head width (holds): 4 h d_k d + 3 h d_k + d increases in h; at d_k = d / h
    (fixed model width, refuted reading) it is 4 d^2 + 4 d for every h."""
    h, dk, dd = sympy.symbols("h d_k d", positive=True, integer=True)
    count = 4 * h * dk * dd + 3 * h * dk + dd
    assert sympy.diff(count, h).is_positive
    values = {dk: d_k, dd: d}
    assert count.subs({**values, h: heads + 1}) > count.subs({**values, h: heads})
    assert sympy.expand(count.subs(dk, dd / h)) == 4 * dd**2 + 4 * dd


@pytest.mark.parametrize("text", [b"\x01", b"x", bytearray(b"\x01\x02"), "12"])
def test_bytes_are_never_sequences_of_sizes(text):
    """Fuzz finding 18: ``b"\\x01"`` iterates as the int 1, so ``resnet(blocks=b"\\x01")``,
    ``densenet(blocks=b"x")`` and ``vgg(config=b"x")`` were accepted as block counts."""
    from theory._args import dims

    with pytest.raises(TypeError, match=r"\bblocks\b"):
        A.resnet(blocks=text, bottleneck=False, classes=10, resolution=32, width=8)
    with pytest.raises(TypeError, match=r"\bblocks\b"):
        A.densenet(blocks=text)
    with pytest.raises(TypeError, match=r"\bconfig\b"):
        A.vgg(config=text)
    with pytest.raises(TypeError, match=r"\bkernel_size\b"):
        dims(text, "kernel_size")
    spec = Spec("t")
    x = spec.input(3, 8, 8)
    with pytest.raises(TypeError, match=r"\bxs\b"):
        spec.concat(bytes([x]) if isinstance(text, bytes) else bytearray([x]))
