r"""The architectures page's counter sections, from measurements: what fvcore, ptflops, thop,
torchinfo and ``FlopCounterMode`` report on the reference networks, each tool's convention
(:data:`theory.counters.COUNTERS`), the exact reason for every difference, what thop cannot
see, the training-step count and a per-layer table.

:func:`counter_sections` takes the dictionary :func:`numerics.counters.measure` returns (the
tools run during the site build, through :func:`numerics.cache.cached`) and the
training-step measurements of :func:`training_step_flops`; it computes nothing a test could
not recompute, and marks a cell where a tool and its convention disagree instead of hiding
it.
"""

from __future__ import annotations

from theory.arch import TERMS, TORCHVISION_OPS, Convention, Spec
from theory.counters import COUNTERS

__all__ = ["counter_sections", "difference", "module_counts", "training_step_flops"]

#: Conventions :func:`module_counts` applies to torchvision's modules.
MODULE_CONVENTIONS = ("torchvision", "fvcore", "thop", "torchinfo", "backward")

_MEASURED_KEYS = ("versions", "setup", "networks", "counters", "results")
_RESULT_KEYS = ("ops", "params", "convention_ops", "convention_params")

#: Column titles of the tool keys.
TITLES = {
    "torchvision": "torchvision `_ops` (ours)",
    "fvcore": "fvcore",
    "fvcore_no_grad": "fvcore, no_grad",
    "ptflops_pytorch": "ptflops pytorch",
    "ptflops_aten": "ptflops aten",
    "ptflops_aten_no_grad": "ptflops aten, no_grad",
    "thop": "thop",
    "torchinfo": "torchinfo",
    "flopcounter_meta": "FlopCounterMode meta",
    "flopcounter_cpu": "FlopCounterMode CPU",
    "flopcounter_cpu_no_grad": "FlopCounterMode CPU, no_grad",
}


def _g(value: int) -> str:
    return f"{value / 1e9:.3f}"


def _check_measured(measured: object) -> dict:
    """``measured`` as :func:`numerics.counters.measure` returns it, or an error naming what
    is wrong."""
    from theory.architectures import REFERENCE

    if not isinstance(measured, dict):
        raise TypeError(f"measured must be the dict numerics.counters.measure returns, got "
                        f"{type(measured).__name__}")  # fmt: skip
    missing = [k for k in _MEASURED_KEYS if k not in measured]
    if missing:
        raise ValueError(f"measured must have the keys {_MEASURED_KEYS}; missing {missing}")
    nets, keys = measured["networks"], measured["counters"]
    if not isinstance(nets, list) or any(n not in REFERENCE for n in nets):
        raise ValueError(f"measured['networks'] must list reference networks, got {nets!r}")
    if not isinstance(keys, list) or any(k not in COUNTERS or k == "torchvision" for k in keys):
        raise ValueError(f"measured['counters'] must list tool keys of COUNTERS, got {keys!r}")
    for net in nets:
        for k in keys:
            r = measured["results"].get(net, {}).get(k) if isinstance(
                measured["results"], dict) else None  # fmt: skip
            if not isinstance(r, dict) or any(
                isinstance(r.get(f), bool) or not isinstance(r.get(f), int) or r[f] < 0
                for f in _RESULT_KEYS
            ):
                raise ValueError(
                    f"measured['results'][{net!r}][{k!r}] must hold integers >= 0 for "
                    f"{_RESULT_KEYS}, got {r!r}"
                )
    return measured


def _reference_weight(key: str, term: str) -> int:
    """The default convention's weight of ``term`` in the unit of counter ``key``."""
    scale = 2 if COUNTERS[key].unit == "FLOP" else 1
    return scale * TORCHVISION_OPS.term_weight(term)


