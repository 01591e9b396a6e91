r"""Batch, layer, group, instance and RMS normalization as Triton kernels, forward and
backward, with the API of :mod:`kernels.cpu.norm` on torch tensors.

The math is the CPU module's (proved in :mod:`theory.normalization`): per normalized set
:math:`S` of :math:`m` entries, :math:`\hat x = (x-\mu)/\sqrt{\sigma^2+\epsilon}` (biased
variance), :math:`y = \gamma\hat x + \beta`, and

.. math:: \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2+\epsilon}}
          \Big(g' - \overline{g'} - \hat x\,\overline{g'\hat x}\Big),\quad g' = \gamma g;

RMSNorm (Zhang & Sennrich 2019, ``F.rms_norm``) does not centre: :math:`\hat x =
x/\sqrt{\overline{x^2}+\epsilon}` and the :math:`\overline{g'}` term drops
(:func:`theory.normalization.rmsnorm_backward_proved`).

Design (Triton tutorial 05 "layer norm"; Liger-Kernel's LayerNorm/RMSNorm; Quack): layer, RMS,
group and instance norm are **row kernels**, one program per normalized set, the row in
registers up to ``_norm_kernels.ROW_BLOCK`` entries (group/instance backward: a (channels,
spatial) register tile of the set, padded to powers of two) and looped over beyond; batch norm is a
**column reduction** per channel over :math:`(N, *)`, two-stage (partial ``(count, mean, M2)``
per chunk, combined in a fixed order), then an elementwise pass. ``dγ, dβ`` are two-stage
partial sums too: **no atomics, so every result is bit-reproducible** run to run. Row
statistics accumulate in float32 (float64 for float64 input), batch-norm channel statistics
and sums in float64 (:data:`_BN_ACC`); the output has the input's dtype. Inputs of any layout
are made contiguous first (same bits as a contiguous input). The training backward of batch
norm computes the statistics and ``Σ g, Σ g x̂`` in one pass over ``(x, dy)``.

Bytes that must move (element size ``s`` of ``x``, ``a`` of the statistics; ``M`` entries of
``x``; rows ``R`` of length ``L``; ``C`` channels) — what the benchmark divides by time:

* layer norm: forward reads ``M s + 2 L s``, writes ``M s + 2 R a``; backward reads
  ``2 M s + L s``, writes ``M s + 2 L s`` (+ ``P L a`` partials written and read per output,
  ``P`` = multiprocessors);
* RMS norm: forward reads ``M s + L s``, writes ``M s + 2 R a``; backward reads
  ``2 M s + L s``, writes ``M s + L s`` (+ ``P L a`` partials);
* group / instance norm (``R = N G`` / ``N C`` sets): forward reads ``M s + 2 C s``, writes
  ``M s + 2 R a``; backward reads ``2 M s + C s``, writes ``M s + 2 C s`` (+ ``2 N C a``
  partials);
* batch norm training: forward reads ``2 M s + 2 C s`` (statistics, then normalize; + ``2 C s``
  running buffers read and written), writes ``M s``; eval reads ``M s + 4 C s``, writes
  ``M s``; backward (training) reads ``4 M s + C s`` (``x, dy`` for the statistics and sums,
  again for ``dx``), writes ``M s + 2 C s``; eval backward reads ``3 M s`` (``x, dy``; ``dy``).


Deliberate differences from torch / :mod:`kernels.cpu.norm`:

* dtypes: float32, float64, float16, bfloat16; ``weight``, ``bias`` and the running buffers
  must have ``x``'s dtype (torch also allows float32 parameters with half input).
* as the CPU kernel, ``σ² + ε <= 0`` in a normalized set (possible only for ``eps <= 0``, or
  an ``eps`` that rounds to 0 in float32) is refused with ``ValueError`` naming ``eps``, where
  torch returns NaN; the running-variance checks of eval mode are the CPU kernel's.
* sets whose squares could overflow (``max|x| >= 2**48`` in float32, ``2**496`` in float64)
  are divided by ``max|x|`` first, as the CPU kernel does (with a power of two there): finite
  input gives finite output where torch returns NaN. Batch norm's statistics are float64, so
  only float64 input beyond about ``1e154`` could overflow there (not rescaled).
* ``rms_norm(eps=None)`` uses ``torch.finfo`` of the **computation** dtype (float32 for
  float16/bfloat16/float32 input, float64 for float64), as torch does — not of the input dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from kernels.cpu import norm as _cpu
from kernels.gpu import _backend

__all__ = [
    "batch_norm",
    "batch_norm_backward",
    "group_norm",
    "group_norm_backward",
    "instance_norm",
    "instance_norm_backward",
    "layer_norm",
    "layer_norm_backward",
    "rms_norm",
    "rms_norm_backward",
]

Grads = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]

#: Programs that share the dγ/dβ partial rows of the layer/RMS backward under the interpreter
#: (on CUDA: the device's multiprocessor count).
INTERPRETER_PROGRAMS = 3

# --------------------------------------------------------------------------- argument checks


def _proxy(t: torch.Tensor | None) -> np.ndarray | None:
    """A zero-stride float64 array of ``t``'s shape (no memory): lets the CPU kernel's setup
    functions check shapes and non-tensor arguments with the CPU messages."""
    if t is None:
        return None
    return np.lib.stride_tricks.as_strided(np.zeros(1), shape=tuple(t.shape), strides=(0,) * t.ndim)


def _x(x: object) -> torch.Tensor:
    return _backend.tensor(x, "x")


def _opt(value: object, name: str, x: torch.Tensor) -> torch.Tensor | None:
    if value is None:
        return None
    return _backend.same(_backend.tensor(value, name), x, name, "x")


def _grad_out(grad_out: object, x: torch.Tensor) -> torch.Tensor:
    g = _backend.same(_backend.tensor(grad_out, "grad_out"), x, "grad_out", "x")
    if g.shape != x.shape:
        raise ValueError(
            f"grad_out must have the shape of x {tuple(x.shape)}, got {tuple(g.shape)}"
        )
    return g.contiguous()


def _acc(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _scalars(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``[eps, big, tiny]`` in the compute dtype: ``big = 2**(maxexp/2 - 16)`` is where a set is
    rescaled (the CPU kernel's threshold), ``tiny`` the smallest normal number."""
    acc = _acc(x)
    info = torch.finfo(acc)
    big = 2.0 ** (math.frexp(info.max)[1] // 2 - 16)
    return torch.tensor([eps, big, info.tiny], dtype=acc, device=x.device)


def _flat(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.contiguous().reshape(-1)


def _pow2(n: int, cap: int, least: int = 16) -> int:
    return max(least, min(cap, 1 << max(0, int(n) - 1).bit_length()))


def _warps(block: int) -> int:
    """Warps for a row program of ``block`` lanes (Liger-Kernel's ``calculate_settings``):
    about 8-16 elements per thread per live array."""
    return 4 if block < 2048 else 8 if block < 8192 else 16


def _check_sets(var: torch.Tensor, eps: float, acc: torch.dtype, what: str) -> None:
    """The CPU kernel's refusal of ``σ² + ε <= 0`` (only reachable when ε rounds to <= 0)."""
    if float(torch.tensor(eps, dtype=acc)) > 0:
        return  # var >= 0: var + eps > 0 in floating point too
    denom = var + torch.tensor(eps, dtype=acc, device=var.device)
    if bool((denom <= 0).any()):
        raise ValueError(
            f"eps: {what} needs variance + eps > 0 in every normalized set, got eps = {eps!r} "
            f"and a variance of {float(var.min())!r} (a constant set needs eps > 0)"
        )


def _eval_stats(rm, rv, eps, acc, what) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, 1/sqrt(running_var + eps))`` in the compute dtype; the CPU kernel's checks."""
    denom = rv.to(acc) + eps
    bad = denom <= 0
    if bool(bad.any()):
        if bool((rv[bad] < 0).any()):
            raise ValueError(
                f"running_var: {what} needs running_var + eps > 0, but running_var has negative "
                f"entries (min {float(rv.min())!r}; a variance is >= 0 — training with a "
                f"momentum outside [0, 1] can make it negative), eps = {eps!r}"
            )
        raise ValueError(
            f"eps: {what} needs running_var + eps > 0, got eps = {eps!r} and running_var "
            f"min {float(rv.min())!r}"
        )
    return rm.to(acc).contiguous(), (1.0 / torch.sqrt(denom)).contiguous()


def _programs(k) -> int:
    if _backend.mode() == "cuda":
        return torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
    return INTERPRETER_PROGRAMS


# --------------------------------------------------------------------------- row launchers


def _rows_forward(xc, w, b, rows, length, eps, *, per_elem, center, groups=1, cpg=1, hw=1):
    k = _backend.load("_norm_kernels")
    acc = _acc(xc)
    y = torch.empty_like(xc)
    mean = torch.empty(rows, dtype=acc, device=xc.device)
    var = torch.empty(rows, dtype=acc, device=xc.device)
    if rows == 0:
        return y, mean, var
    single = length <= k.ROW_BLOCK
    block = _pow2(length, k.ROW_BLOCK)
    k._row_forward[(rows,)](
        xc, y, xc if w is None else w, xc if b is None else b, mean, var, _scalars(xc, eps),
        length, groups, cpg, hw,
        HAS_W=w is not None, HAS_B=b is not None, PER_ELEM=per_elem, CENTER=center,
        BLOCK=block, SINGLE=single, num_warps=_warps(block),
    )  # fmt: skip
    return y, mean, var


def _rows_backward(gc, xc, w, rows, length, eps, *, want_dw, want_db, per_elem, center,
                   groups=1, cpg=1, hw=1, n_params=0):  # fmt: skip
    """``(dx, dw, db)``; ``dw``/``db`` in the compute dtype, shape ``(n_params,)``."""
    k = _backend.load("_norm_kernels")
    acc = _acc(xc)
    dx = torch.empty_like(xc)
    zeros = torch.zeros(n_params, dtype=acc, device=xc.device)
    if rows == 0:
        return dx, zeros.clone() if want_dw else None, zeros.clone() if want_db else None
    block = _pow2(length, k.ROW_BLOCK)
    tile = {}
    if per_elem:
        rpp = -(-rows // max(1, min(rows, _programs(k))))
        nprog = -(-rows // rpp)
        single = length <= k.ROW_BLOCK
        shape = (nprog, length)
    else:
        rpp, nprog, single = 1, rows, False
        shape = (rows // groups, groups * cpg)  # (N, C)
        cb, sb = _pow2(cpg, 1 << 30, 2), _pow2(hw, 1 << 30, 2)
        if cb * sb <= k.ROW_BLOCK:  # the row as one (channels, spatial) register tile
            tile = {"TILE": True, "CB": cb, "SB": sb}
            block = 16
    dwp = torch.empty(shape, dtype=acc, device=xc.device) if want_dw else dx
    dbp = torch.empty(shape, dtype=acc, device=xc.device) if want_db else dx
    k._row_backward[(nprog,)](
        xc, gc, xc if w is None else w, dx, dwp, dbp, _scalars(xc, eps),
        rows, length, groups, cpg, hw, rpp,
        HAS_W=w is not None, WANT_DW=want_dw, WANT_DB=want_db, PER_ELEM=per_elem,
        CENTER=center, BLOCK=block, SINGLE=single, **tile,
        num_warps=_warps(tile["CB"] * tile["SB"] if tile else block),
    )  # fmt: skip
    return dx, _colsum(dwp) if want_dw else None, _colsum(dbp) if want_db else None


def _colsum(parts: torch.Tensor) -> torch.Tensor:
    """Sum of the rows of a ``(P, K)`` partial buffer, in a fixed order (stage 2)."""
    k = _backend.load("_norm_kernels")
    nparts, width = parts.shape
    out = torch.empty(width, dtype=parts.dtype, device=parts.device)
    if width == 0:
        return out
    block = _pow2(width, k.CHANNEL_BLOCK)
    k._colsum[(-(-width // block),)](parts, out, nparts, width, BLOCK=block)
    return out


# --------------------------------------------------------------------------- column launchers


def _col_geometry(k, m: int) -> tuple[int, int, int]:
    block = _pow2(m, k.COL_BLOCK)
    chunk = max(block, min(k.COL_CHUNK // block, -(-m // block)) * block)
    return block, chunk, -(-m // chunk)


#: Batch-norm channel statistics and their sums for dγ/dβ are computed in float64 for every
#: input dtype (the elementwise passes in float32): the sets span all of (N, *) (millions),
#: torch's CPU kernel accumulates them in float64, and the GPU rule measured float32 statistics
#: at 15 times torch's error on dγ. On data-centre GPUs float64 costs little next to the
#: memory traffic (H100/H200: half the float32 rate); what is read and written is unchanged.
_BN_ACC = torch.float64


def _bn_stats(xc, c, hw, m, eps, mom, rm, rv, gc=None):
    """Per-channel ``(mean, rstd, Σ g x̂, Σ g)`` over ``(N, *)`` (the sums only with ``gc``,
    the gradient, else None) in one two-stage pass; the running buffers updated in place."""
    k = _backend.load("_norm_kernels")
    acc = _BN_ACC
    block, chunk, nparts = _col_geometry(k, m)
    grads = gc is not None
    parts = [
        torch.empty((nparts, c), dtype=acc, device=xc.device) for _ in range(5 if grads else 3)
    ]
    pc, pm, pm2 = parts[:3]
    psg, psgx = parts[3:] if grads else (pm, pm)
    k._bn_partial_stats[(c, nparts)](
        xc, xc if gc is None else gc, pc, pm, pm2, psg, psgx,
        torch.tensor([eps], dtype=acc, device=xc.device), c, hw, m, chunk,
        GRADS=grads, BLOCK=block,
    )  # fmt: skip
    mean, rstd, sg, sgx = (torch.empty(c, dtype=acc, device=xc.device) for _ in range(4))
    running = rm is not None
    rmc = rm.contiguous() if running else mean
    rvc = rv.contiguous() if running else mean
    cb = _pow2(c, k.CHANNEL_BLOCK)
    scal = torch.tensor([eps, mom], dtype=acc, device=xc.device)
    k._bn_finalize[(-(-c // cb),)](
        pc, pm, pm2, psg, psgx, mean, rstd, sg, sgx, rmc, rvc, scal, c, nparts, m,
        RUNNING=running, GRADS=grads, BLOCK=cb,
    )  # fmt: skip
    if running:
        if rmc is not rm:
            rm.copy_(rmc)
        if rvc is not rv:
            rv.copy_(rvc)
    return mean, rstd, (sgx if grads else None), (sg if grads else None)


def _bn_apply(xc, mean, rstd, w, b, c, hw):
    k = _backend.load("_norm_kernels")
    y = torch.empty_like(xc)
    total = xc.numel()
    if total == 0:
        return y
    block = k.COL_BLOCK
    k._bn_apply[(-(-total // block),)](
        xc, y, mean, rstd, xc if w is None else w, xc if b is None else b, total, c, hw,
        HAS_W=w is not None, HAS_B=b is not None, F64=xc.dtype == torch.float64, BLOCK=block,
    )  # fmt: skip
    return y


def _bn_grads(gc, xc, mean, rstd, w, c, hw, *, train, want_dw, want_db, sums=None):
    """``(dx, dw, db)`` of the per-channel normalization with ``mean``, ``rstd`` (batch
    statistics when ``train``, else constants); ``dw``, ``db`` in float64. ``sums``: the
    ``(Σ g x̂, Σ g)`` already computed with the statistics (training), else one more pass."""
    k = _backend.load("_norm_kernels")
    m = xc.numel() // c if c else 0
    dx = torch.empty_like(xc)
    if xc.numel() == 0:
        z = torch.zeros(c, dtype=_BN_ACC, device=xc.device)
        return dx, z.clone() if want_dw else None, z.clone() if want_db else None
    if sums is None:
        block, chunk, nparts = _col_geometry(k, m)
        pgx = torch.empty((nparts, c), dtype=_BN_ACC, device=xc.device)
        pg = torch.empty((nparts, c), dtype=_BN_ACC, device=xc.device)
        k._bn_partial_grads[(c, nparts)](xc, gc, mean, rstd, pgx, pg, c, hw, m, chunk, BLOCK=block)
        sgx, sg = _colsum(pgx), _colsum(pg)
    else:
        sgx, sg = sums
    total = xc.numel()
    k._bn_backward_dx[(-(-total // k.COL_BLOCK),)](
        xc, gc, mean, rstd, xc if w is None else w, sgx, sg, dx, total, c, hw, m,
        HAS_W=w is not None, TRAIN=train, F64=xc.dtype == torch.float64, BLOCK=k.COL_BLOCK,
    )  # fmt: skip
    return dx, sgx if want_dw else None, sg if want_db else None


def _out(t: torch.Tensor | None, like: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None or like is None else t.to(like.dtype).reshape(like.shape)


# --------------------------------------------------------------------------- batch norm


def _batch_args(x, running_mean, running_var, weight, bias, training, momentum, eps):
    x = _x(x)
    rm, rv = _opt(running_mean, "running_mean", x), _opt(running_var, "running_var", x)
    w, b = _opt(weight, "weight", x), _opt(bias, "bias", x)
    _, c, train, mom, e, _, _, _, _, _, m = _cpu._batch_setup(
        _proxy(x), _proxy(rm), _proxy(rv), _proxy(w), _proxy(b), training, momentum, eps
    )
    hw = m // x.shape[0] if x.shape[0] else int(np.prod(x.shape[2:]))
    return x, rm, rv, w, b, c, train, mom, e, hw


def batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""BatchNorm of ``(N, C, *)`` per channel over :math:`(N, *)` (``F.batch_norm``).

    Training: batch statistics (biased variance) by a two-stage column reduction; the running
    buffers are updated in place, ``running = (1 - momentum) running + momentum batch``, with
    the unbiased variance :math:`\frac{m}{m-1}\sigma^2`, as torch. Eval: the running
    statistics normalize. Arguments and refusals as :func:`kernels.cpu.norm.batch_norm`.
    """
    x, rm, rv, w, b, c, train, mom, e, hw = _batch_args(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )
    xc, acc = x.contiguous(), _BN_ACC
    if not train:
        mean, rstd = _eval_stats(rm, rv, e, acc, "eval-mode batch norm")
    elif x.numel() == 0:
        return xc.clone()
    else:
        mean, rstd, _, _ = _bn_stats(xc, c, hw, xc.numel() // c, e, mom, rm, rv)
    return _bn_apply(xc, mean, rstd, _flat(w), _flat(b), c, hw).reshape(x.shape)


def batch_norm_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Grads:
    r"""``(dx, dweight, dbias)`` of :func:`batch_norm` (``None`` for an absent parameter);
    buffers read (eval) but never updated. ``dγ = Σ g x̂``, ``dβ = Σ g`` per channel (two-stage
    partial sums); training ``dx = γ rstd (g - dβ/m - x̂ dγ/m)``, eval ``dx = γ rstd g``."""
    x, rm, rv, w, b, c, train, _, e, hw = _batch_args(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )
    g = _grad_out(grad_out, x)
    xc, acc = x.contiguous(), _BN_ACC
    sums = None
    if not train:
        mean, rstd = _eval_stats(rm, rv, e, acc, "eval-mode batch norm")
    elif x.numel() == 0:
        mean = rstd = torch.zeros(c, dtype=acc, device=x.device)
    else:  # statistics and Σ g x̂, Σ g in one pass over (x, dy)
        mean, rstd, sgx, sg = _bn_stats(xc, c, hw, xc.numel() // c, e, 0.0, None, None, g)
        sums = (sgx, sg)
    dx, dw, db = _bn_grads(
        g, xc, mean, rstd, _flat(w), c, hw, train=train, want_dw=w is not None,
        want_db=b is not None, sums=sums,
    )  # fmt: skip
    if train and x.numel() == 0:
        dx = torch.zeros_like(xc)
    return dx.reshape(x.shape), _out(dw, w), _out(db, b)


# --------------------------------------------------------------------------- instance norm


def _instance_args(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    x = _x(x)
    rm, rv = _opt(running_mean, "running_mean", x), _opt(running_var, "running_var", x)
    w, b = _opt(weight, "weight", x), _opt(bias, "bias", x)
    _, c, use, mom, e, _, _, _, _, m = _cpu._instance_setup(
        _proxy(x), _proxy(rm), _proxy(rv), _proxy(w), _proxy(b), use_input_stats, momentum, eps
    )
    return x, rm, rv, w, b, c, use, mom, e, m


def instance_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""InstanceNorm of ``(N, C, *spatial)`` (``F.instance_norm``): the row kernel with one row
    per (sample, channel). With ``use_input_stats`` and buffers, each buffer becomes ``(1 -
    momentum) running + momentum * batch-mean of the per-instance statistic`` (unbiased
    variance), in place (an ``O(N C)`` torch reduction of the kernel's per-row statistics);
    ``use_input_stats=False`` is eval-mode batch norm with the buffers."""
    x, rm, rv, w, b, c, use, mom, e, m = _instance_args(
        x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
    xc, acc = x.contiguous(), _acc(x)
    if not use:
        mean, rstd = _eval_stats(rm, rv, e, _BN_ACC, "instance norm with use_input_stats=False")
        return _bn_apply(xc, mean, rstd, _flat(w), _flat(b), c, m).reshape(x.shape)
    n = x.shape[0]
    y, mean, var = _rows_forward(
        xc, _flat(w), _flat(b), n * c, m, e, per_elem=False, center=True, groups=c, cpg=1, hw=m
    )
    if n == 0:
        return y.reshape(x.shape)
    _check_sets(var, e, acc, "instance norm")
    if rm is not None:
        bm = mean.reshape(n, c).mean(dim=0)
        bv = (var.reshape(n, c) * (m / (m - 1))).mean(dim=0)
        rm.copy_(((1 - mom) * rm.to(acc) + mom * bm).to(rm.dtype))
        rv.copy_(((1 - mom) * rv.to(acc) + mom * bv).to(rv.dtype))
    return y.reshape(x.shape)


def instance_norm_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Grads:
    """``(dx, dweight, dbias)`` of :func:`instance_norm` (same arguments; buffers untouched)."""
    x, rm, rv, w, b, c, use, _, e, m = _instance_args(
        x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
    g = _grad_out(grad_out, x)
    xc, acc = x.contiguous(), _acc(x)
    if not use:
        mean, rstd = _eval_stats(rm, rv, e, _BN_ACC, "instance norm with use_input_stats=False")
        dx, dw, db = _bn_grads(
            g, xc, mean, rstd, _flat(w), c, m, train=False, want_dw=w is not None,
            want_db=b is not None,
        )  # fmt: skip
        return dx.reshape(x.shape), _out(dw, w), _out(db, b)
    n = x.shape[0]
    if n and float(torch.tensor(e, dtype=acc)) <= 0:
        _check_sets(_rows_forward(xc, None, None, n * c, m, e, per_elem=False, center=True,
                                  groups=c, cpg=1, hw=m)[2], e, acc, "instance norm")  # fmt: skip
    dx, dw, db = _rows_backward(
        g, xc, _flat(w), n * c, m, e, want_dw=w is not None, want_db=b is not None,
        per_elem=False, center=True, groups=c, cpg=1, hw=m, n_params=c,
    )  # fmt: skip
    return dx.reshape(x.shape), _out(dw, w), _out(db, b)


# --------------------------------------------------------------------------- group norm


def _group_args(x, num_groups, weight, bias, eps):
    x = _x(x)
    w, b = _opt(weight, "weight", x), _opt(bias, "bias", x)
    _, groups, _, _, e = _cpu._group_setup(_proxy(x), num_groups, _proxy(w), _proxy(b), eps)
    c = x.shape[1]
    hw = int(np.prod(x.shape[2:]))
    return x, groups, w, b, e, c, hw


def group_norm(
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """GroupNorm of ``(N, C, *)`` (``F.group_norm``): the row kernel with one row per (sample,
    group) of ``C/num_groups * HW`` entries; per-channel ``weight``/``bias``."""
    x, groups, w, b, e, c, hw = _group_args(x, num_groups, weight, bias, eps)
    n = x.shape[0]
    y, _, var = _rows_forward(
        x.contiguous(), _flat(w), _flat(b), n * groups, c // groups * hw, e,
        per_elem=False, center=True, groups=groups, cpg=c // groups, hw=hw,
    )  # fmt: skip
    if n:
        _check_sets(var, e, _acc(x), "group norm")
    return y.reshape(x.shape)


def group_norm_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> Grads:
    r"""``(dx, dweight, dbias)`` of :func:`group_norm` (:math:`g' = \gamma_c g` varies across
    the channels of a group; ``dγ, dβ`` per (sample, channel), then summed over samples)."""
    x, groups, w, b, e, c, hw = _group_args(x, num_groups, weight, bias, eps)
    g = _grad_out(grad_out, x)
    xc, n = x.contiguous(), x.shape[0]
    kw = dict(per_elem=False, center=True, groups=groups, cpg=c // groups, hw=hw)
    if n and float(torch.tensor(e, dtype=_acc(x))) <= 0:
        var = _rows_forward(xc, None, None, n * groups, c // groups * hw, e, **kw)[2]
        _check_sets(var, e, _acc(x), "group norm")
    dx, dw, db = _rows_backward(
        g, xc, _flat(w), n * groups, c // groups * hw, e, want_dw=w is not None,
        want_db=b is not None, n_params=c, **kw,
    )  # fmt: skip
    return dx.reshape(x.shape), _out(dw, w), _out(db, b)


# --------------------------------------------------------------------------- layer norm


def _layer_args(x, normalized_shape, weight, bias, eps):
    x = _x(x)
    w, b = _opt(weight, "weight", x), _opt(bias, "bias", x)
    _, _, _, axes, e = _cpu._layer_setup(_proxy(x), normalized_shape, _proxy(w), _proxy(b), eps)
    length = int(np.prod(x.shape[x.ndim - len(axes) :]))
    return x, w, b, length, e


def layer_norm(
    x: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """LayerNorm over the trailing ``normalized_shape`` axes (``F.layer_norm``): one program
    per row (Triton tutorial 05, Liger). A set of one entry outputs ``bias`` (as torch)."""
    x, w, b, length, e = _layer_args(x, normalized_shape, weight, bias, eps)
    rows = x.numel() // length
    y, _, var = _rows_forward(
        x.contiguous(), _flat(w), _flat(b), rows, length, e, per_elem=True, center=True
    )
    if rows:
        _check_sets(var, e, _acc(x), "layer norm")
    return y.reshape(x.shape)


def layer_norm_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> Grads:
    """``(dx, dweight, dbias)`` of :func:`layer_norm`; ``dγ, dβ`` as one partial row per
    program (its rows), summed over programs in a fixed order."""
    x, w, b, length, e = _layer_args(x, normalized_shape, weight, bias, eps)
    return _per_elem_backward(grad_out, x, w, b, length, e, center=True, what="layer norm")


def _per_elem_backward(grad_out, x, w, b, length, e, *, center, what):
    g = _grad_out(grad_out, x)
    xc, rows = x.contiguous(), x.numel() // length
    if rows and float(torch.tensor(e, dtype=_acc(x))) <= 0:
        var = _rows_forward(xc, None, None, rows, length, e, per_elem=True, center=center)[2]
        _check_sets(var, e, _acc(x), what)
    dx, dw, db = _rows_backward(
        g, xc, _flat(w), rows, length, e, want_dw=w is not None, want_db=b is not None,
        per_elem=True, center=center, n_params=length,
    )  # fmt: skip
    return dx.reshape(x.shape), _out(dw, w), _out(db, b)


# --------------------------------------------------------------------------- RMS norm


def _rms_args(x, normalized_shape, weight, eps):
    x = _x(x)
    w = _opt(weight, "weight", x)
    _, _, axes, e = _cpu._rms_setup(
        _proxy(x),
        normalized_shape,
        _proxy(w),
        eps,
        np.float64 if x.dtype == torch.float64 else np.float32,
    )
    length = int(np.prod(x.shape[x.ndim - len(axes) :]))
    return x, w, length, e


def rms_norm(
    x: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    eps: float | None = None,
) -> torch.Tensor:
    r"""RMSNorm over the trailing ``normalized_shape`` axes (``F.rms_norm``): :math:`y =
    \gamma x/\sqrt{\overline{x^2}+\epsilon}` — no centring, no bias. ``eps=None`` is
    ``torch.finfo`` of the computation dtype (float32, or float64 for float64 input)."""
    x, w, length, e = _rms_args(x, normalized_shape, weight, eps)
    rows = x.numel() // length
    y, _, ms = _rows_forward(
        x.contiguous(), _flat(w), None, rows, length, e, per_elem=True, center=False
    )
    if rows:
        _check_sets(ms, e, _acc(x), "RMS norm")
    return y.reshape(x.shape)


def rms_norm_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    eps: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""``(dx, dweight)`` of :func:`rms_norm`: :math:`dx = r(g' - \hat x\,\overline{g'\hat
    x})`, :math:`r = (\overline{x^2}+\epsilon)^{-1/2}`, ``dγ = Σ g x̂`` over the rows."""
    x, w, length, e = _rms_args(x, normalized_shape, weight, eps)
    dx, dw, _ = _per_elem_backward(grad_out, x, w, None, length, e, center=False, what="RMS norm")
    return dx, dw
