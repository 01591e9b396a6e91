"""Embedding and recurrent kernels ⇄ torch: lookup and scatter-add gradient, RNN/LSTM/GRU cells
and single-layer sequences, forward and backward through time (three ways), and 000's formulas
written literally against torch with the weight mapping.

Claims: theory/claims/sequence.yaml (``d000.seq.*``). Kernels: kernels.cpu.embedding
(``embedding``, ``embedding_backward``, ``one_hot_embedding``) and kernels.cpu.recurrent
(``rnn_cell``, ``lstm_cell``, ``gru_cell``, ``gru_cell_reset_before``, their ``*_backward``,
``rnn``, ``lstm``, ``gru`` and ``rnn_backward``, ``lstm_backward``, ``gru_backward``). Helpers:
numerics.tolerances.assert_close (dtype table), numerics.gradcheck (central differences).

Weight mapping (000 § Recurrent Layer Components, ``[h, x]`` concatenated, W of shape
(H, H + D), D = input_size): torch's ``weight_hh`` block = ``W[:, :H]``, ``weight_ih`` block =
``W[:, H:]``; LSTM blocks in the order i, f, g (= 000's C~), o; GRU r, z, n with 000's W_z
negated (000's update convention h = (1 - z) h_prev + z h~ is torch's with z -> 1 - z;
sigma(-a) = 1 - sigma(a)); the RNN's b_h = bias_ih + bias_hh.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from kernels.cpu import embedding as E
from kernels.cpu import recurrent as R
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.opcount import MacCounter
from numerics.tolerances import assert_close

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float32, np.float64])
GATES = {"rnn": 1, "lstm": 4, "gru": 3, "gru_rb": 3}
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def T(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def leaf(a: np.ndarray) -> torch.Tensor:
    return T(a.copy()).requires_grad_()


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


# --------------------------------------------------------------------------- embedding


@st.composite
def embedding_case(draw):
    V = draw(st.integers(1, 6), label="V")
    d = draw(st.integers(1, 4), label="d")
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=3), label="shape"))
    pad = draw(st.one_of(st.none(), st.integers(-V, V - 1)), label="padding_idx")
    return V, d, shape, pad


def embedding_arrays(case, seed, dtype):
    V, d, shape, _ = case
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, V, size=shape)
    w = rng.standard_normal((V, d)).astype(dtype)
    g = rng.standard_normal((*shape, d)).astype(dtype)
    return idx, w, g


@pytest.mark.claim("d000.seq.embedding-lookup")
@given(case=embedding_case(), seed=seeds, dtype=dtypes)
def test_embedding_matches_torch_and_the_one_hot_product(case, seed, dtype):
    """e_w = E[w, :] = onehot(w) @ E exactly (against F.embedding and nn.Embedding), with
    input.size * V * d MACs for the product and none for the lookup."""
    V, d, shape, pad = case
    idx, w, _ = embedding_arrays(case, seed, dtype)
    with MacCounter() as lookup:
        ours = E.embedding(idx, w, padding_idx=pad)
    assert ours.dtype == dtype and ours.shape == (*shape, d)
    theirs = F.embedding(torch.from_numpy(idx), T(w), padding_idx=pad).numpy()
    np.testing.assert_array_equal(ours, theirs)
    module = torch.nn.Embedding(V, d, padding_idx=pad, dtype=torch.from_numpy(w).dtype)
    with torch.no_grad():
        module.weight.copy_(T(w))
    np.testing.assert_array_equal(ours, module(torch.from_numpy(idx)).detach().numpy())
    for k in np.ndindex(*shape):  # the document's formula, entry by entry
        np.testing.assert_array_equal(ours[k], w[idx[k], :])
    with MacCounter() as product:
        onehot = E.one_hot_embedding(idx, w)
    np.testing.assert_array_equal(onehot, ours)
    assert lookup.macs == 0 and product.macs == idx.size * V * d


@pytest.mark.claim("d000.seq.embedding-learned")
@given(case=embedding_case(), seed=seeds, dtype=dtypes)
def test_embedding_gradient_is_a_scatter_add_three_ways(case, seed, dtype):
    """grad_weight[v] = sum of the upstream rows whose index is v (repeats summed, unused rows
    exactly 0, padding row 0): hand-written = torch autograd = central differences."""
    V, d, shape, pad = case
    idx, w, g = embedding_arrays(case, seed, dtype)
    ours = E.embedding_backward(g, idx, w, padding_idx=pad)
    tw = leaf(w)
    F.embedding(torch.from_numpy(idx), tw, padding_idx=pad).backward(T(g))
    assert_close(
        ours,
        tw.grad.numpy(),
        dtype,
        reduction_length=max(idx.size, 1),
        magnitude=np.abs(g).sum() + 1,
    )
    expected = np.zeros((V, d))
    for k in np.ndindex(*shape):  # literal scatter-add
        expected[idx[k]] += g[k].astype(np.float64)
    padded = None if pad is None else pad % V
    if padded is not None:
        expected[padded] = 0
    assert_close(
        ours, expected, dtype, reduction_length=max(idx.size, 1), magnitude=np.abs(g).sum() + 1
    )
    unused = np.setdiff1d(np.arange(V), idx.reshape(-1))
    assert (ours[unused] == 0).all()  # the gradient touches only the rows that were used
    w64, g64 = w.astype(np.float64), g.astype(np.float64)
    fd = central_difference(lambda v: E.embedding(idx, v), w64, g64)
    if padded is not None:
        fd[padded] = 0  # torch's convention: the padding row is frozen, not the true derivative
    assert_grad_close(E.embedding_backward(g64, idx, w64, padding_idx=pad), fd)


@pytest.mark.claim("d000.seq.embedding-learned")
def test_embedding_gradient_sums_repeated_indices_exactly():
    """The index 2 used three times: its row gets the sum of the three upstream rows (a
    scatter that overwrote instead of adding would keep one of them)."""
    w = np.zeros((4, 2))
    idx = np.array([[2, 0, 2], [2, 3, 3]])
    g = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    grad = E.embedding_backward(g, idx, w)
    np.testing.assert_array_equal(grad, [[2, 3], [0, 0], [0 + 4 + 6, 1 + 5 + 7], [8 + 10, 9 + 11]])
    np.testing.assert_array_equal(
        E.embedding_backward(g, idx, w, padding_idx=-2), [[2, 3], [0, 0], [0, 0], [18, 20]]
    )


@pytest.mark.claim("d000.seq.embedding-reduction", "d000.seq.embedding-lookup")
@given(V=st.integers(1, 6), d=st.integers(1, 9), seed=seeds)
def test_one_hot_to_dense_reduces_dimension_only_when_d_below_v(V, d, seed):
    """The lookup maps the V-dimensional one-hot vectors to d-dimensional dense rows for any
    d (torch's nn.Embedding accepts d > V too, e.g. V = 3, d = 8): a reduction of the
    representation's dimension exactly when d < V. The V images span rank(E) <= min(V, d)
    dimensions of R^d (the one-hot vectors span all V)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((V, d))
    eye = np.eye(V)
    dense = E.embedding(np.arange(V), w)
    np.testing.assert_array_equal(E.one_hot_embedding(np.arange(V), w), eye @ w)
    np.testing.assert_array_equal(dense, w)
    assert dense.shape[1] == d and eye.shape[1] == V  # d < V is a reduction, d >= V is not
    rank = np.linalg.matrix_rank(dense)
    assert rank <= min(V, d) and np.linalg.matrix_rank(eye) == V
    assert rank == min(V, d)  # Gaussian weights: full rank with probability 1
    theirs = torch.nn.Embedding(V, d, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(T(w))
    np.testing.assert_array_equal(theirs(torch.arange(V)).detach().numpy(), dense)


# --------------------------------------------------------------------------- recurrent cases


@st.composite
def rnn_case(draw, max_len: int = 4):
    return {
        "I": draw(st.integers(1, 4), label="I"),
        "H": draw(st.integers(1, 4), label="H"),
        "N": draw(st.one_of(st.none(), st.integers(1, 3)), label="N (None: unbatched)"),
        "L": draw(st.integers(1, max_len), label="L"),
        "bias": draw(st.booleans(), label="bias"),
        "state": draw(st.booleans(), label="initial state given"),
        "nonlinearity": draw(st.sampled_from(["tanh", "relu"]), label="nonlinearity"),
    }


def make_params(rng, kind, D, H, bias, dtype=np.float64):
    G = GATES[kind]
    p = {
        "weight_ih": rng.standard_normal((G * H, D)) * 0.8,
        "weight_hh": rng.standard_normal((G * H, H)) * 0.8,
        "bias_ih": rng.standard_normal(G * H) * 0.5 if bias else None,
        "bias_hh": rng.standard_normal(G * H) * 0.5 if bias else None,
    }
    return {k: None if v is None else v.astype(dtype) for k, v in p.items()}


def torch_module(kind, D, H, params, nonlinearity="tanh", cell=True):
    bias = params["bias_ih"] is not None
    dt = torch.from_numpy(params["weight_ih"]).dtype
    if cell:
        mod = {
            "rnn": lambda: torch.nn.RNNCell(D, H, bias, nonlinearity, dtype=dt),
            "lstm": lambda: torch.nn.LSTMCell(D, H, bias, dtype=dt),
            "gru": lambda: torch.nn.GRUCell(D, H, bias, dtype=dt),
        }[kind]()
        suffix = ""
    else:
        kw = {"num_layers": 1, "bias": bias, "batch_first": False, "dtype": dt}
        mod = {
            "rnn": lambda: torch.nn.RNN(D, H, nonlinearity=nonlinearity, **kw),
            "lstm": lambda: torch.nn.LSTM(D, H, **kw),
            "gru": lambda: torch.nn.GRU(D, H, **kw),
        }[kind]()
        suffix = "_l0"
    with torch.no_grad():
        for name in PARAMS:
            if params[name] is not None:
                getattr(mod, name + suffix).copy_(T(params[name]))
    return mod, suffix


def fwd_tolerance(dtype, L, D, H):
    """Reduction length for Higham's bound over L steps: each pre-activation is a sum of
    D + H + 2 terms; an error made at one step reaches the next through 1-Lipschitz activations
    (tanh, sigmoid, relu) and one product with W_hh, so L steps count as L (D + H + 2)."""
    return L * (D + H + 2)


def magnitude(x, h, p):
    """max_row (|W_ih| |x| + |W_hh| max(1, |h|) + |b|): the absolute-value analogue of a
    pre-activation, times (1 + ||W_hh||_inf) for the propagation of earlier errors."""
    m = np.abs(x).max(initial=0) * np.abs(p["weight_ih"]).sum(axis=1).max()
    m += max(1.0, np.abs(h).max(initial=0)) * np.abs(p["weight_hh"]).sum(axis=1).max()
    for b in ("bias_ih", "bias_hh"):
        if p[b] is not None:
            m += np.abs(p[b]).max()
    return float(m) * (1 + np.abs(p["weight_hh"]).sum(axis=1).max())


# --------------------------------------------------------------------------- cells


CELL = {
    "rnn": (R.rnn_cell, R.rnn_cell_backward),
    "lstm": (R.lstm_cell, R.lstm_cell_backward),
    "gru": (R.gru_cell, R.gru_cell_backward),
    "gru_rb": (R.gru_cell_reset_before, R.gru_cell_reset_before_backward),
}


def cell_call(kind, x, h, c, p, nonlinearity):
    f = CELL[kind][0]
    if kind == "lstm":
        return f(x, h, c, **p)
    if kind == "rnn":
        return f(x, h, **p, nonlinearity=nonlinearity)
    return f(x, h, **p)


def torch_gru_reset_before(x, h, p):
    """000's candidate (reset before the product) written in torch, for autograd."""
    H = h.shape[-1]
    wih, whh = p["weight_ih"], p["weight_hh"]
    gi = x @ wih.T + (p["bias_ih"] if p["bias_ih"] is not None else 0)
    bhh = p["bias_hh"] if p["bias_hh"] is not None else torch.zeros(3 * H, dtype=x.dtype)
    r = torch.sigmoid(gi[..., :H] + h @ whh[:H].T + bhh[:H])
    z = torch.sigmoid(gi[..., H : 2 * H] + h @ whh[H : 2 * H].T + bhh[H : 2 * H])
    n = torch.tanh(gi[..., 2 * H :] + (r * h) @ whh[2 * H :].T + bhh[2 * H :])
    return (1 - z) * n + z * h


def cell_arrays(case, kind, seed, dtype):
    rng = np.random.default_rng(seed)
    D, H, N = case["I"], case["H"], case["N"]
    lead = (N,) if N is not None else ()
    x = rng.standard_normal((*lead, D)).astype(dtype)
    h = rng.standard_normal((*lead, H)).astype(dtype) * 0.8 if case["state"] else None
    c = rng.standard_normal((*lead, H)).astype(dtype) if case["state"] else None
    p = make_params(rng, kind, D, H, case["bias"], dtype)
    g = rng.standard_normal((2, *lead, H)).astype(dtype)
    return x, h, c, p, g


def torch_cell(kind, case, x, h, c, p):
    """torch's cell output(s) and the leaves (x, h, c, params) for autograd."""
    tx = leaf(x)
    th = leaf(h) if h is not None else None
    tc = leaf(c) if c is not None else None
    if kind == "gru_rb":
        tp = {k: (leaf(v) if v is not None else None) for k, v in p.items()}
        h_in = th if th is not None else torch.zeros(*x.shape[:-1], case["H"], dtype=tx.dtype)
        return (torch_gru_reset_before(tx, h_in, tp),), tx, th, tc, tp
    mod, _ = torch_module(kind, case["I"], case["H"], p, case["nonlinearity"])
    if kind == "lstm":
        state = None if th is None else (th, tc)
        out = mod(tx, state)
    else:
        out = (mod(tx, th),)
    tp = {k: getattr(mod, k) if p[k] is not None else None for k in PARAMS}
    return out, tx, th, tc, tp


@pytest.mark.claim(
    "d000.seq.rnn-cell",
    "d000.seq.lstm-gates",
    "d000.seq.lstm-state",
    "d000.seq.gru-gates",
    "d000.seq.gru-update",
)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_rb"])
@given(case=rnn_case(), seed=seeds, dtype=dtypes)
def test_cells_match_torch(kind, case, seed, dtype):
    """Forward of every cell against torch's RNNCell/LSTMCell/GRUCell (the reset-before GRU
    against the same formula written in torch), float32 and float64, batched and not."""
    x, h, c, p, _ = cell_arrays(case, kind, seed, dtype)
    ours = cell_call(kind, x, h, c, p, case["nonlinearity"])
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs, *_ = torch_cell(kind, case, x, h, c, p)
    n = fwd_tolerance(dtype, 1, case["I"], case["H"])
    mag = magnitude(x, h if h is not None else np.zeros(1), p)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == dtype and a.shape == tuple(b.shape)
        assert_close(
            a,
            b.detach().numpy(),
            dtype,
            reduction_length=n,
            magnitude=mag,
            context=f"{kind} {case} seed={seed}",
        )


@pytest.mark.claim(
    "d000.seq.rnn-cell", "d000.seq.lstm-state", "d000.seq.gru-update", "d000.seq.gru-candidate"
)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_rb"])
@given(case=rnn_case(), seed=seeds)
def test_cell_gradients_three_ways(kind, case, seed):
    """Hand-written cell backward = torch autograd = central differences, every argument."""
    x, h, c, p, g = cell_arrays(case, kind, seed, np.float64)
    nl = case["nonlinearity"]
    backward = CELL[kind][1]
    if kind == "lstm":
        grads = backward(g[0], g[1], x, h, c, **p)
    elif kind == "rnn":
        grads = backward(g[0], x, h, **p, nonlinearity=nl)
    else:
        grads = backward(g[0], x, h, **p)
    outs, tx, th, tc, tp = torch_cell(kind, case, x, h, c, p)
    sum((o * T(gg)).sum() for o, gg in zip(outs, g, strict=False)).backward()
    ctx = f"{kind} {case} seed={seed}"
    assert_close(grads["input"], tx.grad.numpy(), np.float64, context=ctx)
    if th is not None:
        assert_close(grads["hx"], th.grad.numpy(), np.float64, context=ctx)
    else:
        assert grads["hx"] is None
    if kind == "lstm":
        if tc is not None:
            assert_close(grads["cx"], tc.grad.numpy(), np.float64, context=ctx)
        else:
            assert grads["cx"] is None
    for name in PARAMS:
        if p[name] is None:
            assert grads[name] is None
        else:
            assert_close(grads[name], tp[name].grad.numpy(), np.float64, context=ctx)

    def out_of(**changed):
        args = {"x": x, "h": h, "c": c, **changed}
        pp = {k: changed.get(k, v) for k, v in p.items()}
        r = cell_call(kind, args["x"], args["h"], args["c"], pp, nl)
        return np.stack(r) if isinstance(r, tuple) else r

    up = g if kind == "lstm" else g[0]
    # ReLU's kink: a pre-activation within 1e-6 of 0 has probability ~1e-6 per entry here
    checks = {"input": ("x", x), "hx": ("h", h), "cx": ("c", c), **{k: (k, p[k]) for k in p}}
    for key, (arg, value) in checks.items():
        if value is None or key not in grads:
            continue
        fd = central_difference(lambda v, arg=arg: out_of(**{arg: v}), value, up)
        assert_grad_close(grads[key], fd, ctx + f" d{key}")


# --------------------------------------------------------------------------- 000's formulas


@pytest.mark.claim("d000.seq.rnn-cell")
@given(case=rnn_case(), seed=seeds, shift=st.floats(-3, 3))
def test_rnn_cell_is_000s_formula_with_one_bias(case, seed, shift):
    """000's h_t = tanh(W_hh h + W_xh x + b_h) written literally equals torch's RNNCell with
    W_xh = weight_ih, W_hh = weight_hh, b_h = bias_ih + bias_hh; moving any vector from one bias
    to the other changes nothing (torch's two biases enter only through their sum)."""
    case = {**case, "bias": True, "state": True}
    x, h, _, p, _ = cell_arrays(case, "rnn", seed, np.float64)
    b_h = p["bias_ih"] + p["bias_hh"]
    literal = np.tanh(h @ p["weight_hh"].T + x @ p["weight_ih"].T + b_h)
    mod, _ = torch_module("rnn", case["I"], case["H"], p)
    torch_out = mod(T(x), T(h)).detach().numpy()
    assert_close(torch_out, literal, np.float64)
    assert_close(R.rnn_cell(x, h, **p), literal, np.float64)
    delta = np.random.default_rng(seed + 1).standard_normal(case["H"]) * shift
    moved = {**p, "bias_ih": p["bias_ih"] + delta, "bias_hh": p["bias_hh"] - delta}
    mod2, _ = torch_module("rnn", case["I"], case["H"], moved)
    assert_close(mod2(T(x), T(h)).detach().numpy(), literal, np.float64)
    one = {**p, "bias_ih": b_h, "bias_hh": None}  # 000's single bias
    assert_close(R.rnn_cell(x, h, **one), literal, np.float64)


def from_000(blocks, H):
    """torch's (weight_ih, weight_hh) from 000's W_k (H, H + D) acting on [h, x], one per gate
    block in torch's order: weight_hh block = W_k[:, :H], weight_ih block = W_k[:, H:]."""
    return (np.concatenate([W[:, H:] for W in blocks]), np.concatenate([W[:, :H] for W in blocks]))


@pytest.mark.claim("d000.seq.lstm-gates", "d000.seq.lstm-state")
@given(D=st.integers(1, 4), H=st.integers(1, 4), N=st.integers(1, 3), seed=seeds)
def test_lstm_is_000s_formulas_with_the_row_mapping(D, H, N, seed):
    """000's LSTM written literally (gates on [h_{t-1}, x_t], C_t = f C + i C~, h = o tanh C)
    equals torch's LSTMCell with the mapped rows (order i, f, g, o) and b_k = bias_ih block
    (bias_hh = 0), and equals our lstm_cell."""
    rng = np.random.default_rng(seed)
    W = {k: rng.standard_normal((H, H + D)) for k in "ifCo"}
    b = {k: rng.standard_normal(H) for k in "ifCo"}
    x, h, C = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    hx = np.concatenate([h, x], axis=1)  # [h_{t-1}, x_t]
    f_t = sigmoid(hx @ W["f"].T + b["f"])
    i_t = sigmoid(hx @ W["i"].T + b["i"])
    Ct = np.tanh(hx @ W["C"].T + b["C"])
    C_t = f_t * C + i_t * Ct
    o_t = sigmoid(hx @ W["o"].T + b["o"])
    h_t = o_t * np.tanh(C_t)
    wih, whh = from_000([W[k] for k in "ifCo"], H)
    p = {
        "weight_ih": wih,
        "weight_hh": whh,
        "bias_ih": np.concatenate([b[k] for k in "ifCo"]),
        "bias_hh": np.zeros(4 * H),
    }
    mod, _ = torch_module("lstm", D, H, p)
    th, tc = mod(T(x), (T(h), T(C)))
    assert_close(th.detach().numpy(), h_t, np.float64)
    assert_close(tc.detach().numpy(), C_t, np.float64)
    oh, oc = R.lstm_cell(x, h, C, **p)
    assert_close(oh, h_t, np.float64)
    assert_close(oc, C_t, np.float64)
    # the gate order matters: swapping the i and f blocks (a plausible mapping slip) differs
    swapped = dict(p)
    swapped["weight_ih"], swapped["weight_hh"] = from_000([W[k] for k in "fiCo"], H)
    swapped["bias_ih"] = np.concatenate([b[k] for k in "fiCo"])
    assert not np.allclose(R.lstm_cell(x, h, C, **swapped)[1], C_t)


def gru_000(x, h, Wr, Wz, W):
    """000's GRU written literally: no biases, reset before the product, h = (1-z)h + z h~.
    Returns (h_t, z_t, h~_t)."""
    hx = np.concatenate([h, x], axis=-1)
    r = sigmoid(hx @ Wr.T)
    z = sigmoid(hx @ Wz.T)
    ht = np.tanh(np.concatenate([r * h, x], axis=-1) @ W.T)
    return (1 - z) * h + z * ht, z, ht


@pytest.mark.claim("d000.seq.gru-gates", "d000.seq.gru-update", "d000.seq.gru-candidate")
@given(D=st.integers(1, 4), H=st.integers(1, 4), N=st.integers(1, 3), seed=seeds)
def test_gru_000_is_reset_before_with_z_negated(D, H, N, seed):
    """000's GRU = gru_cell_reset_before with rows (W_r, -W_z, W) mapped and no biases: the
    update conventions differ by z -> 1 - z, an exact reparametrization (sigma(-a) = 1 -
    sigma(a)); unnegated, the update is wrong (h and h~ swap their weights)."""
    rng = np.random.default_rng(seed)
    Wr, Wz, W = (rng.standard_normal((H, H + D)) for _ in range(3))
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    literal, z, ht = gru_000(x, h, Wr, Wz, W)
    wih, whh = from_000([Wr, -Wz, W], H)
    assert_close(R.gru_cell_reset_before(x, h, wih, whh), literal, np.float64)
    wih2, whh2 = from_000([Wr, Wz, W], H)
    unmapped = R.gru_cell_reset_before(x, h, wih2, whh2)
    # unnegated gives z h + (1 - z) h~ instead: differs wherever z != 1/2 and h != h~
    assert_close(unmapped, z * h + (1 - z) * ht, np.float64)


@pytest.mark.claim("d000.seq.gru-update")
@given(case=rnn_case(), seed=seeds)
def test_gru_update_convention_is_a_reparametrization_of_torch(case, seed):
    """torch's GRUCell with the z rows (weights and both biases) negated equals the GRU with
    000's update convention h' = (1 - z) h + z n, computed literally from torch's gates."""
    case = {**case, "bias": True, "state": True, "N": case["N"] or 1}
    x, h, _, p, _ = cell_arrays(case, "gru", seed, np.float64)
    H = case["H"]
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    doc_update = (1 - z) * h + z * n
    neg = {k: v.copy() for k, v in p.items()}
    for k in PARAMS:
        neg[k][H : 2 * H] *= -1
    mod, _ = torch_module("gru", case["I"], H, neg)
    assert_close(mod(T(x), T(h)).detach().numpy(), doc_update, np.float64)
    assert_close(R.gru_cell(x, h, **neg), doc_update, np.float64)


# The separating case of the two GRU candidates: H = 2, D = 1, no biases, z = 1/2 (W_z = 0),
# W_hn = [[0, 1], [0, 0]], W_ir = [1, -1], W_hr = 0, W_in = 0, x = 1, h = (0, 1):
# r = (sigma(1), sigma(-1)); reset after: n_1 = tanh(r_1 (W_hn h)_1) = tanh(sigma(1));
# reset before: n_1 = tanh((W_hn (r h))_1) = tanh(r_2 h_2) = tanh(sigma(-1)).
SEP_W_IH = np.array([[1.0], [-1.0], [0.0], [0.0], [0.0], [0.0]])
SEP_W_HH = np.zeros((6, 2))
SEP_W_HH[4, 1] = 1.0
SEP_X, SEP_H = np.array([1.0]), np.array([0.0, 1.0])


@pytest.mark.claim("d000.seq.gru-candidate")
def test_gru_candidate_forms_separate_on_a_minimal_case():
    """H = 2, no biases: h'_1 = (tanh(sigma(1)) + 0)/2 = 0.3118563 (torch, reset after) vs
    (tanh(sigma(-1)) + 0)/2 = 0.1313198 (000, reset before); h'_2 equal (W_hn's row 2 is 0)."""
    after = R.gru_cell(SEP_X, SEP_H, SEP_W_IH, SEP_W_HH)
    before = R.gru_cell_reset_before(SEP_X, SEP_H, SEP_W_IH, SEP_W_HH)
    torch_after = torch.nn.GRUCell(1, 2, bias=False, dtype=torch.float64)
    with torch.no_grad():
        torch_after.weight_ih.copy_(T(SEP_W_IH))
        torch_after.weight_hh.copy_(T(SEP_W_HH))
    s1, s_1 = 1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(1.0))
    exp_after = np.array([0.5 * np.tanh(s1), 0.5 * np.tanh(0.0) + 0.5])
    exp_before = np.array([0.5 * np.tanh(s_1), 0.5])
    assert_close(after, exp_after, np.float64)
    assert_close(
        torch_after(T(SEP_X[None]), T(SEP_H[None])).detach().numpy()[0], exp_after, np.float64
    )
    assert_close(before, exp_before, np.float64)
    assert abs(after[0] - 0.3118563) < 1e-7 and abs(before[0] - 0.1313198) < 1e-7
    assert after[0] - before[0] > 0.18


@pytest.mark.claim("d000.seq.gru-candidate")
@given(D=st.integers(1, 3), N=st.integers(1, 3), seed=seeds)
def test_gru_candidate_forms_agree_for_h1_without_candidate_bias(D, N, seed):
    """H = 1 and b_hn = 0: W_hn (r h) = r (W_hn h) (scalars commute), so the two forms agree
    for every input, weight and other bias; a nonzero b_hn separates them by (1 - r) b_hn
    inside the tanh."""
    rng = np.random.default_rng(seed)
    p = make_params(rng, "gru", D, 1, True)
    p["bias_hh"][2] = 0.0
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, 1))
    assert_close(R.gru_cell(x, h, **p), R.gru_cell_reset_before(x, h, **p), np.float64)
    p["bias_hh"][2] = 1.0
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    r, z = sigmoid(gi[:, :1] + gh[:, :1]), sigmoid(gi[:, 1:2] + gh[:, 1:2])
    before = (1 - z) * np.tanh(gi[:, 2:] + p["weight_hh"][2] * r * h + 1.0) + z * h
    after = (1 - z) * np.tanh(gi[:, 2:] + r * (p["weight_hh"][2] * h + 1.0)) + z * h
    assert_close(R.gru_cell_reset_before(x, h, **p), before, np.float64)
    assert_close(R.gru_cell(x, h, **p), after, np.float64)
    assert (np.abs(before - after) > 0).all()  # r < 1 strictly, b_hn = 1, tanh injective


