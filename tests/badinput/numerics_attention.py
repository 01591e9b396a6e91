"""Bad-input entries for :mod:`numerics.attention_experiments` (figures drawn at tiny sizes;
their check: the PNG signature)."""

from __future__ import annotations

from numerics import attention_experiments as A
from tests.badinput.table import Entry, ErrorSample, Sample, positive_int

PNG = b"\x89PNG\r\n\x1a\n"


def _png(r) -> None:
    assert isinstance(r, bytes) and r.startswith(PNG), r[:16]


def _wall(points) -> None:
    assert [p["length"] for p in points] == [3, 5]
    for p in points:
        n = p["length"]
        assert p["macs"] == 2 * n * n * 4 and p["score_entries"] == n * n
        assert p["peak_bytes"] >= 8 * n * n


def _untimed(**kwargs):
    """attention_wall without its wall-clock times (they differ run to run, so the fuzz's
    equivalent-spelling comparison would fail on them); the check still sees seconds > 0."""
    points = A.attention_wall(**kwargs)
    assert all(p["seconds"] > 0 for p in points)
    return [{k: v for k, v in p.items() if k != "seconds"} for p in points]


def _figure_signature(**kwargs):
    """The figure's PNG signature only: its pixels depend on the measured times."""
    return A.attention_wall_figure(**kwargs)[:8]


ENTRIES = [
    Entry(
        "numerics.attention_experiments.attention_wall",
        make=lambda: _untimed,
        samples=(Sample({"lengths": (3, 5), "head_dim": 4, "repeat": 1, "seed": 0}, check=_wall),),
        errors=(
            ErrorSample({"lengths": (3, 10**5)}, ValueError, "lengths must be at most"),
            ErrorSample({"lengths": ()}, ValueError, "lengths must hold"),
            ErrorSample({"lengths": "3"}, TypeError, "lengths must be"),
            ErrorSample({"lengths": (0,)}, ValueError, "lengths must be"),
            ErrorSample({"lengths": (3,), "head_dim": 2000}, ValueError, "head_dim"),
            ErrorSample({"lengths": (3,), "repeat": 100}, ValueError, "repeat"),
            ErrorSample({"lengths": (3,), "seed": -1}, ValueError, "seed"),
            ErrorSample({"lengths": (3,), "head_dim": True}, TypeError, "head_dim"),
        ),
        result="any",
        domains={"head_dim": positive_int, "repeat": positive_int},
        bad_values={"lengths": ((2.5,), [True], (4097,)), "head_dim": (1025,), "repeat": (6,)},
        time_limit=20.0,
    ),
    Entry(
        "numerics.attention_experiments.attention_wall_figure",
        make=lambda: _figure_signature,
        samples=(Sample({"lengths": (2, 4), "head_dim": 2, "seed": 1}, check=_png),),
        errors=(
            ErrorSample({"lengths": (2, 4), "head_dim": 0}, ValueError, "head_dim"),
            ErrorSample({"lengths": None}, TypeError, "lengths must be"),
        ),
        result="any",
        domains={"head_dim": positive_int},
        time_limit=20.0,
    ),
    Entry(
        "numerics.attention_experiments.sinusoidal_figure",
        samples=(Sample({"num_positions": 5, "embedding_dim": 4}, check=_png),),
        errors=(
            ErrorSample({"num_positions": 5, "embedding_dim": 5}, ValueError, "embedding_dim"),
            ErrorSample({"num_positions": 1, "embedding_dim": 4}, ValueError, "num_positions"),
            ErrorSample({"num_positions": 10**7, "embedding_dim": 4}, ValueError, "num_positions"),
            ErrorSample({"num_positions": 5, "embedding_dim": 4.0}, TypeError, "embedding_dim"),
        ),
        result="any",
        bad_values={"embedding_dim": (3, 4097), "num_positions": (4097,)},
        time_limit=20.0,
    ),
]
