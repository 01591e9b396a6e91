r"""Pooling geometry: adaptive-pooling windows, torch's rule against the document's.

torch's adaptive pooling (``adaptive_avg_pool1d``/``2d``, ``adaptive_max_pool*``) gives output
:math:`i` (of :math:`O`) the window

.. math:: \Big[\Big\lfloor \frac{iI}{O} \Big\rfloor,\ \Big\lceil \frac{(i+1)I}{O} \Big\rceil\Big)

(ATen ``start_index``/``end_index``). The document's rule is a fixed kernel
:math:`k = \lceil I/O\rceil` and stride :math:`s = \lfloor I/O\rfloor`, i.e. windows
:math:`[is, is + k)` for :math:`i = 0, \dots, \lfloor (I-k)/s\rfloor`.

Helpers that enumerate windows or positions take concrete integers and refuse, with
``ValueError`` naming the argument, a request for more than :data:`theory._args.MAX_ITEMS`
windows (or an exact matrix of more than that many entries).

References: ``000_160a0b7c04e12fc6.txt`` § Advanced Pooling Techniques; torch
``AdaptiveAvgPool1d`` documentation.

>>> adaptive_windows(5, 3)
[(0, 2), (1, 4), (3, 5)]
>>> document_windows(5, 3)
[(0, 2), (1, 3), (2, 4), (3, 5)]
"""

from __future__ import annotations

from math import gcd

import sympy

from theory._args import MAX_ITEMS, bounded, dim, flag, int_dim, real
from theory.conv import pool_output_size
from theory.derivation import Derivation, Step

__all__ = [
    "adaptive_read_count",
    "adaptive_windows",
    "avg_pool_matrix",
    "avg_pool_shift_bound",
    "derive_adaptive_rule",
    "derive_max_pool_gradient",
    "derive_noise_reduction",
    "derive_stride_reduction",
    "document_windows",
    "max_pool_gradient",
    "pooled_noise_variance",
    "pooling_injective",
    "rule_agrees",
    "spike_invariant_fraction",
    "stride_reduction_exact",
]


def _sizes(input_size: int, output_size: int) -> tuple[int, int]:
    i = int_dim(input_size, "input_size")
    o = int_dim(output_size, "output_size")
    if o > i:
        raise ValueError(f"output_size must be <= input_size here, got {o} > {i}")
    bounded(o, "output_size")
    return i, o


