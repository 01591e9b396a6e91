r"""Philox-4x32-10 in NumPy, bit for bit the generator behind Triton's ``tl.randint`` and
``tl.rand``, so that a mask drawn on the GPU (:mod:`kernels.gpu.dropout`) is reproduced on the
CPU (:func:`kernels.cpu.dropout.philox_dropout`).

**The bijection** (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC 2011, §3.3; the Random123 reference). A counter :math:`(c_0, c_1, c_2, c_3)` and a key
:math:`(k_0, k_1)` of 32-bit words go through 10 rounds of

.. math::
    (c_0, c_1, c_2, c_3) \leftarrow
    \big(\mathrm{hi}(B c_2) \oplus c_1 \oplus k_0,\ \mathrm{lo}(B c_2),\
         \mathrm{hi}(A c_0) \oplus c_3 \oplus k_1,\ \mathrm{lo}(A c_0)\big)

with :math:`A` = ``0xD2511F53``, :math:`B` = ``0xCD9E8D57``, ``hi``/``lo`` the upper and lower
32 bits of the 64-bit product, and the key bumped by the Weyl constants ``0x9E3779B9``,
``0xBB67AE85`` (mod :math:`2^{32}`) after each round. The published known-answer vectors of
Random123 (``kat_vectors``: counters 0…0, f…f and the digits of π) pin this implementation
(``tests/test_philox.py``).

**Triton's use of it** (``triton/language/random.py``, the same in Triton 3.6 and 3.9):
``tl.randint(seed, offset)`` takes the counter :math:`(\mathrm{lo}(o), \mathrm{hi}(o), 0, 0)`
of the offset :math:`o` (its upper word is 0 for 32-bit offsets) and the key
:math:`(\mathrm{lo}(s), \mathrm{hi}(s))` of the 64-bit seed :math:`s`, and returns the first
output word as an ``int32``. ``tl.rand`` maps that word :math:`x` to float32 by
:math:`u = \mathrm{fl}(\mathrm{fl}(x')\cdot\mathrm{fl}(4.6566127342\times10^{-10}))` with
:math:`x' = x` for :math:`x \ge 0` and :math:`x' = \lnot x = -x-1` otherwise, so
:math:`x' \in [0, 2^{31})` uniformly and :math:`u \in [0, 1)` (the scale is the largest float
below :math:`2^{-31}` for which :math:`(2^{31}-1)\cdot\text{scale}` rounds below 1). Every
step is exactly rounded float32 arithmetic, which NumPy reproduces.

Domain: seeds are integers in :math:`[0, 2^{63})` (Triton passes a Python int as a signed
64-bit kernel argument), offsets integers in :math:`[0, 2^{63})`; arrays of offsets any shape,
bounded by :data:`kernels.cpu._check.MAX_ELEMENTS`.
"""

from __future__ import annotations

import numbers

import numpy as np

from kernels.cpu._check import bounded, is_array

__all__ = [
    "KAT_PHILOX4X32_10",
    "keep_probability",
    "philox4x32",
    "rand",
    "randint",
]

_A, _B = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_KEY_A, _KEY_B = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SCALE = np.float32(4.6566127342e-10)  # tl.rand's scale, rounded to float32 as Triton does

#: Random123's known answers for Philox-4x32 with 10 rounds: (counter, key, output), words in
#: Random123's order (``examples/kat_vectors`` of the Random123 distribution).
KAT_PHILOX4X32_10: tuple[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...] = (
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
)


def _words(value: object, name: str, count: int) -> np.ndarray:
    """``value`` as a uint32 array of shape ``(..., count)``: integers in ``[0, 2^32)``."""
    if is_array(value):
        arr = value
    elif isinstance(value, list | tuple):
        try:
            arr = np.array(value, dtype=object)
        except ValueError:
            raise ValueError(f"{name} must be a rectangular array of words") from None
    else:
        raise TypeError(
            f"{name} must be a numpy.ndarray or a sequence of {count} 32-bit words, got "
            f"{type(value).__name__}"
        )
    if arr.dtype == object:
        flat = arr.reshape(-1)
        if not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_) for v in flat
        ):
            raise TypeError(f"{name} must hold integers (32-bit words)")
        if any(not 0 <= int(v) < 2**32 for v in flat):
            raise ValueError(f"{name} must hold 32-bit words: integers in [0, 2**32)")
        arr = arr.astype(np.uint64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype (32-bit words), got {arr.dtype}")
    elif arr.size and (int(arr.min()) < 0 or int(arr.max()) >= 2**32):
        raise ValueError(f"{name} must hold 32-bit words: integers in [0, 2**32)")
    if arr.ndim < 1 or arr.shape[-1] != count:
        raise ValueError(f"{name} must have shape (..., {count}), got {arr.shape}")
    bounded(arr.size, "the array", name)
    return arr.astype(np.uint32)


def _rounds(value: object) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"rounds must be an integer in [1, 16], got {type(value).__name__}")
    if not 1 <= int(value) <= 16:
        raise ValueError(f"rounds must be an integer in [1, 16], got {value}")
    return int(value)


