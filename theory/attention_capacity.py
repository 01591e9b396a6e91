r"""What attention heads can and cannot express: the low-rank bottleneck, exactly.

One softmax head with key dimension :math:`d_k` computes the attention matrix
:math:`P = \operatorname{softmax}_{\text{rows}}(S)` from scores
:math:`S = QK^\top/\sqrt{d_k}`, :math:`Q = XW_Q + \mathbf 1 b_Q^\top \in \mathbb R^{n\times d_k}`,
:math:`K = XW_K + \mathbf 1 b_K^\top \in \mathbb R^{m\times d_k}`. Hence
:math:`\operatorname{rank} S \le d_k` **for every input and every weight** (biases included).
Conversely, when the input :math:`X \in \mathbb R^{n\times d}` has full row rank
(:math:`n \le d`), :math:`XW_Q` and :math:`XW_K` range over *all* :math:`n\times d_k` matrices,
so :math:`S` ranges over all matrices of rank :math:`\le d_k`.

Softmax forgets one constant per row: :math:`\operatorname{softmax}(L - c\mathbf 1^\top) =
\operatorname{softmax}(L)`, and two logit matrices with the same softmax differ by such a
:math:`c\mathbf 1^\top` (the row-centred log of :math:`P` is :math:`LC`). With the centring
projection :math:`C = I_m - \mathbf 1\mathbf 1^\top/m`,

.. math:: \min_{c}\operatorname{rank}(L - c\mathbf 1^\top) = \operatorname{rank}(LC),

because :math:`(L - c\mathbf 1^\top)C = LC` for every :math:`c` (so every rank is
:math:`\ge \operatorname{rank} LC`) and :math:`c = L\mathbf 1/m` gives :math:`L - c\mathbf
1^\top = LC`. So **the attention pattern** :math:`\operatorname{softmax}(L)` **is produced
by one head exactly iff** :math:`d_k \ge \operatorname{rank}(LC)` (for a full-row-rank input;
the "only if" holds for every input). :func:`min_head_dim` computes
:math:`\operatorname{rank}(LC)` exactly; it is at most :math:`m - 1`.

With :math:`h` heads of width :math:`d_k = d/h` (torch's ``MultiheadAttention``, the same
:math:`4d^2 + 4d` parameters for every :math:`h`) a pattern with
:math:`\operatorname{rank}(LC) > d/h` is out of reach of **every** head, while one head of
width :math:`d` produces it: Bhojanapalli et al. (2020), *Low-Rank Bottleneck in Multi-head
Attention Models*, ICML, Theorem 1.

The bottleneck is on the *logits*, not on the attention matrix: softmax of a rank-one logit
matrix :math:`qk^\top` has rank :math:`\min(\#\{q_i\}, \#\{k_j\})` (numbers of distinct
values), generically full (:func:`rank_one_attention_rank`): the kernel
:math:`e^{xy}` is strictly totally positive (Gantmacher & Krein, *Oscillation Matrices and
Kernels*, 1950/2002, ch. II; S. Karlin, *Total Positivity*, 1968, ch. 3), so every square
submatrix :math:`[e^{q_ik_j}]` with increasing distinct :math:`q` and :math:`k` has a positive
determinant — a generalized Vandermonde determinant in :math:`t_i = e^{q_i}`.

Examples
--------
>>> min_head_dim([[0, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 3], [3, 0, 0, 0]])
3
>>> representable_with_head_dim([[1, 2], [3, 4]], d_k=1)
True
>>> rank_one_attention_rank([1, 2, 3], [1, 2, 3])
3
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import sympy

from theory._args import MAX_ITEMS, TEXT, bounded, int_dim
from theory.derivation import Derivation, Step

__all__ = [
    "MAX_ENTRY_BITS",
    "MAX_ITEMS_WEIGHTS",
    "MAX_LOGIT_ENTRIES",
    "MAX_RANK_WORK",
    "derive_head_rank_bottleneck",
    "derive_pattern_distance_bound",
    "derive_rank_one_full_rank",
    "derive_single_head_mixing_bound",
    "min_head_dim",
    "min_head_dim_of_weights",
    "rank_one_attention_rank",
    "representable_with_head_dim",
]

MAX_LOGIT_ENTRIES = 4096
"""Largest logit matrix (entries, e.g. 64 x 64) whose exact rank is computed; beyond it the
helpers refuse at once (exact elimination on rationals grows like :math:`nm\\min(n, m)`)."""

MAX_ENTRY_BITS = 4096
"""Largest numerator/denominator (bits) of one exact logit."""

MAX_RANK_WORK = 10**13
r"""Budget of the exact rank: :math:`nmk\,(kb)^2`, :math:`k = \min(n, m)`, :math:`b` the bit
length of the centred integer entries — :math:`nmk` multiplications of numbers of up to
:math:`kb` bits (Bareiss). About a second here: a 64 x 64 matrix of 64-bit integers costs
5.4e12 (0.7 s), 16 x 16 of 4096-bit integers 1.8e13 (1.4 s, refused)."""


# --------------------------------------------------------------------------- arguments


def _exact_entry(value: object, name: str) -> Fraction:
    """One exact rational logit: int, NumPy integer, Fraction or SymPy Rational."""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an exact integer or rational, got a bool ({value!r})")
    if isinstance(value, sympy.Basic):
        if not isinstance(value, sympy.Rational):
            raise TypeError(
                f"{name} must be an exact integer or rational (SymPy Integer/Rational), got "
                f"{value!r}"
            )
        out = Fraction(int(value.p), int(value.q))
    elif isinstance(value, numbers.Integral):
        out = Fraction(int(value))
    elif isinstance(value, Fraction):
        out = value
    else:
        raise TypeError(
            f"{name} must be an exact integer or rational (int, Fraction, SymPy Rational); "
            f"floats are refused because the rank of rounded logits is not exact; got "
            f"{type(value).__name__} ({value!r})"
        )
    if max(out.numerator.bit_length(), out.denominator.bit_length()) > MAX_ENTRY_BITS:
        raise ValueError(
            f"{name} must have numerator and denominator of at most {MAX_ENTRY_BITS} bits"
        )
    return out


def _rows(logits: object, name: str = "logits") -> list[list[Fraction]]:
    """A non-empty rectangular matrix of exact rationals, as rows of Fractions.

    Accepted: a SymPy ``Matrix``, a NumPy array of integer (or object) dtype, a sequence of
    equal-length sequences. At most :data:`MAX_LOGIT_ENTRIES` entries.
    """
    allowed = (
        f"{name} must be a non-empty 2-D matrix of exact integers/rationals (SymPy Matrix, "
        f"integer NumPy array or list of equal-length rows)"
    )
    if isinstance(logits, sympy.MatrixBase):
        n, m = logits.shape
        if n == 0 or m == 0:
            raise ValueError(f"{allowed}, got shape {logits.shape}")
        bounded(n * m, f"{name} (entries)", MAX_LOGIT_ENTRIES)
        return [
            [_exact_entry(logits[i, j], f"{name}[{i}][{j}]") for j in range(m)] for i in range(n)
        ]
    if isinstance(logits, np.ndarray):
        if logits.dtype.kind not in "iuO":
            raise TypeError(f"{allowed}, got a NumPy array of dtype {logits.dtype}")
        if logits.ndim != 2 or type(logits) is not np.ndarray:
            raise ValueError(f"{allowed}, got an array of shape {logits.shape}")
        if logits.size == 0:
            raise ValueError(f"{allowed}, got shape {logits.shape}")
        bounded(logits.size, f"{name} (entries)", MAX_LOGIT_ENTRIES)
        logits = logits.tolist()
    if isinstance(logits, TEXT) or not isinstance(logits, Sequence):
        raise TypeError(f"{allowed}, got {type(logits).__name__} ({logits!r})")
    if len(logits) == 0:
        raise ValueError(f"{allowed}, got an empty sequence")
    bounded(len(logits), f"{name} (rows)", MAX_LOGIT_ENTRIES)
    rows: list[list[Fraction]] = []
    width: int | None = None
    for i, row in enumerate(logits):
        if isinstance(row, TEXT) or not isinstance(row, Sequence | np.ndarray):
            raise TypeError(f"{allowed}: {name}[{i}] is {type(row).__name__} ({row!r})")
        if width is None:
            width = len(row)
            if width == 0:
                raise ValueError(f"{allowed}: {name}[0] is empty")
            bounded(len(logits) * width, f"{name} (entries)", MAX_LOGIT_ENTRIES)
        elif len(row) != width:
            raise ValueError(
                f"{allowed}: {name}[{i}] has {len(row)} entries, {name}[0] has {width}"
            )
        rows.append([_exact_entry(v, f"{name}[{i}][{j}]") for j, v in enumerate(row)])
    return rows


def _centred_integers(rows: list[list[Fraction]]) -> list[list[int]]:
    r"""Integer rows with the row space of :math:`LC`: each row scaled by the lcm of its
    denominators (rank unchanged), then centred as :math:`m\,x_j - \sum_l x_l` (:math:`m`
    times the row minus its mean)."""
    m = len(rows[0])
    out = []
    for row in rows:
        scale = 1
        for x in row:
            scale = scale * x.denominator // math.gcd(scale, x.denominator)
        ints = [int(x * scale) for x in row]
        total = sum(ints)
        out.append([m * v - total for v in ints])
    return out


def _check_work(a: list[list[int]], name: str) -> None:
    """Refuse an elimination estimated above :data:`MAX_RANK_WORK` before starting it."""
    n, m = len(a), len(a[0])
    bits = max(1, max(abs(v).bit_length() for row in a for v in row))
    k = min(n, m)
    work = n * m * k * (k * bits) ** 2
    if work > MAX_RANK_WORK:
        raise ValueError(
            f"{name} is too costly for an exact rank here: n*m*k*(k*b)^2 = {work} > "
            f"{MAX_RANK_WORK} (n x m = {n} x {m}, b = {bits} bits per centred integer entry); "
            f"use smaller or lower-precision logits"
        )


def _rank(a: list[list[int]]) -> int:
    r"""Exact rank of an integer matrix by fraction-free (Bareiss) elimination: after step
    :math:`k` the entries are :math:`k\times k` minors, so every division is exact and the
    numbers stay at most :math:`\min(n, m)` times as long as the input's."""
    a = [row[:] for row in a]
    n, m = len(a), len(a[0])
    rank, prev = 0, 1
    for col in range(m):
        pivot = next((r for r in range(rank, n) if a[r][col] != 0), None)
        if pivot is None:
            continue
        a[rank], a[pivot] = a[pivot], a[rank]
        p = a[rank]
        pc = p[col]
        for r in range(rank + 1, n):
            row = a[r]
            rc = row[col]
            a[r] = [(pc * row[j] - rc * p[j]) // prev if j > col else 0 for j in range(m)]
        prev = pc
        rank += 1
        if rank == n:
            break
    return rank


# --------------------------------------------------------------------------- public helpers


def min_head_dim(logits: object) -> int:
    r"""Smallest key dimension :math:`d_k` with which one softmax head produces
    :math:`P = \operatorname{softmax}_{\text{rows}}(L)` exactly:
    :math:`\operatorname{rank}(LC)`, :math:`C = I_m - \mathbf 1\mathbf 1^\top/m`.

    Explanation
    -----------
    A head's scores :math:`QK^\top/\sqrt{d_k}` have rank :math:`\le d_k` for every input,
    weight and bias, and for an input of full row rank they reach every matrix of rank
    :math:`\le d_k`. Softmax is invariant exactly under :math:`L \mapsto L - c\mathbf
    1^\top`, and :math:`\min_c \operatorname{rank}(L - c\mathbf 1^\top) =
    \operatorname{rank}(LC)` (proof in :func:`derive_head_rank_bottleneck`). ``0`` means
    every row of :math:`L` is constant: uniform attention, produced with all scores zero.
    The result is at most :math:`\min(n, m - 1)`.

    Parameters
    ----------
    logits:
        The :math:`n\times m` logit matrix :math:`L` (queries × keys), exact: a SymPy
        ``Matrix`` of Integers/Rationals, an integer NumPy array, or a list of equal-length
        rows of ``int``/``Fraction``/SymPy ``Rational``. Floats are refused (``TypeError``):
        the rank of rounded numbers is not the rank of the pattern. At most
        :data:`MAX_LOGIT_ENTRIES` entries, each of at most :data:`MAX_ENTRY_BITS` bits, and
        an estimated elimination cost :math:`nmk\,(kb)^2 \le` :data:`MAX_RANK_WORK`
        (:math:`b`: bits of the centred entries after clearing each row's denominators);
        beyond, ``ValueError`` naming ``logits`` before any work.

    Returns
    -------
    int

    Examples
    --------
    >>> min_head_dim([[5, 5, 5], [1, 1, 1]])  # constant rows: uniform attention
    0
    >>> min_head_dim([[0, 1], [1, 0]])
    1

    References
    ----------
    S. Bhojanapalli, C. Yun, A. S. Rawat, S. Reddi, S. Kumar (2020), *Low-Rank Bottleneck in
    Multi-head Attention Models*, ICML, §3 and Theorem 1.
    """
    a = _centred_integers(_rows(logits))
    _check_work(a, "logits")
    return _rank(a)


def representable_with_head_dim(logits: object, d_k: int) -> bool:
    r"""True when one softmax head with key dimension ``d_k`` produces
    :math:`\operatorname{softmax}_{\text{rows}}(L)` exactly (for a full-row-rank input; when
    False, no input, weight or bias produces it): :math:`d_k \ge
    \operatorname{rank}(LC)`, see :func:`min_head_dim`.

    ``d_k`` is an integer :math:`\ge 1`; ``logits`` as in :func:`min_head_dim`.

    >>> representable_with_head_dim([[0, 3, 0], [0, 0, 3], [3, 0, 0]], d_k=1)
    False
    """
    k = int_dim(d_k, "d_k", 1)
    return min_head_dim(logits) <= k


def _real_vector(values: object, name: str) -> list[Fraction]:
    """A non-empty sequence of finite real numbers (exactly converted to Fractions)."""
    allowed = f"{name} must be a non-empty 1-D sequence of finite real numbers"
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "iuf" or values.ndim != 1 or type(values) is not np.ndarray:
            raise TypeError(
                f"{allowed}, got an array of dtype {values.dtype}, shape {values.shape}"
            )
        values = values.tolist()
    if isinstance(values, TEXT) or not isinstance(values, Sequence):
        raise TypeError(f"{allowed}, got {type(values).__name__} ({values!r})")
    if len(values) == 0:
        raise ValueError(f"{allowed}, got an empty sequence")
    bounded(len(values), name, MAX_ITEMS)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool | np.bool_):
            raise TypeError(f"{allowed}: {name}[{i}] is a bool ({v!r})")
        if isinstance(v, sympy.Basic):
            if not isinstance(v, sympy.Rational):
                raise TypeError(f"{allowed}: {name}[{i}] is {v!r} (use an exact SymPy Rational)")
            out.append(Fraction(int(v.p), int(v.q)))
        elif isinstance(v, numbers.Integral):
            out.append(Fraction(int(v)))
        elif isinstance(v, Fraction):
            out.append(v)
        elif isinstance(v, numbers.Real):
            if not math.isfinite(float(v)):
                raise ValueError(f"{allowed}: {name}[{i}] is {v!r}")
            out.append(Fraction(float(v)))
        else:
            raise TypeError(f"{allowed}: {name}[{i}] is {type(v).__name__} ({v!r})")
    return out


