r"""One tolerance table keyed by dtype, and the comparison every test uses.

The table holds torch.testing's defaults (``torch.testing.assert_close``): float32
``rtol=1.3e-6, atol=1e-5``; float64 ``rtol=1e-7, atol=1e-7`` (``tests/test_checker.py`` checks
it against ``torch.testing._comparison.default_tolerances``). An element passes when

.. math:: |a - e| \le \mathrm{atol} + \mathrm{rtol}\,|e| \;(+\, 2\gamma_n m)

Reductions. A sum of :math:`n` products computed in floating point with unit roundoff
:math:`u` is within :math:`\gamma_n \sum_i |a_i b_i|` of the exact value,
:math:`\gamma_n = nu/(1 - nu)` (Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed., eq. 3.5). Two correct implementations therefore differ by at most
:math:`2\gamma_n\sum_i|a_ib_i|`. :func:`assert_close` adds this bound to the table's
tolerance when the caller passes ``reduction_length`` :math:`n` and ``magnitude``
:math:`m = \sum_i|a_ib_i|` (the same operation applied to absolute values). It is a rigorous
bound, not a loosened tolerance: a wrong result is off by :math:`O(1)`, far beyond it.

What never passes (the checker must not lie):

* **NaN**, on either side (also NaN against NaN): a NaN is a defect to explain, not a value;
* an **infinity** unless the other side is the *same* infinity (as in torch.testing);
* **shapes** that differ in any way — no broadcasting; a 0-d value and a shape-``(1,)`` array
  are different shapes;
* values that are not real numbers: complex (the imaginary part is never dropped), bool,
  object, strings — a :class:`TypeError` naming the argument. ``actual`` must be a floating
  array (an integer result from a float kernel is a bug); ``expected`` may also hold integers
  (an exact reference).

**GPU rule** (:func:`assert_gpu_close`). A kernel run at reduced precision (float32, float16,
bfloat16 — on a GPU or in Triton's interpreter) is judged against a float64 reference *and*
against torch at the same precision on the same input: its largest error must not exceed twice
torch's own largest error, plus one unit of the dtype's rounding at the reference's largest
magnitude (:math:`\varepsilon\,\max|e|`, so that a result torch happens to get exactly right
still allows the final rounding), plus a documented ``slack`` where ``tl.dot`` rounds its
inputs to TF32 (:data:`TF32_EPS`):

.. math:: \max|a - e| \le 2\max|t - e| + \varepsilon_{\text{dtype}}\max|e|
          \;(+\ \text{slack}\cdot\max|e|)

A mismatch raises :class:`AssertionError`; an argument of the wrong kind
(:class:`TypeError`) or value (:class:`ValueError`) names the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np


def _real(value: object, name: str, *, minimum: float = 0.0) -> float:
    """A finite real number ``>= minimum`` (NumPy scalars accepted, bools rejected)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    v = float(value)
    if not math.isfinite(v) or v < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return v


@dataclass(frozen=True)
class Tolerance:
    """A row of the table: ``|a - e| <= atol + rtol*|e|`` (both finite and ``>= 0``)."""

    rtol: float
    atol: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtol", _real(self.rtol, "rtol"))
        object.__setattr__(self, "atol", _real(self.atol, "atol"))


TOLERANCES: Mapping[np.dtype, Tolerance] = MappingProxyType(
    {
        np.dtype(np.float32): Tolerance(rtol=1.3e-6, atol=1e-5),
        np.dtype(np.float64): Tolerance(rtol=1e-7, atol=1e-7),
    }
)
"""The table (read-only): torch.testing's defaults for float32 and float64."""

