r"""Monte-Carlo checks with a stated false-alarm probability.

Each function returns a *rigorous* confidence interval: for a correct implementation the
checked quantity falls outside it with probability at most ``alpha`` (the false-alarm
probability, ≤ 1e-6 in the tests). No normal approximation is used.

* :func:`hoeffding_halfwidth` — mean of :math:`N` i.i.d. values in an interval of width
  :math:`w`: :math:`P(|\bar X - \mu| \ge t) \le 2e^{-2Nt^2/w^2}` (Hoeffding 1963, Thm 2);
  :math:`t` solves :math:`2e^{-2Nt^2/w^2} = \alpha` exactly.
* :func:`chi2_interval` — :math:`\chi^2_k`: :math:`P(\chi^2_k - k \ge 2\sqrt{kx} + 2x) \le e^{-x}`,
  :math:`P(k - \chi^2_k \ge 2\sqrt{kx}) \le e^{-x}` (Laurent & Massart 2000, Lemma 1), with
  :math:`e^{-x} = \alpha/2` per side.
* :func:`gaussian_lipschitz_halfwidth` — mean of :math:`f(z_i)`, :math:`f` :math:`L`-Lipschitz,
  :math:`z_i \sim \mathcal{N}(0, \sigma^2)`: :math:`P(|\bar f - \mathbb{E}f| \ge t) \le
  2e^{-Nt^2/(2L^2\sigma^2)}` (Gaussian concentration, e.g. Boucheron–Lugosi–Massart Thm 5.6);
  :math:`t` solves it with equality.

The tightness of each interval (how much wider it is than the exact one) is measured in
``tests/test_checker.py``: a constant-factor widening or narrowing of any of them fails there.

Arguments: counts ``n``/``k`` are integers in :math:`[1, 2^{53}]` (exactly representable as
floats); ``width``, ``lipschitz``, ``sigma`` finite and :math:`> 0`; ``alpha`` in
:math:`(0, 1)`. NumPy scalars are accepted; bools are not. Every ``alpha`` in
:math:`(0, 1)`, down to the smallest subnormal float (5e-324), gives a finite result:
:math:`\ln(c/\alpha)` is computed as :math:`\ln c - \ln\alpha \le 745` (``2 / 1e-320``
itself would overflow to ``inf``). A result can then overflow only through ``width`` or
:math:`L\sigma` near the float64 limit, and the ``ValueError`` names that argument.
"""

from __future__ import annotations

import math
import numbers

FALSE_ALARM = 1e-6
"""Default false-alarm probability per check."""

MAX_COUNT = 2**53
"""Largest sample count ``n`` / degrees of freedom ``k`` (exact in float64)."""


def _alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number in (0, 1), got {type(alpha).__name__}")
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer in [1, 2**53], got {type(value).__name__} ({value!r})"
        )
    v = int(value)
    if not 1 <= v <= MAX_COUNT:
        raise ValueError(f"{name} must be an integer in [1, 2**53], got {v}")
    return v


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite real number > 0, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite real number > 0, got {value!r}")
    return v


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} too large: the result overflows float64")
    return value


def _log_over(c: float, a: float) -> float:
    r""":math:`\ln(c/\alpha)` as :math:`\ln c - \ln\alpha`: finite for every float
    :math:`\alpha > 0` (``c / alpha`` itself overflows for subnormal ``alpha`` such as 1e-320,
    whereas the logarithm is at most about 745); ``ln(c / alpha)`` whenever that quotient is
    finite, so ordinary alphas give bit-for-bit the textbook expression."""
    q = c / a
    return math.log(q) if math.isfinite(q) else math.log(c) - math.log(a)


def hoeffding_halfwidth(n: int, width: float, alpha: float = FALSE_ALARM) -> float:
    r"""Half-width :math:`t = w\sqrt{\ln(2/\alpha)/(2N)}`: :math:`P(|\bar X - \mu| \ge t) \le
    \alpha` for the mean of ``n`` i.i.d. values in a range of ``width`` :math:`w`."""
    n, width, a = _count(n, "n"), _positive(width, "width"), _alpha(alpha)
    return _finite(width * math.sqrt(_log_over(2, a) / (2 * n)), "width")


def _chi2(k: int, x: float) -> tuple[float, float]:
    r"""Laurent–Massart interval for :math:`\chi^2_k` with :math:`x = \ln(2/\alpha)`."""
    return max(0.0, k - 2 * math.sqrt(k * x)), k + 2 * math.sqrt(k * x) + 2 * x


def chi2_interval(k: int, alpha: float = FALSE_ALARM) -> tuple[float, float]:
    r"""Interval :math:`[k - 2\sqrt{kx},\ k + 2\sqrt{kx} + 2x]` (lower end clipped at 0),
    :math:`x = \ln(2/\alpha)`, holding :math:`\chi^2_k` with probability
    :math:`\ge 1 - \alpha` (:math:`\le \alpha/2` per side)."""
    return _chi2(_count(k, "k"), _log_over(2, _alpha(alpha)))


def gaussian_lipschitz_halfwidth(
    n: int, lipschitz: float, sigma: float, alpha: float = FALSE_ALARM
) -> float:
    r"""Half-width :math:`t = L\sigma\sqrt{2\ln(2/\alpha)/N}` for the mean of an
    :math:`L`-Lipschitz function of ``n`` i.i.d. :math:`\mathcal{N}(0, \sigma^2)` samples."""
    n = _count(n, "n")
    lip, sig, a = _positive(lipschitz, "lipschitz"), _positive(sigma, "sigma"), _alpha(alpha)
    return _finite(lip * sig * math.sqrt(2 * _log_over(2, a) / n), "lipschitz*sigma")


def relu_second_moment_interval(
    n: int, sigma: float, alpha: float = FALSE_ALARM
) -> tuple[float, float]:
    r"""Interval for :math:`\frac1N\sum \max(0,z_i)^2`, :math:`z_i\sim\mathcal{N}(0,\sigma^2)`.

    The sum is :math:`\sigma^2\chi^2_K` with :math:`K\sim\mathrm{Bin}(N, 1/2)` positives. With
    probability ≥ 1 − α/2, :math:`|K - N/2| \le \sqrt{N\ln(4/\alpha)/2}` (Hoeffding); given
    :math:`K`, :func:`chi2_interval` at α/2 (for the smallest and the largest such :math:`K`,
    :math:`\chi^2_K` being stochastically increasing in :math:`K`; :math:`\chi^2_0 = 0`).
    Union bound: total false alarm ≤ α.
    """
    n, sig, a = _count(n, "n"), _positive(sigma, "sigma"), _alpha(alpha)
    dk = math.sqrt(n * _log_over(4, a) / 2)
    k_lo = max(0, math.floor(n / 2 - dk))
    k_hi = min(n, math.ceil(n / 2 + dk))
    x = _log_over(4, a)  # chi2_interval at alpha/2: ln(2/(alpha/2)), without forming alpha/2
    lo = _chi2(k_lo, x)[0] if k_lo > 0 else 0.0
    hi = _chi2(k_hi, x)[1]
    var = _finite(sig * sig, "sigma")
    return var * lo / n, _finite(var * hi / n, "sigma")
