"""Generate the claim pages of the docs site at build time (run by mkdocs-gen-files).

Reads the ledger (``theory/claims/*.yaml``) and the verdict report (``build/verdicts.json``,
written by ``layercheck check``); the Markdown of claims comes from :mod:`layercheck.pages`.
Writes ``claims/<topic>.md`` (with each topic's figures and tables), ``errata.md``,
``gpu.md``, ``verdicts.json`` (the report, downloadable) and appends the verdict counts and
the filterable claim table to ``index.md``. Nothing here re-types a claim: every word of a
claim comes from the ledger. Deterministic figures and derivations are cached
(:func:`numerics.cache.cached`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layercheck.pages import (  # noqa: E402
    anchor,
    badge,
    claim_section,
    errata_page,
    overview_table,
    topic_table,
)
from layercheck.report import load_report as load_verdicts  # noqa: E402
from layercheck.summary import ORDER  # noqa: E402
from numerics.cache import cached  # noqa: E402
from theory.ledger import Claim, load_ledger  # noqa: E402

TOPICS = {
    "linear": (
        "Linear layers",
        "Dense, low-rank factorised and block-sparse layers: shapes, parameter counts, cost, "
        "gradients and the geometry of the weight matrix. Helpers: `theory.linear`; kernels: "
        "`kernels.cpu.linear`; tests: `tests/test_linear.py`.",
    ),
    "conv": (
        "Convolution geometry",
        "Output sizes (padding, stride, dilation, `ceil_mode`, transposed), parameter counts "
        "(groups, bias), cost in MACs, separable and grouped reduction factors, the "
        "convolution-vs-dense ratio and receptive fields. Helpers: `theory.conv`; kernels: "
        "`kernels.cpu.conv2d`; tests: `tests/test_conv_geometry.py`, "
        "`tests/test_conv_kernels.py`.",
    ),
    "conv_matrix": (
        "Convolution as a matrix and translation equivariance",
        "Convolution vs cross-correlation, the Toeplitz and circulant forms, im2col, "
        "parameter sharing, and the translation-equivariance proof checked step by step with "
        "its exact conditions (boundary, stride). Helpers: `theory.conv_matrix`, "
        "`theory.conv.im2col_elements`; kernels: `kernels.cpu.conv1d` (Toeplitz, circulant "
        "via FFT), `kernels.cpu.conv2d_matrix` (doubly block Toeplitz, 2-D FFT), "
        "`kernels.cpu.conv2d` (im2col, copying and zero-copy); tests: "
        "`tests/test_conv_matrix.py`; CPU benchmark: `benchmarks/conv2d_cpu.py` (table below).",
    ),
    "pooling": (
        "Pooling",
        "Max, average, global, weighted, gated, stochastic and adaptive pooling against torch "
        "(forward and backward); approximate translation invariance quantified; the stride's "
        "reduction factor, information loss and noise reduction with their exact conditions; "
        "torch's adaptive window rule against the document's kernel/stride rule. Helpers: "
        "`theory.pooling`, `theory.conv.pool_output_size`; kernels: `kernels.cpu.pool`; "
        "tests: `tests/test_pooling.py`, `tests/test_bad_input.py`.",
    ),
    "init": (
        "Initialization and variance propagation",
        "Variance of a linear unit, Xavier and He, ReLU moments, activation gains, orthogonal "
        "initialization and LSUV. Helpers: `theory.init` (derivations with `sympy.stats`); "
        "kernels: `kernels.cpu.init`, `kernels.cpu.mlp`; tests: `tests/test_init.py`. "
        "Statistical checks use rigorous intervals (`numerics.stats`) with a false-alarm "
        "probability of $10^{-6}$ per check and seeds drawn by hypothesis.",
    ),
    "architectures": (
        "Architectures: counting whole networks",
        "Exact parameter and MAC counts of real networks from layer specs; fvcore, ptflops, "
        "thop, torchinfo and `FlopCounterMode` measured on them and reproduced exactly, each "
        "by its convention stated as data; symbolic results (DenseNet depth, ResNet width, "
        "ViT sequence length) and the document's DenseNet claims (its attention claims are "
        "on the Attention page). Helpers: `theory.arch` (`Spec`, `Convention`, "
        "`CounterConvention`, `TERMS`, `format_layer_table`), `theory.counters` (`COUNTERS`), "
        "`theory.architectures` (reference networks); torch side: `numerics.torch_arch` "
        "(`to_module`, `count_module`, `flop_counter_flops`), `numerics.counters` (runs the "
        "tools), `numerics.torchvision_nets` (torchvision's EfficientNet-B0 and ViT-B/16); "
        "tests: `tests/test_architectures.py`, `tests/test_arch_terms.py`, "
        "`tests/test_counters.py`, `tests/test_count_module.py`.",
    ),
    "attention": (
        "Attention and positional encodings",
        "Scaled dot-product attention (weights, output, the $1/\\sqrt{d_k}$ scale, the "
        "backward pass), multi-head attention and what heads buy (parameters, rank, capacity, "
        "diversity, parallelism), positional encodings (sinusoidal, learned, relative), why "
        "position must be encoded, and the cost of standard, sparse and linear attention. "
        "Helpers: `theory.attention`, `theory.attention_capacity`; kernels: "
        "`kernels.cpu.attention` (forward and hand-written backward, torch's signatures); "
        "tests: `tests/test_attention_theory.py`, `tests/test_attention_kernels.py`, "
        "`tests/test_attention_claims.py`; figures: `numerics.attention_experiments`. "
        "Conventions (masks, causal alignment, head width): see Conventions.",
    ),
    "sequence": (
        "Embeddings and recurrent cells",
        "Embedding lookup as a one-hot product and its scatter-add gradient, positional "
        "embeddings, and the vanilla RNN, LSTM and GRU cells of 000 against torch's cells and "
        "layers: weight mappings, which differences are reparametrizations (two bias vectors, "
        "the GRU's update convention) and which are not (where the GRU's reset gate acts), "
        "backpropagation through time and the spectral condition for vanishing and exploding "
        "gradients. Helpers: `theory.sequence`; kernels: `kernels.cpu.embedding`, "
        "`kernels.cpu.recurrent`; counting: `theory.arch` (`Spec.embedding`, recurrent "
        "layers); tests: `tests/test_sequence_theory.py`, `tests/test_sequence_kernels.py`, "
        '`tests/test_arch_sequence.py`. LayerNorm\'s "more suitable for RNNs" is judged on the '
        "Normalization page; positional encodings in detail on the Attention page.",
    ),
    "residual": (
        "Residual connections",
        "The residual block and its Jacobian $I + \\partial F/\\partial x$, the product over "
        "$L$ blocks and its $2^L$ paths (commutative and not), the exact conditions under which "
        "the identity prevents vanishing gradients and a minimal counterexample where it does "
        "not, the ensemble reading (a sum of weight-sharing paths) and path lengths. Helpers: "
        "`theory.residual`; kernels: `kernels.cpu.residual`; tests: `tests/test_residual.py`. "
        "DenseNet's claims (dense connections) are on the "
        "[Architectures](architectures.md#d002-arch-densenet-growth) page.",
    ),
    "dropout": (
        "Dropout and its variants",
        "Standard (inverted) dropout, spatial dropout, DropConnect, stochastic depth and "
        "DropBlock: mask distributions and the mean and variance of each output under both "
        "documents' conventions (000 and torch: $p$ = drop probability; 002: $p$ = keep "
        "probability), the ensemble of $2^n$ sub-networks and when weight scaling equals its "
        "arithmetic or geometric mean, the dropout objective as a regularizer, Monte-Carlo "
        "dropout, DropBlock's actual drop rate and the optimal rate. Helpers: `theory.dropout`; "
        "kernels: `kernels.cpu.dropout`; experiments: `numerics.dropout_experiments`; tests: "
        "`tests/test_dropout_theory.py`, `tests/test_dropout_kernels.py`, "
        "`tests/test_dropout_claims.py`. Conventions: [Probabilities, variances, dropout]"
        "(../conventions.md#probabilities-variances-dropout).",
    ),
    "regularization": (
        "Regularization and training dynamics",
        "L2 and L1 penalties (gradients, update rules, weight decay coupled and decoupled, "
        "exact zeros and who produces them), their Bayesian reading (the $\\lambda$ of a "
        "Gaussian or Laplace prior, for summed and for mean losses), the bias-variance "
        "trade-off, minibatch gradient noise against the batch size, sharpness, PAC-Bayes, "
        "early stopping as a spectral filter against ridge, and validation selection. "
        "Helpers: `theory.regularization`; kernels: `kernels.cpu.optim`; experiments: "
        "`numerics.regularization_experiments`; tests: `tests/test_regularization_theory.py`, "
        "`tests/test_regularization_optim.py`, `tests/test_regularization_claims.py`. 002's "
        "review question 7 (the optimal dropout rate) is judged on the "
        "[Dropout](dropout.md#d002-drop-review-optimal-p) page. Conventions: "
        "[Regularization and optimizers](../conventions.md#regularization-and-optimizers).",
    ),
    "normalization": (
        "Normalization layers",
        "Batch, layer, instance and group normalization: definitions (which axes; biased vs "
        "unbiased variance), the backward pass derived and proved in SymPy, the effect of "
        "$\\epsilon$, recovery, running statistics, the relations between the schemes and "
        "whitening. Helpers: `theory.normalization`; kernels: `kernels.cpu.norm` (one "
        "normalize-over-axes core with a hand-written backward); tests: "
        "`tests/test_normalization.py`.",
    ),
}


def load_report() -> tuple[dict, dict[str, dict], str]:
    """The last verdict report (refreshed against the ledger; all claims unverified when
    there is none), its records by id, and when its last run finished."""
    report = load_verdicts()
    stamp = report["runs"][-1]["finished"].replace("T", " ") if report["runs"] else ""
    return report, {r["id"]: r for r in report["claims"]}, stamp


def figure(name: str, make, alt: str, *args, cache: bool = True) -> str:
    """Write the PNG ``make(*args)`` into the site (figures/<name>) and return its Markdown
    image. Deterministic experiments are cached (``numerics.cache.cached``: keyed by the
    source of the experiment and every project module it imports, and the arguments), so a
    build recomputes a figure only when its code changed; measurements (timings) are not."""
    png = cached(make, *args) if cache else make(*args)
    with mkdocs_gen_files.open(f"figures/{name}", "wb") as f:
        f.write(png)
    return f"![{alt}](../figures/{name})"


def init_figures() -> str:
    """The depth experiment, generated now from numerics.experiments (not a pasted image)."""
    from numerics.experiments import depth_figure

    return "\n".join(
        [
            "## Variance through depth",
            "",
            figure("init_depth.png", depth_figure, "Per-layer variances"),
            "",
            "Fifty square layers of width 256, batch 256, bias-free, NumPy kernels "
            "(`numerics.experiments.depth_profile`), one seed. Dashed: the mean-field prediction "
            "(`theory.init.mean_field_variances`; LSUV: 1 by construction). ReLU with Xavier or "
            "orthogonal (gain 1) halves the second moment per layer, He keeps it; tanh with "
            "Xavier/orthogonal decays slowly towards 0 as the mean field predicts, and PyTorch's "
            "default `nn.Linear` initialization ($\\mathcal{U}(\\pm 1/\\sqrt{n})$, "
            "variance $1/(3n)$) "
            "vanishes fastest. Where the prediction is flat the measured curves wander: at finite "
            "width the log-variance performs a random walk whose spread grows like depth/width "
            "(for ReLU/He at width 256 the ratio measured/predicted after 50 layers ranged from "
            "0.08 to 6.5 over six seeds; at width 1024 from 0.3 to 2.3). LSUV equalises the "
            "forward pass only: with tanh its backward variance grows by about $10^3$ towards the "
            "input, since each rescaled layer has gain above 1 on the backward signal.",
            "",
        ]
    )


def normalization_figures() -> str:
    """Which axes each scheme normalizes over, and what epsilon does to Var[x-hat]."""
    from numerics.experiments import xhat_variance_figure

    return "\n".join(
        [
            "## Which entries share a mean and variance",
            "",
            "| scheme | statistics per | over (NCHW) | entries $m$ | uses other samples |",
            "| --- | --- | --- | --- | --- |",
            "| BatchNorm | channel | $N, H, W$ | $NHW$ | yes (training) |",
            "| LayerNorm | sample | $C, H, W$ | $CHW$ | no |",
            "| InstanceNorm | sample, channel | $H, W$ | $HW$ | no |",
            "| GroupNorm | sample, group | $C/G$ channels, $H, W$ | $(C/G)HW$ | no |",
            "",
            "GroupNorm with $G = 1$ is LayerNorm and with $G = C$ InstanceNorm (tested "
            "exactly); none of them but BatchNorm uses batch statistics — so GroupNorm sits "
            "between LayerNorm and InstanceNorm, not between BatchNorm and LayerNorm "
            "(d002.norm.groupnorm-compromise).",
            "",
            "## What $\\epsilon$ does",
            "",
            figure("norm_xhat_variance.png", xhat_variance_figure, "Variance of x-hat"),
            "",
            "The variance of $\\hat x$ over its own batch is "
            "$\\sigma_B^2/(\\sigma_B^2+\\epsilon)$, "
            "not 1: a channel whose batch variance is comparable to $\\epsilon$ comes out with "
            "variance near $1/2$ (dots: the BatchNorm kernel on batches scaled to each ratio).",
            "",
        ]
    )


def pooling_figures() -> str:
    """Shift sensitivity of pooling; adaptive-pooling windows of both rules, side by side."""
    from numerics.experiments import adaptive_windows_figure, pooling_shift_figure

    return "\n".join(
        [
            "## How invariant is pooling?",
            "",
            figure("pool_shift.png", pooling_shift_figure, "Pooling under shifts"),
            "",
            "Left: average pooling's output can move by $2\\delta/K$ times the input's "
            "magnitude (line), and random $\\pm1$ signals come close (dots: the largest "
            "change in 200 signals). Right: a spike's "
            "max-pooled output stays put for a fraction $(S-\\delta)/S$ of positions when "
            "$K = S$, and never when windows overlap with stride 1 (there pooling is "
            "equivariant, not invariant).",
            "",
            "## Adaptive windows, two rules",
            "",
            figure("pool_adaptive_windows.png", adaptive_windows_figure, "Adaptive windows", 10, 4),
            "",
            "$I = 10$, $O = 4$ ($10 \\bmod 4 = 2$): torch pools $[0,3), [2,5), [5,8), [7,10)$; "
            "the fixed $k = 3$, $s = 2$ gives four windows too, $[0,3), [2,5), [4,7), [6,9)$, "
            "and input 9 is never pooled. The rule matches torch exactly when "
            "$I \\bmod O \\in \\{0, 1\\}$.",
            "",
        ]
    )


def benchmark_table() -> str:
    """The latest committed CPU benchmark table (benchmarks/results/conv2d_cpu.md)."""
    table = ROOT / "benchmarks" / "results" / "conv2d_cpu.md"
    body = table.read_text() if table.exists() else "No benchmark result committed yet.\n"
    return "\n".join(
        [
            "## im2col's memory for speed, measured",
            "",
            "NumPy `conv2d` three ways against `torch.nn.functional.conv2d` on the CPU at "
            "ResNet shapes: im2col + one GEMM (copies the unfolded matrix: *buffer* = "
            "$K_HK_W H_{out}W_{out}/(HW)$ times the input), the same product over a zero-copy "
            "strided view (no buffer, no BLAS) and one GEMM per kernel tap. Regenerate with "
            "`bash scripts/bench.sh` (about a minute); the site shows the last committed run.",
            "",
            body,
        ]
    )


def _g(value) -> str:
    return f"{value / 1e9:.3f}"


def architecture_tables() -> str:
    """Reference figures, the convention table (with FlopCounterMode) and symbolic results."""
    import sympy
    import torch

    from layercheck.counting_page import counter_sections, module_counts, training_step_flops
    from numerics.counters import measure
    from numerics.torch_arch import flop_counter_flops, to_module
    from theory import architectures as A
    from theory.arch import Convention

    everything = Convention(bias=True, norm=True, activation=True, pooling=True, elementwise=True)
    conventions = [
        ("torchvision `_ops` (conv+linear+attention MACs)", Convention()),
        ("+ bias", Convention(bias=True)),
        ("+ norm", Convention(bias=True, norm=True)),
        ("+ activations", Convention(bias=True, norm=True, activation=True)),
        ("+ pooling, residual/gating", everything),
        ("default in FLOPs", Convention(unit="FLOP")),
        ("default, forward + backward", Convention(backward=True)),
    ]
    ref = ["## Reference networks", "",
           "Counted from the specs in `theory.architectures` (per image/sequence, 224×224, "
           "1000 classes; BERT at 128 tokens). Published: torchvision weight metadata "
           "`num_params` and `_ops` (GMACs); BERT: `BertModel` of `bert-base-uncased`.", "",
           "| network | parameters | published | GMACs | published `_ops` | source |",
           "| --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    conv = ["## One network, many counts", "",
            "Each column is our exact count under one `Convention` (in G operations per "
            "sample); the last column is what `torch.utils.flop_counter.FlopCounterMode` "
            "measures on the torch module built from the same spec (on the `meta` device).", "",
            "| network | " + " | ".join(c for c, _ in conventions) + " | FlopCounterMode |",
            "| --- | " + " | ".join("---:" for _ in conventions) + " | ---: |"]  # fmt: skip
    extras: list[tuple[str, float]] = []
    for name, (build, params, gmacs, source) in A.REFERENCE.items():
        spec = build()
        ref.append(
            f"| {name} | {spec.params():,} | {params:,} | {_g(spec.count())} | "
            f"{'' if gmacs is None else gmacs} | {source} |"
        )
        with torch.device("meta"):
            module = to_module(spec)
        shape = spec.nodes[0].shape
        dtype = torch.long if len(shape) == 1 else torch.float32
        measured = flop_counter_flops(module, torch.zeros(1, *shape, dtype=dtype, device="meta"))
        cells = " | ".join(_g(spec.count(c)) for _, c in conventions)
        extras.append((name, float(100 * (spec.count(everything) / spec.count() - 1))))
        conv.append(f"| {name} | {cells} | {_g(measured)} |")
    explain = [
        "",
        "Category switches only: a MAC is 2 FLOPs, and each further column adds one category "
        "(extra terms together: "
        + ", ".join(f"{name} +{share:.1f}%" for name, share in extras)
        + "; largest where depthwise convolutions make the MACs cheap). `FlopCounterMode` on "
        "the `meta` device equals *default in FLOPs*. No real counter is one of these "
        "columns: each weighs single operations its own way, measured below.",
        "",
    ]
    measured = cached(measure)
    step = cached(training_step_flops, tuple(A.REFERENCE))
    counters = counter_sections(measured, step, cached(module_counts))
    alpha, n = sympy.Symbol("alpha"), sympy.Symbol("n")
    big_l, k, k0 = sympy.symbols("L k k_0")
    symbolic = [
        "## Symbolic results",
        "",
        "Each polynomial is computed by SymPy from the layer specs and checked against the "
        "integer counts at several points in `tests/test_architectures.py`.",
        "",
        "ResNet-50 parameters with every width multiplied by $\\alpha$ (stem $64\\alpha$):",
        "",
        f"$$ P(\\alpha) = {sympy.latex(A.resnet50_params_in_width(alpha))} $$",
        "",
        "ViT-B/16 MACs against the number of tokens $n = g^2 + 1$ ($16g \\times 16g$ image); "
        "the $n^2$ term is the attention matmuls, $2\\cdot 12 \\cdot 768\\,n^2$:",
        "",
        f"$$ M(n) = {sympy.latex(A.vit_macs_in_tokens(n))} $$",
        "",
        "One DenseNet-BC block of $L$ layers, growth $k$, $k_0$ input channels, bottleneck 4:",
        "",
        f"$$ P(L) = {sympy.latex(A.densenet_block_params(big_l, k, k0, 4))} $$",
        "",
    ]
    return "\n".join([*ref, "", *conv, *explain, counters, "", *symbolic])


def attention_figures() -> str:
    """The n-squared wall (measured against the formula) and the sinusoidal Gram matrix."""
    from numerics.attention_experiments import (
        attention_wall,
        attention_wall_figure,
        sinusoidal_figure,
    )

    points = attention_wall((512, 1024, 2048), 64, 3, 0)
    rows = [
        f"| {p['length']} | {p['seconds'] * 1e3:.1f} | {p['peak_bytes'] / 2**20:.1f} | "
        f"{p['peak_bytes'] / (8 * p['score_entries']):.2f} |"
        for p in points
    ]
    return "\n".join(
        [
            "## The $n^2$ wall",
            "",
            figure(
                "attention_wall.png", attention_wall_figure, "Attention time, memory", cache=False
            ),
            "",
            "One float64 head of width $d = 64$ on this build's machine (the NumPy kernel, best "
            "of three). Time grows like $n^2$ (the $2n^2d$ MACs of the two products and the "
            "$n^2$ exponentials of the softmax); the peak allocation is three $n\\times n$ "
            "float64 arrays (scores, exponentials, weights), the same for every head width — "
            "$\\Theta(n^2)$ per head, not $n^2d_k$ (d002.attn.space; "
            "`tests/test_attention_measured.py`):",
            "",
            "| $n$ | ms | peak MiB | peak / $8n^2$ bytes |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            "## The sinusoidal encoding's dot products",
            "",
            figure("attention_sinusoidal.png", sinusoidal_figure, "Sinusoidal Gram matrix"),
            "",
            "$PE(p)\\cdot PE(q) = \\sum_i \\cos((p-q)\\omega_i)$, "
            "$\\omega_i = 10000^{-2i/d}$: the Gram matrix is constant along its diagonals "
            "(Toeplitz), and all positions see the same curve of the offset "
            "(d000.attn.sinusoidal).",
            "",
        ]
    )


def sequence_figures() -> str:
    """Gradient norm through time for several spectral radii, with the prediction."""
    from numerics.sequence_experiments import gradient_through_time_figure
    from theory.sequence import derive_spectral_condition

    return "\n".join(
        [
            "## Gradients through time",
            "",
            figure("sequence_bptt.png", gradient_through_time_figure, "Gradient through time"),
            "",
            "$\\lVert\\partial h_T/\\partial h_0\\rVert$ of a recurrence with "
            "$W = \\rho\\,Q$ ($Q$ orthogonal) against $T$: the linear recurrence gives exactly "
            "$\\rho^T$ (lines); a tanh RNN stays below it, since $|\\tanh'| \\le 1$ "
            "(`numerics.sequence_experiments`).",
            "",
            '??? note "Derivation: when the gradient through time vanishes or explodes"',
            "",
            *("    " + line for line in derive_spectral_condition().to_markdown().splitlines()),
            "",
        ]
    )


def residual_figures() -> str:
    """Gradient norm through depth, plain against residual, with the derived bounds."""
    from numerics.residual_experiments import depth_gradient_figure

    return "\n".join(
        [
            "## Gradients through depth",
            "",
            figure("residual_depth.png", depth_gradient_figure, "Gradient through depth"),
            "",
            "Measured input-gradient norms of plain and residual stacks (the NumPy kernels), "
            "with the bounds $\\prod_l(1 \\pm \\lVert J_l\\rVert)$ of the residual product "
            "drawn on the same axes (`numerics.residual_experiments`).",
            "",
        ]
    )


def dropout_figures() -> str:
    """The ensemble gap, the Bayesian counterexample, DropBlock's actual rate and 002 Q7's
    optimal rate, generated now from numerics.dropout_experiments."""
    from numerics import dropout_experiments as dx

    return "\n".join(
        [
            "## Weight scaling against the ensemble",
            "",
            figure("dropout_ensemble_gap.png", dx.ensemble_gap_figure, "Ensemble gap"),
            "",
            "Relative gap between the weight-scaling output (all units on; torch's evaluation "
            "mode) and the exact ensemble over all $2^6$ masks, against the number of hidden "
            "layers between the dropout and the output (`ensemble_gap_figure`). Left: the "
            "arithmetic mean of a linear output; right: the normalized weighted geometric mean "
            "(NWGM) of a softmax output. Depth 0 (the output layer right after the dropout) is "
            "exact in both; every nonlinearity in between opens a gap.",
            "",
            "## Monte-Carlo dropout is not a posterior",
            "",
            figure("dropout_bayesian.png", dx.bayesian_variance_figure, "MC-dropout variance"),
            "",
            "Predictive variance at a test point of linear regression with dropout (exact over "
            "the masks) and of the Gaussian posterior of the mean, against the number of "
            "training points (`bayesian_variance_figure`). The posterior's shrinks like "
            "$1/n$; dropout's tends to a constant set by $p$.",
            "",
            "## DropBlock's actual drop rate",
            "",
            figure("dropout_dropblock.png", dx.dropblock_fraction_figure, "DropBlock rate"),
            "",
            "Left: the exact expected dropped fraction over the requested $p = 0.1$ against "
            "the block size, per map size, with Ghiasi et al.'s $\\gamma$ and block centres "
            "where the block fits. Right: each pixel's drop probability on one map: the "
            "borders are dropped less, the interior more, than requested "
            "(`dropblock_fraction_figure`).",
            "",
            "## The optimal rate against capacity",
            "",
            figure("dropout_optimal_rate.png", dx.optimal_rate_figure, "Optimal rate"),
            "",
            "Linear-Gaussian model with an orthogonal design: measured risk against $p$, the "
            "derived optimum $p^* = \\sigma^2 d/(\\sigma^2 d + n\\alpha^2)$, and the best fit of "
            "002's $c\\log(d/n)$ (`optimal_rate_figure`).",
            "",
        ]
    )


def regularization_figures() -> str:
    """Training and validation curves, bias and variance through training, and minibatch
    gradient noise, generated now from numerics.regularization_experiments."""
    from numerics import regularization_experiments as rx

    return "\n".join(
        [
            "## Training and validation curves",
            "",
            figure("reg_validation.png", rx.validation_curves_figure, "Validation curves"),
            "",
            "Gradient descent from zero on linear regression with a fixed design: training "
            "error and expected validation error against the step, with and without label "
            "noise (`validation_curves_figure`). The validation curve turns up only when the "
            "labels are noisy.",
            "",
            "## Bias and variance through training",
            "",
            figure("reg_bias_variance.png", rx.bias_variance_figure, "Bias and variance"),
            "",
            "Bias², variance and test error of gradient descent against the step: Monte-Carlo "
            "over training sets (points) and the closed form per eigen-direction (lines) on the "
            "same axes (`bias_variance_figure`).",
            "",
            "## Minibatch gradient noise",
            "",
            figure("reg_gradient_noise.png", rx.gradient_noise_figure, "Gradient noise"),
            "",
            "Measured variance of the minibatch gradient against the batch size, drawn with and "
            "without replacement, with $\\operatorname{tr}\\Sigma/B$ and "
            "$\\operatorname{tr}\\Sigma/B\\cdot(N-B)/(N-1)$ (`gradient_noise_figure`).",
            "",
        ]
    )


FIGURES = {
    "architectures": architecture_tables,
    "residual": residual_figures,
    "dropout": dropout_figures,
    "regularization": regularization_figures,
    "sequence": sequence_figures,
    "attention": attention_figures,
    "conv_matrix": benchmark_table,
    "init": init_figures,
    "normalization": normalization_figures,
    "pooling": pooling_figures,
}


def topic_page(topic: str, claims: list[Claim], records: dict[str, dict], stamp: str) -> str:
    title, intro = TOPICS.get(topic, (topic.title(), ""))
    out = [f"# {title}", "", intro, ""]
    out.append(f"Verdicts earned by the runs recorded in the report (last run {stamp})." if stamp
               else "No verdict report yet: the badges say *unverified*.")  # fmt: skip
    out += ["", topic_table(claims, records)]
    if topic in FIGURES:
        out.append(FIGURES[topic]())
    shown: dict[str, str] = {}
    out += [claim_section(c, records.get(c.id), shown) for c in claims]
    return "\n".join(out)


def counts_section(report: dict, stamp: str) -> str:
    """The overview's verdict counts per topic, failing claims, and the filterable table."""
    claims = report["claims"]
    topics = sorted({c["topic"] for c in claims})
    counts = {t: Counter(c["earned_verdict"] for c in claims if c["topic"] == t) for t in topics}
    total = sum(counts.values(), Counter())
    shown = [v for v in ORDER if total[v]]
    out = ["", "## Verdicts", ""]
    out.append(f"Earned by the runs in the verdict report ([`verdicts.json`](verdicts.json); last "
               f"run {stamp})." if stamp else
               "No verdict report yet (run `bash scripts/main.sh`).")  # fmt: skip
    out += ["", "| topic | " + " | ".join(badge(v) for v in shown) + " | total |",
            "| --- |" + " ---: |" * (len(shown) + 1)]  # fmt: skip
    for t in topics:
        out.append(
            f"| [{TOPICS.get(t, (t,))[0]}](claims/{t}.md) | "
            + " | ".join(str(counts[t][v]) for v in shown)
            + f" | {sum(counts[t].values())} |"
        )
    out.append(
        "| **all** | " + " | ".join(f"**{total[v]}**" for v in shown) + f" | **{len(claims)}** |"
    )
    bad = [c for c in claims if c["earned_verdict"] in ("failing", "untested")]
    if bad:
        out += ["", '!!! failure "Failing claims"', ""]
        out += [f"    - [{c['title']}](claims/{c['topic']}.md#{anchor(c['id'])})" for c in bad]
    out += ["", overview_table(report, TOPIC_TITLES)]
    return "\n".join(out)


