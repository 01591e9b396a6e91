r"""Mixture of experts and early exit in SymPy: the Switch load-balancing loss and its minimum,
dropped tokens under a capacity, the expected cost of an early-exit network.

Results (each a :class:`~theory.derivation.Derivation`):

* :func:`derive_balance_loss_uniform` — :math:`L = N\sum_i f_iP_i` equals 1 whenever **either**
  :math:`f` or :math:`P` is uniform (for every value of the other): "loss 1" does not mean
  balanced dispatch (:math:`f = (1, 0)`, :math:`P = (1/2, 1/2)` gives 1).
* :func:`derive_balance_loss_infimum` — the common reading "minimum 1 at uniform routing" is
  false: one realizable routing gives :math:`7/8`. Over independent simplices the minimum is 0.
* :func:`derive_balance_loss_min`, :func:`balance_loss_min_two_experts` — over top-1 argmax
  routings (ties to the lower index) with :math:`N = 2`, :math:`\inf L = 7/8`, both cases of
  :math:`a = f_0`: :math:`a\ge 1/2` gives :math:`L\ge 2a^2-3a+2` (attained at :math:`a=3/4`),
  :math:`a < 1/2` gives :math:`L > 2a^2-a+1` (approached at :math:`a = 1/4`). Attained iff
  :math:`4\mid T`; for :math:`T` tokens the minimum is :math:`\min\{2b^2-3b+2: b = m/T\ge 1/2\}`.
* :func:`dropped_assignments` — :math:`\sum_i\max(0, n_i - C)`.
* :func:`derive_early_exit_cost` — blocks of cost :math:`c_j`, exit after block :math:`j`
  with probability :math:`q_j` given it was reached: :math:`\mathbb E[\text{cost}] =
  \sum_{j=1}^L c_j\prod_{i<j}(1-q_i)`; for constant :math:`c, q`:
  :math:`c\,(1-(1-q)^L)/q` (expected depth bounded by :math:`1/q` for every :math:`L`).
* :func:`derive_early_exit_breakeven` — with an exit head of cost :math:`h` after each of
  the first :math:`L-1` blocks, the early-exit network is cheaper than the plain one
  (:math:`Lc`) only when :math:`q` is large enough; at :math:`q \to 0` it costs
  :math:`L c + (L-1)h` (symbolic :math:`L`).
* :func:`derive_condconv_linear` — CondConv: a per-example mixture of convolutions is one
  convolution with the mixed kernel (linearity in the kernel).

References: N. Shazeer et al. (2017), *Outrageously Large Neural Networks: The Sparsely-Gated
Mixture-of-Experts Layer*, §2; W. Fedus, B. Zoph, N. Shazeer (2021/2022), *Switch
Transformers*, JMLR 23, §2.1-2.2, eq. 3-6; D. Lepikhin et al. (2020), *GShard*, §2.2 and
Algorithm 1; S. Teerapittayanon, B. McDanel, H. T. Kung (2016), *BranchyNet*, ICPR; A. Graves
(2016), *Adaptive Computation Time for Recurrent Neural Networks*, arXiv:1603.08983;
B. Yang et al. (2019), *CondConv*, NeurIPS; Y. Chen et al. (2020), *Dynamic Convolution*, CVPR.
Document: ``000_160a0b7c04e12fc6.txt`` § Dynamic and Adaptive Layers.
"""

from __future__ import annotations

import numbers

import sympy

from theory.derivation import Derivation, Step


def _eq(lhs: object, rhs: object) -> sympy.Basic:
    return sympy.Eq(sympy.sympify(lhs), sympy.sympify(rhs), evaluate=False)


def balance_loss(f: list, p: list) -> sympy.Expr:
    r""":math:`N\sum_i f_iP_i` for two length-:math:`N` sequences (SymPy numbers or symbols)."""
    for name, v in (("f", f), ("p", p)):
        if not isinstance(v, list | tuple) or not v:
            raise TypeError(f"{name} must be a non-empty list or tuple")
        for a in v:
            if isinstance(a, bool) or not isinstance(a, numbers.Real | sympy.Expr):
                raise TypeError(f"{name} must hold real numbers or SymPy expressions")
            if isinstance(a, float) and a != a:
                raise ValueError(f"{name} must not hold NaN")
            if isinstance(a, float) and abs(a) == float("inf"):
                raise ValueError(f"{name} must hold finite numbers")
    if len(f) != len(p):
        raise ValueError(f"f and p must have the same length, got {len(f)} and {len(p)}")
    n = len(f)
    return sympy.nsimplify(n) * sum(
        sympy.sympify(a) * sympy.sympify(b) for a, b in zip(f, p, strict=True)
    )


