r"""Optimizer steps and tiny trainers in NumPy float64, with ``torch.optim``'s argument names
and conventions, as pure functions on arrays (issue 14 §2).

**State.** Every step takes ``state`` (a ``dict``, ``{}`` before the first step) and returns
``(params, state)`` with *new* arrays and a *new* dict; nothing passed in is modified. The keys
are torch's (``momentum_buffer``; ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``).

**Conventions** (they change what λ means, so every function states them):

* 002 writes the L2 penalty as :math:`\frac\lambda2\|\theta\|^2`, gradient :math:`\lambda\theta`.
  torch's ``weight_decay`` in :class:`torch.optim.SGD` and :class:`torch.optim.Adam` adds
  ``weight_decay * θ`` to the gradient (*coupled* L2): it is 002's penalty with
  :math:`\lambda =` ``weight_decay``. Plain SGD then gives
  :math:`\theta \leftarrow (1-\eta\lambda)\theta - \eta\nabla L`.
* :class:`torch.optim.AdamW` (and :func:`sgdw_step`) decay *decoupled* from the gradient and
  **lr-multiplied**: :math:`\theta \leftarrow (1-\eta\,\mathrm{wd})\theta` before the step
  (Loshchilov & Hutter 2019 write :math:`\theta \leftarrow \theta - \eta_t\lambda\theta` with a
  schedule multiplier :math:`\eta_t`; torch uses ``lr`` itself). For plain SGD, coupled and
  decoupled decay coincide with the same ``weight_decay``; with momentum or Adam they differ.
* The L1 penalty is :math:`\lambda\|\theta\|_1`; its subdifferential at :math:`\theta_j = 0` is
  :math:`[-\lambda, \lambda]`, and :func:`l1_subgradient_step` picks ``λ·sign(θ)`` with
  ``sign(0) = 0`` (``np.sign``, as ``torch.sign``).
* Losses (:func:`loss_and_grad`): linear regression
  :math:`\frac{1}{2}\sum_i (x_i^\top\theta - y_i)^2` (``reduction='sum'``) or the same divided
  by :math:`N` (``'mean'``, the default, torch's ``MSELoss`` convention up to the ½); logistic
  regression with labels :math:`y_i\in\{0,1\}`: :math:`\sum_i \mathrm{softplus}(x_i^\top\theta)
  - y_i x_i^\top\theta` (or its mean). λ multiplies the penalty *as given*, so with a mean loss
  the same λ is N times stronger than with a summed one.
* Minibatches (:func:`minibatch_indices`) are drawn by a ``numpy.random.Generator``, with
  replacement (``generator.integers(0, N, B)``) or without (``generator.choice(N, B,
  replace=False)``); the minibatch gradient is the mean of the B per-example gradients (mean
  loss), an unbiased estimate of the full mean gradient with covariance :math:`\Sigma/B` (with
  replacement) or :math:`\frac{\Sigma}{B}\frac{N-B}{N-1}` (without), Σ the population
  covariance of the per-example gradients.

References: PyTorch documentation, ``torch.optim.SGD``, ``torch.optim.Adam``,
``torch.optim.AdamW`` (2.13; the algorithms in their docstrings); D. P. Kingma, J. Ba (2015),
*Adam: A Method for Stochastic Optimization*, ICLR; I. Loshchilov, F. Hutter (2019), *Decoupled
Weight Decay Regularization*, ICLR (SGDW, AdamW); A. Beck, M. Teboulle (2009), *A Fast
Iterative Shrinkage-Thresholding Algorithm for Linear Inverse Problems*, SIAM J. Imaging Sci.
2(1) (ISTA, soft threshold). Document: ``002_532ac369c9b692e7.txt`` § Regularization Techniques
Theory.

Work is bounded: parameter arrays and ``X`` have at most ``kernels.cpu._check.MAX_ELEMENTS``
(2**27) elements, and :func:`run` does at most ``steps * (N * d)`` ≤ MAX_ELEMENTS · 16
multiply-adds in total and at most ``MAX_STEPS`` = 10**5 steps (``ValueError`` naming
``steps`` otherwise).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.cpu._check import MAX_ELEMENTS, array, bounded, flag, integer, real_number

__all__ = [
    "adam_step",
    "adamw_step",
    "ista_step",
    "l1_subgradient_step",
    "loss_and_grad",
    "minibatch_indices",
    "per_example_gradients",
    "run",
    "sgd_step",
    "sgdw_step",
    "soft_threshold",
]

MAX_WORK = MAX_ELEMENTS * 16
"""Largest total work of :func:`run` (``steps * N * d`` multiply-adds)."""

MAX_STEPS = 10**5
"""Most iterations of :func:`run` (each costs a Python-level step)."""

RANKS = (0, 1, 2, 3, 4)
"""Allowed ranks of parameter arrays."""

_OVERFLOW = "lr, weight_decay, momentum, dampening, lam, params or grads"


def _finite_result(out: np.ndarray, names: str = _OVERFLOW) -> np.ndarray:
    """Refuse a step whose result overflowed (e.g. lr = 1e308), naming the arguments."""
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the step overflowed to a non-finite value: {names} too large")
    return out


# argument checks ---------------------------------------------------------------------------


def _nonneg(value: object, name: str) -> float:
    v = real_number(value, name)
    if v < 0:
        raise ValueError(f"{name} must be a finite real number >= 0, got {value!r}")
    return v


def _unit(value: object, name: str) -> float:
    v = real_number(value, name)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must be a real number in [0, 1), got {value!r}")
    return v


def _params(params: object, grads: object) -> tuple[np.ndarray, np.ndarray]:
    p = array(params, "params", RANKS)
    bounded(p.size, "the parameter array", "params")
    g = array(grads, "grads", RANKS)
    if g.shape != p.shape:
        raise ValueError(f"grads must have the shape of params {p.shape}, got {g.shape}")
    p64, g64 = p.astype(np.float64), g.astype(np.float64)
    if not (np.all(np.isfinite(p64)) and np.all(np.isfinite(g64))):
        raise ValueError("params and grads must be finite (no NaN or inf)")
    return p64, g64


def _state(state: object, shape: tuple[int, ...], keys: tuple[str, ...]) -> dict:
    if type(state) is not dict:
        raise TypeError(f"state must be a dict ({{}} before the first step), got {state!r}")
    out = {}
    for k, v in state.items():
        if k not in keys:
            raise ValueError(f"state has an unknown key {k!r}; allowed keys: {keys}")
        if k == "step":
            out[k] = integer(v, "state['step']", 1)
            continue
        if v is None:
            out[k] = None
            continue
        a = array(v, f"state[{k!r}]", RANKS)
        if a.shape != shape:
            raise ValueError(f"state[{k!r}] must have the shape of params {shape}, got {a.shape}")
        out[k] = a.astype(np.float64)
    return out


def _betas(betas: object) -> tuple[float, float]:
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2) in [0, 1), got {betas!r}")
    return _unit(betas[0], "betas[0]"), _unit(betas[1], "betas[1]")


# elementwise operators ---------------------------------------------------------------------


def soft_threshold(x: np.ndarray, t: float) -> np.ndarray:
    r"""The soft threshold :math:`S_t(x) = \operatorname{sign}(x)\max(|x| - t, 0)`, the
    proximal operator of :math:`t\|\cdot\|_1` (Beck & Teboulle 2009, eq. 1.5): exact zeros for
    :math:`|x| \le t`. ``t >= 0`` (``ValueError`` naming ``t``). Returns float64.

    It is also the 1-D lasso solution: :math:`\arg\min_\theta \frac12(\theta - z)^2 +
    t|\theta| = S_t(z)`, and for an orthogonal design :math:`X^\top X = I` the lasso
    :math:`\frac12\|y - X\theta\|^2 + \lambda\|\theta\|_1` is solved by
    :math:`S_\lambda(X^\top y)` coordinate-wise.
    """
    a = array(x, "x", RANKS).astype(np.float64)
    bounded(a.size, "the input", "x")
    tt = _nonneg(t, "t")
    return np.sign(a) * np.maximum(np.abs(a) - tt, 0.0)


def l1_subgradient_step(params: np.ndarray, grads: np.ndarray, lr: float, lam: float) -> np.ndarray:
    r"""One subgradient step on :math:`L(\theta) + \lambda\|\theta\|_1`:
    :math:`\theta \leftarrow \theta - \eta(\nabla L + \lambda\operatorname{sign}\theta)` with
    ``sign(0) = 0`` (one element of the subdifferential :math:`[-\lambda, \lambda]`, torch's
    ``torch.sign`` convention). It does not produce exact zeros: near a lasso solution at 0 the
    iterate oscillates with amplitude of order :math:`\eta\lambda`. ``lr, lam >= 0``.
    """
    p, g = _params(params, grads)
    eta, lm = _nonneg(lr, "lr"), _nonneg(lam, "lam")
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_result(p - eta * (g + lm * np.sign(p)), "lr, lam, params or grads")


def ista_step(params: np.ndarray, grads: np.ndarray, lr: float, lam: float) -> np.ndarray:
    r"""One proximal-gradient (ISTA) step on :math:`L(\theta) + \lambda\|\theta\|_1`
    (Beck & Teboulle 2009, eq. 1.4): :math:`\theta \leftarrow S_{\eta\lambda}(\theta -
    \eta\nabla L)` with the soft threshold :func:`soft_threshold`; converges for
    :math:`\eta \le 1/L` (L the Lipschitz constant of :math:`\nabla L`) and produces exact
    zeros. ``lr, lam >= 0``.
    """
    p, g = _params(params, grads)
    eta, lm = _nonneg(lr, "lr"), _nonneg(lam, "lam")
    with np.errstate(over="ignore", invalid="ignore"):
        z = _finite_result(p - eta * g, "lr, params or grads")
        return np.sign(z) * np.maximum(np.abs(z) - eta * lm, 0.0)


# optimizer steps (torch.optim's algorithms) --------------------------------------------------


def _momentum(g, state, momentum, dampening, nesterov):
    buf = state.get("momentum_buffer")
    if momentum == 0.0:
        return g, {}
    buf = g.copy() if buf is None else momentum * buf + (1.0 - dampening) * g
    d = g + momentum * buf if nesterov else buf
    return d, {"momentum_buffer": buf}


def _sgd_args(params, grads, state, lr, momentum, dampening, weight_decay, nesterov, maximize):
    p, g = _params(params, grads)
    st = _state(state, p.shape, ("momentum_buffer",))
    eta = _nonneg(lr, "lr")
    mu, damp = _nonneg(momentum, "momentum"), _nonneg(dampening, "dampening")
    wd = _nonneg(weight_decay, "weight_decay")
    if flag(nesterov, "nesterov") and (mu <= 0 or damp != 0):
        raise ValueError("nesterov=True requires momentum > 0 and dampening = 0 (torch's rule)")
    if flag(maximize, "maximize"):
        g = -g
    return p, g, st, eta, mu, damp, wd


def sgd_step(
    params: np.ndarray,
    grads: np.ndarray,
    state: dict,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> tuple[np.ndarray, dict]:
    r"""One step of :class:`torch.optim.SGD` (its documented algorithm):

    .. math:: g \leftarrow \pm\nabla L + \mathrm{wd}\,\theta,\quad
              b \leftarrow \mu b + (1-\tau) g\ (b = g \text{ at the first step}),\quad
              d = g + \mu b\ (\text{nesterov})\ \text{or}\ b,\quad
              \theta \leftarrow \theta - \eta d.

    ``weight_decay`` is *coupled* L2: 002's :math:`\frac\lambda2\|\theta\|^2` with
    :math:`\lambda = \mathrm{wd}`; without momentum the step is exactly
    :math:`(1-\eta\lambda)\theta - \eta\nabla L`. ``lr, momentum, dampening, weight_decay >= 0``;
    ``nesterov`` needs ``momentum > 0`` and ``dampening = 0``. Returns ``(params, state)``.
    """
    p, g, st, eta, mu, damp, wd = _sgd_args(
        params, grads, state, lr, momentum, dampening, weight_decay, nesterov, maximize
    )
    with np.errstate(over="ignore", invalid="ignore"):
        if wd != 0.0:
            g = g + wd * p
        d, st = _momentum(g, st, mu, damp, nesterov)
        return _finite_result(p - eta * d), st


def sgdw_step(
    params: np.ndarray,
    grads: np.ndarray,
    state: dict,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> tuple[np.ndarray, dict]:
    r"""SGD with *decoupled* weight decay (SGDW, Loshchilov & Hutter 2019, Alg. 1), with the
    decay lr-multiplied as torch's AdamW does: :math:`\theta \leftarrow (1-\eta\,\mathrm{wd})
    \theta`, then the momentum step of :func:`sgd_step` on the loss gradient alone (no decay
    term in the momentum buffer). Without momentum it equals :func:`sgd_step` with the same
    ``weight_decay`` (to rounding); with momentum it does not: on a strongly convex loss
    SGD (coupled) converges to the minimizer of :math:`L + \frac{\mathrm{wd}}2\|\theta\|^2`,
    SGDW with momentum :math:`\mu` (dampening 0) to that of
    :math:`L + \frac{\mathrm{wd}(1-\mu)}2\|\theta\|^2` (the fixed point of
    :math:`b = \mu b + \nabla L`, :math:`\theta = (1-\eta\,\mathrm{wd})\theta - \eta b`).
    Same arguments as :func:`sgd_step`.
    """
    p, g, st, eta, mu, damp, wd = _sgd_args(
        params, grads, state, lr, momentum, dampening, weight_decay, nesterov, maximize
    )
    with np.errstate(over="ignore", invalid="ignore"):
        p = p * (1.0 - eta * wd)
        d, st = _momentum(g, st, mu, damp, nesterov)
        return _finite_result(p - eta * d), st


def _adam(params, grads, state, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    p, g = _params(params, grads)
    keys = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    st = _state(state, p.shape, keys)
    eta, wd = _nonneg(lr, "lr"), _nonneg(weight_decay, "weight_decay")
    b1, b2 = _betas(betas)
    e = _nonneg(eps, "eps")
    ams = flag(amsgrad, "amsgrad")
    if flag(maximize, "maximize"):
        g = -g
    step = st.get("step", 0) + 1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _adam_update(p, g, st, step, eta, wd, b1, b2, e, ams, decoupled)


def _adam_update(p, g, st, step, eta, wd, b1, b2, e, ams, decoupled):
    if decoupled:
        p = p * (1.0 - eta * wd)
    elif wd != 0.0:
        g = g + wd * p
    m = st.get("exp_avg")
    v = st.get("exp_avg_sq")
    m = np.zeros_like(p) if m is None else m
    v = np.zeros_like(p) if v is None else v
    w = 1.0 - b1  # torch: exp_avg.lerp_(grad, w), with lerp's two formulas
    m = m + w * (g - m) if w < 0.5 else g - (g - m) * (1.0 - w)
    v = b2 * v + (1.0 - b2) * (g * g)
    bc1 = 1.0 - b1**step
    bc2_sqrt = math.sqrt(1.0 - b2**step)
    new = {"step": step, "exp_avg": m, "exp_avg_sq": v}
    if ams:
        vmax = st.get("max_exp_avg_sq")
        vmax = v if vmax is None else np.maximum(vmax, v)
        new["max_exp_avg_sq"] = vmax
        denom = np.sqrt(vmax) / bc2_sqrt + e
    else:
        denom = np.sqrt(v) / bc2_sqrt + e
    if np.any(denom == 0):
        raise ValueError("eps must be > 0 where the second moment is 0 (division by zero)")
    names = "lr, weight_decay, eps, params or grads"
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):  # the state must stay usable too
        if key in new:  # (found by the fuzz: weight_decay = 1e308 overflowed v = g^2 only)
            _finite_result(new[key], names)
    return _finite_result(p - (eta / bc1) * (m / denom), names), new


def adam_step(
    params: np.ndarray,
    grads: np.ndarray,
    state: dict,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
) -> tuple[np.ndarray, dict]:
    r"""One step of :class:`torch.optim.Adam` (Kingma & Ba 2015, torch's algorithm):

    .. math:: g \leftarrow \pm\nabla L + \mathrm{wd}\,\theta,\ m \leftarrow \beta_1 m +
              (1-\beta_1)g,\ v \leftarrow \beta_2 v + (1-\beta_2)g^2,\
              \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,
              \frac{m}{\sqrt{\hat v}/\sqrt{1-\beta_2^t} + \epsilon}

    (:math:`\hat v = v`, or its running maximum with ``amsgrad``). ``weight_decay`` is coupled
    L2 (002's λ/2‖θ‖² with λ = wd), which Adam then rescales per coordinate — unlike
    :func:`adamw_step`. ``lr, eps, weight_decay >= 0``, ``betas`` in [0, 1)².
    """
    return _adam(params, grads, state, lr, betas, eps, weight_decay, amsgrad, maximize, False)


def adamw_step(
    params: np.ndarray,
    grads: np.ndarray,
    state: dict,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> tuple[np.ndarray, dict]:
    r"""One step of :class:`torch.optim.AdamW` (Loshchilov & Hutter 2019, Alg. 2, torch's
    form): :math:`\theta \leftarrow (1-\eta\,\mathrm{wd})\theta` (decoupled, **lr-multiplied**)
    then the Adam step of :func:`adam_step` on the loss gradient alone. torch's default
    ``weight_decay=1e-2``. Its fixed point satisfies :math:`\nabla_j L/(|\nabla_j L| +
    \epsilon) \approx -\mathrm{wd}\,\theta_j` (stationary moments), so for
    :math:`\mathrm{wd}|\theta_j| < 1` it sits next to the *unregularized* minimizer — not at
    the minimizer of :math:`L + \frac{\mathrm{wd}}2\|\theta\|^2` that coupled Adam reaches.
    Arguments as :func:`adam_step`.
    """
    return _adam(params, grads, state, lr, betas, eps, weight_decay, amsgrad, maximize, True)


# losses, per-example gradients, minibatches ---------------------------------------------------


def _data(theta, X, y, model, tname="theta"):
    if model not in ("linear", "logistic"):
        raise ValueError(f"model must be 'linear' or 'logistic', got {model!r}")
    x = array(X, "X", 2)
    bounded(x.size, "the design matrix", "X")
    t = array(theta, tname, 1)
    yy = array(y, "y", 1)
    n, d = x.shape
    if t.shape != (d,):
        raise ValueError(f"{tname} must have shape ({d},) (X's columns), got {t.shape}")
    if yy.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (X's rows), got {yy.shape}")
    arrs = [a.astype(np.float64) for a in (t, x, yy)]
    if not all(np.all(np.isfinite(a)) for a in arrs):
        raise ValueError(f"{tname}, X and y must be finite (no NaN or inf)")
    if model == "logistic" and not np.all((arrs[2] == 0) | (arrs[2] == 1)):
        raise ValueError("y must hold labels 0 or 1 for model='logistic'")
    return arrs


def _residual(t, x, yy, model):
    z = x @ t
    if model == "linear":
        return z - yy, 0.5 * (z - yy) ** 2
    e = np.exp(-np.abs(z))  # in (0, 1]: no overflow
    prob = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    softplus = np.maximum(z, 0.0) + np.log1p(e)
    return prob - yy, softplus - yy * z


def per_example_gradients(
    theta: np.ndarray, X: np.ndarray, y: np.ndarray, model: str = "linear"
) -> np.ndarray:
    r"""The ``(N, d)`` per-example gradients :math:`\nabla_\theta \ell_i`:
    :math:`(x_i^\top\theta - y_i)x_i` (linear, :math:`\ell_i = \frac12(x_i^\top\theta-y_i)^2`)
    or :math:`(\sigma(x_i^\top\theta) - y_i)x_i` (logistic, labels 0/1). Their mean is the
    gradient of the mean loss, their sum that of the summed loss."""
    t, x, yy = _data(theta, X, y, model)
    r, _ = _residual(t, x, yy, model)
    return r[:, None] * x


def loss_and_grad(
    theta: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    model: str = "linear",
    reduction: str = "mean",
) -> tuple[float, np.ndarray]:
    r"""Loss and gradient of linear (:math:`\frac12(x_i^\top\theta - y_i)^2`) or logistic
    (:math:`\mathrm{softplus}(x_i^\top\theta) - y_i x_i^\top\theta`, labels 0/1) regression,
    summed over the N examples (``reduction='sum'``) or averaged (``'mean'``). No penalty.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    t, x, yy = _data(theta, X, y, model)
    r, losses = _residual(t, x, yy, model)
    scale = 1.0 / x.shape[0] if reduction == "mean" else 1.0
    return float(scale * losses.sum()), scale * (x.T @ r)


def minibatch_indices(
    n: int, batch_size: int, generator: np.random.Generator, replace: bool = False
) -> np.ndarray:
    r"""``batch_size`` example indices in ``range(n)``: i.i.d. uniform
    (``generator.integers(0, n, batch_size)``, ``replace=True``) or a uniformly random subset
    (``generator.choice(n, batch_size, replace=False)``). ``1 <= batch_size``, and
    ``batch_size <= n`` without replacement; ``n <= MAX_ELEMENTS``."""
    nn = integer(n, "n", 1)
    bounded(nn, "the index range", "n")
    b = integer(batch_size, "batch_size", 1)
    bounded(b, "the minibatch", "batch_size")
    rep = flag(replace, "replace")
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator)}")
    if not rep and b > nn:
        raise ValueError(f"batch_size must be <= n ({nn}) without replacement, got {b}")
    if rep:
        return generator.integers(0, nn, b)
    return generator.choice(nn, b, replace=False)


def run(
    X: np.ndarray,
    y: np.ndarray,
    theta0: np.ndarray,
    *,
    lr: float,
    steps: int,
    model: str = "linear",
    algorithm: str = "gd",
    penalty: str | None = None,
    lam: float = 0.0,
    reduction: str = "mean",
    batch_size: int | None = None,
    replace: bool = False,
    generator: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Train linear or logistic regression; return ``(theta, objective)`` with the final
    parameters and the *full-data* training objective :math:`F(\theta_k) = L(\theta_k) +
    R(\theta_k)` at each of the ``steps + 1`` iterates.

    Penalty :math:`R`: ``None``; ``'l2'`` = :math:`\frac\lambda2\|\theta\|^2` (002's form,
    gradient :math:`\lambda\theta`); ``'l1'`` = :math:`\lambda\|\theta\|_1`. Algorithms:

    * ``'gd'`` — :math:`\theta \leftarrow \theta - \eta(\nabla L + \nabla R)` (penalty
      ``None``/``'l2'``); on a quadratic :math:`F` with Hessian eigenvalues
      :math:`\lambda_{\max}` it decreases monotonically iff :math:`\eta < 2/\lambda_{\max}`.
    * ``'sgd'`` — the same with the minibatch gradient (``batch_size`` required, indices by
      :func:`minibatch_indices` from ``generator``); its objective is not monotone.
    * ``'ista'`` — :func:`ista_step` (penalty ``'l1'``).
    * ``'subgradient'`` — :func:`l1_subgradient_step` (penalty ``'l1'``).

    ``'ista'``/``'subgradient'`` use minibatches too when ``batch_size`` is given. ``lr, lam
    >= 0``; ``steps >= 0`` with ``steps * N * d <= MAX_WORK`` (= 16 · 2**27).
    """
    if algorithm not in ("gd", "sgd", "ista", "subgradient"):
        raise ValueError(
            f"algorithm must be 'gd', 'sgd', 'ista' or 'subgradient', got {algorithm!r}"
        )
    if penalty not in (None, "l1", "l2"):
        raise ValueError(f"penalty must be None, 'l1' or 'l2', got {penalty!r}")
    if algorithm in ("ista", "subgradient") and penalty != "l1":
        raise ValueError(f"penalty must be 'l1' for algorithm={algorithm!r}, got {penalty!r}")
    if algorithm in ("gd", "sgd") and penalty == "l1":
        raise ValueError("penalty='l1' needs algorithm='ista' or 'subgradient'")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    t, x, yy = _data(theta0, X, y, model, "theta0")
    eta, lm = _nonneg(lr, "lr"), _nonneg(lam, "lam")
    k = integer(steps, "steps", 0)
    rep = flag(replace, "replace")
    n, d = x.shape
    if k > MAX_STEPS or k * n * d > MAX_WORK:
        raise ValueError(
            f"steps must be <= MAX_STEPS = {MAX_STEPS} with steps*N*d <= MAX_WORK = "
            f"{MAX_WORK}, got steps={k} (N={n}, d={d})"
        )
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator)}")
    if batch_size is None:
        if algorithm == "sgd":
            raise ValueError("batch_size must be an integer >= 1 for algorithm='sgd', got None")
        b = None
    else:
        b = integer(batch_size, "batch_size", 1)
        if not rep and b > n:
            raise ValueError(f"batch_size must be <= N ({n}) without replacement, got {b}")
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator)}")

    def objective(theta):
        loss, _ = loss_and_grad(theta, x, yy, model, reduction)
        if penalty == "l2":
            loss += 0.5 * lm * float(theta @ theta)
        elif penalty == "l1":
            loss += lm * float(np.abs(theta).sum())
        return loss

    def check():
        if not (np.all(np.isfinite(t)) and math.isfinite(obj[-1])):
            raise ValueError(
                f"lr, lam, theta0: the iterates or the objective overflowed (diverged) at "
                f"lr={eta}, lam={lm}; lower them"
            )

    with np.errstate(over="ignore", invalid="ignore"):
        obj = [objective(t)]
        check()
        for _ in range(k):
            t = _run_step(
                t,
                x,
                yy,
                model,
                algorithm,
                penalty,
                lm,
                eta,
                reduction,
                n,
                batch_size,
                generator,
                rep,
            )
            obj.append(objective(t) if np.all(np.isfinite(t)) else math.inf)
            check()
    return t, np.asarray(obj)


def _run_step(t, x, yy, model, algorithm, penalty, lm, eta, reduction, n, b, generator, rep):
    """One iteration of :func:`run` (arguments already checked)."""
    if b is None:
        _, g = loss_and_grad(t, x, yy, model, reduction)
    else:
        idx = minibatch_indices(n, b, generator, rep)
        _, g = loss_and_grad(t, x[idx], yy[idx], model, "mean")
        if reduction == "sum":
            g = n * g
    if not np.all(np.isfinite(g)):
        return g
    if algorithm == "ista":
        return ista_step(t, g, eta, lm)
    if algorithm == "subgradient":
        return l1_subgradient_step(t, g, eta, lm)
    if penalty == "l2":
        g = g + lm * t
    return t - eta * g