TOPIC_TITLES = {topic: title for topic, (title, _) in TOPICS.items()}
GPU_FAMILIES = ("linear", "conv", "attention", "recurrent", "norm", "dropout", "pool", "embedding")


def _first_line(obj) -> str:
    """The first paragraph of a docstring, its reST roles turned into Markdown/KaTeX."""
    import re

    doc = " ".join((obj.__doc__ or "").strip().split("\n\n")[0].split())
    doc = re.sub(r":math:`([^`]*)`", r"$\1$", doc)
    doc = re.sub(r":(?:func|mod|class|data|meth):`~?([^`]*)`", r"`\1`", doc)
    return re.sub(r"``([^`]*)``", r"`\1`", doc)


def _measured(name: str, flag: str, aims: str) -> str:
    """The committed benchmark table ``benchmarks/results/<name>.md``, or a plain statement
    that none was measured."""
    table = ROOT / "benchmarks" / "results" / f"{name}.md"
    if table.exists():
        return table.read_text()
    return (
        "**Not measured yet.** No GPU was lent to the sessions that wrote these kernels, so no "
        f"throughput or ratio to torch is claimed. On a CUDA machine, `bash scripts/bench.sh "
        f"{flag}` measures every kernel (bfloat16, float16, float32; forward and backward) "
        f"and writes `benchmarks/results/{name}.md`, which this page then shows. The aims: "
        f"{aims}."
    )


