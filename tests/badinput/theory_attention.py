"""Bad-input entries for :mod:`theory.attention`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import sympy

from tests.badinput.table import Entry, ErrorSample, Sample, boolean, one_of
from tests.badinput.theory_conv import derivation_entry, nonneg_dim, positive_dim
from theory import attention as th

T = "theory.attention."
_n = sympy.Symbol("n", integer=True, positive=True)
_d = sympy.Symbol("d", integer=True, positive=True)


def _int_in(lo: int, hi: int):
    """A concrete integer in [lo, hi] (Python/NumPy/SymPy Integer; bools excluded)."""

    def pred(v: Any) -> bool:
        return (
            isinstance(v, numbers.Integral | sympy.Integer)
            and not isinstance(v, bool)
            and lo <= int(v) <= hi
            and type(v).__name__ != "bool_"
        )

    pred.__name__ = f"int_in({lo}, {hi})"
    return pred


def _optional(pred):
    def p(v: Any) -> bool:
        return v is None or pred(v)

    p.__name__ = f"optional({pred.__name__})"
    return p


def _concrete_positive(v: Any) -> bool:
    return _int_in(1, 10**100)(v)


_SMALL = _int_in(1, th.MAX_EXPR_SIZE)
_EXPR_DOMAINS = {"n": _SMALL, "d_k": _SMALL, "d_v": _SMALL, "m": _optional(_SMALL)}


def _attention_ok(n: int, m: int, dv: int):
    def check(r: th.AttentionExpr) -> None:
        assert r.A.shape == (n, m) and r.O.shape == (n, dv)
        for i in range(n):
            assert sympy.simplify(sum(r.A[i, :]) - 1) == 0

    return check


_ONE = th.attention_expr(1, 1, 1)


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


_Q = np.array([0.0, 1.0, 2.0])
_VANDERMONDE = _softmax_rows(np.outer(_Q, _Q))  # d_k = 1, full-rank weights
_RANDOM = _softmax_rows(np.random.default_rng(0).normal(size=(4, 4)))  # needs d_k = 3
_FIELDS = {f: getattr(_ONE, f) for f in ("Q", "K", "V", "scale", "S", "A", "O")}

ENTRIES = [
    Entry(
        T + "AttentionExpr",
        samples=(Sample(dict(_FIELDS), check=lambda r: r == _ONE),),
        errors=(
            ErrorSample({**_FIELDS, "Q": [[1]]}, TypeError, "Q"),
            ErrorSample({**_FIELDS, "scale": sympy.nan}, TypeError, "scale"),
            ErrorSample({**_FIELDS, "O": sympy.zeros(2, 1)}, ValueError, "O"),
        ),
        result="any",
    ),
    Entry(
        T + "attention_expr",
        samples=(
            Sample(
                {"n": 2, "d_k": 1, "d_v": 1, "m": 3, "scale": None}, check=_attention_ok(2, 3, 1)
            ),
            Sample({"n": 1, "d_k": 2, "d_v": 2, "m": None, "scale": 0.5}),
            Sample({"n": 1, "d_k": 1, "d_v": 1, "scale": sympy.Symbol("c", positive=True)}),
        ),
        errors=(
            ErrorSample({"n": 0, "d_k": 1, "d_v": 1}, ValueError, "n"),
            ErrorSample({"n": 17, "d_k": 1, "d_v": 1}, ValueError, "n"),
            ErrorSample({"n": 2, "d_k": 2.0, "d_v": 1}, TypeError, "d_k"),
            ErrorSample({"n": 2, "d_k": 1, "d_v": True}, TypeError, "d_v"),
            ErrorSample({"n": 2, "d_k": 1, "d_v": 1, "m": _n}, TypeError, "m"),
            ErrorSample({"n": 2, "d_k": 1, "d_v": 1, "scale": "1"}, TypeError, "scale"),
            ErrorSample({"n": 2, "d_k": 1, "d_v": 1, "scale": float("nan")}, ValueError, "scale"),
            ErrorSample({"n": 2, "d_k": 1, "d_v": 1, "scale": sympy.I}, TypeError, "scale"),
        ),
        domains=_EXPR_DOMAINS,
    ),
    Entry(
        T + "softmax_jacobian",
        samples=(
            Sample(
                {"n": 2},
                check=lambda r: (
                    r[0, 1]
                    == -sympy.Symbol("p_1", positive=True) * sympy.Symbol("p_2", positive=True)
                ),
            ),
        ),
        errors=(
            ErrorSample({"n": 0}, ValueError, "n"),
            ErrorSample({"n": 65}, ValueError, "n"),
            ErrorSample({"n": _n}, TypeError, "n"),
        ),
        domains={"n": _int_in(1, 4 * th.MAX_EXPR_SIZE)},
    ),
    Entry(
        T + "sdpa_backward_expr",
        samples=(
            Sample(
                {"n": 2, "d_k": 1, "d_v": 1, "m": 1, "scale": None},
                check=lambda r: r["dS"] == sympy.zeros(2, 1),  # one key: weights constant 1
            ),
            Sample({"n": 1, "d_k": 1, "d_v": 2, "m": 2, "scale": 2}),
        ),
        errors=(
            ErrorSample({"n": -1, "d_k": 1, "d_v": 1}, ValueError, "n"),
            ErrorSample({"n": 1, "d_k": 1, "d_v": 1, "m": 0}, ValueError, "m"),
            ErrorSample({"n": 1, "d_k": 1, "d_v": 1, "scale": sympy.oo}, ValueError, "scale"),
        ),
        domains=_EXPR_DOMAINS,
    ),
    Entry(
        T + "sdpa_backward_proved",
        samples=(Sample({"max_n": 1}, check=lambda r: r is True),),
        errors=(
            ErrorSample({"max_n": 0}, ValueError, "max_n", note="vacuous: no case checked"),
            ErrorSample({"max_n": th.MAX_PROVED_N + 1}, ValueError, "max_n"),
            ErrorSample({"max_n": True}, TypeError, "max_n"),
            ErrorSample({"max_n": 1.0}, TypeError, "max_n"),
        ),
        domains={"max_n": _int_in(1, th.MAX_PROVED_N)},
        time_limit=20.0,
    ),
    Entry(
        T + "score_moments",
        samples=(
            Sample({"d_k": 64, "mean": 0, "variance": 1}, check=lambda r: r == (0, 1)),
            Sample({"d_k": 4, "mean": 1, "variance": 1}, check=lambda r: r == (2, 3)),
            Sample({"d_k": _d, "mean": 0.5, "variance": 2.0}),
        ),
        errors=(
            ErrorSample({"d_k": 0}, ValueError, "d_k"),
            ErrorSample({"d_k": 4.0}, TypeError, "d_k"),
            ErrorSample({"d_k": 4, "variance": -1}, ValueError, "variance"),
            ErrorSample({"d_k": 4, "mean": "0"}, TypeError, "mean"),
            ErrorSample({"d_k": 4, "mean": float("inf")}, ValueError, "mean"),
        ),
        domains={"d_k": positive_dim},
    ),
    derivation_entry(T + "derive_softmax_jacobian"),
    derivation_entry(T + "derive_sdpa_backward"),
    derivation_entry(T + "derive_score_scale"),
    Entry(
        T + "mha_params",
        samples=(
            Sample({"embed_dim": 768, "num_heads": 12}, check=lambda r: r == 2362368),
            Sample(
                {
                    "embed_dim": 8,
                    "num_heads": 2,
                    "kdim": 3,
                    "vdim": 5,
                    "bias": False,
                    "add_bias_kv": True,
                },
                check=lambda r: r == 192 + 16,
            ),
            Sample({"embed_dim": _d, "num_heads": 4, "bias": True}),
        ),
        errors=(
            ErrorSample({"embed_dim": 6, "num_heads": 4}, ValueError, "num_heads"),
            ErrorSample({"embed_dim": 0, "num_heads": 1}, ValueError, "embed_dim"),
            ErrorSample({"embed_dim": 8, "num_heads": 2.0}, TypeError, "num_heads"),
            ErrorSample({"embed_dim": 8, "num_heads": 2, "kdim": 0}, ValueError, "kdim"),
            ErrorSample({"embed_dim": 8, "num_heads": 2, "bias": "False"}, TypeError, "bias"),
            ErrorSample(
                {"embed_dim": 8, "num_heads": 2, "add_bias_kv": 1}, TypeError, "add_bias_kv"
            ),
        ),
        result="count",
        domains={
            "embed_dim": positive_dim,
            "num_heads": positive_dim,
            "kdim": _optional(positive_dim),
            "vdim": _optional(positive_dim),
            "bias": boolean,
            "add_bias_kv": boolean,
        },
    ),
    Entry(
        T + "mha_params_general",
        samples=(
            Sample(
                {"d_model": 768, "heads": 12, "d_k": 64, "d_v": 64, "bias": True},
                check=lambda r: r == 2362368,
            ),
            Sample(
                {"d_model": 4, "heads": 3, "d_k": 2, "d_v": 1, "bias": False},
                check=lambda r: r == 3 * 4 * 5 + 3 * 4,
            ),
            Sample({"d_model": _d, "heads": _n, "d_k": 8, "d_v": 8, "bias": True}),
        ),
        errors=(
            ErrorSample({"d_model": 4, "heads": 0, "d_k": 1, "d_v": 1}, ValueError, "heads"),
            ErrorSample({"d_model": 4, "heads": 1, "d_k": -2, "d_v": 1}, ValueError, "d_k"),
            ErrorSample({"d_model": 4, "heads": 1, "d_k": 1, "d_v": "1"}, TypeError, "d_v"),
        ),
        result="count",
        domains={
            "d_model": positive_dim,
            "heads": positive_dim,
            "d_k": positive_dim,
            "d_v": positive_dim,
            "bias": boolean,
        },
    ),
    Entry(
        T + "attention_cost",
        samples=(
            Sample(
                {"n": 10, "d_model": 8, "heads": 2},
                check=lambda r: r["macs"] == 4160 and r["score_entries"] == 200,
            ),
            Sample(
                {
                    "n": 3,
                    "d_model": 6,
                    "heads": 4,
                    "d_k": 2,
                    "d_v": 5,
                    "m": 7,
                    "kdim": 3,
                    "vdim": 9,
                },
                check=lambda r: r["scores"] == 4 * 3 * 7 * 2 and r["k_proj"] == 7 * 3 * 4 * 2,
            ),
            Sample({"n": _n, "d_model": _d, "heads": 2}),
        ),
        errors=(
            ErrorSample({"n": 4, "d_model": 6, "heads": 4}, ValueError, "heads"),
            ErrorSample({"n": 0, "d_model": 6, "heads": 1}, ValueError, "n"),
            ErrorSample({"n": 4, "d_model": 6, "heads": 1, "m": 0}, ValueError, "m"),
            ErrorSample({"n": 4, "d_model": 6, "heads": 1, "d_k": 1.5}, TypeError, "d_k"),
            ErrorSample({"n": 4, "d_model": 6, "heads": 1, "vdim": False}, TypeError, "vdim"),
        ),
        result="count",
        domains={
            "n": positive_dim,
            "d_model": positive_dim,
            "heads": positive_dim,
            "d_k": _optional(positive_dim),
            "d_v": _optional(positive_dim),
            "m": _optional(positive_dim),
            "kdim": _optional(positive_dim),
            "vdim": _optional(positive_dim),
        },
    ),
    Entry(
        T + "quadratic_share",
        samples=(
            Sample({"n": 197, "d_model": 768}, check=lambda r: r == sympy.Rational(197, 1733)),
            Sample({"n": 16, "d_model": 8}, check=lambda r: r == sympy.Rational(1, 2)),
            Sample({"n": _n, "d_model": 8}),
        ),
        errors=(
            ErrorSample({"n": 0, "d_model": 8}, ValueError, "n"),
            ErrorSample({"n": 1, "d_model": None}, TypeError, "d_model"),
        ),
        result="count",
        domains={"n": positive_dim, "d_model": positive_dim},
    ),
    Entry(
        T + "sinusoidal_expr",
        samples=(
            Sample(
                {"pos": 3, "i": 0, "d": 4, "base": 10000},
                check=lambda r: r == (sympy.sin(3), sympy.cos(3)),
            ),
            Sample({"pos": _n, "i": 1, "d": 6, "base": 100.0}),
            Sample({"pos": 0, "i": _n, "d": _d, "base": 10000}),
        ),
        errors=(
            ErrorSample({"pos": -1, "i": 0, "d": 4}, ValueError, "pos"),
            ErrorSample({"pos": 1, "i": 2, "d": 4}, ValueError, "i"),
            ErrorSample({"pos": 1, "i": 0, "d": 0}, ValueError, "d"),
            ErrorSample({"pos": 1.0, "i": 0, "d": 4}, TypeError, "pos"),
            ErrorSample({"pos": 1, "i": 0, "d": 4, "base": 1}, ValueError, "base"),
            ErrorSample({"pos": 1, "i": 0, "d": 4, "base": "10000"}, TypeError, "base"),
        ),
        domains={"pos": nonneg_dim, "i": nonneg_dim, "d": positive_dim},
    ),
    Entry(
        T + "sinusoidal_rotation",
        samples=(
            Sample({"k": 0, "omega": 1}, check=lambda r: r == sympy.eye(2)),
            Sample({"k": 3, "omega": 0.25}),
            Sample({"k": sympy.Symbol("k", real=True), "omega": sympy.Rational(1, 100)}),
        ),
        errors=(
            ErrorSample({"k": "1", "omega": 1}, TypeError, "k"),
            ErrorSample({"k": 1, "omega": float("nan")}, ValueError, "omega"),
            ErrorSample({"k": 1, "omega": 1j}, TypeError, "omega"),
        ),
    ),
    Entry(
        T + "sinusoidal_properties_proved",
        samples=(
            Sample({"d": 4}, check=lambda r: r is True),
            Sample({"d": 3}, check=lambda r: r is False),
        ),
        errors=(
            ErrorSample({"d": 0}, ValueError, "d"),
            ErrorSample({"d": th.MAX_SINUSOIDAL_D + 1}, ValueError, "d"),
            ErrorSample({"d": _d}, TypeError, "d"),
        ),
        domains={"d": _int_in(1, th.MAX_SINUSOIDAL_D)},
        time_limit=20.0,
    ),
    derivation_entry(T + "derive_sinusoidal"),
    Entry(
        T + "relative_score_expr",
        samples=(
            Sample(
                {"d_k": 2},
                check=lambda r: sympy.expand(r["d000"] - r["factorized"]) == 0,
            ),
        ),
        errors=(
            ErrorSample({"d_k": 0}, ValueError, "d_k"),
            ErrorSample({"d_k": 17}, ValueError, "d_k"),
            ErrorSample({"d_k": "2"}, TypeError, "d_k"),
        ),
        domains={"d_k": _SMALL},
    ),
    derivation_entry(T + "derive_relative_factorization"),
    Entry(
        T + "sparse_pattern_entries",
        samples=(
            Sample({"n": 16, "pattern": "strided", "stride": 4}, check=lambda r: r == 82),
            Sample(
                {"n": 9, "pattern": "fixed", "stride": 3, "window": 1},
                check=lambda r: r == 27,
            ),
            Sample({"n": 5, "pattern": "local", "window": 2}, check=lambda r: r == 9),
            Sample({"n": 5, "pattern": "full"}, check=lambda r: r == 15),
        ),
        errors=(
            ErrorSample({"n": 5, "pattern": "dense"}, ValueError, "pattern"),
            ErrorSample({"n": 5, "pattern": "strided"}, ValueError, "stride"),
            ErrorSample(
                {"n": 5, "pattern": "local", "window": 2, "stride": 2}, ValueError, "stride"
            ),
            ErrorSample(
                {"n": 5, "pattern": "fixed", "stride": 2, "window": 3}, ValueError, "window"
            ),
            ErrorSample({"n": 0, "pattern": "full"}, ValueError, "n"),
            ErrorSample({"n": 5, "pattern": "strided", "stride": 2.0}, TypeError, "stride"),
            ErrorSample({"n": _n, "pattern": "full"}, TypeError, "n"),
        ),
        result="count",
        domains={
            "n": _concrete_positive,
            "pattern": one_of(*th.PATTERNS),
            "stride": _optional(_concrete_positive),
            "window": _optional(_concrete_positive),
        },
    ),
    Entry(
        T + "linear_attention_cost",
        samples=(
            Sample(
                {"n": 1000, "d_k": 64, "d_v": 64, "r": 64},
                check=lambda r: r["macs"] == 8256000 and r["rank_bound"] == 64,
            ),
            Sample({"n": _n, "d_k": 4, "d_v": _d, "r": 2}),
        ),
        errors=(
            ErrorSample({"n": 0, "d_k": 1, "d_v": 1, "r": 1}, ValueError, "n"),
            ErrorSample({"n": 1, "d_k": 1, "d_v": 1, "r": 0}, ValueError, "r"),
            ErrorSample({"n": 1, "d_k": None, "d_v": 1, "r": 1}, TypeError, "d_k"),
        ),
        result="count",
        domains={"n": positive_dim, "d_k": positive_dim, "d_v": positive_dim, "r": positive_dim},
    ),
    Entry(
        T + "linear_crossover_length",
        samples=(
            Sample({"d_k": 64, "d_v": 64, "r": 64}, check=lambda r: r == sympy.Rational(129, 2)),
            Sample({"d_k": _d, "d_v": _d, "r": _n}),
        ),
        errors=(
            ErrorSample({"d_k": 0, "d_v": 1, "r": 1}, ValueError, "d_k"),
            ErrorSample({"d_k": 1, "d_v": 1, "r": 1.5}, TypeError, "r"),
        ),
        result="count",
        domains={"d_k": positive_dim, "d_v": positive_dim, "r": positive_dim},
    ),
    Entry(
        T + "variant_memory",
        samples=(
            Sample({"n": 64, "variant": "hierarchical", "window": 4}, check=lambda r: r == 512),
            Sample({"n": 8, "variant": "linear", "r": 2, "d_v": 3}, check=lambda r: r == 40),
            Sample({"n": 16, "variant": "strided", "stride": 4}, check=lambda r: r == 82),
            Sample({"n": 7, "variant": "full"}, check=lambda r: r == 49),
        ),
        errors=(
            ErrorSample({"n": 8, "variant": "sparse"}, ValueError, "variant"),
            ErrorSample({"n": 8, "variant": "hierarchical", "window": 3}, ValueError, "window"),
            ErrorSample({"n": 8, "variant": "linear", "r": 2}, ValueError, "d_v"),
            ErrorSample({"n": 8, "variant": "full", "r": 2}, ValueError, "r"),
            ErrorSample(
                {"n": 8, "variant": "linear", "r": 2, "d_v": 1, "window": 2}, ValueError, "window"
            ),
            ErrorSample({"n": 8.0, "variant": "full"}, TypeError, "n"),
        ),
        result="count",
        domains={"n": _concrete_positive, "variant": one_of(*th.VARIANTS)},
    ),
    Entry(
        T + "positional_params",
        samples=(
            Sample({"scheme": "sinusoidal"}, check=lambda r: r == 0),
            Sample({"scheme": "learned", "max_len": 512, "d": 64}, check=lambda r: r == 32768),
            Sample(
                {
                    "scheme": "relative",
                    "d": 64,
                    "max_offset": 16,
                    "layers": 12,
                    "include_values": False,
                },
                check=lambda r: r == 25344,
            ),
            Sample({"scheme": "relative", "d": _d, "max_offset": 0, "include_values": True}),
        ),
        errors=(
            ErrorSample({"scheme": "rotary"}, ValueError, "scheme"),
            ErrorSample({"scheme": "learned", "d": 4}, ValueError, "max_len"),
            ErrorSample({"scheme": "learned", "max_len": 4}, ValueError, "d"),
            ErrorSample({"scheme": "sinusoidal", "d": 4}, ValueError, "d"),
            ErrorSample({"scheme": "relative", "d": 4}, ValueError, "max_offset"),
            ErrorSample({"scheme": "relative", "d": 4, "max_offset": -1}, ValueError, "max_offset"),
            ErrorSample(
                {"scheme": "relative", "d": 4, "max_offset": 1, "layers": 0}, ValueError, "layers"
            ),
            ErrorSample(
                {"scheme": "relative", "d": 4, "max_offset": 1, "include_values": "no"},
                TypeError,
                "include_values",
            ),
        ),
        result="count",
        domains={"scheme": one_of(*th.POSITIONAL_SCHEMES), "include_values": boolean},
    ),
    derivation_entry(T + "derive_variant_costs"),
]

# The FlashAttention form of the backward (delta = rowsum(dO o O), P = exp(S - LSE)), used by
# kernels.gpu._flash_kernels.
ENTRIES.append(derivation_entry(T + "derive_flash_backward"))
