"""Argument checks for the NumPy kernels: clear TypeError/ValueError naming the argument."""

from __future__ import annotations

import numpy as np

from theory._args import dims

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def array(value: object, name: str, ndim: int | tuple[int, ...], dtype: np.dtype | None = None):
    """Check that ``value`` is a float32/float64 ndarray of the given ndim (and dtype)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if value.ndim not in allowed:
        raise ValueError(f"{name} must have ndim in {allowed}, got shape {value.shape}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(
            f"{name} must have the same dtype as the input ({dtype}), got {value.dtype}"
        )
    if 0 in value.shape:
        raise ValueError(f"{name} must not have a zero-size dimension, got shape {value.shape}")
    return value


def pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum`` (SymPy expressions are not allowed)."""
    out = dims(value, name, 2, minimum)
    if not all(isinstance(v, int) for v in out):
        raise TypeError(f"{name} must be an int or a pair of ints for a kernel, got {value!r}")
    return out  # type: ignore[return-value]


def conv_operands(x: object, weight: object, bias: object, ndim: int) -> None:
    """Input ``(N, C_in, *spatial)``, weight ``(C_out, C_in, *kernel)`` (groups 1) and optional
    bias ``(C_out,)`` of one float dtype, for the matrix-form convolutions."""
    array(x, "x", ndim)
    array(weight, "weight", ndim, x.dtype)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels, weight expects {weight.shape[1]}")
    if bias is not None:
        array(bias, "bias", 1, x.dtype)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")


MAX_ELEMENTS = 2**27
"""Largest output or work buffer a kernel builds (elements; 1 GiB of float64). A request
beyond it is refused at once with ``ValueError`` instead of exhausting memory."""


def bounded(elements: int, what: str, name: str) -> int:
    """Refuse a buffer of more than :data:`MAX_ELEMENTS` elements, naming the argument."""
    if elements > MAX_ELEMENTS:
        raise ValueError(
            f"{name}: {what} would have {elements} elements, more than the limit "
            f"kernels.cpu._check.MAX_ELEMENTS = {MAX_ELEMENTS}"
        )
    return elements
