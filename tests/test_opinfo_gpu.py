"""PyTorch's own OpInfo samples through the Triton kernels (:mod:`kernels.gpu`), unchanged.

For every ``sample_inputs`` entry (torch's ``op_db``, float32) of the ops below, the tensors
move to the kernels' device and nothing else changes: the same positional arguments, keyword
names and values. Forward values (and returned indices, and updated running buffers) must meet
the GPU rule (:func:`numerics.tolerances.assert_gpu_close`: twice torch's own float32 error
against torch in float64, plus one rounding unit) — max pooling and embedding exactly — and our
backward must meet it against torch autograd for a random upstream gradient.

In Triton's interpreter (CI) each op runs an evenly spaced subset of at most
:data:`INTERPRETED_SAMPLES` samples (max_pool2d has 1440); on a GPU, every sample.

Deliberate differences, each counted so that a change in torch's database is seen:

* dropout needs ``seed=`` (its mask is a function of ``(seed, offset)``): the test passes
  the sample's index; values are then checked to be 0 or ``x/(1-p)``, exactly ``x`` for
  ``p = 0`` or ``training=False``;
* dropout with ``p = 1`` is refused, in training and evaluation mode alike (as
  :func:`kernels.cpu.dropout.dropout`: the scale :math:`1/(1-p)` does not exist; torch returns
  zeros);
* embedding's ``max_norm``, ``norm_type``, ``scale_grad_by_freq`` and ``sparse`` are not
  implemented (as in :mod:`kernels.cpu.embedding`): those samples raise ``TypeError``;
* the fused attention refuses ``attn_mask`` and ``dropout_p > 0`` (not fused; as documented
  in :mod:`kernels.gpu.attention`); its backward is compared with torch's own CPU
  FlashAttention backward (``_scaled_dot_product_flash_attention_for_cpu_backward``: the same
  algorithm, P recomputed from the saved log-sum-exp), whose float32 error grows with the
  scores' magnitude, not with the math path's (:func:`_torch_flash_backward`);
* ``softmax``'s ``with_dtype`` variant (a ``dtype=`` keyword) is not part of our API;
* the samples our CPU kernels refuse on purpose (``tests/test_opinfo_pool_norm.py``) are
  refused here too.
"""

from __future__ import annotations

import importlib
import inspect
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from numerics.tolerances import assert_gpu_close

pytest.importorskip("expecttest")
from torch.testing._internal.common_methods_invocations import op_db

from tests.gpu_support import DEV, INTERPRETED, needs_kernels

pytestmark = needs_kernels

INTERPRETED_SAMPLES = 40


@dataclass(frozen=True)
class Op:
    module: str
    forward: str
    backward: str | None
    kind: str  # "exact" (max pool, embedding), "grads" (backward returns a tuple), "value",
    # "dropout"
    grads: tuple[str, ...] = ("x", "weight", "bias")  # what a "grads" backward returns, in order


OPS = {
    "nn.functional.max_pool2d": Op("pool", "max_pool2d", "max_pool2d_backward", "exact"),
    "nn.functional.avg_pool2d": Op("pool", "avg_pool2d", "avg_pool2d_backward", "value"),
    "nn.functional.layer_norm": Op("norm", "layer_norm", "layer_norm_backward", "grads"),
    "nn.functional.group_norm": Op("norm", "group_norm", "group_norm_backward", "grads"),
    "nn.functional.batch_norm": Op("norm", "batch_norm", "batch_norm_backward", "grads"),
    "nn.functional.instance_norm": Op("norm", "instance_norm", "instance_norm_backward", "grads"),
    "nn.functional.rms_norm": Op("norm", "rms_norm", "rms_norm_backward", "grads"),
    "softmax": Op("attention", "softmax", "softmax_backward", "value"),
    "nn.functional.embedding": Op("embedding", "embedding", "embedding_backward", "exact"),
    "nn.functional.dropout": Op("dropout", "dropout", None, "dropout"),
    "nn.functional.linear": Op("linear", "linear", "linear_backward", "grads"),
    "nn.functional.conv2d": Op("conv", "conv2d", "conv2d_backward", "grads"),
    "nn.functional.conv_transpose2d": Op(
        "conv", "conv_transpose2d", "conv_transpose2d_backward", "grads"
    ),
    "nn.functional.scaled_dot_product_attention": Op(
        "attention",
        "scaled_dot_product_attention",
        "scaled_dot_product_attention_backward",
        "grads",
        ("x", "key", "value"),
    ),
}

