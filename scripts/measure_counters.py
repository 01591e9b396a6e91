"""Run the ecosystem's operation counters on every reference network and write what they
report next to what their conventions (:mod:`theory.counters`) predict.

Totals come from :func:`numerics.counters.measure` (each tool in the exact mode its key
names: fvcore, ptflops both backends, thop, torchinfo, FlopCounterMode on meta and on CPU with
and without grad; eval, batch 1, float32): ``benchmarks/results/counters.json`` (exact
integers, versions, seconds per counter) and ``counters.md`` (the table, with "=" where the
tool equals its convention). ``--breakdown NAME ...`` also writes per-operator / per-layer
outputs of every tool for those networks to ``counters_breakdown.json`` (the material the
conventions' weights were read from). Needs the counters extra
(``pip install layercheck[counters]``)::

    python scripts/measure_counters.py [--only NAME ...] [--breakdown NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from numerics.counters import TOOL_COUNTERS, measure, reference_module  # noqa: E402
from theory import architectures as A  # noqa: E402
from theory.counters import COUNTERS  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


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

        m, x = reference_module(spec)
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

        m, x = reference_module(spec)
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

        m, x = reference_module(spec)
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            _, _, layers = profile(m, inputs=(x,), verbose=False, ret_layer_info=True)
        return {k: {"total_ops": int(v[0]), "total_params": int(v[1])}
                for k, v in layers["layers"][2].items()}  # fmt: skip

    def torchinfo_bd():
        from torchinfo import summary

        m, x = reference_module(spec)
        s = summary(m, input_data=x, verbose=0, device="cpu", depth=2)
        return [
            {"layer": f"{li.class_name}:{li.var_name}", "depth": li.depth,
             "output": list(li.output_size), "macs": int(li.macs),
             "params": int(li.num_params)}
            for li in s.summary_list
        ]  # fmt: skip

    def fcm_bd(device, grad):
        m, x = reference_module(spec, device)
        with torch.set_grad_enabled(grad), FlopCounterMode(display=False) as c:
            m(x)
        counts = c.get_flop_counts()
        return {
            mod: {str(o): int(v) for o, v in ops.items()}
            for mod, ops in counts.items()
            if mod == "Global" or mod.count(".") == 2
        }

    guarded("fvcore", lambda: fvcore_bd(True))
    guarded("fvcore_no_grad", lambda: fvcore_bd(False))
    guarded("ptflops_pytorch", lambda: ptflops_bd("pytorch"))
    guarded("ptflops_aten", lambda: ptflops_bd("aten"))
    guarded("ptflops_aten_no_grad", lambda: ptflops_bd("aten", False))
    guarded("thop", thop_bd)
    guarded("torchinfo", torchinfo_bd)
    guarded("flopcounter_meta", lambda: fcm_bd("meta", False))
    guarded("flopcounter_cpu_no_grad", lambda: fcm_bd("cpu", False))
    guarded("flopcounter_cpu", lambda: fcm_bd("cpu", True))
    return out


# --------------------------------------------------------------------------- output
def _g(v: int) -> str:
    return f"{v / 1e9:.3f}"


def markdown(data: dict) -> str:
    keys, meta = data["counters"], data["meta"]
    ref = {name: A.reference_spec(name) for name in data["networks"]}
    lines = [
        "# Operation counters on the reference networks",
        "",
        f"Measured by `scripts/measure_counters.py` on {meta['date']} ({meta['platform']}, "
        f"Python {meta['python']}, {meta['threads']} threads) in {meta['seconds']:.1f} s: "
        f"{data['setup']}. G = 10⁹ in each counter's unit (MAC, FLOP or torchinfo's "
        "mult-add); **=** where the tool's exact integer equals its convention's prediction "
        "(`Spec.count(theory.counters.COUNTERS[key])`), the prediction given otherwise.",
        "",
        "Versions: " + ", ".join(f"{t} {v}" for t, v in data["versions"].items()),
        "",
        "| network | torchvision `_ops` | " + " | ".join(f"`{k}` [{COUNTERS[k].unit}]"
                                                         for k in keys) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in keys) + " |",
    ]  # fmt: skip
    for name, row in data["results"].items():
        tv = _g(int(ref[name].count(COUNTERS["torchvision"])))
        cells = [_g(r["ops"]) + (" =" if r["ops"] == r["convention_ops"] else
                                 f" (convention {_g(r['convention_ops'])})")
                 for r in (row[k] for k in keys)]  # fmt: skip
        lines.append(f"| {name} | {tv} | " + " | ".join(cells) + " |")
    lines += ["", "Parameters each tool reports (exact; bold where it differs from torch's "
              "count, **=** where it equals the convention's):", "",
              "| network | torch | " + " | ".join(f"`{k}`" for k in keys) + " |",
              "| --- | ---: | " + " | ".join("---:" for _ in keys) + " |"]  # fmt: skip
    for name, row in data["results"].items():
        total = int(ref[name].params())
        cells = []
        for k in keys:
            p, c = row[k]["params"], row[k]["convention_params"]
            text = f"{p:,}" if p == total else f"**{p:,}**"
            cells.append(text + (" =" if p == c else f" (convention {c:,})"))
        lines.append(f"| {name} | {total:,} | " + " | ".join(cells) + " |")
    lines += ["", "Exact calls: `numerics.counters.run_counter` (see its docstring); tools "
              "as `theory.counters.COUNTERS[key].tool`:", ""]  # fmt: skip
    lines += [f"- `{k}`: {COUNTERS[k].tool}" for k in keys]
    lines += ["", "Seconds per counter (all networks, building the modules included): "
              + ", ".join(f"`{k}` {meta['counter_seconds'][k]:.1f}" for k in keys), ""]  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", default=None, help="networks (REFERENCE keys)")
    p.add_argument("--breakdown", nargs="*", default=["ResNet-18", "ViT-B/16"])
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    names = tuple(args.only or A.REFERENCE)
    start = time.perf_counter()
    data: dict = {}
    seconds = {}
    for key in TOOL_COUNTERS:
        t0 = time.perf_counter()
        part = measure(names, (key,))
        seconds[key] = round(time.perf_counter() - t0, 2)
        if not data:
            data = {**part, "counters": [], "results": {n: {} for n in names}}
        data["counters"].append(key)
        for name in names:
            data["results"][name][key] = part["results"][name][key]
        print(f"{key:24s} {seconds[key]:6.1f} s", flush=True)
    measured = time.perf_counter() - start
    data["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "seconds": round(measured, 1),
        "counter_seconds": seconds,
    }
    detail = {n: breakdown(n, A.reference_spec(n)) for n in args.breakdown if n in A.REFERENCE}
    OUT.mkdir(parents=True, exist_ok=True)
    stem = "counters" if args.only is None else "counters_partial"
    (OUT / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    (OUT / f"{stem}.md").write_text(markdown(data))
    if detail:
        (OUT / "counters_breakdown.json").write_text(json.dumps(detail, indent=1) + "\n")
    mismatches = [
        (n, k)
        for n, row in data["results"].items()
        for k, r in row.items()
        if (r["ops"], r["params"]) != (r["convention_ops"], r["convention_params"])
    ]
    print(f"measured in {measured:.1f} s; tools differing from their conventions: "
          f"{mismatches or 'none'}")  # fmt: skip
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
