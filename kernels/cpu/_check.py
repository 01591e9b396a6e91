r"""Argument checks for the NumPy kernels: clear TypeError/ValueError naming the argument.

**Arrays.** Every array argument of every kernel must be a plain ``numpy.ndarray`` (any
memory layout: Fortran, strided, negative strides and read-only arrays are all accepted) of
dtype float32 or float64. ndarray *subclasses* such as ``numpy.matrix`` (always 2-D, ``*``
is a matrix product) or masked arrays are refused with ``TypeError`` naming the argument:
their operators silently change the arithmetic, so they are never converted (no
``np.asarray``); call ``np.asarray(m)`` yourself. Use :func:`is_array` for the test and
:func:`array` for the full check, never ``isinstance(value, np.ndarray)``.

Besides the array checks, :func:`conv_geometry` is the one place where a convolution's
arguments are read, in torch's conventions (``F.conv1d``/``F.conv2d`` and
``F.conv_transpose1d``/``F.conv_transpose2d``): an int or a sequence per spatial axis (a
one-entry sequence is repeated, as torch's ``expand_param_if_needed`` does), ``padding`` also
``'same'``/``'valid'`` for the forward convolution, unbatched inputs, empty batches, groups,
dilation and ``output_padding``. The direct, im2col, Toeplitz and reference kernels share it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from theory._args import dims

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

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


def is_array(value: object) -> bool:
    """True for a plain ``numpy.ndarray`` only (subclasses such as ``np.matrix`` are not)."""
    return type(value) is np.ndarray


def not_array(value: object, name: str, allowed: str = "a numpy.ndarray") -> TypeError:
    """The ``TypeError`` for a non-array ``value`` (naming ``np.matrix`` and other subclasses)."""
    if isinstance(value, np.ndarray):
        return TypeError(
            f"{name} must be {allowed}, not an ndarray subclass ({type(value).__name__}); "
            f"pass np.asarray({name})"
        )
    return TypeError(f"{name} must be {allowed}, got {type(value).__name__}")


def array(
    value: object,
    name: str,
    ndim: int | tuple[int, ...],
    dtype: np.dtype | None = None,
    empty_ok: tuple[int, ...] = (),
    like: str = "the input",
):
    """Check that ``value`` is a plain float32/float64 ndarray (no subclass such as
    ``np.matrix``) of the given ndim (and dtype).

    No dimension may be zero, except the axes listed in ``empty_ok`` (e.g. ``(0,)`` for an
    empty batch, which torch accepts). ``like`` names the array whose dtype ``dtype`` is.
    """
    if not is_array(value):
        raise not_array(value, name)
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if value.ndim not in allowed:
        raise ValueError(f"{name} must have ndim in {allowed}, got shape {value.shape}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name} must have the same dtype as {like} ({dtype}), got {value.dtype}")
    ok = {a % value.ndim for a in empty_ok} if value.ndim else set()
    if any(s == 0 and a not in ok for a, s in enumerate(value.shape)):
        where = f" (only axes {sorted(ok)} may be empty)" if ok else ""
        raise ValueError(
            f"{name} must not have a zero-size dimension{where}, got shape {value.shape}"
        )
    return value


def pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum`` (SymPy expressions are not allowed)."""
    out = dims(value, name, 2, minimum)
    if not all(isinstance(v, int) for v in out):
        raise TypeError(f"{name} must be an int or a pair of ints for a kernel, got {value!r}")
    return out  # type: ignore[return-value]


def ntuple(value: object, name: str, nd: int, minimum: int) -> tuple[int, ...]:
    """An int, or a list/tuple of ``nd`` ints (or of one, repeated as torch does), each
    ``>= minimum``. Python and NumPy integers are accepted; bools, floats and SymPy are not."""
    seq = isinstance(value, list | tuple)
    items = list(value) if seq else [value]
    if len(items) == 1:
        items = items * nd
    if seq and len(items) != nd:
        raise ValueError(
            f"{name} must be an int or a sequence of {nd} ints (or of one), got {value!r}"
        )
    out = []
    for v in items:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
            raise TypeError(
                f"{name} must be an int or a sequence of {nd} ints >= {minimum}, got {value!r}"
            )
        if int(v) < minimum:
            raise ValueError(f"{name} must be >= {minimum} along every axis, got {value!r}")
        out.append(int(v))
    return tuple(out)


