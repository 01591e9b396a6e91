r"""Residual connections in SymPy: the block's Jacobian, the product over blocks, its
:math:`2^L`-term path expansion, and when "the identity prevents vanishing" holds.

Conventions
-----------
* A block maps :math:`y_{l-1} \mapsto y_l = F_l(y_{l-1}) + y_{l-1}` (a *plain* block drops
  the :math:`+ y_{l-1}`). :math:`J_l = \partial F_l/\partial y_{l-1}` (evaluated at the block's
  input). Gradients are **row vectors**: :math:`\partial L/\partial x = \partial L/\partial y\,
  (J + I)`, the convention of the document.
* Through :math:`L` blocks the Jacobian is the ordered product
  :math:`(I + J_L)\cdots(I + J_1)`; expanding it gives one term per subset
  :math:`S \subseteq \{1,\dots,L\}` — a *path* that goes through the blocks in :math:`S` and
  skips the others — :math:`2^L` terms, :math:`\binom{L}{k}` of length :math:`k`. The
  network's output is the **sum** of the paths (not their average).
* Norms are spectral norms :math:`\|J\|_2` (largest singular value).

Results (proved here, symbolically or by an inequality chain):

* :func:`derive_block_jacobian`: :math:`\partial L/\partial x = \partial L/\partial y(J + I)`
  for a generic 2-D :math:`F` and loss; with :math:`J = 0` it is :math:`\partial L/\partial y`.
* :func:`derive_residual_product`: the chain rule through :math:`L` scalar blocks gives
  :math:`\prod_l (F_l' + 1)`.
* :func:`expand_residual_product`: :math:`2^L` terms, commutative or not.
* :func:`derive_prevents_vanishing`: :math:`\prod_l(1 - \|J_l\|)\|v\| \le
  \|v\prod_l(I + J_l)\| \le \prod_l(1 + \|J_l\|)\|v\|`; so the gradient cannot vanish when
  every :math:`\|J_l\| < 1`, but it can when a block's Jacobian is near :math:`-I`: with
  :math:`F(x) = -x/2` per block the gain is exactly :math:`2^{-L}`, with :math:`F(x) = -x`
  it is 0 after one block.
* :func:`derive_learns_residual`: a plain one-layer ReLU block cannot represent the identity
  (its output is :math:`\ge 0`), the residual one does with :math:`F = 0`.

References: ``002_532ac369c9b692e7.txt`` § Sequential vs Residual Architectures (Residual
Connection Theory, Gradient Flow Analysis, Optimization Landscape), § Advanced Understanding
Questions (4); K. He et al. (2016), *Deep Residual Learning for Image Recognition*, §3.1–3.2;
A. Veit, M. Wilber, S. Belongie (2016), *Residual Networks Behave Like Ensembles of Relatively
Shallow Networks*, §3–4 (the unraveled view, path-length distribution Binomial(L, 1/2));
R. Horn, C. Johnson, *Matrix Analysis* (2nd ed.), Cor. 7.3.5 (Weyl's inequality for singular
values: :math:`\sigma_{\min}(I + J) \ge 1 - \|J\|_2`).

Examples
--------
>>> path_count(10)
1024
>>> path_length_distribution(3)
{0: 1, 1: 3, 2: 3, 3: 1}
>>> residual_gradient_bounds([sympy.Rational(1, 2)] * 3)
(1/8, 27/8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import sympy

from theory._args import TEXT, Dim, bounded, dim, flag, int_dim, real
from theory.derivation import Derivation, Step

__all__ = [
    "MAX_BLOCKS",
    "MAX_EXPANDED_BLOCKS",
    "MAX_PRODUCT_BLOCKS",
    "derive_block_jacobian",
    "derive_learns_residual",
    "derive_prevents_vanishing",
    "derive_residual_product",
    "dominant_path_length",
    "expand_residual_product",
    "path_count",
    "path_length_contributions",
    "path_length_distribution",
    "residual_gradient_bounds",
]

MAX_BLOCKS = 4096
"""Largest number of blocks :func:`path_length_distribution`,
:func:`path_length_contributions` and :func:`residual_gradient_bounds` enumerate."""

MAX_EXPANDED_BLOCKS = 10
"""Largest ``L`` whose :math:`2^L`-term product :func:`expand_residual_product` expands
symbolically (1024 terms)."""

MAX_PRODUCT_BLOCKS = 4
"""Largest ``L`` of :func:`derive_residual_product` (its ``agrees()`` takes ~1 s at 4, ~30 s
at 6: SymPy simplifies the nested derivatives)."""


def _blocks(value: object, name: str, limit: int = MAX_BLOCKS) -> int:
    v = int_dim(value, name, 0)
    return int(bounded(v, name, limit))


def path_count(num_blocks: Dim) -> Dim:
    r"""Number of paths through ``num_blocks`` residual blocks: :math:`2^L`.

    Each block is either taken (its :math:`F_l`) or skipped (the identity), independently.
    ``num_blocks`` an integer in ``[0, MAX_ITEMS]`` (``theory._args``; :math:`2^{10^6}` has
    301030 digits) or a SymPy expression (then :math:`2^L` symbolic).
    """
    n = bounded(dim(num_blocks, "num_blocks", 0), "num_blocks")
    return 2**n if isinstance(n, int) else sympy.Integer(2) ** n


def path_length_distribution(num_blocks: int) -> dict[int, int]:
    r"""How many of the :math:`2^L` paths have length :math:`k`: :math:`\binom{L}{k}`,
    :math:`k = 0..L`.

    Divided by :math:`2^L` it is Binomial(:math:`L`, 1/2) (Veit et al. 2016, §4): mean
    :math:`L/2`, variance :math:`L/4`. ``num_blocks`` an integer in ``[0, MAX_BLOCKS]``.
    """
    n = _blocks(num_blocks, "num_blocks")
    return {k: math.comb(n, k) for k in range(n + 1)}


def path_length_contributions(num_blocks: int, gain: object) -> dict[int, sympy.Expr]:
    r"""Total gain of the length-:math:`k` paths when every block's Jacobian is the scalar
    ``gain`` :math:`s`: :math:`\binom{L}{k}s^k` (they sum to :math:`(1+s)^L`).

    For linear blocks :math:`J_l = sI` this is exact; for matrices with :math:`\|J_l\| = s`
    it bounds the norm of the length-:math:`k` part. ``num_blocks`` an integer in
    ``[0, MAX_BLOCKS]``; ``gain`` a finite real :math:`\ge 0` (exact for ints and SymPy
    rationals, ``sympy.Float`` for floats).
    """
    n = _blocks(num_blocks, "num_blocks")
    s = real(gain, "gain", lower=0)
    return {k: sympy.Integer(math.comb(n, k)) * s**k for k in range(n + 1)}


def dominant_path_length(num_blocks: int, gain: object) -> int:
    r"""The path length :math:`k` with the largest total gain :math:`\binom{L}{k}s^k`.

    The ratio of consecutive terms is :math:`\frac{L-k}{k+1}s`, so the maximum is at
    :math:`k^* = \lfloor (L+1)s/(1+s) \rfloor` (on a tie :math:`k^*-1` and :math:`k^*` share
    the maximum; the larger is returned): short paths dominate when :math:`s < 1`
    (:math:`k^* < (L+1)/2`), long ones when :math:`s > 1`, the middle length at
    :math:`s = 1`. Arguments as :func:`path_length_contributions`.
    """
    n = _blocks(num_blocks, "num_blocks")
    s = real(gain, "gain", lower=0)
    if not s.is_number:
        raise TypeError(f"gain must be a finite real number >= 0 here, got {gain!r}")
    return int(sympy.floor((n + 1) * s / (1 + s)))


def expand_residual_product(num_blocks: int, commutative: bool = True) -> sympy.Expr:
    r"""The expanded product :math:`(1 + a_L)\cdots(1 + a_1)`: one term per subset of blocks.

    ``commutative=True``: scalar symbols ``a_1..a_L`` (1-D blocks), terms
    :math:`\prod_{l\in S} a_l`. ``commutative=False``: non-commuting symbols ``J_1..J_L``
    (matrices; ``1`` stands for :math:`I`), terms :math:`J_{l_k}\cdots J_{l_1}` in
    **decreasing** order of :math:`l` (the last block's Jacobian leftmost). Both have
    :math:`2^L` terms, :math:`\binom{L}{k}` of degree :math:`k`. ``num_blocks`` an integer in
    ``[1, MAX_EXPANDED_BLOCKS]``.
    """
    n = _blocks(num_blocks, "num_blocks", MAX_EXPANDED_BLOCKS)
    if n < 1:
        raise ValueError(f"num_blocks must be an integer in [1, {MAX_EXPANDED_BLOCKS}], got 0")
    commutative = flag(commutative, "commutative")
    name = "a" if commutative else "J"
    syms = sympy.symbols(f"{name}1:{n + 1}", commutative=commutative)
    product = sympy.Integer(1)
    for s in syms:
        product = (1 + s) * product  # later blocks multiply from the left
    return sympy.expand(product)


def residual_gradient_bounds(norms: Sequence[object]) -> tuple[sympy.Expr, sympy.Expr]:
    r"""Bounds on the gain :math:`\|v\prod_l(I + J_l)\|/\|v\|` from the norms
    :math:`\|J_l\|_2`: :math:`\big(\prod_l \max(0, 1 - \|J_l\|),\ \prod_l(1 + \|J_l\|)\big)`.

    Both follow from :math:`\|(I+J)^\top u\| \ge \|u\| - \|J\|\|u\|` and
    :math:`\le \|u\| + \|J\|\|u\|` block by block (:func:`derive_prevents_vanishing`); the lower
    bound is positive exactly when every :math:`\|J_l\| < 1`, and it is at least
    :math:`1 - \sum_l\|J_l\|` (Weierstrass product inequality). Both are attained: by
    :math:`J_l = -\|J_l\|I` (lower, when :math:`\|J_l\| \le 1`) and :math:`J_l = \|J_l\|I`
    (upper). ``norms``: a sequence of 0 to ``MAX_BLOCKS`` finite reals :math:`\ge 0` (exact for
    ints and SymPy rationals); the empty product gives ``(1, 1)``.
    """
    if isinstance(norms, TEXT) or not isinstance(norms, Sequence):
        raise TypeError(f"norms must be a sequence of finite reals >= 0, got {norms!r}")
    bounded(len(norms), "norms", MAX_BLOCKS)
    lower, upper = sympy.Integer(1), sympy.Integer(1)
    for i, value in enumerate(norms):
        j = real(value, f"norms[{i}]", lower=0)
        lower = lower * sympy.Max(0, 1 - j)
        upper = upper * (1 + j)
    return lower, upper


def derive_block_jacobian() -> Derivation:
    r"""Backward through :math:`y = F(x) + x` for a generic 2-D :math:`F` and loss
    :math:`L(y)`: :math:`\partial L/\partial x = \partial L/\partial y\,(\partial F/\partial x
    + I)`, and with :math:`\partial F/\partial x = 0` it is :math:`\partial L/\partial y`.

    ``claimed`` is the document's formula, ``derived`` SymPy's derivative of the composition,
    both paired with an arbitrary vector :math:`w` (a vector identity in scalar form).
    """
    x1, x2, w1, w2 = sympy.symbols("x1 x2 w1 w2")
    f1, f2, loss = sympy.Function("F_1"), sympy.Function("F_2"), sympy.Function("L")
    x = sympy.Matrix([x1, x2])
    fx = sympy.Matrix([f1(x1, x2), f2(x1, x2)])
    y = fx + x
    composed = loss(*y)
    derived_row = sympy.Matrix([[sympy.diff(composed, v) for v in (x1, x2)]])
    y1, y2 = sympy.symbols("y1 y2")
    dl_dy = sympy.Matrix([[sympy.diff(loss(y1, y2), v) for v in (y1, y2)]]).subs(
        {y1: y[0], y2: y[1]}
    )
    jac_f = fx.jacobian(x)
    claimed_row = dl_dy * (jac_f + sympy.eye(2))
    w = sympy.Matrix([w1, w2])
    claimed = (claimed_row * w)[0]
    derived = (derived_row * w)[0]
    jy = y.jacobian(x)
    steps = (
        Step(
            "A residual block with a generic $F:\\mathbb{R}^2\\to\\mathbb{R}^2$:",
            sympy.Eq(sympy.Symbol("y"), sympy.Symbol("F(x)") + sympy.Symbol("x"), evaluate=False),
        ),
        Step(
            "Its Jacobian is $\\partial F/\\partial x + I$:",
            sympy.Eq(
                sympy.Symbol(r"\frac{\partial y}{\partial x}"),
                sympy.ImmutableMatrix(jy),
                evaluate=False,
            ),
        ),
        Step(
            "The chain rule for the row vector $\\partial L/\\partial x$ of $L(y(x))$ "
            "(derivative of the composition, computed by SymPy):",
            sympy.ImmutableMatrix(derived_row),
        ),
        Step(
            "equals $\\partial L/\\partial y\\,(\\partial F/\\partial x + I)$ entry by entry; "
            "with $\\partial F/\\partial x = 0$ (e.g. $F$ constant) the factor is $I$ and "
            "$\\partial L/\\partial x = \\partial L/\\partial y$ exactly.",
        ),
    )
    return Derivation(
        "Backward through a residual block",
        steps,
        claimed=sympy.expand(claimed),
        derived=sympy.expand(derived),
        scope="proved (generic smooth F and L on R^2; the same computation holds in any "
        "dimension entry by entry)",
    )


def derive_residual_product(num_blocks: int = 3) -> Derivation:
    r"""The chain rule through ``num_blocks`` scalar residual blocks
    :math:`y_l = F_l(y_{l-1}) + y_{l-1}`: :math:`dy_L/dy_0 = \prod_l(F_l'(y_{l-1}) + 1)`.

    ``claimed`` the document's product, ``derived`` SymPy's derivative of the composition.
    ``num_blocks`` an integer in ``[1, MAX_PRODUCT_BLOCKS]``.
    """
    n = _blocks(num_blocks, "num_blocks", MAX_PRODUCT_BLOCKS)
    if n < 1:
        raise ValueError(f"num_blocks must be an integer in [1, {MAX_PRODUCT_BLOCKS}], got 0")
    x0 = sympy.Symbol("y0")
    ys = [x0]
    for i in range(1, n + 1):
        f = sympy.Function(f"F_{i}")
        ys.append(f(ys[-1]) + ys[-1])
    derived = sympy.diff(ys[-1], x0)
    t = sympy.Dummy("t")
    claimed = sympy.Integer(1)
    for i in range(1, n + 1):
        f = sympy.Function(f"F_{i}")
        slope = sympy.Subs(sympy.Derivative(f(t), t), t, ys[i - 1])  # F_i'(y_{i-1})
        claimed = claimed * (slope + 1)
    steps = (
        Step(f"{n} scalar blocks $y_l = F_l(y_{{l-1}}) + y_{{l-1}}$; the output:", ys[-1]),
        Step("SymPy's derivative of the composition with respect to $y_0$:", derived),
        Step(
            "equals $\\prod_l (F_l'(y_{l-1}) + 1)$, the product of the blocks' Jacobians "
            "(matrices: the ordered product $(I + J_L)\\cdots(I + J_1)$, see the expansion).",
            claimed,
        ),
    )
    return Derivation(
        "The Jacobian through L residual blocks",
        steps,
        claimed=claimed,
        derived=derived,
        scope=f"proved for {n} scalar blocks with generic smooth F_l",
    )


def derive_prevents_vanishing() -> Derivation:
    r"""When the identity term keeps the gradient from vanishing, and a minimal counterexample.

    Bound (any norms): for a row vector :math:`u`, :math:`\|u(I + J)\| \ge \|u\| - \|uJ\| \ge
    (1 - \|J\|_2)\|u\|`, so
    :math:`\|v\prod_l(I+J_l)\| \ge \prod_l\max(0, 1 - \|J_l\|)\|v\|`, :math:`> 0` when
    every :math:`\|J_l\| < 1`; likewise :math:`\le \prod_l(1 + \|J_l\|)\|v\|`.
    Counterexample: :math:`F(x) = -x/2` gives :math:`J = -1/2`, :math:`1 + J = 1/2`, and after
    :math:`L` blocks the gradient is :math:`2^{-L}\,\partial L/\partial y_L`: it vanishes
    geometrically although every factor "includes the identity"; :math:`F(x) = -x` gives
    exactly 0 after one block. ``claimed`` is the document's reading (the factor stays 1 —
    "at least the identity"), ``derived`` the counterexample's factor :math:`2^{-L}`: they do
    **not** agree.
    """
    nblocks = sympy.Symbol("L", integer=True, positive=True)
    a = sympy.Symbol("a")
    jn = sympy.Symbol(r"\|J\|", nonnegative=True)
    one_block = (1 + a).subs(a, sympy.Rational(-1, 2))
    derived = one_block**nblocks
    steps = (
        Step(
            "Weyl: for a row vector $u$, $\\|u(I+J)\\| \\ge \\|u\\| - \\|uJ\\| \\ge "
            "(1 - \\|J\\|_2)\\|u\\|$ and $\\|u(I+J)\\| \\le (1 + \\|J\\|_2)\\|u\\|$; so "
            "$\\sigma_{\\min}(I+J) \\ge$",
            1 - jn,
        ),
        Step(
            "Block by block: $\\prod_l\\max(0, 1-\\|J_l\\|)\\|v\\| \\le "
            "\\|v\\prod_l(I+J_l)\\| \\le \\prod_l(1+\\|J_l\\|)\\|v\\|$ (each factor's "
            "lower bound is $\\max(0, 1 - \\|J\\|)$: with $\\|J\\| > 1$ the block can "
            "annihilate $u$); the lower bound is $> 0$ exactly when every $\\|J_l\\| < 1$, and "
            "$\\ge 1 - \\sum_l\\|J_l\\|$ (Weierstrass). The upper bound is attained by "
            "$J_l = \\|J_l\\| I$, the lower one by $J_l = -\\|J_l\\| I$ when every "
            "$\\|J_l\\| \\le 1$.",
        ),
        Step(
            "Counterexample: $F(x) = -x/2$ (one linear layer, weight $-1/2$) has "
            "$\\partial F/\\partial x = -1/2$ and the block's factor is",
            sympy.Eq(sympy.Symbol("1 + J"), one_block, evaluate=False),
        ),
        Step(
            "Through $L$ such blocks the gradient is multiplied by the following, which "
            "vanishes geometrically ($F(x) = -x$: factor 0 after one block):",
            sympy.Eq(
                sympy.Symbol(r"\frac{\partial L/\partial y_0}{\partial L/\partial y_L}"),
                derived,
                evaluate=False,
            ),
        ),
    )
    return Derivation(
        "When the identity prevents vanishing gradients",
        steps,
        claimed=sympy.Integer(1),
        derived=derived,
        scope="proved (bounds for any Jacobians; the counterexample for every L >= 1)",
    )


def derive_learns_residual() -> Derivation:
    r"""A plain block :math:`y = \operatorname{relu}(Wx + b)` cannot represent the identity
    (its output is :math:`\ge 0`, so :math:`x = -1` maps to :math:`\ge 0 \ne -1`); the
    residual block :math:`y = x + \operatorname{relu}(Wx + b)` is the identity with
    :math:`W = 0, b = 0` (:math:`F = 0`). To fit a target :math:`H`, the residual block's
    :math:`F` must equal :math:`H(x) - x`: it learns the residual.

    ``claimed`` :math:`F = H - x` with :math:`H = x` (so 0); ``derived`` the residual block's
    :math:`F` with :math:`W = b = 0`.
    """
    x, w, b = sympy.symbols("x W b", real=True)
    relu = sympy.Max(0, w * x + b)
    plain_at = relu.subs(x, -1)
    residual = x + relu
    derived = (residual - x).subs({w: 0, b: 0})
    steps = (
        Step(
            "Plain one-layer ReLU block: $y = \\max(0, Wx + b) \\ge 0$ for all $W, b$; at "
            "$x = -1$ the identity needs $y = -1$, but",
            sympy.Ge(plain_at, 0, evaluate=False),
        ),
        Step(
            "Residual block: $y = x + \\max(0, Wx + b)$; with $W = 0, b = 0$:",
            sympy.Eq(sympy.Symbol("y"), residual.subs({w: 0, b: 0}), evaluate=False),
        ),
        Step(
            "For a target $H$, $y = H(x)$ requires $F(x) = H(x) - x$: the block learns the "
            "residual, and the identity is $F = 0$.",
        ),
    )
    return Derivation(
        "Residual blocks learn the residual",
        steps,
        claimed=sympy.Integer(0),
        derived=derived,
        scope="proved (one ReLU layer per block, scalar; any width by the same argument per "
        "coordinate)",
    )
