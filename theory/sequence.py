r"""Embeddings and recurrent cells, derived exactly with SymPy (``000`` § Specialized Layer
Types: Embedding Layers, Positional Embeddings, Recurrent Layer Components).

Conventions. Vectors are columns; :math:`[h, x]` is the concatenation (hidden state first, as
``000`` writes it); :math:`*` and :math:`\circ` are elementwise products; :math:`\sigma` the
logistic sigmoid. torch's cells (``torch.nn.RNNCell``/``LSTMCell``/``GRUCell``) keep two
weight matrices :math:`W_{i\cdot}` (input) and :math:`W_{h\cdot}` (hidden) and **two** bias
vectors :math:`b_{i\cdot}, b_{h\cdot}` per gate; ``000`` writes one matrix on the
concatenation (:math:`W[h, x] = W_h h + W_x x`) and one bias (none in its GRU).

Results (each proved by a :class:`~theory.derivation.Derivation` or an exact helper):

* **Embedding** (:func:`embedding_expr`, :func:`derive_embedding_gradient`): the lookup
  :math:`e_w = E[w,:]` is the product :math:`\mathrm{onehot}(w)^\top E`; its gradient is the
  scatter-add :math:`\partial L/\partial E = \sum_p \mathrm{onehot}(w_p)\,g_p^\top` — rows of
  repeated tokens add up, untouched rows are zero.
* **Parameter counts** (:func:`rnn_params` exact as torch counts, :func:`document_cell_params`
  as ``000`` writes the cells): torch has :math:`GH` more biases per layer-direction
  (:math:`G = 1, 4, 3`). For the RNN and the LSTM only :math:`b_i + b_h` matters (a
  reparametrization); in torch's GRU the candidate's hidden bias :math:`b_{hn}` sits inside
  :math:`r*(W_{hn}h + b_{hn})` and is **not** redundant (:func:`derive_bias_redundancy`).
* **GRU** (:func:`gru_cell_expr`, :func:`derive_gru_update_convention`,
  :func:`derive_gru_reset_position`, :func:`reset_position_map`): ``000``'s update
  :math:`(1-z)h + z\tilde h` and torch's :math:`(1-z)n + zh` are one family (negate the
  update gate's weights: :math:`\sigma(-a) = 1-\sigma(a)`); the reset position is not: with
  the gates matched, a weight :math:`W'` with :math:`W'(r\circ h) = r\circ(Wh)` for all
  :math:`r, h` exists iff :math:`W` is diagonal — always for :math:`H = 1`, never for a
  non-diagonal :math:`W` (minimal separating case :math:`H = 2`, no biases).
* **BPTT** (:func:`rnn_bptt_expr`, :func:`derive_rnn_bptt`, :func:`lstm_cell_path_expr`):
  :math:`\partial h_T/\partial h_0 = \prod_{t=T}^{1}\operatorname{diag}(1-h_t^2)W_{hh}`;
  along the LSTM's cell path :math:`\partial C_T/\partial C_0 = \prod_t \operatorname{diag}(f_t)`.
* **Spectral condition** (:func:`linear_recurrence_gradient_norm`,
  :func:`linear_recurrence_regime`, :func:`derive_spectral_condition`): for
  :math:`h_t = Wh_{t-1}`, :math:`\partial h_T/\partial h_0 = W^T`; :math:`\|W^T\| \to 0` iff
  :math:`\rho(W) < 1`; it grows without bound iff :math:`\rho(W) > 1`, or :math:`\rho(W) = 1`
  with a Jordan block of size :math:`\ge 2` for an eigenvalue of modulus 1; it stays bounded
  (and does not vanish) otherwise. For tanh RNNs
  :math:`\|\partial h_T/\partial h_0\|_2 \le \|W_{hh}\|_2^T` (Pascanu, Mikolov & Bengio 2013).

References: Hochreiter & Schmidhuber (1997), LSTM; Cho et al. (2014), GRU (reset inside the
product: ``000``'s form); the cuDNN/torch GRU (reset after the product, ``GRUCell`` docs);
Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks".
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import sympy

from theory._args import Dim, bounded, dim, flag, int_dim
from theory._args import choice as _choice
from theory.derivation import Derivation, Step

__all__ = [
    "CELLS",
    "GATES",
    "GRU_FORMS",
    "MAX_EXPR_SIZE",
    "MAX_MATRIX_SIZE",
    "MAX_POWER",
    "MAX_STEPS",
    "REGIMES",
    "derive_bias_redundancy",
    "derive_embedding_gradient",
    "derive_gru_reset_position",
    "derive_gru_update_convention",
    "derive_rnn_bptt",
    "derive_spectral_condition",
    "document_cell_params",
    "embedding_expr",
    "embedding_params",
    "embedding_reduction",
    "gru_cell_expr",
    "gru_separating_example",
    "linear_recurrence_gradient_norm",
    "linear_recurrence_regime",
    "lstm_cell_expr",
    "lstm_cell_path_expr",
    "reset_position_map",
    "rnn_bptt_expr",
    "rnn_cell_expr",
    "rnn_params",
]

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
"""Gates per cell (blocks of rows of torch's ``weight_ih``): tanh RNN 1, LSTM 4 (i, f, g, o),
GRU 3 (r, z, n)."""
MAX_EXPR_SIZE = 6
"""Largest vocabulary, width, sequence length and cell size for which symbol matrices are built."""
MAX_STEPS = 4
"""Largest step count of the symbolic BPTT helpers (expressions grow with every step)."""
MAX_MATRIX_SIZE = 4
"""Largest recurrence matrix (n×n) of the exact spectral helpers."""
MAX_POWER = 64
"""Largest exponent T of :func:`linear_recurrence_gradient_norm` (exact rationals grow)."""


# Argument helpers ---------------------------------------------------------------------------


def _small(value: object, name: str, limit: int = MAX_EXPR_SIZE, minimum: int = 1) -> int:
    v = int_dim(value, name, minimum)
    bounded(v, name, limit)
    return v


def _vec(prefix: str, n: int) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix([sympy.Symbol(f"{prefix}_{i + 1}", real=True) for i in range(n)])


def _mat(prefix: str, rows: int, cols: int) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(
        rows, cols, lambda i, j: sympy.Symbol(f"{prefix}_{i + 1}_{j + 1}", real=True)
    )


def _sigmoid(a: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-a))


def _map(f, m: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(m.shape[0], m.shape[1], lambda i, j: f(m[i, j]))


def _weighted(m: sympy.MatrixBase, prefix: str = "c") -> sympy.Expr:
    """:math:`\\sum_{ij} c_{ij}m_{ij}` with free weights: one scalar that is identically zero
    iff every entry is (how matrix identities are stored in a Derivation)."""
    return sum(
        (sympy.Symbol(f"{prefix}_{i + 1}_{j + 1}", real=True) * m[i, j]
         for i in range(m.rows) for j in range(m.cols)),
        sympy.Integer(0),
    )  # fmt: skip


# 1. Embeddings -----------------------------------------------------------------------------


def embedding_expr(V: int, d: int, indices: Sequence[int] = (0,)) -> dict[str, sympy.Matrix]:
    r"""An embedding lookup and its gradient as exact SymPy matrices (``000`` § Embedding
    Layers; torch ``nn.Embedding``).

    ``E`` (V×d, symbols ``E_v_j``), ``onehot`` (n×V, row :math:`p` is
    :math:`\mathrm{onehot}(w_p)^\top`), ``lookup`` :math:`= \mathrm{onehot}\cdot E` (row
    :math:`p` is :math:`E[w_p,:]`), ``rows`` (the rows of ``E`` picked by index), ``G`` (n×d
    upstream gradients ``g_p_j``), ``grad`` :math:`= \mathrm{onehot}^\top G =
    \sum_p \mathrm{onehot}(w_p)g_p^\top` and ``scatter`` (the same built by a scatter-add loop:
    ``grad[w_p] += g_p``; repeated indices add).

    ``V``, ``d`` integers in ``[1, MAX_EXPR_SIZE]``; ``indices`` a sequence of 1 to
    ``MAX_EXPR_SIZE`` integers in ``[0, V)`` (repeats allowed).

    >>> embedding_expr(2, 1, (1,))["lookup"]
    Matrix([[E_2_1]])
    """
    v, width = _small(V, "V"), _small(d, "d")
    if isinstance(indices, str | bytes | bytearray) or not isinstance(indices, Sequence):
        raise TypeError(f"indices must be a sequence of integers in [0, V), got {indices!r}")
    if not 1 <= len(indices) <= MAX_EXPR_SIZE:
        raise ValueError(
            f"indices must hold 1 to {MAX_EXPR_SIZE} token indices, got {len(indices)}"
        )
    idx = [int_dim(w, f"indices[{p}]", 0) for p, w in enumerate(indices)]
    for p, w in enumerate(idx):
        if w >= v:
            raise ValueError(f"indices[{p}] must be in [0, V) = [0, {v}), got {w}")
    n = len(idx)
    e = _mat("E", v, width)
    onehot = sympy.ImmutableMatrix(n, v, lambda p, j: 1 if idx[p] == j else 0)
    g = _mat("g", n, width)
    scatter = sympy.zeros(v, width)
    for p, w in enumerate(idx):
        scatter[w, :] = scatter[w, :] + g[p, :]
    return {
        "E": e,
        "onehot": onehot,
        "lookup": sympy.ImmutableMatrix(onehot * e),
        "rows": sympy.ImmutableMatrix([list(e[w, :]) for w in idx]),
        "G": g,
        "grad": sympy.ImmutableMatrix(onehot.T * g),
        "scatter": sympy.ImmutableMatrix(scatter),
    }


def embedding_params(V: Dim, d: Dim) -> Dim:
    r"""Trainable parameters of an embedding table: :math:`Vd` (``000`` § Embedding Layers:
    :math:`E \in \mathbb R^{V\times d}`, every entry learned; torch ``nn.Embedding(V, d)``).
    Integers or SymPy expressions.

    >>> embedding_params(10000, 300)
    3000000
    """
    return dim(V, "V") * dim(d, "d")


def embedding_reduction(V: Dim, d: Dim) -> dict[str, object]:
    r"""What the lookup does to the representation of one token (``000``: "reduce
    dimensionality: map sparse one-hot vectors to dense representations"), exactly:

    * ``onehot_dim`` :math:`V` and ``onehot_nonzeros`` 1 (the input :math:`\mathrm{onehot}(w)`);
    * ``embedding_dim`` :math:`d` and ``dense_nonzeros`` :math:`d` at most (the row
      :math:`E[w,:]`; exactly :math:`d` for a generic table);
    * ``reduces_dimension``: :math:`d < V` (a SymPy relation for symbolic sizes). The map is
      a dimension *reduction* only when :math:`d < V`; it is always a *densification*
      (1 non-zero becomes up to :math:`d`); for :math:`d \ge V` it is an injective linear map
      into a space of equal or larger dimension (a generic :math:`E` has rank :math:`V`).
    """
    v, width = dim(V, "V"), dim(d, "d")
    reduces = (width < v) if isinstance(v, int) and isinstance(width, int) else sympy.Lt(width, v)
    return {
        "onehot_dim": v,
        "onehot_nonzeros": 1,
        "embedding_dim": width,
        "dense_nonzeros": width,
        "reduces_dimension": reduces,
    }


def derive_embedding_gradient() -> Derivation:
    r"""The embedding gradient is a scatter-add, derived with ``sympy.diff`` for
    :math:`V = 3`, :math:`d = 2` and the token sequence :math:`(2, 0, 2)` (index 2 repeated)."""
    ex = embedding_expr(3, 2, (2, 0, 2))
    e, g = ex["E"], ex["G"]
    loss = sum(g[p, j] * ex["lookup"][p, j] for p in range(g.rows) for j in range(g.cols))
    diffed = sympy.ImmutableMatrix(e.rows, e.cols, lambda i, j: sympy.diff(loss, e[i, j]))
    return Derivation(
        title=r"Embedding: $e_w = \mathrm{onehot}(w)^\top E$ and "
        r"$\partial L/\partial E = \sum_p \mathrm{onehot}(w_p)\,g_p^\top$ (a scatter-add)",
        steps=(
            Step(
                r"The lookup is a product with a one-hot row: for $w = (2, 0, 2)$, $V = 3$, "
                r"$d = 2$ (0-based indices) the rows of $\mathrm{onehot}\cdot E$ are "
                r"$E[w_p, :]$:",
                sympy.Eq(sympy.Symbol("O"), ex["onehot"], evaluate=False),
            ),
            Step(
                r"With upstream gradients $g_p = \partial L/\partial e_{w_p}$, "
                r"$L = \sum_p g_p\cdot e_{w_p}$ to first order; `sympy.diff` with respect to "
                r"every entry of $E$ gives",
                sympy.Eq(sympy.Symbol(r"\partial L/\partial E"), diffed, evaluate=False),
            ),
            Step(
                r"which is $O^\top G$: row $v$ is $\sum_{p: w_p = v} g_p$ — the two gradients "
                r"of the repeated token 2 add up, row 1 (never looked up) is zero. The table "
                r"is a trainable parameter updated only at the rows that occur (000 "
                r"§ Embedding Layers; torch `nn.Embedding`, `index_add_` in its backward)."
            ),
        ),
        claimed=_weighted(ex["scatter"]),
        derived=_weighted(diffed),
        scope="exact identity for V = 3, d = 2, w = (2, 0, 2) (every V, d <= 3 and index "
        "sequence of length <= 3 in the tests)",
    )


# 2. Parameter counts -------------------------------------------------------------------------


def rnn_params(
    input_size: Dim,
    hidden_size: Dim,
    bias: bool = True,
    num_layers: Dim = 1,
    bidirectional: bool = False,
    cell: str = "rnn",
    proj_size: Dim = 0,
) -> Dim:
    r"""Parameters of ``torch.nn.RNN``/``LSTM``/``GRU`` exactly as torch counts them
    (``sum(p.numel() for p in module.parameters())``).

    Per layer and direction, with :math:`G` gates (:data:`GATES`: 1, 4, 3), hidden size
    :math:`H`, layer input :math:`I_\ell` and recurrent width :math:`P` (:math:`= H`, or
    ``proj_size`` for an LSTM with projections):

    .. math:: G H (I_\ell + P) + 2GH\,[\text{bias}] + PH\,[\text{proj}]

    (``weight_ih`` :math:`GH\times I_\ell`, ``weight_hh`` :math:`GH\times P`, **two** bias
    vectors ``bias_ih``, ``bias_hh``, and ``weight_hr`` :math:`P\times H`). Layer 1 takes
    :math:`I_1 =` ``input_size``; later layers take the previous output,
    :math:`I_\ell = P\cdot(2 \text{ if bidirectional else } 1)`.

    ``input_size``, ``hidden_size``, ``num_layers`` integers >= 1 or SymPy expressions;
    ``proj_size`` an integer >= 0 (only ``cell="lstm"``; must be below ``hidden_size``);
    ``bias``, ``bidirectional`` bools; ``cell`` one of :data:`CELLS`.

    >>> rnn_params(10, 20, cell="lstm")
    2560
    """
    i0, h = dim(input_size, "input_size"), dim(hidden_size, "hidden_size")
    b, bi = flag(bias, "bias"), flag(bidirectional, "bidirectional")
    layers = dim(num_layers, "num_layers")
    kind = _choice(cell, "cell", CELLS)
    p = dim(proj_size, "proj_size", 0)
    if p != 0 and kind != "lstm":
        raise ValueError(f"proj_size must be 0 for cell={kind!r} (only LSTM projects), got {p}")
    if isinstance(p, int) and isinstance(h, int) and p >= h:
        raise ValueError(f"proj_size must be smaller than hidden_size={h}, got {p}")
    g = GATES[kind]
    rec = h if p == 0 else p
    dirs = 2 if bi else 1

    def layer(inp: Dim) -> Dim:
        return g * h * (inp + rec) + (2 * g * h if b else 0) + (rec * h if p != 0 else 0)

    first = layer(i0)
    rest = layer(rec * dirs)
    total = dirs * (first + (layers - 1) * rest)
    return sympy.expand(total) if isinstance(total, sympy.Expr) else total


def document_cell_params(input_size: Dim, hidden_size: Dim, cell: str) -> Dim:
    r"""Parameters of one cell as ``000`` § Recurrent Layer Components writes it (one matrix on
    :math:`[h, x]` per gate, :math:`H \times (H + I)`):

    * ``"rnn"``: :math:`W_{hh}, W_{xh}, b_h`: :math:`H(H + I) + H`;
    * ``"lstm"``: :math:`W_f, W_i, W_C, W_o` and :math:`b_f, b_i, b_C, b_o`:
      :math:`4H(H + I) + 4H`;
    * ``"gru"``: :math:`W_r, W_z, W` and no bias at all: :math:`3H(H + I)`.

    torch (:func:`rnn_params`) has :math:`GH` more for the RNN and the LSTM (a second bias
    vector: redundant, only the sum matters) and :math:`6H` more for the GRU (all six bias
    vectors; :math:`b_{hn}` is not redundant, :func:`derive_bias_redundancy`).

    >>> document_cell_params(10, 20, "gru")
    1800
    """
    i, h = dim(input_size, "input_size"), dim(hidden_size, "hidden_size")
    kind = _choice(cell, "cell", CELLS)
    g = GATES[kind]
    total = g * h * (h + i) + (0 if kind == "gru" else g * h)
    return sympy.expand(total) if isinstance(total, sympy.Expr) else total


# 3. Cells ------------------------------------------------------------------------------------


def rnn_cell_expr(input_size: int, hidden_size: int) -> dict[str, sympy.Matrix]:
    r"""One step of ``000``'s vanilla RNN, :math:`h_t = \tanh(W_{hh}h_{t-1} + W_{xh}x_t + b_h)`,
    as SymPy matrices: ``h`` (:math:`h_{t-1}`), ``x``, ``W_hh``, ``W_xh``, ``b_h``, ``h_new``.
    torch's ``RNNCell`` is the same function with :math:`W_{xh} =` ``weight_ih``,
    :math:`W_{hh} =` ``weight_hh`` and :math:`b_h =` ``bias_ih + bias_hh``. Sizes integers in
    ``[1, MAX_EXPR_SIZE]``."""
    i, hs = _small(input_size, "input_size"), _small(hidden_size, "hidden_size")
    h, x = _vec("h", hs), _vec("x", i)
    whh, wxh, b = _mat("W_hh", hs, hs), _mat("W_xh", hs, i), _vec("b_h", hs)
    return {"h": h, "x": x, "W_hh": whh, "W_xh": wxh, "b_h": b,
            "h_new": _map(sympy.tanh, whh * h + wxh * x + b)}  # fmt: skip


def lstm_cell_expr(input_size: int, hidden_size: int) -> dict[str, sympy.Matrix]:
    r"""One step of ``000``'s LSTM as SymPy matrices (Hochreiter & Schmidhuber 1997 with the
    forget gate of Gers et al. 2000):

    .. math:: f = \sigma(W_f[h, x] + b_f),\ i = \sigma(W_i[h, x] + b_i),\
              \tilde C = \tanh(W_C[h, x] + b_C),\ o = \sigma(W_o[h, x] + b_o),

    .. math:: C_{new} = f * C + i * \tilde C,\qquad h_{new} = o * \tanh(C_{new}).

    Keys ``h``, ``x``, ``C``, ``W_f``, ``W_i``, ``W_C``, ``W_o`` (each :math:`H\times(H+I)`,
    columns of :math:`h` first), ``b_f`` … ``b_o``, ``f``, ``i``, ``C_tilde``, ``o``, ``C_new``,
    ``h_new``. torch's ``LSTMCell`` orders its gate blocks i, f, g, o and splits
    :math:`W_f[h, x] = W_{hf}h + W_{if}x`, :math:`b_f = b_{if} + b_{hf}`."""
    i, hs = _small(input_size, "input_size"), _small(hidden_size, "hidden_size")
    h, x, c = _vec("h", hs), _vec("x", i), _vec("C", hs)
    hx = sympy.ImmutableMatrix.vstack(h, x)
    out: dict[str, sympy.Matrix] = {"h": h, "x": x, "C": c}
    for gate, act in (("f", _sigmoid), ("i", _sigmoid), ("C", sympy.tanh), ("o", _sigmoid)):
        w, b = _mat(f"W_{gate}", hs, hs + i), _vec(f"b_{gate}", hs)
        out[f"W_{gate}"], out[f"b_{gate}"] = w, b
        out["C_tilde" if gate == "C" else gate] = _map(act, w * hx + b)
    c_new = sympy.ImmutableMatrix(
        [out["f"][k] * c[k] + out["i"][k] * out["C_tilde"][k] for k in range(hs)]
    )
    out["C_new"] = c_new
    out["h_new"] = sympy.ImmutableMatrix([out["o"][k] * sympy.tanh(c_new[k]) for k in range(hs)])
    return out


GRU_FORMS = ("d000", "torch")


def gru_cell_expr(input_size: int, hidden_size: int, form: str = "d000") -> dict[str, sympy.Matrix]:
    r"""One GRU step as SymPy matrices, in one of two forms (:data:`GRU_FORMS`):

    * ``"d000"`` (``000`` § Recurrent Layer Components; Cho et al. 2014): no biases,

      .. math:: r = \sigma(W_r[h, x]),\ z = \sigma(W_z[h, x]),\
                \tilde h = \tanh(W[r * h, x]),\ h_{new} = (1-z)*h + z*\tilde h;

      keys ``W_r``, ``W_z``, ``W`` (:math:`H\times(H+I)`), ``r``, ``z``, ``candidate``,
      ``h_new``;
    * ``"torch"`` (``torch.nn.GRUCell``): reset *after* the product, update the other way,

      .. math:: r = \sigma(W_{ir}x + b_{ir} + W_{hr}h + b_{hr}),\
                z = \sigma(W_{iz}x + b_{iz} + W_{hz}h + b_{hz}),

      .. math:: n = \tanh(W_{in}x + b_{in} + r * (W_{hn}h + b_{hn})),\
                h_{new} = (1-z)*n + z*h;

      keys ``W_ir`` … ``W_hn``, ``b_ir`` … ``b_hn``, ``r``, ``z``, ``candidate`` (:math:`n`),
      ``h_new``.

    Both have ``h`` and ``x``. Sizes integers in ``[1, MAX_EXPR_SIZE]``.
    """
    i, hs = _small(input_size, "input_size"), _small(hidden_size, "hidden_size")
    kind = _choice(form, "form", GRU_FORMS)
    h, x = _vec("h", hs), _vec("x", i)
    out: dict[str, sympy.Matrix] = {"h": h, "x": x}
    if kind == "d000":
        hx = sympy.ImmutableMatrix.vstack(h, x)
        for name in ("W_r", "W_z", "W"):
            out[name] = _mat(name, hs, hs + i)
        r = _map(_sigmoid, out["W_r"] * hx)
        z = _map(_sigmoid, out["W_z"] * hx)
        rh = sympy.ImmutableMatrix([r[k] * h[k] for k in range(hs)])
        cand = _map(sympy.tanh, out["W"] * sympy.ImmutableMatrix.vstack(rh, x))
        new = sympy.ImmutableMatrix([(1 - z[k]) * h[k] + z[k] * cand[k] for k in range(hs)])
    else:
        for g in ("r", "z", "n"):
            out[f"W_i{g}"], out[f"W_h{g}"] = _mat(f"W_i{g}", hs, i), _mat(f"W_h{g}", hs, hs)
            out[f"b_i{g}"], out[f"b_h{g}"] = _vec(f"b_i{g}", hs), _vec(f"b_h{g}", hs)

        def pre(g: str) -> sympy.Matrix:
            return out[f"W_i{g}"] * x + out[f"b_i{g}"] + out[f"W_h{g}"] * h + out[f"b_h{g}"]

        r, z = _map(_sigmoid, pre("r")), _map(_sigmoid, pre("z"))
        hn = out["W_hn"] * h + out["b_hn"]
        inner = out["W_in"] * x + out["b_in"]
        cand = sympy.ImmutableMatrix([sympy.tanh(inner[k] + r[k] * hn[k]) for k in range(hs)])
        new = sympy.ImmutableMatrix([(1 - z[k]) * cand[k] + z[k] * h[k] for k in range(hs)])
    out.update({"r": r, "z": z, "candidate": cand, "h_new": new})
    return out


def derive_bias_redundancy() -> Derivation:
    r"""torch's second bias vector: a reparametrization for the RNN, the LSTM and the GRU's
    r and z gates (only :math:`b_i + b_h` enters), **not** for the GRU candidate's
    :math:`b_{hn}`.

    Shifting :math:`(b_{in}, b_{hn}) \to (b_{in} + c, b_{hn} - c)` changes the candidate's
    pre-activation by :math:`c(1 - r)`, non-zero whenever :math:`c \ne 0` (since
    :math:`0 < r < 1`). Minimal example (:math:`H = I = 1`, all weights and the other biases
    0, so :math:`r = \sigma(0) = 1/2`): :math:`(b_{in}, b_{hn}) = (0, 1)` gives
    :math:`n = \tanh(1/2)`, the same sum :math:`(1, 0)` gives :math:`n = \tanh(1)`."""
    e = gru_cell_expr(1, 1, "torch")
    c = sympy.Symbol("c", real=True)
    b_in, b_hn = e["b_in"][0], e["b_hn"][0]
    n = e["candidate"][0]
    shifted = n.subs({b_in: b_in + c, b_hn: b_hn - c}, simultaneous=True)
    arg = n.args[0]
    arg_shift = shifted.args[0]
    r = e["r"][0]
    zero = {s: 0 for s in n.free_symbols if s not in (b_in, b_hn)}
    ex_a = n.subs(zero).subs({b_in: 0, b_hn: 1})
    ex_b = n.subs(zero).subs({b_in: 1, b_hn: 0})
    b_ih, b_hh = sympy.symbols("b_ih b_hh", real=True)
    return Derivation(
        title=r"torch's two bias vectors: $b_{i} + b_{h}$ is all that matters, except "
        r"$b_{hn}$ in the GRU candidate",
        steps=(
            Step(
                r"RNN, LSTM and the GRU's $r$, $z$ gates: the pre-activation is "
                r"$W_ix + b_i + W_hh + b_h$, so $(b_i, b_h) \to (b_i + c, b_h - c)$ leaves "
                r"every output unchanged: $GH$ of torch's $2GH$ biases are redundant (000 "
                r"writes one bias: $b = b_i + b_h$).",
                sympy.Eq(b_ih + b_hh, (b_ih + c) + (b_hh - c), evaluate=False),
            ),
            Step(
                r"GRU candidate ($H = I = 1$): $n = \tanh(W_{in}x + b_{in} + r(W_{hn}h + "
                r"b_{hn}))$; the same shift moves the pre-activation by",
                sympy.Eq(sympy.Symbol(r"\Delta"), sympy.factor(arg_shift - arg), evaluate=False),
            ),
            Step(
                r"which is $c(1 - r) \neq 0$ for $c \ne 0$ because $0 < r < 1$: $b_{hn}$ is "
                r"multiplied by the reset gate, $b_{in}$ is not, so they are two parameters. "
                r"Example with all weights and other biases 0 ($r = 1/2$):",
                sympy.Eq(
                    sympy.Tuple(ex_a, ex_b),
                    sympy.Tuple(sympy.tanh(sympy.Rational(1, 2)), sympy.tanh(1)),
                    evaluate=False,
                ),
            ),
        ),
        claimed=sympy.expand(arg_shift - arg),
        derived=sympy.expand(c * (1 - r)),
        scope="proved for all weights, inputs and biases (H = I = 1; the candidate acts "
        "elementwise, so every H)",
    )


def derive_gru_update_convention() -> Derivation:
    r"""``000``'s update :math:`(1-z)h + z\tilde h` and torch's :math:`(1-z')n + z'h` are an
    exact reparametrization: :math:`z' = 1 - z` by negating the update gate's weights (and
    biases), since :math:`\sigma(-a) = 1 - \sigma(a)`."""
    a, h, n = sympy.symbols("a h n", real=True)
    z_doc = _sigmoid(a)
    z_torch = _sigmoid(-a)  # torch's gate with W_z -> -W_z
    doc = (1 - z_doc) * h + z_doc * n
    tor = (1 - z_torch) * n + z_torch * h
    return Derivation(
        title=r"GRU update: $(1-z)h + z\tilde h$ (000) equals torch's $(1-z')n + z'h$ with "
        r"$z' = \sigma(-a)$",
        steps=(
            Step(
                r"The logistic function is odd about $1/2$:",
                sympy.Eq(_sigmoid(-a), 1 - _sigmoid(a), evaluate=False),
            ),
            Step(
                r"So torch's update gate with the weights and biases of $z$ negated "
                r"($W_{iz}, W_{hz}, b_{iz}, b_{hz} \to -\cdot$) is $z' = 1 - z$, and "
                r"$(1 - z')n + z'h = zn + (1 - z)h$: the same function for every input, with "
                r"$n$ in the role of $\tilde h$. The update convention is a reparametrization "
                r"(a bijection of the weights), not a different model.",
                sympy.Eq(sympy.Symbol("h_{new}"), doc, evaluate=False),
            ),
        ),
        claimed=doc,
        derived=tor,
        scope="proved for every pre-activation a and every h, candidate (elementwise, so every H)",
    )


def _as_matrix(value: object, name: str, square: bool = True) -> sympy.ImmutableMatrix:
    """An exact square matrix (ints, Fractions, SymPy rationals/expressions; floats taken as
    their exact binary value) of size ``1..MAX_MATRIX_SIZE``."""
    if isinstance(value, sympy.MatrixBase):
        rows = value.tolist()
    elif isinstance(value, np.ndarray):
        if value.ndim != 2:
            raise ValueError(f"{name} must be a 2-D square matrix, got shape {value.shape}")
        rows = value.tolist()
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        rows = list(value)
        for r_ in rows:
            if isinstance(r_, str | bytes | bytearray) or not isinstance(r_, Sequence):
                raise TypeError(f"{name} must be a square matrix (a list of rows), got {value!r}")
        rows = [list(r_) for r_ in rows]
    else:
        raise TypeError(f"{name} must be a square matrix (nested list, array or SymPy "
                        f"Matrix), got {type(value).__name__}")  # fmt: skip
    n = len(rows)
    if n == 0 or any(len(r_) != n for r_ in rows):
        raise ValueError(f"{name} must be a non-empty square matrix, got row lengths "
                         f"{[len(r_) for r_ in rows]}")  # fmt: skip
    if n > MAX_MATRIX_SIZE:
        raise ValueError(f"{name} must be at most {MAX_MATRIX_SIZE}x{MAX_MATRIX_SIZE}, got {n}x{n}")
    out = []
    for r_ in rows:
        row = []
        for v in r_:
            if isinstance(v, bool | np.bool_):
                raise TypeError(f"{name} entries must be real numbers, got a bool")
            if isinstance(v, sympy.Basic):
                if not isinstance(v, sympy.Expr) or v.has(sympy.nan, sympy.zoo, sympy.oo,
                                                          -sympy.oo):  # fmt: skip
                    raise ValueError(f"{name} entries must be finite, got {v!r}")
                if v.is_number and v.is_real is not True:
                    raise TypeError(f"{name} entries must be real, got {v!r}")
                row.append(v)
            elif isinstance(v, numbers.Integral):
                row.append(sympy.Integer(int(v)))
            elif isinstance(v, Fraction):
                row.append(sympy.Rational(v.numerator, v.denominator))
            elif isinstance(v, numbers.Real):
                f = float(v)
                if f != f or f in (float("inf"), float("-inf")):
                    raise ValueError(f"{name} entries must be finite real numbers, got {v!r}")
                row.append(sympy.Rational(f))
            else:
                raise TypeError(f"{name} entries must be real numbers, got {v!r}")
        out.append(row)
    return sympy.ImmutableMatrix(out)


def reset_position_map(W: object) -> sympy.ImmutableMatrix | None:
    r"""The weight :math:`W'` with :math:`W'(r\circ h) = r\circ(Wh)` for **all**
    :math:`r, h \in \mathbb R^H`, or ``None`` when there is none.

    This is the question whether torch's candidate term :math:`r*(W_{hn}h)` (reset after the
    product) can be written as ``000``'s :math:`W'(r*h)` (reset before), with the gates
    matched. Both sides are bilinear in :math:`(r, h)`; equating the coefficients of
    :math:`r_kh_j` in component :math:`i` gives :math:`W'_{ik}\delta_{kj} = \delta_{ik}W_{ij}`,
    solved here with SymPy: a solution exists iff :math:`W` is diagonal, and then
    :math:`W' = W`. (The identity must hold on the open set :math:`r \in (0, 1)^H`, which
    already forces the polynomial coefficients to agree.)

    ``W`` a square matrix of size ``1..MAX_MATRIX_SIZE`` (nested lists, NumPy array or SymPy
    matrix of real numbers or expressions).

    >>> reset_position_map([[2]])
    Matrix([[2]])
    >>> reset_position_map([[0, 1], [0, 0]]) is None
    True
    """
    w = _as_matrix(W, "W")
    n = w.rows
    wp = _mat("Wp", n, n)
    r, h = _vec("r", n), _vec("h", n)
    rh = sympy.ImmutableMatrix([r[k] * h[k] for k in range(n)])
    wh = w * h
    gap = wp * rh - sympy.ImmutableMatrix([r[k] * wh[k] for k in range(n)])
    eqs = []
    for i in range(n):
        poly = sympy.Poly(sympy.expand(gap[i]), *r, *h)
        eqs += [cf for cf in poly.coeffs() if cf != 0]
    eqs = [sympy.expand(e_) for e_ in eqs if sympy.expand(e_) != 0]
    if not eqs:
        return sympy.ImmutableMatrix(wp)
    sol = sympy.solve(eqs, list(wp), dict=True)
    if not sol:
        return None
    s = sol[0]
    out = wp.subs(s)
    return sympy.ImmutableMatrix(out)


def derive_gru_reset_position() -> Derivation:
    r"""Where the reset gate acts is **not** a reparametrization (for :math:`H \ge 2`).

    With the gates matched, ``000``'s :math:`W'(r\circ h)` equals torch's :math:`r\circ(Wh)`
    for all :math:`r, h` iff :math:`W` is diagonal (:func:`reset_position_map`). For
    :math:`H = 1` every :math:`W` is diagonal: the forms coincide without biases. Minimal
    separation: :math:`H = 2`, :math:`I = 1`, no biases, :math:`W_{hn} = W =
    \begin{pmatrix}0&1\\0&0\end{pmatrix}`, :math:`W_{ir} = (1, 0)^\top` (so
    :math:`r = (\sigma(x), 1/2)`), every other weight 0 (so :math:`z = z' = 1/2`),
    :math:`x = 1`, :math:`h = (0, 1)`: torch gives :math:`h_{new,1} =
    \tfrac12\tanh(\sigma(1)) \approx 0.31178`, ``000`` gives :math:`\tfrac12\tanh(\tfrac12)
    \approx 0.23106`."""
    w2 = sympy.ImmutableMatrix([[0, 1], [0, 0]])
    r1, r2, h1, h2 = sympy.symbols("r_1 r_2 h_1 h_2", real=True)
    rv, hv = sympy.Matrix([r1, r2]), sympy.Matrix([h1, h2])
    after = sympy.ImmutableMatrix([rv[k] * (w2 * hv)[k] for k in range(2)])
    before = sympy.ImmutableMatrix(w2 * sympy.Matrix([r1 * h1, r2 * h2]))
    torch_h, doc_h = gru_separating_example()
    w_sym = _mat("W", 2, 2)
    wp = _mat("Wp", 2, 2)
    gap = wp * sympy.Matrix([r1 * h1, r2 * h2]) - sympy.Matrix(
        [r1 * (w_sym * hv)[0], r2 * (w_sym * hv)[1]]
    )
    return Derivation(
        title=r"GRU reset position: $W'(r\circ h) = r\circ(Wh)$ for all $r, h$ iff $W$ is "
        r"diagonal",
        steps=(
            Step(
                r"Reset after the product (torch) minus reset before (000), $H = 2$, with a "
                r"free $W'$ and the gates matched, as a polynomial in $r, h$:",
                sympy.Eq(sympy.Symbol(r"W'(r\circ h) - r\circ(Wh)"), gap, evaluate=False),
            ),
            Step(
                r"It vanishes on the open set $r \in (0,1)^2$, $h \in \mathbb R^2$ only if every "
                r"coefficient does: $r_1h_1: W'_{11} = W_{11}$; $r_2h_2: W'_{22} = W_{22}$; "
                r"$r_1h_2: W_{12} = 0$ and $r_2h_1: W'_{12} = 0$; $r_2h_1: W_{21} = 0$ and "
                r"$r_1h_2: W'_{21} = 0$. So a map exists iff $W$ is diagonal ($W' = W$). For "
                r"$H = 1$ every $W$ is diagonal: without biases the two forms coincide; they "
                r"separate first at $H = 2$ (and at $H = 1$ only through the biases, which 000's "
                r"GRU does not have)."
            ),
            Step(
                r"Minimal separating configuration: $W = W_{hn} = \begin{pmatrix}0&1\\0&0"
                r"\end{pmatrix}$, $r = (r_1, r_2)$: reset after vs before the product",
                sympy.Eq(after, before, evaluate=False),
            ),
            Step(
                r"With $I = 1$, $W_{ir} = (1, 0)^\top$, all other weights and biases 0 "
                r"($r = (\sigma(1), 1/2)$, $z = 1/2$ in both conventions), $x = 1$, "
                r"$h = (0, 1)$, the first component of $h_{new}$ is (torch, 000):",
                sympy.Eq(torch_h, doc_h, evaluate=False),
            ),
        ),
        claimed=after[0],
        derived=before[0],
        scope="proved for every real W (H = 2; the tests run reset_position_map for H <= 3) "
        "and evaluated at the separating configuration",
    )


def gru_separating_example() -> tuple[sympy.Expr, sympy.Expr]:
    r"""The first component of :math:`h_{new}` of the separating configuration of
    :func:`derive_gru_reset_position`, exactly: ``(torch, d000)`` =
    :math:`(\tfrac12\tanh(\sigma(1)), \tfrac12\tanh(\tfrac12))` with
    :math:`\sigma(1) = 1/(1 + e^{-1})`; built from :func:`gru_cell_expr` (torch form with the
    weights above; ``000`` form with the matched weights :math:`W_r = [W_{hr}, W_{ir}]`,
    :math:`W_z = -[W_{hz}, W_{iz}]`, :math:`W = [W_{hn}, W_{in}]`)."""
    t = gru_cell_expr(1, 2, "torch")
    d = gru_cell_expr(1, 2, "d000")
    vals_t: dict = {s: 0 for k, m in t.items() if k.startswith(("W_", "b_")) for s in m}
    vals_t[t["W_ir"][0, 0]] = 1
    vals_t[t["W_hn"][0, 1]] = 1
    vals_t.update({t["x"][0]: 1, t["h"][0]: 0, t["h"][1]: 1})
    vals_d: dict = {s: 0 for k, m in d.items() if k.startswith("W") for s in m}
    vals_d[d["W_r"][0, 2]] = 1  # the x column of W_r, row 1 (= W_ir[0, 0])
    vals_d[d["W"][0, 1]] = 1  # the h_2 column of W, row 1 (= W_hn[0, 1])
    vals_d.update({d["x"][0]: 1, d["h"][0]: 0, d["h"][1]: 1})
    return t["h_new"][0].subs(vals_t), d["h_new"][0].subs(vals_d)


# 4. Backpropagation through time --------------------------------------------------------------


def rnn_bptt_expr(T: int, hidden_size: int = 1) -> dict[str, sympy.Matrix]:
    r""":math:`\partial h_T/\partial h_0` of a tanh RNN
    :math:`h_t = \tanh(W_{hh}h_{t-1} + W_{xh}x_t + b)` (scalar input per step), two ways:
    ``jacobian`` by ``sympy.diff`` of the unrolled :math:`h_T` and ``product``
    :math:`= \prod_{t=T}^{1}\operatorname{diag}(1 - h_t^2)\,W_{hh}` (the BPTT formula; later
    factors on the left). Also ``h`` (the list :math:`h_0 … h_T` as column matrices),
    ``W_hh``. ``T`` in ``[1, MAX_STEPS]``, ``hidden_size`` in ``[1, 3]``."""
    steps = _small(T, "T", MAX_STEPS)
    n = _small(hidden_size, "hidden_size", 3)
    w, u, b = _mat("W", n, n), _vec("u", n), _vec("b", n)
    xs = sympy.symbols(f"x_1:{steps + 1}", real=True)
    h0 = _vec("h0", n)
    hs = [h0]
    for t in range(steps):
        hs.append(_map(sympy.tanh, w * hs[-1] + u * xs[t] + b))
    jac = sympy.ImmutableMatrix(hs[-1].jacobian(h0))
    prod = sympy.eye(n)
    for t in range(1, steps + 1):
        d = sympy.diag(*[1 - hs[t][k] ** 2 for k in range(n)])
        prod = d * w * prod
    return {"h": hs, "W_hh": w, "jacobian": jac, "product": sympy.ImmutableMatrix(prod)}


def derive_rnn_bptt() -> Derivation:
    r"""BPTT through a tanh RNN: :math:`\partial h_T/\partial h_0 = \prod_t
    \operatorname{diag}(1-h_t^2)W_{hh}`, by ``sympy.diff`` for :math:`H = 2`, :math:`T = 3`."""
    e = rnn_bptt_expr(3, 2)
    d_sym = sympy.Symbol(r"\operatorname{diag}(1-h_t^2)")
    return Derivation(
        title=r"BPTT: $\partial h_T/\partial h_0 = \prod_{t=T}^{1}\operatorname{diag}"
        r"(1-h_t^2)\,W_{hh}$",
        steps=(
            Step(
                r"$h_t = \tanh(a_t)$, $a_t = W_{hh}h_{t-1} + W_{xh}x_t + b$; "
                r"$\tanh' = 1 - \tanh^2$, so one step's Jacobian is",
                sympy.Eq(
                    sympy.Symbol(r"\partial h_t/\partial h_{t-1}"),
                    sympy.MatMul(d_sym, sympy.Symbol("W_{hh}")),
                    evaluate=False,
                ),
            ),
            Step(
                r"The chain rule multiplies them, latest on the left. Checked as one identity "
                r"(free weights on all entries) against `sympy.diff` of the unrolled $h_3$ "
                r"for $H = 2$, $T = 3$ ($T \le 4$, $H \le 2$ in the tests, and against torch "
                r"autograd numerically). Since $0 < 1 - h_t^2 \le 1$, "
                r"$\|\partial h_T/\partial h_0\|_2 \le \|W_{hh}\|_2^T$."
            ),
        ),
        claimed=_weighted(e["product"]),
        derived=_weighted(e["jacobian"]),
        scope="exact identity for H = 2, T = 3 (H <= 2, T <= 4 in the tests)",
    )


def lstm_cell_path_expr(T: int) -> dict[str, object]:
    r"""The LSTM's cell path (the constant-error carousel), scalar cell, ``T`` steps in
    ``[1, MAX_STEPS]``:

    * ``cell_path``: with the gates as free symbols :math:`f_t, i_t, g_t`
      (:math:`C_t = f_tC_{t-1} + i_tg_t`), ``sympy.diff`` of :math:`C_T` by :math:`C_0` —
      equal to ``product`` :math:`\prod_t f_t` (no activation derivative on the path: with
      :math:`f_t \approx 1` the error is carried unchanged);
    * ``full`` (``T`` ≤ 2 only, else None): for the complete scalar LSTM, where the gates
      depend on :math:`h_{t-1} = o_{t-1}\tanh(C_{t-1})`, the total derivative
      :math:`dC_T/dC_0`; it equals :math:`\prod_t f_t` plus terms through :math:`h`
      (``extra``), which vanish for :math:`T = 1` (the gates see :math:`h_0`, not :math:`C_0`)
      and not in general for :math:`T = 2`."""
    steps = _small(T, "T", MAX_STEPS)
    f = sympy.symbols(f"f_1:{steps + 1}", real=True)
    i = sympy.symbols(f"i_1:{steps + 1}", real=True)
    g = sympy.symbols(f"g_1:{steps + 1}", real=True)
    c0 = sympy.Symbol("C_0", real=True)
    c = c0
    for t in range(steps):
        c = f[t] * c + i[t] * g[t]
    out: dict[str, object] = {
        "cell_path": sympy.diff(c, c0),
        "product": sympy.Mul(*f),
        "full": None,
        "extra": None,
    }
    if steps <= 2:
        x = sympy.symbols(f"x_1:{steps + 1}", real=True)
        h0 = sympy.Symbol("h_0", real=True)
        wt = {gate: sympy.symbols(f"w_{gate}h w_{gate}x b_{gate}", real=True)
              for gate in "fiCo"}  # fmt: skip
        h, cc, fs = h0, c0, []
        for t in range(steps):
            pre = {gate: w[0] * h + w[1] * x[t] + w[2] for gate, w in wt.items()}
            ft, it = _sigmoid(pre["f"]), _sigmoid(pre["i"])
            gt, ot = sympy.tanh(pre["C"]), _sigmoid(pre["o"])
            cc = ft * cc + it * gt
            h = ot * sympy.tanh(cc)
            fs.append(ft)
        full = sympy.diff(cc, c0)
        out["full"] = full
        out["extra"] = full - sympy.Mul(*fs)
    return out


# 5. The spectral condition -------------------------------------------------------------------


def linear_recurrence_gradient_norm(W: object, T: int) -> sympy.Expr:
    r""":math:`\|\partial h_T/\partial h_0\|_2 = \|W^T\|_2` for the linear recurrence
    :math:`h_t = Wh_{t-1}`, exactly: the square root of the largest root of the
    characteristic polynomial of :math:`(W^T)^\top W^T` (a SymPy algebraic number; ``float()``
    or ``.evalf()`` for digits).

    ``W`` a square matrix of size ``1..MAX_MATRIX_SIZE`` with rational entries (ints,
    :class:`fractions.Fraction`, SymPy rationals; floats are taken as their exact binary
    value); ``T`` an integer in ``[0, MAX_POWER]`` (:math:`W^0 = I`, norm 1).

    >>> linear_recurrence_gradient_norm([[1, 1], [0, 1]], 2)
    sqrt(2*sqrt(2) + 3)

    (that is :math:`1 + \sqrt 2`).
    """
    w = _as_matrix(W, "W")
    steps = _small(T, "T", MAX_POWER, minimum=0)
    for v in w:
        if not v.is_Rational:
            raise TypeError(f"W entries must be rational numbers here, got {v!r}")
    m = w**steps
    gram = m.T * m
    lam = sympy.Symbol("lam")
    poly = sympy.Poly(gram.charpoly(lam).as_expr(), lam)
    top = max(sympy.real_roots(poly), key=lambda r_: r_.evalf(50))
    return sympy.sqrt(sympy.nsimplify(top) if top.is_Rational else top)


REGIMES = ("vanishing", "bounded", "exploding")


def linear_recurrence_regime(W: object) -> str:
    r"""How :math:`\|W^T\|` behaves as :math:`T \to \infty` (:data:`REGIMES`):
    ``"vanishing"`` iff :math:`\rho(W) < 1`; ``"exploding"`` (unbounded) iff
    :math:`\rho(W) > 1`, or :math:`\rho(W) = 1` and an eigenvalue of modulus 1 has a Jordan
    block of size :math:`\ge 2` (:math:`\|J^T\| \sim T^{k-1}`); ``"bounded"`` otherwise
    (:math:`\rho = 1`, the unit-modulus eigenvalues semisimple: bounded, not vanishing).

    Decided exactly from the Jordan form. ``W`` a square matrix of size 1 or 2 (closed-form
    eigenvalues) with rational entries (as :func:`linear_recurrence_gradient_norm`).

    >>> linear_recurrence_regime([[1, 1], [0, 1]])
    'exploding'
    """
    w = _as_matrix(W, "W")
    if w.rows > 2:
        raise ValueError(f"W must be 1x1 or 2x2 here (exact eigenvalues), got {w.rows}x{w.rows}")
    for v in w:
        if not v.is_Rational:
            raise TypeError(f"W entries must be rational numbers here, got {v!r}")
    _, jordan = w.jordan_form()
    worst = "vanishing"
    for k in range(jordan.rows):
        lam = jordan[k, k]
        mod2 = sympy.simplify(sympy.expand(lam * sympy.conjugate(lam)))
        block = k + 1 < jordan.rows and jordan[k, k + 1] != 0
        if sympy.simplify(mod2 - 1) == 0:
            state = "exploding" if block else "bounded"
        elif (mod2 - 1).is_positive:
            state = "exploding"
        else:
            state = "vanishing"
        if REGIMES.index(state) > REGIMES.index(worst):
            worst = state
    return worst


def derive_spectral_condition() -> Derivation:
    r"""The spectral condition of a linear recurrence, and the tanh bound."""
    n, steps = 2, 3
    w = _mat("W", n, n)
    h0 = _vec("h0", n)
    h = h0
    for _ in range(steps):
        h = w * h
    jac = sympy.ImmutableMatrix(h.jacobian(h0))
    tt = sympy.Symbol("T", integer=True, positive=True)
    jordan = sympy.ImmutableMatrix([[1, 1], [0, 1]])
    transient = sympy.ImmutableMatrix([[sympy.Rational(1, 2), 4], [0, sympy.Rational(1, 2)]])
    return Derivation(
        title=r"Linear recurrence: $\partial h_T/\partial h_0 = W^T$; vanishes iff "
        r"$\rho(W) < 1$",
        steps=(
            Step(
                r"$h_T = W^Th_0$, so $\partial h_T/\partial h_0 = W^T$ (checked by "
                r"`sympy.diff` for $H = 2$, $T = 3$)."
            ),
            Step(
                r"Gelfand: $\|W^T\|^{1/T} \to \rho(W)$, hence $\|W^T\| \to 0$ iff $\rho(W) < 1$ "
                r"(then geometrically), and $\|W^T\| \to \infty$ if $\rho(W) > 1$. At "
                r"$\rho(W) = 1$ the Jordan form decides: a block $J$ of size $k \ge 2$ for a "
                r"unit-modulus eigenvalue grows like $T^{k-1}$:",
                sympy.Eq(
                    sympy.MatPow(sympy.MatrixSymbol("J", 2, 2), tt),
                    sympy.ImmutableMatrix([[1, tt], [0, 1]]),
                    evaluate=False,
                ),
            ),
            Step(
                r"while a diagonalizable $W$ with $\rho = 1$ (a rotation) keeps "
                r"$\|W^T\|$ bounded and away from 0. The spectral radius rules the limit, not "
                r"every $T$: $W = \begin{pmatrix}1/2&4\\0&1/2\end{pmatrix}$ has $\rho = 1/2$ "
                r"but $\|W\|_2 > 4$, its $\|W^T\|$ first grows, then vanishes. "
                + f"Here $W^2 = {sympy.latex(transient**2)}$, "
                + f"$J^2 = {sympy.latex(jordan**2)}$."
            ),
            Step(
                r"tanh RNN: $\partial h_T/\partial h_0 = \prod_t D_tW_{hh}$ with "
                r"$D_t = \operatorname{diag}(1-h_t^2)$, $\|D_t\|_2 \le 1$, so "
                r"$\|\partial h_T/\partial h_0\|_2 \le \|W_{hh}\|_2^T$: $\|W_{hh}\|_2 < 1$ is "
                r"sufficient for vanishing (Pascanu et al. 2013). It is not necessary, and "
                r"$\rho(W_{hh}) > 1$ is necessary but not sufficient for explosion: "
                r"saturation ($h_t^2 \to 1$) makes $D_t$ small."
            ),
        ),
        claimed=_weighted(sympy.ImmutableMatrix(w**steps)),
        derived=_weighted(jac),
        scope="W^T proved by sympy.diff for H = 2, T = 3; the limit statements are Gelfand's "
        "formula and the Jordan form (exact regime for 2x2 in linear_recurrence_regime)",
    )
