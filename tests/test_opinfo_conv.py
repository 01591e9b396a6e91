"""Our convolution and linear kernels as a drop-in float64 reference for torch, over torch's
own OpInfo samples (``torch.testing._internal.common_methods_invocations.op_db``).

Every float64 ``sample_inputs`` entry of ``nn.functional.conv1d``, ``conv2d``,
``conv_transpose1d``, ``conv_transpose2d`` and ``linear`` runs **unchanged** through
:mod:`kernels.cpu.conv` / :mod:`kernels.cpu.linear` (tensors converted to NumPy arrays, the
same positional arguments and keyword arguments), and agrees with torch forward and backward
(our hand-written backward vs autograd with a random upstream gradient; central differences on
the small ones). Every OpInfo ``error_inputs`` entry is rejected with ValueError/TypeError.
Samples per op (torch 2.13): conv1d 10, conv2d 30, conv_transpose1d 10, conv_transpose2d 12,
linear 18; error inputs: conv1d 10, conv2d 10 (the others define none). Nothing is skipped:
only float64 samples are requested (our kernels are real float32/float64; the complex
samples of these ops are not asked for).

Claims: d000.conv.multichannel, d000.conv.output-size, d000.conv.dilated-definition,
d000.conv.grouped-definition (theory/claims/conv.yaml), d000.linear.definition
(theory/claims/linear.yaml). Kernels: kernels.cpu.conv, kernels.cpu.linear.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from torch.testing._internal.common_methods_invocations import op_db  # ~3 s, imported once

from kernels.cpu import conv
from kernels.cpu.linear import linear, linear_backward
from kernels.cpu.mlp import mlp_backward, mlp_forward
from numerics.gradcheck import assert_grad_close, central_difference
from numerics.opcount import MacCounter
from numerics.tolerances import assert_close
from theory.conv import conv_macs, conv_transpose_macs

OURS = {
    "nn.functional.conv1d": (conv.conv1d, conv.conv1d_backward),
    "nn.functional.conv2d": (conv.conv2d, conv.conv2d_backward),
    "nn.functional.conv_transpose1d": (conv.conv_transpose1d, conv.conv_transpose1d_backward),
    "nn.functional.conv_transpose2d": (conv.conv_transpose2d, conv.conv_transpose2d_backward),
    "nn.functional.linear": (linear, linear_backward),
}
EXPECTED_COUNTS = {  # samples / error inputs per op in torch 2.13: a change is noticed
    "nn.functional.conv1d": (10, 10),
    "nn.functional.conv2d": (30, 10),
    "nn.functional.conv_transpose1d": (10, 0),
    "nn.functional.conv_transpose2d": (12, 0),
    "nn.functional.linear": (18, 0),
}
OPS = {op.name: op for op in op_db if op.name in OURS and op.variant_test_name == ""}
CLAIMS = (
    "d000.conv.multichannel",
    "d000.conv.output-size",
    "d000.conv.dilated-definition",
    "d000.conv.grouped-definition",
    "d000.linear.definition",
)


def _samples(name: str) -> list:
    return list(OPS[name].sample_inputs("cpu", torch.float64, requires_grad=True))


def _errors(name: str) -> list:
    op = OPS[name]
    return [] if op.error_inputs_func is None else list(op.error_inputs("cpu"))


SAMPLES = [(name, i, s) for name in OURS for i, s in enumerate(_samples(name))]
ERRORS = [(name, i, e) for name in OURS for i, e in enumerate(_errors(name))]


def _np(value):
    """A tensor as a NumPy array of the same dtype (a copy); anything else unchanged."""
    return value.detach().numpy().copy() if isinstance(value, torch.Tensor) else value


def _short(name: str) -> str:
    return name.removeprefix("nn.functional.")


def test_op_db_has_the_ops_and_the_counts_we_state():
    assert set(OPS) == set(OURS)
    for name, (n_samples, n_errors) in EXPECTED_COUNTS.items():
        assert sum(n == name for n, _, _ in SAMPLES) == n_samples, name
        assert sum(n == name for n, _, _ in ERRORS) == n_errors, name


def _repro(name, sample) -> str:
    shapes = [tuple(a.shape) if isinstance(a, torch.Tensor) else a for a in sample.args]
    return f"{_short(name)}(input {tuple(sample.input.shape)}, {shapes}, **{sample.kwargs})"


@pytest.mark.claim(*CLAIMS)
@pytest.mark.parametrize(
    ("name", "index", "sample"), SAMPLES, ids=[f"{_short(n)}-{i}" for n, i, _ in SAMPLES]
)
def test_sample_forward_and_backward_agree_with_torch(name, index, sample):
    forward, backward = OURS[name]
    op = OPS[name]
    args = (sample.input, *sample.args)
    ctx = _repro(name, sample)
    expected = op.op(*args, **sample.kwargs)
    ours = forward(*(_np(a) for a in args), **sample.kwargs)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float64, ctx
    assert ours.shape == tuple(expected.shape), ctx
    # the same op on |inputs| bounds the rounding error of any correct sum
    magnitude = op.op(*(a.detach().abs() if isinstance(a, torch.Tensor) else a for a in args),
                      **sample.kwargs).numpy()  # fmt: skip
    length = int(np.prod(args[1].shape)) + 1
    assert_close(ours, expected.detach().numpy(), np.float64, reduction_length=length,
                 magnitude=magnitude, context=ctx)  # fmt: skip

    grads_of = [a for a in args if isinstance(a, torch.Tensor)]
    g = np.random.default_rng(index).standard_normal(tuple(expected.shape))
    theirs = torch.autograd.grad(expected, grads_of, torch.from_numpy(g))
    # backward(grad_output, *forward_args, **forward_kwargs): the sample exactly as given
    mine = backward(g, *[_np(a) for a in args], **sample.kwargs)
    assert len(mine) == 3, ctx
    assert (mine[2] is None) == (len(grads_of) == 2), ctx  # grad_bias exactly when bias given
    for k, (a, b) in enumerate(zip([m for m in mine if m is not None], theirs, strict=True)):
        assert a.shape == tuple(b.shape), f"gradient {k}: {ctx}"
        assert_close(a, b.numpy(), np.float64, reduction_length=g.size + 1,
                     magnitude=np.abs(b.numpy()) + 1, context=f"gradient {k}: {ctx}")  # fmt: skip


SMALL = [(n, i, s) for n, i, s in SAMPLES if s.input.numel() <= 100 and s.args[0].numel() <= 100]


@pytest.mark.claim(*CLAIMS)
@pytest.mark.parametrize(
    ("name", "index", "sample"), SMALL, ids=[f"{_short(n)}-{i}" for n, i, _ in SMALL]
)
def test_small_sample_backward_agrees_with_central_differences(name, index, sample):
    forward, backward = OURS[name]
    args = [_np(a) for a in (sample.input, *sample.args)]
    args += [None] * (3 - len(args))
    kw = sample.kwargs
    y = forward(*args, **kw)
    g = np.random.default_rng(index + 1000).standard_normal(y.shape)
    mine = backward(g, *args, **kw)
    for k in range(3):
        if not isinstance(args[k], np.ndarray):
            assert mine[k] is None
            continue

        def f(v, k=k):
            return forward(*args[:k], v, *args[k + 1 :], **kw)

        expected = central_difference(f, args[k].copy(), g)
        assert_grad_close(mine[k], expected, f"argument {k}: {_repro(name, sample)}")


def test_every_op_has_small_samples_for_central_differences():
    assert {n for n, _, _ in SMALL} == set(OURS)


@pytest.mark.parametrize(
    ("name", "index", "err"), ERRORS, ids=[f"{_short(n)}-{i}" for n, i, _ in ERRORS]
)
def test_opinfo_error_inputs_are_rejected(name, index, err):
    """Each OpInfo error input (torch raises ``err.error_type``) is rejected by us with a
    ValueError/TypeError; tensors keep their dtype (int64, complex128) on conversion."""
    s = err.sample_input
    args = [_np(a) for a in (s.input, *s.args)]
    with pytest.raises(err.error_type):
        OPS[name].op(s.input, *s.args, **s.kwargs)
    with pytest.raises((ValueError, TypeError)):
        OURS[name][0](*args, **s.kwargs)


# --------------------------------------------------------------------------- error inputs
# for the ops without OpInfo error_inputs: torch rejects each (checked), so must we.

_T = torch.float64
_X1, _X2 = np.ones((1, 2, 5)), np.ones((1, 2, 5, 5))
OWN_ERRORS = [
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2))), {"stride": 2, "output_padding": 2}),
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2))), {"padding": "same"}),
    ("conv_transpose1d", (_X1, np.ones((3, 3, 2))), {}),
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2))), {"groups": 0}),
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2))), {"groups": 2, "output_padding": 1}),
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2))), {"padding": 3}),
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2)), np.ones(2)), {}),
    ("conv_transpose1d", (_X1, np.ones((2, 3, 2))), {"stride": -1}),
    ("conv_transpose2d", (_X2, np.ones((2, 1, 3, 3))), {"dilation": 0}),
    ("conv_transpose2d", (_X2, np.ones((2, 1, 3))), {}),
    ("conv_transpose2d", (_X2, np.ones((2, 1, 3, 3))), {"output_padding": (0, 1)}),
    ("conv_transpose2d", (_X2, np.ones((2, 1, 3, 3))), {"stride": (1, 2, 3)}),
    ("conv2d", (_X2, np.ones((1, 2, 3, 3))), {"padding": "full"}),
    ("conv2d", (_X2, np.ones((1, 2, 3, 3))), {"padding": "same", "stride": 2}),
    ("conv2d", (_X2, np.ones((1, 2, 6, 6))), {}),
    ("conv1d", (np.ones((1, 1, 2, 2, 5)), np.ones((1, 1, 3))), {}),
    ("linear", (np.ones((2, 3)), np.ones((4, 5))), {}),
    ("linear", (np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), {}),
    ("linear", (np.ones((2, 3)), np.ones(4)), {}),
    ("linear", (np.ones(()), np.ones((4, 3))), {}),
    ("linear", (np.ones((2, 3)), np.ones((4, 3, 1))), {}),
]


@pytest.mark.parametrize(("op", "args", "kwargs"), OWN_ERRORS)
def test_errors_torch_rejects_we_reject(op, args, kwargs):
    tensors = [torch.from_numpy(a) for a in args]
    with pytest.raises((RuntimeError, TypeError)):
        getattr(F, op)(*tensors, **kwargs)
    fn = linear if op == "linear" else getattr(conv, op)
    with pytest.raises((ValueError, TypeError)):
        fn(*args, **kwargs)


# --------------------------------------------------------------------------- differences


def test_deliberate_differences_from_torch():
    """Documented in the modules' docstrings. torch returns an empty result for zero input
    channels (of shape (2, 0, 3) here, though the empty sum would be zeros of (2, 1, 3)),
    broadcasts a bias of shape (1,) or (), and runs transposed convolutions on int64
    tensors; we reject each with a message naming the argument. With a 1-D weight torch
    rejects a bias for a 2-D input only (addmm); we accept it for every rank."""
    x, w = np.ones((2, 0, 5)), np.ones((1, 0, 3))
    assert F.conv1d(torch.from_numpy(x), torch.from_numpy(w)).numel() == 0
    with pytest.raises(ValueError, match="input"):
        conv.conv1d(x, w)
    xl, wl = np.ones((2, 3)), np.ones((4, 3))
    for b in (np.ones(1), np.ones(())):
        assert F.linear(*map(torch.from_numpy, (xl, wl, b))).shape == (2, 4)
        with pytest.raises(ValueError, match="bias"):
            linear(xl, wl, b)
    xi, wi = np.ones((1, 2, 5, 5), np.int64), np.ones((2, 1, 3, 3), np.int64)
    assert F.conv_transpose2d(torch.from_numpy(xi), torch.from_numpy(wi)).shape == (1, 1, 7, 7)
    with pytest.raises(TypeError, match="input"):
        conv.conv_transpose2d(xi, wi)
    w1, b0 = np.arange(3.0), np.array(0.5)
    with pytest.raises(RuntimeError):
        F.linear(torch.from_numpy(xl), torch.from_numpy(w1), torch.from_numpy(b0))
    for lead in ((), (2,), (4, 2)):
        xs = np.ones((*lead, 3))
        assert_close(linear(xs, w1, b0), xs @ w1 + b0, np.float64)


# --------------------------------------------------------------------------- properties


def _rand(rng, *shape):
    return rng.standard_normal(shape)


@st.composite
def transposed_case(draw, nd):
    g = draw(st.integers(1, 2), label="groups")
    cin, cout = g * draw(st.integers(1, 2), label="cin/g"), g * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3), label="kernel") for _ in range(nd))
    s = tuple(draw(st.integers(1, 3), label="stride") for _ in range(nd))
    d = tuple(draw(st.integers(1, 3), label="dilation") for _ in range(nd))
    op = tuple(
        draw(st.integers(0, max(a, b) - 1), label="output_padding")
        for a, b in zip(s, d, strict=False)
    )
    size = tuple(draw(st.integers(1, 4), label="size") for _ in range(nd))
    full = [
        (i - 1) * a + b * (kk - 1) + o + 1
        for i, a, b, kk, o in zip(size, s, d, k, op, strict=False)
    ]
    p = tuple(draw(st.integers(0, (f - 1) // 2), label="padding") for f in full)
    batch = draw(st.integers(0, 2), label="batch")
    return batch, cin, cout, g, size, k, dict(stride=s, padding=p, output_padding=op,
                                               groups=g, dilation=d)  # fmt: skip


def _zero_insertion(x, w, stride, padding, output_padding, groups, dilation):
    """Transposed conv by the textbook route (Dumoulin & Visin § 4.5-4.6): insert S-1 zeros
    between inputs, pad by D(K-1)-P before and D(K-1)-P+P_out after (negative: crop), and
    cross-correlate with the spatially flipped kernel, in/out channels swapped per group."""
    nd = x.ndim - 2
    n, cin = x.shape[:2]
    cout_g = w.shape[1]
    z = np.zeros((n, cin, *((i - 1) * s + 1 for i, s in zip(x.shape[2:], stride, strict=False))))
    z[(..., *(slice(None, None, s) for s in stride))] = x
    geometry = zip(w.shape[2:], dilation, padding, output_padding, strict=True)
    pads = [(dd * (k - 1) - p, dd * (k - 1) - p + o) for k, dd, p, o in geometry]
    grow = [(max(a, 0), max(b, 0)) for a, b in pads]
    z = np.pad(z, [(0, 0), (0, 0), *grow])
    z = z[(..., *(slice(max(-a, 0), z.shape[2 + i] - max(-b, 0)) for i, (a, b) in enumerate(pads)))]
    wf = np.flip(w, axis=tuple(range(2, 2 + nd)))  # (Cin, Cout/G, K)
    wf = wf.reshape(groups, cin // groups, cout_g, *w.shape[2:]).swapaxes(1, 2)
    wf = wf.reshape(groups * cout_g, cin // groups, *w.shape[2:])
    forward = conv.conv1d if nd == 1 else conv.conv2d
    return forward(z, wf, None, 1, 0, dilation, groups)


@pytest.mark.claim("d000.conv.output-size")
@given(case=st.integers(1, 2).flatmap(transposed_case), seed=st.integers(0, 2**32 - 1))
def test_transposed_conv_equals_zero_insertion_and_torch_and_is_the_adjoint(case, seed):
    """Three routes to one transposed convolution: ours (adjoint of the gather), zero
    insertion + flipped kernel, torch. And <conv_t(x), y> = <x, conv(crop-padded y)> is the
    adjoint identity behind our definition (output_padding 0)."""
    batch, cin, cout, g, size, k, kw = case
    nd = len(size)
    rng = np.random.default_rng(seed)
    x = _rand(rng, batch, cin, *size)
    w = _rand(rng, cin, cout // g, *k)
    b = _rand(rng, cout)
    fwd = conv.conv_transpose1d if nd == 1 else conv.conv_transpose2d
    tfwd = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
    ours = fwd(x, w, b, **kw)
    theirs = tfwd(*map(torch.from_numpy, (x, w, b)), **kw).numpy()
    assert_close(ours, theirs, np.float64, context=str(case))
    bshape = (1, -1, *([1] * nd))
    assert_close(ours - b.reshape(bshape), _zero_insertion(x, w, **kw), np.float64,
                 context=str(case))  # fmt: skip
    y = _rand(rng, *ours.shape)
    with MacCounter() as count:
        t = fwd(x, w, None, **kw)
    assert count.macs == (conv_transpose_macs(cin, cout, k, size, g, batch) if batch else 0)
    if all(o == 0 for o in kw["output_padding"]) and batch:
        cfwd = conv.conv1d if nd == 1 else conv.conv2d
        back = cfwd(y, w, None, kw["stride"], kw["padding"], kw["dilation"], g)
        assert back.shape == x.shape
        assert np.isclose(np.sum(t * y), np.sum(x * back), rtol=1e-10, atol=1e-10)


@pytest.mark.claim("d000.conv.multichannel", "d000.conv.grouped-definition")
@given(
    nd=st.integers(1, 2),
    g=st.integers(1, 2),
    k=st.integers(1, 4),
    d=st.integers(1, 3),
    extra=st.integers(0, 4),
    batched=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_same_and_valid_padding_unbatched_and_macs(nd, g, k, d, extra, batched, seed):
    """'same' keeps the size (even kernels: the extra zero after, as torch); 'valid' is 0;
    unbatched = batched with N = 1; MACs = theory.conv.conv_macs."""
    rng = np.random.default_rng(seed)
    size = (d * (k - 1) + 1 + extra,) * nd
    x = _rand(rng, 2, 2 * g, *size)
    w = _rand(rng, 3 * g, 2, *((k,) * nd))
    fwd, bwd = (
        (conv.conv1d, conv.conv1d_backward) if nd == 1 else (conv.conv2d, conv.conv2d_backward)
    )
    tf = F.conv1d if nd == 1 else F.conv2d
    for padding in ("same", "valid"):
        ours = fwd(x, w, None, 1, padding, d, g)
        theirs = tf(torch.from_numpy(x), torch.from_numpy(w), None, 1, padding, d, g).numpy()
        assert_close(ours, theirs, np.float64)
        if padding == "same":
            assert ours.shape[2:] == size
        single = fwd(x[0], w, None, 1, padding, d, g)
        assert_close(single, ours[0], np.float64)
        gy = _rand(rng, *ours.shape)
        dx, dw, db = bwd(gy, x, w, None, 1, padding, d, g)
        dx1, _, _ = bwd(gy[0], x[0], w, None, 1, padding, d, g)
        assert db is None and dx.shape == x.shape and dw.shape == w.shape
        assert_close(dx1, dx[0], np.float64)
    with MacCounter() as count:
        ours = fwd(x, w, None, 2, 1, d, g)
    assert count.macs == conv_macs(2 * g, 3 * g, (k,) * nd, ours.shape[2:], g, 2)
    empty = fwd(x[:0], w, None, 1, 0, d, g)
    assert empty.shape == tuple(tf(torch.from_numpy(x[:0]), torch.from_numpy(w), None, 1, 0, d,
                                   g).shape)  # fmt: skip


@pytest.mark.claim("d000.linear.definition")
@given(
    lead=st.lists(st.integers(0, 3), max_size=3),
    n=st.integers(1, 4),
    m=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_linear_any_rank_forward_backward(lead, n, m, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = _rand(rng, *lead, n), _rand(rng, m, n)
    b = _rand(rng, m) if bias else None
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_() if bias else None
    y = F.linear(xt, wt, bt)
    ours = linear(x, w, b)
    assert_close(ours, y.detach().numpy(), np.float64)
    g = _rand(rng, *y.shape)
    wanted = [xt, wt, *([bt] if bias else [])]
    theirs = torch.autograd.grad(y, wanted, torch.from_numpy(g), allow_unused=True)
    mine = linear_backward(g, x, w, b)
    assert (mine[2] is None) != bias
    for a, t in zip(mine, theirs, strict=False):
        expected = np.zeros(a.shape) if t is None else t.numpy()  # empty batch: no graph
        assert_close(a, expected, np.float64)


# --------------------------------------------------------------------------- MLP stacks
# (kernels.cpu.mlp: stacks of the bias-free linear layers above; issue 10 § 4 found a planted
# bug in its backward that survived the suite, whose only check used square orthogonal W.)


@pytest.mark.claim("d000.linear.input-gradient")
@given(
    widths=st.lists(st.integers(1, 5), min_size=2, max_size=5),
    batch=st.integers(1, 3),
    act=st.sampled_from(["linear", "relu", "tanh"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_mlp_backward_agrees_with_autograd_and_central_differences(widths, batch, act, seed):
    """Non-square layers of every depth 1-4: pre-activations equal torch's, every layer's
    input gradient equals autograd's, the first also central differences."""
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((m, n)) for n, m in itertools.pairwise(widths)]
    x = rng.standard_normal((batch, widths[0]))
    up = rng.standard_normal((batch, widths[-1]))
    phi = {"linear": lambda h: h, "relu": torch.relu, "tanh": torch.tanh}[act]
    xs = [torch.from_numpy(x.copy()).requires_grad_()]
    hs_t = []
    for w in ws:
        hs_t.append(xs[-1] @ torch.from_numpy(w).T)
        xs.append(phi(hs_t[-1]))
        xs[-1].retain_grad()
    xs[-1].backward(torch.from_numpy(up))
    hs = mlp_forward(x, ws, act)
    if act == "relu":  # central differences need every pre-activation away from the kink
        assume(min(float(np.abs(h).min()) for h in hs) > 1e-3)
    grads = mlp_backward(up, hs, ws, act)
    assert len(hs) == len(grads) == len(ws)
    for ours, theirs in zip(hs, hs_t, strict=True):
        assert_close(ours, theirs.detach().numpy(), np.float64)
    for layer, g in enumerate(grads):
        assert g.shape == (batch, widths[layer])
        assert_close(g, xs[layer].grad.numpy(), np.float64, context=f"layer {layer}")

    def loss_input(v):
        h = mlp_forward(v, ws, act)[-1]
        return {"linear": h, "relu": np.maximum(h, 0), "tanh": np.tanh(h)}[act]

    assert_grad_close(grads[0], central_difference(loss_input, x.copy(), up), f"act={act}")
