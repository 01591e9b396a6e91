r"""Attention and positional encodings in SymPy: weights, backward, scale, counts, variants.

Conventions
-----------
* Rows are tokens. :math:`Q \in \mathbb{R}^{n\times d_k}` (queries), :math:`K \in
  \mathbb{R}^{m\times d_k}`, :math:`V \in \mathbb{R}^{m\times d_v}` (keys, values; self-attention
  has :math:`m = n`). Scores :math:`S = c\,QK^\top` with the scale :math:`c = 1/\sqrt{d_k}` by
  default (torch's ``scaled_dot_product_attention`` default, :math:`d_k` the query's last
  dimension); weights :math:`A = \operatorname{softmax}(S)` **along each row** (over keys);
  output :math:`O = AV`.
* Costs are **multiply-accumulates** (MACs; FLOPs = 2 × MACs, as ``FlopCounterMode`` counts
  matmuls) and memory in **entries** (numbers stored), per sequence, forward pass. Each
  helper says exactly which terms it counts.
* Multi-head: :math:`h` heads of widths :math:`d_k` (queries/keys) and :math:`d_v` (values);
  torch's ``nn.MultiheadAttention`` fixes :math:`d_k = d_v = E/h`.
* Sinusoidal encoding: :math:`PE_{(pos, 2i)} = \sin(pos\,\omega_i)`,
  :math:`PE_{(pos, 2i+1)} = \cos(pos\,\omega_i)`, :math:`\omega_i = b^{-2i/d}`, :math:`b = 10000`.

References: ``000_160a0b7c04e12fc6.txt`` § Self-Attention Mechanism, § Multi-Head Attention,
§ Positional Encoding and Extensions, § Key Questions for Review (10–12);
``002_532ac369c9b692e7.txt`` § Self-Attention Theory, § Multi-Head Attention, § Advanced
Understanding Questions (5); A. Vaswani et al. (2017), *Attention Is All You Need*, §3.2, §3.5;
P. Shaw et al. (2018), *Self-Attention with Relative Position Representations*, §3.2;
Z. Dai et al. (2019), *Transformer-XL*, §3.3 (eq. for :math:`A^{rel}_{i,j}`); R. Child et al.
(2019), *Generating Long Sequences with Sparse Transformers*, §4.2; A. Katharopoulos et al.
(2020), *Transformers are RNNs*, §3.2.

Examples
--------
>>> mha_params(768, 12)
2362368
>>> attention_cost(4, 8, 2)["scores"]
128
>>> sparse_pattern_entries(16, "strided", stride=4)
82
>>> linear_crossover_length(64, 64, 64)
129/2
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy
from sympy.stats import E as expectation
from sympy.stats import Normal
from sympy.stats import variance as stats_variance

from theory._args import Dim, bounded, divides, flag, int_dim, real
from theory.arch import _dim
from theory.derivation import Derivation, Step

__all__ = [
    "MAX_EXPR_SIZE",
    "MAX_PROVED_N",
    "MAX_SINUSOIDAL_D",
    "PATTERNS",
    "POSITIONAL_SCHEMES",
    "VARIANTS",
    "AttentionExpr",
    "attention_cost",
    "attention_expr",
    "derive_flash_backward",
    "derive_relative_factorization",
    "derive_score_scale",
    "derive_sdpa_backward",
    "derive_sinusoidal",
    "derive_softmax_jacobian",
    "derive_variant_costs",
    "linear_attention_cost",
    "linear_crossover_length",
    "mha_params",
    "mha_params_general",
    "positional_params",
    "quadratic_share",
    "relative_score_expr",
    "score_moments",
    "sdpa_backward_expr",
    "sdpa_backward_proved",
    "sinusoidal_expr",
    "sinusoidal_properties_proved",
    "sinusoidal_rotation",
    "softmax_jacobian",
    "sparse_pattern_entries",
    "variant_memory",
]

MAX_EXPR_SIZE = 16
"""Largest n, m, d_k, d_v for which :func:`attention_expr` builds symbol matrices (and largest
``n`` of :func:`softmax_jacobian` divided by 4: 64); beyond it the expressions are too big."""
MAX_PROVED_N = 2
""":func:`sdpa_backward_proved` checks every n, m ≤ max_n ≤ MAX_PROVED_N (d_k, d_v ≤ 2): 16 cases,
about 3 s (n = m = 3 would take half a minute)."""
MAX_SINUSOIDAL_D = 32
"""Largest width ``d`` for which :func:`sinusoidal_properties_proved` runs its identities."""
PATTERNS = ("full", "local", "strided", "fixed")
VARIANTS = ("full", "local", "strided", "fixed", "linear", "hierarchical")
POSITIONAL_SCHEMES = ("sinusoidal", "learned", "relative")

_NOT_FINITE = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


# Argument helpers ---------------------------------------------------------------------------


def _small(value: object, name: str, limit: int = MAX_EXPR_SIZE) -> int:
    """A concrete integer in ``[1, limit]`` (symbol matrices are built entry by entry)."""
    v = int_dim(value, name)
    bounded(v, name, limit)
    return v


def _opt(value: object, name: str, default: Dim) -> Dim:
    return default if value is None else _dim(value, name)


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _real_value(value: object, name: str, lower: object = None) -> sympy.Expr:
    """:func:`theory._args.real`, refusing SymPy numbers that are not real (``I``) too."""
    v = real(value, name, lower=lower)
    if v.is_number and v.is_real is not True:
        raise TypeError(f"{name} must be a finite real number, got {value!r}")
    return v


# 1. Exact attention --------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionExpr:
    r"""Symbol matrices of one scaled dot-product attention (see :func:`attention_expr`).

    ``Q`` (n×d_k), ``K`` (m×d_k), ``V`` (m×d_v): symbols ``q_i_a``, ``k_j_a``, ``v_j_b``
    (real); ``scale`` the factor :math:`c`; ``S = c QK^T``; ``A`` the row softmax with entries
    :math:`\alpha_{ij} = e^{s_{ij}}/\sum_l e^{s_{il}}`; ``O = AV``."""

    Q: sympy.ImmutableMatrix
    K: sympy.ImmutableMatrix
    V: sympy.ImmutableMatrix
    scale: sympy.Expr
    S: sympy.ImmutableMatrix
    A: sympy.ImmutableMatrix
    O: sympy.ImmutableMatrix  # noqa: E741 - the output, as in the papers

    def __post_init__(self) -> None:
        for name in ("Q", "K", "V", "S", "A", "O"):
            value = getattr(self, name)
            if not isinstance(value, sympy.MatrixBase):
                raise TypeError(f"{name} must be a SymPy matrix, got {type(value).__name__}")
            object.__setattr__(self, name, sympy.ImmutableMatrix(value))
        if not isinstance(self.scale, sympy.Expr) or self.scale.has(*_NOT_FINITE):
            raise TypeError(f"scale must be a finite SymPy expression, got {self.scale!r}")
        (n, dk), (m, dv) = self.Q.shape, self.V.shape
        want = {"K": (m, dk), "S": (n, m), "A": (n, m), "O": (n, dv)}
        for name, shape in want.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"{name} must have shape {shape} (from Q {self.Q.shape} and V "
                    f"{self.V.shape}), got {getattr(self, name).shape}"
                )


def _sym_matrix(prefix: str, rows: int, cols: int) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(
        rows, cols, lambda i, j: sympy.Symbol(f"{prefix}_{i + 1}_{j + 1}", real=True)
    )


def _row_softmax(s: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    rows = []
    for i in range(s.rows):
        e = [sympy.exp(s[i, j]) for j in range(s.cols)]
        total = sum(e)
        rows.append([x / total for x in e])
    return sympy.ImmutableMatrix(rows)


def attention_expr(
    n: int, d_k: int, d_v: int, m: int | None = None, scale: object = None
) -> AttentionExpr:
    r"""Scaled dot-product attention as exact SymPy matrices (``000`` § Self-Attention
    Mechanism; ``002`` § Self-Attention Theory; Vaswani et al. 2017, eq. (1)).

    .. math:: S = c\,QK^\top,\qquad \alpha_{ij} = \frac{\exp(s_{ij})}{\sum_{l=1}^{m}
              \exp(s_{il})},\qquad o_i = \sum_{j=1}^{m}\alpha_{ij}v_j,

    with :math:`c = 1/\sqrt{d_k}` unless ``scale`` is given (any finite real, SymPy allowed).
    ``n`` queries, ``m`` keys (default ``n``); all sizes concrete integers in
    ``[1, MAX_EXPR_SIZE]`` (= 16: the matrices are built entry by entry).

    >>> a = attention_expr(1, 1, 1, m=2)
    >>> a.A[0, 0]
    exp(k_1_1*q_1_1)/(exp(k_1_1*q_1_1) + exp(k_2_1*q_1_1))
    """
    n_ = _small(n, "n")
    dk, dv = _small(d_k, "d_k"), _small(d_v, "d_v")
    m_ = n_ if m is None else _small(m, "m")
    c = 1 / sympy.sqrt(dk) if scale is None else _real_value(scale, "scale")
    q, k, v = _sym_matrix("q", n_, dk), _sym_matrix("k", m_, dk), _sym_matrix("v", m_, dv)
    s = sympy.ImmutableMatrix(c * (q * k.T))
    a = _row_softmax(s)
    return AttentionExpr(q, k, v, c, s, a, sympy.ImmutableMatrix(a * v))


# 2. Softmax Jacobian and the SDPA backward ---------------------------------------------------


def softmax_jacobian(n: int) -> sympy.ImmutableMatrix:
    r"""The Jacobian :math:`J_{ij} = \partial p_i/\partial z_j = p_i(\delta_{ij} - p_j)` of
    :math:`p = \operatorname{softmax}(z)`, i.e. :math:`J = \operatorname{diag}(p) - pp^\top`, in
    symbols ``p_1 … p_n`` (``n`` an integer in ``[1, 64]``). Symmetric, and
    :math:`J\mathbf 1 = p(1 - \sum_j p_j) = 0` on the simplex (``000`` § Self-Attention
    Mechanism: the weights :math:`\alpha_{ij}` are a row softmax).

    >>> softmax_jacobian(2)
    Matrix([
    [-p_1**2 + p_1,      -p_1*p_2],
    [     -p_1*p_2, -p_2**2 + p_2]])
    """
    size = _small(n, "n", 4 * MAX_EXPR_SIZE)
    p = sympy.symbols(f"p_1:{size + 1}", positive=True)
    return sympy.ImmutableMatrix(
        size, size, lambda i, j: (p[i] if i == j else 0) - p[i] * p[j]
    ).applyfunc(sympy.expand)


def _softmax_jacobian_proved(n: int) -> bool:
    """``sympy.diff`` of softmax(z) equals diag(p) - pp^T with p = softmax(z), for size n."""
    z = sympy.symbols(f"z_1:{n + 1}", real=True)
    e = [sympy.exp(zi) for zi in z]
    total = sum(e)
    p = [x / total for x in e]
    formula = softmax_jacobian(n).subs({sympy.Symbol(f"p_{i + 1}", positive=True): p[i]
                                        for i in range(n)})  # fmt: skip
    big = sympy.symbols(f"E_1:{n + 1}", positive=True)
    back = dict(zip(e, big, strict=True))
    for i in range(n):
        for j in range(n):
            diff = sympy.diff(p[i], z[j]) - formula[i, j]
            if sympy.cancel(sympy.together(diff.xreplace(back))) != 0:
                return False
    return True


def _ds_formula(a: sympy.MatrixBase, da: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    r""":math:`dS = A\circ(dA - \operatorname{rowsum}(dA\circ A)\mathbf 1^\top)`."""
    rows = []
    for i in range(a.rows):
        r = sum(da[i, j] * a[i, j] for j in range(a.cols))
        rows.append([a[i, j] * (da[i, j] - r) for j in range(a.cols)])
    return sympy.ImmutableMatrix(rows)


def _backward(att: AttentionExpr, g: sympy.MatrixBase) -> dict[str, sympy.ImmutableMatrix]:
    """The hand-written backward for upstream gradient ``g`` = dL/dO."""
    dv = att.A.T * g
    da = g * att.V.T
    ds = _ds_formula(att.A, da)
    dq = att.scale * ds * att.K
    dk = att.scale * ds.T * att.Q
    return {
        "dQ": sympy.ImmutableMatrix(dq),
        "dK": sympy.ImmutableMatrix(dk),
        "dV": sympy.ImmutableMatrix(dv),
        "dA": sympy.ImmutableMatrix(da),
        "dS": ds,
    }


def sdpa_backward_expr(
    n: int, d_k: int, d_v: int, m: int | None = None, scale: object = None
) -> dict[str, sympy.ImmutableMatrix]:
    r"""The hand-written backward of :func:`attention_expr` for the upstream gradient
    :math:`G = \partial L/\partial O` (symbols ``g_i_b``, returned under ``"G"``):

    .. math:: dV = A^\top G,\quad dA = GV^\top,\quad
              dS = A\circ\big(dA - \operatorname{rowsum}(dA\circ A)\mathbf 1^\top\big),\quad
              dQ = c\,dS\,K,\quad dK = c\,dS^\top Q.

    The :math:`dS` line is :math:`dS_{i,:} = J(\alpha_{i,:})\,dA_{i,:}` with the softmax
    Jacobian :math:`J = \operatorname{diag}(p) - pp^\top` (:func:`softmax_jacobian`). Returns
    ``{"dQ", "dK", "dV", "dA", "dS", "G"}``; same arguments and limits as
    :func:`attention_expr`.
    """
    att = attention_expr(n, d_k, d_v, m, scale)
    g = _sym_matrix("g", att.O.rows, att.O.cols)
    return {**_backward(att, g), "G": g}


def _exp_symbols(att: AttentionExpr) -> dict[sympy.Expr, sympy.Symbol]:
    return {
        sympy.exp(att.S[i, j]): sympy.Symbol(f"E_{i + 1}_{j + 1}", positive=True)
        for i in range(att.S.rows)
        for j in range(att.S.cols)
    }


def _rationalize(expr: sympy.Expr, back: dict[sympy.Expr, sympy.Symbol]) -> sympy.Expr:
    """Replace every :math:`e^{k s_{ij}}` (SymPy merges :math:`e^s e^s` into :math:`e^{2s}`)
    by :math:`E_{ij}^k`; an exponential of anything else is left alone (and the caller's
    ``cancel`` then fails to reach 0 unless it cancels on its own)."""
    scores = [(e.args[0], sym) for e, sym in back.items()]

    def swap(arg: sympy.Expr) -> sympy.Expr:
        for s, sym in scores:
            ratio = sympy.cancel(arg / s)
            if ratio.is_Integer:
                return sym**ratio
        return sympy.exp(arg)

    return expr.replace(sympy.exp, swap)


def _matrices_equal(a: sympy.MatrixBase, b: sympy.MatrixBase, back: dict) -> bool:
    if a.shape != b.shape:
        return False
    for x, y in zip(a, b, strict=True):
        if sympy.cancel(sympy.together(_rationalize(x - y, back))) != 0:
            return False
    return True


def _case_proved(n: int, m: int, dk: int, dv: int) -> bool:
    c = sympy.Symbol("c", positive=True)
    att = attention_expr(n, dk, dv, m, scale=c)
    g = _sym_matrix("g", n, dv)
    loss = sum(g[i, j] * att.O[i, j] for i in range(n) for j in range(dv))
    formula = _backward(att, g)
    back = _exp_symbols(att)
    for name, x in (("dQ", att.Q), ("dK", att.K), ("dV", att.V)):
        derived = x.applyfunc(lambda s: sympy.diff(loss, s))
        if not _matrices_equal(derived, formula[name], back):
            return False
    return True


def sdpa_backward_proved(max_n: int = 2) -> bool:
    r"""True when the hand-written backward (:func:`sdpa_backward_expr`) equals ``sympy.diff``
    of the scalar loss :math:`L = \sum_{ib} G_{ib}O_{ib}` **identically**, for a symbolic
    scale :math:`c > 0` (so for :math:`1/\sqrt{d_k}` and every other scale), for every
    :math:`1 \le n, m \le` ``max_n`` and :math:`d_k, d_v \in \{1, 2\}`: the exponentials
    :math:`e^{s_{ij}}` are replaced by positive symbols after differentiating and the
    difference is cancelled to 0 as a rational function. ``max_n`` an int in
    ``[1, MAX_PROVED_N]`` (at least one case is checked); False as soon as one entry differs.
    """
    if isinstance(max_n, bool | np.bool_) or not isinstance(max_n, numbers.Integral):
        raise TypeError(
            f"max_n must be an int in [1, {MAX_PROVED_N}], got {type(max_n).__name__} ({max_n!r})"
        )
    if not 1 <= int(max_n) <= MAX_PROVED_N:
        raise ValueError(
            f"max_n must be an int in [1, {MAX_PROVED_N}] (no case would be vacuous; larger "
            f"sizes cost too much), got {max_n!r}"
        )
    checked = 0
    for n in range(1, int(max_n) + 1):
        for m in range(1, int(max_n) + 1):
            for dk in (1, 2):
                for dv in (1, 2):
                    if not _case_proved(n, m, dk, dv):
                        return False
                    checked += 1
    return checked > 0


def derive_softmax_jacobian() -> Derivation:
    r"""The softmax Jacobian :math:`\operatorname{diag}(p) - pp^\top`, by ``sympy.diff``."""
    n = 3
    z = sympy.symbols(f"z_1:{n + 1}", real=True)
    e = [sympy.exp(zi) for zi in z]
    p = [x / sum(e) for x in e]
    w = sympy.symbols(f"w_1:{n * n + 1}", real=True)  # Frobenius weights: one per entry
    jac = softmax_jacobian(n).subs({sympy.Symbol(f"p_{i + 1}", positive=True): p[i]
                                    for i in range(n)})  # fmt: skip
    claimed = sum(w[i * n + j] * jac[i, j] for i in range(n) for j in range(n))
    derived = sum(w[i * n + j] * sympy.diff(p[i], z[j]) for i in range(n) for j in range(n))
    return Derivation(
        title=r"Softmax Jacobian: $\partial p_i/\partial z_j = p_i(\delta_{ij} - p_j)$",
        steps=(
            Step(
                r"$p_i = e^{z_i}/\sum_l e^{z_l}$; the quotient rule gives "
                r"$\partial p_i/\partial z_j = \delta_{ij}p_i - p_ip_j$:",
                sympy.Eq(sympy.Symbol("J"), softmax_jacobian(n), evaluate=False),
            ),
            Step(
                r"$J$ is symmetric and $J\mathbf 1 = p(1-\sum_j p_j) = 0$: adding a constant to "
                r"every score of a row does not change its weights."
            ),
            Step(
                r"Checked here as one identity $\sum_{ij} w_{ij}J_{ij} = \sum_{ij} w_{ij}\,"
                r"\partial p_i/\partial z_j$ with free weights $w$ (so every entry agrees), "
                r"for $n = 3$; `softmax_jacobian` is also compared entry by entry for every "
                r"$n \le 6$ in the tests."
            ),
        ),
        claimed=claimed,
        derived=derived,
        scope="exact identity for n = 3 (every n <= 6 in the tests)",
    )


def derive_sdpa_backward() -> Derivation:
    r"""The backward of scaled dot-product attention, proved against ``sympy.diff``."""
    att = attention_expr(2, 1, 1, scale=sympy.Symbol("c", positive=True))
    g = _sym_matrix("g", 2, 1)
    loss = sum(g[i, 0] * att.O[i, 0] for i in range(2))
    formula = _backward(att, g)
    back = _exp_symbols(att)
    q11 = att.Q[0, 0]
    derived = sympy.cancel(sympy.together(_rationalize(sympy.diff(loss, q11), back)))
    claimed = sympy.cancel(sympy.together(_rationalize(formula["dQ"][0, 0], back)))
    return Derivation(
        title=r"Backward of $O = \operatorname{softmax}(cQK^\top)V$",
        steps=(
            Step(r"$O = AV$: $dV = A^\top G$ and $dA = GV^\top$ with $G = \partial L/\partial O$."),
            Step(
                r"Row by row $A_{i,:} = \operatorname{softmax}(S_{i,:})$, so "
                r"$dS_{i,:} = (\operatorname{diag}(\alpha_i) - \alpha_i\alpha_i^\top)dA_{i,:}$, "
                r"i.e. $dS = A\circ(dA - \operatorname{rowsum}(dA\circ A)\mathbf 1^\top)$."
            ),
            Step(r"$S = cQK^\top$: $dQ = c\,dS\,K$ and $dK = c\,dS^\top Q$."),
            Step(
                r"Proved with a symbolic scale $c$ against `sympy.diff` of "
                r"$L = \sum G\circ O$ for every $n, m \le 2$, $d_k, d_v \le 2$ "
                r"(`sdpa_backward_proved(2)`; exponentials $e^{s_{ij}}$ written $E_{ij}$). "
                r"For $n = m = 2$, $d_k = d_v = 1$, the entry $\partial L/\partial q_{11}$:",
                sympy.Eq(sympy.Symbol(r"\partial L/\partial q_{11}"), derived),
            ),
        ),
        claimed=claimed,
        derived=derived,
        scope=f"exact identity for every n, m <= {MAX_PROVED_N} and d_k, d_v <= 2",
    )


# 3. Why 1/sqrt(d_k) -------------------------------------------------------------------------

_MU = sympy.Symbol("mu", real=True)
_SIG = sympy.Symbol("sigma", positive=True)


@cache
def _product_moments() -> tuple[sympy.Expr, sympy.Expr]:
    """E and Var of q*k for independent q, k ~ N(mu, sigma^2), by sympy.stats."""
    q, k = Normal("q", _MU, _SIG), Normal("k", _MU, _SIG)
    return sympy.expand(expectation(q * k)), sympy.expand(stats_variance(q * k))


def score_moments(d_k: Dim, mean: object = 0, variance: object = 1) -> tuple[sympy.Expr, ...]:
    r"""Mean and variance of the scaled score :math:`s = q^\top k/\sqrt{d_k}` for independent
    :math:`q, k \in \mathbb{R}^{d_k}` with i.i.d. entries of mean :math:`\mu` (``mean``) and
    variance :math:`\sigma^2` (``variance``, :math:`\ge 0`) (``000`` § Self-Attention
    Mechanism, "for scaling"; Vaswani et al. 2017, footnote 4):

    .. math:: \mathbb{E}[s] = \sqrt{d_k}\,\mu^2,\qquad
              \operatorname{Var}[s] = \frac{d_k(\sigma^4 + 2\mu^2\sigma^2)}{d_k}
              = \sigma^4 + 2\mu^2\sigma^2 .

    Derived with ``sympy.stats`` for Normal entries; only the first two moments of the
    entries enter (:math:`\mathbb{E}[qk] = \mu^2`, :math:`\mathbb{E}[q^2k^2] =
    (\sigma^2+\mu^2)^2`), so the result holds for any distribution with them. The unscaled
    :math:`q^\top k` has variance :math:`d_k(\sigma^4 + 2\mu^2\sigma^2)`. ``d_k`` an integer
    >= 1 or SymPy expression; ``mean``, ``variance`` real (SymPy allowed).

    >>> score_moments(64)
    (0, 1)
    >>> score_moments(4, mean=1, variance=1)
    (2, 3)
    """
    dk = _dim(d_k, "d_k")
    mu = _real_value(mean, "mean")
    var = _real_value(variance, "variance", lower=0)
    e1, v1 = _product_moments()
    sub = {_MU: mu, _SIG: sympy.sqrt(var)}
    e = sympy.expand(dk * e1.subs(sub) / sympy.sqrt(dk))
    v = sympy.expand(dk * v1.subs(sub) / dk)
    return e, v


def derive_score_scale() -> Derivation:
    r"""Why the scores are divided by :math:`\sqrt{d_k}`, and when that keeps them in range."""
    d = sympy.Symbol("d_k", integer=True, positive=True)
    v1 = _product_moments()[1]
    e, v = score_moments(d, _MU, _SIG**2)
    return Derivation(
        title=r"Scale of $q^\top k$: variance $d_k\sigma^4$ unscaled, $\sigma^4$ scaled",
        steps=(
            Step(
                r"One term, $q, k$ independent with mean $\mu$ and variance $\sigma^2$ "
                r"(sympy.stats with Normal entries; only these two moments enter): "
                r"$\mathbb{E}[qk] = \mu^2$ and",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[qk]"), v1),
            ),
            Step(
                r"The $d_k$ terms of $q^\top k$ are independent: variances add, "
                r"$\mathrm{Var}[q^\top k] = d_k(\sigma^4 + 2\mu^2\sigma^2)$ — $d_k\sigma^4$ for "
                r"zero mean, growing with $d_k$ and pushing the softmax into saturation."
            ),
            Step(
                r"Divided by $\sqrt{d_k}$ the variance no longer depends on $d_k$, for any mean:",
                sympy.Eq(sympy.Symbol(r"\mathrm{Var}[q^\top k/\sqrt{d_k}]"), v),
            ),
            Step(
                r"but the mean does unless $\mu = 0$: it grows like $\sqrt{d_k}$,",
                sympy.Eq(sympy.Symbol(r"\mathbb{E}[q^\top k/\sqrt{d_k}]"), e),
            ),
            Step(
                r"So the claim (a spread that does not grow with $d_k$) holds for the variance "
                r"always and for the whole score distribution only when the entries have mean 0"
                r" (then $\mathrm{Var} = \sigma^4$, 1 for unit variance)."
            ),
        ),
        claimed=sympy.Integer(1),
        derived=v,
        assumptions={_MU: 0, _SIG: 1},
        scope="proved for all d_k, mu, sigma (sympy.stats, Normal entries; first two moments)",
    )


# 4. Parameter counts --------------------------------------------------------------------------


def mha_params(
    embed_dim: Dim,
    num_heads: Dim,
    kdim: Dim | None = None,
    vdim: Dim | None = None,
    bias: bool = True,
    add_bias_kv: bool = False,
) -> Dim:
    r"""Parameters of ``torch.nn.MultiheadAttention(embed_dim, num_heads, bias=…,
    add_bias_kv=…, kdim=…, vdim=…)`` (``000`` § Multi-Head Attention; ``002`` § Multi-Head
    Attention), :math:`E` = ``embed_dim``:

    .. math:: E(E + k_{dim} + v_{dim}) + E^2 + [\text{bias}]\,4E + [\text{add\_bias\_kv}]\,2E

    — the query/key/value projections (``in_proj_weight`` 3E×E when
    ``kdim = vdim = E``, else ``q_proj_weight`` E×E, ``k_proj_weight`` E×kdim,
    ``v_proj_weight`` E×vdim), ``in_proj_bias`` (3E), ``out_proj`` (E×E + E), and
    ``bias_k``, ``bias_v`` (E each). Independent of ``num_heads``, which must divide
    ``embed_dim`` (torch asserts it; ValueError here, checked when both are integers): torch's
    heads have width :math:`E/h`. Integers or SymPy expressions. With the defaults this is
    :func:`theory.arch.attention_params` (:math:`4E^2 + 4E`).

    >>> mha_params(8, 2, kdim=3, vdim=5, bias=False)
    192
    """
    e = _dim(embed_dim, "embed_dim")
    h = _dim(num_heads, "num_heads")
    divides(h, e, "num_heads", "embed_dim")
    kd = _opt(kdim, "kdim", e)
    vd = _opt(vdim, "vdim", e)
    b = flag(bias, "bias")
    bkv = flag(add_bias_kv, "add_bias_kv")
    return e * (e + kd + vd) + e * e + (4 * e if b else 0) + (2 * e if bkv else 0)


def mha_params_general(d_model: Dim, heads: Dim, d_k: Dim, d_v: Dim, bias: bool = True) -> Dim:
    r"""Parameters of multi-head attention with :math:`h` heads of free widths
    :math:`d_k, d_v` (Vaswani et al. 2017, §3.2.2; ``000``, ``002`` § Multi-Head Attention):
    :math:`W_i^Q, W_i^K \in \mathbb{R}^{d\times d_k}`, :math:`W_i^V \in \mathbb{R}^{d\times
    d_v}`, :math:`W^O \in \mathbb{R}^{hd_v\times d}`:

    .. math:: h\,d\,(2d_k + d_v) + h\,d_v\,d \;+\; [\text{bias}]\,(2hd_k + hd_v + d).

    At :math:`d_k = d_v = d/h` it is :func:`mha_params` (:math:`4d^2 + 4d`) for every
    :math:`h`; at fixed :math:`d_k, d_v` it grows with :math:`h`:
    :math:`\partial/\partial h = 2d(d_k + d_v) + [\text{bias}](2d_k + d_v) > 0`.
    Integers or SymPy expressions.

    >>> mha_params_general(768, 12, 64, 64)
    2362368
    """
    d = _dim(d_model, "d_model")
    h = _dim(heads, "heads")
    dk, dv = _dim(d_k, "d_k"), _dim(d_v, "d_v")
    b = flag(bias, "bias")
    return h * d * (2 * dk + dv) + h * dv * d + ((2 * h * dk + h * dv + d) if b else 0)


# 5. Cost ------------------------------------------------------------------------------------


def attention_cost(
    n: Dim,
    d_model: Dim,
    heads: Dim,
    d_k: Dim | None = None,
    d_v: Dim | None = None,
    m: Dim | None = None,
    kdim: Dim | None = None,
    vdim: Dim | None = None,
) -> dict[str, Dim]:
    r"""Exact cost of one multi-head attention layer on ``n`` queries and ``m`` keys/values
    (default ``m = n``: self-attention), ``heads`` = :math:`h` heads of widths :math:`d_k, d_v`
    (default :math:`d_k = d_v = d/h`, then ``heads`` must divide ``d_model``) — ``000`` § Key
    Questions for Review (10); ``002`` § Self-Attention Theory, § Advanced Understanding
    Questions (5). MACs (multiply-accumulates; FLOPs = 2 × MACs) of

    * ``q_proj`` :math:`n\,d\,hd_k`, ``k_proj`` :math:`m\,d_{kin}\,hd_k`, ``v_proj``
      :math:`m\,d_{vin}\,hd_v` (keys and values projected from ``m`` tokens of widths
      ``kdim``, ``vdim``, default ``d_model``, as torch's ``MultiheadAttention`` names them),
    * ``scores`` :math:`QK^\top` over all heads: :math:`h\,n\,m\,d_k`,
    * ``weighted_sum`` :math:`AV`: :math:`h\,n\,m\,d_v`,
    * ``out_proj`` :math:`n\,hd_v\,d`,
    * ``macs``: the sum of those six (what ``FlopCounterMode`` sees, halved);

    counts that are not MACs: ``softmax_exp`` :math:`h\,n\,m` exponentials (one per score),
    ``bias_adds`` :math:`n\,hd_k + m\,hd_k + m\,hd_v + n\,d` (one per biased projection
    output); memory in entries (numbers held at once, per layer, all heads):
    ``score_entries`` :math:`h\,n\,m` (the attention matrix; the same count for the scores
    before the softmax), ``q_entries`` :math:`n\,hd_k`, ``k_entries`` :math:`m\,hd_k`,
    ``v_entries`` :math:`m\,hd_v`, ``output_entries`` :math:`n\,d`.

    With :math:`m = n`, :math:`d_k = d_v = d/h` it agrees with
    :func:`theory.arch.attention_cost`: projections :math:`4nd^2`, ``scores`` +
    ``weighted_sum`` :math:`= 2n^2d`, ``softmax_exp`` :math:`= hn^2`. Integers or SymPy
    expressions.

    >>> c = attention_cost(10, 8, 2)
    >>> c["macs"], c["score_entries"]
    (4160, 200)
    """
    n_ = _dim(n, "n")
    d = _dim(d_model, "d_model")
    h = _dim(heads, "heads")
    if (d_k is None or d_v is None) and isinstance(h, int) and isinstance(d, int) and d % h:
        missing = "d_k" if d_k is None else "d_v"
        raise ValueError(
            f"heads must divide d_model when {missing} is None (default d_k = d_v = "
            f"d_model/heads): d_model={d} is not a multiple of heads={h}; pass d_k and d_v "
            f"for heads of another width"
        )
    default = d // h if isinstance(d, int) and isinstance(h, int) else d / h
    dk = _opt(d_k, "d_k", default)
    dv = _opt(d_v, "d_v", default)
    m_ = _opt(m, "m", n_)
    kin, vin = _opt(kdim, "kdim", d), _opt(vdim, "vdim", d)
    out = {
        "q_proj": n_ * d * h * dk,
        "k_proj": m_ * kin * h * dk,
        "v_proj": m_ * vin * h * dv,
        "scores": h * n_ * m_ * dk,
        "weighted_sum": h * n_ * m_ * dv,
        "out_proj": n_ * h * dv * d,
    }
    out["macs"] = sum(out.values())
    out.update(
        softmax_exp=h * n_ * m_,
        bias_adds=n_ * h * dk + m_ * h * dk + m_ * h * dv + n_ * d,
        score_entries=h * n_ * m_,
        q_entries=n_ * h * dk,
        k_entries=m_ * h * dk,
        v_entries=m_ * h * dv,
        output_entries=n_ * d,
    )
    if any(isinstance(v, sympy.Basic) for v in out.values()):
        out = {k: sympy.expand(v) for k, v in out.items()}
    return out


def quadratic_share(n: Dim, d_model: Dim) -> sympy.Expr:
    r"""Share of the attention products (:math:`QK^\top` and :math:`AV`, :math:`2n^2d` MACs)
    in the MACs of a self-attention layer with :math:`d_k = d_v = d/h` (projections
    :math:`4nd^2`):

    .. math:: \frac{2n^2d}{2n^2d + 4nd^2} = \frac{n}{n + 2d},

    independent of :math:`h`; above 1/2 exactly when :math:`n > 2d`. Integers give an exact
    :class:`sympy.Rational`, SymPy expressions an expression.

    >>> quadratic_share(197, 768)
    197/1733
    """
    n_ = _dim(n, "n")
    d = _dim(d_model, "d_model")
    if isinstance(n_, int) and isinstance(d, int):
        return sympy.Rational(n_, n_ + 2 * d)
    return sympy.cancel(sympy.sympify(n_) / (n_ + 2 * d))


# 6. Sinusoidal encoding ------------------------------------------------------------------------


def sinusoidal_expr(pos: Dim, i: Dim, d: Dim, base: object = 10000) -> tuple[sympy.Expr, ...]:
    r"""The pair :math:`(PE_{(pos,2i)}, PE_{(pos,2i+1)}) = (\sin(pos\,\omega_i),
    \cos(pos\,\omega_i))`, :math:`\omega_i = b^{-2i/d}` (``000`` § Positional Encoding and
    Extensions; Vaswani et al. 2017, §3.5). ``pos`` an integer >= 0, ``i`` an integer >= 0 with
    :math:`2i < d` (for odd :math:`d` the last pair :math:`i = (d-1)/2` has only its sine in
    the encoding), ``d`` >= 1; SymPy expressions allowed. ``base`` :math:`b` a real > 1 (a
    SymPy expression not known to be <= 1 is accepted).

    >>> sinusoidal_expr(3, 0, 4)
    (sin(3), cos(3))
    """
    p = _dim(pos, "pos", 0)
    i_ = _dim(i, "i", 0)
    d_ = _dim(d, "d")
    if isinstance(i_, int) and isinstance(d_, int) and 2 * i_ >= d_:
        raise ValueError(f"i must satisfy 2*i < d (pair index), got i={i_}, d={d_}")
    b = _real_value(base, "base")
    if (b - 1).is_nonpositive:
        raise ValueError(f"base must be a real number > 1, got {base!r}")
    omega = sympy.Pow(b, sympy.Rational(-2 * i_, d_) if isinstance(d_, int) and isinstance(
        i_, int) else -2 * i_ / sympy.sympify(d_))  # fmt: skip
    return sympy.sin(p * omega), sympy.cos(p * omega)


def sinusoidal_rotation(k: object, omega: object) -> sympy.ImmutableMatrix:
    r"""The 2×2 rotation with :math:`(\sin((p+k)\omega), \cos((p+k)\omega))^\top = R(k)\,
    (\sin(p\omega), \cos(p\omega))^\top` for every :math:`p`:

    .. math:: R(k) = \begin{pmatrix}\cos k\omega & \sin k\omega\\
              -\sin k\omega & \cos k\omega\end{pmatrix},

    independent of :math:`p` (``000`` § Positional Encoding and Extensions; Vaswani et al.
    2017, §3.5: "PE_{pos+k} can be represented as a linear function of PE_{pos}").
    ``k`` (offset) and ``omega`` real numbers or SymPy expressions.

    >>> sinusoidal_rotation(0, 1)
    Matrix([
    [1, 0],
    [0, 1]])
    """
    kk = _real_value(k, "k")
    w = _real_value(omega, "omega")
    c, s = sympy.cos(kk * w), sympy.sin(kk * w)
    return sympy.ImmutableMatrix([[c, s], [-s, c]])


def _encoding(pos: sympy.Expr, d: int, base: object = 10000) -> list[sympy.Expr]:
    """The d entries of PE(pos) (odd d: the last pair's sine only)."""
    out: list[sympy.Expr] = []
    for i in range((d + 1) // 2):
        s, c = sinusoidal_expr(pos, i, d, base)
        out += [s, c]
    return out[:d]


def _zero_trig(expr: sympy.Expr) -> bool:
    return sympy.simplify(sympy.expand_trig(sympy.expand(expr))) == 0


def sinusoidal_properties_proved(d: int) -> bool:
    r"""True when the sinusoidal encoding of width ``d`` (an int in
    ``[1, MAX_SINUSOIDAL_D]``) has, as identities in symbolic real positions :math:`p, q` and
    offset :math:`k` (SymPy trigonometric expansion):

    1. **shift**: :math:`PE(p+k) = M(k)\,PE(p)` with :math:`M(k) = \operatorname{blockdiag}(
       R_0(k), \dots)` of :func:`sinusoidal_rotation` blocks, independent of :math:`p`;
    2. **norm**: :math:`\|PE(p)\|^2 = d/2`;
    3. **offset**: :math:`PE(p)\cdot PE(q) = \sum_i \cos((p-q)\omega_i)`;
    4. **distinct**: the pair :math:`i = 0` is exactly :math:`(\sin p, \cos p)`, so two
       integer positions with equal encodings differ by a multiple of :math:`2\pi`, impossible
       for distinct integers since :math:`\pi` is irrational (checked: ``sympy.pi`` is
       irrational).

    For **odd** ``d`` the lone last sine breaks 1–3 and the result is False (the norm is
    :math:`(d-1)/2 + \sin^2(p\,\omega_{(d-1)/2})`, 0 … at ``d = 1``, ``p = 0``; see
    :func:`derive_sinusoidal`).
    """
    d_ = _small(d, "d", MAX_SINUSOIDAL_D)
    p, q, k = sympy.symbols("p q k", real=True)
    if d_ % 2:
        pe0 = _encoding(sympy.Integer(0), d_)
        return sum(x**2 for x in pe0) == sympy.Rational(d_, 2)  # (d-1)/2: False
    pe_p, pe_q, pe_pk = _encoding(p, d_), _encoding(q, d_), _encoding(p + k, d_)
    for i in range(d_ // 2):
        omega = sympy.Pow(10000, sympy.Rational(-2 * i, d_))
        r = sinusoidal_rotation(k, omega)
        shifted = r * sympy.Matrix(pe_p[2 * i : 2 * i + 2])
        for a, b in zip(shifted, pe_pk[2 * i : 2 * i + 2], strict=True):
            if not _zero_trig(a - b):
                return False
    if not _zero_trig(sum(x**2 for x in pe_p) - sympy.Rational(d_, 2)):
        return False
    dot = sum(a * b for a, b in zip(pe_p, pe_q, strict=True))
    offset = sum(
        sympy.cos((p - q) * sympy.Pow(10000, sympy.Rational(-2 * i, d_))) for i in range(d_ // 2)
    )
    if not _zero_trig(dot - offset):
        return False
    return tuple(_encoding(p, d_)[:2]) == (sympy.sin(p), sympy.cos(p)) and bool(
        sympy.pi.is_irrational
    )


def _shift_residual(d: int) -> float:
    """Least-squares fit of one matrix M with PE(p+1) = M PE(p) over the positions
    p = 0, 97, …, 39964 (413 equations per row), then the largest residual: 0 up to rounding
    (< 1e-11) when a fixed linear map exists (even d), at least 2e-4 for odd d <= 31."""
    p = sympy.Symbol("p", real=True)
    f = sympy.lambdify(p, _encoding(p, d), "numpy")
    pos = np.arange(0, 40000, 97, dtype=float)
    x = np.array([f(v) for v in pos], dtype=float).reshape(len(pos), d)
    y = np.array([f(v + 1) for v in pos], dtype=float).reshape(len(pos), d)
    m, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(np.abs(x @ m - y).max())


def derive_sinusoidal() -> Derivation:
    r"""The sinusoidal encoding's structure: rotation under shifts, norm, offset-only dot
    products, distinct positions; what an odd width breaks."""
    p, q, k, w = sympy.symbols("p q k omega", real=True)
    shifted = sinusoidal_rotation(k, w) * sympy.Matrix([sympy.sin(p * w), sympy.cos(p * w)])
    pair_dot = sympy.sin(p * w) * sympy.sin(q * w) + sympy.cos(p * w) * sympy.cos(q * w)
    derived = sympy.simplify(sympy.expand_trig(sympy.expand(pair_dot)))
    sin_last = _encoding(sympy.Symbol("pos", real=True), 3)[2]
    return Derivation(
        title=r"Sinusoidal encoding: $PE(p+k) = M(k)PE(p)$, $\|PE\|^2 = d/2$, offset-only dots",
        steps=(
            Step(
                r"Each pair is $(\sin p\omega_i, \cos p\omega_i)$. Adding angles, "
                r"$\big(\sin(p+k)\omega, \cos(p+k)\omega\big)^\top = R(k)\,"
                r"(\sin p\omega, \cos p\omega)^\top$ with the rotation",
                sympy.Eq(sympy.Symbol("R(k)"), sinusoidal_rotation(k, w), evaluate=False),
            ),
            Step(
                r"$R(k)$ depends on $k$ and $\omega_i$ only: $PE(p+k) = M(k)PE(p)$ with "
                r"$M(k) = \operatorname{blockdiag}_i R_i(k)$, the same for every $p$. The "
                r"first entry of $R(k)(\sin p\omega, \cos p\omega)^\top$:",
                sympy.Eq(sympy.Symbol(r"\sin((p+k)\omega)"), sympy.expand(shifted[0])),
            ),
            Step(
                r"$\sin^2 + \cos^2 = 1$ per pair: $\|PE(p)\|^2 = d/2$ for even $d$, for every $p$."
            ),
            Step(
                r"Per pair the dot product is a function of $p - q$ only; summed, "
                r"$PE(p)\cdot PE(q) = \sum_{i<d/2}\cos((p-q)\omega_i)$:",
                sympy.Eq(sympy.Symbol(r"\langle PE_i(p), PE_i(q)\rangle"), derived),
            ),
            Step(
                r"Pair $i = 0$ has $\omega_0 = 1$: $(\sin p, \cos p) = (\sin q, \cos q)$ iff "
                r"$p - q \in 2\pi\mathbb{Z}$, impossible for distinct integers ($\pi$ is "
                r"irrational). So distinct positions get distinct encodings (however close "
                r"for the slow pairs)."
            ),
            Step(
                r"Odd $d$: the last entry is a lone sine, e.g. for $d = 3$ "
                rf"${sympy.latex(sin_last)}$. Then $\|PE(0)\|^2 = (d-1)/2 \ne d/2$, the norm "
                r"varies with the position ($\|PE(p)\|^2 = (d-1)/2 + \sin^2 p\omega_{(d-1)/2}$),"
                r" and no fixed linear map shifts: for $d = 1$, $PE(0) = 0$ but "
                r"$PE(1) = \sin 1 \neq 0$. In general the last row would need "
                r"$\sin((p+k)\omega) = \sin p\omega\cos k\omega + \cos p\omega\sin k\omega$ "
                r"from entries that contain no $\cos p\omega$ (frequencies are distinct). "
                r"Numerically, the best single matrix for $k = 1$ over 413 positions misses by "
                rf"{_shift_residual(3):.2g} at $d = 3$ (rounding, {_shift_residual(4):.0e}, "
                r"at $d = 4$)."
            ),
            Step(
                r"Proved (identities in symbolic $p, q, k$) for every even $d \le 32$ "
                r"(`sinusoidal_properties_proved`)."
            ),
        ),
        claimed=sympy.cos((p - q) * w),
        derived=derived,
        scope="proved for all real p, q, k and every frequency",
    )


# 7. Relative positions ------------------------------------------------------------------------


def relative_score_expr(d_k: int) -> dict[str, sympy.Expr]:
    r"""The relative-position scores as SymPy expressions in vectors of length ``d_k`` (an
    integer in ``[1, MAX_EXPR_SIZE]``): ``q`` (:math:`x_iW^Q`), ``k`` (:math:`x_jW^K`), ``r``
    (:math:`r^K_{i-j}`), ``u``, ``v`` (learned vectors), all divided by :math:`\sqrt{d_k}`:

    * ``"d000"``: ``000`` § Positional Encoding and Extensions,
      :math:`[q\cdot k + q\cdot r + u\cdot k + u\cdot r]/\sqrt{d_k}`;
    * ``"transformer_xl"``: Dai et al. (2019), :math:`A^{rel}_{i,j}` with separate
      :math:`u, v`: :math:`[q\cdot k + q\cdot r + u\cdot k + v\cdot r]/\sqrt{d_k}` (the paper
      writes it unscaled; its implementation scales; :math:`r = W_{k,R}R_{i-j}`);
    * ``"factorized"``: :math:`(q + u)\cdot(k + r)/\sqrt{d_k}`.

    >>> relative_score_expr(1)["d000"]
    k_1*q_1 + k_1*u_1 + q_1*r_1 + r_1*u_1
    """
    n = _small(d_k, "d_k")
    q, k, r, u, v = (sympy.Matrix(sympy.symbols(f"{s}_1:{n + 1}", real=True))
                     for s in ("q", "k", "r", "u", "v"))  # fmt: skip
    c = 1 / sympy.sqrt(n)
    return {
        "d000": sympy.expand(c * (q.dot(k) + q.dot(r) + u.dot(k) + u.dot(r))),
        "transformer_xl": sympy.expand(c * (q.dot(k) + q.dot(r) + u.dot(k) + v.dot(r))),
        "factorized": sympy.expand(c * (q + u).dot(k + r)),
    }


def derive_relative_factorization() -> Derivation:
    r"""``000``'s four relative terms are one dot product; Transformer-XL's are not."""
    e = relative_score_expr(2)
    n = 2
    r = sympy.Matrix(sympy.symbols(f"r_1:{n + 1}", real=True))
    u = sympy.Matrix(sympy.symbols(f"u_1:{n + 1}", real=True))
    v = sympy.Matrix(sympy.symbols(f"v_1:{n + 1}", real=True))
    gap = sympy.expand(e["transformer_xl"] - e["factorized"])
    return Derivation(
        title=r"Relative scores: $e_{ij} = (q_i + u)\cdot(k_j + r_{i-j})/\sqrt{d_k}$",
        steps=(
            Step(
                r"Expanding $(q_i + u)\cdot(k_j + r_{i-j})$ gives exactly the four terms of "
                r"000's $e_{ij}$ (shown for $d_k = 2$): content–content, content–position, "
                r"a global content bias $u\cdot k_j$ and a global position bias "
                r"$u\cdot r_{i-j}$:",
                sympy.Eq(sympy.Symbol("e_{ij}"), e["factorized"]),
            ),
            Step(
                r"So 000's score is ordinary attention on shifted queries and keys, "
                r"$q_i + u$ and $k_j + r_{i-j}$."
            ),
            Step(
                r"Transformer-XL (Dai et al. 2019) uses two vectors, $u$ with the content key "
                r"and $v$ with the position key; the difference from the factorized form is",
                sympy.Eq(
                    sympy.Symbol(r"A^{rel} - (q+u)\cdot(k+r)/\sqrt{d_k}"),
                    sympy.factor(gap),
                ),
            ),
            Step(
                r"No form $(q + a)\cdot(k + b)$ with fixed $a, b$ matches it when "
                r"$(v - u)\cdot r \ne 0$: the $q\cdot b$ term forces $b = r$, the $a\cdot k$ "
                r"term forces $a = u$, and then $a\cdot b = u\cdot r \ne v\cdot r$.",
                sympy.Eq(sympy.Symbol("(v-u) r"), sympy.expand((v - u).dot(r))),
            ),
        ),
        claimed=e["d000"],
        derived=e["factorized"],
    )


# 8. Variants -----------------------------------------------------------------------------------


def _local(n: int, w: int) -> int:
    """sum_{i<n} min(i+1, w)."""
    if w >= n:
        return n * (n + 1) // 2
    return n * w - w * (w - 1) // 2


def sparse_pattern_entries(
    n: int, pattern: str, stride: int | None = None, window: int | None = None
) -> int:
    r"""Number of attended (query, key) pairs :math:`(i, j)`, :math:`0 \le j \le i < n`, of a
    **causal** attention pattern (Child et al. 2019, §4.2; ``002`` § Advanced Understanding
    Questions (5)), in closed form:

    * ``"full"``: all :math:`j \le i`: :math:`n(n+1)/2`;
    * ``"local"`` (``window`` :math:`w`): :math:`0 \le i - j < w`:
      :math:`nw - w(w-1)/2` for :math:`w \le n` (else :math:`n(n+1)/2`);
    * ``"strided"`` (``stride`` :math:`s`): :math:`i - j < s` or :math:`(i-j) \bmod s = 0`;
      per row :math:`\min(i+1, s) + \lfloor i/s\rfloor`, in all, with :math:`n = Qs + R`,
      :math:`0 \le R < s`: :math:`\text{local}(n, s) + sQ(Q-1)/2 + RQ`;
    * ``"fixed"`` (block ``stride`` :math:`l`, ``window`` :math:`c \le l` summary positions):
      :math:`\lfloor j/l\rfloor = \lfloor i/l\rfloor` or :math:`j \bmod l \ge l - c`; per row
      :math:`(i \bmod l) + 1 + c\lfloor i/l\rfloor`, in all
      :math:`Ql(l+1)/2 + R(R+1)/2 + c(lQ(Q-1)/2 + RQ)`.

    So strided with :math:`s \approx \sqrt n` is :math:`\Theta(n\sqrt n)` (exactly
    :math:`s^3 + s(s-1)^2/2` at :math:`n = s^2`), fixed with a fixed block is
    :math:`\Theta(cn^2/l)`, local :math:`\Theta(nw)`. ``n`` >= 1 and the sizes the pattern
    uses (``stride`` for strided/fixed, ``window`` for local/fixed) concrete integers >= 1;
    an argument the pattern does not use must be None (ValueError).

    >>> [sparse_pattern_entries(9, p, stride=3, window=w) for p, w in
    ...  [("strided", None), ("fixed", 1)]]
    [33, 27]
    """
    n_ = int_dim(n, "n")
    pat = _choice(pattern, "pattern", PATTERNS)
    uses = {"full": (), "local": ("window",), "strided": ("stride",),
            "fixed": ("stride", "window")}[pat]  # fmt: skip
    given = {"stride": stride, "window": window}
    for name, value in given.items():
        if name in uses and value is None:
            raise ValueError(f"{name} is required for pattern={pat!r}")
        if name not in uses and value is not None:
            raise ValueError(f"{name} does not apply to pattern={pat!r}; pass None")
    if pat == "full":
        return n_ * (n_ + 1) // 2
    if pat == "local":
        return _local(n_, int_dim(window, "window"))
    s = int_dim(stride, "stride")
    q, r = divmod(n_, s)
    if pat == "strided":
        return _local(n_, s) + s * q * (q - 1) // 2 + r * q
    c = int_dim(window, "window")
    if c > s:
        raise ValueError(f"window must be <= stride (summary positions per block), got {c} > {s}")
    return q * s * (s + 1) // 2 + r * (r + 1) // 2 + c * (s * q * (q - 1) // 2 + r * q)


def linear_attention_cost(n: Dim, d_k: Dim, d_v: Dim, r: Dim) -> dict[str, Dim]:
    r"""Cost of non-causal linear attention (Katharopoulos et al. 2020, eq. (5)–(6))
    :math:`o_i = \phi(q_i)^\top S / \phi(q_i)^\top z` with :math:`S = \sum_j \phi(k_j)v_j^\top`
    (:math:`r\times d_v`), :math:`z = \sum_j\phi(k_j)` and a feature map
    :math:`\phi: \mathbb{R}^{d_k}\to\mathbb{R}^r` counted as free (elementwise, e.g.
    :math:`\operatorname{elu}+1` with :math:`r = d_k`; a random-feature map adds
    :math:`2nd_kr` MACs). MACs per head: ``kv_summary`` :math:`nrd_v`, ``numerator``
    :math:`nrd_v`, ``denominator`` :math:`nr`, ``macs`` their sum :math:`n r(2d_v + 1)`;
    ``normalizer_adds`` :math:`nr` (building :math:`z`); memory in entries: ``state_entries``
    :math:`rd_v + r`, ``feature_entries`` :math:`2nr` (:math:`\phi(Q), \phi(K)`) — no
    :math:`n\times n` matrix. The implied attention matrix
    :math:`\operatorname{diag}(\cdot)^{-1}\phi(Q)\phi(K)^\top` has rank at most
    ``rank_bound`` :math:`= \min(n, r)` (``002`` § Advanced Understanding Questions (5):
    "limited to low-rank approximations"). Integers or SymPy expressions.

    >>> linear_attention_cost(1000, 64, 64, 64)["macs"]
    8256000
    """
    n_, dk, dv, r_ = _dim(n, "n"), _dim(d_k, "d_k"), _dim(d_v, "d_v"), _dim(r, "r")
    del dk  # the feature map is counted as free (see the docstring)
    rank = min(n_, r_) if isinstance(n_, int) and isinstance(r_, int) else sympy.Min(n_, r_)
    return {
        "kv_summary": n_ * r_ * dv,
        "numerator": n_ * r_ * dv,
        "denominator": n_ * r_,
        "macs": n_ * r_ * (2 * dv + 1),
        "normalizer_adds": n_ * r_,
        "state_entries": r_ * dv + r_,
        "feature_entries": 2 * n_ * r_,
        "rank_bound": rank,
    }


def linear_crossover_length(d_k: Dim, d_v: Dim, r: Dim) -> sympy.Expr:
    r"""The sequence length above which linear attention (:func:`linear_attention_cost`,
    :math:`nr(2d_v + 1)` MACs) costs fewer MACs than the two products of standard attention
    (:math:`QK^\top` and :math:`AV`, :math:`n^2(d_k + d_v)` per head): linear is strictly
    cheaper exactly when

    .. math:: n > \frac{r(2d_v + 1)}{d_k + d_v}

    (about :math:`r` for :math:`d_k = d_v`: 64.5 at :math:`d_k = d_v = r = 64`) — ``002``
    § Advanced Understanding Questions (5): the choice depends on the sequence length.
    Exact :class:`sympy.Rational` for integers, an expression for SymPy input.

    >>> linear_crossover_length(64, 64, 256)
    258
    """
    dk, dv, r_ = _dim(d_k, "d_k"), _dim(d_v, "d_v"), _dim(r, "r")
    if all(isinstance(v, int) for v in (dk, dv, r_)):
        return sympy.Rational(r_ * (2 * dv + 1), dk + dv)
    return sympy.cancel(sympy.sympify(r_) * (2 * dv + 1) / (dk + dv))


def variant_memory(
    n: int,
    variant: str,
    window: int | None = None,
    stride: int | None = None,
    r: int | None = None,
    d_v: int | None = None,
) -> int:
    r"""Entries of the score-like intermediates of one head on ``n`` tokens (``002`` §
    Self-Attention Theory, memory-efficient variants):

    * ``"full"``: the dense :math:`n\times n` score matrix, :math:`n^2` (also what a dense
      implementation of a causal mask stores);
    * ``"local"``, ``"strided"``, ``"fixed"``: the attended pairs
      (:func:`sparse_pattern_entries`, causal; same ``window``/``stride``);
    * ``"linear"`` (feature dim ``r``, value width ``d_v``): :math:`2nr + rd_v + r`
      (:math:`\phi(Q), \phi(K)`, the state :math:`S` and :math:`z`; no :math:`n\times n`);
    * ``"hierarchical"`` (block width ``window`` :math:`w` dividing :math:`n`): local
      attention inside blocks (:math:`nw`) plus attention among the :math:`n/w` block
      summaries (:math:`(n/w)^2`): :math:`nw + (n/w)^2`, minimised over real :math:`w` at
      :math:`w = (2n)^{1/3}` with value :math:`\tfrac32(2n)^{1/3}n = \Theta(n^{4/3})`.

    Concrete integers >= 1; arguments a variant does not use must be None.

    >>> variant_memory(64, "hierarchical", window=4)
    512
    """
    n_ = int_dim(n, "n")
    var = _choice(variant, "variant", VARIANTS)
    if var in PATTERNS:
        if r is not None or d_v is not None:
            bad = "r" if r is not None else "d_v"
            raise ValueError(f"{bad} does not apply to variant={var!r}; pass None")
        return sparse_pattern_entries(n_, var, stride, window) if var != "full" else n_ * n_
    if var == "linear":
        for name, value in (("window", window), ("stride", stride)):
            if value is not None:
                raise ValueError(f"{name} does not apply to variant='linear'; pass None")
        if r is None or d_v is None:
            raise ValueError("r and d_v are required for variant='linear'")
        r_, dv = int_dim(r, "r"), int_dim(d_v, "d_v")
        return 2 * n_ * r_ + r_ * dv + r_
    for name, value in (("stride", stride), ("r", r), ("d_v", d_v)):
        if value is not None:
            raise ValueError(f"{name} does not apply to variant='hierarchical'; pass None")
    if window is None:
        raise ValueError("window is required for variant='hierarchical'")
    w = int_dim(window, "window")
    if n_ % w:
        raise ValueError(f"window must divide n for variant='hierarchical', got n={n_}, w={w}")
    return n_ * w + (n_ // w) ** 2


def positional_params(
    scheme: str,
    max_len: Dim | None = None,
    d: Dim | None = None,
    max_offset: Dim | None = None,
    layers: Dim = 1,
    include_values: bool = False,
) -> Dim:
    r"""Trainable parameters of a positional encoding (``000`` § Positional Encoding and
    Extensions and § Key Questions for Review (12)):

    * ``"sinusoidal"``: 0 (fixed; any length); no other argument applies;
    * ``"learned"``: :math:`L_{max}\,d` (one vector per position up to ``max_len``, added
      once at the input; positions beyond ``max_len`` have no embedding);
    * ``"relative"``: :math:`(2k + 1)\,d` per layer (Shaw et al. 2018: offsets clipped to
      :math:`[-k, k]`, ``max_offset`` = :math:`k`; ``d`` the width of :math:`r^K`, i.e.
      :math:`d_k`, shared by the heads), times ``layers``, doubled with ``include_values``
      (Shaw's :math:`a^V`; 000's formula has only :math:`r^K`).

    Integers or SymPy expressions; arguments a scheme does not use must be None.

    >>> positional_params("relative", d=64, max_offset=16, layers=12)
    25344
    """
    sch = _choice(scheme, "scheme", POSITIONAL_SCHEMES)
    values = flag(include_values, "include_values")
    nl = _dim(layers, "layers")
    if sch == "sinusoidal":
        for name, v in (("max_len", max_len), ("d", d), ("max_offset", max_offset)):
            if v is not None:
                raise ValueError(f"{name} does not apply to scheme='sinusoidal'; pass None")
        return 0
    if d is None:
        raise ValueError(f"d is required for scheme={sch!r}")
    width = _dim(d, "d")
    if sch == "learned":
        if max_offset is not None:
            raise ValueError("max_offset does not apply to scheme='learned'; pass None")
        if max_len is None:
            raise ValueError("max_len is required for scheme='learned'")
        return _dim(max_len, "max_len") * width
    if max_len is not None:
        raise ValueError("max_len does not apply to scheme='relative'; pass None")
    if max_offset is None:
        raise ValueError("max_offset is required for scheme='relative'")
    k = _dim(max_offset, "max_offset", 0)
    return (2 if values else 1) * nl * (2 * k + 1) * width


def derive_variant_costs() -> Derivation:
    r"""Entry counts of the sparse, linear and hierarchical variants, and their growth."""
    s, n, w = sympy.symbols("s n w", positive=True)
    strided = s**3 + s * (s - 1) ** 2 / 2  # sparse_pattern_entries(s**2, "strided", stride=s)
    lead = sympy.limit(strided / s**3, s, sympy.oo)
    hier = n * w + (n / w) ** 2
    w_star = sympy.solve(sympy.diff(hier, w), w)[0]
    hier_min = sympy.simplify(hier.subs(w, w_star))
    l_, c_ = sympy.symbols("l c", positive=True)
    fixed = sympy.expand((n / l_) * l_ * (l_ + 1) / 2 + c_ * l_ * (n / l_) * (n / l_ - 1) / 2)
    return Derivation(
        title=r"Sparse, linear and hierarchical attention: entries and growth",
        steps=(
            Step(
                r"Strided (Child et al.): row $i$ attends $\min(i+1, s) + \lfloor i/s\rfloor$ "
                r"keys. At $n = s^2$ the total is",
                sympy.Eq(sympy.Symbol("N_{strided}"), sympy.expand(strided)),
            ),
            Step(
                r"so $N_{strided}/n^{3/2} \to 3/2$: $\Theta(n\sqrt n)$ **when** "
                r"$s \propto \sqrt n$. "
                r"With a fixed stride the $\lfloor i/s\rfloor$ term gives $\sim n^2/(2s)$: "
                r"quadratic."
            ),
            Step(
                r"Fixed (block $l$, $c$ summary positions), $l \mid n$: "
                r"$\Theta(cn^2/l)$ for fixed $l$, $n\sqrt n$-like only if $l \propto \sqrt n$:",
                sympy.Eq(sympy.Symbol("N_{fixed}"), fixed),
            ),
            Step(r"Local window $w$: $nw - w(w-1)/2 = \Theta(nw)$, linear for fixed $w$."),
            Step(
                r"Linear attention: $nr(2d_v + 1)$ MACs and $2nr + rd_v + r$ entries, linear in "
                r"$n$; cheaper than $n^2(d_k + d_v)$ once $n > r(2d_v+1)/(d_k + d_v)$; its "
                r"implied attention matrix has rank $\le \min(n, r)$."
            ),
            Step(
                r"Hierarchical (blocks of width $w$ + attention over $n/w$ summaries): "
                r"$nw + (n/w)^2$, minimal at",
                sympy.Eq(sympy.Symbol("w^*"), w_star),
            ),
            Step(
                r"with value $\Theta(n^{4/3})$:",
                sympy.Eq(sympy.Symbol("N_{hier}(w^*)"), hier_min),
            ),
        ),
        claimed=sympy.Rational(3, 2),
        derived=lead,
        scope="proved (closed forms; the strided count at n = s^2, limit as s -> oo)",
    )


# 6. The FlashAttention form of the backward ------------------------------------------------


def derive_flash_backward() -> Derivation:
    r"""The backward as FlashAttention-2 computes it (Dao 2023, arXiv:2307.08691, Algorithm 2):
    the row term of :math:`dS` from the output, :math:`\delta_i = \sum_j P_{ij}\,dP_{ij} =
    \sum_c dO_{ic}\,O_{ic}`, and the weights recomputed from the saved log-sum-exp,
    :math:`P_{ij} = e^{S_{ij} - \mathrm{LSE}_i}` with :math:`\mathrm{LSE}_i = \log\sum_l
    e^{S_{il}}`; so :math:`dS = P\circ(dP - \delta\mathbf 1^\top)` needs neither the
    :math:`n\times m` weights nor :math:`dP\circ P` stored. Proved with SymPy for
    :math:`n = 2` queries, :math:`m = 3` keys, :math:`d_v = 2` and a symbolic scale: every
    :math:`\delta_i` (as one identity with free weights) and every entry of :math:`P`."""
    n, m, dv = 2, 3, 2
    att = attention_expr(n, 1, dv, m, scale=sympy.Symbol("c", positive=True))
    g = _sym_matrix("g", n, dv)
    da = g * att.V.T
    back = _exp_symbols(att)
    w = sympy.symbols(f"w_1:{n + 1}", real=True)  # one free weight per row
    via_p = sum(w[i] * sum(da[i, j] * att.A[i, j] for j in range(m)) for i in range(n))
    via_o = sum(w[i] * sum(g[i, c] * att.O[i, c] for c in range(dv)) for i in range(n))
    claimed = sympy.cancel(sympy.together(_rationalize(sympy.expand(via_o), back)))
    derived = sympy.cancel(sympy.together(_rationalize(sympy.expand(via_p), back)))
    lse = [sympy.log(sum(sympy.exp(att.S[i, j]) for j in range(m))) for i in range(n)]
    p_ok = all(
        sympy.cancel(
            sympy.together(
                _rationalize(
                    sympy.expand(sympy.exp(att.S[i, j] - lse[i]), power_exp=True) - att.A[i, j],
                    back,
                )
            )
        )
        == 0
        for i in range(n)
        for j in range(m)
    )
    return Derivation(
        title=r"FlashAttention backward: $\delta = \operatorname{rowsum}(dO\circ O)$, "
        r"$P = e^{S - \mathrm{LSE}}$",
        steps=(
            Step(
                r"$dP = dO\,V^\top$ and $O = PV$, so "
                r"$\sum_j P_{ij}dP_{ij} = \sum_j P_{ij}\sum_c dO_{ic}V_{jc} = "
                r"\sum_c dO_{ic}\sum_j P_{ij}V_{jc} = \sum_c dO_{ic}O_{ic}$: "
                r"$\delta = \operatorname{rowsum}(dO\circ O)$, one pass over $O$ and $dO$."
            ),
            Step(
                r"Hence $dS = P\circ(dP - \delta\mathbf 1^\top)$ equals the softmax-Jacobian "
                r"form of `derive_sdpa_backward`, $P\circ(dP - \operatorname{rowsum}(dP\circ P)"
                r"\mathbf 1^\top)$."
            ),
            Step(
                r"$P_{ij} = e^{S_{ij}}/\sum_l e^{S_{il}} = e^{S_{ij} - \mathrm{LSE}_i}$ with "
                r"$\mathrm{LSE}_i = \log\sum_l e^{S_{il}}$ "
                + ("(every entry checked: True)" if p_ok else "(FAILED for an entry)")
                + r"; the forward saves $\mathrm{LSE}$ ($n$ numbers), the backward recomputes "
                r"$P$ tile by tile from $Q$, $K$ and $\mathrm{LSE}$."
            ),
            Step(
                r"Checked as one identity $\sum_i w_i\sum_j P_{ij}dP_{ij} = "
                r"\sum_i w_i\sum_c dO_{ic}O_{ic}$ with free weights $w$ (so every row agrees), "
                r"$e^{s_{ij}}$ written $E_{ij}$ and the difference cancelled to 0."
            ),
        ),
        claimed=claimed,
        derived=derived if p_ok else derived + 1,  # a wrong P-from-LSE step fails the check
        scope="exact identity for n = 2 queries, m = 3 keys, d_v = 2, symbolic scale",
    )