def difference(spec: Spec, key: str) -> list[tuple[str, int, str]]:
    """``[(term, units, how)]``: where counter ``key`` departs from the default convention
    (in its own unit: FLOP counters against twice the default) on ``spec``, term by term —
    ``units`` the signed difference, ``how`` the weight change times the term's total, or
    why it is not one (attention layers torch fuses under ``no_grad``). The differences sum
    to ``spec.count(COUNTERS[key])`` minus the scaled default. ``spec`` an integer
    :class:`~theory.arch.Spec` the convention covers; ``key`` a key of
    :data:`theory.counters.COUNTERS`."""
    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a theory.arch.Spec, got {type(spec).__name__}")
    if not isinstance(key, str) or key not in COUNTERS:
        raise ValueError(f"key must be one of {tuple(COUNTERS)}, got {key!r}")
    scale = 2 if COUNTERS[key].unit == "FLOP" else 1
    tool = spec.weighted_terms(COUNTERS[key])
    base = {t: scale * v for t, v in spec.weighted_terms(TORCHVISION_OPS).items()}
    totals = spec.terms()
    out = []
    for term in TERMS:
        units = int(tool.get(term, 0) - base.get(term, 0))
        if not units:
            continue
        dw = COUNTERS[key].term_weight(term) - _reference_weight(key, term)
        total = int(totals.get(term, 0))
        if units == dw * total:
            how = f"{'+' if dw > 0 else '−'}{abs(dw)} × {total:,}"
        else:
            how = "attention layers torch fuses under no_grad (even heads) count 0"
        out.append((term, units, how))
    return out


def _measured_table(measured: dict) -> list[str]:
    keys = ["torchvision", *measured["counters"]]
    head = "| network | " + " | ".join(TITLES[k] for k in keys) + " |"
    rows = [head, "| --- | " + " | ".join("---:" for _ in keys) + " |"]
    from theory.architectures import reference_spec

    for net in measured["networks"]:
        cells = [_g(int(reference_spec(net).count(COUNTERS["torchvision"])))]
        for k in measured["counters"]:
            r = measured["results"][net][k]
            if r["ops"] == r["convention_ops"]:
                cells.append(f"{_g(r['ops'])} ✓")
            else:
                cells.append(f"**{_g(r['ops'])} ✗ (convention {_g(r['convention_ops'])})**")
        rows.append(f"| {net} | " + " | ".join(cells) + " |")
    return rows


def _params_notes(measured: dict) -> list[str]:
    from theory.architectures import reference_spec

    lines = []
    for net in measured["networks"]:
        spec = reference_spec(net)
        for k in measured["counters"]:
            r = measured["results"][net][k]
            if r["params"] != spec.params() or r["params"] != r["convention_params"]:
                mark = "✓" if r["params"] == r["convention_params"] else "✗"
                lines.append(
                    f"- **{TITLES[k]}**, {net}: {r['params']:,} parameters reported against "
                    f"torch's {spec.params():,} (convention: {r['convention_params']:,} {mark})."
                )
    return lines


def _weights_matrix() -> list[str]:
    keys = list(COUNTERS)
    used = [t for t in TERMS if any(COUNTERS[k].term_weight(t) for k in keys)]
    rows = [
        "| term | meaning | " + " | ".join(TITLES[k] for k in keys) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in keys) + " |",
    ]
    for t in used:
        cells = [str(COUNTERS[k].term_weight(t) or "") for k in keys]
        rows.append(f"| `{t}` | {TERMS[t][2]} | " + " | ".join(cells) + " |")
    units = [COUNTERS[k].unit for k in keys]
    rows.append("| unit | | " + " | ".join(units) + " |")
    return rows


def _why_lists() -> list[str]:
    out = []
    for key, c in COUNTERS.items():
        out += [f"**{TITLES[key]}** — `{c.tool}` ({c.unit}):", ""]
        out += [f"- `{term}`: {reason}" for term, reason in c.why.items()]
        if c.hidden_params:
            hidden = ", ".join(f"`{t}`" for t in c.hidden_params)
            out.append(f"- parameters not reported: {hidden}")
        out.append("")
    return out