# Samples refused on purpose (see the CPU kernels' docstrings), per op.
REFUSED = {
    "nn.functional.batch_norm": 2,
    "nn.functional.dropout": 6,
    "nn.functional.embedding": 5,
    "nn.functional.scaled_dot_product_attention": 13,
}


def _kernel(op: Op, which: str):
    module = importlib.import_module(f"kernels.gpu.{op.module}")
    return getattr(module, getattr(op, which))


def _dev(value, dtype=None):
    """Tensors (also in lists/tuples/dicts) detached onto the kernels' device."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        return t.to(DEV).clone()
    if isinstance(value, list | tuple):
        return type(value)(_dev(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _dev(v, dtype) for k, v in value.items()}
    return value


def _cpu(value, dtype=None):
    """Fresh CPU leaves (same requires_grad), optionally cast (float64 reference)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().clone()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        return t.requires_grad_(value.requires_grad and t.is_floating_point())
    if isinstance(value, list | tuple):
        return type(value)(_cpu(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cpu(v, dtype) for k, v in value.items()}
    return value


def _subset(samples: list) -> list[tuple[int, object]]:
    indexed = list(enumerate(samples))
    if not INTERPRETED or len(indexed) <= INTERPRETED_SAMPLES:
        return indexed
    step = len(indexed) / INTERPRETED_SAMPLES
    return [indexed[int(i * step)] for i in range(INTERPRETED_SAMPLES)]


def _bound(fn, args, kwargs) -> dict:
    params = inspect.signature(fn).bind(None, *args, **kwargs).arguments
    return {k: v for k, v in list(params.items())[1:]}


def _run(name: str, op: Op, info, index: int, sample, stats: Counter) -> None:
    where = f"{name} sample {index}: input {tuple(sample.input.shape)} kwargs {sample.kwargs!r}"
    fwd = _kernel(op, "forward")
    x, args, kwargs = _dev(sample.input), _dev(sample.args), _dev(sample.kwargs)
    if op.kind == "dropout":
        bound = _bound(torch.nn.functional.dropout, sample.args, sample.kwargs)
        p, training = bound.get("p", 0.5), bound.get("training", True)
        if p == 1:
            with pytest.raises(ValueError, match="p must be a drop probability"):
                fwd(x, *args, **kwargs, seed=index)
            stats["p = 1 (refused: no 1/(1-p) scale)"] += 1
            return
        y = fwd(x, *args, **kwargs, seed=index)
        if p == 0 or not training:
            assert torch.equal(y, x), where
        else:
            scale = torch.tensor(1 / (1 - p), dtype=x.dtype)
            ok = (y == 0) | (y == x * scale.to(x.device))
            assert bool(ok.all()), where
        stats["agree"] += 1
        return
    if op.module == "embedding":
        _run_embedding(op, info, index, sample, stats)
        return
    if name == "nn.functional.scaled_dot_product_attention":
        bound = _bound(fwd, sample.args, sample.kwargs)
        if bound.get("dropout_p", 0.0) != 0 or bound.get("attn_mask") is not None:
            with pytest.raises(ValueError, match=r"dropout_p must be 0|attn_mask must be None"):
                fwd(x, *args, **kwargs)
            stats["dropout_p > 0 or attn_mask (refused: not fused)"] += 1
            return
    try:
        ours = fwd(x, *args, **kwargs)
    except ValueError as err:
        if name == "nn.functional.batch_norm" and x.ndim == 1:
            stats["1-D batch_norm input (refused)"] += 1
            return
        raise AssertionError(f"{where}: we refuse a sample torch accepts: {err}") from err
    t32 = (_cpu(sample.input), _cpu(sample.args), _cpu(sample.kwargs))
    t64 = (_cpu(sample.input, torch.float64), _cpu(sample.args, torch.float64),
           _cpu(sample.kwargs, torch.float64))  # fmt: skip
    theirs = info.op(t32[0], *t32[1], **t32[2])
    ref = info.op(t64[0], *t64[1], **t64[2])
    ours_y, ours_idx = ours if isinstance(ours, tuple) else (ours, None)
    their_y, their_idx = theirs if isinstance(theirs, tuple) else (theirs, None)
    ref_y = ref[0] if isinstance(ref, tuple) else ref
    if op.kind == "exact":
        assert torch.equal(ours_y.cpu(), their_y.detach()), where
        if their_idx is not None:
            assert torch.equal(ours_idx.cpu(), their_idx), where
    else:
        assert_gpu_close(ours_y, ref_y.detach().numpy(), their_y.detach(), context=where)
    for buf in ("running_mean", "running_var"):  # updated in place by both sides
        ours_b = _bound(fwd, args, kwargs).get(buf)
        if ours_b is not None:
            their_b = _bound(fwd, t32[1], t32[2])[buf]
            ref_b = _bound(fwd, t64[1], t64[2])[buf]
            assert_gpu_close(ours_b, ref_b.numpy(), their_b, context=f"{where} {buf}")

    # backward: a random upstream gradient; the sample's own (not updated) buffers
    g = torch.randn(their_y.shape, generator=torch.Generator().manual_seed(index))
    leaves32 = {"x": t32[0], **_bound(fwd, t32[1], t32[2])}
    leaves64 = {"x": t64[0], **_bound(fwd, t64[1], t64[2])}
    wanted = [k for k, v in leaves32.items() if isinstance(v, torch.Tensor) and v.requires_grad]
    if not wanted:
        stats["agree"] += 1
        return
    grads32 = torch.autograd.grad(their_y, [leaves32[k] for k in wanted], g, allow_unused=True)
    if name == "nn.functional.scaled_dot_product_attention" and wanted == ["x", "key", "value"]:
        grads32 = _torch_flash_backward(g, t32, _bound(fwd, t32[1], t32[2]))
    grads64 = torch.autograd.grad(ref_y, [leaves64[k] for k in wanted], g.double(),
                                  allow_unused=True)  # fmt: skip
    back = _kernel(op, "backward")
    b_args, b_kwargs = _dev(sample.args), _dev(sample.kwargs)
    bound = _bound(fwd, b_args, b_kwargs)
    bound.pop("return_indices", None)
    if op.kind == "grads":
        grads = back(_dev(g), _dev(sample.input), **bound)  # e.g. (dx, dweight[, dbias])
        got = dict(zip(op.grads, grads, strict=False))
    else:
        got = {"x": back(_dev(g), _dev(sample.input), **bound)}
    for key, e32, e64 in zip(wanted, grads32, grads64, strict=True):
        actual = got.get(key)
        assert actual is not None, f"{where}: no gradient for {key}"
        if e32 is None:
            assert not actual.any(), f"{where}: d{key} should be 0"
            continue
        if op.kind == "exact" and op.module == "pool":  # routed, not computed
            assert torch.equal(actual.cpu(), e32), f"{where}: d{key}"
        else:
            assert_gpu_close(actual, e64.numpy(), e32, context=f"{where}: d{key}")
    stats["agree"] += 1


def _torch_flash_backward(g, t32, bound) -> tuple[torch.Tensor, ...]:
    """torch's own FlashAttention-2 backward on the CPU (``_scaled_dot_product_flash_attention
    _for_cpu``): the same algorithm as ours — P recomputed from the saved log-sum-exp, and
    δ = rowsum(dO∘O) — whose float32 error grows with |scores| (relative error ≈ |S|·u in
    exp(S − LSE)); OpInfo's values in [-9, 9] make |S| reach hundreds, where the math path's
    softmax, exact to a few ulps, is not the like-for-like error (it measured 6x smaller on
    sample 0, and torch's flash 5x larger than the math path). GQA repeats the key/value
    heads and sums their gradients back."""
    q, k, v = (t.detach() for t in (t32[0], bound["key"], bound["value"]))
    rep = q.shape[-3] // k.shape[-3] if bound.get("enable_gqa") else 1
    if rep > 1:
        k, v = k.repeat_interleave(rep, -3), v.repeat_interleave(rep, -3)
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])

    def flat(t):  # (batch, heads=1, rows, width): the flash op's 4-D layout
        return t.expand(*lead, *t.shape[-2:]).reshape(-1, 1, *t.shape[-2:])

    q4, k4, v4, g4 = flat(q), flat(k), flat(v), flat(g)
    causal, scale = bound.get("is_causal", False), bound.get("scale")
    ops = torch.ops.aten
    out, lse = ops._scaled_dot_product_flash_attention_for_cpu(q4, k4, v4, 0.0, causal, scale=scale)
    grads = ops._scaled_dot_product_flash_attention_for_cpu_backward(
        g4, q4, k4, v4, out, lse, 0.0, causal, scale=scale
    )
    dq, dk, dv = (d.reshape(*lead, *t.shape[-2:]) for d, t in zip(grads, (q, k, v), strict=True))
    if rep > 1:
        dk, dv = (d.unflatten(-3, (-1, rep)).sum(-3) for d in (dk, dv))
    return tuple(
        _unbroadcast(d, t.shape)
        for d, t in zip((dq, dk, dv), (t32[0], bound["key"], bound["value"]), strict=True)
    )


