r"""The leaky integrate-and-fire neuron (000 § Biologically-Inspired Layers, "Spiking Neural
Network Layers"): the continuous ODE, its closed form, the firing rate, and the discrete
recurrence.

Continuous (Gerstner & Kistler 2002, *Spiking Neuron Models*, §4.1):

.. math:: \tau\,\frac{dV}{dt} = -(V - V_{rest}) + R\,I(t),

a spike when :math:`V` reaches :math:`V_{th}`, then :math:`V` is reset to :math:`V_{rest}`
and held there for an absolute refractory period :math:`t_{ref}`. Potentials below are
measured from :math:`V_{rest}` (:math:`V_{rest} = 0`, threshold :math:`\vartheta > 0`).
For constant :math:`I`, :math:`V(t) = V_{rest} + RI + (V_0 - V_{rest} - RI)e^{-t/\tau}`
(:func:`derive_lif_closed_form`) and the rate is
:math:`\nu = 1/(t_{ref} + \tau\ln\frac{RI}{RI - \vartheta})` for :math:`RI > \vartheta`, else
0 (:func:`lif_rate`, :func:`derive_lif_rate`).

Discrete (snntorch's ``Leaky``, tutorial 3 of the snntorch docs): :math:`U[t] = \beta U[t-1]
+ I[t] - S[t-1]\vartheta` (reset by subtraction) with :math:`S[t] = H(U[t] - \vartheta)`,
:math:`H(0) = 0`; for constant :math:`I` from :math:`U = 0` the potential is
:math:`I(1-\beta^t)/(1-\beta) < I/(1-\beta)`, so the neuron ever fires iff
:math:`I > (1-\beta)\vartheta` (:func:`derive_discrete_threshold`).
"""

from __future__ import annotations

import math
import numbers

import sympy

from theory.derivation import Derivation, Step

__all__ = [
    "derive_discrete_threshold",
    "derive_lif_closed_form",
    "derive_lif_rate",
    "lif_rate",
]


def _real(v: object, name: str, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__} ({v!r})")
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if positive and x <= 0:
        raise ValueError(f"{name} must be > 0, got {v!r}")
    if nonneg and x < 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}")
    return x


def lif_rate(
    current: float, resistance: float, tau: float, threshold: float, refractory: float = 0.0
) -> float:
    r"""Firing rate of a LIF neuron under constant ``current`` (reset to rest, absolute
    refractory period ``refractory``; potentials from rest):

    .. math:: \nu(I) = \begin{cases}\dfrac{1}{t_{ref} + \tau\ln\frac{RI}{RI-\vartheta}}
              & RI > \vartheta\\ 0 & RI \le \vartheta\end{cases}

    Gerstner & Kistler 2002, eq. (4.11). Strictly increasing above the rheobase
    :math:`\vartheta/R`, and below :math:`1/t_{ref}` for every current. Raises
    ``TypeError``/``ValueError`` naming the argument."""
    i = _real(current, "current")
    r = _real(resistance, "resistance", positive=True)
    t = _real(tau, "tau", positive=True)
    th = _real(threshold, "threshold", positive=True)
    ref = _real(refractory, "refractory", nonneg=True)
    drive = r * i
    if not math.isfinite(drive):
        raise ValueError(f"current * resistance must be finite, got {i!r} * {r!r}")
    if drive <= th:
        return 0.0
    period = ref + t * -math.log1p(-th / drive)  # = tau ln(D/(D - th)), accurate for D >> th
    if not (period > 0 and math.isfinite(1.0 / period)):
        raise ValueError(
            f"current * resistance / threshold too large, or tau and refractory too small, "
            f"for a finite rate (got current={i!r}, resistance={r!r}, threshold={th!r}, "
            f"tau={t!r}, refractory={ref!r})"
        )
    return 1.0 / period


_t, _tau, _R, _I, _Vr, _V0, _th, _tref = sympy.symbols(
    "t tau R I V_rest V_0 vartheta t_ref", real=True
)
_TAU, _RP, _TH, _TREF = sympy.symbols("tau R vartheta t_ref", positive=True)