@pytest.mark.claim("d000.seq.gru-candidate")
@given(
    D=st.integers(1, 3),
    H=st.integers(2, 4),
    N=st.integers(1, 3),
    seed=seeds,
    special=st.sampled_from(["diagonal", "h=0", "r constant"]),
)
def test_gru_candidate_forms_agree_exactly_where_w_hn_commutes_with_r(D, H, N, seed, special):
    """With b_hn = 0 the candidates differ by W_hn diag(r) h vs diag(r) W_hn h; they agree when
    W_hn is diagonal, when h = 0, or when r is the same in every component (here W_hr = 0 and
    W_ir rows equal, b_r constant) - and otherwise differ (random dense W_hn, H >= 2)."""
    rng = np.random.default_rng(seed)
    p = make_params(rng, "gru", D, H, True)
    p["bias_hh"][2 * H :] = 0.0
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    if special == "diagonal":
        p["weight_hh"][2 * H :] = np.diag(rng.standard_normal(H))
    elif special == "h=0":
        h = np.zeros((N, H))
    else:
        p["weight_hh"][:H] = 0.0
        p["weight_ih"][:H] = p["weight_ih"][0]
        p["bias_ih"][:H], p["bias_hh"][:H] = p["bias_ih"][0], p["bias_hh"][0]
    assert_close(R.gru_cell(x, h, **p), R.gru_cell_reset_before(x, h, **p), np.float64)
    dense = make_params(rng, "gru", D, H, False)
    hd = rng.standard_normal((N, H))
    diff = np.abs(R.gru_cell(x, hd, **dense) - R.gru_cell_reset_before(x, hd, **dense))
    assert diff.max() > 1e-9  # generic weights: the forms differ


