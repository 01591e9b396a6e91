r"""Quantization and binarization in SymPy: the rounding error, the dot-product error bound,
XNOR-Net's scaling factor and the straight-through estimator.

Conventions: uniform quantization :math:`\hat x = s\,\mathrm{round}(x/s)` (zero point and
clamping aside: within the representable range the zero point shifts the grid by an integer
and changes nothing below), round half to even as torch does. Binarization
:math:`W \approx \alpha B`, :math:`B \in \{-1, +1\}^n`.

* :func:`derive_rounding_error`: :math:`|x - \hat x| \le s/2`, attained at half-steps.
* :func:`derive_dot_product_bound`: :math:`w\cdot x - \hat w\cdot\hat x = e\cdot x + \hat w\cdot d`
  (:math:`e = w - \hat w`, :math:`d = x - \hat x`), hence
  :math:`|w\cdot x - \hat w\cdot\hat x| \le \frac{s_w}2\|x\|_1 + \frac{s_x}2\|\hat w\|_1`, attained
  (weights only: :math:`\frac{s_w}{2}\|x\|_1`).
* :func:`derive_xnor_scaling`: :math:`\min_{\alpha, B}\|W - \alpha B\|^2` at
  :math:`B = \mathrm{sign}(W)`, :math:`\alpha^* = \frac1n\sum|W_i|` (Rastegari et al. 2016,
  *XNOR-Net*, §3.1, eq. 2-4); at :math:`W = 0` every :math:`B` is optimal with
  :math:`\alpha^* = 0`.
* :func:`derive_ste`: the hardtanh straight-through gradient :math:`\mathbf 1_{|x|\le 1}`
  (Bengio, Léonard & Courville 2013, arXiv:1308.3432; Courbariaux et al. 2016, *Binarized
  Neural Networks*, §1.3).

References: B. Jacob et al. (2018), *Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference*, CVPR, §2; torch docs, *Quantization* (``torch.ao.quantization``,
deprecated in favour of torchao) and ``torch.fake_quantize_per_tensor_affine``.
"""

from __future__ import annotations

import sympy

from theory.derivation import Derivation, Step

__all__ = [
    "derive_dot_product_bound",
    "derive_rounding_error",
    "derive_ste",
    "derive_xnor_scaling",
]

_S = sympy.Symbol("s", positive=True)


def _eq(lhs: sympy.Expr, rhs: sympy.Expr) -> sympy.Eq:
    return sympy.Eq(lhs, rhs, evaluate=False)


def derive_rounding_error() -> Derivation:
    r"""Write :math:`x = s(k + f)`, :math:`k \in \mathbb Z`, :math:`f \in [-\tfrac12, \tfrac12]`
    (the nearest grid point is :math:`sk`); the error :math:`x - \hat x = sf`, whose largest
    absolute value over the interval is :math:`s/2` (``sympy.maximum``), reached at
    :math:`f = \pm\frac12` whichever way the tie is broken. ``claimed`` :math:`s/2`."""
    f = sympy.Symbol("f", real=True)
    err = sympy.Abs(_S * f)
    worst = sympy.maximum(err, f, sympy.Interval(-sympy.Rational(1, 2), sympy.Rational(1, 2)))
    steps = (
        Step("Nearest grid point $sk$ of $x = s(k+f)$, $|f| \\le 1/2$; the error is $sf$."),
        Step("Its largest absolute value over $|f| \\le 1/2$:", _eq(sympy.Symbol("e_max"), worst)),
        Step(
            "Attained at $f = \\pm 1/2$ (a tie): round half to even sends $x = s/2$ to 0 and "
            "$x = 3s/2$ to $2s$, an error of $s/2$ either way. Outside the range "
            "$[s(q_{min}-z), s(q_{max}-z)]$ clamping makes the error unbounded."
        ),
    )
    return Derivation(
        "Uniform quantization: error at most half a step",
        steps,
        claimed=_S / 2,
        derived=worst,
    )


def derive_dot_product_bound() -> Derivation:
    r"""With :math:`e_i = w_i - \hat w_i`, :math:`d_i = x_i - \hat x_i` (each at most half a
    step), the identity :math:`w_ix_i - \hat w_i\hat x_i = e_ix_i + \hat w_id_i` (SymPy) and the
    triangle inequality give :math:`|w\cdot x - \hat w\cdot\hat x| \le \frac{s_w}2\|x\|_1 +
    \frac{s_x}2\|\hat w\|_1`, an equality when :math:`e_i = \frac{s_w}2\mathrm{sign}(x_i)` and
    :math:`d_i = \frac{s_x}2\mathrm{sign}(\hat w_i)` (e.g. :math:`w_i = \frac52 s_w`,
    :math:`x_i = \frac12 s_x`). ``claimed`` the one-term product identity, ``derived`` its
    expansion."""
    w, x, e, d, sw, sx = sympy.symbols("w x e d s_w s_x", real=True)
    lhs = w * x - (w - e) * (x - d)
    rhs = e * x + (w - e) * d
    tight_w, tight_x = sympy.Rational(5, 2) * sw, sx / 2
    what, xhat = 2 * sw, sympy.Integer(0)
    gap = sympy.expand(tight_w * tight_x - what * xhat)
    bound = sw / 2 * sympy.Abs(tight_x) + sx / 2 * sympy.Abs(what)
    steps = (
        Step("Per term, with $\\hat w = w - e$, $\\hat x = x - d$:", _eq(lhs, sympy.expand(rhs))),
        Step(
            "Summing and bounding $|e_i| \\le s_w/2$, $|d_i| \\le s_x/2$: "
            "$|w\\cdot x - \\hat w\\cdot\\hat x| \\le \\frac{s_w}2\\|x\\|_1 + "
            "\\frac{s_x}2\\|\\hat w\\|_1$; with exact inputs ($d = 0$) "
            "$\\le \\frac{s_w}2\\|x\\|_1$."
        ),
        Step(
            "Tight: $w = 5s_w/2 \\mapsto \\hat w = 2s_w$ (half to even), $x = s_x/2 \\mapsto 0$; "
            "the error of one term:",
            _eq(sympy.Symbol("gap"), gap),
        ),
        Step("which is the bound:", _eq(sympy.Symbol("bound"), sympy.simplify(bound))),
    )
    return Derivation(
        "Quantized dot product: error bound and a tight case",
        steps,
        claimed=sympy.expand(lhs),
        derived=sympy.expand(rhs),
    )


