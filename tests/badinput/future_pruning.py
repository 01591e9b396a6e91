"""Bad-input entries for :mod:`theory.pruning` and :mod:`kernels.cpu.pruning`."""

from __future__ import annotations

import numpy as np

from tests.badinput.table import Entry, ErrorSample, Sample

W = np.random.default_rng(5).standard_normal((4, 3, 2, 2))
V = np.random.default_rng(6).standard_normal((3, 5))

ENTRIES = [
    Entry(
        "theory.pruning.prune_count",
        (Sample({"amount": 0.5, "n": 5}), Sample({"amount": 3, "n": 5})),
        (
            ErrorSample({"amount": 1.5, "n": 5}, ValueError, "amount"),
            ErrorSample({"amount": 6, "n": 5}, ValueError, "amount"),
            ErrorSample({"amount": True, "n": 5}, TypeError, "amount"),
            ErrorSample({"amount": 0.5, "n": -1}, ValueError, "n"),
        ),
        result="count",
    ),
    Entry(
        "theory.pruning.derive_prune_count",
        (Sample({}),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.pruning.derive_channel_prune_saving",
        (Sample({}),),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        "theory.pruning.channel_prune_saving",
        (
            Sample(
                {
                    "in_channels": 3,
                    "channels": 8,
                    "next_channels": 5,
                    "removed": 2,
                    "k1": 3,
                    "k2": 3,
                    "height": 10,
                    "width": 10,
                }
            ),
        ),
        (
            ErrorSample(
                {
                    "in_channels": 3,
                    "channels": 8,
                    "next_channels": 5,
                    "removed": 8,
                    "k1": 3,
                    "k2": 3,
                    "height": 10,
                    "width": 10,
                },
                ValueError,
                "removed",
            ),
        ),
        result="any",
    ),
    Entry(
        "kernels.cpu.pruning.l1_unstructured_mask",
        (Sample({"weight": V, "amount": 0.4}),),
        (ErrorSample({"weight": V, "amount": -0.1}, ValueError, "amount"),),
        result="any",
    ),
    Entry(
        "kernels.cpu.pruning.global_unstructured_masks",
        (Sample({"weights": [V, W], "amount": 0.3}),),
        (ErrorSample({"weights": [], "amount": 0.3}, TypeError, "weights"),),
        result="any",
    ),
    Entry(
        "kernels.cpu.pruning.ln_structured_mask",
        (Sample({"weight": W, "amount": 0.5, "n": 1, "dim": 0}),),
        (
            ErrorSample({"weight": W, "amount": 0.5, "n": 0, "dim": 0}, ValueError, "n"),
            ErrorSample({"weight": W, "amount": 0.5, "n": 1, "dim": 4}, ValueError, "dim"),
        ),
        result="any",
    ),
]