#: ``torch.autograd.gradcheck`` defaults, used for float64 central differences (read-only).
GRADCHECK: Mapping[str, float] = MappingProxyType({"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3})


def _np_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """A NumPy dtype from a NumPy dtype, a NumPy scalar type, ``float``, a dtype name or a
    torch dtype (``torch.float32`` …). ``None`` is refused (NumPy would read it as float64)."""
    if isinstance(dtype, np.dtype):
        return dtype
    if type(dtype).__module__ == "torch" and type(dtype).__name__ == "dtype":
        text = str(dtype).removeprefix("torch.")
        try:
            return np.dtype(text)
        except TypeError:
            raise ValueError(
                f"{name}={dtype} has no NumPy equivalent; known: {sorted(map(str, TOLERANCES))}"
            ) from None
    if isinstance(dtype, type) and (issubclass(dtype, np.generic) or dtype is float):
        return np.dtype(dtype)
    if isinstance(dtype, str):
        try:
            return np.dtype(dtype)
        except TypeError:
            raise ValueError(f"{name}={dtype!r} is not a dtype name") from None
    raise TypeError(
        f"{name} must be a NumPy dtype, a NumPy scalar type, a dtype name or a torch dtype, "
        f"got {type(dtype).__name__} ({dtype!r})"
    )


def tolerance(dtype: object) -> Tolerance:
    """The table's entry for ``dtype`` (a NumPy dtype, type or name, or a torch dtype).

    Raises ``ValueError`` naming ``dtype`` for a dtype that has no row (float16, ints …).
    """
    key = _np_dtype(dtype)
    if key not in TOLERANCES:
        raise ValueError(f"dtype {dtype} has no tolerance; known: {sorted(map(str, TOLERANCES))}")
    return TOLERANCES[key]


def _count(value: object, name: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {type(value).__name__} ({value!r})")
    if int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _has_data(tensor: Any, name: str) -> None:
    """A torch tensor must hold values to compare (a ``meta`` tensor has only a shape)."""
    if tensor.device.type == "meta":
        raise TypeError(f"{name} must hold values: a tensor on the meta device has none")


def _real_array(value: object, name: str, *, integers: bool) -> np.ndarray:
    """``value`` as a float64 array, refusing what is not real numbers (no silent casts)."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        _has_data(value, name)
        value = value.detach().cpu().numpy()  # type: ignore[attr-defined]
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name} must be a real array or number, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged lists and the like
        raise TypeError(f"{name} must be a real array or number: {e}") from None
    allowed = "fiu" if integers else "f"
    if arr.dtype.kind not in allowed:
        what = "a floating" if not integers else "a floating or integer"
        raise TypeError(f"{name} must be {what} array or number, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def reduction_bound(dtype: object, reduction_length: int, magnitude: object) -> np.ndarray:
    r""":math:`2\gamma_n \cdot m`, :math:`\gamma_n = nu/(1-nu)`, for two independent float
    computations of a length-:math:`n` reduction whose absolute-value analogue is :math:`m`.

    ``dtype`` gives :math:`u` (``finfo(dtype).eps / 2``); ``reduction_length`` :math:`n \ge 1`
    with :math:`nu < 1`; ``magnitude`` finite and :math:`\ge 0` (array or number).
    """
    dt = _np_dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    n = _count(reduction_length, "reduction_length")
    m = _real_array(magnitude, "magnitude", integers=True)
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError("magnitude must be finite and >= 0 (a sum of absolute values)")
    u = float(np.finfo(dt).eps) / 2
    nu = n * u
    if nu >= 1:
        raise ValueError(f"reduction_length={n} too long for {dt}: n*u must be < 1")
    return 2 * nu / (1 - nu) * m


def _compare(
    actual: object,
    expected: object,
    atol: Any,
    rtol: float,
    context: object,
    what: str,
) -> None:
    if not isinstance(context, str):
        raise TypeError(f"context must be a str, got {type(context).__name__}")
    a = _real_array(actual, "actual", integers=False)
    e = _real_array(expected, "expected", integers=True)
    if a.shape != e.shape:
        raise AssertionError(
            f"shape mismatch: actual {a.shape} vs expected {e.shape} (no broadcasting)\n{context}"
        )
    allowed = atol + rtol * np.abs(e)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - e)
        ok = np.isfinite(a) & np.isfinite(e) & (err <= allowed)  # NaN anywhere -> False
        same_inf = np.isinf(e) & (a == e)  # allowed = inf there: only equality may pass
    bad = ~(ok | same_inf)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        lim = np.broadcast_to(allowed, bad.shape)[idx]
        raise AssertionError(
            f"{int(bad.sum())} of {a.size} elements differ beyond tolerance ({what}); "
            f"first at {idx}: actual={a[idx]!r} expected={e[idx]!r} allowed={lim!r}\n{context}"
        )


def assert_close(
    actual: object,
    expected: object,
    dtype: object,
    *,
    reduction_length: int | None = None,
    magnitude: object = None,
    context: str = "",
) -> None:
    r"""Assert :math:`|a - e| \le \mathrm{atol} + \mathrm{rtol}|e|` (+ reduction bound)
    elementwise, with the table's row for ``dtype``.

    Shapes must be equal (no broadcasting); NaN never passes; an infinity passes only against
    the same infinity; complex, bool and object values are refused with ``TypeError``.
    ``reduction_length`` and ``magnitude`` come together (:func:`reduction_bound`);
    ``magnitude`` is a number or an array broadcastable to ``expected``'s shape.
    ``context`` (claim id, inputs, a repro) is printed on failure.
    """
    tol = tolerance(dtype)
    atol: Any = tol.atol
    what = f"{_np_dtype(dtype)}: rtol={tol.rtol}, atol={tol.atol}"
    if (reduction_length is None) != (magnitude is None):
        missing = "magnitude" if magnitude is None else "reduction_length"
        raise ValueError(f"reduction_length and magnitude come together: {missing} is missing")
    if reduction_length is not None:
        e_shape = _real_array(expected, "expected", integers=True).shape
        bound = reduction_bound(dtype, reduction_length, magnitude)
        if not _broadcasts_to(bound.shape, e_shape):
            raise ValueError(
                f"magnitude of shape {bound.shape} does not broadcast to expected's {e_shape}"
            )
        atol = atol + bound
        what += f", + reduction bound n={int(reduction_length)}"
    _compare(actual, expected, atol, tol.rtol, context, what)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True when an array of ``shape`` broadcasts to ``target`` without changing it."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


# --------------------------------------------------------------------------- the GPU rule

#: Machine epsilon of TF32 (10 explicit mantissa bits), the input rounding of ``tl.dot`` on a
#: GPU: the ``slack`` per unit of magnitude a kernel using it may add to the GPU rule.
TF32_EPS = 2.0**-10

#: float64 stand-ins for the reduced precisions NumPy lacks (bfloat16: 8 bits of mantissa).
_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


def _as_float64(value: object, name: str) -> tuple[np.ndarray, str]:
    """``value`` as float64 plus its dtype's name (a torch tensor of any float dtype,
    bfloat16 included, or a floating NumPy array)."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        _has_data(value, name)
        dtype = str(value.dtype).removeprefix("torch.")  # type: ignore[attr-defined]
        if dtype not in _EPS:
            raise TypeError(f"{name} must be a floating tensor, got dtype {dtype}")
        return value.detach().cpu().double().numpy(), dtype  # type: ignore[attr-defined]
    arr = _real_array(value, name, integers=False)
    return arr, str(np.asarray(value).dtype)


@dataclass(frozen=True)
class GPUError:
    """What :func:`assert_gpu_close` measured: the kernel's and torch's largest absolute
    errors against the float64 reference, and the bound the kernel's had to meet."""

    kernel: float
    torch: float
    bound: float

    def __post_init__(self) -> None:
        for name in ("kernel", "torch", "bound"):
            object.__setattr__(self, name, _real(getattr(self, name), name))


def assert_gpu_close(
    actual: object,
    expected: object,
    torch_result: object,
    *,
    factor: float = 2.0,
    slack: float = 0.0,
    context: str = "",
) -> GPUError:
    r"""The GPU rule: :math:`\max|a-e| \le` ``factor`` :math:`\cdot\max|t-e| +
    (\varepsilon + \text{slack})\max|e|`.

    ``actual`` (the kernel's result) and ``torch_result`` (torch's, same dtype, same input)
    are torch tensors or NumPy arrays of one floating dtype, which sets :math:`\varepsilon`
    (float64 :math:`2^{-52}`, float32 :math:`2^{-23}`, float16 :math:`2^{-10}`, bfloat16
    :math:`2^{-7}`); ``expected`` is the float64 reference. Shapes must be equal (any memory
    layout; no broadcasting). NaN anywhere in ``actual`` or ``expected`` fails, and an infinity
    passes only against the same infinity (torch's result is only measured: where it is not
    finite where the reference is, the rule cannot judge and the call fails: choose an input
    on which torch at this precision is finite).
    ``factor`` (:math:`\ge 1`) and ``slack`` (:math:`\ge 0`, e.g. :data:`TF32_EPS` for
    ``tl.dot``) must be stated by the caller when they differ from the rule. Returns the
    measured :class:`GPUError`; raises :class:`AssertionError` with both errors otherwise.
    """
    if not isinstance(context, str):
        raise TypeError(f"context must be a str, got {type(context).__name__}")
    f = _real(factor, "factor", minimum=1.0)
    sl = _real(slack, "slack")
    a, a_dtype = _as_float64(actual, "actual")
    t, t_dtype = _as_float64(torch_result, "torch_result")
    e = _real_array(expected, "expected", integers=True)
    if a_dtype != t_dtype:
        raise TypeError(
            f"actual ({a_dtype}) and torch_result ({t_dtype}) must have the same dtype: the rule "
            "compares errors at the same precision"
        )
    for name, arr in (("actual", a), ("torch_result", t)):
        if arr.shape != e.shape:
            raise AssertionError(
                f"shape mismatch: {name} {arr.shape} vs expected {e.shape} (no broadcasting)"
                f"\n{context}"
            )
    with np.errstate(invalid="ignore", over="ignore"):
        same_inf = np.isinf(e) & (a == e)
        finite = np.isfinite(a) & np.isfinite(e)
        if not (finite | same_inf).all():
            idx = tuple(int(i) for i in np.argwhere(~(finite | same_inf))[0])
            raise AssertionError(
                f"non-finite mismatch at {idx}: actual={a[idx]!r} expected={e[idx]!r}\n{context}"
            )
        t_ok = (np.isfinite(t) & np.isfinite(e)) | (np.isinf(e) & (t == e))
        err = float(np.abs(a - e)[finite].max(initial=0.0))
        if not t_ok.all():
            idx = tuple(int(i) for i in np.argwhere(~t_ok)[0])
            raise AssertionError(
                f"torch_result is not finite where expected is (at {idx}: {t[idx]!r} vs "
                f"{e[idx]!r}): torch's own error is unbounded, the rule cannot judge\n{context}"
            )
        own = float(np.abs(t - e)[finite].max(initial=0.0))
        scale = float(np.abs(e[np.isfinite(e)]).max(initial=0.0))
    bound = f * own + (_EPS[a_dtype] + sl) * scale
    result = GPUError(kernel=err, torch=own, bound=bound)
    if not err <= bound:
        raise AssertionError(
            f"{a_dtype}: the kernel's largest error {err:.3e} exceeds {f:g} x torch's own "
            f"({own:.3e}) + ({_EPS[a_dtype]:.3e} + slack {sl:g}) x max|expected| ({scale:.3e}) "
            f"= {bound:.3e}\n{context}"
        )
    return result
