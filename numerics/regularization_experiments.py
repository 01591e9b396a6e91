r"""Regularization and training dynamics measured (issue 14 §2-4; the independent numeric side
of :mod:`theory.regularization`, written with its own small float64 NumPy loops).

Conventions (named in every function).

* **Fixed design, mean loss.** A design :math:`X\in\mathbb R^{n\times d}` is drawn once with
  :math:`X^\top X/n = \mathrm{diag}(s)` *exactly* (:func:`design`), so the coordinate axes are
  the eigen-directions and :math:`s` are the eigenvalues of the Hessian of the **mean** loss
  :math:`L(\theta) = \frac1{2n}\|y - X\theta\|^2`. Labels :math:`y = X\beta + \varepsilon`,
  :math:`\varepsilon\sim\mathcal N(0, \sigma^2 I)` (``noise`` is the standard deviation
  :math:`\sigma`; :math:`\mathcal N(\mu, \sigma^2)` has *variance* :math:`\sigma^2`).
* **Test error** is in-sample: the same design with fresh label noise,
  :math:`\frac1n\|X\beta + \varepsilon' - X\hat\theta\|^2`; its expectation over
  :math:`\varepsilon'` is :math:`\sum_i s_i(\hat\theta_i - \beta_i)^2 + \sigma^2`.
* **GD** from :math:`\theta_0 = 0` with step :math:`\eta` on the mean loss:
  :math:`\hat\theta_{t,i} = (1 - (1 - \eta s_i)^t)\,(\beta_i + z_i)`,
  :math:`z_i\sim\mathcal N(0, \sigma^2/(n s_i))`. Hence per direction
  :math:`\mathrm{bias}^2_i = s_i(1-\eta s_i)^{2t}\beta_i^2` and
  :math:`\mathrm{var}_i = (1 - (1-\eta s_i)^t)^2\sigma^2/n` (:func:`gd_bias_variance`).
* **Ridge** with the mean loss and the :math:`\frac\lambda2\|\theta\|^2` penalty:
  :math:`\hat\theta = (X^\top X/n + \lambda)^{-1}X^\top y/n`, spectral filter
  :math:`s_i/(s_i + \lambda)`; with the **summed** loss :math:`\frac12\|y - X\theta\|^2` the same
  estimator has :math:`\lambda_{\text{sum}} = n\lambda`.

Sources: Ali, Kolter & Tibshirani 2019 (*A Continuous-Time View of Early Stopping for Least
Squares*, AISTATS: risk(GD, t) ≤ 1.6862 · risk(ridge, 1/t) for gradient flow); Hastie,
Tibshirani & Friedman, *ESL* §7.4 (optimism :math:`2\sigma^2\mathrm{df}/n`); Smith & Le 2018 and
Jastrzębski et al. 2017 (minibatch noise :math:`\Sigma/B`, finite-population factor
:math:`(N-B)/(N-1)`); Dinh, Pascanu, Bengio & Bengio 2017 (*Sharp Minima Can Generalize For Deep
Nets*, ICML, §4); Domingos 2000 (*A Unified Bias-Variance Decomposition*, ICML); Nakkiran et al.
2019 / Heckel & Yilmaz 2021 (epoch-wise double descent from spread eigenvalues).

All work is bounded before it is done (``MAX_WORK`` scalar operations, ``MAX_DIM``
directions, ``MAX_STEPS`` steps); invalid arguments raise ``TypeError``/``ValueError`` naming
the argument and what is allowed. NumPy scalars are accepted wherever Python numbers are.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from numerics.experiments import _png, _pyplot

__all__ = [
    "MAX_DIM",
    "MAX_SEED",
    "MAX_STEPS",
    "MAX_WORK",
    "TWO_MINIMA",
    "bias_variance_figure",
    "design",
    "early_stopping_vs_ridge",
    "first_increase",
    "gd_bias_variance",
    "gd_curves",
    "gradient_noise_figure",
    "local_minima",
    "minibatch_gradient_variance",
    "monte_carlo_gd",
    "monte_carlo_ridge",
    "optimal_ridge_lambda",
    "reparametrized_sharpness",
    "ridge_bias_variance",
    "validation_curves_figure",
    "validation_selection_bias",
    "zero_one_decomposition",
]

MAX_WORK = 2**26
"""Largest number of scalar operations (array elements touched) one call may do."""
MAX_DIM = 64
"""Most directions (features) of a design."""
MAX_STEPS = 10**5
"""Most GD steps."""
MAX_N = 10**5
"""Largest sample size."""
MAX_SEED = 2**63 - 1
"""Largest seed."""

TWO_MINIMA = {
    "eigenvalues": (1.0, 0.01),
    "beta": (1.0, 20.0),
    "noise": 10.0,
    "eta": 0.5,
    "n": 100,
}
"""A minimal 2-eigenvalue problem whose *expected* validation curve (GD, mean loss) has two
local minima: at :math:`t = 1` (the fast direction's U: excess risk 4.46) and at
:math:`t = 321` (1.80); "stop at the first increase" stops at :math:`t = 1`."""


# Argument checks ------------------------------------------------------------------------


def _real(value: object, name: str, lo: float, hi: float, lo_open: bool) -> float:
    allowed = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in {allowed}, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not (math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi):
        raise ValueError(f"{name} must be a real number in {allowed}, got {value!r}")
    return v


def _int(value: object, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _vector(value: object, name: str, positive: bool = False, size: int | None = None):
    """A 1-D sequence/array of finite reals (positive if asked) as float64."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | np.ndarray):
        raise TypeError(f"{name} must be a 1-D array or sequence of real numbers, got {value!r}")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiu" or value.dtype == np.bool_:
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
        arr = value
    else:
        limit = MAX_DIM if size is None else MAX_STEPS + 1
        if len(value) > limit:
            raise ValueError(f"{name} must hold at most {limit} numbers, got {len(value)}")
        for v in value:
            if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must hold real numbers, got {v!r}")
        try:
            arr = np.array([float(v) for v in value], dtype=np.float64)
        except OverflowError:
            raise ValueError(f"{name} must hold finite numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.size > MAX_DIM and size is None:
        raise ValueError(f"{name} must hold at most {MAX_DIM} numbers, got {arr.size}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers only")
    if np.abs(arr).max() > 1e6:
        raise ValueError(f"{name} must hold numbers of magnitude at most 1e6")
    if positive and not (arr > 0).all():
        raise ValueError(f"{name} must hold numbers > 0 (eigenvalues of X^T X / n)")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must hold {size} numbers (one per eigenvalue), got {arr.size}")
    return arr


def _problem(eigenvalues, beta, noise, n):
    s = _vector(eigenvalues, "eigenvalues", positive=True)
    if s.min() < 1e-6 * s.max() or s.min() < 1e-8:
        raise ValueError("eigenvalues must be >= 1e-8 and >= 1e-6 * max(eigenvalues)")
    b = _vector(beta, "beta", size=s.size)
    sig = _real(noise, "noise", 0.0, 1e3, False)
    n = _int(n, "n", s.size, MAX_N)
    return s, b, sig, n


def _work(amount: int, names: str) -> None:
    """Refuse a call that would touch more than MAX_WORK numbers, naming the arguments
    (``names``) that set its size."""
    if amount > MAX_WORK:
        raise ValueError(f"{names} too large: the call would touch {amount} numbers, more than "
                         f"MAX_WORK = {MAX_WORK}")  # fmt: skip


# The fixed design -----------------------------------------------------------------------


def design(eigenvalues: object, n: int, seed: int = 0) -> np.ndarray:
    r"""A design :math:`X` (``n`` × d, float64) with :math:`X^\top X/n = \mathrm{diag}(s)` exactly
    (to rounding): :math:`X = \sqrt n\,Q\,\mathrm{diag}(\sqrt s)`, :math:`Q` the orthonormal
    factor of a Gaussian matrix. ``eigenvalues`` (d ≤ ``MAX_DIM``, all > 0, max/min ≤ 1e6);
    ``n`` in ``[d, MAX_N]`` with ``n·d ≤ MAX_WORK``; ``seed`` in ``[0, MAX_SEED]``."""
    s = _vector(eigenvalues, "eigenvalues", positive=True)
    n = _int(n, "n", s.size, MAX_N)
    seed = _int(seed, "seed", 0, MAX_SEED)
    _work(n * s.size * 4, "n, eigenvalues")
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, s.size)))
    return math.sqrt(n) * q * np.sqrt(s)


