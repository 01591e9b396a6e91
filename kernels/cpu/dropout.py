r"""Dropout and its variants in NumPy, forward and backward, with a seeded
``numpy.random.Generator``: standard dropout, channel-wise (spatial) dropout with torch's
shapes, DropConnect, stochastic depth (torchvision's semantics) and DropBlock.

**Convention.** ``p`` is the **drop** probability everywhere in this module (torch's and
000's convention); :math:`q = 1 - p` is the keep probability (002's model writes
:math:`r\sim\mathrm{Bernoulli}(p),\ y = r\odot x/p` with *its* :math:`p` the keep
probability, i.e. 002's model is ``dropout(x, p=1-q)`` here). The scaling is **inverted
dropout** (torch's): in training a kept unit is multiplied by :math:`s = 1/(1-p)`, so

.. math:: y_i = \frac{r_i}{1-p}\,x_i,\quad r_i\sim\mathrm{Bernoulli}(1-p)\ \text{i.i.d.},
          \qquad \mathbb E[y_i] = x_i,\quad
          \operatorname{Var}[y_i] = \frac{p}{1-p}\,x_i^2,

and evaluation (``training=False``) is the identity (a copy). *Classic* dropout (Srivastava
et al. 2014, §1-§2: no scaling in training, weights multiplied by the keep probability at test
time) gives the same expectations; it is not implemented here. Numerically, a kept value is
``x * s`` with ``s = fl(1/(1-p))`` computed once in float64 (torch's arithmetic: it scales the
noise tensor, then multiplies), which differs from ``x / (1-p)`` by at most one rounding.

**p = 1 is refused** (``ValueError`` naming ``p``): :math:`1/(1-p)` does not exist, torch
returns zeros (and torchvision's ``stochastic_depth`` returns zeros without scaling). This is a
deliberate difference from torch; a test pins torch's zeros.

**Generators.** ``generator`` must be a ``numpy.random.Generator`` (``TypeError`` naming it
otherwise, e.g. for an int seed, a legacy ``RandomState`` or a ``torch.Generator``); ``None``
means a fresh ``numpy.random.default_rng()``. Masks are drawn as
``generator.random(shape) >= p`` (a kept unit has probability :math:`1-p` up to the 2^-53 grid
of the uniform draw), in C order of the mask's shape, so a given generator state yields the same
mask whatever the memory layout of the input.

**Masks.** With ``return_mask=True`` the functions return ``(output, mask)``: a ``bool`` array
(True = kept) whose shape broadcasts against the input (the input's shape for
:func:`dropout`, ``(N, C, 1, 1)`` for :func:`dropout2d`, ``(N, 1, ..., 1)`` for
:func:`stochastic_depth` in ``"row"`` mode, ...), or ``None`` when ``training=False`` (nothing
was dropped; :func:`dropout_backward` then returns the gradient unchanged).

**The GPU kernel's twin.** :func:`philox_dropout` and :func:`philox_dropout_mask` draw their
masks from ``(seed, offset)`` with Philox-4x32-10 exactly as Triton's ``tl.rand`` does
(:mod:`kernels.cpu.philox`), so they reproduce :func:`kernels.gpu.dropout.dropout` bit for bit.

**Variants.**

* :func:`dropout1d`, :func:`dropout2d`, :func:`dropout3d` — channel-wise ("spatial") dropout
  (Tompson et al. 2015): one Bernoulli draw per (sample, channel), shared over the spatial
  axes. Shapes as torch 2.13: ``dropout1d`` takes ``(N, C, L)`` or unbatched ``(C, L)``;
  ``dropout3d`` takes ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``; ``dropout2d`` takes
  ``(N, C, H, W)`` and, **as torch 2.13 does, treats a 3-D input as** ``(N, C, L)``
  (channel-wise 1-D dropout; torch warns that this will change to unbatched ``(C, H, W)``).
  The ranks torch only accepts with a deprecation warning (``dropout2d`` on 2-D/5-D,
  ``dropout3d`` on 3-D/6-D) are refused with ``ValueError`` naming ``input``.
* :func:`dropconnect_linear` — DropConnect (Wan et al. 2013) on a linear layer:
  :math:`y = x\,(M\odot W/(1-p))^\top + b`, :math:`M_{ij}\sim\mathrm{Bernoulli}(1-p)`
  (inverted scaling as 000 writes it; Wan et al. train without the factor and use a Gaussian
  moment-matching inference). :math:`\mathbb E[\tilde W] = W`,
  :math:`\operatorname{Var}[(\tilde W x)_i] = \frac{p}{1-p}\sum_j W_{ij}^2x_j^2`, and distinct
  outputs are uncorrelated (their weights are masked independently).
* :func:`stochastic_depth` — torchvision's ``ops.stochastic_depth`` (Huang et al. 2016).
* :func:`drop_block2d`, :func:`drop_block3d` — DropBlock (Ghiasi et al. 2018), torchvision's
  arguments and normalization; backward :func:`drop_block_backward`.

References: N. Srivastava et al. (2014), *Dropout: A Simple Way to Prevent Neural Networks from
Overfitting*, JMLR 15; J. Tompson et al. (2015), *Efficient Object Localization Using
Convolutional Networks*, CVPR (SpatialDropout); L. Wan et al. (2013), *Regularization of
Neural Networks using DropConnect*, ICML; G. Huang et al. (2016), *Deep Networks with
Stochastic Depth*, ECCV; G. Ghiasi, T.-Y. Lin, Q. V. Le (2018), *DropBlock: A regularization
method for convolutional networks*, NeurIPS; torch ``torch.nn.functional.dropout``/
``dropout1d``/``dropout2d``/``dropout3d`` (2.13); torchvision ``torchvision/ops/
stochastic_depth.py`` and ``torchvision/ops/drop_block.py``. Documents:
``000_160a0b7c04e12fc6.txt`` § Dropout and Regularization Layers,
``002_532ac369c9b692e7.txt`` § Dropout Theory.

Work is bounded: every mask, output and per-sample weight buffer has at most
``kernels.cpu._check.MAX_ELEMENTS`` (2**27) elements (``ValueError`` naming the argument).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kernels.cpu import philox
from kernels.cpu._check import (
    FLOAT_DTYPES,
    MAX_ELEMENTS,
    array,
    bounded,
    flag,
    integer,
    is_array,
    not_array,
    real_number,
)
from numerics.opcount import counted_einsum

__all__ = [
    "MAX_NDIM",
    "STOCHASTIC_DEPTH_MODES",
    "drop_block2d",
    "drop_block3d",
    "drop_block_backward",
    "dropconnect_linear",
    "dropconnect_linear_backward",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "dropout_backward",
    "dropout_mask",
    "philox_dropout",
    "philox_dropout_mask",
    "stochastic_depth",
]

STOCHASTIC_DEPTH_MODES = ("row", "batch")
"""The modes of :func:`stochastic_depth` (torchvision's)."""

MAX_NDIM = 32
"""Largest rank of an input (NumPy's own limit is 64; torch's dropout accepts any)."""


# Argument checks ---------------------------------------------------------------------------


def _p(value: object, name: str = "p") -> float:
    """A drop probability in [0, 1) (p = 1 refused: 1/(1-p) does not exist)."""
    v = real_number(value, name)
    if not 0.0 <= v < 1.0:
        extra = (
            " (p = 1 drops everything and 1/(1-p) does not exist; torch returns zeros, "
            "this kernel refuses it)"
            if v == 1.0
            else ""
        )
        raise ValueError(f"{name} must be a drop probability in [0, 1), got {value!r}{extra}")
    return v


def _generator(value: object) -> np.random.Generator:
    if value is None:
        return np.random.default_rng()
    if not isinstance(value, np.random.Generator):
        raise TypeError(
            "generator must be a numpy.random.Generator or None (not a seed, a legacy "
            f"RandomState or a torch.Generator), got {type(value).__name__}"
        )
    return value


def _any_array(value: object, name: str, min_ndim: int = 0) -> np.ndarray:
    """A float32/float64 array of rank in [min_ndim, MAX_NDIM]; zero-size axes allowed."""
    if not is_array(value):
        raise not_array(value, name)
    ranks = tuple(range(min_ndim, MAX_NDIM + 1))
    return array(value, name, ranks, empty_ok=tuple(range(value.ndim)))


def _shape(value: object, name: str = "shape") -> tuple[int, ...]:
    """An int or a tuple/list of ints >= 0 (NumPy integers accepted, bools refused)."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not isinstance(value, list | tuple | numbers.Integral) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an int or a tuple of ints >= 0, got {value!r}")
    if len(items) > MAX_NDIM:
        raise ValueError(f"{name} must have at most {MAX_NDIM} entries, got {len(items)}")
    out = []
    for v in items:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a tuple of ints >= 0, got {value!r}")
        if int(v) < 0:
            raise ValueError(f"{name} must hold ints >= 0, got {value!r}")
        out.append(int(v))
    bounded(math.prod(out), "the mask", name)
    return tuple(out)


def _mask_array(value: object, name: str, target: tuple[int, ...]) -> np.ndarray:
    """A bool mask that broadcasts to ``target`` without changing it."""
    if not is_array(value):
        raise not_array(value, name, "a bool numpy.ndarray or None")
    if value.dtype != np.bool_:
        raise TypeError(f"{name} must have dtype bool (True = kept), got {value.dtype}")
    ok = value.ndim <= len(target)
    if ok:
        try:
            ok = np.broadcast_shapes(value.shape, target) == target
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"{name} of shape {value.shape} must broadcast to grad_output's shape {target}"
        )
    return value


def _scaled(x: np.ndarray, mask: np.ndarray, scale: float) -> np.ndarray:
    """``x * (mask * s)`` in x's dtype, always an ndarray (also for 0-d x)."""
    factor = mask.astype(x.dtype) * x.dtype.type(scale)
    return np.multiply(x, factor, out=np.empty(x.shape, x.dtype))


def _copy(x: np.ndarray) -> np.ndarray:
    return np.array(x, dtype=x.dtype, order="C", copy=True)


# Standard dropout ------------------------------------------------------------------------


def dropout_mask(
    shape: int | tuple[int, ...], p: float, *, generator: np.random.Generator | None = None
) -> np.ndarray:
    r"""A Bernoulli keep mask: ``bool`` array of ``shape``, True (kept) with probability
    :math:`1-p`, entries independent.

    :math:`r_i \sim \mathrm{Bernoulli}(1-p)` with ``p`` the **drop** probability (torch's and
    000's convention; 002's :math:`r\sim\mathrm{Bernoulli}(p)` has its :math:`p` = keep
    probability, i.e. ``dropout_mask(shape, 1 - p_002)``). Drawn as
    ``generator.random(shape) >= p``.

    Parameters
    ----------
    shape:
        An int or a tuple/list of ints >= 0 (at most ``MAX_ELEMENTS`` = 2**27 elements).
    p:
        Drop probability in [0, 1).
    generator:
        A ``numpy.random.Generator`` or None (a fresh ``default_rng()``).
    """
    shape_t = _shape(shape)
    q = _p(p)
    gen = _generator(generator)
    return gen.random(shape_t) >= q


def _dropout_with(x, p, training, generator, return_mask, mask_shape):
    if not training:
        return (_copy(x), None) if return_mask else _copy(x)
    bounded(math.prod(mask_shape), "the mask", "input")
    mask = _generator(generator).random(mask_shape) >= p
    out = _scaled(x, mask, 1.0 / (1.0 - p))
    return (out, mask) if return_mask else out


def dropout(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    r"""Inverted dropout, ``torch.nn.functional.dropout``: element-wise
    :math:`y = r\odot x/(1-p)`, :math:`r_i\sim\mathrm{Bernoulli}(1-p)` i.i.d. (Srivastava et
    al. 2014 with torch's inverted scaling); identity copy when ``training=False``.

    :math:`\mathbb E[y] = x` and :math:`\operatorname{Var}[y_i] = \frac{p}{1-p}x_i^2`; the
    noise factor :math:`r_i/(1-p)` has mean 1 and variance :math:`p/(1-p)`. A fresh mask is
    drawn on every call (from ``generator``'s stream).

    Parameters
    ----------
    input:
        float32/float64 array of any rank (0 to 32; empty axes allowed).
    p:
        Drop probability in [0, 1) (p = 1 refused; torch returns zeros).
    training:
        True to drop, False for the identity (a copy).
    generator:
        A ``numpy.random.Generator`` or None (a fresh ``default_rng()``).
    return_mask:
        Also return the ``bool`` mask of ``input``'s shape (``None`` when not training).
    """
    x = _any_array(input, "input")
    q = _p(p)
    training = flag(training, "training")
    gen = _generator(generator)
    return_mask = flag(return_mask, "return_mask")
    return _dropout_with(x, q, training, gen, return_mask, x.shape)


def _float_array(value: object, name: str) -> None:
    """Type and dtype first (the rank is checked by the caller, with its own message)."""
    if not is_array(value):
        raise not_array(value, name)
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")


def _channel_dropout(input, p, training, generator, return_mask, nd: int, fname: str):
    _float_array(input, "input")
    ranks = (3, 4) if nd == 2 else (nd + 1, nd + 2)
    if input.ndim not in ranks:
        shapes = {
            1: "(N, C, L) or unbatched (C, L)",
            2: "(N, C, H, W), or 3-D read as (N, C, L) as torch 2.13 does",
            3: "(N, C, D, H, W) or unbatched (C, D, H, W)",
        }[nd]
        raise ValueError(
            f"input of {fname} must be {shapes}; got shape {input.shape} (ranks that torch "
            "only accepts with a deprecation warning are refused here: use dropout)"
        )
    batched = input.ndim == nd + 2 or nd == 2
    x = array(input, "input", ranks, empty_ok=(0, 1) if batched else (0,))
    q = _p(p)
    training = flag(training, "training")
    gen = _generator(generator)
    return_mask = flag(return_mask, "return_mask")
    lead = 2 if batched else 1
    mask_shape = x.shape[:lead] + (1,) * (x.ndim - lead)
    return _dropout_with(x, q, training, gen, return_mask, mask_shape)


def dropout1d(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    r"""Channel-wise dropout on ``(N, C, L)`` or unbatched ``(C, L)`` input
    (``torch.nn.functional.dropout1d``): :math:`y_{n,c,:} = r_{n,c}\,x_{n,c,:}/(1-p)`,
    :math:`r_{n,c}\sim\mathrm{Bernoulli}(1-p)` i.i.d. per (sample, channel) and shared along
    ``L`` (Tompson et al. 2015). Mask shape ``(N, C, 1)`` (``(C, 1)`` unbatched).
    Arguments as :func:`dropout`.
    """
    return _channel_dropout(input, p, training, generator, return_mask, 1, "dropout1d")


def dropout2d(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    r"""Channel-wise ("spatial") dropout on ``(N, C, H, W)`` (``torch.nn.functional.dropout2d``,
    ``nn.Dropout2d``): :math:`\tilde Y[n, c] = r_{n,c}\,Y[n, c]/(1-p)` with one
    :math:`r_{n,c}\sim\mathrm{Bernoulli}(1-p)` per (sample, channel), shared over
    :math:`H\times W` (Tompson et al. 2015). Mask shape ``(N, C, 1, 1)``.

    **3-D input**: read as ``(N, C, L)`` — channel-wise 1-D dropout, mask ``(N, C, 1)`` —
    exactly as torch 2.13 does (it warns that a future release will read it as unbatched
    ``(C, H, W)``); call :func:`dropout1d` for that behaviour without ambiguity, or add the
    batch axis for an unbatched image. 2-D and 5-D inputs (deprecated in torch) are refused.
    Arguments as :func:`dropout`.
    """
    return _channel_dropout(input, p, training, generator, return_mask, 2, "dropout2d")


def dropout3d(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    r"""Channel-wise dropout on ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``
    (``torch.nn.functional.dropout3d``): one :math:`r_{n,c}\sim\mathrm{Bernoulli}(1-p)` per
    (sample, channel), shared over the three spatial axes. Mask ``(N, C, 1, 1, 1)``
    (``(C, 1, 1, 1)`` unbatched). Arguments as :func:`dropout`.
    """
    return _channel_dropout(input, p, training, generator, return_mask, 3, "dropout3d")


# The GPU kernel's twin: masks from Philox (seed, offset) --------------------------------


def philox_dropout_mask(
    shape: int | tuple[int, ...], p: float, *, seed: int, offset: int = 0
) -> np.ndarray:
    r"""The keep mask of :func:`kernels.gpu.dropout.dropout`, bit for bit: element :math:`i`
    (row-major in ``shape``) is kept iff :math:`u_i \ge \mathrm{fl}_{32}(p)` with
    :math:`u_i` = :func:`kernels.cpu.philox.rand` ``(seed, offset + i)`` (Triton's ``tl.rand``).
    Its keep probability is exactly :func:`kernels.cpu.philox.keep_probability` ``(p)``.

    ``shape``: an int or a tuple of ints >= 0 (at most ``MAX_ELEMENTS`` elements); ``p``: the
    drop probability in [0, 1); ``seed``, ``offset``: integers in :math:`[0, 2^{63})` with
    ``offset + size`` :math:`\le 2^{63}`.
    """
    shape_t = _shape(shape)
    q = _philox_p(p)
    s, o = _philox_counter(seed, offset, math.prod(shape_t))
    u = philox.rand(s, np.arange(math.prod(shape_t), dtype=np.uint64) + np.uint64(o))
    return (u >= np.float32(q)).reshape(shape_t)


def _philox_p(value: object) -> float:
    """A drop probability in [0, 1) whose float32 value is below 1 (the GPU kernel compares
    float32 uniforms with fl32(p): p = 1 - 1e-9 would drop every unit)."""
    q = _p(value)
    if np.float32(q) == 1.0:
        raise ValueError(
            f"p must be a drop probability whose float32 value is below 1, got {value!r}, which "
            "rounds to 1.0: every unit would be dropped"
        )
    return q


def _philox_counter(seed: object, offset: object, n: int) -> tuple[int, int]:
    for name, v in (("seed", seed), ("offset", offset)):
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an integer in [0, 2**63), got {type(v).__name__}")
        if not 0 <= int(v) < 2**63:
            raise ValueError(f"{name} must be an integer in [0, 2**63), got {v}")
    if int(offset) + n > 2**63:
        raise ValueError(f"offset: offset + size must stay below 2**63, got {offset} + {n}")
    return int(seed), int(offset)


def philox_dropout(
    input: np.ndarray,
    p: float = 0.5,
    training: bool = True,
    *,
    seed: int,
    offset: int = 0,
    return_mask: bool = False,
):
    r"""Inverted dropout with the mask of :func:`philox_dropout_mask`: the NumPy twin of
    :func:`kernels.gpu.dropout.dropout`, equal to it bit for bit (float32 and float64 inputs:
    ``x * (m * fl(1/(1-p)))`` in the input's dtype, as the kernel computes). The backward is
    :func:`dropout_backward` with the returned mask.

    ``input``: float32/float64 array of any rank; other arguments as
    :func:`philox_dropout_mask`; ``training=False`` is the identity (a copy).
    """
    x = _any_array(input, "input")
    q = _philox_p(p)
    training = flag(training, "training")
    s, o = _philox_counter(seed, offset, x.size)
    return_mask = flag(return_mask, "return_mask")
    if not training:
        return (_copy(x), None) if return_mask else _copy(x)
    mask = philox_dropout_mask(x.shape, q, seed=s, offset=o)
    out = _scaled(x, mask, 1.0 / (1.0 - q))
    return (out, mask) if return_mask else out


def dropout_backward(grad_output: np.ndarray, mask: np.ndarray | None, p: float) -> np.ndarray:
    r"""Backward of (channel-wise) dropout and of :func:`stochastic_depth`:
    :math:`\partial L/\partial x = g\odot r/(1-p)` with the forward's mask :math:`r` broadcast
    against ``grad_output`` (the forward is linear in :math:`x` for a fixed mask).

    Parameters
    ----------
    grad_output:
        float32/float64 array :math:`g` of the forward output's shape.
    mask:
        The forward's ``bool`` mask (any shape that broadcasts to ``grad_output``'s without
        changing it), or ``None`` (evaluation mode: the gradient is returned unchanged, as a
        copy).
    p:
        The forward's drop probability in [0, 1).
    """
    g = _any_array(grad_output, "grad_output")
    if mask is not None:
        mask = _mask_array(mask, "mask", g.shape)
    q = _p(p)
    if mask is None:
        return _copy(g)
    return _scaled(g, mask, 1.0 / (1.0 - q))


# DropConnect -----------------------------------------------------------------------------


def _linear_operands(input, weight, bias):
    x = _any_array(input, "input", min_ndim=1)
    if not is_array(weight):
        raise not_array(weight, "weight")
    w = array(weight, "weight", 2, x.dtype, like="input")
    if x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"input has {x.shape[-1]} features (last axis) but weight expects "
            f"in_features = weight.shape[1] = {w.shape[1]}"
        )
    if bias is not None:
        if not is_array(bias):
            raise not_array(bias, "bias", "a numpy.ndarray or None")
        array(bias, "bias", 1, x.dtype, like="input")
        if bias.shape != (w.shape[0],):
            raise ValueError(
                f"bias must have shape ({w.shape[0]},) (out_features), got {bias.shape}"
            )
    return x, w


def dropconnect_linear(
    input: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    p: float = 0.5,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    per_sample: bool = False,
    return_mask: bool = False,
):
    r"""DropConnect on a linear layer (Wan et al. 2013, with inverted scaling as 000 writes it):

    .. math:: y = x\,\tilde W^\top + b,\qquad \tilde W = M\odot W/(1-p),\qquad
              M_{ij}\sim\mathrm{Bernoulli}(1-p)\ \text{i.i.d.}

    so :math:`\mathbb E[\tilde W] = W`, :math:`\mathbb E[y] = xW^\top + b`,
    :math:`\operatorname{Var}[y_i] = \frac{p}{1-p}\sum_j W_{ij}^2x_j^2` and
    :math:`\operatorname{Cov}[y_i, y_k] = 0` for :math:`i\ne k` (each row of :math:`W` has its
    own mask entries; contrast dropout on :math:`x`, which correlates the outputs through the
    shared :math:`r_j`). The bias is not masked. Evaluation: :math:`y = xW^\top + b`.

    ``per_sample=False`` draws **one** weight mask ``(out, in)`` shared by the whole batch (one
    GEMM, ``out·in`` draws). ``per_sample=True`` draws one mask per row of the batch
    (Wan et al.'s per-example masks): mask ``(*batch, out, in)``, i.e. ``B·out·in`` random draws
    and memory for ``B = prod(batch)``, and a batched matrix-vector product instead of one GEMM
    (the same ``B·out·in`` MACs, far slower in practice). For one row both are the same.

    Parameters
    ----------
    input:
        float32/float64 array ``(*batch, in)`` (rank >= 1; empty batch allowed).
    weight:
        ``(out, in)`` of ``input``'s dtype (``nn.Linear``'s layout).
    bias:
        ``(out,)`` or None.
    p:
        Drop probability of each weight, in [0, 1).
    training, generator, return_mask:
        As :func:`dropout`; the mask is ``bool`` ``(out, in)`` or ``(*batch, out, in)``.
    per_sample:
        True for one mask per sample (see above). Masks of more than ``MAX_ELEMENTS`` = 2**27
        elements are refused.
    """
    x, w = _linear_operands(input, weight, bias)
    q = _p(p)
    training = flag(training, "training")
    gen = _generator(generator)
    per_sample = flag(per_sample, "per_sample")
    return_mask = flag(return_mask, "return_mask")
    m_out, n_in = w.shape
    rows = x.reshape(-1, n_in)  # (B, in), B = prod(batch)
    mask = None
    if not training:
        y = counted_einsum("bi,oi->bo", rows, w)
    elif per_sample:
        shape = x.shape[:-1] + w.shape
        bounded(math.prod(shape), "the per-sample weight masks (batch * out * in)", "per_sample")
        mask = gen.random(shape) >= q
        masks = mask.reshape(-1, m_out, n_in)
        wt = _scaled(np.broadcast_to(w, masks.shape), masks, 1.0 / (1.0 - q))
        y = counted_einsum("bi,boi->bo", rows, wt)
    else:
        mask = gen.random(w.shape) >= q
        y = counted_einsum("bi,oi->bo", rows, _scaled(w, mask, 1.0 / (1.0 - q)))
    y = np.asarray(y, dtype=x.dtype).reshape(*x.shape[:-1], m_out)
    if bias is not None:
        y = y + bias
    return (y, mask) if return_mask else y


def dropconnect_linear_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray | None,
    p: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward of :func:`dropconnect_linear` for a given mask: with
    :math:`\tilde W = M\odot W/(1-p)` (per sample when the mask has batch axes),

    .. math:: \frac{\partial L}{\partial x} = g\,\tilde W,\qquad
              \frac{\partial L}{\partial W} = \frac{1}{1-p}\sum_{\text{rows}} M\odot(g^\top x),
              \qquad \frac{\partial L}{\partial b} = \sum_{\text{rows}} g.

    Parameters
    ----------
    grad_output:
        ``(*batch, out)`` in ``input``'s dtype.
    input, weight:
        The forward's operands.
    mask:
        The forward's ``bool`` mask ``(out, in)`` or ``(*batch, out, in)``, or ``None``
        (evaluation mode: the plain linear backward).
    p:
        The forward's drop probability in [0, 1).

    Returns ``(grad_input, grad_weight, grad_bias)`` (``grad_bias`` also when the forward had
    no bias: ignore it then).
    """
    x, w = _linear_operands(input, weight, None)
    if not is_array(grad_output):
        raise not_array(grad_output, "grad_output")
    _float_array(grad_output, "grad_output")
    g = grad_output
    if g.shape != (*x.shape[:-1], w.shape[0]):
        raise ValueError(
            f"grad_output must have shape {(*x.shape[:-1], w.shape[0])} (the batch axes of "
            f"input {x.shape}, then out_features of weight {w.shape}), got {g.shape}"
        )
    if g.dtype != x.dtype:
        raise TypeError(f"grad_output must have input's dtype {x.dtype}, got {g.dtype}")
    if mask is not None:
        if not is_array(mask):
            raise not_array(mask, "mask", "a bool numpy.ndarray or None")
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must have dtype bool (True = kept), got {mask.dtype}")
        if mask.shape not in (w.shape, x.shape[:-1] + w.shape):
            raise ValueError(
                f"mask must have shape {w.shape} (weight's, shared) or "
                f"{x.shape[:-1] + w.shape} (per sample: input's batch axes, then weight's), got "
                f"{mask.shape}"
            )
    q = _p(p)
    m_out, n_in = w.shape
    rows, grads = x.reshape(-1, n_in), g.reshape(-1, m_out)
    grad_bias = grads.sum(axis=0)
    if mask is None:
        grad_rows = counted_einsum("bo,oi->bi", grads, w)
        grad_weight = counted_einsum("bo,bi->oi", grads, rows)
    elif mask.shape == w.shape:
        s = 1.0 / (1.0 - q)
        grad_rows = counted_einsum("bo,oi->bi", grads, _scaled(w, mask, s))
        grad_weight = _scaled(np.asarray(counted_einsum("bo,bi->oi", grads, rows)), mask, s)
    else:
        s = 1.0 / (1.0 - q)
        masks = mask.reshape(-1, m_out, n_in)
        grad_rows = counted_einsum(
            "bo,boi->bi", grads, _scaled(np.broadcast_to(w, masks.shape), masks, s)
        )
        outer = np.asarray(counted_einsum("bo,bi->boi", grads, rows))
        grad_weight = _scaled(outer, masks, s).sum(axis=0)
    grad_input = np.asarray(grad_rows, dtype=x.dtype).reshape(x.shape)
    return grad_input, np.asarray(grad_weight, dtype=x.dtype), grad_bias


# Stochastic depth ------------------------------------------------------------------------


def stochastic_depth(
    input: np.ndarray,
    p: float,
    mode: str,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    r"""Stochastic depth on a residual branch's output, torchvision's
    ``ops.stochastic_depth(input, p, mode, training)`` (torchvision/ops/stochastic_depth.py;
    Huang et al. 2016):

    .. math:: \mathrm{sd}(F) = \frac{b}{1-p}\,F,\qquad b\sim\mathrm{Bernoulli}(1-p),

    ``p`` the probability of **dropping** the branch (Huang et al.'s survival probability is
    :math:`p_l = 1-p`). The block is then :math:`y = x + \mathrm{sd}(F(x))`: a dropped branch
    gives exactly :math:`y = x` (only with an identity shortcut). ``mode="row"``: one draw per
    sample (mask ``(N, 1, ..., 1)``); ``mode="batch"``: one draw for the whole batch (mask
    ``(1, ..., 1)``). Inverted scaling :math:`1/(1-p)` as torchvision (Huang et al. instead
    scale by :math:`p_l` at test time). The kernel only zeroes the branch; "row" mode still
    computes every block for every sample, so it saves no training time. Backward:
    :func:`dropout_backward` with the returned mask.

    Differences from torchvision: ``p = 1`` is refused (torchvision returns zeros); ``p = 0``
    or ``training=False`` return a copy (torchvision returns ``input`` itself).

    Parameters
    ----------
    input:
        float32/float64 ``(N, ...)``, rank >= 1 (``N = 0`` allowed).
    p:
        Drop probability of the branch, in [0, 1).
    mode:
        ``"row"`` or ``"batch"``.
    training, generator, return_mask:
        As :func:`dropout`.
    """
    x = _any_array(input, "input", min_ndim=1)
    q = _p(p)
    if not isinstance(mode, str):
        raise TypeError(f"mode must be one of {STOCHASTIC_DEPTH_MODES}, got {type(mode).__name__}")
    if mode not in STOCHASTIC_DEPTH_MODES:
        raise ValueError(f"mode must be one of {STOCHASTIC_DEPTH_MODES}, got {mode!r}")
    training = flag(training, "training")
    gen = _generator(generator)
    return_mask = flag(return_mask, "return_mask")
    shape = (x.shape[0],) + (1,) * (x.ndim - 1) if mode == "row" else (1,) * x.ndim
    return _dropout_with(x, q, training, gen, return_mask, shape)


# DropBlock -------------------------------------------------------------------------------


def _drop_block(input, p, block_size, inplace, eps, training, generator, return_mask, nd):
    _float_array(input, "input")
    shape_txt = "(N, C, H, W)" if nd == 2 else "(N, C, D, H, W)"
    if input.ndim != nd + 2:
        raise ValueError(
            f"input must be {nd + 2}-D {shape_txt} (torchvision's), got shape {input.shape}"
        )
    x = array(input, "input", nd + 2, empty_ok=(0, 1))
    q = _p(p)
    bs = integer(block_size, "block_size", 1)
    spatial = x.shape[2:]
    if bs > min(spatial):
        raise ValueError(
            f"block_size must be at most the smallest spatial size {min(spatial)} of the input "
            f"{x.shape} (a block must fit inside the map), got {bs}"
        )
    inplace = flag(inplace, "inplace")
    e = real_number(eps, "eps")
    if e < 0:
        raise ValueError(f"eps must be a finite real number >= 0, got {eps!r}")
    training = flag(training, "training")
    gen = _generator(generator)
    return_mask = flag(return_mask, "return_mask")
    if inplace and not x.flags.writeable:
        raise ValueError("input must be writeable when inplace=True (inplace writes into input)")
    bounded(x.size, "the block mask", "input")
    if not training or q == 0.0:
        out = x if inplace else _copy(x)
        mask = None if not training else np.ones(x.shape, dtype=bool)
        return (out, mask, 1.0) if return_mask else out
    valid = tuple(s - bs + 1 for s in spatial)
    gamma = q / bs**nd * math.prod(s / v for s, v in zip(spatial, valid, strict=True))
    starts = gen.random(x.shape[:2] + valid) < gamma
    dropped = starts
    for axis in range(2, nd + 2):  # dilate by the box [a, a + bs - 1] along each axis
        pad = [(0, 0)] * (nd + 2)
        pad[axis] = (bs - 1, bs - 1)
        windows = sliding_window_view(np.pad(dropped, pad), bs, axis=axis)
        dropped = windows.any(axis=-1)
    mask = ~dropped
    kept = int(mask.sum())
    scale = x.size / (e + kept) if kept > 0 else 0.0
    if inplace:
        x *= mask
        x *= x.dtype.type(scale)
        out = x
    else:
        out = _scaled(x, mask, scale)
    return (out, mask, scale) if return_mask else out


_DROP_BLOCK_DOC = r"""

    The block starts :math:`(a, b)` range over the :math:`(H-k+1)(W-k+1)` positions where a
    :math:`k\times k` block (``k = block_size``) fits inside the map; each start is drawn
    independently per (sample, channel) with

    .. math:: \gamma = \frac{p}{k^2}\,\frac{H\,W}{(H-k+1)(W-k+1)}

    (Ghiasi et al. 2018, eq. 1 with ``keep_prob = 1 - p``; torchvision's formula), and the
    dropped set is the union of the blocks :math:`[a, a+k-1]\times[b, b+k-1]`. Pixel
    :math:`(i, j)` is covered by :math:`c(i, j) = c_H(i)\,c_W(j)` starts,
    :math:`c_H(i) = \#\{a : 0 \le a \le H-k,\ a \le i \le a+k-1\}`, so
    :math:`P(\text{drop}) = 1-(1-\gamma)^{c(i,j)}`, below ``p`` in expectation and smallest
    near the borders. The output is :math:`x\odot M\cdot s` with the **realized**
    normalization :math:`s = \mathrm{numel}(M)/(\varepsilon + \sum M)` over the whole batch
    (torchvision's; :math:`s = 0` when nothing is kept, the output then being zeros).

    ``block_size`` may be even (the block is anchored at its start, as above). torchvision
    raises for an even ``block_size`` (since pytorch/vision PR #9157: "block size should be
    odd"; before it, the padded max-pool produced an ``(H+2, W+2)`` mask and a broadcast
    error) and silently clips ``block_size`` to the map; here a ``block_size`` larger than
    the smallest spatial size is refused with ``ValueError`` naming ``block_size``.
    Differences from torchvision besides: ``p = 1`` is refused; ``p = 0`` or
    ``training=False`` return a copy (or ``input`` itself when ``inplace``).

    Parameters
    ----------
    input:
        float32/float64 array of torchvision's rank (``N = 0`` or ``C = 0`` allowed).
    p:
        The requested drop probability in [0, 1) (the realized fraction is smaller).
    block_size:
        An integer :math:`1 \le k \le` the smallest spatial size.
    inplace:
        True to write the result into ``input`` (which must be writeable) and return it.
    eps:
        A finite real number >= 0 added to the kept count in the normalization.
    training:
        True to drop, False for the identity.
    generator:
        A ``numpy.random.Generator`` or None (a fresh ``default_rng()``).
    return_mask:
        Also return the ``bool`` mask (input's shape, True = kept; ``None`` when not training)
        and the scale :math:`s` (1.0 when nothing was dropped): ``(output, mask, scale)``, the
        arguments of :func:`drop_block_backward`.

    Work: the mask has as many elements as ``input`` (at most ``MAX_ELEMENTS`` = 2**27).
    """


def drop_block2d(
    input: np.ndarray,
    p: float,
    block_size: int,
    inplace: bool = False,
    eps: float = 1e-6,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    return _drop_block(input, p, block_size, inplace, eps, training, generator, return_mask, 2)


def drop_block3d(
    input: np.ndarray,
    p: float,
    block_size: int,
    inplace: bool = False,
    eps: float = 1e-6,
    training: bool = True,
    *,
    generator: np.random.Generator | None = None,
    return_mask: bool = False,
):
    return _drop_block(input, p, block_size, inplace, eps, training, generator, return_mask, 3)


drop_block2d.__doc__ = (
    r"""DropBlock on ``(N, C, H, W)`` (Ghiasi et al. 2018), torchvision's
    ``ops.drop_block2d(input, p, block_size, inplace=False, eps=1e-6, training=True)``
    (torchvision/ops/drop_block.py)."""
    + _DROP_BLOCK_DOC
)
drop_block3d.__doc__ = (
    r"""DropBlock on ``(N, C, D, H, W)``, torchvision's ``ops.drop_block3d``: as
    :func:`drop_block2d` with cubes, :math:`\gamma = \frac{p}{k^3}\frac{DHW}{(D-k+1)(H-k+1)(W-k+1)}`
    and :math:`c = c_D c_H c_W`."""
    + _DROP_BLOCK_DOC
)


def drop_block_backward(
    grad_output: np.ndarray, mask: np.ndarray | None, scale: float
) -> np.ndarray:
    r"""Backward of :func:`drop_block2d`/:func:`drop_block3d` for the forward's mask :math:`M`
    and scale :math:`s`: :math:`\partial L/\partial x = s\,g\odot M`. Exact: :math:`s` depends
    on the mask only, not on :math:`x`.

    Parameters
    ----------
    grad_output:
        float32/float64 array of the forward output's shape.
    mask:
        The forward's ``bool`` mask (broadcasting to ``grad_output``), or ``None`` (evaluation
        mode: :math:`g\cdot s`).
    scale:
        The forward's scale, a real number in [0, ``MAX_ELEMENTS``] (the forward's
        :math:`\mathrm{numel}/(\varepsilon + \text{kept})` is at most numel when something is
        kept, 0 otherwise).
    """
    g = _any_array(grad_output, "grad_output")
    if mask is not None:
        mask = _mask_array(mask, "mask", g.shape)
    s = real_number(scale, "scale")
    if not 0 <= s <= MAX_ELEMENTS:
        raise ValueError(
            f"scale must be a real number in [0, {MAX_ELEMENTS}] (the forward's scale "
            f"numel/(eps + kept) is at most numel <= MAX_ELEMENTS), got {scale!r}"
        )
    if mask is None:
        mask = np.ones((), dtype=bool)
    return _scaled(g, mask, s)
