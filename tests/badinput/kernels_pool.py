"""Bad-input entries for :mod:`kernels.cpu.pool` (valid samples check torch's known values)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of

_RNG = np.random.default_rng(0)
X1 = _RNG.standard_normal((2, 3, 7))  # (N, C, L)
X2 = _RNG.standard_normal((2, 3, 6, 5))  # (N, C, H, W)
U2 = _RNG.standard_normal((3, 6, 5))  # unbatched (C, H, W)
RAMP = np.arange(8.0).reshape(1, 1, 8)
P = "kernels.cpu.pool."


def _equal(expected):
    def check(result):
        value = result[0] if isinstance(result, tuple) else result
        assert np.array_equal(value, expected), (value, expected)

    return check


def _shape(expected):
    def check(result):
        value = result[0] if isinstance(result, tuple) else result
        assert value.shape == expected, (value.shape, expected)

    return check


def _max_entries(nd: int, x: np.ndarray) -> list[Entry]:
    name = f"max_pool{nd}d"
    base = {"x": x, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1}
    flags = {"ceil_mode": True, "return_indices": True}
    y = np.array([[[1.0, 3.0, 5.0, 7.0]]])
    g_shape = (2, 3, 4) if nd == 1 else (2, 3, 4, 3)
    errors = (
        ErrorSample({**base, "kernel_size": 0}, ValueError, "kernel_size"),
        ErrorSample({**base, "padding": 2}, ValueError, "padding"),
        ErrorSample({**base, "stride": 0}, ValueError, "stride"),
        ErrorSample({**base, "dilation": 0}, ValueError, "dilation"),
        ErrorSample({**base, "ceil_mode": "False"}, TypeError, "ceil_mode"),
        ErrorSample({**base, "x": x[0, 0]}, ValueError, "x"),
        ErrorSample(
            {
                "x": np.ones((1, 1, 1)) if nd == 1 else np.ones((1, 1, 1, 1)),
                "kernel_size": 2,
                "stride": 1,
                "padding": 1,
                "dilation": 2,
            },
            ValueError,
            "only padding",
            note="the deliberate difference from torch: a window of padding only",
        ),
    )
    ramp, k2 = (RAMP, 2) if nd == 1 else (RAMP[:, :, None, :], (1, 2))
    return [
        Entry(
            P + name,
            samples=(
                Sample({**base, **flags}),
                Sample({**base, "x": x[0], "ceil_mode": False, "return_indices": False}),
                Sample(
                    {"x": ramp, "kernel_size": k2, "return_indices": False},
                    check=_equal(y if nd == 1 else y[:, :, None, :]),
                ),
            ),
            errors=errors,
            domains={"ceil_mode": boolean, "return_indices": boolean},
        ),
        Entry(
            P + f"{name}_backward",
            samples=(
                Sample({"grad_out": np.ones(g_shape), **base, "ceil_mode": True}),
                Sample({"grad_out": np.ones(g_shape)[0], **base, "x": x[0], "ceil_mode": True}),
            ),
            errors=(
                ErrorSample(
                    {"grad_out": np.ones((2, 3, 9)), **base, "ceil_mode": True},
                    ValueError,
                    "grad_out",
                ),
                ErrorSample(
                    {"grad_out": np.ones(g_shape, np.float32), **base, "ceil_mode": True},
                    TypeError,
                    "grad_out",
                ),
            ),
            domains={"ceil_mode": boolean},
        ),
    ]


def _avg_entries(nd: int, x: np.ndarray) -> list[Entry]:
    name = f"avg_pool{nd}d"
    base = {"x": x, "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}
    extra = {"count_include_pad": False}
    if nd == 2:
        extra["divisor_override"] = 2
    g_shape = (2, 3, 4) if nd == 1 else (2, 3, 4, 3)
    errors = [
        ErrorSample({**base, "kernel_size": (1, 2, 3)}, ValueError, "kernel_size"),
        ErrorSample({**base, "padding": -1}, ValueError, "padding"),
        ErrorSample({**base, "count_include_pad": 1}, TypeError, "count_include_pad"),
    ]
    if nd == 2:
        errors.append(ErrorSample({**base, "divisor_override": 0}, ValueError, "divisor_override"))
    ramp, k2 = (RAMP, 2) if nd == 1 else (RAMP[:, :, None, :], (1, 2))
    mean = np.array([[[0.5, 2.5, 4.5, 6.5]]])
    return [
        Entry(
            P + name,
            samples=(
                Sample({**base, **extra}),
                Sample({**base, "x": x[0]}),
                Sample(
                    {"x": ramp, "kernel_size": k2},
                    check=_equal(mean if nd == 1 else mean[:, :, None, :]),
                ),
            ),
            errors=tuple(errors),
            domains={"ceil_mode": boolean, "count_include_pad": boolean},
        ),
        Entry(
            P + f"{name}_backward",
            samples=(Sample({"grad_out": np.ones(g_shape), **base, **extra}),),
            errors=(ErrorSample({"grad_out": np.ones(3), **base}, ValueError, "grad_out"),),
            domains={"ceil_mode": boolean, "count_include_pad": boolean},
        ),
    ]


def _adaptive_entries(nd: int, x: np.ndarray, u: np.ndarray | None) -> list[Entry]:
    out: list[Entry] = []
    size = 3 if nd == 1 else (4, None)
    g_shape = (2, 3, 3) if nd == 1 else (2, 3, 4, 5)
    for mode in ("avg", "max"):
        name = f"adaptive_{mode}_pool{nd}d"
        samples = [Sample({"x": x, "output_size": size})]
        if u is not None:
            samples.append(Sample({"x": u, "output_size": 5}, check=_shape((3, 5, 5))))
        if mode == "max":
            samples.append(Sample({"x": x, "output_size": size, "return_indices": True}))
        errors = (
            ErrorSample({"x": x, "output_size": 0}, ValueError, "output_size"),
            ErrorSample({"x": x, "output_size": 10**30}, ValueError, "output_size"),
            ErrorSample({"x": x, "output_size": ()}, ValueError, "output_size"),
        )
        domains = {"return_indices": boolean} if mode == "max" else {}
        out.append(Entry(P + name, samples=tuple(samples), errors=errors, domains=domains))
        out.append(
            Entry(
                P + f"{name}_backward",
                samples=(Sample({"grad_out": np.ones(g_shape), "x": x, "output_size": size}),),
                errors=(
                    ErrorSample(
                        {"grad_out": np.ones((1, 1, 1)), "x": x, "output_size": size},
                        ValueError,
                        "grad_out",
                    ),
                ),
            )
        )
    return out


W = _RNG.standard_normal((2, 2))
WC = _RNG.standard_normal((3, 2, 2))
GRAD_W = np.ones((2, 3, 3, 2))  # X2 (6, 5) with a 2x2 window, stride 2

ENTRIES = [
    *_max_entries(1, X1),
    *_max_entries(2, X2),
    *_avg_entries(1, X1),
    *_avg_entries(2, X2),
    *_adaptive_entries(1, X1, None),
    *_adaptive_entries(2, X2, U2),
    Entry(
        P + "adaptive_pool",
        samples=(
            Sample({"x": X2, "output_size": (2, 3), "mode": "max"}),
            Sample({"x": U2, "output_size": (5, 5), "mode": "avg"}, check=_shape((3, 5, 5))),
            Sample({"x": X1, "output_size": (2,), "mode": "avg"}),
        ),
        errors=(
            ErrorSample({"x": U2, "output_size": 5}, ValueError, "output_size"),
            ErrorSample({"x": X2, "output_size": (2, 2), "mode": "median"}, ValueError, "mode"),
        ),
        domains={"mode": one_of("avg", "max")},
    ),
    Entry(
        P + "global_pool",
        samples=(
            Sample(
                {"x": X2, "mode": "avg"},
                check=lambda r: np.allclose(r[..., 0, 0], X2.mean(axis=(2, 3))),
            ),
            Sample({"x": X2, "mode": "max"}, check=_equal(X2.max(axis=(2, 3), keepdims=True))),
        ),
        errors=(ErrorSample({"x": X2, "mode": "min"}, ValueError, "mode"),),
        domains={"mode": one_of("avg", "max")},
    ),
    Entry(
        P + "global_pool_backward",
        samples=(Sample({"grad_out": np.ones((2, 3, 1, 1)), "x": X2, "mode": "avg"}),),
        errors=(ErrorSample({"grad_out": np.ones((2, 3)), "x": X2}, ValueError, "grad_out"),),
        domains={"mode": one_of("avg", "max")},
    ),
    Entry(
        P + "weighted_pool2d",
        samples=(
            Sample({"x": X2, "weight": W, "stride": 2}),
            Sample({"x": X2, "weight": WC, "stride": None}),
        ),
        errors=(ErrorSample({"x": X2, "weight": np.ones((4, 2, 2))}, ValueError, "weight"),),
    ),
    Entry(
        P + "weighted_pool2d_backward",
        samples=(Sample({"grad_out": GRAD_W, "x": X2, "weight": W, "stride": 2}),),
        errors=(
            ErrorSample(
                {"grad_out": GRAD_W, "x": X2, "weight": W.astype(np.float32)}, TypeError, "weight"
            ),
        ),
    ),
    Entry(
        P + "gated_pool2d",
        samples=(Sample({"x": X2, "gate": W, "stride": 2}),),
        errors=(ErrorSample({"x": X2, "gate": np.ones((4, 2, 2))}, ValueError, "gate"),),
    ),
    Entry(
        P + "gated_pool2d_backward",
        samples=(Sample({"grad_out": GRAD_W, "x": X2, "gate": WC, "stride": 2}),),
        errors=(ErrorSample({"grad_out": GRAD_W, "x": X2, "gate": [1.0]}, TypeError, "gate"),),
    ),
    Entry(
        P + "stochastic_pool2d",
        samples=(
            Sample(
                {
                    "x": np.abs(X2),
                    "kernel_size": 2,
                    "stride": 2,
                    "rng": np.random.default_rng(1),
                    "training": True,
                }
            ),
            Sample({"x": np.abs(X2), "kernel_size": 2, "stride": 1, "training": False}),
        ),
        errors=(
            ErrorSample({"x": X2, "kernel_size": 2, "training": False}, ValueError, "x"),
            ErrorSample({"x": np.abs(X2), "kernel_size": 2}, TypeError, "rng"),
            ErrorSample(
                {"x": np.abs(X2), "kernel_size": 2, "training": "no"}, TypeError, "training"
            ),
        ),
        domains={"training": boolean},
        result="any",
        note="result: (values, taps); taps are -1 in evaluation, so checked for shape only",
    ),
]


# Outside-fuzz findings (FUZZ_FINDINGS.md 11, 15): ``mode`` must be a str (an array was
# compared elementwise: numpy's "truth value" error); np.matrix operands are refused by name.
def _matrix(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # numpy discourages np.matrix: that is the point
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(a)


_FINDINGS = {
    P + "adaptive_pool": (
        ErrorSample({"x": X1, "output_size": (3,), "mode": np.array([])}, TypeError, "mode"),
        ErrorSample({"x": X2, "output_size": (2, 2), "mode": np.ones((2, 2))}, TypeError, "mode"),
    ),
    P + "global_pool": (ErrorSample({"x": X2, "mode": np.ones((2, 2))}, TypeError, "mode"),),
    P + "global_pool_backward": (
        ErrorSample(
            {"grad_out": np.ones((2, 3, 1, 1)), "x": X2, "mode": np.array([])}, TypeError, "mode"
        ),
    ),
    P + "weighted_pool2d": (
        ErrorSample({"x": X2, "weight": _matrix(W), "stride": 2}, TypeError, "weight.*subclass"),
    ),
    P + "gated_pool2d_backward": (
        ErrorSample(
            {"grad_out": GRAD_W, "x": X2, "gate": _matrix(W), "stride": 2},
            TypeError,
            "gate.*subclass",
        ),
    ),
}
assert set(_FINDINGS) <= {e.target for e in ENTRIES}
ENTRIES = [replace(e, errors=e.errors + _FINDINGS.get(e.target, ())) for e in ENTRIES]
