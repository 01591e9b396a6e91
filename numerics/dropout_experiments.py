r"""Dropout measured: the ensemble enumerated exactly, Monte-Carlo dropout, the dropout
objective, stochastic depth's compute, DropBlock's actual drop rate and review question 7 of
002 (the independent numeric side of issue 13; the symbolic side is :mod:`theory.dropout`).

Conventions (named in every function). ``p`` is the **drop** probability, as in torch and in
000; :math:`q = 1 - p` is the keep probability (002's model calls the keep probability
:math:`p`). Dropout is **inverted** (torch's ``nn.Dropout``): a kept unit is scaled by
:math:`1/q` in training and inference is the identity. The "classic" convention (Srivastava et
al. 2014: no scaling in training, weights multiplied by :math:`q` at test) gives the same
function at inference, so the *weight-scaling* output below is both conventions' inference.

* **Exact ensembles** (:func:`mask_table`, :func:`dropout_ensemble`, :func:`ensemble_gap`,
  :func:`distinct_subnetworks`): dropout acts on the :math:`n` inputs :math:`x` of a small
  float64 MLP :math:`f`; all :math:`2^n` masks :math:`r` are enumerated with their
  probabilities :math:`P(r) = q^{|r|}p^{n-|r|}`; the arithmetic mean
  :math:`\sum_r P(r) f(r\odot x/q)`, the normalized weighted geometric mean (NWGM) of
  softmax/sigmoid outputs and the weight-scaling output :math:`f(x)` are compared. Weight
  scaling equals the arithmetic mean when :math:`f` is affine in the dropped units, and the
  NWGM when one softmax (or sigmoid) layer follows the dropout directly (Baldi & Sadowski
  2013, *Understanding Dropout*, NeurIPS, §3; Hinton et al. 2012 for :math:`q = 1/2`).
* **Monte-Carlo dropout** (:func:`mc_dropout`) with torch's ``nn.Dropout`` in train mode;
  the Bayesian counterexample (:func:`bayesian_variance`): the MC-dropout predictive variance
  of a linear regression trained with dropout tends to a positive constant while the
  conjugate posterior's predictive variance shrinks like :math:`1/n` (Gal & Ghahramani 2016,
  *Dropout as a Bayesian Approximation*, read literally).
* **The objective** (:func:`objective_gradients`, :func:`linear_dropout_loss`,
  :func:`dropout_ridge`): :math:`\mathbb E_r[L(f_r)]`; for linear regression
  :math:`\mathbb E_r[(y - w\cdot(r\odot x)/q)^2] = (y - w\cdot x)^2 + \frac pq\sum_i w_i^2x_i^2`
  (Srivastava et al. 2014, §9.1; Wager, Wang & Liang 2013).
* **Stochastic depth** (:func:`stochastic_depth_macs`): Huang et al. 2016, *Deep Networks
  with Stochastic Depth*, linear-decay survival :math:`p_l = 1 - \frac lL(1 - p_L)`.
* **DropBlock** (:func:`dropblock_drop_probability`, :func:`dropblock_masks`,
  :func:`neighbour_recovery`): Ghiasi, Lin & Le 2018, *DropBlock*, Alg. 1 and eq. (1).
* **002 Q7** (:func:`optimal_dropout_rate`): the linear-Gaussian orthogonal-design model.

All work is bounded before it is done (the limits are module constants named in each
docstring); invalid arguments raise ``TypeError``/``ValueError`` naming the argument.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence

import numpy as np

from numerics.experiments import _choice, _int, _png, _pyplot

__all__ = [
    "MAX_MASK_UNITS",
    "MAX_SEED",
    "MAX_WORK",
    "bayesian_variance",
    "bayesian_variance_figure",
    "distinct_subnetworks",
    "dropblock_drop_probability",
    "dropblock_fraction_figure",
    "dropblock_masks",
    "dropout_ensemble",
    "dropout_ridge",
    "ensemble_gap",
    "ensemble_gap_figure",
    "linear_dropout_loss",
    "mask_table",
    "mc_dropout",
    "neighbour_recovery",
    "objective_gradients",
    "optimal_dropout_rate",
    "optimal_rate_figure",
    "stochastic_depth_macs",
]

MAX_MASK_UNITS = 12
"""Most units an exact enumeration drops (:math:`2^{12} = 4096` masks)."""
MAX_WORK = 2**26
"""Largest number of scalar operations (MACs or array elements) one call may do."""
MAX_DEPTH = 8
"""Most layers of the small networks."""
ACTIVATIONS = ("linear", "relu", "tanh")
OUTPUTS = ("linear", "softmax", "sigmoid")
MODES = ("batch", "row")


# Argument checks ------------------------------------------------------------------------


def _real(value: object, name: str, lo: float, hi: float, lo_open: bool, hi_open: bool) -> float:
    allowed = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in {allowed}, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise ValueError(f"{name} must be a real number in {allowed}, got {value!r}")
    return v


def _drop(p: object, name: str = "p") -> float:
    """A drop probability in [0, 1) (p = 1 drops everything: the inverted scale 1/(1-p) is
    undefined)."""
    return _real(p, name, 0.0, 1.0, False, True)


def _positive(value: object, name: str, hi: float = 1e6) -> float:
    return _real(value, name, 0.0, hi, True, False)


def _limit(value: int, name: str, limit: int) -> int:
    if value > limit:
        raise ValueError(f"{name} must be at most {limit}, got {value}")
    return value


def _work(amount: int, what: str) -> None:
    if amount > MAX_WORK:
        raise ValueError(f"{what}: the call would do {amount} operations, more than MAX_WORK "
                         f"= {MAX_WORK}")  # fmt: skip


MAX_SEED = 2**64 - 1
"""Largest seed (torch's ``manual_seed`` takes at most 64 bits)."""


def _seed(value: object) -> int:
    return _limit(_int(value, "seed", 0), "seed", MAX_SEED)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _matrix(value: object, name: str, ndim: int = 2) -> np.ndarray:
    if type(value) is not np.ndarray:
        raise TypeError(f"{name} must be a numpy.ndarray of floats, got {type(value).__name__}")
    if value.dtype.kind != "f" or value.dtype.itemsize < 4:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have ndim {ndim}, got shape {value.shape}")
    if 0 in value.shape:
        raise ValueError(f"{name} must not be empty, got shape {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name} must hold finite numbers only")
    return value.astype(np.float64)


def _network(x: object, weights: object, biases: object):
    """Input (batch, n), weights [(out, in), ...] (nn.Linear's layout), biases [(out,), ...]
    or None; float64 copies."""
    xs = _matrix(x, "x")
    if not isinstance(weights, list | tuple) or not weights:
        raise TypeError(f"weights must be a non-empty list of 2-D arrays, got {weights!r:.80}")
    if len(weights) > MAX_DEPTH:
        raise ValueError(f"weights must hold at most {MAX_DEPTH} layers, got {len(weights)}")
    ws = [_matrix(w, "weights") for w in weights]
    fan = xs.shape[1]
    for w in ws:
        if w.shape[1] != fan:
            raise ValueError(
                f"x and weights do not chain: a layer expects {w.shape[1]} inputs but "
                f"receives {fan} (weights {[w.shape for w in ws]}, x {xs.shape})"
            )
        fan = w.shape[0]
    if biases is None:
        bs = [np.zeros(w.shape[0]) for w in ws]
    else:
        if not isinstance(biases, list | tuple) or len(biases) != len(ws):
            raise TypeError(f"biases must be None or a list of {len(ws)} 1-D arrays")
        bs = [_matrix(b, "biases", 1) for b in biases]
        if any(b.shape != (w.shape[0],) for b, w in zip(bs, ws, strict=True)):
            raise ValueError("biases must have one entry per output unit of each layer")
    return xs, ws, bs


def _act(h: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(h, 0.0)
    if activation == "tanh":
        return np.tanh(h)
    return h


def _logits(x: np.ndarray, ws, bs, activation: str) -> np.ndarray:
    """Pre-output values (..., out): hidden layers with ``activation``, last layer affine."""
    h = x
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        h = h @ w.T + b
        if i < len(ws) - 1:
            h = _act(h, activation)
    return h


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


def _output(z: np.ndarray, output: str) -> np.ndarray:
    if output == "softmax":
        return np.exp(_log_softmax(z))
    if output == "sigmoid":
        return np.exp(_log_sigmoid(z))
    return z


# Exact enumeration of the ensemble ---------------------------------------------------------


def mask_table(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    r"""All :math:`2^n` dropout masks of ``n`` units and their probabilities.

    Returns ``(masks, probs)``: ``masks`` a bool array ``(2**n, n)`` (True = kept; row
    :math:`k` is the binary expansion of :math:`k`, unit 0 the least significant bit),
    ``probs`` float64 :math:`P(r) = q^{|r|}p^{n - |r|}` with ``p`` the DROP probability,
    :math:`q = 1 - p` (they sum to 1). ``n`` in ``[1, MAX_MASK_UNITS]``; ``p`` in [0, 1).
    """
    n = _limit(_int(n, "n", 1), "n", MAX_MASK_UNITS)
    p = _drop(p)
    k = np.arange(2**n)[:, None]
    masks = ((k >> np.arange(n)) & 1).astype(bool)
    kept = masks.sum(axis=1)
    probs = (1.0 - p) ** kept * p ** (n - kept)
    return masks, probs


def dropout_ensemble(
    x: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None = None,
    p: float = 0.5,
    activation: str = "relu",
    output: str = "linear",
) -> dict[str, np.ndarray]:
    r"""The exact dropout ensemble of a small MLP with (inverted) dropout on its input units.

    Network: :math:`f(x) = g(W_L\,\phi(\cdots\phi(W_1 x + b_1)\cdots) + b_L)`, ``weights``
    :math:`W_l` in ``nn.Linear``'s ``(out, in)`` layout, :math:`\phi` = ``activation``
    (``linear``/``relu``/``tanh``) between layers, :math:`g` = ``output``
    (``linear``/``softmax``/``sigmoid``). Dropout with DROP probability ``p`` acts on the
    :math:`n` columns of ``x`` (batch, n): sub-network :math:`r` computes
    :math:`f_r(x) = f(r\odot x/q)`.

    Returns float64 arrays: ``"per_mask"`` (2**n, batch, out) the outputs :math:`f_r(x)`,
    ``"probs"`` (2**n,), ``"arithmetic"`` :math:`\sum_r P(r)f_r(x)`, ``"variance"``
    :math:`\sum_r P(r)(f_r - \bar f)^2` (the mask distribution's predictive variance),
    ``"weight_scaling"`` :math:`f(x)` (inference of inverted dropout, = classic dropout's
    weights times :math:`q`), and for softmax/sigmoid outputs ``"nwgm"``: the normalized
    weighted geometric mean :math:`\prod_r f_r^{P(r)} / \sum_k \prod_r f_{r,k}^{P(r)}` (for a
    sigmoid the two classes :math:`\sigma` and :math:`1-\sigma`), computed from the per-mask
    log-probabilities.

    ``n <= MAX_MASK_UNITS``; at most ``MAX_DEPTH`` layers; the enumeration's
    :math:`2^n\cdot\text{batch}\cdot\sum_l \text{out}_l\,\text{in}_l` MACs at most
    ``MAX_WORK``. Arrays must be finite float32/float64 (computed in float64).
    """
    xs, ws, bs = _network(x, weights, biases)
    p = _drop(p)
    activation = _choice(activation, "activation", ACTIVATIONS)
    output = _choice(output, "output", OUTPUTS)
    n = xs.shape[1]
    if n > MAX_MASK_UNITS:
        raise ValueError(f"x must have at most MAX_MASK_UNITS = {MAX_MASK_UNITS} columns (the "
                         f"units dropout acts on), got {n}")  # fmt: skip
    _work(2**n * len(xs) * sum(w.size for w in ws), "x, weights")
    masks, probs = mask_table(n, p)
    q = 1.0 - p
    dropped = masks[:, None, :] * xs[None] / q  # (M, batch, n)
    z = _logits(dropped, ws, bs, activation)
    per_mask = _output(z, output)
    mean = np.einsum("m,mbk->bk", probs, per_mask)
    var = np.einsum("m,mbk->bk", probs, (per_mask - mean) ** 2)
    out = {
        "per_mask": per_mask,
        "probs": probs,
        "arithmetic": mean,
        "variance": var,
        "weight_scaling": _output(_logits(xs, ws, bs, activation), output),
    }
    if output == "softmax":
        g = np.einsum("m,mbk->bk", probs, _log_softmax(z))
        out["nwgm"] = np.exp(_log_softmax(g))  # renormalize the weighted geometric mean
    elif output == "sigmoid":
        g1 = np.einsum("m,mbk->bk", probs, _log_sigmoid(z))
        g0 = np.einsum("m,mbk->bk", probs, _log_sigmoid(-z))
        out["nwgm"] = np.exp(g1 - np.logaddexp(g1, g0))
    return out


def _random_net(rng: np.random.Generator, sizes: list[int], scale: float = 1.0):
    ws = [scale * rng.standard_normal((o, i)) * math.sqrt(2.0 / i)
          for i, o in itertools.pairwise(sizes)]  # fmt: skip
    bs = [0.5 * rng.standard_normal(o) for o in sizes[1:]]
    return ws, bs


def ensemble_gap(
    depth: int,
    activation: str,
    units: int = 6,
    p: float = 0.5,
    batch: int = 16,
    output: str = "linear",
    seed: int = 0,
) -> dict[str, float | np.ndarray]:
    r"""The gap between weight scaling and the exact ensemble on a random MLP.

    The dropped layer has ``units`` units and is followed by ``depth`` hidden layers of
    ``units`` units with ``activation`` and an output layer of 3 units (``output``); weights
    :math:`\mathcal N(0, 2/\text{fan-in})` (He), biases :math:`\mathcal N(0, 1/4)`, inputs
    standard normal, DROP probability ``p`` (inverted dropout). ``depth = 0``: the dropped
    units feed the output layer directly.

    Returns ``"gap"`` :math:`\max|f(x) - \sum_r P(r)f_r(x)|`, ``"relative_gap"``
    :math:`\|f(x) - \bar f\|_F / \|\bar f\|_F`, and for softmax/sigmoid outputs
    ``"nwgm_gap"`` :math:`\max|f(x) - \mathrm{NWGM}|`; and the arrays they come from,
    ``"weight_scaling"``, ``"arithmetic"`` (and ``"nwgm"``), (batch, 3).

    ``depth`` in ``[0, MAX_DEPTH - 1]``; ``units`` in ``[1, MAX_MASK_UNITS]``; ``batch`` in
    ``[1, 256]``; ``p`` in [0, 1); ``seed`` >= 0.
    """
    depth = _limit(_int(depth, "depth", 0), "depth", MAX_DEPTH - 1)
    activation = _choice(activation, "activation", ACTIVATIONS)
    units = _limit(_int(units, "units", 1), "units", MAX_MASK_UNITS)
    p = _drop(p)
    batch = _limit(_int(batch, "batch", 1), "batch", 256)
    output = _choice(output, "output", OUTPUTS)
    _work(2**units * batch * (units * units * depth + 3 * units), "units, depth, batch")
    rng = np.random.default_rng(_seed(seed))
    ws, bs = _random_net(rng, [units] * (depth + 1) + [3])
    x = rng.standard_normal((batch, units))
    e = dropout_ensemble(x, ws, bs, p, activation, output)
    diff = e["weight_scaling"] - e["arithmetic"]
    norm = float(np.linalg.norm(e["arithmetic"]))
    res: dict[str, float | np.ndarray] = {
        "gap": float(np.abs(diff).max()),
        "relative_gap": float(np.linalg.norm(diff) / norm) if norm > 0 else 0.0,
        "weight_scaling": e["weight_scaling"],
        "arithmetic": e["arithmetic"],
    }
    if "nwgm" in e:
        res["nwgm_gap"] = float(np.abs(e["weight_scaling"] - e["nwgm"]).max())
        res["nwgm"] = e["nwgm"]
    return res


def ensemble_gap_figure(
    max_depth: int = 3, units: int = 6, p: float = 0.5, seeds: int = 8
) -> bytes:
    r"""PNG: the relative gap :math:`\|f(x) - \mathbb E_r f_r(x)\|/\|\mathbb E_r f_r(x)\|`
    between weight scaling and the exact arithmetic ensemble mean (left; linear output) and
    the gap to the NWGM of a softmax output (right), against the number of hidden layers
    between the dropout and the output, per nonlinearity (linear/relu/tanh), median and range
    over ``seeds`` random networks (:func:`ensemble_gap`). ``max_depth`` in ``[1, 7]``;
    ``seeds`` in ``[1, 32]``; other arguments as :func:`ensemble_gap`.
    """
    p = _drop(p)
    max_depth = _limit(_int(max_depth, "max_depth", 1), "max_depth", MAX_DEPTH - 1)
    seeds = _limit(_int(seeds, "seeds", 1), "seeds", 32)
    units = _limit(_int(units, "units", 1), "units", MAX_MASK_UNITS)
    _work(6 * seeds * (max_depth + 1) ** 2 * 2**units * 16 * (units * units + 3 * units),
          "max_depth, units, seeds")  # fmt: skip
    depths = list(range(max_depth + 1))
    data = {
        (act, key): np.array(
            [
                [ensemble_gap(d, act, units, p, 16, out, s)[key] for s in range(seeds)]
                for d in depths
            ]
        )
        for act in ACTIVATIONS
        for key, out in (("relative_gap", "linear"), ("nwgm_gap", "softmax"))
    }
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    floor = 1e-17
    for ax, key, title in (
        (axes[0], "relative_gap", "linear output: weight scaling vs arithmetic mean"),
        (axes[1], "nwgm_gap", "softmax output: weight scaling vs NWGM"),
    ):
        for act, color in zip(ACTIVATIONS, ("C0", "C3", "C2"), strict=True):
            v = np.maximum(data[act, key], floor)
            ax.semilogy(depths, np.median(v, axis=1), "o-", color=color, label=act)
            ax.fill_between(depths, v.min(axis=1), v.max(axis=1), color=color, alpha=0.2)
        ax.set_xlabel("hidden layers between dropout and output")
        ax.set_ylabel("relative gap" if key == "relative_gap" else "max |gap|")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(depths)
        ax.legend(fontsize=8)
    fig.suptitle(f"exact enumeration of 2^{units} masks, drop p = {p:g} (inverted dropout)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return _png(fig)


def distinct_subnetworks(
    x: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None = None,
    activation: str = "relu",
) -> dict[str, float]:
    r"""How many of the :math:`2^n` sub-networks compute different functions on the inputs.

    Sub-network :math:`r` is :math:`x \mapsto f(r\odot x)` (the network of
    :func:`dropout_ensemble` with linear output; the :math:`1/q` scale does not change which
    masks coincide). Two masks give the same function on the rows of ``x`` when their
    outputs are equal bit for bit. Returns ``"count"`` (the number of distinct functions,
    between 1 and :math:`2^n`) and ``"min_separation"``: the smallest max-norm distance
    between the outputs of two *distinct* functions (0 when there is one), which shows the
    distinct ones are not rounding noise. Limits as :func:`dropout_ensemble`, and
    :math:`n \le 10` (the pairwise distances).
    """
    xs, ws, bs = _network(x, weights, biases)
    activation = _choice(activation, "activation", ACTIVATIONS)
    n = xs.shape[1]
    if n > 10:
        raise ValueError(f"x must have at most 10 columns (units dropped), got {n}")
    e = dropout_ensemble(xs, ws, bs, 0.0, activation, "linear")
    flat = e["per_mask"].reshape(2**n, -1)
    _work(4**n * flat.shape[1], "x, weights")
    uniq = np.unique(flat, axis=0)
    if len(uniq) < 2:
        return {"count": 1, "min_separation": 0.0}
    sep = math.inf
    for i in range(len(uniq) - 1):
        sep = min(sep, float(np.abs(uniq[i + 1 :] - uniq[i]).max(axis=1).min()))
    return {"count": len(uniq), "min_separation": sep}


# Monte-Carlo dropout -------------------------------------------------------------------------


def mc_dropout(
    x: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None = None,
    p: float = 0.5,
    activation: str = "relu",
    output: str = "linear",
    passes: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""Monte-Carlo dropout with torch: ``passes`` forward passes of a float64 torch MLP whose
    first module is ``torch.nn.Dropout(p)`` in **train** mode (inverted dropout, ``p`` the
    DROP probability) acting on the inputs, the rest as :func:`dropout_ensemble`
    (``nn.Linear`` layers with the given weights). The passes are one batched call on
    ``passes`` copies of ``x`` (``nn.Dropout`` draws every element independently, so this is
    ``passes`` independent masks per input), under ``torch.manual_seed(seed)`` inside
    ``torch.random.fork_rng`` (the caller's global generator is left untouched).

    Returns float64 arrays (batch, out): ``"mean"`` the sample mean over passes,
    ``"second_moment"`` the mean of squares, ``"variance"`` the (biased, :math:`1/T`) sample
    variance, and ``"samples"`` (passes, batch, out). ``passes`` in ``[1, 10**5]``;
    ``passes * batch * (n + sum of layer sizes)`` at most ``MAX_WORK``.
    """
    import torch

    xs, ws, bs = _network(x, weights, biases)
    p = _drop(p)
    activation = _choice(activation, "activation", ACTIVATIONS)
    output = _choice(output, "output", OUTPUTS)
    passes = _limit(_int(passes, "passes", 1), "passes", 10**5)
    seed = _seed(seed)
    _work(passes * len(xs) * sum(w.size for w in ws), "x, weights, passes")
    layers: list[torch.nn.Module] = [torch.nn.Dropout(p)]
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(ws) - 1 and activation != "linear":
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    if output == "softmax":
        layers.append(torch.nn.Softmax(dim=-1))
    elif output == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    net = torch.nn.Sequential(*layers).train()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        batch = torch.from_numpy(xs).expand(passes, *xs.shape).contiguous()
        samples = net(batch).numpy()
    mean = samples.mean(axis=0)
    return {
        "mean": mean,
        "second_moment": (samples * samples).mean(axis=0),
        "variance": ((samples - mean) ** 2).mean(axis=0),
        "samples": samples,
    }


# The objective -------------------------------------------------------------------------------


def objective_gradients(
    x: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray] | None = None,
    p: float = 0.5,
    activation: str = "tanh",
    output: str = "linear",
) -> dict[str, object]:
    r"""The dropout objective :math:`\mathbb E_r[L(f_r)]` and its gradient two ways (torch
    float64 autograd, exact enumeration of the :math:`2^n` masks of :func:`dropout_ensemble`).

    Loss :math:`L(f) = \frac1{2B}\sum_{b,k}(f_{bk} - y_{bk})^2` (``y`` of the output's shape
    (batch, out)). Returns ``"expected_loss"`` :math:`\sum_r P(r)L(f_r)` (float),
    ``"mean_of_gradients"``: :math:`\sum_r P(r)\nabla_\theta L(f_r)` (one backward pass per
    mask: what single-mask SGD steps average to) and ``"gradient_of_mean"``:
    :math:`\nabla_\theta\sum_r P(r)L(f_r)` (one backward pass through the enumerated
    expectation); both lists of float64 arrays in the order ``W_1, b_1, W_2, b_2, ...``
    (biases left out when ``biases`` is None). Limits as :func:`dropout_ensemble` and at
    most 1024 masks (one backward pass each).
    """
    import torch

    xs, ws, bs = _network(x, weights, biases)
    ys = _matrix(y, "y")
    p = _drop(p)
    activation = _choice(activation, "activation", ACTIVATIONS)
    output = _choice(output, "output", OUTPUTS)
    n = xs.shape[1]
    if n > 10:
        raise ValueError(f"x must have at most 10 columns (units dropped), got {n}")
    if ys.shape != (xs.shape[0], ws[-1].shape[0]):
        raise ValueError(f"y must have shape (batch, out) = {(xs.shape[0], ws[-1].shape[0])}, "
                         f"got {ys.shape}")  # fmt: skip
    _work(2**n * len(xs) * sum(w.size for w in ws) * 3, "x, weights")
    masks, probs = mask_table(n, p)
    q = 1.0 - p
    act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda h: h}[activation]
    out_fn = {"softmax": lambda z: torch.softmax(z, -1), "sigmoid": torch.sigmoid,
              "linear": lambda z: z}[output]  # fmt: skip
    params = []
    for w, b in zip(ws, bs, strict=True):
        params.append(torch.from_numpy(w).requires_grad_())
        params.append(torch.from_numpy(b).requires_grad_())
    xt, yt = torch.from_numpy(xs), torch.from_numpy(ys)

    def loss(mask: torch.Tensor) -> torch.Tensor:
        h = mask * xt / q
        for i in range(len(ws)):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < len(ws) - 1:
                h = act(h)
        return 0.5 * ((out_fn(h) - yt) ** 2).sum() / len(xs)

    mt = torch.from_numpy(masks.astype(np.float64))
    mean_grads = [np.zeros(t.shape) for t in params]
    for m, pr in zip(mt, probs, strict=True):
        if pr == 0.0:
            continue
        gs = torch.autograd.grad(loss(m), params)
        for acc, g in zip(mean_grads, gs, strict=True):
            acc += pr * g.numpy()
    total = sum(float(pr) * loss(m) for m, pr in zip(mt, probs, strict=True) if pr > 0.0)
    grads = [g.numpy().copy() for g in torch.autograd.grad(total, params)]
    keep = [i for i in range(len(params)) if biases is not None or i % 2 == 0]
    return {
        "expected_loss": float(total.detach()),
        "mean_of_gradients": [mean_grads[i] for i in keep],
        "gradient_of_mean": [grads[i] for i in keep],
    }


def _regression(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    xs = _matrix(x, "x")
    ys = _matrix(y, "y", 1)
    if len(ys) != len(xs):
        raise ValueError(f"y must have one entry per row of x ({len(xs)}), got {len(ys)}")
    return xs, ys


def linear_dropout_loss(x: np.ndarray, y: np.ndarray, w: np.ndarray, p: float) -> dict[str, float]:
    r"""The expected dropout loss of linear regression, enumerated and in closed form.

    Inverted dropout with DROP probability ``p`` on the inputs: for rows :math:`x_b` of ``x``
    (batch, n) and targets ``y`` (batch,), ``"enumerated"`` is
    :math:`\frac1B\sum_b\sum_r P(r)(y_b - w\cdot(r\odot x_b)/q)^2` over all :math:`2^n` masks;
    ``"closed_form"`` is :math:`\frac1B\sum_b[(y_b - w\cdot x_b)^2 + \frac pq\sum_i
    w_i^2x_{bi}^2]` (a data-dependent ridge; Srivastava et al. 2014 §9.1, Wager et al. 2013);
    ``"plain"`` the loss without dropout. ``n <= MAX_MASK_UNITS``.
    """
    xs, ys = _regression(x, y)
    ws = _matrix(w, "w", 1)
    p = _drop(p)
    if ws.shape != (xs.shape[1],):
        raise ValueError(f"w must have shape ({xs.shape[1]},) (x's columns), got {ws.shape}")
    n = xs.shape[1]
    if n > MAX_MASK_UNITS:
        raise ValueError(f"x must have at most MAX_MASK_UNITS = {MAX_MASK_UNITS} columns, got {n}")
    _work(2**n * xs.size, "x")
    masks, probs = mask_table(n, p)
    q = 1.0 - p
    pred = (masks[:, None, :] * xs[None] / q) @ ws  # (M, batch)
    enumerated = float(probs @ ((ys[None] - pred) ** 2).mean(axis=1))
    resid = ys - xs @ ws
    plain = float((resid**2).mean())
    penalty = float((p / q) * ((ws**2) * (xs**2)).sum(axis=1).mean())
    return {"enumerated": enumerated, "closed_form": plain + penalty, "plain": plain}


def dropout_ridge(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    r"""The minimiser of linear regression's expected dropout loss: the weighted ridge

    .. math:: w = \left(X^\top X + \tfrac pq\,\mathrm{diag}(X^\top X)\right)^{-1}X^\top y,

    ``p`` the DROP probability (inverted dropout on the inputs, :math:`q = 1 - p`). With
    ``p = 0`` this is least squares (``x`` must then have full column rank: a system whose
    condition number exceeds ``1e12`` is refused). ``x`` (batch,
    d) with ``batch * d * d`` at most ``MAX_WORK`` and no all-zero column; ``y`` (batch,).
    """
    xs, ys = _regression(x, y)
    p = _drop(p)
    _work(xs.shape[0] * xs.shape[1] ** 2, "x")
    gram = xs.T @ xs
    diag = np.diag(gram).copy()
    if (diag == 0).any():
        raise ValueError("x must have no all-zero column (its weight is not determined)")
    a = gram + (p / (1.0 - p)) * np.diag(diag)
    if np.linalg.cond(a) > 1e12:  # rank-deficient up to rounding: the split is arbitrary
        raise ValueError(
            "x: X^T X + (p/q) diag(X^T X) is singular to float64 precision (condition number "
            "above 1e12; e.g. duplicated columns at p = 0): give x full column rank or p > 0"
        )
    try:
        w = np.linalg.solve(a, xs.T @ ys)
    except np.linalg.LinAlgError:
        raise ValueError("x: X^T X is singular at p = 0 (give x full column rank)") from None
    if not np.isfinite(w).all():
        raise ValueError("x: the weighted ridge system is too ill-conditioned")
    return w


# The Bayesian counterexample --------------------------------------------------------------


def bayesian_variance(
    sizes: Sequence[int] = (10, 100, 1000, 10000),
    dim: int = 5,
    p: float = 0.5,
    noise: float = 1.0,
    prior: float = 1.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""MC-dropout predictive variance against a Bayesian posterior's, as the data grow.

    Model: :math:`y = x\cdot\beta + \varepsilon`, :math:`x \sim \mathcal N(0, I_d)`,
    :math:`\varepsilon \sim \mathcal N(0, \sigma^2)` (``noise`` = :math:`\sigma`), fixed
    :math:`\beta = \mathbf 1/\sqrt d` and test point :math:`x_* = \mathbf 1`; the first
    :math:`n` of one stream of samples for each :math:`n` in ``sizes``. Dropout (DROP
    probability ``p``, inverted, on the inputs) is trained exactly: :math:`w_n` =
    :func:`dropout_ridge`. Its MC-dropout predictive variance at :math:`x_*` is the exact
    mask variance :math:`\frac pq\sum_j w_j^2 x_{*j}^2`, whose limit as :math:`n\to\infty`
    (:math:`w_n \to q\beta` since :math:`\mathbb E xx^\top = I`) is ``"limit"``
    :math:`pq\sum_j\beta_j^2x_{*j}^2 = pq`. The conjugate posterior (prior
    :math:`\beta\sim\mathcal N(0, \tau^2 I)`, :math:`\tau` = ``prior``) has predictive variance
    of the mean :math:`x_*^\top(X^\top X/\sigma^2 + I/\tau^2)^{-1}x_* \approx \sigma^2 d/n`.

    Returns ``"n"``, ``"mc_variance"``, ``"posterior_variance"``, ``"weights"`` (len(sizes),
    d) and ``"limit"``. ``sizes``: 1 to 16 integers in ``[2, 10**5]``; ``dim`` in
    ``[1, 12]``; ``p`` in [0, 1); ``noise``, ``prior`` in [1e-6, 1e6]; ``seed`` in
    ``[0, MAX_SEED]``.
    """
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of integers >= 2, got {sizes!r}")
    if not 1 <= len(sizes) <= 16:
        raise ValueError(f"sizes must hold 1 to 16 sample sizes, got {len(sizes)}")
    ns = [_limit(_int(s, "sizes", 2), "sizes", 10**5) for s in sizes]
    dim = _limit(_int(dim, "dim", 1), "dim", MAX_MASK_UNITS)
    p = _drop(p)
    sigma = _real(noise, "noise", 1e-6, 1e6, False, False)
    tau = _real(prior, "prior", 1e-6, 1e6, False, False)
    rng = np.random.default_rng(_seed(seed))
    beta = np.ones(dim) / math.sqrt(dim)
    xstar = np.ones(dim)
    big = max(ns)
    x_all = rng.standard_normal((big, dim))
    y_all = x_all @ beta + sigma * rng.standard_normal(big)
    q = 1.0 - p
    mc, post, wts = [], [], []
    for n in ns:
        x, y = x_all[:n], y_all[:n]
        w = dropout_ridge(x, y, p) if n >= dim or p > 0 else np.zeros(dim)
        wts.append(w)
        mc.append((p / q) * float(np.sum(w**2 * xstar**2)))
        prec = x.T @ x / sigma**2 + np.eye(dim) / tau**2
        post.append(float(xstar @ np.linalg.solve(prec, xstar)))
    return {
        "n": np.array(ns),
        "mc_variance": np.array(mc),
        "posterior_variance": np.array(post),
        "weights": np.array(wts),
        "limit": np.array(p * q * float(np.sum(beta**2 * xstar**2))),
    }


def bayesian_variance_figure(dim: int = 5, p: float = 0.5, seed: int = 0) -> bytes:
    r"""PNG: MC-dropout predictive variance (exact over masks) and the conjugate posterior's
    predictive variance at a test point against the number of training points
    :math:`n = 10\ldots10^4` (log-log), with the dropout limit :math:`pq` and :math:`\sigma^2
    d/n` (:func:`bayesian_variance`, 13 sizes)."""
    sizes = tuple(int(v) for v in np.unique(np.round(np.logspace(1, 4, 13)).astype(int)))
    r = bayesian_variance(sizes, dim, p, 1.0, 1.0, seed)
    p = _drop(p)  # validated by bayesian_variance; a float for the title (p may be a Rational)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(r["n"], r["mc_variance"], "o-", color="C3", label="MC dropout (exact over masks)")
    ax.axhline(float(r["limit"]), color="C3", ls=":", label=r"its limit $pq\,\sum\beta_j^2x_j^2$")
    ax.loglog(r["n"], r["posterior_variance"], "s-", color="C0",
              label="Gaussian posterior of the mean")  # fmt: skip
    ax.loglog(r["n"], dim / r["n"], "--", color="C0", lw=1, label=r"$\sigma^2 d/n$")
    ax.set_xlabel("training points $n$")
    ax.set_ylabel(r"predictive variance at $x_*$")
    ax.set_title(f"linear regression, d = {dim}, drop p = {p:g}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


# Stochastic depth ----------------------------------------------------------------------------


def stochastic_depth_macs(
    depth: int = 12,
    width: int = 16,
    batch: int = 8,
    p_last: float = 0.5,
    mode: str = "batch",
    steps: int = 100,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""MACs of a residual MLP trained with stochastic depth, counted by
    :func:`numerics.opcount.counted_matmul`.

    Blocks :math:`y \leftarrow y + \frac{b_l}{p_l}\,\mathrm{relu}(yW_l^\top)` (inverted
    scaling, torchvision's ``ops.stochastic_depth`` convention; Huang et al. train without the
    :math:`1/p_l` and scale by :math:`p_l` at test), :math:`l = 1..L`, survival probabilities
    by Huang et al.'s linear decay :math:`p_l = 1 - \frac lL(1 - p_L)` (``p_last`` =
    :math:`p_L`, a SURVIVAL probability here). ``mode="batch"``: one :math:`b_l \sim
    \mathrm{Bernoulli}(p_l)` per block per step, and a dropped block is **not computed**;
    ``mode="row"``: one draw per sample (torchvision's ``"row"``), every block computed and
    multiplied by the mask. Each of ``steps`` forward passes runs on a fresh standard normal
    batch.

    Returns ``"fractions"`` (steps,) the MACs of each pass over those of the full network
    (:math:`L\cdot\text{batch}\cdot\text{width}^2`), ``"survival"`` (L,) :math:`p_l`,
    ``"expected"`` :math:`\frac1L\sum_l p_l`, and ``"identity_ok"``: True when every dropped
    row (row mode) left its input unchanged bit for bit (in batch mode a skipped block is not
    executed at all, so this is True by construction).
    ``depth`` in ``[1, 1000]``, ``p_last`` in (0, 1], ``steps * depth * batch * width**2`` at
    most ``MAX_WORK``.
    """
    from numerics.opcount import MacCounter, counted_matmul

    depth = _limit(_int(depth, "depth", 1), "depth", 1000)
    width = _limit(_int(width, "width", 1), "width", 1024)
    batch = _limit(_int(batch, "batch", 1), "batch", 4096)
    p_last = _real(p_last, "p_last", 0.0, 1.0, True, False)
    mode = _choice(mode, "mode", MODES)
    steps = _limit(_int(steps, "steps", 1), "steps", 10**5)
    _work(steps * depth * batch * width * width, "steps")
    rng = np.random.default_rng(_seed(seed))
    survival = 1.0 - np.arange(1, depth + 1) / depth * (1.0 - p_last)
    ws = [rng.standard_normal((width, width)) / math.sqrt(width) for _ in range(depth)]
    full = depth * batch * width * width
    fractions = np.empty(steps)
    identity_ok = True
    for s in range(steps):
        y = rng.standard_normal((batch, width))
        # a deep stack may overflow float64 (and p_last ~ 1e-320 rounds p_L to 0): only the
        # MACs and the dropped rows are read
        with MacCounter() as c, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for w, pl in zip(ws, survival, strict=True):
                if mode == "batch":
                    if rng.random() < pl:
                        y = y + np.maximum(counted_matmul(y, w.T), 0.0) / pl
                    # else: the block is skipped, nothing is computed (the identity by
                    # construction)
                else:
                    keep = rng.random((batch, 1)) < pl
                    f = np.maximum(counted_matmul(y, w.T), 0.0)
                    y_new = y + np.where(keep, f / pl, 0.0)
                    rows = ~keep[:, 0]
                    identity_ok &= bool(np.array_equal(y_new[rows], y[rows], equal_nan=True))
                    y = y_new
        fractions[s] = c.macs / full
    return {
        "fractions": fractions,
        "survival": survival,
        "expected": np.array(float(survival.mean())),
        "identity_ok": identity_ok,
    }


# DropBlock -----------------------------------------------------------------------------------


def _dropblock_args(height, width, block_size, p):
    height = _limit(_int(height, "height", 1), "height", 4096)
    width = _limit(_int(width, "width", 1), "width", 4096)
    bs = _int(block_size, "block_size", 1)
    if bs > min(height, width):
        raise ValueError(f"block_size must be at most min(height, width) = {min(height, width)} "
                         f"(the block must fit in the map), got {bs}")  # fmt: skip
    return height, width, bs, _drop(p)


def _coverage(size: int, bs: int) -> np.ndarray:
    """Number of valid block positions (top-left k in [0, size - bs]) covering each index."""
    i = np.arange(size)
    return np.minimum(i, size - bs) - np.maximum(0, i - bs + 1) + 1


def dropblock_drop_probability(
    height: int, width: int, block_size: int, p: float
) -> dict[str, object]:
    r"""DropBlock's exact per-pixel drop probability and the fraction actually dropped.

    Ghiasi et al. (2018), Alg. 1 and eq. (1), with ``p`` the requested DROP rate
    (:math:`1 - \text{keep\_prob}`): block seeds are Bernoulli(:math:`\gamma`) on the
    :math:`(H - bs + 1)(W - bs + 1)` positions where a ``block_size`` square fits (the
    block's top-left corner; torchvision's ``drop_block2d`` samples the same grid), with

    .. math:: \gamma = \frac{p}{bs^2}\,\frac{HW}{(H - bs + 1)(W - bs + 1)}.

    Pixel :math:`(i, j)` is covered by :math:`c(i, j) = c_H(i)c_W(j)` valid blocks
    (:math:`c_H(i) = \min(i, H - bs) - \max(0, i - bs + 1) + 1`), so it is dropped with
    probability :math:`1 - (1 - \gamma)^{c(i,j)}`. Returns ``"gamma"``, ``"probability"``
    (H, W), ``"coverage"`` (H, W) ints, ``"fraction"`` the mean of ``probability`` (the
    expected fraction dropped: :math:`\sum 1 - (1-\gamma)^c \le \gamma\sum c = pHW`, strictly
    below ``p`` whenever ``p > 0``, ``bs > 1`` and the block has more than one position — the
    union of overlapping blocks is smaller than their total area) and ``"requested"`` ``p``.
    ``height``, ``width`` in ``[1, 4096]``; ``block_size`` in ``[1, min(height, width)]``;
    ``p`` in [0, 1). The float64 twin of the exact
    :func:`theory.dropout.dropblock_drop_probability` (which takes ``keep_prob = 1 - p``, as
    Ghiasi et al. do); fast enough for the figures' large maps, cross-checked against it in
    ``tests/test_dropout_theory.py``.
    """
    h, w, bs, p = _dropblock_args(height, width, block_size, p)
    gamma = p / bs**2 * (h * w) / ((h - bs + 1) * (w - bs + 1))
    cov = np.outer(_coverage(h, bs), _coverage(w, bs))
    prob = -np.expm1(cov * np.log1p(-gamma)) if gamma < 1 else (cov > 0).astype(float)
    return {
        "gamma": gamma,
        "probability": prob,
        "coverage": cov,
        "fraction": float(prob.mean()),
        "requested": p,
    }


def dropblock_masks(
    height: int, width: int, block_size: int, p: float, samples: int = 1, seed: int = 0
) -> np.ndarray:
    r"""Sampled DropBlock keep-masks (True = kept), ``(samples, height, width)`` bool: seeds
    Bernoulli(:math:`\gamma`) at the valid top-left corners (:func:`dropblock_drop_probability`),
    each seed dropping its ``block_size`` square (a 2-D box dilation by cumulative sums).
    ``samples * height * width`` at most ``MAX_WORK``; other arguments as
    :func:`dropblock_drop_probability`; ``seed`` >= 0."""
    h, w, bs, p = _dropblock_args(height, width, block_size, p)
    samples = _int(samples, "samples", 1)
    _work(samples * (h + 1) * (w + 1), "samples")
    gamma = p / bs**2 * (h * w) / ((h - bs + 1) * (w - bs + 1))
    rng = np.random.default_rng(_seed(seed))
    seeds = rng.random((samples, h - bs + 1, w - bs + 1)) < gamma
    # diff array: +1 at each seed's top-left, -1 past its block; a 2-D cumsum counts the
    # seeds covering each pixel
    d = np.zeros((samples, h + 1, w + 1), np.int64)
    s, i, j = np.nonzero(seeds)
    np.add.at(d, (s, i, j), 1)
    np.add.at(d, (s, i + bs, j), -1)
    np.add.at(d, (s, i, j + bs), -1)
    np.add.at(d, (s, i + bs, j + bs), 1)
    covered = d.cumsum(axis=1).cumsum(axis=2)[:, :h, :w]
    return covered == 0


def dropblock_fraction_figure(
    sizes: Sequence[int] = (7, 14, 28, 56), p: float = 0.1, max_block: int = 7
) -> bytes:
    r"""PNG: DropBlock's expected dropped fraction (exact, :func:`dropblock_drop_probability`)
    over the requested ``p`` against the block size :math:`1..` ``max_block``, one line per
    square map size in ``sizes``; right: the per-pixel drop probability of one map (border
    deficit). ``sizes``: 1 to 8 ints in ``[1, 512]``; ``max_block`` in ``[1, 64]``; ``p`` in
    (0, 1)."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of integers >= 1, got {sizes!r}")
    if not 1 <= len(sizes) <= 8:
        raise ValueError(f"sizes must hold 1 to 8 map sizes, got {len(sizes)}")
    ss = [_limit(_int(s, "sizes", 1), "sizes", 512) for s in sizes]
    p = _real(p, "p", 0.0, 1.0, True, True)
    max_block = _limit(_int(max_block, "max_block", 1), "max_block", 64)
    curves = {}
    for s in ss:
        bsz = list(range(1, min(s, max_block) + 1))
        curves[s] = (bsz, [dropblock_drop_probability(s, s, b, p)["fraction"] / p for b in bsz])
    big = max(ss)
    one = dropblock_drop_probability(big, big, min(big, max_block), p)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for s in ss:
        axes[0].plot(*curves[s], "o-", label=f"{s}×{s} map")
    axes[0].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[0].set_xlabel("block size")
    axes[0].set_ylabel("actual dropped fraction / requested p")
    axes[0].set_title(f"DropBlock, requested p = {p:g} (Ghiasi et al. γ)", fontsize=9)
    axes[0].legend(fontsize=8)
    im = axes[1].imshow(one["probability"], cmap="viridis")
    fig.colorbar(im, ax=axes[1])
    axes[1].set_title(f"P(drop) per pixel, {big}×{big}, block {min(big, max_block)}", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _smooth_image(size: int, rng: np.random.Generator) -> np.ndarray:
    """A low-frequency field in [-1, 1]: the mean of 4 plane cosines of frequency <= 2 cycles
    per map."""
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    img = np.zeros((size, size))
    for _ in range(4):
        u, v = rng.integers(0, 3, 2)
        u = max(int(u), 1) if u == v == 0 else int(u)
        img += np.cos(2 * np.pi * (u * i + v * j) / size + rng.uniform(0, 2 * np.pi))
    return img / 4


def _recovery_errors(img: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: mean squared error of recovering each dropped pixel from the mean of its
    kept 3x3 neighbours (the mean of all kept pixels when none is kept; 0 when nothing is
    kept), and the fraction of dropped pixels with no kept neighbour."""
    k = kept.astype(np.float64)
    v = k * img
    pad_k = np.pad(k, ((0, 0), (1, 1), (1, 1)))
    pad_v = np.pad(v, ((0, 0), (1, 1), (1, 1)))
    h, w = img.shape
    cnt = sum(pad_k[:, a : a + h, b : b + w] for a in range(3) for b in range(3)) - k
    tot = sum(pad_v[:, a : a + h, b : b + w] for a in range(3) for b in range(3)) - v
    nk = k.sum(axis=(1, 2))
    glob = np.where(nk > 0, v.sum(axis=(1, 2)) / np.maximum(nk, 1), 0.0)
    est = np.where(cnt > 0, tot / np.maximum(cnt, 1), glob[:, None, None])
    dropped = ~kept
    nd = dropped.sum(axis=(1, 2))
    err = ((est - img) ** 2 * dropped).sum(axis=(1, 2)) / np.maximum(nd, 1)
    iso = ((cnt == 0) & dropped).sum(axis=(1, 2)) / np.maximum(nd, 1)
    return err, iso


def neighbour_recovery(
    size: int = 32, block_size: int = 5, p: float = 0.1, samples: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    r"""How much of a dropped pixel survives in its neighbours: pixel dropout vs DropBlock.

    One spatially smooth ``size``-square map in :math:`[-1, 1]` (mean of 4 plane cosines of
    at most 2 cycles per map, drawn from ``seed``); ``samples`` independent masks of pixel
    dropout (each pixel dropped with probability ``p``) and of DropBlock
    (:func:`dropblock_masks`, requested rate ``p``). Each dropped pixel is estimated by the
    mean of its kept 3×3 neighbours (by the mean of all kept pixels if it has none).

    Returns per-sample arrays (samples,) ``"pixel_error"``/``"block_error"`` (mean squared
    recovery error over the dropped pixels, in ``[0, 4]``: the map lies in [-1, 1]),
    ``"pixel_isolated"``/``"block_isolated"`` (fraction of dropped pixels without a kept
    neighbour), ``"pixel_dropped"``/``"block_dropped"`` (fraction of pixels dropped) and
    ``"image"`` the map. ``size`` in ``[3, 512]``; ``block_size`` in ``[1, size]``; ``p`` in
    [0, 1); ``samples`` with ``samples * size**2 * 20`` at most ``MAX_WORK``; ``seed`` >= 0.
    """
    size = _limit(_int(size, "size", 3), "size", 512)
    samples = _int(samples, "samples", 1)
    _work(samples * size * size * 20, "samples")
    _, _, bs, p = _dropblock_args(size, size, block_size, p)
    seed = _seed(seed)
    rng = np.random.default_rng(seed)
    img = _smooth_image(size, rng)
    pix = rng.random((samples, size, size)) >= p
    blk = dropblock_masks(size, size, bs, p, samples, int(rng.integers(0, 2**63)))
    pe, pi = _recovery_errors(img, pix)
    be, bi = _recovery_errors(img, blk)
    return {
        "pixel_error": pe,
        "block_error": be,
        "pixel_isolated": pi,
        "block_isolated": bi,
        "pixel_dropped": 1.0 - pix.mean(axis=(1, 2)),
        "block_dropped": 1.0 - blk.mean(axis=(1, 2)),
        "image": img,
    }


# 002 Q7: the optimal dropout rate ---------------------------------------------------------


def optimal_dropout_rate(
    n: int = 100,
    d: int = 20,
    noise: float = 1.0,
    signal: float = 1.0,
    grid_size: int = 39,
    trials: int = 200,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""Monte-Carlo risk of the dropout estimator over a grid of drop rates.

    Model: :math:`y = X\beta + \varepsilon`, orthogonal design :math:`X^\top X = nI_d`
    (:math:`X = \sqrt n\,Q`, :math:`Q` the orthonormal factor of a Gaussian :math:`n\times d`
    matrix, fixed per call), prior :math:`\beta\sim\mathcal N(0, (\alpha^2/d)I)`
    (:math:`\alpha` = ``signal``), noise :math:`\mathcal N(0, \sigma^2)` (:math:`\sigma` =
    ``noise``). The dropout estimator (expected-loss minimiser, :func:`dropout_ridge`) is the
    ridge with :math:`\lambda = np/(1-p)`, here :math:`w = q\hat\beta_{\rm OLS}`; its risk
    :math:`\mathbb E\|w - \beta\|^2 = p^2\alpha^2 + q^2\sigma^2d/n` is minimal at

    .. math:: p^* = \frac{\sigma^2 d}{\sigma^2 d + n\alpha^2},

    (the Bayes ridge :math:`\lambda = \sigma^2d/\alpha^2`): bounded in (0, 1), increasing in
    :math:`d/n`. When :math:`d > n` no orthogonal design exists; the call then uses the
    equivalent Gaussian sequence model :math:`\hat\beta_{\rm OLS} = \beta + \mathcal N(0,
    \sigma^2/n\,I_d)` (the sufficient statistic of the orthogonal design) and :math:`w =
    q\hat\beta_{\rm OLS}`. Per grid point :math:`\sum_{\rm trials}\|w - \beta\|^2/s^2(p)` is
    exactly :math:`\chi^2_{d\cdot\text{trials}}`, :math:`s^2 = p^2\alpha^2/d + q^2\sigma^2/n`.

    Grid :math:`p_k = k/(\text{grid\_size} + 1)`, :math:`k = 1..\text{grid\_size}`. Returns
    ``"p"``, ``"risk"`` (measured, mean over trials), ``"risk_exact"``, ``"p_star"``,
    ``"p_hat"`` (grid argmin of the measured risk), ``"dof"`` (:math:`d\cdot` trials) and
    ``"design"`` (1 = orthogonal design, 0 = sequence model). ``noise``, ``signal`` in
    [1e-6, 1e6]. ``n``, ``d`` in ``[1, 10**4]``
    with ``n*d`` at most ``2**20``; ``grid_size`` in ``[1, 999]``; ``trials`` in ``[1, 10**4]``;
    ``trials*n*d + grid_size*d**2*(d + trials)`` (design) or ``trials*grid_size*d``
    (sequence model) at most ``MAX_WORK``.
    """
    n = _limit(_int(n, "n", 1), "n", 10**4)
    d = _limit(_int(d, "d", 1), "d", 10**4)
    if n * d > 2**20:
        raise ValueError(f"n * d must be at most 2**20, got n={n}, d={d}")
    sigma = _real(noise, "noise", 1e-6, 1e6, False, False)
    alpha = _real(signal, "signal", 1e-6, 1e6, False, False)
    grid_size = _limit(_int(grid_size, "grid_size", 1), "grid_size", 999)
    trials = _limit(_int(trials, "trials", 1), "trials", 10**4)
    design = n >= d
    if design:
        _work(trials * n * d + grid_size * d * d * (d + trials), "n, d, grid_size, trials")
    else:
        _work(trials * grid_size * d, "n, d, grid_size, trials")
    rng = np.random.default_rng(_seed(seed))
    ps = np.arange(1, grid_size + 1) / (grid_size + 1)
    beta = rng.standard_normal((trials, d)) * alpha / math.sqrt(d)
    if design:
        qmat, _ = np.linalg.qr(rng.standard_normal((n, d)))
        x = math.sqrt(n) * qmat
        y = beta @ x.T + sigma * rng.standard_normal((trials, n))
        # dropout_ridge for every p and trial at once: (G + (p/q) diag G) w = X^T y
        gram = x.T @ x
        a = gram[None] + (ps / (1 - ps))[:, None, None] * np.diag(np.diag(gram))[None]
        w = np.linalg.solve(a, np.broadcast_to((y @ x).T, (grid_size, d, trials)))
        w = np.swapaxes(w, 1, 2)  # (grid, trials, d)
    else:
        ols = beta + sigma / math.sqrt(n) * rng.standard_normal((trials, d))
        w = (1 - ps)[:, None, None] * ols[None]
    risk = ((w - beta[None]) ** 2).sum(axis=2).sum(axis=1)
    risk /= trials
    exact = ps**2 * alpha**2 + (1 - ps) ** 2 * sigma**2 * d / n
    return {
        "p": ps,
        "risk": risk,
        "risk_exact": exact,
        "p_star": np.array(sigma**2 * d / (sigma**2 * d + n * alpha**2)),
        "p_hat": np.array(float(ps[int(np.argmin(risk))])),
        "dof": np.array(d * trials),
        "design": np.array(int(design)),
    }


def optimal_rate_figure(n: int = 50, trials: int = 100, seed: int = 0) -> bytes:
    r"""PNG: left, the measured risk of the dropout estimator against the drop rate for
    :math:`d/n \in \{0.1, 0.3, 1, 3\}` with :math:`p^*` marked (:func:`optimal_dropout_rate`,
    :math:`\sigma = \alpha = 1`); right, :math:`p^*` and the measured argmin against
    :math:`d/n` (log axis) next to the least-squares fit :math:`c\log(d/n)` that 002's Q7
    answer proposes (negative for :math:`d < n`, above 1 for large :math:`d/n`). ``n`` in
    ``[10, 60]``; ``trials`` in ``[1, 200]``; ``seed`` in ``[0, MAX_SEED]``."""
    n = _limit(_int(n, "n", 10), "n", 60)
    trials = _limit(_int(trials, "trials", 1), "trials", 200)
    ratios = (0.1, 0.3, 1.0, 3.0)
    runs = [optimal_dropout_rate(n, max(1, round(r * n)), 1.0, 1.0, 39, trials, seed)
            for r in ratios]  # fmt: skip
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for r, run, color in zip(ratios, runs, ("C0", "C1", "C2", "C3"), strict=True):
        axes[0].plot(run["p"], run["risk"], "-", color=color, label=f"d/n = {r:g}")
        axes[0].plot(run["p"], run["risk_exact"], ":", color=color, lw=1)
        axes[0].axvline(float(run["p_star"]), color=color, lw=0.8, ls="--")
    axes[0].set_xlabel("drop probability p")
    axes[0].set_ylabel(r"risk $E\|w - \beta\|^2$")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    axes[0].set_title("measured (solid), exact (dotted), p* (dashed)", fontsize=9)
    grid = np.logspace(-2, 2, 60)
    pstar = grid / (grid + 1)
    c = float(np.sum(pstar * np.log(grid)) / np.sum(np.log(grid) ** 2))
    axes[1].semilogx(
        grid, pstar, "-", color="k", label=r"$p^* = \sigma^2d/(\sigma^2d + n\alpha^2)$"
    )
    axes[1].semilogx(ratios, [float(r["p_hat"]) for r in runs], "o", color="C3",
                     label="measured argmin")  # fmt: skip
    axes[1].semilogx(grid, c * np.log(grid), "--", color="C7",
                     label=f"best fit c·log(d/n), c = {c:.2f}")  # fmt: skip
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_xlabel("d / n")
    axes[1].set_ylabel("optimal drop rate")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
