r"""MAML (Finn, Abbeel & Levine 2017) on a quadratic task, exactly; FiLM's algebra.

Task :math:`i`: inner (support) loss :math:`L(\theta) = \tfrac12(\theta-a)^\top A(\theta-a)`
and outer (query) loss :math:`M(\theta) = \tfrac12(\theta-b)^\top B(\theta-b)`, :math:`A, B`
symmetric. One inner SGD step :math:`\theta' = \theta - \alpha\nabla L(\theta) =
\theta - \alpha A(\theta - a)`; the MAML objective is :math:`M(\theta')` and its gradient
(second order, through the inner step) is

.. math:: \nabla_\theta M(\theta') = (I - \alpha A)\,\nabla M(\theta') ,

while first-order MAML (FO-MAML, §5.2 of the paper) uses :math:`\nabla M(\theta')` alone. Their
difference is :math:`-\alpha A\,\nabla M(\theta') = -\alpha A B(\theta' - b)`: it vanishes
exactly when :math:`\alpha = 0` or :math:`\nabla M(\theta') \in \ker A` — a condition on
:math:`A` and the query gradient, not on commutation. With the same loss for both
(:math:`B = A`, :math:`b = a`) it is :math:`-\alpha A^2 (I-\alpha A)(\theta-a)`, zero for every
:math:`\theta` iff :math:`\alpha = 0` or :math:`A^2(I - \alpha A) = 0`, i.e. every eigenvalue
of :math:`A` is 0 or :math:`1/\alpha` (one step then lands at the minimum along every curved
direction). After :math:`k` inner steps the factor is :math:`(I - \alpha A)^k`.

FiLM (Perez et al. 2018): :math:`\mathrm{FiLM}(x) = \gamma(z)\odot x + \beta(z)` per feature;
followed by a linear layer :math:`Wx + c` it equals a linear layer with task-dependent weight
:math:`W\operatorname{diag}(\gamma)` and bias :math:`W\beta + c`.

References
----------
Finn, Abbeel & Levine, *Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks*,
ICML 2017, Algorithm 1 and §5.2 (first-order approximation). Nichol, Achiam & Schulman, *On
First-Order Meta-Learning Algorithms*, 2018 (the Hessian term). Perez et al., *FiLM: Visual
Reasoning with a General Conditioning Layer*, AAAI 2018, eq. 1-2.
``000_160a0b7c04e12fc6.txt`` § Dynamic and Adaptive Layers (Meta-Learning Layers).
"""

from __future__ import annotations

import sympy

from theory._args import int_dim
from theory.derivation import Derivation, Step

__all__ = ["derive_film_linear", "derive_maml_meta_gradient", "maml_quadratic"]

MAX_STEPS = 4


def _sym(name: str, n: int) -> sympy.Matrix:
    """A symbolic symmetric n×n matrix."""
    return sympy.Matrix(
        n, n, lambda i, j: sympy.Symbol(f"{name}{min(i, j) + 1}{max(i, j) + 1}", real=True)
    )


def maml_quadratic(
    steps: int = 1, n: int = 2
) -> dict[str, sympy.Matrix | sympy.Symbol | tuple[sympy.Symbol, ...]]:
    r"""The symbolic quadratic MAML problem with ``steps`` inner SGD steps (1 ≤ steps ≤ 4) in
    dimension ``n`` (1 ≤ n ≤ 3).

    Returns a dict with the symbols (``theta``, ``a``, ``b``, ``A``, ``B``, ``alpha``), the
    adapted point ``theta_k``, the exact ``meta_gradient`` (SymPy's gradient of
    :math:`M(\theta_k)` with respect to :math:`\theta`), ``first_order``
    (:math:`\nabla M(\theta_k)`) and ``closed_form`` :math:`(I-\alpha A)^k\nabla M(\theta_k)`.
    """
    k = int_dim(steps, "steps")
    if k > MAX_STEPS:
        raise ValueError(f"steps must be an integer in [1, {MAX_STEPS}], got {k}")
    d = int_dim(n, "n")
    if d > 3:
        raise ValueError(f"n must be an integer in [1, 3], got {d}")
    theta = sympy.Matrix(sympy.symbols(f"theta1:{d + 1}", real=True))
    a = sympy.Matrix(sympy.symbols(f"a1:{d + 1}", real=True))
    b = sympy.Matrix(sympy.symbols(f"b1:{d + 1}", real=True))
    A, B = _sym("A", d), _sym("B", d)
    alpha = sympy.Symbol("alpha", positive=True)
    x = theta
    for _ in range(k):
        x = x - alpha * A * (x - a)
    outer = ((x - b).T * B * (x - b))[0] / 2
    meta = sympy.Matrix([sympy.diff(outer, t) for t in theta])
    first = B * (x - b)
    eye = sympy.eye(d)
    closed = (eye - alpha * A) ** k * first
    return {
        "theta": theta,
        "a": a,
        "b": b,
        "A": A,
        "B": B,
        "alpha": alpha,
        "theta_k": x,
        "meta_gradient": meta,
        "first_order": first,
        "closed_form": closed,
    }