def _reasons(measured: dict) -> list[str]:
    from theory.architectures import reference_spec

    out = []
    for net in measured["networks"]:
        spec = reference_spec(net)
        out += [f'??? note "{net}: every difference from torchvision\'s count, term by term"', ""]
        for k in measured["counters"]:
            base = spec.count(COUNTERS["torchvision"]) * (2 if COUNTERS[k].unit == "FLOP" else 1)
            diff = difference(spec, k)
            parts = [f"{'+' if u > 0 else '−'}{abs(u):,} `{term}` ({how})"
                     for term, u, how in diff]  # fmt: skip
            tool = measured["results"][net][k]["ops"]
            check = "✓" if base + sum(u for _, u, _ in diff) == tool else "✗"
            unit = " (×2: FLOPs)" if COUNTERS[k].unit == "FLOP" else ""
            detail = "; ".join(parts) if parts else "nothing"
            out.append(
                f"    - **{TITLES[k]}** = default{unit} {base:,}; {detail}; = {tool:,} {check}"
            )
        out.append("")
    return out


def _thop_blind(measured: dict) -> list[str]:
    from theory.architectures import reference_spec

    thop = COUNTERS["thop"]
    rows = [
        "| network | parameters missed | attention operations missed (MACs) | what |",
        "| --- | ---: | ---: | --- |",
    ]
    for net in measured["networks"]:
        spec = reference_spec(net)
        terms = spec.terms()
        missed = sum(int(terms.get(t, 0)) for t in thop.hidden_params)
        ops = sum(int(terms.get(t, 0)) for t in ("attention.proj_macs", "attention.matmul_macs"))
        if missed or ops:
            what = ", ".join(f"`{t}` {int(terms[t]):,}" for t in thop.hidden_params if t in terms)
            rows.append(f"| {net} | {missed:,} | {ops:,} | {what} |")
    return rows


def training_step_flops(names: tuple[str, ...]) -> dict[str, int]:
    """``{network: FLOPs}`` FlopCounterMode records for one forward and ``.sum().backward()``
    of each reference network built on the ``meta`` device (batch 1); ``names`` a tuple of
    keys of :data:`theory.architectures.REFERENCE`."""
    from theory.architectures import REFERENCE

    if isinstance(names, str) or not isinstance(names, tuple):
        raise TypeError(f"names must be a tuple of reference network names, got {names!r}")
    bad = [n for n in names if n not in REFERENCE]
    if bad:
        raise ValueError(f"names must be among {tuple(REFERENCE)}, got {bad!r}")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from numerics.torch_arch import to_module
    from theory.architectures import reference_spec

    out = {}
    for net in names:
        spec = reference_spec(net)
        with torch.device("meta"):
            module = to_module(spec)
        shape = spec.nodes[0].shape
        dtype = torch.long if len(shape) == 1 else torch.float32
        x = torch.zeros(1, *shape, dtype=dtype, device="meta")
        with FlopCounterMode(display=False) as counter:
            module(x).sum().backward()
        out[net] = int(counter.get_total_flops())
    return out


def module_counts() -> dict[str, dict[str, tuple[int, int, int, int]]]:
    """``{network: {convention: (module count, spec count, module params, spec params)}}``:
    :func:`numerics.torch_arch.count_module` on torchvision's EfficientNet-B0 and ViT-B/16
    as :mod:`numerics.torchvision_nets` builds them (meta device, batch 1) against the
    reference specs, under the conventions of :data:`MODULE_CONVENTIONS` (``backward``:
    ``Convention(unit="FLOP", backward=True)``)."""
    import torch

    from numerics.torch_arch import count_module
    from numerics.torchvision_nets import efficientnet_b0, vit_b_16
    from theory.architectures import reference_spec

    out = {}
    for net, build in (("EfficientNet-B0", efficientnet_b0), ("ViT-B/16", vit_b_16)):
        spec = reference_spec(net)
        with torch.device("meta"):
            module = build().eval()
        x = torch.zeros(1, 3, 224, 224, device="meta")
        row = out[net] = {}
        for key in MODULE_CONVENTIONS:
            c = Convention(unit="FLOP", backward=True) if key == "backward" else COUNTERS[key]
            got = count_module(module, x, c)
            row[key] = (int(got["count"]), int(spec.count(c)), int(got["params_visible"]),
                        int(spec.params(c)))  # fmt: skip
    return out


