r"""Leaky integrate-and-fire neurons: the discrete recurrence and a simulation of the ODE.

**Discrete** (:func:`lif_step`, :func:`lif_discrete`; snntorch's ``Leaky`` convention, snntorch
docs tutorial 3). State the convention: the reset uses the spike of the *previous* step,

.. math:: U[t] = \beta U[t-1] + I[t] - S[t-1]\,\vartheta \quad(\text{"subtract"}),\qquad
          U[t] = (1 - S[t-1])\,\beta U[t-1] + I[t] \quad(\text{"zero"}),

:math:`S[t] = H(U[t] - \vartheta)` with :math:`H(0) = 0` (a spike needs :math:`U > \vartheta`).

**Continuous** (:func:`lif_simulate`, :func:`lif_rate_simulated`): :math:`\tau V' = -V + RI`
(potentials from rest) integrated *exactly* between grid points for constant :math:`I`,
:math:`V_{k+1} = RI + (V_k - RI)e^{-\Delta t/\tau}`; a spike at the first grid point with
:math:`V \ge \vartheta` (note: ``>=`` here, strict ``>`` in the discrete kernels), then
:math:`V = 0` held for :math:`t_{ref}/\Delta t` steps. The only error is the detection on
the grid: every simulated inter-spike interval lies in
:math:`[P, P + \Delta t]`, :math:`P = t_{ref} + \tau\ln\frac{RI}{RI-\vartheta}` (Gerstner &
Kistler 2002, §4.1).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from theory.spiking import _real

__all__ = ["lif_discrete", "lif_rate_simulated", "lif_simulate", "lif_step"]

MAX_STEPS = 2_000_000
_RESETS = ("subtract", "zero")


def _array(x: object, name: str) -> np.ndarray:
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        x = np.asarray(float(x))
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numpy array or number, got {type(x).__name__}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def _beta(beta: object) -> float:
    b = _real(beta, "beta")
    if not 0.0 <= b <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta!r}")
    return b


def _reset(reset_mechanism: object) -> str:
    if not isinstance(reset_mechanism, str) or reset_mechanism not in _RESETS:
        raise ValueError(f"reset_mechanism must be one of {_RESETS}, got {reset_mechanism!r}")
    return reset_mechanism


def lif_step(
    input_: np.ndarray,
    mem: np.ndarray,
    beta: float,
    threshold: float = 1.0,
    reset_mechanism: str = "subtract",
) -> tuple[np.ndarray, np.ndarray]:
    r"""One step of the discrete LIF (module docstring): returns ``(spk, mem)`` after the
    step, ``spk`` as float 0/1, a spike iff ``mem > threshold`` (strict, snntorch's
    convention). Raises ``TypeError``/``ValueError`` naming the argument."""
    x = _array(input_, "input_")
    u = _array(mem, "mem")
    b = _beta(beta)
    th = _real(threshold, "threshold", positive=True)
    mode = _reset(reset_mechanism)
    try:
        np.broadcast_shapes(x.shape, u.shape)
    except ValueError:
        raise ValueError(f"input_ {x.shape} and mem {u.shape} must broadcast") from None
    prev = (u > th).astype(np.float64)
    if mode == "subtract":
        new = b * u + x - prev * th
    else:
        new = (1.0 - prev) * b * u + x
    return (new > th).astype(np.float64), new


def lif_discrete(
    inputs: np.ndarray,
    beta: float,
    threshold: float = 1.0,
    reset_mechanism: str = "subtract",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Run :func:`lif_step` over the first axis of ``inputs`` (time) from :math:`U = 0`;
    returns ``(spikes, mems)`` of ``inputs``' shape. Raises ``TypeError``/``ValueError``."""
    x = _array(inputs, "inputs")
    if x.ndim < 1 or x.shape[0] > MAX_STEPS:
        raise ValueError(f"inputs must have a time axis of at most {MAX_STEPS} steps")
    u = np.zeros(x.shape[1:])
    spk, mem = np.zeros_like(x), np.zeros_like(x)
    for t in range(x.shape[0]):
        s, u = lif_step(x[t], u, beta, threshold, reset_mechanism)
        spk[t], mem[t] = s, u
    return spk, mem


def lif_simulate(
    current: float,
    resistance: float,
    tau: float,
    threshold: float,
    refractory: float,
    dt: float,
    duration: float,
) -> np.ndarray:
    r"""Spike times of the continuous LIF under constant ``current`` (module docstring),
    spiking at a grid point iff :math:`V \ge \vartheta` (``>=``; the discrete
    :func:`lif_step` uses ``U > threshold``), from :math:`V(0) = 0` over ``[0, duration]``
    with step ``dt``; ``refractory`` must be a whole number of steps. At most ``MAX_STEPS``
    steps. Raises ``TypeError``/``ValueError`` naming the argument."""
    i = _real(current, "current")
    r = _real(resistance, "resistance", positive=True)
    t = _real(tau, "tau", positive=True)
    th = _real(threshold, "threshold", positive=True)
    ref = _real(refractory, "refractory", nonneg=True)
    h = _real(dt, "dt", positive=True)
    dur = _real(duration, "duration", positive=True)
    ratio = dur / h
    if not ratio <= MAX_STEPS:
        raise ValueError(f"duration / dt must be at most {MAX_STEPS} steps, got {ratio}")
    steps = math.floor(ratio + 1e-9)
    if steps > MAX_STEPS:
        raise ValueError(f"duration / dt must be at most {MAX_STEPS} steps, got {steps}")
    if not math.isfinite(ref / h) or ref / h > MAX_STEPS:
        raise ValueError(
            f"refractory / dt must be a whole number of at most {MAX_STEPS} steps, "
            f"got {refractory!r}"
        )
    n_ref = round(ref / h)
    if abs(n_ref * h - ref) > 1e-9 * max(1.0, ref):
        raise ValueError(f"refractory must be a whole number of dt steps, got {refractory!r}")
    decay, drive = math.exp(-h / t), r * i
    if not math.isfinite(drive):
        raise ValueError(f"current * resistance must be finite, got {i!r} * {r!r}")
    v, hold, times = 0.0, 0, []
    for k in range(1, steps + 1):
        if hold > 0:
            hold -= 1
            continue
        v = drive + (v - drive) * decay
        if v >= th:
            times.append(k * h)
            v, hold = 0.0, n_ref
    return np.asarray(times, dtype=np.float64)


def lif_rate_simulated(
    current: float,
    resistance: float,
    tau: float,
    threshold: float,
    refractory: float,
    dt: float,
    duration: float,
) -> float:
    r"""Rate from :func:`lif_simulate`: (number of spikes − 1) / (last − first spike time),
    the inverse mean inter-spike interval; 0 with fewer than two spikes."""
    times = lif_simulate(current, resistance, tau, threshold, refractory, dt, duration)
    if times.size < 2:
        return 0.0
    return float((times.size - 1) / (times[-1] - times[0]))
