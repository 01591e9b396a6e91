"""Spiking claims (theory/claims/future.5-spiking.yaml): LIF formula vs kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cpu.spiking import lif_discrete, lif_rate_simulated, lif_simulate
from numerics.spiking_experiments import DT, firing_rate_curve, firing_rate_figure
from theory import spiking as T


@pytest.mark.claim("d000.future.lif-closed-form")
def test_closed_form_against_exact_step_kernel():
    assert T.derive_lif_closed_form().agrees()
    tau, dt = 0.02, 1e-4
    # below threshold: no spike, and the kernel's potential is never above the closed form
    assert lif_simulate(0.8, 1.0, tau, 1.0, 0.0, dt, 0.5).size == 0
    # first spike time = closed form's crossing, to one step
    times = lif_simulate(1.5, 1.0, tau, 1.0, 0.0, dt, 0.2)
    cross = tau * math.log(1.5 / 0.5)
    assert cross <= times[0] + 1e-12 <= cross + dt + 1e-12


@pytest.mark.claim("d000.future.lif-rate", "d000.future.lif-accumulate")
@settings(max_examples=25, deadline=None)
@given(
    current=st.one_of(st.floats(0.2, 5.0), st.floats(1.0 + 1e-7, 1.001)),
    tau_ms=st.integers(5, 40),
    ref_steps=st.integers(0, 40),
)
def test_rate_formula_bracket(current, tau_ms, ref_steps):
    # Convention of lif_simulate: a spike at the first grid point with V >= threshold. Just
    # above the rheobase (I = 1 + 1e-7, tau = 40 ms) the period is about 0.65 s, so the
    # duration is chosen from the formula's period to always hold at least two spikes.
    dt, tau, ref = 1e-4, tau_ms * 1e-3, ref_steps * 1e-4
    nu = T.lif_rate(current, 1.0, tau, 1.0, ref)
    if current <= 1.0:
        times = lif_simulate(current, 1.0, tau, 1.0, ref, dt, 0.3)
        assert nu == 0 and times.size == 0
        return
    period = 1 / nu
    duration = 2 * period + 3 * dt
    times = lif_simulate(current, 1.0, tau, 1.0, ref, dt, duration)
    assert times.size >= 2  # 2 P + dt < duration: two spikes are guaranteed by the bracket
    isi = np.diff(times)
    assert np.all(isi >= period - 1e-9) and np.all(isi <= period + dt + 1e-9)
    charge = period - ref  # the first spike comes after the charging time alone
    assert charge - 1e-9 <= times[0] <= charge + dt + 1e-9
    rate = lif_rate_simulated(current, 1.0, tau, 1.0, ref, dt, duration)
    assert 1 / (period + dt) - 1e-6 <= rate <= nu + 1e-6


@pytest.mark.claim("d000.future.lif-rate")
def test_rate_derivation_monotone_bounded_and_figure():
    assert T.derive_lif_rate().agrees()
    cur = np.linspace(1.001, 50, 300)
    nu = np.array([T.lif_rate(i, 1.0, 0.02, 1.0, 0.002) for i in cur])
    assert np.all(np.diff(nu) > 0) and np.all(nu < 1 / 0.002)
    d = firing_rate_curve(np.array([0.5, 1.0, 1.2, 2.0, 4.0]))
    assert d["formula"][0] == d["simulated"][0] == 0 == d["simulated"][1]
    assert np.all(d["lower"] - 1e-9 <= d["simulated"]) and np.all(
        d["simulated"] <= d["formula"] + 1e-9
    )
    assert DT == 1e-4
    png = firing_rate_figure()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == firing_rate_figure()


@pytest.mark.claim("d000.future.lif-accumulate", "d000.future.lif-discrete")
@settings(max_examples=40, deadline=None)
@given(
    beta=st.floats(0.5, 0.99),
    frac=st.one_of(st.floats(0.2, 2.0), st.floats(1.0 + 1e-9, 1.05)),
)
def test_discrete_fires_iff_above_leak_threshold(beta, frac):
    # Convention of lif_discrete: spike iff U > threshold. Without a spike,
    # U[t] = frac * theta * (1 - beta^(t+1)) at index t (from U = 0), so for frac > 1 the first
    # spike is at the first t with beta^(t+1) < 1 - 1/frac; the run is sized from that.
    theta = 1.0
    current = frac * (1 - beta) * theta
    if frac > 1.0:
        first = math.ceil(math.log1p(-1 / frac) / math.log(beta)) - 1
        steps = first + 3
    else:
        first, steps = None, 3000
    spk, mem = lif_discrete(np.full(steps, current), beta, theta)
    bound = current / (1 - beta)
    if frac < 1.0:
        assert spk.sum() == 0 and np.all(mem < bound + 1e-12)
    elif frac > 1.0:
        hit = int(np.flatnonzero(spk)[0])  # raises if it never fired
        assert abs(hit - first) <= 1
        assert np.all(mem[:hit] <= theta)
    assert T.derive_discrete_threshold().agrees()


@pytest.mark.claim("d000.future.lif-accumulate")
def test_counterexample_leak_never_fires():
    spk, mem = lif_discrete(np.full(10_000, 0.09), 0.9, 1.0)
    assert spk.sum() == 0 and mem.max() < 0.9
    spk, _ = lif_discrete(np.full(10_000, 0.09), 0.9, 1.0, "zero")
    assert spk.sum() == 0


@pytest.mark.claim("d000.future.lif-discrete")
@settings(max_examples=30, deadline=None)
@given(current=st.floats(0.01, 1.0), steps=st.integers(10, 500))
def test_no_leak_subtract_reset_counts(current, steps):
    spk, _ = lif_discrete(np.full(steps, current), 1.0, 1.0, "subtract")
    assert abs(spk.sum() - steps * current) <= 2