def dropped_assignments(counts: list, capacity: int) -> int:
    r"""Assignments dropped when expert :math:`i` receives ``counts[i]`` and holds ``capacity``:
    :math:`\sum_i \max(0, n_i - C)` (independent of the order of filling)."""
    if not isinstance(counts, list | tuple) or not counts:
        raise TypeError("counts must be a non-empty list or tuple of integers >= 0")
    for c in counts:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral):
            raise TypeError("counts must be a non-empty list or tuple of integers >= 0")
        if c < 0:
            raise ValueError("counts must hold integers >= 0")
    if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral):
        raise TypeError("capacity must be an integer >= 0")
    if capacity < 0:
        raise ValueError("capacity must be an integer >= 0")
    return int(sum(max(0, int(c) - int(capacity)) for c in counts))


def early_exit_cost(costs: list, exit_probs: list) -> sympy.Expr:
    r""":math:`\sum_{j=1}^L c_j\prod_{i<j}(1-q_i)`: ``costs`` :math:`c_1..c_L`, ``exit_probs``
    :math:`q_1..q_{L-1}` (the probability of exiting after block :math:`j` given that it ran;
    after block :math:`L` every input exits). Entries SymPy expressions or reals."""
    for name, v in (("costs", costs), ("exit_probs", exit_probs)):
        if not isinstance(v, list | tuple):
            raise TypeError(f"{name} must be a list or tuple")
        for a in v:
            if isinstance(a, bool) or not isinstance(a, numbers.Real | sympy.Expr):
                raise TypeError(f"{name} must hold real numbers or SymPy expressions")
            if isinstance(a, float) and not abs(a) < float("inf"):
                raise ValueError(f"{name} must hold finite numbers")
    if not costs:
        raise ValueError("costs must be non-empty")
    if len(exit_probs) != len(costs) - 1:
        raise ValueError(
            f"exit_probs must have len(costs) - 1 = {len(costs) - 1} entries, got {len(exit_probs)}"
        )
    total, reach = sympy.Integer(0), sympy.Integer(1)
    for j, c in enumerate(costs):
        total += sympy.sympify(c) * reach
        if j < len(exit_probs):
            reach *= 1 - sympy.sympify(exit_probs[j])
    return total


def derive_balance_loss_uniform() -> Derivation:
    r"""With :math:`N` symbolic, :math:`f_i = 1/N`: :math:`L = \sum_i P_i = 1`; with
    :math:`P_i = 1/N`: :math:`L = \sum_i f_i = 1`. ``claimed`` 1, ``derived`` the loss at
    uniform :math:`f` (proved for :math:`N = 2..6` with symbolic :math:`P`)."""
    steps = []
    for n in (2, 3, 6):
        p = sympy.symbols(f"P1:{n + 1}")
        val = balance_loss([sympy.Rational(1, n)] * n, list(p)).subs(p[-1], 1 - sum(p[:-1]))
        steps.append(Step(f"$N = {n}$, $f$ uniform, $P$ any point of the simplex:",
                          _eq(sympy.Symbol("L"), sympy.simplify(val))))  # fmt: skip
    collapse = balance_loss([1, 0], [sympy.Rational(1, 2)] * 2)
    text = "Collapsed dispatch $f = (1, 0)$, $P = (1/2, 1/2)$ (rows tied, to expert 0) gives 1:"
    steps.append(Step(text, _eq(sympy.Symbol("L"), collapse)))
    return Derivation("Load-balancing loss is 1 when f or P is uniform", tuple(steps),
                      claimed=sympy.Integer(1), derived=sympy.simplify(val),
                      scope="proved for N = 2, 3, 6 (symbolic P); the general-N identity is "
                            "sum_i P_i = 1")  # fmt: skip


