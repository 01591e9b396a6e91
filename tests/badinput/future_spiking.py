"""Bad-input entries for :mod:`theory.spiking`, :mod:`kernels.cpu.spiking` and
:mod:`numerics.spiking_experiments` (durations kept short)."""

from __future__ import annotations

import numpy as np

from tests.badinput.table import Entry, ErrorSample, Sample

SIM = {
    "current": 2.0,
    "resistance": 1.0,
    "tau": 0.02,
    "threshold": 1.0,
    "refractory": 0.002,
    "dt": 1e-3,
    "duration": 0.1,
}

ENTRIES = [
    Entry(
        "theory.spiking.lif_rate",
        (Sample({"current": 2.0, "resistance": 1.0, "tau": 0.02, "threshold": 1.0}),),
        (
            ErrorSample(
                {"current": 2.0, "resistance": 1.0, "tau": -1.0, "threshold": 1.0},
                ValueError,
                "tau",
            ),
        ),
    ),
    Entry(
        "theory.spiking.derive_lif_closed_form",
        (Sample({}),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.spiking.derive_lif_rate",
        (Sample({}),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.spiking.derive_discrete_threshold",
        (Sample({}),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "kernels.cpu.spiking.lif_step",
        (Sample({"input_": np.ones(3), "mem": np.zeros(3), "beta": 0.9}),),
        (
            ErrorSample(
                {"input_": np.ones(3), "mem": np.zeros(3), "beta": 1.5}, ValueError, "beta"
            ),
            ErrorSample(
                {"input_": np.ones(3), "mem": np.zeros(3), "beta": 0.9, "reset_mechanism": "x"},
                ValueError,
                "reset_mechanism",
            ),
        ),
        result="any",
    ),
    Entry(
        "kernels.cpu.spiking.lif_discrete",
        (Sample({"inputs": np.full((20, 2), 0.3), "beta": 0.8}),),
        (ErrorSample({"inputs": np.full((20, 2), 0.3), "beta": -0.1}, ValueError, "beta"),),
        result="any",
    ),
    Entry(
        "kernels.cpu.spiking.lif_simulate",
        (Sample(dict(SIM)),),
        (ErrorSample({**SIM, "dt": 0.0}, ValueError, "dt"),),
        result="any",
    ),
    Entry(
        "kernels.cpu.spiking.lif_rate_simulated",
        (Sample(dict(SIM)),),
        (ErrorSample({**SIM, "refractory": 0.0015}, ValueError, "refractory"),),
    ),
    Entry(
        "numerics.spiking_experiments.firing_rate_curve",
        (Sample({"currents": np.array([0.5, 2.0])}),),
        (ErrorSample({"currents": np.zeros((2, 2))}, ValueError, "currents"),),
        result="any",
    ),
    Entry(
        "numerics.spiking_experiments.firing_rate_figure",
        (Sample({}),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
]
