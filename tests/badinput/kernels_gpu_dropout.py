"""Bad-input entries for :mod:`kernels.gpu.dropout` (the Triton dropout; skipped where no
Triton kernel can run). Randomness is ``(seed, offset)``, so every call of a sample draws the
same mask and the checks compare with the NumPy twin bit for bit."""

from __future__ import annotations

import numpy as np
import torch

from kernels.cpu.dropout import philox_dropout, philox_dropout_mask
from tests.badinput.table import Entry, ErrorSample, Sample, boolean, nonneg_int
from tests.gpu_support import DEV

K = "kernels.gpu.dropout."
_g = torch.Generator().manual_seed(5)
X = torch.randn(3, 5, 7, generator=_g).to(DEV)
G = torch.randn(3, 5, 7, generator=_g).to(DEV)


def _twin(x: torch.Tensor, p: float, seed: int, offset: int = 0):
    def check(r):
        y = r[0] if isinstance(r, tuple) else r
        want = philox_dropout(x.cpu().numpy(), p, seed=seed, offset=offset)
        assert np.array_equal(y.cpu().numpy(), want)

    return check


def _grad_twin(g: torch.Tensor, p: float, seed: int, offset: int = 0):
    def check(r):
        m = philox_dropout_mask(tuple(g.shape), p, seed=seed, offset=offset)
        want = g.cpu().numpy() * (m.astype(np.float32) * np.float32(1 / (1 - p)))
        assert np.array_equal(r.cpu().numpy(), want)

    return check


_D = {"input": X, "p": 0.3, "training": True, "seed": 7, "offset": 0}
_B = {"grad_output": G, "p": 0.3, "seed": 7, "offset": 0}
_SEED = lambda v: nonneg_int(v) and int(v) < 2**63  # noqa: E731


ENTRIES: list[Entry] = [
    Entry(
        K + "dropout",
        samples=(
            Sample(dict(_D), check=_twin(X, 0.3, 7)),
            Sample(
                {**_D, "p": 0.75, "seed": 2**40, "offset": 2**33},
                check=_twin(X, 0.75, 2**40, 2**33),
            ),
            Sample({**_D, "return_mask": True}, check=lambda r: r[1].dtype == torch.bool),
            Sample({**_D, "training": False}, check=lambda r: torch.equal(r, X)),
            Sample(
                {**_D, "input": torch.tensor(1.5, device=DEV)},
                check=lambda r: r.item() in (0.0, 1.5 / 0.7),
            ),
            Sample({**_D, "input": X[:0]}, check=lambda r: r.shape == (0, 5, 7)),
            Sample({**_D, "input": X.half(), "p": 0.0}, check=lambda r: torch.equal(r, X.half())),
        ),
        errors=(
            ErrorSample({**_D, "p": 1.0}, ValueError, "p must"),
            ErrorSample({**_D, "p": -0.1}, ValueError, "p must"),
            ErrorSample({**_D, "p": "0.5"}, TypeError, "p must"),
            ErrorSample({**_D, "seed": -1}, ValueError, "seed"),
            ErrorSample({**_D, "seed": 2**63}, ValueError, "seed"),
            ErrorSample({**_D, "seed": 1.0}, TypeError, "seed"),
            ErrorSample({**_D, "offset": 2**63 - 10}, ValueError, "offset"),
            ErrorSample({**_D, "training": "False"}, TypeError, "training"),
            ErrorSample({**_D, "input": X.cpu().numpy()}, TypeError, "input"),
            ErrorSample({**_D, "input": X.int()}, TypeError, "input"),
            ErrorSample({**_D, "input": X.clone().requires_grad_(True)}, ValueError, "input"),
        ),
        domains={"training": boolean, "seed": _SEED, "return_mask": boolean},
    ),
    Entry(
        K + "dropout_backward",
        samples=(
            Sample(dict(_B), check=_grad_twin(G, 0.3, 7)),
            Sample({**_B, "offset": 100}, check=_grad_twin(G, 0.3, 7, 100)),
            Sample({**_B, "grad_output": G[:0]}, check=lambda r: r.shape == (0, 5, 7)),
        ),
        errors=(
            ErrorSample({**_B, "p": 1.0}, ValueError, "p must"),
            ErrorSample({**_B, "seed": None}, TypeError, "seed"),
            ErrorSample({**_B, "grad_output": G.double().cpu().numpy()}, TypeError, "grad_output"),
        ),
        domains={"seed": _SEED},
    ),
]
