"""Triton kernels with the API of :mod:`kernels.cpu`, on torch tensors.

* :mod:`kernels.gpu.linear` — dense linear (bias fused, any batch rank) and its backward,
  low-rank and block-sparse layers (only the stored blocks are multiplied), one tiled
  ``tl.dot`` GEMM kernel;
* :mod:`kernels.gpu.conv` — 1-D and 2-D convolution as implicit GEMM (no im2col buffer:
  stride, padding, dilation, groups, a direct depthwise kernel), input gradient (sub-pixel
  decomposition for stride > 1; also the transposed convolution), split-K weight gradient;
* :mod:`kernels.gpu.attention` — fused scaled dot-product attention (FlashAttention-2: online
  softmax, causal, grouped-query, log-sum-exp saved for the backward) and the row-wise,
  numerically stable softmax, each with its backward;
* :mod:`kernels.gpu.recurrent` — RNN, LSTM and GRU (reset after and reset before) cells with
  fused gate kernels (the matrix products in torch's GEMM, as torch's fused cells), forward
  and backward, and sequence forwards;
* :mod:`kernels.gpu.norm` — batch (training with running statistics, and evaluation), layer,
  group, instance and RMS normalization, forward and backward with the ``dγ``, ``dβ``
  reductions;
* :mod:`kernels.gpu.dropout` — dropout whose mask is regenerated from ``(seed, offset)`` by
  Philox-4x32-10 (``tl.rand``) in the backward; :mod:`kernels.cpu.philox` reproduces its bits;
* :mod:`kernels.gpu.pool` — 2-D max and average pooling (padding, stride, dilation, ceil mode,
  torch's tie rule), forward and backward;
* :mod:`kernels.gpu.embedding` — lookup and the scatter-add backward (repeated indices).

Importing any of them never needs Triton or a GPU. A kernel call runs compiled on a CUDA
device, or in Triton's interpreter on the CPU when ``TRITON_INTERPRET=1`` was set before
``import triton`` (how CI tests them, at small shapes); otherwise it raises
:class:`GPUUnavailable` saying what is missing. ``python -m kernels.gpu`` prints where the
kernels would run.
"""

from __future__ import annotations

from kernels.gpu._backend import (
    GPUUnavailable,
    interpret_requested,
    triton_version,
    why_unavailable,
)

__all__ = ["GPUUnavailable", "available", "status"]


def available() -> bool:
    """Whether a kernel call can run here (compiled on CUDA, or in the interpreter)."""
    return why_unavailable() is None


def status() -> str:
    """One line: the Triton version and where the kernels run, or why they cannot."""
    version = triton_version()
    reason = why_unavailable()
    if reason is not None:
        return f"kernels.gpu unavailable: {reason}"
    import torch

    where = (
        "in Triton's interpreter on the CPU (TRITON_INTERPRET=1)"
        if interpret_requested()
        else f"compiled on {torch.cuda.get_device_name()}"
    )
    return f"kernels.gpu: Triton {version}, torch {torch.__version__}, running {where}"
