r"""Triton kernels for :mod:`kernels.gpu.norm` (imported on first use by ``_backend.load``).

Two shapes of work:

* **Row kernels** (layer, RMS, group, instance norm): the input is a contiguous ``(R, L)``
  matrix whose rows are the normalized sets; one program per row (Triton tutorial 05, Liger's
  LayerNorm/RMSNorm). A row of at most :data:`ROW_BLOCK` entries is held in registers
  (``SINGLE``: one read of ``x``); a longer one is looped over in ``ROW_BLOCK`` chunks (the
  re-reads hit L2). Statistics are computed in two passes (mean, then the centred sum of
  squares) in float32 (float64 for float64 input), never as ``E[x^2] - E[x]^2``; a set
  whose squares could overflow is divided by ``max|x|`` first (:func:`_set_scale`).
* **Column kernels** (batch norm): per channel ``c`` the set is ``(N, *)`` of the
  ``(N, C, HW)`` input. Stage 1: program ``(c, p)`` reduces one chunk of the set to
  ``(count, mean, M2)`` (Chan et al.'s pairwise update per block); stage 2 combines the
  ``P`` partials per channel in a fixed order. These per-channel statistics and sums are
  float64 for every input dtype (sets of millions of entries; see ``norm._BN_ACC``); the
  elementwise passes run in float32 unless the input is float64. The same two-stage scheme
  gives ``dγ, dβ`` (partial sums per program, then :func:`_colsum`), so every reduction is
  deterministic: no atomics anywhere.

Scalars (``eps``, ``momentum``, the rescaling threshold) are passed in a small tensor of the
compute dtype: a Python float argument would be typed float32 by Triton, which would round ``eps``
in float64 runs.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: Longest row held in registers by the row kernels (16384: Liger's fp32 LayerNorm benchmark
#: size, one read of x); longer rows are looped over in chunks of this size. A module constant
#: so tests can shrink it (monkeypatch) to exercise the loop.
ROW_BLOCK = 16384
#: Elements per block of the elementwise and column kernels.
COL_BLOCK = 1024
#: Elements of one channel's set that one stage-1 program of the batch-norm reduction handles
#: (a multiple of COL_BLOCK is used).
COL_CHUNK = 32768
#: Channels per program of the batch-norm stage-2 combine and of :func:`_colsum`.
CHANNEL_BLOCK = 128


# --------------------------------------------------------------------------- row kernels


@triton.jit
def _set_scale(amax, SCAL):
    """``(scale, 1/scale)`` of a normalized set: ``max|x|`` when it reaches ``SCAL[1]``
    (``2**48`` in float32, ``2**496`` in float64: where squares could overflow), else exactly
    1 (no rounding added). Normalization is scale invariant up to ``eps``: ``x̂ = (x/s -
    μ/s) / sqrt(σ²/s² + ε/s²)`` (the CPU kernel's rescaling, with ``s`` not a power of two)."""
    big = tl.load(SCAL + 1)
    scale = tl.where(amax >= big, amax, 1.0)
    return scale, 1.0 / scale


@triton.jit
def _denominator(var_s, inv, eps, SCAL):
    """``σ²/s² + ε/s²``, kept ``>= tiny`` when ``ε > 0`` and ``ε/s²`` underflowed."""
    d = var_s + eps * inv * inv
    return tl.where((eps > 0) & (inv < 1.0), tl.maximum(d, tl.load(SCAL + 2)), d)


@triton.jit
def _row_forward(
    X, Y, W, B, MEAN, VAR, SCAL, L, G, CPG, HW,
    HAS_W: tl.constexpr, HAS_B: tl.constexpr, PER_ELEM: tl.constexpr, CENTER: tl.constexpr,
    BLOCK: tl.constexpr, SINGLE: tl.constexpr,
):  # fmt: skip
    r"""``y = γ (x - μ)/sqrt(σ² + ε) + β`` per row (``CENTER``; RMSNorm: μ := 0, σ² := mean
    x²); ``γ, β`` per element (``PER_ELEM``, layer/RMS norm) or per channel, channel
    ``(row % G) * CPG + col // HW`` (group norm; instance norm: ``G = C, CPG = 1, HW = L``).
    Writes the row's ``μ`` and ``σ²`` (the wrapper checks ``σ² + ε > 0``). Rows whose
    squares could overflow are scaled first (:func:`_set_scale`)."""
    row = tl.program_id(0)
    eps = tl.load(SCAL)
    base = row.to(tl.int64) * L
    cols = tl.arange(0, BLOCK)
    zero = tl.sum(tl.zeros([BLOCK], dtype=eps.dtype), axis=0)
    if SINGLE:
        mask = cols < L
        x = tl.load(X + base + cols, mask=mask, other=0.0).to(eps.dtype)
        scale, inv = _set_scale(tl.max(tl.abs(x), axis=0), SCAL)
        xs = x * inv
        if CENTER:
            mean = tl.sum(xs, axis=0) / L
            d = tl.where(mask, xs - mean, 0.0)
        else:
            mean = zero
            d = xs
        var = tl.sum(d * d, axis=0) / L
        rstd = 1.0 / tl.sqrt(_denominator(var, inv, eps, SCAL))
        y = d * rstd
        if PER_ELEM:
            widx = cols
        else:
            widx = (row % G) * CPG + cols // HW
        if HAS_W:
            y = y * tl.load(W + widx, mask=mask, other=0.0).to(eps.dtype)
        if HAS_B:
            y = y + tl.load(B + widx, mask=mask, other=0.0).to(eps.dtype)
        tl.store(Y + base + cols, y.to(Y.dtype.element_ty), mask=mask)
    else:
        amax = tl.zeros([BLOCK], dtype=eps.dtype)
        for off in range(0, L, BLOCK):
            idx = off + cols
            x = tl.load(X + base + idx, mask=idx < L, other=0.0).to(eps.dtype)
            amax = tl.maximum(amax, tl.abs(x))
        scale, inv = _set_scale(tl.max(amax, axis=0), SCAL)
        acc = tl.zeros([BLOCK], dtype=eps.dtype)
        if CENTER:
            for off in range(0, L, BLOCK):
                idx = off + cols
                acc += tl.load(X + base + idx, mask=idx < L, other=0.0).to(eps.dtype) * inv
        mean = tl.sum(acc, axis=0) / L
        acc = tl.zeros([BLOCK], dtype=eps.dtype)
        for off in range(0, L, BLOCK):
            idx = off + cols
            mask = idx < L
            x = tl.load(X + base + idx, mask=mask, other=0.0).to(eps.dtype)
            d = tl.where(mask, x * inv - mean, 0.0)
            acc += d * d
        var = tl.sum(acc, axis=0) / L
        rstd = 1.0 / tl.sqrt(_denominator(var, inv, eps, SCAL))
        for off in range(0, L, BLOCK):
            idx = off + cols
            mask = idx < L
            x = tl.load(X + base + idx, mask=mask, other=0.0).to(eps.dtype)
            y = (x * inv - mean) * rstd
            if PER_ELEM:
                widx = idx
            else:
                widx = (row % G) * CPG + idx // HW
            if HAS_W:
                y = y * tl.load(W + widx, mask=mask, other=0.0).to(eps.dtype)
            if HAS_B:
                y = y + tl.load(B + widx, mask=mask, other=0.0).to(eps.dtype)
            tl.store(Y + base + idx, y.to(Y.dtype.element_ty), mask=mask)
    tl.store(MEAN + row, mean * scale)
    tl.store(VAR + row, var * scale * scale)  # may overflow to inf (as torch's statistics)


# The backward of one normalized set of m entries (theory.normalization.batchnorm_backward_proved
# with per_element_gamma=True proves it by sympy.diff for m <= 8; the RMSNorm case, mu := 0 and
# sigma^2 := mean(x^2), is theory.normalization.rmsnorm_backward_proved):
#
#   xhat_i = (x_i - mu) * rstd,   rstd = (sigma^2 + eps)^(-1/2),   y_i = gamma_i xhat_i + beta_i
#   g'_i = gamma_i * dL/dy_i
#   d mu / d x_j = 1/m,   d sigma^2 / d x_j = 2 (x_j - mu) / m,
#   d xhat_i / d x_j = rstd (delta_ij - 1/m) - xhat_i xhat_j rstd / m
#   dL/dx_j = sum_i g'_i d xhat_i/d x_j = rstd (g'_j - mean(g') - xhat_j mean(g' xhat))
#   (RMSNorm: d xhat_i/d x_j = rstd delta_ij - xhat_i xhat_j rstd / m, so the mean(g') term
#   drops: CENTER = False.)
#   dL/dgamma = sum over the parameter's other axes of g * xhat,  dL/dbeta = sum of g
#   (theory.normalization.affine_gradients_proved); accumulated per program (PER_ELEM: one
#   partial row per program over its rows; per channel: one partial per (row, channel)), then
#   summed over programs in a fixed order by _colsum: deterministic, no atomics.
#   A set scaled by s (_set_scale) has xhat and mean(.) unchanged and rstd = rstd_s / s.
@triton.jit
def _row_backward(
    X, DY, W, DX, DWP, DBP, SCAL, R, L, G, CPG, HW, RPP,
    HAS_W: tl.constexpr, WANT_DW: tl.constexpr, WANT_DB: tl.constexpr,
    PER_ELEM: tl.constexpr, CENTER: tl.constexpr, BLOCK: tl.constexpr, SINGLE: tl.constexpr,
    TILE: tl.constexpr = False, CB: tl.constexpr = 2, SB: tl.constexpr = 2,
):  # fmt: skip
    """Program ``p`` handles rows ``p*RPP .. p*RPP + RPP - 1`` (masked beyond ``R``).
    ``TILE`` (per channel, ``RPP = 1``): the row as a ``(CB, SB)`` register tile of ``CPG``
    channels by ``HW`` entries — one read of ``x`` and ``dy``, per-channel sums along axis 1."""
    p = tl.program_id(0)
    eps = tl.load(SCAL)
    cols = tl.arange(0, BLOCK)
    if TILE:
        row = p
        chv = tl.arange(0, CB)
        ch = chv[:, None]
        sp = tl.arange(0, SB)[None, :]
        mask = (ch < CPG) & (sp < HW)
        base = row.to(tl.int64) * L
        idx = ch * HW + sp
        x = tl.load(X + base + idx, mask=mask, other=0.0).to(eps.dtype)
        g = tl.load(DY + base + idx, mask=mask, other=0.0).to(eps.dtype)
        _, inv = _set_scale(tl.max(tl.max(tl.abs(x), axis=1), axis=0), SCAL)
        xs = x * inv
        mean = tl.sum(tl.sum(xs, axis=1), axis=0) / L
        d = tl.where(mask, xs - mean, 0.0)
        var = tl.sum(tl.sum(d * d, axis=1), axis=0) / L
        rstd = 1.0 / tl.sqrt(_denominator(var, inv, eps, SCAL))
        xhat = d * rstd
        gp = g
        if HAS_W:
            wv = tl.load(W + (row % G) * CPG + ch, mask=ch < CPG, other=0.0).to(eps.dtype)
            gp = g * wv
        c1 = tl.sum(tl.sum(gp * xhat, axis=1), axis=0) / L
        c2 = tl.sum(tl.sum(gp, axis=1), axis=0) / L
        dx = (gp - c2 - xhat * c1) * (rstd * inv)
        tl.store(DX + base + idx, dx.to(DX.dtype.element_ty), mask=mask)
        out = row.to(tl.int64) * CPG + chv
        if WANT_DW:
            tl.store(DWP + out, tl.sum(g * xhat, axis=1), mask=chv < CPG)
        if WANT_DB:
            tl.store(DBP + out, tl.sum(g, axis=1), mask=chv < CPG)
    elif SINGLE:  # PER_ELEM only: the whole row, and the dγ/dβ partials, live in registers
        cmask = cols < L
        if HAS_W:
            w = tl.load(W + cols, mask=cmask, other=0.0).to(eps.dtype)
        dw_acc = tl.zeros([BLOCK], dtype=eps.dtype)
        db_acc = tl.zeros([BLOCK], dtype=eps.dtype)
        for r in range(0, RPP):
            row = p * RPP + r
            mask = cmask & ((cols * 0 + row) < R)
            base = row.to(tl.int64) * L
            x = tl.load(X + base + cols, mask=mask, other=0.0).to(eps.dtype)
            g = tl.load(DY + base + cols, mask=mask, other=0.0).to(eps.dtype)
            _, inv = _set_scale(tl.max(tl.abs(x), axis=0), SCAL)
            xs = x * inv
            if CENTER:
                mean = tl.sum(xs, axis=0) / L
                d = tl.where(mask, xs - mean, 0.0)
            else:
                d = xs
            rstd = 1.0 / tl.sqrt(_denominator(tl.sum(d * d, axis=0) / L, inv, eps, SCAL))
            xhat = d * rstd
            if HAS_W:
                gp = g * w
            else:
                gp = g
            c1 = tl.sum(gp * xhat, axis=0) / L
            if CENTER:
                c2 = tl.sum(gp, axis=0) / L
                dx = (gp - c2 - xhat * c1) * (rstd * inv)
            else:
                dx = (gp - xhat * c1) * (rstd * inv)
            tl.store(DX + base + cols, dx.to(DX.dtype.element_ty), mask=mask)
            dw_acc += g * xhat
            db_acc += g
        if WANT_DW:
            tl.store(DWP + p.to(tl.int64) * L + cols, dw_acc, mask=cmask)
        if WANT_DB:
            tl.store(DBP + p.to(tl.int64) * L + cols, db_acc, mask=cmask)
    else:
        for r in range(0, RPP):
            row = p * RPP + r
            valid = (cols * 0 + row) < R  # a vector: the interpreter refuses scalar masks
            base = row.to(tl.int64) * L
            amax = tl.zeros([BLOCK], dtype=eps.dtype)
            for off in range(0, L, BLOCK):
                idx = off + cols
                m = (idx < L) & valid
                x = tl.load(X + base + idx, mask=m, other=0.0).to(eps.dtype)
                amax = tl.maximum(amax, tl.abs(x))
            _, inv = _set_scale(tl.max(amax, axis=0), SCAL)
            acc = tl.zeros([BLOCK], dtype=eps.dtype)
            if CENTER:
                for off in range(0, L, BLOCK):
                    idx = off + cols
                    m = (idx < L) & valid
                    acc += tl.load(X + base + idx, mask=m, other=0.0).to(eps.dtype) * inv
            mean = tl.sum(acc, axis=0) / L
            acc = tl.zeros([BLOCK], dtype=eps.dtype)
            for off in range(0, L, BLOCK):
                idx = off + cols
                m = (idx < L) & valid
                x = tl.load(X + base + idx, mask=m, other=0.0).to(eps.dtype)
                d = tl.where(m, x * inv - mean, 0.0)
                acc += d * d
            rstd = 1.0 / tl.sqrt(_denominator(tl.sum(acc, axis=0) / L, inv, eps, SCAL))
            rstd_x = rstd * inv  # d xhat / d x
            acc1 = tl.zeros([BLOCK], dtype=eps.dtype)
            acc2 = tl.zeros([BLOCK], dtype=eps.dtype)
            for off in range(0, L, BLOCK):
                idx = off + cols
                m = (idx < L) & valid
                x = tl.load(X + base + idx, mask=m, other=0.0).to(eps.dtype)
                g = tl.load(DY + base + idx, mask=m, other=0.0).to(eps.dtype)
                if HAS_W:
                    if PER_ELEM:
                        widx = idx
                    else:
                        widx = (row % G) * CPG + idx // HW
                    g = g * tl.load(W + widx, mask=m, other=0.0).to(eps.dtype)
                acc1 += g * tl.where(m, x * inv - mean, 0.0) * rstd
                acc2 += g
            c1 = tl.sum(acc1, axis=0) / L
            c2 = tl.sum(acc2, axis=0) / L
            if PER_ELEM:
                for off in range(0, L, BLOCK):
                    idx = off + cols
                    m = (idx < L) & valid
                    x = tl.load(X + base + idx, mask=m, other=0.0).to(eps.dtype)
                    g = tl.load(DY + base + idx, mask=m, other=0.0).to(eps.dtype)
                    xhat = (x * inv - mean) * rstd
                    gp = g
                    if HAS_W:
                        gp = g * tl.load(W + idx, mask=m, other=0.0).to(eps.dtype)
                    if CENTER:
                        dx = (gp - c2 - xhat * c1) * rstd_x
                    else:
                        dx = (gp - xhat * c1) * rstd_x
                    tl.store(DX + base + idx, dx.to(DX.dtype.element_ty), mask=m)
                    pidx = p.to(tl.int64) * L + idx
                    cm = idx < L
                    if WANT_DW:  # this program's own partial row: read-modify-write, no race
                        old = tl.load(DWP + pidx, mask=cm & ((cols * 0 + r) > 0), other=0.0)
                        tl.store(DWP + pidx, old + tl.where(m, g * xhat, 0.0), mask=cm)
                    if WANT_DB:
                        old = tl.load(DBP + pidx, mask=cm & ((cols * 0 + r) > 0), other=0.0)
                        tl.store(DBP + pidx, old + g, mask=cm)
            else:  # per channel: the row is CPG segments of HW entries, one channel each
                for ch in range(0, CPG):
                    sdw = tl.zeros([BLOCK], dtype=eps.dtype)
                    sdb = tl.zeros([BLOCK], dtype=eps.dtype)
                    c = (row % G) * CPG + ch
                    if HAS_W:
                        wc = tl.load(W + c).to(eps.dtype)
                    for off in range(0, HW, BLOCK):
                        s = off + cols
                        m = (s < HW) & valid
                        idx = ch * HW + s
                        x = tl.load(X + base + idx, mask=m, other=0.0).to(eps.dtype)
                        g = tl.load(DY + base + idx, mask=m, other=0.0).to(eps.dtype)
                        xhat = tl.where(m, (x * inv - mean) * rstd, 0.0)
                        gp = g
                        if HAS_W:
                            gp = g * wc
                        dx = (gp - c2 - xhat * c1) * rstd_x
                        tl.store(DX + base + idx, dx.to(DX.dtype.element_ty), mask=m)
                        sdw += g * xhat
                        sdb += g
                    if WANT_DW:
                        tl.store(
                            DWP + row.to(tl.int64) * CPG + ch, tl.sum(sdw, axis=0), mask=row < R
                        )
                    if WANT_DB:
                        tl.store(
                            DBP + row.to(tl.int64) * CPG + ch, tl.sum(sdb, axis=0), mask=row < R
                        )


@triton.jit
def _colsum(P, OUT, NP, K, BLOCK: tl.constexpr):
    """``OUT[k] = sum_p P[p, k]`` in the order p = 0, 1, ... (deterministic stage 2)."""
    ks = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = ks < K
    acc = tl.load(P + ks, mask=mask, other=0.0)
    for p in range(1, NP):
        acc += tl.load(P + p * K + ks, mask=mask, other=0.0)
    tl.store(OUT + ks, acc.to(OUT.dtype.element_ty), mask=mask)


# --------------------------------------------------------------------------- column kernels


@triton.jit
def _bn_partial_stats(
    X, DY, PCNT, PMEAN, PM2, PSG, PSGX, SCAL, C, HW, M, CHUNK,
    GRADS: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Program ``(c, p)``: ``(count, mean, M2)`` of entries ``p*CHUNK .. (p+1)*CHUNK - 1`` of
    channel ``c``'s set (entry ``j`` is ``x[j // HW, c, j % HW]``), blocks combined by Chan's
    update ``M2 = M2_a + M2_b + δ² n_a n_b / n``. With ``GRADS`` (the training backward) also
    ``Σ g`` and ``S = Σ g (x - mean)`` about the running mean, in the same pass over ``x``:
    when the mean moves from ``μ`` to ``μ'``, ``S += (μ - μ') Σ g`` (exact re-centring), so
    the backward reads ``x`` and ``dy`` once for its statistics and sums."""
    c = tl.program_id(0)
    p = tl.program_id(1)
    eps = tl.load(SCAL)
    cols = tl.arange(0, BLOCK)
    start = p.to(tl.int64) * CHUNK
    zero = tl.sum(tl.zeros([BLOCK], dtype=eps.dtype), axis=0)
    n = zero
    mean = zero
    m2 = zero
    sg = zero
    sgx = zero
    for off in range(0, CHUNK, BLOCK):
        j = start + off + cols
        mask = j < M
        addr = (j // HW) * C * HW + c * HW + j % HW
        x = tl.load(X + addr, mask=mask, other=0.0).to(eps.dtype)
        nb = tl.sum(mask.to(eps.dtype), axis=0)
        mb = tl.sum(x, axis=0) / tl.maximum(nb, 1.0)
        d = tl.where(mask, x - mb, 0.0)
        m2b = tl.sum(d * d, axis=0)
        tot = n + nb
        delta = mb - mean
        frac = nb / tl.maximum(tot, 1.0)
        new_mean = mean + delta * frac
        m2 = m2 + m2b + delta * delta * n * frac
        if GRADS:
            g = tl.load(DY + addr, mask=mask, other=0.0).to(eps.dtype)
            gb = tl.sum(g, axis=0)
            sgx = sgx + (mean - new_mean) * sg + tl.sum(g * d, axis=0) + (mb - new_mean) * gb
            sg = sg + gb
        mean = new_mean
        n = tot
    out = p * C + c
    tl.store(PCNT + out, n)
    tl.store(PMEAN + out, mean)
    tl.store(PM2 + out, m2)
    if GRADS:
        tl.store(PSG + out, sg)
        tl.store(PSGX + out, sgx)


@triton.jit
def _bn_finalize(
    PCNT, PMEAN, PM2, PSG, PSGX, MEAN, RSTD, SG, SGX, RM, RV, SCAL, C, NP, M,
    RUNNING: tl.constexpr, GRADS: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Per channel: combine the ``NP`` partials (Chan, fixed order) into the mean and
    ``1/sqrt(var + eps)``; with ``RUNNING``, update the buffers in place as torch:
    ``running = (1 - momentum) running + momentum batch`` with the unbiased variance; with
    ``GRADS``, ``SG = Σ g`` (= dβ) and ``SGX = rstd Σ g (x - mean) = Σ g x̂`` (= dγ)."""
    cs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = cs < C
    eps = tl.load(SCAL)
    n = tl.load(PCNT + cs, mask=mask, other=0.0)
    mean = tl.load(PMEAN + cs, mask=mask, other=0.0)
    m2 = tl.load(PM2 + cs, mask=mask, other=0.0)
    if GRADS:
        sg = tl.load(PSG + cs, mask=mask, other=0.0)
        sgx = tl.load(PSGX + cs, mask=mask, other=0.0)
    for p in range(1, NP):
        nb = tl.load(PCNT + p * C + cs, mask=mask, other=0.0)
        mb = tl.load(PMEAN + p * C + cs, mask=mask, other=0.0)
        m2b = tl.load(PM2 + p * C + cs, mask=mask, other=0.0)
        tot = n + nb
        delta = mb - mean
        frac = nb / tl.maximum(tot, 1.0)
        new_mean = mean + delta * frac
        m2 = m2 + m2b + delta * delta * n * frac
        if GRADS:
            gb = tl.load(PSG + p * C + cs, mask=mask, other=0.0)
            sgxb = tl.load(PSGX + p * C + cs, mask=mask, other=0.0)
            sgx = sgx + (mean - new_mean) * sg + sgxb + (mb - new_mean) * gb
            sg = sg + gb
        mean = new_mean
        n = tot
    var = m2 / M
    rstd = 1.0 / tl.sqrt(var + eps)
    tl.store(MEAN + cs, mean, mask=mask)
    tl.store(RSTD + cs, rstd, mask=mask)
    if GRADS:
        tl.store(SG + cs, sg, mask=mask)
        tl.store(SGX + cs, sgx * rstd, mask=mask)
    if RUNNING:
        mom = tl.load(SCAL + 1)
        rm = tl.load(RM + cs, mask=mask, other=0.0).to(eps.dtype)
        rv = tl.load(RV + cs, mask=mask, other=0.0).to(eps.dtype)
        rm = (1.0 - mom) * rm + mom * mean
        rv = (1.0 - mom) * rv + mom * (m2 / (M - 1))
        tl.store(RM + cs, rm.to(RM.dtype.element_ty), mask=mask)
        tl.store(RV + cs, rv.to(RV.dtype.element_ty), mask=mask)


@triton.jit
def _bn_apply(
    X, Y, MEAN, RSTD, W, B, TOTAL, C, HW,
    HAS_W: tl.constexpr, HAS_B: tl.constexpr, F64: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Elementwise ``y = γ_c (x - mean_c) rstd_c + β_c``, ``c = (i // HW) % C``; in float32
    (the float64 statistics rounded) unless ``F64`` (float64 input)."""
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < TOTAL
    c = (i // HW) % C
    mean = tl.load(MEAN + c, mask=mask, other=0.0)
    rstd = tl.load(RSTD + c, mask=mask, other=0.0)
    if not F64:
        mean = mean.to(tl.float32)
        rstd = rstd.to(tl.float32)
    x = tl.load(X + i, mask=mask, other=0.0).to(mean.dtype)
    y = (x - mean) * rstd
    if HAS_W:
        y = y * tl.load(W + c, mask=mask, other=0.0).to(mean.dtype)
    if HAS_B:
        y = y + tl.load(B + c, mask=mask, other=0.0).to(mean.dtype)
    tl.store(Y + i, y.to(Y.dtype.element_ty), mask=mask)


@triton.jit
def _bn_partial_grads(X, DY, MEAN, RSTD, PGX, PG, C, HW, M, CHUNK, BLOCK: tl.constexpr):
    """Program ``(c, p)``: partial ``sum g xhat`` and ``sum g`` over its chunk of channel
    ``c``'s set (stage 1 of ``dγ``, ``dβ`` and of the batch-norm input gradient), stored in
    float64. The products ``g (x - mean)`` of two float32 (or half) values are exact in
    float64 and summed there, ``rstd`` applied once at the end: these sums run over all of
    ``(N, *)`` (millions of entries), where float32 accumulation would lose digits (torch's
    CPU kernel accumulates in float64 too). float64 arithmetic is cheap next to the memory
    traffic on data-centre GPUs (H100: 1/2 of the float32 rate)."""
    c = tl.program_id(0)
    p = tl.program_id(1)
    mean = tl.load(MEAN + c)
    rstd = tl.load(RSTD + c)
    cols = tl.arange(0, BLOCK)
    start = p.to(tl.int64) * CHUNK
    agx = tl.zeros([BLOCK], dtype=tl.float64)
    ag = tl.zeros([BLOCK], dtype=tl.float64)
    for off in range(0, CHUNK, BLOCK):
        j = start + off + cols
        mask = j < M
        addr = (j // HW) * C * HW + c * HW + j % HW
        x = tl.load(X + addr, mask=mask, other=0.0).to(mean.dtype)
        g = tl.load(DY + addr, mask=mask, other=0.0).to(tl.float64)
        agx += g * tl.where(mask, x - mean, 0.0).to(tl.float64)
        ag += g
    tl.store(PGX + p * C + c, tl.sum(agx, axis=0) * rstd.to(tl.float64))
    tl.store(PG + p * C + c, tl.sum(ag, axis=0))


# Batch-norm input gradient: the set of channel c is (N, *), m = N * HW entries; training mode
# is the per-set formula above with gamma constant on the set (theory.normalization.
# batchnorm_backward_proved): dx = gamma rstd (g - sum(g)/m - xhat sum(g xhat)/m), the two
# sums being exactly dbeta and dgamma (training: from _bn_partial_stats with GRADS, in the
# statistics' pass, combined by _bn_finalize; eval: _bn_partial_grads + _colsum). Eval mode
# normalizes with the running statistics, so xhat is affine in x: dx = gamma rstd g.
@triton.jit
def _bn_backward_dx(
    X, DY, MEAN, RSTD, W, SGX, SG, DX, TOTAL, C, HW, M,
    HAS_W: tl.constexpr, TRAIN: tl.constexpr, F64: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < TOTAL
    c = (i // HW) % C
    mean = tl.load(MEAN + c, mask=mask, other=0.0)
    rstd = tl.load(RSTD + c, mask=mask, other=0.0)
    if not F64:  # elementwise work in float32 (the per-channel sums stay float64 until here)
        mean = mean.to(tl.float32)
        rstd = rstd.to(tl.float32)
    g = tl.load(DY + i, mask=mask, other=0.0).to(mean.dtype)
    if TRAIN:
        x = tl.load(X + i, mask=mask, other=0.0).to(mean.dtype)
        xhat = (x - mean) * rstd
        sgx = tl.load(SGX + c, mask=mask, other=0.0).to(mean.dtype)
        sg = tl.load(SG + c, mask=mask, other=0.0).to(mean.dtype)
        g = g - sg / M - xhat * (sgx / M)
    dx = g * rstd
    if HAS_W:
        dx = dx * tl.load(W + c, mask=mask, other=0.0).to(mean.dtype)
    tl.store(DX + i, dx.to(DX.dtype.element_ty), mask=mask)


__all__ = [
    "CHANNEL_BLOCK",
    "COL_BLOCK",
    "COL_CHUNK",
    "ROW_BLOCK",
    "triton",
]