# GD on least squares: closed form and measured --------------------------------------------


def _gd_filter(s: np.ndarray, eta: float, steps: int) -> np.ndarray:
    t = np.arange(steps + 1, dtype=np.float64)[:, None]
    return 1.0 - (1.0 - eta * s) ** t


def gd_bias_variance(
    eigenvalues: object, beta: object, noise: float, eta: float, steps: int, n: int
) -> dict[str, np.ndarray]:
    r"""Closed-form bias² and variance per direction of GD from 0 on the mean loss after
    :math:`t = 0..` ``steps`` steps (fixed design, expectation over training noise):
    ``bias2[t, i]`` :math:`= s_i(1-\eta s_i)^{2t}\beta_i^2`, ``variance[t, i]``
    :math:`= (1-(1-\eta s_i)^t)^2\sigma^2/n`, ``risk[t]`` :math:`= \sum_i(\mathrm{bias}^2_i +
    \mathrm{var}_i) + \sigma^2` (expected in-sample test error). For :math:`0 < \eta s_i < 1`
    bias² falls and variance rises monotonically; for :math:`1 < \eta s_i < 2` the variance
    oscillates (:math:`\eta s = 3/2`: factors 2.25, 0.5625, 1.27, …). ``eta`` in (0, 1e3],
    ``steps`` in ``[0, MAX_STEPS]``; ``noise`` σ in [0, 1e3]."""
    s, b, sig, n = _problem(eigenvalues, beta, noise, n)
    eta = _real(eta, "eta", 0.0, 1e3, True)
    steps = _int(steps, "steps", 0, MAX_STEPS)
    _work((steps + 1) * s.size * 4, "steps, eigenvalues")
    with np.errstate(over="ignore", invalid="ignore"):
        f = _gd_filter(s, eta, steps)
        bias2 = s * (1.0 - f) ** 2 * b**2
        var = f**2 * sig**2 / n
    if not (np.isfinite(bias2).all() and np.isfinite(var).all()):
        raise ValueError("eta too large for this many steps: the iterates overflow float64 "
                         "(eta * max(eigenvalues) > 2 diverges)")  # fmt: skip
    return {"bias2": bias2, "variance": var, "risk": bias2.sum(1) + var.sum(1) + sig**2}


