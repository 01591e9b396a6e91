"""PyTorch's own OpInfo samples, unchanged, through the NumPy pooling and normalization kernels.

For every ``sample_inputs`` entry of the ops below (torch's ``op_db``, float64): tensors become
float64 NumPy arrays and *nothing else changes* — the same positional arguments, keyword names
and values (``None`` sizes, ``return_indices``, ``divisor_override``, unbatched and empty
inputs, negative ``eps``/``momentum`` where torch's samples use them). Forward values, returned
indices and updated running buffers must agree with torch, and our hand-written backward with
torch autograd for a random upstream gradient (input, weight and bias gradients). Every
``error_inputs`` entry must be rejected with ``ValueError``/``TypeError``.

Deliberate differences (documented in :mod:`kernels.cpu.pool` / :mod:`kernels.cpu.norm`):

* a max-pooling window of padding only: torch's forward gives -inf and its backward corrupts
  the heap, so torch's backward is **never** run where its forward has a -inf (the inputs are
  finite, so a -inf can only come from such a window); we raise ``ValueError`` naming the
  window. torch 2.13's samples contain none (counted below, so a new one is seen);
* ``batch_norm`` on a 1-D input of shape ``(0,)`` (two samples): torch returns it unchanged
  although it has no channel axis; we require ``(N, C, *)`` and raise ``ValueError``.

Claims: kernels as a drop-in float64 reference (issue 10 § 3). Kernels: kernels.cpu.pool,
kernels.cpu.norm.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from kernels.cpu import norm, pool
from numerics.tolerances import assert_close

pytest.importorskip("expecttest")
from torch.testing._internal.common_methods_invocations import op_db


@dataclass(frozen=True)
class Op:
    forward: Callable
    backward: Callable
    family: str  # "max", "avg", "adaptive_max", "adaptive_avg", "norm"


OPS = {
    "nn.functional.max_pool1d": Op(pool.max_pool1d, pool.max_pool1d_backward, "max"),
    "nn.functional.max_pool2d": Op(pool.max_pool2d, pool.max_pool2d_backward, "max"),
    "nn.functional.avg_pool1d": Op(pool.avg_pool1d, pool.avg_pool1d_backward, "avg"),
    "nn.functional.avg_pool2d": Op(pool.avg_pool2d, pool.avg_pool2d_backward, "avg"),
    "nn.functional.adaptive_avg_pool1d": Op(
        pool.adaptive_avg_pool1d, pool.adaptive_avg_pool1d_backward, "avg"
    ),
    "nn.functional.adaptive_avg_pool2d": Op(
        pool.adaptive_avg_pool2d, pool.adaptive_avg_pool2d_backward, "avg"
    ),
    "nn.functional.adaptive_max_pool1d": Op(
        pool.adaptive_max_pool1d, pool.adaptive_max_pool1d_backward, "max"
    ),
    "nn.functional.adaptive_max_pool2d": Op(
        pool.adaptive_max_pool2d, pool.adaptive_max_pool2d_backward, "max"
    ),
    "nn.functional.batch_norm": Op(norm.batch_norm, norm.batch_norm_backward, "norm"),
    "nn.functional.layer_norm": Op(norm.layer_norm, norm.layer_norm_backward, "norm"),
    "nn.functional.group_norm": Op(norm.group_norm, norm.group_norm_backward, "norm"),
    "nn.functional.instance_norm": Op(norm.instance_norm, norm.instance_norm_backward, "norm"),
}

# Samples torch accepts and we refuse on purpose (see the module docstring), per op.
REFUSED = {"nn.functional.batch_norm": 2}

# torch 2.13's sample counts: a change in torch's database shows up here, not as silence.
EXPECTED_SAMPLES = {
    "nn.functional.max_pool1d": 864,
    "nn.functional.max_pool2d": 1440,
    "nn.functional.avg_pool1d": 9,
    "nn.functional.avg_pool2d": 7,
    "nn.functional.adaptive_avg_pool1d": 6,
    "nn.functional.adaptive_avg_pool2d": 10,
    "nn.functional.adaptive_max_pool1d": 8,
    "nn.functional.adaptive_max_pool2d": 24,
    "nn.functional.batch_norm": 12,
    "nn.functional.layer_norm": 6,
    "nn.functional.group_norm": 21,
    "nn.functional.instance_norm": 9,
}


INFOS = {name: [o for o in op_db if o.name == name] for name in OPS}


def _opinfos(name: str) -> list:
    """The OpInfo entries of ``name`` (batch_norm has a second, ``without_cudnn``, variant)."""
    return INFOS[name]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Thousands of tiny torch calls: its thread pool only adds contention (10x slower on a
    shared 2-core machine). Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _numpy(value):
    """Tensors (also inside lists/tuples) to float64 NumPy copies; everything else unchanged."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).numpy().copy()
    if isinstance(value, list | tuple):
        return type(value)(_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    return value


def _leaf(value):
    """A fresh torch leaf (same requires_grad) so that buffers and grads are the sample's own."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    return value


def _bound(fn: Callable, args: tuple, kwargs: dict) -> dict:
    """Our forward's arguments after the input, by name (the backward takes the same names)."""
    params = inspect.signature(fn).bind(None, *args, **kwargs)
    return {k: v for k, v in params.arguments.items() if k != "x"}


def _run_sample(name: str, op: Op, sample, index: int, stats: Counter) -> None:
    where = f"{name} sample {index}: input {tuple(sample.input.shape)} args {sample.args!r} "
    where += f"kwargs {sample.kwargs!r}"
    x = _numpy(sample.input)
    args, kwargs = _numpy(sample.args), _numpy(sample.kwargs)
    try:
        ours = op.forward(x, *args, **kwargs)
    except ValueError as err:
        if op.family == "max" and "only padding" in str(err):
            with torch.no_grad():  # forward only: torch's backward corrupts the heap here
                theirs = op_torch(name)(sample.input.detach(), *sample.args, **sample.kwargs)
            values = theirs[0] if isinstance(theirs, tuple) else theirs
            assert torch.isneginf(values).any(), f"{where}: we refuse, torch has no -inf: {err}"
            stats["padding-only window (refused, torch forward -inf)"] += 1
            return
        if name == "nn.functional.batch_norm" and x.ndim == 1:
            stats["1-D batch_norm input (refused)"] += 1
            return
        raise AssertionError(f"{where}: we refuse a sample torch accepts: {err}") from err

    # torch, on fresh leaves (buffers are updated in place by both sides)
    t_input = _leaf(sample.input)
    t_args = tuple(_leaf(a) for a in sample.args)
    t_kwargs = {k: _leaf(v) for k, v in sample.kwargs.items()}
    theirs = op_torch(name)(t_input, *t_args, **t_kwargs)

    ours_y, ours_idx = ours if isinstance(ours, tuple) else (ours, None)
    their_y, their_idx = theirs if isinstance(theirs, tuple) else (theirs, None)
    assert (ours_idx is None) == (their_idx is None), f"{where}: indices returned differ"
    if op.family == "max":  # a max is exact, and so are the indices
        assert np.array_equal(ours_y, their_y.detach().numpy()), where
        if ours_idx is not None:
            assert ours_idx.dtype == np.int64, where
            assert np.array_equal(ours_idx, their_idx.numpy()), where
    else:
        assert_close(ours_y, their_y.detach().numpy(), np.float64, context=where)
    # running buffers (numpy copies updated by us, torch's clones by torch)
    ours_bound = _bound(op.forward, args, kwargs)
    their_bound = _bound(op.forward, t_args, t_kwargs)
    for buf in ("running_mean", "running_var"):
        if ours_bound.get(buf) is not None:
            assert_close(
                ours_bound[buf], their_bound[buf].numpy(), np.float64, context=f"{where} {buf}"
            )
    if torch.isneginf(their_y).any():  # cannot happen with finite inputs but a padding window
        raise AssertionError(f"{where}: torch gave -inf but we did not refuse")

    # backward: a random upstream gradient, our backward against autograd
    rng = np.random.default_rng(index)
    g = rng.standard_normal(ours_y.shape)
    leaves = {"x": t_input, **their_bound}
    wanted = {k: v for k, v in leaves.items() if isinstance(v, torch.Tensor) and v.requires_grad}
    if wanted:
        grads = torch.autograd.grad(
            their_y, list(wanted.values()), torch.from_numpy(g), allow_unused=True
        )
    else:
        grads = ()
    back_kwargs = _bound(op.forward, args, kwargs)
    back_kwargs.pop("return_indices", None)
    back_x = _numpy(sample.input)
    if op.family == "norm":  # our backward leaves the buffers alone; feed the sample's values
        for buf in ("running_mean", "running_var"):
            if buf in back_kwargs and back_kwargs[buf] is not None:
                back_kwargs[buf] = _numpy(_bound(op.forward, sample.args, sample.kwargs)[buf])
        dx, dweight, dbias = op.backward(g, back_x, **back_kwargs)
        ours_grads = {"x": dx, "weight": dweight, "bias": dbias}
    else:
        ours_grads = {"x": op.backward(g, back_x, **back_kwargs)}
    for (key, _), expected in zip(wanted.items(), grads, strict=True):
        actual = ours_grads.get(key)
        assert actual is not None, f"{where}: no gradient for {key}"
        want = np.zeros_like(actual) if expected is None else expected.numpy()
        if op.family == "max" and key == "x":  # routed, not computed: exact
            assert np.array_equal(actual, want), f"{where}: d{key}"
        else:
            assert_close(actual, want, np.float64, context=f"{where}: d{key}")
    stats["agree"] += 1


def op_torch(name: str) -> Callable:
    return _opinfos(name)[0].op


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_opinfo_sample_agrees_forward_and_backward(name):
    op = OPS[name]
    stats: Counter = Counter()
    total = 0
    for info in _opinfos(name):
        samples = list(info.sample_inputs("cpu", torch.float64, requires_grad=True))
        if info.variant_test_name == "":
            assert len(samples) == EXPECTED_SAMPLES[name], (name, len(samples))
        for i, sample in enumerate(samples):
            _run_sample(name, op, sample, i, stats)
            total += 1
    refused = total - stats["agree"]
    per_variant = len(_opinfos(name))
    assert refused == REFUSED.get(name, 0) * per_variant, (name, dict(stats))
    assert stats["agree"] >= 1


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_opinfo_error_input_is_rejected(name):
    count = 0
    for info in _opinfos(name):
        if info.error_inputs_func is None:
            continue
        for err in info.error_inputs("cpu"):
            s = err.sample_input
            x = _numpy(s.input)
            with pytest.raises((ValueError, TypeError)):
                OPS[name].forward(x, *_numpy(s.args), **_numpy(s.kwargs))
            count += 1
    has_errors = any(info.error_inputs_func is not None for info in _opinfos(name))
    assert count > 0 or not has_errors


def test_padding_only_window_is_refused_where_torch_gives_minus_inf():
    """The deliberate difference, shown on its smallest case (torch's forward only)."""
    x = np.ones((1, 1, 1))
    with torch.no_grad():
        assert torch.isneginf(torch.nn.functional.max_pool1d(torch.ones(1, 1, 1), 2, 1, 1, 2)).all()
    for fn in (pool.max_pool1d, pool.max_pool1d_backward):
        call = (x, 2, 1, 1, 2) if fn is pool.max_pool1d else (np.ones((1, 1, 1)), x, 2, 1, 1, 2)
        with pytest.raises(ValueError, match="window 0 along spatial axis 0 reads only padding"):
            fn(*call)
    assert not math.isnan(pool.max_pool1d(x, 2, 1, 1, 1).max())  # dilation 1: fine