def rank_one_attention_rank(q: object, k: object) -> int:
    r"""Rank of the attention matrix :math:`\operatorname{softmax}_{\text{rows}}(s\,qk^\top)`
    of a **rank-one** logit matrix (:math:`d_k = 1`), for any scale :math:`s > 0`:
    :math:`\min(\#\{q_i\}, \#\{k_j\})`, the numbers of *distinct* values.

    Explanation
    -----------
    :math:`P = D^{-1}E` with :math:`E_{ij} = e^{s q_i k_j}` and :math:`D` the positive
    diagonal of row sums, so :math:`\operatorname{rank}P = \operatorname{rank}E`. Equal
    :math:`q_i` give equal rows, equal :math:`k_j` equal columns. Keep one row per distinct
    :math:`q_i` and one column per distinct :math:`k_j`, both sorted increasingly: every
    square submatrix :math:`[e^{s q_i k_j}]` is a generalized Vandermonde matrix
    :math:`[t_i^{s k_j}]` with :math:`0 < t_1 < \dots` (:math:`t_i = e^{q_i}`) and increasing
    real exponents, whose determinant is positive: :math:`e^{xy}` is a strictly totally
    positive kernel (Gantmacher & Krein 1950, ch. II; Karlin 1968, ch. 3). So the rank is
    the smaller of the two counts — generically :math:`\min(n, m)`, full, although the logits
    have rank one. The case :math:`n = m = 3`, :math:`q = k = (1, 2, 3)` is proved
    symbolically in :func:`derive_rank_one_full_rank`. (In floating point the tiny singular
    values of such matrices are not resolved: the *numerical* rank is often smaller.)

    Parameters
    ----------
    q, k:
        Non-empty 1-D sequences (or real NumPy arrays) of finite reals: ints, floats,
        ``Fraction`` or SymPy ``Rational`` (compared exactly). At most :data:`MAX_ITEMS`
        entries each.

    >>> rank_one_attention_rank([0.5, 0.5, 2], [1, -1, 3, 4])
    2
    """
    qs = _real_vector(q, "q")
    ks = _real_vector(k, "k")
    return min(len(set(qs)), len(set(ks)))