def ridge_bias_variance(
    eigenvalues: object, beta: object, noise: float, lams: object, n: int
) -> dict[str, np.ndarray]:
    r"""Closed-form bias² and variance per direction of ridge (mean loss, penalty
    :math:`\frac\lambda2\|\theta\|^2`) for each λ of ``lams`` (≥ 0, ≤ 1e6, at most 4096):
    :math:`\mathrm{bias}^2_i = s_i(\lambda/(s_i+\lambda))^2\beta_i^2`,
    :math:`\mathrm{var}_i = (s_i/(s_i+\lambda))^2\sigma^2/n`; ``risk`` adds σ²; ``df``
    :math:`= \sum_i s_i/(s_i+\lambda)` and ``optimism`` :math:`= 2\sigma^2\mathrm{df}/n`
    (expected test − train error, ESL §7.4)."""
    s, b, sig, n = _problem(eigenvalues, beta, noise, n)
    lam = _vector(lams, "lams", size=None if not hasattr(lams, "__len__") else len(lams))
    if lam.size > 4096 or (lam < 0).any():
        raise ValueError("lams must hold at most 4096 values in [0, 1e6]")
    f = s / (s + lam[:, None])
    bias2 = s * (1 - f) ** 2 * b**2
    var = f**2 * sig**2 / n
    df = f.sum(1)
    return {"bias2": bias2, "variance": var, "risk": bias2.sum(1) + var.sum(1) + sig**2,
            "df": df, "optimism": 2 * sig**2 * df / n}  # fmt: skip


def _gd_run(s, eta, c, steps):
    """GD iterates on the mean loss: θ ← θ − η(Sθ − c), S = diag(s) (X^T X/n), c = X^T y/n.
    c: (trials, d). Returns (steps+1, trials, d)."""
    out = np.empty((steps + 1, *c.shape))
    th = np.zeros_like(c)
    out[0] = th
    for t in range(1, steps + 1):
        th = th - eta * (th * s - c)
        out[t] = th
    return out


def _train_test(x, s, b, sig, n, th, y_c, yy, rng):
    """Mean training loss ½‖y − Xθ‖²/n and the test error with a fresh noise vector per trial
    (drawn once per trial, independent of training): ‖X(β − θ) + ε'‖²/n, computed from
    u = X^T ε'/n ~ N(0, σ² S/n) and the orthogonal part σ²χ²_{n−d}/n."""
    trials = th.shape[-2]
    u = rng.standard_normal((trials, s.size)) * sig * np.sqrt(s / n)
    perp = sig**2 * rng.chisquare(n - s.size, trials) / n if n > s.size else np.zeros(trials)
    train = 0.5 * ((th**2 * s).sum(-1) - 2 * (th * y_c).sum(-1) + yy)
    e = b - th + u / s
    test = (s * e**2).sum(-1) + perp
    return train, test


def monte_carlo_gd(
    eigenvalues: object,
    beta: object,
    noise: float,
    eta: float,
    steps: int,
    n: int,
    trials: int,
    seed: int,
) -> dict[str, np.ndarray]:
    r"""GD run on ``trials`` training sets (fixed design :func:`design`, fresh label noise each)
    — the iteration :math:`\theta \leftarrow \theta - \eta X^\top(X\theta - y)/n` itself, not the
    filter formula. Returns per step ``mean`` (steps+1, d) and ``var`` (sample variance,
    ddof=1) of :math:`\hat\theta_i` over training sets (so bias²ᵢ = sᵢ(meanᵢ − βᵢ)², varianceᵢ =
    sᵢ varᵢ), ``train`` and ``test`` (steps+1,) the mean training loss ½‖y−Xθ‖²/n and the mean
    test error with fresh test noise per training set (see module conventions). ``trials`` in
    [2, 10**6]; ``(steps+1)·trials·d·4 ≤ MAX_WORK``."""
    s, b, sig, n = _problem(eigenvalues, beta, noise, n)
    eta = _real(eta, "eta", 0.0, 1e3, True)
    steps = _int(steps, "steps", 0, MAX_STEPS)
    trials = _int(trials, "trials", 2, 10**6)
    seed = _int(seed, "seed", 0, MAX_SEED)
    _work(
        (steps + 1) * trials * s.size * 4 + n * s.size * 4 + trials * n,
        "steps, trials, n, eigenvalues",
    )
    x = design(s, n, seed)
    rng = np.random.default_rng([seed, 1])
    y = x @ b + sig * rng.standard_normal((trials, n))
    y_c = y @ x / n
    yy = (y**2).sum(1) / n
    with np.errstate(over="ignore", invalid="ignore"):
        th = _gd_run(s, eta, y_c, steps)
        train, test = _train_test(x, s, b, sig, n, th, y_c, yy, rng)
    if not np.isfinite(th).all() or not np.isfinite(test).all():
        raise ValueError("eta too large for this many steps: the iterates overflow float64 "
                         "(eta * max(eigenvalues) > 2 diverges)")  # fmt: skip
    return {"mean": th.mean(1), "var": th.var(1, ddof=1), "train": train.mean(1),
            "test": test.mean(1)}  # fmt: skip


