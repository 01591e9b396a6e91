"""Sequence theory (SymPy) against torch, NumPy and autograd: embeddings, parameter counts,
the cells as 000 writes them, the GRU conventions, BPTT and the spectral condition.

Claims: theory/claims/sequence.yaml. Helpers: theory.sequence, numerics.sequence_experiments.
The NumPy references here are written inline, independent of kernels.cpu.recurrent/embedding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import sequence_experiments as nse
from numerics.tolerances import assert_close as _assert_close
from theory import attention as tha
from theory import sequence as th

seeds = st.integers(0, 2**32 - 1)
symbolic = settings(max_examples=10)
"""SymPy-heavy properties: 10 examples each (each builds and expands symbol matrices)."""


def assert_close(actual, expected) -> None:
    _assert_close(np.asarray(actual, float), np.asarray(expected, float), np.float64)


def _eval(expr_matrix, values: dict) -> np.ndarray:
    """Evaluate a SymPy matrix at numeric values (float64, via lambdify)."""
    syms = sorted(values, key=str)
    f = sympy.lambdify(syms, sympy.Matrix(expr_matrix), "numpy")
    return np.asarray(f(*[values[s] for s in syms]), dtype=float)


def _bind(matrix, array) -> dict:
    a = np.asarray(array, dtype=float).reshape(matrix.shape)
    return {matrix[i, j]: float(a[i, j]) for i in range(matrix.rows) for j in range(matrix.cols)}


def _sig(a):
    return 1 / (1 + np.exp(-a))


# 1. Embeddings -------------------------------------------------------------------------------


@pytest.mark.claim("d000.seq.embedding-lookup", "d000.seq.embedding-learned")
def test_embedding_gradient_derivation_agrees():
    d = th.derive_embedding_gradient()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.seq.embedding-lookup", "d000.seq.embedding-learned")
@symbolic
@given(
    v=st.integers(1, 3),
    d=st.integers(1, 3),
    data=st.data(),
)
def test_embedding_lookup_and_scatter_add_against_diff(v, d, data):
    idx = data.draw(st.lists(st.integers(0, v - 1), min_size=1, max_size=3))
    e = th.embedding_expr(v, d, idx)
    assert e["lookup"] == e["rows"]
    loss = sum(e["G"][p, j] * e["lookup"][p, j] for p in range(len(idx)) for j in range(d))
    diffed = sympy.Matrix(v, d, lambda i, j: sympy.diff(loss, e["E"][i, j]))
    assert sympy.expand(diffed - e["grad"]) == sympy.zeros(v, d)
    assert e["grad"] == e["scatter"]
    for row in range(v):  # rows never looked up have zero gradient, repeated rows add
        count = idx.count(row)
        assert (e["grad"][row, :] == sympy.zeros(1, d)) is (count == 0)


@pytest.mark.claim("d000.seq.embedding-lookup", "d000.seq.embedding-learned")
@given(v=st.integers(1, 4), d=st.integers(1, 3), seed=seeds, data=st.data())
def test_embedding_against_torch(v, d, seed, data):
    idx = data.draw(st.lists(st.integers(0, v - 1), min_size=1, max_size=4))
    rng = np.random.default_rng(seed)
    emb = torch.nn.Embedding(v, d).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(rng.standard_normal((v, d))))
    g = rng.standard_normal((len(idx), d))
    out = emb(torch.tensor(idx))
    out.backward(torch.from_numpy(g))
    e = th.embedding_expr(v, d, idx)
    vals = {**_bind(e["E"], emb.weight.detach().numpy()), **_bind(e["G"], g)}
    assert_close(out.detach().numpy(), _eval(e["lookup"], vals))
    assert_close(emb.weight.grad.numpy(), _eval(e["grad"], vals))
    assert emb.weight.requires_grad
    assert th.embedding_params(v, d) == sum(p.numel() for p in emb.parameters())


@pytest.mark.claim("d000.seq.embedding-reduction")
@given(v=st.integers(1, 50), d=st.integers(1, 50))
def test_embedding_reduction_exact(v, d):
    r = th.embedding_reduction(v, d)
    assert r["onehot_dim"] == v and r["embedding_dim"] == d
    assert r["reduces_dimension"] is (d < v)
    # the input has 1 non-zero of V; a generic (Gaussian) row has d non-zeros
    table = np.random.default_rng(v * 100 + d).standard_normal((v, d))
    onehot = np.eye(v)[v - 1]
    assert np.count_nonzero(onehot) == r["onehot_nonzeros"]
    assert np.count_nonzero(onehot @ table) == r["dense_nonzeros"]
    # for d >= V a generic table is injective (rank V): no reduction, an embedding into R^d
    assert np.linalg.matrix_rank(table) == min(v, d)


def test_embedding_reduction_symbolic():
    vv, dd = sympy.symbols("V d", integer=True, positive=True)
    r = th.embedding_reduction(vv, dd)
    assert r["reduces_dimension"] == sympy.Lt(dd, vv)
    assert th.embedding_params(vv, dd) == vv * dd


# 2. Parameter counts --------------------------------------------------------------------------

_TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


@pytest.mark.claim("d000.seq.rnn-cell", "d000.seq.lstm-gates", "d000.seq.gru-gates")
@given(
    cell=st.sampled_from(th.CELLS),
    i=st.integers(1, 9),
    h=st.integers(2, 9),
    layers=st.integers(1, 3),
    bias=st.booleans(),
    bi=st.booleans(),
    proj=st.integers(0, 1),
)
def test_rnn_params_equal_torch(cell, i, h, layers, bias, bi, proj):
    proj_size = proj * (h - 1) if cell == "lstm" else 0
    kw = {"proj_size": proj_size} if cell == "lstm" else {}
    m = _TORCH[cell](i, h, num_layers=layers, bias=bias, bidirectional=bi, **kw)
    want = sum(p.numel() for p in m.parameters())
    got = th.rnn_params(i, h, bias, layers, bi, cell, proj_size)
    assert got == want


@pytest.mark.claim("d000.seq.rnn-cell", "d000.seq.lstm-gates", "d000.seq.gru-gates")
@given(cell=st.sampled_from(th.CELLS), i=st.integers(1, 20), h=st.integers(1, 20))
def test_document_counts_and_torch_surplus(cell, i, h):
    torch_cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
    want = sum(p.numel() for p in torch_cell[cell](i, h).parameters())
    assert th.rnn_params(i, h, cell=cell) == want
    g = th.GATES[cell]
    surplus = want - th.document_cell_params(i, h, cell)
    # torch: G*H extra biases (RNN, LSTM); GRU: 000 has no bias at all, torch 2*3*H
    assert surplus == (6 * h if cell == "gru" else g * h)
    assert th.document_cell_params(i, h, cell) == g * h * (h + i) + (0 if cell == "gru" else g * h)


def test_rnn_params_symbolic():
    i, h, n = sympy.symbols("I H L", integer=True, positive=True)
    got = th.rnn_params(i, h, num_layers=n, bidirectional=True, cell="gru")
    first = 3 * h * (i + h) + 6 * h
    rest = 3 * h * (2 * h + h) + 6 * h
    assert sympy.expand(got - 2 * (first + (n - 1) * rest)) == 0
    assert th.rnn_params(10, 20, cell="lstm") == 4 * 20 * 30 + 8 * 20


# 3. The cells against torch ------------------------------------------------------------------


def _torch_weights(cell, rng):
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    return {n: p.detach().numpy() for n, p in cell.named_parameters()}


@pytest.mark.claim("d000.seq.rnn-cell")
@symbolic
@given(i=st.integers(1, 2), h=st.integers(1, 2), seed=seeds)
def test_rnn_cell_is_torch_rnncell(i, h, seed):
    rng = np.random.default_rng(seed)
    cell = torch.nn.RNNCell(i, h).double()
    w = _torch_weights(cell, rng)
    x, h0 = rng.standard_normal(i), rng.standard_normal(h)
    e = th.rnn_cell_expr(i, h)
    vals = {**_bind(e["W_hh"], w["weight_hh"]), **_bind(e["W_xh"], w["weight_ih"]),
            **_bind(e["b_h"], w["bias_ih"] + w["bias_hh"]),  # only the sum enters
            **_bind(e["h"], h0), **_bind(e["x"], x)}  # fmt: skip
    want = cell(torch.from_numpy(x)[None], torch.from_numpy(h0)[None]).detach().numpy()[0]
    assert_close(_eval(e["h_new"], vals).ravel(), want)


@pytest.mark.claim("d000.seq.lstm-gates", "d000.seq.lstm-state")
@symbolic
@given(i=st.integers(1, 2), h=st.integers(1, 2), seed=seeds)
def test_lstm_cell_is_torch_lstmcell(i, h, seed):
    rng = np.random.default_rng(seed)
    cell = torch.nn.LSTMCell(i, h).double()
    w = _torch_weights(cell, rng)
    x, h0, c0 = rng.standard_normal(i), rng.standard_normal(h), rng.standard_normal(h)
    e = th.lstm_cell_expr(i, h)
    vals = {**_bind(e["h"], h0), **_bind(e["x"], x), **_bind(e["C"], c0)}
    for k, gate in enumerate("ifCo"):  # torch's block order: i, f, g, o
        rows = slice(k * h, (k + 1) * h)
        wcat = np.hstack([w["weight_hh"][rows], w["weight_ih"][rows]])  # [h, x]: h first
        vals.update(_bind(e[f"W_{gate}"], wcat))
        vals.update(_bind(e[f"b_{gate}"], w["bias_ih"][rows] + w["bias_hh"][rows]))
    hh, cc = cell(
        torch.from_numpy(x)[None], (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
    )
    assert_close(_eval(e["C_new"], vals).ravel(), cc.detach().numpy()[0])
    assert_close(_eval(e["h_new"], vals).ravel(), hh.detach().numpy()[0])


def _gru_torch_values(e, w, x, h0):
    vals = {**_bind(e["h"], h0), **_bind(e["x"], x)}
    hs = len(h0)
    for k, g in enumerate("rzn"):
        rows = slice(k * hs, (k + 1) * hs)
        vals.update(_bind(e[f"W_i{g}"], w["weight_ih"][rows]))
        vals.update(_bind(e[f"W_h{g}"], w["weight_hh"][rows]))
        vals.update(_bind(e[f"b_i{g}"], w["bias_ih"][rows]))
        vals.update(_bind(e[f"b_h{g}"], w["bias_hh"][rows]))
    return vals


@pytest.mark.claim("d000.seq.gru-gates", "d000.seq.gru-candidate", "d000.seq.gru-update")
@symbolic
@given(i=st.integers(1, 2), h=st.integers(1, 2), seed=seeds)
def test_gru_torch_form_is_torch_grucell(i, h, seed):
    rng = np.random.default_rng(seed)
    cell = torch.nn.GRUCell(i, h).double()
    w = _torch_weights(cell, rng)
    x, h0 = rng.standard_normal(i), rng.standard_normal(h)
    e = th.gru_cell_expr(i, h, "torch")
    want = cell(torch.from_numpy(x)[None], torch.from_numpy(h0)[None]).detach().numpy()[0]
    assert_close(_eval(e["h_new"], _gru_torch_values(e, w, x, h0)).ravel(), want)


def _gru_d000_numpy(wr, wz, w, h, x):
    hx = np.concatenate([h, x])
    r, z = _sig(wr @ hx), _sig(wz @ hx)
    cand = np.tanh(w @ np.concatenate([r * h, x]))
    return (1 - z) * h + z * cand


@pytest.mark.claim("d000.seq.gru-gates", "d000.seq.gru-candidate", "d000.seq.gru-update")
@symbolic
@given(i=st.integers(1, 2), h=st.integers(1, 3), seed=seeds, diagonal=st.booleans())
def test_gru_d000_form_against_numpy_and_torch(i, h, seed, diagonal):
    """000's GRU equals a written-out NumPy reference; with the weight map (W_r = [W_hr, W_ir],
    W_z = -[W_hz, W_iz], W = [W_hn, W_in], torch biases 0) it equals torch's GRUCell exactly
    when W_hn is diagonal (always for H = 1) and differs for a generic non-diagonal W_hn."""
    rng = np.random.default_rng(seed)
    cell = torch.nn.GRUCell(i, h).double()
    w = _torch_weights(cell, rng)
    with torch.no_grad():
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
        if diagonal:
            cell.weight_hh[2 * h :] = torch.diag(torch.diagonal(cell.weight_hh[2 * h :]))
    w = {n: p.detach().numpy().copy() for n, p in cell.named_parameters()}
    blocks = {g: (w["weight_hh"][k * h : (k + 1) * h], w["weight_ih"][k * h : (k + 1) * h])
              for k, g in enumerate("rzn")}  # fmt: skip
    wr, wz, wn = (np.hstack(blocks["r"]), -np.hstack(blocks["z"]), np.hstack(blocks["n"]))
    x, h0 = rng.standard_normal(i), rng.standard_normal(h)
    e = th.gru_cell_expr(i, h, "d000")
    vals = {**_bind(e["W_r"], wr), **_bind(e["W_z"], wz), **_bind(e["W"], wn),
            **_bind(e["h"], h0), **_bind(e["x"], x)}  # fmt: skip
    got = _eval(e["h_new"], vals).ravel()
    assert_close(got, _gru_d000_numpy(wr, wz, wn, h0, x))
    want = cell(torch.from_numpy(x)[None], torch.from_numpy(h0)[None]).detach().numpy()[0]
    if diagonal or h == 1:
        assert_close(got, want)
    else:  # a Gaussian W_hn is non-diagonal and r has distinct entries (probability 1)
        assert np.max(np.abs(got - want)) > 1e-9


@pytest.mark.claim("d000.seq.gru-update")
def test_gru_update_convention_is_a_reparametrization():
    d = th.derive_gru_update_convention()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.seq.gru-candidate")
def test_gru_reset_position_derivation_and_separating_example():
    d = th.derive_gru_reset_position()
    assert not d.agrees()  # reset after != reset before as functions
    t, doc = th.gru_separating_example()
    assert t == sympy.tanh(1 / (1 + sympy.exp(-1))) / 2
    assert doc == sympy.tanh(sympy.Rational(1, 2)) / 2
    assert abs(float(t) - 0.311856) < 1e-6 and abs(float(doc) - 0.231059) < 1e-6
    # the torch number is what torch's GRUCell computes at the configuration
    cell = torch.nn.GRUCell(1, 2).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.weight_ih[0, 0] = 1.0  # W_ir row 1
        cell.weight_hh[4, 1] = 1.0  # W_hn[0, 1]
    out = cell(
        torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    )
    assert_close(out[0, 0].item(), float(t))
    wr = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    wn = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    ref = _gru_d000_numpy(wr, np.zeros((2, 3)), wn, np.array([0.0, 1.0]), np.array([1.0]))
    assert_close(ref[0], float(doc))


@pytest.mark.claim("d000.seq.gru-candidate")
@settings(max_examples=25)
@given(
    n=st.integers(1, 3),
    data=st.data(),
)
def test_reset_position_map_exists_iff_diagonal(n, data):
    entries = data.draw(st.lists(st.integers(-3, 3), min_size=n * n, max_size=n * n))
    w = sympy.Matrix(n, n, entries)
    got = th.reset_position_map(w.tolist())
    if w.is_diagonal():
        assert got == w
    else:
        assert got is None
    if got is not None:  # verify the identity at random r, h
        rng = np.random.default_rng(sum(map(abs, entries)))
        r, h = rng.uniform(0, 1, n), rng.standard_normal(n)
        wn = np.array(w.tolist(), float)
        assert_close(np.array(got.tolist(), float) @ (r * h), r * (wn @ h))


@pytest.mark.claim("d000.seq.gru-candidate")
def test_reset_position_map_h1_always_exists():
    assert th.reset_position_map([[7]]) == sympy.Matrix([[7]])
    assert th.reset_position_map([[0, 1], [0, 0]]) is None
    a = sympy.Symbol("a", real=True)
    assert th.reset_position_map([[a, 0], [0, 2]]) == sympy.Matrix([[a, 0], [0, 2]])


@pytest.mark.claim("d000.seq.gru-candidate", "d000.seq.rnn-cell", "d000.seq.lstm-gates")
def test_bias_redundancy_derivation_and_torch():
    d = th.derive_bias_redundancy()
    assert d.agrees(), d.to_markdown()
    x, h = torch.tensor([[0.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)

    def gru_n(b_in, b_hn):
        cell = torch.nn.GRUCell(1, 1).double()
        with torch.no_grad():
            for p in cell.parameters():
                p.zero_()
            cell.bias_ih[2], cell.bias_hh[2] = b_in, b_hn
        # z = 1/2, h = 0: h_new = n / 2
        return 2 * cell(x, h).item()

    assert_close(gru_n(0.0, 1.0), math.tanh(0.5))
    assert_close(gru_n(1.0, 0.0), math.tanh(1.0))
    # RNN/LSTM: a shift between the two bias vectors changes nothing
    rng = np.random.default_rng(0)
    for cls in (torch.nn.RNNCell, torch.nn.LSTMCell):
        cell = cls(2, 3).double()
        _torch_weights(cell, rng)
        xx = torch.from_numpy(rng.standard_normal((4, 2)))
        before = cell(xx)
        with torch.no_grad():
            shift = torch.from_numpy(rng.standard_normal(cell.bias_ih.shape))
            cell.bias_ih += shift
            cell.bias_hh -= shift
        after = cell(xx)
        for b, a in zip(before if isinstance(before, tuple) else (before,),
                        after if isinstance(after, tuple) else (after,), strict=True):  # fmt: skip
            assert torch.allclose(a, b, rtol=0, atol=1e-12)


# 4. BPTT ----------------------------------------------------------------------------------------


@pytest.mark.claim("d000.seq.rnn-cell")
def test_rnn_bptt_derivation_agrees():
    d = th.derive_rnn_bptt()
    # expand first: a wrong formula leaves a large non-zero gap that simplify() chews on
    assert sympy.expand(d.claimed - d.derived) == 0
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.seq.rnn-cell")
@pytest.mark.parametrize(("steps", "h"), [(1, 1), (2, 1), (3, 1), (4, 1), (1, 2), (2, 2), (4, 2)])
def test_rnn_bptt_product_formula_is_the_jacobian(steps, h):
    e = th.rnn_bptt_expr(steps, h)
    assert sympy.expand(e["jacobian"] - e["product"]) == sympy.zeros(h, h)


@pytest.mark.claim("d000.seq.rnn-cell")
@settings(max_examples=20)
@given(steps=st.integers(1, 3), seed=seeds)
def test_rnn_bptt_against_torch_autograd(steps, seed):
    h = 2
    rng = np.random.default_rng(seed)
    e = th.rnn_bptt_expr(steps, h)
    w, u, b = rng.standard_normal((h, h)), rng.standard_normal(h), rng.standard_normal(h)
    xs, h0 = rng.standard_normal(steps), rng.standard_normal(h)
    wt, ut, bt = (torch.from_numpy(a) for a in (w, u, b))

    def run(h0t):
        hh = h0t
        for t in range(steps):
            hh = torch.tanh(wt @ hh + ut * xs[t] + bt)
        return hh

    jac = torch.autograd.functional.jacobian(run, torch.from_numpy(h0)).numpy()
    vals = {**_bind(e["W_hh"], w), **_bind(sympy.Matrix(sympy.symbols("u_1:3", real=True)), u),
            **_bind(sympy.Matrix(sympy.symbols("b_1:3", real=True)), b),
            **_bind(e["h"][0], h0)}  # fmt: skip
    vals.update({sympy.Symbol(f"x_{t + 1}", real=True): float(xs[t]) for t in range(steps)})
    assert_close(_eval(e["product"], vals), jac)


@pytest.mark.claim("d000.seq.lstm-state")
@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_lstm_cell_path_is_the_product_of_forget_gates(steps):
    e = th.lstm_cell_path_expr(steps)
    assert sympy.expand(e["cell_path"] - e["product"]) == 0
    assert e["product"] == sympy.Mul(*sympy.symbols(f"f_1:{steps + 1}", real=True))


@pytest.mark.claim("d000.seq.lstm-state")
def test_lstm_full_derivative_against_autograd_and_extra_paths():
    e = th.lstm_cell_path_expr(2)
    assert th.lstm_cell_path_expr(1)["extra"] == 0
    full, extra = e["full"], e["extra"]
    syms = sorted(full.free_symbols, key=str)
    rng = np.random.default_rng(1)
    vals = {s: float(v) for s, v in zip(syms, rng.standard_normal(len(syms)), strict=True)}
    c0 = sympy.Symbol("C_0", real=True)
    tv = {str(s): torch.tensor(v, dtype=torch.float64) for s, v in vals.items()}

    def run(c0t):
        h, c = tv["h_0"], c0t
        for t in (1, 2):
            x = tv[f"x_{t}"]
            pre = {g: tv[f"w_{g}h"] * h + tv[f"w_{g}x"] * x + tv[f"b_{g}"] for g in "fiCo"}
            f, i = torch.sigmoid(pre["f"]), torch.sigmoid(pre["i"])
            c = f * c + i * torch.tanh(pre["C"])
            h = torch.sigmoid(pre["o"]) * torch.tanh(c)
        return c

    grad = torch.autograd.functional.jacobian(run, tv["C_0"]).item()
    assert_close(float(full.subs(vals)), grad)
    assert c0 in full.free_symbols
    assert abs(float(extra.subs(vals))) > 1e-6  # paths through h_1 add to f_1 f_2


# 5. The spectral condition -------------------------------------------------------------------


@pytest.mark.claim("d000.seq.rnn-cell")
def test_spectral_derivation_agrees():
    d = th.derive_spectral_condition()
    assert d.agrees(), d.to_markdown()


@pytest.mark.claim("d000.seq.rnn-cell")
@settings(max_examples=30)
@given(
    n=st.integers(1, 3),
    steps=st.integers(0, 8),
    data=st.data(),
)
def test_linear_recurrence_gradient_norm_against_numpy(n, steps, data):
    entries = data.draw(st.lists(st.integers(-4, 4), min_size=n * n, max_size=n * n))
    den = data.draw(st.integers(1, 4))
    w = [[sympy.Rational(entries[i * n + j], den) for j in range(n)] for i in range(n)]
    got = th.linear_recurrence_gradient_norm(w, steps)
    wn = np.array(entries, float).reshape(n, n) / den
    want = np.linalg.norm(np.linalg.matrix_power(wn, steps), 2)
    assert_close(float(got), want)


@pytest.mark.claim("d000.seq.rnn-cell")
def test_linear_recurrence_exact_examples():
    j = [[1, 1], [0, 1]]
    assert sympy.simplify(th.linear_recurrence_gradient_norm(j, 2) - (1 + sympy.sqrt(2))) == 0
    assert th.linear_recurrence_gradient_norm([[0, -1], [1, 0]], 7) == 1
    assert th.linear_recurrence_gradient_norm([[sympy.Rational(1, 2)]], 3) == sympy.Rational(1, 8)
    assert th.linear_recurrence_gradient_norm([[5, 3], [1, 2]], 0) == 1
    half = sympy.Rational(1, 2)
    norms = [
        float(th.linear_recurrence_gradient_norm([[half, 4], [0, half]], t)) for t in range(12)
    ]
    # W^T = [[2^-T, 8T 2^-T], [0, 2^-T]]: above 4 at T = 1, 2 although rho^T = 1/2, 1/4
    assert norms[0] == 1 and norms[1] > 4 and norms[2] > 4
    assert norms[11] < norms[10] < norms[9]  # ... then geometric decay


@pytest.mark.claim("d000.seq.rnn-cell")
@pytest.mark.parametrize(
    ("w", "regime"),
    [
        ([[1, 1], [0, 1]], "exploding"),  # rho = 1, Jordan block: ||W^T|| ~ T
        ([[0, -1], [1, 0]], "bounded"),  # rotation
        ([[1, 0], [0, 1]], "bounded"),
        ([[-1, 0], [0, sympy.Rational(1, 2)]], "bounded"),
        ([[sympy.Rational(1, 2), 4], [0, sympy.Rational(1, 2)]], "vanishing"),
        ([[sympy.Rational(99, 100)]], "vanishing"),
        ([[sympy.Rational(101, 100)]], "exploding"),
        ([[0, 2], [sympy.Rational(1, 2), 0]], "bounded"),  # eigenvalues +-1, non-normal
        (
            [
                [sympy.Rational(3, 5), sympy.Rational(-4, 5)],
                [sympy.Rational(4, 5), sympy.Rational(3, 5)],
            ],
            "bounded",
        ),
    ],
)
def test_linear_recurrence_regime_examples(w, regime):
    assert th.linear_recurrence_regime(w) == regime
    norms = [float(th.linear_recurrence_gradient_norm(w, t)) for t in (16, 32, 64)]
    if regime == "vanishing":
        assert norms[2] < norms[1] < norms[0]
    elif regime == "exploding":
        assert norms[2] > norms[1] > norms[0]
    else:
        assert max(norms) / min(norms) < 1 + 1e-9 or max(norms) < 10


@pytest.mark.claim("d000.seq.rnn-cell")
@settings(max_examples=40)
@given(entries=st.lists(st.integers(-6, 6), min_size=4, max_size=4), den=st.integers(1, 6))
def test_linear_recurrence_regime_against_numpy_spectral_radius(entries, den):
    w = [[sympy.Rational(entries[0], den), sympy.Rational(entries[1], den)],
         [sympy.Rational(entries[2], den), sympy.Rational(entries[3], den)]]  # fmt: skip
    rho = max(abs(np.linalg.eigvals(np.array(entries, float).reshape(2, 2) / den)))
    got = th.linear_recurrence_regime(w)
    if rho < 1 - 1e-9:
        assert got == "vanishing"
    elif rho > 1 + 1e-9:
        assert got == "exploding"
    else:
        assert got in ("bounded", "exploding")
        mat = sympy.Matrix(w)
        big = float(th.linear_recurrence_gradient_norm(w, 64))
        grows = big > 2 * float(th.linear_recurrence_gradient_norm(w, 16))
        assert (got == "exploding") is grows, (mat, big)


# 6. The figure's measurement -----------------------------------------------------------------


@pytest.mark.claim("d000.seq.rnn-cell")
@settings(max_examples=10)
@given(seed=seeds, rho=st.sampled_from([0.5, 0.8, 1.0, 1.2]), width=st.integers(1, 6))
def test_gradient_through_time_against_autograd_and_bounds(seed, rho, width):
    steps = 8
    res = nse.gradient_through_time((rho,), steps, width, 0.3, seed)
    rng = np.random.default_rng(seed)  # the same draws as the helper
    a = rng.standard_normal((width, width))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    h0 = rng.standard_normal(width) / np.sqrt(width)
    xs = 0.3 * rng.standard_normal((steps, width))
    wt, xt = torch.from_numpy(rho * q), torch.from_numpy(xs)

    def run(h):
        for t in range(steps):
            h = torch.tanh(wt @ h + xt[t])
        return h

    jac = torch.autograd.functional.jacobian(run, torch.from_numpy(h0)).numpy()
    assert_close(res["measured"][0, -1], np.linalg.norm(jac, 2))
    # |tanh'| <= 1 and ||rho Q||_2 = rho: the measurement never exceeds rho^T
    assert np.all(res["measured"] <= res["predicted"] * (1 + 1e-12))
    lin = nse.gradient_through_time((rho,), steps, width, 0.3, seed, linear=True)
    assert_close(lin["measured"], lin["predicted"])


@pytest.mark.claim("d000.seq.rnn-cell")
def test_gradient_through_time_figure_regimes():
    res = nse.gradient_through_time((0.8, 1.0, 1.2), 60, 32, 0.1, 0)
    m = res["measured"]
    assert m[0, -1] < 1e-5  # rho < 1: vanishes (0.8^60 = 1.5e-6)
    assert m[2, -1] < 1e-2 * res["predicted"][2, -1]  # rho > 1: saturation stops the explosion
    assert m[2, -1] > 1  # ... but it does not vanish either
    png = nse.gradient_through_time_figure(steps=10, width=4)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# 7. Positional embeddings --------------------------------------------------------------------


@pytest.mark.claim("d000.seq.positional-sinusoidal")
def test_sinusoidal_has_no_parameters():
    assert tha.positional_params("sinusoidal") == 0
    d = tha.derive_sinusoidal()
    assert d.agrees()


@pytest.mark.claim("d000.seq.positional-learned")
@given(max_len=st.integers(1, 64), d=st.integers(1, 16))
def test_learned_positions_are_an_embedding_table(max_len, d):
    table = torch.nn.Embedding(max_len, d)
    assert tha.positional_params("learned", max_len=max_len, d=d) == sum(
        p.numel() for p in table.parameters() if p.requires_grad
    )
    assert th.embedding_params(max_len, d) == tha.positional_params("learned", max_len=max_len, d=d)


@pytest.mark.claim("d000.seq.positional-relative")
@given(n=st.integers(1, 5), shift=st.integers(1, 4), dk=st.integers(1, 4), seed=seeds)
def test_relative_scores_are_shift_invariant(n, shift, dk, seed):
    """Moving the same content by ``shift`` positions moves the scores with it: e depends on
    i - j, never on i or j (the absolute positions)."""
    from kernels.cpu.attention import relative_scores

    rng = np.random.default_rng(seed)
    length = n + shift
    q, k = rng.standard_normal((length, dk)), rng.standard_normal((length, dk))
    rel, u = rng.standard_normal((2 * length - 1, dk)), rng.standard_normal(dk)
    qs, ks = np.roll(q, shift, axis=0), np.roll(k, shift, axis=0)
    e, es = relative_scores(q, k, rel, u), relative_scores(qs, ks, rel, u)
    assert_close(es[shift:, shift:], e[:n, :n])
    expr = tha.relative_score_expr(dk)
    assert sympy.expand(expr["d000"] - expr["factorized"]) == 0


# 8. Derivations that can fail ----------------------------------------------------------------


def test_derivations_fail_with_a_wrong_formula(monkeypatch):
    """Each proof compares two independently built sides: plant a wrong ingredient and the
    derivation must stop agreeing."""
    good = th._sigmoid
    monkeypatch.setattr(th, "_sigmoid", lambda a: good(a) if a.could_extract_minus_sign()
                        else 1 - good(a))  # fmt: skip
    assert not th.derive_gru_update_convention().agrees()
    monkeypatch.setattr(th, "_sigmoid", good)

    real_diag = sympy.diag
    monkeypatch.setattr(th.sympy, "diag", lambda *xs: real_diag(*[2 * x for x in xs]))
    e = th.rnn_bptt_expr(2, 1)  # (the full derivation's simplify of a non-zero gap is slow)
    assert sympy.expand(e["jacobian"] - e["product"]) != sympy.zeros(1, 1)
    monkeypatch.setattr(th.sympy, "diag", real_diag)

    d = th.derive_spectral_condition()  # the weighted form sees every single entry
    gap = d.claimed.subs(sympy.Symbol("c_1_1", real=True), 0) - d.derived
    assert sympy.expand(gap) != 0

    real_embed = th.embedding_expr

    def wrong_scatter(*a, **k):
        out = dict(real_embed(*a, **k))
        s = sympy.Matrix(out["scatter"])
        s[0, 0] = s[0, 0] * 2  # a repeated-row overwrite instead of an add would differ too
        out["scatter"] = sympy.ImmutableMatrix(s)
        return out

    monkeypatch.setattr(th, "embedding_expr", wrong_scatter)
    assert not th.derive_embedding_gradient().agrees()
