r"""Linear (dense), low-rank factorised and block-sparse layers: shapes, counts and costs.

Conventions
-----------
* A linear layer maps :math:`x \in \mathbb{R}^{n}` to :math:`y = Wx + b \in \mathbb{R}^{m}`
  with :math:`W \in \mathbb{R}^{m \times n}`; ``in_features`` is :math:`n` (the documents'
  :math:`n` or :math:`d_{in}`), ``out_features`` is :math:`m` (:math:`m` or :math:`d_{out}`).
  This is ``torch.nn.Linear``'s layout (``weight`` has shape ``(out_features, in_features)``).
* Cost is counted in **multiply-accumulates (MACs)**; FLOPs = 2 × MACs
  (:func:`theory.conv.macs_to_flops`). Bias additions are *not* MACs and are not counted.

References: ``000_160a0b7c04e12fc6.txt`` § Mathematical Foundation of Linear Layers,
§ Specialized Linear Layer Variants; ``002_532ac369c9b692e7.txt`` § Mathematical Formulation,
§ Geometric Interpretation.

Examples
--------
>>> linear_params(784, 10)
7850
>>> import sympy
>>> m, n = sympy.symbols("m n", integer=True, positive=True)
>>> sympy.factor(linear_params(n, m))
m*(n + 1)
>>> lowrank_compression(1024, 1024, 64)
8
>>> lowrank_break_even_rank(3, 3)
3/2
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from theory._args import Dim, dim, exact_ratio, flag
from theory.derivation import Derivation, Step

__all__ = [
    "block_sparse_macs",
    "block_sparse_params",
    "derive_linear_cost",
    "derive_linear_params",
    "derive_lowrank",
    "linear_backward_macs",
    "linear_macs",
    "linear_params",
    "lowrank_break_even_rank",
    "lowrank_compression",
    "lowrank_macs",
    "lowrank_params",
]


def linear_params(in_features: Dim, out_features: Dim, bias: bool = True) -> Dim:
    r"""Number of parameters of a dense layer.

    .. math:: P = m n + m\,[\text{bias}] = m(n + 1) \quad\text{with bias}

    Parameters
    ----------
    in_features, out_features:
        :math:`n` and :math:`m`, integers :math:`\ge 1` or SymPy expressions.
    bias:
        Whether the layer has a bias vector :math:`b \in \mathbb{R}^m`.

    Examples
    --------
    >>> linear_params(3, 2), linear_params(3, 2, bias=False)
    (8, 6)

    References
    ----------
    ``000_160a0b7c04e12fc6.txt`` § Mathematical Foundation of Linear Layers (Parameter
    Analysis); ``002_532ac369c9b692e7.txt`` § Mathematical Formulation.
    """
    n = dim(in_features, "in_features")
    m = dim(out_features, "out_features")
    return m * n + (m if flag(bias, "bias") else 0)


def linear_macs(in_features: Dim, out_features: Dim, batch: Dim = 1) -> Dim:
    r"""Multiply-accumulates of the forward pass :math:`Y = XW^\top + b` for ``batch`` rows.

    .. math:: \text{MACs} = B\,m\,n \qquad (\text{bias additions not counted})

    >>> linear_macs(3, 2, batch=4)
    24
    """
    n = dim(in_features, "in_features")
    m = dim(out_features, "out_features")
    return dim(batch, "batch") * m * n


def linear_backward_macs(
    in_features: Dim,
    out_features: Dim,
    batch: Dim = 1,
    input_grad: bool = True,
    weight_grad: bool = True,
) -> Dim:
    r"""Multiply-accumulates of the backward pass of a dense layer.

    :math:`\partial L/\partial X = (\partial L/\partial Y) W` costs :math:`Bmn` MACs and
    :math:`\partial L/\partial W = (\partial L/\partial Y)^\top X` another :math:`Bmn`;
    :math:`\partial L/\partial b` is a sum (additions only, not counted).

    .. math:: \text{MACs}_{\text{backward}} = B m n\,([\text{input\_grad}] + [\text{weight\_grad}])

    >>> linear_backward_macs(3, 2, batch=4)
    48
    """
    per = linear_macs(in_features, out_features, batch)
    return per * (int(flag(input_grad, "input_grad")) + int(flag(weight_grad, "weight_grad")))


def lowrank_params(in_features: Dim, out_features: Dim, rank: Dim, bias: bool = True) -> Dim:
    r"""Parameters of the factorised layer :math:`y = U V x + b`.

    :math:`U \in \mathbb{R}^{m\times r}`, :math:`V \in \mathbb{R}^{r \times n}`:

    .. math:: P = r(m + n) + m\,[\text{bias}]

    Any ``rank`` :math:`\ge 1` is accepted; whether it *saves* parameters is
    :func:`lowrank_break_even_rank`'s question. In particular :math:`r > \min(m, n)` is
    accepted: :math:`UV` is still a valid factorization (of rank at most :math:`\min(m, n)`),
    it just never compresses (:math:`r(m+n) > mn`).

    >>> lowrank_params(3, 3, 2, bias=False)
    12
    """
    n = dim(in_features, "in_features")
    m = dim(out_features, "out_features")
    r = dim(rank, "rank")
    return r * (m + n) + (m if flag(bias, "bias") else 0)


def lowrank_macs(in_features: Dim, out_features: Dim, rank: Dim, batch: Dim = 1) -> Dim:
    r"""MACs of :math:`y = U(Vx)` (the cheap order): :math:`B\,r(m + n)`.

    >>> lowrank_macs(1024, 1024, 64)
    131072
    """
    return dim(batch, "batch") * lowrank_params(in_features, out_features, rank, bias=False)


def lowrank_compression(in_features: Dim, out_features: Dim, rank: Dim) -> sympy.Expr:
    r"""The document's compression ratio of weights, dense over factorised.

    .. math:: \rho = \frac{m n}{r (m + n)}

    Returns an exact :class:`sympy.Rational` for integers. :math:`\rho > 1` (a real
    saving) only when :math:`r < mn/(m+n)`; see :func:`lowrank_break_even_rank`.

    >>> lowrank_compression(3, 3, 2)
    3/4
    """
    dense = linear_params(in_features, out_features, bias=False)
    return exact_ratio(dense, lowrank_params(in_features, out_features, rank, bias=False))


def lowrank_break_even_rank(in_features: Dim, out_features: Dim) -> sympy.Expr:
    r"""The rank below which factorisation saves weights.

    .. math:: r(m+n) < mn \iff r < r^\ast = \frac{mn}{m+n}

    Since :math:`r^\ast = \min(m,n)\,\max(m,n)/(m+n) < \min(m, n)`, the constraint
    :math:`r < \min(m, n)` stated in the document does **not** guarantee a saving.

    >>> lowrank_break_even_rank(4, 4)
    2
    """
    n = dim(in_features, "in_features")
    m = dim(out_features, "out_features")
    return exact_ratio(m * n, m + n)


def _mask_entry(value: object, name: str) -> bool:
    if isinstance(value, np.bool_):  # a NumPy bool is a real bool, unlike 1 or 'True'
        return bool(value)
    return flag(value, name)


def _block_mask(
    row_sizes: Sequence[Dim], col_sizes: Sequence[Dim], mask: Sequence[Sequence[bool]]
) -> tuple[list[Dim], list[Dim], list[list[bool]]]:
    if isinstance(row_sizes, str | bytes | bytearray) or not isinstance(row_sizes, Sequence):
        raise TypeError("row_sizes must be a sequence of integers >= 1")
    if isinstance(col_sizes, str | bytes | bytearray) or not isinstance(col_sizes, Sequence):
        raise TypeError("col_sizes must be a sequence of integers >= 1")
    rows = [dim(v, f"row_sizes[{i}]") for i, v in enumerate(row_sizes)]
    cols = [dim(v, f"col_sizes[{j}]") for j, v in enumerate(col_sizes)]
    if not rows or not cols:
        raise ValueError("row_sizes and col_sizes must each have at least one block")
    if not isinstance(mask, Sequence) or len(mask) != len(rows):
        raise ValueError(f"mask must have one row per row block ({len(rows)} rows)")
    out = []
    for i, row in enumerate(mask):
        if not isinstance(row, Sequence) or len(row) != len(cols):
            raise ValueError(f"mask[{i}] must have one entry per column block ({len(cols)})")
        out.append([_mask_entry(v, f"mask[{i}][{j}]") for j, v in enumerate(row)])
    return rows, cols, out


def block_sparse_params(
    row_sizes: Sequence[Dim],
    col_sizes: Sequence[Dim],
    mask: Sequence[Sequence[bool]],
    bias: bool = True,
) -> Dim:
    r"""Stored parameters of a block-sparse dense layer (only non-zero blocks are stored).

    With output blocks of sizes :math:`m_i`, input blocks of sizes :math:`n_j` and the set
    :math:`\mathcal{N}` of non-zero blocks:

    .. math:: P = \sum_{(i,j)\in\mathcal{N}} m_i n_j + \Big(\sum_i m_i\Big)[\text{bias}]

    >>> block_sparse_params([2, 1], [1, 3], [[True, False], [True, True]], bias=False)
    6
    """
    rows, cols, m = _block_mask(row_sizes, col_sizes, mask)
    weights: Dim = 0
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            if m[i][j]:
                weights = weights + r * c
    return weights + (sum(rows) if flag(bias, "bias") else 0)


def block_sparse_macs(
    row_sizes: Sequence[Dim],
    col_sizes: Sequence[Dim],
    mask: Sequence[Sequence[bool]],
    batch: Dim = 1,
) -> Dim:
    r"""MACs of a block-sparse layer that skips zero blocks: :math:`B\sum_{\mathcal{N}} m_i n_j`.

    >>> block_sparse_macs([2, 1], [1, 3], [[True, False], [True, True]], batch=2)
    12
    """
    return dim(batch, "batch") * block_sparse_params(row_sizes, col_sizes, mask, bias=False)


# --------------------------------------------------------------------------- derivations

m, n, r, B = sympy.symbols("m n r B", integer=True, positive=True)


def derive_linear_params() -> Derivation:
    r"""Parameter count of :math:`y = Wx + b` from the shapes of :math:`W` and :math:`b`."""
    derived = linear_params(n, m)
    return Derivation(
        title="Parameters of a dense layer",
        steps=(
            Step(
                r"$W \in \mathbb{R}^{m\times n}$ holds $mn$ numbers, $b\in\mathbb{R}^m$ holds $m$."
            ),
            Step("Total, factored:", sympy.Eq(sympy.Symbol("P"), sympy.factor(derived))),
        ),
        claimed=m * (n + 1),
        derived=derived,
    )


def derive_linear_cost() -> Derivation:
    r"""Forward and backward MACs of a dense layer, counted from the matrix products."""
    fwd = linear_macs(n, m, B)
    bwd = linear_backward_macs(n, m, B)
    return Derivation(
        title="Cost of a dense layer (MACs, bias additions not counted)",
        steps=(
            Step(
                r"Forward $Y = XW^\top$: each of the $Bm$ outputs is a length-$n$ dot product.",
                sympy.Eq(sympy.Symbol(r"\mathrm{MACs}_{fwd}"), fwd),
            ),
            Step(
                r"Backward: $\partial L/\partial X = G W$ and $\partial L/\partial W = G^\top X$ "
                r"with $G = \partial L/\partial Y \in \mathbb{R}^{B\times m}$.",
                sympy.Eq(sympy.Symbol(r"\mathrm{MACs}_{bwd}"), bwd),
            ),
            Step("Both are $O(mn)$ per sample, as claimed; memory for $W$ is $mn$ numbers."),
        ),
        claimed=m * n,
        derived=fwd.subs(B, 1),
    )


def derive_lowrank() -> Derivation:
    r"""Compression ratio of :math:`W = UV` and the rank at which it breaks even."""
    ratio = lowrank_compression(n, m, r)
    rstar = lowrank_break_even_rank(n, m)
    return Derivation(
        title="Low-rank factorisation: weights and break-even rank",
        steps=(
            Step(
                r"$U\in\mathbb{R}^{m\times r}$ and $V\in\mathbb{R}^{r\times n}$ hold $r(m+n)$ "
                r"weights; the dense $W$ holds $mn$.",
                sympy.Eq(sympy.Symbol(r"\rho"), ratio),
            ),
            Step(
                r"A saving ($\rho > 1$) needs $r(m+n) < mn$, i.e.", sympy.StrictLessThan(r, rstar)
            ),
            Step(
                r"$r^\ast = mn/(m+n) = \min(m,n)\cdot\frac{\max(m,n)}{m+n} < \min(m,n)$, so "
                r"$r < \min(m,n)$ is necessary for a saving but not sufficient: "
                r"$m=n=3,\ r=2$ stores $12 > 9$ weights."
            ),
        ),
        claimed=m * n / (r * (m + n)),
        derived=ratio,
    )
