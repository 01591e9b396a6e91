"""What every test of the Triton kernels shares: where they run, and the two markers.

``DEV`` is the kernels' device, computed without starting a backend (so the bad-input tables can
build their tensors at import): the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, set
by ``tests/conftest.py`` where torch sees no CUDA device), CUDA otherwise.
"""

from __future__ import annotations

import pytest
import torch

import kernels.gpu
from kernels.gpu._backend import interpret_requested

INTERPRETED = interpret_requested()
DEV = torch.device("cuda" if torch.cuda.is_available() and not INTERPRETED else "cpu")

#: Skips a test where no kernel can run (no Triton, or neither CUDA nor the interpreter).
needs_kernels = pytest.mark.skipif(not kernels.gpu.available(), reason=kernels.gpu.status())
#: The large shapes and half precisions that only a real GPU runs in reasonable time.
gpu_only = pytest.mark.skipif(INTERPRETED, reason="GPU-only sizes")
