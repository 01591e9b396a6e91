"""Where the Triton kernels run, and the argument checks every GPU wrapper shares.

Three situations, decided once, at the first kernel call (:func:`mode`):

* ``"cuda"`` — Triton is installed, ``TRITON_INTERPRET`` is not set and torch sees a CUDA
  device: kernels are compiled and run there; tensors must live on a CUDA device.
* ``"interpreter"`` — Triton is installed and ``TRITON_INTERPRET=1`` was set before the first
  kernel module was imported: Triton's interpreter runs every program instance with NumPy on
  the CPU (slowly: keep shapes small); tensors must live on the CPU.
* unavailable — no Triton, or neither a CUDA device nor the interpreter: every kernel call
  raises :class:`GPUUnavailable` whose message says what is missing and how to get it.

Nothing here imports Triton at import time: ``import kernels.gpu.norm`` works on any machine;
the ``@triton.jit`` kernels live in private modules (``kernels/gpu/_*_kernels.py``) that
:func:`load` imports on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

import torch

__all__: list[str] = []

#: dtypes the kernels take (float64 for tight checks against the NumPy reference).
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)

_TRUE = ("1", "true", "on", "yes")  # Triton's own reading of a boolean environment variable


class GPUUnavailable(RuntimeError):
    """No way to run a Triton kernel here; the message says what is missing."""


def interpret_requested() -> bool:
    """Whether ``TRITON_INTERPRET`` asks for the interpreter (read as Triton reads it)."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in _TRUE


def triton_version() -> str | None:
    """Triton's version string, or None when it is not installed (without importing it)."""
    if importlib.util.find_spec("triton") is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("triton")
    except PackageNotFoundError:  # pragma: no cover - an unusual install
        return "unknown"


_MODE: str | None = None


def why_unavailable() -> str | None:
    """None when kernels can run; else one sentence saying what is missing."""
    if triton_version() is None:
        return (
            "Triton is not installed (pip install triton==3.9.0; it ships Linux wheels only); "
            "the NumPy kernels in kernels.cpu need no GPU"
        )
    if not interpret_requested() and not torch.cuda.is_available():
        return (
            "no CUDA device is visible to torch (torch.cuda.is_available() is False); to run "
            "the Triton kernels on the CPU, set TRITON_INTERPRET=1 before importing triton "
            "(slow: small shapes only)"
        )
    return None


def mode() -> str:
    """``"cuda"`` or ``"interpreter"``, decided at the first call; :class:`GPUUnavailable`
    (with the reason) when neither is possible."""
    global _MODE
    if _MODE is None:
        reason = why_unavailable()
        if reason is not None:
            raise GPUUnavailable(f"kernels.gpu cannot run here: {reason}")
        _MODE = "interpreter" if interpret_requested() else "cuda"
    return _MODE


def device() -> torch.device:
    """The device the kernels' tensors must live on (``cpu`` under the interpreter)."""
    return torch.device("cpu" if mode() == "interpreter" else "cuda")


def load(name: str) -> ModuleType:
    """The private kernel module ``kernels.gpu.<name>`` (imported on first use)."""
    mode()
    return importlib.import_module(f"kernels.gpu.{name}")


# --------------------------------------------------------------------------- argument checks


def tensor(
    value: object,
    name: str,
    *,
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES,
    ndim: tuple[int, ...] | None = None,
    min_ndim: int = 0,
) -> torch.Tensor:
    """``value`` checked: a torch tensor of an allowed dtype and rank, on :func:`device`,
    with finite sizes; ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dtype not in dtypes:
        allowed = ", ".join(str(d).removeprefix("torch.") for d in dtypes)
        raise TypeError(f"{name} must have dtype {allowed}; got {value.dtype}")
    if ndim is not None and value.ndim not in ndim:
        raise ValueError(f"{name} must have ndim in {ndim}, got shape {tuple(value.shape)}")
    if value.ndim < min_ndim:
        raise ValueError(f"{name} must have ndim >= {min_ndim}, got shape {tuple(value.shape)}")
    if value.requires_grad:
        raise ValueError(
            f"{name} requires grad: the kernels are not autograd functions (their backward is "
            "a separate function); pass a tensor detached from the graph (tensor.detach())"
        )
    want = device()
    if value.device.type != want.type:
        hint = (
            "the interpreter (TRITON_INTERPRET=1) runs on CPU tensors"
            if want.type == "cpu"
            else "move it with .cuda(), or set TRITON_INTERPRET=1 to run on the CPU"
        )
        raise ValueError(f"{name} must be on device {want.type}, got {value.device} ({hint})")
    return value


def same(value: torch.Tensor, ref: torch.Tensor, name: str, ref_name: str) -> torch.Tensor:
    """``value`` must have ``ref``'s dtype and device (no silent casts)."""
    if value.dtype != ref.dtype:
        raise TypeError(f"{name} must have {ref_name}'s dtype {ref.dtype}, got {value.dtype}")
    if value.device != ref.device:
        raise ValueError(f"{name} must be on {ref_name}'s device {ref.device}, got {value.device}")
    return value


# --------------------------------------------------------------------------- tl.dot precision


def dot_precision(kind: str) -> str:
    """``tl.dot``'s ``input_precision`` for float32 operands, following torch's own switch for
    the same operation, so that a kernel and torch run at the same precision and the GPU rule
    ("no more than twice torch's error") compares like with like:

    * ``kind="matmul"`` (linear, attention, the matrix products): ``"tf32"`` iff
      ``torch.backends.cuda.matmul.allow_tf32`` (default False: full float32, ``"ieee"``);
    * ``kind="conv"``: ``"tf32"`` iff ``torch.backends.cudnn.allow_tf32`` (default True, as
      cuDNN convolutions run in TF32 by default).

    Half precisions and float64 ignore it (``tl.dot`` multiplies them exactly and accumulates
    in float32 / float64). Triton's interpreter multiplies float32 exactly either way.
    """
    if kind == "matmul":
        tf32 = torch.backends.cuda.matmul.allow_tf32
    elif kind == "conv":
        tf32 = torch.backends.cudnn.allow_tf32
    else:
        raise ValueError(f"kind must be 'matmul' or 'conv', got {kind!r}")
    return "tf32" if tf32 else "ieee"
