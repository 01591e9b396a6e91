"""Run the ecosystem's operation counters on every reference network (issue 18 groundwork).

Each network of :data:`theory.architectures.REFERENCE` is built with
:func:`numerics.torch_arch.to_module` (eval mode, batch 1, the spec's input size) and counted
by torchvision's convention (our default :class:`theory.arch.Convention`), fvcore, ptflops
(both backends), thop, torchinfo and ``FlopCounterMode`` (meta device; CPU with and without
grad). Every counter call is guarded: a failing tool records its error instead of stopping
the run. Writes ``benchmarks/results/counters.json``, ``counters.md`` and, for
``--breakdown`` networks, per-operation/per-module breakdowns to
``counters_breakdown.json``.

Needs the measurement environment (fvcore, ptflops, thop, torchinfo installed):

    /work/venv18/bin/python scripts/measure_counters.py [--only NAME ...] [--breakdown NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from numerics.torch_arch import to_module  # noqa: E402
from theory import architectures as A  # noqa: E402
from theory.arch import Convention  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
TOOLS = ("torch", "fvcore", "ptflops", "thop", "torchinfo")

#: counter key: (column title, unit it reports, exact call)
COUNTERS = {
    "reference": ("torchvision `_ops` (ours, default)", "MAC",
                  "theory.arch Spec.count(Convention()), Spec.params()"),
    "fvcore": ("fvcore", "MAC (fvcore calls them flops: 1 per FMA)",
               "fvcore.nn.FlopCountAnalysis(m, x).total(); fvcore.nn.parameter_count(m)['']"),
    "fvcore_nograd": ("fvcore (no_grad)", "MAC",
                      "as fvcore, .total() called under torch.no_grad()"),
    "ptflops_pytorch": ("ptflops (pytorch)", "MAC",
                        "ptflops.get_model_complexity_info(m, shape, as_strings=False, "
                        "print_per_layer_stat=False, input_constructor=lambda _: x, "
                        "backend='pytorch')"),
    "ptflops_aten": ("ptflops (aten)", "MAC",
                     "ptflops.get_model_complexity_info(m, shape, as_strings=False, "
                     "print_per_layer_stat=False, input_constructor=lambda _: x, "
                     "backend='aten')"),
    "ptflops_aten_nograd": ("ptflops (aten, no_grad)", "MAC",
                            "as ptflops (aten), called under torch.no_grad()"),
    "thop": ("thop", "MAC",
             "thop.profile(m, inputs=(x,), verbose=False) (thop runs no_grad itself)"),
    "torchinfo": ("torchinfo", "MAC ('mult-adds')",
                  "torchinfo.summary(m, input_data=x, verbose=0, device='cpu')"
                  ".total_mult_adds / .total_params (torchinfo runs no_grad itself)"),
    "fcm_meta": ("FlopCounterMode (meta)", "FLOP",
                 "with FlopCounterMode(display=False) as c: m(x) — module and x on 'meta'"),
    "fcm_cpu_nograd": ("FlopCounterMode (CPU, no_grad)", "FLOP",
                       "with torch.no_grad(), FlopCounterMode(display=False) as c: m(x)"),
    "fcm_cpu_grad": ("FlopCounterMode (CPU, grad)", "FLOP",
                     "with FlopCounterMode(display=False) as c: m(x) (grad enabled)"),
}  # fmt: skip


def example(spec, device: str = "cpu") -> torch.Tensor:
    """Batch-1 input of the spec's shape: token ids (zeros) or a random image."""
    shape = spec.nodes[0].shape
    if len(shape) == 1:
        return torch.zeros(1, *shape, dtype=torch.long, device=device)
    if device == "meta":
        return torch.zeros(1, *shape, device=device)
    return torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))


def build(spec, device: str = "cpu") -> torch.nn.Module:
    """A fresh eval-mode module (tools attach buffers and hooks: one module per counter)."""
    if device == "meta":
        with torch.device("meta"):
            return to_module(spec).eval()
    torch.manual_seed(0)
    return to_module(spec).eval()


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------- counters
def c_reference(spec):
    return {"ops": int(spec.count(Convention())), "params": int(spec.params())}


