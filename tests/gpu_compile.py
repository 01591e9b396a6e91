"""Compile every Triton kernel the tests launch for a real GPU target, without a GPU.

Triton's interpreter checks what a kernel computes, not that it compiles: a kernel can pass
every interpreted test and still fail in Triton's compiler (types, layouts, an unsupported
op). This module closes that gap in two steps, each in its own process:

1. ``record`` (``TRITON_INTERPRET=1``): run the valid samples of every ``kernels.gpu`` entry
   of the bad-input table, in float32, float16, bfloat16 and float64, and record each kernel
   launch — the kernel, its argument types (tensor dtypes, int widths) and its ``constexpr``
   values — as JSON;
2. ``compile`` (no interpreter): import the kernel modules (real ``JITFunction`` objects) and
   compile each recorded specialization with ``triton.compile`` for
   ``GPUTarget("cuda", 90, 32)`` (Hopper: H100/H200) down to PTX and, with the ``ptxas``
   shipped in the Triton wheel, to a cubin — and again with each of the kernel's GPU configs
   (``CUDA_CONFIGS`` in its module: the large blocks the interpreter never runs), checking
   that no config needs more shared memory than an sm_90 block may have.

``python -m tests.gpu_compile`` runs both and prints one line per specialization.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_POINTERS = {
    "torch.float32": "*fp32",
    "torch.float16": "*fp16",
    "torch.bfloat16": "*bf16",
    "torch.float64": "*fp64",
    "torch.int64": "*i64",
    "torch.int32": "*i32",
    "torch.int16": "*i16",
    "torch.int8": "*i8",
    "torch.uint8": "*u8",
    "torch.bool": "*i1",
}


def _type(value) -> str | None:
    """Triton's signature type of a launch argument (None: not a runtime argument)."""
    import torch

    if isinstance(value, torch.Tensor):
        return _POINTERS[str(value.dtype)]
    if isinstance(value, bool):
        return "i1"
    if isinstance(value, int):
        return "i32" if -(2**31) <= value < 2**31 else "i64"
    if isinstance(value, float):
        return "fp32"
    return None


def record(out: Path) -> int:
    """Run the table's GPU samples in the interpreter; write the launches to ``out``."""
    assert os.environ.get("TRITON_INTERPRET") == "1"
    import torch
    from triton.runtime.interpreter import InterpretedFunction

    from tests.badinput import entries

    launches: dict[str, dict] = {}
    original = InterpretedFunction.run

    def spy(self, *args, grid, warmup, **kwargs):
        names = self.arg_names
        values = dict(zip(names, args, strict=False))
        values.update({k: v for k, v in kwargs.items() if k in names})
        signature, constexprs = {}, {}
        for name in names:
            v = values.get(name)
            kind = _type(v)
            if name in kwargs or kind is None:  # given by keyword: the kernels' constexprs
                signature[name] = "constexpr"
                constexprs[name] = v if not hasattr(v, "name") else f"tl.{v.name}"
            else:
                signature[name] = kind
        options = {k: kwargs[k] for k in ("num_warps", "num_stages") if k in kwargs}
        spec = {
            "module": self.fn.__module__,
            "kernel": self.fn.__name__,
            "signature": signature,
            "constexprs": {k: _jsonable(v) for k, v in constexprs.items()},
            "options": options,
        }
        launches[json.dumps(spec, sort_keys=True)] = spec
        return original(self, *args, grid=grid, warmup=warmup, **kwargs)

    InterpretedFunction.run = spy
    dtypes = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
    for entry in entries():
        if not entry.target.startswith("kernels.gpu.") or entry.target.count(".") < 3:
            continue
        module_name, _, attr = entry.target.rpartition(".")
        fn = getattr(__import__(module_name, fromlist=[attr]), attr)
        for sample in entry.samples:
            for dtype in dtypes:
                kwargs = {
                    k: (v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v)
                    for k, v in sample.kwargs.items()
                }
                try:
                    fn(*sample.args, **kwargs)
                except (ValueError, TypeError):
                    pass  # a dtype this sample's other arguments do not allow
    out.write_text(json.dumps(sorted(launches.values(), key=json.dumps), indent=1))
    return len(launches)


def _jsonable(v):
    if isinstance(v, bool | int | float | str) or v is None:
        return v
    return str(v)


def _constexpr(v, tl):
    if isinstance(v, str) and v.startswith("tl."):
        return tl.dtype(v[3:])  # recorded by its name (fp32, fp64, ...)
    return v


#: Shared memory a Hopper block may use (227 KiB, the opt-in maximum of sm_90): a compiled
#: kernel asking for more would fail at launch with OutOfResources, so it fails here.
MAX_SHARED = 227 * 1024


_FLOATS = {"fp16", "bf16", "fp32", "fp64"}