def _unbroadcast(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``t`` summed back to a broadcast operand's ``shape``."""
    while t.ndim > len(shape):
        t = t.sum(0)
    dims = [i for i, n in enumerate(shape) if n == 1 and t.shape[i] != 1]
    return t.sum(dims, keepdim=True) if dims else t


def _run_embedding(op: Op, info, index: int, sample, stats: Counter) -> None:
    """OpInfo's embedding takes ``(weight, indices, **kwargs)``; ours ``(input, weight)``."""
    fwd, back = _kernel(op, "forward"), _kernel(op, "backward")
    weight, idx, kwargs = sample.input, sample.args[0], dict(sample.kwargs)
    where = f"embedding sample {index}: weight {tuple(weight.shape)} kwargs {kwargs!r}"
    if set(kwargs) - {"padding_idx"}:
        with pytest.raises(TypeError):
            fwd(_dev(idx), _dev(weight), **kwargs)
        stats["max_norm/scale_grad_by_freq/sparse (not implemented)"] += 1
        return
    ours = fwd(_dev(idx), _dev(weight), **kwargs)
    w32 = weight.detach().clone().requires_grad_(True)
    w64 = weight.detach().double().requires_grad_(True)
    theirs = torch.nn.functional.embedding(idx, w32, **kwargs)
    assert torch.equal(ours.cpu(), theirs.detach()), where
    g = torch.randn(theirs.shape, generator=torch.Generator().manual_seed(index))
    (e32,) = torch.autograd.grad(theirs, [w32], g)
    (e64,) = torch.autograd.grad(
        torch.nn.functional.embedding(idx, w64, **kwargs), [w64], g.double()
    )
    got = back(_dev(g), _dev(idx), _dev(weight), **kwargs)
    assert_gpu_close(got, e64.numpy(), e32, context=f"{where}: dweight")
    stats["agree"] += 1


@pytest.mark.parametrize("name", sorted(OPS))
def test_opinfo_samples_through_the_triton_kernels(name):
    op = OPS[name]
    try:
        importlib.import_module(f"kernels.gpu.{op.module}")
    except ModuleNotFoundError:
        pytest.skip(f"kernels.gpu.{op.module} is not built yet")
    stats: Counter = Counter()
    infos = [o for o in op_db if o.name == name and o.variant_test_name != "with_dtype"]
    assert infos, name
    total, everything = 0, True
    for info in infos:
        # embedding: torch's database holds its unsupported-keyword samples only without grad
        grad = op.module != "embedding"
        samples = list(info.sample_inputs("cpu", torch.float32, requires_grad=grad))
        picked = _subset(samples)
        everything &= len(picked) == len(samples)
        for index, sample in picked:
            _run(name, op, info, index, sample, stats)
            total += 1
    assert stats["agree"] >= 1, (name, dict(stats))
    refused, expected = total - stats["agree"], REFUSED.get(name, 0) * len(infos)
    if everything:  # every sample ran: exactly the documented refusals
        assert refused == expected, (name, dict(stats))
    else:  # the interpreter's subset
        assert refused <= expected, (name, dict(stats))


@pytest.mark.parametrize("name", sorted(OPS))
def test_opinfo_error_inputs_are_rejected(name):
    op = OPS[name]
    try:
        fwd = _kernel(op, "forward")
    except ModuleNotFoundError:
        pytest.skip(f"kernels.gpu.{op.module} is not built yet")
    for info in (o for o in op_db if o.name == name):
        if info.error_inputs_func is None:
            continue
        for err in info.error_inputs("cpu"):
            s = err.sample_input
            extra = {"seed": 0} if op.kind == "dropout" else {}
            with pytest.raises((ValueError, TypeError)):
                fwd(_dev(s.input), *_dev(s.args), **_dev(s.kwargs), **extra)


def test_the_interpreter_subset_is_spread_over_all_samples():
    samples = list(range(1440))
    picked = [i for i, _ in _subset(samples)]
    if INTERPRETED:
        assert len(picked) == INTERPRETED_SAMPLES and picked[0] == 0 and picked[-1] > 1400
    else:
        assert picked == samples
    np.testing.assert_array_equal(np.diff(picked) > 0, True)
