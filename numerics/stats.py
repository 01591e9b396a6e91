r"""Monte-Carlo checks with a stated false-alarm probability.

Each function returns a *rigorous* confidence interval: for a correct implementation the
checked quantity falls outside it with probability at most ``alpha`` (the false-alarm
probability, ≤ 1e-6 in the tests). No normal approximation is used.

* :func:`hoeffding_halfwidth` — mean of :math:`N` i.i.d. values in an interval of width
  :math:`w`: :math:`P(|\bar X - \mu| \ge t) \le 2e^{-2Nt^2/w^2}` (Hoeffding 1963).
* :func:`chi2_interval` — :math:`\chi^2_k`: :math:`P(\chi^2_k - k \ge 2\sqrt{kx} + 2x) \le e^{-x}`,
  :math:`P(k - \chi^2_k \ge 2\sqrt{kx}) \le e^{-x}` (Laurent & Massart 2000, Lemma 1).
* :func:`gaussian_lipschitz_halfwidth` — mean of :math:`f(z_i)`, :math:`f` :math:`L`-Lipschitz,
  :math:`z_i \sim \mathcal{N}(0, \sigma^2)`: :math:`P(|\bar f - \mathbb{E}f| \ge t) \le
  2e^{-Nt^2/(2L^2\sigma^2)}` (Gaussian concentration, e.g. Boucheron–Lugosi–Massart Thm 5.6).
"""

from __future__ import annotations

import math

FALSE_ALARM = 1e-6
"""Default false-alarm probability per check."""


def _alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return alpha


def hoeffding_halfwidth(n: int, width: float, alpha: float = FALSE_ALARM) -> float:
    """Half-width t with P(|mean - mu| >= t) <= alpha for n values in a range of ``width``."""
    return width * math.sqrt(math.log(2 / _alpha(alpha)) / (2 * n))


def chi2_interval(k: int, alpha: float = FALSE_ALARM) -> tuple[float, float]:
    """Interval holding chi^2_k with probability >= 1 - alpha (alpha/2 per side)."""
    x = math.log(2 / _alpha(alpha))
    return max(0.0, k - 2 * math.sqrt(k * x)), k + 2 * math.sqrt(k * x) + 2 * x


def gaussian_lipschitz_halfwidth(
    n: int, lipschitz: float, sigma: float, alpha: float = FALSE_ALARM
) -> float:
    """Half-width for the mean of a Lipschitz function of n i.i.d. N(0, sigma^2) samples."""
    return lipschitz * sigma * math.sqrt(2 * math.log(2 / _alpha(alpha)) / n)


def relu_second_moment_interval(
    n: int, sigma: float, alpha: float = FALSE_ALARM
) -> tuple[float, float]:
    r"""Interval for :math:`\frac1N\sum \max(0,z_i)^2`, :math:`z_i\sim\mathcal{N}(0,\sigma^2)`.

    The sum is :math:`\sigma^2\chi^2_K` with :math:`K\sim\mathrm{Bin}(N, 1/2)` positives. With
    probability ≥ 1 − α/2, :math:`|K - N/2| \le \sqrt{N\ln(4/\alpha)/2}` (Hoeffding); given
    :math:`K`, :func:`chi2_interval` at α/2. Union bound: total false alarm ≤ α.
    """
    dk = math.sqrt(n * math.log(4 / _alpha(alpha)) / 2)
    lo = chi2_interval(max(0, math.floor(n / 2 - dk)), alpha / 2)[0]
    hi = chi2_interval(math.ceil(n / 2 + dk), alpha / 2)[1]
    return sigma**2 * lo / n, sigma**2 * hi / n