def integer(value: object, name: str, minimum: int) -> int:
    """A Python or NumPy integer ``>= minimum`` (not a bool)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def real_number(value: object, name: str) -> float:
    """A finite Python or NumPy real number as a float (bools and SymPy numbers refused:
    TypeError; inf, NaN and ints beyond float range: ValueError naming ``name``)."""
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(f"{name} must be a finite real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return v


def flag(value: object, name: str) -> bool:
    """A real bool (``'False'``, ``0``, ``np.bool_`` are rejected)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} ({value!r})")
    return value


def conv_operands(x: object, weight: object, bias: object, ndim: int) -> None:
    """Input ``(N, C_in, *spatial)``, weight ``(C_out, C_in, *kernel)`` (groups 1) and optional
    bias ``(C_out,)`` of one float dtype, for the matrix-form convolutions."""
    array(x, "x", ndim, empty_ok=(0,))
    array(weight, "weight", ndim, x.dtype, like="x")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels, weight expects {weight.shape[1]}")
    if bias is not None:
        array(bias, "bias", 1, x.dtype, like="x")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")


@dataclass(frozen=True)
class ConvGeometry:
    """A checked convolution (or transposed convolution), everything per spatial axis.

    ``pad`` holds ``(before, after)`` (they differ only for ``padding='same'`` with an odd
    total, torch putting the extra zero after). ``in_size``/``out`` are the spatial sizes of
    the input and output; ``full`` is the padded input (forward) or the uncropped output
    (transposed). ``in_channels``/``out_channels`` are those of the call.
    """

    nd: int
    batched: bool
    stride: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int
    kernel: tuple[int, ...]
    in_size: tuple[int, ...]
    out: tuple[int, ...]
    full: tuple[int, ...]
    in_channels: int
    out_channels: int
    output_padding: tuple[int, ...] = ()
    transposed: bool = False

    @property
    def padding(self) -> tuple[int, ...]:
        """Symmetric padding per axis (the ``before`` side)."""
        return tuple(lo for lo, _ in self.pad)


def _padding(value: object, nd: int, kernel, dilation, stride, transposed: bool):
    if isinstance(value, str):
        if transposed:
            raise ValueError(
                f"padding must be an int or a sequence of {nd} ints for a transposed "
                f"convolution (no 'same'/'valid'), got {value!r}"
            )
        if value == "valid":
            return ((0, 0),) * nd
        if value == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"padding='same' is only defined for stride 1 (as in torch), got "
                    f"stride={stride}"
                )
            total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"padding must be 'same', 'valid', an int or ints >= 0, got {value!r}")
    p = ntuple(value, "padding", nd, 0)
    return tuple((v, v) for v in p)


