"""Settings from environment variables (README, Configuration), with errors naming the variable."""

from __future__ import annotations

import math
import os
from collections.abc import Callable


def env_number(
    name: str, default: float, *, integer: bool = False, low: float | None = None, high: float | None = None
) -> float:
    """`name`'s value (unset or empty: `default`), a number in [low, high] (an integer if `integer`);
    anything else raises ValueError naming the variable, the value and what it should be."""
    expected = "an integer" if integer else "a number"
    if low is not None and high is not None:
        expected += f" from {low:g} to {high:g}"
    elif low is not None:
        expected += f" of at least {low:g}"
    elif high is not None:
        expected += f" of at most {high:g}"
    text = os.environ.get(name) or str(default)
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected {expected}") from None
    if math.isnan(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}={text!r}: expected {expected}")
    return value


def env_text(name: str, default: str, valid: Callable[[str], bool], expected: str) -> str:
    """`name`'s value (unset or empty: `default`) if `valid` accepts it; else ValueError naming the variable,
    the value and `expected`."""
    text = os.environ.get(name) or default
    if not valid(text):
        raise ValueError(f"{name}={text!r}: expected {expected}")
    return text
