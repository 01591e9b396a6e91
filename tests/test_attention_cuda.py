"""Attention on a GPU (runs only where CUDA is available; skipped elsewhere, so CI skips it).

Last run: NVIDIA H200, torch 2.11, 2026-11-30 — 59 passed, 6 skipped (flash refuses is_causal
with L != S); log in benchmarks/results/attention_cuda_h200.log.

torch's ``scaled_dot_product_attention`` picks a backend at run time — flash, memory-efficient
(cuDNN where present) or math. Each one is checked against the float64 NumPy kernel
(``kernels.cpu.attention``): the causal mask's alignment when the query and key lengths differ
(torch's documented top-left ``tril(ones(L, S))``, d000.attn.sdpa), and the error at reduced
precision, which must not exceed twice the error of torch's own math backend at the same
precision on the same input (the project's GPU tolerance rule) plus one unit of the dtype's
rounding of the output.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from kernels.cpu.attention import scaled_dot_product_attention as sdpa

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "math": SDPBackend.MATH,
}


def _run(backend, q, k, v, is_causal):
    with sdpa_kernel([BACKENDS[backend]]):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=is_causal)


@pytest.mark.claim("d000.attn.sdpa")
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("L", "S"), [(64, 64), (37, 128), (128, 37), (1, 200)])
@pytest.mark.parametrize("is_causal", [False, True])
def test_gpu_backends_against_the_float64_kernel(backend, dtype, L, S, is_causal):
    g = torch.Generator().manual_seed(L * 1000 + S)
    q, k, v = (torch.randn(2, 4, n, 64, generator=g, dtype=torch.float64) for n in (L, S, S))
    ref = sdpa(q.numpy(), k.numpy(), v.numpy(), is_causal=is_causal)
    low = [t.to("cuda", dtype) for t in (q, k, v)]
    try:
        out = _run(backend, *low, is_causal)
    except RuntimeError as e:  # backend not available for this shape/dtype/device
        pytest.skip(f"{backend} refused: {str(e)[:80]}")
    torch.cuda.synchronize()
    err = np.abs(out.double().cpu().numpy() - ref).max()
    with sdpa_kernel([SDPBackend.MATH]):
        own = torch.nn.functional.scaled_dot_product_attention(*low, is_causal=is_causal)
    own_err = np.abs(own.double().cpu().numpy() - ref).max()
    ulp = float(torch.finfo(dtype).eps) * np.abs(ref).max()
    assert err <= 2 * own_err + ulp, (backend, err, own_err)
    if is_causal and L != S:
        # the alignment is what decides: a bottom-right mask gives a different result
        bottom_right = np.tril(np.ones((L, S), dtype=bool), k=S - L)
        if bottom_right.any(axis=-1).all():
            other = sdpa(q.numpy(), k.numpy(), v.numpy(), attn_mask=bottom_right)
            assert np.abs(out.double().cpu().numpy() - other).max() > 10 * (err + ulp)


@pytest.mark.claim("d000.attn.sdpa")
def test_gpu_float64_math_backend_matches_the_kernel_tightly():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 50, 32, generator=g, dtype=torch.float64) for _ in range(3))
    ref = sdpa(q.numpy(), k.numpy(), v.numpy(), is_causal=True)
    out = _run("math", *(t.cuda() for t in (q, k, v)), True).cpu().numpy()
    assert np.abs(out - ref).max() < 1e-12
