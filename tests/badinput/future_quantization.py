"""Bad-input entries for :mod:`kernels.cpu.quantization`, :mod:`theory.quantization` and
:mod:`numerics.quantization_experiments`."""

from __future__ import annotations

import numpy as np

from tests.badinput.table import Entry, ErrorSample, Sample, boolean
from tests.badinput.theory_conv import derivation_entry

X = np.array([[0.5, -1.25, 2.0], [0.0, 1.0, -3.0]])
W = np.array([[1.0, -0.5, 0.25], [0.0, 2.0, -1.0]])
QI = np.array([[1, -2, 3]], np.int64)
K = "kernels.cpu.quantization."

ENTRIES = [
    derivation_entry("theory.quantization.derive_rounding_error"),
    derivation_entry("theory.quantization.derive_dot_product_bound"),
    derivation_entry("theory.quantization.derive_xnor_scaling"),
    derivation_entry("theory.quantization.derive_ste"),
    Entry(
        K + "quantize_per_tensor",
        samples=(Sample({"x": X, "scale": 0.5, "zero_point": 0}),),
        errors=(
            ErrorSample({"x": X, "scale": 0.0, "zero_point": 0}, ValueError, "scale must be"),
            ErrorSample({"x": X, "scale": 0.5, "zero_point": 300}, ValueError, "zero_point"),
            ErrorSample({"x": [1.0], "scale": 0.5, "zero_point": 0}, TypeError, "x must be"),
        ),
    ),
    Entry(
        K + "fake_quantize_per_tensor_affine",
        samples=(
            Sample({"x": X, "scale": 0.5, "zero_point": 1, "quant_min": 0, "quant_max": 255}),
        ),
        errors=(
            ErrorSample(
                {"x": X, "scale": 0.5, "zero_point": 0, "quant_min": 5, "quant_max": 5},
                ValueError,
                "quant_min < quant_max",
            ),
        ),
    ),
    Entry(
        K + "quantize_per_channel",
        samples=(
            Sample(
                {
                    "x": X,
                    "scale": np.array([0.5, 0.25]),
                    "zero_point": np.zeros(2, np.int64),
                    "axis": 0,
                }
            ),
        ),
        errors=(
            ErrorSample(
                {"x": X, "scale": np.array([0.5]), "zero_point": np.zeros(1, np.int64), "axis": 0},
                ValueError,
                "scale and zero_point must have shape",
            ),
        ),
    ),
    Entry(
        K + "fake_quantize_per_channel_affine",
        samples=(
            Sample(
                {
                    "x": X,
                    "scale": np.array([0.5, 0.25, 1.0]),
                    "zero_point": np.zeros(3, np.int64),
                    "axis": 1,
                    "quant_min": -128,
                    "quant_max": 127,
                }
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "x": X,
                    "scale": np.array([0.5, 0.25, 1.0]),
                    "zero_point": np.zeros(3, np.int64),
                    "axis": 2,
                    "quant_min": -128,
                    "quant_max": 127,
                },
                ValueError,
                "axis must be",
            ),
        ),
    ),
    Entry(
        K + "dequantize",
        samples=(Sample({"q": QI, "scale": 0.5, "zero_point": 1}),),
        errors=(ErrorSample({"q": X, "scale": 0.5, "zero_point": 0}, TypeError, "q must be"),),
    ),
    Entry(
        K + "choose_qparams",
        samples=(
            Sample(
                {
                    "min_val": -1.0,
                    "max_val": 2.0,
                    "quant_min": -128,
                    "quant_max": 127,
                    "symmetric": True,
                }
            ),
            Sample(
                {
                    "min_val": -1.0,
                    "max_val": 2.0,
                    "quant_min": 0,
                    "quant_max": 255,
                    "symmetric": False,
                }
            ),
        ),
        errors=(
            ErrorSample(
                {
                    "min_val": 2.0,
                    "max_val": 1.0,
                    "quant_min": 0,
                    "quant_max": 255,
                    "symmetric": False,
                },
                ValueError,
                "min_val must be",
            ),
        ),
        domains={"symmetric": boolean},
    ),
    Entry(
        K + "int8_linear_accumulate",
        samples=(
            Sample({"q_input": QI, "input_zero_point": 0, "q_weight": QI, "weight_zero_point": 1}),
        ),
        errors=(
            ErrorSample(
                {
                    "q_input": QI * 100,
                    "input_zero_point": 0,
                    "q_weight": QI,
                    "weight_zero_point": 0,
                },
                ValueError,
                "q_input must hold 8-bit",
            ),
        ),
    ),
    Entry(
        K + "requantize",
        samples=(Sample({"acc": QI, "multiplier": 0.5, "zero_point": 3}),),
        errors=(
            ErrorSample(
                {"acc": QI, "multiplier": -1.0, "zero_point": 0}, ValueError, "multiplier must be"
            ),
        ),
    ),
    Entry(
        K + "dynamic_quantized_linear",
        samples=(Sample({"input": X, "weight": W, "bias": np.zeros(2)}),),
        errors=(ErrorSample({"input": X, "weight": W[:, :2]}, ValueError, "input must have"),),
        domains={"reduce_range": boolean},
    ),
    Entry(
        K + "binary_sign",
        samples=(Sample({"x": X}, check=lambda r: set(np.unique(r)) <= {-1.0, 1.0}),),
        errors=(ErrorSample({"x": [0.0]}, TypeError, "x must be"),),
    ),
    Entry(
        K + "binary_sign_backward",
        samples=(Sample({"grad_output": X, "x": W}),),
        errors=(ErrorSample({"grad_output": X[:1], "x": W}, ValueError, "grad_output must"),),
    ),
    Entry(
        K + "xnor_binarize",
        samples=(Sample({"weight": W}),),
        errors=(ErrorSample({"weight": X[0]}, ValueError, "weight must have ndim"),),
        result="any",
    ),
    Entry(
        K + "binary_linear",
        samples=(Sample({"input": X, "weight": W}),),
        errors=(ErrorSample({"input": X, "weight": W.T}, ValueError, "input must have"),),
        domains={"scale": boolean},
    ),
    Entry(
        "numerics.quantization_experiments.quantization_error_by_bits",
        samples=(Sample({"seed": 0}),),
        errors=(ErrorSample({"seed": -1}, ValueError, "seed must be"),),
        result="any",
        time_limit=20.0,
    ),
    Entry(
        "numerics.quantization_experiments.quantization_error_figure",
        samples=(Sample({"seed": 0}, check=lambda r: r[:4] == b"\x89PNG"),),
        errors=(ErrorSample({"seed": "0"}, TypeError, "seed must be"),),
        result="any",
        time_limit=30.0,
    ),
]
