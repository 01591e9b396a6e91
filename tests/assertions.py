"""Assertion helpers that name the claim, the inputs and a copy-paste repro on failure."""

from __future__ import annotations

from typing import Any


def context(claim: str, repro: str = "", **inputs: Any) -> str:
    """A failure message: claim id, inputs, and a line to paste into Python to reproduce."""
    lines = [f"claim: {claim}", "inputs: " + ", ".join(f"{k}={v!r}" for k, v in inputs.items())]
    if repro:
        lines.append(f"repro: {repro}")
    return "\n".join(lines)


def assert_equal(actual: Any, expected: Any, claim: str, repro: str = "", **inputs: Any) -> None:
    """Exact equality (ints, Rationals, shapes), with the claim and a repro on failure."""
    if actual != expected:
        raise AssertionError(f"{actual!r} != {expected!r}\n" + context(claim, repro, **inputs))
