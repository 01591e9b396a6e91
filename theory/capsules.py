r"""Capsule networks (Sabour, Frosst & Hinton 2017): the squash nonlinearity and the parameter
count of the original CapsNet on MNIST.

Squash (eq. 1 of the paper): for a capsule's total input :math:`s \in \mathbb R^d`,

.. math:: v = \frac{\lVert s\rVert^2}{1 + \lVert s\rVert^2}\,\frac{s}{\lVert s\rVert}
          = \frac{\lVert s\rVert}{1 + \lVert s\rVert^2}\, s ,

so :math:`\lVert v\rVert = r^2/(1+r^2) \in [0, 1)` with :math:`r = \lVert s\rVert`, and
:math:`v` is a non-negative multiple of :math:`s` (direction kept). The second form has no
division by :math:`\lVert s\rVert`: it is defined (and :math:`v = 0`) at :math:`s = 0`, where
the map is differentiable with a zero Jacobian — no :math:`\varepsilon` is needed, neither
forward nor backward, once the factor is written as :math:`r/(1+r^2)` (see
:func:`derive_squash`).

CapsNet (§4 of the paper): conv1 9×9, 256 channels, stride 1, ReLU; PrimaryCaps: a 9×9 stride-2
convolution to 32·8 channels, read as 32×6×6 = 1152 capsules of 8 dimensions; DigitCaps: one
8×16 matrix :math:`W_{ij}` per (primary capsule i, digit capsule j), 10 digit capsules, no
bias (the routing logits :math:`b_{ij}` are reset per input and are not parameters);
optional reconstruction decoder 16·10 → 512 → 1024 → 784. The paper states 6.8M parameters
without the decoder and 8.2M with it (§5): :func:`capsnet_params` gives 6 804 224 and
8 215 568.

References
----------
Sabour, Frosst & Hinton, *Dynamic Routing Between Capsules*, NeurIPS 2017, eq. 1-3, Procedure
1, §4-5. ``000_160a0b7c04e12fc6.txt`` § Biologically-Inspired Layers (Capsule Networks).
"""

from __future__ import annotations

import sympy

from theory._args import flag, int_dim
from theory.conv import conv_output_size, conv_params
from theory.derivation import Derivation, Step

__all__ = ["capsnet_params", "derive_primary_shift", "derive_squash", "squash_norm"]


def squash_norm(r: object) -> sympy.Expr:
    r"""Norm of the squashed vector as a function of :math:`r = \lVert s\rVert \ge 0`:
    :math:`r^2/(1+r^2)` (an exact SymPy value; ``r`` a real number or expression ≥ 0)."""
    from theory._args import real

    rr = real(r, "r", lower=0)
    return rr**2 / (1 + rr**2)


def capsnet_params(decoder: bool = False, image_size: int = 28) -> dict[str, int]:
    r"""Parameter count of the original CapsNet per layer, and ``"total"``.

    ``decoder`` adds the reconstruction network (3 fully connected layers with biases).
    ``image_size`` is the side of the square single-channel input (28 for MNIST; at least 25
    so that the primary capsule grid is non-empty).

    >>> capsnet_params()["total"], capsnet_params(decoder=True)["total"]
    (6804224, 8215568)
    """
    with_decoder = flag(decoder, "decoder")
    size = int_dim(image_size, "image_size", minimum=25)
    h1 = conv_output_size(size, 9)
    h2 = conv_output_size(h1, 9, stride=2)
    in_caps = 32 * h2 * h2
    out = {
        "conv1": int(conv_params(1, 256, 9)),
        "primary_caps": int(conv_params(256, 32 * 8, 9)),
        "digit_caps": int(in_caps * 10 * 8 * 16),
    }
    if with_decoder:
        out["decoder"] = int(
            (16 * 10 * 512 + 512) + (512 * 1024 + 1024) + (1024 * size * size + size * size)
        )
    out["total"] = sum(out.values())
    return out