def conv_geometry(
    input: object,
    weight: object,
    bias: object,
    stride: object,
    padding: object,
    dilation: object,
    groups: object,
    nd: int,
    *,
    transposed: bool = False,
    output_padding: object = 0,
    names: tuple[str, str] = ("input", "weight"),
    unbatched: bool = True,
) -> ConvGeometry:
    r"""Check the arguments of an ``nd``-d (transposed) convolution, torch's way.

    Forward: input ``(N, C_in, *I)`` (or ``(C_in, *I)`` when ``unbatched``), weight
    ``(C_out, C_in/G, *K)``, output :math:`O = \lfloor (I + P_{lo} + P_{hi} - D(K-1) - 1)/S
    \rfloor + 1` (counted as the window starts that fit). Transposed: weight
    ``(C_in, C_out/G, *K)``, :math:`O = (I-1)S - 2P + D(K-1) + P_{out} + 1` with
    :math:`P_{out} < \max(S, D)` (torch's rule). ``N = 0`` is accepted; every other size must
    be ≥ 1. Buffers are bounded by :data:`MAX_ELEMENTS`. In the result, a stride is clipped to the
    padded (uncropped) size and the dilation of a size-1 kernel axis set to 1 (the same
    windows).
    """
    xname, wname = names
    ranks = (nd + 1, nd + 2) if unbatched else (nd + 2,)
    if not is_array(input):
        array(input, xname, ranks)  # raises TypeError
    batched = input.ndim == nd + 2
    array(input, xname, ranks, empty_ok=(0,) if batched else ())
    array(weight, wname, nd + 2, input.dtype, like=xname)
    g = integer(groups, "groups", 1)
    s = ntuple(stride, "stride", nd, 1)
    d = ntuple(dilation, "dilation", nd, 1)
    kernel = tuple(int(k) for k in weight.shape[2:])
    pad = _padding(padding, nd, kernel, d, s, transposed)
    in_size = tuple(int(v) for v in input.shape[-nd:])
    c_in = int(input.shape[-nd - 1])
    n = int(input.shape[0]) if batched else 1
    if transposed:
        op = ntuple(output_padding, "output_padding", nd, 0)
        if weight.shape[0] % g:
            raise ValueError(
                f"groups must divide {wname}.shape[0] (in_channels): {wname}.shape[0]="
                f"{weight.shape[0]}, groups={g}"
            )
        if c_in != weight.shape[0]:
            raise ValueError(
                f"{xname} has {c_in} channels but {wname} expects in_channels = "
                f"{wname}.shape[0] = {weight.shape[0]}"
            )
        c_out = int(weight.shape[1]) * g
        for axis in range(nd):
            if op[axis] >= max(s[axis], d[axis]):
                raise ValueError(
                    f"output_padding must be smaller than stride or dilation (torch's rule): "
                    f"output_padding={op}, stride={s}, dilation={d}"
                )
        full = tuple(
            (i - 1) * st + dl * (k - 1) + o + 1
            for i, st, dl, k, o in zip(in_size, s, d, kernel, op, strict=True)
        )
        bounded(n * c_out * math.prod(full), "the uncropped output", "stride, dilation")
        out = tuple(f - lo - hi for f, (lo, hi) in zip(full, pad, strict=True))
        if min(out) < 1:
            raise ValueError(
                f"output size < 1: (size-1)*stride - 2*padding + dilation*(kernel_size-1) + "
                f"output_padding + 1 = {out} for {xname} size {in_size}, padding={padding!r}, "
                f"{wname} kernel {kernel}"
            )
    else:
        op = (0,) * nd
        if weight.shape[0] % g:
            raise ValueError(
                f"groups must divide out_channels: {wname}.shape[0]={weight.shape[0]}, groups={g}"
            )
        if c_in != weight.shape[1] * g:
            raise ValueError(
                f"{xname} has {c_in} channels but {wname} expects in_channels = "
                f"{wname}.shape[1]*groups = {weight.shape[1]}*{g} = {weight.shape[1] * g}"
            )
        c_out = int(weight.shape[0])
        full = tuple(i + lo + hi for i, (lo, hi) in zip(in_size, pad, strict=True))
        pad_name = "padding (= 'same' for this dilation)" if isinstance(padding, str) else "padding"
        bounded(n * c_in * math.prod(full), "the padded input", pad_name)
        out = []
        for axis in range(nd):
            span = d[axis] * (kernel[axis] - 1) + 1
            starts = range(0, full[axis] - span + 1, s[axis])  # every window that fits
            if len(starts) == 0:
                raise ValueError(
                    f"output size < 1 along spatial axis {axis}: the {wname} kernel "
                    f"{kernel[axis]} with dilation {d[axis]} spans {span}, more than the "
                    f"padded {xname} ({in_size[axis]} + padding {pad[axis][0]} + "
                    f"{pad[axis][1]})"
                )
            out.append(len(starts))
        out = tuple(out)
        # the reference's window einsum may copy the unfolded input (im2col size)
        bounded(n * c_in * math.prod(out) * math.prod(kernel), "the unfolded input", pad_name)
    if bias is not None:
        array(bias, "bias", 1, input.dtype, like=xname)
        if bias.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},) (out_channels), got {bias.shape}")
    bounded(n * c_out * math.prod(out), "the output", "padding")
    # A stride beyond the padded input (forward) or uncropped output (transposed) only occurs
    # where there is a single window, and the dilation of a size-1 kernel axis is unused:
    # clip both so that huge values never reach a stride computation (same windows).
    s = tuple(min(v, f) for v, f in zip(s, full, strict=True))
    d = tuple(1 if k == 1 else v for v, k in zip(d, kernel, strict=True))
    return ConvGeometry(
        nd, batched, s, pad, d, g, kernel, in_size, out, full, c_in, c_out, op, transposed
    )
