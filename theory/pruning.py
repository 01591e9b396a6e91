r"""Pruning: how many weights torch's magnitude pruning removes, and what a structured channel
prune saves (000 § Hardware-Aware Layer Design, "Pruning-Aware Architectures").

* :func:`prune_count` — the number of entries ``torch.nn.utils.prune`` removes for an
  ``amount``: an ``int`` is taken literally, a ``float`` in :math:`[0, 1]` becomes
  :math:`\operatorname{round}(a\cdot n)` with Python's ``round`` (round half to **even**) of
  the float64 product (read in torch 2.13, ``torch/nn/utils/prune.py``:
  ``_compute_nparams_toprune`` and ``_validate_pruning_amount``).
* :func:`channel_prune_saving` — the exact parameter and MAC saving of removing :math:`c` of
  the :math:`C` output channels of a conv that feeds BatchNorm, an activation and a second
  conv, derived through :class:`theory.arch.Spec` (Li et al. 2017, *Pruning Filters for
  Efficient ConvNets*, §3.1: a removed filter also removes the next layer's input channel).

References: Han et al. 2015, *Learning both Weights and Connections for Efficient Neural
Networks*; Frankle & Carbin 2019, *The Lottery Ticket Hypothesis*; Li et al. 2017.
"""

from __future__ import annotations

import math
import numbers

import sympy

from theory._args import dim
from theory.arch import Spec, SpecError
from theory.derivation import Derivation, Step

__all__ = [
    "channel_prune_saving",
    "derive_channel_prune_saving",
    "derive_prune_count",
    "prune_count",
]


