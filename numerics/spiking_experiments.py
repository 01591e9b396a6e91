r"""LIF firing rate against input current: the formula of :func:`theory.spiking.lif_rate`
and the simulation of :func:`kernels.cpu.spiking.lif_rate_simulated`, with the simulation's
exact bracket (every simulated inter-spike interval lies in :math:`[P, P + \Delta t]`, so the
simulated rate lies in :math:`[1/(P + \Delta t), 1/P]`). Gerstner & Kistler 2002, §4.1.

Parameters (module constants): :math:`\tau = 20` ms, :math:`R = 1`, :math:`\vartheta = 1`
(potentials from rest), :math:`t_{ref} = 2` ms, :math:`\Delta t = 0.1` ms, 1 s simulated.
"""

from __future__ import annotations

import io

import numpy as np

from kernels.cpu.spiking import lif_rate_simulated
from theory.spiking import lif_rate

__all__ = ["firing_rate_curve", "firing_rate_figure"]

TAU, R, THRESHOLD, REFRACTORY, DT, DURATION = 0.02, 1.0, 1.0, 0.002, 1e-4, 1.0
MAX_POINTS = 200


def firing_rate_curve(currents: np.ndarray) -> dict[str, np.ndarray]:
    r"""For each current: ``formula`` :math:`\nu(I)`, ``simulated`` rate, and the bracket
    ``lower`` :math:`= 1/(P + \Delta t)` (0 below the rheobase). Raises ``TypeError`` /
    ``ValueError`` naming ``currents`` (a 1-D finite array of at most ``MAX_POINTS``)."""
    if not isinstance(currents, np.ndarray) or currents.dtype.kind not in "fiu":
        raise TypeError("currents must be a 1-D real numpy array")
    if currents.ndim != 1 or not 1 <= currents.size <= MAX_POINTS:
        raise ValueError(f"currents must be 1-D with 1 to {MAX_POINTS} entries")
    if not np.all(np.isfinite(currents)):
        raise ValueError("currents must be finite")
    cur = currents.astype(np.float64)
    formula = np.array([lif_rate(i, R, TAU, THRESHOLD, REFRACTORY) for i in cur])
    sim = np.array(
        [lif_rate_simulated(i, R, TAU, THRESHOLD, REFRACTORY, DT, DURATION) for i in cur]
    )
    with np.errstate(divide="ignore"):
        lower = np.where(formula > 0, 1.0 / (1.0 / np.where(formula > 0, formula, 1) + DT), 0.0)
    return {"currents": cur, "formula": formula, "simulated": sim, "lower": lower}


def firing_rate_figure() -> bytes:
    """PNG: the LIF rate against current, formula (line) and simulation (points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = firing_rate_curve(np.linspace(0.0, 4.0, 41))
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    fine = np.linspace(0.0, 4.0, 400)
    ax.plot(fine, [lif_rate(i, R, TAU, THRESHOLD, REFRACTORY) for i in fine], label="formula")
    ax.plot(d["currents"], d["simulated"], "o", ms=3, label="simulation (dt = 0.1 ms)")
    ax.axhline(1 / REFRACTORY, ls=":", c="gray", label="1/t_ref")
    ax.set_xlabel("input current I (R = 1, threshold 1)")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title("LIF firing rate, tau = 20 ms, t_ref = 2 ms")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
