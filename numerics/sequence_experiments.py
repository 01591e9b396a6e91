r"""Gradients through time measured (the figure of the sequence page).

A tanh RNN :math:`h_t = \tanh(Wh_{t-1} + x_t)` with :math:`W = \rho Q` (:math:`Q` a random
orthogonal matrix, so every singular value of :math:`W` is :math:`\rho` and
:math:`\|W^T\|_2 = \rho^T` exactly): :func:`gradient_through_time` measures
:math:`\|\partial h_T/\partial h_0\|_2` by accumulating the exact Jacobian product
:math:`\prod_t \operatorname{diag}(1-h_t^2)W` along a forward pass in float64 (checked against
torch autograd in ``tests/test_sequence_theory.py``), next to the linear-recurrence prediction
:math:`\rho^T` (``theory.sequence.linear_recurrence_gradient_norm``;
Pascanu, Mikolov & Bengio 2013; ``000`` § Recurrent Layer Components).

Finite-size effect. Since :math:`0 < 1 - h_t^2 \le 1`, the measured norm never exceeds
:math:`\rho^T`; it follows the prediction while the state is small (tanh is then nearly
linear) and falls below it once the state grows: for :math:`\rho > 1` the state saturates
(:math:`h_t^2 \to 1`), the factors :math:`1 - h_t^2` shrink and the predicted explosion does
not happen; for :math:`\rho \le 1` the input drive ``input_scale`` keeps the state away from 0
and bends the curve below :math:`\rho^T`, by an amount that shrinks with ``input_scale``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from numerics.experiments import _int, _png, _pyplot

__all__ = ["gradient_through_time", "gradient_through_time_figure"]

MAX_TIME = 1000
"""Largest number of steps."""
MAX_WIDTH = 256
"""Largest hidden width."""
MAX_RADII = 8
"""Most spectral radii per call."""


def _radii(radii: object) -> tuple[float, ...]:
    if isinstance(radii, str | bytes | bytearray) or not isinstance(radii, Sequence):
        raise TypeError(f"radii must be a sequence of positive finite floats, got {radii!r}")
    if not 1 <= len(radii) <= MAX_RADII:
        raise ValueError(f"radii must hold 1 to {MAX_RADII} values, got {len(radii)}")
    out = []
    for r in radii:
        if isinstance(r, bool | np.bool_) or not isinstance(r, int | float | np.integer |
                                                            np.floating):  # fmt: skip
            raise TypeError(f"radii must hold positive finite floats, got {r!r}")
        f = float(r)
        if not np.isfinite(f) or not 0 < f <= 10:
            raise ValueError(f"radii must hold finite floats in (0, 10], got {r!r}")
        out.append(f)
    return tuple(out)


def _scale(value: object, name: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(f"{name} must be a finite float >= 0, got {value!r}")
    f = float(value)
    if not np.isfinite(f) or f < 0 or f > 100:
        raise ValueError(f"{name} must be a finite float in [0, 100], got {value!r}")
    return f


def gradient_through_time(
    radii: Sequence[float] = (0.8, 1.0, 1.2),
    steps: int = 60,
    width: int = 32,
    input_scale: float = 0.1,
    seed: int = 0,
    linear: bool = False,
) -> dict[str, np.ndarray]:
    r"""Measured :math:`\|\partial h_t/\partial h_0\|_2` for :math:`t = 0 … T` of a tanh RNN
    :math:`h_t = \tanh(\rho Q h_{t-1} + x_t)` per spectral radius :math:`\rho`.

    :math:`Q` is a Haar-random orthogonal ``width``×``width`` matrix (QR of a Gaussian with
    signs fixed), the same for every :math:`\rho`; :math:`h_0 \sim N(0, I/\text{width})`;
    :math:`x_t \sim N(0, \text{input\_scale}^2 I)`; all drawn from ``seed``. With
    ``linear=True`` the tanh is dropped (then the measurement equals :math:`\rho^t` up to
    rounding). Returns ``{"t": (T+1,), "measured": (len(radii), T+1), "predicted": ρ^t, same
    shape, "radii": (len(radii),)}``.

    ``radii``: 1 to ``MAX_RADII`` floats in (0, 10]; ``steps`` in ``[1, MAX_TIME]``; ``width`` in
    ``[1, MAX_WIDTH]``; ``input_scale`` a float in ``[0, 100]``; ``seed`` an integer >= 0;
    ``linear`` a bool.
    """
    rs = _radii(radii)
    steps = _int(steps, "steps", 1)
    if steps > MAX_TIME:
        raise ValueError(f"steps must be at most MAX_TIME = {MAX_TIME}, got {steps}")
    width = _int(width, "width", 1)
    if width > MAX_WIDTH:
        raise ValueError(f"width must be at most MAX_WIDTH = {MAX_WIDTH}, got {width}")
    scale = _scale(input_scale, "input_scale")
    seed = _int(seed, "seed", 0)
    if not isinstance(linear, bool):
        raise TypeError(f"linear must be True or False, got {linear!r}")
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((width, width))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    h0 = rng.standard_normal(width) / np.sqrt(width)
    xs = scale * rng.standard_normal((steps, width))
    t = np.arange(steps + 1)
    measured = np.empty((len(rs), steps + 1))
    for k, rho in enumerate(rs):
        w = rho * q
        h, jac = h0.copy(), np.eye(width)
        measured[k, 0] = 1.0
        for s in range(steps):
            pre = w @ h + xs[s]
            if linear:
                h, d = pre, np.ones(width)
            else:
                h = np.tanh(pre)
                d = 1.0 - h * h
            jac = (d[:, None] * w) @ jac
            measured[k, s + 1] = np.linalg.norm(jac, 2)
    predicted = np.array(rs)[:, None] ** t[None, :]
    return {"t": t, "measured": measured, "predicted": predicted, "radii": np.array(rs)}


def gradient_through_time_figure(
    radii: Sequence[float] = (0.8, 1.0, 1.2),
    steps: int = 60,
    width: int = 32,
    input_scale: float = 0.1,
    seed: int = 0,
) -> bytes:
    r"""PNG: measured :math:`\|\partial h_T/\partial h_0\|_2` of the tanh RNN against
    :math:`T` (log scale) for each :math:`\rho`, with the linear-recurrence prediction
    :math:`\rho^T` dashed on the same axes. Arguments as :func:`gradient_through_time`."""
    res = gradient_through_time(radii, steps, width, input_scale, seed)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, rho in enumerate(res["radii"]):
        (line,) = ax.semilogy(res["t"], res["measured"][k], "-", label=rf"tanh RNN, $\rho={rho:g}$")
        ax.semilogy(res["t"], res["predicted"][k], "--", color=line.get_color(),
                    label=rf"$\rho^T$, $\rho={rho:g}$")  # fmt: skip
    ax.set_xlabel("steps $T$")
    ax.set_ylabel(r"$\|\partial h_T/\partial h_0\|_2$")
    ax.set_title(
        rf"$W = \rho Q$ ($Q$ orthogonal), width {width}, input scale {input_scale:g}, seed {seed}"
    )
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return _png(fig)