def _philox(c: list[np.ndarray], k0: np.ndarray, k1: np.ndarray, rounds: int) -> list[np.ndarray]:
    """The rounds on uint32 word arrays (broadcast against each other)."""
    c0, c1, c2, c3 = (w.astype(np.uint64) for w in c)
    k0, k1 = k0.astype(np.uint32), k1.astype(np.uint32)
    for _ in range(rounds):
        p0, p1 = _A * c0, _B * c2  # exact in uint64: both factors < 2^32
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ k0.astype(np.uint64),
            p1 & _MASK32,
            (p0 >> np.uint64(32)) ^ c3 ^ k1.astype(np.uint64),
            p0 & _MASK32,
        )
        with np.errstate(over="ignore"):
            k0, k1 = k0 + _KEY_A, k1 + _KEY_B  # mod 2^32
    return [w.astype(np.uint32) for w in (c0, c1, c2, c3)]


def philox4x32(counter: object, key: object, rounds: int = 10) -> np.ndarray:
    r"""Philox-4x32 with ``rounds`` rounds (10 is the standard and Triton's default):
    ``counter`` ``(..., 4)`` and ``key`` ``(..., 2)`` of 32-bit words (arrays or sequences,
    broadcast against each other) to the ``(..., 4)`` uint32 output.

    >>> hex(int(philox4x32([0, 0, 0, 0], [0, 0])[0]))
    '0x6627e8d5'
    """
    c = _words(counter, "counter", 4)
    k = _words(key, "key", 2)
    r = _rounds(rounds)
    try:
        shape = np.broadcast_shapes(c.shape[:-1], k.shape[:-1])
    except ValueError:
        raise ValueError(
            f"counter {c.shape} and key {k.shape} must broadcast in their leading axes"
        ) from None
    bounded(int(np.prod(shape, dtype=np.int64)) * 4, "the output", "counter")
    out = _philox([c[..., i] for i in range(4)], k[..., 0], k[..., 1], r)
    return np.stack([np.broadcast_to(w, shape) for w in out], axis=-1)


def _seed(value: object) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be an integer in [0, 2**63), got {type(value).__name__}")
    if not 0 <= int(value) < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {value}")
    return int(value)


def _offsets(value: object) -> np.ndarray:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        value = np.array(int(value), dtype=object)
    elif not is_array(value):
        raise TypeError(
            f"offset must be an integer or a numpy.ndarray of integers, got {type(value).__name__}"
        )
    arr = value
    if arr.dtype == object:
        if not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)
            for v in arr.reshape(-1)
        ):
            raise TypeError("offset must hold integers")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"offset must have an integer dtype, got {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= 2**63):
        raise ValueError("offset must hold integers in [0, 2**63)")
    bounded(arr.size, "the array", "offset")
    return arr.astype(np.uint64)


def randint(seed: int, offset: int | np.ndarray) -> np.ndarray:
    r"""``tl.randint(seed, offset)``: the first Philox-4x32-10 word of counter
    :math:`(\mathrm{lo}(o), \mathrm{hi}(o), 0, 0)` under key :math:`(\mathrm{lo}(s),
    \mathrm{hi}(s))`, as ``int32`` (same shape as ``offset``)."""
    s = _seed(seed)
    o = _offsets(offset)
    lo, hi = (o & _MASK32).astype(np.uint32), (o >> np.uint64(32)).astype(np.uint32)
    zero = np.zeros_like(lo)
    k0, k1 = np.uint32(s & 0xFFFFFFFF), np.uint32(s >> 32)
    word = _philox([lo, hi, zero, zero], np.asarray(k0), np.asarray(k1), 10)[0]
    return word.view(np.int32).reshape(o.shape)


def _to_uniform(x: np.ndarray) -> np.ndarray:
    """tl.rand's int32 -> float32 map: ``~x`` for negative words, then one float32 product."""
    x = np.where(x < 0, ~x, x)
    return x.astype(np.float32) * _SCALE


def rand(seed: int, offset: int | np.ndarray) -> np.ndarray:
    r"""``tl.rand(seed, offset)``: float32 uniforms in :math:`[0, 1)`, bit for bit (see the
    module docstring for the map from the Philox word)."""
    return _to_uniform(randint(seed, offset))


def keep_probability(p: float) -> float:
    r"""The exact probability that one ``tl.rand`` draw :math:`u` satisfies
    :math:`u \ge \mathrm{fl}(p)` (float32 ``p``): dropout's keep probability under the rule
    *keep iff* :math:`u \ge p` of :mod:`kernels.gpu.dropout`. It is
    :math:`(2^{31} - k^*)/2^{31}` with :math:`k^*` the smallest :math:`x' \in [0, 2^{31})` whose
    uniform reaches :math:`\mathrm{fl}(p)` (the map is monotone, so a bisection finds it), and
    differs from :math:`1 - p` by rounding only (:math:`< 2^{-23}`); ``p = 0`` keeps always.
    (Triton's tutorial rule :math:`u > p` would drop with probability :math:`2^{-31}` at
    :math:`p = 0`, where torch never drops.)

    ``p``: a real number in :math:`[0, 1]`.
    """
    if isinstance(p, bool | np.bool_) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"p must be a real number in [0, 1], got {p!r}")
    threshold = np.float32(p)
    lo, hi = 0, 2**31  # the answer k* lies in [lo, hi]; hi means no draw reaches it
    while lo < hi:
        mid = (lo + hi) // 2
        if _to_uniform(np.array([mid], dtype=np.int32))[0] >= threshold:
            hi = mid
        else:
            lo = mid + 1
    return (2**31 - lo) / 2**31