def derive_squash() -> Derivation:
    r"""Squash: :math:`\lVert v\rVert = r^2/(1+r^2) < 1`, :math:`v = \frac{r}{1+r^2}s`, and the
    Jacobian :math:`\frac{r}{1+r^2}I + \frac{1-r^2}{r(1+r^2)^2}ss^\top` tends to 0 as
    :math:`s \to 0` (the second term is :math:`O(r)`), so the map is :math:`C^1` at 0 with a
    zero derivative and needs no :math:`\varepsilon`. ``claimed`` the paper's norm
    :math:`r^2/(1+r^2)`, ``derived`` the norm of :math:`\frac{r}{1+r^2}s` computed in
    coordinates (d = 3)."""
    s = sympy.Matrix(sympy.symbols("s1:4", real=True))
    r = sympy.sqrt((s.T * s)[0])
    v = (r / (1 + r**2)) * s
    norm_v = sympy.sqrt(sympy.factor((v.T * v)[0]))
    rs = sympy.Symbol("r", nonnegative=True)
    f = rs / (1 + rs**2)
    fprime_over_r = sympy.simplify(sympy.diff(f, rs) / rs)
    # Jacobian of v at s = t*e (any direction by symmetry): largest entry → 0 as t → 0.
    t = sympy.Symbol("t", positive=True)
    jac = v.jacobian(s).subs({s[0]: t, s[1]: 0, s[2]: 0})
    limit0 = sympy.Matrix(jac.shape[0], jac.shape[1], lambda i, j: sympy.limit(jac[i, j], t, 0))
    steps = (
        Step(
            "Write the paper's factor $\\frac{r^2}{1+r^2}\\frac1r$ as $\\frac{r}{1+r^2}$ "
            "($r = \\lVert s\\rVert$): no division by $r$.",
            sympy.Eq(sympy.Symbol("v"), sympy.Symbol("s") * f, evaluate=False),
        ),
        Step("Norm of $v$ (in coordinates, $d = 3$):", sympy.Eq(sympy.Symbol("\\|v\\|"), norm_v)),
        Step(
            "It is increasing in $r$ and below 1 for every finite $r$: "
            "$1 - \\|v\\| = 1/(1+r^2) > 0$.",
            sympy.Eq(sympy.Symbol("1-\\|v\\|"), sympy.simplify(1 - rs**2 / (1 + rs**2))),
        ),
        Step(
            "Jacobian $f(r)I + \\frac{f'(r)}{r}ss^\\top$ with $\\frac{f'(r)}{r}$:",
            sympy.Eq(sympy.Symbol("f'(r)/r"), fprime_over_r),
        ),
        Step(
            "The second term is $O(r)$ since $\\|ss^\\top\\| = r^2$; along $s = te_1$ the "
            "Jacobian tends to the zero matrix as $t \\to 0$, so squash is $C^1$ at 0 with "
            "zero derivative: the backward pass sets the term to 0 at $r = 0$, no "
            "$\\varepsilon$ needed.",
            sympy.Eq(sympy.Symbol("\\lim J"), sympy.ImmutableMatrix(limit0), evaluate=False),
        ),
    )
    return Derivation(
        "Squash: norm in [0, 1), direction kept, smooth at 0",
        steps,
        claimed=sympy.simplify(r**2 / (1 + r**2)),
        derived=sympy.simplify(norm_v),
    )


def derive_primary_shift() -> Derivation:
    r"""Primary capsules are translation-equivariant for shifts by multiples of the total
    stride 2 (Sabour et al. §4: conv1 9×9 stride 1, PrimaryCaps 9×9 stride 2, no padding).

    Row :math:`q` of the capsule grid reads conv1 rows :math:`2q + u`, which read input rows
    :math:`2q + u + v` (:math:`0 \le u, v \le 8`). If the input is moved by :math:`t` rows
    (the scene read at :math:`p + t`, i.e. a crop of a larger image, so no border values
    enter), row :math:`q` reads :math:`2q + t + u + v`; this is row :math:`q + a` of the
    original grid iff :math:`t = 2a`. The squash acts on each capsule alone, so the capsule
    outputs shift with the grid. ``claimed`` :math:`2(q + a) + u + v`, ``derived`` the input
    row read after the shift :math:`t = 2a`. Odd :math:`t` lands between grid rows (checked
    numerically to differ). Columns are the same."""
    q, a, u, v, t = sympy.symbols("q a u v t", integer=True)
    read = 2 * q + u + v  # input row read by grid row q through conv1 tap v, PrimaryCaps tap u
    shifted = read + t
    steps = (
        Step(
            "Grid row $q$ reads input row $2q + u + v$ (stride 2, then stride 1):",
            sympy.Eq(sympy.Symbol("p(q)"), read, evaluate=False),
        ),
        Step(
            "After moving the input by $t$ rows it reads $2q + t + u + v$; equal to the "
            "original grid row $q + a$ for every tap $u, v$ iff $t = 2a$:",
            sympy.Eq(t, sympy.solve(sympy.Eq(shifted, read.subs(q, q + a)), t)[0]),
        ),
    )
    return Derivation(
        "Primary capsules shift with the input by multiples of 2",
        steps,
        claimed=read.subs(q, q + a),
        derived=sympy.expand(shifted.subs(t, 2 * a)),
        scope="proved for any valid (unpadded) positions; squash acts per capsule",
    )