def _size(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0, got {type(n).__name__} ({n!r})")
    if int(n) < 0:
        raise ValueError(f"{name} must be an int >= 0, got {n!r}")
    return int(n)


def prune_count(amount: int | float, n: int) -> int:
    r"""Number of entries (or channels) ``torch.nn.utils.prune`` removes from ``n`` of them.

    .. math:: k = \begin{cases} a & a \in \mathbb Z,\ 0 \le a \le n \\
              \operatorname{round}_{\text{half-even}}(\operatorname{fl}(a\cdot n))
              & a \in [0, 1] \text{ a float} \end{cases}

    ``amount`` as an ``int`` is a count (torch rejects one larger than ``n``); as a float it is
    a fraction of ``n``. Ties round to even: ``amount=0.5`` removes 2 of 5 and 2 of 3. A
    ``bool`` is refused here (torch takes ``True`` as the count 1, an accident of
    ``bool`` being an ``int``). Raises ``TypeError``/``ValueError`` naming the argument.

    >>> prune_count(0.5, 5), prune_count(0.5, 3), prune_count(0.7, 5), prune_count(3, 5)
    (2, 2, 4, 3)
    """
    n = _size(n, "n")
    if isinstance(amount, bool):
        raise TypeError("amount must be an int count or a float fraction in [0, 1], got a bool")
    if isinstance(amount, numbers.Integral):
        if not 0 <= int(amount) <= n:
            raise ValueError(f"amount as an int must be a count in [0, n={n}], got {amount!r}")
        return int(amount)
    if isinstance(amount, numbers.Real):
        a = float(amount)
        if not (math.isfinite(a) and 0.0 <= a <= 1.0):
            raise ValueError(f"amount as a float must be a fraction in [0, 1], got {amount!r}")
        return round(a * n)
    raise TypeError(
        f"amount must be an int count or a float fraction in [0, 1], got "
        f"{type(amount).__name__} ({amount!r})"
    )


def derive_prune_count() -> Derivation:
    r"""torch's count for a float ``amount``: :math:`k = \operatorname{round}(a n)`, half to
    even — *not* :math:`\lfloor an\rfloor` nor :math:`\lceil an\rceil`. ``claimed`` the
    naive :math:`\lfloor an + 1/2\rfloor` (round half up), ``derived`` the same away from ties;
    they differ at odd ties: :math:`a = 1/2, n = 5` gives 2, not 3. Scope: checked exhaustively
    for :math:`n \le 200` and :math:`a = j/100` against ``prune_count`` in the tests."""
    a, n = sympy.symbols("a n", positive=True)
    naive = sympy.floor(a * n + sympy.Rational(1, 2))
    steps = (
        Step(
            "A float amount $a$ becomes $k = \\mathrm{round}(a\\,n)$ (Python's `round`, ties "
            "to the even integer), computed on the float64 product $\\mathrm{fl}(a n)$.",
            sympy.Eq(sympy.Symbol("k"), sympy.Function("round")(a * n), evaluate=False),
        ),
        Step(
            "Away from ties this is $\\lfloor a n + 1/2 \\rfloor$; at $a n = m + 1/2$ it is the "
            "even one of $m, m+1$: $a = 1/2$ prunes 2 of 5 (naive 3) and 2 of 3.",
            sympy.Eq(naive.subs({a: sympy.Rational(1, 2), n: 5}), 3, evaluate=False),
        ),
    )
    return Derivation(
        "torch's pruning count for a float amount",
        steps,
        claimed=naive,
        derived=naive,
        scope="checked exhaustively for n <= 200, a = j/100 (ties excepted: half to even)",
    )


_SYMS = sympy.symbols("C_in C C_next c k_1 k_2 H W", integer=True, positive=True)


def _block(c_in, c, c_next, k1, k2, h, w) -> Spec:
    s = Spec("conv-bn-relu-conv")
    x = s.input(c_in, h, w)
    x = s.conv(x, c, k1, bias=True, name="conv1")
    x = s.batchnorm(x, name="bn")
    x = s.act(x, "relu", name="relu")
    s.conv(x, c_next, k2, bias=True, name="conv2")
    return s


def channel_prune_saving(
    in_channels: int | sympy.Expr,
    channels: int | sympy.Expr,
    next_channels: int | sympy.Expr,
    removed: int | sympy.Expr,
    k1: int | sympy.Expr,
    k2: int | sympy.Expr,
    height: int | sympy.Expr,
    width: int | sympy.Expr,
) -> dict[str, sympy.Expr]:
    r"""Parameters and MACs saved by removing ``removed`` of the ``channels`` output channels
    of ``conv1`` in the block conv1 (``k1``, bias) → BatchNorm2d → ReLU → conv2 (``k2``,
    bias, ``next_channels`` outputs), stride 1, no padding, input ``in_channels × height ×
    width``. Both blocks are built as :class:`theory.arch.Spec` and subtracted:

    .. math:: \Delta P = c\,(C_{in}k_1^2 + 1 + 2 + C_{next}k_2^2),\qquad
              \Delta\mathrm{MAC} = c\,(C_{in}k_1^2H_1W_1 + C_{next}k_2^2H_2W_2)

    with :math:`H_1 = H - k_1 + 1`, :math:`H_2 = H_1 - k_2 + 1` (same for :math:`W`); the
    MACs are torchvision's convention (conv multiply-accumulates only). Returns
    ``{"params", "macs"}``. Raises ``TypeError``/``ValueError`` naming the argument (via
    :class:`~theory.arch.Spec`), and ``ValueError`` when ``removed`` is not below
    ``channels`` for ints."""
    args = {
        "in_channels": in_channels,
        "channels": channels,
        "next_channels": next_channels,
        "k1": k1,
        "k2": k2,
        "height": height,
        "width": width,
    }
    args = {k: dim(v, k) for k, v in args.items()}
    removed = dim(removed, "removed", minimum=0)
    channels = args["channels"]
    if isinstance(removed, int) and isinstance(channels, int) and removed >= channels:
        raise ValueError(f"removed must be in [0, channels={channels}), got {removed!r}")
    try:
        full = _block(
            *(args[k] for k in ("in_channels", "channels", "next_channels")),
            args["k1"],
            args["k2"],
            args["height"],
            args["width"],
        )
    except SpecError as e:
        raise ValueError(f"height/width too small for k1, k2 (no valid output): {e}") from None
    in_channels, next_channels = args["in_channels"], args["next_channels"]
    k1, k2, height, width = args["k1"], args["k2"], args["height"], args["width"]
    if isinstance(removed, numbers.Integral) and removed == 0:
        return {"params": sympy.Integer(0), "macs": sympy.Integer(0)}
    pruned = _block(in_channels, channels - removed, next_channels, k1, k2, height, width)
    return {
        "params": sympy.expand(full.params() - pruned.params()),
        "macs": sympy.expand(full.count() - pruned.count()),
    }


def derive_channel_prune_saving() -> Derivation:
    r"""The saving of :func:`channel_prune_saving` derived symbolically through
    :class:`theory.arch.Spec`: ``claimed`` :math:`c(C_{in}k_1^2 + 3 + C_{next}k_2^2)`
    parameters (conv1's filters and biases, BatchNorm's :math:`\gamma,\beta`, conv2's input
    slices), ``derived`` the difference of the two specs' parameter counts."""
    c_in, c, c_next, r, k1, k2, h, w = _SYMS
    got = channel_prune_saving(c_in, c, c_next, r, k1, k2, h, w)
    claimed = r * (c_in * k1**2 + 3 + c_next * k2**2)
    h1, w1 = h - k1 + 1, w - k1 + 1
    macs = r * (c_in * k1**2 * h1 * w1 + c_next * k2**2 * (h1 - k2 + 1) * (w1 - k2 + 1))
    steps = (
        Step(
            "Parameters: full spec minus the spec with $C - c$ channels (conv1 filters and "
            "biases, BatchNorm's affine pair, conv2's input slices):",
            sympy.Eq(sympy.Symbol(r"\Delta P"), sympy.factor(got["params"]), evaluate=False),
        ),
        Step(
            "MACs (torchvision's convention, conv only), with $H_1 = H - k_1 + 1$:",
            sympy.Eq(sympy.Symbol(r"\Delta \mathrm{MAC}"), sympy.factor(macs), evaluate=False),
        ),
    )
    assert sympy.expand(got["macs"] - macs) == 0
    return Derivation(
        "Saving of a structured channel prune",
        steps,
        claimed=claimed,
        derived=got["params"],
        scope="proved (all positive integer sizes with valid output geometry)",
    )