# --------------------------------------------------------------------------- derivations


def derive_head_rank_bottleneck() -> Derivation:
    r"""Why one head of key dimension :math:`d_k` produces :math:`\operatorname{softmax}(L)`
    iff :math:`d_k \ge \operatorname{rank}(LC)`; checked symbolically for a generic
    :math:`2\times 3` logit matrix: :math:`(L - c\mathbf 1^\top)C = LC` for every :math:`c`.

    References: Bhojanapalli et al. (2020), Theorem 1; Eckart–Young–Mirsky for the rank of
    products.
    """
    n, m = 2, 3
    entries = sympy.symbols(f"l1:{n * m + 1}", real=True)
    big_l = sympy.Matrix(n, m, entries)
    c = sympy.Matrix(n, 1, sympy.symbols("c1:3", real=True))
    ones = sympy.ones(m, 1)
    centre = sympy.eye(m) - ones * ones.T / m
    shifted = (big_l - c * ones.T) * centre
    diff = sympy.simplify(shifted - big_l * centre)
    return Derivation(
        title="One softmax head reaches exactly the patterns with rank(LC) <= d_k",
        steps=(
            Step(
                r"Scores of one head: $S = QK^\top/\sqrt{d_k}$ with $Q = XW_Q + \mathbf 1"
                r"b_Q^\top$, $K = XW_K + \mathbf 1 b_K^\top$ of width $d_k$, so "
                r"$\operatorname{rank}S \le d_k$ for every input, weight and bias."
            ),
            Step(
                r"If $X \in \mathbb R^{n\times d}$ has full row rank ($n \le d$) it has a right "
                r"inverse, so $XW_Q$, $XW_K$ are arbitrary: $S$ ranges over all matrices of "
                r"rank $\le d_k$ (biases zero, the scale absorbed into $W_Q$)."
            ),
            Step(
                r"$\operatorname{softmax}(S) = \operatorname{softmax}(L)$ iff $S = L - c\mathbf "
                r"1^\top$ for some $c$: the row-centred log of a softmax is $SC = LC$, "
                r"$C = I - \mathbf 1\mathbf 1^\top/m$."
            ),
            Step(
                r"$(L - c\mathbf 1^\top)C = LC$ for every $c$ (checked below for a generic "
                r"$2\times 3$ matrix: the difference is the zero matrix), so "
                r"$\operatorname{rank}(L - c\mathbf 1^\top) \ge \operatorname{rank}(LC)$; "
                r"$c = L\mathbf 1/m$ attains it.",
                sympy.Eq(shifted, big_l * centre, evaluate=False),
            ),
            Step(
                r"Hence the least $d_k$ is $\operatorname{rank}(LC) \le m - 1$. With $h$ heads "
                r"of width $d/h$ (same parameters as one head of width $d$), a pattern with "
                r"$\operatorname{rank}(LC) > d/h$ is reached by no head."
            ),
        ),
        claimed=sympy.Integer(0),
        derived=sympy.Integer(sum(abs(e) for e in diff)),
        scope="proved (the identity holds for every n, m; shown symbolically for n=2, m=3)",
    )