def derive_lif_closed_form() -> Derivation:
    r"""``sympy.dsolve`` of :math:`\tau V' = -(V - V_{rest}) + RI` with :math:`V(0) = V_0`
    and constant :math:`I`: ``derived`` the solution, ``claimed``
    :math:`V_{rest} + RI + (V_0 - V_{rest} - RI)e^{-t/\tau}`."""
    tau = sympy.Symbol("tau", positive=True)
    v = sympy.Function("V")
    ode = sympy.Eq(tau * v(_t).diff(_t), -(v(_t) - _Vr) + _R * _I)
    sol = sympy.dsolve(ode, v(_t), ics={v(0): _V0}).rhs
    claimed = _Vr + _R * _I + (_V0 - _Vr - _R * _I) * sympy.exp(-_t / tau)
    steps = (
        Step("The membrane equation (constant input):", ode),
        Step("`sympy.dsolve` with $V(0) = V_0$:", sympy.Eq(v(_t), sol, evaluate=False)),
        Step(
            "It relaxes to $V_{rest} + RI$: below threshold the leak stops accumulation.",
            sympy.Eq(sympy.Limit(v(_t), _t, sympy.oo), sympy.limit(sol, _t, sympy.oo)),
        ),
    )
    return Derivation("LIF membrane potential, constant input", steps, claimed=claimed, derived=sol)


def derive_lif_rate() -> Derivation:
    r"""Time to threshold from rest: solve :math:`RI(1 - e^{-T/\tau}) = \vartheta` for
    :math:`T`; ``derived`` :math:`1/(t_{ref} + T)`, ``claimed``
    :math:`1/(t_{ref} + \tau\ln\frac{RI}{RI-\vartheta})` (assumes :math:`RI > \vartheta`)."""
    drive = sympy.Symbol("D", positive=True)  # D = R I, assumed > vartheta
    big_t = sympy.Symbol("T", positive=True)
    eq = sympy.Eq(drive * (1 - sympy.exp(-big_t / _TAU)), _TH)
    (sol,) = sympy.solve(eq, big_t)
    derived = 1 / (_TREF + sol)
    claimed = 1 / (_TREF + _TAU * sympy.log(drive / (drive - _TH)))
    steps = (
        Step("From $V(0) = 0$ (rest, after the refractory hold), with $D = RI$:", eq),
        Step("Solved for the charging time:", sympy.Eq(big_t, sol, evaluate=False)),
        Step(
            "No solution when $D \\le \\vartheta$ ($V < D \\le \\vartheta$ for all $t$): "
            "rate 0. Otherwise one spike per $t_{ref} + T$:",
            sympy.Eq(sympy.Symbol("nu"), derived, evaluate=False),
        ),
    )
    return Derivation(
        "LIF firing rate with refractory period",
        steps,
        claimed=claimed,
        derived=derived,
        scope="proved (for R I > vartheta > 0, tau > 0, t_ref >= 0)",
    )


def derive_discrete_threshold() -> Derivation:
    r"""``sympy.rsolve`` of :math:`U_{t} = \beta U_{t-1} + I`, :math:`U_0 = 0`:
    :math:`U_t = I(1-\beta^t)/(1-\beta)`, increasing to :math:`I/(1-\beta)` without reaching
    it; ``claimed`` the supremum :math:`I/(1-\beta)`, ``derived`` the limit. The neuron fires
    (:math:`U_t > \vartheta` for some :math:`t`) iff :math:`I/(1-\beta) > \vartheta`."""
    beta = sympy.Symbol("beta", positive=True)
    i = sympy.Symbol("I", positive=True)
    n = sympy.Symbol("t", integer=True, nonnegative=True)
    u = sympy.Function("U")
    sol = sympy.rsolve(u(n + 1) - beta * u(n) - i, u(n), {u(0): 0})
    sol = sympy.simplify(sol)
    b = sympy.Symbol("b", positive=True)  # 0 < beta < 1 written beta = 1/(1+b)
    lim = sympy.simplify(
        sympy.limit(sol.subs(beta, 1 / (1 + b)), n, sympy.oo).subs(b, 1 / beta - 1)
    )
    steps = (
        Step(
            "The recurrence without reset from $U_0 = 0$ (`sympy.rsolve`):",
            sympy.Eq(u(n), sol, evaluate=False),
        ),
        Step(
            "For $0 < \\beta < 1$ it increases to, and never reaches:",
            sympy.Eq(sympy.Limit(u(n), n, sympy.oo), lim, evaluate=False),
        ),
    )
    return Derivation(
        "Discrete LIF: the largest potential a constant input reaches",
        steps,
        claimed=i / (1 - beta),
        derived=lim,
        scope="proved (for 0 < beta < 1, I > 0)",
    )
