"""Where the Triton kernels run (:mod:`kernels.gpu`): importing never needs Triton or a GPU,
and a machine without them gets one clear sentence, never a traceback.

Each situation runs in a fresh interpreter (subprocess): Triton's interpreter mode is chosen
when triton is first imported, and "no Triton" is simulated by an import hook that refuses it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

_NO_TRITON = textwrap.dedent(
    """
    import importlib.abc, sys
    class _Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "triton" or name.startswith("triton."):
                raise ModuleNotFoundError("No module named 'triton'", name="triton")
            return None
    sys.meta_path.insert(0, _Refuse())
    import importlib.util
    _orig = importlib.util.find_spec
    importlib.util.find_spec = lambda n, p=None: None if n == "triton" else _orig(n, p)
    """
)


def _run(
    code: str, *, interpret: bool | None, no_triton: bool = False
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret is not None:
        env["TRITON_INTERPRET"] = "1" if interpret else "0"
    env["PYTHONPATH"] = str(ROOT)
    prog = (_NO_TRITON if no_triton else "") + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", prog], capture_output=True, text=True, env=env, timeout=120
    )


IMPORT_ALL = """
import importlib, pkgutil, sys
import kernels.gpu
public = [m.name for m in pkgutil.iter_modules(kernels.gpu.__path__) if m.name[0] != "_"]
for name in public:
    importlib.import_module(f"kernels.gpu.{name}")
print("public modules:", " ".join(sorted(public)))
print("triton imported:", "triton" in sys.modules)
print(kernels.gpu.status())
"""


def test_importing_the_kernels_imports_no_triton():
    r = _run(IMPORT_ALL, interpret=True)
    assert r.returncode == 0, r.stderr
    assert "triton imported: False" in r.stdout
    families = "attention conv dropout embedding linear norm pool recurrent"
    assert f"public modules: {families}" in r.stdout


def test_without_triton_import_works_and_a_call_says_what_is_missing():
    r = _run(
        IMPORT_ALL
        + """
import torch
from kernels.gpu import GPUUnavailable, available
assert not available()
for call in (
    lambda: kernels.gpu.dropout.dropout(torch.ones(3), 0.5, seed=1),
    lambda: kernels.gpu.linear.linear(torch.ones(2, 3), torch.ones(4, 3)),
    lambda: kernels.gpu.attention.scaled_dot_product_attention(*[torch.ones(1, 2, 16)] * 3),
):
    try:
        call()
    except GPUUnavailable as e:
        print("refused:", e)
""",
        interpret=True,
        no_triton=True,
    )
    assert r.stdout.count("refused: kernels.gpu cannot run here: Triton is not installed") == 3
    assert r.returncode == 0, r.stderr
    assert "kernels.gpu unavailable: Triton is not installed" in r.stdout
    assert "refused: kernels.gpu cannot run here: Triton is not installed" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_without_a_gpu_or_the_interpreter_the_message_says_how_to_run():
    r = _run(
        IMPORT_ALL
        + """
import torch
try:
    kernels.gpu.dropout.dropout(torch.ones(3), 0.5, seed=1)
except kernels.gpu.GPUUnavailable as e:
    print("refused:", e)
""",
        interpret=False,
    )
    assert r.returncode == 0, r.stderr
    assert "no CUDA device is visible" in r.stdout and "TRITON_INTERPRET=1" in r.stdout
    assert "refused: kernels.gpu cannot run here: no CUDA device" in r.stdout


@pytest.mark.parametrize(
    ("interpret", "no_triton", "expected"),
    [
        (True, False, "running in Triton's interpreter"),
        (True, True, "Triton is not installed"),
        (None, True, "Triton is not installed"),
    ],
)
def test_python_m_kernels_gpu_prints_one_line_and_exits_0(interpret, no_triton, expected):
    r = _run(
        "import runpy; runpy.run_module('kernels.gpu', run_name='__main__')",
        interpret=interpret,
        no_triton=no_triton,
    )
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.count("\n") == 1 and expected in r.stdout


def test_tensors_on_the_wrong_device_or_with_grad_are_refused_naming_them():
    import kernels.gpu
    from kernels.gpu.dropout import dropout

    if not kernels.gpu.available():
        pytest.skip(kernels.gpu.status())
    wrong = "meta"
    with pytest.raises(ValueError, match=r"input must be on device"):
        dropout(torch.ones(3, device=wrong), 0.5, seed=1)
    with pytest.raises(ValueError, match=r"input requires grad"):
        dropout(torch.ones(3, requires_grad=True), 0.5, seed=1)


def _matmul_tf32(value: bool | None = None) -> bool:
    """Read (and set, given ``value``) the switch torch's float32 matmul reads."""
    if value is not None:
        torch.backends.cuda.matmul.allow_tf32 = value
    return torch.backends.cuda.matmul.allow_tf32


def _cudnn_tf32(value: bool | None = None) -> bool:
    """The same for cuDNN's convolutions, through ``torch._C``: torch's test utilities
    (imported by the OpInfo tests in the same process) freeze ``torch.backends.cudnn``."""
    if value is not None:
        torch._C._set_cudnn_allow_tf32(value)
    return torch._C._get_cudnn_allow_tf32()


@pytest.mark.parametrize(("kind", "switch"), [("matmul", _matmul_tf32), ("conv", _cudnn_tf32)])
def test_dot_precision_follows_torchs_tf32_switch_for_the_same_operation(kind, switch):
    from kernels.gpu._backend import dot_precision

    before = switch()
    try:
        for tf32 in (False, True):
            switch(tf32)
            assert dot_precision(kind) == ("tf32" if tf32 else "ieee")
    finally:
        switch(before)
    with pytest.raises(ValueError, match="kind must be 'matmul' or 'conv'"):
        dot_precision("linear")


def test_the_prepared_gpu_run_covers_every_gpu_test_file():
    """``scripts/gpu_check.sh`` (the one prepared run on a lent GPU) names every GPU test file
    but the compile check, which a CUDA machine skips (it compiles by running)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = (root / "scripts" / "gpu_check.sh").read_text()
    files = {p.name for p in (root / "tests").glob("test_gpu_*.py")} - {"test_gpu_compile.py"}
    files |= {"test_philox.py", "test_opinfo_gpu.py", "test_attention_cuda.py"}
    missing = sorted(f for f in files if f"tests/{f}" not in script)
    assert not missing, f"scripts/gpu_check.sh does not run {missing}"