def derive_rank_one_full_rank() -> Derivation:
    r"""Softmax of the rank-one logits :math:`qk^\top`, :math:`q = k = (1, 2, 3)`, is a full-rank
    :math:`3\times 3` matrix: :math:`\det[e^{q_ik_j}] = t_1t_2t_3(t_2-t_1)(t_3-t_1)(t_3-t_2)`
    with :math:`t_i = e^{i}` (a Vandermonde determinant), which is :math:`> 0`.

    ``claimed`` is SymPy's determinant of the exact matrix :math:`[t_i^{j}]`, ``derived`` the
    Vandermonde product; they agree identically in :math:`t`.
    """
    t = sympy.symbols("t1:4", positive=True)
    e = sympy.Matrix(3, 3, lambda i, j: t[i] ** (j + 1))
    vandermonde = t[0] * t[1] * t[2] * (t[1] - t[0]) * (t[2] - t[0]) * (t[2] - t[1])
    at_e = vandermonde.subs({t[i]: sympy.exp(i + 1) for i in range(3)})
    exact = sympy.Matrix(3, 3, lambda i, j: sympy.exp((i + 1) * (j + 1)))
    return Derivation(
        title="softmax of a rank-one logit matrix is full rank (n = 3, q = k = (1, 2, 3))",
        steps=(
            Step(
                r"$P = D^{-1}E$ with $E_{ij} = e^{q_ik_j}$, $D$ the positive row sums: "
                r"$\operatorname{rank}P = \operatorname{rank}E$.",
            ),
            Step(
                r"With $k_j = j$ and $t_i = e^{q_i}$: $E_{ij} = t_i^{j}$, a Vandermonde matrix "
                r"times $\operatorname{diag}(t)$.",
                sympy.ImmutableMatrix(exact),
            ),
            Step(
                r"$\det[t_i^j] = t_1t_2t_3\prod_{i<l}(t_l - t_i)$, nonzero for distinct "
                r"positive $t_i$; at $t_i = e^i$ it is positive:",
                sympy.Eq(sympy.Symbol(r"\det E"), sympy.factor(at_e)),
            ),
            Step(
                r"So the logits have rank 1 but $P$ has rank 3: a head's attention matrix is "
                r"not limited by $d_k$; its *logits* are. In general the rank is "
                r"$\min(\#\{q_i\}, \#\{k_j\})$ (strict total positivity of $e^{xy}$)."
            ),
        ),
        claimed=sympy.factor(e.det()),
        derived=vandermonde,
        scope="proved (symbolic identity in t1, t2, t3)",
    )