# --------------------------------------------------------------------------- sequences


SEQ = {"rnn": R.rnn, "lstm": R.lstm, "gru": R.gru}
SEQ_BACK = {"rnn": R.rnn_backward, "lstm": R.lstm_backward, "gru": R.gru_backward}


def seq_arrays(case, kind, seed, dtype):
    rng = np.random.default_rng(seed)
    D, H, N, L = case["I"], case["H"], case["N"], case["L"]
    lead = (N,) if N is not None else ()
    x = rng.standard_normal((L, *lead, D)).astype(dtype)
    h0 = rng.standard_normal((1, *lead, H)).astype(dtype) * 0.8 if case["state"] else None
    c0 = rng.standard_normal((1, *lead, H)).astype(dtype) if case["state"] else None
    p = make_params(rng, kind, D, H, case["bias"], dtype)
    go = rng.standard_normal((L, *lead, H)).astype(dtype)
    gh = rng.standard_normal((2, 1, *lead, H)).astype(dtype)
    return x, h0, c0, p, go, gh


def seq_call(kind, x, h0, c0, p, nl, rb=False):
    """(output, h_n, c_n or None) of our sequence kernel."""
    if kind == "lstm":
        out, (hn, cn) = R.lstm(x, h0, c0, **p)
        return out, hn, cn
    if kind == "rnn":
        out, hn = R.rnn(x, h0, **p, nonlinearity=nl)
    else:
        out, hn = R.gru(x, h0, **p, reset_before=rb)
    return out, hn, None


