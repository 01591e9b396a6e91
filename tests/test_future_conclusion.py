"""The conclusion's two checkable cores (topic ``future``,
``theory/claims/future.9-conclusion.yaml``): parameter/compute trade-offs of dense,
convolutional and depthwise-separable layers, and the dependence structure of convolution,
recurrence and attention read off torch's Jacobians."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from theory.conv import (
    conv_macs,
    conv_params,
    depthwise_separable_macs,
    depthwise_separable_params,
)
from theory.linear import linear_params


def _flops(module: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.claim("d000.future.conclusion-parameter-efficiency")
@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.sampled_from([1, 3, 5]), st.integers(1, 6))
def test_dense_conv_and_separable_trade_parameters_for_compute(cin, cout, k, size):
    h = w = size
    x = torch.zeros(1, cin, h, w, device="meta")
    with torch.device("meta"):
        dense = nn.Sequential(nn.Flatten(), nn.Linear(cin * h * w, cout * h * w, bias=False))
        conv = nn.Conv2d(cin, cout, k, padding="same", bias=False)
        separable = nn.Sequential(
            nn.Conv2d(cin, cin, k, padding="same", groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
        )
    n = cin * cout * h * h * w * w
    assert _params(dense) == linear_params(cin * h * w, cout * h * w, bias=False) == n
    assert _flops(dense, x) == 2 * n
    assert _params(conv) == conv_params(cin, cout, k, bias=False) == cin * cout * k * k
    assert _flops(conv, x) == 2 * conv_macs(cin, cout, k, (h, w)) == 2 * cin * cout * k * k * h * w
    sep = cin * k * k + cin * cout
    assert _params(separable) == depthwise_separable_params(cin, cout, k) == sep
    assert _flops(separable, x) == 2 * depthwise_separable_macs(cin, cout, k, (h, w))
    assert depthwise_separable_macs(cin, cout, k, (h, w)) == sep * h * w
    # weight sharing: the convolution's parameters do not grow with the map, its MACs do
    big = conv_macs(cin, cout, k, (2 * h, 2 * w))
    assert conv_params(cin, cout, k, bias=False) == cin * cout * k * k and big == 4 * conv_macs(
        cin, cout, k, (h, w)
    )


def _dependence(layer, length: int, d: int) -> torch.Tensor:
    """``[t, s]``: whether output step t depends on input step s (any channel), from the
    Jacobian of ``layer`` on a random (1, length, d) input."""
    x = torch.randn(1, length, d, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v), x)  # (1, L, d_out, 1, L, d)
    return jac.abs().sum(dim=(0, 2, 3, 5)) > 0


@pytest.mark.claim("d000.future.conclusion-functional-specialization")
@settings(max_examples=10, deadline=None)
@given(st.integers(3, 8), st.integers(1, 3), st.integers(1, 2), st.integers(0, 2**31 - 1),
       st.sampled_from(["rnn", "lstm", "gru"]))  # fmt: skip
def test_conv_is_local_recurrence_causal_attention_global(length, k, dilation, seed, kind):
    torch.manual_seed(seed)
    d = 2
    conv = nn.Conv1d(d, d, k, dilation=dilation, padding="same", dtype=torch.float64)
    dep = _dependence(lambda v: conv(v.transpose(1, 2)).transpose(1, 2), length, d)
    left = dilation * (k - 1) // 2  # torch's 'same' puts the extra tap on the right
    for t in range(length):
        window = {t - left + dilation * j for j in range(k)}
        assert {s for s in range(length) if dep[t, s]} == window & set(range(length))
    rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](d, 3, batch_first=True)
    rnn = rnn.double()
    dep = _dependence(lambda v: rnn(v)[0], length, d)
    assert torch.equal(dep, torch.ones(length, length, dtype=torch.bool).tril())
    mha = nn.MultiheadAttention(d, 1, batch_first=True, dtype=torch.float64)
    dep = _dependence(lambda v: mha(v, v, v, need_weights=False)[0], length, d)
    assert bool(dep.all())