def derive_pattern_distance_bound() -> Derivation:
    r"""How far every head of width :math:`r` stays from a pattern it cannot produce.

    Let :math:`P = \operatorname{softmax}(L)` have entries :math:`\ge p_{\min} > 0` and
    :math:`\sigma = \sigma_{r+1}(LC)` (spectral). For every :math:`n\times m` logit matrix
    :math:`M` with :math:`\operatorname{rank}(MC) \le r`, :math:`Q = \operatorname{softmax}(M)`
    satisfies

    .. math:: \max_{ij}|P_{ij} - Q_{ij}| \ge \frac{\sigma\,p_{\min}}{\sqrt{nm} + \sigma}.

    Proof: let :math:`\delta` be the left side. If :math:`\delta \ge p_{\min}` the bound holds
    (the right side is :math:`< p_{\min}`). Otherwise :math:`Q_{ij} \ge p_{\min} - \delta > 0`
    and :math:`|\log P_{ij} - \log Q_{ij}| \le \delta/(p_{\min} - \delta)` (mean value
    theorem). The row-centred logs are :math:`(\log P)C = LC` and :math:`(\log Q)C = MC`, so by
    Eckart–Young–Mirsky :math:`\sigma \le \|LC - MC\|_2 \le \|\log P - \log Q\|_F \le
    \sqrt{nm}\,\delta/(p_{\min} - \delta)`; solve for :math:`\delta`.

    ``derived`` is the bound for the example :math:`L = 3S` (:math:`S` the :math:`4\times 4`
    cyclic shift, :math:`S_{i,i+1} = 1`), :math:`r = 2`: :math:`\sigma_3(LC) = 3`,
    :math:`p_{\min} = 1/(e^3 + 3)`, bound :math:`3/(7(e^3 + 3)) \approx 0.01857`;
    ``claimed`` is the general formula at those values.
    """
    sig, p, n, m = sympy.symbols("sigma p_min n m", positive=True)
    bound = sig * p / (sympy.sqrt(n * m) + sig)
    example = {sig: 3, p: 1 / (sympy.exp(3) + 3), n: 4, m: 4}
    return Derivation(
        title="Distance from a pattern of rank(LC) = sigma-gap to every head of width r",
        steps=(
            Step(r"$\delta = \max_{ij}|P_{ij} - Q_{ij}|$; if $\delta \ge p_{\min}$ done."),
            Step(
                r"Else $|\log P_{ij} - \log Q_{ij}| \le \delta/(p_{\min} - \delta)$ and "
                r"$(\log P - \log Q)C = LC - MC$ with $\operatorname{rank}(MC) \le r$."
            ),
            Step(
                r"Eckart–Young–Mirsky: $\sigma_{r+1}(LC) \le \|LC - MC\|_2 \le \sqrt{nm}\,"
                r"\delta/(p_{\min} - \delta)$; solving for $\delta$:",
                sympy.GreaterThan(sympy.Symbol("delta"), bound),
            ),
            Step(
                r"Example $L = 3S$ ($4\times4$ cyclic shift), $r = 2$: $LC = 3SC$, "
                r"$(LC)^\top LC = 9C$, singular values $3, 3, 3, 0$; $p_{\min} = 1/(e^3+3)$.",
                sympy.Eq(sympy.Symbol("delta_min"), bound.subs(example)),
            ),
        ),
        claimed=bound.subs(example),
        derived=3 / (7 * (sympy.exp(3) + 3)),
        scope="proved (inequality for all L, M; evaluated exactly for the example)",
    )