def gpu_page() -> str:
    """The GPU kernels: what exists, how it is checked, the bytes each must move, and the
    last committed benchmark (or a plain statement that none was measured)."""
    import importlib

    from benchmarks.gpu_compute_bound import FLOPS
    from benchmarks.gpu_memory_bound import BYTES

    out = [
        "# GPU kernels (Triton)",
        "",
        "Every layer exists twice: a NumPy reference in `kernels/cpu` and a Triton kernel in "
        "`kernels/gpu` with the same function names and arguments, on torch tensors. A kernel "
        "runs compiled on a CUDA device, or in Triton's interpreter on the CPU when "
        "`TRITON_INTERPRET=1` was set before `import triton` (how CI tests them, at small "
        "irregular shapes). `import kernels.gpu` never needs Triton or a GPU; "
        "`python -m kernels.gpu` says where the kernels would run, and a kernel call where "
        "none can run raises `GPUUnavailable` naming what is missing.",
        "",
        "## The kernels",
        "",
        "| function | what it computes | NumPy twin |",
        "| --- | --- | --- |",
    ]
    for family in GPU_FAMILIES:
        try:
            module = importlib.import_module(f"kernels.gpu.{family}")
        except ImportError:
            continue
        cpu = importlib.import_module(f"kernels.cpu.{family}")
        for name in module.__all__:
            twin = "philox_dropout" if (family, name) == ("dropout", "dropout") else name
            twin_cell = f"`kernels.cpu.{family}.{twin}`" if hasattr(cpu, twin) else ""
            line = _first_line(getattr(module, name)).replace("|", "\\|")
            out.append(f"| `kernels.gpu.{family}.{name}` | {line} | {twin_cell} |")
    out += [
        "",
        "## How they are checked",
        "",
        "- **The GPU rule** (`numerics.tolerances.assert_gpu_close`): on the same input, a "
        "kernel's largest error against a float64 reference must not exceed twice torch's own "
        "largest error at the same precision, plus one rounding unit at the reference's "
        "largest magnitude: $\\max|a-e| \\le 2\\max|t-e| + \\varepsilon\\max|e|$. The "
        "rule itself is tested: it fails on results a little beyond it, permuted or transposed "
        "results, NaN and infinities, in every memory layout (`tests/test_checker.py`).",
        "- **Interpreter tests in CI** (`tests/test_gpu_*.py`): small irregular shapes that "
        "exercise the masks and the looped paths, float32 and float64, against the NumPy "
        "kernel and torch; invariants as hypothesis properties; backward runs repeated and "
        "compared bit for bit where the kernel promises determinism (the reductions have a "
        "fixed order by construction; the interpreter runs programs one after another, so "
        "only a GPU run can expose a race). The same files run unchanged on a GPU, where a "
        "larger GPU-only set (the issue's shapes, float16 and bfloat16) runs too.",
        "- **torch's own samples** (`tests/test_opinfo_gpu.py`): every OpInfo sample of the "
        "fourteen torch ops (linear, conv2d, conv_transpose2d, scaled_dot_product_attention, "
        "the norms, softmax, pooling, embedding, dropout), unchanged (an evenly spread subset "
        "of at most 40 per op in the interpreter), forward, running buffers and backward by "
        "the GPU rule; the deliberate refusals are counted. The fused attention's backward is "
        "compared with torch's own CPU FlashAttention backward (the same algorithm).",
        "- **Compiled without a GPU** (`tests/test_gpu_compile.py`): every kernel "
        "specialization the tests launch (in four dtypes), and each GPU block configuration "
        "of the kernels (`CUDA_CONFIGS`, only where the kernel's own heuristic can pick it; "
        "once each by default, with every launch under `LAYERCHECK_COMPILE_ALL=1`), is "
        "compiled by Triton's own compiler to PTX and, with the `ptxas` in the Triton wheel, "
        "to a cubin for Hopper (sm_90), and must fit in an sm_90 block's 227 KiB of shared "
        "memory — the interpreter alone never runs the compiler.",
        "- **`tl.dot` precision**: float32 operands are multiplied at the precision torch uses "
        "for the same operation (`kernels.gpu._backend.dot_precision`: TF32 exactly when "
        "`torch.backends.cuda.matmul.allow_tf32` — matrix products, attention — or "
        "`torch.backends.cudnn.allow_tf32` — convolutions — is on), so the GPU rule compares "
        "like with like and no TF32 slack is needed. In the interpreter `tl.dot` multiplies "
        "float32 exactly and bfloat16 wrongly (so bfloat16 `tl.dot` tests are GPU-only).",
        "- **Random bits reproduced**: dropout draws `tl.rand(seed, offset + i)` "
        "(Philox-4x32-10). `kernels.cpu.philox` reimplements it in NumPy; Random123's "
        "known-answer vectors pin the rounds, and a Triton kernel's `tl.randint`/`tl.rand` "
        "are reproduced bit for bit, across the 32-bit boundaries of seed and offset "
        "(`tests/test_philox.py`). `kernels.cpu.dropout.philox_dropout` then equals the GPU "
        "dropout bit for bit, and its exact keep probability is known "
        "(`kernels.cpu.philox.keep_probability`).",
        "- **Triton versions**: the kernels use only long-standing `triton.language` calls; the "
        "interpreter suite and the sm_90 compilation pass under Triton 3.9 (PyPI, this "
        "project's pin) and 3.6 (the GPU machines' image; `bash scripts/triton_compat.sh "
        "3.6.0`, which needs NumPy 2.2 because Triton 3.6's interpreter `int()`s shape-(1,) "
        "arrays).",
        "",
        '!!! note "Interpreter quirk: bfloat16 is truncated"',
        "    Triton's interpreter converts float32 to bfloat16 by truncation (1.7100695 becomes "
        "1.703125), where torch and the GPU round to nearest (1.7109375). Interpreted tests "
        "therefore pin the truncation for bfloat16 and leave round-to-nearest to the GPU-only "
        "set.",
        "",
        "## Bytes each kernel must move",
        "",
        "A memory-bound kernel cannot beat (bytes read + bytes written) / copy bandwidth. The "
        "benchmark counts bytes by these formulas ($e$ the element size; $M$ rows of $N$; $n$ "
        "elements; $C$ channels; $V\\times d$ embedding table):",
        "",
        "| kernel, pass | bytes |",
        "| --- | --- |",
    ]
    out += [f"| {k} | {v} |" for k, v in BYTES.items()]
    out += ["", "### Measured: memory-bound kernels", ""]
    out.append(
        _measured(
            "gpu_memory_bound",
            "--gpu-memory",
            "≥ 85% of copy bandwidth and ≥ 1.0× torch at large sizes",
        )
    )
    out += [
        "",
        "## FLOPs each compute-bound kernel does",
        "",
        "A compute-bound kernel cannot beat its multiply-accumulates / the device's matrix "
        "throughput. The benchmark counts FLOPs = 2 × MACs with the theory's own functions and "
        "measures the device's GEMM peak (torch's matmul at 8192³) in the same run; float32 "
        "runs with TF32 on for both sides (`kernels.gpu._backend.dot_precision` makes our "
        "`tl.dot` follow torch's switches), except attention, which runs in full float32 on "
        "both sides as torch's float32 fused attention does. Causal attention counts only the "
        "scores the mask keeps.",
        "",
        "| kernel, pass | FLOPs |",
        "| --- | --- |",
    ]
    out += [f"| {k} | {v} |" for k, v in FLOPS.items()]
    out += ["", "### Measured: compute-bound kernels", ""]
    out.append(
        _measured(
            "gpu_compute_bound",
            "--gpu-compute",
            "dense linear ≥ 90% of "
            "torch's GEMM at large square sizes; attention forward ≥ 400 TFLOP/s "
            "at bf16, D = 128, long sequences; implicit-GEMM convolution ≥ 70% of "
            "cuDNN at the ResNet-50 shapes; and the block-sparse and separable "
            "kernels' time following their MAC counts (a fitted line)",
        )
    )
    out.append("")
    return "\n".join(out)


def main() -> None:
    with mkdocs_gen_files.open("gpu.md", "w") as f:
        f.write(gpu_page())
    claims = load_ledger()
    report, records, stamp = load_report()
    for topic in sorted({c.topic for c in claims}):
        with mkdocs_gen_files.open(f"claims/{topic}.md", "w") as f:
            f.write(topic_page(topic, [c for c in claims if c.topic == topic], records, stamp))
    with mkdocs_gen_files.open("errata.md", "w") as f:
        f.write(errata_page(report, TOPIC_TITLES))
    with mkdocs_gen_files.open("index.md", "a") as f:
        f.write(counts_section(report, stamp))
    with mkdocs_gen_files.open("verdicts.json", "w") as f:  # the report, downloadable
        f.write(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


main()