def _fvcore(spec, grad: bool):
    from fvcore.nn import FlopCountAnalysis, parameter_count

    m, x = build(spec), example(spec)
    a = FlopCountAnalysis(m, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.set_grad_enabled(grad):
        total = int(a.total())
    return {
        "ops": total,
        "params": int(parameter_count(m)[""]),
        "unsupported_ops": {k: int(v) for k, v in a.unsupported_ops().items()},
        "by_operator": {k: int(v) for k, v in a.by_operator().items()},
    }


def c_fvcore(spec):
    return _fvcore(spec, grad=True)


def c_fvcore_nograd(spec):
    return _fvcore(spec, grad=False)


def _ptflops(spec, backend: str, grad: bool = True):
    from ptflops import get_model_complexity_info

    m, x = build(spec), example(spec)
    with torch.set_grad_enabled(grad), contextlib.redirect_stdout(io.StringIO()):
        macs, params = get_model_complexity_info(
            m, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False,
            input_constructor=lambda _: x, backend=backend,
        )  # fmt: skip
    return {"ops": None if macs is None else int(macs),
            "params": None if params is None else int(params)}  # fmt: skip


def c_ptflops_pytorch(spec):
    return _ptflops(spec, "pytorch")


def c_ptflops_aten(spec):
    return _ptflops(spec, "aten")


def c_ptflops_aten_nograd(spec):
    return _ptflops(spec, "aten", grad=False)


def c_thop(spec):
    from thop import profile

    m, x = build(spec), example(spec)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        macs, params = profile(m, inputs=(x,), verbose=False)
    return {"ops": int(macs), "params": int(params), "torch_params": n_params(m)}


def c_torchinfo(spec):
    from torchinfo import summary

    m, x = build(spec), example(spec)
    s = summary(m, input_data=x, verbose=0, device="cpu")
    return {"ops": int(s.total_mult_adds), "params": int(s.total_params)}


def _fcm(m, x, grad: bool):
    with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as c:
        m(x)
    return {
        "ops": int(c.get_total_flops()),
        "params": n_params(m),
        "by_operator": {str(k): int(v) for k, v in c.get_flop_counts()["Global"].items()},
    }


def c_fcm_meta(spec):
    return _fcm(build(spec, "meta"), example(spec, "meta"), grad=False)


def c_fcm_cpu_nograd(spec):
    return _fcm(build(spec), example(spec), grad=False)


def c_fcm_cpu_grad(spec):
    return _fcm(build(spec), example(spec), grad=True)


RUN = {key: globals()[f"c_{key}"] for key in COUNTERS}


# --------------------------------------------------------------------------- breakdowns
def breakdown(name: str, spec) -> dict:
    """Per-layer / per-operator counts of each tool, and the spec's per-node costs."""
    out: dict = {"spec": [
        {"name": n.name, "op": n.op, "shape": [int(v) for v in n.shape],
         "params": int(n.params), "cost": {k: int(v) for k, v in n.cost.items() if v}}
        for n in spec.nodes
    ]}  # fmt: skip

    def guarded(tool, fn):
        try:
            out[tool] = fn()
        except Exception as err:  # record any tool's failure
            out[tool] = {"error": f"{type(err).__name__}: {err}"}

    def fvcore_bd(grad):
        from fvcore.nn import FlopCountAnalysis

        m, x = build(spec), example(spec)
        a = FlopCountAnalysis(m, x).unsupported_ops_warnings(False)
        a = a.uncalled_modules_warnings(False)
        with torch.set_grad_enabled(grad):
            by_mod_op = a.by_module_and_operator()
        return {
            "by_operator": {k: int(v) for k, v in a.by_operator().items()},
            "unsupported_ops": {k: int(v) for k, v in a.unsupported_ops().items()},
            "by_module_and_operator": {
                k: {o: int(v) for o, v in ops.items()}
                for k, ops in by_mod_op.items()
                if k.count(".") == 1 and ops
            },
        }

    def ptflops_bd(backend, grad=True):
        from ptflops import get_model_complexity_info

        m, x = build(spec), example(spec)
        buf = io.StringIO()
        with torch.set_grad_enabled(grad):
            get_model_complexity_info(
                m, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=True, ost=buf,
                input_constructor=lambda _: x, backend=backend, flops_units="MMac",
                output_precision=6,
            )  # fmt: skip
        return {"text": buf.getvalue()}

    def thop_bd():
        from thop import profile

        m, x = build(spec), example(spec)
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            _, _, layers = profile(m, inputs=(x,), verbose=False, ret_layer_info=True)
        return {k: {"total_ops": int(v[0]), "total_params": int(v[1])}
                for k, v in layers["layers"][2].items()}  # fmt: skip

    def torchinfo_bd():
        from torchinfo import summary

        m, x = build(spec), example(spec)
        s = summary(m, input_data=x, verbose=0, device="cpu", depth=2)
        return [
            {"layer": f"{li.class_name}:{li.var_name}", "depth": li.depth,
             "output": list(li.output_size), "macs": int(li.macs),
             "params": int(li.num_params)}
            for li in s.summary_list
        ]  # fmt: skip

    def fcm_bd(device, grad):
        m, x = build(spec, device), example(spec, device)
        with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as c:
            m(x)
        counts = c.get_flop_counts()
        return {
            mod: {str(o): int(v) for o, v in ops.items()}
            for mod, ops in counts.items()
            if mod == "Global" or mod.count(".") == 2
        }

    guarded("fvcore", lambda: fvcore_bd(True))
    guarded("fvcore_nograd", lambda: fvcore_bd(False))
    guarded("ptflops_pytorch", lambda: ptflops_bd("pytorch"))
    guarded("ptflops_aten", lambda: ptflops_bd("aten"))
    guarded("ptflops_aten_nograd", lambda: ptflops_bd("aten", False))
    guarded("thop", thop_bd)
    guarded("torchinfo", torchinfo_bd)
    guarded("fcm_meta", lambda: fcm_bd("meta", False))
    guarded("fcm_cpu_nograd", lambda: fcm_bd("cpu", False))
    guarded("fcm_cpu_grad", lambda: fcm_bd("cpu", True))
    return out


# --------------------------------------------------------------------------- output
def _g(v) -> str:
    return "—" if v is None else f"{v / 1e9:.3f}"


def markdown(results: dict, meta: dict) -> str:
    keys = list(COUNTERS)
    lines = [
        "# Operation counters on the reference networks",
        "",
        f"Measured by `scripts/measure_counters.py` on {meta['date']} ({meta['platform']}, "
        f"Python {meta['python']}) in {meta['seconds']:.1f} s. Networks built from the "
        "specs of `theory.architectures` by `numerics.torch_arch.to_module`, eval mode, "
        "batch 1 (224×224 images; BERT: 128 token ids, all zero). "
        "G = 10⁹; MAC columns in G MACs, FlopCounterMode columns in G FLOPs.",
        "",
        "Versions: " + ", ".join(f"{t} {v}" for t, v in meta["versions"].items()),
        "",
        "| network | " + " | ".join(f"{COUNTERS[k][0]} [{COUNTERS[k][1].split()[0]}]"
                                    for k in keys) + " |",
        "| --- | " + " | ".join("---:" for _ in keys) + " |",
    ]  # fmt: skip
    for name, row in results.items():
        cells = [_g(row[k].get("ops")) if "error" not in row[k] else "error" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Parameters reported by each tool (exact; bold where it differs from "
              "the spec's and torch's count):", "",
              "| network | " + " | ".join(COUNTERS[k][0] for k in keys) + " |",
              "| --- | " + " | ".join("---:" for _ in keys) + " |"]  # fmt: skip
    for name, row in results.items():
        ref = row["reference"].get("params")
        cells = []
        for k in keys:
            p = row[k].get("params")
            cells.append("error" if "error" in row[k] else "—" if p is None else
                         f"{p:,}" if p == ref else f"**{p:,}**")  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    errors = [(n, k, row[k]["error"]) for n, row in results.items() for k in keys
              if "error" in row[k]]  # fmt: skip
    if errors:
        lines += ["", "Errors:", ""]
        lines += [f"- {n}, {COUNTERS[k][0]}: `{e.splitlines()[0][:300]}`" for n, k, e in errors]
    lines += ["", "Exact calls (`m` the module, `x` the batch-1 input, `shape` = x.shape[1:]):",
              ""]  # fmt: skip
    lines += [f"- **{t}** ({unit}): `{call}`" for t, unit, call in COUNTERS.values()]
    lines += ["", "Seconds per counter (all networks): " + ", ".join(
        f"{COUNTERS[k][0]} {meta['counter_seconds'][k]:.1f}" for k in keys), ""]  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", default=None, help="networks (REFERENCE keys)")
    p.add_argument("--breakdown", nargs="*", default=["ResNet-18", "ViT-B/16"])
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    names = args.only or list(A.REFERENCE)
    results: dict = {}
    seconds = dict.fromkeys(COUNTERS, 0.0)
    for name in names:
        spec = A.reference_spec(name)
        results[name] = {}
        for key, fn in RUN.items():
            t0 = time.perf_counter()
            try:
                results[name][key] = fn(spec)
            except Exception as err:  # record any tool's failure
                tb = traceback.format_exc(limit=-3)
                results[name][key] = {"error": f"{type(err).__name__}: {err}", "traceback": tb}
            dt = time.perf_counter() - t0
            seconds[key] += dt
            results[name][key]["seconds"] = round(dt, 3)
            print(f"{name:16s} {key:16s} {results[name][key].get('ops', 'ERR')!s:>14} "
                  f"{dt:6.1f}s", flush=True)  # fmt: skip
    measured = time.perf_counter() - start
    detail = {}
    for name in args.breakdown:
        if name in A.REFERENCE:
            detail[name] = breakdown(name, A.reference_spec(name))
    total = time.perf_counter() - start
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {t: importlib.metadata.version(t) for t in TOOLS},
        "threads": torch.get_num_threads(),
        "seconds": measured,
        "seconds_with_breakdown": total,
        "counter_seconds": seconds,
        "counters": {k: {"title": t, "unit": u, "call": c} for k, (t, u, c) in COUNTERS.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = "counters" if args.only is None else "counters_partial"
    (OUT / f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    (OUT / f"{stem}.md").write_text(markdown(results, meta))
    if detail:
        (OUT / "counters_breakdown.json").write_text(json.dumps(detail, indent=1))
    print(f"measured in {measured:.1f} s, breakdowns {total - measured:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