def monte_carlo_ridge(
    eigenvalues: object, beta: object, noise: float, lams: object, n: int, trials: int, seed: int
) -> dict[str, np.ndarray]:
    r"""Ridge (mean loss, :math:`\frac\lambda2\|\theta\|^2`) solved by ``np.linalg.solve`` of
    :math:`(X^\top X/n + \lambda I)\theta = X^\top y/n` on ``trials`` training sets; per λ of
    ``lams``: ``mean``, ``var`` (ddof=1) of :math:`\hat\theta` (len(lams), d), ``train``,
    ``test`` (mean training loss ½‖y−Xθ‖²/n and mean test error, fresh noise) and ``gap``
    (mean of test − 2·train: the optimism, whose expectation is 2σ²df/n). ``lams`` at most 64
    values in [0, 1e6]; ``trials`` in [2, 10**6]."""
    s, b, sig, n = _problem(eigenvalues, beta, noise, n)
    lam = _vector(lams, "lams", size=None if not hasattr(lams, "__len__") else len(lams))
    if lam.size > 64 or (lam < 0).any():
        raise ValueError("lams must hold at most 64 values in [0, 1e6]")
    trials = _int(trials, "trials", 2, 10**6)
    seed = _int(seed, "seed", 0, MAX_SEED)
    d = s.size
    _work(lam.size * trials * d * 8 + trials * n * (d + 2), "lams, trials, n, eigenvalues")
    x = design(s, n, seed)
    rng = np.random.default_rng([seed, 2])
    y = x @ b + sig * rng.standard_normal((trials, n))
    y_c = y @ x / n
    yy = (y**2).sum(1) / n
    gram = x.T @ x / n
    th = np.stack([np.linalg.solve(gram + lv * np.eye(d), y_c.T).T for lv in lam])
    train, test = _train_test(x, s, b, sig, n, th, y_c, yy, rng)
    return {"mean": th.mean(1), "var": th.var(1, ddof=1), "train": train.mean(1),
            "test": test.mean(1), "gap": (test - 2 * train).mean(1)}  # fmt: skip


def gd_curves(
    eigenvalues: object,
    beta: object,
    noise: float,
    eta: float,
    steps: int,
    n: int,
    n_val: int,
    seed: int,
) -> dict[str, np.ndarray]:
    r"""One GD run (mean loss, from 0) on one training set; per step :math:`t = 0..`
    ``steps``: ``train`` ½‖y − Xθ_t‖²/n, ``validation`` the mean squared error on a finite
    validation set of ``n_val`` fresh labels at design points drawn with replacement from the
    rows of :math:`X` (so its expectation given θ is the test error), ``test`` the exact
    test error of θ_t (expectation over fresh noise: Σ sᵢ(θᵢ−βᵢ)² + σ²) and ``expected``
    the closed-form expected test error over training sets (:func:`gd_bias_variance`).
    Training loss: monotone non-increasing iff every :math:`|1 - \eta s_i| \le 1`, i.e.
    :math:`\eta \le 2/s_{\max}` (the residual in direction i is multiplied by
    :math:`1-\eta s_i`); grows without bound for :math:`\eta > 2/s_{\max}` (a ValueError once
    it overflows). ``n_val`` in [1, MAX_N]."""
    s, b, sig, n = _problem(eigenvalues, beta, noise, n)
    eta = _real(eta, "eta", 0.0, 1e3, True)
    steps = _int(steps, "steps", 0, MAX_STEPS)
    n_val = _int(n_val, "n_val", 1, MAX_N)
    seed = _int(seed, "seed", 0, MAX_SEED)
    _work((steps + 1) * (n + n_val) * s.size * 2 + n * s.size * 4, "steps, n, n_val, eigenvalues")
    x = design(s, n, seed)
    rng = np.random.default_rng([seed, 3])
    y = x @ b + sig * rng.standard_normal(n)
    rows = rng.integers(0, n, n_val)
    xv = x[rows]
    yv = xv @ b + sig * rng.standard_normal(n_val)
    th = np.zeros(s.size)
    train, val, test = [], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            if t:
                th = th - eta * (x.T @ (x @ th - y)) / n
            train.append(0.5 * np.mean((y - x @ th) ** 2))
            val.append(np.mean((yv - xv @ th) ** 2))
            test.append(float((s * (th - b) ** 2).sum() + sig**2))
    out = {"train": np.array(train), "validation": np.array(val), "test": np.array(test)}
    if not all(np.isfinite(v).all() for v in out.values()):
        raise ValueError("eta too large for this many steps: the training loss overflows "
                         "float64 (eta > 2 / max(eigenvalues) diverges)")  # fmt: skip
    out["expected"] = gd_bias_variance(s, b, sig, eta, steps, n)["risk"]
    return out


def _curve(curve: object) -> np.ndarray:
    c = _vector(curve, "curve", size=None if not hasattr(curve, "__len__") else len(curve))
    if c.size > MAX_STEPS + 1:
        raise ValueError(f"curve must hold at most {MAX_STEPS + 1} values, got {c.size}")
    return c


def first_increase(curve: object) -> int:
    r"""The early-stopping rule "stop when the validation error starts increasing": the first
    index :math:`t` with ``curve[t+1] > curve[t]`` (strictly), or the last index if it never
    increases. ``curve``: 1-D finite values (at most MAX_STEPS + 1)."""
    c = _curve(curve)
    up = np.nonzero(np.diff(c) > 0)[0]
    return int(up[0]) if up.size else c.size - 1