@pytest.mark.claim("d000.seq.rnn-cell", "d000.seq.lstm-state", "d000.seq.gru-update")
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@given(case=rnn_case(max_len=6), seed=seeds, dtype=dtypes)
def test_sequences_match_torch_modules(kind, case, seed, dtype):
    """rnn/lstm/gru = nn.RNN/LSTM/GRU (num_layers=1, batch_first=False): output, h_n, c_n,
    batched and unbatched, L from 1, float32 and float64."""
    x, h0, c0, p, _, _ = seq_arrays(case, kind, seed, dtype)
    nl = case["nonlinearity"]
    ours = seq_call(kind, x, h0, c0, p, nl)
    mod, _ = torch_module(kind, case["I"], case["H"], p, nl, cell=False)
    if kind == "lstm":
        out, (hn, cn) = mod(T(x), None if h0 is None else (T(h0), T(c0)))
        theirs = (out, hn, cn)
    else:
        out, hn = mod(T(x), None if h0 is None else T(h0))
        theirs = (out, hn, None)
    n = fwd_tolerance(dtype, case["L"], case["I"], case["H"])
    mag = magnitude(x, h0 if h0 is not None else np.zeros(1), p)
    if nl == "relu" and kind == "rnn":  # unbounded states: the magnitude grows with them
        mag *= 1 + float(np.abs(ours[0]).max())
    for a, b in zip(ours, theirs, strict=True):
        if a is None:
            continue
        assert a.dtype == dtype and a.shape == tuple(b.shape)
        assert_close(
            a,
            b.detach().numpy(),
            dtype,
            reduction_length=n,
            magnitude=mag,
            context=f"{kind} {case} seed={seed}",
        )