def derive_xnor_scaling() -> Derivation:
    r""":math:`J(\alpha, B) = \|W - \alpha B\|^2 = \|W\|^2 - 2\alpha\,B\cdot W + n\alpha^2`
    (:math:`b_i^2 = 1`). For fixed :math:`B`, :math:`\alpha = B\cdot W/n` and
    :math:`J = \|W\|^2 - (B\cdot W)^2/n`, minimal when :math:`|B\cdot W|` is largest:
    :math:`B = \mathrm{sign}(W)`, :math:`B\cdot W = \|W\|_1`, :math:`\alpha^* = \|W\|_1/n`
    (mean :math:`|W|`). At :math:`W = 0`: :math:`J = n\alpha^2`, every :math:`B` with
    :math:`\alpha^* = 0`. ``claimed`` :math:`\|W\|_1/n`, ``derived`` the stationary point."""
    a, p, q = sympy.symbols("alpha P Q", real=True)  # P = B.W, Q = ||W||^2
    n = sympy.Symbol("n", positive=True, integer=True)
    l1 = sympy.Symbol("L", nonnegative=True)  # ||W||_1
    j = q - 2 * a * p + n * a**2
    (alpha_b,) = sympy.solve(sympy.diff(j, a), a)
    j_min = sympy.simplify(j.subs(a, alpha_b))
    derived = alpha_b.subs(p, l1)
    steps = (
        Step(
            "Expand with $b_i^2 = 1$, $P = B\\cdot W$, $Q = \\|W\\|^2$:", _eq(sympy.Symbol("J"), j)
        ),
        Step("Stationary in $\\alpha$ (convex, $n > 0$):", _eq(a, alpha_b)),
        Step("Value there:", _eq(sympy.Symbol("J_min"), j_min)),
        Step(
            "$|P| \\le \\|W\\|_1 = L$ with equality iff $b_i = \\mathrm{sign}(w_i)$ wherever "
            "$w_i \\ne 0$ (zeros free); so $B = \\mathrm{sign}(W)$ and $\\alpha^* = L/n$ = mean "
            "$|W|$. At $W = 0$, $J = n\\alpha^2$: $\\alpha^* = 0$ and every $B$ is optimal."
        ),
    )
    return Derivation(
        "XNOR-Net: optimal scaling factor and binary weights",
        steps,
        claimed=l1 / n,
        derived=derived,
    )


def derive_ste() -> Derivation:
    r"""The hardtanh straight-through estimator: the forward pass is :math:`\mathrm{sign}(x)`
    (derivative 0 almost everywhere), the backward pass uses the derivative of
    :math:`\mathrm{hardtanh}(x) = \max(-1, \min(1, x))`, :math:`\mathbf 1_{|x| < 1}`
    (SymPy; a.e., so :math:`\mathbf 1_{|x|\le1}` of Courbariaux et al. agrees except at
    :math:`|x| = 1`, where torch's ``hardtanh_backward`` gives 0). ``claimed`` the indicator,
    ``derived`` SymPy's derivative, compared at sample points."""
    x = sympy.Symbol("x", real=True)
    ht = sympy.Max(-1, sympy.Min(1, x))
    dht = sympy.diff(ht, x)
    ind = sympy.Piecewise((1, sympy.Abs(x) < 1), (0, True))
    pts = [sympy.Rational(k, 4) for k in range(-12, 13) if abs(k) != 4]
    mismatches = sum(1 for t in pts if sympy.simplify(dht.subs(x, t) - ind.subs(x, t)) != 0)
    steps = (
        Step("The surrogate forward:", _eq(sympy.Symbol("h"), ht)),
        Step("Its derivative (SymPy):", _eq(sympy.Symbol("h'"), dht)),
        Step(
            f"Equal to $\\mathbf 1_{{|x|<1}}$ at the {len(pts)} points $x = k/4$, $|k| \\le 12$, "
            f"$|k| \\ne 4$ ({mismatches} mismatches); at $|x| = 1$ the derivative does not exist "
            "and conventions differ (Courbariaux: 1, torch's hardtanh backward: 0)."
        ),
    )
    return Derivation(
        "Straight-through estimator: hardtanh gradient",
        steps,
        claimed=sympy.Integer(mismatches),
        derived=sympy.Integer(0),
        scope=f"checked at the {len(pts)} points x = k/4, |k| <= 12, |k| != 4",
    )