def local_minima(curve: object) -> list[int]:
    r"""Indices :math:`t` with ``curve[t] < curve[t-1]`` and ``curve[t] <= curve[t+1]``
    (interior local minima, a plateau counted at its first point), plus the last index when
    the curve ends decreasing."""
    c = _curve(curve)
    out = [t for t in range(1, c.size - 1) if c[t] < c[t - 1] and c[t] <= c[t + 1]]
    if c.size >= 2 and c[-1] < c[-2]:
        out.append(c.size - 1)
    return out


# Early stopping vs ridge ------------------------------------------------------------------


def early_stopping_vs_ridge(
    eigenvalues: object, beta: object, noise: float, eta: float, steps: int, n: int
) -> dict[str, float | np.ndarray]:
    r"""Exact expected excess risks (σ² left out) of GD at :math:`t = 1..` ``steps`` and of
    ridge at :math:`\lambda = 1/(\eta t)` (the heuristic match; mean loss), their worst
    ``ratio`` :math:`\max_t R_{GD}(t)/R_{ridge}(1/(\eta t))` (Ali, Kolter & Tibshirani 2019:
    ≤ 1.6862 for gradient flow), ``best_gd`` :math:`\min_{t\ge0} R_{GD}` (t = 0 included),
    ``best_ridge`` :math:`\min_\lambda R_{ridge}` (golden-section on log λ over [1e-8, 1e8]
    after a 400-point grid) and ``lam_match`` (steps, d): the λ per direction with the same filter,
    :math:`\lambda_{t,i} = s_i(1-\eta s_i)^t/(1-(1-\eta s_i)^t)` — equal across directions for
    every t iff all eigenvalues are equal (then R_GD(t) = R_ridge(λ_t) exactly). Needs
    :math:`0 < \eta s_{\max} < 1` (monotone filters) and :math:`\eta s_{\min} \ge 10^{-12}`
    (else the filter rounds to 0 and the matching λ overflows)."""
    s, b, sig, n = _problem(eigenvalues, beta, noise, n)
    eta = _real(eta, "eta", 0.0, 1e3, True)
    if eta * s.max() >= 1:
        raise ValueError("eta must satisfy eta * max(eigenvalues) < 1 (monotone GD filters)")
    if eta * s.min() < 1e-12:
        raise ValueError(
            "eta must satisfy eta * min(eigenvalues) >= 1e-12: below it GD barely moves in "
            "float64 (1 - eta s rounds towards 1) and the matching lambda overflows"
        )
    steps = _int(steps, "steps", 1, MAX_STEPS)
    _work((steps + 1) * s.size * 8, "steps, eigenvalues")
    gd = gd_bias_variance(s, b, sig, eta, steps, n)
    excess = gd["bias2"].sum(1) + gd["variance"].sum(1)  # not risk - σ²: no cancellation
    r_gd = excess[1:]
    t = np.arange(1, steps + 1)

    def ridge(lam: np.ndarray) -> np.ndarray:
        f = s / (s + lam[:, None])
        return (s * (1 - f) ** 2 * b**2 + f**2 * sig**2 / n).sum(1)

    r_ridge = ridge(1.0 / (eta * t))
    grid = np.logspace(-8, 8, 400)
    rg = ridge(grid)
    k = int(np.argmin(rg))
    lo, hi = math.log(grid[max(k - 1, 0)]), math.log(grid[min(k + 1, 399)])
    g = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a, c = hi - g * (hi - lo), lo + g * (hi - lo)
        if ridge(np.exp([a]))[0] < ridge(np.exp([c]))[0]:
            hi = c
        else:
            lo = a
    best_ridge = min(float(ridge(np.exp([(lo + hi) / 2]))[0]), float(rg[k]))
    f = _gd_filter(s, eta, steps)[1:]
    with np.errstate(divide="ignore"):
        lam_match = s * (1 - f) / f
    return {"risk_gd": r_gd, "risk_ridge": r_ridge, "ratio": float((r_gd / r_ridge).max()),
            "best_gd": float(excess.min()), "best_ridge": best_ridge,
            "lam_match": lam_match}  # fmt: skip


