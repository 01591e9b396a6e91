"""Bad-input entries for :mod:`theory.sequence` and :mod:`numerics.sequence_experiments`."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of
from tests.badinput.theory_attention import _int_in
from tests.badinput.theory_conv import derivation_entry, nonneg_dim, positive_dim
from theory import sequence as th

T = "theory.sequence."
N = "numerics.sequence_experiments."
_v = sympy.Symbol("V", integer=True, positive=True)
_SMALL = _int_in(1, th.MAX_EXPR_SIZE)
_CELL = one_of(*th.CELLS)


def _shape(rows: int, cols: int, key: str = "h_new"):
    def check(r: Any) -> None:
        assert r[key].shape == (rows, cols)

    return check


ENTRIES = [
    Entry(
        T + "embedding_expr",
        samples=(
            Sample(
                {"V": 3, "d": 2, "indices": (2, 0, 2)},
                check=lambda r: r["grad"] == r["scatter"] and r["lookup"] == r["rows"],
            ),
            Sample({"V": 1, "d": 1, "indices": [0]}, check=lambda r: r["lookup"].shape == (1, 1)),
        ),
        errors=(
            ErrorSample({"V": 0, "d": 2, "indices": (0,)}, ValueError, "V"),
            ErrorSample({"V": 3, "d": 2, "indices": (3,)}, ValueError, r"indices\[0\]"),
            ErrorSample({"V": 3, "d": 2, "indices": (-1,)}, ValueError, r"indices\[0\]"),
            ErrorSample({"V": 3, "d": 2, "indices": ()}, ValueError, "indices"),
            ErrorSample({"V": 3, "d": 2, "indices": "0"}, TypeError, "indices"),
            ErrorSample({"V": 3, "d": 2.0, "indices": (0,)}, TypeError, "d"),
            ErrorSample({"V": 99, "d": 2, "indices": (0,)}, ValueError, "V"),
        ),
        domains={"V": _SMALL, "d": _SMALL},
    ),
    Entry(
        T + "embedding_params",
        samples=(
            Sample({"V": 10, "d": 3}, check=lambda r: r == 30),
            Sample({"V": _v, "d": 4}, check=lambda r: r == 4 * _v),
        ),
        errors=(
            ErrorSample({"V": 0, "d": 3}, ValueError, "V"),
            ErrorSample({"V": 3, "d": True}, TypeError, "d"),
        ),
        result="count",
        domains={"V": positive_dim, "d": positive_dim},
    ),
    Entry(
        T + "embedding_reduction",
        samples=(
            Sample({"V": 10, "d": 3}, check=lambda r: r["reduces_dimension"] is True),
            Sample({"V": 3, "d": 3}, check=lambda r: r["reduces_dimension"] is False),
        ),
        errors=(
            ErrorSample({"V": -1, "d": 3}, ValueError, "V"),
            ErrorSample({"V": 3, "d": "3"}, TypeError, "d"),
        ),
        result="any",
        domains={"V": positive_dim, "d": positive_dim},
    ),
    derivation_entry(T + "derive_embedding_gradient"),
    Entry(
        T + "rnn_params",
        samples=(
            Sample(
                {
                    "input_size": 10,
                    "hidden_size": 20,
                    "bias": True,
                    "num_layers": 1,
                    "bidirectional": False,
                    "cell": "lstm",
                    "proj_size": 0,
                },
                check=lambda r: r == 2560,
            ),
            Sample(
                {
                    "input_size": 3,
                    "hidden_size": 4,
                    "bias": False,
                    "num_layers": 2,
                    "bidirectional": True,
                    "cell": "gru",
                    "proj_size": 0,
                },
                check=lambda r: r == 2 * (12 * 7) + 2 * (12 * 12),
            ),
            Sample(
                {
                    "input_size": 3,
                    "hidden_size": 4,
                    "bias": True,
                    "num_layers": 1,
                    "bidirectional": False,
                    "cell": "lstm",
                    "proj_size": 2,
                },
                check=lambda r: r == 16 * 5 + 32 + 8,
            ),
        ),
        errors=(
            ErrorSample({"input_size": 0, "hidden_size": 4}, ValueError, "input_size"),
            ErrorSample({"input_size": 3, "hidden_size": 4, "cell": "lstmx"}, ValueError, "cell"),
            ErrorSample({"input_size": 3, "hidden_size": 4, "cell": 1}, TypeError, "cell"),
            ErrorSample({"input_size": 3, "hidden_size": 4, "bias": "False"}, TypeError, "bias"),
            ErrorSample(
                {"input_size": 3, "hidden_size": 4, "proj_size": 1}, ValueError, "proj_size"
            ),
            ErrorSample(
                {"input_size": 3, "hidden_size": 4, "cell": "lstm", "proj_size": 4},
                ValueError,
                "proj_size",
            ),
            ErrorSample(
                {"input_size": 3, "hidden_size": 4, "num_layers": 0}, ValueError, "num_layers"
            ),
        ),
        result="count",
        domains={
            "input_size": positive_dim,
            "hidden_size": positive_dim,
            "num_layers": positive_dim,
            "bias": boolean,
            "bidirectional": boolean,
            "cell": _CELL,
        },
    ),
    Entry(
        T + "document_cell_params",
        samples=(
            Sample({"input_size": 10, "hidden_size": 20, "cell": "gru"}, check=lambda r: r == 1800),
            Sample({"input_size": 10, "hidden_size": 20, "cell": "rnn"}, check=lambda r: r == 620),
        ),
        errors=(
            ErrorSample(
                {"input_size": 10, "hidden_size": 0, "cell": "rnn"}, ValueError, "hidden_size"
            ),
            ErrorSample({"input_size": 10, "hidden_size": 2, "cell": None}, TypeError, "cell"),
        ),
        result="count",
        domains={"input_size": positive_dim, "hidden_size": positive_dim, "cell": _CELL},
    ),
    Entry(
        T + "rnn_cell_expr",
        samples=(Sample({"input_size": 2, "hidden_size": 3}, check=_shape(3, 1)),),
        errors=(
            ErrorSample({"input_size": 0, "hidden_size": 3}, ValueError, "input_size"),
            ErrorSample({"input_size": 2, "hidden_size": 99}, ValueError, "hidden_size"),
        ),
        result="any",
        domains={"input_size": _SMALL, "hidden_size": _SMALL},
    ),
    Entry(
        T + "lstm_cell_expr",
        samples=(Sample({"input_size": 1, "hidden_size": 2}, check=_shape(2, 1, "C_new")),),
        errors=(ErrorSample({"input_size": 1, "hidden_size": 1.5}, TypeError, "hidden_size"),),
        result="any",
        domains={"input_size": _SMALL, "hidden_size": _SMALL},
    ),
    Entry(
        T + "gru_cell_expr",
        samples=(
            Sample({"input_size": 1, "hidden_size": 2, "form": "d000"}, check=_shape(2, 1)),
            Sample({"input_size": 2, "hidden_size": 1, "form": "torch"}, check=_shape(1, 1)),
        ),
        errors=(
            ErrorSample({"input_size": 1, "hidden_size": 2, "form": "keras"}, ValueError, "form"),
            ErrorSample({"input_size": 1, "hidden_size": 2, "form": b"d000"}, TypeError, "form"),
        ),
        result="any",
        domains={"input_size": _SMALL, "hidden_size": _SMALL, "form": one_of(*th.GRU_FORMS)},
    ),
    derivation_entry(T + "derive_bias_redundancy"),
    derivation_entry(T + "derive_gru_update_convention"),
    derivation_entry(T + "derive_gru_reset_position", agrees=False),
    Entry(
        T + "gru_separating_example",
        samples=(
            Sample(
                {},
                check=lambda r: (
                    abs(float(r[0]) - 0.311856) < 1e-6 and abs(float(r[1]) - 0.231059) < 1e-6
                ),
            ),
        ),
        result="any",
        fuzz=False,
        note="no arguments",
    ),
    Entry(
        T + "reset_position_map",
        samples=(
            Sample({"W": [[2, 0], [0, 3]]}, check=lambda r: r == sympy.Matrix([[2, 0], [0, 3]])),
            Sample({"W": [[0, 1], [0, 0]]}, check=lambda r: r is None),
            Sample(
                {"W": np.array([[1.5]])},
                check=lambda r: r == sympy.Matrix([[sympy.Rational(3, 2)]]),
            ),
        ),
        errors=(
            ErrorSample({"W": [[1, 2]]}, ValueError, "W"),
            ErrorSample({"W": []}, ValueError, "W"),
            ErrorSample({"W": [[float("nan")]]}, ValueError, "W"),
            ErrorSample({"W": [["a"]]}, TypeError, "W"),
            ErrorSample({"W": "W"}, TypeError, "W"),
            ErrorSample({"W": np.eye(5).tolist()}, ValueError, "W"),
            ErrorSample({"W": [[sympy.I]]}, TypeError, "W"),
        ),
        result="any",
    ),
    Entry(
        T + "rnn_bptt_expr",
        samples=(
            Sample(
                {"T": 2, "hidden_size": 1},
                check=lambda r: sympy.expand(r["jacobian"] - r["product"]) == sympy.zeros(1, 1),
            ),
        ),
        errors=(
            ErrorSample({"T": 0, "hidden_size": 1}, ValueError, "T"),
            ErrorSample({"T": 9, "hidden_size": 1}, ValueError, "T"),
            ErrorSample({"T": 2, "hidden_size": 4}, ValueError, "hidden_size"),
        ),
        result="any",
        domains={"T": _int_in(1, th.MAX_STEPS), "hidden_size": _int_in(1, 3)},
    ),
    derivation_entry(T + "derive_rnn_bptt"),
    Entry(
        T + "lstm_cell_path_expr",
        samples=(Sample({"T": 3}, check=lambda r: r["cell_path"] == r["product"]),),
        errors=(ErrorSample({"T": 0}, ValueError, "T"), ErrorSample({"T": "2"}, TypeError, "T")),
        result="any",
        domains={"T": _int_in(1, th.MAX_STEPS)},
    ),
    Entry(
        T + "linear_recurrence_gradient_norm",
        samples=(
            Sample(
                {"W": [[1, 1], [0, 1]], "T": 2},
                check=lambda r: abs(float(r) - (1 + 2**0.5)) < 1e-12,
            ),
            Sample({"W": [[0.5]], "T": 3}, check=lambda r: r == sympy.Rational(1, 8)),
        ),
        errors=(
            ErrorSample({"W": [[1]], "T": -1}, ValueError, "T"),
            ErrorSample({"W": [[1]], "T": 65}, ValueError, "T"),
            ErrorSample({"W": [[sympy.sqrt(2)]], "T": 1}, TypeError, "W"),
            ErrorSample({"W": [[float("inf")]], "T": 1}, ValueError, "W"),
            ErrorSample({"W": [[True]], "T": 1}, TypeError, "W"),
        ),
        domains={"T": _int_in(0, th.MAX_POWER)},
    ),
    Entry(
        T + "linear_recurrence_regime",
        samples=(
            Sample({"W": [[1, 1], [0, 1]]}, check=lambda r: r == "exploding"),
            Sample({"W": [[0, -1], [1, 0]]}, check=lambda r: r == "bounded"),
            Sample({"W": [[0.5, 4], [0, 0.5]]}, check=lambda r: r == "vanishing"),
        ),
        errors=(
            ErrorSample({"W": np.eye(3)}, ValueError, "W"),
            ErrorSample({"W": [[sympy.Symbol("a")]]}, TypeError, "W"),
            ErrorSample({"W": None}, TypeError, "W"),
        ),
        result="any",
    ),
    derivation_entry(T + "derive_spectral_condition"),
    Entry(
        N + "gradient_through_time",
        samples=(
            Sample(
                {
                    "radii": (0.5, 1.0),
                    "steps": 3,
                    "width": 2,
                    "input_scale": 0.1,
                    "seed": 0,
                    "linear": False,
                },
                check=lambda r: (
                    r["measured"].shape == (2, 4)
                    and np.all(r["measured"] <= r["predicted"] * (1 + 1e-12))
                ),
            ),
        ),
        errors=(
            ErrorSample({"radii": (), "steps": 3}, ValueError, "radii"),
            ErrorSample({"radii": (0.0,), "steps": 3}, ValueError, "radii"),
            ErrorSample({"radii": (float("nan"),)}, ValueError, "radii"),
            ErrorSample({"radii": 1.0}, TypeError, "radii"),
            ErrorSample({"steps": 0}, ValueError, "steps"),
            ErrorSample({"steps": 10**6}, ValueError, "steps"),
            ErrorSample({"width": 10**4}, ValueError, "width"),
            ErrorSample({"input_scale": -1.0}, ValueError, "input_scale"),
            ErrorSample({"seed": -1}, ValueError, "seed"),
            ErrorSample({"linear": "False"}, TypeError, "linear"),
        ),
        result="any",
        domains={"linear": boolean, "seed": nonneg_dim},
    ),
    Entry(
        N + "gradient_through_time_figure",
        samples=(
            Sample(
                {"radii": (0.9,), "steps": 3, "width": 2, "input_scale": 0.1, "seed": 0},
                check=lambda r: r[:4] == b"\x89PNG",
            ),
        ),
        errors=(
            ErrorSample({"steps": 0}, ValueError, "steps"),
            ErrorSample({"radii": ["x"]}, TypeError, "radii"),
        ),
        result="any",
        time_limit=10.0,
    ),
]