@pytest.mark.claim(
    "d000.seq.rnn-cell", "d000.seq.lstm-state", "d000.seq.gru-update", "d000.seq.gru-candidate"
)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_rb"])
@given(case=rnn_case(max_len=4), seed=seeds)
def test_bptt_gradients_three_ways(kind, case, seed):
    """Hand-written BPTT = torch autograd (nn.RNN/LSTM/GRU; the reset-before GRU unrolled in
    torch) = central differences, for input, h0, c0 and every weight and bias, with upstream
    gradients on every output step and on h_n (and c_n)."""
    base = "gru" if kind == "gru_rb" else kind
    rb = kind == "gru_rb"
    x, h0, c0, p, go, gh = seq_arrays(case, kind, seed, np.float64)
    nl = case["nonlinearity"]
    if base == "lstm":
        grads = R.lstm_backward(go, gh[0], gh[1], x, h0, c0, **p)
    elif base == "rnn":
        grads = R.rnn_backward(go, gh[0], x, h0, **p, nonlinearity=nl)
    else:
        grads = R.gru_backward(go, gh[0], x, h0, **p, reset_before=rb)
    tx = leaf(x)
    th = leaf(h0) if h0 is not None else None
    tc = leaf(c0) if c0 is not None else None
    if rb:
        tp = {k: (leaf(v) if v is not None else None) for k, v in p.items()}
        h = th[0] if th is not None else torch.zeros(*x.shape[1:-1], case["H"], dtype=tx.dtype)
        outs = []
        for t in range(x.shape[0]):
            h = torch_gru_reset_before(tx[t], h, tp)
            outs.append(h)
        loss = (torch.stack(outs) * T(go)).sum() + (h[None] * T(gh[0])).sum()
    else:
        mod, suffix = torch_module(base, case["I"], case["H"], p, nl, cell=False)
        tp = {k: getattr(mod, k + suffix) if p[k] is not None else None for k in PARAMS}
        if base == "lstm":
            out, (hn, cn) = mod(tx, None if th is None else (th, tc))
            loss = (out * T(go)).sum() + (hn * T(gh[0])).sum() + (cn * T(gh[1])).sum()
        else:
            out, hn = mod(tx, th)
            loss = (out * T(go)).sum() + (hn * T(gh[0])).sum()
    loss.backward()
    ctx = f"{kind} {case} seed={seed}"
    assert_close(grads["input"], tx.grad.numpy(), np.float64, context=ctx)
    for key, t in (("h0", th), ("c0", tc)):
        if key in grads:
            if t is None:
                assert grads[key] is None
            else:
                assert_close(grads[key], t.grad.numpy(), np.float64, context=ctx)
    for name in PARAMS:
        if p[name] is None:
            assert grads[name] is None
        else:
            assert_close(grads[name], tp[name].grad.numpy(), np.float64, context=ctx)

    def loss_of(**changed):
        a = {"x": x, "h0": h0, "c0": c0, **changed}
        pp = {k: changed.get(k, v) for k, v in p.items()}
        out, hn, cn = seq_call(base, a["x"], a["h0"], a["c0"], pp, nl, rb)
        total = np.sum(out * go) + np.sum(hn * gh[0])
        if cn is not None:
            total += np.sum(cn * gh[1])
        return np.array(total)

    checks = {"input": ("x", x), "h0": ("h0", h0), "c0": ("c0", c0), **{k: (k, p[k]) for k in p}}
    for key, (arg, value) in checks.items():
        if value is None or key not in grads:
            continue
        fd = central_difference(lambda v, arg=arg: loss_of(**{arg: v}), value, np.array(1.0))
        assert_grad_close(grads[key], fd, ctx + f" d{key}")