def derive_single_head_mixing_bound() -> Derivation:
    r"""A map two heads approximate arbitrarily well and one head (same parameters) cannot.

    Setting: :math:`d = 2`, :math:`n = 2` tokens :math:`x_1, x_2 \in \mathbb R^2`, target for
    the first output row :math:`y_1 = (x_{1,1},\, x_{2,2})` (first channel of token 1,
    second channel of token 2). Family of three inputs (rows :math:`x_1; x_2`):
    :math:`A = (e_1; e_1)`, :math:`B = (e_2; e_2)`, :math:`D = (e_1; e_2)`, targets
    :math:`e_1, e_2, (1, 1)`.

    **One head** (torch ``MultiheadAttention(2, 1)``, any weights and biases): the rows of
    :math:`P` sum to 1, so :math:`o_1 = (p\,x_1 + (1-p)\,x_2)M + c` with :math:`M =
    W_V^\top W_O^\top`, :math:`c = W_Ob_V + b_O`, :math:`p \in (0, 1)` the weight on token 1.
    On :math:`D`, :math:`o_1(D) = p\,o_1(A) + (1-p)\,o_1(B)` — one probability for every
    output channel — hence

    .. math:: o_1(D) - (1, 1) = p\,(o_1(A) - e_1) + (1-p)\,(o_1(B) - e_2) + (p - 1,\, -p).

    If the error :math:`\|o_1 - y_1\|_\infty` is :math:`\le\varepsilon` on :math:`A` and
    :math:`B`, it is :math:`\ge \max(1-p, p) - \varepsilon \ge 1/2 - \varepsilon` on
    :math:`D`; so the worst error over the family is at least :math:`1/4`. **Tight**:
    :math:`W_Q = W_K = 0` (so :math:`p = 1/2`), :math:`W_V = W_O = I`, :math:`b_O = (1/4,
    1/4)` has error exactly :math:`1/4` on all three inputs.

    **Two heads** of width 1 (``MultiheadAttention(2, 2)``, the same 24 parameters):
    head 1 with :math:`W_Q = (s, 0)`, :math:`W_K = (1, 0)`, :math:`W_V = (1, 0)`; head 2 with
    :math:`W_Q = (s, 0)`, :math:`W_K = (0, 1)`, :math:`W_V = (0, 1)`; :math:`W_O = I`, biases 0.
    The error is :math:`0` on :math:`A, B` and :math:`1/(1 + e^{s})` on :math:`D`:
    :math:`\to 0` as :math:`s \to \infty` (the infimum 0 is not attained; softmax never
    reaches hard attention).

    ``claimed`` is the single-head bound solved from :math:`\varepsilon \ge 1/2 -
    \varepsilon`, ``derived`` the value 1/4 (attained by the construction above).
    """
    eps, p, s = sympy.symbols("epsilon p s", positive=True)
    # max(1-p, p) is least where the decreasing and the increasing branch meet
    p_star = sympy.solve(sympy.Eq(1 - p, p), p)[0]
    worst = sympy.Max(1 - p_star, p_star)
    eps_min = sympy.solve(sympy.Eq(eps, worst - eps), eps)[0]
    two_head = 1 / (1 + sympy.exp(s))
    return Derivation(
        title="One head mixes all channels with one distribution; two heads need not",
        steps=(
            Step(
                r"One head: $o_1 = (p x_1 + (1-p) x_2)M + c$, one probability $p$ for every "
                r"output channel (rows of $P$ sum to 1, biases fold into $c$)."
            ),
            Step(
                r"On $D = (e_1; e_2)$: $o_1(D) = p\,o_1(A) + (1-p)\,o_1(B)$, so with errors "
                r"$\le\varepsilon$ on $A = (e_1;e_1)$, $B = (e_2;e_2)$ the error on $D$ is "
                r"$\ge \max(1-p, p) - \varepsilon \ge 1/2 - \varepsilon$."
            ),
            Step(
                r"$\min_{p}\max(1-p, p) = 1/2$; the worst error $\varepsilon$ of one head "
                r"satisfies $\varepsilon \ge 1/2 - \varepsilon$:",
                sympy.GreaterThan(eps, eps_min),
            ),
            Step(
                r"Tight: $W_Q = W_K = 0$, $W_V = W_O = I$, $b_O = (1/4, 1/4)$ errs by exactly "
                r"$1/4$ on $A$, $B$ and $D$."
            ),
            Step(
                r"Two heads of width 1 (same 24 parameters): error 0 on $A$, $B$ and "
                r"$1/(1+e^s)$ on $D$, with limit 0:",
                sympy.Eq(sympy.Limit(two_head, s, sympy.oo), sympy.limit(two_head, s, sympy.oo)),
            ),
        ),
        claimed=eps_min,
        derived=sympy.Rational(1, 4),
        scope="proved (inequality over all weights and biases of one head; attained)",
    )