def adaptive_windows(input_size: int, output_size: int) -> list[tuple[int, int]]:
    r"""torch's half-open windows :math:`[\lfloor iI/O\rfloor, \lceil (i+1)I/O\rceil)`, for
    any :math:`I, O \ge 1` (for :math:`O > I` windows repeat inputs).

    ``output_size`` is at most :data:`theory._args.MAX_ITEMS` (one window each).

    >>> adaptive_windows(4, 6)
    [(0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4)]
    """
    i_ = int_dim(input_size, "input_size")
    o = bounded(int_dim(output_size, "output_size"), "output_size")
    return [(k * i_ // o, -(-(k + 1) * i_ // o)) for k in range(o)]


def adaptive_read_count(input_size: int, output_size: int) -> int:
    r"""Total length of torch's adaptive windows, in closed form (any :math:`I, O \ge 1`).

    .. math:: \sum_{i=0}^{O-1} \Big(\Big\lceil \frac{(i+1)I}{O}\Big\rceil -
              \Big\lfloor \frac{iI}{O}\Big\rfloor\Big) = I + O - \gcd(I, O)

    Proof: :math:`\lceil jI/O\rceil = \lfloor jI/O\rfloor + [O \nmid jI]`; the floors
    telescope to :math:`I`, and :math:`O \mid jI` for exactly :math:`\gcd(I, O)` of
    :math:`j = 1, \dots, O`. So :math:`I` when :math:`O \mid I`, more when windows overlap
    or repeat (also :math:`O > I`). No enumeration: any size.

    >>> adaptive_read_count(5, 3), adaptive_read_count(6, 3), adaptive_read_count(4, 6)
    (7, 6, 8)
    """
    i_ = int_dim(input_size, "input_size")
    o = int_dim(output_size, "output_size")
    return i_ + o - gcd(i_, o)


def document_windows(input_size: int, output_size: int) -> list[tuple[int, int]]:
    r"""Windows of a pooling with :math:`k = \lceil I/O\rceil`, :math:`s = \lfloor I/O\rfloor`.

    Needs :math:`O \le I` (else :math:`s = 0`) and :math:`O \le` ``MAX_ITEMS``; there are
    :math:`O + \lfloor (r-1)/q \rfloor < 2O` windows (:func:`derive_adaptive_rule`).

    >>> document_windows(8, 3)
    [(0, 3), (2, 5), (4, 7)]
    """
    i_, o = _sizes(input_size, output_size)
    k, s = -(-i_ // o), i_ // o
    return [(j * s, j * s + k) for j in range((i_ - k) // s + 1)]


def rule_agrees(input_size: int, output_size: int) -> bool:
    r"""True iff the document's rule reproduces torch's windows; equivalently (proved in
    :func:`derive_adaptive_rule`) iff :math:`I \bmod O \in \{0, 1\}`. Needs
    :math:`1 \le O \le I` and :math:`O \le` ``MAX_ITEMS`` (the windows are compared).

    >>> rule_agrees(7, 3), rule_agrees(8, 3)
    (True, False)
    """
    return document_windows(input_size, output_size) == adaptive_windows(input_size, output_size)


def derive_adaptive_rule() -> Derivation:
    r"""Do :math:`k = \lceil I/O\rceil`, :math:`s = \lfloor I/O\rfloor` give torch's windows?"""
    q, r, o = sympy.symbols("q r O", integer=True, nonnegative=True)
    count = sympy.floor((q * o + r - q - 1) / q) + 1  # number of windows when r > 0
    return Derivation(
        title="The document's adaptive-pooling rule against torch's windows",
        steps=(
            Step(
                r"Write $I = qO + r$, $0 \le r < O$. For $r = 0$: $k = s = q$ and torch's "
                r"windows are $[iq, (i+1)q)$ — the same."
            ),
            Step(
                r"For $r > 0$: $k = q + 1$, $s = q$; the number of windows is",
                sympy.Eq(sympy.Symbol("n"), count),
            ),
            Step(
                r"which simplifies to $O + \lfloor (r-1)/q\rfloor$: more than $O$ outputs "
                r"whenever $r > q$."
            ),
            Step(
                r"torch's window $i$ starts at $\lfloor iI/O\rfloor = iq + \lfloor ir/O\rfloor$; "
                r"the rule starts it at $iq$. Equal for all $i < O$ iff $(O-1)r < O$, i.e. "
                r"$r \le 1$ (for $O \ge 2$). For $r = 1$ torch's end is "
                r"$(i+1)q + \lceil (i+1)/O\rceil = (i+1)q + 1 = iq + k$: equal."
            ),
            Step(
                r"So the rule reproduces torch **iff** $I \bmod O \in \{0, 1\}$ (also checked "
                r"exhaustively for all $1 \le O \le I \le 300$ in the tests)."
            ),
        ),
        claimed=o + sympy.floor((r - 1) / q),
        derived=sympy.simplify(count),
        scope="proved by the argument above; exhaustively checked for 1 <= O <= I <= 300",
    )


# --- Pooling geometry: the stride's "reduction by a factor S" --------------------------------


def stride_reduction_exact(size: int, kernel_size: int, stride: int, padding: int = 0) -> bool:
    r"""True iff pooling (floor mode, dilation 1) maps :math:`I` to exactly :math:`I/S` outputs.

    With :math:`O = \lfloor (I + 2P - K)/S\rfloor + 1`: :math:`OS = I` iff :math:`S \mid I`
    and :math:`K - S \le 2P < K` (for :math:`P = 0`: :math:`K \le S`). Proof: with
    :math:`I = nS`, :math:`O = n` iff :math:`n - 1 \le (nS + 2P - K)/S < n`.

    A configuration torch rejects (window larger than the padded input, :math:`2P > K`)
    raises ``ValueError``, as :func:`theory.conv.pool_output_size` does.

    >>> stride_reduction_exact(8, 2, 2), stride_reduction_exact(8, 3, 2, 1)
    (True, True)
    >>> stride_reduction_exact(8, 3, 2), stride_reduction_exact(5, 2, 2)
    (False, False)
    """
    i, k, s = (
        int_dim(v, name)
        for v, name in ((size, "size"), (kernel_size, "kernel_size"), (stride, "stride"))
    )
    p = int_dim(padding, "padding", minimum=0)
    pool_output_size(i, k, s, p)  # a valid pooling (window fits, padding <= K/2), or raise
    return i % s == 0 and k - s <= 2 * p < k


def derive_stride_reduction() -> Derivation:
    r"""Pooling reduces a dimension by the factor :math:`S` only asymptotically."""
    i, k, s = sympy.symbols("I K S", positive=True, integer=True)
    p = sympy.Symbol("P", nonnegative=True, integer=True)
    o = pool_output_size(i, k, s, p)
    lower, upper = (i + 2 * p - k) / s, (i + 2 * p - k) / s + 1  # lower < O <= upper
    ratio = sympy.limit(upper / i, i, sympy.oo)
    if sympy.limit(lower / i, i, sympy.oo) != ratio:  # squeeze: both bounds give 1/S
        raise ArithmeticError("bounds on O/I have different limits")
    return Derivation(
        title="Spatial reduction by the stride",
        steps=(
            Step("torch's output size (floor mode, dilation 1):", sympy.Eq(sympy.Symbol("O"), o)),
            Step(
                r"Bounds $\frac{I+2P-K}{S} < O \le \frac{I+2P-K}{S} + 1$, so "
                r"$O/I \to 1/S$ as $I \to \infty$:",
                sympy.Eq(sympy.Limit(sympy.Symbol("O") / i, i, sympy.oo), ratio, evaluate=False),
            ),
            Step(
                r"$O$ is $I/S$ rounded (down or up) for every $I$ iff $K - S \le 2P < K$ (e.g. "
                r"$K = S$, $P = 0$, or $K = 3$, $S = 2$, $P = 1$), and exactly $I/S$ iff also "
                r"$S \mid I$; otherwise not, e.g. $I = 8$, $K = 3$, $S = 2$, $P = 0$ gives "
                r"$O = 3$, not $4$ (the ledger's counterexample)."
            ),
        ),
        claimed=1 / s,
        derived=ratio,
        scope="the factor S is the limit of I/O; exact only under the stated divisibility",
    )


# --- Approximate translation invariance, quantified ------------------------------------------


def avg_pool_shift_bound(kernel_size: object, shift: object) -> sympy.Expr:
    r"""Largest :math:`\|\operatorname{avg}(T_\delta x) - \operatorname{avg}(x)\|_\infty /
    \|x\|_\infty` for a window :math:`\prod_a K_a` and a shift :math:`\delta_a \le K_a`.

    The shifted window shares :math:`\prod_a (K_a - \delta_a)` entries with the original; the
    others (as many entering as leaving) change the mean by at most
    :math:`2\,(1 - \prod_a (1 - \delta_a/K_a))\,\|x\|_\infty` — attained by :math:`+1` on
    the entering and :math:`-1` on the leaving entries. For one axis: :math:`2\delta/K`.
    ``kernel_size`` and ``shift`` are an int each or sequences of equal length.

    >>> avg_pool_shift_bound(4, 1), avg_pool_shift_bound((2, 2), (1, 1))
    (1/2, 3/2)
    """
    ks = (kernel_size,) if not isinstance(kernel_size, tuple | list) else tuple(kernel_size)
    ds = (shift,) if not isinstance(shift, tuple | list) else tuple(shift)
    if not ks:
        raise ValueError("kernel_size must have at least one entry, got an empty sequence")
    if not ds:
        raise ValueError("shift must have at least one entry, got an empty sequence")
    if len(ks) != len(ds):
        raise ValueError(f"kernel_size and shift must have the same length, got {ks}, {ds}")
    kept = sympy.Integer(1)
    for a, (k, d) in enumerate(zip(ks, ds, strict=True)):
        k = dim(k, f"kernel_size[{a}]")
        d = dim(d, f"shift[{a}]", minimum=0)
        if sympy.sympify(d - k).is_positive:
            raise ValueError(f"shift[{a}] must be <= kernel_size[{a}] = {k}, got {d}")
        kept *= 1 - sympy.Rational(1) * d / k
    return sympy.simplify(2 * (1 - kept))


def _covering(t: int, kernel_size: int, stride: int) -> tuple[int, int]:
    r"""The windows ``[iS, iS + K)`` (``i >= 0``) that contain ``t``, as the range
    ``[lo, hi)`` of ``i`` with :math:`t - K < iS \le t` (constant time)."""
    lo, hi = max(0, (t - kernel_size) // stride + 1), t // stride + 1
    return (lo, hi) if lo < hi else (0, 0)


def spike_invariant_fraction(kernel_size: int, stride: int, shift: int) -> sympy.Rational:
    r"""Fraction of spike positions whose max-pooled output is unchanged by a shift.

    A single spike at position :math:`t` of a long zero signal lights exactly the windows
    :math:`[Si, Si + K)` containing :math:`t`; the output is unchanged by the shift
    :math:`\delta` iff :math:`t` and :math:`t + \delta` lie in the same windows. The pattern
    has period :math:`S`, so the fraction is exact over one period (away from the borders).
    For :math:`K = S` it is :math:`\max(0, S - \delta)/S`. ``stride`` is at most
    ``MAX_ITEMS`` (one period is enumerated).

    >>> spike_invariant_fraction(2, 2, 1), spike_invariant_fraction(3, 1, 1)
    (1/2, 0)
    """
    k, s = int_dim(kernel_size, "kernel_size"), int_dim(stride, "stride")
    bounded(s, "stride")
    d = int_dim(shift, "shift", minimum=0)
    base = k + d + s  # interior: every covering set is complete
    same = sum(_covering(t, k, s) == _covering(t + d, k, s) for t in range(base, base + s))
    return sympy.Rational(same, s)


# --- Information loss: injectivity -----------------------------------------------------------


def _geometry(
    size: object, kernel_size: object, stride: object, padding: object
) -> tuple[int, int, int, int, int]:
    """Concrete 1-D pooling geometry (floor mode, dilation 1), validated, and its output size."""
    i, k = int_dim(size, "size"), int_dim(kernel_size, "kernel_size")
    s, p = int_dim(stride, "stride"), int_dim(padding, "padding", minimum=0)
    o = pool_output_size(i, k, s, p)
    bounded(i, "size")
    return i, k, s, p, o


def _pool_windows(size: int, kernel_size: int, stride: int, padding: int) -> list[range]:
    """Real (non-padding) input positions of each 1-D window, floor mode, dilation 1."""
    o = pool_output_size(size, kernel_size, stride, padding)
    return [
        range(max(0, i * stride - padding), min(size, i * stride - padding + kernel_size))
        for i in range(o)
    ]


def avg_pool_matrix(
    size: int, kernel_size: int, stride: int, padding: int = 0, count_include_pad: bool = True
) -> sympy.Matrix:
    r"""The exact :math:`O \times I` matrix of 1-D average pooling (torch's divisor; floor mode).

    Row :math:`i` holds :math:`1/n_i` on the real inputs of window :math:`i`, where :math:`n_i`
    counts the window's positions inside the padded input (``count_include_pad=True``, the
    default, as in torch) or its real inputs only. At most ``MAX_ITEMS`` entries.

    >>> avg_pool_matrix(3, 2, 1, 1, count_include_pad=False)
    Matrix([
    [  1,   0,   0],
    [1/2, 1/2,   0],
    [  0, 1/2, 1/2],
    [  0,   0,   1]])
    """
    include = flag(count_include_pad, "count_include_pad")
    size, kernel_size, stride, padding, o = _geometry(size, kernel_size, stride, padding)
    bounded(size * o, "size (the matrix has size * output_size entries)", MAX_ITEMS)
    rows = []
    for i, w in enumerate(_pool_windows(size, kernel_size, stride, padding)):
        start = i * stride - padding
        full = min(start + kernel_size, size + padding) - start
        divisor = full if include else len(w)
        rows.append([sympy.Rational(1, divisor) if j in w else 0 for j in range(size)])
    return sympy.Matrix(rows)


def pooling_injective(
    size: int, kernel_size: int, stride: int, padding: int = 0, mode: str = "max"
) -> bool:
    r"""Whether 1-D pooling (floor mode) is injective on :math:`\mathbb{R}^I`, i.e. invertible
    on its image.

    * average: iff its matrix (:func:`avg_pool_matrix`) has rank :math:`I`. Each row is a
      positive multiple of the indicator of an interval :math:`[a, b)` of inputs, which is
      :math:`u_b - u_a` in the prefix basis :math:`u_j = e_0 + \dots + e_{j-1}`; so the rank
      is that of the graph on :math:`\{0, \dots, I\}` with an edge :math:`\{a, b\}` per
      window, :math:`I + 1` minus its number of connected components, and the map is
      injective iff that graph is connected (union-find: no exact matrix, any
      ``size`` up to ``MAX_ITEMS``).
    * max: iff every input position is the only real entry of some window (then the output
      shows it); otherwise lowering that entry far enough changes no output.

    Without padding and with :math:`K \ge 2`, :math:`O \le I - K + 1 < I`, so neither is.

    >>> pooling_injective(3, 3, 1, 1, "avg"), pooling_injective(4, 2, 2, 0, "avg")
    (True, False)
    """
    if not isinstance(mode, str) or mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max', got {mode!r}")
    size, kernel_size, stride, padding, _ = _geometry(size, kernel_size, stride, padding)
    windows = _pool_windows(size, kernel_size, stride, padding)
    if mode == "avg":
        parent = list(range(size + 1))

        def root(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        components = size + 1
        for w in windows:
            a, b = root(w.start), root(w.stop)
            if a != b:
                parent[a] = b
                components -= 1
        return components == 1
    alone = {w[0] for w in windows if len(w) == 1}
    return alone == set(range(size))


# --- Noise reduction by averaging -------------------------------------------------------------


def pooled_noise_variance(n: object, sigma2: object, rho: object = 0) -> sympy.Expr:
    r"""Variance of the mean of :math:`n` noise values of variance :math:`\sigma^2` with
    common pairwise correlation :math:`\rho`: :math:`\sigma^2 (1 + (n-1)\rho)/n`.

    ``sigma2`` :math:`\ge 0`; ``rho`` :math:`\in [-1/(n-1), 1]`, the correlations for which
    the equicorrelation matrix :math:`(1-\rho)I + \rho\mathbf 1\mathbf 1^\top` is positive
    semi-definite (:math:`[-1, 1]` for :math:`n = 1`); symbols are accepted unless known to
    lie outside. Integers and SymPy numbers give exact results, floats ``sympy.Float``.

    >>> pooled_noise_variance(4, 2), pooled_noise_variance(4, 2, sympy.Rational(1, 3))
    (1/2, 1)
    """
    n = dim(n, "n")
    sigma2 = real(sigma2, "sigma2", lower=0)
    rho = real(rho, "rho", lower=-1, upper=1)
    if (1 + (n - 1) * rho).is_negative:
        raise ValueError(
            f"rho must be >= -1/(n-1) (the equicorrelation matrix must be positive "
            f"semi-definite), got rho={rho} with n={n}"
        )
    return sympy.simplify(sigma2 * (1 + (n - 1) * rho) / n)


def derive_noise_reduction() -> Derivation:
    r"""Averaging :math:`n = K^2` values: :math:`\operatorname{Var} = \frac{1}{n^2}
    \mathbf 1^\top \Sigma \mathbf 1` with :math:`\Sigma = \sigma^2((1-\rho)I + \rho\,
    \mathbf 1 \mathbf 1^\top)`, computed for a symbolic :math:`n`."""
    n = sympy.Symbol("n", positive=True, integer=True)
    sigma2, rho = sympy.symbols("sigma2 rho", positive=True)
    ones_sigma_ones = sigma2 * ((1 - rho) * n + rho * n**2)  # 1'(aI + b 11')1 = a n + b n^2
    general = sympy.simplify(ones_sigma_ones / n**2)
    return Derivation(
        title="Noise reduction by average pooling",
        steps=(
            Step(
                r"With $\Sigma = \sigma^2((1-\rho)I + \rho\mathbf{1}\mathbf{1}^\top)$, "
                r"$\mathbf 1^\top\Sigma\mathbf 1 = \sigma^2((1-\rho)n + \rho n^2)$, so",
                sympy.Eq(sympy.Symbol(r"\operatorname{Var}[\bar z]"), general),
            ),
            Step(
                r"Independent noise ($\rho = 0$): $\sigma^2/n$, i.e. the variance falls by "
                r"$K^2$ (the std by $K$). Fully correlated noise ($\rho = 1$): no reduction."
            ),
        ),
        claimed=sigma2 / n,
        derived=general.subs(rho, 0),
        scope="exact for equicorrelated noise; the reduction factor n needs rho = 0",
    )


# --- The gradient of max pooling --------------------------------------------------------------


def _taps(taps: object) -> int:
    k = int_dim(taps, "taps")
    if k > 8:
        raise ValueError(f"taps must be an int in [1, 8] (the window's size), got {taps}")
    return k


def max_pool_gradient(taps: int = 3, argmax: int = 0) -> list[sympy.Expr]:
    r""":math:`\partial y/\partial x_j` of one window :math:`y = \max(x_1,\dots,x_K)` at a
    point where tap ``argmax`` (0-based) is the **unique** maximum, computed by SymPy from
    :math:`\partial\max/\partial x_j = H(x_j - \max_{l\ne j} x_l)` with the other taps
    :math:`x_l = x_a - d_l`, :math:`d_l > 0`: the one-hot vector :math:`e_a`.

    ``taps``: the window size :math:`K \in [1, 8]`; ``argmax``: an int in ``[0, taps)``.
    """
    k = _taps(taps)
    a = int_dim(argmax, "argmax", minimum=0)
    if a >= k:
        raise ValueError(f"argmax must be an int in [0, {k}) (a tap of the window), got {argmax}")
    xs = sympy.symbols(f"x1:{k + 1}", real=True)
    top = sympy.Symbol("m", real=True)
    gaps = sympy.symbols(f"d1:{k + 1}", positive=True)
    point = {x: (top if j == a else top - gaps[j]) for j, x in enumerate(xs)}
    y = sympy.Max(*xs)
    out = []
    for x in xs:
        g = sympy.diff(y, x).subs(point)
        # H(m - max(m - d_l)) = H(min d_l) = 1 and H(m - d_j - m) = H(-d_j) = 0: SymPy leaves
        # the first unevaluated, so rewrite max(m - d_l) = m - min(d_l) before evaluating.
        g = g.replace(sympy.Max, lambda *args: top - sympy.Min(*(top - v for v in args)))
        out.append(sympy.simplify(g))
    return out


def derive_max_pool_gradient(taps: int = 3) -> Derivation:
    r"""The gradient of max pooling routes each output's gradient to its window's argmax.

    One window :math:`y = \max(x_1,\dots,x_K)`: SymPy gives :math:`\partial y/\partial x_j =
    H(x_j - \max_{l\ne j}x_l)`. With a unique maximum this is the one-hot vector at the argmax
    (:func:`max_pool_gradient`); at a tie :math:`y` is not differentiable, SymPy's
    :math:`H(0) = 1/2` splits the gradient evenly and torch gives all of it to the **first**
    maximum — both are subgradients. Summed over overlapping windows,
    :math:`\partial L/\partial x_t = \sum_o g_o\,[a(o) = t]`, the formula of
    :func:`kernels.cpu.pool.max_pool2d_backward` and :func:`kernels.gpu.pool.max_pool2d_backward`.
    """
    k = _taps(taps)
    xs = sympy.symbols(f"x1:{k + 1}", real=True)
    y = sympy.Max(*xs)
    grads = [sympy.diff(y, x) for x in xs]
    onehot = max_pool_gradient(k, 0)
    tie = (
        [g.subs({xs[1]: xs[0]}).subs({x: xs[0] - 1 for x in xs[2:]}) for g in grads]
        if k > 1
        else [1]
    )
    return Derivation(
        title="Max pooling's gradient: one-hot routing to the argmax",
        steps=(
            Step(
                f"One window of ${k}$ taps, $y = \\max_j x_j$; SymPy differentiates it as",
                sympy.Eq(
                    sympy.Matrix([sympy.Derivative(y, x) for x in xs]),
                    sympy.Matrix(grads),
                    evaluate=False,
                ),
            ),
            Step(
                "where $x_1$ is the unique maximum ($x_l = x_1 - d_l$, $d_l > 0$), the gradient "
                "is the one-hot vector $e_1$ (and likewise $e_a$ for any argmax $a$):",
                sympy.Eq(sympy.Symbol("g"), sympy.Matrix(onehot), evaluate=False),
            ),
            Step(
                "at a tie ($x_1 = x_2$ above the rest) $y$ is not differentiable: SymPy's "
                "$H(0) = 1/2$ gives",
                sympy.Eq(sympy.Symbol("g"), sympy.Matrix(tie), evaluate=False),
            ),
            Step(
                "another subgradient; torch (and both kernels) route all of it to the first "
                "maximum in row-major order. Overlapping windows add: "
                "$\\partial L/\\partial x_t = \\sum_o g_o\\,[a(o) = t]$."
            ),
        ),
        claimed=sympy.Integer(1),
        derived=onehot[0],
        scope="proved for a window of " + str(k) + " taps (SymPy); the routing is exhaustively "
        "compared with torch autograd in tests/test_pooling.py and tests/test_gpu_pool.py",
    )