@pytest.mark.claim("d000.seq.rnn-cell", "d000.seq.lstm-state", "d000.seq.gru-candidate")
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_rb"])
@given(case=rnn_case(max_len=5), seed=seeds)
def test_sequence_is_the_cell_unrolled(kind, case, seed):
    """output[t] is the cell applied to output[t-1] (h0 or zeros at t = 0), bit for bit the
    same arithmetic; h_n = output[-1]; the MACs are L * N * G * H * (D + H)."""
    base = "gru" if kind == "gru_rb" else kind
    x, h0, c0, p, _, _ = seq_arrays(case, kind, seed, np.float64)
    nl = case["nonlinearity"]
    with MacCounter() as counter:
        out, hn, cn = seq_call(base, x, h0, c0, p, nl, kind == "gru_rb")
    H, D = case["H"], case["I"]
    N = case["N"] or 1
    assert counter.macs == case["L"] * N * GATES[kind] * H * (D + H)
    h = h0[0] if h0 is not None else None
    c = c0[0] if c0 is not None else None
    for t in range(case["L"]):
        step = cell_call(kind, x[t], h, c, p, nl)
        h, c = step if isinstance(step, tuple) else (step, None)
        np.testing.assert_array_equal(out[t], h)
    np.testing.assert_array_equal(hn[0], h)
    if cn is not None:
        np.testing.assert_array_equal(cn[0], c)


