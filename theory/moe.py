r"""Mixture of experts and early exit in SymPy: the Switch load-balancing loss and its minimum,
dropped tokens under a capacity, the expected cost of an early-exit network.

Results (each a :class:`~theory.derivation.Derivation`):

* :func:`derive_balance_loss_uniform` — :math:`L = N\sum_i f_iP_i` equals 1 whenever **either**
  :math:`f` or :math:`P` is uniform (for every value of the other): "loss 1" does not mean
  balanced dispatch (:math:`f = (1, 0)`, :math:`P = (1/2, 1/2)` gives 1).
* :func:`derive_balance_loss_infimum` — the common claim "minimum 1 at uniform routing" is
  false. Over independent simplices the minimum is 0; over routings that top-1 argmax can
  realize (:math:`P_i` the mean of probability rows whose argmax gives :math:`f`), for
  :math:`N = 2` the infimum is :math:`7/8`, at :math:`f = (3/4, 1/4)` (three quarters of the
  tokens on a tie :math:`(1/2, 1/2)`, broken to expert 0; the rest with :math:`p = (0, 1)`).
  Derivation: a token sent to :math:`i` contributes :math:`f\cdot p_t`, a linear function
  minimized over :math:`\{p\in\Delta: p_i = \max_j p_j\}` at a vertex :math:`1_S/|S|`,
  :math:`i\in S`.
* :func:`dropped_assignments` — :math:`\sum_i\max(0, n_i - C)`.
* :func:`derive_early_exit_cost` — blocks of cost :math:`c_j`, exit after block :math:`j`
  with probability :math:`q_j` given it was reached: :math:`\mathbb E[\text{cost}] =
  \sum_{j=1}^L c_j\prod_{i<j}(1-q_i)`; for constant :math:`c, q`:
  :math:`c\,(1-(1-q)^L)/q` (expected depth bounded by :math:`1/q` for every :math:`L`).
* :func:`derive_early_exit_breakeven` — with an exit head of cost :math:`h` after each of
  the first :math:`L-1` blocks, the early-exit network is cheaper than the plain one
  (:math:`Lc`) only when :math:`q` is large enough; at :math:`q \to 0` it costs
  :math:`L c + (L-1)h`.

References: N. Shazeer et al. (2017), *Outrageously Large Neural Networks: The Sparsely-Gated
Mixture-of-Experts Layer*, §2; W. Fedus, B. Zoph, N. Shazeer (2021/2022), *Switch
Transformers*, JMLR 23, §2.1-2.2, eq. 3-6; D. Lepikhin et al. (2020), *GShard*, §2.2 and
Algorithm 1; S. Teerapittayanon, B. McDanel, H. T. Kung (2016), *BranchyNet*, ICPR; A. Graves
(2016), *Adaptive Computation Time for Recurrent Neural Networks*, arXiv:1603.08983.
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
    r""":math:`N = 2`, a fraction :math:`a` of tokens to expert 0 on a tie :math:`(1/2, 1/2)`
    (the smallest :math:`f\cdot p_t` a token sent to expert 0 can have when :math:`a\ge 1/2`)
    and :math:`1-a` to expert 1 with :math:`p = (0, 1)`: :math:`L(a) = 2a^2 - 3a + 2`,
    minimized at :math:`a = 3/4`, :math:`L = 7/8 < 1`. ``claimed`` 1 (the common "minimum"),
    ``derived`` 7/8."""
    a = sympy.Symbol("a", real=True)
    f = [a, 1 - a]
    p = [a / 2, a / 2 + (1 - a)]
    loss = sympy.expand(balance_loss(f, p))
    crit = sympy.solve(sympy.diff(loss, a), a)[0]
    low = loss.subs(a, crit)
    steps = (
        Step("A token sent to expert $i$ adds $N f\\cdot p_t / T$; $f\\cdot p$ is linear on "
             "$\\{p\\in\\Delta: p_i = \\max_j p_j\\}$, whose vertices are $1_S/|S|$, "
             "$i\\in S$; "
             "for $N = 2$, $f_0 = a \\ge 1/2$: tokens to 0 take $p = (1/2, 1/2)$, tokens to 1 "
             "take $p = (0, 1)$, so $P = (a/2,\\ 1 - a/2)$ and"),
        Step("the loss is", _eq(sympy.Symbol("L"), loss)),
        Step("Its minimum over $a\\in[1/2, 1]$ (the derivative vanishes):", _eq(a, crit)),
        Step("Value (below the 1 of uniform routing; over independent simplices the minimum "
             "is 0, e.g. $f = (1, 0)$, $P = (0, 1)$):", _eq(sympy.Symbol("L_{min}"), low)),
    )  # fmt: skip
    return Derivation("Switch load-balancing loss: infimum for N = 2", steps,
                      claimed=sympy.Integer(1), derived=low,
                      scope="proved for N = 2 over top-1 argmax routings")  # fmt: skip


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
    constant :math:`q`: :math:`\mathbb E = \sum_{j=1}^{L}c(1-q)^{j-1} +
    \sum_{j=1}^{L-1}h(1-q)^{j-1}`; at :math:`q = 0` it is :math:`Lc + (L-1)h > Lc`: early exit
    can cost more than the plain network. ``claimed`` :math:`Lc`, ``derived`` the cost at
    :math:`q = 0`."""
    c, h, q = sympy.symbols("c h q", nonnegative=True)
    L = 4
    costs = [c + h] * (L - 1) + [c]
    cost = sympy.expand(early_exit_cost(costs, [q] * (L - 1)))
    at0 = cost.subs(q, 0)
    example = sympy.nsimplify(cost.subs({c: 1, h: sympy.Rational(1, 2), q: sympy.Rational(1, 10)}))
    steps = (
        Step(f"$L = {L}$ blocks, heads after the first {L - 1}:",
             _eq(sympy.Symbol(r"\mathbb{E}[\mathrm{cost}]"), cost)),
        Step("At $q = 0$ (no input ever exits):", _eq(sympy.Symbol("E_0"), at0)),
        Step("$c = 1$, $h = 1/2$, $q = 1/10$: more than the plain network's 4:",
             _eq(sympy.Symbol("E"), example)),
    )  # fmt: skip
    return Derivation("Early exit: overhead can exceed the saving", steps,
                      claimed=L * c, derived=at0, scope="proved for L = 4")  # fmt: skip