def compile_all_configs() -> bool:
    """``LAYERCHECK_COMPILE_ALL=1``: every recorded launch with every GPU config that applies
    (about 1300 compilations, 8 minutes on one core). Default: each GPU config once, with the
    first recorded launch it applies to, bfloat16 launches first (the dtype of the performance
    aims: tensor cores, the largest tiles and shared memory)."""
    return os.environ.get("LAYERCHECK_COMPILE_ALL", "0").strip().lower() in ("1", "true", "yes")


def with_cuda_configs(specs: list[dict], every: bool | None = None) -> list[dict]:
    """The recorded specializations plus, for each kernel whose module lists configs in
    ``CUDA_CONFIGS[kernel]`` (the block sizes, ``num_warps`` and ``num_stages`` it uses on a
    GPU, where the interpreter runs small ones), each recorded specialization re-made with
    every config its heuristic can pick for it (once per distinct result). The module's
    ``cuda_config_applies(kernel, index, dtypes, constexprs)`` says which: ``dtypes`` the
    float element types of the launch (``{"fp16"}``, ...), ``constexprs`` its recorded
    constexpr values; without it every config applies. ``every`` (default
    :func:`compile_all_configs`): each recorded launch with each config, else each config
    once (bfloat16 launches first)."""
    every = compile_all_configs() if every is None else every
    seen: set[tuple] = set()
    import importlib

    out: dict[str, dict] = {json.dumps(s, sort_keys=True): s for s in specs}
    order = ("bf16", "fp32", "fp16", "fp64")

    def rank(spec: dict) -> int:
        types = {t.lstrip("*") for t in spec["signature"].values()}
        return min((order.index(t) for t in types & _FLOATS), default=len(order))

    for spec in sorted(specs, key=rank):
        module = importlib.import_module(spec["module"])
        configs = getattr(module, "CUDA_CONFIGS", {})
        applies = getattr(module, "cuda_config_applies", lambda *_: True)
        dtypes = {t.lstrip("*") for t in spec["signature"].values()} & _FLOATS
        for index, config in enumerate(configs.get(spec["kernel"], ())):
            if not applies(spec["kernel"], index, dtypes, spec["constexprs"]):
                continue  # the module's heuristic never launches this config for this spec
            key = (spec["module"], spec["kernel"], index)
            if not every and key in seen:
                continue
            seen.add(key)
            options = {k: v for k, v in config.items() if k in ("num_warps", "num_stages")}
            blocks = {k: v for k, v in config.items() if k not in options}
            unknown = set(blocks) - set(spec["constexprs"])
            assert not unknown, f"{spec['kernel']}: CUDA_CONFIGS names no constexpr {unknown}"
            variant = {
                **spec,
                "constexprs": {**spec["constexprs"], **blocks},
                "options": {**spec["options"], **options},
            }
            out.setdefault(json.dumps(variant, sort_keys=True), variant)
    return list(out.values())


def compile_all(specs_path: Path, capability: int = 90) -> list[tuple[str, str]]:
    """Compile every recorded specialization (and its CUDA configs, :func:`with_cuda_configs`);
    return ``(name, "ok" or the error)``."""
    assert os.environ.get("TRITON_INTERPRET", "0") in ("", "0")
    import importlib

    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    target = GPUTarget("cuda", capability, 32)
    results = []
    for spec in with_cuda_configs(json.loads(specs_path.read_text())):
        fn = getattr(importlib.import_module(spec["module"]), spec["kernel"])
        consts = {k: _constexpr(v, tl) for k, v in spec["constexprs"].items()}
        types = ",".join(t for t in spec["signature"].values() if t != "constexpr")
        name = f"{spec['module'].rsplit('.', 1)[-1]}.{spec['kernel']}({types}) {consts}"
        if spec["options"]:
            name += f" {spec['options']}"
        try:
            src = ASTSource(fn=fn, signature=spec["signature"], constexprs=consts)
            kernel = triton.compile(src, target=target, options=spec["options"])
            assert "ptx" in kernel.asm and "cubin" in kernel.asm
            shared = kernel.metadata.shared
            assert shared <= MAX_SHARED, f"needs {shared} B of shared memory > {MAX_SHARED}"
            results.append((name, "ok"))
        except Exception as e:  # report every failure, not just the first
            results.append((name, f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:300]}"))
    return results


def main() -> int:
    specs = ROOT / "build" / "gpu_launches.json"
    specs.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRITON_INTERPRET": "1"}
    code = (
        "import pathlib\nfrom tests.gpu_compile import record\n"
        f"print(record(pathlib.Path({str(specs)!r})))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
    env["TRITON_INTERPRET"] = "0"
    code = (
        "from tests.gpu_compile import compile_all; import pathlib\n"
        f"for name, status in compile_all(pathlib.Path({str(specs)!r})): print(status, name)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    print(run.stdout, run.stderr[-3000:])
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