def derive_balance_loss_infimum() -> Derivation:
    r"""Refutes the common reading "the loss is minimal, 1, at uniform routing" (:math:`N = 2`):
    uniform routing gives 1, but three tokens tied at :math:`(1/2, 1/2)` (argmax: expert 0) and
    one at :math:`(0, 1)` give :math:`f = (3/4, 1/4)`, :math:`P = (3/8, 5/8)`, :math:`L = 7/8`.
    ``claimed`` 1 (the common reading's minimum, not the document's), ``derived`` 7/8, which
    :func:`derive_balance_loss_min` shows is the infimum (so they disagree on purpose)."""
    half = sympy.Rational(1, 2)
    uniform = balance_loss([half, half], [half, half])
    f = [sympy.Rational(3, 4), sympy.Rational(1, 4)]
    p = [sympy.Rational(3, 8), sympy.Rational(5, 8)]
    low = balance_loss(f, p)
    steps = (
        Step("Uniform routing, $f = P = (1/2, 1/2)$:", _eq(sympy.Symbol("L"), uniform)),
        Step("Three tokens at $(1/2, 1/2)$ (tie, to expert 0), one at $(0, 1)$: $f = (3/4, "
             "1/4)$, $P = (3/8, 5/8)$:", _eq(sympy.Symbol("L"), low)),
        Step("So 1 is not the minimum; over all top-1 routings with $N = 2$ the infimum is "
             "$7/8$ (both cases of $f_0$: the derivation of d000.future.moe-balance-min). Over "
             "independent simplices the minimum is 0, e.g. $f = (1, 0)$, $P = (0, 1)$."),
    )  # fmt: skip
    return Derivation("Switch load-balancing loss: 1 is not the minimum (N = 2)", steps,
                      claimed=sympy.Integer(1), derived=low,
                      scope="proved (one routing below 1 refutes the reading)")  # fmt: skip


def derive_early_exit_cost() -> Derivation:
    r"""Constant block cost :math:`c` and exit probability :math:`q`: the sum
    :math:`\sum_{j=1}^L c(1-q)^{j-1}` equals :math:`c(1-(1-q)^L)/q`. ``claimed`` the closed
    form, ``derived`` SymPy's evaluation of the sum."""
    c, q = sympy.symbols("c q", positive=True)
    L, j = sympy.symbols("L j", positive=True, integer=True)
    summed = sympy.simplify(sympy.summation(c * (1 - q) ** (j - 1), (j, 1, L)))
    closed = c * (1 - (1 - q) ** L) / q
    steps = (
        Step("Block $j$ runs iff no exit fired after blocks $1..j-1$, probability "
             "$\\prod_{i<j}(1-q_i)$; by linearity $\\mathbb E[\\mathrm{cost}] = "
             "\\sum_j c_j\\prod_{i<j}(1-q_i)$."),
        Step("Constant $c$ and $q$ (every block followed by an exit, the last always exits):",
             _eq(sympy.Symbol(r"\mathbb{E}[\mathrm{cost}]"), summed)),
        Step("The expected depth stays below $1/q$ for every $L$ (the gap is $(1-q)^L/q$):",
             _eq(sympy.Symbol("1/q - D"), sympy.simplify(1 / q - closed / c))),
    )  # fmt: skip
    return Derivation("Early exit: expected cost", steps, claimed=closed,
                      derived=sympy.piecewise_fold(summed).args[-1][0]
                      if isinstance(summed, sympy.Piecewise) else summed,
                      scope="proved for 0 < q < 1")  # fmt: skip


def derive_early_exit_breakeven() -> Derivation:
    r"""Exit heads of cost :math:`h` after blocks :math:`1..L-1`, blocks of cost :math:`c`,
    constant :math:`q`, symbolic depth :math:`L`: :math:`\mathbb E(q) = \sum_{j=1}^{L}
    c(1-q)^{j-1} + \sum_{j=1}^{L-1}h(1-q)^{j-1}`, non-increasing in :math:`q` (every term is),
    so its largest value is at :math:`q = 0`: :math:`Lc + (L-1)h`, more than the plain
    network's :math:`Lc` when :math:`h > 0`, :math:`L\ge 2`. ``claimed`` :math:`Lc + (L-1)h`
    (the formula the record states), ``derived`` SymPy's sum at :math:`q = 0`."""
    c, h, q = sympy.symbols("c h q", nonnegative=True)
    L, j = sympy.symbols("L j", positive=True, integer=True)
    cost = sympy.summation(c * (1 - q) ** (j - 1), (j, 1, L)) + sympy.summation(
        h * (1 - q) ** (j - 1), (j, 1, L - 1)
    )
    at0 = sympy.simplify(cost.subs(q, 0))
    costs4 = [c + h] * 3 + [c]
    cost4 = sympy.expand(early_exit_cost(costs4, [q] * 3))
    example = cost4.subs({c: 1, h: sympy.Rational(1, 2), q: sympy.Rational(1, 10)})
    term = sympy.diff(c * (1 - q) ** (j - 1), q)
    steps = (
        Step("Block $j$ and the head after it run iff no earlier exit fired, probability "
             "$(1-q)^{j-1}$; the last block has no head:",
             _eq(sympy.Symbol(r"\mathbb{E}[\mathrm{cost}]"),
                 sympy.Sum(c * (1 - q) ** (j - 1), (j, 1, L))
                 + sympy.Sum(h * (1 - q) ** (j - 1), (j, 1, L - 1)))),
        Step("Each term is non-increasing in $q\\in[0, 1]$ (derivative of a block term, "
             "$\\le 0$):", _eq(sympy.Symbol(r"\partial_q"), term)),
        Step("so the largest expected cost is at $q = 0$ (no input ever exits):",
             _eq(sympy.Symbol("E_0"), at0)),
        Step("Example, $L = 4$, $c = 1$, $h = 1/2$, $q = 1/10$: more than the plain "
             "network's 4:", _eq(sympy.Symbol("E"), example)),
    )  # fmt: skip
    return Derivation("Early exit: overhead can exceed the saving", steps,
                      claimed=L * c + (L - 1) * h, derived=at0,
                      scope="proved for every depth L >= 1 and 0 <= q <= 1")  # fmt: skip