def derive_maml_meta_gradient() -> Derivation:
    r"""One inner step, :math:`n = 2`, general symmetric :math:`A, B`: SymPy's gradient of
    :math:`M(\theta - \alpha A(\theta - a))` equals :math:`(I-\alpha A)B(\theta'-b)`, and
    :math:`\text{exact} - \text{FO} = -\alpha A B(\theta'-b)`. ``claimed`` the squared
    distance between SymPy's gradient and the closed form (expanded), ``derived`` 0."""
    p = maml_quadratic(1, 2)
    gap = (p["meta_gradient"] - p["closed_form"]).expand()
    fo_gap = (p["meta_gradient"] - p["first_order"]).expand()
    predicted = (-p["alpha"] * p["A"] * p["first_order"]).expand()
    steps = (
        Step(
            "Inner step $\\theta' = \\theta - \\alpha A(\\theta - a)$, so "
            "$\\partial\\theta'/\\partial\\theta = I - \\alpha A$ (symmetric).",
        ),
        Step(
            "Chain rule: $\\nabla_\\theta M(\\theta') = (I - \\alpha A)\\,B(\\theta' - b)$; "
            "SymPy's gradient minus this closed form, entry by entry:",
            sympy.ImmutableMatrix(gap),
        ),
        Step(
            "FO-MAML keeps $B(\\theta'-b)$; exact minus first-order minus "
            "$(-\\alpha A B(\\theta'-b))$:",
            sympy.ImmutableMatrix((fo_gap - predicted).expand()),
        ),
        Step(
            "So the two agree iff $\\alpha A\\,\\nabla M(\\theta') = 0$: $\\alpha = 0$ or the "
            "query gradient lies in $\\ker A$. With $B = A$, $b = a$ for all $\\theta$: iff "
            "$\\alpha = 0$ or $A^2(I - \\alpha A) = 0$, every eigenvalue of $A$ in "
            "$\\{0, 1/\\alpha\\}$."
        ),
    )
    sq = sum(e**2 for e in gap) + sum(e**2 for e in (fo_gap - predicted))
    return Derivation(
        "MAML meta-gradient on a quadratic task vs first-order MAML",
        steps,
        claimed=sympy.expand(sq),
        derived=sympy.Integer(0),
    )


def derive_film_linear() -> Derivation:
    r"""FiLM then linear equals a linear layer with weight :math:`W\operatorname{diag}(\gamma)`
    and bias :math:`W\beta + c` (:math:`3\times 2`, symbolic). ``claimed`` the squared
    distance of the two outputs, ``derived`` 0."""
    x = sympy.Matrix(sympy.symbols("x1:3", real=True))
    g = sympy.Matrix(sympy.symbols("gamma1:3", real=True))
    be = sympy.Matrix(sympy.symbols("beta1:3", real=True))
    c = sympy.Matrix(sympy.symbols("c1:4", real=True))
    W = sympy.Matrix(3, 2, lambda i, j: sympy.Symbol(f"W{i + 1}{j + 1}", real=True))
    film = g.multiply_elementwise(x) + be
    lhs = W * film + c
    rhs = W * sympy.diag(*g) * x + (W * be + c)
    diff = (lhs - rhs).expand()
    steps = (
        Step("FiLM: $\\gamma\\odot x + \\beta = \\operatorname{diag}(\\gamma)x + \\beta$."),
        Step(
            "Hence $W(\\gamma\\odot x+\\beta)+c$ minus "
            "$W\\operatorname{diag}(\\gamma)x + W\\beta + c$:",
            sympy.ImmutableMatrix(diff),
        ),
        Step(
            "A task embedding $z$ therefore changes a following linear layer only through a "
            "column scaling of $W$ and a bias in the column space of $W$."
        ),
    )
    return Derivation(
        "FiLM followed by a linear layer",
        steps,
        claimed=sympy.expand(sum(e**2 for e in diff)),
        derived=sympy.Integer(0),
    )
