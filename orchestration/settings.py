"""Numeric settings from environment variables (README, Configuration), with errors naming the variable."""

from __future__ import annotations

import os


def env_number(
    name: str, default: float, *, integer: bool = False, low: float | None = None, high: float | None = None
) -> float:
    """`name`'s value (unset or empty: `default`), a number in [low, high] (an integer if `integer`);
    anything else raises ValueError naming the variable, the value and what it should be."""
    text = os.environ.get(name) or str(default)
    expected = f"{'an integer' if integer else 'a number'}" + (
        f" from {low:g} to {high:g}" if low is not None and high is not None
        else f" of at least {low:g}" if low is not None
        else f" of at most {high:g}" if high is not None
        else ""
    )  # fmt: skip
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected {expected}") from None
    if (low is not None and value < low) or (high is not None and value > high) or value != value:
        raise ValueError(f"{name}={text!r}: expected {expected}")
    return value