def balance_loss_min_two_experts(tokens: int) -> sympy.Rational:
    r"""The exact minimum of Switch's loss :math:`L = 2(f_0P_0 + f_1P_1)` over all top-1
    argmax routings of ``tokens`` tokens to :math:`N = 2` experts (ties to expert 0):
    :math:`\min\{2b^2 - 3b + 2 : b = m/T,\ m \ge T/2\}` (:func:`derive_balance_loss_min`).
    It is :math:`7/8` iff :math:`4 \mid T`; :math:`T = 1, 2` give 1, :math:`T = 3` gives
    :math:`8/9`. ``tokens`` an integer in ``[1, 10**6]``."""
    if isinstance(tokens, bool) or not isinstance(tokens, numbers.Integral):
        raise TypeError(f"tokens must be an integer in [1, 10**6], got {type(tokens).__name__}")
    if not 1 <= tokens <= 10**6:
        raise ValueError(f"tokens must be an integer in [1, 10**6], got {tokens}")
    t = int(tokens)
    # g(b) = 2b^2 - 3b + 2 is convex with vertex 3/4: the best grid point is next to 3T/4
    cands = {m for m in ((3 * t) // 4, (3 * t + 3) // 4) if 2 * m >= t and m <= t} | {t}
    return min(2 * sympy.Rational(m, t) ** 2 - 3 * sympy.Rational(m, t) + 2 for m in cands)


def derive_balance_loss_min() -> Derivation:
    r"""Infimum of Switch's loss for :math:`N = 2` over top-1 argmax routings (ties to
    expert 0), both cases of :math:`a = f_0`. A token with :math:`p_t = (u, 1-u)` adds
    :math:`\tfrac 2T f\cdot p_t = \tfrac 2T\big((1-a) + (2a-1)u\big)`, linear in :math:`u`; it
    goes to expert 0 iff :math:`u \ge 1/2`.

    * :math:`a \ge 1/2`: the smallest contributions are :math:`u = 1/2` (expert 0) and
      :math:`u = 0` (expert 1): :math:`L \ge g(a) = 2a^2 - 3a + 2`, minimum :math:`7/8` at
      :math:`a = 3/4`, attained (exact ties needed).
    * :math:`a < 1/2`: the smallest are :math:`u = 1` (expert 0) and :math:`u \to 1/2^-`
      (expert 1, at least one such token): :math:`L > g(1-a) = 2a^2 - a + 1 \ge 7/8`, not
      attained.

    ``claimed`` :math:`7/8` (the record's value), ``derived`` the smaller of the two case
    minima."""
    a, u = sympy.symbols("a u", real=True)
    half = sympy.Rational(1, 2)
    phi = sympy.expand(a * u + (1 - a) * (1 - u))
    g = sympy.expand(2 * (a * phi.subs(u, half) + (1 - a) * phi.subs(u, 0)))
    hh = sympy.expand(2 * (a * phi.subs(u, 1) + (1 - a) * phi.subs(u, half)))
    m1 = sympy.minimum(g, a, sympy.Interval(half, 1))
    m2 = sympy.minimum(hh, a, sympy.Interval.Ropen(0, half))
    steps = (
        Step("$N = 2$, $p_t = (u_t, 1-u_t)$, token $t$ to expert 0 iff $u_t \\ge 1/2$ (ties "
             "to the lower index); $L = 2(f_0P_0+f_1P_1) = \\frac 2T\\sum_t f\\cdot p_t$ with "
             "$f = (a, 1-a)$, and", _eq(sympy.Symbol(r"f\cdot p_t"), phi)),
        Step("Case $a \\ge 1/2$ (slope $2a-1 \\ge 0$): each token on expert 0 has "
             "$u \\ge 1/2$, each on expert 1 has $u \\ge 0$, so $L \\ge$",
             _eq(sympy.Symbol("g(a)"), g)),
        Step("whose minimum on $[1/2, 1]$ is at $a = 3/4$ (attained with $3T/4$ tokens tied at "
             "$(1/2, 1/2)$ and $T/4$ at $(0, 1)$, so only when $4 \\mid T$):",
             _eq(sympy.Symbol("m_1"), m1)),
        Step("Case $a < 1/2$ (slope $< 0$): tokens on expert 0 have $u \\le 1$, the "
             "$(1-a)T \\ge 1$ tokens on expert 1 have $u < 1/2$ strictly, so $L >$",
             _eq(sympy.Symbol("h(a)"), hh)),
        Step("$h(a) = g(1-a)$; its infimum on $[0, 1/2)$ (at $a = 1/4$, approached, never "
             "reached):", _eq(sympy.Symbol("m_2"), m2)),
        Step("Both cases: $L \\ge 7/8$ over all batch sizes, equality iff $4 \\mid T$, "
             "$f = (3/4, 1/4)$ and exact ties; for a given $T$ the minimum is "
             "$\\min\\{g(m/T): m \\ge T/2\\}$ (1 for $T = 1, 2$).",
             _eq(sympy.Symbol("L_{min}"), sympy.Min(m1, m2))),
    )  # fmt: skip
    return Derivation("Switch load-balancing loss: infimum 7/8 for N = 2 (both cases)", steps,
                      claimed=sympy.Rational(7, 8), derived=sympy.Min(m1, m2),
                      scope="proved for N = 2, every batch size T, top-1 argmax with ties to "
                            "the lower index")  # fmt: skip


def _conv2d_sym(x: sympy.Matrix, w: sympy.Matrix) -> sympy.Matrix:
    """Valid cross-correlation (torch's conv2d, one channel, stride 1) of symbolic matrices."""
    ho, wo = x.rows - w.rows + 1, x.cols - w.cols + 1
    return sympy.Matrix(ho, wo, lambda i, j: sum(
        w[p, q] * x[i + p, j + q] for p in range(w.rows) for q in range(w.cols)))  # fmt: skip


def derive_condconv_linear() -> Derivation:
    r"""CondConv / dynamic convolution: for per-example mixing weights :math:`\alpha_e(x)`,
    :math:`\sum_e \alpha_e\,(W_e \star x) = (\sum_e\alpha_e W_e)\star x` (convolution is
    linear in the kernel), so an input-dependent mixture of :math:`E` convolutions is one
    convolution with an input-dependent kernel. Symbolic for a :math:`3\times 3` input,
    :math:`2\times 2` kernels, :math:`E = 2` (the identity is entrywise linearity, the same for
    every size). ``claimed`` 0 (the stated difference), ``derived`` the sum of squares of the
    entries of the symbolic difference. Yang et al. 2019 (CondConv), eq. 1-2; Chen
    et al. 2020 (Dynamic Convolution), eq. 2."""
    x = sympy.Matrix(3, 3, lambda i, j: sympy.Symbol(f"x{i}{j}", real=True))
    ws = [sympy.Matrix(2, 2, lambda i, j, e=e: sympy.Symbol(f"W{e}_{i}{j}", real=True))
          for e in (1, 2)]  # fmt: skip
    al = sympy.symbols("alpha1:3", real=True)
    mix = al[0] * _conv2d_sym(x, ws[0]) + al[1] * _conv2d_sym(x, ws[1])
    one = _conv2d_sym(x, al[0] * ws[0] + al[1] * ws[1])
    diff = sympy.ImmutableMatrix((mix - one).expand())
    steps = (
        Step("$(W\\star x)_{ij} = \\sum_{p,q}W_{pq}x_{i+p,j+q}$ is linear in $W$ for fixed "
             "$x$; the mixing weights $\\alpha_e(x)$ are scalars per example (sigmoid in "
             "CondConv, softmax in dynamic convolution), computed before the convolution."),
        Step("Mixture of outputs minus one convolution with the mixed kernel ($3\\times 3$ "
             "input, two $2\\times 2$ kernels):", diff),
    )  # fmt: skip
    return Derivation("CondConv: mixture of convolutions = convolution with mixed kernel",
                      steps, claimed=sympy.Integer(0),
                      derived=sympy.expand(sum(e**2 for e in diff)),
                      scope="proved (symbolic, one channel, 3x3 input, 2x2 kernels, E = 2; "
                            "entrywise linearity holds for every shape)")  # fmt: skip