MAX_ITEMS_WEIGHTS = 10**6
"""Largest number of entries :func:`min_head_dim_of_weights` takes (an SVD of the matrix)."""


def _attention_weights(value: object, name: str) -> np.ndarray:
    """A 2-D float array of attention weights: strictly positive, finite, rows summing to 1."""
    if isinstance(value, bool | np.bool_) or isinstance(value, str | bytes):
        raise TypeError(f"{name} must be a 2-D array of attention weights, got {value!r}")
    if isinstance(value, sympy.MatrixBase):
        try:
            value = np.array(value.evalf(), dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold numbers, got a matrix with symbols") from None
    try:
        arr = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{name} must be a 2-D array of attention weights: {e}") from None
    if arr.dtype.kind not in "fiu" or isinstance(value, np.matrix):
        raise TypeError(f"{name} must be a real 2-D array (float), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n queries x m keys), got "
                         f"shape {arr.shape}")  # fmt: skip
    bounded(arr.size, name, MAX_ITEMS_WEIGHTS)
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(
            f"{name} must hold finite weights > 0 (a softmax never outputs 0; masked "
            f"patterns are outside what scores alone can produce)"
        )
    if not np.allclose(arr.sum(axis=1), 1.0, rtol=0, atol=1e-9 * arr.shape[1]):
        raise ValueError(f"{name} must have rows summing to 1 (a row softmax)")
    return arr


def min_head_dim_of_weights(weights: object) -> int:
    r"""Numerical twin of :func:`min_head_dim` for a float attention matrix (e.g. the weights
    torch returns) instead of exact logits: the smallest query/key width :math:`d_k` for which
    one head reproduces the attention matrix ``weights`` :math:`A` (n×m) exactly:
    :math:`A = \operatorname{softmax}(c\,QK^\top)` with
    :math:`Q \in \mathbb{R}^{n\times d_k}`, :math:`K \in \mathbb{R}^{m\times d_k}`.

    The softmax ignores a constant added to a row, so the logits are
    :math:`L + \gamma\mathbf 1^\top` with :math:`L = \log A` (entrywise) and any
    :math:`\gamma \in \mathbb{R}^n`. With :math:`P = I - \mathbf 1\mathbf 1^\top/m`,
    :math:`(L + \gamma\mathbf 1^\top)P = LP`, so every choice has rank
    :math:`\ge \operatorname{rank}(LP)`, and :math:`\gamma = -L\mathbf 1/m` attains it:

    .. math:: d_k^{\min} = \operatorname{rank}\big(\log A\,
              (I - \tfrac1m\mathbf 1\mathbf 1^\top)\big)

    (the rank of the row-centred log-weights; 0 for uniform rows). The rank limits the
    **logits**, not :math:`A`: :math:`d_k = 1` already gives full-rank :math:`A` (e.g.
    :math:`q = k = (0, 1, 2)`: :math:`e^{q_ik_j}` is a Vandermonde matrix) — ``002`` §
    Multi-Head Attention ("a single head is limited by the rank of its attention matrix").

    ``weights``: a real 2-D array (NumPy, list or SymPy matrix), entries > 0, rows summing to
    1 (within :math:`10^{-9}m`), at most :data:`MAX_ITEMS_WEIGHTS` entries. Numerical rank in
    float64: singular values of the centred logits above
    :math:`100\max(n, m)\,\epsilon\max(\|\log A\|_2, 1)` count (the logarithm and the centring
    lose about :math:`\epsilon\|\log A\|` each; a threshold relative to the centred matrix
    itself would count rounding noise of uniform rows as rank).
    """
    arr = _attention_weights(weights, "weights")
    logits = np.log(arr)
    centred = logits - logits.mean(axis=1, keepdims=True)
    n, m = arr.shape
    scale = max(float(np.linalg.norm(logits, 2)), 1.0)
    return int(np.linalg.matrix_rank(centred, tol=100 * max(n, m) * np.finfo(float).eps * scale))
