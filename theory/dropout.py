r"""Dropout and its variants in SymPy: masks, moments, the ensemble, the regularizer, Monte-Carlo
dropout, stochastic depth, DropBlock and the optimal rate.

Conventions (named in every helper)
-----------------------------------
* ``p`` is the **drop** probability (torch's and ``000``'s convention); :math:`q = 1 - p` is the
  **keep** probability. ``002`` writes :math:`r \sim \mathrm{Bernoulli}(p),\ y = r\odot x/p`,
  i.e. its :math:`p` is our :math:`q`; helpers taking ``convention="keep"`` read their
  probability argument that way.
* The mask :math:`r_i = 1` means *kept*, :math:`P(r_i = 1) = q`.
* **Inverted** dropout (torch, ``000``'s training formula, ``002``): training output
  :math:`r y/q`, inference the identity. **Classic** dropout (Srivastava et al. 2014, §2, §10):
  training output :math:`r y`, inference :math:`q y` (weights scaled by :math:`q`).
* An ensemble "sub-network" is a mask :math:`r \in \{0,1\}^n` on the :math:`n` units dropout
  acts on; its probability is :math:`q^{|r|}p^{n-|r|}`. The weight-scaling network is the
  deterministic net evaluated at the mean input :math:`\mathbb E[r\odot x/q] = x`.

Results (each a :class:`~theory.derivation.Derivation`, rendered on the docs page):

* ``000``'s mask read literally (:math:`r\sim\mathrm{Bernoulli}(p)` with :math:`p` the drop
  probability, kept when :math:`r = 1`) gives :math:`\mathbb E[\tilde y] = \frac{p}{1-p}y`
  (:func:`derive_mask_literal`); ``000``'s inference line
  :math:`(1-p)\cdot 0 + p\cdot y/(1-p)` equals :math:`y` only at :math:`p = 1/2`
  (:func:`derive_inference_line`); the correct :math:`p\cdot 0 + (1-p)\,y/(1-p) = y`, variance
  :math:`\frac{p}{1-p}y^2` (:func:`derive_inverted_moments`); classic dropout
  (:func:`derive_classic_moments`); ``002``'s keep convention (:func:`derive_keep_convention`).
* Weight scaling equals the **arithmetic** ensemble mean when the output is affine in the
  dropped units (:func:`derive_weight_scaling_linear`), the **normalized weighted geometric
  mean** for a softmax or sigmoid layer directly after dropout
  (:func:`derive_weight_scaling_softmax`, :func:`derive_weight_scaling_sigmoid`); with a ReLU in
  between the gap is unbounded (:func:`derive_ensemble_gap`); arithmetic mean and NWGM differ
  (:func:`derive_arithmetic_vs_geometric`).
* Linear regression: :math:`\mathbb E_r[(y - w\cdot(r\odot x)/q)^2] = (y - w\cdot x)^2 +
  \frac pq\sum_i w_i^2x_i^2`, the same for Gaussian dropout :math:`\mathcal N(1, p/q)`
  (:func:`derive_dropout_ridge`); the one-mask gradient is unbiased
  (:func:`derive_unbiased_gradient`).
* MC dropout's predictive variance does not shrink with data, the Bayesian one does
  (:func:`derive_mc_dropout_variance`).
* DropConnect's moments against dropout's (:func:`derive_dropconnect_moments`).
* Stochastic depth: expected depth under each schedule (:func:`derive_expected_depth`), the
  dropped block's Jacobian is the identity (:func:`derive_stochastic_depth_gradient`).
* DropBlock: the realized drop fraction is below the request
  (:func:`derive_dropblock_fraction`).
* ``002`` Q7: the log law is impossible, the linear-Gaussian optimum is
  :math:`p^* = \sigma^2d/(\sigma^2d + n\alpha^2)` (:func:`derive_log_law`,
  :func:`derive_optimal_rate`).

References: ``000_160a0b7c04e12fc6.txt`` § Dropout and Regularization Layers, review questions
8–9; ``002_532ac369c9b692e7.txt`` § Dropout Theory, review question 7. N. Srivastava et al.
(2014), *Dropout: A Simple Way to Prevent Neural Networks from Overfitting*, JMLR 15, §2, §7.5
(Monte-Carlo model averaging), §9.1 (linear regression), §10 (Gaussian dropout); G. Hinton et al.
(2012), arXiv:1207.0580 (mean network = geometric mean for a softmax layer, :math:`p = 1/2`);
P. Baldi, P. Sadowski (2014), *The dropout learning algorithm*, Artif. Intell. 210, §3–4
(NWGM); S. Wager, S. Wang, P. Liang (2013), *Dropout Training as Adaptive Regularization*;
L. Wan et al. (2013), *Regularization of Neural Networks using DropConnect*, §2–3;
J. Tompson et al. (2015), *Efficient Object Localization Using Convolutional Networks*, §3.2
(SpatialDropout); Y. Gal, Z. Ghahramani (2016), *Dropout as a Bayesian Approximation*;
G. Huang et al. (2016), *Deep Networks with Stochastic Depth*, §3 (linear decay, expected depth
:math:`(3L-1)/4`); G. Ghiasi, T.-Y. Lin, Q. Le (2018), *DropBlock*, §3, eq. (1). Sources read:
``pytorch/vision`` ``torchvision/models/convnext.py`` (``sd_prob = stochastic_depth_prob *
stage_block_id / (total_stage_blocks - 1.0)``), ``torchvision/models/efficientnet.py``
(``stochastic_depth_prob * float(stage_block_id) / total_stage_blocks``); timm's ViT
(``torch.linspace(0, drop_path_rate, depth)``, later ``calculate_drop_path_rates``).

Examples
--------
>>> dropout_moments(1, sympy.Rational(1, 5))
(1, 1/4)
>>> mask_count(10)
1024
>>> expected_active_blocks(54, "linear", sympy.Rational(1, 2))
161/4
>>> optimal_dropout_rate(100, 50, 1, 1)
1/3
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sympy
from sympy.stats import Bernoulli, Normal, density
from sympy.stats import E as expectation

from theory._args import TEXT, Dim, bounded, dim, flag, int_dim, real
from theory._args import choice as _choice
from theory.derivation import Derivation, Step

__all__ = [
    "MAX_DROPBLOCK_SIZE",
    "MAX_ENSEMBLE_UNITS",
    "MAX_MATRIX_ENTRIES",
    "SCHEDULES",
    "active_blocks_distribution",
    "all_masks",
    "bayes_predictive_variance",
    "derive_arithmetic_vs_geometric",
    "derive_classic_moments",
    "derive_dropblock_fraction",
    "derive_dropconnect_moments",
    "derive_dropout_ridge",
    "derive_ensemble_gap",
    "derive_expected_depth",
    "derive_inference_line",
    "derive_inverted_moments",
    "derive_keep_convention",
    "derive_log_law",
    "derive_mask_literal",
    "derive_mc_dropout_variance",
    "derive_optimal_rate",
    "derive_stochastic_depth_gradient",
    "derive_unbiased_gradient",
    "derive_weight_scaling_linear",
    "derive_weight_scaling_sigmoid",
    "derive_weight_scaling_softmax",
    "dropblock_coverage",
    "dropblock_drop_probability",
    "dropblock_expected_fraction",
    "dropblock_gamma",
    "dropblock_matching_gamma",
    "dropblock_pair_covariance",
    "dropconnect_moments",
    "dropout_expected_loss",
    "dropout_linear_moments",
    "dropout_moments",
    "ensemble_predictions",
    "expected_active_blocks",
    "expected_compute_fraction",
    "gaussian_dropout_moments",
    "literal_mask_expectation",
    "log_law_rate",
    "mask_count",
    "mask_distribution",
    "mc_dropout_expected_variance",
    "mc_dropout_moments",
    "optimal_dropout_rate",
    "ridge_bayes_risk",
    "spatial_dropout_covariance",
    "survival_schedule",
]

MAX_ENSEMBLE_UNITS = 12
"""Largest number of dropped units whose :math:`2^n` masks :func:`ensemble_predictions` and
:func:`dropout_expected_loss` enumerate (4096 masks; symbolic entries grow with each)."""

MAX_MATRIX_ENTRIES = 4096
"""Largest number of weight entries :func:`dropconnect_moments` /
:func:`dropout_linear_moments` accept (their covariance is built entry by entry)."""

MAX_DROPBLOCK_SIZE = 64
"""Largest ``block_size`` of the DropBlock helpers: the drop probabilities hold powers
:math:`(1-\\gamma)^{c}` with :math:`c \\le` ``block_size``:sup:`2`, exact rationals whose size
grows with :math:`c` (and :func:`dropblock_matching_gamma` finds the root of a polynomial of
degree ``block_size``:sup:`2`)."""

SCHEDULES = ("constant", "linear", "convnext", "efficientnet", "timm")
"""Stochastic-depth schedules of :func:`survival_schedule` (see there)."""

_CONVENTIONS = ("drop", "keep")
_SCALINGS = ("inverted", "classic")
_OUTPUTS = ("identity", "sigmoid", "softmax")
_NOISES = ("bernoulli", "gaussian")


# Argument checking ------------------------------------------------------------------------


def _drop(value: object, name: str = "p") -> sympy.Expr:
    """A drop probability in [0, 1): 1 is refused (every unit dropped, the 1/(1-p) scale is
    undefined)."""
    v = real(value, name, lower=0, upper=1)
    if v == 1 or (v - 1).is_zero:
        raise ValueError(
            f"{name} must be a drop probability in [0, 1) (1 drops every unit and the scale "
            f"1/(1-{name}) is undefined), got {value!r}"
        )
    return v


def _keep(value: object, name: str = "q") -> sympy.Expr:
    """A keep probability in (0, 1]."""
    v = real(value, name, lower=0, upper=1)
    if v == 0 or v.is_zero:
        raise ValueError(
            f"{name} must be a keep probability in (0, 1] (0 keeps nothing and the scale "
            f"1/{name} is undefined), got {value!r}"
        )
    return v


def _open_unit(value: object, name: str) -> sympy.Expr:
    v = real(value, name, lower=0, upper=1)
    if v.is_zero or (v - 1).is_zero:
        raise ValueError(f"{name} must be in the open interval (0, 1), got {value!r}")
    return v


def _positive(value: object, name: str) -> sympy.Expr:
    v = real(value, name, lower=0)
    if v.is_zero:
        raise ValueError(f"{name} must be a finite real number > 0, got {value!r}")
    return v


def _keep_of(p: object, convention: object, name: str = "p") -> sympy.Expr:
    """The keep probability :math:`q` from ``p`` read in ``convention``."""
    conv = _choice(convention, "convention", _CONVENTIONS)
    return 1 - _drop(p, name) if conv == "drop" else _keep(p, name)


def _vector(value: object, name: str, limit: int = MAX_MATRIX_ENTRIES) -> list[sympy.Expr]:
    if isinstance(value, sympy.MatrixBase):
        if 1 not in value.shape:
            raise ValueError(f"{name} must be a vector (one row or column), got {value.shape}")
        value = list(value)
    if isinstance(value, TEXT) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of finite reals, got {type(value).__name__}")
    if len(value) == 0:
        raise ValueError(f"{name} must hold at least one entry, got an empty sequence")
    bounded(len(value), name, limit)
    return [real(v, f"{name}[{i}]") for i, v in enumerate(value)]


def _matrix(value: object, name: str) -> sympy.Matrix:
    if isinstance(value, sympy.MatrixBase):
        rows = value.tolist()
    elif isinstance(value, TEXT) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a matrix (a sequence of rows or a SymPy Matrix), got "
            f"{type(value).__name__}"
        )
    else:
        rows = list(value)
    if not rows:
        raise ValueError(f"{name} must have at least one row, got none")
    bounded(len(rows), name, MAX_MATRIX_ENTRIES)
    out = []
    for i, row in enumerate(rows):
        if isinstance(row, TEXT) or not isinstance(row, Sequence):
            raise TypeError(f"{name}[{i}] must be a row (a sequence of reals), got {row!r}")
        out.append(_vector(row, f"{name}[{i}]"))
    width = len(out[0])
    if any(len(r) != width for r in out):
        raise ValueError(f"{name} must have rows of equal length, got {[len(r) for r in out]}")
    bounded(len(out) * width, f"{name} (entries)", MAX_MATRIX_ENTRIES)
    return sympy.Matrix(out)


def _moment(rv: sympy.Basic, k: int, cache: dict) -> sympy.Expr:
    key = (rv, k)
    if key not in cache:
        cache[key] = sympy.simplify(expectation(rv**k))
    return cache[key]


def _expect(expr: sympy.Expr, rvs: dict[sympy.Symbol, sympy.Basic]) -> sympy.Expr:
    r""":math:`\mathbb E` of a polynomial in independent random variables: expand, and replace
    each monomial :math:`\prod_i s_i^{k_i}` by :math:`\prod_i \mathbb E[X_i^{k_i}]`, the moments
    computed by ``sympy.stats`` from the distributions ``rvs`` (symbol → random symbol)."""
    syms = list(rvs)
    poly = sympy.Poly(sympy.expand(expr), *syms)
    cache: dict = {}
    total = sympy.Integer(0)
    for exps, coeff in poly.terms():
        term = coeff
        for s, k in zip(syms, exps, strict=True):
            if k:
                term = term * _moment(rvs[s], k, cache)
        total += term
    return total


# Masks and moments ------------------------------------------------------------------------


def mask_distribution(p: object, convention: str = "drop") -> dict[int, sympy.Expr]:
    r"""The distribution of one mask entry :math:`r` (1 = kept): ``{0: P(r=0), 1: P(r=1)}``.

    ``convention="drop"`` (torch, ``000``): ``p`` is the drop probability in :math:`[0, 1)`,
    so ``{0: p, 1: 1-p}``; ``convention="keep"`` (``002``): ``p`` is the keep probability in
    :math:`(0, 1]`, so ``{0: 1-p, 1: p}``. Computed from ``sympy.stats.Bernoulli``.
    """
    q = _keep_of(p, convention)
    dens = density(Bernoulli("r", q)).dict
    return {0: sympy.sympify(dens.get(0, 0)), 1: sympy.sympify(dens.get(1, 0))}


def dropout_moments(
    y: object, p: object, convention: str = "drop", scaling: str = "inverted"
) -> tuple[sympy.Expr, sympy.Expr]:
    r""":math:`(\mathbb E[\tilde y], \operatorname{Var}[\tilde y])` of one unit's training
    output for a fixed activation ``y``.

    ``scaling="inverted"`` (torch, ``000``, ``002``): :math:`\tilde y = r y/q`, giving
    :math:`(y, \frac{p}{q}y^2)`; ``"classic"`` (Srivastava et al. 2014): :math:`\tilde y = r y`,
    giving :math:`(q y, pq\,y^2)` (inference then multiplies by :math:`q`). ``p`` read in
    ``convention`` (``"drop"``: drop probability in [0, 1); ``"keep"``: keep probability in
    (0, 1]). Exact (``sympy.stats`` on a Bernoulli mask).
    """
    yv = real(y, "y")
    q = _keep_of(p, convention)
    scale = 1 / q if _choice(scaling, "scaling", _SCALINGS) == "inverted" else sympy.Integer(1)
    r = Bernoulli("r", q)
    out = r * yv * scale
    mean = sympy.simplify(expectation(out))
    var = sympy.simplify(expectation(out**2) - mean**2)
    return mean, sympy.factor(var) if var.free_symbols else var


def literal_mask_expectation(y: object, p: object) -> sympy.Expr:
    r"""``000``'s mask read literally: :math:`r \sim \mathrm{Bernoulli}(p)` with ``p`` the
    **drop** probability, output :math:`y/(1-p)` when :math:`r = 1`: :math:`\mathbb E[\tilde y]
    = p\,y/(1-p)` (e.g. :math:`p = 1/5 \Rightarrow y/4`). ``p`` in [0, 1), ``y`` a finite real."""
    yv, pv = real(y, "y"), _drop(p)
    r = Bernoulli("r", pv)
    return sympy.simplify(expectation(r * yv / (1 - pv)))


def spatial_dropout_covariance(
    y_a: object,
    y_b: object,
    p: object,
    same_channel: bool,
    same_sample: bool,
    reading: str = "torch",
) -> sympy.Expr:
    r"""Covariance of two outputs :math:`\tilde Y_a = r_a Y_a/q`, :math:`\tilde Y_b = r_b Y_b/q`
    of spatial dropout (inverted, ``p`` the drop probability in [0, 1)).

    They share a mask exactly when they are in the same channel and, under
    ``reading="torch"`` (``torch.nn.Dropout2d``, Tompson et al. 2015: one mask per (sample,
    channel)), the same sample; under ``reading="literal"`` (``000``'s
    :math:`\tilde Y[:, i, :, :]`: one mask per channel, shared across the batch) in any sample.
    Shared: :math:`\frac{p}{q}Y_aY_b`; otherwise 0 (for the same element, the variance).
    """
    ya, yb, q = real(y_a, "y_a"), real(y_b, "y_b"), 1 - _drop(p)
    same_channel = flag(same_channel, "same_channel")
    same_sample = flag(same_sample, "same_sample")
    literal = _choice(reading, "reading", ("torch", "literal")) == "literal"
    shared = same_channel and (same_sample or literal)
    r = Bernoulli("r", q)
    if shared:
        return sympy.simplify(expectation(r**2) * ya * yb / q**2 - ya * yb)
    return sympy.Integer(0)


def dropconnect_moments(weight: object, x: object, p: object) -> tuple[sympy.Matrix, sympy.Matrix]:
    r"""Mean vector and covariance matrix of :math:`\tilde W x`, DropConnect in ``000``'s
    inverted form: :math:`\tilde W_{ij} = r_{ij}W_{ij}/q` with independent
    :math:`r_{ij}\sim\mathrm{Bernoulli}(q)`, ``p`` the drop probability in [0, 1).

    Mean :math:`Wx`; :math:`\operatorname{Cov}[(\tilde Wx)_i, (\tilde Wx)_k] =
    \delta_{ik}\frac{p}{q}\sum_j W_{ij}^2x_j^2` (different rows use different masks). Moments of
    the mask from ``sympy.stats``; ``weight`` a :math:`k\times n` matrix, ``x`` of length
    :math:`n`, at most ``MAX_MATRIX_ENTRIES`` entries.
    """
    w, xs, pv = _matrix(weight, "weight"), _vector(x, "x"), _drop(p)
    if w.shape[1] != len(xs):
        raise ValueError(f"x must have {w.shape[1]} entries (weight's columns), got {len(xs)}")
    q = 1 - pv
    r = Bernoulli("r", q)
    m1, m2 = expectation(r) / q, expectation(r**2) / q**2  # E[r/q], E[(r/q)^2]
    xv = sympy.Matrix(xs)
    mean = (w * xv) * m1
    k = w.shape[0]
    cov = sympy.zeros(k, k)
    for i in range(k):
        cov[i, i] = sympy.factor(
            (m2 - m1**2) * sum(w[i, j] ** 2 * xs[j] ** 2 for j in range(len(xs)))
        )
    return sympy.simplify(mean), cov


def dropout_linear_moments(
    weight: object, x: object, p: object
) -> tuple[sympy.Matrix, sympy.Matrix]:
    r"""Mean and covariance of :math:`W(r\odot x)/q` (inverted dropout on the *input* units,
    one mask per input unit shared by all outputs; ``p`` the drop probability in [0, 1)).

    Mean :math:`Wx`; :math:`\operatorname{Cov}_{ik} = \frac{p}{q}\sum_j W_{ij}W_{kj}x_j^2`:
    the same variances as DropConnect (:func:`dropconnect_moments`) but correlated outputs.
    Arguments as :func:`dropconnect_moments`.
    """
    w, xs, pv = _matrix(weight, "weight"), _vector(x, "x"), _drop(p)
    if w.shape[1] != len(xs):
        raise ValueError(f"x must have {w.shape[1]} entries (weight's columns), got {len(xs)}")
    q = 1 - pv
    r = Bernoulli("r", q)
    m1, m2 = expectation(r) / q, expectation(r**2) / q**2
    k, n = w.shape
    mean = sympy.simplify(w * sympy.Matrix(xs) * m1)
    cov = sympy.zeros(k, k)
    for i in range(k):
        for j in range(k):
            cov[i, j] = sympy.factor(
                (m2 - m1**2) * sum(w[i, c] * w[j, c] * xs[c] ** 2 for c in range(n))
            )
    return mean, cov


def gaussian_dropout_moments(y: object, p: object) -> tuple[sympy.Expr, sympy.Expr]:
    r"""Gaussian dropout with matched moments (Srivastava et al. 2014, §10): :math:`\tilde y =
    \varepsilon y`, :math:`\varepsilon\sim\mathcal N(1, p/q)`; returns :math:`(\mathbb E,
    \operatorname{Var}) = (y, \frac pq y^2)`, equal to inverted dropout's
    (:func:`dropout_moments`). ``p`` the drop probability in [0, 1) (``sympy.stats.Normal``)."""
    yv, pv = real(y, "y"), _drop(p)
    q = 1 - pv
    if pv.is_zero:  # a point mass at 1: sympy.stats refuses std 0
        return yv, sympy.Integer(0)
    eps = Normal("eps", 1, sympy.sqrt(pv / q))
    cache: dict = {}
    mean = _moment(eps, 1, cache) * yv
    var = sympy.simplify(_moment(eps, 2, cache) * yv**2 - mean**2)
    return sympy.simplify(mean), sympy.factor(var) if var.free_symbols else var


# The ensemble -----------------------------------------------------------------------------


def mask_count(num_units: Dim) -> Dim:
    r"""Number of dropout masks (sub-networks) on ``num_units`` units: :math:`2^n`.

    ``num_units`` an integer in ``[0, MAX_ITEMS]`` (``theory._args``) or a SymPy expression
    (then :math:`2^n` symbolic). Distinct masks can still give the same function (e.g. a unit
    whose outgoing weights are zero), so :math:`2^n` counts masks, an upper bound on distinct
    sub-networks.
    """
    n = bounded(dim(num_units, "num_units", 0), "num_units")
    return 2**n if isinstance(n, int) else sympy.Integer(2) ** n


def all_masks(num_units: int) -> list[tuple[int, ...]]:
    r"""All :math:`2^n` masks on ``num_units`` units (tuples of 0/1, 1 = kept), in binary order.
    ``num_units`` an integer in ``[0, 19]`` (:math:`2^{19} \le` ``MAX_ITEMS``)."""
    n = int_dim(num_units, "num_units", 0)
    if n > 19:
        raise ValueError(f"num_units must be at most 19 here (2**num_units masks), got {n}")
    return list(itertools.product((0, 1), repeat=n))


def _mask_prob(mask: Sequence[int], q: sympy.Expr) -> sympy.Expr:
    k = sum(mask)
    return q**k * (1 - q) ** (len(mask) - k)


def ensemble_predictions(
    weight: object,
    x: object,
    q: object,
    output: str = "identity",
    bias: object = None,
) -> dict[str, sympy.Matrix | None]:
    r"""The ensemble of one layer :math:`z_r = W(r\odot x)/q + b` over all :math:`2^n` masks on
    the :math:`n` inputs, each weighted by :math:`P(r) = q^{|r|}(1-q)^{n-|r|}` (``q`` the
    **keep** probability in (0, 1]), through ``output`` :math:`g`.

    Returns ``{"arithmetic": Σ_r P(r) g(z_r), "nwgm": …, "weight_scaling": g(Wx + b)}``
    (column matrices). ``nwgm`` is the normalized weighted geometric mean (Baldi & Sadowski
    2014): for ``"softmax"`` :math:`\prod_r g(z_r)_k^{P(r)} / \sum_j \prod_r g(z_r)_j^{P(r)}`,
    for ``"sigmoid"`` (per output) :math:`G/(G + G')` with :math:`G = \prod_r g(z_r)^{P(r)}`,
    :math:`G' = \prod_r (1-g(z_r))^{P(r)}`; ``None`` for ``"identity"`` (no geometric mean of
    signed values). ``weight`` :math:`k\times n` with :math:`n \le` ``MAX_ENSEMBLE_UNITS``,
    ``x`` length :math:`n`, ``bias`` length :math:`k` or ``None``.
    """
    w, xs = _matrix(weight, "weight"), _vector(x, "x", MAX_ENSEMBLE_UNITS)
    k, n = w.shape
    if n != len(xs):
        raise ValueError(f"x must have {n} entries (weight's columns), got {len(xs)}")
    if n > MAX_ENSEMBLE_UNITS:
        raise ValueError(f"weight must have at most {MAX_ENSEMBLE_UNITS} columns, got {n}")
    qv = _keep(q)
    out = _choice(output, "output", _OUTPUTS)
    if bias is None:
        b = sympy.zeros(k, 1)
    else:
        bs = _vector(bias, "bias")
        if len(bs) != k:
            raise ValueError(f"bias must have {k} entries (weight's rows), got {len(bs)}")
        b = sympy.Matrix(bs)

    def g(z: sympy.Matrix) -> sympy.Matrix:
        if out == "identity":
            return z
        if out == "sigmoid":
            return z.applyfunc(lambda v: 1 / (1 + sympy.exp(-v)))
        e = z.applyfunc(sympy.exp)
        return e / sum(e)

    xv = sympy.Matrix(xs)
    arith = sympy.zeros(k, 1)
    geo = sympy.ones(k, 1)
    geo_c = sympy.ones(k, 1)
    for mask in all_masks(n):
        pr = _mask_prob(mask, qv)
        if pr == 0:
            continue
        z = w * sympy.Matrix([m * v for m, v in zip(mask, xs, strict=True)]) / qv + b
        gz = g(z)
        arith += pr * gz
        if out != "identity":
            geo = geo.multiply_elementwise(gz.applyfunc(lambda v, pr=pr: v**pr))
            if out == "sigmoid":
                geo_c = geo_c.multiply_elementwise(gz.applyfunc(lambda v, pr=pr: (1 - v) ** pr))
    if out == "identity":
        nwgm = None
    elif out == "sigmoid":
        nwgm = sympy.Matrix([geo[i] / (geo[i] + geo_c[i]) for i in range(k)])
    else:
        nwgm = geo / sum(geo)
    return {"arithmetic": arith, "nwgm": nwgm, "weight_scaling": g(w * xv + b)}


# Regularization ---------------------------------------------------------------------------


def dropout_expected_loss(
    w: object, x: object, y: object, p: object, noise: str = "bernoulli"
) -> sympy.Expr:
    r"""Expected squared loss of linear regression under inverted dropout on the inputs:
    :math:`\mathbb E_r[(y - \sum_i w_i r_i x_i/q)^2]` (``noise="bernoulli"``,
    :math:`r_i\sim\mathrm{Bernoulli}(q)`) or with Gaussian multiplicative noise
    :math:`\varepsilon_i\sim\mathcal N(1, p/q)` (``noise="gaussian"``); both equal
    :math:`(y - w\cdot x)^2 + \frac pq\sum_i w_i^2x_i^2`. Computed with ``sympy.stats`` moments
    (independent masks). ``p`` the drop probability in [0, 1); ``w``, ``x`` of equal length
    :math:`\le` ``MAX_ENSEMBLE_UNITS``.
    """
    ws, xs = _vector(w, "w", MAX_ENSEMBLE_UNITS), _vector(x, "x", MAX_ENSEMBLE_UNITS)
    if len(ws) != len(xs):
        raise ValueError(f"x must have {len(ws)} entries (as many as w), got {len(xs)}")
    yv, pv = real(y, "y"), _drop(p)
    kind = _choice(noise, "noise", _NOISES)
    q = 1 - pv
    syms = sympy.symbols(f"m0:{len(ws)}", real=True)
    if kind == "bernoulli":
        rvs = {s: Bernoulli(f"r{i}", q) for i, s in enumerate(syms)}
        pred = sum(wi * s * xi / q for wi, s, xi in zip(ws, syms, xs, strict=True))
    elif pv.is_zero:
        return sympy.expand((yv - sum(a * b for a, b in zip(ws, xs, strict=True))) ** 2)
    else:
        rvs = {s: Normal(f"e{i}", 1, sympy.sqrt(pv / q)) for i, s in enumerate(syms)}
        pred = sum(wi * s * xi for wi, s, xi in zip(ws, syms, xs, strict=True))
    return sympy.simplify(_expect((yv - pred) ** 2, rvs))


def mc_dropout_moments(w: object, x: object, p: object) -> tuple[sympy.Expr, sympy.Expr]:
    r"""Predictive mean and variance of Monte-Carlo dropout for a linear model
    :math:`f_r(x) = w\cdot(r\odot x)/q` (inverted, ``p`` the drop probability in [0, 1)):
    :math:`(w\cdot x,\ \frac pq\sum_j w_j^2x_j^2)` — the limits of the :math:`T`-pass sample mean
    and variance. Lengths :math:`\le` ``MAX_MATRIX_ENTRIES``."""
    ws, xs = _vector(w, "w"), _vector(x, "x")
    if len(ws) != len(xs):
        raise ValueError(f"x must have {len(ws)} entries (as many as w), got {len(xs)}")
    mean, cov = dropout_linear_moments([ws], xs, p)
    return mean[0], cov[0, 0]


def bayes_predictive_variance(
    n: object, d: object, sigma2: object, alpha2: object, x_norm2: object
) -> sympy.Expr:
    r"""Posterior variance of the predictive mean :math:`x_*^\top\beta` in the conjugate
    linear-Gaussian model :math:`y = X\beta + \varepsilon`, :math:`\beta\sim\mathcal N(0,
    \frac{\alpha^2}{d}I_d)`, :math:`\varepsilon\sim\mathcal N(0,\sigma^2 I_n)`, orthogonal design
    :math:`X^\top X = nI`: :math:`\|x_*\|^2/(n/\sigma^2 + d/\alpha^2)`, which shrinks like
    :math:`\sigma^2\|x_*\|^2/n`. ``n``, ``d`` integers :math:`\ge 1` (or symbols), ``sigma2``,
    ``alpha2`` > 0, ``x_norm2`` :math:`\ge 0`."""
    nv, dv = dim(n, "n"), dim(d, "d")
    s2, a2 = _positive(sigma2, "sigma2"), _positive(alpha2, "alpha2")
    xn = real(x_norm2, "x_norm2", lower=0)
    return sympy.simplify(xn / (nv / s2 + dv / a2))


def mc_dropout_expected_variance(
    n: object, p: object, sigma2: object, beta: object, x: object
) -> sympy.Expr:
    r"""Expected MC-dropout predictive variance at ``x`` after training linear regression with
    inverted dropout (drop probability ``p``) on ``n`` samples with orthogonal design
    :math:`X^\top X = nI`, noise variance ``sigma2`` and true coefficients ``beta``.

    The dropout objective is ridge with :math:`\lambda = np/q`, so :math:`\hat w = qX^\top y/n
    = q(\beta + \eta)`, :math:`\eta\sim\mathcal N(0, \frac{\sigma^2}{n}I)`; the variance
    :math:`\frac pq\sum_j\hat w_j^2x_j^2` has expectation (``sympy.stats``)
    :math:`pq\sum_j(\beta_j^2 + \sigma^2/n)x_j^2 \to pq\sum_j\beta_j^2x_j^2 > 0`: it does **not**
    shrink with data. ``beta``, ``x`` equal lengths :math:`\le` ``MAX_ENSEMBLE_UNITS``.
    """
    nv = dim(n, "n")
    pv, s2 = _drop(p), _positive(sigma2, "sigma2")
    bs, xs = _vector(beta, "beta", MAX_ENSEMBLE_UNITS), _vector(x, "x", MAX_ENSEMBLE_UNITS)
    if len(bs) != len(xs):
        raise ValueError(f"x must have {len(bs)} entries (as many as beta), got {len(xs)}")
    q = 1 - pv
    syms = sympy.symbols(f"eta0:{len(bs)}", real=True)
    rvs = {s: Normal(f"eta{i}", 0, sympy.sqrt(s2 / nv)) for i, s in enumerate(syms)}
    what = [q * (b + s) for b, s in zip(bs, syms, strict=True)]
    var = pv / q * sum(wj**2 * xj**2 for wj, xj in zip(what, xs, strict=True))
    return sympy.factor(sympy.simplify(_expect(var, rvs)))


# Stochastic depth -------------------------------------------------------------------------


def _schedule_args(num_blocks: object, schedule: object, drop_rate: object) -> tuple:
    sched = _choice(schedule, "schedule", SCHEDULES)
    d = real(drop_rate, "drop_rate", lower=0, upper=1)
    return sched, d


def survival_schedule(num_blocks: int, schedule: str, drop_rate: object) -> list[sympy.Expr]:
    r"""Survival probabilities of the residual branches :math:`1..N` under a stochastic-depth
    schedule, ``drop_rate`` :math:`d` in [0, 1] being each schedule's *drop* parameter:

    * ``"constant"``: :math:`1 - d` for every block (Huang et al.'s uniform rule);
    * ``"linear"`` (Huang et al. 2016, eq. 4): :math:`p_l = 1 - \frac lL(1 - p_L)`,
      :math:`l = 1..L`, with :math:`p_L = 1 - d` (the paper's :math:`p_L = 0.5` is
      :math:`d = 1/2`);
    * ``"convnext"`` (torchvision ``ConvNeXt``): block :math:`i = 0..N-1` drops with
      :math:`d\,i/(N-1)` (:math:`N = 1` refused: torchvision divides by zero);
    * ``"efficientnet"`` (torchvision ``EfficientNet``): :math:`d\,i/N`;
    * ``"timm"`` (``torch.linspace(0, d, N)``): :math:`d\,i/(N-1)`, and :math:`[0]` for
      :math:`N = 1`.

    ``num_blocks`` an integer in ``[1, MAX_ITEMS]``.
    """
    n = int(bounded(int_dim(num_blocks, "num_blocks", 1), "num_blocks"))
    sched, d = _schedule_args(num_blocks, schedule, drop_rate)
    if sched == "constant":
        return [1 - d] * n
    if sched == "linear":
        return [1 - sympy.Rational(l_, n) * d for l_ in range(1, n + 1)]
    if sched == "efficientnet":
        return [1 - sympy.Rational(i, n) * d for i in range(n)]
    if n == 1:
        if sched == "convnext":
            raise ValueError(
                "num_blocks must be >= 2 for schedule 'convnext' (torchvision divides by "
                "total_stage_blocks - 1), got 1"
            )
        return [sympy.Integer(1)]
    return [1 - sympy.Rational(i, n - 1) * d for i in range(n)]


def expected_active_blocks(num_blocks: Dim, schedule: str, drop_rate: object) -> sympy.Expr:
    r"""Expected number of residual branches computed in one training pass,
    :math:`\sum_l p_l`, in closed form (:func:`derive_expected_depth`):

    ``constant`` :math:`N(1-d)`; ``linear`` :math:`N - d(N+1)/2` (Huang's 110-layer ResNet,
    :math:`L = 54`, :math:`d = 1/2`: :math:`161/4 = 40.25`); ``convnext`` :math:`N(1 - d/2)`;
    ``efficientnet`` :math:`N - d(N-1)/2`; ``timm`` as ``convnext`` (1 for :math:`N = 1`).
    ``num_blocks`` an integer :math:`\ge 1` or a SymPy expression; ``drop_rate`` in [0, 1].
    It is also the expected number of non-identity Jacobian factors in the backward pass.
    """
    n = dim(num_blocks, "num_blocks", 1)
    sched, d = _schedule_args(num_blocks, schedule, drop_rate)
    if sched == "convnext" and n == 1:
        survival_schedule(1, "convnext", d)  # raises, naming num_blocks
    if sched == "timm" and n == 1:
        return sympy.Integer(1)
    closed = {
        "constant": n * (1 - d),
        "linear": n - d * (n + 1) / 2,
        "convnext": n * (1 - d / 2),
        "timm": n * (1 - d / 2),
        "efficientnet": n - d * (n - 1) / 2,
    }[sched]
    return sympy.expand(closed)


def expected_compute_fraction(
    num_blocks: Dim, schedule: str, drop_rate: object, skips_dropped: bool = True
) -> sympy.Expr:
    r"""Expected fraction of the residual branches' forward compute spent per training pass.

    ``skips_dropped=True`` (Huang et al.'s implementation, one draw per mini-batch, a dropped
    block not evaluated): :func:`expected_active_blocks` / :math:`N` (equal-cost blocks;
    Huang's 110-layer ResNet: :math:`161/216 \approx 0.745`). ``False`` (torchvision's
    ``stochastic_depth`` in both modes computes the branch and multiplies it by the mask; timm's
    ``DropPath`` likewise): 1 — no saving. Arguments as :func:`expected_active_blocks`.
    """
    skips = flag(skips_dropped, "skips_dropped")
    active = expected_active_blocks(num_blocks, schedule, drop_rate)
    if not skips:
        return sympy.Integer(1)
    return sympy.simplify(active / dim(num_blocks, "num_blocks", 1))


def active_blocks_distribution(survivals: Sequence[object]) -> dict[int, sympy.Expr]:
    r"""Exact distribution of the number of surviving branches (Poisson-binomial): ``{k:
    P(K = k)}`` for independent survivals with the given probabilities (each in [0, 1]).
    At most ``MAX_BLOCKS_DISTRIBUTION = 512`` blocks (an :math:`O(N^2)` convolution)."""
    if isinstance(survivals, TEXT) or not isinstance(survivals, Sequence):
        raise TypeError(f"survivals must be a sequence of probabilities, got {survivals!r}")
    bounded(len(survivals), "survivals", 512)
    dist = [sympy.Integer(1)]
    for i, s in enumerate(survivals):
        pv = real(s, f"survivals[{i}]", lower=0, upper=1)
        new = [sympy.Integer(0)] * (len(dist) + 1)
        for k, v in enumerate(dist):
            new[k] += v * (1 - pv)
            new[k + 1] += v * pv
        dist = [sympy.expand(v) for v in new]
    return dict(enumerate(dist))


# DropBlock --------------------------------------------------------------------------------


def _block_args(keep_prob, block_size, height, width):
    keep = _open_unit(keep_prob, "keep_prob")
    bs = int_dim(block_size, "block_size")
    if bs > MAX_DROPBLOCK_SIZE:
        raise ValueError(f"block_size must be at most {MAX_DROPBLOCK_SIZE}, got {bs}")
    h = int_dim(height, "height")
    w = int_dim(width, "width")
    bounded(h * w, "height*width")
    if bs > h:
        raise ValueError(f"block_size must be at most height ({h}) (the block must fit), got {bs}")
    if bs > w:
        raise ValueError(f"block_size must be at most width ({w}) (the block must fit), got {bs}")
    return keep, bs, h, w


def dropblock_gamma(keep_prob: object, block_size: int, height: int, width: int) -> sympy.Expr:
    r"""DropBlock's seed rate (Ghiasi et al. 2018, eq. 1, generalized to :math:`H\times W` as
    torchvision's ``drop_block2d``): :math:`\gamma = \frac{1 - \text{keep}}{b^2}
    \frac{HW}{(H-b+1)(W-b+1)}`, block seeds sampled only where the block fits.

    ``keep_prob`` in (0, 1) (torchvision's ``p`` is :math:`1 - \text{keep}`), ``block_size``
    :math:`b` an integer in :math:`[1, \min(H, W)]`, at most ``MAX_DROPBLOCK_SIZE``;
    ``height``, ``width`` integers :math:`\ge 1` with :math:`HW \le` ``MAX_ITEMS``. Always
    :math:`\gamma \le 1 - \text{keep} < 1`: :math:`b(S-b+1) \ge S` on each axis
    (:math:`b(S-b+1) - S = (b-1)(S-b) \ge 0`), with equality iff :math:`b = 1` or
    :math:`b = S`.
    """
    keep, bs, h, w = _block_args(keep_prob, block_size, height, width)
    return (1 - keep) / bs**2 * sympy.Rational(h * w, (h - bs + 1) * (w - bs + 1))


def dropblock_coverage(size: int, block_size: int) -> list[int]:
    r"""How many valid block positions cover each index :math:`i = 0..S-1` along one axis:
    :math:`c(i) = \min(i, S-b) - \max(0, i-b+1) + 1` (blocks occupy :math:`[a, a+b-1]`,
    :math:`0 \le a \le S-b`; for odd :math:`b` this is torchvision's centred geometry). The
    counts sum to :math:`b(S-b+1)`; a pixel's count is :math:`c_H(i)c_W(j)`. ``size`` an integer
    in ``[1, MAX_ITEMS]``, ``block_size`` in ``[1, size]``."""
    s = int(bounded(int_dim(size, "size"), "size"))
    bs = int_dim(block_size, "block_size")
    if bs > s:
        raise ValueError(f"block_size must be at most size ({s}), got {bs}")
    return [min(i, s - bs) - max(0, i - bs + 1) + 1 for i in range(s)]


def dropblock_drop_probability(
    keep_prob: object, block_size: int, height: int, width: int
) -> sympy.Matrix:
    r"""Exact per-pixel drop probability :math:`1 - (1-\gamma)^{c_H(i)c_W(j)}` (independent
    seeds; :func:`dropblock_gamma`, :func:`dropblock_coverage`) as an :math:`H\times W` matrix.
    Corners :math:`\gamma`, interior (:math:`b - 1` away from every border)
    :math:`1 - (1-\gamma)^{b^2}`. Arguments as :func:`dropblock_gamma`, with :math:`HW \le
    65536` (the matrix is built entry by entry)."""
    keep, bs, h, w = _block_args(keep_prob, block_size, height, width)
    bounded(h * w, "height*width", 65536)
    g = dropblock_gamma(keep, bs, h, w)
    ch, cw = dropblock_coverage(h, bs), dropblock_coverage(w, bs)
    powers: dict[int, sympy.Expr] = {}
    out = sympy.zeros(h, w)
    for i in range(h):
        for j in range(w):
            c = ch[i] * cw[j]
            if c not in powers:
                powers[c] = 1 - (1 - g) ** c
            out[i, j] = powers[c]
    return out


def _coverage_histogram(size: int, bs: int) -> dict[int, int]:
    hist: dict[int, int] = {}
    for c in dropblock_coverage(size, bs):
        hist[c] = hist.get(c, 0) + 1
    return hist


def dropblock_expected_fraction(
    keep_prob: object, block_size: int, height: int, width: int, gamma: object = None
) -> sympy.Expr:
    r"""Exact expected fraction of pixels dropped: :math:`\frac1{HW}\sum_{i,j}\big(1 -
    (1-\gamma)^{c_H(i)c_W(j)}\big)`, grouped by coverage counts (at most :math:`b^2` distinct
    terms). With the default ``gamma=None`` DropBlock's :math:`\gamma`
    (:func:`dropblock_gamma`); it is **below** the requested :math:`1 - \text{keep}` whenever
    :math:`b \ge 2` (:func:`derive_dropblock_fraction`). A given ``gamma`` in [0, 1] is used
    instead. Arguments as :func:`dropblock_gamma`.
    """
    keep, bs, h, w = _block_args(keep_prob, block_size, height, width)
    g = dropblock_gamma(keep, bs, h, w) if gamma is None else real(gamma, "gamma", 0, 1)
    hh, hw = _coverage_histogram(h, bs), _coverage_histogram(w, bs)
    total = sympy.Integer(0)
    for a, na in hh.items():
        for b, nb in hw.items():
            total += na * nb * (1 - (1 - g) ** (a * b))
    return sympy.nsimplify(total / (h * w)) if total.is_Float else total / (h * w)


def dropblock_pair_covariance(
    keep_prob: object,
    block_size: int,
    height: int,
    width: int,
    pixel_a: Sequence[int],
    pixel_b: Sequence[int],
) -> sympy.Expr:
    r"""Exact covariance of the drop indicators of two pixels under DropBlock (independent
    seeds at rate :func:`dropblock_gamma` on the valid block positions): with :math:`C_a` the
    set of block positions covering pixel :math:`a`,
    :math:`P(a\text{ kept}) = (1-\gamma)^{|C_a|}` and :math:`P(a, b\text{ kept}) =
    (1-\gamma)^{|C_a\cup C_b|}`, so :math:`\operatorname{Cov} = (1-\gamma)^{|C_a\cup C_b|} -
    (1-\gamma)^{|C_a| + |C_b|}`: positive exactly when some block covers both (row and column
    distances below ``block_size``), 0 otherwise — whereas element-wise dropout's indicators
    are uncorrelated (covariance 0) for distinct pixels. ``pixel_a``, ``pixel_b`` pairs
    ``(row, column)`` inside the map; other arguments as :func:`dropblock_gamma`."""
    keep, bs, h, w = _block_args(keep_prob, block_size, height, width)
    g = dropblock_gamma(keep, bs, h, w)

    def pixel(value: object, name: str) -> tuple[int, int]:
        if isinstance(value, TEXT) or not isinstance(value, Sequence) or len(value) != 2:
            raise TypeError(f"{name} must be a pair (row, column) of integers, got {value!r}")
        i, j = int_dim(value[0], f"{name}[0]", 0), int_dim(value[1], f"{name}[1]", 0)
        if i >= h or j >= w:
            raise ValueError(f"{name} must lie inside the {h}x{w} map, got {(i, j)}")
        return i, j

    (ai, aj), (bi, bj) = pixel(pixel_a, "pixel_a"), pixel(pixel_b, "pixel_b")

    def span(i: int, size: int) -> range:  # block positions a with a <= i <= a + bs - 1
        return range(max(0, i - bs + 1), min(i, size - bs) + 1)

    rows_a, cols_a, rows_b, cols_b = span(ai, h), span(aj, w), span(bi, h), span(bj, w)
    n_a, n_b = len(rows_a) * len(cols_a), len(rows_b) * len(cols_b)
    common = len(set(rows_a) & set(rows_b)) * len(set(cols_a) & set(cols_b))
    return sympy.expand((1 - g) ** (n_a + n_b - common) - (1 - g) ** (n_a + n_b))


def dropblock_matching_gamma(
    keep_prob: object, block_size: int, height: int, width: int
) -> sympy.Expr:
    r"""The seed rate :math:`\gamma^*` whose expected dropped fraction equals the request
    :math:`1 - \text{keep}` exactly: :math:`1 - u^*` with :math:`u^*` the unique root in (0, 1) of
    :math:`\sum_{a,b} n_H(a)n_W(b)u^{ab} = \text{keep}\cdot HW` (strictly increasing in
    :math:`u`; at :math:`u = 0` the left side is 0, at :math:`u = 1` it is :math:`HW`). For a
    rational ``keep_prob`` the root is exact (``sympy.CRootOf``, evaluable to any precision);
    :math:`\gamma^* > \gamma` when :math:`b \ge 2` and :math:`(H-b+1)(W-b+1) > 1`. Arguments
    as :func:`dropblock_gamma` (a float ``keep_prob`` is converted to the nearest rational)."""
    keep, bs, h, w = _block_args(keep_prob, block_size, height, width)
    if keep.is_Float:
        keep = sympy.nsimplify(keep, rational=True)
    if not keep.is_Rational:
        raise TypeError(f"keep_prob must be a number here (a root is found), got {keep_prob!r}")
    u = sympy.Dummy("u")
    hh, hw = _coverage_histogram(h, bs), _coverage_histogram(w, bs)
    poly = sum(na * nb * u ** (a * b) for a, na in hh.items() for b, nb in hw.items())
    poly = sympy.Poly(poly - keep * h * w, u)
    roots = [r for r in poly.real_roots() if 0 < r < 1]
    if len(roots) != 1:  # pragma: no cover - monotone, so exactly one
        raise ValueError(f"keep_prob {keep_prob!r}: expected one root in (0, 1), got {roots}")
    return 1 - roots[0]


# 002 review question 7 ---------------------------------------------------------------------


def log_law_rate(capacity: object, data_size: object, scale: object = 1) -> sympy.Expr:
    r"""002's answer read as an equation: :math:`p = c\log(\text{capacity}/\text{data size})`
    with constant ``scale`` :math:`c > 0`. Negative whenever capacity < data size and
    :math:`> 1` once the ratio exceeds :math:`e^{1/c}` — not a probability
    (:func:`derive_log_law`). ``capacity``, ``data_size`` reals > 0."""
    cap, data = _positive(capacity, "capacity"), _positive(data_size, "data_size")
    c = _positive(scale, "scale")
    return c * sympy.log(cap / data)


def ridge_bayes_risk(p: object, n: object, d: object, sigma2: object, alpha2: object) -> sympy.Expr:
    r"""Bayes risk :math:`\mathbb E\|\hat\beta - \beta\|^2` of inverted-dropout linear regression
    (= ridge with :math:`\lambda = np/q`, :math:`\hat\beta = qX^\top y/n`) in the model of
    :func:`bayes_predictive_variance` (orthogonal design :math:`X^\top X = nI`,
    :math:`\beta\sim\mathcal N(0, \frac{\alpha^2}dI_d)`, noise :math:`\sigma^2`):
    :math:`p^2\alpha^2 + q^2 d\sigma^2/n`. ``p`` the drop probability in [0, 1)."""
    pv = _drop(p)
    nv, dv = dim(n, "n"), dim(d, "d")
    s2, a2 = _positive(sigma2, "sigma2"), _positive(alpha2, "alpha2")
    return sympy.expand(pv**2 * a2 + (1 - pv) ** 2 * dv * s2 / nv)


def optimal_dropout_rate(n: object, d: object, sigma2: object, alpha2: object) -> sympy.Expr:
    r"""The drop probability minimizing :func:`ridge_bayes_risk`:
    :math:`p^* = \frac{\sigma^2 d}{\sigma^2 d + n\alpha^2}` (equivalently the Bayes-optimal
    ridge :math:`\lambda = \sigma^2 d/\alpha^2 = np^*/q^*`): in (0, 1), increasing in
    :math:`d/n` and :math:`\sigma^2`, not :math:`\propto\log(d/n)` (:func:`derive_optimal_rate`).
    ``n``, ``d`` integers :math:`\ge 1` or symbols; ``sigma2``, ``alpha2`` > 0."""
    nv, dv = dim(n, "n"), dim(d, "d")
    s2, a2 = _positive(sigma2, "sigma2"), _positive(alpha2, "alpha2")
    return sympy.simplify(s2 * dv / (s2 * dv + nv * a2))


# Derivations ------------------------------------------------------------------------------

_P = sympy.Symbol("p", positive=True)
_Y = sympy.Symbol("y", real=True)


def _eq(lhs: object, rhs: object) -> sympy.Basic:
    return sympy.Eq(sympy.sympify(lhs), sympy.sympify(rhs), evaluate=False)


def derive_mask_literal() -> Derivation:
    r"""``000``'s mask read literally: :math:`r\sim\mathrm{Bernoulli}(p)` with :math:`p` the
    dropout (drop) probability, :math:`\tilde y = y/(1-p)` when :math:`r = 1`:
    :math:`\mathbb E[\tilde y] = \frac{p}{1-p}y \ne y` (e.g. :math:`p = 1/5`: :math:`y/4`).
    ``claimed`` :math:`y` (the stated purpose of the factor), ``derived``
    :math:`\frac p{1-p}y`: not equal; they agree only at :math:`p = 1/2`."""
    r = Bernoulli("r", _P)
    derived = sympy.simplify(expectation(r * _Y / (1 - _P)))
    steps = (
        Step(
            "Literal reading: $P(r = 1) = p$ (the drop probability), kept when $r = 1$:",
            _eq(sympy.Symbol(r"\mathbb{E}[\tilde y]"), derived),
        ),
        Step(
            "At $p = 1/5$ (a common rate) this is $y/4$; it equals $y$ only when "
            "$p/(1-p) = 1$, i.e. $p = 1/2$. The mask must be $r\\sim\\mathrm{Bernoulli}(1-p)$.",
            _eq(derived.subs(_P, sympy.Rational(1, 5)), _Y / 4),
        ),
    )
    return Derivation(
        "000's mask read literally",
        steps,
        claimed=_Y,
        derived=derived,
        scope="proved (for all p in (0, 1))",
    )


def derive_inference_line() -> Derivation:
    r"""``000``'s line :math:`(1-p)\cdot 0 + p\cdot\frac{y}{1-p} = y`: the left side is
    :math:`\frac{p}{1-p}y`, equal to :math:`y` (for :math:`y \ne 0`) only at :math:`p = 1/2`
    (``sympy.solve``: the only solution). ``claimed`` :math:`y`, ``derived`` the left side."""
    lhs = (1 - _P) * 0 + _P * _Y / (1 - _P)
    sols = sympy.solve(sympy.Eq(lhs, _Y), _P)
    correct = _P * 0 + (1 - _P) * _Y / (1 - _P)
    steps = (
        Step(
            "000's left side (weights $1-p$ on the dropped value 0, $p$ on the kept "
            "value — swapped):",
            _eq(sympy.Symbol("LHS"), sympy.simplify(lhs)),
        ),
        Step(
            "Setting it equal to $y$ ($y \\ne 0$) and solving for $p$ gives the only solution:",
            _eq(_P, sols[0]),
        ),
        Step(
            "Correct (drop with probability $p$, keep with $1-p$): $p\\cdot 0 + "
            "(1-p)\\,y/(1-p) = y$ for every $p \\in [0, 1)$:",
            _eq(sympy.Symbol("E"), sympy.simplify(correct)),
        ),
    )
    return Derivation(
        "000's inference expectation",
        steps,
        claimed=_Y,
        derived=sympy.simplify(lhs),
        scope=f"proved; solutions of LHS = y: {sols}",
    )


def derive_inverted_moments() -> Derivation:
    r"""Inverted dropout (torch): :math:`\tilde y = ry/q`, :math:`r\sim\mathrm{Bernoulli}(q)`,
    :math:`q = 1 - p`: :math:`\mathbb E = y`, :math:`\operatorname{Var} = \frac pq y^2`;
    inference is the identity. ``claimed`` :math:`y`, ``derived`` ``sympy.stats``' mean."""
    q = 1 - _P
    mean, var = dropout_moments(_Y, _P)
    steps = (
        Step(
            "Mask $r\\sim\\mathrm{Bernoulli}(1-p)$ (kept), output $r y/(1-p)$; by sympy.stats:",
            _eq(sympy.Symbol(r"\mathbb{E}[\tilde y]"), _P * 0 + q * _Y / q),
        ),
        Step(
            "Its variance (a multiplicative noise of variance $p/(1-p)$):",
            _eq(sympy.Symbol(r"\mathrm{Var}[\tilde y]"), var),
        ),
        Step(
            "So the network at inference needs no rescaling: the identity reproduces the "
            "training mean (torch's nn.Dropout in eval mode)."
        ),
    )
    return Derivation("Inverted dropout: mean and variance", steps, claimed=_Y, derived=mean)


def derive_classic_moments() -> Derivation:
    r"""Classic dropout (Srivastava et al. 2014): training :math:`\tilde y = ry`, mean
    :math:`qy`, variance :math:`pq\,y^2`; inference multiplies by :math:`q` ("all neurons active
    but outputs scaled" holds in this convention only). ``claimed`` the inference output
    :math:`qy`, ``derived`` the training mean."""
    q = 1 - _P
    mean, var = dropout_moments(_Y, _P, scaling="classic")
    steps = (
        Step(
            "Training output $r y$ without scaling: mean and variance by sympy.stats:",
            _eq(sympy.Symbol(r"\mathbb{E}[\tilde y]"), mean),
        ),
        Step("Variance:", _eq(sympy.Symbol(r"\mathrm{Var}[\tilde y]"), var)),
        Step(
            "Inference with all units matches the mean only if outputs (equivalently "
            "outgoing weights) are multiplied by the keep probability $1-p$; in the inverted "
            "convention (000's training formula, torch) inference is the identity instead."
        ),
    )
    return Derivation("Classic dropout: scale at inference", steps, claimed=q * _Y, derived=mean)


def derive_keep_convention() -> Derivation:
    r"""``002``'s model :math:`r\sim\mathrm{Bernoulli}(p)`, :math:`y = r\odot x/p` has
    :math:`p` = **keep** probability: :math:`\mathbb E[y] = x`, :math:`\operatorname{Var} =
    \frac{1-p}{p}x^2`. ``claimed`` :math:`x`, ``derived`` ``sympy.stats``' mean."""
    k = sympy.Symbol("p", positive=True)  # 002's p: keep probability
    x = sympy.Symbol("x", real=True)
    mean, var = dropout_moments(x, k, convention="keep")
    steps = (
        Step(
            "002: $r\\sim\\mathrm{Bernoulli}(p)$, $y = r x/p$ — here $p$ is the KEEP "
            "probability (000 and torch: drop probability). By sympy.stats:",
            _eq(sympy.Symbol(r"\mathbb{E}[y]"), mean),
        ),
        Step("Variance:", _eq(sympy.Symbol(r"\mathrm{Var}[y]"), var)),
        Step("Inference $y = x$ matches the training mean (the scaling is done in training)."),
    )
    return Derivation("002's model (keep convention)", steps, claimed=x, derived=mean)


def derive_dropconnect_moments() -> Derivation:
    r"""DropConnect (inverted) on a symbolic :math:`2\times 2` layer: mean :math:`Wx`,
    :math:`\operatorname{Var}[(\tilde Wx)_i] = \frac pq\sum_j W_{ij}^2x_j^2`, covariance 0
    between outputs; dropout on :math:`x` gives the same variances and covariance
    :math:`\frac pq\sum_j W_{ij}W_{kj}x_j^2`. Exhaustive over the :math:`2^4` weight masks.
    ``claimed`` the stated variance of output 0, ``derived`` the enumeration's."""
    w = sympy.Matrix(2, 2, sympy.symbols("W11 W12 W21 W22", real=True))
    x = sympy.Matrix(sympy.symbols("x1 x2", real=True))
    q = 1 - _P
    mean = sympy.zeros(2, 1)
    second = sympy.zeros(2, 2)
    for mask in all_masks(4):
        pr = _mask_prob(mask, q)
        wt = sympy.Matrix(2, 2, [m * v / q for m, v in zip(mask, w, strict=True)])
        out = wt * x
        mean += pr * out
        second += pr * out * out.T
    mean = sympy.simplify(mean)
    cov = (second - mean * mean.T).applyfunc(sympy.factor)
    claimed = _P / q * (w[0, 0] ** 2 * x[0] ** 2 + w[0, 1] ** 2 * x[1] ** 2)
    _, dcov = dropout_linear_moments(w, list(x), _P)
    steps = (
        Step(
            "Mean over the 16 weight masks (each entry kept with $1-p$, scaled by $1/(1-p)$):",
            _eq(sympy.Symbol(r"\mathbb{E}[\tilde W x]"), mean),
        ),
        Step(
            "Covariance (diagonal: independent masks per row):",
            _eq(sympy.Symbol(r"\mathrm{Cov}[\tilde W x]"), cov),
        ),
        Step(
            "Dropout on the inputs instead (one mask per input shared by both rows): "
            "same variances, correlated outputs:",
            _eq(sympy.Symbol(r"\mathrm{Cov}[W(r\odot x)/(1-p)]"), dcov),
        ),
    )
    return Derivation(
        "DropConnect moments",
        steps,
        claimed=claimed,
        derived=cov[0, 0],
        scope="proved for a symbolic 2x2 layer by enumerating all 16 masks",
    )


def derive_weight_scaling_linear(num_units: int = 3) -> Derivation:
    r"""For an output affine in the dropped units, :math:`z_r = W(r\odot x)/q + b`, the
    arithmetic mean over all :math:`2^n` masks equals the weight-scaled network :math:`Wx + b`,
    for symbolic :math:`W` (:math:`2\times n`), :math:`x`, :math:`b` and keep probability
    :math:`q`. General argument: :math:`\mathbb E` is linear and :math:`\mathbb E[r_i/q] = 1`.
    ``num_units`` an integer in [1, 3]."""
    n = int_dim(num_units, "num_units")
    if n > 3:
        raise ValueError(f"num_units must be in [1, 3] (symbolic enumeration), got {n}")
    q = sympy.Symbol("q", positive=True)
    w = sympy.Matrix(2, n, sympy.symbols(f"w1:3_1:{n + 1}", real=True))
    x = sympy.symbols(f"x1:{n + 1}", real=True)
    b = sympy.symbols("b1:3", real=True)
    res = ensemble_predictions(w, list(x), q, "identity", list(b))
    arith = res["arithmetic"].applyfunc(lambda v: sympy.factor(sympy.expand(v)))
    ws = res["weight_scaling"]
    steps = (
        Step(
            f"All $2^{n}$ masks $r$, probability $q^{{|r|}}(1-q)^{{{n}-|r|}}$; each "
            "sub-network $z_r = W(r\\odot x)/q + b$. The arithmetic mean:",
            _eq(sympy.Symbol(r"\sum_r P(r) z_r"), arith),
        ),
        Step("equals the weight-scaled network:", _eq(sympy.Symbol("Wx + b"), ws)),
        Step(
            "In general (any $n$, any mask distribution with $\\mathbb E[r_i] = q$): "
            "$z_r$ is affine in $r$, so $\\mathbb E_r[z_r] = W\\,\\mathbb E[r\\odot x]/q + b "
            "= Wx + b$; a further affine layer keeps it exact, a nonlinearity does not."
        ),
    )
    return Derivation(
        "Weight scaling = arithmetic ensemble mean (affine output)",
        steps,
        claimed=ws[0] + 2 * ws[1],
        derived=arith[0] + 2 * arith[1],
        scope=f"proved symbolically for n = {n} units (all masks), general q",
    )


def _softmax_logodds(n: int, classes: int):
    q = sympy.Symbol("q", positive=True)
    w = sympy.Matrix(classes, n, sympy.symbols(f"w1:{classes + 1}_1:{n + 1}", real=True))
    x = sympy.Matrix(sympy.symbols(f"x1:{n + 1}", real=True))
    b = sympy.Matrix(sympy.symbols(f"b1:{classes + 1}", real=True))
    logs = sympy.zeros(classes, 1)  # log of the unnormalized geometric mean, class by class
    for mask in all_masks(n):
        pr = _mask_prob(mask, q)
        z = w * sympy.Matrix([m * v for m, v in zip(mask, x, strict=True)]) / q + b
        lse = sympy.log(sum(sympy.exp(v) for v in z))
        logs += pr * (z - sympy.ones(classes, 1) * lse)  # log softmax = z - logsumexp(z)
    return w, x, b, q, logs


def derive_weight_scaling_softmax(num_units: int = 2) -> Derivation:
    r"""For a softmax layer directly after dropout, the normalized weighted geometric mean
    (weights :math:`P(r)`) of the sub-networks equals :math:`\operatorname{softmax}(Wx + b)`:
    :math:`\log\prod_r s_k(z_r)^{P(r)} = \mathbb E_r[z_{r,k}] - \mathbb E_r[\operatorname{LSE}
    (z_r)]`, the second term is the same for every class and cancels in the normalization,
    and :math:`\mathbb E_r z_r = Wx + b`. Symbolic :math:`W` (2 classes), :math:`x`, :math:`b`,
    keep :math:`q`; ``claimed`` the log-odds of :math:`\operatorname{softmax}(Wx+b)`,
    ``derived`` the NWGM's. ``num_units`` an integer in [1, 3]."""
    n = int_dim(num_units, "num_units")
    if n > 3:
        raise ValueError(f"num_units must be in [1, 3] (symbolic enumeration), got {n}")
    w, x, b, _q, logs = _softmax_logodds(n, 2)
    derived = sympy.expand(logs[1] - logs[0])
    zbar = w * x + b
    claimed = sympy.expand(zbar[1] - zbar[0])
    steps = (
        Step(
            "Each sub-network's log-probabilities $\\log s_k(z_r) = z_{r,k} - "
            "\\log\\sum_j e^{z_{r,j}}$; the weighted geometric mean's logarithm is "
            "$\\sum_r P(r)\\log s_k(z_r)$."
        ),
        Step(
            "Its class-1 minus class-0 difference (the normalization cancels; the "
            "log-sum-exp terms are equal for both classes and cancel):",
            _eq(sympy.Symbol(r"\log\frac{\mathrm{NWGM}_1}{\mathrm{NWGM}_0}"), derived),
        ),
        Step(
            "equals the weight-scaled network's log-odds $(Wx+b)_1 - (Wx+b)_0$, so "
            "NWGM = softmax(Wx + b) exactly (Baldi & Sadowski 2014; Hinton et al. 2012 at "
            "$q = 1/2$). The arithmetic mean differs in general.",
            _eq(sympy.Symbol(r"(Wx+b)_1 - (Wx+b)_0"), claimed),
        ),
    )
    return Derivation(
        "Weight scaling = NWGM (softmax after dropout)",
        steps,
        claimed=claimed,
        derived=derived,
        scope=f"proved symbolically for n = {n} units, 2 classes, general q",
    )


def derive_weight_scaling_sigmoid(num_units: int = 2) -> Derivation:
    r"""For a sigmoid output :math:`\sigma(z_r)`, :math:`z_r = w\cdot(r\odot x)/q + b`, the NWGM
    :math:`G/(G+G')` (:math:`G = \prod_r\sigma(z_r)^{P(r)}`, :math:`G' = \prod_r(1-\sigma(z_r))
    ^{P(r)}`) has log-odds :math:`\sum_r P(r)\,\mathrm{logit}\,\sigma(z_r) = \mathbb E_r z_r =
    w\cdot x + b`: it equals :math:`\sigma(w\cdot x + b)`. ``num_units`` an integer in [1, 3]."""
    n = int_dim(num_units, "num_units")
    if n > 3:
        raise ValueError(f"num_units must be in [1, 3] (symbolic enumeration), got {n}")
    q = sympy.Symbol("q", positive=True)
    w = sympy.symbols(f"w1:{n + 1}", real=True)
    x = sympy.symbols(f"x1:{n + 1}", real=True)
    b = sympy.Symbol("b", real=True)
    derived = sympy.Integer(0)
    for mask in all_masks(n):
        z = sum(wi * m * xi for wi, m, xi in zip(w, mask, x, strict=True)) / q + b
        sig = 1 / (1 + sympy.exp(-z))
        derived += _mask_prob(mask, q) * sympy.log(sympy.simplify(sig / (1 - sig)))
    derived = sympy.expand(derived)
    claimed = sympy.expand(sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b)
    steps = (
        Step(
            "$\\log(G/G') = \\sum_r P(r)\\,[\\log\\sigma(z_r) - \\log(1-\\sigma(z_r))]$ and "
            "$\\log\\sigma(z) - \\log(1 - \\sigma(z)) = z$; summed over all masks:",
            _eq(sympy.Symbol(r"\log\frac{G}{G'}"), derived),
        ),
        Step(
            "so $G/(G+G') = \\sigma(\\log(G/G')) = \\sigma(w\\cdot x + b)$, the weight-scaled "
            "network.",
            _eq(sympy.Symbol(r"w\cdot x + b"), claimed),
        ),
    )
    return Derivation(
        "Weight scaling = NWGM (sigmoid after dropout)",
        steps,
        claimed=claimed,
        derived=derived,
        scope=f"proved symbolically for n = {n} units, general q",
    )


def derive_ensemble_gap() -> Derivation:
    r"""A nonlinearity between dropout and the output breaks weight scaling, with an unbounded
    gap: one unit :math:`x = t > 0`, keep :math:`q = 1/2`, :math:`f_r = \operatorname{relu}(2t r
    - t)` (inverted dropout, then a bias :math:`-t` and a ReLU). Ensemble mean :math:`t/2`,
    weight scaling :math:`\operatorname{relu}(t - t) = 0`: gap :math:`t/2 \to\infty`; the
    arithmetic and geometric means are both :math:`\ne 0` only for the first. ``claimed``
    the weight-scaled output 0, ``derived`` the ensemble mean."""
    t = sympy.Symbol("t", positive=True)
    half = sympy.Rational(1, 2)
    relu = lambda v: sympy.Max(0, v)  # noqa: E731
    ens = half * relu(2 * t * 1 - t) + half * relu(2 * t * 0 - t)
    ws = relu(2 * t * half - t)
    steps = (
        Step(
            "Sub-networks: $r = 1$ gives $\\mathrm{relu}(t) = t$, $r = 0$ gives "
            "$\\mathrm{relu}(-t) = 0$, each with probability 1/2:",
            _eq(sympy.Symbol(r"\mathbb{E}_r f_r"), ens),
        ),
        Step(
            "Weight scaling evaluates the net at $\\mathbb E[2tr] = t$:",
            _eq(sympy.Symbol("f(\\mathbb{E} r)"), ws),
        ),
        Step(
            "The gap $t/2$ grows without bound in $t$: 'inference approximates the ensemble' "
            "needs the output to be affine (arithmetic mean) or a softmax/sigmoid directly "
            "after the dropped layer (geometric mean).",
            _eq(sympy.Symbol("gap"), ens - ws),
        ),
    )
    return Derivation(
        "Ensemble gap with a ReLU in between",
        steps,
        claimed=ws,
        derived=ens,
        scope="proved for every t > 0",
    )


def derive_arithmetic_vs_geometric() -> Derivation:
    r"""Arithmetic mean and NWGM differ: one input unit :math:`x = 1`, logit weight :math:`a`,
    keep :math:`1/2` with inverted scaling, so the sub-networks' logits are :math:`z_r = 2ar`,
    and a sigmoid output. Arithmetic mean :math:`(\sigma(2a) + 1/2)/2`, NWGM = weight scaling
    :math:`\sigma(a)`; at :math:`a = 1`: :math:`0.6904` vs :math:`0.7311`; as
    :math:`a\to\infty`: :math:`3/4` vs 1. ``claimed`` :math:`\sigma(a)`, ``derived`` the
    arithmetic mean (not equal)."""
    a = sympy.Symbol("a", positive=True)
    res = ensemble_predictions([[a]], [1], sympy.Rational(1, 2), "sigmoid")
    arith = sympy.simplify(res["arithmetic"][0])
    ws = res["weight_scaling"][0]
    steps = (
        Step(
            "Sub-networks $z = 2a$ ($r = 1$) and $z = 0$ ($r = 0$); arithmetic mean of $\\sigma$:",
            _eq(sympy.Symbol("A"), arith),
        ),
        Step("NWGM = weight scaling:", _eq(sympy.Symbol("G"), ws)),
        Step(
            "At $a = 1$ they are 0.6904 and 0.7311; for $a\\to\\infty$, 3/4 and 1.",
            _eq(
                sympy.Symbol(r"\lim_{a\to\infty}(A, G)"),
                sympy.Tuple(sympy.limit(arith, a, sympy.oo), sympy.limit(ws, a, sympy.oo)),
            ),
        ),
    )
    return Derivation(
        "Arithmetic mean vs NWGM", steps, claimed=ws, derived=arith, scope="proved for every a > 0"
    )


def derive_dropout_ridge(num_units: int = 3) -> Derivation:
    r"""Linear regression with inverted dropout on the inputs:
    :math:`\mathbb E_r[(y - w\cdot(r\odot x)/q)^2] = (y - w\cdot x)^2 + \frac pq\sum_iw_i^2x_i^2`
    (Srivastava et al. 2014 §9.1), and Gaussian noise :math:`\mathcal N(1, p/q)` gives the same
    (symbolic, ``sympy.stats``). ``claimed`` the ridge form, ``derived`` the Bernoulli
    expectation. ``num_units`` an integer in [1, 4]."""
    n = int_dim(num_units, "num_units")
    if n > 4:
        raise ValueError(f"num_units must be in [1, 4] (symbolic), got {n}")
    w = sympy.symbols(f"w1:{n + 1}", real=True)
    x = sympy.symbols(f"x1:{n + 1}", real=True)
    q = 1 - _P
    bern = dropout_expected_loss(list(w), list(x), _Y, _P)
    gauss = dropout_expected_loss(list(w), list(x), _Y, _P, noise="gaussian")
    claimed = (_Y - sum(a * b for a, b in zip(w, x, strict=True))) ** 2 + _P / q * sum(
        a**2 * b**2 for a, b in zip(w, x, strict=True)
    )
    steps = (
        Step(
            "Bernoulli masks, $\\mathbb E[r_i] = \\mathbb E[r_i^2] = 1-p$, independent "
            "(sympy.stats):",
            _eq(sympy.Symbol(r"\mathbb{E}_r L"), sympy.factor(bern)),
        ),
        Step(
            "Gaussian dropout $\\varepsilon_i\\sim\\mathcal N(1, p/(1-p))$ (same first two "
            "moments) gives the same expected loss:",
            _eq(sympy.Symbol(r"\mathbb{E}_\varepsilon L"), sympy.factor(gauss)),
        ),
        Step(
            "Both are the plain loss plus a data-dependent ridge penalty:",
            _eq(sympy.Symbol("L_{ridge}"), claimed),
        ),
    )
    return Derivation(
        "Dropout as a data-dependent ridge penalty",
        steps,
        claimed=claimed,
        derived=bern,
        scope=f"proved symbolically for n = {n} inputs",
    )


def derive_unbiased_gradient(num_units: int = 2) -> Derivation:
    r"""The one-mask gradient :math:`\nabla_w L(f_r)` is unbiased for
    :math:`\nabla_w\mathbb E_r L(f_r)`: :math:`\sum_r P(r)\nabla_w L_r = \nabla_w\sum_r P(r)
    L_r` exactly (a finite sum; the mask distribution does not depend on :math:`w`), checked
    for squared loss of a linear model with symbolic :math:`w, x, y, p`. ``claimed`` the
    gradient of the expected loss (first coordinate), ``derived`` the mean one-mask gradient.
    ``num_units`` an integer in [1, 3]."""
    n = int_dim(num_units, "num_units")
    if n > 3:
        raise ValueError(f"num_units must be in [1, 3] (symbolic enumeration), got {n}")
    w = sympy.symbols(f"w1:{n + 1}", real=True)
    x = sympy.symbols(f"x1:{n + 1}", real=True)
    q = 1 - _P
    mean_grad = sympy.Integer(0)
    expected = sympy.Integer(0)
    for mask in all_masks(n):
        pr = _mask_prob(mask, q)
        loss = (_Y - sum(a * m * b / q for a, m, b in zip(w, mask, x, strict=True))) ** 2
        mean_grad += pr * sympy.diff(loss, w[0])
        expected += pr * loss
    claimed = sympy.diff(expected, w[0])
    steps = (
        Step(
            "Mean over all masks of the one-mask gradient $\\partial L_r/\\partial w_1$:",
            _eq(sympy.Symbol(r"\mathbb{E}_r \partial_{w_1} L_r"), sympy.factor(mean_grad)),
        ),
        Step(
            "Gradient of the expected loss:",
            _eq(sympy.Symbol(r"\partial_{w_1}\mathbb{E}_r L_r"), sympy.factor(claimed)),
        ),
        Step("Equal: SGD with a fresh mask per step is SGD on $\\mathbb E_r L$."),
    )
    return Derivation(
        "One-mask gradients are unbiased",
        steps,
        claimed=claimed,
        derived=mean_grad,
        scope=f"proved by enumeration for n = {n} units",
    )


def derive_mc_dropout_variance() -> Derivation:
    r"""MC dropout's predictive variance vs the Bayesian posterior's, linear regression with
    orthogonal design :math:`X^\top X = nI`: the dropout-trained weights are :math:`\hat w =
    q(\beta + \eta)`, the MC variance :math:`\frac pq\sum_j\hat w_j^2x_j^2` has expectation
    :math:`pq\sum_j(\beta_j^2 + \sigma^2/n)x_j^2 \to pq\sum_j\beta_j^2x_j^2` (:math:`n\to\infty`,
    fixed :math:`p`), whereas the posterior variance of :math:`x^\top\beta` is
    :math:`\|x\|^2/(n/\sigma^2 + d/\alpha^2) \to 0`. ``claimed`` the Bayesian limit 0,
    ``derived`` the MC-dropout limit (one coordinate, :math:`d = 1`)."""
    n = sympy.Symbol("n", positive=True, integer=True)
    s2, a2, beta, x = sympy.symbols("sigma2 alpha2 beta x", positive=True)
    mc = mc_dropout_expected_variance(n, _P, s2, [beta], [x])
    bayes = bayes_predictive_variance(n, 1, s2, a2, x**2)
    mc_lim, bayes_lim = sympy.limit(mc, n, sympy.oo), sympy.limit(bayes, n, sympy.oo)
    steps = (
        Step(
            "Dropout objective = ridge with $\\lambda = np/(1-p)$, so $\\hat w = (1-p)X^\\top "
            "y/n$; expected MC-dropout variance at $x$ (sympy.stats over the noise):",
            _eq(sympy.Symbol(r"\mathbb{E}\,\mathrm{Var}_{MC}"), mc),
        ),
        Step(
            "Its limit as the data grow at fixed $p$ (does not shrink):",
            _eq(sympy.Symbol(r"\lim_{n\to\infty}"), mc_lim),
        ),
        Step(
            "Posterior variance of the mean prediction (prior $\\mathcal N(0, \\alpha^2)$, "
            "$d = 1$) and its limit:",
            _eq(sympy.Symbol(r"\mathrm{Var}_{post}"), bayes),
        ),
        Step(
            "which tends to 0 like $\\sigma^2x^2/n$. MC dropout is a variational "
            "approximation (Gal & Ghahramani 2016) whose spread is set by $p$, not by the "
            "amount of data.",
            _eq(sympy.Symbol(r"\lim_{n\to\infty}\mathrm{Var}_{post}"), bayes_lim),
        ),
    )
    return Derivation(
        "MC dropout vs Bayesian predictive variance",
        steps,
        claimed=bayes_lim,
        derived=mc_lim,
        scope="proved (d = 1; every coordinate alike)",
    )


def derive_expected_depth() -> Derivation:
    r"""Closed forms of :math:`\sum_l p_l` for the schedules of :func:`survival_schedule`,
    summed symbolically (``sympy.summation``); Huang's linear decay with :math:`p_L = 1/2`
    gives :math:`(3L - 1)/4`, :math:`161/4 = 40.25` of :math:`L = 54` blocks (110-layer ResNet).
    ``claimed`` Huang's :math:`(3L-1)/4`, ``derived`` the summation at :math:`d = 1/2`."""
    big_l = sympy.Symbol("L", positive=True, integer=True)
    d = sympy.Symbol("d", nonnegative=True)
    l_ = sympy.Symbol("l", integer=True)
    forms = {
        "linear": sympy.summation(1 - l_ / big_l * d, (l_, 1, big_l)),
        "convnext": sympy.summation(1 - l_ * d / (big_l - 1), (l_, 0, big_l - 1)),
        "efficientnet": sympy.summation(1 - l_ * d / big_l, (l_, 0, big_l - 1)),
        "constant": sympy.summation(1 - d, (l_, 1, big_l)),
    }
    forms = {k: sympy.factor(sympy.simplify(v)) for k, v in forms.items()}
    huang = sympy.expand(forms["linear"].subs(d, sympy.Rational(1, 2)))
    per_schedule = tuple(
        Step(
            f"Schedule '{k}' ($d$ = its drop parameter, $L$ blocks):",
            _eq(sympy.Symbol(r"\sum_l p_l"), v),
        )
        for k, v in forms.items()
    )
    steps = (
        *per_schedule,
        Step(
            "Huang et al.'s $p_L = 1/2$; for the 110-layer ResNet $L = 54$: 161/4 = 40.25 "
            "blocks on average, 74.5 % of the residual compute when dropped blocks are "
            "skipped.",
            _eq(sympy.Symbol(r"\mathbb{E}[\#active]"), huang),
        ),
    )
    return Derivation(
        "Expected depth under stochastic depth", steps, claimed=(3 * big_l - 1) / 4, derived=huang
    )


def derive_stochastic_depth_gradient() -> Derivation:
    r""":math:`y = x + bF(x)`, :math:`b\in\{0, 1\}`: :math:`\partial y/\partial x = 1 + bF'(x)`,
    exactly 1 (the identity) when the block is dropped; through :math:`L` blocks the product
    :math:`\prod_l(1 + b_lF_l')` has :math:`\sum_l b_l` non-identity factors, in expectation
    :math:`\sum_l p_l`. Needs an identity shortcut (a projection shortcut keeps its matrix).
    ``claimed`` 1, ``derived`` the derivative at :math:`b = 0`."""
    x, b = sympy.symbols("x b", real=True)
    f = sympy.Function("F")
    y = x + b * f(x)
    dy = sympy.diff(y, x)
    steps = (
        Step("Block with survival indicator $b$:", _eq(sympy.Symbol("y"), y)),
        Step("Its derivative:", _eq(sympy.Symbol(r"\partial y/\partial x"), dy)),
        Step(
            "At $b = 0$ the factor is exactly 1: the gradient passes unchanged, and the "
            "backward product has on average $\\sum_l p_l$ non-identity factors (shorter "
            "expected gradient paths).",
            _eq(sympy.Symbol(r"\partial y/\partial x|_{b=0}"), dy.subs(b, 0)),
        ),
    )
    return Derivation("Gradient through a dropped block", steps, claimed=1, derived=dy.subs(b, 0))


def derive_dropblock_fraction() -> Derivation:
    r"""DropBlock drops fewer pixels than requested: :math:`\sum_{i,j}c(i,j) = b^2(H-b+1)
    (W-b+1)`, so :math:`\sum_{i,j}\gamma c(i,j) = (1-\text{keep})HW`; by Bernoulli's inequality
    :math:`1 - (1-\gamma)^c \le c\gamma`, strict for :math:`c \ge 2`, :math:`\gamma > 0` — the
    fraction is below the request whenever some pixel is covered twice (:math:`b \ge 2` and
    more than one block position). Example keep :math:`0.9`, :math:`b = 7`, :math:`14\times 14`:
    exact fraction vs :math:`1/10`. ``claimed`` :math:`1/10`, ``derived`` the exact fraction."""
    keep = sympy.Rational(9, 10)
    g = dropblock_gamma(keep, 7, 14, 14)
    frac = dropblock_expected_fraction(keep, 7, 14, 14)
    c, gm = sympy.symbols("c gamma", positive=True)
    steps = (
        Step(
            "Coverage counts sum to $b^2(H-b+1)(W-b+1)$, so $\\gamma\\sum c = (1-keep)HW$; "
            "Bernoulli's inequality, strict for $c \\ge 2$:",
            sympy.Le(1 - (1 - gm) ** c, c * gm, evaluate=False),
        ),
        Step(
            "Ghiasi et al.'s $\\gamma$ for keep 0.9, $b = 7$, $14\\times 14$:",
            _eq(sympy.Symbol(r"\gamma"), g),
        ),
        Step(
            "Exact expected dropped fraction (requested 0.1): "
            f"{float(frac):.6f}; corner pixels are dropped with probability $\\gamma$, "
            "interior ones with $1 - (1-\\gamma)^{49}$.",
            _eq(sympy.Symbol("fraction"), sympy.Float(float(frac), 10)),
        ),
    )
    return Derivation(
        "DropBlock's actual drop rate",
        steps,
        claimed=1 - keep,
        derived=frac,
        scope="proved (inequality for all b, H, W); example exact",
    )


def derive_log_law() -> Derivation:
    r"""``002``'s :math:`p_{opt}\propto\log(\text{capacity}/\text{data size})`: for any constant
    :math:`c > 0`, :math:`c\log(1/2) < 0` (capacity half the data) and :math:`c\log(e^{2/c}) = 2
    > 1`; at capacity = data size it gives 0 whereas the linear-Gaussian optimum is
    :math:`\sigma^2/(\sigma^2 + \alpha^2)` (1/2 at :math:`\sigma^2 = \alpha^2`). ``claimed`` the
    log law at ratio 1, ``derived`` :math:`p^*` at :math:`d = n`, :math:`\sigma^2 = \alpha^2`."""
    c = sympy.Symbol("c", positive=True)
    half = log_law_rate(1, 2, c)
    big = sympy.simplify(log_law_rate(sympy.exp(2 / c), 1, c))
    at_one = log_law_rate(1, 1, c)
    nn = sympy.Symbol("n", positive=True, integer=True)
    pstar = optimal_dropout_rate(nn, nn, 1, 1)
    steps = (
        Step(
            "Capacity half the data size: a negative 'probability':",
            sympy.StrictLessThan(half, 0, evaluate=False),
        ),
        Step("Ratio $e^{2/c}$: a 'probability' of 2:", _eq(sympy.Symbol("p"), big)),
        Step(
            "At ratio 1 the law gives 0 for every $c$; the linear-Gaussian optimum "
            "(derive_optimal_rate) with $d = n$, $\\sigma^2 = \\alpha^2$ is:",
            _eq(sympy.Symbol("p^*"), pstar),
        ),
    )
    return Derivation(
        "002's log law for the optimal rate",
        steps,
        claimed=at_one,
        derived=pstar,
        scope="proved for every constant c > 0",
    )


def derive_optimal_rate() -> Derivation:
    r"""Minimize the Bayes risk :math:`R(p) = p^2\alpha^2 + (1-p)^2d\sigma^2/n`
    (:func:`ridge_bayes_risk`) over :math:`p`: :math:`R'(p) = 0` has the single solution
    :math:`p^* = \sigma^2d/(\sigma^2d + n\alpha^2)`, :math:`R'' > 0`; :math:`\partial p^*/\partial
    (d/n) > 0`, :math:`\partial p^*/\partial\sigma^2 > 0`. ``claimed`` the brief's formula,
    ``derived`` ``sympy.solve``'s root."""
    nn, dd, s2, a2 = sympy.symbols("n d sigma2 alpha2", positive=True)
    risk = ridge_bayes_risk(_P, nn, dd, s2, a2)
    sols = sympy.solve(sympy.diff(risk, _P), _P)
    root = sympy.simplify(sols[0])
    ratio = sympy.Symbol("rho", positive=True)  # d/n
    in_ratio = sympy.simplify(root.subs(dd, ratio * nn))
    claimed = s2 * dd / (s2 * dd + nn * a2)
    steps = (
        Step(
            "Dropout regression = ridge with $\\lambda = np/(1-p)$; its Bayes risk under "
            "$\\beta\\sim\\mathcal N(0, \\alpha^2/d\\, I)$, $X^\\top X = nI$:",
            _eq(sympy.Symbol("R(p)"), risk),
        ),
        Step(
            "$R'(p) = 0$ has one solution ($R'' = 2\\alpha^2 + 2d\\sigma^2/n > 0$):",
            _eq(sympy.Symbol("p^*"), root),
        ),
        Step(
            "In terms of $\\rho = d/n$: bounded in (0, 1), increasing in $\\rho$ and "
            "$\\sigma^2$ — a rational function, not a logarithm.",
            _eq(sympy.Symbol("p^*"), in_ratio),
        ),
        Step(
            "Derivatives in $\\rho$ and $\\sigma^2$ (both positive):",
            sympy.Tuple(
                sympy.factor(sympy.diff(in_ratio, ratio)), sympy.factor(sympy.diff(in_ratio, s2))
            ),
        ),
    )
    return Derivation(
        "Optimal dropout rate (linear-Gaussian, orthogonal design)",
        steps,
        claimed=claimed,
        derived=root,
    )