def optimal_ridge_lambda(
    sizes: object, dim: int, noise: float, prior_sd: float, seed: int
) -> dict[str, np.ndarray]:
    r"""The λ minimizing the exact Bayes risk :math:`\mathbb E\|\hat\theta - \beta\|^2`
    (:math:`\beta\sim\mathcal N(0,\tau^2 I)`, noise :math:`\mathcal N(0,\sigma^2)`) of ridge on a
    Gaussian design of each size N in ``sizes``, found by golden-section on log λ, for the
    **summed** loss :math:`\frac12\|y-X\theta\|^2 + \frac\lambda2\|\theta\|^2` (``summed``) and
    the **mean** loss (``mean`` = summed/N). Per eigenvalue :math:`e` of :math:`X^\top X` the
    risk is :math:`(\lambda^2\tau^2 + e\sigma^2)/(e+\lambda)^2`, minimized at
    :math:`\lambda = \sigma^2/\tau^2` whatever N (MAP = posterior mean), so the summed λ* stays
    σ²/τ² and the mean-loss λ* = σ²/(Nτ²) falls like 1/N. ``sizes``: at most 16 ints in
    [dim, 10**5]; ``dim`` in [1, MAX_DIM]; ``noise``, ``prior_sd`` in (0, 1e3]."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, list | tuple | np.ndarray):
        raise TypeError(f"sizes must be a sequence of integers, got {sizes!r}")
    if not 1 <= len(sizes) <= 16:
        raise ValueError(f"sizes must hold 1 to 16 sample sizes, got {len(sizes)}")
    dim = _int(dim, "dim", 1, MAX_DIM)
    ns = [_int(v, "sizes", dim, MAX_N) for v in sizes]
    sig = _real(noise, "noise", 0.0, 1e3, True)
    tau = _real(prior_sd, "prior_sd", 0.0, 1e3, True)
    seed = _int(seed, "seed", 0, MAX_SEED)
    _work(sum(ns) * dim * 4, "sizes, dim")
    rng = np.random.default_rng(seed)
    summed = []
    for nn in ns:
        e = np.linalg.eigvalsh((x := rng.standard_normal((nn, dim))).T @ x)

        def risk(loglam: float, e: np.ndarray = e) -> float:
            lam = math.exp(loglam)
            return float(((lam**2 * tau**2 + e * sig**2) / (e + lam) ** 2).sum())

        lo, hi = math.log(1e-10), math.log(1e10)
        g = (math.sqrt(5) - 1) / 2
        for _ in range(120):
            a, c = hi - g * (hi - lo), lo + g * (hi - lo)
            if risk(a) < risk(c):
                hi = c
            else:
                lo = a
        summed.append(math.exp((lo + hi) / 2))
    summed_a = np.array(summed)
    return {"sizes": np.array(ns), "summed": summed_a, "mean": summed_a / np.array(ns)}


# Minibatch gradient noise -----------------------------------------------------------------


def minibatch_gradient_variance(
    grads: np.ndarray, batch: int, replace: bool, trials: int, seed: int
) -> dict[str, float]:
    r"""Measured :math:`\mathbb E\|\hat g_B - g\|^2` (the trace of the minibatch-gradient
    covariance) over ``trials`` minibatches of size ``batch`` drawn from the N per-example
    gradients ``grads`` (N × d) with or without replacement (``replace``), against the exact
    :math:`\mathrm{tr}\,\Sigma/B` (with replacement) and
    :math:`\mathrm{tr}\,\Sigma/B\cdot(N-B)/(N-1)` (without), :math:`\Sigma` the per-example
    covariance with divisor N. Also ``width``: the largest :math:`\|g_i - g\|^2`, which bounds
    every sample :math:`\|\hat g_B - g\|^2` (a convex combination; for Hoeffding).
    Gradient variance ∝ 1/B (no η); the update η·ĝ has covariance η²Σ/B; the SDE temperature is
    η/B (Smith & Le 2018). ``batch`` in [1, N] (≤ N without replacement); ``trials`` in
    [1, 10**7]; ``trials·(N + batch·d) ≤ MAX_WORK``."""
    if type(grads) is not np.ndarray:
        raise TypeError(f"grads must be a 2-D numpy.ndarray of floats, got {type(grads).__name__}")
    if grads.dtype.kind != "f" or grads.ndim != 2 or 0 in grads.shape:
        raise ValueError(f"grads must be a non-empty 2-D float array, got {grads.dtype} "
                         f"{grads.shape}")  # fmt: skip
    if not np.isfinite(grads).all() or np.abs(grads).max() > 1e6:
        raise ValueError("grads must hold finite numbers of magnitude at most 1e6")
    g = grads.astype(np.float64)
    big_n, d = g.shape
    replace = _flag(replace, "replace")
    batch = _int(batch, "batch", 1, big_n)
    trials = _int(trials, "trials", 1, 10**7)
    seed = _int(seed, "seed", 0, MAX_SEED)
    _work(trials * (big_n + batch * d + d) + big_n * d, "trials, batch, grads")
    rng = np.random.default_rng(seed)
    mean = g.mean(0)
    dev = g - mean
    tr = float((dev**2).sum() / big_n)
    chunk = max(1, min(trials, 2**22 // (big_n + batch * d + 1)))
    total, done = 0.0, 0
    while done < trials:
        m = min(chunk, trials - done)
        if replace:
            idx = rng.integers(0, big_n, (m, batch))
        else:
            idx = np.argsort(rng.random((m, big_n)), axis=1)[:, :batch]
        gb = dev[idx].mean(1)
        total += float((gb**2).sum())
        done += m
    return {"measured": total / trials, "with_replacement": tr / batch,
            "without_replacement": tr / batch * ((big_n - batch) / (big_n - 1) if big_n > 1
                                                 else 0.0),
            "width": float((dev**2).sum(1).max())}  # fmt: skip


# Validation selection bias ----------------------------------------------------------------


def validation_selection_bias(
    k: int, n_val: int, error: float, trials: int, seed: int
) -> dict[str, float]:
    r"""``k`` models with the same true 0-1 error ``error`` (p) evaluated on one validation set
    of ``n_val`` examples, independent mistakes (each model's validation error is
    Binomial(n_val, p)/n_val). Returns the Monte-Carlo means over ``trials`` of one model's
    validation error (``single``, unbiased: E = p) and of the minimum over the k (``minimum``),
    and the exact :math:`\mathbb E[\min] = \frac1{n}\sum_{m=1}^{n} P(\mathrm{Bin}(n,p)\ge m)^k`
    (``exact_minimum``) < p for k ≥ 2, 0 < p < 1: selecting by the validation error is
    optimistically biased. ``k`` in [1, 10**4], ``n_val`` in [1, 10**5], ``error`` in [0, 1],
    ``trials·k ≤ MAX_WORK``."""
    k = _int(k, "k", 1, 10**4)
    n_val = _int(n_val, "n_val", 1, MAX_N)
    p = _real(error, "error", 0.0, 1.0, False)
    trials = _int(trials, "trials", 1, 10**7)
    seed = _int(seed, "seed", 0, MAX_SEED)
    _work(trials * k + n_val * 4, "trials, k, n_val")
    rng = np.random.default_rng(seed)
    errs = rng.binomial(n_val, p, (trials, k)) / n_val
    # P(Bin >= m) for m = 1..n via the pmf (log-space, stable)
    m = np.arange(n_val + 1)
    if 0 < p < 1:
        logc = (np.array([math.lgamma(n_val + 1) - math.lgamma(i + 1) - math.lgamma(n_val - i + 1)
                          for i in m]))  # fmt: skip
        pmf = np.exp(logc + m * math.log(p) + (n_val - m) * math.log1p(-p))
    else:
        pmf = np.zeros(n_val + 1)
        pmf[n_val if p == 1 else 0] = 1.0
    tail = np.clip(np.cumsum(pmf[::-1])[::-1], 0.0, 1.0)  # tail[m] = P(Bin >= m)
    exact = float((tail[1:] ** k).sum() / n_val)
    return {"single": float(errs[:, 0].mean()), "minimum": float(errs.min(1).mean()),
            "exact_minimum": exact}  # fmt: skip


# Sharpness under reparametrization (Dinh et al. 2017) -------------------------------------


def reparametrized_sharpness(alphas: object, seed: int) -> dict[str, np.ndarray]:
    r"""A 2-layer ReLU net :math:`f(x) = W_2\,\mathrm{relu}(W_1x)` (3 inputs, 4 hidden, 1
    output, no biases, torch float64) at a global minimum of the mean squared error on 8 random
    inputs (targets = the net's own outputs, loss 0). For each α of ``alphas`` (in [1e-3,
    1e3], at most 16) the reparametrization :math:`(\alpha W_1, W_2/\alpha)` gives ``max_diff``
    (largest output difference on the 8 inputs and 64 fresh ones: 0 up to rounding, ReLU
    being positively homogeneous), ``loss`` (still 0) and ``sharpness`` (the top eigenvalue of
    the loss Hessian w.r.t. all 16 weights, ``torch.autograd.functional.hessian``), which
    grows like α² as α → ∞ and like 1/α² as α → 0: the same function with arbitrarily sharp
    minima (Dinh et al. 2017, §4). Drawn from ``torch.Generator().manual_seed(seed)`` in this
    order: ``W1 = randn(4, 3)``, ``W2 = randn(1, 4)``, the 8 inputs ``randn(8, 3)``, the 64
    probes ``randn(64, 3)`` (float64)."""
    import torch

    al = _vector(alphas, "alphas", size=None if not hasattr(alphas, "__len__") else len(alphas))
    if al.size > 16 or (al < 1e-3).any() or (al > 1e3).any():
        raise ValueError("alphas must hold at most 16 values in [1e-3, 1e3]")
    seed = _int(seed, "seed", 0, MAX_SEED)
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    w2 = torch.randn(1, 4, generator=gen, dtype=torch.float64)
    x = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    xf = torch.randn(64, 3, generator=gen, dtype=torch.float64)

    def net(a: torch.Tensor, b: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
        return torch.relu(inp @ a.T) @ b.T

    y = net(w1, w2, x).detach()

    def loss(flat: torch.Tensor) -> torch.Tensor:
        return ((net(flat[:12].reshape(4, 3), flat[12:].reshape(1, 4), x) - y) ** 2).mean()

    diffs, losses, sharp = [], [], []
    for a in al:
        p = torch.cat([(a * w1).reshape(-1), (w2 / a).reshape(-1)])
        both = torch.cat([x, xf])
        d = net(p[:12].reshape(4, 3), p[12:].reshape(1, 4), both) - net(w1, w2, both)
        diffs.append(float(d.abs().max()))
        losses.append(float(loss(p)))
        h = torch.autograd.functional.hessian(loss, p)
        sharp.append(float(torch.linalg.eigvalsh(h).max()))
    return {"alphas": al, "max_diff": np.array(diffs), "loss": np.array(losses),
            "sharpness": np.array(sharp)}  # fmt: skip


# 0-1 loss: no additive decomposition (Domingos 2000) --------------------------------------


def zero_one_decomposition(predictions: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    r"""Domingos' (2000) quantities for 0-1 loss, noise-free labels, per test point, from a
    ``predictions`` array (trials × points; class ids, integers) of classifiers trained on
    different training sets and the true ``labels`` (points,): ``error`` P(ŷ ≠ y), the main
    prediction (the mode; ties to the smallest class), ``bias`` 1[main ≠ y], ``variance``
    P(ŷ ≠ main). For squared loss error = bias² + variance (+ noise); here error = bias +
    variance only at unbiased points; at a biased point error = bias − variance in the binary
    case (variance *lowers* the error), so ``additive`` (bias + variance) ≠ ``error`` there.
    ``predictions`` entries in [0, 63]; at most MAX_WORK entries."""
    for name, arr, nd in (("predictions", predictions, 2), ("labels", labels, 1)):
        if type(arr) is not np.ndarray:
            raise TypeError(f"{name} must be a numpy.ndarray of integers, got {type(arr).__name__}")
        if arr.dtype.kind not in "iu" or arr.ndim != nd or 0 in arr.shape:
            raise ValueError(f"{name} must be a non-empty {nd}-D integer array, got "
                             f"{arr.dtype} {arr.shape}")  # fmt: skip
        if arr.min() < 0 or arr.max() > 63:
            raise ValueError(f"{name} must hold class ids in [0, 63]")
    if labels.shape[0] != predictions.shape[1]:
        raise ValueError(f"labels must have one entry per column of predictions "
                         f"({predictions.shape[1]}), got {labels.shape[0]}")  # fmt: skip
    _work(predictions.size * 65, "predictions")
    pr = predictions.astype(np.int64)
    counts = np.stack([(pr == c).sum(0) for c in range(64)])  # (64, points)
    main = counts.argmax(0)
    error = (pr != labels).mean(0)
    bias = (main != labels).astype(np.float64)
    variance = (pr != main).mean(0)
    return {"error": error, "bias": bias, "variance": variance, "main": main,
            "additive": bias + variance}  # fmt: skip


# Figures (PNG bytes; each runs in well under 2 s) -----------------------------------------


def validation_curves_figure() -> bytes:
    """Training loss and validation error of GD (mean loss, fixed design, 200 validation
    labels) with and without label noise, with the closed-form expected test error; right:
    the two-minima example (:data:`TWO_MINIMA`) and where "stop at the first increase" stops."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    s, b = (1.0, 0.3, 0.05, 0.01), (1.0, 1.0, 1.0, 1.0)
    for noise, color in ((0.0, "C0"), (2.0, "C3")):
        c = gd_curves(s, b, noise, 0.5, 400, 40, 200, 1)
        axes[0].plot(c["train"], color=color, ls=":", label=f"train, σ={noise:g}")
        axes[0].plot(c["validation"], color=color, alpha=0.5, label=f"validation, σ={noise:g}")
        axes[0].plot(c["expected"], color=color, ls="--", label=f"expected test, σ={noise:g}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("GD step t")
    axes[0].legend(fontsize=7)
    axes[0].set_title("validation U-shape needs label noise")
    tm = TWO_MINIMA
    r = gd_bias_variance(tm["eigenvalues"], tm["beta"], tm["noise"], tm["eta"], 800, tm["n"])
    risk = r["risk"] - tm["noise"] ** 2
    axes[1].plot(risk, color="C2", label="expected excess test error")
    t0 = first_increase(risk)
    axes[1].axvline(t0, color="k", ls=":", label=f"first increase t={t0}")
    tb = int(np.argmin(risk))
    axes[1].axvline(tb, color="C1", ls="--", label=f"best t={tb}")
    axes[1].set_xscale("symlog")
    axes[1].set_xlabel("GD step t")
    axes[1].legend(fontsize=7)
    axes[1].set_title("two eigenvalues: two local minima")
    fig.tight_layout()
    return _png(fig)


def bias_variance_figure() -> bytes:
    """Bias², variance and test error of GD against t: Monte-Carlo over 400 training sets
    (points) and the closed form (lines) on the same axes; eigenvalues (1, 0.1, 0.01)."""
    s, b, noise, eta, steps, n = (1.0, 0.1, 0.01), (1.0, 1.0, 3.0), 1.0, 0.5, 300, 20
    mc = monte_carlo_gd(s, b, noise, eta, steps, n, 400, 5)
    cf = gd_bias_variance(s, b, noise, eta, steps, n)
    sv = np.array(s)
    bias2 = (sv * (mc["mean"] - np.array(b)) ** 2).sum(1)
    var = (sv * mc["var"]).sum(1)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    t = np.arange(steps + 1)
    ax.plot(t, cf["bias2"].sum(1), "C0", label="bias² (closed form)")
    ax.plot(t, cf["variance"].sum(1), "C1", label="variance (closed form)")
    ax.plot(t, cf["risk"], "C2", label="test error (closed form)")
    k = slice(None, None, 10)
    ax.plot(t[k], bias2[k], "C0o", ms=3, label="bias² (Monte-Carlo)")
    ax.plot(t[k], var[k], "C1o", ms=3, label="variance (Monte-Carlo)")
    ax.plot(t[k], mc["test"][k], "C2o", ms=3, label="test error (Monte-Carlo)")
    ax.set_xscale("symlog")
    ax.set_yscale("log")
    ax.set_xlabel("GD step t")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def gradient_noise_figure() -> bytes:
    """Measured minibatch-gradient variance tr Cov(ĝ_B) against B (N = 32 per-example
    gradients, 4000 minibatches each) with and without replacement, against tr Σ/B and
    tr Σ/B·(N−B)/(N−1)."""
    g = np.random.default_rng(0).standard_normal((32, 3))
    bs = np.array([1, 2, 4, 8, 16, 24, 32])
    rw = [minibatch_gradient_variance(g, int(B), True, 4000, 1) for B in bs]
    ro = [minibatch_gradient_variance(g, int(B), False, 4000, 2) for B in bs]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(bs, [r["with_replacement"] for r in rw], "C0-", label="tr Σ/B")
    ax.plot(bs, [r["without_replacement"] for r in ro], "C1-", label="tr Σ/B·(N−B)/(N−1)")
    ax.plot(bs, [r["measured"] for r in rw], "C0o", label="measured, with replacement")
    ax.plot(bs, [max(r["measured"], 1e-4) for r in ro], "C1s",
            label="measured, without replacement")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("E‖ĝ_B − g‖²")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