def _module_table(counts: dict) -> list[str]:
    rows = [
        "| module | convention | `count_module` | spec | parameters (module / spec) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for net, row in counts.items():
        for key, (got, want, p_got, p_want) in row.items():
            ok = "✓" if (got, p_got) == (want, p_want) else "✗"
            title = "training step (FLOP)" if key == "backward" else TITLES[key]
            rows.append(f"| {net} | {title} | {got:,} | {want:,} {ok} | {p_got:,} / {p_want:,} |")
    return rows


def _training(step: dict[str, int]) -> list[str]:
    from theory.architectures import reference_spec

    rows = [
        "| network | ours, training step (G FLOPs) | 3 × forward | FlopCounterMode | "
        "difference | grouped-conv overcount |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for net, measured in step.items():
        spec = reference_spec(net)
        ours = int(spec.count(Convention(unit="FLOP", backward=True)))
        over = sum(
            2 * (n.attrs["groups"] - 1) * int(n.cost["macs"])
            for n in spec.nodes
            if n.op in ("conv", "conv_transpose") and n.attrs["groups"] > 1
        )
        rows.append(
            f"| {net} | {_g(ours)} | {_g(3 * int(spec.count(Convention(unit='FLOP'))))} | "
            f"{_g(measured)} | {measured - ours:,} | {over:,} "
            f"{'✓' if measured - ours == over else '✗'} |"
        )
    return rows


def _markdown_layers(records: list[dict]) -> list[str]:
    """The per-layer records as a Markdown table (the columns of
    :func:`theory.arch.format_layer_table`: categories that are nonzero somewhere)."""
    from theory.arch import CATEGORY_LABELS, TERM_CATEGORIES

    cats = [c for c in TERM_CATEGORIES if any(r[c] for r in records)]
    rows = [
        "| layer | op | output shape | params | count | "
        + " | ".join(CATEGORY_LABELS.get(c, c) for c in cats)
        + " |",
        "| --- | --- | --- | ---: | ---: | " + " | ".join("---:" for _ in cats) + " |",
    ]
    for r in records:
        shape = "×".join(map(str, r["output_shape"]))
        cells = [f"{int(r[k]):,}" for k in ("params", "count", *cats)]
        rows.append(f"| `{r['layer']}` | {r['op']} | {shape} | " + " | ".join(cells) + " |")
    totals = [f"{sum(int(r[k]) for r in records):,}" for k in ("params", "count", *cats)]
    rows.append("| **total** | | | " + " | ".join(totals) + " |")
    return rows


def _layer_example() -> list[str]:
    from theory.architectures import reference_spec

    vit = reference_spec("ViT-B/16")
    out = []
    for key in ("torchvision", "fvcore", "thop", "torchinfo"):
        rows = [
            r for r in vit.layer_table(COUNTERS[key]) if r["layer"].startswith("encoder.layer0.")
        ]
        out += [f"**{TITLES[key]}** ({COUNTERS[key].unit}):", "", *_markdown_layers(rows), ""]
    return out


def counter_sections(measured: dict, step: dict[str, int], modules: dict | None = None) -> str:
    """Markdown of the page's counter sections (see the module docstring): ``measured`` as
    :func:`numerics.counters.measure` returns it, ``step`` as :func:`training_step_flops`,
    ``modules`` (optional) as :func:`module_counts`."""
    _check_measured(measured)
    if not isinstance(step, dict) or any(
        not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in step.values()
    ):
        raise TypeError(f"step must be a dict of network: FLOPs (int >= 0), got {step!r}")
    from theory.architectures import REFERENCE

    if any(n not in REFERENCE for n in step):
        raise ValueError(f"step keys must be reference networks, got {list(step)!r}")
    versions = ", ".join(f"{k} {v}" for k, v in measured["versions"].items())
    out = [
        "## Five counters, eight networks: measured",
        "",
        "Each tool was run on the torch modules built from the reference specs while this "
        f"site was built ({measured['setup']}; {versions}). A cell shows the tool's own "
        "number in G operations of its unit (MACs; FLOPs for `FlopCounterMode`; torchinfo's "
        "'mult-adds'), ✓ when the tool's named convention in `theory.counters.COUNTERS` "
        "predicts it exactly, ✗ with the prediction when it does not. The first column is our "
        "default, equal to torchvision's published `_ops`.",
        "",
        *_measured_table(measured),
        "",
        "Parameters: every tool reports torch's count, except",
        "",
        *(_params_notes(measured) or ["- none."]),
        "",
        "## Each counter's convention",
        "",
        "A convention is an integer weight per *term* of a layer (`theory.arch.TERMS`); the "
        "count is the sum of weight × term over the layers. Blank = 0. The 'no_grad' columns "
        "are the same tools called under `torch.no_grad()`: an eval-mode "
        "`nn.MultiheadAttention` then runs torch's fused fast path "
        "(`aten._native_multi_head_attention`), which fvcore, ptflops' aten backend and "
        "`FlopCounterMode` have no formula for — the projections vanish too. thop and "
        "torchinfo run under `no_grad` themselves but count by module hooks, which the fast "
        "path does not change.",
        "",
        *_weights_matrix(),
        "",
        "The tool rule behind each weight (read in the pinned tools' source, then measured):",
        "",
        *_why_lists(),
        "## Why they differ, to the last operation",
        "",
        "Each counter's number is torchvision's count plus, term by term, the weight "
        "difference times the term's total over the network; ✓ where the sum equals what the "
        "tool printed.",
        "",
        *_reasons(measured),
        "## What thop cannot see",
        "",
        "thop counts a module only when its exact type has a rule. `nn.MultiheadAttention` has "
        "none, nor has its `out_proj` (a `NonDynamicallyQuantizableLinear`, a subclass of "
        "`nn.Linear`), so the whole attention — projections, matmuls and its parameters — "
        "is missing, as are parameters held directly by a container (class token, position "
        "and embedding tables):",
        "",
        *_thop_blind(measured),
        "",
        "thop also counts an adaptive average pool as inputs + outputs computed in float64 "
        "and truncated: exact where the output size divides the input size (every network "
        "here), possibly 1 below otherwise — the one thing no integer weight reproduces "
        "(`tests/test_counters.py` computes that truncation).",
        "",
        "## A training step",
        "",
        "`Convention(backward=True)` counts each layer's gradients: weight gradient always, "
        "input gradient only when the layer's input needs one — the first convolution reads "
        "the data, so it counts 2× its forward MACs, not 3×; an attention's output "
        "projection always 3×; a recurrent layer's hidden-state gradient at every step but "
        "the first. `FlopCounterMode` (meta device, forward and `.sum().backward()`) agrees "
        "to the FLOP (also on drawn networks: `tests/test_arch_terms.py`), except on grouped "
        "(transposed) convolutions: "
        "torch 2.13's `conv_backward_flop` ignores `groups` in the weight gradient and "
        "counts it `groups` times (pytorch/pytorch#183405 proposed the fix). The last column "
        "is that overcount, computed from the spec:",
        "",
        *_training(step),
        "",
        "## One layer, four counters",
        "",
        "The first encoder layer of ViT-B/16 under four conventions (`Spec.layer_table`; "
        "`format_layer_table` prints the same records as text; they also come from "
        "`numerics.torch_arch.count_module` for a torch module). thop's attention row is 0; "
        "torchinfo counts each token-wise linear once per weight, not 197 times:",
        "",
        *_layer_example(),
    ]
    if modules is not None:
        if not isinstance(modules, dict):
            raise TypeError(f"modules must be the dict module_counts returns, got {modules!r}")
        out += [
            "## Counting torchvision's own modules",
            "",
            "`numerics.torch_arch.count_module` counts a torch module built from the layers "
            "it knows (convolutions and transposed convolutions, linear, batch and layer "
            "norms, seven activations, max/average/adaptive pools, `nn.MultiheadAttention`, "
            "embeddings, RNN/LSTM/GRU) by formula from their shapes, and everything else "
            "(residual additions, gating products, the "
            "class token's concatenation, the position table's addition, "
            "`F.scaled_dot_product_attention`) through a `TorchDispatchMode` that sees every "
            "aten operation. On torchvision's EfficientNet-B0 and ViT-B/16, rebuilt module "
            "for module in `numerics.torchvision_nets` (torchvision itself is not installed "
            "here), it gives the reference specs' numbers under every convention:",
            "",
            *_module_table(modules),
            "",
        ]
    return "\n".join(out)