@pytest.mark.claim("d000.seq.gru-candidate")
def test_gru_defaults_to_torchs_reset_after_form():
    """Called without reset_before, the sequence GRU and its backward are torch's nn.GRU
    (reset after the hidden product); reset_before=True is the other form and differs
    (independent mutation survivor: the default flipped)."""
    rng = np.random.default_rng(7)
    L, N, n_in, H = 4, 2, 3, 2
    x, h0 = rng.standard_normal((L, N, n_in)), rng.standard_normal((1, N, H))
    m = torch.nn.GRU(n_in, H, dtype=torch.float64)
    w = [p.detach().numpy() for p in (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)]
    out, hn = R.gru(x, h0, *w)
    t_out, t_hn = m(torch.from_numpy(x), torch.from_numpy(h0))
    assert np.allclose(out, t_out.detach().numpy(), atol=1e-12)
    assert np.allclose(hn, t_hn.detach().numpy(), atol=1e-12)
    other, _ = R.gru(x, h0, *w, reset_before=True)
    assert np.abs(other - out).max() > 1e-6
    g = rng.standard_normal(out.shape)
    default = R.gru_backward(g, None, x, h0, *w)
    explicit = R.gru_backward(g, None, x, h0, *w, reset_before=False)
    assert all(np.array_equal(default[k], explicit[k]) for k in default if default[k] is not None)
